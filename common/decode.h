/* decode.h — the capture decoder: frames in, BitTorrent conversations out.
 *
 * bt-decode's pipeline as library code.  The caller reads frames (libpcap,
 * a file, a test's array) and hands each one to bt_dec_frame; the decoder
 * takes it apart (pkt.h), reassembles TCP (flow.h), finds out what each
 * flow carries and reports it through callbacks:
 *
 *   - peer wire: every handshake and message as a struct bt_event (the
 *     same events bt-handshake makes live), for the printer (print.h) and
 *     the diagnosis (diag.h);
 *   - HTTP tracker requests and responses (httpdec.h: chunked, gzip and
 *     deflate bodies decoded), UDP tracker packets (udpdec.h, BEP 15), as
 *     tracker records (trkrec.h);
 *   - at each flow's end a summary (struct bt_dec_flow), also for flows it
 *     could not decode, with the reason.
 *
 * What a flow carries is decided by its bytes (sniff.h), never by its port:
 *   - a direction starting with "\x13BitTorrent protocol" is the peer wire;
 *     so is one whose first bytes hold that string in another case or
 *     place (a broken handshake: decoded as one, its problems reported),
 *     and the other direction of a peer-wire flow whatever it starts with;
 *   - "GET "/"POST " and "HTTP/1." are HTTP; a request for .../announce or
 *     .../scrape (or with an info_hash) makes a tracker flow;
 *   - 96 or more random-looking bytes at the start are an MSE/PE key
 *     exchange (Message Stream Encryption, as libtorrent and Vuze do it).  The
 *     decoder cannot decrypt, but when the exchange selected plaintext the
 *     stream turns into the peer wire after it: a plain handshake, or a run
 *     of well-formed messages, found within max_scan bytes, is decoded from
 *     there on and the bytes before it reported as the key exchange
 *     (BT_EV_ENCRYPTED).  Otherwise the direction is reported encrypted.
 *     With a key-log line for the flow's endpoints (bt_dec_keylog_add),
 *     it is decrypted instead: MSE's passive decoder (mse.h) follows both
 *     key exchanges, the payload after them is decoded as a plain stream
 *     (offsets stay the TCP stream's), and the exchange is reported as
 *     the live connection reports its own: BT_EV_NOTE events whose err is
 *     an enum bt_mse_step.  A line whose key does not decrypt the
 *     initiator's third message is not used: the flow decodes exactly as
 *     without it, its reason saying so.
 *   - a flow whose start was not captured (no SYN) is picked up at the
 *     first plausible message boundary: a run of at least 3 messages (2
 *     with -d) whose lengths, ids and fields all make sense, or a
 *     handshake.  The bytes before it are reported as skipped.
 *   - cfg.force_port (bt-decode -d PORT): flows on that port are the peer
 *     wire, whatever their first bytes; a first byte 0 means messages
 *     without a handshake.
 *
 * Gaps (bytes never captured) are events too.  If the gap lies inside a
 * message whose length is known, decoding resumes exactly at the end of
 * that message; otherwise the stream is scanned for the next boundary as
 * for a mid-stream start.  A length prefix over the framer's cap is a
 * BT_EV_MALFORMED event followed by the same scan.
 *
 * Handshakes that never complete are reported as HANDSHAKE events with
 * the bytes that came (raw, raw_len; hs read as far as it goes; why says
 * how short), as the live connection reports its own odd handshakes, so
 * the diagnosis sees what was sent: when the other side closes or resets,
 * or at the direction's end.  A 68-byte handshake frame completed by bytes
 * sent after the other side had answered k < 68 of them, where a message
 * starts at byte k, was k bytes long (a short peer id): it is reported so
 * and the rest decoded as messages.  Such events carry the time of the
 * handshake's first byte, so they may follow events of later times.
 *
 * Events: t_us is the time since the flow's first packet; the callback
 * also gets the packet's absolute timestamp.  Direction OUT is from the
 * side that opened the connection.  A flow that started with a SYN begins
 * with CONNECTING (its SYN) and CONNECTED (the SYN-ACK), as a live
 * connection does; FIN is CLOSED, RST is RESET (err ECONNRESET) of the
 * side that sent it.  Views in events live during the call.
 *
 * Memory does not grow with the capture: flows are capped (cfg.flow), and
 * every buffer the decoder holds (framer, scan, HTTP, zlib) is charged to
 * one budget of cfg.mem_budget bytes (budget.h); a flow that would exceed
 * it is reported as not decoded ("memory cap").  Nothing here prints on
 * its own or exits; decprint.h writes the records through out.h. */
#ifndef BT_DECODE_H
#define BT_DECODE_H

#include "bt.h"
#include "budget.h"
#include "event.h"
#include "flow.h"
#include "keylog.h"
#include "pkt.h"
#include "trkrec.h"
#include "udpdec.h"
#include "wire.h"

#define BT_DEC_MAX_FORCE    16
#define BT_DEC_DEF_SCAN     ((size_t)256 << 10) /* bytes scanned for a boundary */
#define BT_DEC_DEF_BUDGET   ((size_t)256 << 20) /* all decoder buffers */
#define BT_DEC_MAX_CHOKES   32                  /* choke timeline kept */
#define BT_DEC_MAX_PIECEIDX ((uint32_t)1 << 20) /* pieces told apart */
#define BT_DEC_V_MAX        64                  /* bytes of "v" kept */

/* Message counters: index = message id 0..23, then these. */
enum {
	BT_DEC_C_KEEPALIVE = 24,
	BT_DEC_C_UNKNOWN,        /* ids with no name */
	BT_DEC_C_HANDSHAKE,
	BT_DEC_C_MALFORMED,      /* malformed messages and framing errors */
	BT_DEC_NCOUNT
};
/* "choke", ..., "keep-alive", "unknown", "handshake", "malformed"; NULL
 * for ids without a counter name (10-12, 18, 19). */
const char *bt_dec_count_name(int i);

struct bt_dec_cfg {
	struct bt_flow_cfg flow;      /* reassembly caps (flow.h) */
	uint32_t max_msg_len;         /* framer cap; 0: BT_FRAMER_DEFAULT_MAX */
	size_t max_scan;              /* per direction; 0: BT_DEC_DEF_SCAN */
	size_t mem_budget;            /* 0: BT_DEC_DEF_BUDGET */
	size_t max_http_body;         /* 0: BT_HTTPDEC_DEF_BODY */
	size_t max_udp_conv;          /* 0: BT_UDPDEC_DEF_CONV */
	uint16_t force_port[BT_DEC_MAX_FORCE]; /* -d PORT: TCP and UDP */
	size_t nforce;
};

enum bt_dec_kind {
	BT_DEC_PENDING = 0,   /* nothing decided yet */
	BT_DEC_PEER,          /* peer wire (in at least one direction) */
	BT_DEC_HTTP_TRACKER,  /* HTTP announce / scrape */
	BT_DEC_UNDECODED,     /* see reason */
};
const char *bt_dec_kind_name(enum bt_dec_kind k);

/* One direction's summary.  Times are absolute capture timestamps (us),
 * 0 when it did not happen. */
struct bt_dec_dirsum {
	uint64_t pkts;                /* TCP segments */
	uint64_t bytes;               /* stream bytes captured in order */
	uint64_t gap_bytes;           /* never captured */
	uint64_t skipped;             /* captured, not decodable (before a
					 boundary, inside a damaged message) */
	uint64_t enc_bytes;           /* MSE/PE: key exchange or encrypted */
	uint64_t msgs;                /* frames decoded, handshake included */
	uint64_t count[BT_DEC_NCOUNT];
	uint64_t piece_bytes;         /* block bytes in piece messages */
	uint64_t pieces;              /* distinct piece indexes sent */
	uint64_t pieces_untracked;    /* blocks of pieces >= BT_DEC_MAX_PIECEIDX */
	bool hs;                      /* a handshake was decoded */
	unsigned hs_problems;         /* BT_HS_* */
	uint8_t reserved[8], info_hash[20], peer_id[20];
	bool ext;                     /* BEP 10 handshake decoded */
	uint8_t v[BT_DEC_V_MAX];      /* its "v", raw (escape to print) */
	size_t v_len;
	bool mse;                     /* began with an MSE/PE key exchange */
	bool plain_after_mse;         /* ... and plaintext was found after it */
	bool decrypted;               /* ... decrypted with a key-log line */
	bool midstream;               /* its start was not captured */
	bool fin, rst;
	uint64_t t_hs, t_first_piece, t_first, t_last;
};

struct bt_dec_choke {
	uint64_t ts_us;
	uint8_t dir;                  /* enum bt_dir of the sender */
	bool choke;                   /* choke, else unchoke */
};

/* What the decoder knows about a TCP flow.  Read-only for callers, but
 * user is theirs: set it in a callback, free it in flow_end. */
struct bt_dec_flow {
	uint64_t id;                  /* flow.h's: 1, 2, ... by first packet */
	struct bt_flow_ep ep[2];      /* [0] opened the connection */
	uint64_t first_us, last_us;
	enum bt_dec_kind kind;
	const char *reason;           /* UNDECODED, or a remark; static text */
	bool forced;                  /* on a -d port */
	struct bt_dec_dirsum d[2];    /* by enum bt_dir */
	struct bt_dec_choke chokes[BT_DEC_MAX_CHOKES];
	size_t nchokes, chokes_more;
	uint64_t gaps, conflicts;     /* GAP events; retransmissions that
					 differed from the first copy */
	uint64_t trk_requests, trk_responses;
	uint32_t mse_select;          /* decrypted: BT_MSE_CRYPTO_RC4 or _PLAIN
					 as crypto_select said; 0 unknown */
	void *user;
};

/* ---- packet problems ---------------------------------------------------- */

enum bt_dec_pkt_problem {
	BT_DEC_P_TRUNCATED = 1,       /* snaplen cut headers: packet skipped */
	BT_DEC_P_TRUNC_PAYLOAD,       /* snaplen cut payload: bytes become a gap */
	BT_DEC_P_MALFORMED,           /* a header contradicts itself: skipped */
	BT_DEC_P_LINKTYPE,            /* link type not supported: skipped */
	BT_DEC_P_FRAGMENT,            /* IP fragment: not reassembled */
	BT_DEC_P_NOMEM,               /* no flow could be made */
	BT_DEC_NPROBLEMS
};

struct bt_dec_problem {
	int kind;                     /* enum bt_dec_pkt_problem */
	uint64_t pkt;                 /* 1-based packet number */
	uint64_t ts_us;
	int linktype;
	const char *layer;            /* bt_pkt_layer_name */
	const char *rule;             /* static */
	size_t caplen, wirelen;
};

/* ---- the decoder -------------------------------------------------------- */

struct bt_dec_cb {
	/* A TCP flow was recognised (kind PEER or HTTP_TRACKER), before its
	 * first event or record. */
	void (*flow_start)(void *ctx, struct bt_dec_flow *f);
	/* A peer-wire event of flow f; ts_us is its packet's timestamp. */
	void (*event)(void *ctx, struct bt_dec_flow *f, const struct bt_event *ev,
		      uint64_t ts_us);
	/* A tracker record; f is the TCP flow (NULL for UDP). */
	void (*trk)(void *ctx, struct bt_dec_flow *f, const struct bt_dec_trk *t);
	/* The flow ended (FIN/RST and lingering over, evicted, idle, end of
	 * capture); every flow that carried data gets one, decoded or not. */
	void (*flow_end)(void *ctx, struct bt_dec_flow *f);
	void (*problem)(void *ctx, const struct bt_dec_problem *p);
};

/* Capture-wide counters (--stats). */
struct bt_dec_stats {
	uint64_t pkts, cap_bytes, wire_bytes;
	uint64_t first_us, last_us;
	uint64_t ipv4, ipv6, tcp, udp, other;
	uint64_t problems[BT_DEC_NPROBLEMS];
	uint64_t flows, flows_peer, flows_http, flows_undecoded, flows_empty;
	uint64_t flows_mse, flows_mse_plain, flows_midstream;
	uint64_t keys;                /* key-log lines loaded */
	uint64_t flows_keyed;         /* flows with a key-log line */
	uint64_t flows_decrypted;     /* ... whose key fitted */
	uint64_t msgs, events, gaps, gap_bytes;
	uint64_t trk_http, trk_udp, udp_convs;
	uint64_t mem_peak;            /* decoder buffers, bytes */
	uint64_t mem_refused;         /* flows not decoded for the memory cap */
	uint64_t count[BT_DEC_NCOUNT];/* messages by type, all flows */
};

struct bt_dec {
	struct bt_dec_cfg cfg;        /* defaults filled in */
	struct bt_dec_cb cb;
	void *ctx;
	struct bt_dec_stats st;
	struct bt_budget mem;         /* every buffer of every flow */
	/* decode.c's own */
	struct bt_flow_table flows;
	struct bt_udpdec udp;
	struct bt_keylog keys;        /* bt_dec_keylog_add */
	uint8_t *scratch;             /* BT_MSEDEC_SCRATCH bytes, with keys */
	char why[256];                /* text of the current event's why */
	uint64_t pkt_no;
};

/* Zero means default in cfg; cfg and cb may be NULL.  0 or -ENOMEM. */
int bt_dec_init(struct bt_dec *d, const struct bt_dec_cfg *cfg,
		const struct bt_dec_cb *cb, void *ctx);

/* MSE/PE decryption (bt-decode --keylog): one line of a key log (mse.h,
 * "Key log").  Flows that begin after it, between the line's two
 * endpoints, are decrypted (see above).  BT_OK, or as bt_keylog_add:
 * BT_EUNSUPP a line to skip, BT_EINVAL a malformed one (*why),
 * BT_ENOSPC no memory. */
int bt_dec_keylog_add(struct bt_dec *d, const char *line, size_t len,
		      const char **why);

/* One captured frame of link type linktype (pcap_datalink()).  ts_us is
 * its timestamp; frames should come in capture order.  Returns BT_OK or
 * the bt_pkt_decode result for a frame it skipped (already reported
 * through cb.problem). */
int bt_dec_frame(struct bt_dec *d, int linktype, const uint8_t *frame,
		 size_t caplen, size_t wirelen, uint64_t ts_us);

/* End flows idle since before before_us (live capture). */
void bt_dec_expire(struct bt_dec *d, uint64_t before_us);

/* End of the capture: every flow ends (flow_end), counters are final.
 * The decoder stays usable. */
void bt_dec_finish(struct bt_dec *d);

/* Free everything.  Flows still in the table end first, with their
 * callbacks, as in bt_dec_finish but without the bytes that were waiting
 * behind holes; call bt_dec_finish first to have those too. */
void bt_dec_free(struct bt_dec *d);

#endif
