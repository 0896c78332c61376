#include "flow.h"
#include "t.h"

#include <pcap/pcap.h>

/* Segments are built as struct bt_pkt directly (pkt.c has its own tests);
 * the recorder concatenates each flow's delivered bytes per direction and
 * logs every event with the number of bytes delivered before it, so tests
 * can assert both the exact streams and where a GAP sits in them. */

#define MAXF  8
#define BUFSZ (1u << 17)
#define MAXEV 512

struct ev {
	uint64_t flow;
	int dir;
	enum bt_flow_ev kind;
	uint32_t seq;
	uint64_t len, off;
	const char *why;
	size_t at;        /* bytes delivered in dir (dir 0 for flow events) */
	size_t step;      /* input number it came during */
	uint64_t ts;
};

static struct {
	uint8_t buf[MAXF][2][BUFSZ];
	size_t len[MAXF][2];
	struct ev ev[MAXEV];
	size_t nev;
	size_t step;
	int opened, released;
	size_t ngap;          /* GAP events, stored or not */
	uint64_t rel_gap[MAXF][2], rel_dup[MAXF][2];
	uint64_t last_ts[MAXF][2];   /* time of the last delivery */
	bool overflow;
} R;

static void rec_reset(void)
{
	memset(R.len, 0, sizeof(R.len));
	R.nev = 0;
	R.step = 0;
	R.opened = R.released = 0;
	R.ngap = 0;
	R.overflow = false;
	memset(R.rel_gap, 0, sizeof(R.rel_gap));
	memset(R.rel_dup, 0, sizeof(R.rel_dup));
	memset(R.last_ts, 0, sizeof(R.last_ts));
}

static void on_deliver(void *ctx, struct bt_flow *f, int dir,
		       const uint8_t *p, size_t n, uint64_t ts)
{
	(void)ctx;
	if (f->id >= MAXF || R.len[f->id][dir] + n > BUFSZ || n == 0) {
		R.overflow = true;
		return;
	}
	R.last_ts[f->id][dir] = ts;
	memcpy(R.buf[f->id][dir] + R.len[f->id][dir], p, n);
	R.len[f->id][dir] += n;
}

static void on_event(void *ctx, struct bt_flow *f, int dir, enum bt_flow_ev k,
		     const struct bt_flow_evinfo *e)
{
	struct ev *v;

	(void)ctx;
	if (k == BT_FLOW_EV_OPEN) {
		/* per-flow user state, freed in on_release (ASan checks) */
		f->user = malloc(32);
		R.opened++;
	}
	R.ngap += k == BT_FLOW_EV_GAP;
	if (R.nev == MAXEV || f->id >= MAXF) {
		R.overflow = true;
		return;
	}
	v = &R.ev[R.nev++];
	v->flow = f->id;
	v->dir = dir;
	v->kind = k;
	v->seq = e->seq;
	v->len = e->len;
	v->off = e->off;
	v->why = e->why;
	v->at = R.len[f->id][dir < 0 ? 0 : dir];
	v->step = R.step;
	v->ts = e->ts_us;
}

static void on_release(void *ctx, struct bt_flow *f)
{
	(void)ctx;
	free(f->user);
	f->user = NULL;
	R.released++;
	if (f->id < MAXF) {
		R.rel_gap[f->id][0] = f->d[0].gap_bytes;
		R.rel_gap[f->id][1] = f->d[1].gap_bytes;
		R.rel_dup[f->id][0] = f->d[0].dup_bytes;
		R.rel_dup[f->id][1] = f->d[1].dup_bytes;
	}
}

static const struct bt_flow_cb CB = { on_deliver, on_event, on_release };

static size_t count_ev(enum bt_flow_ev k)
{
	size_t i, c = 0;

	for (i = 0; i < R.nev; i++)
		c += R.ev[i].kind == k;
	return c;
}

static const struct ev *find_ev(enum bt_flow_ev k, size_t nth)
{
	size_t i;

	for (i = 0; i < R.nev; i++)
		if (R.ev[i].kind == k && nth-- == 0)
			return &R.ev[i];
	return NULL;
}

static const uint8_t CLI[4] = { 10, 0, 0, 1 }, SRV[4] = { 10, 0, 0, 2 };
static uint64_t clock_us;

/* A segment from the client (from == 0) or the server, client port cport. */
static struct bt_pkt mkp(int from, uint16_t cport, uint32_t seq, uint32_t ack,
			 uint8_t flags, const void *data, size_t len)
{
	struct bt_pkt pk;

	memset(&pk, 0, sizeof(pk));
	pk.l3 = BT_PKT_IPV4;
	pk.l4 = BT_PKT_TCP;
	pk.src.family = pk.dst.family = 4;
	memcpy(pk.src.a, from ? SRV : CLI, 4);
	memcpy(pk.dst.a, from ? CLI : SRV, 4);
	pk.sport = from ? 6881 : cport;
	pk.dport = from ? cport : 6881;
	pk.seq = seq;
	pk.ack = ack;
	pk.tcp_flags = flags;
	pk.payload = data;
	pk.payload_len = pk.payload_wirelen = len;
	pk.ts_us = ++clock_us;
	return pk;
}

static struct bt_flow *feed(struct bt_flow_table *t, struct bt_pkt pk)
{
	struct bt_flow *f = NULL;

	R.step++;
	T_EQ_INT(bt_flow_input(t, &pk, &f), BT_OK);
	return f;
}

/* Data segment from side `from` on the default client port. */
static struct bt_flow *seg(struct bt_flow_table *t, int from, uint32_t seq,
			   const void *p, size_t n)
{
	return feed(t, mkp(from, 40000, seq, 0, BT_TCP_ACK | BT_TCP_PSH, p, n));
}

static struct bt_flow *handshake(struct bt_flow_table *t, uint16_t cport,
				 uint32_t cisn, uint32_t sisn)
{
	feed(t, mkp(0, cport, cisn, 0, BT_TCP_SYN, NULL, 0));
	feed(t, mkp(1, cport, sisn, cisn + 1, BT_TCP_SYN | BT_TCP_ACK, NULL, 0));
	return feed(t, mkp(0, cport, cisn + 1, sisn + 1, BT_TCP_ACK, NULL, 0));
}

static void pattern(uint8_t *b, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)((i * 131 + seed * 17 + (i >> 8)) % 251);
}

static void table(struct bt_flow_table *t, const struct bt_flow_cfg *cfg)
{
	rec_reset();
	T_EQ_INT(bt_flow_init(t, cfg, &CB, NULL), 0);
}

static void test_in_order(void)
{
	struct bt_flow_table t;
	struct bt_flow *f;
	static const char req[] = "hello world", rsp[] = "0123456789abcdef";

	table(&t, NULL);
	f = handshake(&t, 40000, 1000, 5000);
	T_CHECK(f != NULL);
	seg(&t, 0, 1001, req, 6);
	seg(&t, 0, 1007, req + 6, 5);
	seg(&t, 1, 5001, rsp, 4);
	seg(&t, 1, 5005, rsp + 4, 8);
	seg(&t, 1, 5013, rsp + 12, 4);
	feed(&t, mkp(0, 40000, 1012, 5017, BT_TCP_FIN | BT_TCP_ACK, NULL, 0));
	feed(&t, mkp(1, 40000, 5017, 1013, BT_TCP_FIN | BT_TCP_ACK, NULL, 0));
	f = feed(&t, mkp(0, 40000, 1013, 5018, BT_TCP_ACK, NULL, 0));
	T_EQ_MEM(R.buf[1][0], R.len[1][0], req, 11);
	T_EQ_MEM(R.buf[1][1], R.len[1][1], rsp, 16);
	T_EQ_UINT(R.nev, 6);
	T_EQ_INT(R.ev[0].kind, BT_FLOW_EV_OPEN);
	T_EQ_INT(R.ev[0].dir, -1);
	T_EQ_INT(R.ev[1].kind, BT_FLOW_EV_SYN);
	T_EQ_INT(R.ev[1].dir, 0);
	T_EQ_UINT(R.ev[1].seq, 1000);
	T_EQ_INT(R.ev[2].kind, BT_FLOW_EV_SYN);
	T_EQ_INT(R.ev[2].dir, 1);
	T_EQ_UINT(R.ev[2].seq, 5000);
	T_EQ_INT(R.ev[3].kind, BT_FLOW_EV_FIN);
	T_EQ_INT(R.ev[3].dir, 0);
	T_EQ_UINT(R.ev[3].seq, 1012);
	T_EQ_UINT(R.ev[3].off, 11);
	T_EQ_UINT(R.ev[3].at, 11);
	T_EQ_INT(R.ev[4].kind, BT_FLOW_EV_FIN);
	T_EQ_UINT(R.ev[4].seq, 5017);
	T_EQ_INT(R.ev[5].kind, BT_FLOW_EV_CLOSED);
	/* the flow's public face */
	T_CHECK(f != NULL);
	if (f) {
		T_EQ_UINT(f->id, 1);
		T_EQ_UINT(f->ep[0].port, 40000);
		T_EQ_MEM(f->ep[0].addr.a, 4, CLI, 4);
		T_EQ_UINT(f->ep[1].port, 6881);
		T_EQ_MEM(f->ep[1].addr.a, 4, SRV, 4);
		T_EQ_UINT(f->first_us + 10, f->last_us);
		T_EQ_UINT(f->d[0].pkts, 6);
		T_EQ_UINT(f->d[1].pkts, 5);
		T_EQ_UINT(f->d[0].bytes, 11);
		T_EQ_UINT(f->d[1].bytes, 16);
		T_EQ_UINT(f->d[0].isn, 1000);
		T_EQ_UINT(f->d[1].isn, 5000);
		T_CHECK(f->d[0].syn && f->d[1].syn);
		T_CHECK(!f->d[0].midstream);
		T_CHECK(f->d[0].fin && f->d[1].fin);
		T_CHECK(f->closed);
		T_CHECK(f->user != NULL);
	}
	T_EQ_UINT(t.nflows, 1);
	T_EQ_UINT(t.ignored, 0);
	bt_flow_flush(&t);
	T_EQ_UINT(R.nev, 6);        /* nothing was left to declare */
	T_EQ_INT(R.released, 1);
	T_EQ_UINT(t.nflows, 0);
	bt_flow_free(&t);
	T_CHECK(!R.overflow);
}

/* Four segments in each of the 24 orders: after every input the stream
 * holds exactly the covered prefix, and at the end all 24 bytes. */
static void test_every_permutation(void)
{
	static const size_t sz[4] = { 5, 7, 3, 9 }, at[4] = { 0, 5, 12, 15 };
	uint8_t data[24];
	int a, b, c, d, nperm = 0;

	pattern(data, sizeof(data), 1);
	for (a = 0; a < 4; a++)
	for (b = 0; b < 4; b++)
	for (c = 0; c < 4; c++)
	for (d = 0; d < 4; d++) {
		int order[4] = { a, b, c, d }, i, j;
		bool have[4] = { false };
		struct bt_flow_table t;

		if (a == b || a == c || a == d || b == c || b == d || c == d)
			continue;
		nperm++;
		table(&t, NULL);
		handshake(&t, 40000, 0x7ffffff0u, 1);
		for (i = 0; i < 4; i++) {
			size_t prefix = 0;

			seg(&t, 0, 0x7ffffff1u + (uint32_t)at[order[i]],
			    data + at[order[i]], sz[order[i]]);
			have[order[i]] = true;
			for (j = 0; j < 4 && have[j]; j++)
				prefix += sz[j];
			T_EQ_UINT(R.len[1][0], prefix);
		}
		T_EQ_MEM(R.buf[1][0], R.len[1][0], data, 24);
		T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
		T_EQ_UINT(count_ev(BT_FLOW_EV_CONFLICT), 0);
		bt_flow_flush(&t);
		T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
		T_EQ_UINT(R.rel_dup[1][0], 0);
		bt_flow_free(&t);
		if (t_failed_now) {
			printf("#   order %d %d %d %d\n", a, b, c, d);
			return;
		}
	}
	T_EQ_INT(nperm, 24);
}

static void test_duplicates(void)
{
	struct bt_flow_table t;
	uint8_t s[40];
	static const int order[] = { 0, 0, 2, 2, 1, 3, 1, 3, 0 };
	size_t i;

	pattern(s, sizeof(s), 2);
	table(&t, NULL);
	handshake(&t, 40000, 100, 200);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		seg(&t, 0, 101 + (uint32_t)order[i] * 10, s + order[i] * 10, 10);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], s, 40);
	T_EQ_UINT(count_ev(BT_FLOW_EV_CONFLICT), 0);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
	bt_flow_flush(&t);
	T_EQ_UINT(R.rel_dup[1][0], 50);
	bt_flow_free(&t);
}

static void test_overlaps(void)
{
	struct bt_flow_table t;
	uint8_t s[40];

	pattern(s, sizeof(s), 3);
	table(&t, NULL);
	handshake(&t, 40000, 100, 200);
	/* in order, each overlapping the last */
	seg(&t, 0, 101, s, 10);
	seg(&t, 0, 106, s + 5, 10);
	seg(&t, 0, 113, s + 12, 8);
	T_EQ_UINT(R.len[1][0], 20);
	/* out of order: [30,40) waits, [25,35) half overlaps it, [20,27)
	 * fills the hole and overlaps [25,35) */
	seg(&t, 0, 131, s + 30, 10);
	seg(&t, 0, 126, s + 25, 10);
	T_EQ_UINT(R.len[1][0], 20);
	seg(&t, 0, 121, s + 20, 7);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], s, 40);
	T_EQ_UINT(count_ev(BT_FLOW_EV_CONFLICT), 0);
	bt_flow_flush(&t);
	T_EQ_UINT(R.rel_dup[1][0], 5 + 3 + 5 + 2);
	bt_flow_free(&t);

	/* one segment spanning several waiting pieces and the holes between */
	table(&t, NULL);
	handshake(&t, 40000, 100, 200);
	seg(&t, 0, 111, s + 10, 2);
	seg(&t, 0, 115, s + 14, 2);
	seg(&t, 0, 109, s + 8, 12);
	T_EQ_UINT(R.len[1][0], 0);
	seg(&t, 0, 101, s, 8);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], s, 20);
	bt_flow_flush(&t);
	T_EQ_UINT(R.rel_dup[1][0], 4);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
	bt_flow_free(&t);
}

static void test_overlap_conflict(void)
{
	struct bt_flow_table t;
	uint8_t s[30], x[30];
	const struct ev *e;

	pattern(s, sizeof(s), 4);
	table(&t, NULL);
	handshake(&t, 40000, 100, 200);
	seg(&t, 0, 101, s, 10);
	/* again [5,15) with bytes 7 and 9 changed: [7,10) conflicts */
	memcpy(x, s, sizeof(x));
	x[7] ^= 0xff;
	x[9] ^= 0x01;
	seg(&t, 0, 106, x + 5, 10);
	T_EQ_UINT(count_ev(BT_FLOW_EV_CONFLICT), 1);
	e = find_ev(BT_FLOW_EV_CONFLICT, 0);
	if (e) {
		T_EQ_INT(e->dir, 0);
		T_EQ_UINT(e->seq, 108);
		T_EQ_UINT(e->off, 7);
		T_EQ_UINT(e->len, 3);
	}
	/* [20,30) waits; [15,25) comes with byte 22 changed */
	seg(&t, 0, 121, s + 20, 10);
	memcpy(x, s, sizeof(x));
	x[22] = (uint8_t)~x[22];
	seg(&t, 0, 116, x + 15, 10);
	T_EQ_UINT(count_ev(BT_FLOW_EV_CONFLICT), 2);
	e = find_ev(BT_FLOW_EV_CONFLICT, 1);
	if (e) {
		T_EQ_UINT(e->seq, 123);
		T_EQ_UINT(e->off, 22);
		T_EQ_UINT(e->len, 1);
	}
	/* the first copy wins everywhere */
	T_EQ_MEM(R.buf[1][0], R.len[1][0], s, 30);
	T_EQ_STR(bt_flow_ev_name(BT_FLOW_EV_CONFLICT), "overlap conflict");
	bt_flow_free(&t);
}

/* B of A B C D is never captured: exactly one GAP, where B was. */
static void test_dropped_segment(void)
{
	struct bt_flow_table t;
	uint8_t s[400], want[300];
	const struct ev *e;
	int variant;

	pattern(s, sizeof(s), 5);
	memcpy(want, s, 100);
	memcpy(want + 100, s + 200, 200);
	for (variant = 0; variant < 3; variant++) {
		table(&t, NULL);
		handshake(&t, 40000, 1000, 2000);
		seg(&t, 0, 1001, s, 100);
		seg(&t, 0, 1201, s + 200, 100);
		if (variant == 1) {     /* D carries the FIN */
			feed(&t, mkp(0, 40000, 1301, 2001,
				     BT_TCP_ACK | BT_TCP_FIN, s + 300, 100));
			T_EQ_UINT(count_ev(BT_FLOW_EV_FIN), 0);
		} else {
			seg(&t, 0, 1301, s + 300, 100);
		}
		T_EQ_UINT(R.len[1][0], 100);
		T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
		if (variant == 2)
			feed(&t, mkp(1, 40000, 2001, 0, BT_TCP_RST, NULL, 0));
		else
			bt_flow_flush(&t);
		T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 1);
		e = find_ev(BT_FLOW_EV_GAP, 0);
		if (e) {
			T_EQ_INT(e->dir, 0);
			T_EQ_UINT(e->seq, 1101);
			T_EQ_UINT(e->off, 100);
			T_EQ_UINT(e->len, 100);
			T_EQ_UINT(e->at, 100);   /* between A and C */
			T_EQ_STR(e->why, variant == 2 ? "reset" : "end of capture");
		}
		T_EQ_MEM(R.buf[1][0], R.len[1][0], want, 300);
		if (variant == 1) {
			e = find_ev(BT_FLOW_EV_FIN, 0);
			T_CHECK(e && e->seq == 1401 && e->at == 300);
		}
		if (variant == 2) {
			T_EQ_UINT(count_ev(BT_FLOW_EV_RST), 1);
			T_EQ_UINT(count_ev(BT_FLOW_EV_CLOSED), 1);
			e = find_ev(BT_FLOW_EV_RST, 0);
			T_CHECK(e && e->dir == 1 && e->seq == 2001);
			bt_flow_flush(&t);
		}
		T_EQ_UINT(R.rel_gap[1][0], 100);
		T_EQ_INT(R.released, 1);
		bt_flow_free(&t);
	}
}

/* A segment lost by the capture but acknowledged by the receiver: the
 * hole is declared when the grace (8 packets of the flow) has passed
 * after the ACK, not at the end of the capture, and the bytes behind it
 * are delivered then, at the ACK's time.  Exact event order. */
static void test_acked_hole(void)
{
	struct bt_flow_table t;
	uint8_t s[400], r[8];
	const struct ev *e;
	uint64_t ack_ts;
	size_t ack_step;

	pattern(s, sizeof(s), 9);
	memset(r, 'r', sizeof r);
	table(&t, NULL);
	handshake(&t, 40000, 1000, 2000);
	seg(&t, 0, 1001, s, 100);              /* A */
	seg(&t, 0, 1201, s + 200, 100);        /* C; B [100, 200) never captured */
	/* the receiver acknowledges A only: nothing to say yet, however long */
	feed(&t, mkp(1, 40000, 2001, 1101, BT_TCP_ACK, NULL, 0));
	for (int i = 0; i < 10; i++)
		seg(&t, 1, 2001 + (uint32_t)i, r + i % 8, 1);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
	T_EQ_UINT(R.len[1][0], 100);
	/* then past B and C: the grace starts */
	feed(&t, mkp(1, 40000, 2011, 1301, BT_TCP_ACK, NULL, 0));
	ack_ts = clock_us;
	ack_step = R.step;
	for (int i = 0; i < 7; i++)
		seg(&t, 1, 2011 + (uint32_t)i, r, 1);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);  /* 7 packets: still waiting */
	T_EQ_UINT(R.len[1][0], 100);
	seg(&t, 1, 2018, r, 1);                 /* the 8th */
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 1);
	e = find_ev(BT_FLOW_EV_GAP, 0);
	if (e) {
		T_EQ_INT(e->dir, 0);
		T_EQ_UINT(e->off, 100);
		T_EQ_UINT(e->len, 100);
		T_EQ_UINT(e->seq, 1101);
		T_EQ_UINT(e->at, 100);               /* between A and C */
		T_EQ_UINT(e->step, ack_step + 8);
		T_EQ_UINT(e->ts, ack_ts);            /* when the peer had them */
		T_EQ_STR(e->why, "not captured (acknowledged by the peer)");
	}
	T_EQ_UINT(R.len[1][0], 200);            /* C delivered with it */
	T_EQ_UINT(R.last_ts[1][0], ack_ts);
	/* what follows is delivered as it comes, at its own time */
	seg(&t, 0, 1301, s + 300, 100);
	T_EQ_UINT(R.len[1][0], 300);
	T_EQ_UINT(R.last_ts[1][0], clock_us);
	T_EQ_MEM(R.buf[1][0], 100, s, 100);
	T_EQ_MEM(R.buf[1][0] + 100, 200, s + 200, 200);
	/* the whole order: open, SYN, SYN, the GAP, nothing else until the end */
	T_EQ_UINT(R.nev, 4);
	T_EQ_INT(R.ev[0].kind, BT_FLOW_EV_OPEN);
	T_EQ_INT(R.ev[1].kind, BT_FLOW_EV_SYN);
	T_EQ_INT(R.ev[2].kind, BT_FLOW_EV_SYN);
	T_EQ_INT(R.ev[3].kind, BT_FLOW_EV_GAP);
	feed(&t, mkp(0, 40000, 1401, 2019, BT_TCP_FIN | BT_TCP_ACK, NULL, 0));
	feed(&t, mkp(1, 40000, 2019, 1402, BT_TCP_FIN | BT_TCP_ACK, NULL, 0));
	bt_flow_flush(&t);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 1);  /* declared once */
	T_EQ_INT(R.ev[4].kind, BT_FLOW_EV_FIN);
	T_EQ_UINT(R.ev[4].at, 300);
	T_EQ_INT(R.ev[5].kind, BT_FLOW_EV_FIN);
	T_EQ_INT(R.ev[6].kind, BT_FLOW_EV_CLOSED);
	T_EQ_UINT(R.nev, 7);
	T_EQ_UINT(R.rel_gap[1][0], 100);
	bt_flow_free(&t);
	T_CHECK(!R.overflow);
}

/* A loopback capture records B after the ACK that covers it: within the
 * grace it fills the hole, and no GAP is declared. */
static void test_acked_hole_late_segment(void)
{
	struct bt_flow_table t;
	uint8_t s[300], r = 'r';

	pattern(s, sizeof(s), 11);
	table(&t, NULL);
	handshake(&t, 40000, 1000, 2000);
	seg(&t, 0, 1001, s, 100);
	seg(&t, 0, 1201, s + 200, 100);
	feed(&t, mkp(1, 40000, 2001, 1301, BT_TCP_ACK, NULL, 0));
	for (int i = 0; i < 6; i++)
		seg(&t, 1, 2001 + (uint32_t)i, &r, 1);
	seg(&t, 0, 1101, s + 100, 100);        /* B, late */
	T_EQ_UINT(R.len[1][0], 300);
	T_EQ_MEM(R.buf[1][0], 300, s, 300);
	T_EQ_UINT(R.last_ts[1][0], clock_us);   /* readable when B came */
	for (int i = 0; i < 20; i++)
		seg(&t, 1, 2007 + (uint32_t)i, &r, 1);
	bt_flow_flush(&t);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
	T_EQ_UINT(R.rel_gap[1][0], 0);
	/* a grace of 1 packet (cfg.ack_grace) closes it before B comes */
	{
		struct bt_flow_cfg cfg;

		bt_flow_free(&t);
		memset(&cfg, 0, sizeof cfg);
		cfg.ack_grace = 1;
		table(&t, &cfg);
		handshake(&t, 40000, 1000, 2000);
		seg(&t, 0, 1001, s, 100);
		seg(&t, 0, 1201, s + 200, 100);
		feed(&t, mkp(1, 40000, 2001, 1301, BT_TCP_ACK, NULL, 0));
		T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
		seg(&t, 1, 2001, &r, 1);
		T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 1);
		seg(&t, 0, 1101, s + 100, 100);    /* too late: a duplicate now */
		T_EQ_UINT(R.len[1][0], 200);
		bt_flow_flush(&t);
		T_EQ_UINT(R.rel_dup[1][0], 100);
	}
	bt_flow_free(&t);
	T_CHECK(!R.overflow);
}

static void test_sequence_wrap(void)
{
	struct bt_flow_table t;
	uint8_t s[600], want[500];
	const struct ev *e;
	const uint32_t isn = 0xffffff00u;
	int i;

	pattern(s, sizeof(s), 6);
	table(&t, NULL);
	/* offsets 0..599 are seqs 0xffffff01..0x258; 2^32 falls at 255 */
	handshake(&t, 40000, isn, 0xfffffffeu);
	for (i = 5; i >= 0; i--)
		seg(&t, 0, isn + 1 + (uint32_t)i * 100, s + i * 100, 100);
	feed(&t, mkp(0, 40000, isn + 601, 0, BT_TCP_FIN | BT_TCP_ACK, NULL, 0));
	seg(&t, 1, 0xffffffffu, "ab", 2);   /* the server's wraps at once */
	seg(&t, 1, 1, "cd", 2);
	seg(&t, 1, 0, "b", 1);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], s, 600);
	T_EQ_MEM(R.buf[1][1], R.len[1][1], "abcd", 4);
	e = find_ev(BT_FLOW_EV_FIN, 0);
	T_CHECK(e && e->seq == 0x159 && e->off == 600);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
	bt_flow_free(&t);

	/* lose the segment that straddles the wrap */
	memcpy(want, s, 200);
	memcpy(want + 200, s + 300, 300);
	table(&t, NULL);
	handshake(&t, 40000, isn, 7);
	for (i = 0; i < 6; i++)
		if (i != 2)
			seg(&t, 0, isn + 1 + (uint32_t)i * 100, s + i * 100, 100);
	bt_flow_flush(&t);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 1);
	e = find_ev(BT_FLOW_EV_GAP, 0);
	T_CHECK(e && e->seq == 0xffffffc9u && e->len == 100 && e->off == 200);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], want, 500);
	bt_flow_free(&t);
}

static void test_midstream(void)
{
	struct bt_flow_table t;
	struct bt_flow *f;
	uint8_t s[40];
	const struct ev *e;

	pattern(s, sizeof(s), 7);
	table(&t, NULL);
	/* a pure ACK of no known flow makes none */
	feed(&t, mkp(0, 40000, 1, 1, BT_TCP_ACK, NULL, 0));
	T_EQ_UINT(t.nflows, 0);
	T_EQ_UINT(t.ignored, 1);
	/* the server speaks first: it becomes direction 0 */
	f = seg(&t, 1, 70000, s + 10, 20);
	T_CHECK(f != NULL);
	if (!f)
		return;
	T_EQ_UINT(f->ep[0].port, 6881);
	T_EQ_MEM(f->ep[0].addr.a, 4, SRV, 4);
	T_EQ_UINT(f->ep[1].port, 40000);
	T_CHECK(f->d[0].midstream && !f->d[0].syn);
	T_EQ_UINT(f->d[0].isn, 70000);
	e = find_ev(BT_FLOW_EV_MIDSTREAM, 0);
	T_CHECK(e && e->dir == 0 && e->seq == 70000);
	seg(&t, 0, 9000, "GET", 3);
	e = find_ev(BT_FLOW_EV_MIDSTREAM, 1);
	T_CHECK(e && e->dir == 1 && e->seq == 9000);
	/* bytes from before the start cannot be placed: dropped */
	seg(&t, 1, 69990, s, 10);
	seg(&t, 1, 69995, s + 5, 15);
	seg(&t, 1, 70020, s + 30, 10);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], s + 10, 30);
	T_EQ_MEM(R.buf[1][1], R.len[1][1], "GET", 3);
	T_EQ_UINT(f->d[0].dup_bytes, 25);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
	bt_flow_free(&t);

	/* the SYN was missed, the SYN-ACK was not: the client starts at its
	 * acknowledgement number, and its first segment may come late */
	table(&t, NULL);
	feed(&t, mkp(1, 40000, 500, 1001, BT_TCP_SYN | BT_TCP_ACK, NULL, 0));
	f = seg(&t, 0, 1006, s + 5, 5);
	seg(&t, 0, 1001, s, 5);
	T_CHECK(f && f->ep[0].port == 40000 && f->d[0].syn && f->d[0].isn == 1000);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], s, 10);
	T_EQ_UINT(count_ev(BT_FLOW_EV_MIDSTREAM), 0);
	bt_flow_free(&t);
}

static void test_both_directions_interleaved(void)
{
	struct bt_flow_table t;
	uint8_t c[80], s[60];
	int i;
	static const struct { int from, idx; } order[] = {
		{ 0, 1 }, { 1, 2 }, { 0, 0 }, { 1, 0 }, { 1, 3 }, { 0, 3 },
		{ 1, 1 }, { 0, 2 },
	};

	pattern(c, sizeof(c), 8);
	pattern(s, sizeof(s), 9);
	table(&t, NULL);
	handshake(&t, 40000, 3000, 9000);
	for (i = 0; i < 8; i++) {
		int k = order[i].idx;
		if (order[i].from == 0)
			seg(&t, 0, 3001 + (uint32_t)k * 20, c + k * 20, 20);
		else
			seg(&t, 1, 9001 + (uint32_t)k * 15, s + k * 15, 15);
	}
	T_EQ_MEM(R.buf[1][0], R.len[1][0], c, 80);
	T_EQ_MEM(R.buf[1][1], R.len[1][1], s, 60);
	T_EQ_UINT(R.nev, 3);    /* open, two SYNs */
	bt_flow_free(&t);
}

static void test_ooo_cap(void)
{
	struct bt_flow_table t;
	struct bt_flow_cfg cfg = { .max_ooo = 2000 };
	static uint8_t s[3000], want[3000], big[5000];
	const struct ev *e;
	size_t w = 0;
	int i;

	pattern(s, sizeof(s), 10);
	table(&t, &cfg);
	handshake(&t, 40000, 0, 0);
	/* segments of 100; [100,200) and [2000,2100) never come */
	for (i = 0; i < 30; i++) {
		if (i == 1 || i == 20)
			continue;
		seg(&t, 0, 1 + (uint32_t)i * 100, s + i * 100, 100);
		memcpy(want + w, s + i * 100, 100);
		w += 100;
	}
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 1);
	e = find_ev(BT_FLOW_EV_GAP, 0);
	if (e) {
		T_EQ_UINT(e->off, 100);
		T_EQ_UINT(e->len, 100);
		T_EQ_UINT(e->seq, 101);
		T_EQ_UINT(e->at, 100);
		T_EQ_STR(e->why, "out-of-order buffer full");
		/* 2000 bytes hold fewer than 20 pieces of 100 */
		T_CHECK(e->step <= 3 + 20);
	}
	/* the stream went on: all up to the second hole is out */
	T_EQ_UINT(R.len[1][0], 1900);
	bt_flow_flush(&t);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 2);
	e = find_ev(BT_FLOW_EV_GAP, 1);
	T_CHECK(e && e->off == 2000 && e->len == 100 && e->at == 1900);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], want, 2800);
	bt_flow_free(&t);

	/* one piece larger than the whole buffer: the hole goes at once */
	pattern(big, sizeof(big), 11);
	table(&t, &cfg);
	handshake(&t, 40000, 0, 0);
	seg(&t, 0, 1 + 10, big + 10, 4990);
	e = find_ev(BT_FLOW_EV_GAP, 0);
	T_CHECK(e && e->off == 0 && e->len == 10);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], big + 10, 4990);
	seg(&t, 0, 1, big, 10);   /* too late: a duplicate now */
	T_EQ_UINT(R.len[1][0], 4990);
	bt_flow_free(&t);
}

static void test_table_full_eviction(void)
{
	struct bt_flow_table t;
	struct bt_flow_cfg cfg = { .max_flows = 2 };
	uint8_t s[30];
	const struct ev *e;

	pattern(s, sizeof(s), 12);
	table(&t, &cfg);
	/* flow 1 (port 40001): a hole at [10,20) with [20,30) waiting */
	handshake(&t, 40001, 0, 0);
	feed(&t, mkp(0, 40001, 1, 0, BT_TCP_ACK, s, 10));
	feed(&t, mkp(0, 40001, 21, 0, BT_TCP_ACK, s + 20, 10));
	handshake(&t, 40002, 0, 0);                           /* flow 2 */
	feed(&t, mkp(1, 40001, 1, 11, BT_TCP_ACK, NULL, 0));  /* touch 1 */
	handshake(&t, 40003, 0, 0);                           /* flow 3 */
	T_EQ_UINT(count_ev(BT_FLOW_EV_EVICT), 1);
	e = find_ev(BT_FLOW_EV_EVICT, 0);
	T_CHECK(e && e->flow == 2 && e->dir == -1);
	T_EQ_INT(R.released, 1);
	T_EQ_UINT(t.nflows, 2);
	handshake(&t, 40004, 0, 0);                           /* flow 4 */
	T_EQ_UINT(count_ev(BT_FLOW_EV_EVICT), 2);
	e = find_ev(BT_FLOW_EV_EVICT, 1);
	T_CHECK(e && e->flow == 1);
	e = find_ev(BT_FLOW_EV_GAP, 0);
	T_CHECK(e && e->flow == 1 && e->off == 10 && e->len == 10 && e->at == 10);
	if (e)
		T_EQ_STR(e->why, "evicted (flow table full)");
	T_EQ_UINT(R.len[1][0], 20);
	T_EQ_MEM(R.buf[1][0], 10, s, 10);
	T_EQ_MEM(R.buf[1][0] + 10, 10, s + 20, 10);
	T_EQ_UINT(t.evicted, 2);
	/* a closed flow makes room quietly */
	feed(&t, mkp(0, 40003, 1, 1, BT_TCP_RST, NULL, 0));
	handshake(&t, 40005, 0, 0);
	T_EQ_UINT(count_ev(BT_FLOW_EV_EVICT), 2);
	T_EQ_UINT(t.evicted, 2);
	T_EQ_INT(R.released, 3);
	T_EQ_UINT(t.flows_total, 5);
	bt_flow_free(&t);
	T_EQ_INT(R.released, 5);
	T_EQ_INT(R.opened, 5);
}

/* Payload cut by the snapshot length: the missing tail is a GAP as soon
 * as it is due, unless a whole copy turns up first. */
static void test_snaplen_cut(void)
{
	struct bt_flow_table t;
	uint8_t s[500], want[500];
	struct bt_pkt pk;
	const struct ev *e;

	pattern(s, sizeof(s), 13);
	table(&t, NULL);
	handshake(&t, 40000, 0, 0);
	pk = mkp(0, 40000, 1, 0, BT_TCP_ACK, s, 30);
	pk.payload_wirelen = 100;
	feed(&t, pk);
	e = find_ev(BT_FLOW_EV_GAP, 0);
	T_CHECK(e && e->off == 30 && e->len == 70 && e->at == 30);
	if (e)
		T_EQ_STR(e->why, "not captured");
	/* out of order and cut: [200,250) captured of [200,300) */
	pk = mkp(0, 40000, 201, 0, BT_TCP_ACK, s + 200, 50);
	pk.payload_wirelen = 100;
	feed(&t, pk);
	/* [400,410) of [400,500), then a whole copy of [400,500) */
	pk = mkp(0, 40000, 401, 0, BT_TCP_ACK, s + 400, 10);
	pk.payload_wirelen = 100;
	feed(&t, pk);
	seg(&t, 0, 401, s + 400, 100);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 1);
	seg(&t, 0, 101, s + 100, 100);
	seg(&t, 0, 301, s + 300, 100);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 2);
	e = find_ev(BT_FLOW_EV_GAP, 1);
	T_CHECK(e && e->off == 250 && e->len == 50 && e->at == 180);
	memcpy(want, s, 30);
	memcpy(want + 30, s + 100, 150);
	memcpy(want + 180, s + 300, 200);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], want, 380);
	bt_flow_flush(&t);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 2);
	T_EQ_UINT(R.rel_gap[1][0], 120);
	bt_flow_free(&t);
}

/* A FIN captured before the data it follows waits for it. */
static void test_fin_before_data(void)
{
	struct bt_flow_table t;
	uint8_t s[30];
	const struct ev *e;

	pattern(s, sizeof(s), 14);
	table(&t, NULL);
	handshake(&t, 40000, 0, 0);
	seg(&t, 0, 1, s, 10);
	feed(&t, mkp(0, 40000, 21, 0, BT_TCP_ACK | BT_TCP_FIN, s + 20, 10));
	/* a bogus byte past the FIN is dropped */
	seg(&t, 0, 31, "z", 1);
	T_EQ_UINT(count_ev(BT_FLOW_EV_FIN), 0);
	seg(&t, 0, 11, s + 10, 10);
	e = find_ev(BT_FLOW_EV_FIN, 0);
	T_CHECK(e && e->at == 30 && e->seq == 31 && e->off == 30);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], s, 30);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
	bt_flow_free(&t);
}

static void test_port_reuse_and_expiry(void)
{
	struct bt_flow_table t;
	struct bt_flow *f;
	const struct ev *e;

	table(&t, NULL);
	handshake(&t, 40000, 100, 200);
	/* a retransmitted SYN is the same connection */
	f = feed(&t, mkp(0, 40000, 100, 0, BT_TCP_SYN, NULL, 0));
	T_CHECK(f && f->id == 1);
	seg(&t, 0, 101, "one", 3);
	/* a SYN with another ISN is a new connection */
	f = feed(&t, mkp(0, 40000, 9000, 0, BT_TCP_SYN, NULL, 0));
	T_CHECK(f && f->id == 2);
	e = find_ev(BT_FLOW_EV_REUSE, 0);
	T_CHECK(e && e->flow == 1);
	T_EQ_INT(R.released, 1);
	seg(&t, 0, 9001, "two", 3);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], "one", 3);
	T_EQ_MEM(R.buf[2][0], R.len[2][0], "two", 3);

	/* idle expiry, by capture time */
	feed(&t, mkp(0, 40001, 5, 0, BT_TCP_SYN, NULL, 0));   /* flow 3 */
	T_EQ_UINT(bt_flow_expire(&t, clock_us), 1);   /* flow 2 only */
	e = find_ev(BT_FLOW_EV_IDLE, 0);
	T_CHECK(e && e->flow == 2);
	T_EQ_UINT(t.nflows, 1);
	T_EQ_UINT(bt_flow_expire(&t, clock_us + 1), 1);
	T_EQ_UINT(t.nflows, 0);
	T_EQ_INT(R.released, 3);
	bt_flow_free(&t);
}

/* xorshift64: deterministic test data */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Random segmentation, overlap, duplication and order, across the wrap:
 * the stream always comes out whole and nothing is reported. */
static void test_random_reassembly(void)
{
	static uint8_t s[4000];
	struct { uint32_t at, len; } sg[420];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int round;

	for (round = 0; round < 300; round++) {
		struct bt_flow_table t;
		uint32_t n = 1 + (uint32_t)(rnd(&x) % sizeof(s)), isn = (uint32_t)rnd(&x);
		size_t ns = 0, i;
		uint32_t p = 0;

		if (round % 3 == 0)
			isn = 0xffffffffu - (uint32_t)(rnd(&x) % 6000);
		pattern(s, n, (unsigned)round);
		while (p < n) {         /* a cover of the stream ... */
			uint32_t l = 10 + (uint32_t)(rnd(&x) % 291);
			if (l > n - p)
				l = n - p;
			sg[ns].at = p;
			sg[ns++].len = l;
			p += l;
		}
		for (i = 0; i < 20; i++) {  /* ... overlaps ... */
			uint32_t a = (uint32_t)(rnd(&x) % n);
			uint32_t l = 1 + (uint32_t)(rnd(&x) % 200);
			if (l > n - a)
				l = n - a;
			sg[ns].at = a;
			sg[ns++].len = l;
		}
		for (i = ns - 1; i > 0; i--) {          /* ... shuffled */
			size_t j = (size_t)(rnd(&x) % (i + 1));
			uint32_t ta = sg[i].at, tl = sg[i].len;
			sg[i] = sg[j];
			sg[j].at = ta;
			sg[j].len = tl;
		}
		table(&t, NULL);
		handshake(&t, 40000, isn, 1);
		for (i = 0; i < ns; i++)
			seg(&t, 0, isn + 1 + sg[i].at, s + sg[i].at, sg[i].len);
		T_EQ_MEM(R.buf[1][0], R.len[1][0], s, n);
		T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
		T_EQ_UINT(count_ev(BT_FLOW_EV_CONFLICT), 0);
		bt_flow_free(&t);
		if (t_failed_now) {
			printf("#   round %d\n", round);
			return;
		}
	}
}

/* Retransmissions are checked against a ring of the last max_hist bytes
 * delivered; older bytes are counted as duplicates, unchecked. */
static void test_history_ring(void)
{
	struct bt_flow_table t;
	struct bt_flow_cfg cfg = { .max_hist = 1000 };
	uint8_t s[2500], x[2500];
	const struct ev *e;
	int i;

	pattern(s, sizeof(s), 15);
	table(&t, &cfg);
	handshake(&t, 40000, 0, 0);
	for (i = 0; i < 2500; i += 300)
		seg(&t, 0, 1 + (uint32_t)i, s + i, i + 300 > 2500 ? 100 : 300);
	T_EQ_UINT(R.len[1][0], 2500);
	/* the ring holds [1500, 2500), wrapped inside its buffer */
	memcpy(x, s, sizeof(x));
	x[1750] ^= 0x40;
	x[1200] ^= 0x40;      /* too old to check */
	seg(&t, 0, 1 + 1600, x + 1600, 300);
	seg(&t, 0, 1 + 1000, x + 1000, 600);
	T_EQ_UINT(count_ev(BT_FLOW_EV_CONFLICT), 1);
	e = find_ev(BT_FLOW_EV_CONFLICT, 0);
	T_CHECK(e && e->off == 1750 && e->len == 1);
	x[1550] ^= 0x40;
	x[1999] ^= 0x40;
	seg(&t, 0, 1 + 1000, x + 1000, 1000);
	T_EQ_UINT(count_ev(BT_FLOW_EV_CONFLICT), 2);
	e = find_ev(BT_FLOW_EV_CONFLICT, 1);
	T_CHECK(e && e->off == 1550 && e->len == 450 && e->seq == 1551);
	T_EQ_MEM(R.buf[1][0], R.len[1][0], s, 2500);
	bt_flow_free(&t);
}

/* Hostile: thousands of one-byte pieces behind a hole, far-away and
 * ancient sequence numbers, thousands of flows through a small table.
 * Caps hold, and every byte offset is accounted for as delivered or lost. */
static void test_hostile_segments_and_flows(void)
{
	struct bt_flow_table t;
	struct bt_flow_cfg cfg = { .max_ooo = 4096, .max_flows = 64 };
	uint8_t b = 'x';
	struct bt_flow *f = NULL;
	uint32_t i;
	size_t maxflows = 0;

	table(&t, &cfg);
	handshake(&t, 40000, 0, 0);
	for (i = 0; i < 20000; i++)
		f = seg(&t, 0, 1 + 2 + 2 * i, &b, 1);
	T_CHECK(R.ngap > 100);
	T_CHECK(f != NULL);
	if (f) {
		seg(&t, 0, 1 + 0x40000000u, &b, 1);         /* 1 GiB ahead */
		seg(&t, 0, 1 + 0x40000000u + 0x7fff0000u, &b, 1); /* 2^31 off: behind */
		T_EQ_UINT(f->d[0].bytes + f->d[0].gap_bytes, f->d[0].off);
		T_EQ_UINT(f->d[0].bytes, R.len[1][0]);
	}
	bt_flow_flush(&t);
	T_EQ_UINT(R.rel_gap[1][0] + R.len[1][0], 0x40000001u);
	bt_flow_free(&t);

	table(&t, &cfg);
	for (i = 0; i < 5000; i++) {
		uint16_t port = (uint16_t)(1024 + i);
		feed(&t, mkp(0, port, i, 0, BT_TCP_SYN, NULL, 0));
		feed(&t, mkp(0, port, i + 5, 0, BT_TCP_ACK, "hole", 4));
		if (t.nflows > maxflows)
			maxflows = t.nflows;
	}
	T_EQ_UINT(maxflows, 64);
	T_EQ_UINT(t.evicted, 5000 - 64);
	T_EQ_UINT(t.flows_total, 5000);
	T_EQ_INT(R.released, 5000 - 64);
	bt_flow_flush(&t);
	T_EQ_INT(R.released, 5000);
	T_EQ_UINT(R.ngap, 5000);
	bt_flow_free(&t);
}

static void test_not_tcp(void)
{
	struct bt_flow_table t;
	struct bt_pkt pk = mkp(0, 1, 1, 1, 0, "x", 1);

	table(&t, NULL);
	pk.l4 = BT_PKT_UDP;
	T_EQ_INT(bt_flow_input(&t, &pk, NULL), BT_EINVAL);
	T_EQ_UINT(t.nflows, 0);
	bt_flow_free(&t);
}

/* The loopback capture recorded by tests/data/flow/record.sh: the client
 * sent CLIENT_LEN bytes, the server SERVER_LEN, in lo-send.py's patterns. */
#define CAPTURE    "tests/data/flow/lo-tcp.pcap"
#define PORT       47321
#define CLIENT_LEN 24000
#define SERVER_LEN 12000

#define MAXPK      200

static void check_capture_streams(const uint8_t *want_c, const uint8_t *want_s)
{
	T_EQ_MEM(R.buf[1][0], R.len[1][0], want_c, CLIENT_LEN);
	T_EQ_MEM(R.buf[1][1], R.len[1][1], want_s, SERVER_LEN);
	T_EQ_UINT(count_ev(BT_FLOW_EV_GAP), 0);
	T_EQ_UINT(count_ev(BT_FLOW_EV_CONFLICT), 0);
	T_EQ_UINT(count_ev(BT_FLOW_EV_MIDSTREAM), 0);
	T_EQ_UINT(count_ev(BT_FLOW_EV_SYN), 2);
	T_EQ_UINT(count_ev(BT_FLOW_EV_FIN), 2);
	T_EQ_UINT(count_ev(BT_FLOW_EV_CLOSED), 1);
	T_EQ_INT(R.released, 1);
}

static void test_real_loopback_capture(void)
{
	char err[PCAP_ERRBUF_SIZE];
	static uint8_t want_c[CLIENT_LEN], want_s[SERVER_LEN];
	static struct bt_pkt all[MAXPK];
	static u_char *copy[MAXPK];
	struct bt_flow_table t;
	struct bt_flow *f = NULL;
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p;
	int rc, lt;
	size_t i, j, npk = 0, ntcp = 0;

	for (i = 0; i < CLIENT_LEN; i++)
		want_c[i] = (uint8_t)((i * 131 + 7) % 251);
	for (i = 0; i < SERVER_LEN; i++)
		want_s[i] = (uint8_t)((i * 17 + 3) % 253);
	p = pcap_open_offline(CAPTURE, err);
	if (!p) {
		T_FAILF("%s (run from the source tree)", err);
		return;
	}
	lt = pcap_datalink(p);
	table(&t, NULL);
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		struct bt_pkt pk;
		int d = bt_pkt_decode(&pk, lt, data, h->caplen, h->len,
				      (uint64_t)h->ts.tv_sec * 1000000u +
				      (uint64_t)h->ts.tv_usec);

		T_EQ_INT(d, BT_OK);
		if (pk.l4 == BT_PKT_TCP) {
			ntcp++;
			T_EQ_INT(bt_flow_input(&t, &pk, &f), BT_OK);
		}
		/* keep a decoded copy for the second pass */
		if (npk < MAXPK && (copy[npk] = malloc(h->caplen)) != NULL) {
			memcpy(copy[npk], data, h->caplen);
			bt_pkt_decode(&all[npk], lt, copy[npk], h->caplen,
				      h->len, 0);
		}
		npk++;
	}
	T_EQ_INT(rc, PCAP_ERROR_BREAK);
	pcap_close(p);
	T_CHECK(npk > 10 && npk <= MAXPK);
	T_EQ_UINT(ntcp, npk);
	T_EQ_UINT(t.flows_total, 1);
	T_CHECK(f != NULL);
	if (f) {
		static const uint8_t lo[4] = { 127, 0, 0, 1 };

		T_EQ_UINT(f->ep[1].port, PORT);
		T_CHECK(f->ep[0].port != PORT);
		T_EQ_MEM(f->ep[0].addr.a, 4, lo, 4);
		T_EQ_MEM(f->ep[1].addr.a, 4, lo, 4);
		T_CHECK(f->closed);
		T_EQ_UINT(f->d[0].bytes, CLIENT_LEN);
		T_EQ_UINT(f->d[1].bytes, SERVER_LEN);
		T_CHECK(f->last_us > f->first_us);
	}
	bt_flow_flush(&t);
	check_capture_streams(want_c, want_s);
	bt_flow_free(&t);

	/* Second pass, harder than the capture: after the handshake every
	 * run of five packets reversed, and each packet twice. */
	table(&t, NULL);
	for (i = 0; i < npk && i < MAXPK; i = j) {
		size_t k, end = i < 3 ? i + 1 : i + 5;

		if (end > npk)
			end = npk;
		for (k = end; k-- > i;) {
			T_EQ_INT(bt_flow_input(&t, &all[k], NULL), BT_OK);
			T_EQ_INT(bt_flow_input(&t, &all[k], NULL), BT_OK);
		}
		j = end;
	}
	bt_flow_flush(&t);
	check_capture_streams(want_c, want_s);
	bt_flow_free(&t);
	for (i = 0; i < npk && i < MAXPK; i++)
		free(copy[i]);
}

int main(void)
{
	T_RUN(test_in_order);
	T_RUN(test_every_permutation);
	T_RUN(test_duplicates);
	T_RUN(test_overlaps);
	T_RUN(test_overlap_conflict);
	T_RUN(test_dropped_segment);
	T_RUN(test_acked_hole);
	T_RUN(test_acked_hole_late_segment);
	T_RUN(test_sequence_wrap);
	T_RUN(test_midstream);
	T_RUN(test_both_directions_interleaved);
	T_RUN(test_ooo_cap);
	T_RUN(test_table_full_eviction);
	T_RUN(test_snaplen_cut);
	T_RUN(test_fin_before_data);
	T_RUN(test_port_reuse_and_expiry);
	T_RUN(test_random_reassembly);
	T_RUN(test_history_ring);
	T_RUN(test_hostile_segments_and_flows);
	T_RUN(test_not_tcp);
	T_RUN(test_real_loopback_capture);
	return T_DONE();
}
