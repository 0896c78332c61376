/* Magnet URIs (BEP 9, BEP 53; magnet.h) on any bytes.
 *
 * Properties: on success every view lies in the scratch buffer, counts
 * stay within their caps, and there is an info-hash; a scratch buffer one
 * byte short is refused.  Round trip: bt_magnet_write of the result
 * parses to the same hashes, name, trackers, web seeds, peers and file
 * ranges (when the written URI is within BT_MAGNET_MAX_LEN), and a short
 * output buffer gets a NUL-terminated prefix of the full URI. */
#include "fuzz.h"
#include "magnet.h"

static bool view_eq(struct bt_meta_str a, struct bt_meta_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void check_views(const struct bt_magnet *mg, const uint8_t *s, size_t n)
{
	size_t i;

	if (mg->has_dn)
		FUZZ_CHECK(fz_inside(mg->dn.p, mg->dn.len, s, n));
	FUZZ_CHECK(mg->ntr <= BT_MAGNET_MAX_TR && mg->nws <= BT_MAGNET_MAX_WS);
	FUZZ_CHECK(mg->npe <= BT_MAGNET_MAX_PE && mg->nso <= BT_MAGNET_MAX_SO);
	for (i = 0; i < mg->ntr; i++)
		FUZZ_CHECK(fz_inside(mg->tr[i].p, mg->tr[i].len, s, n));
	for (i = 0; i < mg->nws; i++)
		FUZZ_CHECK(fz_inside(mg->ws[i].p, mg->ws[i].len, s, n));
	for (i = 0; i < mg->npe; i++)
		FUZZ_CHECK(fz_inside(mg->pe[i].p, mg->pe[i].len, s, n));
	for (i = 0; i < mg->nso; i++)
		FUZZ_CHECK(mg->so[i].first <= mg->so[i].last);
	FUZZ_CHECK(mg->has_btih || mg->has_btmh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_magnet mg, mg2;
	struct bt_magnet_err err;
	uint8_t *scratch = malloc(size + 1), *scratch2;
	char *out, small[16];
	size_t n, i, k;
	int rc;

	if (!scratch)
		abort();
	rc = bt_magnet_parse(&mg, (const char *)data, size, scratch, size, &err);
	FUZZ_CHECK(err.code == rc);
	if (rc != BT_OK) {
		FUZZ_CHECK(rc == BT_EINVAL || rc == BT_ETOOBIG || rc == BT_EUNSUPP);
		FUZZ_CHECK(err.rule != NULL && err.off <= size);
		free(scratch);
		return 0;
	}
	check_views(&mg, scratch, size);
	FUZZ_CHECK(bt_magnet_parse(&mg2, (const char *)data, size, scratch, size - 1,
				   &err) == BT_ENOSPC);

	n = bt_magnet_write(&mg, NULL, 0);
	out = malloc(n + 1);
	scratch2 = malloc(n + 1);
	if (!out || !scratch2)
		abort();
	FUZZ_CHECK(bt_magnet_write(&mg, out, n + 1) == n && strlen(out) == n);
	memset(small, 'X', sizeof small);
	k = size % sizeof small;
	FUZZ_CHECK(bt_magnet_write(&mg, small, k) == n);
	if (k) {
		FUZZ_CHECK(memchr(small, '\0', k) != NULL);
		FUZZ_CHECK(strncmp(small, out, strlen(small)) == 0);
		FUZZ_CHECK(strlen(small) == (n < k - 1 ? n : k - 1));
	}
	if (k < sizeof small)
		FUZZ_CHECK(small[k] == 'X');   /* nothing past cap */

	if (n <= BT_MAGNET_MAX_LEN) {
		rc = bt_magnet_parse(&mg2, out, n, scratch2, n + 1, &err);
		FUZZ_CHECK(rc == BT_OK);
		FUZZ_CHECK(mg2.has_btih == mg.has_btih && mg2.has_btmh == mg.has_btmh);
		FUZZ_CHECK(!mg.has_btih || memcmp(mg2.btih, mg.btih, 20) == 0);
		FUZZ_CHECK(!mg.has_btmh || memcmp(mg2.btmh, mg.btmh, 32) == 0);
		FUZZ_CHECK(mg2.has_dn == mg.has_dn && (!mg.has_dn || view_eq(mg2.dn, mg.dn)));
		FUZZ_CHECK(mg2.ntr == mg.ntr && mg2.nws == mg.nws && mg2.npe == mg.npe);
		for (i = 0; i < mg.ntr; i++)
			FUZZ_CHECK(view_eq(mg2.tr[i], mg.tr[i]));
		for (i = 0; i < mg.nws; i++)
			FUZZ_CHECK(view_eq(mg2.ws[i], mg.ws[i]));
		for (i = 0; i < mg.npe; i++)
			FUZZ_CHECK(view_eq(mg2.pe[i], mg.pe[i]));
		FUZZ_CHECK(mg2.nso == mg.nso);
		for (i = 0; i < mg.nso; i++)
			FUZZ_CHECK(mg2.so[i].first == mg.so[i].first &&
				   mg2.so[i].last == mg.so[i].last);
		FUZZ_CHECK(mg2.ignored == 0);
	}
	free(out);
	free(scratch2);
	free(scratch);
	return 0;
}
