/* decode.c — the capture decoder.  See decode.h.
 *
 * Frames go through pkt.h; TCP segments into a flow table (flow.h) whose
 * callbacks land here; UDP datagrams into a small table of tracker
 * conversations.  Each direction of a TCP flow is a little state machine:
 *
 *   DETECT  the stream's first bytes are kept until they say what the
 *           flow is (peer wire, HTTP, MSE/PE, something else)
 *   SCAN    looking for a message boundary to trust: after a mid-stream
 *           start, a gap, a framing error, or an MSE/PE key exchange
 *   PEER    the framer (wire.h) cuts messages; each becomes an event
 *   SKIP    inside a message damaged by a gap whose end is known
 *   HTTP    tracker requests (client) or responses (server)
 *   DEAD    nothing more to decode; bytes are only counted
 *
 * Bytes held while detecting or scanning are bounded by cfg.max_scan per
 * direction and, with framer and HTTP buffers, by cfg.mem_budget overall. */
#include "decode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "ext.h"
#include "print.h"
#include "url.h"

enum { S_DETECT = 0, S_SCAN, S_PEER, S_SKIP, S_HTTP, S_DEAD };
enum { SCAN_MIDSTREAM = 1, SCAN_GAP, SCAN_ERROR, SCAN_MSE };
enum { H_HEAD = 0, H_BODY, H_CHUNK_SIZE, H_CHUNK_DATA, H_CHUNK_CRLF,
       H_TRAILER, H_EOF, H_SKIP, H_DEAD };
enum { RQ_ANNOUNCE = 0, RQ_SCRAPE, RQ_OTHER, RQ_HEAD };

#define MSE_MIN      96      /* a DH public key */
#define RQ_MAX       8       /* HTTP requests awaiting an answer */
#define PATH_MAX_KEPT 96

struct http {
	uint8_t *buf;
	size_t len, cap;
	int st;
	size_t head_len;
	uint64_t left;          /* body or chunk bytes still due */
	bool chunked, too_big, head_req;
	bool chunk_ext;         /* past the size digits of a chunk line */
	size_t line;            /* trailer: bytes of the current line */
	uint64_t t0;            /* timestamp of the message's first byte */
	size_t body_off;        /* where the body starts in buf */
	size_t body_len;        /* body bytes kept (de-chunked) */
	int status;
	size_t reason_off, reason_len, ce_off, ce_len;
};

struct ddir {
	int st;
	uint64_t off;           /* stream offset of the next byte */
	/* DETECT and SCAN: stream bytes [sbase, sbase + slen) */
	uint8_t *sbuf;
	size_t slen, scap, spos;
	uint64_t sbase;
	int scan_why;
	uint64_t scan_from;     /* where the scan began */
	/* PEER */
	struct bt_framer fr;
	uint8_t *fbuf;
	size_t fcap;
	uint64_t fbase;         /* stream offset of the framer's offset 0 */
	uint64_t skip_to;       /* SKIP */
	bool in_hs;             /* the framer expects a handshake */
	uint64_t frame_t0;      /* when the partial frame's first byte came */
	size_t hs_k0;           /* bytes of our handshake when the peer's came */
	bool ended;
	struct http *http;
	uint8_t *pbits;         /* piece indexes seen in piece messages */
	size_t pcap;
};

struct rq {
	uint8_t kind;
	char path[PATH_MAX_KEPT];
};

struct dflow {
	struct bt_dec_flow pub;
	struct ddir d[2];
	bool started, finished;
	bool rst_pending;
	int rst_dir;
	uint64_t syn_ts[2];     /* SYN, SYN-ACK */
	uint64_t rst_ts;
	struct rq rq[RQ_MAX];
	size_t rq_head, rq_n;
	char url[160];
};

/* ---- memory -------------------------------------------------------------- */

static void *mem_alloc(struct bt_dec *d, size_t n)
{
	void *p;

	if (n > d->cfg.mem_budget || d->mem > d->cfg.mem_budget - n)
		return NULL;
	p = malloc(n);
	if (!p)
		return NULL;
	d->mem += n;
	if (d->mem > d->st.mem_peak)
		d->st.mem_peak = d->mem;
	return p;
}

static void *mem_grow(struct bt_dec *d, void *p, size_t old, size_t n)
{
	void *q;

	if (n <= old)
		return p;
	if (n - old > d->cfg.mem_budget || d->mem > d->cfg.mem_budget - (n - old))
		return NULL;
	q = realloc(p, n);
	if (!q)
		return NULL;
	d->mem += n - old;
	if (d->mem > d->st.mem_peak)
		d->st.mem_peak = d->mem;
	return q;
}

static void mem_free(struct bt_dec *d, void *p, size_t n)
{
	if (!p)
		return;
	free(p);
	d->mem -= n;
}

/* ---- names ----------------------------------------------------------------- */

const char *bt_dec_count_name(int i)
{
	switch (i) {
	case BT_DEC_C_KEEPALIVE: return "keep-alive";
	case BT_DEC_C_UNKNOWN:   return "unknown";
	case BT_DEC_C_HANDSHAKE: return "handshake";
	case BT_DEC_C_MALFORMED: return "malformed";
	}
	if (i < 0 || i > 23)
		return NULL;
	if ((i >= 10 && i <= 12) || i == 18 || i == 19)
		return NULL;
	return bt_msg_name(i);
}

const char *bt_dec_kind_name(enum bt_dec_kind k)
{
	switch (k) {
	case BT_DEC_PENDING:      return "pending";
	case BT_DEC_PEER:         return "bittorrent";
	case BT_DEC_HTTP_TRACKER: return "http-tracker";
	case BT_DEC_UNDECODED:    return "undecoded";
	}
	return "?";
}

const char *bt_dec_trk_kind_name(int k)
{
	switch (k) {
	case BT_DEC_TRK_HTTP_REQ:          return "http-request";
	case BT_DEC_TRK_HTTP_RESP:         return "http-response";
	case BT_DEC_TRK_UDP_CONNECT:       return "udp-connect";
	case BT_DEC_TRK_UDP_CONNECTED:     return "udp-connect-response";
	case BT_DEC_TRK_UDP_ANNOUNCE:      return "udp-announce";
	case BT_DEC_TRK_UDP_ANNOUNCE_RESP: return "udp-announce-response";
	case BT_DEC_TRK_UDP_SCRAPE:        return "udp-scrape";
	case BT_DEC_TRK_UDP_SCRAPE_RESP:   return "udp-scrape-response";
	case BT_DEC_TRK_UDP_ERROR:         return "udp-error";
	case BT_DEC_TRK_UDP_OTHER:         return "udp-other";
	}
	return "?";
}

/* ---- detection ------------------------------------------------------------- */

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Does p[0..n) equal s[0..n) ignoring ASCII case? */
static bool ci_eq(const uint8_t *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != lower((uint8_t)s[i]))
			return false;
	return true;
}

#define PSTR_SEARCH 8  /* the protocol string may start this far in */

int bt_dec_sniff(const uint8_t *p, size_t n, bool final)
{
	size_t k, i;

	if (n == 0)
		return final ? 0 : BT_NEED_MORE;
	/* The right length byte and the string in any case. */
	if (p[0] == BT_PSTR_LEN) {
		k = n - 1 < BT_PSTR_LEN ? n - 1 : BT_PSTR_LEN;
		if (ci_eq(p + 1, BT_PSTR, k)) {
			if (k == BT_PSTR_LEN)
				return 1;
			if (!final)
				return BT_NEED_MORE;
			/* A handshake cut short: still the peer wire. */
			return k >= 4 ? 1 : 0;
		}
	}
	/* The string a little further in: a wrong length byte, the length
	 * after the string, a stray prefix. */
	for (i = 0; i <= PSTR_SEARCH && i < n; i++) {
		k = n - i < BT_PSTR_LEN ? n - i : BT_PSTR_LEN;
		if (ci_eq(p + i, BT_PSTR, k)) {
			if (k == BT_PSTR_LEN)
				return 1;
			if (!final)
				return BT_NEED_MORE;
		}
	}
	if (n < PSTR_SEARCH + BT_PSTR_LEN && !final)
		return BT_NEED_MORE;
	return 0;
}

/* Is there a plausible message at p[0..n)?  1 yes (*size its bytes),
 * 2 a keep-alive, 0 no, BT_NEED_MORE: its checked fields are cut off. */
static int msg_plausible(const uint8_t *p, size_t n, uint32_t max_len,
			 size_t *size)
{
	uint32_t len, a, b, c;
	size_t need = 5;
	bool ok;

	if (n < 4)
		return BT_NEED_MORE;
	len = bt_load_u32be(p);
	*size = 4 + (size_t)len;
	if (len == 0)
		return 2;
	if (len > max_len)
		return 0;
	if (n < 5)
		return BT_NEED_MORE;
	switch (p[4]) {
	case 4: case 13: case 17:
	case 6: case 8: case 16:
		need = p[4] == 6 || p[4] == 8 || p[4] == 16 ? 17 : 9;
		break;
	case 7:
		need = 13;
		break;
	case 20:
		need = 7;
		break;
	}
	if (n < need && (size_t)len + 4 >= need)
		return BT_NEED_MORE;
	switch (p[4]) {
	case 0: case 1: case 2: case 3: case 14: case 15:
		ok = len == 1;
		break;
	case 4: case 13: case 17:
		ok = len == 5 && bt_load_u32be(p + 5) < (1u << 24);
		break;
	case 5:
		ok = len >= 2 && len - 1 <= (1u << 21);
		break;
	case 6: case 8: case 16:
		if (len != 13)
			return 0;
		a = bt_load_u32be(p + 5);
		b = bt_load_u32be(p + 9);
		c = bt_load_u32be(p + 13);
		ok = a < (1u << 24) && b < (1u << 27) && c >= 1 && c <= (1u << 17);
		break;
	case 7:
		if (len < 10)
			return 0;
		ok = bt_load_u32be(p + 5) < (1u << 24) &&
		     bt_load_u32be(p + 9) < (1u << 27);
		break;
	case 9:
		ok = len == 3;
		break;
	case 20:
		ok = len >= 2 && (p[5] != 0 || (len >= 3 && p[6] == 'd'));
		break;
	case 21: case 23:
		ok = len == 49;
		break;
	case 22:
		ok = len >= 49 && (len - 49) % 32 == 0;
		break;
	default:
		ok = false;
	}
	return ok ? 1 : 0;
}

/* A run of messages from s: 1 plausible, 0 not, BT_NEED_MORE undecided. */
static int chain_at(const uint8_t *p, size_t n, size_t s, unsigned min,
		    uint32_t max_len, bool final)
{
	unsigned good = 0, ka = 0;
	uint64_t covered = 0;
	size_t at = s, sz = 0;
	int r;

	for (;;) {
		if (at == n) {
			if (final)
				return good >= 1 ? 1 : 0;
			return BT_NEED_MORE;
		}
		r = msg_plausible(p + at, n - at, max_len, &sz);
		if (r == 0)
			return 0;
		if (r == BT_NEED_MORE)
			return final ? 0 : BT_NEED_MORE;
		if (r == 2) {
			if (++ka > 4)
				return 0;
			at += 4;
			continue;
		}
		good++;
		covered += sz;
		if (good >= min || (good >= 2 && covered >= 32768))
			return 1;
		if (n - at < sz)
			return final ? 0 : BT_NEED_MORE;
		at += sz;
	}
}

long bt_dec_boundary(const uint8_t *p, size_t n, size_t from, unsigned min,
		     uint32_t max_len, bool final, size_t *undecided)
{
	size_t s;
	int r;

	if (!min)
		min = 3;
	if (!max_len)
		max_len = BT_FRAMER_DEFAULT_MAX;
	for (s = from; s < n; s++) {
		/* Fast reject: a length prefix over the cap. */
		if (n - s >= 4 && p[s] != 0 && ((uint32_t)p[s] << 24) > max_len)
			continue;
		r = chain_at(p, n, s, min, max_len, final);
		if (r == 1)
			return (long)s;
		if (r == BT_NEED_MORE) {
			if (undecided)
				*undecided = s;
			return BT_NEED_MORE;
		}
	}
	return BT_EINVAL;
}

/* Where "\x13BitTorrent protocol" starts in p[from..n), or -1. */
static long find_hs(const uint8_t *p, size_t n, size_t from)
{
	static const uint8_t hs[20] = "\x13" BT_PSTR;
	const uint8_t *q;

	if (from >= n)
		return -1;
	q = memmem(p + from, n - from, hs, sizeof hs);
	return q ? (long)(q - p) : -1;
}

/* 96 bytes that look like a DH public key: many distinct values, not
 * mostly printable text. */
static bool looks_random(const uint8_t *p, size_t n)
{
	uint8_t seen[256] = { 0 };
	size_t distinct = 0, printable = 0, i;

	for (i = 0; i < n; i++) {
		if (!seen[p[i]]++)
			distinct++;
		if ((p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\r' || p[i] == '\n')
			printable++;
	}
	return distinct >= n / 2 && printable < n * 9 / 10;
}

static bool is_http_start(const uint8_t *p, size_t n, bool *resp, bool *more)
{
	static const char *const m[] = { "GET ", "POST ", "HEAD ", "HTTP/1.", NULL };
	size_t i, k;

	*more = false;
	for (i = 0; m[i]; i++) {
		size_t l = strlen(m[i]);
		k = n < l ? n : l;
		if (memcmp(p, m[i], k) == 0) {
			if (k < l) {
				*more = true;
				continue;
			}
			*resp = i == 3;
			return true;
		}
	}
	return false;
}

/* ---- flows: events ---------------------------------------------------------- */

static bool forced_port(const struct bt_dec *d, uint16_t port)
{
	for (size_t i = 0; i < d->cfg.nforce; i++)
		if (d->cfg.force_port[i] == port)
			return true;
	return false;
}

static void emit(struct bt_dec *d, struct dflow *fl, int dir,
		 struct bt_event *ev, uint64_t ts);

static void set_kind(struct bt_dec *d, struct dflow *fl, enum bt_dec_kind k,
		     const char *reason)
{
	if (fl->pub.kind == BT_DEC_PEER || fl->pub.kind == BT_DEC_HTTP_TRACKER)
		return;
	fl->pub.kind = k;
	fl->pub.reason = reason;
	if ((k == BT_DEC_PEER || k == BT_DEC_HTTP_TRACKER) && !fl->started) {
		fl->started = true;
		if (d->cb.flow_start)
			d->cb.flow_start(d->ctx, &fl->pub);
		/* The connection's opening, as a live connection reports it. */
		if (k == BT_DEC_PEER && fl->syn_ts[0]) {
			struct bt_event ev;

			memset(&ev, 0, sizeof ev);
			ev.kind = BT_EV_CONNECTING;
			emit(d, fl, BT_DIR_OUT, &ev, fl->syn_ts[0]);
			if (fl->syn_ts[1]) {
				ev.kind = BT_EV_CONNECTED;
				emit(d, fl, BT_DIR_OUT, &ev, fl->syn_ts[1]);
			}
		}
	}
}

static void emit(struct bt_dec *d, struct dflow *fl, int dir,
		 struct bt_event *ev, uint64_t ts)
{
	if (fl->pub.kind != BT_DEC_PEER)
		return;
	ev->dir = (enum bt_dir)dir;
	ev->t_us = ts > fl->pub.first_us ? ts - fl->pub.first_us : 0;
	d->st.events++;
	if (d->cb.event)
		d->cb.event(d->ctx, &fl->pub, ev, ts);
}

__attribute__((format(printf, 6, 7)))
static void note(struct bt_dec *d, struct dflow *fl, int dir, uint64_t off,
		 uint64_t ts, const char *fmt, ...)
{
	struct bt_event ev;
	va_list ap;

	memset(&ev, 0, sizeof ev);
	va_start(ap, fmt);
	vsnprintf(d->why, sizeof d->why, fmt, ap);
	va_end(ap);
	ev.kind = BT_EV_NOTE;
	ev.stream_off = off;
	ev.why = d->why;
	emit(d, fl, dir, &ev, ts);
}

/* ---- peer wire ------------------------------------------------------------ */

static void count_piece(struct bt_dec *d, struct dflow *fl, int dir,
			uint32_t index)
{
	struct ddir *s = &fl->d[dir];
	struct bt_dec_dirsum *sm = &fl->pub.d[dir];
	size_t byte = index / 8;

	if (index >= BT_DEC_MAX_PIECEIDX) {
		sm->pieces_untracked++;
		return;
	}
	if (byte >= s->pcap) {
		size_t cap = s->pcap ? s->pcap : 64;
		uint8_t *nb;

		while (cap <= byte)
			cap *= 2;
		nb = mem_grow(d, s->pbits, s->pcap, cap);
		if (!nb) {
			sm->pieces_untracked++;
			return;
		}
		memset(nb + s->pcap, 0, cap - s->pcap);
		s->pbits = nb;
		s->pcap = cap;
	}
	if (!(s->pbits[byte] & (1u << (index % 8)))) {
		s->pbits[byte] |= (uint8_t)(1u << (index % 8));
		sm->pieces++;
	}
}

static void count_id(struct bt_dec *d, struct bt_dec_dirsum *sm, int id)
{
	int i;

	if (id < 0)
		i = BT_DEC_C_KEEPALIVE;
	else if (bt_dec_count_name(id) && id <= 23)
		i = id;
	else
		i = BT_DEC_C_UNKNOWN;
	sm->count[i]++;
	d->st.count[i]++;
}

static void chokes(struct dflow *fl, int dir, bool choke, uint64_t ts)
{
	if (fl->pub.nchokes < BT_DEC_MAX_CHOKES) {
		struct bt_dec_choke *c = &fl->pub.chokes[fl->pub.nchokes++];
		c->ts_us = ts;
		c->dir = (uint8_t)dir;
		c->choke = choke;
	} else {
		fl->pub.chokes_more++;
	}
}

static void on_frame(struct bt_dec *d, struct dflow *fl, int dir,
		     const struct bt_frame *fr, uint64_t ts)
{
	struct ddir *s = &fl->d[dir];
	struct bt_dec_dirsum *sm = &fl->pub.d[dir];
	struct bt_event ev;
	struct bt_msg m;

	memset(&ev, 0, sizeof ev);
	ev.stream_off = s->fbase + fr->offset;
	ev.raw = fr->p;
	ev.raw_len = fr->len;
	sm->msgs++;
	d->st.msgs++;
	s->in_hs = false;
	if (fr->kind == BT_FRAME_HANDSHAKE) {
		ev.kind = BT_EV_HANDSHAKE;
		ev.hs = &fr->hs;
		if (!sm->hs) {
			sm->hs = true;
			sm->hs_problems = fr->hs.problems;
			memcpy(sm->reserved, fr->hs.reserved, 8);
			memcpy(sm->info_hash, fr->hs.info_hash, 20);
			memcpy(sm->peer_id, fr->hs.peer_id, 20);
			sm->t_hs = ts;
		}
		sm->count[BT_DEC_C_HANDSHAKE]++;
		d->st.count[BT_DEC_C_HANDSHAKE]++;
		/* The other side still owes bytes of its handshake: remember
		 * how many it had sent when this one answered (a peer answers
		 * once it has the info-hash: a short handshake shows here). */
		{
			struct ddir *o = &fl->d[!dir];
			size_t need, have;

			if (o->st == S_PEER && o->in_hs) {
				have = bt_framer_partial(&o->fr, &need);
				if (have >= 48 && need > have)
					o->hs_k0 = have;
			}
		}
		emit(d, fl, dir, &ev, ts);
		return;
	}
	int rc = bt_msg_parse(fr->p, fr->len, &m);
	ev.msg = &m;
	count_id(d, sm, m.id);
	if (rc != BT_OK) {
		ev.kind = BT_EV_MALFORMED;
		ev.err = rc;
		ev.why = m.bad;
		sm->count[BT_DEC_C_MALFORMED]++;
		d->st.count[BT_DEC_C_MALFORMED]++;
		emit(d, fl, dir, &ev, ts);
		return;
	}
	ev.kind = BT_EV_MSG;
	switch (m.kind) {
	case BT_MSG_PIECE:
		sm->piece_bytes += m.u.piece.len;
		count_piece(d, fl, dir, m.u.piece.index);
		if (!sm->t_first_piece)
			sm->t_first_piece = ts;
		break;
	case BT_MSG_CHOKE:
		chokes(fl, dir, true, ts);
		break;
	case BT_MSG_UNCHOKE:
		chokes(fl, dir, false, ts);
		break;
	case BT_MSG_EXTENDED:
		if (m.u.ext.id == 0 && !sm->ext) {
			struct bt_ext_hs h;
			struct bt_be_err e;

			if (bt_ext_hs_parse(&h, m.u.ext.payload, m.u.ext.len, &e) == BT_OK) {
				sm->ext = true;
				if (h.have & BT_EXT_HAVE_V) {
					sm->v_len = h.v.len < BT_DEC_V_MAX ? h.v.len : BT_DEC_V_MAX;
					memcpy(sm->v, h.v.p, sm->v_len);
				}
			}
		}
		break;
	default:
		break;
	}
	emit(d, fl, dir, &ev, ts);
}


/* ---- direction states ------------------------------------------------------- */

static void drive(struct bt_dec *d, struct dflow *fl, int dir,
		  const uint8_t *p, size_t n, uint64_t ts, bool kick, bool final);

static void scan_reset(struct bt_dec *d, struct ddir *s)
{
	mem_free(d, s->sbuf, s->scap);
	s->sbuf = NULL;
	s->slen = s->scap = s->spos = 0;
}

/* Bytes not decoded: key exchange for MSE scans, skipped otherwise. */
static void account(struct dflow *fl, int dir, uint64_t n)
{
	struct ddir *s = &fl->d[dir];

	if (s->scan_why == SCAN_MSE)
		fl->pub.d[dir].enc_bytes += n;
	else
		fl->pub.d[dir].skipped += n;
}

static void undecodable(struct bt_dec *d, struct dflow *fl, int dir,
			const char *reason)
{
	struct ddir *s = &fl->d[dir];

	if (s->st == S_DETECT || s->st == S_SCAN)
		account(fl, dir, s->slen);
	scan_reset(d, s);
	s->st = S_DEAD;
	if (fl->pub.kind == BT_DEC_PENDING ||
	    (fl->pub.kind == BT_DEC_UNDECODED && !fl->pub.reason))
		fl->pub.kind = BT_DEC_UNDECODED, fl->pub.reason = reason;
}

/* Start the framer at stream offset at.  false if out of memory. */
static bool peer_start(struct bt_dec *d, struct dflow *fl, int dir,
		       uint64_t at, bool handshake)
{
	struct ddir *s = &fl->d[dir];

	if (!s->fbuf) {
		size_t cap = BT_FRAMER_BUF_LEN(d->cfg.max_msg_len);

		s->fbuf = mem_alloc(d, cap);
		if (!s->fbuf) {
			d->st.mem_refused++;
			undecodable(d, fl, dir, "memory cap (too many flows at once)");
			return false;
		}
		s->fcap = cap;
	}
	bt_framer_init(&s->fr, s->fbuf, s->fcap, d->cfg.max_msg_len, handshake);
	s->in_hs = handshake;
	s->fbase = at;
	s->off = at;
	s->st = S_PEER;
	set_kind(d, fl, BT_DEC_PEER, NULL);
	return true;
}

static void scan_start(struct bt_dec *d, struct dflow *fl, int dir,
		       uint64_t at, int why)
{
	struct ddir *s = &fl->d[dir];

	scan_reset(d, s);
	s->st = S_SCAN;
	s->scan_why = why;
	s->sbase = s->scan_from = s->off = at;
}

/* Append to the scan buffer.  false: no memory (direction given up). */
static bool scan_append(struct bt_dec *d, struct dflow *fl, int dir,
			const uint8_t *p, size_t n)
{
	struct ddir *s = &fl->d[dir];

	if (s->slen + n > s->scap) {
		size_t cap = s->scap ? s->scap : 512;
		uint8_t *nb;

		while (cap < s->slen + n)
			cap *= 2;
		nb = mem_grow(d, s->sbuf, s->scap, cap);
		if (!nb) {
			d->st.mem_refused++;
			account(fl, dir, n);
			undecodable(d, fl, dir, "memory cap (too many flows at once)");
			return false;
		}
		s->sbuf = nb;
		s->scap = cap;
	}
	memcpy(s->sbuf + s->slen, p, n);
	s->slen += n;
	s->off += n;
	return true;
}

/* Drop the first k bytes of the scan buffer (counted as not decoded). */
static void scan_drop(struct dflow *fl, int dir, size_t k)
{
	struct ddir *s = &fl->d[dir];

	if (!k)
		return;
	account(fl, dir, k);
	memmove(s->sbuf, s->sbuf + k, s->slen - k);
	s->slen -= k;
	s->sbase += k;
	s->spos = s->spos > k ? s->spos - k : 0;
}

enum { C_NEED, C_HS, C_MSGS, C_HTTP_REQ, C_HTTP_RESP, C_MSE, C_MID, C_NOT };

static bool peer_side(const struct dflow *fl, int dir)
{
	int st = fl->d[dir].st;

	return st == S_PEER || st == S_SKIP ||
	       (st == S_SCAN && fl->d[dir].scan_why != SCAN_MSE &&
		fl->d[dir].scan_why != SCAN_MIDSTREAM);
}

static int classify(struct dflow *fl, int dir, bool final)
{
	struct ddir *s = &fl->d[dir], *o = &fl->d[!dir];
	const uint8_t *b = s->sbuf;
	size_t n = s->slen;
	bool resp, more;
	int sn;

	if (n == 0)
		return final ? C_NOT : C_NEED;
	if (is_http_start(b, n, &resp, &more))
		return resp ? C_HTTP_RESP : C_HTTP_REQ;
	if (more && !final)
		return C_NEED;
	if (fl->pub.d[dir].midstream)
		return C_MID;
	sn = bt_dec_sniff(b, n, final);
	if (sn == 1)
		return C_HS;
	if (peer_side(fl, !dir) || fl->pub.forced)
		return b[0] == 0 ? C_MSGS : C_HS;
	if (sn == BT_NEED_MORE)
		return C_NEED;
	if (n >= 3 && b[0] == 0x16 && b[1] == 0x03 && b[2] <= 0x04)
		return C_NOT;           /* a TLS handshake record */
	if (fl->pub.d[!dir].mse && !fl->pub.d[!dir].plain_after_mse)
		return C_MSE;
	if (n >= MSE_MIN)
		return looks_random(b, MSE_MIN) ? C_MSE : C_NOT;
	if (final)
		return C_NOT;
	/* Short and unclear: the other side's first bytes may settle it. */
	if (o->st == S_DETECT && !o->ended && n < 4096)
		return C_NEED;
	return C_NOT;
}

struct taken {
	uint8_t *buf;
	size_t cap, off, len;
};

/* Hand the scan buffer from offset b on to the caller, who feeds it to
 * the direction's new state and frees it. */
static void take(struct ddir *s, size_t b, struct taken *t)
{
	t->buf = s->sbuf;
	t->cap = s->scap;
	t->off = b;
	t->len = s->slen;
	s->off = s->sbase + b;
	s->sbuf = NULL;
	s->slen = s->scap = s->spos = 0;
}

static bool http_start(struct bt_dec *d, struct dflow *fl, int dir);

/* A boundary was found at scan-buffer offset b. */
static bool scan_found(struct bt_dec *d, struct dflow *fl, int dir, size_t b,
		       bool handshake, uint64_t ts, struct taken *t)
{
	struct ddir *s = &fl->d[dir];
	struct bt_dec_dirsum *sm = &fl->pub.d[dir];
	uint64_t at = s->sbase + b, lost = at - s->scan_from;
	int why = s->scan_why;

	account(fl, dir, b);
	if (!peer_start(d, fl, dir, at, handshake))
		return false;
	if (why == SCAN_MSE) {
		struct bt_event ev;

		sm->plain_after_mse = true;
		memset(&ev, 0, sizeof ev);
		ev.kind = BT_EV_ENCRYPTED;
		ev.stream_off = s->scan_from;
		snprintf(d->why, sizeof d->why,
			 "MSE/PE key exchange, %" PRIu64 " bytes%s; plaintext "
			 "selected: peer wire from offset %" PRIu64, lost,
			 handshake ? "" : " (the handshake went encrypted, in it)", at);
		ev.why = d->why;
		emit(d, fl, dir, &ev, ts);
	} else if (why == SCAN_MIDSTREAM) {
		note(d, fl, dir, at, ts, "capture starts mid-stream: %" PRIu64
		     " bytes before the first message boundary at offset %"
		     PRIu64 " not decoded", lost, at);
	} else if (lost) {
		note(d, fl, dir, at, ts, "resynchronised at offset %" PRIu64
		     ": %" PRIu64 " bytes skipped", at, lost);
	}
	take(s, b, t);
	return true;
}

/* Give up scanning a direction that never showed a boundary. */
static void scan_give_up(struct bt_dec *d, struct dflow *fl, int dir,
			 uint64_t ts)
{
	struct ddir *s = &fl->d[dir];
	uint64_t seen = s->sbase + s->slen - s->scan_from;

	if (s->scan_why == SCAN_MSE) {
		struct bt_event ev;

		memset(&ev, 0, sizeof ev);
		ev.kind = BT_EV_ENCRYPTED;
		ev.stream_off = s->scan_from;
		snprintf(d->why, sizeof d->why,
			 "MSE/PE: %" PRIu64 " bytes and no plaintext peer wire "
			 "in them (RC4, or a handshake inside the encrypted "
			 "initial payload)", seen);
		ev.why = d->why;
		emit(d, fl, dir, &ev, ts);
		undecodable(d, fl, dir, "encrypted (MSE/PE)");
	} else if (s->scan_why == SCAN_MIDSTREAM) {
		undecodable(d, fl, dir,
			    "started mid-stream: no message boundary found");
	} else {
		undecodable(d, fl, dir, "no message boundary found after a gap");
	}
}

/* Decide what the buffered bytes are.  true: decided, the rest to feed
 * is in *t (the state has changed).  false: still undecided, or given up
 * (state DEAD). */
static bool scan_eval(struct bt_dec *d, struct dflow *fl, int dir, bool final,
		      uint64_t ts, struct taken *t)
{
	struct ddir *s = &fl->d[dir];
	unsigned min = fl->pub.forced ? 2 : 3;
	size_t und = 0;
	long r, h;

	if (s->st == S_DETECT) {
		switch (classify(fl, dir, final)) {
		case C_NEED:
			return false;
		case C_HS:
		case C_MSGS:
			/* A stream from its start: a handshake is due, and a
			 * first byte 0 is reported as its absence, then the
			 * messages are decoded anyway (see peer_input). */
			if (!peer_start(d, fl, dir, s->sbase, true))
				return false;
			take(s, 0, t);
			return true;
		case C_HTTP_REQ:
		case C_HTTP_RESP:
			if (!http_start(d, fl, dir))
				return false;
			take(s, 0, t);
			return true;
		case C_MSE:
			fl->pub.d[dir].mse = true;
			s->st = S_SCAN;
			s->scan_why = SCAN_MSE;
			s->scan_from = s->sbase;
			s->spos = MSE_MIN < s->slen ? MSE_MIN : s->slen;
			break;
		case C_MID:
			s->st = S_SCAN;
			s->scan_why = SCAN_MIDSTREAM;
			s->scan_from = s->sbase;
			s->spos = 0;
			break;
		default:
			undecodable(d, fl, dir, s->slen >= 3 && s->sbuf[0] == 0x16 &&
				    s->sbuf[1] == 0x03 ? "not BitTorrent (TLS)" :
				    "not BitTorrent");
			return false;
		}
	}
	for (;;) {
		/* A plain handshake ends any scan but a gap's (it cannot be
		 * in the middle of a conversation). */
		h = -1;
		if (s->scan_why == SCAN_MSE || s->scan_why == SCAN_MIDSTREAM)
			h = find_hs(s->sbuf, s->slen, s->scan_why == SCAN_MSE &&
				    s->sbase == s->scan_from ? MSE_MIN : 0);
		if (h >= 0)
			return scan_found(d, fl, dir, (size_t)h, true, ts, t);
		r = bt_dec_boundary(s->sbuf, s->slen, s->spos, min,
				    d->cfg.max_msg_len, final, &und);
		if (r >= 0)   /* (for MSE, spos began past the key) */
			return scan_found(d, fl, dir, (size_t)r, false, ts, t);
		if (r == BT_NEED_MORE) {
			s->spos = und;
		} else {
			s->spos = s->slen;
		}
		/* Keep 19 bytes for a handshake straddling the end, and the
		 * MSE key itself until the first boundary is past it. */
		{
			size_t keep_from = s->spos;

			if (s->slen - keep_from < BT_PSTR_LEN)
				keep_from = s->slen > BT_PSTR_LEN ? s->slen - BT_PSTR_LEN : 0;
			if (keep_from > s->spos)
				keep_from = s->spos;
			if (s->scan_why == SCAN_MSE && s->sbase == s->scan_from &&
			    keep_from < MSE_MIN)
				keep_from = 0;
			scan_drop(fl, dir, keep_from);
		}
		if (final) {
			if (r == BT_NEED_MORE && s->spos < s->slen) {
				s->spos++;  /* cannot happen with final; be safe */
				continue;
			}
			scan_give_up(d, fl, dir, ts);
			return false;
		}
		if (s->sbase + s->slen - s->scan_from > d->cfg.max_scan &&
		    s->scan_why != SCAN_GAP && s->scan_why != SCAN_ERROR &&
		    !(s->scan_why == SCAN_MIDSTREAM && peer_side(fl, !dir))) {
			scan_give_up(d, fl, dir, ts);
			return false;
		}
		if (s->slen > d->cfg.max_scan) {
			/* An undecided candidate whose messages need more than
			 * max_scan bytes: not one to trust. */
			s->spos = und + 1;
			continue;
		}
		return false;
	}
}

static size_t skip_input(struct bt_dec *d, struct dflow *fl, int dir,
			 const uint8_t *p, size_t n)
{
	struct ddir *s = &fl->d[dir];
	uint64_t left = s->skip_to - s->off;

	(void)p;
	if (n < left) {
		s->off += n;
		fl->pub.d[dir].skipped += n;
		return n;
	}
	s->off += left;
	fl->pub.d[dir].skipped += left;
	peer_start(d, fl, dir, s->skip_to, false);
	return (size_t)left;
}

static void partial_hs(struct bt_handshake *hs, const uint8_t *raw, size_t n);
static size_t peer_input(struct bt_dec *d, struct dflow *fl, int dir,
			 const uint8_t *p, size_t n, uint64_t ts);

/* A handshake frame completed with bytes sent after the other side had
 * already answered k0 of them.  If a message starts at byte k0 and none
 * at the frame's end, the handshake was k0 bytes long (a short peer id):
 * report it so and decode the rest as messages.  next: the bytes after
 * the frame so far.  true if handled. */
static bool short_hs(struct bt_dec *d, struct dflow *fl, int dir,
		     const struct bt_frame *fr, const uint8_t *next, size_t nn,
		     uint64_t ts)
{
	struct ddir *s = &fl->d[dir];
	struct bt_dec_dirsum *sm = &fl->pub.d[dir];
	size_t k0 = s->hs_k0, sz, tl, nt;
	uint8_t tail[BT_HS_MAX_LEN + 32];
	struct bt_handshake hs;
	struct bt_event ev;
	uint64_t start = s->fbase + fr->offset;

	s->hs_k0 = 0;
	if (k0 < 48 || k0 >= fr->len)
		return false;
	tl = fr->len - k0;
	memcpy(tail, fr->p + k0, tl);
	nt = nn < 32 ? nn : 32;
	memcpy(tail + tl, next, nt);
	if (msg_plausible(tail, tl + nt, d->cfg.max_msg_len, &sz) != 1)
		return false;
	if (nn && msg_plausible(next, nn, d->cfg.max_msg_len, &sz) == 1)
		return false;
	partial_hs(&hs, fr->p, k0);
	memset(&ev, 0, sizeof ev);
	ev.kind = BT_EV_HANDSHAKE;
	ev.hs = &hs;
	ev.raw = fr->p;
	ev.raw_len = k0;
	ev.stream_off = start;
	snprintf(d->why, sizeof d->why, "%zu bytes: the peer answered them, and "
		 "a message starts at byte %zu, not %zu", k0, k0, fr->len);
	ev.why = d->why;
	if (!sm->hs) {
		sm->hs = true;
		sm->hs_problems = hs.problems;
		memcpy(sm->reserved, hs.reserved, 8);
		memcpy(sm->info_hash, hs.info_hash, 20);
		memcpy(sm->peer_id, hs.peer_id, 20);
		sm->t_hs = s->frame_t0;
	}
	sm->msgs++;
	sm->count[BT_DEC_C_HANDSHAKE]++;
	d->st.count[BT_DEC_C_HANDSHAKE]++;
	d->st.msgs++;
	s->in_hs = false;
	emit(d, fl, dir, &ev, s->frame_t0);
	/* The frame's last bytes start the messages. */
	peer_start(d, fl, dir, start + k0, false);
	peer_input(d, fl, dir, tail, tl, ts);
	return true;
}

/* Feed stream bytes to the framer; returns bytes used (all of them
 * unless the state changed). */
static size_t peer_input(struct bt_dec *d, struct dflow *fl, int dir,
			 const uint8_t *p, size_t n, uint64_t ts)
{
	struct ddir *s = &fl->d[dir];
	struct bt_dec_dirsum *sm = &fl->pub.d[dir];
	size_t used = 0;

	while (used < n && s->st == S_PEER) {
		struct bt_frame fr;
		size_t have_before = bt_framer_partial(&s->fr, NULL);
		long r = bt_framer_feed(&s->fr, p + used, n - used, &fr);

		if (r >= 0) {
			used += (size_t)r;
			s->off += (uint64_t)r;
			if (fr.kind == BT_FRAME_HANDSHAKE && s->hs_k0 &&
			    short_hs(d, fl, dir, &fr, p + used, n - used, ts))
				continue;
			if (fr.kind != BT_FRAME_NONE)
				on_frame(d, fl, dir, &fr, ts);
			else if (!have_before)
				s->frame_t0 = ts;
			continue;
		}
		/* The framer consumed nothing it reports: the bad frame
		 * starts at at = off - have_before. */
		struct bt_event ev;
		uint64_t at = s->off - have_before;

		memset(&ev, 0, sizeof ev);
		ev.kind = BT_EV_MALFORMED;
		ev.err = (int)r;
		ev.stream_off = at;
		ev.declared_len = fr.declared_len;
		ev.why = fr.why;
		sm->count[BT_DEC_C_MALFORMED]++;
		d->st.count[BT_DEC_C_MALFORMED]++;
		sm->msgs++;
		emit(d, fl, dir, &ev, ts);
		if (r == BT_EINVAL && have_before == 0) {
			/* Length byte 0 where a handshake belongs: messages
			 * sent without one.  Decode them as such. */
			bt_framer_init(&s->fr, s->fbuf, s->fcap,
				       d->cfg.max_msg_len, false);
			s->in_hs = false;
			s->fbase = at;
			continue;
		}
		/* A length over the cap: we are not where we thought.
		 * Rescan from the byte after the bad frame's first. */
		{
			uint8_t keep[4];
			size_t nk = have_before > 1 ? have_before - 1 : 0;

			if (nk > sizeof keep)
				nk = sizeof keep;
			memcpy(keep, s->fbuf + 1, nk);
			scan_start(d, fl, dir, at + 1, SCAN_ERROR);
			fl->pub.d[dir].skipped += 1;
			if (have_before == 0) {
				used++;          /* the bad frame's first byte */
			} else if (nk) {
				/* Its other buffered bytes go to the scan;
				 * off already counts them. */
				s->off = at + 1;
				if (!scan_append(d, fl, dir, keep, nk))
					return used;
			}
		}
	}
	return used;
}

/* ---- inflate (RFC 1951), for gzip and deflate bodies ---------------------- *
 *
 * A small decoder in the manner of zlib's contrib/puff: canonical Huffman
 * codes decoded a bit at a time (tracker bodies are a few KiB), every read
 * checked against the input's end, every write against the output cap,
 * every distance against what has been written. */

struct infl {
	const uint8_t *in;
	size_t n, pos;
	uint32_t bits;
	unsigned nbits;
	uint8_t *out;
	size_t cap, len;
	const char *why;
};

struct huff {
	short count[16];
	short sym[320];
};

/* need bits from the input; -1 if it ends first */
static int getbits(struct infl *z, unsigned need)
{
	uint32_t v;

	while (z->nbits < need) {
		if (z->pos >= z->n) {
			z->why = "compressed body ends early";
			return -1;
		}
		z->bits |= (uint32_t)z->in[z->pos++] << z->nbits;
		z->nbits += 8;
	}
	v = z->bits & ((1u << need) - 1);
	z->bits >>= need;
	z->nbits -= need;
	return (int)v;
}

static int hdecode(struct infl *z, const struct huff *h)
{
	int code = 0, first = 0, index = 0;

	for (int len = 1; len < 16; len++) {
		int b = getbits(z, 1);

		if (b < 0)
			return -1;
		code |= b;
		if (code - h->count[len] < first)
			return h->sym[index + (code - first)];
		index += h->count[len];
		first = (first + h->count[len]) << 1;
		code <<= 1;
	}
	z->why = "bad Huffman code";
	return -1;
}

/* Build a decoding table; false if the lengths over-subscribe the code. */
static bool hbuild(struct huff *h, const short *lens, int n)
{
	short offs[16];
	int left = 1;

	memset(h->count, 0, sizeof h->count);
	for (int i = 0; i < n; i++)
		h->count[lens[i]]++;
	if (h->count[0] == n)
		return true;          /* no codes: only an error if used */
	for (int len = 1; len < 16; len++) {
		left <<= 1;
		left -= h->count[len];
		if (left < 0)
			return false;
	}
	offs[1] = 0;
	for (int len = 1; len < 15; len++)
		offs[len + 1] = (short)(offs[len] + h->count[len]);
	for (int i = 0; i < n; i++)
		if (lens[i])
			h->sym[offs[lens[i]]++] = (short)i;
	return true;
}

static int codes(struct infl *z, const struct huff *lc, const struct huff *dc)
{
	static const short lbase[29] = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17,
		19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258 };
	static const short lext[29] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2,
		2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 };
	static const short dbase[30] = { 1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49,
		65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
		6145, 8193, 12289, 16385, 24577 };
	static const short dext[30] = { 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5,
		6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 };

	for (;;) {
		int sym = hdecode(z, lc), e;
		size_t len, dist;

		if (sym < 0)
			return -1;
		if (sym < 256) {
			if (z->len >= z->cap) {
				z->why = "decompressed body over the cap";
				return -2;
			}
			z->out[z->len++] = (uint8_t)sym;
			continue;
		}
		if (sym == 256)
			return 0;
		sym -= 257;
		if (sym >= 29) {
			z->why = "bad length code";
			return -1;
		}
		if ((e = getbits(z, (unsigned)lext[sym])) < 0)
			return -1;
		len = (size_t)(lbase[sym] + e);
		if ((sym = hdecode(z, dc)) < 0)
			return -1;
		if (sym >= 30) {
			z->why = "bad distance code";
			return -1;
		}
		if ((e = getbits(z, (unsigned)dext[sym])) < 0)
			return -1;
		dist = (size_t)(dbase[sym] + e);
		if (dist > z->len) {
			z->why = "distance before the start of the body";
			return -1;
		}
		if (len > z->cap - z->len) {
			z->why = "decompressed body over the cap";
			return -2;
		}
		for (size_t i = 0; i < len; i++, z->len++)
			z->out[z->len] = z->out[z->len - dist];
	}
}

static int block_fixed(struct infl *z)
{
	struct huff lc, dc;
	short l[288];
	int i;

	for (i = 0; i < 144; i++)
		l[i] = 8;
	for (; i < 256; i++)
		l[i] = 9;
	for (; i < 280; i++)
		l[i] = 7;
	for (; i < 288; i++)
		l[i] = 8;
	hbuild(&lc, l, 288);
	for (i = 0; i < 30; i++)
		l[i] = 5;
	hbuild(&dc, l, 30);
	return codes(z, &lc, &dc);
}

static int block_dynamic(struct infl *z)
{
	static const short order[19] = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11,
		4, 12, 3, 13, 2, 14, 1, 15 };
	struct huff lc, dc, cl;
	short l[320];
	int nlen, ndist, ncode, i, sym, rep, v;

	if ((nlen = getbits(z, 5)) < 0 || (ndist = getbits(z, 5)) < 0 ||
	    (ncode = getbits(z, 4)) < 0)
		return -1;
	nlen += 257;
	ndist += 1;
	ncode += 4;
	if (nlen > 286 || ndist > 30) {
		z->why = "bad code counts";
		return -1;
	}
	for (i = 0; i < 19; i++)
		l[order[i]] = 0;
	for (i = 0; i < ncode; i++) {
		if ((v = getbits(z, 3)) < 0)
			return -1;
		l[order[i]] = (short)v;
	}
	if (!hbuild(&cl, l, 19)) {
		z->why = "bad code-length code";
		return -1;
	}
	for (i = 0; i < nlen + ndist;) {
		if ((sym = hdecode(z, &cl)) < 0)
			return -1;
		if (sym < 16) {
			l[i++] = (short)sym;
			continue;
		}
		if (sym == 16) {
			if (i == 0) {
				z->why = "repeat with no previous length";
				return -1;
			}
			v = l[i - 1];
			if ((rep = getbits(z, 2)) < 0)
				return -1;
			rep += 3;
		} else {
			v = 0;
			if ((rep = getbits(z, sym == 17 ? 3 : 7)) < 0)
				return -1;
			rep += sym == 17 ? 3 : 11;
		}
		if (i + rep > nlen + ndist) {
			z->why = "too many code lengths";
			return -1;
		}
		while (rep--)
			l[i++] = (short)v;
	}
	if (l[256] == 0) {
		z->why = "no end-of-block code";
		return -1;
	}
	if (!hbuild(&lc, l, nlen) || !hbuild(&dc, l + nlen, ndist)) {
		z->why = "bad literal/length or distance code";
		return -1;
	}
	return codes(z, &lc, &dc);
}

/* A raw deflate stream at in[0..n) into out[0..cap).  Returns the bytes
 * written, BT_EINVAL (malformed or truncated; *why) or BT_ETOOBIG.  *used
 * gets the input bytes the stream took. */
static long inflate_raw(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
			size_t *used, const char **why)
{
	struct infl z;
	int last, type, r;

	memset(&z, 0, sizeof z);
	z.in = in;
	z.n = n;
	z.out = out;
	z.cap = cap;
	do {
		if ((last = getbits(&z, 1)) < 0 || (type = getbits(&z, 2)) < 0)
			goto bad;
		if (type == 0) {
			size_t len;

			z.bits = 0;
			z.nbits = 0;           /* to a byte boundary */
			if (n - z.pos < 4) {
				z.why = "compressed body ends early";
				goto bad;
			}
			len = (size_t)in[z.pos] | (size_t)in[z.pos + 1] << 8;
			if ((len ^ ((size_t)in[z.pos + 2] | (size_t)in[z.pos + 3] << 8)) != 0xffff) {
				z.why = "stored block length check";
				goto bad;
			}
			z.pos += 4;
			if (n - z.pos < len) {
				z.why = "compressed body ends early";
				goto bad;
			}
			if (len > cap - z.len) {
				*why = "decompressed body over the cap";
				return BT_ETOOBIG;
			}
			memcpy(out + z.len, in + z.pos, len);
			z.len += len;
			z.pos += len;
			r = 0;
		} else if (type == 1) {
			r = block_fixed(&z);
		} else if (type == 2) {
			r = block_dynamic(&z);
		} else {
			z.why = "bad block type";
			goto bad;
		}
		if (r == -2) {
			*why = z.why;
			return BT_ETOOBIG;
		}
		if (r < 0)
			goto bad;
	} while (!last);
	*used = z.pos;
	return (long)z.len;
bad:
	*why = z.why ? z.why : "malformed compressed body";
	return BT_EINVAL;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c >> 1 ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

/* A gzip (RFC 1952) member, or a zlib (RFC 1950) or raw deflate stream,
 * as "Content-Encoding: gzip" / "deflate" bodies come. */
static long http_inflate(const uint8_t *in, size_t n, bool gzip, uint8_t *out,
			 size_t cap, const char **why)
{
	size_t pos = 0, used = 0;
	long r;

	if (gzip) {
		uint8_t flg;

		if (n < 18 || in[0] != 0x1f || in[1] != 0x8b || in[2] != 8) {
			*why = "not a gzip stream";
			return BT_EINVAL;
		}
		flg = in[3];
		pos = 10;
		if (flg & 4) {                  /* FEXTRA */
			size_t xl;

			if (n - pos < 2) {
				*why = "gzip header ends early";
				return BT_EINVAL;
			}
			xl = (size_t)in[pos] | (size_t)in[pos + 1] << 8;
			pos += 2;
			if (n - pos < xl) {
				*why = "gzip header ends early";
				return BT_EINVAL;
			}
			pos += xl;
		}
		for (int f = 8; f <= 16; f <<= 1) {  /* FNAME, FCOMMENT */
			if (!(flg & f))
				continue;
			while (pos < n && in[pos])
				pos++;
			if (pos++ >= n) {
				*why = "gzip header ends early";
				return BT_EINVAL;
			}
		}
		if (flg & 2)                    /* FHCRC */
			pos += 2;
		if (pos > n) {
			*why = "gzip header ends early";
			return BT_EINVAL;
		}
		r = inflate_raw(in + pos, n - pos, out, cap, &used, why);
		if (r < 0)
			return r;
		pos += used;
		if (n - pos < 8) {
			*why = "gzip trailer missing";
			return BT_EINVAL;
		}
		if (le32(in + pos) != crc32_of(out, (size_t)r)) {
			*why = "gzip CRC-32 does not match";
			return BT_EINVAL;
		}
		if (le32(in + pos + 4) != (uint32_t)r) {
			*why = "gzip length does not match";
			return BT_EINVAL;
		}
		return r;
	}
	/* deflate: zlib-wrapped as RFC 7230 says, raw as some servers send */
	if (n >= 2 && (in[0] & 0x0f) == 8 && ((unsigned)in[0] << 8 | in[1]) % 31 == 0) {
		r = inflate_raw(in + 2, n - 2, out, cap, &used, why);
		if (r >= 0 || r == BT_ETOOBIG)
			return r;
	}
	return inflate_raw(in, n, out, cap, &used, why);
}

/* ---- HTTP trackers ----------------------------------------------------------- */

static bool http_start(struct bt_dec *d, struct dflow *fl, int dir)
{
	struct ddir *s = &fl->d[dir];

	if (!s->http) {
		s->http = mem_alloc(d, sizeof *s->http);
		if (!s->http) {
			d->st.mem_refused++;
			undecodable(d, fl, dir, "memory cap (too many flows at once)");
			return false;
		}
		memset(s->http, 0, sizeof *s->http);
	}
	s->st = S_HTTP;
	return true;
}

static void http_free(struct bt_dec *d, struct ddir *s)
{
	if (!s->http)
		return;
	mem_free(d, s->http->buf, s->http->cap);
	mem_free(d, s->http, sizeof *s->http);
	s->http = NULL;
}

static bool http_reserve(struct bt_dec *d, struct http *h, size_t need)
{
	size_t cap;
	uint8_t *nb;

	if (need <= h->cap)
		return true;
	cap = h->cap ? h->cap : 1024;
	while (cap < need)
		cap *= 2;
	nb = mem_grow(d, h->buf, h->cap, cap);
	if (!nb)
		return false;
	h->buf = nb;
	h->cap = cap;
	return true;
}

/* Find "\r\n\r\n" in p[from..n). */
static long find_crlf2(const uint8_t *p, size_t n, size_t from)
{
	static const uint8_t e[4] = { '\r', '\n', '\r', '\n' };
	const uint8_t *q;

	if (from >= n)
		return -1;
	q = memmem(p + from, n - from, e, 4);
	return q ? (long)(q - p) : -1;
}

/* The header named name (case-insensitive) in head[0..n): its value view,
 * trimmed.  false if absent. */
static bool http_header(const uint8_t *head, size_t n, const char *name,
			const uint8_t **v, size_t *vlen)
{
	size_t i = 0, nl = strlen(name);

	/* skip the start line */
	while (i < n && head[i] != '\n')
		i++;
	i++;
	while (i < n) {
		size_t e = i;

		while (e < n && head[e] != '\n')
			e++;
		if (e - i > nl && head[i + nl] == ':' && ci_eq(head + i, name, nl)) {
			size_t a = i + nl + 1, b = e;

			while (a < b && (head[a] == ' ' || head[a] == '\t'))
				a++;
			while (b > a && (head[b - 1] == '\r' || head[b - 1] == ' ' ||
					 head[b - 1] == '\t'))
				b--;
			*v = head + a;
			*vlen = b - a;
			return true;
		}
		i = e + 1;
	}
	return false;
}

static bool parse_u64(const uint8_t *p, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(p[i] - '0');
	}
	*v = x;
	return true;
}

/* Printable ASCII of p (others as %XX) appended to dst. */
static void url_append(char *dst, size_t cap, const void *src, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *p = src;
	size_t o = strlen(dst);

	for (size_t i = 0; i < n && o + 4 < cap; i++) {
		if (p[i] > 0x20 && p[i] < 0x7f) {
			dst[o++] = (char)p[i];
		} else {
			dst[o++] = '%';
			dst[o++] = hex[p[i] >> 4];
			dst[o++] = hex[p[i] & 15];
		}
	}
	dst[o] = '\0';
}

static void ep_str(const struct bt_flow_ep *e, char *buf, size_t cap)
{
	struct bt_peer_addr a;

	memset(&a, 0, sizeof a);
	a.family = e->addr.family;
	memcpy(a.ip, e->addr.a, 16);
	a.port = e->port;
	bt_addr_fmt(&a, buf, cap);
}

static void make_url(char *dst, size_t cap, const char *scheme,
		     const struct bt_flow_ep *srv, const void *path, size_t n)
{
	char hp[BT_ADDR_STRLEN];

	ep_str(srv, hp, sizeof hp);
	snprintf(dst, cap, "%s://%s", scheme, hp);
	url_append(dst, cap, path, n);
}

static bool last_component_is(const uint8_t *path, size_t n, const char *w)
{
	size_t i = n, wl = strlen(w);

	while (i > 0 && path[i - 1] != '/')
		i--;
	return n - i >= wl && memcmp(path + i, w, wl) == 0;
}

static void trk_init(struct bt_dec_trk *t, struct dflow *fl, int kind,
		     int dir, uint64_t ts)
{
	memset(t, 0, sizeof *t);
	t->kind = kind;
	t->ts_us = ts;
	t->t_us = ts > fl->pub.first_us ? ts - fl->pub.first_us : 0;
	t->conv = fl->pub.id;
	t->dir = (enum bt_dir)dir;
	t->src = fl->pub.ep[dir];
	t->dst = fl->pub.ep[!dir];
}

/* A whole request head in h->buf[0..head_len). */
static void http_request(struct bt_dec *d, struct dflow *fl, int dir,
			 struct http *h, uint64_t ts)
{
	const uint8_t *b = h->buf, *v;
	size_t n = h->head_len, i = 0, m0, t0, t1, q, vl;
	struct bt_dec_query *qu = d->query;
	struct bt_dec_trk t;
	struct rq *r;
	uint64_t cl;
	uint8_t kind;

	while (i < n && b[i] != ' ' && b[i] != '\r')
		i++;
	m0 = i;
	t0 = i < n ? i + 1 : n;
	t1 = t0;
	while (t1 < n && b[t1] != ' ' && b[t1] != '\r')
		t1++;
	q = t0;
	while (q < t1 && b[q] != '?')
		q++;
	bt_dec_query_parse(qu, q < t1 ? (const char *)b + q + 1 : "",
			   q < t1 ? t1 - q - 1 : 0);
	if (m0 == 4 && memcmp(b, "HEAD", 4) == 0)
		kind = RQ_HEAD;
	else if (last_component_is(b + t0, q - t0, "scrape"))
		kind = RQ_SCRAPE;
	else if (last_component_is(b + t0, q - t0, "announce") || qu->nhash)
		kind = RQ_ANNOUNCE;
	else
		kind = RQ_OTHER;
	qu->scrape = kind == RQ_SCRAPE;
	if (fl->pub.kind != BT_DEC_HTTP_TRACKER) {
		if (kind == RQ_OTHER || kind == RQ_HEAD) {
			struct ddir *o = &fl->d[!dir];

			undecodable(d, fl, dir, "HTTP, not a tracker request");
			http_free(d, &fl->d[dir]);
			if (o->st == S_HTTP || o->st == S_DETECT)
				undecodable(d, fl, !dir, "HTTP, not a tracker request");
			return;
		}
		set_kind(d, fl, BT_DEC_HTTP_TRACKER, NULL);
	}
	make_url(fl->url, sizeof fl->url, "http", &fl->pub.ep[!dir], b + t0, q - t0);
	if (fl->rq_n < RQ_MAX) {
		r = &fl->rq[(fl->rq_head + fl->rq_n++) % RQ_MAX];
		r->kind = kind;
		r->path[0] = '\0';
		url_append(r->path, sizeof r->path, b + t0, q - t0);
	}
	trk_init(&t, fl, BT_DEC_TRK_HTTP_REQ, dir, h->t0 ? h->t0 : ts);
	t.url = fl->url;
	t.method = (const char *)b;
	t.method_len = m0;
	t.target = (const char *)b + t0;
	t.target_len = t1 - t0;
	t.q = qu;
	t.scrape = kind == RQ_SCRAPE;
	fl->pub.trk_requests++;
	d->st.trk_http++;
	if (d->cb.trk)
		d->cb.trk(d->ctx, &fl->pub, &t);
	if (http_header(b, n, "Content-Length", &v, &vl) && parse_u64(v, vl, &cl) && cl) {
		h->st = H_SKIP;
		h->left = cl;
	}
}

/* Is the Content-Encoding value v[0..n) the coding w (any case)? */
static bool coding_is(const char *v, size_t n, const char *w)
{
	return v && strlen(w) == n && ci_eq((const uint8_t *)v, w, n);
}

/* A response is complete: parse and report it. */
static void http_response_done(struct bt_dec *d, struct dflow *fl, int dir,
			       struct http *h, uint8_t kind, const char *path,
			       uint64_t ts)
{
	struct bt_dec_trk t;
	const uint8_t *body = h->buf + h->body_off;
	size_t blen = h->body_len;

	trk_init(&t, fl, BT_DEC_TRK_HTTP_RESP, dir, h->t0 ? h->t0 : ts);
	make_url(fl->url, sizeof fl->url, "http", &fl->pub.ep[dir], path, strlen(path));
	t.url = fl->url;
	t.status = h->status;
	t.reason_phrase = (const char *)h->buf + h->reason_off;
	t.reason_len = h->reason_len;
	t.content_encoding = h->ce_len ? (const char *)h->buf + h->ce_off : NULL;
	t.content_encoding_len = h->ce_len;
	t.chunked = h->chunked;
	t.scrape = kind == RQ_SCRAPE;
	t.body = body;
	t.body_len = blen;
	t.rc = BT_OK;
	if (kind == RQ_HEAD) {
		t.note = "answer to a HEAD request";
	} else if (h->too_big) {
		t.note = "body over the decoder's cap: not decoded";
	} else if (h->ce_len && !(h->ce_len == 8 && ci_eq((const uint8_t *)t.content_encoding,
							  "identity", 8)) &&
		   !coding_is(t.content_encoding, h->ce_len, "gzip") &&
		   !coding_is(t.content_encoding, h->ce_len, "x-gzip") &&
		   !coding_is(t.content_encoding, h->ce_len, "deflate")) {
		t.note = "body in an unknown Content-Encoding: not decoded";
	} else {
		uint8_t *plain = NULL;
		size_t ntok, pcap = 0;
		struct bt_be_tok *toks;

		if (h->ce_len && !coding_is(t.content_encoding, h->ce_len, "identity")) {
			const char *why = NULL;
			long r;

			pcap = d->cfg.max_http_body;
			plain = mem_alloc(d, pcap);
			r = plain ? http_inflate(body, blen, !coding_is(t.content_encoding,
						h->ce_len, "deflate"), plain, pcap, &why) : BT_ENOSPC;
			if (r < 0) {
				t.note = r == BT_ENOSPC ? "memory cap: body not decoded" : why;
				mem_free(d, plain, pcap);
				fl->pub.trk_responses++;
				d->st.trk_http++;
				if (d->cb.trk)
					d->cb.trk(d->ctx, &fl->pub, &t);
				return;
			}
			body = plain;
			blen = (size_t)r;
			t.body = body;
			t.body_len = blen;
			t.inflated = true;
		}
		ntok = bt_be_max_tokens(blen);
		toks = mem_alloc(d, ntok * sizeof *toks);
		if (!toks) {
			t.note = "memory cap: body not decoded";
		} else if (kind == RQ_SCRAPE) {
			t.rc = bt_trk_parse_scrape(&d->scrape, body, blen, toks, ntok, &t.err);
			t.scrape_resp = &d->scrape;
		} else {
			t.rc = bt_trk_parse_announce(&d->resp, body, blen, toks, ntok,
						     d->peers, d->pinfo, BT_DEC_TRK_PEERS,
						     &t.err);
			t.resp = &d->resp;
			t.peers = d->peers;
			t.info = d->pinfo;
			t.npeers = d->resp.nstored;
		}
		fl->pub.trk_responses++;
		d->st.trk_http++;
		if (d->cb.trk)
			d->cb.trk(d->ctx, &fl->pub, &t);
		mem_free(d, toks, ntok * sizeof *toks);
		mem_free(d, plain, pcap);
		return;
	}
	fl->pub.trk_responses++;
	d->st.trk_http++;
	if (d->cb.trk)
		d->cb.trk(d->ctx, &fl->pub, &t);
}

static bool body_append(struct bt_dec *d, struct http *h, const uint8_t *p, size_t n)
{
	if (h->too_big)
		return true;
	if (h->body_len + n > d->cfg.max_http_body ||
	    !http_reserve(d, h, h->body_off + h->body_len + n)) {
		h->too_big = true;
		return true;
	}
	memcpy(h->buf + h->body_off + h->body_len, p, n);
	h->body_len += n;
	return true;
}

static void http_next(struct http *h)
{
	h->st = H_HEAD;
	h->len = h->head_len = h->body_len = 0;
	h->left = 0;
	h->chunked = h->too_big = h->chunk_ext = false;
	h->line = 0;
	h->t0 = 0;
	h->status = 0;
	h->ce_len = h->reason_len = 0;
}

static void http_resp_complete(struct bt_dec *d, struct dflow *fl, int dir,
			       struct http *h, uint64_t ts)
{
	uint8_t kind = RQ_ANNOUNCE;
	char path[PATH_MAX_KEPT] = "";

	if (fl->rq_n) {
		struct rq *r = &fl->rq[fl->rq_head];

		kind = r->kind;
		memcpy(path, r->path, sizeof path);
		fl->rq_head = (fl->rq_head + 1) % RQ_MAX;
		fl->rq_n--;
	}
	if (fl->pub.kind == BT_DEC_HTTP_TRACKER)
		http_response_done(d, fl, dir, h, kind, path, ts);
	http_next(h);
}

/* A whole response head in h->buf[0..head_len). */
static void http_response_head(struct bt_dec *d, struct dflow *fl, int dir,
			       struct http *h, uint64_t ts)
{
	const uint8_t *b = h->buf, *v;
	size_t n = h->head_len, i = 0, vl;
	uint64_t cl;
	bool head_req = fl->rq_n && fl->rq[fl->rq_head].kind == RQ_HEAD;

	while (i < n && b[i] != ' ')
		i++;
	h->status = 0;
	if (i + 4 <= n && b[i + 1] >= '0' && b[i + 1] <= '9')
		h->status = (b[i + 1] - '0') * 100 + (b[i + 2] - '0') * 10 + (b[i + 3] - '0');
	h->reason_off = i + 5 <= n ? i + 5 : n;
	h->reason_len = 0;
	while (h->reason_off + h->reason_len < n &&
	       b[h->reason_off + h->reason_len] != '\r' &&
	       b[h->reason_off + h->reason_len] != '\n')
		h->reason_len++;
	if (http_header(b, n, "Content-Encoding", &v, &vl)) {
		h->ce_off = (size_t)(v - b);
		h->ce_len = vl;
	}
	h->body_off = h->head_len;
	h->body_len = 0;
	h->chunked = http_header(b, n, "Transfer-Encoding", &v, &vl) &&
		     vl >= 7 && ci_eq(v + vl - 7, "chunked", 7);
	if (head_req || h->status / 100 == 1 || h->status == 204 || h->status == 304) {
		http_resp_complete(d, fl, dir, h, ts);
	} else if (h->chunked) {
		h->st = H_CHUNK_SIZE;
		h->left = 0;
	} else if (http_header(b, n, "Content-Length", &v, &vl) && parse_u64(v, vl, &cl)) {
		h->st = H_BODY;
		h->left = cl;
		if (cl == 0)
			http_resp_complete(d, fl, dir, h, ts);
	} else {
		h->st = H_EOF;
	}
}

/* Give up an HTTP direction; why (static) becomes the flow's remark. */
static void http_dead(struct bt_dec *d, struct dflow *fl, int dir,
		      const char *why)
{
	struct ddir *s = &fl->d[dir];

	http_free(d, s);
	s->st = S_DEAD;
	if (!fl->pub.reason)
		fl->pub.reason = why;
}

static size_t http_input(struct bt_dec *d, struct dflow *fl, int dir,
			 const uint8_t *p, size_t n, uint64_t ts)
{
	struct ddir *s = &fl->d[dir];
	struct http *h = s->http;
	size_t take, i;
	long e;

	switch (h->st) {
	case H_HEAD:
		if (h->len == 0)
			h->t0 = ts;
		take = n;
		if (h->len + take > BT_DEC_HTTP_HDR_MAX)
			take = BT_DEC_HTTP_HDR_MAX - h->len;
		if (!http_reserve(d, h, h->len + take)) {
			http_dead(d, fl, dir, "HTTP not decoded further: memory cap");
			return n;
		}
		memcpy(h->buf + h->len, p, take);
		e = find_crlf2(h->buf, h->len + take, h->len > 3 ? h->len - 3 : 0);
		if (e < 0) {
			h->len += take;
			if (h->len >= BT_DEC_HTTP_HDR_MAX)
				http_dead(d, fl, dir, "HTTP not decoded further: a head over 16 KiB");
			return take;
		}
		take = (size_t)e + 4 - h->len;
		h->len = h->head_len = (size_t)e + 4;
		if (dir == BT_DIR_OUT) {
			http_request(d, fl, dir, h, ts);
			if (s->st == S_HTTP && h->st == H_HEAD)
				http_next(h);
		} else {
			http_response_head(d, fl, dir, h, ts);
		}
		return take;
	case H_SKIP:
		take = n < h->left ? n : (size_t)h->left;
		h->left -= take;
		if (h->left == 0)
			http_next(h);
		return take;
	case H_BODY:
		take = n < h->left ? n : (size_t)h->left;
		body_append(d, h, p, take);
		h->left -= take;
		if (h->left == 0)
			http_resp_complete(d, fl, dir, h, ts);
		return take;
	case H_EOF:
		body_append(d, h, p, n);
		return n;
	case H_CHUNK_SIZE:
		/* The size line, hex digits then anything up to LF; kept in
		 * left as we go (left < 2^60 or the chunk is refused). */
		for (i = 0; i < n; i++) {
			uint8_t c = p[i];

			if (c == '\n') {
				h->chunk_ext = false;
				if (h->left == 0) {
					h->st = H_TRAILER;
					h->line = 0;
				} else {
					h->st = H_CHUNK_DATA;
				}
				return i + 1;
			}
			if (h->chunk_ext)  /* after a ';' or space: extension */
				continue;
			if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			    (c >= 'A' && c <= 'F')) {
				if (h->left >> 56) {
					http_dead(d, fl, dir, "HTTP not decoded further: a chunk size over 2^56");
					return n;
				}
				h->left = h->left * 16 + (uint64_t)(c <= '9' ? c - '0' :
						(c | 0x20) - 'a' + 10);
			} else if (c != '\r') {
				h->chunk_ext = true;
			}
		}
		return n;
	case H_CHUNK_DATA:
		take = n < h->left ? n : (size_t)h->left;
		body_append(d, h, p, take);
		h->left -= take;
		if (h->left == 0) {
			h->st = H_CHUNK_CRLF;
			h->left = 2;
		}
		return take;
	case H_CHUNK_CRLF:
		for (i = 0; i < n && h->left; i++) {
			h->left--;
			if (p[i] == '\n')
				h->left = 0;
		}
		if (h->left == 0)
			h->st = H_CHUNK_SIZE;
		return i;
	case H_TRAILER:
		/* Lines until an empty one; len counts the current line. */
		for (i = 0; i < n; i++) {
			if (p[i] == '\n') {
				if (h->line == 0) {
					http_resp_complete(d, fl, dir, h, ts);
					return i + 1;
				}
				h->line = 0;
			} else if (p[i] != '\r') {
				h->line++;
			}
		}
		return n;
	default:
		return n;
	}
}

static void http_end(struct bt_dec *d, struct dflow *fl, int dir, uint64_t ts)
{
	struct http *h = fl->d[dir].http;

	if (h && h->st == H_EOF)
		http_resp_complete(d, fl, dir, h, ts);
}

/* ---- driving a direction -------------------------------------------------- */

static void drive(struct bt_dec *d, struct dflow *fl, int dir,
		  const uint8_t *p, size_t n, uint64_t ts, bool kick, bool final)
{
	struct ddir *s = &fl->d[dir];
	uint8_t *held = NULL;
	size_t held_cap = 0;
	struct taken t;

	for (;;) {
		size_t used;

		if ((s->st == S_DETECT || s->st == S_SCAN) && (n || kick)) {
			if (n && !scan_append(d, fl, dir, p, n)) {
				n = 0;
				continue;
			}
			n = 0;
			kick = false;
			if (scan_eval(d, fl, dir, final, ts, &t)) {
				/* p pointed into held, if anything: all of it
				 * was copied to the scan buffer. */
				mem_free(d, held, held_cap);
				held = t.buf;
				held_cap = t.cap;
				p = t.buf + t.off;
				n = t.len - t.off;
				if (!n && (s->st == S_DETECT || s->st == S_SCAN))
					kick = true;
			}
			continue;
		}
		if (!n)
			break;
		switch (s->st) {
		case S_PEER:
			used = peer_input(d, fl, dir, p, n, ts);
			break;
		case S_SKIP:
			used = skip_input(d, fl, dir, p, n);
			break;
		case S_HTTP:
			used = http_input(d, fl, dir, p, n, ts);
			s->off += used;
			break;
		default:   /* S_DEAD */
			if (fl->pub.d[dir].mse && !fl->pub.d[dir].plain_after_mse)
				fl->pub.d[dir].enc_bytes += n;
			else
				fl->pub.d[dir].skipped += n;
			s->off += n;
			used = n;
			break;
		}
		p += used;
		n -= used;
	}
	mem_free(d, held, held_cap);
}

/* A direction that became the peer wire may settle the other one. */
static void settle_other(struct bt_dec *d, struct dflow *fl, int dir,
			 uint64_t ts)
{
	struct ddir *o = &fl->d[!dir];

	if (peer_side(fl, dir) && o->st == S_DETECT && o->slen && !o->ended)
		drive(d, fl, !dir, NULL, 0, ts, true, false);
}

static void dir_gap(struct bt_dec *d, struct dflow *fl, int dir, uint64_t off,
		    uint64_t len, const char *why, uint64_t ts)
{
	struct ddir *s = &fl->d[dir];
	struct bt_dec_dirsum *sm = &fl->pub.d[dir];
	struct bt_event ev;
	uint64_t end = off + len;

	sm->gap_bytes += len;
	fl->pub.gaps++;
	d->st.gaps++;
	d->st.gap_bytes += len;
	memset(&ev, 0, sizeof ev);
	ev.kind = BT_EV_GAP;
	ev.stream_off = off;
	ev.gap_len = len;
	ev.why = why;
	emit(d, fl, dir, &ev, ts);
	switch (s->st) {
	case S_PEER: {
		size_t need, have = bt_framer_partial(&s->fr, &need);
		uint64_t start = off - have;

		sm->skipped += have;
		if (have && need && end <= start + need) {
			int id = have >= 5 ? s->fbuf[4] : -2;

			note(d, fl, dir, start, ts, "the %s at offset %" PRIu64
			     " (%zu bytes) lost %" PRIu64 " bytes in the gap: "
			     "not decoded; the next message starts at offset %"
			     PRIu64, have >= 5 ? bt_msg_name(id) : "message",
			     start, need, len, start + need);
			if (end == start + need) {
				s->off = end;
				peer_start(d, fl, dir, end, false);
			} else {
				s->st = S_SKIP;
				s->skip_to = start + need;
				s->off = end;
			}
			return;
		}
		scan_start(d, fl, dir, end, SCAN_GAP);
		return;
	}
	case S_SKIP:
		if (end <= s->skip_to) {
			s->off = end;
			return;
		}
		scan_start(d, fl, dir, end, SCAN_GAP);
		return;
	case S_DETECT:
		account(fl, dir, s->slen);
		scan_start(d, fl, dir, end, SCAN_MIDSTREAM);
		sm->midstream = true;
		return;
	case S_SCAN: {
		int w = s->scan_why;

		account(fl, dir, s->slen);
		scan_start(d, fl, dir, end, w == SCAN_ERROR ? SCAN_GAP : w);
		return;
	}
	case S_HTTP:
		http_dead(d, fl, dir, "HTTP not decoded after a gap");
		s->off = end;
		return;
	default:
		s->off = end;
		return;
	}
}

/* Bytes that began a handshake that never completed: the best reading
 * of them (the live connection reports its own odd handshakes the same
 * way), so a diagnosis sees what was sent. */
static void partial_hs(struct bt_handshake *hs, const uint8_t *raw, size_t n)
{
	memset(hs, 0, sizeof *hs);
	if (n >= 1 + BT_PSTR_LEN && ci_eq(raw, BT_PSTR, BT_PSTR_LEN) &&
	    raw[BT_PSTR_LEN] == BT_PSTR_LEN) {
		/* "BitTorrent protocol" then 19: the fields swapped */
		hs->pstr = raw;
		hs->pstrlen = BT_PSTR_LEN;
		hs->problems |= BT_HS_BAD_PSTRLEN;
		if (memcmp(raw, BT_PSTR, BT_PSTR_LEN) != 0)
			hs->problems |= BT_HS_BAD_PSTR | BT_HS_PSTR_CASE;
	} else {
		hs->pstr = raw + 1;
		hs->pstrlen = raw[0] < n - 1 ? raw[0] : n - 1;
		if (raw[0] != BT_PSTR_LEN)
			hs->problems |= BT_HS_BAD_PSTRLEN;
		if (hs->pstrlen != BT_PSTR_LEN || memcmp(raw + 1, BT_PSTR, BT_PSTR_LEN) != 0) {
			hs->problems |= BT_HS_BAD_PSTR;
			if (hs->pstrlen == BT_PSTR_LEN && ci_eq(raw + 1, BT_PSTR, BT_PSTR_LEN))
				hs->problems |= BT_HS_PSTR_CASE;
		}
	}
	if (n > 20)
		memcpy(hs->reserved, raw + 20, n - 20 < 8 ? n - 20 : 8);
	if (n > 28)
		memcpy(hs->info_hash, raw + 28, n - 28 < 20 ? n - 28 : 20);
	if (n > 48)
		memcpy(hs->peer_id, raw + 48, n - 48 < 20 ? n - 48 : 20);
}

/* If dir's stream holds the start of a handshake that did not complete,
 * report it now (the other side is ending, or this one): a HANDSHAKE
 * event at the time its first byte came.  Later bytes are messages. */
static void flush_partial_hs(struct bt_dec *d, struct dflow *fl, int dir)
{
	struct ddir *s = &fl->d[dir];
	struct bt_dec_dirsum *sm = &fl->pub.d[dir];
	struct bt_handshake hs;
	struct bt_event ev;
	size_t need = 0, have;

	if (s->st != S_PEER || !s->in_hs)
		return;
	have = bt_framer_partial(&s->fr, &need);
	if (!have)
		return;
	partial_hs(&hs, s->fbuf, have);
	memset(&ev, 0, sizeof ev);
	ev.kind = BT_EV_HANDSHAKE;
	ev.hs = &hs;
	ev.raw = s->fbuf;
	ev.raw_len = have;
	ev.stream_off = s->off - have;
	if (need)
		snprintf(d->why, sizeof d->why, "%zu bytes, but its first byte (%u) "
			 "makes a %zu-byte handshake: the peer waits for %zu more",
			 have, s->fbuf[0], need, need - have);
	else
		snprintf(d->why, sizeof d->why, "%zu bytes of a handshake", have);
	ev.why = d->why;
	if (!sm->hs) {
		sm->hs = true;
		sm->hs_problems = hs.problems;
		memcpy(sm->reserved, hs.reserved, 8);
		memcpy(sm->info_hash, hs.info_hash, 20);
		memcpy(sm->peer_id, hs.peer_id, 20);
		sm->t_hs = s->frame_t0;
	}
	sm->msgs++;
	sm->count[BT_DEC_C_HANDSHAKE]++;
	d->st.count[BT_DEC_C_HANDSHAKE]++;
	d->st.msgs++;
	emit(d, fl, dir, &ev, s->frame_t0);
	peer_start(d, fl, dir, s->off, false);
}

/* No more bytes will come in this direction.  end: BT_EV_CLOSED (FIN),
 * BT_EV_RESET (RST sent by this side) or 0 (end of capture, or the other
 * side's RST).  A message cut short is said in the event's why, as the
 * live connection says it ("30 bytes into a 68-byte handshake"); at the
 * end of a capture it is a note. */
static void dir_end(struct bt_dec *d, struct dflow *fl, int dir, uint64_t ts,
		    int end)
{
	struct ddir *s = &fl->d[dir];
	struct bt_event ev;
	size_t need = 0, have = 0;
	const char *why = NULL;

	if (s->ended)
		return;
	s->ended = true;
	if (s->st == S_DETECT || s->st == S_SCAN)
		drive(d, fl, dir, NULL, 0, ts, true, true);
	if (s->st == S_DETECT || s->st == S_SCAN)
		scan_give_up(d, fl, dir, ts);
	if (s->st == S_HTTP)
		http_end(d, fl, dir, ts);
	flush_partial_hs(d, fl, dir);
	if (s->st == S_PEER)
		have = bt_framer_partial(&s->fr, &need);
	if (have) {
		if (need)
			snprintf(d->why, sizeof d->why, "%zu bytes into a %zu-byte %s",
				 have, need, s->in_hs ? "handshake" : "message");
		else
			snprintf(d->why, sizeof d->why,
				 "%zu bytes into the header of a %s", have,
				 s->in_hs ? "handshake" : "message");
		why = d->why;
		fl->pub.d[dir].skipped += have;
	}
	memset(&ev, 0, sizeof ev);
	ev.stream_off = s->off;
	ev.why = why;
	if (end == BT_EV_CLOSED || end == BT_EV_RESET) {
		ev.kind = (enum bt_ev_kind)end;
		ev.err = end == BT_EV_RESET ? ECONNRESET : 0;
		emit(d, fl, dir, &ev, ts);
	} else if (why) {
		char w[sizeof d->why];

		memcpy(w, d->why, sizeof w);
		snprintf(d->why, sizeof d->why, "capture ends %.200s", w);
		ev.kind = BT_EV_NOTE;
		ev.stream_off = s->off - have;
		emit(d, fl, dir, &ev, ts);
	}
}

/* ---- flow table callbacks ------------------------------------------------- */

static void fl_deliver(void *ctx, struct bt_flow *f, int dir,
		       const uint8_t *data, size_t len, uint64_t ts)
{
	struct bt_dec *d = ctx;
	struct dflow *fl = f->user;
	struct bt_dec_dirsum *sm;
	int before;

	if (!fl || fl->finished)
		return;
	sm = &fl->pub.d[dir];
	if (!sm->t_first)
		sm->t_first = ts;
	sm->t_last = ts;
	before = fl->pub.kind;
	drive(d, fl, dir, data, len, ts, false, false);
	if (before != BT_DEC_PEER && fl->pub.kind == BT_DEC_PEER)
		settle_other(d, fl, dir, ts);
}

static void flow_finish(struct bt_dec *d, struct dflow *fl, struct bt_flow *f);

static void reset_event(struct bt_dec *d, struct dflow *fl)
{
	if (!fl->rst_pending)
		return;
	fl->rst_pending = false;
	flush_partial_hs(d, fl, !fl->rst_dir);
	dir_end(d, fl, !fl->rst_dir, fl->rst_ts, 0);
	dir_end(d, fl, fl->rst_dir, fl->rst_ts, BT_EV_RESET);
}

static void fl_event(void *ctx, struct bt_flow *f, int dir,
		     enum bt_flow_ev kind, const struct bt_flow_evinfo *info)
{
	struct bt_dec *d = ctx;
	struct dflow *fl = f->user;

	if (kind == BT_FLOW_EV_OPEN) {
		fl = calloc(1, sizeof *fl);
		f->user = fl;
		if (!fl)
			return;
		fl->pub.id = f->id;
		fl->pub.ep[0] = f->ep[0];
		fl->pub.ep[1] = f->ep[1];
		fl->pub.first_us = info->ts_us;
		fl->pub.forced = forced_port(d, f->ep[0].port) ||
				 forced_port(d, f->ep[1].port);
		d->st.flows++;
		return;
	}
	if (!fl || fl->finished)
		return;
	switch (kind) {
	case BT_FLOW_EV_MIDSTREAM:
		fl->pub.d[dir].midstream = true;
		break;
	case BT_FLOW_EV_GAP:
		if (dir == 0 || dir == 1)
			dir_gap(d, fl, dir, info->off, info->len, info->why, info->ts_us);
		break;
	case BT_FLOW_EV_CONFLICT:
		fl->pub.conflicts++;
		note(d, fl, dir, info->off, info->ts_us,
		     "%" PRIu64 " retransmitted bytes at offset %" PRIu64
		     " differ from the first copy (first copy kept)",
		     info->len, info->off);
		break;
	case BT_FLOW_EV_FIN:
		fl->pub.d[dir].fin = true;
		flush_partial_hs(d, fl, !dir);
		dir_end(d, fl, dir, info->ts_us, BT_EV_CLOSED);
		break;
	case BT_FLOW_EV_SYN:
		if (!fl->syn_ts[dir])
			fl->syn_ts[dir] = info->ts_us;
		break;
	case BT_FLOW_EV_RST:
		fl->pub.d[dir].rst = true;
		if (!fl->rst_pending) {
			fl->rst_pending = true;
			fl->rst_dir = dir;
			fl->rst_ts = info->ts_us;
		}
		break;
	case BT_FLOW_EV_CLOSED:
		flow_finish(d, fl, f);
		break;
	case BT_FLOW_EV_EVICT:
	case BT_FLOW_EV_IDLE:
	case BT_FLOW_EV_REUSE:
		note(d, fl, 0, 0, info->ts_us, "flow ends here: %s",
		     info->why ? info->why : bt_flow_ev_name(kind));
		break;
	default:
		break;
	}
}

/* The flow is over (closed, or leaving the table): final classification,
 * counters, flow_end.  Once per flow. */
static void flow_finish(struct bt_dec *d, struct dflow *fl, struct bt_flow *f)
{
	bool data = false;

	if (fl->finished)
		return;
	reset_event(d, fl);
	for (int i = 0; i < 2; i++)
		dir_end(d, fl, i, f->last_us, 0);
	fl->finished = true;
	fl->pub.last_us = f->last_us;
	for (int i = 0; i < 2; i++) {
		fl->pub.d[i].pkts = f->d[i].pkts;
		fl->pub.d[i].bytes = f->d[i].bytes;
		if (f->d[i].bytes || f->d[i].gap_bytes)
			data = true;
	}
	if (fl->pub.kind == BT_DEC_PENDING || fl->pub.kind == BT_DEC_UNDECODED) {
		fl->pub.kind = BT_DEC_UNDECODED;
		if (fl->pub.d[0].mse || fl->pub.d[1].mse)
			fl->pub.reason = "encrypted (MSE/PE)";
		else if (!f->d[0].bytes && !f->d[1].bytes)
			fl->pub.reason = "truncated: no payload captured (snaplen)";
		else if (!fl->pub.reason)
			fl->pub.reason = "not BitTorrent";
	}
	switch (fl->pub.kind) {
	case BT_DEC_PEER:
		d->st.flows_peer++;
		break;
	case BT_DEC_HTTP_TRACKER:
		d->st.flows_http++;
		break;
	default:
		if (data)
			d->st.flows_undecoded++;
		break;
	}
	if (!data)
		d->st.flows_empty++;
	if (fl->pub.d[0].mse || fl->pub.d[1].mse)
		d->st.flows_mse++;
	if (fl->pub.d[0].plain_after_mse || fl->pub.d[1].plain_after_mse)
		d->st.flows_mse_plain++;
	if (fl->pub.d[0].midstream || fl->pub.d[1].midstream)
		d->st.flows_midstream++;
	if (data && d->cb.flow_end)
		d->cb.flow_end(d->ctx, &fl->pub);
	for (int i = 0; i < 2; i++) {
		struct ddir *s = &fl->d[i];

		scan_reset(d, s);
		mem_free(d, s->fbuf, s->fcap);
		mem_free(d, s->pbits, s->pcap);
		s->fbuf = s->pbits = NULL;
		s->fcap = s->pcap = 0;
		http_free(d, s);
		s->st = S_DEAD;
	}
}

static void fl_release(void *ctx, struct bt_flow *f)
{
	struct bt_dec *d = ctx;
	struct dflow *fl = f->user;

	if (!fl)
		return;
	flow_finish(d, fl, f);
	free(fl);
	f->user = NULL;
}

/* ---- UDP trackers (BEP 15) ------------------------------------------------ */

#define UDP_PEND 4

struct upend {
	bool used;
	uint8_t action;
	uint32_t tid;
	size_t nh;
	uint8_t (*h)[20];       /* scrape: the hashes asked for */
};

struct uconv {
	bool used;
	uint64_t id, hash;
	struct bt_flow_ep cli, srv;
	uint64_t first_us, last_us;
	struct upend pend[UDP_PEND];
	unsigned pnext;
	struct uconv *hnext;
};

struct bt_dec_udp {
	struct uconv *v;
	size_t cap, n;
	struct uconv **b;
	size_t nb;
	uint64_t ids;
	char url[96];
	struct bt_udp_announce ann;
	char url_data[BT_URL_MAX_LEN];
	struct bt_udp_scrape_entry ent[BT_DEC_MAX_HASHES];
	struct bt_udp_announce_resp ures;
};

static uint64_t ep_hash(const struct bt_pkt_addr *a, uint16_t port)
{
	uint64_t x = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < 16; i++)
		x = (x ^ a->a[i]) * 0x100000001b3ull;
	x = (x ^ a->family) * 0x100000001b3ull;
	x = (x ^ port) * 0x100000001b3ull;
	return x;
}

static uint64_t pair_hash(const struct bt_pkt *pk)
{
	uint64_t x = ep_hash(&pk->src, pk->sport), y = ep_hash(&pk->dst, pk->dport);

	return x < y ? x * 31 + y : y * 31 + x;
}

static bool ep_is(const struct bt_flow_ep *e, const struct bt_pkt_addr *a,
		  uint16_t port)
{
	return e->port == port && e->addr.family == a->family &&
	       memcmp(e->addr.a, a->a, 16) == 0;
}

static void pend_clear(struct bt_dec *d, struct upend *pe)
{
	if (pe->h)
		mem_free(d, pe->h, pe->nh * 20);
	memset(pe, 0, sizeof *pe);
}

static struct uconv *uconv_find(struct bt_dec_udp *u, const struct bt_pkt *pk,
				uint64_t hash, int *dir)
{
	struct uconv *c = u->b[hash & (u->nb - 1)];

	for (; c; c = c->hnext) {
		if (c->hash != hash)
			continue;
		if (ep_is(&c->cli, &pk->src, pk->sport) && ep_is(&c->srv, &pk->dst, pk->dport)) {
			*dir = BT_DIR_OUT;
			return c;
		}
		if (ep_is(&c->srv, &pk->src, pk->sport) && ep_is(&c->cli, &pk->dst, pk->dport)) {
			*dir = BT_DIR_IN;
			return c;
		}
	}
	return NULL;
}

static void uconv_unhash(struct bt_dec_udp *u, struct uconv *c)
{
	struct uconv **pp = &u->b[c->hash & (u->nb - 1)];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
}

/* A new conversation; the least recently active one makes room. */
static struct uconv *uconv_new(struct bt_dec *d, const struct bt_pkt *pk,
			       uint64_t hash, bool client_is_src)
{
	struct bt_dec_udp *u = d->udp;
	struct uconv *c;

	if (u->n < u->cap) {
		c = &u->v[u->n++];
	} else {
		c = &u->v[0];
		for (size_t i = 1; i < u->cap; i++)
			if (u->v[i].last_us < c->last_us)
				c = &u->v[i];
		uconv_unhash(u, c);
		for (int i = 0; i < UDP_PEND; i++)
			pend_clear(d, &c->pend[i]);
	}
	memset(c, 0, sizeof *c);
	c->used = true;
	c->id = ++u->ids;
	c->hash = hash;
	if (client_is_src) {
		c->cli.addr = pk->src, c->cli.port = pk->sport;
		c->srv.addr = pk->dst, c->srv.port = pk->dport;
	} else {
		c->cli.addr = pk->dst, c->cli.port = pk->dport;
		c->srv.addr = pk->src, c->srv.port = pk->sport;
	}
	c->first_us = pk->ts_us;
	c->hnext = u->b[hash & (u->nb - 1)];
	u->b[hash & (u->nb - 1)] = c;
	d->st.udp_convs++;
	return c;
}

static uint64_t load64(const uint8_t *p)
{
	return (uint64_t)bt_load_u32be(p) << 32 | bt_load_u32be(p + 4);
}

/* A BEP 15 announce request (with BEP 41 options); false if short. */
static bool udp_announce_req(struct bt_dec_udp *u, const uint8_t *p, size_t n)
{
	struct bt_udp_announce *a = &u->ann;
	size_t i, ul = 0;

	if (n < BT_UDP_ANNOUNCE_LEN)
		return false;
	memset(a, 0, sizeof *a);
	a->connection_id = load64(p);
	a->transaction_id = bt_load_u32be(p + 12);
	memcpy(a->info_hash, p + 16, 20);
	memcpy(a->peer_id, p + 36, 20);
	a->downloaded = load64(p + 56);
	a->left = load64(p + 64);
	a->uploaded = load64(p + 72);
	a->event = bt_load_u32be(p + 80);
	a->ip = bt_load_u32be(p + 84);
	a->key = bt_load_u32be(p + 88);
	a->num_want = (int32_t)bt_load_u32be(p + 92);
	a->port = bt_load_u16be(p + 96);
	/* BEP 41 options: 0 end, 1 NOP, 2 URLData <len> <data>. */
	for (i = BT_UDP_ANNOUNCE_LEN; i < n;) {
		uint8_t t = p[i++];

		if (t == 0)
			break;
		if (t == 1)
			continue;
		if (i >= n)
			break;
		size_t l = p[i++];
		if (l > n - i)
			l = n - i;
		if (t == 2) {
			size_t k = l < sizeof u->url_data - ul ? l : sizeof u->url_data - ul;
			memcpy(u->url_data + ul, p + i, k);
			ul += k;
			a->url_data_set = true;
		}
		i += l;
	}
	a->url_data = u->url_data;
	a->url_data_len = ul;
	return true;
}

static void udp_packet(struct bt_dec *d, const struct bt_pkt *pk)
{
	struct bt_dec_udp *u = d->udp;
	const uint8_t *p = pk->payload;
	size_t n = pk->payload_len;
	uint64_t hash = pair_hash(pk);
	struct bt_dec_trk t;
	struct uconv *c;
	struct upend *pe = NULL;
	int dir = BT_DIR_OUT;
	char hp[BT_ADDR_STRLEN];

	c = uconv_find(u, pk, hash, &dir);
	if (!c) {
		if (n >= 16 && load64(p) == BT_UDP_PROTOCOL_ID && bt_load_u32be(p + 8) == 0)
			c = uconv_new(d, pk, hash, true);
		else if (forced_port(d, pk->dport))
			c = uconv_new(d, pk, hash, true);
		else if (forced_port(d, pk->sport))
			c = uconv_new(d, pk, hash, false), dir = BT_DIR_IN;
		if (!c)
			return;
	}
	c->last_us = pk->ts_us;
	memset(&t, 0, sizeof t);
	t.udp = true;
	t.ts_us = pk->ts_us;
	t.t_us = pk->ts_us > c->first_us ? pk->ts_us - c->first_us : 0;
	t.conv = c->id;
	t.dir = (enum bt_dir)dir;
	t.src = dir == BT_DIR_OUT ? c->cli : c->srv;
	t.dst = dir == BT_DIR_OUT ? c->srv : c->cli;
	ep_str(&c->srv, hp, sizeof hp);
	snprintf(u->url, sizeof u->url, "udp://%s", hp);
	t.url = u->url;
	t.kind = BT_DEC_TRK_UDP_OTHER;
	t.rc = BT_OK;
	d->st.trk_udp++;
	if (dir == BT_DIR_OUT) {
		uint32_t action;

		if (n < 16) {
			t.rc = BT_NEED_MORE;
			t.err.code = BT_NEED_MORE;
			t.err.rule = "request shorter than 16 bytes";
			goto out;
		}
		t.connection_id = load64(p);
		action = bt_load_u32be(p + 8);
		t.tid = bt_load_u32be(p + 12);
		if (action > 2) {
			t.rc = BT_EINVAL;
			t.err.code = BT_EINVAL;
			t.err.rule = "unknown request action";
			t.err.value = action;
			goto out;
		}
		pe = &c->pend[c->pnext++ % UDP_PEND];
		pend_clear(d, pe);
		pe->used = true;
		pe->action = (uint8_t)action;
		pe->tid = t.tid;
		if (action == BT_UDP_CONNECT) {
			t.kind = BT_DEC_TRK_UDP_CONNECT;
			if (t.connection_id != BT_UDP_PROTOCOL_ID) {
				t.rc = BT_EINVAL;
				t.err.code = BT_EINVAL;
				t.err.rule = "connect request without the protocol id";
			}
		} else if (action == BT_UDP_ANNOUNCE) {
			t.kind = BT_DEC_TRK_UDP_ANNOUNCE;
			if (!udp_announce_req(u, p, n)) {
				t.rc = BT_NEED_MORE;
				t.err.code = BT_NEED_MORE;
				t.err.rule = "announce request shorter than 98 bytes";
				t.err.value = n;
			} else {
				t.uann = &u->ann;
			}
		} else {
			size_t nh = (n - 16) / 20, keep;

			t.kind = BT_DEC_TRK_UDP_SCRAPE;
			keep = nh < BT_DEC_MAX_HASHES ? nh : BT_DEC_MAX_HASHES;
			t.hashes = (const uint8_t (*)[20])(p + 16);
			t.nhashes = nh;
			if ((n - 16) % 20) {
				t.rc = BT_EINVAL;
				t.err.code = BT_EINVAL;
				t.err.rule = "scrape request not 16 + 20n bytes";
				t.err.value = n;
			}
			if (keep && (pe->h = mem_alloc(d, keep * 20)) != NULL) {
				memcpy(pe->h, p + 16, keep * 20);
				pe->nh = keep;
			}
		}
	} else {
		uint32_t action, tid;

		if (n < 8) {
			t.rc = BT_NEED_MORE;
			t.err.code = BT_NEED_MORE;
			t.err.rule = "response shorter than 8 bytes";
			goto out;
		}
		action = bt_load_u32be(p);
		tid = t.tid = bt_load_u32be(p + 4);
		for (int i = 0; i < UDP_PEND; i++)
			if (c->pend[i].used && c->pend[i].tid == tid)
				pe = &c->pend[i];
		t.matched = pe != NULL;
		switch (action) {
		case BT_UDP_CONNECT:
			t.kind = BT_DEC_TRK_UDP_CONNECTED;
			t.rc = bt_udp_parse_connect(p, n, tid, &t.connection_id, &t.err);
			break;
		case BT_UDP_ANNOUNCE:
			t.kind = BT_DEC_TRK_UDP_ANNOUNCE_RESP;
			memset(&u->ures, 0, sizeof u->ures);
			t.rc = bt_udp_parse_announce(p, n, tid, pk->l3 == BT_PKT_IPV6 ? 6 : 4,
						     &u->ures, d->peers, BT_DEC_TRK_PEERS, &t.err);
			t.uresp = &u->ures;
			t.peers = d->peers;
			t.npeers = u->ures.nstored;
			break;
		case BT_UDP_SCRAPE: {
			size_t ne = 0;

			t.kind = BT_DEC_TRK_UDP_SCRAPE_RESP;
			t.rc = bt_udp_parse_scrape(p, n, tid, u->ent, BT_DEC_MAX_HASHES, &ne, &t.err);
			t.sentries = u->ent;
			t.nsentries = ne < BT_DEC_MAX_HASHES ? ne : BT_DEC_MAX_HASHES;
			if (pe && pe->h) {
				t.hashes = (const uint8_t (*)[20])pe->h;
				t.nhashes = pe->nh;
			}
			break;
		}
		case BT_UDP_ERROR:
			t.kind = BT_DEC_TRK_UDP_ERROR;
			t.rc = bt_udp_parse_error(p, n, tid, &t.errmsg, &t.errmsg_len, &t.err);
			break;
		default:
			t.rc = BT_EINVAL;
			t.err.code = BT_EINVAL;
			t.err.rule = "unknown response action";
			t.err.value = action;
			break;
		}
	}
out:
	if (d->cb.trk)
		d->cb.trk(d->ctx, NULL, &t);
	if (dir == BT_DIR_IN && pe)
		pend_clear(d, pe);
}

/* ---- frames ------------------------------------------------------------------ */

static void problem(struct bt_dec *d, int kind, const struct bt_pkt *pk,
		    int linktype, size_t caplen, size_t wirelen, uint64_t ts)
{
	struct bt_dec_problem p;

	d->st.problems[kind]++;
	if (!d->cb.problem)
		return;
	memset(&p, 0, sizeof p);
	p.kind = kind;
	p.pkt = d->pkt_no;
	p.ts_us = ts;
	p.linktype = linktype;
	p.layer = bt_pkt_layer_name(pk->err_layer);
	p.rule = pk->err;
	p.caplen = caplen;
	p.wirelen = wirelen;
	d->cb.problem(d->ctx, &p);
}

int bt_dec_frame(struct bt_dec *d, int linktype, const uint8_t *frame,
		 size_t caplen, size_t wirelen, uint64_t ts_us)
{
	struct bt_pkt pk;
	int rc;

	d->pkt_no++;
	d->st.pkts++;
	d->st.cap_bytes += caplen;
	d->st.wire_bytes += wirelen > caplen ? wirelen : caplen;
	if (!d->st.first_us || ts_us < d->st.first_us)
		d->st.first_us = ts_us;
	if (ts_us > d->st.last_us)
		d->st.last_us = ts_us;
	rc = bt_pkt_decode(&pk, linktype, frame, caplen, wirelen, ts_us);
	if (pk.l3 == BT_PKT_IPV4)
		d->st.ipv4++;
	else if (pk.l3 == BT_PKT_IPV6)
		d->st.ipv6++;
	if (rc == BT_EUNSUPP) {
		problem(d, BT_DEC_P_LINKTYPE, &pk, linktype, caplen, wirelen, ts_us);
		return rc;
	}
	if (rc == BT_EINVAL) {
		problem(d, BT_DEC_P_MALFORMED, &pk, linktype, caplen, wirelen, ts_us);
		return rc;
	}
	if (rc == BT_NEED_MORE && pk.err_layer != BT_PKT_PAYLOAD) {
		problem(d, BT_DEC_P_TRUNCATED, &pk, linktype, caplen, wirelen, ts_us);
		return rc;
	}
	if (pk.frag) {
		problem(d, BT_DEC_P_FRAGMENT, &pk, linktype, caplen, wirelen, ts_us);
		return BT_OK;
	}
	if (pk.l4 == BT_PKT_TCP) {
		d->st.tcp++;
		if (rc == BT_NEED_MORE)
			problem(d, BT_DEC_P_TRUNC_PAYLOAD, &pk, linktype, caplen, wirelen, ts_us);
		if (bt_flow_input(&d->flows, &pk, NULL) == -ENOMEM)
			problem(d, BT_DEC_P_NOMEM, &pk, linktype, caplen, wirelen, ts_us);
		return rc;
	}
	if (pk.l4 == BT_PKT_UDP) {
		d->st.udp++;
		if (rc == BT_NEED_MORE) {
			problem(d, BT_DEC_P_TRUNC_PAYLOAD, &pk, linktype, caplen, wirelen, ts_us);
			return rc;
		}
		udp_packet(d, &pk);
		return BT_OK;
	}
	d->st.other++;
	return rc;
}

/* ---- life cycle ------------------------------------------------------------ */

int bt_dec_init(struct bt_dec *d, const struct bt_dec_cfg *cfg,
		const struct bt_dec_cb *cb, void *ctx)
{
	struct bt_flow_cb fcb = {
		.deliver = fl_deliver, .event = fl_event, .release = fl_release,
	};
	size_t nb = 16;

	memset(d, 0, sizeof *d);
	if (cfg)
		d->cfg = *cfg;
	if (cb)
		d->cb = *cb;
	d->ctx = ctx;
	if (!d->cfg.max_msg_len)
		d->cfg.max_msg_len = BT_FRAMER_DEFAULT_MAX;
	if (!d->cfg.max_scan)
		d->cfg.max_scan = BT_DEC_DEF_SCAN;
	if (!d->cfg.mem_budget)
		d->cfg.mem_budget = BT_DEC_DEF_BUDGET;
	if (!d->cfg.max_http_body)
		d->cfg.max_http_body = BT_DEC_DEF_HTTP;
	if (!d->cfg.max_udp_conv)
		d->cfg.max_udp_conv = BT_DEC_DEF_UDPCONV;
	if (d->cfg.nforce > BT_DEC_MAX_FORCE)
		d->cfg.nforce = BT_DEC_MAX_FORCE;
	d->udp = calloc(1, sizeof *d->udp);
	d->query = calloc(1, sizeof *d->query);
	d->peers = calloc(BT_DEC_TRK_PEERS, sizeof *d->peers);
	d->pinfo = calloc(BT_DEC_TRK_PEERS, sizeof *d->pinfo);
	if (!d->udp || !d->query || !d->peers || !d->pinfo)
		goto fail;
	while (nb < d->cfg.max_udp_conv)
		nb *= 2;
	d->udp->cap = d->cfg.max_udp_conv;
	d->udp->nb = nb;
	d->udp->v = calloc(d->udp->cap, sizeof *d->udp->v);
	d->udp->b = calloc(nb, sizeof *d->udp->b);
	if (!d->udp->v || !d->udp->b)
		goto fail;
	if (bt_flow_init(&d->flows, &d->cfg.flow, &fcb, d) != 0)
		goto fail;
	return 0;
fail:
	bt_dec_free(d);
	return -ENOMEM;
}

void bt_dec_expire(struct bt_dec *d, uint64_t before_us)
{
	bt_flow_expire(&d->flows, before_us);
}

void bt_dec_finish(struct bt_dec *d)
{
	bt_flow_flush(&d->flows);
}

void bt_dec_free(struct bt_dec *d)
{
	if (d->flows.bucket)
		bt_flow_free(&d->flows);
	if (d->udp) {
		for (size_t i = 0; i < d->udp->n; i++)
			for (int k = 0; k < UDP_PEND; k++)
				pend_clear(d, &d->udp->v[i].pend[k]);
		free(d->udp->v);
		free(d->udp->b);
		free(d->udp);
	}
	free(d->query);
	free(d->peers);
	free(d->pinfo);
	memset(d, 0, sizeof *d);
}

/* ---- announce queries ------------------------------------------------------ */

static bool key_is(const char *k, size_t kl, const char *w)
{
	return strlen(w) == kl && memcmp(k, w, kl) == 0;
}

static void q_int(struct bt_dec_query *q, int64_t *dst, const char *v, size_t vl)
{
	uint64_t x;

	if (parse_u64((const uint8_t *)v, vl, &x) && x <= INT64_MAX)
		*dst = (int64_t)x;
	else if (!q->bad)
		q->bad = "a number parameter is not a decimal number";
}

void bt_dec_query_parse(struct bt_dec_query *q, const char *s, size_t n)
{
	size_t i = 0;

	memset(q, 0, sizeof *q);
	q->port = q->uploaded = q->downloaded = q->left = q->numwant = -1;
	q->compact = q->no_peer_id = q->corrupt = q->redundant = -1;
	q->supportcrypto = q->requirecrypto = -1;
	q->event = -1;
	while (i < n) {
		size_t a = i, e, eq;
		const char *k, *v;
		size_t kl, vl;

		while (i < n && s[i] != '&')
			i++;
		e = i++;
		if (e == a)
			continue;
		eq = a;
		while (eq < e && s[eq] != '=')
			eq++;
		k = s + a;
		kl = eq - a;
		v = eq < e ? s + eq + 1 : s + e;
		vl = eq < e ? e - eq - 1 : 0;
		if (key_is(k, kl, "info_hash") || key_is(k, kl, "peer_id")) {
			uint8_t buf[64];
			long dl = vl <= sizeof buf * 3 ?
				  bt_url_decode(v, vl, buf, sizeof buf, NULL) : BT_ETOOBIG;
			bool ih = kl == 9;

			if (dl != 20) {
				if (!q->bad)
					q->bad = dl == BT_EINVAL ? "bad percent-escape in info_hash or peer_id" :
						 ih ? "info_hash is not 20 bytes" :
						 "peer_id is not 20 bytes";
				if (ih)
					q->nhash++;
				continue;
			}
			if (ih) {
				if (q->nhash < BT_DEC_MAX_HASHES)
					memcpy(q->hashes[q->nhash], buf, 20);
				q->nhash++;
			} else {
				memcpy(q->peer_id, buf, 20);
				q->have_peer_id = true;
			}
		} else if (key_is(k, kl, "port")) {
			q_int(q, &q->port, v, vl);
		} else if (key_is(k, kl, "uploaded")) {
			q_int(q, &q->uploaded, v, vl);
		} else if (key_is(k, kl, "downloaded")) {
			q_int(q, &q->downloaded, v, vl);
		} else if (key_is(k, kl, "left")) {
			q_int(q, &q->left, v, vl);
		} else if (key_is(k, kl, "numwant")) {
			q_int(q, &q->numwant, v, vl);
		} else if (key_is(k, kl, "compact")) {
			q_int(q, &q->compact, v, vl);
		} else if (key_is(k, kl, "no_peer_id")) {
			q_int(q, &q->no_peer_id, v, vl);
		} else if (key_is(k, kl, "corrupt")) {
			q_int(q, &q->corrupt, v, vl);
		} else if (key_is(k, kl, "redundant")) {
			q_int(q, &q->redundant, v, vl);
		} else if (key_is(k, kl, "supportcrypto")) {
			q_int(q, &q->supportcrypto, v, vl);
		} else if (key_is(k, kl, "requirecrypto")) {
			q_int(q, &q->requirecrypto, v, vl);
		} else if (key_is(k, kl, "event")) {
			q->event_s = v;
			q->event_len = vl;
			q->event = bt_trk_event_parse(v, vl);
			if (q->event < 0)
				q->event = -2;
		} else if (key_is(k, kl, "key")) {
			q->key = v;
			q->key_len = vl;
		} else if (key_is(k, kl, "ip")) {
			q->ip = v;
			q->ip_len = vl;
		} else if (key_is(k, kl, "trackerid")) {
			q->trackerid = v;
			q->trackerid_len = vl;
		} else {
			q->unknown++;
		}
	}
}

/* ---- output ------------------------------------------------------------------ */

char *bt_dec_flow_tag(const struct bt_dec_flow *f, char *buf, size_t cap)
{
	char a[BT_ADDR_STRLEN], b[BT_ADDR_STRLEN];

	ep_str(&f->ep[0], a, sizeof a);
	ep_str(&f->ep[1], b, sizeof b);
	snprintf(buf, cap, "#%" PRIu64 " %s -> %s", f->id, a, b);
	return buf;
}

char *bt_dec_abs_time(uint64_t ts_us, char *buf, size_t cap)
{
	time_t sec = (time_t)(ts_us / 1000000);
	struct tm tm;
	char d[40];

	if (!localtime_r(&sec, &tm)) {
		snprintf(buf, cap, "%" PRIu64 ".%06u", ts_us / 1000000,
			 (unsigned)(ts_us % 1000000));
		return buf;
	}
	strftime(d, sizeof d, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%06u", d, (unsigned)(ts_us % 1000000));
	return buf;
}

/* Text we wrote or already escaped: as is in text, escaped in JSON. */
static void safe_str(struct bt_out *o, const char *key, const char *label,
		     const char *s)
{
	if (o->json) {
		bt_out_str(o, key, NULL, s);
	} else if (label) {
		bt_out_text(o, label);
		bt_out_text(o, s);
	}
}

/* A flag: JSON true, text a fixed phrase. */
static void flag(struct bt_out *o, const char *key, const char *text)
{
	bt_out_bool(o, key, NULL, true);
	bt_out_text(o, text);
}

static void ep_field(struct bt_out *o, const char *key, const char *label,
		     const struct bt_flow_ep *e)
{
	char b[BT_ADDR_STRLEN];

	ep_str(e, b, sizeof b);
	safe_str(o, key, label, b);
}

/* The time column of our own records, as the printer writes it. */
static void put_t(struct bt_out *o, enum bt_dec_time tm, uint64_t t_us,
		  uint64_t ts_us)
{
	char num[48], col[64];

	if (tm == BT_DEC_TIME_NONE)
		return;
	if (o->json) {
		bt_out_fixed(o, "t", NULL, (int64_t)t_us, 3);
		if (tm == BT_DEC_TIME_ABS)
			bt_out_str(o, "ts", NULL, bt_dec_abs_time(ts_us, num, sizeof num));
		return;
	}
	if (tm == BT_DEC_TIME_ABS) {
		bt_dec_abs_time(ts_us, num, sizeof num);
		snprintf(col, sizeof col, "%s ", num + 11);  /* HH:MM:SS.us */
	} else {
		snprintf(num, sizeof num, "%" PRIu64 ".%03u", t_us / 1000,
			 (unsigned)(t_us % 1000));
		snprintf(col, sizeof col, "%9s ", num);
	}
	bt_out_text(o, col);
}

static void put_client(struct bt_out *o, const struct bt_dec_dirsum *s)
{
	char c[BT_PEERID_STRLEN];

	if (s->hs) {
		bt_out_bytes(o, "peer_id", " peer_id '", s->peer_id, 20);
		bt_out_text(o, "'");
		bt_peerid_client(s->peer_id, c, sizeof c);
		if (strncmp(c, "unknown", 7) == 0)
			c[7] = '\0';
		safe_str(o, "client", " (", c);
		bt_out_text(o, ")");
	}
	if (s->v_len) {
		bt_out_bytes(o, "v", " v '", s->v, s->v_len);
		bt_out_text(o, "'");
	}
}

void bt_dec_print_flow_start(struct bt_out *o, const struct bt_dec_flow *f,
			     enum bt_dec_time tm)
{
	char b[64];

	bt_out_begin(o);
	bt_out_str(o, "kind", NULL, "flow");
	bt_out_uint(o, "flow", "flow #", f->id);
	ep_field(o, "src", " ", &f->ep[0]);
	ep_field(o, "dst", " -> ", &f->ep[1]);
	bt_out_str(o, "proto", " ", bt_dec_kind_name(f->kind));
	if (tm != BT_DEC_TIME_NONE) {
		bt_out_str(o, "start", " start ", bt_dec_abs_time(f->first_us, b, sizeof b));
		bt_out_uint(o, "start_us", NULL, f->first_us);
	}
	if (f->forced)
		flag(o, "forced", " (forced by -d)");
	bt_out_end(o);
}

static const int count_order[] = {
	BT_DEC_C_HANDSHAKE, 20, 5, 14, 15, 4, 0, 1, 2, 3, 6, 7, 8, 16,
	17, 13, 9, 21, 22, 23, BT_DEC_C_KEEPALIVE, BT_DEC_C_UNKNOWN,
	BT_DEC_C_MALFORMED, -1,
};

static void put_counts(struct bt_out *o, const uint64_t *count)
{
	bool first = true;

	bt_out_obj_begin(o, "counts", NULL);
	for (int i = 0; count_order[i] >= 0; i++) {
		uint64_t v = count[count_order[i]];
		char lab[40];

		if (!v)
			continue;
		snprintf(lab, sizeof lab, "%s%s ", first ? ": " : ", ",
			 bt_dec_count_name(count_order[i]));
		bt_out_uint(o, bt_dec_count_name(count_order[i]), lab, v);
		first = false;
	}
	bt_out_obj_end(o);
}

static void put_dirsum(struct bt_out *o, const struct bt_dec_flow *f, int dir)
{
	const struct bt_dec_dirsum *s = &f->d[dir];

	bt_out_text(o, dir == BT_DIR_OUT ? "\n  ->" : "\n  <-");
	bt_out_obj_begin(o, dir == BT_DIR_OUT ? "out" : "in", NULL);
	put_client(o, s);
	bt_out_uint(o, "pkts", " ", s->pkts);
	bt_out_uint(o, "bytes", " pkts, ", s->bytes);
	bt_out_text(o, " bytes");
	if (s->gap_bytes)
		bt_out_uint(o, "gap_bytes", ", lost ", s->gap_bytes);
	if (s->skipped)
		bt_out_uint(o, "skipped", ", not decoded ", s->skipped);
	if (s->mse)
		bt_out_uint(o, "mse_bytes", ", MSE/PE ", s->enc_bytes);
	if (s->mse) {
		bt_out_bool(o, "plain_after_mse", NULL, s->plain_after_mse);
		bt_out_text(o, s->plain_after_mse ? " (then plaintext)" : " (encrypted)");
	}
	if (s->midstream)
		flag(o, "midstream", ", mid-stream start");
	if (f->kind == BT_DEC_PEER) {
		bt_out_uint(o, "msgs", ", ", s->msgs);
		bt_out_text(o, " msgs");
		put_counts(o, s->count);
	}
	if (s->count[BT_MSG_PIECE]) {
		bt_out_uint(o, "pieces", "; ", s->pieces);
		bt_out_uint(o, "piece_bytes", " pieces, ", s->piece_bytes);
		bt_out_text(o, " block bytes");
		if (s->pieces_untracked)
			bt_out_uint(o, "pieces_untracked", " (blocks of untracked pieces ",
				    s->pieces_untracked);
		if (s->pieces_untracked)
			bt_out_text(o, ")");
	}
	if (s->fin)
		flag(o, "fin", ", closed");
	if (s->rst)
		flag(o, "rst", ", reset");
	bt_out_obj_end(o);
}

void bt_dec_print_flow_end(struct bt_out *o, const struct bt_dec_flow *f,
			   enum bt_dec_time tm)
{
	uint64_t dur = f->last_us > f->first_us ? f->last_us - f->first_us : 0;
	uint64_t hs = 0, fp = 0;

	bt_out_begin(o);
	bt_out_str(o, "kind", NULL, "flow-end");
	bt_out_uint(o, "flow", "flow #", f->id);
	ep_field(o, "src", " ", &f->ep[0]);
	ep_field(o, "dst", " -> ", &f->ep[1]);
	if (f->kind == BT_DEC_UNDECODED) {
		bt_out_str(o, "proto", NULL, bt_dec_kind_name(f->kind));
		safe_str(o, "reason", " not decoded: ", f->reason ? f->reason : "?");
	} else {
		bt_out_str(o, "proto", " end ", bt_dec_kind_name(f->kind));
		if (f->reason)
			safe_str(o, "reason", " (", f->reason);
		if (f->reason)
			bt_out_text(o, ")");
	}
	if (tm != BT_DEC_TIME_NONE) {
		bt_out_fixed(o, "duration_ms", ", ", (int64_t)dur, 3);
		bt_out_text(o, " ms");
	}
	if (f->kind == BT_DEC_UNDECODED) {
		bt_out_uint(o, "bytes_out", ", ", f->d[0].bytes);
		bt_out_uint(o, "bytes_in", " + ", f->d[1].bytes);
		bt_out_text(o, " bytes");
		if (f->d[0].gap_bytes + f->d[1].gap_bytes)
			bt_out_uint(o, "gap_bytes", ", lost ",
				    f->d[0].gap_bytes + f->d[1].gap_bytes);
		bt_out_end(o);
		return;
	}
	if (f->gaps)
		bt_out_uint(o, "gaps", ", gaps ", f->gaps);
	if (f->conflicts)
		bt_out_uint(o, "conflicts", ", conflicting retransmissions ", f->conflicts);
	if (f->kind == BT_DEC_HTTP_TRACKER) {
		bt_out_uint(o, "requests", ", requests ", f->trk_requests);
		bt_out_uint(o, "responses", ", responses ", f->trk_responses);
	}
	put_dirsum(o, f, BT_DIR_OUT);
	put_dirsum(o, f, BT_DIR_IN);
	if (f->kind == BT_DEC_PEER && (f->nchokes || tm != BT_DEC_TIME_NONE)) {
		if (f->nchokes) {
			bt_out_text(o, "\n  chokes:");
			bt_out_arr_begin(o, "chokes", NULL);
			for (size_t i = 0; i < f->nchokes; i++) {
				const struct bt_dec_choke *c = &f->chokes[i];

				bt_out_obj_begin(o, NULL, NULL);
				bt_out_text(o, c->dir == BT_DIR_OUT ? " ->" : " <-");
				bt_out_str(o, "dir", NULL, c->dir == BT_DIR_OUT ? "out" : "in");
				bt_out_str(o, "state", " ", c->choke ? "choke" : "unchoke");
				if (tm != BT_DEC_TIME_NONE)
					bt_out_fixed(o, "t", " ", (int64_t)(c->ts_us - f->first_us), 3);
				bt_out_obj_end(o);
			}
			bt_out_arr_end(o);
			if (f->chokes_more)
				bt_out_uint(o, "chokes_more", " ... and ", f->chokes_more);
		}
		for (int i = 0; i < 2; i++) {
			if (f->d[i].t_hs && (!hs || f->d[i].t_hs < hs))
				hs = f->d[i].t_hs;
			if (f->d[i].t_first_piece && (!fp || f->d[i].t_first_piece < fp))
				fp = f->d[i].t_first_piece;
		}
		if (hs && fp && fp >= hs && tm != BT_DEC_TIME_NONE) {
			bt_out_fixed(o, "first_piece_ms", "\n  first piece ",
				     (int64_t)(fp - hs), 3);
			bt_out_text(o, " ms after the first handshake");
		}
	}
	bt_out_end(o);
}

static void put_tag(struct bt_out *o, const struct bt_dec_trk *t)
{
	char b[32];

	snprintf(b, sizeof b, "%s%" PRIu64, t->udp ? "U" : "#", t->conv);
	bt_out_str(o, "peer", "", b);
	bt_out_text(o, " ");
	bt_out_str(o, "dir", NULL, t->dir == BT_DIR_IN ? "in" : "out");
	bt_out_text(o, t->dir == BT_DIR_IN ? "<- " : "-> ");
}

static void put_peer_id(struct bt_out *o, const uint8_t id[20])
{
	char c[BT_PEERID_STRLEN];

	bt_out_bytes(o, "peer_id", " peer_id '", id, 20);
	bt_out_text(o, "'");
	bt_peerid_client(id, c, sizeof c);
	if (strncmp(c, "unknown", 7) == 0)
		c[7] = '\0';
	safe_str(o, "client", " (", c);
	bt_out_text(o, ")");
}

static void q_num(struct bt_out *o, const char *key, int64_t v)
{
	char lab[32];

	if (v < 0)
		return;
	snprintf(lab, sizeof lab, " %s ", key);
	bt_out_int(o, key, lab, v);
}

static void q_view(struct bt_out *o, const char *key, const char *v, size_t n)
{
	char lab[32];

	if (!v)
		return;
	snprintf(lab, sizeof lab, " %s '", key);
	bt_out_bytes(o, key, lab, v, n);
	bt_out_text(o, "'");
}

static void put_query(struct bt_out *o, const struct bt_dec_query *q)
{
	if (q->scrape || q->nhash != 1) {
		bt_out_uint(o, "nhashes", " info_hashes ", q->nhash);
		bt_out_arr_begin(o, "info_hashes", NULL);
		for (size_t i = 0; i < q->nhash && i < BT_DEC_MAX_HASHES; i++)
			bt_out_hex(o, NULL, " ", q->hashes[i], 20);
		bt_out_arr_end(o);
	} else {
		bt_out_hex(o, "info_hash", " info_hash ", q->hashes[0], 20);
	}
	if (q->have_peer_id)
		put_peer_id(o, q->peer_id);
	q_num(o, "port", q->port);
	q_num(o, "uploaded", q->uploaded);
	q_num(o, "downloaded", q->downloaded);
	q_num(o, "left", q->left);
	if (q->event_s) {
		if (q->event >= 0)
			bt_out_str(o, "event", " event ", bt_trk_event_name(q->event));
		else
			q_view(o, "event", q->event_s, q->event_len);
	}
	q_num(o, "numwant", q->numwant);
	q_num(o, "compact", q->compact);
	q_num(o, "no_peer_id", q->no_peer_id);
	q_num(o, "supportcrypto", q->supportcrypto);
	q_num(o, "requirecrypto", q->requirecrypto);
	q_num(o, "corrupt", q->corrupt);
	q_num(o, "redundant", q->redundant);
	q_view(o, "key", q->key, q->key_len);
	q_view(o, "ip", q->ip, q->ip_len);
	q_view(o, "trackerid", q->trackerid, q->trackerid_len);
	if (q->unknown)
		bt_out_uint(o, "unknown_params", " other params ", q->unknown);
	if (q->bad) {
		bt_out_arr_begin(o, "problems", NULL);
		safe_str(o, NULL, " !! ", q->bad);
		bt_out_arr_end(o);
	}
}

static const char *udp_what(int kind)
{
	switch (kind) {
	case BT_DEC_TRK_UDP_CONNECT:
	case BT_DEC_TRK_UDP_CONNECTED:     return "connect";
	case BT_DEC_TRK_UDP_ANNOUNCE:
	case BT_DEC_TRK_UDP_ANNOUNCE_RESP: return "announce";
	case BT_DEC_TRK_UDP_SCRAPE:
	case BT_DEC_TRK_UDP_SCRAPE_RESP:   return "scrape";
	case BT_DEC_TRK_UDP_ERROR:         return "error";
	}
	return "udp";
}

static void put_udp(struct bt_out *o, const struct bt_dec_trk *t)
{
	char b[64];

	if (t->kind == BT_DEC_TRK_UDP_OTHER || t->rc != BT_OK) {
		bt_print_trk_error_fields(o, NULL, udp_what(t->kind), t->url, &t->err);
		return;
	}
	switch (t->kind) {
	case BT_DEC_TRK_UDP_CONNECT:
		bt_out_str(o, "kind", "", "connect-request");
		bt_out_str(o, "url", " ", t->url);
		break;
	case BT_DEC_TRK_UDP_CONNECTED:
		bt_out_str(o, "kind", "", "connect");
		bt_out_str(o, "url", " ", t->url);
		snprintf(b, sizeof b, "0x%016" PRIx64, t->connection_id);
		bt_out_str(o, "connection_id", " connection_id ", b);
		break;
	case BT_DEC_TRK_UDP_ANNOUNCE: {
		const struct bt_udp_announce *a = t->uann;

		bt_out_str(o, "kind", "", "announce-request");
		bt_out_str(o, "url", " ", t->url);
		bt_out_hex(o, "info_hash", " info_hash ", a->info_hash, 20);
		put_peer_id(o, a->peer_id);
		bt_out_uint(o, "port", " port ", a->port);
		bt_out_uint(o, "uploaded", " uploaded ", a->uploaded);
		bt_out_uint(o, "downloaded", " downloaded ", a->downloaded);
		bt_out_uint(o, "left", " left ", a->left);
		if (bt_trk_event_name((int)a->event) && a->event <= 3)
			bt_out_str(o, "event", " event ", bt_trk_event_name((int)a->event));
		else
			bt_out_uint(o, "event", " event ", a->event);
		bt_out_int(o, "numwant", " numwant ", a->num_want);
		snprintf(b, sizeof b, "%08" PRIx32, a->key);
		bt_out_str(o, "key", " key ", b);
		if (a->ip)
			bt_out_uint(o, "ip", " ip ", a->ip);
		if (a->url_data_set) {
			bt_out_bytes(o, "url_data", " url_data '", a->url_data, a->url_data_len);
			bt_out_text(o, "'");
		}
		snprintf(b, sizeof b, "0x%016" PRIx64, a->connection_id);
		bt_out_str(o, "connection_id", " connection_id ", b);
		break;
	}
	case BT_DEC_TRK_UDP_SCRAPE:
		bt_out_str(o, "kind", "", "scrape-request");
		bt_out_str(o, "url", " ", t->url);
		bt_out_uint(o, "nhashes", " info_hashes ", t->nhashes);
		bt_out_arr_begin(o, "info_hashes", NULL);
		for (size_t i = 0; i < t->nhashes && i < BT_DEC_MAX_HASHES; i++)
			bt_out_hex(o, NULL, " ", t->hashes[i], 20);
		bt_out_arr_end(o);
		break;
	case BT_DEC_TRK_UDP_ANNOUNCE_RESP:
		bt_print_udp_announce_fields(o, NULL, t->url, t->uresp);
		break;
	case BT_DEC_TRK_UDP_SCRAPE_RESP:
		bt_print_udp_scrape_fields(o, NULL, t->url, t->hashes ? t->nhashes : t->nsentries,
					   t->nsentries);
		break;
	case BT_DEC_TRK_UDP_ERROR:
		bt_print_trk_failure_fields(o, NULL, "error", t->url, t->errmsg, t->errmsg_len);
		break;
	}
	snprintf(b, sizeof b, "%08" PRIx32, t->tid);
	bt_out_str(o, "tid", " tid ", b);
	if (t->dir == BT_DIR_IN && !t->matched) {
		bt_out_bool(o, "matched", NULL, false);
		bt_out_text(o, " (no request seen)");
	}
	if (t->kind == BT_DEC_TRK_UDP_ANNOUNCE_RESP)
		bt_print_trk_peers(o, NULL, t->peers, NULL, t->npeers);
	else if (t->kind == BT_DEC_TRK_UDP_SCRAPE_RESP)
		bt_print_udp_scrape_files(o, NULL, t->hashes, t->hashes ? t->nhashes : 0,
					  t->sentries, t->nsentries);
}

void bt_dec_print_trk(struct bt_out *o, const struct bt_dec_trk *t,
		      enum bt_dec_time tm)
{
	bt_out_begin(o);
	put_t(o, tm, t->t_us, t->ts_us);
	put_tag(o, t);
	if (t->udp) {
		put_udp(o, t);
		bt_out_end(o);
		return;
	}
	if (t->kind == BT_DEC_TRK_HTTP_REQ) {
		bt_out_str(o, "kind", "", t->scrape ? "scrape-request" : "announce-request");
		bt_out_bytes(o, "method", " ", t->method, t->method_len);
		bt_out_str(o, "url", " ", t->url);
		put_query(o, t->q);
		bt_out_end(o);
		return;
	}
	bt_out_int(o, "http_status", "HTTP ", t->status);
	if (t->chunked)
		flag(o, "chunked", " chunked");
	if (t->inflated)
		bt_out_bytes(o, "content_encoding", " ", t->content_encoding,
			     t->content_encoding_len);
	bt_out_text(o, " ");
	if (t->note) {
		bt_out_str(o, "kind", "", t->scrape ? "scrape" : "announce");
		bt_out_str(o, "url", " ", t->url);
		safe_str(o, "note", ": ", t->note);
		if (t->content_encoding) {
			bt_out_bytes(o, "content_encoding", " (", t->content_encoding,
				     t->content_encoding_len);
			bt_out_text(o, ")");
		}
		bt_out_uint(o, "body_len", ", body ", t->body_len);
		bt_out_text(o, " bytes");
	} else if (t->rc != BT_OK) {
		bt_print_trk_error_fields(o, NULL, t->scrape ? "scrape" : "announce",
					  t->url, &t->err);
	} else if (t->scrape) {
		bt_print_trk_scrape_fields(o, NULL, t->url, t->scrape_resp);
		bt_print_trk_scrape_files(o, NULL, t->scrape_resp);
	} else {
		bt_print_trk_announce_fields(o, NULL, t->url, t->resp);
		if (!t->resp->failure)
			bt_print_trk_peers(o, NULL, t->peers, t->info, t->npeers);
	}
	bt_out_end(o);
}

static void kv(struct bt_out *o, const char *key, const char *label, uint64_t v)
{
	bt_out_uint(o, key, label, v);
}

void bt_dec_print_stats(struct bt_out *o, const struct bt_dec *d)
{
	const struct bt_dec_stats *s = &d->st;
	static const char *const pn[BT_DEC_NPROBLEMS] = {
		NULL, "truncated", "truncated_payload", "malformed", "linktype",
		"fragment", "nomem",
	};
	uint64_t dur = s->last_us > s->first_us ? s->last_us - s->first_us : 0;

	bt_out_begin(o);
	bt_out_str(o, "kind", NULL, "stats");
	kv(o, "packets", "stats: ", s->pkts);
	kv(o, "cap_bytes", " packets, ", s->cap_bytes);
	kv(o, "wire_bytes", " bytes captured of ", s->wire_bytes);
	bt_out_text(o, " on the wire");
	bt_out_fixed(o, "duration_ms", ", ", (int64_t)dur, 3);
	bt_out_text(o, " ms");
	kv(o, "ipv4", "\n  IPv4 ", s->ipv4);
	kv(o, "ipv6", ", IPv6 ", s->ipv6);
	kv(o, "tcp", ", TCP ", s->tcp);
	kv(o, "udp", ", UDP ", s->udp);
	kv(o, "other", ", other ", s->other);
	kv(o, "flows", "\n  flows ", s->flows);
	kv(o, "flows_peer", ": bittorrent ", s->flows_peer);
	kv(o, "flows_http", ", http tracker ", s->flows_http);
	kv(o, "flows_undecoded", ", not decoded ", s->flows_undecoded);
	kv(o, "flows_empty", ", without payload ", s->flows_empty);
	kv(o, "flows_mse", "; MSE/PE ", s->flows_mse);
	kv(o, "flows_mse_plain", " (then plaintext ", s->flows_mse_plain);
	bt_out_text(o, ")");
	kv(o, "flows_midstream", ", mid-stream ", s->flows_midstream);
	kv(o, "messages", "\n  messages ", s->msgs);
	put_counts(o, s->count);
	kv(o, "events", "\n  events ", s->events);
	kv(o, "trk_http", ", tracker HTTP records ", s->trk_http);
	kv(o, "trk_udp", ", UDP packets ", s->trk_udp);
	kv(o, "udp_convs", " in conversations ", s->udp_convs);
	kv(o, "gaps", "\n  gaps ", s->gaps);
	kv(o, "gap_bytes", " (bytes ", s->gap_bytes);
	bt_out_text(o, ")");
	bt_out_obj_begin(o, "problems", NULL);
	for (int i = 1; i < BT_DEC_NPROBLEMS; i++) {
		char lab[40];

		if (!s->problems[i])
			continue;
		snprintf(lab, sizeof lab, ", %s ", pn[i]);
		kv(o, pn[i], lab, s->problems[i]);
	}
	bt_out_obj_end(o);
	kv(o, "mem_peak", "\n  decoder memory peak ", s->mem_peak);
	bt_out_text(o, " bytes");
	if (s->mem_refused)
		kv(o, "mem_refused", ", flows refused for memory ", s->mem_refused);
	bt_out_end(o);
}
