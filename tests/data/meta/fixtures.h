/* fixtures.h — torrents built in C for test_meta, test_magnet, test_store.
 *
 * Each builder writes a whole .torrent with the bencode encoder.  File
 * contents follow a fixed pattern (fx_pat) so tests can write the same
 * bytes to disk.  Piece hashes (SHA-1) and merkle trees (SHA-256) are
 * computed here with plain OpenSSL and a naive array reduction, not with
 * the library's bt_merkle, so the library is checked against something
 * else.  The expected info-hashes hard-coded in the tests come from
 * tests/data/meta/expected.py, which rebuilds the same torrents with
 * Python's hashlib and its own bencoder. */
#ifndef BT_TEST_META_FIXTURES_H
#define BT_TEST_META_FIXTURES_H

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "bencode.h"

#define FX_BLOCK 16384u

/* byte i of file `seed` = ((i * 2654435761 + seed * 97) mod 2^32) >> 13 */
static inline uint8_t fx_pat(unsigned seed, uint64_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u + seed * 97u;
	return (uint8_t)(x >> 13);
}

static inline uint8_t *fx_data(unsigned seed, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	size_t i;

	if (!p)
		abort();
	for (i = 0; i < n; i++)
		p[i] = fx_pat(seed, i);
	return p;
}

static inline void fx_sha(const EVP_MD *md, const void *p, size_t n, uint8_t *out)
{
	unsigned len = 0;
	EVP_Digest(p, n, out, &len, md, NULL);
}

/* Merkle root over `n` 32-byte nodes padded with `zero` to `width`. */
static inline void fx_reduce(const uint8_t *nodes, size_t n, size_t width,
			     const uint8_t zero[32], uint8_t out[32])
{
	uint8_t *t = calloc(width, 32);
	size_t i;

	if (!t)
		abort();
	for (i = 0; i < width; i++)
		memcpy(t + 32 * i, i < n ? nodes + 32 * i : zero, 32);
	while (width > 1) {
		for (i = 0; i < width / 2; i++)
			fx_sha(EVP_sha256(), t + 64 * i, 64, t + 32 * i);
		width /= 2;
	}
	memcpy(out, t, 32);
	free(t);
}

static inline size_t fx_width(size_t n)
{
	size_t w = 1;
	while (w < n)
		w *= 2;
	return w;
}

/* Leaf hashes of data (one per 16 KiB block); returns the count. */
static inline size_t fx_leaves(const uint8_t *d, size_t n, uint8_t **out)
{
	size_t k = (n + FX_BLOCK - 1) / FX_BLOCK, i;

	*out = calloc(k ? k : 1, 32);
	if (!*out)
		abort();
	for (i = 0; i < k; i++)
		fx_sha(EVP_sha256(), d + i * FX_BLOCK,
		       n - i * FX_BLOCK < FX_BLOCK ? n - i * FX_BLOCK : FX_BLOCK,
		       *out + 32 * i);
	return k;
}

static inline void fx_root(const uint8_t *d, size_t n, uint8_t out[32])
{
	static const uint8_t zero[32];
	uint8_t *lv;
	size_t k = fx_leaves(d, n, &lv);

	fx_reduce(lv, k, fx_width(k), zero, out);
	free(lv);
}

/* Piece layer: one subtree root (pl / 16 KiB leaves wide) per piece. */
static inline size_t fx_layer(const uint8_t *d, size_t n, size_t pl, uint8_t *out)
{
	static const uint8_t zero[32];
	size_t p, k = 0;

	for (p = 0; p < n; p += pl, k++) {
		uint8_t *lv;
		size_t nl = fx_leaves(d + p, n - p < pl ? n - p : pl, &lv);
		fx_reduce(lv, nl, pl / FX_BLOCK, zero, out + 32 * k);
		free(lv);
	}
	return k;
}

static inline void fx_v1_pieces(const uint8_t *d, size_t n, size_t pl, uint8_t *out)
{
	size_t p, k = 0;

	for (p = 0; p < n; p += pl, k++)
		fx_sha(EVP_sha1(), d + p, n - p < pl ? n - p : pl, out + 20 * k);
}

/* Replace the first occurrence of `from` by `to` (same length). */
static inline int fx_patch(uint8_t *buf, size_t len, const char *from, const char *to)
{
	size_t n = strlen(from);
	uint8_t *p = memmem(buf, len, from, n);

	if (!p || strlen(to) != n)
		return -1;
	memcpy(p, to, n);
	return 0;
}

static inline long fx_find(const uint8_t *buf, size_t len, const char *s)
{
	const uint8_t *p = memmem(buf, len, s, strlen(s));
	return p ? (long)(p - buf) : -1;
}

/* --- T2: v1 multi-file "multi", piece length 16384 ---
 *   a 10000 (seed 1) | .pad/6384 (pad) | s/b 20000 (seed 2) | c 0 | d 5000 (seed 4)
 * space 41384 bytes, 3 pieces; announce-list two tiers, url-list string,
 * comment, created by, creation date, private. */
#define FX_T2_SPACE 41384u
static inline uint8_t *fx_t2_space(void)
{
	uint8_t *s = calloc(1, FX_T2_SPACE);
	size_t i;

	if (!s)
		abort();
	for (i = 0; i < 10000; i++)
		s[i] = fx_pat(1, i);
	for (i = 0; i < 20000; i++)
		s[16384 + i] = fx_pat(2, i);
	for (i = 0; i < 5000; i++)
		s[36384 + i] = fx_pat(4, i);
	return s;
}

static inline void fx_file1(struct bt_wr *w, const char *attr, int64_t len,
			    const char *p1, const char *p2)
{
	bt_be_put_dict(w);
	if (attr) {
		bt_be_put_cstr(w, "attr");
		bt_be_put_cstr(w, attr);
	}
	bt_be_put_cstr(w, "length");
	bt_be_put_int(w, len);
	bt_be_put_cstr(w, "path");
	bt_be_put_list(w);
	bt_be_put_cstr(w, p1);
	if (p2)
		bt_be_put_cstr(w, p2);
	bt_be_put_end(w);
	bt_be_put_end(w);
}

static inline void fx_t2(struct bt_wr *w)
{
	uint8_t *s = fx_t2_space(), pieces[60];

	fx_v1_pieces(s, FX_T2_SPACE, 16384, pieces);
	free(s);
	bt_be_put_dict(w);
	bt_be_put_cstr(w, "announce");
	bt_be_put_cstr(w, "http://a/1");
	bt_be_put_cstr(w, "announce-list");
	bt_be_put_list(w);
	bt_be_put_list(w);
	bt_be_put_cstr(w, "http://a/1");
	bt_be_put_cstr(w, "http://a/2");
	bt_be_put_end(w);
	bt_be_put_list(w);
	bt_be_put_cstr(w, "udp://b:6969");
	bt_be_put_end(w);
	bt_be_put_end(w);
	bt_be_put_cstr(w, "comment");
	bt_be_put_cstr(w, "hi");
	bt_be_put_cstr(w, "created by");
	bt_be_put_cstr(w, "btkit");
	bt_be_put_cstr(w, "creation date");
	bt_be_put_int(w, 1700000000);
	bt_be_put_cstr(w, "info");
	bt_be_put_dict(w);
	bt_be_put_cstr(w, "files");
	bt_be_put_list(w);
	fx_file1(w, NULL, 10000, "a", NULL);
	fx_file1(w, "p", 6384, ".pad", "6384");
	fx_file1(w, NULL, 20000, "s", "b");
	fx_file1(w, NULL, 0, "c", NULL);
	fx_file1(w, NULL, 5000, "d", NULL);
	bt_be_put_end(w);
	bt_be_put_cstr(w, "name");
	bt_be_put_cstr(w, "multi");
	bt_be_put_cstr(w, "piece length");
	bt_be_put_int(w, 16384);
	bt_be_put_cstr(w, "pieces");
	bt_be_put_str(w, pieces, sizeof(pieces));
	bt_be_put_cstr(w, "private");
	bt_be_put_int(w, 1);
	bt_be_put_end(w);
	bt_be_put_cstr(w, "url-list");
	bt_be_put_cstr(w, "http://ws/");
	bt_be_put_end(w);
}

/* --- T3: v2 "v2": a (seed 1, asize bytes), dir/b (seed 2, 5 bytes),
 * dir/e (empty); announce http://t/; piece layers unless FX_NO_LAYERS. */
#define FX_NO_LAYERS 0x1u

static inline void fx_v2file(struct bt_wr *w, const char *name, int64_t len,
			     const uint8_t *root)
{
	bt_be_put_cstr(w, name);
	bt_be_put_dict(w);
	bt_be_put_str(w, "", 0);
	bt_be_put_dict(w);
	bt_be_put_cstr(w, "length");
	bt_be_put_int(w, len);
	if (root) {
		bt_be_put_cstr(w, "pieces root");
		bt_be_put_str(w, root, 32);
	}
	bt_be_put_end(w);
	bt_be_put_end(w);
}

static inline void fx_t3(struct bt_wr *w, size_t pl, size_t asize, unsigned flags)
{
	uint8_t *a = fx_data(1, asize), *b = fx_data(2, 5), ra[32], rb[32];
	uint8_t *layer = calloc((asize + pl - 1) / pl + 1, 32);
	size_t nl;

	if (!layer)
		abort();
	fx_root(a, asize, ra);
	fx_root(b, 5, rb);
	nl = fx_layer(a, asize, pl, layer);
	bt_be_put_dict(w);
	bt_be_put_cstr(w, "announce");
	bt_be_put_cstr(w, "http://t/");
	bt_be_put_cstr(w, "info");
	bt_be_put_dict(w);
	bt_be_put_cstr(w, "file tree");
	bt_be_put_dict(w);
	fx_v2file(w, "a", (int64_t)asize, ra);
	bt_be_put_cstr(w, "dir");
	bt_be_put_dict(w);
	fx_v2file(w, "b", 5, rb);
	fx_v2file(w, "e", 0, NULL);
	bt_be_put_end(w);
	bt_be_put_end(w);
	bt_be_put_cstr(w, "meta version");
	bt_be_put_int(w, 2);
	bt_be_put_cstr(w, "name");
	bt_be_put_cstr(w, "v2");
	bt_be_put_cstr(w, "piece length");
	bt_be_put_int(w, (int64_t)pl);
	bt_be_put_end(w);
	if (!(flags & FX_NO_LAYERS)) {
		bt_be_put_cstr(w, "piece layers");
		bt_be_put_dict(w);
		bt_be_put_str(w, ra, 32);
		bt_be_put_str(w, layer, 32 * nl);
		bt_be_put_end(w);
	}
	bt_be_put_end(w);
	free(a);
	free(b);
	free(layer);
}

/* --- T4: hybrid "hy", piece length 16384:
 *   a 20000 (seed 1) | .pad/12768 | b 100 (seed 2); 3 pieces both ways. */
static inline void fx_t4(struct bt_wr *w)
{
	uint8_t *a = fx_data(1, 20000), *b = fx_data(2, 100), ra[32], rb[32];
	uint8_t *space = calloc(1, 32868), pieces[60], layer[64];

	if (!space)
		abort();
	memcpy(space, a, 20000);
	memcpy(space + 32768, b, 100);
	fx_v1_pieces(space, 32868, 16384, pieces);
	fx_root(a, 20000, ra);
	fx_root(b, 100, rb);
	fx_layer(a, 20000, 16384, layer);
	bt_be_put_dict(w);
	bt_be_put_cstr(w, "info");
	bt_be_put_dict(w);
	bt_be_put_cstr(w, "file tree");
	bt_be_put_dict(w);
	fx_v2file(w, "a", 20000, ra);
	fx_v2file(w, "b", 100, rb);
	bt_be_put_end(w);
	bt_be_put_cstr(w, "files");
	bt_be_put_list(w);
	fx_file1(w, NULL, 20000, "a", NULL);
	fx_file1(w, "p", 12768, ".pad", "12768");
	fx_file1(w, NULL, 100, "b", NULL);
	bt_be_put_end(w);
	bt_be_put_cstr(w, "meta version");
	bt_be_put_int(w, 2);
	bt_be_put_cstr(w, "name");
	bt_be_put_cstr(w, "hy");
	bt_be_put_cstr(w, "piece length");
	bt_be_put_int(w, 16384);
	bt_be_put_cstr(w, "pieces");
	bt_be_put_str(w, pieces, 60);
	bt_be_put_end(w);
	bt_be_put_cstr(w, "piece layers");
	bt_be_put_dict(w);
	bt_be_put_str(w, ra, 32);
	bt_be_put_str(w, layer, 64);
	bt_be_put_end(w);
	bt_be_put_end(w);
	free(a);
	free(b);
	free(space);
}

#endif
