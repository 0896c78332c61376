/* sniff.c — what a stream's bytes are.  See sniff.h. */
#include "sniff.h"

#include <string.h>

#include "wire.h"

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Does p[0..n) equal s[0..n) ignoring ASCII case? */
static bool ci_eq(const uint8_t *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != lower((uint8_t)s[i]))
			return false;
	return true;
}

int bt_sniff_peer(const uint8_t *p, size_t n, bool final)
{
	size_t k, i;

	if (n == 0)
		return final ? 0 : BT_NEED_MORE;
	/* The right length byte and the string in any case. */
	if (p[0] == BT_PSTR_LEN) {
		k = n - 1 < BT_PSTR_LEN ? n - 1 : BT_PSTR_LEN;
		if (ci_eq(p + 1, BT_PSTR, k)) {
			if (k == BT_PSTR_LEN)
				return 1;
			if (!final)
				return BT_NEED_MORE;
			/* A handshake cut short: still the peer wire. */
			return k >= 4 ? 1 : 0;
		}
	}
	/* The string a little further in: a wrong length byte, the length
	 * after the string, a stray prefix. */
	for (i = 0; i <= BT_SNIFF_PSTR_SEARCH && i < n; i++) {
		k = n - i < BT_PSTR_LEN ? n - i : BT_PSTR_LEN;
		if (ci_eq(p + i, BT_PSTR, k)) {
			if (k == BT_PSTR_LEN)
				return 1;
			if (!final)
				return BT_NEED_MORE;
		}
	}
	if (n < BT_SNIFF_PSTR_SEARCH + BT_PSTR_LEN && !final)
		return BT_NEED_MORE;
	return 0;
}

int bt_sniff_msg(const uint8_t *p, size_t n, uint32_t max_len, size_t *size)
{
	uint32_t len, a, b, c;
	size_t need = 5;
	bool ok;

	if (!max_len)
		max_len = BT_FRAMER_DEFAULT_MAX;
	if (n < 4)
		return BT_NEED_MORE;
	len = bt_load_u32be(p);
	*size = 4 + (size_t)len;
	if (len == 0)
		return 2;
	if (len > max_len)
		return 0;
	if (n < 5)
		return BT_NEED_MORE;
	switch (p[4]) {
	case 4: case 13: case 17:
	case 6: case 8: case 16:
		need = p[4] == 6 || p[4] == 8 || p[4] == 16 ? 17 : 9;
		break;
	case 7:
		need = 13;
		break;
	case 20:
		need = 7;
		break;
	}
	if (n < need && (size_t)len + 4 >= need)
		return BT_NEED_MORE;
	switch (p[4]) {
	case 0: case 1: case 2: case 3: case 14: case 15:
		ok = len == 1;
		break;
	case 4: case 13: case 17:
		ok = len == 5 && bt_load_u32be(p + 5) < (1u << 24);
		break;
	case 5:
		ok = len >= 2 && len - 1 <= (1u << 21);
		break;
	case 6: case 8: case 16:
		if (len != 13)
			return 0;
		a = bt_load_u32be(p + 5);
		b = bt_load_u32be(p + 9);
		c = bt_load_u32be(p + 13);
		ok = a < (1u << 24) && b < (1u << 27) && c >= 1 && c <= (1u << 17);
		break;
	case 7:
		if (len < 10)
			return 0;
		ok = bt_load_u32be(p + 5) < (1u << 24) &&
		     bt_load_u32be(p + 9) < (1u << 27);
		break;
	case 9:
		ok = len == 3;
		break;
	case 20:
		ok = len >= 2 && (p[5] != 0 || (len >= 3 && p[6] == 'd'));
		break;
	case 21: case 23:
		ok = len == 49;
		break;
	case 22:
		ok = len >= 49 && (len - 49) % 32 == 0;
		break;
	default:
		ok = false;
	}
	return ok ? 1 : 0;
}

/* A run of messages from s: 1 plausible, 0 not, BT_NEED_MORE undecided. */
static int chain_at(const uint8_t *p, size_t n, size_t s, unsigned min,
		    uint32_t max_len, bool final)
{
	unsigned good = 0, ka = 0;
	uint64_t covered = 0;
	size_t at = s, sz = 0;
	int r;

	for (;;) {
		if (at == n) {
			if (final)
				return good >= 1 ? 1 : 0;
			return BT_NEED_MORE;
		}
		r = bt_sniff_msg(p + at, n - at, max_len, &sz);
		if (r == 0)
			return 0;
		if (r == BT_NEED_MORE)
			return final ? 0 : BT_NEED_MORE;
		if (r == 2) {
			if (++ka > 4)
				return 0;
			at += 4;
			continue;
		}
		good++;
		covered += sz;
		if (good >= min || (good >= 2 && covered >= 32768))
			return 1;
		if (n - at < sz)
			return final ? 0 : BT_NEED_MORE;
		at += sz;
	}
}

long bt_sniff_boundary(const uint8_t *p, size_t n, size_t from, unsigned min,
		       uint32_t max_len, bool final, size_t *undecided)
{
	size_t s;
	int r;

	if (!min)
		min = 3;
	if (!max_len)
		max_len = BT_FRAMER_DEFAULT_MAX;
	for (s = from; s < n; s++) {
		/* Fast reject: a length prefix over the cap. */
		if (n - s >= 4 && p[s] != 0 && ((uint32_t)p[s] << 24) > max_len)
			continue;
		r = chain_at(p, n, s, min, max_len, final);
		if (r == 1)
			return (long)s;
		if (r == BT_NEED_MORE) {
			if (undecided)
				*undecided = s;
			return BT_NEED_MORE;
		}
	}
	return BT_EINVAL;
}

long bt_sniff_handshake(const uint8_t *p, size_t n, size_t from)
{
	static const uint8_t hs[20] = "\x13" BT_PSTR;
	const uint8_t *q;

	if (from >= n)
		return -1;
	q = memmem(p + from, n - from, hs, sizeof hs);
	return q ? (long)(q - p) : -1;
}

/* A DH public key is uniform over [2, P-2]: about 80 distinct values in
 * 96 random bytes, a third of them printable.  Text, zero padding and
 * length-prefixed messages fail one test or the other. */
bool bt_sniff_dh_key(const uint8_t *p, size_t n)
{
	uint8_t seen[256] = { 0 };
	size_t distinct = 0, printable = 0, i;

	for (i = 0; i < n; i++) {
		if (!seen[p[i]]++)
			distinct++;
		if ((p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\r' || p[i] == '\n')
			printable++;
	}
	return distinct >= n / 2 && printable < n * 9 / 10;
}

int bt_sniff_http(const uint8_t *p, size_t n)
{
	static const char *const m[] = { "GET ", "POST ", "HEAD ", "HTTP/1.", NULL };
	bool more = false;

	for (size_t i = 0; m[i]; i++) {
		size_t l = strlen(m[i]), k = n < l ? n : l;

		if (memcmp(p, m[i], k) != 0)
			continue;
		if (k == l)
			return i == 3 ? BT_SNIFF_HTTP_RESP : BT_SNIFF_HTTP_REQ;
		more = true;
	}
	return more ? BT_NEED_MORE : 0;
}

bool bt_sniff_tls(const uint8_t *p, size_t n)
{
	return n >= 3 && p[0] == 0x16 && p[1] == 0x03 && p[2] <= 0x04;
}
