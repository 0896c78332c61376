/* test_diag.c — timelines built by hand, exact verdicts.
 *
 * Each test writes the events a session would produce (the bytes each
 * side sent, with times), feeds them to bt_diag and checks the verdict
 * names in order, their evidence and the key words of the explanation. */
#include "t.h"

#include <errno.h>

#include "conn.h"
#include "diag.h"
#include "mse.h"
#include "wire.h"

#define MS(x) ((uint64_t)((x) * 1000.0))

static const uint8_t IH[20] = "ABCDEFGHIJKLMNOPQRST";
static const uint8_t IH2[20] = "abcdefghijklmnopqrst";
static const uint8_t ID[20] = "-BK0100-123456789012";
static const uint8_t PEER[20] = "-TR3000-abcdefghijkl";
static const uint8_t PIGEON[20] = "pigeon";

static struct bt_diag D;
static struct bt_verdict V[16];
static size_t NV;

static void start(const struct bt_diag_opts *o)
{
	bt_diag_free(&D);
	bt_diag_init(&D, o);
}

static void ev_plain(double t, enum bt_ev_kind k, enum bt_dir dir, int err,
		     uint64_t off)
{
	struct bt_event e;

	memset(&e, 0, sizeof e);
	e.t_us = MS(t);
	e.kind = k;
	e.dir = dir;
	e.err = err;
	e.stream_off = off;
	bt_diag_feed(&D, &e);
}

static uint64_t off_out, off_in;

static void connected(double t)
{
	off_out = off_in = 0;
	ev_plain(0, BT_EV_CONNECTING, BT_DIR_OUT, 0, 0);
	ev_plain(t, BT_EV_CONNECTED, BT_DIR_OUT, 0, 0);
}

/* Our handshake as conn.c reports it: the exact bytes, the parse (or
 * what we meant when they do not parse). */
static void our_hs(double t, const struct bt_conn_hs *h)
{
	uint8_t raw[400];
	size_t n = bt_conn_hs_encode(h, raw, sizeof raw);
	struct bt_handshake hs;
	struct bt_event e;

	memset(&hs, 0, sizeof hs);
	if (bt_handshake_parse(raw, n, &hs) != (long)n) {
		memcpy(hs.info_hash, h->info_hash, 20);
		memcpy(hs.reserved, h->reserved, 8);
	}
	memset(&e, 0, sizeof e);
	e.t_us = MS(t);
	e.kind = BT_EV_HANDSHAKE;
	e.dir = BT_DIR_OUT;
	e.hs = &hs;
	e.raw = raw;
	e.raw_len = n;
	e.stream_off = off_out;
	off_out += n;
	bt_diag_feed(&D, &e);
}

static void good_hs(double t, const uint8_t *ih, bool fast)
{
	struct bt_conn_hs h;

	bt_conn_hs_default(&h, ih, ID);
	bt_reserved_set(h.reserved, BT_RSV_EXTENSION);
	if (fast)
		bt_reserved_set(h.reserved, BT_RSV_FAST);
	our_hs(t, &h);
}

static void peer_hs(double t, const uint8_t *ih, bool fast)
{
	uint8_t raw[BT_HS_LEN], r[8] = { 0 };
	struct bt_handshake hs;
	struct bt_event e;

	bt_reserved_set(r, BT_RSV_EXTENSION);
	if (fast)
		bt_reserved_set(r, BT_RSV_FAST);
	bt_handshake_encode(raw, r, ih, PEER);
	bt_handshake_parse(raw, sizeof raw, &hs);
	memset(&e, 0, sizeof e);
	e.t_us = MS(t);
	e.kind = BT_EV_HANDSHAKE;
	e.dir = BT_DIR_IN;
	e.hs = &hs;
	e.raw = raw;
	e.raw_len = sizeof raw;
	e.stream_off = off_in;
	off_in += sizeof raw;
	bt_diag_feed(&D, &e);
}

/* One framed message (bytes built by the caller with a wire.h encoder). */
static void msg(double t, enum bt_dir dir, const uint8_t *p, size_t n)
{
	struct bt_msg m;
	struct bt_event e;
	int rc = bt_msg_parse(p, n, &m);

	memset(&e, 0, sizeof e);
	e.t_us = MS(t);
	e.kind = rc == BT_OK ? BT_EV_MSG : BT_EV_MALFORMED;
	e.dir = dir;
	e.msg = &m;
	e.raw = p;
	e.raw_len = n;
	e.why = m.bad;
	if (dir == BT_DIR_OUT) {
		e.stream_off = off_out;
		off_out += n;
	} else {
		e.stream_off = off_in;
		off_in += n;
	}
	bt_diag_feed(&D, &e);
}

static void simple(double t, enum bt_dir dir, uint8_t id)
{
	uint8_t b[8];
	struct bt_wr w;

	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_simple(&w, id);
	msg(t, dir, b, w.len);
}

static void request(double t, uint32_t i, uint32_t begin, uint32_t len)
{
	uint8_t b[32];
	struct bt_wr w;

	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_request(&w, i, begin, len);
	msg(t, BT_DIR_OUT, b, w.len);
}

static void reject(double t, uint32_t i, uint32_t begin, uint32_t len)
{
	uint8_t b[32];
	struct bt_wr w;

	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_reject(&w, i, begin, len);
	msg(t, BT_DIR_IN, b, w.len);
}

static void piece(double t, uint32_t i, uint32_t begin, uint32_t len)
{
	static uint8_t b[16384 + 13], data[16384];
	struct bt_wr w;

	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_piece(&w, i, begin, data, len);
	msg(t, BT_DIR_IN, b, w.len);
}

static void bitfield(double t, const uint8_t *bits, size_t n)
{
	uint8_t b[64];
	struct bt_wr w;

	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_bitfield(&w, bits, n);
	msg(t, BT_DIR_IN, b, w.len);
}

static void judge(double end)
{
	if (end > 0)
		bt_diag_end(&D, MS(end));
	NV = bt_diag_verdicts(&D, V, sizeof V / sizeof V[0]);
}

/* "a,b,c": the verdict names in order. */
static const char *names(void)
{
	static char b[512];
	size_t i;

	b[0] = 0;
	for (i = 0; i < NV && i < sizeof V / sizeof V[0]; i++) {
		if (i)
			strcat(b, ",");
		strcat(b, V[i].name);
	}
	return b;
}

#define T_HAS(s, sub) do { \
	const char *t_s_ = (s); \
	if (!strstr(t_s_, (sub))) T_FAILF("\"%s\" lacks \"%s\"", t_s_, (sub)); \
} while (0)

/* ---- connection --------------------------------------------------------- */

static void test_refused(void)
{
	start(NULL);
	ev_plain(0, BT_EV_CONNECTING, BT_DIR_OUT, 0, 0);
	ev_plain(0.2, BT_EV_CONNECT_FAILED, BT_DIR_OUT, ECONNREFUSED, 0);
	judge(0);
	T_EQ_STR(names(), "connect-refused");
	T_CHECK(V[0].problem);
	T_EQ_UINT(V[0].t_us, 200);
	T_EQ_STR(V[0].rule, "TCP");
	T_HAS(V[0].text, "Nothing listens");
}

static void test_connect_timeout(void)
{
	start(NULL);
	ev_plain(0, BT_EV_CONNECTING, BT_DIR_OUT, 0, 0);
	ev_plain(10000, BT_EV_CONNECT_FAILED, BT_DIR_OUT, ETIMEDOUT, 0);
	judge(0);
	T_EQ_STR(names(), "connect-timeout");
	T_HAS(V[0].text, "within 10000.0 ms");
}

/* ---- our handshake ------------------------------------------------------ */

/* The notes' main bug: "pigeon", a 6-byte peer id.  The peer reads our
 * info-hash, answers, then waits for 14 bytes that never come. */
static void test_short_peer_id(void)
{
	struct bt_conn_hs h;

	start(NULL);
	connected(0.1);
	bt_conn_hs_default(&h, IH, PIGEON);
	h.peer_id_len = 6;
	our_hs(0.2, &h);
	peer_hs(0.5, IH, false);
	judge(5000);
	T_EQ_STR(names(), "short-peer-id");
	T_CHECK(V[0].problem);
	T_EQ_STR(V[0].evidence, "out handshake, 54 bytes of 68");
	T_EQ_INT(V[0].dir, BT_DIR_OUT);
	T_EQ_INT(V[0].kind, BT_EV_HANDSHAKE);
	T_EQ_UINT(V[0].t_us, 200);
	T_HAS(V[0].text, "our peer id is 6 bytes, not 20");
	T_HAS(V[0].text, "answered with its own handshake 0.3 ms later");
	T_HAS(V[0].text, "waits for the 14 missing bytes before it sends anything else");
	T_HAS(V[0].text, "We sent nothing more");
	T_HAS(V[0].rule, "BEP 3, handshake");
}

/* Then "interested" (5 bytes) goes in as peer-id bytes, not a message. */
static void test_short_peer_id_then_interested(void)
{
	struct bt_conn_hs h;

	start(NULL);
	connected(0.1);
	bt_conn_hs_default(&h, IH, PIGEON);
	h.peer_id_len = 6;
	our_hs(0.2, &h);
	peer_hs(0.5, IH, false);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	judge(5000);
	T_EQ_STR(names(), "short-peer-id");
	T_HAS(V[0].text, "The 5 bytes we sent next (1 message, starting with interested at 1.0 ms) were taken as more of the peer id");
	T_HAS(V[0].text, "9 bytes are still missing");
}

/* Enough bytes after it to complete the "peer id": misparsed from there. */
static void test_short_peer_id_then_requests(void)
{
	struct bt_conn_hs h;

	start(NULL);
	connected(0.1);
	bt_conn_hs_default(&h, IH, PIGEON);
	h.peer_id_len = 6;
	our_hs(0.2, &h);
	peer_hs(0.5, IH, false);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	request(2, 0, 0, 16384);
	ev_plain(3, BT_EV_CLOSED, BT_DIR_IN, 0, BT_HS_LEN);
	judge(0);
	T_EQ_STR(names(), "short-peer-id");
	T_HAS(V[0].text, "The first 14 of the 22 bytes we sent next (2 messages, starting with interested at 1.0 ms)");
	T_HAS(V[0].text, "reads everything after them from the wrong offset");
	T_HAS(V[0].text, "closed the connection at 3.0 ms");
}

static void test_capital_p(void)
{
	struct bt_conn_hs h;

	start(NULL);
	connected(0.1);
	bt_conn_hs_default(&h, IH, ID);
	h.pstr = "BitTorrent Protocol";
	our_hs(1, &h);
	ev_plain(3, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	judge(0);
	T_EQ_STR(names(), "our-protocol-string");
	T_CHECK(V[0].problem);
	T_HAS(V[0].text, "capital P");
	T_HAS(V[0].text, "closed the connection 2.0 ms later");
	T_EQ_STR(V[0].evidence, "out handshake, 68 bytes");
}

static void test_capital_p_reset(void)
{
	struct bt_conn_hs h;

	start(NULL);
	connected(0.1);
	bt_conn_hs_default(&h, IH, ID);
	h.pstr = "BitTorrent Protocol";
	our_hs(1, &h);
	ev_plain(1.5, BT_EV_RESET, BT_DIR_IN, ECONNRESET, 0);
	judge(0);
	T_EQ_STR(names(), "our-protocol-string");
	T_HAS(V[0].text, "reset the connection 0.5 ms later");
}

/* A peer that tolerates the case: a remark, and the session goes on. */
/* A peer that also speaks MSE waits for the rest of an "encryption
 * handshake" (aria2): silence until our timeout. */
static void test_capital_p_silent(void)
{
	struct bt_conn_hs h;

	start(NULL);
	connected(0.1);
	bt_conn_hs_default(&h, IH, ID);
	h.pstr = "BitTorrent Protocol";
	our_hs(0.5, &h);
	ev_plain(15000.5, BT_EV_TIMEOUT, BT_DIR_OUT, 0, 0);
	ev_plain(15000.6, BT_EV_CLOSED, BT_DIR_OUT, 0, 0);
	judge(0);
	T_EQ_STR(names(), "our-protocol-string");
	T_HAS(V[0].text, "had sent nothing back when the session ended 15000.1 ms later");
	T_HAS(V[0].text, "(aria2 does)");
}

static void test_capital_p_accepted(void)
{
	struct bt_conn_hs h;

	start(NULL);
	connected(0.1);
	bt_conn_hs_default(&h, IH, ID);
	h.pstr = "BitTorrent Protocol";
	our_hs(1, &h);
	peer_hs(2, IH, false);
	simple(2.1, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(3, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(4, BT_DIR_IN, BT_MSG_UNCHOKE);
	judge(5000);
	T_EQ_STR(names(), "our-protocol-string");
	T_CHECK(!V[0].problem);
	T_HAS(V[0].text, "answered anyway");
}

/* The notes' handshake, all of it: string first, then 19, capital P,
 * "pigeon". */
static void test_notes_handshake(void)
{
	struct bt_conn_hs h;

	start(NULL);
	connected(0.1);
	bt_conn_hs_default(&h, IH, PIGEON);
	h.pstr = "BitTorrent Protocol";
	h.pstrlen_after = true;
	h.peer_id_len = 6;
	our_hs(1, &h);
	ev_plain(1.4, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	judge(0);
	T_EQ_STR(names(), "our-pstrlen,our-protocol-string");
	T_HAS(V[0].text, "out of order");
	T_HAS(V[0].text, "'B' (66)");
	T_EQ_STR(V[0].evidence, "out handshake, 54 bytes, first byte 0x42");
	T_HAS(V[1].text, "capital P");
}

static void test_wrong_info_hash_known(void)
{
	struct bt_diag_opts o = { 0 };

	o.have_info_hash = true;
	memcpy(o.info_hash, IH, 20);
	start(&o);
	connected(0.1);
	good_hs(0.2, IH2, false);
	ev_plain(0.9, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	judge(0);
	T_EQ_STR(names(), "our-info-hash");
	T_HAS(V[0].text, "We sent info-hash 6162636465666768696a6b6c6d6e6f7071727374, "
	      "but the torrent's is 4142434445464748494a4b4c4d4e4f5051525354");
	T_HAS(V[0].text, "closed the connection 0.7 ms later");
}

static void test_closed_on_handshake(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH2, false);
	ev_plain(0.9, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	judge(0);
	T_EQ_STR(names(), "closed-on-handshake");
	T_EQ_UINT(V[0].t_us, 900);
	T_EQ_STR(V[0].evidence, "in closed, 0.7 ms after our plain handshake");
	T_HAS(V[0].text, "does not serve info-hash 6162636465666768696a6b6c6d6e6f7071727374");
}

static void test_reset_on_handshake(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	ev_plain(0.3, BT_EV_RESET, BT_DIR_IN, ECONNRESET, 0);
	judge(0);
	T_EQ_STR(names(), "reset-on-handshake");
	T_HAS(V[0].rule, "MSE/PE");
	T_HAS(V[0].text, "only speaks encrypted");
}

static void test_no_answer(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	ev_plain(10000.2, BT_EV_TIMEOUT, BT_DIR_OUT, 0, 0);
	judge(0);
	T_EQ_STR(names(), "no-handshake");
	T_HAS(V[0].text, "in the 10000.0 ms we waited");
}

static void test_partial_answer(void)
{
	struct bt_event e;

	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	memset(&e, 0, sizeof e);
	e.t_us = 900;
	e.kind = BT_EV_CLOSED;
	e.dir = BT_DIR_IN;
	e.stream_off = 30;
	e.why = "30 bytes into a 68-byte handshake";
	bt_diag_feed(&D, &e);
	judge(0);
	T_EQ_STR(names(), "no-handshake");
	T_EQ_STR(V[0].evidence, "30 bytes received, no complete handshake");
	T_HAS(V[0].text, "(30 bytes into a 68-byte handshake)");
}

static void test_other_info_hash(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH2, false);
	judge(3000);
	T_EQ_STR(names(), "other-info-hash");
	T_EQ_INT(V[0].dir, BT_DIR_IN);
}

/* ---- pieces, interest, unchoke ----------------------------------------- */

static void test_have_none(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, true);
	peer_hs(0.4, IH, true);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_NONE);
	judge(3000);
	T_EQ_STR(names(), "no-pieces");
	T_EQ_STR(V[0].rule, "BEP 6, Have None");
	T_EQ_INT(V[0].msg_id, BT_MSG_HAVE_NONE);
	T_EQ_STR(V[0].evidence, "in have none");
}

static void test_empty_bitfield(void)
{
	uint8_t z[3] = { 0, 0, 0 };

	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	bitfield(0.5, z, 3);
	judge(3000);
	T_EQ_STR(names(), "no-pieces");
	T_EQ_STR(V[0].evidence, "in bitfield, 0 of 24 bits set");
}

static void test_nothing_announced(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	judge(3000.4);
	T_EQ_STR(names(), "no-pieces");
	T_HAS(V[0].text, "In the 3000.0 ms after its handshake");
	T_HAS(V[0].rule, "may skip the bitfield");
}

/* 0.5 s is too soon to say the peer has nothing. */
static void test_too_short_to_judge(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	judge(500);
	T_EQ_STR(names(), "");
}

/* A have later counts: the peer got a piece after have_none. */
static void test_have_after_have_none(void)
{
	uint8_t b[16];
	struct bt_wr w;

	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, true);
	peer_hs(0.4, IH, true);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_NONE);
	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_have(&w, 3);
	msg(100, BT_DIR_IN, b, w.len);
	simple(101, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(102, BT_DIR_IN, BT_MSG_UNCHOKE);
	judge(3000);
	T_EQ_STR(names(), "");
	T_EQ_UINT(D.pieces_set, 1);
}

static void test_not_interested(void)
{
	uint8_t bits[1] = { 0xf0 };

	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	bitfield(0.5, bits, 1);
	judge(5000.4);
	T_EQ_STR(names(), "not-interested");
	T_EQ_STR(V[0].evidence, "in bitfield, then 4999.9 ms with us choked and never interested");
	T_HAS(V[0].text, "We never sent interested");
	T_HAS(V[0].rule, "interested");
}

static void test_never_unchoked(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	ev_plain(15001, BT_EV_TIMEOUT, BT_DIR_OUT, 0, 0);
	judge(0);
	T_EQ_STR(names(), "never-unchoked");
	T_EQ_STR(V[0].evidence, "out interested, then 15000.0 ms choked");
	T_HAS(V[0].text, "every 10 seconds");
}

/* The happy path: nothing to say. */
static void test_clean_session(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	request(3, 0, 0, 16384);
	piece(4, 0, 0, 16384);
	ev_plain(5000, BT_EV_CLOSED, BT_DIR_OUT, 0, 0);
	judge(0);
	T_EQ_STR(names(), "");
	T_EQ_UINT(D.pieces_in, 1);
	T_EQ_UINT(D.t_unchoke, 2000);
	T_EQ_UINT(D.t_first_piece, 4000);
}

/* ---- requests ----------------------------------------------------------- */

static void test_whole_piece_request(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	request(3, 5, 0, 262144);
	ev_plain(3.5, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	judge(0);
	T_EQ_STR(names(), "request-too-big");
	T_EQ_STR(V[0].evidence, "out request piece 5 begin 0 length 262144");
	T_HAS(V[0].text, "We requested 262144 bytes in one request");
	T_HAS(V[0].text, "closed the connection 0.5 ms later");
	T_HAS(V[0].rule, "2^14 (16 KiB)");
}

static void test_whole_piece_rejected(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, true);
	peer_hs(0.4, IH, true);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	request(3, 5, 0, 65536);
	reject(3.2, 5, 0, 65536);
	judge(5000);
	T_EQ_STR(names(), "request-too-big");
	T_CHECK(V[0].problem);
	T_HAS(V[0].text, "The peer rejected it 0.2 ms later");
}

/* A peer that serves a big request anyway (aria2 serves 64 KiB): a
 * remark, not a problem. */
static void test_big_request_served(void)
{
	static uint8_t b[65536 + 13], data[65536];
	struct bt_wr w;

	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	request(3, 0, 0, 65536);
	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_piece(&w, 0, 0, data, sizeof data);
	msg(4, BT_DIR_IN, b, w.len);
	judge(5000);
	T_EQ_STR(names(), "request-too-big");
	T_CHECK(!V[0].problem);
	T_HAS(V[0].text, "This peer served it anyway");
}

static void test_request_while_choked(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	request(1.1, 0, 0, 16384);
	request(1.2, 0, 16384, 16384);
	judge(5000);
	T_EQ_STR(names(), "never-unchoked,request-while-choked");
	T_HAS(V[1].text, "We sent 2 requests while the peer was choking us");
	T_HAS(V[1].text, "never unchoked us");
}

/* An allowed-fast piece may be requested while choked. */
static void test_allowed_fast_request(void)
{
	uint8_t b[16];
	struct bt_wr w;

	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, true);
	peer_hs(0.4, IH, true);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_index(&w, BT_MSG_ALLOWED_FAST, 7);
	msg(0.6, BT_DIR_IN, b, w.len);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	request(1.1, 7, 0, 16384);
	piece(1.5, 7, 0, 16384);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	judge(5000);
	T_EQ_STR(names(), "");
}

static void test_rejected(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, true);
	peer_hs(0.4, IH, true);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	request(3, 1, 0, 16384);
	reject(3.3, 1, 0, 16384);
	judge(5000);
	T_EQ_STR(names(), "rejected");
	T_EQ_STR(V[0].rule, "BEP 6, Reject Request");
	T_EQ_INT(V[0].msg_id, BT_MSG_REJECT);
	T_HAS(V[0].text, "nothing on the timeline explains it");
	T_EQ_STR(V[0].evidence, "in reject piece 1 begin 0 length 16384");
}

static void test_ignored(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	request(3, 1, 0, 16384);
	judge(8000);
	T_EQ_STR(names(), "requests-ignored");
	T_HAS(V[0].text, "1 of our requests got neither a piece nor a reject");
	T_HAS(V[0].text, "waited 7997.0 ms");
}

/* Unanswered, but only for a moment: not judged. */
static void test_not_yet_ignored(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	request(3, 1, 0, 16384);
	judge(1000);
	T_EQ_STR(names(), "");
}

static void test_choke_drops(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	request(3, 1, 0, 16384);
	request(3, 1, 16384, 16384);
	simple(4, BT_DIR_IN, BT_MSG_CHOKE);
	judge(8000);
	T_EQ_STR(names(), "choke-dropped-requests");
	T_HAS(V[0].text, "choked us at 4.0 ms with 2 of our requests pending");
}

static void test_request_not_have(void)
{
	uint8_t bits[1] = { 0x80 };    /* piece 0 only */

	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, true);
	peer_hs(0.4, IH, true);
	bitfield(0.5, bits, 1);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	request(3, 1, 0, 16384);
	reject(3.1, 1, 0, 16384);
	judge(5000);
	T_EQ_STR(names(), "request-not-have");
	T_HAS(V[0].text, "It rejected 1 of them.");
}

/* ---- later trouble ------------------------------------------------------ */

static void test_peer_closed_later(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	ev_plain(1.5, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	judge(0);
	T_EQ_STR(names(), "peer-closed");
	T_HAS(V[0].text, "0.5 ms after our last message (interested)");
}

static void test_malformed(void)
{
	const uint8_t bad_have[] = { 0, 0, 0, 3, 4, 0, 1 };

	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	msg(0.6, BT_DIR_IN, bad_have, sizeof bad_have);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	judge(3000);
	T_EQ_STR(names(), "malformed");
	T_EQ_UINT(V[0].t_us, 600);
}

/* Stages: a failed handshake hides the "no pieces" that follows. */
static void test_stages_suppress(void)
{
	struct bt_conn_hs h;

	start(NULL);
	connected(0.1);
	bt_conn_hs_default(&h, IH, PIGEON);
	h.peer_id_len = 6;
	our_hs(0.2, &h);
	peer_hs(0.5, IH, false);
	ev_plain(30000, BT_EV_TIMEOUT, BT_DIR_OUT, 0, 0);
	judge(0);
	T_EQ_UINT(NV, 1);
}

/* The summary fields a swarm row reads. */
static void test_summary_fields(void)
{
	const char ext[] = "d1:md11:ut_metadatai3ee4:reqqi250e1:v15:Transmission 3\x01" "e";
	uint8_t b[128];
	struct bt_wr w;
	uint8_t bits[2] = { 0xff, 0xc0 };

	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_extended(&w, 0, (const uint8_t *)ext, sizeof ext - 1);
	msg(0.5, BT_DIR_IN, b, w.len);
	bitfield(0.6, bits, 2);
	judge(0);
	T_CHECK(D.ext_hs);
	T_EQ_STR(D.client_v, "Transmission 3\\x01");
	T_EQ_INT(D.reqq, 250);
	T_EQ_UINT(D.pieces_set, 10);
	T_EQ_UINT(D.bitfield_bits, 16);
	T_EQ_INT(D.announce, BT_MSG_BITFIELD);
}

/* bt_diag_verdicts counts beyond cap. */
static void test_cap(void)
{
	struct bt_verdict one[1];
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, true);
	peer_hs(0.4, IH, true);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(2, BT_DIR_IN, BT_MSG_UNCHOKE);
	request(3, 5, 0, 65536);
	reject(3.2, 5, 0, 65536);
	request(4, 5, 65536, 16384);
	reject(4.2, 5, 65536, 16384);
	T_EQ_UINT(bt_diag_verdicts(&D, NULL, 0), 2);
	T_EQ_UINT(bt_diag_verdicts(&D, one, 1), 2);
	T_EQ_STR(one[0].name, "request-too-big");
}

/* ---- what the peer announced, with the piece count known (BEP 3) ------- */

static const struct bt_diag_opts P17 = { .piece_count = 17 };

static void have(double t, uint32_t i)
{
	uint8_t b[16];
	struct bt_wr w;

	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_have(&w, i);
	msg(t, BT_DIR_IN, b, w.len);
}

/* After the announcement: interested, unchoke, nothing else to judge. */
static void unchoked_after(double t)
{
	simple(t, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(t + 1, BT_DIR_IN, BT_MSG_UNCHOKE);
}

/* 17 pieces in 3 bytes, the 7 spare bits set: 17 pieces, not 24. */
static void test_bitfield_spare_bits(void)
{
	uint8_t bits[3] = { 0xff, 0xff, 0xff };

	start(&P17);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	bitfield(0.5, bits, 3);
	unchoked_after(1);
	judge(3000);
	T_EQ_STR(names(), "bad-bitfield");
	T_CHECK(V[0].problem);
	T_EQ_UINT(V[0].t_us, 500);
	T_EQ_INT(V[0].msg_id, BT_MSG_BITFIELD);
	T_EQ_STR(V[0].evidence, "in bitfield of 3 bytes for 17 pieces, 7 bits set past piece 16");
	T_HAS(V[0].text, "7 bits set past the last piece (16): bitfield spare bits set");
	T_HAS(V[0].rule, "spare bits set");
	T_EQ_UINT(D.pieces_set, 17);
	T_EQ_UINT(D.spare_set, 7);
	T_EQ_UINT(D.bits[2], 0x80);   /* the spare bits are not kept */
}

/* Two bytes too many: wrong length, and their bits are not pieces. */
static void test_bitfield_too_long(void)
{
	uint8_t bits[5] = { 0xff, 0xff, 0xff, 0xff, 0xff };

	start(&P17);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	bitfield(0.5, bits, 5);
	unchoked_after(1);
	judge(3000);
	T_EQ_STR(names(), "bad-bitfield");
	T_EQ_STR(V[0].evidence, "in bitfield of 5 bytes for 17 pieces, 23 bits set past piece 16");
	T_HAS(V[0].text, "is 5 bytes: wrong bitfield length, as 17 pieces take 3 bytes");
	T_HAS(V[0].text, "It has 23 bits set past the last piece");
	T_EQ_UINT(D.pieces_set, 17);
}

/* Too short, no spare bit: only the length is named. */
static void test_bitfield_too_short(void)
{
	uint8_t bits[2] = { 0xff, 0xff };

	start(&P17);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	bitfield(0.5, bits, 2);
	unchoked_after(1);
	judge(3000);
	T_EQ_STR(names(), "bad-bitfield");
	T_HAS(V[0].text, "is 2 bytes: wrong bitfield length");
	T_CHECK(!strstr(V[0].text, "spare bits set"));
	T_EQ_UINT(D.pieces_set, 16);
}

/* A correct bitfield: nothing to say. */
static void test_bitfield_exact(void)
{
	uint8_t bits[3] = { 0xff, 0xff, 0x80 };

	start(&P17);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	bitfield(0.5, bits, 3);
	unchoked_after(1);
	judge(3000);
	T_EQ_STR(names(), "");
	T_EQ_UINT(D.pieces_set, 17);
}

/* have 17 of 17 pieces: not counted, not an announcement. */
static void test_have_out_of_range(void)
{
	uint8_t bits[3] = { 0xff, 0xff, 0x80 };

	start(&P17);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	bitfield(0.5, bits, 3);
	have(0.6, 17);
	have(0.7, 4000000000u);
	unchoked_after(1);
	judge(3000);
	T_EQ_STR(names(), "have-out-of-range");
	T_CHECK(V[0].problem);
	T_EQ_UINT(V[0].t_us, 600);
	T_EQ_STR(V[0].evidence, "in have index 17, 17 pieces");
	T_HAS(V[0].text, "(2 have messages past the end in all): have index out of range");
	T_EQ_UINT(D.pieces_set, 17);
	T_EQ_UINT(D.have_range, 2);
}

/* Only out-of-range haves: no piece, and no "have" announcement. */
static void test_have_out_of_range_only(void)
{
	start(&P17);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	have(0.6, 20);
	judge(3000);
	T_EQ_STR(names(), "have-out-of-range,no-pieces");
	T_EQ_UINT(D.pieces_set, 0);
	T_EQ_INT(D.announce, 0);
}

/* Without a piece count every bit counts (a magnet); once the metadata
 * gives it, the count is redone and the bitfield judged. */
static void test_set_piece_count(void)
{
	uint8_t bits[3] = { 0xff, 0xff, 0xff };

	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	bitfield(0.5, bits, 3);
	T_EQ_UINT(D.pieces_set, 24);
	T_CHECK(!D.bad_bitfield);
	bt_diag_set_piece_count(&D, 17);
	T_EQ_UINT(D.pieces_set, 17);
	T_EQ_UINT(D.spare_set, 7);
	unchoked_after(1);
	judge(3000);
	T_EQ_STR(names(), "bad-bitfield");
	T_EQ_UINT(V[0].t_us, 500);
}

/* ...and haves past the end, without a bitfield. */
static void test_set_piece_count_haves(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	have(0.5, 3);
	have(0.6, 19);
	T_EQ_UINT(D.pieces_set, 2);
	bt_diag_set_piece_count(&D, 17);
	T_EQ_UINT(D.pieces_set, 1);
	unchoked_after(1);
	judge(3000);
	T_EQ_STR(names(), "have-out-of-range");
	T_EQ_UINT(D.have_range_first, 19);
}

/* ---- blocks nobody asked for ------------------------------------------- */

static void asked_one(void)
{
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(0.5, BT_DIR_IN, BT_MSG_HAVE_ALL);
	unchoked_after(1);
	request(3, 0, 0, 16384);
}

/* Before the block we asked for: a remark, and not the first block. */
static void test_unrequested_piece(void)
{
	start(&P17);
	asked_one();
	piece(3.5, 1, 16384, 16384);
	piece(4, 0, 0, 16384);
	judge(3000);
	T_EQ_STR(names(), "unrequested-piece");
	T_CHECK(!V[0].problem);
	T_EQ_UINT(V[0].t_us, 3500);
	T_EQ_STR(V[0].evidence, "in piece index 1 begin 16384 length 16384, never requested");
	T_HAS(V[0].text, "at 3.5 ms, piece 1 begin 16384 length 16384, which was never requested");
	T_EQ_UINT(D.unexpected_in, 1);
	T_EQ_UINT(D.answered_in, 1);
	T_EQ_UINT(D.pieces_in, 2);
	T_EQ_UINT(D.t_first_piece, 4000);
}

/* Index and begin of a request, another length (the 128 KiB block). */
static void test_piece_wrong_length(void)
{
	start(&P17);
	asked_one();
	piece(3.5, 0, 0, 8192);
	judge(3000);
	T_EQ_STR(names(), "requests-ignored,unrequested-piece");
	T_EQ_STR(V[1].evidence, "in piece index 0 begin 0 length 8192, not the length requested");
	T_HAS(V[1].text, "(we asked for 16384 bytes): it does not answer it");
	T_EQ_UINT(D.answered_in, 0);
	T_EQ_UINT(D.t_first_piece, 0);
}

static void test_piece_repeated(void)
{
	start(&P17);
	asked_one();
	piece(4, 0, 0, 16384);
	piece(5, 0, 0, 16384);
	piece(6, 2, 0, 16384);
	judge(3000);
	T_EQ_STR(names(), "unrequested-piece");
	T_EQ_STR(V[0].evidence, "in piece index 0 begin 0 length 16384, received already");
	T_HAS(V[0].text, "The peer sent 2 blocks that answer no request of ours");
	T_HAS(V[0].text, "repeats a block it had sent already");
	T_HAS(V[0].text, " 1 of them repeat blocks sent already");
	T_EQ_UINT(D.dup_in, 1);
}

/* BEP 3: a piece may cross our cancel; it answers the request. */
static void test_piece_after_cancel(void)
{
	uint8_t b[32];
	struct bt_wr w;

	start(&P17);
	asked_one();
	bt_wr_init(&w, b, sizeof b);
	bt_msg_put_cancel(&w, 0, 0, 16384);
	msg(3.2, BT_DIR_OUT, b, w.len);
	piece(3.5, 0, 0, 16384);
	judge(3000);
	T_EQ_STR(names(), "");
	T_EQ_UINT(D.answered_in, 1);
}

/* ---- a wait that ends inside a message --------------------------------- */

/* The bitfield arrives a byte a second: half of it is in when the wait
 * for unchoke runs out.  Not "the peer has no piece". */
static void test_stalled_mid_message(void)
{
	struct bt_event e;

	start(&P17);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	simple(1000, BT_DIR_OUT, BT_MSG_INTERESTED);
	memset(&e, 0, sizeof e);
	e.t_us = MS(4000);
	e.kind = BT_EV_TIMEOUT;
	e.dir = BT_DIR_OUT;
	e.why = "no unchoke within 3000 ms, the peer 4 bytes into an 8-byte message";
	bt_diag_feed(&D, &e);
	bt_diag_partial(&D, 4, 8);
	judge(4001);
	T_EQ_STR(names(), "stalled-mid-message");
	T_CHECK(V[0].problem);
	T_EQ_UINT(V[0].t_us, 4000000);
	T_EQ_INT(V[0].kind, BT_EV_TIMEOUT);
	T_EQ_STR(V[0].evidence, "in 4 of the 8 bytes of a message, then nothing more");
	T_HAS(V[0].text, "When our wait ran out at 4000.0 ms, the peer had sent 4 of the 8 bytes");
	/* inside the length prefix */
	bt_diag_partial(&D, 2, 0);
	judge(4001);
	T_EQ_STR(V[0].evidence, "in 2 bytes of a length prefix, then nothing more");
	/* the rest came after all: back to the ordinary verdicts */
	bt_diag_partial(&D, 0, 0);
	judge(4001);
	T_EQ_STR(names(), "no-pieces");
}

/* The peer closed mid-message: that close is the story (peer-closed),
 * not a stall. */
static void test_partial_then_closed(void)
{
	uint8_t bits[3] = { 0xff, 0xff, 0x80 };

	start(&P17);
	connected(0.1);
	good_hs(0.2, IH, false);
	peer_hs(0.4, IH, false);
	bitfield(0.5, bits, 3);
	simple(1, BT_DIR_OUT, BT_MSG_INTERESTED);
	bt_diag_partial(&D, 14, 104);
	ev_plain(2, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	judge(0);
	T_EQ_STR(names(), "peer-closed");
}

/* ---- encryption (MSE/PE) ------------------------------------------------ */

/* An MSE step as conn.c reports it: a note whose err is the step. */
static void mse_note(double t, enum bt_dir dir, enum bt_mse_step st,
		     uint64_t detail, const char *why)
{
	struct bt_event e;

	memset(&e, 0, sizeof e);
	e.t_us = MS(t);
	e.kind = BT_EV_NOTE;
	e.dir = dir;
	e.err = (int)st;
	e.declared_len = detail;
	e.why = why;
	bt_diag_feed(&D, &e);
}

/* A second attempt on the same clock: CONNECTING, CONNECTED. */
static void redial(double t)
{
	off_out = off_in = 0;
	ev_plain(t, BT_EV_CONNECTING, BT_DIR_OUT, 0, 0);
	ev_plain(t + 0.1, BT_EV_CONNECTED, BT_DIR_OUT, 0, 0);
}

/* An MSE handshake that works, from t: Ya, our handshake as the IA, Yb,
 * RC4, the peer's handshake. */
static void mse_ok(double t)
{
	mse_note(t, BT_DIR_OUT, BT_MSE_STEP_SENT_Y, 200, "MSE: sent Ya (200 bytes pad)");
	good_hs(t, IH, true);
	mse_note(t + 400, BT_DIR_IN, BT_MSE_STEP_GOT_Y, MS(400), "MSE: got Yb after 400 ms");
	mse_note(t + 900, BT_DIR_IN, BT_MSE_STEP_SELECTED, BT_MSE_CRYPTO_RC4,
		 "MSE: RC4 selected after 900 ms");
	peer_hs(t + 900.1, IH, true);
}

/* After the handshake: bitfield, interested, unchoke, one block. */
static void served(double t)
{
	simple(t, BT_DIR_IN, BT_MSG_HAVE_ALL);
	simple(t + 0.1, BT_DIR_OUT, BT_MSG_INTERESTED);
	simple(t + 1, BT_DIR_IN, BT_MSG_UNCHOKE);
	request(t + 1.1, 0, 0, 16384);
	piece(t + 2, 0, 0, 16384);
	ev_plain(t + 3, BT_EV_CLOSED, BT_DIR_OUT, 0, 0);
}

/* Plain only, no MSE anywhere: the close is judged as before, and the
 * verdict says the peer may require encryption (the hint). */
static void test_plain_closed_hint(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	ev_plain(0.5, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	judge(0);
	T_EQ_STR(names(), "closed-on-handshake");
	T_CHECK(V[0].problem);
	T_EQ_STR(V[0].evidence, "in closed, 0.3 ms after our plain handshake");
	T_HAS(V[0].text, "Closed after our plain handshake: it may require encryption");
	T_HAS(V[0].text, "retry with --encryption=prefer");
	T_HAS(V[0].rule, "MSE/PE");
}

static void test_plain_reset_hint(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	ev_plain(0.3, BT_EV_RESET, BT_DIR_IN, ECONNRESET, 0);
	judge(0);
	T_EQ_STR(names(), "reset-on-handshake");
	T_HAS(V[0].text, "Reset after our plain handshake: it may require encryption");
	T_HAS(V[0].text, "--encryption=prefer");
}

/* --probe-encryption: the plain handshake dropped (conn.h reports it as a
 * REFUSED note and redials), the MSE attempt answered. */
static void test_requires_encryption_probe(void)
{
	struct bt_diag_attempt a;

	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, true);
	mse_note(0.8, BT_DIR_IN, BT_MSE_STEP_REFUSED, 0,
		 "the peer closed the connection 0.6 ms after our plain handshake");
	mse_note(0.9, BT_DIR_OUT, BT_MSE_STEP_PROBE, 0, "MSE: redialling");
	redial(1);
	mse_ok(3);
	served(904);
	judge(0);
	T_EQ_STR(names(), "requires-encryption");
	T_CHECK(V[0].problem);
	T_EQ_UINT(V[0].t_us, 800);
	T_EQ_INT(V[0].dir, BT_DIR_IN);
	T_EQ_INT(V[0].kind, BT_EV_NOTE);
	T_HAS(V[0].rule, "Message Stream Encryption spec");
	T_CHECK(strstr(V[0].rule, "BEP") == NULL);
	T_EQ_STR(V[0].evidence, "in closed after our plain handshake; MSE answered at 903.0 ms");
	T_HAS(V[0].text, "closed the connection 0.6 ms after our plain handshake");
	T_HAS(V[0].text, "RC4 selected at 903.0 ms, 900.0 ms after our Ya");
	T_HAS(V[0].text, "--encryption=prefer or require");
	/* The last attempt is the MSE session, judged like any other. */
	T_EQ_UINT(D.natt, 1);
	T_CHECK(!D.att[0].mse && D.att[0].our_hs && !D.att[0].peer_hs && D.att[0].refused);
	bt_diag_attempt_now(&D, &a);
	T_CHECK(a.mse && a.mse_done && a.peer_hs);
	T_EQ_UINT(a.mse_select, BT_MSE_CRYPTO_RC4);
	T_EQ_UINT(a.t_mse_done - a.t_mse, MS(900));
	T_EQ_UINT(D.pieces_in, 1);
}

/* The same from plain events (a reset), and in the other order: a tool
 * that dialled twice itself, MSE first.  The plain drop is the last
 * attempt: explained, nothing more is judged. */
static void test_requires_encryption_any_order(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	ev_plain(0.4, BT_EV_RESET, BT_DIR_IN, ECONNRESET, 0);
	redial(10);
	mse_ok(11);
	served(912);
	judge(2000);
	T_EQ_STR(names(), "requires-encryption");
	T_EQ_INT(V[0].kind, BT_EV_RESET);
	T_HAS(V[0].text, "The peer reset the connection 0.2 ms after our plain handshake");

	start(NULL);
	connected(0.1);
	mse_ok(0.2);
	ev_plain(1000, BT_EV_CLOSED, BT_DIR_OUT, 0, 0);
	redial(2000);
	good_hs(2000.2, IH, false);
	ev_plain(2000.5, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	judge(0);
	T_EQ_STR(names(), "requires-encryption");
	T_EQ_UINT(V[0].t_us, MS(2000.5));
}

/* --encryption=prefer against a peer without MSE: it closes during MSE,
 * conn.h redials plain, and the plain session works: a remark. */
static void test_prefer_fallback(void)
{
	start(NULL);
	connected(0.1);
	mse_note(3, BT_DIR_OUT, BT_MSE_STEP_SENT_Y, 54, "MSE: sent Ya (54 bytes pad)");
	good_hs(3, IH, false);
	mse_note(15, BT_DIR_IN, BT_MSE_STEP_REFUSED, 0, "MSE: the peer closed the connection");
	mse_note(15.1, BT_DIR_OUT, BT_MSE_STEP_FALLBACK, 0, "MSE: falling back");
	redial(15.2);
	good_hs(15.4, IH, false);
	peer_hs(18, IH, false);
	served(18.1);
	judge(0);
	T_EQ_STR(names(), "mse-refused");
	T_CHECK(!V[0].problem);
	T_EQ_UINT(V[0].t_us, MS(15));
	T_EQ_STR(V[0].evidence, "in closed, 12.0 ms after our Ya, no Yb");
	T_HAS(V[0].rule, "MSE/PE spec, step 2");
	T_HAS(V[0].text, "our Ya and 54 bytes of pad");
	T_HAS(V[0].text, "without sending its Yb (not one byte)");
	T_HAS(V[0].text, "We fell back to a plain connection at 15.2 ms, which the peer answered.");
}

/* --encryption=require against the same peer: the verdict, a problem. */
static void test_require_refused(void)
{
	start(NULL);
	connected(0.1);
	mse_note(3, BT_DIR_OUT, BT_MSE_STEP_SENT_Y, 359, "MSE: sent Ya");
	good_hs(3, IH, false);
	ev_plain(8.5, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	judge(0);
	T_EQ_STR(names(), "mse-refused");
	T_CHECK(V[0].problem);
	T_EQ_INT(V[0].kind, BT_EV_CLOSED);
	T_EQ_STR(V[0].evidence, "in closed, 5.5 ms after our Ya, no Yb");
	T_HAS(V[0].text, "Retry with --encryption=prefer");
}

/* Closed after Yb: our offer was refused (Transmission offered plaintext
 * only does this). */
static void test_mse_refused_after_yb(void)
{
	start(NULL);
	connected(0.1);
	mse_note(1, BT_DIR_OUT, BT_MSE_STEP_SENT_Y, 0, "MSE: sent Ya");
	good_hs(1, IH, false);
	mse_note(400, BT_DIR_IN, BT_MSE_STEP_GOT_Y, MS(399), "MSE: got Yb");
	ev_plain(900, BT_EV_RESET, BT_DIR_IN, ECONNRESET, 0);
	judge(0);
	T_EQ_STR(names(), "mse-refused");
	T_HAS(V[0].rule, "step 4");
	T_EQ_STR(V[0].evidence, "in reset, 500.0 ms after its Yb, no crypto_select");
	T_HAS(V[0].text, "sent its Yb 399.0 ms after our Ya");
	T_HAS(V[0].text, "offer RC4");
}

static void test_mse_failed_no_sync(void)
{
	start(NULL);
	connected(0.1);
	mse_note(1, BT_DIR_OUT, BT_MSE_STEP_SENT_Y, 0, "MSE: sent Ya");
	good_hs(1, IH, false);
	mse_note(2, BT_DIR_IN, BT_MSE_STEP_GOT_Y, MS(1), "MSE: got Yb");
	mse_note(3, BT_DIR_IN, BT_MSE_STEP_FAILED, BT_MSE_ERR_NO_SYNC,
		 "MSE: no sync within window: encrypted VC not within 520 bytes after Yb");
	ev_plain(3.1, BT_EV_CLOSED, BT_DIR_OUT, 0, 0);
	judge(0);
	T_EQ_STR(names(), "mse-failed");
	T_CHECK(V[0].problem);
	T_EQ_INT(V[0].dir, BT_DIR_IN);
	T_HAS(V[0].rule, "synchronisation");
	T_HAS(V[0].text, "encrypted VC not within 520 bytes after Yb");
}

/* prefer: no Yb in time (a plain-only peer waiting for the rest of what it
 * takes for a handshake), then plain works. */
static void test_mse_timeout_fallback(void)
{
	start(NULL);
	connected(0.1);
	mse_note(1, BT_DIR_OUT, BT_MSE_STEP_SENT_Y, 10, "MSE: sent Ya");
	good_hs(1, IH, false);
	mse_note(5001, BT_DIR_OUT, BT_MSE_STEP_TIMEOUT, MS(5000), "MSE: no whole Yb within 5000.000 ms");
	mse_note(5001.1, BT_DIR_OUT, BT_MSE_STEP_FALLBACK, 0, "MSE: giving up");
	redial(5001.2);
	good_hs(5001.5, IH, false);
	peer_hs(5002, IH, false);
	served(5003);
	judge(0);
	T_EQ_STR(names(), "mse-failed");
	T_CHECK(!V[0].problem);
	T_EQ_STR(V[0].evidence, "MSE: no Yb in 5000.0 ms");
	T_HAS(V[0].text, "We fell back to a plain connection at 5001.2 ms");
}

/* prefer without RC4 (no OpenSSL legacy provider): plain on the same
 * connection, a remark. */
static void test_mse_unavailable_prefer(void)
{
	start(NULL);
	connected(0.1);
	mse_note(0.2, BT_DIR_OUT, BT_MSE_STEP_FAILED, BT_MSE_ERR_NO_RC4,
		 "MSE: cannot start: RC4 unavailable");
	mse_note(0.2, BT_DIR_OUT, BT_MSE_STEP_FALLBACK, 0, "MSE unavailable: plain");
	good_hs(0.3, IH, false);
	peer_hs(1, IH, false);
	served(2);
	judge(0);
	T_EQ_STR(names(), "mse-failed");
	T_CHECK(!V[0].problem);
	T_EQ_INT(V[0].dir, BT_DIR_OUT);
	T_HAS(V[0].rule, "OpenSSL legacy provider");
	/* require: the same failure ends the session. */
	start(NULL);
	connected(0.1);
	mse_note(0.2, BT_DIR_OUT, BT_MSE_STEP_FAILED, BT_MSE_ERR_NO_RC4,
		 "MSE: cannot start: RC4 unavailable");
	ev_plain(0.3, BT_EV_CLOSED, BT_DIR_OUT, 0, 0);
	judge(0);
	T_EQ_STR(names(), "mse-failed");
	T_CHECK(V[0].problem);
}

/* prefer: MSE refused, then the plain handshake closed too: encryption is
 * not the cause. */
static void test_prefer_both_refused(void)
{
	start(NULL);
	connected(0.1);
	mse_note(1, BT_DIR_OUT, BT_MSE_STEP_SENT_Y, 0, "MSE: sent Ya");
	good_hs(1, IH, false);
	mse_note(2, BT_DIR_IN, BT_MSE_STEP_REFUSED, 0, "MSE: the peer closed");
	mse_note(2.1, BT_DIR_OUT, BT_MSE_STEP_FALLBACK, 0, "MSE: falling back");
	redial(2.2);
	good_hs(2.4, IH, false);
	ev_plain(2.6, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	judge(0);
	T_EQ_STR(names(), "mse-refused,closed-on-handshake");
	T_CHECK(!V[0].problem);
	T_HAS(V[0].text, "We fell back to a plain connection at 2.2 ms.");
	T_CHECK(V[1].problem);
	T_HAS(V[1].text, "dropped our encrypted (MSE/PE) attempt at 0.0 ms as well, "
	      "so encryption is not the cause");
}

/* probe: plain dropped, then MSE dropped too. */
static void test_probe_both_refused(void)
{
	start(NULL);
	connected(0.1);
	good_hs(0.2, IH, false);
	mse_note(0.4, BT_DIR_IN, BT_MSE_STEP_REFUSED, ECONNRESET, "the peer reset");
	mse_note(0.5, BT_DIR_OUT, BT_MSE_STEP_PROBE, 0, "MSE: redialling");
	redial(0.6);
	mse_note(1, BT_DIR_OUT, BT_MSE_STEP_SENT_Y, 0, "MSE: sent Ya");
	good_hs(1, IH, false);
	ev_plain(1.5, BT_EV_RESET, BT_DIR_IN, ECONNRESET, 0);
	judge(0);
	T_EQ_STR(names(), "mse-refused");
	T_CHECK(V[0].problem);
	T_HAS(V[0].text, "It dropped our plain handshake too (at 0.4 ms)");
	T_CHECK(D.att[0].reset);
}

/* A capture without keys: encrypted, nothing else judged; a stream whose
 * handshake came through (plaintext selected) is judged as usual. */
static void test_encrypted_capture(void)
{
	start(NULL);
	ev_plain(0, BT_EV_CONNECTED, BT_DIR_OUT, 0, 0);
	ev_plain(1, BT_EV_ENCRYPTED, BT_DIR_OUT, 0, 0);
	ev_plain(900, BT_EV_CLOSED, BT_DIR_OUT, 0, 0);
	judge(0);
	T_EQ_STR(names(), "encrypted");

	start(NULL);
	ev_plain(0, BT_EV_CONNECTED, BT_DIR_OUT, 0, 0);
	ev_plain(1, BT_EV_ENCRYPTED, BT_DIR_OUT, 0, 0);
	good_hs(1, IH, false);
	peer_hs(2, IH, false);
	served(3);
	judge(0);
	T_EQ_STR(names(), "");
}

/* require against a peer that requires it: nothing to say. */
static void test_mse_session_clean(void)
{
	start(NULL);
	connected(0.1);
	mse_ok(1);
	served(902);
	judge(0);
	T_EQ_STR(names(), "");
	T_EQ_UINT(D.natt, 0);
	T_CHECK(D.cur.mse_done);
}

/* Attempts past BT_DIAG_MAX_ATTEMPTS: the oldest go. */
static void test_attempts_cap(void)
{
	int i;

	start(NULL);
	for (i = 0; i < 7; i++) {
		redial(i * 10);
		good_hs(i * 10 + 1, IH, false);
		ev_plain(i * 10 + 2, BT_EV_CLOSED, BT_DIR_IN, 0, 0);
	}
	judge(0);
	T_EQ_UINT(D.natt, BT_DIAG_MAX_ATTEMPTS);
	T_EQ_UINT(D.att[0].t_start, MS(20));
	T_EQ_STR(names(), "closed-on-handshake");
}

/* ---- printing ----------------------------------------------------------- */

static void test_print(void)
{
	struct bt_verdict v;
	struct bt_out o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	memset(&v, 0, sizeof v);
	v.id = BT_V_NO_PIECES;
	v.name = "no-pieces";
	v.rule = "BEP 6, Have None";
	v.problem = true;
	v.t_us = 12345;
	v.dir = BT_DIR_IN;
	strcpy(v.evidence, "in have_none");
	strcpy(v.text, "The peer has \"nothing\".");

	f = open_memstream(&buf, &len);
	bt_out_init(&o, f, true);
	bt_verdict_print(&o, &v);
	bt_out_init(&o, f, false);
	bt_verdict_print(&o, &v);
	fclose(f);
	T_EQ_STR(buf,
		 "{\"verdict\":\"no-pieces\",\"problem\":true,\"rule\":\"BEP 6, Have None\","
		 "\"t_ms\":12.345,\"dir\":\"in\",\"evidence\":\"in have_none\","
		 "\"text\":\"The peer has \\\"nothing\\\".\"}\n"
		 "verdict no-pieces (BEP 6, Have None) at 12.345 ms: in have_none\n"
		 "    The peer has \"nothing\".\n");
	free(buf);
}

int main(void)
{
	T_RUN(test_refused);
	T_RUN(test_connect_timeout);
	T_RUN(test_short_peer_id);
	T_RUN(test_short_peer_id_then_interested);
	T_RUN(test_short_peer_id_then_requests);
	T_RUN(test_capital_p);
	T_RUN(test_capital_p_reset);
	T_RUN(test_capital_p_silent);
	T_RUN(test_capital_p_accepted);
	T_RUN(test_notes_handshake);
	T_RUN(test_wrong_info_hash_known);
	T_RUN(test_closed_on_handshake);
	T_RUN(test_reset_on_handshake);
	T_RUN(test_no_answer);
	T_RUN(test_partial_answer);
	T_RUN(test_other_info_hash);
	T_RUN(test_have_none);
	T_RUN(test_empty_bitfield);
	T_RUN(test_nothing_announced);
	T_RUN(test_too_short_to_judge);
	T_RUN(test_have_after_have_none);
	T_RUN(test_not_interested);
	T_RUN(test_never_unchoked);
	T_RUN(test_clean_session);
	T_RUN(test_whole_piece_request);
	T_RUN(test_whole_piece_rejected);
	T_RUN(test_big_request_served);
	T_RUN(test_request_while_choked);
	T_RUN(test_allowed_fast_request);
	T_RUN(test_rejected);
	T_RUN(test_ignored);
	T_RUN(test_not_yet_ignored);
	T_RUN(test_choke_drops);
	T_RUN(test_request_not_have);
	T_RUN(test_peer_closed_later);
	T_RUN(test_malformed);
	T_RUN(test_stages_suppress);
	T_RUN(test_summary_fields);
	T_RUN(test_cap);
	T_RUN(test_bitfield_spare_bits);
	T_RUN(test_bitfield_too_long);
	T_RUN(test_bitfield_too_short);
	T_RUN(test_bitfield_exact);
	T_RUN(test_have_out_of_range);
	T_RUN(test_have_out_of_range_only);
	T_RUN(test_set_piece_count);
	T_RUN(test_set_piece_count_haves);
	T_RUN(test_unrequested_piece);
	T_RUN(test_piece_wrong_length);
	T_RUN(test_piece_repeated);
	T_RUN(test_piece_after_cancel);
	T_RUN(test_stalled_mid_message);
	T_RUN(test_partial_then_closed);
	T_RUN(test_plain_closed_hint);
	T_RUN(test_plain_reset_hint);
	T_RUN(test_requires_encryption_probe);
	T_RUN(test_requires_encryption_any_order);
	T_RUN(test_prefer_fallback);
	T_RUN(test_require_refused);
	T_RUN(test_mse_refused_after_yb);
	T_RUN(test_mse_failed_no_sync);
	T_RUN(test_mse_timeout_fallback);
	T_RUN(test_mse_unavailable_prefer);
	T_RUN(test_prefer_both_refused);
	T_RUN(test_probe_both_refused);
	T_RUN(test_encrypted_capture);
	T_RUN(test_mse_session_clean);
	T_RUN(test_attempts_cap);
	T_RUN(test_print);
	bt_diag_free(&D);
	return T_DONE();
}
