/* addr.h — a peer address (IPv4 or IPv6, port, PEX flags) and its text.
 *
 * Shared by ut_pex (ext.h) and the tracker codec: both carry peers in the
 * "compact" form, 4-byte address + 2-byte port (6 bytes) or 16 + 2 (18
 * bytes), all big-endian.  A struct bt_peer_addr is a plain value: it
 * copies the bytes out of the message and points at nothing. */
#ifndef BT_ADDR_H
#define BT_ADDR_H

#include "bt.h"
#include "rd.h"

#define BT_ADDR_COMPACT4 6   /* bytes per IPv4 peer in compact form */
#define BT_ADDR_COMPACT6 18  /* bytes per IPv6 peer in compact form */
/* Enough for any bt_addr_fmt() text: "[" + 39 + "]:65535" + NUL, 39 being
 * eight full groups "ffff:...:ffff". */
#define BT_ADDR_STRLEN   48

struct bt_peer_addr {
	uint8_t family;   /* 4 or 6 */
	uint8_t ip[16];   /* IPv4 in ip[0..3], the rest zero */
	uint16_t port;    /* host order */
	uint8_t flags;    /* BT_PEX_F_* (ext.h); 0 where none were sent */
};

/* From compact bytes the caller has length-checked; flags become 0. */
void bt_addr_load4(struct bt_peer_addr *a, const uint8_t p[BT_ADDR_COMPACT4]);
void bt_addr_load6(struct bt_peer_addr *a, const uint8_t p[BT_ADDR_COMPACT6]);

/* Appends the compact form (6 or 18 bytes by family).  Returns BT_OK, or
 * BT_EINVAL (nothing written) if the family is neither 4 nor 6. */
int bt_addr_put(struct bt_wr *w, const struct bt_peer_addr *a);

/* "1.2.3.4:6881" or "[2001:db8::1]:6881" (RFC 5952: lowercase, longest
 * zero run as "::", IPv4-mapped as "::ffff:1.2.3.4").  bt_addr_ip_fmt
 * leaves out the port and the brackets.  A family other than 4 or 6
 * prints "?".  Always NUL-terminated when cap > 0; if the text does not
 * fit, buf gets "" rather than a misleading prefix.  Returns buf. */
char *bt_addr_fmt(const struct bt_peer_addr *a, char *buf, size_t cap);
char *bt_addr_ip_fmt(const struct bt_peer_addr *a, char *buf, size_t cap);

#endif
