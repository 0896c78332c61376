/* ut_metadata payload (BEP 9, ext.h) on any bytes.
 *
 * Properties: a data message's bytes are exactly the piece BEP 9 says
 * (16384, or the rest of total_size for the last piece) and lie inside
 * the payload; request/reject carry no data unless flagged.  Round trip:
 * the message rebuilt with bt_utm_put_* parses to the same type, piece,
 * total_size and data, with no problems. */
#include "fuzz.h"
#include "ext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_utm m, m2;
	struct bt_be_err err;
	struct bt_wr w;
	uint8_t *buf;
	int rc = bt_utm_parse(&m, data, size, &err), rc2;

	FUZZ_CHECK(fz_inside(m.data.p, m.data.len, data, size));
	if (rc != BT_OK) {
		/* ext.h lists these three; an integer over 64 bits gives
		 * bencode.h's BT_EUNSUPP (test_regress.c). */
		FUZZ_KNOWN("be-codes", rc != BT_EUNSUPP);
		FUZZ_CHECK(rc == BT_EINVAL || rc == BT_ETOOBIG || rc == BT_EDEPTH ||
			   rc == BT_EUNSUPP);
		FUZZ_CHECK(err.code == rc && err.rule != NULL && err.off <= size);
		return 0;
	}
	FUZZ_CHECK(m.piece >= 0);
	FUZZ_CHECK(!!(m.problems & BT_UTM_P_UNKNOWN_TYPE) ==
		   (m.msg_type < 0 || m.msg_type > 2));
	if (m.msg_type != BT_UTM_DATA)
		FUZZ_CHECK(!!(m.problems & BT_UTM_P_TRAILING) ==
			   (m.msg_type >= 0 && m.msg_type <= 2 && m.data.len > 0));
	if (m.piece > UINT32_MAX || m.msg_type < 0 || m.msg_type > 2)
		return 0;

	if (m.msg_type == BT_UTM_DATA) {
		FUZZ_CHECK(m.have & BT_UTM_HAVE_TOTAL_SIZE);
		FUZZ_CHECK(m.total_size >= 1);
		FUZZ_CHECK(m.data.len > 0 && m.data.len <= BT_UTM_BLOCK);
		FUZZ_CHECK(m.data.len ==
			   bt_utm_piece_len((uint64_t)m.total_size, (uint64_t)m.piece));
	}
	buf = malloc(size + 64);
	if (!buf)
		abort();
	bt_wr_init(&w, buf, size + 64);
	if (m.msg_type == BT_UTM_REQUEST)
		rc2 = bt_utm_put_request(&w, (uint32_t)m.piece);
	else if (m.msg_type == BT_UTM_REJECT)
		rc2 = bt_utm_put_reject(&w, (uint32_t)m.piece);
	else
		rc2 = bt_utm_put_data(&w, (uint32_t)m.piece, (uint64_t)m.total_size,
				      m.data.p, m.data.len);
	FUZZ_CHECK(rc2 == BT_OK);
	rc2 = bt_utm_parse(&m2, buf, w.len, &err);
	FUZZ_CHECK(rc2 == BT_OK);
	FUZZ_CHECK(m2.msg_type == m.msg_type && m2.piece == m.piece);
	/* Canonical now; only a data message carries total_size. */
	FUZZ_CHECK(m2.problems == (m.msg_type == BT_UTM_DATA ?
				   m.problems & BT_UTM_P_HUGE : 0));
	if (m.msg_type == BT_UTM_DATA) {
		FUZZ_CHECK(m2.total_size == m.total_size);
		FUZZ_CHECK(m2.data.len == m.data.len);
		FUZZ_CHECK(memcmp(m2.data.p, m.data.p, m.data.len) == 0);
	} else {
		FUZZ_CHECK(m2.data.len == 0);
	}
	free(buf);
	return 0;
}
