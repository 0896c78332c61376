/* event.h — one entry on a session's timeline.
 *
 * Live tools (bt-handshake, bt-fetch) and the capture decoder (bt-decode)
 * turn everything that happens on a peer connection into events: the same
 * struct whether the bytes came from a socket or from a reassembled TCP
 * stream.  The printer (print.h) renders events; the diagnosis (diag.h)
 * reads the same events and explains the peer's behaviour.  An event only
 * borrows: hs, msg and the views inside them live until the producer's next
 * call (the framer's buffer); consumers copy what they keep. */
#ifndef BT_EVENT_H
#define BT_EVENT_H

#include "bt.h"
#include "wire.h"

/* Direction.  Live: OUT is what we sent, IN what the peer sent.  Captures:
 * OUT is from the side that opened the TCP connection (the initiator). */
enum bt_dir {
	BT_DIR_OUT = 0,
	BT_DIR_IN = 1,
};

enum bt_ev_kind {
	BT_EV_CONNECTING = 1, /* dialing the peer */
	BT_EV_CONNECTED,      /* TCP established */
	BT_EV_CONNECT_FAILED, /* err = errno (ECONNREFUSED, ETIMEDOUT, ...) */
	BT_EV_HANDSHAKE,      /* hs: a handshake (possibly with problems) */
	BT_EV_MSG,            /* msg: a well-formed message */
	BT_EV_MALFORMED,      /* msg with msg->bad set, or a framing error:
				 err (BT_ETOOBIG/BT_EINVAL), declared_len, why */
	BT_EV_CLOSED,         /* dir's side closed its half (FIN / EOF) */
	BT_EV_RESET,          /* connection reset (RST / ECONNRESET); dir = who */
	BT_EV_TIMEOUT,        /* a wait ran out; why names the wait */
	BT_EV_GAP,            /* capture: gap_len bytes missing in dir's stream */
	BT_EV_ENCRYPTED,      /* dir's stream is not plain BitTorrent (MSE/PE) */
	BT_EV_NOTE,           /* the tool's own remark on the timeline; why */
};

struct bt_event {
	uint64_t t_us;        /* since the session started (first event) */
	enum bt_dir dir;
	enum bt_ev_kind kind;
	uint64_t stream_off;  /* offset of the event's first byte in dir's stream */
	const struct bt_handshake *hs;
	const struct bt_msg *msg;
	const uint8_t *raw;   /* the message's bytes (prefix included), or NULL */
	size_t raw_len;
	int err;              /* errno for socket events, BT_E* for parse errors */
	uint64_t declared_len;/* MALFORMED: a length prefix over the cap */
	uint64_t gap_len;     /* GAP */
	const char *why;      /* static or caller-lived text; may be NULL */
};

/* Name of a kind ("handshake", "msg", ...), for JSON and tests. */
const char *bt_ev_kind_name(enum bt_ev_kind k);

#endif
