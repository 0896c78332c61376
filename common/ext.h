/* ext.h — payloads of the BEP 10 extended message (id 20).
 *
 * wire.h frames the message and hands over the bytes after the extended
 * message id; these functions decode and encode those bytes:
 *
 *   id 0, the extended handshake (BEP 10)      bt_ext_hs_*
 *   ut_metadata (BEP 9)                        bt_utm_*
 *   ut_pex (BEP 11)                            bt_pex_*
 *
 * Parsers decode the bencoded dictionary leniently, so unsorted keys or
 * leading zeros are reported (a *_P_NONCANON bit), not refused, and
 * ignore keys they do not know.  What they do refuse (a negative BT_E*
 * result, with err->off and err->rule when err is not NULL):
 *   BT_ETOOBIG  payload over BT_EXT_MAX_PAYLOAD bytes, or a dictionary of
 *               more than BT_EXT_MAX_TOKENS bencoded values
 *   BT_EINVAL   not bencode, cut short, or not a dictionary; for
 *               ut_metadata also the rules of BEP 9 (see bt_utm_parse)
 *   BT_EDEPTH   nested deeper than BT_BE_DEFAULT_DEPTH
 * Everything else that is wrong but harmless (a field of the wrong type,
 * a port of 70000) leaves that field unset and sets a bit in `problems`.
 *
 * The tokens live on the parser's stack (BT_EXT_MAX_TOKENS of them, about
 * 20 KiB); results hold views into the caller's buffer and stay valid as
 * long as it does.  Encoders write the bencoded payload only (sorted keys)
 * and return BT_OK, or BT_ENOSPC when w overflowed (w->len is then the
 * size needed), or BT_EINVAL for arguments they cannot encode. */
#ifndef BT_EXT_H
#define BT_EXT_H

#include "bt.h"
#include "rd.h"
#include "bencode.h"
#include "addr.h"

#define BT_EXT_MAX_PAYLOAD  (64u * 1024) /* bytes after the extended id */
#define BT_EXT_MAX_TOKENS   1024         /* bencoded values per payload */
#define BT_EXT_MAX_M        32           /* m entries kept; more: P_M_CAP */
#define BT_EXT_MAX_METADATA (64u << 20)  /* larger metadata_size is flagged */

#define BT_EXT_ID_HANDSHAKE 0            /* the extended id of the handshake */

struct bt_ext_view {
	const uint8_t *p;         /* NULL when absent */
	size_t len;
};

/* ---- Extended handshake (BEP 10) ---------------------------------------- */

struct bt_ext_m {
	struct bt_ext_view name;  /* e.g. "ut_metadata", as sent */
	int64_t id;               /* as sent, when the value is an integer */
	bool valid;               /* an integer in 0..255; 0 means disabled */
};

/* bt_ext_hs.have: the key is present with the right type. */
#define BT_EXT_HAVE_M             0x0001u
#define BT_EXT_HAVE_V             0x0002u
#define BT_EXT_HAVE_P             0x0004u
#define BT_EXT_HAVE_REQQ          0x0008u
#define BT_EXT_HAVE_YOURIP        0x0010u
#define BT_EXT_HAVE_IPV4          0x0020u
#define BT_EXT_HAVE_IPV6          0x0040u
#define BT_EXT_HAVE_METADATA_SIZE 0x0080u
#define BT_EXT_HAVE_UPLOAD_ONLY   0x0100u
#define BT_EXT_HAVE_COMPLETE_AGO  0x0200u
#define BT_EXT_HAVE_E             0x0400u

/* bt_ext_hs.problems.  An integer of the right type but out of range
 * keeps its HAVE bit and its value, so it can be shown; a wrong type or
 * a wrong length clears the HAVE bit. */
#define BT_EXT_P_NONCANON       0x00001u /* unsorted/duplicate keys, leading 0 */
#define BT_EXT_P_TRAILING       0x00002u /* bytes after the dictionary */
#define BT_EXT_P_M_TYPE         0x00004u /* m is not a dictionary */
#define BT_EXT_P_M_ID           0x00008u /* an m value not an integer 0..255 */
#define BT_EXT_P_M_DUPID        0x00010u /* two names share a non-zero id */
#define BT_EXT_P_M_CAP          0x00020u /* over BT_EXT_MAX_M entries */
#define BT_EXT_P_V              0x00040u /* v is not a string */
#define BT_EXT_P_P              0x00080u /* p not an integer 1..65535 */
#define BT_EXT_P_REQQ           0x00100u /* reqq not an integer >= 1 */
#define BT_EXT_P_YOURIP         0x00200u /* yourip not a 4- or 16-byte string */
#define BT_EXT_P_IPV4           0x00400u /* ipv4 not a 4-byte string */
#define BT_EXT_P_IPV6           0x00800u /* ipv6 not a 16-byte string */
#define BT_EXT_P_METADATA_SIZE  0x01000u /* not 1..BT_EXT_MAX_METADATA */
#define BT_EXT_P_UPLOAD_ONLY    0x02000u /* not an integer 0 or 1 */
#define BT_EXT_P_COMPLETE_AGO   0x04000u /* not an integer >= -1 */
#define BT_EXT_P_E              0x08000u /* e not an integer 0 or 1 */

struct bt_ext_hs {
	unsigned have;            /* BT_EXT_HAVE_* */
	unsigned problems;        /* BT_EXT_P_* */
	struct bt_ext_m m[BT_EXT_MAX_M]; /* in the order sent */
	size_t nm;                /* entries stored in m[] */
	size_t m_total;           /* entries in the m dictionary */
	struct bt_ext_view v;     /* client name, UTF-8 by BEP 10; untrusted */
	int64_t p;                /* listen port */
	int64_t reqq;             /* outstanding requests the peer accepts */
	int64_t metadata_size;    /* BEP 9: bytes of the info dictionary */
	int64_t upload_only;      /* 1: the peer only uploads (a seed) */
	int64_t complete_ago;     /* minutes since the peer last saw a seed;
				     -1: never (libtorrent sends that) */
	int64_t e;                /* 1: prefers encryption (MSE) */
	struct bt_peer_addr yourip; /* how the peer sees us; port 0 */
	struct bt_peer_addr ipv4;   /* the peer's own addresses; port 0 */
	struct bt_peer_addr ipv6;
	size_t unknown;           /* top-level keys not listed above */
};

/* Parses the payload of extended message 0.  Returns BT_OK (h filled) or
 * a negative result (see above; h is then zeroed). */
int bt_ext_hs_parse(struct bt_ext_hs *h, const void *buf, size_t len,
		    struct bt_be_err *err);

/* The id the peer wants for extension `name` (e.g. "ut_pex"): 1..255, or
 * 0 when it is missing, disabled (0) or invalid.  Only stored entries
 * (the first BT_EXT_MAX_M) are searched. */
int bt_ext_hs_id(const struct bt_ext_hs *h, const char *name);

/* Our own handshake.  Fields that are 0 / NULL are left out. */
struct bt_ext_hs_out {
	uint8_t ut_metadata;      /* our id for ut_metadata messages */
	uint8_t ut_pex;           /* our id for ut_pex messages */
	uint16_t p;               /* our listen port */
	uint32_t reqq;
	uint32_t metadata_size;   /* only when we have the metadata */
	bool upload_only;
	const char *v;            /* client name, e.g. "btkit 0.1.0" */
	const struct bt_peer_addr *yourip; /* the address we see the peer at */
};

/* d[1:md[11:ut_metadatai.e][6:ut_pexi.e]e][13:metadata_sizei.e][1:pi.e]
 * [4:reqqi.e][11:upload_onlyi1e][1:v..:...][6:yourip..:...]e */
int bt_ext_hs_encode(struct bt_wr *w, const struct bt_ext_hs_out *o);

/* ---- ut_metadata (BEP 9) ----------------------------------------------- */

#define BT_UTM_REQUEST 0
#define BT_UTM_DATA    1
#define BT_UTM_REJECT  2
#define BT_UTM_BLOCK   16384  /* every metadata piece but the last */

#define BT_UTM_HAVE_TOTAL_SIZE 0x1u

#define BT_UTM_P_NONCANON      0x1u /* unsorted/duplicate keys, leading 0 */
#define BT_UTM_P_UNKNOWN_TYPE  0x2u /* msg_type not 0..2: ignore (BEP 9) */
#define BT_UTM_P_TRAILING      0x4u /* request/reject followed by bytes */
#define BT_UTM_P_HUGE          0x8u /* total_size over BT_EXT_MAX_METADATA */

struct bt_utm {
	int64_t msg_type;         /* BT_UTM_* or an unknown value */
	int64_t piece;            /* >= 0 */
	int64_t total_size;       /* when have & BT_UTM_HAVE_TOTAL_SIZE */
	unsigned have;
	unsigned problems;        /* BT_UTM_P_* */
	struct bt_ext_view data;  /* bytes after the dictionary (data: the
				     metadata piece); len 0 when none */
};

/* Parses a ut_metadata payload: a dictionary, then (data) raw bytes.
 * BT_EINVAL, with the rule in err, when msg_type or piece is missing or
 * not an integer, piece is negative, or for a data message: total_size
 * missing or < 1, piece past the last one, or a data length other than
 * 16384 (last piece: the rest of total_size).  On BT_EINVAL the fields
 * read so far stay set, so a printer can show them beside the rule. */
int bt_utm_parse(struct bt_utm *m, const void *buf, size_t len,
		 struct bt_be_err *err);

/* Number of pieces of a total_size, and the length of piece i (0 if i is
 * past the end or total_size is 0). */
uint64_t bt_utm_pieces(uint64_t total_size);
size_t bt_utm_piece_len(uint64_t total_size, uint64_t piece);

/* d8:msg_typei0e5:piecei<piece>ee, and msg_type 2 for a reject. */
int bt_utm_put_request(struct bt_wr *w, uint32_t piece);
int bt_utm_put_reject(struct bt_wr *w, uint32_t piece);
/* d8:msg_typei1e5:piecei<piece>e10:total_sizei<total>ee<data>.
 * BT_EINVAL when len is not bt_utm_piece_len(total_size, piece). */
int bt_utm_put_data(struct bt_wr *w, uint32_t piece, uint64_t total_size,
		    const void *data, size_t len);

/* ---- ut_pex (BEP 11) --------------------------------------------------- */

/* Per-peer flags (added.f, added6.f). */
#define BT_PEX_F_ENCRYPTION 0x01u /* prefers encryption ("e" in handshake) */
#define BT_PEX_F_SEED       0x02u /* seed / upload only */
#define BT_PEX_F_UTP        0x04u /* supports uTP */
#define BT_PEX_F_HOLEPUNCH  0x08u /* announced ut_holepunch */
#define BT_PEX_F_REACHABLE  0x10u /* outgoing connection: reachable */
#define BT_PEX_F_KNOWN      0x1fu

enum bt_pex_list {
	BT_PEX_ADDED,             /* "added",    6 bytes a peer, + "added.f" */
	BT_PEX_DROPPED,           /* "dropped",  6 bytes a peer */
	BT_PEX_ADDED6,            /* "added6",  18 bytes a peer, + "added6.f" */
	BT_PEX_DROPPED6,          /* "dropped6", 18 bytes a peer */
	BT_PEX_NLISTS
};

/* bt_pex.problems */
#define BT_PEX_P_NONCANON   0x001u /* unsorted/duplicate keys, leading 0 */
#define BT_PEX_P_TRAILING   0x002u /* bytes after the dictionary */
#define BT_PEX_P_TYPE       0x004u /* a known key whose value is not a string */
#define BT_PEX_P_EMPTY      0x008u /* none of added/added6/dropped/dropped6 */
#define BT_PEX_P_FLAGS_LEN  0x010u /* added.f length != added count */
#define BT_PEX_P_FLAGS6_LEN 0x020u /* added6.f length != added6 count */
#define BT_PEX_P_RESERVED   0x040u /* a flag byte with bits above 0x10 */
/* A list whose length is not a multiple of its entry size: the partial
 * entry at the end is ignored.  Bit BT_PEX_P_LEN(list). */
#define BT_PEX_P_LEN(l)     (0x100u << (l))

struct bt_pex {
	struct bt_ext_view list[BT_PEX_NLISTS]; /* compact bytes as sent */
	struct bt_ext_view flags[2];  /* [0] added.f, [1] added6.f */
	size_t count[BT_PEX_NLISTS];  /* whole entries in list[] */
	unsigned problems;            /* BT_PEX_P_* */
};

int bt_pex_parse(struct bt_pex *x, const void *buf, size_t len,
		 struct bt_be_err *err);

/* Entry i of a list into *a, with its flag byte from added.f/added6.f (0
 * where there is none, and always for dropped).  false when i is past
 * the end: iterate with for (i = 0; bt_pex_peer(x, l, i, &a); i++). */
bool bt_pex_peer(const struct bt_pex *x, enum bt_pex_list l, size_t i,
		 struct bt_peer_addr *a);
/* Up to cap entries of a list into out[]; returns how many. */
size_t bt_pex_peers(const struct bt_pex *x, enum bt_pex_list l,
		    struct bt_peer_addr *out, size_t cap);

/* "added", "dropped", "added6", "dropped6"; "?" otherwise. */
const char *bt_pex_list_name(enum bt_pex_list l);
/* Name of one flag bit ("encryption", "seed", "utp", "holepunch",
 * "reachable"), NULL for others. */
const char *bt_pex_flag_name(unsigned bit);
/* "seed,utp" (names in bit order, unknown bits as 0x20), "none" for 0.
 * Always NUL-terminated; truncated if cap is short.  Returns buf. */
char *bt_pex_flags_str(uint8_t flags, char *buf, size_t cap);

/* A ut_pex payload: added peers go to added/added.f or added6/added6.f by
 * family (flags from each peer), dropped ones to dropped/dropped6; empty
 * lists are left out.  BT_EINVAL if a family is neither 4 nor 6. */
int bt_pex_encode(struct bt_wr *w, const struct bt_peer_addr *added, size_t nadded,
		  const struct bt_peer_addr *dropped, size_t ndropped);

#endif
