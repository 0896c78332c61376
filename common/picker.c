/* picker.c — rarest-first block picking with endgame; see picker.h. */
#include "picker.h"

#include <stdlib.h>
#include <string.h>

#define HIST_MAX 1024u          /* availabilities >= this share one bucket */
#define DEFAULT_REQQ 250u       /* BEP 10: libtorrent's default */

static uint64_t default_size(const struct bt_picker *pk, uint32_t piece)
{
	return piece + 1 < pk->npieces ? pk->cfg.piece_length : pk->cfg.last_size;
}

uint64_t bt_picker_piece_size(const struct bt_picker *pk, uint32_t piece)
{
	if (piece >= pk->npieces)
		return 0;
	if (pk->cfg.piece_size)
		return pk->cfg.piece_size(pk->cfg.size_ctx, piece);
	return default_size(pk, piece);
}

uint32_t bt_picker_nblocks(const struct bt_picker *pk, uint32_t piece)
{
	uint64_t sz = bt_picker_piece_size(pk, piece);

	return (uint32_t)((sz + BT_PICK_BLOCK - 1) / BT_PICK_BLOCK);
}

static uint32_t block_len(const struct bt_picker *pk, uint32_t piece, uint32_t b)
{
	uint64_t sz = bt_picker_piece_size(pk, piece);
	uint64_t off = (uint64_t)b * BT_PICK_BLOCK;

	return sz - off < BT_PICK_BLOCK ? (uint32_t)(sz - off) : BT_PICK_BLOCK;
}

/* ---- candidates: wanted, not had, not active ---- */

static bool is_cand(const struct bt_picker *pk, uint32_t p)
{
	return (pk->state[p] & (BT_PS_WANT | BT_PS_HAVE | BT_PS_ACTIVE)) == BT_PS_WANT;
}

static unsigned bucket(const struct bt_picker *pk, uint32_t p)
{
	return pk->avail[p] < HIST_MAX ? pk->avail[p] : HIST_MAX;
}

static void cand_out(struct bt_picker *pk, uint32_t p)
{
	if (is_cand(pk, p)) {
		pk->hist[bucket(pk, p)]--;
		pk->ncand--;
	}
}

static void cand_in(struct bt_picker *pk, uint32_t p)
{
	if (is_cand(pk, p)) {
		pk->hist[bucket(pk, p)]++;
		pk->ncand++;
	}
}

static void set_state(struct bt_picker *pk, uint32_t p, uint8_t set, uint8_t clear)
{
	bool was_want_have = (pk->state[p] & (BT_PS_WANT | BT_PS_HAVE)) ==
			     (BT_PS_WANT | BT_PS_HAVE);
	bool was_have = pk->state[p] & BT_PS_HAVE;
	bool was_want = pk->state[p] & BT_PS_WANT;

	cand_out(pk, p);
	pk->state[p] = (uint8_t)((pk->state[p] | set) & ~clear);
	cand_in(pk, p);
	pk->nwant += (uint32_t)((pk->state[p] & BT_PS_WANT) != 0) - (uint32_t)was_want;
	pk->nhave += (uint32_t)((pk->state[p] & BT_PS_HAVE) != 0) - (uint32_t)was_have;
	pk->nhave_wanted += (uint32_t)((pk->state[p] & (BT_PS_WANT | BT_PS_HAVE)) ==
				       (BT_PS_WANT | BT_PS_HAVE)) - (uint32_t)was_want_have;
}

static void avail_add(struct bt_picker *pk, uint32_t p, int d)
{
	cand_out(pk, p);
	if (d > 0 && pk->avail[p] < UINT16_MAX)
		pk->avail[p]++;
	else if (d < 0 && pk->avail[p] > 0)
		pk->avail[p]--;
	cand_in(pk, p);
}

/* ---- setup ---- */

int bt_picker_init(struct bt_picker *pk, const struct bt_pick_cfg *cfg)
{
	uint64_t maxsz = 0;
	unsigned s;
	uint32_t p;

	memset(pk, 0, sizeof *pk);
	if (!cfg->npieces || !cfg->max_active || !cfg->piece_length ||
	    cfg->max_active >= BT_PICK_NONE)
		return BT_EINVAL;
	pk->cfg = *cfg;
	if (!pk->cfg.min_depth)
		pk->cfg.min_depth = 4;
	if (!pk->cfg.max_depth)
		pk->cfg.max_depth = 256;
	if (pk->cfg.min_depth > pk->cfg.max_depth)
		pk->cfg.min_depth = pk->cfg.max_depth;
	if (!pk->cfg.max_dup)
		pk->cfg.max_dup = 2;
	if (!pk->cfg.queue_time_us)
		pk->cfg.queue_time_us = 500000;
	pk->npieces = cfg->npieces;
	/* The largest piece: the nominal length (v2 and the last piece are
	 * never longer). */
	maxsz = cfg->piece_length;
	if (!cfg->piece_size && cfg->last_size > maxsz)
		return BT_EINVAL;
	if (maxsz > ((uint64_t)1 << 31))
		return BT_EINVAL;
	pk->max_blocks = (uint32_t)((maxsz + BT_PICK_BLOCK - 1) / BT_PICK_BLOCK);
	pk->hist_len = HIST_MAX + 1;
	pk->avail = calloc(pk->npieces, sizeof *pk->avail);
	pk->state = calloc(pk->npieces, 1);
	pk->slot_of = calloc(pk->npieces, sizeof *pk->slot_of);
	pk->hist = calloc(pk->hist_len, sizeof *pk->hist);
	pk->slots = calloc(cfg->max_active, sizeof *pk->slots);
	if (!pk->avail || !pk->state || !pk->slot_of || !pk->hist || !pk->slots)
		goto nomem;
	pk->nslots = cfg->max_active;
	for (s = 0; s < pk->nslots; s++) {
		struct bt_pick_slot *sl = &pk->slots[s];
		sl->st = calloc(pk->max_blocks, 1);
		sl->nreq = calloc(pk->max_blocks, 1);
		sl->from = calloc(pk->max_blocks, sizeof *sl->from);
		sl->piece = UINT32_MAX;
		sl->owner = BT_PICK_NONE;
		if (!sl->st || !sl->nreq || !sl->from)
			goto nomem;
	}
	for (p = 0; p < pk->npieces; p++)
		pk->slot_of[p] = BT_PICK_NONE;
	return BT_OK;
nomem:
	bt_picker_free(pk);
	return BT_ENOSPC;
}

void bt_picker_free(struct bt_picker *pk)
{
	unsigned s;

	if (pk->slots)
		for (s = 0; s < pk->cfg.max_active; s++) {
			free(pk->slots[s].st);
			free(pk->slots[s].nreq);
			free(pk->slots[s].from);
		}
	free(pk->slots);
	free(pk->avail);
	free(pk->state);
	free(pk->slot_of);
	free(pk->hist);
	memset(pk, 0, sizeof *pk);
}

/* ---- slots ---- */

static unsigned slot_take(struct bt_picker *pk, uint32_t p, uint64_t now_us)
{
	unsigned s;

	for (s = 0; s < pk->nslots; s++)
		if (pk->slots[s].piece == UINT32_MAX)
			break;
	if (s == pk->nslots)
		return BT_PICK_NONE;
	struct bt_pick_slot *sl = &pk->slots[s];
	sl->piece = p;
	sl->nblocks = bt_picker_nblocks(pk, p);
	sl->nrecv = 0;
	sl->nfree = sl->nblocks;
	sl->hint = 0;
	sl->owner = BT_PICK_NONE;
	sl->started_us = now_us;
	memset(sl->st, BT_BLK_FREE, sl->nblocks);
	memset(sl->nreq, 0, sl->nblocks);
	memset(sl->from, 0xff, sl->nblocks * sizeof *sl->from);
	pk->slot_of[p] = (uint16_t)s;
	set_state(pk, p, BT_PS_ACTIVE, 0);
	pk->nactive++;
	return s;
}

static void slot_release(struct bt_picker *pk, uint32_t p)
{
	unsigned s = pk->slot_of[p];

	if (s == BT_PICK_NONE)
		return;
	pk->slots[s].piece = UINT32_MAX;
	pk->slots[s].owner = BT_PICK_NONE;
	pk->slot_of[p] = BT_PICK_NONE;
	set_state(pk, p, 0, BT_PS_ACTIVE);
	pk->nactive--;
}

unsigned bt_picker_slot(const struct bt_picker *pk, uint32_t piece)
{
	return piece < pk->npieces ? pk->slot_of[piece] : BT_PICK_NONE;
}

/* ---- pieces ---- */

void bt_picker_want(struct bt_picker *pk, uint32_t piece, bool want)
{
	if (piece >= pk->npieces)
		return;
	if (want)
		set_state(pk, piece, BT_PS_WANT, 0);
	else
		set_state(pk, piece, 0, BT_PS_WANT);
}

void bt_picker_have(struct bt_picker *pk, uint32_t piece)
{
	if (piece >= pk->npieces)
		return;
	slot_release(pk, piece);
	set_state(pk, piece, BT_PS_HAVE, BT_PS_PAROLE);
}

void bt_picker_failed(struct bt_picker *pk, uint32_t piece)
{
	unsigned s;
	struct bt_pick_slot *sl;
	uint32_t b;

	if (piece >= pk->npieces || (s = pk->slot_of[piece]) == BT_PICK_NONE)
		return;
	sl = &pk->slots[s];
	set_state(pk, piece, BT_PS_PAROLE, 0);
	sl->owner = BT_PICK_NONE;
	sl->nrecv = 0;
	sl->nfree = 0;
	sl->hint = 0;
	for (b = 0; b < sl->nblocks; b++) {
		sl->st[b] = sl->nreq[b] ? BT_BLK_REQUESTED : BT_BLK_FREE;
		sl->from[b] = BT_PICK_NONE;
		if (sl->st[b] == BT_BLK_FREE)
			sl->nfree++;
	}
}

bool bt_picker_has(const struct bt_picker *pk, uint32_t piece)
{
	return piece < pk->npieces && (pk->state[piece] & BT_PS_HAVE);
}

bool bt_picker_complete(const struct bt_picker *pk)
{
	return pk->nhave_wanted == pk->nwant;
}

bool bt_picker_endgame(const struct bt_picker *pk)
{
	unsigned s;

	if (pk->ncand)
		return false;
	for (s = 0; s < pk->nslots; s++)
		if (pk->slots[s].piece != UINT32_MAX && pk->slots[s].nfree)
			return false;
	return true;
}

void bt_picker_progress(const struct bt_picker *pk, uint64_t *want, uint64_t *have)
{
	uint64_t w = 0, h = 0;
	uint32_t p;

	for (p = 0; p < pk->npieces; p++)
		if (pk->state[p] & BT_PS_WANT) {
			uint64_t sz = bt_picker_piece_size(pk, p);
			w += sz;
			if (pk->state[p] & BT_PS_HAVE)
				h += sz;
		}
	*want = w;
	*have = h;
}

size_t bt_picker_contributors(const struct bt_picker *pk, uint32_t piece,
			      uint16_t *ids, size_t cap)
{
	unsigned s = bt_picker_slot(pk, piece);
	const struct bt_pick_slot *sl;
	size_t n = 0, i;
	uint32_t b;

	if (s == BT_PICK_NONE)
		return 0;
	sl = &pk->slots[s];
	for (b = 0; b < sl->nblocks; b++) {
		uint16_t id = sl->from[b];
		bool seen = false;
		if (id == BT_PICK_NONE)
			continue;
		for (i = 0; i < n && i < cap; i++)
			if (ids[i] == id)
				seen = true;
		if (seen)
			continue;
		/* Beyond cap duplicates cannot be told apart; count anyway. */
		if (n < cap)
			ids[n] = id;
		n++;
	}
	return n;
}

/* ---- peers ---- */

static bool bit(const uint8_t *bits, uint32_t p)
{
	return bits[p >> 3] & (0x80u >> (p & 7));
}

int bt_picker_peer_init(struct bt_picker *pk, struct bt_pick_peer *pp, uint16_t id)
{
	memset(pp, 0, sizeof *pp);
	pp->id = id;
	pp->choked = true;
	pp->slow_start = true;
	pp->depth = pk->cfg.min_depth;
	pp->bits = calloc((pk->npieces + 7) / 8, 1);
	pp->capq = pk->cfg.max_depth;
	pp->q = calloc(pp->capq, sizeof *pp->q);
	if (!pp->bits || !pp->q) {
		free(pp->bits);
		free(pp->q);
		memset(pp, 0, sizeof *pp);
		return BT_ENOSPC;
	}
	return BT_OK;
}

static void uncount(struct bt_picker *pk, struct bt_pick_peer *pp)
{
	uint32_t p;

	if (!pp->counted)
		return;
	for (p = 0; p < pk->npieces; p++)
		if (bit(pp->bits, p))
			avail_add(pk, p, -1);
	pp->counted = false;
	pk->npeers--;
}

static void count(struct bt_picker *pk, struct bt_pick_peer *pp)
{
	uint32_t p;

	if (pp->counted)
		return;
	pp->nhave = 0;
	for (p = 0; p < pk->npieces; p++)
		if (bit(pp->bits, p)) {
			avail_add(pk, p, +1);
			pp->nhave++;
		}
	pp->counted = true;
	pk->npeers++;
}

void bt_picker_peer_free(struct bt_picker *pk, struct bt_pick_peer *pp)
{
	unsigned s;

	if (!pp->bits)
		return;
	bt_picker_peer_drop_all(pk, pp, false);
	uncount(pk, pp);
	for (s = 0; s < pk->nslots; s++)
		if (pk->slots[s].owner == pp->id)
			pk->slots[s].owner = BT_PICK_NONE;
	free(pp->bits);
	free(pp->q);
	memset(pp, 0, sizeof *pp);
}

int bt_picker_peer_bitfield(struct bt_picker *pk, struct bt_pick_peer *pp,
			    const uint8_t *bits, size_t nbytes)
{
	size_t want = (pk->npieces + 7) / 8;
	unsigned spare = (unsigned)(want * 8 - pk->npieces);

	if (nbytes != want)
		return BT_EINVAL;
	if (spare && (bits[want - 1] & ((1u << spare) - 1)))
		return BT_EINVAL;
	uncount(pk, pp);
	memcpy(pp->bits, bits, want);
	count(pk, pp);
	return BT_OK;
}

void bt_picker_peer_have_all(struct bt_picker *pk, struct bt_pick_peer *pp)
{
	size_t n = (pk->npieces + 7) / 8;
	unsigned spare = (unsigned)(n * 8 - pk->npieces);

	uncount(pk, pp);
	memset(pp->bits, 0xff, n);
	if (spare)
		pp->bits[n - 1] = (uint8_t)(0xffu << spare);
	count(pk, pp);
}

int bt_picker_peer_have(struct bt_picker *pk, struct bt_pick_peer *pp, uint32_t piece)
{
	if (piece >= pk->npieces)
		return BT_EINVAL;
	if (!pp->counted) {
		pp->counted = true;
		pk->npeers++;
	}
	if (bit(pp->bits, piece))
		return BT_OK;
	pp->bits[piece >> 3] |= (uint8_t)(0x80u >> (piece & 7));
	pp->nhave++;
	avail_add(pk, piece, +1);
	return BT_OK;
}

bool bt_picker_peer_has(const struct bt_picker *pk, const struct bt_pick_peer *pp,
			uint32_t piece)
{
	return piece < pk->npieces && pp->bits && bit(pp->bits, piece);
}

bool bt_picker_interesting(const struct bt_picker *pk, const struct bt_pick_peer *pp)
{
	uint32_t p;

	if (!pp->bits || bt_picker_complete(pk))
		return false;
	for (p = 0; p < pk->npieces; p++)
		if ((pk->state[p] & (BT_PS_WANT | BT_PS_HAVE)) == BT_PS_WANT && bit(pp->bits, p))
			return true;
	return false;
}

/* ---- requests ---- */

static unsigned limit(const struct bt_picker *pk, const struct bt_pick_peer *pp)
{
	unsigned l = pk->cfg.max_depth, r = pp->reqq ? pp->reqq : DEFAULT_REQQ;

	if (r < l)
		l = r;
	return l ? l : 1;
}

static bool in_queue(const struct bt_pick_peer *pp, uint32_t piece, uint32_t begin)
{
	unsigned i;

	for (i = 0; i < pp->nq; i++)
		if (pp->q[i].piece == piece && pp->q[i].begin == begin)
			return true;
	return false;
}

static void push(struct bt_picker *pk, struct bt_pick_peer *pp, struct bt_pick_slot *sl,
		 uint32_t b, uint64_t now_us, struct bt_pick_req *out)
{
	struct bt_pick_req *r = &pp->q[pp->nq++];

	if (sl->st[b] == BT_BLK_FREE) {
		sl->st[b] = BT_BLK_REQUESTED;
		sl->nfree--;
	}
	if (sl->nreq[b] < UINT8_MAX)
		sl->nreq[b]++;
	r->piece = sl->piece;
	r->begin = b * BT_PICK_BLOCK;
	r->len = block_len(pk, sl->piece, b);
	r->t_us = now_us;
	*out = *r;
	if ((pk->state[sl->piece] & BT_PS_PAROLE) && sl->owner == BT_PICK_NONE)
		sl->owner = pp->id;
}

/* May pp take blocks of this slot? */
static bool slot_open(const struct bt_picker *pk, const struct bt_pick_peer *pp,
		      const struct bt_pick_slot *sl)
{
	if (sl->piece == UINT32_MAX || !bit(pp->bits, sl->piece))
		return false;
	if ((pk->state[sl->piece] & BT_PS_PAROLE) && sl->owner != BT_PICK_NONE &&
	    sl->owner != pp->id)
		return false;
	return true;
}

/* Step 1: a free block of an active piece. */
static bool pick_active(struct bt_picker *pk, struct bt_pick_peer *pp, uint64_t now_us,
			struct bt_pick_req *out)
{
	unsigned s;

	for (s = 0; s < pk->nslots; s++) {
		struct bt_pick_slot *sl = &pk->slots[s];
		uint32_t b;
		if (!sl->nfree || !slot_open(pk, pp, sl))
			continue;
		for (b = sl->hint; b < sl->nblocks; b++)
			if (sl->st[b] == BT_BLK_FREE)
				break;
		if (b == sl->nblocks)
			continue;   /* cannot happen while nfree > 0 */
		sl->hint = b + 1;
		push(pk, pp, sl, b, now_us, out);
		return true;
	}
	return false;
}

/* Step 2: the rarest piece pp has that nobody has started. */
static uint32_t rarest(struct bt_picker *pk, const struct bt_pick_peer *pp)
{
	uint32_t i, best = UINT32_MAX;
	unsigned a0, best_a = UINT32_MAX;

	if (!pk->ncand)
		return UINT32_MAX;
	for (a0 = 1; a0 < pk->hist_len && !pk->hist[a0]; a0++)
		;
	for (i = 0; i < pk->npieces; i++) {
		uint32_t p = pk->rotate + i;
		unsigned a;
		if (p >= pk->npieces)
			p -= pk->npieces;
		if (!is_cand(pk, p) || !bit(pp->bits, p))
			continue;
		a = bucket(pk, p);
		if (a < best_a) {
			best_a = a;
			best = p;
			if (a <= a0)
				break;
		}
	}
	return best;
}

/* Step 3: a block someone else was asked for. */
static bool pick_dup(struct bt_picker *pk, struct bt_pick_peer *pp, uint64_t now_us,
		     struct bt_pick_req *out)
{
	unsigned s, want = 1;

	/* Blocks with the fewest requesters first. */
	for (want = 1; want < pk->cfg.max_dup; want++)
		for (s = 0; s < pk->nslots; s++) {
			struct bt_pick_slot *sl = &pk->slots[s];
			uint32_t b;
			if (!slot_open(pk, pp, sl))
				continue;
			for (b = 0; b < sl->nblocks; b++)
				if (sl->st[b] == BT_BLK_REQUESTED && sl->nreq[b] == want &&
				    !in_queue(pp, sl->piece, b * BT_PICK_BLOCK)) {
					push(pk, pp, sl, b, now_us, out);
					return true;
				}
		}
	return false;
}

size_t bt_picker_next(struct bt_picker *pk, struct bt_pick_peer *pp,
		      struct bt_pick_req *out, size_t max, uint64_t now_us)
{
	size_t n = 0;
	unsigned lim = limit(pk, pp);
	unsigned depth = pp->depth < lim ? pp->depth : lim;

	if (pp->choked || !pp->bits)
		return 0;
	if (depth > pp->capq)
		depth = pp->capq;
	while (n < max && pp->nq < depth) {
		uint32_t p;
		if (pick_active(pk, pp, now_us, &out[n])) {
			n++;
			continue;
		}
		if (pk->nactive < pk->nslots && (p = rarest(pk, pp)) != UINT32_MAX) {
			pk->rotate = p + 1 < pk->npieces ? p + 1 : 0;
			slot_take(pk, p, now_us);
			continue;   /* its blocks are free: step 1 takes them */
		}
		/* Endgame proper; or every slot is taken and this peer would
		 * sit idle: one block at a time that another peer holds. */
		if ((!pk->ncand || (pk->nactive == pk->nslots && !pp->nq)) &&
		    pick_dup(pk, pp, now_us, &out[n])) {
			n++;
			continue;
		}
		break;
	}
	return n;
}

static void remember(struct bt_pick_peer *pp, uint32_t piece, uint32_t begin)
{
	pp->late[pp->late_pos].piece = piece;
	pp->late[pp->late_pos].begin = begin;
	pp->late_pos = (pp->late_pos + 1) % BT_PICK_LATE_RING;
	if (pp->nlate < BT_PICK_LATE_RING)
		pp->nlate++;
}

static bool was_late(struct bt_pick_peer *pp, uint32_t piece, uint32_t begin)
{
	unsigned i;

	for (i = 0; i < pp->nlate; i++)
		if (pp->late[i].piece == piece && pp->late[i].begin == begin) {
			pp->late[i].piece = UINT32_MAX;   /* once */
			return true;
		}
	return false;
}

/* Undo one request's mark in its slot (if the piece is still active). */
static void unmark(struct bt_picker *pk, uint32_t piece, uint32_t begin)
{
	unsigned s = bt_picker_slot(pk, piece);
	struct bt_pick_slot *sl;
	uint32_t b = begin / BT_PICK_BLOCK;

	if (s == BT_PICK_NONE)
		return;
	sl = &pk->slots[s];
	if (b >= sl->nblocks)
		return;
	if (sl->nreq[b])
		sl->nreq[b]--;
	if (!sl->nreq[b] && sl->st[b] == BT_BLK_REQUESTED) {
		sl->st[b] = BT_BLK_FREE;
		sl->nfree++;
		if (b < sl->hint)
			sl->hint = b;
	}
}

static void q_remove(struct bt_pick_peer *pp, unsigned i)
{
	memmove(&pp->q[i], &pp->q[i + 1], (pp->nq - i - 1) * sizeof *pp->q);
	pp->nq--;
}

bool bt_picker_peer_drop(struct bt_picker *pk, struct bt_pick_peer *pp,
			 uint32_t piece, uint32_t begin, bool keep)
{
	unsigned i;

	for (i = 0; i < pp->nq; i++)
		if (pp->q[i].piece == piece && pp->q[i].begin == begin) {
			q_remove(pp, i);
			unmark(pk, piece, begin);
			if (keep)
				remember(pp, piece, begin);
			return true;
		}
	return false;
}

unsigned bt_picker_peer_drop_all(struct bt_picker *pk, struct bt_pick_peer *pp, bool keep)
{
	unsigned n = pp->nq, i;

	for (i = 0; i < pp->nq; i++) {
		unmark(pk, pp->q[i].piece, pp->q[i].begin);
		if (keep)
			remember(pp, pp->q[i].piece, pp->q[i].begin);
	}
	pp->nq = 0;
	return n;
}

int bt_picker_block_in(struct bt_picker *pk, struct bt_pick_peer *pp,
		       uint32_t piece, uint32_t begin, uint32_t len,
		       uint64_t now_us, unsigned *slot, bool *complete)
{
	bool requested = false, late = false;
	struct bt_pick_slot *sl;
	unsigned s, i;
	uint32_t b;

	*complete = false;
	*slot = BT_PICK_NONE;
	if (piece >= pk->npieces || begin % BT_PICK_BLOCK ||
	    (b = begin / BT_PICK_BLOCK) >= bt_picker_nblocks(pk, piece) ||
	    len != block_len(pk, piece, b))
		return BT_PICK_BAD;
	/* Blocks mostly come in request order: the head matches. */
	for (i = 0; i < pp->nq; i++)
		if (pp->q[i].piece == piece && pp->q[i].begin == begin) {
			q_remove(pp, i);
			requested = true;
			break;
		}
	if (!requested && !(late = was_late(pp, piece, begin)))
		return BT_PICK_UNREQUESTED;
	pp->win_bytes += len;
	pp->last_block_us = now_us;
	if (requested && pp->slow_start && pp->depth < limit(pk, pp))
		pp->depth++;
	s = bt_picker_slot(pk, piece);
	if (s == BT_PICK_NONE)
		return requested ? BT_PICK_DUP : BT_PICK_UNWANTED;
	sl = &pk->slots[s];
	if (requested && sl->nreq[b])
		sl->nreq[b]--;
	if (sl->st[b] == BT_BLK_RECEIVED)
		return requested ? BT_PICK_DUP : BT_PICK_UNWANTED;
	if (late && (pk->state[piece] & BT_PS_PAROLE) && sl->owner != pp->id)
		return BT_PICK_UNWANTED;
	if (sl->st[b] == BT_BLK_FREE)
		sl->nfree--;
	sl->st[b] = BT_BLK_RECEIVED;
	sl->from[b] = pp->id;
	sl->nrecv++;
	pp->bytes += len;
	*slot = s;
	*complete = sl->nrecv == sl->nblocks;
	return requested ? BT_PICK_OK : BT_PICK_LATE;
}

int bt_picker_block_fill(struct bt_picker *pk, uint32_t piece, uint32_t b, bool *complete)
{
	unsigned s = bt_picker_slot(pk, piece);
	struct bt_pick_slot *sl;

	*complete = false;
	if (s == BT_PICK_NONE)
		return BT_EINVAL;
	sl = &pk->slots[s];
	if (b >= sl->nblocks)
		return BT_EINVAL;
	if (sl->st[b] != BT_BLK_RECEIVED) {
		if (sl->st[b] == BT_BLK_FREE)
			sl->nfree--;
		sl->st[b] = BT_BLK_RECEIVED;
		sl->nrecv++;
	}
	*complete = sl->nrecv == sl->nblocks;
	return BT_OK;
}

void bt_picker_peer_tick(struct bt_picker *pk, struct bt_pick_peer *pp, uint64_t now_us)
{
	uint64_t dt, inst, target;
	unsigned lim = limit(pk, pp);

	if (!pp->win_start_us) {
		pp->win_start_us = now_us;
		return;
	}
	dt = now_us - pp->win_start_us;
	if (dt < 100000)
		return;
	inst = pp->win_bytes * 1000000u / dt;
	pp->rate = pp->rate ? (pp->rate + inst) / 2 : inst;
	pp->win_bytes = 0;
	pp->win_start_us = now_us;
	if (pp->slow_start && pp->rate && pp->last_rate &&
	    pp->rate * 10 <= pp->last_rate * 11)
		pp->slow_start = false;
	if (!pp->slow_start) {
		target = pp->rate * pk->cfg.queue_time_us / 1000000u / BT_PICK_BLOCK + 2;
		if (target < pk->cfg.min_depth)
			target = pk->cfg.min_depth;
		if (target > lim)
			target = lim;
		pp->depth = (unsigned)target;
	}
	if (pp->depth > lim)
		pp->depth = lim;
	if (pp->rate)
		pp->last_rate = pp->rate;
}
