/* url.h — tracker URLs (http, https, udp) and BEP 3 percent-encoding.
 *
 * A pure codec: no DNS, no sockets.  bt_url_parse splits a URL into views
 * of the caller's text (valid as long as that text); nothing is copied or
 * decoded.  It is strict on purpose, so a debugging tool can say exactly
 * what is wrong with a tracker URL taken from a .torrent:
 *   - the whole URL is printable ASCII: control bytes, DEL, spaces and bytes
 *     >= 0x80 are refused (a tracker URL has them percent-encoded);
 *   - scheme http, https or udp (any case); "host/announce" or "//host" is
 *     "missing scheme";
 *   - host: a name of A-Z a-z 0-9 - . _ ~ (at most 255 bytes), an IPv4
 *     dotted quad, or an IPv6 literal in brackets ("[::1]", no zone id);
 *   - port: 1..65535 in decimal; "host:" (empty port) is refused; defaults
 *     http 80, https 443; udp has no default and needs one;
 *   - every '%' in path, query and fragment starts a %XX escape.
 * The input need not be NUL-terminated and is read only within len. */
#ifndef BT_URL_H
#define BT_URL_H

#include "bt.h"
#include "rd.h"

#define BT_URL_MAX_LEN  4096 /* longer URLs are refused (BT_ETOOBIG) */
#define BT_URL_MAX_HOST 255  /* DNS name limit (RFC 1034) */

enum bt_url_scheme {
	BT_URL_HTTP = 1,
	BT_URL_HTTPS,
	BT_URL_UDP,
};

struct bt_url {
	uint8_t scheme;          /* enum bt_url_scheme */
	uint8_t host_family;     /* 4 or 6: host is an IP literal (in ip); 0: a name */
	uint8_t ip[16];          /* host_family 4: ip[0..3]; 6: all 16 */
	bool port_given;         /* an explicit ":port" was present */
	uint16_t port;           /* explicit, else the scheme default */
	bool has_query;          /* a '?' was present (query may still be empty) */
	bool has_fragment;       /* a '#' was present */
	/* Views into the input; len 0 (and p pointing at where it would be)
	 * when absent.  host excludes IPv6 brackets.  path runs from the
	 * first '/' after the authority up to '?', '#' or the end, and may be
	 * empty ("udp://t:6969").  query excludes the '?', fragment the '#'.
	 * target is path plus "?query": the bytes an HTTP request line or a
	 * BEP 41 URLData option carries. */
	const char *userinfo;  size_t userinfo_len; /* before '@', rarely used */
	const char *host;      size_t host_len;
	const char *path;      size_t path_len;
	const char *query;     size_t query_len;
	const char *fragment;  size_t fragment_len;
	const char *target;    size_t target_len;
};

struct bt_url_err {
	int code;                /* BT_OK or a negative enum bt_result */
	size_t off;              /* byte offset of the problem in the input */
	const char *rule;        /* static text naming the rule broken */
};

/* Parse s[0..len).  BT_OK; BT_EINVAL (malformed), BT_EUNSUPP (a scheme
 * other than http/https/udp), BT_ETOOBIG (len > BT_URL_MAX_LEN or host
 * too long).  err may be NULL.  On error *u is unspecified. */
int bt_url_parse(struct bt_url *u, const char *s, size_t len, struct bt_url_err *err);

/* Default port of a scheme (80, 443), 0 for udp (none). */
uint16_t bt_url_default_port(int scheme);
const char *bt_url_scheme_name(int scheme); /* "http", "https", "udp", "?" */

/* If s[0..n) is an IPv4 dotted quad or IPv6 text, store the address in ip
 * (4 or 16 bytes) and return 4 or 6; otherwise (a host name, a zone id,
 * anything else) return 0.  Binary-safe: an embedded NUL gives 0. */
int bt_url_ip_literal(const void *s, size_t n, uint8_t ip[16]);

/* BEP 3 percent-encoding of binary data: 0-9 A-Z a-z . - _ ~ are kept,
 * every other byte becomes %XX with uppercase hex.  Appends to w (check
 * bt_wr_ok; on overflow w->len counts what was needed). */
void bt_url_encode(struct bt_wr *w, const void *p, size_t n);
size_t bt_url_encoded_len(const void *p, size_t n);

/* Decode %XX escapes (either hex case) in s[0..n) into dst; '+' is kept as
 * '+' (it is form encoding, not URL encoding).  dst may equal s: decoding
 * never grows.  Returns the decoded length, or BT_EINVAL at a '%' not
 * followed by two hex digits ("bad percent-escape"), or BT_ENOSPC when
 * cap is too small (n always suffices).  err may be NULL. */
long bt_url_decode(const char *s, size_t n, uint8_t *dst, size_t cap,
		   struct bt_url_err *err);

#endif
