/* diag.h — why a peer behaved as it did, from the timeline alone.
 *
 * The diagnosis reads events (event.h) and nothing else: no socket, no
 * clock.  bt-handshake feeds it the live session, bt-decode a session
 * reassembled from a capture, and both get the same verdicts.  Direction
 * OUT is "us" (live) or the initiator (captures).
 *
 * A verdict names the rule behind it (BEP and section), the evidence (the
 * event and its time) and says in a few sentences what happened and why.
 * Verdicts marked `problem` explain a failure (the peer sent us nothing
 * useful, or dropped us); the others are remarks.  The rules follow the
 * life of a connection, and a failure at one stage makes the later
 * "nothing happened" rules moot, so they are not reported: when our
 * handshake was 54 bytes the peer's silence is explained by that, not by
 * "the peer announced no pieces".
 *
 * Encryption: MSE/PE steps are notes whose err is an enum bt_mse_step
 * (mse.h, "Timeline steps").  A timeline may hold several connection
 * attempts at the same peer (conn.h redials with encryption "prefer" or
 * "probe"): every CONNECTING after the first starts a new attempt.  The
 * rules judge the last attempt as a whole connection, and the attempts
 * together for the encryption verdicts: "requires-encryption" when a plain
 * handshake was dropped (FIN or RST, no handshake back) and an MSE attempt
 * of the same run was answered; "mse-refused" and "mse-failed" for MSE
 * attempts that did not complete (remarks when a plain fallback followed).
 * With no MSE evidence at all, the closed/reset-on-handshake verdicts say
 * the peer may require encryption and suggest trying MSE.
 *
 * Usage: bt_diag_init, bt_diag_feed for every event in order,
 * optionally bt_diag_end (the timeline's last moment; default the last
 * event's), then bt_diag_verdicts.  Feeding copies what it keeps, so
 * events may be discarded after the call.  Memory: the struct (about
 * 20 KiB) plus one piece bitmap of at most BT_DIAG_MAX_PIECES bits. */
#ifndef BT_DIAG_H
#define BT_DIAG_H

#include "bt.h"
#include "event.h"
#include "out.h"

#define BT_DIAG_MAX_REQ     512        /* requests tracked; later ones counted */
#define BT_DIAG_MAX_FAST    64         /* allowed-fast pieces tracked */
#define BT_DIAG_MAX_PIECES  (1u << 21) /* pieces tracked in the peer's bitmap */
#define BT_DIAG_MAX_ATTEMPTS 4         /* earlier attempts kept (the oldest go) */

enum bt_verdict_id {
	BT_V_CONNECT_REFUSED = 1,
	BT_V_CONNECT_TIMEOUT,
	BT_V_CONNECT_FAILED,
	BT_V_ENCRYPTED,
	BT_V_OUR_PSTRLEN,        /* our first byte is not 19 */
	BT_V_OUR_PSTR,           /* our protocol string differs (case too) */
	BT_V_SHORT_PEER_ID,      /* our handshake ends inside the peer id */
	BT_V_SHORT_HANDSHAKE,    /* ...ends earlier, or pstrlen says more */
	BT_V_OUR_INFO_HASH,      /* we sent another info-hash than the torrent's */
	BT_V_NO_HANDSHAKE,       /* the peer never completed its handshake */
	BT_V_CLOSED_ON_HANDSHAKE,/* closed after ours, ours looked right */
	BT_V_RESET_ON_HANDSHAKE, /* reset after ours: maybe requires encryption */
	BT_V_OTHER_INFO_HASH,    /* the peer answered with another info-hash */
	BT_V_PEER_HANDSHAKE,     /* the peer's handshake deviates (remark) */
	BT_V_NO_PIECES,          /* no bitfield/have, have_none, empty bitfield */
	BT_V_NOT_INTERESTED,     /* we never said interested; no unchoke came */
	BT_V_NEVER_UNCHOKED,     /* interested, but still choked at the end */
	BT_V_REQUEST_TOO_BIG,    /* length > 16 KiB */
	BT_V_REQUEST_CHOKED,     /* request sent while the peer choked us */
	BT_V_REQUEST_NOT_HAVE,   /* request for a piece the peer did not announce */
	BT_V_REJECTED,           /* BEP 6 reject for our requests */
	BT_V_CHOKE_DROPPED,      /* a choke discarded pending requests */
	BT_V_IGNORED,            /* requests with neither piece nor reject */
	BT_V_MALFORMED,          /* the peer sent something unparseable */
	BT_V_PEER_CLOSED,        /* closed/reset later, nothing else explains it */
	BT_V_REQUIRES_ENCRYPTION,/* plain dropped, MSE answered (same run) */
	BT_V_MSE_REFUSED,        /* closed/reset during our MSE handshake */
	BT_V_MSE_FAILED,         /* MSE broke a rule, or no answer in time */
	BT_V_BAD_BITFIELD,       /* wrong length, or spare bits set (piece_count) */
	BT_V_HAVE_RANGE,         /* have for an index >= piece_count */
	BT_V_UNREQUESTED,        /* piece answering no request of ours (remark) */
	BT_V_STALLED,            /* the wait ended inside a message of the peer */
};

struct bt_verdict {
	enum bt_verdict_id id;
	const char *name;        /* stable slug: "short-peer-id" */
	const char *rule;        /* "BEP 3, handshake" */
	bool problem;            /* explains a failure (vs a remark) */
	uint64_t t_us;           /* time of the evidence event */
	enum bt_dir dir;         /* its direction */
	enum bt_ev_kind kind;    /* its kind */
	int msg_id;              /* its message id for BT_EV_MSG, else -1 */
	char evidence[96];       /* "out handshake, 54 bytes" */
	char text[768];          /* the explanation, one paragraph */
};

struct bt_diag_opts {
	bool have_info_hash;     /* the torrent's info-hash is known: */
	uint8_t info_hash[20];
	uint32_t piece_count;    /* 0: unknown */
	/* How long a wait must have lasted before its absence is judged;
	 * 0 picks the default.  Shorter sessions get no such verdict. */
	uint64_t announce_wait_us;  /* bitfield after handshake: 1 s */
	uint64_t unchoke_wait_us;   /* unchoke after handshake/interested: 1 s */
	uint64_t answer_wait_us;    /* piece or reject after request: 2 s */
};

struct bt_diag_req {
	uint32_t index, begin, length;
	uint64_t t_us;
	uint8_t state;           /* 0 pending, 1 answered, 2 rejected,
				    3 cancelled, 4 dropped by a choke */
	bool choked;             /* sent while the peer choked us */
	bool not_have;           /* for a piece the peer had not announced */
	uint64_t t_done;
};

/* One connection attempt: its MSE facts as the steps arrive, the rest
 * filled in when the attempt is summarised (the next CONNECTING). */
struct bt_diag_attempt {
	bool mse;                /* began with MSE: we sent our Y */
	bool mse_y;              /* the peer's Y came */
	bool mse_done;           /* crypto_select read: an MSE session */
	uint32_t mse_select;     /* BT_MSE_CRYPTO_RC4 or _PLAIN, 0 */
	bool mse_failed;         /* a FAILED step: mse_err (enum bt_mse_err) */
	int mse_err;
	bool mse_timeout;        /* a TIMEOUT step */
	bool refused;            /* a REFUSED step ended it (conn redialled) */
	bool fallback;           /* a FALLBACK or PROBE step */
	int pad;                 /* our pad length (SENT_Y), -1 */
	uint64_t t_start;        /* CONNECTING */
	uint64_t t_mse, t_mse_y, t_mse_done, t_mse_failed;
	char mse_why[160];       /* the FAILED / TIMEOUT note, escaped */
	/* when summarised: */
	bool connected, connect_failed, our_hs, peer_hs, closed, reset;
	uint64_t t_our_hs, t_end, in_bytes;
};

/* The diagnosis state.  Fields are read-only for callers; they double as
 * a summary of the session (swarm rows). */
struct bt_diag {
	struct bt_diag_opts o;
	uint64_t t_last;         /* last event seen */
	uint64_t t_end;          /* bt_diag_end, or 0 */
	size_t events;

	bool connected, connect_failed;
	uint64_t t_connected, t_connect_failed;
	int connect_err;

	bool our_hs;             /* OUT handshake */
	uint64_t t_our_hs;
	uint8_t our_raw[1 + 255 + 48];
	size_t our_len;
	uint8_t our_info_hash[20];
	uint64_t out_after_hs;   /* bytes we sent after our handshake */
	size_t out_msgs_after_hs;
	int first_out_after_hs;  /* message id, -2 none */
	uint64_t t_first_out_after_hs;
	int last_out_id;         /* our last message before the end, -2 none */
	uint64_t t_last_out;

	bool peer_hs;            /* IN handshake */
	uint64_t t_peer_hs;
	uint8_t peer_reserved[8], peer_info_hash[20], peer_id[20];
	unsigned peer_hs_problems;
	size_t peer_pstrlen;
	uint64_t in_bytes;       /* the peer's stream, bytes seen */
	size_t in_msgs;
	uint64_t t_first_in_msg;
	int first_in_id;         /* -2 none */

	bool ext_hs;             /* BEP 10 handshake from the peer */
	uint64_t t_ext_hs;
	char client_v[64];       /* its v, escaped; "" if none */
	int64_t reqq;            /* -1 unknown */

	int announce;            /* 0 none, else BT_MSG_BITFIELD/HAVE_ALL/HAVE_NONE/HAVE */
	uint64_t t_announce;
	bool have_all;
	uint64_t bitfield_bits;  /* bits in the bitfield (8 * bytes) */
	uint64_t pieces_set;     /* pieces the peer announced, counted once;
				    with piece_count known only those below it */
	uint32_t haves;
	uint8_t *bits;           /* BT_DIAG_MAX_PIECES bits at most, or NULL;
				    with piece_count known no bit past it */
	size_t bits_cap;         /* bytes */
	/* BEP 3 violations, judged when piece_count is known: a bitfield of
	 * the wrong length or with spare bits set (bits at or past
	 * piece_count, the extra bytes' included), haves past the end. */
	bool bad_bitfield;
	uint64_t t_bad_bitfield;
	uint64_t bad_bitfield_len;  /* its length in bytes */
	uint64_t spare_set;         /* its bits set at or past piece_count */
	uint32_t have_range;        /* haves with index >= piece_count */
	uint32_t have_range_first;  /* the first such index */
	uint64_t t_have_range;

	bool unchoked;           /* the peer does not choke us now */
	bool unchoked_ever;
	uint64_t t_unchoke, t_choke;
	uint32_t chokes_in;
	bool am_interested, interested_ever;
	uint64_t t_interested;
	bool peer_interested;

	struct bt_diag_req req[BT_DIAG_MAX_REQ];
	size_t nreq;
	size_t req_untracked;
	uint32_t fast[BT_DIAG_MAX_FAST];
	size_t nfast;
	uint32_t pieces_in, rejects_in, unexpected_in;
	uint64_t t_first_piece;  /* the first piece that answers a request */
	uint64_t t_first_reject;
	uint64_t piece_bytes_in;
	uint32_t answered_in;    /* pieces that answered a request of ours */
	/* Pieces answering no request (unexpected_in of them; not judged
	 * when requests went untracked): the first one, and whether it
	 * repeats an answered block or differs only in length from a
	 * request at the same index and begin (asked_len: its length). */
	uint32_t unexp_index, unexp_begin, unexp_len, unexp_asked_len;
	uint64_t t_unexp;
	bool unexp_dup, unexp_len_differs;
	uint32_t dup_in;         /* of unexpected_in: repeats */

	bool closed_in, reset_in, closed_out;
	uint64_t t_closed_in, t_closed_out;
	int reset_err;
	char closed_in_why[96];  /* "30 bytes into a 68-byte handshake" */
	bool timeout;
	uint64_t t_timeout;
	char timeout_why[96];
	/* bt_diag_partial: the peer's stream ended inside a frame. */
	uint64_t partial_have, partial_need;
	uint64_t t_partial;
	bool malformed_in;
	uint64_t t_malformed;
	char malformed_why[96];
	bool encrypted;
	uint64_t t_encrypted;
	enum bt_dir encrypted_dir;

	/* Attempts: cur is the last one's MSE facts (its other facts are the
	 * fields above); att[] the earlier ones, oldest first. */
	bool started;            /* an attempt is under way */
	struct bt_diag_attempt cur;
	struct bt_diag_attempt att[BT_DIAG_MAX_ATTEMPTS];
	size_t natt;
};

/* o may be NULL (nothing known, default waits). */
void bt_diag_init(struct bt_diag *d, const struct bt_diag_opts *o);
void bt_diag_free(struct bt_diag *d);
void bt_diag_feed(struct bt_diag *d, const struct bt_event *ev);
/* The timeline ends at t_us (e.g. when the tool stopped waiting). */
void bt_diag_end(struct bt_diag *d, uint64_t t_us);
/* At the last event so far, the peer's stream stood `have` bytes into a
 * frame of `need` bytes (0: inside its length prefix), e.g. when a wait
 * ran out (conn.h bt_conn_in_partial).  After its handshake, this
 * outranks the "nothing announced" and unchoke verdicts: what it was
 * sending may be the very message we waited for ("stalled-mid-message").
 * have 0 forgets it (the rest arrived). */
void bt_diag_partial(struct bt_diag *d, uint64_t have, uint64_t need);
/* The torrent's piece count became known mid-session (metadata fetched
 * from the peer): recount what the peer announced and judge the bitfield
 * and the haves seen so far, as if it had been known from the start
 * (haves past the end are judged only from then on). */
void bt_diag_set_piece_count(struct bt_diag *d, uint32_t piece_count);

/* Writes up to cap verdicts, in the order of the connection's life, and
 * returns how many there are (more than cap: out was too small). */
size_t bt_diag_verdicts(const struct bt_diag *d, struct bt_verdict *out, size_t cap);

/* Print one verdict: text
 *   verdict short-peer-id (BEP 3, handshake) at 0.412 ms: out handshake, 54 bytes
 *     Our handshake is ...
 * or one JSON object {"verdict":..,"problem":..,"rule":..,"t_ms":..,
 * "dir":..,"evidence":..,"text":..}. */
void bt_verdict_print(struct bt_out *o, const struct bt_verdict *v);

/* The last attempt summarised (MSE facts and how it ended). */
void bt_diag_attempt_now(const struct bt_diag *d, struct bt_diag_attempt *a);

/* Name of a verdict id ("short-peer-id"). */
const char *bt_verdict_name(enum bt_verdict_id id);

#endif
