/* msedec.c — a captured MSE/PE flow decrypted with its key.  See msedec.h.
 *
 * Per direction: the key exchange goes to mse.h's passive decoder until it
 * is done; then payload.  Across directions two waits: B's VC can only be
 * found once A named the info-hash (lines without one), and A's payload
 * after its IA can only be decrypted once B's crypto_select is read.
 * Bytes that must wait are held per direction and tried again whenever
 * the other side's key exchange moves on. */
#include "msedec.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum bt_mse_dir mdir(const struct bt_msedec *x, int dir)
{
	return dir == x->a ? BT_MSE_A2B : BT_MSE_B2A;
}

static const char *crypto_text(uint32_t c)
{
	if ((c & BT_MSE_CRYPTO_RC4) && (c & BT_MSE_CRYPTO_PLAIN))
		return "RC4 or plaintext";
	if (c & BT_MSE_CRYPTO_RC4)
		return "RC4";
	if (c & BT_MSE_CRYPTO_PLAIN)
		return "plaintext";
	return "nothing";
}

static char *ms_text(char *b, size_t cap, uint64_t us)
{
	snprintf(b, cap, "%" PRIu64 ".%03u", us / 1000, (unsigned)(us % 1000));
	return b;
}

static void ev0(struct bt_msedec *x, enum bt_msedec_ev_kind k, int dir,
		uint64_t off, uint64_t ts, const uint8_t *p, size_t n,
		const char *why)
{
	struct bt_msedec_ev ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = k;
	ev.dir = dir;
	ev.off = off;
	ev.ts = ts;
	ev.p = p;
	ev.n = n;
	ev.why = why;
	x->cb(x->ctx, &ev);
}

/* An MSE step, with the words a live connection uses. */
__attribute__((format(printf, 7, 8)))
static void step(struct bt_msedec *x, int dir, enum bt_mse_step st,
		 uint64_t detail, uint64_t off, uint64_t ts, const char *fmt, ...)
{
	struct bt_msedec_ev ev;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->why, sizeof x->why, fmt, ap);
	va_end(ap);
	memset(&ev, 0, sizeof ev);
	ev.kind = BT_MSEDEC_STEP;
	ev.dir = dir;
	ev.step = st;
	ev.detail = detail;
	ev.off = off;
	ev.ts = ts;
	ev.why = x->why;
	x->cb(x->ctx, &ev);
}

int bt_msedec_init(struct bt_msedec *x, const struct bt_keylog_entry *e,
		   bool a_is_dir0, bt_mse_skey_fn *find_skey, void *arg,
		   struct bt_budget *mem, uint8_t *scratch, bt_msedec_fn *cb,
		   void *ctx, const char **why)
{
	struct bt_mse_cfg mc;
	int rc;

	memset(x, 0, sizeof *x);
	x->a = a_is_dir0 ? 0 : 1;
	x->mem = mem;
	x->scratch = scratch;
	x->cb = cb;
	x->ctx = ctx;
	memset(&mc, 0, sizeof mc);
	mc.role = BT_MSE_PASSIVE;
	mc.secret = e->secret;
	if (e->has_skey) {
		mc.skey = e->skey;
	} else {
		mc.find_skey = find_skey;
		mc.skey_arg = arg;
	}
	rc = bt_mse_init(&x->m, &mc);
	if (rc != BT_OK)
		*why = x->m.why ? x->m.why : bt_mse_errname(x->m.err);
	return rc;
}

void bt_msedec_free(struct bt_msedec *x)
{
	for (int i = 0; i < 2; i++) {
		bt_budget_free(x->mem, x->hold[i], x->hcap[i]);
		x->hold[i] = NULL;
		x->nhold[i] = x->hcap[i] = 0;
	}
	bt_mse_free(&x->m);
}

/* ---- before the key is confirmed ------------------------------------------ */

/* Keep a chunk for a replay. */
static void keep(struct bt_msedec *x, int dir, const uint8_t *p, size_t n,
		 uint64_t ts)
{
	if (x->replay_lost || x->confirmed || !n)
		return;
	if (n > BT_MSEDEC_EARLY - x->nearly) {
		x->replay_lost = true;
		return;
	}
	if (x->nch && x->ch[x->nch - 1].dir == dir) {
		/* the same side again: one chunk, at the later time (what
		 * detection would have decided on) */
		memcpy(x->early + x->nearly, p, n);
		x->ch[x->nch - 1].len += (uint32_t)n;
		x->ch[x->nch - 1].ts = ts;
		x->nearly += n;
		return;
	}
	if (x->nch == BT_MSEDEC_CHUNKS) {
		x->replay_lost = true;
		return;
	}
	memcpy(x->early + x->nearly, p, n);
	x->ch[x->nch].ts = ts;
	x->ch[x->nch].off = (uint32_t)x->nearly;
	x->ch[x->nch].len = (uint32_t)n;
	x->ch[x->nch].dir = (uint8_t)dir;
	x->nch++;
	x->nearly += n;
}

/* The key does not fit: hand back what came, then (dir, p, n), in the
 * order it came. */
static void refute(struct bt_msedec *x, const char *why, int dir,
		   const uint8_t *p, size_t n, uint64_t ts)
{
	x->refuted = true;
	if (x->replay_lost)
		for (int i = 0; i < 2; i++)
			x->opaque[i] = x->fed[i] + x->nhold[i] + (i == dir ? n : 0);
	ev0(x, BT_MSEDEC_REFUTED, dir, 0, ts, NULL, 0, why);
	if (x->replay_lost)
		return;
	for (size_t i = 0; i < x->nch; i++)
		ev0(x, BT_MSEDEC_REPLAY, x->ch[i].dir, 0, x->ch[i].ts,
		    x->early + x->ch[i].off, x->ch[i].len, NULL);
	for (int i = 0; i < 2; i++)   /* held: later than the log */
		if (x->nhold[i])
			ev0(x, BT_MSEDEC_REPLAY, i, 0, x->hold_ts[i], x->hold[i],
			    x->nhold[i], NULL);
	if (n)
		ev0(x, BT_MSEDEC_REPLAY, dir, 0, ts, p, n, NULL);
}

/* ---- after ---------------------------------------------------------------- */

/* Direction dir can be read no further: say why.  A side whose exchange
 * is not done cannot finish it now either (the passive decoder's error
 * is final), and A's payload cannot be read without B's crypto_select. */
static void fail(struct bt_msedec *x, int dir, int err, const char *why,
		 uint64_t off, uint64_t ts)
{
	step(x, dir, BT_MSE_STEP_FAILED, (uint64_t)err, off, ts,
	     "MSE: %s: %s (byte %" PRIu64 " of the %s's stream); not decrypted "
	     "further", bt_mse_errname((enum bt_mse_err)err), why ? why : "?",
	     off, dir == x->a ? "initiator" : "receiver");
	for (int i = 0; i < 2; i++) {
		enum bt_mse_dir mi = mdir(x, i);

		if (i != dir && (bt_mse_passive_done(&x->m, mi) || !x->m.err) &&
		    !(mi == BT_MSE_A2B && !bt_mse_passive_done(&x->m, BT_MSE_B2A)))
			continue;
		if (x->dead[i])
			continue;
		x->dead[i] = true;
		x->opaque[i] += x->nhold[i];
		x->nhold[i] = 0;
		ev0(x, BT_MSEDEC_DEAD, i, 0, ts, NULL, 0, NULL);
	}
}

static void fail_m(struct bt_msedec *x, uint64_t ts)
{
	int dir = x->m.err_dir == BT_MSE_A2B ? x->a : !x->a;

	fail(x, dir, x->m.err, x->m.why, x->m.err_off, ts);
}

static bool hold(struct bt_msedec *x, int dir, const uint8_t *p, size_t n,
		 uint64_t ts)
{
	size_t need = x->nhold[dir] + n, cap;
	uint8_t *nb;

	if (need > BT_MSEDEC_HOLD_MAX)
		return false;
	if (need > x->hcap[dir]) {
		cap = x->hcap[dir] ? x->hcap[dir] : 4096;
		while (cap < need)
			cap *= 2;
		nb = bt_budget_grow(x->mem, x->hold[dir], x->hcap[dir], cap);
		if (!nb)
			return false;
		x->hold[dir] = nb;
		x->hcap[dir] = cap;
	}
	if (!x->nhold[dir])
		x->hold_ts[dir] = ts;
	memcpy(x->hold[dir] + x->nhold[dir], p, n);
	x->nhold[dir] += n;
	return true;
}

static void hold_or_fail(struct bt_msedec *x, int dir, const uint8_t *p,
			 size_t n, uint64_t ts)
{
	if (hold(x, dir, p, n, ts))
		return;
	if (!x->confirmed) {      /* nothing trusted yet: as a refutation */
		refute(x, "encrypted (MSE/PE); the key log line not used: "
		       "too much waiting", dir, p, n, ts);
		return;
	}
	x->opaque[dir] += n;
	fail(x, dir, BT_MSE_ERR_STATE, "more than 1 MiB waiting for the other "
	     "side's key exchange", x->fed[dir], ts);
}

/* The Y steps, once the key is confirmed, with the times they came. */
static void tell_y(struct bt_msedec *x)
{
	int a = x->a, b = !x->a;
	char ms[32];
	uint64_t t;

	if (!x->told_y[a]) {
		x->told_y[a] = true;
		step(x, a, BT_MSE_STEP_SENT_Y, (uint64_t)x->m.d[BT_MSE_A2B].pad, 0,
		     x->ts_y[a], "MSE: Ya (%d bytes pad), offering %s; decrypted "
		     "with the key log", x->m.d[BT_MSE_A2B].pad,
		     crypto_text(x->m.provide));
	}
	if (!x->told_y[b] && x->fed[b] >= BT_MSE_KEY_LEN) {
		x->told_y[b] = true;
		t = x->ts_y[b] > x->ts_y[a] ? x->ts_y[b] - x->ts_y[a] : 0;
		step(x, b, BT_MSE_STEP_GOT_Y, t, 0, x->ts_y[b], "MSE: Yb after %s ms",
		     ms_text(ms, sizeof ms, t));
	}
}

/* dir's exchange is over and the key confirmed: its payload starts (B's
 * crypto_select is a step first). */
static void payload_start(struct bt_msedec *x, int dir, uint64_t ts)
{
	enum bt_mse_dir md = mdir(x, dir);

	if (x->payload[dir] || x->dead[dir] || !bt_mse_passive_done(&x->m, md))
		return;
	x->payload[dir] = true;
	if (md == BT_MSE_B2A) {
		char ms[32];
		uint64_t t = ts > x->ts_y[x->a] ? ts - x->ts_y[x->a] : 0;

		x->select = x->m.select;
		step(x, dir, BT_MSE_STEP_SELECTED, x->m.select, x->fed[dir], ts,
		     "MSE: %s selected after %s ms (PadB %d bytes, PadD %d bytes)",
		     crypto_text(x->m.select), ms_text(ms, sizeof ms, t),
		     x->m.d[BT_MSE_B2A].pad, x->m.d[BT_MSE_B2A].pad2);
	}
	ev0(x, BT_MSEDEC_PAYLOAD, dir, x->fed[dir], ts, NULL, 0, NULL);
}

/* The key-exchange part of dir; returns the bytes it took (the rest is
 * payload), or -1 if dir cannot go on (refuted, or failed). */
static long exchange(struct bt_msedec *x, int dir, const uint8_t *p, size_t n,
		     uint64_t ts)
{
	enum bt_mse_dir md = mdir(x, dir);
	uint64_t before = x->fed[dir];
	bool was = x->confirmed;
	long r = bt_mse_passive_feed(&x->m, md, p, n);

	if (r < 0) {
		if (!was) {
			refute(x, x->m.err == BT_MSE_ERR_NO_SYNC ?
			       "encrypted (MSE/PE); the key log's secret does not fit this flow" :
			       x->m.err == BT_MSE_ERR_PLAIN_HS ?
			       "a key log line for this flow, but no MSE" :
			       "encrypted (MSE/PE); the key log line does not fit this flow",
			       dir, p, n, ts);
			return -1;
		}
		fail_m(x, ts);
		return -1;
	}
	keep(x, dir, p, (size_t)r, ts);
	x->fed[dir] += (uint64_t)r;
	if (was)
		x->opaque[dir] += (uint64_t)r;
	if (before < BT_MSE_KEY_LEN && x->fed[dir] >= BT_MSE_KEY_LEN)
		x->ts_y[dir] = ts;
	if (!was && bt_mse_passive_done(&x->m, BT_MSE_A2B)) {
		/* message 3 decrypted: this is the flow's key */
		x->confirmed = true;
		x->opaque[0] += x->fed[0];
		x->opaque[1] += x->fed[1];
		ev0(x, BT_MSEDEC_CONFIRMED, dir, 0, ts, NULL, 0, NULL);
	}
	if (x->confirmed) {
		tell_y(x);
		/* dir's exchange may have ended now; at the confirmation the
		 * other's may have ended before (a capture out of order) */
		payload_start(x, dir, ts);
		payload_start(x, !dir, ts);
	}
	return r;
}

/* Decrypt and hand over payload bytes of dir; what cannot be decrypted
 * yet is held. */
static void payload(struct bt_msedec *x, int dir, const uint8_t *p, size_t n,
		    uint64_t ts)
{
	while (n && !x->dead[dir]) {
		size_t k = n < BT_MSEDEC_SCRATCH ? n : BT_MSEDEC_SCRATCH;
		long h;

		memcpy(x->scratch, p, k);
		h = bt_mse_passive_decrypt(&x->m, mdir(x, dir), x->scratch, k);
		if (h < 0) {
			fail(x, dir, BT_MSE_ERR_LIB, "RC4 failed", x->fed[dir], ts);
			return;
		}
		if (h)
			ev0(x, BT_MSEDEC_PLAIN, dir, 0, ts, x->scratch, (size_t)h, NULL);
		p += h;
		n -= (size_t)h;
		if ((size_t)h < k) {
			/* A's bytes after the IA, captured before B's
			 * crypto_select: wait for it */
			hold_or_fail(x, dir, p, n, ts);
			return;
		}
	}
}

static void retry(struct bt_msedec *x, int dir)
{
	uint8_t *b;
	size_t n, cap;

	if (x->refuted || x->dead[dir] || !x->nhold[dir])
		return;
	b = x->hold[dir];
	n = x->nhold[dir];
	cap = x->hcap[dir];
	x->hold[dir] = NULL;
	x->nhold[dir] = x->hcap[dir] = 0;
	bt_msedec_input(x, dir, b, n, x->hold_ts[dir]);
	bt_budget_free(x->mem, b, cap);
}

void bt_msedec_input(struct bt_msedec *x, int dir, const uint8_t *p, size_t n,
		     uint64_t ts)
{
	long r = 0;

	if (x->refuted || !n)
		return;
	if (x->dead[dir]) {
		x->opaque[dir] += n;   /* nothing more can be read */
		return;
	}
	if (x->nhold[dir]) {       /* keep the order: behind what waits */
		hold_or_fail(x, dir, p, n, ts);
		return;
	}
	if (!bt_mse_passive_done(&x->m, mdir(x, dir))) {
		r = exchange(x, dir, p, n, ts);
		if (r < 0)
			return;
		p += r;
		n -= (size_t)r;
	}
	if (n && !x->payload[dir]) {
		/* B's VC cannot be found before A names the info-hash (a
		 * line without one), and no payload is read before the key
		 * is confirmed: wait for A */
		hold_or_fail(x, dir, p, n, ts);
		n = 0;
	}
	if (n)
		payload(x, dir, p, n, ts);
	if (r > 0)
		retry(x, !dir);
}

void bt_msedec_gap(struct bt_msedec *x, int dir, uint64_t len, uint64_t ts)
{
	enum bt_mse_dir md = mdir(x, dir);

	if (x->refuted)
		return;
	if (!x->confirmed) {
		refute(x, "encrypted (MSE/PE); bytes of the key exchange were not "
		       "captured: not decrypted", dir, NULL, 0, ts);
		return;
	}
	if (x->dead[dir])
		return;
	if (!bt_mse_passive_done(&x->m, md) || x->nhold[dir]) {
		fail(x, dir, BT_MSE_ERR_NO_SYNC, "bytes lost before the payload "
		     "could be decrypted", x->fed[dir] + x->nhold[dir], ts);
		return;
	}
	/* RC4's keystream moves past the lost bytes (plaintext: a no-op) */
	while (len) {
		size_t k = len < BT_MSEDEC_SCRATCH ? (size_t)len : BT_MSEDEC_SCRATCH;

		memset(x->scratch, 0, k);
		if (bt_mse_passive_decrypt(&x->m, md, x->scratch, k) != (long)k) {
			fail(x, dir, BT_MSE_ERR_STATE, "bytes lost before the method "
			     "was known", x->fed[dir], ts);
			return;
		}
		len -= k;
	}
}

void bt_msedec_end(struct bt_msedec *x, int dir, uint64_t ts)
{
	if (x->refuted)
		return;
	if (!x->confirmed) {
		refute(x, "encrypted (MSE/PE); the key exchange did not complete: "
		       "not decrypted", dir, NULL, 0, ts);
		return;
	}
	x->opaque[dir] += x->nhold[dir];
	x->nhold[dir] = 0;
}
