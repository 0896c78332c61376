/* store.h — where pieces live on disk, and checking data against a torrent.
 *
 * Layout (as libtorrent): a multi-file torrent's files are DIR/name/path...,
 * a single-file torrent's one file is DIR/name (v2: DIR/<file tree key>).
 * Paths come only from components bt_meta_parse validated, and are opened
 * one component at a time with openat(O_NOFOLLOW), so a symlink or a '..'
 * in the torrent cannot lead outside DIR.  Pad files are zeros and are
 * never read from disk.
 *
 * Verification reads one piece at a time through one 64 KiB buffer (a
 * single allocation) and keeps one file descriptor open between pieces:
 * memory does not grow with the torrent or the piece length.  v1 and hybrid torrents are checked with the SHA-1
 * piece hashes; v2-only torrents per file, each piece against its piece
 * layer (or, for files no larger than a piece, the pieces root). */
#ifndef BT_STORE_H
#define BT_STORE_H

#include "bt.h"
#include "meta.h"

/* One contiguous run of a piece inside one file. */
struct bt_span {
	uint32_t file;           /* index into m->files (may be a pad file) */
	uint64_t off;            /* offset within the file */
	uint64_t len;            /* > 0 */
};

/* The spans of piece `piece` in order.  Writes up to cap of them and
 * returns how many there are (> cap means out was too small), or
 * BT_EINVAL for a piece out of range.  Empty files never appear. */
long bt_store_spans(const struct bt_meta *m, uint32_t piece,
		    struct bt_span *out, size_t cap);

enum bt_piece_state {
	BT_PIECE_GOOD = 0,
	BT_PIECE_MISSING,        /* some byte is not on disk (absent, short, unreadable) */
	BT_PIECE_CORRUPT,        /* all bytes present, hash mismatch */
};

enum bt_file_state {
	BT_FILE_OK = 0,          /* opened, regular, at least size bytes */
	BT_FILE_PAD,             /* pad file: not looked for */
	BT_FILE_ABSENT,          /* a component does not exist */
	BT_FILE_SHORT,           /* exists but smaller than size */
	BT_FILE_UNSAFE,          /* a symlink where a file or directory was
				    expected, or not a regular file */
	BT_FILE_ERROR,           /* another error; see err (errno) */
};

struct bt_verify_file {
	int state;               /* enum bt_file_state */
	int err;                 /* errno behind ABSENT / UNSAFE / ERROR */
	uint64_t disk_size;      /* st_size when opened */
	uint32_t good, missing, corrupt; /* pieces touching this file */
};

struct bt_verify {
	uint32_t good, missing, corrupt;
};

/* Called once per piece, in increasing piece order. */
typedef void bt_verify_cb(void *ctx, uint32_t piece, int state);

/* Check the data below directory dirfd against m.  files: NULL or an
 * array of m->nfiles entries, filled in.  cb may be NULL.  Returns BT_OK
 * (whatever the verdicts: see sum), BT_EINVAL for bad arguments or
 * BT_ENOSPC when out of memory.  A v2 file larger than a piece without a
 * piece layer (BT_META_INFO_ONLY) gets one verdict for all its pieces:
 * missing if any byte is, else good or corrupt by its pieces root. */
int bt_store_verify(const struct bt_meta *m, int dirfd,
		    struct bt_verify_file *files, bt_verify_cb *cb, void *ctx,
		    struct bt_verify *sum);

/* Open file f of m below dirfd for reading, per component with
 * O_NOFOLLOW.  Returns an fd (the caller closes it), or -1 with *state
 * (enum bt_file_state) and *err (errno) saying why. */
int bt_store_open(const struct bt_meta *m, int dirfd, size_t f, int *state, int *err);

/* Open file f of m below dirfd for writing, creating what is missing:
 * each directory with mkdirat (0755) and openat(O_DIRECTORY|O_NOFOLLOW),
 * the file with openat(O_RDWR|O_CREAT|O_NOFOLLOW, 0644), one component
 * at a time, so nothing is created or written outside dirfd (a symlink
 * on the way, or a non-regular file at the end, is BT_FILE_UNSAFE).  The
 * file is then set to exactly its size with ftruncate (sparse; bytes
 * already there stay; a longer file is cut).  Empty files are created
 * too; pad files are refused (EINVAL).  Returns an fd open for reading
 * and writing (the caller closes it), or -1 with *state and *err. */
int bt_store_create(const struct bt_meta *m, int dirfd, size_t f, int *state, int *err);

/* Write n bytes at off of an fd from bt_store_create, all or nothing
 * (retries short writes and EINTR).  BT_OK, or BT_EINVAL with errno set. */
int bt_store_pwrite(int fd, const void *buf, size_t n, uint64_t off);

const char *bt_piece_state_name(int state);   /* "good", "missing", "corrupt" */
const char *bt_file_state_name(int state);    /* "ok", "pad", "absent", ... */

#endif
