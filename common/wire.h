/* wire.h — the peer wire protocol: handshake, messages, stream framer.
 *
 * BEP 3 (handshake, ids 0-8), BEP 5 (port, 9), BEP 6 (fast: 13-17),
 * BEP 10 (extended, 20: framing only; payloads are ext.h's), BEP 52 (hash
 * request/hashes/hash reject, 21-23).  All integers are big-endian.
 *
 * Handshake (68 bytes when correct):
 *   <pstrlen=19><"BitTorrent protocol"><reserved 8><info_hash 20><peer_id 20>
 * Message: <len u32><id u8><payload len-1 bytes>; len 0 is a keep-alive.
 *
 * Views (const uint8_t * + length) point into the caller's buffer and live
 * as long as it; the framer's views live until the next bt_framer_feed. */
#ifndef BT_WIRE_H
#define BT_WIRE_H

#include "bt.h"
#include "rd.h"

#define BT_PSTR        "BitTorrent protocol"
#define BT_PSTR_LEN    19
#define BT_HS_LEN      68          /* 1 + 19 + 8 + 20 + 20 */
#define BT_HS_MAX_LEN  (1 + 255 + 48) /* any pstrlen: 1 + pstrlen + 48 */
#define BT_BLOCK_LEN   16384u      /* request size all clients accept (BEP 3);
				      larger requests get the peer dropped */

/* ---- Handshake ---------------------------------------------------------- */

#define BT_HS_BAD_PSTRLEN 0x1u /* pstrlen != 19 */
#define BT_HS_BAD_PSTR    0x2u /* protocol string is not exactly BT_PSTR */
#define BT_HS_PSTR_CASE   0x4u /* ...but equals it ignoring ASCII case */

struct bt_handshake {
	const uint8_t *pstr;     /* view of the protocol string (NULL on error) */
	size_t pstrlen;
	uint8_t reserved[8];
	uint8_t info_hash[20];
	uint8_t peer_id[20];
	unsigned problems;       /* BT_HS_* deviations; 0 for a correct one */
};

/* Writes the 68 correct bytes.  reserved may be NULL (all zero). */
void bt_handshake_encode(uint8_t out[BT_HS_LEN], const uint8_t reserved[8],
			 const uint8_t info_hash[20], const uint8_t peer_id[20]);

/* Returns bytes consumed (1 + pstrlen + 48) and fills hs, BT_NEED_MORE, or
 * BT_EINVAL.  Any pstrlen 1..255 is parsed and its deviations reported in
 * hs->problems, so a diagnosis can name them; the caller decides whether
 * they are fatal.  pstrlen 0 is BT_EINVAL at once (problems = BAD_PSTRLEN |
 * BAD_PSTR): an empty string names no protocol, and a 0 first byte almost
 * always starts the length prefix of a message sent without a handshake;
 * waiting for 48 more bytes could stall on a peer that never sends them. */
long bt_handshake_parse(const uint8_t *buf, size_t len, struct bt_handshake *hs);

/* Reserved bits, numbered from the right as BEP 10 does: bit n is
 * reserved[7 - n / 8] & (1 << n % 8). */
#define BT_RSV_DHT        0  /* BEP 5:  reserved[7] & 0x01 */
#define BT_RSV_FAST       2  /* BEP 6:  reserved[7] & 0x04 */
#define BT_RSV_V2         4  /* BEP 52: reserved[7] & 0x10, v2 upgrade */
#define BT_RSV_EXTENSION 20  /* BEP 10: reserved[5] & 0x10 */

struct bt_wire_name {
	int value;               /* message id, or reserved bit number */
	const char *name;
};
/* Name tables, terminated by an entry with name NULL. */
extern const struct bt_wire_name bt_reserved_names[];
extern const struct bt_wire_name bt_msg_names[];

static inline bool bt_reserved_has(const uint8_t r[8], unsigned bit)
{
	return bit < 64 && (r[7 - bit / 8] >> (bit % 8) & 1);
}
static inline void bt_reserved_set(uint8_t r[8], unsigned bit)
{
	if (bit < 64)
		r[7 - bit / 8] |= (uint8_t)(1u << (bit % 8));
}
/* Name of a bit, NULL if it has none. */
const char *bt_reserved_name(unsigned bit);
/* Lowest set bit >= from, or -1.  Iterate:
 * for (b = bt_reserved_next(r, 0); b >= 0; b = bt_reserved_next(r, b + 1)) */
int bt_reserved_next(const uint8_t r[8], int from);
/* Set bits without a name (bit n of the result = bit n); 0 if none. */
uint64_t bt_reserved_unknown(const uint8_t r[8]);
/* "extension,fast,dht,bit 44" (descending bit order) or "none" into dst;
 * always NUL-terminated, truncated if cap is short.  Returns dst. */
char *bt_reserved_str(const uint8_t r[8], char *dst, size_t cap);

/* ---- Messages ----------------------------------------------------------- */

enum bt_msg_kind {
	BT_MSG_UNKNOWN = -2, BT_MSG_KEEPALIVE = -1,
	BT_MSG_CHOKE = 0, BT_MSG_UNCHOKE = 1, BT_MSG_INTERESTED = 2,
	BT_MSG_NOT_INTERESTED = 3, BT_MSG_HAVE = 4, BT_MSG_BITFIELD = 5,
	BT_MSG_REQUEST = 6, BT_MSG_PIECE = 7, BT_MSG_CANCEL = 8,
	BT_MSG_PORT = 9, BT_MSG_SUGGEST = 13, BT_MSG_HAVE_ALL = 14,
	BT_MSG_HAVE_NONE = 15, BT_MSG_REJECT = 16, BT_MSG_ALLOWED_FAST = 17,
	BT_MSG_EXTENDED = 20, BT_MSG_HASH_REQUEST = 21, BT_MSG_HASHES = 22,
	BT_MSG_HASH_REJECT = 23,
};

/* "choke", ..., "keep-alive" for -1; "unknown" (never NULL) otherwise. */
const char *bt_msg_name(int id);

struct bt_hash_req {             /* BEP 52: payload of 21, 23; head of 22 */
	uint8_t pieces_root[32];
	uint32_t base_layer, index, length, proof_layers;
};

struct bt_msg {
	uint32_t len;            /* the length prefix (id + payload bytes) */
	int id;                  /* the id byte; -1 for a keep-alive */
	enum bt_msg_kind kind;   /* == id if known; BT_MSG_UNKNOWN, KEEPALIVE */
	const uint8_t *payload;  /* view: the bytes after the id */
	size_t payload_len;
	const char *bad;         /* BT_EINVAL: static rule, else NULL */
	size_t expect;           /* BT_EINVAL: the payload size wanted (the
				    minimum where the size may vary) */
	union {                  /* decoded fields, by kind, when BT_OK */
		uint32_t index;  /* have, suggest, allowed fast */
		struct { uint32_t index, begin, length; } req; /* request,
							  cancel, reject */
		struct { uint32_t index, begin; const uint8_t *data;
			 size_t len; } piece;
		struct { const uint8_t *bits; size_t len; } bitfield;
		uint16_t port;
		struct { uint8_t id; const uint8_t *payload;
			 size_t len; } ext;   /* payload after the ext id */
		struct bt_hash_req hash;      /* hash request, hash reject */
		struct { struct bt_hash_req req; const uint8_t *hashes;
			 size_t len; } hashes; /* len is a multiple of 32 */
	} u;
};

/* Parse one whole framed message (prefix included).  BT_OK (unknown ids
 * too: kind BT_MSG_UNKNOWN, payload set), BT_NEED_MORE if len < 4 +
 * prefix, BT_EINVAL if bytes follow the message, or if the payload size
 * is wrong for the id (id, kind, payload, bad and expect still set, so a
 * printer can say "malformed have (3 bytes, expected 4)").  An empty
 * bitfield is malformed: every torrent has at least one piece. */
int bt_msg_parse(const uint8_t *msg, size_t len, struct bt_msg *m);

/* Encoders append one framed message to w.  They return BT_OK, BT_ENOSPC
 * if w is full (w->len is then the size needed, see rd.h), or BT_ETOOBIG
 * if the payload cannot fit a 32-bit length prefix (nothing written). */
int bt_msg_put_keepalive(struct bt_wr *w);
/* Just <1><id>: choke, unchoke, interested, not interested, have all,
 * have none.  Any id is written as asked (hostile-peer tests). */
int bt_msg_put_simple(struct bt_wr *w, uint8_t id);
/* <5><id><index>: have, suggest, allowed fast. */
int bt_msg_put_index(struct bt_wr *w, uint8_t id, uint32_t index);
int bt_msg_put_have(struct bt_wr *w, uint32_t index);
int bt_msg_put_bitfield(struct bt_wr *w, const uint8_t *bits, size_t n);
/* <13><id><index><begin><length>: request, cancel, reject. */
int bt_msg_put_block(struct bt_wr *w, uint8_t id, uint32_t index,
		     uint32_t begin, uint32_t length);
int bt_msg_put_request(struct bt_wr *w, uint32_t index, uint32_t begin,
		       uint32_t length);
int bt_msg_put_cancel(struct bt_wr *w, uint32_t index, uint32_t begin,
		      uint32_t length);
int bt_msg_put_reject(struct bt_wr *w, uint32_t index, uint32_t begin,
		      uint32_t length);
int bt_msg_put_piece(struct bt_wr *w, uint32_t index, uint32_t begin,
		     const uint8_t *data, size_t n);
int bt_msg_put_port(struct bt_wr *w, uint16_t port);
int bt_msg_put_extended(struct bt_wr *w, uint8_t ext_id,
			const uint8_t *payload, size_t n);
/* id: BT_MSG_HASH_REQUEST or BT_MSG_HASH_REJECT (same payload). */
int bt_msg_put_hash_req(struct bt_wr *w, uint8_t id,
			const struct bt_hash_req *h);
/* hashes: n bytes, n a multiple of 32 (not checked: hostile tests). */
int bt_msg_put_hashes(struct bt_wr *w, const struct bt_hash_req *h,
		      const uint8_t *hashes, size_t n);

/* ---- Framer ------------------------------------------------------------- */

/* Default cap on a length prefix: a piece message carrying a 128 KiB block
 * (the largest block any known client sends; 16 KiB is standard), which
 * also fits a bitfield of a million pieces.  The BEP-legal maximum (4 GiB)
 * would let a peer make us buffer 4 GiB. */
#define BT_FRAMER_DEFAULT_MAX (128u * 1024 + 9)
/* Bytes of buffer a framer needs for a cap of max (and a handshake). */
#define BT_FRAMER_BUF_LEN(max) \
	((size_t)(max) + 4 > BT_HS_MAX_LEN ? (size_t)(max) + 4 : BT_HS_MAX_LEN)

enum bt_frame_kind { BT_FRAME_NONE, BT_FRAME_HANDSHAKE, BT_FRAME_MSG };

struct bt_frame {
	enum bt_frame_kind kind;
	const uint8_t *p;        /* the whole frame (message: prefix included):
				    into the fed data (as long as it lives) or
				    into buf (until the next feed) */
	size_t len;
	uint64_t offset;         /* stream offset of the frame's first byte
				    (also of the offending frame on error) */
	uint32_t declared_len;   /* MSG and BT_ETOOBIG: the length prefix */
	struct bt_handshake hs;  /* HANDSHAKE: parsed (views into p) */
	const char *why;         /* on error: static rule broken */
};

/* One per direction of a connection; caller-owned, valid after init. */
struct bt_framer {
	uint8_t *buf;            /* caller's, for frames split across feeds */
	size_t cap;
	uint32_t max_len;        /* cap on a length prefix */
	int state;               /* internal */
	size_t have, need;       /* bytes buffered / frame size (0: unknown) */
	uint64_t offset;         /* bytes consumed from the stream so far */
	int err;                 /* sticky error, BT_OK if none */
	uint32_t err_declared;
	uint64_t err_offset;
	const char *err_why;
};

/* max_len 0 means BT_FRAMER_DEFAULT_MAX.  handshake: the stream starts
 * with a handshake.  BT_ENOSPC (framer left in error) if cap < max_len + 4,
 * or < BT_HS_MAX_LEN with a handshake; BT_FRAMER_BUF_LEN(max_len) is
 * always enough.  The framer borrows buf until it is discarded. */
int bt_framer_init(struct bt_framer *f, uint8_t *buf, size_t cap,
		   uint32_t max_len, bool handshake);

/* Consume bytes until one frame completes or data runs out.  Returns the
 * bytes of data consumed (>= 0) with out->kind NONE (all consumed, need
 * more), HANDSHAKE or MSG; call again with the rest.  A frame already
 * whole in data is returned in place (zero-copy); else it is assembled in
 * buf.  Errors: BT_ETOOBIG (prefix > max_len; out->declared_len),
 * BT_EINVAL (handshake pstrlen 0).  Errors are sticky: every later call
 * returns the same code and out fields, consuming nothing. */
long bt_framer_feed(struct bt_framer *f, const uint8_t *data, size_t len,
		    struct bt_frame *out);

/* Bytes of an unfinished frame buffered so far; *need (may be NULL) gets
 * its total size, or 0 if its header is not complete yet.  For "the peer
 * went silent 62 bytes into a 68-byte handshake". */
size_t bt_framer_partial(const struct bt_framer *f, size_t *need);

#endif
