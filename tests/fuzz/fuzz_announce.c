/* HTTP tracker announce response body (tracker.h) on any bytes.
 *
 * Parsed twice: into arrays of 16 peers (with the per-peer info array),
 * and with no arrays at all; both must give the same result and counts.
 * Properties: every view lies in the body; nstored = min(npeers, cap);
 * peers6 entries are IPv6 and come last; dictionary peers given by host
 * name have family 0 and a non-empty ip view, the others have the family
 * bt_url_ip_literal gives their text; the external ip is set exactly
 * when its raw view is 4 or 16 bytes. */
#include "fuzz.h"
#include "tracker.h"

#define CAP 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t ntoks = bt_be_max_tokens(size), i;
	struct bt_be_tok *toks = malloc(ntoks * sizeof *toks);
	struct bt_peer_addr peers[CAP];
	struct bt_trk_peer_info info[CAP];
	struct bt_trk_resp r, r2;
	struct bt_trk_err err, err2;
	int rc, rc2;

	if (!toks)
		abort();
	rc = bt_trk_parse_announce(&r, data, size, toks, ntoks, peers, info, CAP, &err);
	rc2 = bt_trk_parse_announce(&r2, data, size, toks, ntoks, NULL, NULL, CAP, &err2);
	FUZZ_CHECK(rc == rc2 && r.npeers == r2.npeers && r2.nstored == 0);
	FUZZ_KNOWN("be-max-tokens", rc != BT_ENOSPC);  /* tracker.h: always suffices */
	{	/* ... and gives the answer a token array that cannot run out
		 * gives (len + 1 tokens: one per byte, and one). */
		struct bt_be_tok *big = malloc((size + 1) * sizeof *big);
		struct bt_trk_err e3;
		int rc3;

		if (!big)
			abort();
		rc3 = bt_trk_parse_announce(&r2, data, size, big, size + 1, NULL, NULL, 0, &e3);
		FUZZ_KNOWN("be-max-tokens", rc3 == rc && (rc == BT_OK || e3.off == err.off));
		free(big);
	}
	FUZZ_CHECK(err.code == rc);
	if (rc != BT_OK) {
		/* tracker.h lists these; bt_be_decode's BT_EUNSUPP (an
		 * integer over 64 bits) and BT_EDEPTH get through too. */
		FUZZ_KNOWN("be-codes", rc != BT_EUNSUPP && rc != BT_EDEPTH);
		FUZZ_CHECK(rc == BT_EINVAL || rc == BT_NEED_MORE || rc == BT_ETOOBIG ||
			   rc == BT_ENOSPC || rc == BT_EUNSUPP || rc == BT_EDEPTH);
		FUZZ_CHECK(err.rule != NULL);
		FUZZ_CHECK(err.off <= size || rc == BT_ETOOBIG);
		FUZZ_CHECK(err.code == err2.code && err.off == err2.off);
		goto out;
	}
	FUZZ_CHECK(r.trailing < size);
	FUZZ_CHECK(fz_inside(r.failure, r.failure_len, data, size));
	FUZZ_CHECK(fz_inside(r.warning, r.warning_len, data, size));
	FUZZ_CHECK(fz_inside(r.tracker_id, r.tracker_id_len, data, size));
	FUZZ_CHECK(fz_inside(r.external_raw, r.external_raw_len, data, size));
	FUZZ_CHECK(r.has_external_ip == (r.external_raw &&
		   (r.external_raw_len == 4 || r.external_raw_len == 16)));
	if (r.has_external_ip)
		FUZZ_CHECK(r.external_ip.family == (r.external_raw_len == 4 ? 4 : 6) &&
			   memcmp(r.external_ip.ip, r.external_raw, r.external_raw_len) == 0);
	FUZZ_CHECK(r.npeers <= BT_TRK_MAX_PEERS);
	FUZZ_CHECK(r.nstored == (r.npeers < CAP ? r.npeers : CAP));
	FUZZ_CHECK(r.npeers6 <= r.npeers && (r.has_peers6 || r.npeers6 == 0));
	FUZZ_CHECK(r.nhosts <= r.npeers - r.npeers6);
	FUZZ_CHECK(r.peers_form != BT_TRK_PEERS_NONE || r.npeers == r.npeers6);
	for (i = 0; i < r.nstored; i++) {
		const struct bt_trk_peer_info *pi = &info[i];

		if (i >= r.npeers - r.npeers6) {
			FUZZ_CHECK(peers[i].family == 6 && pi->ip == NULL);
		} else if (r.peers_form == BT_TRK_PEERS_COMPACT) {
			FUZZ_CHECK(peers[i].family == 4 && pi->ip == NULL && pi->id == NULL);
		} else {
			uint8_t ip[16];
			int fam;

			FUZZ_CHECK(r.peers_form == BT_TRK_PEERS_DICT);
			FUZZ_CHECK(pi->ip_len > 0 && fz_inside(pi->ip, pi->ip_len, data, size));
			FUZZ_CHECK(fz_inside(pi->id, pi->id_len, data, size));
			fam = bt_url_ip_literal(pi->ip, pi->ip_len, ip);
			FUZZ_CHECK(fam == peers[i].family && pi->is_host == (fam == 0));
			if (fam)
				FUZZ_CHECK(memcmp(ip, peers[i].ip, 16) == 0);
		}
	}
out:
	free(toks);
	return 0;
}
