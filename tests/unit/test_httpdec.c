/* test_httpdec.c — HTTP tracker traffic (httpdec.h) fed directly: every
 * split point, exact records, pipelining, framing without bodies, the
 * limits, gzip/deflate through zlib, and the budget given back. */
#include "t.h"
#include "httpdec.h"

static void test_query(void)
{
	static const char q[] =
		"info_hash=%ECp%AC%D0%E5%A53%D4%18d%DF%F8f%9D%B5%8Fv%E7%09%F7"
		"&peer_id=-LT2080-m41Kv87eRRJW&port=25776&uploaded=0&downloaded=0"
		"&left=197385&corrupt=0&key=27203E14&event=started&numwant=200"
		"&compact=1&no_peer_id=1&supportcrypto=1&zzz=1";
	static const uint8_t ih[20] = {
		0xec, 0x70, 0xac, 0xd0, 0xe5, 0xa5, 0x33, 0xd4, 0x18, 0x64,
		0xdf, 0xf8, 0x66, 0x9d, 0xb5, 0x8f, 0x76, 0xe7, 0x09, 0xf7,
	};
	struct bt_dec_query x;

	bt_http_query_parse(&x, q, sizeof q - 1);
	T_EQ_UINT(x.nhash, 1);
	T_EQ_MEM(x.hashes[0], 20, ih, 20);
	T_CHECK(x.have_peer_id);
	T_EQ_MEM(x.peer_id, 20, "-LT2080-m41Kv87eRRJW", 20);
	T_EQ_INT(x.port, 25776);
	T_EQ_INT(x.left, 197385);
	T_EQ_INT(x.event, BT_TRK_EV_STARTED);
	T_EQ_INT(x.numwant, 200);
	T_EQ_INT(x.compact, 1);
	T_EQ_INT(x.supportcrypto, 1);
	T_EQ_INT(x.redundant, -1);
	T_EQ_MEM(x.key, x.key_len, "27203E14", 8);
	T_EQ_UINT(x.unknown, 1);
	T_CHECK(x.bad == NULL);
	bt_http_query_parse(&x, "info_hash=%zz&port=x", 20);
	T_CHECK(x.bad != NULL);
	T_EQ_INT(x.port, -1);
	bt_http_query_parse(&x, "info_hash=aaaaaaaaaaaaaaaaaaaa&info_hash=bbbbbbbbbbbbbbbbbbbb", 61);
	T_EQ_UINT(x.nhash, 2);
	T_EQ_MEM(x.hashes[1], 20, "bbbbbbbbbbbbbbbbbbbb", 20);
	bt_http_query_parse(&x, "", 0);
	T_EQ_UINT(x.nhash, 0);
	T_CHECK(x.bad == NULL);
}

static const uint8_t gz_body[108] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x4b, 0xb1,
	0xb0, 0xca, 0xcc, 0x2b, 0x49, 0x2d, 0x2a, 0x4b, 0xcc, 0xc9, 0x34, 0xb4,
	0x30, 0x30, 0x48, 0x35, 0xb5, 0x2a, 0x48, 0x4d, 0x2d, 0x2a, 0x36, 0x33,
	0xb0, 0x62, 0x60, 0x64, 0x62, 0x66, 0x61, 0x65, 0x63, 0xe7, 0xe0, 0xe4,
	0xe2, 0xe6, 0xe1, 0xe5, 0xe3, 0x17, 0x10, 0x14, 0x12, 0x16, 0x11, 0x15,
	0x13, 0x97, 0x90, 0x94, 0x92, 0x96, 0x91, 0x95, 0x93, 0x57, 0x50, 0x54,
	0x52, 0x56, 0x51, 0x55, 0x53, 0xd7, 0xd0, 0xd4, 0xd2, 0xd6, 0xd1, 0xd5,
	0xd3, 0x37, 0x30, 0x34, 0x32, 0x36, 0x31, 0x35, 0x33, 0xb7, 0xb0, 0xb4,
	0xb2, 0x4e, 0x05, 0x00, 0xc4, 0x57, 0x02, 0xdc, 0x58, 0x00, 0x00, 0x00,
};
static const uint8_t zlib_body[208] = {
	0x78, 0xda, 0x25, 0xd0, 0x45, 0x4e, 0x03, 0x01, 0x00, 0x00, 0xc0, 0x16,
	0x77, 0x77, 0x77, 0x97, 0x45, 0x5a, 0xda, 0xe2, 0xee, 0xee, 0x4e, 0x81,
	0x3d, 0x34, 0x21, 0x84, 0x00, 0xe1, 0xca, 0xd7, 0x49, 0x86, 0xcb, 0x3c,
	0x60, 0x5e, 0x13, 0xa9, 0xcc, 0xfb, 0x77, 0xf8, 0xf9, 0x93, 0x7e, 0xcb,
	0x24, 0x83, 0x20, 0x8c, 0xa5, 0x3e, 0xc2, 0xf0, 0xf3, 0x2b, 0x1e, 0x04,
	0xa9, 0xdf, 0x48, 0x24, 0x1a, 0x89, 0x30, 0xca, 0x2c, 0x66, 0x33, 0x87,
	0xb9, 0xcc, 0x63, 0x3e, 0x0b, 0x58, 0xc8, 0x22, 0x16, 0xb3, 0x84, 0xa5,
	0x2c, 0x63, 0x39, 0x2b, 0x58, 0xc9, 0x2a, 0x56, 0xb3, 0x86, 0xb5, 0xac,
	0x63, 0x3d, 0x1b, 0xd8, 0xc8, 0x26, 0x36, 0xb3, 0x85, 0xad, 0x6c, 0x63,
	0x3b, 0x3b, 0xd8, 0xc9, 0x2e, 0x76, 0xb3, 0x87, 0xbd, 0xec, 0x63, 0x3f,
	0x07, 0x38, 0xc8, 0x21, 0x0e, 0x73, 0x84, 0xa3, 0x1c, 0xe3, 0x38, 0x03,
	0x4e, 0x70, 0x92, 0x53, 0x9c, 0x66, 0x8c, 0x71, 0xce, 0x30, 0xc1, 0x24,
	0xff, 0x87, 0x67, 0x39, 0xc7, 0x79, 0x2e, 0x70, 0x91, 0x4b, 0x5c, 0xe6,
	0x0a, 0x57, 0xb9, 0xc6, 0x75, 0x6e, 0x70, 0x93, 0x5b, 0xdc, 0xe6, 0x0e,
	0x77, 0xb9, 0xc7, 0x7d, 0x1e, 0xf0, 0x90, 0x47, 0x3c, 0xe6, 0x09, 0x4f,
	0x79, 0xc6, 0x73, 0x5e, 0xf0, 0x92, 0x57, 0xbc, 0xe6, 0x0d, 0x6f, 0x79,
	0xc7, 0x7b, 0x3e, 0xf0, 0x91, 0x4f, 0x4c, 0xf3, 0x99, 0x2f, 0xe1, 0x1f,
	0x01, 0x60, 0x4e, 0xbc,
};
static const uint8_t raw_stored[93] = {
	0x01, 0x58, 0x00, 0xa7, 0xff, 0x64, 0x38, 0x3a, 0x69, 0x6e, 0x74, 0x65,
	0x72, 0x76, 0x61, 0x6c, 0x69, 0x31, 0x38, 0x30, 0x30, 0x65, 0x35, 0x3a,
	0x70, 0x65, 0x65, 0x72, 0x73, 0x36, 0x30, 0x3a, 0x00, 0x01, 0x02, 0x03,
	0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
	0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
	0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
	0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x65,
};

/* ---- a connection under test -------------------------------------------- */

#define MAXREC 16

struct rec {
	int kind, status, rc, dir;
	bool chunked, inflated, scrape, has_q;
	char url[160], method[16], target[200], note[200];
	struct bt_dec_query q;
	size_t body_len, npeers, nfiles;
	uint64_t body_size;
	uint8_t body[1024];
	int64_t interval;
	uint64_t t_us, conv;
	uint16_t first_port;
};

struct conn {
	struct bt_budget mem;
	struct bt_httpdec h;
	struct rec r[MAXREC];
	size_t n;
};

static void on_rec(void *ctx, const struct bt_dec_trk *t)
{
	struct conn *c = ctx;
	struct rec *r;

	if (c->n >= MAXREC)
		return;
	r = &c->r[c->n++];
	memset(r, 0, sizeof *r);
	r->kind = t->kind;
	r->status = t->status;
	r->rc = t->rc;
	r->dir = t->dir;
	r->chunked = t->chunked;
	r->inflated = t->inflated;
	r->scrape = t->scrape;
	r->t_us = t->t_us;
	r->conv = t->conv;
	snprintf(r->url, sizeof r->url, "%s", t->url ? t->url : "");
	snprintf(r->method, sizeof r->method, "%.*s", (int)t->method_len,
		 t->method ? t->method : "");
	snprintf(r->target, sizeof r->target, "%.*s", (int)t->target_len,
		 t->target ? t->target : "");
	snprintf(r->note, sizeof r->note, "%s", t->note ? t->note : "");
	if (t->q) {
		r->has_q = true;
		r->q = *t->q;
	}
	r->body_len = t->body_len;
	r->body_size = t->body_size;
	if (t->body)
		memcpy(r->body, t->body, t->body_len < sizeof r->body ?
		       t->body_len : sizeof r->body);
	r->interval = t->resp ? t->resp->interval : -1;
	r->npeers = t->npeers;
	if (t->npeers)
		r->first_port = t->peers[0].port;
	if (t->scrape_resp)
		r->nfiles = t->scrape_resp->nfiles;
}

static void c_init(struct conn *c, size_t budget, size_t max_body)
{
	struct bt_flow_ep ep[2];

	memset(c, 0, sizeof *c);
	memset(ep, 0, sizeof ep);
	ep[0].addr.family = ep[1].addr.family = 4;
	memcpy(ep[0].addr.a, "\x7f\x00\x00\x02", 4);
	memcpy(ep[1].addr.a, "\x7f\x00\x00\x01", 4);
	ep[0].port = 40000;
	ep[1].port = 6969;
	c->mem.cap = budget ? budget : (size_t)64 << 20;
	bt_httpdec_init(&c->h, &c->mem, max_body, 7, 1000, ep, on_rec, c);
}

static void c_free(struct conn *c)
{
	bt_httpdec_free(&c->h);
	T_EQ_UINT(c->mem.used, 0);     /* every buffer given back */
}

/* Feed s[0..n) to direction dir cut at the points of cuts (ascending,
 * 0-terminated), each piece from a guarded copy; all must be used. */
static void feed_cut(struct conn *c, int dir, const void *s, size_t n,
		     const size_t *cuts, uint64_t ts)
{
	size_t at = 0;

	for (size_t i = 0;; i++) {
		size_t to = cuts && cuts[i] && cuts[i] < n ? cuts[i] : n;

		if (to > at) {
			const uint8_t *g = t_guarded((const uint8_t *)s + at, to - at);
			T_EQ_UINT(bt_httpdec_feed(&c->h, dir, g, to - at, ts), to - at);
		}
		at = to;
		if (at >= n)
			break;
	}
}

static void feed(struct conn *c, int dir, const char *s, uint64_t ts)
{
	feed_cut(c, dir, s, strlen(s), NULL, ts);
}

/* ---- requests and responses ------------------------------------------------ */

static const char rq1[] =
	"GET /announce?info_hash=%ABd%CD&peer_id=-LT2080-abcdefghijkl&port=6881"
	"&left=0&event=started HTTP/1.1\r\nHost: 127.0.0.1:6969\r\nUser-Agent: x\r\n\r\n";
static const char rs1[] =
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
	"10;ext=1\r\nd8:intervali1800\r\n"
	"18\r\ne5:peers12:\x7f\x00\x00\x01\x1a\xe1\x7f\x00\x00\x02\x1a\xe2" "e\r\n"
	"0\r\nX-Trailer: y\r\n\r\n";

static void check_pair(const struct conn *c)
{
	T_EQ_UINT(c->n, 2);
	T_EQ_INT(c->r[0].kind, BT_DEC_TRK_HTTP_REQ);
	T_EQ_INT(c->r[0].dir, BT_DIR_OUT);
	T_EQ_UINT(c->r[0].conv, 7);
	T_EQ_STR(c->r[0].url, "http://127.0.0.1:6969/announce");
	T_EQ_STR(c->r[0].method, "GET");
	T_CHECK(strncmp(c->r[0].target, "/announce?info_hash=%ABd%CD&", 28) == 0);
	T_EQ_INT(c->r[0].q.port, 6881);
	T_EQ_INT(c->r[0].q.left, 0);
	T_EQ_INT(c->r[0].q.event, BT_TRK_EV_STARTED);
	T_EQ_MEM(c->r[0].q.peer_id, 20, "-LT2080-abcdefghijkl", 20);
	T_CHECK(c->r[0].q.bad != NULL);     /* a 3-byte info_hash */
	T_EQ_UINT(c->r[0].t_us, 0);
	T_EQ_INT(c->r[1].kind, BT_DEC_TRK_HTTP_RESP);
	T_EQ_INT(c->r[1].dir, BT_DIR_IN);
	T_EQ_STR(c->r[1].url, "http://127.0.0.1:6969/announce");
	T_EQ_INT(c->r[1].status, 200);
	T_CHECK(c->r[1].chunked);
	T_CHECK(!c->r[1].inflated);
	T_EQ_INT(c->r[1].rc, BT_OK);
	T_EQ_INT(c->r[1].interval, 1800);
	T_EQ_UINT(c->r[1].npeers, 2);
	T_EQ_UINT(c->r[1].first_port, 6881);
	T_EQ_UINT(c->r[1].body_len, 40);   /* de-chunked: 16 + 24 */
	T_EQ_STR(c->r[1].note, "");
	T_EQ_UINT(c->r[1].t_us, 1000);     /* the head's first byte */
	T_EQ_UINT(c->h.requests, 1);
	T_EQ_UINT(c->h.responses, 1);
	T_CHECK(c->h.tracker && !c->h.not_tracker);
}

static void test_request_response(void)
{
	struct conn c;

	c_init(&c, 0, 0);
	feed(&c, 0, rq1, 1000);
	T_EQ_UINT(c.n, 1);              /* a request is reported by its head */
	feed_cut(&c, 1, rs1, sizeof rs1 - 1, NULL, 2000);
	check_pair(&c);
	c_free(&c);
}

/* Every split point of either stream gives the same records. */
static void test_every_split(void)
{
	struct conn c;

	for (size_t k = 1; k < sizeof rq1 - 1; k++) {
		size_t cuts[2] = { k, 0 };

		c_init(&c, 0, 0);
		feed_cut(&c, 0, rq1, sizeof rq1 - 1, cuts, 1000);
		feed_cut(&c, 1, rs1, sizeof rs1 - 1, NULL, 2000);
		check_pair(&c);
		c_free(&c);
		if (t_failed_now) {
			printf("#   request cut at %zu\n", k);
			return;
		}
	}
	for (size_t k = 1; k < sizeof rs1 - 1; k++) {
		for (size_t k2 = k + 1; k2 < sizeof rs1 - 1; k2 += 7) {
			size_t cuts[3] = { k, k2, 0 };

			c_init(&c, 0, 0);
			feed(&c, 0, rq1, 1000);
			feed_cut(&c, 1, rs1, sizeof rs1 - 1, cuts, 2000);
			check_pair(&c);
			c_free(&c);
			if (t_failed_now) {
				printf("#   response cut at %zu, %zu\n", k, k2);
				return;
			}
		}
	}
	/* and byte by byte */
	c_init(&c, 0, 0);
	for (size_t i = 0; i < sizeof rq1 - 1; i++)
		feed_cut(&c, 0, rq1 + i, 1, NULL, 1000);
	for (size_t i = 0; i < sizeof rs1 - 1; i++)
		feed_cut(&c, 1, rs1 + i, 1, NULL, 2000);
	check_pair(&c);
	c_free(&c);
}

/* Pipelined requests are answered in order: the second answer is the
 * scrape's, parsed as one. */
static void test_pipelined(void)
{
	static const char scrape_body[] =
		"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1e10:downloadedi2e"
		"10:incompletei3eeee";
	char rs[512];
	struct conn c;

	c_init(&c, 0, 0);
	feed(&c, 0, "GET /announce?info_hash=aaaaaaaaaaaaaaaaaaaa&port=1 HTTP/1.1\r\n\r\n"
		    "GET /x/scrape?info_hash=aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n", 1000);
	T_EQ_UINT(c.n, 2);
	T_CHECK(!c.r[0].scrape);
	T_CHECK(c.r[1].scrape && c.r[1].q.scrape);
	snprintf(rs, sizeof rs, "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\n"
		 "d8:intervali900e5:peers0:e"
		 "HTTP/1.1 200 OK\r\ncontent-length: %zu\r\n\r\n%s",
		 sizeof scrape_body - 1, scrape_body);
	feed(&c, 1, rs, 2000);
	T_EQ_UINT(c.n, 4);
	T_EQ_INT(c.r[2].interval, 900);
	T_CHECK(!c.r[2].scrape);
	T_EQ_STR(c.r[2].url, "http://127.0.0.1:6969/announce");
	T_CHECK(c.r[3].scrape);
	T_EQ_INT(c.r[3].rc, BT_OK);
	T_EQ_UINT(c.r[3].nfiles, 1);
	T_EQ_STR(c.r[3].url, "http://127.0.0.1:6969/x/scrape");
	c_free(&c);
}

/* Bodies the head says are not there: a HEAD's answer, 1xx, 204, 304;
 * a request body (Content-Length) skipped; a body to the connection's
 * end, complete only then. */
static void test_framing(void)
{
	struct conn c;

	c_init(&c, 0, 0);
	feed(&c, 0, "GET /announce?info_hash=aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n"
		    "HEAD /announce HTTP/1.1\r\n\r\n"
		    "POST /announce?info_hash=aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n"
		    "Content-Length: 5\r\n\r\nHELLO"
		    "GET /announce?info_hash=aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n", 1000);
	T_EQ_UINT(c.n, 4);
	T_EQ_STR(c.r[2].method, "POST");
	T_EQ_STR(c.r[3].method, "GET");    /* HELLO was the POST's body */
	feed(&c, 1, "HTTP/1.1 100 Continue\r\n\r\n", 2000);
	feed(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n", 2000);
	feed(&c, 1, "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", 2000);
	feed(&c, 1, "HTTP/1.0 200 OK\r\n\r\nd8:intervali60e5:peers0:e", 2000);
	T_EQ_UINT(c.n, 7);                 /* the last one runs to the end */
	T_EQ_INT(c.r[4].status, 100);
	T_EQ_STR(c.r[5].note, "answer to a HEAD request");
	T_EQ_UINT(c.r[5].body_len, 0);
	T_EQ_INT(c.r[6].status, 304);
	bt_httpdec_end(&c.h, 1, 3000);
	T_EQ_UINT(c.n, 8);
	T_EQ_INT(c.r[7].interval, 60);
	T_EQ_UINT(c.h.responses, 4);
	c_free(&c);
}

/* The first request decides: a web page is not a tracker's, nothing is
 * reported and nothing kept. */
static void test_not_tracker(void)
{
	struct conn c;
	static const char rq[] = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\nGET /announce";

	c_init(&c, 0, 0);
	T_EQ_UINT(bt_httpdec_feed(&c.h, 0, (const uint8_t *)rq, sizeof rq - 1, 1),
		  sizeof rq - 1 - 13);
	T_CHECK(c.h.not_tracker);
	T_EQ_UINT(bt_httpdec_feed(&c.h, 1, (const uint8_t *)"HTTP/1.1 200 OK\r\n\r\n", 19, 1), 0);
	T_EQ_UINT(c.n, 0);
	T_EQ_UINT(c.mem.used, 0);
	c_free(&c);
	/* an answer to a HEAD as the first request: not a tracker either */
	c_init(&c, 0, 0);
	feed_cut(&c, 0, "HEAD /announce HTTP/1.1\r\n", 25, NULL, 1);
	T_CHECK(!c.h.not_tracker);        /* not a whole head yet */
	T_EQ_UINT(bt_httpdec_feed(&c.h, 0, (const uint8_t *)"\r\n", 2, 1), 2);
	T_CHECK(c.h.not_tracker);
	c_free(&c);
}

/* What cannot be decoded is said: a head over the cap, a chunk size over
 * 2^56, a gap (direction given up; the other goes on); a body over the
 * body cap (a note and its size). */
static void test_limits(void)
{
	static char big[BT_HTTPDEC_HEAD_MAX + 100];
	struct conn c;
	size_t n;

	c_init(&c, 0, 0);
	memcpy(big, "GET /announce?info_hash=x HTTP/1.1\r\nX: ", 39);
	memset(big + 39, 'a', sizeof big - 39);
	n = bt_httpdec_feed(&c.h, 0, (const uint8_t *)big, sizeof big, 1);
	T_EQ_UINT(n, BT_HTTPDEC_HEAD_MAX);
	T_EQ_STR(c.h.dead[0], "HTTP not decoded further: a head over 16 KiB");
	T_EQ_UINT(bt_httpdec_feed(&c.h, 0, (const uint8_t *)"x", 1, 1), 0);
	c_free(&c);

	c_init(&c, 0, 0);
	feed(&c, 0, "GET /announce HTTP/1.1\r\n\r\n", 1);
	n = bt_httpdec_feed(&c.h, 1, (const uint8_t *)"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
			    "chunked\r\n\r\n10000000000000000\r\n", 66, 2);
	T_EQ_UINT(n, 47 + 15);   /* the head, 15 digits: the 16th is refused */
	T_EQ_STR(c.h.dead[1], "HTTP not decoded further: a chunk size over 2^56");
	T_CHECK(!c.h.dead[0]);
	c_free(&c);

	c_init(&c, 0, 0);
	feed(&c, 0, "GET /announce HTTP/1.1\r\n", 1);
	bt_httpdec_gap(&c.h, 0);
	T_EQ_STR(c.h.dead[0], "HTTP not decoded after a gap");
	T_EQ_UINT(c.mem.used, 0);
	c_free(&c);

	c_init(&c, 0, 16);
	feed(&c, 0, "GET /announce HTTP/1.1\r\n\r\n", 1);
	feed(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nd8:intervali900e5:peers0:e", 2);
	T_EQ_UINT(c.n, 2);
	T_EQ_STR(c.r[1].note, "body over the decoder's cap: not decoded");
	T_EQ_UINT(c.r[1].body_len, 0);
	T_EQ_UINT(c.r[1].body_size, 26);
	c_free(&c);

	/* a budget too small for a head buffer: given up, never a crash */
	c_init(&c, 600, 0);
	n = bt_httpdec_feed(&c.h, 0, (const uint8_t *)rq1, sizeof rq1 - 1, 1);
	T_EQ_UINT(n, 0);
	T_EQ_STR(c.h.dead[0], "HTTP not decoded further: memory cap");
	c_free(&c);
}

/* ---- compressed bodies ---------------------------------------------------- */

/* An announce answer with this body and Content-Encoding, decoded with
 * body cap cap (0: default); its record. */
static void coded(const uint8_t *b, size_t n, const char *coding, size_t cap,
		  struct rec *out, size_t *peak)
{
	char head[200];
	struct conn c;
	int hl;

	hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\n"
		      "Content-Length: %zu\r\n\r\n", coding, n);
	c_init(&c, 0, cap);
	feed(&c, 0, "GET /announce?info_hash=%AB&port=1 HTTP/1.1\r\n\r\n", 1);
	feed_cut(&c, 1, head, (size_t)hl, NULL, 2);
	if (n)
		feed_cut(&c, 1, b, n, NULL, 2);
	T_EQ_UINT(c.n, 2);
	*out = c.r[1];
	if (peak)
		*peak = c.mem.peak;
	c_free(&c);
}

static void test_compressed(void)
{
	uint8_t bad[sizeof gz_body];
	char want[200];
	struct rec r;
	size_t peak;

	coded(gz_body, sizeof gz_body, "gzip", 0, &r, &peak);
	T_EQ_INT(r.rc, BT_OK);
	T_EQ_UINT(r.npeers, 10);
	T_CHECK(r.inflated);
	T_EQ_UINT(r.body_len, 88);
	T_EQ_STR(r.note, "");
	/* zlib's own memory (its inflate state is 7 KiB) is charged to the
	 * budget on top of the 1 KiB buffer and the 4 KiB output */
	T_CHECK(peak > 1024 + 4096 + 4096);
	coded(gz_body, sizeof gz_body, "X-GZIP", 0, &r, NULL);
	T_EQ_UINT(r.npeers, 10);
	coded(zlib_body, sizeof zlib_body, "deflate", 0, &r, NULL);
	T_EQ_INT(r.rc, BT_OK);
	T_EQ_UINT(r.npeers, 100);
	T_EQ_UINT(r.body_len, 628);
	/* a zlib stream labelled gzip: zlib tells them apart */
	coded(zlib_body, sizeof zlib_body, "gzip", 0, &r, NULL);
	T_EQ_UINT(r.npeers, 100);
	coded(raw_stored, sizeof raw_stored, "deflate", 0, &r, NULL);
	T_EQ_INT(r.rc, BT_OK);
	T_EQ_UINT(r.npeers, 10);
	coded(gz_body, sizeof gz_body, "identity", 0, &r, NULL);
	T_CHECK(!r.inflated);
	T_CHECK(r.rc != BT_OK);           /* gzip bytes are no bencode */
	/* damaged: each a note saying what and where, never a crash */
	memcpy(bad, gz_body, sizeof bad);
	bad[40] ^= 0x10;
	coded(bad, sizeof bad, "gzip", 0, &r, NULL);
	T_CHECK(strncmp(r.note, "gzip body not decoded: ", 23) == 0);
	T_CHECK(!r.inflated);
	memcpy(bad, gz_body, sizeof bad);
	bad[100] ^= 1;
	coded(bad, sizeof bad, "gzip", 0, &r, NULL);
	T_EQ_STR(r.note, "gzip body not decoded: checksum does not match (gzip "
		 "CRC-32 or zlib Adler-32) (at byte 104 of 108)");
	memcpy(bad, gz_body, sizeof bad);
	bad[104] ^= 1;
	coded(bad, sizeof bad, "gzip", 0, &r, NULL);
	T_EQ_STR(r.note, "gzip body not decoded: length in the gzip trailer does "
		 "not match (at byte 108 of 108)");
	coded(gz_body, sizeof gz_body, "deflate", 0, &r, NULL);
	T_CHECK(strncmp(r.note, "deflate body not decoded: ", 26) == 0);
	memcpy(bad, zlib_body, 4);
	bad[0] ^= 0x40;    /* the CMF/FLG check fails: not zlib */
	coded(bad, 2, "gzip", 0, &r, NULL);
	T_EQ_STR(r.note, "gzip body not decoded: not a gzip or zlib stream (at byte 2 of 2)");
	for (size_t k = 0; k < sizeof gz_body; k++) {
		coded(gz_body, k, "gzip", 0, &r, NULL);
		snprintf(want, sizeof want, "gzip body not decoded: the compressed "
			 "data ends early (at byte %zu of %zu)", k, k);
		T_EQ_STR(r.note, want);
	}
	for (size_t k = 1; k < sizeof zlib_body; k++) {
		coded(zlib_body, k, "deflate", 0, &r, NULL);
		T_CHECK(r.note[0] != '\0');
	}
	coded(gz_body, sizeof gz_body, "br", 0, &r, NULL);
	T_EQ_STR(r.note, "body in an unknown Content-Encoding: not decoded");
	/* the body cap bounds the decompressed size too: 628 bytes fit in
	 * 628, not in 627 */
	coded(zlib_body, sizeof zlib_body, "deflate", 628, &r, NULL);
	T_EQ_INT(r.rc, BT_OK);
	T_EQ_UINT(r.npeers, 100);
	T_EQ_STR(r.note, "");
	coded(zlib_body, sizeof zlib_body, "deflate", 627, &r, NULL);
	T_EQ_STR(r.note, "decompressed body over the decoder's cap: not decoded");
}

/* A budget that fits the body but not zlib: a note, all memory back. */
static void test_compressed_budget(void)
{
	char head[200];
	struct conn c;
	int hl;

	hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
		      "Content-Length: %zu\r\n\r\n", sizeof gz_body);
	c_init(&c, 8192, 0);
	feed(&c, 0, "GET /announce HTTP/1.1\r\n\r\n", 1);
	feed_cut(&c, 1, head, (size_t)hl, NULL, 2);
	feed_cut(&c, 1, gz_body, sizeof gz_body, NULL, 2);
	T_EQ_UINT(c.n, 2);
	T_EQ_STR(c.r[1].note, "memory cap: body not decoded");
	c_free(&c);
}

int main(void)
{
	T_RUN(test_query);
	T_RUN(test_request_response);
	T_RUN(test_every_split);
	T_RUN(test_pipelined);
	T_RUN(test_framing);
	T_RUN(test_not_tracker);
	T_RUN(test_limits);
	T_RUN(test_compressed);
	T_RUN(test_compressed_budget);
	return T_DONE();
}
