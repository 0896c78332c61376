/* flow.c — TCP reassembly for captures.  See flow.h.
 *
 * Each direction keeps the stream offset of the next byte due (next) and a
 * sorted list of disjoint out-of-order pieces after it.  A segment's bytes
 * are cut into pieces against what is already known: bytes before next
 * were delivered (compared with a ring of recent bytes), bytes inside a
 * buffered piece were captured before (compared, the first copy kept);
 * only fresh bytes are delivered (at next) or buffered (after it).  Bytes
 * the wire had but the capture cut (snaplen) are "lost" pieces: they hold
 * no data, give way to real data, and become a GAP when reached. */
#include "flow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

struct seg {
	struct seg *next;
	uint64_t start, end;    /* stream offsets [start, end) */
	uint64_t ts;            /* when it was captured */
	size_t cost;            /* charged to the direction's max_ooo */
	bool lost;              /* no data: known to exist, never captured */
	uint8_t data[];         /* end - start bytes unless lost */
};

struct half {
	bool init;
	uint32_t base;          /* sequence number of stream offset 0 */
	uint64_t next;          /* offset of the next byte due */
	bool fin_seen;          /* a FIN was captured ... */
	uint64_t fin_off;       /* ... at this offset */
	struct seg *head, *tail;
	size_t ooo;             /* bytes charged for the list */
	uint64_t acked;         /* the other side acknowledged [0, acked) */
	bool ack_wait;          /* a hole is acknowledged: declared after the
				   grace (see ack_check) */
	uint64_t ack_hole;      /* the hole's start (next) then */
	uint64_t ack_pkt;       /* the flow's packet count then */
	uint64_t ack_ts;        /* and that packet's time */
	uint8_t *hist;          /* ring of the last delivered bytes, */
	size_t hcap, hlen, hpos;/* covering [next - hlen, next); hpos oldest */
};

struct bt_flow_node {
	struct bt_flow pub;     /* what the caller sees */
	struct bt_flow_node *hnext;
	struct bt_flow_node *prev, *next;  /* in t->lru or t->dead */
	bool in_dead;
	uint64_t hash;
	struct half h[2];
};

/* ---- events and delivery ------------------------------------------------ */

static void emit(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		 enum bt_flow_ev kind, uint32_t seq, uint64_t len, uint64_t off,
		 const char *why, uint64_t ts)
{
	struct bt_flow_evinfo ev = {
		.ts_us = ts, .seq = seq, .len = len, .off = off, .why = why,
	};

	if (t->cb.event)
		t->cb.event(t->ctx, &n->pub, dir, kind, &ev);
}

static uint32_t seq_of(const struct half *h, uint64_t off)
{
	return h->base + (uint32_t)off;
}

/* The stream offset of seq: serial-number arithmetic (RFC 1982) around the
 * next byte due, so any seq within 2^31 either side maps correctly across
 * the 2^32 wrap.  Negative: before the stream's start. */
static int64_t off_of(const struct half *h, uint32_t seq)
{
	uint32_t d = seq - seq_of(h, h->next);

	if (d < 0x80000000u)
		return (int64_t)h->next + (int64_t)d;
	return (int64_t)h->next - (int64_t)(0x100000000ull - d);
}

static void hist_add(struct bt_flow_table *t, struct half *h,
		     const uint8_t *p, size_t n)
{
	size_t max = t->cfg.max_hist, at, k;

	if (n >= max) {
		p += n - max;
		n = max;
	}
	if (h->hlen + n > h->hcap && h->hcap < max) {
		size_t cap = h->hcap * 2;
		uint8_t *nb;

		if (cap < h->hlen + n)
			cap = h->hlen + n;
		if (cap < 4096)
			cap = 4096;
		if (cap > max)
			cap = max;
		nb = malloc(cap);
		if (nb) {
			for (k = 0; k < h->hlen; k++)
				nb[k] = h->hist[(h->hpos + k) % h->hcap];
			free(h->hist);
			h->hist = nb;
			h->hcap = cap;
			h->hpos = 0;
		}
	}
	if (!h->hcap)
		return;
	if (n > h->hcap) {
		p += n - h->hcap;
		n = h->hcap;
	}
	if (h->hlen + n > h->hcap) {   /* forget the oldest */
		size_t drop = h->hlen + n - h->hcap;

		h->hpos = (h->hpos + drop) % h->hcap;
		h->hlen -= drop;
	}
	at = (h->hpos + h->hlen) % h->hcap;
	k = h->hcap - at < n ? h->hcap - at : n;
	memcpy(h->hist + at, p, k);
	memcpy(h->hist, p + k, n - k);
	h->hlen += n;
}

static void deliver(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		    const uint8_t *p, size_t len, uint64_t ts)
{
	struct half *h = &n->h[dir];

	if (!len)
		return;
	hist_add(t, h, p, len);
	h->next += len;
	n->pub.d[dir].off = h->next;
	n->pub.d[dir].bytes += len;
	if (t->cb.deliver)
		t->cb.deliver(t->ctx, &n->pub, dir, p, len, ts);
}

/* Declare [next, to) lost and go on after it. */
static void gap(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		uint64_t to, const char *why, uint64_t ts)
{
	struct half *h = &n->h[dir];
	uint64_t len = to - h->next;

	emit(t, n, dir, BT_FLOW_EV_GAP, seq_of(h, h->next), len, h->next, why, ts);
	n->pub.d[dir].gap_bytes += len;
	h->next = to;
	n->pub.d[dir].off = to;
	h->hlen = 0;    /* the ring must stay contiguous with next */
	h->hpos = 0;
}

/* Report the bytes of [a, a+len) where x and y differ, as one range from
 * the first differing byte to the last. */
static void compare(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		    uint64_t a, const uint8_t *x, const uint8_t *y, size_t len,
		    uint64_t ts)
{
	size_t i = 0, j = len;

	while (i < len && x[i] == y[i])
		i++;
	if (i == len)
		return;
	while (x[j - 1] == y[j - 1])
		j--;
	emit(t, n, dir, BT_FLOW_EV_CONFLICT, seq_of(&n->h[dir], a + i),
	     j - i, a + i, NULL, ts);
}

/* The same for bytes already delivered: compare data, which holds the
 * bytes from offset a on, with the ring (a >= next - hlen). */
static void compare_hist(struct bt_flow_table *t, struct bt_flow_node *n,
			 int dir, uint64_t a, const uint8_t *data, size_t len,
			 uint64_t ts)
{
	const struct half *h = &n->h[dir];
	size_t ri = (size_t)(a - (h->next - h->hlen)), i, first = len, last = 0;

	for (i = 0; i < len; i++) {
		if (h->hist[(h->hpos + ri + i) % h->hcap] != data[i]) {
			if (first == len)
				first = i;
			last = i;
		}
	}
	if (first < len)
		emit(t, n, dir, BT_FLOW_EV_CONFLICT, seq_of(h, a + first),
		     last + 1 - first, a + first, NULL, ts);
}

/* ---- the out-of-order list ------------------------------------------------ */

static struct seg *seg_new(uint64_t start, uint64_t end, const uint8_t *data,
			   uint64_t ts)
{
	size_t len = (size_t)(end - start);
	struct seg *s = malloc(sizeof(*s) + (data ? len : 0));

	if (!s)
		return NULL;
	s->next = NULL;
	s->start = start;
	s->end = end;
	s->ts = ts;
	s->lost = !data;
	s->cost = sizeof(*s) + (data ? len : 0);
	if (data)
		memcpy(s->data, data, len);
	return s;
}

/* Link s after prev (NULL: at the head). */
static void seg_link(struct half *h, struct seg *prev, struct seg *s)
{
	struct seg **pp = prev ? &prev->next : &h->head;

	s->next = *pp;
	*pp = s;
	if (!s->next)
		h->tail = s;
	h->ooo += s->cost;
}

static void seg_unlink(struct half *h, struct seg *prev, struct seg *s)
{
	if (prev)
		prev->next = s->next;
	else
		h->head = s->next;
	if (h->tail == s)
		h->tail = prev;
	h->ooo -= s->cost;
}

/* Deliver (or declare lost) every buffered piece that starts at next, at
 * time ts: the bytes became readable in order then (never before they
 * were captured, should a rewritten capture's times go backwards). */
static void drain(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		  uint64_t ts)
{
	struct half *h = &n->h[dir];
	struct seg *s;

	while ((s = h->head) && s->start <= h->next) {
		uint64_t when = ts > s->ts ? ts : s->ts;

		seg_unlink(h, NULL, s);
		if (s->lost)
			gap(t, n, dir, s->end, "not captured", when);
		else
			deliver(t, n, dir, s->data, (size_t)(s->end - s->start), when);
		free(s);
	}
}

/* A fresh piece [a, b) nobody has seen: deliver it if it is due, else
 * buffer it after prev.  Returns the node now before the rest of the list
 * (prev, or the new piece).  If no memory, the bytes stay a hole. */
static struct seg *fresh(struct bt_flow_table *t, struct bt_flow_node *n,
			 int dir, struct seg *prev, uint64_t a, uint64_t b,
			 const uint8_t *data, uint64_t ts)
{
	struct half *h = &n->h[dir];
	struct seg *s;

	if (a == h->next) {
		if (data)
			deliver(t, n, dir, data, (size_t)(b - a), ts);
		else
			gap(t, n, dir, b, "not captured", ts);
		return prev;
	}
	s = seg_new(a, b, data, ts);
	if (!s)
		return prev;
	seg_link(h, prev, s);
	return s;
}

/* Real data for [a, b) lands inside the lost piece s (a >= s->start,
 * b <= s->end): split s around it.  Returns the last of the pieces. */
static struct seg *fill_lost(struct half *h, struct seg *prev, struct seg *s,
			     uint64_t a, uint64_t b, const uint8_t *data,
			     uint64_t ts)
{
	struct seg *d = seg_new(a, b, data, ts), *rest = NULL;
	uint64_t end = s->end;

	if (!d || (b < end && !(rest = seg_new(b, end, NULL, s->ts)))) {
		free(d);
		return s;      /* no memory: the bytes stay lost */
	}
	seg_unlink(h, prev, s);
	if (a > s->start) {
		s->end = a;
		seg_link(h, prev, s);
		prev = s;
	} else {
		free(s);
	}
	seg_link(h, prev, d);
	if (rest)
		seg_link(h, d, rest);
	return rest ? rest : d;
}

/* Place the segment bytes [a, b) (data, or NULL for bytes the capture cut)
 * against what the direction already knows. */
static void place(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		  int64_t a, int64_t b, const uint8_t *data, uint64_t ts)
{
	struct half *h = &n->h[dir];
	struct bt_flow_dir *pd = &n->pub.d[dir];
	struct seg *prev = NULL, *s;
	uint64_t ua, ub;

	if (h->fin_seen && b > (int64_t)h->fin_off)
		b = (int64_t)h->fin_off;   /* nothing follows a FIN */
	if (b <= a)
		return;
	if (a < (int64_t)h->next) {
		/* Already delivered, or before the stream's start. */
		int64_t e = b < (int64_t)h->next ? b : (int64_t)h->next;
		int64_t lo = (int64_t)(h->next - h->hlen);

		if (data) {
			pd->dup_bytes += (uint64_t)(e - a);
			if (lo < a)
				lo = a;
			if (lo < e)
				compare_hist(t, n, dir, (uint64_t)lo, data + (lo - a),
					     (size_t)(e - lo), ts);
			data += e - a;
		}
		a = e;
		if (a >= b)
			return;
	}
	ua = (uint64_t)a;
	ub = (uint64_t)b;
	if (h->tail && h->tail->end <= ua)
		prev = h->tail;    /* the common case: append */
	while (ua < ub) {
		s = prev ? prev->next : h->head;
		if (!s || s->start >= ub) {
			fresh(t, n, dir, prev, ua, ub, data, ts);
			return;
		}
		if (s->end <= ua) {
			prev = s;
			continue;
		}
		if (ua < s->start) {
			uint64_t k = s->start - ua;

			prev = fresh(t, n, dir, prev, ua, s->start, data, ts);
			if (data)
				data += k;
			ua = s->start;
			continue;
		}
		/* overlap [ua, oe) with s */
		uint64_t oe = ub < s->end ? ub : s->end;
		size_t k = (size_t)(oe - ua);

		if (data && !s->lost) {
			pd->dup_bytes += k;
			compare(t, n, dir, ua, s->data + (ua - s->start), data, k, ts);
			prev = s;
		} else if (data) {
			prev = fill_lost(h, prev, s, ua, oe, data, ts);
		} else {
			prev = s;
		}
		if (data)
			data += k;
		ua = oe;
	}
}

/* Drop buffered bytes at or after off (a FIN was seen there). */
static void trim_after(struct half *h, uint64_t off)
{
	struct seg *s = h->head, *prev = NULL;

	while (s) {
		struct seg *nx = s->next;

		if (s->start >= off) {
			seg_unlink(h, prev, s);
			free(s);
		} else {
			if (s->end > off)
				s->end = off;   /* cost stays as charged */
			prev = s;
		}
		s = nx;
	}
}

static void seg_free_all(struct half *h)
{
	struct seg *s = h->head;

	while (s) {
		struct seg *nx = s->next;
		free(s);
		s = nx;
	}
	h->head = h->tail = NULL;
	h->ooo = 0;
}

/* ---- flow lists and the hash table ------------------------------------- */

static void list_remove(struct bt_flow_table *t, struct bt_flow_node *n)
{
	struct bt_flow_node **head = n->in_dead ? &t->dead : &t->lru;
	struct bt_flow_node **tail = n->in_dead ? &t->dead_tail : &t->lru_tail;

	if (n->prev)
		n->prev->next = n->next;
	else
		*head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		*tail = n->prev;
	n->prev = n->next = NULL;
}

static void list_push(struct bt_flow_table *t, struct bt_flow_node *n, bool dead)
{
	struct bt_flow_node **head = dead ? &t->dead : &t->lru;
	struct bt_flow_node **tail = dead ? &t->dead_tail : &t->lru_tail;

	n->in_dead = dead;
	n->prev = NULL;
	n->next = *head;
	if (*head)
		(*head)->prev = n;
	else
		*tail = n;
	*head = n;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t ep_hash(const struct bt_pkt_addr *a, uint16_t port)
{
	uint64_t x = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < 16; i++)
		x = (x ^ a->a[i]) * 0x100000001b3ull;
	x = (x ^ a->family) * 0x100000001b3ull;
	x = (x ^ port) * 0x100000001b3ull;
	return mix64(x);
}

/* The same for both directions. */
static uint64_t tuple_hash(const struct bt_pkt *pk)
{
	uint64_t x = ep_hash(&pk->src, pk->sport), y = ep_hash(&pk->dst, pk->dport);

	return x < y ? mix64(x * 31 + y) : mix64(y * 31 + x);
}

static bool ep_eq(const struct bt_flow_ep *e, const struct bt_pkt_addr *a,
		  uint16_t port)
{
	return e->port == port && e->addr.family == a->family &&
	       memcmp(e->addr.a, a->a, 16) == 0;
}

static struct bt_flow_node *lookup(struct bt_flow_table *t,
				   const struct bt_pkt *pk, uint64_t hash,
				   int *dir)
{
	struct bt_flow_node *n = t->bucket[hash & (t->nbucket - 1)];

	for (; n; n = n->hnext) {
		if (n->hash != hash)
			continue;
		if (ep_eq(&n->pub.ep[0], &pk->src, pk->sport) &&
		    ep_eq(&n->pub.ep[1], &pk->dst, pk->dport)) {
			*dir = 0;
			return n;
		}
		if (ep_eq(&n->pub.ep[1], &pk->src, pk->sport) &&
		    ep_eq(&n->pub.ep[0], &pk->dst, pk->dport)) {
			*dir = 1;
			return n;
		}
	}
	return NULL;
}

static void unhash(struct bt_flow_table *t, struct bt_flow_node *n)
{
	struct bt_flow_node **pp = &t->bucket[n->hash & (t->nbucket - 1)];

	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
}

static void node_free(struct bt_flow_table *t, struct bt_flow_node *n)
{
	int d;

	unhash(t, n);
	list_remove(t, n);
	t->nflows--;
	if (t->cb.release)
		t->cb.release(t->ctx, &n->pub);
	for (d = 0; d < 2; d++) {
		seg_free_all(&n->h[d]);
		free(n->h[d].hist);
	}
	free(n);
}

/* ---- stream ends ---------------------------------------------------------- */

static void check_closed(struct bt_flow_table *t, struct bt_flow_node *n,
			 uint64_t ts)
{
	int d;

	if (n->pub.closed)
		return;
	if (!(n->pub.d[0].fin && n->pub.d[1].fin) &&
	    !(n->pub.d[0].rst || n->pub.d[1].rst))
		return;
	n->pub.closed = true;
	emit(t, n, -1, BT_FLOW_EV_CLOSED, 0, 0, 0, NULL, ts);
	/* Nothing is due any more: keep the flow small while it lingers for
	 * stray retransmissions. */
	for (d = 0; d < 2; d++) {
		free(n->h[d].hist);
		n->h[d].hist = NULL;
		n->h[d].hcap = n->h[d].hlen = n->h[d].hpos = 0;
	}
	list_remove(t, n);
	list_push(t, n, true);
}

static void check_fin(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		      uint64_t ts)
{
	struct half *h = &n->h[dir];

	if (!h->fin_seen || n->pub.d[dir].fin || h->next != h->fin_off)
		return;
	n->pub.d[dir].fin = true;
	emit(t, n, dir, BT_FLOW_EV_FIN, seq_of(h, h->fin_off), 0, h->fin_off,
	     NULL, ts);
	check_closed(t, n, ts);
}

static uint64_t flow_pkts(const struct bt_flow_node *n)
{
	return n->pub.d[0].pkts + n->pub.d[1].pkts;
}

/* A hole the other side has acknowledged past: the receiver had those
 * bytes, so no retransmission will bring them; the capture lost them.
 * Declare it now, rather than at the flow's end, so that what waited
 * behind it is decoded at its time.  Not at once: a loopback capture can
 * record a segment after the ACK that covers it, so the hole is declared
 * only when cfg.ack_grace more packets of the flow have come without
 * filling it.  The GAP and the bytes behind it carry the time the
 * acknowledgement was seen: when the receiver could read them. */
static void ack_check(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		      uint64_t ts)
{
	struct half *h = &n->h[dir];

	if (!h->init || !h->head || h->head->start <= h->next ||
	    h->acked < h->head->start) {
		h->ack_wait = false;
		return;
	}
	if (!h->ack_wait || h->ack_hole != h->next) {   /* a new hole */
		h->ack_wait = true;
		h->ack_hole = h->next;
		h->ack_pkt = flow_pkts(n);
		h->ack_ts = ts;
	}
	if (flow_pkts(n) - h->ack_pkt < t->cfg.ack_grace)
		return;
	while (h->head && h->head->start > h->next && h->acked >= h->head->start) {
		gap(t, n, dir, h->head->start, "not captured (acknowledged by the peer)",
		    h->ack_ts);
		drain(t, n, dir, h->ack_ts);
	}
	h->ack_wait = false;
	check_fin(t, n, dir, ts);
}

/* Declare every hole of a direction, delivering what waited behind each,
 * up to its FIN if one was seen. */
static void flush_dir(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		      const char *why, uint64_t ts)
{
	struct half *h = &n->h[dir];

	if (!h->init)
		return;
	while (h->head) {
		if (h->head->start > h->next)
			gap(t, n, dir, h->head->start, why, ts);
		drain(t, n, dir, ts);
	}
	if (h->fin_seen && h->next < h->fin_off)
		gap(t, n, dir, h->fin_off, why, ts);
	check_fin(t, n, dir, ts);
}

/* End a flow: the event (if kind), its holes, release, free. */
static void end_flow(struct bt_flow_table *t, struct bt_flow_node *n,
		     enum bt_flow_ev kind, const char *why, uint64_t ts)
{
	if (kind)
		emit(t, n, -1, kind, 0, 0, 0, why, ts);
	flush_dir(t, n, 0, why, ts);
	flush_dir(t, n, 1, why, ts);
	node_free(t, n);
}

/* Make room for one more flow: a closed flow quietly, else the least
 * recently active one with an EVICT event. */
static void make_room(struct bt_flow_table *t, uint64_t ts)
{
	while (t->nflows >= t->cfg.max_flows) {
		if (t->dead_tail) {
			node_free(t, t->dead_tail);
		} else if (t->lru_tail) {
			t->evicted++;
			end_flow(t, t->lru_tail, BT_FLOW_EV_EVICT,
				 "evicted (flow table full)", ts);
		} else {
			break;
		}
	}
}

/* ---- input ---------------------------------------------------------------- */

static void dir_start(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		      uint32_t first_seq, bool syn, uint64_t ts)
{
	struct half *h = &n->h[dir];
	struct bt_flow_dir *pd = &n->pub.d[dir];

	h->init = true;
	h->base = first_seq;
	h->next = 0;
	pd->off = 0;
	pd->isn = syn ? first_seq - 1 : first_seq;
	pd->syn = syn;
	pd->midstream = !syn;
	if (!syn)
		emit(t, n, dir, BT_FLOW_EV_MIDSTREAM, first_seq, 0, 0, NULL, ts);
}

/* A SYN without ACK on a known flow: a retransmission, or a new
 * connection on the same ports? */
static bool is_reuse(const struct bt_flow_node *n, int dir, uint32_t seq)
{
	if (n->pub.closed)
		return true;
	return !(dir == 0 && n->pub.d[0].syn && n->pub.d[0].isn == seq);
}

static struct bt_flow_node *flow_new(struct bt_flow_table *t,
				     const struct bt_pkt *pk, uint64_t hash,
				     int *dir)
{
	struct bt_flow_node *n;
	bool synack = (pk->tcp_flags & (BT_TCP_SYN | BT_TCP_ACK)) ==
		      (BT_TCP_SYN | BT_TCP_ACK);

	make_room(t, pk->ts_us);
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	/* A SYN-ACK's sender is the server. */
	*dir = synack ? 1 : 0;
	n->pub.ep[*dir].addr = pk->src;
	n->pub.ep[*dir].port = pk->sport;
	n->pub.ep[!*dir].addr = pk->dst;
	n->pub.ep[!*dir].port = pk->dport;
	n->pub.id = ++t->flows_total;
	n->pub.first_us = pk->ts_us;
	n->hash = hash;
	n->hnext = t->bucket[hash & (t->nbucket - 1)];
	t->bucket[hash & (t->nbucket - 1)] = n;
	list_push(t, n, false);
	t->nflows++;
	emit(t, n, -1, BT_FLOW_EV_OPEN, 0, 0, 0, NULL, pk->ts_us);
	return n;
}

/* The segment's bytes [seq, seq + wlen) of which len were captured, and
 * its FIN, into an initialised direction. */
static void stream_in(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		      const struct bt_pkt *pk, uint32_t seq, size_t len,
		      size_t wlen)
{
	struct half *h = &n->h[dir];
	uint64_t ts = pk->ts_us;
	int64_t a = off_of(h, seq);

	if ((pk->tcp_flags & BT_TCP_FIN) && !h->fin_seen &&
	    a + (int64_t)wlen >= (int64_t)h->next) {
		h->fin_seen = true;
		h->fin_off = (uint64_t)(a + (int64_t)wlen);
		trim_after(h, h->fin_off);
	}
	place(t, n, dir, a, a + (int64_t)len, pk->payload, ts);
	if (wlen > len)
		place(t, n, dir, a + (int64_t)len, a + (int64_t)wlen, NULL, ts);
	drain(t, n, dir, ts);
	while (h->ooo > t->cfg.max_ooo && h->head) {
		gap(t, n, dir, h->head->start, "out-of-order buffer full", ts);
		drain(t, n, dir, ts);
	}
	check_fin(t, n, dir, ts);
}

static void segment(struct bt_flow_table *t, struct bt_flow_node *n, int dir,
		    const struct bt_pkt *pk)
{
	struct half *h = &n->h[dir];
	struct bt_flow_dir *pd = &n->pub.d[dir];
	uint8_t fl = pk->tcp_flags;
	uint32_t seq = pk->seq;
	size_t len = pk->payload_len, wlen = pk->payload_wirelen;
	uint64_t ts = pk->ts_us;

	if (wlen < len)
		wlen = len;
	pd->pkts++;
	if (fl & BT_TCP_SYN) {
		if (!h->init) {
			dir_start(t, n, dir, seq + 1, true, ts);
			emit(t, n, dir, BT_FLOW_EV_SYN, seq, 0, 0, NULL, ts);
		}
		/* The SYN-ACK acknowledges the client's ISN + 1: the client's
		 * stream start even when its SYN was not captured. */
		if (dir == 1 && (fl & BT_TCP_ACK) && !n->h[0].init)
			dir_start(t, n, 0, pk->ack, true, ts);
		seq++;   /* data of a SYN (TCP Fast Open) follows it */
	}
	if (!h->init && (wlen || (fl & BT_TCP_FIN)))
		dir_start(t, n, dir, seq, false, ts);
	if (h->init)
		stream_in(t, n, dir, pk, seq, len, wlen);
	/* What this side acknowledges of the other's stream. */
	if ((fl & BT_TCP_ACK) && n->h[!dir].init) {
		int64_t a = off_of(&n->h[!dir], pk->ack);

		if (a > (int64_t)n->h[!dir].acked)
			n->h[!dir].acked = (uint64_t)a;
	}
	if (!(fl & BT_TCP_RST)) {
		ack_check(t, n, 0, ts);
		ack_check(t, n, 1, ts);
	}
	if (fl & BT_TCP_RST) {
		pd->rst = true;
		emit(t, n, dir, BT_FLOW_EV_RST, pk->seq, 0, 0, NULL, ts);
		flush_dir(t, n, 0, "reset", ts);
		flush_dir(t, n, 1, "reset", ts);
		check_closed(t, n, ts);
	}
}

int bt_flow_input(struct bt_flow_table *t, const struct bt_pkt *pk,
		  struct bt_flow **fp)
{
	uint64_t hash;
	struct bt_flow_node *n;
	int dir = 0;
	uint8_t fl = pk->tcp_flags;

	if (fp)
		*fp = NULL;
	if (pk->l4 != BT_PKT_TCP)
		return BT_EINVAL;
	hash = tuple_hash(pk);
	n = lookup(t, pk, hash, &dir);
	if (n && (fl & (BT_TCP_SYN | BT_TCP_ACK)) == BT_TCP_SYN &&
	    is_reuse(n, dir, pk->seq)) {
		end_flow(t, n, BT_FLOW_EV_REUSE, "ports reused by a new connection",
			 pk->ts_us);
		n = NULL;
	}
	if (!n) {
		if (!(fl & BT_TCP_SYN) && pk->payload_wirelen == 0 &&
		    pk->payload_len == 0) {
			t->ignored++;
			return BT_OK;
		}
		n = flow_new(t, pk, hash, &dir);
		if (!n)
			return -ENOMEM;
	} else {
		list_remove(t, n);
		list_push(t, n, n->pub.closed);
	}
	n->pub.last_us = pk->ts_us;
	segment(t, n, dir, pk);
	if (fp)
		*fp = &n->pub;
	return BT_OK;
}

/* ---- table ---------------------------------------------------------------- */

int bt_flow_init(struct bt_flow_table *t, const struct bt_flow_cfg *cfg,
		 const struct bt_flow_cb *cb, void *ctx)
{
	size_t nb = 16;

	memset(t, 0, sizeof(*t));
	if (cfg)
		t->cfg = *cfg;
	if (cb)
		t->cb = *cb;
	t->ctx = ctx;
	if (!t->cfg.max_flows)
		t->cfg.max_flows = BT_FLOW_DEF_FLOWS;
	if (!t->cfg.max_ooo)
		t->cfg.max_ooo = BT_FLOW_DEF_OOO;
	if (!t->cfg.max_hist)
		t->cfg.max_hist = BT_FLOW_DEF_HIST;
	if (!t->cfg.ack_grace)
		t->cfg.ack_grace = BT_FLOW_DEF_ACK_GRACE;
	while (nb < t->cfg.max_flows && nb < ((size_t)1 << 24))
		nb *= 2;
	t->bucket = calloc(nb, sizeof(*t->bucket));
	if (!t->bucket)
		return -ENOMEM;
	t->nbucket = nb;
	return 0;
}

size_t bt_flow_expire(struct bt_flow_table *t, uint64_t before_us)
{
	size_t k = 0;

	while (t->dead_tail && t->dead_tail->pub.last_us < before_us) {
		node_free(t, t->dead_tail);
		k++;
	}
	while (t->lru_tail && t->lru_tail->pub.last_us < before_us) {
		end_flow(t, t->lru_tail, BT_FLOW_EV_IDLE, "idle", before_us);
		k++;
	}
	return k;
}

static int by_id(const void *a, const void *b)
{
	const struct bt_flow_node *x = *(struct bt_flow_node *const *)a;
	const struct bt_flow_node *y = *(struct bt_flow_node *const *)b;

	return x->pub.id < y->pub.id ? -1 : x->pub.id > y->pub.id;
}

void bt_flow_flush(struct bt_flow_table *t)
{
	struct bt_flow_node **v = t->nflows ? malloc(t->nflows * sizeof(*v)) : NULL;
	struct bt_flow_node *n;
	size_t k = 0, i;

	if (!v) {      /* no memory to sort: end them in list order */
		while (t->lru_tail)
			end_flow(t, t->lru_tail, 0, "end of capture",
				 t->lru_tail->pub.last_us);
		while (t->dead_tail)
			node_free(t, t->dead_tail);
		return;
	}
	for (n = t->lru; n; n = n->next)
		v[k++] = n;
	for (n = t->dead; n; n = n->next)
		v[k++] = n;
	qsort(v, k, sizeof(*v), by_id);
	for (i = 0; i < k; i++)
		end_flow(t, v[i], 0, "end of capture", v[i]->pub.last_us);
	free(v);
}

void bt_flow_free(struct bt_flow_table *t)
{
	while (t->lru_tail)
		node_free(t, t->lru_tail);
	while (t->dead_tail)
		node_free(t, t->dead_tail);
	free(t->bucket);
	memset(t, 0, sizeof(*t));
}

char *bt_flow_ep_fmt(const struct bt_flow_ep *e, char *buf, size_t cap)
{
	struct bt_peer_addr a;

	memset(&a, 0, sizeof a);
	a.family = e->addr.family;
	memcpy(a.ip, e->addr.a, 16);
	a.port = e->port;
	return bt_addr_fmt(&a, buf, cap);
}

const char *bt_flow_ev_name(enum bt_flow_ev kind)
{
	switch (kind) {
	case BT_FLOW_EV_OPEN:      return "open";
	case BT_FLOW_EV_SYN:       return "syn";
	case BT_FLOW_EV_MIDSTREAM: return "midstream";
	case BT_FLOW_EV_GAP:       return "gap";
	case BT_FLOW_EV_CONFLICT:  return "overlap conflict";
	case BT_FLOW_EV_FIN:       return "fin";
	case BT_FLOW_EV_RST:       return "rst";
	case BT_FLOW_EV_CLOSED:    return "closed";
	case BT_FLOW_EV_EVICT:     return "evict";
	case BT_FLOW_EV_IDLE:      return "idle";
	case BT_FLOW_EV_REUSE:     return "reuse";
	}
	return "unknown";
}
