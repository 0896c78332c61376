/* UDP tracker responses (BEP 15, tracker.h): the four parsers on one
 * datagram.  Input: the transaction id we "sent" (4 bytes), a control
 * byte (bit 0: address family 6; bits 1-3: peer array size), then the
 * datagram, copied to a buffer of exactly its size.
 *
 * Properties: the checks run in the documented order (length >= 8,
 * transaction id, action, the action's own length) and set the matching
 * problem; what is returned is exactly the bytes at their offsets. */
#include "fuzz.h"
#include "tracker.h"

static int expect_head(const uint8_t *p, size_t len, uint32_t tid,
		       uint32_t want, int *problem)
{
	uint32_t action;

	if (len < 8)
		return *problem = BT_UDP_P_SHORT, BT_NEED_MORE;
	if (bt_load_u32be(p + 4) != tid)
		return *problem = BT_UDP_P_TID, BT_EINVAL;
	action = bt_load_u32be(p);
	if (action != want)
		return *problem = action == BT_UDP_ERROR ? BT_UDP_P_ERROR :
				  BT_UDP_P_ACTION, BT_EINVAL;
	return *problem = BT_UDP_P_NONE, BT_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z;
	uint32_t tid;
	uint8_t ctl, *p;
	size_t len, cap, n, i;
	int family, rc, want, problem;
	struct bt_trk_err err;
	struct bt_udp_announce_resp ar;
	struct bt_peer_addr peers[8];
	struct bt_udp_scrape_entry se[8];
	const uint8_t *msg, *q;
	size_t msg_len;
	uint64_t cid;

	fz_init(&z, data, size);
	tid = fz_u32(&z);
	ctl = fz_u8(&z);
	family = ctl & 1 ? 6 : 4;
	cap = (ctl >> 1) & 7;
	q = fz_bytes(&z, z.left, &len);
	p = fz_dup(q, len);

	/* connect */
	rc = bt_udp_parse_connect(p, len, tid, &cid, &err);
	want = expect_head(p, len, tid, BT_UDP_CONNECT, &problem);
	if (want == BT_OK && len < 16)
		want = BT_NEED_MORE, problem = BT_UDP_P_SHORT;
	FUZZ_CHECK(rc == want && err.code == rc && err.problem == problem);
	if (rc == BT_OK)
		FUZZ_CHECK(cid == ((uint64_t)bt_load_u32be(p + 8) << 32 |
				   bt_load_u32be(p + 12)));
	else
		FUZZ_CHECK(err.rule != NULL);

	/* announce */
	rc = bt_udp_parse_announce(p, len, tid, family, &ar, peers, cap, &err);
	want = expect_head(p, len, tid, BT_UDP_ANNOUNCE, &problem);
	if (want == BT_OK && len < 20)
		want = BT_NEED_MORE, problem = BT_UDP_P_SHORT;
	if (want == BT_OK && (len - 20) % (family == 4 ? 6 : 18))
		want = BT_EINVAL, problem = BT_UDP_P_STRIDE;
	FUZZ_CHECK(rc == want && err.code == rc && err.problem == problem);
	if (rc == BT_OK) {
		size_t stride = family == 4 ? 6 : 18;

		FUZZ_CHECK(ar.interval == bt_load_u32be(p + 8));
		FUZZ_CHECK(ar.leechers == bt_load_u32be(p + 12));
		FUZZ_CHECK(ar.seeders == bt_load_u32be(p + 16));
		FUZZ_CHECK(ar.npeers == (len - 20) / stride);
		FUZZ_CHECK(ar.nstored == (ar.npeers < cap ? ar.npeers : cap));
		for (i = 0; i < ar.nstored; i++) {
			const uint8_t *e = p + 20 + i * stride;
			FUZZ_CHECK(peers[i].family == family);
			FUZZ_CHECK(memcmp(peers[i].ip, e, stride - 2) == 0);
			FUZZ_CHECK(peers[i].port == bt_load_u16be(e + stride - 2));
		}
	}

	/* scrape */
	rc = bt_udp_parse_scrape(p, len, tid, se, cap, &n, &err);
	want = expect_head(p, len, tid, BT_UDP_SCRAPE, &problem);
	if (want == BT_OK && (len - 8) % 12)
		want = BT_EINVAL, problem = BT_UDP_P_STRIDE;
	FUZZ_CHECK(rc == want && err.code == rc && err.problem == problem);
	if (rc == BT_OK) {
		FUZZ_CHECK(n == (len - 8) / 12);
		for (i = 0; i < n && i < cap; i++) {
			FUZZ_CHECK(se[i].seeders == bt_load_u32be(p + 8 + 12 * i));
			FUZZ_CHECK(se[i].completed == bt_load_u32be(p + 12 + 12 * i));
			FUZZ_CHECK(se[i].leechers == bt_load_u32be(p + 16 + 12 * i));
		}
	} else {
		FUZZ_CHECK(n == 0);
	}

	/* error */
	rc = bt_udp_parse_error(p, len, tid, &msg, &msg_len, &err);
	want = expect_head(p, len, tid, BT_UDP_ERROR, &problem);
	FUZZ_CHECK(rc == want && err.code == rc && err.problem == problem);
	if (rc == BT_OK)
		FUZZ_CHECK(msg == p + 8 && msg_len == len - 8);
	else
		FUZZ_CHECK(msg == NULL && msg_len == 0);
	FUZZ_CHECK(bt_udp_problem_name(err.problem) != NULL);
	free(p);
	return 0;
}
