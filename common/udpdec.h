/* udpdec.h — UDP tracker traffic in a capture (BEP 15, with BEP 41's
 * URLData option).
 *
 * UDP has no connection to follow, so the decoder keeps conversations: a
 * client and a tracker endpoint, opened by a connect request (the
 * protocol id 0x41727101980 and action 0, which nothing else sends) or by
 * any datagram to or from a forced port (bt-decode -d PORT).  Every later
 * datagram between the two is decoded as a request (client to tracker)
 * or a response, and becomes a tracker record (trkrec.h).  Responses are
 * matched to the requests they answer by transaction id, so a scrape
 * answer can name the info-hashes it counts (the tracker does not repeat
 * them) and an answer to nothing we saw is flagged.
 *
 * Memory: at most max_conv conversations (the least recently active one
 * makes room), each remembering its last BT_UDPDEC_PENDING requests; the
 * info-hashes of pending scrapes are charged to the caller's budget.
 * Records' views live during the callback.  Nothing here prints. */
#ifndef BT_UDPDEC_H
#define BT_UDPDEC_H

#include "budget.h"
#include "pkt.h"
#include "trkrec.h"

#define BT_UDPDEC_DEF_CONV 1024u  /* conversations kept */
#define BT_UDPDEC_PENDING  4      /* requests remembered per conversation */

typedef void bt_udpdec_rec_fn(void *ctx, const struct bt_dec_trk *t);

struct bt_udpdec_conv;     /* udpdec.c's own */
struct bt_udpdec_scratch;

struct bt_udpdec {
	struct bt_budget *mem;
	const uint16_t *force;        /* forced ports (the caller's array) */
	size_t nforce;
	/* out: counters */
	uint64_t packets;             /* datagrams of a conversation */
	uint64_t convs;               /* conversations opened */
	/* udpdec.c's own */
	struct bt_udpdec_conv *v, **b;
	size_t cap, n, nb;
	uint64_t ids;
	struct bt_udpdec_scratch *x;
};

/* max_conv 0: BT_UDPDEC_DEF_CONV.  force[0..nforce) must outlive u.
 * Returns 0 or -ENOMEM (u may then be bt_udpdec_free'd). */
int bt_udpdec_init(struct bt_udpdec *u, struct bt_budget *mem, size_t max_conv,
		   const uint16_t *force, size_t nforce);

/* One UDP datagram (pk->l4 == BT_PKT_UDP, payload whole).  If it belongs
 * to a tracker conversation, or opens one, its record goes to rec and the
 * call returns true; other datagrams are left alone (false). */
bool bt_udpdec_packet(struct bt_udpdec *u, const struct bt_pkt *pk,
		      bt_udpdec_rec_fn *rec, void *ctx);

void bt_udpdec_free(struct bt_udpdec *u);

#endif
