/* HTTP tracker scrape response body (tracker.h) on any bytes.
 *
 * Properties: bt_be_max_tokens() tokens suffice; on success iteration
 * visits exactly nfiles entries, each a 20-byte info-hash view inside
 * the body (with its optional name), and never fails part way. */
#include "fuzz.h"
#include "tracker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t ntoks = bt_be_max_tokens(size), it = 0, n = 0;
	struct bt_be_tok *toks = malloc(ntoks * sizeof *toks);
	struct bt_trk_scrape_resp r;
	struct bt_trk_scrape_entry e;
	struct bt_trk_err err;
	int rc;

	if (!toks)
		abort();
	rc = bt_trk_parse_scrape(&r, data, size, toks, ntoks, &err);
	FUZZ_KNOWN("be-max-tokens", rc != BT_ENOSPC);  /* tracker.h: always suffices */
	{	/* ... and answers as a token array that cannot run out does */
		struct bt_be_tok *big = malloc((size + 1) * sizeof *big);
		struct bt_trk_scrape_resp r3;
		struct bt_trk_err e3;
		int rc3;

		if (!big)
			abort();
		rc3 = bt_trk_parse_scrape(&r3, data, size, big, size + 1, &e3);
		FUZZ_KNOWN("be-max-tokens", rc3 == rc && (rc == BT_OK || e3.off == err.off));
		free(big);
	}
	FUZZ_CHECK(err.code == rc);
	if (rc != BT_OK) {
		/* as in fuzz_announce */
		FUZZ_KNOWN("be-codes", rc != BT_EUNSUPP && rc != BT_EDEPTH);
		FUZZ_CHECK(rc == BT_EINVAL || rc == BT_NEED_MORE || rc == BT_ETOOBIG ||
			   rc == BT_ENOSPC || rc == BT_EUNSUPP || rc == BT_EDEPTH);
		FUZZ_CHECK(err.rule != NULL);
		FUZZ_CHECK(err.off <= size || rc == BT_ETOOBIG);
		free(toks);
		return 0;
	}
	FUZZ_CHECK(fz_inside(r.failure, r.failure_len, data, size));
	FUZZ_CHECK(r.trailing < size);
	while (bt_trk_scrape_next(&r, &it, &e)) {
		FUZZ_CHECK(n < r.nfiles);
		FUZZ_CHECK(fz_inside(e.info_hash, 20, data, size));
		FUZZ_CHECK(fz_inside(e.name, e.name_len, data, size));
		n++;
	}
	FUZZ_CHECK(n == r.nfiles);
	free(toks);
	return 0;
}
