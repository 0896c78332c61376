/* meta.h — .torrent metainfo: BEP 3 (v1), BEP 52 (v2 and hybrid), BEP 12
 * (announce-list), BEP 19 (url-list), BEP 27 (private), BEP 47 (pad files).
 *
 * bt_meta_parse decodes a whole .torrent held in a caller buffer and checks
 * it: every string is a view into that buffer (never copied, never
 * NUL-terminated).  Views stay valid while the buffer lives and until
 * bt_meta_free.  Memory: the parse allocates the bencode token array
 * (unless opts supplies one), the file, directory, tracker and url-list
 * arrays, all sized from tokens actually decoded, never from a count the
 * file declares; bt_meta_free releases them.  Worst case for a 64 MiB
 * torrent is about 20 bytes per bencode token (BT_META_MAX_TOKENS).
 *
 * Bencode is decoded strictly first; if that fails on something lenient
 * mode tolerates (unsorted or duplicate keys, leading zeros, "-0",
 * trailing bytes) it is decoded again leniently and m->tolerated says what
 * was let through.  BT_META_STRICT turns every tolerance into an error.
 * The info-hashes are always of the exact info bytes as found in the file.
 *
 * File paths: components are raw bytes (UTF-8 by convention, not
 * checked); a component that is empty, "." or "..", or contains '/' or
 * NUL, is an error, so a validated path is always relative and stays
 * below the directory it is resolved in.  Print them with bt_out_bytes. */
#ifndef BT_META_H
#define BT_META_H

#include "bt.h"
#include "bencode.h"

#define BT_META_MAX_BYTES        (64u << 20) /* .torrent size */
#define BT_META_MAX_TOKENS       (8u << 20)  /* bencode tokens (160 MiB) */
#define BT_META_MAX_FILES        (1u << 20)  /* files incl. pad files */
#define BT_META_MAX_PATH_DEPTH   128         /* components in one path */
#define BT_META_MAX_URLS         65536       /* trackers; url-list entries */
#define BT_META_MIN_PIECE_LENGTH 16384u      /* BEP 52; v1 merely tolerated below */
#define BT_META_MAX_PIECE_LENGTH (1u << 30)
#define BT_META_MAX_PIECES       0x7fffffffu /* libtorrent's int piece index */
#define BT_META_MAX_TOTAL        ((uint64_t)1 << 60)
#define BT_META_BLOCK            16384u      /* v2 merkle leaf size */

enum bt_meta_version {
	BT_META_V1 = 1,
	BT_META_V2 = 2,
	BT_META_HYBRID = 3,      /* v1 and v2 describing the same data */
};

/* bt_meta_opts.flags */
#define BT_META_STRICT    0x1u /* no lenient bencode, no tolerances */
#define BT_META_INFO_ONLY 0x2u /* buf is a bare info dict (BEP 9 metadata):
				  no trackers, piece layers not required */

/* Tolerated deviations (m->tolerated, err->tolerated): the BT_BE_TOL_*
 * bits of bencode.h plus these. */
#define BT_META_TOL_TRAILING    0x100u /* bytes after the top-level dict */
#define BT_META_TOL_TRACKERS    0x200u /* malformed announce/announce-list entries skipped */
#define BT_META_TOL_URL_LIST    0x400u /* malformed url-list entries skipped */
#define BT_META_TOL_PIECE_LEN   0x800u /* v1 piece length not a power of two >= 16 KiB */
#define BT_META_TOL_TYPE        0x1000u /* optional field of the wrong type ignored */
#define BT_META_TOL_PRIVATE     0x2000u /* private is neither 0 nor 1 (treated as set) */
#define BT_META_TOL_EMPTY_DIR   0x4000u /* empty directory in the v2 file tree */

/* bt_meta_file.attr (BEP 47) */
#define BT_META_ATTR_PAD     0x1u /* 'p': zeros, not stored on disk */
#define BT_META_ATTR_EXEC    0x2u /* 'x' */
#define BT_META_ATTR_HIDDEN  0x4u /* 'h' */
#define BT_META_ATTR_SYMLINK 0x8u /* 'l' */

struct bt_meta_str {
	const uint8_t *p;
	size_t len;
};

/* One file, in torrent order.  v1 and hybrid: the v1 `files` list (or the
 * single file), pad files included.  v2: the file tree walked in key order;
 * each non-empty file starts on a piece boundary (no pad entries). */
struct bt_meta_file {
	uint64_t size;
	uint64_t offset;         /* first byte in the piece space */
	uint32_t first_piece;    /* piece holding the first byte */
	uint32_t npieces;        /* pieces holding any of its bytes; 0 if empty */
	uint32_t attr;           /* BT_META_ATTR_* */
	const uint8_t *pieces_root; /* 32 bytes, v2/hybrid non-empty files, else NULL */
	const uint8_t *layer;    /* piece layer, npieces * 32 bytes, when the file
				    is larger than a piece and layers were given */
	/* Private to meta.c: read paths with bt_meta_path(). */
	uint32_t path_tok, parent;
	uint8_t kind;
};

struct bt_meta_tracker {
	struct bt_meta_str url;
	uint32_t tier;           /* 0-based, dense */
};

struct bt_meta {
	int version;                  /* enum bt_meta_version */
	struct bt_meta_str name;
	bool multi;                   /* files live in a directory called name */
	uint64_t piece_length;
	uint32_t piece_count;         /* equals libtorrent's num_pieces */
	uint64_t last_piece_size;
	uint64_t total_size;          /* sum of the sizes of non-pad files */
	uint64_t space_size;          /* bytes in the piece space: v1 with pad
					 files; v2 with alignment gaps */
	bool is_private;
	uint8_t info_hash_v1[20];     /* SHA-1 of the info bytes (v1, hybrid) */
	uint8_t info_hash_v2[32];     /* SHA-256 of the info bytes (v2, hybrid) */
	struct bt_meta_str info;      /* exact bytes of the info dict */
	struct bt_meta_str pieces;    /* v1 hashes, 20 * piece_count bytes */

	struct bt_meta_file *files;
	size_t nfiles;
	size_t npad;                  /* pad files among them */

	struct bt_meta_tracker *trackers; /* tier order: announce-list, or a
					     lone announce as tier 0 */
	size_t ntrackers;
	uint32_t ntiers;
	struct bt_meta_str *url_list;
	size_t nurls;

	bool has_comment, has_created_by, has_creation_date;
	struct bt_meta_str comment, created_by;
	int64_t creation_date;        /* seconds since 1970, UTC */

	unsigned tolerated;           /* BT_BE_TOL_* | BT_META_TOL_* */

	/* Private to meta.c. */
	struct bt_be_doc doc;
	struct bt_be_tok *own_toks;
	uint32_t *dirs;               /* v2: pairs (key token, parent) */
};

struct bt_meta_opts {
	unsigned flags;               /* BT_META_* */
	struct bt_be_tok *toks;       /* caller's token array, or NULL to allocate */
	size_t ntoks;
	size_t max_files;             /* 0: BT_META_MAX_FILES */
};

struct bt_meta_err {
	int code;                     /* BT_OK or a negative enum bt_result */
	size_t off;                   /* byte offset in the buffer */
	const char *rule;             /* static text naming the rule broken */
	unsigned tolerated;           /* what lenient mode let through */
	bool has_numbers;             /* want/got below are meaningful */
	uint64_t want, got;
};

/* Parse and validate buf[0..len).  opts may be NULL.  On success BT_OK
 * and *m is filled (free it with bt_meta_free); otherwise a negative code,
 * err (may be NULL) says where and why, and *m holds nothing to free.
 * BT_ETOOBIG: a cap above; BT_EUNSUPP: meta version other than 2. */
int bt_meta_parse(struct bt_meta *m, const void *buf, size_t len,
		  const struct bt_meta_opts *opts, struct bt_meta_err *err);
void bt_meta_free(struct bt_meta *m);

/* Path of file f below the torrent directory (without name when multi),
 * root first: fills up to cap views, returns the number of components. */
size_t bt_meta_path(const struct bt_meta *m, size_t f,
		    struct bt_meta_str *out, size_t cap);
/* The same joined with '/' into dst, NUL-terminated; returns the length
 * needed without the NUL (like snprintf).  Components never hold '/' or
 * NUL, so the result is unambiguous; it is raw bytes, escape to print. */
size_t bt_meta_path_join(const struct bt_meta *m, size_t f, char *dst, size_t cap);

/* Bytes in piece i (0 if out of range).  v2: the piece's share of its file. */
uint64_t bt_meta_piece_size(const struct bt_meta *m, uint32_t piece);

const char *bt_meta_version_name(int version);  /* "v1", "v2", "hybrid" */
/* Name of the lowest tolerated bit in mask (e.g. "unsorted dictionary
 * keys"), or NULL when mask is 0.  Loop with mask &= mask - 1. */
const char *bt_meta_tol_name(unsigned mask);

/* --- BEP 52 merkle trees (SHA-256, 16 KiB leaves) ---
 * A streaming builder: push hashes of one layer left to right (base 0:
 * leaf hashes; base k: roots of 2^k-leaf subtrees, e.g. a piece layer),
 * then take the root of a tree `width` nodes wide (a power of two >= the
 * count pushed); missing nodes are the hashes of all-zero-leaf subtrees,
 * where a zero leaf is 32 zero bytes.  Fixed size, no allocation. */
struct bt_merkle {
	uint8_t node[64][32];   /* node[k]: pending subtree of 2^k pushed nodes */
	uint64_t n;             /* nodes pushed */
	unsigned base;
};

void bt_merkle_init(struct bt_merkle *mk, unsigned base_level);
int bt_merkle_push(struct bt_merkle *mk, const uint8_t h[32]);
/* BT_EINVAL if nothing was pushed or width is not a power of two >= n. */
int bt_merkle_root(const struct bt_merkle *mk, uint64_t width, uint8_t out[32]);
/* Root of a subtree of 2^level zero leaves. */
void bt_merkle_zero(unsigned level, uint8_t out[32]);
/* Smallest power of two >= n (1 for n == 0). */
uint64_t bt_merkle_width(uint64_t n);
/* SHA-256 of one leaf block (len <= 16 KiB; the last block may be short). */
void bt_merkle_leaf(const void *p, size_t len, uint8_t out[32]);
/* The `pieces root` of a file held in memory (len > 0). */
int bt_merkle_file_root(const void *p, size_t len, uint8_t out[32]);
/* Root from a piece layer: n piece hashes for pieces of piece_length. */
int bt_merkle_layer_root(const uint8_t *layer, size_t n, uint64_t piece_length,
			 uint8_t out[32]);

#endif
