/* test_out.c — the text/JSON emitter and the escaping helpers.
 *
 * Output goes to an open_memstream buffer and is compared byte for byte. */
#include "t.h"
#include "out.h"

#define L(s) (s), (sizeof(s) - 1)

static char *mbuf;
static size_t mlen;

static FILE *mopen(void)
{
	FILE *f = open_memstream(&mbuf, &mlen);
	if (!f)
		abort();
	return f;
}

/* Close the stream; mbuf/mlen hold the output until the next mopen. */
static void mclose(FILE *f)
{
	fclose(f);
}

/* Text mode: one field with a peer-supplied value, as the user sees it. */
static void text_field(const void *p, size_t n)
{
	struct bt_out o;
	FILE *f = mopen();

	bt_out_init(&o, f, false);
	bt_out_bytes(&o, "k", "v=", p, n);
	mclose(f);
}

#define EXPECT_TEXT(in, out) do { \
	text_field(L(in)); \
	T_EQ_MEM(mbuf, mlen, "v=" out, sizeof("v=" out) - 1); \
	free(mbuf); \
} while (0)

static void json_field(const void *p, size_t n)
{
	struct bt_out o;
	FILE *f = mopen();

	bt_out_init(&o, f, true);
	bt_out_begin(&o);
	bt_out_bytes(&o, "k", "v=", p, n);
	bt_out_end(&o);
	mclose(f);
}

#define EXPECT_JSON(in, out) do { \
	json_field(L(in)); \
	T_EQ_MEM(mbuf, mlen, "{\"k\":\"" out "\"}\n", sizeof("{\"k\":\"" out "\"}\n") - 1); \
	free(mbuf); \
} while (0)

static void test_text_escape(void)
{
	EXPECT_TEXT("plain ascii ~!", "plain ascii ~!");
	EXPECT_TEXT("", "");
	/* A terminal escape from a peer is shown, not obeyed. */
	EXPECT_TEXT("\x1b[31mred\x1b]0;title\x07", "\\x1b[31mred\\x1b]0;title\\x07");
	EXPECT_TEXT("a\\b", "a\\\\b");
	EXPECT_TEXT("\\x1b", "\\\\x1b");   /* the literal text stays distinguishable */
	EXPECT_TEXT("\0\t\n\r\x7f", "\\x00\\x09\\x0a\\x0d\\x7f");
	/* Valid UTF-8 passes: 2, 3 and 4 bytes, and U+00A0 (first non-C1). */
	EXPECT_TEXT("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0",
		    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0");
	/* C1 controls (U+0080..U+009F) act on some terminals: escaped. */
	EXPECT_TEXT("\xc2\x85\xc2\x9b" "1m", "\\xc2\\x85\\xc2\\x9b" "1m");
	/* Raw C1 bytes and invalid UTF-8: a lone continuation, overlong
	 * forms, a surrogate, beyond U+10FFFF, a truncated sequence. */
	EXPECT_TEXT("\x9b" "31m", "\\x9b" "31m");
	EXPECT_TEXT("\x80\xff\xfe", "\\x80\\xff\\xfe");
	EXPECT_TEXT("\xc0\xaf\xc1\xbf", "\\xc0\\xaf\\xc1\\xbf");
	EXPECT_TEXT("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
	EXPECT_TEXT("\xed\xa0\x80", "\\xed\\xa0\\x80");
	EXPECT_TEXT("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
	EXPECT_TEXT("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80");
	EXPECT_TEXT("x\xe2\x82", "x\\xe2\\x82");
	EXPECT_TEXT("\xe2\x82" "A", "\\xe2\\x82" "A");
}

static void test_json_escape(void)
{
	EXPECT_JSON("plain", "plain");
	EXPECT_JSON("q\"b\\s/", "q\\\"b\\\\s/");
	EXPECT_JSON("\n\t\r\x01\x1b\x7f", "\\n\\t\\u000d\\u0001\\u001b\\u007f");
	EXPECT_JSON("\0", "\\u0000");
	EXPECT_JSON("caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80");
	/* Not UTF-8: "\\xHH" (an escaped backslash, then xHH), valid JSON. */
	EXPECT_JSON("\xff" "a\xc2\x85", "\\\\xff" "a\\\\xc2\\\\x85");
	EXPECT_JSON("\xed\xa0\x80", "\\\\xed\\\\xa0\\\\x80");
}

/* One record with every kind of field, a nested object and an array
 * holding values, an array and an object. */
static void emit_record(struct bt_out *o)
{
	bt_out_begin(o);
	bt_out_str(o, "event", "event ", "handshake");
	bt_out_uint(o, "port", " port ", 6881);
	bt_out_obj_begin(o, "peer", " peer ");
	bt_out_bytes(o, "client", "client=", "\x1b]0;pwned\x07\xff", 11);
	bt_out_hex(o, "id", " id=", "\x01\xab\x00", 3);
	bt_out_bool(o, "dht", " dht=", true);
	bt_out_bool(o, "fast", " fast=", false);
	bt_out_obj_end(o);
	bt_out_arr_begin(o, "ext", " ext");
	bt_out_str(o, NULL, NULL, "ut_metadata");
	bt_out_int(o, NULL, NULL, -3);
	bt_out_null(o, NULL, NULL);
	bt_out_arr_begin(o, NULL, NULL);
	bt_out_uint(o, NULL, NULL, UINT64_MAX);
	bt_out_arr_end(o);
	bt_out_obj_begin(o, NULL, NULL);
	bt_out_str(o, "k", NULL, "v");
	bt_out_obj_begin(o, "empty", NULL);
	bt_out_obj_end(o);
	bt_out_obj_end(o);
	bt_out_arr_end(o);
	bt_out_text(o, " |");
	bt_out_fixed(o, "rtt_ms", " rtt=", 12345, 3);
	bt_out_int(o, "min", " min=", INT64_MIN);
	bt_out_null(o, "reason", " reason=");
	bt_out_end(o);
}

#define WANT_JSON \
	"{\"event\":\"handshake\",\"port\":6881," \
	"\"peer\":{\"client\":\"\\u001b]0;pwned\\u0007\\\\xff\",\"id\":\"01ab00\"," \
	"\"dht\":true,\"fast\":false}," \
	"\"ext\":[\"ut_metadata\",-3,null,[18446744073709551615],{\"k\":\"v\",\"empty\":{}}]," \
	"\"rtt_ms\":12.345,\"min\":-9223372036854775808,\"reason\":null}\n"
#define WANT_MORE "{\"a\":{\"b\":[true]}}\n{}\n"

static void test_json_record(void)
{
	struct bt_out o;
	FILE *f = mopen();

	bt_out_init(&o, f, true);
	emit_record(&o);
	/* The next record starts clean, and bt_out_end closes what is open. */
	bt_out_begin(&o);
	bt_out_obj_begin(&o, "a", NULL);
	bt_out_arr_begin(&o, "b", NULL);
	bt_out_bool(&o, NULL, NULL, true);
	bt_out_end(&o);
	bt_out_begin(&o);
	bt_out_end(&o);
	mclose(f);
	T_EQ_MEM(mbuf, mlen, WANT_JSON WANT_MORE, sizeof(WANT_JSON WANT_MORE) - 1);
	free(mbuf);
}

static void test_text_record(void)
{
	static const char want[] =
		"event handshake port 6881 peer client=\\x1b]0;pwned\\x07\\xff id=01ab00"
		" dht=yes fast=no ext | rtt=12.345 min=-9223372036854775808 reason=-\n";
	struct bt_out o;
	FILE *f = mopen();

	bt_out_init(&o, f, false);
	emit_record(&o);
	mclose(f);
	T_EQ_MEM(mbuf, mlen, want, sizeof(want) - 1);
	free(mbuf);
}

static void test_fixed(void)
{
	static const struct {
		int64_t v;
		unsigned scale;
		const char *want;
	} cases[] = {
		{ 12345, 3, "12.345" }, { -5, 3, "-0.005" }, { 5, 0, "5" },
		{ 0, 2, "0.00" }, { -1000, 3, "-1.000" },
		{ INT64_MIN, 0, "-9223372036854775808" },
		{ INT64_MIN, 3, "-9223372036854775.808" },
		{ INT64_MAX, 19, "0.9223372036854775807" },
		/* Beyond 19 decimals the scale is clamped (no overflow, no
		 * division by zero at 64). */
		{ 1, 20, "0.0000000000000000001" },
		{ 1, 64, "0.0000000000000000001" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bt_out o;
		FILE *f = mopen();
		bt_out_init(&o, f, false);
		bt_out_fixed(&o, "x", "", cases[i].v, cases[i].scale);
		mclose(f);
		T_EQ_MEM(mbuf, mlen, cases[i].want, strlen(cases[i].want));
		free(mbuf);
	}
}

/* Fields without a label print nothing in text mode. */
static void test_text_json_only(void)
{
	struct bt_out o;
	FILE *f = mopen();

	bt_out_init(&o, f, false);
	bt_out_begin(&o);
	bt_out_str(&o, "a", NULL, "x");
	bt_out_bytes(&o, "b", NULL, "y", 1);
	bt_out_uint(&o, "c", NULL, 1);
	bt_out_int(&o, "d", NULL, 1);
	bt_out_bool(&o, "e", NULL, true);
	bt_out_hex(&o, "f", NULL, "\x01", 1);
	bt_out_null(&o, "g", NULL);
	bt_out_fixed(&o, "h", NULL, 1, 1);
	bt_out_text(&o, "only");
	bt_out_end(&o);
	mclose(f);
	T_EQ_MEM(mbuf, mlen, "only\n", 5);
	free(mbuf);
}

#define EXPECT_ESC(in, cap, out) do { \
	char d_[64]; \
	memset(d_, '#', sizeof(d_)); \
	bt_escape_text(L(in), d_, (cap)); \
	T_EQ_MEM(d_, strlen(out) + 1, out, strlen(out) + 1); \
	T_CHECK(strlen(out) + 1 <= (size_t)(cap)); \
	if ((size_t)(cap) < sizeof(d_)) T_EQ_UINT((uint8_t)d_[cap], '#'); \
} while (0)

static void test_escape_text(void)
{
	char d[8];

	EXPECT_ESC("hello", 64, "hello");
	EXPECT_ESC("hello", 6, "hello");          /* exactly fits with its NUL */
	EXPECT_ESC("hello!", 6, "he...");
	EXPECT_ESC("hello", 5, "h...");
	EXPECT_ESC("hello", 4, "...");
	EXPECT_ESC("hello", 3, "");
	EXPECT_ESC("hello", 1, "");
	EXPECT_ESC("", 1, "");
	EXPECT_ESC("\x1b[0m\\", 64, "\\x1b[0m\\\\");
	EXPECT_ESC("a\xc3\xa9\xc2\x85", 64, "a\xc3\xa9\\xc2\\x85");
	/* A cut never splits an escape or a UTF-8 sequence. */
	EXPECT_ESC("\x1b\x1bX", 9, "\\x1b...");
	EXPECT_ESC("\x1b\x1b", 9, "\\x1b\\x1b");
	EXPECT_ESC("abc\\def", 8, "abc...");
	EXPECT_ESC("a\xc3\xa9\xe2\x82\xac", 6, "a...");
	EXPECT_ESC("a\xc3\xa9\xe2\x82\xac", 7, "a\xc3\xa9\xe2\x82\xac");
	EXPECT_ESC("a\xc3\xa9\xe2\x82\xac" "b", 7, "a\xc3\xa9...");
	EXPECT_ESC("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 8, "\xf0\x9f\x98\x80...");
	/* cap 0 writes nothing at all. */
	memset(d, '#', sizeof(d));
	T_CHECK(bt_escape_text("abc", 3, d, 0) == d);
	T_EQ_UINT(d[0], '#');
	/* Input is not read past n. */
	{
		const uint8_t *g = t_guarded("\xe2\x82", 2);
		char d2[16];
		bt_escape_text(g, 2, d2, sizeof(d2));
		T_EQ_STR(d2, "\\xe2\\x82");
	}
}

#define EXPECT_HEX(in, cap, out) do { \
	char d_[64]; \
	memset(d_, '#', sizeof(d_)); \
	T_CHECK(bt_hex(L(in), d_, (cap)) == d_); \
	T_EQ_MEM(d_, strlen(out) + 1, out, strlen(out) + 1); \
	T_EQ_UINT((uint8_t)d_[cap], '#'); \
} while (0)

static void test_hex(void)
{
	char d[41];
	static const uint8_t ih[20] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
					0x01, 0x23, 0x45, 0x67 };

	EXPECT_HEX("\x01\xab\xff", 7, "01abff");
	EXPECT_HEX("\x01\xab\xff", 8, "01abff");
	EXPECT_HEX("\x01\xab\xff", 6, "01...");
	EXPECT_HEX("\x01\xab\xff", 5, "...");
	EXPECT_HEX("\x01\xab\xff", 4, "...");
	EXPECT_HEX("\x01\xab\xff", 3, "");
	EXPECT_HEX("", 1, "");
	EXPECT_HEX("\x00", 3, "00");
	T_CHECK(bt_hex(ih, 20, d, sizeof(d)) == d);
	T_EQ_STR(d, "00112233445566778899aabbccddeeff01234567");
	memset(d, '#', sizeof(d));
	bt_hex(ih, 1, d, 0);
	T_EQ_UINT(d[0], '#');
	bt_hex(t_guarded(ih, 20), 20, d, sizeof(d));
	T_EQ_STR(d, "00112233445566778899aabbccddeeff01234567");
}

int main(void)
{
	T_RUN(test_text_escape);
	T_RUN(test_json_escape);
	T_RUN(test_json_record);
	T_RUN(test_text_record);
	T_RUN(test_fixed);
	T_RUN(test_text_json_only);
	T_RUN(test_escape_text);
	T_RUN(test_hex);
	return T_DONE();
}
