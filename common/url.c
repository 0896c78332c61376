/* url.c — tracker URL parsing and percent-encoding; see url.h. */
#include "url.h"

#include <arpa/inet.h>
#include <string.h>

static int fail(struct bt_url_err *err, int code, size_t off, const char *rule)
{
	if (err) {
		err->code = code;
		err->off = off;
		err->rule = rule;
	}
	return code;
}

static bool is_alpha(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* BEP 3 / RFC 3986 unreserved set. */
static bool is_unreserved(uint8_t c)
{
	return is_alpha(c) || is_digit(c) || c == '.' || c == '-' ||
	       c == '_' || c == '~';
}

/* Case-insensitive compare of s[0..n) with a lowercase literal. */
static bool eq_nocase(const char *s, size_t n, const char *lit)
{
	size_t i;
	for (i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (lit[i] == '\0')
			return false;
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)lit[i])
			return false;
	}
	return lit[n] == '\0';
}

uint16_t bt_url_default_port(int scheme)
{
	switch (scheme) {
	case BT_URL_HTTP:  return 80;
	case BT_URL_HTTPS: return 443;
	}
	return 0;
}

const char *bt_url_scheme_name(int scheme)
{
	switch (scheme) {
	case BT_URL_HTTP:  return "http";
	case BT_URL_HTTPS: return "https";
	case BT_URL_UDP:   return "udp";
	}
	return "?";
}

int bt_url_ip_literal(const void *s, size_t n, uint8_t ip[16])
{
	/* inet_pton wants a C string: copy the (short) candidate first.  The
	 * longest IPv6 text is 45 bytes ("ffff:...:255.255.255.255"). */
	char tmp[48];
	const uint8_t *b = s;
	size_t i;

	if (n == 0 || n >= sizeof tmp)
		return 0;
	for (i = 0; i < n; i++) {
		if (b[i] == '\0')
			return 0;
		tmp[i] = (char)b[i];
	}
	tmp[n] = '\0';
	memset(ip, 0, 16);
	if (inet_pton(AF_INET, tmp, ip) == 1)
		return 4;
	if (inet_pton(AF_INET6, tmp, ip) == 1)
		return 6;
	memset(ip, 0, 16);
	return 0;
}

/* Check %XX escapes in s[from..to); return offset of a bad one or to. */
static size_t bad_escape(const char *s, size_t from, size_t to)
{
	size_t i;
	for (i = from; i < to; i++) {
		if (s[i] != '%')
			continue;
		if (to - i < 3 || hexval((uint8_t)s[i + 1]) < 0 ||
		    hexval((uint8_t)s[i + 2]) < 0)
			return i;
		i += 2;
	}
	return to;
}

static int parse_port(const char *s, size_t from, size_t to, uint16_t *port,
		      struct bt_url_err *err)
{
	uint32_t v = 0;
	size_t i;

	if (from == to)
		return fail(err, BT_EINVAL, from, "empty port after ':'");
	for (i = from; i < to; i++) {
		uint8_t c = (uint8_t)s[i];
		if (!is_digit(c))
			return fail(err, BT_EINVAL, i, "port is not a decimal number");
		v = v * 10 + (uint32_t)(c - '0');
		if (v > 65535)
			return fail(err, BT_EINVAL, from, "port out of range (1..65535)");
	}
	if (v == 0)
		return fail(err, BT_EINVAL, from, "port 0");
	*port = (uint16_t)v;
	return BT_OK;
}

int bt_url_parse(struct bt_url *u, const char *s, size_t len, struct bt_url_err *err)
{
	size_t i, sch_end, auth, auth_end, host_from, host_to, port_from = 0;
	bool have_port = false;
	int rc;

	memset(u, 0, sizeof *u);
	if (err) {
		err->code = BT_OK;
		err->off = 0;
		err->rule = NULL;
	}
	if (len > BT_URL_MAX_LEN)
		return fail(err, BT_ETOOBIG, BT_URL_MAX_LEN, "URL longer than 4096 bytes");
	if (len == 0)
		return fail(err, BT_EINVAL, 0, "empty URL");

	/* One pass over every byte first: nothing below needs to care. */
	for (i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c == ' ')
			return fail(err, BT_EINVAL, i, "space in URL");
		if (c < 0x20 || c == 0x7f)
			return fail(err, BT_EINVAL, i, "control character in URL");
		if (c >= 0x80)
			return fail(err, BT_EINVAL, i, "non-ASCII byte in URL (percent-encode it)");
	}

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) "://" */
	for (sch_end = 0; sch_end < len; sch_end++) {
		uint8_t c = (uint8_t)s[sch_end];
		if (!(is_alpha(c) || (sch_end > 0 && (is_digit(c) || c == '+' ||
						       c == '-' || c == '.'))))
			break;
	}
	if (sch_end == 0 || len - sch_end < 3 || s[sch_end] != ':' ||
	    s[sch_end + 1] != '/' || s[sch_end + 2] != '/')
		return fail(err, BT_EINVAL, 0, "missing scheme (expected http://, https:// or udp://)");
	if (eq_nocase(s, sch_end, "http"))
		u->scheme = BT_URL_HTTP;
	else if (eq_nocase(s, sch_end, "https"))
		u->scheme = BT_URL_HTTPS;
	else if (eq_nocase(s, sch_end, "udp"))
		u->scheme = BT_URL_UDP;
	else
		return fail(err, BT_EUNSUPP, 0, "unsupported scheme (not http, https or udp)");

	/* authority: up to '/', '?', '#' or the end. */
	auth = sch_end + 3;
	for (auth_end = auth; auth_end < len; auth_end++) {
		char c = s[auth_end];
		if (c == '/' || c == '?' || c == '#')
			break;
	}
	host_from = auth;
	for (i = auth_end; i > auth; i--) {
		if (s[i - 1] == '@') {
			u->userinfo = s + auth;
			u->userinfo_len = i - 1 - auth;
			host_from = i;
			break;
		}
	}
	if (!u->userinfo)
		u->userinfo = s + auth;

	if (host_from < auth_end && s[host_from] == '[') {
		size_t close;
		for (close = host_from + 1; close < auth_end; close++)
			if (s[close] == ']')
				break;
		if (close == auth_end)
			return fail(err, BT_EINVAL, host_from, "unterminated '[' in host");
		host_from++;
		host_to = close;
		if (host_to == host_from)
			return fail(err, BT_EINVAL, host_from, "missing host");
		if (bt_url_ip_literal(s + host_from, host_to - host_from, u->ip) != 6) {
			memset(u->ip, 0, sizeof u->ip);
			return fail(err, BT_EINVAL, host_from, "invalid IPv6 literal in brackets");
		}
		u->host_family = 6;
		i = close + 1;
		if (i < auth_end) {
			if (s[i] != ':')
				return fail(err, BT_EINVAL, i, "unexpected character after ']'");
			have_port = true;
			port_from = i + 1;
		}
	} else {
		for (i = host_from; i < auth_end; i++) {
			uint8_t c = (uint8_t)s[i];
			if (c == ':')
				break;
			if (!is_unreserved(c))
				return fail(err, BT_EINVAL, i, "invalid character in host");
		}
		host_to = i;
		if (i < auth_end) {
			have_port = true;
			port_from = i + 1;
		}
		if (host_to == host_from)
			return fail(err, BT_EINVAL, host_from, "missing host");
		if (host_to - host_from > BT_URL_MAX_HOST)
			return fail(err, BT_ETOOBIG, host_from, "host longer than 255 bytes");
		if (bt_url_ip_literal(s + host_from, host_to - host_from, u->ip) == 4)
			u->host_family = 4;
		else
			memset(u->ip, 0, sizeof u->ip);
	}
	u->host = s + host_from;
	u->host_len = host_to - host_from;

	if (have_port) {
		rc = parse_port(s, port_from, auth_end, &u->port, err);
		if (rc)
			return rc;
		u->port_given = true;
	} else if (u->scheme == BT_URL_UDP) {
		return fail(err, BT_EINVAL, auth_end, "udp URL needs a port");
	} else {
		u->port = bt_url_default_port(u->scheme);
	}

	/* path, query, fragment */
	i = auth_end;
	u->path = s + i;
	while (i < len && s[i] != '?' && s[i] != '#')
		i++;
	u->path_len = (size_t)(s + i - u->path);
	u->query = s + i;
	if (i < len && s[i] == '?') {
		u->has_query = true;
		u->query = s + i + 1;
		i++;
		while (i < len && s[i] != '#')
			i++;
		u->query_len = (size_t)(s + i - u->query);
	}
	u->fragment = s + i;
	if (i < len) { /* s[i] == '#' */
		u->has_fragment = true;
		u->fragment = s + i + 1;
		u->fragment_len = len - i - 1;
	}
	u->target = u->path;
	u->target_len = (size_t)(u->query + u->query_len - u->path);

	i = bad_escape(s, auth_end, len);
	if (i != len)
		return fail(err, BT_EINVAL, i, "bad percent-escape (want %XX, XX hex)");
	return BT_OK;
}

static const char hexdig[] = "0123456789ABCDEF";

void bt_url_encode(struct bt_wr *w, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (is_unreserved(b[i])) {
			bt_wr_u8(w, b[i]);
		} else {
			uint8_t e[3] = { '%', (uint8_t)hexdig[b[i] >> 4],
					 (uint8_t)hexdig[b[i] & 15] };
			bt_wr_bytes(w, e, 3);
		}
	}
}

size_t bt_url_encoded_len(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i, out = 0;

	for (i = 0; i < n; i++)
		out += is_unreserved(b[i]) ? 1 : 3;
	return out;
}

long bt_url_decode(const char *s, size_t n, uint8_t *dst, size_t cap,
		   struct bt_url_err *err)
{
	const uint8_t *b = (const uint8_t *)s;
	size_t i, o = 0;

	if (err) {
		err->code = BT_OK;
		err->off = 0;
		err->rule = NULL;
	}
	for (i = 0; i < n; i++) {
		uint8_t c = b[i];
		if (c == '%') {
			int hi, lo;
			if (n - i < 3)
				return fail(err, BT_EINVAL, i, "bad percent-escape: '%' needs two hex digits");
			hi = hexval(b[i + 1]);
			lo = hexval(b[i + 2]);
			if (hi < 0 || lo < 0)
				return fail(err, BT_EINVAL, i, "bad percent-escape: '%' needs two hex digits");
			c = (uint8_t)(hi << 4 | lo);
			i += 2;
		}
		if (o == cap)
			return fail(err, BT_ENOSPC, i, "decode buffer too small");
		dst[o++] = c;
	}
	return (long)o;
}
