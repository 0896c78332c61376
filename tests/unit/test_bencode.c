/* test_bencode.c — the bencode decoder, accessors and encoder.
 *
 * Every input goes through t_guarded(), so it ends flush against an
 * unreadable page: a read past len faults even without ASan. */
#include "t.h"
#include "bencode.h"

#include <limits.h>

#define L(s) (s), (sizeof(s) - 1) /* literal and its length, NULs included */

struct exp {
	uint8_t type;
	uint32_t off, len, skip, n;
};

enum { I = BT_BE_INT, S = BT_BE_STR, LST = BT_BE_LIST, D = BT_BE_DICT };

static struct bt_be_tok toks[4096];
static struct bt_be_doc doc;
static struct bt_be_err err;

static long dec_opts(const void *s, size_t len, unsigned flags, unsigned depth,
		     size_t cap)
{
	struct bt_be_opts o = { flags, depth };
	const uint8_t *g = t_guarded(s, len);

	memset(toks, 0xa5, sizeof(toks));
	memset(&err, 0x5a, sizeof(err));
	return bt_be_decode(&doc, g, len, toks, cap, &o, &err);
}

static long dec(const void *s, size_t len)
{
	return dec_opts(s, len, 0, 0, sizeof(toks) / sizeof(toks[0]));
}

/* Structural invariants of a successful decode: spans nest, skip sums up,
 * n matches the children, strings end where their payload ends. */
static int check_tree(const struct bt_be_doc *d, size_t i, size_t lim)
{
	const struct bt_be_tok *t = &d->toks[i];
	size_t j, kids = 0, end;

	if (t->skip < 1 || i + t->skip > lim)
		return 0;
	if (t->len < 2 || t->off + t->len > d->len)
		return 0;
	end = i + t->skip;
	switch (t->type) {
	case BT_BE_INT:
		return t->skip == 1 && d->buf[t->off] == 'i' &&
		       d->buf[t->off + t->len - 1] == 'e';
	case BT_BE_STR:
		return t->skip == 1 && t->n <= t->len - 2 &&
		       d->buf[t->off + t->len - t->n - 1] == ':';
	case BT_BE_LIST:
	case BT_BE_DICT:
		if (d->buf[t->off] != (t->type == BT_BE_LIST ? 'l' : 'd') ||
		    d->buf[t->off + t->len - 1] != 'e')
			return 0;
		for (j = i + 1; j < end; j += d->toks[j].skip, kids++) {
			if (!check_tree(d, j, end))
				return 0;
			if (d->toks[j].off < t->off + 1 ||
			    d->toks[j].off + d->toks[j].len > t->off + t->len - 1)
				return 0;
			if (t->type == BT_BE_DICT && kids % 2 == 0 &&
			    d->toks[j].type != BT_BE_STR)
				return 0;
		}
		return j == end && kids == (t->type == BT_BE_DICT ? 2 * (size_t)t->n : t->n);
	}
	return 0;
}

static void expect_toks(const struct exp *e, size_t ne)
{
	size_t i;

	T_EQ_UINT(doc.ntoks, ne);
	for (i = 0; i < ne && i < doc.ntoks; i++) {
		const struct bt_be_tok *t = &toks[i];
		if (t->type != e[i].type || t->off != e[i].off || t->len != e[i].len ||
		    t->skip != e[i].skip || t->n != e[i].n) {
			T_FAILF("token %zu = {%u,%u,%u,%u,%u}, expected {%u,%u,%u,%u,%u}", i,
				t->type, t->off, t->len, t->skip, t->n, e[i].type,
				e[i].off, e[i].len, e[i].skip, e[i].n);
			return;
		}
	}
	T_CHECK(doc.ntoks == 0 || check_tree(&doc, 0, doc.ntoks));
}

#define EXPECT_TOKS(...) do { \
	static const struct exp e_[] = { __VA_ARGS__ }; \
	expect_toks(e_, sizeof(e_) / sizeof(e_[0])); \
} while (0)

#define EXPECT_OK(s) do { \
	T_EQ_INT(dec(L(s)), sizeof(s) - 1); \
	T_EQ_INT(err.code, BT_OK); \
	T_EQ_UINT(err.tolerated, 0); \
	T_EQ_STR(err.rule, "ok"); \
} while (0)

static void test_int(void)
{
	int64_t v;

	EXPECT_OK("i0e");
	EXPECT_TOKS({ I, 0, 3, 1, 0 });
	T_CHECK(bt_be_int(&doc, 0, &v));
	T_EQ_INT(v, 0);

	EXPECT_OK("i42e");
	EXPECT_TOKS({ I, 0, 4, 1, 0 });
	T_CHECK(bt_be_int(&doc, 0, &v));
	T_EQ_INT(v, 42);

	EXPECT_OK("i-42e");
	T_CHECK(bt_be_int(&doc, 0, &v));
	T_EQ_INT(v, -42);

	EXPECT_OK("i9223372036854775807e");
	EXPECT_TOKS({ I, 0, 21, 1, 0 });
	T_CHECK(bt_be_int(&doc, 0, &v));
	T_CHECK(v == INT64_MAX);

	EXPECT_OK("i-9223372036854775808e");
	EXPECT_TOKS({ I, 0, 22, 1, 0 });
	T_CHECK(bt_be_int(&doc, 0, &v));
	T_CHECK(v == INT64_MIN);

	EXPECT_OK("i-1e");
	T_CHECK(bt_be_int(&doc, 0, &v));
	T_EQ_INT(v, -1);
}

static void test_str(void)
{
	const uint8_t *p;
	size_t n;

	EXPECT_OK("0:");
	EXPECT_TOKS({ S, 0, 2, 1, 0 });
	T_CHECK(bt_be_str(&doc, 0, &p, &n));
	T_EQ_UINT(n, 0);
	T_CHECK(p == doc.buf + 2);

	EXPECT_OK("4:spam");
	EXPECT_TOKS({ S, 0, 6, 1, 4 });
	T_CHECK(bt_be_str(&doc, 0, &p, &n));
	T_EQ_MEM(p, n, "spam", 4);
	T_CHECK(p == doc.buf + 2);

	/* Binary payload: NUL, 'e', ':', digits; no str*() anywhere. */
	EXPECT_OK("6:\0e:1\xff" "d");
	EXPECT_TOKS({ S, 0, 8, 1, 6 });
	T_CHECK(bt_be_str(&doc, 0, &p, &n));
	T_EQ_MEM(p, n, "\0e:1\xff" "d", 6);

	EXPECT_OK("10:0123456789");
	EXPECT_TOKS({ S, 0, 13, 1, 10 });
	T_CHECK(bt_be_str(&doc, 0, &p, &n));
	T_EQ_MEM(p, n, "0123456789", 10);
}

static void test_list(void)
{
	int64_t v;

	EXPECT_OK("le");
	EXPECT_TOKS({ LST, 0, 2, 1, 0 });
	T_EQ_INT(bt_be_first(&doc, 0), -1);

	EXPECT_OK("l4:spami3ee");
	EXPECT_TOKS({ LST, 0, 11, 3, 2 }, { S, 1, 6, 1, 4 }, { I, 7, 3, 1, 0 });
	T_EQ_INT(bt_be_first(&doc, 0), 1);
	T_EQ_UINT(bt_be_next(&doc, 1), 2);
	T_CHECK(bt_be_int(&doc, 2, &v));
	T_EQ_INT(v, 3);

	EXPECT_OK("llelee");
	EXPECT_TOKS({ LST, 0, 6, 3, 2 }, { LST, 1, 2, 1, 0 }, { LST, 3, 2, 1, 0 });
}

static void test_dict(void)
{
	const uint8_t *p;
	size_t n;

	EXPECT_OK("de");
	EXPECT_TOKS({ D, 0, 2, 1, 0 });
	T_EQ_INT(bt_be_first(&doc, 0), -1);
	T_EQ_INT(bt_be_dict_get(&doc, 0, "x"), -1);

	/* BEP 3's examples. */
	EXPECT_OK("d3:cow3:moo4:spam4:eggse");
	EXPECT_TOKS({ D, 0, 24, 5, 2 }, { S, 1, 5, 1, 3 }, { S, 6, 5, 1, 3 },
		    { S, 11, 6, 1, 4 }, { S, 17, 6, 1, 4 });
	T_CHECK(bt_be_dict_str(&doc, 0, "cow", &p, &n));
	T_EQ_MEM(p, n, "moo", 3);
	T_CHECK(bt_be_dict_str(&doc, 0, "spam", &p, &n));
	T_EQ_MEM(p, n, "eggs", 4);
	T_EQ_INT(bt_be_dict_get(&doc, 0, "spam"), 4);
	T_EQ_INT(bt_be_dict_get(&doc, 0, "spa"), -1);
	T_EQ_INT(bt_be_dict_get(&doc, 0, "spamm"), -1);
	T_EQ_INT(bt_be_dict_get(&doc, 0, "moo"), -1); /* a value, not a key */

	EXPECT_OK("d4:spaml1:a1:bee");
	EXPECT_TOKS({ D, 0, 16, 5, 1 }, { S, 1, 6, 1, 4 }, { LST, 7, 8, 3, 2 },
		    { S, 8, 3, 1, 1 }, { S, 11, 3, 1, 1 });
	T_EQ_INT(bt_be_dict_get(&doc, 0, "spam"), 2);

	/* Raw byte order: shorter first, 'Z' < 'a', 0x01 < 0xff, "" first. */
	EXPECT_OK("d0:0:1:a0:2:ab0:e");
	EXPECT_OK("d1:Z0:1:a0:e");
	EXPECT_OK("d1:\x01" "0:1:\xff" "0:e");
	T_EQ_INT(bt_be_dict_getn(&doc, 0, "\xff", 1), 4);
	T_EQ_INT(bt_be_dict_getn(&doc, 0, "\x01", 1), 2);
	/* Keys with NUL are found by length, not by C string. */
	EXPECT_OK("d2:a\0" "i1e2:a\x01" "i2ee");
	T_EQ_INT(bt_be_dict_getn(&doc, 0, "a\0", 2), 2);
	T_EQ_INT(bt_be_dict_getn(&doc, 0, "a\x01", 2), 4);
	T_EQ_INT(bt_be_dict_get(&doc, 0, "a"), -1);
}

static void test_nested(void)
{
	const char *s = "d1:ali1ei2ee1:bd1:cleee";
	int64_t v;
	long b;

	T_EQ_INT(dec(s, 23), 23);
	EXPECT_TOKS({ D, 0, 23, 9, 2 },
		    { S, 1, 3, 1, 1 },
		    { LST, 4, 8, 3, 2 },
		    { I, 5, 3, 1, 0 },
		    { I, 8, 3, 1, 0 },
		    { S, 12, 3, 1, 1 },
		    { D, 15, 7, 3, 1 },
		    { S, 16, 3, 1, 1 },
		    { LST, 19, 2, 1, 0 });
	T_EQ_INT(bt_be_dict_get(&doc, 0, "a"), 2);
	b = bt_be_dict_get(&doc, 0, "b");
	T_EQ_INT(b, 6);
	T_EQ_INT(bt_be_dict_get(&doc, (size_t)b, "c"), 8);
	T_EQ_INT(bt_be_first(&doc, 2), 3);
	T_CHECK(bt_be_int(&doc, bt_be_next(&doc, 3), &v));
	T_EQ_INT(v, 2);
	/* Next sibling of the "a" value skips its whole subtree. */
	T_EQ_UINT(bt_be_next(&doc, 2), 5);
}

/* A torrent-shaped document; the info dict's bytes must come back exactly,
 * since they are what gets hashed.  The pieces string is full of bytes
 * that look like bencode. */
#define PIECES "\0\x01" "e:" "i1e" "le" "de" "\xff\xfe\xfd" "012345"
#define INFO "d6:lengthi12345e4:name5:a.txt12:piece lengthi16384e" \
	     "6:pieces20:" PIECES "e"
#define TORRENT "d8:announce20:http://t.example/ann4:info" INFO "e"

static void test_info_span(void)
{
	const uint8_t *p;
	size_t n;
	int64_t v;
	long info;

	T_EQ_UINT(sizeof(PIECES) - 1, 20);
	T_EQ_UINT(sizeof(INFO) - 1, 83);
	T_EQ_INT(dec(L(TORRENT)), 124);
	info = bt_be_dict_get(&doc, 0, "info");
	EXPECT_TOKS({ D, 0, 124, 13, 2 },
		    { S, 1, 10, 1, 8 },
		    { S, 11, 23, 1, 20 },
		    { S, 34, 6, 1, 4 },
		    { D, 40, 83, 9, 4 },
		    { S, 41, 8, 1, 6 },
		    { I, 49, 7, 1, 0 },
		    { S, 56, 6, 1, 4 },
		    { S, 62, 7, 1, 5 },
		    { S, 69, 15, 1, 12 },
		    { I, 84, 7, 1, 0 },
		    { S, 91, 8, 1, 6 },
		    { S, 99, 23, 1, 20 });
	/* Token 3 is the key "info"; its value is token 4. */
	T_EQ_INT(info, 4);
	bt_be_raw(&doc, (size_t)info, &p, &n);
	T_CHECK(p == doc.buf + 40);
	T_EQ_MEM(p, n, INFO, sizeof(INFO) - 1);
	T_CHECK(bt_be_dict_int(&doc, (size_t)info, "length", &v));
	T_EQ_INT(v, 12345);
	T_CHECK(bt_be_dict_int(&doc, (size_t)info, "piece length", &v));
	T_EQ_INT(v, 16384);
	T_CHECK(bt_be_dict_str(&doc, (size_t)info, "pieces", &p, &n));
	T_EQ_MEM(p, n, PIECES, 20);
	T_CHECK(bt_be_dict_str(&doc, (size_t)info, "name", &p, &n));
	T_EQ_MEM(p, n, "a.txt", 5);
	T_CHECK(bt_be_dict_str(&doc, 0, "announce", &p, &n));
	T_EQ_MEM(p, n, "http://t.example/ann", 20);
	/* Typed lookups refuse the wrong type. */
	T_CHECK(!bt_be_dict_int(&doc, (size_t)info, "name", &v));
	T_CHECK(!bt_be_dict_str(&doc, (size_t)info, "length", &p, &n));
	T_CHECK(!bt_be_dict_str(&doc, 0, "info", &p, &n));
	T_CHECK(!bt_be_dict_int(&doc, (size_t)info, "private", &v));
}

static const struct {
	const char *s;
	size_t len;
} valid_docs[] = {
	{ L("i0e") }, { L("i-9223372036854775808e") }, { L("0:") },
	{ L("12:hello world!") }, { L("le") }, { L("de") },
	{ L("l4:spami3ee") }, { L("d3:cow3:moo4:spam4:eggse") },
	{ L("d1:ali1ei2ee1:bd1:cleee") }, { L(TORRENT) },
	{ L("lllleeee") }, { L("d0:de1:ad0:lllleeeeee") },
};

/* Every proper prefix, including the empty one, needs more; the whole
 * document decodes to the same tokens whatever came before. */
static void test_every_prefix(void)
{
	static struct bt_be_tok ref[64];
	size_t i, k, nref;
	unsigned f;

	for (i = 0; i < sizeof(valid_docs) / sizeof(valid_docs[0]); i++) {
		const char *s = valid_docs[i].s;
		size_t len = valid_docs[i].len;
		T_EQ_INT(dec(s, len), len);
		nref = doc.ntoks;
		T_CHECK(nref <= 64 && check_tree(&doc, 0, nref));
		memcpy(ref, toks, nref * sizeof(ref[0]));
		for (f = 0; f < 4; f++) {
			for (k = 0; k < len; k++) {
				long rc = dec_opts(s, k, f, 0, 4096);
				if (rc != BT_NEED_MORE) {
					T_FAILF("doc %zu flags %u prefix %zu: %ld (%s at %zu)",
						i, f, k, rc, err.rule, err.off);
					break;
				}
				T_EQ_INT(err.code, BT_NEED_MORE);
				T_EQ_UINT(err.off, k);
				T_EQ_UINT(doc.ntoks, 0);
			}
			T_EQ_INT(dec_opts(s, len, f, 0, 4096), len);
			T_EQ_UINT(doc.ntoks, nref);
			T_CHECK(memcmp(toks, ref, nref * sizeof(ref[0])) == 0);
		}
	}
}

/* One value then more bytes: an error unless trailing bytes are allowed,
 * in which case the result is the same as without them. */
static void test_trailing(void)
{
	char buf[256];
	size_t i, len;

	for (i = 0; i < sizeof(valid_docs) / sizeof(valid_docs[0]); i++) {
		len = valid_docs[i].len;
		memcpy(buf, valid_docs[i].s, len);
		memcpy(buf + len, "i1e", 3);
		T_EQ_INT(dec(buf, len + 3), BT_EINVAL);
		T_EQ_UINT(err.off, len);
		T_EQ_STR(err.rule, "trailing bytes after value");
		T_EQ_INT(dec_opts(buf, len + 3, BT_BE_ALLOW_TRAILING, 0, 4096), len);
		T_EQ_INT(err.code, BT_OK);
		T_EQ_UINT(toks[0].len, len);
		/* Even garbage after the value is not looked at. */
		buf[len] = 'x';
		T_EQ_INT(dec_opts(buf, len + 1, BT_BE_ALLOW_TRAILING, 0, 4096), len);
	}
}

static const struct {
	const char *s;
	size_t len;
	int code;
	size_t off;
	const char *rule;
} bad_docs[] = {
	{ L("i03e"), BT_EINVAL, 1, "leading zero in integer" },
	{ L("i03"), BT_EINVAL, 1, "leading zero in integer" },
	{ L("i00e"), BT_EINVAL, 1, "leading zero in integer" },
	{ L("i-03e"), BT_EINVAL, 2, "leading zero in integer" },
	{ L("i-00e"), BT_EINVAL, 2, "leading zero in integer" },
	{ L("i-0e"), BT_EINVAL, 1, "negative zero" },
	{ L("ie"), BT_EINVAL, 1, "empty integer" },
	{ L("i-e"), BT_EINVAL, 2, "empty integer" },
	{ L("i1x"), BT_EINVAL, 2, "unexpected byte in integer" },
	{ L("i+1e"), BT_EINVAL, 1, "unexpected byte in integer" },
	{ L("i 1e"), BT_EINVAL, 1, "unexpected byte in integer" },
	{ L("i1.5e"), BT_EINVAL, 2, "unexpected byte in integer" },
	{ L("i--1e"), BT_EINVAL, 2, "unexpected byte in integer" },
	{ L("i\0e"), BT_EINVAL, 1, "unexpected byte in integer" },
	{ L("05:hello"), BT_EINVAL, 0, "leading zero in string length" },
	{ L("00:"), BT_EINVAL, 0, "leading zero in string length" },
	{ L("3x"), BT_EINVAL, 1, "unexpected byte in string length" },
	{ L("3e"), BT_EINVAL, 1, "unexpected byte in string length" },
	{ L("-3:abc"), BT_EINVAL, 0, "unexpected byte at start of value" },
	{ L("e"), BT_EINVAL, 0, "unexpected byte at start of value" },
	{ L("x"), BT_EINVAL, 0, "unexpected byte at start of value" },
	{ L(" i1e"), BT_EINVAL, 0, "unexpected byte at start of value" },
	{ L("lxe"), BT_EINVAL, 1, "unexpected byte at start of value" },
	{ L("d4:spam4:eggs3:cow3:mooe"), BT_EINVAL, 13, "dictionary keys not sorted" },
	{ L("d1:b0:1:a0:e"), BT_EINVAL, 6, "dictionary keys not sorted" },
	{ L("d2:ab0:1:a0:e"), BT_EINVAL, 7, "dictionary keys not sorted" },
	{ L("d1:a0:1:Z0:e"), BT_EINVAL, 6, "dictionary keys not sorted" },
	{ L("d1:\xff" "0:1:\x01" "0:e"), BT_EINVAL, 6, "dictionary keys not sorted" },
	{ L("d1:a0:0:0:e"), BT_EINVAL, 6, "dictionary keys not sorted" },
	/* Found as soon as the key is complete, before its value. */
	{ L("d1:b0:1:a"), BT_EINVAL, 6, "dictionary keys not sorted" },
	{ L("d3:cow3:moo3:cow3:mooe"), BT_EINVAL, 11, "duplicate dictionary key" },
	{ L("d0:0:0:0:e"), BT_EINVAL, 5, "duplicate dictionary key" },
	/* Order is per dict: the inner dict restarts it, the outer resumes. */
	{ L("d1:bd1:a0:e1:ai1ee"), BT_EINVAL, 11, "dictionary keys not sorted" },
	{ L("ld1:b0:1:a0:ee"), BT_EINVAL, 7, "dictionary keys not sorted" },
	{ L("di1e3:mooe"), BT_EINVAL, 1, "dictionary key is not a string" },
	{ L("dle"), BT_EINVAL, 1, "dictionary key is not a string" },
	{ L("dde"), BT_EINVAL, 1, "dictionary key is not a string" },
	{ L("d1:ai1ei2ei3ee"), BT_EINVAL, 7, "dictionary key is not a string" },
	{ L("dxe"), BT_EINVAL, 1, "unexpected byte at start of value" },
	{ L("d3:cowe"), BT_EINVAL, 6, "dictionary key without value" },
	{ L("i1ei2e"), BT_EINVAL, 3, "trailing bytes after value" },
	{ L("le "), BT_EINVAL, 2, "trailing bytes after value" },
	{ L("4:spamx"), BT_EINVAL, 6, "trailing bytes after value" },
	{ L("lee"), BT_EINVAL, 2, "trailing bytes after value" },
	{ L("0:\0"), BT_EINVAL, 2, "trailing bytes after value" },
	/* Valid bencode (integers are unbounded) that we do not represent. */
	{ L("i9223372036854775808e"), BT_EUNSUPP, 19, "integer overflows 64 bits" },
	{ L("i-9223372036854775809e"), BT_EUNSUPP, 20, "integer overflows 64 bits" },
	{ L("i99999999999999999999"), BT_EUNSUPP, 19, "integer overflows 64 bits" },
	{ L("i18446744073709551616e"), BT_EUNSUPP, 20, "integer overflows 64 bits" },
	/* Hostile lengths.  A string must end within 2^32 - 1 bytes of the
	 * start of the input; one that cannot is refused at once. */
	{ L("4294967295:"), BT_ETOOBIG, 0, "string length too large" },
	{ L("4294967296"), BT_ETOOBIG, 0, "string length too large" },
	{ L("99999999999999999999:"), BT_ETOOBIG, 0, "string length too large" },
	{ L("18446744073709551617:x"), BT_ETOOBIG, 0, "string length too large" },
	{ L("4294967285:"), BT_ETOOBIG, 0, "string length too large" },
	{ L("l4294967284:"), BT_ETOOBIG, 1, "string length too large" },
	{ L("d1:a4294967281:"), BT_ETOOBIG, 4, "string length too large" },
	/* Plausible lengths with too few bytes are only truncated. */
	{ L("4294967284:"), BT_NEED_MORE, 11, "truncated value" },
	{ L("l4294967283:"), BT_NEED_MORE, 12, "truncated value" },
	{ L("2147483648:abc"), BT_NEED_MORE, 14, "truncated value" },
	{ L("5:ab"), BT_NEED_MORE, 4, "truncated value" },
	{ L("d3:foo"), BT_NEED_MORE, 6, "truncated value" },
	{ L("i12"), BT_NEED_MORE, 3, "truncated value" },
	{ L(""), BT_NEED_MORE, 0, "truncated value" },
};

static void test_strict_rules(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
		long rc = dec(bad_docs[i].s, bad_docs[i].len);
		if (rc != bad_docs[i].code || err.code != bad_docs[i].code ||
		    err.off != bad_docs[i].off || !err.rule ||
		    strcmp(err.rule, bad_docs[i].rule) != 0) {
			T_FAILF("bad_docs[%zu]: %ld/%d at %zu \"%s\", expected %d at %zu \"%s\"",
				i, rc, err.code, err.off, err.rule ? err.rule : "(null)",
				bad_docs[i].code, bad_docs[i].off, bad_docs[i].rule);
		}
		T_EQ_UINT(doc.ntoks, 0);
		T_EQ_UINT(err.tolerated, 0);
	}
}

static void test_lenient(void)
{
	const uint8_t *p;
	size_t n;
	int64_t v;
	const unsigned LEN = BT_BE_LENIENT;

	T_EQ_INT(dec_opts(L("i03e"), LEN, 0, 8), 4);
	T_EQ_INT(err.code, BT_OK);
	T_EQ_UINT(err.tolerated, BT_BE_TOL_LEADZERO);
	T_EQ_UINT(err.off, 1); /* where the first tolerated deviation is */
	T_EQ_STR(err.rule, "leading zero in integer");
	T_CHECK(bt_be_int(&doc, 0, &v));
	T_EQ_INT(v, 3);

	T_EQ_INT(dec_opts(L("i-0e"), LEN, 0, 8), 4);
	T_EQ_UINT(err.tolerated, BT_BE_TOL_NEGZERO);
	T_EQ_STR(err.rule, "negative zero");
	T_CHECK(bt_be_int(&doc, 0, &v));
	T_EQ_INT(v, 0);

	T_EQ_INT(dec_opts(L("i-00e"), LEN, 0, 8), 5);
	T_EQ_UINT(err.tolerated, BT_BE_TOL_LEADZERO | BT_BE_TOL_NEGZERO);
	T_EQ_UINT(err.off, 2);
	T_CHECK(bt_be_int(&doc, 0, &v));
	T_EQ_INT(v, 0);

	/* Leading zeros do not count towards the 64-bit range. */
	T_EQ_INT(dec_opts(L("i-00000009223372036854775808e"), LEN, 0, 8), 29);
	T_CHECK(bt_be_int(&doc, 0, &v));
	T_CHECK(v == INT64_MIN);

	T_EQ_INT(dec_opts(L("05:hello"), LEN, 0, 8), 8);
	T_EQ_UINT(err.tolerated, BT_BE_TOL_LEADZERO);
	T_EQ_STR(err.rule, "leading zero in string length");
	EXPECT_TOKS({ S, 0, 8, 1, 5 });
	T_CHECK(bt_be_str(&doc, 0, &p, &n));
	T_EQ_MEM(p, n, "hello", 5);
	T_EQ_INT(dec_opts(L("0000000000000000000000005:hello"), LEN, 0, 8), 31);
	T_CHECK(bt_be_str(&doc, 0, &p, &n));
	T_EQ_MEM(p, n, "hello", 5);

	T_EQ_INT(dec_opts(L("d4:spam4:eggs3:cow3:mooe"), LEN, 0, 8), 24);
	T_EQ_UINT(err.tolerated, BT_BE_TOL_UNSORTED);
	T_EQ_UINT(err.off, 13);
	T_EQ_STR(err.rule, "dictionary keys not sorted");
	T_CHECK(bt_be_dict_str(&doc, 0, "cow", &p, &n));
	T_EQ_MEM(p, n, "moo", 3);
	T_CHECK(bt_be_dict_str(&doc, 0, "spam", &p, &n));
	T_EQ_MEM(p, n, "eggs", 4);

	/* A duplicate: both pairs are tokens, lookup finds the first. */
	T_EQ_INT(dec_opts(L("d3:cow3:moo3:cow3:baae"), LEN, 0, 8), 22);
	T_EQ_UINT(err.tolerated, BT_BE_TOL_DUPKEY);
	T_EQ_UINT(err.off, 11);
	EXPECT_TOKS({ D, 0, 22, 5, 2 }, { S, 1, 5, 1, 3 }, { S, 6, 5, 1, 3 },
		    { S, 11, 5, 1, 3 }, { S, 16, 5, 1, 3 });
	T_CHECK(bt_be_dict_str(&doc, 0, "cow", &p, &n));
	T_EQ_MEM(p, n, "moo", 3);

	/* Everything at once; the report names the first. */
	T_EQ_INT(dec_opts(L("d1:bi-0e1:a02:xy1:ai01ee"), LEN, 0, 16), 24);
	T_EQ_UINT(err.tolerated, BT_BE_TOL_NEGZERO | BT_BE_TOL_UNSORTED |
		  BT_BE_TOL_LEADZERO | BT_BE_TOL_DUPKEY);
	T_EQ_UINT(err.off, 5);
	T_EQ_STR(err.rule, "negative zero");

	/* Lenient is not anything-goes. */
	T_EQ_INT(dec_opts(L("ie"), LEN, 0, 8), BT_EINVAL);
	T_EQ_INT(dec_opts(L("di1e0:e"), LEN, 0, 8), BT_EINVAL);
	T_EQ_STR(err.rule, "dictionary key is not a string");
	T_EQ_INT(dec_opts(L("i1ei2e"), LEN, 0, 8), BT_EINVAL);
	T_EQ_INT(dec_opts(L("d3:cowe"), LEN, 0, 8), BT_EINVAL);
	T_EQ_INT(dec_opts(L("i9223372036854775808e"), LEN, 0, 8), BT_EUNSUPP);
	/* What it tolerated before failing is still reported. */
	T_EQ_INT(dec_opts(L("li03ei+1ee"), LEN, 0, 8), BT_EINVAL);
	T_EQ_UINT(err.off, 6);
	T_EQ_UINT(err.tolerated, BT_BE_TOL_LEADZERO);
	/* A prefix of a lenient document still needs more. */
	T_EQ_INT(dec_opts(L("i-0"), LEN, 0, 8), BT_NEED_MORE);
	T_EQ_INT(dec_opts(L("i-0"), 0, 0, 8), BT_NEED_MORE);
	T_EQ_INT(dec_opts(L("i00"), 0, 0, 8), BT_EINVAL);
}

static void test_depth(void)
{
	static char buf[2 * 200000];
	size_t d, i;

	/* 64 nested lists pass with the default, 65 fail at the 65th 'l'. */
	for (d = 63; d <= 65; d++) {
		memset(buf, 'l', d);
		memset(buf + d, 'e', d);
		if (d <= 64) {
			T_EQ_INT(dec(buf, 2 * d), 2 * d);
			T_EQ_UINT(doc.ntoks, d);
			T_EQ_UINT(toks[0].skip, d);
			T_EQ_UINT(toks[d - 1].off, d - 1);
			T_EQ_UINT(toks[d - 1].len, 2);
		} else {
			T_EQ_INT(dec(buf, 2 * d), BT_EDEPTH);
			T_EQ_UINT(err.off, 64);
			T_EQ_STR(err.rule, "nesting deeper than max_depth");
			/* Depth is refused even before the end arrives. */
			T_EQ_INT(dec(buf, d), BT_EDEPTH);
		}
	}
	/* Dicts count too; an explicit limit. */
	T_EQ_INT(dec_opts(L("d1:ald1:ai1eeee"), 0, 3, 16), 15);
	T_EQ_INT(dec_opts(L("d1:ald1:alleeee"), 0, 3, 16), BT_EDEPTH);
	T_EQ_UINT(err.off, 9);
	T_EQ_INT(dec_opts(L("li1eleli2eee"), 0, 2, 16), 12);
	T_EQ_INT(dec_opts(L("llleee"), 0, 2, 16), BT_EDEPTH);
	T_EQ_UINT(err.off, 2);
	T_EQ_INT(dec_opts(L("i1e"), 0, 1, 16), 3);
	T_EQ_INT(dec_opts(L("le"), 0, 1, 16), 2);

	/* No recursion: 200000 levels are only a matter of tokens. */
	{
		static struct bt_be_tok big[200000];
		struct bt_be_opts o = { 0, UINT_MAX };
		struct bt_be_doc bd;
		const uint8_t *g;
		d = 200000;
		memset(buf, 'l', d);
		memset(buf + d, 'e', d);
		g = t_guarded(buf, 2 * d);
		T_EQ_INT(bt_be_decode(&bd, g, 2 * d, big, d, &o, &err), 2 * (long)d);
		T_EQ_UINT(bd.ntoks, d);
		for (i = 0; i < d; i++)
			if (big[i].skip != d - i || big[i].off != i ||
			    big[i].len != 2 * (d - i) || big[i].n != (i + 1 < d)) {
				T_FAILF("deep token %zu wrong", i);
				break;
			}
		T_EQ_INT(bt_be_decode(&bd, g, 2 * d - 1, big, d, &o, &err), BT_NEED_MORE);
		T_EQ_INT(bt_be_decode(&bd, g, 2 * d, big, d - 1, &o, &err), BT_ENOSPC);
	}
}

static void test_token_cap(void)
{
	static const char s[] = "l1:a1:b1:ce";
	size_t len = sizeof(s) - 1;

	T_EQ_INT(dec_opts(s, len, 0, 0, 4), (long)len);
	T_EQ_UINT(doc.ntoks, 4);
	T_EQ_INT(dec_opts(s, len, 0, 0, 3), BT_ENOSPC);
	T_EQ_UINT(err.off, 7);
	T_EQ_STR(err.rule, "token array full");
	T_EQ_UINT(doc.ntoks, 0);
	/* Nothing is written past the cap. */
	T_EQ_UINT(toks[3].off, 0xa5a5a5a5u);
	T_EQ_INT(dec_opts(s, len, 0, 0, 0), BT_ENOSPC);
	T_EQ_UINT(err.off, 0);
	T_EQ_INT(dec_opts(L("i1e"), 0, 0, 1), 3);
	T_EQ_INT(dec_opts(L("d1:a0:e"), 0, 0, 2), BT_ENOSPC);
	T_EQ_UINT(err.off, 4);

	/* bt_be_max_tokens() is enough for the densest inputs. */
	{
		static const char *dense[] = { "l0:0:0:0:e", "llllleeeee", "d0:0:0:le0:lee",
					       "0:", "le", "i0e" };
		size_t i;
		for (i = 0; i < sizeof(dense) / sizeof(dense[0]); i++) {
			size_t dl = strlen(dense[i]);
			long rc = dec_opts(dense[i], dl, BT_BE_LENIENT, 0,
					   bt_be_max_tokens(dl));
			T_EQ_INT(rc, (long)dl);
			T_CHECK(doc.ntoks <= bt_be_max_tokens(dl));
		}
	}
}

/* Fuzzer finding "ll1": two open lists and a string start in 3 bytes, one
 * token more than bt_be_max_tokens(3) == 2.  Such a prefix is truncated,
 * not out of space: the caller sized the array as the header says. */
static void test_max_tokens_truncated_prefix(void)
{
	static const char *in[] = { "ll1", "llll", "lllllllllli", "lll0:" };
	size_t k;

	for (k = 0; k < sizeof(in) / sizeof(in[0]); k++) {
		size_t n = strlen(in[k]);
		const uint8_t *g = t_guarded(in[k], n);
		long r = bt_be_decode(&doc, g, n, toks, bt_be_max_tokens(n), NULL, &err);
		T_EQ_INT(r, BT_NEED_MORE);
		T_EQ_INT(err.code, BT_NEED_MORE);
		T_EQ_UINT(err.off, n);
	}
	/* A smaller array than the bound is still the caller's problem. */
	{
		const uint8_t *g = t_guarded("l1:a1:b1:ce", 11);
		long r = bt_be_decode(&doc, g, 11, toks, 2, NULL, &err);
		T_EQ_INT(r, BT_ENOSPC);
		T_EQ_UINT(err.off, 4);
	}
}

static void test_accessors(void)
{
	const uint8_t *p = (const uint8_t *)"x";
	size_t n = 99;
	int64_t v = 7;

	T_EQ_INT(dec(L("d1:ai5e1:b2:xy1:clee")), 20);
	/* Type checks. */
	T_CHECK(!bt_be_str(&doc, 0, &p, &n));
	T_CHECK(!bt_be_int(&doc, 0, &v));
	T_CHECK(!bt_be_int(&doc, 1, &v));
	T_CHECK(!bt_be_str(&doc, 2, &p, &n));
	T_EQ_INT(v, 7);
	T_EQ_INT(bt_be_first(&doc, 1), -1);   /* a string has no children */
	T_EQ_INT(bt_be_dict_get(&doc, 6, "a"), -1); /* a list is not a dict */
	T_EQ_INT(bt_be_first(&doc, 6), -1);   /* empty list */
	/* Index checks. */
	T_CHECK(!bt_be_str(&doc, 7, &p, &n));
	T_CHECK(!bt_be_int(&doc, 1000, &v));
	T_EQ_INT(bt_be_first(&doc, 7), -1);
	T_EQ_INT(bt_be_dict_get(&doc, 7, "a"), -1);
	bt_be_raw(&doc, 7, &p, &n);
	T_CHECK(p == NULL && n == 0);
	bt_be_raw(&doc, 4, &p, &n);
	T_EQ_MEM(p, n, "2:xy", 4);
	bt_be_raw(&doc, 0, &p, &n);
	T_EQ_MEM(p, n, "d1:ai5e1:b2:xy1:clee", 20);

	/* Walk the dict: key, value, key, value... */
	{
		static const char *keys[] = { "a", "b", "c" };
		long j = bt_be_first(&doc, 0);
		size_t k = 0;
		while (j >= 0 && (size_t)j < doc.ntoks && k < 3) {
			T_CHECK(bt_be_str(&doc, (size_t)j, &p, &n));
			T_EQ_MEM(p, n, keys[k], 1);
			j = (long)bt_be_next(&doc, bt_be_next(&doc, (size_t)j));
			k++;
		}
		T_EQ_UINT(k, 3);
		T_EQ_INT(j, (long)doc.ntoks);
	}

	/* A failed decode leaves no tokens to read. */
	T_EQ_INT(dec(L("d1:ai5e")), BT_NEED_MORE);
	T_EQ_UINT(doc.ntoks, 0);
	T_CHECK(!bt_be_int(&doc, 2, &v));

	/* err, opts and doc may be NULL. */
	{
		const uint8_t *g = t_guarded("i5e", 3);
		struct bt_be_tok t1;
		T_EQ_INT(bt_be_decode(NULL, g, 3, &t1, 1, NULL, NULL), 3);
		T_EQ_INT(bt_be_decode(NULL, g, 2, &t1, 1, NULL, NULL), BT_NEED_MORE);
		g = t_guarded("i05e", 4);
		T_EQ_INT(bt_be_decode(NULL, g, 4, &t1, 1, NULL, NULL), BT_EINVAL);
	}
}

/* Re-encode a decoded tree from its tokens. */
static size_t reencode(struct bt_wr *w, const struct bt_be_doc *d, size_t i)
{
	const uint8_t *p;
	size_t n, j, end = i + d->toks[i].skip;
	int64_t v;

	switch (d->toks[i].type) {
	case BT_BE_INT:
		bt_be_int(d, i, &v);
		bt_be_put_int(w, v);
		break;
	case BT_BE_STR:
		bt_be_str(d, i, &p, &n);
		bt_be_put_str(w, p, n);
		break;
	default:
		if (d->toks[i].type == BT_BE_LIST)
			bt_be_put_list(w);
		else
			bt_be_put_dict(w);
		for (j = i + 1; j < end; j = reencode(w, d, j))
			;
		bt_be_put_end(w);
	}
	return end;
}

static void encode_mixed(struct bt_wr *w)
{
	bt_be_put_dict(w);
	bt_be_put_cstr(w, "");
	bt_be_put_int(w, 0);
	bt_be_put_cstr(w, "bin");
	bt_be_put_str(w, "\0\xff" "e:", 4);
	bt_be_put_cstr(w, "ints");
	bt_be_put_list(w);
	bt_be_put_int(w, INT64_MIN);
	bt_be_put_int(w, -1);
	bt_be_put_int(w, 1);
	bt_be_put_int(w, INT64_MAX);
	bt_be_put_end(w);
	bt_be_put_cstr(w, "nest");
	bt_be_put_list(w);
	bt_be_put_dict(w);
	bt_be_put_end(w);
	bt_be_put_list(w);
	bt_be_put_list(w);
	bt_be_put_cstr(w, "deep");
	bt_be_put_end(w);
	bt_be_put_end(w);
	bt_be_put_end(w);
	bt_be_put_end(w);
}

#define MIXED "d0:i0e3:bin4:\0\xff" "e:4:intsli-9223372036854775808ei-1ei1e" \
	      "i9223372036854775807ee4:nestldel" "l4:deepeeee"

static void test_encoder(void)
{
	uint8_t buf[256], again[256];
	struct bt_wr w, w2;
	const uint8_t *p;
	size_t n;
	int64_t v;
	long ints;

	bt_wr_init(&w, buf, sizeof(buf));
	bt_be_put_int(&w, 0);
	bt_be_put_int(&w, -7);
	bt_be_put_int(&w, 1234567890);
	bt_be_put_str(&w, "", 0);
	bt_be_put_str(&w, "ab\0c", 4);
	bt_be_put_cstr(&w, "spam");
	bt_be_put_list(&w);
	bt_be_put_dict(&w);
	bt_be_put_end(&w);
	T_CHECK(bt_wr_ok(&w));
	T_EQ_MEM(buf, w.len, "i0ei-7ei1234567890e0:4:ab\0c4:spamlde", 36);

	/* Round trip: decode(encode(x)) gives x back, value by value, and
	 * re-encoding the tokens gives the same bytes. */
	bt_wr_init(&w, buf, sizeof(buf));
	encode_mixed(&w);
	T_CHECK(bt_wr_ok(&w));
	T_EQ_MEM(buf, w.len, MIXED, sizeof(MIXED) - 1);
	T_EQ_INT(dec(buf, w.len), (long)w.len);
	T_CHECK(bt_be_dict_int(&doc, 0, "", &v));
	T_EQ_INT(v, 0);
	T_CHECK(bt_be_dict_str(&doc, 0, "bin", &p, &n));
	T_EQ_MEM(p, n, "\0\xff" "e:", 4);
	ints = bt_be_dict_get(&doc, 0, "ints");
	T_CHECK(ints > 0 && toks[ints].type == BT_BE_LIST && toks[ints].n == 4);
	T_CHECK(bt_be_int(&doc, (size_t)ints + 1, &v));
	T_CHECK(v == INT64_MIN);
	T_CHECK(bt_be_int(&doc, (size_t)ints + 4, &v));
	T_CHECK(v == INT64_MAX);
	T_EQ_UINT(doc.ntoks, 17);
	bt_wr_init(&w2, again, sizeof(again));
	T_EQ_UINT(reencode(&w2, &doc, 0), doc.ntoks);
	T_CHECK(bt_wr_ok(&w2));
	T_EQ_MEM(again, w2.len, buf, w.len);

	/* The torrent survives the same trip byte for byte. */
	T_EQ_INT(dec(L(TORRENT)), 124);
	bt_wr_init(&w2, again, sizeof(again));
	reencode(&w2, &doc, 0);
	T_EQ_MEM(again, w2.len, TORRENT, 124);
}

/* A writer that is too small writes nothing past cap and counts on, so
 * after the encode w.len is the size to allocate. */
static void test_wr_overflow(void)
{
	uint8_t buf[128];
	struct bt_wr w;
	size_t need = sizeof(MIXED) - 1, cap;

	for (cap = 0; cap <= need; cap++) {
		memset(buf, '#', sizeof(buf));
		bt_wr_init(&w, buf, cap);
		encode_mixed(&w);
		T_EQ_UINT(w.len, need);
		T_EQ_INT(bt_wr_ok(&w), cap == need);
		if (buf[cap] != '#') {
			T_FAILF("cap %zu: byte %zu written", cap, cap);
			break;
		}
	}
	/* Measuring with no buffer at all. */
	bt_wr_init(&w, NULL, 0);
	encode_mixed(&w);
	T_EQ_UINT(w.len, need);
	T_CHECK(!bt_wr_ok(&w));
	/* Then the exact size works. */
	bt_wr_init(&w, buf, need);
	encode_mixed(&w);
	T_CHECK(bt_wr_ok(&w));
	T_EQ_MEM(buf, w.len, MIXED, need);
}

/* Inputs over 4 GiB: strict decoding cannot end there; with trailing
 * bytes allowed, a value at the front is fine.  Needs a 4 GiB mapping
 * that is never touched past the first page. */
static void test_over_4gib(void)
{
	size_t big = (size_t)UINT32_MAX + 2;
	struct bt_be_tok t1[4];
	struct bt_be_opts o = { BT_BE_ALLOW_TRAILING, 0 };
	uint8_t *m;

	if (sizeof(size_t) < 8)
		return;
	m = mmap(NULL, big, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		printf("# no 4 GiB mapping, over-4-GiB cases not run\n");
		return;
	}
	memcpy(m, "li1ee", 5);
	T_EQ_INT(bt_be_decode(&doc, m, big, t1, 4, NULL, &err), BT_ETOOBIG);
	T_EQ_STR(err.rule, "input larger than 4 GiB");
	T_EQ_INT(bt_be_decode(&doc, m, big, t1, 4, &o, &err), 5);
	T_EQ_UINT(doc.ntoks, 2);
	/* A string that would cross the 4 GiB line. */
	memcpy(m, "4294967290:", 11);
	T_EQ_INT(bt_be_decode(&doc, m, big, t1, 4, &o, &err), BT_ETOOBIG);
	T_EQ_STR(err.rule, "string length too large");
	munmap(m, big);
}

/* Every single-byte change of a valid document either fails cleanly or
 * decodes to a consistent tree; nothing is read past the end. */
static void test_mutations(void)
{
	static const uint8_t subst[] = { 'i', 'l', 'd', 'e', ':', '-', '0', '1', '9', 0, 0xff };
	char buf[sizeof(TORRENT)];
	size_t len = sizeof(TORRENT) - 1, i, k;
	unsigned f;

	for (i = 0; i < len; i++) {
		for (k = 0; k < sizeof(subst); k++) {
			memcpy(buf, TORRENT, len);
			buf[i] = (char)subst[k];
			for (f = 0; f < 4; f++) {
				long rc = dec_opts(buf, len, f, 0, 4096);
				if (rc > 0 && (!check_tree(&doc, 0, doc.ntoks) ||
					       (size_t)rc != toks[0].len ||
					       doc.ntoks != toks[0].skip)) {
					T_FAILF("mutation %zu=%02x flags %u: bad tree", i,
						subst[k], f);
					return;
				}
				if (rc == 0 || rc < BT_EUNSUPP || (rc < 0 && err.code != rc)) {
					T_FAILF("mutation %zu=%02x: rc %ld", i, subst[k], rc);
					return;
				}
			}
		}
	}
}

int main(void)
{
	T_RUN(test_int);
	T_RUN(test_str);
	T_RUN(test_list);
	T_RUN(test_dict);
	T_RUN(test_nested);
	T_RUN(test_info_span);
	T_RUN(test_every_prefix);
	T_RUN(test_trailing);
	T_RUN(test_strict_rules);
	T_RUN(test_lenient);
	T_RUN(test_depth);
	T_RUN(test_token_cap);
	T_RUN(test_accessors);
	T_RUN(test_encoder);
	T_RUN(test_wr_overflow);
	T_RUN(test_over_4gib);
	T_RUN(test_mutations);
	T_RUN(test_max_tokens_truncated_prefix);
	return T_DONE();
}
