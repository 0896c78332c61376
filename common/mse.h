/* mse.h — Message Stream Encryption / Protocol Encryption (MSE/PE).
 *
 * MSE has no BEP; the reference is the Azureus/Vuze "Message Stream
 * Encryption" specification.  A is the initiator (dials), B the receiver:
 *
 *   1 A->B  Ya, PadA
 *   2 B->A  Yb, PadB
 *   3 A->B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *           ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 *   4 B->A  ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
 *   5 A->B  ENCRYPT2(payload)
 *
 *   P = the 768-bit prime below, G = 2; Xa, Xb 160-bit random; Ya = G^Xa
 *   mod P, Yb = G^Xb mod P, S = Yb^Xa = Ya^Xb mod P, each 96 bytes
 *   big-endian.  HASH = SHA-1 of the concatenation.  SKEY = the info-hash.
 *   PadA, PadB: 0..512 random bytes; PadC, PadD: 0..512 bytes (zero).
 *   VC = 8 zero bytes.  crypto_provide/select: u32, bit 0x01 plaintext
 *   ("header obfuscation only"), 0x02 RC4.  len(): u16.  All big-endian.
 *   ENCRYPT: RC4 keyed HASH('keyA', S, SKEY) for A->B, HASH('keyB', S,
 *   SKEY) for B->A, first 1024 bytes of keystream discarded; one keystream
 *   per direction, continuous from the VC on.  ENCRYPT2 is the same RC4
 *   stream when RC4 is selected, nothing (plaintext) when plaintext is:
 *   the IA is RC4-encrypted either way.
 *
 * Synchronisation: a party cannot know the length of the other's pad, so
 * B looks for HASH('req1', S) among the 512 + 20 bytes after Ya, and A for
 * the encrypted VC (the first 8 bytes of the keyB stream) among the 512 + 8
 * bytes after Yb.  Not found within that window: BT_MSE_ERR_NO_SYNC.
 *
 * One caller-owned struct bt_mse per connection, in one of three roles:
 * initiator, receiver, or passive decoder (both directions of a recorded
 * session, given S).  It is an incremental state machine: bt_mse_feed()
 * takes whatever bytes arrived, in chunks of any size, and queues the bytes
 * to send in the struct (bt_mse_pending / bt_mse_sent).  It never touches
 * a socket, never blocks, never prints.
 *
 * After the handshake, the bytes that follow it in the same direction are
 * the payload stream (for B, it starts with the IA): decrypt them in place
 * with bt_mse_decrypt, and encrypt what we send with bt_mse_encrypt.
 *
 * RC4 lives in OpenSSL 3's legacy provider.  The first bt_mse_init (or
 * bt_mse_rc4_available) of the process loads the "legacy" and "default"
 * providers into the default library context and fetches RC4, once
 * (pthread_once).  This is the library's one piece of process-wide state:
 * written once, read-only afterwards, never unloaded.  If the legacy
 * provider is missing, init fails with BT_MSE_ERR_NO_RC4.
 *
 * Nothing here is secret-safe beyond what MSE offers: MSE is obfuscation,
 * not authenticated encryption (RC4, 768-bit DH, no peer authentication). */
#ifndef BT_MSE_H
#define BT_MSE_H

#include "bt.h"

#define BT_MSE_KEY_LEN      96     /* Ya, Yb, S: 768 bits big-endian */
#define BT_MSE_PRIV_LEN     20     /* default private exponent: 160 bits */
#define BT_MSE_PAD_MAX      512    /* PadA..PadD */
#define BT_MSE_VC_LEN       8
#define BT_MSE_RC4_DROP     1024   /* keystream bytes discarded */
#define BT_MSE_IA_MAX       1024   /* cap on the IA we send (a handshake is 68);
				      a received IA may be 0..65535 bytes: it
				      is streamed, never buffered */
#define BT_MSE_CRYPTO_PLAIN 0x01u
#define BT_MSE_CRYPTO_RC4   0x02u
#define BT_MSE_PAD_RANDOM   (-1)   /* cfg.pad_len: random length 0..512 */

/* Synchronisation windows: bytes after Y within which the marker must end. */
#define BT_MSE_SYNC_REQ1    (BT_MSE_PAD_MAX + 20)
#define BT_MSE_SYNC_VC      (BT_MSE_PAD_MAX + BT_MSE_VC_LEN)

/* Bytes one direction's parser buffers: Y plus the larger window. */
#define BT_MSE_RXBUF        (BT_MSE_KEY_LEN + BT_MSE_SYNC_REQ1)
/* Most bytes queued for sending if the caller never drains: the
 * initiator's messages 1 and 3 with the largest pads and IA. */
#define BT_MSE_OUT_MAX      (BT_MSE_KEY_LEN + BT_MSE_PAD_MAX + 20 + 20 + \
			     BT_MSE_VC_LEN + 4 + 2 + BT_MSE_PAD_MAX + 2 + \
			     BT_MSE_IA_MAX)

/* The 768-bit prime P, big-endian (generator 2). */
extern const uint8_t bt_mse_prime[BT_MSE_KEY_LEN];

enum bt_mse_role {
	BT_MSE_INITIATOR = 1,  /* A: we dialled */
	BT_MSE_RECEIVER,       /* B: we accepted */
	BT_MSE_PASSIVE,        /* decoder of a recorded session, given S */
};

/* Directions, for the passive decoder (and struct bt_mse.d[]). */
enum bt_mse_dir { BT_MSE_A2B = 0, BT_MSE_B2A = 1 };

/* Why a handshake failed; with the bt_result the call returned, a static
 * text (why) and the offset in the direction's stream (err_off). */
enum bt_mse_err {
	BT_MSE_ERR_NONE = 0,
	BT_MSE_ERR_NO_RC4,     /* RC4 unavailable: no OpenSSL legacy provider */
	BT_MSE_ERR_LIB,        /* OpenSSL failed (RNG, bignum, digest, memory) */
	BT_MSE_ERR_CONFIG,     /* bad struct bt_mse_cfg (BT_EINVAL) */
	BT_MSE_ERR_STATE,      /* call out of order, e.g. encrypt before done */
	BT_MSE_ERR_PLAIN_HS,   /* a plain BitTorrent handshake, not MSE */
	BT_MSE_ERR_DH_KEY,     /* peer's Y is not in 2..P-2 */
	BT_MSE_ERR_NO_SYNC,    /* req1 (B) / encrypted VC (A) not in window */
	BT_MSE_ERR_SKEY,       /* req2 hash names no info-hash we know */
	BT_MSE_ERR_VC,         /* decrypted VC is not 8 zero bytes */
	BT_MSE_ERR_NO_METHOD,  /* crypto_provide has no method we allow */
	BT_MSE_ERR_SELECT,     /* crypto_select not exactly one offered method */
	BT_MSE_ERR_PAD_LEN,    /* len(PadC) or len(PadD) > 512 (BT_ETOOBIG) */
};

/* "no sync within window", ... ; never NULL. */
const char *bt_mse_errname(enum bt_mse_err e);

/* Receiver / passive: find the info-hash SKEY with SHA-1('req2', SKEY) ==
 * req2 (B computes req2 = received ^ HASH('req3', S)).  Copy it to skey
 * and return true, or return false.  bt_mse_req2() gives the hash of a
 * candidate, so a caller with many torrents can precompute a table. */
typedef bool bt_mse_skey_fn(void *arg, const uint8_t req2[20], uint8_t skey[20]);
void bt_mse_req2(const uint8_t skey[20], uint8_t req2[20]);
/* A ready-made bt_mse_skey_fn: arg is a struct bt_mse_skeys (linear scan). */
struct bt_mse_skeys {
	const uint8_t (*hashes)[20];
	size_t n;
};
bool bt_mse_skeys_find(void *arg, const uint8_t req2[20], uint8_t skey[20]);

struct bt_mse_cfg {
	enum bt_mse_role role;
	/* initiator: crypto_provide; receiver: methods allowed; passive: unused.
	 * 0 means both (BT_MSE_CRYPTO_PLAIN | BT_MSE_CRYPTO_RC4). */
	uint32_t crypto;
	bool prefer_plain;        /* receiver: select plaintext if both are
				     provided and allowed (default: RC4) */
	/* SKEY: initiator (required); passive (or find_skey). */
	const uint8_t *skey;
	bt_mse_skey_fn *find_skey; /* receiver (required); passive (or skey) */
	void *skey_arg;
	/* initiator: the initial payload (e.g. the 68-byte BitTorrent
	 * handshake), copied at init; 0..BT_MSE_IA_MAX bytes. */
	const uint8_t *ia;
	size_t ia_len;
	/* PadA (initiator) / PadB (receiver): 0..512, or BT_MSE_PAD_RANDOM.
	 * pad: its content (pad_len bytes, tests), NULL = random bytes. */
	int pad_len;
	const uint8_t *pad;
	/* PadC (initiator) / PadD (receiver) length 0..512, zero bytes. */
	int pad2_len;
	/* Our private exponent, big-endian, 1..96 bytes (known-vector tests);
	 * NULL: 160 random bits.  Not used by the passive decoder. */
	const uint8_t *priv;
	size_t priv_len;
	/* passive: the shared secret S (BT_MSE_KEY_LEN bytes). */
	const uint8_t *secret;
};

/* One direction of the stream (internal; see mse.c). */
struct bt_mse_stream {
	int st;                   /* parser state */
	uint8_t buf[BT_MSE_RXBUF];
	size_t have;              /* bytes in buf */
	size_t skip;              /* pad bytes still to pass */
	uint64_t off;             /* bytes of this direction consumed so far */
	void *rc4;                /* EVP_CIPHER_CTX *, NULL until keyed */
	uint32_t method;          /* payload: 0 unknown, or PLAIN / RC4 */
	uint32_t rc4_left;        /* payload bytes still RC4 whatever the
				     method: the IA (A->B only) */
	int pad, pad2;            /* out: PadA/PadB length found by sync and
				     len(PadC)/len(PadD) read, -1 until then */
};

/* Caller-owned; set up by bt_mse_init, released by bt_mse_free (OpenSSL
 * objects live on the heap).  A zeroed struct may be passed to
 * bt_mse_free.  Fields marked "out" may be read; change none. */
struct bt_mse {
	enum bt_mse_role role;
	uint32_t crypto;          /* cfg.crypto (0 resolved to both) */
	bool prefer_plain;
	bt_mse_skey_fn *find_skey;
	void *skey_arg;
	uint8_t priv[BT_MSE_KEY_LEN];
	size_t priv_len;
	uint8_t ia[BT_MSE_IA_MAX];
	size_t ia_len_out;        /* bytes of IA we send */
	int pad2_len;
	uint8_t pad[BT_MSE_PAD_MAX]; /* our PadA/PadB content */
	uint8_t req1[20];         /* HASH('req1', S) once S is known */
	uint8_t enc_vc[BT_MSE_VC_LEN]; /* VC encrypted with keyB */
	bool keyed;               /* RC4 streams set up (S and SKEY known) */

	/* out: results of the exchange */
	uint8_t pub[BT_MSE_KEY_LEN];    /* our Y (not passive) */
	uint8_t peer_pub[BT_MSE_KEY_LEN]; /* their Y, once received */
	uint8_t secret[BT_MSE_KEY_LEN]; /* S */
	bool have_secret;
	uint8_t skey[20];         /* the info-hash */
	bool have_skey;
	int pad_len;              /* our PadA/PadB length */
	int peer_pad;             /* their PadA/PadB length found by sync, -1
				     (passive: see d[dir].pad) */
	uint32_t provide;         /* crypto_provide sent (A) / received (B) */
	uint32_t select;          /* crypto_select, 0 until known */
	uint32_t ia_len;          /* len(IA) received (B, passive), or sent */
	int peer_pad2;            /* their len(PadC)/len(PadD), -1 */

	/* out: the failure, sticky: every later call returns rc again */
	enum bt_mse_err err;
	int rc;                   /* the bt_result returned */
	const char *why;          /* static text naming the rule broken */
	enum bt_mse_dir err_dir;  /* direction whose bytes broke it */
	uint64_t err_off;         /* offset in that direction's stream */

	struct bt_mse_stream d[2]; /* [BT_MSE_A2B], [BT_MSE_B2A] */

	uint8_t out[BT_MSE_OUT_MAX]; /* bytes to send: [out_off, out_len) */
	size_t out_off, out_len;
};

/* Set up a role.  The initiator queues message 1 (Ya, PadA) at once.
 * Returns BT_OK, BT_EINVAL (bad cfg: missing skey/find_skey/secret, pad
 * or priv length out of range, IA too long) or BT_EUNSUPP (no RC4), with
 * m->err and m->why set.  Call bt_mse_free afterwards in every case. */
int bt_mse_init(struct bt_mse *m, const struct bt_mse_cfg *cfg);
void bt_mse_free(struct bt_mse *m);

/* Whether RC4 can be used (loads the providers on first call).  BT_OK or
 * BT_EUNSUPP with *why (may be NULL) set to a static explanation. */
int bt_mse_rc4_available(const char **why);

/* Active roles: feed bytes received from the peer.  Returns the number of
 * bytes consumed (>= 0) or a negative bt_result (m->err says why; sticky).
 * Until the handshake is complete every byte is consumed; the call that
 * completes it stops right after the handshake's last byte, and the rest
 * of the chunk (buf + ret, len - ret) is payload for bt_mse_decrypt.  Once
 * complete, bt_mse_done() is true and further feeds consume nothing.
 * After each call send what bt_mse_pending() holds.  Errors: BT_EINVAL
 * (PLAIN_HS, DH_KEY, NO_SYNC, SKEY, VC, SELECT), BT_ETOOBIG (PAD_LEN),
 * BT_EUNSUPP (NO_METHOD), BT_ENOSPC (LIB). */
long bt_mse_feed(struct bt_mse *m, const uint8_t *buf, size_t len);
/* Initiator: the handshake is complete when crypto_select and PadD have
 * been read; receiver: when len(IA) has been read (the IA is payload). */
bool bt_mse_done(const struct bt_mse *m);

/* Bytes queued to send (view valid until the next call on m) and how many
 * of them went out.  The initiator has message 1 ready after init. */
const uint8_t *bt_mse_pending(const struct bt_mse *m, size_t *len);
void bt_mse_sent(struct bt_mse *m, size_t n);

/* After bt_mse_done: transform our outgoing payload in place (RC4 if
 * selected, untouched for plaintext) / the peer's incoming payload (for
 * the receiver the first len(IA) bytes are RC4 whatever was selected).
 * BT_OK, or BT_EINVAL (BT_MSE_ERR_STATE) before the handshake is done,
 * BT_ENOSPC if OpenSSL fails.  Errors are not sticky here. */
int bt_mse_encrypt(struct bt_mse *m, uint8_t *buf, size_t len);
int bt_mse_decrypt(struct bt_mse *m, uint8_t *buf, size_t len);

/* Our role's shared secret S (BT_MSE_KEY_LEN bytes), NULL until known
 * (initiator: after Yb; receiver: after Ya; passive: always). */
const uint8_t *bt_mse_secret(const struct bt_mse *m);

/* ---- Passive decoder -------------------------------------------------- */

/* Role BT_MSE_PASSIVE with cfg.secret = S and cfg.skey (or find_skey):
 * feed each direction's recorded bytes in order, chunks of any size.
 * Returns bytes consumed or a negative bt_result, like bt_mse_feed, with
 * one more case: with only find_skey, B->A cannot find its VC until A->B
 * has named the info-hash, so it consumes nothing past Yb and returns
 * fewer than len bytes without being done (and without error); feed
 * A->B, then the rest of B->A again.  (In a capture fed in time order this
 * does not happen: B sends its VC only after A's message 3.)  Decrypt each
 * direction's payload with bt_mse_passive_decrypt; it returns how many
 * bytes it handled, fewer than len only for A->B bytes after the IA while
 * B->A's crypto_select is still unknown. */
long bt_mse_passive_feed(struct bt_mse *m, enum bt_mse_dir dir,
			 const uint8_t *buf, size_t len);
bool bt_mse_passive_done(const struct bt_mse *m, enum bt_mse_dir dir);
long bt_mse_passive_decrypt(struct bt_mse *m, enum bt_mse_dir dir,
			    uint8_t *buf, size_t len);

/* ---- Timeline steps ---------------------------------------------------- */

/* How MSE progress appears on a session's timeline (event.h).  conn.c
 * reports each step of a live connection as a BT_EV_NOTE event whose err
 * is the step (never 0: a tool's own notes have err 0), why the text for
 * people and declared_len the detail named here; dir IN for what the peer
 * did.  diag.c judges from these, so a decoder that decrypts a capture
 * (bt-decode --keylog) and reports the same steps gets the same verdicts. */
enum bt_mse_step {
	BT_MSE_STEP_SENT_Y = 1, /* out: our Y and pad queued (the handshake
				   event that follows is the IA); detail: pad */
	BT_MSE_STEP_GOT_Y,      /* in: the peer's Y; S known; detail: us since
				   our Y */
	BT_MSE_STEP_SELECTED,   /* in: handshake complete; detail: the method
				   (BT_MSE_CRYPTO_RC4 or _PLAIN) */
	BT_MSE_STEP_FAILED,     /* a rule broken, or we cannot do MSE; detail:
				   enum bt_mse_err */
	BT_MSE_STEP_TIMEOUT,    /* out: not complete in time; detail: us waited */
	BT_MSE_STEP_REFUSED,    /* in: the peer closed (detail 0) or reset
				   (detail: errno) the connection before
				   answering our handshake, MSE or plain; the
				   attempt is over and a redial follows */
	BT_MSE_STEP_FALLBACK,   /* out: giving up MSE: plain from here (a redial,
				   or the same connection if nothing was sent) */
	BT_MSE_STEP_PROBE,      /* out: redialling with MSE after the peer
				   refused our plain handshake */
};

/* "sent-y", "got-y", ...; "?" for an unknown value. */
const char *bt_mse_step_name(enum bt_mse_step s);

/* ---- Key log ---------------------------------------------------------- */

/* One line per MSE connection, appended by the live tools (--keylog FILE,
 * or the file named by $BTKIT_KEYLOGFILE, as SSLKEYLOGFILE for TLS):
 *
 *   mse <client ip:port> <server ip:port> <S: 192 hex> [<info-hash: 40 hex>]
 *
 * client = the initiator (A), server = the receiver (B); addresses as
 * "1.2.3.4:6881" or "[::1]:6881"; hex lowercase; single spaces; "\n".
 * The info-hash is optional (a receiver may fail before learning it) and
 * lets a decoder skip the lookup.  Lines starting with '#' are comments. */
#define BT_MSE_KEYLOG_ENV    "BTKIT_KEYLOGFILE"
#define BT_MSE_KEYLOG_TAG    "mse"
#define BT_MSE_KEYLOG_ADDR_MAX 64   /* longest address text accepted */
/* The longest line with its "\n" and a NUL: a big enough dst. */
#define BT_MSE_KEYLOG_LINE_MAX (4 + 2 * (BT_MSE_KEYLOG_ADDR_MAX + 1) + \
				2 * BT_MSE_KEY_LEN + 1 + 40 + 2)

/* Write a line (with "\n", NUL-terminated) into dst.  skey may be NULL.
 * Returns the line length, or BT_ENOSPC / BT_EINVAL (address empty, too
 * long or containing a space or control byte). */
int bt_mse_keylog_format(char *dst, size_t cap, const char *client,
			 const char *server, const uint8_t secret[BT_MSE_KEY_LEN],
			 const uint8_t *skey);

struct bt_mse_keylog {
	const char *client, *server;   /* views into the line, not NUL-ended */
	size_t client_len, server_len;
	uint8_t secret[BT_MSE_KEY_LEN];
	uint8_t skey[20];
	bool has_skey;
};
/* Parse one line (a trailing "\n" or "\r\n" is allowed).  BT_OK; BT_EUNSUPP
 * for a comment, a blank line or another tag (skip it); BT_EINVAL for a
 * malformed "mse" line, with *why (may be NULL) naming the problem. */
int bt_mse_keylog_parse(const char *line, size_t len, struct bt_mse_keylog *k,
			const char **why);

#endif
