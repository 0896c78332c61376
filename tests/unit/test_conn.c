/* test_conn.c — one live connection against a scripted peer on loopback.
 *
 * The peer is a listening socket on the same bt_loop that answers each
 * connection as the test says: plain BitTorrent, MSE (mse.c's receiver
 * role), closing at the first byte, or silent.  The tests check the
 * encryption modes of conn.h (off, require, prefer and its fallback, probe)
 * event by event: the MSE steps on the timeline, the redials, the payload
 * the peer decrypts (our handshake, then what we queued while MSE ran),
 * the key log line against the peer's own secret, and the wire tap. */
#include "t.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "loop.h"
#include "mse.h"
#include "wire.h"

static const uint8_t IH[20] = "ABCDEFGHIJKLMNOPQRST";
static const uint8_t OUR_ID[20] = "-BK0100-123456789012";
static const uint8_t PEER_ID[20] = "-XX0000-abcdefghijkl";

enum behave { P_PLAIN = 1, P_MSE, P_CLOSE, P_SILENT };

/* The scripted peer. */
static struct peer {
	int lfd;
	struct bt_io lio, io;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	enum behave script[4];       /* per accepted connection */
	int conns;
	enum behave now;
	struct bt_mse m;
	bool m_on;
	uint32_t allow;              /* receiver: methods allowed (0: both) */
	bool prefer_plain;
	uint8_t got[4096];           /* payload received (decrypted) */
	size_t got_len;
	bool replied;
} P;

/* What the connection reported. */
#define MAX_EV 64
static struct rec {
	enum bt_ev_kind kind;
	enum bt_dir dir;
	int err;
	uint64_t detail;
	char why[256];
	int msg;
} E[MAX_EV];
static size_t NE;
static struct bt_conn C;
static struct bt_loop L;
static char keyline[BT_MSE_KEYLOG_LINE_MAX];
static uint64_t wire[2];
static uint8_t wire_out_head[BT_MSE_KEY_LEN];
static size_t wire_out_head_len;
static bool send_early;          /* queue interested right after our handshake */

static void peer_send(const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(P.io.fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void peer_close(void)
{
	if (P.io.fd >= 0) {
		bt_io_del(&L, &P.io);
		close(P.io.fd);
		P.io.fd = -1;
	}
}

static bool find_ih(void *arg, const uint8_t req2[20], uint8_t skey[20])
{
	uint8_t want[20];

	(void)arg;
	bt_mse_req2(IH, want);
	if (memcmp(want, req2, 20) != 0)
		return false;
	memcpy(skey, IH, 20);
	return true;
}

/* Payload from us: once our handshake is in, answer with the peer's
 * handshake and an unchoke (encrypted when MSE says so). */
static void peer_payload(const uint8_t *p, size_t n)
{
	uint8_t out[BT_HS_LEN + 5], r[8] = { 0 };

	if (n > sizeof P.got - P.got_len)
		n = sizeof P.got - P.got_len;
	memcpy(P.got + P.got_len, p, n);
	P.got_len += n;
	if (P.replied || P.got_len < BT_HS_LEN)
		return;
	P.replied = true;
	bt_handshake_encode(out, r, IH, PEER_ID);
	bt_store_u32be(out + BT_HS_LEN, 1);
	out[BT_HS_LEN + 4] = BT_MSG_UNCHOKE;
	if (P.m_on && bt_mse_encrypt(&P.m, out, sizeof out) != BT_OK)
		return;
	peer_send(out, sizeof out);
}

static void on_peer(struct bt_loop *l, struct bt_io *io, unsigned ev)
{
	uint8_t buf[4096];
	ssize_t n;

	(void)l;
	(void)ev;
	n = recv(io->fd, buf, sizeof buf, 0);
	if (n <= 0) {
		peer_close();
		return;
	}
	switch (P.now) {
	case P_CLOSE:
		peer_close();
		return;
	case P_SILENT:
		return;
	case P_PLAIN:
		peer_payload(buf, (size_t)n);
		return;
	case P_MSE: {
		const uint8_t *q;
		size_t qn, used = 0;
		if (!bt_mse_done(&P.m)) {
			long k = bt_mse_feed(&P.m, buf, (size_t)n);
			q = bt_mse_pending(&P.m, &qn);
			peer_send(q, qn);
			bt_mse_sent(&P.m, qn);
			if (k < 0 || !bt_mse_done(&P.m))
				return;
			used = (size_t)k;
		}
		if (bt_mse_decrypt(&P.m, buf + used, (size_t)n - used) == BT_OK)
			peer_payload(buf + used, (size_t)n - used);
		return;
	}
	}
}

static void on_listen(struct bt_loop *l, struct bt_io *io, unsigned ev)
{
	int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)ev;
	if (fd < 0)
		return;
	peer_close();
	P.now = P.script[P.conns < 4 ? P.conns : 3];
	P.conns++;
	P.got_len = 0;
	P.replied = false;
	if (P.m_on) {
		bt_mse_free(&P.m);
		P.m_on = false;
	}
	if (P.now == P_MSE) {
		struct bt_mse_cfg mc;
		memset(&mc, 0, sizeof mc);
		mc.role = BT_MSE_RECEIVER;
		mc.crypto = P.allow;
		mc.prefer_plain = P.prefer_plain;
		mc.find_skey = find_ih;
		mc.pad_len = BT_MSE_PAD_RANDOM;
		if (bt_mse_init(&P.m, &mc) == BT_OK)
			P.m_on = true;
	}
	P.io.fd = fd;
	P.io.want = BT_IO_IN;
	P.io.cb = on_peer;
	bt_io_add(l, &P.io);
}

static void peer_start(enum behave a, enum behave b)
{
	struct sockaddr_in *s = (struct sockaddr_in *)&P.addr;

	memset(&P, 0, sizeof P);
	P.io.fd = -1;
	P.script[0] = a;
	P.script[1] = P.script[2] = P.script[3] = b;
	P.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->sin_family = AF_INET;
	s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	P.addr_len = sizeof *s;
	if (bind(P.lfd, (struct sockaddr *)s, P.addr_len) != 0 || listen(P.lfd, 8) != 0 ||
	    getsockname(P.lfd, (struct sockaddr *)&P.addr, &P.addr_len) != 0)
		T_FAILF("listen: %s", strerror(errno));
	P.lio.fd = P.lfd;
	P.lio.want = BT_IO_IN;
	P.lio.cb = on_listen;
	bt_io_add(&L, &P.lio);
}

static void peer_stop(void)
{
	peer_close();
	bt_io_del(&L, &P.lio);
	close(P.lfd);
	if (P.m_on)
		bt_mse_free(&P.m);
}

/* ---- our side ------------------------------------------------------------ */

static void on_event(struct bt_conn *c, const struct bt_event *ev, void *arg)
{
	struct rec *r = &E[NE < MAX_EV ? NE : MAX_EV - 1];

	(void)arg;
	if (NE < MAX_EV)
		NE++;
	r->kind = ev->kind;
	r->dir = ev->dir;
	r->err = ev->kind == BT_EV_NOTE ? ev->err : 0;
	r->detail = ev->declared_len;
	snprintf(r->why, sizeof r->why, "%s", ev->why ? ev->why : "");
	r->msg = ev->msg ? ev->msg->id : -1;
	if (ev->kind == BT_EV_CONNECTED) {
		struct bt_conn_hs h;
		bt_conn_hs_default(&h, IH, OUR_ID);
		bt_conn_send_handshake(c, &h);
		if (send_early)
			bt_conn_send_simple(c, BT_MSG_INTERESTED);
	}
}

static int on_keylog(struct bt_conn *c, const char *line, size_t len, void *arg)
{
	(void)c;
	(void)arg;
	if (len < sizeof keyline)
		memcpy(keyline, line, len + 1);
	return 0;
}

static void on_wire(struct bt_conn *c, enum bt_dir dir, const uint8_t *p, size_t n,
		    void *arg)
{
	(void)c;
	(void)arg;
	if (dir == BT_DIR_OUT && wire_out_head_len < sizeof wire_out_head) {
		size_t k = sizeof wire_out_head - wire_out_head_len;
		if (k > n)
			k = n;
		memcpy(wire_out_head + wire_out_head_len, p, k);
		wire_out_head_len += k;
	}
	wire[dir] += n;
}

/* Dial the peer with this mode; run until the peer's unchoke came and the
 * peer holds our handshake and interested, or the connection ended. */
static void run(enum bt_conn_enc enc, uint32_t crypto, uint64_t enc_timeout_us)
{
	struct bt_conn_cfg cfg;
	uint64_t deadline;
	bool sent_interested = false;

	NE = 0;
	keyline[0] = 0;
	wire[0] = wire[1] = 0;
	wire_out_head_len = 0;
	memset(&cfg, 0, sizeof cfg);
	cfg.peer = P.addr;
	cfg.peer_len = P.addr_len;
	cfg.on_event = on_event;
	cfg.encryption = enc;
	cfg.enc_crypto = crypto;
	cfg.enc_timeout_us = enc_timeout_us;
	cfg.on_keylog = on_keylog;
	cfg.on_wire = on_wire;
	T_EQ_INT(bt_conn_init(&C, &L, &cfg), BT_OK);
	T_EQ_INT(bt_conn_connect(&C), BT_OK);
	deadline = bt_now_us() + 5000000u;
	while (C.state != BT_CONN_DONE && bt_now_us() < deadline) {
		bt_loop_once(&L, 20000);
		if (C.peer_hs_seen && !send_early && !sent_interested &&
		    C.state == BT_CONN_OPEN) {
			bt_conn_send_simple(&C, BT_MSG_INTERESTED);
			sent_interested = true;
		}
		if (!C.peer_choking && P.got_len >= BT_HS_LEN + 5)
			break;
	}
	if (C.state != BT_CONN_DONE)
		bt_conn_close(&C);
}

/* Index of the first event of this kind (and step, for notes), or -1. */
static int find(enum bt_ev_kind k, int step)
{
	size_t i;

	for (i = 0; i < NE; i++)
		if (E[i].kind == k && (k != BT_EV_NOTE || E[i].err == step))
			return (int)i;
	return -1;
}

static size_t count(enum bt_ev_kind k)
{
	size_t i, n = 0;

	for (i = 0; i < NE; i++)
		n += E[i].kind == k;
	return n;
}

/* The peer got exactly our handshake, then interested. */
static void check_payload(void)
{
	uint8_t hs[BT_HS_LEN], r[8] = { 0 };

	bt_handshake_encode(hs, r, IH, OUR_ID);
	T_EQ_UINT(P.got_len, BT_HS_LEN + 5);
	T_EQ_MEM(P.got, BT_HS_LEN, hs, BT_HS_LEN);
	T_CHECK(P.got_len == BT_HS_LEN + 5 && P.got[BT_HS_LEN + 3] == 1 &&
		P.got[BT_HS_LEN + 4] == BT_MSG_INTERESTED);
	T_CHECK(C.peer_hs_seen && !C.peer_choking);
	T_EQ_MEM(C.peer_id, 20, PEER_ID, 20);
}

static void test_off(void)
{
	peer_start(P_PLAIN, P_PLAIN);
	send_early = false;
	run(BT_CONN_ENC_OFF, 0, 0);
	check_payload();
	T_EQ_INT(find(BT_EV_NOTE, BT_MSE_STEP_SENT_Y), -1);
	T_CHECK(C.mse == NULL && !C.mse_on);
	T_EQ_UINT(C.wire_out, BT_HS_LEN + 5);
	T_EQ_UINT(wire[BT_DIR_OUT], C.wire_out);
	T_EQ_UINT(wire[BT_DIR_IN], BT_HS_LEN + 5);
	T_EQ_STR(keyline, "");
	bt_conn_free(&C);
	peer_stop();
}

/* require: the steps in order, our early interested held until MSE was
 * done and delivered after the handshake, the key log line is the peer's
 * secret with our endpoints. */
static void test_require(void)
{
	struct bt_mse_keylog k;
	char cl[80], sv[80];
	int y, hs, gy, sel, hin;

	peer_start(P_MSE, P_MSE);
	send_early = true;
	run(BT_CONN_ENC_REQUIRE, 0, 0);
	check_payload();
	y = find(BT_EV_NOTE, BT_MSE_STEP_SENT_Y);
	hs = find(BT_EV_HANDSHAKE, 0);
	gy = find(BT_EV_NOTE, BT_MSE_STEP_GOT_Y);
	sel = find(BT_EV_NOTE, BT_MSE_STEP_SELECTED);
	hin = -1;
	for (size_t i = 0; i < NE; i++)
		if (E[i].kind == BT_EV_HANDSHAKE && E[i].dir == BT_DIR_IN)
			hin = (int)i;
	T_CHECK(y > 0 && hs == y + 1 && gy > hs && sel > gy && hin > sel);
	T_EQ_INT(E[y].dir, BT_DIR_OUT);
	T_CHECK(strncmp(E[y].why, "MSE: sent Ya (", 14) == 0);
	T_CHECK(strstr(E[y].why, "offering RC4") != NULL);
	T_EQ_UINT(E[y].detail, (uint64_t)C.mse->pad_len);
	T_CHECK(strstr(E[hs].why, "IA") != NULL);
	T_CHECK(strncmp(E[gy].why, "MSE: got Yb after ", 18) == 0);
	T_EQ_INT(E[sel].dir, BT_DIR_IN);
	T_EQ_UINT(E[sel].detail, BT_MSE_CRYPTO_RC4);
	T_CHECK(strncmp(E[sel].why, "MSE: RC4 selected after ", 24) == 0);
	T_CHECK(C.mse_done && C.mse_select == BT_MSE_CRYPTO_RC4);
	T_CHECK(C.t_mse_us <= C.t_mse_y_us && C.t_mse_y_us <= C.t_mse_done_us);
	T_EQ_UINT(count(BT_EV_CONNECTING), 1);
	/* Stream offsets are the payload's: 68 + 5 out, 68 + 5 in. */
	T_EQ_UINT(C.out_bytes, BT_HS_LEN + 5);
	T_EQ_UINT(C.in_bytes, BT_HS_LEN + 5);
	T_CHECK(C.wire_out > BT_MSE_KEY_LEN + 40 + 16 + BT_HS_LEN + 5);
	T_EQ_UINT(wire[BT_DIR_OUT], C.wire_out);
	T_EQ_UINT(wire[BT_DIR_IN], C.wire_in);
	T_EQ_MEM(wire_out_head, wire_out_head_len, C.mse->pub, BT_MSE_KEY_LEN);
	/* The key log line: the peer's S, our endpoints. */
	T_EQ_INT(bt_mse_keylog_parse(keyline, strlen(keyline), &k, NULL), BT_OK);
	T_EQ_MEM(k.secret, BT_MSE_KEY_LEN, bt_mse_secret(&P.m), BT_MSE_KEY_LEN);
	T_CHECK(k.has_skey);
	T_EQ_MEM(k.skey, 20, IH, 20);
	bt_sockaddr_fmt((struct sockaddr *)&C.local, cl, sizeof cl);
	bt_sockaddr_fmt((struct sockaddr *)&P.addr, sv, sizeof sv);
	T_EQ_MEM(k.client, k.client_len, cl, strlen(cl));
	T_EQ_MEM(k.server, k.server_len, sv, strlen(sv));
	bt_conn_free(&C);
	peer_stop();
}

/* Offering plaintext, the peer selects it: the payload after the IA goes
 * in the clear both ways. */
static void test_require_plaintext(void)
{
	int sel;

	peer_start(P_MSE, P_MSE);
	P.prefer_plain = true;
	send_early = false;
	run(BT_CONN_ENC_REQUIRE, BT_MSE_CRYPTO_PLAIN | BT_MSE_CRYPTO_RC4, 0);
	check_payload();
	sel = find(BT_EV_NOTE, BT_MSE_STEP_SELECTED);
	T_CHECK(sel > 0);
	T_EQ_UINT(E[sel].detail, BT_MSE_CRYPTO_PLAIN);
	T_CHECK(strstr(E[find(BT_EV_NOTE, BT_MSE_STEP_SENT_Y)].why,
		       "offering RC4 or plaintext") != NULL);
	bt_conn_free(&C);
	peer_stop();
}

/* prefer against a peer that closes during MSE: a REFUSED note, a
 * FALLBACK note, a new CONNECTING/CONNECTED, plain from there; no CLOSED
 * or RESET before the end; what we queued on the refused attempt is gone. */
static void test_prefer_fallback(void)
{
	int ref, fb, c2;

	peer_start(P_CLOSE, P_PLAIN);
	send_early = true;
	run(BT_CONN_ENC_PREFER, 0, 0);
	check_payload();
	ref = find(BT_EV_NOTE, BT_MSE_STEP_REFUSED);
	fb = find(BT_EV_NOTE, BT_MSE_STEP_FALLBACK);
	T_CHECK(ref > 0 && fb == ref + 1);
	T_EQ_INT(E[ref].dir, BT_DIR_IN);
	T_EQ_UINT(E[ref].detail, 0);
	T_CHECK(strstr(E[ref].why, "it does not accept encrypted connections") != NULL);
	T_CHECK(strstr(E[fb].why, "falling back to a plain connection") != NULL);
	c2 = fb + 1;
	T_EQ_INT(E[c2].kind, BT_EV_CONNECTING);
	T_EQ_INT(E[c2 + 1].kind, BT_EV_CONNECTED);
	T_EQ_UINT(count(BT_EV_CONNECTING), 2);
	T_EQ_INT(find(BT_EV_CLOSED, 0), (int)NE - 1);   /* ours, at the end */
	T_EQ_INT(find(BT_EV_RESET, 0), -1);
	T_CHECK(!C.mse_on && C.redials == 1);
	T_EQ_UINT(P.conns, 2);
	bt_conn_free(&C);
	peer_stop();
}

/* prefer against a silent peer: MSE gives up after enc_timeout_us. */
static void test_prefer_timeout(void)
{
	int to;

	peer_start(P_SILENT, P_PLAIN);
	send_early = false;
	run(BT_CONN_ENC_PREFER, 0, 150000);
	check_payload();
	to = find(BT_EV_NOTE, BT_MSE_STEP_TIMEOUT);
	T_CHECK(to > 0);
	T_CHECK(strstr(E[to].why, "no whole Yb within") != NULL);
	T_CHECK(E[to].detail >= 150000);
	T_EQ_INT(E[to + 1].err, BT_MSE_STEP_FALLBACK);
	T_EQ_UINT(count(BT_EV_CONNECTING), 2);
	bt_conn_free(&C);
	peer_stop();
}

/* probe: plain first, dropped at once, MSE on the redial. */
static void test_probe(void)
{
	int ref, pr, sel;

	peer_start(P_CLOSE, P_MSE);
	send_early = false;
	run(BT_CONN_ENC_PROBE, 0, 0);
	check_payload();
	ref = find(BT_EV_NOTE, BT_MSE_STEP_REFUSED);
	pr = find(BT_EV_NOTE, BT_MSE_STEP_PROBE);
	sel = find(BT_EV_NOTE, BT_MSE_STEP_SELECTED);
	T_CHECK(ref > 0 && pr == ref + 1 && sel > pr);
	T_CHECK(strstr(E[ref].why, "after our plain handshake, without sending a byte") != NULL);
	T_CHECK(C.mse_on && C.mse_done && C.redials == 1);
	T_CHECK(keyline[0] != 0);
	bt_conn_free(&C);
	peer_stop();
}

/* require against a peer that closes during MSE: the real CLOSED event,
 * saying where in MSE it happened; no redial. */
static void test_require_refused(void)
{
	int cl;

	peer_start(P_CLOSE, P_PLAIN);
	send_early = false;
	run(BT_CONN_ENC_REQUIRE, 0, 0);
	cl = find(BT_EV_CLOSED, 0);
	T_CHECK(cl > 0);
	T_EQ_INT(E[cl].dir, BT_DIR_IN);
	T_CHECK(strstr(E[cl].why, "during MSE, before a whole Yb") != NULL);
	T_EQ_UINT(count(BT_EV_CONNECTING), 1);
	T_EQ_INT(find(BT_EV_NOTE, BT_MSE_STEP_REFUSED), -1);
	T_EQ_UINT(P.conns, 1);
	bt_conn_free(&C);
	peer_stop();
}

/* bt_conn_in_partial: what a timeout note says about the peer's frame in
 * progress.  The framer is fed directly (white box: recv() feeds it the
 * same way), so every split is exact. */
static void test_in_partial(void)
{
	struct bt_conn_cfg cfg;
	struct bt_conn c;
	struct bt_frame f;
	uint8_t hs[BT_HS_LEN], r[8] = { 0 }, bf[8] = { 0, 0, 0, 4, BT_MSG_BITFIELD, 0xff, 0xff, 0x80 };
	uint8_t big[4] = { 0, 0, 0x46, 0x4f };   /* prefix 17999: an 18003-byte frame */
	char b[96];
	size_t need = 99;

	memset(&cfg, 0, sizeof cfg);
	cfg.peer.ss_family = AF_INET;
	cfg.peer_len = sizeof(struct sockaddr_in);
	cfg.on_event = on_event;
	T_EQ_INT(bt_conn_init(&c, &L, &cfg), BT_OK);
	T_EQ_UINT(bt_conn_in_partial(&c, &need, b, sizeof b), 0);
	T_EQ_UINT(need, 0);
	T_EQ_STR(b, "");
	/* 30 bytes of the handshake */
	bt_handshake_encode(hs, r, IH, PEER_ID);
	T_EQ_INT(bt_framer_feed(&c.fr, hs, 30, &f), 30);
	T_EQ_UINT(bt_conn_in_partial(&c, &need, b, sizeof b), 30);
	T_EQ_UINT(need, BT_HS_LEN);
	T_EQ_STR(b, "30 bytes into a 68-byte handshake");
	T_EQ_INT(bt_framer_feed(&c.fr, hs + 30, sizeof hs - 30, &f), (long)(sizeof hs - 30));
	T_EQ_INT(f.kind, BT_FRAME_HANDSHAKE);
	c.peer_hs_seen = true;
	T_EQ_UINT(bt_conn_in_partial(&c, NULL, b, sizeof b), 0);
	T_EQ_STR(b, "");
	/* a bitfield, a byte at a time */
	T_EQ_INT(bt_framer_feed(&c.fr, bf, 2, &f), 2);
	T_EQ_UINT(bt_conn_in_partial(&c, &need, b, sizeof b), 2);
	T_EQ_UINT(need, 0);
	T_EQ_STR(b, "2 bytes into a message's 4-byte length prefix");
	T_EQ_INT(bt_framer_feed(&c.fr, bf + 2, 2, &f), 2);
	T_EQ_UINT(bt_conn_in_partial(&c, &need, b, sizeof b), 4);
	T_EQ_UINT(need, 8);
	T_EQ_STR(b, "4 bytes into an 8-byte message");
	T_EQ_INT(bt_framer_feed(&c.fr, bf + 4, 2, &f), 2);
	T_EQ_UINT(bt_conn_in_partial(&c, NULL, b, sizeof b), 6);
	T_EQ_STR(b, "6 bytes into an 8-byte message (bitfield)");
	T_EQ_UINT(bt_conn_in_partial(&c, NULL, NULL, 0), 6);
	T_EQ_INT(bt_framer_feed(&c.fr, bf + 6, 2, &f), 2);
	T_EQ_INT(f.kind, BT_FRAME_MSG);
	T_EQ_UINT(bt_conn_in_partial(&c, NULL, b, sizeof b), 0);
	/* "an 18003-byte" (eighteen thousand); a short buffer is cut */
	T_EQ_INT(bt_framer_feed(&c.fr, big, 4, &f), 4);
	T_EQ_UINT(bt_conn_in_partial(&c, NULL, b, sizeof b), 4);
	T_EQ_STR(b, "4 bytes into an 18003-byte message");
	T_EQ_UINT(bt_conn_in_partial(&c, NULL, b, 8), 4);
	T_EQ_STR(b, "4 bytes");
	bt_conn_free(&c);
}

/* Not a mode: init refuses it. */
static void test_bad_mode(void)
{
	struct bt_conn_cfg cfg;
	struct bt_conn c;

	memset(&cfg, 0, sizeof cfg);
	cfg.peer.ss_family = AF_INET;
	cfg.peer_len = sizeof(struct sockaddr_in);
	cfg.on_event = on_event;
	cfg.encryption = (enum bt_conn_enc)9;
	T_EQ_INT(bt_conn_init(&c, &L, &cfg), BT_EINVAL);
	bt_conn_free(&c);
	T_EQ_STR(bt_conn_enc_name(BT_CONN_ENC_PROBE), "probe");
	T_EQ_STR(bt_mse_step_name(BT_MSE_STEP_FALLBACK), "fallback");
}

int main(void)
{
	if (bt_loop_init(&L) != 0)
		return 1;
	if (bt_mse_rc4_available(NULL) != BT_OK) {
		printf("skip test_conn (no RC4: OpenSSL legacy provider)\n");
		T_RUN(test_off);
		T_RUN(test_in_partial);
		bt_loop_free(&L);
		return T_DONE();
	}
	T_RUN(test_off);
	T_RUN(test_require);
	T_RUN(test_require_plaintext);
	T_RUN(test_prefer_fallback);
	T_RUN(test_prefer_timeout);
	T_RUN(test_probe);
	T_RUN(test_require_refused);
	T_RUN(test_bad_mode);
	T_RUN(test_in_partial);
	bt_loop_free(&L);
	return T_DONE();
}
