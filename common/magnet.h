/* magnet.h — magnet URIs (BEP 9, BEP 53): parse and produce.
 *
 * Parsing percent-decodes each value into a caller scratch buffer (at
 * least as long as the URI: decoding never grows), and the struct holds
 * views into it, valid while the scratch buffer lives.  Recognised
 * parameters: xt (urn:btih: 40 hex or 32 base32; urn:btmh:1220 + 64 hex),
 * also as xt.1, xt.2...; dn; tr, ws, x.pe (repeatable); so (BEP 53 index
 * ranges).  Others are counted in `ignored`.  Only dn decodes '+' as a
 * space; in URLs '+' stays literal.  Every count has a cap: exceeding one
 * is BT_ETOOBIG, never a silent drop.
 *
 * Producing writes RFC 3986 percent-encoding (everything but A-Z a-z 0-9
 * - . _ ~ is %XX, uppercase hex) and lowercase hex hashes. */
#ifndef BT_MAGNET_H
#define BT_MAGNET_H

#include "bt.h"
#include "meta.h"

#define BT_MAGNET_MAX_LEN 65536  /* URI bytes */
#define BT_MAGNET_MAX_TR  256
#define BT_MAGNET_MAX_WS  64
#define BT_MAGNET_MAX_PE  64
#define BT_MAGNET_MAX_SO  256

struct bt_magnet_range {
	uint32_t first, last;    /* inclusive file indices */
};

struct bt_magnet {
	bool has_btih, has_btmh, has_dn;
	uint8_t btih[20];
	uint8_t btmh[32];        /* the SHA-256 digest, multihash prefix removed */
	struct bt_meta_str dn;
	struct bt_meta_str tr[BT_MAGNET_MAX_TR];
	size_t ntr;
	struct bt_meta_str ws[BT_MAGNET_MAX_WS];
	size_t nws;
	struct bt_meta_str pe[BT_MAGNET_MAX_PE];
	size_t npe;
	struct bt_magnet_range so[BT_MAGNET_MAX_SO];
	size_t nso;
	size_t ignored;          /* unknown parameters */
};

struct bt_magnet_err {
	int code;                /* BT_OK or a negative enum bt_result */
	size_t off;              /* byte offset in the URI */
	const char *rule;
};

/* Parse uri[0..len) (need not be NUL-terminated).  scratch must hold at
 * least len bytes (BT_ENOSPC otherwise).  BT_OK, or BT_EINVAL / BT_ETOOBIG
 * / BT_EUNSUPP (a btmh that is not sha2-256) with err filled. */
int bt_magnet_parse(struct bt_magnet *mg, const char *uri, size_t len,
		    uint8_t *scratch, size_t scap, struct bt_magnet_err *err);

/* Write mg as a URI into dst (NUL-terminated when cap > 0).  Returns the
 * length needed without the NUL, like snprintf: >= cap means truncated.
 * Order: xt btih, xt btmh, dn, tr..., ws..., x.pe..., so. */
size_t bt_magnet_write(const struct bt_magnet *mg, char *dst, size_t cap);

/* The magnet for a parsed torrent: btih (v1, hybrid), btmh (v2, hybrid),
 * dn = name, every tracker in tier order, url-list as ws.  Same return
 * convention as bt_magnet_write. */
size_t bt_magnet_from_meta(const struct bt_meta *m, char *dst, size_t cap);

#endif
