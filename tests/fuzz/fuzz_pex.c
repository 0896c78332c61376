/* ut_pex payload (BEP 11, ext.h) on any bytes.
 *
 * Properties: counts are whole entries of each list and the lists lie
 * inside the payload; bt_pex_peer and bt_pex_peers agree.  Round trip:
 * the peers decoded, encoded again with bt_pex_encode, parse to the same
 * peers with the same flags, in the same order.  Each address prints
 * (bt_addr_fmt: "" when the buffer is short, never a misleading prefix)
 * and its text parses back to the same address (bt_url_ip_literal). */
#include "fuzz.h"
#include "ext.h"
#include "url.h"

static const size_t stride[BT_PEX_NLISTS] = { 6, 6, 18, 18 };

static bool addr_eq(const struct bt_peer_addr *a, const struct bt_peer_addr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, 16) == 0 &&
	       a->port == b->port && a->flags == b->flags;
}

static void check_addr(const struct bt_peer_addr *a, size_t cap)
{
	char full[BT_ADDR_STRLEN], ip[BT_ADDR_STRLEN], small[BT_ADDR_STRLEN];
	uint8_t back[16];
	size_t n;

	bt_addr_fmt(a, full, sizeof full);
	n = strlen(full);
	FUZZ_CHECK(n > 0 && n < sizeof full);
	bt_addr_ip_fmt(a, ip, sizeof ip);
	FUZZ_CHECK(bt_url_ip_literal(ip, strlen(ip), back) == a->family);
	FUZZ_CHECK(memcmp(back, a->ip, a->family == 4 ? 4 : 16) == 0);
	cap %= sizeof small;
	memset(small, 'X', sizeof small);
	bt_addr_fmt(a, small, cap);
	if (cap == 0)
		FUZZ_CHECK(small[0] == 'X');
	else if (cap > n)
		FUZZ_CHECK(strcmp(small, full) == 0);
	else
		FUZZ_CHECK(small[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_pex x, y;
	struct bt_be_err err;
	struct bt_peer_addr *added, *dropped, *all, a;
	size_t nadded = 0, ndropped = 0, total = 0, i, k;
	uint8_t *buf;
	struct bt_wr w;
	int l, rc = bt_pex_parse(&x, data, size, &err);
	char fl[64];

	if (rc != BT_OK) {
		/* ext.h lists these three; an integer over 64 bits gives
		 * bencode.h's BT_EUNSUPP (test_regress.c). */
		FUZZ_KNOWN("be-codes", rc != BT_EUNSUPP);
		FUZZ_CHECK(rc == BT_EINVAL || rc == BT_ETOOBIG || rc == BT_EDEPTH ||
			   rc == BT_EUNSUPP);
		FUZZ_CHECK(err.code == rc && err.rule != NULL);
		return 0;
	}
	for (l = 0; l < BT_PEX_NLISTS; l++) {
		FUZZ_CHECK(fz_inside(x.list[l].p, x.list[l].len, data, size));
		FUZZ_CHECK(x.count[l] == x.list[l].len / stride[l]);
		FUZZ_CHECK(!!(x.problems & BT_PEX_P_LEN(l)) == (x.list[l].len % stride[l] != 0));
		total += x.count[l];
	}
	FUZZ_CHECK(fz_inside(x.flags[0].p, x.flags[0].len, data, size));
	FUZZ_CHECK(fz_inside(x.flags[1].p, x.flags[1].len, data, size));

	added = malloc((total + 1) * sizeof *added);
	dropped = malloc((total + 1) * sizeof *dropped);
	all = malloc((total + 1) * sizeof *all);
	if (!added || !dropped || !all)
		abort();
	for (l = 0; l < BT_PEX_NLISTS; l++) {
		size_t got = bt_pex_peers(&x, (enum bt_pex_list)l, all, total + 1);

		FUZZ_CHECK(got == x.count[l]);
		FUZZ_CHECK(!bt_pex_peer(&x, (enum bt_pex_list)l, got, &a));
		for (i = 0; i < got; i++) {
			FUZZ_CHECK(bt_pex_peer(&x, (enum bt_pex_list)l, i, &a));
			FUZZ_CHECK(addr_eq(&a, &all[i]));
			FUZZ_CHECK(a.family == (stride[l] == 6 ? 4 : 6));
			if (l == BT_PEX_DROPPED || l == BT_PEX_DROPPED6)
				FUZZ_CHECK(a.flags == 0);
			if (l == BT_PEX_ADDED || l == BT_PEX_ADDED6)
				added[nadded++] = a;
			else
				dropped[ndropped++] = a;
			check_addr(&a, (size_t)a.port + i);
			bt_pex_flags_str(a.flags, fl, sizeof fl);
			FUZZ_CHECK(strlen(fl) > 0 && strlen(fl) < sizeof fl - 1);
		}
	}

	bt_wr_init(&w, NULL, 0);
	rc = bt_pex_encode(&w, added, nadded, dropped, ndropped);
	FUZZ_CHECK(rc == BT_ENOSPC);
	buf = malloc(w.len);
	if (!buf)
		abort();
	bt_wr_init(&w, buf, w.len);
	FUZZ_CHECK(bt_pex_encode(&w, added, nadded, dropped, ndropped) == BT_OK);
	if (w.len <= BT_EXT_MAX_PAYLOAD) {
		FUZZ_CHECK(bt_pex_parse(&y, buf, w.len, &err) == BT_OK);
		FUZZ_CHECK((y.problems & ~(BT_PEX_P_RESERVED | BT_PEX_P_EMPTY)) == 0);
		FUZZ_CHECK(!!(y.problems & BT_PEX_P_EMPTY) == (total == 0));
		for (l = 0; l < BT_PEX_NLISTS; l++) {
			FUZZ_CHECK(y.count[l] == x.count[l]);
			for (k = 0; k < x.count[l]; k++) {
				struct bt_peer_addr p, q;
				FUZZ_CHECK(bt_pex_peer(&x, (enum bt_pex_list)l, k, &p));
				FUZZ_CHECK(bt_pex_peer(&y, (enum bt_pex_list)l, k, &q));
				FUZZ_CHECK(addr_eq(&p, &q));
			}
		}
	}
	free(buf);
	free(added);
	free(dropped);
	free(all);
	return 0;
}
