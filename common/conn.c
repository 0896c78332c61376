/* conn.c — one peer connection on bt_loop.  See conn.h. */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONNECT_TIMEOUT_US 10000000u

/* Text for event.why that depends on the connection: lives until the next
 * event of this connection (consumers copy what they keep, event.h). */
static char *why_buf(struct bt_conn *c)
{
	return c->why;
}

uint64_t bt_conn_elapsed(const struct bt_conn *c)
{
	uint64_t now = bt_now_us();

	return now > c->t0_us ? now - c->t0_us : 0;
}

size_t bt_conn_unsent(const struct bt_conn *c)
{
	return c->sq_len - c->sq_off;
}

static void emit(struct bt_conn *c, struct bt_event *ev)
{
	ev->t_us = bt_conn_elapsed(c);
	c->cfg.on_event(c, ev, c->cfg.arg);
}

static void ev_init(struct bt_event *ev, enum bt_ev_kind kind, enum bt_dir dir)
{
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	ev->dir = dir;
}

/* Drop the socket and timers; state DONE.  No event. */
static void teardown(struct bt_conn *c)
{
	if (c->io.fd >= 0) {
		bt_io_del(c->loop, &c->io);
		close(c->io.fd);
		c->io.fd = -1;
	}
	bt_timer_stop(c->loop, &c->connect_timer);
	c->state = BT_CONN_DONE;
	c->sq_off = c->sq_len = 0;
}

static void want(struct bt_conn *c, unsigned w)
{
	if (c->io.fd >= 0 && c->state != BT_CONN_DONE)
		bt_io_mod(c->loop, &c->io, w);
}

static void connect_failed(struct bt_conn *c, int err, const char *why)
{
	struct bt_event ev;

	teardown(c);
	c->err = err;
	ev_init(&ev, BT_EV_CONNECT_FAILED, BT_DIR_OUT);
	ev.err = err;
	ev.why = why;
	emit(c, &ev);
}

/* The peer's side ended: FIN (err 0) or reset / another socket error. */
static void peer_ended(struct bt_conn *c, int err)
{
	struct bt_event ev;
	size_t need = 0, have = bt_framer_partial(&c->fr, &need);

	teardown(c);
	c->in_closed = true;
	c->err = err;
	ev_init(&ev, err ? BT_EV_RESET : BT_EV_CLOSED, BT_DIR_IN);
	ev.err = err;
	ev.stream_off = c->in_bytes;
	if (have) {
		char *w = why_buf(c);
		if (need)
			snprintf(w, sizeof c->why,
				 "%zu bytes into a %zu-byte %s", have, need,
				 c->peer_hs_seen ? "message" : "handshake");
		else
			snprintf(w, sizeof c->why,
				 "%zu bytes into the header of a %s", have,
				 c->peer_hs_seen ? "message" : "handshake");
		ev.why = w;
	}
	emit(c, &ev);
}

static void flush(struct bt_conn *c)
{
	while (c->state == BT_CONN_OPEN && c->sq_off < c->sq_len) {
		ssize_t n = send(c->io.fd, c->sq + c->sq_off, c->sq_len - c->sq_off,
				 MSG_NOSIGNAL);
		if (n > 0) {
			c->sq_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			want(c, BT_IO_IN | BT_IO_OUT);
			return;
		}
		peer_ended(c, n < 0 ? errno : EPIPE);
		return;
	}
	if (c->state == BT_CONN_OPEN) {
		c->sq_off = c->sq_len = 0;
		want(c, c->in_closed ? 0 : BT_IO_IN);
	}
}

/* Append to the send queue. */
static int enqueue(struct bt_conn *c, const uint8_t *p, size_t n)
{
	size_t live = c->sq_len - c->sq_off;

	if (c->state != BT_CONN_OPEN)
		return BT_EINVAL;
	if (n > BT_CONN_SENDQ_MAX - live)
		return BT_ENOSPC;
	if (c->sq_off && c->sq_len + n > c->sq_cap) {
		memmove(c->sq, c->sq + c->sq_off, live);
		c->sq_off = 0;
		c->sq_len = live;
	}
	if (c->sq_len + n > c->sq_cap) {
		size_t cap = c->sq_cap ? c->sq_cap : 4096;
		uint8_t *q;
		while (cap < c->sq_len + n)
			cap *= 2;
		q = realloc(c->sq, cap);
		if (!q)
			return BT_ENOSPC;
		c->sq = q;
		c->sq_cap = cap;
	}
	memcpy(c->sq + c->sq_len, p, n);
	c->sq_len += n;
	return BT_OK;
}

/* Protocol state follows the messages (both directions). */
static void track(struct bt_conn *c, enum bt_dir dir, const struct bt_msg *m)
{
	bool in = dir == BT_DIR_IN;

	switch (m->kind) {
	case BT_MSG_CHOKE:          *(in ? &c->peer_choking : &c->am_choking) = true; break;
	case BT_MSG_UNCHOKE:        *(in ? &c->peer_choking : &c->am_choking) = false; break;
	case BT_MSG_INTERESTED:     *(in ? &c->peer_interested : &c->am_interested) = true; break;
	case BT_MSG_NOT_INTERESTED: *(in ? &c->peer_interested : &c->am_interested) = false; break;
	default: break;
	}
}

/* Report one whole frame of dir's stream as an event. */
static void report_frame(struct bt_conn *c, enum bt_dir dir, const uint8_t *p,
			 size_t len, uint64_t off)
{
	struct bt_event ev;
	struct bt_msg m;
	int rc = bt_msg_parse(p, len, &m);

	ev_init(&ev, rc == BT_OK ? BT_EV_MSG : BT_EV_MALFORMED, dir);
	ev.stream_off = off;
	ev.msg = &m;
	ev.raw = p;
	ev.raw_len = len;
	if (rc != BT_OK) {
		ev.err = rc;
		ev.why = m.bad;
	} else {
		track(c, dir, &m);
	}
	emit(c, &ev);
}

static void feed(struct bt_conn *c, const uint8_t *p, size_t n)
{
	while (c->state == BT_CONN_OPEN) {
		struct bt_frame fr;
		long used = bt_framer_feed(&c->fr, p, n, &fr);

		if (used < 0) {
			struct bt_event ev;
			ev_init(&ev, BT_EV_MALFORMED, BT_DIR_IN);
			ev.err = (int)used;
			ev.stream_off = fr.offset;
			ev.declared_len = fr.declared_len;
			ev.why = fr.why;
			emit(c, &ev);
			/* The stream cannot be resynchronised: stop. */
			bt_conn_close(c);
			return;
		}
		p += used;
		n -= (size_t)used;
		if (fr.kind == BT_FRAME_HANDSHAKE) {
			struct bt_event ev;
			c->peer_hs_seen = true;
			memcpy(c->peer_reserved, fr.hs.reserved, 8);
			memcpy(c->peer_info_hash, fr.hs.info_hash, 20);
			memcpy(c->peer_id, fr.hs.peer_id, 20);
			ev_init(&ev, BT_EV_HANDSHAKE, BT_DIR_IN);
			ev.stream_off = fr.offset;
			ev.hs = &fr.hs;
			ev.raw = fr.p;
			ev.raw_len = fr.len;
			emit(c, &ev);
		} else if (fr.kind == BT_FRAME_MSG) {
			report_frame(c, BT_DIR_IN, fr.p, fr.len, fr.offset);
		} else {
			return;   /* all consumed, the frame needs more */
		}
	}
}

static void on_readable(struct bt_conn *c)
{
	int i;

	for (i = 0; i < BT_CONN_READS_PER_WAKE && c->state == BT_CONN_OPEN; i++) {
		ssize_t n = recv(c->io.fd, c->rbuf, BT_CONN_READ_CHUNK, 0);
		if (n > 0) {
			c->in_bytes += (uint64_t)n;
			feed(c, c->rbuf, (size_t)n);
			continue;
		}
		if (n == 0) {
			peer_ended(c, 0);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		peer_ended(c, errno);
		return;
	}
}

static void connected(struct bt_conn *c)
{
	struct bt_event ev;

	bt_timer_stop(c->loop, &c->connect_timer);
	c->state = BT_CONN_OPEN;
	c->local_len = sizeof c->local;
	if (getsockname(c->io.fd, (struct sockaddr *)&c->local, &c->local_len) != 0)
		c->local_len = 0;
	want(c, BT_IO_IN);
	ev_init(&ev, BT_EV_CONNECTED, BT_DIR_OUT);
	emit(c, &ev);
	if (c->state == BT_CONN_OPEN)
		flush(c);
}

static int sock_error(int fd)
{
	int e = 0;
	socklen_t l = sizeof e;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) != 0)
		return errno;
	return e;
}

static void on_io(struct bt_loop *l, struct bt_io *io, unsigned events)
{
	struct bt_conn *c = io->arg;

	(void)l;
	if (c->state == BT_CONN_CONNECTING) {
		int e = sock_error(io->fd);
		if (e)
			connect_failed(c, e, NULL);
		else if (events & (BT_IO_OUT | BT_IO_ERR | BT_IO_IN))
			connected(c);
		return;
	}
	if (c->state != BT_CONN_OPEN)
		return;
	/* Read first: data that arrived before an error or hang-up is part
	 * of the timeline. */
	if (events & (BT_IO_IN | BT_IO_ERR))
		on_readable(c);
	if (c->state == BT_CONN_OPEN && (events & BT_IO_ERR)) {
		int e = sock_error(io->fd);
		if (e) {
			peer_ended(c, e);
			return;
		}
	}
	if (c->state == BT_CONN_OPEN && (events & BT_IO_OUT))
		flush(c);
}

static void on_connect_timeout(struct bt_loop *l, struct bt_timer *t)
{
	struct bt_conn *c = t->arg;
	char *w = why_buf(c);

	(void)l;
	snprintf(w, sizeof c->why, "no answer to our SYN within %llu ms",
		 (unsigned long long)(c->cfg.connect_timeout_us / 1000));
	connect_failed(c, ETIMEDOUT, w);
}

int bt_conn_init(struct bt_conn *c, struct bt_loop *l, const struct bt_conn_cfg *cfg)
{
	size_t frcap;
	sa_family_t fam = cfg->peer.ss_family;

	memset(c, 0, sizeof *c);
	c->io.fd = -1;
	if (!cfg->on_event || (fam != AF_INET && fam != AF_INET6))
		return BT_EINVAL;
	if (cfg->src_len && cfg->src.ss_family != fam)
		return BT_EINVAL;
	c->cfg = *cfg;
	if (!c->cfg.connect_timeout_us)
		c->cfg.connect_timeout_us = DEFAULT_CONNECT_TIMEOUT_US;
	if (!c->cfg.max_msg_len)
		c->cfg.max_msg_len = BT_FRAMER_DEFAULT_MAX;
	c->loop = l;
	frcap = BT_FRAMER_BUF_LEN(c->cfg.max_msg_len);
	c->frbuf = malloc(frcap);
	c->rbuf = malloc(BT_CONN_READ_CHUNK);
	if (!c->frbuf || !c->rbuf) {
		bt_conn_free(c);
		return BT_ENOSPC;
	}
	why_buf(c)[0] = 0;
	if (bt_framer_init(&c->fr, c->frbuf, frcap, c->cfg.max_msg_len, true) != BT_OK) {
		bt_conn_free(c);
		return BT_EINVAL;
	}
	c->io.cb = on_io;
	c->io.arg = c;
	c->connect_timer.cb = on_connect_timeout;
	c->connect_timer.arg = c;
	c->peer_choking = true;
	c->am_choking = true;
	return BT_OK;
}

void bt_conn_free(struct bt_conn *c)
{
	if (c->loop && c->io.fd >= 0) {
		bt_io_del(c->loop, &c->io);
		close(c->io.fd);
	}
	if (c->loop)
		bt_timer_stop(c->loop, &c->connect_timer);
	free(c->sq);
	free(c->frbuf);
	free(c->rbuf);
	memset(c, 0, sizeof *c);
	c->io.fd = -1;
}

int bt_conn_connect(struct bt_conn *c)
{
	struct bt_event ev;
	struct timespec ts;
	int fd, one = 1;

	if (c->state != BT_CONN_IDLE || !c->loop)
		return BT_EINVAL;
	c->t0_us = bt_now_us();
	clock_gettime(CLOCK_REALTIME, &ts);
	c->t0_wall_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	c->state = BT_CONN_CONNECTING;
	ev_init(&ev, BT_EV_CONNECTING, BT_DIR_OUT);
	emit(c, &ev);
	if (c->state != BT_CONN_CONNECTING)
		return BT_OK;   /* the callback closed it */

	fd = socket(c->cfg.peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		connect_failed(c, errno, "socket()");
		return BT_OK;
	}
	/* Each message leaves in its own segment when it is queued: the
	 * timings on the timeline are the protocol's, not Nagle's. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (c->cfg.src_len && bind(fd, (const struct sockaddr *)&c->cfg.src, c->cfg.src_len) != 0) {
		int e = errno;
		close(fd);
		connect_failed(c, e, "bind() to the source address");
		return BT_OK;
	}
	c->io.fd = fd;
	if (connect(fd, (const struct sockaddr *)&c->cfg.peer, c->cfg.peer_len) != 0 &&
	    errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		c->io.fd = -1;
		connect_failed(c, e, NULL);
		return BT_OK;
	}
	c->io.want = BT_IO_OUT;
	if (bt_io_add(c->loop, &c->io) != 0) {
		int e = errno;
		close(fd);
		c->io.fd = -1;
		connect_failed(c, e, "epoll");
		return BT_OK;
	}
	if (bt_timer_arm(c->loop, &c->connect_timer, c->cfg.connect_timeout_us) != 0) {
		teardown(c);
		connect_failed(c, ENOMEM, "timer");
	}
	return BT_OK;
}

/* ---- handshake ---------------------------------------------------------- */

void bt_conn_hs_default(struct bt_conn_hs *h, const uint8_t info_hash[20],
			const uint8_t peer_id[20])
{
	memset(h, 0, sizeof *h);
	memcpy(h->info_hash, info_hash, 20);
	memcpy(h->peer_id, peer_id, 20);
	h->peer_id_len = 20;
	h->pstr = BT_PSTR;
	h->pstr_len = BT_PSTR_LEN;
	h->pstrlen_byte = -1;
}

size_t bt_conn_hs_encode(const struct bt_conn_hs *h, uint8_t *out, size_t cap)
{
	struct bt_wr w;
	const char *pstr = h->pstr ? h->pstr : BT_PSTR;
	size_t plen = h->pstr ? h->pstr_len : BT_PSTR_LEN;
	size_t idlen = h->peer_id_len > 20 ? 20 : h->peer_id_len;
	uint8_t lb;

	if (plen > 255)
		plen = 255;
	lb = (uint8_t)(h->pstrlen_byte >= 0 ? h->pstrlen_byte : (int)plen);
	bt_wr_init(&w, out, cap);
	if (!h->pstrlen_after)
		bt_wr_u8(&w, lb);
	bt_wr_bytes(&w, pstr, plen);
	if (h->pstrlen_after)
		bt_wr_u8(&w, lb);
	bt_wr_bytes(&w, h->reserved, 8);
	bt_wr_bytes(&w, h->info_hash, 20);
	bt_wr_bytes(&w, h->peer_id, idlen);
	return w.len;
}

static bool pstr_caseeq(const uint8_t *p, size_t n)
{
	size_t i;

	if (n != BT_PSTR_LEN)
		return false;
	for (i = 0; i < n; i++) {
		uint8_t a = p[i], b = (uint8_t)BT_PSTR[i];
		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b + 32);
		if (a != b)
			return false;
	}
	return true;
}

int bt_conn_send_handshake(struct bt_conn *c, const struct bt_conn_hs *h)
{
	uint8_t raw[1 + 255 + 48];
	size_t n = bt_conn_hs_encode(h, raw, sizeof raw);
	struct bt_handshake hs;
	struct bt_event ev;
	long rc;
	int q;

	if (c->hs_sent)
		return BT_EINVAL;
	if ((q = enqueue(c, raw, n)) != BT_OK)
		return q;
	c->hs_sent = true;
	ev_init(&ev, BT_EV_HANDSHAKE, BT_DIR_OUT);
	ev.stream_off = c->out_bytes;
	ev.raw = raw;
	ev.raw_len = n;
	c->out_bytes += n;
	rc = bt_handshake_parse(raw, n, &hs);
	if (rc < 0 || (size_t)rc != n) {
		/* Not one complete handshake: describe what we meant to send,
		 * and say how the bytes differ from what a peer expects. */
		const char *pstr = h->pstr ? h->pstr : BT_PSTR;
		size_t plen = h->pstr ? h->pstr_len : BT_PSTR_LEN;
		size_t idlen = h->peer_id_len > 20 ? 20 : h->peer_id_len;
		size_t expect = 1 + (size_t)raw[0] + 48;
		char *w = why_buf(c);

		memset(&hs, 0, sizeof hs);
		hs.pstr = raw + (h->pstrlen_after ? 0 : 1);
		hs.pstrlen = plen > 255 ? 255 : plen;
		memcpy(hs.reserved, h->reserved, 8);
		memcpy(hs.info_hash, h->info_hash, 20);
		memcpy(hs.peer_id, h->peer_id, idlen);
		if (raw[0] != BT_PSTR_LEN)
			hs.problems |= BT_HS_BAD_PSTRLEN;
		if (plen != BT_PSTR_LEN || memcmp(pstr, BT_PSTR, BT_PSTR_LEN) != 0) {
			hs.problems |= BT_HS_BAD_PSTR;
			if (pstr_caseeq((const uint8_t *)pstr, plen))
				hs.problems |= BT_HS_PSTR_CASE;
		}
		if (n < expect)
			snprintf(w, sizeof c->why,
				 "%zu bytes, but its first byte (%u) makes a %zu-byte handshake: the peer waits for %zu more%s",
				 n, raw[0], expect, expect - n,
				 idlen < 20 ? " (peer id short)" : "");
		else
			snprintf(w, sizeof c->why,
				 "%zu bytes, but its first byte (%u) makes a %zu-byte handshake: %zu bytes too many",
				 n, raw[0], expect, n - expect);
		ev.why = w;
	}
	ev.hs = &hs;
	emit(c, &ev);
	flush(c);
	return BT_OK;
}

/* ---- messages ----------------------------------------------------------- */

int bt_conn_send_raw(struct bt_conn *c, const uint8_t *frame, size_t len)
{
	uint64_t off = c->out_bytes;
	int q;

	if (len < 4 || (uint64_t)bt_load_u32be(frame) + 4 != len)
		return BT_EINVAL;
	if ((q = enqueue(c, frame, len)) != BT_OK)
		return q;
	c->out_bytes += len;
	/* The event reads the caller's frame, not the queue (which the
	 * callback may reallocate by sending more). */
	report_frame(c, BT_DIR_OUT, frame, len, off);
	flush(c);
	return BT_OK;
}

/* Encode with f into a stack buffer, then send. */
#define SEND_SMALL(c, call) do { \
	uint8_t b_[32]; struct bt_wr w_; int r_; \
	bt_wr_init(&w_, b_, sizeof b_); \
	if ((r_ = (call)) != BT_OK) return r_; \
	return bt_conn_send_raw((c), b_, w_.len); \
} while (0)

int bt_conn_send_simple(struct bt_conn *c, uint8_t id)
{
	SEND_SMALL(c, bt_msg_put_simple(&w_, id));
}

int bt_conn_send_keepalive(struct bt_conn *c)
{
	SEND_SMALL(c, bt_msg_put_keepalive(&w_));
}

int bt_conn_send_have(struct bt_conn *c, uint32_t index)
{
	SEND_SMALL(c, bt_msg_put_have(&w_, index));
}

int bt_conn_send_request(struct bt_conn *c, uint32_t index, uint32_t begin,
			 uint32_t length)
{
	SEND_SMALL(c, bt_msg_put_request(&w_, index, begin, length));
}

int bt_conn_send_cancel(struct bt_conn *c, uint32_t index, uint32_t begin,
			uint32_t length)
{
	SEND_SMALL(c, bt_msg_put_cancel(&w_, index, begin, length));
}

int bt_conn_send_extended(struct bt_conn *c, uint8_t ext_id,
			  const uint8_t *payload, size_t n)
{
	uint8_t *b;
	struct bt_wr w;
	int rc;

	if (n > BT_CONN_SENDQ_MAX)
		return BT_ENOSPC;
	b = malloc(n + 6);
	if (!b)
		return BT_ENOSPC;
	bt_wr_init(&w, b, n + 6);
	rc = bt_msg_put_extended(&w, ext_id, payload, n);
	if (rc == BT_OK)
		rc = bt_conn_send_raw(c, b, w.len);
	free(b);
	return rc;
}

void bt_conn_note(struct bt_conn *c, enum bt_ev_kind kind, const char *why)
{
	struct bt_event ev;

	ev_init(&ev, kind, BT_DIR_OUT);
	ev.why = why;
	ev.stream_off = c->out_bytes;
	emit(c, &ev);
}

void bt_conn_close(struct bt_conn *c)
{
	struct bt_event ev;
	size_t unsent;

	if (c->state == BT_CONN_DONE || c->state == BT_CONN_IDLE)
		return;
	unsent = bt_conn_unsent(c);
	teardown(c);
	ev_init(&ev, BT_EV_CLOSED, BT_DIR_OUT);
	ev.stream_off = c->out_bytes;
	if (unsent) {
		char *w = why_buf(c);
		snprintf(w, sizeof c->why, "%zu queued bytes not sent", unsent);
		ev.why = w;
	}
	emit(c, &ev);
}

/* ---- addresses ---------------------------------------------------------- */

int bt_sockaddr_parse(const char *s, bool port_required,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *port = NULL, *colon;
	size_t hl;
	unsigned long p = 0;

	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end)
			return BT_EINVAL;
		hl = (size_t)(end - s - 1);
		if (hl >= sizeof host)
			return BT_EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = 0;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return BT_EINVAL;
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') == colon) {      /* one colon: v4:port */
			hl = (size_t)(colon - s);
			port = colon + 1;
		} else {
			hl = strlen(s);                      /* bare v4 or v6 */
		}
		if (hl >= sizeof host)
			return BT_EINVAL;
		memcpy(host, s, hl);
		host[hl] = 0;
	}
	if (port) {
		char *e;
		if (!*port || *port == '-' || *port == '+')
			return BT_EINVAL;
		errno = 0;
		p = strtoul(port, &e, 10);
		if (*e || errno || p > 65535)
			return BT_EINVAL;
	}
	if ((port_required && (!port || p == 0)))
		return BT_EINVAL;
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons((uint16_t)p);
			*len = sizeof *a4;
			return BT_OK;
		}
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons((uint16_t)p);
			*len = sizeof *a6;
			return BT_OK;
		}
	}
	return BT_EINVAL;
}

char *bt_sockaddr_fmt(const struct sockaddr *sa, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (!cap)
		return buf;
	buf[0] = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		snprintf(buf, cap, "%s:%u", ip, ntohs(a->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		snprintf(buf, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		snprintf(buf, cap, "?");
	}
	return buf;
}
