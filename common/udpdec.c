/* udpdec.c — UDP tracker traffic in a capture.  See udpdec.h.
 *
 * Conversations live in one array (max_conv entries, never reallocated)
 * with a hash index over the endpoint pair, the same for both directions;
 * when the array is full, the least recently active conversation is
 * reused.  A linear search for it is fine: it happens only when a new
 * conversation opens on a full table. */
#include "udpdec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pend {
	bool used;
	uint8_t action;
	uint32_t tid;
	size_t nh;
	uint8_t (*h)[20];       /* scrape: the hashes asked for */
};

struct bt_udpdec_conv {
	uint64_t id, hash;
	struct bt_flow_ep cli, srv;
	uint64_t first_us, last_us;
	struct pend pend[BT_UDPDEC_PENDING];
	unsigned pnext;
	struct bt_udpdec_conv *hnext;
};

/* What one record's views point to, reused packet after packet. */
struct bt_udpdec_scratch {
	char url[96];
	struct bt_udp_announce ann;
	char url_data[BT_URL_MAX_LEN];
	struct bt_udp_scrape_entry ent[BT_DEC_MAX_HASHES];
	struct bt_udp_announce_resp ures;
	struct bt_peer_addr peers[BT_DEC_TRK_PEERS];
};

static bool forced(const struct bt_udpdec *u, uint16_t port)
{
	for (size_t i = 0; i < u->nforce; i++)
		if (u->force[i] == port)
			return true;
	return false;
}

static uint64_t ep_hash(const struct bt_pkt_addr *a, uint16_t port)
{
	uint64_t x = 0xcbf29ce484222325ull;   /* FNV-1a */

	for (size_t i = 0; i < 16; i++)
		x = (x ^ a->a[i]) * 0x100000001b3ull;
	x = (x ^ a->family) * 0x100000001b3ull;
	x = (x ^ port) * 0x100000001b3ull;
	return x;
}

/* The same for both directions. */
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

static void pend_clear(struct bt_udpdec *u, struct pend *pe)
{
	if (pe->h)
		bt_budget_free(u->mem, pe->h, pe->nh * 20);
	memset(pe, 0, sizeof *pe);
}

static struct bt_udpdec_conv *find(struct bt_udpdec *u, const struct bt_pkt *pk,
				   uint64_t hash, int *dir)
{
	struct bt_udpdec_conv *c = u->b[hash & (u->nb - 1)];

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

static void unhash(struct bt_udpdec *u, struct bt_udpdec_conv *c)
{
	struct bt_udpdec_conv **pp = &u->b[c->hash & (u->nb - 1)];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
}

/* A new conversation; the least recently active one makes room. */
static struct bt_udpdec_conv *conv_new(struct bt_udpdec *u, const struct bt_pkt *pk,
				       uint64_t hash, bool client_is_src)
{
	struct bt_udpdec_conv *c;

	if (u->n < u->cap) {
		c = &u->v[u->n++];
	} else {
		c = &u->v[0];
		for (size_t i = 1; i < u->cap; i++)
			if (u->v[i].last_us < c->last_us)
				c = &u->v[i];
		unhash(u, c);
		for (int i = 0; i < BT_UDPDEC_PENDING; i++)
			pend_clear(u, &c->pend[i]);
	}
	memset(c, 0, sizeof *c);
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
	u->convs++;
	return c;
}

static uint64_t load64(const uint8_t *p)
{
	return (uint64_t)bt_load_u32be(p) << 32 | bt_load_u32be(p + 4);
}

/* A BEP 15 announce request (with BEP 41 options); false if short.
 * tracker.h has the encoder only: a capture is the one place we read
 * requests. */
static bool announce_req(struct bt_udpdec_scratch *x, const uint8_t *p, size_t n)
{
	struct bt_udp_announce *a = &x->ann;
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
			size_t k = l < sizeof x->url_data - ul ? l : sizeof x->url_data - ul;
			memcpy(x->url_data + ul, p + i, k);
			ul += k;
			a->url_data_set = true;
		}
		i += l;
	}
	a->url_data = x->url_data;
	a->url_data_len = ul;
	return true;
}

static void bad(struct bt_dec_trk *t, int rc, const char *rule, uint64_t value)
{
	t->rc = rc;
	t->err.code = rc;
	t->err.rule = rule;
	t->err.value = value;
}

/* A request from the client; *pe gets the slot that remembers it. */
static void request(struct bt_udpdec *u, struct bt_udpdec_conv *c,
		    const uint8_t *p, size_t n, struct bt_dec_trk *t)
{
	struct pend *pe;
	uint32_t action;

	if (n < 16) {
		bad(t, BT_NEED_MORE, "request shorter than 16 bytes", 0);
		return;
	}
	t->connection_id = load64(p);
	action = bt_load_u32be(p + 8);
	t->tid = bt_load_u32be(p + 12);
	if (action > 2) {
		bad(t, BT_EINVAL, "unknown request action", action);
		return;
	}
	pe = &c->pend[c->pnext++ % BT_UDPDEC_PENDING];
	pend_clear(u, pe);
	pe->used = true;
	pe->action = (uint8_t)action;
	pe->tid = t->tid;
	if (action == BT_UDP_CONNECT) {
		t->kind = BT_DEC_TRK_UDP_CONNECT;
		if (t->connection_id != BT_UDP_PROTOCOL_ID)
			bad(t, BT_EINVAL, "connect request without the protocol id", 0);
	} else if (action == BT_UDP_ANNOUNCE) {
		t->kind = BT_DEC_TRK_UDP_ANNOUNCE;
		if (!announce_req(u->x, p, n))
			bad(t, BT_NEED_MORE, "announce request shorter than 98 bytes", n);
		else
			t->uann = &u->x->ann;
	} else {
		size_t nh = (n - 16) / 20, keep;

		t->kind = BT_DEC_TRK_UDP_SCRAPE;
		keep = nh < BT_DEC_MAX_HASHES ? nh : BT_DEC_MAX_HASHES;
		t->hashes = (const uint8_t (*)[20])(p + 16);
		t->nhashes = nh;
		if ((n - 16) % 20)
			bad(t, BT_EINVAL, "scrape request not 16 + 20n bytes", n);
		/* Kept for the answer, which counts them without naming them;
		 * without memory the answer is printed without the names. */
		if (keep && (pe->h = bt_budget_alloc(u->mem, keep * 20)) != NULL) {
			memcpy(pe->h, p + 16, keep * 20);
			pe->nh = keep;
		}
	}
}

/* A response from the tracker; returns the request slot it answers. */
static struct pend *response(struct bt_udpdec *u, struct bt_udpdec_conv *c,
			     const struct bt_pkt *pk, struct bt_dec_trk *t)
{
	const uint8_t *p = pk->payload;
	size_t n = pk->payload_len, ne = 0;
	struct bt_udpdec_scratch *x = u->x;
	struct pend *pe = NULL;
	uint32_t action, tid;

	if (n < 8) {
		bad(t, BT_NEED_MORE, "response shorter than 8 bytes", 0);
		return NULL;
	}
	action = bt_load_u32be(p);
	tid = t->tid = bt_load_u32be(p + 4);
	for (int i = 0; i < BT_UDPDEC_PENDING; i++)
		if (c->pend[i].used && c->pend[i].tid == tid)
			pe = &c->pend[i];
	t->matched = pe != NULL;
	switch (action) {
	case BT_UDP_CONNECT:
		t->kind = BT_DEC_TRK_UDP_CONNECTED;
		t->rc = bt_udp_parse_connect(p, n, tid, &t->connection_id, &t->err);
		break;
	case BT_UDP_ANNOUNCE:
		t->kind = BT_DEC_TRK_UDP_ANNOUNCE_RESP;
		memset(&x->ures, 0, sizeof x->ures);
		t->rc = bt_udp_parse_announce(p, n, tid, pk->l3 == BT_PKT_IPV6 ? 6 : 4,
					      &x->ures, x->peers, BT_DEC_TRK_PEERS, &t->err);
		t->uresp = &x->ures;
		t->peers = x->peers;
		t->npeers = x->ures.nstored;
		break;
	case BT_UDP_SCRAPE:
		t->kind = BT_DEC_TRK_UDP_SCRAPE_RESP;
		t->rc = bt_udp_parse_scrape(p, n, tid, x->ent, BT_DEC_MAX_HASHES, &ne, &t->err);
		t->sentries = x->ent;
		t->nsentries = ne < BT_DEC_MAX_HASHES ? ne : BT_DEC_MAX_HASHES;
		if (pe && pe->h) {
			t->hashes = (const uint8_t (*)[20])pe->h;
			t->nhashes = pe->nh;
		}
		break;
	case BT_UDP_ERROR:
		t->kind = BT_DEC_TRK_UDP_ERROR;
		t->rc = bt_udp_parse_error(p, n, tid, &t->errmsg, &t->errmsg_len, &t->err);
		break;
	default:
		bad(t, BT_EINVAL, "unknown response action", action);
		break;
	}
	return pe;
}

bool bt_udpdec_packet(struct bt_udpdec *u, const struct bt_pkt *pk,
		      bt_udpdec_rec_fn *rec, void *ctx)
{
	const uint8_t *p = pk->payload;
	size_t n = pk->payload_len;
	uint64_t hash = pair_hash(pk);
	struct bt_dec_trk t;
	struct bt_udpdec_conv *c;
	struct pend *pe = NULL;
	int dir = BT_DIR_OUT;
	char hp[BT_ADDR_STRLEN];

	c = find(u, pk, hash, &dir);
	if (!c) {
		if (n >= 16 && load64(p) == BT_UDP_PROTOCOL_ID && bt_load_u32be(p + 8) == 0)
			c = conv_new(u, pk, hash, true);
		else if (forced(u, pk->dport))
			c = conv_new(u, pk, hash, true);
		else if (forced(u, pk->sport))
			c = conv_new(u, pk, hash, false), dir = BT_DIR_IN;
		if (!c)
			return false;
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
	snprintf(u->x->url, sizeof u->x->url, "udp://%s",
		 bt_flow_ep_fmt(&c->srv, hp, sizeof hp));
	t.url = u->x->url;
	t.kind = BT_DEC_TRK_UDP_OTHER;
	t.rc = BT_OK;
	u->packets++;
	if (dir == BT_DIR_OUT)
		request(u, c, p, n, &t);
	else
		pe = response(u, c, pk, &t);
	if (rec)
		rec(ctx, &t);
	if (pe)     /* answered: forget it (its hashes were in the record) */
		pend_clear(u, pe);
	return true;
}

int bt_udpdec_init(struct bt_udpdec *u, struct bt_budget *mem, size_t max_conv,
		   const uint16_t *force, size_t nforce)
{
	size_t nb = 16;

	memset(u, 0, sizeof *u);
	u->mem = mem;
	u->force = force;
	u->nforce = nforce;
	u->cap = max_conv ? max_conv : BT_UDPDEC_DEF_CONV;
	while (nb < u->cap)
		nb *= 2;
	u->nb = nb;
	u->v = calloc(u->cap, sizeof *u->v);
	u->b = calloc(nb, sizeof *u->b);
	u->x = calloc(1, sizeof *u->x);
	if (!u->v || !u->b || !u->x) {
		bt_udpdec_free(u);
		return -ENOMEM;
	}
	return 0;
}

void bt_udpdec_free(struct bt_udpdec *u)
{
	if (u->v)
		for (size_t i = 0; i < u->n; i++)
			for (int k = 0; k < BT_UDPDEC_PENDING; k++)
				pend_clear(u, &u->v[i].pend[k]);
	free(u->v);
	free(u->b);
	free(u->x);
	memset(u, 0, sizeof *u);
}
