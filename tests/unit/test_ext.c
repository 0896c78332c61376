/* test_ext.c — BEP 10 extended handshake, ut_metadata, ut_pex, addr.h. */
#include "ext.h"
#include "t.h"

/* A string literal as (bytes, length), embedded NULs included.  Careful
 * with "\x01" "e": a hex escape swallows every hex digit that follows. */
#define S(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)
/* Bytes written == a string literal (embedded NULs included). */
#define T_EQ_LIT(a, alen, lit) T_EQ_MEM(a, alen, lit, sizeof(lit) - 1)

static bool view_is(struct bt_ext_view v, const char *s)
{
	size_t n = strlen(s);
	return v.p && v.len == n && memcmp(v.p, s, n) == 0;
}

static const char *fmt(const struct bt_peer_addr *a)
{
	static char buf[8][BT_ADDR_STRLEN];
	static int k;
	k = (k + 1) % 8;
	return bt_addr_fmt(a, buf[k], sizeof(buf[k]));
}

static int hs(struct bt_ext_hs *h, const uint8_t *p, size_t n, struct bt_be_err *e)
{
	return bt_ext_hs_parse(h, t_guarded(p, n), n, e);
}

static int pex(struct bt_pex *x, const uint8_t *p, size_t n)
{
	return bt_pex_parse(x, t_guarded(p, n), n, NULL);
}

/* ---- addr.h ------------------------------------------------------------- */

static struct bt_peer_addr v6(const char *hex16, uint16_t port)
{
	struct bt_peer_addr a;
	int i;
	memset(&a, 0, sizeof(a));
	a.family = 6;
	a.port = port;
	for (i = 0; i < 16; i++) {
		unsigned b;
		sscanf(hex16 + 2 * i, "%2x", &b);
		a.ip[i] = (uint8_t)b;
	}
	return a;
}

static void test_addr_fmt_v4_v6(void)
{
	struct bt_peer_addr a;
	char buf[BT_ADDR_STRLEN];

	memset(&a, 0, sizeof(a));
	a.family = 4;
	memcpy(a.ip, "\x01\x02\x03\x04", 4);
	a.port = 6881;
	T_EQ_STR(bt_addr_fmt(&a, buf, sizeof(buf)), "1.2.3.4:6881");
	T_EQ_STR(bt_addr_ip_fmt(&a, buf, sizeof(buf)), "1.2.3.4");
	memcpy(a.ip, "\xff\xff\xff\xff", 4);
	a.port = 65535;
	T_EQ_STR(bt_addr_fmt(&a, buf, sizeof(buf)), "255.255.255.255:65535");

	a = v6("00000000000000000000000000000001", 6881);
	T_EQ_STR(fmt(&a), "[::1]:6881");
	T_EQ_STR(bt_addr_ip_fmt(&a, buf, sizeof(buf)), "::1");
	a = v6("00000000000000000000000000000000", 0);
	T_EQ_STR(fmt(&a), "[::]:0");
	a = v6("20010db8000000000000000000000001", 51413);
	T_EQ_STR(fmt(&a), "[2001:db8::1]:51413");
	a = v6("00010000000000000000000000000000", 1);
	T_EQ_STR(fmt(&a), "[1::]:1");
	/* One zero group is not compressed (RFC 5952 4.2.2). */
	a = v6("20010db8000000010001000100010001", 1);
	T_EQ_STR(fmt(&a), "[2001:db8:0:1:1:1:1:1]:1");
	/* Longest run wins; on a tie the first. */
	a = v6("20010000000000010000000000010001", 2);
	T_EQ_STR(fmt(&a), "[2001::1:0:0:1:1]:2");
	a = v6("20010db8000000000001000000000001", 2);
	T_EQ_STR(fmt(&a), "[2001:db8::1:0:0:1]:2");
	a = v6("20010db8000000010000000000000001", 2);
	T_EQ_STR(fmt(&a), "[2001:db8:0:1::1]:2");
	a = v6("00000000000000000000ffff01020304", 80);
	T_EQ_STR(fmt(&a), "[::ffff:1.2.3.4]:80");
	a = v6("fe80abcdffffffff0123456789abcdef", 65535);
	T_EQ_STR(fmt(&a), "[fe80:abcd:ffff:ffff:123:4567:89ab:cdef]:65535");
	a = v6("ffffffffffffffffffffffffffffffff", 65535);
	T_EQ_STR(fmt(&a), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	T_EQ_UINT(strlen(fmt(&a)) + 1, BT_ADDR_STRLEN);

	a.family = 5;
	T_EQ_STR(fmt(&a), "?");
}

static void test_addr_fmt_short_buffer(void)
{
	struct bt_peer_addr a;
	char buf[16];

	memset(&a, 0, sizeof(a));
	a.family = 4;
	memcpy(a.ip, "\x0a\x00\x00\x01", 4);
	a.port = 80;
	/* "10.0.0.1:80" is 11 chars: 12 bytes fit, 11 do not. */
	T_EQ_STR(bt_addr_fmt(&a, buf, 12), "10.0.0.1:80");
	memset(buf, 'x', sizeof(buf));
	T_EQ_STR(bt_addr_fmt(&a, buf, 11), "");
	buf[0] = 'x';
	bt_addr_fmt(&a, buf, 0);
	T_EQ_INT(buf[0], 'x');
}

static void test_addr_compact_round_trip(void)
{
	const uint8_t c4[] = { 192, 168, 1, 2, 0x1a, 0xe1 };
	const uint8_t c6[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
			       0, 0, 0, 0x42, 0xc8, 0xd5 };
	struct bt_peer_addr a;
	uint8_t out[32];
	struct bt_wr w;

	bt_addr_load4(&a, t_guarded(c4, sizeof(c4)));
	T_EQ_INT(a.family, 4);
	T_EQ_UINT(a.port, 6881);
	T_EQ_INT(a.flags, 0);
	T_EQ_STR(fmt(&a), "192.168.1.2:6881");
	bt_wr_init(&w, out, sizeof(out));
	T_EQ_INT(bt_addr_put(&w, &a), BT_OK);
	T_EQ_MEM(out, w.len, c4, sizeof(c4));

	bt_addr_load6(&a, t_guarded(c6, sizeof(c6)));
	T_EQ_INT(a.family, 6);
	T_EQ_STR(fmt(&a), "[2001:db8::42]:51413");
	bt_wr_init(&w, out, sizeof(out));
	T_EQ_INT(bt_addr_put(&w, &a), BT_OK);
	T_EQ_MEM(out, w.len, c6, sizeof(c6));

	a.family = 0;
	bt_wr_init(&w, out, sizeof(out));
	T_EQ_INT(bt_addr_put(&w, &a), BT_EINVAL);
	T_EQ_UINT(w.len, 0);
}

/* ---- extended handshake -------------------------------------------------- */

/* The shape libtorrent 2.0 sends (m ids are its constants). */
static const char lt_short[] =
	"d1:md11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei1234e1:pi6881e"
	"4:reqqi500e1:v18:libtorrent/2.0.8.06:yourip4:\x7f\x00\x00\x01" "e";

static void test_hs_libtorrent(void)
{
	struct bt_ext_hs h;
	struct bt_be_err e;

	T_EQ_INT(hs(&h, S(lt_short), &e), BT_OK);
	T_EQ_INT(e.code, BT_OK);
	T_EQ_UINT(h.problems, 0);
	T_EQ_UINT(h.have, BT_EXT_HAVE_M | BT_EXT_HAVE_METADATA_SIZE | BT_EXT_HAVE_P |
		  BT_EXT_HAVE_REQQ | BT_EXT_HAVE_V | BT_EXT_HAVE_YOURIP);
	T_EQ_UINT(h.nm, 2);
	T_EQ_UINT(h.m_total, 2);
	T_CHECK(view_is(h.m[0].name, "ut_metadata"));
	T_EQ_INT(h.m[0].id, 2);
	T_CHECK(h.m[0].valid);
	T_CHECK(view_is(h.m[1].name, "ut_pex"));
	T_EQ_INT(h.m[1].id, 1);
	T_EQ_INT(bt_ext_hs_id(&h, "ut_metadata"), 2);
	T_EQ_INT(bt_ext_hs_id(&h, "ut_pex"), 1);
	T_EQ_INT(bt_ext_hs_id(&h, "ut_pe"), 0);
	T_EQ_INT(bt_ext_hs_id(&h, "lt_donthave"), 0);
	T_EQ_INT(h.metadata_size, 1234);
	T_EQ_INT(h.p, 6881);
	T_EQ_INT(h.reqq, 500);
	T_CHECK(view_is(h.v, "libtorrent/2.0.8.0"));
	T_EQ_INT(h.yourip.family, 4);
	T_EQ_STR(bt_addr_ip_fmt(&h.yourip, (char[BT_ADDR_STRLEN]){ 0 }, BT_ADDR_STRLEN),
		 "127.0.0.1");
	T_EQ_UINT(h.unknown, 0);
}

static void test_hs_libtorrent_full(void)
{
	/* Everything libtorrent 2.0 puts in a handshake, including the
	 * complete_ago -1 it sends for "never seen a seed". */
	static const char in[] =
		"d12:complete_agoi-1e"
		"1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e"
		"12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee"
		"13:metadata_sizei31235e4:reqqi500e11:upload_onlyi1e"
		"1:v18:libtorrent/2.0.8.0"
		"6:yourip16:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07" "e";
	struct bt_ext_hs h;

	T_EQ_INT(hs(&h, S(in), NULL), BT_OK);
	T_EQ_UINT(h.problems, 0);
	T_EQ_UINT(h.nm, 6);
	T_EQ_INT(bt_ext_hs_id(&h, "lt_donthave"), 7);
	T_EQ_INT(bt_ext_hs_id(&h, "share_mode"), 8);
	T_EQ_INT(bt_ext_hs_id(&h, "upload_only"), 3);
	T_EQ_INT(bt_ext_hs_id(&h, "ut_holepunch"), 4);
	T_EQ_INT(bt_ext_hs_id(&h, "ut_metadata"), 2);
	T_EQ_INT(bt_ext_hs_id(&h, "ut_pex"), 1);
	T_CHECK(h.have & BT_EXT_HAVE_COMPLETE_AGO);
	T_EQ_INT(h.complete_ago, -1);
	T_CHECK(h.have & BT_EXT_HAVE_UPLOAD_ONLY);
	T_EQ_INT(h.upload_only, 1);
	T_EQ_INT(h.metadata_size, 31235);
	T_CHECK(!(h.have & BT_EXT_HAVE_P));
	T_EQ_INT(h.yourip.family, 6);
	T_EQ_STR(bt_addr_ip_fmt(&h.yourip, (char[BT_ADDR_STRLEN]){ 0 }, BT_ADDR_STRLEN),
		 "2001:db8::7");
}

static void test_hs_transmission_shape(void)
{
	/* Transmission-style: e, ipv4, ipv6, m, p, reqq, v; plus keys this
	 * parser does not know, which only count. */
	static const char in[] =
		"d1:ei1e4:ipv44:\xc0\xa8\x01\x02"
		"4:ipv616:\xfe\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
		"1:md6:ut_pexi1e11:ut_metadatai3ee"
		"1:pi51413e4:reqqi512e"
		"11:unknown_keyl1:xe"
		"1:v17:Transmission 3.00e";
	struct bt_ext_hs h;
	struct bt_be_err e;

	T_EQ_INT(hs(&h, S(in), &e), BT_OK);
	/* m's keys are not sorted (ut_pex before ut_metadata): tolerated. */
	T_EQ_UINT(h.problems, BT_EXT_P_NONCANON);
	T_EQ_UINT(e.tolerated, BT_BE_TOL_UNSORTED);
	T_EQ_INT(h.e, 1);
	T_EQ_INT(h.ipv4.family, 4);
	T_EQ_STR(bt_addr_ip_fmt(&h.ipv4, (char[BT_ADDR_STRLEN]){ 0 }, BT_ADDR_STRLEN),
		 "192.168.1.2");
	T_EQ_INT(h.ipv6.family, 6);
	T_EQ_STR(bt_addr_ip_fmt(&h.ipv6, (char[BT_ADDR_STRLEN]){ 0 }, BT_ADDR_STRLEN),
		 "fe80::1");
	T_EQ_INT(bt_ext_hs_id(&h, "ut_metadata"), 3);
	T_EQ_INT(bt_ext_hs_id(&h, "ut_pex"), 1);
	T_EQ_INT(h.p, 51413);
	T_EQ_INT(h.reqq, 512);
	T_CHECK(view_is(h.v, "Transmission 3.00"));
	T_EQ_UINT(h.unknown, 1);
	T_CHECK(!(h.have & BT_EXT_HAVE_YOURIP));
	T_CHECK(!(h.have & BT_EXT_HAVE_METADATA_SIZE));
}

static void test_hs_bep10_example(void)
{
	/* BEP 10 prints its example with "6:µT_PEX", but "µ" is two bytes
	 * in UTF-8: as printed, the key is "µT_PE" and 'X' starts no value. */
	static const char printed[] =
		"d1:md11:LT_metadatai1e6:\xc2\xb5T_PEXi2ee1:pi6881e1:v13:\xc2\xb5Torrent 1.2e";
	static const char fixed[] =
		"d1:md11:LT_metadatai1e7:\xc2\xb5T_PEXi2ee1:pi6881e1:v13:\xc2\xb5Torrent 1.2e";
	struct bt_ext_hs h;
	struct bt_be_err e;

	T_EQ_INT(hs(&h, S(printed), &e), BT_EINVAL);
	T_EQ_UINT(e.off, 30); /* the 'X' */
	T_EQ_UINT(h.have, 0);

	T_EQ_INT(hs(&h, S(fixed), &e), BT_OK);
	T_EQ_UINT(h.problems, 0);
	T_EQ_INT(bt_ext_hs_id(&h, "LT_metadata"), 1);
	T_EQ_INT(bt_ext_hs_id(&h, "\xc2\xb5T_PEX"), 2);
	T_EQ_INT(bt_ext_hs_id(&h, "ut_pex"), 0);
	T_EQ_INT(h.p, 6881);
	T_CHECK(view_is(h.v, "\xc2\xb5Torrent 1.2"));
}

static void test_hs_empty_and_disable(void)
{
	struct bt_ext_hs h;

	T_EQ_INT(hs(&h, S("de"), NULL), BT_OK);
	T_EQ_UINT(h.have, 0);
	T_EQ_UINT(h.problems, 0);
	/* BEP 10: "d11:LT_metadatai0ee" is not a valid way to disable (no m),
	 * but the disabling update with m is: id 0. */
	T_EQ_INT(hs(&h, S("d1:md11:LT_metadatai0eee"), NULL), BT_OK);
	T_EQ_UINT(h.problems, 0);
	T_EQ_UINT(h.nm, 1);
	T_CHECK(h.m[0].valid);
	T_EQ_INT(h.m[0].id, 0);
	T_EQ_INT(bt_ext_hs_id(&h, "LT_metadata"), 0);
	/* As the spec literally prints it: an unknown top-level key. */
	T_EQ_INT(hs(&h, S("d11:LT_metadatai0ee"), NULL), BT_OK);
	T_EQ_UINT(h.have, 0);
	T_EQ_UINT(h.unknown, 1);
}

static void test_hs_ill_typed_fields(void)
{
	/* Every known key, each wrong (sorted, so nothing else is flagged). */
	static const char in[] =
		"d12:complete_agoi-2e1:ei2e4:ipv416:0123456789abcdef4:ipv64:abcd"
		"1:mli1ee13:metadata_sizei0e1:pi70000e4:reqqi-1e"
		"11:upload_onlyi2e1:vi3e6:yourip5:abcdee";
	struct bt_ext_hs h;

	T_EQ_INT(hs(&h, S(in), NULL), BT_OK);
	T_EQ_UINT(h.problems, BT_EXT_P_COMPLETE_AGO | BT_EXT_P_E | BT_EXT_P_IPV4 |
		  BT_EXT_P_IPV6 | BT_EXT_P_M_TYPE | BT_EXT_P_METADATA_SIZE |
		  BT_EXT_P_P | BT_EXT_P_REQQ | BT_EXT_P_UPLOAD_ONLY | BT_EXT_P_V |
		  BT_EXT_P_YOURIP);
	/* Integers out of range keep their value; wrong types do not. */
	T_EQ_UINT(h.have, BT_EXT_HAVE_COMPLETE_AGO | BT_EXT_HAVE_E |
		  BT_EXT_HAVE_METADATA_SIZE | BT_EXT_HAVE_P | BT_EXT_HAVE_REQQ |
		  BT_EXT_HAVE_UPLOAD_ONLY);
	T_EQ_INT(h.complete_ago, -2);
	T_EQ_INT(h.e, 2);
	T_EQ_INT(h.p, 70000);
	T_EQ_INT(h.reqq, -1);
	T_EQ_INT(h.metadata_size, 0);
	T_EQ_INT(h.upload_only, 2);
	T_EQ_UINT(h.nm, 0);
	T_CHECK(h.v.p == NULL);

	/* The other wrong types. */
	T_EQ_INT(hs(&h, S("d1:p4:68814:reqq3:5006:yourip4:\x7f\x00\x00\x01" "e"), NULL), BT_OK);
	T_EQ_UINT(h.problems, BT_EXT_P_P | BT_EXT_P_REQQ);
	T_EQ_UINT(h.have, BT_EXT_HAVE_YOURIP);
	T_EQ_INT(hs(&h, S("d13:metadata_sizei67108865e1:pi0e4:reqqi0ee"), NULL), BT_OK);
	T_EQ_UINT(h.problems, BT_EXT_P_P | BT_EXT_P_REQQ | BT_EXT_P_METADATA_SIZE);
	T_EQ_INT(hs(&h, S("d13:metadata_sizei67108864e1:pi65535e4:reqqi1ee"), NULL), BT_OK);
	T_EQ_UINT(h.problems, 0);
	T_EQ_INT(h.p, 65535);
	/* Integers at the edge of int64. */
	T_EQ_INT(hs(&h, S("d1:pi-9223372036854775808e4:reqqi9223372036854775807ee"), NULL), BT_OK);
	T_EQ_UINT(h.problems, BT_EXT_P_P);
	T_EQ_INT(h.reqq, INT64_MAX);
	T_EQ_INT(h.p, INT64_MIN);
}

static void test_hs_m_ids(void)
{
	static const char in[] =
		"d1:md1:ai256e1:bi-1e1:c1:x1:di0e1:ei5e1:fi5e1:gi255eee";
	struct bt_ext_hs h;

	T_EQ_INT(hs(&h, S(in), NULL), BT_OK);
	T_EQ_UINT(h.problems, BT_EXT_P_M_ID | BT_EXT_P_M_DUPID);
	T_EQ_UINT(h.nm, 7);
	T_EQ_UINT(h.m_total, 7);
	T_CHECK(!h.m[0].valid);
	T_EQ_INT(h.m[0].id, 256);
	T_CHECK(!h.m[1].valid);
	T_EQ_INT(h.m[1].id, -1);
	T_CHECK(!h.m[2].valid);
	T_CHECK(h.m[3].valid);
	T_EQ_INT(bt_ext_hs_id(&h, "a"), 0);
	T_EQ_INT(bt_ext_hs_id(&h, "b"), 0);
	T_EQ_INT(bt_ext_hs_id(&h, "c"), 0);
	T_EQ_INT(bt_ext_hs_id(&h, "d"), 0);
	T_EQ_INT(bt_ext_hs_id(&h, "e"), 5);
	T_EQ_INT(bt_ext_hs_id(&h, "f"), 5);
	T_EQ_INT(bt_ext_hs_id(&h, "g"), 255);
	/* Zeros do not clash: several disabled extensions are fine. */
	T_EQ_INT(hs(&h, S("d1:md1:ai0e1:bi0eee"), NULL), BT_OK);
	T_EQ_UINT(h.problems, 0);
}

/* "d1:md" + n entries "4:kNNNi<id>e" + "ee" into buf; returns length. */
static size_t big_m(char *buf, size_t cap, int n)
{
	size_t len = (size_t)snprintf(buf, cap, "d1:md");
	int i;
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "4:k%03di%de", i, i % 255 + 1);
	len += (size_t)snprintf(buf + len, cap - len, "ee");
	return len;
}

static void test_hs_m_over_cap(void)
{
	static char buf[16384];
	struct bt_ext_hs h;
	size_t len = big_m(buf, sizeof(buf), 40);

	T_EQ_INT(hs(&h, (const uint8_t *)buf, len, NULL), BT_OK);
	T_EQ_UINT(h.problems, BT_EXT_P_M_CAP);
	T_EQ_UINT(h.nm, BT_EXT_MAX_M);
	T_EQ_UINT(h.m_total, 40);
	T_CHECK(view_is(h.m[31].name, "k031"));
	T_EQ_INT(bt_ext_hs_id(&h, "k031"), 32);
	T_EQ_INT(bt_ext_hs_id(&h, "k032"), 0); /* past the cap: not stored */
}

static void test_hs_token_cap(void)
{
	static char buf[16384];
	struct bt_ext_hs h;
	struct bt_be_err e;
	size_t len;

	/* 3 + 2 * 510 = 1023 tokens: fits. */
	len = big_m(buf, sizeof(buf), 510);
	T_EQ_INT(hs(&h, (const uint8_t *)buf, len, &e), BT_OK);
	T_EQ_UINT(h.m_total, 510);
	T_EQ_UINT(h.nm, BT_EXT_MAX_M);
	/* 3 + 2 * 511 = 1025: refused, clearly. */
	len = big_m(buf, sizeof(buf), 511);
	T_EQ_INT(hs(&h, (const uint8_t *)buf, len, &e), BT_ETOOBIG);
	T_EQ_INT(e.code, BT_ETOOBIG);
	T_EQ_STR(e.rule, "more than 1024 bencoded values in an extended payload");
	T_EQ_UINT(h.have, 0);
	T_EQ_UINT(h.nm, 0);
}

static void test_hs_payload_cap(void)
{
	static uint8_t buf[BT_EXT_MAX_PAYLOAD + 1];
	struct bt_ext_hs h;
	struct bt_be_err e;

	/* "d1:x65525:" + 65525 bytes + "e" = 65536 bytes exactly. */
	memcpy(buf, "d1:x65525:", 10);
	memset(buf + 10, 'a', 65525);
	buf[10 + 65525] = 'e';
	T_EQ_INT(hs(&h, buf, BT_EXT_MAX_PAYLOAD, &e), BT_OK);
	T_EQ_UINT(h.unknown, 1);

	memcpy(buf, "d1:x65526:", 10);
	memset(buf + 10, 'a', 65526);
	buf[10 + 65526] = 'e';
	T_EQ_INT(hs(&h, buf, BT_EXT_MAX_PAYLOAD + 1, &e), BT_ETOOBIG);
	T_EQ_UINT(e.off, BT_EXT_MAX_PAYLOAD);
	T_EQ_STR(e.rule, "extended payload larger than 64 KiB");
	/* Also with a huge len and no real buffer behind it: refused before
	 * any byte is read. */
	T_EQ_INT(bt_ext_hs_parse(&h, buf, SIZE_MAX, &e), BT_ETOOBIG);
}

static void test_hs_malformed(void)
{
	struct bt_ext_hs h;
	struct bt_be_err e;

	T_EQ_INT(hs(&h, S(""), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "payload ends inside a bencoded value");
	T_EQ_INT(hs(&h, S("i1e"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "payload is not a bencoded dictionary");
	T_EQ_INT(hs(&h, S("4:spam"), &e), BT_EINVAL);
	T_EQ_INT(hs(&h, S("le"), &e), BT_EINVAL);
	T_EQ_INT(hs(&h, S("x"), &e), BT_EINVAL);
	T_EQ_UINT(e.off, 0);
	T_EQ_INT(hs(&h, S("d1:pi1x"), &e), BT_EINVAL);
	T_EQ_INT(hs(&h, S("di1ei2ee"), &e), BT_EINVAL); /* integer key */
	/* A string length past the end; 2^32-1, 2^32 and 2^64 are over the
	 * decoder's cap (bencode.c says so, with the offset of the length). */
	T_EQ_INT(hs(&h, S("d1:v100:abc"), &e), BT_EINVAL);
	T_EQ_INT(hs(&h, S("d1:v4294967295:abc"), &e), BT_ETOOBIG);
	T_EQ_UINT(e.off, 4);
	T_EQ_INT(hs(&h, S("d1:v4294967296:abc"), &e), BT_ETOOBIG);
	T_EQ_INT(hs(&h, S("d1:v18446744073709551616:abc"), &e), BT_ETOOBIG);
	/* Deep nesting under an unknown key. */
	{
		static char deep[256];
		int i, n = 0;
		n += sprintf(deep, "d1:x");
		for (i = 0; i < 100; i++)
			deep[n++] = 'l';
		for (i = 0; i < 100; i++)
			deep[n++] = 'e';
		deep[n++] = 'e';
		T_EQ_INT(hs(&h, (const uint8_t *)deep, (size_t)n, &e), BT_EDEPTH);
	}
}

static void test_hs_lenient_bits(void)
{
	struct bt_ext_hs h;
	struct bt_be_err e;

	/* Bytes after the dictionary: parsed, flagged. */
	T_EQ_INT(hs(&h, S("d1:pi6881eeXYZ"), &e), BT_OK);
	T_EQ_UINT(h.problems, BT_EXT_P_TRAILING);
	T_EQ_INT(h.p, 6881);
	/* Duplicate key: the first one counts. */
	T_EQ_INT(hs(&h, S("d1:pi1e1:pi2ee"), &e), BT_OK);
	T_EQ_UINT(h.problems, BT_EXT_P_NONCANON);
	T_EQ_UINT(e.tolerated, BT_BE_TOL_DUPKEY);
	T_EQ_INT(h.p, 1);
	/* Unsorted top level and a leading zero. */
	T_EQ_INT(hs(&h, S("d1:pi06881e1:ei0ee"), &e), BT_OK);
	T_EQ_UINT(h.problems, BT_EXT_P_NONCANON);
	T_EQ_UINT(e.tolerated, BT_BE_TOL_UNSORTED | BT_BE_TOL_LEADZERO);
	T_EQ_INT(h.p, 6881);
	T_EQ_INT(h.e, 0);
}

static void test_hs_every_prefix(void)
{
	size_t n = sizeof(lt_short) - 1, i;
	struct bt_ext_hs h;
	int bad = 0;

	for (i = 0; i < n; i++)
		if (hs(&h, (const uint8_t *)lt_short, i, NULL) != BT_EINVAL)
			bad++;
	T_EQ_INT(bad, 0);
	T_EQ_INT(hs(&h, S(lt_short), NULL), BT_OK);
}

static void test_hs_encode(void)
{
	static const char want[] =
		"d1:md11:ut_metadatai3e6:ut_pexi1ee13:metadata_sizei31235e"
		"1:pi6881e4:reqqi250e11:upload_onlyi1e1:v11:btkit 0.1.0"
		"6:yourip4:\x7f\x00\x00\x01" "e";
	struct bt_peer_addr me;
	struct bt_ext_hs_out o;
	struct bt_ext_hs h;
	uint8_t buf[256];
	struct bt_wr w;

	memset(&me, 0, sizeof(me));
	me.family = 4;
	memcpy(me.ip, "\x7f\x00\x00\x01", 4);
	memset(&o, 0, sizeof(o));
	o.ut_metadata = 3;
	o.ut_pex = 1;
	o.p = 6881;
	o.reqq = 250;
	o.metadata_size = 31235;
	o.upload_only = true;
	o.v = "btkit 0.1.0";
	o.yourip = &me;

	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_ext_hs_encode(&w, &o), BT_OK);
	T_EQ_MEM(buf, w.len, want, sizeof(want) - 1);

	/* It parses back to the same fields, canonical. */
	T_EQ_INT(hs(&h, buf, w.len, NULL), BT_OK);
	T_EQ_UINT(h.problems, 0);
	T_EQ_INT(bt_ext_hs_id(&h, "ut_metadata"), 3);
	T_EQ_INT(bt_ext_hs_id(&h, "ut_pex"), 1);
	T_EQ_INT(h.p, 6881);
	T_EQ_INT(h.reqq, 250);
	T_EQ_INT(h.metadata_size, 31235);
	T_EQ_INT(h.upload_only, 1);
	T_CHECK(view_is(h.v, "btkit 0.1.0"));

	/* Too small a buffer: BT_ENOSPC, and w.len says what is needed. */
	bt_wr_init(&w, buf, 10);
	T_EQ_INT(bt_ext_hs_encode(&w, &o), BT_ENOSPC);
	T_EQ_UINT(w.len, sizeof(want) - 1);

	/* Only ut_pex, IPv6 yourip. */
	memset(&o, 0, sizeof(o));
	o.ut_pex = 2;
	me = v6("00000000000000000000000000000001", 0);
	o.yourip = &me;
	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_ext_hs_encode(&w, &o), BT_OK);
	T_EQ_LIT(buf, w.len, "d1:md6:ut_pexi2ee6:yourip16:"
			       "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" "e");

	/* Nothing at all. */
	memset(&o, 0, sizeof(o));
	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_ext_hs_encode(&w, &o), BT_OK);
	T_EQ_LIT(buf, w.len, "de");

	me.family = 0;
	o.yourip = &me;
	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_ext_hs_encode(&w, &o), BT_EINVAL);
	T_EQ_UINT(w.len, 0);
}

/* ---- ut_metadata ------------------------------------------------------- */

static int utm(struct bt_utm *m, const uint8_t *p, size_t n, struct bt_be_err *e)
{
	return bt_utm_parse(m, t_guarded(p, n), n, e);
}

static void test_utm_request_reject(void)
{
	uint8_t buf[64];
	struct bt_wr w;
	struct bt_utm m;

	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_utm_put_request(&w, 0), BT_OK);
	T_EQ_LIT(buf, w.len, "d8:msg_typei0e5:piecei0ee"); /* BEP 9's example */
	T_EQ_INT(utm(&m, buf, w.len, NULL), BT_OK);
	T_EQ_INT(m.msg_type, BT_UTM_REQUEST);
	T_EQ_INT(m.piece, 0);
	T_EQ_UINT(m.have, 0);
	T_EQ_UINT(m.problems, 0);
	T_EQ_UINT(m.data.len, 0);

	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_utm_put_reject(&w, 4294967295u), BT_OK);
	T_EQ_LIT(buf, w.len, "d8:msg_typei2e5:piecei4294967295ee");
	T_EQ_INT(utm(&m, buf, w.len, NULL), BT_OK);
	T_EQ_INT(m.msg_type, BT_UTM_REJECT);
	T_EQ_INT(m.piece, 4294967295);

	bt_wr_init(&w, buf, 5);
	T_EQ_INT(bt_utm_put_request(&w, 12), BT_ENOSPC);
	T_EQ_UINT(w.len, sizeof("d8:msg_typei0e5:piecei12ee") - 1);

	/* Bytes after a request: kept as a view, flagged. */
	T_EQ_INT(utm(&m, S("d8:msg_typei0e5:piecei1eexy"), NULL), BT_OK);
	T_EQ_UINT(m.problems, BT_UTM_P_TRAILING);
	T_EQ_MEM(m.data.p, m.data.len, "xy", 2);
}

static void test_utm_data_round_trip(void)
{
	static const char head[] = "d8:msg_typei1e5:piecei1e10:total_sizei20000ee";
	static uint8_t data[3616], buf[4096];
	struct bt_utm m;
	struct bt_wr w;
	size_t i, hl = sizeof(head) - 1;
	const uint8_t *g;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_utm_put_data(&w, 1, 20000, data, sizeof(data)), BT_OK);
	T_EQ_UINT(w.len, hl + sizeof(data));
	T_EQ_MEM(buf, hl, head, hl);
	T_EQ_MEM(buf + hl, w.len - hl, data, sizeof(data));

	g = t_guarded(buf, w.len);
	T_EQ_INT(bt_utm_parse(&m, g, w.len, NULL), BT_OK);
	T_EQ_INT(m.msg_type, BT_UTM_DATA);
	T_EQ_INT(m.piece, 1);
	T_EQ_UINT(m.have, BT_UTM_HAVE_TOTAL_SIZE);
	T_EQ_INT(m.total_size, 20000);
	T_EQ_UINT(m.problems, 0);
	/* The view points into the caller's buffer, right after the dict. */
	T_CHECK(m.data.p == g + hl);
	T_EQ_MEM(m.data.p, m.data.len, data, sizeof(data));
}

static void test_utm_data_full_piece(void)
{
	/* Piece 0 of 20000 is 16384 bytes; the bytes themselves look like
	 * bencode, which must not matter. */
	static uint8_t buf[16384 + 64], piece[16384];
	struct bt_utm m;
	struct bt_wr w;
	size_t i;

	piece[0] = 'd';
	for (i = 1; i < sizeof(piece) - 1; i++)
		piece[i] = 'e';
	piece[sizeof(piece) - 1] = 'e';
	memcpy(piece, "d1:ai1ee", 8);
	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_utm_put_data(&w, 0, 20000, piece, sizeof(piece)), BT_OK);
	T_EQ_INT(utm(&m, buf, w.len, NULL), BT_OK);
	T_EQ_UINT(m.data.len, 16384);
	T_EQ_MEM(m.data.p, 8, "d1:ai1ee", 8);

	/* Exactly one full piece as the whole metadata. */
	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_utm_put_data(&w, 0, 16384, piece, sizeof(piece)), BT_OK);
	T_EQ_INT(utm(&m, buf, w.len, NULL), BT_OK);
	T_EQ_INT(m.total_size, 16384);
}

static void test_utm_data_errors(void)
{
	static uint8_t buf[20000];
	struct bt_utm m;
	struct bt_be_err e;
	struct bt_wr w;
	size_t hl;

	/* Non-last piece shorter than 16384. */
	T_EQ_INT(utm(&m, S("d8:msg_typei1e5:piecei0e10:total_sizei20000eeabc"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "metadata piece is not 16384 bytes");
	T_EQ_UINT(e.off, 45);
	/* The fields read so far stay, for the printer. */
	T_EQ_INT(m.msg_type, 1);
	T_EQ_INT(m.total_size, 20000);
	T_EQ_UINT(m.data.len, 3);
	/* Last piece one byte short and one byte long. */
	hl = (size_t)sprintf((char *)buf, "d8:msg_typei1e5:piecei1e10:total_sizei20000ee");
	memset(buf + hl, 'x', 3617);
	T_EQ_INT(utm(&m, buf, hl + 3615, &e), BT_EINVAL);
	T_EQ_STR(e.rule, "last metadata piece does not end at total_size");
	T_EQ_INT(utm(&m, buf, hl + 3617, &e), BT_EINVAL);
	T_EQ_INT(utm(&m, buf, hl + 3616, &e), BT_OK);
	/* Piece past the end. */
	T_EQ_INT(utm(&m, S("d8:msg_typei1e5:piecei2e10:total_sizei20000eex"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "piece is past the end of the metadata");
	T_EQ_UINT(e.off, 21);
	/* total_size missing, zero, negative, not an integer. */
	T_EQ_INT(utm(&m, S("d8:msg_typei1e5:piecei0eex"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "data message without an integer total_size");
	T_EQ_INT(utm(&m, S("d8:msg_typei1e5:piecei0e10:total_sizei0eex"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "total_size is not positive");
	T_EQ_INT(utm(&m, S("d8:msg_typei1e5:piecei0e10:total_sizei-5eex"), &e), BT_EINVAL);
	T_EQ_INT(utm(&m, S("d8:msg_typei1e5:piecei0e10:total_size1:5ex"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "data message without an integer total_size");
	/* msg_type and piece. */
	T_EQ_INT(utm(&m, S("d5:piecei0ee"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "msg_type missing or not an integer");
	T_EQ_INT(utm(&m, S("d8:msg_type1:05:piecei0ee"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "msg_type missing or not an integer");
	T_EQ_UINT(e.off, 11);
	T_EQ_INT(utm(&m, S("d8:msg_typei0ee"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "piece missing or not an integer");
	T_EQ_INT(utm(&m, S("d8:msg_typei0e5:piecei-1ee"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "piece is negative");
	T_EQ_INT(utm(&m, S("le"), &e), BT_EINVAL);
	T_EQ_INT(utm(&m, S(""), &e), BT_EINVAL);
	/* A huge total_size: piece count computed without overflow. */
	T_EQ_INT(utm(&m, S("d8:msg_typei1e5:piecei562949953421311e"
			   "10:total_sizei9223372036854775807eex"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "last metadata piece does not end at total_size");
	T_EQ_UINT(m.problems, BT_UTM_P_HUGE);
	T_EQ_INT(utm(&m, S("d8:msg_typei1e5:piecei562949953421312e"
			   "10:total_sizei9223372036854775807eex"), &e), BT_EINVAL);
	T_EQ_STR(e.rule, "piece is past the end of the metadata");

	/* The encoder refuses what the parser would. */
	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_utm_put_data(&w, 0, 20000, buf, 100), BT_EINVAL);
	T_EQ_INT(bt_utm_put_data(&w, 2, 20000, buf, 0), BT_EINVAL);
	T_EQ_INT(bt_utm_put_data(&w, 0, 0, buf, 0), BT_EINVAL);
	T_EQ_INT(bt_utm_put_data(&w, 0, UINT64_MAX, buf, 16384), BT_EINVAL);
	T_EQ_UINT(w.len, 0);
}

static void test_utm_unknown_type(void)
{
	struct bt_utm m;

	/* BEP 9: unknown types are ignored, not errors. */
	T_EQ_INT(utm(&m, S("d8:msg_typei7e5:piecei3ee"), NULL), BT_OK);
	T_EQ_UINT(m.problems, BT_UTM_P_UNKNOWN_TYPE);
	T_EQ_INT(m.msg_type, 7);
	T_EQ_INT(m.piece, 3);
	/* Unsorted keys and an extra one: tolerated. */
	T_EQ_INT(utm(&m, S("d5:piecei3e8:msg_typei0e3:zzzi1ee"), NULL), BT_OK);
	T_EQ_UINT(m.problems, BT_UTM_P_NONCANON);
	T_EQ_INT(m.piece, 3);
	/* total_size in a request is kept. */
	T_EQ_INT(utm(&m, S("d8:msg_typei0e5:piecei0e10:total_sizei5ee"), NULL), BT_OK);
	T_EQ_UINT(m.have, BT_UTM_HAVE_TOTAL_SIZE);
	T_EQ_INT(m.total_size, 5);
}

static void test_utm_every_prefix(void)
{
	static const char in[] = "d8:msg_typei1e5:piecei0e10:total_sizei10ee0123456789";
	size_t n = sizeof(in) - 1, i;
	struct bt_utm m;
	int bad = 0;

	for (i = 0; i < n; i++)
		if (utm(&m, (const uint8_t *)in, i, NULL) != BT_EINVAL)
			bad++;
	T_EQ_INT(bad, 0);
	T_EQ_INT(utm(&m, S(in), NULL), BT_OK);
	T_EQ_MEM(m.data.p, m.data.len, "0123456789", 10);
}

static void test_utm_piece_math(void)
{
	T_EQ_UINT(bt_utm_pieces(0), 0);
	T_EQ_UINT(bt_utm_pieces(1), 1);
	T_EQ_UINT(bt_utm_pieces(16384), 1);
	T_EQ_UINT(bt_utm_pieces(16385), 2);
	T_EQ_UINT(bt_utm_pieces(UINT64_MAX), UINT64_MAX / 16384 + 1);
	T_EQ_UINT(bt_utm_piece_len(0, 0), 0);
	T_EQ_UINT(bt_utm_piece_len(1, 0), 1);
	T_EQ_UINT(bt_utm_piece_len(16384, 0), 16384);
	T_EQ_UINT(bt_utm_piece_len(16384, 1), 0);
	T_EQ_UINT(bt_utm_piece_len(16385, 0), 16384);
	T_EQ_UINT(bt_utm_piece_len(16385, 1), 1);
	T_EQ_UINT(bt_utm_piece_len(UINT64_MAX, UINT64_MAX / 16384), 16383);
	T_EQ_UINT(bt_utm_piece_len(UINT64_MAX, UINT64_MAX), 0);
}

/* ---- ut_pex ------------------------------------------------------------ */

/* 2 IPv4 peers (seed+reachable, encryption+utp), 1 IPv6 peer (reachable),
 * 1 IPv4 peer dropped. */
static const char pex_ref[] =
	"d5:added12:" "\x01\x02\x03\x04\x1a\xe1" "\x0a\x00\x00\x01\xc8\xd5"
	"7:added.f2:" "\x12\x05"
	"6:added618:" "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
	"\x1a\xe1"
	"8:added6.f1:" "\x10"
	"7:dropped6:" "\xc0\xa8\x01\x01\x00\x50"
	"e";

static void test_pex_parse_exact(void)
{
	struct bt_pex x;
	struct bt_peer_addr a, arr[4];
	char fl[64];

	T_EQ_INT(pex(&x, S(pex_ref)), BT_OK);
	T_EQ_UINT(x.problems, 0);
	T_EQ_UINT(x.count[BT_PEX_ADDED], 2);
	T_EQ_UINT(x.count[BT_PEX_ADDED6], 1);
	T_EQ_UINT(x.count[BT_PEX_DROPPED], 1);
	T_EQ_UINT(x.count[BT_PEX_DROPPED6], 0);

	T_CHECK(bt_pex_peer(&x, BT_PEX_ADDED, 0, &a));
	T_EQ_STR(fmt(&a), "1.2.3.4:6881");
	T_EQ_UINT(a.flags, BT_PEX_F_SEED | BT_PEX_F_REACHABLE);
	T_EQ_STR(bt_pex_flags_str(a.flags, fl, sizeof(fl)), "seed,reachable");
	T_CHECK(bt_pex_peer(&x, BT_PEX_ADDED, 1, &a));
	T_EQ_STR(fmt(&a), "10.0.0.1:51413");
	T_EQ_UINT(a.flags, BT_PEX_F_ENCRYPTION | BT_PEX_F_UTP);
	T_EQ_STR(bt_pex_flags_str(a.flags, fl, sizeof(fl)), "encryption,utp");
	T_CHECK(!bt_pex_peer(&x, BT_PEX_ADDED, 2, &a));

	T_CHECK(bt_pex_peer(&x, BT_PEX_ADDED6, 0, &a));
	T_EQ_STR(fmt(&a), "[2001:db8::1]:6881");
	T_EQ_UINT(a.flags, BT_PEX_F_REACHABLE);
	T_CHECK(!bt_pex_peer(&x, BT_PEX_ADDED6, 1, &a));

	T_CHECK(bt_pex_peer(&x, BT_PEX_DROPPED, 0, &a));
	T_EQ_STR(fmt(&a), "192.168.1.1:80");
	T_EQ_UINT(a.flags, 0);
	T_CHECK(!bt_pex_peer(&x, BT_PEX_DROPPED6, 0, &a));
	T_CHECK(!bt_pex_peer(&x, BT_PEX_NLISTS, 0, &a));

	/* The array form, with a cap below the count. */
	T_EQ_UINT(bt_pex_peers(&x, BT_PEX_ADDED, arr, 4), 2);
	T_EQ_STR(fmt(&arr[1]), "10.0.0.1:51413");
	T_EQ_UINT(bt_pex_peers(&x, BT_PEX_ADDED, arr, 1), 1);
	T_EQ_STR(fmt(&arr[0]), "1.2.3.4:6881");
	T_EQ_UINT(bt_pex_peers(&x, BT_PEX_DROPPED6, arr, 4), 0);
}

static void test_pex_encode_exact(void)
{
	struct bt_peer_addr add[3], drop[1];
	uint8_t buf[256];
	struct bt_wr w;

	memset(add, 0, sizeof(add));
	memset(drop, 0, sizeof(drop));
	/* The IPv6 peer first: the encoder sorts by family, keeps order. */
	add[0] = v6("20010db8000000000000000000000001", 6881);
	add[0].flags = BT_PEX_F_REACHABLE;
	add[1].family = 4;
	memcpy(add[1].ip, "\x01\x02\x03\x04", 4);
	add[1].port = 6881;
	add[1].flags = BT_PEX_F_SEED | BT_PEX_F_REACHABLE;
	add[2].family = 4;
	memcpy(add[2].ip, "\x0a\x00\x00\x01", 4);
	add[2].port = 51413;
	add[2].flags = BT_PEX_F_ENCRYPTION | BT_PEX_F_UTP;
	drop[0].family = 4;
	memcpy(drop[0].ip, "\xc0\xa8\x01\x01", 4);
	drop[0].port = 80;

	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_pex_encode(&w, add, 3, drop, 1), BT_OK);
	T_EQ_LIT(buf, w.len, pex_ref);

	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_pex_encode(&w, NULL, 0, NULL, 0), BT_OK);
	T_EQ_LIT(buf, w.len, "de");

	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_pex_encode(&w, add, 1, add, 1), BT_OK);
	T_EQ_LIT(buf, w.len, "d6:added618:"
			       "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
			       "\x1a\xe1" "8:added6.f1:" "\x10" "8:dropped618:"
			       "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
			       "\x1a\xe1" "e");

	bt_wr_init(&w, buf, 8);
	T_EQ_INT(bt_pex_encode(&w, add, 3, drop, 1), BT_ENOSPC);
	T_EQ_UINT(w.len, sizeof(pex_ref) - 1);

	drop[0].family = 7;
	bt_wr_init(&w, buf, sizeof(buf));
	T_EQ_INT(bt_pex_encode(&w, add, 3, drop, 1), BT_EINVAL);
	T_EQ_UINT(w.len, 0);
}

static void test_pex_partial_entries(void)
{
	struct bt_pex x;
	struct bt_peer_addr a;

	/* 13 bytes of added: 2 peers and a stray byte; 20 of dropped6: 1. */
	T_EQ_INT(pex(&x, S("d5:added13:AAAAaaBBBBbbC"
			   "8:dropped620:0123456789abcdefgh!!e")), BT_OK);
	T_EQ_UINT(x.problems, BT_PEX_P_LEN(BT_PEX_ADDED) | BT_PEX_P_LEN(BT_PEX_DROPPED6));
	T_EQ_UINT(x.count[BT_PEX_ADDED], 2);
	T_EQ_UINT(x.count[BT_PEX_DROPPED6], 1);
	T_CHECK(bt_pex_peer(&x, BT_PEX_ADDED, 1, &a));
	T_EQ_STR(fmt(&a), "66.66.66.66:25186");
	T_CHECK(!bt_pex_peer(&x, BT_PEX_ADDED, 2, &a));
	T_CHECK(bt_pex_peer(&x, BT_PEX_DROPPED6, 0, &a));
	T_EQ_STR(fmt(&a), "[3031:3233:3435:3637:3839:6162:6364:6566]:26472");

	/* Fewer bytes than one entry. */
	T_EQ_INT(pex(&x, S("d7:dropped5:abcdee")), BT_OK);
	T_EQ_UINT(x.problems, BT_PEX_P_LEN(BT_PEX_DROPPED));
	T_EQ_UINT(x.count[BT_PEX_DROPPED], 0);
	T_CHECK(!bt_pex_peer(&x, BT_PEX_DROPPED, 0, &a));
}

static void test_pex_flags(void)
{
	struct bt_pex x;
	struct bt_peer_addr a;
	char fl[64];

	/* added.f shorter than added: the peer without a byte gets 0. */
	T_EQ_INT(pex(&x, S("d5:added12:AAAAaaBBBBbb7:added.f1:\x04" "e")), BT_OK);
	T_EQ_UINT(x.problems, BT_PEX_P_FLAGS_LEN);
	T_CHECK(bt_pex_peer(&x, BT_PEX_ADDED, 0, &a));
	T_EQ_UINT(a.flags, BT_PEX_F_UTP);
	T_CHECK(bt_pex_peer(&x, BT_PEX_ADDED, 1, &a));
	T_EQ_UINT(a.flags, 0);
	/* added6.f longer than added6, with reserved bits. */
	T_EQ_INT(pex(&x, S("d6:added618:0123456789abcdefgh8:added6.f2:\xff\x01" "e")), BT_OK);
	T_EQ_UINT(x.problems, BT_PEX_P_FLAGS6_LEN | BT_PEX_P_RESERVED);
	T_CHECK(bt_pex_peer(&x, BT_PEX_ADDED6, 0, &a));
	T_EQ_UINT(a.flags, 0xff);
	T_EQ_STR(bt_pex_flags_str(a.flags, fl, sizeof(fl)),
		 "encryption,seed,utp,holepunch,reachable,0x20,0x40,0x80");
	T_EQ_STR(bt_pex_flags_str(0, fl, sizeof(fl)), "none");
	T_EQ_STR(bt_pex_flags_str(0xff, fl, 10), "encryptio");
	/* No added.f at all: fine (it is optional). */
	T_EQ_INT(pex(&x, S("d5:added6:AAAAaae")), BT_OK);
	T_EQ_UINT(x.problems, 0);

	T_EQ_STR(bt_pex_flag_name(BT_PEX_F_ENCRYPTION), "encryption");
	T_EQ_STR(bt_pex_flag_name(BT_PEX_F_SEED), "seed");
	T_EQ_STR(bt_pex_flag_name(BT_PEX_F_UTP), "utp");
	T_EQ_STR(bt_pex_flag_name(BT_PEX_F_HOLEPUNCH), "holepunch");
	T_EQ_STR(bt_pex_flag_name(BT_PEX_F_REACHABLE), "reachable");
	T_CHECK(bt_pex_flag_name(0x20) == NULL);
	T_CHECK(bt_pex_flag_name(0x03) == NULL);
	T_EQ_STR(bt_pex_list_name(BT_PEX_ADDED), "added");
	T_EQ_STR(bt_pex_list_name(BT_PEX_DROPPED), "dropped");
	T_EQ_STR(bt_pex_list_name(BT_PEX_ADDED6), "added6");
	T_EQ_STR(bt_pex_list_name(BT_PEX_DROPPED6), "dropped6");
	T_EQ_STR(bt_pex_list_name(BT_PEX_NLISTS), "?");
}

static void test_pex_types_and_empty(void)
{
	struct bt_pex x;
	struct bt_be_err e;

	T_EQ_INT(pex(&x, S("de")), BT_OK);
	T_EQ_UINT(x.problems, BT_PEX_P_EMPTY);
	/* Present but empty counts as present. */
	T_EQ_INT(pex(&x, S("d7:dropped0:e")), BT_OK);
	T_EQ_UINT(x.problems, 0);
	/* A list of the wrong type. */
	T_EQ_INT(pex(&x, S("d5:addedi5e7:dropped0:e")), BT_OK);
	T_EQ_UINT(x.problems, BT_PEX_P_TYPE);
	T_EQ_UINT(x.count[BT_PEX_ADDED], 0);
	T_EQ_INT(pex(&x, S("d7:added.fle7:dropped0:e")), BT_OK);
	T_EQ_UINT(x.problems, BT_PEX_P_TYPE);
	/* Unknown keys are ignored; trailing bytes flagged. */
	T_EQ_INT(pex(&x, S("d7:dropped0:3:zzzi1eeJUNK")), BT_OK);
	T_EQ_UINT(x.problems, BT_PEX_P_TRAILING);
	/* Duplicates: first wins. */
	T_EQ_INT(pex(&x, S("d7:dropped6:AAAAaa7:dropped0:e")), BT_OK);
	T_EQ_UINT(x.problems, BT_PEX_P_NONCANON);
	T_EQ_UINT(x.count[BT_PEX_DROPPED], 1);
	/* Not a dictionary, cut short, hostile length. */
	T_EQ_INT(bt_pex_parse(&x, t_guarded("le", 2), 2, &e), BT_EINVAL);
	T_EQ_INT(pex(&x, S("d5:added4294967295:")), BT_ETOOBIG);
	T_EQ_INT(pex(&x, S("d5:added7:abcde")), BT_EINVAL);
	T_EQ_UINT(x.count[BT_PEX_ADDED], 0);
}

static void test_pex_every_prefix(void)
{
	size_t n = sizeof(pex_ref) - 1, i;
	struct bt_pex x;
	int bad = 0;

	for (i = 0; i < n; i++)
		if (pex(&x, (const uint8_t *)pex_ref, i) != BT_EINVAL)
			bad++;
	T_EQ_INT(bad, 0);
}

int main(void)
{
	T_RUN(test_addr_fmt_v4_v6);
	T_RUN(test_addr_fmt_short_buffer);
	T_RUN(test_addr_compact_round_trip);
	T_RUN(test_hs_libtorrent);
	T_RUN(test_hs_libtorrent_full);
	T_RUN(test_hs_transmission_shape);
	T_RUN(test_hs_bep10_example);
	T_RUN(test_hs_empty_and_disable);
	T_RUN(test_hs_ill_typed_fields);
	T_RUN(test_hs_m_ids);
	T_RUN(test_hs_m_over_cap);
	T_RUN(test_hs_token_cap);
	T_RUN(test_hs_payload_cap);
	T_RUN(test_hs_malformed);
	T_RUN(test_hs_lenient_bits);
	T_RUN(test_hs_every_prefix);
	T_RUN(test_hs_encode);
	T_RUN(test_utm_request_reject);
	T_RUN(test_utm_data_round_trip);
	T_RUN(test_utm_data_full_piece);
	T_RUN(test_utm_data_errors);
	T_RUN(test_utm_unknown_type);
	T_RUN(test_utm_every_prefix);
	T_RUN(test_utm_piece_math);
	T_RUN(test_pex_parse_exact);
	T_RUN(test_pex_encode_exact);
	T_RUN(test_pex_partial_entries);
	T_RUN(test_pex_flags);
	T_RUN(test_pex_types_and_empty);
	T_RUN(test_pex_every_prefix);
	return T_DONE();
}
