/* test_decode.c — the capture decoder (decode.h) on synthetic frames.
 *
 * Frames are raw IPv4 (DLT_RAW) built here; each test feeds a session and
 * compares the events, tracker records and summaries with exact values. */
#include <stdarg.h>

#include "t.h"
#include "decode.h"
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

/* ---- detection helpers ---------------------------------------------------- */

static void test_sniff(void)
{
	uint8_t b[80];
	static const uint8_t after[] = "BitTorrent protocol\x13";

	hs(b, 0);
	T_EQ_INT(bt_dec_sniff(b, 68, false), 1);
	T_EQ_INT(bt_dec_sniff(b, 20, false), 1);
	T_EQ_INT(bt_dec_sniff(b, 10, false), BT_NEED_MORE);
	T_EQ_INT(bt_dec_sniff(b, 10, true), 1);     /* cut short: still it */
	T_EQ_INT(bt_dec_sniff(b, 0, false), BT_NEED_MORE);
	T_EQ_INT(bt_dec_sniff(b, 0, true), 0);
	b[12] = 'P';                                 /* "Protocol" */
	T_EQ_INT(bt_dec_sniff(b, 68, false), 1);
	T_EQ_INT(bt_dec_sniff(after, 20, false), 1); /* length after string */
	T_EQ_INT(bt_dec_sniff((const uint8_t *)"SSH-2.0-OpenSSH_9.2p1 Debian", 28, false), 0);
	T_EQ_INT(bt_dec_sniff((const uint8_t *)"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, false), 0);
	T_EQ_INT(bt_dec_sniff((const uint8_t *)"\x13" "BitTorrent", 11, false), BT_NEED_MORE);
	T_EQ_INT(bt_dec_sniff((const uint8_t *)"\x13" "BitTorrenX", 11, false), BT_NEED_MORE);
	T_EQ_INT(bt_dec_sniff((const uint8_t *)"\x13" "BitTorrenX protocol........", 28, false), 0);
	{
		const uint8_t *g = t_guarded(b, 68);
		T_EQ_INT(bt_dec_sniff(g, 68, true), 1);
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
	r = bt_dec_boundary(b, n, 0, 0, 0, false, &und);
	T_EQ_INT(r, 23);
	/* a cut-off chain: undecided at the first candidate, not invalid */
	r = bt_dec_boundary(b, 23 + 7, 0, 0, 0, false, &und);
	T_EQ_INT(r, BT_NEED_MORE);
	T_EQ_UINT(und, 23);
	/* the same with no more bytes to come: nothing trusted */
	r = bt_dec_boundary(b, 23 + 7, 0, 0, 0, true, &und);
	T_EQ_INT(r, BT_EINVAL);
	/* two messages that end the stream exactly are enough when final */
	r = bt_dec_boundary(b, 23 + 10, 0, 0, 0, true, &und);
	T_EQ_INT(r, 23);
	/* keep-alives alone never make a boundary (zero-filled data) */
	memset(b, 0, 200);
	r = bt_dec_boundary(b, 200, 0, 0, 0, true, &und);
	T_EQ_INT(r, BT_EINVAL);
	/* min 2 (-d) */
	n = msgs(b, sizeof b, "ih", 3u);
	T_EQ_INT(bt_dec_boundary(b, n + 3, 0, 2, 0, false, &und), 0);
	/* a length over the cap is no boundary */
	memcpy(b, "\x00\x10\x00\x00\x07", 5);
	T_EQ_INT(bt_dec_boundary(b, 5, 0, 0, 0, true, &und), BT_EINVAL);
	/* hostile: every prefix of a guarded buffer */
	n = msgs(b, sizeof b, "uhrb", 9u, 1u, 0u);
	for (size_t k = 0; k <= n; k++) {
		const uint8_t *g = t_guarded(b, k);
		(void)bt_dec_boundary(g, k, 0, 0, 0, false, &und);
		(void)bt_dec_boundary(g, k, 0, 0, 0, true, &und);
	}
}

static void test_query(void)
{
	static const char q[] =
		"info_hash=%ECp%AC%D0%E5%A53%D4%18d%DF%F8f%9D%B5%8Fv%E7%09%F7"
		"&peer_id=-LT2080-m41Kv87eRRJW&port=25776&uploaded=0&downloaded=0"
		"&left=197385&corrupt=0&key=27203E14&event=started&numwant=200"
		"&compact=1&no_peer_id=1&supportcrypto=1&zzz=1";
	static const uint8_t ih[20] = {
		0xec, 0x70, 0xac, 0xd0, 0xe5, 0xa5, 0x33, 0xd4, 0x18, 0x64,
		0xdf, 0xf8, 0x66, 0x9d, 0xb5, 0x8f, 0x76, 0xe7, 0x09, 0xf7,
	};
	struct bt_dec_query x;

	bt_dec_query_parse(&x, q, sizeof q - 1);
	T_EQ_UINT(x.nhash, 1);
	T_EQ_MEM(x.hashes[0], 20, ih, 20);
	T_CHECK(x.have_peer_id);
	T_EQ_MEM(x.peer_id, 20, "-LT2080-m41Kv87eRRJW", 20);
	T_EQ_INT(x.port, 25776);
	T_EQ_INT(x.left, 197385);
	T_EQ_INT(x.event, BT_TRK_EV_STARTED);
	T_EQ_INT(x.numwant, 200);
	T_EQ_INT(x.compact, 1);
	T_EQ_INT(x.supportcrypto, 1);
	T_EQ_INT(x.redundant, -1);
	T_EQ_MEM(x.key, x.key_len, "27203E14", 8);
	T_EQ_UINT(x.unknown, 1);
	T_CHECK(x.bad == NULL);
	bt_dec_query_parse(&x, "info_hash=%zz&port=x", 20);
	T_CHECK(x.bad != NULL);
	T_EQ_INT(x.port, -1);
	bt_dec_query_parse(&x, "info_hash=aaaaaaaaaaaaaaaaaaaa&info_hash=bbbbbbbbbbbbbbbbbbbb", 61);
	T_EQ_UINT(x.nhash, 2);
	T_EQ_MEM(x.hashes[1], 20, "bbbbbbbbbbbbbbbbbbbb", 20);
	bt_dec_query_parse(&x, "", 0);
	T_EQ_UINT(x.nhash, 0);
	T_CHECK(x.bad == NULL);
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
	T_EQ_UINT(s.d.mem, 0);
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
	T_EQ_UINT(s.d.mem, 0);
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
	T_EQ_UINT(s.d.mem, 0);
	s_free(&s);
}

static const uint8_t gz_body[108] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x4b, 0xb1,
	0xb0, 0xca, 0xcc, 0x2b, 0x49, 0x2d, 0x2a, 0x4b, 0xcc, 0xc9, 0x34, 0xb4,
	0x30, 0x30, 0x48, 0x35, 0xb5, 0x2a, 0x48, 0x4d, 0x2d, 0x2a, 0x36, 0x33,
	0xb0, 0x62, 0x60, 0x64, 0x62, 0x66, 0x61, 0x65, 0x63, 0xe7, 0xe0, 0xe4,
	0xe2, 0xe6, 0xe1, 0xe5, 0xe3, 0x17, 0x10, 0x14, 0x12, 0x16, 0x11, 0x15,
	0x13, 0x97, 0x90, 0x94, 0x92, 0x96, 0x91, 0x95, 0x93, 0x57, 0x50, 0x54,
	0x52, 0x56, 0x51, 0x55, 0x53, 0xd7, 0xd0, 0xd4, 0xd2, 0xd6, 0xd1, 0xd5,
	0xd3, 0x37, 0x30, 0x34, 0x32, 0x36, 0x31, 0x35, 0x33, 0xb7, 0xb0, 0xb4,
	0xb2, 0x4e, 0x05, 0x00, 0xc4, 0x57, 0x02, 0xdc, 0x58, 0x00, 0x00, 0x00,
};
static const uint8_t zlib_body[208] = {
	0x78, 0xda, 0x25, 0xd0, 0x45, 0x4e, 0x03, 0x01, 0x00, 0x00, 0xc0, 0x16,
	0x77, 0x77, 0x77, 0x97, 0x45, 0x5a, 0xda, 0xe2, 0xee, 0xee, 0x4e, 0x81,
	0x3d, 0x34, 0x21, 0x84, 0x00, 0xe1, 0xca, 0xd7, 0x49, 0x86, 0xcb, 0x3c,
	0x60, 0x5e, 0x13, 0xa9, 0xcc, 0xfb, 0x77, 0xf8, 0xf9, 0x93, 0x7e, 0xcb,
	0x24, 0x83, 0x20, 0x8c, 0xa5, 0x3e, 0xc2, 0xf0, 0xf3, 0x2b, 0x1e, 0x04,
	0xa9, 0xdf, 0x48, 0x24, 0x1a, 0x89, 0x30, 0xca, 0x2c, 0x66, 0x33, 0x87,
	0xb9, 0xcc, 0x63, 0x3e, 0x0b, 0x58, 0xc8, 0x22, 0x16, 0xb3, 0x84, 0xa5,
	0x2c, 0x63, 0x39, 0x2b, 0x58, 0xc9, 0x2a, 0x56, 0xb3, 0x86, 0xb5, 0xac,
	0x63, 0x3d, 0x1b, 0xd8, 0xc8, 0x26, 0x36, 0xb3, 0x85, 0xad, 0x6c, 0x63,
	0x3b, 0x3b, 0xd8, 0xc9, 0x2e, 0x76, 0xb3, 0x87, 0xbd, 0xec, 0x63, 0x3f,
	0x07, 0x38, 0xc8, 0x21, 0x0e, 0x73, 0x84, 0xa3, 0x1c, 0xe3, 0x38, 0x03,
	0x4e, 0x70, 0x92, 0x53, 0x9c, 0x66, 0x8c, 0x71, 0xce, 0x30, 0xc1, 0x24,
	0xff, 0x87, 0x67, 0x39, 0xc7, 0x79, 0x2e, 0x70, 0x91, 0x4b, 0x5c, 0xe6,
	0x0a, 0x57, 0xb9, 0xc6, 0x75, 0x6e, 0x70, 0x93, 0x5b, 0xdc, 0xe6, 0x0e,
	0x77, 0xb9, 0xc7, 0x7d, 0x1e, 0xf0, 0x90, 0x47, 0x3c, 0xe6, 0x09, 0x4f,
	0x79, 0xc6, 0x73, 0x5e, 0xf0, 0x92, 0x57, 0xbc, 0xe6, 0x0d, 0x6f, 0x79,
	0xc7, 0x7b, 0x3e, 0xf0, 0x91, 0x4f, 0x4c, 0xf3, 0x99, 0x2f, 0xe1, 0x1f,
	0x01, 0x60, 0x4e, 0xbc,
};
static const uint8_t raw_stored[93] = {
	0x01, 0x58, 0x00, 0xa7, 0xff, 0x64, 0x38, 0x3a, 0x69, 0x6e, 0x74, 0x65,
	0x72, 0x76, 0x61, 0x6c, 0x69, 0x31, 0x38, 0x30, 0x30, 0x65, 0x35, 0x3a,
	0x70, 0x65, 0x65, 0x72, 0x73, 0x36, 0x30, 0x3a, 0x00, 0x01, 0x02, 0x03,
	0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
	0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
	0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
	0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x65,
};

/* An HTTP tracker answer with this body and Content-Encoding; the
 * record's rc, peers and note. */
static void run_coded(const uint8_t *b, size_t n, const char *coding,
		      int *rc, size_t *npeers, bool *noted)
{
	static const char rq[] = "GET /announce?info_hash=%AB&port=1 HTTP/1.1\r\n\r\n";
	char head[200];
	struct sess s;
	int hl;

	hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\n"
		      "Content-Length: %zu\r\n\r\n", coding, n);
	s_init(&s, NULL);
	s.sport = 6969;
	s_open(&s);
	s_seg(&s, 0, BT_TCP_ACK, rq, sizeof rq - 1);
	s_seg(&s, 1, BT_TCP_ACK, head, (size_t)hl);
	s_seg(&s, 1, BT_TCP_ACK, b, n);
	s_close(&s);
	*rc = s.g->ntrk == 2 ? s.g->trk[1].rc : -99;
	*npeers = s.g->ntrk == 2 ? s.g->trk[1].npeers : 0;
	*noted = s.g->ntrk == 2 && s.g->trk[1].noted;
	T_EQ_UINT(s.d.mem, 0);
	s_free(&s);
}

static void test_http_compressed(void)
{
	uint8_t bad[sizeof gz_body];
	size_t np;
	bool noted;
	int rc;

	run_coded(gz_body, sizeof gz_body, "gzip", &rc, &np, &noted);
	T_EQ_INT(rc, BT_OK);
	T_EQ_UINT(np, 10);
	T_CHECK(!noted);
	run_coded(zlib_body, sizeof zlib_body, "deflate", &rc, &np, &noted);
	T_EQ_INT(rc, BT_OK);
	T_EQ_UINT(np, 100);
	run_coded(raw_stored, sizeof raw_stored, "deflate", &rc, &np, &noted);
	T_EQ_INT(rc, BT_OK);
	T_EQ_UINT(np, 10);
	/* damaged: a flipped bit in the data, a cut-off stream, an unknown
	 * coding: each a note, never a crash */
	memcpy(bad, gz_body, sizeof bad);
	bad[40] ^= 0x10;
	run_coded(bad, sizeof bad, "gzip", &rc, &np, &noted);
	T_CHECK(noted);
	for (size_t k = 0; k < sizeof gz_body; k++) {
		run_coded(t_guarded(gz_body, k), k, "gzip", &rc, &np, &noted);
		T_CHECK(noted);
	}
	run_coded(gz_body, sizeof gz_body, "br", &rc, &np, &noted);
	T_CHECK(noted);
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
	T_EQ_UINT(s.d.mem, 0);
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
			peak = s.d.st.mem_peak;
	}
	bt_dec_finish(&s.d);
	T_EQ_UINT(s.d.st.flows, 5000);
	T_EQ_UINT(s.d.st.flows_peer, 5000);
	T_EQ_UINT(s.d.st.mem_peak, peak);   /* flat after the table filled */
	T_CHECK(s.d.st.mem_peak <= 65 * 2 * BT_FRAMER_BUF_LEN(BT_FRAMER_DEFAULT_MAX));
	T_EQ_UINT(s.d.mem, 0);
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
	T_EQ_UINT(s.d.mem, 0);
	s_free(&s);
}

int main(void)
{
	T_RUN(test_sniff);
	T_RUN(test_boundary);
	T_RUN(test_query);
	T_RUN(test_basic);
	T_RUN(test_gap_inside_piece);
	T_RUN(test_gap_resync);
	T_RUN(test_midstream);
	T_RUN(test_not_bittorrent);
	T_RUN(test_mse_plaintext);
	T_RUN(test_mse_encrypted);
	T_RUN(test_too_big);
	T_RUN(test_no_handshake);
	T_RUN(test_short_handshake_end);
	T_RUN(test_http_tracker);
	T_RUN(test_http_compressed);
	T_RUN(test_http_not_tracker);
	T_RUN(test_udp_tracker);
	T_RUN(test_memory_cap);
	T_RUN(test_many_flows_bounded);
	T_RUN(test_snaplen_problems);
	T_RUN(test_hostile);
	return T_DONE();
}
