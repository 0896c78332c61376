/* test_magnet.c — magnet URIs: parse, produce, exact round trips.
 *
 * Expected magnets for the fixture torrents and the base32 form of T2's
 * info-hash come from python3 tests/data/meta/expected.py (hashlib,
 * base64.b32encode, urllib.parse.quote(safe='')). */
#include "t.h"

#include "magnet.h"
#include "meta.h"
#include "out.h"
#include "../data/meta/fixtures.h"

static uint8_t scratch[BT_MAGNET_MAX_LEN];
static char outbuf[4096];

static bool str_is(struct bt_meta_str s, const char *c)
{
	return s.len == strlen(c) && memcmp(s.p, c, s.len) == 0;
}

static int parse(const char *uri, struct bt_magnet *mg, struct bt_magnet_err *e)
{
	return bt_magnet_parse(mg, uri, strlen(uri), scratch, sizeof(scratch), e);
}

static void expect_err(const char *uri, int code, const char *rule, long off, int line)
{
	static struct bt_magnet mg;
	struct bt_magnet_err e;
	int rc = parse(uri, &mg, &e);

	if (rc != code || e.code != code || strcmp(e.rule, rule) != 0 ||
	    (off >= 0 && (long)e.off != off))
		T_FAILF("line %d: got %d \"%s\" at %zu, expected %d \"%s\" at %ld", line,
			rc, e.rule, e.off, code, rule, off);
}
#define EXPECT_ERR(uri, code, rule, off) expect_err((uri), (code), (rule), (off), __LINE__)

static const char *H40 = "6ac8dac708e65efa714eba73d6bece933eaa324c";

static void test_parse_all_fields(void)
{
	static struct bt_magnet mg;
	struct bt_magnet_err e;
	char hex[80];
	static const char uri[] =
		"magnet:?xt=urn:btih:6ac8dac708e65efa714eba73d6bece933eaa324c"
		"&dn=Some%20Name%2B%C3%A9"
		"&tr=http%3A%2F%2Fa%2F1&tr=udp%3A%2F%2Fb%3A6969"
		"&ws=http%3A%2F%2Fws%2F"
		"&x.pe=1.2.3.4%3A6881&x.pe=%5B%3A%3A1%5D%3A6881"
		"&so=0,2,4-6";

	T_EQ_INT(parse(uri, &mg, &e), BT_OK);
	T_CHECK(mg.has_btih && !mg.has_btmh);
	T_EQ_STR(bt_hex(mg.btih, 20, hex, sizeof(hex)), H40);
	T_CHECK(mg.has_dn);
	T_CHECK(str_is(mg.dn, "Some Name+\xc3\xa9"));
	T_EQ_UINT(mg.ntr, 2);
	T_CHECK(str_is(mg.tr[0], "http://a/1"));
	T_CHECK(str_is(mg.tr[1], "udp://b:6969"));
	T_EQ_UINT(mg.nws, 1);
	T_CHECK(str_is(mg.ws[0], "http://ws/"));
	T_EQ_UINT(mg.npe, 2);
	T_CHECK(str_is(mg.pe[0], "1.2.3.4:6881"));
	T_CHECK(str_is(mg.pe[1], "[::1]:6881"));
	T_EQ_UINT(mg.nso, 3);
	T_CHECK(mg.so[0].first == 0 && mg.so[0].last == 0);
	T_CHECK(mg.so[1].first == 2 && mg.so[1].last == 2);
	T_CHECK(mg.so[2].first == 4 && mg.so[2].last == 6);
	T_EQ_UINT(mg.ignored, 0);

	/* canonical input: writing it back gives the same bytes */
	T_EQ_UINT(bt_magnet_write(&mg, outbuf, sizeof(outbuf)), sizeof(uri) - 1);
	T_EQ_STR(outbuf, uri);
}

static void test_roundtrip_canonicalises(void)
{
	static struct bt_magnet mg;
	struct bt_magnet_err e;

	/* upper-case hex hash, lower-case escapes, '+' in dn, raw ':' in tr */
	T_EQ_INT(parse("MAGNET:?xt=URN:BTIH:6AC8DAC708E65EFA714EBA73D6BECE933EAA324C"
		       "&tr=http://a/1?x=1%2b2&dn=a+b%2fc&&foo=bar#frag", &mg, &e), BT_OK);
	T_EQ_UINT(mg.ignored, 1);
	T_CHECK(str_is(mg.dn, "a b/c"));
	T_CHECK(str_is(mg.tr[0], "http://a/1?x=1+2")); /* '+' literal outside dn */
	bt_magnet_write(&mg, outbuf, sizeof(outbuf));
	T_EQ_STR(outbuf, "magnet:?xt=urn:btih:6ac8dac708e65efa714eba73d6bece933eaa324c"
		 "&dn=a%20b%2Fc&tr=http%3A%2F%2Fa%2F1%3Fx%3D1%2B2");
}

static void test_base32(void)
{
	static struct bt_magnet mg;
	struct bt_magnet_err e;
	char hex[80];

	/* python3 -c 'import base64;print(base64.b32encode(bytes.fromhex("6ac8...324c")).decode())' */
	T_EQ_INT(parse("magnet:?xt=urn:btih:NLENVRYI4ZPPU4KOXJZ5NPWOSM7KUMSM", &mg, &e), BT_OK);
	T_EQ_STR(bt_hex(mg.btih, 20, hex, sizeof(hex)), H40);
	T_EQ_INT(parse("magnet:?xt=urn:btih:nlenvryi4zppu4koxjz5npwosm7kumsm", &mg, &e), BT_OK);
	T_EQ_STR(bt_hex(mg.btih, 20, hex, sizeof(hex)), H40);
	/* written back as hex */
	bt_magnet_write(&mg, outbuf, sizeof(outbuf));
	T_EQ_STR(outbuf, "magnet:?xt=urn:btih:6ac8dac708e65efa714eba73d6bece933eaa324c");
	EXPECT_ERR("magnet:?xt=urn:btih:NLENVRYI4ZPPU4KOXJZ5NPWOSM7KUMS1", BT_EINVAL,
		   "btih: not 32 base32 digits", 11);
	EXPECT_ERR("magnet:?xt=urn:btih:6ac8dac708e65efa714eba73d6bece933eaa324g", BT_EINVAL,
		   "btih: not 40 hex digits", 11);
	EXPECT_ERR("magnet:?xt=urn:btih:6ac8", BT_EINVAL,
		   "btih: must be 40 hex or 32 base32 digits", 11);
}

static void test_btmh(void)
{
	static struct bt_magnet mg;
	struct bt_magnet_err e;
	char hex[80];
	static const char hy[] =
		"magnet:?xt=urn:btih:9973c0fad75e78251df86b42d3ba3a08cddf9e32"
		"&xt=urn:btmh:1220f784ee4cd398ab646c65ae2f42ee0d5cf9827aa6acf2bc496a76772cd248b452"
		"&dn=hy";

	T_EQ_INT(parse(hy, &mg, &e), BT_OK);
	T_CHECK(mg.has_btih && mg.has_btmh);
	T_EQ_STR(bt_hex(mg.btmh, 32, hex, sizeof(hex)),
		 "f784ee4cd398ab646c65ae2f42ee0d5cf9827aa6acf2bc496a76772cd248b452");
	bt_magnet_write(&mg, outbuf, sizeof(outbuf));
	T_EQ_STR(outbuf, hy);
	/* xt.1 / xt.2 forms, same hash twice is fine */
	T_EQ_INT(parse("magnet:?xt.1=urn:btih:9973c0fad75e78251df86b42d3ba3a08cddf9e32"
		       "&xt.2=urn:btih:9973C0FAD75E78251DF86B42D3BA3A08CDDF9E32", &mg, &e), BT_OK);
	T_CHECK(mg.has_btih && !mg.has_btmh);
	EXPECT_ERR("magnet:?xt=urn:btih:9973c0fad75e78251df86b42d3ba3a08cddf9e32"
		   "&xt=urn:btih:6ac8dac708e65efa714eba73d6bece933eaa324c", BT_EINVAL,
		   "two different btih", 64);
	EXPECT_ERR("magnet:?xt=urn:btmh:1114f784ee4cd398ab646c65ae2f42ee0d5cf9827aa6", BT_EUNSUPP,
		   "btmh: not a sha2-256 multihash (1220...)", 11);
	EXPECT_ERR("magnet:?xt=urn:btmh:1220f784", BT_EINVAL,
		   "btmh: must be 1220 followed by 64 hex digits", 11);
	/* only a v2 hash: fine */
	T_EQ_INT(parse("magnet:?xt=urn:btmh:1220f784ee4cd398ab646c65ae2f42ee0d5cf9827aa6acf2bc496a76772cd248b452",
		       &mg, &e), BT_OK);
	T_CHECK(!mg.has_btih && mg.has_btmh);
}

static void test_errors(void)
{
	static struct bt_magnet mg;
	struct bt_magnet_err e;
	static char many[BT_MAGNET_MAX_LEN];
	size_t n, i;

	EXPECT_ERR("http://x/", BT_EINVAL, "does not start with \"magnet:?\"", 0);
	EXPECT_ERR("magnet:", BT_EINVAL, "does not start with \"magnet:?\"", 0);
	EXPECT_ERR("magnet:?dn=x", BT_EINVAL, "no xt=urn:btih or xt=urn:btmh", 0);
	EXPECT_ERR("magnet:?", BT_EINVAL, "no xt=urn:btih or xt=urn:btmh", 0);
	EXPECT_ERR("magnet:?xt=urn:sha1:abc", BT_EINVAL, "no xt=urn:btih or xt=urn:btmh", 0);
	EXPECT_ERR("magnet:?dn=a%4", BT_EINVAL, "bad percent-escape", 12);
	EXPECT_ERR("magnet:?dn=a%zz", BT_EINVAL, "bad percent-escape", 12);
	EXPECT_ERR("magnet:?dn=%", BT_EINVAL, "bad percent-escape", 11);
	EXPECT_ERR("magnet:?dn=a\tb", BT_EINVAL, "control character in magnet URI", 12);
	EXPECT_ERR("magnet:?dn", BT_EINVAL, "magnet parameter has no '='", 8);
	EXPECT_ERR("magnet:?xt=urn:btih:9973c0fad75e78251df86b42d3ba3a08cddf9e32&tr=a%00b",
		   BT_EINVAL, "NUL byte in a value", 64);
	EXPECT_ERR("magnet:?so=5-3", BT_EINVAL, "so: range runs backwards", 11);
	EXPECT_ERR("magnet:?so=1,", BT_EINVAL, "so: expected a file index", 11);
	EXPECT_ERR("magnet:?so=", BT_EINVAL, "so: expected a file index", 11);
	EXPECT_ERR("magnet:?so=1-", BT_EINVAL, "so: expected a file index", 11);
	EXPECT_ERR("magnet:?so=1x", BT_EINVAL, "so: unexpected character", 11);
	EXPECT_ERR("magnet:?so=4294967296", BT_EINVAL, "so: file index exceeds 2^32-1", 11);
	T_EQ_INT(parse("magnet:?xt=urn:btih:9973c0fad75e78251df86b42d3ba3a08cddf9e32"
		       "&so=4294967295", &mg, &e), BT_OK);
	T_EQ_UINT(mg.so[0].last, 4294967295u);

	/* 257 tr parameters: one past the cap */
	n = (size_t)snprintf(many, sizeof(many), "magnet:?xt=urn:btih:%s", H40);
	for (i = 0; i <= BT_MAGNET_MAX_TR; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "&tr=u%zu", i);
	T_EQ_INT(parse(many, &mg, &e), BT_ETOOBIG);
	T_EQ_STR(e.rule, "too many tr parameters");
	many[n - 8] = 0; /* drop "&tr=u256": exactly at the cap */
	T_EQ_INT(parse(many, &mg, &e), BT_OK);
	T_EQ_UINT(mg.ntr, BT_MAGNET_MAX_TR);

	/* the scratch buffer must hold the URI; longer URIs are refused */
	T_EQ_INT(bt_magnet_parse(&mg, "magnet:?dn=x", 12, scratch, 11, &e), BT_ENOSPC);
	T_EQ_INT(bt_magnet_parse(&mg, many, BT_MAGNET_MAX_LEN + 1, scratch, sizeof(scratch), &e),
		 BT_ETOOBIG);
	T_EQ_INT(bt_magnet_parse(&mg, "magnet:?dn=x", 12, scratch, 12, NULL), BT_EINVAL);
}

/* Input flush against a PROT_NONE page; every prefix parses or fails
 * without reading past it. */
static void test_guarded_prefixes(void)
{
	static struct bt_magnet mg;
	struct bt_magnet_err e;
	static const char uri[] = "magnet:?xt=urn:btih:6ac8dac708e65efa714eba73d6bece933eaa324c"
				  "&dn=a%20b&so=1-3,7";
	size_t k;

	for (k = 0; k <= sizeof(uri) - 1; k++) {
		const uint8_t *g = t_guarded(uri, k);
		int rc = bt_magnet_parse(&mg, (const char *)g, k, scratch, sizeof(scratch), &e);
		T_CHECK(rc <= 0);
	}
	T_EQ_INT(bt_magnet_parse(&mg, (const char *)t_guarded(uri, sizeof(uri) - 1),
				 sizeof(uri) - 1, scratch, sizeof(scratch), &e), BT_OK);
	T_EQ_UINT(mg.nso, 2);
	T_CHECK(mg.so[0].first == 1 && mg.so[0].last == 3 && mg.so[1].first == 7);
}

static size_t build(void (*fn)(struct bt_wr *), uint8_t *buf, size_t cap)
{
	struct bt_wr w;
	bt_wr_init(&w, buf, cap);
	fn(&w);
	return w.len;
}

static void test_from_meta(void)
{
	static uint8_t tb[4096];
	static struct bt_magnet mg;
	struct bt_magnet_err e;
	struct bt_meta m;
	struct bt_meta_err me;
	struct bt_wr w;
	size_t n, need, i;
	char small[16];
	static const char t2[] =
		"magnet:?xt=urn:btih:6ac8dac708e65efa714eba73d6bece933eaa324c&dn=multi"
		"&tr=http%3A%2F%2Fa%2F1&tr=http%3A%2F%2Fa%2F2&tr=udp%3A%2F%2Fb%3A6969"
		"&ws=http%3A%2F%2Fws%2F";

	n = build(fx_t2, tb, sizeof(tb));
	T_EQ_INT(bt_meta_parse(&m, tb, n, NULL, &me), BT_OK);
	need = bt_magnet_from_meta(&m, outbuf, sizeof(outbuf));
	T_EQ_UINT(need, sizeof(t2) - 1);
	T_EQ_STR(outbuf, t2);
	/* snprintf convention: the length needed, a truncated NUL-terminated copy */
	T_EQ_UINT(bt_magnet_from_meta(&m, small, sizeof(small)), need);
	T_EQ_STR(small, "magnet:?xt=urn:");
	T_EQ_UINT(bt_magnet_from_meta(&m, NULL, 0), need);
	/* and back: the parse gives the torrent's own values */
	T_EQ_INT(parse(outbuf, &mg, &e), BT_OK);
	T_EQ_MEM(mg.btih, 20, m.info_hash_v1, 20);
	T_CHECK(mg.dn.len == m.name.len && memcmp(mg.dn.p, m.name.p, m.name.len) == 0);
	T_EQ_UINT(mg.ntr, m.ntrackers);
	for (i = 0; i < mg.ntr && i < m.ntrackers; i++)
		T_EQ_MEM(mg.tr[i].p, mg.tr[i].len, m.trackers[i].url.p, m.trackers[i].url.len);
	bt_meta_free(&m);

	n = build(fx_t4, tb, sizeof(tb));
	T_EQ_INT(bt_meta_parse(&m, tb, n, NULL, &me), BT_OK);
	bt_magnet_from_meta(&m, outbuf, sizeof(outbuf));
	T_EQ_STR(outbuf, "magnet:?xt=urn:btih:9973c0fad75e78251df86b42d3ba3a08cddf9e32"
		 "&xt=urn:btmh:1220f784ee4cd398ab646c65ae2f42ee0d5cf9827aa6acf2bc496a76772cd248b452"
		 "&dn=hy");
	bt_meta_free(&m);

	bt_wr_init(&w, tb, sizeof(tb));
	fx_t3(&w, 16384, 40000, 0);
	T_EQ_INT(bt_meta_parse(&m, tb, w.len, NULL, &me), BT_OK);
	bt_magnet_from_meta(&m, outbuf, sizeof(outbuf));
	T_EQ_STR(outbuf, "magnet:?xt=urn:btmh:1220"
		 "8213913ea5dd9953b04fdf2a0c675aa71e5e409b3cfd6bfface79b35b05e5962"
		 "&dn=v2&tr=http%3A%2F%2Ft%2F");
	bt_meta_free(&m);
}

int main(void)
{
	T_RUN(test_parse_all_fields);
	T_RUN(test_roundtrip_canonicalises);
	T_RUN(test_base32);
	T_RUN(test_btmh);
	T_RUN(test_errors);
	T_RUN(test_guarded_prefixes);
	T_RUN(test_from_meta);
	return T_DONE();
}
