/* mse.c — MSE/PE handshake state machine and stream cipher.  See mse.h. */
#include "mse.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "rd.h"

/* Parser states of one direction.  A->B: Y, SYNC (req1), SKEY, VC, PAD2
 * (PadC), LENIA, DONE.  B->A: Y, SYNC (encrypted VC), SELECT, PAD2 (PadD),
 * DONE. */
enum { ST_Y = 0, ST_SYNC, ST_SKEY, ST_VC, ST_PAD2, ST_LENIA, ST_SELECT,
       ST_DONE };

const uint8_t bt_mse_prime[BT_MSE_KEY_LEN] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xc9, 0x0f, 0xda, 0xa2, 0x21, 0x68, 0xc2, 0x34,
	0xc4, 0xc6, 0x62, 0x8b, 0x80, 0xdc, 0x1c, 0xd1,
	0x29, 0x02, 0x4e, 0x08, 0x8a, 0x67, 0xcc, 0x74,
	0x02, 0x0b, 0xbe, 0xa6, 0x3b, 0x13, 0x9b, 0x22,
	0x51, 0x4a, 0x08, 0x79, 0x8e, 0x34, 0x04, 0xdd,
	0xef, 0x95, 0x19, 0xb3, 0xcd, 0x3a, 0x43, 0x1b,
	0x30, 0x2b, 0x0a, 0x6d, 0xf2, 0x5f, 0x14, 0x37,
	0x4f, 0xe1, 0x35, 0x6d, 0x6d, 0x51, 0xc2, 0x45,
	0xe4, 0x85, 0xb5, 0x76, 0x62, 0x5e, 0x7e, 0xc6,
	0xf4, 0x4c, 0x42, 0xe9, 0xa6, 0x3a, 0x36, 0x21,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x05, 0x63,
};

static const uint8_t bt_pstr_prefix[20] = {
	19, 'B', 'i', 't', 'T', 'o', 'r', 'r', 'e', 'n', 't', ' ',
	'p', 'r', 'o', 't', 'o', 'c', 'o', 'l',
};

const char *bt_mse_errname(enum bt_mse_err e)
{
	switch (e) {
	case BT_MSE_ERR_NONE:      return "no error";
	case BT_MSE_ERR_NO_RC4:    return "RC4 unavailable (OpenSSL legacy provider)";
	case BT_MSE_ERR_LIB:       return "OpenSSL failure";
	case BT_MSE_ERR_CONFIG:    return "bad configuration";
	case BT_MSE_ERR_STATE:     return "call out of order";
	case BT_MSE_ERR_PLAIN_HS:  return "plain BitTorrent handshake, not MSE";
	case BT_MSE_ERR_DH_KEY:    return "bad Diffie-Hellman public key";
	case BT_MSE_ERR_NO_SYNC:   return "no sync within window";
	case BT_MSE_ERR_SKEY:      return "unknown info-hash";
	case BT_MSE_ERR_VC:        return "bad verification constant";
	case BT_MSE_ERR_NO_METHOD: return "no common crypto method";
	case BT_MSE_ERR_SELECT:    return "bad crypto_select";
	case BT_MSE_ERR_PAD_LEN:   return "padding length over 512";
	}
	return "unknown MSE error";
}

const char *bt_mse_step_name(enum bt_mse_step s)
{
	switch (s) {
	case BT_MSE_STEP_SENT_Y:   return "sent-y";
	case BT_MSE_STEP_GOT_Y:    return "got-y";
	case BT_MSE_STEP_SELECTED: return "selected";
	case BT_MSE_STEP_FAILED:   return "failed";
	case BT_MSE_STEP_TIMEOUT:  return "timeout";
	case BT_MSE_STEP_REFUSED:  return "refused";
	case BT_MSE_STEP_FALLBACK: return "fallback";
	case BT_MSE_STEP_PROBE:    return "probe";
	}
	return "?";
}

/* ---- OpenSSL: the one process-wide state -------------------------------
 *
 * RC4 is only in OpenSSL 3's legacy provider.  Loading it into the default
 * library context stops OpenSSL from loading "default" implicitly, so both
 * are loaded explicitly (curl's TLS and our SHA-1 keep working).  Done
 * once per process under pthread_once; afterwards these are read-only.
 * The providers stay loaded until OpenSSL's own exit-time cleanup. */
static pthread_once_t rc4_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *rc4_cipher;
static const char *rc4_why = "RC4 not loaded";

static void rc4_load(void)
{
	if (!OSSL_PROVIDER_load(NULL, "default")) {
		rc4_why = "OpenSSL: cannot load the default provider";
		ERR_clear_error();
		return;
	}
	if (!OSSL_PROVIDER_load(NULL, "legacy")) {
		rc4_why = "OpenSSL legacy provider not found: RC4 (needed by "
			  "MSE) is unavailable; install it or set OPENSSL_MODULES";
		ERR_clear_error();
		return;
	}
	rc4_cipher = EVP_CIPHER_fetch(NULL, "RC4", NULL);
	if (!rc4_cipher) {
		rc4_why = "OpenSSL: legacy provider loaded but RC4 not fetchable";
		ERR_clear_error();
		return;
	}
	rc4_why = NULL;
}

int bt_mse_rc4_available(const char **why)
{
	pthread_once(&rc4_once, rc4_load);
	if (why)
		*why = rc4_why;
	return rc4_cipher ? BT_OK : BT_EUNSUPP;
}

/* XOR len bytes of buf with the keystream, in place. */
static bool rc4_xor(void *ctx, uint8_t *buf, size_t len)
{
	while (len) {
		int n = len > (1u << 30) ? 1 << 30 : (int)len, outl = 0;

		if (EVP_EncryptUpdate(ctx, buf, &outl, buf, n) != 1 || outl != n)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* An RC4 stream keyed with a 20-byte key, first 1024 bytes dropped. */
static void *rc4_new(const uint8_t key[20])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t drop[BT_MSE_RC4_DROP];

	if (!c)
		return NULL;
	memset(drop, 0, sizeof drop);
	if (EVP_EncryptInit_ex(c, rc4_cipher, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_key_length(c, 20) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, key, NULL) != 1 ||
	    !rc4_xor(c, drop, sizeof drop)) {
		EVP_CIPHER_CTX_free(c);
		ERR_clear_error();
		return NULL;
	}
	return c;
}

/* SHA-1 of up to three parts. */
static bool sha1(uint8_t out[20], const void *a, size_t alen, const void *b,
		 size_t blen, const void *c, size_t clen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned olen = 0;
	bool ok = md && EVP_DigestInit_ex(md, EVP_sha1(), NULL) == 1 &&
		  EVP_DigestUpdate(md, a, alen) == 1 &&
		  (!blen || EVP_DigestUpdate(md, b, blen) == 1) &&
		  (!clen || EVP_DigestUpdate(md, c, clen) == 1) &&
		  EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 20;

	EVP_MD_CTX_free(md);
	if (!ok)
		ERR_clear_error();
	return ok;
}

void bt_mse_req2(const uint8_t skey[20], uint8_t req2[20])
{
	if (!sha1(req2, "req2", 4, skey, 20, NULL, 0))
		memset(req2, 0, 20);
}

bool bt_mse_skeys_find(void *arg, const uint8_t req2[20], uint8_t skey[20])
{
	const struct bt_mse_skeys *l = arg;
	uint8_t h[20];

	for (size_t i = 0; l && i < l->n; i++) {
		if (!sha1(h, "req2", 4, l->hashes[i], 20, NULL, 0))
			return false;
		if (memcmp(h, req2, 20) == 0) {
			memcpy(skey, l->hashes[i], 20);
			return true;
		}
	}
	return false;
}

/* ---- Diffie-Hellman ------------------------------------------------------ */

/* out = base^x mod P (base NULL: 2), 96 bytes.  BT_MSE_ERR_NONE, _DH_KEY
 * (base outside 2..P-2) or _LIB. */
static enum bt_mse_err dh(const uint8_t *x, size_t xlen, const uint8_t *base,
			  uint8_t out[BT_MSE_KEY_LEN])
{
	enum bt_mse_err e = BT_MSE_ERR_LIB;
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *p = BN_bin2bn(bt_mse_prime, BT_MSE_KEY_LEN, NULL);
	BIGNUM *g = base ? BN_bin2bn(base, BT_MSE_KEY_LEN, NULL) : BN_new();
	BIGNUM *k = BN_secure_new();
	BIGNUM *r = BN_new();
	BIGNUM *pm2 = BN_new();

	if (!ctx || !p || !g || !k || !r || !pm2)
		goto out;
	if (!base && !BN_set_word(g, 2))
		goto out;
	if (!BN_bin2bn(x, (int)xlen, k))
		goto out;
	BN_set_flags(k, BN_FLG_CONSTTIME);
	/* A peer's Y must be in [2, P-2]: 0, 1 and P-1 give a secret the
	 * peer knows without our key; >= P is not a residue at all. */
	if (!BN_copy(pm2, p) || !BN_sub_word(pm2, 2))
		goto out;
	if (BN_cmp(g, BN_value_one()) <= 0 || BN_cmp(g, pm2) > 0) {
		e = BT_MSE_ERR_DH_KEY;
		goto out;
	}
	if (!BN_mod_exp_mont_consttime(r, g, k, p, ctx, NULL))
		goto out;
	if (BN_bn2binpad(r, out, BT_MSE_KEY_LEN) != BT_MSE_KEY_LEN)
		goto out;
	e = BT_MSE_ERR_NONE;
out:
	BN_free(pm2);
	BN_free(r);
	BN_clear_free(k);
	BN_free(g);
	BN_free(p);
	BN_CTX_free(ctx);
	if (e == BT_MSE_ERR_LIB)
		ERR_clear_error();
	return e;
}

/* ---- helpers ------------------------------------------------------------- */

static int fail(struct bt_mse *m, int rc, enum bt_mse_err e, const char *why,
		enum bt_mse_dir dir, uint64_t off)
{
	if (!m->err) {
		m->err = e;
		m->rc = rc;
		m->why = why;
		m->err_dir = dir;
		m->err_off = off;
	}
	return m->rc;
}

static int fail_lib(struct bt_mse *m, enum bt_mse_dir dir, const char *why)
{
	return fail(m, BT_ENOSPC, BT_MSE_ERR_LIB, why, dir, m->d[dir].off);
}

/* Room for n more bytes in out (compacting); the sizes make it always fit
 * for the messages we build, but check rather than trust. */
static uint8_t *out_room(struct bt_mse *m, size_t n)
{
	if (m->out_off) {
		memmove(m->out, m->out + m->out_off, m->out_len - m->out_off);
		m->out_len -= m->out_off;
		m->out_off = 0;
	}
	if (sizeof m->out - m->out_len < n)
		return NULL;
	uint8_t *p = m->out + m->out_len;
	m->out_len += n;
	return p;
}

static bool rand_bytes(uint8_t *p, size_t n)
{
	if (!n)
		return true;
	if (RAND_bytes(p, (int)n) != 1) {
		ERR_clear_error();
		return false;
	}
	return true;
}

/* Our Y followed by our pad (messages 1 and 2). */
static int queue_y(struct bt_mse *m, enum bt_mse_dir dir)
{
	uint8_t *p = out_room(m, BT_MSE_KEY_LEN + (size_t)m->pad_len);

	if (!p)
		return fail_lib(m, dir, "send queue full");
	memcpy(p, m->pub, BT_MSE_KEY_LEN);
	memcpy(p + BT_MSE_KEY_LEN, m->pad, (size_t)m->pad_len);
	return BT_OK;
}

/* S from the peer's Y just received in d[dir].buf; then req1. */
static int derive_secret(struct bt_mse *m, enum bt_mse_dir dir)
{
	struct bt_mse_stream *s = &m->d[dir];
	enum bt_mse_err e;

	memcpy(m->peer_pub, s->buf, BT_MSE_KEY_LEN);
	e = dh(m->priv, m->priv_len, m->peer_pub, m->secret);
	if (e == BT_MSE_ERR_DH_KEY)
		return fail(m, BT_EINVAL, e, dir == BT_MSE_A2B ?
			    "Ya is not in [2, P-2]" : "Yb is not in [2, P-2]",
			    dir, s->off - BT_MSE_KEY_LEN);
	if (e)
		return fail_lib(m, dir, "Diffie-Hellman failed");
	OPENSSL_cleanse(m->priv, sizeof m->priv);   /* no longer needed */
	m->have_secret = true;
	if (!sha1(m->req1, "req1", 4, m->secret, BT_MSE_KEY_LEN, NULL, 0))
		return fail_lib(m, dir, "SHA-1 failed");
	return BT_OK;
}

/* Both RC4 streams from S and SKEY; keyB's first 8 bytes become enc_vc
 * (so d[B2A].rc4 then stands right after the VC, for both B's sending and
 * anyone's receiving). */
static int derive_keys(struct bt_mse *m, enum bt_mse_dir dir)
{
	uint8_t ka[20], kb[20];
	bool ok = sha1(ka, "keyA", 4, m->secret, BT_MSE_KEY_LEN, m->skey, 20) &&
		  sha1(kb, "keyB", 4, m->secret, BT_MSE_KEY_LEN, m->skey, 20);

	if (ok) {
		m->d[BT_MSE_A2B].rc4 = rc4_new(ka);
		m->d[BT_MSE_B2A].rc4 = rc4_new(kb);
		ok = m->d[BT_MSE_A2B].rc4 && m->d[BT_MSE_B2A].rc4;
	}
	OPENSSL_cleanse(ka, sizeof ka);
	OPENSSL_cleanse(kb, sizeof kb);
	memset(m->enc_vc, 0, sizeof m->enc_vc);
	if (!ok || !rc4_xor(m->d[BT_MSE_B2A].rc4, m->enc_vc, BT_MSE_VC_LEN))
		return fail_lib(m, dir, "RC4 setup failed");
	m->keyed = true;
	return BT_OK;
}

/* Initiator, after Yb: message 3. */
static int queue_msg3(struct bt_mse *m)
{
	size_t enc_len = BT_MSE_VC_LEN + 4 + 2 + (size_t)m->pad2_len + 2 + m->ia_len_out;
	uint8_t *p = out_room(m, 40 + enc_len), h3[20], *e;

	if (!p)
		return fail_lib(m, BT_MSE_B2A, "send queue full");
	memcpy(p, m->req1, 20);
	bt_mse_req2(m->skey, p + 20);
	if (!sha1(h3, "req3", 4, m->secret, BT_MSE_KEY_LEN, NULL, 0))
		return fail_lib(m, BT_MSE_B2A, "SHA-1 failed");
	for (int i = 0; i < 20; i++)
		p[20 + i] ^= h3[i];
	e = p + 40;
	memset(e, 0, enc_len);                       /* VC, PadC */
	bt_store_u32be(e + 8, m->provide);
	e[12] = (uint8_t)(m->pad2_len >> 8);
	e[13] = (uint8_t)m->pad2_len;
	e[14 + m->pad2_len] = (uint8_t)(m->ia_len_out >> 8);
	e[15 + m->pad2_len] = (uint8_t)m->ia_len_out;
	if (m->ia_len_out)
		memcpy(e + 16 + m->pad2_len, m->ia, m->ia_len_out);
	if (!rc4_xor(m->d[BT_MSE_A2B].rc4, e, enc_len))
		return fail_lib(m, BT_MSE_B2A, "RC4 failed");
	m->ia_len = (uint32_t)m->ia_len_out;
	return BT_OK;
}

/* Receiver, after len(IA): pick a method and queue message 4. */
static int queue_msg4(struct bt_mse *m)
{
	size_t enc_len = 4 + 2 + (size_t)m->pad2_len;
	uint8_t *p = out_room(m, BT_MSE_VC_LEN + enc_len), *e;

	if (!p)
		return fail_lib(m, BT_MSE_A2B, "send queue full");
	memcpy(p, m->enc_vc, BT_MSE_VC_LEN);
	e = p + BT_MSE_VC_LEN;
	memset(e, 0, enc_len);
	bt_store_u32be(e, m->select);
	e[4] = (uint8_t)(m->pad2_len >> 8);
	e[5] = (uint8_t)m->pad2_len;
	if (!rc4_xor(m->d[BT_MSE_B2A].rc4, e, enc_len))
		return fail_lib(m, BT_MSE_A2B, "RC4 failed");
	return BT_OK;
}

/* Copy into s->buf until it holds n bytes.  True when it does. */
static bool gather(struct bt_mse_stream *s, size_t n, const uint8_t *in,
		   size_t len, size_t *used)
{
	size_t take = n - s->have;

	if (take > len - *used)
		take = len - *used;
	if (take)
		memcpy(s->buf + s->have, in + *used, take);
	s->have += take;
	*used += take;
	s->off += take;
	return s->have == n;
}

/* ---- the parser of one direction ---------------------------------------- */

static long stream_feed(struct bt_mse *m, enum bt_mse_dir dir,
			const uint8_t *in, size_t len)
{
	struct bt_mse_stream *s = &m->d[dir];
	bool a2b = dir == BT_MSE_A2B;
	size_t used = 0;
	int rc;

	if (m->err)
		return m->rc;
	if (!in)
		len = 0;
	while (s->st != ST_DONE) {
		switch (s->st) {
		case ST_Y: {
			bool whole = gather(s, BT_MSE_KEY_LEN, in, len, &used);

			/* A plain handshake is 68 bytes and its sender then
			 * waits: recognise it from its first 20 bytes. */
			if (s->have >= sizeof bt_pstr_prefix &&
			    memcmp(s->buf, bt_pstr_prefix, sizeof bt_pstr_prefix) == 0)
				return fail(m, BT_EINVAL, BT_MSE_ERR_PLAIN_HS,
					    a2b ? "the initiator sent a plain BitTorrent handshake"
						: "the receiver answered with a plain BitTorrent handshake",
					    dir, 0);
			if (!whole)
				return (long)used;
			if (m->role == BT_MSE_RECEIVER) {        /* Ya */
				if ((rc = derive_secret(m, dir)) ||
				    (rc = queue_y(m, dir)))
					return rc;
			} else if (m->role == BT_MSE_INITIATOR) { /* Yb */
				if ((rc = derive_secret(m, dir)) ||
				    (rc = derive_keys(m, dir)) ||
				    (rc = queue_msg3(m)))
					return rc;
			}
			s->have = 0;
			s->st = ST_SYNC;
			break;
		}
		case ST_SYNC: {
			const uint8_t *pat = a2b ? m->req1 : m->enc_vc;
			size_t plen = a2b ? 20 : BT_MSE_VC_LEN;
			size_t win = a2b ? BT_MSE_SYNC_REQ1 : BT_MSE_SYNC_VC;
			bool found = false;

			if (!a2b && !m->keyed)   /* passive: SKEY not known yet */
				return (long)used;
			/* Byte by byte: the marker may end anywhere in the
			 * window and no byte after it may be consumed. */
			while (used < len) {
				s->buf[s->have++] = in[used++];
				s->off++;
				if (s->have >= plen &&
				    memcmp(s->buf + s->have - plen, pat, plen) == 0) {
					found = true;
					break;
				}
				if (s->have == win)
					return fail(m, BT_EINVAL, BT_MSE_ERR_NO_SYNC, a2b ?
						    "HASH('req1', S) not within 532 bytes after Ya" :
						    "encrypted VC not within 520 bytes after Yb",
						    dir, s->off);
			}
			if (!found)
				return (long)used;
			s->pad = (int)(s->have - plen);
			m->peer_pad = s->pad;
			s->have = 0;
			s->st = a2b ? ST_SKEY : ST_SELECT;
			break;
		}
		case ST_SKEY: {          /* A->B: HASH('req2', SKEY) ^ HASH('req3', S) */
			uint8_t h3[20], req2[20];

			if (!gather(s, 20, in, len, &used))
				return (long)used;
			if (!sha1(h3, "req3", 4, m->secret, BT_MSE_KEY_LEN, NULL, 0))
				return fail_lib(m, dir, "SHA-1 failed");
			for (int i = 0; i < 20; i++)
				req2[i] = s->buf[i] ^ h3[i];
			if (m->have_skey) {
				uint8_t want[20];

				bt_mse_req2(m->skey, want);
				if (memcmp(want, req2, 20) != 0)
					return fail(m, BT_EINVAL, BT_MSE_ERR_SKEY,
						    "HASH('req2', SKEY) is not that of the given info-hash",
						    dir, s->off - 20);
			} else {
				if (!m->find_skey || !m->find_skey(m->skey_arg, req2, m->skey))
					return fail(m, BT_EINVAL, BT_MSE_ERR_SKEY,
						    "HASH('req2', SKEY) matches no known info-hash",
						    dir, s->off - 20);
				m->have_skey = true;
			}
			if (!m->keyed && (rc = derive_keys(m, dir)))
				return rc;
			s->have = 0;
			s->st = ST_VC;
			break;
		}
		case ST_VC: {            /* A->B: VC, crypto_provide, len(PadC) */
			static const uint8_t zero[BT_MSE_VC_LEN];
			uint16_t padc;

			if (!gather(s, 14, in, len, &used))
				return (long)used;
			if (!rc4_xor(s->rc4, s->buf, 14))
				return fail_lib(m, dir, "RC4 failed");
			if (memcmp(s->buf, zero, BT_MSE_VC_LEN) != 0)
				return fail(m, BT_EINVAL, BT_MSE_ERR_VC,
					    "VC does not decrypt to 8 zero bytes",
					    dir, s->off - 14);
			m->provide = bt_load_u32be(s->buf + 8);
			padc = bt_load_u16be(s->buf + 12);
			m->peer_pad2 = s->pad2 = padc;
			if (padc > BT_MSE_PAD_MAX)
				return fail(m, BT_ETOOBIG, BT_MSE_ERR_PAD_LEN,
					    "len(PadC) over 512", dir, s->off - 2);
			if (m->role == BT_MSE_RECEIVER) {
				uint32_t both = m->provide & m->crypto;

				if (!(both & (BT_MSE_CRYPTO_PLAIN | BT_MSE_CRYPTO_RC4)))
					return fail(m, BT_EUNSUPP, BT_MSE_ERR_NO_METHOD,
						    "crypto_provide offers no method we allow",
						    dir, s->off - 6);
				if ((both & BT_MSE_CRYPTO_PLAIN) &&
				    (m->prefer_plain || !(both & BT_MSE_CRYPTO_RC4)))
					m->select = BT_MSE_CRYPTO_PLAIN;
				else
					m->select = BT_MSE_CRYPTO_RC4;
			}
			s->have = 0;
			s->skip = padc;
			s->st = ST_PAD2;
			break;
		}
		case ST_PAD2: {          /* PadC / PadD: decrypt to advance */
			while (s->skip && used < len) {
				size_t n = s->skip < len - used ? s->skip : len - used;

				if (n > sizeof s->buf)
					n = sizeof s->buf;
				memcpy(s->buf, in + used, n);
				if (!rc4_xor(s->rc4, s->buf, n))
					return fail_lib(m, dir, "RC4 failed");
				used += n;
				s->off += n;
				s->skip -= n;
			}
			if (s->skip)
				return (long)used;
			if (a2b) {
				s->st = ST_LENIA;
				break;
			}
			s->st = ST_DONE;  /* B->A: handshake over */
			break;
		}
		case ST_LENIA: {         /* A->B: len(IA); then the IA is payload */
			if (!gather(s, 2, in, len, &used))
				return (long)used;
			if (!rc4_xor(s->rc4, s->buf, 2))
				return fail_lib(m, dir, "RC4 failed");
			m->ia_len = bt_load_u16be(s->buf);
			s->rc4_left = m->ia_len;
			s->have = 0;
			if (m->role == BT_MSE_RECEIVER) {
				if ((rc = queue_msg4(m)))
					return rc;
				m->d[BT_MSE_A2B].method = m->select;
				m->d[BT_MSE_B2A].method = m->select;
			} else if (m->select) {  /* passive, select seen first */
				s->method = m->select;
			}
			s->st = ST_DONE;
			break;
		}
		case ST_SELECT: {        /* B->A: crypto_select, len(PadD) */
			uint32_t sel;
			uint16_t padd;

			if (!gather(s, 6, in, len, &used))
				return (long)used;
			if (!rc4_xor(s->rc4, s->buf, 6))
				return fail_lib(m, dir, "RC4 failed");
			sel = bt_load_u32be(s->buf);
			padd = bt_load_u16be(s->buf + 4);
			m->peer_pad2 = s->pad2 = padd;
			if ((sel != BT_MSE_CRYPTO_PLAIN && sel != BT_MSE_CRYPTO_RC4) ||
			    (m->provide && !(sel & m->provide)))
				return fail(m, BT_EINVAL, BT_MSE_ERR_SELECT,
					    "crypto_select is not exactly one method that was offered",
					    dir, s->off - 6);
			if (padd > BT_MSE_PAD_MAX)
				return fail(m, BT_ETOOBIG, BT_MSE_ERR_PAD_LEN,
					    "len(PadD) over 512", dir, s->off - 2);
			m->select = sel;
			m->d[BT_MSE_B2A].method = sel;
			if (m->role == BT_MSE_INITIATOR ||
			    m->d[BT_MSE_A2B].st == ST_DONE)
				m->d[BT_MSE_A2B].method = sel;
			s->have = 0;
			s->skip = padd;
			s->st = ST_PAD2;
			break;
		}
		default:
			return fail(m, BT_EINVAL, BT_MSE_ERR_STATE, "bad state", dir, s->off);
		}
	}
	return (long)used;
}

/* Payload of direction dir, in place; returns bytes handled. */
static long stream_crypt(struct bt_mse *m, enum bt_mse_dir dir, uint8_t *buf,
			 size_t len)
{
	struct bt_mse_stream *s = &m->d[dir];
	size_t n = 0;

	if (s->st != ST_DONE)
		return BT_EINVAL;
	if (s->rc4_left) {
		n = s->rc4_left < len ? s->rc4_left : len;
		if (!rc4_xor(s->rc4, buf, n))
			return BT_ENOSPC;
		s->rc4_left -= (uint32_t)n;
	}
	if (n == len || !s->method)
		return (long)n;
	if (s->method == BT_MSE_CRYPTO_RC4 && !rc4_xor(s->rc4, buf + n, len - n))
		return BT_ENOSPC;
	return (long)len;
}

/* ---- public -------------------------------------------------------------- */

int bt_mse_init(struct bt_mse *m, const struct bt_mse_cfg *cfg)
{
	const uint8_t *pad = cfg ? cfg->pad : NULL;
	uint8_t r[2];
	const char *why;
	int rc;

	memset(m, 0, sizeof *m);
	m->peer_pad = m->peer_pad2 = -1;
	for (int i = 0; i < 2; i++)
		m->d[i].pad = m->d[i].pad2 = -1;
	if (!cfg)
		return fail(m, BT_EINVAL, BT_MSE_ERR_CONFIG, "no configuration", 0, 0);
	if (bt_mse_rc4_available(&why) != BT_OK)
		return fail(m, BT_EUNSUPP, BT_MSE_ERR_NO_RC4, why, 0, 0);
	m->role = cfg->role;
	m->crypto = cfg->crypto ? cfg->crypto : BT_MSE_CRYPTO_PLAIN | BT_MSE_CRYPTO_RC4;
	m->prefer_plain = cfg->prefer_plain;
	m->find_skey = cfg->find_skey;
	m->skey_arg = cfg->skey_arg;
	if (cfg->skey) {
		memcpy(m->skey, cfg->skey, 20);
		m->have_skey = true;
	}

	if (m->role == BT_MSE_PASSIVE) {
		if (!cfg->secret || (!cfg->skey && !cfg->find_skey))
			return fail(m, BT_EINVAL, BT_MSE_ERR_CONFIG,
				    "passive decoder needs S and an info-hash or a lookup", 0, 0);
		memcpy(m->secret, cfg->secret, BT_MSE_KEY_LEN);
		m->have_secret = true;
		if (!sha1(m->req1, "req1", 4, m->secret, BT_MSE_KEY_LEN, NULL, 0))
			return fail_lib(m, 0, "SHA-1 failed");
		if (m->have_skey && (rc = derive_keys(m, 0)))
			return rc;
		return BT_OK;
	}
	if (m->role != BT_MSE_INITIATOR && m->role != BT_MSE_RECEIVER)
		return fail(m, BT_EINVAL, BT_MSE_ERR_CONFIG, "unknown role", 0, 0);
	if (m->role == BT_MSE_INITIATOR && !cfg->skey)
		return fail(m, BT_EINVAL, BT_MSE_ERR_CONFIG, "initiator needs the info-hash", 0, 0);
	if (m->role == BT_MSE_RECEIVER && !cfg->find_skey)
		return fail(m, BT_EINVAL, BT_MSE_ERR_CONFIG, "receiver needs an info-hash lookup", 0, 0);
	if (!(m->crypto & (BT_MSE_CRYPTO_PLAIN | BT_MSE_CRYPTO_RC4)))
		return fail(m, BT_EINVAL, BT_MSE_ERR_CONFIG, "no crypto method enabled", 0, 0);
	if (cfg->pad_len < BT_MSE_PAD_RANDOM || cfg->pad_len > BT_MSE_PAD_MAX ||
	    cfg->pad2_len < 0 || cfg->pad2_len > BT_MSE_PAD_MAX ||
	    (cfg->pad_len == BT_MSE_PAD_RANDOM && pad))
		return fail(m, BT_EINVAL, BT_MSE_ERR_CONFIG, "pad length not in 0..512", 0, 0);
	if (cfg->ia_len > BT_MSE_IA_MAX || (cfg->ia_len && !cfg->ia))
		return fail(m, BT_EINVAL, BT_MSE_ERR_CONFIG, "IA longer than BT_MSE_IA_MAX", 0, 0);
	if (cfg->priv && (cfg->priv_len < 1 || cfg->priv_len > BT_MSE_KEY_LEN))
		return fail(m, BT_EINVAL, BT_MSE_ERR_CONFIG, "private key not 1..96 bytes", 0, 0);

	if (m->role == BT_MSE_INITIATOR) {
		m->provide = m->crypto;
		m->ia_len_out = cfg->ia_len;
		if (cfg->ia_len)
			memcpy(m->ia, cfg->ia, cfg->ia_len);
	}
	m->pad2_len = cfg->pad2_len;
	m->pad_len = cfg->pad_len;
	if (m->pad_len == BT_MSE_PAD_RANDOM) {
		if (!rand_bytes(r, 2))
			return fail_lib(m, 0, "RAND_bytes failed");
		m->pad_len = (int)(bt_load_u16be(r) % (BT_MSE_PAD_MAX + 1));
	}
	if (cfg->priv) {
		memcpy(m->priv, cfg->priv, cfg->priv_len);
		m->priv_len = cfg->priv_len;
	} else {
		m->priv_len = BT_MSE_PRIV_LEN;
		if (!rand_bytes(m->priv, m->priv_len))
			return fail_lib(m, 0, "RAND_bytes failed");
	}
	if (pad)
		memcpy(m->pad, pad, (size_t)m->pad_len);
	else if (!rand_bytes(m->pad, (size_t)m->pad_len))
		return fail_lib(m, 0, "RAND_bytes failed");
	if (dh(m->priv, m->priv_len, NULL, m->pub))
		return fail_lib(m, 0, "Diffie-Hellman failed");
	/* The initiator speaks first; the receiver sends Yb once Ya is in. */
	if (m->role == BT_MSE_INITIATOR)
		return queue_y(m, BT_MSE_A2B);
	return BT_OK;
}

void bt_mse_free(struct bt_mse *m)
{
	for (int i = 0; i < 2; i++) {
		EVP_CIPHER_CTX_free(m->d[i].rc4);
		m->d[i].rc4 = NULL;
	}
	OPENSSL_cleanse(m->priv, sizeof m->priv);
	OPENSSL_cleanse(m->secret, sizeof m->secret);
}

long bt_mse_feed(struct bt_mse *m, const uint8_t *buf, size_t len)
{
	if (m->err)
		return m->rc;
	if (m->role == BT_MSE_INITIATOR)
		return stream_feed(m, BT_MSE_B2A, buf, len);
	if (m->role == BT_MSE_RECEIVER)
		return stream_feed(m, BT_MSE_A2B, buf, len);
	return fail(m, BT_EINVAL, BT_MSE_ERR_STATE,
		    "bt_mse_feed on a passive decoder", 0, 0);
}

bool bt_mse_done(const struct bt_mse *m)
{
	if (m->err)
		return false;
	if (m->role == BT_MSE_INITIATOR)
		return m->d[BT_MSE_B2A].st == ST_DONE;
	if (m->role == BT_MSE_RECEIVER)
		return m->d[BT_MSE_A2B].st == ST_DONE;
	return false;
}

const uint8_t *bt_mse_pending(const struct bt_mse *m, size_t *len)
{
	*len = m->out_len - m->out_off;
	return m->out + m->out_off;
}

void bt_mse_sent(struct bt_mse *m, size_t n)
{
	size_t left = m->out_len - m->out_off;

	m->out_off += n < left ? n : left;
	if (m->out_off == m->out_len)
		m->out_off = m->out_len = 0;
}

int bt_mse_encrypt(struct bt_mse *m, uint8_t *buf, size_t len)
{
	struct bt_mse_stream *s;

	if (!bt_mse_done(m))
		return BT_EINVAL;
	s = &m->d[m->role == BT_MSE_INITIATOR ? BT_MSE_A2B : BT_MSE_B2A];
	if (s->method == BT_MSE_CRYPTO_RC4 && !rc4_xor(s->rc4, buf, len))
		return BT_ENOSPC;
	return BT_OK;
}

int bt_mse_decrypt(struct bt_mse *m, uint8_t *buf, size_t len)
{
	long n;

	if (!bt_mse_done(m))
		return BT_EINVAL;
	n = stream_crypt(m, m->role == BT_MSE_INITIATOR ? BT_MSE_B2A : BT_MSE_A2B,
			 buf, len);
	return n < 0 ? (int)n : BT_OK;
}

const uint8_t *bt_mse_secret(const struct bt_mse *m)
{
	return m->have_secret ? m->secret : NULL;
}

long bt_mse_passive_feed(struct bt_mse *m, enum bt_mse_dir dir,
			 const uint8_t *buf, size_t len)
{
	if (m->err)
		return m->rc;
	if (m->role != BT_MSE_PASSIVE || (dir != BT_MSE_A2B && dir != BT_MSE_B2A))
		return fail(m, BT_EINVAL, BT_MSE_ERR_STATE,
			    "bt_mse_passive_feed needs a passive decoder and a direction", 0, 0);
	return stream_feed(m, dir, buf, len);
}

bool bt_mse_passive_done(const struct bt_mse *m, enum bt_mse_dir dir)
{
	return !m->err && m->role == BT_MSE_PASSIVE &&
	       (dir == BT_MSE_A2B || dir == BT_MSE_B2A) && m->d[dir].st == ST_DONE;
}

long bt_mse_passive_decrypt(struct bt_mse *m, enum bt_mse_dir dir,
			    uint8_t *buf, size_t len)
{
	if (m->role != BT_MSE_PASSIVE || (dir != BT_MSE_A2B && dir != BT_MSE_B2A))
		return BT_EINVAL;
	return stream_crypt(m, dir, buf, len);
}

/* ---- key log ------------------------------------------------------------- */

static bool addr_ok(const char *a, size_t n)
{
	if (n == 0 || n > BT_MSE_KEYLOG_ADDR_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] <= 0x20 || (unsigned char)a[i] >= 0x7f)
			return false;
	return true;
}

static void hex(char *dst, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[p[i] >> 4];
		dst[2 * i + 1] = digits[p[i] & 15];
	}
}

int bt_mse_keylog_format(char *dst, size_t cap, const char *client,
			 const char *server, const uint8_t secret[BT_MSE_KEY_LEN],
			 const uint8_t *skey)
{
	size_t cl = client ? strnlen(client, BT_MSE_KEYLOG_ADDR_MAX + 1) : 0;
	size_t sl = server ? strnlen(server, BT_MSE_KEYLOG_ADDR_MAX + 1) : 0;
	size_t need = 4 + cl + 1 + sl + 1 + 2 * BT_MSE_KEY_LEN + (skey ? 41 : 0) + 1;
	char *p = dst;

	if (!addr_ok(client, cl) || !addr_ok(server, sl) || !secret)
		return BT_EINVAL;
	if (cap < need + 1)
		return BT_ENOSPC;
	memcpy(p, "mse ", 4);
	p += 4;
	memcpy(p, client, cl);
	p += cl;
	*p++ = ' ';
	memcpy(p, server, sl);
	p += sl;
	*p++ = ' ';
	hex(p, secret, BT_MSE_KEY_LEN);
	p += 2 * BT_MSE_KEY_LEN;
	if (skey) {
		*p++ = ' ';
		hex(p, skey, 20);
		p += 40;
	}
	*p++ = '\n';
	*p = '\0';
	return (int)(p - dst);
}

static int unhex1(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool unhex(uint8_t *out, const char *s, size_t slen, size_t n)
{
	if (slen != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = unhex1(s[2 * i]), lo = unhex1(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

int bt_mse_keylog_parse(const char *line, size_t len, struct bt_mse_keylog *k,
			const char **why)
{
	const char *tok[6];
	size_t tlen[6], nt = 0, i = 0;
	const char *dummy;

	if (!why)
		why = &dummy;
	*why = NULL;
	memset(k, 0, sizeof *k);
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (nt == 6) {
			*why = "too many fields";
			return BT_EINVAL;
		}
		tok[nt] = line + i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		tlen[nt] = (size_t)(line + i - tok[nt]);
		nt++;
	}
	if (nt == 0 || tok[0][0] == '#')
		return BT_EUNSUPP;
	if (tlen[0] != 3 || memcmp(tok[0], BT_MSE_KEYLOG_TAG, 3) != 0)
		return BT_EUNSUPP;
	if (nt < 4 || nt > 5) {
		*why = "expected: mse <client> <server> <S hex> [<info-hash hex>]";
		return BT_EINVAL;
	}
	if (!addr_ok(tok[1], tlen[1]) || !addr_ok(tok[2], tlen[2])) {
		*why = "bad address field";
		return BT_EINVAL;
	}
	if (!unhex(k->secret, tok[3], tlen[3], BT_MSE_KEY_LEN)) {
		*why = "S is not 192 hex digits";
		return BT_EINVAL;
	}
	if (nt == 5) {
		if (!unhex(k->skey, tok[4], tlen[4], 20)) {
			*why = "info-hash is not 40 hex digits";
			return BT_EINVAL;
		}
		k->has_skey = true;
	}
	k->client = tok[1];
	k->client_len = tlen[1];
	k->server = tok[2];
	k->server_len = tlen[2];
	return BT_OK;
}
