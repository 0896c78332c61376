/* conn.h — one peer connection on bt_loop: the live source of events.
 *
 * A bt_conn dials a peer (non-blocking connect with a deadline, optionally
 * from a chosen source address), sends our handshake and messages through
 * a send queue, feeds whatever recv() returns to the framer, and reports
 * everything that happens as struct bt_event (event.h) through one
 * callback, with t_us measured on the monotonic clock from the moment
 * bt_conn_connect was called.  EOF, RST and the connect deadline are
 * events too, so a silent or vanishing peer is just another line of the
 * timeline for the printer (print.h) and the diagnosis (diag.h).
 *
 * Outgoing messages are reported when they are queued, with the exact
 * bytes queued (event.raw) and their parse (event.msg/hs), so the
 * timeline shows what we sent even when it is malformed on purpose.
 *
 * The handshake can be made wrong on purpose, to reproduce client bugs
 * against real peers: another protocol string or length byte, a peer id
 * shorter than 20 bytes (the handshake then is 48 + 1 + pstrlen + n bytes
 * and the peer waits for the rest), any info-hash.
 *
 * Lifetime: the caller owns struct bt_conn and keeps it in place from
 * bt_conn_init to bt_conn_free.  Events borrow (see event.h): views live
 * until the callback returns.  The callback may send, close or arm timers;
 * it must not bt_conn_free the connection it is called for (close it and
 * free it after bt_loop_once returns).  Nothing here prints or exits. */
#ifndef BT_CONN_H
#define BT_CONN_H

#include <sys/socket.h>

#include "event.h"
#include "loop.h"
#include "wire.h"

#define BT_CONN_SENDQ_MAX   (8u << 20)  /* bytes queued before send refuses */
#define BT_CONN_READ_CHUNK  65536       /* one recv() */
#define BT_CONN_READS_PER_WAKE 16       /* recv()s per readiness, for fairness */

enum bt_conn_state {
	BT_CONN_IDLE = 0,      /* initialised, not dialled */
	BT_CONN_CONNECTING,
	BT_CONN_OPEN,          /* TCP established */
	BT_CONN_DONE,          /* closed, reset, failed: socket gone */
};

struct bt_conn;
typedef void bt_conn_event_fn(struct bt_conn *c, const struct bt_event *ev,
			      void *arg);

struct bt_conn_cfg {
	struct sockaddr_storage peer;      /* IPv4 or IPv6, with port */
	socklen_t peer_len;
	struct sockaddr_storage src;       /* bind here first, if src_len */
	socklen_t src_len;
	uint64_t connect_timeout_us;       /* 0: 10 s */
	uint32_t max_msg_len;              /* framer cap; 0: BT_FRAMER_DEFAULT_MAX */
	bt_conn_event_fn *on_event;
	void *arg;
};

/* Our handshake, possibly wrong on purpose.  Start from
 * bt_conn_hs_default() and change what the experiment needs. */
struct bt_conn_hs {
	uint8_t reserved[8];
	uint8_t info_hash[20];
	uint8_t peer_id[20];
	size_t peer_id_len;    /* bytes of peer_id sent: 20, or fewer (bug) */
	const char *pstr;      /* protocol string; NULL: BT_PSTR */
	size_t pstr_len;       /* bytes of pstr sent (pstr need not be a C string) */
	int pstrlen_byte;      /* the length byte: -1 = pstr_len; else 0..255 as is */
	bool pstrlen_after;    /* the notes' order: string first, then its length */
};

/* A correct handshake for info_hash and peer_id, reserved bits zero. */
void bt_conn_hs_default(struct bt_conn_hs *h, const uint8_t info_hash[20],
			const uint8_t peer_id[20]);
/* Encode h into out (cap >= BT_HS_MAX_LEN + 1 suffices); returns length.
 * Exactly the bytes bt_conn_send_handshake queues. */
size_t bt_conn_hs_encode(const struct bt_conn_hs *h, uint8_t *out, size_t cap);

struct bt_conn {
	struct bt_conn_cfg cfg;
	struct bt_loop *loop;
	enum bt_conn_state state;
	struct bt_io io;
	struct bt_timer connect_timer;
	uint64_t t0_us;                    /* monotonic time of bt_conn_connect */
	uint64_t t0_wall_us;               /* CLOCK_REALTIME at the same moment */
	int err;                           /* errno that ended it, 0 if none */
	struct sockaddr_storage local;     /* our address, once CONNECTED */
	socklen_t local_len;               /* 0 until then */

	/* send queue: bytes [sq_off, sq_len) of sq are still to write */
	uint8_t *sq;
	size_t sq_off, sq_len, sq_cap;
	uint64_t out_bytes;                /* our stream offset (bytes queued) */
	uint64_t in_bytes;                 /* peer's stream offset (bytes read) */
	bool hs_sent;                      /* our handshake is queued */

	struct bt_framer fr;
	uint8_t *frbuf;
	uint8_t *rbuf;                     /* BT_CONN_READ_CHUNK */

	/* Protocol state, updated before each event is reported. */
	bool peer_hs_seen;
	uint8_t peer_reserved[8], peer_info_hash[20], peer_id[20];
	bool peer_choking, peer_interested;  /* start true / false (BEP 3) */
	bool am_choking, am_interested;
	bool in_closed;                    /* the peer's side ended (FIN/RST) */
	char why[160];                     /* event.why text of the last event */
};

/* Set up; nothing is dialled yet.  BT_OK, BT_EINVAL (no callback, bad
 * address family) or BT_ENOSPC (out of memory). */
int bt_conn_init(struct bt_conn *c, struct bt_loop *l,
		 const struct bt_conn_cfg *cfg);
/* Dial.  Reports CONNECTING, then later CONNECTED or CONNECT_FAILED
 * (err: ECONNREFUSED, ETIMEDOUT for the deadline, ...).  Returns BT_OK
 * even when the dial fails at once (the failure is an event); BT_EINVAL
 * when not idle. */
int bt_conn_connect(struct bt_conn *c);

/* Queue our handshake (reported as a HANDSHAKE event, dir OUT; when the
 * bytes do not form a complete handshake, hs holds what we meant to send
 * and why says what is wrong).  Only once OPEN: send it from the
 * CONNECTED event, so the timeline shows it after the connect.  BT_OK,
 * BT_EINVAL (not open, or sent already), BT_ENOSPC (queue full or out of
 * memory). */
int bt_conn_send_handshake(struct bt_conn *c, const struct bt_conn_hs *h);
/* Queue one framed message (prefix included) exactly as given: a MSG
 * event (MALFORMED if it does not parse; several messages in one call are
 * refused with BT_EINVAL, nothing queued).  Same results as above. */
int bt_conn_send_raw(struct bt_conn *c, const uint8_t *frame, size_t len);
/* Conveniences over the wire.h encoders. */
int bt_conn_send_simple(struct bt_conn *c, uint8_t id);   /* choke...have none */
int bt_conn_send_keepalive(struct bt_conn *c);
int bt_conn_send_have(struct bt_conn *c, uint32_t index);
int bt_conn_send_request(struct bt_conn *c, uint32_t index, uint32_t begin,
			 uint32_t length);
int bt_conn_send_cancel(struct bt_conn *c, uint32_t index, uint32_t begin,
			uint32_t length);
int bt_conn_send_extended(struct bt_conn *c, uint8_t ext_id,
			  const uint8_t *payload, size_t n);

/* Put the tool's own entry on the timeline (kind TIMEOUT or NOTE, dir
 * OUT), with this connection's clock.  why must outlive the callback. */
void bt_conn_note(struct bt_conn *c, enum bt_ev_kind kind, const char *why);

/* Close our side now (unsent bytes are dropped) and report CLOSED, dir
 * OUT.  No-op when already done. */
void bt_conn_close(struct bt_conn *c);
/* Microseconds since bt_conn_connect (the t_us the next event gets). */
uint64_t bt_conn_elapsed(const struct bt_conn *c);
/* Bytes queued but not yet written to the socket. */
size_t bt_conn_unsent(const struct bt_conn *c);
/* Release memory and the socket (no event).  Safe on a zeroed struct. */
void bt_conn_free(struct bt_conn *c);

/* Parse "1.2.3.4:6881", "[::1]:6881" (numeric addresses only) into ss.
 * port_required false accepts a bare address (port 0).  BT_OK or BT_EINVAL. */
int bt_sockaddr_parse(const char *s, bool port_required,
		      struct sockaddr_storage *ss, socklen_t *len);
/* "1.2.3.4:6881" / "[::1]:6881" into buf (NUL-terminated). */
char *bt_sockaddr_fmt(const struct sockaddr *sa, char *buf, size_t cap);

#endif
