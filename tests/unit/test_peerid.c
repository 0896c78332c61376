/* test_peerid.c — client names from peer ids (BEP 20), our own peer id. */
#include "peerid.h"
#include "t.h"

/* A 20-byte id: the first n bytes of head, then filler that matches no
 * style ("abcdefghijklmnopqrst" at the same positions), flush against an
 * unreadable page. */
static const uint8_t *mkid(const char *head, size_t n)
{
	static const char fill[] = "abcdefghijklmnopqrst";
	uint8_t id[BT_PEERID_LEN];

	memcpy(id, fill, BT_PEERID_LEN);
	memcpy(id, head, n);
	return t_guarded(id, BT_PEERID_LEN);
}

static char name_buf[BT_PEERID_STRLEN];

#define CLIENT(lit) bt_peerid_client(mkid(lit, sizeof(lit) - 1), name_buf, sizeof(name_buf))

static void test_azureus_transmission(void)
{
	T_EQ_STR(CLIENT("-TR3000-"), "Transmission 3.00");
	T_EQ_STR(CLIENT("-TR2940-"), "Transmission 2.94");
	T_EQ_STR(CLIENT("-TR133Z-"), "Transmission 1.33+");
	T_EQ_STR(CLIENT("-TR220X-"), "Transmission 2.20 beta");
	T_EQ_STR(CLIENT("-TR0072-"), "Transmission 0.72");
	T_EQ_STR(CLIENT("-TR0006-"), "Transmission 0.6");
	T_EQ_STR(CLIENT("-TR4050-"), "Transmission 4.0.5");
	T_EQ_STR(CLIENT("-TR410Z-"), "Transmission 4.1.0+");
	T_EQ_STR(CLIENT("-TR400B-"), "Transmission 4.0.0 beta");
	T_EQ_STR(CLIENT("-TR300Q-"), "Transmission 3.00 (Q)");
}

static void test_azureus_libtorrent_family(void)
{
	T_EQ_STR(CLIENT("-LT2080-"), "libtorrent (Rasterbar) 2.0.8.0");
	T_EQ_STR(CLIENT("-LT1290-"), "libtorrent (Rasterbar) 1.2.9.0");
	T_EQ_STR(CLIENT("-lt0D60-"), "libtorrent (rakshasa) 0.13.6");
	T_EQ_STR(CLIENT("-lt0E11-"), "libtorrent (rakshasa) 0.14.1.1");
	T_EQ_STR(CLIENT("-qB4500-"), "qBittorrent 4.5.0.0");
	T_EQ_STR(CLIENT("-qB46A0-"), "qBittorrent 4.6.10.0");
	T_EQ_STR(CLIENT("-DE13F0-"), "Deluge 1.3.15.0");
	T_EQ_STR(CLIENT("-DE2110-"), "Deluge 2.1.1.0");
	T_EQ_STR(CLIENT("-BI3600-"), "BiglyBT 3.6.0.0");
	T_EQ_STR(CLIENT("-KT4130-"), "KTorrent 4.1.3.0");
	T_EQ_STR(CLIENT("-AZ5770-"), "Vuze (Azureus) 5.7.7.0");
	T_EQ_STR(CLIENT("-AZ2060-"), "Vuze (Azureus) 2.0.6.0"); /* BEP 20 */
	T_EQ_STR(CLIENT("-BK0100-"), "btkit 0.1.0.0");
	T_EQ_STR(CLIENT("-A~0100-"), "Ares 0.1.0.0");
}

static void test_azureus_utorrent_bitcomet(void)
{
	T_EQ_STR(CLIENT("-UT3550-"), "\xc2\xb5Torrent 3.5.5");
	T_EQ_STR(CLIENT("-UT355B-"), "\xc2\xb5Torrent 3.5.5 (B)");
	T_EQ_STR(CLIENT("-UM1870-"), "\xc2\xb5Torrent Mac 1.8.7");
	T_EQ_STR(CLIENT("-UW1000-"), "\xc2\xb5Torrent Web 1.0.0");
	T_EQ_STR(CLIENT("-BT7A50-"), "BitTorrent 7.10.5");
	T_EQ_STR(CLIENT("-BC0059-"), "BitComet 0.59");
	T_EQ_STR(CLIENT("-BC0150-"), "BitComet 1.50");
	T_EQ_STR(CLIENT("-BC0A00-"), "BitComet 0.10.0.0");
}

static void test_azureus_unknown_code(void)
{
	T_EQ_STR(CLIENT("-ZZ1234-"), "ZZ 1.2.3.4");
	T_EQ_STR(CLIENT("-BD0300-"), "BD 0.3.0.0"); /* BEP 20: seen, unnamed */
	/* A code is printed escaped: a backslash doubles. */
	T_EQ_STR(CLIENT("-Z\\1234-"), "Z\\\\ 1.2.3.4");
	/* Near misses fall through to "unknown". */
	T_EQ_STR(CLIENT("-TR30a0-"), "unknown (-TR30a0-ijklmnopqrst)");
	T_EQ_STR(CLIENT("-TR3000x"), "unknown (-TR3000xijklmnopqrst)");
	T_EQ_STR(CLIENT("- R3000-"), "unknown (- R3000-ijklmnopqrst)");
	T_EQ_STR(CLIENT("--R3000-"), "unknown (--R3000-ijklmnopqrst)");
	T_EQ_STR(CLIENT("-T\x01" "3000-"), "unknown (-T\\x013000-ijklmnopqrst)");
}

static void test_aria2_mainline(void)
{
	T_EQ_STR(CLIENT("A2-1-36-0-"), "aria2 1.36.0");
	T_EQ_STR(CLIENT("A2-1-9-3-"), "aria2 1.9.3");
	T_EQ_STR(CLIENT("A2-1-36-x-"), "unknown (A2-1-36-x-klmnopqrst)");
	T_EQ_STR(CLIENT("A2-1234-0-0-"), "unknown (A2-1234-0-0-mnopqrst)");
	T_EQ_STR(CLIENT("M7-4-3--"), "Mainline 7.4.3");
	T_EQ_STR(CLIENT("M4-3-6--"), "Mainline 4.3.6");   /* BEP 20 */
	T_EQ_STR(CLIENT("M4-20-8-"), "Mainline 4.20.8");  /* BEP 20 */
	T_EQ_STR(CLIENT("Q1-10-0-"), "Queen Bee 1.10.0"); /* BEP 20 */
	T_EQ_STR(CLIENT("Q1-0-0--"), "Queen Bee 1.0.0");
	T_EQ_STR(CLIENT("M4-3-6-x"), "unknown (M4-3-6-xijklmnopqrst)");
	T_EQ_STR(CLIENT("M4-3--"), "unknown (M4-3--ghijklmnopqrst)");
	T_EQ_STR(CLIENT("M-3-6---"), "unknown (M-3-6---ijklmnopqrst)");
}

static void test_shadow(void)
{
	T_EQ_STR(CLIENT("S58B-----"), "Shadow 5.8.11");    /* BEP 20 */
	T_EQ_STR(CLIENT("T03I-----"), "BitTornado 0.3.18");
	T_EQ_STR(CLIENT("A310-----"), "ABC 3.1.0");
	T_EQ_STR(CLIENT("R0z.12---"), "Tribler 0.61.62.1.2");
	T_EQ_STR(CLIENT("S5-8-----"), "unknown (S5-8-----jklmnopqrst)");
	T_EQ_STR(CLIENT("S--------"), "unknown (S--------jklmnopqrst)");
	T_EQ_STR(CLIENT("S58B----x"), "unknown (S58B----xjklmnopqrst)");
	T_EQ_STR(CLIENT("Z58B-----"), "unknown (Z58B-----jklmnopqrst)");
	T_EQ_STR(CLIENT("S5!B-----"), "unknown (S5!B-----jklmnopqrst)");
}

static void test_oddballs(void)
{
	T_EQ_STR(CLIENT("exbc\x00\x38"), "BitComet 0.56");
	T_EQ_STR(CLIENT("exbc\x01\x02LORD"), "BitLord 1.02");
	T_EQ_STR(CLIENT("XBT054d-"), "XBT Client 0.5.4 (debug)");
	T_EQ_STR(CLIENT("XBT063--"), "XBT Client 0.6.3");
	T_EQ_STR(CLIENT("XBT063x-"), "unknown (XBT063x-ijklmnopqrst)");
	T_EQ_STR(CLIENT("-ML2.7.2-"), "MLdonkey 2.7.2");
	T_EQ_STR(CLIENT("-ML-"), "unknown (-ML-efghijklmnopqrst)");
	T_EQ_STR(CLIENT("OP8201"), "Opera (build 8201)");
}

static void test_unknown_escaped(void)
{
	static const char evil[] =
		"\x1b" "[31mEVIL" "\x1b" "[0m" "\\" "\xff" "\x00" "\x01" "abc";
	uint8_t zero[BT_PEERID_LEN] = { 0 };
	char buf[BT_PEERID_STRLEN];
	size_t i;

	T_EQ_UINT(sizeof(evil) - 1, BT_PEERID_LEN);
	T_EQ_STR(CLIENT(evil), "unknown (\\x1b[31mEVIL\\x1b[0m\\\\\\xff\\x00\\x01abc)");
	bt_peerid_client(t_guarded(zero, sizeof(zero)), buf, sizeof(buf));
	T_EQ_UINT(strlen(buf), 9 + 20 * 4 + 1);
	T_EQ_INT(memcmp(buf, "unknown (\\x00\\x00", 17), 0);
	/* The longest possible text fits BT_PEERID_STRLEN. */
	memset(zero, 0xff, sizeof(zero));
	bt_peerid_client(t_guarded(zero, sizeof(zero)), buf, sizeof(buf));
	T_EQ_UINT(strlen(buf), 90);
	T_CHECK(strlen(buf) < BT_PEERID_STRLEN);
	for (i = 0; buf[i]; i++)
		T_CHECK(buf[i] >= 0x20 && buf[i] < 0x7f);
}

static void test_truncation(void)
{
	const uint8_t *tr = mkid("-TR3000-", 8), *ut = mkid("-UT3550-", 8);
	char buf[32];

	T_EQ_STR(bt_peerid_client(tr, buf, 10), "Transmiss");
	T_EQ_STR(bt_peerid_client(tr, buf, 18), "Transmission 3.00");
	T_EQ_STR(bt_peerid_client(tr, buf, 17), "Transmission 3.0");
	T_EQ_STR(bt_peerid_client(tr, buf, 1), "");
	buf[0] = 'x';
	T_CHECK(bt_peerid_client(tr, buf, 0) == buf);
	T_EQ_INT(buf[0], 'x');
	/* Never half a UTF-8 character. */
	T_EQ_STR(bt_peerid_client(ut, buf, 2), "");
	T_EQ_STR(bt_peerid_client(ut, buf, 3), "\xc2\xb5");
}

/* ---- generation --------------------------------------------------------- */

struct src {
	int calls;
	uint8_t next;
	const uint8_t *pattern; /* NULL: counting bytes from next */
	size_t plen;
	int fail_at;            /* call number that fails; 0: never */
};

static int src_fn(void *ctx, uint8_t *buf, size_t n)
{
	struct src *s = ctx;
	size_t i;

	s->calls++;
	if (s->fail_at && s->calls >= s->fail_at)
		return -1;
	for (i = 0; i < n; i++)
		buf[i] = s->pattern ? (i < s->plen ? s->pattern[i] : 0) : s->next++;
	return 0;
}

static void test_generate_deterministic(void)
{
	static const uint8_t pat[] = { 255, 248, 61, 62, 123, 247 };
	struct src s;
	uint8_t id[BT_PEERID_LEN];

	memset(&s, 0, sizeof(s));
	T_EQ_INT(bt_peerid_generate(id, src_fn, &s), BT_OK);
	T_EQ_MEM(id, sizeof(id), "-BK0100-0123456789AB", 20);
	T_EQ_INT(s.calls, 1);
	T_EQ_STR(bt_peerid_client(id, name_buf, sizeof(name_buf)), "btkit 0.1.0.0");

	/* 255 and 248 are rejected (>= 4 * 62); 61 'z', 62 '0', 123 'z',
	 * 247 'z', then zeros. */
	memset(&s, 0, sizeof(s));
	s.pattern = pat;
	s.plen = sizeof(pat);
	T_EQ_INT(bt_peerid_generate(id, src_fn, &s), BT_OK);
	T_EQ_MEM(id, sizeof(id), "-BK0100-z0zz00000000", 20);

	/* Bytes from 200 on: 200..247 accepted (48), so one call is enough;
	 * 200 % 62 = 14 'E'. */
	memset(&s, 0, sizeof(s));
	s.next = 200;
	T_EQ_INT(bt_peerid_generate(id, src_fn, &s), BT_OK);
	T_EQ_MEM(id, sizeof(id), "-BK0100-EFGHIJKLMNOP", 20);

	/* Bytes from 240: 8 accepted (240..247: 54..61, 's'..'z'), then
	 * 248..255 rejected and 0..3 (wrapping) complete it. */
	memset(&s, 0, sizeof(s));
	s.next = 240;
	T_EQ_INT(bt_peerid_generate(id, src_fn, &s), BT_OK);
	T_EQ_MEM(id, sizeof(id), "-BK0100-" "stuvwxyz" "0123", 20);
	T_EQ_INT(s.calls, 1);
}

static void test_generate_failures(void)
{
	static uint8_t all_ff[32];
	struct src s;
	uint8_t id[BT_PEERID_LEN], before[BT_PEERID_LEN];

	memset(id, 0xaa, sizeof(id));
	memcpy(before, id, sizeof(id));
	memset(&s, 0, sizeof(s));
	s.fail_at = 1;
	T_EQ_INT(bt_peerid_generate(id, src_fn, &s), BT_EUNSUPP);
	T_EQ_MEM(id, sizeof(id), before, sizeof(before));

	/* A source stuck on one rejected value: gives up, does not spin. */
	memset(all_ff, 0xff, sizeof(all_ff));
	memset(&s, 0, sizeof(s));
	s.pattern = all_ff;
	s.plen = sizeof(all_ff);
	T_EQ_INT(bt_peerid_generate(id, src_fn, &s), BT_EUNSUPP);
	T_EQ_INT(s.calls, 8);
	T_EQ_MEM(id, sizeof(id), before, sizeof(before));
}

static void test_generate_getrandom(void)
{
	uint8_t a[BT_PEERID_LEN], b[BT_PEERID_LEN];
	size_t i;

	T_EQ_INT(bt_peerid_generate(a, NULL, NULL), BT_OK);
	T_EQ_INT(bt_peerid_generate(b, NULL, NULL), BT_OK);
	T_EQ_MEM(a, 8, BT_PEERID_PREFIX, 8);
	for (i = 8; i < BT_PEERID_LEN; i++)
		T_CHECK((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'A' && a[i] <= 'Z') ||
			(a[i] >= 'a' && a[i] <= 'z'));
	/* 62^12 possibilities: equal ids mean the source is broken. */
	T_CHECK(memcmp(a, b, BT_PEERID_LEN) != 0);
	T_EQ_STR(bt_peerid_client(a, name_buf, sizeof(name_buf)), "btkit 0.1.0.0");
}

int main(void)
{
	T_RUN(test_azureus_transmission);
	T_RUN(test_azureus_libtorrent_family);
	T_RUN(test_azureus_utorrent_bitcomet);
	T_RUN(test_azureus_unknown_code);
	T_RUN(test_aria2_mainline);
	T_RUN(test_shadow);
	T_RUN(test_oddballs);
	T_RUN(test_unknown_escaped);
	T_RUN(test_truncation);
	T_RUN(test_generate_deterministic);
	T_RUN(test_generate_failures);
	T_RUN(test_generate_getrandom);
	return T_DONE();
}
