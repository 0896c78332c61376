/* test_decode.c — the capture decoder (decode.h) on synthetic frames.
 *
 * Frames are raw IPv4 (DLT_RAW) built here; each test feeds a session and
 * compares the events, tracker records and summaries with exact values. */
#include <stdarg.h>

#include "t.h"
#include "decode.h"
#include "mse.h"
#include "wire.h"

/* ---- frames ------------------------------------------------------------- */

#define CLI 0x7f000002u
#define SRV 0x7f000001u
#define CPORT 40000
#define SPORT 6881

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

/* IPv4 + TCP (or UDP when flags < 0) with payload; returns the length. */
static size_t frame(uint8_t *f, uint32_t src, uint32_t dst, uint16_t sp,
		    uint16_t dp, uint32_t seq, uint32_t ack, int flags,
		    const void *pl, size_t n)
{
	size_t hl = flags < 0 ? 8 : 20, tot = 20 + hl + n;

	memset(f, 0, 20 + hl);
	f[0] = 0x45;
	put16(f + 2, (uint16_t)tot);
	f[6] = 0x40;
	f[8] = 64;
	f[9] = flags < 0 ? 17 : 6;
	put32(f + 12, src);
	put32(f + 16, dst);
	put16(f + 20, sp);
	put16(f + 22, dp);
	if (flags < 0) {
		put16(f + 24, (uint16_t)(8 + n));
	} else {
		put32(f + 24, seq);
		put32(f + 28, ack);
		f[32] = 0x50;
		f[33] = (uint8_t)flags;
		put16(f + 34, 65535);
	}
	if (n)
		memcpy(f + 20 + hl, pl, n);
	return tot;
}

/* ---- what the decoder said ---------------------------------------------- */

#define MAXEV 512

struct rec {
	int kind;               /* enum bt_ev_kind */
	int dir;
	int msg;                /* message id, -1 keep-alive, -9 none */
	uint64_t off, gap;
	uint32_t index, begin, length;
	char why[160];
	uint64_t flow;
	uint64_t t;             /* ev->t_us */
};

struct got {
	struct rec ev[MAXEV];
	size_t nev;
	struct bt_dec_flow ends[16];
	size_t nend;
	int starts;
	struct {
		int kind, status, rc;
		size_t npeers;
		int64_t interval;
		char url[128];
		struct bt_dec_query q;
		uint32_t tid;
		bool matched, noted;
		char note[200];
		uint64_t connection_id;
	} trk[32];
	size_t ntrk;
	int problems[BT_DEC_NPROBLEMS];
};

static void g_start(void *ctx, struct bt_dec_flow *f)
{
	(void)f;
	((struct got *)ctx)->starts++;
}

static void g_event(void *ctx, struct bt_dec_flow *f, const struct bt_event *ev,
		    uint64_t ts)
{
	struct got *g = ctx;
	struct rec *r;

	(void)ts;
	if (g->nev >= MAXEV)
		return;
	r = &g->ev[g->nev++];
	memset(r, 0, sizeof *r);
	r->kind = ev->kind;
	r->dir = ev->dir;
	r->off = ev->stream_off;
	r->gap = ev->gap_len;
	r->flow = f->id;
	r->t = ev->t_us;
	r->msg = -9;
	if (ev->msg) {
		r->msg = ev->msg->id;
		if (ev->msg->kind == BT_MSG_REQUEST || ev->msg->kind == BT_MSG_CANCEL)
			r->index = ev->msg->u.req.index, r->begin = ev->msg->u.req.begin,
			r->length = ev->msg->u.req.length;
		if (ev->msg->kind == BT_MSG_PIECE && ev->kind == BT_EV_MSG)
			r->index = ev->msg->u.piece.index, r->begin = ev->msg->u.piece.begin,
			r->length = (uint32_t)ev->msg->u.piece.len;
	}
	if (ev->why)
		snprintf(r->why, sizeof r->why, "%s", ev->why);
}

static void g_trk(void *ctx, struct bt_dec_flow *f, const struct bt_dec_trk *t)
{
	struct got *g = ctx;

	(void)f;
	if (g->ntrk >= 32)
		return;
	g->trk[g->ntrk].kind = t->kind;
	g->trk[g->ntrk].status = t->status;
	g->trk[g->ntrk].rc = t->rc;
	g->trk[g->ntrk].npeers = t->npeers;
	g->trk[g->ntrk].interval = t->resp ? t->resp->interval :
				   t->uresp ? (int64_t)t->uresp->interval : -1;
	snprintf(g->trk[g->ntrk].url, sizeof g->trk[0].url, "%s", t->url ? t->url : "");
	if (t->q)
		g->trk[g->ntrk].q = *t->q;
	g->trk[g->ntrk].tid = t->tid;
	g->trk[g->ntrk].noted = t->note != NULL;
	snprintf(g->trk[g->ntrk].note, sizeof g->trk[0].note, "%s",
		 t->note ? t->note : "");
	g->trk[g->ntrk].matched = t->matched;
	g->trk[g->ntrk].connection_id = t->connection_id;
	g->ntrk++;
}

static void g_end(void *ctx, struct bt_dec_flow *f)
{
	struct got *g = ctx;

	if (g->nend < 16)
		g->ends[g->nend++] = *f;
}

static void g_problem(void *ctx, const struct bt_dec_problem *p)
{
	((struct got *)ctx)->problems[p->kind]++;
}

static const struct bt_dec_cb gcb = {
	.flow_start = g_start, .event = g_event, .trk = g_trk,
	.flow_end = g_end, .problem = g_problem,
};

/* ---- a session builder ---------------------------------------------------- */

struct sess {
	struct bt_dec d;
	struct got *g;
	uint32_t cseq, sseq;    /* next sequence numbers */
	uint64_t ts;
	uint16_t cport, sport;
};

static void s_init(struct sess *s, const struct bt_dec_cfg *cfg)
{
	memset(s, 0, sizeof *s);
	s->g = calloc(1, sizeof *s->g);
	if (!s->g)
		abort();
	if (bt_dec_init(&s->d, cfg, &gcb, s->g) != 0)
		abort();
	s->cseq = 1000;
	s->sseq = 50000;
	s->ts = 1000000;
	s->cport = CPORT;
	s->sport = SPORT;
}

static void s_free(struct sess *s)
{
	bt_dec_free(&s->d);
	free(s->g);
}

/* One segment: dir 0 client -> server.  seq advances by n (and SYN/FIN). */
static void s_seg(struct sess *s, int dir, int flags, const void *p, size_t n)
{
	uint8_t f[70000];
	size_t len;
	uint32_t *seq = dir ? &s->sseq : &s->cseq;

	len = dir ? frame(f, SRV, CLI, s->sport, s->cport, *seq, s->cseq, flags, p, n)
		  : frame(f, CLI, SRV, s->cport, s->sport, *seq, s->sseq, flags, p, n);
	s->ts += 100;
	bt_dec_frame(&s->d, BT_DLT_RAW, f, len, len, s->ts);
	*seq += (uint32_t)n + ((flags & (BT_TCP_SYN | BT_TCP_FIN)) ? 1 : 0);
}

/* A segment at an explicit sequence number (reordering, gaps). */
static void s_seg_at(struct sess *s, int dir, uint32_t seq, const void *p, size_t n)
{
	uint8_t f[70000];
	size_t len;

	len = dir ? frame(f, SRV, CLI, s->sport, s->cport, seq, s->cseq, BT_TCP_ACK, p, n)
		  : frame(f, CLI, SRV, s->cport, s->sport, seq, s->sseq, BT_TCP_ACK, p, n);
	s->ts += 100;
	bt_dec_frame(&s->d, BT_DLT_RAW, f, len, len, s->ts);
}

static void s_open(struct sess *s)
{
	s_seg(s, 0, BT_TCP_SYN, NULL, 0);
	s_seg(s, 1, BT_TCP_SYN | BT_TCP_ACK, NULL, 0);
	s_seg(s, 0, BT_TCP_ACK, NULL, 0);
}

static void s_close(struct sess *s)
{
	s_seg(s, 0, BT_TCP_FIN | BT_TCP_ACK, NULL, 0);
	s_seg(s, 1, BT_TCP_FIN | BT_TCP_ACK, NULL, 0);
	bt_dec_finish(&s->d);
}

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

static size_t count_kind(const struct got *g, int kind)
{
	size_t n = 0;

	for (size_t i = 0; i < g->nev; i++)
		n += g->ev[i].kind == kind;
	return n;
}

static const struct rec *find(const struct got *g, int kind, int msg, size_t nth)
{
	for (size_t i = 0; i < g->nev; i++)
		if (g->ev[i].kind == kind && (msg == -9 || g->ev[i].msg == msg) && nth-- == 0)
			return &g->ev[i];
	return NULL;
}

/* ---- sessions ---------------------------------------------------------------- */

/* The reference session: both handshakes, a few messages each way, one
 * piece.  cut: the client's stream goes out in two segments split there
 * (0: one segment). */
static void run_basic(struct got *out, size_t cut)
{
	uint8_t c[200], sv[20000];
	size_t cn, sn;
	struct sess s;

	cn = hs(c, 0);
	cn += msgs(c + cn, sizeof c - cn, "ikr", 0u, 0u);
	sn = hs(sv, 1);
	sn += msgs(sv + sn, sizeof sv - sn, "bup", 0u, 0u);
	s_init(&s, NULL);
	s_open(&s);
	if (cut && cut < cn) {
		s_seg(&s, 0, BT_TCP_ACK | BT_TCP_PSH, c, cut);
		s_seg(&s, 0, BT_TCP_ACK | BT_TCP_PSH, c + cut, cn - cut);
	} else {
		s_seg(&s, 0, BT_TCP_ACK | BT_TCP_PSH, c, cn);
	}
	s_seg(&s, 1, BT_TCP_ACK | BT_TCP_PSH, sv, sn);
	s_close(&s);
	memcpy(out, s.g, sizeof *out);
	s_free(&s);
}

static void test_basic(void)
{
	struct got *g = calloc(1, sizeof *g), *h = calloc(1, sizeof *h);
	static const int want[][3] = {   /* kind, dir, msg */
		{ BT_EV_CONNECTING, 0, -9 }, { BT_EV_CONNECTED, 0, -9 },
		{ BT_EV_HANDSHAKE, 0, -9 }, { BT_EV_MSG, 0, 2 }, { BT_EV_MSG, 0, -1 },
		{ BT_EV_MSG, 0, 6 }, { BT_EV_HANDSHAKE, 1, -9 }, { BT_EV_MSG, 1, 5 },
		{ BT_EV_MSG, 1, 1 }, { BT_EV_MSG, 1, 7 }, { BT_EV_CLOSED, 0, -9 },
		{ BT_EV_CLOSED, 1, -9 },
	};
	size_t n = sizeof want / sizeof want[0];

	run_basic(g, 0);
	T_EQ_UINT(g->nev, n);
	for (size_t i = 0; i < n && i < g->nev; i++) {
		T_EQ_INT(g->ev[i].kind, want[i][0]);
		T_EQ_INT(g->ev[i].dir, want[i][1]);
		T_EQ_INT(g->ev[i].msg, want[i][2]);
	}
	T_EQ_INT(g->starts, 1);
	T_EQ_UINT(g->nend, 1);
	T_EQ_INT(g->ends[0].kind, BT_DEC_PEER);
	T_EQ_UINT(g->ends[0].d[0].count[BT_DEC_C_HANDSHAKE], 1);
	T_EQ_UINT(g->ends[0].d[0].count[BT_MSG_REQUEST], 1);
	T_EQ_UINT(g->ends[0].d[0].count[BT_DEC_C_KEEPALIVE], 1);
	T_EQ_UINT(g->ends[0].d[1].count[BT_MSG_PIECE], 1);
	T_EQ_UINT(g->ends[0].d[1].piece_bytes, 16384);
	T_EQ_UINT(g->ends[0].d[1].pieces, 1);
	T_EQ_UINT(g->ends[0].nchokes, 1);
	T_CHECK(!g->ends[0].chokes[0].choke);
	T_EQ_UINT(g->ends[0].d[1].msgs, 4);
	T_CHECK(g->ends[0].d[0].fin && g->ends[0].d[1].fin);
	/* every split point of the client's stream: the same events */
	for (size_t cut = 1; cut < 68 + 5 + 4 + 17; cut++) {
		run_basic(h, cut);
		T_EQ_UINT(h->nev, g->nev);
		for (size_t i = 0; i < g->nev && i < h->nev; i++) {
			T_EQ_INT(h->ev[i].kind, g->ev[i].kind);
			T_EQ_INT(h->ev[i].msg, g->ev[i].msg);
			T_EQ_UINT(h->ev[i].off, g->ev[i].off);
		}
	}
	free(g);
	free(h);
}

/* The server's stream as segments of seg bytes, some dropped. */
static void run_server_stream(struct sess *s, const uint8_t *sv, size_t sn,
			      size_t seg, uint64_t drop_mask)
{
	uint32_t base = s->sseq;

	for (size_t off = 0, i = 0; off < sn; off += seg, i++) {
		size_t k = sn - off < seg ? sn - off : seg;

		if (!(i < 64 && (drop_mask >> i & 1)))
			s_seg_at(s, 1, base + (uint32_t)off, sv + off, k);
	}
	s->sseq = base + (uint32_t)sn;
}

static void test_gap_inside_piece(void)
{
	static uint8_t sv[3 * 16500];
	uint8_t c[100];
	size_t sn, cn;
	struct sess s;
	const struct rec *r;

	cn = hs(c, 0);
	sn = hs(sv, 1);
	sn += msgs(sv + sn, sizeof sv - sn, "upph", 0u, 0u, 0u, 16384u, 3u);
	s_init(&s, NULL);
	s_open(&s);
	s_seg(&s, 0, BT_TCP_ACK, c, cn);
	/* 1000-byte segments; segment 30 (bytes 30000..31000) lies inside the
	 * second piece message (it starts at 68 + 5 + 16397 = 16470) */
	run_server_stream(&s, sv, sn, 1000, 1ull << 30);
	s_close(&s);
	T_EQ_UINT(count_kind(s.g, BT_EV_GAP), 1);
	r = find(s.g, BT_EV_GAP, -9, 0);
	T_CHECK(r && r->off == 30000 && r->gap == 1000);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_MSG_PIECE], 1);
	/* the have after the damaged piece, at its exact offset */
	r = find(s.g, BT_EV_MSG, BT_MSG_HAVE, 0);
	T_CHECK(r != NULL);
	if (r)
		T_EQ_UINT(r->off, 68 + 5 + 2 * 16397);
	r = find(s.g, BT_EV_NOTE, -9, 0);
	T_CHECK(r && strstr(r->why, "lost 1000 bytes") != NULL);
	T_EQ_UINT(s.g->ends[0].d[1].gap_bytes, 1000);
	s_free(&s);
}

/* A client segment the capture lost, acknowledged by the server: the gap
 * and the requests after it come when the server's ACK is a few packets
 * old (flow.h's grace), at the ACK's time, not at the end of the capture.
 * (Three requests, so that the scan after the gap trusts the boundary at
 * once.) */
static void test_gap_acked(void)
{
	static const int want[][3] = {   /* kind, dir, msg */
		{ BT_EV_CONNECTING, 0, -9 }, { BT_EV_CONNECTED, 0, -9 },
		{ BT_EV_HANDSHAKE, 0, -9 }, { BT_EV_MSG, 0, 2 },
		{ BT_EV_HANDSHAKE, 1, -9 },
		{ BT_EV_MSG, 1, -1 }, { BT_EV_MSG, 1, -1 }, { BT_EV_MSG, 1, -1 },
		{ BT_EV_MSG, 1, -1 }, { BT_EV_MSG, 1, -1 }, { BT_EV_MSG, 1, -1 },
		{ BT_EV_MSG, 1, -1 }, { BT_EV_MSG, 1, -1 },
		{ BT_EV_GAP, 0, -9 },
		{ BT_EV_MSG, 0, 6 }, { BT_EV_MSG, 0, 6 }, { BT_EV_MSG, 0, 6 },
		{ BT_EV_MSG, 1, -1 }, { BT_EV_MSG, 1, -1 },
		{ BT_EV_CLOSED, 0, -9 }, { BT_EV_CLOSED, 1, -9 },
	};
	size_t n = sizeof want / sizeof want[0];
	uint8_t c[200], b[100];
	size_t cn;
	struct sess s;
	uint64_t t_ack;

	s_init(&s, NULL);
	s_open(&s);
	cn = hs(c, 0);
	cn += msgs(c + cn, sizeof c - cn, "i");
	s_seg(&s, 0, BT_TCP_ACK | BT_TCP_PSH, c, cn);
	s.cseq += (uint32_t)msgs(b, sizeof b, "h", 1u);      /* lost */
	cn = msgs(c, sizeof c, "rrr", 0u, 0u, 1u, 0u, 2u, 0u);
	s_seg(&s, 0, BT_TCP_ACK | BT_TCP_PSH, c, cn);        /* waits */
	cn = hs(c, 1);
	s_seg(&s, 1, BT_TCP_ACK | BT_TCP_PSH, c, cn);        /* acks past it */
	for (int i = 0; i < 10; i++)
		s_seg(&s, 1, BT_TCP_ACK | BT_TCP_PSH, "\0\0\0\0", 4);
	s_close(&s);
	T_EQ_UINT(s.g->nev, n);
	for (size_t i = 0; i < n && i < s.g->nev; i++) {
		T_EQ_INT(s.g->ev[i].kind, want[i][0]);
		T_EQ_INT(s.g->ev[i].dir, want[i][1]);
		T_EQ_INT(s.g->ev[i].msg, want[i][2]);
	}
	if (s.g->nev == n) {
		T_EQ_UINT(s.g->ev[13].off, 68 + 5);
		T_EQ_UINT(s.g->ev[13].gap, 9);
		t_ack = s.g->ev[4].t;                   /* the server's handshake */
		T_EQ_UINT(s.g->ev[13].t, t_ack);
		for (size_t i = 14; i < 17; i++) {
			T_EQ_UINT(s.g->ev[i].t, t_ack);
			T_EQ_UINT(s.g->ev[i].off, 68 + 5 + 9 + 17 * (i - 14));
		}
		T_CHECK(s.g->ev[12].t > t_ack);         /* the 8th packet after it */
	}
	T_EQ_UINT(s.g->ends[0].d[0].gap_bytes, 9);
	T_EQ_UINT(s.g->ends[0].d[0].skipped, 0);
	s_free(&s);
}

static void test_gap_resync(void)
{
	uint8_t sv[2000], c[100];
	size_t sn, cn, m1;
	struct sess s;
	const struct rec *r;

	cn = hs(c, 0);
	sn = hs(sv, 1);
	sn += msgs(sv + sn, sizeof sv - sn, "uhhh", 1u, 2u, 3u);
	m1 = sn;
	/* many small messages: a gap takes out headers, a scan resyncs */
	for (uint32_t i = 0; i < 40; i++)
		sn += msgs(sv + sn, sizeof sv - sn, "h", 100u + i);
	s_init(&s, NULL);
	s_open(&s);
	s_seg(&s, 0, BT_TCP_ACK, c, cn);
	/* 7-byte segments: dropping one cuts a have (9 bytes) mid-header */
	run_server_stream(&s, sv, sn, 7, 1ull << ((m1 + 20) / 7));
	s_close(&s);
	T_EQ_UINT(count_kind(s.g, BT_EV_GAP), 1);
	/* 40 + 3 haves sent; the gap costs at most the two it touches plus the
	 * run the scan needs to trust a boundary */
	T_CHECK(s.g->ends[0].d[1].count[BT_MSG_HAVE] >= 38);
	T_CHECK(s.g->ends[0].d[1].count[BT_MSG_HAVE] <= 42);
	r = find(s.g, BT_EV_MSG, BT_MSG_HAVE, s.g->ends[0].d[1].count[BT_MSG_HAVE] - 1);
	T_CHECK(r && r->off == sn - 9);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_DEC_C_MALFORMED], 0);
	s_free(&s);
}

static void test_midstream(void)
{
	uint8_t sv[4000];
	size_t sn = 0;
	struct sess s;
	const struct rec *r;

	for (uint32_t i = 0; i < 30; i++)
		sn += msgs(sv + sn, sizeof sv - sn, "r", i, 0u);
	s_init(&s, NULL);
	/* no SYN: the capture begins 6 bytes into a request */
	s_seg_at(&s, 1, 777, sv + 6, sn - 6);
	bt_dec_finish(&s.d);
	T_EQ_UINT(s.g->nend, 1);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_PEER);
	T_CHECK(s.g->ends[0].d[0].midstream);
	/* direction 0 is whoever sent first: the server here */
	T_EQ_UINT(s.g->ends[0].d[0].count[BT_MSG_REQUEST], 29);
	T_EQ_UINT(s.g->ends[0].d[0].skipped, 17 - 6);
	r = find(s.g, BT_EV_NOTE, -9, 0);
	T_CHECK(r && strstr(r->why, "mid-stream") != NULL);
	r = find(s.g, BT_EV_MSG, BT_MSG_REQUEST, 0);
	T_CHECK(r && r->off == 11 && r->index == 1);
	s_free(&s);
}

static void test_not_bittorrent(void)
{
	static const char ssh[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
	uint8_t junk[300];
	struct sess s;

	s_init(&s, NULL);
	s_open(&s);
	s_seg(&s, 1, BT_TCP_ACK, ssh, sizeof ssh - 1);
	s_seg(&s, 0, BT_TCP_ACK, ssh, sizeof ssh - 1);
	memset(junk, 'x', sizeof junk);
	s_seg(&s, 0, BT_TCP_ACK, junk, sizeof junk);
	s_close(&s);
	T_EQ_INT(s.g->starts, 0);
	T_EQ_UINT(s.g->nev, 0);
	T_EQ_UINT(s.g->nend, 1);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_UNDECODED);
	T_EQ_STR(s.g->ends[0].reason, "not BitTorrent");
	T_EQ_UINT(s.d.mem.used, 0);
	s_free(&s);
}

/* A deterministic stand-in for random bytes. */
static void prng(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (uint8_t)(x >> 11);
	}
}

static void test_mse_plaintext(void)
{
	uint8_t c[400], sv[600];
	size_t sn;
	struct sess s;
	const struct rec *r;

	prng(c, 96 + 120 + 60, 1);          /* Ya, PadA, the rest: random */
	prng(sv, 96 + 33 + 14, 2);          /* Yb, PadB, ENCRYPT(VC...) */
	sn = 96 + 33 + 14;
	sn += hs(sv + sn, 1);               /* plaintext selected */
	sn += msgs(sv + sn, sizeof sv - sn, "Au");
	s_init(&s, NULL);
	s_open(&s);
	s_seg(&s, 0, BT_TCP_ACK, c, 276);
	s_seg(&s, 1, BT_TCP_ACK, sv, sn);
	s_close(&s);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_PEER);
	T_CHECK(s.g->ends[0].d[1].mse && s.g->ends[0].d[1].plain_after_mse);
	T_EQ_UINT(s.g->ends[0].d[1].enc_bytes, 143);
	T_CHECK(s.g->ends[0].d[0].mse && !s.g->ends[0].d[0].plain_after_mse);
	T_EQ_UINT(s.g->ends[0].d[0].enc_bytes, 276);
	r = find(s.g, BT_EV_HANDSHAKE, -9, 0);
	T_CHECK(r && r->dir == 1 && r->off == 143);
	T_EQ_UINT(count_kind(s.g, BT_EV_ENCRYPTED), 2);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_MSG_HAVE_ALL], 1);
	s_free(&s);
}

static void test_mse_encrypted(void)
{
	static uint8_t c[20000], sv[20000];
	struct sess s;

	prng(c, sizeof c, 3);
	prng(sv, sizeof sv, 4);
	s_init(&s, NULL);
	s_open(&s);
	for (size_t off = 0; off < sizeof c; off += 1400) {
		size_t k = sizeof c - off < 1400 ? sizeof c - off : 1400;
		s_seg(&s, 0, BT_TCP_ACK, c + off, k);
		s_seg(&s, 1, BT_TCP_ACK, sv + off, k);
	}
	s_close(&s);
	T_EQ_UINT(s.g->nev, 0);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_UNDECODED);
	T_EQ_STR(s.g->ends[0].reason, "encrypted (MSE/PE)");
	T_EQ_UINT(s.d.mem.used, 0);
	s_free(&s);
}

static void test_too_big(void)
{
	uint8_t c[100], sv[300];
	size_t sn, cn;
	struct sess s;
	const struct rec *r;

	cn = hs(c, 0);
	sn = hs(sv, 1);
	memcpy(sv + sn, "\x00\x40\x00\x00\x07", 5);   /* 4 MiB "piece" */
	sn += 5;
	sn += msgs(sv + sn, sizeof sv - sn, "uhhhh", 1u, 2u, 3u, 4u);
	s_init(&s, NULL);
	s_open(&s);
	s_seg(&s, 0, BT_TCP_ACK, c, cn);
	s_seg(&s, 1, BT_TCP_ACK, sv, sn);
	s_close(&s);
	r = find(s.g, BT_EV_MALFORMED, -9, 0);
	T_CHECK(r && r->off == 68 && r->dir == 1);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_MSG_HAVE], 4);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_MSG_UNCHOKE], 1);
	T_EQ_UINT(s.g->ends[0].d[1].skipped, 5);
	s_free(&s);
}

static void test_no_handshake(void)
{
	uint8_t c[100], sv[100];
	size_t sn, cn;
	struct sess s;
	struct bt_dec_cfg cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.force_port[cfg.nforce++] = SPORT;
	cn = msgs(c, sizeof c, "ih", 5u);          /* messages, no handshake */
	sn = hs(sv, 1);
	s_init(&s, &cfg);
	s_open(&s);
	s_seg(&s, 0, BT_TCP_ACK, c, cn);
	s_seg(&s, 1, BT_TCP_ACK, sv, sn);
	s_close(&s);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_PEER);
	T_CHECK(s.g->ends[0].forced);
	T_EQ_UINT(s.g->ends[0].d[0].count[BT_DEC_C_MALFORMED], 1);
	T_EQ_UINT(s.g->ends[0].d[0].count[BT_MSG_INTERESTED], 1);
	T_EQ_UINT(s.g->ends[0].d[0].count[BT_MSG_HAVE], 1);
	s_free(&s);
}

static void test_short_handshake_end(void)
{
	uint8_t c[100];
	struct sess s;
	const struct rec *r;

	hs(c, 0);
	s_init(&s, NULL);
	s_open(&s);
	s_seg(&s, 0, BT_TCP_ACK, c, 30);   /* 30 of 68 bytes, then nothing */
	s_seg(&s, 1, BT_TCP_FIN | BT_TCP_ACK, NULL, 0);
	s_seg(&s, 0, BT_TCP_FIN | BT_TCP_ACK, NULL, 0);
	bt_dec_finish(&s.d);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_PEER);
	/* our partial handshake comes before the peer's close */
	r = find(s.g, BT_EV_HANDSHAKE, -9, 0);
	T_CHECK(r && r->dir == 0 && strstr(r->why, "30 bytes") != NULL);
	T_CHECK(r && r < find(s.g, BT_EV_CLOSED, -9, 0));
	s_free(&s);
}

static void test_http_tracker(void)
{
	static const char rq[] =
		"GET /announce?info_hash=%ABd%CD&port=6881&left=0&event=started HTTP/1.1\r\n"
		"Host: 127.0.0.1:6969\r\nUser-Agent: x\r\n\r\n";
	static const char rs[] =
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
		"10\r\nd8:intervali1800\r\n"
		"18\r\ne5:peers12:\x7f\x00\x00\x01\x1a\xe1\x7f\x00\x00\x02\x1a\xe2" "e\r\n"
		"0\r\n\r\n";
	struct sess s;

	s_init(&s, NULL);
	s.sport = 6969;
	s_open(&s);
	/* the request in two pieces, the response byte by byte */
	s_seg(&s, 0, BT_TCP_ACK, rq, 30);
	s_seg(&s, 0, BT_TCP_ACK, rq + 30, sizeof rq - 1 - 30);
	for (size_t i = 0; i < sizeof rs - 1; i++)
		s_seg(&s, 1, BT_TCP_ACK, rs + i, 1);
	s_close(&s);
	T_EQ_UINT(s.g->ntrk, 2);
	T_EQ_INT(s.g->trk[0].kind, BT_DEC_TRK_HTTP_REQ);
	T_EQ_STR(s.g->trk[0].url, "http://127.0.0.1:6969/announce");
	T_EQ_INT(s.g->trk[0].q.port, 6881);
	T_EQ_INT(s.g->trk[0].q.event, BT_TRK_EV_STARTED);
	T_EQ_INT(s.g->trk[1].kind, BT_DEC_TRK_HTTP_RESP);
	T_EQ_INT(s.g->trk[1].status, 200);
	T_EQ_INT(s.g->trk[1].rc, BT_OK);
	T_EQ_INT(s.g->trk[1].interval, 1800);
	T_EQ_UINT(s.g->trk[1].npeers, 2);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_HTTP_TRACKER);
	T_EQ_UINT(s.d.mem.used, 0);
	s_free(&s);
}

static void test_http_not_tracker(void)
{
	static const char rq[] = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
	struct sess s;

	s_init(&s, NULL);
	s.sport = 80;
	s_open(&s);
	s_seg(&s, 0, BT_TCP_ACK, rq, sizeof rq - 1);
	s_seg(&s, 1, BT_TCP_ACK, "HTTP/1.1 200 OK\r\n\r\n", 19);
	s_close(&s);
	T_EQ_UINT(s.g->ntrk, 0);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_UNDECODED);
	T_EQ_STR(s.g->ends[0].reason, "HTTP, not a tracker request");
	s_free(&s);
}

static void udp(struct sess *s, int dir, const void *p, size_t n)
{
	uint8_t f[2000];
	size_t len = dir ? frame(f, SRV, CLI, 6969, 50000, 0, 0, -1, p, n)
			 : frame(f, CLI, SRV, 50000, 6969, 0, 0, -1, p, n);

	s->ts += 100;
	bt_dec_frame(&s->d, BT_DLT_RAW, f, len, len, s->ts);
}

static void test_udp_tracker(void)
{
	uint8_t b[200];
	struct bt_wr w;
	struct bt_udp_announce a;
	struct sess s;

	s_init(&s, NULL);
	bt_wr_init(&w, b, sizeof b);
	bt_udp_connect_req(&w, 0x11223344);
	udp(&s, 0, b, w.len);
	bt_wr_init(&w, b, sizeof b);
	bt_wr_u32be(&w, 0);
	bt_wr_u32be(&w, 0x11223344);
	bt_wr_u64be(&w, 0xfeedfacecafebeefull);
	udp(&s, 1, b, w.len);
	memset(&a, 0, sizeof a);
	a.connection_id = 0xfeedfacecafebeefull;
	a.transaction_id = 0x55667788;
	memset(a.info_hash, 1, 20);
	memset(a.peer_id, 'p', 20);
	a.event = BT_TRK_EV_STARTED;
	a.num_want = -1;
	a.port = 6881;
	bt_wr_init(&w, b, sizeof b);
	bt_udp_announce_req(&w, &a);
	udp(&s, 0, b, w.len);
	bt_wr_init(&w, b, sizeof b);
	bt_wr_u32be(&w, 1);
	bt_wr_u32be(&w, 0x55667788);
	bt_wr_u32be(&w, 900);
	bt_wr_u32be(&w, 1);
	bt_wr_u32be(&w, 2);
	bt_wr_bytes(&w, "\x7f\x00\x00\x01\x1a\xe1", 6);
	udp(&s, 1, b, w.len);
	/* an answer to nothing we saw */
	put32(b + 4, 0x99999999);
	udp(&s, 1, b, w.len);
	bt_dec_finish(&s.d);
	T_EQ_UINT(s.g->ntrk, 5);
	T_EQ_INT(s.g->trk[0].kind, BT_DEC_TRK_UDP_CONNECT);
	T_EQ_INT(s.g->trk[1].kind, BT_DEC_TRK_UDP_CONNECTED);
	T_EQ_UINT(s.g->trk[1].connection_id, 0xfeedfacecafebeefull);
	T_CHECK(s.g->trk[1].matched);
	T_EQ_INT(s.g->trk[2].kind, BT_DEC_TRK_UDP_ANNOUNCE);
	T_EQ_INT(s.g->trk[3].kind, BT_DEC_TRK_UDP_ANNOUNCE_RESP);
	T_EQ_INT(s.g->trk[3].rc, BT_OK);
	T_EQ_INT(s.g->trk[3].interval, 900);
	T_EQ_UINT(s.g->trk[3].npeers, 1);
	T_CHECK(s.g->trk[3].matched);
	T_CHECK(!s.g->trk[4].matched);
	T_EQ_STR(s.g->trk[0].url, "udp://127.0.0.1:6969");
	/* other UDP is ignored */
	{
		uint8_t f[100];
		size_t len = frame(f, CLI, SRV, 5353, 5353, 0, 0, -1, "hello", 5);

		bt_dec_frame(&s.d, BT_DLT_RAW, f, len, len, 9000000);
		T_EQ_UINT(s.g->ntrk, 5);
	}
	s_free(&s);
}

static void test_memory_cap(void)
{
	struct bt_dec_cfg cfg;
	uint8_t c[100];
	struct sess s;

	memset(&cfg, 0, sizeof cfg);
	cfg.mem_budget = 1000;   /* less than one framer buffer */
	hs(c, 0);
	s_init(&s, &cfg);
	s_open(&s);
	s_seg(&s, 0, BT_TCP_ACK, c, 68);
	s_close(&s);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_UNDECODED);
	T_EQ_STR(s.g->ends[0].reason, "memory cap (too many flows at once)");
	T_EQ_UINT(s.d.st.mem_refused, 1);
	T_EQ_UINT(s.d.mem.used, 0);
	s_free(&s);
}

static void test_many_flows_bounded(void)
{
	struct bt_dec_cfg cfg;
	uint8_t c[100];
	struct sess s;
	uint64_t peak = 0;

	memset(&cfg, 0, sizeof cfg);
	cfg.flow.max_flows = 64;
	hs(c, 0);
	s_init(&s, &cfg);
	/* 5000 connections that never close: the table keeps 64 */
	for (int i = 0; i < 5000; i++) {
		s.cport = (uint16_t)(20000 + i);
		s.cseq = 1000;
		s.sseq = 50000;
		s_open(&s);
		s_seg(&s, 0, BT_TCP_ACK, c, 68);
		if (i == 999)
			peak = s.d.mem.peak;
	}
	bt_dec_finish(&s.d);
	T_EQ_UINT(s.d.st.flows, 5000);
	T_EQ_UINT(s.d.st.flows_peer, 5000);
	T_EQ_UINT(s.d.mem.peak, peak);   /* flat after the table filled */
	T_CHECK(s.d.mem.peak <= 65 * 2 * BT_FRAMER_BUF_LEN(BT_FRAMER_DEFAULT_MAX));
	T_EQ_UINT(s.d.mem.used, 0);
	s_free(&s);
}

static void test_snaplen_problems(void)
{
	uint8_t f[200], c[100];
	struct sess s;
	size_t len;

	hs(c, 0);
	s_init(&s, NULL);
	s_open(&s);
	len = frame(f, CLI, SRV, CPORT, SPORT, s.cseq, s.sseq, BT_TCP_ACK, c, 68);
	bt_dec_frame(&s.d, BT_DLT_RAW, f, 40 + 20, len, 5000000);  /* 20 bytes kept */
	bt_dec_frame(&s.d, BT_DLT_RAW, f, 30, len, 5000100);       /* TCP header cut */
	bt_dec_frame(&s.d, 147, f, len, len, 5000200);             /* USER0 */
	bt_dec_finish(&s.d);
	T_EQ_INT(s.g->problems[BT_DEC_P_TRUNC_PAYLOAD], 1);
	T_EQ_INT(s.g->problems[BT_DEC_P_TRUNCATED], 1);
	T_EQ_INT(s.g->problems[BT_DEC_P_LINKTYPE], 1);
	T_EQ_UINT(s.g->ends[0].d[0].gap_bytes, 48);
	/* 20 bytes told it was a handshake, cut short */
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_PEER);
	s_free(&s);
}

/* Hostile input: random segments on a BitTorrent flow, every frame flush
 * against an unreadable page.  No crash, no leak, memory back to zero. */
static void test_hostile(void)
{
	uint8_t c[100], p[3000], f[3100];
	struct sess s;
	uint32_t seq;

	hs(c, 0);
	s_init(&s, NULL);
	s_open(&s);
	s_seg(&s, 0, BT_TCP_ACK, c, 68);
	seq = s.sseq;
	for (uint32_t i = 0; i < 3000; i++) {
		size_t n = (i * 7919u) % sizeof p, len;
		uint32_t jitter = (i % 5 == 0) ? (uint32_t)(i * 31 % 5000) : 0;

		prng(p, n, i);
		if (i % 3 == 0 && n > 8)
			memcpy(p, "\x00\x00\x00\x05\x04", 5);   /* plausible starts */
		len = frame(f, SRV, CLI, SPORT, CPORT, seq - jitter, s.cseq, BT_TCP_ACK, p, n);
		bt_dec_frame(&s.d, BT_DLT_RAW, t_guarded(f, len), len, len, 6000000 + i);
		bt_dec_frame(&s.d, BT_DLT_RAW, t_guarded(f, i % len), i % len, len, 6000000 + i);
		seq += (uint32_t)n;
	}
	bt_dec_finish(&s.d);
	T_EQ_UINT(s.g->nend, 1);
	T_EQ_UINT(s.d.mem.used, 0);
	s_free(&s);
}

/* ---- MSE/PE decrypted with a key log ----------------------------------------- */

/* One MSE session made in-process by the library's initiator (A, the
 * client: our handshake as the IA) and receiver (B), as the segments each
 * side sent, in the order they went: A Ya+PadA, B Yb+PadB, A message 3 +
 * IA, B message 4 + B's payload, A's payload. */
struct msess {
	uint8_t seg[5][20000];
	size_t len[5];
	size_t hs_a, hs_b;      /* each side's MSE bytes before its payload */
	char line[BT_MSE_KEYLOG_LINE_MAX + 1], noskey[BT_MSE_KEYLOG_LINE_MAX + 1];
	uint32_t select;
};

static const uint8_t mse_ih[20] = {
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
};

static size_t pending(struct bt_mse *m, uint8_t *out)
{
	size_t n;
	const uint8_t *p = bt_mse_pending(m, &n);

	memcpy(out, p, n);
	bt_mse_sent(m, n);
	return n;
}

/* b_payload: B's messages after its handshake (msgs() spec, no args). */
static bool mse_session(struct msess *x, uint32_t provide, const char *b_payload)
{
	struct bt_mse a, b;
	struct bt_mse_cfg ca, cb;
	struct bt_mse_skeys keys = { &mse_ih, 1 };
	uint8_t ia[BT_HS_LEN], tmp[20000];
	size_t n;
	bool ok = false;

	memset(x, 0, sizeof *x);
	hs(ia, 0);
	memset(&ca, 0, sizeof ca);
	ca.role = BT_MSE_INITIATOR;
	ca.crypto = provide;
	ca.skey = mse_ih;
	ca.ia = ia;
	ca.ia_len = sizeof ia;
	ca.pad_len = 37;
	ca.pad2_len = 3;
	memset(&cb, 0, sizeof cb);
	cb.role = BT_MSE_RECEIVER;
	cb.crypto = BT_MSE_CRYPTO_RC4 | BT_MSE_CRYPTO_PLAIN;
	cb.prefer_plain = true;
	cb.find_skey = bt_mse_skeys_find;
	cb.skey_arg = &keys;
	cb.pad_len = 201;
	cb.pad2_len = 5;
	if (bt_mse_init(&a, &ca) != BT_OK || bt_mse_init(&b, &cb) != BT_OK)
		goto out;
	x->len[0] = pending(&a, x->seg[0]);
	if (bt_mse_feed(&b, x->seg[0], x->len[0]) != (long)x->len[0])
		goto out;
	x->len[1] = pending(&b, x->seg[1]);
	if (bt_mse_feed(&a, x->seg[1], x->len[1]) != (long)x->len[1])
		goto out;
	x->len[2] = pending(&a, x->seg[2]);
	x->hs_a = x->len[0] + x->len[2] - BT_HS_LEN;
	if (bt_mse_feed(&b, x->seg[2], x->len[2]) != (long)(x->len[2] - BT_HS_LEN) ||
	    !bt_mse_done(&b))
		goto out;
	x->len[3] = pending(&b, x->seg[3]);
	x->hs_b = x->len[1] + x->len[3];
	n = hs(tmp, 1);
	n += msgs(tmp + n, sizeof tmp - n, b_payload, 0u, 0u, 0u, 0u, 0u, 0u);
	if (bt_mse_encrypt(&b, tmp, n) != BT_OK)
		goto out;
	memcpy(x->seg[3] + x->len[3], tmp, n);
	if (bt_mse_feed(&a, x->seg[3], x->len[3] + n) != (long)x->len[3] || !bt_mse_done(&a))
		goto out;
	x->len[3] += n;
	n = msgs(tmp, sizeof tmp, "ikr", 0u, 0u);
	if (bt_mse_encrypt(&a, tmp, n) != BT_OK)
		goto out;
	memcpy(x->seg[4], tmp, n);
	x->len[4] = n;
	x->select = a.select;
	if (bt_mse_keylog_format(x->line, sizeof x->line, "127.0.0.2:40000",
				 "127.0.0.1:6881", bt_mse_secret(&a), mse_ih) <= 0 ||
	    bt_mse_keylog_format(x->noskey, sizeof x->noskey, "127.0.0.2:40000",
				 "127.0.0.1:6881", bt_mse_secret(&a), NULL) <= 0)
		goto out;
	ok = true;
out:
	bt_mse_free(&a);
	bt_mse_free(&b);
	return ok;
}

/* Feed the session; step > 0: every segment cut into pieces of that many
 * bytes.  drop: a range [drop0, drop1) of B's stream never captured. */
static void mse_feed(struct sess *s, const struct msess *x, size_t step,
		     size_t drop0, size_t drop1)
{
	uint64_t boff = 0;

	s_open(s);
	for (int i = 0; i < 5; i++) {
		int dir = i == 1 || i == 3;
		size_t k = step ? step : x->len[i];

		for (size_t at = 0; at < x->len[i]; at += k) {
			size_t m = x->len[i] - at < k ? x->len[i] - at : k;

			if (dir && drop1 > drop0) {
				/* the part of [boff, boff + m) outside the drop */
				uint64_t a0 = boff, a1 = boff + m;

				if (a0 < drop0) {
					size_t e = (size_t)((a1 < drop0 ? a1 : drop0) - a0);
					s_seg_at(s, 1, s->sseq + (uint32_t)a0, x->seg[i] + at, e);
				}
				if (a1 > drop1) {
					size_t b0 = (size_t)(a0 > drop1 ? a0 : drop1);
					s_seg_at(s, 1, s->sseq + (uint32_t)b0,
						 x->seg[i] + at + (b0 - a0), (size_t)(a1 - b0));
				}
				boff += m;
				continue;
			}
			s_seg(s, dir, BT_TCP_ACK | BT_TCP_PSH, x->seg[i] + at, m);
		}
	}
	if (drop1 > drop0)
		s->sseq += (uint32_t)boff;
	s_close(s);
}

static void test_keylog_rc4(void)
{
	struct msess *x = calloc(1, sizeof *x);
	struct got *plain = calloc(1, sizeof *plain);
	struct sess s;
	const struct rec *r;
	const char *why = NULL;
	size_t hs_ev = 0;

	T_CHECK(mse_session(x, BT_MSE_CRYPTO_RC4, "bup"));
	T_EQ_INT(x->select, BT_MSE_CRYPTO_RC4);
	run_basic(plain, 0);
	for (size_t step = 0; step <= 200; step += step < 10 ? 1 : 97) {
		s_init(&s, NULL);
		T_EQ_INT(bt_dec_keylog_add(&s.d, "# a comment\n", 12, &why), BT_EUNSUPP);
		T_EQ_INT(bt_dec_keylog_add(&s.d, x->line, strlen(x->line), &why), BT_OK);
		mse_feed(&s, x, step, 0, 0);
		T_EQ_UINT(s.g->nend, 1);
		T_EQ_INT(s.g->ends[0].kind, BT_DEC_PEER);
		T_EQ_INT(s.g->ends[0].mse_select, BT_MSE_CRYPTO_RC4);
		for (int i = 0; i < 2; i++) {
			T_CHECK(s.g->ends[0].d[i].mse && s.g->ends[0].d[i].decrypted);
			/* the same messages as the plain session's */
			T_EQ_UINT(s.g->ends[0].d[i].msgs, plain->ends[0].d[i].msgs);
			T_EQ_MEM(s.g->ends[0].d[i].count, sizeof plain->ends[0].d[i].count,
				 plain->ends[0].d[i].count, sizeof plain->ends[0].d[i].count);
			T_EQ_UINT(s.g->ends[0].d[i].skipped, 0);
		}
		T_EQ_UINT(s.g->ends[0].d[0].enc_bytes, x->hs_a);
		T_EQ_UINT(s.g->ends[0].d[1].enc_bytes, x->hs_b);
		/* the timeline: the MSE steps as a live connection gives them,
		 * then the plain session's events at offsets past the key
		 * exchange */
		T_EQ_UINT(s.g->nev, plain->nev + 3);
		T_EQ_INT(s.g->ev[2].kind, BT_EV_NOTE);
		T_EQ_INT(s.g->ev[2].dir, 0);
		T_EQ_STR(s.g->ev[2].why, "MSE: Ya (37 bytes pad), offering RC4; decrypted with the key log");
		T_EQ_INT(s.g->ev[3].kind, BT_EV_NOTE);
		T_EQ_INT(s.g->ev[3].dir, 1);
		T_CHECK(strncmp(s.g->ev[3].why, "MSE: Yb after ", 14) == 0);
		r = find(s.g, BT_EV_NOTE, -9, 2);
		T_CHECK(r && r->dir == 1 && strncmp(r->why, "MSE: RC4 selected after ", 24) == 0 &&
			strstr(r->why, "(PadB 201 bytes, PadD 5 bytes)") != NULL);
		hs_ev = 0;
		for (int dir = 0; dir < 2; dir++) {
			/* per direction: how the two interleave is timing */
			size_t i = 0, j = 0;

			for (;; i++, j++) {
				while (i < s.g->nev && (s.g->ev[i].dir != dir ||
				       s.g->ev[i].kind == BT_EV_NOTE))
					i++;
				while (j < plain->nev && plain->ev[j].dir != dir)
					j++;
				if (i >= s.g->nev || j >= plain->nev)
					break;
				T_EQ_INT(s.g->ev[i].kind, plain->ev[j].kind);
				T_EQ_INT(s.g->ev[i].msg, plain->ev[j].msg);
				if (plain->ev[j].kind == BT_EV_HANDSHAKE ||
				    plain->ev[j].kind == BT_EV_MSG) {
					T_EQ_UINT(s.g->ev[i].off, plain->ev[j].off +
						  (dir ? x->hs_b : x->hs_a));
					hs_ev++;
				}
			}
			T_CHECK(i >= s.g->nev && j >= plain->nev);
		}
		T_EQ_UINT(hs_ev, 8);
		T_EQ_UINT(s.d.st.flows_decrypted, 1);
		T_EQ_UINT(s.d.mem.used, 0);
		s_free(&s);
		if (t_failed_now) {
			printf("#   segments cut every %zu bytes\n", step);
			break;
		}
	}
	free(x);
	free(plain);
}

/* A capture that recorded B's message 4 and payload before A's message 3
 * (both sides' streams in order, not across them): B's payload waits
 * until A's message 3 confirms the key, then decodes as before. */
static void test_keylog_reordered(void)
{
	struct msess *x = calloc(1, sizeof *x);
	static const int order[5] = { 0, 1, 3, 2, 4 };
	struct sess s;

	T_CHECK(mse_session(x, BT_MSE_CRYPTO_RC4, "bup"));
	s_init(&s, NULL);
	T_EQ_INT(bt_dec_keylog_add(&s.d, x->line, strlen(x->line), NULL), BT_OK);
	s_open(&s);
	for (int i = 0; i < 5; i++) {
		int k = order[i], dir = k == 1 || k == 3;

		s_seg(&s, dir, BT_TCP_ACK | BT_TCP_PSH, x->seg[k], x->len[k]);
	}
	s_close(&s);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_PEER);
	T_EQ_UINT(s.g->ends[0].d[1].msgs, 4);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_MSG_PIECE], 1);
	T_EQ_UINT(s.g->ends[0].d[0].msgs, 4);
	T_EQ_UINT(s.g->ends[0].d[1].enc_bytes, x->hs_b);
	T_EQ_UINT(find(s.g, BT_EV_HANDSHAKE, -9, 1)->off, x->hs_b);
	T_EQ_UINT(s.d.mem.used, 0);
	s_free(&s);
	free(x);
}

/* Plaintext selected: the IA is still RC4, the rest in the clear. */
static void test_keylog_plaintext(void)
{
	struct msess *x = calloc(1, sizeof *x);
	struct sess s;

	T_CHECK(mse_session(x, BT_MSE_CRYPTO_PLAIN | BT_MSE_CRYPTO_RC4, "bup"));
	T_EQ_INT(x->select, BT_MSE_CRYPTO_PLAIN);
	s_init(&s, NULL);
	T_EQ_INT(bt_dec_keylog_add(&s.d, x->line, strlen(x->line), NULL), BT_OK);
	mse_feed(&s, x, 0, 0, 0);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_PEER);
	T_EQ_INT(s.g->ends[0].mse_select, BT_MSE_CRYPTO_PLAIN);
	T_EQ_UINT(s.g->ends[0].d[0].count[BT_DEC_C_HANDSHAKE], 1);
	T_EQ_UINT(s.g->ends[0].d[0].count[BT_MSG_REQUEST], 1);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_MSG_PIECE], 1);
	T_EQ_UINT(s.g->ends[0].d[1].msgs, 4);
	T_CHECK(find(s.g, BT_EV_NOTE, -9, 2) &&
		strncmp(find(s.g, BT_EV_NOTE, -9, 2)->why, "MSE: plaintext selected", 23) == 0);
	s_free(&s);
	free(x);
}

/* A line without the info-hash: found among the log's other lines. */
static void test_keylog_no_skey(void)
{
	struct msess *x = calloc(1, sizeof *x);
	char other[BT_MSE_KEYLOG_LINE_MAX + 1];
	uint8_t zero[96] = { 1 };
	struct sess s;

	T_CHECK(mse_session(x, BT_MSE_CRYPTO_RC4, "bup"));
	T_CHECK(bt_mse_keylog_format(other, sizeof other, "[::1]:1", "[::1]:2",
				     zero, mse_ih) > 0);
	s_init(&s, NULL);
	T_EQ_INT(bt_dec_keylog_add(&s.d, x->noskey, strlen(x->noskey), NULL), BT_OK);
	T_EQ_INT(bt_dec_keylog_add(&s.d, other, strlen(other), NULL), BT_OK);
	mse_feed(&s, x, 0, 0, 0);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_PEER);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_MSG_PIECE], 1);
	T_EQ_UINT(s.g->ends[0].d[0].count[BT_MSG_REQUEST], 1);
	s_free(&s);
	free(x);
}

/* A key that does not fit, or no key: exactly as without one. */
static void test_keylog_wrong_key(void)
{
	struct msess *x = calloc(1, sizeof *x);
	struct sess s, t;
	char *hex;

	T_CHECK(mse_session(x, BT_MSE_CRYPTO_RC4, "bup"));
	hex = x->line + strlen("mse 127.0.0.2:40000 127.0.0.1:6881 ");
	hex[0] = hex[0] == '0' ? '1' : '0';
	s_init(&s, NULL);
	s_init(&t, NULL);
	T_EQ_INT(bt_dec_keylog_add(&s.d, x->line, strlen(x->line), NULL), BT_OK);
	mse_feed(&s, x, 0, 0, 0);
	mse_feed(&t, x, 0, 0, 0);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_UNDECODED);
	T_EQ_STR(s.g->ends[0].reason,
		 "encrypted (MSE/PE); the key log's secret does not fit this flow");
	T_EQ_STR(t.g->ends[0].reason, "encrypted (MSE/PE)");
	T_EQ_UINT(s.g->nev, t.g->nev);
	for (int i = 0; i < 2; i++) {
		T_EQ_UINT(s.g->ends[0].d[i].enc_bytes, t.g->ends[0].d[i].enc_bytes);
		T_EQ_UINT(s.g->ends[0].d[i].skipped, t.g->ends[0].d[i].skipped);
		T_CHECK(!s.g->ends[0].d[i].decrypted);
	}
	T_EQ_UINT(s.d.st.flows_keyed, 1);
	T_EQ_UINT(s.d.st.flows_decrypted, 0);
	T_EQ_UINT(s.d.mem.used, 0);
	s_free(&s);
	s_free(&t);
	/* a malformed line is refused with the rule broken */
	s_init(&s, NULL);
	T_EQ_INT(bt_dec_keylog_add(&s.d, "mse 1.2.3.4:5 6.7.8.9:10 abc\n", 29, NULL), BT_EINVAL);
	T_EQ_UINT(s.d.keys.n, 0);
	s_free(&s);
	free(x);
}

/* Bytes of B's payload lost: the keystream moves past them and the
 * messages after the gap decrypt. */
static void test_keylog_gap(void)
{
	struct msess *x = calloc(1, sizeof *x);
	const struct rec *r;
	struct sess s;
	uint64_t at;

	/* handshake, bitfield (7), unchoke (5), have x3 (9 each), piece */
	T_CHECK(mse_session(x, BT_MSE_CRYPTO_RC4, "buhhhp"));
	at = x->hs_b + BT_HS_LEN + 7;          /* the unchoke */
	s_init(&s, NULL);
	T_EQ_INT(bt_dec_keylog_add(&s.d, x->line, strlen(x->line), NULL), BT_OK);
	mse_feed(&s, x, 1000, at, at + 5);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_PEER);
	T_EQ_UINT(count_kind(s.g, BT_EV_GAP), 1);
	T_EQ_UINT(find(s.g, BT_EV_GAP, -9, 0)->off, at);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_MSG_UNCHOKE], 0);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_MSG_HAVE], 3);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_MSG_PIECE], 1);
	T_EQ_UINT(s.g->ends[0].d[1].count[BT_DEC_C_MALFORMED], 0);
	T_EQ_UINT(find(s.g, BT_EV_MSG, BT_MSG_HAVE, 0)->off, at + 5);
	/* lost inside B's key exchange: nothing of B after it decrypts, nor
	 * A's payload after its IA (B's crypto_select, which says how it is
	 * sent, was in the lost bytes); A's handshake (the IA) was read */
	s_free(&s);
	s_init(&s, NULL);
	T_EQ_INT(bt_dec_keylog_add(&s.d, x->line, strlen(x->line), NULL), BT_OK);
	mse_feed(&s, x, 1000, x->len[1] + 2, x->len[1] + 4);
	T_EQ_INT(s.g->ends[0].kind, BT_DEC_PEER);
	T_EQ_UINT(s.g->ends[0].d[1].msgs, 0);
	T_EQ_UINT(s.g->ends[0].d[0].msgs, 1);
	T_EQ_UINT(s.g->ends[0].d[0].count[BT_DEC_C_HANDSHAKE], 1);
	T_EQ_UINT(s.g->ends[0].d[0].enc_bytes, x->hs_a + x->len[4]);
	T_EQ_UINT(s.g->ends[0].d[1].enc_bytes + s.g->ends[0].d[1].gap_bytes,
		  x->len[1] + x->len[3]);
	r = find(s.g, BT_EV_NOTE, -9, 2);
	T_CHECK(r && r->dir == 1);
	if (r)
		T_EQ_STR(r->why, "MSE: no sync within window: bytes lost before the payload "
			 "could be decrypted (byte 299 of the receiver's stream); not "
			 "decrypted further");
	T_EQ_UINT(s.d.mem.used, 0);
	s_free(&s);
	free(x);
}

int main(void)
{
	T_RUN(test_basic);
	T_RUN(test_gap_inside_piece);
	T_RUN(test_gap_resync);
	T_RUN(test_gap_acked);
	T_RUN(test_midstream);
	T_RUN(test_not_bittorrent);
	T_RUN(test_mse_plaintext);
	T_RUN(test_mse_encrypted);
	T_RUN(test_too_big);
	T_RUN(test_no_handshake);
	T_RUN(test_short_handshake_end);
	T_RUN(test_http_tracker);
	T_RUN(test_http_not_tracker);
	T_RUN(test_udp_tracker);
	T_RUN(test_memory_cap);
	T_RUN(test_many_flows_bounded);
	T_RUN(test_snaplen_problems);
	T_RUN(test_hostile);
	T_RUN(test_keylog_rc4);
	T_RUN(test_keylog_reordered);
	T_RUN(test_keylog_plaintext);
	T_RUN(test_keylog_no_skey);
	T_RUN(test_keylog_wrong_key);
	T_RUN(test_keylog_gap);
	return T_DONE();
}
