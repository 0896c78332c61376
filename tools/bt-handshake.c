/* bt-handshake — probe a peer, print every message with timing, and say
 * why the peer behaved as it did.
 *
 *   bt-handshake [options] HOST:PORT (--info-hash HEX | --torrent FILE | --magnet URI)
 *   bt-handshake [options] (--torrent FILE | --magnet URI) [--peer HOST:PORT]...
 *
 * The first form probes one peer: connect, handshake, an optional script
 * of actions (interested, wait for unchoke, request blocks, stay), every
 * event printed as it happens, and the verdicts of diag.h at the end.
 * The second probes a swarm: every peer given with --peer, or else every
 * peer the torrent's trackers return, a bounded number at a time, one row
 * per peer and a swarm summary.
 *
 * Exit: 0 the peer answered and no verdict names a problem (swarm: at
 * least one peer is usable), 1 a verdict explains a failure (or a piece
 * failed its hash check), 2 usage, 3 could not connect (swarm: no peer
 * could be reached, or none was found). */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "conn.h"
#include "diag.h"
#include "ext.h"
#include "loop.h"
#include "magnet.h"
#include "meta.h"
#include "mse.h"
#include "out.h"
#include "peerid.h"
#include "pkt.h"
#include "print.h"
#include "trk.h"
#include "wire.h"

#define EXIT_PROBLEM 1
#define EXIT_USAGE 2
#define EXIT_NOCONN 3

#define CLIENT_NAME "btkit 0.1.0"
#define OUR_UT_PEX 1
#define OUR_UT_METADATA 3
#define MAX_PEERS 1024

static const char usage_text[] =
	"usage: bt-handshake [options] HOST:PORT (--info-hash HEX | --torrent FILE | --magnet URI)\n"
	"       bt-handshake [options] (--torrent FILE | --magnet URI) [--peer HOST:PORT]...\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
	if (f != stdout)
		return;
	fputs("\n"
	      "What to talk about:\n"
	      "      --info-hash HEX     40 hex digits\n"
	      "      --magnet URI        magnet link (btih or btmh)\n"
	      "      --torrent FILE      .torrent: piece sizes and hashes are known\n"
	      "Connection:\n"
	      "  -b, --bind ADDR         connect from this source address (127.0.0.2)\n"
	      "  -t, --timeout SECONDS   bound on every wait (default 15)\n"
	      "Encryption (MSE/PE):\n"
	      "      --encryption MODE   off (default: plain, to see what the peer does\n"
	      "                          with it), prefer (MSE first, plain if refused),\n"
	      "                          require (MSE only)\n"
	      "      --probe-encryption  with off: if the peer drops our plain handshake\n"
	      "                          without a byte back, redial once with MSE\n"
	      "      --crypto METHODS    what MSE offers: rc4 (default), plain, both\n"
	      "      --keylog FILE       append each MSE connection's secret (default:\n"
	      "                          $BTKIT_KEYLOGFILE)\n"
	      "Our handshake:\n"
	      "      --dht               set the DHT bit (BEP 5)\n"
	      "      --fast              set the fast-extension bit (BEP 6)\n"
	      "  -n, --no-extension      clear the extension-protocol bit (BEP 10)\n"
	      "      --peer-id STRING    our peer id (the rest is random)\n"
	      "  Deliberately wrong, to reproduce client bugs:\n"
	      "      --pstr STRING       protocol string (e.g. 'BitTorrent Protocol')\n"
	      "      --pstrlen N         the length byte, whatever the string\n"
	      "      --pstrlen-after     the length byte after the string\n"
	      "      --short-peer-id N   send only N bytes of the peer id\n"
	      "      --wrong-info-hash   send another info-hash (bits flipped)\n"
	      "Actions, in this order, each bounded by --timeout:\n"
	      "  -D, --diagnose          all stages: --metadata --interested --wait-unchoke\n"
	      "                          --request all\n"
	      "      --metadata          without a torrent: fetch the info dictionary\n"
	      "                          from the peer (ut_metadata, BEP 9) and check it\n"
	      "      --interested        send interested\n"
	      "      --wait-unchoke      wait until the peer unchokes us\n"
	      "      --request N|all     request N blocks (or the whole piece) of --piece\n"
	      "      --piece P           the piece to request (default: the first it has)\n"
	      "      --block-size N      bytes per request (default 16384)\n"
	      "      --keepalive[=SECS]  send keep-alives while staying (every 30 s)\n"
	      "      --stay SECONDS      stay connected after the last action (default 2)\n"
	      "  -I, --interactive       then type messages to send (readline; 'help')\n"
	      "Swarm:\n"
	      "      --peer HOST:PORT    probe this peer (repeatable); default: ask trackers\n"
	      "  -P, --parallel N        probes in flight (default 8)\n"
	      "Output:\n"
	      "  -j, --json              one JSON object per line\n"
	      "  -q, --quiet             no timeline: summary and verdicts only\n"
	      "  -v, --verbose           more detail (PEX addresses; -vv bit strings)\n"
	      "  -w, --write FILE        write the session as a pcap (Ethernet/IP/TCP)\n"
	      "  -h, --help              this text\n"
	      "\n"
	      "exit: 0 no problem found, 1 a verdict explains a failure, 2 usage,\n"
	      "      3 could not connect\n", f);
}

/* ---- options ------------------------------------------------------------ */

struct opts {
	const char *target;           /* HOST:PORT, or NULL (swarm) */
	const char *info_hash_hex, *torrent, *magnet;
	const char *bind;
	uint64_t timeout_us;
	enum bt_conn_enc encryption;
	uint32_t crypto;              /* 0: conn's default (RC4) */
	const char *keylog;           /* NULL: none */
	bool dht, fast, no_ext;
	const char *peer_id;
	const char *pstr;
	int pstrlen;                  /* -1: from the string */
	bool pstrlen_after;
	int short_peer_id;            /* -1: all 20 */
	bool wrong_info_hash;
	bool interested, wait_unchoke, metadata;
	long nreq;                    /* -1 none, 0 whole piece */
	long piece;                   /* -1: first the peer has */
	uint32_t block_size;
	uint64_t keepalive_us;        /* 0: none */
	uint64_t stay_us;
	const char *peers[MAX_PEERS];
	size_t npeers;
	unsigned parallel;
	const char *pcap;
	bool interactive;
	bool json, quiet;
	int verbose;
};

enum {
	O_INFO_HASH = 256, O_MAGNET, O_TORRENT, O_DHT, O_FAST, O_PEER_ID, O_PSTR,
	O_PSTRLEN, O_PSTRLEN_AFTER, O_SHORT_ID, O_WRONG_IH, O_INTERESTED,
	O_WAIT_UNCHOKE, O_REQUEST, O_PIECE, O_BLOCK_SIZE, O_KEEPALIVE, O_STAY,
	O_PEER, O_METADATA, O_ENCRYPTION, O_PROBE_ENC, O_CRYPTO, O_KEYLOG,
};

static const struct option longopts[] = {
	{ "bind", required_argument, NULL, 'b' },
	{ "block-size", required_argument, NULL, O_BLOCK_SIZE },
	{ "crypto", required_argument, NULL, O_CRYPTO },
	{ "dht", no_argument, NULL, O_DHT },
	{ "encryption", required_argument, NULL, O_ENCRYPTION },
	{ "diagnose", no_argument, NULL, 'D' },
	{ "fast", no_argument, NULL, O_FAST },
	{ "help", no_argument, NULL, 'h' },
	{ "info-hash", required_argument, NULL, O_INFO_HASH },
	{ "interactive", no_argument, NULL, 'I' },
	{ "interested", no_argument, NULL, O_INTERESTED },
	{ "json", no_argument, NULL, 'j' },
	{ "keepalive", optional_argument, NULL, O_KEEPALIVE },
	{ "keylog", required_argument, NULL, O_KEYLOG },
	{ "magnet", required_argument, NULL, O_MAGNET },
	{ "metadata", no_argument, NULL, O_METADATA },
	{ "no-extension", no_argument, NULL, 'n' },
	{ "parallel", required_argument, NULL, 'P' },
	{ "peer", required_argument, NULL, O_PEER },
	{ "peer-id", required_argument, NULL, O_PEER_ID },
	{ "piece", required_argument, NULL, O_PIECE },
	{ "probe-encryption", no_argument, NULL, O_PROBE_ENC },
	{ "pstr", required_argument, NULL, O_PSTR },
	{ "pstrlen", required_argument, NULL, O_PSTRLEN },
	{ "pstrlen-after", no_argument, NULL, O_PSTRLEN_AFTER },
	{ "quiet", no_argument, NULL, 'q' },
	{ "request", required_argument, NULL, O_REQUEST },
	{ "short-peer-id", required_argument, NULL, O_SHORT_ID },
	{ "stay", required_argument, NULL, O_STAY },
	{ "timeout", required_argument, NULL, 't' },
	{ "torrent", required_argument, NULL, O_TORRENT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "wait-unchoke", no_argument, NULL, O_WAIT_UNCHOKE },
	{ "write", required_argument, NULL, 'w' },
	{ "wrong-info-hash", no_argument, NULL, O_WRONG_IH },
	{ NULL, 0, NULL, 0 },
};

static void bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "bt-handshake: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	usage(stderr);
	exit(EXIT_USAGE);
}

static long num(const char *s, long lo, long hi, const char *what)
{
	char *e;
	long v;

	errno = 0;
	v = strtol(s, &e, 10);
	if (!*s || *e || errno || v < lo || v > hi)
		bad_usage("bad %s", what);
	return v;
}

/* Seconds, decimals allowed, into microseconds (at most a day). */
static uint64_t seconds(const char *s, const char *what)
{
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (!*s || *e || errno || !(v >= 0) || v > 86400)
		bad_usage("bad %s (seconds)", what);
	return (uint64_t)(v * 1e6);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	bool probe_enc = false;
	int c;

	memset(o, 0, sizeof *o);
	o->timeout_us = 15000000u;
	o->pstrlen = -1;
	o->short_peer_id = -1;
	o->nreq = -1;
	o->piece = -1;
	o->block_size = BT_BLOCK_LEN;
	o->stay_us = 2000000u;
	o->parallel = 8;
	while ((c = getopt_long(argc, argv, "b:DhIjnt:P:qvw:", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': o->bind = optarg; break;
		case 'D':
			o->interested = o->wait_unchoke = o->metadata = true;
			o->nreq = 0;
			break;
		case 'h': usage(stdout); exit(0);
		case 'I': o->interactive = true; break;
		case 'j': o->json = true; break;
		case 'n': o->no_ext = true; break;
		case 't': o->timeout_us = seconds(optarg, "--timeout"); break;
		case 'P': o->parallel = (unsigned)num(optarg, 1, 256, "--parallel"); break;
		case 'q': o->quiet = true; break;
		case 'v': o->verbose++; break;
		case 'w': o->pcap = optarg; break;
		case O_INFO_HASH: o->info_hash_hex = optarg; break;
		case O_MAGNET: o->magnet = optarg; break;
		case O_TORRENT: o->torrent = optarg; break;
		case O_DHT: o->dht = true; break;
		case O_FAST: o->fast = true; break;
		case O_PEER_ID: o->peer_id = optarg; break;
		case O_PSTR: o->pstr = optarg; break;
		case O_PSTRLEN: o->pstrlen = (int)num(optarg, 0, 255, "--pstrlen"); break;
		case O_PSTRLEN_AFTER: o->pstrlen_after = true; break;
		case O_SHORT_ID: o->short_peer_id = (int)num(optarg, 0, 20, "--short-peer-id"); break;
		case O_WRONG_IH: o->wrong_info_hash = true; break;
		case O_INTERESTED: o->interested = true; break;
		case O_METADATA: o->metadata = true; break;
		case O_WAIT_UNCHOKE: o->wait_unchoke = true; break;
		case O_REQUEST:
			o->nreq = strcmp(optarg, "all") == 0 ? 0 :
				  num(optarg, 1, 1 << 16, "--request");
			break;
		case O_PIECE: o->piece = num(optarg, 0, 0x7fffffff, "--piece"); break;
		case O_BLOCK_SIZE:
			o->block_size = (uint32_t)num(optarg, 1, 16 << 20, "--block-size");
			break;
		case O_KEEPALIVE:
			o->keepalive_us = optarg ? seconds(optarg, "--keepalive") : 30000000u;
			if (!o->keepalive_us)
				bad_usage("bad %s", "--keepalive");
			break;
		case O_STAY: o->stay_us = seconds(optarg, "--stay"); break;
		case O_ENCRYPTION:
			if (!strcmp(optarg, "off"))
				o->encryption = BT_CONN_ENC_OFF;
			else if (!strcmp(optarg, "prefer"))
				o->encryption = BT_CONN_ENC_PREFER;
			else if (!strcmp(optarg, "require"))
				o->encryption = BT_CONN_ENC_REQUIRE;
			else
				bad_usage("--encryption %s: want off, prefer or require", optarg);
			break;
		case O_PROBE_ENC: probe_enc = true; break;
		case O_CRYPTO:
			if (!strcmp(optarg, "rc4"))
				o->crypto = BT_MSE_CRYPTO_RC4;
			else if (!strcmp(optarg, "plain"))
				o->crypto = BT_MSE_CRYPTO_PLAIN;
			else if (!strcmp(optarg, "both"))
				o->crypto = BT_MSE_CRYPTO_RC4 | BT_MSE_CRYPTO_PLAIN;
			else
				bad_usage("--crypto %s: want rc4, plain or both", optarg);
			break;
		case O_KEYLOG: o->keylog = optarg; break;
		case O_PEER:
			if (o->npeers == MAX_PEERS)
				bad_usage("more than %s --peer", "1024");
			o->peers[o->npeers++] = optarg;
			break;
		default: usage(stderr); exit(EXIT_USAGE);
		}
	}
	if (optind < argc)
		o->target = argv[optind++];
	if (optind < argc)
		bad_usage("unexpected argument %s", argv[optind]);
	if (!!o->info_hash_hex + !!o->torrent + !!o->magnet != 1)
		bad_usage("%s", "give one of --info-hash, --torrent, --magnet");
	if (!o->target && o->info_hash_hex)
		bad_usage("%s", "--info-hash needs HOST:PORT (swarm mode needs a torrent or magnet)");
	if (o->target && o->npeers)
		bad_usage("%s", "HOST:PORT and --peer do not mix");
	if (o->interactive && !o->target)
		bad_usage("%s", "--interactive needs HOST:PORT");
	if (o->pstr && strlen(o->pstr) > 255)
		bad_usage("%s", "--pstr longer than 255 bytes");
	if (o->peer_id && strlen(o->peer_id) > 20)
		bad_usage("%s", "--peer-id longer than 20 bytes");
	if (probe_enc) {
		if (o->encryption != BT_CONN_ENC_OFF)
			bad_usage("%s", "--probe-encryption goes with --encryption=off");
		o->encryption = BT_CONN_ENC_PROBE;
	}
	if (!o->keylog) {
		const char *k = getenv(BT_MSE_KEYLOG_ENV);
		if (k && *k)
			o->keylog = k;
	}
}

/* ---- the torrent -------------------------------------------------------- */

struct subject {
	uint8_t info_hash[20];        /* what the handshake carries */
	bool have_meta;
	struct bt_meta meta;
	uint8_t *meta_buf;
	struct bt_magnet mg;
	uint8_t *mg_scratch;
	const char *name;             /* for the header, or NULL */
};

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		err(EXIT_USAGE, "%s", path);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > BT_META_MAX_BYTES)
		errx(EXIT_USAGE, "%s: not a torrent file", path);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		err(EXIT_USAGE, "malloc");
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			errx(EXIT_USAGE, "%s: read failed", path);
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9') return ch - '0';
	if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
	return -1;
}

static void load_subject(const struct opts *o, struct subject *s)
{
	memset(s, 0, sizeof *s);
	if (o->info_hash_hex) {
		size_t i;
		if (strlen(o->info_hash_hex) != 40)
			bad_usage("--info-hash %s: want 40 hex digits", o->info_hash_hex);
		for (i = 0; i < 20; i++) {
			int a = hexval(o->info_hash_hex[2 * i]), b = hexval(o->info_hash_hex[2 * i + 1]);
			if (a < 0 || b < 0)
				bad_usage("--info-hash %s: want 40 hex digits", o->info_hash_hex);
			s->info_hash[i] = (uint8_t)(a << 4 | b);
		}
	} else if (o->torrent) {
		struct bt_meta_err e;
		size_t len = 0;
		s->meta_buf = slurp(o->torrent, &len);
		if (bt_meta_parse(&s->meta, s->meta_buf, len, NULL, &e) != BT_OK)
			errx(EXIT_USAGE, "%s: %s at offset %zu", o->torrent, e.rule, e.off);
		s->have_meta = true;
		if (s->meta.version == BT_META_V2)
			memcpy(s->info_hash, s->meta.info_hash_v2, 20);
		else
			memcpy(s->info_hash, s->meta.info_hash_v1, 20);
	} else {
		struct bt_magnet_err e;
		size_t len = strlen(o->magnet);
		s->mg_scratch = malloc(len + 1);
		if (!s->mg_scratch)
			err(EXIT_USAGE, "malloc");
		if (bt_magnet_parse(&s->mg, o->magnet, len, s->mg_scratch, len + 1, &e) != BT_OK)
			errx(EXIT_USAGE, "--magnet: %s at offset %zu", e.rule, e.off);
		if (s->mg.has_btih)
			memcpy(s->info_hash, s->mg.btih, 20);
		else if (s->mg.has_btmh)
			memcpy(s->info_hash, s->mg.btmh, 20);
		else
			errx(EXIT_USAGE, "--magnet: no info-hash (xt)");
	}
}

static uint64_t piece_size(const struct subject *s, uint32_t p)
{
	return s->have_meta ? bt_meta_piece_size(&s->meta, p) : 0;
}

/* ---- -w: the session as a pcap ----------------------------------------- */

/* Synthesised Ethernet + IPv4/IPv6 + TCP frames carrying exactly the bytes
 * of each event, with the wall-clock time of the event: a SYN exchange at
 * connect, data segments of at most PCAP_MSS bytes, FIN or RST at the end.
 * bt-decode, tshark and Wireshark read it like a capture.  (Library code
 * by nature: it belongs in common/ as pcapw.{h,c} once it has an owner.) */

#define PCAP_MSS 1460

struct pcapfile {
	FILE *f;
	const char *path;
	uint16_t ip_id;
	bool wire;                /* data from the conn's wire tap (MSE: the
				     encrypted bytes), not from the events */
};

struct pcapflow {
	bool v6, open;
	uint8_t addr[2][16];      /* [0] us, [1] the peer */
	uint16_t port[2];
	uint32_t seq[2];          /* next sequence number per side */
};

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static void pcap_open(struct pcapfile *pf, const char *path)
{
	uint8_t h[24];

	pf->path = path;
	pf->f = fopen(path, "wb");
	if (!pf->f)
		err(EXIT_USAGE, "%s", path);
	le32(h, 0xa1b2c3d4);              /* microsecond timestamps */
	h[4] = 2; h[5] = 0; h[6] = 4; h[7] = 0;
	le32(h + 8, 0);
	le32(h + 12, 0);
	le32(h + 16, 262144);             /* snaplen */
	le32(h + 20, 1);                  /* LINKTYPE_ETHERNET */
	fwrite(h, 1, sizeof h, pf->f);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* One frame from side `from` (0 us, 1 peer) at wall time t_us. */
static void pcap_frame(struct pcapfile *pf, struct pcapflow *fl, uint64_t t_us,
		       int from, uint8_t flags, const uint8_t *data, size_t n)
{
	uint8_t fr[14 + 40 + 20 + PCAP_MSS], rec[16];
	size_t iph = fl->v6 ? 40 : 20, len = 14 + iph + 20 + n, k;
	uint8_t *ip = fr + 14, *tcp = ip + iph;
	int to = !from;
	uint32_t sum;

	memset(fr, 0, 14 + iph + 20);
	/* Locally administered MACs: 02:00:00:00:00:01 us, :02 the peer. */
	fr[0] = 2; fr[5] = (uint8_t)(to + 1);
	fr[6] = 2; fr[11] = (uint8_t)(from + 1);
	fr[12] = fl->v6 ? 0x86 : 0x08;
	fr[13] = fl->v6 ? 0xdd : 0x00;
	if (fl->v6) {
		ip[0] = 0x60;
		bt_store_u32be(ip + 4, 0);
		ip[4] = (uint8_t)((20 + n) >> 8);
		ip[5] = (uint8_t)(20 + n);
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, fl->addr[from], 16);
		memcpy(ip + 24, fl->addr[to], 16);
	} else {
		ip[0] = 0x45;
		ip[2] = (uint8_t)((20 + 20 + n) >> 8);
		ip[3] = (uint8_t)(20 + 20 + n);
		ip[4] = (uint8_t)(pf->ip_id >> 8);
		ip[5] = (uint8_t)pf->ip_id;
		pf->ip_id++;
		ip[6] = 0x40;                     /* don't fragment */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, fl->addr[from], 4);
		memcpy(ip + 16, fl->addr[to], 4);
		sum = csum_fold(csum_add(0, ip, 20));
		ip[10] = (uint8_t)(sum >> 8);
		ip[11] = (uint8_t)sum;
	}
	tcp[0] = (uint8_t)(fl->port[from] >> 8);
	tcp[1] = (uint8_t)fl->port[from];
	tcp[2] = (uint8_t)(fl->port[to] >> 8);
	tcp[3] = (uint8_t)fl->port[to];
	bt_store_u32be(tcp + 4, fl->seq[from]);
	if (flags & BT_TCP_ACK)
		bt_store_u32be(tcp + 8, fl->seq[to]);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	tcp[14] = 0xff;
	tcp[15] = 0xff;
	if (n)
		memcpy(tcp + 20, data, n);
	/* The TCP checksum covers a pseudo header of addresses, protocol
	 * and length. */
	{
		uint8_t ph[4];
		size_t al = fl->v6 ? 16 : 4;
		sum = csum_add(0, fl->addr[from], al);
		sum = csum_add(sum, fl->addr[to], al);
		bt_store_u32be(ph, (uint32_t)(20 + n));
		sum = csum_add(sum, ph, 4);
		sum += 6;
		sum = csum_add(sum, tcp, 20 + n);
		sum = csum_fold(sum);
		tcp[16] = (uint8_t)(sum >> 8);
		tcp[17] = (uint8_t)sum;
	}
	le32(rec, (uint32_t)(t_us / 1000000u));
	le32(rec + 4, (uint32_t)(t_us % 1000000u));
	le32(rec + 8, (uint32_t)len);
	le32(rec + 12, (uint32_t)len);
	fwrite(rec, 1, sizeof rec, pf->f);
	fwrite(fr, 1, len, pf->f);
	k = n + ((flags & (BT_TCP_SYN | BT_TCP_FIN)) ? 1 : 0);
	fl->seq[from] += (uint32_t)k;
}

static void sa_load(const struct sockaddr_storage *ss, uint8_t a[16], uint16_t *port)
{
	memset(a, 0, 16);
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		memcpy(a, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		memcpy(a, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
	}
}

static void pcap_event(struct pcapfile *pf, struct pcapflow *fl, const struct bt_conn *c,
		       const struct bt_event *ev)
{
	uint64_t t = c->t0_wall_us + ev->t_us;
	int from = ev->dir == BT_DIR_IN;

	if (!pf->f)
		return;
	if (ev->kind == BT_EV_CONNECTED && c->local_len) {
		fl->v6 = c->cfg.peer.ss_family == AF_INET6;
		sa_load(&c->local, fl->addr[0], &fl->port[0]);
		sa_load(&c->cfg.peer, fl->addr[1], &fl->port[1]);
		/* Fixed initial sequence numbers: reproducible files. */
		fl->seq[0] = 1000;
		fl->seq[1] = 5000;
		pcap_frame(pf, fl, c->t0_wall_us, 0, BT_TCP_SYN, NULL, 0);
		pcap_frame(pf, fl, t, 1, BT_TCP_SYN | BT_TCP_ACK, NULL, 0);
		pcap_frame(pf, fl, t, 0, BT_TCP_ACK, NULL, 0);
		fl->open = true;
		return;
	}
	if (!fl->open)
		return;
	switch (ev->kind) {
	case BT_EV_HANDSHAKE:
	case BT_EV_MSG:
	case BT_EV_MALFORMED:
		if (ev->raw && !pf->wire) {
			size_t off = 0;
			while (off < ev->raw_len) {
				size_t n = ev->raw_len - off < PCAP_MSS ? ev->raw_len - off : PCAP_MSS;
				pcap_frame(pf, fl, t, from, BT_TCP_PSH | BT_TCP_ACK, ev->raw + off, n);
				off += n;
			}
		}
		break;
	case BT_EV_CLOSED:
		pcap_frame(pf, fl, t, from, BT_TCP_FIN | BT_TCP_ACK, NULL, 0);
		fl->open = false;
		break;
	case BT_EV_RESET:
		pcap_frame(pf, fl, t, from, BT_TCP_RST | BT_TCP_ACK, NULL, 0);
		fl->open = false;
		break;
	case BT_EV_NOTE:
		/* An attempt conn.h ends without CLOSED or RESET (a redial
		 * follows): the peer's FIN or RST, or ours. */
		if (ev->err == BT_MSE_STEP_REFUSED) {
			pcap_frame(pf, fl, t, 1, (ev->declared_len ? BT_TCP_RST : BT_TCP_FIN) |
				   BT_TCP_ACK, NULL, 0);
			fl->open = false;
		} else if ((ev->err == BT_MSE_STEP_FALLBACK || ev->err == BT_MSE_STEP_PROBE) &&
			   c->state != BT_CONN_OPEN) {
			pcap_frame(pf, fl, t, 0, BT_TCP_FIN | BT_TCP_ACK, NULL, 0);
			fl->open = false;
		}
		break;
	default:
		break;
	}
	fflush(pf->f);
}

/* The wire tap (encrypted sessions): the bytes as they crossed the socket. */
static void pcap_wire(struct pcapfile *pf, struct pcapflow *fl, const struct bt_conn *c,
		      enum bt_dir dir, const uint8_t *p, size_t n)
{
	uint64_t t = c->t0_wall_us + bt_conn_elapsed(c);
	size_t off = 0;

	if (!pf->f || !fl->open)
		return;
	while (off < n) {
		size_t k = n - off < PCAP_MSS ? n - off : PCAP_MSS;
		pcap_frame(pf, fl, t, dir == BT_DIR_IN, BT_TCP_PSH | BT_TCP_ACK, p + off, k);
		off += k;
	}
	fflush(pf->f);
}

/* ---- one probe ---------------------------------------------------------- */

enum phase { PH_IDLE, PH_CONNECT, PH_HANDSHAKE, PH_SETTLE, PH_METADATA, PH_UNCHOKE,
	     PH_BLOCKS, PH_STAY, PH_INTERACTIVE, PH_DONE };

struct app {
	struct opts o;
	struct subject s;
	struct bt_loop loop;
	struct bt_out out;
	uint8_t peer_id[20];
	bool swarm;
	struct pcapfile pcap;
	struct probe *ip;             /* the probe typed at (-I), or NULL */
	struct bt_io stdin_io;
	bool rl_active;               /* the prompt is shown: hide it to print */
	bool rl_installed;
};

struct probe {
	struct app *app;
	struct bt_conn c;
	struct bt_diag d;
	struct bt_print_ctx pc;
	struct bt_timer timer, ka;
	enum phase ph;
	char addr[64];
	bool print_events;
	uint64_t t_end;               /* conn clock when the session ended */
	/* requests */
	bool requested;
	uint32_t piece;
	uint64_t psize;               /* 0: unknown */
	uint32_t nblocks, answered, received;
	uint8_t *pbuf;                /* the piece, when it can be verified */
	uint8_t *gotmap;              /* one byte per block */
	int verified;                 /* -1 not checked, 0 bad, 1 good */
	struct pcapflow flow;
	/* ut_metadata (BEP 9) */
	int peer_utm;                 /* the peer's id for it, 0: none */
	int64_t peer_md_size;         /* its metadata_size, -1: unknown */
	uint8_t *md;                  /* the pieces received so far */
	size_t md_len;
	uint32_t md_next;             /* the piece asked for */
	char note[160];
};

static void rl_hide(struct app *a);
static void rl_show(struct app *a);

static void arm(struct probe *p, uint64_t us)
{
	bt_timer_arm(&p->app->loop, &p->timer, us);
}

static void finish(struct probe *p)
{
	if (p->ph == PH_DONE)
		return;
	p->ph = PH_DONE;
	p->t_end = bt_conn_elapsed(&p->c);
	bt_timer_stop(&p->app->loop, &p->timer);
	bt_timer_stop(&p->app->loop, &p->ka);
	if (p->c.state != BT_CONN_DONE)
		bt_conn_close(&p->c);
}

/* A wait ran out.  When the peer is in the middle of a message (one
 * sent a byte at a time), say so: the message we wait for may be behind
 * it, and the diagnosis must not take the silence for an answer. */
static void timed_out(struct probe *p, const char *what)
{
	char part[96];
	size_t need = 0, have = 0;

	if (p->c.state == BT_CONN_OPEN)
		have = bt_conn_in_partial(&p->c, &need, part, sizeof part);
	if (have)
		snprintf(p->note, sizeof p->note, "%s, the peer %s", what, part);
	else
		snprintf(p->note, sizeof p->note, "%s", what);
	bt_conn_note(&p->c, BT_EV_TIMEOUT, p->note);
	if (have)       /* after the note: its time is the evidence */
		bt_diag_partial(&p->d, have, need);
}

static void timeout_note(struct probe *p, const char *what)
{
	char b[128];

	snprintf(b, sizeof b, "%s within %" PRIu64 " ms", what, p->app->o.timeout_us / 1000);
	timed_out(p, b);
}

static void send_ext_handshake(struct probe *p)
{
	struct bt_ext_hs_out x;
	uint8_t b[256];
	struct bt_wr w;

	memset(&x, 0, sizeof x);
	x.ut_metadata = OUR_UT_METADATA;
	x.ut_pex = OUR_UT_PEX;
	x.v = CLIENT_NAME;
	if (p->app->s.have_meta && p->app->s.meta.info.len <= UINT32_MAX)
		x.metadata_size = (uint32_t)p->app->s.meta.info.len;
	bt_wr_init(&w, b, sizeof b);
	if (bt_ext_hs_encode(&w, &x) == BT_OK)
		bt_conn_send_extended(&p->c, BT_EXT_ID_HANDSHAKE, b, w.len);
}

static void interactive_start(struct probe *p);

static void stay(struct probe *p)
{
	const struct opts *o = &p->app->o;

	if (o->interactive) {
		interactive_start(p);
		return;
	}
	p->ph = PH_STAY;
	if (!o->stay_us) {
		finish(p);
		return;
	}
	arm(p, o->stay_us);
	if (o->keepalive_us)
		bt_timer_arm(&p->app->loop, &p->ka, o->keepalive_us);
}

/* The piece to request: --piece, or the first the peer announced. */
static uint32_t pick_piece(const struct probe *p)
{
	uint64_t i;

	if (p->app->o.piece >= 0)
		return (uint32_t)p->app->o.piece;
	if (p->d.have_all)
		return 0;
	for (i = 0; i < (uint64_t)p->d.bits_cap * 8; i++)
		if (p->d.bits[i / 8] >> (7 - i % 8) & 1)
			return (uint32_t)i;
	return 0;
}

static void send_requests(struct probe *p)
{
	const struct opts *o = &p->app->o;
	uint32_t bs = o->block_size, k;
	uint64_t n;

	p->piece = pick_piece(p);
	p->psize = piece_size(&p->app->s, p->piece);
	if (p->psize)
		n = (p->psize + bs - 1) / bs;
	else
		n = o->nreq > 0 ? (uint64_t)o->nreq : 1;
	if (o->nreq > 0 && (uint64_t)o->nreq < n)
		n = (uint64_t)o->nreq;
	p->nblocks = (uint32_t)n;
	p->requested = true;
	p->gotmap = calloc(n, 1);
	/* The whole piece is verified against the torrent's hash. */
	if (p->psize && (uint64_t)n * bs >= p->psize && p->app->s.meta.version != BT_META_V2)
		p->pbuf = malloc(p->psize);
	if (!p->gotmap)
		err(EXIT_PROBLEM, "malloc");
	for (k = 0; k < n && p->c.state == BT_CONN_OPEN; k++) {
		uint64_t begin = (uint64_t)k * bs;
		uint64_t len = bs;
		if (p->psize && begin + len > p->psize)
			len = p->psize - begin;
		bt_conn_send_request(&p->c, p->piece, (uint32_t)begin, (uint32_t)len);
	}
	if (p->ph == PH_DONE)
		return;
	p->ph = PH_BLOCKS;
	arm(p, o->timeout_us);
}

static void verify(struct probe *p)
{
	const struct subject *s = &p->app->s;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (!p->pbuf || p->received != p->nblocks)
		return;
	EVP_Digest(p->pbuf, p->psize, md, &mdlen, EVP_sha1(), NULL);
	p->verified = memcmp(md, s->meta.pieces.p + (size_t)p->piece * 20, 20) == 0;
	snprintf(p->note, sizeof p->note, "piece %" PRIu32 " (%" PRIu64 " bytes) %s",
		 p->piece, p->psize, p->verified ? "matches its SHA-1 in the torrent" :
		 "does NOT match its SHA-1 in the torrent");
	bt_conn_note(&p->c, BT_EV_NOTE, p->note);
}

/* ---- --metadata: the info dictionary from the peer (BEP 9) ------------- */

static void metadata_done(struct probe *p, const char *why);

static void metadata_request(struct probe *p)
{
	uint8_t b[64];
	struct bt_wr w;

	bt_wr_init(&w, b, sizeof b);
	bt_utm_put_request(&w, p->md_next);
	bt_conn_send_extended(&p->c, (uint8_t)p->peer_utm, b, w.len);
	arm(p, p->app->o.timeout_us);
}

/* Pieces are asked for one at a time, and the buffer grows with what
 * arrives, never with the size the peer declares. */
static void on_metadata(struct probe *p, const struct bt_msg *m)
{
	struct subject *s = &p->app->s;
	struct bt_utm u;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t off, need;
	uint8_t *nb;

	if (p->ph != PH_METADATA || bt_utm_parse(&u, m->u.ext.payload, m->u.ext.len, NULL) != BT_OK)
		return;
	if (u.msg_type == BT_UTM_REJECT) {
		metadata_done(p, "the peer rejected our ut_metadata request");
		return;
	}
	if (u.msg_type != BT_UTM_DATA || u.piece != p->md_next)
		return;
	off = (size_t)p->md_next * BT_UTM_BLOCK;
	need = off + u.data.len;
	if ((uint64_t)need > BT_EXT_MAX_METADATA) {
		metadata_done(p, "metadata larger than 64 MiB: given up");
		return;
	}
	nb = realloc(p->md, need);
	if (!nb)
		err(EXIT_PROBLEM, "malloc");
	p->md = nb;
	memcpy(p->md + off, u.data.p, u.data.len);
	p->md_len = need;
	if ((uint64_t)p->md_next + 1 < bt_utm_pieces((uint64_t)u.total_size)) {
		p->md_next++;
		metadata_request(p);
		return;
	}
	/* All of it: is it the info dictionary the info-hash names? */
	if (s->mg.has_btih || !s->mg.has_btmh)
		EVP_Digest(p->md, p->md_len, md, &mdlen, EVP_sha1(), NULL);
	else
		EVP_Digest(p->md, p->md_len, md, &mdlen, EVP_sha256(), NULL);
	if (memcmp(md, s->info_hash, 20) != 0) {
		metadata_done(p, "metadata does NOT hash to the info-hash: ignored");
		return;
	}
	{
		struct bt_meta_opts mo = { BT_META_INFO_ONLY, NULL, 0, 0 };
		struct bt_meta_err e;
		if (bt_meta_parse(&s->meta, p->md, p->md_len, &mo, &e) != BT_OK) {
			metadata_done(p, "metadata hashes right but does not parse: ignored");
			return;
		}
	}
	s->have_meta = true;
	s->meta_buf = p->md;          /* the views of s->meta point into it */
	p->md = NULL;
	p->pc.piece_count = s->meta.piece_count;
	p->pc.piece_length = s->meta.piece_length;
	p->pc.total_size = s->meta.total_size;
	bt_diag_set_piece_count(&p->d, s->meta.piece_count);
	snprintf(p->note, sizeof p->note, "metadata: %zu bytes in %" PRIu32
		 " piece(s), hashes to the info-hash: %" PRIu32 " pieces of %" PRIu64 " bytes",
		 p->md_len, p->md_next + 1, s->meta.piece_count, s->meta.piece_length);
	metadata_done(p, p->note);
}

/* Run the script from the current phase on. */
static void next(struct probe *p)
{
	const struct opts *o = &p->app->o;

	if (p->ph == PH_DONE)
		return;
	switch (p->ph) {
	case PH_HANDSHAKE:
		if (!o->no_ext && bt_reserved_has(p->c.peer_reserved, BT_RSV_EXTENSION))
			send_ext_handshake(p);
		if (p->ph == PH_DONE)
			return;
		/* Give the peer a moment to say what it has. */
		p->ph = PH_SETTLE;
		if (p->d.announce)
			{ next(p); return; }
		arm(p, o->timeout_us < 1000000u ? o->timeout_us : 1000000u);
		return;
	case PH_SETTLE:
		bt_timer_stop(&p->app->loop, &p->timer);
		p->ph = PH_METADATA;
		if (o->metadata && !p->app->s.have_meta && !p->app->swarm) {
			if (p->peer_utm > 0) {
				p->md_next = 0;
				metadata_request(p);
				return;
			}
			bt_conn_note(&p->c, BT_EV_NOTE, "no metadata: the peer offers no ut_metadata");
			if (p->ph == PH_DONE)
				return;
		}
		{ next(p); return; }
	case PH_METADATA:
		bt_timer_stop(&p->app->loop, &p->timer);
		if (o->interested)
			bt_conn_send_simple(&p->c, BT_MSG_INTERESTED);
		if (p->ph == PH_DONE)
			return;
		if (o->wait_unchoke && p->c.peer_choking) {
			p->ph = PH_UNCHOKE;
			arm(p, o->timeout_us);
			return;
		}
		p->ph = PH_UNCHOKE;
		{ next(p); return; }
	case PH_UNCHOKE:
		bt_timer_stop(&p->app->loop, &p->timer);
		if (o->nreq >= 0)
			send_requests(p);
		else
			stay(p);
		return;
	case PH_BLOCKS:
		bt_timer_stop(&p->app->loop, &p->timer);
		verify(p);
		if (p->ph != PH_DONE)
			stay(p);
		return;
	default:
		return;
	}
}

static void metadata_done(struct probe *p, const char *why)
{
	bt_conn_note(&p->c, BT_EV_NOTE, why);
	if (p->ph == PH_METADATA)
		next(p);
}

static void on_timer(struct bt_loop *l, struct bt_timer *t)
{
	struct probe *p = t->arg;

	(void)l;
	switch (p->ph) {
	case PH_METADATA:
		timeout_note(p, "no ut_metadata piece");
		if (p->ph != PH_DONE)
			next(p);
		break;
	case PH_HANDSHAKE:
		timeout_note(p, "no handshake from the peer");
		finish(p);
		break;
	case PH_SETTLE:
		next(p);
		break;
	case PH_UNCHOKE:
		timeout_note(p, "no unchoke");
		finish(p);
		break;
	case PH_BLOCKS:
		{
			char b[128];
			snprintf(b, sizeof b, "%" PRIu32 " of %" PRIu32 " requests unanswered "
				 "after %" PRIu64 " ms", p->nblocks - p->answered, p->nblocks,
				 p->app->o.timeout_us / 1000);
			timed_out(p, b);
		}
		finish(p);
		break;
	case PH_STAY:
		finish(p);
		break;
	default:
		break;
	}
}

static void on_keepalive(struct bt_loop *l, struct bt_timer *t)
{
	struct probe *p = t->arg;

	if ((p->ph != PH_STAY && p->ph != PH_INTERACTIVE) || p->c.state != BT_CONN_OPEN)
		return;
	bt_conn_send_keepalive(&p->c);
	bt_timer_arm(l, t, p->app->o.keepalive_us);
}

static void send_handshake(struct probe *p)
{
	const struct opts *o = &p->app->o;
	struct bt_conn_hs h;

	bt_conn_hs_default(&h, p->app->s.info_hash, p->app->peer_id);
	if (!o->no_ext)
		bt_reserved_set(h.reserved, BT_RSV_EXTENSION);
	if (o->fast)
		bt_reserved_set(h.reserved, BT_RSV_FAST);
	if (o->dht)
		bt_reserved_set(h.reserved, BT_RSV_DHT);
	if (o->pstr) {
		h.pstr = o->pstr;
		h.pstr_len = strlen(o->pstr);
	}
	h.pstrlen_byte = o->pstrlen;
	h.pstrlen_after = o->pstrlen_after;
	if (o->short_peer_id >= 0)
		h.peer_id_len = (size_t)o->short_peer_id;
	if (o->wrong_info_hash) {
		size_t i;
		for (i = 0; i < 20; i++)
			h.info_hash[i] ^= 0xff;
	}
	bt_conn_send_handshake(&p->c, &h);
}

/* The length we requested for block k (send_requests). */
static uint64_t block_len(const struct probe *p, uint32_t k)
{
	uint64_t bs = p->app->o.block_size, begin = (uint64_t)k * bs;

	return p->psize && begin + bs > p->psize ? p->psize - begin : bs;
}

/* A block counts only when index, begin AND length are those of a
 * request still outstanding: anything else (never asked for, another
 * length, a repeat) is noted on the timeline and left out of the piece
 * (diag.h judges it too: "unrequested-piece"). */
static void on_block(struct probe *p, const struct bt_msg *m)
{
	uint32_t bs = p->app->o.block_size, k = 0;
	const char *why = NULL;

	if (!p->requested || m->u.piece.index != p->piece || m->u.piece.begin % bs ||
	    (k = m->u.piece.begin / bs) >= p->nblocks)
		why = "never requested";
	else if (m->u.piece.len != block_len(p, k))
		why = "not the length requested";
	else if (p->gotmap[k])
		why = p->gotmap[k] == 1 ? "received already" : "rejected already";
	if (why) {
		snprintf(p->note, sizeof p->note, "piece index %" PRIu32 " begin %" PRIu32
			 " length %zu %s: not counted", m->u.piece.index, m->u.piece.begin,
			 m->u.piece.len, why);
		bt_conn_note(&p->c, BT_EV_NOTE, p->note);
		return;
	}
	p->gotmap[k] = 1;
	p->answered++;
	p->received++;
	if (p->pbuf)
		memcpy(p->pbuf + m->u.piece.begin, m->u.piece.data, m->u.piece.len);
}

static void on_reject(struct probe *p, const struct bt_msg *m)
{
	uint32_t bs = p->app->o.block_size, k;

	if (!p->requested || m->u.req.index != p->piece || m->u.req.begin % bs)
		return;
	k = m->u.req.begin / bs;
	if (k >= p->nblocks || p->gotmap[k] || m->u.req.length != block_len(p, k))
		return;
	p->gotmap[k] = 2;
	p->answered++;
}

static void on_event(struct bt_conn *c, const struct bt_event *ev, void *arg)
{
	struct probe *p = arg;

	pcap_event(&p->app->pcap, &p->flow, c, ev);
	bt_diag_feed(&p->d, ev);
	if (p->print_events) {
		rl_hide(p->app);
		bt_print_event(&p->app->out, &p->pc, ev);
		rl_show(p->app);
	} else {
		bt_print_ctx_learn(&p->pc, ev);
	}

	switch (ev->kind) {
	case BT_EV_CONNECTED:
		p->ph = PH_HANDSHAKE;
		send_handshake(p);
		if (p->ph == PH_HANDSHAKE)
			arm(p, p->app->o.timeout_us);
		break;
	case BT_EV_CONNECT_FAILED:
	case BT_EV_RESET:
	case BT_EV_CLOSED:
		finish(p);
		break;
	case BT_EV_HANDSHAKE:
		if (ev->dir == BT_DIR_IN && p->ph == PH_HANDSHAKE) {
			bt_timer_stop(&p->app->loop, &p->timer);
			next(p);
		}
		break;
	case BT_EV_MSG:
		if (ev->dir != BT_DIR_IN)
			break;
		switch (ev->msg->kind) {
		case BT_MSG_BITFIELD: case BT_MSG_HAVE_ALL: case BT_MSG_HAVE_NONE:
		case BT_MSG_HAVE:
			if (p->ph == PH_SETTLE)
				next(p);
			break;
		case BT_MSG_UNCHOKE:
			if (p->ph == PH_UNCHOKE)
				next(p);
			break;
		case BT_MSG_PIECE:
			on_block(p, ev->msg);
			if (p->ph == PH_BLOCKS && p->answered == p->nblocks)
				next(p);
			break;
		case BT_MSG_EXTENDED:
			if (ev->msg->u.ext.id == BT_EXT_ID_HANDSHAKE) {
				struct bt_ext_hs h;
				if (bt_ext_hs_parse(&h, ev->msg->u.ext.payload, ev->msg->u.ext.len,
						    NULL) == BT_OK) {
					p->peer_utm = bt_ext_hs_id(&h, "ut_metadata");
					if (h.have & BT_EXT_HAVE_METADATA_SIZE)
						p->peer_md_size = h.metadata_size;
				}
			} else if (ev->msg->u.ext.id == OUR_UT_METADATA) {
				on_metadata(p, ev->msg);
			}
			break;
		case BT_MSG_REJECT:
			on_reject(p, ev->msg);
			if (p->ph == PH_BLOCKS && p->answered == p->nblocks)
				next(p);
			break;
		default:
			break;
		}
		break;
	default:
		break;
	}
}

static void on_wire(struct bt_conn *c, enum bt_dir dir, const uint8_t *b, size_t n,
		    void *arg)
{
	struct probe *p = arg;

	pcap_wire(&p->app->pcap, &p->flow, c, dir, b, n);
}

static int probe_init(struct probe *p, struct app *a, const char *target)
{
	struct bt_conn_cfg cfg;
	const struct opts *o = &a->o;
	struct bt_diag_opts dopt;
	uint32_t max = BT_FRAMER_DEFAULT_MAX;

	memset(p, 0, sizeof *p);
	p->app = a;
	p->verified = -1;
	p->peer_md_size = -1;
	p->print_events = !o->quiet && !a->swarm;
	snprintf(p->addr, sizeof p->addr, "%s", target);
	memset(&cfg, 0, sizeof cfg);
	if (bt_sockaddr_parse(target, true, &cfg.peer, &cfg.peer_len) != BT_OK) {
		warnx("%s: want IPv4:PORT or [IPv6]:PORT", target);
		return -1;
	}
	if (o->bind && bt_sockaddr_parse(o->bind, false, &cfg.src, &cfg.src_len) != BT_OK) {
		warnx("--bind %s: want an IPv4 or IPv6 address", o->bind);
		return -1;
	}
	cfg.connect_timeout_us = o->timeout_us;
	/* A larger block needs a larger cap on the piece message. */
	if (o->block_size + 13u > max)
		max = o->block_size + 13u;
	cfg.max_msg_len = max;
	cfg.on_event = on_event;
	cfg.arg = p;
	cfg.encryption = o->encryption;
	cfg.enc_crypto = o->crypto;
	/* With prefer, MSE must give up well before our own wait for the
	 * peer's handshake does, to leave time for the plain attempt. */
	cfg.enc_timeout_us = o->timeout_us * 2 / 3 < 5000000u ? o->timeout_us * 2 / 3 : 5000000u;
	if (o->keylog) {
		cfg.on_keylog = bt_conn_keylog_append;
		cfg.keylog_arg = (void *)o->keylog;
	}
	if (a->pcap.wire) {
		cfg.on_wire = on_wire;
		cfg.wire_arg = p;
	}
	if (bt_conn_init(&p->c, &a->loop, &cfg) != BT_OK) {
		warnx("%s: cannot set up the connection", target);
		return -1;
	}
	memset(&dopt, 0, sizeof dopt);
	dopt.have_info_hash = true;
	memcpy(dopt.info_hash, a->s.info_hash, 20);
	if (a->s.have_meta)
		dopt.piece_count = a->s.meta.piece_count;
	bt_diag_init(&p->d, &dopt);
	bt_print_ctx_init(&p->pc);
	p->pc.verbosity = o->verbose;
	p->pc.have_info_hash = true;
	memcpy(p->pc.info_hash, a->s.info_hash, 20);
	p->pc.frame_cap = max;
	if (a->s.have_meta) {
		p->pc.piece_count = a->s.meta.piece_count;
		p->pc.piece_length = a->s.meta.piece_length;
		p->pc.total_size = a->s.meta.total_size;
	}
	p->timer.cb = on_timer;
	p->timer.arg = p;
	p->ka.cb = on_keepalive;
	p->ka.arg = p;
	return 0;
}

static void probe_start(struct probe *p)
{
	p->ph = PH_CONNECT;
	bt_conn_connect(&p->c);
}

static void probe_free(struct probe *p)
{
	bt_timer_stop(&p->app->loop, &p->timer);
	bt_timer_stop(&p->app->loop, &p->ka);
	bt_conn_free(&p->c);
	bt_diag_free(&p->d);
	free(p->pbuf);
	free(p->gotmap);
	free(p->md);
}

/* ---- -I: interactive ---------------------------------------------------- */

/* readline's callback interface keeps its state in globals and calls
 * back without an argument: this one pointer is how the line handler
 * finds the session (the tool's only mutable global). */
static struct app *rl_app;

static const char *const commands[] = {
	"allowed_fast", "bitfield", "cancel", "choke", "close", "extended", "have",
	"have_all", "have_none", "help", "interested", "keepalive", "not_interested",
	"port", "quit", "raw", "reject", "request", "suggest", "unchoke", NULL,
};

/* Move the prompt and the half-typed line out of the way of an event
 * line, then put them back. */
static char *rl_saved;
static int rl_saved_point;

static void rl_hide(struct app *a)
{
	if (!a->rl_active)
		return;
	rl_saved_point = rl_point;
	rl_saved = rl_copy_text(0, rl_end);
	rl_save_prompt();
	rl_replace_line("", 0);
	rl_redisplay();
}

static void rl_show(struct app *a)
{
	if (!a->rl_active)
		return;
	fflush(a->out.f);
	rl_restore_prompt();
	rl_replace_line(rl_saved ? rl_saved : "", 0);
	rl_point = rl_saved_point;
	free(rl_saved);
	rl_saved = NULL;
	rl_redisplay();
}

static char *command_gen(const char *text, int state)
{
	static size_t i, len;

	if (!state) {
		i = 0;
		len = strlen(text);
	}
	while (commands[i]) {
		const char *c = commands[i++];
		if (strncmp(c, text, len) == 0)
			return strdup(c);
	}
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)end;
	rl_attempted_completion_over = 1;   /* no file names */
	return start == 0 ? rl_completion_matches(text, command_gen) : NULL;
}

static void say(struct app *a, const char *msg)
{
	rl_hide(a);
	fprintf(stderr, "%s\n", msg);
	rl_show(a);
}

static bool u32arg(char **tok, int i, int n, uint32_t *v)
{
	char *e;
	unsigned long x;

	if (i >= n)
		return false;
	errno = 0;
	x = strtoul(tok[i], &e, 0);
	if (*e || errno || x > UINT32_MAX || tok[i][0] == '-')
		return false;
	*v = (uint32_t)x;
	return true;
}

static int unhex(const char *h, uint8_t *out, size_t cap, size_t *n)
{
	size_t l = strlen(h), i;

	if (l % 2 || l / 2 > cap)
		return -1;
	for (i = 0; i < l / 2; i++) {
		int x = hexval(h[2 * i]), y = hexval(h[2 * i + 1]);
		if (x < 0 || y < 0)
			return -1;
		out[i] = (uint8_t)(x << 4 | y);
	}
	*n = l / 2;
	return 0;
}

/* One typed line: a message name and its arguments. */
static void run_command(struct app *a, char *line)
{
	struct probe *p = a->ip;
	struct bt_conn *c = &p->c;
	char *tok[8], *save = NULL, *t;
	int n = 0;
	uint32_t x, y, z;
	static uint8_t buf[65536 + 16];
	size_t len;
	struct bt_wr w;
	const char *cmd;

	for (t = strtok_r(line, " \t", &save); t && n < 8; t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	if (!n)
		return;
	cmd = tok[0];
	bt_wr_init(&w, buf, sizeof buf);
	if (!strcmp(cmd, "help")) {
		say(a, "messages: choke unchoke interested not_interested have_all have_none\n"
		    "  have N | suggest N | allowed_fast N | port N\n"
		    "  request I B [L] | cancel I B [L] | reject I B [L]   (L: 16384)\n"
		    "  bitfield all|none|HEX | extended ID [PAYLOAD] | raw HEX (a whole frame)\n"
		    "  keepalive | close | quit");
		return;
	}
	if (!strcmp(cmd, "quit") || !strcmp(cmd, "close")) {
		finish(p);
		return;
	}
	if (!strcmp(cmd, "choke")) bt_msg_put_simple(&w, BT_MSG_CHOKE);
	else if (!strcmp(cmd, "unchoke")) bt_msg_put_simple(&w, BT_MSG_UNCHOKE);
	else if (!strcmp(cmd, "interested")) bt_msg_put_simple(&w, BT_MSG_INTERESTED);
	else if (!strcmp(cmd, "not_interested")) bt_msg_put_simple(&w, BT_MSG_NOT_INTERESTED);
	else if (!strcmp(cmd, "have_all")) bt_msg_put_simple(&w, BT_MSG_HAVE_ALL);
	else if (!strcmp(cmd, "have_none")) bt_msg_put_simple(&w, BT_MSG_HAVE_NONE);
	else if (!strcmp(cmd, "keepalive")) bt_msg_put_keepalive(&w);
	else if (!strcmp(cmd, "have") || !strcmp(cmd, "suggest") || !strcmp(cmd, "allowed_fast")) {
		if (!u32arg(tok, 1, n, &x))
			{ say(a, "usage: have|suggest|allowed_fast INDEX"); return; }
		bt_msg_put_index(&w, (uint8_t)(cmd[0] == 'h' ? BT_MSG_HAVE : cmd[0] == 's' ?
					       BT_MSG_SUGGEST : BT_MSG_ALLOWED_FAST), x);
	} else if (!strcmp(cmd, "port")) {
		if (!u32arg(tok, 1, n, &x) || x > 65535)
			{ say(a, "usage: port N"); return; }
		bt_msg_put_port(&w, (uint16_t)x);
	} else if (!strcmp(cmd, "request") || !strcmp(cmd, "cancel") || !strcmp(cmd, "reject")) {
		z = BT_BLOCK_LEN;
		if (!u32arg(tok, 1, n, &x) || !u32arg(tok, 2, n, &y) ||
		    (n > 3 && !u32arg(tok, 3, n, &z)))
			{ say(a, "usage: request|cancel|reject INDEX BEGIN [LENGTH]"); return; }
		bt_msg_put_block(&w, (uint8_t)(cmd[0] == 'r' && cmd[2] == 'q' ? BT_MSG_REQUEST :
					       cmd[0] == 'c' ? BT_MSG_CANCEL : BT_MSG_REJECT),
				 x, y, z);
	} else if (!strcmp(cmd, "bitfield")) {
		uint64_t np = a->s.have_meta ? a->s.meta.piece_count : 0;
		static uint8_t bits[8192];
		size_t nb = 0;
		if (n < 2)
			{ say(a, "usage: bitfield all|none|HEX"); return; }
		if (!strcmp(tok[1], "all") || !strcmp(tok[1], "none")) {
			if (!np || (np + 7) / 8 > sizeof bits)
				{ say(a, "bitfield all|none needs --torrent (or give HEX)"); return; }
			nb = (size_t)(np + 7) / 8;
			memset(bits, tok[1][0] == 'a' ? 0xff : 0, nb);
			if (tok[1][0] == 'a' && np % 8)
				bits[nb - 1] = (uint8_t)(0xff << (8 - np % 8));
		} else if (unhex(tok[1], bits, sizeof bits, &nb) != 0) {
			{ say(a, "bitfield: bad hex"); return; }
		}
		bt_msg_put_bitfield(&w, bits, nb);
	} else if (!strcmp(cmd, "extended")) {
		if (!u32arg(tok, 1, n, &x) || x > 255)
			{ say(a, "usage: extended ID [PAYLOAD]"); return; }
		t = n > 2 ? tok[2] : "";
		bt_msg_put_extended(&w, (uint8_t)x, (const uint8_t *)t, strlen(t));
	} else if (!strcmp(cmd, "raw")) {
		if (n < 2 || unhex(tok[1], buf, sizeof buf, &len) != 0)
			{ say(a, "usage: raw HEX (length prefix included)"); return; }
		if (bt_conn_send_raw(c, buf, len) != BT_OK)
			say(a, "raw: not one whole frame (the length prefix must match)");
		return;
	} else {
		{ say(a, "unknown message; 'help' lists them (TAB completes)"); return; }
	}
	if (!bt_wr_ok(&w) || bt_conn_send_raw(c, buf, w.len) != BT_OK)
		say(a, "could not send");
}

static void on_line(char *line)
{
	struct app *a = rl_app;

	if (!line) {                       /* ^D */
		a->rl_active = false;
		rl_callback_handler_remove();
		a->rl_installed = false;
		finish(a->ip);
		return;
	}
	if (*line)
		add_history(line);
	/* readline has moved past the accepted line and redraws the prompt
	 * when this returns: print plainly meanwhile. */
	a->rl_active = false;
	if (a->ip && a->ip->ph == PH_INTERACTIVE)
		run_command(a, line);
	a->rl_active = a->ip && a->ip->ph == PH_INTERACTIVE;
	free(line);
	if (!a->rl_active && a->ip) {
		/* quit: no prompt after this (allowed inside the handler) */
		rl_callback_handler_remove();
		a->rl_installed = false;
	}
}

static void on_stdin(struct bt_loop *l, struct bt_io *io, unsigned ev)
{
	(void)l;
	(void)io;
	(void)ev;
	rl_callback_read_char();
}

static void interactive_start(struct probe *p)
{
	struct app *a = p->app;

	p->ph = PH_INTERACTIVE;
	a->ip = p;
	rl_app = a;
	rl_readline_name = "bt-handshake";
	rl_attempted_completion_function = complete;
	rl_variable_bind("enable-bracketed-paste", "off");
	rl_callback_handler_install("bt> ", on_line);
	a->rl_active = a->rl_installed = true;
	a->stdin_io.fd = STDIN_FILENO;
	a->stdin_io.want = BT_IO_IN;
	a->stdin_io.cb = on_stdin;
	a->stdin_io.arg = a;
	if (bt_io_add(&a->loop, &a->stdin_io) != 0)
		warn("stdin");
	if (p->app->o.keepalive_us)
		bt_timer_arm(&a->loop, &p->ka, p->app->o.keepalive_us);
}

static void interactive_stop(struct app *a)
{
	if (!a->ip)
		return;
	a->ip = NULL;
	bt_io_del(&a->loop, &a->stdin_io);
	if (a->rl_installed) {
		/* the peer ended it: leave the prompt line */
		rl_hide(a);
		free(rl_saved);
		rl_saved = NULL;
		rl_callback_handler_remove();
	}
	a->rl_active = a->rl_installed = false;
}

/* ---- output ------------------------------------------------------------- */

/* A time in ms: JSON a number or null; text "LABEL12.345 ms" or nothing. */
static void put_ms(struct bt_out *o, const char *key, const char *label,
		   bool have, uint64_t us)
{
	if (have) {
		bt_out_fixed(o, key, label, (int64_t)us, 3);
		bt_out_text(o, " ms");
	} else {
		bt_out_null(o, key, NULL);
	}
}

/* Encryption of the last attempt: "rc4" or "plaintext" (MSE with that
 * method selected), or "none" (plain BitTorrent); the MSE time; how many
 * attempts the session took (conn.h redials). */
static void put_enc(struct bt_out *o, const struct probe *p)
{
	const struct bt_diag *d = &p->d;
	const struct bt_diag_attempt *a = &d->cur;

	if (a->mse_done) {
		bt_out_str(o, "encryption", ", MSE ", a->mse_select == BT_MSE_CRYPTO_RC4 ?
			   "rc4" : "plaintext");
		put_ms(o, "mse_ms", " in ", true, a->t_mse_done - a->t_mse);
	} else {
		bt_out_str(o, "encryption", NULL, "none");
		bt_out_null(o, "mse_ms", NULL);
	}
	if (d->natt)
		bt_out_uint(o, "attempts", ", attempt ", d->natt + 1);
	else
		bt_out_uint(o, "attempts", NULL, 1);
}

/* The facts of one session, for the summary line and a swarm row. */
static void put_facts(struct bt_out *o, const struct probe *p)
{
	const struct bt_diag *d = &p->d;
	const struct subject *s = &p->app->s;
	char client[BT_PEERID_STRLEN], rs[128];
	uint64_t total = s->have_meta ? s->meta.piece_count : 0;
	uint64_t have = d->have_all ? total : d->pieces_set;
	bool after = d->unchoked_ever && d->interested_ever && d->t_unchoke >= d->t_interested;

	bt_out_str(o, "peer", "", p->addr);
	if (!d->peer_hs) {
		bt_out_null(o, "client", NULL);
		bt_out_text(o, d->connect_failed ? " could not connect" : " no handshake");
		put_enc(o, p);
		return;
	}
	bt_peerid_client(d->peer_id, client, sizeof client);
	bt_out_str(o, "client", " ", client);
	if (d->client_v[0]) {
		bt_out_str(o, "v", " v '", d->client_v);
		bt_out_text(o, "'");
	}
	bt_out_str(o, "reserved", " reserved ",
		   bt_reserved_str(d->peer_reserved, rs, sizeof rs));
	/* Pieces: null until the peer says anything about them. */
	if (!d->announce) {
		bt_out_null(o, "pieces", " pieces ");
	} else if (d->have_all && !total) {
		bt_out_str(o, "pieces", " pieces ", "all");
	} else {
		bt_out_uint(o, "pieces", " pieces ", have);
		if (total) {
			bt_out_uint(o, "piece_count", "/", total);
			bt_out_fixed(o, "percent", " (", (int64_t)(have * 1000 / total), 1);
			bt_out_text(o, "%)");
		}
	}
	bt_out_str(o, "announce", NULL, d->announce ? bt_msg_name(d->announce) : "none");
	if (d->announce == BT_MSG_HAVE_NONE)
		bt_out_text(o, " (have none)");
	put_ms(o, "handshake_ms", " handshake after ", true, d->t_peer_hs - d->t_connected);
	put_ms(o, "first_msg_ms", ", first message +", d->in_msgs > 0,
	       d->t_first_in_msg - d->t_peer_hs);
	put_ms(o, "unchoke_ms", ", unchoked at ", d->unchoked_ever, d->t_unchoke);
	if (!d->unchoked_ever)
		bt_out_text(o, ", never unchoked");
	put_ms(o, "unchoke_after_interested_ms", " (+", after, d->t_unchoke - d->t_interested);
	if (after)
		bt_out_text(o, " after interested)");
	if (p->requested) {
		put_ms(o, "first_block_ms", ", first block at ", d->answered_in > 0,
		       d->t_first_piece);
		bt_out_uint(o, "blocks", ", blocks ", p->received);
		bt_out_uint(o, "blocks_requested", "/", p->nblocks);
		if (p->verified >= 0)
			bt_out_bool(o, "piece_ok", ", piece hash ok: ", p->verified == 1);
		else
			bt_out_null(o, "piece_ok", NULL);
	}
	put_enc(o, p);
}

static size_t print_verdicts(struct app *a, struct probe *p, bool *problem)
{
	struct bt_verdict v[16];
	size_t n, i;

	bt_diag_end(&p->d, p->t_end);
	n = bt_diag_verdicts(&p->d, v, 16);
	for (i = 0; i < n && i < 16; i++) {
		if (v[i].problem)
			*problem = true;
		bt_verdict_print(&a->out, &v[i]);
	}
	return n;
}

static void print_header(struct app *a, const char *target)
{
	struct bt_out *o = &a->out;
	const struct subject *s = &a->s;

	bt_out_begin(o);
	bt_out_str(o, "kind", NULL, "session");
	bt_out_text(o, "# bt-handshake");
	if (target)
		bt_out_str(o, "peer", " ", target);
	bt_out_hex(o, "info_hash", " info_hash ", s->info_hash, 20);
	bt_out_str(o, "encryption", a->o.encryption ? " encryption " : NULL,
		   bt_conn_enc_name(a->o.encryption));
	if (s->have_meta) {
		bt_out_bytes(o, "name", " (", s->meta.name.p, s->meta.name.len);
		bt_out_uint(o, "piece_count", ", ", s->meta.piece_count);
		bt_out_uint(o, "piece_length", " pieces of ", s->meta.piece_length);
		bt_out_text(o, " bytes)");
	}
	bt_out_end(o);
	fflush(o->f);
}

/* ---- single peer -------------------------------------------------------- */

static int run_single(struct app *a)
{
	struct probe *p = calloc(1, sizeof *p);
	bool problem = false;
	int rc;

	if (!p)
		err(EXIT_PROBLEM, "malloc");
	if (probe_init(p, a, a->o.target) != 0)
		exit(EXIT_USAGE);
	print_header(a, a->o.target);
	probe_start(p);
	while (p->ph != PH_DONE) {
		if (bt_loop_once(&a->loop, 200000) < 0 && errno != EINTR)
			err(EXIT_PROBLEM, "event loop");
		fflush(a->out.f);
	}
	interactive_stop(a);
	bt_out_begin(&a->out);
	bt_out_str(&a->out, "kind", NULL, "summary");
	bt_out_text(&a->out, "summary ");
	put_facts(&a->out, p);
	bt_out_end(&a->out);
	print_verdicts(a, p, &problem);
	if (p->d.connect_failed)
		rc = EXIT_NOCONN;
	else if (problem || p->verified == 0)
		rc = EXIT_PROBLEM;
	else
		rc = 0;
	probe_free(p);
	free(p);
	return rc;
}

/* ---- swarm -------------------------------------------------------------- */

#define OUR_ANNOUNCE_PORT 1  /* we accept no connections; see the man page */

struct swarm {
	struct app *a;
	struct bt_trk_client *tc;
	struct bt_trk_req *reqs;
	bool *done;                   /* reqs[i]'s done() has run */
	size_t nreqs, pending;
	char (*peers)[64];
	size_t npeers;
};

static void on_announce(struct bt_trk_req *r)
{
	struct swarm *w = r->arg;

	w->done[r - w->reqs] = true;
	w->pending--;
}

static void add_peer(struct swarm *w, const char *addr)
{
	size_t i;

	for (i = 0; i < w->npeers; i++)
		if (strcmp(w->peers[i], addr) == 0)
			return;
	if (w->npeers < MAX_PEERS)
		snprintf(w->peers[w->npeers++], sizeof w->peers[0], "%s", addr);
}

/* The withdrawal (event=stopped) is a courtesy to the trackers that
 * listed us: it gets this long at most, whatever --timeout says, so that
 * it does not count against the user's bound. */
#define STOP_WAIT_US 1000000u

static void tracker_req(struct swarm *w, size_t i, int event)
{
	struct app *a = w->a;
	const struct subject *s = &a->s;
	struct bt_trk_req *r = &w->reqs[i];

	bt_trk_req_init(r);
	r->kind = BT_TRK_ANNOUNCE;
	if (s->have_meta) {
		r->url = (const char *)s->meta.trackers[i].url.p;
		r->url_len = s->meta.trackers[i].url.len;
	} else {
		r->url = (const char *)s->mg.tr[i].p;
		r->url_len = s->mg.tr[i].len;
	}
	memcpy(r->ann.info_hash, s->info_hash, 20);
	memcpy(r->ann.peer_id, a->peer_id, 20);
	r->ann.port = OUR_ANNOUNCE_PORT;
	r->ann.left = s->have_meta ? s->meta.total_size : 1;
	r->ann.numwant = event == BT_TRK_EV_STOPPED ? 0 : 200;
	r->ann.compact = BT_TRK_COMPACT_YES;
	r->ann.event = event;
	r->done = on_announce;
	r->arg = w;
	w->done[i] = false;
	if (bt_trk_start(w->tc, r) == 0) {
		w->pending++;
	} else {
		w->done[i] = true;
		r->fail = BT_TRKF_LOCAL;
		snprintf(r->msg, sizeof r->msg, "cannot start the request");
	}
}

static void wait_trackers(struct swarm *w, uint64_t us)
{
	uint64_t deadline = bt_now_us() + us;

	while (w->pending && bt_now_us() < deadline)
		bt_loop_once(&w->a->loop, 200000);
}

/* Announce to every tracker of the torrent (all at once, each bounded by
 * --timeout), print each answer with print.h's tracker printer (as
 * bt-announce does), collect the peers; then leave again with
 * event=stopped, only where the announce was answered (a tracker that
 * never answered, or refused us, has not listed us), so the probe does
 * not stay listed. */
static void ask_trackers(struct swarm *w)
{
	struct app *a = w->a;
	const struct subject *s = &a->s;
	struct bt_trk_opts to;
	size_t i, k, n = s->have_meta ? s->meta.ntrackers : s->mg.ntr;
	bool *listed;

	if (!n) {
		warnx("the torrent names no tracker: give peers with --peer");
		return;
	}
	bt_trk_opts_init(&to);
	to.timeout_us = a->o.timeout_us;
	if (bt_trk_client_new(&w->tc, &a->loop, &to) != 0)
		errx(EXIT_PROBLEM, "cannot start the tracker client");
	w->reqs = calloc(n, sizeof *w->reqs);
	w->done = calloc(n, sizeof *w->done);
	listed = calloc(n, sizeof *listed);
	if (!w->reqs || !w->done || !listed)
		err(EXIT_PROBLEM, "malloc");
	w->nreqs = n;
	for (i = 0; i < n; i++)
		tracker_req(w, i, BT_TRK_EV_NONE);
	/* trk.h ends every request by --timeout; the slack is for its loop. */
	wait_trackers(w, a->o.timeout_us + 2000000u);
	for (i = 0; i < n; i++) {
		struct bt_trk_req *r = &w->reqs[i];
		char url[512], addr[BT_ADDR_STRLEN];

		if (!w->done[i]) {
			/* trk.h's own deadline should have ended it by now */
			bt_trk_cancel(r);
			r->fail = BT_TRKF_TIMEOUT;
			snprintf(r->msg, sizeof r->msg, "no answer within %.1f s",
				 (double)(a->o.timeout_us + 2000000u) / 1e6);
		}
		snprintf(url, sizeof url, "%.*s", (int)(r->url_len < 500 ? r->url_len : 500),
			 r->url);
		bt_out_begin(&a->out);
		bt_print_trk_req_fields(&a->out, NULL, url, r);
		bt_print_trk_req_lists(&a->out, NULL, r);
		bt_out_end(&a->out);
		if (r->fail != BT_TRKF_OK)
			continue;
		listed[i] = true;
		for (k = 0; k < r->resp.nstored; k++) {
			if (r->peers[k].port == OUR_ANNOUNCE_PORT || r->peers[k].port == 0)
				continue;   /* ourselves, or a peer that gave no port */
			add_peer(w, bt_addr_fmt(&r->peers[k], addr, sizeof addr));
		}
	}
	fflush(a->out.f);
	w->pending = 0;
	for (i = 0; i < n; i++) {
		bt_trk_req_free(&w->reqs[i]);
		if (listed[i])
			tracker_req(w, i, BT_TRK_EV_STOPPED);
	}
	wait_trackers(w, a->o.timeout_us < STOP_WAIT_US ? a->o.timeout_us : STOP_WAIT_US);
	w->pending = 0;
	for (i = 0; i < n; i++) {
		bt_trk_cancel(&w->reqs[i]);
		bt_trk_req_free(&w->reqs[i]);
	}
	free(listed);
	free(w->done);
	free(w->reqs);
	bt_trk_client_free(w->tc);
}

/* One row: the facts, then the verdict names (all of them with -v). */
static bool print_row(struct app *a, struct probe *p)
{
	struct bt_out *o = &a->out;
	struct bt_verdict v[16];
	size_t n, i;
	bool problem = false;

	bt_diag_end(&p->d, p->t_end);
	n = bt_diag_verdicts(&p->d, v, 16);
	for (i = 0; i < n && i < 16; i++)
		problem |= v[i].problem;
	bt_out_begin(o);
	bt_out_str(o, "kind", NULL, "peer");
	put_facts(o, p);
	bt_out_arr_begin(o, "verdicts", " verdict ");
	for (i = 0; i < n && i < 16; i++) {
		bt_out_text(o, i ? "," : "");
		bt_out_str(o, NULL, "", v[i].name);
	}
	if (!n)
		bt_out_text(o, "none");
	bt_out_arr_end(o);
	bt_out_bool(o, "problem", NULL, problem);
	bt_out_end(o);
	if (a->o.verbose)
		for (i = 0; i < n && i < 16; i++)
			bt_verdict_print(o, &v[i]);
	fflush(o->f);
	return problem;
}

/* Which pieces each answering peer has: availability per piece. */
static void print_swarm_summary(struct app *a, struct probe *pr, size_t n)
{
	struct bt_out *o = &a->out;
	uint64_t pieces = a->s.have_meta ? a->s.meta.piece_count : 0;
	size_t i, answered = 0, seeds = 0, unchoked = 0, connected = 0;
	uint32_t *avail = NULL, minv = UINT32_MAX;
	uint64_t k, missing = 0, nrare = 0;

	if (!pieces)
		for (i = 0; i < n; i++)
			if ((uint64_t)pr[i].d.bitfield_bits > pieces)
				pieces = pr[i].d.bitfield_bits;
	if (pieces && pieces <= BT_DIAG_MAX_PIECES)
		avail = calloc(pieces, sizeof *avail);
	for (i = 0; i < n; i++) {
		const struct bt_diag *d = &pr[i].d;
		bool seed;
		connected += d->connected;
		if (!d->peer_hs)
			continue;
		answered++;
		seed = d->have_all || (pieces && d->pieces_set >= pieces);
		seeds += seed;
		unchoked += d->unchoked_ever;
		if (avail)
			for (k = 0; k < pieces; k++)
				if (d->have_all || (k / 8 < d->bits_cap &&
						    (d->bits[k / 8] >> (7 - k % 8) & 1)))
					avail[k]++;
	}
	if (avail) {
		for (k = 0; k < pieces; k++) {
			if (avail[k] < minv)
				minv = avail[k];
			missing += avail[k] == 0;
		}
	}
	bt_out_begin(o);
	bt_out_str(o, "kind", NULL, "swarm");
	bt_out_uint(o, "peers", "swarm: ", n);
	bt_out_uint(o, "connected", " peers, ", connected);
	bt_out_uint(o, "answered", " connected, ", answered);
	bt_out_uint(o, "seeds", " answered, ", seeds);
	bt_out_uint(o, "unchoked", " seeds, ", unchoked);
	bt_out_text(o, " unchoked us");
	if (avail) {
		bt_out_uint(o, "pieces", "; ", pieces);
		bt_out_uint(o, "missing", " pieces, ", missing);
		bt_out_text(o, " held by nobody");
		bt_out_uint(o, "rarest_count", ", rarest held by ", minv);
		bt_out_arr_begin(o, "rarest", " peer(s): pieces ");
		for (k = 0; k < pieces; k++) {
			if (avail[k] != minv)
				continue;
			if (nrare++ < 16) {
				bt_out_text(o, nrare > 1 ? "," : "");
				bt_out_uint(o, NULL, "", k);
			}
		}
		bt_out_arr_end(o);
		if (nrare > 16) {
			bt_out_uint(o, "rarest_total", " ... (", nrare);
			bt_out_text(o, " in all)");
		}
	}
	bt_out_end(o);
	free(avail);
}

static int run_swarm(struct app *a)
{
	struct opts *o = &a->o;
	struct swarm w;
	struct probe *pr;
	size_t i, next = 0, running = 0, done = 0;
	bool any_ok = false, any_conn = false;

	memset(&w, 0, sizeof w);
	w.a = a;
	w.peers = calloc(MAX_PEERS, sizeof *w.peers);
	if (!w.peers)
		err(EXIT_PROBLEM, "malloc");
	/* Without actions a row could not say whether the peer unchokes. */
	if (!o->interested && !o->wait_unchoke && o->nreq < 0)
		o->interested = o->wait_unchoke = true;
	print_header(a, NULL);
	if (o->npeers)
		for (i = 0; i < o->npeers; i++)
			add_peer(&w, o->peers[i]);
	else
		ask_trackers(&w);
	if (!w.npeers) {
		warnx("no peer to probe");
		free(w.peers);
		return EXIT_NOCONN;
	}
	pr = calloc(w.npeers, sizeof *pr);
	if (!pr)
		err(EXIT_PROBLEM, "malloc");
	while (done < w.npeers) {
		while (running < o->parallel && next < w.npeers) {
			struct probe *p = &pr[next++];
			if (probe_init(p, a, w.peers[next - 1]) != 0) {
				p->ph = PH_DONE;
				done++;
				continue;
			}
			if (o->verbose) {
				p->print_events = !o->quiet;
				p->pc.peer = p->addr;
			}
			running++;
			probe_start(p);
		}
		if (running && bt_loop_once(&a->loop, 200000) < 0 && errno != EINTR)
			err(EXIT_PROBLEM, "event loop");
		for (i = 0; i < next; i++) {
			struct probe *p = &pr[i];
			if (p->ph != PH_DONE || !p->app || p->c.loop == NULL)
				continue;
			/* Finished this round: report, release the socket and
			 * buffers (not inside the loop's dispatch, loop.h). */
			if (!print_row(a, p) && p->d.peer_hs && p->verified != 0)
				any_ok = true;
			any_conn |= p->d.connected;
			bt_conn_free(&p->c);
			running--;
			done++;
		}
	}
	print_swarm_summary(a, pr, w.npeers);
	for (i = 0; i < w.npeers; i++)
		if (pr[i].app)
			probe_free(&pr[i]);
	free(pr);
	free(w.peers);
	return any_ok ? 0 : any_conn ? EXIT_PROBLEM : EXIT_NOCONN;
}

int main(int argc, char **argv)
{
	struct app *a = calloc(1, sizeof *a);
	int rc;

	if (!a)
		err(EXIT_PROBLEM, "malloc");
	signal(SIGPIPE, SIG_IGN);
	parse_opts(argc, argv, &a->o);
	load_subject(&a->o, &a->s);
	if (bt_peerid_generate(a->peer_id, NULL, NULL) != BT_OK)
		errx(EXIT_PROBLEM, "no random source for the peer id");
	if (a->o.peer_id)
		memcpy(a->peer_id, a->o.peer_id, strlen(a->o.peer_id));
	if (bt_loop_init(&a->loop) != 0)
		err(EXIT_PROBLEM, "epoll");
	bt_out_init(&a->out, stdout, a->o.json);
	if (a->o.pcap) {
		pcap_open(&a->pcap, a->o.pcap);
		a->pcap.wire = a->o.encryption != BT_CONN_ENC_OFF;
	}
	a->swarm = a->o.target == NULL;
	rc = a->swarm ? run_swarm(a) : run_single(a);
	fflush(stdout);
	if (a->pcap.f && fclose(a->pcap.f) != 0)
		warn("%s", a->pcap.path);
	bt_loop_free(&a->loop);
	if (a->s.have_meta)
		bt_meta_free(&a->s.meta);
	free(a->s.meta_buf);
	free(a->s.mg_scratch);
	free(a);
	return rc;
}
