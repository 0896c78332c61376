/* tracker.c — HTTP and UDP tracker codecs; see tracker.h. */
#include "tracker.h"

#include <string.h>

static int tfail(struct bt_trk_err *err, int code, size_t off, const char *rule,
		 uint64_t value)
{
	if (err) {
		err->code = code;
		err->problem = 0;
		err->off = off;
		err->rule = rule;
		err->value = value;
	}
	return code;
}

static void err_clear(struct bt_trk_err *err)
{
	if (err)
		tfail(err, BT_OK, 0, NULL, 0);
}

static int from_url_err(struct bt_trk_err *err, const struct bt_url_err *ue)
{
	return tfail(err, ue->code, ue->off, ue->rule, 0);
}

/* ---- events ------------------------------------------------------------ */

const char *bt_trk_event_name(int ev)
{
	switch (ev) {
	case BT_TRK_EV_NONE:      return "none";
	case BT_TRK_EV_COMPLETED: return "completed";
	case BT_TRK_EV_STARTED:   return "started";
	case BT_TRK_EV_STOPPED:   return "stopped";
	}
	return NULL;
}

static bool mem_is(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit); /* lit is ours, a C string */
	return n == l && (n == 0 || memcmp(s, lit, n) == 0);
}

int bt_trk_event_parse(const char *s, size_t n)
{
	if (mem_is(s, n, "") || mem_is(s, n, "empty") || mem_is(s, n, "none"))
		return BT_TRK_EV_NONE;
	if (mem_is(s, n, "completed"))
		return BT_TRK_EV_COMPLETED;
	if (mem_is(s, n, "started"))
		return BT_TRK_EV_STARTED;
	if (mem_is(s, n, "stopped"))
		return BT_TRK_EV_STOPPED;
	return -1;
}

/* ---- URL building ------------------------------------------------------ */

void bt_trk_announce_init(struct bt_trk_announce *a)
{
	memset(a, 0, sizeof *a);
	a->numwant = -1;
	a->compact = BT_TRK_COMPACT_OMIT;
	a->event = BT_TRK_EV_NONE;
}

static void wr_cstr(struct bt_wr *w, const char *s)
{
	bt_wr_bytes(w, s, strlen(s));
}

static void wr_u64(struct bt_wr *w, uint64_t v)
{
	char d[20];
	size_t i = sizeof d;

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	bt_wr_bytes(w, d + i, sizeof d - i);
}

/* "name=" preceded by the pending separator; later ones get '&'. */
static void wr_param(struct bt_wr *w, char *sep, const char *name)
{
	if (*sep)
		bt_wr_u8(w, (uint8_t)*sep);
	*sep = '&';
	wr_cstr(w, name);
	bt_wr_u8(w, '=');
}

/* What joins the URL and our parameters: '?' without a query; nothing
 * after an empty query ("x?") or one ending in '&'; '&' otherwise. */
static char first_sep(const struct bt_url *u)
{
	if (!u->has_query)
		return '?';
	if (u->query_len == 0 || u->query[u->query_len - 1] == '&')
		return 0;
	return '&';
}

static int finish(struct bt_wr *w, char *buf, size_t cap, size_t *out_len,
		  struct bt_trk_err *err)
{
	if (out_len)
		*out_len = w->len;
	if (w->len >= cap) {
		if (cap)
			buf[0] = '\0';
		return tfail(err, BT_ENOSPC, w->len, "URL buffer too small", w->len + 1);
	}
	buf[w->len] = '\0';
	return BT_OK;
}

static int parse_http_url(struct bt_url *u, const char *url, size_t url_len,
			  struct bt_trk_err *err)
{
	struct bt_url_err ue;
	int rc = bt_url_parse(u, url, url_len, &ue);

	if (rc)
		return from_url_err(err, &ue);
	if (u->scheme != BT_URL_HTTP && u->scheme != BT_URL_HTTPS)
		return tfail(err, BT_EUNSUPP, 0, "not an http(s) URL (UDP trackers use bt_udp_*)", 0);
	return BT_OK;
}

int bt_trk_announce_url(const struct bt_trk_announce *a,
			const char *url, size_t url_len,
			char *buf, size_t cap, size_t *out_len,
			struct bt_trk_err *err)
{
	struct bt_url u;
	struct bt_wr w;
	char sep;
	int rc;

	err_clear(err);
	if (out_len)
		*out_len = 0;
	rc = parse_http_url(&u, url, url_len, err);
	if (rc)
		return rc;
	if (a->numwant < -1)
		return tfail(err, BT_EINVAL, 0, "numwant below -1", 0);
	if (!bt_trk_event_name(a->event))
		return tfail(err, BT_EINVAL, 0, "unknown event", (uint64_t)(unsigned)a->event);
	if (a->compact < BT_TRK_COMPACT_OMIT || a->compact > BT_TRK_COMPACT_YES)
		return tfail(err, BT_EINVAL, 0, "compact is not -1, 0 or 1", 0);
	if ((!a->key && a->key_len) || (!a->ip && a->ip_len) ||
	    (!a->trackerid && a->trackerid_len))
		return tfail(err, BT_EINVAL, 0, "NULL string with a length", 0);

	bt_wr_init(&w, buf, cap);
	/* The URL up to the end of its query; a fragment is never sent. */
	bt_wr_bytes(&w, url, (size_t)(u.query + u.query_len - url));
	sep = first_sep(&u);
	wr_param(&w, &sep, "info_hash");
	bt_url_encode(&w, a->info_hash, sizeof a->info_hash);
	wr_param(&w, &sep, "peer_id");
	bt_url_encode(&w, a->peer_id, sizeof a->peer_id);
	wr_param(&w, &sep, "port");
	wr_u64(&w, a->port);
	wr_param(&w, &sep, "uploaded");
	wr_u64(&w, a->uploaded);
	wr_param(&w, &sep, "downloaded");
	wr_u64(&w, a->downloaded);
	wr_param(&w, &sep, "left");
	wr_u64(&w, a->left);
	if (a->event != BT_TRK_EV_NONE) {
		wr_param(&w, &sep, "event");
		wr_cstr(&w, bt_trk_event_name(a->event));
	}
	if (a->numwant >= 0) {
		wr_param(&w, &sep, "numwant");
		wr_u64(&w, (uint64_t)a->numwant);
	}
	if (a->compact != BT_TRK_COMPACT_OMIT) {
		wr_param(&w, &sep, "compact");
		bt_wr_u8(&w, a->compact ? '1' : '0');
	}
	if (a->no_peer_id) {
		wr_param(&w, &sep, "no_peer_id");
		bt_wr_u8(&w, '1');
	}
	if (a->key) {
		wr_param(&w, &sep, "key");
		bt_url_encode(&w, a->key, a->key_len);
	}
	if (a->ip) {
		wr_param(&w, &sep, "ip");
		bt_url_encode(&w, a->ip, a->ip_len);
	}
	if (a->trackerid) {
		wr_param(&w, &sep, "trackerid");
		bt_url_encode(&w, a->trackerid, a->trackerid_len);
	}
	return finish(&w, buf, cap, out_len, err);
}

int bt_trk_scrape_url(const char *url, size_t url_len,
		      const uint8_t (*hashes)[20], size_t n,
		      char *buf, size_t cap, size_t *out_len,
		      struct bt_trk_err *err)
{
	static const char ann[] = "announce";
	const size_t annlen = sizeof ann - 1;
	struct bt_url u;
	struct bt_wr w;
	size_t comp, i, end;
	char sep;
	int rc;

	err_clear(err);
	if (out_len)
		*out_len = 0;
	rc = parse_http_url(&u, url, url_len, err);
	if (rc)
		return rc;
	if (n && !hashes)
		return tfail(err, BT_EINVAL, 0, "NULL info-hash array", 0);
	if (u.path_len == 0)
		return tfail(err, BT_EINVAL, (size_t)(u.path - url),
			     "cannot scrape: the announce URL has no path", 0);
	/* path starts with '/', so a last '/' exists. */
	for (comp = u.path_len; comp > 0 && u.path[comp - 1] != '/'; comp--)
		;
	if (u.path_len - comp < annlen || memcmp(u.path + comp, ann, annlen) != 0)
		return tfail(err, BT_EINVAL, (size_t)(u.path + comp - url),
			     "cannot scrape: last path component does not start with \"announce\"", 0);

	bt_wr_init(&w, buf, cap);
	bt_wr_bytes(&w, url, (size_t)(u.path + comp - url));
	wr_cstr(&w, "scrape");
	end = (size_t)(u.query + u.query_len - url);
	i = (size_t)(u.path + comp + annlen - url);
	bt_wr_bytes(&w, url + i, end - i);
	sep = first_sep(&u);
	for (i = 0; i < n; i++) {
		wr_param(&w, &sep, "info_hash");
		bt_url_encode(&w, hashes[i], 20);
	}
	return finish(&w, buf, cap, out_len, err);
}

/* ---- HTTP responses ---------------------------------------------------- */

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decode a tracker body into doc; the top level must be a dictionary. */
static int decode_body(struct bt_be_doc *doc, const uint8_t *b, size_t len,
		       struct bt_be_tok *toks, size_t ntoks,
		       unsigned *tolerated, size_t *trailing, struct bt_trk_err *err)
{
	const struct bt_be_opts opts = { BT_BE_LENIENT | BT_BE_ALLOW_TRAILING, 0 };
	struct bt_be_err be;
	size_t i;
	long rc;

	if (len > BT_TRK_MAX_BODY)
		return tfail(err, BT_ETOOBIG, BT_TRK_MAX_BODY,
			     "body larger than 8 MiB", len);
	if (len == 0)
		return tfail(err, BT_EINVAL, 0, "not bencode: empty body", 0);
	if (b[0] != 'd') {
		for (i = 0; i < len && is_space(b[i]); i++)
			;
		if (i < len && b[i] == '<')
			return tfail(err, BT_EINVAL, i,
				     "not bencode: body looks like HTML", 0);
		if (b[0] == 'l' || b[0] == 'i' || (b[0] >= '0' && b[0] <= '9')) {
			rc = bt_be_decode(doc, b, len, toks, ntoks, &opts, NULL);
			if (rc > 0 && (size_t)rc == len)
				return tfail(err, BT_EINVAL, 0,
					     "bencode, but not a dictionary", 0);
		}
		return tfail(err, BT_EINVAL, 0,
			     "not bencode: body does not start with a dictionary", 0);
	}
	rc = bt_be_decode(doc, b, len, toks, ntoks, &opts, &be);
	/* Bencode's own limits (a 65-bit integer, nesting past 64) make a
	 * response invalid, whatever the decoder calls them. */
	if (rc == BT_EUNSUPP || rc == BT_EDEPTH)
		rc = BT_EINVAL;
	if (rc < 0)
		return tfail(err, (int)rc, be.off,
			     rc == BT_NEED_MORE ? "truncated bencode" : be.rule, 0);
	*tolerated = be.tolerated;
	*trailing = len - (size_t)rc;
	return BT_OK;
}

/* Optional string at key: BT_OK (absent leaves *p NULL) or a type error. */
static int opt_str(const struct bt_be_doc *d, size_t dict, const char *key,
		   const uint8_t **p, size_t *n, const char *rule,
		   struct bt_trk_err *err)
{
	long v = bt_be_dict_get(d, dict, key);

	*p = NULL;
	*n = 0;
	if (v < 0)
		return BT_OK;
	if (!bt_be_str(d, (size_t)v, p, n))
		return tfail(err, BT_EINVAL, d->toks[v].off, rule, 0);
	return BT_OK;
}

static int opt_int(const struct bt_be_doc *d, size_t dict, const char *key,
		   int64_t *out, const char *rule, struct bt_trk_err *err)
{
	long v = bt_be_dict_get(d, dict, key);

	*out = BT_TRK_ABSENT;
	if (v < 0)
		return BT_OK;
	if (!bt_be_int(d, (size_t)v, out))
		return tfail(err, BT_EINVAL, d->toks[v].off, rule, 0);
	return BT_OK;
}

/* Where peers go while parsing one announce response. */
struct peer_sink {
	struct bt_trk_resp *r;
	struct bt_peer_addr *peers;
	struct bt_trk_peer_info *info;
	size_t cap;
};

static void sink_add(struct peer_sink *s, const struct bt_peer_addr *a,
		     const struct bt_trk_peer_info *pi)
{
	struct bt_trk_resp *r = s->r;

	if (r->nstored < s->cap) {
		s->peers[r->nstored] = *a;
		if (s->info) {
			if (pi)
				s->info[r->nstored] = *pi;
			else
				memset(&s->info[r->nstored], 0, sizeof *s->info);
		}
		r->nstored++;
	}
	r->npeers++;
}

/* Refuse before storing anything once the response holds too many. */
static int sink_room(struct peer_sink *s, size_t more, size_t off,
		     struct bt_trk_err *err)
{
	if (more > BT_TRK_MAX_PEERS - s->r->npeers)
		return tfail(err, BT_ETOOBIG, off, "more peers than BT_TRK_MAX_PEERS",
			     (uint64_t)s->r->npeers + more);
	return BT_OK;
}

/* A compact string of family-4 (6-byte) or family-6 (18-byte) peers. */
static int compact_peers(struct peer_sink *s, const struct bt_be_doc *d, size_t t,
			 int family, struct bt_trk_err *err)
{
	const size_t stride = family == 4 ? BT_ADDR_COMPACT4 : BT_ADDR_COMPACT6;
	const uint8_t *p, *e;
	struct bt_peer_addr a;
	struct bt_rd rd;
	size_t n;
	int rc;

	if (!bt_be_str(d, t, &p, &n))
		return tfail(err, BT_EINVAL, d->toks[t].off, family == 4 ?
			     "\"peers\" is neither a string nor a list" :
			     "\"peers6\" is not a string", 0);
	if (n % stride)
		return tfail(err, BT_EINVAL, d->toks[t].off, family == 4 ?
			     "compact \"peers\" length is not a multiple of 6" :
			     "\"peers6\" length is not a multiple of 18", n);
	rc = sink_room(s, n / stride, d->toks[t].off, err);
	if (rc)
		return rc;
	bt_rd_init(&rd, p, n);
	while (bt_rd_view(&rd, stride, &e)) {
		if (family == 4)
			bt_addr_load4(&a, e);
		else
			bt_addr_load6(&a, e);
		sink_add(s, &a, NULL);
	}
	return BT_OK;
}

/* One dictionary-model peer: {"ip": text, "port": int, "peer id": str}. */
static int dict_peer(struct peer_sink *s, const struct bt_be_doc *d, size_t t,
		     struct bt_trk_err *err)
{
	struct bt_trk_peer_info pi;
	struct bt_peer_addr a;
	size_t off = d->toks[t].off;
	int64_t port;
	long v;
	int fam, rc;

	if (d->toks[t].type != BT_BE_DICT)
		return tfail(err, BT_EINVAL, off, "peer entry is not a dictionary", 0);
	memset(&pi, 0, sizeof pi);
	memset(&a, 0, sizeof a);

	v = bt_be_dict_get(d, t, "ip");
	if (v < 0)
		return tfail(err, BT_EINVAL, off, "peer entry has no \"ip\"", 0);
	if (!bt_be_str(d, (size_t)v, &pi.ip, &pi.ip_len))
		return tfail(err, BT_EINVAL, d->toks[v].off, "peer \"ip\" is not a string", 0);
	if (pi.ip_len == 0)
		return tfail(err, BT_EINVAL, d->toks[v].off, "peer \"ip\" is empty", 0);
	if (pi.ip_len > 255)
		return tfail(err, BT_EINVAL, d->toks[v].off,
			     "peer \"ip\" longer than 255 bytes", pi.ip_len);

	v = bt_be_dict_get(d, t, "port");
	if (v < 0)
		return tfail(err, BT_EINVAL, off, "peer entry has no \"port\"", 0);
	if (!bt_be_int(d, (size_t)v, &port))
		return tfail(err, BT_EINVAL, d->toks[v].off, "peer \"port\" is not an integer", 0);
	if (port < 0 || port > 65535)
		return tfail(err, BT_EINVAL, d->toks[v].off,
			     "peer \"port\" out of range (0..65535)", (uint64_t)port);

	rc = opt_str(d, t, "peer id", &pi.id, &pi.id_len,
		     "peer \"peer id\" is not a string", err);
	if (rc)
		return rc;

	fam = bt_url_ip_literal(pi.ip, pi.ip_len, a.ip);
	a.family = (uint8_t)fam;
	a.port = (uint16_t)port;
	if (fam == 0) {
		pi.is_host = true;
		s->r->nhosts++;
	}
	sink_add(s, &a, &pi);
	return BT_OK;
}

static int dict_peers(struct peer_sink *s, const struct bt_be_doc *d, size_t t,
		      struct bt_trk_err *err)
{
	long j;
	size_t k;
	int rc;

	rc = sink_room(s, d->toks[t].n, d->toks[t].off, err);
	if (rc)
		return rc;
	for (j = bt_be_first(d, t), k = 0; k < d->toks[t].n;
	     j = (long)bt_be_next(d, (size_t)j), k++) {
		rc = dict_peer(s, d, (size_t)j, err);
		if (rc)
			return rc;
	}
	return BT_OK;
}

int bt_trk_parse_announce(struct bt_trk_resp *r, const void *body, size_t len,
			  struct bt_be_tok *toks, size_t ntoks,
			  struct bt_peer_addr *peers, struct bt_trk_peer_info *info,
			  size_t cap, struct bt_trk_err *err)
{
	static const struct {
		const char *key, *rule;
	} ints[] = {
		{ "interval", "\"interval\" is not an integer" },
		{ "min interval", "\"min interval\" is not an integer" },
		{ "complete", "\"complete\" is not an integer" },
		{ "incomplete", "\"incomplete\" is not an integer" },
		{ "downloaded", "\"downloaded\" is not an integer" },
	};
	int64_t *const fields[] = { &r->interval, &r->min_interval, &r->complete,
				    &r->incomplete, &r->downloaded };
	struct peer_sink sink = { r, peers, info, peers ? cap : 0 };
	struct bt_be_doc doc;
	size_t i;
	long v;
	int rc;

	memset(r, 0, sizeof *r);
	err_clear(err);
	for (i = 0; i < sizeof ints / sizeof ints[0]; i++)
		*fields[i] = BT_TRK_ABSENT;
	rc = decode_body(&doc, body, len, toks, ntoks, &r->tolerated, &r->trailing, err);
	if (rc)
		return rc;

	rc = opt_str(&doc, 0, "failure reason", &r->failure, &r->failure_len,
		     "\"failure reason\" is not a string", err);
	if (!rc)
		rc = opt_str(&doc, 0, "warning message", &r->warning, &r->warning_len,
			     "\"warning message\" is not a string", err);
	if (!rc)
		rc = opt_str(&doc, 0, "tracker id", &r->tracker_id, &r->tracker_id_len,
			     "\"tracker id\" is not a string", err);
	if (!rc)
		rc = opt_str(&doc, 0, "external ip", &r->external_raw,
			     &r->external_raw_len, "\"external ip\" is not a string", err);
	for (i = 0; !rc && i < sizeof ints / sizeof ints[0]; i++)
		rc = opt_int(&doc, 0, ints[i].key, fields[i], ints[i].rule, err);
	if (rc)
		return rc;

	if (r->external_raw && (r->external_raw_len == 4 || r->external_raw_len == 16)) {
		r->has_external_ip = true;
		r->external_ip.family = r->external_raw_len == 4 ? 4 : 6;
		memcpy(r->external_ip.ip, r->external_raw, r->external_raw_len);
	}

	v = bt_be_dict_get(&doc, 0, "peers");
	if (v >= 0) {
		if (doc.toks[v].type == BT_BE_LIST) {
			r->peers_form = BT_TRK_PEERS_DICT;
			rc = dict_peers(&sink, &doc, (size_t)v, err);
		} else {
			r->peers_form = BT_TRK_PEERS_COMPACT;
			rc = compact_peers(&sink, &doc, (size_t)v, 4, err);
		}
		if (rc)
			return rc;
	}
	v = bt_be_dict_get(&doc, 0, "peers6");
	if (v >= 0) {
		size_t before = r->npeers;
		r->has_peers6 = true;
		rc = compact_peers(&sink, &doc, (size_t)v, 6, err);
		if (rc)
			return rc;
		r->npeers6 = r->npeers - before;
	}
	return BT_OK;
}

int bt_trk_parse_scrape(struct bt_trk_scrape_resp *r, const void *body, size_t len,
			struct bt_be_tok *toks, size_t ntoks, struct bt_trk_err *err)
{
	static const char *const keys[] = { "complete", "incomplete", "downloaded" };
	static const char *const rules[] = {
		"scrape \"complete\" is not an integer",
		"scrape \"incomplete\" is not an integer",
		"scrape \"downloaded\" is not an integer",
	};
	const struct bt_be_doc *d;
	const uint8_t *p;
	size_t n, k, j, val;
	int64_t x;
	int rc;
	long f;

	memset(r, 0, sizeof *r);
	r->files = -1;
	err_clear(err);
	rc = decode_body(&r->doc, body, len, toks, ntoks, &r->tolerated, &r->trailing, err);
	if (rc)
		return rc;
	d = &r->doc;
	rc = opt_str(d, 0, "failure reason", &r->failure, &r->failure_len,
		     "\"failure reason\" is not a string", err);
	if (rc)
		return rc;
	f = bt_be_dict_get(d, 0, "files");
	if (f < 0)
		return BT_OK;
	if (d->toks[f].type != BT_BE_DICT)
		return tfail(err, BT_EINVAL, d->toks[f].off, "\"files\" is not a dictionary", 0);
	for (j = (size_t)f + 1, k = 0; k < d->toks[f].n; k++) {
		bt_be_str(d, j, &p, &n); /* dict keys are strings */
		if (n != 20)
			return tfail(err, BT_EINVAL, d->toks[j].off,
				     "\"files\" key is not a 20-byte info-hash", n);
		val = bt_be_next(d, j);
		if (d->toks[val].type != BT_BE_DICT)
			return tfail(err, BT_EINVAL, d->toks[val].off,
				     "\"files\" entry is not a dictionary", 0);
		for (size_t q = 0; q < 3; q++) {
			rc = opt_int(d, val, keys[q], &x, rules[q], err);
			if (rc)
				return rc;
		}
		rc = opt_str(d, val, "name", &p, &n, "scrape \"name\" is not a string", err);
		if (rc)
			return rc;
		j = bt_be_next(d, val);
	}
	r->files = f;
	r->nfiles = d->toks[f].n;
	return BT_OK;
}

bool bt_trk_scrape_next(const struct bt_trk_scrape_resp *r, size_t *it,
			struct bt_trk_scrape_entry *e)
{
	const struct bt_be_doc *d = &r->doc;
	size_t end, k, v, n;

	/* A zeroed struct (no parse happened) has no entries. */
	if (r->files < 0 || !d->toks || (size_t)r->files >= d->ntoks)
		return false;
	end = (size_t)r->files + d->toks[r->files].skip;
	k = *it ? *it : (size_t)r->files + 1;
	if (k >= end)
		return false;
	memset(e, 0, sizeof *e);
	bt_be_str(d, k, &e->info_hash, &n);
	v = bt_be_next(d, k);
	if (!bt_be_dict_int(d, v, "complete", &e->complete))
		e->complete = BT_TRK_ABSENT;
	if (!bt_be_dict_int(d, v, "incomplete", &e->incomplete))
		e->incomplete = BT_TRK_ABSENT;
	if (!bt_be_dict_int(d, v, "downloaded", &e->downloaded))
		e->downloaded = BT_TRK_ABSENT;
	if (!bt_be_dict_str(d, v, "name", &e->name, &e->name_len)) {
		e->name = NULL;
		e->name_len = 0;
	}
	*it = bt_be_next(d, v);
	return true;
}

/* ---- UDP --------------------------------------------------------------- */

const char *bt_udp_problem_name(int problem)
{
	switch (problem) {
	case BT_UDP_P_NONE:     return "none";
	case BT_UDP_P_SHORT:    return "short packet";
	case BT_UDP_P_TID:      return "wrong transaction id";
	case BT_UDP_P_ACTION:   return "wrong action";
	case BT_UDP_P_ERROR:    return "tracker error";
	case BT_UDP_P_STRIDE:   return "bad list length";
	case BT_UDP_P_TOO_MANY: return "too many entries";
	}
	return "unknown";
}

static int ufail(struct bt_trk_err *err, int code, int problem, size_t off,
		 const char *rule, uint64_t value)
{
	tfail(err, code, off, rule, value);
	if (err)
		err->problem = problem;
	return code;
}

static int wr_done(const struct bt_wr *w)
{
	return bt_wr_ok(w) ? BT_OK : BT_ENOSPC;
}

int bt_udp_connect_req(struct bt_wr *w, uint32_t transaction_id)
{
	bt_wr_u64be(w, BT_UDP_PROTOCOL_ID);
	bt_wr_u32be(w, BT_UDP_CONNECT);
	bt_wr_u32be(w, transaction_id);
	return wr_done(w);
}

int bt_udp_announce_req(struct bt_wr *w, const struct bt_udp_announce *a)
{
	size_t left, n;
	const char *p;

	if (a->url_data_set) {
		if (!a->url_data && a->url_data_len)
			return BT_EINVAL;
		if (a->url_data_len > BT_URL_MAX_LEN)
			return BT_ETOOBIG;
	}
	bt_wr_u64be(w, a->connection_id);
	bt_wr_u32be(w, BT_UDP_ANNOUNCE);
	bt_wr_u32be(w, a->transaction_id);
	bt_wr_bytes(w, a->info_hash, 20);
	bt_wr_bytes(w, a->peer_id, 20);
	bt_wr_u64be(w, a->downloaded);
	bt_wr_u64be(w, a->left);
	bt_wr_u64be(w, a->uploaded);
	bt_wr_u32be(w, a->event);
	bt_wr_u32be(w, a->ip);
	bt_wr_u32be(w, a->key);
	bt_wr_u32be(w, (uint32_t)a->num_want);
	bt_wr_u16be(w, a->port);
	if (a->url_data_set) {
		p = a->url_data;
		left = a->url_data_len;
		do { /* at least one option, "0x2 0x0" when empty */
			n = left < BT_UDP_URLDATA_CHUNK ? left : BT_UDP_URLDATA_CHUNK;
			bt_wr_u8(w, 2);
			bt_wr_u8(w, (uint8_t)n);
			bt_wr_bytes(w, p, n);
			p += n;
			left -= n;
		} while (left);
	}
	return wr_done(w);
}

int bt_udp_scrape_req(struct bt_wr *w, uint64_t connection_id,
		      uint32_t transaction_id, const uint8_t (*hashes)[20], size_t n)
{
	size_t i;

	if (n == 0 || !hashes)
		return BT_EINVAL;
	if (n > BT_UDP_SCRAPE_MAX)
		return BT_ETOOBIG;
	bt_wr_u64be(w, connection_id);
	bt_wr_u32be(w, BT_UDP_SCRAPE);
	bt_wr_u32be(w, transaction_id);
	for (i = 0; i < n; i++)
		bt_wr_bytes(w, hashes[i], 20);
	return wr_done(w);
}

/* action, transaction id, then whether the action is the one expected. */
static int udp_head(struct bt_rd *rd, size_t len, uint32_t tid, uint32_t want,
		    struct bt_trk_err *err)
{
	uint32_t action, got;

	err_clear(err);
	if (!bt_rd_u32be(rd, &action) || !bt_rd_u32be(rd, &got))
		return ufail(err, BT_NEED_MORE, BT_UDP_P_SHORT, len,
			     "packet shorter than 8 bytes", len);
	if (got != tid)
		return ufail(err, BT_EINVAL, BT_UDP_P_TID, 4,
			     "transaction id differs from the one sent", got);
	if (action != want) {
		if (action == BT_UDP_ERROR)
			return ufail(err, BT_EINVAL, BT_UDP_P_ERROR, 0,
				     "tracker sent an error packet (action 3)", action);
		return ufail(err, BT_EINVAL, BT_UDP_P_ACTION, 0,
			     "unexpected action", action);
	}
	return BT_OK;
}

int bt_udp_parse_connect(const void *pkt, size_t len, uint32_t transaction_id,
			 uint64_t *connection_id, struct bt_trk_err *err)
{
	const uint8_t *c;
	struct bt_rd rd;
	int rc;

	bt_rd_init(&rd, pkt, len);
	rc = udp_head(&rd, len, transaction_id, BT_UDP_CONNECT, err);
	if (rc)
		return rc;
	/* Not bt_rd_u64be: gcc 12 -O2 sees its halves as maybe-uninitialized. */
	if (!bt_rd_view(&rd, 8, &c))
		return ufail(err, BT_NEED_MORE, BT_UDP_P_SHORT, len,
			     "connect response shorter than 16 bytes", len);
	*connection_id = (uint64_t)bt_load_u32be(c) << 32 | bt_load_u32be(c + 4);
	return BT_OK;
}

int bt_udp_parse_announce(const void *pkt, size_t len, uint32_t transaction_id,
			  int family, struct bt_udp_announce_resp *r,
			  struct bt_peer_addr *peers, size_t cap,
			  struct bt_trk_err *err)
{
	struct bt_rd rd;
	struct bt_peer_addr a;
	const uint8_t *e;
	size_t stride, rest;
	int rc;

	memset(r, 0, sizeof *r);
	if (family != 4 && family != 6) {
		err_clear(err);
		return tfail(err, BT_EINVAL, 0, "address family is not 4 or 6", 0);
	}
	stride = family == 4 ? BT_ADDR_COMPACT4 : BT_ADDR_COMPACT6;
	bt_rd_init(&rd, pkt, len);
	rc = udp_head(&rd, len, transaction_id, BT_UDP_ANNOUNCE, err);
	if (rc)
		return rc;
	if (!bt_rd_u32be(&rd, &r->interval) || !bt_rd_u32be(&rd, &r->leechers) ||
	    !bt_rd_u32be(&rd, &r->seeders))
		return ufail(err, BT_NEED_MORE, BT_UDP_P_SHORT, len,
			     "announce response shorter than 20 bytes", len);
	rest = bt_rd_left(&rd);
	if (rest % stride)
		return ufail(err, BT_EINVAL, BT_UDP_P_STRIDE, BT_UDP_ANNOUNCE_HDR,
			     family == 4 ? "peer list length is not a multiple of 6" :
			     "peer list length is not a multiple of 18", rest);
	if (rest / stride > BT_TRK_MAX_PEERS)
		return ufail(err, BT_ETOOBIG, BT_UDP_P_TOO_MANY, BT_UDP_ANNOUNCE_HDR,
			     "more peers than BT_TRK_MAX_PEERS", rest / stride);
	if (!peers)
		cap = 0;
	while (bt_rd_view(&rd, stride, &e)) {
		if (r->nstored < cap) {
			if (family == 4)
				bt_addr_load4(&a, e);
			else
				bt_addr_load6(&a, e);
			peers[r->nstored++] = a;
		}
		r->npeers++;
	}
	return BT_OK;
}

int bt_udp_parse_scrape(const void *pkt, size_t len, uint32_t transaction_id,
			struct bt_udp_scrape_entry *out, size_t cap, size_t *n,
			struct bt_trk_err *err)
{
	struct bt_udp_scrape_entry s;
	struct bt_rd rd;
	size_t rest, i = 0;
	int rc;

	*n = 0;
	bt_rd_init(&rd, pkt, len);
	rc = udp_head(&rd, len, transaction_id, BT_UDP_SCRAPE, err);
	if (rc)
		return rc;
	rest = bt_rd_left(&rd);
	if (rest % 12)
		return ufail(err, BT_EINVAL, BT_UDP_P_STRIDE, 8,
			     "scrape list length is not a multiple of 12", rest);
	if (!out)
		cap = 0;
	while (bt_rd_u32be(&rd, &s.seeders) && bt_rd_u32be(&rd, &s.completed) &&
	       bt_rd_u32be(&rd, &s.leechers)) {
		if (i < cap)
			out[i] = s;
		i++;
	}
	*n = i;
	return BT_OK;
}

int bt_udp_parse_error(const void *pkt, size_t len, uint32_t transaction_id,
		       const uint8_t **msg, size_t *msg_len, struct bt_trk_err *err)
{
	struct bt_rd rd;
	int rc;

	*msg = NULL;
	*msg_len = 0;
	bt_rd_init(&rd, pkt, len);
	rc = udp_head(&rd, len, transaction_id, BT_UDP_ERROR, err);
	if (rc)
		return rc;
	*msg_len = bt_rd_left(&rd);
	bt_rd_view(&rd, *msg_len, msg);
	return BT_OK;
}

unsigned bt_udp_timeout_s(unsigned n)
{
	return n <= 8 ? 15u << n : 0;
}

bool bt_udp_conn_id_fresh(uint64_t received_ms, uint64_t now_ms)
{
	/* A clock before the receipt (wrapped difference) counts as stale. */
	return now_ms >= received_ms &&
	       now_ms - received_ms < (uint64_t)BT_UDP_CONN_ID_LIFETIME_S * 1000;
}
