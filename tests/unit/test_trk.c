/* test_trk.c — the tracker client on the loop, against fake trackers that
 * live in the same loop on 127.0.0.1: exact bytes sent, the retransmission
 * schedule, connection-id sharing and reuse, deadlines, the queue. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "t.h"
#include "trk.h"

/* ---- a fake UDP tracker ------------------------------------------------- */

#define FAKE_MAX 16

struct fake_udp {
	struct bt_io io;
	uint16_t port;
	int drop;                    /* packets to ignore first */
	bool silent;
	bool dup_connect;            /* answer each connect twice */
	uint64_t conn_id;
	unsigned n;                  /* packets received */
	uint8_t pkt[FAKE_MAX][256];
	size_t len[FAKE_MAX];
	uint64_t at_us[FAKE_MAX];
};

static void fake_udp_cb(struct bt_loop *l, struct bt_io *io, unsigned ev)
{
	struct fake_udp *f = io->arg;
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	uint8_t b[2048], out[64];
	ssize_t n;

	(void)l;
	(void)ev;
	while ((n = recvfrom(io->fd, b, sizeof b, 0, (struct sockaddr *)&from, &fl)) >= 0) {
		uint32_t action, tid;
		if (f->n < FAKE_MAX) {
			memcpy(f->pkt[f->n], b, (size_t)n < 256 ? (size_t)n : 256);
			f->len[f->n] = (size_t)n;
			f->at_us[f->n] = bt_now_us();
		}
		f->n++;
		if (f->silent || n < 16)
			continue;
		if (f->drop > 0) {
			f->drop--;
			continue;
		}
		action = bt_load_u32be(b + 8);
		tid = bt_load_u32be(b + 12);
		if (action == BT_UDP_CONNECT) {
			bt_store_u32be(out, 0);
			bt_store_u32be(out + 4, tid);
			bt_store_u32be(out + 8, (uint32_t)(f->conn_id >> 32));
			bt_store_u32be(out + 12, (uint32_t)f->conn_id);
			sendto(io->fd, out, 16, 0, (struct sockaddr *)&from, fl);
			if (f->dup_connect)
				sendto(io->fd, out, 16, 0, (struct sockaddr *)&from, fl);
		} else if (action == BT_UDP_ANNOUNCE) {
			bt_store_u32be(out, 1);
			bt_store_u32be(out + 4, tid);
			bt_store_u32be(out + 8, 1800);
			bt_store_u32be(out + 12, 2);   /* leechers */
			bt_store_u32be(out + 16, 1);   /* seeders */
			memcpy(out + 20, "\x7f\x00\x00\x01\x1a\xe1", 6);
			sendto(io->fd, out, 26, 0, (struct sockaddr *)&from, fl);
		} else if (action == BT_UDP_SCRAPE) {
			bt_store_u32be(out, 2);
			bt_store_u32be(out + 4, tid);
			bt_store_u32be(out + 8, 5);
			bt_store_u32be(out + 12, 7);
			bt_store_u32be(out + 16, 6);
			sendto(io->fd, out, 20, 0, (struct sockaddr *)&from, fl);
		}
	}
}

static void fake_udp_open(struct bt_loop *l, struct fake_udp *f)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;

	memset(f, 0, sizeof(*f));
	f->conn_id = 0x0102030405060708ull;
	f->io.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (f->io.fd < 0 || bind(f->io.fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(f->io.fd, (struct sockaddr *)&a, &al) != 0)
		abort();
	f->port = ntohs(a.sin_port);
	f->io.want = BT_IO_IN;
	f->io.cb = fake_udp_cb;
	f->io.arg = f;
	bt_io_add(l, &f->io);
}

static void fake_udp_close(struct bt_loop *l, struct fake_udp *f)
{
	bt_io_del(l, &f->io);
	close(f->io.fd);
}

/* ---- a fake HTTP tracker: one connection, one canned answer ------------- */

struct fake_http {
	struct bt_io lio, cio;
	uint16_t port;
	const char *answer;          /* NULL: close without answering */
	size_t answer_len;
	char req[2048];
	size_t req_len;
	bool answered;
};

static void fake_http_conn(struct bt_loop *l, struct bt_io *io, unsigned ev)
{
	struct fake_http *f = io->arg;
	ssize_t n;

	(void)ev;
	while ((n = read(io->fd, f->req + f->req_len, sizeof f->req - 1 - f->req_len)) > 0)
		f->req_len += (size_t)n;
	f->req[f->req_len] = '\0';
	if (!f->answered && strstr(f->req, "\r\n\r\n")) {
		f->answered = true;
		if (f->answer && write(io->fd, f->answer, f->answer_len) < 0)
			abort();
		bt_io_del(l, io);
		close(io->fd);
		return;
	}
	if (n == 0) {
		bt_io_del(l, io);
		close(io->fd);
	}
}

static void fake_http_accept(struct bt_loop *l, struct bt_io *io, unsigned ev)
{
	struct fake_http *f = io->arg;
	int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK);

	(void)ev;
	if (fd < 0)
		return;
	f->cio.fd = fd;
	f->cio.want = BT_IO_IN;
	f->cio.cb = fake_http_conn;
	f->cio.arg = f;
	bt_io_add(l, &f->cio);
}

static void fake_http_open(struct bt_loop *l, struct fake_http *f, const char *answer,
			   size_t answer_len)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	int one = 1;

	memset(f, 0, sizeof(*f));
	f->answer = answer;
	f->answer_len = answer_len;
	f->lio.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(f->lio.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (f->lio.fd < 0 || bind(f->lio.fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(f->lio.fd, 4) != 0 || getsockname(f->lio.fd, (struct sockaddr *)&a, &al) != 0)
		abort();
	f->port = ntohs(a.sin_port);
	f->lio.want = BT_IO_IN;
	f->lio.cb = fake_http_accept;
	f->lio.arg = f;
	bt_io_add(l, &f->lio);
}

static void fake_http_close(struct bt_loop *l, struct fake_http *f)
{
	bt_io_del(l, &f->lio);
	close(f->lio.fd);
}

/* ---- requests ----------------------------------------------------------- */

struct done_log {
	int calls;
	struct bt_trk_req *order[8];
	bool in_start;               /* set around bt_trk_start */
	bool called_in_start;
};

static void on_done(struct bt_trk_req *r)
{
	struct done_log *d = r->arg;

	if (d->in_start)
		d->called_in_start = true;
	if (d->calls < 8)
		d->order[d->calls] = r;
	d->calls++;
}

static char url_buf[8][128];

static void req_setup(struct bt_trk_req *r, struct done_log *d, int slot, const char *fmt,
		      unsigned port)
{
	bt_trk_req_init(r);
	snprintf(url_buf[slot], sizeof url_buf[slot], fmt, port);
	r->url = url_buf[slot];
	r->url_len = strlen(url_buf[slot]);
	memset(r->ann.info_hash, 0xab, 20);
	memcpy(r->ann.peer_id, "-BK0100-unittest0000", 20);
	r->ann.port = 6881;
	r->ann.left = 5;
	r->udp_key = 0x01020304;
	r->done = on_done;
	r->arg = d;
}

static void start(struct bt_trk_client *c, struct bt_trk_req *r, struct done_log *d)
{
	d->in_start = true;
	T_EQ_INT(bt_trk_start(c, r), 0);
	d->in_start = false;
}

/* Run the loop until want done calls or the wall limit. */
static void run_until(struct bt_loop *l, struct done_log *d, int want, uint64_t limit_us)
{
	uint64_t end = bt_now_us() + limit_us;

	while (d->calls < want && bt_now_us() < end)
		bt_loop_once(l, 20000);
}

static struct bt_trk_client *client(struct bt_loop *l, uint64_t timeout_us, int retries,
				    unsigned inflight)
{
	struct bt_trk_client *c = NULL;
	struct bt_trk_opts o;

	bt_trk_opts_init(&o);
	o.timeout_us = timeout_us;
	o.retries = retries;
	o.max_inflight = inflight;
	if (bt_trk_client_new(&c, l, &o) != 0)
		abort();
	return c;
}

/* ---- tests -------------------------------------------------------------- */

static void test_fail_names(void)
{
	T_EQ_STR(bt_trk_fail_name(BT_TRKF_OK), "ok");
	T_EQ_STR(bt_trk_fail_name(BT_TRKF_TIMEOUT), "timeout");
	T_EQ_STR(bt_trk_fail_name(BT_TRKF_PACKET), "packet");
	T_EQ_STR(bt_trk_fail_name(BT_TRKF_TOOBIG), "too-big");
	T_EQ_STR(bt_trk_fail_name(99), "unknown");
}

static void test_bad_url_later(void)
{
	struct bt_loop l;
	struct bt_trk_client *c;
	struct bt_trk_req r;
	struct done_log d = { 0 };

	bt_loop_init(&l);
	c = client(&l, 1000000, 1, 0);
	req_setup(&r, &d, 0, "ftp://127.0.0.1:%u/announce", 21);
	start(c, &r, &d);
	T_EQ_INT(d.calls, 0);              /* never from inside bt_trk_start */
	T_EQ_INT(bt_trk_start(c, &r), -EBUSY);
	run_until(&l, &d, 1, 1000000);
	T_EQ_INT(d.calls, 1);
	T_CHECK(!d.called_in_start);
	T_EQ_INT(r.fail, BT_TRKF_ARG);
	T_EQ_STR(r.msg, "bad tracker URL: unsupported scheme (not http, https or udp)");
	T_EQ_UINT(bt_trk_active(c), 0);
	bt_trk_req_free(&r);
	bt_trk_client_free(c);
	bt_loop_free(&l);
}

/* Dropped first connect: resent after timeout / (2^(r+1) - 1) with the same
 * transaction id; a duplicate connect answer is ignored; the announce
 * carries exactly the fields asked for, then BEP 41 URLData. */
static void test_udp_exchange(void)
{
	struct bt_loop l;
	struct bt_trk_client *c;
	struct bt_trk_req r, r2;
	struct done_log d = { 0 };
	struct fake_udp f;
	struct bt_udp_announce want;
	uint8_t wb[256];
	struct bt_wr w;
	uint64_t gap;

	bt_loop_init(&l);
	fake_udp_open(&l, &f);
	f.drop = 1;
	f.dup_connect = true;
	c = client(&l, 700000, 2, 0);       /* waits 100, 200, 400 ms */
	req_setup(&r, &d, 0, "udp://127.0.0.1:%u/a?b=c", f.port);
	start(c, &r, &d);
	run_until(&l, &d, 1, 2000000);
	T_EQ_INT(d.calls, 1);
	T_EQ_INT(r.fail, BT_TRKF_OK);
	T_EQ_STR(r.msg, "");
	T_EQ_UINT(f.n, 3);                 /* connect, its resend, announce */
	/* connect: protocol id, action 0, the same tid both times */
	T_EQ_MEM(f.pkt[0], 12, "\x00\x00\x04\x17\x27\x10\x19\x80\x00\x00\x00\x00", 12);
	T_EQ_MEM(f.pkt[0], 16, f.pkt[1], f.len[1]);
	gap = f.at_us[1] - f.at_us[0];
	T_CHECK(gap >= 95000 && gap < 180000);
	T_EQ_UINT(r.t.retries, 1);
	T_CHECK(!r.t.conn_id_reused);
	T_CHECK(r.t.udp_connect_us >= 0 && r.t.udp_request_us >= 0);
	/* announce: rebuild the expected bytes with the codec */
	memset(&want, 0, sizeof want);
	want.connection_id = f.conn_id;
	want.transaction_id = bt_load_u32be(f.pkt[2] + 12);
	memset(want.info_hash, 0xab, 20);
	memcpy(want.peer_id, "-BK0100-unittest0000", 20);
	want.left = 5;
	want.key = 0x01020304;
	want.num_want = -1;
	want.port = 6881;
	want.url_data_set = true;
	want.url_data = "/a?b=c";
	want.url_data_len = 6;
	bt_wr_init(&w, wb, sizeof wb);
	T_EQ_INT(bt_udp_announce_req(&w, &want), BT_OK);
	T_EQ_MEM(f.pkt[2], f.len[2], wb, w.len);
	T_CHECK(want.transaction_id != bt_load_u32be(f.pkt[0] + 12));
	/* the answer, mapped onto the HTTP response fields */
	T_EQ_INT(r.resp.interval, 1800);
	T_EQ_INT(r.resp.complete, 1);
	T_EQ_INT(r.resp.incomplete, 2);
	T_EQ_INT(r.resp.min_interval, BT_TRK_ABSENT);
	T_EQ_UINT(r.resp.nstored, 1);
	T_CHECK(r.peers && r.peers[0].port == 6881);
	T_EQ_MEM(r.raw_sent, r.raw_sent_len, wb, w.len);

	/* A second request reuses the connection id: no connect sent. */
	req_setup(&r2, &d, 1, "udp://127.0.0.1:%u/announce", f.port);
	r2.kind = BT_TRK_SCRAPE;
	start(c, &r2, &d);
	run_until(&l, &d, 2, 2000000);
	T_EQ_INT(r2.fail, BT_TRKF_OK);
	T_CHECK(r2.t.conn_id_reused);
	T_EQ_UINT(f.n, 4);
	T_EQ_UINT(bt_load_u32be(f.pkt[3] + 8), BT_UDP_SCRAPE);
	T_EQ_UINT(r2.nfiles, 1);
	T_CHECK(r2.files && r2.files[0].complete == 5 && r2.files[0].downloaded == 7 &&
		r2.files[0].incomplete == 6);

	bt_trk_req_free(&r);
	bt_trk_req_free(&r2);
	bt_trk_client_free(c);
	fake_udp_close(&l, &f);
	bt_loop_free(&l);
}

/* A silent tracker: retries + 1 sends at the doubling waits, then a
 * timeout at the deadline, not later. */
static void test_udp_deadline(void)
{
	struct bt_loop l;
	struct bt_trk_client *c;
	struct bt_trk_req r;
	struct done_log d = { 0 };
	struct fake_udp f;
	uint64_t t0, took;

	bt_loop_init(&l);
	fake_udp_open(&l, &f);
	f.silent = true;
	c = client(&l, 300000, 1, 0);       /* waits 100, 200 ms */
	req_setup(&r, &d, 0, "udp://127.0.0.1:%u", f.port);
	t0 = bt_now_us();
	start(c, &r, &d);
	run_until(&l, &d, 1, 2000000);
	took = bt_now_us() - t0;
	T_EQ_INT(r.fail, BT_TRKF_TIMEOUT);
	T_EQ_STR(r.msg, "no answer to the UDP connect after 2 attempts in 0.3 s");
	T_EQ_UINT(f.n, 2);
	T_CHECK(took >= 295000 && took < 400000);
	T_EQ_UINT(r.t.retries, 1);
	bt_trk_req_free(&r);
	bt_trk_client_free(c);
	fake_udp_close(&l, &f);
	bt_loop_free(&l);
}

/* Three requests to one tracker at once: one connect, shared. */
static void test_udp_shared_connect(void)
{
	struct bt_loop l;
	struct bt_trk_client *c;
	struct bt_trk_req r[3];
	struct done_log d = { 0 };
	struct fake_udp f;
	unsigned connects = 0, i, reused = 0;

	bt_loop_init(&l);
	fake_udp_open(&l, &f);
	c = client(&l, 1000000, 1, 0);
	for (i = 0; i < 3; i++) {
		req_setup(&r[i], &d, (int)i, "udp://127.0.0.1:%u/announce", f.port);
		start(c, &r[i], &d);
	}
	T_EQ_UINT(bt_trk_active(c), 3);
	run_until(&l, &d, 3, 2000000);
	T_EQ_INT(d.calls, 3);
	for (i = 0; i < f.n && i < FAKE_MAX; i++)
		connects += bt_load_u32be(f.pkt[i] + 8) == BT_UDP_CONNECT;
	T_EQ_UINT(connects, 1);
	for (i = 0; i < 3; i++) {
		T_EQ_INT(r[i].fail, BT_TRKF_OK);
		reused += r[i].t.conn_id_reused;
		bt_trk_req_free(&r[i]);
	}
	T_EQ_UINT(reused, 2);
	bt_trk_client_free(c);
	fake_udp_close(&l, &f);
	bt_loop_free(&l);
}

/* max_inflight 1: FIFO, one at a time; cancel leaves no callback. */
static void test_queue_cancel(void)
{
	struct bt_loop l;
	struct bt_trk_client *c;
	struct bt_trk_req r[3];
	struct done_log d = { 0 };
	struct fake_udp f;

	bt_loop_init(&l);
	fake_udp_open(&l, &f);
	c = client(&l, 1000000, 1, 1);
	for (int i = 0; i < 3; i++) {
		req_setup(&r[i], &d, i, "udp://127.0.0.1:%u/announce", f.port);
		start(c, &r[i], &d);
	}
	bt_trk_cancel(&r[1]);
	T_EQ_UINT(bt_trk_active(c), 2);
	run_until(&l, &d, 2, 2000000);
	T_EQ_INT(d.calls, 2);
	T_CHECK(d.order[0] == &r[0] && d.order[1] == &r[2]);
	/* Freed with a request still running: no callback, no leak. */
	f.silent = true;
	req_setup(&r[1], &d, 1, "udp://127.0.0.1:%u/announce", f.port);
	start(c, &r[1], &d);
	bt_loop_once(&l, 10000);
	bt_trk_client_free(c);
	for (int i = 0; i < 3; i++)
		bt_trk_req_free(&r[i]);
	T_EQ_INT(d.calls, 2);
	fake_udp_close(&l, &f);
	bt_loop_free(&l);
}

static void test_http_exchange(void)
{
	static const char answer[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 60\r\nConnection: close\r\n\r\n"
		"d8:completei3e10:incompletei4e8:intervali60e5:peers6:\x7f\x00\x00\x01\x1a\xe1" "e";
	struct bt_loop l;
	struct bt_trk_client *c;
	struct bt_trk_req r;
	struct done_log d = { 0 };
	struct fake_http f;
	char want[512];

	bt_loop_init(&l);
	fake_http_open(&l, &f, answer, sizeof answer - 1);
	c = client(&l, 2000000, 1, 0);
	req_setup(&r, &d, 0, "http://127.0.0.1:%u/announce?k=v", f.port);
	r.ann.key = "0a0b0c0d";
	r.ann.key_len = 8;
	start(c, &r, &d);
	run_until(&l, &d, 1, 3000000);
	T_EQ_INT(d.calls, 1);
	T_EQ_INT(r.fail, BT_TRKF_OK);
	T_EQ_INT(r.http_status, 200);
	snprintf(want, sizeof want, "GET /announce?k=v&info_hash=%s&peer_id=-BK0100-unittest0000"
		 "&port=6881&uploaded=0&downloaded=0&left=5&compact=1&key=0a0b0c0d HTTP/1.1\r\n"
		 "Host: 127.0.0.1:%u\r\n",
		 "%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB", f.port);
	T_CHECK(strncmp(f.req, want, strlen(want)) == 0);
	T_EQ_INT(r.resp.interval, 60);
	T_EQ_INT(r.resp.complete, 3);
	T_EQ_UINT(r.resp.nstored, 1);
	T_CHECK(r.peers && r.peers[0].port == 6881);
	T_CHECK(r.t.total_us > 0 && r.t.connect_us >= 0 && r.t.first_byte_us >= 0);
	T_EQ_INT(r.t.tls_us, -1);
	T_EQ_UINT(r.raw_len, 60);
	bt_trk_req_free(&r);

	/* Closed without an answer. */
	fake_http_close(&l, &f);
	fake_http_open(&l, &f, NULL, 0);
	d.calls = 0;
	req_setup(&r, &d, 0, "http://127.0.0.1:%u/announce", f.port);
	start(c, &r, &d);
	run_until(&l, &d, 1, 3000000);
	T_EQ_INT(r.fail, BT_TRKF_HTTP);
	T_EQ_STR(r.msg, "empty reply: the tracker closed the connection without a response");
	bt_trk_req_free(&r);
	bt_trk_client_free(c);
	fake_http_close(&l, &f);
	bt_loop_free(&l);
}

int main(void)
{
	T_RUN(test_fail_names);
	T_RUN(test_bad_url_later);
	T_RUN(test_udp_exchange);
	T_RUN(test_udp_deadline);
	T_RUN(test_udp_shared_connect);
	T_RUN(test_queue_cancel);
	T_RUN(test_http_exchange);
	return T_DONE();
}
