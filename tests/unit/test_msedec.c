/* test_msedec.c — a captured MSE/PE flow decrypted with its key (msedec.h).
 *
 * A session is made in-process by the library's initiator and receiver
 * (mse.h); its wire bytes go through msedec in the order a capture has
 * them, cut at every size, and the events must be exact: the steps, where
 * each payload starts, the plaintext.  A wrong key hands back every byte;
 * lost payload bytes only skip their plaintext. */
#include "t.h"
#include "msedec.h"
#include "wire.h"

static const uint8_t IH[20] = { 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
				13, 14, 15, 16, 17, 18, 19 };
static const uint8_t A_PAY[] = "\0\0\0\x01\x02" "\0\0\0\0";   /* interested, keep-alive */
static const uint8_t B_PAY[] = "\0\0\0\x01\x01" "\0\0\0\x05\x04\0\0\0\x07";  /* unchoke, have 7 */

/* The session: 5 segments in the order they went (A, B, A, B, A). */
struct msess {
	uint8_t seg[5][2048];
	size_t len[5];
	uint8_t a_plain[256], b_plain[256];   /* each side's payload */
	size_t a_pn, b_pn;
	size_t hs_a, hs_b;
	struct bt_keylog_entry e;
};

static size_t pend(struct bt_mse *m, uint8_t *out)
{
	size_t n;
	const uint8_t *p = bt_mse_pending(m, &n);

	memcpy(out, p, n);
	bt_mse_sent(m, n);
	return n;
}

static bool session(struct msess *x, uint32_t provide)
{
	struct bt_mse a, b;
	struct bt_mse_cfg ca, cb;
	struct bt_mse_skeys keys = { &IH, 1 };
	uint8_t ia[BT_HS_LEN], id[20];
	bool ok = false;

	memset(x, 0, sizeof *x);
	memset(id, 'a', 20);
	bt_handshake_encode(ia, NULL, IH, id);
	memset(&ca, 0, sizeof ca);
	ca.role = BT_MSE_INITIATOR;
	ca.crypto = provide;
	ca.skey = IH;
	ca.ia = ia;
	ca.ia_len = sizeof ia;
	ca.pad_len = 11;
	memset(&cb, 0, sizeof cb);
	cb.role = BT_MSE_RECEIVER;
	cb.crypto = BT_MSE_CRYPTO_PLAIN | BT_MSE_CRYPTO_RC4;
	cb.prefer_plain = true;
	cb.find_skey = bt_mse_skeys_find;
	cb.skey_arg = &keys;
	cb.pad_len = 300;
	cb.pad2_len = 2;
	if (bt_mse_init(&a, &ca) || bt_mse_init(&b, &cb))
		goto out;
	x->len[0] = pend(&a, x->seg[0]);
	bt_mse_feed(&b, x->seg[0], x->len[0]);
	x->len[1] = pend(&b, x->seg[1]);
	bt_mse_feed(&a, x->seg[1], x->len[1]);
	x->len[2] = pend(&a, x->seg[2]);
	x->hs_a = x->len[0] + x->len[2] - BT_HS_LEN;
	bt_mse_feed(&b, x->seg[2], x->len[2]);
	x->len[3] = pend(&b, x->seg[3]);
	x->hs_b = x->len[1] + x->len[3];
	memset(id, 'b', 20);
	bt_handshake_encode(x->b_plain, NULL, IH, id);
	memcpy(x->b_plain + BT_HS_LEN, B_PAY, sizeof B_PAY - 1);
	x->b_pn = BT_HS_LEN + sizeof B_PAY - 1;
	memcpy(x->seg[3] + x->len[3], x->b_plain, x->b_pn);
	if (bt_mse_encrypt(&b, x->seg[3] + x->len[3], x->b_pn))
		goto out;
	bt_mse_feed(&a, x->seg[3], x->len[3] + x->b_pn);
	x->len[3] += x->b_pn;
	memcpy(x->a_plain, ia, BT_HS_LEN);
	memcpy(x->a_plain + BT_HS_LEN, A_PAY, sizeof A_PAY - 1);
	x->a_pn = BT_HS_LEN + sizeof A_PAY - 1;
	memcpy(x->seg[4], A_PAY, sizeof A_PAY - 1);
	x->len[4] = sizeof A_PAY - 1;
	if (!bt_mse_done(&a) || bt_mse_encrypt(&a, x->seg[4], x->len[4]))
		goto out;
	memcpy(x->e.secret, bt_mse_secret(&a), BT_MSE_KEY_LEN);
	memcpy(x->e.skey, IH, 20);
	x->e.has_skey = true;
	ok = a.select == b.select;
out:
	bt_mse_free(&a);
	bt_mse_free(&b);
	return ok;
}

/* What msedec said. */
struct got {
	char order[64];         /* one letter per event: S C P L D R X */
	int steps[8];
	size_t nsteps;
	uint64_t pay_off[2];
	uint8_t plain[2][512], replay[2][4096];
	size_t pn[2], rn[2];
	const char *why;
	char step_why[4][160];
};

static void on_ev(void *ctx, const struct bt_msedec_ev *ev)
{
	struct got *g = ctx;
	size_t o = strlen(g->order);
	static const char letter[] = "?SCPLDRX";

	if (o + 1 < sizeof g->order) {
		g->order[o] = letter[ev->kind];
		g->order[o + 1] = '\0';
	}
	switch (ev->kind) {
	case BT_MSEDEC_STEP:
		if (g->nsteps < 4)
			snprintf(g->step_why[g->nsteps], sizeof g->step_why[0], "%s", ev->why);
		if (g->nsteps < 8)
			g->steps[g->nsteps++] = (int)ev->step;
		break;
	case BT_MSEDEC_PAYLOAD:
		g->pay_off[ev->dir] = ev->off;
		break;
	case BT_MSEDEC_PLAIN:
		memcpy(g->plain[ev->dir] + g->pn[ev->dir], ev->p, ev->n);
		g->pn[ev->dir] += ev->n;
		break;
	case BT_MSEDEC_REPLAY:
		memcpy(g->replay[ev->dir] + g->rn[ev->dir], ev->p, ev->n);
		g->rn[ev->dir] += ev->n;
		break;
	case BT_MSEDEC_REFUTED:
		g->why = ev->why;
		break;
	default:
		break;
	}
}

static uint8_t scratch[BT_MSEDEC_SCRATCH];

/* Feed the session in chunks of step bytes (0: whole segments). */
static void run(const struct msess *x, const struct bt_keylog_entry *e,
		size_t step, struct got *g, struct bt_msedec *m, struct bt_budget *mem)
{
	const char *why = NULL;

	memset(g, 0, sizeof *g);
	T_EQ_INT(bt_msedec_init(m, e, true, NULL, NULL, mem, scratch, on_ev, g, &why),
		 BT_OK);
	for (int i = 0; i < 5; i++) {
		size_t k = step ? step : x->len[i];

		for (size_t at = 0; at < x->len[i]; at += k) {
			size_t n = x->len[i] - at < k ? x->len[i] - at : k;

			bt_msedec_input(m, i == 1 || i == 3, t_guarded(x->seg[i] + at, n),
					n, (uint64_t)(i + 1) * 1000);
		}
	}
	bt_msedec_end(m, 0, 9000);
	bt_msedec_end(m, 1, 9000);
}

static void test_every_split(void)
{
	struct msess *x = calloc(1, sizeof *x);
	struct got *g = calloc(1, sizeof *g);
	struct bt_msedec *m = calloc(1, sizeof *m);
	struct bt_budget mem = { (size_t)1 << 20, 0, 0 };

	T_CHECK(session(x, BT_MSE_CRYPTO_RC4));
	for (size_t step = 0; step <= 700; step += step < 30 ? 1 : 61) {
		run(x, &x->e, step, g, m, &mem);
		T_CHECK(m->confirmed && !m->refuted && !m->dead[0] && !m->dead[1]);
		T_EQ_INT(m->select, BT_MSE_CRYPTO_RC4);
		T_EQ_MEM(g->plain[0], g->pn[0], x->a_plain, x->a_pn);
		T_EQ_MEM(g->plain[1], g->pn[1], x->b_plain, x->b_pn);
		T_EQ_UINT(g->pay_off[0], x->hs_a);
		T_EQ_UINT(g->pay_off[1], x->hs_b);
		T_EQ_UINT(m->opaque[0], x->hs_a);
		T_EQ_UINT(m->opaque[1], x->hs_b);
		T_EQ_UINT(g->nsteps, 3);
		T_EQ_INT(g->steps[0], BT_MSE_STEP_SENT_Y);
		T_EQ_INT(g->steps[1], BT_MSE_STEP_GOT_Y);
		T_EQ_INT(g->steps[2], BT_MSE_STEP_SELECTED);
		T_EQ_STR(g->step_why[0], "MSE: Ya (11 bytes pad), offering RC4; "
			 "decrypted with the key log");
		T_EQ_STR(g->step_why[1], "MSE: Yb after 1.000 ms");
		T_EQ_STR(g->step_why[2], "MSE: RC4 selected after 3.000 ms (PadB 300 "
			 "bytes, PadD 2 bytes)");
		/* confirmed, the Ys, A's payload starts; B's select, B's payload */
		if (step == 0)
			T_EQ_STR(g->order, "CSSPLSPLL");
		bt_msedec_free(m);
		T_EQ_UINT(mem.used, 0);
		if (t_failed_now) {
			printf("#   chunks of %zu bytes\n", step);
			break;
		}
	}
	free(x);
	free(g);
	free(m);
}

/* A wrong secret.  The session is short, so the key is refuted only at
 * the flow's end (its exchange never completed with it), and every byte
 * is handed back in order; no steps, no plaintext.  With B's stream long
 * enough, it is refuted as soon as B's VC is not where it must be. */
static void test_refuted(void)
{
	struct msess *x = calloc(1, sizeof *x);
	struct got *g = calloc(1, sizeof *g);
	struct bt_msedec *m = calloc(1, sizeof *m);
	struct bt_budget mem = { (size_t)1 << 20, 0, 0 };
	struct bt_keylog_entry bad;
	static uint8_t a[4096], b[4096], more[600];
	const char *why = NULL;
	size_t an = 0, bn = 0;

	T_CHECK(session(x, BT_MSE_CRYPTO_RC4));
	bad = x->e;
	bad.secret[5] ^= 1;
	for (int i = 0; i < 5; i++) {
		uint8_t *d = i == 1 || i == 3 ? b + bn : a + an;

		memcpy(d, x->seg[i], x->len[i]);
		*(i == 1 || i == 3 ? &bn : &an) += x->len[i];
	}
	for (size_t step = 0; step <= 100; step += 7) {
		run(x, &bad, step, g, m, &mem);
		T_CHECK(m->refuted && !m->confirmed);
		T_EQ_STR(g->why, "encrypted (MSE/PE); the key exchange did not complete: "
			 "not decrypted");
		T_EQ_UINT(g->nsteps, 0);
		T_EQ_UINT(g->pn[0] + g->pn[1], 0);
		T_EQ_MEM(g->replay[0], g->rn[0], a, an);
		T_EQ_MEM(g->replay[1], g->rn[1], b, bn);
		bt_msedec_free(m);
		T_EQ_UINT(mem.used, 0);
	}
	memset(g, 0, sizeof *g);
	T_EQ_INT(bt_msedec_init(m, &bad, true, NULL, NULL, &mem, scratch, on_ev, g,
				&why), BT_OK);
	bt_msedec_input(m, 0, x->seg[0], x->len[0], 1);
	bt_msedec_input(m, 1, x->seg[1], x->len[1], 2);
	bt_msedec_input(m, 1, more, sizeof more, 3);   /* past the VC window */
	T_CHECK(m->refuted);
	T_EQ_STR(g->why, "encrypted (MSE/PE); the key log's secret does not fit this flow");
	T_EQ_UINT(g->rn[0], x->len[0]);
	T_EQ_UINT(g->rn[1], x->len[1] + sizeof more);   /* the refuting chunk too */
	bt_msedec_free(m);
	T_EQ_UINT(mem.used, 0);
	free(x);
	free(g);
	free(m);
}

/* Plaintext selected, a line without the info-hash (found by lookup), and
 * bytes of B's payload lost: the rest still reads. */
static void test_plain_lookup_gap(void)
{
	struct msess *x = calloc(1, sizeof *x);
	struct got *g = calloc(1, sizeof *g);
	struct bt_msedec *m = calloc(1, sizeof *m);
	struct bt_budget mem = { (size_t)1 << 20, 0, 0 };
	struct bt_mse_skeys keys = { &IH, 1 };
	struct bt_keylog_entry e;
	const char *why = NULL;
	size_t cut;

	T_CHECK(session(x, BT_MSE_CRYPTO_RC4 | BT_MSE_CRYPTO_PLAIN));
	e = x->e;
	e.has_skey = false;
	memset(e.skey, 0, 20);
	memset(g, 0, sizeof *g);
	T_EQ_INT(bt_msedec_init(m, &e, true, bt_mse_skeys_find, &keys, &mem, scratch,
				on_ev, g, &why), BT_OK);
	/* B's segments before A's message 3: B waits for the info-hash */
	bt_msedec_input(m, 0, x->seg[0], x->len[0], 1000);
	bt_msedec_input(m, 1, x->seg[1], x->len[1], 2000);
	cut = x->len[3] - x->b_pn + BT_HS_LEN;   /* B's handshake, then a gap */
	bt_msedec_input(m, 1, x->seg[3], cut, 4000);
	T_CHECK(!m->confirmed);
	bt_msedec_input(m, 0, x->seg[2], x->len[2], 3000);
	T_CHECK(m->confirmed);
	T_EQ_INT(m->select, BT_MSE_CRYPTO_PLAIN);
	bt_msedec_gap(m, 1, 9, 5000);            /* the unchoke and a byte */
	bt_msedec_input(m, 1, x->seg[3] + cut + 9, x->len[3] - cut - 9, 5000);
	bt_msedec_input(m, 0, x->seg[4], x->len[4], 6000);
	T_EQ_MEM(g->plain[0], g->pn[0], x->a_plain, x->a_pn);
	T_EQ_UINT(g->pn[1], x->b_pn - 9);
	T_EQ_MEM(g->plain[1], BT_HS_LEN, x->b_plain, BT_HS_LEN);
	T_EQ_MEM(g->plain[1] + BT_HS_LEN, g->pn[1] - BT_HS_LEN,
		 x->b_plain + BT_HS_LEN + 9, x->b_pn - BT_HS_LEN - 9);
	bt_msedec_free(m);
	T_EQ_UINT(mem.used, 0);
	free(x);
	free(g);
	free(m);
}

int main(void)
{
	T_RUN(test_every_split);
	T_RUN(test_refuted);
	T_RUN(test_plain_lookup_gap);
	return T_DONE();
}
