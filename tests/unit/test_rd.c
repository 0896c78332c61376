/* test_rd.c — the bounds-checked reader and writer of rd.h.
 *
 * Inputs sit flush against an unreadable page (t_guarded), so a read one
 * byte too far faults rather than passing by luck. */
#include "t.h"
#include "rd.h"

#define L(s) (s), (sizeof(s) - 1)

/* Each accessor succeeds with exactly enough bytes and fails with one
 * fewer, leaving the cursor and the output untouched. */
static void test_rd_exact(void)
{
	static const uint8_t src[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88 };
	struct bt_rd r;
	const uint8_t *g, *v;
	uint8_t u8, cp[8];
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	g = t_guarded(src, 1);
	bt_rd_init(&r, g, 1);
	T_CHECK(bt_rd_u8(&r, &u8));
	T_EQ_UINT(u8, 0x01);
	T_EQ_UINT(bt_rd_left(&r), 0);
	u8 = 0x77;
	T_CHECK(!bt_rd_u8(&r, &u8));
	T_EQ_UINT(u8, 0x77);
	T_CHECK(r.p == g + 1);

	g = t_guarded(src, 2);
	bt_rd_init(&r, g, 2);
	T_CHECK(bt_rd_u16be(&r, &u16));
	T_EQ_UINT(u16, 0x0102);
	bt_rd_init(&r, g + 1, 1);
	u16 = 0x7777;
	T_CHECK(!bt_rd_u16be(&r, &u16));
	T_EQ_UINT(u16, 0x7777);
	T_CHECK(r.p == g + 1);

	g = t_guarded(src + 4, 4);
	bt_rd_init(&r, g, 4);
	T_CHECK(bt_rd_u32be(&r, &u32));
	T_EQ_UINT(u32, 0x05060788u);
	bt_rd_init(&r, g + 1, 3);
	u32 = 7;
	T_CHECK(!bt_rd_u32be(&r, &u32));
	T_EQ_UINT(u32, 7);
	T_EQ_UINT(bt_rd_left(&r), 3);

	g = t_guarded(src, 8);
	bt_rd_init(&r, g, 8);
	T_CHECK(bt_rd_u64be(&r, &u64));
	T_EQ_UINT(u64, 0x0102030405060788ull);
	T_EQ_UINT(bt_rd_left(&r), 0);
	bt_rd_init(&r, g + 1, 7);
	u64 = 7;
	T_CHECK(!bt_rd_u64be(&r, &u64));
	T_EQ_UINT(u64, 7);
	T_EQ_UINT(bt_rd_left(&r), 7);

	bt_rd_init(&r, g, 8);
	T_CHECK(bt_rd_view(&r, 8, &v));
	T_CHECK(v == g);
	T_EQ_UINT(bt_rd_left(&r), 0);
	bt_rd_init(&r, g, 8);
	v = NULL;
	T_CHECK(!bt_rd_view(&r, 9, &v));
	T_CHECK(v == NULL);
	T_CHECK(r.p == g);

	memset(cp, 0xee, sizeof(cp));
	bt_rd_init(&r, g + 5, 3);
	T_CHECK(!bt_rd_copy(&r, cp, 4));
	T_EQ_UINT(cp[0], 0xee);
	T_CHECK(bt_rd_copy(&r, cp, 3));
	T_EQ_MEM(cp, 3, "\x06\x07\x88", 3);
	T_EQ_UINT(cp[3], 0xee);

	bt_rd_init(&r, g + 5, 3);
	T_CHECK(!bt_rd_skip(&r, 4));
	T_CHECK(r.p == g + 5);
	T_CHECK(bt_rd_skip(&r, 3));
	T_CHECK(r.p == g + 8);
}

/* A record read field by field, then every read fails at the end. */
static void test_rd_sequence(void)
{
	static const char src[] = "\xfe" "\x12\x34" "\xde\xad\xbe\xef"
				  "\x00\x00\x00\x01\x00\x00\x00\x02" "abc" "..xy";
	struct bt_rd r;
	const uint8_t *g = t_guarded(L(src)), *v = NULL;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	char xy[2];

	bt_rd_init(&r, g, sizeof(src) - 1);
	T_EQ_UINT(bt_rd_left(&r), 22);
	T_CHECK(bt_rd_u8(&r, &u8));
	T_EQ_UINT(u8, 0xfe);
	T_CHECK(bt_rd_u16be(&r, &u16));
	T_EQ_UINT(u16, 0x1234);
	T_CHECK(bt_rd_u32be(&r, &u32));
	T_EQ_UINT(u32, 0xdeadbeefu);
	T_CHECK(bt_rd_u64be(&r, &u64));
	T_EQ_UINT(u64, 0x0000000100000002ull);
	T_CHECK(bt_rd_view(&r, 3, &v));
	T_EQ_MEM(v, 3, "abc", 3);
	T_CHECK(bt_rd_skip(&r, 2));
	T_CHECK(bt_rd_copy(&r, xy, 2));
	T_EQ_MEM(xy, 2, "xy", 2);
	T_EQ_UINT(bt_rd_left(&r), 0);

	T_CHECK(!bt_rd_u8(&r, &u8));
	T_CHECK(!bt_rd_u16be(&r, &u16));
	T_CHECK(!bt_rd_u32be(&r, &u32));
	T_CHECK(!bt_rd_u64be(&r, &u64));
	T_CHECK(!bt_rd_view(&r, 1, &v));
	T_CHECK(!bt_rd_skip(&r, 1));
	T_CHECK(!bt_rd_copy(&r, xy, 1));
	/* Zero-length operations at the end succeed and move nothing. */
	T_CHECK(bt_rd_view(&r, 0, &v));
	T_CHECK(v == g + 22);
	T_CHECK(bt_rd_skip(&r, 0));
	T_CHECK(bt_rd_copy(&r, NULL, 0));
	T_EQ_UINT(bt_rd_left(&r), 0);
}

/* Declared lengths near SIZE_MAX must not wrap p + n. */
static void test_rd_hostile_lengths(void)
{
	static const size_t ns[] = { SIZE_MAX, SIZE_MAX - 1, (size_t)1 << 63,
				     (size_t)UINT32_MAX, (size_t)UINT32_MAX + 1, 5 };
	const uint8_t *g = t_guarded("abcd", 4), *v = NULL;
	uint8_t sink[8];
	struct bt_rd r;
	size_t i;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		bt_rd_init(&r, g, 4);
		T_CHECK(!bt_rd_view(&r, ns[i], &v));
		T_CHECK(!bt_rd_skip(&r, ns[i]));
		T_CHECK(!bt_rd_copy(&r, sink, ns[i]));
		T_CHECK(r.p == g && v == NULL);
		T_EQ_UINT(bt_rd_left(&r), 4);
	}
	/* An empty input right at the guard page. */
	g = t_guarded("", 0);
	bt_rd_init(&r, g, 0);
	T_EQ_UINT(bt_rd_left(&r), 0);
	{
		uint8_t u8;
		T_CHECK(!bt_rd_u8(&r, &u8));
	}
}

static void test_load_store(void)
{
	uint8_t b[4];

	T_EQ_UINT(bt_load_u32be((const uint8_t *)"\x80\x01\x02\xff"), 0x800102ffu);
	T_EQ_UINT(bt_load_u16be((const uint8_t *)"\xff\x01"), 0xff01);
	bt_store_u32be(b, 0xa1b2c3d4u);
	T_EQ_MEM(b, 4, "\xa1\xb2\xc3\xd4", 4);
}

static void test_wr_exact(void)
{
	uint8_t buf[32];
	struct bt_wr w;

	memset(buf, '#', sizeof(buf));
	bt_wr_init(&w, buf, 17);
	bt_wr_u8(&w, 0x13);
	bt_wr_u16be(&w, 0xbeef);
	bt_wr_u32be(&w, 0x01020304u);
	bt_wr_u64be(&w, 0x1122334455667788ull);
	bt_wr_bytes(&w, "xy", 2);
	bt_wr_bytes(&w, NULL, 0);
	T_EQ_UINT(w.len, 17);
	T_CHECK(bt_wr_ok(&w));
	T_EQ_MEM(buf, 18, "\x13\xbe\xef\x01\x02\x03\x04\x11\x22\x33\x44\x55\x66\x77\x88xy#", 18);
}

/* Past the cap nothing is written, the count goes on, ok turns false
 * and stays false. */
static void test_wr_overflow(void)
{
	uint8_t buf[16];
	struct bt_wr w;

	memset(buf, '#', sizeof(buf));
	bt_wr_init(&w, buf, 5);
	bt_wr_u32be(&w, 0x61626364u);
	T_CHECK(bt_wr_ok(&w));
	bt_wr_u16be(&w, 0x6566);        /* needs 6: not written at all */
	T_EQ_UINT(w.len, 6);
	T_CHECK(!bt_wr_ok(&w));
	bt_wr_u8(&w, 'z');              /* would fit at 4, but the writer failed */
	T_EQ_UINT(w.len, 7);
	T_CHECK(!bt_wr_ok(&w));
	bt_wr_bytes(&w, "0123456789", 10);
	T_EQ_UINT(w.len, 17);
	T_EQ_MEM(buf, 6, "abcd##", 6);

	/* A call either fits whole or writes nothing. */
	memset(buf, '#', sizeof(buf));
	bt_wr_init(&w, buf, 3);
	bt_wr_bytes(&w, "abcd", 4);
	T_EQ_UINT(w.len, 4);
	T_EQ_MEM(buf, 4, "####", 4);

	/* Exactly full is fine. */
	bt_wr_init(&w, buf, 4);
	bt_wr_bytes(&w, "abcd", 4);
	T_CHECK(bt_wr_ok(&w));
	bt_wr_bytes(&w, "", 0);
	T_CHECK(bt_wr_ok(&w));
	bt_wr_u8(&w, 'e');
	T_CHECK(!bt_wr_ok(&w));
	T_EQ_UINT(buf[4], '#');

	/* Measuring: no buffer, only the count. */
	bt_wr_init(&w, NULL, 0);
	bt_wr_u64be(&w, 1);
	bt_wr_bytes(&w, "abc", 3);
	T_EQ_UINT(w.len, 11);
	T_CHECK(!bt_wr_ok(&w));
}

int main(void)
{
	T_RUN(test_rd_exact);
	T_RUN(test_rd_sequence);
	T_RUN(test_rd_hostile_lengths);
	T_RUN(test_load_store);
	T_RUN(test_wr_exact);
	T_RUN(test_wr_overflow);
	return T_DONE();
}
