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
 * Encryption (MSE/PE, mse.h), off unless cfg.encryption says otherwise:
 * with PREFER or REQUIRE the connection runs the MSE initiator when the
 * tool sends its handshake, and the handshake travels as MSE's initial
 * payload (IA).  Bytes after the MSE handshake are decrypted before the
 * framer, and everything queued afterwards is encrypted, so the tool sees
 * the same events as on a plain connection.  Messages queued while MSE is
 * still running wait, in order, until it completes.  Each MSE step is a
 * BT_EV_NOTE event whose err is an enum bt_mse_step (mse.h, "Timeline
 * steps"): "MSE: sent Ya ...", "MSE: got Yb after ...", "MSE: RC4
 * selected ...".  Once S is known, on_keylog gets the key log line of
 * mse.h for the connection.
 *
 * Redials: with PREFER, when the peer closes or resets the connection
 * during MSE, or MSE fails (no sync, a broken rule, enc_timeout_us), the
 * connection redials once and speaks plain; with PROBE it starts plain
 * and, when the peer closes or resets our handshake without sending a
 * byte, redials once with MSE.  The refused attempt does not end in
 * CLOSED/RESET: it ends in a REFUSED (or FAILED/TIMEOUT) note and a
 * FALLBACK (or PROBE) note, then CONNECTING and CONNECTED come again on
 * the same clock.  A tool that sends its handshake from CONNECTED (as it
 * must) needs no change: the new TCP connection starts afresh (queues,
 * stream offsets, choke state, the framer), and whatever the tool queued
 * on the refused attempt is dropped.  Between the attempts the state is
 * CONNECTING.
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
struct bt_mse;
typedef void bt_conn_event_fn(struct bt_conn *c, const struct bt_event *ev,
			      void *arg);
/* A key log line (mse.h: "mse CLIENT SERVER S INFOHASH\n", len bytes,
 * NUL-terminated) for this connection.  Return 0, or an errno: the
 * connection then puts a note on the timeline. */
typedef int bt_conn_keylog_fn(struct bt_conn *c, const char *line, size_t len,
			      void *arg);
/* The exact bytes that went through the socket (MSE and ciphertext
 * included): dir OUT as written, IN as read.  For captures (-w); it must
 * not call back into the connection. */
typedef void bt_conn_wire_fn(struct bt_conn *c, enum bt_dir dir,
			     const uint8_t *p, size_t n, void *arg);

enum bt_conn_enc {
	BT_CONN_ENC_OFF = 0,   /* plain BitTorrent */
	BT_CONN_ENC_PREFER,    /* MSE first; refused or failed: redial plain */
	BT_CONN_ENC_REQUIRE,   /* MSE only */
	BT_CONN_ENC_PROBE,     /* plain first; refused with nothing back:
				  redial once with MSE, to see whether the
				  peer requires encryption */
};

struct bt_conn_cfg {
	struct sockaddr_storage peer;      /* IPv4 or IPv6, with port */
	socklen_t peer_len;
	struct sockaddr_storage src;       /* bind here first, if src_len */
	socklen_t src_len;
	uint64_t connect_timeout_us;       /* 0: 10 s */
	uint32_t max_msg_len;              /* framer cap; 0: BT_FRAMER_DEFAULT_MAX */
	bt_conn_event_fn *on_event;
	void *arg;
	/* Encryption; all off when zeroed. */
	enum bt_conn_enc encryption;
	uint32_t enc_crypto;               /* crypto_provide: BT_MSE_CRYPTO_RC4
					      and/or _PLAIN; 0: RC4 alone (a
					      peer that would select plaintext
					      may close instead: Transmission
					      3.00 does) */
	bool enc_have_skey;                /* SKEY: enc_skey; else the info-hash
					      of our handshake */
	uint8_t enc_skey[20];
	uint64_t enc_timeout_us;           /* PREFER: MSE must complete within
					      this after our Ya, or plain it
					      is; 0: 5 s */
	bt_conn_keylog_fn *on_keylog;      /* NULL: no key log */
	void *keylog_arg;
	bt_conn_wire_fn *on_wire;          /* NULL: no tap */
	void *wire_arg;
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
	char why[256];                     /* event.why text of the last event */
	uint64_t t_hs_us;                  /* when our handshake was queued */

	/* Encryption (cfg.encryption).  Read-only for callers. */
	struct bt_mse *mse;                /* MSE state (heap), NULL if never used */
	bool mse_on;                       /* this attempt speaks MSE */
	bool mse_done;                     /* ...and its handshake is complete */
	uint32_t mse_select;               /* the method then (BT_MSE_CRYPTO_*) */
	uint64_t t_mse_us, t_mse_y_us, t_mse_done_us; /* our Y, theirs, done
							  (this clock; 0: not yet) */
	unsigned redials;                  /* 0, or 1 after a fallback / probe */
	uint64_t wire_in, wire_out;        /* socket bytes this attempt */
	uint8_t *hold;                     /* payload queued while MSE runs */
	size_t hold_len, hold_cap;
	bool redial_mse;                   /* the pending redial speaks MSE */
	struct bt_timer enc_timer;         /* PREFER: the MSE deadline */
	struct bt_timer redial_timer;      /* the redial, outside the I/O callback */
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

/* The peer's frame in progress, for a note when a wait runs out while a
 * message is half-received (a peer sending a byte at a time): returns the
 * bytes of it read so far (0: none; the stream is between frames), *need
 * (may be NULL) its whole size including the prefix (0: the length prefix
 * itself is incomplete).  buf (may be NULL; cap > 0) gets the text
 * "6 bytes into an 8-byte message (bitfield)" ("2 bytes into a message's
 * 4-byte length prefix", "30 bytes into a 68-byte handshake"), or "" when
 * nothing is half-received. */
size_t bt_conn_in_partial(const struct bt_conn *c, size_t *need, char *buf,
			  size_t cap);

/* Close our side now (unsent bytes are dropped) and report CLOSED, dir
 * OUT.  No-op when already done. */
void bt_conn_close(struct bt_conn *c);
/* Microseconds since bt_conn_connect (the t_us the next event gets). */
uint64_t bt_conn_elapsed(const struct bt_conn *c);
/* Bytes queued but not yet written to the socket. */
size_t bt_conn_unsent(const struct bt_conn *c);
/* Release memory and the socket (no event).  Safe on a zeroed struct. */
void bt_conn_free(struct bt_conn *c);

/* A ready-made bt_conn_keylog_fn: arg is a file name (const char *); the
 * line is appended (O_APPEND, created 0600), one write per line, so
 * several processes may share a file as with SSLKEYLOGFILE. */
int bt_conn_keylog_append(struct bt_conn *c, const char *line, size_t len,
			  void *arg);
/* "off", "prefer", "require", "probe". */
const char *bt_conn_enc_name(enum bt_conn_enc e);

/* Parse "1.2.3.4:6881", "[::1]:6881" (numeric addresses only) into ss.
 * port_required false accepts a bare address (port 0).  BT_OK or BT_EINVAL. */
int bt_sockaddr_parse(const char *s, bool port_required,
		      struct sockaddr_storage *ss, socklen_t *len);
/* "1.2.3.4:6881" / "[::1]:6881" into buf (NUL-terminated). */
char *bt_sockaddr_fmt(const struct sockaddr *sa, char *buf, size_t cap);

#endif
