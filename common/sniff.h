/* sniff.h — what a stream's bytes are, and where its messages start.
 *
 * The capture decoder (decode.h) decides what a TCP flow carries from its
 * bytes, never from its port: bt-decode finds BitTorrent on any port, and
 * a tracker or web server on 6881 is not taken for a peer.  After a gap,
 * a mid-stream start or a framing error it must also find a message
 * boundary it can trust, in bytes that may be anything.  These are the
 * tests it uses: pure functions over (p, n), no state, no allocation, no
 * read at or past p + n.
 *
 * Each says "undecided" (BT_NEED_MORE) rather than guess when the bytes
 * so far fit more than one answer; final = no more bytes will come, so
 * decide with what there is. */
#ifndef BT_SNIFF_H
#define BT_SNIFF_H

#include "bt.h"

#define BT_SNIFF_PSTR_SEARCH 8  /* the protocol string may start this far in */
#define BT_SNIFF_DH_LEN     96  /* an MSE/PE public key: 768 bits */

/* The peer wire at offset 0: 1 yes, 0 no, BT_NEED_MORE undecided.  Yes:
 * "\x13BitTorrent protocol"; also that string in another case, or within
 * BT_SNIFF_PSTR_SEARCH bytes of the start (a wrong length byte, the length
 * after the string): broken handshakes are still the peer wire, decoded
 * so that their problems can be reported.  A final stream that is a
 * prefix of at least 4 bytes of the right handshake is one cut short. */
int bt_sniff_peer(const uint8_t *p, size_t n, bool final);

/* A plausible message at p: 1 (its size, prefix included, in *size), 2 a
 * keep-alive (*size 4), 0 no, BT_NEED_MORE the fields it checks are cut
 * off.  Plausible: the length is the one its id requires (or within the
 * id's range and max_len), and indexes, offsets and block lengths are
 * within what any torrent has.  Ids without such a rule are not.
 * max_len 0: BT_FRAMER_DEFAULT_MAX. */
int bt_sniff_msg(const uint8_t *p, size_t n, uint32_t max_len, size_t *size);

/* The first offset at or after from where a run of min plausible messages
 * starts (min 0: 3; two are enough when they cover 32 KiB; up to 4 keep-
 * alives between them do not count), or where a final stream's messages
 * run to its end.  Returns the offset, BT_NEED_MORE (the candidate at
 * *undecided needs more bytes), or BT_EINVAL (none before n).  max_len 0:
 * BT_FRAMER_DEFAULT_MAX. */
long bt_sniff_boundary(const uint8_t *p, size_t n, size_t from, unsigned min,
		       uint32_t max_len, bool final, size_t *undecided);

/* Where "\x13BitTorrent protocol" (exactly) starts in p[from..n), or -1. */
long bt_sniff_handshake(const uint8_t *p, size_t n, size_t from);

/* Do n bytes look like a Diffie-Hellman public key (MSE/PE's first
 * message): many distinct byte values, not mostly text? */
bool bt_sniff_dh_key(const uint8_t *p, size_t n);

/* The start of an HTTP/1.x message: BT_SNIFF_HTTP_REQ ("GET ", "POST ",
 * "HEAD "), BT_SNIFF_HTTP_RESP ("HTTP/1."), 0 neither, or BT_NEED_MORE (a
 * prefix of one of them). */
enum { BT_SNIFF_HTTP_REQ = 1, BT_SNIFF_HTTP_RESP };
int bt_sniff_http(const uint8_t *p, size_t n);

/* A TLS record header (handshake, version 3.x). */
bool bt_sniff_tls(const uint8_t *p, size_t n);

#endif
