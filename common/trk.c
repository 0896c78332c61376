/* trk.c — tracker client I/O on the loop.  See trk.h for the contract.
 *
 * Ownership: a request's private state (struct bt_trk_priv) holds its
 * bt_io and timers, so it is never freed inside a loop dispatch round
 * (loop.h): a finished request's priv goes on the client's dead list and
 * a zero-delay sweep timer frees it after the round.  libcurl's sockets
 * (struct csock) are retired the same way. */
#include "trk.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "out.h"

#define HDR_CAP        (16u << 10)  /* header block kept for -v */
#define UDP_PKT_CAP    4608         /* 98 + URLData of 4096 bytes in 17 chunks */
#define MAX_TOKENS     (1u << 20)   /* bencode tokens for one body (20 MiB) */
#define EXCERPT        96           /* body bytes quoted in an HTTP error */
#define DNS_POLL_MAX_US 20000u
#define HTTP_GRACE_US  500000u      /* our net under libcurl's own timeout */

enum phase {
	PH_IDLE = 0,
	PH_HTTP,
	PH_DNS,          /* UDP host name being resolved */
	PH_WAIT_CONN,    /* another request is connecting to this tracker */
	PH_CONNECT,      /* UDP connect sent */
	PH_REQUEST,      /* UDP announce / scrape sent */
	PH_DONE,
};

/* A UDP tracker address and what we know of it. */
struct udp_ep {
	struct sockaddr_storage sa;
	socklen_t salen;
	bool have_id;
	uint64_t conn_id;
	uint64_t got_us;               /* when the id arrived */
	struct bt_trk_priv *connector; /* request connecting now, or NULL */
	struct bt_trk_priv *waiters;   /* requests waiting for that connect */
	struct udp_ep *next;
};

/* One socket libcurl asked us to watch. */
struct csock {
	struct bt_io io;
	struct bt_trk_client *c;
	bool dead;
	struct csock *next;
};

struct bt_trk_priv {
	struct bt_trk_req *r;
	struct bt_trk_client *c;
	struct bt_url url;
	int phase;
	uint64_t start_us, deadline_us;
	struct bt_timer deadline;      /* the whole request */
	struct bt_timer soon;          /* deferred failure; DNS polling */
	struct bt_trk_priv *prev_run, *next_run, *next_dead;

	/* HTTP */
	CURL *easy;
	char *get_url;
	char errbuf[CURL_ERROR_SIZE];
	uint8_t *body;
	size_t body_len, body_cap;
	bool too_big;
	char *hdr;
	size_t hdr_len;
	char status_line[128];

	/* UDP */
	struct bt_io io;
	bool io_on;
	struct bt_timer rtx;
	struct gaicb gai;
	struct gaicb *gai_list[1];
	struct addrinfo hints;
	bool gai_on;
	unsigned gai_poll_us;
	char host[BT_URL_MAX_HOST + 1];
	char port[8];
	struct sockaddr_storage sa;
	socklen_t salen;
	int family;                    /* 4 or 6 */
	struct udp_ep *ep;
	struct bt_trk_priv *next_wait;
	uint32_t tid, old_tid;
	bool have_old_tid;
	uint64_t conn_id;
	unsigned attempts;             /* sends of the current packet */
	uint64_t sent_us;
	uint8_t pkt[UDP_PKT_CAP];
	size_t pkt_len;
};

struct bt_trk_client {
	struct bt_loop *l;
	struct bt_trk_opts o;
	uint64_t base_us;              /* first UDP retransmission wait */
	CURLM *multi;
	struct bt_timer curl_timer;
	struct bt_timer sweep;
	struct csock *socks;           /* live */
	struct csock *dead_socks;
	struct bt_trk_priv *running;
	struct bt_trk_priv *dead;
	struct bt_trk_priv *zombies;   /* DNS lookups that could not be cancelled */
	struct udp_ep *eps;
	struct bt_trk_req *qhead, *qtail;
	size_t nqueued, nrunning;
	bool closing;                  /* in bt_trk_client_free */
	uint8_t rx[65536];
};

static void finish(struct bt_trk_priv *p);
static void pump(struct bt_trk_client *c);

/* ---- small helpers ----------------------------------------------------- */

const char *bt_trk_fail_name(int fail)
{
	switch (fail) {
	case BT_TRKF_OK:       return "ok";
	case BT_TRKF_ARG:      return "argument";
	case BT_TRKF_DNS:      return "dns";
	case BT_TRKF_CONNECT:  return "connect";
	case BT_TRKF_TLS:      return "tls";
	case BT_TRKF_TIMEOUT:  return "timeout";
	case BT_TRKF_HTTP:     return "http";
	case BT_TRKF_REDIRECT: return "redirect";
	case BT_TRKF_TOOBIG:   return "too-big";
	case BT_TRKF_BODY:     return "body";
	case BT_TRKF_PACKET:   return "packet";
	case BT_TRKF_FAILURE:  return "failure";
	case BT_TRKF_LOCAL:    return "local";
	}
	return "unknown";
}

void bt_trk_opts_init(struct bt_trk_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->retries = -1;
}

int bt_trk_random_key(uint32_t *udp_key, char keybuf[9])
{
	uint8_t b[4];
	ssize_t n;

	do
		n = getrandom(b, sizeof b, 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof b)
		return n < 0 ? -errno : -EIO;
	*udp_key = bt_load_u32be(b);
	snprintf(keybuf, 9, "%08" PRIx32, *udp_key);
	return 0;
}

static uint32_t random_u32(void)
{
	uint8_t b[4] = { 0 };
	uint64_t t;

	if (getrandom(b, sizeof b, 0) == (ssize_t)sizeof b)
		return bt_load_u32be(b);
	/* getrandom cannot fail for 4 bytes once the pool is ready; still,
	 * never hand out a constant transaction id. */
	t = bt_now_us();
	return (uint32_t)(t ^ (t >> 32)) * 2654435761u;
}

static void setmsg(struct bt_trk_req *r, int fail, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void setmsg(struct bt_trk_req *r, int fail, const char *fmt, ...)
{
	va_list ap;

	r->fail = fail;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
}

/* "1.5 s" for messages. */
static const char *secs(uint64_t us, char *b, size_t cap)
{
	snprintf(b, cap, "%" PRIu64 ".%01" PRIu64 " s", us / 1000000u, us / 100000u % 10u);
	return b;
}

static void reset_timing(struct bt_trk_timing *t)
{
	memset(t, 0, sizeof(*t));
	t->dns_us = t->connect_us = t->tls_us = t->first_byte_us = t->total_us = -1;
	t->udp_connect_us = t->udp_request_us = -1;
}

void bt_trk_req_init(struct bt_trk_req *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = BT_TRK_ANNOUNCE;
	bt_trk_announce_init(&r->ann);
	r->ann.compact = BT_TRK_COMPACT_YES;
	reset_timing(&r->t);
}

void bt_trk_req_free(struct bt_trk_req *r)
{
	free(r->peers);
	free(r->info);
	free(r->files);
	free(r->udp_scrape);
	free(r->raw);
	free(r->raw_sent);
	free(r->headers);
	free(r->effective_url);
	free(r->own_hashes);
	free(r->toks);
	r->peers = NULL;
	r->info = NULL;
	r->files = NULL;
	r->raw = r->raw_sent = NULL;
	r->headers = NULL;
	r->effective_url = NULL;
	r->own_hashes = NULL;
	r->toks = NULL;
	r->raw_len = r->raw_sent_len = r->headers_len = 0;
	r->nfiles = 0;
	r->udp_scrape = NULL;
	r->udp_nscrape = 0;
	r->sent = NULL;
	r->nsent = 0;
	memset(&r->scrape, 0, sizeof r->scrape);
	r->failure = NULL;
	r->failure_len = 0;
	memset(&r->resp, 0, sizeof r->resp);
	memset(&r->perr, 0, sizeof r->perr);
	r->scheme = 0;
	r->fail = BT_TRKF_OK;
	r->msg[0] = '\0';
	r->http_status = 0;
	reset_timing(&r->t);
}

/* The hashes a scrape asks for. */
static const uint8_t (*scrape_hashes(const struct bt_trk_req *r, size_t *n))[20]
{
	if (r->own_hashes) {
		*n = r->nhashes;
		return (const uint8_t (*)[20])r->own_hashes;
	}
	*n = 1;
	return (const uint8_t (*)[20])&r->ann.info_hash;
}

/* ---- client, queue, lifetime ------------------------------------------- */

static void sweep_cb(struct bt_loop *l, struct bt_timer *t);
static void curl_timer_cb(struct bt_loop *l, struct bt_timer *t);
static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp);
static int timer_fn(CURLM *m, long timeout_ms, void *userp);

int bt_trk_client_new(struct bt_trk_client **cp, struct bt_loop *l,
		      const struct bt_trk_opts *opts)
{
	struct bt_trk_client *c = calloc(1, sizeof(*c));
	int r;

	*cp = NULL;
	if (!c)
		return -ENOMEM;
	if (opts)
		c->o = *opts;
	else
		bt_trk_opts_init(&c->o);
	if (c->o.timeout_us == 0)
		c->o.timeout_us = BT_TRK_DEFAULT_TIMEOUT_US;
	if (c->o.retries < 0)
		c->o.retries = BT_TRK_DEFAULT_RETRIES;
	if (c->o.retries > 8)
		c->o.retries = 8;
	if (c->o.max_redirects == 0)
		c->o.max_redirects = BT_TRK_DEFAULT_REDIRECTS;
	if (c->o.max_body == 0 || c->o.max_body > BT_TRK_MAX_BODY)
		c->o.max_body = BT_TRK_MAX_BODY;
	if (!c->o.user_agent)
		c->o.user_agent = "btkit/0.1";
	/* BEP 15 doubles the wait after each retransmission; the waits of
	 * retries + 1 sends add up to 2^(retries+1) - 1 first waits. */
	c->base_us = c->o.timeout_us / ((1u << (c->o.retries + 1)) - 1u);
	if (c->base_us == 0)
		c->base_us = 1;
	c->l = l;
	c->sweep.cb = sweep_cb;
	c->sweep.arg = c;
	c->curl_timer.cb = curl_timer_cb;
	c->curl_timer.arg = c;

	/* Reference-counted by libcurl; thread-safe in libcurl >= 7.84. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(c);
		return -EIO;
	}
	c->multi = curl_multi_init();
	if (!c->multi) {
		curl_global_cleanup();
		free(c);
		return -EIO;
	}
	r = 0;
	r |= (int)curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	r |= (int)curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	r |= (int)curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
	r |= (int)curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	if (r) {
		curl_multi_cleanup(c->multi);
		curl_global_cleanup();
		free(c);
		return -EIO;
	}
	*cp = c;
	return 0;
}

size_t bt_trk_active(const struct bt_trk_client *c)
{
	return c->nqueued + c->nrunning;
}

static void arm_sweep(struct bt_trk_client *c)
{
	if (!bt_timer_armed(&c->sweep))
		bt_timer_arm(c->l, &c->sweep, 0);
}

static void free_priv(struct bt_trk_priv *p)
{
	free(p->get_url);
	free(p->body);
	free(p->hdr);
	free(p);
}

/* DNS lookups still running when their request ended: freed once done. */
static void sweep_zombies(struct bt_trk_client *c, bool final)
{
	struct bt_trk_priv **pp = &c->zombies, *p;

	while ((p = *pp) != NULL) {
		int e = gai_error(&p->gai);
		if (e == EAI_INPROGRESS && final && gai_cancel(&p->gai) == EAI_CANCELED)
			e = EAI_CANCELED;
		if (e == EAI_INPROGRESS) {
			if (final) {
				/* glibc still owns it: leaking it is the only
				 * safe choice at exit. */
				*pp = p->next_dead;
				continue;
			}
			pp = &p->next_dead;
			continue;
		}
		if (e == 0 && p->gai.ar_result)
			freeaddrinfo(p->gai.ar_result);
		*pp = p->next_dead;
		free_priv(p);
	}
}

static void sweep_cb(struct bt_loop *l, struct bt_timer *t)
{
	struct bt_trk_client *c = t->arg;
	struct bt_trk_priv *p;
	struct csock *s;

	(void)l;
	while ((p = c->dead) != NULL) {
		c->dead = p->next_dead;
		free_priv(p);
	}
	while ((s = c->dead_socks) != NULL) {
		c->dead_socks = s->next;
		free(s);
	}
	sweep_zombies(c, false);
	if (c->zombies)
		bt_timer_arm(c->l, &c->sweep, 100000);
}

static void unqueue(struct bt_trk_client *c, struct bt_trk_req *r)
{
	struct bt_trk_req **pp;

	for (pp = &c->qhead; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	c->qtail = NULL;
	for (pp = &c->qhead; *pp; pp = &(*pp)->next)
		c->qtail = *pp;
	r->next = NULL;
	r->queued = false;
	c->nqueued--;
}

/* ---- UDP endpoint cache ------------------------------------------------ */

static struct udp_ep *ep_get(struct bt_trk_client *c, const struct sockaddr_storage *sa,
			     socklen_t salen)
{
	struct udp_ep *e;

	for (e = c->eps; e; e = e->next)
		if (e->salen == salen && memcmp(&e->sa, sa, salen) == 0)
			return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	memcpy(&e->sa, sa, salen);
	e->salen = salen;
	e->next = c->eps;
	c->eps = e;
	return e;
}

static void ep_unwait(struct bt_trk_priv *p)
{
	struct bt_trk_priv **pp;

	if (!p->ep)
		return;
	for (pp = &p->ep->waiters; *pp; pp = &(*pp)->next_wait) {
		if (*pp == p) {
			*pp = p->next_wait;
			break;
		}
	}
	p->next_wait = NULL;
}

static void udp_send_connect(struct bt_trk_priv *p);
static void udp_send_request(struct bt_trk_priv *p, bool reused);

/* The connector left (done, failed, cancelled) without an id: the first
 * waiter connects for itself and the rest keep waiting on it. */
static void ep_promote_waiter(struct udp_ep *e)
{
	struct bt_trk_priv *w = e->waiters;

	if (!w)
		return;
	e->waiters = w->next_wait;
	w->next_wait = NULL;
	e->connector = w;
	udp_send_connect(w);
}

/* ---- teardown and completion ------------------------------------------ */

static void teardown(struct bt_trk_priv *p)
{
	struct bt_trk_client *c = p->c;
	struct bt_trk_req *r = p->r;
	struct udp_ep *ep = p->ep;

	bt_timer_stop(c->l, &p->deadline);
	bt_timer_stop(c->l, &p->soon);
	bt_timer_stop(c->l, &p->rtx);
	if (p->easy) {
		curl_multi_remove_handle(c->multi, p->easy);
		curl_easy_cleanup(p->easy);
		p->easy = NULL;
	}
	if (p->io_on) {
		bt_io_del(c->l, &p->io);
		p->io_on = false;
	}
	if (p->io.fd >= 0) {
		close(p->io.fd);
		p->io.fd = -1;
	}
	if (ep)
		ep_unwait(p);
	/* Out of the running list. */
	if (p->prev_run)
		p->prev_run->next_run = p->next_run;
	else
		c->running = p->next_run;
	if (p->next_run)
		p->next_run->prev_run = p->prev_run;
	p->prev_run = p->next_run = NULL;
	c->nrunning--;
	r->running = false;
	r->priv = NULL;
	p->r = NULL;
	p->phase = PH_DONE;
	if (p->gai_on && gai_error(&p->gai) == EAI_INPROGRESS &&
	    gai_cancel(&p->gai) != EAI_CANCELED) {
		p->next_dead = c->zombies;
		c->zombies = p;
	} else {
		if (p->gai_on && gai_error(&p->gai) == 0 && p->gai.ar_result)
			freeaddrinfo(p->gai.ar_result);
		p->next_dead = c->dead;
		c->dead = p;
	}
	arm_sweep(c);
	p->ep = NULL;
	/* Last, as it may start (and even end) another request. */
	if (ep && ep->connector == p) {
		ep->connector = NULL;
		if (!c->closing)
			ep_promote_waiter(ep);
	}
}

static void finish(struct bt_trk_priv *p)
{
	struct bt_trk_client *c = p->c;
	struct bt_trk_req *r = p->r;

	if (p->phase != PH_HTTP && r->t.total_us < 0)
		r->t.total_us = (int64_t)(bt_now_us() - p->start_us);
	teardown(p);
	if (r->done)
		r->done(r);
	pump(c);
}

static void soon_cb(struct bt_loop *l, struct bt_timer *t)
{
	(void)l;
	finish(t->arg);
}

/* A failure found while starting: done must not run inside bt_trk_start. */
static void fail_soon(struct bt_trk_priv *p)
{
	p->soon.cb = soon_cb;
	p->soon.arg = p;
	if (bt_timer_arm(p->c->l, &p->soon, 0) != 0) {
		/* No memory for the timer heap: the deadline timer is
		 * already armed (or not): fall back to it. */
		return;
	}
}

void bt_trk_cancel(struct bt_trk_req *r)
{
	struct bt_trk_client *c = r->client;

	if (!c)
		return;
	if (r->queued) {
		unqueue(c, r);
		free(r->priv);
		r->priv = NULL;
	} else if (r->running && r->priv)
		teardown(r->priv);
}

void bt_trk_client_free(struct bt_trk_client *c)
{
	struct udp_ep *e;
	struct csock *s;

	if (!c)
		return;
	c->closing = true;
	while (c->qhead)
		bt_trk_cancel(c->qhead);
	while (c->running)
		teardown(c->running);
	curl_multi_cleanup(c->multi);
	bt_timer_stop(c->l, &c->curl_timer);
	bt_timer_stop(c->l, &c->sweep);
	sweep_cb(c->l, &c->sweep);
	bt_timer_stop(c->l, &c->sweep);
	sweep_zombies(c, true);
	while ((s = c->socks) != NULL) {
		c->socks = s->next;
		bt_io_del(c->l, &s->io);
		free(s);
	}
	while ((e = c->eps) != NULL) {
		c->eps = e->next;
		free(e);
	}
	curl_global_cleanup();
	free(c);
}

/* ---- HTTP through libcurl ---------------------------------------------- */

static struct csock *csock_find(struct bt_trk_client *c, curl_socket_t fd)
{
	struct csock *s;

	for (s = c->socks; s; s = s->next)
		if (s->io.fd == fd)
			return s;
	return NULL;
}

static void csock_retire(struct bt_trk_client *c, struct csock *s)
{
	struct csock **pp;

	for (pp = &c->socks; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	bt_io_del(c->l, &s->io);
	s->dead = true;
	s->next = c->dead_socks;
	c->dead_socks = s;
	arm_sweep(c);
}

static void check_done(struct bt_trk_client *c);

static void csock_io(struct bt_loop *l, struct bt_io *io, unsigned ev)
{
	struct csock *s = io->arg;
	struct bt_trk_client *c = s->c;
	int flags = 0, running;

	(void)l;
	if (s->dead)
		return;
	if (ev & BT_IO_IN)
		flags |= CURL_CSELECT_IN;
	if (ev & BT_IO_OUT)
		flags |= CURL_CSELECT_OUT;
	if (ev & BT_IO_ERR)
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(c->multi, io->fd, flags, &running);
	check_done(c);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct bt_trk_client *c = userp;
	struct csock *s = socketp;
	unsigned want = 0;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (s && !s->dead)
			csock_retire(c, s);
		curl_multi_assign(c->multi, fd, NULL);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		want |= BT_IO_IN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		want |= BT_IO_OUT;
	if (s && !s->dead) {
		bt_io_mod(c->l, &s->io, want);
		return 0;
	}
	/* A descriptor number we still track belongs to a closed socket. */
	if ((s = csock_find(c, fd)) != NULL)
		csock_retire(c, s);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->c = c;
	s->io.fd = fd;
	s->io.want = want;
	s->io.cb = csock_io;
	s->io.arg = s;
	if (bt_io_add(c->l, &s->io) != 0) {
		free(s);
		return -1;
	}
	s->next = c->socks;
	c->socks = s;
	curl_multi_assign(c->multi, fd, s);
	return 0;
}

/* libcurl normally says CURL_POLL_REMOVE before it closes; this makes
 * sure no closed descriptor stays registered with the loop. */
static int close_cb(void *clientp, curl_socket_t fd)
{
	struct bt_trk_client *c = clientp;
	struct csock *s = csock_find(c, fd);

	if (s)
		csock_retire(c, s);
	return close(fd);
}

static int timer_fn(CURLM *m, long timeout_ms, void *userp)
{
	struct bt_trk_client *c = userp;

	(void)m;
	if (timeout_ms < 0)
		bt_timer_stop(c->l, &c->curl_timer);
	else if (bt_timer_arm(c->l, &c->curl_timer, (uint64_t)timeout_ms * 1000u) != 0)
		return -1;
	return 0;
}

static void curl_timer_cb(struct bt_loop *l, struct bt_timer *t)
{
	struct bt_trk_client *c = t->arg;
	int running;

	(void)l;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct bt_trk_priv *p = ud;
	size_t n = size * nmemb, cap;
	uint8_t *b;

	if (n > p->c->o.max_body - p->body_len) {
		p->too_big = true;
		return 0; /* CURLE_WRITE_ERROR */
	}
	if (p->body_len + n > p->body_cap) {
		cap = p->body_cap ? p->body_cap : 4096;
		while (cap < p->body_len + n)
			cap *= 2;
		if (cap > p->c->o.max_body)
			cap = p->c->o.max_body;
		b = realloc(p->body, cap);
		if (!b)
			return 0;
		p->body = b;
		p->body_cap = cap;
	}
	memcpy(p->body + p->body_len, ptr, n);
	p->body_len += n;
	return n;
}

/* Header lines of the last response (each redirect starts a new block). */
static size_t header_cb(char *ptr, size_t size, size_t nitems, void *ud)
{
	struct bt_trk_priv *p = ud;
	size_t n = size * nitems, k;

	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		p->hdr_len = 0;
		k = n;
		while (k && (ptr[k - 1] == '\r' || ptr[k - 1] == '\n'))
			k--;
		bt_escape_text(ptr, k, p->status_line, sizeof p->status_line);
	}
	if (!p->hdr) {
		p->hdr = malloc(HDR_CAP + 1);
		if (!p->hdr)
			return n;
	}
	k = n < HDR_CAP - p->hdr_len ? n : HDR_CAP - p->hdr_len;
	memcpy(p->hdr + p->hdr_len, ptr, k);
	p->hdr_len += k;
	p->hdr[p->hdr_len] = '\0';
	return n;
}

static bool set_opts(struct bt_trk_priv *p, uint64_t left_us)
{
	const struct bt_trk_opts *o = &p->c->o;
	CURL *e = p->easy;
	long ms = (long)((left_us + 999) / 1000);
	int r = 0;

	r |= (int)curl_easy_setopt(e, CURLOPT_URL, p->get_url);
	r |= (int)curl_easy_setopt(e, CURLOPT_PRIVATE, p);
	r |= (int)curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	r |= (int)curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	r |= (int)curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	r |= (int)curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)o->max_redirects);
	r |= (int)curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	r |= (int)curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
	r |= (int)curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
	r |= (int)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	r |= (int)curl_easy_setopt(e, CURLOPT_PROXY, "");
	r |= (int)curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
	r |= (int)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	r |= (int)curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
	r |= (int)curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	r |= (int)curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
	r |= (int)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
	r |= (int)curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
	r |= (int)curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_cb);
	r |= (int)curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, p->c);
	if (o->cacert)
		r |= (int)curl_easy_setopt(e, CURLOPT_CAINFO, o->cacert);
	if (o->insecure) {
		r |= (int)curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		r |= (int)curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return r == 0;
}

static void deadline_cb(struct bt_loop *l, struct bt_timer *t);

static void http_launch(struct bt_trk_priv *p)
{
	struct bt_trk_req *r = p->r;
	struct bt_trk_client *c = p->c;
	const uint8_t (*h)[20] = NULL;
	struct bt_trk_err e;
	size_t need = 0, n = 0;
	int rc;

	p->phase = PH_HTTP;
	if (r->kind == BT_TRK_SCRAPE) {
		h = scrape_hashes(r, &n);
		bt_trk_scrape_url(r->url, r->url_len, h, n, NULL, 0, &need, &e);
	} else {
		rc = bt_trk_announce_url(&r->ann, r->url, r->url_len, NULL, 0, &need, &e);
		if (rc != BT_ENOSPC) {
			setmsg(r, BT_TRKF_ARG, "bad announce parameters: %s", e.rule);
			fail_soon(p);
			return;
		}
	}
	p->get_url = malloc(need + 1);
	if (!p->get_url) {
		setmsg(r, BT_TRKF_LOCAL, "out of memory");
		fail_soon(p);
		return;
	}
	if (r->kind == BT_TRK_SCRAPE)
		rc = bt_trk_scrape_url(r->url, r->url_len, h, n, p->get_url, need + 1, NULL, &e);
	else
		rc = bt_trk_announce_url(&r->ann, r->url, r->url_len, p->get_url, need + 1,
					 NULL, &e);
	if (rc != BT_OK) {
		/* The URL parsed already, so this is "cannot scrape: ...". */
		setmsg(r, BT_TRKF_ARG, "%s", e.rule);
		fail_soon(p);
		return;
	}
	p->easy = curl_easy_init();
	if (!p->easy || !set_opts(p, c->o.timeout_us)) {
		setmsg(r, BT_TRKF_LOCAL, "libcurl refused the request settings");
		fail_soon(p);
		return;
	}
	if (curl_multi_add_handle(c->multi, p->easy) != CURLM_OK) {
		curl_easy_cleanup(p->easy);
		p->easy = NULL;
		setmsg(r, BT_TRKF_LOCAL, "libcurl: cannot add the request");
		fail_soon(p);
		return;
	}
	/* libcurl enforces the timeout; ours only guards against a stall. */
	bt_timer_arm_at(c->l, &p->deadline, p->deadline_us + HTTP_GRACE_US);
}

static int64_t curl_us(CURL *e, CURLINFO what)
{
	curl_off_t v = 0;

	if (curl_easy_getinfo(e, what, &v) != CURLE_OK)
		return 0;
	return (int64_t)v;
}

static void http_timings(struct bt_trk_priv *p)
{
	struct bt_trk_timing *t = &p->r->t;
	int64_t nl = curl_us(p->easy, CURLINFO_NAMELOOKUP_TIME_T);
	int64_t co = curl_us(p->easy, CURLINFO_CONNECT_TIME_T);
	int64_t ap = curl_us(p->easy, CURLINFO_APPCONNECT_TIME_T);
	int64_t pre = curl_us(p->easy, CURLINFO_PRETRANSFER_TIME_T);
	int64_t st = curl_us(p->easy, CURLINFO_STARTTRANSFER_TIME_T);
	int64_t tot = curl_us(p->easy, CURLINFO_TOTAL_TIME_T);
	long nconn = 0, redirs = 0;

	curl_easy_getinfo(p->easy, CURLINFO_NUM_CONNECTS, &nconn);
	curl_easy_getinfo(p->easy, CURLINFO_REDIRECT_COUNT, &redirs);
	t->redirects = (unsigned)redirs;
	t->tcp_reused = nconn == 0 && pre > 0;
	t->dns_us = nl > 0 || co > 0 ? nl : -1;
	t->connect_us = co > 0 ? co - nl : -1;
	t->tls_us = p->url.scheme == BT_URL_HTTPS && ap > 0 ? ap - co : -1;
	t->first_byte_us = st > 0 && pre > 0 ? st - pre : -1;
	t->total_us = tot > 0 ? tot : (int64_t)(bt_now_us() - p->start_us);
}

/* `"first bytes of the body"` (escaped, quoted) for an HTTP error. */
static void body_excerpt(const uint8_t *b, size_t n, char *dst, size_t cap)
{
	char tmp[EXCERPT * 4 + 8];
	size_t k = n < EXCERPT ? n : EXCERPT;

	if (n == 0) {
		snprintf(dst, cap, "empty body");
		return;
	}
	bt_escape_text(b, k, tmp, sizeof tmp);
	snprintf(dst, cap, "\"%s\"%s", tmp, k < n ? "..." : "");
}

static void rule_msg(struct bt_trk_req *r, int fail, const char *what,
		     const struct bt_trk_err *e)
{
	if (e->value)
		setmsg(r, fail, "%s: %s at offset %zu (got %" PRIu64 ")", what, e->rule,
		       e->off, e->value);
	else
		setmsg(r, fail, "%s: %s at offset %zu", what, e->rule, e->off);
}

static void set_failure(struct bt_trk_req *r, const char *what,
			const uint8_t *p, size_t n)
{
	char tmp[BT_TRK_MSG_LEN];

	r->failure = p;
	r->failure_len = n;
	bt_escape_text(p, n, tmp, sizeof tmp - 40);
	setmsg(r, BT_TRKF_FAILURE, "%s: %s", what, tmp);
}

static size_t ntoks_for(size_t len)
{
	size_t n = bt_be_max_tokens(len);
	return n < MAX_TOKENS ? n : MAX_TOKENS;
}

/* Parse r->raw as an announce answer into r (peers sized by what the
 * body can hold: a compact peer takes 6 bytes, any other form more). */
static int parse_announce_body(struct bt_trk_req *r, struct bt_trk_err *e)
{
	size_t cap = r->raw_len / 6 + 1;

	if (cap > BT_TRK_MAX_PEERS + 1)
		cap = BT_TRK_MAX_PEERS + 1;
	r->toks = malloc(ntoks_for(r->raw_len) * sizeof(*r->toks));
	r->peers = calloc(cap, sizeof(*r->peers));
	r->info = calloc(cap, sizeof(*r->info));
	if (!r->toks || !r->peers || !r->info)
		return BT_ENOSPC;
	return bt_trk_parse_announce(&r->resp, r->raw, r->raw_len, r->toks,
				     ntoks_for(r->raw_len), r->peers, r->info, cap, e);
}

static int parse_scrape_body(struct bt_trk_req *r, struct bt_trk_err *e)
{
	struct bt_trk_scrape_resp *sr = &r->scrape;
	struct bt_trk_scrape_entry ent;
	size_t it = 0;
	int rc;

	r->toks = malloc(ntoks_for(r->raw_len) * sizeof(*r->toks));
	if (!r->toks)
		return BT_ENOSPC;
	rc = bt_trk_parse_scrape(sr, r->raw, r->raw_len, r->toks, ntoks_for(r->raw_len), e);
	if (rc != BT_OK)
		return rc;
	r->resp.failure = sr->failure;
	r->resp.failure_len = sr->failure_len;
	r->resp.tolerated = sr->tolerated;
	r->resp.trailing = sr->trailing;
	if (sr->nfiles) {
		r->files = calloc(sr->nfiles, sizeof(*r->files));
		if (!r->files)
			return BT_ENOSPC;
	}
	while (r->nfiles < sr->nfiles && bt_trk_scrape_next(sr, &it, &ent))
		r->files[r->nfiles++] = ent;
	return BT_OK;
}

static void http_fail_curl(struct bt_trk_priv *p, CURLcode code)
{
	struct bt_trk_req *r = p->r;
	const char *eb = p->errbuf[0] ? p->errbuf : curl_easy_strerror(code);
	char b[32], eesc[CURL_ERROR_SIZE * 4];
	int64_t co = curl_us(p->easy, CURLINFO_CONNECT_TIME_T);
	int64_t st = curl_us(p->easy, CURLINFO_STARTTRANSFER_TIME_T);

	/* errbuf can hold bytes from the server (a Location header). */
	bt_escape_text(eb, strlen(eb), eesc, sizeof eesc);
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
		setmsg(r, BT_TRKF_DNS, "cannot resolve host: %s", eesc);
		break;
	case CURLE_COULDNT_CONNECT:
		setmsg(r, BT_TRKF_CONNECT, "cannot connect: %s", eesc);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		if (co == 0)
			setmsg(r, BT_TRKF_TIMEOUT, "timed out after %s connecting",
			       secs(p->c->o.timeout_us, b, sizeof b));
		else if (st == 0)
			setmsg(r, BT_TRKF_TIMEOUT, "timed out after %s waiting for the response",
			       secs(p->c->o.timeout_us, b, sizeof b));
		else
			setmsg(r, BT_TRKF_TIMEOUT,
			       "timed out after %s receiving the body (%zu bytes so far)",
			       secs(p->c->o.timeout_us, b, sizeof b), p->body_len);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		setmsg(r, BT_TRKF_TLS, "TLS certificate rejected: %s", eesc);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		setmsg(r, BT_TRKF_TLS, "TLS failed: %s", eesc);
		break;
	case CURLE_TOO_MANY_REDIRECTS:
		setmsg(r, BT_TRKF_REDIRECT, "too many redirects (more than %u)",
		       p->c->o.max_redirects);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		setmsg(r, BT_TRKF_REDIRECT, "redirect refused: %s", eesc);
		break;
	case CURLE_FILESIZE_EXCEEDED:
		setmsg(r, BT_TRKF_TOOBIG, "body larger than %zu bytes (Content-Length)",
		       p->c->o.max_body);
		break;
	case CURLE_WRITE_ERROR:
		if (p->too_big)
			setmsg(r, BT_TRKF_TOOBIG, "body larger than %zu bytes",
			       p->c->o.max_body);
		else
			setmsg(r, BT_TRKF_LOCAL, "out of memory for the body");
		break;
	case CURLE_GOT_NOTHING:
		setmsg(r, BT_TRKF_HTTP, "empty reply: the tracker closed the connection "
		       "without a response");
		break;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		setmsg(r, BT_TRKF_CONNECT, "connection broken: %s", eesc);
		break;
	case CURLE_OUT_OF_MEMORY:
		setmsg(r, BT_TRKF_LOCAL, "out of memory");
		break;
	default:
		setmsg(r, BT_TRKF_HTTP, "%s", eesc);
		break;
	}
}

static void http_done(struct bt_trk_priv *p, CURLcode code)
{
	struct bt_trk_req *r = p->r;
	struct bt_trk_err e;
	char *eff = NULL, ex[EXCERPT * 4 + 16];
	long status = 0;
	int rc;

	http_timings(p);
	curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
	r->http_status = status;
	if (curl_easy_getinfo(p->easy, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff)
		r->effective_url = strdup(eff);
	r->raw = p->body;
	r->raw_len = p->body_len;
	p->body = NULL;
	p->body_len = p->body_cap = 0;
	r->headers = p->hdr;
	r->headers_len = p->hdr_len;
	p->hdr = NULL;

	if (code != CURLE_OK) {
		http_fail_curl(p, code);
		finish(p);
		return;
	}
	if (status != 200) {
		/* Trackers often explain a 4xx in a bencoded failure reason. */
		memset(&r->resp, 0, sizeof r->resp);
		rc = parse_announce_body(r, &e);
		if (rc == BT_OK && r->resp.failure) {
			r->failure = r->resp.failure;
			r->failure_len = r->resp.failure_len;
			bt_escape_text(r->failure, r->failure_len, ex, sizeof ex);
			setmsg(r, BT_TRKF_HTTP, "%s: failure reason: %s",
			       p->status_line[0] ? p->status_line : "HTTP", ex);
		} else {
			body_excerpt(r->raw, r->raw_len, ex, sizeof ex);
			setmsg(r, BT_TRKF_HTTP, "%s: %s",
			       p->status_line[0] ? p->status_line : "HTTP", ex);
		}
		memset(&r->resp, 0, sizeof r->resp);
		r->resp.nstored = 0;
		finish(p);
		return;
	}
	memset(&e, 0, sizeof e);
	rc = r->kind == BT_TRK_SCRAPE ? parse_scrape_body(r, &e) : parse_announce_body(r, &e);
	if (rc != BT_OK) {
		r->perr = e;
		if (!e.rule) {
			setmsg(r, BT_TRKF_LOCAL, "out of memory parsing the body");
		} else {
			rule_msg(r, rc == BT_ETOOBIG ? BT_TRKF_TOOBIG : BT_TRKF_BODY,
				 r->kind == BT_TRK_SCRAPE ? "bad scrape response" :
				 "bad announce response", &e);
		}
		if (r->kind != BT_TRK_SCRAPE)
			r->resp.nstored = 0;
	} else if (r->resp.failure) {
		set_failure(r, "failure reason", r->resp.failure, r->resp.failure_len);
	}
	finish(p);
}

static void check_done(struct bt_trk_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct bt_trk_priv *p = NULL;
		CURL *e = m->easy_handle;
		CURLcode code = m->data.result;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&p);
		if (p && p->easy == e && p->phase == PH_HTTP)
			http_done(p, code);
	}
}

/* ---- UDP --------------------------------------------------------------- */

static void udp_io(struct bt_loop *l, struct bt_io *io, unsigned ev);

static void rtx_cb(struct bt_loop *l, struct bt_timer *t)
{
	struct bt_trk_priv *p = t->arg;

	(void)l;
	p->r->t.retries++;
	if (p->phase == PH_CONNECT)
		udp_send_connect(p);
	else if (p->phase == PH_REQUEST)
		udp_send_request(p, p->r->t.conn_id_reused);
}

/* Send p->pkt; arm the retransmission (BEP 15 back-off, scaled). */
static void udp_transmit(struct bt_trk_priv *p)
{
	struct bt_trk_client *c = p->c;
	struct bt_trk_req *r = p->r;
	uint64_t now = bt_now_us(), wait;
	ssize_t n;

	if (!r->raw_sent)
		r->raw_sent = malloc(UDP_PKT_CAP);
	if (r->raw_sent) {
		memcpy(r->raw_sent, p->pkt, p->pkt_len);
		r->raw_sent_len = p->pkt_len;
	}
	n = send(p->io.fd, p->pkt, p->pkt_len, 0);
	if (n < 0 && errno == ECONNREFUSED) {
		setmsg(r, BT_TRKF_CONNECT, "UDP port unreachable (ICMP: connection refused)");
		finish(p);
		return;
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
		setmsg(r, BT_TRKF_CONNECT, "UDP send: %s", strerror(errno));
		finish(p);
		return;
	}
	p->sent_us = now;
	p->attempts++;
	if (p->attempts > (unsigned)c->o.retries)
		return; /* last send: the deadline decides */
	wait = c->base_us << (p->attempts - 1);
	if (now + wait < p->deadline_us) {
		p->rtx.cb = rtx_cb;
		p->rtx.arg = p;
		bt_timer_arm_at(c->l, &p->rtx, now + wait);
	}
}

static void udp_send_connect(struct bt_trk_priv *p)
{
	struct bt_wr w;

	if (p->phase != PH_CONNECT) {
		p->phase = PH_CONNECT;
		p->tid = random_u32();
		p->attempts = 0;
	}
	bt_wr_init(&w, p->pkt, sizeof p->pkt);
	bt_udp_connect_req(&w, p->tid);
	p->pkt_len = w.len;
	udp_transmit(p);
}

static void udp_send_request(struct bt_trk_priv *p, bool reused)
{
	struct bt_trk_req *r = p->r;
	struct bt_wr w;
	int rc;

	if (p->phase != PH_REQUEST) {
		if (p->phase == PH_CONNECT) {
			p->old_tid = p->tid;
			p->have_old_tid = true;
		}
		p->phase = PH_REQUEST;
		p->tid = random_u32();
		p->attempts = 0;
		r->t.conn_id_reused = reused;
	}
	bt_wr_init(&w, p->pkt, sizeof p->pkt);
	if (r->kind == BT_TRK_SCRAPE) {
		size_t n;
		const uint8_t (*h)[20] = scrape_hashes(r, &n);
		rc = bt_udp_scrape_req(&w, p->conn_id, p->tid, h, n);
	} else {
		struct bt_udp_announce a;
		memset(&a, 0, sizeof a);
		a.connection_id = p->conn_id;
		a.transaction_id = p->tid;
		memcpy(a.info_hash, r->ann.info_hash, 20);
		memcpy(a.peer_id, r->ann.peer_id, 20);
		a.downloaded = r->ann.downloaded;
		a.left = r->ann.left;
		a.uploaded = r->ann.uploaded;
		a.event = (uint32_t)r->ann.event;
		a.ip = r->udp_ip;
		a.key = r->udp_key;
		a.num_want = r->ann.numwant;
		a.port = r->ann.port;
		/* BEP 41: tell the tracker the path and query it was given. */
		a.url_data_set = true;
		a.url_data = p->url.target;
		a.url_data_len = p->url.target_len;
		rc = bt_udp_announce_req(&w, &a);
	}
	if (rc != BT_OK || !bt_wr_ok(&w)) {
		setmsg(r, BT_TRKF_ARG, "cannot build the UDP %s request",
		       r->kind == BT_TRK_SCRAPE ? "scrape" : "announce");
		finish(p);
		return;
	}
	p->pkt_len = w.len;
	udp_transmit(p);
}

/* Start the exchange on a resolved address. */
static void udp_have_addr(struct bt_trk_priv *p)
{
	struct bt_trk_client *c = p->c;
	struct bt_trk_req *r = p->r;
	struct udp_ep *e;
	int fd;

	fd = socket(p->sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		setmsg(r, BT_TRKF_LOCAL, "UDP socket: %s", strerror(errno));
		finish(p);
		return;
	}
	p->io.fd = fd;
	if (connect(fd, (struct sockaddr *)&p->sa, p->salen) != 0) {
		setmsg(r, BT_TRKF_CONNECT, "UDP connect: %s", strerror(errno));
		finish(p);
		return;
	}
	p->io.want = BT_IO_IN;
	p->io.cb = udp_io;
	p->io.arg = p;
	if (bt_io_add(c->l, &p->io) != 0) {
		setmsg(r, BT_TRKF_LOCAL, "cannot watch the UDP socket");
		finish(p);
		return;
	}
	p->io_on = true;
	e = ep_get(c, &p->sa, p->salen);
	if (!e) {
		setmsg(r, BT_TRKF_LOCAL, "out of memory");
		finish(p);
		return;
	}
	p->ep = e;
	if (e->have_id && bt_udp_conn_id_fresh(e->got_us / 1000u, bt_now_us() / 1000u)) {
		p->conn_id = e->conn_id;
		udp_send_request(p, true);
	} else if (e->connector) {
		p->phase = PH_WAIT_CONN;
		p->next_wait = e->waiters;
		e->waiters = p;
	} else {
		e->have_id = false;
		e->connector = p;
		udp_send_connect(p);
	}
}

static void dns_poll_cb(struct bt_loop *l, struct bt_timer *t)
{
	struct bt_trk_priv *p = t->arg;
	struct bt_trk_req *r = p->r;
	struct addrinfo *ai;
	char h[BT_URL_MAX_HOST * 4 + 8];
	int e = gai_error(&p->gai);

	(void)l;
	if (e == EAI_INPROGRESS) {
		if (p->gai_poll_us < DNS_POLL_MAX_US)
			p->gai_poll_us *= 2;
		bt_timer_arm(p->c->l, &p->soon, p->gai_poll_us);
		return;
	}
	r->t.dns_us = (int64_t)(bt_now_us() - p->start_us);
	if (e != 0 || !p->gai.ar_result) {
		bt_escape_text(p->host, strlen(p->host), h, sizeof h);
		setmsg(r, BT_TRKF_DNS, "cannot resolve host %s: %s", h,
		       e ? gai_strerror(e) : "no address");
		finish(p);
		return;
	}
	ai = p->gai.ar_result;
	memcpy(&p->sa, ai->ai_addr, ai->ai_addrlen);
	p->salen = ai->ai_addrlen;
	p->family = ai->ai_family == AF_INET6 ? 6 : 4;
	freeaddrinfo(ai);
	p->gai.ar_result = NULL;
	p->gai_on = false;
	udp_have_addr(p);
}

static void udp_launch(struct bt_trk_priv *p)
{
	struct bt_trk_req *r = p->r;
	struct bt_trk_client *c = p->c;
	const struct bt_url *u = &p->url;
	int e;

	if (r->kind == BT_TRK_SCRAPE && r->nhashes > BT_UDP_SCRAPE_MAX) {
		setmsg(r, BT_TRKF_ARG, "a UDP scrape takes at most %d info-hashes (BEP 15)",
		       BT_UDP_SCRAPE_MAX);
		fail_soon(p);
		return;
	}
	if (r->kind == BT_TRK_SCRAPE && r->hashes && r->nhashes == 0) {
		setmsg(r, BT_TRKF_ARG, "a UDP scrape needs at least one info-hash");
		fail_soon(p);
		return;
	}
	p->io.fd = -1;
	bt_timer_arm_at(c->l, &p->deadline, p->deadline_us);
	if (u->host_family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&p->sa;
		memset(&p->sa, 0, sizeof p->sa);
		s4->sin_family = AF_INET;
		s4->sin_port = htons(u->port);
		memcpy(&s4->sin_addr, u->ip, 4);
		p->salen = sizeof(*s4);
		p->family = 4;
		udp_have_addr(p);
		return;
	}
	if (u->host_family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->sa;
		memset(&p->sa, 0, sizeof p->sa);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(u->port);
		memcpy(&s6->sin6_addr, u->ip, 16);
		p->salen = sizeof(*s6);
		p->family = 6;
		udp_have_addr(p);
		return;
	}
	p->phase = PH_DNS;
	memcpy(p->host, u->host, u->host_len);
	p->host[u->host_len] = '\0';
	snprintf(p->port, sizeof p->port, "%u", (unsigned)u->port);
	p->hints.ai_family = AF_UNSPEC;
	p->hints.ai_socktype = SOCK_DGRAM;
	p->gai.ar_name = p->host;
	p->gai.ar_service = p->port;
	p->gai.ar_request = &p->hints;
	p->gai_list[0] = &p->gai;
	e = getaddrinfo_a(GAI_NOWAIT, p->gai_list, 1, NULL);
	if (e != 0) {
		setmsg(r, BT_TRKF_DNS, "cannot start resolving: %s", gai_strerror(e));
		fail_soon(p);
		return;
	}
	p->gai_on = true;
	p->gai_poll_us = 250;
	p->soon.cb = dns_poll_cb;
	p->soon.arg = p;
	bt_timer_arm(c->l, &p->soon, p->gai_poll_us);
}

static void udp_failed_packet(struct bt_trk_priv *p, const char *what, int rc,
			      const struct bt_trk_err *e, const uint8_t *pkt, size_t len)
{
	struct bt_trk_req *r = p->r;
	const uint8_t *m = NULL;
	size_t mlen = 0;
	struct bt_trk_err e2;

	if (e->problem == BT_UDP_P_ERROR &&
	    bt_udp_parse_error(pkt, len, p->tid, &m, &mlen, &e2) == BT_OK) {
		/* A reused connection id may have been refused: next time,
		 * connect afresh. */
		if (p->ep && p->phase == PH_REQUEST)
			p->ep->have_id = false;
		set_failure(r, "tracker error", m, mlen);
		return;
	}
	r->perr = *e;
	switch (e->problem) {
	case BT_UDP_P_TID:
		setmsg(r, BT_TRKF_PACKET, "bad UDP %s response: transaction id 0x%08" PRIx64
		       " differs from the one sent (0x%08" PRIx32 ")", what, e->value, p->tid);
		break;
	case BT_UDP_P_ACTION:
		setmsg(r, BT_TRKF_PACKET, "bad UDP %s response: unexpected action %" PRIu64,
		       what, e->value);
		break;
	case BT_UDP_P_SHORT:
		setmsg(r, BT_TRKF_PACKET, "bad UDP %s response: %s (got %zu bytes)", what,
		       e->rule, len);
		break;
	default:
		if (e->value)
			setmsg(r, rc == BT_ETOOBIG ? BT_TRKF_TOOBIG : BT_TRKF_PACKET,
			       "bad UDP %s response: %s (got %" PRIu64 ")", what, e->rule,
			       e->value);
		else
			setmsg(r, BT_TRKF_PACKET, "bad UDP %s response: %s", what, e->rule);
		break;
	}
}

/* The connect answer of the connector p: share the id, then go on. */
static void udp_connected(struct bt_trk_priv *p, uint64_t cid, uint64_t now)
{
	struct udp_ep *e = p->ep;
	struct bt_trk_priv *w;

	p->r->t.udp_connect_us = (int64_t)(now - p->sent_us);
	p->conn_id = cid;
	if (e) {
		e->have_id = true;
		e->conn_id = cid;
		e->got_us = now;
		e->connector = NULL;
		while ((w = e->waiters) != NULL) {
			e->waiters = w->next_wait;
			w->next_wait = NULL;
			w->conn_id = cid;
			udp_send_request(w, true);
		}
	}
	bt_timer_stop(p->c->l, &p->rtx);
	udp_send_request(p, false);
}

static void udp_packet(struct bt_trk_priv *p, const uint8_t *pkt, size_t len)
{
	struct bt_trk_req *r = p->r;
	uint64_t now = bt_now_us();
	struct bt_trk_err e;
	uint64_t cid;
	int rc;

	if (p->phase != PH_CONNECT && p->phase != PH_REQUEST)
		return; /* nothing asked on this socket yet */
	if (len >= 8 && p->have_old_tid && bt_load_u32be(pkt + 4) == p->old_tid &&
	    p->old_tid != p->tid)
		return; /* a late duplicate of the connect answer */
	free(r->raw);
	r->raw = malloc(len ? len : 1);
	if (!r->raw) {
		r->raw_len = 0;
		setmsg(r, BT_TRKF_LOCAL, "out of memory");
		finish(p);
		return;
	}
	memcpy(r->raw, pkt, len);
	r->raw_len = len;
	pkt = r->raw;
	memset(&e, 0, sizeof e);

	if (p->phase == PH_CONNECT) {
		rc = bt_udp_parse_connect(pkt, len, p->tid, &cid, &e);
		if (rc != BT_OK) {
			udp_failed_packet(p, "connect", rc, &e, pkt, len);
			finish(p);
			return;
		}
		udp_connected(p, cid, now);
		return;
	}
	r->t.udp_request_us = (int64_t)(now - p->sent_us);
	if (r->kind == BT_TRK_SCRAPE) {
		size_t nh, cnt = 0, i;
		const uint8_t (*h)[20] = scrape_hashes(r, &nh);
		struct bt_udp_scrape_entry *se = calloc(nh, sizeof(*se));
		if (!se) {
			setmsg(r, BT_TRKF_LOCAL, "out of memory");
			finish(p);
			return;
		}
		rc = bt_udp_parse_scrape(pkt, len, p->tid, se, nh, &cnt, &e);
		if (rc == BT_OK) {
			r->udp_scrape = se;
			r->udp_nscrape = cnt < nh ? cnt : nh;
			r->files = calloc(nh, sizeof(*r->files));
			if (!r->files) {
				setmsg(r, BT_TRKF_LOCAL, "out of memory");
				finish(p);
				return;
			}
			for (i = 0; i < cnt && i < nh; i++) {
				r->files[i].info_hash = h[i];
				r->files[i].complete = se[i].seeders;
				r->files[i].incomplete = se[i].leechers;
				r->files[i].downloaded = se[i].completed;
			}
			r->nfiles = i;
			if (cnt != nh)
				setmsg(r, BT_TRKF_PACKET, "bad UDP scrape response: %zu entries "
				       "for %zu info-hashes", cnt, nh);
		} else {
			free(se);
			udp_failed_packet(p, "scrape", rc, &e, pkt, len);
		}
		finish(p);
		return;
	}
	{
		struct bt_udp_announce_resp ar;
		size_t cap = len / (p->family == 6 ? 18 : 6) + 1;

		r->peers = calloc(cap, sizeof(*r->peers));
		if (!r->peers) {
			setmsg(r, BT_TRKF_LOCAL, "out of memory");
			finish(p);
			return;
		}
		memset(&ar, 0, sizeof ar);
		rc = bt_udp_parse_announce(pkt, len, p->tid, p->family, &ar, r->peers, cap, &e);
		if (rc != BT_OK) {
			udp_failed_packet(p, "announce", rc, &e, pkt, len);
			finish(p);
			return;
		}
		memset(&r->resp, 0, sizeof r->resp);
		r->resp.interval = ar.interval;
		r->resp.min_interval = BT_TRK_ABSENT;
		r->resp.complete = ar.seeders;
		r->resp.incomplete = ar.leechers;
		r->resp.downloaded = BT_TRK_ABSENT;
		r->resp.peers_form = BT_TRK_PEERS_COMPACT;
		r->resp.npeers = ar.npeers;
		r->resp.nstored = ar.nstored;
		if (p->family == 6) {
			r->resp.has_peers6 = true;
			r->resp.npeers6 = ar.npeers;
		}
		finish(p);
	}
}

static void udp_io(struct bt_loop *l, struct bt_io *io, unsigned ev)
{
	struct bt_trk_priv *p = io->arg;
	struct bt_trk_client *c;
	ssize_t n;

	(void)l;
	(void)ev;
	if (p->phase == PH_DONE || !p->r)
		return;
	c = p->c;
	for (;;) {
		n = recv(p->io.fd, c->rx, sizeof c->rx, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == ECONNREFUSED) {
				setmsg(p->r, BT_TRKF_CONNECT,
				       "UDP port unreachable (ICMP: connection refused)");
			} else {
				setmsg(p->r, BT_TRKF_CONNECT, "UDP receive: %s", strerror(errno));
			}
			finish(p);
			return;
		}
		udp_packet(p, c->rx, (size_t)n);
		if (p->phase == PH_DONE)
			return;
	}
}

/* ---- deadline ---------------------------------------------------------- */

static void deadline_cb(struct bt_loop *l, struct bt_timer *t)
{
	struct bt_trk_priv *p = t->arg;
	struct bt_trk_req *r = p->r;
	const char *what = r->kind == BT_TRK_SCRAPE ? "scrape" : "announce";
	char b[32], h[BT_URL_MAX_HOST * 4 + 8];

	(void)l;
	secs(p->c->o.timeout_us, b, sizeof b);
	switch (p->phase) {
	case PH_HTTP:
		setmsg(r, BT_TRKF_TIMEOUT, "timed out after %s", b);
		if (p->easy)
			http_timings(p);
		break;
	case PH_DNS:
		bt_escape_text(p->host, strlen(p->host), h, sizeof h);
		setmsg(r, BT_TRKF_TIMEOUT, "timed out after %s resolving %s", b, h);
		break;
	case PH_WAIT_CONN:
		setmsg(r, BT_TRKF_TIMEOUT, "no answer to the UDP connect (sent for an "
		       "earlier request to this tracker) within %s", b);
		break;
	case PH_CONNECT:
		setmsg(r, BT_TRKF_TIMEOUT, "no answer to the UDP connect after %u "
		       "attempt%s in %s", p->attempts, p->attempts == 1 ? "" : "s", b);
		break;
	case PH_REQUEST:
		setmsg(r, BT_TRKF_TIMEOUT, "no answer to the UDP %s after %u attempt%s in %s",
		       what, p->attempts, p->attempts == 1 ? "" : "s", b);
		break;
	default:
		setmsg(r, BT_TRKF_TIMEOUT, "timed out after %s", b);
		break;
	}
	finish(p);
}

/* ---- start ------------------------------------------------------------- */

static void launch(struct bt_trk_client *c, struct bt_trk_req *r)
{
	struct bt_trk_priv *p = r->priv;
	struct bt_url_err ue;
	int rc;

	r->running = true;
	c->nrunning++;
	p->next_run = c->running;
	if (c->running)
		c->running->prev_run = p;
	c->running = p;
	p->start_us = bt_now_us();
	p->deadline_us = p->start_us + c->o.timeout_us;
	p->deadline.cb = deadline_cb;
	p->deadline.arg = p;

	memset(&ue, 0, sizeof ue);
	rc = bt_url_parse(&p->url, r->url ? r->url : "", r->url ? r->url_len : 0, &ue);
	if (rc != BT_OK) {
		if (rc == BT_EUNSUPP)
			setmsg(r, BT_TRKF_ARG, "bad tracker URL: %s", ue.rule);
		else
			setmsg(r, BT_TRKF_ARG, "bad tracker URL: %s at offset %zu", ue.rule,
			       ue.off);
		fail_soon(p);
		return;
	}
	r->scheme = p->url.scheme;
	if (r->kind == BT_TRK_SCRAPE)
		r->sent = scrape_hashes(r, &r->nsent);
	if (p->url.scheme == BT_URL_UDP)
		udp_launch(p);
	else
		http_launch(p);
}

static void pump(struct bt_trk_client *c)
{
	struct bt_trk_req *r;

	while (c->qhead && (c->o.max_inflight == 0 || c->nrunning < c->o.max_inflight)) {
		r = c->qhead;
		c->qhead = r->next;
		if (!c->qhead)
			c->qtail = NULL;
		r->next = NULL;
		r->queued = false;
		c->nqueued--;
		launch(c, r);
	}
}

int bt_trk_start(struct bt_trk_client *c, struct bt_trk_req *r)
{
	struct bt_trk_priv *p;

	if (r->queued || r->running)
		return -EBUSY;
	bt_trk_req_free(r);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (r->kind == BT_TRK_SCRAPE && r->hashes && r->nhashes) {
		r->own_hashes = malloc(r->nhashes * 20);
		if (!r->own_hashes) {
			free(p);
			return -ENOMEM;
		}
		memcpy(r->own_hashes, r->hashes, r->nhashes * 20);
	}
	p->r = r;
	p->c = c;
	p->io.fd = -1;
	r->priv = p;
	r->client = c;
	r->next = NULL;
	r->queued = true;
	if (c->qtail)
		c->qtail->next = r;
	else
		c->qhead = r;
	c->qtail = r;
	c->nqueued++;
	pump(c);
	return 0;
}
