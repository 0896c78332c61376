/* One captured frame (pkt.h), every link type.
 *
 * Input: a link type selector (byte 0, index into the link types below),
 * how many bytes the capture cut (byte 1: wirelen = caplen + 4 * b),
 * then the frame, copied to a buffer of exactly caplen bytes.
 *
 * Properties: the result is one of the four documented; every view and
 * every header offset lies inside the captured bytes; payload_len <=
 * payload_wirelen, equal on BT_OK when a transport was decoded; an error
 * names its layer and rule.  The same frame cut shorter (caplen halved,
 * wirelen kept) decodes the same headers whenever they were captured,
 * and then reports at most a truncation. */
#include "fuzz.h"
#include "pkt.h"

static const int linktypes[] = {
	BT_DLT_NULL, BT_DLT_EN10MB, BT_DLT_RAW, BT_LINKTYPE_RAW, BT_DLT_LOOP,
	BT_DLT_LINUX_SLL, BT_LINKTYPE_IPV4, BT_LINKTYPE_IPV6, BT_DLT_LINUX_SLL2,
	147, /* a link type we do not know */
};
#define NLT (sizeof linktypes / sizeof linktypes[0])

static void check(const struct bt_pkt *pk, int rc, const uint8_t *f,
		  size_t caplen, size_t wirelen)
{
	FUZZ_CHECK(rc == BT_OK || rc == BT_NEED_MORE || rc == BT_EINVAL ||
		   rc == BT_EUNSUPP);
	FUZZ_CHECK(pk->caplen == caplen && pk->wirelen == wirelen);
	if (rc != BT_OK) {
		FUZZ_CHECK(pk->err != NULL && pk->err_layer != BT_PKT_NONE);
		FUZZ_CHECK(pk->err_off <= caplen);
		FUZZ_CHECK(bt_pkt_layer_name(pk->err_layer) != NULL);
	}
	if (rc == BT_NEED_MORE)
		FUZZ_CHECK(caplen < wirelen);
	if (pk->l3 != BT_PKT_NONE) {
		FUZZ_CHECK(pk->l3 == BT_PKT_IPV4 || pk->l3 == BT_PKT_IPV6);
		FUZZ_CHECK(pk->ip_off + pk->ip_hlen <= caplen);
		FUZZ_CHECK(pk->ip_hlen >= (pk->l3 == BT_PKT_IPV4 ? 20u : 40u));
		FUZZ_CHECK(pk->src.family == (pk->l3 == BT_PKT_IPV4 ? 4 : 6));
		FUZZ_CHECK(pk->ip_off + pk->ip_len <= wirelen);
	}
	if (pk->l4 != BT_PKT_NONE) {
		FUZZ_CHECK(pk->l3 != BT_PKT_NONE && !pk->frag);
		FUZZ_CHECK(pk->l4_off >= pk->ip_off + pk->ip_hlen);
		FUZZ_CHECK(pk->l4_off + pk->l4_hlen <= caplen);
		if (pk->l4 == BT_PKT_TCP) {
			FUZZ_CHECK(pk->proto == 6 && pk->l4_hlen >= 20);
			FUZZ_CHECK(pk->tcp_opt == f + pk->l4_off + 20);
			FUZZ_CHECK(pk->tcp_optlen == pk->l4_hlen - 20);
		} else {
			FUZZ_CHECK(pk->l4 == BT_PKT_UDP && pk->proto == 17);
			FUZZ_CHECK(pk->l4_hlen == 8);
		}
		FUZZ_CHECK(pk->payload == f + pk->l4_off + pk->l4_hlen);
		if (rc == BT_OK)
			FUZZ_CHECK(pk->payload_len == pk->payload_wirelen);
	}
	if (pk->payload) {
		FUZZ_CHECK(fz_inside(pk->payload, pk->payload_len, f, caplen));
		FUZZ_CHECK(pk->payload_len <= pk->payload_wirelen);
		FUZZ_CHECK((size_t)(pk->payload - f) + pk->payload_wirelen <= wirelen);
	}
	FUZZ_CHECK(pk->nvlan <= BT_PKT_MAX_VLAN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z;
	int lt;
	size_t cut, caplen, wirelen, half;
	const uint8_t *q;
	uint8_t *f, *g;
	struct bt_pkt pk, pk2;
	int rc, rc2;

	fz_init(&z, data, size);
	lt = linktypes[fz_u8(&z) % NLT];
	cut = (size_t)fz_u8(&z) * 4;
	q = fz_bytes(&z, z.left, &caplen);
	f = fz_dup(q, caplen);
	wirelen = caplen + cut;

	rc = bt_pkt_decode(&pk, lt, f, caplen, wirelen, 42);
	check(&pk, rc, f, caplen, wirelen);
	FUZZ_CHECK(pk.ts_us == 42 && pk.linktype == lt);

	/* Cut the capture in half. */
	half = caplen / 2;
	g = fz_dup(f, half);
	rc2 = bt_pkt_decode(&pk2, lt, g, half, wirelen, 42);
	check(&pk2, rc2, g, half, wirelen);
	if ((rc == BT_OK || rc == BT_NEED_MORE) && pk.l4 != BT_PKT_NONE &&
	    pk.l4_off + pk.l4_hlen <= half) {
		FUZZ_CHECK(rc2 == BT_OK || rc2 == BT_NEED_MORE);
		FUZZ_CHECK(pk2.l3 == pk.l3 && pk2.l4 == pk.l4);
		FUZZ_CHECK(pk2.sport == pk.sport && pk2.dport == pk.dport);
		FUZZ_CHECK(pk2.seq == pk.seq && pk2.tcp_flags == pk.tcp_flags);
		FUZZ_CHECK(pk2.payload_wirelen == pk.payload_wirelen);
		FUZZ_CHECK(pk2.payload_len <= pk.payload_len);
		FUZZ_CHECK(memcmp(&pk2.src, &pk.src, sizeof pk.src) == 0);
		FUZZ_CHECK(memcmp(&pk2.dst, &pk.dst, sizeof pk.dst) == 0);
	}
	/* Without a frame at all. */
	rc2 = bt_pkt_decode(&pk2, lt, NULL, 0, 0, 0);
	FUZZ_CHECK(rc2 != BT_OK || lt == 147 || pk2.l3 == BT_PKT_NONE);
	free(f);
	free(g);
	return 0;
}
