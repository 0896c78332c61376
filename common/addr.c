/* addr.c — compact peer addresses and their text form. */
#include "addr.h"

#include <stdio.h>
#include <string.h>

void bt_addr_load4(struct bt_peer_addr *a, const uint8_t p[BT_ADDR_COMPACT4])
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	memcpy(a->ip, p, 4);
	a->port = bt_load_u16be(p + 4);
}

void bt_addr_load6(struct bt_peer_addr *a, const uint8_t p[BT_ADDR_COMPACT6])
{
	memset(a, 0, sizeof(*a));
	a->family = 6;
	memcpy(a->ip, p, 16);
	a->port = bt_load_u16be(p + 16);
}

int bt_addr_put(struct bt_wr *w, const struct bt_peer_addr *a)
{
	if (a->family == 4)
		bt_wr_bytes(w, a->ip, 4);
	else if (a->family == 6)
		bt_wr_bytes(w, a->ip, 16);
	else
		return BT_EINVAL;
	bt_wr_u16be(w, a->port);
	return BT_OK;
}

/* Text of the address alone into t (at least 40 bytes); returns length. */
static size_t ip_text(const struct bt_peer_addr *a, char *t)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned g[8];
	int i, best = -1, bestlen = 0, run = -1;
	size_t n = 0;

	if (a->family == 4)
		return (size_t)sprintf(t, "%u.%u.%u.%u", a->ip[0], a->ip[1],
				       a->ip[2], a->ip[3]);
	if (a->family != 6) {
		t[0] = '?';
		t[1] = '\0';
		return 1;
	}
	if (memcmp(a->ip, mapped, 12) == 0)
		return (size_t)sprintf(t, "::ffff:%u.%u.%u.%u", a->ip[12],
				       a->ip[13], a->ip[14], a->ip[15]);

	/* RFC 5952 4.2: the longest run of two or more zero groups becomes
	 * "::"; the first one on a tie. */
	for (i = 0; i < 8; i++) {
		g[i] = (unsigned)a->ip[2 * i] << 8 | a->ip[2 * i + 1];
		if (g[i] == 0) {
			if (run < 0)
				run = i;
			if (i - run + 1 > bestlen) {
				best = run;
				bestlen = i - run + 1;
			}
		} else {
			run = -1;
		}
	}
	if (bestlen < 2)
		best = -1;
	for (i = 0; i < 8; i++) {
		if (i == best) {
			t[n++] = ':';
			t[n++] = ':';
			i += bestlen - 1;
			continue;
		}
		if (i > 0 && i != best + bestlen)
			t[n++] = ':';
		n += (size_t)sprintf(t + n, "%x", g[i]);
	}
	t[n] = '\0';
	return n;
}

static char *put(char *buf, size_t cap, const char *t, size_t n)
{
	if (cap == 0)
		return buf;
	if (n + 1 > cap)
		n = 0;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return buf;
}

char *bt_addr_ip_fmt(const struct bt_peer_addr *a, char *buf, size_t cap)
{
	char t[BT_ADDR_STRLEN];
	size_t n = ip_text(a, t);

	return put(buf, cap, t, n);
}

char *bt_addr_fmt(const struct bt_peer_addr *a, char *buf, size_t cap)
{
	char ip[BT_ADDR_STRLEN], t[BT_ADDR_STRLEN + 8];
	int n;

	ip_text(a, ip);
	if (a->family == 6)
		n = snprintf(t, sizeof(t), "[%s]:%u", ip, a->port);
	else if (a->family == 4)
		n = snprintf(t, sizeof(t), "%s:%u", ip, a->port);
	else
		n = snprintf(t, sizeof(t), "?");
	return put(buf, cap, t, (size_t)n);
}
