/* test_wire.c — handshake, messages, framer (wire.h).
 * Expected bytes are written out by hand from BEP 3, 5, 6, 10 and 52. */
#include "t.h"
#include "wire.h"

#define INFO_HASH \
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, \
	0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13
#define PEER_ID \
	'-', 'B', 'K', '0', '0', '0', '1', '-', 'a', 'b', \
	'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'
#define PSTR19 \
	'B', 'i', 't', 'T', 'o', 'r', 'r', 'e', 'n', 't', ' ', \
	'p', 'r', 'o', 't', 'o', 'c', 'o', 'l'

static const uint8_t info_hash[20] = { INFO_HASH };
static const uint8_t peer_id[20] = { PEER_ID };

/* extension (reserved[5] 0x10), fast (0x04) and dht (0x01) set. */
static const uint8_t hs_bytes[68] = {
	19, PSTR19,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05,
	INFO_HASH,
	PEER_ID,
};

/* ---- messages, by hand ---- */
static const uint8_t m_keepalive[] = { 0, 0, 0, 0 };
static const uint8_t m_choke[] = { 0, 0, 0, 1, 0 };
static const uint8_t m_unchoke[] = { 0, 0, 0, 1, 1 };
static const uint8_t m_interested[] = { 0, 0, 0, 1, 2 };
static const uint8_t m_not_interested[] = { 0, 0, 0, 1, 3 };
static const uint8_t m_have[] = { 0, 0, 0, 5, 4, 0x00, 0x00, 0x04, 0xd2 };
static const uint8_t m_bitfield[] = { 0, 0, 0, 3, 5, 0xff, 0x80 };
static const uint8_t m_request[] = { 0, 0, 0, 13, 6, 0, 0, 0, 1,
	0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x40, 0x00 };
static const uint8_t m_piece[] = { 0, 0, 0, 12, 7, 0, 0, 0, 1,
	0x00, 0x00, 0x40, 0x00, 'a', 'b', 'c' };
static const uint8_t m_cancel[] = { 0, 0, 0, 13, 8, 0, 0, 0, 1,
	0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x40, 0x00 };
static const uint8_t m_port[] = { 0, 0, 0, 3, 9, 0x1a, 0xe1 };
static const uint8_t m_suggest[] = { 0, 0, 0, 5, 13, 0, 0, 0, 7 };
static const uint8_t m_have_all[] = { 0, 0, 0, 1, 14 };
static const uint8_t m_have_none[] = { 0, 0, 0, 1, 15 };
static const uint8_t m_reject[] = { 0, 0, 0, 13, 16, 0, 0, 0, 2,
	0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x20, 0x00 };
static const uint8_t m_allowed_fast[] = { 0, 0, 0, 5, 17, 1, 2, 3, 4 };
static const uint8_t m_extended[] = { 0, 0, 0, 13, 20, 0,
	'd', '1', ':', 'p', 'i', '6', '8', '8', '1', 'e', 'e' };
#define ROOT \
	0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, \
	0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, \
	0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, \
	0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf
/* base layer 0, index 512, length 512, proof layers 3 */
#define HREQ ROOT, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 3
#define TWO_HASHES \
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, \
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, \
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, \
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, \
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, \
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, \
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, \
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22
static const uint8_t m_hash_request[] = { 0, 0, 0, 49, 21, HREQ };
static const uint8_t m_hashes[] = { 0, 0, 0, 113, 22, HREQ, TWO_HASHES };
static const uint8_t m_hash_reject[] = { 0, 0, 0, 49, 23, HREQ };
static const uint8_t two_hashes[64] = { TWO_HASHES };

static const struct bt_hash_req hreq = {
	{ ROOT }, 0, 512, 512, 3,
};

static uint8_t fbuf[BT_FRAMER_BUF_LEN(BT_FRAMER_DEFAULT_MAX)];

#define GUARD(a) t_guarded((a), sizeof(a))

/* ---- handshake ---- */

static void test_handshake_encode(void)
{
	uint8_t out[68], rsv[8] = { 0 };
	bt_reserved_set(rsv, BT_RSV_EXTENSION);
	bt_reserved_set(rsv, BT_RSV_FAST);
	bt_reserved_set(rsv, BT_RSV_DHT);
	memset(out, 0xee, sizeof out);
	bt_handshake_encode(out, rsv, info_hash, peer_id);
	T_EQ_MEM(out, 68, hs_bytes, 68);

	static const uint8_t plain[68] = { 19, PSTR19, 0, 0, 0, 0, 0, 0, 0, 0,
					   INFO_HASH, PEER_ID };
	bt_handshake_encode(out, NULL, info_hash, peer_id);
	T_EQ_MEM(out, 68, plain, 68);
}

static void test_handshake_parse(void)
{
	struct bt_handshake hs;
	const uint8_t *g = GUARD(hs_bytes);

	T_EQ_INT(bt_handshake_parse(g, 68, &hs), 68);
	T_EQ_UINT(hs.problems, 0);
	T_EQ_UINT(hs.pstrlen, 19);
	T_CHECK(hs.pstr == g + 1);
	T_EQ_MEM(hs.pstr, hs.pstrlen, "BitTorrent protocol", 19);
	T_EQ_MEM(hs.reserved, 8, hs_bytes + 20, 8);
	T_EQ_MEM(hs.info_hash, 20, info_hash, 20);
	T_EQ_MEM(hs.peer_id, 20, peer_id, 20);
	T_CHECK(bt_reserved_has(hs.reserved, BT_RSV_EXTENSION));

	/* Every proper prefix, flush against the guard page. */
	for (size_t n = 0; n < 68; n++) {
		const uint8_t *p = t_guarded(hs_bytes, n);
		T_EQ_INT(bt_handshake_parse(p, n, &hs), BT_NEED_MORE);
	}

	/* What follows the handshake is not its business. */
	uint8_t more[72];
	memcpy(more, hs_bytes, 68);
	memcpy(more + 68, m_keepalive, 4);
	T_EQ_INT(bt_handshake_parse(more, sizeof more, &hs), 68);
	T_EQ_UINT(hs.problems, 0);
}

static void test_handshake_capital_p(void)
{
	uint8_t b[68];
	struct bt_handshake hs;
	memcpy(b, hs_bytes, 68);
	b[12] = 'P';             /* "BitTorrent Protocol" */
	T_EQ_INT(bt_handshake_parse(t_guarded(b, 68), 68, &hs), 68);
	T_EQ_UINT(hs.problems, BT_HS_BAD_PSTR | BT_HS_PSTR_CASE);
	T_EQ_MEM(hs.info_hash, 20, info_hash, 20);

	static const uint8_t lower[20] = { 19, 'b', 'i', 't', 't', 'o', 'r',
		'r', 'e', 'n', 't', ' ', 'p', 'r', 'o', 't', 'o', 'c', 'o', 'l' };
	memcpy(b, lower, 20);
	T_EQ_INT(bt_handshake_parse(b, 68, &hs), 68);
	T_EQ_UINT(hs.problems, BT_HS_BAD_PSTR | BT_HS_PSTR_CASE);

	memcpy(b, hs_bytes, 68);
	b[11] = '_';             /* "BitTorrent_protocol": wrong, not case */
	T_EQ_INT(bt_handshake_parse(b, 68, &hs), 68);
	T_EQ_UINT(hs.problems, BT_HS_BAD_PSTR);
}

static void test_handshake_pstrlen(void)
{
	struct bt_handshake hs;
	/* 18: "BitTorrent protoco" then the 48 fixed bytes. */
	static const uint8_t s18[67] = { 18, 'B', 'i', 't', 'T', 'o', 'r', 'r',
		'e', 'n', 't', ' ', 'p', 'r', 'o', 't', 'o', 'c', 'o',
		0, 0, 0, 0, 0, 0, 0, 0, INFO_HASH, PEER_ID };
	T_EQ_INT(bt_handshake_parse(GUARD(s18), 67, &hs), 67);
	T_EQ_UINT(hs.problems, BT_HS_BAD_PSTRLEN | BT_HS_BAD_PSTR);
	T_EQ_UINT(hs.pstrlen, 18);
	T_EQ_MEM(hs.info_hash, 20, info_hash, 20);
	T_EQ_MEM(hs.peer_id, 20, peer_id, 20);
	T_EQ_INT(bt_handshake_parse(GUARD(s18), 66, &hs), BT_NEED_MORE);

	/* 20: "BitTorrent protocol " */
	static const uint8_t s20[69] = { 20, PSTR19, ' ',
		0, 0, 0, 0, 0, 0, 0, 0, INFO_HASH, PEER_ID };
	T_EQ_INT(bt_handshake_parse(GUARD(s20), 69, &hs), 69);
	T_EQ_UINT(hs.problems, BT_HS_BAD_PSTRLEN | BT_HS_BAD_PSTR);
	T_EQ_MEM(hs.peer_id, 20, peer_id, 20);
	T_EQ_INT(bt_handshake_parse(GUARD(s20), 68, &hs), BT_NEED_MORE);

	/* 0: refused at once, from one byte. */
	static const uint8_t s0[1] = { 0 };
	T_EQ_INT(bt_handshake_parse(GUARD(s0), 1, &hs), BT_EINVAL);
	T_EQ_UINT(hs.problems, BT_HS_BAD_PSTRLEN | BT_HS_BAD_PSTR);
	T_CHECK(hs.pstr == NULL);
	T_EQ_INT(bt_handshake_parse(m_have, sizeof m_have, &hs), BT_EINVAL);

	/* 255: parsed, flagged. */
	static uint8_t s255[304];
	memset(s255, 'x', sizeof s255);
	s255[0] = 255;
	T_EQ_INT(bt_handshake_parse(GUARD(s255), 304, &hs), 304);
	T_EQ_UINT(hs.problems, BT_HS_BAD_PSTRLEN | BT_HS_BAD_PSTR);
	T_EQ_INT(bt_handshake_parse(GUARD(s255), 303, &hs), BT_NEED_MORE);

	/* A 6-byte peer id: 54 bytes, a handshake that never completes. */
	T_EQ_INT(bt_handshake_parse(t_guarded(hs_bytes, 54), 54, &hs),
		 BT_NEED_MORE);
}

static void test_reserved(void)
{
	char s[64];
	const uint8_t all4[8] = { 0, 0, 0, 0, 0, 0x10, 0, 0x15 };
	T_CHECK(bt_reserved_has(all4, BT_RSV_EXTENSION));
	T_CHECK(bt_reserved_has(all4, BT_RSV_FAST));
	T_CHECK(bt_reserved_has(all4, BT_RSV_DHT));
	T_CHECK(bt_reserved_has(all4, BT_RSV_V2));
	T_CHECK(!bt_reserved_has(all4, 1));
	T_CHECK(!bt_reserved_has(all4, 64));
	T_EQ_UINT(bt_reserved_unknown(all4), 0);
	T_EQ_STR(bt_reserved_str(all4, s, sizeof s), "extension,v2,fast,dht");
	int want[] = { 0, 2, 4, 20 }, k = 0;
	for (int b = bt_reserved_next(all4, 0); b >= 0; b = bt_reserved_next(all4, b + 1)) {
		T_CHECK(k < 4);
		if (k < 4)
			T_EQ_INT(b, want[k]);
		k++;
	}
	T_EQ_INT(k, 4);

	T_EQ_STR(bt_reserved_name(BT_RSV_EXTENSION), "extension");
	T_EQ_STR(bt_reserved_name(BT_RSV_FAST), "fast");
	T_EQ_STR(bt_reserved_name(BT_RSV_DHT), "dht");
	T_EQ_STR(bt_reserved_name(BT_RSV_V2), "v2");
	T_CHECK(bt_reserved_name(3) == NULL);
	T_CHECK(bt_reserved_name(99) == NULL);

	/* bit 63 (reserved[0] 0x80) and bit 3 (reserved[7] 0x08) unknown. */
	const uint8_t odd[8] = { 0x80, 0, 0, 0, 0, 0x10, 0, 0x0d };
	T_EQ_UINT(bt_reserved_unknown(odd), (1ull << 63) | (1ull << 3));
	T_EQ_STR(bt_reserved_str(odd, s, sizeof s), "bit 63,extension,bit 3,fast,dht");
	T_EQ_INT(bt_reserved_next(odd, 21), 63);
	T_EQ_INT(bt_reserved_next(odd, 64), -1);
	T_EQ_STR(bt_reserved_str(odd, s, 10), "bit 63...");
	s[0] = 'z';
	bt_reserved_str(odd, s, 1);
	T_EQ_STR(s, "");

	const uint8_t zero[8] = { 0 };
	T_EQ_STR(bt_reserved_str(zero, s, sizeof s), "none");
	T_EQ_INT(bt_reserved_next(zero, 0), -1);

	uint8_t r[8] = { 0 };
	bt_reserved_set(r, BT_RSV_V2);
	bt_reserved_set(r, 63);
	bt_reserved_set(r, 64);  /* ignored */
	const uint8_t rr[8] = { 0x80, 0, 0, 0, 0, 0, 0, 0x10 };
	T_EQ_MEM(r, 8, rr, 8);
}

/* ---- messages ---- */

static void test_msg_names(void)
{
	static const struct { int id; const char *name; } want[] = {
		{ -1, "keep-alive" }, { 0, "choke" }, { 1, "unchoke" },
		{ 2, "interested" }, { 3, "not interested" }, { 4, "have" },
		{ 5, "bitfield" }, { 6, "request" }, { 7, "piece" },
		{ 8, "cancel" }, { 9, "port" }, { 13, "suggest piece" },
		{ 14, "have all" }, { 15, "have none" },
		{ 16, "reject request" }, { 17, "allowed fast" },
		{ 20, "extended" }, { 21, "hash request" }, { 22, "hashes" },
		{ 23, "hash reject" },
		{ 10, "unknown" }, { 18, "unknown" }, { 24, "unknown" },
		{ 255, "unknown" }, { -2, "unknown" },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		T_EQ_STR(bt_msg_name(want[i].id), want[i].name);
	size_t n = 0;
	while (bt_msg_names[n].name)
		n++;
	T_EQ_UINT(n, 20);
}

#define ENC(expr, want) do { \
	uint8_t b_[256]; struct bt_wr w_; \
	memset(b_, 0xee, sizeof b_); \
	bt_wr_init(&w_, b_, sizeof b_); \
	T_EQ_INT((expr), BT_OK); \
	T_EQ_MEM(b_, w_.len, (want), sizeof(want)); \
} while (0)
#define W (&w_)

static void test_msg_encode(void)
{
	static const uint8_t data[3] = { 'a', 'b', 'c' };
	static const uint8_t bits[2] = { 0xff, 0x80 };
	static const char *ext = "d1:pi6881ee";

	ENC(bt_msg_put_keepalive(W), m_keepalive);
	ENC(bt_msg_put_simple(W, BT_MSG_CHOKE), m_choke);
	ENC(bt_msg_put_simple(W, BT_MSG_UNCHOKE), m_unchoke);
	ENC(bt_msg_put_simple(W, BT_MSG_INTERESTED), m_interested);
	ENC(bt_msg_put_simple(W, BT_MSG_NOT_INTERESTED), m_not_interested);
	ENC(bt_msg_put_have(W, 1234), m_have);
	ENC(bt_msg_put_index(W, BT_MSG_HAVE, 1234), m_have);
	ENC(bt_msg_put_bitfield(W, bits, 2), m_bitfield);
	ENC(bt_msg_put_request(W, 1, 16384, 16384), m_request);
	ENC(bt_msg_put_piece(W, 1, 16384, data, 3), m_piece);
	ENC(bt_msg_put_cancel(W, 1, 16384, 16384), m_cancel);
	ENC(bt_msg_put_block(W, BT_MSG_CANCEL, 1, 16384, 16384), m_cancel);
	ENC(bt_msg_put_port(W, 6881), m_port);
	ENC(bt_msg_put_index(W, BT_MSG_SUGGEST, 7), m_suggest);
	ENC(bt_msg_put_simple(W, BT_MSG_HAVE_ALL), m_have_all);
	ENC(bt_msg_put_simple(W, BT_MSG_HAVE_NONE), m_have_none);
	ENC(bt_msg_put_reject(W, 2, 32768, 8192), m_reject);
	ENC(bt_msg_put_index(W, BT_MSG_ALLOWED_FAST, 0x01020304), m_allowed_fast);
	ENC(bt_msg_put_extended(W, 0, (const uint8_t *)ext, 11), m_extended);
	ENC(bt_msg_put_hash_req(W, BT_MSG_HASH_REQUEST, &hreq), m_hash_request);
	ENC(bt_msg_put_hashes(W, &hreq, two_hashes, 64), m_hashes);
	ENC(bt_msg_put_hash_req(W, BT_MSG_HASH_REJECT, &hreq), m_hash_reject);
}

static void test_msg_encode_limits(void)
{
	uint8_t b[8];
	struct bt_wr w;

	/* Too small a buffer: BT_ENOSPC, w.len is the size needed. */
	memset(b, 0xee, sizeof b);
	bt_wr_init(&w, b, 5);
	T_EQ_INT(bt_msg_put_request(&w, 1, 2, 3), BT_ENOSPC);
	T_EQ_UINT(w.len, 17);
	T_EQ_UINT(b[5], 0xee);

	/* A payload no 32-bit prefix can hold: refused, nothing written.
	 * The data pointer is never read. */
	if (sizeof(size_t) > 4) {
		bt_wr_init(&w, b, sizeof b);
		T_EQ_INT(bt_msg_put_bitfield(&w, b, (size_t)UINT32_MAX), BT_ETOOBIG);
		T_EQ_INT(bt_msg_put_piece(&w, 0, 0, b, (size_t)UINT32_MAX - 8), BT_ETOOBIG);
		T_EQ_INT(bt_msg_put_extended(&w, 1, b, (size_t)UINT32_MAX - 1), BT_ETOOBIG);
		T_EQ_INT(bt_msg_put_hashes(&w, &hreq, b, (size_t)UINT32_MAX - 48), BT_ETOOBIG);
		T_EQ_UINT(w.len, 0);
	}
}

static void parse_ok(const uint8_t *msg, size_t n, struct bt_msg *m, int kind)
{
	const uint8_t *g = t_guarded(msg, n);
	T_EQ_INT(bt_msg_parse(g, n, m), BT_OK);
	T_EQ_INT(m->kind, kind);
	T_EQ_UINT(m->len, n - 4);
	T_CHECK(m->bad == NULL);
	if (kind != BT_MSG_KEEPALIVE) {
		T_EQ_INT(m->id, msg[4]);
		T_CHECK(m->payload == g + 5);
		T_EQ_UINT(m->payload_len, n - 5);
	} else {
		T_EQ_INT(m->id, -1);
	}
	/* Every proper prefix is truncated, not malformed. */
	for (size_t k = 0; k < n; k++)
		T_EQ_INT(bt_msg_parse(t_guarded(msg, k), k, m), BT_NEED_MORE);
	bt_msg_parse(g, n, m);   /* leave m as the caller expects */
}
#define PARSE(a, kind) parse_ok((a), sizeof(a), &m, (kind))

static void test_msg_parse(void)
{
	struct bt_msg m;

	PARSE(m_keepalive, BT_MSG_KEEPALIVE);
	PARSE(m_choke, BT_MSG_CHOKE);
	PARSE(m_unchoke, BT_MSG_UNCHOKE);
	PARSE(m_interested, BT_MSG_INTERESTED);
	PARSE(m_not_interested, BT_MSG_NOT_INTERESTED);
	PARSE(m_have_all, BT_MSG_HAVE_ALL);
	PARSE(m_have_none, BT_MSG_HAVE_NONE);

	PARSE(m_have, BT_MSG_HAVE);
	T_EQ_UINT(m.u.index, 1234);
	PARSE(m_suggest, BT_MSG_SUGGEST);
	T_EQ_UINT(m.u.index, 7);
	PARSE(m_allowed_fast, BT_MSG_ALLOWED_FAST);
	T_EQ_UINT(m.u.index, 0x01020304);

	PARSE(m_bitfield, BT_MSG_BITFIELD);
	T_EQ_MEM(m.u.bitfield.bits, m.u.bitfield.len, "\xff\x80", 2);

	PARSE(m_request, BT_MSG_REQUEST);
	T_EQ_UINT(m.u.req.index, 1);
	T_EQ_UINT(m.u.req.begin, 16384);
	T_EQ_UINT(m.u.req.length, 16384);
	PARSE(m_cancel, BT_MSG_CANCEL);
	T_EQ_UINT(m.u.req.index, 1);
	T_EQ_UINT(m.u.req.length, 16384);
	PARSE(m_reject, BT_MSG_REJECT);
	T_EQ_UINT(m.u.req.index, 2);
	T_EQ_UINT(m.u.req.begin, 32768);
	T_EQ_UINT(m.u.req.length, 8192);

	PARSE(m_piece, BT_MSG_PIECE);
	T_EQ_UINT(m.u.piece.index, 1);
	T_EQ_UINT(m.u.piece.begin, 16384);
	T_EQ_MEM(m.u.piece.data, m.u.piece.len, "abc", 3);

	PARSE(m_port, BT_MSG_PORT);
	T_EQ_UINT(m.u.port, 6881);

	PARSE(m_extended, BT_MSG_EXTENDED);
	T_EQ_UINT(m.u.ext.id, 0);
	T_EQ_MEM(m.u.ext.payload, m.u.ext.len, "d1:pi6881ee", 11);

	PARSE(m_hash_request, BT_MSG_HASH_REQUEST);
	T_EQ_MEM(m.u.hash.pieces_root, 32, hreq.pieces_root, 32);
	T_EQ_UINT(m.u.hash.base_layer, 0);
	T_EQ_UINT(m.u.hash.index, 512);
	T_EQ_UINT(m.u.hash.length, 512);
	T_EQ_UINT(m.u.hash.proof_layers, 3);
	PARSE(m_hash_reject, BT_MSG_HASH_REJECT);
	T_EQ_UINT(m.u.hash.index, 512);
	T_EQ_UINT(m.u.hash.proof_layers, 3);

	PARSE(m_hashes, BT_MSG_HASHES);
	T_EQ_MEM(m.u.hashes.req.pieces_root, 32, hreq.pieces_root, 32);
	T_EQ_UINT(m.u.hashes.req.length, 512);
	T_EQ_UINT(m.u.hashes.req.proof_layers, 3);
	T_EQ_MEM(m.u.hashes.hashes, m.u.hashes.len, two_hashes, 64);

	/* Minimal variable-size payloads are fine. */
	static const uint8_t piece0[] = { 0, 0, 0, 9, 7, 0, 0, 0, 5, 0, 0, 0, 0 };
	PARSE(piece0, BT_MSG_PIECE);
	T_EQ_UINT(m.u.piece.index, 5);
	T_EQ_UINT(m.u.piece.len, 0);
	static const uint8_t ext1[] = { 0, 0, 0, 2, 20, 3 };
	PARSE(ext1, BT_MSG_EXTENDED);
	T_EQ_UINT(m.u.ext.id, 3);
	T_EQ_UINT(m.u.ext.len, 0);
	static const uint8_t hashes0[] = { 0, 0, 0, 49, 22, HREQ };
	PARSE(hashes0, BT_MSG_HASHES);
	T_EQ_UINT(m.u.hashes.len, 0);
}

/* A message with the given id and payload size (payload bytes 0x5a). */
static size_t mk(uint8_t *b, uint8_t id, size_t payload)
{
	bt_store_u32be(b, (uint32_t)(payload + 1));
	b[4] = id;
	memset(b + 5, 0x5a, payload);
	return payload + 5;
}

static void bad_size(uint8_t id, size_t payload, size_t expect)
{
	uint8_t b[128];
	struct bt_msg m;
	size_t n = mk(b, id, payload);
	T_EQ_INT(bt_msg_parse(t_guarded(b, n), n, &m), BT_EINVAL);
	T_EQ_INT(m.id, id);
	T_EQ_INT(m.kind, id);
	T_EQ_UINT(m.payload_len, payload);
	T_EQ_UINT(m.expect, expect);
	T_CHECK(m.bad != NULL);
	if (t_failed_now)
		printf("#   id %u, payload %zu\n", id, payload);
}

static void test_msg_bad_sizes(void)
{
	static const struct { uint8_t id; size_t size; } fixed[] = {
		{ BT_MSG_CHOKE, 0 }, { BT_MSG_UNCHOKE, 0 },
		{ BT_MSG_INTERESTED, 0 }, { BT_MSG_NOT_INTERESTED, 0 },
		{ BT_MSG_HAVE_ALL, 0 }, { BT_MSG_HAVE_NONE, 0 },
		{ BT_MSG_HAVE, 4 }, { BT_MSG_SUGGEST, 4 },
		{ BT_MSG_ALLOWED_FAST, 4 }, { BT_MSG_REQUEST, 12 },
		{ BT_MSG_CANCEL, 12 }, { BT_MSG_REJECT, 12 },
		{ BT_MSG_PORT, 2 }, { BT_MSG_HASH_REQUEST, 48 },
		{ BT_MSG_HASH_REJECT, 48 },
	};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if (fixed[i].size > 0)
			bad_size(fixed[i].id, fixed[i].size - 1, fixed[i].size);
		bad_size(fixed[i].id, fixed[i].size + 1, fixed[i].size);
		bad_size(fixed[i].id, fixed[i].size + 4, fixed[i].size);
	}
	/* Variable sizes below their minimum. */
	bad_size(BT_MSG_BITFIELD, 0, 1);
	for (size_t k = 0; k < 8; k++)
		bad_size(BT_MSG_PIECE, k, 8);
	bad_size(BT_MSG_EXTENDED, 0, 1);
	bad_size(BT_MSG_HASHES, 47, 48);
	bad_size(BT_MSG_HASHES, 0, 48);
	bad_size(BT_MSG_HASHES, 48 + 31, 48);
	bad_size(BT_MSG_HASHES, 48 + 33, 80);

	/* The printer's line: "malformed have (3 bytes, expected 4)". */
	uint8_t b[16];
	struct bt_msg m;
	char line[80];
	size_t n = mk(b, BT_MSG_HAVE, 3);
	T_EQ_INT(bt_msg_parse(b, n, &m), BT_EINVAL);
	snprintf(line, sizeof line, "malformed %s (%zu bytes, expected %zu)",
		 bt_msg_name(m.id), m.payload_len, m.expect);
	T_EQ_STR(line, "malformed have (3 bytes, expected 4)");

	/* Bytes after the message: not one whole message. */
	static const uint8_t trail[] = { 0, 0, 0, 1, 1, 0 };
	T_EQ_INT(bt_msg_parse(GUARD(trail), sizeof trail, &m), BT_EINVAL);
	T_CHECK(m.bad != NULL);
	static const uint8_t ka_trail[] = { 0, 0, 0, 0, 0 };
	T_EQ_INT(bt_msg_parse(GUARD(ka_trail), sizeof ka_trail, &m), BT_EINVAL);
	/* A prefix of 2^32-1 with 5 bytes: truncated (the framer caps it). */
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 7 };
	T_EQ_INT(bt_msg_parse(GUARD(huge), sizeof huge, &m), BT_NEED_MORE);
	T_EQ_UINT(m.len, 0xffffffffu);
}

static void test_msg_unknown(void)
{
	struct bt_msg m;
	static const uint8_t u42[] = { 0, 0, 0, 4, 42, 1, 2, 3 };
	T_EQ_INT(bt_msg_parse(GUARD(u42), sizeof u42, &m), BT_OK);
	T_EQ_INT(m.kind, BT_MSG_UNKNOWN);
	T_EQ_INT(m.id, 42);
	T_EQ_MEM(m.payload, m.payload_len, "\x01\x02\x03", 3);
	T_CHECK(m.bad == NULL);
	T_EQ_STR(bt_msg_name(m.id), "unknown");

	/* Ids between the known ones, and the largest; empty payload too. */
	static const uint8_t ids[] = { 10, 11, 12, 18, 19, 24, 255 };
	for (size_t i = 0; i < sizeof ids; i++) {
		uint8_t b[8];
		size_t n = mk(b, ids[i], 0);
		T_EQ_INT(bt_msg_parse(t_guarded(b, n), n, &m), BT_OK);
		T_EQ_INT(m.kind, BT_MSG_UNKNOWN);
		T_EQ_INT(m.id, ids[i]);
		T_EQ_UINT(m.payload_len, 0);
	}
}

/* ---- framer ---- */

/* The stream: handshake then 10 messages (keep-alives included). */
static const uint8_t *const stream_parts[] = {
	hs_bytes, m_bitfield, m_keepalive, m_unchoke, m_have, m_request,
	m_piece, m_port, m_extended, m_hashes, m_keepalive,
};
static const size_t stream_sizes[] = {
	sizeof hs_bytes, sizeof m_bitfield, sizeof m_keepalive,
	sizeof m_unchoke, sizeof m_have, sizeof m_request, sizeof m_piece,
	sizeof m_port, sizeof m_extended, sizeof m_hashes, sizeof m_keepalive,
};
#define NPARTS (sizeof stream_sizes / sizeof stream_sizes[0])

static uint8_t stream[1024];
static size_t stream_len, part_off[NPARTS];

static void build_stream(void)
{
	stream_len = 0;
	for (size_t i = 0; i < NPARTS; i++) {
		part_off[i] = stream_len;
		memcpy(stream + stream_len, stream_parts[i], stream_sizes[i]);
		stream_len += stream_sizes[i];
	}
}

/* Feeds one chunk until it is consumed, checking each frame against the
 * stream; *next is the index of the frame expected next.  Returns false
 * on any mismatch. */
static bool feed_chunk(struct bt_framer *f, const uint8_t *d, size_t n,
		       size_t *next)
{
	while (n > 0) {
		struct bt_frame fr;
		long c = bt_framer_feed(f, d, n, &fr);
		if (c < 0 || (size_t)c > n) {
			T_FAILF("feed returned %ld", c);
			return false;
		}
		d += c;
		n -= (size_t)c;
		if (fr.kind == BT_FRAME_NONE) {
			if (n != 0) {
				T_FAILF("NONE with %zu bytes left", n);
				return false;
			}
			break;
		}
		size_t i = (*next)++;
		if (i >= NPARTS) {
			T_FAILF("extra frame");
			return false;
		}
		int kind = i == 0 ? BT_FRAME_HANDSHAKE : BT_FRAME_MSG;
		if ((int)fr.kind != kind || fr.offset != part_off[i] ||
		    fr.len != stream_sizes[i] ||
		    memcmp(fr.p, stream_parts[i], fr.len) != 0) {
			T_FAILF("frame %zu: kind %d offset %llu len %zu", i,
				(int)fr.kind, (unsigned long long)fr.offset,
				fr.len);
			return false;
		}
		if (i == 0 && (fr.hs.problems != 0 ||
			       memcmp(fr.hs.peer_id, peer_id, 20) != 0)) {
			T_FAILF("handshake fields");
			return false;
		}
		if (i > 0) {
			struct bt_msg m;
			if (bt_msg_parse(fr.p, fr.len, &m) != BT_OK ||
			    fr.declared_len != m.len) {
				T_FAILF("frame %zu does not parse", i);
				return false;
			}
		}
	}
	return true;
}

static void framer_new(struct bt_framer *f)
{
	T_EQ_INT(bt_framer_init(f, fbuf, sizeof fbuf, 0, true), BT_OK);
}

static void test_framer_whole(void)
{
	struct bt_framer f;
	struct bt_frame fr;
	size_t next = 0;
	build_stream();
	framer_new(&f);
	const uint8_t *g = t_guarded(stream, stream_len);
	T_CHECK(feed_chunk(&f, g, stream_len, &next));
	T_EQ_UINT(next, NPARTS);
	T_EQ_UINT(f.offset, stream_len);
	T_EQ_UINT(bt_framer_partial(&f, NULL), 0);

	/* Zero-copy: a frame whole in the input points into it. */
	framer_new(&f);
	T_EQ_INT(bt_framer_feed(&f, g, stream_len, &fr), 68);
	T_EQ_INT(fr.kind, BT_FRAME_HANDSHAKE);
	T_CHECK(fr.p == g);
	T_CHECK(fr.hs.pstr == g + 1);
	T_EQ_INT(bt_framer_feed(&f, g + 68, stream_len - 68, &fr), sizeof m_bitfield);
	T_EQ_INT(fr.kind, BT_FRAME_MSG);
	T_CHECK(fr.p == g + 68);
	T_EQ_UINT(fr.declared_len, 3);
	T_EQ_UINT(fr.offset, 68);

	/* Empty feed: nothing happens. */
	T_EQ_INT(bt_framer_feed(&f, g, 0, &fr), 0);
	T_EQ_INT(fr.kind, BT_FRAME_NONE);
}

static void test_framer_every_split(void)
{
	build_stream();
	for (size_t k = 1; k < stream_len; k++) {
		struct bt_framer f;
		size_t next = 0;
		framer_new(&f);
		bool ok = feed_chunk(&f, t_guarded(stream, k), k, &next) &&
			  feed_chunk(&f, t_guarded(stream + k, stream_len - k),
				     stream_len - k, &next);
		if (!ok || next != NPARTS || f.offset != stream_len) {
			T_FAILF("split at %zu: %zu frames", k, next);
			return;
		}
	}
}

static void test_framer_every_two_splits(void)
{
	build_stream();
	for (size_t i = 1; i < stream_len; i++)
		for (size_t j = i; j < stream_len; j++) {
			struct bt_framer f;
			size_t next = 0;
			framer_new(&f);
			bool ok = feed_chunk(&f, stream, i, &next) &&
				  feed_chunk(&f, stream + i, j - i, &next) &&
				  feed_chunk(&f, stream + j, stream_len - j, &next);
			if (!ok || next != NPARTS) {
				T_FAILF("splits at %zu, %zu: %zu frames", i, j, next);
				return;
			}
		}
}

static void test_framer_byte_at_a_time(void)
{
	struct bt_framer f;
	size_t next = 0, need;
	build_stream();
	framer_new(&f);
	for (size_t k = 0; k < stream_len; k++) {
		if (!feed_chunk(&f, t_guarded(stream + k, 1), 1, &next))
			return;
		if (k == 53) {   /* inside the handshake */
			T_EQ_UINT(bt_framer_partial(&f, &need), 54);
			T_EQ_UINT(need, 68);
		}
		if (k == 69) {   /* 2 bytes into the first prefix */
			T_EQ_UINT(bt_framer_partial(&f, &need), 2);
			T_EQ_UINT(need, 0);
		}
	}
	T_EQ_UINT(next, NPARTS);
	T_EQ_UINT(f.offset, stream_len);
}

static void test_framer_keepalives(void)
{
	struct bt_framer f;
	struct bt_frame fr;
	uint8_t ka[12] = { 0 };
	T_EQ_INT(bt_framer_init(&f, fbuf, sizeof fbuf, 0, false), BT_OK);
	const uint8_t *g = GUARD(ka);
	size_t off = 0;
	for (int i = 0; i < 3; i++) {
		/* The last one fills the chunk exactly: still in place. */
		T_EQ_INT(bt_framer_feed(&f, g + off, sizeof ka - off, &fr), 4);
		T_EQ_INT(fr.kind, BT_FRAME_MSG);
		T_CHECK(fr.p == g + off);
		T_EQ_UINT(fr.len, 4);
		T_EQ_UINT(fr.declared_len, 0);
		T_EQ_UINT(fr.offset, off);
		off += 4;
	}
	T_EQ_INT(bt_framer_feed(&f, g + off, 0, &fr), 0);
	T_EQ_INT(fr.kind, BT_FRAME_NONE);

	/* Without a handshake, 0x13 is the first byte of a length prefix. */
	T_EQ_INT(bt_framer_init(&f, fbuf, sizeof fbuf, 0, false), BT_OK);
	T_EQ_INT(bt_framer_feed(&f, GUARD(hs_bytes), 68, &fr), BT_ETOOBIG);
	T_EQ_UINT(fr.declared_len, 0x13426974u);
}

static void test_framer_toobig(void)
{
	struct bt_framer f;
	struct bt_frame fr;
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 7, 0, 0 };
	uint8_t s[68 + sizeof huge];
	memcpy(s, hs_bytes, 68);
	memcpy(s + 68, huge, sizeof huge);

	/* In one chunk, after the handshake. */
	framer_new(&f);
	const uint8_t *g = GUARD(s);
	T_EQ_INT(bt_framer_feed(&f, g, sizeof s, &fr), 68);
	T_EQ_INT(bt_framer_feed(&f, g + 68, sizeof huge, &fr), BT_ETOOBIG);
	T_EQ_UINT(fr.declared_len, 0xffffffffu);
	T_EQ_UINT(fr.offset, 68);
	T_CHECK(fr.why != NULL);
	/* Sticky: the same answer, nothing consumed. */
	T_EQ_INT(bt_framer_feed(&f, m_keepalive, 4, &fr), BT_ETOOBIG);
	T_EQ_UINT(fr.declared_len, 0xffffffffu);
	T_EQ_UINT(fr.offset, 68);
	T_EQ_INT(fr.kind, BT_FRAME_NONE);

	/* Prefix split over single bytes. */
	framer_new(&f);
	long rc = 0;
	T_EQ_INT(bt_framer_feed(&f, hs_bytes, 68, &fr), 68);
	for (size_t k = 0; k < 4; k++) {
		rc = bt_framer_feed(&f, t_guarded(huge + k, 1), 1, &fr);
		if (rc < 0)
			break;
		T_EQ_INT(rc, 1);
	}
	T_EQ_INT(rc, BT_ETOOBIG);
	T_EQ_UINT(fr.declared_len, 0xffffffffu);
	T_EQ_UINT(fr.offset, 68);

	/* 2^31 is refused as well. */
	static const uint8_t big31[] = { 0x80, 0, 0, 0, 7 };
	T_EQ_INT(bt_framer_init(&f, fbuf, sizeof fbuf, 0, false), BT_OK);
	T_EQ_INT(bt_framer_feed(&f, GUARD(big31), 5, &fr), BT_ETOOBIG);
	T_EQ_UINT(fr.declared_len, 0x80000000u);
}

static void test_framer_cap(void)
{
	static uint8_t small[BT_FRAMER_BUF_LEN(100)];
	static uint8_t msg[4 + 101];
	struct bt_framer f;
	struct bt_frame fr;

	T_EQ_UINT(sizeof small, BT_HS_MAX_LEN);
	/* cap: accepted, whole and split. */
	bt_store_u32be(msg, 100);
	msg[4] = BT_MSG_BITFIELD;
	memset(msg + 5, 0xaa, 99);
	T_EQ_INT(bt_framer_init(&f, small, sizeof small, 100, false), BT_OK);
	T_EQ_INT(bt_framer_feed(&f, t_guarded(msg, 104), 104, &fr), 104);
	T_EQ_INT(fr.kind, BT_FRAME_MSG);
	T_EQ_INT(bt_framer_feed(&f, t_guarded(msg, 50), 50, &fr), 50);
	T_EQ_INT(fr.kind, BT_FRAME_NONE);
	T_EQ_INT(bt_framer_feed(&f, t_guarded(msg + 50, 54), 54, &fr), 54);
	T_EQ_INT(fr.kind, BT_FRAME_MSG);
	T_CHECK(fr.p == small);
	T_EQ_MEM(fr.p, fr.len, msg, 104);
	T_EQ_UINT(fr.offset, 104);

	/* cap + 1: refused as soon as the prefix is known. */
	bt_store_u32be(msg, 101);
	memset(msg + 5, 0xaa, 100);
	T_EQ_INT(bt_framer_init(&f, small, sizeof small, 100, false), BT_OK);
	T_EQ_INT(bt_framer_feed(&f, t_guarded(msg, 105), 105, &fr), BT_ETOOBIG);
	T_EQ_UINT(fr.declared_len, 101);
	T_EQ_INT(bt_framer_init(&f, small, sizeof small, 100, false), BT_OK);
	T_EQ_INT(bt_framer_feed(&f, t_guarded(msg, 3), 3, &fr), 3);
	T_EQ_INT(bt_framer_feed(&f, t_guarded(msg + 3, 1), 1, &fr), BT_ETOOBIG);
	T_EQ_UINT(fr.declared_len, 101);

	/* The default cap, and its +1. */
	uint8_t pfx[4];
	T_EQ_INT(bt_framer_init(&f, fbuf, sizeof fbuf, 0, false), BT_OK);
	T_EQ_UINT(f.max_len, BT_FRAMER_DEFAULT_MAX);
	bt_store_u32be(pfx, BT_FRAMER_DEFAULT_MAX);
	T_EQ_INT(bt_framer_feed(&f, GUARD(pfx), 4, &fr), 4);
	T_EQ_INT(fr.kind, BT_FRAME_NONE);
	T_EQ_INT(bt_framer_init(&f, fbuf, sizeof fbuf, 0, false), BT_OK);
	bt_store_u32be(pfx, BT_FRAMER_DEFAULT_MAX + 1);
	T_EQ_INT(bt_framer_feed(&f, GUARD(pfx), 4, &fr), BT_ETOOBIG);
	T_EQ_UINT(fr.declared_len, BT_FRAMER_DEFAULT_MAX + 1);

	/* A buffer too small for the cap is refused, and so is feeding. */
	T_EQ_INT(bt_framer_init(&f, small, sizeof small, 1000, false), BT_ENOSPC);
	T_EQ_INT(bt_framer_feed(&f, m_keepalive, 4, &fr), BT_ENOSPC);
	T_EQ_INT(bt_framer_init(&f, small, 200, 100, true), BT_ENOSPC);
	T_EQ_INT(bt_framer_init(&f, small, 200, 100, false), BT_OK);
	/* A zeroed framer is not usable, and says so. */
	memset(&f, 0, sizeof f);
	T_EQ_INT(bt_framer_feed(&f, m_keepalive, 4, &fr), BT_EINVAL);
}

static void test_framer_handshake_problems(void)
{
	struct bt_framer f;
	struct bt_frame fr;

	/* pstrlen 0 cannot be a handshake. */
	framer_new(&f);
	T_EQ_INT(bt_framer_feed(&f, GUARD(m_have), sizeof m_have, &fr), BT_EINVAL);
	T_EQ_UINT(fr.offset, 0);
	T_CHECK(fr.why != NULL);
	T_EQ_INT(bt_framer_feed(&f, hs_bytes, 68, &fr), BT_EINVAL);

	/* Capital P: a handshake, flagged; the messages after it still flow. */
	uint8_t s[68 + 5];
	memcpy(s, hs_bytes, 68);
	s[12] = 'P';
	memcpy(s + 68, m_unchoke, 5);
	framer_new(&f);
	for (size_t k = 0; k < 67; k++) {
		T_EQ_INT(bt_framer_feed(&f, t_guarded(s + k, 1), 1, &fr), 1);
		T_EQ_INT(fr.kind, BT_FRAME_NONE);
	}
	T_EQ_INT(bt_framer_feed(&f, t_guarded(s + 67, 6), 6, &fr), 1);
	T_EQ_INT(fr.kind, BT_FRAME_HANDSHAKE);
	T_EQ_UINT(fr.hs.problems, BT_HS_BAD_PSTR | BT_HS_PSTR_CASE);
	T_CHECK(fr.p == fbuf);
	T_EQ_INT(bt_framer_feed(&f, t_guarded(s + 68, 5), 5, &fr), 5);
	T_EQ_INT(fr.kind, BT_FRAME_MSG);
	T_EQ_UINT(fr.offset, 68);

	/* The 6-byte peer id: 54 bytes, then silence. */
	size_t need;
	framer_new(&f);
	T_EQ_INT(bt_framer_feed(&f, t_guarded(hs_bytes, 54), 54, &fr), 54);
	T_EQ_INT(fr.kind, BT_FRAME_NONE);
	T_EQ_UINT(bt_framer_partial(&f, &need), 54);
	T_EQ_UINT(need, 68);
	T_EQ_UINT(f.offset, 54);

	/* pstrlen 255 fits the buffer and is flagged. */
	static uint8_t s255[304];
	memset(s255, 'x', sizeof s255);
	s255[0] = 255;
	framer_new(&f);
	T_EQ_INT(bt_framer_feed(&f, t_guarded(s255, 100), 100, &fr), 100);
	T_EQ_INT(bt_framer_feed(&f, t_guarded(s255 + 100, 204), 204, &fr), 204);
	T_EQ_INT(fr.kind, BT_FRAME_HANDSHAKE);
	T_EQ_UINT(fr.len, 304);
	T_EQ_UINT(fr.hs.problems, BT_HS_BAD_PSTRLEN | BT_HS_BAD_PSTR);
}

/* Every encoder's output parses back to what went in. */
static void test_roundtrip(void)
{
	uint8_t b[256];
	struct bt_wr w;
	struct bt_msg m;
	static const uint32_t vals[] = { 0, 1, 16384, 0x7fffffff, 0xffffffff };

	for (size_t i = 0; i < 5; i++)
		for (size_t j = 0; j < 5; j++) {
			bt_wr_init(&w, b, sizeof b);
			bt_msg_put_reject(&w, vals[i], vals[j], vals[4 - i]);
			T_EQ_INT(bt_msg_parse(b, w.len, &m), BT_OK);
			T_EQ_INT(m.kind, BT_MSG_REJECT);
			T_EQ_UINT(m.u.req.index, vals[i]);
			T_EQ_UINT(m.u.req.begin, vals[j]);
			T_EQ_UINT(m.u.req.length, vals[4 - i]);
			bt_wr_init(&w, b, sizeof b);
			bt_msg_put_index(&w, BT_MSG_ALLOWED_FAST, vals[i]);
			T_EQ_INT(bt_msg_parse(b, w.len, &m), BT_OK);
			T_EQ_UINT(m.u.index, vals[i]);
		}
	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_port(&w, 65535);
	T_EQ_INT(bt_msg_parse(b, w.len, &m), BT_OK);
	T_EQ_UINT(m.u.port, 65535);
	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_extended(&w, 255, NULL, 0);
	T_EQ_INT(bt_msg_parse(b, w.len, &m), BT_OK);
	T_EQ_UINT(m.u.ext.id, 255);
	T_EQ_UINT(m.u.ext.len, 0);
}

/* Hostile streams (random ids, sizes, sometimes an over-cap prefix or a
 * bad handshake) fed whole and in random chunks: the same frames, then
 * the same error at the same offset. */
static uint32_t rng_state = 0x9e3779b9u;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

struct run {
	int n, err;
	uint64_t off[64], err_off;
	size_t len[64];
	uint32_t declared;
};

static void run_stream(const uint8_t *s, size_t n, bool random_chunks,
		       struct run *r)
{
	static uint8_t buf[BT_FRAMER_BUF_LEN(64)];
	struct bt_framer f;
	struct bt_frame fr;
	size_t pos = 0;

	memset(r, 0, sizeof *r);
	T_EQ_INT(bt_framer_init(&f, buf, sizeof buf, 64, true), BT_OK);
	while (pos < n) {
		size_t c = random_chunks ? 1 + rng() % 20 : n - pos;
		if (c > n - pos)
			c = n - pos;
		const uint8_t *g = t_guarded(s + pos, c);
		size_t used = 0;
		while (used < c) {
			long k = bt_framer_feed(&f, g + used, c - used, &fr);
			if (k < 0) {
				r->err = (int)k;
				r->err_off = fr.offset;
				r->declared = fr.declared_len;
				return;
			}
			used += (size_t)k;
			if (fr.kind == BT_FRAME_NONE)
				break;
			if (r->n < 64) {
				r->off[r->n] = fr.offset;
				r->len[r->n] = fr.len;
				if (memcmp(fr.p, s + fr.offset, fr.len) != 0)
					T_FAILF("frame bytes differ");
			}
			r->n++;
		}
		pos += c;
	}
}

static void test_framer_random_chunks(void)
{
	static uint8_t s[4096];
	for (int iter = 0; iter < 300; iter++) {
		size_t n = 0;
		memcpy(s, hs_bytes, 68);
		if (rng() % 8 == 0)
			s[0] = (uint8_t)(rng() % 4);   /* 0: no handshake */
		n = s[0] ? 1 + s[0] + 48u : 68;
		if (s[0] && s[0] != 19)
			memset(s + 1, 'x', s[0] + 48u);
		while (n < sizeof s - 128) {
			uint32_t plen = rng() % 40;
			if (rng() % 50 == 0)
				plen = 60 + rng() % 10; /* around the cap */
			bt_store_u32be(s + n, rng() % 7 == 0 ? 0 : plen + 1);
			s[n + 4] = (uint8_t)(rng() % 30);
			for (uint32_t i = 0; i < plen; i++)
				s[n + 5 + i] = (uint8_t)rng();
			n += bt_load_u32be(s + n) ? 5 + plen : 4;
			if (rng() % 16 == 0)
				break;
		}
		struct run a, b;
		run_stream(s, n, false, &a);
		run_stream(s, n, true, &b);
		if (a.n != b.n || a.err != b.err || a.err_off != b.err_off ||
		    a.declared != b.declared ||
		    memcmp(a.off, b.off, sizeof a.off) != 0 ||
		    memcmp(a.len, b.len, sizeof a.len) != 0) {
			T_FAILF("iteration %d: %d frames/err %d vs %d frames/err %d",
				iter, a.n, a.err, b.n, b.err);
			return;
		}
	}
}

int main(void)
{
	T_RUN(test_handshake_encode);
	T_RUN(test_handshake_parse);
	T_RUN(test_handshake_capital_p);
	T_RUN(test_handshake_pstrlen);
	T_RUN(test_reserved);
	T_RUN(test_msg_names);
	T_RUN(test_msg_encode);
	T_RUN(test_msg_encode_limits);
	T_RUN(test_msg_parse);
	T_RUN(test_msg_bad_sizes);
	T_RUN(test_msg_unknown);
	T_RUN(test_framer_whole);
	T_RUN(test_framer_every_split);
	T_RUN(test_framer_every_two_splits);
	T_RUN(test_framer_byte_at_a_time);
	T_RUN(test_framer_keepalives);
	T_RUN(test_framer_toobig);
	T_RUN(test_framer_cap);
	T_RUN(test_framer_handshake_problems);
	T_RUN(test_framer_random_chunks);
	T_RUN(test_roundtrip);
	return T_DONE();
}
