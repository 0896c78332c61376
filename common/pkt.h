/* pkt.h — decode one captured frame: link layer, IPv4/IPv6, TCP or UDP.
 *
 * The capture tool reads frames with libpcap and hands each one here as
 * (link type, bytes, caplen, wirelen, timestamp); this module never sees a
 * pcap handle.  bt_pkt_decode fills a struct bt_pkt as far as it gets and
 * says why it stopped:
 *
 *   BT_OK         every header present was decoded (a non-IP frame, an IP
 *                 fragment or another transport stops early: see l3, l4,
 *                 frag)
 *   BT_NEED_MORE  truncated: a header or payload needed bytes the frame
 *                 had on the wire but the capture cut (caplen < wirelen)
 *   BT_EINVAL     malformed: a header contradicts itself or the frame
 *   BT_EUNSUPP    a link type (or encapsulation) this module does not know
 *
 * On an error err_layer names the layer, err_off the frame offset of the
 * header that failed and err a static string naming the rule.  Layers
 * decoded before the failure stay valid: on BT_NEED_MORE with err_layer ==
 * BT_PKT_PAYLOAD every header was decoded and only payload bytes are
 * missing (payload_len < payload_wirelen); such a TCP segment can still go
 * to the flow table, which reports the missing bytes as a gap.
 *
 * IP checksums are not verified (outgoing packets are captured before the
 * NIC fills them in), fragments are flagged and not reassembled.
 *
 * Views (payload, tcp_opt) point into the caller's frame and live as long
 * as it does. */
#ifndef BT_PKT_H
#define BT_PKT_H

#include "bt.h"

/* Link types, as pcap_datalink() returns them on Linux; the file-format
 * LINKTYPE_ numbers are accepted too where they differ. */
#define BT_DLT_NULL        0   /* BSD loopback, family in host byte order */
#define BT_DLT_EN10MB      1   /* Ethernet, 802.1Q/802.1ad tags */
#define BT_DLT_RAW         12  /* raw IPv4 or IPv6 (DLT_RAW on Linux) */
#define BT_LINKTYPE_RAW    101 /* the same in a pcap file header */
#define BT_DLT_LOOP        108 /* BSD loopback, family in network order */
#define BT_DLT_LINUX_SLL   113 /* Linux cooked capture v1 */
#define BT_LINKTYPE_IPV4   228
#define BT_LINKTYPE_IPV6   229
#define BT_DLT_LINUX_SLL2  276 /* Linux cooked capture v2 ("-i any") */

#define BT_PKT_MAX_VLAN    4   /* stacked VLAN tags accepted */
#define BT_PKT_MAX_EXTHDR  8   /* IPv6 extension headers walked */

enum bt_pkt_layer {
	BT_PKT_NONE = 0,
	BT_PKT_LINK,
	BT_PKT_IPV4,
	BT_PKT_IPV6,
	BT_PKT_TCP,
	BT_PKT_UDP,
	BT_PKT_PAYLOAD,  /* only as err_layer: transport payload cut */
};

/* TCP flag bits (byte 13 of the header). */
#define BT_TCP_FIN 0x01
#define BT_TCP_SYN 0x02
#define BT_TCP_RST 0x04
#define BT_TCP_PSH 0x08
#define BT_TCP_ACK 0x10
#define BT_TCP_URG 0x20
#define BT_TCP_ECE 0x40
#define BT_TCP_CWR 0x80

/* An IP address: family 4 (a[0..3], rest zero) or 6; 0 = none. */
struct bt_pkt_addr {
	uint8_t family;
	uint8_t a[16];
};

struct bt_pkt {
	uint64_t ts_us;             /* as given */
	size_t caplen, wirelen;     /* as given (wirelen raised to caplen) */

	/* link layer */
	int linktype;
	uint32_t link_proto;        /* EtherType (after VLAN tags), SLL
				       protocol, or BSD address family */
	uint8_t nvlan;              /* VLAN tags crossed, outermost first */
	uint16_t vlan[BT_PKT_MAX_VLAN];  /* their 12-bit VLAN ids */
	uint16_t sll_pkttype;       /* cooked: 0 to us, 4 outgoing, ... */
	uint32_t sll_ifindex;       /* cooked v2 only */

	/* network layer; valid when l3 != BT_PKT_NONE */
	enum bt_pkt_layer l3;       /* BT_PKT_IPV4, BT_PKT_IPV6 or NONE */
	struct bt_pkt_addr src, dst;
	uint8_t proto;              /* transport protocol (after IPv6
				       extension headers): 6 TCP, 17 UDP */
	uint8_t ttl;                /* TTL or hop limit */
	size_t ip_off;              /* frame offset of the IP header */
	size_t ip_hlen;             /* IPv4 header with options; IPv6 fixed
				       header plus extension headers */
	size_t ip_len;              /* IPv4 total length; IPv6 40 + payload
				       length; from the frame if the header
				       says 0 (segmentation offload, jumbo) */
	bool ip_len_from_frame;     /* the header said 0 */
	bool frag;                  /* a fragment: transport not decoded */
	bool frag_more;             /* MF set */
	uint32_t frag_off;          /* fragment offset in bytes */
	uint32_t frag_id;           /* IPv4 id or IPv6 fragment id */

	/* transport layer; valid when l4 != BT_PKT_NONE */
	enum bt_pkt_layer l4;       /* BT_PKT_TCP, BT_PKT_UDP or NONE */
	uint16_t sport, dport;
	uint32_t seq, ack;          /* TCP */
	uint8_t tcp_flags;          /* BT_TCP_* */
	uint16_t tcp_win;           /* unscaled */
	size_t l4_off;              /* frame offset of the TCP/UDP header */
	size_t l4_hlen;             /* TCP header with options; 8 for UDP */
	const uint8_t *tcp_opt;     /* TCP options, tcp_optlen bytes */
	size_t tcp_optlen;
	uint16_t udp_len;           /* as declared */

	/* What the last decoded layer carries: the TCP/UDP payload, the IP
	 * payload of a fragment or another protocol, or the link payload of
	 * a non-IP frame.  payload_len bytes were captured, payload_wirelen
	 * were on the wire (from the IP/UDP lengths; Ethernet padding
	 * excluded). */
	const uint8_t *payload;
	size_t payload_len;
	size_t payload_wirelen;

	/* on a result other than BT_OK */
	enum bt_pkt_layer err_layer;
	size_t err_off;
	const char *err;
};

/* Decode frame[0..caplen) of a frame that was wirelen bytes long.  Fills
 * *pk (zeroing it first) and returns BT_OK, BT_NEED_MORE, BT_EINVAL or
 * BT_EUNSUPP as described above.  Reads only frame[0..caplen). */
int bt_pkt_decode(struct bt_pkt *pk, int linktype, const uint8_t *frame,
		  size_t caplen, size_t wirelen, uint64_t ts_us);

/* "link", "IPv4", "IPv6", "TCP", "UDP", "payload" or "none". */
const char *bt_pkt_layer_name(enum bt_pkt_layer l);

#endif
