/* bencode.h — zero-copy bencode decoder to a token array, and an encoder.
 *
 * The decoder never copies: each token records the byte span of its value
 * in the caller's buffer, so the exact bytes of the `info` dictionary can
 * be hashed.  Tokens are stored in document order (a container precedes its
 * children); `skip` is the size of a token's subtree, so the next sibling
 * of token i is token i + toks[i].skip.  Views stay valid as long as the
 * caller's buffer and token array.
 *
 * Strict by default (BEP 3): no leading zeros, no "-0", no empty integer,
 * dictionary keys are strings, sorted as raw bytes and unique, nesting at
 * most max_depth, and the value ends exactly at the end of the input.
 * BT_BE_LENIENT tolerates unsorted/duplicate keys and leading zeros and
 * reports what it tolerated in err->tolerated (a BT_BE_TOL_* mask). */
#ifndef BT_BENCODE_H
#define BT_BENCODE_H

#include "bt.h"
#include "rd.h"

enum bt_be_type {
	BT_BE_INT = 1,
	BT_BE_STR,
	BT_BE_LIST,
	BT_BE_DICT,
};

struct bt_be_tok {
	uint8_t type;    /* enum bt_be_type */
	uint32_t off;    /* first byte of the encoded value in the buffer */
	uint32_t len;    /* length of the whole encoded value */
	uint32_t skip;   /* tokens in this subtree, itself included (>= 1) */
	uint32_t n;      /* STR: payload length; LIST: items; DICT: pairs */
};

/* Decoder flags. */
#define BT_BE_LENIENT        0x1u /* tolerate and report, see BT_BE_TOL_* */
#define BT_BE_ALLOW_TRAILING 0x2u /* stop after one value; rest is not an error */

/* Tolerated deviations, reported in bt_be_err.tolerated. */
#define BT_BE_TOL_UNSORTED   0x1u
#define BT_BE_TOL_DUPKEY     0x2u
#define BT_BE_TOL_LEADZERO   0x4u /* in an integer or a string length */
#define BT_BE_TOL_NEGZERO    0x8u

#define BT_BE_DEFAULT_DEPTH  64

struct bt_be_opts {
	unsigned flags;
	unsigned max_depth;      /* 0 means BT_BE_DEFAULT_DEPTH */
};

struct bt_be_err {
	int code;                /* BT_OK or a negative enum bt_result */
	size_t off;              /* byte offset where the rule was broken */
	const char *rule;        /* static text, e.g. "leading zero in integer" */
	unsigned tolerated;      /* BT_BE_TOL_* seen (lenient mode) */
};

struct bt_be_doc {
	const uint8_t *buf;
	size_t len;
	struct bt_be_tok *toks;
	size_t ntoks;
};

/* Tokens enough for any len-byte input decoded with max_depth <= 64: a
 * whole value needs at most len / 2 (every value's own bytes are at least
 * two), and a truncated prefix at most len / 2 + (open + 1) / 2, where the
 * open containers (one byte each) number at most max_depth.  With this
 * many tokens a decode never returns BT_ENOSPC. */
static inline size_t bt_be_max_tokens(size_t len)
{
	return len / 2 + BT_BE_DEFAULT_DEPTH / 2 + 2;
}

/* Decode one value from buf.  Returns bytes consumed (> 0), BT_NEED_MORE
 * if buf is a proper prefix of a value, or a negative error; err (may be
 * NULL) gets the offset and the rule.  opts may be NULL (strict, depth 64).
 * BT_ENOSPC when cap tokens are not enough.  Inputs over 4 GiB are refused
 * with BT_ETOOBIG. */
long bt_be_decode(struct bt_be_doc *doc, const void *buf, size_t len,
		  struct bt_be_tok *toks, size_t cap,
		  const struct bt_be_opts *opts, struct bt_be_err *err);

/* Accessors.  `i` is a token index; every function checks the type and
 * returns false / -1 on mismatch. */
bool bt_be_str(const struct bt_be_doc *d, size_t i, const uint8_t **p, size_t *len);
bool bt_be_int(const struct bt_be_doc *d, size_t i, int64_t *v);
/* Raw encoded bytes of any value (what gets hashed for the info dict). */
void bt_be_raw(const struct bt_be_doc *d, size_t i, const uint8_t **p, size_t *len);
/* Value token of key in dict i, or -1. Key compared as raw bytes. */
long bt_be_dict_get(const struct bt_be_doc *d, size_t i, const char *key);
long bt_be_dict_getn(const struct bt_be_doc *d, size_t i, const void *key, size_t klen);
/* Iteration: first child of container i (a list item, or a dict key whose
 * value is the next token), or -1 when empty; next sibling of j. */
long bt_be_first(const struct bt_be_doc *d, size_t i);
static inline size_t bt_be_next(const struct bt_be_doc *d, size_t j)
{
	return j + d->toks[j].skip;
}
/* Typed lookups for the common case: key present with the right type. */
bool bt_be_dict_str(const struct bt_be_doc *d, size_t i, const char *key,
		    const uint8_t **p, size_t *len);
bool bt_be_dict_int(const struct bt_be_doc *d, size_t i, const char *key, int64_t *v);

/* Encoder onto a bt_wr.  The caller emits dict keys in sorted order. */
void bt_be_put_int(struct bt_wr *w, int64_t v);
void bt_be_put_str(struct bt_wr *w, const void *p, size_t len);
void bt_be_put_cstr(struct bt_wr *w, const char *s);
void bt_be_put_list(struct bt_wr *w);  /* 'l' */
void bt_be_put_dict(struct bt_wr *w);  /* 'd' */
void bt_be_put_end(struct bt_wr *w);   /* 'e' */

#endif
