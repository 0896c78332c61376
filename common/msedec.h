/* msedec.h — one captured TCP flow's MSE/PE session, decrypted with its key.
 *
 * The capture decoder (decode.h) gives each direction's reassembled bytes
 * of a flow that has a key-log line (keylog.h) to a struct bt_msedec
 * instead of its own detection.  Here MSE's passive decoder (mse.h)
 * follows both key exchanges; what comes after them is decrypted (RC4, or
 * as is when plaintext was selected; A's initial payload is RC4 either
 * way) and handed back as each side's plaintext payload, in order, with
 * its offset in the captured stream.  The exchange itself is told as the
 * live connection tells its own (mse.h, "Timeline steps").
 *
 * The key is trusted only once it decrypts the initiator's message 3
 * (req1 found, VC zero): CONFIRMED.  Until then every chunk given is also
 * kept, in arrival order, and if the key is refuted (no sync, a plain
 * handshake, a gap, the flow's end) the chunks are handed back (REPLAY,
 * after REFUTED) for the ordinary detection, so that a wrong or stale
 * line never decodes a flow differently from no line at all.  Refutation
 * comes within bounded bytes: B's VC must show within 520 bytes of Yb,
 * and before message 3 B sends only Yb and up to 512 bytes of pad, A only
 * Ya, its pad and (at most 1176 bytes plus the IA) message 3 itself:
 * BT_MSEDEC_EARLY covers an IA of up to 2.8 KiB (a handshake is 68).
 *
 * After confirmation: bytes lost in a side's payload advance its
 * keystream (decoding goes on after the gap); lost in its key exchange,
 * or anything the passive decoder refuses, end that side (DEAD).  A's
 * payload after its IA can be decrypted only once B's crypto_select is
 * known: bytes that must wait are held (at most BT_MSEDEC_HOLD_MAX, from
 * the budget), as are B's bytes before A named the info-hash (a line
 * without one).
 *
 * Directions are the flow's (0: the side that opened it); which one is the
 * initiator comes from the key-log line.  Callbacks run inside the calls
 * below; views live during the callback.  Nothing here prints. */
#ifndef BT_MSEDEC_H
#define BT_MSEDEC_H

#include "budget.h"
#include "keylog.h"
#include "mse.h"

#define BT_MSEDEC_EARLY    4096               /* kept until confirmed */
#define BT_MSEDEC_CHUNKS   64                 /* ... in so many turns of the
						 two sides */
#define BT_MSEDEC_HOLD_MAX ((size_t)1 << 20)  /* waiting for the other side */
#define BT_MSEDEC_SCRATCH  ((size_t)64 << 10) /* decrypted per callback */

enum bt_msedec_ev_kind {
	BT_MSEDEC_STEP = 1,   /* dir, step, detail, off, ts, why */
	BT_MSEDEC_CONFIRMED,  /* the key fits: steps and payload follow; ts */
	BT_MSEDEC_PAYLOAD,    /* dir's payload starts at off (its handshake) */
	BT_MSEDEC_PLAIN,      /* dir's next plaintext bytes p[0..n), ts */
	BT_MSEDEC_DEAD,       /* dir can be read no further (a FAILED step
				 came first); its bytes are opaque from here */
	BT_MSEDEC_REFUTED,    /* the key does not fit; why (static).  REPLAY
				 events follow, then nothing more */
	BT_MSEDEC_REPLAY,     /* a chunk given before: dir, p, n, ts */
};

struct bt_msedec_ev {
	enum bt_msedec_ev_kind kind;
	int dir;
	enum bt_mse_step step;
	uint64_t detail;              /* the step's, as mse.h says */
	uint64_t off;                 /* stream offset */
	uint64_t ts;
	const uint8_t *p;
	size_t n;
	const char *why;
};

typedef void bt_msedec_fn(void *ctx, const struct bt_msedec_ev *ev);

/* Caller-owned; bt_msedec_init, then bt_msedec_free.  Members marked out
 * may be read. */
struct bt_msedec {
	/* out */
	int a;                        /* the flow direction of the initiator */
	bool confirmed, refuted;
	bool dead[2];
	uint32_t select;              /* crypto_select once read, else 0 */
	uint64_t opaque[2];           /* after confirmation: bytes of each side
					 that were not plaintext (key exchange,
					 undecryptable) */
	bool replay_lost;             /* refuted with more than was kept: the
					 REPLAY events cover only a prefix
					 (opaque[] then counts it all) */
	/* msedec.c's own */
	struct bt_mse m;
	struct bt_budget *mem;
	bt_msedec_fn *cb;
	void *ctx;
	bool told_y[2], payload[2];
	uint64_t fed[2], ts_y[2];
	uint8_t early[BT_MSEDEC_EARLY];
	size_t nearly;
	struct { uint64_t ts; uint32_t off, len; uint8_t dir; } ch[BT_MSEDEC_CHUNKS];
	size_t nch;
	uint8_t *hold[2];
	size_t nhold[2], hcap[2];
	uint64_t hold_ts[2];
	uint8_t *scratch;             /* BT_MSEDEC_SCRATCH, the caller's */
	char why[256];
};

/* Set up for the flow a key-log line e names; a_is_dir0: the line's client
 * sent the flow's direction 0.  find_skey/arg: for a line without an
 * info-hash (bt_keylog_find_skey).  scratch: BT_MSEDEC_SCRATCH bytes the
 * caller owns (one for all flows will do).  BT_OK, or BT_EUNSUPP (no RC4:
 * OpenSSL's legacy provider missing) / BT_EINVAL, *why static. */
int bt_msedec_init(struct bt_msedec *x, const struct bt_keylog_entry *e,
		   bool a_is_dir0, bt_mse_skey_fn *find_skey, void *arg,
		   struct bt_budget *mem, uint8_t *scratch, bt_msedec_fn *cb,
		   void *ctx, const char **why);

/* Direction dir's next bytes, in stream order, ts their packet's time.
 * After REFUTED nothing more is done (the caller stops calling). */
void bt_msedec_input(struct bt_msedec *x, int dir, const uint8_t *p, size_t n,
		     uint64_t ts);
/* len bytes of dir were never captured. */
void bt_msedec_gap(struct bt_msedec *x, int dir, uint64_t len, uint64_t ts);
/* dir ended: an unconfirmed key is refuted; held bytes become opaque. */
void bt_msedec_end(struct bt_msedec *x, int dir, uint64_t ts);

void bt_msedec_free(struct bt_msedec *x);

#endif
