/* Peer id -> client name (BEP 20, peerid.h) for any 20 bytes.
 *
 * Input: 20 id bytes (zero-padded when short), then one byte choosing a
 * short buffer size.  Properties: the text is NUL-terminated inside the
 * buffer, shorter than BT_PEERID_STRLEN, valid UTF-8 with no control
 * bytes (no terminal escapes from a hostile peer); an "unknown (...)" id
 * unescapes to exactly the 20 bytes; a short buffer gets a prefix of the
 * full text that never ends inside a UTF-8 sequence. */
#include "fuzz.h"
#include "peerid.h"

/* Valid UTF-8, no C0 controls, no DEL, no C1 controls. */
static void check_text(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k, len;
		uint32_t cp;

		FUZZ_CHECK(c >= 0x20 && c != 0x7f);
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			len = 2, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			len = 3, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			len = 4, cp = c & 0x07;
		else
			FUZZ_CHECK(!"bad UTF-8 lead byte");
		FUZZ_CHECK(n - i >= len);
		for (k = 1; k < len; k++) {
			FUZZ_CHECK((s[i + k] & 0xc0) == 0x80);
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		FUZZ_CHECK(cp >= 0xa0);          /* not C1, not overlong ASCII */
		i += len;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "unknown (<escaped>)": the escape is reversible. */
static void check_unknown(const char *t, const uint8_t id[20])
{
	size_t n = strlen(t), i, o = 0;
	uint8_t back[20];

	FUZZ_CHECK(n >= 10 && t[n - 1] == ')');
	for (i = 9; i < n - 1; ) {
		FUZZ_CHECK(o < 20);
		if (t[i] == '\\') {
			FUZZ_CHECK(i + 1 < n - 1);
			if (t[i + 1] == '\\') {
				back[o++] = '\\';
				i += 2;
				continue;
			}
			FUZZ_CHECK(t[i + 1] == 'x' && i + 3 < n);
			FUZZ_CHECK(hexval(t[i + 2]) >= 0 && hexval(t[i + 3]) >= 0);
			back[o++] = (uint8_t)(hexval(t[i + 2]) << 4 | hexval(t[i + 3]));
			/* Escaped only when it had to be. */
			FUZZ_CHECK(back[o - 1] < 0x20 || back[o - 1] >= 0x7f);
			i += 4;
		} else {
			back[o++] = (uint8_t)t[i++];
		}
	}
	FUZZ_CHECK(o == 20 && memcmp(back, id, 20) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t id[BT_PEERID_LEN] = { 0 };
	char full[BT_PEERID_STRLEN + 8], small[BT_PEERID_STRLEN];
	size_t n, cap, k;
	const char *r;

	memcpy(id, data, size < 20 ? size : 20);
	cap = size > 20 ? data[20] % BT_PEERID_STRLEN : 7;

	memset(full, 'X', sizeof full);
	r = bt_peerid_client(id, full, BT_PEERID_STRLEN);
	FUZZ_CHECK(r == full);
	FUZZ_CHECK(memchr(full, '\0', BT_PEERID_STRLEN) != NULL);
	n = strlen(full);
	FUZZ_CHECK(n > 0 && n < BT_PEERID_STRLEN);
	check_text((const uint8_t *)full, n);
	if (strncmp(full, "unknown (", 9) == 0)
		check_unknown(full, id);

	memset(small, 'X', sizeof small);
	r = bt_peerid_client(id, small, cap);
	FUZZ_CHECK(r == small);
	if (cap == 0) {
		FUZZ_CHECK(small[0] == 'X');
		return 0;
	}
	FUZZ_CHECK(memchr(small, '\0', cap) != NULL);
	k = strlen(small);
	FUZZ_CHECK(memcmp(small, full, k) == 0);
	check_text((const uint8_t *)small, k);
	if (cap > n)
		FUZZ_CHECK(k == n);
	else   /* cut: as much as fits, minus at most a partial UTF-8 char */
		FUZZ_CHECK(k <= cap - 1 && k + 3 >= cap - 1);
	return 0;
}
