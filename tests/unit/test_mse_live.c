/* test_mse_live.c — the MSE initiator against a real peer.
 *
 * Skips unless the environment names a peer; tests/integration/test_mse.py
 * starts Transmission, libtorrent and aria2 seeders that require
 * encryption and runs this once per seeder:
 *
 *   BTKIT_MSE_PEER=127.0.0.1:PORT   the seeder (numeric IPv4 or [IPv6])
 *   BTKIT_MSE_INFOHASH=40 hex       the torrent's (handshake) info-hash
 *   BTKIT_MSE_NAME=transmission     label for the test names (default "peer")
 *   BTKIT_MSE_SOURCE=127.0.0.5      bind here first (Transmission keys by IP)
 *   BTKIT_MSE_PROVIDE=2             crypto_provide: 1, 2 or 3 (default 2, RC4)
 *   BTKIT_MSE_EXPECT=rc4|plain      the crypto_select to require (optional)
 *   BTKIT_MSE_KEYLOG=FILE           append this connection's key log line
 *   BTKIT_MSE_TIMEOUT=10            seconds for the whole exchange
 *
 * Or, for the receiver role, instead of BTKIT_MSE_PEER:
 *   BTKIT_MSE_LISTEN=127.0.0.1:PORT accept one connection there (the
 *                                   test then makes libtorrent dial it)
 *   BTKIT_MSE_PROVIDE               the methods we allow (default 3)
 *   BTKIT_MSE_PREFER_PLAIN=1        select plaintext when offered
 *
 * Checks: the MSE handshake completes (initiator: with our BitTorrent
 * handshake as IA) and the peer's handshake decrypts with the right
 * info-hash; our stream after the handshake is accepted (initiator: an
 * encrypted "interested"; receiver: our handshake and have_none) without
 * being dropped, and the peer's next messages frame and parse; the key log
 * line we write parses back, and the passive decoder given only that line
 * decrypts the recorded raw bytes of both directions to exactly what the
 * live session saw.  Timings are printed as '#' lines. */
#include "mse.h"
#include "t.h"
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#define RAW_MAX (1u << 20)

static const char *name = "peer";
static struct sockaddr_storage peer, src, listen_at;
static socklen_t peer_len, src_len, listen_len;
static bool receiver, prefer_plain;
static uint8_t info_hash[20];
static uint32_t provide = BT_MSE_CRYPTO_RC4;
static const char *expect, *keylog_path;
static double timeout_s = 10;

/* What happened, for the checks after the session. */
static struct {
	int fd;
	double t0, t_connected, t_yb, t_done, t_peer_hs;
	double dh_ms;
	uint8_t tx[RAW_MAX], rx[RAW_MAX];       /* raw wire bytes each way */
	size_t tx_n, rx_n;
	uint8_t plain_tx[RAW_MAX], plain_rx[RAW_MAX]; /* payload plaintext */
	size_t plain_tx_n, plain_rx_n;
	struct bt_mse m;
	char local[80], remote[80];
} S;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool parse_addr(const char *s, bool port, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	char host[64];
	const char *colon = port ? strrchr(s, ':') : NULL;
	size_t hl = colon ? (size_t)(colon - s) : strlen(s);
	long p = colon ? strtol(colon + 1, NULL, 10) : 0;

	if ((port && !colon) || hl == 0 || hl >= sizeof host || p < 0 || p > 65535)
		return false;
	memcpy(host, s, hl);
	host[hl] = 0;
	memset(ss, 0, sizeof *ss);
	if (host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		host[hl - 1] = 0;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		*len = sizeof *a;
		return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)p);
	*len = sizeof *a;
	return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

static void fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		snprintf(buf, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const void *)ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		snprintf(buf, cap, "%s:%u", ip, ntohs(a->sin_port));
	}
}

static bool unhex(uint8_t *out, const char *s, size_t n)
{
	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (uint8_t)v;
	}
	return true;
}

static bool wait_fd(short ev, double deadline)
{
	struct pollfd p = { .fd = S.fd, .events = ev };
	double left = deadline - now_s();

	if (left <= 0)
		return false;
	return poll(&p, 1, (int)(left * 1000) + 1) == 1;
}

/* Write all of buf (recorded as sent). */
static bool send_all(const uint8_t *buf, size_t n, double deadline)
{
	if (n > RAW_MAX - S.tx_n)
		return false;
	memcpy(S.tx + S.tx_n, buf, n);
	S.tx_n += n;
	while (n) {
		ssize_t w = send(S.fd, buf, n, MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_fd(POLLOUT, deadline))
				return false;
			continue;
		}
		if (w <= 0)
			return false;
		buf += w;
		n -= (size_t)w;
	}
	return true;
}

static bool flush_mse(double deadline)
{
	size_t n;
	const uint8_t *p = bt_mse_pending(&S.m, &n);

	if (!n)
		return true;
	if (!send_all(p, n, deadline))
		return false;
	bt_mse_sent(&S.m, n);
	return true;
}

/* One recv into raw, then through the state machine; payload plaintext is
 * appended to plain_rx.  0 closed, -1 error/timeout, else bytes read. */
static long pump(double deadline, const char **why)
{
	uint8_t buf[65536];
	ssize_t r;
	long n;

	if (!wait_fd(POLLIN, deadline)) {
		*why = "timeout";
		return -1;
	}
	r = recv(S.fd, buf, sizeof buf, 0);
	if (r < 0) {
		*why = errno == ECONNRESET ? "reset by peer" : "recv failed";
		return -1;
	}
	if (r == 0) {
		*why = "closed by peer";
		return 0;
	}
	if ((size_t)r > RAW_MAX - S.rx_n || (size_t)r > RAW_MAX - S.plain_rx_n) {
		*why = "recorded too much";
		return -1;
	}
	memcpy(S.rx + S.rx_n, buf, (size_t)r);
	S.rx_n += (size_t)r;
	n = 0;
	if (!bt_mse_done(&S.m)) {
		bool had_secret = bt_mse_secret(&S.m) != NULL;
		double t = now_s();

		n = bt_mse_feed(&S.m, buf, (size_t)r);
		if (!had_secret && bt_mse_secret(&S.m)) {
			S.dh_ms = (now_s() - t) * 1e3;
			S.t_yb = now_s();
		}
		if (n < 0) {
			*why = S.m.why;
			return -1;
		}
		if (bt_mse_done(&S.m))
			S.t_done = now_s();
		if (!flush_mse(deadline)) {
			*why = "send failed";
			return -1;
		}
	}
	if (bt_mse_done(&S.m) && n < r) {
		size_t k = (size_t)(r - n);

		memcpy(S.plain_rx + S.plain_rx_n, buf + n, k);
		if (bt_mse_decrypt(&S.m, S.plain_rx + S.plain_rx_n, k) != BT_OK) {
			*why = "decrypt failed";
			return -1;
		}
		S.plain_rx_n += k;
	}
	return (long)r;
}

/* Framed messages after the peer's 68-byte handshake; count and name of
 * the first; false if something after the handshake does not frame. */
static bool peer_msgs(size_t *count, int *first_id, bool *unchoked)
{
	size_t off = BT_HS_LEN;

	*count = 0;
	*first_id = -2;
	*unchoked = false;
	while (S.plain_rx_n - off >= 4) {
		uint32_t len = bt_load_u32be(S.plain_rx + off);
		struct bt_msg msg;

		if (len > BT_FRAMER_DEFAULT_MAX)
			return false;
		if (S.plain_rx_n - off - 4 < len)
			break;
		if (bt_msg_parse(S.plain_rx + off, 4 + (size_t)len, &msg) != BT_OK)
			return false;
		if (*count == 0)
			*first_id = msg.id;
		if (msg.kind == BT_MSG_UNCHOKE)
			*unchoked = true;
		(*count)++;
		off += 4 + (size_t)len;
	}
	return true;
}

static bool connected;

static bool dial(double deadline)
{
	int fl, err = 0;
	socklen_t el = sizeof err;

	S.fd = socket(peer.ss_family, SOCK_STREAM, 0);
	if (S.fd < 0 || (src_len && bind(S.fd, (struct sockaddr *)&src, src_len) != 0)) {
		T_FAILF("socket/bind: %s", strerror(errno));
		return false;
	}
	fl = fcntl(S.fd, F_GETFL);
	fcntl(S.fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(S.fd, (struct sockaddr *)&peer, peer_len) != 0 && errno != EINPROGRESS) {
		T_FAILF("connect: %s", strerror(errno));
		return false;
	}
	if (!wait_fd(POLLOUT, deadline) ||
	    getsockopt(S.fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
		T_FAILF("connect: %s", err ? strerror(err) : "timeout");
		return false;
	}
	return true;
}

/* Receiver: listen, say so on stdout (the test waits for the port), accept
 * one connection. */
static bool accept_one(double deadline)
{
	int one = 1, ls = socket(listen_at.ss_family, SOCK_STREAM, 0);
	struct pollfd p = { .fd = ls, .events = POLLIN };
	socklen_t pl = sizeof peer;

	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(ls, (struct sockaddr *)&listen_at, listen_len) != 0 || listen(ls, 1) != 0) {
		T_FAILF("listen: %s", strerror(errno));
		if (ls >= 0)
			close(ls);
		return false;
	}
	printf("# %s: listening\n", name);
	fflush(stdout);
	if (poll(&p, 1, (int)((deadline - now_s()) * 1000)) != 1) {
		T_FAILF("nobody connected");
		close(ls);
		return false;
	}
	S.fd = accept(ls, (struct sockaddr *)&peer, &pl);
	close(ls);
	if (S.fd < 0) {
		T_FAILF("accept: %s", strerror(errno));
		return false;
	}
	fcntl(S.fd, F_SETFL, fcntl(S.fd, F_GETFL) | O_NONBLOCK);
	peer_len = pl;
	return true;
}

static void our_handshake(uint8_t hs[BT_HS_LEN])
{
	uint8_t reserved[8] = { 0 }, peer_id[20];
	char id[32];

	bt_reserved_set(reserved, BT_RSV_EXTENSION);
	bt_reserved_set(reserved, BT_RSV_FAST);
	snprintf(id, sizeof id, "-BK0100-mselive%05u", (unsigned)getpid() % 100000);
	memcpy(peer_id, id, 20);
	bt_handshake_encode(hs, reserved, info_hash, peer_id);
}

static void test_handshake(void)
{
	struct bt_mse_cfg cfg;
	struct bt_mse_skeys list;
	static const uint8_t decoy[20] = { 1, 2, 3 };
	uint8_t ia[BT_HS_LEN], hashes[2][20];
	double deadline;
	const char *why = "";
	struct bt_handshake hs;

	S.t0 = now_s();
	deadline = S.t0 + timeout_s;
	if (!(receiver ? accept_one(deadline) : dial(deadline)))
		return;
	S.t_connected = now_s();
	connected = true;
	{
		struct sockaddr_storage l;
		socklen_t ll = sizeof l;

		getsockname(S.fd, (struct sockaddr *)&l, &ll);
		/* key log: client = the initiator, server = the receiver */
		fmt_addr(&l, receiver ? S.remote : S.local, sizeof S.local);
		fmt_addr(&peer, receiver ? S.local : S.remote, sizeof S.remote);
	}

	our_handshake(ia);
	memset(&cfg, 0, sizeof cfg);
	cfg.crypto = provide;
	cfg.pad_len = BT_MSE_PAD_RANDOM;
	if (receiver) {
		memcpy(hashes[0], decoy, 20);          /* another torrent of ours */
		memcpy(hashes[1], info_hash, 20);
		list.hashes = (const uint8_t (*)[20])hashes;
		list.n = 2;
		cfg.role = BT_MSE_RECEIVER;
		cfg.find_skey = bt_mse_skeys_find;
		cfg.skey_arg = &list;
		cfg.prefer_plain = prefer_plain;
	} else {
		cfg.role = BT_MSE_INITIATOR;
		cfg.skey = info_hash;
		cfg.ia = ia;
		cfg.ia_len = sizeof ia;
		memcpy(S.plain_tx, ia, sizeof ia);     /* the IA is our payload */
		S.plain_tx_n = sizeof ia;
	}
	if (bt_mse_init(&S.m, &cfg) != BT_OK) {
		T_FAILF("bt_mse_init: %s", S.m.why);
		return;
	}
	if (!flush_mse(deadline)) {
		T_FAILF("send Ya failed");
		return;
	}
	/* Until the peer's whole 68-byte handshake has arrived decrypted. */
	while (S.plain_rx_n < BT_HS_LEN) {
		long r = pump(deadline, &why);

		if (r <= 0) {
			T_FAILF("%s (MSE %s; %zu bytes received, %zu sent)", why,
				bt_mse_done(&S.m) ? "done" : S.m.err ?
				bt_mse_errname(S.m.err) : "unfinished", S.rx_n, S.tx_n);
			return;
		}
	}
	S.t_peer_hs = now_s();
	T_EQ_INT(bt_handshake_parse(S.plain_rx, BT_HS_LEN, &hs), BT_HS_LEN);
	T_EQ_UINT(hs.problems, 0);
	T_EQ_MEM(hs.info_hash, 20, info_hash, 20);
	if (receiver)
		T_EQ_MEM(S.m.skey, 20, info_hash, 20);
	if (expect)
		T_EQ_STR(S.m.select == BT_MSE_CRYPTO_RC4 ? "rc4" : "plain", expect);
	printf("# %s: %s; crypto_provide %#x, crypto_select %s, Pad%s %d bytes, "
	       "len(Pad%s) %d, len(IA) %u; peer id %.8s\n", name,
	       receiver ? "we received" : "we dialled", S.m.provide,
	       S.m.select == BT_MSE_CRYPTO_RC4 ? "rc4" : "plaintext",
	       receiver ? "A" : "B", S.m.peer_pad, receiver ? "C" : "D",
	       S.m.peer_pad2, S.m.ia_len, (const char *)hs.peer_id);
	printf("# %s: %s %.1f ms, peer's Y after %.1f ms, our DH step (S%s) "
	       "%.3f ms, MSE done %.1f ms, peer handshake %.1f ms (from connect)\n",
	       name, receiver ? "accepted after" : "connect", (S.t_connected - S.t0) * 1e3,
	       (S.t_yb - S.t_connected) * 1e3, receiver ? ", Yb queued" : ", keys, message 3", S.dh_ms,
	       (S.t_done - S.t_connected) * 1e3, (S.t_peer_hs - S.t_connected) * 1e3);
}

/* Our first payload after the handshake is accepted: the peer keeps the
 * connection and its own messages keep framing.  Initiator: an encrypted
 * "interested"; receiver: our handshake and have_none. */
static void test_stream(void)
{
	uint8_t msg[BT_HS_LEN + 5];
	size_t n;
	double deadline = now_s() + 2.5;
	const char *why = "";
	size_t count = 0;
	int first = -2;
	bool unchoked = false;

	if (!bt_mse_done(&S.m) || S.plain_rx_n < BT_HS_LEN) {
		T_FAILF("no handshake");
		return;
	}
	if (receiver) {
		our_handshake(msg);
		memcpy(msg + BT_HS_LEN, (uint8_t[]){ 0, 0, 0, 1, BT_MSG_HAVE_NONE }, 5);
		n = BT_HS_LEN + 5;
	} else {
		memcpy(msg, (uint8_t[]){ 0, 0, 0, 1, BT_MSG_INTERESTED }, 5);
		n = 5;
	}
	memcpy(S.plain_tx + S.plain_tx_n, msg, n);
	S.plain_tx_n += n;
	T_EQ_INT(bt_mse_encrypt(&S.m, msg, n), BT_OK);
	if (S.m.select == BT_MSE_CRYPTO_RC4)
		T_CHECK(memcmp(msg, S.plain_tx + S.plain_tx_n - n, n) != 0);
	else
		T_CHECK(memcmp(msg, S.plain_tx + S.plain_tx_n - n, n) == 0);
	T_CHECK(send_all(msg, n, deadline));
	/* Read for a while: the connection must stay open. */
	for (;;) {
		long r = pump(deadline, &why);

		if (r == 0 || (r < 0 && strcmp(why, "timeout") != 0)) {
			T_FAILF("after our encrypted message: %s", why);
			break;
		}
		if (r < 0)
			break;   /* quiet until the deadline: fine */
	}
	T_CHECK(peer_msgs(&count, &first, &unchoked));
	T_CHECK(count >= 1);
	printf("# %s: %zu messages after the handshake (first: %s)%s\n", name,
	       count, bt_msg_name(first), unchoked ? ", unchoked" : "");
}

/* The key log line, parsed back, is all a passive decoder needs to turn
 * the recorded raw bytes into what both sides saw. */
static void test_keylog_passive(void)
{
	char line[BT_MSE_KEYLOG_LINE_MAX + 1];
	struct bt_mse_keylog k;
	struct bt_mse_cfg cfg;
	struct bt_mse p;
	static uint8_t a2b[RAW_MAX], b2a[RAW_MAX];
	const char *why = NULL;
	int n;

	if (!bt_mse_secret(&S.m) || !bt_mse_done(&S.m)) {
		T_FAILF("no session");
		return;
	}
	n = bt_mse_keylog_format(line, sizeof line, S.local, S.remote,
				 bt_mse_secret(&S.m), info_hash);
	T_CHECK(n > 0);
	if (n <= 0)
		return;
	if (keylog_path) {
		FILE *f = fopen(keylog_path, "a");

		T_CHECK(f != NULL);
		if (f) {
			fputs(line, f);
			fclose(f);
		}
	}
	T_EQ_INT(bt_mse_keylog_parse(line, (size_t)n, &k, &why), BT_OK);
	T_EQ_MEM(k.client, k.client_len, S.local, strlen(S.local));
	T_EQ_MEM(k.server, k.server_len, S.remote, strlen(S.remote));

	memset(&cfg, 0, sizeof cfg);
	cfg.role = BT_MSE_PASSIVE;
	cfg.secret = k.secret;
	cfg.skey = k.has_skey ? k.skey : NULL;
	T_EQ_INT(bt_mse_init(&p, &cfg), BT_OK);
	/* A->B is what the initiator sent: us, unless we are the receiver. */
	const uint8_t *raw_ab = receiver ? S.rx : S.tx, *raw_ba = receiver ? S.tx : S.rx;
	size_t n_ab = receiver ? S.rx_n : S.tx_n, n_ba = receiver ? S.tx_n : S.rx_n;
	const uint8_t *pl_ab = receiver ? S.plain_rx : S.plain_tx;
	const uint8_t *pl_ba = receiver ? S.plain_tx : S.plain_rx;
	size_t pn_ab = receiver ? S.plain_rx_n : S.plain_tx_n;
	size_t pn_ba = receiver ? S.plain_tx_n : S.plain_rx_n;

	memcpy(a2b, raw_ab, n_ab);
	memcpy(b2a, raw_ba, n_ba);
	long na = bt_mse_passive_feed(&p, BT_MSE_A2B, a2b, n_ab);
	long nb = bt_mse_passive_feed(&p, BT_MSE_B2A, b2a, n_ba);
	if (na < 0 || nb < 0)
		T_FAILF("passive feed: %s", p.why);
	T_CHECK(bt_mse_passive_done(&p, BT_MSE_A2B) && bt_mse_passive_done(&p, BT_MSE_B2A));
	if (!t_failed_now) {
		T_EQ_INT(bt_mse_passive_decrypt(&p, BT_MSE_A2B, a2b + na, n_ab - (size_t)na),
			 (long)(n_ab - (size_t)na));
		T_EQ_INT(bt_mse_passive_decrypt(&p, BT_MSE_B2A, b2a + nb, n_ba - (size_t)nb),
			 (long)(n_ba - (size_t)nb));
		T_EQ_MEM(a2b + na, n_ab - (size_t)na, pl_ab, pn_ab);
		T_EQ_MEM(b2a + nb, n_ba - (size_t)nb, pl_ba, pn_ba);
		T_EQ_UINT(p.select, S.m.select);
		T_EQ_INT(p.d[receiver ? BT_MSE_A2B : BT_MSE_B2A].pad, S.m.peer_pad);
	}
	printf("# %s: key log line %d bytes; passive decoder recovered %zu + %zu "
	       "plaintext bytes\n", name, n, S.plain_tx_n, S.plain_rx_n);
	bt_mse_free(&p);
}

int main(void)
{
	const char *p = getenv("BTKIT_MSE_PEER"), *h = getenv("BTKIT_MSE_INFOHASH");
	const char *l = getenv("BTKIT_MSE_LISTEN");
	const char *v;

	if (((!p || !*p) && (!l || !*l)) || !h || !*h) {
		printf("skip mse_live (BTKIT_MSE_PEER or BTKIT_MSE_LISTEN, and "
		       "BTKIT_MSE_INFOHASH not set; tests/integration/test_mse.py sets them)\n");
		return 0;
	}
	if ((v = getenv("BTKIT_MSE_NAME")) && *v)
		name = v;
	receiver = l && *l;
	if ((receiver ? !parse_addr(l, true, &listen_at, &listen_len)
		      : !parse_addr(p, true, &peer, &peer_len)) || !unhex(info_hash, h, 20)) {
		printf("not ok mse_live_%s_args: BTKIT_MSE_PEER=%s BTKIT_MSE_LISTEN=%s "
		       "BTKIT_MSE_INFOHASH=%s\n", name, p ? p : "", l ? l : "", h);
		return 1;
	}
	if (receiver)
		provide = BT_MSE_CRYPTO_PLAIN | BT_MSE_CRYPTO_RC4;
	prefer_plain = (v = getenv("BTKIT_MSE_PREFER_PLAIN")) && *v == '1';
	if ((v = getenv("BTKIT_MSE_SOURCE")) && *v &&
	    !parse_addr(v, false, &src, &src_len)) {
		printf("not ok mse_live_%s_args: BTKIT_MSE_SOURCE=%s\n", name, v);
		return 1;
	}
	if ((v = getenv("BTKIT_MSE_PROVIDE")) && *v)
		provide = (uint32_t)strtoul(v, NULL, 0);
	if ((v = getenv("BTKIT_MSE_EXPECT")) && *v)
		expect = v;
	if ((v = getenv("BTKIT_MSE_TIMEOUT")) && *v)
		timeout_s = strtod(v, NULL);
	keylog_path = getenv("BTKIT_MSE_KEYLOG");

	/* T_RUN names the function; print our own lines around each. */
	struct { void (*fn)(void); const char *what; } tests[] = {
		{ test_handshake, "handshake" },
		{ test_stream, "stream" },
		{ test_keylog_passive, "keylog_passive" },
	};
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		t_failed_now = 0;
		tests[i].fn();
		if (t_failed_now)
			t_fail++;
		else
			t_pass++;
		printf("%s mse_live_%s_%s\n", t_failed_now ? "not ok" : "ok", name,
		       tests[i].what);
		fflush(stdout);
		if (i == 0 && t_failed_now)
			break;     /* nothing else can work */
	}
	if (connected)
		close(S.fd);
	bt_mse_free(&S.m);
	return T_DONE();
}
