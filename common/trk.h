/* trk.h — tracker client I/O on a bt_loop: HTTP(S) through libcurl's multi
 * interface, UDP per BEP 15 (connect, announce, scrape), and the timing of
 * every step.  The bytes are built and parsed by the pure codecs of
 * tracker.h; this module only moves them, with a deadline on every wait.
 *
 * Model: one struct bt_trk_client per loop holds the curl multi handle,
 * the UDP connection-id cache and the settings; each request is a
 * caller-owned struct bt_trk_req.  bt_trk_start queues a request and
 * returns at once; its done() callback runs later from the loop (never
 * from inside bt_trk_start), exactly once, with the outcome filled in.
 * At most opts.max_inflight requests run at once; the rest wait in FIFO
 * order.  Nothing here prints or exits.
 *
 * HTTP(S): redirects are followed (http and https only, at most
 * max_redirects), gzip/deflate accepted, environment proxies ignored (the
 * timings are of the tracker, not a proxy), the body capped at max_body
 * bytes.  A status other than 200 is a failure that names the status line
 * and the start of the body.
 *
 * UDP: each request uses its own connected socket.  A connection id is
 * cached per tracker address and reused for BT_UDP_CONN_ID_LIFETIME_S
 * (BEP 15); requests to a tracker whose connect is in flight wait for it
 * instead of sending their own.  Each packet is retransmitted at most
 * `retries` times with BEP 15's doubling back-off, scaled so that all
 * waits add up to the timeout (15 s and 3 retries: 1, 2, 4, 8 s).  The
 * same transaction id is kept across retransmissions; a late answer to an
 * earlier phase of the same request (a duplicate connect response) is
 * ignored, any other transaction id fails the request.  Host names are
 * resolved with getaddrinfo_a, polled from the loop.
 *
 * Deadline: timeout_us bounds a whole request (DNS, connect, TLS,
 * redirects, body; for UDP every retransmission of both phases), counted
 * from when it starts running, not while it waits in the queue. */
#ifndef BT_TRK_H
#define BT_TRK_H

#include "bt.h"
#include "loop.h"
#include "tracker.h"

#define BT_TRK_DEFAULT_TIMEOUT_US (15u * 1000000u)
#define BT_TRK_DEFAULT_RETRIES    3
#define BT_TRK_DEFAULT_REDIRECTS  5
#define BT_TRK_MSG_LEN            384  /* r->msg, NUL included */

enum bt_trk_kind {
	BT_TRK_ANNOUNCE = 1,
	BT_TRK_SCRAPE,
};

/* Why a request failed: r->fail.  Names (bt_trk_fail_name) are stable
 * and used as JSON values. */
enum bt_trk_fail {
	BT_TRKF_OK = 0,      /* "ok": the tracker answered and it parsed */
	BT_TRKF_ARG,         /* "argument": bad request (URL, scheme, parameters) */
	BT_TRKF_DNS,         /* "dns": the host name did not resolve */
	BT_TRKF_CONNECT,     /* "connect": refused, unreachable, reset */
	BT_TRKF_TLS,         /* "tls": handshake failed, certificate rejected */
	BT_TRKF_TIMEOUT,     /* "timeout": the deadline passed */
	BT_TRKF_HTTP,        /* "http": a status other than 200, or no reply */
	BT_TRKF_REDIRECT,    /* "redirect": too many, or to a non-HTTP URL */
	BT_TRKF_TOOBIG,      /* "too-big": body over max_body */
	BT_TRKF_BODY,        /* "body": HTTP body not a valid response */
	BT_TRKF_PACKET,      /* "packet": UDP response short, wrong id, wrong
				action or bad length */
	BT_TRKF_FAILURE,     /* "failure": "failure reason" (HTTP) or an
				error packet (UDP); the text is in r->failure */
	BT_TRKF_LOCAL,       /* "local": socket, memory, libcurl internals */
};
const char *bt_trk_fail_name(int fail);

/* Timings in microseconds; -1 where a step did not happen.  HTTP, as
 * libcurl measures them, as durations of each phase: dns (name lookup),
 * connect (TCP, after dns), tls (handshake, after connect), first_byte
 * (request sent until the first response byte), total (whole request,
 * redirects included).  UDP: dns as above, udp_connect / udp_request the
 * round trip of the connect and of the announce or scrape packet, each
 * measured from its last (re)transmission. */
struct bt_trk_timing {
	int64_t dns_us, connect_us, tls_us, first_byte_us, total_us;
	int64_t udp_connect_us, udp_request_us;
	unsigned retries;        /* UDP retransmissions, both phases */
	bool conn_id_reused;     /* UDP: no connect of our own was needed */
	bool tcp_reused;         /* HTTP: an open connection was reused */
	unsigned redirects;      /* HTTP redirects followed */
};

struct bt_trk_client;

struct bt_trk_opts {
	uint64_t timeout_us;     /* per request; 0: BT_TRK_DEFAULT_TIMEOUT_US */
	int retries;             /* UDP retransmissions per packet, 0..8;
				    -1: BT_TRK_DEFAULT_RETRIES */
	const char *cacert;      /* CA bundle (PEM) for HTTPS; NULL: system's */
	bool insecure;           /* accept any TLS certificate */
	unsigned max_redirects;  /* 0: BT_TRK_DEFAULT_REDIRECTS */
	size_t max_body;         /* 0: BT_TRK_MAX_BODY */
	unsigned max_inflight;   /* 0: no limit */
	const char *user_agent;  /* NULL: "btkit/0.1" */
};

/* Zeroes *o, then retries = -1: every field at its default. */
void bt_trk_opts_init(struct bt_trk_opts *o);

/* The loop must outlive the client; opts is copied (its strings are not:
 * they must live as long as the client).  0 or -errno (-ENOMEM, or
 * -EIO when libcurl cannot be initialised). */
int bt_trk_client_new(struct bt_trk_client **c, struct bt_loop *l,
		      const struct bt_trk_opts *opts);
/* Abandons queued and running requests without calling done; the caller
 * still releases each with bt_trk_req_free.  Not from inside done. */
void bt_trk_client_free(struct bt_trk_client *c);
/* Requests queued or running. */
size_t bt_trk_active(const struct bt_trk_client *c);

struct bt_trk_priv;

struct bt_trk_req {
	/* ---- in: set before bt_trk_start, left alone until done ---- */
	int kind;                /* enum bt_trk_kind */
	const char *url;         /* the announce URL (also for a scrape) */
	size_t url_len;
	/* Announce parameters (tracker.h); info_hash is also the one hash of
	 * a scrape when hashes is NULL.  Its strings must live until done. */
	struct bt_trk_announce ann;
	uint32_t udp_key;        /* the UDP "key" field */
	uint32_t udp_ip;         /* the UDP "ip" field (host order), 0: sender */
	/* Scrape: n info-hashes (UDP: at most BT_UDP_SCRAPE_MAX); copied at
	 * start.  NULL: scrape ann.info_hash. */
	const uint8_t (*hashes)[20];
	size_t nhashes;
	void (*done)(struct bt_trk_req *r);
	void *arg;               /* for the caller */

	/* ---- out: valid in done() and until bt_trk_req_free ---- */
	int scheme;              /* enum bt_url_scheme, 0 if the URL did not parse */
	int fail;                /* enum bt_trk_fail */
	/* One line, no tracker name, every byte the tracker sent escaped
	 * for a terminal; "" when fail is BT_TRKF_OK. */
	char msg[BT_TRK_MSG_LEN];
	long http_status;        /* of the last response; 0: none */
	struct bt_trk_timing t;
	/* "failure reason" or the UDP error text: a view into raw. */
	const uint8_t *failure;  size_t failure_len;
	/* Announce: the response (views into raw); UDP answers are mapped
	 * onto it (seeders -> complete, leechers -> incomplete).  peers and
	 * info (info NULL for UDP) hold resp.nstored entries. */
	struct bt_trk_resp resp;
	struct bt_peer_addr *peers;
	struct bt_trk_peer_info *info;
	/* Scrape: one entry per file the tracker reported (UDP: per hash
	 * sent, in order); info_hash views point into raw or into a copy of
	 * the hashes sent.  Also as parsed, for the printers of print.h:
	 * scrape (HTTP; its iteration state uses the token array kept in
	 * the request), or udp_scrape[udp_nscrape] answering sent[nsent]. */
	struct bt_trk_scrape_entry *files;
	size_t nfiles;
	struct bt_trk_scrape_resp scrape;
	struct bt_udp_scrape_entry *udp_scrape;
	size_t udp_nscrape;
	const uint8_t (*sent)[20];
	size_t nsent;
	/* The bytes behind a verdict, for -v: the HTTP body (up to max_body
	 * bytes) or the last UDP packet received; raw_sent the last UDP
	 * packet sent.  headers: the last HTTP response's header block. */
	uint8_t *raw;            size_t raw_len;
	uint8_t *raw_sent;       size_t raw_sent_len;
	char *headers;           size_t headers_len;
	char *effective_url;     /* after redirects (HTTP), else NULL */
	/* Where a body or packet problem was found (BT_TRKF_BODY/PACKET). */
	struct bt_trk_err perr;

	/* ---- private ---- */
	struct bt_trk_client *client;
	struct bt_trk_priv *priv;
	struct bt_trk_req *next; /* queue link */
	uint8_t (*own_hashes)[20];
	struct bt_be_tok *toks;
	bool queued, running;
};

/* Zero *r, bt_trk_announce_init(&r->ann), kind announce. */
void bt_trk_req_init(struct bt_trk_req *r);
/* Release the results; *r may be filled and started again.  Not on a
 * queued or running request (bt_trk_cancel it first). */
void bt_trk_req_free(struct bt_trk_req *r);

/* Queue r (its previous results are released first).  0, -EBUSY when r
 * is already queued or running, -ENOMEM.  Every other problem (a bad URL,
 * an unreachable tracker) is reported through done. */
int bt_trk_start(struct bt_trk_client *c, struct bt_trk_req *r);
/* Abandon r without calling done; its results are left as they are. */
void bt_trk_cancel(struct bt_trk_req *r);

/* Fill an announce's udp_key / ann.key with one random value: 8 hex
 * digits in keybuf (9 bytes: NUL-terminated) for HTTP, the same number
 * for UDP.  0, or -errno when the random source fails. */
int bt_trk_random_key(uint32_t *udp_key, char keybuf[9]);

#endif
