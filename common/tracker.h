/* tracker.h — tracker protocol codecs: HTTP announce/scrape (BEP 3, 7, 23,
 * 48) and UDP packets (BEP 15, 41).  Pure codecs: no sockets, no HTTP
 * framing; a tool moves the bytes.
 *
 * Views (const uint8_t *p; size_t len) point into the caller's body or
 * packet and live as long as it (and, for the HTTP parsers, the token
 * array).  Errors fill a struct bt_trk_err: code, byte offset, a static
 * rule, and `value` when the rule is about a number (a length, an id). */
#ifndef BT_TRACKER_H
#define BT_TRACKER_H

#include "bt.h"
#include "rd.h"
#include "addr.h"
#include "bencode.h"
#include "url.h"

/* Caps.  Body: 8 MiB is ~1.4 million compact peers, far beyond any real
 * tracker (they cap numwant at a few hundred); larger bodies are refused
 * before decoding.  Peers: peers + peers6 of one response; more is
 * BT_ETOOBIG, whatever the caller's array holds. */
#define BT_TRK_MAX_BODY  (8u << 20)
#define BT_TRK_MAX_PEERS 65536u
#define BT_TRK_ABSENT    (-1)     /* an integer field the tracker did not send */

struct bt_trk_err {
	int code;                /* BT_OK or a negative enum bt_result */
	int problem;             /* UDP parsers: enum bt_udp_problem; else 0 */
	size_t off;              /* byte offset in the body / packet / URL */
	const char *rule;        /* static text */
	uint64_t value;          /* the number the rule is about, else 0 */
};

/* ---- HTTP announce request -------------------------------------------- */

/* Same numbers as the UDP "event" field. */
enum bt_trk_event {
	BT_TRK_EV_NONE = 0,
	BT_TRK_EV_COMPLETED = 1,
	BT_TRK_EV_STARTED = 2,
	BT_TRK_EV_STOPPED = 3,
};
/* "completed" "started" "stopped"; "none" for NONE; NULL if unknown. */
const char *bt_trk_event_name(int ev);
/* Inverse of bt_trk_event_name over s[0..n) ("" and "empty" mean NONE);
 * -1 if unknown. */
int bt_trk_event_parse(const char *s, size_t n);

enum bt_trk_compact {
	BT_TRK_COMPACT_OMIT = -1,
	BT_TRK_COMPACT_NO = 0,   /* compact=0 */
	BT_TRK_COMPACT_YES = 1,  /* compact=1 */
};

struct bt_trk_announce {
	uint8_t info_hash[20];
	uint8_t peer_id[20];
	uint16_t port;
	uint64_t uploaded, downloaded, left;
	int event;               /* enum bt_trk_event; NONE sends no event= */
	int32_t numwant;         /* -1: omit */
	int compact;             /* enum bt_trk_compact */
	bool no_peer_id;         /* send no_peer_id=1 */
	/* Optional strings, percent-encoded on output; NULL = omit. */
	const char *key;         size_t key_len;
	const char *ip;          size_t ip_len;
	const char *trackerid;   size_t trackerid_len; /* from a previous "tracker id" */
};

/* Zero everything, then numwant -1, compact omitted, event none. */
void bt_trk_announce_init(struct bt_trk_announce *a);

/* The full GET URL: the announce URL (http/https; its fragment dropped)
 * then '?' — or '&' if it already has a query — then, in this order,
 *   info_hash peer_id port uploaded downloaded left [event] [numwant]
 *   [compact] [no_peer_id] [key] [ip] [trackerid]
 * Writes a NUL-terminated string to buf.  *out_len (may be NULL) gets the
 * length without the NUL — on BT_ENOSPC the length that was needed (so cap
 * must be at least *out_len + 1; err->value says that cap).  Errors: the
 * URL's (see url.h), its scheme not http(s) (BT_EUNSUPP), numwant < -1,
 * an event or compact value outside its enum, a NULL string with a
 * non-zero length (BT_EINVAL). */
int bt_trk_announce_url(const struct bt_trk_announce *a,
			const char *url, size_t url_len,
			char *buf, size_t cap, size_t *out_len,
			struct bt_trk_err *err);

/* Scrape URL (BEP 48): the last path component of the announce URL must
 * start with "announce", which becomes "scrape" ("/x/announce.php?k=v" ->
 * "/x/scrape.php?k=v"); then one info_hash= per hash (n may be 0: a full
 * scrape).  Same buffer contract as bt_trk_announce_url.  BT_EINVAL with
 * "cannot scrape: ..." when the path does not allow it. */
int bt_trk_scrape_url(const char *url, size_t url_len,
		      const uint8_t (*hashes)[20], size_t n,
		      char *buf, size_t cap, size_t *out_len,
		      struct bt_trk_err *err);

/* ---- HTTP responses ---------------------------------------------------- */

/* Per-peer extra for the dictionary model, parallel to the peers array
 * (entry i describes peers[i]).  Compact and peers6 entries get all-NULL. */
struct bt_trk_peer_info {
	const uint8_t *ip;  size_t ip_len;   /* "ip" as sent (text) */
	const uint8_t *id;  size_t id_len;   /* "peer id", NULL if absent */
	bool is_host;       /* ip is a host name, not an address: peers[i] has
			     * family 0 and only the port set */
};

enum bt_trk_peers_form {
	BT_TRK_PEERS_NONE = 0,   /* no "peers" key */
	BT_TRK_PEERS_COMPACT,    /* BEP 23 string, 6 bytes a peer */
	BT_TRK_PEERS_DICT,       /* BEP 3 list of dictionaries */
};

struct bt_trk_resp {
	/* Views into the body; NULL / 0 when absent. */
	const uint8_t *failure;    size_t failure_len;    /* "failure reason" */
	const uint8_t *warning;    size_t warning_len;    /* "warning message" */
	const uint8_t *tracker_id; size_t tracker_id_len; /* "tracker id" */
	/* BT_TRK_ABSENT when not sent (a tracker may send negatives: kept). */
	int64_t interval, min_interval, complete, incomplete, downloaded;
	int peers_form;            /* enum bt_trk_peers_form */
	bool has_peers6;
	size_t npeers;             /* peers seen in peers + peers6 (all) */
	size_t npeers6;            /* of which from peers6 */
	size_t nstored;            /* written to the arrays: min(npeers, cap) */
	size_t nhosts;             /* dictionary peers given by host name */
	/* "external ip" (BEP 24): 4 or 16 raw bytes; another length leaves
	 * has_external_ip false but the raw view set. */
	const uint8_t *external_raw; size_t external_raw_len;
	bool has_external_ip;
	struct bt_peer_addr external_ip; /* port 0 */
	unsigned tolerated;        /* BT_BE_TOL_*: keys unsorted, leading zeros */
	size_t trailing;           /* bytes after the dictionary, tolerated */
};

/* Parse an announce response body (the bytes after the HTTP headers, with
 * any chunking removed).  Decoding is lenient about key order and leading
 * zeros (reported in r->tolerated) and tolerates bytes after the top-level
 * dictionary (r->trailing); everything else is checked.
 *
 * toks/ntoks: token storage for the decoder; bt_be_max_tokens(len) always
 * suffices (BT_ENOSPC otherwise).  peers/cap: where peers go, in order:
 * "peers" first, then "peers6"; info (may be NULL) is a parallel array of
 * the same cap.  Peers past cap are counted, not stored.
 *
 * BT_OK, also when the tracker sent a "failure reason" (r->failure).
 * BT_EINVAL with rule and offset: not bencode at all (an HTML page, a
 * plain-text error), not a dictionary, a field of the wrong type, a
 * compact string not a multiple of 6 (18 for peers6; err->value = its
 * length), a bad dictionary peer.  BT_NEED_MORE: the body ends inside the
 * bencode (truncated).  BT_ETOOBIG: body over BT_TRK_MAX_BODY, more than
 * BT_TRK_MAX_PEERS peers (err->value = the count).  After an error, *r and
 * the arrays hold what was parsed before it. */
int bt_trk_parse_announce(struct bt_trk_resp *r, const void *body, size_t len,
			  struct bt_be_tok *toks, size_t ntoks,
			  struct bt_peer_addr *peers, struct bt_trk_peer_info *info,
			  size_t cap, struct bt_trk_err *err);

struct bt_trk_scrape_entry {
	const uint8_t *info_hash;  /* 20 bytes, a view */
	int64_t complete, incomplete, downloaded; /* BT_TRK_ABSENT if not sent */
	const uint8_t *name; size_t name_len;     /* optional "name" */
};

struct bt_trk_scrape_resp {
	const uint8_t *failure; size_t failure_len;
	size_t nfiles;             /* entries in "files" (0 if absent) */
	unsigned tolerated;
	size_t trailing;
	/* Iteration state for bt_trk_scrape_next; private. */
	struct bt_be_doc doc;
	long files;
};

/* Parse a scrape body; every entry is validated here (key a 20-byte hash,
 * value a dictionary, counts integers), so iteration cannot fail.  Same
 * token, leniency and error contract as bt_trk_parse_announce. */
int bt_trk_parse_scrape(struct bt_trk_scrape_resp *r, const void *body, size_t len,
			struct bt_be_tok *toks, size_t ntoks, struct bt_trk_err *err);

/* Iterate the files: set *it = 0, then call until it returns false. */
bool bt_trk_scrape_next(const struct bt_trk_scrape_resp *r, size_t *it,
			struct bt_trk_scrape_entry *e);

/* ---- UDP tracker protocol (BEP 15, 41) --------------------------------- */

#define BT_UDP_PROTOCOL_ID   0x41727101980ull
#define BT_UDP_CONNECT_LEN   16  /* request and response */
#define BT_UDP_ANNOUNCE_LEN  98  /* request without BEP 41 options */
#define BT_UDP_ANNOUNCE_HDR  20  /* response before the peers */
#define BT_UDP_SCRAPE_MAX    74  /* info-hashes in one scrape request */
#define BT_UDP_URLDATA_CHUNK 255 /* BEP 41: data bytes per URLData option */
/* A client may use a connection id for one minute after receiving it. */
#define BT_UDP_CONN_ID_LIFETIME_S 60

enum bt_udp_action {
	BT_UDP_CONNECT = 0,
	BT_UDP_ANNOUNCE = 1,
	BT_UDP_SCRAPE = 2,
	BT_UDP_ERROR = 3,
};

/* What was wrong with a response; in err->problem. */
enum bt_udp_problem {
	BT_UDP_P_NONE = 0,
	BT_UDP_P_SHORT,          /* shorter than the action's fixed part (BT_NEED_MORE) */
	BT_UDP_P_TID,            /* transaction id differs; value = the one received */
	BT_UDP_P_ACTION,         /* unexpected action; value = the one received */
	BT_UDP_P_ERROR,          /* an error packet (action 3): see bt_udp_parse_error */
	BT_UDP_P_STRIDE,         /* peer / scrape list not whole entries; value = its length */
	BT_UDP_P_TOO_MANY,       /* more entries than BT_TRK_MAX_PEERS */
};
const char *bt_udp_problem_name(int problem);

struct bt_udp_announce {
	uint64_t connection_id;
	uint32_t transaction_id;
	uint8_t info_hash[20];
	uint8_t peer_id[20];
	uint64_t downloaded, left, uploaded;
	uint32_t event;          /* enum bt_trk_event */
	uint32_t ip;             /* IPv4 as a host-order number; 0 = the sender */
	uint32_t key;
	int32_t num_want;        /* -1: tracker default */
	uint16_t port;
	/* BEP 41 URLData: the URL's path and query (struct bt_url .target).
	 * When url_data_set, options follow the 98 bytes: 0x2, len, data in
	 * chunks of at most 255 bytes (one "0x2 0x0" when empty, saying the
	 * client supports the option).  No EndOfOptions: it is optional and
	 * the packet end stops parsing.  At most BT_URL_MAX_LEN bytes. */
	bool url_data_set;
	const char *url_data;    size_t url_data_len;
};

/* Encoders append to w and return BT_OK, BT_ENOSPC (w->len = bytes
 * needed) or BT_EINVAL / BT_ETOOBIG for bad arguments (nothing written). */
int bt_udp_connect_req(struct bt_wr *w, uint32_t transaction_id);
int bt_udp_announce_req(struct bt_wr *w, const struct bt_udp_announce *a);
/* 1..BT_UDP_SCRAPE_MAX hashes. */
int bt_udp_scrape_req(struct bt_wr *w, uint64_t connection_id,
		      uint32_t transaction_id, const uint8_t (*hashes)[20], size_t n);

/* Parsers of one received datagram against the transaction id that was
 * sent.  Checks, in order: at least 8 bytes, transaction id, action (an
 * error packet is BT_UDP_P_ERROR), then the action's own length.  Return
 * BT_OK, or BT_NEED_MORE for SHORT and BT_EINVAL for the rest, with
 * err->problem set.  Bytes beyond the fixed part of a connect response
 * are ignored (BEP 15: packets may grow). */
int bt_udp_parse_connect(const void *pkt, size_t len, uint32_t transaction_id,
			 uint64_t *connection_id, struct bt_trk_err *err);

struct bt_udp_announce_resp {
	uint32_t interval, leechers, seeders;
	size_t npeers;           /* peers in the packet */
	size_t nstored;          /* written to the caller's array */
};
/* family: 4 or 6, the address family the packet came over (BEP 15: 6 or
 * 18 bytes a peer). */
int bt_udp_parse_announce(const void *pkt, size_t len, uint32_t transaction_id,
			  int family, struct bt_udp_announce_resp *r,
			  struct bt_peer_addr *peers, size_t cap,
			  struct bt_trk_err *err);

struct bt_udp_scrape_entry {
	uint32_t seeders, completed, leechers;
};
/* Entries are in the order of the hashes sent; *n gets the count in the
 * packet (compare it with what was sent), at most cap are stored. */
int bt_udp_parse_scrape(const void *pkt, size_t len, uint32_t transaction_id,
			struct bt_udp_scrape_entry *out, size_t cap, size_t *n,
			struct bt_trk_err *err);

/* Action 3: msg views bytes 8..len (not NUL-terminated; escape to print). */
int bt_udp_parse_error(const void *pkt, size_t len, uint32_t transaction_id,
		       const uint8_t **msg, size_t *msg_len, struct bt_trk_err *err);

/* Retransmission timeout before retry n (0-based): 15 * 2^n seconds for
 * n = 0..8 (15 .. 3840); 0 for n > 8, meaning give up. */
unsigned bt_udp_timeout_s(unsigned n);
/* Whether a connection id received at received_ms may still be used at
 * now_ms (monotonic milliseconds): less than 60 s old. */
bool bt_udp_conn_id_fresh(uint64_t received_ms, uint64_t now_ms);

#endif
