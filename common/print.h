/* print.h — the one printer: peer events and tracker answers.
 *
 * bt-handshake and bt-fetch -v (live) and bt-decode (captures) print peer
 * events through bt_print_event, so a captured session reads exactly like
 * a live one; bt-announce and bt-decode print tracker answers through
 * bt_print_trk_* / bt_print_udp_*.  All output is out.h field calls (text
 * and JSON from the same calls); every byte a peer or tracker chose goes
 * through bt_out_bytes, escaped.
 *
 * Text, one line per event:  TIME [PEER] ARROW WHAT FIELDS [ !! PROBLEM]...
 *      12.345 <- bitfield 1021/1021 pieces (100.0%) !! 3 spare bits set past piece count 1021
 *      12.401 -> request index 0 begin 0 length 262144 !! length 262144 > 16384: most ...
 *   TIME: ms since the session's first event, 3 decimals, 9 columns.
 *   ARROW: "->" sent by us (captures: by the side that opened the
 *   connection), "<-" the other way.  FIELDS are "name value" pairs; peer
 *   strings are quoted 'like this'.  PROBLEMS are the printer's remarks.
 * JSON, one object per line, same fields under stable keys ("problems"
 * only when there are some; keys of absent optional fields left out):
 *   {"t":12.345,"dir":"in","kind":"msg","offset":68,"msg":"bitfield","id":5,
 *    "len":129,"have":1021,"pieces":1021,"percent":100.0,"bits":1024,
 *    "spare_set":3,"problems":["3 spare bits set past piece count 1021"]}
 * Tracker records have no time; lists come one per text line:
 *   announce http://t/announce interval 1800 min_interval 900 seeders 5 leechers 2 completed - peers 2
 *     1.2.3.4:6881 peer_id '-TR3000-abcdefghijkl' (Transmission 3.00)
 *     [2001:db8::1]:6881
 *   {"kind":"announce","url":"...","interval":1800,...,"peers":[{"addr":"1.2.3.4:6881",...}]}
 *
 * Views inside events and responses are read during the call only; the
 * context copies what it remembers. */
#ifndef BT_PRINT_H
#define BT_PRINT_H

#include "bt.h"
#include "out.h"
#include "event.h"
#include "peerid.h"
#include "tracker.h"

#define BT_PRINT_EXT_MAX  32  /* extension names kept per side (= BT_EXT_MAX_M) */
#define BT_PRINT_NAME_MAX 32  /* bytes of a name kept; longer names are cut */
#define BT_PRINT_V_MAX    64  /* bytes of a client's "v" kept */

enum bt_print_time {
	BT_PRINT_TIME_MS = 0,  /* "12.345" (ms, 3 decimals); JSON "t" */
	BT_PRINT_TIME_NONE,    /* no time column, no "t": golden tests */
};

struct bt_print_ext {          /* one entry of a side's BEP 10 "m" */
	uint8_t id;            /* 1..255 */
	uint8_t len;           /* bytes in name */
	bool cut;              /* the name was longer than BT_PRINT_NAME_MAX */
	uint8_t name[BT_PRINT_NAME_MAX]; /* raw, as sent: escape to print */
};

/* What one side said about itself, indexed by enum bt_dir: side[BT_DIR_IN]
 * is the peer (captures: the side that accepted the connection). */
struct bt_print_side {
	bool have_hs, have_ext;        /* its handshake / extended handshake seen */
	uint8_t reserved[8];
	uint8_t peer_id[20];
	char client[BT_PEERID_STRLEN]; /* bt_peerid_client(peer_id): safe text */
	uint8_t v[BT_PRINT_V_MAX];     /* "v" of the extended handshake, raw */
	size_t v_len;
	int64_t metadata_size;         /* -1 until sent */
	int64_t reqq;                  /* -1 until sent */
	struct bt_print_ext ext[BT_PRINT_EXT_MAX]; /* ids it wants to RECEIVE */
	size_t next;
};

struct bt_print_ctx {
	int verbosity;                 /* 0; 1 (-v): PEX addresses; 2: bit strings */
	enum bt_print_time time;
	const char *peer;              /* NULL, or a tag printed after the time
					  ("1.2.3.4:6881"); JSON "peer" */
	/* The torrent, when known (0 = unknown): index and bitfield checks. */
	uint64_t piece_count, piece_length, total_size;
	bool have_info_hash;           /* check handshakes against info_hash */
	uint8_t info_hash[20];
	uint32_t frame_cap;            /* the framer's max_len; 0: default */
	struct bt_print_side side[2];  /* learned from the events printed */
};

/* Zero, then metadata_size/reqq -1.  Set the public fields after it. */
void bt_print_ctx_init(struct bt_print_ctx *c);

/* Remember what ev says about its sender: handshake (reserved, peer id,
 * client) and extended handshake ("m" ids, "v", metadata_size, reqq).  A
 * later extended handshake updates "m" (id 0 disables a name), as BEP 10
 * allows.  bt_print_event calls this itself; call it directly only for
 * events you do not print.  Learning the same event twice is harmless. */
void bt_print_ctx_learn(struct bt_print_ctx *c, const struct bt_event *ev);

/* The name for extended message id `id` travelling in direction dir, or
 * NULL if unknown.  A message is numbered by its RECEIVER's "m": one going
 * IN (peer -> us) uses the id from OUR handshake (side[BT_DIR_OUT]), one
 * going OUT uses the peer's.  *len gets the name's length (raw bytes). */
const uint8_t *bt_print_ext_name(const struct bt_print_ctx *c, enum bt_dir dir,
				 uint8_t id, size_t *len);

/* One record (line / JSON object) for ev; learns from it first. */
void bt_print_event(struct bt_out *o, struct bt_print_ctx *c,
		    const struct bt_event *ev);

/* Set bits of a bitfield among its first piece_count bits (all bits if
 * piece_count is 0); *spare_set (may be NULL) gets the set bits at or past
 * piece_count, which BEP 3 requires to be clear.  Belongs in wire.h. */
uint64_t bt_bitfield_count(const uint8_t *bits, size_t nbytes,
			   uint64_t piece_count, uint64_t *spare_set);

/* ---- Tracker answers ---------------------------------------------------
 * Each record has a whole form (bt_out_begin ... bt_out_end) and a _fields
 * form without begin/end, so a tool can add its own fields (timings) to
 * the same record.  Peer and file lists print one per text line, so they
 * are separate calls to make last.  c may be NULL (verbosity 0).  url is
 * the tool's own string; what is "announce" or "scrape" (JSON "kind"). */
void bt_print_trk_announce(struct bt_out *o, const struct bt_print_ctx *c,
			   const char *url, const struct bt_trk_resp *r,
			   const struct bt_peer_addr *peers,
			   const struct bt_trk_peer_info *info, size_t n);
void bt_print_trk_announce_fields(struct bt_out *o, const struct bt_print_ctx *c,
				  const char *url, const struct bt_trk_resp *r);
void bt_print_udp_announce(struct bt_out *o, const struct bt_print_ctx *c,
			   const char *url, const struct bt_udp_announce_resp *r,
			   const struct bt_peer_addr *peers, size_t n);
void bt_print_udp_announce_fields(struct bt_out *o, const struct bt_print_ctx *c,
				  const char *url, const struct bt_udp_announce_resp *r);
/* The "peers" list: n entries of peers[] (info parallel, may be NULL). */
void bt_print_trk_peers(struct bt_out *o, const struct bt_print_ctx *c,
			const struct bt_peer_addr *peers,
			const struct bt_trk_peer_info *info, size_t n);

void bt_print_trk_scrape(struct bt_out *o, const struct bt_print_ctx *c,
			 const char *url, const struct bt_trk_scrape_resp *r);
void bt_print_trk_scrape_fields(struct bt_out *o, const struct bt_print_ctx *c,
				const char *url, const struct bt_trk_scrape_resp *r);
void bt_print_trk_scrape_files(struct bt_out *o, const struct bt_print_ctx *c,
			       const struct bt_trk_scrape_resp *r);
/* UDP scrape: e[i] answers hashes[i]; n entries in e (the packet's count,
 * capped by your array), nhashes sent; a mismatch is flagged. */
void bt_print_udp_scrape(struct bt_out *o, const struct bt_print_ctx *c,
			 const char *url, const uint8_t (*hashes)[20], size_t nhashes,
			 const struct bt_udp_scrape_entry *e, size_t n);
void bt_print_udp_scrape_fields(struct bt_out *o, const struct bt_print_ctx *c,
				const char *url, size_t nhashes, size_t n);
void bt_print_udp_scrape_files(struct bt_out *o, const struct bt_print_ctx *c,
			       const uint8_t (*hashes)[20], size_t nhashes,
			       const struct bt_udp_scrape_entry *e, size_t n);

/* The tracker said no: a UDP error packet's text (bt_udp_parse_error). */
void bt_print_trk_failure(struct bt_out *o, const struct bt_print_ctx *c,
			  const char *what, const char *url,
			  const uint8_t *msg, size_t len);
void bt_print_trk_failure_fields(struct bt_out *o, const struct bt_print_ctx *c,
				 const char *what, const char *url,
				 const uint8_t *msg, size_t len);
/* We could not read the answer: a parse error from tracker.h. */
void bt_print_trk_error(struct bt_out *o, const struct bt_print_ctx *c,
			const char *what, const char *url,
			const struct bt_trk_err *e);
void bt_print_trk_error_fields(struct bt_out *o, const struct bt_print_ctx *c,
			       const char *what, const char *url,
			       const struct bt_trk_err *e);

/* A finished trk.h request, as fields of the caller's record: the
 * tracker's answer (or its failure), the info-hash of an announce, then
 * protocol, ok, error_kind,
 * error, http_status and timing (per phase, ms).  A tool may add its own
 * fields after this, then bt_print_trk_req_lists for the peer list or the
 * scrape entries. */
struct bt_trk_req;
void bt_print_trk_req_fields(struct bt_out *o, const struct bt_print_ctx *c,
			     const char *url, const struct bt_trk_req *r);
void bt_print_trk_req_lists(struct bt_out *o, const struct bt_print_ctx *c,
			    const struct bt_trk_req *r);

#endif
