/* test_store.c — piece <-> file spans and verification on disk.
 *
 * Verification runs on the fixture torrents (tests/data/meta/fixtures.h)
 * with their data written into a mkdtemp directory; each test corrupts,
 * truncates, deletes or symlinks exactly what it names and checks the
 * exact list of piece verdicts and the per-file summary. */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "meta.h"
#include "store.h"
#include "../data/meta/fixtures.h"

static uint8_t tbuf[1 << 16];
static char root[256];

/* --- helpers --- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static void rm_tree(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fresh_root(void)
{
	const char *tmp = getenv("TMPDIR");

	if (root[0])
		rm_tree(root);
	snprintf(root, sizeof(root), "%s/btkit-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root))
		abort();
}

/* root/rel; four rotating buffers so two results can be used at once */
static const char *at(const char *rel)
{
	static char p[4][512];
	static unsigned k;
	char *b = p[k++ % 4];

	snprintf(b, sizeof(p[0]), "%s/%s", root, rel);
	return b;
}

static void mkdirs(const char *rel)
{
	char p[512], *s;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (s = p + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
}

static void put_file(const char *rel, unsigned seed, size_t n)
{
	uint8_t *d = fx_data(seed, n);
	FILE *f;

	mkdirs(rel);
	f = fopen(at(rel), "wb");
	if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0)
		abort();
	free(d);
}

static void flip(const char *rel, long off)
{
	int fd = open(at(rel), O_RDWR);
	uint8_t b;

	if (fd < 0 || pread(fd, &b, 1, off) != 1)
		abort();
	b ^= 0x40;
	if (pwrite(fd, &b, 1, off) != 1)
		abort();
	close(fd);
}

static int open_root(void)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		abort();
	return fd;
}

struct verdicts {
	char s[64];   /* one letter per piece: G, M, C */
	size_t n;
};

static void on_piece(void *ctx, uint32_t piece, int state)
{
	struct verdicts *v = ctx;
	if (piece != v->n || v->n + 1 >= sizeof(v->s))
		abort(); /* in increasing order, no gaps */
	v->s[v->n++] = state == BT_PIECE_GOOD ? 'G' : state == BT_PIECE_MISSING ? 'M' : 'C';
	v->s[v->n] = '\0';
}

/* Verify m under root; returns the verdict string, fills files. */
static const char *run(const struct bt_meta *m, struct bt_verify_file *files,
		       struct bt_verify *sum)
{
	static struct verdicts v;
	int dfd = open_root();

	memset(&v, 0, sizeof(v));
	if (bt_store_verify(m, dfd, files, on_piece, &v, sum) != BT_OK)
		abort();
	close(dfd);
	return v.s;
}

static void parse_ok(struct bt_meta *m, size_t n, unsigned flags)
{
	struct bt_meta_opts o = { flags, NULL, 0, 0 };
	struct bt_meta_err e;

	if (bt_meta_parse(m, tbuf, n, &o, &e) != BT_OK) {
		printf("# parse: %s at %zu\n", e.rule, e.off);
		abort();
	}
}

static size_t build(void (*fn)(struct bt_wr *))
{
	struct bt_wr w;
	bt_wr_init(&w, tbuf, sizeof(tbuf));
	fn(&w);
	return w.len;
}

static size_t build_t3(size_t pl, size_t asize, unsigned flags)
{
	struct bt_wr w;
	bt_wr_init(&w, tbuf, sizeof(tbuf));
	fx_t3(&w, pl, asize, flags);
	return w.len;
}

#define SPAN_IS(s, f, o, l) ((s).file == (f) && (s).off == (o) && (s).len == (l))

/* --- spans --- */

static void test_spans_v1(void)
{
	struct bt_meta m;
	struct bt_span s[8];

	parse_ok(&m, build(fx_t2), 0);
	/* piece 0: all of a, then the pad file */
	T_EQ_INT(bt_store_spans(&m, 0, s, 8), 2);
	T_CHECK(SPAN_IS(s[0], 0, 0, 10000));
	T_CHECK(SPAN_IS(s[1], 1, 0, 6384));
	/* piece 1: inside s/b */
	T_EQ_INT(bt_store_spans(&m, 1, s, 8), 1);
	T_CHECK(SPAN_IS(s[0], 2, 0, 16384));
	/* piece 2: the end of s/b, the empty c is skipped, all of d */
	T_EQ_INT(bt_store_spans(&m, 2, s, 8), 2);
	T_CHECK(SPAN_IS(s[0], 2, 16384, 3616));
	T_CHECK(SPAN_IS(s[1], 4, 0, 5000));
	T_EQ_INT(bt_store_spans(&m, 3, s, 8), BT_EINVAL);
	/* a short array: the count needed, only cap written */
	memset(s, 0xee, sizeof(s));
	T_EQ_INT(bt_store_spans(&m, 0, s, 1), 2);
	T_CHECK(SPAN_IS(s[0], 0, 0, 10000));
	T_EQ_UINT(s[1].file, 0xeeeeeeeeu);
	T_EQ_INT(bt_store_spans(&m, 2, NULL, 0), 2);
	bt_meta_free(&m);
}

static void test_spans_v2_and_hybrid(void)
{
	struct bt_meta m;
	struct bt_span s[8];

	parse_ok(&m, build_t3(16384, 40000, 0), 0);
	T_EQ_INT(bt_store_spans(&m, 0, s, 8), 1);
	T_CHECK(SPAN_IS(s[0], 0, 0, 16384));
	T_EQ_INT(bt_store_spans(&m, 2, s, 8), 1);
	T_CHECK(SPAN_IS(s[0], 0, 32768, 7232));
	/* each file starts a piece: dir/b is piece 3 alone */
	T_EQ_INT(bt_store_spans(&m, 3, s, 8), 1);
	T_CHECK(SPAN_IS(s[0], 1, 0, 5));
	T_EQ_INT(bt_store_spans(&m, 4, s, 8), BT_EINVAL);
	bt_meta_free(&m);

	parse_ok(&m, build(fx_t4), 0);
	T_EQ_INT(bt_store_spans(&m, 0, s, 8), 1);
	T_CHECK(SPAN_IS(s[0], 0, 0, 16384));
	T_EQ_INT(bt_store_spans(&m, 1, s, 8), 2);
	T_CHECK(SPAN_IS(s[0], 0, 16384, 3616));
	T_CHECK(SPAN_IS(s[1], 1, 0, 12768));
	T_EQ_INT(bt_store_spans(&m, 2, s, 8), 1);
	T_CHECK(SPAN_IS(s[0], 2, 0, 100));
	bt_meta_free(&m);
}

/* Many small files in one piece, and one file over many pieces. */
static void test_spans_many_files(void)
{
	struct bt_wr w;
	struct bt_meta m;
	struct bt_span s[40];
	static uint8_t pieces[20 * 4];
	char name[16];
	int i;

	bt_wr_init(&w, tbuf, sizeof(tbuf));
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "info");
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "files");
	bt_be_put_list(&w);
	for (i = 0; i < 32; i++) { /* 32 x 1000 bytes, then 20000 */
		snprintf(name, sizeof(name), "f%02d", i);
		fx_file1(&w, NULL, 1000, name, NULL);
	}
	fx_file1(&w, NULL, 20000, "big", NULL);
	bt_be_put_end(&w);
	bt_be_put_cstr(&w, "name");
	bt_be_put_cstr(&w, "many");
	bt_be_put_cstr(&w, "piece length");
	bt_be_put_int(&w, 16384);
	bt_be_put_cstr(&w, "pieces");
	bt_be_put_str(&w, pieces, sizeof(pieces)); /* 52000 bytes: 4 pieces */
	bt_be_put_end(&w);
	bt_be_put_end(&w);
	parse_ok(&m, w.len, 0);
	/* piece 0: f00..f15 whole, 384 bytes of f16 */
	T_EQ_INT(bt_store_spans(&m, 0, s, 40), 17);
	T_CHECK(SPAN_IS(s[0], 0, 0, 1000));
	T_CHECK(SPAN_IS(s[15], 15, 0, 1000));
	T_CHECK(SPAN_IS(s[16], 16, 0, 384));
	/* piece 1: rest of f16, f17..f31, 768 bytes of big */
	T_EQ_INT(bt_store_spans(&m, 1, s, 40), 17);
	T_CHECK(SPAN_IS(s[0], 16, 384, 616));
	T_CHECK(SPAN_IS(s[15], 31, 0, 1000));
	T_CHECK(SPAN_IS(s[16], 32, 0, 768));
	T_EQ_INT(bt_store_spans(&m, 2, s, 40), 1);
	T_CHECK(SPAN_IS(s[0], 32, 768, 16384));
	T_EQ_INT(bt_store_spans(&m, 3, s, 40), 1);
	T_CHECK(SPAN_IS(s[0], 32, 17152, 2848));
	bt_meta_free(&m);
}

/* --- verification, v1 --- */

static void write_t2(void)
{
	put_file("multi/a", 1, 10000);
	put_file("multi/s/b", 2, 20000);
	put_file("multi/c", 9, 0);
	put_file("multi/d", 4, 5000);
}

static void test_verify_v1(void)
{
	struct bt_meta m;
	struct bt_verify_file vf[5];
	struct bt_verify sum;

	parse_ok(&m, build(fx_t2), 0);
	fresh_root();
	write_t2();
	T_EQ_STR(run(&m, vf, &sum), "GGG");
	T_CHECK(sum.good == 3 && sum.missing == 0 && sum.corrupt == 0);
	T_EQ_INT(vf[0].state, BT_FILE_OK);
	T_EQ_INT(vf[1].state, BT_FILE_PAD);
	T_EQ_INT(vf[3].state, BT_FILE_OK); /* the empty file exists */
	T_CHECK(vf[2].good == 2 && vf[4].good == 1 && vf[1].good == 0);
	T_EQ_UINT(vf[2].disk_size, 20000);

	/* one flipped byte in s/b (piece 1), d deleted (piece 2) */
	flip("multi/s/b", 100);
	unlink(at("multi/d"));
	T_EQ_STR(run(&m, vf, &sum), "GCM");
	T_CHECK(sum.good == 1 && sum.missing == 1 && sum.corrupt == 1);
	T_EQ_INT(vf[4].state, BT_FILE_ABSENT);
	T_EQ_INT(vf[4].err, ENOENT);
	T_CHECK(vf[2].good == 0 && vf[2].corrupt == 1 && vf[2].missing == 1);
	T_CHECK(vf[4].missing == 1);

	/* a truncated: short, piece 0 missing; the pad file is not looked for */
	put_file("multi/d", 4, 5000);
	flip("multi/s/b", 100);
	if (truncate(at("multi/a"), 9999) != 0)
		abort();
	T_EQ_STR(run(&m, vf, &sum), "MGG");
	T_EQ_INT(vf[0].state, BT_FILE_SHORT);
	T_EQ_UINT(vf[0].disk_size, 9999);
	/* longer than needed is not an error for the pieces */
	put_file("multi/a", 1, 12000);
	T_EQ_STR(run(&m, vf, &sum), "GGG");

	/* files may be NULL, the callback too */
	{
		int dfd = open_root();
		T_EQ_INT(bt_store_verify(&m, dfd, NULL, NULL, NULL, &sum), BT_OK);
		T_EQ_UINT(sum.good, 3);
		T_EQ_INT(bt_store_verify(&m, dfd, NULL, NULL, NULL, NULL), BT_EINVAL);
		close(dfd);
	}
	bt_meta_free(&m);
}

/* Symlinks are never followed, whatever they point at; FIFOs and other
 * non-files are refused without blocking. */
static void test_verify_no_escape(void)
{
	struct bt_meta m;
	struct bt_verify_file vf[5];
	struct bt_verify sum;
	char target[512];
	int st, err, fd;

	parse_ok(&m, build(fx_t2), 0);
	fresh_root();
	write_t2();
	/* a real, correct copy of s/ outside the torrent directory */
	put_file("outside/b", 2, 20000);
	put_file("outside/d", 4, 5000);
	rm_tree(at("multi/s"));
	snprintf(target, sizeof(target), "%s/outside", root);
	T_EQ_INT(symlink(target, at("multi/s")), 0);
	unlink(at("multi/d"));
	T_EQ_INT(symlink("../outside/d", at("multi/d")), 0);
	T_EQ_STR(run(&m, vf, &sum), "GMM");
	T_EQ_INT(vf[2].state, BT_FILE_UNSAFE);
	T_EQ_INT(vf[2].err, ELOOP);
	T_EQ_INT(vf[4].state, BT_FILE_UNSAFE);
	T_EQ_INT(vf[4].err, ELOOP);

	/* the torrent's own directory as a symlink */
	rename(at("multi"), at("real"));
	T_EQ_INT(symlink("real", at("multi")), 0);
	T_EQ_STR(run(&m, vf, &sum), "MMM");
	T_EQ_INT(vf[0].state, BT_FILE_UNSAFE);
	unlink(at("multi"));
	rename(at("real"), at("multi"));

	/* a FIFO where a file should be */
	unlink(at("multi/a"));
	T_EQ_INT(mkfifo(at("multi/a"), 0600), 0);
	fd = open_root();
	T_EQ_INT(bt_store_open(&m, fd, 0, &st, &err), -1);
	T_EQ_INT(st, BT_FILE_UNSAFE);
	/* a directory where a file should be */
	{
		int r = bt_store_open(&m, fd, 3, &st, &err);
		T_CHECK(r >= 0 && st == BT_FILE_OK);
		if (r >= 0)
			close(r);
	}
	unlink(at("multi/c"));
	mkdir(at("multi/c"), 0755);
	T_EQ_INT(bt_store_open(&m, fd, 3, &st, &err), -1);
	T_EQ_INT(st, BT_FILE_UNSAFE);
	T_EQ_INT(bt_store_open(&m, fd, 99, &st, &err), -1);
	T_EQ_INT(err, EINVAL);
	close(fd);
	bt_meta_free(&m);
}

/* Single-file v1: the file is DIR/name. */
static void test_verify_single(void)
{
	struct bt_wr w;
	struct bt_meta m;
	struct bt_verify_file vf[1];
	struct bt_verify sum;
	uint8_t *d = fx_data(5, 40000), pieces[60];

	fx_v1_pieces(d, 40000, 16384, pieces);
	free(d);
	bt_wr_init(&w, tbuf, sizeof(tbuf));
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "info");
	bt_be_put_dict(&w);
	bt_be_put_cstr(&w, "length");
	bt_be_put_int(&w, 40000);
	bt_be_put_cstr(&w, "name");
	bt_be_put_cstr(&w, "one.bin");
	bt_be_put_cstr(&w, "piece length");
	bt_be_put_int(&w, 16384);
	bt_be_put_cstr(&w, "pieces");
	bt_be_put_str(&w, pieces, 60);
	bt_be_put_end(&w);
	bt_be_put_end(&w);
	parse_ok(&m, w.len, 0);
	fresh_root();
	T_EQ_STR(run(&m, vf, &sum), "MMM");
	T_EQ_INT(vf[0].state, BT_FILE_ABSENT);
	put_file("one.bin", 5, 40000);
	T_EQ_STR(run(&m, vf, &sum), "GGG");
	flip("one.bin", 39999);
	T_EQ_STR(run(&m, vf, &sum), "GGC");
	bt_meta_free(&m);
}

/* --- verification, v2 and hybrid --- */

static void write_t3(size_t asize)
{
	put_file("v2/a", 1, asize);
	put_file("v2/dir/b", 2, 5);
	put_file("v2/dir/e", 9, 0);
}

static void test_verify_v2(void)
{
	struct bt_meta m;
	struct bt_verify_file vf[3];
	struct bt_verify sum;

	parse_ok(&m, build_t3(16384, 40000, 0), 0);
	fresh_root();
	write_t3(40000);
	T_EQ_STR(run(&m, vf, &sum), "GGGG");
	T_CHECK(vf[0].good == 3 && vf[1].good == 1);
	flip("v2/a", 20000);               /* piece 1 */
	T_EQ_STR(run(&m, vf, &sum), "GCGG");
	flip("v2/a", 20000);
	flip("v2/a", 39999);               /* last byte: piece 2 */
	T_EQ_STR(run(&m, vf, &sum), "GGCG");
	flip("v2/a", 39999);
	unlink(at("v2/dir/b"));
	T_EQ_STR(run(&m, vf, &sum), "GGGM");
	T_EQ_INT(vf[1].state, BT_FILE_ABSENT);
	put_file("v2/dir/b", 300, 5);      /* other bytes, same size */
	T_EQ_STR(run(&m, vf, &sum), "GGGC");
	put_file("v2/dir/b", 2, 5);
	if (truncate(at("v2/a"), 32769) != 0)   /* one byte into piece 2 */
		abort();
	T_EQ_STR(run(&m, vf, &sum), "GGMG");
	T_EQ_INT(vf[0].state, BT_FILE_SHORT);
	bt_meta_free(&m);

	/* 32 KiB pieces, layer above the leaves; the 6th piece is short */
	parse_ok(&m, build_t3(32768, 163940, 0), 0);
	fresh_root();
	write_t3(163940);
	T_EQ_STR(run(&m, vf, &sum), "GGGGGGG");
	flip("v2/a", 163939);
	T_EQ_STR(run(&m, vf, &sum), "GGGGGCG");
	flip("v2/a", 163939);
	flip("v2/a", 16384);               /* second leaf of piece 0 */
	T_EQ_STR(run(&m, vf, &sum), "CGGGGGG");
	bt_meta_free(&m);
}

/* A bare info dict has no piece layers: a large file gets one verdict
 * from its pieces root. */
static void test_verify_v2_no_layers(void)
{
	struct bt_meta full, m;
	struct bt_meta_opts o = { BT_META_INFO_ONLY, NULL, 0, 0 };
	struct bt_meta_err e;
	struct bt_verify_file vf[3];
	struct bt_verify sum;

	parse_ok(&full, build_t3(16384, 40000, 0), 0);
	T_EQ_INT(bt_meta_parse(&m, full.info.p, full.info.len, &o, &e), BT_OK);
	T_CHECK(m.files[0].layer == NULL);
	fresh_root();
	write_t3(40000);
	T_EQ_STR(run(&m, vf, &sum), "GGGG");
	flip("v2/a", 20000);
	T_EQ_STR(run(&m, vf, &sum), "CCCG");
	flip("v2/a", 20000);
	if (truncate(at("v2/a"), 39999) != 0)
		abort();
	T_EQ_STR(run(&m, vf, &sum), "MMMG");
	bt_meta_free(&m);
	bt_meta_free(&full);
}

static void test_verify_hybrid(void)
{
	struct bt_meta m;
	struct bt_verify_file vf[3];
	struct bt_verify sum;

	parse_ok(&m, build(fx_t4), 0);
	fresh_root();
	put_file("hy/a", 1, 20000);
	put_file("hy/b", 2, 100);
	T_EQ_STR(run(&m, vf, &sum), "GGG");
	T_EQ_INT(vf[1].state, BT_FILE_PAD);
	flip("hy/a", 16384);
	T_EQ_STR(run(&m, vf, &sum), "GCG");
	T_CHECK(vf[0].good == 1 && vf[0].corrupt == 1 && vf[1].corrupt == 0);
	bt_meta_free(&m);
}

static void test_names(void)
{
	T_EQ_STR(bt_piece_state_name(BT_PIECE_GOOD), "good");
	T_EQ_STR(bt_piece_state_name(BT_PIECE_MISSING), "missing");
	T_EQ_STR(bt_piece_state_name(BT_PIECE_CORRUPT), "corrupt");
	T_EQ_STR(bt_file_state_name(BT_FILE_UNSAFE), "unsafe");
	T_EQ_STR(bt_file_state_name(BT_FILE_ABSENT), "absent");
	T_EQ_STR(bt_file_state_name(42), "unknown");
}

int main(void)
{
	T_RUN(test_spans_v1);
	T_RUN(test_spans_v2_and_hybrid);
	T_RUN(test_spans_many_files);
	T_RUN(test_verify_v1);
	T_RUN(test_verify_no_escape);
	T_RUN(test_verify_single);
	T_RUN(test_verify_v2);
	T_RUN(test_verify_v2_no_layers);
	T_RUN(test_verify_hybrid);
	T_RUN(test_names);
	if (root[0])
		rm_tree(root);
	return T_DONE();
}
