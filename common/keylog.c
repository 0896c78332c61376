/* keylog.c — MSE/PE key-log lines by endpoints.  See keylog.h.
 *
 * An array of entries in file order with a chained hash index over the
 * unordered endpoint pair: a lookup per new flow, so a capture of many
 * flows against a log of many lines stays linear. */
#include "keylog.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

void bt_keylog_init(struct bt_keylog *k)
{
	memset(k, 0, sizeof *k);
}

void bt_keylog_free(struct bt_keylog *k)
{
	free(k->v);
	free(k->bucket);
	memset(k, 0, sizeof *k);
}

/* "1.2.3.4:6881" or "[::1]:6881" into e; false if it is neither. */
static bool parse_ep(const char *s, size_t n, struct bt_flow_ep *e)
{
	char host[BT_MSE_KEYLOG_ADDR_MAX + 1];
	size_t colon = n, hl;
	unsigned long port = 0;

	while (colon > 0 && s[colon - 1] != ':')
		colon--;
	if (colon < 2 || colon == n || n - colon > 5)
		return false;
	for (size_t i = colon; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		port = port * 10 + (unsigned long)(s[i] - '0');
	}
	if (port > 65535)
		return false;
	hl = colon - 1;                 /* without the ':' */
	memset(e, 0, sizeof *e);
	e->port = (uint16_t)port;
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']' || hl - 2 >= sizeof host)
			return false;
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		e->addr.family = 6;
		return inet_pton(AF_INET6, host, e->addr.a) == 1;
	}
	if (hl >= sizeof host)
		return false;
	memcpy(host, s, hl);
	host[hl] = '\0';
	e->addr.family = 4;
	return inet_pton(AF_INET, host, e->addr.a) == 1;
}

static bool ep_eq(const struct bt_flow_ep *x, const struct bt_flow_ep *y)
{
	return x->port == y->port && x->addr.family == y->addr.family &&
	       memcmp(x->addr.a, y->addr.a, 16) == 0;
}

static uint64_t ep_hash(const struct bt_flow_ep *e)
{
	uint64_t x = 0xcbf29ce484222325ull;   /* FNV-1a */

	for (size_t i = 0; i < 16; i++)
		x = (x ^ e->addr.a[i]) * 0x100000001b3ull;
	x = (x ^ e->addr.family) * 0x100000001b3ull;
	x = (x ^ e->port) * 0x100000001b3ull;
	return x;
}

/* The same either way round. */
static size_t slot(const struct bt_keylog *k, const struct bt_flow_ep *a,
		   const struct bt_flow_ep *b)
{
	uint64_t x = ep_hash(a), y = ep_hash(b);

	return (size_t)((x ^ y) * 0x9e3779b97f4a7c15ull >> 32) & (k->nbucket - 1);
}

/* Rebuild the index for twice as many buckets as entries. */
static bool reindex(struct bt_keylog *k, size_t want)
{
	size_t nb = 64;
	uint32_t *b;

	while (nb < 2 * want)
		nb *= 2;
	if (nb <= k->nbucket)
		return true;
	b = calloc(nb, sizeof *b);
	if (!b)
		return false;
	free(k->bucket);
	k->bucket = b;
	k->nbucket = nb;
	/* chains in file order: link from the last entry back */
	for (size_t i = k->n; i-- > 0;) {
		size_t h = slot(k, &k->v[i].client, &k->v[i].server);

		k->v[i].next = b[h];
		b[h] = (uint32_t)(i + 1);
	}
	return true;
}

int bt_keylog_add(struct bt_keylog *k, const char *line, size_t len,
		  const char **why)
{
	struct bt_mse_keylog l;
	struct bt_keylog_entry e;
	int rc = bt_mse_keylog_parse(line, len, &l, why);
	size_t h;
	uint32_t *pp;

	if (rc != BT_OK)
		return rc;
	memset(&e, 0, sizeof e);
	if (!parse_ep(l.client, l.client_len, &e.client) ||
	    !parse_ep(l.server, l.server_len, &e.server)) {
		k->unmatchable++;
		return BT_EUNSUPP;
	}
	memcpy(e.secret, l.secret, sizeof e.secret);
	memcpy(e.skey, l.skey, 20);
	e.has_skey = l.has_skey;
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 64;
		struct bt_keylog_entry *nv;

		if (k->n >= BT_KEYLOG_MAX)
			return BT_ENOSPC;
		nv = realloc(k->v, cap * sizeof *nv);
		if (!nv)
			return BT_ENOSPC;
		k->v = nv;
		k->cap = cap;
	}
	k->v[k->n++] = e;
	if (!reindex(k, k->n)) {
		k->n--;
		return BT_ENOSPC;
	}
	/* append to the end of its chain: file order */
	h = slot(k, &e.client, &e.server);
	pp = &k->bucket[h];
	while (*pp && *pp != k->n)
		pp = &k->v[*pp - 1].next;
	if (!*pp)
		*pp = (uint32_t)k->n;
	return BT_OK;
}

const struct bt_keylog_entry *bt_keylog_take(struct bt_keylog *k,
					     const struct bt_flow_ep *a,
					     const struct bt_flow_ep *b,
					     bool *a_is_client)
{
	uint32_t i;

	if (!k->n)
		return NULL;
	for (i = k->bucket[slot(k, a, b)]; i; i = k->v[i - 1].next) {
		struct bt_keylog_entry *e = &k->v[i - 1];

		if (e->used)
			continue;
		if (ep_eq(&e->client, a) && ep_eq(&e->server, b))
			*a_is_client = true;
		else if (ep_eq(&e->client, b) && ep_eq(&e->server, a))
			*a_is_client = false;
		else
			continue;
		e->used = true;
		return e;
	}
	return NULL;
}

bool bt_keylog_find_skey(void *arg, const uint8_t req2[20], uint8_t skey[20])
{
	const struct bt_keylog *k = arg;
	uint8_t h[20];

	for (size_t i = 0; i < k->n; i++) {
		if (!k->v[i].has_skey)
			continue;
		bt_mse_req2(k->v[i].skey, h);
		if (memcmp(h, req2, 20) == 0) {
			memcpy(skey, k->v[i].skey, 20);
			return true;
		}
	}
	return false;
}
