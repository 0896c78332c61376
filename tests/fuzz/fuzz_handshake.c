/* Handshake parser on any bytes (BEP 3, wire.h).
 *
 * Properties: the result is exactly what the first byte (pstrlen) and
 * the length decide (BT_EINVAL for pstrlen 0, BT_NEED_MORE below
 * 1 + pstrlen + 48 bytes, else that many consumed); the fields are the
 * bytes at their offsets; the problem bits say exactly how the protocol
 * string deviates; a handshake without problems re-encodes to the same 68
 * bytes.  The reserved-bit helpers agree with each other on the parsed
 * bytes, and bt_reserved_str stays NUL-terminated in any buffer size and
 * says "..." when it had to cut. */
#include "fuzz.h"
#include "wire.h"

static bool eq_nocase(const uint8_t *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t x = a[i], y = (uint8_t)b[i];
		if (x >= 'A' && x <= 'Z')
			x = (uint8_t)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (uint8_t)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

static void check_reserved(const uint8_t r[8])
{
	char full[512], small[24];
	uint64_t unknown = 0, all = 0;
	size_t cap, k;
	int b, prev = -1;

	for (b = bt_reserved_next(r, 0); b >= 0; b = bt_reserved_next(r, b + 1)) {
		FUZZ_CHECK(b > prev && b < 64);
		FUZZ_CHECK(bt_reserved_has(r, (unsigned)b));
		all |= (uint64_t)1 << b;
		if (!bt_reserved_name((unsigned)b))
			unknown |= (uint64_t)1 << b;
		prev = b;
	}
	for (b = 0; b < 64; b++)
		FUZZ_CHECK(bt_reserved_has(r, (unsigned)b) == ((all >> b) & 1));
	FUZZ_CHECK(bt_reserved_unknown(r) == unknown);

	bt_reserved_str(r, full, sizeof full);
	FUZZ_CHECK(memchr(full, '\0', sizeof full) != NULL);
	FUZZ_CHECK(strlen(full) < sizeof full - 1);   /* 64 names fit */
	/* A few sizes: the smallest, the first that holds "...", and one the
	 * reserved bytes pick (so the fuzzer can reach every size). */
	for (int i = 0; i < 4; i++) {
		static const size_t fixed[3] = { 1, 4, 5 };
		cap = i < 3 ? fixed[i] : (size_t)(r[0] ^ r[3] ^ r[5] ^ r[7]) % sizeof small + 1;
		memset(small, 'X', sizeof small);
		bt_reserved_str(r, small, cap);
		FUZZ_CHECK(memchr(small, '\0', cap) != NULL);
		FUZZ_CHECK(cap == sizeof small || small[cap] == 'X');
		k = strlen(small);
		if (strlen(full) < cap) {
			FUZZ_CHECK(strcmp(small, full) == 0);
		} else if (cap >= 4) {
			/* Cut short, and visibly so: a prefix of the full text
			 * followed by "...". */
			FUZZ_KNOWN("reserved-str", k >= 3 && strcmp(small + k - 3, "...") == 0);
			FUZZ_CHECK(strncmp(small, full, k >= 3 ? k - 3 : k) == 0);
		} else {   /* not even "..." fits: a prefix, at least */
			FUZZ_CHECK(strncmp(small, full, k) == 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_handshake hs;
	long rc = bt_handshake_parse(data, size, &hs);
	size_t want;

	if (size == 0) {
		FUZZ_CHECK(rc == BT_NEED_MORE);
		return 0;
	}
	if (data[0] == 0) {
		FUZZ_CHECK(rc == BT_EINVAL);
		FUZZ_CHECK(hs.problems == (BT_HS_BAD_PSTRLEN | BT_HS_BAD_PSTR));
		return 0;
	}
	want = 1 + (size_t)data[0] + 48;
	if (size < want) {
		FUZZ_CHECK(rc == BT_NEED_MORE);
		return 0;
	}
	FUZZ_CHECK(rc == (long)want);
	FUZZ_CHECK(hs.pstrlen == data[0] && hs.pstr == data + 1);
	FUZZ_CHECK(memcmp(hs.reserved, data + 1 + data[0], 8) == 0);
	FUZZ_CHECK(memcmp(hs.info_hash, data + 9 + data[0], 20) == 0);
	FUZZ_CHECK(memcmp(hs.peer_id, data + 29 + data[0], 20) == 0);
	if (data[0] != BT_PSTR_LEN) {
		FUZZ_CHECK(hs.problems == (BT_HS_BAD_PSTRLEN | BT_HS_BAD_PSTR));
	} else if (memcmp(data + 1, BT_PSTR, BT_PSTR_LEN) == 0) {
		uint8_t out[BT_HS_LEN];

		FUZZ_CHECK(hs.problems == 0);
		bt_handshake_encode(out, hs.reserved, hs.info_hash, hs.peer_id);
		FUZZ_CHECK(memcmp(out, data, BT_HS_LEN) == 0);
	} else if (eq_nocase(data + 1, BT_PSTR, BT_PSTR_LEN)) {
		FUZZ_CHECK(hs.problems == (BT_HS_BAD_PSTR | BT_HS_PSTR_CASE));
	} else {
		FUZZ_CHECK(hs.problems == BT_HS_BAD_PSTR);
	}
	check_reserved(hs.reserved);
	return 0;
}
