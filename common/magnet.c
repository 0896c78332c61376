/* magnet.c — magnet URI parse and produce; see magnet.h. */
#include "magnet.h"

#include <string.h>

static int fail(struct bt_magnet_err *err, int code, size_t off, const char *rule)
{
	if (err) {
		err->code = code;
		err->off = off;
		err->rule = rule;
	}
	return code;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Case-insensitive: does p[0..n) start with the ASCII string s? */
static bool prefix_ci(const uint8_t *p, size_t n, const char *s)
{
	size_t k = strlen(s), i;

	if (n < k)
		return false;
	for (i = 0; i < k; i++)
		if (lower(p[i]) != (uint8_t)s[i])
			return false;
	return true;
}

static bool eq(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

static bool unhex(const uint8_t *p, size_t n, uint8_t *out)
{
	size_t i;

	for (i = 0; i < n / 2; i++) {
		int a = hexval(p[2 * i]), b = hexval(p[2 * i + 1]);
		if (a < 0 || b < 0)
			return false;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return n % 2 == 0;
}

/* RFC 4648 base32, 32 digits -> 20 bytes, case-insensitive, no padding. */
static bool unbase32(const uint8_t *p, uint8_t out[20])
{
	uint64_t acc = 0;
	unsigned bits = 0;
	size_t i, o = 0;

	for (i = 0; i < 32; i++) {
		uint8_t c = lower(p[i]);
		unsigned v;
		if (c >= 'a' && c <= 'z')
			v = c - 'a';
		else if (c >= '2' && c <= '7')
			v = (unsigned)(c - '2') + 26;
		else
			return false;
		acc = acc << 5 | v;
		bits += 5;
		if (bits >= 8) {
			out[o++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	return o == 20;
}

/* Percent-decode src[0..n) to dst (room for n).  Returns the decoded
 * length, or -1 with *bad = offset of the faulty '%' within src. */
static long pct_decode(const uint8_t *src, size_t n, uint8_t *dst, bool plus_space,
		       size_t *bad)
{
	size_t i = 0, o = 0;

	while (i < n) {
		if (src[i] == '%') {
			int a, b;
			if (n - i < 3 || (a = hexval(src[i + 1])) < 0 ||
			    (b = hexval(src[i + 2])) < 0) {
				*bad = i;
				return -1;
			}
			dst[o++] = (uint8_t)(a << 4 | b);
			i += 3;
		} else {
			dst[o++] = plus_space && src[i] == '+' ? ' ' : src[i];
			i++;
		}
	}
	return (long)o;
}

static int parse_so(struct bt_magnet *mg, const uint8_t *p, size_t n, size_t at,
		    struct bt_magnet_err *err)
{
	size_t i = 0;

	while (i <= n) {
		uint64_t v[2] = { 0, 0 };
		int k = 0;
		size_t digits = 0;

		for (;;) {
			if (i < n && p[i] >= '0' && p[i] <= '9') {
				v[k] = v[k] * 10 + (uint64_t)(p[i] - '0');
				if (v[k] > UINT32_MAX)
					return fail(err, BT_EINVAL, at,
						    "so: file index exceeds 2^32-1");
				digits++;
				i++;
				continue;
			}
			if (!digits)
				return fail(err, BT_EINVAL, at,
					    "so: expected a file index");
			if (i < n && p[i] == '-' && k == 0) {
				k = 1;
				digits = 0;
				i++;
				continue;
			}
			break;
		}
		if (i < n && p[i] != ',')
			return fail(err, BT_EINVAL, at, "so: unexpected character");
		if (k == 0)
			v[1] = v[0];
		if (v[0] > v[1])
			return fail(err, BT_EINVAL, at, "so: range runs backwards");
		if (mg->nso == BT_MAGNET_MAX_SO)
			return fail(err, BT_ETOOBIG, at, "so: too many ranges");
		mg->so[mg->nso].first = (uint32_t)v[0];
		mg->so[mg->nso].last = (uint32_t)v[1];
		mg->nso++;
		i++; /* past ',' (or past the end: loop ends) */
	}
	return BT_OK;
}

static int parse_xt(struct bt_magnet *mg, const uint8_t *v, size_t n, size_t at,
		    struct bt_magnet_err *err)
{
	uint8_t h[32];

	if (prefix_ci(v, n, "urn:btih:")) {
		v += 9, n -= 9;
		if (n == 40) {
			if (!unhex(v, n, h))
				return fail(err, BT_EINVAL, at,
					    "btih: not 40 hex digits");
		} else if (n == 32) {
			if (!unbase32(v, h))
				return fail(err, BT_EINVAL, at,
					    "btih: not 32 base32 digits");
		} else {
			return fail(err, BT_EINVAL, at,
				    "btih: must be 40 hex or 32 base32 digits");
		}
		if (mg->has_btih && memcmp(mg->btih, h, 20) != 0)
			return fail(err, BT_EINVAL, at, "two different btih");
		memcpy(mg->btih, h, 20);
		mg->has_btih = true;
		return BT_OK;
	}
	if (prefix_ci(v, n, "urn:btmh:")) {
		v += 9, n -= 9;
		if (n < 4 || !prefix_ci(v, n, "1220"))
			return fail(err, BT_EUNSUPP, at,
				    "btmh: not a sha2-256 multihash (1220...)");
		if (n != 68 || !unhex(v + 4, 64, h))
			return fail(err, BT_EINVAL, at,
				    "btmh: must be 1220 followed by 64 hex digits");
		if (mg->has_btmh && memcmp(mg->btmh, h, 32) != 0)
			return fail(err, BT_EINVAL, at, "two different btmh");
		memcpy(mg->btmh, h, 32);
		mg->has_btmh = true;
		return BT_OK;
	}
	mg->ignored++; /* another URN scheme: not ours */
	return BT_OK;
}

static int add_view(struct bt_meta_str *arr, size_t *n, size_t cap,
		    const uint8_t *p, size_t len, size_t at, const char *toomany,
		    struct bt_magnet_err *err)
{
	if (memchr(p, '\0', len))
		return fail(err, BT_EINVAL, at, "NUL byte in a value");
	if (*n == cap)
		return fail(err, BT_ETOOBIG, at, toomany);
	arr[*n].p = p;
	arr[*n].len = len;
	(*n)++;
	return BT_OK;
}

static bool is_xt_key(const uint8_t *k, size_t n)
{
	size_t i;

	if (eq(k, n, "xt"))
		return true;
	if (n < 4 || memcmp(k, "xt.", 3) != 0)
		return false;
	for (i = 3; i < n; i++)
		if (k[i] < '0' || k[i] > '9')
			return false;
	return true;
}

int bt_magnet_parse(struct bt_magnet *mg, const char *uri, size_t len,
		    uint8_t *scratch, size_t scap, struct bt_magnet_err *err)
{
	const uint8_t *u = (const uint8_t *)uri;
	size_t pos, sp = 0, i;
	int rc;

	memset(mg, 0, sizeof(*mg));
	if (err) {
		err->code = BT_OK;
		err->off = 0;
		err->rule = "ok";
	}
	if (len > BT_MAGNET_MAX_LEN)
		return fail(err, BT_ETOOBIG, 0, "magnet URI longer than 64 KiB");
	if (scap < len)
		return fail(err, BT_ENOSPC, 0, "scratch buffer shorter than the URI");
	if (!prefix_ci(u, len, "magnet:?"))
		return fail(err, BT_EINVAL, 0, "does not start with \"magnet:?\"");
	for (i = 0; i < len; i++)
		if (u[i] < 0x20 || u[i] == 0x7f)
			return fail(err, BT_EINVAL, i, "control character in magnet URI");

	pos = 8;
	while (pos < len) {
		const uint8_t *seg = u + pos, *key, *eqp, *raw;
		size_t segn, keyn, rawn, bad = 0, vat;
		uint8_t *v = scratch + sp;
		long vn;

		if (u[pos] == '#')
			break; /* fragment: not part of the query */
		for (segn = 0; pos + segn < len && seg[segn] != '&' &&
		     seg[segn] != '#'; segn++)
			;
		if (segn == 0) {
			pos++;
			continue;
		}
		eqp = memchr(seg, '=', segn);
		if (!eqp)
			return fail(err, BT_EINVAL, pos, "magnet parameter has no '='");
		key = seg;
		keyn = (size_t)(eqp - seg);
		raw = eqp + 1;
		rawn = segn - keyn - 1;
		vat = pos + keyn + 1;
		vn = pct_decode(raw, rawn, v, eq(key, keyn, "dn"), &bad);
		if (vn < 0)
			return fail(err, BT_EINVAL, vat + bad, "bad percent-escape");
		sp += (size_t)vn; /* decoded <= raw: the scratch never overflows */

		if (is_xt_key(key, keyn)) {
			rc = parse_xt(mg, v, (size_t)vn, vat, err);
		} else if (eq(key, keyn, "dn")) {
			mg->dn.p = v;
			mg->dn.len = (size_t)vn;
			mg->has_dn = true;
			rc = BT_OK;
		} else if (eq(key, keyn, "tr")) {
			rc = add_view(mg->tr, &mg->ntr, BT_MAGNET_MAX_TR, v, (size_t)vn,
				      vat, "too many tr parameters", err);
		} else if (eq(key, keyn, "ws")) {
			rc = add_view(mg->ws, &mg->nws, BT_MAGNET_MAX_WS, v, (size_t)vn,
				      vat, "too many ws parameters", err);
		} else if (eq(key, keyn, "x.pe")) {
			rc = add_view(mg->pe, &mg->npe, BT_MAGNET_MAX_PE, v, (size_t)vn,
				      vat, "too many x.pe parameters", err);
		} else if (eq(key, keyn, "so")) {
			rc = parse_so(mg, v, (size_t)vn, vat, err);
		} else {
			mg->ignored++;
			rc = BT_OK;
		}
		if (rc != BT_OK)
			return rc;
		pos += segn;
	}
	if (!mg->has_btih && !mg->has_btmh)
		return fail(err, BT_EINVAL, 0, "no xt=urn:btih or xt=urn:btmh");
	return BT_OK;
}

/* --- producing --- */

struct sb {
	char *dst;
	size_t cap, len;
	bool first;
};

static void put(struct sb *b, const void *p, size_t n)
{
	if (b->len < b->cap) {
		size_t room = b->cap - b->len;
		memcpy(b->dst + b->len, p, n < room ? n : room);
	}
	b->len += n;
}

static void puts_(struct sb *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_hex(struct sb *b, const uint8_t *p, size_t n)
{
	static const char dig[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		char h[2] = { dig[p[i] >> 4], dig[p[i] & 15] };
		put(b, h, 2);
	}
}

static void put_enc(struct sb *b, const uint8_t *p, size_t n)
{
	static const char dig[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t c = p[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			put(b, &c, 1);
		} else {
			char e[3] = { '%', dig[c >> 4], dig[c & 15] };
			put(b, e, 3);
		}
	}
}

static void param(struct sb *b, const char *key)
{
	if (!b->first)
		put(b, "&", 1);
	b->first = false;
	puts_(b, key);
	put(b, "=", 1);
}

static void put_u32(struct sb *b, uint32_t v)
{
	char t[10];
	size_t n = 0;

	do {
		t[sizeof(t) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(b, t + sizeof(t) - n, n);
}

static void sb_init(struct sb *b, char *dst, size_t cap)
{
	b->dst = dst;
	b->cap = cap;
	b->len = 0;
	b->first = true;
	puts_(b, "magnet:?");
}

static size_t sb_done(struct sb *b)
{
	if (b->cap)
		b->dst[b->len < b->cap ? b->len : b->cap - 1] = '\0';
	return b->len;
}

static void put_xt(struct sb *b, const uint8_t *v1, const uint8_t *v2)
{
	if (v1) {
		param(b, "xt");
		puts_(b, "urn:btih:");
		put_hex(b, v1, 20);
	}
	if (v2) {
		param(b, "xt");
		puts_(b, "urn:btmh:1220");
		put_hex(b, v2, 32);
	}
}

size_t bt_magnet_write(const struct bt_magnet *mg, char *dst, size_t cap)
{
	struct sb b;
	size_t i;

	sb_init(&b, dst, cap);
	put_xt(&b, mg->has_btih ? mg->btih : NULL, mg->has_btmh ? mg->btmh : NULL);
	if (mg->has_dn) {
		param(&b, "dn");
		put_enc(&b, mg->dn.p, mg->dn.len);
	}
	for (i = 0; i < mg->ntr; i++) {
		param(&b, "tr");
		put_enc(&b, mg->tr[i].p, mg->tr[i].len);
	}
	for (i = 0; i < mg->nws; i++) {
		param(&b, "ws");
		put_enc(&b, mg->ws[i].p, mg->ws[i].len);
	}
	for (i = 0; i < mg->npe; i++) {
		param(&b, "x.pe");
		put_enc(&b, mg->pe[i].p, mg->pe[i].len);
	}
	for (i = 0; i < mg->nso; i++) {
		if (i == 0)
			param(&b, "so");
		else
			put(&b, ",", 1);
		put_u32(&b, mg->so[i].first);
		if (mg->so[i].last != mg->so[i].first) {
			put(&b, "-", 1);
			put_u32(&b, mg->so[i].last);
		}
	}
	return sb_done(&b);
}

size_t bt_magnet_from_meta(const struct bt_meta *m, char *dst, size_t cap)
{
	struct sb b;
	size_t i;

	sb_init(&b, dst, cap);
	put_xt(&b, m->version != BT_META_V2 ? m->info_hash_v1 : NULL,
	       m->version != BT_META_V1 ? m->info_hash_v2 : NULL);
	param(&b, "dn");
	put_enc(&b, m->name.p, m->name.len);
	for (i = 0; i < m->ntrackers; i++) {
		param(&b, "tr");
		put_enc(&b, m->trackers[i].url.p, m->trackers[i].url.len);
	}
	for (i = 0; i < m->nurls; i++) {
		param(&b, "ws");
		put_enc(&b, m->url_list[i].p, m->url_list[i].len);
	}
	return sb_done(&b);
}
