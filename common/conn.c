/* conn.c — one peer connection on bt_loop.  See conn.h. */
#include "conn.h"
#include "mse.h"

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
#define DEFAULT_ENC_TIMEOUT_US 5000000u

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
	return c->sq_len - c->sq_off + c->hold_len;
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
	bt_timer_stop(c->loop, &c->enc_timer);
	bt_timer_stop(c->loop, &c->redial_timer);
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

static bool refused(struct bt_conn *c, int err);

/* The peer's side ended: FIN (err 0) or reset / another socket error. */
static void peer_ended(struct bt_conn *c, int err)
{
	struct bt_event ev;
	size_t need = 0, have = bt_framer_partial(&c->fr, &need);

	if (refused(c, err))
		return;   /* a redial follows */
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
	} else if (c->mse_on && !c->mse_done && c->mse) {
		char *w = why_buf(c);
		if (!c->mse->have_secret)
			snprintf(w, sizeof c->why, "during MSE, before a whole Yb "
				 "(%llu bytes received)", (unsigned long long)c->wire_in);
		else
			snprintf(w, sizeof c->why, "during MSE, after Yb, before "
				 "crypto_select (%llu bytes received)",
				 (unsigned long long)c->wire_in);
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
			if (c->cfg.on_wire)
				c->cfg.on_wire(c, BT_DIR_OUT, c->sq + c->sq_off,
					       (size_t)n, c->cfg.wire_arg);
			c->wire_out += (uint64_t)n;
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

/* Append bytes ready for the wire to the send queue. */
static int sq_append(struct bt_conn *c, const uint8_t *p, size_t n)
{
	size_t live = c->sq_len - c->sq_off;

	if (c->state != BT_CONN_OPEN)
		return BT_EINVAL;
	if (n > BT_CONN_SENDQ_MAX - live - c->hold_len)
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

/* Payload while MSE runs: kept in order until it completes. */
static int hold_append(struct bt_conn *c, const uint8_t *p, size_t n)
{
	size_t live = c->sq_len - c->sq_off;

	if (n > BT_CONN_SENDQ_MAX - live - c->hold_len)
		return BT_ENOSPC;
	if (c->hold_len + n > c->hold_cap) {
		size_t cap = c->hold_cap ? c->hold_cap : 1024;
		uint8_t *q;
		while (cap < c->hold_len + n)
			cap *= 2;
		q = realloc(c->hold, cap);
		if (!q)
			return BT_ENOSPC;
		c->hold = q;
		c->hold_cap = cap;
	}
	memcpy(c->hold + c->hold_len, p, n);
	c->hold_len += n;
	return BT_OK;
}

/* Queue payload (our handshake, messages): as is on a plain connection;
 * held while MSE runs; encrypted in the queue once it is done.  The cost
 * of encryption being off is the one test of c->mse_on. */
static int enqueue(struct bt_conn *c, const uint8_t *p, size_t n)
{
	int rc;

	if (c->state != BT_CONN_OPEN)
		return BT_EINVAL;
	if (!c->mse_on)
		return sq_append(c, p, n);
	if (!c->mse_done)
		return hold_append(c, p, n);
	if ((rc = sq_append(c, p, n)) != BT_OK)
		return rc;
	if ((rc = bt_mse_encrypt(c->mse, c->sq + c->sq_len - n, n)) != BT_OK)
		c->sq_len -= n;   /* never plaintext on an RC4 stream */
	return rc;
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

static void mse_in(struct bt_conn *c, uint8_t *p, size_t n);

static void on_readable(struct bt_conn *c)
{
	int i;

	for (i = 0; i < BT_CONN_READS_PER_WAKE && c->state == BT_CONN_OPEN; i++) {
		ssize_t n = recv(c->io.fd, c->rbuf, BT_CONN_READ_CHUNK, 0);
		if (n > 0) {
			if (c->cfg.on_wire)
				c->cfg.on_wire(c, BT_DIR_IN, c->rbuf, (size_t)n,
					       c->cfg.wire_arg);
			c->wire_in += (uint64_t)n;
			if (c->mse_on) {
				mse_in(c, c->rbuf, (size_t)n);
				continue;
			}
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

/* ---- encryption (MSE/PE) ------------------------------------------------ */

static void dial(struct bt_conn *c);

const char *bt_conn_enc_name(enum bt_conn_enc e)
{
	switch (e) {
	case BT_CONN_ENC_OFF:     return "off";
	case BT_CONN_ENC_PREFER:  return "prefer";
	case BT_CONN_ENC_REQUIRE: return "require";
	case BT_CONN_ENC_PROBE:   return "probe";
	}
	return "?";
}

/* "12.345" (ms) into b. */
static const char *fmt_ms(uint64_t us, char *b, size_t cap)
{
	snprintf(b, cap, "%llu.%03llu", (unsigned long long)(us / 1000),
		 (unsigned long long)(us % 1000));
	return b;
}

static const char *crypto_text(uint32_t m)
{
	switch (m & (BT_MSE_CRYPTO_PLAIN | BT_MSE_CRYPTO_RC4)) {
	case BT_MSE_CRYPTO_RC4:   return "RC4";
	case BT_MSE_CRYPTO_PLAIN: return "plaintext";
	case BT_MSE_CRYPTO_PLAIN | BT_MSE_CRYPTO_RC4: return "RC4 or plaintext";
	}
	return "nothing";
}

/* One MSE step on the timeline (mse.h, "Timeline steps"). */
static void step(struct bt_conn *c, enum bt_dir dir, enum bt_mse_step st,
		 uint64_t detail, const char *why)
{
	struct bt_event ev;

	ev_init(&ev, BT_EV_NOTE, dir);
	ev.err = (int)st;
	ev.declared_len = detail;
	ev.stream_off = dir == BT_DIR_OUT ? c->out_bytes : c->in_bytes;
	ev.why = why;
	emit(c, &ev);
}

/* Back to a fresh, unconnected attempt on the same clock. */
static void reset_attempt(struct bt_conn *c)
{
	c->err = 0;
	c->local_len = 0;
	c->sq_off = c->sq_len = 0;
	c->hold_len = 0;
	c->out_bytes = c->in_bytes = 0;
	c->wire_in = c->wire_out = 0;
	c->hs_sent = false;
	c->t_hs_us = 0;
	bt_framer_init(&c->fr, c->frbuf, BT_FRAMER_BUF_LEN(c->cfg.max_msg_len),
		       c->cfg.max_msg_len, true);
	c->peer_hs_seen = false;
	memset(c->peer_reserved, 0, sizeof c->peer_reserved);
	memset(c->peer_info_hash, 0, sizeof c->peer_info_hash);
	memset(c->peer_id, 0, sizeof c->peer_id);
	c->peer_choking = c->am_choking = true;
	c->peer_interested = c->am_interested = false;
	c->in_closed = false;
	c->mse_done = false;
	c->mse_select = 0;
	c->t_mse_us = c->t_mse_y_us = c->t_mse_done_us = 0;
	if (c->mse)
		bt_mse_free(c->mse);
}

/* The refused attempt is over (socket gone, state CONNECTING): say why we
 * dial again, then dial from a timer, outside the I/O callback. */
static void schedule_redial(struct bt_conn *c, bool mse, const char *why)
{
	step(c, BT_DIR_OUT, mse ? BT_MSE_STEP_PROBE : BT_MSE_STEP_FALLBACK, 0, why);
	if (c->state != BT_CONN_CONNECTING)
		return;   /* the callback closed it */
	c->redial_mse = mse;
	c->redials++;
	if (bt_timer_arm(c->loop, &c->redial_timer, 0) != 0)
		connect_failed(c, ENOMEM, "timer");
}

static void on_redial(struct bt_loop *l, struct bt_timer *t)
{
	struct bt_conn *c = t->arg;
	struct bt_event ev;

	(void)l;
	if (c->state != BT_CONN_CONNECTING || c->io.fd >= 0)
		return;
	reset_attempt(c);
	c->mse_on = c->redial_mse;
	ev_init(&ev, BT_EV_CONNECTING, BT_DIR_OUT);
	emit(c, &ev);
	if (c->state == BT_CONN_CONNECTING)
		dial(c);
}

/* MSE did not work out: with PREFER, close this attempt and redial plain;
 * otherwise close. */
static void give_up_mse(struct bt_conn *c)
{
	if (c->cfg.encryption != BT_CONN_ENC_PREFER || c->redials) {
		bt_conn_close(c);
		return;
	}
	teardown(c);
	c->state = BT_CONN_CONNECTING;
	schedule_redial(c, false, "MSE: giving up encryption (prefer): redialling "
			"for a plain connection");
}

/* The peer ended the connection: is this a refused attempt we redial
 * after?  PREFER: during MSE (after our Ya: a peer that closes before it
 * has seen anything of ours is not refusing encryption).  PROBE: a plain
 * handshake answered by FIN or RST and not one byte.  Reports it and
 * returns true if so. */
static bool refused(struct bt_conn *c, int err)
{
	char *w = why_buf(c), m1[32];
	const char *how = err ? "reset" : "closed";
	bool to_mse;

	if (c->redials || c->state != BT_CONN_OPEN)
		return false;
	if (c->mse_on && c->hs_sent && !c->mse_done &&
	    c->cfg.encryption == BT_CONN_ENC_PREFER) {
		to_mse = false;
		if (!c->mse || !c->mse->have_secret)
			snprintf(w, sizeof c->why, "MSE: the peer %s the connection %s ms "
				 "after our Ya, %s: it does not accept encrypted "
				 "connections", how,
				 fmt_ms(bt_conn_elapsed(c) - c->t_mse_us, m1, sizeof m1),
				 c->wire_in ? "before a whole Yb" : "without sending a byte");
		else
			snprintf(w, sizeof c->why, "MSE: the peer %s the connection %s ms "
				 "after its Yb, before its crypto_select: it refused our "
				 "offer (crypto_provide %s) or the info-hash", how,
				 fmt_ms(bt_conn_elapsed(c) - c->t_mse_y_us, m1, sizeof m1),
				 crypto_text(c->mse->provide));
	} else if (!c->mse_on && c->cfg.encryption == BT_CONN_ENC_PROBE &&
		   c->hs_sent && !c->peer_hs_seen && c->in_bytes == 0) {
		to_mse = true;
		snprintf(w, sizeof c->why, "the peer %s the connection %s ms after our "
			 "plain handshake, without sending a byte", how,
			 fmt_ms(bt_conn_elapsed(c) - c->t_hs_us, m1, sizeof m1));
	} else {
		return false;
	}
	teardown(c);
	c->state = BT_CONN_CONNECTING;
	c->err = err;
	step(c, BT_DIR_IN, BT_MSE_STEP_REFUSED, (uint64_t)err, w);
	if (c->state != BT_CONN_CONNECTING)
		return true;
	schedule_redial(c, to_mse, to_mse ?
			"MSE: redialling with encryption, to see whether the peer "
			"requires it (probe)" :
			"MSE: falling back to a plain connection (prefer): redialling");
	return true;
}

/* Start MSE with our handshake as the IA: message 1 goes out now. */
static int mse_start(struct bt_conn *c, const struct bt_conn_hs *h,
		     const uint8_t *ia, size_t ia_len)
{
	struct bt_mse_cfg mc;
	const uint8_t *p;
	size_t n;
	char *w = why_buf(c);
	int rc;

	if (!c->mse && !(c->mse = calloc(1, sizeof *c->mse)))
		return BT_ENOSPC;
	memset(&mc, 0, sizeof mc);
	mc.role = BT_MSE_INITIATOR;
	mc.crypto = c->cfg.enc_crypto ? c->cfg.enc_crypto : BT_MSE_CRYPTO_RC4;
	mc.skey = c->cfg.enc_have_skey ? c->cfg.enc_skey : h->info_hash;
	mc.ia = ia;
	mc.ia_len = ia_len;
	mc.pad_len = BT_MSE_PAD_RANDOM;
	if ((rc = bt_mse_init(c->mse, &mc)) != BT_OK) {
		snprintf(w, sizeof c->why, "MSE: cannot start: %s (%s)",
			 bt_mse_errname(c->mse->err), c->mse->why ? c->mse->why : "?");
		step(c, BT_DIR_OUT, BT_MSE_STEP_FAILED, (uint64_t)c->mse->err, w);
		bt_mse_free(c->mse);
		return rc;
	}
	p = bt_mse_pending(c->mse, &n);
	if ((rc = sq_append(c, p, n)) != BT_OK)
		return rc;
	bt_mse_sent(c->mse, n);
	c->t_mse_us = bt_conn_elapsed(c);
	snprintf(w, sizeof c->why, "MSE: sent Ya (%d bytes pad), offering %s",
		 c->mse->pad_len, crypto_text(c->mse->provide));
	step(c, BT_DIR_OUT, BT_MSE_STEP_SENT_Y, (uint64_t)c->mse->pad_len, w);
	if (c->state == BT_CONN_OPEN && c->cfg.encryption == BT_CONN_ENC_PREFER &&
	    bt_timer_arm(c->loop, &c->enc_timer, c->cfg.enc_timeout_us ?
			 c->cfg.enc_timeout_us : DEFAULT_ENC_TIMEOUT_US) != 0)
		return BT_ENOSPC;
	return BT_OK;
}

static void on_enc_timeout(struct bt_loop *l, struct bt_timer *t)
{
	struct bt_conn *c = t->arg;
	char *w = why_buf(c), m1[32];
	uint64_t waited;

	(void)l;
	if (c->state != BT_CONN_OPEN || !c->mse_on || c->mse_done)
		return;
	waited = bt_conn_elapsed(c) - c->t_mse_us;
	snprintf(w, sizeof c->why, "MSE: no %s within %s ms of our Ya",
		 c->mse->have_secret ? "crypto_select" : "whole Yb",
		 fmt_ms(waited, m1, sizeof m1));
	step(c, BT_DIR_OUT, BT_MSE_STEP_TIMEOUT, waited, w);
	if (c->state == BT_CONN_OPEN)
		give_up_mse(c);
}

/* The key log line, once S is known (initiator: after Yb). */
static void keylog(struct bt_conn *c)
{
	char cl[BT_MSE_KEYLOG_ADDR_MAX + 8], sv[BT_MSE_KEYLOG_ADDR_MAX + 8];
	char line[BT_MSE_KEYLOG_LINE_MAX];
	const uint8_t *s = bt_mse_secret(c->mse);
	int n, e;

	if (!c->cfg.on_keylog || !s)
		return;
	if (c->local_len)
		bt_sockaddr_fmt((const struct sockaddr *)&c->local, cl, sizeof cl);
	else
		snprintf(cl, sizeof cl, "?");
	bt_sockaddr_fmt((const struct sockaddr *)&c->cfg.peer, sv, sizeof sv);
	n = bt_mse_keylog_format(line, sizeof line, cl, sv, s,
				 c->mse->have_skey ? c->mse->skey : NULL);
	if (n < 0)
		return;
	if ((e = c->cfg.on_keylog(c, line, (size_t)n, c->cfg.keylog_arg)) != 0) {
		char *w = why_buf(c);
		snprintf(w, sizeof c->why, "key log: cannot write: %s", strerror(e));
		bt_conn_note(c, BT_EV_NOTE, w);
	}
}

/* Bytes from the peer on an MSE attempt: the handshake, then payload
 * (decrypted in place, then framed as on a plain connection). */
static void mse_in(struct bt_conn *c, uint8_t *p, size_t n)
{
	struct bt_mse *m = c->mse;
	char *w = why_buf(c), m1[32];

	if (!m)
		return;
	if (!c->mse_done) {
		bool had_y = m->have_secret;
		long used = bt_mse_feed(m, p, n);
		const uint8_t *q;
		size_t qn;

		q = bt_mse_pending(m, &qn);
		if (qn) {
			if (sq_append(c, q, qn) != BT_OK) {
				bt_conn_close(c);   /* message 3 cannot go out */
				return;
			}
			bt_mse_sent(m, qn);
		}
		if (!had_y && m->have_secret) {
			c->t_mse_y_us = bt_conn_elapsed(c);
			keylog(c);
			if (c->state != BT_CONN_OPEN)
				return;
			snprintf(w, sizeof c->why, "MSE: got Yb after %s ms; sent req1, "
				 "req2^req3, VC, crypto_provide %s and our handshake as "
				 "the IA (%zu bytes)",
				 fmt_ms(c->t_mse_y_us - c->t_mse_us, m1, sizeof m1),
				 crypto_text(m->provide), m->ia_len_out);
			step(c, BT_DIR_IN, BT_MSE_STEP_GOT_Y, c->t_mse_y_us - c->t_mse_us, w);
			if (c->state != BT_CONN_OPEN)
				return;
			flush(c);
			if (c->state != BT_CONN_OPEN)
				return;
		}
		if (used < 0) {
			snprintf(w, sizeof c->why, "MSE: %s: %s (byte %llu of the "
				 "peer's stream)", bt_mse_errname(m->err),
				 m->why ? m->why : "?", (unsigned long long)m->err_off);
			step(c, m->err_dir == BT_MSE_B2A ? BT_DIR_IN : BT_DIR_OUT,
			     BT_MSE_STEP_FAILED, (uint64_t)m->err, w);
			if (c->state == BT_CONN_OPEN)
				give_up_mse(c);
			return;
		}
		if (!bt_mse_done(m))
			return;
		c->mse_done = true;
		c->mse_select = m->select;
		c->t_mse_done_us = bt_conn_elapsed(c);
		bt_timer_stop(c->loop, &c->enc_timer);
		snprintf(w, sizeof c->why, "MSE: %s selected after %s ms (PadB %d "
			 "bytes, PadD %d bytes)", crypto_text(m->select),
			 fmt_ms(c->t_mse_done_us - c->t_mse_us, m1, sizeof m1),
			 m->peer_pad, m->peer_pad2);
		step(c, BT_DIR_IN, BT_MSE_STEP_SELECTED, m->select, w);
		if (c->state != BT_CONN_OPEN)
			return;
		if (c->hold_len) {   /* what the tool queued meanwhile */
			size_t hl = c->hold_len;
			c->hold_len = 0;
			if (sq_append(c, c->hold, hl) != BT_OK ||
			    bt_mse_encrypt(m, c->sq + c->sq_len - hl, hl) != BT_OK) {
				bt_conn_close(c);
				return;
			}
		}
		flush(c);
		if (c->state != BT_CONN_OPEN)
			return;
		p += used;
		n -= (size_t)used;
	}
	if (!n)
		return;
	if (bt_mse_decrypt(m, p, n) != BT_OK) {
		bt_conn_note(c, BT_EV_NOTE, "MSE: decryption failed (OpenSSL)");
		bt_conn_close(c);
		return;
	}
	c->in_bytes += n;
	feed(c, p, n);
}

int bt_conn_init(struct bt_conn *c, struct bt_loop *l, const struct bt_conn_cfg *cfg)
{
	size_t frcap;
	sa_family_t fam = cfg->peer.ss_family;

	memset(c, 0, sizeof *c);
	c->io.fd = -1;
	if (!cfg->on_event || (fam != AF_INET && fam != AF_INET6) ||
	    cfg->encryption > BT_CONN_ENC_PROBE)
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
	c->enc_timer.cb = on_enc_timeout;
	c->enc_timer.arg = c;
	c->redial_timer.cb = on_redial;
	c->redial_timer.arg = c;
	c->mse_on = c->cfg.encryption == BT_CONN_ENC_PREFER ||
		    c->cfg.encryption == BT_CONN_ENC_REQUIRE;
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
	if (c->loop) {
		bt_timer_stop(c->loop, &c->connect_timer);
		bt_timer_stop(c->loop, &c->enc_timer);
		bt_timer_stop(c->loop, &c->redial_timer);
	}
	if (c->mse) {
		bt_mse_free(c->mse);
		free(c->mse);
	}
	free(c->hold);
	free(c->sq);
	free(c->frbuf);
	free(c->rbuf);
	memset(c, 0, sizeof *c);
	c->io.fd = -1;
}

/* Open the socket and start the non-blocking connect (state CONNECTING,
 * the CONNECTING event reported). */
static void dial(struct bt_conn *c)
{
	int fd, one = 1;

	fd = socket(c->cfg.peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		connect_failed(c, errno, "socket()");
		return;
	}
	/* Each message leaves in its own segment when it is queued: the
	 * timings on the timeline are the protocol's, not Nagle's. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (c->cfg.src_len && bind(fd, (const struct sockaddr *)&c->cfg.src, c->cfg.src_len) != 0) {
		int e = errno;
		close(fd);
		connect_failed(c, e, "bind() to the source address");
		return;
	}
	c->io.fd = fd;
	if (connect(fd, (const struct sockaddr *)&c->cfg.peer, c->cfg.peer_len) != 0 &&
	    errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		c->io.fd = -1;
		connect_failed(c, e, NULL);
		return;
	}
	c->io.want = BT_IO_OUT;
	if (bt_io_add(c->loop, &c->io) != 0) {
		int e = errno;
		close(fd);
		c->io.fd = -1;
		connect_failed(c, e, "epoll");
		return;
	}
	if (bt_timer_arm(c->loop, &c->connect_timer, c->cfg.connect_timeout_us) != 0) {
		teardown(c);
		connect_failed(c, ENOMEM, "timer");
	}
}

int bt_conn_connect(struct bt_conn *c)
{
	struct bt_event ev;
	struct timespec ts;

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
	dial(c);
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
	bool ia = false;

	if (c->hs_sent || c->state != BT_CONN_OPEN)
		return BT_EINVAL;
	if (c->mse_on) {
		/* MSE: the handshake is the IA of message 3. */
		if ((q = mse_start(c, h, raw, n)) == BT_OK) {
			ia = true;
		} else if (c->state != BT_CONN_OPEN) {
			return q;
		} else if (c->cfg.encryption == BT_CONN_ENC_PREFER && !c->redials &&
			   c->sq_len == c->sq_off) {
			/* Nothing went out: plain on this connection. */
			c->mse_on = false;
			step(c, BT_DIR_OUT, BT_MSE_STEP_FALLBACK, 0, "MSE unavailable: "
			     "a plain handshake on this connection (prefer)");
			if (c->state != BT_CONN_OPEN)
				return q;
		} else {
			bt_conn_close(c);
			return q;
		}
		if (c->state != BT_CONN_OPEN)
			return BT_OK;   /* the callback closed it */
	}
	if (!ia && (q = enqueue(c, raw, n)) != BT_OK)
		return q;
	c->hs_sent = true;
	c->t_hs_us = bt_conn_elapsed(c);
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
	} else if (ia) {
		ev.why = "inside MSE: the initial payload (IA), sent with message 3 "
			 "once Yb is in";
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

/* "a" or "an" before a number written in digits: "an 8-byte", "an
 * 11-byte", "an 18000-byte", "a 104-byte". */
static const char *article(size_t n)
{
	char d[24];
	int len = snprintf(d, sizeof d, "%zu", n);

	if (d[0] == '8')
		return "an";
	if (len % 3 == 2 && d[0] == '1' && (d[1] == '1' || d[1] == '8'))
		return "an";
	return "a";
}

size_t bt_conn_in_partial(const struct bt_conn *c, size_t *need, char *buf,
			  size_t cap)
{
	size_t n = 0, have = c->frbuf ? bt_framer_partial(&c->fr, &n) : 0;
	const char *what = c->peer_hs_seen ? "message" : "handshake";

	if (need)
		*need = n;
	if (!buf || !cap)
		return have;
	buf[0] = 0;
	if (!have)
		return 0;
	if (!n)     /* a handshake's header is its one length byte */
		snprintf(buf, cap, "%zu bytes into a message's 4-byte length prefix", have);
	else if (c->peer_hs_seen && have > 4)
		/* the id byte is in: the partial frame is in the framer's
		 * buffer (a frame whole in one read is never partial) */
		snprintf(buf, cap, "%zu bytes into %s %zu-byte message (%s)", have,
			 article(n), n, bt_msg_name(c->fr.buf[4]));
	else
		snprintf(buf, cap, "%zu bytes into %s %zu-byte %s", have, article(n), n,
			 what);
	return have;
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

/* ---- key log ------------------------------------------------------------ */

int bt_conn_keylog_append(struct bt_conn *c, const char *line, size_t len,
			  void *arg)
{
	const char *path = arg;
	int fd, e = 0;

	(void)c;
	if (!path || !*path)
		return EINVAL;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return errno;
	while (len) {
		ssize_t w = write(fd, line, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = w < 0 ? errno : EIO;
			break;
		}
		line += w;
		len -= (size_t)w;
	}
	if (close(fd) != 0 && !e)
		e = errno;
	return e;
}
