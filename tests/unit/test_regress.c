/* test_regress.c — every input the fuzzers (tests/fuzz/) found that broke
 * a library contract, as a named test with the bytes inline.
 *
 * Each test names the harness and the saved input (tests/fuzz/corpus/
 * NAME/regress-*), the function at fault and the contract it broke, and
 * asserts what the header promises.  A test stays here after the fix.
 * Tags in brackets are the FUZZ_KNOWN tags of tests/fuzz/fuzz.h, which let
 * a long fuzzing run go on past a bug while its fix is pending. */
#include "bencode.h"
#include "ext.h"
#include "meta.h"
#include "t.h"
#include "tracker.h"
#include "wire.h"

/* Bytes of a string literal without its NUL. */
#define LIT(s) (const uint8_t *)(s), (sizeof(s) - 1)

/* ---- [reserved-str] wire.c bt_reserved_str, its static append() -------
 * fuzz_handshake, corpus fuzz_handshake/regress-reserved-str-*, and every
 * real client's handshake (libtorrent 00 00 00 00 00 10 00 05).
 * wire.h: "truncated if cap is short".  When a name does not fit, append()
 * writes "..." at dst + cap - 4 even when the text so far ends before that
 * (its NUL is earlier), so the marker is invisible: cap 5..9 gives "" for
 * "extension,fast,dht", and cap 12 gives "bit 51," for "bit 51,bit 49" —
 * a list that looks complete.  Expected (cap >= 4): cut at cap - 1 bytes,
 * the last three "...", the rest a prefix of the full text. */
static void check_cut(const uint8_t r[8])
{
	char full[512], out[64];
	size_t cap, n, fl;

	bt_reserved_str(r, full, sizeof full);
	fl = strlen(full);
	for (cap = 1; cap <= fl && cap < sizeof out; cap++) {
		memset(out, 'X', sizeof out);
		bt_reserved_str(r, out, cap);
		n = strnlen(out, cap);
		if (n == cap) {
			T_FAILF("cap %zu: not NUL-terminated", cap);
			return;
		}
		if (cap < 4) {   /* no room for "...": anything but a lie */
			if (strncmp(out, full, n) != 0)
				T_FAILF("cap %zu: \"%s\", not a prefix of \"%s\"", cap, out, full);
			continue;
		}
		if (n != cap - 1 || strcmp(out + n - 3, "...") != 0 ||
		    strncmp(out, full, n - 3) != 0) {
			T_FAILF("cap %zu: \"%s\", expected %zu bytes of \"%s\" ending in \"...\"",
				cap, out, cap - 1, full);
			return;
		}
	}
}

static void test_regress_reserved_str_libtorrent(void)
{
	static const uint8_t r[8] = { 0, 0, 0, 0, 0, 0x10, 0, 0x05 };
	char out[8];

	bt_reserved_str(r, out, 7);
	T_EQ_STR(out, "ext...");
	check_cut(r);
}

static void test_regress_reserved_str_unnamed_bits(void)
{
	/* fuzz_handshake crash 3698cad1: pstrlen 1, reserved 00 0a 00 ... */
	static const uint8_t r[8] = { 0x00, 0x0a, 0, 0, 0, 0, 0, 0 };
	char out[16];

	bt_reserved_str(r, out, 12);
	T_EQ_STR(out, "bit 51,b...");
	check_cut(r);
}

static void test_regress_reserved_str_print_buffer(void)
{
	/* What print.c's 128-byte buffer shows for a hostile peer's reserved
	 * bytes: "...,bit 19,bit 18," with no "...", bits 15 down to 0
	 * silently missing. */
	static const uint8_t r[8] = { 0x0e, 0x82, 0x74, 0x41, 0x21, 0x3d, 0xdc, 0x87 };
	char out[128];
	size_t n;

	bt_reserved_str(r, out, sizeof out);
	n = strlen(out);
	T_EQ_UINT(n, sizeof out - 1);
	T_CHECK(n >= 3 && strcmp(out + n - 3, "...") == 0);
	check_cut(r);
}

/* ---- [be-max-tokens] bencode.h bt_be_max_tokens(), bencode.c decode() --
 * fuzz_bencode, fuzz_announce, fuzz_scrape, fuzz_meta; corpus
 * regress-be-max-tokens-*.  bencode.h promises that bt_be_max_tokens(len)
 * tokens are enough for any len-byte input (tracker.h and meta.c rely on
 * it), yet len / 2 + 1 only bounds complete values: an open container
 * takes one byte and one token ("ll1": 3 bytes, 3 tokens, bound 2).
 * Commit bf94922 made a decode that fills such an array return
 * BT_NEED_MORE, on the theory that the input must be a truncated prefix.
 * It need not be: the rest may break a rule ("lllllli4,": BT_EINVAL) or
 * nest too deep (100 x 'l': BT_EDEPTH at the 65th), and the caller is
 * told "truncated" about bytes that can never become valid.
 * Tokens of any prefix are at most len / 2 + (open containers + 1) / 2,
 * so a true bound is len / 2 + max_depth / 2 + 2 for depth <= max_depth:
 * suggested fix, bt_be_max_tokens(len) = len / 2 + BT_BE_DEFAULT_DEPTH / 2
 * + 2 (documented for max_depth <= BT_BE_DEFAULT_DEPTH), the depth check
 * before the token check in decode(), and bf94922's NEED_MORE branch
 * dropped (with a true bound it cannot be reached). */
static void test_regress_be_max_tokens_truncated(void)
{
	static const uint8_t in[] = "ll1";   /* fuzz_bencode crash b73c940d */
	struct bt_be_tok toks[8];
	struct bt_be_doc doc;
	long n = bt_be_decode(&doc, in, 3, toks, bt_be_max_tokens(3), NULL, NULL);

	T_EQ_INT(n, BT_NEED_MORE);
	/* With room to spare it is a plain truncation. */
	T_EQ_INT(bt_be_decode(&doc, in, 3, toks, 8, NULL, NULL), BT_NEED_MORE);
}

static void test_regress_be_max_tokens_invalid(void)
{
	/* A value that can never complete: "i4," is not an integer. */
	static const uint8_t in[] = "lllllli4,";
	struct bt_be_tok toks[16];
	struct bt_be_doc doc;
	struct bt_be_err err;
	long n = bt_be_decode(&doc, in, sizeof in - 1, toks,
			      bt_be_max_tokens(sizeof in - 1), NULL, &err);

	T_EQ_INT(n, BT_EINVAL);
	T_EQ_INT(bt_be_decode(&doc, in, sizeof in - 1, toks, 16, NULL, NULL), BT_EINVAL);
}

static void test_regress_be_max_tokens_too_deep(void)
{
	uint8_t in[100];
	struct bt_be_tok toks[128];
	struct bt_be_doc doc;
	struct bt_be_err err;
	long n;

	memset(in, 'l', sizeof in);
	n = bt_be_decode(&doc, in, sizeof in, toks, bt_be_max_tokens(sizeof in), NULL, &err);
	T_EQ_INT(n, BT_EDEPTH);
	T_EQ_UINT(err.off, BT_BE_DEFAULT_DEPTH);
	n = bt_be_decode(&doc, in, sizeof in, toks, 128, NULL, &err);
	T_EQ_INT(n, BT_EDEPTH);
}

static void test_regress_announce_truncated_is_need_more(void)
{
	/* fuzz_announce crash 19c71daf: a body cut inside a dictionary-model
	 * peer list.  tracker.h: "BT_NEED_MORE: the body ends inside the
	 * bencode (truncated)"; toks: "bt_be_max_tokens(len) always suffices". */
	static const uint8_t body[] = "d0:ld0:0:";
	struct bt_be_tok toks[16];
	struct bt_trk_resp r;
	struct bt_trk_err err;
	int rc = bt_trk_parse_announce(&r, body, sizeof body - 1, toks,
				       bt_be_max_tokens(sizeof body - 1), NULL, NULL, 0, &err);

	T_EQ_INT(rc, BT_NEED_MORE);
	T_EQ_STR(err.rule, "truncated bencode");
}

static void test_regress_scrape_malformed_is_einval(void)
{
	/* fuzz_scrape crash a3733df5: malformed integer after nested lists;
	 * since bf94922 "truncated bencode" (BT_NEED_MORE). */
	static const uint8_t body[] = "d2:\x97\xc4ldeldelldeli4,";
	struct bt_be_tok toks[32];
	struct bt_trk_scrape_resp r;
	struct bt_trk_err err;
	int rc = bt_trk_parse_scrape(&r, body, sizeof body - 1, toks,
				     bt_be_max_tokens(sizeof body - 1), &err);

	T_EQ_INT(rc, BT_EINVAL);
	T_EQ_UINT(err.off, sizeof body - 2);   /* the ',' */
}

static void test_regress_meta_truncated(void)
{
	/* meta.c grows its token array to bt_be_max_tokens(len) at most, so
	 * before bf94922 a short truncated torrent was "token array full"
	 * (BT_ENOSPC) rather than "torrent is truncated" (BT_EINVAL). */
	static const uint8_t in[] = "d1:alllll";
	struct bt_meta m;
	struct bt_meta_err err;
	int rc = bt_meta_parse(&m, in, sizeof in - 1, NULL, &err);

	T_EQ_INT(rc, BT_EINVAL);
	T_EQ_STR(err.rule, "torrent is truncated");
}

/* ---- [be-codes] ext.c decode_dict, tracker.c decode_body -----
 * fuzz_ext_hs, fuzz_utm, fuzz_pex, fuzz_announce, fuzz_scrape; corpus
 * regress-be-codes.  bt_be_decode's own codes pass through both: an
 * integer beyond 64 bits is BT_EUNSUPP (bencode.c: "a limit of ours"),
 * nesting deeper than 64 is BT_EDEPTH.  ext.h says its parsers refuse
 * with BT_ETOOBIG, BT_EINVAL or BT_EDEPTH only, and tracker.h lists
 * BT_EINVAL, BT_NEED_MORE and BT_ETOOBIG (and BT_ENOSPC for the token
 * array).  A peer or tracker can send i99999999999999999999e or 65 x 'l'
 * and get a code the caller was told cannot happen.  Fix either way: map
 * them to BT_EINVAL in decode_dict / decode_body (keeping the rule), which
 * these tests expect, or list them in ext.h and tracker.h and change the
 * expectations here. */
static void test_regress_ext_hs_int_overflow(void)
{
	/* fuzz_ext_hs crash 5a15181a: a 53-digit integer, not a dict. */
	static const char in[] = "i666666666666666666666666666666666666666666666662261-";
	struct bt_ext_hs h;
	struct bt_be_err err;

	T_EQ_INT(bt_ext_hs_parse(&h, in, sizeof in - 1, &err), BT_EINVAL);
}

static void test_regress_pex_int_overflow(void)
{
	static const char in[] = "d5:addedi99999999999999999999ee";
	struct bt_pex x;

	T_EQ_INT(bt_pex_parse(&x, in, sizeof in - 1, NULL), BT_EINVAL);
}

static void test_regress_announce_int_overflow(void)
{
	static const uint8_t body[] = "d8:intervali99999999999999999999e5:peers0:e";
	struct bt_be_tok toks[32];
	struct bt_trk_resp r;
	struct bt_trk_err err;

	T_EQ_INT(bt_trk_parse_announce(&r, body, sizeof body - 1, toks, 32, NULL, NULL, 0,
				       &err), BT_EINVAL);
}

static void test_regress_announce_too_deep(void)
{
	/* fuzz_scrape (with the be-max-tokens fix) ff9f18d4: nesting. */
	uint8_t body[80];
	struct bt_be_tok toks[128];
	struct bt_trk_resp r;
	struct bt_trk_err err;
	int rc;

	memcpy(body, "d1:a", 4);
	memset(body + 4, 'l', sizeof body - 4);
	rc = bt_trk_parse_announce(&r, body, sizeof body, toks, 128, NULL, NULL, 0, &err);
	T_CHECK(rc == BT_EINVAL || rc == BT_NEED_MORE || rc == BT_ETOOBIG);
}

int main(void)
{
	T_RUN(test_regress_reserved_str_libtorrent);
	T_RUN(test_regress_reserved_str_unnamed_bits);
	T_RUN(test_regress_reserved_str_print_buffer);
	T_RUN(test_regress_be_max_tokens_truncated);
	T_RUN(test_regress_be_max_tokens_invalid);
	T_RUN(test_regress_be_max_tokens_too_deep);
	T_RUN(test_regress_announce_truncated_is_need_more);
	T_RUN(test_regress_scrape_malformed_is_einval);
	T_RUN(test_regress_meta_truncated);
	T_RUN(test_regress_ext_hs_int_overflow);
	T_RUN(test_regress_pex_int_overflow);
	T_RUN(test_regress_announce_int_overflow);
	T_RUN(test_regress_announce_too_deep);
	return T_DONE();
}
