/* store.c — piece <-> file mapping and verification on disk; see store.h. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RDBUF 65536

/* Pad files hash as zeros; read-only, so not mutable state. */
static const uint8_t zeros[RDBUF];

/* First file whose bytes end after `pos` (ends never decrease). */
static size_t file_at(const struct bt_meta *m, uint64_t pos)
{
	size_t lo = 0, hi = m->nfiles;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->files[mid].offset + m->files[mid].size <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* v2: the file holding piece p (files are aligned; some are empty). */
static size_t v2_file_of(const struct bt_meta *m, uint32_t p)
{
	size_t lo = 0, hi = m->nfiles;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bt_meta_file *f = &m->files[mid];
		if (f->npieces ? f->first_piece + f->npieces <= p : f->first_piece <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long bt_store_spans(const struct bt_meta *m, uint32_t piece,
		    struct bt_span *out, size_t cap)
{
	uint64_t start, end;
	size_t f;
	long n = 0;

	if (piece >= m->piece_count)
		return BT_EINVAL;
	if (m->version == BT_META_V2) {
		const struct bt_meta_file *fi;
		f = v2_file_of(m, piece);
		if (f >= m->nfiles)
			return BT_EINVAL;
		fi = &m->files[f];
		if (cap) {
			out[0].file = (uint32_t)f;
			out[0].off = (uint64_t)(piece - fi->first_piece) * m->piece_length;
			out[0].len = bt_meta_piece_size(m, piece);
		}
		return 1;
	}
	start = (uint64_t)piece * m->piece_length;
	end = start + bt_meta_piece_size(m, piece);
	for (f = file_at(m, start); f < m->nfiles && m->files[f].offset < end; f++) {
		const struct bt_meta_file *fi = &m->files[f];
		uint64_t s = start > fi->offset ? start : fi->offset;
		uint64_t e = end < fi->offset + fi->size ? end : fi->offset + fi->size;
		if (e <= s)
			continue;
		if ((size_t)n < cap) {
			out[n].file = (uint32_t)f;
			out[n].off = s - fi->offset;
			out[n].len = e - s;
		}
		n++;
	}
	return n;
}

int bt_store_open(const struct bt_meta *m, int dirfd, size_t f, int *state, int *err)
{
	struct bt_meta_str comp[BT_META_MAX_PATH_DEPTH + 1];
	char name[NAME_MAX + 1];
	size_t n = 0, i;
	int d = dirfd, fd = -1;
	struct stat st;

	*state = BT_FILE_ERROR;
	*err = 0;
	if (f >= m->nfiles) {
		*err = EINVAL;
		return -1;
	}
	if (m->multi)
		comp[n++] = m->name;
	n += bt_meta_path(m, f, comp + n, BT_META_MAX_PATH_DEPTH);
	if (n > BT_META_MAX_PATH_DEPTH + 1 || n == 0) {
		*err = ENAMETOOLONG;
		return -1;
	}
	for (i = 0; i < n; i++) {
		bool last = i + 1 == n;
		int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
			    (last ? O_NONBLOCK | O_NOCTTY : O_DIRECTORY);
		int e;

		/* The parser refused '/', NUL, "", "." and "..": each name is
		 * one entry of the directory d. */
		if (comp[i].len > NAME_MAX) {
			e = ENAMETOOLONG;
			goto bad;
		}
		memcpy(name, comp[i].p, comp[i].len);
		name[comp[i].len] = '\0';
		fd = openat(d, name, flags);
		e = errno;
		if (fd < 0 && e != ENOENT) {
			/* O_DIRECTORY|O_NOFOLLOW says ENOTDIR for a symlink
			 * to a directory: tell that apart from a plain file. */
			struct stat ls;
			if (fstatat(d, name, &ls, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(ls.st_mode))
				e = ELOOP;
		}
		if (d != dirfd)
			close(d);
		d = dirfd;
		if (fd < 0)
			goto bad;
		if (!last)
			d = fd;
		continue;
bad:
		if (d != dirfd)
			close(d);
		*err = e;
		*state = e == ENOENT ? BT_FILE_ABSENT : e == ELOOP ? BT_FILE_UNSAFE :
			 BT_FILE_ERROR;
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		*err = errno;
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*state = BT_FILE_UNSAFE;
		close(fd);
		return -1;
	}
	*state = (uint64_t)st.st_size < m->files[f].size ? BT_FILE_SHORT : BT_FILE_OK;
	return fd;
}

/* --- verification --- */

struct vstate {
	const struct bt_meta *m;
	int dirfd;
	struct bt_verify_file *files;
	bt_verify_cb *cb;
	void *ctx;
	struct bt_verify *sum;
	size_t cur;              /* file whose fd is open, or SIZE_MAX */
	int fd;
	uint64_t disk_size;
	EVP_MD_CTX *md;
	uint8_t buf[RDBUF];
};

static void note_file(struct vstate *v, size_t f, int state, int err, uint64_t size)
{
	if (!v->files)
		return;
	v->files[f].state = state;
	v->files[f].err = err;
	v->files[f].disk_size = size;
}

/* Make file f the open one; returns its fd or -1. */
static int use_file(struct vstate *v, size_t f)
{
	struct stat st;
	int state, err;

	if (v->cur == f)
		return v->fd;
	if (v->fd >= 0)
		close(v->fd);
	v->cur = f;
	v->disk_size = 0;
	v->fd = bt_store_open(v->m, v->dirfd, f, &state, &err);
	if (v->fd >= 0 && fstat(v->fd, &st) == 0)
		v->disk_size = (uint64_t)st.st_size;
	note_file(v, f, state, err, v->disk_size);
	return v->fd;
}

/* Read exactly n bytes at off; false on error or end of file. */
static bool read_at(int fd, uint8_t *b, size_t n, uint64_t off)
{
	while (n) {
		ssize_t r = pread(fd, b, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return true;
}

static void file_error(struct vstate *v, size_t f)
{
	if (v->files && v->files[f].state == BT_FILE_OK)
		v->files[f].state = BT_FILE_ERROR, v->files[f].err = EIO;
}

static void verdict(struct vstate *v, uint32_t piece, int state, size_t f0, size_t f1)
{
	size_t f;

	if (state == BT_PIECE_GOOD)
		v->sum->good++;
	else if (state == BT_PIECE_MISSING)
		v->sum->missing++;
	else
		v->sum->corrupt++;
	if (v->files)
		for (f = f0; f < f1; f++) {
			struct bt_verify_file *vf = &v->files[f];
			if (v->m->files[f].size == 0 || (v->m->files[f].attr & BT_META_ATTR_PAD))
				continue;
			if (state == BT_PIECE_GOOD)
				vf->good++;
			else if (state == BT_PIECE_MISSING)
				vf->missing++;
			else
				vf->corrupt++;
		}
	if (v->cb)
		v->cb(v->ctx, piece, state);
}

/* v1 and hybrid: SHA-1 of each piece across its spans. */
static void verify_v1(struct vstate *v)
{
	const struct bt_meta *m = v->m;
	uint32_t p;

	for (p = 0; p < m->piece_count; p++) {
		uint64_t start = (uint64_t)p * m->piece_length;
		uint64_t end = start + bt_meta_piece_size(m, p);
		size_t f0 = file_at(m, start), f;
		bool missing = false;
		uint8_t md[20];
		unsigned mdlen = 0;
		int state;

		EVP_DigestInit_ex(v->md, EVP_sha1(), NULL);
		for (f = f0; f < m->nfiles && m->files[f].offset < end; f++) {
			const struct bt_meta_file *fi = &m->files[f];
			uint64_t s = start > fi->offset ? start : fi->offset;
			uint64_t e = end < fi->offset + fi->size ? end : fi->offset + fi->size;
			uint64_t off, len;
			int fd;

			if (e <= s)
				continue;
			off = s - fi->offset;
			len = e - s;
			if (fi->attr & BT_META_ATTR_PAD) {
				while (len) {
					size_t k = len < RDBUF ? (size_t)len : RDBUF;
					EVP_DigestUpdate(v->md, zeros, k);
					len -= k;
				}
				continue;
			}
			/* Open even after a miss, so every file gets a state. */
			fd = use_file(v, f);
			if (fd < 0 || v->disk_size < off + len) {
				missing = true;
				continue;
			}
			while (len && !missing) {
				size_t k = len < RDBUF ? (size_t)len : RDBUF;
				if (!read_at(fd, v->buf, k, off)) {
					file_error(v, f);
					missing = true;
					break;
				}
				EVP_DigestUpdate(v->md, v->buf, k);
				off += k;
				len -= k;
			}
		}
		EVP_DigestFinal_ex(v->md, md, &mdlen);
		if (missing)
			state = BT_PIECE_MISSING;
		else
			state = memcmp(md, m->pieces.p + (size_t)p * 20, 20) == 0 ?
				BT_PIECE_GOOD : BT_PIECE_CORRUPT;
		verdict(v, p, state, f0, f);
	}
}

/* Merkle root of file bytes [off, off + len) with 16 KiB leaves, the tree
 * `width` leaves wide.  False on a read error. */
static bool v2_root(struct vstate *v, int fd, uint64_t off, uint64_t len,
		    uint64_t width, uint8_t out[32])
{
	struct bt_merkle mk;
	uint8_t h[32];

	bt_merkle_init(&mk, 0);
	while (len) {
		size_t k = len < RDBUF ? (size_t)len : RDBUF, b;
		if (!read_at(fd, v->buf, k, off))
			return false;
		for (b = 0; b < k; b += BT_META_BLOCK) {
			size_t bl = k - b < BT_META_BLOCK ? k - b : BT_META_BLOCK;
			bt_merkle_leaf(v->buf + b, bl, h);
			bt_merkle_push(&mk, h);
		}
		off += k;
		len -= k;
	}
	return bt_merkle_root(&mk, width, out) == BT_OK;
}

/* v2-only: per file, each piece against its layer hash or the root. */
static void verify_v2(struct vstate *v)
{
	const struct bt_meta *m = v->m;
	uint64_t pl = m->piece_length, per = pl / BT_META_BLOCK;
	size_t f;

	for (f = 0; f < m->nfiles; f++) {
		const struct bt_meta_file *fi = &m->files[f];
		int fd;
		uint32_t j;

		if (fi->size == 0 || !fi->pieces_root)
			continue;
		fd = use_file(v, f);
		if (fi->size > pl && !fi->layer) {
			/* No piece layer (a bare info dict): only the whole
			 * file can be checked, one verdict for every piece. */
			struct bt_merkle mk;
			uint8_t h[32];
			int state = BT_PIECE_GOOD;
			unsigned lvl = 0;

			while (((uint64_t)1 << lvl) < per)
				lvl++;
			bt_merkle_init(&mk, lvl);
			if (fd < 0 || v->disk_size < fi->size)
				state = BT_PIECE_MISSING;
			for (j = 0; j < fi->npieces && state == BT_PIECE_GOOD; j++) {
				uint64_t off = (uint64_t)j * pl;
				uint64_t len = fi->size - off < pl ? fi->size - off : pl;
				if (!v2_root(v, fd, off, len, per, h)) {
					file_error(v, f);
					state = BT_PIECE_MISSING;
				} else {
					bt_merkle_push(&mk, h);
				}
			}
			if (state == BT_PIECE_GOOD &&
			    (bt_merkle_root(&mk, bt_merkle_width(fi->npieces), h) != BT_OK ||
			     memcmp(h, fi->pieces_root, 32) != 0))
				state = BT_PIECE_CORRUPT;
			for (j = 0; j < fi->npieces; j++)
				verdict(v, fi->first_piece + j, state, f, f + 1);
			continue;
		}
		for (j = 0; j < fi->npieces; j++) {
			uint64_t off = (uint64_t)j * pl;
			uint64_t len = fi->size - off < pl ? fi->size - off : pl;
			const uint8_t *want = fi->size > pl ? fi->layer + 32 * (size_t)j :
					      fi->pieces_root;
			uint64_t width = fi->size > pl ? per :
					 bt_merkle_width((len + BT_META_BLOCK - 1) / BT_META_BLOCK);
			uint8_t h[32];
			int state;

			if (fd < 0 || v->disk_size < off + len)
				state = BT_PIECE_MISSING;
			else if (!v2_root(v, fd, off, len, width, h))
				file_error(v, f), state = BT_PIECE_MISSING;
			else
				state = memcmp(h, want, 32) == 0 ? BT_PIECE_GOOD :
					BT_PIECE_CORRUPT;
			verdict(v, fi->first_piece + j, state, f, f + 1);
		}
	}
}

int bt_store_verify(const struct bt_meta *m, int dirfd,
		    struct bt_verify_file *files, bt_verify_cb *cb, void *ctx,
		    struct bt_verify *sum)
{
	struct vstate *v;
	size_t f;

	if (!m || !sum || m->piece_length == 0)
		return BT_EINVAL;
	memset(sum, 0, sizeof(*sum));
	v = calloc(1, sizeof(*v));
	if (!v)
		return BT_ENOSPC;
	v->m = m;
	v->dirfd = dirfd;
	v->files = files;
	v->cb = cb;
	v->ctx = ctx;
	v->sum = sum;
	v->cur = SIZE_MAX;
	v->fd = -1;
	v->md = EVP_MD_CTX_new();
	if (!v->md) {
		free(v);
		return BT_ENOSPC;
	}
	if (files) {
		memset(files, 0, m->nfiles * sizeof(*files));
		for (f = 0; f < m->nfiles; f++)
			if (m->files[f].attr & BT_META_ATTR_PAD)
				files[f].state = BT_FILE_PAD;
	}
	if (m->version == BT_META_V2)
		verify_v2(v);
	else
		verify_v1(v);
	/* Empty files hold no piece; still say whether they are there. */
	if (files)
		for (f = 0; f < m->nfiles; f++)
			if (m->files[f].size == 0 && !(m->files[f].attr & BT_META_ATTR_PAD))
				use_file(v, f);
	if (v->fd >= 0)
		close(v->fd);
	EVP_MD_CTX_free(v->md);
	free(v);
	return BT_OK;
}

const char *bt_piece_state_name(int state)
{
	switch (state) {
	case BT_PIECE_GOOD: return "good";
	case BT_PIECE_MISSING: return "missing";
	case BT_PIECE_CORRUPT: return "corrupt";
	}
	return "unknown";
}

const char *bt_file_state_name(int state)
{
	switch (state) {
	case BT_FILE_OK: return "ok";
	case BT_FILE_PAD: return "pad";
	case BT_FILE_ABSENT: return "absent";
	case BT_FILE_SHORT: return "short";
	case BT_FILE_UNSAFE: return "unsafe";
	case BT_FILE_ERROR: return "error";
	}
	return "unknown";
}

/* --- write path --- */

int bt_store_create(const struct bt_meta *m, int dirfd, size_t f, int *state, int *err)
{
	struct bt_meta_str comp[BT_META_MAX_PATH_DEPTH + 1];
	char name[NAME_MAX + 1];
	size_t n = 0, i;
	int d = dirfd, fd = -1, e = 0;
	struct stat st;

	*state = BT_FILE_ERROR;
	*err = 0;
	if (f >= m->nfiles || (m->files[f].attr & BT_META_ATTR_PAD)) {
		*err = EINVAL;
		return -1;
	}
	if (m->multi)
		comp[n++] = m->name;
	n += bt_meta_path(m, f, comp + n, BT_META_MAX_PATH_DEPTH);
	if (n > BT_META_MAX_PATH_DEPTH + 1 || n == 0) {
		*err = ENAMETOOLONG;
		return -1;
	}
	for (i = 0; i < n; i++) {
		bool last = i + 1 == n;

		/* bt_meta_parse refused '/', NUL, "", "." and "..". */
		if (comp[i].len > NAME_MAX) {
			e = ENAMETOOLONG;
			goto bad;
		}
		memcpy(name, comp[i].p, comp[i].len);
		name[comp[i].len] = '\0';
		if (last) {
			fd = openat(d, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
				    O_NONBLOCK | O_NOCTTY, 0644);
		} else {
			if (mkdirat(d, name, 0755) != 0 && errno != EEXIST) {
				e = errno;
				goto bad;
			}
			fd = openat(d, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		}
		e = errno;
		if (fd < 0) {
			/* A symlink in the way: ELOOP (file) or ENOTDIR (dir). */
			struct stat ls;
			if (fstatat(d, name, &ls, AT_SYMLINK_NOFOLLOW) == 0 &&
			    (S_ISLNK(ls.st_mode) || (!last && !S_ISDIR(ls.st_mode)) ||
			     (last && !S_ISREG(ls.st_mode))))
				e = ELOOP;
			goto bad;
		}
		if (d != dirfd)
			close(d);
		d = dirfd;
		if (!last) {
			d = fd;
			fd = -1;
		}
	}
	if (fstat(fd, &st) != 0) {
		e = errno;
		goto bad;
	}
	if (!S_ISREG(st.st_mode)) {
		e = ELOOP;
		goto bad;
	}
	if ((uint64_t)st.st_size != m->files[f].size &&
	    ftruncate(fd, (off_t)m->files[f].size) != 0) {
		e = errno;
		goto bad;
	}
	*state = BT_FILE_OK;
	return fd;
bad:
	if (fd >= 0)
		close(fd);
	if (d != dirfd)
		close(d);
	*err = e;
	*state = e == ELOOP ? BT_FILE_UNSAFE : BT_FILE_ERROR;
	return -1;
}

int bt_store_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return BT_EINVAL;
		}
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return BT_OK;
}
