/* test_store_write.c — the write path of store.h: bt_store_create and
 * bt_store_pwrite.  Files are created below a mkdtemp directory; each test
 * plants exactly what it names (a symlink, a directory, a long file) and
 * checks that nothing is created or written outside. */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "meta.h"
#include "store.h"

static char root[256], outside[300];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static int fresh(void)
{
	const char *tmp = getenv("TMPDIR");

	if (root[0])
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(root, sizeof root, "%s/btkit-storew-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root))
		abort();
	snprintf(outside, sizeof outside, "%s/outside", root);
	mkdir(outside, 0755);
	char out[300];
	snprintf(out, sizeof out, "%s/out", root);
	mkdir(out, 0755);
	return open(out, O_RDONLY | O_DIRECTORY);
}

static const char *at(const char *rel)
{
	static char p[4][512];
	static unsigned k;
	char *b = p[k++ % 4];

	snprintf(b, sizeof p[0], "%s/%s", root, rel);
	return b;
}

/* A multi-file torrent "top": d/a (5 bytes), d/e/b (3 bytes), empty (0). */
static const char T[] =
	"d4:infod5:filesl"
	"d6:lengthi5e4:pathl1:d1:aee"
	"d6:lengthi3e4:pathl1:d1:e1:bee"
	"d6:lengthi0e4:pathl5:emptyee"
	"e4:name3:top12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae"
	"e";

static void parse(struct bt_meta *m)
{
	struct bt_meta_err e;

	T_EQ_INT(bt_meta_parse(m, T, sizeof T - 1, NULL, &e), BT_OK);
	T_EQ_UINT(m->nfiles, 3);
}

static uint64_t size_of(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

static void test_creates_dirs_files_and_empty(void)
{
	struct bt_meta m;
	int d = fresh(), st, err, fd, i;

	parse(&m);
	for (i = 0; i < 3; i++) {
		fd = bt_store_create(&m, d, (size_t)i, &st, &err);
		T_CHECK(fd >= 0);
		T_EQ_INT(st, BT_FILE_OK);
		if (i == 1)
			T_EQ_INT(bt_store_pwrite(fd, "xyz", 3, 0), BT_OK);
		close(fd);
	}
	T_EQ_UINT(size_of(at("out/top/d/a")), 5);
	T_EQ_UINT(size_of(at("out/top/d/e/b")), 3);
	T_EQ_UINT(size_of(at("out/top/empty")), 0);
	/* Again: nothing changes, the bytes written stay. */
	fd = bt_store_create(&m, d, 1, &st, &err);
	T_CHECK(fd >= 0);
	char b[4] = { 0 };
	T_EQ_INT(pread(fd, b, 3, 0), 3);
	T_EQ_STR(b, "xyz");
	close(fd);
	bt_meta_free(&m);
	close(d);
}

static void test_longer_file_is_cut_to_size(void)
{
	struct bt_meta m;
	int d = fresh(), st, err, fd;

	parse(&m);
	mkdir(at("out/top"), 0755);
	mkdir(at("out/top/d"), 0755);
	fd = open(at("out/top/d/a"), O_WRONLY | O_CREAT, 0644);
	T_EQ_INT(write(fd, "0123456789", 10), 10);
	close(fd);
	fd = bt_store_create(&m, d, 0, &st, &err);
	T_CHECK(fd >= 0);
	close(fd);
	T_EQ_UINT(size_of(at("out/top/d/a")), 5);
	bt_meta_free(&m);
	close(d);
}

static void test_symlinked_dir_refused(void)
{
	struct bt_meta m;
	int d = fresh(), st, err, fd;

	parse(&m);
	mkdir(at("out/top"), 0755);
	T_EQ_INT(symlink(outside, at("out/top/d")), 0);
	fd = bt_store_create(&m, d, 0, &st, &err);
	T_EQ_INT(fd, -1);
	T_EQ_INT(st, BT_FILE_UNSAFE);
	/* Nothing appeared outside. */
	T_EQ_UINT(size_of(at("outside/a")), UINT64_MAX);
	/* The top directory itself a symlink. */
	close(d);
	d = fresh();
	T_EQ_INT(symlink(outside, at("out/top")), 0);
	fd = bt_store_create(&m, d, 2, &st, &err);
	T_EQ_INT(fd, -1);
	T_EQ_INT(st, BT_FILE_UNSAFE);
	T_EQ_UINT(size_of(at("outside/empty")), UINT64_MAX);
	bt_meta_free(&m);
	close(d);
}

static void test_symlinked_or_odd_file_refused(void)
{
	struct bt_meta m;
	int d = fresh(), st, err, fd;

	parse(&m);
	mkdir(at("out/top"), 0755);
	mkdir(at("out/top/d"), 0755);
	fd = open(at("outside/victim"), O_WRONLY | O_CREAT, 0644);
	T_EQ_INT(write(fd, "keep", 4), 4);
	close(fd);
	T_EQ_INT(symlink(at("outside/victim"), at("out/top/d/a")), 0);
	fd = bt_store_create(&m, d, 0, &st, &err);
	T_EQ_INT(fd, -1);
	T_EQ_INT(st, BT_FILE_UNSAFE);
	T_EQ_UINT(size_of(at("outside/victim")), 4);
	/* A directory where the file belongs. */
	mkdir(at("out/top/empty"), 0755);
	fd = bt_store_create(&m, d, 2, &st, &err);
	T_EQ_INT(fd, -1);
	T_EQ_INT(st, BT_FILE_UNSAFE);
	/* A FIFO where the file belongs: not opened for I/O, no hang. */
	mkdir(at("out/top/d/e"), 0755);
	T_EQ_INT(mkfifo(at("out/top/d/e/b"), 0644), 0);
	fd = bt_store_create(&m, d, 1, &st, &err);
	T_EQ_INT(fd, -1);
	T_EQ_INT(st, BT_FILE_UNSAFE);
	/* Out of range. */
	T_EQ_INT(bt_store_create(&m, d, 3, &st, &err), -1);
	T_EQ_INT(err, EINVAL);
	bt_meta_free(&m);
	close(d);
}

int main(void)
{
	T_RUN(test_creates_dirs_files_and_empty);
	T_RUN(test_longer_file_is_cut_to_size);
	T_RUN(test_symlinked_dir_refused);
	T_RUN(test_symlinked_or_odd_file_refused);
	if (root[0])
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return T_DONE();
}
