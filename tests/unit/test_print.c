/* test_print.c — the one printer: exact text and exact JSON for every event
 * kind, every message, extension names learned per direction, escaping of
 * peer bytes, and tracker answers.
 *
 * Each record is rendered twice from the same starting context (text and
 * JSON) into open_memstream buffers and compared byte for byte; every JSON
 * line is also checked to be one valid JSON object in valid UTF-8.  Set
 * BT_PRINT_JSON_DUMP=file to append every JSON line there, for a check
 * with python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'. */
#include "t.h"
#include "print.h"
#include "trk.h"
#include "wire.h"
#include "ext.h"
#include "bencode.h"

#include <errno.h>
#include <stdbool.h>

/* ---- A small JSON checker (RFC 8259 grammar, UTF-8) ---------------------- */

static const char *jv_value(const char *p, int depth);

static const char *jv_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static bool is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	       (ch >= 'A' && ch <= 'F');
}

static const char *jv_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char ch = (unsigned char)*p;
		if (ch < 0x20)
			return NULL;             /* NUL, newline, controls */
		if (ch != '\\') {
			p++;
			continue;
		}
		p++;
		if (*p && strchr("\"\\/bfnrt", *p)) {
			p++;
		} else if (*p == 'u') {
			for (int i = 1; i <= 4; i++)
				if (!is_hex(p[i]))
					return NULL;
			p += 5;
		} else {
			return NULL;
		}
	}
	return p + 1;
}

static const char *jv_digits(const char *p)
{
	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

static const char *jv_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (!(p = jv_digits(p)))
		return NULL;
	if (*p == '.' && !(p = jv_digits(p + 1)))
		return NULL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(p = jv_digits(p)))
			return NULL;
	}
	return p;
}

static const char *jv_container(const char *p, int depth, char close, bool obj)
{
	p = jv_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (obj) {
			if (!(p = jv_string(jv_ws(p))))
				return NULL;
			p = jv_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if (!(p = jv_value(p, depth + 1)))
			return NULL;
		p = jv_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *jv_value(const char *p, int depth)
{
	if (depth > 100)
		return NULL;
	p = jv_ws(p);
	switch (*p) {
	case '{': return jv_container(p, depth, '}', true);
	case '[': return jv_container(p, depth, ']', false);
	case '"': return jv_string(p);
	case 't': return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f': return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n': return strncmp(p, "null", 4) ? NULL : p + 4;
	default:  return jv_number(p);
	}
}

static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		size_t n = *s < 0x80 ? 1 : (*s >> 5) == 6 ? 2 : (*s >> 4) == 14 ? 3 :
			   (*s >> 3) == 30 ? 4 : 0;
		if (n == 0)
			return false;
		for (size_t i = 1; i < n; i++)
			if ((s[i] & 0xc0) != 0x80)
				return false;
		s += n;
	}
	return true;
}

/* One object, then exactly one newline, nothing else. */
static bool json_line_ok(const char *s)
{
	const char *e;

	if (!s || *s != '{' || !utf8_valid((const unsigned char *)s))
		return false;
	e = jv_value(s, 0);
	return e && e[0] == '\n' && e[1] == '\0';
}

static void test_json_checker(void)
{
	T_CHECK(json_line_ok("{\"a\":[1,-2.5e3,\"x\\u00e9\\\\\",true,null,{}]}\n"));
	T_CHECK(!json_line_ok("{\"a\":1,}\n"));
	T_CHECK(!json_line_ok("{\"a\":\"\x1b\"}\n"));
	T_CHECK(!json_line_ok("{\"a\":\"\\x1b\"}\n"));
	T_CHECK(!json_line_ok("{\"a\":\"\xff\"}\n"));
	T_CHECK(!json_line_ok("{\"a\":1}"));
	T_CHECK(!json_line_ok("{\"a\":01}\n"));
	T_CHECK(!json_line_ok("{\"a\":1}\n{}\n"));
}

/* ---- Rendering ---------------------------------------------------------- */

typedef void (*emit_fn)(struct bt_out *o, void *arg);

static char *g_text, *g_json;

static char *render(bool json, emit_fn fn, void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct bt_out o;

	if (!f)
		abort();
	bt_out_init(&o, f, json);
	fn(&o, arg);
	fclose(f);
	return buf;
}

static void dump_json(const char *s)
{
	const char *path = getenv("BT_PRINT_JSON_DUMP");
	FILE *f;

	if (path && (f = fopen(path, "a"))) {
		fputs(s, f);
		fclose(f);
	}
}

static void render_both(emit_fn fn, void *text_arg, void *json_arg)
{
	free(g_text);
	free(g_json);
	g_text = render(false, fn, text_arg);
	g_json = render(true, fn, json_arg);
	dump_json(g_json);
}

/* Report every mismatch of a test, not only the first: easier to read. */
#define SAME(got, want) do { \
	const char *s_g_ = (got), *s_w_ = (want); \
	if (!s_g_ || strcmp(s_g_, s_w_) != 0) { \
		printf("#   %s:%d: mismatch\n#   got:  %s#   want: %s", \
		       __FILE__, __LINE__, s_g_ ? s_g_ : "(null)\n", s_w_); \
		t_failed_now = 1; \
	} \
} while (0)

#define CHECK_BOTH(text, json) do { \
	SAME(g_text, text); \
	SAME(g_json, json); \
	if (!json_line_ok(g_json)) \
		T_FAILF("not one valid JSON object: %s", g_json); \
} while (0)

struct ev_arg {
	struct bt_print_ctx *c;
	const struct bt_event *ev;
};

static void emit_event(struct bt_out *o, void *arg)
{
	struct ev_arg *a = arg;
	bt_print_event(o, a->c, a->ev);
}

/* Text and JSON from the same starting context; c keeps what the text
 * pass learned (the JSON pass learns the same into a copy). */
static void print_ev(struct bt_print_ctx *c, const struct bt_event *ev)
{
	struct bt_print_ctx cj = *c;
	struct ev_arg at = { c, ev }, aj = { &cj, ev };

	render_both(emit_event, &at, &aj);
}

#define EXPECT_EV(c, ev, text, json) do { \
	print_ev((c), (ev)); \
	CHECK_BOTH(text, json); \
} while (0)

/* ---- Building events ---------------------------------------------------- */

static uint8_t g_buf[20000];
static struct bt_wr g_w;
static struct bt_msg g_msg;
static struct bt_handshake g_hs;

static struct bt_wr *wr(void)
{
	bt_wr_init(&g_w, g_buf, sizeof g_buf);
	return &g_w;
}

/* An event for the frame in g_buf (as written by wr()): MSG when it
 * parses, MALFORMED otherwise, at stream offset 68. */
static struct bt_event msg_ev(enum bt_dir d)
{
	struct bt_event ev;

	memset(&ev, 0, sizeof ev);
	ev.dir = d;
	ev.kind = bt_msg_parse(g_buf, g_w.len, &g_msg) == BT_OK ?
		  BT_EV_MSG : BT_EV_MALFORMED;
	ev.msg = &g_msg;
	ev.raw = g_buf;
	ev.raw_len = g_w.len;
	ev.stream_off = 68;
	return ev;
}

static struct bt_event hs_ev(enum bt_dir d, const uint8_t *b, size_t n)
{
	struct bt_event ev;

	memset(&ev, 0, sizeof ev);
	T_EQ_INT(bt_handshake_parse(b, n, &g_hs), (long)n);
	ev.dir = d;
	ev.kind = BT_EV_HANDSHAKE;
	ev.hs = &g_hs;
	return ev;
}

static const uint8_t IH[20] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
};
#define IH_HEX "0102030405060708090a0b0c0d0e0f1011121314"
#define ZERO_HEX "0000000000000000000000000000000000000000"
#define Z4 "\\x00\\x00\\x00\\x00"
#define ZERO_ID Z4 Z4 Z4 Z4 Z4
#define U4 "\\u0000\\u0000\\u0000\\u0000"
#define ZERO_ID_JSON U4 U4 U4 U4 U4

/* A context without the time column: most tests are about the rest. */
static void ctx_plain(struct bt_print_ctx *c)
{
	bt_print_ctx_init(c);
	c->time = BT_PRINT_TIME_NONE;
}

/* ---- Handshakes --------------------------------------------------------- */

static void test_handshake_good(void)
{
	struct bt_print_ctx c;
	uint8_t rsv[8] = { 0 }, b[BT_HS_LEN];
	struct bt_event ev;

	bt_print_ctx_init(&c);
	bt_reserved_set(rsv, BT_RSV_EXTENSION);
	bt_reserved_set(rsv, BT_RSV_FAST);
	bt_reserved_set(rsv, BT_RSV_DHT);
	bt_handshake_encode(b, rsv, IH, (const uint8_t *)"-TR3000-abcdefghijkl");
	ev = hs_ev(BT_DIR_IN, b, sizeof b);
	ev.t_us = 12345;
	EXPECT_EV(&c, &ev,
		"   12.345 <- handshake 'BitTorrent protocol' reserved extension,fast,dht"
		" info_hash " IH_HEX " peer_id '-TR3000-abcdefghijkl' (Transmission 3.00)\n",
		"{\"t\":12.345,\"dir\":\"in\",\"kind\":\"handshake\",\"offset\":0,"
		"\"pstrlen\":19,\"pstr\":\"BitTorrent protocol\","
		"\"reserved\":\"0000000000100005\","
		"\"reserved_bits\":[\"extension\",\"fast\",\"dht\"],"
		"\"info_hash\":\"" IH_HEX "\",\"peer_id\":\"-TR3000-abcdefghijkl\","
		"\"client\":\"Transmission 3.00\"}\n");
	/* Remembered for the tools' summaries. */
	T_CHECK(c.side[BT_DIR_IN].have_hs);
	T_CHECK(!c.side[BT_DIR_OUT].have_hs);
	T_EQ_STR(c.side[BT_DIR_IN].client, "Transmission 3.00");
	T_EQ_MEM(c.side[BT_DIR_IN].reserved, 8, rsv, 8);

	/* Our own, with a peer tag and a time wider than the column. */
	c.peer = "10.0.0.2:6881";
	c.have_info_hash = true;
	memcpy(c.info_hash, IH, 20);
	bt_handshake_encode(b, NULL, IH, (const uint8_t *)"-BK0100-0123456789ab");
	ev = hs_ev(BT_DIR_OUT, b, sizeof b);
	ev.t_us = 123456789;
	EXPECT_EV(&c, &ev,
		"123456.789 10.0.0.2:6881 -> handshake 'BitTorrent protocol' reserved none"
		" info_hash " IH_HEX " peer_id '-BK0100-0123456789ab' (btkit 0.1.0.0)\n",
		"{\"t\":123456.789,\"peer\":\"10.0.0.2:6881\",\"dir\":\"out\","
		"\"kind\":\"handshake\",\"offset\":0,"
		"\"pstrlen\":19,\"pstr\":\"BitTorrent protocol\","
		"\"reserved\":\"0000000000000000\",\"reserved_bits\":[],"
		"\"info_hash\":\"" IH_HEX "\",\"peer_id\":\"-BK0100-0123456789ab\","
		"\"client\":\"btkit 0.1.0.0\"}\n");
}

static void test_handshake_capital_p(void)
{
	struct bt_print_ctx c;
	uint8_t b[BT_HS_LEN] = "\x13" "BitTorrent Protocol";
	struct bt_event ev;

	ctx_plain(&c);
	memcpy(b + 28, IH, 20);
	memcpy(b + 48, "-qB4500-abcdefghijkl", 20);
	ev = hs_ev(BT_DIR_IN, b, sizeof b);
	EXPECT_EV(&c, &ev,
		"<- handshake 'BitTorrent Protocol' reserved none info_hash " IH_HEX
		" peer_id '-qB4500-abcdefghijkl' (qBittorrent 4.5.0.0)"
		" !! protocol string 'BitTorrent Protocol' is not 'BitTorrent protocol' (case)\n",
		"{\"dir\":\"in\",\"kind\":\"handshake\",\"offset\":0,"
		"\"pstrlen\":19,\"pstr\":\"BitTorrent Protocol\","
		"\"reserved\":\"0000000000000000\",\"reserved_bits\":[],"
		"\"info_hash\":\"" IH_HEX "\",\"peer_id\":\"-qB4500-abcdefghijkl\","
		"\"client\":\"qBittorrent 4.5.0.0\",\"problems\":[\"protocol string "
		"'BitTorrent Protocol' is not 'BitTorrent protocol' (case)\"]}\n");

	/* A different string and length: both named, the string escaped. */
	{
		uint8_t w[1 + 4 + 48] = "\x04" "BT\x1b" "x";
		ev = hs_ev(BT_DIR_IN, w, sizeof w);
		EXPECT_EV(&c, &ev,
			"<- handshake 'BT\\x1bx' reserved none info_hash " ZERO_HEX
			" peer_id '" ZERO_ID "' (unknown) !! pstrlen 4 is not 19"
			" !! protocol string 'BT\\x1bx' is not 'BitTorrent protocol'"
			" !! peer id is all zero bytes\n",
			"{\"dir\":\"in\",\"kind\":\"handshake\",\"offset\":0,"
			"\"pstrlen\":4,\"pstr\":\"BT\\u001bx\","
			"\"reserved\":\"0000000000000000\",\"reserved_bits\":[],"
			"\"info_hash\":\"" ZERO_HEX "\",\"peer_id\":\"" ZERO_ID_JSON "\","
			"\"client\":\"unknown\",\"problems\":[\"pstrlen 4 is not 19\","
			"\"protocol string 'BT\\\\x1bx' is not 'BitTorrent protocol'\","
			"\"peer id is all zero bytes\"]}\n");
	}

	/* A string of the right length with its length byte wrong: not
	 * "pstrlen 19 is not 19", but what the bytes show.  After the string
	 * (the notes' client), another value, or no bytes to tell. */
	{
		static uint8_t raw[BT_HS_LEN] = "BitTorrent protocol\x13";
		static const char *const want[3][2] = {
			{ "the length byte (19) comes after the protocol string: "
			  "the first byte, 66, is read as the length", "0" },
			{ "first byte 20 is not the protocol string's length, 19", "1" },
			{ "the first byte is not the protocol string's length, 19", "1" },
		};
		char text[512], json[800];

		for (int k = 0; k < 3; k++) {
			memset(&g_hs, 0, sizeof g_hs);
			if (k == 0) {
				memcpy(raw, "BitTorrent protocol\x13", 20);
			} else {
				raw[0] = 20;
				memcpy(raw + 1, BT_PSTR, BT_PSTR_LEN);
			}
			memcpy(raw + 48, "-BK0100-abcdefghijkl", 20);
			g_hs.pstr = raw + (want[k][1][0] - '0');
			g_hs.pstrlen = BT_PSTR_LEN;
			memcpy(g_hs.peer_id, raw + 48, 20);
			g_hs.problems = BT_HS_BAD_PSTRLEN;
			memset(&ev, 0, sizeof ev);
			ev.dir = BT_DIR_OUT;
			ev.kind = BT_EV_HANDSHAKE;
			ev.hs = &g_hs;
			ev.raw = k < 2 ? raw : NULL;
			ev.raw_len = k < 2 ? sizeof raw : 0;
			snprintf(text, sizeof text, "-> handshake 'BitTorrent protocol' "
				 "reserved none info_hash " ZERO_HEX " peer_id "
				 "'-BK0100-abcdefghijkl' (btkit 0.1.0.0) !! %s\n", want[k][0]);
			snprintf(json, sizeof json, "{\"dir\":\"out\",\"kind\":\"handshake\","
				 "\"offset\":0,\"pstrlen\":19,\"pstr\":\"BitTorrent protocol\","
				 "\"reserved\":\"0000000000000000\",\"reserved_bits\":[],"
				 "\"info_hash\":\"" ZERO_HEX "\",\"peer_id\":"
				 "\"-BK0100-abcdefghijkl\",\"client\":\"btkit 0.1.0.0\","
				 "\"problems\":[\"%s\"]}\n", want[k][0]);
			EXPECT_EV(&c, &ev, text, json);
		}
	}
}

/* The handshake of origin/python-client-notes.txt: capital P, no reserved
 * bytes, a 6-byte peer id "pigeon"; then its next messages (interested,
 * request 0 0 262144) fill the 68 bytes a parser waits for. */
static void test_handshake_python_client(void)
{
	struct bt_print_ctx c;
	uint8_t b[BT_HS_LEN], *p = b;
	struct bt_event ev;

	ctx_plain(&c);
	c.have_info_hash = true;
	memcpy(c.info_hash, IH, 20);
	memcpy(p, "\x13" "BitTorrent Protocol", 20), p += 20;
	memcpy(p, IH, 20), p += 20;
	memcpy(p, "pigeon", 6), p += 6;
	memcpy(p, "\0\0\0\x01\x02", 5), p += 5;
	memcpy(p, "\0\0\0\x0d\x06" "\0\0\0\0" "\0\0\0\0" "\0\x04\0\0", 17), p += 17;
	T_EQ_INT(p - b, BT_HS_LEN);
	ev = hs_ev(BT_DIR_OUT, b, sizeof b);
	EXPECT_EV(&c, &ev,
		"-> handshake 'BitTorrent Protocol' reserved bit 56,bit 49,bit 41,bit 40,"
		"bit 34,bit 26,bit 24,bit 18,bit 17,bit 10,bit 9,bit 8,bit 3"
		" info_hash 090a0b0c0d0e0f1011121314706967656f6e0000"
		" peer_id '\\x00\\x01\\x02\\x00\\x00\\x00\\x0d\\x06\\x00\\x00\\x00\\x00"
		"\\x00\\x00\\x00\\x00\\x00\\x04\\x00\\x00' (unknown)"
		" !! protocol string 'BitTorrent Protocol' is not 'BitTorrent protocol' (case)"
		" !! info hash is not the torrent's, which starts at byte 20 instead of 28:"
		" fields out of order (no reserved bytes?)\n",
		"{\"dir\":\"out\",\"kind\":\"handshake\",\"offset\":0,"
		"\"pstrlen\":19,\"pstr\":\"BitTorrent Protocol\","
		"\"reserved\":\"0102030405060708\",\"reserved_bits\":[\"bit 56\",\"bit 49\","
		"\"bit 41\",\"bit 40\",\"bit 34\",\"bit 26\",\"bit 24\",\"bit 18\",\"bit 17\","
		"\"bit 10\",\"bit 9\",\"bit 8\",\"bit 3\"],"
		"\"info_hash\":\"090a0b0c0d0e0f1011121314706967656f6e0000\","
		"\"peer_id\":\"\\u0000\\u0001\\u0002\\u0000\\u0000\\u0000\\u000d\\u0006"
		"\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0004"
		"\\u0000\\u0000\",\"client\":\"unknown\",\"problems\":["
		"\"protocol string 'BitTorrent Protocol' is not 'BitTorrent protocol' (case)\","
		"\"info hash is not the torrent's, which starts at byte 20 instead of 28:"
		" fields out of order (no reserved bytes?)\"]}\n");

	/* The same short id padded with zeros, everything else right. */
	{
		uint8_t id[20] = "pigeon";
		bt_handshake_encode(b, NULL, IH, id);
		ev = hs_ev(BT_DIR_OUT, b, sizeof b);
		EXPECT_EV(&c, &ev,
			"-> handshake 'BitTorrent protocol' reserved none info_hash " IH_HEX
			" peer_id 'pigeon\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
			"\\x00\\x00\\x00\\x00' (unknown)"
			" !! peer id is 6 bytes then 14 zero bytes: a short id padded?\n",
			"{\"dir\":\"out\",\"kind\":\"handshake\",\"offset\":0,"
			"\"pstrlen\":19,\"pstr\":\"BitTorrent protocol\","
			"\"reserved\":\"0000000000000000\",\"reserved_bits\":[],"
			"\"info_hash\":\"" IH_HEX "\",\"peer_id\":\"pigeon"
			"\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000"
			"\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\",\"client\":\"unknown\","
			"\"problems\":[\"peer id is 6 bytes then 14 zero bytes: a short id padded?\"]}\n");
	}
	/* A wrong hash that is nowhere else in the handshake. */
	{
		uint8_t other[20] = { 0xee };
		bt_handshake_encode(b, NULL, other, (const uint8_t *)"-TR3000-abcdefghijkl");
		ev = hs_ev(BT_DIR_IN, b, sizeof b);
		print_ev(&c, &ev);
		T_CHECK(strstr(g_text, " !! info hash is not the torrent's\n") != NULL);
	}
}

/* ---- Every message ------------------------------------------------------ */

/* Prefix of every JSON message record in test_messages. */
#define JM "{\"dir\":\"in\",\"kind\":\"msg\",\"offset\":68,"

static void test_messages(void)
{
	struct bt_print_ctx c;
	struct bt_event ev;
	struct bt_hash_req h;
	uint8_t bits[128], data[16] = { 0 }, hashes[64];

	ctx_plain(&c);
	c.piece_count = 1024;
	c.piece_length = 262144;
	c.total_size = 1023ull * 262144 + 1000;   /* last piece: 1000 bytes */

#define M(call, text, json) do { \
	T_EQ_INT(call, BT_OK); \
	ev = msg_ev(BT_DIR_IN); \
	T_EQ_INT(ev.kind, BT_EV_MSG); \
	EXPECT_EV(&c, &ev, "<- " text "\n", JM json "}\n"); \
} while (0)

	M(bt_msg_put_keepalive(wr()), "keep-alive", "\"msg\":\"keep-alive\",\"len\":0");
	M(bt_msg_put_simple(wr(), BT_MSG_CHOKE), "choke",
	  "\"msg\":\"choke\",\"id\":0,\"len\":1");
	M(bt_msg_put_simple(wr(), BT_MSG_UNCHOKE), "unchoke",
	  "\"msg\":\"unchoke\",\"id\":1,\"len\":1");
	M(bt_msg_put_simple(wr(), BT_MSG_INTERESTED), "interested",
	  "\"msg\":\"interested\",\"id\":2,\"len\":1");
	M(bt_msg_put_simple(wr(), BT_MSG_NOT_INTERESTED), "not interested",
	  "\"msg\":\"not interested\",\"id\":3,\"len\":1");
	M(bt_msg_put_have(wr(), 17), "have index 17",
	  "\"msg\":\"have\",\"id\":4,\"len\":5,\"index\":17");
	M(bt_msg_put_have(wr(), 1024), "have index 1024 !! index 1024 out of range (1024 pieces)",
	  "\"msg\":\"have\",\"id\":4,\"len\":5,\"index\":1024,"
	  "\"problems\":[\"index 1024 out of range (1024 pieces)\"]");
	memset(bits, 0xff, sizeof bits);
	M(bt_msg_put_bitfield(wr(), bits, sizeof bits), "bitfield 1024/1024 pieces (100.0%)",
	  "\"msg\":\"bitfield\",\"id\":5,\"len\":129,\"have\":1024,\"pieces\":1024,"
	  "\"percent\":100.0,\"bits\":1024,\"spare_set\":0");
	M(bt_msg_put_request(wr(), 3, 16384, 16384), "request index 3 begin 16384 length 16384",
	  "\"msg\":\"request\",\"id\":6,\"len\":13,\"index\":3,\"begin\":16384,\"length\":16384");
	M(bt_msg_put_piece(wr(), 3, 16384, data, sizeof data), "piece index 3 begin 16384 length 16",
	  "\"msg\":\"piece\",\"id\":7,\"len\":25,\"index\":3,\"begin\":16384,\"length\":16");
	M(bt_msg_put_cancel(wr(), 3, 16384, 16384), "cancel index 3 begin 16384 length 16384",
	  "\"msg\":\"cancel\",\"id\":8,\"len\":13,\"index\":3,\"begin\":16384,\"length\":16384");
	M(bt_msg_put_port(wr(), 6881), "port 6881",
	  "\"msg\":\"port\",\"id\":9,\"len\":3,\"port\":6881");
	M(bt_msg_put_index(wr(), BT_MSG_SUGGEST, 5), "suggest piece index 5",
	  "\"msg\":\"suggest piece\",\"id\":13,\"len\":5,\"index\":5");
	M(bt_msg_put_simple(wr(), BT_MSG_HAVE_ALL), "have all",
	  "\"msg\":\"have all\",\"id\":14,\"len\":1");
	M(bt_msg_put_simple(wr(), BT_MSG_HAVE_NONE), "have none",
	  "\"msg\":\"have none\",\"id\":15,\"len\":1");
	M(bt_msg_put_reject(wr(), 3, 0, 16384), "reject request index 3 begin 0 length 16384",
	  "\"msg\":\"reject request\",\"id\":16,\"len\":13,\"index\":3,\"begin\":0,\"length\":16384");
	M(bt_msg_put_index(wr(), BT_MSG_ALLOWED_FAST, 7), "allowed fast index 7",
	  "\"msg\":\"allowed fast\",\"id\":17,\"len\":5,\"index\":7");
	/* No extended handshake seen: the id cannot be named, and is not
	 * blamed on anyone either. */
	M(bt_msg_put_extended(wr(), 7, (const uint8_t *)"xyz", 3), "extended 0x07 3 bytes",
	  "\"msg\":\"extended\",\"id\":20,\"len\":5,\"ext_id\":7,\"ext\":\"0x07\",\"ext_len\":3");

	memset(&h, 0, sizeof h);
	memset(h.pieces_root, 0xab, 32);
	h.length = 512;
	h.proof_layers = 7;
	h.index = 2;
#define ROOT "abababababababababababababababababababababababababababababababab"
	M(bt_msg_put_hash_req(wr(), BT_MSG_HASH_REQUEST, &h),
	  "hash request pieces_root " ROOT " base_layer 0 index 2 length 512 proof_layers 7",
	  "\"msg\":\"hash request\",\"id\":21,\"len\":49,\"pieces_root\":\"" ROOT "\","
	  "\"base_layer\":0,\"index\":2,\"length\":512,\"proof_layers\":7");
	memset(hashes, 0x11, sizeof hashes);
	M(bt_msg_put_hashes(wr(), &h, hashes, sizeof hashes),
	  "hashes pieces_root " ROOT " base_layer 0 index 2 length 512 proof_layers 7 hashes 2",
	  "\"msg\":\"hashes\",\"id\":22,\"len\":113,\"pieces_root\":\"" ROOT "\","
	  "\"base_layer\":0,\"index\":2,\"length\":512,\"proof_layers\":7,\"hashes\":2");
	M(bt_msg_put_hash_req(wr(), BT_MSG_HASH_REJECT, &h),
	  "hash reject pieces_root " ROOT " base_layer 0 index 2 length 512 proof_layers 7",
	  "\"msg\":\"hash reject\",\"id\":23,\"len\":49,\"pieces_root\":\"" ROOT "\","
	  "\"base_layer\":0,\"index\":2,\"length\":512,\"proof_layers\":7");
	/* An id nobody defined: named in hex, with its size. */
	memcpy(wr()->buf, "\0\0\0\x03\x63" "ab", 7);
	g_w.len = 7;
	ev = msg_ev(BT_DIR_IN);
	EXPECT_EV(&c, &ev, "<- unknown id 0x63 payload 2 bytes\n",
		  JM "\"msg\":\"unknown\",\"id\":99,\"len\":3,\"payload_len\":2}\n");
#undef M
}

static void test_blocks(void)
{
	struct bt_print_ctx c;
	struct bt_event ev;
	uint8_t data[16384] = { 0 };

	ctx_plain(&c);
	c.piece_count = 1024;
	c.piece_length = 262144;
	c.total_size = 1023ull * 262144 + 1000;

	/* The notes' client asks for a whole piece in one request. */
	bt_msg_put_request(wr(), 0, 0, 262144);
	ev = msg_ev(BT_DIR_OUT);
	EXPECT_EV(&c, &ev,
		"-> request index 0 begin 0 length 262144 !! length 262144 > 16384:"
		" most clients drop peers asking for more than 16 KiB\n",
		"{\"dir\":\"out\",\"kind\":\"msg\",\"offset\":68,\"msg\":\"request\",\"id\":6,"
		"\"len\":13,\"index\":0,\"begin\":0,\"length\":262144,\"problems\":["
		"\"length 262144 > 16384: most clients drop peers asking for more than 16 KiB\"]}\n");

	/* 16 KiB is fine; the last piece is only 1000 bytes long. */
	bt_msg_put_request(wr(), 1023, 0, 16384);
	ev = msg_ev(BT_DIR_OUT);
	print_ev(&c, &ev);
	SAME(g_text, "-> request index 1023 begin 0 length 16384"
	     " !! block 0+16384 ends past the piece's 1000 bytes\n");
	bt_msg_put_piece(wr(), 1023, 0, data, 1000);
	ev = msg_ev(BT_DIR_IN);
	print_ev(&c, &ev);
	SAME(g_text, "<- piece index 1023 begin 0 length 1000\n");
	bt_msg_put_piece(wr(), 5, 262144 - 8192, data, 16384);
	ev = msg_ev(BT_DIR_IN);
	print_ev(&c, &ev);
	SAME(g_text, "<- piece index 5 begin 253952 length 16384"
	     " !! block 253952+16384 ends past the piece's 262144 bytes\n");
	bt_msg_put_cancel(wr(), 4096, 0, 0);
	ev = msg_ev(BT_DIR_OUT);
	print_ev(&c, &ev);
	SAME(g_text, "-> cancel index 4096 begin 0 length 0"
	     " !! index 4096 out of range (1024 pieces) !! zero-length block\n");
	/* Without torrent knowledge only the 16 KiB rule applies. */
	ctx_plain(&c);
	bt_msg_put_reject(wr(), 4096, 262144, 32768);
	ev = msg_ev(BT_DIR_IN);
	print_ev(&c, &ev);
	SAME(g_text, "<- reject request index 4096 begin 262144 length 32768"
	     " !! length 32768 > 16384: most clients drop peers asking for more than 16 KiB\n");
}

/* ---- Bitfields ---------------------------------------------------------- */

static void test_bitfield_count(void)
{
	uint64_t spare = 99;

	T_EQ_UINT(bt_bitfield_count((const uint8_t *)"\xff\xff", 2, 12, &spare), 12);
	T_EQ_UINT(spare, 4);
	T_EQ_UINT(bt_bitfield_count((const uint8_t *)"\x80", 1, 1, &spare), 1);
	T_EQ_UINT(spare, 0);
	T_EQ_UINT(bt_bitfield_count((const uint8_t *)"\x01", 1, 1, &spare), 0);
	T_EQ_UINT(spare, 1);
	T_EQ_UINT(bt_bitfield_count((const uint8_t *)"\xa5\x0f", 2, 0, &spare), 8);
	T_EQ_UINT(spare, 0);
	/* Shorter than piece_count: counts what is there. */
	T_EQ_UINT(bt_bitfield_count((const uint8_t *)"\xff", 1, 16, &spare), 8);
	T_EQ_UINT(spare, 0);
	/* Longer: whole extra bytes are spare. */
	T_EQ_UINT(bt_bitfield_count((const uint8_t *)"\xfe\x01\x81", 3, 8, NULL), 7);
	T_EQ_UINT(bt_bitfield_count((const uint8_t *)"\xfe\x01\x81", 3, 8, &spare), 7);
	T_EQ_UINT(spare, 3);
	T_EQ_UINT(bt_bitfield_count(NULL, 0, 10, &spare), 0);
	T_EQ_UINT(spare, 0);
}

static void test_bitfields(void)
{
	struct bt_print_ctx c;
	struct bt_event ev;
	uint8_t bits[130];

	ctx_plain(&c);
	c.piece_count = 1021;
	memset(bits, 0xff, 128);
	bt_msg_put_bitfield(wr(), bits, 128);
	ev = msg_ev(BT_DIR_IN);
	EXPECT_EV(&c, &ev,
		"<- bitfield 1021/1021 pieces (100.0%) !! 3 spare bits set past piece count 1021\n",
		JM "\"msg\":\"bitfield\",\"id\":5,\"len\":129,\"have\":1021,\"pieces\":1021,"
		"\"percent\":100.0,\"bits\":1024,\"spare_set\":3,"
		"\"problems\":[\"3 spare bits set past piece count 1021\"]}\n");

	/* Two bytes too long, one piece missing: 99.9%, never rounded up. */
	c.piece_count = 1024;
	memset(bits + 128, 0, 2);
	bits[0] = 0x7f;
	bt_msg_put_bitfield(wr(), bits, 130);
	ev = msg_ev(BT_DIR_IN);
	EXPECT_EV(&c, &ev,
		"<- bitfield 1023/1024 pieces (99.9%) !! bitfield is 130 bytes,"
		" expected 128 for 1024 pieces\n",
		JM "\"msg\":\"bitfield\",\"id\":5,\"len\":131,\"have\":1023,\"pieces\":1024,"
		"\"percent\":99.9,\"bits\":1040,\"spare_set\":0,"
		"\"problems\":[\"bitfield is 130 bytes, expected 128 for 1024 pieces\"]}\n");

	/* One spare bit: singular. */
	c.piece_count = 15;
	bt_msg_put_bitfield(wr(), (const uint8_t *)"\xff\xff", 2);
	ev = msg_ev(BT_DIR_IN);
	print_ev(&c, &ev);
	SAME(g_text, "<- bitfield 15/15 pieces (100.0%) !! 1 spare bit set past piece count 15\n");

	/* Piece count unknown (a capture without the torrent). */
	c.piece_count = 0;
	bt_msg_put_bitfield(wr(), (const uint8_t *)"\xf0\x01", 2);
	ev = msg_ev(BT_DIR_IN);
	EXPECT_EV(&c, &ev, "<- bitfield 5 of 16 bits set\n",
		JM "\"msg\":\"bitfield\",\"id\":5,\"len\":3,\"have\":5,\"pieces\":null,"
		"\"percent\":null,\"bits\":16,\"spare_set\":null}\n");

	/* -vv: the bits themselves, spare ones included. */
	c.piece_count = 10;
	c.verbosity = 2;
	bt_msg_put_bitfield(wr(), (const uint8_t *)"\xbf\xc1", 2);
	ev = msg_ev(BT_DIR_IN);
	EXPECT_EV(&c, &ev,
		"<- bitfield 9/10 pieces (90.0%) bits 1011111111000001"
		" !! 1 spare bit set past piece count 10\n",
		JM "\"msg\":\"bitfield\",\"id\":5,\"len\":3,\"have\":9,\"pieces\":10,"
		"\"percent\":90.0,\"bits\":16,\"spare_set\":1,\"bitstring\":\"1011111111000001\","
		"\"problems\":[\"1 spare bit set past piece count 10\"]}\n");

	/* A huge bitfield's bit string is cut, with a mark. */
	{
		static uint8_t big[10000];
		memset(big, 0, sizeof big);
		c.piece_count = 80000;
		bt_msg_put_bitfield(wr(), big, sizeof big);
		ev = msg_ev(BT_DIR_IN);
		print_ev(&c, &ev);
		T_EQ_UINT(strlen(g_text), strlen("<- bitfield 0/80000 pieces (0.0%) bits ") + 65536 + 3 + 1);
		T_CHECK(memcmp(g_text + strlen(g_text) - 5, "0...\n", 5) == 0);
		T_CHECK(json_line_ok(g_json));
	}
}

/* ---- Malformed and framing ---------------------------------------------- */

static void test_malformed(void)
{
	struct bt_print_ctx c;
	struct bt_event ev;

	ctx_plain(&c);
	/* A have with a 3-byte index. */
	memcpy(wr()->buf, "\0\0\0\x04\x04\0\0\x01", 8);
	g_w.len = 8;
	ev = msg_ev(BT_DIR_IN);
	T_EQ_INT(ev.kind, BT_EV_MALFORMED);
	EXPECT_EV(&c, &ev, "<- malformed have (3 bytes, expected 4)\n",
		"{\"dir\":\"in\",\"kind\":\"malformed\",\"offset\":68,\"msg\":\"have\","
		"\"id\":4,\"len\":4,\"payload_len\":3,\"expected\":4,"
		"\"why\":\"payload must be 4 bytes\"}\n");

	memcpy(wr()->buf, "\0\0\0\x02\x00\x00", 6);
	g_w.len = 6;
	ev = msg_ev(BT_DIR_IN);
	print_ev(&c, &ev);
	SAME(g_text, "<- malformed choke (1 byte, expected 0)\n");

	memcpy(wr()->buf, "\0\0\0\x06\x07" "abcde", 10);
	g_w.len = 10;
	ev = msg_ev(BT_DIR_OUT);
	print_ev(&c, &ev);
	SAME(g_text, "-> malformed piece (5 bytes, expected at least 8)\n");

	bt_msg_put_bitfield(wr(), NULL, 0);
	ev = msg_ev(BT_DIR_IN);
	print_ev(&c, &ev);
	SAME(g_text, "<- malformed bitfield (0 bytes, expected at least 1)\n");

	{
		struct bt_hash_req h;
		uint8_t hs[40] = { 0 };
		memset(&h, 0, sizeof h);
		bt_msg_put_hashes(wr(), &h, hs, sizeof hs);
		ev = msg_ev(BT_DIR_IN);
		print_ev(&c, &ev);
		SAME(g_text, "<- malformed hashes (88 bytes, expected 48 + 32*n)\n");
	}

	/* bt_msg_parse over more bytes than the frame. */
	bt_msg_put_have(wr(), 1);
	g_w.len++;
	ev = msg_ev(BT_DIR_IN);
	EXPECT_EV(&c, &ev, "<- malformed message: bytes follow the message\n",
		"{\"dir\":\"in\",\"kind\":\"malformed\",\"offset\":68,\"len\":5,"
		"\"why\":\"bytes follow the message\"}\n");
}

static void test_framing_errors(void)
{
	struct bt_print_ctx c;
	struct bt_event ev;
	struct bt_framer f;
	struct bt_frame fr;
	uint8_t fbuf[BT_FRAMER_BUF_LEN(BT_FRAMER_DEFAULT_MAX)], stream[80];
	long rc;

	ctx_plain(&c);
	/* A real framer's error, as a tool would pass it on. */
	bt_handshake_encode(stream, NULL, IH, (const uint8_t *)"-TR3000-abcdefghijkl");
	memcpy(stream + 68, "\xff\xff\xff\xff", 4);
	T_EQ_INT(bt_framer_init(&f, fbuf, sizeof fbuf, 0, true), BT_OK);
	T_EQ_INT(bt_framer_feed(&f, stream, 72, &fr), 68);
	rc = bt_framer_feed(&f, stream + 68, 4, &fr);
	T_EQ_INT(rc, BT_ETOOBIG);
	memset(&ev, 0, sizeof ev);
	ev.dir = BT_DIR_IN;
	ev.kind = BT_EV_MALFORMED;
	ev.err = (int)rc;
	ev.declared_len = fr.declared_len;
	ev.stream_off = fr.offset;
	ev.why = fr.why;
	EXPECT_EV(&c, &ev,
		"<- malformed length prefix 4294967295 exceeds cap 131081 at stream offset 68\n",
		"{\"dir\":\"in\",\"kind\":\"malformed\",\"offset\":68,\"error\":\"too big\","
		"\"declared_len\":4294967295,\"cap\":131081,"
		"\"why\":\"message length over the framer's cap\"}\n");
	c.frame_cap = 1000;
	print_ev(&c, &ev);
	SAME(g_text, "<- malformed length prefix 4294967295 exceeds cap 1000 at stream offset 68\n");

	/* A stream that starts like a message: pstrlen 0. */
	T_EQ_INT(bt_framer_init(&f, fbuf, sizeof fbuf, 0, true), BT_OK);
	rc = bt_framer_feed(&f, (const uint8_t *)"\0\0\0\x01\x02", 5, &fr);
	T_EQ_INT(rc, BT_EINVAL);
	ev.err = (int)rc;
	ev.declared_len = 0;
	ev.stream_off = fr.offset;
	ev.why = fr.why;
	EXPECT_EV(&c, &ev,
		"<- malformed stream: handshake pstrlen 0 (no protocol string) at stream offset 0\n",
		"{\"dir\":\"in\",\"kind\":\"malformed\",\"offset\":0,\"error\":\"malformed\","
		"\"why\":\"handshake pstrlen 0 (no protocol string)\"}\n");
}

/* ---- Extension protocol ------------------------------------------------- */

static struct bt_event ext_ev(enum bt_dir d, uint8_t id, const uint8_t *p, size_t n)
{
	static uint8_t pl[20000];
	struct bt_wr *w;

	memcpy(pl, p, n);           /* p may be g_buf itself */
	w = wr();
	T_EQ_INT(bt_msg_put_extended(w, id, pl, n), BT_OK);
	return msg_ev(d);
}

/* Encode into a scratch buffer; returns its length. */
static uint8_t g_pl[20000];

static size_t ext_hs_payload(const struct bt_ext_hs_out *h)
{
	struct bt_wr w;
	bt_wr_init(&w, g_pl, sizeof g_pl);
	T_EQ_INT(bt_ext_hs_encode(&w, h), BT_OK);
	return w.len;
}

#define JX(dir) "{\"dir\":\"" dir "\",\"kind\":\"msg\",\"offset\":68,\"msg\":\"extended\",\"id\":20,"

static void test_extended_learned(void)
{
	struct bt_print_ctx c;
	struct bt_event ev;
	struct bt_ext_hs_out ours, theirs;
	struct bt_peer_addr me = { .family = 4, .ip = { 10, 0, 0, 1 } };
	struct bt_wr w;
	size_t n;
	const uint8_t *name;

	ctx_plain(&c);
	memset(&ours, 0, sizeof ours);
	ours.ut_metadata = 3;
	ours.ut_pex = 1;
	ours.p = 6881;
	ours.reqq = 250;
	ours.v = "btkit 0.1.0";
	n = ext_hs_payload(&ours);
	ev = ext_ev(BT_DIR_OUT, 0, g_pl, n);
	EXPECT_EV(&c, &ev,
		"-> extended handshake m ut_metadata=3,ut_pex=1 v 'btkit 0.1.0' p 6881 reqq 250\n",
		JX("out") "\"len\":74,\"ext_id\":0,\"ext\":\"handshake\",\"ext_len\":72,"
		"\"m\":[{\"name\":\"ut_metadata\",\"id\":3},{\"name\":\"ut_pex\",\"id\":1}],"
		"\"v\":\"btkit 0.1.0\",\"p\":6881,\"reqq\":250}\n");

	memset(&theirs, 0, sizeof theirs);
	theirs.ut_metadata = 2;
	theirs.ut_pex = 5;
	theirs.p = 51413;
	theirs.reqq = 500;
	theirs.metadata_size = 31235;
	theirs.upload_only = true;
	theirs.v = "qBittorrent/4.5.0";
	theirs.yourip = &me;
	n = ext_hs_payload(&theirs);
	ev = ext_ev(BT_DIR_IN, 0, g_pl, n);
	ev.t_us = 5;
	EXPECT_EV(&c, &ev,
		"<- extended handshake m ut_metadata=2,ut_pex=5 v 'qBittorrent/4.5.0' p 51413"
		" reqq 500 yourip 10.0.0.1 metadata_size 31235 upload_only 1\n",
		JX("in") "\"len\":135,\"ext_id\":0,\"ext\":\"handshake\",\"ext_len\":133,"
		"\"m\":[{\"name\":\"ut_metadata\",\"id\":2},{\"name\":\"ut_pex\",\"id\":5}],"
		"\"v\":\"qBittorrent/4.5.0\",\"p\":51413,\"reqq\":500,\"yourip\":\"10.0.0.1\","
		"\"metadata_size\":31235,\"upload_only\":1}\n");
	T_CHECK(c.side[BT_DIR_IN].have_ext);
	T_EQ_INT(c.side[BT_DIR_IN].metadata_size, 31235);
	T_EQ_INT(c.side[BT_DIR_IN].reqq, 500);
	T_EQ_MEM(c.side[BT_DIR_IN].v, c.side[BT_DIR_IN].v_len, "qBittorrent/4.5.0", 17);
	T_EQ_INT(c.side[BT_DIR_OUT].metadata_size, -1);

	/* The lookup: a message is numbered by its receiver's m. */
	name = bt_print_ext_name(&c, BT_DIR_OUT, 2, &n);
	T_EQ_MEM(name, n, "ut_metadata", 11);
	name = bt_print_ext_name(&c, BT_DIR_IN, 3, &n);
	T_EQ_MEM(name, n, "ut_metadata", 11);
	T_CHECK(bt_print_ext_name(&c, BT_DIR_IN, 2, &n) == NULL && n == 0);
	T_CHECK(bt_print_ext_name(&c, BT_DIR_OUT, 3, &n) == NULL);

	/* We ask with the peer's id 2 ... */
	bt_wr_init(&w, g_pl, sizeof g_pl);
	bt_utm_put_request(&w, 0);
	ev = ext_ev(BT_DIR_OUT, 2, g_pl, w.len);
	EXPECT_EV(&c, &ev, "-> extended ut_metadata request piece 0\n",
		JX("out") "\"len\":27,\"ext_id\":2,\"ext\":\"ut_metadata\",\"ext_len\":25,"
		"\"type\":\"request\",\"msg_type\":0,\"piece\":0}\n");
	/* ... and the peer answers with our id 3. */
	{
		static uint8_t md[16384];
		bt_wr_init(&w, g_pl, sizeof g_pl);
		T_EQ_INT(bt_utm_put_data(&w, 0, 31235, md, sizeof md), BT_OK);
		ev = ext_ev(BT_DIR_IN, 3, g_pl, w.len);
		EXPECT_EV(&c, &ev,
			"<- extended ut_metadata data piece 0 total_size 31235 length 16384\n",
			JX("in") "\"len\":16431,\"ext_id\":3,\"ext\":\"ut_metadata\",\"ext_len\":16429,"
			"\"type\":\"data\",\"msg_type\":1,\"piece\":0,\"total_size\":31235,"
			"\"length\":16384}\n");
	}
	bt_wr_init(&w, g_pl, sizeof g_pl);
	bt_utm_put_reject(&w, 1);
	ev = ext_ev(BT_DIR_IN, 3, g_pl, w.len);
	print_ev(&c, &ev);
	SAME(g_text, "<- extended ut_metadata reject piece 1\n");
	/* 31235 bytes are two pieces. */
	bt_wr_init(&w, g_pl, sizeof g_pl);
	bt_utm_put_request(&w, 2);
	ev = ext_ev(BT_DIR_OUT, 2, g_pl, w.len);
	print_ev(&c, &ev);
	SAME(g_text, "-> extended ut_metadata request piece 2 !! piece 2 past the metadata's 2 pieces\n");

	/* The classic mistake: the peer numbers by its own m (2), not ours. */
	bt_wr_init(&w, g_pl, sizeof g_pl);
	bt_utm_put_request(&w, 0);
	ev = ext_ev(BT_DIR_IN, 2, g_pl, w.len);
	EXPECT_EV(&c, &ev,
		"<- extended 0x02 25 bytes !! id 2 is not in the receiver's m dictionary\n",
		JX("in") "\"len\":27,\"ext_id\":2,\"ext\":\"0x02\",\"ext_len\":25,"
		"\"problems\":[\"id 2 is not in the receiver's m dictionary\"]}\n");
	/* Our id 3 sent to the peer is theirs to resolve: not in their m. */
	ev = ext_ev(BT_DIR_OUT, 3, g_pl, w.len);
	print_ev(&c, &ev);
	SAME(g_text, "-> extended 0x03 25 bytes !! id 3 is not in the receiver's m dictionary\n");
	/* Id 5 is ut_pex going out, nothing coming in. */
	ev = ext_ev(BT_DIR_OUT, 5, (const uint8_t *)"de", 2);
	print_ev(&c, &ev);
	SAME(g_text, "-> extended ut_pex !! no added, added6, dropped or dropped6 list\n");
	ev = ext_ev(BT_DIR_IN, 5, (const uint8_t *)"de", 2);
	print_ev(&c, &ev);
	SAME(g_text, "<- extended 0x05 2 bytes !! id 5 is not in the receiver's m dictionary\n");

	/* A later handshake is additive; id 0 switches ut_pex off. */
	bt_wr_init(&w, g_pl, sizeof g_pl);
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "m");
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "lt_donthave");
	bt_be_put_int(&w, 7);
	bt_be_put_cstr(&w, "ut_pex");
	bt_be_put_int(&w, 0);
	bt_be_put_end(&w);
	bt_be_put_end(&w);
	ev = ext_ev(BT_DIR_IN, 0, g_pl, w.len);
	EXPECT_EV(&c, &ev, "<- extended handshake m lt_donthave=7,ut_pex=0\n",
		JX("in") "\"len\":37,\"ext_id\":0,\"ext\":\"handshake\",\"ext_len\":35,"
		"\"m\":[{\"name\":\"lt_donthave\",\"id\":7},{\"name\":\"ut_pex\",\"id\":0}]}\n");
	ev = ext_ev(BT_DIR_OUT, 5, (const uint8_t *)"de", 2);
	print_ev(&c, &ev);
	SAME(g_text, "-> extended 0x05 2 bytes !! id 5 is not in the receiver's m dictionary\n");
	ev = ext_ev(BT_DIR_OUT, 2, (const uint8_t *)"x", 1);
	print_ev(&c, &ev);
	T_CHECK(strncmp(g_text, "-> extended ut_metadata ", 24) == 0);
	/* Known by name, not decoded: the size. */
	ev = ext_ev(BT_DIR_OUT, 7, (const uint8_t *)"\0\0\0\x09", 4);
	EXPECT_EV(&c, &ev, "-> extended lt_donthave 4 bytes\n",
		JX("out") "\"len\":6,\"ext_id\":7,\"ext\":\"lt_donthave\",\"ext_len\":4}\n");

	/* A payload that is not what its name says. */
	ev = ext_ev(BT_DIR_OUT, 2, (const uint8_t *)"d5:piecei0ee", 12);
	print_ev(&c, &ev);
	T_CHECK(strncmp(g_text, "-> extended ut_metadata !! payload not decoded: ", 48) == 0);
	T_CHECK(strstr(g_text, " at byte 0\n") != NULL);   /* the rule is ext.c's */
	T_CHECK(json_line_ok(g_json));
}

static void test_learn_direct(void)
{
	struct bt_print_ctx c;
	struct bt_event ev;
	struct bt_ext_hs_out h;
	uint8_t b[BT_HS_LEN];
	const uint8_t *name;
	size_t n;

	/* A tool that prints nothing still gets the names (bt-fetch). */
	bt_print_ctx_init(&c);
	memset(&h, 0, sizeof h);
	h.ut_metadata = 9;
	n = ext_hs_payload(&h);
	ev = ext_ev(BT_DIR_IN, 0, g_pl, n);
	bt_print_ctx_learn(&c, &ev);
	bt_print_ctx_learn(&c, &ev);              /* twice is harmless */
	name = bt_print_ext_name(&c, BT_DIR_OUT, 9, &n);
	T_EQ_MEM(name, n, "ut_metadata", 11);
	T_EQ_UINT(c.side[BT_DIR_IN].next, 1);
	bt_handshake_encode(b, NULL, IH, (const uint8_t *)"-TR3000-abcdefghijkl");
	ev = hs_ev(BT_DIR_IN, b, sizeof b);
	bt_print_ctx_learn(&c, &ev);
	T_EQ_STR(c.side[BT_DIR_IN].client, "Transmission 3.00");
	/* A bad extended handshake teaches nothing. */
	ev = ext_ev(BT_DIR_OUT, 0, (const uint8_t *)"le", 2);
	bt_print_ctx_learn(&c, &ev);
	T_CHECK(!c.side[BT_DIR_OUT].have_ext);
}

static void test_ut_pex(void)
{
	struct bt_print_ctx c;
	struct bt_event ev;
	struct bt_ext_hs_out ours;
	struct bt_peer_addr add[3], drop[1];
	struct bt_wr w;

	ctx_plain(&c);
	memset(&ours, 0, sizeof ours);
	ours.ut_pex = 1;
	ev = ext_ev(BT_DIR_OUT, 0, g_pl, ext_hs_payload(&ours));
	bt_print_ctx_learn(&c, &ev);

	memset(add, 0, sizeof add);
	memset(drop, 0, sizeof drop);
	add[0].family = 4, memcpy(add[0].ip, "\x01\x02\x03\x04", 4), add[0].port = 6881;
	add[0].flags = BT_PEX_F_SEED | BT_PEX_F_UTP;
	add[1].family = 4, memcpy(add[1].ip, "\x05\x06\x07\x08", 4), add[1].port = 51413;
	add[2].family = 6, memcpy(add[2].ip, "\x20\x01\x0d\xb8", 4), add[2].ip[15] = 1;
	add[2].port = 6881, add[2].flags = BT_PEX_F_ENCRYPTION;
	drop[0].family = 4, memcpy(drop[0].ip, "\x09\x09\x09\x09", 4), drop[0].port = 1;
	bt_wr_init(&w, g_pl, sizeof g_pl);
	T_EQ_INT(bt_pex_encode(&w, add, 3, drop, 1), BT_OK);

	ev = ext_ev(BT_DIR_IN, 1, g_pl, w.len);
	EXPECT_EV(&c, &ev, "<- extended ut_pex added 2 dropped 1 added6 1\n",
		JX("in") "\"len\":98,\"ext_id\":1,\"ext\":\"ut_pex\",\"ext_len\":96,"
		"\"added\":2,\"dropped\":1,\"added6\":1,\"dropped6\":0}\n");
	c.verbosity = 1;
	EXPECT_EV(&c, &ev,
		"<- extended ut_pex added 2 1.2.3.4:6881 (seed,utp) 5.6.7.8:51413"
		" dropped 1 9.9.9.9:1 added6 1 [2001:db8::1]:6881 (encryption)\n",
		JX("in") "\"len\":98,\"ext_id\":1,\"ext\":\"ut_pex\",\"ext_len\":96,"
		"\"added\":2,\"added_peers\":[{\"addr\":\"1.2.3.4:6881\",\"flags\":\"seed,utp\"},"
		"{\"addr\":\"5.6.7.8:51413\"}],"
		"\"dropped\":1,\"dropped_peers\":[{\"addr\":\"9.9.9.9:1\"}],"
		"\"added6\":1,\"added6_peers\":[{\"addr\":\"[2001:db8::1]:6881\","
		"\"flags\":\"encryption\"}],\"dropped6\":0,\"dropped6_peers\":[]}\n");
}

/* ---- Escaping ----------------------------------------------------------- */

/* ESC sequences (clear screen, set title), raw 0xff 0xfe, a broken UTF-8
 * sequence: shown, never obeyed, in text and JSON alike. */
#define EVIL      "\x1b[2J\x1b]0;x\x07\xff\xfe\xc3(abcdef"
#define EVIL_TEXT "\\x1b[2J\\x1b]0;x\\x07\\xff\\xfe\\xc3(abcdef"
#define EVIL_JSON "\\u001b[2J\\u001b]0;x\\u0007\\\\xff\\\\xfe\\\\xc3(abcdef"

static void test_escaping(void)
{
	struct bt_print_ctx c;
	struct bt_event ev;
	struct bt_ext_hs_out h;
	uint8_t b[BT_HS_LEN];

	ctx_plain(&c);
	T_EQ_UINT(sizeof EVIL - 1, 20);
	bt_handshake_encode(b, NULL, IH, (const uint8_t *)EVIL);
	ev = hs_ev(BT_DIR_IN, b, sizeof b);
	EXPECT_EV(&c, &ev,
		"<- handshake 'BitTorrent protocol' reserved none info_hash " IH_HEX
		" peer_id '" EVIL_TEXT "' (unknown)\n",
		"{\"dir\":\"in\",\"kind\":\"handshake\",\"offset\":0,"
		"\"pstrlen\":19,\"pstr\":\"BitTorrent protocol\","
		"\"reserved\":\"0000000000000000\",\"reserved_bits\":[],"
		"\"info_hash\":\"" IH_HEX "\",\"peer_id\":\"" EVIL_JSON "\","
		"\"client\":\"unknown\"}\n");
	/* The remembered name is peerid.h's escaped text. */
	T_CHECK(strchr(c.side[BT_DIR_IN].client, 0x1b) == NULL);

	memset(&h, 0, sizeof h);
	h.v = EVIL;
	ev = ext_ev(BT_DIR_IN, 0, g_pl, ext_hs_payload(&h));
	EXPECT_EV(&c, &ev, "<- extended handshake v '" EVIL_TEXT "'\n",
		JX("in") "\"len\":30,\"ext_id\":0,\"ext\":\"handshake\",\"ext_len\":28,"
		"\"v\":\"" EVIL_JSON "\"}\n");

	/* Extension names are peer bytes too. */
	{
		struct bt_wr w;
		bt_wr_init(&w, g_pl, sizeof g_pl);
		bt_be_put_dict(&w);
		bt_be_put_cstr(&w, "m");
		bt_be_put_dict(&w);
		bt_be_put_cstr(&w, "\x1b[1m");
		bt_be_put_int(&w, 4);
		bt_be_put_end(&w);
		bt_be_put_end(&w);
		ev = ext_ev(BT_DIR_OUT, 0, g_pl, w.len);
		print_ev(&c, &ev);
		SAME(g_text, "-> extended handshake m \\x1b[1m=4\n");
		ev = ext_ev(BT_DIR_IN, 4, (const uint8_t *)"", 0);
		EXPECT_EV(&c, &ev, "<- extended \\x1b[1m 0 bytes\n",
			JX("in") "\"len\":2,\"ext_id\":4,\"ext\":\"\\u001b[1m\",\"ext_len\":0}\n");
	}

	/* The tool's own strings (why, peer tag) are escaped as well. */
	memset(&ev, 0, sizeof ev);
	ev.kind = BT_EV_NOTE;
	ev.why = "a\x1b" "b";
	c.peer = "p\x07";
	EXPECT_EV(&c, &ev, "p\\x07 -> note a\\x1bb\n",
		"{\"peer\":\"p\\u0007\",\"dir\":\"out\",\"kind\":\"note\",\"why\":\"a\\u001bb\"}\n");
}

/* ---- Connection events -------------------------------------------------- */

static void test_connection_events(void)
{
	struct bt_print_ctx c;
	struct bt_event ev;
	char want_t[160], want_j[256];

	bt_print_ctx_init(&c);
	c.peer = "1.2.3.4:6881";
	memset(&ev, 0, sizeof ev);
	ev.kind = BT_EV_CONNECTING;
	EXPECT_EV(&c, &ev, "    0.000 1.2.3.4:6881 -> connecting\n",
		"{\"t\":0.000,\"peer\":\"1.2.3.4:6881\",\"dir\":\"out\",\"kind\":\"connecting\"}\n");
	ev.kind = BT_EV_CONNECTED;
	ev.t_us = 1500;
	EXPECT_EV(&c, &ev, "    1.500 1.2.3.4:6881 -> connected\n",
		"{\"t\":1.500,\"peer\":\"1.2.3.4:6881\",\"dir\":\"out\",\"kind\":\"connected\"}\n");

	ev.kind = BT_EV_CONNECT_FAILED;
	ev.err = ECONNREFUSED;
	ev.t_us = 2000;
	snprintf(want_t, sizeof want_t, "    2.000 1.2.3.4:6881 -> connect failed: %s\n",
		 strerror(ECONNREFUSED));
	snprintf(want_j, sizeof want_j, "{\"t\":2.000,\"peer\":\"1.2.3.4:6881\",\"dir\":\"out\","
		 "\"kind\":\"connect-failed\",\"errno\":%d,\"error\":\"%s\"}\n",
		 ECONNREFUSED, strerror(ECONNREFUSED));
	EXPECT_EV(&c, &ev, want_t, want_j);
	T_CHECK(strstr(g_text, "Connection refused") != NULL);

	c.peer = NULL;
	c.time = BT_PRINT_TIME_NONE;
	memset(&ev, 0, sizeof ev);
	ev.dir = BT_DIR_IN;
	ev.kind = BT_EV_CLOSED;
	EXPECT_EV(&c, &ev, "<- closed\n", "{\"dir\":\"in\",\"kind\":\"closed\"}\n");
	ev.kind = BT_EV_RESET;
	EXPECT_EV(&c, &ev, "<- reset\n", "{\"dir\":\"in\",\"kind\":\"reset\"}\n");
	ev.kind = BT_EV_TIMEOUT;
	ev.why = "no handshake after 10 s";
	EXPECT_EV(&c, &ev, "<- timeout no handshake after 10 s\n",
		"{\"dir\":\"in\",\"kind\":\"timeout\",\"why\":\"no handshake after 10 s\"}\n");
	ev.kind = BT_EV_GAP;
	ev.why = NULL;
	ev.gap_len = 1460;
	ev.stream_off = 1000;
	EXPECT_EV(&c, &ev, "<- gap 1460 bytes missing at stream offset 1000\n",
		"{\"dir\":\"in\",\"kind\":\"gap\",\"offset\":1000,\"gap_len\":1460}\n");
	ev.kind = BT_EV_ENCRYPTED;
	EXPECT_EV(&c, &ev, "<- encrypted (not plain BitTorrent; MSE/PE?)\n",
		"{\"dir\":\"in\",\"kind\":\"encrypted\"}\n");
	ev.kind = BT_EV_NOTE;
	ev.dir = BT_DIR_OUT;
	ev.why = "sent 3 requests";
	EXPECT_EV(&c, &ev, "-> note sent 3 requests\n",
		"{\"dir\":\"out\",\"kind\":\"note\",\"why\":\"sent 3 requests\"}\n");
}

/* ---- Tracker answers ---------------------------------------------------- */

struct trk_arg {
	const char *url;
	const struct bt_trk_resp *r;
	const struct bt_peer_addr *peers;
	const struct bt_trk_peer_info *info;
	size_t n;
};

static void emit_announce(struct bt_out *o, void *arg)
{
	struct trk_arg *a = arg;
	bt_print_trk_announce(o, NULL, a->url, a->r, a->peers, a->info, a->n);
}

static struct bt_be_tok g_toks[256];
static struct bt_peer_addr g_peers[16];
static struct bt_trk_peer_info g_info[16];

static void announce(const uint8_t *body, size_t len, struct bt_trk_resp *r)
{
	struct bt_trk_err err;
	struct trk_arg a;

	T_EQ_INT(bt_trk_parse_announce(r, body, len, g_toks, 256, g_peers, g_info,
				       16, &err), BT_OK);
	a.url = "http://tr.example/announce";
	a.r = r;
	a.peers = g_peers;
	a.info = g_info;
	a.n = r->nstored;
	render_both(emit_announce, &a, &a);
}

static void test_trk_announce_compact(void)
{
	struct bt_trk_resp r;
	struct bt_wr w;
	static const uint8_t v4[12] = { 1, 2, 3, 4, 0x1a, 0xe1, 10, 0, 0, 1, 0xc8, 0xd5 };
	uint8_t v6[18] = { 0x20, 0x01, 0x0d, 0xb8 };

	v6[15] = 1, v6[16] = 0x1a, v6[17] = 0xe1;
	bt_wr_init(&w, g_pl, sizeof g_pl);
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "complete");
	bt_be_put_int(&w, 5);
	bt_be_put_cstr(&w, "incomplete");
	bt_be_put_int(&w, 2);
	bt_be_put_cstr(&w, "interval");
	bt_be_put_int(&w, 1800);
	bt_be_put_cstr(&w, "min interval");
	bt_be_put_int(&w, 900);
	bt_be_put_cstr(&w, "peers");
	bt_be_put_str(&w, v4, sizeof v4);
	bt_be_put_cstr(&w, "peers6");
	bt_be_put_str(&w, v6, sizeof v6);
	bt_be_put_end(&w);
	announce(g_pl, w.len, &r);
	CHECK_BOTH(
		"announce http://tr.example/announce interval 1800 min_interval 900"
		" seeders 5 leechers 2 completed - peers 3\n"
		"  1.2.3.4:6881\n"
		"  10.0.0.1:51413\n"
		"  [2001:db8::1]:6881\n",
		"{\"kind\":\"announce\",\"url\":\"http://tr.example/announce\","
		"\"interval\":1800,\"min_interval\":900,\"seeders\":5,\"leechers\":2,"
		"\"completed\":null,\"npeers\":3,\"npeers6\":1,\"peers_form\":\"compact\","
		"\"peers\":[{\"addr\":\"1.2.3.4:6881\"},{\"addr\":\"10.0.0.1:51413\"},"
		"{\"addr\":\"[2001:db8::1]:6881\"}]}\n");
}

static void test_trk_announce_dict(void)
{
	struct bt_trk_resp r;
	struct bt_wr w;

	/* BEP 3 dictionaries: a peer id to name the client, a host name, a
	 * tracker remark with an escape in it. */
	bt_wr_init(&w, g_pl, sizeof g_pl);
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "interval");
	bt_be_put_int(&w, 900);
	bt_be_put_cstr(&w, "peers");
	bt_be_put_list(&w);
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "ip");
	bt_be_put_cstr(&w, "1.2.3.4");
	bt_be_put_cstr(&w, "peer id");
	bt_be_put_cstr(&w, "-TR3000-abcdefghijkl");
	bt_be_put_cstr(&w, "port");
	bt_be_put_int(&w, 6881);
	bt_be_put_end(&w);
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "ip");
	bt_be_put_cstr(&w, "peer.example");
	bt_be_put_cstr(&w, "peer id");
	bt_be_put_cstr(&w, EVIL);
	bt_be_put_cstr(&w, "port");
	bt_be_put_int(&w, 51413);
	bt_be_put_end(&w);
	bt_be_put_end(&w);
	bt_be_put_cstr(&w, "warning message");
	bt_be_put_cstr(&w, "slow \x1b[5mdown");
	bt_be_put_end(&w);
	announce(g_pl, w.len, &r);
	CHECK_BOTH(
		"announce http://tr.example/announce warning 'slow \\x1b[5mdown'"
		" interval 900 min_interval - seeders - leechers - completed - peers 2\n"
		"  1.2.3.4:6881 peer_id '-TR3000-abcdefghijkl' (Transmission 3.00)\n"
		"  peer.example:51413 peer_id '" EVIL_TEXT "' (unknown)\n",
		"{\"kind\":\"announce\",\"url\":\"http://tr.example/announce\","
		"\"warning\":\"slow \\u001b[5mdown\",\"interval\":900,\"min_interval\":null,"
		"\"seeders\":null,\"leechers\":null,\"completed\":null,\"npeers\":2,"
		"\"npeers6\":0,\"peers_form\":\"dict\",\"peers\":["
		"{\"addr\":\"1.2.3.4:6881\",\"peer_id\":\"-TR3000-abcdefghijkl\","
		"\"client\":\"Transmission 3.00\"},"
		"{\"host\":\"peer.example\",\"port\":51413,\"peer_id\":\"" EVIL_JSON "\","
		"\"client\":\"unknown\"}]}\n");
}

static void test_trk_failure(void)
{
	struct bt_trk_resp r;
	struct bt_wr w;

	bt_wr_init(&w, g_pl, sizeof g_pl);
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "failure reason");
	bt_be_put_cstr(&w, "unregistered \x1b]0;torrent\x07 \xff");
	bt_be_put_end(&w);
	announce(g_pl, w.len, &r);
	CHECK_BOTH(
		"announce http://tr.example/announce failure 'unregistered"
		" \\x1b]0;torrent\\x07 \\xff'\n",
		"{\"kind\":\"announce\",\"url\":\"http://tr.example/announce\","
		"\"failure\":\"unregistered \\u001b]0;torrent\\u0007 \\\\xff\"}\n");
}

struct scrape_arg {
	const struct bt_trk_scrape_resp *r;
};

static void emit_scrape(struct bt_out *o, void *arg)
{
	struct scrape_arg *a = arg;
	bt_print_trk_scrape(o, NULL, "http://tr.example/scrape", a->r);
}

static void test_trk_scrape(void)
{
	struct bt_trk_scrape_resp r;
	struct bt_trk_err err;
	struct scrape_arg a = { &r };
	uint8_t ih2[20];
	struct bt_wr w;

	memset(ih2, 0xee, 20);
	bt_wr_init(&w, g_pl, sizeof g_pl);
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "files");
	bt_be_put_dict(&w);
	bt_be_put_str(&w, IH, 20);
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "complete");
	bt_be_put_int(&w, 5);
	bt_be_put_cstr(&w, "downloaded");
	bt_be_put_int(&w, 50);
	bt_be_put_cstr(&w, "incomplete");
	bt_be_put_int(&w, 2);
	bt_be_put_cstr(&w, "name");
	bt_be_put_cstr(&w, "debian\x1b.iso");
	bt_be_put_end(&w);
	bt_be_put_str(&w, ih2, 20);
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "complete");
	bt_be_put_int(&w, 0);
	bt_be_put_end(&w);
	bt_be_put_end(&w);
	bt_be_put_end(&w);
	T_EQ_INT(bt_trk_parse_scrape(&r, g_pl, w.len, g_toks, 256, &err), BT_OK);
	render_both(emit_scrape, &a, &a);
	CHECK_BOTH(
		"scrape http://tr.example/scrape files 2\n"
		"  " IH_HEX " seeders 5 leechers 2 completed 50 name 'debian\\x1b.iso'\n"
		"  eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee seeders 0 leechers - completed -\n",
		"{\"kind\":\"scrape\",\"url\":\"http://tr.example/scrape\",\"nfiles\":2,"
		"\"files\":[{\"info_hash\":\"" IH_HEX "\",\"seeders\":5,\"leechers\":2,"
		"\"completed\":50,\"name\":\"debian\\u001b.iso\"},"
		"{\"info_hash\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\",\"seeders\":0,"
		"\"leechers\":null,\"completed\":null}]}\n");
}

static void emit_udp(struct bt_out *o, void *arg)
{
	static const uint8_t hashes[2][20] = { { 1 }, { 2 } };
	struct bt_udp_announce_resp r = { 1800, 3, 7, 2, 2 };
	struct bt_udp_scrape_entry e[1] = { { 7, 70, 3 } };
	struct bt_peer_addr p[2];
	struct bt_trk_err err = { BT_EINVAL, BT_UDP_P_TID, 4, "transaction id differs", 4660 };

	(void)arg;
	memset(p, 0, sizeof p);
	p[0].family = 4, memcpy(p[0].ip, "\x7f\0\0\x01", 4), p[0].port = 6881;
	p[1].family = 6, p[1].ip[15] = 1, p[1].port = 6882;
	bt_print_udp_announce(o, NULL, "udp://tr.example:6969", &r, p, 2);
	bt_print_udp_scrape(o, NULL, "udp://tr.example:6969", hashes, 2, e, 1);
	bt_print_trk_failure(o, NULL, "announce", "udp://tr.example:6969",
			     (const uint8_t *)"not registered\n", 15);
	bt_print_trk_error(o, NULL, "announce", "udp://tr.example:6969", &err);
}

static void test_trk_udp(void)
{
	const char *jl;
	int lines = 0;

	render_both(emit_udp, NULL, NULL);
	SAME(g_text,
		"announce udp://tr.example:6969 interval 1800 seeders 7 leechers 3 peers 2\n"
		"  127.0.0.1:6881\n"
		"  [::1]:6882\n"
		"scrape udp://tr.example:6969 files 1 !! tracker answered 1 entries for 2 info-hashes\n"
		"  0100000000000000000000000000000000000000 seeders 7 leechers 3 completed 70\n"
		"announce udp://tr.example:6969 failure 'not registered\\x0a'\n"
		"announce udp://tr.example:6969 error malformed: transaction id differs"
		" at byte 4 (value 4660)\n");
	SAME(g_json,
		"{\"kind\":\"announce\",\"url\":\"udp://tr.example:6969\",\"interval\":1800,"
		"\"seeders\":7,\"leechers\":3,\"npeers\":2,\"peers\":[{\"addr\":\"127.0.0.1:6881\"},"
		"{\"addr\":\"[::1]:6882\"}]}\n"
		"{\"kind\":\"scrape\",\"url\":\"udp://tr.example:6969\",\"nfiles\":1,"
		"\"problems\":[\"tracker answered 1 entries for 2 info-hashes\"],"
		"\"files\":[{\"info_hash\":\"0100000000000000000000000000000000000000\","
		"\"seeders\":7,\"leechers\":3,\"completed\":70}]}\n"
		"{\"kind\":\"announce\",\"url\":\"udp://tr.example:6969\","
		"\"failure\":\"not registered\\n\"}\n"
		"{\"kind\":\"announce\",\"url\":\"udp://tr.example:6969\",\"error\":\"malformed\","
		"\"rule\":\"transaction id differs\",\"offset\":4,\"value\":4660,"
		"\"problem\":\"wrong transaction id\"}\n");
	/* Each line alone is a valid object. */
	for (jl = g_json; *jl; lines++) {
		const char *nl = strchr(jl, '\n');
		char line[1024];
		size_t n = (size_t)(nl - jl) + 1;
		T_CHECK(nl && n < sizeof line);
		memcpy(line, jl, n);
		line[n] = '\0';
		T_CHECK(json_line_ok(line));
		jl = nl + 1;
	}
	T_EQ_INT(lines, 4);
}

/* A tool's own fields (bt-announce's timings) in the same record. */
static void emit_fields(struct bt_out *o, void *arg)
{
	struct trk_arg *a = arg;

	bt_out_begin(o);
	bt_print_trk_announce_fields(o, NULL, a->url, a->r);
	bt_out_fixed(o, "total_ms", " in ", 42500, 3);
	bt_out_text(o, " ms");
	bt_print_trk_peers(o, NULL, a->peers, a->info, a->n);
	bt_out_end(o);
}

static void test_trk_fields(void)
{
	struct bt_trk_resp r;
	struct bt_trk_err err;
	struct trk_arg a;
	static const char body[] = "d8:intervali60e5:peers6:\x01\x02\x03\x04\x1a\xe1" "e";

	T_EQ_INT(bt_trk_parse_announce(&r, body, sizeof body - 1, g_toks, 256, g_peers,
				       NULL, 16, &err), BT_OK);
	a.url = "http://t/a";
	a.r = &r;
	a.peers = g_peers;
	a.info = NULL;
	a.n = r.nstored;
	render_both(emit_fields, &a, &a);
	CHECK_BOTH(
		"announce http://t/a interval 60 min_interval - seeders - leechers -"
		" completed - peers 1 in 42.500 ms\n"
		"  1.2.3.4:6881\n",
		"{\"kind\":\"announce\",\"url\":\"http://t/a\",\"interval\":60,"
		"\"min_interval\":null,\"seeders\":null,\"leechers\":null,\"completed\":null,"
		"\"npeers\":1,\"npeers6\":0,\"peers_form\":\"compact\",\"total_ms\":42.500,"
		"\"peers\":[{\"addr\":\"1.2.3.4:6881\"}]}\n");
}

/* ---- Hostile input ------------------------------------------------------ */

/* Every id with payloads of assorted sizes and random bytes, extended
 * payloads of random bytes under each learned name, in both modes: never
 * a crash (ASan: no read outside the frame), always one valid JSON object. */
static void test_hostile_sweep(void)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 4, 5, 8, 11, 12, 13, 47, 48, 49, 80, 81 };
	struct bt_print_ctx c;
	struct bt_ext_hs_out h;
	struct bt_event ev;
	uint32_t seed = 12345;
	uint8_t pl[96];
	int bad = 0, n = 0;

	ctx_plain(&c);
	c.piece_count = 100;
	c.piece_length = 16384;
	c.verbosity = 2;
	memset(&h, 0, sizeof h);
	h.ut_metadata = 1;
	h.ut_pex = 2;
	ev = ext_ev(BT_DIR_OUT, 0, g_pl, ext_hs_payload(&h));
	bt_print_ctx_learn(&c, &ev);
	for (int id = 0; id < 256; id++) {
		for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
			size_t len = sizes[k];
			const uint8_t *frame;
			for (size_t i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				pl[i] = (uint8_t)(seed >> 16);
			}
			if (id == BT_MSG_EXTENDED && len)
				pl[0] = (uint8_t)(k % 4);   /* ext ids 0..3 */
			bt_wr_init(&g_w, g_buf, sizeof g_buf);
			bt_wr_u32be(&g_w, (uint32_t)len + 1);
			bt_wr_u8(&g_w, (uint8_t)id);
			bt_wr_bytes(&g_w, pl, len);
			/* Flush against a PROT_NONE page: over-reads fault. */
			frame = t_guarded(g_buf, g_w.len);
			memset(&ev, 0, sizeof ev);
			/* IN: extended ids 1, 2 resolve through our m. */
			ev.dir = (id & 1) || id == BT_MSG_EXTENDED ? BT_DIR_IN : BT_DIR_OUT;
			ev.kind = bt_msg_parse(frame, g_w.len, &g_msg) == BT_OK ?
				  BT_EV_MSG : BT_EV_MALFORMED;
			ev.msg = &g_msg;
			print_ev(&c, &ev);
			n++;
			if (!json_line_ok(g_json) || !g_text || !strchr(g_text, '\n') ||
			    strchr(g_text, '\n')[1] != '\0' || strchr(g_text, 0x1b)) {
				if (!bad++)
					T_FAILF("id %d len %zu: %s / %s", id, len, g_text, g_json);
			}
		}
	}
	T_EQ_INT(n, 256 * 15);
	T_EQ_INT(bad, 0);
	/* The decoders were reached: random bytes are no valid ut_pex. */
	bt_wr_init(&g_w, g_buf, sizeof g_buf);
	bt_msg_put_extended(&g_w, 2, (const uint8_t *)"\xc3x", 2);
	ev = msg_ev(BT_DIR_IN);
	print_ev(&c, &ev);
	/* (The rule itself is bencode.c's wording.) */
	T_CHECK(strncmp(g_text, "<- extended ut_pex !! payload not decoded: ", 43) == 0);
	T_EQ_INT(bad, 0);
}

/* A finished trk.h request that timed out over UDP, and one answered over
 * HTTP with a failure reason: the outcome fields every tool shares. */
static void emit_trk_req(struct bt_out *o, void *arg)
{
	const struct bt_trk_req *r = arg;

	bt_out_begin(o);
	bt_print_trk_req_fields(o, NULL, r->url, r);
	bt_print_trk_req_lists(o, NULL, r);
	bt_out_end(o);
}

static void test_trk_req_outcome(void)
{
	struct bt_trk_req r;
	static const char fail[] = "torrent \\x1b[2J not registered";

	memset(&r, 0, sizeof r);
	r.kind = BT_TRK_ANNOUNCE;
	r.url = "udp://127.0.0.1:6969/announce";
	r.scheme = BT_URL_UDP;
	r.fail = BT_TRKF_TIMEOUT;
	snprintf(r.msg, sizeof r.msg, "no answer after 3 retries");
	memset(r.ann.info_hash, 0xab, 20);
	r.t.dns_us = -1;
	r.t.connect_us = r.t.tls_us = r.t.first_byte_us = -1;
	r.t.total_us = 7000123;
	r.t.udp_connect_us = -1;
	r.t.udp_request_us = -1;
	r.t.retries = 3;
	render_both(emit_trk_req, &r, &r);
	SAME(g_text, "announce udp://127.0.0.1:6969/announce info_hash "
	     "abababababababababababababababababababab error timeout: no answer after 3 retries"
	     " total 7000.123 ms (dns - connect_rtt - announce_rtt - retries 3)\n");
	SAME(g_json, "{\"kind\":\"announce\",\"url\":\"udp://127.0.0.1:6969/announce\","
	     "\"info_hash\":\"abababababababababababababababababababab\",\"protocol\":\"udp\","
	     "\"ok\":false,\"error_kind\":\"timeout\",\"error\":\"no answer after 3 retries\","
	     "\"http_status\":null,\"timing\":{\"total_ms\":7000.123,\"dns_ms\":null,"
	     "\"connect_ms\":null,\"tls_ms\":null,\"first_byte_ms\":null,\"udp_connect_ms\":null,"
	     "\"udp_request_ms\":null,\"retries\":3,\"conn_id_reused\":false,"
	     "\"tcp_reused\":false,\"redirects\":0}}\n");

	/* HTTP announce answered with a failure reason carrying an escape:
	 * the printer escapes the tracker's bytes; trk.h's msg is escaped
	 * text already. */
	static const char body[] = "d14:failure reason11:bad \x1b[2J!!!e";
	struct bt_be_tok btoks[8];
	struct bt_peer_addr peers[2];
	struct bt_trk_err terr;

	memset(&r, 0, sizeof r);
	r.kind = BT_TRK_ANNOUNCE;
	r.url = "http://127.0.0.1:6969/announce";
	r.scheme = BT_URL_HTTP;
	r.fail = BT_TRKF_FAILURE;
	r.http_status = 200;
	T_EQ_INT(bt_trk_parse_announce(&r.resp, body, sizeof body - 1, btoks, 8,
				       peers, NULL, 2, &terr), BT_OK);
	T_CHECK(r.resp.failure != NULL);
	snprintf(r.msg, sizeof r.msg, "%s", fail);
	r.t.total_us = 1500;
	r.t.dns_us = 10;
	r.t.connect_us = 200;
	r.t.tls_us = -1;
	r.t.first_byte_us = 1000;
	r.t.udp_connect_us = r.t.udp_request_us = -1;
	render_both(emit_trk_req, &r, &r);
	T_CHECK(strstr(g_text, "bad \\x1b[2J!!!") != NULL);
	T_CHECK(strchr(g_text, 0x1b) == NULL);
	T_CHECK(strchr(g_json, 0x1b) == NULL);
	T_CHECK(strstr(g_json, "\"http_status\":200") != NULL);
	T_CHECK(strstr(g_json, "\"error_kind\":\"failure\"") != NULL);
	T_CHECK(json_line_ok(g_json));
}

int main(void)
{
	T_RUN(test_json_checker);
	T_RUN(test_handshake_good);
	T_RUN(test_handshake_capital_p);
	T_RUN(test_handshake_python_client);
	T_RUN(test_messages);
	T_RUN(test_blocks);
	T_RUN(test_bitfield_count);
	T_RUN(test_bitfields);
	T_RUN(test_malformed);
	T_RUN(test_framing_errors);
	T_RUN(test_extended_learned);
	T_RUN(test_learn_direct);
	T_RUN(test_ut_pex);
	T_RUN(test_escaping);
	T_RUN(test_connection_events);
	T_RUN(test_trk_announce_compact);
	T_RUN(test_trk_announce_dict);
	T_RUN(test_trk_failure);
	T_RUN(test_trk_scrape);
	T_RUN(test_trk_udp);
	T_RUN(test_trk_fields);
	T_RUN(test_hostile_sweep);
	T_RUN(test_trk_req_outcome);
	free(g_text);
	free(g_json);
	return T_DONE();
}
