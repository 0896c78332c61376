/* .torrent metainfo (meta.h) on any bytes, and the magnet made from it
 * (magnet.h).
 *
 * The input is parsed as a whole torrent (default and BT_META_STRICT)
 * and as a bare info dictionary (BT_META_INFO_ONLY, what ut_metadata
 * delivers).  On success:
 *   - info is the exact bytes hashed: SHA-1 / SHA-256 of it are the
 *     info-hashes the version calls for; views lie inside the buffer;
 *   - the piece space adds up: piece_count, last_piece_size, the files'
 *     offsets, first_piece and npieces, the sum of bt_meta_piece_size;
 *   - every path is a safe relative path (no empty, ".", ".." component,
 *     no '/' or NUL), and bt_meta_path_join says exactly that path, also
 *     into a short buffer;
 *   - the info bytes alone parse with BT_META_INFO_ONLY to the same
 *     torrent; a strict success is a default success with nothing
 *     tolerated, with the same result;
 *   - the magnet bt_magnet_from_meta writes parses back to the same
 *     info-hashes, name, trackers and web seeds (when within the magnet
 *     caps). */
#include "fuzz.h"
#include "magnet.h"
#include "meta.h"

#include <openssl/evp.h>

static bool str_eq(struct bt_meta_str a, struct bt_meta_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool has_nul(struct bt_meta_str s)
{
	return s.len && memchr(s.p, '\0', s.len) != NULL;
}

static void check_paths(const struct bt_meta *m, size_t f)
{
	struct bt_meta_str comp[BT_META_MAX_PATH_DEPTH];
	size_t n = bt_meta_path(m, f, comp, BT_META_MAX_PATH_DEPTH), i, len = 0, j;
	char *joined, small[8];

	FUZZ_CHECK(n >= 1 && n <= BT_META_MAX_PATH_DEPTH);
	for (i = 0; i < n; i++) {
		struct bt_meta_str c = comp[i];
		FUZZ_CHECK(c.len > 0);
		FUZZ_CHECK(!(c.len == 1 && c.p[0] == '.'));
		FUZZ_CHECK(!(c.len == 2 && c.p[0] == '.' && c.p[1] == '.'));
		FUZZ_CHECK(memchr(c.p, '/', c.len) == NULL);
		FUZZ_CHECK(memchr(c.p, '\0', c.len) == NULL);
		len += c.len + (i > 0);
	}
	FUZZ_CHECK(bt_meta_path_join(m, f, NULL, 0) == len);
	joined = malloc(len + 1);
	if (!joined)
		abort();
	FUZZ_CHECK(bt_meta_path_join(m, f, joined, len + 1) == len);
	FUZZ_CHECK(joined[len] == '\0' && strlen(joined) == len);
	for (i = 0, j = 0; i < n; i++) {
		if (i)
			FUZZ_CHECK(joined[j++] == '/');
		FUZZ_CHECK(memcmp(joined + j, comp[i].p, comp[i].len) == 0);
		j += comp[i].len;
	}
	memset(small, 'X', sizeof small);
	FUZZ_CHECK(bt_meta_path_join(m, f, small, sizeof small - 1) == len);
	FUZZ_CHECK(small[sizeof small - 1] == 'X');
	FUZZ_CHECK(strncmp(small, joined, strlen(small)) == 0);
	FUZZ_CHECK(strlen(small) == (len < sizeof small - 2 ? len : sizeof small - 2));
	free(joined);
}

static void check_meta(const struct bt_meta *m, const uint8_t *buf, size_t len)
{
	uint8_t h[32];
	unsigned hl;
	uint64_t total = 0, space = 0, sum;
	size_t i, npad = 0;
	uint32_t p;

	FUZZ_CHECK(m->version >= BT_META_V1 && m->version <= BT_META_HYBRID);
	FUZZ_CHECK(fz_inside(m->info.p, m->info.len, buf, len));
	FUZZ_CHECK(m->info.len >= 2 && m->info.p[0] == 'd');
	FUZZ_CHECK(fz_inside(m->name.p, m->name.len, buf, len) && m->name.len > 0);
	if (m->version != BT_META_V2) {
		FUZZ_CHECK(EVP_Digest(m->info.p, m->info.len, h, &hl, EVP_sha1(), NULL) == 1);
		FUZZ_CHECK(memcmp(h, m->info_hash_v1, 20) == 0);
		FUZZ_CHECK(fz_inside(m->pieces.p, m->pieces.len, buf, len));
		FUZZ_CHECK(m->pieces.len == (size_t)m->piece_count * 20);
	}
	if (m->version != BT_META_V1) {
		FUZZ_CHECK(EVP_Digest(m->info.p, m->info.len, h, &hl, EVP_sha256(), NULL) == 1);
		FUZZ_CHECK(memcmp(h, m->info_hash_v2, 32) == 0);
		FUZZ_CHECK(m->piece_length >= BT_META_MIN_PIECE_LENGTH);
		FUZZ_CHECK((m->piece_length & (m->piece_length - 1)) == 0);
	}
	FUZZ_CHECK(m->piece_length >= 1 && m->piece_length <= BT_META_MAX_PIECE_LENGTH);
	FUZZ_CHECK(m->nfiles >= 1);
	FUZZ_CHECK(m->multi || m->nfiles == 1);

	for (i = 0; i < m->nfiles; i++) {
		const struct bt_meta_file *f = &m->files[i];
		uint64_t np = (f->size + m->piece_length - 1) / m->piece_length;

		if (f->attr & BT_META_ATTR_PAD)
			npad++;
		else
			total += f->size;
		if (m->version == BT_META_V2) {
			/* Each non-empty file starts on a piece boundary. */
			FUZZ_CHECK(f->offset % m->piece_length == 0);
			FUZZ_CHECK(f->npieces == np);
			FUZZ_CHECK(!f->size || f->pieces_root);
			if (f->size) {
				FUZZ_CHECK(f->first_piece == f->offset / m->piece_length);
				FUZZ_CHECK(f->offset >= space);
				space = f->offset + f->size;
			}
		} else {
			FUZZ_CHECK(f->offset == space);
			space += f->size;
			FUZZ_CHECK(f->first_piece == f->offset / m->piece_length);
			if (f->size)
				FUZZ_CHECK(f->npieces == (f->offset + f->size - 1) /
					   m->piece_length - f->first_piece + 1);
			else
				FUZZ_CHECK(f->npieces == 0);
			if (m->version == BT_META_HYBRID && f->size &&
			    !(f->attr & BT_META_ATTR_PAD))
				FUZZ_CHECK(f->pieces_root &&
					   f->offset % m->piece_length == 0);
		}
		if (f->pieces_root)
			FUZZ_CHECK(fz_inside(f->pieces_root, 32, buf, len));
		if (f->layer)
			FUZZ_CHECK(fz_inside(f->layer, (size_t)f->npieces * 32, buf, len));
		check_paths(m, i);
	}
	FUZZ_CHECK(npad == m->npad);
	FUZZ_CHECK(total == m->total_size);
	FUZZ_CHECK(space == m->space_size || m->version == BT_META_V2);
	if (m->version == BT_META_V2) {
		FUZZ_CHECK(space == m->space_size);
	} else {
		FUZZ_CHECK(m->piece_count == (m->space_size + m->piece_length - 1) /
			   m->piece_length);
	}
	if (m->piece_count) {
		FUZZ_CHECK(m->last_piece_size >= 1 && m->last_piece_size <= m->piece_length);
		FUZZ_CHECK(bt_meta_piece_size(m, m->piece_count - 1) == m->last_piece_size);
	}
	FUZZ_CHECK(bt_meta_piece_size(m, m->piece_count) == 0);
	if (m->piece_count <= 4096) {
		for (p = 0, sum = 0; p < m->piece_count; p++) {
			uint64_t s = bt_meta_piece_size(m, p);
			FUZZ_CHECK(s >= 1 && s <= m->piece_length);
			sum += s;
		}
		FUZZ_CHECK(sum == (m->version == BT_META_V2 ? m->total_size : m->space_size));
	}

	for (i = 0; i < m->ntrackers; i++) {
		FUZZ_CHECK(fz_inside(m->trackers[i].url.p, m->trackers[i].url.len, buf, len));
		FUZZ_CHECK(m->trackers[i].url.len > 0);
		FUZZ_CHECK(m->trackers[i].tier < m->ntiers);
		FUZZ_CHECK(i == 0 || m->trackers[i].tier >= m->trackers[i - 1].tier);
		FUZZ_CHECK(m->trackers[i].tier <= (i ? m->trackers[i - 1].tier + 1 : 0));
	}
	FUZZ_CHECK(m->ntrackers || m->ntiers == 0);
	for (i = 0; i < m->nurls; i++)
		FUZZ_CHECK(fz_inside(m->url_list[i].p, m->url_list[i].len, buf, len) &&
			   m->url_list[i].len > 0);
	if (m->has_comment)
		FUZZ_CHECK(fz_inside(m->comment.p, m->comment.len, buf, len));
	if (m->has_created_by)
		FUZZ_CHECK(fz_inside(m->created_by.p, m->created_by.len, buf, len));
	FUZZ_CHECK(bt_meta_version_name(m->version) != NULL);
	for (unsigned t = m->tolerated; t; t &= t - 1)
		FUZZ_CHECK(bt_meta_tol_name(t) != NULL);
}

static void same_torrent(const struct bt_meta *a, const struct bt_meta *b)
{
	size_t i;

	FUZZ_CHECK(a->version == b->version && a->piece_length == b->piece_length);
	FUZZ_CHECK(a->piece_count == b->piece_count && a->nfiles == b->nfiles);
	FUZZ_CHECK(a->total_size == b->total_size && a->space_size == b->space_size);
	FUZZ_CHECK(a->last_piece_size == b->last_piece_size);
	FUZZ_CHECK(a->is_private == b->is_private && a->multi == b->multi);
	FUZZ_CHECK(str_eq(a->name, b->name));
	FUZZ_CHECK(memcmp(a->info_hash_v1, b->info_hash_v1, 20) == 0);
	FUZZ_CHECK(memcmp(a->info_hash_v2, b->info_hash_v2, 32) == 0);
	for (i = 0; i < a->nfiles; i++) {
		FUZZ_CHECK(a->files[i].size == b->files[i].size);
		FUZZ_CHECK(a->files[i].offset == b->files[i].offset);
		FUZZ_CHECK(a->files[i].attr == b->files[i].attr);
		FUZZ_CHECK(bt_meta_path_join(a, i, NULL, 0) == bt_meta_path_join(b, i, NULL, 0));
	}
}

static void check_magnet(const struct bt_meta *m)
{
	struct bt_magnet mg;
	struct bt_magnet_err err;
	size_t n = bt_magnet_from_meta(m, NULL, 0), n2, i;
	char *uri = malloc(n + 1);
	uint8_t *scratch = malloc(n + 1);
	int rc;

	if (!uri || !scratch)
		abort();
	n2 = bt_magnet_from_meta(m, uri, n + 1);
	FUZZ_CHECK(n2 == n && strlen(uri) == n);
	/* What a magnet cannot carry: more values than its caps, NUL
	 * bytes in a tracker or web seed URL. */
	if (n > BT_MAGNET_MAX_LEN || m->ntrackers > BT_MAGNET_MAX_TR ||
	    m->nurls > BT_MAGNET_MAX_WS)
		goto out;
	for (i = 0; i < m->ntrackers; i++)
		if (has_nul(m->trackers[i].url))
			goto out;
	for (i = 0; i < m->nurls; i++)
		if (has_nul(m->url_list[i]))
			goto out;
	rc = bt_magnet_parse(&mg, uri, n, scratch, n + 1, &err);
	FUZZ_CHECK(rc == BT_OK);
	FUZZ_CHECK(mg.has_btih == (m->version != BT_META_V2));
	FUZZ_CHECK(mg.has_btmh == (m->version != BT_META_V1));
	if (mg.has_btih)
		FUZZ_CHECK(memcmp(mg.btih, m->info_hash_v1, 20) == 0);
	if (mg.has_btmh)
		FUZZ_CHECK(memcmp(mg.btmh, m->info_hash_v2, 32) == 0);
	FUZZ_CHECK(mg.has_dn && str_eq(mg.dn, m->name));
	FUZZ_CHECK(mg.ntr == m->ntrackers && mg.nws == m->nurls);
	for (i = 0; i < mg.ntr; i++)
		FUZZ_CHECK(str_eq(mg.tr[i], m->trackers[i].url));
	for (i = 0; i < mg.nws; i++)
		FUZZ_CHECK(str_eq(mg.ws[i], m->url_list[i]));
	FUZZ_CHECK(mg.npe == 0 && mg.nso == 0 && mg.ignored == 0);
out:
	free(uri);
	free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_meta m, ms, mi;
	struct bt_meta_err err;
	struct bt_meta_opts strict = { BT_META_STRICT, NULL, 0, 0 };
	struct bt_meta_opts info_only = { BT_META_INFO_ONLY, NULL, 0, 0 };
	int rc, rcs, rci;

	rc = bt_meta_parse(&m, data, size, NULL, &err);
	FUZZ_CHECK(err.code == rc);
	/* BT_ENOSPC is for a caller's token array; ours is sized by meta.c
	 * (up to bt_be_max_tokens(len)) and only runs out on a known bug. */
	FUZZ_KNOWN("be-max-tokens", rc != BT_ENOSPC);
	{	/* The same answer with a token array that cannot run out. */
		struct bt_meta_opts big = { 0, malloc((size + 1) * sizeof(struct bt_be_tok)),
					    size + 1, 0 };
		struct bt_meta mb;
		struct bt_meta_err eb;
		int rb;

		if (!big.toks)
			abort();
		rb = bt_meta_parse(&mb, data, size, &big, &eb);
		FUZZ_KNOWN("be-max-tokens", rb == rc);
		if (rb == BT_OK) {
			if (rc == BT_OK)
				same_torrent(&m, &mb);
			bt_meta_free(&mb);
		}
		free(big.toks);
	}
	if (rc != BT_OK) {
		FUZZ_CHECK(err.rule != NULL);
		FUZZ_CHECK(err.off <= size);
	} else {
		check_meta(&m, data, size);
		check_magnet(&m);
		/* The info dictionary alone, as a peer would send it. */
		rci = bt_meta_parse(&mi, m.info.p, m.info.len, &info_only, &err);
		FUZZ_CHECK(rci == BT_OK);
		check_meta(&mi, m.info.p, m.info.len);
		same_torrent(&m, &mi);
		FUZZ_CHECK(mi.ntrackers == 0 && mi.nurls == 0);
		bt_meta_free(&mi);
	}

	rcs = bt_meta_parse(&ms, data, size, &strict, &err);
	if (rcs == BT_OK) {
		FUZZ_CHECK(rc == BT_OK && ms.tolerated == 0 && m.tolerated == 0);
		check_meta(&ms, data, size);
		same_torrent(&m, &ms);
		bt_meta_free(&ms);
	}
	if (rc == BT_OK)
		bt_meta_free(&m);

	/* Any bytes as a bare info dictionary (BEP 9 metadata). */
	rci = bt_meta_parse(&mi, data, size, &info_only, &err);
	if (rci == BT_OK) {
		check_meta(&mi, data, size);
		FUZZ_CHECK(mi.info.p == data && mi.info.len <= size);
		bt_meta_free(&mi);
	}
	return 0;
}
