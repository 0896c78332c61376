#include "out.h"

#include <inttypes.h>
#include <string.h>

/* Length of a valid UTF-8 sequence at p (code point >= U+00A0, not a
 * surrogate, shortest form), or 0.  C1 controls (U+0080..U+009F) are
 * refused because some terminals act on them. */
static size_t utf8_ok(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	if (cp < 0xa0)
		return 0;
	return len;
}

/* One escaped item for a terminal: printable ASCII and valid UTF-8 pass,
 * backslash doubles, any other byte becomes \xHH.  Writes at most 4 bytes
 * to tmp, returns their count; *used gets the input bytes taken (>= 1). */
static size_t text_item(const uint8_t *p, size_t n, char tmp[4], size_t *used)
{
	static const char digits[] = "0123456789abcdef";
	size_t u;

	*used = 1;
	if (p[0] == '\\') {
		tmp[0] = '\\', tmp[1] = '\\';
		return 2;
	}
	if (p[0] >= 0x20 && p[0] < 0x7f) {
		tmp[0] = (char)p[0];
		return 1;
	}
	if ((u = utf8_ok(p, n)) != 0) {
		memcpy(tmp, p, u);
		*used = u;
		return u;
	}
	tmp[0] = '\\', tmp[1] = 'x';
	tmp[2] = digits[p[0] >> 4], tmp[3] = digits[p[0] & 15];
	return 4;
}

static void put_text_escaped(FILE *f, const uint8_t *p, size_t n)
{
	size_t i = 0, u;
	char tmp[4];

	while (i < n) {
		fwrite(tmp, 1, text_item(p + i, n - i, tmp, &u), f);
		i += u;
	}
}

/* Escape for JSON: valid UTF-8 passes, controls become \u00XX, bytes that
 * are not UTF-8 become the six characters \\xHH (a backslash escape then
 * "xHH"), so the output is always valid JSON. */
static void put_json_escaped(FILE *f, const uint8_t *p, size_t n)
{
	size_t i = 0, u;

	fputc('"', f);
	while (i < n) {
		uint8_t c = p[i];
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			fputc(c, f);
			i++;
		} else if (c == '\n') {
			fputs("\\n", f);
			i++;
		} else if (c == '\t') {
			fputs("\\t", f);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
		} else if ((u = utf8_ok(p + i, n - i)) != 0) {
			fwrite(p + i, 1, u, f);
			i += u;
		} else {
			fprintf(f, "\\\\x%02x", c);
			i++;
		}
	}
	fputc('"', f);
}

void bt_out_init(struct bt_out *o, FILE *f, bool json)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
	o->json = json;
	o->first[0] = true;
}

/* Emit the JSON member separator and key; returns false in text mode. */
static bool json_key(struct bt_out *o, const char *key)
{
	if (!o->json)
		return false;
	if (!o->first[o->depth])
		fputc(',', o->f);
	o->first[o->depth] = false;
	if (key && !o->in_array[o->depth]) {
		put_json_escaped(o->f, (const uint8_t *)key, strlen(key));
		fputc(':', o->f);
	}
	return true;
}

static void open_nest(struct bt_out *o, bool array)
{
	if (o->depth < BT_OUT_MAX_NEST)
		o->depth++;
	o->first[o->depth] = true;
	o->in_array[o->depth] = array;
}

void bt_out_begin(struct bt_out *o)
{
	o->depth = 0;
	o->first[0] = true;
	o->in_array[0] = false;
	if (o->json) {
		fputc('{', o->f);
		open_nest(o, false);
	}
}

void bt_out_end(struct bt_out *o)
{
	if (o->json) {
		while (o->depth > 0) {
			fputc(o->in_array[o->depth] ? ']' : '}', o->f);
			o->depth--;
		}
	}
	fputc('\n', o->f);
	o->depth = 0;
}

static void label(struct bt_out *o, const char *l)
{
	if (l)
		fputs(l, o->f);
}

void bt_out_obj_begin(struct bt_out *o, const char *key, const char *l)
{
	if (json_key(o, key)) {
		fputc('{', o->f);
		open_nest(o, false);
	} else {
		label(o, l);
	}
}

void bt_out_arr_begin(struct bt_out *o, const char *key, const char *l)
{
	if (json_key(o, key)) {
		fputc('[', o->f);
		open_nest(o, true);
	} else {
		label(o, l);
	}
}

static void close_nest(struct bt_out *o)
{
	if (!o->json || o->depth <= 1)
		return;
	fputc(o->in_array[o->depth] ? ']' : '}', o->f);
	o->depth--;
}

void bt_out_obj_end(struct bt_out *o)
{
	close_nest(o);
}

void bt_out_arr_end(struct bt_out *o)
{
	close_nest(o);
}

void bt_out_str(struct bt_out *o, const char *key, const char *l, const char *s)
{
	bt_out_bytes(o, key, l, s, strlen(s));
}

void bt_out_bytes(struct bt_out *o, const char *key, const char *l,
		  const void *p, size_t n)
{
	if (json_key(o, key)) {
		put_json_escaped(o->f, p, n);
	} else if (l) {
		label(o, l);
		put_text_escaped(o->f, p, n);
	}
}

void bt_out_uint(struct bt_out *o, const char *key, const char *l, uint64_t v)
{
	if (json_key(o, key) || l) {
		label(o, o->json ? NULL : l);
		fprintf(o->f, "%" PRIu64, v);
	}
}

void bt_out_int(struct bt_out *o, const char *key, const char *l, int64_t v)
{
	if (json_key(o, key) || l) {
		label(o, o->json ? NULL : l);
		fprintf(o->f, "%" PRId64, v);
	}
}

void bt_out_bool(struct bt_out *o, const char *key, const char *l, bool v)
{
	if (json_key(o, key) || l) {
		label(o, o->json ? NULL : l);
		fputs(v ? (o->json ? "true" : "yes") : (o->json ? "false" : "no"), o->f);
	}
}

void bt_out_null(struct bt_out *o, const char *key, const char *l)
{
	if (json_key(o, key))
		fputs("null", o->f);
	else if (l)
		fprintf(o->f, "%s-", l);
}

void bt_out_hex(struct bt_out *o, const char *key, const char *l,
		const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	if (json_key(o, key))
		fputc('"', o->f);
	else if (l)
		label(o, l);
	else
		return;
	for (i = 0; i < n; i++)
		fprintf(o->f, "%02x", b[i]);
	if (o->json)
		fputc('"', o->f);
}

void bt_out_fixed(struct bt_out *o, const char *key, const char *l,
		  int64_t v, unsigned scale_pow10)
{
	uint64_t div = 1, a;
	unsigned i;

	if (!(json_key(o, key) || l))
		return;
	label(o, o->json ? NULL : l);
	/* 10^20 overflows uint64_t (and 10^64 wraps to 0, a division by
	 * zero); no int64_t needs more than 19 decimals. */
	if (scale_pow10 > 19)
		scale_pow10 = 19;
	for (i = 0; i < scale_pow10; i++)
		div *= 10;
	a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	if (scale_pow10 == 0)
		fprintf(o->f, "%s%" PRIu64, v < 0 ? "-" : "", a);
	else
		fprintf(o->f, "%s%" PRIu64 ".%0*" PRIu64, v < 0 ? "-" : "",
			a / div, (int)scale_pow10, a % div);
}

void bt_out_text(struct bt_out *o, const char *s)
{
	if (!o->json)
		fputs(s, o->f);
}

/* Truncation backs up to the end of a whole item, so "..." never splits
 * an escape ("\\x1" or a lone "\\") or a UTF-8 sequence. */
char *bt_escape_text(const void *p, size_t n, char *dst, size_t cap)
{
	const uint8_t *b = p;
	size_t i = 0, o = 0, u, tl, keep = 0;
	char tmp[4];

	if (cap == 0)
		return dst;
	while (i < n) {
		tl = text_item(b + i, n - i, tmp, &u);
		if (o + tl + 1 > cap) {
			/* Does not fit: end with "..." after the last whole
			 * item that leaves room for it. */
			if (cap < 4) {
				dst[0] = '\0';
				return dst;
			}
			memcpy(dst + keep, "...", 4);
			return dst;
		}
		memcpy(dst + o, tmp, tl);
		o += tl;
		i += u;
		if (o + 4 <= cap)
			keep = o;
	}
	dst[o] = '\0';
	return dst;
}

/* Lowercase hex; like bt_escape_text, "..." marks a cut (a short hash must
 * not pass for a whole one). */
char *bt_hex(const void *p, size_t n, char *dst, size_t cap)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = p;
	size_t i, k = n;

	if (cap == 0)
		return dst;
	if (n > (cap - 1) / 2) {
		if (cap < 4) {
			dst[0] = '\0';
			return dst;
		}
		k = (cap - 4) / 2;
	}
	for (i = 0; i < k; i++) {
		dst[2 * i] = digits[b[i] >> 4];
		dst[2 * i + 1] = digits[b[i] & 15];
	}
	if (k < n)
		memcpy(dst + 2 * k, "...", 4);
	else
		dst[2 * k] = '\0';
	return dst;
}
