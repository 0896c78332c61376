/* The capture path of bt-decode, from a pcap file in memory: libpcap
 * reads the records, bt_pkt_decode each frame, TCP segments go to the
 * flow table, and each direction's reassembled stream goes to a peer-wire
 * framer (handshake first; after a GAP the framer restarts without one)
 * whose messages are parsed with bt_msg_parse.
 *
 * Properties: no crash, no leak; the flow table never delivers more bytes
 * than the capture held; every flow opened is released; every frame the
 * framer returns parses. */
#include "fuzz.h"
#include "flow.h"
#include "pkt.h"
#include "wire.h"

#include <pcap/pcap.h>

#define FMAX 4096u

struct user {
	struct bt_framer fr[2];
	uint8_t buf[2][BT_FRAMER_BUF_LEN(FMAX)];
	bool dead[2];
};

static struct {
	uint64_t fed, got;
	size_t opened, released;
} S;

static void frame_bytes(struct user *u, int dir, const uint8_t *p, size_t len)
{
	struct bt_frame out;
	long rc;

	while (len && !u->dead[dir]) {
		rc = bt_framer_feed(&u->fr[dir], p, len, &out);
		if (rc < 0) {
			u->dead[dir] = true;   /* sticky error: a tool resyncs */
			return;
		}
		FUZZ_CHECK((size_t)rc <= len);
		if (out.kind == BT_FRAME_MSG) {
			struct bt_msg m;
			int r = bt_msg_parse(out.p, out.len, &m);
			FUZZ_CHECK(r == BT_OK || r == BT_EINVAL);
			FUZZ_CHECK(out.len == 4 + (size_t)out.declared_len);
		}
		p += rc;
		len -= (size_t)rc;
	}
}

static void on_deliver(void *ctx, struct bt_flow *f, int dir,
		       const uint8_t *p, size_t len, uint64_t ts)
{
	(void)ctx;
	(void)ts;
	S.got += len;
	FUZZ_CHECK(S.got <= S.fed);
	FUZZ_CHECK(f->user != NULL);
	frame_bytes(f->user, dir, p, len);
}

static void on_event(void *ctx, struct bt_flow *f, int dir,
		     enum bt_flow_ev kind, const struct bt_flow_evinfo *e)
{
	struct user *u;
	int d;

	(void)ctx;
	(void)e;
	if (kind == BT_FLOW_EV_OPEN) {
		u = calloc(1, sizeof *u);
		if (!u)
			abort();
		for (d = 0; d < 2; d++)
			FUZZ_CHECK(bt_framer_init(&u->fr[d], u->buf[d], sizeof u->buf[d],
						  FMAX, true) == BT_OK);
		f->user = u;
		S.opened++;
		return;
	}
	if (kind == BT_FLOW_EV_GAP && dir >= 0) {
		u = f->user;
		FUZZ_CHECK(bt_framer_init(&u->fr[dir], u->buf[dir], sizeof u->buf[dir],
					  FMAX, false) == BT_OK);
		u->dead[dir] = false;
	}
}

static void on_release(void *ctx, struct bt_flow *f)
{
	(void)ctx;
	free(f->user);
	f->user = NULL;
	S.released++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct bt_flow_cb cb = { on_deliver, on_event, on_release };
	const struct bt_flow_cfg cfg = { .max_flows = 16, .max_ooo = 64 << 10, .max_hist = 4 << 10 };
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *frame;
	struct bt_flow_table t;
	pcap_t *pc;
	FILE *fp;
	int lt, n = 0;

	if (size == 0)
		return 0;
	memset(&S, 0, sizeof S);
	fp = fmemopen((void *)(uintptr_t)data, size, "rb");
	if (!fp)
		return 0;
	pc = pcap_fopen_offline(fp, errbuf);   /* takes fp */
	if (!pc) {
		fclose(fp);
		return 0;
	}
	lt = pcap_datalink(pc);
	FUZZ_CHECK(bt_flow_init(&t, &cfg, &cb, NULL) == 0);
	while (n++ < 10000 && pcap_next_ex(pc, &h, &frame) == 1) {
		struct bt_pkt pk;
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		int rc = bt_pkt_decode(&pk, lt, frame, h->caplen, h->len, ts);

		if (pk.payload)
			FUZZ_CHECK(fz_inside(pk.payload, pk.payload_len, frame, h->caplen));
		if (pk.l4 != BT_PKT_TCP)
			continue;
		if (rc != BT_OK && !(rc == BT_NEED_MORE && pk.err_layer == BT_PKT_PAYLOAD))
			continue;
		S.fed += pk.payload_len;
		FUZZ_CHECK(bt_flow_input(&t, &pk, NULL) == BT_OK);
		if (n % 64 == 0)
			bt_flow_expire(&t, ts > 60000000u ? ts - 60000000u : 0);
	}
	bt_flow_flush(&t);
	FUZZ_CHECK(S.opened == S.released);
	bt_flow_free(&t);
	pcap_close(pc);
	return 0;
}
