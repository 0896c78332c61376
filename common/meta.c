/* meta.c — .torrent metainfo parser and checker; see meta.h.
 *
 * One pass over the bencode tokens of the whole file.  Order of checks
 * follows BEP 52: `meta version` first (a newer version must be reported
 * as such before any other complaint), then the info dict, then what lies
 * outside it.  Every error names the byte offset of the value at fault
 * (or of the dictionary missing a key) and a static rule string. */
#include "meta.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define NO_DIR UINT32_MAX

/* bt_meta_file.kind: where the path components live. */
enum {
	PATH_V1_LIST = 0,  /* path_tok: the `path` list of a v1 files entry */
	PATH_SINGLE,       /* path_tok: a string (name of a single-file torrent) */
	PATH_V2,           /* path_tok: the file-tree key; parent: dirs index */
};

struct ctx {
	struct bt_meta *m;
	const struct bt_be_doc *d;
	const uint8_t *buf;
	unsigned flags;
	size_t max_files;
	struct bt_meta_err *err;
	/* v2 files before they are merged with v1 ones (hybrids). */
	struct bt_meta_file *v2;
	size_t nv2, ndirs;
	size_t maxv2, maxdirs;   /* what the arrays hold */
};

static int fail(struct ctx *c, int code, size_t off, const char *rule)
{
	if (c->err) {
		c->err->code = code;
		c->err->off = off;
		c->err->rule = rule;
		c->err->has_numbers = false;
	}
	return code;
}

static int fail_nums(struct ctx *c, int code, size_t off, const char *rule,
		     uint64_t want, uint64_t got)
{
	fail(c, code, off, rule);
	if (c->err) {
		c->err->has_numbers = true;
		c->err->want = want;
		c->err->got = got;
	}
	return code;
}

/* A deviation we can live with: noted, or an error in strict mode. */
static int tolerate(struct ctx *c, unsigned bit, size_t off, const char *rule)
{
	if (c->flags & BT_META_STRICT)
		return fail(c, BT_EINVAL, off, rule);
	c->m->tolerated |= bit;
	return BT_OK;
}

static size_t tok_off(struct ctx *c, size_t t)
{
	return c->d->toks[t].off;
}

static size_t ptr_off(struct ctx *c, const uint8_t *p)
{
	return (size_t)(p - c->buf);
}

static bool is_type(struct ctx *c, long t, int type)
{
	return t >= 0 && c->d->toks[t].type == type;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static unsigned log2u(uint64_t v)
{
	unsigned k = 0;

	while (v > 1) {
		v >>= 1;
		k++;
	}
	return k;
}

/* Why component p[0..n) is not a safe path element, or NULL. */
static const char *bad_component(const uint8_t *p, size_t n)
{
	if (n == 0)
		return "file path component is empty";
	if (n == 1 && p[0] == '.')
		return "file path component '.' is not allowed";
	if (n == 2 && p[0] == '.' && p[1] == '.')
		return "file path component '..' is not allowed";
	if (memchr(p, '/', n))
		return "file path component contains '/'";
	if (memchr(p, '\0', n))
		return "file path component contains a NUL byte";
	return NULL;
}

static uint32_t parse_attr(const uint8_t *p, size_t n)
{
	uint32_t a = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		switch (p[i]) {
		case 'p': a |= BT_META_ATTR_PAD; break;
		case 'x': a |= BT_META_ATTR_EXEC; break;
		case 'h': a |= BT_META_ATTR_HIDDEN; break;
		case 'l': a |= BT_META_ATTR_SYMLINK; break;
		default: break; /* BEP 47: ignore unknown attributes */
		}
	}
	return a;
}

static int file_attr(struct ctx *c, size_t dict, uint32_t *attr)
{
	long t = bt_be_dict_get(c->d, dict, "attr");
	const uint8_t *p;
	size_t n;

	*attr = 0;
	if (t < 0)
		return BT_OK;
	if (!bt_be_str(c->d, (size_t)t, &p, &n))
		return tolerate(c, BT_META_TOL_TYPE, tok_off(c, (size_t)t),
				"attr is not a string");
	*attr = parse_attr(p, n);
	return BT_OK;
}

/* --- paths --- */

static size_t path_of(const struct bt_be_doc *d, const uint32_t *dirs,
		      const struct bt_meta_file *f, struct bt_meta_str *out,
		      size_t cap)
{
	size_t n = 0, depth, i;
	uint32_t k;
	long j;

	switch (f->kind) {
	case PATH_SINGLE:
		if (cap)
			bt_be_str(d, f->path_tok, &out[0].p, &out[0].len);
		return 1;
	case PATH_V1_LIST:
		for (j = bt_be_first(d, f->path_tok); j >= 0 &&
		     (size_t)j < f->path_tok + d->toks[f->path_tok].skip;
		     j = (long)bt_be_next(d, (size_t)j)) {
			if (n < cap)
				bt_be_str(d, (size_t)j, &out[n].p, &out[n].len);
			n++;
		}
		return n;
	default:
		/* Walk up to count, then fill from the leaf back. */
		depth = 1;
		for (k = f->parent; k != NO_DIR; k = dirs[2 * k + 1])
			depth++;
		i = depth;
		if (--i < cap)
			bt_be_str(d, f->path_tok, &out[i].p, &out[i].len);
		for (k = f->parent; k != NO_DIR; k = dirs[2 * k + 1])
			if (--i < cap)
				bt_be_str(d, dirs[2 * k], &out[i].p, &out[i].len);
		return depth;
	}
}

size_t bt_meta_path(const struct bt_meta *m, size_t f,
		    struct bt_meta_str *out, size_t cap)
{
	if (f >= m->nfiles)
		return 0;
	return path_of(&m->doc, m->dirs, &m->files[f], out, cap);
}

size_t bt_meta_path_join(const struct bt_meta *m, size_t f, char *dst, size_t cap)
{
	struct bt_meta_str comp[BT_META_MAX_PATH_DEPTH];
	size_t n = bt_meta_path(m, f, comp, BT_META_MAX_PATH_DEPTH), i, len = 0;

	if (n > BT_META_MAX_PATH_DEPTH) /* cannot happen: checked at parse */
		n = BT_META_MAX_PATH_DEPTH;
	for (i = 0; i < n; i++) {
		size_t room;
		if (i) {
			if (len + 1 < cap)
				dst[len] = '/';
			len++;
		}
		room = cap > len + 1 ? cap - 1 - len : 0;
		if (room)
			memcpy(dst + len, comp[i].p,
			       comp[i].len < room ? comp[i].len : room);
		len += comp[i].len;
	}
	if (cap)
		dst[len < cap ? len : cap - 1] = '\0';
	return len;
}

/* --- v1 files --- */

static int add_size(struct ctx *c, uint64_t *sum, uint64_t v, size_t off)
{
	if (v > BT_META_MAX_TOTAL - *sum)
		return fail(c, BT_ETOOBIG, off, "total size exceeds 2^60 bytes");
	*sum += v;
	return BT_OK;
}

static int file_length(struct ctx *c, size_t dict, int64_t *len)
{
	long t = bt_be_dict_get(c->d, dict, "length");

	if (t < 0)
		return fail(c, BT_EINVAL, tok_off(c, dict), "file entry has no length");
	if (!bt_be_int(c->d, (size_t)t, len))
		return fail(c, BT_EINVAL, tok_off(c, (size_t)t),
			    "file length is not an integer");
	if (*len < 0)
		return fail(c, BT_EINVAL, tok_off(c, (size_t)t), "file length is negative");
	if ((uint64_t)*len > BT_META_MAX_TOTAL)
		return fail(c, BT_ETOOBIG, tok_off(c, (size_t)t),
			    "file length exceeds 2^60 bytes");
	return BT_OK;
}

static int v1_files(struct ctx *c, size_t info, size_t name_tok)
{
	struct bt_meta *m = c->m;
	const struct bt_be_doc *d = c->d;
	long lt = bt_be_dict_get(d, info, "length");
	long ft = bt_be_dict_get(d, info, "files");
	uint64_t off = 0;
	size_t n, i;
	long j;
	int rc;

	if (lt >= 0 && ft >= 0)
		return fail(c, BT_EINVAL, tok_off(c, (size_t)ft),
			    "info has both length and files");
	if (lt < 0 && ft < 0)
		return fail(c, BT_EINVAL, tok_off(c, info),
			    "info has neither length nor files");
	if (lt >= 0) {
		int64_t len;
		if ((rc = file_length(c, info, &len)) != BT_OK)
			return rc;
		m->files = calloc(1, sizeof(*m->files));
		if (!m->files)
			return fail(c, BT_ENOSPC, 0, "out of memory");
		m->nfiles = 1;
		m->files[0].size = (uint64_t)len;
		m->files[0].kind = PATH_SINGLE;
		m->files[0].path_tok = (uint32_t)name_tok;
		m->files[0].parent = NO_DIR;
		if ((rc = file_attr(c, info, &m->files[0].attr)) != BT_OK)
			return rc;
		m->files[0].attr &= ~BT_META_ATTR_PAD; /* the only file is data */
		m->space_size = m->total_size = (uint64_t)len;
		return BT_OK;
	}

	if (!is_type(c, ft, BT_BE_LIST))
		return fail(c, BT_EINVAL, tok_off(c, (size_t)ft), "info.files is not a list");
	n = d->toks[ft].n;
	if (n == 0)
		return fail(c, BT_EINVAL, tok_off(c, (size_t)ft), "info.files is empty");
	if (n > c->max_files)
		return fail_nums(c, BT_ETOOBIG, tok_off(c, (size_t)ft),
				 "too many files", c->max_files, n);
	m->files = calloc(n, sizeof(*m->files));
	if (!m->files)
		return fail(c, BT_ENOSPC, 0, "out of memory");
	m->multi = true;
	for (i = 0, j = bt_be_first(d, (size_t)ft); i < n;
	     i++, j = (long)bt_be_next(d, (size_t)j)) {
		struct bt_meta_file *f = &m->files[i];
		size_t e = (size_t)j, ncomp = 0;
		int64_t len;
		long pt, k;

		if (!is_type(c, j, BT_BE_DICT))
			return fail(c, BT_EINVAL, tok_off(c, e),
				    "info.files entry is not a dictionary");
		if ((rc = file_length(c, e, &len)) != BT_OK)
			return rc;
		pt = bt_be_dict_get(d, e, "path");
		if (pt < 0)
			return fail(c, BT_EINVAL, tok_off(c, e), "file entry has no path");
		if (!is_type(c, pt, BT_BE_LIST))
			return fail(c, BT_EINVAL, tok_off(c, (size_t)pt),
				    "file path is not a list");
		for (k = bt_be_first(d, (size_t)pt); k >= 0 &&
		     (size_t)k < (size_t)pt + d->toks[pt].skip;
		     k = (long)bt_be_next(d, (size_t)k)) {
			const uint8_t *p;
			size_t pl;
			const char *why;
			if (!bt_be_str(d, (size_t)k, &p, &pl))
				return fail(c, BT_EINVAL, tok_off(c, (size_t)k),
					    "file path component is not a string");
			if ((why = bad_component(p, pl)) != NULL)
				return fail(c, BT_EINVAL, tok_off(c, (size_t)k), why);
			ncomp++;
		}
		if (ncomp == 0)
			return fail(c, BT_EINVAL, tok_off(c, (size_t)pt),
				    "file path has no components");
		if (ncomp > BT_META_MAX_PATH_DEPTH)
			return fail_nums(c, BT_ETOOBIG, tok_off(c, (size_t)pt),
					 "file path has too many components",
					 BT_META_MAX_PATH_DEPTH, ncomp);
		f->size = (uint64_t)len;
		f->offset = off;
		f->kind = PATH_V1_LIST;
		f->path_tok = (uint32_t)pt;
		f->parent = NO_DIR;
		if ((rc = file_attr(c, e, &f->attr)) != BT_OK)
			return rc;
		if ((rc = add_size(c, &off, f->size, tok_off(c, e))) != BT_OK)
			return rc;
		if (f->attr & BT_META_ATTR_PAD)
			m->npad++;
		else
			m->total_size += f->size;
	}
	m->nfiles = n;
	m->space_size = off;
	return BT_OK;
}

/* --- v2 file tree --- */

struct frame {
	size_t dict;       /* directory dict token */
	long key;          /* next key token to visit, -1 when done */
	uint32_t dir;      /* its dirs index, NO_DIR for the root */
};

static long dict_next_key(const struct bt_be_doc *d, size_t dict, size_t key)
{
	size_t v = key + d->toks[key].skip;
	size_t nx = v + d->toks[v].skip;

	return nx < dict + d->toks[dict].skip ? (long)nx : -1;
}

static int v2_file(struct ctx *c, size_t key, size_t node, uint32_t dir)
{
	const struct bt_be_doc *d = c->d;
	struct bt_meta_file *f;
	long fe = bt_be_dict_getn(d, node, "", 0), rt;
	int64_t len;
	int rc;

	if (d->toks[node].n != 1)
		return fail(c, BT_EINVAL, tok_off(c, node),
			    "file tree: a file entry must not have siblings");
	if (!is_type(c, fe, BT_BE_DICT))
		return fail(c, BT_EINVAL, tok_off(c, (size_t)fe),
			    "file tree: file properties are not a dictionary");
	if ((rc = file_length(c, (size_t)fe, &len)) != BT_OK)
		return rc;
	if (c->nv2 >= c->max_files || c->nv2 >= c->maxv2)
		return fail_nums(c, BT_ETOOBIG, tok_off(c, key), "too many files",
				 c->max_files, c->nv2 + 1);
	f = &c->v2[c->nv2++];
	f->size = (uint64_t)len;
	f->kind = PATH_V2;
	f->path_tok = (uint32_t)key;
	f->parent = dir;
	if ((rc = file_attr(c, (size_t)fe, &f->attr)) != BT_OK)
		return rc;
	if (f->attr & BT_META_ATTR_PAD)
		return fail(c, BT_EINVAL, tok_off(c, (size_t)fe),
			    "file tree: pad files are not allowed in v2");
	rt = bt_be_dict_get(d, (size_t)fe, "pieces root");
	if (len > 0) {
		const uint8_t *p;
		size_t n;
		if (rt < 0)
			return fail(c, BT_EINVAL, tok_off(c, (size_t)fe),
				    "file tree: non-empty file has no pieces root");
		if (!bt_be_str(d, (size_t)rt, &p, &n) || n != 32)
			return fail(c, BT_EINVAL, tok_off(c, (size_t)rt),
				    "file tree: pieces root is not a 32-byte string");
		f->pieces_root = p;
	}
	return BT_OK;
}

static int v2_tree(struct ctx *c, size_t info)
{
	const struct bt_be_doc *d = c->d;
	struct bt_meta *m = c->m;
	struct frame st[BT_META_MAX_PATH_DEPTH];
	long ft = bt_be_dict_get(d, info, "file tree");
	size_t sp = 0, tree, maxf, maxd;
	int rc;

	if (ft < 0)
		return fail(c, BT_EINVAL, tok_off(c, info), "info has no file tree");
	if (!is_type(c, ft, BT_BE_DICT))
		return fail(c, BT_EINVAL, tok_off(c, (size_t)ft),
			    "info.file tree is not a dictionary");
	tree = (size_t)ft;
	if (bt_be_dict_getn(d, tree, "", 0) >= 0)
		return fail(c, BT_EINVAL, tok_off(c, tree),
			    "file tree root must not be a file");
	/* A file costs at least 6 tokens (key, dict, "", dict, "length",
	 * int), a directory 2; size the arrays from tokens, not claims. */
	maxf = d->toks[tree].skip / 6 + 1;
	maxd = d->toks[tree].skip / 2 + 1;
	c->v2 = calloc(maxf, sizeof(*c->v2));
	m->dirs = calloc(maxd, 2 * sizeof(*m->dirs));
	if (!c->v2 || !m->dirs)
		return fail(c, BT_ENOSPC, 0, "out of memory");
	c->maxv2 = maxf;
	c->maxdirs = maxd;

	st[0].dict = tree;
	st[0].key = bt_be_first(d, tree);
	st[0].dir = NO_DIR;
	sp = 1;
	while (sp > 0) {
		struct frame *fr = &st[sp - 1];
		size_t key, node;
		const uint8_t *kp;
		size_t kn;
		const char *why;

		if (fr->key < 0) {
			sp--;
			continue;
		}
		key = (size_t)fr->key;
		node = key + 1;
		fr->key = dict_next_key(d, fr->dict, key);
		bt_be_str(d, key, &kp, &kn);
		if ((why = bad_component(kp, kn)) != NULL)
			return fail(c, BT_EINVAL, tok_off(c, key), why);
		if (!is_type(c, (long)node, BT_BE_DICT))
			return fail(c, BT_EINVAL, tok_off(c, node),
				    "file tree: node is not a dictionary");
		if (bt_be_dict_getn(d, node, "", 0) >= 0) {
			if ((rc = v2_file(c, key, node, fr->dir)) != BT_OK)
				return rc;
			continue;
		}
		if (d->toks[node].n == 0) {
			if ((rc = tolerate(c, BT_META_TOL_EMPTY_DIR, tok_off(c, node),
					   "file tree: empty directory")) != BT_OK)
				return rc;
			continue;
		}
		if (sp >= BT_META_MAX_PATH_DEPTH)
			return fail_nums(c, BT_ETOOBIG, tok_off(c, key),
					 "file path has too many components",
					 BT_META_MAX_PATH_DEPTH, sp + 1);
		if (c->ndirs >= c->maxdirs) /* cannot happen: 2 tokens each */
			return fail(c, BT_ETOOBIG, tok_off(c, key), "too many directories");
		m->dirs[2 * c->ndirs] = (uint32_t)key;
		m->dirs[2 * c->ndirs + 1] = fr->dir;
		st[sp].dict = node;
		st[sp].key = bt_be_first(d, node);
		st[sp].dir = (uint32_t)c->ndirs++;
		sp++;
	}
	if (c->nv2 == 0)
		return fail(c, BT_EINVAL, tok_off(c, tree), "file tree has no files");
	return BT_OK;
}

/* Lay v2 files out in the piece space: each non-empty file starts on a
 * piece boundary. */
static int v2_layout(struct ctx *c, uint64_t *pieces)
{
	uint64_t pl = c->m->piece_length, off = 0, np = 0;
	size_t i;
	int rc;

	for (i = 0; i < c->nv2; i++) {
		struct bt_meta_file *f = &c->v2[i];
		uint64_t n = (f->size + pl - 1) / pl;
		f->offset = off;
		f->first_piece = (uint32_t)(np < BT_META_MAX_PIECES ? np : 0);
		f->npieces = (uint32_t)(n < BT_META_MAX_PIECES ? n : 0);
		np += n;
		if (np > BT_META_MAX_PIECES)
			return fail(c, BT_ETOOBIG, tok_off(c, f->path_tok),
				    "more than 2^31-1 pieces");
		if ((rc = add_size(c, &off, n * pl, tok_off(c, f->path_tok))) != BT_OK)
			return rc;
	}
	*pieces = np;
	return BT_OK;
}

static void v1_layout(struct ctx *c)
{
	struct bt_meta *m = c->m;
	uint64_t pl = m->piece_length;
	size_t i;

	for (i = 0; i < m->nfiles; i++) {
		struct bt_meta_file *f = &m->files[i];
		f->first_piece = (uint32_t)(f->offset / pl);
		f->npieces = f->size ? (uint32_t)((f->offset + f->size - 1) / pl -
						  f->offset / pl + 1) : 0;
	}
}

static bool same_path(struct ctx *c, const struct bt_meta_file *a,
		      const struct bt_meta_file *b)
{
	struct bt_meta_str pa[BT_META_MAX_PATH_DEPTH], pb[BT_META_MAX_PATH_DEPTH];
	size_t na = path_of(c->d, c->m->dirs, a, pa, BT_META_MAX_PATH_DEPTH);
	size_t nb = path_of(c->d, c->m->dirs, b, pb, BT_META_MAX_PATH_DEPTH);
	size_t i;

	if (na != nb || na > BT_META_MAX_PATH_DEPTH)
		return false;
	for (i = 0; i < na; i++)
		if (pa[i].len != pb[i].len ||
		    (pa[i].len && memcmp(pa[i].p, pb[i].p, pa[i].len) != 0))
			return false;
	return true;
}

/* BEP 52 upgrade path: v1 files (pad files aside) and the v2 tree must be
 * the same files in the same order, each non-empty one piece-aligned. */
static int hybrid_check(struct ctx *c, uint64_t v2_pieces)
{
	struct bt_meta *m = c->m;
	size_t i, k = 0;

	for (i = 0; i < m->nfiles; i++) {
		struct bt_meta_file *f = &m->files[i];
		const struct bt_meta_file *g;
		size_t at = f->kind == PATH_V1_LIST ? tok_off(c, f->path_tok) :
			    tok_off(c, c->v2[0].path_tok);

		if (f->attr & BT_META_ATTR_PAD)
			continue;
		if (k == c->nv2)
			return fail_nums(c, BT_EINVAL, at,
					 "hybrid: v1 has more files than the v2 file tree",
					 c->nv2, m->nfiles - m->npad);
		g = &c->v2[k++];
		if (f->size != g->size)
			return fail_nums(c, BT_EINVAL, at,
					 "hybrid: v1 file length differs from the v2 file tree",
					 g->size, f->size);
		if (!same_path(c, f, g))
			return fail(c, BT_EINVAL, at,
				    "hybrid: v1 file path differs from the v2 file tree");
		if (f->size && f->offset % m->piece_length)
			return fail(c, BT_EINVAL, at,
				    "hybrid: v1 file does not start on a piece boundary");
		f->pieces_root = g->pieces_root;
	}
	if (k != c->nv2)
		return fail_nums(c, BT_EINVAL, tok_off(c, c->v2[k].path_tok),
				 "hybrid: v2 file tree has more files than v1",
				 m->nfiles - m->npad, c->nv2);
	if (v2_pieces != m->piece_count)
		return fail_nums(c, BT_EINVAL, ptr_off(c, m->pieces.p),
				 "hybrid: v1 and v2 piece counts differ",
				 v2_pieces, m->piece_count);
	return BT_OK;
}

/* --- piece layers --- */

struct layer_ent {
	const uint8_t *key;      /* 32 bytes */
	size_t val;              /* value token */
};

static int ent_cmp(const void *a, const void *b)
{
	return memcmp(((const struct layer_ent *)a)->key,
		      ((const struct layer_ent *)b)->key, 32);
}

static int piece_layers(struct ctx *c, size_t root)
{
	const struct bt_be_doc *d = c->d;
	struct bt_meta *m = c->m;
	struct layer_ent *ents = NULL;
	size_t nent = 0, i;
	long lt = bt_be_dict_get(d, root, "piece layers"), k;
	bool need = false;
	int rc = BT_OK;

	for (i = 0; i < m->nfiles; i++)
		if (m->files[i].size > m->piece_length && m->files[i].pieces_root)
			need = true;
	if (!need)
		return BT_OK;
	if (lt < 0)
		return fail(c, BT_EINVAL, tok_off(c, root), "piece layers is missing");
	if (!is_type(c, lt, BT_BE_DICT))
		return fail(c, BT_EINVAL, tok_off(c, (size_t)lt),
			    "piece layers is not a dictionary");
	ents = calloc(d->toks[lt].n + 1, sizeof(*ents));
	if (!ents)
		return fail(c, BT_ENOSPC, 0, "out of memory");
	for (k = bt_be_first(d, (size_t)lt); k >= 0;
	     k = dict_next_key(d, (size_t)lt, (size_t)k)) {
		const uint8_t *p;
		size_t n;
		bt_be_str(d, (size_t)k, &p, &n);
		if (n != 32) {
			rc = fail(c, BT_EINVAL, tok_off(c, (size_t)k),
				  "piece layers key is not 32 bytes");
			goto out;
		}
		if (!is_type(c, k + 1, BT_BE_STR)) {
			rc = fail(c, BT_EINVAL, tok_off(c, (size_t)k + 1),
				  "piece layer is not a string");
			goto out;
		}
		ents[nent].key = p;
		ents[nent].val = (size_t)k + 1;
		nent++;
	}
	qsort(ents, nent, sizeof(*ents), ent_cmp);

	for (i = 0; i < m->nfiles; i++) {
		struct bt_meta_file *f = &m->files[i];
		struct layer_ent key, *e;
		const uint8_t *p;
		size_t n;
		uint8_t got[32];

		if (f->size <= m->piece_length || !f->pieces_root)
			continue;
		key.key = f->pieces_root;
		e = bsearch(&key, ents, nent, sizeof(*ents), ent_cmp);
		if (!e) {
			rc = fail(c, BT_EINVAL, ptr_off(c, f->pieces_root),
				  "piece layers has no entry for a file's pieces root");
			goto out;
		}
		bt_be_str(d, e->val, &p, &n);
		if (n != (size_t)f->npieces * 32) {
			rc = fail_nums(c, BT_EINVAL, tok_off(c, e->val),
				       "piece layer length is not 32 times the file's piece count",
				       (uint64_t)f->npieces * 32, n);
			goto out;
		}
		rc = bt_merkle_layer_root(p, f->npieces, m->piece_length, got);
		if (rc != BT_OK) {
			fail(c, rc, tok_off(c, e->val), "piece layer cannot be hashed");
			goto out;
		}
		if (memcmp(got, f->pieces_root, 32) != 0) {
			rc = fail(c, BT_EINVAL, tok_off(c, e->val),
				  "piece layer does not hash to the file's pieces root");
			goto out;
		}
		f->layer = p;
	}
out:
	free(ents);
	return rc;
}

/* --- trackers, url-list, optional fields --- */

static int add_tracker(struct ctx *c, size_t t, uint32_t tier, size_t cap)
{
	struct bt_meta *m = c->m;
	const uint8_t *p;
	size_t n;

	if (!bt_be_str(c->d, t, &p, &n) || n == 0)
		return tolerate(c, BT_META_TOL_TRACKERS, tok_off(c, t),
				"tracker URL is not a non-empty string");
	if (m->ntrackers >= cap)
		return fail_nums(c, BT_ETOOBIG, tok_off(c, t), "too many trackers",
				 BT_META_MAX_URLS, m->ntrackers + 1);
	m->trackers[m->ntrackers].url.p = p;
	m->trackers[m->ntrackers].url.len = n;
	m->trackers[m->ntrackers].tier = tier;
	m->ntrackers++;
	return BT_OK;
}

static int trackers(struct ctx *c, size_t root)
{
	const struct bt_be_doc *d = c->d;
	struct bt_meta *m = c->m;
	long al = bt_be_dict_get(d, root, "announce-list");
	long an = bt_be_dict_get(d, root, "announce");
	size_t cap = 1;
	long t, u;
	int rc;

	if (al >= 0)
		cap += d->toks[al].skip;
	if (cap > BT_META_MAX_URLS)
		cap = BT_META_MAX_URLS;
	m->trackers = calloc(cap, sizeof(*m->trackers));
	if (!m->trackers)
		return fail(c, BT_ENOSPC, 0, "out of memory");

	if (al >= 0 && !is_type(c, al, BT_BE_LIST)) {
		if ((rc = tolerate(c, BT_META_TOL_TRACKERS, tok_off(c, (size_t)al),
				   "announce-list is not a list")) != BT_OK)
			return rc;
	} else if (al >= 0) {
		for (t = bt_be_first(d, (size_t)al); t >= 0 &&
		     (size_t)t < (size_t)al + d->toks[al].skip;
		     t = (long)bt_be_next(d, (size_t)t)) {
			size_t before = m->ntrackers;
			if (!is_type(c, t, BT_BE_LIST)) {
				if ((rc = tolerate(c, BT_META_TOL_TRACKERS, tok_off(c, (size_t)t),
						   "announce-list tier is not a list")) != BT_OK)
					return rc;
				continue;
			}
			for (u = bt_be_first(d, (size_t)t); u >= 0 &&
			     (size_t)u < (size_t)t + d->toks[t].skip;
			     u = (long)bt_be_next(d, (size_t)u))
				if ((rc = add_tracker(c, (size_t)u, m->ntiers, cap)) != BT_OK)
					return rc;
			if (m->ntrackers > before)
				m->ntiers++;
		}
	}
	/* BEP 12: announce is ignored when announce-list gives trackers. */
	if (m->ntrackers == 0 && an >= 0) {
		if ((rc = add_tracker(c, (size_t)an, 0, cap)) != BT_OK)
			return rc;
		if (m->ntrackers)
			m->ntiers = 1;
	}
	return BT_OK;
}

static int url_list(struct ctx *c, size_t root)
{
	const struct bt_be_doc *d = c->d;
	struct bt_meta *m = c->m;
	long ul = bt_be_dict_get(d, root, "url-list"), t;
	const uint8_t *p;
	size_t n, cap;
	int rc;

	if (ul < 0)
		return BT_OK;
	if (!is_type(c, ul, BT_BE_LIST) && !is_type(c, ul, BT_BE_STR))
		return tolerate(c, BT_META_TOL_URL_LIST, tok_off(c, (size_t)ul),
				"url-list is neither a string nor a list");
	cap = d->toks[ul].skip;
	if (cap > BT_META_MAX_URLS)
		cap = BT_META_MAX_URLS;
	m->url_list = calloc(cap, sizeof(*m->url_list));
	if (!m->url_list)
		return fail(c, BT_ENOSPC, 0, "out of memory");
	if (bt_be_str(d, (size_t)ul, &p, &n)) {
		if (n) {
			m->url_list[0].p = p;
			m->url_list[0].len = n;
			m->nurls = 1;
		}
		return BT_OK;
	}
	for (t = bt_be_first(d, (size_t)ul); t >= 0 &&
	     (size_t)t < (size_t)ul + d->toks[ul].skip;
	     t = (long)bt_be_next(d, (size_t)t)) {
		if (!bt_be_str(d, (size_t)t, &p, &n) || n == 0) {
			if ((rc = tolerate(c, BT_META_TOL_URL_LIST, tok_off(c, (size_t)t),
					   "url-list entry is not a non-empty string")) != BT_OK)
				return rc;
			continue;
		}
		if (m->nurls >= cap)
			return fail_nums(c, BT_ETOOBIG, tok_off(c, (size_t)t),
					 "too many url-list entries", BT_META_MAX_URLS,
					 m->nurls + 1);
		m->url_list[m->nurls].p = p;
		m->url_list[m->nurls].len = n;
		m->nurls++;
	}
	return BT_OK;
}

static int opt_str(struct ctx *c, size_t dict, const char *key,
		   struct bt_meta_str *out, bool *has)
{
	long t = bt_be_dict_get(c->d, dict, key);

	*has = false;
	if (t < 0)
		return BT_OK;
	if (!bt_be_str(c->d, (size_t)t, &out->p, &out->len))
		return tolerate(c, BT_META_TOL_TYPE, tok_off(c, (size_t)t),
				"optional field has the wrong type");
	*has = true;
	return BT_OK;
}

static int top_fields(struct ctx *c, size_t root)
{
	struct bt_meta *m = c->m;
	long t;
	int rc;

	if ((rc = trackers(c, root)) != BT_OK || (rc = url_list(c, root)) != BT_OK)
		return rc;
	if ((rc = opt_str(c, root, "comment", &m->comment, &m->has_comment)) != BT_OK ||
	    (rc = opt_str(c, root, "created by", &m->created_by,
			  &m->has_created_by)) != BT_OK)
		return rc;
	t = bt_be_dict_get(c->d, root, "creation date");
	if (t >= 0) {
		if (bt_be_int(c->d, (size_t)t, &m->creation_date))
			m->has_creation_date = true;
		else if ((rc = tolerate(c, BT_META_TOL_TYPE, tok_off(c, (size_t)t),
					"creation date is not an integer")) != BT_OK)
			return rc;
	}
	return BT_OK;
}

/* --- the info dictionary --- */

static int piece_length(struct ctx *c, size_t info, bool v2)
{
	long t = bt_be_dict_get(c->d, info, "piece length");
	int64_t v;
	const char *rule = "info.piece length must be a positive power of two >= 16 KiB";

	if (t < 0)
		return fail(c, BT_EINVAL, tok_off(c, info), "info has no piece length");
	if (!bt_be_int(c->d, (size_t)t, &v))
		return fail(c, BT_EINVAL, tok_off(c, (size_t)t),
			    "info.piece length is not an integer");
	if (v <= 0)
		return fail(c, BT_EINVAL, tok_off(c, (size_t)t),
			    v2 ? rule : "info.piece length must be positive");
	if ((uint64_t)v > BT_META_MAX_PIECE_LENGTH)
		return fail_nums(c, BT_ETOOBIG, tok_off(c, (size_t)t),
				 "info.piece length exceeds 1 GiB",
				 BT_META_MAX_PIECE_LENGTH, (uint64_t)v);
	if (!pow2((uint64_t)v) || v < (int64_t)BT_META_MIN_PIECE_LENGTH) {
		int rc;
		if (v2)
			return fail(c, BT_EINVAL, tok_off(c, (size_t)t), rule);
		if ((rc = tolerate(c, BT_META_TOL_PIECE_LEN, tok_off(c, (size_t)t),
				   rule)) != BT_OK)
			return rc;
	}
	c->m->piece_length = (uint64_t)v;
	return BT_OK;
}

static int hash(const EVP_MD *md, const void *p, size_t n, uint8_t *out)
{
	unsigned olen = 0;

	if (EVP_Digest(p, n, out, &olen, md, NULL) != 1)
		return BT_EUNSUPP;
	return BT_OK;
}

static int parse_info(struct ctx *c, size_t root, size_t info)
{
	const struct bt_be_doc *d = c->d;
	struct bt_meta *m = c->m;
	long mv = bt_be_dict_get(d, info, "meta version");
	long nt, pv, pt;
	const char *why;
	bool has_v1, has_v2 = false;
	uint64_t v2_pieces = 0;
	int rc;

	/* BEP 52: check the version before anything else. */
	if (mv >= 0) {
		int64_t v;
		if (!bt_be_int(d, (size_t)mv, &v))
			return fail(c, BT_EINVAL, tok_off(c, (size_t)mv),
				    "info.meta version is not an integer");
		if (v != 2)
			return fail(c, BT_EUNSUPP, tok_off(c, (size_t)mv),
				    "info.meta version is not 2");
		has_v2 = true;
	}
	pt = bt_be_dict_get(d, info, "pieces");
	has_v1 = pt >= 0;
	if (!has_v1 && !has_v2)
		return fail(c, BT_EINVAL, tok_off(c, info), "info has no pieces");
	m->version = has_v1 && has_v2 ? BT_META_HYBRID : has_v2 ? BT_META_V2 : BT_META_V1;

	nt = bt_be_dict_get(d, info, "name");
	if (nt < 0)
		return fail(c, BT_EINVAL, tok_off(c, info), "info has no name");
	if (!bt_be_str(d, (size_t)nt, &m->name.p, &m->name.len))
		return fail(c, BT_EINVAL, tok_off(c, (size_t)nt), "info.name is not a string");
	if ((why = bad_component(m->name.p, m->name.len)) != NULL)
		return fail(c, BT_EINVAL, tok_off(c, (size_t)nt), why);

	if ((rc = piece_length(c, info, has_v2)) != BT_OK)
		return rc;

	pv = bt_be_dict_get(d, info, "private");
	if (pv >= 0) {
		int64_t v;
		if (!bt_be_int(d, (size_t)pv, &v)) {
			if ((rc = tolerate(c, BT_META_TOL_TYPE, tok_off(c, (size_t)pv),
					   "info.private is not an integer")) != BT_OK)
				return rc;
		} else {
			m->is_private = v != 0;
			if (v != 0 && v != 1 &&
			    (rc = tolerate(c, BT_META_TOL_PRIVATE, tok_off(c, (size_t)pv),
					   "info.private is neither 0 nor 1")) != BT_OK)
				return rc;
		}
	}

	if (has_v1) {
		uint64_t need;
		if (!bt_be_str(d, (size_t)pt, &m->pieces.p, &m->pieces.len))
			return fail(c, BT_EINVAL, tok_off(c, (size_t)pt),
				    "info.pieces is not a string");
		if (m->pieces.len % 20)
			return fail_nums(c, BT_EINVAL, tok_off(c, (size_t)pt),
					 "info.pieces length is not a multiple of 20",
					 m->pieces.len / 20 * 20 + 20, m->pieces.len);
		if ((rc = v1_files(c, info, (size_t)nt)) != BT_OK)
			return rc;
		need = (m->space_size + m->piece_length - 1) / m->piece_length;
		if (need != m->pieces.len / 20)
			return fail_nums(c, BT_EINVAL, tok_off(c, (size_t)pt),
					 "info.pieces hash count does not match the total size",
					 need, m->pieces.len / 20);
		if (need > BT_META_MAX_PIECES)
			return fail(c, BT_ETOOBIG, tok_off(c, (size_t)pt),
				    "more than 2^31-1 pieces");
		m->piece_count = (uint32_t)need;
		v1_layout(c);
		if (m->piece_count)
			m->last_piece_size = m->space_size -
				(uint64_t)(m->piece_count - 1) * m->piece_length;
	}
	if (has_v2) {
		if ((rc = v2_tree(c, info)) != BT_OK ||
		    (rc = v2_layout(c, &v2_pieces)) != BT_OK)
			return rc;
		if (has_v1) {
			if ((rc = hybrid_check(c, v2_pieces)) != BT_OK)
				return rc;
		} else {
			size_t i;
			m->files = c->v2;
			m->nfiles = c->nv2;
			c->v2 = NULL;
			m->multi = !(m->nfiles == 1 && m->files[0].parent == NO_DIR);
			m->piece_count = (uint32_t)v2_pieces;
			for (i = 0; i < m->nfiles; i++) {
				const struct bt_meta_file *f = &m->files[i];
				m->total_size += f->size;
				if (f->size) {
					m->space_size = f->offset + f->size;
					m->last_piece_size = f->size -
						(uint64_t)(f->npieces - 1) * m->piece_length;
				}
			}
		}
		if (!(c->flags & BT_META_INFO_ONLY) &&
		    (rc = piece_layers(c, root)) != BT_OK)
			return rc;
	}

	bt_be_raw(d, info, &m->info.p, &m->info.len);
	if (has_v1 && hash(EVP_sha1(), m->info.p, m->info.len, m->info_hash_v1))
		return fail(c, BT_EUNSUPP, 0, "SHA-1 is not available");
	if (has_v2 && hash(EVP_sha256(), m->info.p, m->info.len, m->info_hash_v2))
		return fail(c, BT_EUNSUPP, 0, "SHA-256 is not available");
	return BT_OK;
}

/* Decode into the caller's tokens, or into an array we grow once: most
 * torrents are one big `pieces` string and need few tokens, so start at
 * len/8 and go to the worst case only if that was not enough. */
static long decode(struct bt_meta *m, const void *buf, size_t len,
		   const struct bt_meta_opts *o, unsigned flags,
		   struct bt_be_err *be)
{
	struct bt_be_opts bo = { flags, 0 };
	size_t worst = bt_be_max_tokens(len), cap;
	long rc;

	if (o && o->toks)
		return bt_be_decode(&m->doc, buf, len, o->toks, o->ntoks, &bo, be);
	if (worst > BT_META_MAX_TOKENS)
		worst = BT_META_MAX_TOKENS;
	cap = len / 8 + 256 < worst ? len / 8 + 256 : worst;
	for (;;) {
		free(m->own_toks);
		m->own_toks = malloc(cap * sizeof(*m->own_toks));
		if (!m->own_toks) {
			be->code = BT_ENOSPC;
			be->off = 0;
			be->rule = "out of memory";
			return BT_ENOSPC;
		}
		rc = bt_be_decode(&m->doc, buf, len, m->own_toks, cap, &bo, be);
		if (rc != BT_ENOSPC || cap == worst)
			break;
		cap = worst;
	}
	if (rc == BT_ENOSPC && worst == BT_META_MAX_TOKENS) {
		be->code = rc = BT_ETOOBIG;
		be->rule = "more bencode values than BT_META_MAX_TOKENS";
	}
	return rc;
}

int bt_meta_parse(struct bt_meta *m, const void *buf, size_t len,
		  const struct bt_meta_opts *opts, struct bt_meta_err *err)
{
	struct ctx c;
	struct bt_be_err be;
	long rc, info, root = 0;
	int r;

	memset(m, 0, sizeof(*m));
	memset(&c, 0, sizeof(c));
	c.m = m;
	c.d = &m->doc;
	c.buf = buf;
	c.err = err;
	c.flags = opts ? opts->flags : 0;
	c.max_files = opts && opts->max_files ? opts->max_files : BT_META_MAX_FILES;
	if (err) {
		memset(err, 0, sizeof(*err));
		err->rule = "ok";
	}
	if (len > BT_META_MAX_BYTES) {
		r = fail_nums(&c, BT_ETOOBIG, 0, "torrent larger than 64 MiB",
			      BT_META_MAX_BYTES, len);
		goto bad;
	}

	rc = decode(m, buf, len, opts, 0, &be);
	if (rc == BT_EINVAL && !(c.flags & BT_META_STRICT)) {
		struct bt_be_err be2;
		long rc2 = decode(m, buf, len, opts,
				  BT_BE_LENIENT | BT_BE_ALLOW_TRAILING, &be2);
		if (rc2 >= 0) {
			rc = rc2;
			m->tolerated |= be2.tolerated;
			if ((size_t)rc2 != len)
				m->tolerated |= BT_META_TOL_TRAILING;
		} else {
			be = be2; /* the error lenient mode could not get past */
			rc = rc2;
		}
	}
	if (rc == BT_NEED_MORE) {
		r = fail(&c, BT_EINVAL, len, "torrent is truncated");
		goto bad;
	}
	if (rc < 0) {
		r = fail(&c, (int)rc, be.off, be.rule);
		goto bad;
	}

	if (m->doc.toks[0].type != BT_BE_DICT) {
		r = fail(&c, BT_EINVAL, 0, (c.flags & BT_META_INFO_ONLY) ?
			 "info is not a dictionary" : "torrent is not a dictionary");
		goto bad;
	}
	if (c.flags & BT_META_INFO_ONLY) {
		info = 0;
	} else {
		info = bt_be_dict_get(&m->doc, 0, "info");
		if (info < 0) {
			r = fail(&c, BT_EINVAL, 0, "torrent has no info dictionary");
			goto bad;
		}
		if (m->doc.toks[info].type != BT_BE_DICT) {
			r = fail(&c, BT_EINVAL, m->doc.toks[info].off,
				 "info is not a dictionary");
			goto bad;
		}
	}
	if ((r = parse_info(&c, (size_t)root, (size_t)info)) != BT_OK)
		goto bad;
	if (!(c.flags & BT_META_INFO_ONLY) && (r = top_fields(&c, 0)) != BT_OK)
		goto bad;
	free(c.v2);
	if (m->version != BT_META_V2) {
		free(m->dirs); /* v1 paths do not need the directory table */
		m->dirs = NULL;
	}
	if (err)
		err->tolerated = m->tolerated;
	return BT_OK;
bad:
	if (err)
		err->tolerated = m->tolerated;
	free(c.v2);
	bt_meta_free(m);
	return r;
}

void bt_meta_free(struct bt_meta *m)
{
	free(m->files);
	free(m->trackers);
	free(m->url_list);
	free(m->dirs);
	free(m->own_toks);
	memset(m, 0, sizeof(*m));
}

uint64_t bt_meta_piece_size(const struct bt_meta *m, uint32_t piece)
{
	size_t lo = 0, hi = m->nfiles;

	if (piece >= m->piece_count)
		return 0;
	if (m->version != BT_META_V2)
		return piece + 1 < m->piece_count ? m->piece_length : m->last_piece_size;
	/* v2: the last file whose first piece is <= piece, then its share. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->files[mid].first_piece <= piece)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo > 0) {
		const struct bt_meta_file *f = &m->files[--lo];
		if (f->npieces && piece - f->first_piece < f->npieces) {
			uint64_t done = (uint64_t)(piece - f->first_piece) * m->piece_length;
			return f->size - done < m->piece_length ? f->size - done :
			       m->piece_length;
		}
	}
	return 0;
}

const char *bt_meta_version_name(int version)
{
	switch (version) {
	case BT_META_V1: return "v1";
	case BT_META_V2: return "v2";
	case BT_META_HYBRID: return "hybrid";
	}
	return "unknown";
}

const char *bt_meta_tol_name(unsigned mask)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ BT_BE_TOL_UNSORTED, "unsorted dictionary keys" },
		{ BT_BE_TOL_DUPKEY, "duplicate dictionary keys" },
		{ BT_BE_TOL_LEADZERO, "leading zeros in a number" },
		{ BT_BE_TOL_NEGZERO, "negative zero" },
		{ BT_META_TOL_TRAILING, "bytes after the torrent" },
		{ BT_META_TOL_TRACKERS, "malformed tracker entries skipped" },
		{ BT_META_TOL_URL_LIST, "malformed url-list entries skipped" },
		{ BT_META_TOL_PIECE_LEN, "piece length not a power of two >= 16 KiB" },
		{ BT_META_TOL_TYPE, "optional field of the wrong type ignored" },
		{ BT_META_TOL_PRIVATE, "private is neither 0 nor 1" },
		{ BT_META_TOL_EMPTY_DIR, "empty directory in the file tree" },
	};
	size_t i;

	if (!mask)
		return NULL;
	mask &= ~(mask - 1);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].bit == mask)
			return names[i].name;
	return "unknown deviation";
}

/* --- merkle --- */

static void h2(const uint8_t *l, const uint8_t *r, uint8_t out[32])
{
	uint8_t b[64];
	unsigned olen = 0;

	memcpy(b, l, 32);
	memcpy(b + 32, r, 32);
	EVP_Digest(b, 64, out, &olen, EVP_sha256(), NULL);
}

void bt_merkle_zero(unsigned level, uint8_t out[32])
{
	uint8_t z[32];
	unsigned i;

	memset(z, 0, sizeof(z));
	for (i = 0; i < level; i++)
		h2(z, z, z);
	memcpy(out, z, 32);
}

uint64_t bt_merkle_width(uint64_t n)
{
	uint64_t w = 1;

	while (w < n && w < ((uint64_t)1 << 63))
		w <<= 1;
	return w;
}

void bt_merkle_leaf(const void *p, size_t len, uint8_t out[32])
{
	unsigned olen = 0;

	EVP_Digest(p, len, out, &olen, EVP_sha256(), NULL);
}

void bt_merkle_init(struct bt_merkle *mk, unsigned base_level)
{
	mk->n = 0;
	mk->base = base_level;
}

/* node[k] holds the pending subtree for each set bit k of n: pushing is
 * binary increment, a carry is a parent hash. */
int bt_merkle_push(struct bt_merkle *mk, const uint8_t h[32])
{
	uint8_t cur[32];
	unsigned k = 0;

	if (mk->n >= ((uint64_t)1 << 62))
		return BT_ETOOBIG;
	memcpy(cur, h, 32);
	while (mk->n & ((uint64_t)1 << k)) {
		h2(mk->node[k], cur, cur);
		k++;
	}
	memcpy(mk->node[k], cur, 32);
	mk->n++;
	return BT_OK;
}

int bt_merkle_root(const struct bt_merkle *mk, uint64_t width, uint8_t out[32])
{
	uint8_t zero[32], cur[32];
	unsigned L, k;
	bool have = false;

	if (mk->n == 0 || !pow2(width) || width < mk->n)
		return BT_EINVAL;
	L = log2u(width);
	if (mk->n == width) {
		memcpy(out, mk->node[L], 32);
		return BT_OK;
	}
	/* Fold from the right edge: everything pushed below level k has
	 * become one node `cur` at level k, padded with zero subtrees. */
	bt_merkle_zero(mk->base, zero);
	for (k = 0; k < L; k++) {
		bool bit = (mk->n >> k) & 1;
		if (bit && have)
			h2(mk->node[k], cur, cur);
		else if (bit)
			h2(mk->node[k], zero, cur), have = true;
		else if (have)
			h2(cur, zero, cur);
		h2(zero, zero, zero);
	}
	memcpy(out, cur, 32);
	return BT_OK;
}

int bt_merkle_file_root(const void *p, size_t len, uint8_t out[32])
{
	struct bt_merkle mk;
	const uint8_t *b = p;
	size_t off;
	uint8_t h[32];

	if (len == 0)
		return BT_EINVAL;
	bt_merkle_init(&mk, 0);
	for (off = 0; off < len; off += BT_META_BLOCK) {
		size_t n = len - off < BT_META_BLOCK ? len - off : BT_META_BLOCK;
		bt_merkle_leaf(b + off, n, h);
		bt_merkle_push(&mk, h);
	}
	return bt_merkle_root(&mk, bt_merkle_width(mk.n), out);
}

int bt_merkle_layer_root(const uint8_t *layer, size_t n, uint64_t piece_length,
			 uint8_t out[32])
{
	struct bt_merkle mk;
	size_t i;

	if (n == 0 || !pow2(piece_length) || piece_length < BT_META_BLOCK)
		return BT_EINVAL;
	bt_merkle_init(&mk, log2u(piece_length / BT_META_BLOCK));
	for (i = 0; i < n; i++)
		bt_merkle_push(&mk, layer + 32 * i);
	return bt_merkle_root(&mk, bt_merkle_width(n), out);
}
