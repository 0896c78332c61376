/* Escaping of bytes that came from outside (out.h): bt_escape_text,
 * bt_out_bytes in text and JSON mode, bt_hex.  Not a decoder, but what
 * stands between a hostile peer's client name and the user's terminal.
 *
 * Input: one byte choosing a short buffer size, then the bytes.
 * Properties: text output has no control bytes (C0, DEL, C1) and is valid
 * UTF-8, and it unescapes to exactly the input (the escape is lossless);
 * bt_out_bytes prints the same text; a short buffer gets a cut at an item
 * boundary marked "..."; the JSON line is valid JSON with no raw control
 * bytes, and its string decodes to the input whenever the input needs no
 * \\xHH fallback (it is UTF-8); bt_hex cuts are marked the same way. */
#include "fuzz.h"
#include "out.h"

/* Valid UTF-8, no C0 (except '\n' when allowed), no DEL, no C1. */
static void check_clean(const uint8_t *s, size_t n, bool nl)
{
	size_t i = 0, k, len;
	uint32_t cp;

	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			FUZZ_CHECK((c >= 0x20 && c != 0x7f) || (nl && c == '\n'));
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			FUZZ_CHECK(!"not a UTF-8 lead byte");
		FUZZ_CHECK(n - i >= len);
		for (k = 1; k < len; k++) {
			FUZZ_CHECK((s[i + k] & 0xc0) == 0x80);
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		FUZZ_CHECK(cp >= 0xa0 && !(cp >= 0xd800 && cp <= 0xdfff) && cp <= 0x10ffff);
		FUZZ_CHECK(len == 2 || (len == 3 && cp >= 0x800) || cp >= 0x10000);
		i += len;
	}
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reverse of the text escape; returns the length, aborts on a bad one. */
static size_t unescape(const char *t, size_t n, uint8_t *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		if (t[i] != '\\') {
			out[o++] = (uint8_t)t[i++];
			continue;
		}
		FUZZ_CHECK(i + 1 < n);
		if (t[i + 1] == '\\') {
			out[o++] = '\\';
			i += 2;
			continue;
		}
		FUZZ_CHECK(t[i + 1] == 'x' && i + 3 < n);
		FUZZ_CHECK(hexval(t[i + 2]) >= 0 && hexval(t[i + 3]) >= 0);
		out[o++] = (uint8_t)(hexval(t[i + 2]) << 4 | hexval(t[i + 3]));
		i += 4;
	}
	return o;
}

static void put_utf8(uint32_t cp, uint8_t *out, size_t *o)
{
	if (cp < 0x80) {
		out[(*o)++] = (uint8_t)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (uint8_t)(0xc0 | cp >> 6);
		out[(*o)++] = (uint8_t)(0x80 | (cp & 0x3f));
	} else {
		out[(*o)++] = (uint8_t)(0xe0 | cp >> 12);
		out[(*o)++] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[(*o)++] = (uint8_t)(0x80 | (cp & 0x3f));
	}
}

/* The JSON string starting at s[0] == '"': decoded into out; returns the
 * index after the closing quote. */
static size_t json_string(const char *s, size_t n, uint8_t *out, size_t *olen)
{
	size_t i = 1, o = 0;

	for (;;) {
		FUZZ_CHECK(i < n);
		if (s[i] == '"')
			break;
		FUZZ_CHECK((uint8_t)s[i] >= 0x20);
		if (s[i] != '\\') {
			out[o++] = (uint8_t)s[i++];
			continue;
		}
		FUZZ_CHECK(i + 1 < n);
		switch (s[i + 1]) {
		case '"': case '\\': case '/':
			out[o++] = (uint8_t)s[i + 1];
			i += 2;
			break;
		case 'n': out[o++] = '\n'; i += 2; break;
		case 't': out[o++] = '\t'; i += 2; break;
		case 'r': out[o++] = '\r'; i += 2; break;
		case 'b': out[o++] = '\b'; i += 2; break;
		case 'f': out[o++] = '\f'; i += 2; break;
		case 'u': {
			uint32_t cp = 0;
			int k;
			FUZZ_CHECK(i + 5 < n);
			for (k = 2; k < 6; k++) {
				int h = hexval(s[i + k] >= 'A' && s[i + k] <= 'F' ?
					       s[i + k] + 32 : s[i + k]);
				FUZZ_CHECK(h >= 0);
				cp = cp << 4 | (uint32_t)h;
			}
			FUZZ_CHECK(cp < 0xd800 || cp > 0xdfff);
			put_utf8(cp, out, &o);
			i += 6;
			break;
		}
		default:
			FUZZ_CHECK(!"bad JSON escape");
		}
	}
	*olen = o;
	return i + 1;
}

static char *capture(bool json, const uint8_t *p, size_t n, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	struct bt_out o;

	if (!f)
		abort();
	bt_out_init(&o, f, json);
	bt_out_begin(&o);
	bt_out_bytes(&o, "name", "", p, n);
	bt_out_end(&o);
	fclose(f);
	return buf;
}

/* Is every byte printable ASCII, a control, or part of valid UTF-8 as the
 * JSON escaper sees it (so no \\xHH fallback is used)? */
static bool json_exact(const char *js, size_t n)
{
	return memmem(js, n, "\\\\x", 3) == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = size ? data[0] : 0, n = size ? size - 1 : 0, fl, k, jl, dl, ol;
	const uint8_t *p = data + (size ? 1 : 0);
	char *full = malloc(4 * n + 1), *small = malloc(cap + 1), *out, *hex;
	uint8_t *back = malloc(4 * n + 1);

	if (!full || !small || !back)
		abort();
	bt_escape_text(p, n, full, 4 * n + 1);
	fl = strlen(full);
	check_clean((const uint8_t *)full, fl, false);
	FUZZ_CHECK(unescape(full, fl, back) == n && memcmp(back, p, n) == 0);

	/* A short buffer: the full text, or a marked cut at an item end. */
	memset(small, 'X', cap + 1);
	bt_escape_text(p, n, small, cap);
	FUZZ_CHECK(small[cap] == 'X');
	if (cap) {
		k = strnlen(small, cap);
		FUZZ_CHECK(k < cap);
		if (fl < cap) {
			FUZZ_CHECK(strcmp(small, full) == 0);
		} else if (cap >= 4) {
			FUZZ_CHECK(k >= 3 && strcmp(small + k - 3, "...") == 0);
			FUZZ_CHECK(strncmp(small, full, k - 3) == 0);
			ol = unescape(small, k - 3, back);
			FUZZ_CHECK(ol <= n && memcmp(back, p, ol) == 0);
		} else {
			FUZZ_CHECK(k == 0);
		}
	}

	/* bt_out_bytes, text: the label, the same escape, the newline. */
	out = capture(false, p, n, &ol);
	FUZZ_CHECK(ol == fl + 1 && memcmp(out, full, fl) == 0 && out[fl] == '\n');
	free(out);

	/* JSON: {"name":"..."}\n, valid, no raw controls. */
	out = capture(true, p, n, &jl);
	check_clean((const uint8_t *)out, jl, true);
	FUZZ_CHECK(jl >= 11 && memcmp(out, "{\"name\":", 8) == 0);
	k = 8 + json_string(out + 8, jl - 8, back, &dl);
	FUZZ_CHECK(k + 2 == jl && out[k] == '}' && out[k + 1] == '\n');
	if (json_exact(out, jl))
		FUZZ_CHECK(dl == n && memcmp(back, p, n) == 0);
	free(out);

	/* bt_hex: 2n digits, or a marked cut that is a prefix. */
	hex = malloc(2 * n + 1);
	if (!hex)
		abort();
	bt_hex(p, n, hex, 2 * n + 1);
	FUZZ_CHECK(strlen(hex) == 2 * n);
	memset(small, 'X', cap + 1);
	bt_hex(p, n, small, cap);
	FUZZ_CHECK(small[cap] == 'X');
	if (cap) {
		k = strnlen(small, cap);
		FUZZ_CHECK(k < cap);
		if (2 * n < cap)
			FUZZ_CHECK(strcmp(small, hex) == 0);
		else if (cap >= 4)
			FUZZ_CHECK(k >= 3 && strcmp(small + k - 3, "...") == 0 &&
				   strncmp(small, hex, k - 3) == 0 && (k - 3) % 2 == 0);
		else
			FUZZ_CHECK(k == 0);
	}
	free(hex);
	free(full);
	free(small);
	free(back);
	return 0;
}
