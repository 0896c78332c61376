/* BEP 10 extended handshake payload (ext.h) on any bytes.
 *
 * Properties: views inside the payload; the m table within its cap and
 * consistent with m_total and the problem bits; every HAVE/P bit agrees
 * with the value it describes; bt_ext_hs_id finds stored names.  Round
 * trip: what we would echo back (our ids, port, reqq, metadata_size,
 * upload_only, v, yourip) encoded by bt_ext_hs_encode parses to the same
 * values with no problems. */
#include "fuzz.h"
#include "ext.h"

static void check_int(const struct bt_ext_hs *h, unsigned have, unsigned prob,
		      int64_t v, int64_t lo, int64_t hi)
{
	if (h->have & have)
		FUZZ_CHECK(((h->problems & prob) != 0) == (v < lo || v > hi));
}

static char *cstr(const struct bt_ext_view *v)
{
	char *s;

	if (memchr(v->p, '\0', v->len))
		return NULL;
	s = malloc(v->len + 1);
	if (!s)
		abort();
	memcpy(s, v->p, v->len);
	s[v->len] = '\0';
	return s;
}

static void roundtrip(const struct bt_ext_hs *h)
{
	struct bt_ext_hs_out o;
	struct bt_ext_hs h2;
	struct bt_be_err err;
	struct bt_wr w;
	uint8_t *buf;
	char *v = NULL;
	int rc;

	memset(&o, 0, sizeof o);
	o.ut_metadata = (uint8_t)bt_ext_hs_id(h, "ut_metadata");
	o.ut_pex = (uint8_t)bt_ext_hs_id(h, "ut_pex");
	if ((h->have & BT_EXT_HAVE_P) && !(h->problems & BT_EXT_P_P))
		o.p = (uint16_t)h->p;
	if ((h->have & BT_EXT_HAVE_REQQ) && h->reqq >= 1 && h->reqq <= UINT32_MAX)
		o.reqq = (uint32_t)h->reqq;
	if ((h->have & BT_EXT_HAVE_METADATA_SIZE) &&
	    !(h->problems & BT_EXT_P_METADATA_SIZE))
		o.metadata_size = (uint32_t)h->metadata_size;
	o.upload_only = (h->have & BT_EXT_HAVE_UPLOAD_ONLY) && h->upload_only == 1;
	if (h->have & BT_EXT_HAVE_V)
		o.v = v = cstr(&h->v);
	if (h->have & BT_EXT_HAVE_YOURIP)
		o.yourip = &h->yourip;

	bt_wr_init(&w, NULL, 0);
	FUZZ_CHECK(bt_ext_hs_encode(&w, &o) == BT_ENOSPC);
	buf = malloc(w.len);
	if (!buf)
		abort();
	bt_wr_init(&w, buf, w.len);
	FUZZ_CHECK(bt_ext_hs_encode(&w, &o) == BT_OK);
	if (w.len > BT_EXT_MAX_PAYLOAD)     /* a long v: fine, not ours to echo */
		goto out;
	rc = bt_ext_hs_parse(&h2, buf, w.len, &err);
	FUZZ_CHECK(rc == BT_OK);
	if (o.ut_metadata && o.ut_metadata == o.ut_pex)
		FUZZ_CHECK(h2.problems == BT_EXT_P_M_DUPID);
	else
		FUZZ_CHECK(h2.problems == 0);
	FUZZ_CHECK(bt_ext_hs_id(&h2, "ut_metadata") == o.ut_metadata);
	FUZZ_CHECK(bt_ext_hs_id(&h2, "ut_pex") == o.ut_pex);
	FUZZ_CHECK(!!(h2.have & BT_EXT_HAVE_P) == !!o.p && (!o.p || h2.p == o.p));
	FUZZ_CHECK(!!(h2.have & BT_EXT_HAVE_REQQ) == !!o.reqq && (!o.reqq || h2.reqq == o.reqq));
	FUZZ_CHECK(!o.metadata_size || h2.metadata_size == o.metadata_size);
	FUZZ_CHECK(!!(h2.have & BT_EXT_HAVE_UPLOAD_ONLY) == o.upload_only);
	if (v)
		FUZZ_CHECK(h2.v.len == strlen(v) && memcmp(h2.v.p, v, h2.v.len) == 0);
	else
		FUZZ_CHECK(!(h2.have & BT_EXT_HAVE_V));
	if (o.yourip) {
		FUZZ_CHECK(h2.have & BT_EXT_HAVE_YOURIP);
		FUZZ_CHECK(h2.yourip.family == h->yourip.family);
		FUZZ_CHECK(memcmp(h2.yourip.ip, h->yourip.ip, 16) == 0);
	}
out:
	free(buf);
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_ext_hs h;
	struct bt_be_err err;
	size_t i;
	int rc = bt_ext_hs_parse(&h, data, size, &err);

	if (rc != BT_OK) {
		/* ext.h lists these three; an integer over 64 bits gives
		 * bencode.h's BT_EUNSUPP (test_regress.c). */
		FUZZ_KNOWN("be-codes", rc != BT_EUNSUPP);
		FUZZ_CHECK(rc == BT_EINVAL || rc == BT_ETOOBIG || rc == BT_EDEPTH ||
			   rc == BT_EUNSUPP);
		FUZZ_CHECK(err.code == rc && err.rule != NULL);
		FUZZ_CHECK(h.have == 0 && h.nm == 0);
		return 0;
	}
	FUZZ_CHECK(size <= BT_EXT_MAX_PAYLOAD);
	FUZZ_CHECK(h.nm <= BT_EXT_MAX_M && h.nm <= h.m_total);
	FUZZ_CHECK(h.nm == (h.m_total < BT_EXT_MAX_M ? h.m_total : BT_EXT_MAX_M));
	FUZZ_CHECK(!!(h.problems & BT_EXT_P_M_CAP) == (h.m_total > BT_EXT_MAX_M));
	FUZZ_CHECK((h.have & BT_EXT_HAVE_M) || h.m_total == 0);
	for (i = 0; i < h.nm; i++) {
		const struct bt_ext_m *e = &h.m[i];
		char *name;

		FUZZ_CHECK(fz_inside(e->name.p, e->name.len, data, size));
		FUZZ_CHECK(!e->valid || (e->id >= 0 && e->id <= 255));
		if (!e->valid)
			FUZZ_CHECK(h.problems & BT_EXT_P_M_ID);
		/* The first entry of a name is the one looked up. */
		if ((name = cstr(&e->name)) != NULL) {
			int id = bt_ext_hs_id(&h, name);
			size_t j;
			for (j = 0; j < i; j++)
				if (h.m[j].name.len == e->name.len &&
				    memcmp(h.m[j].name.p, e->name.p, e->name.len) == 0)
					break;
			if (j == i)
				FUZZ_CHECK(id == (e->valid ? (int)e->id : 0));
			FUZZ_CHECK(id >= 0 && id <= 255);
			free(name);
		}
	}
	if (h.have & BT_EXT_HAVE_V)
		FUZZ_CHECK(fz_inside(h.v.p, h.v.len, data, size));
	check_int(&h, BT_EXT_HAVE_P, BT_EXT_P_P, h.p, 1, 65535);
	check_int(&h, BT_EXT_HAVE_REQQ, BT_EXT_P_REQQ, h.reqq, 1, INT64_MAX);
	check_int(&h, BT_EXT_HAVE_METADATA_SIZE, BT_EXT_P_METADATA_SIZE,
		  h.metadata_size, 1, BT_EXT_MAX_METADATA);
	check_int(&h, BT_EXT_HAVE_UPLOAD_ONLY, BT_EXT_P_UPLOAD_ONLY, h.upload_only, 0, 1);
	check_int(&h, BT_EXT_HAVE_COMPLETE_AGO, BT_EXT_P_COMPLETE_AGO,
		  h.complete_ago, -1, INT64_MAX);
	check_int(&h, BT_EXT_HAVE_E, BT_EXT_P_E, h.e, 0, 1);
	if (h.have & BT_EXT_HAVE_YOURIP)
		FUZZ_CHECK(h.yourip.family == 4 || h.yourip.family == 6);
	if (h.have & BT_EXT_HAVE_IPV4)
		FUZZ_CHECK(h.ipv4.family == 4);
	if (h.have & BT_EXT_HAVE_IPV6)
		FUZZ_CHECK(h.ipv6.family == 6);
	roundtrip(&h);
	return 0;
}
