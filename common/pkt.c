/* pkt.c — one captured frame to struct bt_pkt.  See pkt.h. */
#include "pkt.h"
#include "rd.h"

#include <string.h>

/* A cursor over the frame that knows two ends: the captured bytes (r) and
 * the bytes that were on the wire (wire, counted from r.p).  A header that
 * ends beyond the wire is malformed; one that ends within the wire but
 * beyond the capture is truncated. */
struct cur {
	struct bt_rd r;
	size_t wire;          /* >= bt_rd_left(&r) */
	const uint8_t *base;  /* frame start, for error offsets */
};

static size_t cur_off(const struct cur *c)
{
	return (size_t)(c->r.p - c->base);
}

static int need(const struct cur *c, size_t n)
{
	if (n > c->wire)
		return BT_EINVAL;
	if (n > bt_rd_left(&c->r))
		return BT_NEED_MORE;
	return BT_OK;
}

/* Consume n bytes already checked with need(). */
static void skip(struct cur *c, size_t n)
{
	bt_rd_skip(&c->r, n);
	c->wire -= n;
}

/* Restrict the cursor to the next n bytes (n <= c->wire, checked by the
 * caller): drops Ethernet padding and bytes past a declared length. */
static void limit(struct cur *c, size_t n)
{
	if (bt_rd_left(&c->r) > n)
		c->r.end = c->r.p + n;
	c->wire = n;
}

static int fail(struct bt_pkt *pk, int rc, enum bt_pkt_layer layer,
		size_t off, const char *why)
{
	pk->err_layer = layer;
	pk->err_off = off;
	pk->err = why;
	return rc;
}

/* need(c, n) with the error filled in: trunc for a snaplen cut, bad for a
 * frame that really is too short. */
static int need_hdr(struct bt_pkt *pk, const struct cur *c, size_t n,
		    enum bt_pkt_layer layer, const char *trunc, const char *bad)
{
	int rc = need(c, n);

	if (rc == BT_OK)
		return BT_OK;
	return fail(pk, rc, layer, cur_off(c), rc == BT_NEED_MORE ? trunc : bad);
}

/* Whatever is left is the payload of the last layer decoded. */
static void set_payload(struct bt_pkt *pk, const struct cur *c)
{
	pk->payload = c->r.p;
	pk->payload_len = bt_rd_left(&c->r);
	pk->payload_wirelen = c->wire;
}

/* A transport payload shorter than the wire said was cut by the snaplen. */
static int transport_payload(struct bt_pkt *pk, const struct cur *c)
{
	set_payload(pk, c);
	if (pk->payload_len < pk->payload_wirelen)
		return fail(pk, BT_NEED_MORE, BT_PKT_PAYLOAD, cur_off(c),
			    "payload cut by the snapshot length");
	return BT_OK;
}

static int dec_tcp(struct bt_pkt *pk, struct cur *c)
{
	const uint8_t *h = c->r.p;
	size_t doff;
	int rc;

	pk->l4_off = cur_off(c);
	rc = need_hdr(pk, c, 20, BT_PKT_TCP, "TCP header truncated",
		      "segment shorter than a TCP header");
	if (rc)
		return rc;
	doff = (size_t)(h[12] >> 4) * 4;
	if (doff < 20)
		return fail(pk, BT_EINVAL, BT_PKT_TCP, pk->l4_off,
			    "TCP data offset < 5");
	rc = need_hdr(pk, c, doff, BT_PKT_TCP, "TCP options truncated",
		      "TCP data offset beyond the segment");
	if (rc)
		return rc;
	pk->l4 = BT_PKT_TCP;
	pk->sport = bt_load_u16be(h);
	pk->dport = bt_load_u16be(h + 2);
	pk->seq = bt_load_u32be(h + 4);
	pk->ack = bt_load_u32be(h + 8);
	pk->tcp_flags = h[13];
	pk->tcp_win = bt_load_u16be(h + 14);
	pk->l4_hlen = doff;
	pk->tcp_opt = h + 20;
	pk->tcp_optlen = doff - 20;
	skip(c, doff);
	return transport_payload(pk, c);
}

static int dec_udp(struct bt_pkt *pk, struct cur *c)
{
	const uint8_t *h = c->r.p;
	size_t ulen;
	int rc;

	pk->l4_off = cur_off(c);
	rc = need_hdr(pk, c, 8, BT_PKT_UDP, "UDP header truncated",
		      "datagram shorter than a UDP header");
	if (rc)
		return rc;
	pk->udp_len = bt_load_u16be(h + 4);
	ulen = pk->udp_len;
	if (ulen == 0 && pk->ip_len_from_frame) {
		/* RFC 2675: a jumbogram's UDP length is 0; the IP layer
		 * already bounded the datagram by the frame. */
		ulen = c->wire;
	} else if (ulen < 8) {
		return fail(pk, BT_EINVAL, BT_PKT_UDP, pk->l4_off, "UDP length < 8");
	} else if (ulen > c->wire) {
		return fail(pk, BT_EINVAL, BT_PKT_UDP, pk->l4_off,
			    "UDP length beyond the IP datagram");
	}
	pk->l4 = BT_PKT_UDP;
	pk->sport = bt_load_u16be(h);
	pk->dport = bt_load_u16be(h + 2);
	pk->l4_hlen = 8;
	limit(c, ulen);
	skip(c, 8);
	return transport_payload(pk, c);
}

static int dec_transport(struct bt_pkt *pk, struct cur *c)
{
	switch (pk->proto) {
	case 6:
		return dec_tcp(pk, c);
	case 17:
		return dec_udp(pk, c);
	}
	set_payload(pk, c);
	return BT_OK;
}

static int dec_ipv4(struct bt_pkt *pk, struct cur *c)
{
	const uint8_t *h = c->r.p;
	size_t ihl, tot;
	uint16_t fl;
	int rc;

	pk->ip_off = cur_off(c);
	rc = need_hdr(pk, c, 20, BT_PKT_IPV4, "IPv4 header truncated",
		      "frame shorter than an IPv4 header");
	if (rc)
		return rc;
	if (h[0] >> 4 != 4)
		return fail(pk, BT_EINVAL, BT_PKT_IPV4, pk->ip_off,
			    "IPv4 version field not 4");
	ihl = (size_t)(h[0] & 0x0f) * 4;
	if (ihl < 20)
		return fail(pk, BT_EINVAL, BT_PKT_IPV4, pk->ip_off, "IPv4 IHL < 5");
	rc = need_hdr(pk, c, ihl, BT_PKT_IPV4, "IPv4 options truncated",
		      "IPv4 IHL beyond the frame");
	if (rc)
		return rc;
	tot = bt_load_u16be(h + 2);
	if (tot == 0) {
		/* Segmentation offload: the stack hands the capture one
		 * large packet whose length field it leaves 0. */
		tot = c->wire;
		pk->ip_len_from_frame = true;
	} else if (tot < ihl) {
		return fail(pk, BT_EINVAL, BT_PKT_IPV4, pk->ip_off,
			    "IPv4 total length < header length");
	} else if (tot > c->wire) {
		return fail(pk, BT_EINVAL, BT_PKT_IPV4, pk->ip_off,
			    "IPv4 total length beyond the frame");
	}
	pk->l3 = BT_PKT_IPV4;
	pk->src.family = pk->dst.family = 4;
	memcpy(pk->src.a, h + 12, 4);
	memcpy(pk->dst.a, h + 16, 4);
	pk->frag_id = bt_load_u16be(h + 4);
	fl = bt_load_u16be(h + 6);
	pk->frag_more = (fl & 0x2000) != 0;
	pk->frag_off = (uint32_t)(fl & 0x1fff) * 8;
	pk->frag = pk->frag_more || pk->frag_off;
	pk->ttl = h[8];
	pk->proto = h[9];
	pk->ip_hlen = ihl;
	pk->ip_len = tot;
	limit(c, tot);
	skip(c, ihl);
	if (pk->frag) {
		set_payload(pk, c);
		return BT_OK;
	}
	return dec_transport(pk, c);
}

/* Extension headers with the generic (next header, length in 8-octet units
 * beyond the first) layout. */
static bool ipv6_generic_ext(uint8_t nh)
{
	switch (nh) {
	case 0:   /* hop-by-hop options */
	case 43:  /* routing */
	case 60:  /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
		return true;
	}
	return false;
}

static int dec_ipv6(struct bt_pkt *pk, struct cur *c)
{
	const uint8_t *h = c->r.p;
	size_t plen;
	uint8_t nh;
	int i, rc;

	pk->ip_off = cur_off(c);
	rc = need_hdr(pk, c, 40, BT_PKT_IPV6, "IPv6 header truncated",
		      "frame shorter than an IPv6 header");
	if (rc)
		return rc;
	if (h[0] >> 4 != 6)
		return fail(pk, BT_EINVAL, BT_PKT_IPV6, pk->ip_off,
			    "IPv6 version field not 6");
	plen = bt_load_u16be(h + 4);
	nh = h[6];
	if (plen == 0 && nh == 0) {
		/* A jumbogram (RFC 2675) or a big-TCP packet: the length
		 * is in a hop-by-hop option or nowhere; use the frame. */
		plen = c->wire - 40;
		pk->ip_len_from_frame = true;
	} else if (plen > c->wire - 40) {
		return fail(pk, BT_EINVAL, BT_PKT_IPV6, pk->ip_off,
			    "IPv6 payload length beyond the frame");
	}
	pk->l3 = BT_PKT_IPV6;
	pk->src.family = pk->dst.family = 6;
	memcpy(pk->src.a, h + 8, 16);
	memcpy(pk->dst.a, h + 24, 16);
	pk->ttl = h[7];
	pk->ip_len = 40 + plen;
	pk->ip_hlen = 40;
	limit(c, 40 + plen);
	skip(c, 40);

	for (i = 0;; i++) {
		const uint8_t *e = c->r.p;
		size_t elen;

		if (nh != 44 && nh != 51 && !ipv6_generic_ext(nh))
			break;
		if (i == BT_PKT_MAX_EXTHDR)
			return fail(pk, BT_EUNSUPP, BT_PKT_IPV6, cur_off(c),
				    "too many IPv6 extension headers");
		rc = need_hdr(pk, c, nh == 44 ? 8 : 2, BT_PKT_IPV6,
			      "IPv6 extension header truncated",
			      "IPv6 extension header beyond the payload");
		if (rc)
			return rc;
		if (nh == 44) {
			uint16_t fo = bt_load_u16be(e + 2);

			pk->frag_off = fo & 0xfff8u;
			pk->frag_more = (fo & 1) != 0;
			pk->frag_id = bt_load_u32be(e + 4);
			elen = 8;
		} else if (nh == 51) {
			elen = ((size_t)e[1] + 2) * 4;   /* AH: 4-octet units */
		} else {
			elen = ((size_t)e[1] + 1) * 8;
		}
		rc = need_hdr(pk, c, elen, BT_PKT_IPV6,
			      "IPv6 extension header truncated",
			      "IPv6 extension header beyond the payload");
		if (rc)
			return rc;
		nh = e[0];
		skip(c, elen);
		pk->ip_hlen += elen;
		if (pk->frag_off || pk->frag_more) {
			pk->frag = true;
			pk->proto = nh;
			set_payload(pk, c);
			return BT_OK;
		}
		/* an atomic fragment (offset 0, no M) is a whole datagram */
	}
	pk->proto = nh;
	return dec_transport(pk, c);
}

static int dec_ethertype(struct bt_pkt *pk, struct cur *c, uint16_t type)
{
	int rc;

	while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
		const uint8_t *t = c->r.p;

		if (pk->nvlan == BT_PKT_MAX_VLAN)
			return fail(pk, BT_EUNSUPP, BT_PKT_LINK, cur_off(c),
				    "too many VLAN tags");
		rc = need_hdr(pk, c, 4, BT_PKT_LINK, "VLAN tag truncated",
			      "frame shorter than its VLAN tag");
		if (rc)
			return rc;
		pk->vlan[pk->nvlan++] = bt_load_u16be(t) & 0x0fff;
		type = bt_load_u16be(t + 2);
		skip(c, 4);
	}
	pk->link_proto = type;
	if (type == 0x0800)
		return dec_ipv4(pk, c);
	if (type == 0x86dd)
		return dec_ipv6(pk, c);
	set_payload(pk, c);   /* ARP, LLC, ...: not ours, not an error */
	return BT_OK;
}

/* BSD loopback: a 4-byte address family, in the capturing host's byte
 * order (DLT_NULL) or network order (DLT_LOOP); accept either in both,
 * since files move between hosts.  No family fits in 16 bits swapped. */
static int dec_bsd_loop(struct bt_pkt *pk, struct cur *c)
{
	const uint8_t *h = c->r.p;
	uint32_t fam;
	int rc;

	rc = need_hdr(pk, c, 4, BT_PKT_LINK, "loopback header truncated",
		      "frame shorter than a loopback header");
	if (rc)
		return rc;
	fam = bt_load_u32be(h);
	if (fam > 0xffff)
		fam = (uint32_t)h[3] << 24 | (uint32_t)h[2] << 16 |
		      (uint32_t)h[1] << 8 | h[0];
	pk->link_proto = fam;
	skip(c, 4);
	switch (fam) {
	case 2:                      /* AF_INET everywhere */
		return dec_ipv4(pk, c);
	case 10:                     /* AF_INET6: Linux */
	case 24:                     /* NetBSD, OpenBSD, BSD/OS */
	case 28:                     /* FreeBSD, DragonFly */
	case 30:                     /* macOS */
		return dec_ipv6(pk, c);
	}
	set_payload(pk, c);
	return BT_OK;
}

/* Raw IP: the version nibble says which. */
static int dec_raw(struct bt_pkt *pk, struct cur *c)
{
	int rc = need_hdr(pk, c, 1, BT_PKT_LINK, "empty capture of a raw IP frame",
			  "empty raw IP frame");

	if (rc)
		return rc;
	switch (c->r.p[0] >> 4) {
	case 4:
		pk->link_proto = 0x0800;
		return dec_ipv4(pk, c);
	case 6:
		pk->link_proto = 0x86dd;
		return dec_ipv6(pk, c);
	}
	return fail(pk, BT_EINVAL, BT_PKT_LINK, 0, "raw IP version not 4 or 6");
}

int bt_pkt_decode(struct bt_pkt *pk, int linktype, const uint8_t *frame,
		  size_t caplen, size_t wirelen, uint64_t ts_us)
{
	static const uint8_t none[1];
	struct cur c;
	const uint8_t *h;
	int rc;

	memset(pk, 0, sizeof(*pk));
	if (!frame) {
		frame = none;
		caplen = 0;
	}
	if (wirelen < caplen)
		wirelen = caplen;
	pk->ts_us = ts_us;
	pk->caplen = caplen;
	pk->wirelen = wirelen;
	pk->linktype = linktype;
	bt_rd_init(&c.r, frame, caplen);
	c.wire = wirelen;
	c.base = frame;
	h = frame;

	switch (linktype) {
	case BT_DLT_EN10MB:
		rc = need_hdr(pk, &c, 14, BT_PKT_LINK, "Ethernet header truncated",
			      "frame shorter than an Ethernet header");
		if (rc)
			return rc;
		skip(&c, 14);
		return dec_ethertype(pk, &c, bt_load_u16be(h + 12));
	case BT_DLT_NULL:
	case BT_DLT_LOOP:
		return dec_bsd_loop(pk, &c);
	case BT_DLT_RAW:
	case BT_LINKTYPE_RAW:
		return dec_raw(pk, &c);
	case BT_LINKTYPE_IPV4:
		pk->link_proto = 0x0800;
		return dec_ipv4(pk, &c);
	case BT_LINKTYPE_IPV6:
		pk->link_proto = 0x86dd;
		return dec_ipv6(pk, &c);
	case BT_DLT_LINUX_SLL:
		rc = need_hdr(pk, &c, 16, BT_PKT_LINK, "cooked header truncated",
			      "frame shorter than a cooked header");
		if (rc)
			return rc;
		pk->sll_pkttype = bt_load_u16be(h);
		skip(&c, 16);
		return dec_ethertype(pk, &c, bt_load_u16be(h + 14));
	case BT_DLT_LINUX_SLL2:
		rc = need_hdr(pk, &c, 20, BT_PKT_LINK, "cooked v2 header truncated",
			      "frame shorter than a cooked v2 header");
		if (rc)
			return rc;
		pk->sll_ifindex = bt_load_u32be(h + 4);
		pk->sll_pkttype = h[10];
		skip(&c, 20);
		return dec_ethertype(pk, &c, bt_load_u16be(h));
	}
	return fail(pk, BT_EUNSUPP, BT_PKT_LINK, 0, "unknown link type");
}

const char *bt_pkt_layer_name(enum bt_pkt_layer l)
{
	switch (l) {
	case BT_PKT_NONE:    return "none";
	case BT_PKT_LINK:    return "link";
	case BT_PKT_IPV4:    return "IPv4";
	case BT_PKT_IPV6:    return "IPv6";
	case BT_PKT_TCP:     return "TCP";
	case BT_PKT_UDP:     return "UDP";
	case BT_PKT_PAYLOAD: return "payload";
	}
	return "none";
}
