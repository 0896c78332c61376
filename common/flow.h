/* flow.h — TCP reassembly for captures.
 *
 * A flow table takes decoded TCP segments (struct bt_pkt from pkt.h) in
 * capture order and hands each direction's byte stream to deliver() in
 * sequence order, each byte once, whatever order, duplication or overlap
 * the capture shows.  What cannot be delivered is said through event():
 * a GAP for bytes never captured, an overlap conflict for retransmitted
 * bytes that differ from the first copy (the first copy wins), FIN and
 * RST, evictions.
 *
 * Directions: 0 is the client (the SYN sender; or, when the capture starts
 * mid-connection, whoever sent the first segment seen), 1 the server.
 * Sequence numbers are mapped to 64-bit stream offsets (serial-number
 * arithmetic, RFC 1982), so the 2^32 wrap is invisible to callers.
 *
 * A direction's start comes from its SYN (or from the SYN-ACK's
 * acknowledgement number for the client when only the SYN was missed),
 * else from its first data segment (flagged midstream).  Out-of-order data
 * is buffered per direction up to cfg.max_ooo bytes, node overhead
 * included; past that the oldest hole is declared a GAP and the stream
 * goes on after it.  A hole the other side has acknowledged past (its ACK
 * number beyond the hole: the receiver had the bytes, so they will not be
 * sent again) is declared once cfg.ack_grace more packets of the flow
 * have come without filling it, and what waited behind it is delivered:
 * decoding goes on at the capture's pace instead of waiting for the end.
 * The grace is for loopback captures, which can record a segment after
 * the ACK that covers it.  Holes still open when a flow ends (RST,
 * eviction, idle expiry, port reuse, bt_flow_flush at the end of the
 * capture) are declared the same way.  A FIN does not close its hole at
 * once either: the data before it may still come.
 *
 * Delivery times: bytes are delivered at the time of the packet that made
 * them contiguous; behind an acknowledged hole, at the time the ACK was
 * seen (when the receiver could read them); never before their own
 * capture time.
 * Bytes before a direction's start (its first segment captured after a
 * later one, in a capture begun mid-stream) cannot be placed: dropped.
 *
 * A flow is closed when both FINs are reached in order or a RST is seen;
 * it stays in the table for stray retransmissions until a new SYN reuses
 * its ports, its slot is needed (closed flows go first, quietly), it
 * expires, or the table is flushed.  release() comes only then.
 *
 * Memory per flow is bounded by 2 * (max_ooo + max_hist) plus one
 * segment, and the table by max_flows flows, whatever the capture's size.
 *
 * Callbacks run inside bt_flow_input / _flush / _expire / _free and must
 * not call into the same table.  Per direction, deliveries and events come
 * in stream order (a GAP sits exactly between the bytes around it). */
#ifndef BT_FLOW_H
#define BT_FLOW_H

#include "bt.h"
#include "pkt.h"

struct bt_flow_ep {
	struct bt_pkt_addr addr;
	uint16_t port;
};

/* Per-direction counters and state; read-only for the caller. */
struct bt_flow_dir {
	uint64_t pkts;          /* segments seen in this direction */
	uint64_t bytes;         /* payload bytes delivered */
	uint64_t gap_bytes;     /* bytes declared lost (GAP) */
	uint64_t dup_bytes;     /* captured again after the first copy, or
				   before the stream's start */
	uint64_t off;           /* stream offset of the next byte due */
	uint32_t isn;           /* sequence number of stream offset 0, minus
				   1 when the stream began with a SYN */
	bool syn;               /* started from a SYN (or the SYN-ACK's ack) */
	bool midstream;         /* started from a data segment instead */
	bool fin;               /* FIN reached in sequence order */
	bool rst;               /* RST sent by this side */
};

struct bt_flow {
	uint64_t id;            /* 1, 2, ... in order of creation */
	struct bt_flow_ep ep[2];/* ep[0] client, ep[1] server */
	uint64_t first_us, last_us;
	struct bt_flow_dir d[2];
	bool closed;            /* both FINs reached, or a RST */
	void *user;             /* the caller's; see release() */
};

enum bt_flow_ev {
	BT_FLOW_EV_OPEN = 1,    /* flow created (dir -1) */
	BT_FLOW_EV_SYN,         /* SYN or SYN-ACK seen; seq = its ISN */
	BT_FLOW_EV_MIDSTREAM,   /* direction starts at a data segment */
	BT_FLOW_EV_GAP,         /* [seq, seq+len) never captured */
	BT_FLOW_EV_CONFLICT,    /* overlap conflict: [seq, seq+len) came
				   again with other bytes; first kept */
	BT_FLOW_EV_FIN,         /* FIN reached in order; seq = its number */
	BT_FLOW_EV_RST,         /* RST seen; seq = its sequence number */
	BT_FLOW_EV_CLOSED,      /* both FINs reached or reset (dir -1) */
	BT_FLOW_EV_EVICT,       /* table full: least recently active flow
				   ended (dir -1) */
	BT_FLOW_EV_IDLE,        /* ended by bt_flow_expire (dir -1) */
	BT_FLOW_EV_REUSE,       /* a new SYN on the same ports ends this
				   flow (dir -1) */
};

struct bt_flow_evinfo {
	uint64_t ts_us;         /* of the packet (or expiry time) causing it */
	uint32_t seq;           /* GAP, CONFLICT, SYN, FIN, RST */
	uint64_t len;           /* GAP, CONFLICT: bytes in the range */
	uint64_t off;           /* stream offset of seq (GAP, CONFLICT, FIN) */
	const char *why;        /* static text: the reason for a GAP
				   ("out-of-order buffer full", "reset",
				   "end of capture", "not captured", ...) */
};

struct bt_flow_cb {
	/* In-order stream bytes; data lives only during the call. */
	void (*deliver)(void *ctx, struct bt_flow *f, int dir,
			const uint8_t *data, size_t len, uint64_t ts_us);
	/* dir is 0 or 1, or -1 for events about the whole flow. */
	void (*event)(void *ctx, struct bt_flow *f, int dir,
		      enum bt_flow_ev kind, const struct bt_flow_evinfo *info);
	/* The flow is about to be freed: free f->user.  Any may be NULL. */
	void (*release)(void *ctx, struct bt_flow *f);
};

/* Zero means the default. */
struct bt_flow_cfg {
	size_t max_flows;       /* default 4096 */
	size_t max_ooo;         /* out-of-order bytes per direction,
				   default 1 MiB */
	size_t max_hist;        /* delivered bytes kept per direction to
				   check retransmissions, default 64 KiB */
	size_t ack_grace;       /* packets of the flow after an ACK passed a
				   hole before it is declared, default 8 */
};

#define BT_FLOW_DEF_FLOWS (4096u)
#define BT_FLOW_DEF_OOO   ((size_t)1 << 20)
#define BT_FLOW_DEF_HIST  ((size_t)64 << 10)
#define BT_FLOW_DEF_ACK_GRACE 8u

struct bt_flow_node;  /* the table's own, in flow.c */

struct bt_flow_table {
	struct bt_flow_cfg cfg;     /* defaults filled in */
	struct bt_flow_cb cb;
	void *ctx;
	size_t nflows;
	/* counters */
	uint64_t flows_total;       /* flows created */
	uint64_t evicted;           /* live flows ended by a full table */
	uint64_t ignored;           /* segments of no flow (pure ACKs, ...) */
	/* the table's own */
	struct bt_flow_node **bucket;
	size_t nbucket;             /* power of two */
	struct bt_flow_node *lru;   /* live flows, most recent first */
	struct bt_flow_node *lru_tail;
	struct bt_flow_node *dead;  /* closed flows, oldest last */
	struct bt_flow_node *dead_tail;
};

/* Set up an empty table; cfg and cb may be NULL.  Returns 0 or -ENOMEM. */
int bt_flow_init(struct bt_flow_table *t, const struct bt_flow_cfg *cfg,
		 const struct bt_flow_cb *cb, void *ctx);

/* Feed one decoded segment (pk->l4 == BT_PKT_TCP; bt_pkt_decode returned
 * BT_OK, or BT_NEED_MORE with err_layer BT_PKT_PAYLOAD: the uncaptured
 * tail becomes a GAP).  pk->ts_us orders time; pk's payload is copied if
 * it must wait.  A segment of no flow that carries neither a SYN nor data
 * is ignored.  *fp (if fp) gets the segment's flow or NULL.
 * Returns BT_OK, BT_EINVAL (not TCP), or -ENOMEM (no flow created). */
int bt_flow_input(struct bt_flow_table *t, const struct bt_pkt *pk,
		  struct bt_flow **fp);

/* End every flow whose last packet is older than before_us (IDLE event,
 * holes declared, release).  Returns the number ended. */
size_t bt_flow_expire(struct bt_flow_table *t, uint64_t before_us);

/* End of capture: declare every open hole, deliver what waited behind it,
 * then release and free every flow.  The table stays usable. */
void bt_flow_flush(struct bt_flow_table *t);

/* Free every flow (release() only: no deliveries, no events) and the
 * table's memory.  The struct may be bt_flow_init'ed again. */
void bt_flow_free(struct bt_flow_table *t);

/* An endpoint as text: "1.2.3.4:6881", "[::1]:6881" (bt_addr_fmt), into
 * buf (BT_ADDR_STRLEN bytes suffice); returns buf. */
char *bt_flow_ep_fmt(const struct bt_flow_ep *e, char *buf, size_t cap);

/* "gap", "overlap conflict", ... for an event kind. */
const char *bt_flow_ev_name(enum bt_flow_ev kind);

#endif
