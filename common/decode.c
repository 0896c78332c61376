/* decode.c — the capture decoder.  See decode.h.
 *
 * Frames go through pkt.h; TCP segments into a flow table (flow.h) whose
 * callbacks land here; UDP datagrams to udpdec.h.  Each direction of a TCP
 * flow is a little state machine:
 *
 *   DETECT  the stream's first bytes are kept until they say what the
 *           flow is (sniff.h: peer wire, HTTP, MSE/PE, something else)
 *   SCAN    looking for a message boundary to trust: after a mid-stream
 *           start, a gap, a framing error, or an MSE/PE key exchange
 *   PEER    the framer (wire.h) cuts messages; each becomes an event
 *   SKIP    inside a message damaged by a gap whose end is known
 *   HTTP    tracker requests or responses, through the flow's httpdec.h
 *   DEAD    nothing more to decode; bytes are only counted
 *
 * This file holds what needs a flow's state: the states above, the
 * events they make, the flow's summary counters.  Tests on bytes alone
 * are in sniff.c, HTTP in httpdec.c, UDP in udpdec.c, decryption with a
 * key log in msedec.c, text in decprint.c.
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

#include "ext.h"
#include "httpdec.h"
#include "msedec.h"
#include "sniff.h"

enum { S_DETECT = 0, S_SCAN, S_PEER, S_SKIP, S_HTTP, S_DEAD };
enum { SCAN_MIDSTREAM = 1, SCAN_GAP, SCAN_ERROR, SCAN_MSE };

#define MSE_MIN BT_SNIFF_DH_LEN   /* an MSE/PE key exchange starts so */

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
	uint8_t *pbits;         /* piece indexes seen in piece messages */
	size_t pcap;
};

struct dflow {
	struct bt_dec_flow pub;
	struct bt_dec *dec;     /* for callbacks from httpdec */
	struct ddir d[2];
	bool started, finished;
	bool rst_pending;
	int rst_dir;
	uint64_t syn_ts[2];     /* SYN, SYN-ACK */
	uint64_t rst_ts;
	struct bt_httpdec *http; /* HTTP (either direction), from the budget */
	struct bt_msedec *mse;  /* a key-log line matched; NULL once it was
				   refuted (from the budget) */
	const char *key_why;    /* why a line was not used (static) */
};

/* ---- memory -------------------------------------------------------------- */

/* Every buffer of every flow, through the one budget (budget.h). */
static void *mem_alloc(struct bt_dec *d, size_t n)
{
	return bt_budget_alloc(&d->mem, n);
}

static void *mem_grow(struct bt_dec *d, void *p, size_t old, size_t n)
{
	return bt_budget_grow(&d->mem, p, old, n);
}

static void mem_free(struct bt_dec *d, void *p, size_t n)
{
	bt_budget_free(&d->mem, p, n);
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

/* ---- handshake text ------------------------------------------------------- */

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
	int sn;

	if (n == 0)
		return final ? C_NOT : C_NEED;
	sn = bt_sniff_http(b, n);
	if (sn == BT_SNIFF_HTTP_REQ || sn == BT_SNIFF_HTTP_RESP)
		return sn == BT_SNIFF_HTTP_RESP ? C_HTTP_RESP : C_HTTP_REQ;
	if (sn == BT_NEED_MORE && !final)
		return C_NEED;
	if (fl->pub.d[dir].midstream)
		return C_MID;
	sn = bt_sniff_peer(b, n, final);
	if (sn == 1)
		return C_HS;
	if (peer_side(fl, !dir) || fl->pub.forced)
		return b[0] == 0 ? C_MSGS : C_HS;
	if (sn == BT_NEED_MORE)
		return C_NEED;
	if (bt_sniff_tls(b, n))
		return C_NOT;
	if (fl->pub.d[!dir].mse && !fl->pub.d[!dir].plain_after_mse)
		return C_MSE;
	if (n >= MSE_MIN)
		return bt_sniff_dh_key(b, MSE_MIN) ? C_MSE : C_NOT;
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
			undecodable(d, fl, dir, bt_sniff_tls(s->sbuf, s->slen) ?
				    "not BitTorrent (TLS)" : "not BitTorrent");
			return false;
		}
	}
	for (;;) {
		/* A plain handshake ends any scan but a gap's (it cannot be
		 * in the middle of a conversation). */
		h = -1;
		if (s->scan_why == SCAN_MSE || s->scan_why == SCAN_MIDSTREAM)
			h = bt_sniff_handshake(s->sbuf, s->slen,
					       s->scan_why == SCAN_MSE &&
					       s->sbase == s->scan_from ? MSE_MIN : 0);
		if (h >= 0)
			return scan_found(d, fl, dir, (size_t)h, true, ts, t);
		r = bt_sniff_boundary(s->sbuf, s->slen, s->spos, min,
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
	if (bt_sniff_msg(tail, tl + nt, d->cfg.max_msg_len, &sz) != 1)
		return false;
	if (nn && bt_sniff_msg(next, nn, d->cfg.max_msg_len, &sz) == 1)
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

/* ---- HTTP trackers (httpdec.h) ------------------------------------------- */

/* A record from the flow's HTTP decoder: the first request that names an
 * announce or scrape makes the flow a tracker's (flow_start first). */
static void http_rec(void *ctx, const struct bt_dec_trk *t)
{
	struct dflow *fl = ctx;
	struct bt_dec *d = fl->dec;

	set_kind(d, fl, BT_DEC_HTTP_TRACKER, NULL);
	if (t->kind == BT_DEC_TRK_HTTP_REQ)
		fl->pub.trk_requests++;
	else
		fl->pub.trk_responses++;
	d->st.trk_http++;
	if (d->cb.trk)
		d->cb.trk(d->ctx, &fl->pub, t);
}

/* The direction carries HTTP: one decoder serves both directions (it
 * pairs answers with requests).  false if out of memory. */
static bool http_start(struct bt_dec *d, struct dflow *fl, int dir)
{
	struct ddir *s = &fl->d[dir];

	if (!fl->http) {
		fl->http = mem_alloc(d, sizeof *fl->http);
		if (!fl->http) {
			d->st.mem_refused++;
			undecodable(d, fl, dir, "memory cap (too many flows at once)");
			return false;
		}
		bt_httpdec_init(fl->http, &d->mem, d->cfg.max_http_body,
				fl->pub.id, fl->pub.first_us, fl->pub.ep, http_rec, fl);
	}
	s->st = S_HTTP;
	return true;
}

static void http_free(struct bt_dec *d, struct dflow *fl)
{
	if (!fl->http)
		return;
	bt_httpdec_free(fl->http);
	mem_free(d, fl->http, sizeof *fl->http);
	fl->http = NULL;
}

/* After the HTTP decoder had bytes or an end: did it give up? */
static void http_check(struct bt_dec *d, struct dflow *fl, int dir)
{
	struct bt_httpdec *h = fl->http;

	if (h->not_tracker) {
		/* Web traffic: neither direction is ours to decode. */
		undecodable(d, fl, dir, "HTTP, not a tracker request");
		if (fl->d[!dir].st == S_HTTP || fl->d[!dir].st == S_DETECT)
			undecodable(d, fl, !dir, "HTTP, not a tracker request");
		http_free(d, fl);
		return;
	}
	if (h->dead[dir] && fl->d[dir].st == S_HTTP) {
		fl->d[dir].st = S_DEAD;
		if (!fl->pub.reason)
			fl->pub.reason = h->dead[dir];
	}
}

static size_t http_input(struct bt_dec *d, struct dflow *fl, int dir,
			 const uint8_t *p, size_t n, uint64_t ts)
{
	size_t used = bt_httpdec_feed(fl->http, dir, p, n, ts);

	fl->d[dir].off += used;
	http_check(d, fl, dir);
	return used;
}

/* ---- MSE/PE with a key log (msedec.h) ------------------------------------- *
 *
 * A flow with a key-log line gives its bytes to its msedec instead of to
 * detection; what comes back is the timeline (MSE steps as notes), where
 * each side's payload starts (a framer expecting a handshake there, at the
 * captured stream's offset), and the plaintext, which goes through the
 * same states as any stream.  A refuted key hands the bytes back, and the
 * flow goes on as if it had no line. */

static void feed_plain(struct bt_dec *d, struct dflow *fl, int dir,
		       const uint8_t *p, size_t n, uint64_t ts);

static void mse_ev(void *ctx, const struct bt_msedec_ev *ev)
{
	struct dflow *fl = ctx;
	struct bt_dec *d = fl->dec;
	struct bt_msedec *x = fl->mse;
	struct bt_event e;
	int i;

	switch (ev->kind) {
	case BT_MSEDEC_STEP:
		memset(&e, 0, sizeof e);
		e.kind = BT_EV_NOTE;
		e.err = (int)ev->step;
		e.declared_len = ev->detail;
		e.stream_off = ev->off;
		e.why = ev->why;
		emit(d, fl, ev->dir, &e, ev->ts);
		break;
	case BT_MSEDEC_CONFIRMED:
		for (i = 0; i < 2; i++)
			fl->pub.d[i].mse = fl->pub.d[i].decrypted = true;
		set_kind(d, fl, BT_DEC_PEER, NULL);
		break;
	case BT_MSEDEC_PAYLOAD:
		if (ev->dir != x->a)
			fl->pub.mse_select = x->select;
		peer_start(d, fl, ev->dir, ev->off, true);
		break;
	case BT_MSEDEC_PLAIN:
	case BT_MSEDEC_REPLAY:
		feed_plain(d, fl, ev->dir, ev->p, ev->n, ev->ts);
		break;
	case BT_MSEDEC_DEAD:
		i = ev->dir;
		if (fl->d[i].st != S_PEER && fl->d[i].st != S_SKIP &&
		    fl->d[i].st != S_SCAN)
			fl->d[i].st = S_DEAD;
		if (!fl->pub.reason)
			fl->pub.reason = "MSE/PE decryption failed (see the note)";
		break;
	case BT_MSEDEC_REFUTED:
		fl->key_why = ev->why;
		if (x->replay_lost) {
			/* too much came to hand back: say what it was */
			for (i = 0; i < 2; i++) {
				fl->pub.d[i].mse = true;
				fl->pub.d[i].enc_bytes += x->opaque[i];
				fl->d[i].off += x->opaque[i];
				undecodable(d, fl, i, "encrypted (MSE/PE)");
			}
		}
		break;
	}
}

/* A line for this flow?  Its msedec, from the budget, if so. */
static void mse_begin(struct bt_dec *d, struct dflow *fl)
{
	const struct bt_keylog_entry *e;
	struct bt_msedec *x;
	const char *why = NULL;
	bool a_first;
	int rc;

	e = bt_keylog_take(&d->keys, &fl->pub.ep[0], &fl->pub.ep[1], &a_first);
	if (!e)
		return;
	d->st.flows_keyed++;
	x = mem_alloc(d, sizeof *x);
	if (!x) {
		fl->key_why = "encrypted (MSE/PE); key log line not used: memory cap";
		return;
	}
	rc = bt_msedec_init(x, e, a_first, bt_keylog_find_skey, &d->keys, &d->mem,
			    d->scratch, mse_ev, fl, &why);
	if (rc != BT_OK) {
		fl->key_why = rc == BT_EUNSUPP ?
			"encrypted (MSE/PE); not decrypted: no RC4 (OpenSSL legacy provider)" :
			"encrypted (MSE/PE); key log line not used: MSE set-up failed";
		bt_msedec_free(x);
		mem_free(d, x, sizeof *x);
		return;
	}
	fl->mse = x;
}

static void mse_release(struct bt_dec *d, struct dflow *fl)
{
	if (!fl->mse)
		return;
	bt_msedec_free(fl->mse);
	mem_free(d, fl->mse, sizeof *fl->mse);
	fl->mse = NULL;
}

/* After each call into the flow's msedec: its counts into the summary; a
 * refuted one is dropped (the flow goes on without it). */
static void mse_after(struct bt_dec *d, struct dflow *fl)
{
	struct bt_msedec *x = fl->mse;

	if (x->confirmed)
		for (int i = 0; i < 2; i++)
			fl->pub.d[i].enc_bytes = x->opaque[i];
	if (x->refuted)
		mse_release(d, fl);
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
		bt_httpdec_gap(fl->http, dir);
		http_check(d, fl, dir);
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
	if (fl->mse) {
		bt_msedec_end(fl->mse, dir, ts);
		mse_after(d, fl);
	}
	if (s->st == S_DETECT || s->st == S_SCAN)
		drive(d, fl, dir, NULL, 0, ts, true, true);
	if (s->st == S_DETECT || s->st == S_SCAN)
		scan_give_up(d, fl, dir, ts);
	if (s->st == S_HTTP)
		bt_httpdec_end(fl->http, dir, ts);
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

/* Stream bytes of dir to its state machine; a direction that became the
 * peer wire may settle the other one. */
static void feed_plain(struct bt_dec *d, struct dflow *fl, int dir,
		       const uint8_t *p, size_t n, uint64_t ts)
{
	int before = fl->pub.kind;

	drive(d, fl, dir, p, n, ts, false, false);
	if (before != BT_DEC_PEER && fl->pub.kind == BT_DEC_PEER)
		settle_other(d, fl, dir, ts);
}

static void fl_deliver(void *ctx, struct bt_flow *f, int dir,
		       const uint8_t *data, size_t len, uint64_t ts)
{
	struct bt_dec *d = ctx;
	struct dflow *fl = f->user;
	struct bt_dec_dirsum *sm;

	if (!fl || fl->finished)
		return;
	sm = &fl->pub.d[dir];
	if (!sm->t_first)
		sm->t_first = ts;
	sm->t_last = ts;
	if (fl->mse) {
		if (fl->mse->dead[dir])
			fl->d[dir].off += len;
		bt_msedec_input(fl->mse, dir, data, len, ts);
		mse_after(d, fl);
	} else {
		feed_plain(d, fl, dir, data, len, ts);
	}
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
		fl->dec = d;
		fl->pub.id = f->id;
		fl->pub.ep[0] = f->ep[0];
		fl->pub.ep[1] = f->ep[1];
		fl->pub.first_us = info->ts_us;
		fl->pub.forced = forced_port(d, f->ep[0].port) ||
				 forced_port(d, f->ep[1].port);
		d->st.flows++;
		if (d->keys.n)
			mse_begin(d, fl);
		return;
	}
	if (!fl || fl->finished)
		return;
	switch (kind) {
	case BT_FLOW_EV_MIDSTREAM:
		fl->pub.d[dir].midstream = true;
		break;
	case BT_FLOW_EV_GAP:
		if (dir != 0 && dir != 1)
			break;
		if (fl->mse) {
			bt_msedec_gap(fl->mse, dir, info->len, info->ts_us);
			mse_after(d, fl);
		}
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
			fl->pub.reason = fl->key_why ? fl->key_why : "encrypted (MSE/PE)";
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
	if (fl->pub.d[0].decrypted)
		d->st.flows_decrypted++;
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
		s->st = S_DEAD;
	}
	http_free(d, fl);
	mse_release(d, fl);
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

/* ---- frames ------------------------------------------------------------------ */

/* UDP tracker records go to the caller as they are. */
static void udp_rec(void *ctx, const struct bt_dec_trk *t)
{
	struct bt_dec *d = ctx;

	if (d->cb.trk)
		d->cb.trk(d->ctx, NULL, t);
}

/* Counters kept by the parts, into st. */
static void sync_stats(struct bt_dec *d)
{
	d->st.mem_peak = d->mem.peak;
	d->st.trk_udp = d->udp.packets;
	d->st.udp_convs = d->udp.convs;
}

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
		sync_stats(d);
		return rc;
	}
	if (pk.l4 == BT_PKT_UDP) {
		d->st.udp++;
		if (rc == BT_NEED_MORE) {
			problem(d, BT_DEC_P_TRUNC_PAYLOAD, &pk, linktype, caplen, wirelen, ts_us);
			return rc;
		}
		bt_udpdec_packet(&d->udp, &pk, udp_rec, d);
		sync_stats(d);
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
		d->cfg.max_http_body = BT_HTTPDEC_DEF_BODY;
	if (!d->cfg.max_udp_conv)
		d->cfg.max_udp_conv = BT_UDPDEC_DEF_CONV;
	if (d->cfg.nforce > BT_DEC_MAX_FORCE)
		d->cfg.nforce = BT_DEC_MAX_FORCE;
	d->mem.cap = d->cfg.mem_budget;
	if (bt_udpdec_init(&d->udp, &d->mem, d->cfg.max_udp_conv, d->cfg.force_port,
			   d->cfg.nforce) != 0 ||
	    bt_flow_init(&d->flows, &d->cfg.flow, &fcb, d) != 0) {
		bt_dec_free(d);
		return -ENOMEM;
	}
	return 0;
}

int bt_dec_keylog_add(struct bt_dec *d, const char *line, size_t len,
		      const char **why)
{
	int rc;

	if (!d->scratch && !(d->scratch = malloc(BT_MSEDEC_SCRATCH)))
		return BT_ENOSPC;
	rc = bt_keylog_add(&d->keys, line, len, why);
	if (rc == BT_OK)
		d->st.keys++;
	return rc;
}

void bt_dec_expire(struct bt_dec *d, uint64_t before_us)
{
	bt_flow_expire(&d->flows, before_us);
	sync_stats(d);
}

void bt_dec_finish(struct bt_dec *d)
{
	bt_flow_flush(&d->flows);
	sync_stats(d);
}

void bt_dec_free(struct bt_dec *d)
{
	if (d->flows.bucket)
		bt_flow_free(&d->flows);
	bt_udpdec_free(&d->udp);
	bt_keylog_free(&d->keys);
	free(d->scratch);
	memset(d, 0, sizeof *d);
}
