#include "pkt.h"
#include "rd.h"
#include "t.h"

/* Frames are built field by field here, the way a capture would hold them;
 * every decode reads a copy flush against a PROT_NONE page. */

static const uint8_t SRC4[4] = { 192, 168, 1, 10 };
static const uint8_t DST4[4] = { 10, 0, 0, 7 };
static const uint8_t SRC6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				  0, 0, 0, 0, 0, 0, 0, 0x01 };
static const uint8_t DST6[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
				  0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55 };

struct frame {
	uint8_t b[2048];
	size_t n;
};

static void put(struct frame *f, const void *p, size_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void put8(struct frame *f, uint8_t v) { put(f, &v, 1); }

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(f, b, 2);
}

static void put32(struct frame *f, uint32_t v)
{
	uint8_t b[4];
	bt_store_u32be(b, v);
	put(f, b, 4);
}

static void put_eth(struct frame *f, uint16_t type)
{
	static const uint8_t mac[12] = { 0, 1, 2, 3, 4, 5, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf };
	put(f, mac, 12);
	put16(f, type);
}

/* TCP header (options: optlen bytes of NOP then nothing) and payload. */
static void put_tcp(struct frame *f, uint16_t sp, uint16_t dp, uint32_t seq,
		    uint32_t ack, uint8_t flags, size_t optlen,
		    const void *pl, size_t plen)
{
	size_t i;

	put16(f, sp);
	put16(f, dp);
	put32(f, seq);
	put32(f, ack);
	put8(f, (uint8_t)(((20 + optlen) / 4) << 4));
	put8(f, flags);
	put16(f, 65535);
	put16(f, 0);         /* checksum: not checked */
	put16(f, 0);
	for (i = 0; i < optlen; i++)
		put8(f, 1);
	put(f, pl, plen);
}

static void put_udp(struct frame *f, uint16_t sp, uint16_t dp,
		    const void *pl, size_t plen)
{
	put16(f, sp);
	put16(f, dp);
	put16(f, (uint16_t)(8 + plen));
	put16(f, 0);
	put(f, pl, plen);
}

/* An IPv4 header whose total length covers l4len bytes after it. */
static void put_ipv4(struct frame *f, size_t optlen, uint8_t proto,
		     size_t l4len, uint16_t fragfield)
{
	size_t i;

	put8(f, (uint8_t)(0x40 | (20 + optlen) / 4));
	put8(f, 0);
	put16(f, (uint16_t)(20 + optlen + l4len));
	put16(f, 0x1234);
	put16(f, fragfield);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put(f, SRC4, 4);
	put(f, DST4, 4);
	for (i = 0; i < optlen; i++)
		put8(f, 1);
}

static void put_ipv6(struct frame *f, uint8_t nh, size_t plen)
{
	put32(f, 0x60000000);
	put16(f, (uint16_t)plen);
	put8(f, nh);
	put8(f, 55);
	put(f, SRC6, 16);
	put(f, DST6, 16);
}

/* Decode a frame captured whole. */
static int dec(struct bt_pkt *pk, int lt, const struct frame *f)
{
	return bt_pkt_decode(pk, lt, t_guarded(f->b, f->n), f->n, f->n, 77);
}

/* t_guarded without the leak, for loops: one region reused, the frame
 * copied flush against its PROT_NONE page. */
static const uint8_t *reguard(const void *src, size_t len)
{
	static uint8_t *m;
	static size_t pg;

	if (!m) {
		pg = (size_t)sysconf(_SC_PAGESIZE);
		m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			abort();
		mprotect(m + pg, pg, PROT_NONE);
	}
	if (len > pg)
		abort();
	if (len)
		memcpy(m + pg - len, src, len);
	return m + pg - len;
}

static const char PL[] = "\x13" "BitTorrent protocol";   /* 20 bytes */

/* Ethernet / IPv4 / TCP with 4 bytes payload, padded to Ethernet's 60. */
static void eth_ipv4_tcp(struct frame *f)
{
	f->n = 0;
	put_eth(f, 0x0800);
	put_ipv4(f, 0, 6, 20 + 4, 0x4000);
	put_tcp(f, 51413, 6881, 0xfffffff0u, 0x01020304u,
		BT_TCP_PSH | BT_TCP_ACK, 0, "abcd", 4);
	while (f->n < 60)
		put8(f, 0xee);
}

static void test_eth_ipv4_tcp(void)
{
	struct frame f;
	struct bt_pkt pk;

	eth_ipv4_tcp(&f);
	T_EQ_UINT(f.n, 60);
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_OK);
	T_CHECK(pk.err == NULL);
	T_EQ_UINT(pk.ts_us, 77);
	T_EQ_UINT(pk.link_proto, 0x0800);
	T_EQ_UINT(pk.nvlan, 0);
	T_EQ_INT(pk.l3, BT_PKT_IPV4);
	T_EQ_UINT(pk.src.family, 4);
	T_EQ_MEM(pk.src.a, 4, SRC4, 4);
	T_EQ_MEM(pk.dst.a, 4, DST4, 4);
	T_EQ_UINT(pk.ttl, 64);
	T_EQ_UINT(pk.proto, 6);
	T_EQ_UINT(pk.ip_off, 14);
	T_EQ_UINT(pk.ip_hlen, 20);
	T_EQ_UINT(pk.ip_len, 44);
	T_CHECK(!pk.frag);
	T_EQ_UINT(pk.frag_id, 0x1234);
	T_EQ_INT(pk.l4, BT_PKT_TCP);
	T_EQ_UINT(pk.l4_off, 34);
	T_EQ_UINT(pk.sport, 51413);
	T_EQ_UINT(pk.dport, 6881);
	T_EQ_UINT(pk.seq, 0xfffffff0u);
	T_EQ_UINT(pk.ack, 0x01020304u);
	T_EQ_UINT(pk.tcp_flags, BT_TCP_PSH | BT_TCP_ACK);
	T_EQ_UINT(pk.tcp_win, 65535);
	T_EQ_UINT(pk.l4_hlen, 20);
	T_EQ_UINT(pk.tcp_optlen, 0);
	/* the Ethernet padding is not payload */
	T_EQ_MEM(pk.payload, pk.payload_len, "abcd", 4);
	T_EQ_UINT(pk.payload_wirelen, 4);
}

static void test_vlan(void)
{
	struct frame f = { .n = 0 };
	struct bt_pkt pk;

	/* 802.1ad outer tag 10, 802.1Q inner tag 20 (with PCP bits set) */
	put_eth(&f, 0x88a8);
	put16(&f, 0x000a);
	put16(&f, 0x8100);
	put16(&f, 0xa014);
	put16(&f, 0x0800);
	put_ipv4(&f, 0, 6, 20 + 20, 0);
	put_tcp(&f, 1000, 2000, 1, 2, BT_TCP_ACK, 0, PL, 20);
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_OK);
	T_EQ_UINT(pk.nvlan, 2);
	T_EQ_UINT(pk.vlan[0], 10);
	T_EQ_UINT(pk.vlan[1], 20);
	T_EQ_UINT(pk.link_proto, 0x0800);
	T_EQ_UINT(pk.ip_off, 22);
	T_EQ_INT(pk.l4, BT_PKT_TCP);
	T_EQ_UINT(pk.sport, 1000);
	T_EQ_MEM(pk.payload, pk.payload_len, PL, 20);

	/* five stacked tags: more than we walk */
	f.n = 0;
	put_eth(&f, 0x8100);
	for (int i = 0; i < 5; i++) {
		put16(&f, (uint16_t)i);
		put16(&f, 0x8100);
	}
	put_ipv4(&f, 0, 6, 20, 0);
	put_tcp(&f, 1, 2, 0, 0, 0, 0, "", 0);
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_EUNSUPP);
	T_EQ_INT(pk.err_layer, BT_PKT_LINK);
	T_EQ_UINT(pk.err_off, 30);
	T_EQ_UINT(pk.nvlan, 4);
}

/* SLL2 / IPv6 / hop-by-hop / TCP with 12 bytes of options. */
static void sll2_ipv6_tcp(struct frame *f)
{
	static const uint8_t hbh[8] = { 6, 0, 1, 4, 0, 0, 0, 0 }; /* PadN */

	f->n = 0;
	put16(f, 0x86dd);       /* protocol */
	put16(f, 0);            /* reserved */
	put32(f, 3);            /* ifindex */
	put16(f, 772);          /* ARPHRD_LOOPBACK */
	put8(f, 4);             /* outgoing */
	put8(f, 6);
	put(f, "\0\0\0\0\0\0\0\0", 8);
	put_ipv6(f, 0, 8 + 32 + 20);
	put(f, hbh, 8);
	put_tcp(f, 6881, 40000, 7, 9, BT_TCP_SYN | BT_TCP_ACK, 12, PL, 20);
}

static void test_sll2_ipv6_tcp(void)
{
	struct frame f;
	struct bt_pkt pk;

	sll2_ipv6_tcp(&f);
	T_EQ_INT(dec(&pk, BT_DLT_LINUX_SLL2, &f), BT_OK);
	T_EQ_UINT(pk.sll_ifindex, 3);
	T_EQ_UINT(pk.sll_pkttype, 4);
	T_EQ_UINT(pk.link_proto, 0x86dd);
	T_EQ_INT(pk.l3, BT_PKT_IPV6);
	T_EQ_UINT(pk.src.family, 6);
	T_EQ_MEM(pk.src.a, 16, SRC6, 16);
	T_EQ_MEM(pk.dst.a, 16, DST6, 16);
	T_EQ_UINT(pk.ttl, 55);
	T_EQ_UINT(pk.ip_off, 20);
	T_EQ_UINT(pk.ip_hlen, 48);
	T_EQ_UINT(pk.ip_len, 40 + 60);
	T_EQ_UINT(pk.proto, 6);
	T_EQ_INT(pk.l4, BT_PKT_TCP);
	T_EQ_UINT(pk.l4_off, 68);
	T_EQ_UINT(pk.sport, 6881);
	T_EQ_UINT(pk.dport, 40000);
	T_EQ_UINT(pk.seq, 7);
	T_EQ_UINT(pk.ack, 9);
	T_EQ_UINT(pk.tcp_flags, BT_TCP_SYN | BT_TCP_ACK);
	T_EQ_UINT(pk.l4_hlen, 32);
	T_EQ_UINT(pk.tcp_optlen, 12);
	T_CHECK(pk.tcp_opt && pk.tcp_opt[0] == 1 && pk.tcp_opt[11] == 1);
	T_EQ_MEM(pk.payload, pk.payload_len, PL, 20);
	T_EQ_UINT(pk.payload_wirelen, 20);
}

static void test_sll_ipv4_udp(void)
{
	struct frame f = { .n = 0 };
	struct bt_pkt pk;

	put16(&f, 0);           /* to us */
	put16(&f, 1);           /* ARPHRD_ETHER */
	put16(&f, 6);
	put(&f, "\x00\x11\x22\x33\x44\x55\0\0", 8);
	put16(&f, 0x0800);
	put_ipv4(&f, 4, 17, 8 + 16, 0);
	put_udp(&f, 6969, 12345, "\x00\x00\x04\x17\x27\x10\x19\x80"
		"\x00\x00\x00\x00\xde\xad\xbe\xef", 16);
	T_EQ_INT(dec(&pk, BT_DLT_LINUX_SLL, &f), BT_OK);
	T_EQ_UINT(pk.sll_pkttype, 0);
	T_EQ_UINT(pk.ip_off, 16);
	T_EQ_UINT(pk.ip_hlen, 24);
	T_EQ_INT(pk.l4, BT_PKT_UDP);
	T_EQ_UINT(pk.sport, 6969);
	T_EQ_UINT(pk.dport, 12345);
	T_EQ_UINT(pk.udp_len, 24);
	T_EQ_UINT(pk.l4_hlen, 8);
	T_EQ_UINT(pk.payload_len, 16);
	T_EQ_MEM(pk.payload, 4, "\x00\x00\x04\x17", 4);
	T_EQ_MEM(pk.payload + 12, 4, "\xde\xad\xbe\xef", 4);

	/* UDP length beyond the IP datagram; then below 8 */
	f.b[16 + 24 + 4] = 0;
	f.b[16 + 24 + 5] = 25;
	T_EQ_INT(dec(&pk, BT_DLT_LINUX_SLL, &f), BT_EINVAL);
	T_EQ_INT(pk.err_layer, BT_PKT_UDP);
	T_EQ_UINT(pk.err_off, 40);
	T_EQ_STR(pk.err, "UDP length beyond the IP datagram");
	f.b[16 + 24 + 5] = 7;
	T_EQ_INT(dec(&pk, BT_DLT_LINUX_SLL, &f), BT_EINVAL);
	T_EQ_STR(pk.err, "UDP length < 8");
	/* shorter than declared by the IP header is fine: trailing bytes
	 * are not payload */
	f.b[16 + 24 + 5] = 12;
	T_EQ_INT(dec(&pk, BT_DLT_LINUX_SLL, &f), BT_OK);
	T_EQ_UINT(pk.payload_len, 4);
	T_EQ_UINT(pk.payload_wirelen, 4);
}

static void test_bsd_loopback(void)
{
	struct frame f;
	struct bt_pkt pk;
	static const uint8_t fam_le[4] = { 2, 0, 0, 0 }, fam_be[4] = { 0, 0, 0, 2 };
	static const uint32_t v6fam[] = { 10, 24, 28, 30 };
	size_t i;

	/* DLT_NULL written by a little-endian host, and by a big-endian one */
	for (i = 0; i < 2; i++) {
		f.n = 0;
		put(&f, i ? fam_be : fam_le, 4);
		put_ipv4(&f, 0, 6, 20 + 3, 0);
		put_tcp(&f, 5, 6, 100, 0, BT_TCP_ACK, 0, "xyz", 3);
		T_EQ_INT(dec(&pk, BT_DLT_NULL, &f), BT_OK);
		T_EQ_UINT(pk.link_proto, 2);
		T_EQ_UINT(pk.ip_off, 4);
		T_EQ_INT(pk.l4, BT_PKT_TCP);
		T_EQ_UINT(pk.seq, 100);
		T_EQ_MEM(pk.payload, pk.payload_len, "xyz", 3);
	}
	/* DLT_LOOP (network order) with each BSD's AF_INET6 */
	for (i = 0; i < 4; i++) {
		f.n = 0;
		put32(&f, v6fam[i]);
		put_ipv6(&f, 6, 20);
		put_tcp(&f, 5, 6, 100, 0, BT_TCP_FIN, 0, "", 0);
		T_EQ_INT(dec(&pk, BT_DLT_LOOP, &f), BT_OK);
		T_EQ_UINT(pk.link_proto, v6fam[i]);
		T_EQ_INT(pk.l3, BT_PKT_IPV6);
		T_EQ_INT(pk.l4, BT_PKT_TCP);
		T_EQ_UINT(pk.tcp_flags, BT_TCP_FIN);
		T_EQ_UINT(pk.payload_len, 0);
	}
	/* an unknown family is not IP, and not an error */
	f.n = 0;
	put32(&f, 7);
	put(&f, "abc", 3);
	T_EQ_INT(dec(&pk, BT_DLT_LOOP, &f), BT_OK);
	T_EQ_INT(pk.l3, BT_PKT_NONE);
	T_EQ_MEM(pk.payload, pk.payload_len, "abc", 3);
}

static void test_raw(void)
{
	struct frame f = { .n = 0 };
	struct bt_pkt pk;

	put_ipv4(&f, 0, 6, 20, 0);
	put_tcp(&f, 1, 2, 3, 4, BT_TCP_RST, 0, "", 0);
	T_EQ_INT(dec(&pk, BT_DLT_RAW, &f), BT_OK);
	T_EQ_INT(pk.l4, BT_PKT_TCP);
	T_EQ_UINT(pk.ip_off, 0);
	T_EQ_INT(dec(&pk, BT_LINKTYPE_RAW, &f), BT_OK);
	T_EQ_INT(pk.l4, BT_PKT_TCP);
	T_EQ_INT(dec(&pk, BT_LINKTYPE_IPV4, &f), BT_OK);
	T_EQ_INT(pk.l4, BT_PKT_TCP);
	T_EQ_INT(dec(&pk, BT_LINKTYPE_IPV6, &f), BT_EINVAL);
	T_EQ_INT(pk.err_layer, BT_PKT_IPV6);
	T_EQ_STR(pk.err, "IPv6 version field not 6");

	f.n = 0;
	put_ipv6(&f, 17, 8 + 2);
	put_udp(&f, 6881, 6881, "d1", 2);
	T_EQ_INT(dec(&pk, BT_DLT_RAW, &f), BT_OK);
	T_EQ_INT(pk.l4, BT_PKT_UDP);
	T_EQ_MEM(pk.payload, pk.payload_len, "d1", 2);
	T_EQ_INT(dec(&pk, BT_LINKTYPE_IPV6, &f), BT_OK);
	T_EQ_INT(pk.l4, BT_PKT_UDP);

	f.b[0] = 0x50;
	T_EQ_INT(dec(&pk, BT_DLT_RAW, &f), BT_EINVAL);
	T_EQ_INT(pk.err_layer, BT_PKT_LINK);
	T_EQ_STR(pk.err, "raw IP version not 4 or 6");
	/* empty: cut by the capture, or really empty */
	T_EQ_INT(bt_pkt_decode(&pk, BT_DLT_RAW, t_guarded("", 0), 0, 40, 0),
		 BT_NEED_MORE);
	T_EQ_INT(pk.err_layer, BT_PKT_LINK);
	T_EQ_INT(bt_pkt_decode(&pk, BT_DLT_RAW, NULL, 0, 0, 0), BT_EINVAL);
}

static void test_unknown(void)
{
	struct frame f;
	struct bt_pkt pk;

	eth_ipv4_tcp(&f);
	T_EQ_INT(dec(&pk, 147, &f), BT_EUNSUPP);   /* DLT_USER0 */
	T_EQ_INT(pk.err_layer, BT_PKT_LINK);
	T_EQ_STR(pk.err, "unknown link type");
	T_EQ_INT(pk.l3, BT_PKT_NONE);

	/* ARP over Ethernet: decoded as far as it goes, no error */
	f.b[12] = 0x08;
	f.b[13] = 0x06;
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_OK);
	T_EQ_UINT(pk.link_proto, 0x0806);
	T_EQ_INT(pk.l3, BT_PKT_NONE);
	T_EQ_UINT(pk.payload_len, 46);

	/* ICMP over IPv4: the IP payload, no transport */
	eth_ipv4_tcp(&f);
	f.b[14 + 9] = 1;
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_OK);
	T_EQ_INT(pk.l4, BT_PKT_NONE);
	T_EQ_UINT(pk.proto, 1);
	T_EQ_UINT(pk.payload_len, 24);
	T_EQ_STR(bt_pkt_layer_name(BT_PKT_PAYLOAD), "payload");
}

/* Cut a frame at every length: each cut must say truncated, at the layer
 * the cut falls in, and keep what was decoded before it. */
static void check_cuts(int lt, const struct frame *f, const size_t *bound,
		       const enum bt_pkt_layer *layer, size_t nb)
{
	struct bt_pkt pk;
	size_t cut, i;

	for (cut = 0; cut < f->n; cut++) {
		int rc = bt_pkt_decode(&pk, lt, reguard(f->b, cut), cut, f->n, 0);

		for (i = 0; i < nb && cut >= bound[i]; i++)
			;
		T_EQ_INT(rc, BT_NEED_MORE);
		if (i == nb) {
			T_FAILF("cut %zu past the last bound", cut);
			return;
		}
		if (pk.err_layer != layer[i])
			T_FAILF("cut %zu: layer %s, expected %s", cut,
				bt_pkt_layer_name(pk.err_layer),
				bt_pkt_layer_name(layer[i]));
		T_CHECK(pk.err != NULL);
		if (layer[i] == BT_PKT_PAYLOAD) {
			/* every header decoded, only payload missing */
			T_EQ_INT(pk.l4, BT_PKT_TCP);
			T_EQ_UINT(pk.payload_len, cut - bound[i - 1]);
			T_EQ_UINT(pk.payload_wirelen, 20);
			T_EQ_MEM(pk.payload, pk.payload_len, PL, pk.payload_len);
		}
		if (t_failed_now)
			return;
	}
	T_EQ_INT(bt_pkt_decode(&pk, lt, t_guarded(f->b, f->n), f->n, f->n, 0), BT_OK);
}

static void test_truncated_every_layer(void)
{
	struct frame f = { .n = 0 };

	/* Ethernet / IPv4 with 8 bytes of options / TCP with 12 / 20 payload */
	put_eth(&f, 0x0800);
	put_ipv4(&f, 8, 6, 32 + 20, 0);
	put_tcp(&f, 1, 2, 3, 4, BT_TCP_ACK, 12, PL, 20);
	{
		static const size_t b[] = { 14, 34, 42, 62, 74, 94 };
		static const enum bt_pkt_layer l[] = {
			BT_PKT_LINK, BT_PKT_IPV4, BT_PKT_IPV4, BT_PKT_TCP,
			BT_PKT_TCP, BT_PKT_PAYLOAD };
		check_cuts(BT_DLT_EN10MB, &f, b, l, 6);
	}

	/* SLL2 / IPv6 / hop-by-hop / TCP (12 bytes options) / 20 payload */
	sll2_ipv6_tcp(&f);
	{
		static const size_t b[] = { 20, 60, 68, 88, 100, 120 };
		static const enum bt_pkt_layer l[] = {
			BT_PKT_LINK, BT_PKT_IPV6, BT_PKT_IPV6, BT_PKT_TCP,
			BT_PKT_TCP, BT_PKT_PAYLOAD };
		check_cuts(BT_DLT_LINUX_SLL2, &f, b, l, 6);
	}

	/* VLAN tag cut and Linux cooked v1 cut */
	f.n = 0;
	put_eth(&f, 0x8100);
	put16(&f, 5);
	put16(&f, 0x86dd);
	put_ipv6(&f, 6, 40);
	put_tcp(&f, 1, 2, 3, 4, BT_TCP_ACK, 0, PL, 20);
	{
		static const size_t b[] = { 14, 18, 58, 78, 98 };
		static const enum bt_pkt_layer l[] = {
			BT_PKT_LINK, BT_PKT_LINK, BT_PKT_IPV6, BT_PKT_TCP,
			BT_PKT_PAYLOAD };
		check_cuts(BT_DLT_EN10MB, &f, b, l, 5);
	}
}

/* The same short frame: cut by the capture (truncated) or really that
 * short (malformed). */
static void test_truncated_vs_invalid(void)
{
	struct frame f;
	struct bt_pkt pk;

	eth_ipv4_tcp(&f);
	T_EQ_INT(bt_pkt_decode(&pk, BT_DLT_EN10MB, t_guarded(f.b, 30), 30, 60, 0),
		 BT_NEED_MORE);
	T_EQ_INT(pk.err_layer, BT_PKT_IPV4);
	T_EQ_UINT(pk.err_off, 14);
	T_EQ_STR(pk.err, "IPv4 header truncated");
	T_EQ_INT(bt_pkt_decode(&pk, BT_DLT_EN10MB, t_guarded(f.b, 30), 30, 30, 0),
		 BT_EINVAL);
	T_EQ_INT(pk.err_layer, BT_PKT_IPV4);
	T_EQ_STR(pk.err, "frame shorter than an IPv4 header");
	T_EQ_INT(bt_pkt_decode(&pk, BT_DLT_EN10MB, t_guarded(f.b, 10), 10, 10, 0),
		 BT_EINVAL);
	T_EQ_INT(pk.err_layer, BT_PKT_LINK);
	T_EQ_STR(pk.err, "frame shorter than an Ethernet header");
	/* whole headers, 2 of 4 payload bytes on the wire: the IP total
	 * length says more than the frame had */
	T_EQ_INT(bt_pkt_decode(&pk, BT_DLT_EN10MB, t_guarded(f.b, 56), 56, 56, 0),
		 BT_EINVAL);
	T_EQ_STR(pk.err, "IPv4 total length beyond the frame");
	/* caplen > wirelen: wirelen is raised */
	T_EQ_INT(bt_pkt_decode(&pk, BT_DLT_EN10MB, t_guarded(f.b, 60), 60, 1, 0), BT_OK);
	T_EQ_UINT(pk.wirelen, 60);
}

static void test_invalid_headers(void)
{
	struct frame f;
	struct bt_pkt pk;

	/* bad IHL: 4 words */
	eth_ipv4_tcp(&f);
	f.b[14] = 0x44;
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_EINVAL);
	T_EQ_INT(pk.err_layer, BT_PKT_IPV4);
	T_EQ_UINT(pk.err_off, 14);
	T_EQ_STR(pk.err, "IPv4 IHL < 5");
	T_EQ_INT(pk.l3, BT_PKT_NONE);
	/* IHL 15 words: 60 bytes, beyond this 60-byte frame's 46 */
	f.b[14] = 0x4f;
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_EINVAL);
	T_EQ_STR(pk.err, "IPv4 IHL beyond the frame");
	/* version 6 in an IPv4 EtherType */
	f.b[14] = 0x65;
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_EINVAL);
	T_EQ_STR(pk.err, "IPv4 version field not 4");
	/* total length < IHL */
	eth_ipv4_tcp(&f);
	f.b[16] = 0;
	f.b[17] = 19;
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_EINVAL);
	T_EQ_STR(pk.err, "IPv4 total length < header length");
	/* total length 0: offloaded segment, length from the frame */
	f.b[17] = 0;
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_OK);
	T_CHECK(pk.ip_len_from_frame);
	T_EQ_UINT(pk.ip_len, 46);
	T_EQ_UINT(pk.payload_len, 6);   /* padding counts: nothing says not */
	/* TCP data offset 4 words, then 15 words (beyond the segment) */
	eth_ipv4_tcp(&f);
	f.b[34 + 12] = 0x40;
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_EINVAL);
	T_EQ_INT(pk.err_layer, BT_PKT_TCP);
	T_EQ_UINT(pk.err_off, 34);
	T_EQ_STR(pk.err, "TCP data offset < 5");
	T_EQ_INT(pk.l3, BT_PKT_IPV4);    /* the IP layer stays decoded */
	T_EQ_INT(pk.l4, BT_PKT_NONE);
	f.b[34 + 12] = 0xf0;
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_EINVAL);
	T_EQ_STR(pk.err, "TCP data offset beyond the segment");
	/* IPv6 payload length beyond the frame */
	sll2_ipv6_tcp(&f);
	f.b[20 + 5] = 61;
	T_EQ_INT(dec(&pk, BT_DLT_LINUX_SLL2, &f), BT_EINVAL);
	T_EQ_INT(pk.err_layer, BT_PKT_IPV6);
	T_EQ_STR(pk.err, "IPv6 payload length beyond the frame");
	/* hop-by-hop header claiming 16 bytes beyond a 60-byte payload */
	sll2_ipv6_tcp(&f);
	f.b[60 + 1] = 10;
	T_EQ_INT(dec(&pk, BT_DLT_LINUX_SLL2, &f), BT_EINVAL);
	T_EQ_INT(pk.err_layer, BT_PKT_IPV6);
	T_EQ_UINT(pk.err_off, 60);
	T_EQ_STR(pk.err, "IPv6 extension header beyond the payload");
}

static void test_ipv4_fragments(void)
{
	struct frame f = { .n = 0 };
	struct bt_pkt pk;

	/* first fragment: MF, offset 0 */
	put_eth(&f, 0x0800);
	put_ipv4(&f, 0, 6, 24, 0x2000);
	put_tcp(&f, 1, 2, 3, 4, BT_TCP_ACK, 0, "abcd", 4);
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_OK);
	T_EQ_INT(pk.l3, BT_PKT_IPV4);
	T_CHECK(pk.frag);
	T_CHECK(pk.frag_more);
	T_EQ_UINT(pk.frag_off, 0);
	T_EQ_UINT(pk.frag_id, 0x1234);
	T_EQ_UINT(pk.proto, 6);
	T_EQ_INT(pk.l4, BT_PKT_NONE);    /* not reassembled, not decoded */
	T_EQ_UINT(pk.payload_len, 24);
	T_EQ_UINT(pk.payload[1], 1);      /* it starts at the TCP header */

	/* last fragment: offset 185 * 8, DF clear, no MF */
	f.n = 0;
	put_eth(&f, 0x0800);
	put_ipv4(&f, 0, 6, 8, 185);
	put(&f, "tailbyte", 8);
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_OK);
	T_CHECK(pk.frag);
	T_CHECK(!pk.frag_more);
	T_EQ_UINT(pk.frag_off, 1480);
	T_EQ_INT(pk.l4, BT_PKT_NONE);
	T_EQ_MEM(pk.payload, pk.payload_len, "tailbyte", 8);

	/* DF alone is not a fragment */
	f.n = 0;
	put_eth(&f, 0x0800);
	put_ipv4(&f, 0, 6, 20, 0x4000);
	put_tcp(&f, 1, 2, 3, 4, BT_TCP_ACK, 0, "", 0);
	T_EQ_INT(dec(&pk, BT_DLT_EN10MB, &f), BT_OK);
	T_CHECK(!pk.frag);
	T_EQ_INT(pk.l4, BT_PKT_TCP);
}

static void test_ipv6_extension_headers(void)
{
	struct frame f = { .n = 0 };
	struct bt_pkt pk;
	static const uint8_t hbh[8] = { 60, 0, 1, 4, 0, 0, 0, 0 };
	static const uint8_t dst[16] = { 51, 1, 1, 12, 0 };
	static const uint8_t ah[12] = { 44, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1 };
	static const uint8_t frag_atomic[8] = { 6, 0, 0, 0, 0, 0, 0, 9 };
	static const uint8_t frag_mid[8] = { 6, 0, 0x05, 0xc9, 0xab, 0xcd, 0, 1 };
	int i;

	/* hop-by-hop, destination options (16), AH (12), atomic fragment,
	 * TCP: all walked */
	put_ipv6(&f, 0, 8 + 16 + 12 + 8 + 20 + 3);
	put(&f, hbh, 8);
	put(&f, dst, 16);
	put(&f, ah, 12);
	put(&f, frag_atomic, 8);
	put_tcp(&f, 7, 8, 9, 10, BT_TCP_ACK, 0, "end", 3);
	T_EQ_INT(dec(&pk, BT_LINKTYPE_IPV6, &f), BT_OK);
	T_EQ_UINT(pk.ip_hlen, 40 + 8 + 16 + 12 + 8);
	T_CHECK(!pk.frag);
	T_EQ_UINT(pk.frag_id, 9);
	T_EQ_INT(pk.l4, BT_PKT_TCP);
	T_EQ_UINT(pk.sport, 7);
	T_EQ_MEM(pk.payload, pk.payload_len, "end", 3);

	/* a middle fragment: offset 0x5c8 bytes, M set */
	f.n = 0;
	put_ipv6(&f, 44, 8 + 5);
	put(&f, frag_mid, 8);
	put(&f, "piece", 5);
	T_EQ_INT(dec(&pk, BT_LINKTYPE_IPV6, &f), BT_OK);
	T_CHECK(pk.frag);
	T_CHECK(pk.frag_more);
	T_EQ_UINT(pk.frag_off, 0x5c8);
	T_EQ_UINT(pk.frag_id, 0xabcd0001u);
	T_EQ_UINT(pk.proto, 6);
	T_EQ_INT(pk.l4, BT_PKT_NONE);
	T_EQ_MEM(pk.payload, pk.payload_len, "piece", 5);

	/* no next header (59): IP only */
	f.n = 0;
	put_ipv6(&f, 59, 0);
	T_EQ_INT(dec(&pk, BT_LINKTYPE_IPV6, &f), BT_OK);
	T_EQ_INT(pk.l4, BT_PKT_NONE);
	T_EQ_UINT(pk.proto, 59);

	/* nine destination-option headers: more than we walk */
	f.n = 0;
	put_ipv6(&f, 60, 9 * 8);
	for (i = 0; i < 9; i++) {
		static const uint8_t d8[8] = { 60, 0, 1, 4, 0, 0, 0, 0 };
		put(&f, d8, 8);
	}
	T_EQ_INT(dec(&pk, BT_LINKTYPE_IPV6, &f), BT_EUNSUPP);
	T_EQ_INT(pk.err_layer, BT_PKT_IPV6);
	T_EQ_UINT(pk.err_off, 40 + 8 * 8);
}

/* xorshift64: deterministic test data */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Hostile input: random frames and mutated valid ones, every link type,
 * random cuts.  Each must give a defined result, read nothing outside the
 * captured bytes (guarded page, ASan), and keep its views inside them. */
static void test_random_and_mutated_frames(void)
{
	static const int lts[] = {
		BT_DLT_EN10MB, BT_DLT_NULL, BT_DLT_LOOP, BT_DLT_RAW,
		BT_LINKTYPE_IPV4, BT_LINKTYPE_IPV6, BT_DLT_LINUX_SLL,
		BT_DLT_LINUX_SLL2,
	};
	struct frame good[3], f;
	uint64_t x = 0x2545f4914f6cdd1dull;
	int i, ok = 0, trunc = 0, bad = 0;

	eth_ipv4_tcp(&good[0]);
	sll2_ipv6_tcp(&good[1]);
	good[2].n = 0;
	put_ipv6(&good[2], 0, 8 + 8 + 20);
	put(&good[2], "\x2c\0\1\4\0\0\0\0", 8);         /* hop-by-hop */
	put(&good[2], "\x11\0\0\0\0\0\0\1", 8);         /* atomic fragment */
	put_udp(&good[2], 1, 2, "twelve bytes", 12);

	for (i = 0; i < 60000; i++) {
		struct bt_pkt pk;
		const uint8_t *g;
		size_t cap, wire, k;
		int lt, rc;

		if (i % 2) {
			size_t which = (size_t)(rnd(&x) % 3);
			static const int glt[3] = { BT_DLT_EN10MB,
				BT_DLT_LINUX_SLL2, BT_LINKTYPE_IPV6 };
			f = good[which];
			lt = glt[which];
			for (k = 1 + rnd(&x) % 3; k > 0; k--) {
				size_t at = (size_t)(rnd(&x) % f.n);
				f.b[at] ^= (uint8_t)(1u << (rnd(&x) % 8));
			}
		} else {
			lt = lts[rnd(&x) % (sizeof(lts) / sizeof(lts[0]))];
			f.n = (size_t)(rnd(&x) % 120);
			for (k = 0; k < f.n; k++)
				f.b[k] = (uint8_t)rnd(&x);
			/* often a plausible start, so decoding gets deep */
			if (f.n > 20 && rnd(&x) % 2)
				f.b[lt == BT_DLT_EN10MB ? 14 % f.n : 0] = 0x45;
		}
		cap = f.n ? (size_t)(rnd(&x) % (f.n + 1)) : 0;
		wire = rnd(&x) % 4 ? f.n : cap + (size_t)(rnd(&x) % 100);
		g = reguard(f.b, cap);
		rc = bt_pkt_decode(&pk, lt, g, cap, wire, 0);
		if (rc == BT_OK)
			ok++;
		else if (rc == BT_NEED_MORE)
			trunc++;
		else if (rc == BT_EINVAL || rc == BT_EUNSUPP)
			bad++;
		else
			T_FAILF("frame %d: result %d", i, rc);
		if (rc != BT_OK && (!pk.err || pk.err_off > cap))
			T_FAILF("frame %d: error without a reason or offset", i);
		if (pk.payload && (pk.payload < g || pk.payload + pk.payload_len > g + cap ||
				   pk.payload_len > pk.payload_wirelen))
			T_FAILF("frame %d: payload view outside the frame", i);
		if (t_failed_now)
			return;
	}
	/* all three outcomes were exercised */
	T_CHECK(ok > 1000 && trunc > 1000 && bad > 1000);
}

int main(void)
{
	T_RUN(test_eth_ipv4_tcp);
	T_RUN(test_vlan);
	T_RUN(test_sll2_ipv6_tcp);
	T_RUN(test_sll_ipv4_udp);
	T_RUN(test_bsd_loopback);
	T_RUN(test_raw);
	T_RUN(test_unknown);
	T_RUN(test_truncated_every_layer);
	T_RUN(test_truncated_vs_invalid);
	T_RUN(test_invalid_headers);
	T_RUN(test_ipv4_fragments);
	T_RUN(test_ipv6_extension_headers);
	T_RUN(test_random_and_mutated_frames);
	return T_DONE();
}
