/* Bencode decoder on any input, strict and lenient.
 *
 * A strict success is checked against the whole contract of bencode.h:
 *   - it consumed the whole input; token spans nest inside their parent
 *     and tile it (children are contiguous, in order, between the opening
 *     byte and the closing 'e'); skip and n agree with the children;
 *   - dictionary keys are strings in strictly increasing raw-byte order,
 *     and bt_be_dict_getn finds each one at its own value;
 *   - re-encoding the tree with the bt_be_put_* encoder gives back the
 *     input byte for byte (strict bencode is canonical), so bt_be_int and
 *     bt_be_str return exactly what was written;
 *   - every proper prefix is BT_NEED_MORE, and lenient mode accepts the
 *     same input with the same tokens and nothing tolerated.
 * Lenient mode on any input: spans inside the input, never past it.
 * Both modes: bt_be_max_tokens(len) tokens give the same answer (code and
 * offset) as a token array that cannot run out (len + 1 tokens). */
#include "fuzz.h"
#include "bencode.h"

#define DEPTH 32

/* Re-encode token i of d onto w; returns the index after its subtree. */
static size_t reencode(const struct bt_be_doc *d, size_t i, struct bt_wr *w,
		       unsigned depth)
{
	const struct bt_be_tok *t = &d->toks[i];
	const uint8_t *p;
	size_t n, j, k, kids;
	int64_t v;

	FUZZ_CHECK(depth <= DEPTH);
	switch (t->type) {
	case BT_BE_INT:
		FUZZ_CHECK(bt_be_int(d, i, &v));
		FUZZ_CHECK(t->skip == 1);
		bt_be_put_int(w, v);
		return i + 1;
	case BT_BE_STR:
		FUZZ_CHECK(bt_be_str(d, i, &p, &n));
		FUZZ_CHECK(n == t->n);
		FUZZ_CHECK(t->skip == 1);
		FUZZ_CHECK(fz_inside(p, n, d->buf + t->off, t->len));
		bt_be_put_str(w, p, n);
		return i + 1;
	case BT_BE_LIST:
	case BT_BE_DICT:
		break;
	default:
		FUZZ_CHECK(!"bad token type");
	}
	if (t->type == BT_BE_LIST)
		bt_be_put_list(w);
	else
		bt_be_put_dict(w);
	kids = t->type == BT_BE_DICT ? 2 * (size_t)t->n : t->n;
	FUZZ_CHECK(bt_be_first(d, i) == (kids ? (long)(i + 1) : -1));
	j = i + 1;
	for (k = 0; k < kids; k++) {
		const struct bt_be_tok *c = &d->toks[j];
		size_t next;

		FUZZ_CHECK(j < i + t->skip);
		/* Children tile the parent: the first starts after the
		 * opening byte, each where the previous ended (below). */
		if (k == 0)
			FUZZ_CHECK(c->off == t->off + 1);
		if (t->type == BT_BE_DICT && k % 2 == 0) {
			FUZZ_CHECK(c->type == BT_BE_STR);
			FUZZ_CHECK(bt_be_str(d, j, &p, &n));
			/* Strict: keys strictly increasing; the lookup finds
			 * this key's own value. */
			FUZZ_CHECK(bt_be_dict_getn(d, i, p, n) == (long)(j + 1));
		}
		next = reencode(d, j, w, depth + 1);
		FUZZ_CHECK(next == bt_be_next(d, j));
		FUZZ_CHECK(next <= i + t->skip);
		if (k + 1 < kids)
			FUZZ_CHECK(d->toks[next].off == c->off + c->len);
		else
			FUZZ_CHECK(c->off + c->len + 1 == t->off + t->len);
		j = next;
	}
	if (!kids)
		FUZZ_CHECK(t->len == 2);
	FUZZ_CHECK(j == i + t->skip);
	FUZZ_CHECK(d->buf[t->off + t->len - 1] == 'e');
	bt_be_put_end(w);
	return j;
}

/* Raw-byte order of two keys: memcmp, then shorter first. */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

static void check_sorted(const struct bt_be_doc *d)
{
	size_t i, k, j;

	for (i = 0; i < d->ntoks; i++) {
		const uint8_t *pp = NULL, *p;
		size_t pn = 0, n;

		if (d->toks[i].type != BT_BE_DICT)
			continue;
		for (k = 0, j = i + 1; k < d->toks[i].n; k++) {
			FUZZ_CHECK(bt_be_str(d, j, &p, &n));
			if (k)
				FUZZ_CHECK(key_cmp(pp, pn, p, n) < 0);
			pp = p;
			pn = n;
			j = bt_be_next(d, bt_be_next(d, j));
		}
	}
}

/* The result with bt_be_max_tokens(size) tokens (n, err) against a
 * decode that cannot run out of tokens. */
static void same_as_unbounded(const uint8_t *data, size_t size, struct bt_be_tok *big,
			      long n, const struct bt_be_err *err,
			      const struct bt_be_opts *o)
{
	struct bt_be_doc d;
	struct bt_be_err e;
	long m = bt_be_decode(&d, data, size, big, size + 1, o, &e);

	FUZZ_CHECK(m != BT_ENOSPC);
	FUZZ_KNOWN("be-max-tokens", n == m);
	FUZZ_KNOWN("be-max-tokens", n != m || err->off == e.off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct bt_be_opts strict = { 0, DEPTH };
	const struct bt_be_opts lenient = { BT_BE_LENIENT | BT_BE_ALLOW_TRAILING, DEPTH };
	size_t cap = bt_be_max_tokens(size), i;
	struct bt_be_tok *toks = malloc(cap * sizeof *toks);
	struct bt_be_tok *toks2 = malloc(cap * sizeof *toks2);
	struct bt_be_tok *big = malloc((size + 1) * sizeof *big);
	struct bt_be_doc doc, doc2;
	struct bt_be_err err;
	long n, n2;

	if (!toks || !toks2 || !big)
		abort();
	n = bt_be_decode(&doc, data, size, toks, cap, &strict, &err);
	same_as_unbounded(data, size, big, n, &err, &strict);
	/* bt_be_max_tokens() always suffices (bencode.h). */
	FUZZ_KNOWN("be-max-tokens", n != BT_ENOSPC);
	FUZZ_CHECK(n == err.code || n > 0);
	FUZZ_CHECK(err.rule != NULL);
	if (n > 0) {
		uint8_t *out = malloc(size);
		struct bt_wr w;

		FUZZ_CHECK((size_t)n == size);
		FUZZ_CHECK(doc.ntoks >= 1 && doc.ntoks <= cap);
		FUZZ_CHECK(toks[0].off == 0 && toks[0].len == size);
		FUZZ_CHECK(toks[0].skip == doc.ntoks);
		for (i = 0; i < doc.ntoks; i++) {
			FUZZ_CHECK((size_t)toks[i].off + toks[i].len <= size);
			FUZZ_CHECK(toks[i].skip >= 1);
			FUZZ_CHECK(i + toks[i].skip <= doc.ntoks);
		}
		check_sorted(&doc);

		/* Canonical: re-encoding gives the input back. */
		bt_wr_init(&w, out, size);
		FUZZ_CHECK(reencode(&doc, 0, &w, 0) == doc.ntoks);
		FUZZ_CHECK(bt_wr_ok(&w) && w.len == size);
		FUZZ_CHECK(memcmp(out, data, size) == 0);
		free(out);

		/* Lenient mode: the same tokens, nothing tolerated. */
		n2 = bt_be_decode(&doc2, data, size, toks2, cap, &lenient, &err);
		FUZZ_CHECK(n2 == n && doc2.ntoks == doc.ntoks);
		FUZZ_CHECK(err.tolerated == 0);
		for (i = 0; i < doc.ntoks; i++)
			FUZZ_CHECK(toks[i].type == toks2[i].type && toks[i].off == toks2[i].off &&
				   toks[i].len == toks2[i].len && toks[i].skip == toks2[i].skip &&
				   toks[i].n == toks2[i].n);

		/* One token short: BT_ENOSPC, never an overrun. */
		n2 = bt_be_decode(&doc2, data, size, toks2, doc.ntoks - 1, &strict, NULL);
		FUZZ_CHECK(n2 == BT_ENOSPC);

		/* Proper prefixes need more (two of them: cheap enough). */
		n2 = bt_be_decode(&doc2, data, size - 1, toks2, cap, &strict, NULL);
		FUZZ_CHECK(n2 == BT_NEED_MORE);
		n2 = bt_be_decode(&doc2, data, size / 2, toks2, cap, &strict, NULL);
		FUZZ_CHECK(n2 == BT_NEED_MORE);
	}

	n = bt_be_decode(&doc, data, size, toks, cap, &lenient, &err);
	FUZZ_KNOWN("be-max-tokens", n != BT_ENOSPC);
	same_as_unbounded(data, size, big, n, &err, &lenient);
	if (n > 0) {
		FUZZ_CHECK((size_t)n <= size);
		FUZZ_CHECK(toks[0].off == 0 && toks[0].len == (size_t)n);
		for (i = 0; i < doc.ntoks; i++) {
			FUZZ_CHECK((size_t)toks[i].off + toks[i].len <= (size_t)n);
			FUZZ_CHECK(i + toks[i].skip <= doc.ntoks);
		}
		/* Lookups on lenient documents (unsorted, duplicate keys). */
		if (toks[0].type == BT_BE_DICT) {
			const uint8_t *p;
			size_t len;
			int64_t v;
			(void)bt_be_dict_str(&doc, 0, "announce", &p, &len);
			(void)bt_be_dict_int(&doc, 0, "length", &v);
			(void)bt_be_dict_get(&doc, 0, "info");
		}
	}
	free(toks);
	free(toks2);
	free(big);
	return 0;
}
