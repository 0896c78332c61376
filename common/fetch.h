/* fetch.h — the download engine: many peer connections on one bt_loop,
 * pieces verified before they are written, resumable.
 *
 * A struct bt_fetch downloads one torrent (or first its metadata, for a
 * magnet link) into a directory:
 *   - peers come from bt_fetch_add_peer (--peer) and from the torrent's
 *     trackers (trk.h, re-announced on their interval);
 *   - each peer is one bt_conn (conn.h) on the caller's loop; its events
 *     are passed to cfg.on_event (a tool prints them with print.h) and
 *     then drive the picker (picker.h): rarest first, pipelined requests
 *     whose depth follows the peer's rate and honours its reqq, endgame;
 *   - a magnet's info dict comes by ut_metadata (BEP 9), a v2 torrent's
 *     missing piece layers by hash requests (BEP 52), each checked against
 *     its hash before use;
 *   - a piece is assembled in one of a fixed number of piece buffers
 *     (cfg.mem_budget / piece length of them, at least one), hashed —
 *     SHA-1 for v1 and hybrid torrents, the BEP 52 merkle root of its
 *     16 KiB blocks for v2 — and only then written with pwrite at its
 *     file offsets (store.h), so no byte that failed its check reaches
 *     the disk;
 *   - a piece that fails is discarded and fetched again from one peer
 *     (parole); every peer that sent part of it is counted, and a peer
 *     that alone sent max_hash_fails bad pieces is dropped and not
 *     dialled again.  Protocol violations (a malformed or oversized
 *     message, a bitfield of the wrong size, a piece we never asked for,
 *     a wrong info-hash or protocol string) drop the peer too.  Two kinds
 *     are reported but tolerated, since they cost us nothing: a request
 *     that no client may send (over 16 KiB, past the end of its piece or
 *     past the last piece: we do not upload, so it only gets a reject),
 *     and an extended handshake that does not decode (we go on without
 *     the extension protocol's offers); more than BT_FETCH_MAX_TOLERATED
 *     of them on one connection drop the peer.  A peer that sends nothing
 *     for stall_us while requests are out is dropped and its requests go
 *     to others;
 *   - at start the data already on disk is checked (bt_store_verify) and
 *     only missing or bad pieces are fetched: a download killed at any
 *     moment resumes where it was, since nothing unverified is written.
 *
 * Memory: piece buffers (mem_budget), one connection's buffers per peer
 * (about 200 KiB, mostly untouched), per piece a few bytes of picker
 * state and per peer a bitfield.  Not the torrent's size.
 *
 * The engine never prints, never exits, and reports through callbacks:
 * on_event (every peer event, for a -v trace) and on_note (what the engine
 * decided: peer up/down/dropped, piece verified/failed, metadata, tracker
 * answers).  Views in callbacks live until the callback returns. */
#ifndef BT_FETCH_H
#define BT_FETCH_H

#include <sys/socket.h>

#include "bt.h"
#include "event.h"
#include "loop.h"
#include "meta.h"
#include "peerid.h"

#define BT_FETCH_MAX_KNOWN    4096  /* peers remembered (summary, retries) */
#define BT_FETCH_MAX_TRACKERS 32
#define BT_FETCH_MAX_RANGES   256   /* --files / --pieces ranges */
#define BT_FETCH_CLIENT       "btkit 0.1.0"
#define BT_FETCH_MAX_TOLERATED 16   /* tolerated violations per connection */

/* Where a peer came from. */
enum bt_fetch_src { BT_FETCH_SRC_USER = 1, BT_FETCH_SRC_TRACKER = 2 };

/* bt_fetch_peer.state */
enum bt_fetch_pstate {
	BT_FP_NEW = 0,          /* known, not dialled yet (or waiting to retry) */
	BT_FP_CONNECTING,       /* dialled, no handshake yet */
	BT_FP_UP,               /* handshake done */
	BT_FP_GONE,             /* disconnected; may be retried */
	BT_FP_FAILED,           /* gave up: retries used */
	BT_FP_BANNED,           /* dropped for bad data or a violation */
};
const char *bt_fetch_pstate_name(int state);

/* One peer as the summary shows it.  Counters survive reconnections.  A
 * record never moves: pointers to it stay valid until bt_fetch_free. */
struct bt_fetch_peer {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char name[64];                 /* "127.0.0.1:6881" */
	int source;                    /* enum bt_fetch_src */
	int state;                     /* enum bt_fetch_pstate */
	bool have_id;
	uint8_t peer_id[20];
	char client[BT_PEERID_STRLEN]; /* from the peer id (safe text) */
	uint64_t bytes;                /* piece bytes accepted */
	uint64_t wasted;               /* bytes dropped: duplicates, late, unasked */
	uint32_t blocks;
	uint32_t pieces_ok;            /* verified pieces it sent blocks of */
	uint32_t hash_fails;           /* failed pieces it sent blocks of */
	uint32_t hash_blamed;          /* failed pieces it sent alone */
	uint32_t violations;           /* reported, tolerated ones included */
	char violation[160];           /* the first one reported (safe text) */
	uint32_t connects, connect_fails;
	uint64_t up_us;                /* time connected, all connections */
	uint64_t peak_rate;            /* bytes/s, highest seen */
	char why[160];                 /* why it went away (last time) */
	/* private to fetch.c */
	void *conn;
	uint64_t retry_at_us, up_since_us;
	uint16_t id;
};

enum bt_fetch_note_kind {
	BT_FN_PEER_NEW = 1,     /* a peer was added (peer) */
	BT_FN_PEER_UP,          /* handshake done (peer: client, id) */
	BT_FN_PEER_DOWN,        /* connection ended (peer, why) */
	BT_FN_PEER_BANNED,      /* dropped for good (peer, why) */
	BT_FN_VIOLATION,        /* protocol violation (peer, why, dropped) */
	BT_FN_PIECE_OK,         /* verified and written (piece, npeers ids) */
	BT_FN_PIECE_FAILED,     /* hash mismatch (piece, ids) */
	BT_FN_METADATA,         /* metadata received and verified (n = bytes) */
	BT_FN_METADATA_BAD,     /* metadata failed (peer, why) */
	BT_FN_TRACKER,          /* an announce finished (url, n peers, why on failure) */
	BT_FN_RESUME,           /* disk checked (good, missing, corrupt) */
	BT_FN_DONE,             /* finished (why: result) */
};
const char *bt_fetch_note_name(int kind);

struct bt_fetch_note {
	int kind;
	const struct bt_fetch_peer *peer;   /* or NULL */
	uint32_t piece;
	const uint16_t *ids;                /* contributors (bt_fetch_peer_by_id) */
	size_t nids;
	const char *url;                    /* TRACKER */
	const char *why;                    /* text, or NULL */
	uint64_t n;                         /* peers (TRACKER), bytes (METADATA) */
	uint32_t good, missing, corrupt;    /* RESUME */
	bool dropped;                       /* VIOLATION: the peer is dropped
					       and banned for it (PEER_BANNED
					       follows); false: tolerated */
	uint64_t t_us;                      /* since bt_fetch_start */
};

/* Results: bt_fetch_result(). */
enum bt_fetch_result {
	BT_FETCH_RUNNING = -1,
	BT_FETCH_OK = 0,        /* every wanted piece verified on disk */
	BT_FETCH_INCOMPLETE,    /* gave up: no progress for idle_us, or
				   stopped by the caller */
	BT_FETCH_NOPEERS,       /* no peer could be reached (or none known) */
	BT_FETCH_IOERR,         /* the output could not be written */
	BT_FETCH_BADMETA,       /* magnet: metadata (or a v2 file's piece
				   layer) never arrived, or is unusable */
};
const char *bt_fetch_result_name(int r);

struct bt_fetch_range { uint32_t first, last; };   /* inclusive */

struct bt_fetch_peer;
typedef void bt_fetch_event_fn(void *arg, const struct bt_fetch_peer *p,
			       const struct bt_event *ev);
typedef void bt_fetch_note_fn(void *arg, const struct bt_fetch_note *n);

struct bt_fetch_cfg {
	int dirfd;                     /* output directory (not closed) */
	unsigned max_peers;            /* connections at once; 0: 40 */
	size_t mem_budget;             /* piece buffers, bytes; 0: 16 MiB */
	unsigned max_depth;            /* requests in flight per peer; 0: 256 */
	uint64_t connect_timeout_us;   /* TCP connect and handshake; 0: 10 s */
	uint64_t stall_us;             /* requests out, nothing in: drop; 0: 20 s */
	uint64_t idle_us;              /* no progress at all: give up; 0: 120 s */
	unsigned max_hash_fails;       /* 0: 3 */
	unsigned retries;              /* redials of a peer that went away; 0: 4
					  (a peer never reached: 2) */
	size_t max_metadata;           /* magnet metadata cap; 0: 16 MiB */
	bool no_trackers;              /* ignore the torrent's trackers */
	uint16_t port;                 /* announced to trackers; 0: 6881 */
	struct sockaddr_storage src;   /* bind here when src_len */
	socklen_t src_len;
	/* Selection (applied once the metadata is known); none: everything.
	 * File indices count non-pad files in torrent order (as bt-meta
	 * lists them). */
	struct bt_fetch_range files[BT_FETCH_MAX_RANGES];
	size_t nfiles;
	struct bt_fetch_range pieces[BT_FETCH_MAX_RANGES];
	size_t npieces;
	bt_fetch_event_fn *on_event;   /* may be NULL */
	bt_fetch_note_fn *on_note;     /* may be NULL */
	void *arg;
};

struct bt_fetch_stats {
	uint64_t want_bytes, have_bytes;  /* wanted pieces, bytes; verified */
	uint32_t want_pieces, have_pieces;
	uint32_t resumed_pieces;          /* found good on disk at start */
	uint64_t downloaded;              /* piece bytes accepted this run */
	uint64_t wasted;                  /* dropped bytes */
	uint32_t hash_fails;
	unsigned peers_up, peers_known;
	uint64_t rate;                    /* bytes/s, last few seconds */
	uint64_t elapsed_us;
	bool have_meta;
	bool endgame;
};

struct bt_fetch;

/* cfg zeroed, then dirfd -1. */
void bt_fetch_cfg_init(struct bt_fetch_cfg *cfg);

/* A download of the torrent m (kept by the caller until bt_fetch_free).
 * BT_OK, BT_EINVAL (bad cfg), or BT_ENOSPC.  A v2 torrent without piece
 * layers (a bare info dict) ends with BT_FETCH_BADMETA at start. */
int bt_fetch_new(struct bt_fetch **f, struct bt_loop *l, const struct bt_fetch_cfg *cfg,
		 const struct bt_meta *m);
/* A download that starts with the metadata (magnet): btih and/or btmh
 * (NULL when absent).  The info dict comes by ut_metadata (BEP 9) and is
 * checked against the hash(es); for a v2-only torrent each file's piece
 * layer then comes by hash requests (BEP 52), checked against the file's
 * pieces root.  Trackers from the magnet are added with
 * bt_fetch_add_tracker. */
int bt_fetch_new_magnet(struct bt_fetch **f, struct bt_loop *l,
			const struct bt_fetch_cfg *cfg,
			const uint8_t *btih, const uint8_t *btmh);
void bt_fetch_free(struct bt_fetch *f);

int bt_fetch_add_peer(struct bt_fetch *f, const struct sockaddr *sa, socklen_t len,
		      int source);
/* A tracker URL (copied).  The torrent's own are added by bt_fetch_start
 * unless cfg.no_trackers. */
int bt_fetch_add_tracker(struct bt_fetch *f, const char *url, size_t len);

/* Check the disk (resume), create the files, start dialling and
 * announcing.  BT_OK, or BT_EINVAL with the reason in errbuf (an unsafe
 * or unwritable output file: result BT_FETCH_IOERR). */
int bt_fetch_start(struct bt_fetch *f, char *errbuf, size_t errcap);
/* Stop now: close every connection, announce "stopped" (the caller may
 * keep running the loop until bt_fetch_busy() is false, bounded). */
void bt_fetch_stop(struct bt_fetch *f);
/* Tracker requests still running. */
bool bt_fetch_busy(const struct bt_fetch *f);
/* BT_FETCH_RUNNING while the download goes on. */
int bt_fetch_result(const struct bt_fetch *f);

void bt_fetch_stats(const struct bt_fetch *f, struct bt_fetch_stats *s);
size_t bt_fetch_npeers(const struct bt_fetch *f);
const struct bt_fetch_peer *bt_fetch_peer_at(const struct bt_fetch *f, size_t i);
const struct bt_fetch_peer *bt_fetch_peer_by_id(const struct bt_fetch *f, uint16_t id);
/* The metadata: the torrent given, or the one fetched (NULL before). */
const struct bt_meta *bt_fetch_meta(const struct bt_fetch *f);
/* The info dictionary's bytes once known (magnet: as received). */
const uint8_t *bt_fetch_info(const struct bt_fetch *f, size_t *len);

#endif
