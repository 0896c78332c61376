/* trkrec.h — a tracker exchange as a capture shows it.
 *
 * One record per HTTP announce or scrape request, per complete HTTP
 * response, per UDP tracker packet (BEP 15, 41), decoded: what the client
 * asked (the query, or the UDP request's fields) and what the tracker
 * answered (parsed by tracker.h's parsers, the same bt-announce uses).
 * httpdec.h and udpdec.h make them, decode.h hands them to its caller,
 * decprint.h prints them.  Only the members of a record's kind are set;
 * views live during the callback that gets the record. */
#ifndef BT_TRKREC_H
#define BT_TRKREC_H

#include "addr.h"
#include "event.h"
#include "flow.h"
#include "tracker.h"

#define BT_DEC_MAX_HASHES   74                  /* info-hashes of a scrape kept */
#define BT_DEC_TRK_PEERS    512                 /* peers of one answer kept */

/* A decoded announce or scrape query (HTTP GET; httpdec.h parses it).
 * Integers are -1 when absent; views point into the request. */
struct bt_dec_query {
	bool scrape;                  /* path's last component starts "scrape" */
	size_t nhash;                 /* info_hash= parameters */
	uint8_t hashes[BT_DEC_MAX_HASHES][20]; /* the first ones */
	bool have_peer_id;
	uint8_t peer_id[20];
	int64_t port, uploaded, downloaded, left, numwant, compact, no_peer_id,
		corrupt, redundant, supportcrypto, requirecrypto;
	int event;                    /* enum bt_trk_event; -1 absent, -2 unknown */
	const char *event_s;  size_t event_len;  /* as sent, percent-encoded */
	const char *key;      size_t key_len;
	const char *ip;       size_t ip_len;
	const char *trackerid; size_t trackerid_len;
	size_t unknown;               /* other parameters */
	const char *bad;              /* static: the first problem found */
};

enum bt_dec_trk_kind {
	BT_DEC_TRK_HTTP_REQ = 1,
	BT_DEC_TRK_HTTP_RESP,
	BT_DEC_TRK_UDP_CONNECT,       /* request */
	BT_DEC_TRK_UDP_CONNECTED,     /* response */
	BT_DEC_TRK_UDP_ANNOUNCE,
	BT_DEC_TRK_UDP_ANNOUNCE_RESP,
	BT_DEC_TRK_UDP_SCRAPE,
	BT_DEC_TRK_UDP_SCRAPE_RESP,
	BT_DEC_TRK_UDP_ERROR,
	BT_DEC_TRK_UDP_OTHER,         /* a packet of a known conversation that
					 is none of the above; err says why */
};
/* "http-request", "udp-announce", ...; "?" for others. */
const char *bt_dec_trk_kind_name(int k);

/* One tracker record; only the members of its kind are set.  Views live
 * during the callback. */
struct bt_dec_trk {
	int kind;                     /* enum bt_dec_trk_kind */
	uint64_t ts_us;               /* absolute */
	uint64_t t_us;                /* since the flow's / conversation's start */
	uint64_t conv;                /* TCP flow id, or UDP conversation id */
	bool udp;
	enum bt_dir dir;              /* OUT: client to tracker */
	struct bt_flow_ep src, dst;
	const char *url;              /* "http://127.0.0.1:6969/announce" */

	/* HTTP request */
	const char *method;   size_t method_len;
	const char *target;   size_t target_len;   /* as sent */
	const struct bt_dec_query *q;

	/* HTTP response */
	int status;                   /* 200, ...; 0 if unreadable */
	const char *reason_phrase; size_t reason_len;
	const char *content_encoding; size_t content_encoding_len;
	bool chunked;
	bool inflated;                /* gzip/deflate body, decompressed */
	bool scrape;                  /* answers a scrape */
	const uint8_t *body;  size_t body_len;  /* de-chunked, decompressed */
	uint64_t body_size;           /* body bytes as sent (de-chunked), also
					 when not kept (over the cap: no view) */
	const char *note;             /* why the body was not parsed: lives
					 during the callback */

	/* parsed answers (HTTP and UDP): rc BT_OK or the parser's error */
	int rc;
	struct bt_trk_err err;
	const struct bt_trk_resp *resp;           /* HTTP announce */
	const struct bt_trk_scrape_resp *scrape_resp; /* HTTP scrape */
	const struct bt_peer_addr *peers;         /* HTTP/UDP announce */
	const struct bt_trk_peer_info *info;      /* HTTP, parallel */
	size_t npeers;                            /* stored in peers[] */

	/* UDP */
	uint32_t tid;
	uint64_t connection_id;
	bool matched;                 /* a response to a request we saw */
	const struct bt_udp_announce *uann;       /* announce request */
	const struct bt_udp_announce_resp *uresp;
	const uint8_t (*hashes)[20];  size_t nhashes; /* scrape request (kept) */
	const struct bt_udp_scrape_entry *sentries; size_t nsentries;
	const uint8_t *errmsg; size_t errmsg_len;
};

#endif
