/* test_mse.c — MSE/PE handshake, stream cipher, passive decoder, key log.
 *
 * Known vectors: computed independently of OpenSSL with this Python 3
 * script (pow() for the DH, hashlib for SHA-1, a textbook RC4 checked
 * against the classic "Key"/"Plaintext" -> bbf316e8d940af0ad3 vector):
 *
 *   P = int("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
 *           "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
 *           "4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563", 16)
 *   H = lambda *p: hashlib.sha1(b"".join(p)).digest()
 *   def rc4(key, n, drop=1024):
 *       S = list(range(256)); j = 0
 *       for i in range(256):
 *           j = (j + S[i] + key[i % len(key)]) & 255; S[i], S[j] = S[j], S[i]
 *       i = j = 0; out = []
 *       for _ in range(drop + n):
 *           i = (i + 1) & 255; j = (j + S[i]) & 255; S[i], S[j] = S[j], S[i]
 *           out.append(S[(S[i] + S[j]) & 255])
 *       return bytes(out[drop:])
 *   xor = lambda a, b: bytes(x ^ y for x, y in zip(a, b))
 *   xa = bytes(range(0x01, 0x15)); xb = bytes(range(0x21, 0x35))
 *   skey = bytes(range(0xa0, 0xb4)); ia = b"hello, MSE"
 *   ya = pow(2, int.from_bytes(xa, "big"), P).to_bytes(96, "big")      # v_ya
 *   yb = pow(2, int.from_bytes(xb, "big"), P).to_bytes(96, "big")      # v_yb
 *   s = pow(int.from_bytes(yb, "big"), int.from_bytes(xa, "big"), P).to_bytes(96, "big")
 *   ka = rc4(H(b"keyA", s, skey), 200); kb = rc4(H(b"keyB", s, skey), 200)
 *   m3p = bytes(8) + (3).to_bytes(4, "big") + bytes(2) + len(ia).to_bytes(2, "big") + ia
 *   m3 = H(b"req1", s) + xor(H(b"req2", skey), H(b"req3", s)) + xor(m3p, ka)  # v_msg3
 *   m4 = xor(bytes(8) + (2).to_bytes(4, "big") + bytes(2), kb)        # v_msg4
 *   v_ks_a = ka[26:58]; v_ks_b = kb[14:46]   # keystream right after the handshake
 */
#include "mse.h"
#include "rd.h"
#include "t.h"

#include <openssl/evp.h>
#include <time.h>

static const uint8_t v_ya[96] = {
	0x96, 0xe1, 0x12, 0xda, 0xb2, 0x9e, 0x8c, 0x52, 0x72, 0xac, 0xcb, 0x9b,
	0x17, 0xb2, 0x68, 0x87, 0xce, 0x54, 0xa1, 0x44, 0xa4, 0xe3, 0xb6, 0x97,
	0xc7, 0xd1, 0x59, 0xb7, 0xa8, 0x17, 0xe5, 0x56, 0xb0, 0x91, 0x8d, 0xb2,
	0xb4, 0xc6, 0x58, 0xe0, 0x2a, 0x87, 0xf7, 0xe5, 0xfb, 0x14, 0xb1, 0x8a,
	0x55, 0x3e, 0x08, 0x4c, 0xbf, 0x3d, 0xad, 0x2d, 0x30, 0xf1, 0x65, 0x96,
	0xcc, 0xb9, 0x82, 0xd4, 0x06, 0x25, 0x8c, 0x61, 0xb3, 0x0c, 0x5c, 0x1d,
	0xae, 0x2d, 0xdc, 0x60, 0xbd, 0xbd, 0x48, 0xd7, 0x98, 0x96, 0x31, 0x2a,
	0xad, 0x63, 0x23, 0x8c, 0x39, 0xe1, 0xa6, 0x33, 0x82, 0x1e, 0xb6, 0x93,
};
static const uint8_t v_yb[96] = {
	0x8f, 0x9c, 0x9f, 0x40, 0x0f, 0xe9, 0xb3, 0x25, 0x8f, 0x3e, 0x48, 0x59,
	0x8a, 0x95, 0xc7, 0x80, 0x5c, 0xc9, 0x0c, 0x99, 0x5c, 0xd7, 0x70, 0x28,
	0x33, 0x22, 0x67, 0x9d, 0x13, 0x2e, 0xbd, 0xae, 0x09, 0xb7, 0x5e, 0xea,
	0xdc, 0x01, 0xde, 0x69, 0x8e, 0xf8, 0x69, 0x45, 0xcf, 0x38, 0x31, 0x4a,
	0x95, 0xfa, 0xd0, 0x8c, 0x2a, 0xd5, 0x64, 0x18, 0x02, 0xbd, 0x5f, 0x65,
	0x8e, 0xb3, 0xea, 0x0d, 0xb2, 0x71, 0x2c, 0x04, 0xaa, 0x5e, 0xfe, 0xd0,
	0x3d, 0xee, 0xcc, 0x51, 0x04, 0xf7, 0x5d, 0x86, 0x9d, 0x2d, 0x19, 0x7e,
	0x43, 0x36, 0xc6, 0x1f, 0x0d, 0x71, 0xd7, 0x63, 0xbe, 0xe9, 0x94, 0x16,
};
static const uint8_t v_s[96] = {
	0xcd, 0x85, 0x36, 0xd5, 0xf2, 0xc9, 0x8f, 0x01, 0xf8, 0xf5, 0xa6, 0x48,
	0xf6, 0x9f, 0x6f, 0x2d, 0x6a, 0x6a, 0xaf, 0xd0, 0x44, 0x66, 0x6b, 0x01,
	0xfc, 0x8b, 0xeb, 0x81, 0xf6, 0x3d, 0xdb, 0xea, 0x0a, 0x86, 0x2b, 0x2b,
	0x63, 0x06, 0x43, 0x1f, 0x7a, 0x30, 0x8b, 0x06, 0x3f, 0x79, 0x5d, 0x18,
	0x1c, 0xa7, 0x11, 0xb2, 0x2a, 0xb0, 0x60, 0x2a, 0x9c, 0x4b, 0x5d, 0x1c,
	0x53, 0x26, 0x98, 0x37, 0x77, 0x3f, 0xf5, 0x3a, 0x4d, 0xe4, 0x7d, 0x9a,
	0xac, 0xe6, 0xb6, 0xa1, 0xb7, 0x89, 0xea, 0x37, 0x07, 0x75, 0x07, 0x84,
	0x27, 0x42, 0xeb, 0x75, 0x81, 0xea, 0x18, 0x0b, 0x16, 0x74, 0x88, 0x26,
};
/* req1 (20) | req2 ^ req3 (20) | RC4A(VC, provide 3, len(PadC) 0, len(IA) 10, IA) */
static const uint8_t v_msg3[66] = {
	0x36, 0x1e, 0x36, 0x68, 0x02, 0x7e, 0xce, 0xc9, 0xd1, 0x08, 0x6d, 0x5f,
	0x83, 0x9d, 0x19, 0x17, 0x81, 0xe8, 0xde, 0x17, 0xf1, 0x8b, 0x3a, 0x3d,
	0x3b, 0x1e, 0x06, 0x6b, 0x69, 0xd9, 0x0d, 0xba, 0xf0, 0xde, 0x77, 0x22,
	0xca, 0xc3, 0xa9, 0x5a, 0xc4, 0x06, 0x6f, 0xa9, 0x67, 0x32, 0xa8, 0x92,
	0xe1, 0x0a, 0xa5, 0xb3, 0x1a, 0xae, 0x95, 0xcc, 0xa3, 0x63, 0x9b, 0x90,
	0x67, 0xf3, 0xf3, 0x23, 0x48, 0x8f,
};
/* RC4B(VC, select 2 (RC4), len(PadD) 0) */
static const uint8_t v_msg4[14] = {
	0x6a, 0x46, 0x0b, 0x98, 0x7c, 0x80, 0xc6, 0x1d, 0xb4, 0xe2, 0x0b, 0x42,
	0xd5, 0x96,
};
static const uint8_t v_ks_a[32] = {
	0xfc, 0xed, 0x8c, 0x7a, 0xcd, 0x0a, 0xbb, 0xdb, 0xf6, 0xf4, 0x79, 0x29,
	0xa1, 0x4a, 0x81, 0xb3, 0x14, 0x0d, 0x8b, 0x7b, 0xd3, 0x4f, 0x04, 0x31,
	0x59, 0x2c, 0xfd, 0xf2, 0x05, 0x8a, 0x9e, 0x9d,
};
static const uint8_t v_ks_b[32] = {
	0xfc, 0x60, 0x02, 0xdb, 0x71, 0x4c, 0x17, 0x26, 0x38, 0x51, 0x57, 0x64,
	0xb7, 0x6b, 0x1b, 0x15, 0x34, 0xb9, 0x71, 0x87, 0x40, 0xee, 0x20, 0xb8,
	0xa7, 0x7d, 0x5b, 0x84, 0xa8, 0x6d, 0xea, 0x8b,
};

static const uint8_t xa[20] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14,
};
static const uint8_t xb[20] = {
	0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a,
	0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34,
};
/* [1] is the test info-hash; [0] another torrent the receiver also has. */
static const uint8_t skeys[2][20] = {
	{ 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	  0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55 },
	{ 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9,
	  0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3 },
};
#define SKEY skeys[1]
static const uint8_t other_skey[20] = { 0x77 };
static struct bt_mse_skeys known = { skeys, 2 };
static const uint8_t ia[10] = { 'h', 'e', 'l', 'l', 'o', ',', ' ', 'M', 'S', 'E' };

#define BUFMAX 8192
struct buf {
	uint8_t d[BUFMAX];
	size_t n;
};

static void buf_add(struct buf *b, const uint8_t *p, size_t n)
{
	if (n > BUFMAX - b->n)
		abort();
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

/* Pattern payloads each side sends after the handshake. */
static uint8_t pa[300], pb[200];

static void payloads(void)
{
	for (size_t i = 0; i < sizeof pa; i++)
		pa[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof pb; i++)
		pb[i] = (uint8_t)(i * 13 + 5);
}

static void cfg_a(struct bt_mse_cfg *c, uint32_t provide, int pad, int pad2,
		  const uint8_t *padbytes)
{
	memset(c, 0, sizeof *c);
	c->role = BT_MSE_INITIATOR;
	c->crypto = provide;
	c->skey = SKEY;
	c->ia = ia;
	c->ia_len = sizeof ia;
	c->pad_len = pad;
	c->pad = pad >= 0 ? padbytes : NULL;
	c->pad2_len = pad2;
	c->priv = xa;
	c->priv_len = sizeof xa;
}

static void cfg_b(struct bt_mse_cfg *c, uint32_t allow, bool prefer_plain,
		  int pad, int pad2, const uint8_t *padbytes)
{
	memset(c, 0, sizeof *c);
	c->role = BT_MSE_RECEIVER;
	c->crypto = allow;
	c->prefer_plain = prefer_plain;
	c->find_skey = bt_mse_skeys_find;
	c->skey_arg = &known;
	c->pad_len = pad;
	c->pad = pad >= 0 ? padbytes : NULL;
	c->pad2_len = pad2;
	c->priv = xb;
	c->priv_len = sizeof xb;
}

/* Feed in; pending output to out; payload (decrypted) to got. */
static long drive(struct bt_mse *m, const uint8_t *in, size_t len,
		  struct buf *out, struct buf *got)
{
	long n = bt_mse_feed(m, in, len);
	const uint8_t *p;
	size_t plen;

	if (n < 0)
		return n;
	if ((size_t)n > len)
		abort();
	p = bt_mse_pending(m, &plen);
	if (out)
		buf_add(out, p, plen);
	bt_mse_sent(m, plen);
	if ((size_t)n < len) {
		uint8_t tmp[BUFMAX];

		if (!bt_mse_done(m))
			return -100;    /* stopped early without being done */
		memcpy(tmp, in + n, len - (size_t)n);
		if (bt_mse_decrypt(m, tmp, len - (size_t)n) != BT_OK)
			return -101;
		if (got)
			buf_add(got, tmp, len - (size_t)n);
	}
	return n;
}

/* One complete exchange between A and B, then a payload each way. */
struct xfer {
	struct buf ab, ba;        /* the wire, each way */
	size_t ab_hs, ba_hs;      /* bytes of handshake messages each way */
	struct buf b_got, a_got;  /* plaintext each side received */
	uint8_t secret[96];
	uint32_t select;
	int b_saw_pad, a_saw_pad, b_saw_pad2, a_saw_pad2;
};

static bool exchange(const struct bt_mse_cfg *ca, const struct bt_mse_cfg *cb,
		     struct xfer *x)
{
	struct bt_mse a, b;
	size_t ab_fed = 0, ba_fed = 0;
	uint8_t tmp[BUFMAX];
	bool ok = false;

	memset(x, 0, sizeof *x);
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	if (bt_mse_init(&a, ca) || bt_mse_init(&b, cb))
		goto out;
	if (drive(&a, NULL, 0, &x->ab, NULL) < 0)
		goto out;
	for (int round = 0; round < 4; round++) {
		if (drive(&b, x->ab.d + ab_fed, x->ab.n - ab_fed, &x->ba, &x->b_got) < 0)
			goto out;
		ab_fed = x->ab.n;
		if (drive(&a, x->ba.d + ba_fed, x->ba.n - ba_fed, &x->ab, &x->a_got) < 0)
			goto out;
		ba_fed = x->ba.n;
	}
	if (!bt_mse_done(&a) || !bt_mse_done(&b))
		goto out;
	x->ab_hs = x->ab.n;
	x->ba_hs = x->ba.n;
	memcpy(tmp, pa, sizeof pa);
	if (bt_mse_encrypt(&a, tmp, sizeof pa))
		goto out;
	buf_add(&x->ab, tmp, sizeof pa);
	if (drive(&b, tmp, sizeof pa, &x->ba, &x->b_got) != 0)
		goto out;
	memcpy(tmp, pb, sizeof pb);
	if (bt_mse_encrypt(&b, tmp, sizeof pb))
		goto out;
	buf_add(&x->ba, tmp, sizeof pb);
	if (drive(&a, tmp, sizeof pb, &x->ab, &x->a_got) != 0)
		goto out;
	if (!bt_mse_secret(&a) || !bt_mse_secret(&b) ||
	    memcmp(bt_mse_secret(&a), bt_mse_secret(&b), 96) != 0)
		goto out;
	memcpy(x->secret, bt_mse_secret(&a), 96);
	if (a.select != b.select)
		goto out;
	x->select = a.select;
	x->b_saw_pad = b.peer_pad;
	x->a_saw_pad = a.peer_pad;
	x->b_saw_pad2 = b.peer_pad2;
	x->a_saw_pad2 = a.peer_pad2;
	ok = true;
out:
	bt_mse_free(&a);
	bt_mse_free(&b);
	return ok;
}

/* B's plaintext must be the IA then A's payload; A's, B's payload. */
static void check_plain(const struct xfer *x)
{
	uint8_t want[sizeof ia + sizeof pa];

	memcpy(want, ia, sizeof ia);
	memcpy(want + sizeof ia, pa, sizeof pa);
	T_EQ_MEM(x->b_got.d, x->b_got.n, want, sizeof want);
	T_EQ_MEM(x->a_got.d, x->a_got.n, pb, sizeof pb);
}

/* A fresh B fed x->ab in two pieces at every split point (or one byte at a
 * time): the same output and plaintext each time.  Likewise A with x->ba. */
static void check_splits(const struct xfer *x, const struct bt_mse_cfg *ca,
			 const struct bt_mse_cfg *cb, bool bytewise)
{
	const uint8_t *ab = t_guarded(x->ab.d, x->ab.n);
	const uint8_t *ba = t_guarded(x->ba.d, x->ba.n);
	uint8_t want_b[sizeof ia + sizeof pa];
	static struct buf out, got;

	memcpy(want_b, ia, sizeof ia);
	memcpy(want_b + sizeof ia, pa, sizeof pa);
	for (size_t k = 0; k <= x->ab.n; k++) {
		struct bt_mse b;

		out.n = got.n = 0;
		T_EQ_INT(bt_mse_init(&b, cb), BT_OK);
		if (bytewise) {
			for (size_t i = 0; i < x->ab.n; i++)
				if (drive(&b, ab + i, 1, &out, &got) < 0)
					T_FAILF("bytewise B failed at %zu: %s", i, b.why);
			k = x->ab.n;
		} else {
			if (drive(&b, ab, k, &out, &got) < 0 ||
			    drive(&b, ab + k, x->ab.n - k, &out, &got) < 0)
				T_FAILF("B failed with split %zu: %s", k, b.why);
		}
		T_CHECK(bt_mse_done(&b));
		T_EQ_MEM(out.d, out.n, x->ba.d, x->ba_hs);
		T_EQ_MEM(got.d, got.n, want_b, sizeof want_b);
		bt_mse_free(&b);
		if (t_failed_now) {
			printf("#   (split %zu)\n", k);
			return;
		}
	}
	for (size_t k = 0; k <= x->ba.n; k++) {
		struct bt_mse a;

		out.n = got.n = 0;
		T_EQ_INT(bt_mse_init(&a, ca), BT_OK);
		drive(&a, NULL, 0, &out, NULL);
		if (bytewise) {
			for (size_t i = 0; i < x->ba.n; i++)
				if (drive(&a, ba + i, 1, &out, &got) < 0)
					T_FAILF("bytewise A failed at %zu: %s", i, a.why);
			k = x->ba.n;
		} else {
			if (drive(&a, ba, k, &out, &got) < 0 ||
			    drive(&a, ba + k, x->ba.n - k, &out, &got) < 0)
				T_FAILF("A failed with split %zu: %s", k, a.why);
		}
		T_CHECK(bt_mse_done(&a));
		T_EQ_MEM(out.d, out.n, x->ab.d, x->ab_hs);
		T_EQ_MEM(got.d, got.n, pb, sizeof pb);
		bt_mse_free(&a);
		if (t_failed_now) {
			printf("#   (split %zu)\n", k);
			return;
		}
	}
}

/* ---- an independent RC4 and SHA-1, to build hostile messages ---------- */

struct trc4 {
	uint8_t s[256];
	uint8_t i, j;
};

static void trc4_xor(struct trc4 *r, uint8_t *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		uint8_t t;

		r->i++;
		r->j = (uint8_t)(r->j + r->s[r->i]);
		t = r->s[r->i];
		r->s[r->i] = r->s[r->j];
		r->s[r->j] = t;
		p[k] ^= r->s[(uint8_t)(r->s[r->i] + r->s[r->j])];
	}
}

static void tsha1(uint8_t out[20], const char *tag, const uint8_t *a, size_t alen,
		  const uint8_t *b, size_t blen)
{
	uint8_t m[4 + 96 + 20];
	unsigned olen;

	memcpy(m, tag, 4);
	memcpy(m + 4, a, alen);
	if (blen)
		memcpy(m + 4 + alen, b, blen);
	EVP_Digest(m, 4 + alen + blen, out, &olen, EVP_sha1(), NULL);
}

static void trc4_init(struct trc4 *r, const char *tag)
{
	uint8_t key[20], drop[1024] = { 0 }, j = 0, t;

	tsha1(key, tag, v_s, 96, SKEY, 20);
	for (int i = 0; i < 256; i++)
		r->s[i] = (uint8_t)i;
	for (int i = 0; i < 256; i++) {
		j = (uint8_t)(j + r->s[i] + key[i % 20]);
		t = r->s[i];
		r->s[i] = r->s[j];
		r->s[j] = t;
	}
	r->i = r->j = 0;
	trc4_xor(r, drop, sizeof drop);
}

/* Message 3 for the vector keys with chosen fields; returns its length. */
static size_t hostile_msg3(uint8_t *out, const uint8_t vc[8], uint32_t provide,
			   uint16_t padc_field, uint16_t ia_field)
{
	struct trc4 r;
	uint8_t h2[20], h3[20];
	size_t n = 0;

	tsha1(out, "req1", v_s, 96, NULL, 0);
	tsha1(h2, "req2", SKEY, 20, NULL, 0);
	tsha1(h3, "req3", v_s, 96, NULL, 0);
	for (int i = 0; i < 20; i++)
		out[20 + i] = h2[i] ^ h3[i];
	n = 40;
	memcpy(out + n, vc, 8);
	bt_store_u32be(out + n + 8, provide);
	out[n + 12] = (uint8_t)(padc_field >> 8);
	out[n + 13] = (uint8_t)padc_field;
	out[n + 14] = (uint8_t)(ia_field >> 8);
	out[n + 15] = (uint8_t)ia_field;
	trc4_init(&r, "keyA");
	trc4_xor(&r, out + n, 16);
	return n + 16;
}

/* Message 4 for the vector keys with chosen fields. */
static size_t hostile_msg4(uint8_t *out, uint32_t select, uint16_t padd_field)
{
	struct trc4 r;

	memset(out, 0, 8);
	bt_store_u32be(out + 8, select);
	out[12] = (uint8_t)(padd_field >> 8);
	out[13] = (uint8_t)padd_field;
	trc4_init(&r, "keyB");
	trc4_xor(&r, out, 14);
	return 14;
}

/* ---- tests --------------------------------------------------------------- */

static void test_rc4_available(void)
{
	const char *why = "x";

	T_EQ_INT(bt_mse_rc4_available(&why), BT_OK);
	T_CHECK(why == NULL);
	T_EQ_INT(bt_mse_rc4_available(NULL), BT_OK);   /* once, then cached */
}

/* Ya, Yb, S, message 3, message 4 and the keystream after the handshake,
 * byte for byte against the Python computation. */
static void test_known_vectors(void)
{
	struct bt_mse_cfg ca, cb;
	struct bt_mse a, b;
	const uint8_t *p;
	size_t n;
	uint8_t z[32];

	cfg_a(&ca, 0, 0, 0, NULL);
	cfg_b(&cb, 0, false, 0, 0, NULL);
	T_EQ_INT(bt_mse_init(&a, &ca), BT_OK);
	T_EQ_INT(bt_mse_init(&b, &cb), BT_OK);
	T_EQ_UINT(a.provide, 3);
	p = bt_mse_pending(&a, &n);
	T_EQ_MEM(p, n, v_ya, 96);                 /* message 1: Ya, no PadA */
	bt_mse_sent(&a, n);
	T_CHECK(bt_mse_secret(&a) == NULL);
	p = bt_mse_pending(&b, &n);
	T_EQ_UINT(n, 0);                          /* B waits for Ya */

	T_EQ_INT(bt_mse_feed(&b, v_ya, 95), 95);
	p = bt_mse_pending(&b, &n);
	T_EQ_UINT(n, 0);
	T_EQ_INT(bt_mse_feed(&b, v_ya + 95, 1), 1);
	p = bt_mse_pending(&b, &n);
	T_EQ_MEM(p, n, v_yb, 96);                 /* message 2: Yb, no PadB */
	bt_mse_sent(&b, n);
	T_EQ_MEM(bt_mse_secret(&b), 96, v_s, 96);

	T_EQ_INT(bt_mse_feed(&a, v_yb, 96), 96);
	T_EQ_MEM(bt_mse_secret(&a), 96, v_s, 96);
	p = bt_mse_pending(&a, &n);
	T_EQ_MEM(p, n, v_msg3, sizeof v_msg3);    /* message 3 */
	bt_mse_sent(&a, n);
	T_CHECK(!bt_mse_done(&a));

	/* B stops after len(IA): the 10 IA bytes are payload. */
	T_EQ_INT(bt_mse_feed(&b, v_msg3, sizeof v_msg3), sizeof v_msg3 - 10);
	T_CHECK(bt_mse_done(&b));
	T_EQ_INT(b.peer_pad, 0);
	T_EQ_UINT(b.provide, 3);
	T_EQ_UINT(b.select, BT_MSE_CRYPTO_RC4);
	T_EQ_UINT(b.ia_len, 10);
	T_EQ_MEM(b.skey, 20, SKEY, 20);
	p = bt_mse_pending(&b, &n);
	T_EQ_MEM(p, n, v_msg4, sizeof v_msg4);    /* message 4 */
	bt_mse_sent(&b, n);
	memcpy(z, v_msg3 + 56, 10);
	T_EQ_INT(bt_mse_decrypt(&b, z, 10), BT_OK);
	T_EQ_MEM(z, 10, ia, 10);

	T_EQ_INT(bt_mse_feed(&a, v_msg4, sizeof v_msg4), sizeof v_msg4);
	T_CHECK(bt_mse_done(&a));
	T_EQ_INT(a.peer_pad, 0);
	T_EQ_UINT(a.select, BT_MSE_CRYPTO_RC4);
	T_EQ_INT(bt_mse_feed(&a, v_msg4, 3), 0);  /* done: consumes nothing */

	/* The payload keystreams continue where the handshake left them. */
	memset(z, 0, sizeof z);
	T_EQ_INT(bt_mse_encrypt(&a, z, 32), BT_OK);
	T_EQ_MEM(z, 32, v_ks_a, 32);
	T_EQ_INT(bt_mse_decrypt(&b, z, 32), BT_OK);
	T_EQ_MEM(z, 32, (uint8_t[32]){ 0 }, 32);
	T_EQ_INT(bt_mse_encrypt(&b, z, 32), BT_OK);
	T_EQ_MEM(z, 32, v_ks_b, 32);
	T_EQ_INT(bt_mse_decrypt(&a, z, 32), BT_OK);
	T_EQ_MEM(z, 32, (uint8_t[32]){ 0 }, 32);
	bt_mse_free(&a);
	bt_mse_free(&b);
}

static void test_prime(void)
{
	/* P = 2^768 - 2^704 - 1 + 2^64 * (floor(2^638 pi) + 149686). */
	T_EQ_UINT(bt_mse_prime[0], 0xff);
	T_EQ_UINT(bt_mse_prime[8], 0xc9);
	T_EQ_UINT(bt_mse_prime[95], 0x63);
	T_EQ_MEM(bt_mse_prime + 88, 8,
		 ((uint8_t[]){ 0, 0, 0, 0, 0, 0x09, 0x05, 0x63 }), 8);
}

static void test_rc4_every_split(void)
{
	struct bt_mse_cfg ca, cb;
	struct xfer x;

	cfg_a(&ca, 0, 0, 0, NULL);
	cfg_b(&cb, 0, false, 0, 0, NULL);
	T_CHECK(exchange(&ca, &cb, &x));
	T_EQ_UINT(x.select, BT_MSE_CRYPTO_RC4);
	T_EQ_UINT(x.ab_hs, 96 + sizeof v_msg3);
	T_EQ_MEM(x.ab.d, 96, v_ya, 96);
	T_EQ_MEM(x.ab.d + 96, sizeof v_msg3, v_msg3, sizeof v_msg3);
	T_EQ_UINT(x.ba_hs, 96 + sizeof v_msg4);
	T_EQ_MEM(x.ba.d + 96, sizeof v_msg4, v_msg4, sizeof v_msg4);
	check_plain(&x);
	check_splits(&x, &ca, &cb, false);
	check_splits(&x, &ca, &cb, true);
}

/* The largest pads everywhere: PadA, PadB, PadC, PadD all 512. */
static void test_pad512_every_split(void)
{
	static uint8_t pad[512];
	struct bt_mse_cfg ca, cb;
	struct xfer x;

	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] = (uint8_t)(i * 31 + 3);
	cfg_a(&ca, 0, 512, 512, pad);
	cfg_b(&cb, 0, false, 512, 512, pad + 1);
	cb.pad_len = 511;   /* and one short of it, for B's */
	T_CHECK(exchange(&ca, &cb, &x));
	T_EQ_INT(x.b_saw_pad, 512);
	T_EQ_INT(x.a_saw_pad, 511);
	T_EQ_INT(x.b_saw_pad2, 512);
	T_EQ_INT(x.a_saw_pad2, 512);
	T_EQ_UINT(x.ab_hs, 96 + 512 + 40 + 16 + 512 + sizeof ia);
	T_EQ_UINT(x.ba_hs, 96 + 511 + 14 + 512);
	T_EQ_MEM(x.ab.d + 96, 512, pad, 512);     /* PadA as given */
	check_plain(&x);
	check_splits(&x, &ca, &cb, false);
	check_splits(&x, &ca, &cb, true);
}

static void test_pad0(void)
{
	struct bt_mse_cfg ca, cb;
	struct xfer x;

	cfg_a(&ca, BT_MSE_CRYPTO_RC4, 0, 0, NULL);
	cfg_b(&cb, 0, false, 0, 0, NULL);
	T_CHECK(exchange(&ca, &cb, &x));
	T_EQ_INT(x.b_saw_pad, 0);
	T_EQ_INT(x.a_saw_pad, 0);
	T_EQ_INT(x.b_saw_pad2, 0);
	T_EQ_INT(x.a_saw_pad2, 0);
	check_plain(&x);
}

/* Random keys and random pads: still agree (many times). */
static void test_random_keys(void)
{
	for (int i = 0; i < 40 && !t_failed_now; i++) {
		struct bt_mse_cfg ca, cb;
		struct xfer x;

		cfg_a(&ca, 0, BT_MSE_PAD_RANDOM, i * 13 % 513, NULL);
		cfg_b(&cb, 0, i & 1, BT_MSE_PAD_RANDOM, i * 7 % 513, NULL);
		ca.priv = cb.priv = NULL;
		T_CHECK(exchange(&ca, &cb, &x));
		T_EQ_UINT(x.select, (i & 1) ? BT_MSE_CRYPTO_PLAIN : BT_MSE_CRYPTO_RC4);
		T_CHECK(x.a_saw_pad >= 0 && x.a_saw_pad <= 512);
		T_CHECK(x.b_saw_pad >= 0 && x.b_saw_pad <= 512);
		check_plain(&x);
	}
}

/* Plaintext selected: IA still RC4, the payload after it in the clear. */
static void test_plaintext(void)
{
	struct bt_mse_cfg ca, cb;
	struct xfer x;

	/* A offers only plaintext. */
	cfg_a(&ca, BT_MSE_CRYPTO_PLAIN, 0, 0, NULL);
	cfg_b(&cb, 0, false, 0, 0, NULL);
	T_CHECK(exchange(&ca, &cb, &x));
	T_EQ_UINT(x.select, BT_MSE_CRYPTO_PLAIN);
	check_plain(&x);
	T_EQ_MEM(x.ab.d + x.ab_hs, sizeof pa, pa, sizeof pa);
	T_EQ_MEM(x.ba.d + x.ba_hs, sizeof pb, pb, sizeof pb);
	T_CHECK(memcmp(x.ab.d + x.ab_hs - sizeof ia, ia, sizeof ia) != 0);
	check_splits(&x, &ca, &cb, false);

	/* Both offered, B prefers plaintext. */
	cfg_a(&ca, 0, 0, 0, NULL);
	cfg_b(&cb, 0, true, 0, 0, NULL);
	T_CHECK(exchange(&ca, &cb, &x));
	T_EQ_UINT(x.select, BT_MSE_CRYPTO_PLAIN);
	check_plain(&x);
	T_EQ_MEM(x.ba.d + x.ba_hs, sizeof pb, pb, sizeof pb);

	/* Both offered, B allows only RC4: RC4 although it prefers plain. */
	cfg_b(&cb, BT_MSE_CRYPTO_RC4, true, 0, 0, NULL);
	T_CHECK(exchange(&ca, &cb, &x));
	T_EQ_UINT(x.select, BT_MSE_CRYPTO_RC4);
	check_plain(&x);
}

static void test_no_common_method(void)
{
	struct bt_mse_cfg ca, cb;
	struct bt_mse a, b;
	const uint8_t *p;
	size_t n;

	cfg_a(&ca, BT_MSE_CRYPTO_PLAIN, 0, 0, NULL);
	cfg_b(&cb, BT_MSE_CRYPTO_RC4, false, 0, 0, NULL);
	T_EQ_INT(bt_mse_init(&a, &ca), BT_OK);
	T_EQ_INT(bt_mse_init(&b, &cb), BT_OK);
	p = bt_mse_pending(&a, &n);
	T_EQ_INT(bt_mse_feed(&b, p, n), (long)n);
	bt_mse_sent(&a, n);
	p = bt_mse_pending(&b, &n);
	T_EQ_INT(bt_mse_feed(&a, p, n), (long)n);
	bt_mse_sent(&b, n);
	p = bt_mse_pending(&a, &n);
	T_EQ_INT(bt_mse_feed(&b, p, n), BT_EUNSUPP);
	T_EQ_INT(b.err, BT_MSE_ERR_NO_METHOD);
	T_EQ_UINT(b.provide, BT_MSE_CRYPTO_PLAIN);
	T_EQ_UINT(b.err_dir, BT_MSE_A2B);
	T_EQ_UINT(b.err_off, 96 + 40 + 8);         /* crypto_provide */
	T_EQ_STR(bt_mse_errname(b.err), "no common crypto method");
	T_CHECK(!bt_mse_done(&b));
	T_EQ_INT(bt_mse_feed(&b, p, 1), BT_EUNSUPP);   /* sticky */
	(void)bt_mse_pending(&b, &n);
	T_EQ_UINT(n, 0);                           /* no message 4 */
	bt_mse_free(&a);
	bt_mse_free(&b);
}

static void test_wrong_infohash(void)
{
	struct bt_mse_cfg ca, cb;
	struct bt_mse a, b;
	static uint8_t pad[100];
	const uint8_t *p;
	size_t n;

	cfg_a(&ca, 0, 100, 0, pad);
	ca.skey = other_skey;
	cfg_b(&cb, 0, false, 0, 0, NULL);
	T_EQ_INT(bt_mse_init(&a, &ca), BT_OK);
	T_EQ_INT(bt_mse_init(&b, &cb), BT_OK);
	p = bt_mse_pending(&a, &n);
	T_EQ_INT(bt_mse_feed(&b, p, n), (long)n);
	bt_mse_sent(&a, n);
	p = bt_mse_pending(&b, &n);
	T_EQ_INT(bt_mse_feed(&a, p, n), (long)n);
	bt_mse_sent(&b, n);
	p = bt_mse_pending(&a, &n);
	T_EQ_INT(bt_mse_feed(&b, p, n), BT_EINVAL);
	T_EQ_INT(b.err, BT_MSE_ERR_SKEY);
	T_EQ_UINT(b.err_off, 96 + 100 + 20);      /* the req2 ^ req3 field */
	T_EQ_INT(b.peer_pad, 100);
	T_EQ_STR(b.why, "HASH('req2', SKEY) matches no known info-hash");
	T_CHECK(!b.have_skey);
	bt_mse_free(&a);
	bt_mse_free(&b);
}

/* Deterministic garbage that contains no marker. */
static void garbage(uint8_t *p, size_t n)
{
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static void test_no_sync(void)
{
	struct bt_mse_cfg ca, cb;
	struct bt_mse a, b;
	static uint8_t in[96 + 600];

	/* B: req1 must end within 532 bytes after Ya. */
	cfg_b(&cb, 0, false, 0, 0, NULL);
	T_EQ_INT(bt_mse_init(&b, &cb), BT_OK);
	memcpy(in, v_ya, 96);
	garbage(in + 96, 600);
	T_EQ_INT(bt_mse_feed(&b, in, 96 + 531), 96 + 531);
	T_EQ_INT(b.err, BT_MSE_ERR_NONE);
	T_EQ_INT(bt_mse_feed(&b, in + 96 + 531, 69), BT_EINVAL);
	T_EQ_INT(b.err, BT_MSE_ERR_NO_SYNC);
	T_EQ_UINT(b.err_off, 96 + 532);
	T_EQ_STR(bt_mse_errname(b.err), "no sync within window");
	bt_mse_free(&b);

	/* The same at once, guarded. */
	T_EQ_INT(bt_mse_init(&b, &cb), BT_OK);
	T_EQ_INT(bt_mse_feed(&b, t_guarded(in, sizeof in), sizeof in), BT_EINVAL);
	T_EQ_INT(b.err, BT_MSE_ERR_NO_SYNC);
	bt_mse_free(&b);

	/* A: the encrypted VC must end within 520 bytes after Yb. */
	cfg_a(&ca, 0, 0, 0, NULL);
	T_EQ_INT(bt_mse_init(&a, &ca), BT_OK);
	memcpy(in, v_yb, 96);
	T_EQ_INT(bt_mse_feed(&a, in, 96 + 519), 96 + 519);
	T_EQ_INT(a.err, BT_MSE_ERR_NONE);
	T_EQ_INT(bt_mse_feed(&a, in + 96 + 519, 1), BT_EINVAL);
	T_EQ_INT(a.err, BT_MSE_ERR_NO_SYNC);
	T_EQ_UINT(a.err_dir, BT_MSE_B2A);
	T_EQ_UINT(a.err_off, 96 + 520);
	bt_mse_free(&a);

	/* Exactly 512 bytes of PadB, then the VC: found. */
	T_EQ_INT(bt_mse_init(&a, &ca), BT_OK);
	garbage(in + 96, 512);
	memcpy(in + 96 + 512, v_msg4, sizeof v_msg4);
	T_EQ_INT(bt_mse_feed(&a, in, 96 + 512 + 14), 96 + 512 + 14);
	T_CHECK(bt_mse_done(&a));
	T_EQ_INT(a.peer_pad, 512);
	bt_mse_free(&a);
}

static void test_plain_handshake(void)
{
	static const uint8_t hs[68] = { 19, 'B', 'i', 't', 'T', 'o', 'r', 'r',
		'e', 'n', 't', ' ', 'p', 'r', 'o', 't', 'o', 'c', 'o', 'l' };
	struct bt_mse_cfg ca, cb;
	struct bt_mse a, b;

	cfg_b(&cb, 0, false, 0, 0, NULL);
	T_EQ_INT(bt_mse_init(&b, &cb), BT_OK);
	T_EQ_INT(bt_mse_feed(&b, hs, 19), 19);
	T_EQ_INT(bt_mse_feed(&b, hs + 19, 49), BT_EINVAL);
	T_EQ_INT(b.err, BT_MSE_ERR_PLAIN_HS);
	T_EQ_UINT(b.err_off, 0);
	bt_mse_free(&b);

	cfg_a(&ca, 0, 0, 0, NULL);
	T_EQ_INT(bt_mse_init(&a, &ca), BT_OK);
	T_EQ_INT(bt_mse_feed(&a, t_guarded(hs, sizeof hs), sizeof hs), BT_EINVAL);
	T_EQ_INT(a.err, BT_MSE_ERR_PLAIN_HS);
	bt_mse_free(&a);
}

static void test_bad_dh_key(void)
{
	uint8_t y[96];
	struct bt_mse_cfg cb;
	struct bt_mse b;
	/* 0, 1, P-1, P, 2^768-1 are refused; 2 and P-2 accepted. */
	for (int c = 0; c < 7; c++) {
		memset(y, 0, sizeof y);
		switch (c) {
		case 0: break;
		case 1: y[95] = 1; break;
		case 2: memcpy(y, bt_mse_prime, 96); y[95] -= 1; break;
		case 3: memcpy(y, bt_mse_prime, 96); break;
		case 4: memset(y, 0xff, 96); break;
		case 5: y[95] = 2; break;
		case 6: memcpy(y, bt_mse_prime, 96); y[95] -= 2; break;
		}
		cfg_b(&cb, 0, false, 0, 0, NULL);
		T_EQ_INT(bt_mse_init(&b, &cb), BT_OK);
		if (c < 5) {
			T_EQ_INT(bt_mse_feed(&b, y, 96), BT_EINVAL);
			T_EQ_INT(b.err, BT_MSE_ERR_DH_KEY);
			T_EQ_UINT(b.err_off, 0);
		} else {
			T_EQ_INT(bt_mse_feed(&b, y, 96), 96);
			T_EQ_INT(b.err, BT_MSE_ERR_NONE);
		}
		bt_mse_free(&b);
	}
}

/* Hostile message 3 (receiver) and message 4 (initiator), built with the
 * test's own RC4: bad VC, PadC 513, PadC 512 (fine), bad selects, PadD 513. */
static void test_hostile_fields(void)
{
	static const uint8_t vc0[8], vc1[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	struct bt_mse_cfg ca, cb;
	struct bt_mse a, b;
	uint8_t m[64];
	size_t n;

	cfg_b(&cb, 0, false, 0, 0, NULL);
	cfg_a(&ca, BT_MSE_CRYPTO_RC4, 0, 0, NULL);

	/* Our builder agrees with the vectors for the honest message. */
	n = hostile_msg3(m, vc0, 3, 0, 10);
	T_EQ_MEM(m, n, v_msg3, n);
	n = hostile_msg4(m, 2, 0);
	T_EQ_MEM(m, n, v_msg4, n);

	struct { const uint8_t *vc; uint32_t provide; uint16_t padc;
		 int rc, err; uint64_t off; } c3[] = {
		{ vc1, 3, 0, BT_EINVAL, BT_MSE_ERR_VC, 96 + 40 },
		{ vc0, 3, 513, BT_ETOOBIG, BT_MSE_ERR_PAD_LEN, 96 + 40 + 12 },
		{ vc0, 3, 0xffff, BT_ETOOBIG, BT_MSE_ERR_PAD_LEN, 96 + 40 + 12 },
		{ vc0, 0, 0, BT_EUNSUPP, BT_MSE_ERR_NO_METHOD, 96 + 40 + 8 },
		{ vc0, 0xfffffffc, 0, BT_EUNSUPP, BT_MSE_ERR_NO_METHOD, 96 + 40 + 8 },
		{ vc0, 0xffffffff, 512, 0, 0, 0 },    /* unknown bits ignored */
	};
	for (size_t i = 0; i < sizeof c3 / sizeof c3[0]; i++) {
		T_EQ_INT(bt_mse_init(&b, &cb), BT_OK);
		T_EQ_INT(bt_mse_feed(&b, v_ya, 96), 96);
		n = hostile_msg3(m, c3[i].vc, c3[i].provide, c3[i].padc, 0);
		long r = bt_mse_feed(&b, t_guarded(m, n), n);
		if (c3[i].rc) {
			T_EQ_INT(r, c3[i].rc);
			T_EQ_INT(b.err, c3[i].err);
			T_EQ_UINT(b.err_off, c3[i].off);
		} else {
			T_EQ_INT(r, (long)n);      /* waits for 512 bytes of PadC */
			T_CHECK(!bt_mse_done(&b));
			T_EQ_INT(b.peer_pad2, 512);
			T_EQ_UINT(b.select, BT_MSE_CRYPTO_RC4);
		}
		bt_mse_free(&b);
		if (t_failed_now) {
			printf("#   (msg3 case %zu)\n", i);
			return;
		}
	}

	struct { uint32_t select; uint16_t padd; int rc, err; } c4[] = {
		{ 0, 0, BT_EINVAL, BT_MSE_ERR_SELECT },
		{ 3, 0, BT_EINVAL, BT_MSE_ERR_SELECT },
		{ 4, 0, BT_EINVAL, BT_MSE_ERR_SELECT },
		{ 1, 0, BT_EINVAL, BT_MSE_ERR_SELECT },  /* plaintext, not offered */
		{ 2, 513, BT_ETOOBIG, BT_MSE_ERR_PAD_LEN },
		{ 2, 7, 0, 0 },
	};
	for (size_t i = 0; i < sizeof c4 / sizeof c4[0]; i++) {
		uint8_t in[96 + 14 + 7];

		T_EQ_INT(bt_mse_init(&a, &ca), BT_OK);
		memcpy(in, v_yb, 96);
		hostile_msg4(in + 96, c4[i].select, c4[i].padd);
		memset(in + 96 + 14, 0xee, 7);
		long r = bt_mse_feed(&a, in, sizeof in);
		if (c4[i].rc) {
			T_EQ_INT(r, c4[i].rc);
			T_EQ_INT(a.err, c4[i].err);
			T_EQ_UINT(a.err_off, c4[i].err == BT_MSE_ERR_SELECT ?
				  96 + 8 : 96 + 8 + 4);
		} else {
			T_EQ_INT(r, (long)sizeof in);
			T_CHECK(bt_mse_done(&a));
			T_EQ_INT(a.peer_pad2, 7);
		}
		bt_mse_free(&a);
		if (t_failed_now) {
			printf("#   (msg4 case %zu)\n", i);
			return;
		}
	}
}

/* A recorded exchange decrypted by a passive decoder given S. */
static void passive_check(const struct xfer *x, const struct bt_mse_cfg *pc,
			  size_t split_ab, size_t split_ba, bool ba_first)
{
	uint8_t want_ab[sizeof ia + sizeof pa], tmp[BUFMAX];
	struct buf got[2] = { 0 };
	const struct buf *in[2] = { &x->ab, &x->ba };
	size_t pos[2] = { 0, 0 }, split[2] = { split_ab, split_ba };
	struct bt_mse p;

	memcpy(want_ab, ia, sizeof ia);
	memcpy(want_ab + sizeof ia, pa, sizeof pa);
	T_EQ_INT(bt_mse_init(&p, pc), BT_OK);
	/* Rounds: each direction gets its next piece (first up to its split,
	 * then the rest), B->A first if asked; undecryptable bytes wait. */
	for (int round = 0; round < 4; round++) {
		for (int k = 0; k < 2; k++) {
			enum bt_mse_dir d = (enum bt_mse_dir)(ba_first ? 1 - k : k);
			size_t end = round == 0 ? split[d] : in[d]->n;
			long n;

			if (end < pos[d])
				end = pos[d];
			memcpy(tmp, in[d]->d + pos[d], end - pos[d]);
			n = bt_mse_passive_feed(&p, d, tmp, end - pos[d]);
			if (n < 0) {
				T_FAILF("passive feed %d: %s", (int)d, p.why);
				goto out;
			}
			if (bt_mse_passive_done(&p, d)) {
				long m = bt_mse_passive_decrypt(&p, d, tmp + n,
								end - pos[d] - (size_t)n);
				T_CHECK(m >= 0);
				if (m < 0)
					goto out;
				buf_add(&got[d], tmp + n, (size_t)m);
				n += m;
			}
			pos[d] += (size_t)n;
		}
	}
	T_EQ_UINT(pos[0], x->ab.n);
	T_EQ_UINT(pos[1], x->ba.n);
	T_EQ_MEM(got[0].d, got[0].n, want_ab, sizeof want_ab);
	T_EQ_MEM(got[1].d, got[1].n, pb, sizeof pb);
	T_EQ_UINT(p.select, x->select);
	T_EQ_MEM(p.skey, 20, SKEY, 20);
	T_EQ_INT(p.d[BT_MSE_A2B].pad, x->b_saw_pad);   /* PadA */
	T_EQ_INT(p.d[BT_MSE_B2A].pad, x->a_saw_pad);   /* PadB */
	T_EQ_INT(p.d[BT_MSE_A2B].pad2, x->b_saw_pad2); /* PadC */
	T_EQ_INT(p.d[BT_MSE_B2A].pad2, x->a_saw_pad2); /* PadD */
out:
	bt_mse_free(&p);
}

static void test_passive(void)
{
	struct bt_mse_cfg ca, cb, pc;
	struct xfer x;

	for (int plain = 0; plain < 2 && !t_failed_now; plain++) {
		cfg_a(&ca, 0, BT_MSE_PAD_RANDOM, 33, NULL);
		cfg_b(&cb, 0, plain, BT_MSE_PAD_RANDOM, 17, NULL);
		ca.priv = cb.priv = NULL;            /* random keys: S from A */
		T_CHECK(exchange(&ca, &cb, &x));
		memset(&pc, 0, sizeof pc);
		pc.role = BT_MSE_PASSIVE;
		pc.secret = x.secret;
		pc.skey = SKEY;
		/* with the info-hash, every split of each direction, both orders */
		for (size_t k = 0; k <= x.ab.n && !t_failed_now; k += 7)
			passive_check(&x, &pc, k, k % (x.ba.n + 1), k & 1);
		/* with a lookup: B->A first must wait for A->B's SKEY */
		pc.skey = NULL;
		pc.find_skey = bt_mse_skeys_find;
		pc.skey_arg = &known;
		passive_check(&x, &pc, x.ab.n, x.ba.n, true);
		passive_check(&x, &pc, 0, x.ba.n, true);
		passive_check(&x, &pc, x.ab.n, x.ba.n, false);
	}
}

static void test_passive_wait_and_errors(void)
{
	struct bt_mse_cfg ca, cb, pc;
	struct bt_mse p;
	struct xfer x;
	uint8_t bad_s[96];

	cfg_a(&ca, 0, 5, 0, (const uint8_t *)"ppppp");
	cfg_b(&cb, 0, false, 3, 0, (const uint8_t *)"qqq");
	T_CHECK(exchange(&ca, &cb, &x));
	memset(&pc, 0, sizeof pc);
	pc.role = BT_MSE_PASSIVE;
	pc.secret = x.secret;
	pc.find_skey = bt_mse_skeys_find;
	pc.skey_arg = &known;

	/* B->A alone: consumes Yb, then waits (no error, not done). */
	T_EQ_INT(bt_mse_init(&p, &pc), BT_OK);
	T_EQ_INT(bt_mse_passive_feed(&p, BT_MSE_B2A, x.ba.d, x.ba.n), 96);
	T_CHECK(!bt_mse_passive_done(&p, BT_MSE_B2A));
	T_EQ_INT(p.err, BT_MSE_ERR_NONE);
	/* A->B up to the end of the IA's length: done, IA is payload... */
	T_EQ_INT(bt_mse_passive_feed(&p, BT_MSE_A2B, x.ab.d, x.ab.n),
		 (long)(x.ab_hs - sizeof ia));
	T_CHECK(bt_mse_passive_done(&p, BT_MSE_A2B));
	/* ...the IA decrypts; A's payload after it waits for crypto_select. */
	uint8_t tmp[BUFMAX];
	size_t rest = x.ab.n - (x.ab_hs - sizeof ia);
	memcpy(tmp, x.ab.d + x.ab_hs - sizeof ia, rest);
	T_EQ_INT(bt_mse_passive_decrypt(&p, BT_MSE_A2B, tmp, rest), (long)sizeof ia);
	T_EQ_MEM(tmp, sizeof ia, ia, sizeof ia);
	/* B->A again: now it syncs. */
	T_EQ_INT(bt_mse_passive_feed(&p, BT_MSE_B2A, x.ba.d + 96, x.ba.n - 96),
		 (long)(x.ba_hs - 96));
	T_CHECK(bt_mse_passive_done(&p, BT_MSE_B2A));
	T_EQ_INT(p.peer_pad, 3);
	T_EQ_INT(bt_mse_passive_decrypt(&p, BT_MSE_A2B, tmp + sizeof ia,
					rest - sizeof ia), (long)(rest - sizeof ia));
	T_EQ_MEM(tmp + sizeof ia, rest - sizeof ia, pa, sizeof pa);
	/* the wrong API for the role */
	T_EQ_INT(bt_mse_encrypt(&p, tmp, 1), BT_EINVAL);
	T_EQ_INT(bt_mse_feed(&p, tmp, 1), BT_EINVAL);
	T_EQ_INT(p.err, BT_MSE_ERR_STATE);
	bt_mse_free(&p);

	/* A wrong S: req1 is never found. */
	memcpy(bad_s, x.secret, 96);
	bad_s[50] ^= 1;
	pc.secret = bad_s;
	T_EQ_INT(bt_mse_init(&p, &pc), BT_OK);
	T_EQ_INT(bt_mse_passive_feed(&p, BT_MSE_A2B, x.ab.d, x.ab.n), (long)x.ab.n);
	garbage(tmp, 200);
	T_EQ_INT(bt_mse_passive_feed(&p, BT_MSE_A2B, tmp, 200), BT_EINVAL);
	T_EQ_INT(p.err, BT_MSE_ERR_NO_SYNC);
	T_EQ_UINT(p.err_off, 96 + 532);
	bt_mse_free(&p);

	/* The wrong info-hash given. */
	pc.secret = x.secret;
	pc.skey = other_skey;
	T_EQ_INT(bt_mse_init(&p, &pc), BT_OK);
	T_EQ_INT(bt_mse_passive_feed(&p, BT_MSE_A2B, x.ab.d, x.ab.n), BT_EINVAL);
	T_EQ_INT(p.err, BT_MSE_ERR_SKEY);
	T_EQ_UINT(p.err_off, 96 + 5 + 20);
	bt_mse_free(&p);

	/* A plain BitTorrent flow fed to the passive decoder. */
	pc.skey = SKEY;
	T_EQ_INT(bt_mse_init(&p, &pc), BT_OK);
	T_EQ_INT(bt_mse_passive_feed(&p, BT_MSE_A2B, (const uint8_t *)
				     "\x13" "BitTorrent protocol", 20), BT_EINVAL);
	T_EQ_INT(p.err, BT_MSE_ERR_PLAIN_HS);
	bt_mse_free(&p);
}

static void test_config_errors(void)
{
	struct bt_mse_cfg c;
	struct bt_mse m;
	uint8_t big[BT_MSE_IA_MAX + 1] = { 0 };
	uint8_t buf[4] = { 0 };

	T_EQ_INT(bt_mse_init(&m, NULL), BT_EINVAL);
	bt_mse_free(&m);
	memset(&c, 0, sizeof c);
	T_EQ_INT(bt_mse_init(&m, &c), BT_EINVAL);        /* no role */
	T_EQ_INT(m.err, BT_MSE_ERR_CONFIG);
	bt_mse_free(&m);

	cfg_a(&c, 0, 0, 0, NULL);
	c.skey = NULL;
	T_EQ_INT(bt_mse_init(&m, &c), BT_EINVAL);
	T_EQ_STR(m.why, "initiator needs the info-hash");
	bt_mse_free(&m);
	cfg_a(&c, 0, 513, 0, NULL);
	T_EQ_INT(bt_mse_init(&m, &c), BT_EINVAL);
	bt_mse_free(&m);
	cfg_a(&c, 0, -2, 0, NULL);
	T_EQ_INT(bt_mse_init(&m, &c), BT_EINVAL);
	bt_mse_free(&m);
	cfg_a(&c, 0, 0, 513, NULL);
	T_EQ_INT(bt_mse_init(&m, &c), BT_EINVAL);
	bt_mse_free(&m);
	cfg_a(&c, 0, 0, 0, NULL);
	c.ia = big;
	c.ia_len = sizeof big;
	T_EQ_INT(bt_mse_init(&m, &c), BT_EINVAL);
	bt_mse_free(&m);
	c.ia_len = BT_MSE_IA_MAX;                          /* the cap itself */
	c.pad_len = 512;
	c.pad2_len = 512;
	c.pad = big;
	T_EQ_INT(bt_mse_init(&m, &c), BT_OK);
	T_EQ_INT(bt_mse_feed(&m, v_yb, 96), 96);
	{
		size_t n;
		(void)bt_mse_pending(&m, &n);
		T_EQ_UINT(n, BT_MSE_OUT_MAX);                  /* undrained: fits */
	}
	bt_mse_free(&m);
	cfg_a(&c, 0, 0, 0, NULL);
	c.priv_len = 0;
	T_EQ_INT(bt_mse_init(&m, &c), BT_EINVAL);
	bt_mse_free(&m);
	c.priv_len = 97;
	T_EQ_INT(bt_mse_init(&m, &c), BT_EINVAL);
	bt_mse_free(&m);
	cfg_a(&c, 0x4, 0, 0, NULL);                        /* no known method */
	T_EQ_INT(bt_mse_init(&m, &c), BT_EINVAL);
	bt_mse_free(&m);
	cfg_b(&c, 0, false, 0, 0, NULL);
	c.find_skey = NULL;
	T_EQ_INT(bt_mse_init(&m, &c), BT_EINVAL);
	bt_mse_free(&m);
	memset(&c, 0, sizeof c);
	c.role = BT_MSE_PASSIVE;
	c.skey = SKEY;
	T_EQ_INT(bt_mse_init(&m, &c), BT_EINVAL);          /* no S */
	bt_mse_free(&m);

	/* Out of order: encrypt/decrypt before the handshake is done. */
	cfg_a(&c, 0, 0, 0, NULL);
	T_EQ_INT(bt_mse_init(&m, &c), BT_OK);
	T_EQ_INT(bt_mse_encrypt(&m, buf, 4), BT_EINVAL);
	T_EQ_INT(bt_mse_decrypt(&m, buf, 4), BT_EINVAL);
	T_EQ_INT(bt_mse_passive_feed(&m, BT_MSE_A2B, buf, 4), BT_EINVAL);
	bt_mse_free(&m);
	memset(&m, 0, sizeof m);
	bt_mse_free(&m);                                   /* zeroed: fine */
}

static void test_keylog(void)
{
	char line[BT_MSE_KEYLOG_LINE_MAX + 1];
	struct bt_mse_keylog k;
	const char *why;
	char want[400];
	int n;

	n = bt_mse_keylog_format(line, sizeof line, "127.0.0.2:40000",
				 "127.0.0.1:6881", v_s, SKEY);
	snprintf(want, sizeof want, "mse 127.0.0.2:40000 127.0.0.1:6881 "
		 "cd8536d5f2c98f01f8f5a648f69f6f2d6a6aafd044666b01fc8beb81f63ddbea"
		 "0a862b2b6306431f7a308b063f795d181ca711b22ab0602a9c4b5d1c53269837"
		 "773ff53a4de47d9aace6b6a1b789ea37077507842742eb7581ea180b16748826"
		 " a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3\n");
	T_EQ_STR(line, want);
	T_EQ_INT(n, (int)strlen(want));
	T_EQ_INT(bt_mse_keylog_parse(line, (size_t)n, &k, &why), BT_OK);
	T_EQ_MEM(k.client, k.client_len, "127.0.0.2:40000", 15);
	T_EQ_MEM(k.server, k.server_len, "127.0.0.1:6881", 14);
	T_EQ_MEM(k.secret, 96, v_s, 96);
	T_CHECK(k.has_skey);
	T_EQ_MEM(k.skey, 20, SKEY, 20);

	/* Without the info-hash; IPv6; CRLF; upper-case hex. */
	n = bt_mse_keylog_format(line, sizeof line, "[::1]:5", "[2001:db8::1]:6881",
				 v_s, NULL);
	T_EQ_INT(n, 4 + 7 + 1 + 18 + 1 + 192 + 1);
	line[n - 1] = '\r';
	line[n] = '\n';
	for (int i = 0; i < n; i++)
		if (line[i] >= 'a' && line[i] <= 'f' && i > 31)
			line[i] = (char)(line[i] - 32);
	T_EQ_INT(bt_mse_keylog_parse(line, (size_t)n + 1, &k, &why), BT_OK);
	T_CHECK(!k.has_skey);
	T_EQ_MEM(k.secret, 96, v_s, 96);
	T_EQ_MEM(k.server, k.server_len, "[2001:db8::1]:6881", 18);

	/* Too small a buffer; bad addresses. */
	T_EQ_INT(bt_mse_keylog_format(line, 100, "a:1", "b:2", v_s, NULL), BT_ENOSPC);
	T_EQ_INT(bt_mse_keylog_format(line, sizeof line, "a b:1", "b:2", v_s, NULL), BT_EINVAL);
	T_EQ_INT(bt_mse_keylog_format(line, sizeof line, "", "b:2", v_s, NULL), BT_EINVAL);

	/* Skipped and malformed lines. */
	T_EQ_INT(bt_mse_keylog_parse("# comment", 9, &k, &why), BT_EUNSUPP);
	T_EQ_INT(bt_mse_keylog_parse("\n", 1, &k, &why), BT_EUNSUPP);
	T_EQ_INT(bt_mse_keylog_parse("CLIENT_RANDOM a b", 17, &k, &why), BT_EUNSUPP);
	T_EQ_INT(bt_mse_keylog_parse("mse a:1 b:2", 11, &k, &why), BT_EINVAL);
	T_CHECK(why != NULL);
	n = bt_mse_keylog_format(line, sizeof line, "a:1", "b:2", v_s, NULL);
	T_EQ_INT(bt_mse_keylog_parse(line, (size_t)n - 2, &k, &why), BT_EINVAL);
	T_EQ_STR(why, "S is not 192 hex digits");
	line[20] = 'g';
	T_EQ_INT(bt_mse_keylog_parse(line, (size_t)n, &k, &why), BT_EINVAL);
	n = bt_mse_keylog_format(line, sizeof line, "a:1", "b:2", v_s, SKEY);
	T_EQ_INT(bt_mse_keylog_parse(line, (size_t)n - 2, &k, &why), BT_EINVAL);
	T_EQ_STR(why, "info-hash is not 40 hex digits");
	memcpy(line + n - 1, " x\n", 3);
	T_EQ_INT(bt_mse_keylog_parse(line, (size_t)n + 2, &k, &why), BT_EINVAL);
	/* No NUL needed: parse exactly len bytes, guarded. */
	n = bt_mse_keylog_format(line, sizeof line, "a:1", "b:2", v_s, SKEY);
	T_EQ_INT(bt_mse_keylog_parse((const char *)t_guarded(line, (size_t)n),
				     (size_t)n, &k, NULL), BT_OK);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Not a pass/fail test: the figures for the report, as '#' lines. */
static void test_measure(void)
{
	enum { ROUNDS = 200 };
	struct bt_mse_cfg ca, cb;
	static struct bt_mse a, b;
	double t0, t_init = 0, t_secret = 0, t_keys = 0;
	const uint8_t *p;
	size_t n;

	for (int i = 0; i < ROUNDS; i++) {
		cfg_a(&ca, 0, 0, 0, NULL);
		cfg_b(&cb, 0, false, 0, 0, NULL);
		ca.priv = cb.priv = NULL;
		t0 = now_s();
		T_EQ_INT(bt_mse_init(&a, &ca), BT_OK);     /* Xa, Ya = 2^Xa mod P */
		t_init += now_s() - t0;
		T_EQ_INT(bt_mse_init(&b, &cb), BT_OK);
		p = bt_mse_pending(&a, &n);
		t0 = now_s();
		T_EQ_INT(bt_mse_feed(&b, p, n), (long)n);  /* S = Ya^Xb mod P */
		t_secret += now_s() - t0;
		p = bt_mse_pending(&b, &n);
		t0 = now_s();
		T_EQ_INT(bt_mse_feed(&a, p, n), (long)n);  /* S, both RC4 keys, msg 3 */
		t_keys += now_s() - t0;
		bt_mse_free(&a);
		bt_mse_free(&b);
	}
	printf("# DH: key pair %.3f ms, shared secret %.3f ms, secret + RC4 keys + "
	       "message 3 %.3f ms (mean of %d)\n", t_init * 1e3 / ROUNDS,
	       t_secret * 1e3 / ROUNDS, t_keys * 1e3 / ROUNDS, ROUNDS);

	/* RC4 throughput through the public API, 64 KiB chunks. */
	cfg_a(&ca, BT_MSE_CRYPTO_RC4, 0, 0, NULL);
	cfg_b(&cb, 0, false, 0, 0, NULL);
	struct xfer x;
	T_CHECK(exchange(&ca, &cb, &x));
	T_EQ_INT(bt_mse_init(&a, &ca), BT_OK);
	T_EQ_INT(drive(&a, x.ba.d, x.ba_hs, NULL, NULL), (long)x.ba_hs);
	T_CHECK(bt_mse_done(&a));
	static uint8_t chunk[65536];
	size_t total = 256u << 20;
	t0 = now_s();
	for (size_t done = 0; done < total; done += sizeof chunk)
		bt_mse_encrypt(&a, chunk, sizeof chunk);
	double dt = now_s() - t0;
	printf("# RC4: %.0f MB/s (%zu MiB in %.3f s, 64 KiB chunks)\n",
	       (double)total / 1e6 / dt, total >> 20, dt);
	bt_mse_free(&a);
}

/* Run by test_mse.py with OPENSSL_MODULES pointing nowhere: RC4 is
 * missing, init says so clearly, and the rest of OpenSSL still works. */
static void test_no_rc4(void)
{
	const char *why = NULL;
	struct bt_mse_cfg c;
	struct bt_mse m;
	uint8_t h[20];

	T_EQ_INT(bt_mse_rc4_available(&why), BT_EUNSUPP);
	T_CHECK(why && strstr(why, "legacy provider"));
	cfg_a(&c, 0, 0, 0, NULL);
	T_EQ_INT(bt_mse_init(&m, &c), BT_EUNSUPP);
	T_EQ_INT(m.err, BT_MSE_ERR_NO_RC4);
	T_CHECK(m.why && strstr(m.why, "RC4"));
	printf("# without the legacy provider: %s\n", m.why);
	bt_mse_free(&m);
	tsha1(h, "req2", SKEY, 20, NULL, 0);        /* SHA-1 still there */
	bt_mse_req2(SKEY, (uint8_t *)&c);
	T_EQ_MEM(h, 20, (uint8_t *)&c, 20);
}

int main(void)
{
	if (getenv("BTKIT_MSE_EXPECT_NO_RC4")) {
		T_RUN(test_no_rc4);
		return T_DONE();
	}
	payloads();
	T_RUN(test_rc4_available);
	T_RUN(test_prime);
	T_RUN(test_known_vectors);
	T_RUN(test_rc4_every_split);
	T_RUN(test_pad512_every_split);
	T_RUN(test_pad0);
	T_RUN(test_random_keys);
	T_RUN(test_plaintext);
	T_RUN(test_no_common_method);
	T_RUN(test_wrong_infohash);
	T_RUN(test_no_sync);
	T_RUN(test_plain_handshake);
	T_RUN(test_bad_dh_key);
	T_RUN(test_hostile_fields);
	T_RUN(test_passive);
	T_RUN(test_passive_wait_and_errors);
	T_RUN(test_config_errors);
	T_RUN(test_keylog);
	T_RUN(test_measure);
	return T_DONE();
}
