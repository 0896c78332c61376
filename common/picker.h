/* picker.h — which block to ask which peer for next.  Pure logic: no
 * sockets, no clock of its own (times are passed in), no printing.
 *
 * Model.  A torrent is npieces pieces of 16 KiB blocks (the last block of
 * a piece may be short; piece sizes come from a callback, so v2 torrents,
 * whose last piece of each file is short, work too).  Each piece is
 * wanted or not, had (verified) or not.  A piece being downloaded is
 * "active" and holds one of max_active slots: the caller keeps one piece
 * buffer per slot, so slots bound the memory of the download, whatever
 * the torrent's size.  A slot records, per block, whether it is free,
 * requested (by how many peers) or received (and from which peer).
 *
 * Choice, for one peer, until its queue holds `depth` requests:
 *   1. a free block of an active piece the peer has (so a piece's blocks
 *      may come from several peers; a piece on parole — it failed its
 *      hash check — is fetched from one peer only, so a second failure
 *      names the culprit);
 *   2. else the first block of a new piece: among wanted pieces the peer
 *      has that are neither had nor active, one of the rarest (fewest
 *      peers have it), ties broken by a rotating start;
 *   3. else, in endgame (no piece left to start anywhere), a block
 *      already requested from another peer (at most max_dup requesters
 *      per block), so the last pieces do not wait for the slowest peer;
 *      when every slot is taken but pieces remain, a peer with nothing
 *      in flight gets one such block at a time rather than idling.
 *
 * Queue depth adapts to the peer's rate: it starts at min_depth, grows by
 * one per block received while the rate still grows (slow start), then
 * follows rate * queue_time / 16 KiB; always within [min_depth,
 * min(max_depth, the peer's reqq)].
 *
 * Memory: per piece 4 bytes (availability, state); per slot 4 bytes a
 * block; per peer a bitfield and its request queue (max_depth entries).
 * The caller owns struct bt_picker and each struct bt_pick_peer; both are
 * valid after their _init and until their _free. */
#ifndef BT_PICKER_H
#define BT_PICKER_H

#include "bt.h"

#define BT_PICK_BLOCK      16384u   /* bytes per request (BEP 3) */
#define BT_PICK_NONE       0xffffu  /* no peer / no slot */
#define BT_PICK_LATE_RING  64       /* cancelled requests remembered a peer */

/* Block states inside a slot. */
enum { BT_BLK_FREE = 0, BT_BLK_REQUESTED = 1, BT_BLK_RECEIVED = 2 };

/* Piece state bits (bt_picker.state[]). */
#define BT_PS_WANT    0x01u  /* selected for download */
#define BT_PS_HAVE    0x02u  /* verified and written */
#define BT_PS_ACTIVE  0x04u  /* holds a slot */
#define BT_PS_PAROLE  0x08u  /* failed a hash check: one peer at a time */

struct bt_pick_cfg {
	uint32_t npieces;
	uint64_t piece_length;         /* nominal; a multiple of 16 KiB is not
					  required (v1 tolerates any) */
	uint64_t (*piece_size)(void *ctx, uint32_t piece); /* NULL: piece_length,
					  last piece last_size */
	void *size_ctx;
	uint64_t last_size;            /* when piece_size is NULL */
	unsigned max_active;           /* slots; >= 1 */
	unsigned min_depth;            /* 0: 4 */
	unsigned max_depth;            /* 0: 256 */
	unsigned max_dup;              /* endgame requesters per block; 0: 2 */
	uint64_t queue_time_us;        /* 0: 500 ms of data in flight */
};

struct bt_pick_slot {
	uint32_t piece;
	uint32_t nblocks, nrecv, nfree;
	uint32_t hint;                 /* no free block below this index */
	uint16_t owner;                /* parole: the one peer allowed */
	uint8_t *st;                   /* BT_BLK_* per block */
	uint8_t *nreq;                 /* requesters per block */
	uint16_t *from;                /* peer id that delivered each block */
	uint64_t started_us;
};

struct bt_picker {
	struct bt_pick_cfg cfg;
	uint32_t npieces;
	uint16_t *avail;               /* peers that have each piece (saturating) */
	uint8_t *state;                /* BT_PS_* */
	uint16_t *slot_of;             /* slot of an active piece */
	struct bt_pick_slot *slots;
	unsigned nslots, nactive;
	uint32_t max_blocks;           /* blocks in the largest piece */
	uint32_t *hist;                /* candidates (want, !have, !active) by
					  availability, 0..hist_len-1 */
	uint32_t hist_len;
	uint32_t ncand;                /* candidates in all */
	uint32_t nwant, nhave_wanted;  /* wanted pieces / of which had */
	uint32_t nhave;                /* had pieces, wanted or not */
	uint32_t rotate;               /* tie-break start for rarest-first */
	unsigned npeers;               /* peers with a bitfield counted */
};

struct bt_pick_req {
	uint32_t piece, begin, len;
	uint64_t t_us;                 /* when asked */
};

struct bt_pick_peer {
	uint16_t id;                   /* caller's id, unique among live peers */
	uint8_t *bits;                 /* npieces bits, MSB first (wire order) */
	uint32_t nhave;
	bool counted;                  /* its pieces are in bt_picker.avail */
	bool choked;                   /* the peer chokes us: nothing is picked */
	unsigned reqq;                 /* the peer's limit (BEP 10); 0: 250 */
	unsigned depth;                /* requests to keep in flight */
	bool slow_start;
	struct bt_pick_req *q;         /* outstanding, in request order */
	unsigned nq, capq;
	/* Requests we gave up on (cancel, stall): their blocks may still
	 * arrive, and are late, not unrequested. */
	struct { uint32_t piece, begin; } late[BT_PICK_LATE_RING];
	unsigned nlate, late_pos;
	/* Rate: bytes in the current window and an average. */
	uint64_t win_bytes, win_start_us;
	uint64_t rate;                 /* bytes per second, smoothed */
	uint64_t last_rate;
	uint64_t bytes;                /* payload accepted in all */
	uint64_t last_block_us;        /* last block that arrived */
};

/* Set up for cfg (copied).  Every piece starts unwanted and not had.
 * BT_OK, BT_EINVAL (no pieces, no slot), BT_ENOSPC (memory). */
int bt_picker_init(struct bt_picker *pk, const struct bt_pick_cfg *cfg);
void bt_picker_free(struct bt_picker *pk);

uint64_t bt_picker_piece_size(const struct bt_picker *pk, uint32_t piece);
uint32_t bt_picker_nblocks(const struct bt_picker *pk, uint32_t piece);

void bt_picker_want(struct bt_picker *pk, uint32_t piece, bool want);
/* The piece is verified and on disk (resume, or after bt_picker_block_in
 * said the piece is complete and the caller checked it): its slot, if
 * any, is released. */
void bt_picker_have(struct bt_picker *pk, uint32_t piece);
/* It failed its hash check: every block becomes free again, the piece
 * goes on parole.  The slot stays. */
void bt_picker_failed(struct bt_picker *pk, uint32_t piece);
bool bt_picker_has(const struct bt_picker *pk, uint32_t piece);
/* Every wanted piece is had. */
bool bt_picker_complete(const struct bt_picker *pk);
/* Bytes of wanted pieces, of which had. */
void bt_picker_progress(const struct bt_picker *pk, uint64_t *want, uint64_t *have);

/* ---- peers ---- */
int bt_picker_peer_init(struct bt_picker *pk, struct bt_pick_peer *pp, uint16_t id);
/* Its requests are released (blocks free again) and its pieces no longer
 * counted; then memory is released.  Safe twice. */
void bt_picker_peer_free(struct bt_picker *pk, struct bt_pick_peer *pp);
/* A whole bitfield (again: aria2 resends one; the old one is replaced).
 * nbytes must be (npieces + 7) / 8 and spare bits clear: BT_EINVAL
 * otherwise, nothing changed. */
int bt_picker_peer_bitfield(struct bt_picker *pk, struct bt_pick_peer *pp,
			    const uint8_t *bits, size_t nbytes);
void bt_picker_peer_have_all(struct bt_picker *pk, struct bt_pick_peer *pp);
/* BT_EINVAL for an index out of range. */
int bt_picker_peer_have(struct bt_picker *pk, struct bt_pick_peer *pp, uint32_t piece);
bool bt_picker_peer_has(const struct bt_picker *pk, const struct bt_pick_peer *pp,
			uint32_t piece);
/* The peer has a piece we want and do not have. */
bool bt_picker_interesting(const struct bt_picker *pk, const struct bt_pick_peer *pp);

/* Pick up to max new requests for pp (fewer when its queue reaches its
 * depth); they are recorded as outstanding at now_us.  Returns how many
 * were written to out. */
size_t bt_picker_next(struct bt_picker *pk, struct bt_pick_peer *pp,
		      struct bt_pick_req *out, size_t max, uint64_t now_us);

/* What a block that arrived was (bt_picker_block_in). */
enum bt_pick_in {
	BT_PICK_OK = 0,        /* requested and needed: store it */
	BT_PICK_LATE,          /* we had cancelled it, still needed: store it */
	BT_PICK_DUP,           /* already received (endgame): drop it */
	BT_PICK_UNWANTED,      /* cancelled and no longer needed: drop it */
	BT_PICK_UNREQUESTED,   /* never asked of this peer: drop it, a violation */
	BT_PICK_BAD,           /* not a block of any piece (offset/length): a
				  violation */
};

/* A block arrived from pp.  For OK and LATE the caller copies the data
 * into the slot's buffer (*slot), and *complete says the piece now has
 * every block.  The request leaves pp's queue in every case. */
int bt_picker_block_in(struct bt_picker *pk, struct bt_pick_peer *pp,
		       uint32_t piece, uint32_t begin, uint32_t len,
		       uint64_t now_us, unsigned *slot, bool *complete);
/* Mark a block received without a peer (pad-file zeros).  BT_OK or
 * BT_EINVAL when the piece is not active. */
int bt_picker_block_fill(struct bt_picker *pk, uint32_t piece, uint32_t block,
			 bool *complete);
/* Take one outstanding request off pp's queue (reject, or a cancel we
 * send): its block is free again unless someone else asked for it.
 * remember: keep it on the late ring (we cancel; it may still come).
 * Returns true if it was outstanding. */
bool bt_picker_peer_drop(struct bt_picker *pk, struct bt_pick_peer *pp,
			 uint32_t piece, uint32_t begin, bool remember);
/* Drop every outstanding request (choke without the fast extension, a
 * stall).  Returns how many. */
unsigned bt_picker_peer_drop_all(struct bt_picker *pk, struct bt_pick_peer *pp,
				 bool remember);
/* Once a second or so: update pp's rate and depth. */
void bt_picker_peer_tick(struct bt_picker *pk, struct bt_pick_peer *pp, uint64_t now_us);

/* The slot of an active piece, or BT_PICK_NONE. */
unsigned bt_picker_slot(const struct bt_picker *pk, uint32_t piece);
/* Distinct peer ids that delivered blocks of an active piece (up to cap;
 * returns the count, which may exceed cap). */
size_t bt_picker_contributors(const struct bt_picker *pk, uint32_t piece,
			      uint16_t *ids, size_t cap);
/* No piece left to start and no free block: duplicates allowed. */
bool bt_picker_endgame(const struct bt_picker *pk);

#endif
