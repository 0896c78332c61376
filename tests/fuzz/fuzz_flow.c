/* TCP reassembly (flow.h) fed synthetic segments taken from the input.
 *
 * Input: a config byte, then segments of 8 header bytes each:
 *   flags   TCP flags, as on the wire
 *   who     bit 0: direction (client->server or back); bits 1-2: which of
 *           four connections (two share their ports: address families);
 *           bit 3: take an absolute 32-bit seq from the input; bit 4:
 *           run bt_flow_expire before this segment; bit 5: IPv6
 *   dseq    signed 16-bit offset from this direction's running seq
 *   len     payload bytes captured
 *   cut     bytes the capture cut after them (payload_wirelen - len)
 *   dack    ack = the other direction's running seq + dack
 *   dts     microseconds since the previous segment
 * Config: tiny or default table, out-of-order and history limits; bit 7
 * "honest": payload bytes are a function of (connection, direction,
 * sequence number), so any two copies of the same byte agree; otherwise
 * they are taken from the input.
 *
 * Properties, checked as the callbacks come:
 *   - a direction never delivers more bytes than were captured for it,
 *     and deliveries and GAPs tile its stream in order (each GAP starts
 *     where the last delivery or GAP ended; FIN comes at the end);
 *   - the counters agree: d.bytes = bytes delivered, d.gap_bytes = GAP
 *     lengths, d.off = their sum;
 *   - honest mode: every delivered byte is the byte of its sequence
 *     number (stream offset o is seq isn + o, + 1 after a SYN), GAP
 *     sequence numbers match their offsets, and no overlap is ever
 *     reported as a conflict;
 *   - every flow opened is released exactly once; nothing leaks (ASan). */
#include "fuzz.h"
#include "flow.h"

#define MAXID 4096

struct dirstate {
	uint64_t off;           /* stream offset reached: deliveries + gaps */
	uint64_t bytes, gaps;
	bool fin;
};

static struct {
	bool honest;
	uint64_t fed[8][2];     /* captured bytes by endpoint pair and dir */
	uint64_t got[8][2];     /* delivered by endpoint pair and dir */
	struct dirstate d[MAXID][2];
	bool open[MAXID];
	size_t opened, released;
} S;

static uint8_t content(unsigned conn, int dir, uint32_t seq)
{
	uint32_t x = seq * 2654435761u ^ (conn * 2 + (unsigned)dir) * 40503u;

	return (uint8_t)(x >> 24 ^ x >> 11 ^ x);
}

/* Connection number from the flow's endpoints: the generator's
 * direction 0 sends from port 1000 + c % 4 to port 2000 + c % 4. */
static unsigned conn_of(const struct bt_flow *f)
{
	unsigned lo = f->ep[0].port < f->ep[1].port ? f->ep[0].port : f->ep[1].port;

	return (lo - 1000) % 4 + (f->ep[0].addr.family == 6 ? 4 : 0);
}

/* The direction as the generator numbers it: 0 = sent from the low port
 * (ep[dir] is the sender of direction dir). */
static int gen_dir(const struct bt_flow *f, int dir)
{
	return f->ep[dir].port < 2000 ? 0 : 1;
}

static void on_deliver(void *ctx, struct bt_flow *f, int dir,
		       const uint8_t *p, size_t len, uint64_t ts)
{
	struct dirstate *d;
	unsigned c = conn_of(f);
	int g = gen_dir(f, dir);
	size_t i;

	(void)ctx;
	(void)ts;
	FUZZ_CHECK(dir == 0 || dir == 1);
	FUZZ_CHECK(f->id < MAXID && S.open[f->id]);
	FUZZ_CHECK(len > 0);
	d = &S.d[f->id][dir];
	FUZZ_CHECK(!d->fin);
	S.got[c][g] += len;
	FUZZ_CHECK(S.got[c][g] <= S.fed[c][g]);
	if (S.honest) {
		uint32_t seq = f->d[dir].isn + (f->d[dir].syn ? 1 : 0) + (uint32_t)d->off;
		for (i = 0; i < len; i++)
			FUZZ_CHECK(p[i] == content(c, g, seq + (uint32_t)i));
	}
	d->off += len;
	d->bytes += len;
	FUZZ_CHECK(f->d[dir].bytes == d->bytes);
	FUZZ_CHECK(f->d[dir].off == d->off);
}

static void on_event(void *ctx, struct bt_flow *f, int dir,
		     enum bt_flow_ev kind, const struct bt_flow_evinfo *e)
{
	struct dirstate *d;

	(void)ctx;
	FUZZ_CHECK(f->id < MAXID);
	FUZZ_CHECK(bt_flow_ev_name(kind) != NULL);
	if (kind == BT_FLOW_EV_OPEN) {
		FUZZ_CHECK(dir == -1 && !S.open[f->id]);
		S.open[f->id] = true;
		S.opened++;
		return;
	}
	FUZZ_CHECK(S.open[f->id]);
	if (dir < 0) {
		FUZZ_CHECK(kind == BT_FLOW_EV_CLOSED || kind == BT_FLOW_EV_EVICT ||
			   kind == BT_FLOW_EV_IDLE || kind == BT_FLOW_EV_REUSE);
		return;
	}
	FUZZ_CHECK(dir == 0 || dir == 1);
	d = &S.d[f->id][dir];
	switch (kind) {
	case BT_FLOW_EV_GAP:
		FUZZ_CHECK(e->why != NULL && e->len > 0);
		FUZZ_CHECK(!d->fin);
		FUZZ_CHECK(e->off == d->off);
		FUZZ_CHECK(e->seq == (uint32_t)(f->d[dir].isn + (f->d[dir].syn ? 1 : 0) +
						(uint32_t)e->off));
		d->off += e->len;
		d->gaps += e->len;
		break;
	case BT_FLOW_EV_CONFLICT:
		FUZZ_CHECK(!S.honest);
		FUZZ_CHECK(e->len > 0);
		break;
	case BT_FLOW_EV_FIN:
		FUZZ_CHECK(!d->fin && e->off == d->off);
		FUZZ_CHECK(f->d[dir].fin);
		d->fin = true;
		break;
	default:
		FUZZ_CHECK(kind == BT_FLOW_EV_SYN || kind == BT_FLOW_EV_MIDSTREAM ||
			   kind == BT_FLOW_EV_RST);
	}
}

static void on_release(void *ctx, struct bt_flow *f)
{
	int dir;

	(void)ctx;
	FUZZ_CHECK(f->id < MAXID && S.open[f->id]);
	for (dir = 0; dir < 2; dir++) {
		const struct dirstate *d = &S.d[f->id][dir];
		FUZZ_CHECK(f->d[dir].bytes == d->bytes);
		FUZZ_CHECK(f->d[dir].gap_bytes == d->gaps);
		FUZZ_CHECK(f->d[dir].off == d->off);
		FUZZ_CHECK(f->d[dir].off == f->d[dir].bytes + f->d[dir].gap_bytes);
	}
	S.open[f->id] = false;
	S.released++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t flows[4] = { 1, 2, 3, 0 };
	static const size_t ooo[4] = { 64, 600, 5000, 0 };
	static const size_t hist[4] = { 1, 100, 4096, 0 };
	const struct bt_flow_cb cb = { on_deliver, on_event, on_release };
	struct bt_flow_table t;
	struct bt_flow_cfg cfg;
	struct fz z;
	uint32_t cur[8][2];
	uint64_t ts = 1000000;
	uint8_t cfgb, payload[255 + 1];
	size_t nseg = 0, i;
	unsigned c;

	memset(&S, 0, sizeof S);
	fz_init(&z, data, size);
	cfgb = fz_u8(&z);
	S.honest = cfgb & 0x80;
	memset(&cfg, 0, sizeof cfg);
	cfg.max_flows = flows[cfgb & 3];
	cfg.max_ooo = ooo[(cfgb >> 2) & 3];
	cfg.max_hist = hist[(cfgb >> 4) & 3];
	FUZZ_CHECK(bt_flow_init(&t, &cfg, &cb, NULL) == 0);
	for (c = 0; c < 8; c++) {
		cur[c][0] = 0xfffff000u + c * 0x01000000u;  /* near the wrap */
		cur[c][1] = 0x7ffff000u - c * 0x00100000u;
	}

	while (z.left >= 8 && nseg < 2000) {
		struct bt_pkt pk;
		struct bt_flow *fp;
		uint8_t flags = fz_u8(&z), who = fz_u8(&z);
		int16_t dseq = (int16_t)fz_u16(&z);
		size_t len = fz_u8(&z), cut = fz_u8(&z);
		uint8_t dack = fz_u8(&z), dts = fz_u8(&z);
		int g = who & 1;
		bool v6 = who & 0x20;
		uint32_t seq, dseq0;
		const uint8_t *q;
		size_t got;
		int rc;

		c = (who >> 1 & 3) + (v6 ? 4 : 0);
		seq = (who & 8) ? fz_u32(&z) : cur[c][g] + (uint32_t)(int32_t)dseq;
		ts += dts;
		if (who & 0x10)
			bt_flow_expire(&t, ts - 200);
		dseq0 = seq + ((flags & BT_TCP_SYN) ? 1 : 0);  /* first data byte */
		if (S.honest) {
			for (i = 0; i < len; i++)
				payload[i] = content(c, g, dseq0 + (uint32_t)i);
		} else {
			q = fz_bytes(&z, len, &got);
			memcpy(payload, q, got);
			len = got;
		}

		memset(&pk, 0, sizeof pk);
		pk.ts_us = ts;
		pk.l3 = v6 ? BT_PKT_IPV6 : BT_PKT_IPV4;
		pk.src.family = pk.dst.family = v6 ? 6 : 4;
		pk.src.a[0] = pk.dst.a[0] = v6 ? 0xfe : 127;
		pk.src.a[15] = pk.dst.a[15] = 1;
		pk.proto = 6;
		pk.l4 = BT_PKT_TCP;
		/* Generator direction 0 sends from port 1000 + c. */
		pk.sport = (uint16_t)(g ? 2000 + c % 4 : 1000 + c % 4);
		pk.dport = (uint16_t)(g ? 1000 + c % 4 : 2000 + c % 4);
		pk.seq = seq;
		pk.ack = cur[c][!g] + dack;
		pk.tcp_flags = flags;
		pk.l4_hlen = 20;
		pk.payload = payload;
		pk.payload_len = len;
		pk.payload_wirelen = len + cut;
		S.fed[c][g] += len;

		rc = bt_flow_input(&t, &pk, &fp);
		FUZZ_CHECK(rc == BT_OK);
		if (fp) {
			FUZZ_CHECK(S.open[fp->id]);
			FUZZ_CHECK(fp->last_us == ts);
		}
		cur[c][g] = dseq0 + (uint32_t)(len + cut) + ((flags & BT_TCP_FIN) ? 1 : 0);
		FUZZ_CHECK(t.nflows <= t.cfg.max_flows);
		nseg++;
	}
	/* Not TCP: refused. */
	{
		struct bt_pkt pk;
		memset(&pk, 0, sizeof pk);
		pk.l4 = BT_PKT_UDP;
		FUZZ_CHECK(bt_flow_input(&t, &pk, NULL) == BT_EINVAL);
	}
	bt_flow_flush(&t);
	FUZZ_CHECK(t.nflows == 0 && S.opened == S.released);
	bt_flow_free(&t);
	return 0;
}
