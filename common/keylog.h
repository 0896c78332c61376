/* keylog.h — MSE/PE key-log lines, looked up by a captured flow's endpoints.
 *
 * The live tools append one line per MSE connection to a key log (mse.h,
 * "Key log": the initiator's and the receiver's address, the shared
 * secret S, the info-hash), as browsers do for TLS with SSLKEYLOGFILE.
 * bt-decode loads such a file into a table and asks it, for each TCP flow
 * of a capture, whether it has the secret of that connection: then the
 * flow can be decrypted (decode.h) instead of reported as encrypted.
 *
 * Lines are matched by address and port of both ends, parsed to binary
 * so that "[::1]:6881" and "[0:0::1]:6881" are one address.  A 4-tuple can
 * recur in a long capture (ports reused): the lines of a tuple are handed
 * out in file order, one per flow, as connections are logged in the order
 * they are made.  Lines whose client address is unknown ("?", a receiver
 * that could not name it) cannot be matched and are counted apart.
 *
 * The table is the caller's (zeroed or bt_keylog_init'ed); it holds copies
 * of what it needs, never views into the lines. */
#ifndef BT_KEYLOG_H
#define BT_KEYLOG_H

#include "flow.h"
#include "mse.h"

#define BT_KEYLOG_MAX (1u << 20)   /* lines kept: a key log is per person,
				      but a busy client's can grow large */

struct bt_keylog_entry {
	struct bt_flow_ep client, server;  /* the initiator (A), the receiver (B) */
	uint8_t secret[BT_MSE_KEY_LEN];
	uint8_t skey[20];
	bool has_skey;
	bool used;                         /* handed to a flow already */
	uint32_t next;                     /* hash chain: index + 1, 0 = end */
};

struct bt_keylog {
	struct bt_keylog_entry *v;
	size_t n, cap;
	uint32_t *bucket;                  /* index + 1 of a chain's head */
	size_t nbucket;                    /* power of two */
	uint64_t unmatchable;              /* lines without usable addresses */
};

void bt_keylog_init(struct bt_keylog *k);
void bt_keylog_free(struct bt_keylog *k);

/* One line of a key-log file (a trailing "\n" allowed).  BT_OK: kept;
 * BT_EUNSUPP: a comment, a blank line, another tag, or an address that
 * cannot be matched (counted in unmatchable): skip it; BT_EINVAL: a
 * malformed line (*why, static); BT_ENOSPC: no memory, or the table holds
 * BT_KEYLOG_MAX lines. */
int bt_keylog_add(struct bt_keylog *k, const char *line, size_t len,
		  const char **why);

/* The first line not yet handed out for the connection between a and b,
 * in either role; NULL if none.  *a_is_client: a was the initiator.  The
 * entry is marked used. */
const struct bt_keylog_entry *bt_keylog_take(struct bt_keylog *k,
					     const struct bt_flow_ep *a,
					     const struct bt_flow_ep *b,
					     bool *a_is_client);

/* A bt_mse_skey_fn over every info-hash of the table (arg: the table),
 * for lines logged without one. */
bool bt_keylog_find_skey(void *arg, const uint8_t req2[20], uint8_t skey[20]);

#endif
