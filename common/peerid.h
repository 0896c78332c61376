/* peerid.h — the client behind a 20-byte peer id (BEP 20), and our own id.
 *
 * Recognised styles, tried in this order:
 *   Azureus   "-TR3000-"   '-', two-char client code, four version chars, '-'
 *   aria2     "A2-1-36-0-" numbers between dashes
 *   Mainline  "M4-20-8-"   letter, major-minor-tiny, dash padded to 8 bytes
 *   Shadow    "S58B-----"  letter, up to 5 version chars padded with '-',
 *                          then "---" (BitTornado "T03I-----")
 *   and a few one-offs: "exbc"/"LORD" (old BitComet/BitLord), "XBT054d-",
 *   "-ML2.7.2-" (MLdonkey), "OP1234" (Opera).
 * Version rules per client:
 *   TR  Transmission: -TR2940- 2.94, -TR3000- 3.00, -TR4050- 4.0.5; a
 *       last char 'Z' is a development build ("+"), 'X'/'B' a beta
 *   UT, UM, UW  µTorrent: -UT3550- 3.5.5, other last chars appended
 *   lt  libtorrent (rakshasa): -lt0D60- 0.13.6 (hex digits)
 *   BC  BitComet: -BC0059- 0.59, -BC0150- 1.50
 *   everything else (LT, qB, DE, AZ, BI, unknown codes ...): four parts,
 *       each char 0-9 or A-Z (= 10..35, libtorrent's fingerprint rule):
 *       -LT2080- 2.0.8.0, -qB4500- 4.5.0.0, -DE13F0- 1.3.15.0
 * An Azureus-style id with an unknown code prints the code itself
 * ("ZZ 1.2.3.4").  Anything else is "unknown (<escaped id>)": bytes
 * outside printable ASCII become \xHH and a backslash becomes "\\", so a
 * peer id can never put an escape sequence on a terminal. */
#ifndef BT_PEERID_H
#define BT_PEERID_H

#include "bt.h"

#define BT_PEERID_LEN     20
#define BT_PEERID_PREFIX  "-BK0100-"  /* btkit 0.1.0.0, Azureus style */
/* Enough for any bt_peerid_client() text ("unknown (" + 20 * 4 + ")"). */
#define BT_PEERID_STRLEN  96

/* Writes the client name and version into buf (always NUL-terminated when
 * cap > 0, cut short if cap is below BT_PEERID_STRLEN).  Returns buf.
 * Names are UTF-8 ("µTorrent"); the rest of the text is ASCII. */
const char *bt_peerid_client(const uint8_t id[BT_PEERID_LEN], char *buf, size_t cap);

/* A random source: fill buf with n random bytes, return 0 on success. */
typedef int (*bt_random_fn)(void *ctx, uint8_t *buf, size_t n);

/* btkit's own peer id: BT_PEERID_PREFIX and 12 random characters from
 * [0-9A-Za-z].  rnd NULL means getrandom(2).  Returns BT_OK, or
 * BT_EUNSUPP when the random source fails (id is then unchanged). */
int bt_peerid_generate(uint8_t id[BT_PEERID_LEN], bt_random_fn rnd, void *ctx);

#endif
