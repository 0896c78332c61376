/* test_sniff.c — what a stream's bytes are (sniff.h): exact answers, cut
 * inputs undecided until final, every read inside (p, n). */
#include <stdarg.h>

#include "t.h"
#include "rd.h"
#include "sniff.h"
#include "wire.h"

static size_t hs(uint8_t *b, uint8_t tag)
{
	uint8_t ih[20], id[20], rs[8] = { 0, 0, 0, 0, 0, 0x10, 0, 0x04 };

	memset(ih, 0xab, 20);
	memset(id, 'A' + tag, 20);
	memcpy(id, "-LT2080-", 8);
	bt_handshake_encode(b, rs, ih, id);
	return BT_HS_LEN;
}

/* Messages appended to a buffer. */
static size_t msgs(uint8_t *b, size_t cap, const char *spec, ...)
{
	struct bt_wr w;
	va_list ap;

	bt_wr_init(&w, b, cap);
	va_start(ap, spec);
	for (const char *c = spec; *c; c++) {
		switch (*c) {
		case 'k': bt_msg_put_keepalive(&w); break;
		case 'u': bt_msg_put_simple(&w, BT_MSG_UNCHOKE); break;
		case 'c': bt_msg_put_simple(&w, BT_MSG_CHOKE); break;
		case 'i': bt_msg_put_simple(&w, BT_MSG_INTERESTED); break;
		case 'A': bt_msg_put_simple(&w, BT_MSG_HAVE_ALL); break;
		case 'h': bt_msg_put_have(&w, va_arg(ap, uint32_t)); break;
		case 'r': {
			uint32_t i = va_arg(ap, uint32_t), o = va_arg(ap, uint32_t);
			bt_msg_put_request(&w, i, o, 16384);
			break;
		}
		case 'p': {
			static uint8_t blk[16384];
			uint32_t i = va_arg(ap, uint32_t), o = va_arg(ap, uint32_t);
			memset(blk, (int)(i * 7 + o), sizeof blk);
			bt_msg_put_piece(&w, i, o, blk, sizeof blk);
			break;
		}
		case 'b': {
			uint8_t bits[2] = { 0xff, 0xc0 };
			bt_msg_put_bitfield(&w, bits, 2);
			break;
		}
		}
	}
	va_end(ap);
	if (!bt_wr_ok(&w))
		abort();
	return w.len;
}

static void test_sniff(void)
{
	uint8_t b[80];
	static const uint8_t after[] = "BitTorrent protocol\x13";

	hs(b, 0);
	T_EQ_INT(bt_sniff_peer(b, 68, false), 1);
	T_EQ_INT(bt_sniff_peer(b, 20, false), 1);
	T_EQ_INT(bt_sniff_peer(b, 10, false), BT_NEED_MORE);
	T_EQ_INT(bt_sniff_peer(b, 10, true), 1);     /* cut short: still it */
	T_EQ_INT(bt_sniff_peer(b, 0, false), BT_NEED_MORE);
	T_EQ_INT(bt_sniff_peer(b, 0, true), 0);
	b[12] = 'P';                                 /* "Protocol" */
	T_EQ_INT(bt_sniff_peer(b, 68, false), 1);
	T_EQ_INT(bt_sniff_peer(after, 20, false), 1); /* length after string */
	T_EQ_INT(bt_sniff_peer((const uint8_t *)"SSH-2.0-OpenSSH_9.2p1 Debian", 28, false), 0);
	T_EQ_INT(bt_sniff_peer((const uint8_t *)"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, false), 0);
	T_EQ_INT(bt_sniff_peer((const uint8_t *)"\x13" "BitTorrent", 11, false), BT_NEED_MORE);
	T_EQ_INT(bt_sniff_peer((const uint8_t *)"\x13" "BitTorrenX", 11, false), BT_NEED_MORE);
	T_EQ_INT(bt_sniff_peer((const uint8_t *)"\x13" "BitTorrenX protocol........", 28, false), 0);
	{
		const uint8_t *g = t_guarded(b, 68);
		T_EQ_INT(bt_sniff_peer(g, 68, true), 1);
	}
}

static void test_boundary(void)
{
	uint8_t b[1000], junk[40];
	size_t n, und = 99;
	long r;

	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(0x91 + i * 37);
	memcpy(b, junk, 23);
	n = 23 + msgs(b + 23, sizeof b - 23, "uihhr", 5u, 6u, 1u, 0u);
	r = bt_sniff_boundary(b, n, 0, 0, 0, false, &und);
	T_EQ_INT(r, 23);
	/* a cut-off chain: undecided at the first candidate, not invalid */
	r = bt_sniff_boundary(b, 23 + 7, 0, 0, 0, false, &und);
	T_EQ_INT(r, BT_NEED_MORE);
	T_EQ_UINT(und, 23);
	/* the same with no more bytes to come: nothing trusted */
	r = bt_sniff_boundary(b, 23 + 7, 0, 0, 0, true, &und);
	T_EQ_INT(r, BT_EINVAL);
	/* two messages that end the stream exactly are enough when final */
	r = bt_sniff_boundary(b, 23 + 10, 0, 0, 0, true, &und);
	T_EQ_INT(r, 23);
	/* keep-alives alone never make a boundary (zero-filled data) */
	memset(b, 0, 200);
	r = bt_sniff_boundary(b, 200, 0, 0, 0, true, &und);
	T_EQ_INT(r, BT_EINVAL);
	/* min 2 (-d) */
	n = msgs(b, sizeof b, "ih", 3u);
	T_EQ_INT(bt_sniff_boundary(b, n + 3, 0, 2, 0, false, &und), 0);
	/* a length over the cap is no boundary */
	memcpy(b, "\x00\x10\x00\x00\x07", 5);
	T_EQ_INT(bt_sniff_boundary(b, 5, 0, 0, 0, true, &und), BT_EINVAL);
	/* hostile: every prefix of a guarded buffer */
	n = msgs(b, sizeof b, "uhrb", 9u, 1u, 0u);
	for (size_t k = 0; k <= n; k++) {
		const uint8_t *g = t_guarded(b, k);
		(void)bt_sniff_boundary(g, k, 0, 0, 0, false, &und);
		(void)bt_sniff_boundary(g, k, 0, 0, 0, true, &und);
	}
}

static void test_msg(void)
{
	uint8_t b[64];
	size_t sz = 0;

	/* each id's rule, and its size */
	T_EQ_INT(bt_sniff_msg(b, msgs(b, sizeof b, "u"), 0, &sz), 1);
	T_EQ_UINT(sz, 5);
	T_EQ_INT(bt_sniff_msg(b, msgs(b, sizeof b, "h", 7u), 0, &sz), 1);
	T_EQ_UINT(sz, 9);
	T_EQ_INT(bt_sniff_msg(b, msgs(b, sizeof b, "r", 1u, 16384u), 0, &sz), 1);
	T_EQ_UINT(sz, 17);
	T_EQ_INT(bt_sniff_msg(b, msgs(b, sizeof b, "k"), 0, &sz), 2);
	T_EQ_UINT(sz, 4);
	/* cut off before the fields it checks: undecided */
	T_EQ_INT(bt_sniff_msg(b, 3, 0, &sz), BT_NEED_MORE);
	msgs(b, sizeof b, "r", 1u, 0u);
	T_EQ_INT(bt_sniff_msg(b, 16, 0, &sz), BT_NEED_MORE);
	/* wrong length for the id; an id without a rule; a length over the cap */
	memcpy(b, "\x00\x00\x00\x02\x01\x00", 6);
	T_EQ_INT(bt_sniff_msg(b, 6, 0, &sz), 0);
	memcpy(b, "\x00\x00\x00\x01\x0b", 5);
	T_EQ_INT(bt_sniff_msg(b, 5, 0, &sz), 0);
	memcpy(b, "\x00\x00\x40\x0d\x07", 5);
	T_EQ_INT(bt_sniff_msg(b, 5, 16384, &sz), 0);
	/* a block length of 0 or over 128 KiB is no request */
	msgs(b, sizeof b, "r", 1u, 0u);
	memcpy(b + 13, "\x00\x00\x00\x00", 4);
	T_EQ_INT(bt_sniff_msg(b, 17, (1u << 17) + 9, &sz), 0);
	memcpy(b + 13, "\x00\x02\x00\x01", 4);
	T_EQ_INT(bt_sniff_msg(b, 17, (1u << 17) + 9, &sz), 0);
}

static void test_handshake_dh_http_tls(void)
{
	uint8_t b[200], key[96];
	uint32_t x = 12345;

	memset(b, 'x', sizeof b);
	hs(b + 50, 0);
	T_EQ_INT(bt_sniff_handshake(b, sizeof b, 0), 50);
	T_EQ_INT(bt_sniff_handshake(b, sizeof b, 51), -1);
	T_EQ_INT(bt_sniff_handshake(b, 69, 0), -1);   /* cut inside the string */
	T_EQ_INT(bt_sniff_handshake(b, 70, 0), 50);
	T_EQ_INT(bt_sniff_handshake(b, 10, 20), -1);  /* from past the end */
	/* a DH key: pseudo-random bytes; not text, zeros or messages */
	for (size_t i = 0; i < sizeof key; i++) {
		x = x * 1103515245u + 12345u;
		key[i] = (uint8_t)(x >> 16);
	}
	T_CHECK(bt_sniff_dh_key(key, sizeof key));
	{
		static const char text[] = "GET /announce?info_hash=%AB%CD%EF"
			"&peer_id=-LT2080-abcdefghijkl&port=6881&uploaded=0&downloaded=0";

		T_CHECK(sizeof text - 1 >= 96);
		T_CHECK(!bt_sniff_dh_key(t_guarded(text, 96), 96));
	}
	memset(key, 0, sizeof key);
	T_CHECK(!bt_sniff_dh_key(key, sizeof key));
	T_CHECK(!bt_sniff_dh_key(b, msgs(b, sizeof b, "uihhhhhhhhh", 1u, 2u, 3u, 4u,
					  5u, 6u, 7u, 8u, 9u)));
	/* HTTP starts, prefixes undecided */
	T_EQ_INT(bt_sniff_http((const uint8_t *)"GET /a", 6), BT_SNIFF_HTTP_REQ);
	T_EQ_INT(bt_sniff_http((const uint8_t *)"POST ", 5), BT_SNIFF_HTTP_REQ);
	T_EQ_INT(bt_sniff_http((const uint8_t *)"HEAD /", 6), BT_SNIFF_HTTP_REQ);
	T_EQ_INT(bt_sniff_http((const uint8_t *)"HTTP/1.1 200", 12), BT_SNIFF_HTTP_RESP);
	T_EQ_INT(bt_sniff_http((const uint8_t *)"HE", 2), BT_NEED_MORE);
	T_EQ_INT(bt_sniff_http((const uint8_t *)"HTTP/2", 6), 0);
	T_EQ_INT(bt_sniff_http((const uint8_t *)"get /", 5), 0);
	T_EQ_INT(bt_sniff_http(t_guarded("G", 1), 1), BT_NEED_MORE);
	T_EQ_INT(bt_sniff_http(t_guarded("", 0), 0), BT_NEED_MORE);
	/* TLS: a handshake record of version 3.0 to 3.4 */
	T_CHECK(bt_sniff_tls((const uint8_t *)"\x16\x03\x01\x02\x00", 5));
	T_CHECK(!bt_sniff_tls((const uint8_t *)"\x16\x03\x05", 3));
	T_CHECK(!bt_sniff_tls(t_guarded("\x16\x03", 2), 2));
}

int main(void)
{
	T_RUN(test_sniff);
	T_RUN(test_boundary);
	T_RUN(test_msg);
	T_RUN(test_handshake_dh_http_tls);
	return T_DONE();
}
