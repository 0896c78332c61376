/* bencode.c — zero-copy bencode decoder to a token array, and an encoder.
 *
 * The decoder is one loop with no recursion: the open containers form a
 * chain inside the caller's token array.  While a container is open, three
 * of its token fields hold parser state instead of their final values:
 *
 *   len   index of the enclosing open container (NO_PARENT at the root)
 *   skip  index of the last key seen (dicts; 0 = none yet; a key of dict c
 *         always has an index > c, so 0 is never a real key)
 *   n     direct children so far (dict: keys + values)
 *
 * When the closing 'e' arrives they get their final values.  So nesting
 * costs no stack and no allocation; max_depth is only a policy limit.
 *
 * Errors are reported as soon as the input can no longer become valid,
 * not when the value ends: "i03" is an error in strict mode without the
 * 'e', and a key out of order fails before its value is read.  Anything
 * else that stops at the end of the input is BT_NEED_MORE. */
#include "bencode.h"

#include <limits.h>
#include <string.h>

#define NO_PARENT UINT32_MAX

/* Offsets and lengths are uint32_t and the result is a long. */
#if LONG_MAX < UINT32_MAX
#define BE_MAX_INPUT ((size_t)LONG_MAX)
#else
#define BE_MAX_INPUT ((size_t)UINT32_MAX)
#endif

struct be_state {
	const uint8_t *b;
	size_t len;              /* never above BE_MAX_INPUT */
	unsigned flags;
	unsigned tol;            /* BT_BE_TOL_* seen */
	size_t tol_off;          /* first tolerated deviation */
	const char *tol_rule;
	struct bt_be_err *err;
};

static int fail(struct be_state *s, int code, size_t off, const char *rule)
{
	if (s->err) {
		s->err->code = code;
		s->err->off = off;
		s->err->rule = rule;
	}
	return code;
}

/* A deviation from BEP 3: an error in strict mode, noted in lenient mode.
 * Returns BT_OK when tolerated. */
static int deviate(struct be_state *s, unsigned tol, size_t off, const char *rule)
{
	if (!(s->flags & BT_BE_LENIENT))
		return fail(s, BT_EINVAL, off, rule);
	if (!s->tol) {
		s->tol_off = off;
		s->tol_rule = rule;
	}
	s->tol |= tol;
	return BT_OK;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* "i" [-] digits "e" at pos (b[pos] == 'i').  On BT_OK *end is the offset
 * after the 'e'.  The magnitude is kept within int64_t as digits arrive,
 * so the check can never overflow. */
static int parse_int(struct be_state *s, size_t pos, size_t *end)
{
	const uint8_t *b = s->b;
	size_t p = pos + 1, ds;
	uint64_t v = 0, lim = INT64_MAX;
	bool neg = false;
	int rc;

	if (p < s->len && b[p] == '-') {
		neg = true;
		lim = (uint64_t)INT64_MAX + 1;
		p++;
	}
	ds = p;
	for (;;) {
		unsigned d;
		if (p == s->len)
			return BT_NEED_MORE;
		if (!is_digit(b[p]))
			break;
		if (p == ds + 1 && b[ds] == '0') {
			rc = deviate(s, BT_BE_TOL_LEADZERO, ds, "leading zero in integer");
			if (rc)
				return rc;
		}
		d = (unsigned)(b[p] - '0');
		/* Not a BEP 3 violation (integers are unbounded), a limit of
		 * ours: hence BT_EUNSUPP, not BT_EINVAL. */
		if (v > (lim - d) / 10)
			return fail(s, BT_EUNSUPP, p, "integer overflows 64 bits");
		v = v * 10 + d;
		p++;
	}
	if (p == ds)
		return fail(s, BT_EINVAL, p, b[p] == 'e' ? "empty integer" :
			    "unexpected byte in integer");
	if (b[p] != 'e')
		return fail(s, BT_EINVAL, p, "unexpected byte in integer");
	if (neg && v == 0) {
		rc = deviate(s, BT_BE_TOL_NEGZERO, pos + 1, "negative zero");
		if (rc)
			return rc;
	}
	*end = p + 1;
	return BT_OK;
}

/* digits ":" payload at pos (b[pos] is a digit).  On BT_OK *end is the
 * offset after the payload and *n its length.  The declared length is
 * compared with what remains, never added to a pointer first. */
static int parse_str(struct be_state *s, size_t pos, size_t *end, uint32_t *n)
{
	const uint8_t *b = s->b;
	size_t p = pos;
	uint64_t v = 0;
	int rc;

	for (;;) {
		if (p == s->len)
			return BT_NEED_MORE;
		if (!is_digit(b[p]))
			break;
		if (p == pos + 1 && b[pos] == '0') {
			rc = deviate(s, BT_BE_TOL_LEADZERO, pos,
				     "leading zero in string length");
			if (rc)
				return rc;
		}
		v = v * 10 + (unsigned)(b[p] - '0');
		if (v > UINT32_MAX) /* v <= UINT32_MAX before: no wrap */
			return fail(s, BT_ETOOBIG, pos, "string length too large");
		p++;
	}
	if (b[p] != ':')
		return fail(s, BT_EINVAL, p, "unexpected byte in string length");
	p++;
	/* The payload would end past the largest input we accept: it can
	 * never fit, so more bytes would not help. */
	if (v > BE_MAX_INPUT - p)
		return fail(s, BT_ETOOBIG, pos, "string length too large");
	if (v > s->len - p)
		return BT_NEED_MORE;
	*end = p + (size_t)v;
	*n = (uint32_t)v;
	return BT_OK;
}

/* Raw-byte order of two string tokens' payloads: memcmp, then shorter
 * first. */
static int key_cmp(const uint8_t *b, const struct bt_be_tok *x,
		   const struct bt_be_tok *y)
{
	const uint8_t *px = b + x->off + x->len - x->n;
	const uint8_t *py = b + y->off + y->len - y->n;
	size_t m = x->n < y->n ? x->n : y->n;
	int c = m ? memcmp(px, py, m) : 0;

	if (c)
		return c;
	return x->n < y->n ? -1 : x->n > y->n;
}

static long decode(struct be_state *s, struct bt_be_tok *toks, size_t cap,
		   unsigned max_depth, size_t *ntoks)
{
	const uint8_t *b = s->b;
	size_t pos = 0, ntok = 0, end;
	uint32_t cur = NO_PARENT;
	unsigned depth = 0;
	int rc;

	for (;;) {
		struct bt_be_tok *t, *ct = NULL;
		bool want_key = false;
		uint8_t c;
		size_t idx;

		if (pos == s->len)
			return BT_NEED_MORE;
		c = b[pos];
		if (cur != NO_PARENT) {
			ct = &toks[cur];
			want_key = ct->type == BT_BE_DICT && ct->n % 2 == 0;
			if (c == 'e') {
				uint32_t parent = ct->len;
				if (ct->type == BT_BE_DICT && !want_key)
					return fail(s, BT_EINVAL, pos,
						    "dictionary key without value");
				ct->len = (uint32_t)(pos + 1 - ct->off);
				ct->skip = (uint32_t)(ntok - cur);
				if (ct->type == BT_BE_DICT)
					ct->n /= 2;
				pos++;
				depth--;
				cur = parent;
				goto value_done;
			}
			if (want_key && (c == 'i' || c == 'l' || c == 'd'))
				return fail(s, BT_EINVAL, pos,
					    "dictionary key is not a string");
		}
		if (c != 'i' && c != 'l' && c != 'd' && !is_digit(c))
			return fail(s, BT_EINVAL, pos,
				    "unexpected byte at start of value");
		/* Depth first: with bt_be_max_tokens() tokens, only nesting
		 * can exhaust the array (see bencode.h). */
		if ((c == 'l' || c == 'd') && depth >= max_depth)
			return fail(s, BT_EDEPTH, pos, "nesting deeper than max_depth");
		if (ntok == cap)
			return fail(s, BT_ENOSPC, pos, "token array full");

		idx = ntok++;
		t = &toks[idx];
		t->off = (uint32_t)pos;
		if (ct)
			ct->n++;
		if (c == 'l' || c == 'd') {
			t->type = c == 'l' ? BT_BE_LIST : BT_BE_DICT;
			t->len = cur;
			t->skip = 0;
			t->n = 0;
			cur = (uint32_t)idx;
			depth++;
			pos++;
			continue;
		}
		if (c == 'i') {
			rc = parse_int(s, pos, &end);
			if (rc)
				return rc;
			t->type = BT_BE_INT;
			t->n = 0;
		} else {
			uint32_t n;
			rc = parse_str(s, pos, &end, &n);
			if (rc)
				return rc;
			t->type = BT_BE_STR;
			t->n = n;
		}
		t->len = (uint32_t)(end - pos);
		t->skip = 1;
		if (want_key) {
			if (ct->skip) {
				int k = key_cmp(b, &toks[ct->skip], t);
				if (k == 0)
					rc = deviate(s, BT_BE_TOL_DUPKEY, pos,
						     "duplicate dictionary key");
				else if (k > 0)
					rc = deviate(s, BT_BE_TOL_UNSORTED, pos,
						     "dictionary keys not sorted");
				if (rc)
					return rc;
			}
			ct->skip = (uint32_t)idx;
		}
		pos = end;
value_done:
		if (cur == NO_PARENT)
			break;
	}
	*ntoks = ntok;
	if (pos != s->len && !(s->flags & BT_BE_ALLOW_TRAILING))
		return fail(s, BT_EINVAL, pos, "trailing bytes after value");
	return (long)pos;
}

/* err after the call: on an error, code/off/rule name the rule broken; on
 * BT_NEED_MORE, off is len and rule "truncated value"; on success, code is
 * BT_OK and off/rule name the first tolerated deviation (lenient mode), or
 * 0 and "ok".  rule is never NULL.  tolerated is filled in every case.
 * doc->ntoks is 0 unless the decode succeeded; doc->len is the input
 * length (the value's own length is toks[0].len). */
long bt_be_decode(struct bt_be_doc *doc, const void *buf, size_t len,
		  struct bt_be_tok *toks, size_t cap,
		  const struct bt_be_opts *opts, struct bt_be_err *err)
{
	struct be_state s;
	unsigned max_depth = BT_BE_DEFAULT_DEPTH;
	size_t ntoks = 0;
	bool clamped = false;
	long rc;

	memset(&s, 0, sizeof(s));
	s.b = buf;
	s.len = len;
	s.err = err;
	if (opts) {
		s.flags = opts->flags;
		if (opts->max_depth)
			max_depth = opts->max_depth;
	}
	if (err) {
		err->code = BT_OK;
		err->off = 0;
		err->rule = "ok";
		err->tolerated = 0;
	}
	if (doc) {
		doc->buf = buf;
		doc->len = len;
		doc->toks = toks;
		doc->ntoks = 0;
	}

	if (len > BE_MAX_INPUT) {
		/* A value must end exactly at len, past what a token can
		 * describe.  With trailing bytes allowed, decode what fits. */
		if (!(s.flags & BT_BE_ALLOW_TRAILING))
			return fail(&s, BT_ETOOBIG, 0, "input larger than 4 GiB");
		s.len = BE_MAX_INPUT;
		clamped = true;
	}

	rc = decode(&s, toks, cap, max_depth, &ntoks);
	if (rc == BT_NEED_MORE && clamped)
		rc = fail(&s, BT_ETOOBIG, BE_MAX_INPUT, "value larger than 4 GiB");
	if (err) {
		err->tolerated = s.tol;
		if (rc == BT_NEED_MORE)
			fail(&s, BT_NEED_MORE, s.len, "truncated value");
		else if (rc >= 0 && s.tol) {
			err->off = s.tol_off;
			err->rule = s.tol_rule;
		}
	}
	if (rc >= 0 && doc)
		doc->ntoks = ntoks;
	return rc;
}

/* --- accessors --- */

static const struct bt_be_tok *tok(const struct bt_be_doc *d, size_t i,
				   enum bt_be_type type)
{
	if (!d || i >= d->ntoks || d->toks[i].type != type)
		return NULL;
	return &d->toks[i];
}

bool bt_be_str(const struct bt_be_doc *d, size_t i, const uint8_t **p, size_t *len)
{
	const struct bt_be_tok *t = tok(d, i, BT_BE_STR);

	if (!t)
		return false;
	*p = d->buf + t->off + (t->len - t->n);
	*len = t->n;
	return true;
}

bool bt_be_int(const struct bt_be_doc *d, size_t i, int64_t *v)
{
	const struct bt_be_tok *t = tok(d, i, BT_BE_INT);
	const uint8_t *q, *e;
	uint64_t m = 0;
	bool neg;

	if (!t)
		return false;
	/* The decoder checked the syntax and the range. */
	q = d->buf + t->off + 1;
	e = d->buf + t->off + t->len - 1;
	neg = *q == '-';
	if (neg)
		q++;
	for (; q < e; q++)
		m = m * 10 + (unsigned)(*q - '0');
	*v = neg ? (m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m) :
		   (int64_t)m;
	return true;
}

void bt_be_raw(const struct bt_be_doc *d, size_t i, const uint8_t **p, size_t *len)
{
	if (!d || i >= d->ntoks) {
		*p = NULL;
		*len = 0;
		return;
	}
	*p = d->buf + d->toks[i].off;
	*len = d->toks[i].len;
}

long bt_be_first(const struct bt_be_doc *d, size_t i)
{
	if (!d || i >= d->ntoks)
		return -1;
	if (d->toks[i].type != BT_BE_LIST && d->toks[i].type != BT_BE_DICT)
		return -1;
	return d->toks[i].skip > 1 ? (long)(i + 1) : -1;
}

long bt_be_dict_getn(const struct bt_be_doc *d, size_t i, const void *key, size_t klen)
{
	const struct bt_be_tok *t = tok(d, i, BT_BE_DICT);
	size_t j, k;

	if (!t)
		return -1;
	/* Linear: dicts are small, and lenient ones need not be sorted.  The
	 * first match wins when keys repeat. */
	for (j = i + 1, k = 0; k < t->n; k++) {
		const struct bt_be_tok *kt = &d->toks[j];
		size_t v = j + kt->skip;
		if (kt->n == klen &&
		    (klen == 0 || memcmp(d->buf + kt->off + kt->len - kt->n, key, klen) == 0))
			return (long)v;
		j = v + d->toks[v].skip;
	}
	return -1;
}

long bt_be_dict_get(const struct bt_be_doc *d, size_t i, const char *key)
{
	return bt_be_dict_getn(d, i, key, strlen(key));
}

bool bt_be_dict_str(const struct bt_be_doc *d, size_t i, const char *key,
		    const uint8_t **p, size_t *len)
{
	long v = bt_be_dict_get(d, i, key);

	return v >= 0 && bt_be_str(d, (size_t)v, p, len);
}

bool bt_be_dict_int(const struct bt_be_doc *d, size_t i, const char *key, int64_t *v)
{
	long j = bt_be_dict_get(d, i, key);

	return j >= 0 && bt_be_int(d, (size_t)j, v);
}

/* --- encoder --- */

static void put_dec(struct bt_wr *w, uint64_t v)
{
	uint8_t tmp[20];
	size_t k = sizeof(tmp);

	do {
		tmp[--k] = (uint8_t)('0' + v % 10);
		v /= 10;
	} while (v);
	bt_wr_bytes(w, tmp + k, sizeof(tmp) - k);
}

void bt_be_put_int(struct bt_wr *w, int64_t v)
{
	bt_wr_u8(w, 'i');
	if (v < 0) {
		bt_wr_u8(w, '-');
		put_dec(w, (uint64_t)0 - (uint64_t)v);
	} else {
		put_dec(w, (uint64_t)v);
	}
	bt_wr_u8(w, 'e');
}

void bt_be_put_str(struct bt_wr *w, const void *p, size_t len)
{
	put_dec(w, len);
	bt_wr_u8(w, ':');
	bt_wr_bytes(w, p, len);
}

void bt_be_put_cstr(struct bt_wr *w, const char *s)
{
	bt_be_put_str(w, s, strlen(s));
}

void bt_be_put_list(struct bt_wr *w)
{
	bt_wr_u8(w, 'l');
}

void bt_be_put_dict(struct bt_wr *w)
{
	bt_wr_u8(w, 'd');
}

void bt_be_put_end(struct bt_wr *w)
{
	bt_wr_u8(w, 'e');
}
