/* ext.c — BEP 10 extended handshake, ut_metadata (BEP 9), ut_pex (BEP 11).
 *
 * All three payloads start with a bencoded dictionary, decoded here the
 * same way (decode_dict): size cap first, then a lenient decode into a
 * token array on the stack that stops after the dictionary.  Lenient,
 * because this is a debugging tool: a dictionary with unsorted keys is
 * still worth showing, with the deviation flagged. */
#include "ext.h"

#include <stdio.h>
#include <string.h>

/* ---- shared ------------------------------------------------------------ */

static int fail(struct bt_be_err *err, int code, size_t off, const char *rule)
{
	if (err) {
		err->code = code;
		err->off = off;
		err->rule = rule;
	}
	return code;
}

/* Decodes the dictionary at the start of buf into doc (tokens: caller's
 * array of BT_EXT_MAX_TOKENS).  Returns the bytes it spans (> 0) or a
 * negative result; *noncanon is set when the lenient decoder tolerated
 * something. */
static long decode_dict(struct bt_be_doc *doc, struct bt_be_tok *toks,
			const void *buf, size_t len, struct bt_be_err *err,
			bool *noncanon)
{
	struct bt_be_opts opts = { BT_BE_LENIENT | BT_BE_ALLOW_TRAILING, 0 };
	struct bt_be_err e;
	long rc;

	*noncanon = false;
	if (err) {
		err->code = BT_OK;
		err->off = 0;
		err->rule = "ok";
		err->tolerated = 0;
	}
	if (len > BT_EXT_MAX_PAYLOAD)
		return fail(err, BT_ETOOBIG, BT_EXT_MAX_PAYLOAD,
			    "extended payload larger than 64 KiB");
	rc = bt_be_decode(doc, buf, len, toks, BT_EXT_MAX_TOKENS, &opts, &e);
	if (err)
		*err = e;
	if (rc == BT_NEED_MORE)
		/* The message is framed: nothing more will come. */
		return fail(err, BT_EINVAL, len, "payload ends inside a bencoded value");
	if (rc == BT_ENOSPC)
		return fail(err, BT_ETOOBIG, e.off,
			    "more than 1024 bencoded values in an extended payload");
	if (rc == BT_EUNSUPP)
		/* An integer beyond 64 bits: valid bencode, invalid payload. */
		return fail(err, BT_EINVAL, e.off, e.rule);
	if (rc < 0)
		return rc;
	if (doc->toks[0].type != BT_BE_DICT)
		return fail(err, BT_EINVAL, 0, "payload is not a bencoded dictionary");
	*noncanon = e.tolerated != 0;
	return rc;
}

/* Iterates the (key, value) pairs of dict token d; key index in *k. */
#define FOR_PAIRS(doc, d, k, v, npairs) \
	for (size_t npairs = 0, k = (size_t)(d) + 1, v = (d) + 2; \
	     npairs < (doc)->toks[d].n; \
	     npairs++, k = bt_be_next((doc), v), v = k + 1)

static bool key_is(const struct bt_be_doc *d, size_t k, const char *name)
{
	const uint8_t *p;
	size_t n, nl = strlen(name);

	return bt_be_str(d, k, &p, &n) && n == nl && memcmp(p, name, n) == 0;
}

static bool get_view(const struct bt_be_doc *d, size_t i, struct bt_ext_view *v)
{
	return bt_be_str(d, i, &v->p, &v->len);
}

/* ---- extended handshake ------------------------------------------------ */

static void parse_m(struct bt_ext_hs *h, const struct bt_be_doc *d, size_t mi)
{
	size_t i, j;

	FOR_PAIRS(d, mi, k, v, n) {
		struct bt_ext_m *e;
		int64_t id;

		h->m_total++;
		if (h->nm == BT_EXT_MAX_M) {
			h->problems |= BT_EXT_P_M_CAP;
			continue;
		}
		e = &h->m[h->nm++];
		get_view(d, k, &e->name);
		if (bt_be_int(d, v, &id)) {
			e->id = id;
			e->valid = id >= 0 && id <= 255;
		}
		if (!e->valid)
			h->problems |= BT_EXT_P_M_ID;
	}
	for (i = 0; i < h->nm; i++)
		for (j = i + 1; j < h->nm; j++)
			if (h->m[i].valid && h->m[j].valid && h->m[i].id != 0 &&
			    h->m[i].id == h->m[j].id)
				h->problems |= BT_EXT_P_M_DUPID;
}

/* An integer field: HAVE bit and value when it is one; P bit when it is
 * not, or when it is outside lo..hi. */
static void hs_int(struct bt_ext_hs *h, const struct bt_be_doc *d, size_t v,
		   int64_t *out, unsigned have, unsigned prob, int64_t lo, int64_t hi)
{
	if (!bt_be_int(d, v, out)) {
		h->problems |= prob;
		return;
	}
	h->have |= have;
	if (*out < lo || *out > hi)
		h->problems |= prob;
}

/* An address field: a string of 4 (if v4 allowed) or 16 (if v6) bytes. */
static void hs_ip(struct bt_ext_hs *h, const struct bt_be_doc *d, size_t v,
		  struct bt_peer_addr *a, unsigned have, unsigned prob,
		  bool v4, bool v6)
{
	struct bt_ext_view s;

	if (!get_view(d, v, &s) || !((v4 && s.len == 4) || (v6 && s.len == 16))) {
		h->problems |= prob;
		return;
	}
	memset(a, 0, sizeof(*a));
	a->family = s.len == 4 ? 4 : 6;
	memcpy(a->ip, s.p, s.len);
	h->have |= have;
}

int bt_ext_hs_parse(struct bt_ext_hs *h, const void *buf, size_t len,
		    struct bt_be_err *err)
{
	struct bt_be_tok toks[BT_EXT_MAX_TOKENS];
	struct bt_be_doc doc;
	const struct bt_be_doc *d = &doc;
	bool noncanon;
	unsigned seen = 0;
	long rc;

	memset(h, 0, sizeof(*h));
	rc = decode_dict(&doc, toks, buf, len, err, &noncanon);
	if (rc < 0)
		return (int)rc;
	if (noncanon)
		h->problems |= BT_EXT_P_NONCANON;
	if ((size_t)rc != len)
		h->problems |= BT_EXT_P_TRAILING;

	FOR_PAIRS(d, 0, k, v, n) {
		unsigned bit;

		/* With duplicate keys (lenient) the first one counts. */
		if (key_is(d, k, "m"))
			bit = BT_EXT_HAVE_M;
		else if (key_is(d, k, "v"))
			bit = BT_EXT_HAVE_V;
		else if (key_is(d, k, "p"))
			bit = BT_EXT_HAVE_P;
		else if (key_is(d, k, "reqq"))
			bit = BT_EXT_HAVE_REQQ;
		else if (key_is(d, k, "yourip"))
			bit = BT_EXT_HAVE_YOURIP;
		else if (key_is(d, k, "ipv4"))
			bit = BT_EXT_HAVE_IPV4;
		else if (key_is(d, k, "ipv6"))
			bit = BT_EXT_HAVE_IPV6;
		else if (key_is(d, k, "metadata_size"))
			bit = BT_EXT_HAVE_METADATA_SIZE;
		else if (key_is(d, k, "upload_only"))
			bit = BT_EXT_HAVE_UPLOAD_ONLY;
		else if (key_is(d, k, "complete_ago"))
			bit = BT_EXT_HAVE_COMPLETE_AGO;
		else if (key_is(d, k, "e"))
			bit = BT_EXT_HAVE_E;
		else {
			h->unknown++;
			continue;
		}
		if (seen & bit)
			continue;
		seen |= bit;

		switch (bit) {
		case BT_EXT_HAVE_M:
			if (d->toks[v].type != BT_BE_DICT) {
				h->problems |= BT_EXT_P_M_TYPE;
				break;
			}
			h->have |= bit;
			parse_m(h, d, v);
			break;
		case BT_EXT_HAVE_V:
			if (get_view(d, v, &h->v))
				h->have |= bit;
			else
				h->problems |= BT_EXT_P_V;
			break;
		case BT_EXT_HAVE_P:
			hs_int(h, d, v, &h->p, bit, BT_EXT_P_P, 1, 65535);
			break;
		case BT_EXT_HAVE_REQQ:
			hs_int(h, d, v, &h->reqq, bit, BT_EXT_P_REQQ, 1, INT64_MAX);
			break;
		case BT_EXT_HAVE_METADATA_SIZE:
			hs_int(h, d, v, &h->metadata_size, bit, BT_EXT_P_METADATA_SIZE,
			       1, BT_EXT_MAX_METADATA);
			break;
		case BT_EXT_HAVE_UPLOAD_ONLY:
			hs_int(h, d, v, &h->upload_only, bit, BT_EXT_P_UPLOAD_ONLY, 0, 1);
			break;
		case BT_EXT_HAVE_COMPLETE_AGO:
			hs_int(h, d, v, &h->complete_ago, bit, BT_EXT_P_COMPLETE_AGO,
			       -1, INT64_MAX);
			break;
		case BT_EXT_HAVE_E:
			hs_int(h, d, v, &h->e, bit, BT_EXT_P_E, 0, 1);
			break;
		case BT_EXT_HAVE_YOURIP:
			hs_ip(h, d, v, &h->yourip, bit, BT_EXT_P_YOURIP, true, true);
			break;
		case BT_EXT_HAVE_IPV4:
			hs_ip(h, d, v, &h->ipv4, bit, BT_EXT_P_IPV4, true, false);
			break;
		case BT_EXT_HAVE_IPV6:
			hs_ip(h, d, v, &h->ipv6, bit, BT_EXT_P_IPV6, false, true);
			break;
		}
	}
	return BT_OK;
}

int bt_ext_hs_id(const struct bt_ext_hs *h, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < h->nm; i++) {
		const struct bt_ext_m *e = &h->m[i];
		if (e->name.len == n && memcmp(e->name.p, name, n) == 0)
			return e->valid ? (int)e->id : 0;
	}
	return 0;
}

static int wr_result(const struct bt_wr *w)
{
	return bt_wr_ok(w) ? BT_OK : BT_ENOSPC;
}

int bt_ext_hs_encode(struct bt_wr *w, const struct bt_ext_hs_out *o)
{
	const struct bt_peer_addr *ip = o->yourip;

	if (ip && ip->family != 4 && ip->family != 6)
		return BT_EINVAL;
	/* Keys in byte order: m, metadata_size, p, reqq, upload_only, v,
	 * yourip; in m: ut_metadata, ut_pex. */
	bt_be_put_dict(w);
	if (o->ut_metadata || o->ut_pex) {
		bt_be_put_cstr(w, "m");
		bt_be_put_dict(w);
		if (o->ut_metadata) {
			bt_be_put_cstr(w, "ut_metadata");
			bt_be_put_int(w, o->ut_metadata);
		}
		if (o->ut_pex) {
			bt_be_put_cstr(w, "ut_pex");
			bt_be_put_int(w, o->ut_pex);
		}
		bt_be_put_end(w);
	}
	if (o->metadata_size) {
		bt_be_put_cstr(w, "metadata_size");
		bt_be_put_int(w, o->metadata_size);
	}
	if (o->p) {
		bt_be_put_cstr(w, "p");
		bt_be_put_int(w, o->p);
	}
	if (o->reqq) {
		bt_be_put_cstr(w, "reqq");
		bt_be_put_int(w, o->reqq);
	}
	if (o->upload_only) {
		bt_be_put_cstr(w, "upload_only");
		bt_be_put_int(w, 1);
	}
	if (o->v) {
		bt_be_put_cstr(w, "v");
		bt_be_put_cstr(w, o->v);
	}
	if (ip) {
		bt_be_put_cstr(w, "yourip");
		bt_be_put_str(w, ip->ip, ip->family == 4 ? 4 : 16);
	}
	bt_be_put_end(w);
	return wr_result(w);
}

/* ---- ut_metadata ------------------------------------------------------- */

uint64_t bt_utm_pieces(uint64_t total_size)
{
	return total_size / BT_UTM_BLOCK + (total_size % BT_UTM_BLOCK != 0);
}

size_t bt_utm_piece_len(uint64_t total_size, uint64_t piece)
{
	uint64_t n = bt_utm_pieces(total_size);

	if (piece >= n)
		return 0;
	if (piece + 1 < n)
		return BT_UTM_BLOCK;
	/* piece * BLOCK < total_size, so no overflow. */
	return (size_t)(total_size - piece * BT_UTM_BLOCK);
}

/* Offset of the value of key in dict 0, or of the dict when absent. */
static size_t key_off(const struct bt_be_doc *d, long i)
{
	return i < 0 ? 0 : d->toks[i].off;
}

int bt_utm_parse(struct bt_utm *m, const void *buf, size_t len,
		 struct bt_be_err *err)
{
	struct bt_be_tok toks[BT_EXT_MAX_TOKENS];
	struct bt_be_doc doc;
	const struct bt_be_doc *d = &doc;
	bool noncanon;
	long rc, ti, pi, si;
	size_t end, want;

	memset(m, 0, sizeof(*m));
	rc = decode_dict(&doc, toks, buf, len, err, &noncanon);
	if (rc < 0)
		return (int)rc;
	end = (size_t)rc;
	if (noncanon)
		m->problems |= BT_UTM_P_NONCANON;
	if (end < len) {
		m->data.p = (const uint8_t *)buf + end;
		m->data.len = len - end;
	}

	ti = bt_be_dict_get(d, 0, "msg_type");
	if (ti < 0 || !bt_be_int(d, (size_t)ti, &m->msg_type))
		return fail(err, BT_EINVAL, key_off(d, ti),
			    "msg_type missing or not an integer");
	pi = bt_be_dict_get(d, 0, "piece");
	if (pi < 0 || !bt_be_int(d, (size_t)pi, &m->piece))
		return fail(err, BT_EINVAL, key_off(d, pi),
			    "piece missing or not an integer");
	if (m->piece < 0)
		return fail(err, BT_EINVAL, key_off(d, pi), "piece is negative");
	si = bt_be_dict_get(d, 0, "total_size");
	if (si >= 0 && bt_be_int(d, (size_t)si, &m->total_size)) {
		m->have |= BT_UTM_HAVE_TOTAL_SIZE;
		if (m->total_size > (int64_t)BT_EXT_MAX_METADATA)
			m->problems |= BT_UTM_P_HUGE;
	}

	switch (m->msg_type) {
	case BT_UTM_REQUEST:
	case BT_UTM_REJECT:
		if (m->data.len)
			m->problems |= BT_UTM_P_TRAILING;
		return BT_OK;
	case BT_UTM_DATA:
		break;
	default:
		/* BEP 9: an unrecognised message type must be ignored. */
		m->problems |= BT_UTM_P_UNKNOWN_TYPE;
		return BT_OK;
	}

	if (!(m->have & BT_UTM_HAVE_TOTAL_SIZE))
		return fail(err, BT_EINVAL, key_off(d, si),
			    "data message without an integer total_size");
	if (m->total_size < 1)
		return fail(err, BT_EINVAL, key_off(d, si), "total_size is not positive");
	if ((uint64_t)m->piece >= bt_utm_pieces((uint64_t)m->total_size))
		return fail(err, BT_EINVAL, key_off(d, pi),
			    "piece is past the end of the metadata");
	want = bt_utm_piece_len((uint64_t)m->total_size, (uint64_t)m->piece);
	if (m->data.len != want)
		return fail(err, BT_EINVAL, end, want == BT_UTM_BLOCK ?
			    "metadata piece is not 16384 bytes" :
			    "last metadata piece does not end at total_size");
	return BT_OK;
}

static int utm_put(struct bt_wr *w, int type, uint32_t piece, const uint64_t *total)
{
	bt_be_put_dict(w);
	bt_be_put_cstr(w, "msg_type");
	bt_be_put_int(w, type);
	bt_be_put_cstr(w, "piece");
	bt_be_put_int(w, piece);
	if (total) {
		bt_be_put_cstr(w, "total_size");
		bt_be_put_int(w, (int64_t)*total);
	}
	bt_be_put_end(w);
	return wr_result(w);
}

int bt_utm_put_request(struct bt_wr *w, uint32_t piece)
{
	return utm_put(w, BT_UTM_REQUEST, piece, NULL);
}

int bt_utm_put_reject(struct bt_wr *w, uint32_t piece)
{
	return utm_put(w, BT_UTM_REJECT, piece, NULL);
}

int bt_utm_put_data(struct bt_wr *w, uint32_t piece, uint64_t total_size,
		    const void *data, size_t len)
{
	size_t want = bt_utm_piece_len(total_size, piece);

	if (total_size > (uint64_t)INT64_MAX || want == 0 || len != want)
		return BT_EINVAL;
	utm_put(w, BT_UTM_DATA, piece, &total_size);
	bt_wr_bytes(w, data, len);
	return wr_result(w);
}

/* ---- ut_pex ------------------------------------------------------------ */

static const char *const pex_keys[BT_PEX_NLISTS] = {
	"added", "dropped", "added6", "dropped6",
};
static const size_t pex_stride[BT_PEX_NLISTS] = {
	BT_ADDR_COMPACT4, BT_ADDR_COMPACT4, BT_ADDR_COMPACT6, BT_ADDR_COMPACT6,
};

int bt_pex_parse(struct bt_pex *x, const void *buf, size_t len,
		 struct bt_be_err *err)
{
	struct bt_be_tok toks[BT_EXT_MAX_TOKENS];
	struct bt_be_doc doc;
	const struct bt_be_doc *d = &doc;
	bool noncanon, have_list[BT_PEX_NLISTS] = { false }, have_f[2] = { false };
	long rc;
	int l, f;
	size_t i;

	memset(x, 0, sizeof(*x));
	rc = decode_dict(&doc, toks, buf, len, err, &noncanon);
	if (rc < 0)
		return (int)rc;
	if (noncanon)
		x->problems |= BT_PEX_P_NONCANON;
	if ((size_t)rc != len)
		x->problems |= BT_PEX_P_TRAILING;

	FOR_PAIRS(d, 0, k, v, n) {
		struct bt_ext_view *dst = NULL;
		bool *seen = NULL;

		for (l = 0; l < BT_PEX_NLISTS && !dst; l++)
			if (key_is(d, k, pex_keys[l]))
				dst = &x->list[l], seen = &have_list[l];
		if (key_is(d, k, "added.f"))
			dst = &x->flags[0], seen = &have_f[0];
		else if (key_is(d, k, "added6.f"))
			dst = &x->flags[1], seen = &have_f[1];
		if (!dst || *seen)
			continue; /* unknown, or a duplicate: the first counts */
		*seen = true;
		if (!get_view(d, v, dst))
			x->problems |= BT_PEX_P_TYPE;
	}

	for (l = 0; l < BT_PEX_NLISTS; l++) {
		x->count[l] = x->list[l].len / pex_stride[l];
		if (x->list[l].len % pex_stride[l])
			x->problems |= BT_PEX_P_LEN(l);
	}
	if (!have_list[0] && !have_list[1] && !have_list[2] && !have_list[3])
		x->problems |= BT_PEX_P_EMPTY;
	for (f = 0; f < 2; f++) {
		const struct bt_ext_view *fl = &x->flags[f];
		size_t cnt = x->count[f ? BT_PEX_ADDED6 : BT_PEX_ADDED];

		if (have_f[f] && fl->len != cnt)
			x->problems |= f ? BT_PEX_P_FLAGS6_LEN : BT_PEX_P_FLAGS_LEN;
		for (i = 0; i < fl->len; i++)
			if (fl->p[i] & ~BT_PEX_F_KNOWN)
				x->problems |= BT_PEX_P_RESERVED;
	}
	return BT_OK;
}

bool bt_pex_peer(const struct bt_pex *x, enum bt_pex_list l, size_t i,
		 struct bt_peer_addr *a)
{
	const struct bt_ext_view *fl = NULL;

	if ((unsigned)l >= BT_PEX_NLISTS || i >= x->count[l])
		return false;
	if (pex_stride[l] == BT_ADDR_COMPACT4)
		bt_addr_load4(a, x->list[l].p + i * BT_ADDR_COMPACT4);
	else
		bt_addr_load6(a, x->list[l].p + i * BT_ADDR_COMPACT6);
	if (l == BT_PEX_ADDED)
		fl = &x->flags[0];
	else if (l == BT_PEX_ADDED6)
		fl = &x->flags[1];
	if (fl && i < fl->len)
		a->flags = fl->p[i];
	return true;
}

size_t bt_pex_peers(const struct bt_pex *x, enum bt_pex_list l,
		    struct bt_peer_addr *out, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && bt_pex_peer(x, l, i, &out[i]); i++)
		;
	return i;
}

const char *bt_pex_list_name(enum bt_pex_list l)
{
	return (unsigned)l < BT_PEX_NLISTS ? pex_keys[l] : "?";
}

static const struct {
	unsigned bit;
	const char *name;
} pex_flag_names[] = {
	{ BT_PEX_F_ENCRYPTION, "encryption" },
	{ BT_PEX_F_SEED,       "seed" },
	{ BT_PEX_F_UTP,        "utp" },
	{ BT_PEX_F_HOLEPUNCH,  "holepunch" },
	{ BT_PEX_F_REACHABLE,  "reachable" },
};

const char *bt_pex_flag_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < sizeof(pex_flag_names) / sizeof(pex_flag_names[0]); i++)
		if (pex_flag_names[i].bit == bit)
			return pex_flag_names[i].name;
	return NULL;
}

char *bt_pex_flags_str(uint8_t flags, char *buf, size_t cap)
{
	char t[128];
	size_t n = 0, tl;
	unsigned bit;

	if (cap == 0)
		return buf;
	if (flags == 0)
		memcpy(t, "none", 5), n = 4;
	for (bit = 1; bit <= 0x80; bit <<= 1) {
		const char *name;

		if (!(flags & bit))
			continue;
		if (n)
			t[n++] = ',';
		name = bt_pex_flag_name(bit);
		if (name)
			n += (size_t)sprintf(t + n, "%s", name);
		else
			n += (size_t)sprintf(t + n, "0x%02x", bit);
	}
	t[n] = '\0';
	tl = n < cap - 1 ? n : cap - 1;
	memcpy(buf, t, tl);
	buf[tl] = '\0';
	return buf;
}

/* "<key><n*stride>:<compact...>" for the peers of one family. */
static void pex_put_list(struct bt_wr *w, const char *key,
			 const struct bt_peer_addr *a, size_t n, uint8_t fam)
{
	size_t i, cnt = 0;
	char hdr[32];
	int hl;

	for (i = 0; i < n; i++)
		cnt += a[i].family == fam;
	if (!cnt)
		return;
	bt_be_put_cstr(w, key);
	hl = snprintf(hdr, sizeof(hdr), "%zu:",
		      cnt * (fam == 4 ? BT_ADDR_COMPACT4 : BT_ADDR_COMPACT6));
	bt_wr_bytes(w, hdr, (size_t)hl);
	for (i = 0; i < n; i++)
		if (a[i].family == fam)
			bt_addr_put(w, &a[i]);
}

static void pex_put_flags(struct bt_wr *w, const char *key,
			  const struct bt_peer_addr *a, size_t n, uint8_t fam)
{
	size_t i, cnt = 0;
	char hdr[32];
	int hl;

	for (i = 0; i < n; i++)
		cnt += a[i].family == fam;
	if (!cnt)
		return;
	bt_be_put_cstr(w, key);
	hl = snprintf(hdr, sizeof(hdr), "%zu:", cnt);
	bt_wr_bytes(w, hdr, (size_t)hl);
	for (i = 0; i < n; i++)
		if (a[i].family == fam)
			bt_wr_u8(w, a[i].flags);
}

int bt_pex_encode(struct bt_wr *w, const struct bt_peer_addr *added, size_t nadded,
		  const struct bt_peer_addr *dropped, size_t ndropped)
{
	size_t i;

	for (i = 0; i < nadded; i++)
		if (added[i].family != 4 && added[i].family != 6)
			return BT_EINVAL;
	for (i = 0; i < ndropped; i++)
		if (dropped[i].family != 4 && dropped[i].family != 6)
			return BT_EINVAL;
	/* Byte order of the keys: '.' (0x2e) sorts before '6' (0x36). */
	bt_be_put_dict(w);
	pex_put_list(w, "added", added, nadded, 4);
	pex_put_flags(w, "added.f", added, nadded, 4);
	pex_put_list(w, "added6", added, nadded, 6);
	pex_put_flags(w, "added6.f", added, nadded, 6);
	pex_put_list(w, "dropped", dropped, ndropped, 4);
	pex_put_list(w, "dropped6", dropped, ndropped, 6);
	bt_be_put_end(w);
	return wr_result(w);
}
