#include "picker.h"
#include "t.h"

#define B BT_PICK_BLOCK

/* 10 pieces of 64 KiB (4 blocks), the last one 20000 bytes (2 blocks). */
static void setup(struct bt_picker *pk, unsigned slots)
{
	struct bt_pick_cfg c;

	memset(&c, 0, sizeof c);
	c.npieces = 10;
	c.piece_length = 4 * B;
	c.last_size = 20000;
	c.max_active = slots;
	c.min_depth = 4;
	c.max_depth = 64;
	T_EQ_INT(bt_picker_init(pk, &c), BT_OK);
	for (uint32_t p = 0; p < 10; p++)
		bt_picker_want(pk, p, true);
}

static void peer(struct bt_picker *pk, struct bt_pick_peer *pp, uint16_t id, bool all)
{
	T_EQ_INT(bt_picker_peer_init(pk, pp, id), BT_OK);
	if (all)
		bt_picker_peer_have_all(pk, pp);
	pp->choked = false;
}

static void test_sizes_and_blocks(void)
{
	struct bt_picker pk;

	setup(&pk, 4);
	T_EQ_UINT(bt_picker_piece_size(&pk, 0), 4 * B);
	T_EQ_UINT(bt_picker_piece_size(&pk, 9), 20000);
	T_EQ_UINT(bt_picker_piece_size(&pk, 10), 0);
	T_EQ_UINT(bt_picker_nblocks(&pk, 0), 4);
	T_EQ_UINT(bt_picker_nblocks(&pk, 9), 2);
	bt_picker_free(&pk);
}

static void test_rarest_first(void)
{
	struct bt_picker pk;
	struct bt_pick_peer a, b, c;
	struct bt_pick_req r[4];
	/* a has everything; b has 0-7; c has 0-4.  Availability: 0-4: 3,
	 * 5-7: 2, 8-9: 1 (only a). */
	uint8_t bb[2] = { 0xff, 0x00 }, bc[2] = { 0xf8, 0x00 };

	setup(&pk, 4);
	peer(&pk, &a, 1, true);
	peer(&pk, &b, 2, false);
	peer(&pk, &c, 3, false);
	T_EQ_INT(bt_picker_peer_bitfield(&pk, &b, bb, 2), BT_OK);
	T_EQ_INT(bt_picker_peer_bitfield(&pk, &c, bc, 2), BT_OK);
	T_EQ_UINT(pk.avail[0], 3);
	T_EQ_UINT(pk.avail[6], 2);
	T_EQ_UINT(pk.avail[9], 1);
	/* a: the rarest pieces are 8 and 9. */
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 1, 0), 1);
	T_EQ_UINT(r[0].piece, 8);
	T_EQ_UINT(r[0].begin, 0);
	T_EQ_UINT(r[0].len, B);
	/* b does not have 8 or 9: its rarest are 5-7. */
	T_EQ_UINT(bt_picker_next(&pk, &b, r, 1, 0), 1);
	T_CHECK(r[0].piece >= 5 && r[0].piece <= 7);
	/* c only has 0-4, all equally common. */
	T_EQ_UINT(bt_picker_next(&pk, &c, r, 1, 0), 1);
	T_CHECK(r[0].piece <= 4);
	/* A have makes a piece more common: availability follows. */
	T_EQ_INT(bt_picker_peer_have(&pk, &c, 9), BT_OK);
	T_EQ_UINT(pk.avail[9], 2);
	T_EQ_INT(bt_picker_peer_have(&pk, &c, 10), BT_EINVAL);
	bt_picker_peer_free(&pk, &a);
	T_EQ_UINT(pk.avail[9], 1);
	T_EQ_UINT(pk.avail[0], 2);
	bt_picker_peer_free(&pk, &b);
	bt_picker_peer_free(&pk, &c);
	T_EQ_UINT(pk.avail[0], 0);
	bt_picker_free(&pk);
}

static void test_bitfield_checks_and_resend(void)
{
	struct bt_picker pk;
	struct bt_pick_peer a;
	uint8_t ok[2] = { 0xff, 0xc0 }, spare[2] = { 0xff, 0xe0 }, one[2] = { 0x80, 0 };
	uint8_t three[3] = { 0xff, 0xc0, 0 };

	setup(&pk, 4);
	peer(&pk, &a, 1, false);
	T_EQ_INT(bt_picker_peer_bitfield(&pk, &a, three, 3), BT_EINVAL);
	T_EQ_INT(bt_picker_peer_bitfield(&pk, &a, ok, 1), BT_EINVAL);
	T_EQ_INT(bt_picker_peer_bitfield(&pk, &a, spare, 2), BT_EINVAL);
	T_EQ_UINT(pk.avail[0], 0);
	T_EQ_INT(bt_picker_peer_bitfield(&pk, &a, ok, 2), BT_OK);
	T_EQ_UINT(a.nhave, 10);
	T_EQ_UINT(pk.avail[9], 1);
	/* aria2 sends its bitfield again: replaced, not added. */
	T_EQ_INT(bt_picker_peer_bitfield(&pk, &a, one, 2), BT_OK);
	T_EQ_UINT(a.nhave, 1);
	T_EQ_UINT(pk.avail[0], 1);
	T_EQ_UINT(pk.avail[9], 0);
	T_CHECK(bt_picker_interesting(&pk, &a));
	bt_picker_have(&pk, 0);
	T_CHECK(!bt_picker_interesting(&pk, &a));
	bt_picker_peer_free(&pk, &a);
	bt_picker_free(&pk);
}

static void test_depth_and_reqq(void)
{
	struct bt_picker pk;
	struct bt_pick_peer a;
	struct bt_pick_req r[64];
	unsigned slot, i;
	bool done;

	setup(&pk, 10);
	peer(&pk, &a, 1, true);
	/* Starts at min_depth. */
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 64, 0), 4);
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 64, 0), 0);
	/* Slow start: each block in grows the depth by one. */
	T_EQ_INT(bt_picker_block_in(&pk, &a, r[0].piece, r[0].begin, r[0].len, 10,
				    &slot, &done), BT_PICK_OK);
	T_EQ_UINT(a.depth, 5);
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 64, 20), 2);
	/* reqq caps the queue whatever the depth. */
	a.reqq = 3;
	a.depth = 50;
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 64, 30), 0);
	T_EQ_UINT(a.nq, 5);
	a.reqq = 8;
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 64, 30), 3);
	T_EQ_UINT(a.nq, 8);
	/* After slow start the depth follows the rate: 1 MB/s for 0.5 s of
	 * queue is 30 blocks + 2, within [min, min(max, reqq)]. */
	a.reqq = 0;
	a.slow_start = false;
	a.win_start_us = 1;
	a.win_bytes = 1000000;
	bt_picker_peer_tick(&pk, &a, 1000001);
	T_EQ_UINT(a.rate, 1000000);
	T_EQ_UINT(a.depth, 1000000 / 2 / B + 2);
	a.win_bytes = 100000000;
	bt_picker_peer_tick(&pk, &a, 2000001);
	T_EQ_UINT(a.depth, 64);
	/* The rate is an average: it decays, and the depth with it, down
	 * to min_depth. */
	for (i = 0; i < 40; i++) {
		a.win_bytes = 0;
		bt_picker_peer_tick(&pk, &a, 3000001 + (uint64_t)i * 1000000);
	}
	T_EQ_UINT(a.depth, 4);
	bt_picker_peer_free(&pk, &a);
	bt_picker_free(&pk);
}

/* Deliver every request of pp's queue; returns pieces completed. */
static unsigned deliver_all(struct bt_picker *pk, struct bt_pick_peer *pp, uint32_t *last)
{
	unsigned n = 0, slot;
	bool done;

	while (pp->nq) {
		struct bt_pick_req q = pp->q[0];
		T_EQ_INT(bt_picker_block_in(pk, pp, q.piece, q.begin, q.len, 0, &slot, &done),
			 BT_PICK_OK);
		if (done) {
			n++;
			*last = q.piece;
			bt_picker_have(pk, q.piece);
		}
	}
	return n;
}

static void test_piece_from_several_peers(void)
{
	struct bt_picker pk;
	struct bt_pick_peer a, b;
	struct bt_pick_req r[8];
	uint16_t ids[4];
	unsigned slot;
	bool done;

	setup(&pk, 1);           /* one slot: both must share its piece */
	peer(&pk, &a, 1, true);
	peer(&pk, &b, 2, true);
	a.depth = b.depth = 2;
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 8, 0), 2);
	T_EQ_UINT(bt_picker_next(&pk, &b, r + 2, 8, 0), 2);
	T_EQ_UINT(r[0].piece, r[2].piece);
	T_EQ_UINT(r[0].begin, 0);
	T_EQ_UINT(r[1].begin, B);
	T_EQ_UINT(r[2].begin, 2 * B);
	T_EQ_UINT(r[3].begin, 3 * B);
	T_EQ_INT(bt_picker_block_in(&pk, &a, r[0].piece, 0, B, 0, &slot, &done), BT_PICK_OK);
	T_EQ_INT(bt_picker_block_in(&pk, &b, r[0].piece, 2 * B, B, 0, &slot, &done), BT_PICK_OK);
	T_EQ_INT(bt_picker_block_in(&pk, &a, r[0].piece, B, B, 0, &slot, &done), BT_PICK_OK);
	T_CHECK(!done);
	T_EQ_INT(bt_picker_block_in(&pk, &b, r[0].piece, 3 * B, B, 0, &slot, &done), BT_PICK_OK);
	T_CHECK(done);
	T_EQ_UINT(bt_picker_contributors(&pk, r[0].piece, ids, 4), 2);
	T_EQ_UINT(ids[0], 1);
	T_EQ_UINT(ids[1], 2);
	bt_picker_have(&pk, r[0].piece);
	T_EQ_UINT(pk.nactive, 0);
	bt_picker_peer_free(&pk, &a);
	bt_picker_peer_free(&pk, &b);
	bt_picker_free(&pk);
}

static void test_block_in_verdicts(void)
{
	struct bt_picker pk;
	struct bt_pick_peer a, b;
	struct bt_pick_req r[8];
	unsigned slot;
	bool done;

	setup(&pk, 2);
	peer(&pk, &a, 1, true);
	peer(&pk, &b, 2, true);
	a.depth = 1;
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 8, 0), 1);
	/* Not a block: bad offset, bad length, bad piece. */
	T_EQ_INT(bt_picker_block_in(&pk, &a, r[0].piece, 1, B, 0, &slot, &done), BT_PICK_BAD);
	T_EQ_INT(bt_picker_block_in(&pk, &a, r[0].piece, 0, B - 1, 0, &slot, &done), BT_PICK_BAD);
	T_EQ_INT(bt_picker_block_in(&pk, &a, 10, 0, B, 0, &slot, &done), BT_PICK_BAD);
	/* A real block nobody asked this peer for. */
	T_EQ_INT(bt_picker_block_in(&pk, &b, r[0].piece, 0, B, 0, &slot, &done),
		 BT_PICK_UNREQUESTED);
	T_EQ_INT(bt_picker_block_in(&pk, &a, r[0].piece, B, B, 0, &slot, &done),
		 BT_PICK_UNREQUESTED);
	/* Cancelled, then it comes anyway: late, still needed, stored. */
	T_CHECK(bt_picker_peer_drop(&pk, &a, r[0].piece, 0, true));
	T_EQ_UINT(a.nq, 0);
	T_EQ_INT(bt_picker_block_in(&pk, &a, r[0].piece, 0, B, 0, &slot, &done), BT_PICK_LATE);
	T_EQ_UINT(pk.slots[slot].nrecv, 1);
	/* ... only once. */
	T_EQ_INT(bt_picker_block_in(&pk, &a, r[0].piece, 0, B, 0, &slot, &done),
		 BT_PICK_UNREQUESTED);
	/* The short last block of the last piece. */
	bt_picker_have(&pk, r[0].piece);
	for (uint32_t p = 0; p < 9; p++)
		bt_picker_have(&pk, p);
	b.depth = 8;
	T_EQ_UINT(bt_picker_next(&pk, &b, r, 8, 0), 2);
	T_EQ_UINT(r[1].piece, 9);
	T_EQ_UINT(r[1].len, 20000 - B);
	T_EQ_INT(bt_picker_block_in(&pk, &b, 9, B, 20000 - B, 0, &slot, &done), BT_PICK_OK);
	T_EQ_INT(bt_picker_block_in(&pk, &b, 9, 0, B, 0, &slot, &done), BT_PICK_OK);
	T_CHECK(done);
	bt_picker_have(&pk, 9);
	T_CHECK(bt_picker_complete(&pk));
	T_EQ_UINT(bt_picker_next(&pk, &b, r, 8, 0), 0);
	bt_picker_peer_free(&pk, &a);
	bt_picker_peer_free(&pk, &b);
	bt_picker_free(&pk);
}

static void test_endgame(void)
{
	struct bt_picker pk;
	struct bt_pick_peer a, b;
	struct bt_pick_req r[16];
	unsigned slot, i;
	bool done;

	setup(&pk, 4);
	for (uint32_t p = 0; p < 9; p++)
		bt_picker_have(&pk, p);      /* only piece 9 (2 blocks) left */
	peer(&pk, &a, 1, true);
	peer(&pk, &b, 2, true);
	a.depth = b.depth = 8;
	T_CHECK(!bt_picker_endgame(&pk));
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 16, 0), 2);
	T_CHECK(bt_picker_endgame(&pk));
	/* b gets the same two blocks (max_dup 2), once each. */
	T_EQ_UINT(bt_picker_next(&pk, &b, r + 2, 16, 0), 2);
	T_EQ_UINT(r[2].piece, 9);
	T_CHECK(r[2].begin != r[3].begin);
	T_EQ_UINT(bt_picker_next(&pk, &b, r, 16, 0), 0);
	slot = bt_picker_slot(&pk, 9);
	T_EQ_UINT(pk.slots[slot].nreq[0], 2);
	/* a delivers block 0: b's copy is still asked for (the caller cancels
	 * it: nreq says so). */
	T_EQ_INT(bt_picker_block_in(&pk, &a, 9, 0, B, 0, &slot, &done), BT_PICK_OK);
	T_EQ_UINT(pk.slots[slot].nreq[0], 1);
	T_CHECK(bt_picker_peer_drop(&pk, &b, 9, 0, true));
	T_EQ_UINT(pk.slots[slot].nreq[0], 0);
	/* b's cancelled block arrives anyway: not needed any more. */
	T_EQ_INT(bt_picker_block_in(&pk, &b, 9, 0, B, 0, &slot, &done), BT_PICK_UNWANTED);
	/* b delivers block 1 first; a's duplicate is dropped. */
	T_EQ_INT(bt_picker_block_in(&pk, &b, 9, B, 20000 - B, 0, &slot, &done), BT_PICK_OK);
	T_CHECK(done);
	bt_picker_have(&pk, 9);
	T_EQ_INT(bt_picker_block_in(&pk, &a, 9, B, 20000 - B, 0, &slot, &done), BT_PICK_DUP);
	T_EQ_UINT(a.nq, 0);
	for (i = 0; i < 10; i++)
		T_CHECK(bt_picker_has(&pk, i));
	bt_picker_peer_free(&pk, &a);
	bt_picker_peer_free(&pk, &b);
	bt_picker_free(&pk);
}

static void test_failed_piece_parole(void)
{
	struct bt_picker pk;
	struct bt_pick_peer a, b;
	struct bt_pick_req r[16];
	uint32_t piece, last = 0;

	setup(&pk, 1);
	peer(&pk, &a, 1, true);
	peer(&pk, &b, 2, true);
	a.depth = b.depth = 2;
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 16, 0), 2);
	T_EQ_UINT(bt_picker_next(&pk, &b, r + 2, 16, 0), 2);
	piece = r[0].piece;
	for (unsigned k = 0; k < 4; k++) {
		struct bt_pick_peer *pp = k < 2 ? &a : &b;
		unsigned slot;
		bool done;
		T_EQ_INT(bt_picker_block_in(&pk, pp, piece, k * B, B, 0, &slot, &done),
			 BT_PICK_OK);
		T_EQ_INT(done, k == 3);
	}
	T_EQ_UINT(pk.slots[bt_picker_slot(&pk, piece)].nrecv, 4);
	/* Hash mismatch: all blocks free again, the piece on parole. */
	bt_picker_failed(&pk, piece);
	T_CHECK(pk.state[piece] & BT_PS_PAROLE);
	T_EQ_UINT(pk.slots[bt_picker_slot(&pk, piece)].nfree, 4);
	/* The first peer to ask owns it; the other gets nothing of it. */
	b.depth = 4;
	T_EQ_UINT(bt_picker_next(&pk, &b, r, 16, 0), 4);
	T_EQ_UINT(r[0].piece, piece);
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 16, 0), 0);
	T_EQ_UINT(deliver_all(&pk, &b, &last), 1);
	T_EQ_UINT(last, piece);
	T_CHECK(!(pk.state[piece] & BT_PS_PAROLE));
	bt_picker_peer_free(&pk, &a);
	bt_picker_peer_free(&pk, &b);
	bt_picker_free(&pk);
}

static void test_peer_gone_frees_its_blocks(void)
{
	struct bt_picker pk;
	struct bt_pick_peer a, b;
	struct bt_pick_req r[16];

	setup(&pk, 1);
	peer(&pk, &a, 1, true);
	peer(&pk, &b, 2, true);
	a.depth = 4;
	b.depth = 4;
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 16, 0), 4);
	/* The one slot is taken, pieces remain: b, idle, gets one of a's
	 * blocks at a time, not its whole depth. */
	T_EQ_UINT(bt_picker_next(&pk, &b, r, 16, 0), 1);
	T_EQ_UINT(bt_picker_next(&pk, &b, r, 16, 0), 0);
	T_EQ_UINT(bt_picker_peer_drop_all(&pk, &b, false), 1);
	bt_picker_peer_free(&pk, &a);                     /* a leaves */
	T_EQ_UINT(pk.slots[0].nfree, 4);
	b.depth = 4;
	T_EQ_UINT(bt_picker_next(&pk, &b, r, 16, 0), 4);
	T_EQ_UINT(r[0].begin, 0);
	/* Choked: nothing is picked. */
	T_EQ_UINT(bt_picker_peer_drop_all(&pk, &b, true), 4);
	b.choked = true;
	T_EQ_UINT(bt_picker_next(&pk, &b, r, 16, 0), 0);
	bt_picker_peer_free(&pk, &b);
	bt_picker_free(&pk);
}

static void test_selection_and_resume(void)
{
	struct bt_picker pk;
	struct bt_pick_peer a;
	struct bt_pick_req r[64];
	uint64_t want, have;
	uint32_t last;

	setup(&pk, 10);
	for (uint32_t p = 0; p < 10; p++)
		bt_picker_want(&pk, p, p == 2 || p == 9);
	bt_picker_have(&pk, 2);                          /* found on disk */
	bt_picker_progress(&pk, &want, &have);
	T_EQ_UINT(want, 4 * B + 20000);
	T_EQ_UINT(have, 4 * B);
	peer(&pk, &a, 1, true);
	a.depth = 64;
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 64, 0), 2);
	T_EQ_UINT(r[0].piece, 9);
	T_EQ_UINT(deliver_all(&pk, &a, &last), 1);
	T_CHECK(bt_picker_complete(&pk));
	bt_picker_peer_free(&pk, &a);
	bt_picker_free(&pk);
}

static uint64_t v2_size(void *ctx, uint32_t piece)
{
	(void)ctx;
	return piece == 1 ? 100 : 2 * B;   /* a file of 100 bytes between */
}

static void test_variable_piece_sizes(void)
{
	struct bt_picker pk;
	struct bt_pick_cfg c;
	struct bt_pick_peer a;
	struct bt_pick_req r[8];
	uint32_t last;

	memset(&c, 0, sizeof c);
	c.npieces = 3;
	c.piece_length = 2 * B;
	c.piece_size = v2_size;
	c.max_active = 3;
	T_EQ_INT(bt_picker_init(&pk, &c), BT_OK);
	bt_picker_want(&pk, 1, true);
	peer(&pk, &a, 7, true);
	T_EQ_UINT(bt_picker_next(&pk, &a, r, 8, 0), 1);
	T_EQ_UINT(r[0].len, 100);
	T_EQ_UINT(deliver_all(&pk, &a, &last), 1);
	T_EQ_UINT(last, 1);
	bt_picker_peer_free(&pk, &a);
	bt_picker_free(&pk);
	/* Bad configurations. */
	c.max_active = 0;
	T_EQ_INT(bt_picker_init(&pk, &c), BT_EINVAL);
	c.max_active = 1;
	c.npieces = 0;
	T_EQ_INT(bt_picker_init(&pk, &c), BT_EINVAL);
}

/* A random swarm: every wanted piece completes, every block exactly once
 * when there is no endgame duplicate, and the books balance. */
static void test_random_swarm(void)
{
	struct bt_picker pk;
	struct bt_pick_peer p[4];
	struct bt_pick_cfg c;
	struct bt_pick_req r[64];
	unsigned i, rounds = 0, slot;
	uint32_t seed = 12345;
	bool done;

	memset(&c, 0, sizeof c);
	c.npieces = 300;
	c.piece_length = 3 * B;
	c.last_size = 5;
	c.max_active = 7;
	c.max_depth = 16;
	T_EQ_INT(bt_picker_init(&pk, &c), BT_OK);
	for (uint32_t x = 0; x < c.npieces; x++)
		bt_picker_want(&pk, x, true);
	for (i = 0; i < 4; i++) {
		peer(&pk, &p[i], (uint16_t)i, i == 0);
		for (uint32_t x = 0; i && x < c.npieces; x++) {
			seed = seed * 1103515245u + 12345u;
			if (seed >> 16 & 1)
				bt_picker_peer_have(&pk, &p[i], x);
		}
	}
	while (!bt_picker_complete(&pk) && rounds++ < 100000) {
		seed = seed * 1103515245u + 12345u;
		i = seed >> 16 & 3;
		bt_picker_next(&pk, &p[i], r, 64, 0);
		if (!p[i].nq)
			continue;
		/* Deliver the oldest; sometimes drop one instead (a reject). */
		struct bt_pick_req q = p[i].q[0];
		if ((seed >> 20 & 7) == 0) {
			bt_picker_peer_drop(&pk, &p[i], q.piece, q.begin, false);
			continue;
		}
		int v = bt_picker_block_in(&pk, &p[i], q.piece, q.begin, q.len, 0, &slot, &done);
		T_CHECK(v == BT_PICK_OK || v == BT_PICK_DUP);
		if (v == BT_PICK_OK && done)
			bt_picker_have(&pk, q.piece);
	}
	T_CHECK(bt_picker_complete(&pk));
	T_EQ_UINT(pk.nactive, 0);
	T_EQ_UINT(pk.ncand, 0);
	for (i = 0; i < 4; i++)
		bt_picker_peer_free(&pk, &p[i]);
	for (uint32_t x = 0; x < c.npieces; x++)
		T_EQ_UINT(pk.avail[x], 0);
	bt_picker_free(&pk);
}

int main(void)
{
	T_RUN(test_sizes_and_blocks);
	T_RUN(test_rarest_first);
	T_RUN(test_bitfield_checks_and_resend);
	T_RUN(test_depth_and_reqq);
	T_RUN(test_piece_from_several_peers);
	T_RUN(test_block_in_verdicts);
	T_RUN(test_endgame);
	T_RUN(test_failed_piece_parole);
	T_RUN(test_peer_gone_frees_its_blocks);
	T_RUN(test_selection_and_resume);
	T_RUN(test_variable_piece_sizes);
	T_RUN(test_random_swarm);
	return T_DONE();
}
