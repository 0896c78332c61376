/* test_url.c — tracker URL parsing and percent-encoding (url.h). */
#include "t.h"
#include "url.h"

#define VIEW_EQ(p, n, lit) T_EQ_MEM((p), (n), (lit), strlen(lit))

/* Parse a literal placed flush against an unreadable page. */
static int parse(struct bt_url *u, const char *s, struct bt_url_err *e)
{
	size_t n = strlen(s);
	return bt_url_parse(u, (const char *)t_guarded(s, n), n, e);
}

/* Expect failure with code, offset and rule. */
#define T_URL_BAD(s_, code_, off_, rule_) do { \
	struct bt_url u_; struct bt_url_err e_; \
	T_EQ_INT(parse(&u_, (s_), &e_), (code_)); \
	T_EQ_INT(e_.code, (code_)); \
	T_EQ_UINT(e_.off, (off_)); \
	T_EQ_STR(e_.rule, (rule_)); \
} while (0)

static void test_http_basic(void)
{
	struct bt_url u;
	struct bt_url_err e;

	T_EQ_INT(parse(&u, "http://tracker.example.com/announce", &e), BT_OK);
	T_EQ_INT(e.code, BT_OK);
	T_EQ_INT(u.scheme, BT_URL_HTTP);
	VIEW_EQ(u.host, u.host_len, "tracker.example.com");
	T_EQ_INT(u.host_family, 0);
	T_EQ_INT(u.port, 80);
	T_CHECK(!u.port_given);
	VIEW_EQ(u.path, u.path_len, "/announce");
	T_CHECK(!u.has_query);
	T_EQ_UINT(u.query_len, 0);
	T_CHECK(!u.has_fragment);
	VIEW_EQ(u.target, u.target_len, "/announce");
	T_EQ_UINT(u.userinfo_len, 0);
}

static void test_https_default_and_explicit_port(void)
{
	struct bt_url u;

	T_EQ_INT(parse(&u, "https://t.example/announce", NULL), BT_OK);
	T_EQ_INT(u.scheme, BT_URL_HTTPS);
	T_EQ_INT(u.port, 443);
	T_EQ_INT(parse(&u, "https://t.example:8443/a", NULL), BT_OK);
	T_EQ_INT(u.port, 8443);
	T_CHECK(u.port_given);
	T_EQ_INT(parse(&u, "HTTP://T.Example:65535/", NULL), BT_OK);
	T_EQ_INT(u.scheme, BT_URL_HTTP);
	T_EQ_INT(u.port, 65535);
	VIEW_EQ(u.host, u.host_len, "T.Example");
	T_EQ_INT(parse(&u, "http://t:1", NULL), BT_OK);
	T_EQ_INT(u.port, 1);
	T_EQ_UINT(u.path_len, 0);
	T_EQ_INT(parse(&u, "http://t:006969/", NULL), BT_OK);
	T_EQ_INT(u.port, 6969);
}

static void test_udp(void)
{
	struct bt_url u;

	T_EQ_INT(parse(&u, "udp://tracker.opentrackr.org:1337/announce", NULL), BT_OK);
	T_EQ_INT(u.scheme, BT_URL_UDP);
	T_EQ_INT(u.port, 1337);
	VIEW_EQ(u.target, u.target_len, "/announce");
	T_EQ_INT(parse(&u, "udp://tracker.example.com:80", NULL), BT_OK);
	T_EQ_UINT(u.path_len, 0);
	T_EQ_UINT(u.target_len, 0);
	T_EQ_INT(parse(&u, "udp://tracker.example.com:80/dir?a=b&c=d", NULL), BT_OK);
	VIEW_EQ(u.path, u.path_len, "/dir");
	VIEW_EQ(u.query, u.query_len, "a=b&c=d");
	VIEW_EQ(u.target, u.target_len, "/dir?a=b&c=d");
	T_URL_BAD("udp://tracker.example.com/announce", BT_EINVAL, 25, "udp URL needs a port");
	T_URL_BAD("udp://tracker.example.com", BT_EINVAL, 25, "udp URL needs a port");
	T_EQ_INT(bt_url_default_port(BT_URL_UDP), 0);
	T_EQ_STR(bt_url_scheme_name(BT_URL_UDP), "udp");
	T_EQ_STR(bt_url_scheme_name(BT_URL_HTTPS), "https");
	T_EQ_STR(bt_url_scheme_name(0), "?");
}

static void test_ipv6_literal(void)
{
	static const uint8_t loop6[16] = { [15] = 1 };
	static const uint8_t db8[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
	struct bt_url u;

	T_EQ_INT(parse(&u, "udp://[::1]:6969", NULL), BT_OK);
	VIEW_EQ(u.host, u.host_len, "::1");
	T_EQ_INT(u.host_family, 6);
	T_EQ_MEM(u.ip, 16, loop6, 16);
	T_EQ_INT(u.port, 6969);
	T_EQ_INT(parse(&u, "http://[::1]:6969/announce", NULL), BT_OK);
	T_EQ_INT(u.port, 6969);
	VIEW_EQ(u.path, u.path_len, "/announce");
	T_EQ_INT(parse(&u, "http://[2001:db8::1]/announce?x=1", NULL), BT_OK);
	T_EQ_INT(u.port, 80);
	T_CHECK(!u.port_given);
	T_EQ_MEM(u.ip, 16, db8, 16);
	VIEW_EQ(u.query, u.query_len, "x=1");

	T_URL_BAD("http://[::1/announce", BT_EINVAL, 7, "unterminated '[' in host");
	T_URL_BAD("http://[]:80/", BT_EINVAL, 8, "missing host");
	T_URL_BAD("http://[zz::1]/", BT_EINVAL, 8, "invalid IPv6 literal in brackets");
	T_URL_BAD("http://[1.2.3.4]/", BT_EINVAL, 8, "invalid IPv6 literal in brackets");
	T_URL_BAD("http://[fe80::1%25eth0]/", BT_EINVAL, 8, "invalid IPv6 literal in brackets");
	T_URL_BAD("http://[::1]x/", BT_EINVAL, 12, "unexpected character after ']'");
	T_URL_BAD("http://[::1]:/", BT_EINVAL, 13, "empty port after ':'");
	T_URL_BAD("udp://[::1]", BT_EINVAL, 11, "udp URL needs a port");
}

static void test_ipv4_host(void)
{
	static const uint8_t ip[16] = { 127, 0, 0, 1 };
	struct bt_url u;

	T_EQ_INT(parse(&u, "http://127.0.0.1:6969/announce", NULL), BT_OK);
	T_EQ_INT(u.host_family, 4);
	T_EQ_MEM(u.ip, 16, ip, 16);
	/* Not a dotted quad: a name (DNS decides). */
	T_EQ_INT(parse(&u, "http://127.1/announce", NULL), BT_OK);
	T_EQ_INT(u.host_family, 0);
	T_EQ_INT(parse(&u, "http://1.2.3.256/", NULL), BT_OK);
	T_EQ_INT(u.host_family, 0);
}

static void test_bad_ports(void)
{
	T_URL_BAD("http://t:0/", BT_EINVAL, 9, "port 0");
	T_URL_BAD("http://t:65536/", BT_EINVAL, 9, "port out of range (1..65535)");
	T_URL_BAD("http://t:99999999999999999999999/", BT_EINVAL, 9,
		  "port out of range (1..65535)");
	T_URL_BAD("http://t:/", BT_EINVAL, 9, "empty port after ':'");
	T_URL_BAD("http://t:", BT_EINVAL, 9, "empty port after ':'");
	T_URL_BAD("http://t:12a/", BT_EINVAL, 11, "port is not a decimal number");
	T_URL_BAD("http://t:-1/", BT_EINVAL, 9, "port is not a decimal number");
	T_URL_BAD("http://t:+80/", BT_EINVAL, 9, "port is not a decimal number");
	T_URL_BAD("http://t:80:81/", BT_EINVAL, 11, "port is not a decimal number");
	T_URL_BAD("udp://t:70000", BT_EINVAL, 8, "port out of range (1..65535)");
}

static void test_missing_scheme_and_host(void)
{
	const char *ms = "missing scheme (expected http://, https:// or udp://)";

	T_URL_BAD("tracker.example.com/announce", BT_EINVAL, 0, ms);
	T_URL_BAD("tracker.example.com:6969/announce", BT_EINVAL, 0, ms);
	T_URL_BAD("//tracker.example.com/announce", BT_EINVAL, 0, ms);
	T_URL_BAD("http:/t/announce", BT_EINVAL, 0, ms);
	T_URL_BAD("http:", BT_EINVAL, 0, ms);
	T_URL_BAD("1http://t/", BT_EINVAL, 0, ms);
	T_URL_BAD("ftp://t/announce", BT_EUNSUPP, 0, "unsupported scheme (not http, https or udp)");
	T_URL_BAD("wss://t/announce", BT_EUNSUPP, 0, "unsupported scheme (not http, https or udp)");
	T_URL_BAD("http:///announce", BT_EINVAL, 7, "missing host");
	T_URL_BAD("http://:80/announce", BT_EINVAL, 7, "missing host");
	T_URL_BAD("http://", BT_EINVAL, 7, "missing host");
	T_URL_BAD("http://?a=b", BT_EINVAL, 7, "missing host");
	T_URL_BAD("http://user@/", BT_EINVAL, 12, "missing host");
	T_URL_BAD("", BT_EINVAL, 0, "empty URL");
}

static void test_bad_chars(void)
{
	struct bt_url u;
	struct bt_url_err e;
	static const char nul[] = "http://t/a\0b";

	T_URL_BAD("http://t/ann ounce", BT_EINVAL, 12, "space in URL");
	T_URL_BAD(" http://t/", BT_EINVAL, 0, "space in URL");
	T_URL_BAD("http://t/announce\n", BT_EINVAL, 17, "control character in URL");
	T_URL_BAD("http://t/\tx", BT_EINVAL, 9, "control character in URL");
	T_URL_BAD("http://t/\x7f", BT_EINVAL, 9, "control character in URL");
	T_URL_BAD("http://t/\xc3\xa9", BT_EINVAL, 9, "non-ASCII byte in URL (percent-encode it)");
	T_URL_BAD("http://ho!st/", BT_EINVAL, 9, "invalid character in host");
	T_URL_BAD("http://ho%41st/", BT_EINVAL, 9, "invalid character in host");
	T_URL_BAD("http://t/a%zzb", BT_EINVAL, 10, "bad percent-escape (want %XX, XX hex)");
	T_URL_BAD("http://t/a?x=%4", BT_EINVAL, 13, "bad percent-escape (want %XX, XX hex)");
	T_URL_BAD("http://t/a#%", BT_EINVAL, 11, "bad percent-escape (want %XX, XX hex)");
	/* An embedded NUL is a control character, not an end of string. */
	T_EQ_INT(bt_url_parse(&u, (const char *)t_guarded(nul, sizeof nul - 1),
			      sizeof nul - 1, &e), BT_EINVAL);
	T_EQ_UINT(e.off, 10);
	T_EQ_STR(e.rule, "control character in URL");
}

static void test_query_fragment_userinfo(void)
{
	struct bt_url u;

	T_EQ_INT(parse(&u, "http://u:p@t.example:81/x/announce.php?passkey=ab%2Fc&y=#frag", NULL), BT_OK);
	VIEW_EQ(u.userinfo, u.userinfo_len, "u:p");
	VIEW_EQ(u.host, u.host_len, "t.example");
	T_EQ_INT(u.port, 81);
	VIEW_EQ(u.path, u.path_len, "/x/announce.php");
	T_CHECK(u.has_query);
	VIEW_EQ(u.query, u.query_len, "passkey=ab%2Fc&y=");
	T_CHECK(u.has_fragment);
	VIEW_EQ(u.fragment, u.fragment_len, "frag");
	VIEW_EQ(u.target, u.target_len, "/x/announce.php?passkey=ab%2Fc&y=");

	T_EQ_INT(parse(&u, "http://t?", NULL), BT_OK);
	T_CHECK(u.has_query);
	T_EQ_UINT(u.query_len, 0);
	T_EQ_UINT(u.path_len, 0);
	VIEW_EQ(u.target, u.target_len, "?");

	T_EQ_INT(parse(&u, "http://t/a#b?c", NULL), BT_OK);
	T_CHECK(!u.has_query);
	VIEW_EQ(u.fragment, u.fragment_len, "b?c");
	VIEW_EQ(u.target, u.target_len, "/a");
}

static void test_length_caps(void)
{
	static char big[BT_URL_MAX_LEN + 2];
	static char host[300];
	struct bt_url u;
	struct bt_url_err e;
	size_t n;

	/* Exactly the cap parses; one more byte is refused. */
	memcpy(big, "http://t/", 9);
	memset(big + 9, 'a', sizeof big - 9);
	T_EQ_INT(bt_url_parse(&u, (const char *)t_guarded(big, BT_URL_MAX_LEN),
			      BT_URL_MAX_LEN, &e), BT_OK);
	T_EQ_UINT(u.path_len, BT_URL_MAX_LEN - 8);
	T_EQ_INT(bt_url_parse(&u, (const char *)t_guarded(big, BT_URL_MAX_LEN + 1),
			      BT_URL_MAX_LEN + 1, &e), BT_ETOOBIG);
	T_EQ_STR(e.rule, "URL longer than 4096 bytes");

	memcpy(host, "http://", 7);
	memset(host + 7, 'h', 255);
	n = 7 + 255;
	T_EQ_INT(bt_url_parse(&u, (const char *)t_guarded(host, n), n, &e), BT_OK);
	T_EQ_UINT(u.host_len, 255);
	host[n++] = 'h';
	T_EQ_INT(bt_url_parse(&u, (const char *)t_guarded(host, n), n, &e), BT_ETOOBIG);
	T_EQ_UINT(e.off, 7);
	T_EQ_STR(e.rule, "host longer than 255 bytes");
}

static void test_ip_literal(void)
{
	uint8_t ip[16];
	static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 1, 2, 3, 4 };

	T_EQ_INT(bt_url_ip_literal("10.0.0.1", 8, ip), 4);
	T_EQ_INT(ip[0], 10);
	T_EQ_INT(ip[3], 1);
	T_EQ_INT(bt_url_ip_literal("::ffff:1.2.3.4", 14, ip), 6);
	T_EQ_MEM(ip, 16, mapped, 16);
	T_EQ_INT(bt_url_ip_literal("10.0.0.1x", 8, ip), 4); /* only n bytes */
	T_EQ_INT(bt_url_ip_literal("10.0.0.1", 9, ip), 0);  /* the NUL is in */
	T_EQ_INT(bt_url_ip_literal("example.org", 11, ip), 0);
	T_EQ_INT(bt_url_ip_literal("", 0, ip), 0);
	T_EQ_INT(bt_url_ip_literal("[::1]", 5, ip), 0);
	T_EQ_INT(bt_url_ip_literal("fe80::1%eth0", 12, ip), 0);
	T_EQ_INT(bt_url_ip_literal(
		"0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000", 54, ip), 0);
}

/* Every byte value, in order, encoded (expected text written out by hand
 * from the BEP 3 rule, not computed by the code under test). */
static const char all256[] =
	"%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14%15"
	"%16%17%18%19%1A%1B%1C%1D%1E%1F%20%21%22%23%24%25%26%27%28%29%2A%2B"
	"%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40ABCDEFGHIJKLMNOPQRSTUVWXYZ%"
	"5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~%7F%80%81%82%83"
	"%84%85%86%87%88%89%8A%8B%8C%8D%8E%8F%90%91%92%93%94%95%96%97%98%99"
	"%9A%9B%9C%9D%9E%9F%A0%A1%A2%A3%A4%A5%A6%A7%A8%A9%AA%AB%AC%AD%AE%AF"
	"%B0%B1%B2%B3%B4%B5%B6%B7%B8%B9%BA%BB%BC%BD%BE%BF%C0%C1%C2%C3%C4%C5"
	"%C6%C7%C8%C9%CA%CB%CC%CD%CE%CF%D0%D1%D2%D3%D4%D5%D6%D7%D8%D9%DA%DB"
	"%DC%DD%DE%DF%E0%E1%E2%E3%E4%E5%E6%E7%E8%E9%EA%EB%EC%ED%EE%EF%F0%F1"
	"%F2%F3%F4%F5%F6%F7%F8%F9%FA%FB%FC%FD%FE%FF";

static void test_encode_all_bytes(void)
{
	uint8_t in[256], out[1024];
	struct bt_wr w;
	int i;

	for (i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	bt_wr_init(&w, out, sizeof out);
	bt_url_encode(&w, t_guarded(in, 256), 256);
	T_CHECK(bt_wr_ok(&w));
	T_EQ_MEM(out, w.len, all256, sizeof all256 - 1);
	T_EQ_UINT(bt_url_encoded_len(in, 256), sizeof all256 - 1);
}

static void test_encode_samples(void)
{
	static const struct { uint8_t b; const char *e; } s[] = {
		{ 0x00, "%00" }, { 0x20, "%20" }, { 0x7e, "~" }, { 0xff, "%FF" },
		{ '+', "%2B" }, { '/', "%2F" }, { '%', "%25" }, { '&', "%26" },
		{ '=', "%3D" }, { '.', "." }, { '-', "-" }, { '_', "_" },
		{ 'z', "z" }, { 0x7f, "%7F" }, { 0x80, "%80" }, { 0xab, "%AB" },
	};
	char out[8];
	struct bt_wr w;
	size_t i;

	for (i = 0; i < sizeof s / sizeof s[0]; i++) {
		bt_wr_init(&w, out, sizeof out);
		bt_url_encode(&w, &s[i].b, 1);
		T_EQ_MEM(out, w.len, s[i].e, strlen(s[i].e));
	}
}

static void test_encode_overflow_counts(void)
{
	uint8_t out[4];
	struct bt_wr w;
	static const uint8_t in[3] = { 'a', 0x00, 'b' };

	bt_wr_init(&w, out, sizeof out);
	bt_url_encode(&w, in, 3);
	T_CHECK(!bt_wr_ok(&w));
	T_EQ_UINT(w.len, 5); /* "a%00b" needed */
}

static void test_decode(void)
{
	uint8_t out[300];
	struct bt_url_err e;
	const char *s;
	long n;
	int i;

	s = "%41%42c%7e%7E+%20";
	n = bt_url_decode((const char *)t_guarded(s, strlen(s)), strlen(s), out, sizeof out, &e);
	T_EQ_INT(n, 7);
	T_EQ_MEM(out, 7, "ABc~~+ ", 7);

	/* Round trip of every byte value, from the hand-written text. */
	n = bt_url_decode((const char *)t_guarded(all256, sizeof all256 - 1),
			  sizeof all256 - 1, out, sizeof out, &e);
	T_EQ_INT(n, 256);
	for (i = 0; i < 256; i++)
		if (out[i] != i)
			T_FAILF("byte %d decoded as %d", i, out[i]);

	s = "ab%";
	T_EQ_INT(bt_url_decode((const char *)t_guarded(s, 3), 3, out, sizeof out, &e), BT_EINVAL);
	T_EQ_UINT(e.off, 2);
	T_EQ_STR(e.rule, "bad percent-escape: '%' needs two hex digits");
	s = "ab%4";
	T_EQ_INT(bt_url_decode((const char *)t_guarded(s, 4), 4, out, sizeof out, &e), BT_EINVAL);
	T_EQ_UINT(e.off, 2);
	s = "%G0";
	T_EQ_INT(bt_url_decode((const char *)t_guarded(s, 3), 3, out, sizeof out, &e), BT_EINVAL);
	T_EQ_UINT(e.off, 0);
	s = "%0g";
	T_EQ_INT(bt_url_decode(s, 3, out, sizeof out, &e), BT_EINVAL);
	s = "abcd";
	T_EQ_INT(bt_url_decode(s, 4, out, 3, &e), BT_ENOSPC);
	T_EQ_INT(bt_url_decode(s, 0, out, 0, &e), 0);
}

static void test_decode_in_place(void)
{
	char buf[] = "x%2Fy%00z";
	long n = bt_url_decode(buf, 9, (uint8_t *)buf, 9, NULL);

	T_EQ_INT(n, 5);
	T_EQ_MEM(buf, 5, "x/y\0z", 5);
}

int main(void)
{
	T_RUN(test_http_basic);
	T_RUN(test_https_default_and_explicit_port);
	T_RUN(test_udp);
	T_RUN(test_ipv6_literal);
	T_RUN(test_ipv4_host);
	T_RUN(test_bad_ports);
	T_RUN(test_missing_scheme_and_host);
	T_RUN(test_bad_chars);
	T_RUN(test_query_fragment_userinfo);
	T_RUN(test_length_caps);
	T_RUN(test_ip_literal);
	T_RUN(test_encode_all_bytes);
	T_RUN(test_encode_samples);
	T_RUN(test_encode_overflow_counts);
	T_RUN(test_decode);
	T_RUN(test_decode_in_place);
	return T_DONE();
}
