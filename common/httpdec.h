/* httpdec.h — HTTP tracker traffic of one TCP connection, as captured.
 *
 * The capture decoder (decode.h) hands each direction's reassembled bytes
 * here once the first bytes showed HTTP/1.x (sniff.h): requests from the
 * client, responses from the server.  Each request and each complete
 * response becomes a tracker record (trkrec.h):
 *
 *   - a request by its head (request line and headers, up to
 *     BT_HTTPDEC_HEAD_MAX bytes); its query string decoded as an announce
 *     or scrape (info_hash, peer_id, event, numwant, ...); a body that
 *     Content-Length announces is skipped;
 *   - a response by its head, then its body as the head frames it:
 *     Content-Length, chunked coding (extensions and trailer skipped), or
 *     the connection's end; the answer to a HEAD, 1xx, 204 and 304 have
 *     none.  The body is decompressed ("Content-Encoding: gzip", "x-gzip",
 *     "deflate", through zlib) and parsed as the announce or scrape answer
 *     that the request it answers asked for: responses are paired with
 *     requests in order, as HTTP/1.1 requires of pipelined requests.
 *
 * Whether a connection is a tracker's is decided by its first request: a
 * path ending in .../announce or .../scrape, or an info_hash parameter.
 * Any other first request (a web page, a HEAD) makes the whole connection
 * "not a tracker": nothing of it is reported (not_tracker).
 *
 * What cannot be decoded is said, never guessed: a body over max_body, in
 * an unknown coding, or that does not decompress is reported with a note
 * and its size; a head over BT_HTTPDEC_HEAD_MAX, a chunk size over 2^56,
 * lost bytes (bt_httpdec_gap) or no memory give the direction up (dead[]
 * says why); the other direction goes on.
 *
 * Memory: every buffer (head and body, the decompressed body, zlib's own
 * state, bencode tokens, the parsed answer's peers) is charged to the
 * caller's budget (budget.h) and held no longer than needed: a direction
 * keeps at most its head plus max_body bytes.  Views in records live
 * during the callback.  Nothing here prints. */
#ifndef BT_HTTPDEC_H
#define BT_HTTPDEC_H

#include "budget.h"
#include "flow.h"
#include "trkrec.h"

#define BT_HTTPDEC_HEAD_MAX  16384              /* request/response head */
#define BT_HTTPDEC_DEF_BODY  ((size_t)1 << 20)  /* body, before and after
						   decompression */
#define BT_HTTPDEC_PENDING   8                  /* requests awaiting answers */
#define BT_HTTPDEC_PATH_KEPT 96                 /* bytes of a request's path
						   kept for its answer's URL */

/* An announce or scrape query string (after '?'), parameters in any order.
 * Integers are -1 when absent; views point into the string.  Always fills
 * q; q->bad names the first problem (static), NULL if none. */
void bt_http_query_parse(struct bt_dec_query *q, const char *s, size_t n);

/* A record for the caller: a request or a response (t->kind). */
typedef void bt_httpdec_rec_fn(void *ctx, const struct bt_dec_trk *t);

struct bt_httpdec_dir;   /* one direction's parser: httpdec.c's own */

/* One connection.  bt_httpdec_init sets it up; the members marked "out"
 * may be read, none changed. */
struct bt_httpdec {
	struct bt_budget *mem;
	size_t max_body;
	bt_httpdec_rec_fn *rec;
	void *ctx;
	uint64_t conv;                /* records' conv: the flow's id */
	uint64_t first_us;            /* records' t_us are since this */
	struct bt_flow_ep ep[2];      /* records' src/dst by direction */
	/* out */
	bool tracker;                 /* a tracker request was seen */
	bool not_tracker;             /* the first request was not one */
	const char *dead[2];          /* a direction given up: why (static) */
	uint64_t requests, responses; /* records made */
	/* httpdec.c's own */
	struct bt_httpdec_dir *d[2];
	int role[2];                  /* by its first head: 0 not yet,
					 BT_SNIFF_HTTP_REQ or _RESP */
	struct {
		uint8_t kind;
		char path[BT_HTTPDEC_PATH_KEPT];
	} rq[BT_HTTPDEC_PENDING];
	size_t rq_head, rq_n;
	char url[160];
	struct bt_dec_query query;
};

/* Set up h for the TCP flow conv between ep[0] and ep[1] (ep[dir] sends
 * direction dir's bytes).  max_body 0: BT_HTTPDEC_DEF_BODY.  Allocates
 * nothing yet. */
void bt_httpdec_init(struct bt_httpdec *h, struct bt_budget *mem,
		     size_t max_body, uint64_t conv, uint64_t first_us,
		     const struct bt_flow_ep ep[2], bt_httpdec_rec_fn *rec,
		     void *ctx);

/* Direction dir's next bytes, in stream order, any chunk size; ts is
 * their packet's time.  The direction's first head says whether it
 * carries requests or responses (a status line "HTTP/1.1 200 OK").  Returns
 * the bytes used: all of them, unless the direction was given up (dead[dir]
 * set) or the connection is not a tracker's (not_tracker), when the rest
 * is the caller's to count. */
size_t bt_httpdec_feed(struct bt_httpdec *h, int dir, const uint8_t *p,
		       size_t n, uint64_t ts);

/* Bytes of direction dir were never captured: it is given up (an HTTP
 * stream has no boundary to resume at that we could trust). */
void bt_httpdec_gap(struct bt_httpdec *h, int dir);

/* Direction dir ended (FIN, RST, end of capture): a response delimited by
 * the connection's end is complete and reported. */
void bt_httpdec_end(struct bt_httpdec *h, int dir, uint64_t ts);

/* Free every buffer; h may be bt_httpdec_init'ed again. */
void bt_httpdec_free(struct bt_httpdec *h);

#endif
