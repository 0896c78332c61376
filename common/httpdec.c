/* httpdec.c — HTTP tracker traffic of one connection.  See httpdec.h.
 *
 * Each direction is a small state machine over its byte stream:
 *
 *   HEAD        bytes up to "\r\n\r\n" kept (at most BT_HTTPDEC_HEAD_MAX);
 *               a request is reported at once, a response's head decides
 *               how its body is framed
 *   SKIP        a request body (Content-Length): passed over
 *   BODY        a response body of Content-Length bytes
 *   CHUNK_SIZE  a chunk-size line: hex digits, then anything to LF
 *   CHUNK_DATA  that many bytes of body
 *   CHUNK_CRLF  the CRLF after them (a bare LF accepted)
 *   TRAILER     header lines after the last chunk, to an empty one
 *   EOF         a body that runs to the connection's end
 *
 * A response's head and its de-chunked body share one buffer, grown on
 * demand within the budget; past max_body the body is only counted and
 * the record says so.  Lenient where real servers are sloppy (bare LF in
 * chunk framing, any case in header names and codings), strict where a
 * wrong guess would print wrong facts (a chunk size that does not parse
 * ends decoding of the direction). */
#include "httpdec.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "bencode.h"
#include "sniff.h"
#include "url.h"

enum { H_HEAD = 0, H_BODY, H_CHUNK_SIZE, H_CHUNK_DATA, H_CHUNK_CRLF,
       H_TRAILER, H_EOF, H_SKIP };
/* What a request asked, for pairing its answer. */
enum { RQ_ANNOUNCE = 0, RQ_SCRAPE, RQ_OTHER, RQ_HEAD };

struct bt_httpdec_dir {
	uint8_t *buf;           /* head, then (responses) the body after it */
	size_t len, cap;
	int st;
	size_t head_len;
	uint64_t left;          /* body or chunk bytes still due */
	bool chunked, too_big;
	bool chunk_ext;         /* past the size digits of a chunk line */
	size_t line;            /* trailer: bytes of the current line */
	uint64_t t0;            /* timestamp of the message's first byte */
	size_t body_off;        /* where the body starts in buf */
	size_t body_len;        /* body bytes kept (de-chunked) */
	uint64_t body_size;     /* body bytes seen, kept or not */
	int status;
	size_t reason_off, reason_len, ce_off, ce_len;
	char note[192];         /* a record's note, during its callback */
};

/* The parsed answer's storage, taken from the budget for one callback:
 * tracker answers are rare next to peer traffic, and 512 peers' worth of
 * arrays is too much to keep per connection. */
struct answer {
	struct bt_trk_resp resp;
	struct bt_trk_scrape_resp scrape;
	struct bt_peer_addr peers[BT_DEC_TRK_PEERS];
	struct bt_trk_peer_info info[BT_DEC_TRK_PEERS];
};

/* ---- small helpers ---------------------------------------------------------- */

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Does p[0..n) equal s[0..n) ignoring ASCII case? */
static bool ci_eq(const uint8_t *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != lower((uint8_t)s[i]))
			return false;
	return true;
}

/* Is the Content-Encoding value v[0..n) the coding w (any case)? */
static bool coding_is(const char *v, size_t n, const char *w)
{
	return v && strlen(w) == n && ci_eq((const uint8_t *)v, w, n);
}

static bool parse_u64(const uint8_t *p, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 19)   /* 19 digits cannot overflow */
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(p[i] - '0');
	}
	*v = x;
	return true;
}

/* Find "\r\n\r\n" in p[from..n). */
static long find_crlf2(const uint8_t *p, size_t n, size_t from)
{
	static const uint8_t e[4] = { '\r', '\n', '\r', '\n' };
	const uint8_t *q;

	if (from >= n)
		return -1;
	q = memmem(p + from, n - from, e, 4);
	return q ? (long)(q - p) : -1;
}

/* The header named name (case-insensitive) in head[0..n): its value view,
 * trimmed.  false if absent.  The first one wins. */
static bool header(const uint8_t *head, size_t n, const char *name,
		   const uint8_t **v, size_t *vlen)
{
	size_t i = 0, nl = strlen(name);

	/* skip the start line */
	while (i < n && head[i] != '\n')
		i++;
	i++;
	while (i < n) {
		size_t e = i;

		while (e < n && head[e] != '\n')
			e++;
		if (e - i > nl && head[i + nl] == ':' && ci_eq(head + i, name, nl)) {
			size_t a = i + nl + 1, b = e;

			while (a < b && (head[a] == ' ' || head[a] == '\t'))
				a++;
			while (b > a && (head[b - 1] == '\r' || head[b - 1] == ' ' ||
					 head[b - 1] == '\t'))
				b--;
			*v = head + a;
			*vlen = b - a;
			return true;
		}
		i = e + 1;
	}
	return false;
}

/* Printable ASCII of src (others as %XX) appended to dst: the URL is
 * printed as is, so nothing a client sent may reach it raw. */
static void url_append(char *dst, size_t cap, const void *src, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *p = src;
	size_t o = strlen(dst);

	for (size_t i = 0; i < n && o + 4 < cap; i++) {
		if (p[i] > 0x20 && p[i] < 0x7f) {
			dst[o++] = (char)p[i];
		} else {
			dst[o++] = '%';
			dst[o++] = hex[p[i] >> 4];
			dst[o++] = hex[p[i] & 15];
		}
	}
	dst[o] = '\0';
}

static void make_url(char *dst, size_t cap, const struct bt_flow_ep *srv,
		     const void *path, size_t n)
{
	char hp[BT_ADDR_STRLEN];

	snprintf(dst, cap, "http://%s", bt_flow_ep_fmt(srv, hp, sizeof hp));
	url_append(dst, cap, path, n);
}

static bool last_component_is(const uint8_t *path, size_t n, const char *w)
{
	size_t i = n, wl = strlen(w);

	while (i > 0 && path[i - 1] != '/')
		i--;
	return n - i >= wl && memcmp(path + i, w, wl) == 0;
}

/* The side that answers: the other one of the requests' direction. */
static int server_dir(const struct bt_httpdec *h, int dir)
{
	return h->role[dir] == BT_SNIFF_HTTP_RESP ? dir : !dir;
}

static void rec_init(struct bt_dec_trk *t, const struct bt_httpdec *h, int kind,
		     int dir, uint64_t ts)
{
	memset(t, 0, sizeof *t);
	t->kind = kind;
	t->ts_us = ts;
	t->t_us = ts > h->first_us ? ts - h->first_us : 0;
	t->conv = h->conv;
	t->dir = (enum bt_dir)dir;
	t->src = h->ep[dir];
	t->dst = h->ep[!dir];
}

/* ---- buffers ------------------------------------------------------------------ */

static bool reserve(struct bt_httpdec *h, struct bt_httpdec_dir *s, size_t need)
{
	size_t cap;
	uint8_t *nb;

	if (need <= s->cap)
		return true;
	cap = s->cap ? s->cap : 1024;
	while (cap < need)
		cap *= 2;
	nb = bt_budget_grow(h->mem, s->buf, s->cap, cap);
	if (!nb)
		return false;
	s->buf = nb;
	s->cap = cap;
	return true;
}

static void dir_free(struct bt_httpdec *h, int dir)
{
	struct bt_httpdec_dir *s = h->d[dir];

	if (!s)
		return;
	bt_budget_free(h->mem, s->buf, s->cap);
	bt_budget_free(h->mem, s, sizeof *s);
	h->d[dir] = NULL;
}

/* Give a direction up; why (static) is the caller's to report. */
static void dead(struct bt_httpdec *h, int dir, const char *why)
{
	dir_free(h, dir);
	h->dead[dir] = why;
}

/* The next message of the direction starts. */
static void next_msg(struct bt_httpdec_dir *s)
{
	s->st = H_HEAD;
	s->len = s->head_len = s->body_len = 0;
	s->body_size = 0;
	s->left = 0;
	s->chunked = s->too_big = s->chunk_ext = false;
	s->line = 0;
	s->t0 = 0;
	s->status = 0;
	s->ce_len = s->reason_len = 0;
}

static void body_append(struct bt_httpdec *h, struct bt_httpdec_dir *s,
			const uint8_t *p, size_t n)
{
	s->body_size += n;
	if (s->too_big)
		return;
	if (s->body_len + n > h->max_body ||
	    !reserve(h, s, s->body_off + s->body_len + n)) {
		s->too_big = true;   /* counted, not kept: the record says so */
		return;
	}
	memcpy(s->buf + s->body_off + s->body_len, p, n);
	s->body_len += n;
}

/* ---- gzip and deflate bodies, through zlib -------------------------------- *
 *
 * zlib rather than hand code: it is the reference inflater, fuzzed for
 * decades, and it checks what a hand decoder must remember to (gzip CRC-32
 * and length, zlib Adler-32, distances before the start).  Its allocations
 * (the 32 KiB window and its state) are charged to the budget like every
 * other buffer, so a capture full of compressed answers is bounded the
 * same way. */

/* Each zlib block carries its size in front, for the budget's books. */
union zhead {
	size_t n;
	max_align_t align;
};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	union zhead *zh;
	size_t n;

	if (size && items > (SIZE_MAX - sizeof *zh) / size)
		return Z_NULL;
	n = sizeof *zh + (size_t)items * size;
	zh = bt_budget_alloc(opaque, n);
	if (!zh)
		return Z_NULL;
	zh->n = n;
	return zh + 1;
}

static void z_free(voidpf opaque, voidpf p)
{
	union zhead *zh;

	if (!p)
		return;
	zh = (union zhead *)p - 1;
	bt_budget_free(opaque, zh, zh->n);
}

/* zlib's message for what broke, in words for the body's reader. */
static const char *z_why(int r, const z_stream *z)
{
	const char *m = z->msg;

	if (r == Z_BUF_ERROR)
		return "the compressed data ends early";
	if (r == Z_NEED_DICT)
		return "a zlib stream that needs a preset dictionary";
	if (!m)
		return "malformed compressed data";
	if (strcmp(m, "incorrect data check") == 0)
		return "checksum does not match (gzip CRC-32 or zlib Adler-32)";
	if (strcmp(m, "incorrect length check") == 0)
		return "length in the gzip trailer does not match";
	if (strcmp(m, "incorrect header check") == 0 ||
	    strcmp(m, "unknown compression method") == 0)
		return "not a gzip or zlib stream";
	return m;    /* zlib's own static text: "invalid distance too far back" */
}

/* Inflate in[0..n) with window bits wbits (15 + 32: a gzip or zlib header,
 * detected; -15: raw deflate) into a buffer that starts small and doubles
 * up to cap, charged to the budget.  Returns the plaintext length with
 * *out and *ocap set (free *out, *ocap bytes), or BT_EINVAL (bad data:
 * *why, *at the input byte where zlib stopped), BT_ETOOBIG (more than cap
 * bytes), BT_ENOSPC (memory cap).  Bytes after the end of the stream are
 * ignored, as HTTP clients do. */
static long z_inflate(struct bt_budget *mem, const uint8_t *in, size_t n,
		      int wbits, size_t cap, uint8_t **out, size_t *ocap,
		      const char **why, uint64_t *at)
{
	z_stream z;
	uint8_t *buf, *nb, probe;
	size_t bcap, len = 0, left = n;
	bool probing = false;
	long rc;
	int r;

	*out = NULL;
	*ocap = 0;
	memset(&z, 0, sizeof z);
	z.zalloc = z_alloc;
	z.zfree = z_free;
	z.opaque = mem;
	bcap = n < cap / 4 ? 4 * n : cap;
	if (bcap < 4096)
		bcap = cap < 4096 ? cap : 4096;
	if (!bcap)
		bcap = 1;
	buf = bt_budget_alloc(mem, bcap);
	if (!buf)
		return BT_ENOSPC;
	if (inflateInit2(&z, wbits) != Z_OK) {
		bt_budget_free(mem, buf, bcap);
		return BT_ENOSPC;
	}
	z.next_out = buf;
	z.avail_out = (uInt)(bcap < UINT_MAX ? bcap : UINT_MAX);
	for (;;) {
		if (!z.avail_in && left) {
			size_t k = left < UINT_MAX ? left : UINT_MAX;

			z.next_in = (Bytef *)(uintptr_t)(in + (n - left));
			z.avail_in = (uInt)k;
			left -= k;
		}
		if (!z.avail_out) {
			len = probing ? cap : (size_t)(z.next_out - buf);
			if (probing) {
				rc = BT_ETOOBIG;
				*why = "decompressed body over the cap";
				goto done;
			}
			if (len >= cap) {
				/* Full: one more byte of output means over the
				 * cap, the stream's end means exactly at it. */
				probing = true;
				z.next_out = &probe;
				z.avail_out = 1;
			} else {
				size_t ncap = bcap > cap / 2 ? cap : 2 * bcap;

				nb = bt_budget_grow(mem, buf, bcap, ncap);
				if (!nb) {
					rc = BT_ENOSPC;
					goto done;
				}
				buf = nb;
				bcap = ncap;
				z.next_out = buf + len;
				z.avail_out = (uInt)(bcap - len < UINT_MAX ? bcap - len : UINT_MAX);
			}
		}
		r = inflate(&z, Z_NO_FLUSH);
		if (r == Z_STREAM_END) {
			if (probing && !z.avail_out) {
				rc = BT_ETOOBIG;
				*why = "decompressed body over the cap";
				goto done;
			}
			len = probing ? cap : (size_t)(z.next_out - buf);
			rc = (long)len;
			*out = buf;
			*ocap = bcap;
			buf = NULL;
			goto done;
		}
		/* Z_BUF_ERROR only means "no progress": fatal once the input
		 * is all in and there is room for output. */
		if (r == Z_OK || (r == Z_BUF_ERROR && (!z.avail_out || z.avail_in || left)))
			continue;
		if (r == Z_MEM_ERROR) {
			rc = BT_ENOSPC;
			goto done;
		}
		rc = BT_EINVAL;
		*why = z_why(r, &z);
		*at = z.total_in;
		goto done;
	}
done:
	inflateEnd(&z);
	if (buf)
		bt_budget_free(mem, buf, bcap);
	return rc;
}

/* A "Content-Encoding: gzip" or "deflate" body.  gzip: a gzip member (a
 * zlib stream is accepted too, zlib telling them apart).  deflate: zlib-
 * wrapped as RFC 9110 says, or raw as some servers send it; the header
 * (CMF/FLG with its check) tells them apart, and a stream that fails as
 * zlib is tried raw before giving up.  *at: see z_inflate. */
static long body_inflate(struct bt_budget *mem, const uint8_t *in, size_t n,
			 bool gzip, size_t cap, uint8_t **out, size_t *ocap,
			 const char **why, uint64_t *at)
{
	long r;

	if (gzip)
		return z_inflate(mem, in, n, 15 + 32, cap, out, ocap, why, at);
	if (n >= 2 && (in[0] & 0x0f) == 8 && ((unsigned)in[0] << 8 | in[1]) % 31 == 0) {
		const char *w1 = NULL;
		uint64_t at1 = 0;

		r = z_inflate(mem, in, n, 15 + 32, cap, out, ocap, &w1, &at1);
		if (r != BT_EINVAL)
			return r;
		r = z_inflate(mem, in, n, -15, cap, out, ocap, why, at);
		if (r == BT_EINVAL) {   /* it was zlib: say what zlib found */
			*why = w1;
			*at = at1;
		}
		return r;
	}
	return z_inflate(mem, in, n, -15, cap, out, ocap, why, at);
}

/* ---- requests -------------------------------------------------------------- */

/* A whole request head in s->buf[0..head_len). */
static void request(struct bt_httpdec *h, int dir, struct bt_httpdec_dir *s,
		    uint64_t ts)
{
	const uint8_t *b = s->buf, *v;
	size_t n = s->head_len, i = 0, m0, t0, t1, q, vl;
	struct bt_dec_query *qu = &h->query;
	struct bt_dec_trk t;
	uint64_t cl;
	uint8_t kind;

	while (i < n && b[i] != ' ' && b[i] != '\r')
		i++;
	m0 = i;
	t0 = i < n ? i + 1 : n;
	t1 = t0;
	while (t1 < n && b[t1] != ' ' && b[t1] != '\r')
		t1++;
	q = t0;
	while (q < t1 && b[q] != '?')
		q++;
	bt_http_query_parse(qu, q < t1 ? (const char *)b + q + 1 : "",
			    q < t1 ? t1 - q - 1 : 0);
	if (m0 == 4 && memcmp(b, "HEAD", 4) == 0)
		kind = RQ_HEAD;
	else if (last_component_is(b + t0, q - t0, "scrape"))
		kind = RQ_SCRAPE;
	else if (last_component_is(b + t0, q - t0, "announce") || qu->nhash)
		kind = RQ_ANNOUNCE;
	else
		kind = RQ_OTHER;
	qu->scrape = kind == RQ_SCRAPE;
	if (!h->tracker) {
		if (kind == RQ_OTHER || kind == RQ_HEAD) {
			h->not_tracker = true;
			dir_free(h, 0);
			dir_free(h, 1);
			return;
		}
		h->tracker = true;
	}
	make_url(h->url, sizeof h->url, &h->ep[server_dir(h, dir)], b + t0, q - t0);
	if (h->rq_n < BT_HTTPDEC_PENDING) {
		size_t k = (h->rq_head + h->rq_n++) % BT_HTTPDEC_PENDING;

		h->rq[k].kind = kind;
		h->rq[k].path[0] = '\0';
		url_append(h->rq[k].path, sizeof h->rq[k].path, b + t0, q - t0);
	}
	rec_init(&t, h, BT_DEC_TRK_HTTP_REQ, dir, s->t0 ? s->t0 : ts);
	t.url = h->url;
	t.method = (const char *)b;
	t.method_len = m0;
	t.target = (const char *)b + t0;
	t.target_len = t1 - t0;
	t.q = qu;
	t.scrape = kind == RQ_SCRAPE;
	h->requests++;
	if (h->rec)
		h->rec(h->ctx, &t);
	if (header(b, n, "Content-Length", &v, &vl) && parse_u64(v, vl, &cl) && cl) {
		s->st = H_SKIP;
		s->left = cl;
	}
}

/* ---- responses ----------------------------------------------------------- */

/* Decompress (if coded) and parse the body of t as kind asks; fills the
 * record and calls back.  Every buffer is freed after the callback. */
static void answer(struct bt_httpdec *h, struct bt_httpdec_dir *s,
		   struct bt_dec_trk *t, uint8_t kind)
{
	const uint8_t *body = t->body;
	size_t blen = t->body_len, ntok = 0, pcap = 0;
	uint8_t *plain = NULL;
	struct bt_be_tok *toks = NULL;
	struct answer *a = NULL;

	if (s->ce_len && !coding_is(t->content_encoding, s->ce_len, "identity")) {
		const char *why = "?";
		uint64_t at = 0;
		bool deflate = coding_is(t->content_encoding, s->ce_len, "deflate");
		long r = body_inflate(h->mem, body, blen, !deflate, h->max_body,
				      &plain, &pcap, &why, &at);

		if (r < 0) {
			if (r == BT_ENOSPC) {
				t->note = "memory cap: body not decoded";
			} else if (r == BT_ETOOBIG) {
				t->note = "decompressed body over the decoder's cap: not decoded";
			} else {
				snprintf(s->note, sizeof s->note, "%s body not decoded: "
					 "%s (at byte %" PRIu64 " of %zu)",
					 deflate ? "deflate" : "gzip", why, at, blen);
				t->note = s->note;
			}
			goto out;
		}
		body = plain;
		blen = (size_t)r;
		t->body = body;
		t->body_len = blen;
		t->inflated = true;
	}
	ntok = bt_be_max_tokens(blen);
	toks = bt_budget_alloc(h->mem, ntok * sizeof *toks);
	a = bt_budget_alloc(h->mem, sizeof *a);
	if (!toks || !a) {
		t->note = "memory cap: body not decoded";
	} else if (kind == RQ_SCRAPE) {
		t->rc = bt_trk_parse_scrape(&a->scrape, body, blen, toks, ntok, &t->err);
		t->scrape_resp = &a->scrape;
	} else {
		t->rc = bt_trk_parse_announce(&a->resp, body, blen, toks, ntok,
					      a->peers, a->info, BT_DEC_TRK_PEERS,
					      &t->err);
		t->resp = &a->resp;
		t->peers = a->peers;
		t->info = a->info;
		t->npeers = a->resp.nstored;
	}
out:
	h->responses++;
	if (h->rec)
		h->rec(h->ctx, t);
	bt_budget_free(h->mem, a, sizeof *a);
	bt_budget_free(h->mem, toks, ntok * sizeof *toks);
	bt_budget_free(h->mem, plain, pcap);
}

/* A response is complete: pair it with its request, report it. */
static void response_done(struct bt_httpdec *h, int dir, struct bt_httpdec_dir *s,
			  uint64_t ts)
{
	uint8_t kind = RQ_ANNOUNCE;
	char path[BT_HTTPDEC_PATH_KEPT] = "";
	struct bt_dec_trk t;

	if (h->rq_n) {
		kind = h->rq[h->rq_head].kind;
		memcpy(path, h->rq[h->rq_head].path, sizeof path);
		h->rq_head = (h->rq_head + 1) % BT_HTTPDEC_PENDING;
		h->rq_n--;
	}
	if (!h->tracker) {   /* an answer before any request: not ours to judge */
		next_msg(s);
		return;
	}
	rec_init(&t, h, BT_DEC_TRK_HTTP_RESP, dir, s->t0 ? s->t0 : ts);
	make_url(h->url, sizeof h->url, &h->ep[server_dir(h, dir)], path, strlen(path));
	t.url = h->url;
	t.status = s->status;
	t.reason_phrase = (const char *)s->buf + s->reason_off;
	t.reason_len = s->reason_len;
	t.content_encoding = s->ce_len ? (const char *)s->buf + s->ce_off : NULL;
	t.content_encoding_len = s->ce_len;
	t.chunked = s->chunked;
	t.scrape = kind == RQ_SCRAPE;
	t.body = s->buf + s->body_off;
	t.body_len = s->body_len;
	t.body_size = s->body_size;
	t.rc = BT_OK;
	if (kind == RQ_HEAD) {
		t.note = "answer to a HEAD request";
	} else if (s->too_big) {
		t.note = "body over the decoder's cap: not decoded";
		t.body = NULL;        /* only its start was kept: no view */
		t.body_len = 0;
	} else if (s->ce_len && !coding_is(t.content_encoding, s->ce_len, "identity") &&
		   !coding_is(t.content_encoding, s->ce_len, "gzip") &&
		   !coding_is(t.content_encoding, s->ce_len, "x-gzip") &&
		   !coding_is(t.content_encoding, s->ce_len, "deflate")) {
		t.note = "body in an unknown Content-Encoding: not decoded";
	} else {
		answer(h, s, &t, kind);
		next_msg(s);
		return;
	}
	h->responses++;
	if (h->rec)
		h->rec(h->ctx, &t);
	next_msg(s);
}

/* A whole response head in s->buf[0..head_len): how is its body framed? */
static void response_head(struct bt_httpdec *h, int dir, struct bt_httpdec_dir *s,
			  uint64_t ts)
{
	const uint8_t *b = s->buf, *v;
	size_t n = s->head_len, i = 0, vl;
	uint64_t cl;
	bool head_req = h->rq_n && h->rq[h->rq_head].kind == RQ_HEAD;

	while (i < n && b[i] != ' ')
		i++;
	s->status = 0;
	if (i + 4 <= n && b[i + 1] >= '0' && b[i + 1] <= '9')
		s->status = (b[i + 1] - '0') * 100 + (b[i + 2] - '0') * 10 + (b[i + 3] - '0');
	s->reason_off = i + 5 <= n ? i + 5 : n;
	s->reason_len = 0;
	while (s->reason_off + s->reason_len < n &&
	       b[s->reason_off + s->reason_len] != '\r' &&
	       b[s->reason_off + s->reason_len] != '\n')
		s->reason_len++;
	if (header(b, n, "Content-Encoding", &v, &vl)) {
		s->ce_off = (size_t)(v - b);
		s->ce_len = vl;
	}
	s->body_off = s->head_len;
	s->body_len = 0;
	s->body_size = 0;
	s->chunked = header(b, n, "Transfer-Encoding", &v, &vl) &&
		     vl >= 7 && ci_eq(v + vl - 7, "chunked", 7);
	/* RFC 9112 6.3: these have no body whatever the head says */
	if (head_req || s->status / 100 == 1 || s->status == 204 || s->status == 304) {
		response_done(h, dir, s, ts);
	} else if (s->chunked) {
		s->st = H_CHUNK_SIZE;
		s->left = 0;
	} else if (header(b, n, "Content-Length", &v, &vl) && parse_u64(v, vl, &cl)) {
		s->st = H_BODY;
		s->left = cl;
		if (cl == 0)
			response_done(h, dir, s, ts);
	} else {
		s->st = H_EOF;
	}
}

/* ---- the state machine ------------------------------------------------------ */

/* Some of p[0..n) through the direction's state; returns the bytes used
 * (at least 1 when n > 0, unless the direction died). */
static size_t step(struct bt_httpdec *h, int dir, const uint8_t *p, size_t n,
		   uint64_t ts)
{
	struct bt_httpdec_dir *s = h->d[dir];
	size_t take, i;
	long e;

	switch (s->st) {
	case H_HEAD:
		if (s->len == 0)
			s->t0 = ts;
		take = n;
		if (s->len + take > BT_HTTPDEC_HEAD_MAX)
			take = BT_HTTPDEC_HEAD_MAX - s->len;
		if (!reserve(h, s, s->len + take)) {
			dead(h, dir, "HTTP not decoded further: memory cap");
			return 0;
		}
		memcpy(s->buf + s->len, p, take);
		e = find_crlf2(s->buf, s->len + take, s->len > 3 ? s->len - 3 : 0);
		if (e < 0) {
			s->len += take;
			if (s->len >= BT_HTTPDEC_HEAD_MAX)
				dead(h, dir, "HTTP not decoded further: a head over 16 KiB");
			return take;
		}
		take = (size_t)e + 4 - s->len;
		s->len = s->head_len = (size_t)e + 4;
		/* A direction's first head says what it carries: a status
		 * line ("HTTP/1.1 200 OK") or a request line. */
		if (!h->role[dir])
			h->role[dir] = bt_sniff_http(s->buf, s->len) == BT_SNIFF_HTTP_RESP ?
				       BT_SNIFF_HTTP_RESP : BT_SNIFF_HTTP_REQ;
		if (h->role[dir] == BT_SNIFF_HTTP_REQ) {
			request(h, dir, s, ts);
			if (h->d[dir] && s->st == H_HEAD)
				next_msg(s);
		} else {
			response_head(h, dir, s, ts);
		}
		return take;
	case H_SKIP:
		take = n < s->left ? n : (size_t)s->left;
		s->left -= take;
		if (s->left == 0)
			next_msg(s);
		return take;
	case H_BODY:
		take = n < s->left ? n : (size_t)s->left;
		body_append(h, s, p, take);
		s->left -= take;
		if (s->left == 0)
			response_done(h, dir, s, ts);
		return take;
	case H_EOF:
		body_append(h, s, p, n);
		return n;
	case H_CHUNK_SIZE:
		/* The size line, hex digits then anything up to LF; kept in
		 * left as we go (left < 2^60 or the chunk is refused). */
		for (i = 0; i < n; i++) {
			uint8_t c = p[i];

			if (c == '\n') {
				s->chunk_ext = false;
				if (s->left == 0) {
					s->st = H_TRAILER;
					s->line = 0;
				} else {
					s->st = H_CHUNK_DATA;
				}
				return i + 1;
			}
			if (s->chunk_ext)  /* after a ';' or space: extension */
				continue;
			if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			    (c >= 'A' && c <= 'F')) {
				if (s->left >> 56) {
					dead(h, dir, "HTTP not decoded further: a chunk size over 2^56");
					return i;
				}
				s->left = s->left * 16 + (uint64_t)(c <= '9' ? c - '0' :
						(c | 0x20) - 'a' + 10);
			} else if (c != '\r') {
				s->chunk_ext = true;
			}
		}
		return n;
	case H_CHUNK_DATA:
		take = n < s->left ? n : (size_t)s->left;
		body_append(h, s, p, take);
		s->left -= take;
		if (s->left == 0) {
			s->st = H_CHUNK_CRLF;
			s->left = 2;
		}
		return take;
	case H_CHUNK_CRLF:
		for (i = 0; i < n && s->left; i++) {
			s->left--;
			if (p[i] == '\n')
				s->left = 0;
		}
		if (s->left == 0)
			s->st = H_CHUNK_SIZE;
		return i;
	case H_TRAILER:
		/* Lines until an empty one; line counts the current line. */
		for (i = 0; i < n; i++) {
			if (p[i] == '\n') {
				if (s->line == 0) {
					response_done(h, dir, s, ts);
					return i + 1;
				}
				s->line = 0;
			} else if (p[i] != '\r') {
				s->line++;
			}
		}
		return n;
	default:
		return n;
	}
}

/* ---- the connection ------------------------------------------------------------ */

void bt_httpdec_init(struct bt_httpdec *h, struct bt_budget *mem,
		     size_t max_body, uint64_t conv, uint64_t first_us,
		     const struct bt_flow_ep ep[2], bt_httpdec_rec_fn *rec,
		     void *ctx)
{
	memset(h, 0, sizeof *h);
	h->mem = mem;
	h->max_body = max_body ? max_body : BT_HTTPDEC_DEF_BODY;
	h->conv = conv;
	h->first_us = first_us;
	h->ep[0] = ep[0];
	h->ep[1] = ep[1];
	h->rec = rec;
	h->ctx = ctx;
}

size_t bt_httpdec_feed(struct bt_httpdec *h, int dir, const uint8_t *p,
		       size_t n, uint64_t ts)
{
	size_t used = 0;

	if (h->dead[dir] || h->not_tracker || !n)
		return 0;
	if (!h->d[dir]) {
		h->d[dir] = bt_budget_alloc(h->mem, sizeof *h->d[dir]);
		if (!h->d[dir]) {
			h->dead[dir] = "memory cap (too many flows at once)";
			return 0;
		}
		memset(h->d[dir], 0, sizeof *h->d[dir]);
	}
	while (used < n && h->d[dir] && !h->not_tracker) {
		size_t k = step(h, dir, p + used, n - used, ts);

		if (!k && h->d[dir] && !h->not_tracker) {
			/* every live state takes at least a byte: never spin */
			dead(h, dir, "HTTP not decoded further: parser stuck");
			break;
		}
		used += k;
	}
	return used;
}

void bt_httpdec_gap(struct bt_httpdec *h, int dir)
{
	if (!h->dead[dir] && !h->not_tracker)
		dead(h, dir, "HTTP not decoded after a gap");
}

void bt_httpdec_end(struct bt_httpdec *h, int dir, uint64_t ts)
{
	struct bt_httpdec_dir *s = h->d[dir];

	if (s && s->st == H_EOF)
		response_done(h, dir, s, ts);
}

void bt_httpdec_free(struct bt_httpdec *h)
{
	dir_free(h, 0);
	dir_free(h, 1);
}

/* ---- announce and scrape queries ------------------------------------------ */

static bool key_is(const char *k, size_t kl, const char *w)
{
	return strlen(w) == kl && memcmp(k, w, kl) == 0;
}

static void q_int(struct bt_dec_query *q, int64_t *dst, const char *v, size_t vl)
{
	uint64_t x;

	if (parse_u64((const uint8_t *)v, vl, &x) && x <= INT64_MAX)
		*dst = (int64_t)x;
	else if (!q->bad)
		q->bad = "a number parameter is not a decimal number";
}

void bt_http_query_parse(struct bt_dec_query *q, const char *s, size_t n)
{
	size_t i = 0;

	memset(q, 0, sizeof *q);
	q->port = q->uploaded = q->downloaded = q->left = q->numwant = -1;
	q->compact = q->no_peer_id = q->corrupt = q->redundant = -1;
	q->supportcrypto = q->requirecrypto = -1;
	q->event = -1;
	while (i < n) {
		size_t a = i, e, eq;
		const char *k, *v;
		size_t kl, vl;

		while (i < n && s[i] != '&')
			i++;
		e = i++;
		if (e == a)
			continue;
		eq = a;
		while (eq < e && s[eq] != '=')
			eq++;
		k = s + a;
		kl = eq - a;
		v = eq < e ? s + eq + 1 : s + e;
		vl = eq < e ? e - eq - 1 : 0;
		if (key_is(k, kl, "info_hash") || key_is(k, kl, "peer_id")) {
			uint8_t buf[64];
			long dl = vl <= sizeof buf * 3 ?
				  bt_url_decode(v, vl, buf, sizeof buf, NULL) : BT_ETOOBIG;
			bool ih = kl == 9;

			if (dl != 20) {
				if (!q->bad)
					q->bad = dl == BT_EINVAL ? "bad percent-escape in info_hash or peer_id" :
						 ih ? "info_hash is not 20 bytes" :
						 "peer_id is not 20 bytes";
				if (ih)
					q->nhash++;
				continue;
			}
			if (ih) {
				if (q->nhash < BT_DEC_MAX_HASHES)
					memcpy(q->hashes[q->nhash], buf, 20);
				q->nhash++;
			} else {
				memcpy(q->peer_id, buf, 20);
				q->have_peer_id = true;
			}
		} else if (key_is(k, kl, "port")) {
			q_int(q, &q->port, v, vl);
		} else if (key_is(k, kl, "uploaded")) {
			q_int(q, &q->uploaded, v, vl);
		} else if (key_is(k, kl, "downloaded")) {
			q_int(q, &q->downloaded, v, vl);
		} else if (key_is(k, kl, "left")) {
			q_int(q, &q->left, v, vl);
		} else if (key_is(k, kl, "numwant")) {
			q_int(q, &q->numwant, v, vl);
		} else if (key_is(k, kl, "compact")) {
			q_int(q, &q->compact, v, vl);
		} else if (key_is(k, kl, "no_peer_id")) {
			q_int(q, &q->no_peer_id, v, vl);
		} else if (key_is(k, kl, "corrupt")) {
			q_int(q, &q->corrupt, v, vl);
		} else if (key_is(k, kl, "redundant")) {
			q_int(q, &q->redundant, v, vl);
		} else if (key_is(k, kl, "supportcrypto")) {
			q_int(q, &q->supportcrypto, v, vl);
		} else if (key_is(k, kl, "requirecrypto")) {
			q_int(q, &q->requirecrypto, v, vl);
		} else if (key_is(k, kl, "event")) {
			q->event_s = v;
			q->event_len = vl;
			q->event = bt_trk_event_parse(v, vl);
			if (q->event < 0)
				q->event = -2;
		} else if (key_is(k, kl, "key")) {
			q->key = v;
			q->key_len = vl;
		} else if (key_is(k, kl, "ip")) {
			q->ip = v;
			q->ip_len = vl;
		} else if (key_is(k, kl, "trackerid")) {
			q->trackerid = v;
			q->trackerid_len = vl;
		} else {
			q->unknown++;
		}
	}
}
