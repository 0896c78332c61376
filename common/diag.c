/* diag.c — verdicts from a timeline of events.  See diag.h. */
#include "diag.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ext.h"
#include "mse.h"

#define DEF_ANNOUNCE_WAIT_US 1000000u
#define DEF_UNCHOKE_WAIT_US  1000000u
#define DEF_ANSWER_WAIT_US   2000000u

enum { RQ_PENDING, RQ_ANSWERED, RQ_REJECTED, RQ_CANCELLED, RQ_DROPPED };

static const struct { enum bt_verdict_id id; const char *name; } names[] = {
	{ BT_V_CONNECT_REFUSED, "connect-refused" },
	{ BT_V_CONNECT_TIMEOUT, "connect-timeout" },
	{ BT_V_CONNECT_FAILED, "connect-failed" },
	{ BT_V_ENCRYPTED, "encrypted" },
	{ BT_V_OUR_PSTRLEN, "our-pstrlen" },
	{ BT_V_OUR_PSTR, "our-protocol-string" },
	{ BT_V_SHORT_PEER_ID, "short-peer-id" },
	{ BT_V_SHORT_HANDSHAKE, "short-handshake" },
	{ BT_V_OUR_INFO_HASH, "our-info-hash" },
	{ BT_V_NO_HANDSHAKE, "no-handshake" },
	{ BT_V_CLOSED_ON_HANDSHAKE, "closed-on-handshake" },
	{ BT_V_RESET_ON_HANDSHAKE, "reset-on-handshake" },
	{ BT_V_OTHER_INFO_HASH, "other-info-hash" },
	{ BT_V_PEER_HANDSHAKE, "peer-handshake" },
	{ BT_V_NO_PIECES, "no-pieces" },
	{ BT_V_NOT_INTERESTED, "not-interested" },
	{ BT_V_NEVER_UNCHOKED, "never-unchoked" },
	{ BT_V_REQUEST_TOO_BIG, "request-too-big" },
	{ BT_V_REQUEST_CHOKED, "request-while-choked" },
	{ BT_V_REQUEST_NOT_HAVE, "request-not-have" },
	{ BT_V_REJECTED, "rejected" },
	{ BT_V_CHOKE_DROPPED, "choke-dropped-requests" },
	{ BT_V_IGNORED, "requests-ignored" },
	{ BT_V_MALFORMED, "malformed" },
	{ BT_V_PEER_CLOSED, "peer-closed" },
	{ BT_V_REQUIRES_ENCRYPTION, "requires-encryption" },
	{ BT_V_MSE_REFUSED, "mse-refused" },
	{ BT_V_MSE_FAILED, "mse-failed" },
	{ BT_V_BAD_BITFIELD, "bad-bitfield" },
	{ BT_V_HAVE_RANGE, "have-out-of-range" },
	{ BT_V_UNREQUESTED, "unrequested-piece" },
	{ BT_V_STALLED, "stalled-mid-message" },
};

const char *bt_verdict_name(enum bt_verdict_id id)
{
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].id == id)
			return names[i].name;
	return "unknown";
}

/* ---- feeding ------------------------------------------------------------ */

void bt_diag_init(struct bt_diag *d, const struct bt_diag_opts *o)
{
	memset(d, 0, sizeof *d);
	if (o)
		d->o = *o;
	if (!d->o.announce_wait_us)
		d->o.announce_wait_us = DEF_ANNOUNCE_WAIT_US;
	if (!d->o.unchoke_wait_us)
		d->o.unchoke_wait_us = DEF_UNCHOKE_WAIT_US;
	if (!d->o.answer_wait_us)
		d->o.answer_wait_us = DEF_ANSWER_WAIT_US;
	d->first_out_after_hs = -2;
	d->last_out_id = -2;
	d->first_in_id = -2;
	d->reqq = -1;
	d->cur.pad = -1;
}

void bt_diag_free(struct bt_diag *d)
{
	free(d->bits);
	d->bits = NULL;
	d->bits_cap = 0;
}

void bt_diag_end(struct bt_diag *d, uint64_t t_us)
{
	d->t_end = t_us;
}

void bt_diag_partial(struct bt_diag *d, uint64_t have, uint64_t need)
{
	d->partial_have = have;
	d->partial_need = have ? need : 0;
	d->t_partial = d->t_last;
}

static void copy_why(char *dst, size_t cap, const char *why)
{
	if (!why) {
		dst[0] = 0;
		return;
	}
	bt_escape_text(why, strlen(why), dst, cap);
}

/* The peer's piece bitmap: make room for piece i; false past the cap. */
static bool bits_room(struct bt_diag *d, uint64_t i)
{
	size_t need, cap;
	uint8_t *b;

	if (i >= BT_DIAG_MAX_PIECES)
		return false;
	need = (size_t)(i / 8 + 1);
	if (need <= d->bits_cap)
		return true;
	cap = d->bits_cap ? d->bits_cap : 64;
	while (cap < need)
		cap *= 2;
	if (cap > BT_DIAG_MAX_PIECES / 8)
		cap = BT_DIAG_MAX_PIECES / 8;
	b = realloc(d->bits, cap);
	if (!b)
		return false;
	memset(b + d->bits_cap, 0, cap - d->bits_cap);
	d->bits = b;
	d->bits_cap = cap;
	return true;
}

static bool bit_get(const struct bt_diag *d, uint64_t i)
{
	return i / 8 < d->bits_cap && (d->bits[i / 8] >> (7 - i % 8) & 1);
}

/* The bits of byte i of a bitfield that stand for pieces (all of them
 * when the piece count is unknown). */
static uint8_t piece_mask(uint64_t piece_count, uint64_t i)
{
	if (!piece_count || (i + 1) * 8 <= piece_count)
		return 0xff;
	if (i * 8 >= piece_count)
		return 0;
	return (uint8_t)(0xff << (8 - piece_count % 8));
}

static unsigned popcount8(uint8_t b)
{
	return (unsigned)__builtin_popcount(b);
}

/* A bitfield with spare bits set or of the wrong length (BEP 3): the
 * first one is the evidence. */
static void bad_bitfield(struct bt_diag *d, uint64_t t, uint64_t len, uint64_t spare)
{
	if (d->bad_bitfield)
		return;
	d->bad_bitfield = true;
	d->t_bad_bitfield = t;
	d->bad_bitfield_len = len;
	d->spare_set = spare;
}

void bt_diag_set_piece_count(struct bt_diag *d, uint32_t piece_count)
{
	uint64_t i, past = 0, first = 0, set = 0;

	if (!piece_count || d->o.piece_count == piece_count)
		return;
	d->o.piece_count = piece_count;
	for (i = 0; i < d->bits_cap; i++) {
		uint8_t m = piece_mask(piece_count, i), b = d->bits[i];
		set += popcount8(b & m);
		if (b & (uint8_t)~m) {
			if (!past)
				first = i * 8 + (uint64_t)__builtin_clz((unsigned)(b & (uint8_t)~m)) - 24;
			past += popcount8(b & (uint8_t)~m);
		}
		d->bits[i] = b & m;
	}
	if (!d->have_all && d->announce != BT_MSG_HAVE_NONE)
		d->pieces_set = set;
	if (d->bitfield_bits &&
	    (past || d->bitfield_bits / 8 != ((uint64_t)piece_count + 7) / 8))
		bad_bitfield(d, d->t_announce, d->bitfield_bits / 8, past);
	else if (past && !d->have_range) {
		/* no bitfield: the bits came from haves */
		d->have_range = (uint32_t)past;
		d->have_range_first = (uint32_t)first;
		d->t_have_range = d->t_announce;
	}
}

/* Whether the peer announced piece i: 1 yes, 0 no, -1 unknown. */
static int peer_has(const struct bt_diag *d, uint32_t i)
{
	if (d->have_all)
		return 1;
	if (!d->announce)
		return -1;
	if (bit_get(d, i))
		return 1;
	if (d->announce == BT_MSG_HAVE && i >= BT_DIAG_MAX_PIECES)
		return -1;
	return 0;
}

static bool is_fast(const struct bt_diag *d, uint32_t i)
{
	size_t k;

	for (k = 0; k < d->nfast; k++)
		if (d->fast[k] == i)
			return true;
	return false;
}

static bool fast_negotiated(const struct bt_diag *d)
{
	uint8_t r[8] = { 0 };

	if (!d->peer_hs || !d->our_hs)
		return false;
	/* Our reserved bytes sit after the protocol string. */
	if (d->our_len >= 1u + d->our_raw[0] + 8u)
		memcpy(r, d->our_raw + 1 + d->our_raw[0], 8);
	return bt_reserved_has(r, BT_RSV_FAST) &&
	       bt_reserved_has(d->peer_reserved, BT_RSV_FAST);
}

static struct bt_diag_req *find_req(struct bt_diag *d, uint32_t index,
				    uint32_t begin, uint32_t length)
{
	size_t k;

	for (k = 0; k < d->nreq; k++) {
		struct bt_diag_req *r = &d->req[k];
		if (r->state == RQ_PENDING && r->index == index &&
		    r->begin == begin && r->length == length)
			return r;
	}
	/* A choke without the fast extension dropped it; a piece may still
	 * come (BEP 3 warns of pieces crossing a choke). */
	for (k = 0; k < d->nreq; k++) {
		struct bt_diag_req *r = &d->req[k];
		if (r->state == RQ_DROPPED && r->index == index &&
		    r->begin == begin && r->length == length)
			return r;
	}
	return NULL;
}

/* A request in state st for index and begin; with the same length, or
 * (same_len false) any length. */
static struct bt_diag_req *find_state(struct bt_diag *d, int st, uint32_t index,
				      uint32_t begin, uint32_t length, bool same_len)
{
	size_t k;

	for (k = 0; k < d->nreq; k++) {
		struct bt_diag_req *r = &d->req[k];
		if (r->state == st && r->index == index && r->begin == begin &&
		    (!same_len || r->length == length))
			return r;
	}
	return NULL;
}

static void msg_out(struct bt_diag *d, const struct bt_event *ev, const struct bt_msg *m)
{
	switch (m->kind) {
	case BT_MSG_INTERESTED:
		d->am_interested = true;
		if (!d->interested_ever) {
			d->interested_ever = true;
			d->t_interested = ev->t_us;
		}
		break;
	case BT_MSG_NOT_INTERESTED:
		d->am_interested = false;
		break;
	case BT_MSG_REQUEST:
		if (d->nreq < BT_DIAG_MAX_REQ) {
			struct bt_diag_req *r = &d->req[d->nreq++];
			memset(r, 0, sizeof *r);
			r->index = m->u.req.index;
			r->begin = m->u.req.begin;
			r->length = m->u.req.length;
			r->t_us = ev->t_us;
			r->choked = !d->unchoked && !is_fast(d, r->index);
			r->not_have = peer_has(d, r->index) == 0;
		} else {
			d->req_untracked++;
		}
		break;
	case BT_MSG_CANCEL: {
		struct bt_diag_req *r = find_req(d, m->u.req.index, m->u.req.begin,
						 m->u.req.length);
		if (r && r->state == RQ_PENDING) {
			r->state = RQ_CANCELLED;
			r->t_done = ev->t_us;
		}
		break;
	}
	default:
		break;
	}
}

static void announce(struct bt_diag *d, int kind, uint64_t t)
{
	if (!d->announce || d->announce == BT_MSG_HAVE_NONE) {
		if (!d->announce || kind != BT_MSG_HAVE_NONE) {
			d->announce = kind;
			d->t_announce = t;
		}
	}
}

static void msg_in(struct bt_diag *d, const struct bt_event *ev, const struct bt_msg *m)
{
	d->in_msgs++;
	if (d->first_in_id == -2) {
		d->first_in_id = m->id;
		d->t_first_in_msg = ev->t_us;
	}
	switch (m->kind) {
	case BT_MSG_BITFIELD: {
		size_t i, n = m->u.bitfield.len;
		uint64_t set = 0, spare = 0, pc = d->o.piece_count;
		/* With the piece count known, bits past it (spare bits, extra
		 * bytes) are neither pieces nor kept: BEP 3 violations. */
		if (n && bits_room(d, (uint64_t)n * 8 - 1 < BT_DIAG_MAX_PIECES ?
				   (uint64_t)n * 8 - 1 : BT_DIAG_MAX_PIECES - 1)) {
			size_t k = n < d->bits_cap ? n : d->bits_cap;
			for (i = 0; i < k; i++)
				d->bits[i] |= m->u.bitfield.bits[i] & piece_mask(pc, i);
		}
		for (i = 0; i < n; i++) {
			uint8_t b = m->u.bitfield.bits[i], mk = piece_mask(pc, i);
			set += popcount8(b & mk);
			spare += popcount8(b & (uint8_t)~mk);
		}
		if (pc && (spare || (uint64_t)n != (pc + 7) / 8))
			bad_bitfield(d, ev->t_us, n, spare);
		/* aria2 may send a bitfield again mid-connection: the
		 * bitmap is the union, the count the latest. */
		d->bitfield_bits = (uint64_t)n * 8;
		d->pieces_set = set;
		announce(d, BT_MSG_BITFIELD, ev->t_us);
		if (set && d->announce == BT_MSG_HAVE_NONE) {
			d->announce = BT_MSG_BITFIELD;
			d->t_announce = ev->t_us;
		}
		break;
	}
	case BT_MSG_HAVE_ALL:
		d->have_all = true;
		announce(d, BT_MSG_HAVE_ALL, ev->t_us);
		if (d->announce == BT_MSG_HAVE_NONE) {
			d->announce = BT_MSG_HAVE_ALL;
			d->t_announce = ev->t_us;
		}
		break;
	case BT_MSG_HAVE_NONE:
		announce(d, BT_MSG_HAVE_NONE, ev->t_us);
		break;
	case BT_MSG_HAVE:
		d->haves++;
		if (d->o.piece_count && m->u.index >= d->o.piece_count) {
			/* no such piece: not counted, not an announcement */
			if (!d->have_range++) {
				d->have_range_first = m->u.index;
				d->t_have_range = ev->t_us;
			}
			break;
		}
		if (!bit_get(d, m->u.index)) {
			if (bits_room(d, m->u.index))
				d->bits[m->u.index / 8] |= (uint8_t)(0x80u >> (m->u.index % 8));
			d->pieces_set++;
		}
		if (!d->announce || d->announce == BT_MSG_HAVE_NONE) {
			d->announce = BT_MSG_HAVE;
			d->t_announce = ev->t_us;
		}
		break;
	case BT_MSG_CHOKE: {
		size_t k;
		d->unchoked = false;
		d->t_choke = ev->t_us;
		d->chokes_in++;
		/* BEP 3: a choke discards the requests pending at the peer;
		 * BEP 6: with the fast extension they are rejected instead. */
		if (!fast_negotiated(d))
			for (k = 0; k < d->nreq; k++)
				if (d->req[k].state == RQ_PENDING) {
					d->req[k].state = RQ_DROPPED;
					d->req[k].t_done = ev->t_us;
				}
		break;
	}
	case BT_MSG_UNCHOKE:
		d->unchoked = true;
		if (!d->unchoked_ever) {
			d->unchoked_ever = true;
			d->t_unchoke = ev->t_us;
		}
		break;
	case BT_MSG_INTERESTED:
		d->peer_interested = true;
		break;
	case BT_MSG_NOT_INTERESTED:
		d->peer_interested = false;
		break;
	case BT_MSG_PIECE: {
		uint32_t len = m->u.piece.len > UINT32_MAX ? UINT32_MAX :
			       (uint32_t)m->u.piece.len;
		struct bt_diag_req *r = find_req(d, m->u.piece.index, m->u.piece.begin, len);
		d->pieces_in++;
		d->piece_bytes_in += m->u.piece.len;
		/* BEP 3: a cancel may cross the piece it cancels. */
		if (!r)
			r = find_state(d, RQ_CANCELLED, m->u.piece.index, m->u.piece.begin,
				       len, true);
		if (r) {
			r->state = RQ_ANSWERED;
			r->t_done = ev->t_us;
			if (!d->answered_in++)
				d->t_first_piece = ev->t_us;
		} else if (!d->req_untracked) {
			const struct bt_diag_req *same =
				find_state(d, RQ_PENDING, m->u.piece.index, m->u.piece.begin,
					   len, false);
			bool dup = find_state(d, RQ_ANSWERED, m->u.piece.index,
					      m->u.piece.begin, len, true) != NULL;
			d->dup_in += dup;
			if (!d->unexpected_in++) {
				d->unexp_index = m->u.piece.index;
				d->unexp_begin = m->u.piece.begin;
				d->unexp_len = len;
				d->t_unexp = ev->t_us;
				d->unexp_dup = dup;
				d->unexp_len_differs = !dup && same;
				d->unexp_asked_len = same ? same->length : 0;
			}
		}
		break;
	}
	case BT_MSG_REJECT: {
		struct bt_diag_req *r = find_req(d, m->u.req.index, m->u.req.begin,
						 m->u.req.length);
		d->rejects_in++;
		if (d->rejects_in == 1)
			d->t_first_reject = ev->t_us;
		if (r) {
			r->state = RQ_REJECTED;
			r->t_done = ev->t_us;
		}
		break;
	}
	case BT_MSG_ALLOWED_FAST:
		if (d->nfast < BT_DIAG_MAX_FAST && !is_fast(d, m->u.index))
			d->fast[d->nfast++] = m->u.index;
		break;
	case BT_MSG_EXTENDED:
		if (m->u.ext.id == BT_EXT_ID_HANDSHAKE && !d->ext_hs) {
			struct bt_ext_hs h;
			if (bt_ext_hs_parse(&h, m->u.ext.payload, m->u.ext.len, NULL) == BT_OK) {
				d->ext_hs = true;
				d->t_ext_hs = ev->t_us;
				if (h.have & BT_EXT_HAVE_V)
					bt_escape_text(h.v.p, h.v.len, d->client_v,
						       sizeof d->client_v);
				if (h.have & BT_EXT_HAVE_REQQ)
					d->reqq = h.reqq;
			}
		}
		break;
	default:
		break;
	}
}

void bt_diag_attempt_now(const struct bt_diag *d, struct bt_diag_attempt *a)
{
	*a = d->cur;
	a->connected = d->connected;
	a->connect_failed = d->connect_failed;
	a->our_hs = d->our_hs;
	a->peer_hs = d->peer_hs;
	a->closed = d->closed_in;
	a->reset = d->reset_in;
	a->t_our_hs = d->t_our_hs;
	a->in_bytes = d->in_bytes;
	if (d->closed_in || d->reset_in)
		a->t_end = d->t_closed_in;
	else if (d->connect_failed)
		a->t_end = d->t_connect_failed;
	else if (d->closed_out)
		a->t_end = d->t_closed_out;
	else
		a->t_end = d->t_end > d->t_last ? d->t_end : d->t_last;
}

/* A CONNECTING after the first: keep the attempt's summary, start over
 * for the next one (same options, same piece bitmap memory). */
static void new_attempt(struct bt_diag *d, uint64_t t)
{
	struct bt_diag_attempt att[BT_DIAG_MAX_ATTEMPTS];
	struct bt_diag_opts o = d->o;
	uint64_t t_last = d->t_last, t_end = d->t_end;
	size_t natt = d->natt, events = d->events;
	uint8_t *bits = d->bits;
	size_t bits_cap = d->bits_cap;

	if (natt == BT_DIAG_MAX_ATTEMPTS) {
		memmove(d->att, d->att + 1, (natt - 1) * sizeof d->att[0]);
		natt--;
	}
	bt_diag_attempt_now(d, &d->att[natt++]);
	memcpy(att, d->att, natt * sizeof att[0]);
	bt_diag_init(d, &o);
	memcpy(d->att, att, natt * sizeof att[0]);
	d->natt = natt;
	d->t_last = t_last;
	d->t_end = t_end;
	d->events = events;
	d->bits = bits;
	d->bits_cap = bits_cap;
	if (bits)
		memset(bits, 0, bits_cap);
	d->cur.t_start = t;
}

/* An MSE step (mse.h): a note whose err names it. */
static void mse_step(struct bt_diag *d, const struct bt_event *ev)
{
	struct bt_diag_attempt *a = &d->cur;

	switch (ev->err) {
	case BT_MSE_STEP_SENT_Y:
		a->mse = true;
		a->t_mse = ev->t_us;
		a->pad = ev->declared_len <= BT_MSE_PAD_MAX ? (int)ev->declared_len : -1;
		break;
	case BT_MSE_STEP_GOT_Y:
		a->mse_y = true;
		a->t_mse_y = ev->t_us;
		break;
	case BT_MSE_STEP_SELECTED:
		a->mse_done = true;
		a->mse_select = (uint32_t)ev->declared_len;
		a->t_mse_done = ev->t_us;
		break;
	case BT_MSE_STEP_FAILED:
	case BT_MSE_STEP_TIMEOUT:
		if (a->mse_failed || a->mse_timeout)
			break;
		if (ev->err == BT_MSE_STEP_FAILED) {
			a->mse_failed = true;
			a->mse_err = (int)ev->declared_len;
		} else {
			a->mse_timeout = true;
		}
		a->t_mse_failed = ev->t_us;
		copy_why(a->mse_why, sizeof a->mse_why, ev->why);
		break;
	case BT_MSE_STEP_REFUSED:
		/* The peer ended the attempt: as a FIN or RST would. */
		a->refused = true;
		if (!d->closed_in && !d->reset_in) {
			d->t_closed_in = ev->t_us;
			if (ev->declared_len) {
				d->reset_in = true;
				d->reset_err = (int)ev->declared_len;
			} else {
				d->closed_in = true;
			}
		}
		break;
	case BT_MSE_STEP_FALLBACK:
	case BT_MSE_STEP_PROBE:
		a->fallback = true;
		break;
	default:
		break;
	}
}

static uint64_t ev_len(const struct bt_event *ev)
{
	if (ev->raw)
		return ev->raw_len;
	if (ev->msg)
		return (uint64_t)ev->msg->len + 4;
	return 0;
}

void bt_diag_feed(struct bt_diag *d, const struct bt_event *ev)
{
	d->events++;
	if (ev->t_us > d->t_last)
		d->t_last = ev->t_us;
	if (ev->dir == BT_DIR_IN && ev->raw &&
	    ev->stream_off + ev->raw_len > d->in_bytes)
		d->in_bytes = ev->stream_off + ev->raw_len;

	switch (ev->kind) {
	case BT_EV_CONNECTING:
		if (d->started)
			new_attempt(d, ev->t_us);
		d->started = true;
		d->cur.t_start = ev->t_us;
		break;
	case BT_EV_NOTE:
		if (ev->err > 0)
			mse_step(d, ev);
		break;
	case BT_EV_GAP:
		break;
	case BT_EV_CONNECTED:
		d->connected = true;
		d->t_connected = ev->t_us;
		break;
	case BT_EV_CONNECT_FAILED:
		d->connect_failed = true;
		d->t_connect_failed = ev->t_us;
		d->connect_err = ev->err;
		break;
	case BT_EV_HANDSHAKE:
		if (!ev->hs)
			break;
		if (ev->dir == BT_DIR_OUT && !d->our_hs) {
			d->our_hs = true;
			d->t_our_hs = ev->t_us;
			if (ev->raw) {
				d->our_len = ev->raw_len < sizeof d->our_raw ?
					     ev->raw_len : sizeof d->our_raw;
				memcpy(d->our_raw, ev->raw, d->our_len);
			} else {
				/* A parsed handshake without its bytes:
				 * rebuild the standard form. */
				bt_handshake_encode(d->our_raw, ev->hs->reserved,
						    ev->hs->info_hash, ev->hs->peer_id);
				d->our_len = BT_HS_LEN;
			}
			memcpy(d->our_info_hash, ev->hs->info_hash, 20);
		} else if (ev->dir == BT_DIR_IN && !d->peer_hs) {
			d->peer_hs = true;
			d->t_peer_hs = ev->t_us;
			memcpy(d->peer_reserved, ev->hs->reserved, 8);
			memcpy(d->peer_info_hash, ev->hs->info_hash, 20);
			memcpy(d->peer_id, ev->hs->peer_id, 20);
			d->peer_hs_problems = ev->hs->problems;
			d->peer_pstrlen = ev->hs->pstrlen;
			if (!ev->raw && ev->stream_off + BT_HS_LEN > d->in_bytes)
				d->in_bytes = ev->stream_off + 1 + ev->hs->pstrlen + 48;
		}
		break;
	case BT_EV_MSG:
	case BT_EV_MALFORMED:
		if (ev->dir == BT_DIR_OUT) {
			if (d->our_hs) {
				if (d->out_msgs_after_hs == 0) {
					d->first_out_after_hs = ev->msg ? ev->msg->id : -2;
					d->t_first_out_after_hs = ev->t_us;
				}
				d->out_msgs_after_hs++;
				d->out_after_hs += ev_len(ev);
			}
			if (ev->msg) {
				d->last_out_id = ev->msg->id;
				d->t_last_out = ev->t_us;
			}
			if (ev->kind == BT_EV_MSG && ev->msg)
				msg_out(d, ev, ev->msg);
		} else {
			if (ev->kind == BT_EV_MSG && ev->msg) {
				msg_in(d, ev, ev->msg);
			} else if (!d->malformed_in) {
				d->malformed_in = true;
				d->t_malformed = ev->t_us;
				copy_why(d->malformed_why, sizeof d->malformed_why,
					 ev->why ? ev->why : (ev->msg ? ev->msg->bad : NULL));
			}
		}
		break;
	case BT_EV_CLOSED:
	case BT_EV_RESET:
		if (ev->dir == BT_DIR_IN) {
			if (!d->closed_in && !d->reset_in) {
				d->t_closed_in = ev->t_us;
				copy_why(d->closed_in_why, sizeof d->closed_in_why, ev->why);
				if (ev->stream_off > d->in_bytes)
					d->in_bytes = ev->stream_off;
			}
			if (ev->kind == BT_EV_RESET) {
				d->reset_in = true;
				d->reset_err = ev->err;
			} else {
				d->closed_in = true;
			}
		} else if (!d->closed_out) {
			d->closed_out = true;
			d->t_closed_out = ev->t_us;
		}
		break;
	case BT_EV_TIMEOUT:
		d->timeout = true;
		d->t_timeout = ev->t_us;
		copy_why(d->timeout_why, sizeof d->timeout_why, ev->why);
		break;
	case BT_EV_ENCRYPTED:
		if (!d->encrypted) {
			d->encrypted = true;
			d->t_encrypted = ev->t_us;
			d->encrypted_dir = ev->dir;
		}
		break;
	}
}

/* ---- verdicts ----------------------------------------------------------- */

struct vlist {
	struct bt_verdict *out;
	size_t cap, n;
	struct bt_verdict scratch;
};

/* "12.3 ms" */
static const char *ms(uint64_t us, char *b, size_t cap)
{
	snprintf(b, cap, "%" PRIu64 ".%" PRIu64 " ms", us / 1000, us % 1000 / 100);
	return b;
}

static struct bt_verdict *add(struct vlist *L, enum bt_verdict_id id, const char *rule,
			      bool problem, uint64_t t, enum bt_dir dir,
			      enum bt_ev_kind kind, int msg_id)
{
	struct bt_verdict *v = L->n < L->cap ? &L->out[L->n] : &L->scratch;

	L->n++;
	memset(v, 0, sizeof *v);
	v->id = id;
	v->name = bt_verdict_name(id);
	v->rule = rule;
	v->problem = problem;
	v->t_us = t;
	v->dir = dir;
	v->kind = kind;
	v->msg_id = msg_id;
	return v;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void cat(char *dst, size_t cap, const char *fmt, ...)
{
	size_t l = strlen(dst);
	va_list ap;

	if (l + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(dst + l, cap - l, fmt, ap);
	va_end(ap);
}

#define EVID(v, ...) snprintf((v)->evidence, sizeof (v)->evidence, __VA_ARGS__)
#define TEXT(v, ...) cat((v)->text, sizeof (v)->text, __VA_ARGS__)

/* When the connection stopped being observed. */
static uint64_t t_stop(const struct bt_diag *d, uint64_t end)
{
	uint64_t t = end;

	if ((d->closed_in || d->reset_in) && d->t_closed_in < t)
		t = d->t_closed_in;
	if (d->closed_out && d->t_closed_out < t)
		t = d->t_closed_out;
	return t;
}

/* What the peer did after time t, as the end of a sentence. */
static void reaction(const struct bt_diag *d, uint64_t t, uint64_t end, char *b, size_t cap)
{
	char m1[32];

	b[0] = 0;
	if (d->reset_in && d->t_closed_in >= t)
		cat(b, cap, "reset the connection %s later",
		    ms(d->t_closed_in - t, m1, sizeof m1));
	else if (d->closed_in && d->t_closed_in >= t)
		cat(b, cap, "closed the connection %s later",
		    ms(d->t_closed_in - t, m1, sizeof m1));
	else
		cat(b, cap, "had sent nothing back when the session ended %s later",
		    ms(t_stop(d, end) - t, m1, sizeof m1));
	if ((d->closed_in || d->reset_in) && d->in_bytes && !d->peer_hs)
		cat(b, cap, ", after sending %" PRIu64 " bytes", d->in_bytes);
}

struct hs_check {
	bool bad_len, bad_pstr, case_only, swapped;
	size_t len, expect, short_by, extra;
	bool short_id;
	size_t id_len;
};

static bool caseeq(const uint8_t *p, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t a = p[i], b = (uint8_t)s[i];
		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b + 32);
		if (a != b)
			return false;
	}
	return true;
}

static void check_ours(const struct bt_diag *d, struct hs_check *h)
{
	const uint8_t *r = d->our_raw;
	size_t n = d->our_len;

	memset(h, 0, sizeof *h);
	h->len = n;
	if (n == 0)
		return;
	h->expect = 1 + (size_t)r[0] + 48;
	h->bad_len = r[0] != BT_PSTR_LEN;
	if (n >= 1 + BT_PSTR_LEN && caseeq(r, BT_PSTR, BT_PSTR_LEN) &&
	    r[BT_PSTR_LEN] == BT_PSTR_LEN) {
		/* "BitTorrent protocol" then 19: the notes' field order */
		h->swapped = true;
		h->bad_pstr = memcmp(r, BT_PSTR, BT_PSTR_LEN) != 0;
		h->case_only = h->bad_pstr;
	} else if (n >= 1 + BT_PSTR_LEN) {
		h->bad_pstr = r[0] != BT_PSTR_LEN || memcmp(r + 1, BT_PSTR, BT_PSTR_LEN) != 0;
		h->case_only = r[0] == BT_PSTR_LEN && h->bad_pstr &&
			       caseeq(r + 1, BT_PSTR, BT_PSTR_LEN);
	} else {
		h->bad_pstr = true;
	}
	if (n < h->expect)
		h->short_by = h->expect - n;
	else
		h->extra = n - h->expect;
	if (!h->bad_len && n >= 48 && n < BT_HS_LEN) {
		h->short_id = true;
		h->id_len = n - 48;
	}
}

static const char *msgname(int id)
{
	return bt_msg_name(id);
}

static void hs_verdicts(struct vlist *L, const struct bt_diag *d, const struct hs_check *h,
			uint64_t end, bool answered)
{
	struct bt_verdict *v;
	char re[160], m1[32];

	if (answered) {
		char m2[32];
		snprintf(re, sizeof re, "answered anyway (its handshake came %s later)",
			 ms(d->t_peer_hs - d->t_our_hs, m2, sizeof m2));
	} else {
		reaction(d, d->t_our_hs, end, re, sizeof re);
	}
	if (h->swapped) {
		v = add(L, BT_V_OUR_PSTRLEN, "BEP 3, handshake: <19><\"BitTorrent protocol\">",
			!answered, d->t_our_hs, BT_DIR_OUT, BT_EV_HANDSHAKE, -1);
		EVID(v, "out handshake, %zu bytes, first byte 0x%02x", h->len, d->our_raw[0]);
		TEXT(v, "Our handshake starts with the protocol string and puts its length "
		     "byte (19) after it: the fields are out of order. The peer reads the "
		     "first byte, '%c' (%u), as the length of the protocol string, so "
		     "nothing after it is where the peer looks. The peer %s. Send the "
		     "byte 19 first, then \"BitTorrent protocol\".",
		     d->our_raw[0], d->our_raw[0], re);
	} else if (h->bad_len) {
		v = add(L, BT_V_OUR_PSTRLEN, "BEP 3, handshake: <19><\"BitTorrent protocol\">",
			!answered, d->t_our_hs, BT_DIR_OUT, BT_EV_HANDSHAKE, -1);
		EVID(v, "out handshake, %zu bytes, first byte %u", h->len, d->our_raw[0]);
		TEXT(v, "Our handshake's first byte, the length of the protocol string, is "
		     "%u, not 19. The peer %s.", d->our_raw[0], re);
	}
	if (h->bad_pstr) {
		v = add(L, BT_V_OUR_PSTR, "BEP 3, handshake: the string is \"BitTorrent protocol\"",
			!answered, d->t_our_hs, BT_DIR_OUT, BT_EV_HANDSHAKE, -1);
		EVID(v, "out handshake, %zu bytes", h->len);
		if (h->case_only)
			TEXT(v, "Our protocol string differs from \"BitTorrent protocol\" in "
			     "letter case (\"BitTorrent Protocol\" has a capital P): peers "
			     "compare the 19 bytes exactly and take anything else for another "
			     "protocol. The peer %s.", re);
		else
			TEXT(v, "Our protocol string is not \"BitTorrent protocol\"; peers "
			     "compare it byte for byte. The peer %s.", re);
		if (!answered && !d->closed_in && !d->reset_in)
			TEXT(v, " A peer that also accepts encrypted connections "
			     "(MSE/PE) takes bytes that are not <19>\"BitTorrent "
			     "protocol\" for the start of an encryption handshake and "
			     "waits, silently, for the rest of it (aria2 does).");
	}
	if (h->short_by && !h->swapped) {
		v = add(L, h->short_id ? BT_V_SHORT_PEER_ID : BT_V_SHORT_HANDSHAKE,
			"BEP 3, handshake: a 20-byte peer id ends the 68-byte handshake",
			true, d->t_our_hs, BT_DIR_OUT, BT_EV_HANDSHAKE, -1);
		EVID(v, "out handshake, %zu bytes of %zu", h->len, h->expect);
		if (h->short_id)
			TEXT(v, "Our handshake is %zu bytes, %zu short of the %zu the peer "
			     "expects: our peer id is %zu bytes, not 20. ",
			     h->len, h->short_by, h->expect, h->id_len);
		else
			TEXT(v, "Our handshake is %zu bytes, %zu short of the %zu its first "
			     "byte announces. ", h->len, h->short_by, h->expect);
		if (answered)
			TEXT(v, "The peer read our info-hash and answered with its own "
			     "handshake %s later, but it waits for the %zu missing bytes "
			     "before it sends anything else.",
			     ms(d->t_peer_hs - d->t_our_hs, m1, sizeof m1), h->short_by);
		else
			TEXT(v, "The peer waits for the %zu missing bytes before it "
			     "answers; it %s.", h->short_by, re);
		if (!d->out_after_hs) {
			if (answered)
				TEXT(v, " We sent nothing more, so from its side our "
				     "handshake never ended: that is why it sends "
				     "nothing after its handshake.");
		} else if (d->out_after_hs < h->short_by) {
			TEXT(v, " The %" PRIu64 " bytes we sent next (%zu message%s, "
			     "starting with %s at %s) were taken as more of the peer "
			     "id, not as messages; %" PRIu64 " bytes are still missing.",
			     d->out_after_hs, d->out_msgs_after_hs,
			     d->out_msgs_after_hs == 1 ? "" : "s",
			     msgname(d->first_out_after_hs),
			     ms(d->t_first_out_after_hs, m1, sizeof m1),
			     h->short_by - d->out_after_hs);
		} else {
			TEXT(v, " The first %zu of the %" PRIu64 " bytes we sent next "
			     "(%zu message%s, starting with %s at %s) completed the "
			     "peer id in its eyes, and it reads everything after them "
			     "from the wrong offset",
			     h->short_by, d->out_after_hs, d->out_msgs_after_hs,
			     d->out_msgs_after_hs == 1 ? "" : "s",
			     msgname(d->first_out_after_hs),
			     ms(d->t_first_out_after_hs, m1, sizeof m1));
			if (answered && d->in_msgs)
				TEXT(v, " (it went on to send %zu message%s, answering "
				     "garbage)", d->in_msgs, d->in_msgs == 1 ? "" : "s");
			TEXT(v, ".");
		}
		if (answered && (d->closed_in || d->reset_in))
			TEXT(v, " The peer %s the connection at %s.",
			     d->reset_in ? "reset" : "closed",
			     ms(d->t_closed_in, m1, sizeof m1));
		TEXT(v, " Send all 20 bytes of the peer id.");
	}
}

static void fmt_hash(const uint8_t h[20], char *b, size_t cap)
{
	bt_hex(h, 20, b, cap);
}

/* ---- encryption (MSE/PE) ------------------------------------------------ */

static const char *crypto_name(uint32_t m)
{
	return m == BT_MSE_CRYPTO_RC4 ? "RC4" : m == BT_MSE_CRYPTO_PLAIN ?
	       "plaintext" : "an unknown method";
}

/* The rule an MSE failure broke. */
static const char *mse_rule(const struct bt_diag_attempt *a)
{
	if (a->mse_timeout || !a->mse_failed)
		return a->mse_y ? "MSE/PE spec, step 4: the receiver answers "
				  "message 3 with the VC and crypto_select" :
				  "MSE/PE spec, step 2: the receiver answers Ya with Yb";
	switch (a->mse_err) {
	case BT_MSE_ERR_NO_RC4:
	case BT_MSE_ERR_LIB:
		return "MSE/PE spec: RC4 keyed from SHA-1 (OpenSSL legacy provider)";
	case BT_MSE_ERR_DH_KEY:
		return "MSE/PE spec: Y = G^X mod P, in [2, P-2]";
	case BT_MSE_ERR_NO_SYNC:
		return "MSE/PE spec, synchronisation: the encrypted VC within "
		       "512 + 8 bytes after Yb";
	case BT_MSE_ERR_VC:
		return "MSE/PE spec: VC is 8 zero bytes";
	case BT_MSE_ERR_SELECT:
	case BT_MSE_ERR_NO_METHOD:
		return "MSE/PE spec: crypto_select is one method of crypto_provide";
	case BT_MSE_ERR_PAD_LEN:
		return "MSE/PE spec: padding is 0 to 512 bytes";
	case BT_MSE_ERR_PLAIN_HS:
		return "MSE/PE spec, step 2: the receiver answers Ya with Yb";
	default:
		return "MSE/PE spec";
	}
}

/* The plain attempt dropped without a handshake back. */
static bool plain_dropped(const struct bt_diag_attempt *a)
{
	return !a->mse && !a->mse_failed && a->our_hs && !a->peer_hs &&
	       (a->closed || a->reset);
}

/* What went wrong with an MSE attempt that did not complete, as one
 * verdict; tail: what followed (fallback) or what to do. */
static void mse_verdict(struct vlist *L, const struct bt_diag_attempt *a,
			const struct bt_diag_attempt *next, bool final,
			const struct bt_diag_attempt *plain)
{
	struct bt_verdict *v;
	char m1[32], m2[32];
	bool refused = (a->closed || a->reset) && !a->mse_failed && !a->mse_timeout;
	const char *how = a->reset ? "reset" : "closed";

	if (refused) {
		v = add(L, BT_V_MSE_REFUSED, mse_rule(a), final, a->t_end, BT_DIR_IN,
			a->refused ? BT_EV_NOTE : a->reset ? BT_EV_RESET : BT_EV_CLOSED, -1);
		if (!a->mse_y) {
			EVID(v, "in %s, %s after our Ya, no Yb", how,
			     ms(a->t_end - a->t_mse, m1, sizeof m1));
			TEXT(v, "We opened with MSE/PE (our Ya");
			if (a->pad >= 0)
				TEXT(v, " and %d bytes of pad", a->pad);
			TEXT(v, ") and the peer %s the connection %s later without "
			     "sending its Yb%s: it does not accept encrypted connections "
			     "(libtorrent with encryption disabled does this).", how, m1,
			     a->in_bytes ? "" : " (not one byte)");
		} else {
			EVID(v, "in %s, %s after its Yb, no crypto_select", how,
			     ms(a->t_end - a->t_mse_y, m1, sizeof m1));
			TEXT(v, "The peer sent its Yb %s after our Ya, read our message 3 "
			     "(the info-hash as SKEY, our offer in crypto_provide, our "
			     "handshake as the IA) and %s the connection %s later without "
			     "a crypto_select: it accepts none of the methods we offered, "
			     "or does not serve the info-hash we named. (Transmission 3.00 "
			     "closes rather than select plaintext: offer RC4.)",
			     ms(a->t_mse_y - a->t_mse, m2, sizeof m2), how, m1);
		}
	} else {
		uint64_t t = a->mse_failed || a->mse_timeout ? a->t_mse_failed : a->t_end;
		v = add(L, BT_V_MSE_FAILED, mse_rule(a), final, t,
			a->mse_failed && a->mse_err != BT_MSE_ERR_NO_RC4 &&
			a->mse_err != BT_MSE_ERR_LIB ? BT_DIR_IN : BT_DIR_OUT,
			BT_EV_NOTE, -1);
		if (a->mse_failed) {
			EVID(v, "MSE failed: %.80s", a->mse_why);
			TEXT(v, "The MSE/PE handshake failed: %s.", a->mse_why);
		} else if (a->mse_timeout) {
			EVID(v, "MSE: no %s in %s", a->mse_y ? "crypto_select" : "Yb",
			     ms(t - a->t_mse, m1, sizeof m1));
			TEXT(v, "We opened with MSE/PE and the peer sent no %s in the %s "
			     "we allowed (%s).", a->mse_y ? "crypto_select" : "Yb", m1,
			     a->mse_why);
		} else {
			EVID(v, "out Ya, no %s in %s", a->mse_y ? "crypto_select" : "Yb",
			     ms(t - a->t_mse, m1, sizeof m1));
			TEXT(v, "We opened with MSE/PE and the peer sent no %s in the %s "
			     "until the session ended: a peer that speaks only plain "
			     "BitTorrent may wait for the rest of what it takes for a "
			     "handshake.", a->mse_y ? "crypto_select" : "Yb", m1);
		}
	}
	if (next && !next->mse) {
		TEXT(v, " We fell back to a plain connection at %s%s.",
		     ms(next->t_start, m1, sizeof m1),
		     next->peer_hs ? ", which the peer answered" : "");
	} else if (final && plain) {
		TEXT(v, " It dropped our plain handshake too (at %s): it refuses us "
		     "either way, so encryption is not the cause; it may not serve "
		     "this info-hash, or refuse our address.",
		     ms(plain->t_end, m1, sizeof m1));
	} else if (final) {
		TEXT(v, " Retry with --encryption=prefer (MSE first, plain if "
		     "refused) or off.");
	}
}

/* Verdicts over all attempts; false when the last attempt is explained
 * and nothing after it can be judged. */
static bool stage_encryption(struct vlist *L, const struct bt_diag *d)
{
	struct bt_diag_attempt all[BT_DIAG_MAX_ATTEMPTS + 1];
	const struct bt_diag_attempt *plain = NULL, *ok = NULL, *last;
	struct bt_verdict *v;
	char m1[32], m2[32], m3[32];
	size_t n = d->natt, i;

	memcpy(all, d->att, n * sizeof all[0]);
	bt_diag_attempt_now(d, &all[n++]);
	last = &all[n - 1];
	for (i = 0; i < n; i++) {
		if (!plain && plain_dropped(&all[i]))
			plain = &all[i];
		if (!ok && all[i].mse && all[i].mse_done && all[i].peer_hs)
			ok = &all[i];
	}
	if (plain && ok) {
		v = add(L, BT_V_REQUIRES_ENCRYPTION, "MSE/PE (Vuze Message Stream "
			"Encryption spec): a peer that requires encryption drops "
			"plaintext connections", true, plain->t_end, BT_DIR_IN,
			plain->refused ? BT_EV_NOTE : plain->reset ? BT_EV_RESET :
			BT_EV_CLOSED, -1);
		EVID(v, "in %s after our plain handshake; MSE answered at %s",
		     plain->reset ? "reset" : "closed", ms(ok->t_mse_done, m2, sizeof m2));
		ms(plain->t_end - plain->t_our_hs, m1, sizeof m1);
		TEXT(v, "The peer %s the connection %s after our plain handshake "
		     "without answering, and answered an MSE/PE attempt (%s "
		     "selected at %s, %s after our Ya, then its handshake): it "
		     "requires encryption and drops plaintext handshakes. Connect "
		     "with --encryption=prefer or require.",
		     plain->reset ? "reset" : "closed", m1,
		     crypto_name(ok->mse_select), m2,
		     ms(ok->t_mse_done - ok->t_mse, m3, sizeof m3));
		if (last == plain)
			return false;   /* the drop is explained */
	}
	/* Earlier MSE attempts that did not complete, each followed by a
	 * redial: remarks, or part of the story. */
	for (i = 0; i + 1 < n; i++) {
		const struct bt_diag_attempt *a = &all[i];
		if ((a->mse || a->mse_failed) && !a->mse_done && !a->connect_failed)
			mse_verdict(L, a, &all[i + 1], false, NULL);
	}
	if ((last->mse || (last->mse_failed && !last->fallback)) && !last->mse_done &&
	    !last->connect_failed) {
		mse_verdict(L, last, NULL, true, plain);
		return false;
	}
	if (last->mse_failed && last->fallback && !last->mse)   /* no RC4: plain */
		mse_verdict(L, last, NULL, false, NULL);
	return true;
}

/* Whether an MSE attempt of this run was refused or failed (so a plain
 * drop is not about encryption), and when. */
static const struct bt_diag_attempt *mse_refused_before(const struct bt_diag *d)
{
	size_t i;

	for (i = 0; i < d->natt; i++)
		if (d->att[i].mse && !d->att[i].mse_done)
			return &d->att[i];
	return NULL;
}

static bool stage_handshake(struct vlist *L, const struct bt_diag *d, uint64_t end)
{
	struct hs_check h;
	struct bt_verdict *v;
	const struct bt_diag_attempt *mref;
	char re[160], m1[32], m2[32], x1[48], x2[48];
	bool wrong_ih;

	check_ours(d, &h);
	wrong_ih = d->our_hs && d->o.have_info_hash &&
		   memcmp(d->our_info_hash, d->o.info_hash, 20) != 0;

	if (!d->peer_hs) {
		if (!d->our_hs) {
			if (d->connected && (d->closed_in || d->reset_in || end > d->t_connected)) {
				v = add(L, BT_V_NO_HANDSHAKE, "BEP 3, handshake", true,
					d->t_connected, BT_DIR_OUT, BT_EV_CONNECTED, -1);
				EVID(v, "connected");
				TEXT(v, "The TCP connection opened but neither side sent a "
				     "handshake; the initiator must send its handshake first.");
				return false;
			}
			return true;   /* nothing to judge (a capture mid-stream) */
		}
		reaction(d, d->t_our_hs, end, re, sizeof re);
		if (h.bad_len || h.bad_pstr || h.short_by)
			hs_verdicts(L, d, &h, end, false);
		if (wrong_ih) {
			v = add(L, BT_V_OUR_INFO_HASH,
				"BEP 3, handshake: both sides send the same info-hash or sever",
				true, d->t_our_hs, BT_DIR_OUT, BT_EV_HANDSHAKE, -1);
			fmt_hash(d->our_info_hash, x1, sizeof x1);
			fmt_hash(d->o.info_hash, x2, sizeof x2);
			EVID(v, "out handshake, info-hash %s", x1);
			TEXT(v, "We sent info-hash %s, but the torrent's is %s. A peer that "
			     "does not serve the info-hash it is given drops the connection "
			     "(BEP 3: \"If both sides don't send the same value, they sever "
			     "the connection\"). The peer %s.", x1, x2, re);
		}
		if (h.bad_len || h.bad_pstr || h.short_by || wrong_ih)
			return false;
		if (d->in_bytes) {
			v = add(L, BT_V_NO_HANDSHAKE, "BEP 3, handshake", true,
				t_stop(d, end), BT_DIR_IN,
				d->reset_in ? BT_EV_RESET : d->closed_in ? BT_EV_CLOSED :
				BT_EV_HANDSHAKE, -1);
			EVID(v, "%" PRIu64 " bytes received, no complete handshake",
			     d->in_bytes);
			TEXT(v, "The peer sent %" PRIu64 " bytes but never a complete "
			     "handshake%s%s%s; it %s.", d->in_bytes,
			     d->closed_in_why[0] ? " (" : "", d->closed_in_why,
			     d->closed_in_why[0] ? ")" : "", re);
		} else if ((d->reset_in || d->closed_in) && (mref = mse_refused_before(d))) {
			/* MSE was refused first (encryption "prefer"), now plain. */
			v = add(L, d->reset_in ? BT_V_RESET_ON_HANDSHAKE :
				BT_V_CLOSED_ON_HANDSHAKE,
				"BEP 3, handshake: both sides send the same info-hash or sever",
				true, d->t_closed_in, BT_DIR_IN, d->cur.refused ? BT_EV_NOTE :
				d->reset_in ? BT_EV_RESET : BT_EV_CLOSED, -1);
			EVID(v, "in %s, %s after our plain handshake",
			     d->reset_in ? "reset" : "closed",
			     ms(d->t_closed_in - d->t_our_hs, m1, sizeof m1));
			fmt_hash(d->our_info_hash, x1, sizeof x1);
			TEXT(v, "Our plain handshake looked right, and the peer %s the "
			     "connection %s later without answering; it dropped our "
			     "encrypted (MSE/PE) attempt at %s as well, so encryption is "
			     "not the cause. Most likely it does not serve info-hash %s "
			     "(BEP 3: a peer severs the connection when the info-hashes "
			     "differ), or it refuses a second connection from our address "
			     "(Transmission keeps one per IP).",
			     d->reset_in ? "reset" : "closed", m1,
			     ms(mref->t_start, m2, sizeof m2), x1);
		} else if (d->reset_in) {
			v = add(L, BT_V_RESET_ON_HANDSHAKE,
				"BEP 3, handshake; MSE/PE (encryption)", true,
				d->t_closed_in, BT_DIR_IN, d->cur.refused ? BT_EV_NOTE :
				BT_EV_RESET, -1);
			EVID(v, "in reset, %s after our plain handshake",
			     ms(d->t_closed_in - d->t_our_hs, m1, sizeof m1));
			TEXT(v, "Our handshake looked right, and the peer reset the "
			     "connection %s later without answering%s%s%s. Reset after "
			     "our plain handshake: it may require encryption - a peer that "
			     "only speaks encrypted (MSE/PE, \"require encryption\") drops "
			     "a plaintext handshake like this (retry with "
			     "--encryption=prefer). So does one that does not serve this "
			     "info-hash (BEP 3), or that refuses a second connection from "
			     "our address.", m1,
			     d->in_bytes ? " (it sent " : "",
			     d->in_bytes ? d->closed_in_why : "",
			     d->in_bytes ? ")" : "");
		} else if (d->closed_in) {
			v = add(L, BT_V_CLOSED_ON_HANDSHAKE,
				"BEP 3, handshake: both sides send the same info-hash or sever; "
				"MSE/PE (encryption)", true, d->t_closed_in, BT_DIR_IN,
				d->cur.refused ? BT_EV_NOTE : BT_EV_CLOSED, -1);
			EVID(v, "in closed, %s after our plain handshake",
			     ms(d->t_closed_in - d->t_our_hs, m1, sizeof m1));
			fmt_hash(d->our_info_hash, x1, sizeof x1);
			TEXT(v, "Our handshake looked right, and the peer closed the "
			     "connection %s later without answering%s%s%s. Closed after "
			     "our plain handshake: it may require encryption (MSE/PE; "
			     "retry with --encryption=prefer). Or it does not serve "
			     "info-hash %s (BEP 3: a peer severs the connection when the "
			     "info-hashes differ), or it refuses a second connection from "
			     "our address (Transmission keeps one per IP).", m1,
			     d->in_bytes ? " (" : "", d->in_bytes ? d->closed_in_why : "",
			     d->in_bytes ? ")" : "", x1);
		} else {
			v = add(L, BT_V_NO_HANDSHAKE, "BEP 3, handshake", true,
				d->t_our_hs, BT_DIR_OUT, BT_EV_HANDSHAKE, -1);
			EVID(v, "out handshake, no answer");
			TEXT(v, "The peer accepted the connection but did not answer our "
			     "handshake in the %s we waited. Some peers wait for the "
			     "encryption handshake (MSE/PE) first; an overloaded peer may "
			     "accept and never serve.",
			     ms(t_stop(d, end) - d->t_our_hs, m1, sizeof m1));
		}
		return false;
	}

	/* The peer answered. */
	if (d->our_hs && memcmp(d->peer_info_hash, d->our_info_hash, 20) != 0) {
		v = add(L, BT_V_OTHER_INFO_HASH,
			"BEP 3, handshake: both sides send the same info-hash or sever",
			true, d->t_peer_hs, BT_DIR_IN, BT_EV_HANDSHAKE, -1);
		fmt_hash(d->peer_info_hash, x1, sizeof x1);
		fmt_hash(d->our_info_hash, x2, sizeof x2);
		EVID(v, "in handshake, info-hash %s", x1);
		TEXT(v, "The peer answered with info-hash %s, not %s which we sent: "
		     "it speaks for another torrent, and BEP 3 says to sever such a "
		     "connection.", x1, x2);
		return false;
	}
	if (d->our_hs && h.short_by && !h.swapped) {
		hs_verdicts(L, d, &h, end, true);
		return false;
	}
	if (d->our_hs && (h.bad_len || h.bad_pstr))
		hs_verdicts(L, d, &h, end, true);
	if (wrong_ih) {
		v = add(L, BT_V_OUR_INFO_HASH, "BEP 3, handshake", true, d->t_our_hs,
			BT_DIR_OUT, BT_EV_HANDSHAKE, -1);
		fmt_hash(d->our_info_hash, x1, sizeof x1);
		fmt_hash(d->o.info_hash, x2, sizeof x2);
		EVID(v, "out handshake, info-hash %s", x1);
		TEXT(v, "We sent info-hash %s, not the torrent's %s, and the peer "
		     "serves that one: this session is about another torrent.", x1, x2);
	}
	if (d->peer_hs_problems) {
		v = add(L, BT_V_PEER_HANDSHAKE, "BEP 3, handshake", false, d->t_peer_hs,
			BT_DIR_IN, BT_EV_HANDSHAKE, -1);
		EVID(v, "in handshake, protocol string of %zu bytes", d->peer_pstrlen);
		TEXT(v, "The peer's handshake does not carry <19>\"BitTorrent protocol\"%s.",
		     (d->peer_hs_problems & BT_HS_PSTR_CASE) ? " (it differs in letter case)" : "");
	}
	return true;
}

/* Rules for requests: positive evidence, judged whatever the stages say. */
static bool stage_requests(struct vlist *L, const struct bt_diag *d, uint64_t end)
{
	const struct bt_diag_req *big = NULL, *choked = NULL, *nothave = NULL,
				 *rej = NULL, *drop = NULL, *ign = NULL;
	size_t nbig = 0, nchoked = 0, nnothave = 0, nrej = 0, ndrop = 0, nign = 0;
	size_t rej_choked = 0, rej_nothave = 0, rej_other = 0;
	uint64_t stop = t_stop(d, end);
	struct bt_verdict *v;
	char m1[32], m2[32];
	size_t k;
	bool any = false;

	for (k = 0; k < d->nreq; k++) {
		const struct bt_diag_req *r = &d->req[k];
		if (r->length > BT_BLOCK_LEN && !nbig++)
			big = r;
		if (r->choked && !nchoked++)
			choked = r;
		if (r->not_have && !nnothave++)
			nothave = r;
		if (r->state == RQ_REJECTED) {
			nrej++;
			rej_choked += r->choked;
			rej_nothave += r->not_have;
			/* Rejections the rules above explain are told there. */
			if (!r->choked && !r->not_have && r->length <= BT_BLOCK_LEN &&
			    !rej_other++)
				rej = r;
		}
		if (r->state == RQ_DROPPED && !ndrop++)
			drop = r;
		if (r->state == RQ_PENDING && !r->choked && r->length <= BT_BLOCK_LEN &&
		    stop - r->t_us >= d->o.answer_wait_us && !nign++)
			ign = r;
	}
	if (big) {
		v = add(L, BT_V_REQUEST_TOO_BIG,
			"BEP 3, request: clients use 2^14 (16 KiB) and close connections "
			"which request more", true, big->t_us, BT_DIR_OUT, BT_EV_MSG,
			BT_MSG_REQUEST);
		EVID(v, "out request piece %" PRIu32 " begin %" PRIu32 " length %" PRIu32,
		     big->index, big->begin, big->length);
		TEXT(v, "We requested %" PRIu32 " bytes in one request (%zu request%s "
		     "over 16384 bytes): a block is at most 16 KiB, so a whole-piece "
		     "request is invalid. ", big->length, nbig, nbig == 1 ? "" : "s");
		if (big->state == RQ_REJECTED)
			TEXT(v, "The peer rejected it %s later.",
			     ms(big->t_done - big->t_us, m1, sizeof m1));
		else if (big->state == RQ_ANSWERED)
			TEXT(v, "This peer served it anyway; others will not.");
		else if ((d->closed_in || d->reset_in) && d->t_closed_in >= big->t_us)
			TEXT(v, "The peer %s the connection %s later.",
			     d->reset_in ? "reset" : "closed",
			     ms(d->t_closed_in - big->t_us, m1, sizeof m1));
		else
			TEXT(v, "The peer ignored it (%s without an answer).",
			     ms(stop - big->t_us, m1, sizeof m1));
		TEXT(v, " Split the piece into 16 KiB requests.");
		v->problem = big->state != RQ_ANSWERED;
		any = v->problem;
	}
	if (choked) {
		v = add(L, BT_V_REQUEST_CHOKED,
			"BEP 3, choking: no data is sent to a choked peer; BEP 6: "
			"requests from a choked peer are rejected", true, choked->t_us,
			BT_DIR_OUT, BT_EV_MSG, BT_MSG_REQUEST);
		EVID(v, "out request piece %" PRIu32 " begin %" PRIu32, choked->index,
		     choked->begin);
		TEXT(v, "We sent %zu request%s while the peer was choking us (%s). A "
		     "peer discards requests from a peer it chokes (with the fast "
		     "extension it rejects them). Wait for unchoke before requesting.",
		     nchoked, nchoked == 1 ? "" : "s",
		     d->unchoked_ever ? "the unchoke came later" : "it never unchoked us");
		if (rej_choked)
			TEXT(v, " It rejected %zu of them.", rej_choked);
		any = true;
	}
	if (nothave) {
		v = add(L, BT_V_REQUEST_NOT_HAVE, "BEP 3, bitfield and have", true,
			nothave->t_us, BT_DIR_OUT, BT_EV_MSG, BT_MSG_REQUEST);
		EVID(v, "out request piece %" PRIu32, nothave->index);
		TEXT(v, "We requested piece %" PRIu32 " (%zu request%s for pieces the "
		     "peer never announced): it cannot serve what it does not have.",
		     nothave->index, nnothave, nnothave == 1 ? "" : "s");
		if (rej_nothave)
			TEXT(v, " It rejected %zu of them.", rej_nothave);
		any = true;
	}
	if (rej) {
		v = add(L, BT_V_REJECTED, "BEP 6, Reject Request", true, rej->t_done,
			BT_DIR_IN, BT_EV_MSG, BT_MSG_REJECT);
		EVID(v, "in reject piece %" PRIu32 " begin %" PRIu32 " length %" PRIu32,
		     rej->index, rej->begin, rej->length);
		TEXT(v, "The peer rejected %zu of our requests (the first %s after we "
		     "sent it), and nothing on the timeline explains it: we were "
		     "unchoked, the blocks were 16 KiB at most, and the peer had "
		     "announced the pieces. It may be short of upload slots or "
		     "bandwidth, or the block lies outside the piece.", rej_other,
		     ms(rej->t_done - rej->t_us, m1, sizeof m1));
		any = true;
	}
	if (drop) {
		v = add(L, BT_V_CHOKE_DROPPED, "BEP 3, choking: requests are discarded "
			"on choke", true, drop->t_done, BT_DIR_IN, BT_EV_MSG, BT_MSG_CHOKE);
		EVID(v, "in choke");
		TEXT(v, "The peer choked us at %s with %zu of our requests pending; "
		     "without the fast extension a choke discards them, so they must "
		     "be sent again after the next unchoke.",
		     ms(drop->t_done, m1, sizeof m1), ndrop);
		any = true;
	}
	if (ign) {
		v = add(L, BT_V_IGNORED, "BEP 3, request and piece", true, ign->t_us,
			BT_DIR_OUT, BT_EV_MSG, BT_MSG_REQUEST);
		EVID(v, "out request piece %" PRIu32 " begin %" PRIu32 " length %" PRIu32,
		     ign->index, ign->begin, ign->length);
		TEXT(v, "%zu of our requests got neither a piece nor a reject (the first "
		     "waited %s, while the peer did not choke us).", nign,
		     ms(stop - ign->t_us, m2, sizeof m2));
		any = true;
	}
	return any;
}

/* What the peer announced breaks BEP 3: a bitfield of the wrong size or
 * with spare bits set, haves past the last piece.  Problems (BEP 3 says
 * to drop such a peer), though they explain no silence. */
static void announce_verdicts(struct vlist *L, const struct bt_diag *d)
{
	uint64_t pc = d->o.piece_count, want = (pc + 7) / 8;
	struct bt_verdict *v;

	if (d->bad_bitfield) {
		bool len_bad = d->bad_bitfield_len != want;
		v = add(L, BT_V_BAD_BITFIELD, "BEP 3, bitfield: clients should drop the "
			"connection if they receive bitfields that are not of the correct "
			"size, or if the bitfield has any of the spare bits set", true,
			d->t_bad_bitfield, BT_DIR_IN, BT_EV_MSG, BT_MSG_BITFIELD);
		EVID(v, "in bitfield of %" PRIu64 " bytes for %" PRIu64 " pieces, %" PRIu64
		     " bits set past piece %" PRIu64, d->bad_bitfield_len, pc, d->spare_set,
		     pc - 1);
		if (len_bad)
			TEXT(v, "The peer's bitfield is %" PRIu64 " bytes: wrong bitfield "
			     "length, as %" PRIu64 " pieces take %" PRIu64 " byte%s (one bit "
			     "per piece, the last byte padded). ", d->bad_bitfield_len, pc,
			     want, want == 1 ? "" : "s");
		if (d->spare_set)
			TEXT(v, "%s%" PRIu64 " bit%s set past the last piece (%" PRIu64 "): "
			     "bitfield spare bits set, which BEP 3 requires to be clear. ",
			     len_bad ? "It has " : "The peer's bitfield has ", d->spare_set,
			     d->spare_set == 1 ? "" : "s", pc - 1);
		TEXT(v, "They are not counted as pieces here; a strict client drops the "
		     "connection on such a bitfield.");
	}
	if (d->have_range) {
		v = add(L, BT_V_HAVE_RANGE, "BEP 3, have: the index of a piece the "
			"peer has, 0 to the piece count - 1", true, d->t_have_range,
			BT_DIR_IN, BT_EV_MSG, BT_MSG_HAVE);
		EVID(v, "in have index %" PRIu32 ", %" PRIu64 " pieces", d->have_range_first, pc);
		TEXT(v, "The peer sent have for index %" PRIu32 " (%" PRIu32 " have "
		     "message%s past the end in all): have index out of range, as the "
		     "torrent's %" PRIu64 " pieces are numbered 0 to %" PRIu64 ". Not "
		     "counted; a strict client drops the connection here.",
		     d->have_range_first, d->have_range, d->have_range == 1 ? "" : "s",
		     pc, pc - 1);
	}
}

/* Blocks nobody asked for: a remark (the data is not counted as an
 * answer), not a failure. */
static void unrequested_verdict(struct vlist *L, const struct bt_diag *d)
{
	struct bt_verdict *v;
	char m1[32];
	uint32_t n = d->unexpected_in;

	if (!n)
		return;
	v = add(L, BT_V_UNREQUESTED, "BEP 3, request and piece: a piece message "
		"carries a block that was requested", false, d->t_unexp, BT_DIR_IN,
		BT_EV_MSG, BT_MSG_PIECE);
	EVID(v, "in piece index %" PRIu32 " begin %" PRIu32 " length %" PRIu32 ", %s",
	     d->unexp_index, d->unexp_begin, d->unexp_len,
	     d->unexp_dup ? "received already" : d->unexp_len_differs ?
	     "not the length requested" : "never requested");
	if (n == 1)
		TEXT(v, "The peer sent a block that answers no request of ours: at %s, "
		     "piece %" PRIu32 " begin %" PRIu32 " length %" PRIu32 ", which ",
		     ms(d->t_unexp, m1, sizeof m1), d->unexp_index, d->unexp_begin,
		     d->unexp_len);
	else
		TEXT(v, "The peer sent %" PRIu32 " blocks that answer no request of "
		     "ours. The first, at %s (piece %" PRIu32 " begin %" PRIu32 " length "
		     "%" PRIu32 "), ", n, ms(d->t_unexp, m1, sizeof m1), d->unexp_index,
		     d->unexp_begin, d->unexp_len);
	if (d->unexp_dup)
		TEXT(v, "repeats a block it had sent already.");
	else if (d->unexp_len_differs)
		TEXT(v, "has the index and offset of a request but not its length "
		     "(we asked for %" PRIu32 " bytes): it does not answer it.",
		     d->unexp_asked_len);
	else
		TEXT(v, "was never requested.");
	if (d->dup_in && !(n == 1 && d->unexp_dup))
		TEXT(v, " %" PRIu32 " of them repeat blocks sent already.", d->dup_in);
	TEXT(v, " Unrequested data is not counted as an answer; it wastes "
	     "bandwidth, and a strict client drops a peer that sends it.");
}

size_t bt_diag_verdicts(const struct bt_diag *d, struct bt_verdict *out, size_t cap)
{
	struct vlist L = { out, cap, 0, { 0 } };
	struct bt_verdict *v;
	uint64_t end = d->t_end > d->t_last ? d->t_end : d->t_last;
	uint64_t stop = t_stop(d, end);
	char m1[32], m2[32];
	bool explained = false, has_pieces, stalled;

	if (d->connect_failed) {
		int e = d->connect_err;
		v = add(&L, e == ECONNREFUSED ? BT_V_CONNECT_REFUSED :
			e == ETIMEDOUT ? BT_V_CONNECT_TIMEOUT : BT_V_CONNECT_FAILED,
			"TCP", true, d->t_connect_failed, BT_DIR_OUT,
			BT_EV_CONNECT_FAILED, -1);
		if (e == ECONNREFUSED) {
			EVID(v, "connect-failed, connection refused");
			TEXT(v, "Nothing listens on that address and port: the peer has "
			     "gone or listens elsewhere (trackers keep listing peers for "
			     "a while after they leave).");
		} else if (e == ETIMEDOUT) {
			EVID(v, "connect-failed, timed out");
			TEXT(v, "No answer to our connection attempt within %s: the host is "
			     "down, a firewall drops the packets, or the peer is behind a "
			     "NAT without a forwarded port.",
			     ms(d->t_connect_failed, m1, sizeof m1));
		} else {
			EVID(v, "connect-failed, %s", strerror(e));
			TEXT(v, "The connection could not be opened: %s.", strerror(e));
		}
		return L.n;
	}
	if (!stage_encryption(&L, d))
		return L.n;
	/* A stream we could not read (a capture without keys); when a
	 * handshake came through after all, the rest is judged as usual. */
	if (d->encrypted && !d->peer_hs) {
		v = add(&L, BT_V_ENCRYPTED, "MSE/PE (message stream encryption)", false,
			d->t_encrypted, d->encrypted_dir, BT_EV_ENCRYPTED, -1);
		EVID(v, "%s stream not plain", d->encrypted_dir == BT_DIR_IN ? "in" : "out");
		TEXT(v, "The stream is encrypted (MSE/PE): the messages cannot be read "
		     "without the keys, so nothing after this can be judged.");
		return L.n;
	}
	if (!stage_handshake(&L, d, end))
		return L.n;

	if (d->malformed_in) {
		v = add(&L, BT_V_MALFORMED, "BEP 3, peer messages", true, d->t_malformed,
			BT_DIR_IN, BT_EV_MALFORMED, -1);
		EVID(v, "in malformed: %.70s", d->malformed_why);
		TEXT(v, "The peer sent a message that does not parse (%s); a strict "
		     "client would drop the connection here.", d->malformed_why);
		explained = true;
	}
	announce_verdicts(&L, d);

	/* The wait ended inside a message of the peer: what it was sending
	 * (a bitfield, an unchoke) is unknown, and everything after it in
	 * the stream waits behind it, so "nothing announced" and "never
	 * unchoked" cannot be judged. */
	stalled = d->peer_hs && d->partial_have && !d->closed_in && !d->reset_in;
	if (stalled) {
		uint64_t h = d->partial_have, n = d->partial_need;
		v = add(&L, BT_V_STALLED, "BEP 3, peer messages: a length prefix, then "
			"that many bytes", true, d->t_partial, BT_DIR_IN,
			d->timeout && d->t_timeout == d->t_partial ? BT_EV_TIMEOUT :
			BT_EV_MSG, -1);
		if (n)
			EVID(v, "in %" PRIu64 " of the %" PRIu64 " bytes of a message, then "
			     "nothing more", h, n);
		else
			EVID(v, "in %" PRIu64 " bytes of a length prefix, then nothing more", h);
		TEXT(v, "When %s at %s, the peer had sent ",
		     d->timeout && d->t_timeout == d->t_partial ? "our wait ran out" :
		     "the session ended", ms(d->t_partial, m1, sizeof m1));
		if (n)
			TEXT(v, "%" PRIu64 " of the %" PRIu64 " bytes of a message", h, n);
		else
			TEXT(v, "%" PRIu64 " of the 4 bytes of a message's length prefix", h);
		TEXT(v, ". It sends slowly or has stalled mid-message (a peer that "
		     "trickles a byte at a time holds the connection at little cost). "
		     "That message may be the one we waited for, and whatever it sends "
		     "next waits behind it: whether it has pieces or would unchoke us "
		     "cannot be judged. Wait longer (-t), or give up on this peer.");
		explained = true;
	}

	/* Stage: does the peer have anything? */
	has_pieces = d->have_all || d->pieces_set > 0;
	if (!has_pieces && d->peer_hs && !stalled) {
		if (d->announce == BT_MSG_HAVE_NONE) {
			v = add(&L, BT_V_NO_PIECES, "BEP 6, Have None", true, d->t_announce,
				BT_DIR_IN, BT_EV_MSG, BT_MSG_HAVE_NONE);
			EVID(v, "in have none");
			TEXT(v, "The peer sent have none %s after its handshake: it has no "
			     "piece of the torrent, so there is nothing it could send us. "
			     "It is a leecher that has just started; ask another peer.",
			     ms(d->t_announce - d->t_peer_hs, m1, sizeof m1));
			explained = true;
		} else if (d->announce == BT_MSG_BITFIELD) {
			v = add(&L, BT_V_NO_PIECES, "BEP 3, bitfield", true, d->t_announce,
				BT_DIR_IN, BT_EV_MSG, BT_MSG_BITFIELD);
			EVID(v, "in bitfield, 0 of %" PRIu64 " bits set", d->bitfield_bits);
			TEXT(v, "The peer's bitfield has no bit set: it has no piece of the "
			     "torrent, so there is nothing it could send us.");
			explained = true;
		} else if (stop - d->t_peer_hs >= d->o.announce_wait_us) {
			v = add(&L, BT_V_NO_PIECES, "BEP 3, bitfield: downloaders which "
				"don't have anything yet may skip the bitfield message", true,
				d->t_peer_hs, BT_DIR_IN, BT_EV_HANDSHAKE, -1);
			EVID(v, "in handshake, then no bitfield, have all or have");
			TEXT(v, "In the %s after its handshake the peer sent no bitfield, "
			     "have all or have (%zu message%s in all). BEP 3 lets a peer "
			     "that has nothing skip the bitfield: this peer has no piece, "
			     "so there is nothing it could send us.",
			     ms(stop - d->t_peer_hs, m1, sizeof m1), d->in_msgs,
			     d->in_msgs == 1 ? "" : "s");
			explained = true;
		}
	}

	/* Stage: interest and unchoke. */
	if (d->peer_hs && !d->unchoked_ever && has_pieces && !stalled) {
		if (!d->interested_ever && stop - d->t_peer_hs >= d->o.unchoke_wait_us) {
			v = add(&L, BT_V_NOT_INTERESTED, "BEP 3, peer messages: data "
				"transfer takes place whenever one side is interested and "
				"the other side is not choking", true, d->announce ?
				d->t_announce : d->t_peer_hs, BT_DIR_IN,
				d->announce ? BT_EV_MSG : BT_EV_HANDSHAKE,
				d->announce ? d->announce : -1);
			EVID(v, "in %s, then %s with us choked and never interested",
			     d->announce ? msgname(d->announce) : "handshake",
			     ms(stop - (d->announce ? d->t_announce : d->t_peer_hs),
				m1, sizeof m1));
			TEXT(v, "We never sent interested, and the peer kept us choked for "
			     "the %s after its handshake: connections start choked and "
			     "not interested, and a peer unchokes peers that are "
			     "interested. Send interested after its bitfield, wait for "
			     "unchoke, then request blocks. (Some peers, libtorrent and "
			     "Transmission among them, also unchoke peers that are not "
			     "interested when they have free slots, on their next "
			     "rechoke; aria2 does not.)",
			     ms(stop - d->t_peer_hs, m1, sizeof m1));
			explained = true;
		} else if (d->interested_ever && stop - d->t_interested >= d->o.unchoke_wait_us) {
			v = add(&L, BT_V_NEVER_UNCHOKED, "BEP 3, choking", true,
				d->t_interested, BT_DIR_OUT, BT_EV_MSG, BT_MSG_INTERESTED);
			EVID(v, "out interested, then %s choked",
			     ms(stop - d->t_interested, m1, sizeof m1));
			TEXT(v, "We sent interested at %s and the peer had not unchoked us "
			     "%s later. Peers unchoke a few interested peers at a time and "
			     "change who is unchoked every 10 seconds (BEP 3, choking; "
			     "Transmission unchokes on that timer), so wait longer, or the "
			     "peer's upload slots are all taken.",
			     ms(d->t_interested, m2, sizeof m2), m1);
			explained = true;
		}
	}

	explained |= stage_requests(&L, d, end);
	unrequested_verdict(&L, d);

	if ((d->closed_in || d->reset_in) && d->peer_hs && !explained) {
		v = add(&L, BT_V_PEER_CLOSED, "BEP 3", true, d->t_closed_in, BT_DIR_IN,
			d->reset_in ? BT_EV_RESET : BT_EV_CLOSED, -1);
		EVID(v, "in %s", d->reset_in ? "reset" : "closed");
		if (d->last_out_id != -2)
			TEXT(v, "The peer %s the connection at %s, %s after our last "
			     "message (%s), with nothing on the timeline to explain it%s%s.",
			     d->reset_in ? "reset" : "closed", ms(d->t_closed_in, m1, sizeof m1),
			     ms(d->t_closed_in - d->t_last_out, m2, sizeof m2),
			     msgname(d->last_out_id),
			     d->closed_in_why[0] ? "; it stopped " : "", d->closed_in_why);
		else
			TEXT(v, "The peer %s the connection at %s, %s after its handshake, "
			     "before we sent any message: it may have enough peers, or "
			     "it does not want peers like us.",
			     d->reset_in ? "reset" : "closed", ms(d->t_closed_in, m1, sizeof m1),
			     ms(d->t_closed_in - d->t_peer_hs, m2, sizeof m2));
	}
	return L.n;
}

/* ---- printing ----------------------------------------------------------- */

/* Text mode: the explanation wrapped to 76 columns, indented. */
static void wrapped(struct bt_out *o, const char *s)
{
	size_t n = strlen(s), i = 0;

	while (i < n) {
		size_t len = n - i, cut;
		if (len > 74) {
			cut = 74;
			while (cut > 20 && s[i + cut] != ' ')
				cut--;
			len = cut;
		}
		bt_out_text(o, "\n    ");
		bt_out_bytes(o, NULL, "", s + i, len);
		i += len;
		while (i < n && s[i] == ' ')
			i++;
	}
}

void bt_verdict_print(struct bt_out *o, const struct bt_verdict *v)
{
	bt_out_begin(o);
	bt_out_str(o, "verdict", v->problem ? "verdict " : "remark ", v->name);
	bt_out_bool(o, "problem", NULL, v->problem);
	bt_out_str(o, "rule", " (", v->rule);
	bt_out_text(o, ")");
	bt_out_fixed(o, "t_ms", " at ", (int64_t)v->t_us, 3);
	bt_out_text(o, " ms: ");
	bt_out_str(o, "dir", NULL, v->dir == BT_DIR_IN ? "in" : "out");
	bt_out_str(o, "evidence", "", v->evidence);
	if (o->json)
		bt_out_str(o, "text", NULL, v->text);
	else
		wrapped(o, v->text);
	bt_out_end(o);
}
