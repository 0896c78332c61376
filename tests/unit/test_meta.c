/* test_meta.c — .torrent parsing: exact info-hashes, fields, paths, the
 * rules and offsets of every refusal, v2 file trees and piece layers,
 * hybrids, lenient mode, caps, merkle helpers.
 *
 * Expected hashes: literal info dicts were hashed with
 *   printf '<info bytes>' | openssl sha1
 * and the built fixtures (tests/data/meta/fixtures.h) with
 *   python3 tests/data/meta/expected.py
 * which rebuilds them with hashlib and its own bencoder. */
#include "t.h"

#include "meta.h"
#include "out.h"
#include "../data/meta/fixtures.h"

#define LIT(s) (const uint8_t *)(s), sizeof(s) - 1

static char hexbuf[4][130];
static const char *hx(int slot, const uint8_t *p, size_t n)
{
	return bt_hex(p, n, hexbuf[slot], sizeof(hexbuf[slot]));
}

static bool str_is(struct bt_meta_str s, const char *c)
{
	return s.len == strlen(c) && memcmp(s.p, c, s.len) == 0;
}

static int parse(const uint8_t *p, size_t n, unsigned flags, struct bt_meta *m,
		 struct bt_meta_err *e)
{
	struct bt_meta_opts o = { flags, NULL, 0, 0 };
	return bt_meta_parse(m, p, n, &o, e);
}

static const char *joined(const struct bt_meta *m, size_t f)
{
	static char b[256];
	bt_meta_path_join(m, f, b, sizeof(b));
	return b;
}

/* Expect a refusal with this code and rule; `at` (or NULL) is a substring
 * of the input whose offset must be the reported one. */
static void expect_err(const uint8_t *buf, size_t len, unsigned flags, int code,
		       const char *rule, const char *at, int line)
{
	struct bt_meta m;
	struct bt_meta_err e;
	int rc = parse(buf, len, flags, &m, &e);

	if (rc != code || e.code != code || !e.rule || strcmp(e.rule, rule) != 0)
		T_FAILF("line %d: got %d \"%s\" at %zu, expected %d \"%s\"", line, rc,
			e.rule ? e.rule : "(null)", e.off, code, rule);
	if (at && (long)e.off != fx_find(buf, len, at))
		T_FAILF("line %d: offset %zu, expected %ld (\"%s\")", line, e.off,
			fx_find(buf, len, at), at);
	if (m.files || m.own_toks || m.trackers)
		T_FAILF("line %d: failed parse left memory in *m", line);
}
#define EXPECT_ERR(buf, len, flags, code, rule, at) \
	expect_err((const uint8_t *)(buf), (len), (flags), (code), (rule), (at), __LINE__)
#define EXPECT_ERR_S(s, flags, code, rule, at) \
	EXPECT_ERR((s), strlen(s), (flags), (code), (rule), (at))

static uint8_t tbuf[1 << 16];

static size_t build(void (*fn)(struct bt_wr *), uint8_t *buf, size_t cap)
{
	struct bt_wr w;
	bt_wr_init(&w, buf, cap);
	fn(&w);
	if (!bt_wr_ok(&w))
		abort();
	return w.len;
}

static size_t build_t3(size_t pl, size_t asize, unsigned flags, uint8_t *buf, size_t cap)
{
	struct bt_wr w;
	bt_wr_init(&w, buf, cap);
	fx_t3(&w, pl, asize, flags);
	if (!bt_wr_ok(&w))
		abort();
	return w.len;
}

static const char T1[] =
	"d8:announce14:http://t/a/ann4:infod6:lengthi5e4:name5:a.txt"
	"12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAee";

/* --- v1 --- */

static void test_v1_single_literal(void)
{
	struct bt_meta m;
	struct bt_meta_err e;
	struct bt_meta_str c[4];

	T_EQ_INT(parse(LIT(T1), 0, &m, &e), BT_OK);
	/* printf 'd6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAe' | openssl sha1 */
	T_EQ_STR(hx(0, m.info_hash_v1, 20), "57dbb584ee2949d14ea359b3c3e66eba8ff6ac94");
	T_EQ_INT(m.version, BT_META_V1);
	T_CHECK(str_is(m.name, "a.txt"));
	T_CHECK(!m.multi);
	T_EQ_UINT(m.piece_length, 16384);
	T_EQ_UINT(m.piece_count, 1);
	T_EQ_UINT(m.last_piece_size, 5);
	T_EQ_UINT(m.total_size, 5);
	T_EQ_UINT(m.space_size, 5);
	T_EQ_UINT(m.nfiles, 1);
	T_EQ_UINT(m.npad, 0);
	T_EQ_UINT(m.files[0].size, 5);
	T_EQ_UINT(m.files[0].npieces, 1);
	T_EQ_UINT(bt_meta_path(&m, 0, c, 4), 1);
	T_CHECK(str_is(c[0], "a.txt"));
	T_EQ_STR(joined(&m, 0), "a.txt");
	T_EQ_UINT(m.ntrackers, 1);
	T_EQ_UINT(m.ntiers, 1);
	T_CHECK(str_is(m.trackers[0].url, "http://t/a/ann"));
	T_CHECK(!m.is_private && !m.has_comment && !m.has_created_by && !m.has_creation_date);
	T_EQ_UINT(m.nurls, 0);
	T_EQ_UINT(m.tolerated, 0);
	T_EQ_UINT(m.info.len, 79);
	T_EQ_MEM(m.info.p, m.info.len, T1 + fx_find(LIT(T1), "d6:length"), 79);
	T_EQ_MEM(m.pieces.p, m.pieces.len, "AAAAAAAAAAAAAAAAAAAA", 20);
	bt_meta_free(&m);
	T_CHECK(m.files == NULL);
}

static void test_v1_multi(void)
{
	struct bt_meta m;
	struct bt_meta_err e;
	size_t n = build(fx_t2, tbuf, sizeof(tbuf));
	struct bt_meta_str c[4];

	T_EQ_UINT(n, 462); /* expected.py: "torrent 462 bytes" */
	T_EQ_INT(parse(tbuf, n, 0, &m, &e), BT_OK);
	T_EQ_STR(hx(0, m.info_hash_v1, 20), "6ac8dac708e65efa714eba73d6bece933eaa324c");
	T_EQ_INT(m.version, BT_META_V1);
	T_CHECK(str_is(m.name, "multi"));
	T_CHECK(m.multi);
	T_EQ_UINT(m.nfiles, 5);
	T_EQ_UINT(m.npad, 1);
	T_EQ_UINT(m.total_size, 35000);
	T_EQ_UINT(m.space_size, 41384);
	T_EQ_UINT(m.piece_count, 3);
	T_EQ_UINT(m.last_piece_size, 8616);
	T_CHECK(m.is_private);
	/* offsets, first piece, piece count per file */
	T_EQ_UINT(m.files[0].offset, 0);
	T_EQ_UINT(m.files[0].npieces, 1);
	T_EQ_UINT(m.files[1].offset, 10000);
	T_EQ_UINT(m.files[1].attr, BT_META_ATTR_PAD);
	T_EQ_UINT(m.files[2].offset, 16384);
	T_EQ_UINT(m.files[2].first_piece, 1);
	T_EQ_UINT(m.files[2].npieces, 2);
	T_EQ_UINT(m.files[3].offset, 36384);
	T_EQ_UINT(m.files[3].size, 0);
	T_EQ_UINT(m.files[3].npieces, 0);
	T_EQ_UINT(m.files[4].offset, 36384);
	T_EQ_UINT(m.files[4].first_piece, 2);
	T_EQ_UINT(m.files[4].npieces, 1);
	T_EQ_STR(joined(&m, 1), ".pad/6384");
	T_EQ_STR(joined(&m, 2), "s/b");
	T_EQ_UINT(bt_meta_path(&m, 2, c, 4), 2);
	T_CHECK(str_is(c[0], "s") && str_is(c[1], "b"));
	/* a short buffer: truncated, NUL-terminated, full length returned */
	{
		char small[3];
		T_EQ_UINT(bt_meta_path_join(&m, 1, small, sizeof(small)), 9);
		T_EQ_STR(small, ".p");
	}
	/* BEP 12: announce-list wins over announce */
	T_EQ_UINT(m.ntrackers, 3);
	T_EQ_UINT(m.ntiers, 2);
	T_CHECK(str_is(m.trackers[0].url, "http://a/1") && m.trackers[0].tier == 0);
	T_CHECK(str_is(m.trackers[1].url, "http://a/2") && m.trackers[1].tier == 0);
	T_CHECK(str_is(m.trackers[2].url, "udp://b:6969") && m.trackers[2].tier == 1);
	T_EQ_UINT(m.nurls, 1);
	T_CHECK(str_is(m.url_list[0], "http://ws/"));
	T_CHECK(m.has_comment && str_is(m.comment, "hi"));
	T_CHECK(m.has_created_by && str_is(m.created_by, "btkit"));
	T_CHECK(m.has_creation_date && m.creation_date == 1700000000);
	T_EQ_UINT(bt_meta_piece_size(&m, 0), 16384);
	T_EQ_UINT(bt_meta_piece_size(&m, 2), 8616);
	T_EQ_UINT(bt_meta_piece_size(&m, 3), 0);
	bt_meta_free(&m);
}

/* The whole torrent flush against an unreadable page, then every proper
 * prefix: each must be refused, none may read past its end. */
static void test_guarded_and_prefixes(void)
{
	size_t n = build(fx_t2, tbuf, sizeof(tbuf)), k;
	struct bt_meta m;
	struct bt_meta_err e;
	const uint8_t *g = t_guarded(tbuf, n);

	T_EQ_INT(parse(g, n, 0, &m, &e), BT_OK);
	bt_meta_free(&m);
	for (k = 0; k < n; k++) {
		const uint8_t *p = t_guarded(tbuf, k);
		int rc = parse(p, k, 0, &m, &e);
		if (rc == BT_OK) {
			T_FAILF("prefix %zu accepted", k);
			bt_meta_free(&m);
			break;
		}
	}
	EXPECT_ERR(tbuf, n - 1, 0, BT_EINVAL, "torrent is truncated", NULL);
	EXPECT_ERR(tbuf, 0, 0, BT_EINVAL, "torrent is truncated", NULL);
}

/* --- path rules --- */

#define ONE_FILE(path) \
	"d4:infod5:filesld6:lengthi1e4:pathl" path "eee4:name1:n" \
	"12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAee"

static void test_path_traversal(void)
{
	EXPECT_ERR_S(ONE_FILE("2:.."), 0, BT_EINVAL,
		     "file path component '..' is not allowed", "2:..");
	EXPECT_ERR_S(ONE_FILE("1:a2:..1:b"), 0, BT_EINVAL,
		     "file path component '..' is not allowed", "2:..");
	EXPECT_ERR_S(ONE_FILE("1:."), 0, BT_EINVAL,
		     "file path component '.' is not allowed", "1:.e");
	EXPECT_ERR_S(ONE_FILE("1:a0:1:b"), 0, BT_EINVAL,
		     "file path component is empty", "0:");
	/* absolute, as one component or as an empty first one */
	EXPECT_ERR_S(ONE_FILE("11:/etc/passwd"), 0, BT_EINVAL,
		     "file path component contains '/'", "11:/etc");
	EXPECT_ERR_S(ONE_FILE("0:3:etc6:passwd"), 0, BT_EINVAL,
		     "file path component is empty", "0:3:etc");
	EXPECT_ERR_S(ONE_FILE("5:a/../"), 0, BT_EINVAL,
		     "file path component contains '/'", "5:a/");
	EXPECT_ERR_S(ONE_FILE(""), 0, BT_EINVAL, "file path has no components", "leee4:name");
	EXPECT_ERR_S(ONE_FILE("i1e"), 0, BT_EINVAL,
		     "file path component is not a string", "i1ee");
	{
		static const char nul[] = ONE_FILE("3:a\0b");
		EXPECT_ERR(nul, sizeof(nul) - 1, 0, BT_EINVAL,
			   "file path component contains a NUL byte", NULL);
	}
	/* path.utf-8 is not a way around it: only path is read */
	EXPECT_ERR_S("d4:infod5:filesld6:lengthi1e4:pathl2:..e10:path.utf-8l1:xeee"
		     "4:name1:n12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAee",
		     0, BT_EINVAL, "file path component '..' is not allowed", "2:..");
}

static void test_name_rules(void)
{
	EXPECT_ERR_S("d4:infod6:lengthi1e4:name2:..12:piece lengthi16384e"
		     "6:pieces20:AAAAAAAAAAAAAAAAAAAAee", 0, BT_EINVAL,
		     "file path component '..' is not allowed", "2:..");
	EXPECT_ERR_S("d4:infod6:lengthi1e4:name4:/etc12:piece lengthi16384e"
		     "6:pieces20:AAAAAAAAAAAAAAAAAAAAee", 0, BT_EINVAL,
		     "file path component contains '/'", "4:/etc");
	EXPECT_ERR_S("d4:infod6:lengthi1e4:name0:12:piece lengthi16384e"
		     "6:pieces20:AAAAAAAAAAAAAAAAAAAAee", 0, BT_EINVAL,
		     "file path component is empty", "0:");
	EXPECT_ERR_S("d4:infod6:lengthi1e12:piece lengthi16384e"
		     "6:pieces20:AAAAAAAAAAAAAAAAAAAAee", 0, BT_EINVAL,
		     "info has no name", "d6:length");
	EXPECT_ERR_S("d4:infod6:lengthi1e4:namei1e12:piece lengthi16384e"
		     "6:pieces20:AAAAAAAAAAAAAAAAAAAAee", 0, BT_EINVAL,
		     "info.name is not a string", "i1e12");
}

/* --- pieces and piece length --- */

static void test_pieces_rules(void)
{
	struct bt_meta m;
	struct bt_meta_err e;
	static const char c19[] = "d4:infod6:lengthi1e4:name1:n12:piece lengthi16384e"
				  "6:pieces19:AAAAAAAAAAAAAAAAAAAee";
	static const char c2[] = "d4:infod6:lengthi16385e4:name1:n12:piece lengthi16384e"
				 "6:pieces20:AAAAAAAAAAAAAAAAAAAAee";

	EXPECT_ERR_S(c19, 0, BT_EINVAL, "info.pieces length is not a multiple of 20", "19:");
	T_EQ_INT(parse(LIT(c19), 0, &m, &e), BT_EINVAL);
	T_CHECK(e.has_numbers && e.got == 19);
	EXPECT_ERR_S(c2, 0, BT_EINVAL,
		     "info.pieces hash count does not match the total size", "20:");
	T_EQ_INT(parse(LIT(c2), 0, &m, &e), BT_EINVAL);
	T_CHECK(e.has_numbers && e.want == 2 && e.got == 1);
	EXPECT_ERR_S("d4:infod6:lengthi1e4:name1:n12:piece lengthi16384e6:piecesi1eee",
		     0, BT_EINVAL, "info.pieces is not a string", "i1eee");
	EXPECT_ERR_S("d4:infod6:lengthi1e4:name1:n12:piece lengthi16384eee", 0,
		     BT_EINVAL, "info has no pieces", "d6:length");
}

#define PL(v) "d4:infod6:lengthi1e4:name1:n12:piece length" v \
	      "6:pieces20:AAAAAAAAAAAAAAAAAAAAee"
#define PL2(v) "d4:infod9:file treed1:ad0:d6:lengthi0eeee12:meta versioni2e" \
	       "4:name1:n12:piece length" v "ee"

static void test_piece_length_rules(void)
{
	struct bt_meta m;
	struct bt_meta_err e;
	const char *pow2 = "info.piece length must be a positive power of two >= 16 KiB";

	EXPECT_ERR_S(PL("i0e"), 0, BT_EINVAL, "info.piece length must be positive", "i0e");
	EXPECT_ERR_S(PL("i-16384e"), 0, BT_EINVAL, "info.piece length must be positive",
		     "i-16384e");
	EXPECT_ERR_S(PL("5:16384"), 0, BT_EINVAL, "info.piece length is not an integer",
		     "5:16384");
	EXPECT_ERR_S(PL("i2147483648e"), 0, BT_ETOOBIG, "info.piece length exceeds 1 GiB",
		     "i2147483648e");
	EXPECT_ERR_S("d4:infod6:lengthi1e4:name1:n6:pieces20:AAAAAAAAAAAAAAAAAAAAee", 0,
		     BT_EINVAL, "info has no piece length", "d6:length");
	/* v1: an odd piece length is tolerated and reported; strict refuses */
	T_EQ_INT(parse(LIT(PL("i12345e")), 0, &m, &e), BT_OK);
	T_EQ_UINT(m.tolerated, BT_META_TOL_PIECE_LEN);
	T_EQ_UINT(e.tolerated, BT_META_TOL_PIECE_LEN);
	T_EQ_UINT(m.piece_length, 12345);
	bt_meta_free(&m);
	T_EQ_INT(parse(LIT(PL("i8192e")), 0, &m, &e), BT_OK);
	T_EQ_UINT(m.tolerated, BT_META_TOL_PIECE_LEN);
	bt_meta_free(&m);
	EXPECT_ERR_S(PL("i12345e"), BT_META_STRICT, BT_EINVAL, pow2, "i12345e");
	/* v2: BEP 52 makes it a hard rule */
	EXPECT_ERR_S(PL2("i12345e"), 0, BT_EINVAL, pow2, "i12345e");
	EXPECT_ERR_S(PL2("i8192e"), 0, BT_EINVAL, pow2, "i8192e");
	EXPECT_ERR_S(PL2("i0e"), 0, BT_EINVAL, pow2, NULL);
	T_EQ_INT(parse(LIT(PL2("i16384e")), 0, &m, &e), BT_OK);
	T_EQ_UINT(m.piece_count, 0);
	bt_meta_free(&m);
}

#define LEN1(v) "d4:infod6:length" v "4:name1:n12:piece lengthi16384e" \
		"6:pieces20:AAAAAAAAAAAAAAAAAAAAee"

static void test_huge_lengths(void)
{
	struct bt_meta m;
	struct bt_meta_err e;

	EXPECT_ERR_S(LEN1("i99999999999999999999e"), 0, BT_EUNSUPP,
		     "integer overflows 64 bits", NULL);
	EXPECT_ERR_S(LEN1("i2305843009213693952e"), 0, BT_ETOOBIG,
		     "file length exceeds 2^60 bytes", "i2305843009213693952e");
	EXPECT_ERR_S(LEN1("i-1e"), 0, BT_EINVAL, "file length is negative", "i-1e");
	EXPECT_ERR_S(LEN1("1:1"), 0, BT_EINVAL, "file length is not an integer", "1:1");
	/* 1 TiB declared, one hash given: a count mismatch, no allocation */
	T_EQ_INT(parse(LIT(LEN1("i1099511627776e")), 0, &m, &e), BT_EINVAL);
	T_EQ_STR(e.rule, "info.pieces hash count does not match the total size");
	T_CHECK(e.has_numbers && e.want == 67108864 && e.got == 1);
	/* two files of 2^60 - 1 bytes: the sum is over the cap */
	EXPECT_ERR_S("d4:infod5:filesld6:lengthi1152921504606846975e4:pathl1:aee"
		     "d6:lengthi1152921504606846975e4:pathl1:beee4:name1:n"
		     "12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAee", 0,
		     BT_ETOOBIG, "total size exceeds 2^60 bytes", "d6:lengthi1152921504606846975e4:pathl1:b");
	/* string lengths: beyond 4 GiB, beyond the input */
	EXPECT_ERR_S("d4:infod4:name4294967296:xee", 0, BT_ETOOBIG,
		     "string length too large", "4294967296:");
	EXPECT_ERR_S("d4:infod4:name99999:xee", 0, BT_EINVAL, "torrent is truncated", NULL);
	EXPECT_ERR_S("d4:infod4:name4294967295:xee", 0, BT_ETOOBIG, "string length too large",
		     "4294967295:");
}

static void test_structure_errors(void)
{
	EXPECT_ERR_S("i1e", 0, BT_EINVAL, "torrent is not a dictionary", "i1e");
	EXPECT_ERR_S("de", 0, BT_EINVAL, "torrent has no info dictionary", "de");
	EXPECT_ERR_S("d4:infoli1eee", 0, BT_EINVAL, "info is not a dictionary", "li1e");
	EXPECT_ERR_S("d4:infod4:name1:n12:piece lengthi16384e"
		     "6:pieces20:AAAAAAAAAAAAAAAAAAAAee", 0, BT_EINVAL,
		     "info has neither length nor files", "d4:name");
	EXPECT_ERR_S("d4:infod5:filesle6:lengthi1e4:name1:n12:piece lengthi16384e"
		     "6:pieces20:AAAAAAAAAAAAAAAAAAAAee", 0, BT_EINVAL,
		     "info has both length and files", "le6:");
	EXPECT_ERR_S("d4:infod5:filesle4:name1:n12:piece lengthi16384e"
		     "6:pieces0:ee", 0, BT_EINVAL, "info.files is empty", "le4:");
	EXPECT_ERR_S("d4:infod5:filesli1ee4:name1:n12:piece lengthi16384e"
		     "6:pieces0:ee", 0, BT_EINVAL, "info.files entry is not a dictionary",
		     "i1ee4");
	EXPECT_ERR_S("d4:infod5:filesld4:pathl1:aeee4:name1:n12:piece lengthi16384e"
		     "6:pieces0:ee", 0, BT_EINVAL, "file entry has no length", "d4:pathl");
	EXPECT_ERR_S("d4:infod5:filesld6:lengthi0eee4:name1:n12:piece lengthi16384e"
		     "6:pieces0:ee", 0, BT_EINVAL, "file entry has no path", "d6:lengthi0e");
	EXPECT_ERR_S("d4:infod5:filesld6:lengthi0e4:path1:aee4:name1:n12:piece lengthi16384e"
		     "6:pieces0:ee", 0, BT_EINVAL, "file path is not a list", "1:aee");
	/* bencode errors come through with their own rule and offset */
	EXPECT_ERR_S("d4:infod4:name1:nxee", 0, BT_EINVAL,
		     "unexpected byte at start of value", "xee");
}

/* --- v2 --- */

static void test_v2(void)
{
	struct bt_meta m;
	struct bt_meta_err e;
	size_t n = build_t3(16384, 40000, 0, tbuf, sizeof(tbuf));
	char name[64];

	T_EQ_UINT(n, 414);
	T_EQ_INT(parse(tbuf, n, 0, &m, &e), BT_OK);
	T_EQ_INT(m.version, BT_META_V2);
	T_EQ_STR(hx(0, m.info_hash_v2, 32),
		 "8213913ea5dd9953b04fdf2a0c675aa71e5e409b3cfd6bfface79b35b05e5962");
	T_CHECK(str_is(m.name, "v2"));
	T_CHECK(m.multi);
	T_EQ_UINT(m.nfiles, 3);
	T_EQ_UINT(m.npad, 0);
	T_EQ_STR(joined(&m, 0), "a");
	T_EQ_STR(joined(&m, 1), "dir/b");
	T_EQ_STR(joined(&m, 2), "dir/e");
	T_EQ_UINT(m.files[0].size, 40000);
	T_EQ_UINT(m.files[0].offset, 0);
	T_EQ_UINT(m.files[0].first_piece, 0);
	T_EQ_UINT(m.files[0].npieces, 3);
	T_EQ_STR(hx(1, m.files[0].pieces_root, 32),
		 "f0bea2cd2373c9738e9d2b57006f4a70996e86427d7b6337fce7b1a547a49cf6");
	T_CHECK(m.files[0].layer != NULL);
	T_EQ_UINT(m.files[1].offset, 49152);
	T_EQ_UINT(m.files[1].first_piece, 3);
	T_EQ_UINT(m.files[1].npieces, 1);
	T_EQ_STR(hx(2, m.files[1].pieces_root, 32),
		 "5349edaa8877b6546f298e11d4cb79f363e3db67d2a9b90aa00eb93e9881b4ed");
	T_CHECK(m.files[1].layer == NULL); /* no larger than a piece */
	T_EQ_UINT(m.files[2].size, 0);
	T_EQ_UINT(m.files[2].npieces, 0);
	T_CHECK(m.files[2].pieces_root == NULL);
	/* each file starts on a piece boundary: 3 + 1 pieces */
	T_EQ_UINT(m.piece_count, 4);
	T_EQ_UINT(m.total_size, 40005);
	T_EQ_UINT(m.space_size, 49157);
	T_EQ_UINT(m.last_piece_size, 5);
	T_EQ_UINT(bt_meta_piece_size(&m, 0), 16384);
	T_EQ_UINT(bt_meta_piece_size(&m, 2), 7232);
	T_EQ_UINT(bt_meta_piece_size(&m, 3), 5);
	T_EQ_UINT(bt_meta_piece_size(&m, 4), 0);
	T_EQ_UINT(m.ntrackers, 1);
	T_EQ_STR(bt_meta_version_name(m.version), "v2");
	bt_escape_text(m.name.p, m.name.len, name, sizeof(name));
	T_EQ_STR(name, "v2");
	bt_meta_free(&m);

	/* 32 KiB pieces: the layer sits one level above the leaves and the
	 * last of 6 pieces pads with zero[1] subtrees. */
	n = build_t3(32768, 163940, 0, tbuf, sizeof(tbuf));
	T_EQ_UINT(n, 512);
	T_EQ_INT(parse(tbuf, n, 0, &m, &e), BT_OK);
	T_EQ_STR(hx(0, m.info_hash_v2, 32),
		 "f22faef206a9ba9b2c42a9bb8b40e439673047556e8fec8ea4a19d5fcc3bd013");
	T_EQ_STR(hx(1, m.files[0].pieces_root, 32),
		 "614f1a35633f9272fa62232a18a496f45659f4d13526f288d51fb5de79c3c097");
	T_EQ_UINT(m.files[0].npieces, 6);
	T_EQ_UINT(m.piece_count, 7);
	T_EQ_UINT(m.files[1].first_piece, 6);
	T_EQ_UINT(bt_meta_piece_size(&m, 5), 163940 - 5 * 32768);
	bt_meta_free(&m);
}

/* Rebuild T3's top level around its info dict with custom piece layers. */
static size_t with_layers(uint8_t *out, size_t cap, const struct bt_meta_str *info,
			  const void *key, size_t klen, const void *val, size_t vlen,
			  bool val_is_int)
{
	struct bt_wr w;

	bt_wr_init(&w, out, cap);
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "info");
	bt_wr_bytes(&w, info->p, info->len);
	if (key) {
		bt_be_put_cstr(&w, "piece layers");
		bt_be_put_dict(&w);
		bt_be_put_str(&w, key, klen);
		if (val_is_int)
			bt_be_put_int(&w, 7);
		else
			bt_be_put_str(&w, val, vlen);
		bt_be_put_end(&w);
	}
	bt_be_put_end(&w);
	return w.len;
}

static void test_v2_layer_errors(void)
{
	static uint8_t t3[1024], out[2048];
	struct bt_meta m;
	struct bt_meta_err e;
	size_t n = build_t3(16384, 40000, 0, t3, sizeof(t3)), k;
	uint8_t root[32], layer[96];

	T_EQ_INT(parse(t3, n, 0, &m, &e), BT_OK);
	memcpy(root, m.files[0].pieces_root, 32);
	memcpy(layer, m.files[0].layer, 96);
	/* the reference layer: the fixture's own computation */
	{
		uint8_t *a = fx_data(1, 40000), ref[96];
		T_EQ_UINT(fx_layer(a, 40000, 16384, ref), 3);
		T_EQ_MEM(layer, 96, ref, 96);
		free(a);
	}

	k = with_layers(out, sizeof(out), &m.info, root, 32, layer, 96, false);
	{
		struct bt_meta m2;
		T_EQ_INT(parse(out, k, 0, &m2, &e), BT_OK);
		T_EQ_MEM(m2.info_hash_v2, 32, m.info_hash_v2, 32);
		bt_meta_free(&m2);
	}

	k = with_layers(out, sizeof(out), &m.info, NULL, 0, NULL, 0, false);
	EXPECT_ERR(out, k, 0, BT_EINVAL, "piece layers is missing", NULL);
	k = with_layers(out, sizeof(out), &m.info, root, 32, layer, 64, false);
	EXPECT_ERR(out, k, 0, BT_EINVAL,
		   "piece layer length is not 32 times the file's piece count", "64:");
	k = with_layers(out, sizeof(out), &m.info, root, 31, layer, 96, false);
	EXPECT_ERR(out, k, 0, BT_EINVAL, "piece layers key is not 32 bytes", "31:");
	k = with_layers(out, sizeof(out), &m.info, root, 32, NULL, 0, true);
	EXPECT_ERR(out, k, 0, BT_EINVAL, "piece layer is not a string", "i7e");
	layer[95] ^= 1;
	k = with_layers(out, sizeof(out), &m.info, root, 32, layer, 96, false);
	EXPECT_ERR(out, k, 0, BT_EINVAL,
		   "piece layer does not hash to the file's pieces root", "96:");
	layer[95] ^= 1;
	root[0] ^= 1;
	k = with_layers(out, sizeof(out), &m.info, root, 32, layer, 96, false);
	EXPECT_ERR(out, k, 0, BT_EINVAL,
		   "piece layers has no entry for a file's pieces root", NULL);
	{
		/* the offset is that of the file's pieces root in the info */
		struct bt_meta m2;
		T_EQ_INT(parse(out, k, 0, &m2, &e), BT_EINVAL);
		T_EQ_UINT(e.off, (size_t)(m.files[0].pieces_root - m.info.p) + 7);
	}
	bt_meta_free(&m);
}

#define TREE(tree, extra) "d4:infod9:file tree" tree extra \
	"12:meta versioni2e4:name1:n12:piece lengthi16384eee"

static void test_v2_tree_errors(void)
{
	struct bt_meta m;
	struct bt_meta_err e;

	EXPECT_ERR_S(TREE("d1:ad0:d6:lengthi0ee1:xd0:d6:lengthi0eeeee", ""), 0, BT_EINVAL,
		     "file tree: a file entry must not have siblings", "d0:d6:lengthi0ee1:x");
	EXPECT_ERR_S(TREE("d0:d6:lengthi0eee", ""), 0, BT_EINVAL,
		     "file tree root must not be a file", "d0:");
	EXPECT_ERR_S(TREE("d1:ad0:d6:lengthi1e11:pieces root31:"
			  "0123456789012345678901234567890eee", ""), 0, BT_EINVAL,
		     "file tree: pieces root is not a 32-byte string", "31:");
	EXPECT_ERR_S(TREE("d1:ad0:d6:lengthi1eeee", ""), 0, BT_EINVAL,
		     "file tree: non-empty file has no pieces root", "d6:lengthi1e");
	EXPECT_ERR_S(TREE("d2:..d0:d6:lengthi0eeee", ""), 0, BT_EINVAL,
		     "file path component '..' is not allowed", "2:..");
	EXPECT_ERR_S(TREE("d1:ad1:.d0:d6:lengthi0eeeee", ""), 0, BT_EINVAL,
		     "file path component '.' is not allowed", "1:.");
	EXPECT_ERR_S(TREE("d3:a/bd0:d6:lengthi0eeee", ""), 0, BT_EINVAL,
		     "file path component contains '/'", "3:a/b");
	EXPECT_ERR_S(TREE("d1:ai1ee", ""), 0, BT_EINVAL,
		     "file tree: node is not a dictionary", "i1ee");
	EXPECT_ERR_S(TREE("d1:ad0:i1eee", ""), 0, BT_EINVAL,
		     "file tree: file properties are not a dictionary", "i1eee");
	EXPECT_ERR_S(TREE("d1:ad0:d4:attr1:p6:lengthi0eeee", ""), 0, BT_EINVAL,
		     "file tree: pad files are not allowed in v2", "d4:attr");
	EXPECT_ERR_S(TREE("le", ""), 0, BT_EINVAL, "info.file tree is not a dictionary", "le12:");
	EXPECT_ERR_S("d4:infod12:meta versioni2e4:name1:n12:piece lengthi16384eee", 0,
		     BT_EINVAL, "info has no file tree", "d12:meta");
	/* the version is checked before anything else (BEP 52) */
	EXPECT_ERR_S("d4:infod12:meta versioni3eee", 0, BT_EUNSUPP,
		     "info.meta version is not 2", "i3e");
	EXPECT_ERR_S("d4:infod12:meta version1:2ee", 0, BT_EINVAL,
		     "info.meta version is not an integer", "1:2");
	/* an empty directory: tolerated, or refused when strict */
	T_EQ_INT(parse(LIT(TREE("d1:ad0:d6:lengthi0eee1:bdee", "")), 0, &m, &e), BT_OK);
	T_EQ_UINT(m.tolerated, BT_META_TOL_EMPTY_DIR);
	T_EQ_UINT(m.nfiles, 1);
	T_CHECK(!m.multi);
	bt_meta_free(&m);
	EXPECT_ERR_S(TREE("d1:ad0:d6:lengthi0eee1:bdee", ""), BT_META_STRICT, BT_EINVAL,
		     "file tree: empty directory", "de");
	EXPECT_ERR_S(TREE("d1:bdee", ""), 0, BT_EINVAL, "file tree has no files", "d1:bdee");
}

/* A bare info dict (BEP 9 metadata) needs no piece layers. */
static void test_v2_info_only(void)
{
	struct bt_meta m, mi;
	struct bt_meta_err e;
	size_t n = build_t3(16384, 40000, 0, tbuf, sizeof(tbuf));

	T_EQ_INT(parse(tbuf, n, 0, &m, &e), BT_OK);
	T_EQ_INT(parse(m.info.p, m.info.len, BT_META_INFO_ONLY, &mi, &e), BT_OK);
	T_EQ_MEM(mi.info_hash_v2, 32, m.info_hash_v2, 32);
	T_CHECK(mi.files[0].layer == NULL);
	T_EQ_UINT(mi.ntrackers, 0);
	T_EQ_UINT(mi.piece_count, 4);
	bt_meta_free(&mi);
	bt_meta_free(&m);
	n = build_t3(16384, 40000, FX_NO_LAYERS, tbuf, sizeof(tbuf));
	EXPECT_ERR(tbuf, n, 0, BT_EINVAL, "piece layers is missing", NULL);
}

/* --- hybrid --- */

static void test_hybrid(void)
{
	struct bt_meta m;
	struct bt_meta_err e;
	size_t n = build(fx_t4, tbuf, sizeof(tbuf));

	T_EQ_INT(parse(tbuf, n, 0, &m, &e), BT_OK);
	T_EQ_INT(m.version, BT_META_HYBRID);
	T_EQ_STR(hx(0, m.info_hash_v1, 20), "9973c0fad75e78251df86b42d3ba3a08cddf9e32");
	T_EQ_STR(hx(1, m.info_hash_v2, 32),
		 "f784ee4cd398ab646c65ae2f42ee0d5cf9827aa6acf2bc496a76772cd248b452");
	T_EQ_UINT(m.info.len, 390);
	T_EQ_UINT(m.nfiles, 3);
	T_EQ_UINT(m.npad, 1);
	T_EQ_UINT(m.total_size, 20100);
	T_EQ_UINT(m.space_size, 32868);
	T_EQ_UINT(m.piece_count, 3);
	T_CHECK(m.multi);
	T_CHECK(m.files[0].pieces_root && m.files[0].layer);
	T_CHECK(m.files[1].pieces_root == NULL);
	T_CHECK(m.files[2].pieces_root && !m.files[2].layer);
	T_EQ_UINT(m.files[2].offset, 32768);
	T_EQ_UINT(m.files[2].first_piece, 2);
	T_EQ_STR(bt_meta_version_name(m.version), "hybrid");
	bt_meta_free(&m);
}

static void test_hybrid_mismatch(void)
{
	static uint8_t b[2048];
	struct bt_meta m;
	struct bt_meta_err e;
	size_t n = build(fx_t4, tbuf, sizeof(tbuf));

	memcpy(b, tbuf, n);
	T_EQ_INT(fx_patch(b, n, "6:lengthi100e4:path", "6:lengthi101e4:path"), 0);
	EXPECT_ERR(b, n, 0, BT_EINVAL, "hybrid: v1 file length differs from the v2 file tree",
		   "l1:bee");
	T_EQ_INT(parse(b, n, 0, &m, &e), BT_EINVAL);
	T_CHECK(e.has_numbers && e.want == 100 && e.got == 101);

	memcpy(b, tbuf, n);
	T_EQ_INT(fx_patch(b, n, "4:pathl1:bee", "4:pathl1:cee"), 0);
	EXPECT_ERR(b, n, 0, BT_EINVAL, "hybrid: v1 file path differs from the v2 file tree",
		   "l1:cee");

	memcpy(b, tbuf, n);
	T_EQ_INT(fx_patch(b, n, "i12768e", "i12767e"), 0);
	EXPECT_ERR(b, n, 0, BT_EINVAL, "hybrid: v1 file does not start on a piece boundary",
		   "l1:bee");

	memcpy(b, tbuf, n);
	T_EQ_INT(fx_patch(b, n, "4:attr1:p", "4:attr1:x"), 0);
	EXPECT_ERR(b, n, 0, BT_EINVAL, "hybrid: v1 file length differs from the v2 file tree",
		   "l4:.pad");
}

/* --- lenient mode --- */

static void test_lenient(void)
{
	struct bt_meta m;
	struct bt_meta_err e;
	static const char unsorted_top[] =
		"d4:infod6:lengthi5e4:name5:a.txt12:piece lengthi16384e"
		"6:pieces20:AAAAAAAAAAAAAAAAAAAAe8:announce3:xyze";
	static const char unsorted_info[] =
		"d4:infod4:name1:n6:lengthi1e12:piece lengthi16384e"
		"6:pieces20:AAAAAAAAAAAAAAAAAAAAee";
	static const char leadzero[] =
		"d4:infod6:lengthi1e4:name1:n12:piece lengthi016384e"
		"6:pieces20:AAAAAAAAAAAAAAAAAAAAee";
	static const char trailing[] = "d4:infod6:lengthi5e4:name5:a.txt12:piece lengthi16384e"
				       "6:pieces20:AAAAAAAAAAAAAAAAAAAAee\n";

	T_EQ_INT(parse(LIT(unsorted_top), 0, &m, &e), BT_OK);
	T_EQ_UINT(m.tolerated, BT_BE_TOL_UNSORTED);
	T_CHECK(m.ntrackers == 1 && str_is(m.trackers[0].url, "xyz"));
	/* the info dict is untouched, so the hash is T1's */
	T_EQ_STR(hx(0, m.info_hash_v1, 20), "57dbb584ee2949d14ea359b3c3e66eba8ff6ac94");
	bt_meta_free(&m);
	EXPECT_ERR_S(unsorted_top, BT_META_STRICT, BT_EINVAL, "dictionary keys not sorted",
		     "8:announce");

	/* hashed as found, never re-encoded (BEP 52):
	 * printf 'd4:name1:n6:lengthi1e12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAe' | openssl sha1 */
	T_EQ_INT(parse(LIT(unsorted_info), 0, &m, &e), BT_OK);
	T_EQ_STR(hx(0, m.info_hash_v1, 20), "ad883bc083d2c0b2d64ae7a4798710e7419426b3");
	T_EQ_UINT(e.tolerated, BT_BE_TOL_UNSORTED);
	bt_meta_free(&m);

	/* printf 'd6:lengthi1e4:name1:n12:piece lengthi016384e6:pieces20:AAAAAAAAAAAAAAAAAAAAe' | openssl sha1 */
	T_EQ_INT(parse(LIT(leadzero), 0, &m, &e), BT_OK);
	T_EQ_UINT(m.tolerated, BT_BE_TOL_LEADZERO);
	T_EQ_UINT(m.piece_length, 16384);
	T_EQ_STR(hx(0, m.info_hash_v1, 20), "618b1d21df0ccc518f2532ce22cd693aee103235");
	bt_meta_free(&m);
	EXPECT_ERR_S(leadzero, BT_META_STRICT, BT_EINVAL, "leading zero in integer", "016384");

	T_EQ_INT(parse(LIT(trailing), 0, &m, &e), BT_OK);
	T_EQ_UINT(m.tolerated, BT_META_TOL_TRAILING);
	T_EQ_STR(hx(0, m.info_hash_v1, 20), "57dbb584ee2949d14ea359b3c3e66eba8ff6ac94");
	bt_meta_free(&m);
	EXPECT_ERR_S(trailing, BT_META_STRICT, BT_EINVAL, "trailing bytes after value", "\n");

	/* what lenient mode cannot get past is reported as such */
	EXPECT_ERR_S("d4:infod4:name1:n6:lengthi1e12:piece lengthi16384eXe", 0, BT_EINVAL,
		     "unexpected byte at start of value", "Xe");
}

static void test_tracker_tolerance(void)
{
	struct bt_meta m;
	struct bt_meta_err e;
	static const char t[] =
		"d8:announce11:http://ann/13:announce-listl8:notalistl9:http://x/i5e0:el"
		"ee7:comment" "i5e" "13:creation date" "3:now"
		"4:infod6:lengthi1e4:name1:n12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAA"
		"7:privatei2ee8:url-listl9:http://w/i1eee";
	static const char fallback[] =
		"d8:announce11:http://ann/13:announce-listllee"
		"4:infod6:lengthi1e4:name1:n12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAee";

	T_EQ_INT(parse(LIT(t), 0, &m, &e), BT_OK);
	T_EQ_UINT(m.tolerated, BT_META_TOL_TRACKERS | BT_META_TOL_TYPE |
		  BT_META_TOL_PRIVATE | BT_META_TOL_URL_LIST);
	T_EQ_UINT(m.ntrackers, 1);
	T_EQ_UINT(m.ntiers, 1);
	T_CHECK(str_is(m.trackers[0].url, "http://x/"));
	T_CHECK(!m.has_comment && !m.has_creation_date);
	T_CHECK(m.is_private);
	T_EQ_UINT(m.nurls, 1);
	T_CHECK(str_is(m.url_list[0], "http://w/"));
	bt_meta_free(&m);
	/* strict: the first deviation met (the info dict is read first) */
	EXPECT_ERR_S(t, BT_META_STRICT, BT_EINVAL, "info.private is neither 0 nor 1", "i2e");

	/* an announce-list with no usable URL falls back to announce */
	T_EQ_INT(parse(LIT(fallback), 0, &m, &e), BT_OK);
	T_EQ_UINT(m.ntrackers, 1);
	T_CHECK(m.ntrackers == 1 && str_is(m.trackers[0].url, "http://ann/"));
	bt_meta_free(&m);

	{
		const char *n;
		unsigned mask = BT_BE_TOL_UNSORTED | BT_META_TOL_TRAILING;
		T_EQ_STR(bt_meta_tol_name(mask), "unsorted dictionary keys");
		mask &= mask - 1;
		T_EQ_STR(bt_meta_tol_name(mask), "bytes after the torrent");
		n = bt_meta_tol_name(0);
		T_CHECK(n == NULL);
	}
}

/* --- caps --- */

static void test_caps(void)
{
	struct bt_meta m;
	struct bt_meta_err e;
	struct bt_meta_opts o;
	size_t n = build(fx_t2, tbuf, sizeof(tbuf)), i;
	static struct bt_be_tok toks[512];
	static uint8_t deep[300];
	static const uint8_t one[1] = { 'd' };

	memset(&o, 0, sizeof(o));
	o.max_files = 4;
	T_EQ_INT(bt_meta_parse(&m, tbuf, n, &o, &e), BT_ETOOBIG);
	T_EQ_STR(e.rule, "too many files");
	T_CHECK(e.has_numbers && e.want == 4 && e.got == 5);
	o.max_files = 5;
	T_EQ_INT(bt_meta_parse(&m, tbuf, n, &o, &e), BT_OK);
	bt_meta_free(&m);

	/* caller-supplied tokens: too few, then enough (nothing allocated) */
	memset(&o, 0, sizeof(o));
	o.toks = toks;
	o.ntoks = 8;
	T_EQ_INT(bt_meta_parse(&m, tbuf, n, &o, &e), BT_ENOSPC);
	T_EQ_STR(e.rule, "token array full");
	o.ntoks = sizeof(toks) / sizeof(toks[0]);
	T_EQ_INT(bt_meta_parse(&m, tbuf, n, &o, &e), BT_OK);
	T_CHECK(m.own_toks == NULL);
	T_EQ_STR(hx(0, m.info_hash_v1, 20), "6ac8dac708e65efa714eba73d6bece933eaa324c");
	bt_meta_free(&m);

	/* more than 64 MiB is refused before a byte is read */
	T_EQ_INT(bt_meta_parse(&m, one, (size_t)BT_META_MAX_BYTES + 1, NULL, &e), BT_ETOOBIG);
	T_EQ_STR(e.rule, "torrent larger than 64 MiB");
	T_EQ_UINT(e.off, 0);

	/* nesting deeper than the bencode limit */
	memcpy(deep, "d1:x", 4);
	for (i = 4; i < 4 + 100; i++)
		deep[i] = 'l';
	for (; i < 4 + 200; i++)
		deep[i] = 'e';
	deep[i++] = 'e';
	EXPECT_ERR(deep, i, 0, BT_EDEPTH, "nesting deeper than max_depth", NULL);

	/* err may be NULL */
	T_EQ_INT(bt_meta_parse(&m, "i1e", 3, NULL, NULL), BT_EINVAL);
}

/* --- merkle --- */

static void test_merkle(void)
{
	uint8_t h[32], z[32], leaf[32], nodes[96], ref[32];
	struct bt_merkle mk;
	uint8_t *d;
	int i;

	memset(z, 0, sizeof(z));
	bt_merkle_zero(0, h);
	T_EQ_MEM(h, 32, z, 32);
	/* python3 -c 'import hashlib;print(hashlib.sha256(bytes(64)).hexdigest())' */
	bt_merkle_zero(1, h);
	T_EQ_STR(hx(0, h, 32), "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b");
	bt_merkle_zero(2, h);
	T_EQ_STR(hx(0, h, 32), "db56114e00fdd4c1f85c892bf35ac9a89289aaecb1ebd0a96cde606a748b5d71");

	T_EQ_UINT(bt_merkle_width(0), 1);
	T_EQ_UINT(bt_merkle_width(1), 1);
	T_EQ_UINT(bt_merkle_width(3), 4);
	T_EQ_UINT(bt_merkle_width(4), 4);
	T_EQ_UINT(bt_merkle_width(5), 8);

	/* printf hello | sha256sum: one leaf is its own root */
	T_EQ_INT(bt_merkle_file_root("hello", 5, h), BT_OK);
	T_EQ_STR(hx(0, h, 32), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	T_EQ_INT(bt_merkle_file_root("", 0, h), BT_EINVAL);

	d = fx_data(1, 40000);
	T_EQ_INT(bt_merkle_file_root(d, 40000, h), BT_OK);
	T_EQ_STR(hx(0, h, 32), "f0bea2cd2373c9738e9d2b57006f4a70996e86427d7b6337fce7b1a547a49cf6");
	free(d);
	d = fx_data(3, 16384);
	T_EQ_INT(bt_merkle_file_root(d, 16384, h), BT_OK);
	T_EQ_STR(hx(0, h, 32), "877c6bfc74a44016c03d01c39d6a918417027a5d6ba99d4f684aaf134c54ed23");
	bt_merkle_leaf(d, 16384, leaf);
	T_EQ_MEM(leaf, 32, h, 32);
	free(d);

	/* piece layer of pat(1, 163940) at 32 KiB -> the file's root */
	d = fx_data(1, 163940);
	{
		uint8_t layer[6 * 32];
		T_EQ_UINT(fx_layer(d, 163940, 32768, layer), 6);
		T_EQ_INT(bt_merkle_layer_root(layer, 6, 32768, h), BT_OK);
		T_EQ_STR(hx(0, h, 32),
			 "614f1a35633f9272fa62232a18a496f45659f4d13526f288d51fb5de79c3c097");
		T_EQ_INT(bt_merkle_layer_root(layer, 6, 12345, h), BT_EINVAL);
		T_EQ_INT(bt_merkle_layer_root(layer, 0, 32768, h), BT_EINVAL);
	}
	free(d);

	/* a builder at base level 1 pads with zero[1] */
	for (i = 0; i < 96; i++)
		nodes[i] = (uint8_t)(i * 7);
	bt_merkle_init(&mk, 1);
	for (i = 0; i < 3; i++)
		T_EQ_INT(bt_merkle_push(&mk, nodes + 32 * i), BT_OK);
	T_EQ_INT(bt_merkle_root(&mk, 4, h), BT_OK);
	bt_merkle_zero(1, z);
	fx_reduce(nodes, 3, 4, z, ref);
	T_EQ_MEM(h, 32, ref, 32);
	/* wider than needed: more zero subtrees on the right */
	T_EQ_INT(bt_merkle_root(&mk, 16, h), BT_OK);
	{
		uint8_t *wide = calloc(16, 32);
		memcpy(wide, nodes, 96);
		fx_reduce(wide, 3, 16, z, ref);
		free(wide);
	}
	T_EQ_MEM(h, 32, ref, 32);
	T_EQ_INT(bt_merkle_root(&mk, 2, h), BT_EINVAL);   /* narrower than n */
	T_EQ_INT(bt_merkle_root(&mk, 6, h), BT_EINVAL);   /* not a power of two */
	bt_merkle_init(&mk, 0);
	T_EQ_INT(bt_merkle_root(&mk, 1, h), BT_EINVAL);   /* nothing pushed */
}

int main(void)
{
	T_RUN(test_v1_single_literal);
	T_RUN(test_v1_multi);
	T_RUN(test_guarded_and_prefixes);
	T_RUN(test_path_traversal);
	T_RUN(test_name_rules);
	T_RUN(test_pieces_rules);
	T_RUN(test_piece_length_rules);
	T_RUN(test_huge_lengths);
	T_RUN(test_structure_errors);
	T_RUN(test_v2);
	T_RUN(test_v2_layer_errors);
	T_RUN(test_v2_tree_errors);
	T_RUN(test_v2_info_only);
	T_RUN(test_hybrid);
	T_RUN(test_hybrid_mismatch);
	T_RUN(test_lenient);
	T_RUN(test_tracker_tolerance);
	T_RUN(test_caps);
	T_RUN(test_merkle);
	return T_DONE();
}
