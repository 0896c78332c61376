/* bt-fetch — download a torrent (all of it, chosen files or chosen
 * pieces) from peers, verifying every piece before it is written.
 *
 *   bt-fetch [options] (TORRENT | --magnet URI)
 *
 * Peers come from --peer and from the trackers.  Everything the engine
 * does is in common/fetch.c; this file reads options, prints (through
 * print.h for -v, out.h for the rest) and maps the result to an exit
 * code:
 *   0 every wanted piece is verified on disk
 *   1 incomplete: gave up (no progress for --idle seconds, every peer
 *     gone) or interrupted
 *   2 usage, or an unreadable torrent / magnet
 *   3 no peer could be reached
 *   4 the output could not be written (or is unsafe: a symlink in the way)
 *   5 magnet: no usable metadata */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "fetch.h"
#include "loop.h"
#include "magnet.h"
#include "meta.h"
#include "out.h"
#include "print.h"

#define EXIT_INCOMPLETE 1
#define EXIT_USAGE      2
#define EXIT_NOPEERS    3
#define EXIT_IO         4
#define EXIT_META       5
#define MAX_USER_PEERS  1024

static const char usage_text[] =
	"usage: bt-fetch [-jqv] [-o DIR] [--peer HOST:PORT]... [--files LIST] [--pieces LIST]\n"
	"                [options] (TORRENT | --magnet URI)\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
	if (f != stdout)
		return;
	fputs("\n"
	      "What and where:\n"
	      "      --magnet URI        fetch the metadata from peers first (BEP 9)\n"
	      "  -o, --output DIR        download directory (default .; created if missing)\n"
	      "      --files LIST        only these files: indices as bt-meta lists them,\n"
	      "                          e.g. 0,2-3 (pad files not counted)\n"
	      "      --pieces LIST       only these pieces, e.g. 0-9,42\n"
	      "Peers:\n"
	      "      --peer HOST:PORT    a peer to fetch from (repeatable)\n"
	      "      --no-trackers       do not ask the torrent's trackers\n"
	      "  -b, --bind ADDR         connect from this source address\n"
	      "      --port N            port announced to trackers (default 6881)\n"
	      "      --max-peers N       connections at once (default 40)\n"
	      "Limits (every wait is bounded):\n"
	      "      --mem MIB           piece buffers (default 16): peak memory follows this,\n"
	      "                          not the torrent's size\n"
	      "      --depth N           most requests in flight per peer (default 256)\n"
	      "  -t, --timeout SECONDS   connect and handshake deadline (default 10)\n"
	      "      --stall SECONDS     drop a peer that sends nothing while asked (default 20)\n"
	      "      --idle SECONDS      give up after this long without data (default 120)\n"
	      "      --hash-fails N      bad pieces a peer may send alone (default 3)\n"
	      "Output:\n"
	      "  -j, --json              JSON: one object per event and a summary, on stdout\n"
	      "  -q, --quiet             no progress, no peer lines: the summary only\n"
	      "  -v, --verbose           trace every message (print.h); -vv more detail\n"
	      "      --progress SECONDS  interval of plain progress lines (default 5; a bar on\n"
	      "                          a terminal)\n"
	      "  -h, --help              this text\n"
	      "\n"
	      "exit: 0 complete, 1 incomplete, 2 usage, 3 no peer reachable, 4 write error,\n"
	      "      5 no usable metadata\n", f);
}

struct opts {
	const char *torrent, *magnet, *outdir, *bind;
	const char *peers[MAX_USER_PEERS];
	size_t npeers;
	const char *files, *pieces;
	bool no_trackers, json, quiet;
	int verbose;
	unsigned max_peers, depth, hash_fails;
	uint16_t port;
	size_t mem;
	uint64_t timeout_us, stall_us, idle_us, progress_us;
};

enum {
	O_MAGNET = 256, O_FILES, O_PIECES, O_PEER, O_NO_TRACKERS, O_PORT,
	O_MAX_PEERS, O_MEM, O_DEPTH, O_STALL, O_IDLE, O_HASH_FAILS, O_PROGRESS,
};

static const struct option longopts[] = {
	{ "bind", required_argument, NULL, 'b' },
	{ "depth", required_argument, NULL, O_DEPTH },
	{ "files", required_argument, NULL, O_FILES },
	{ "hash-fails", required_argument, NULL, O_HASH_FAILS },
	{ "help", no_argument, NULL, 'h' },
	{ "idle", required_argument, NULL, O_IDLE },
	{ "json", no_argument, NULL, 'j' },
	{ "magnet", required_argument, NULL, O_MAGNET },
	{ "max-peers", required_argument, NULL, O_MAX_PEERS },
	{ "mem", required_argument, NULL, O_MEM },
	{ "no-trackers", no_argument, NULL, O_NO_TRACKERS },
	{ "output", required_argument, NULL, 'o' },
	{ "peer", required_argument, NULL, O_PEER },
	{ "pieces", required_argument, NULL, O_PIECES },
	{ "port", required_argument, NULL, O_PORT },
	{ "progress", required_argument, NULL, O_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "stall", required_argument, NULL, O_STALL },
	{ "timeout", required_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, 'v' },
	{ NULL, 0, NULL, 0 },
};

static void bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "bt-fetch: ");
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

static uint64_t seconds(const char *s, const char *what)
{
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (!*s || *e || errno || !(v > 0) || v > 86400)
		bad_usage("bad %s (seconds)", what);
	return (uint64_t)(v * 1e6);
}

/* "0-9,42" into ranges. */
static size_t ranges(const char *s, struct bt_fetch_range *out, size_t cap, const char *what)
{
	size_t n = 0;

	while (*s) {
		char *e;
		unsigned long a, b;
		errno = 0;
		if (*s < '0' || *s > '9')
			bad_usage("bad %s (a list like 0-9,42)", what);
		a = strtoul(s, &e, 10);
		b = a;
		if (*e == '-') {
			if (e[1] < '0' || e[1] > '9')
				bad_usage("bad %s (a list like 0-9,42)", what);
			b = strtoul(e + 1, &e, 10);
		}
		if (errno || a > UINT32_MAX || b > UINT32_MAX || b < a ||
		    (*e && *e != ','))
			bad_usage("bad %s (a list like 0-9,42)", what);
		if (n == cap)
			bad_usage("too many ranges in %s", what);
		out[n].first = (uint32_t)a;
		out[n].last = (uint32_t)b;
		n++;
		s = *e ? e + 1 : e;
		if (*e && !*s)
			bad_usage("bad %s (a list like 0-9,42)", what);
	}
	if (!n)
		bad_usage("empty %s", what);
	return n;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	memset(o, 0, sizeof *o);
	o->outdir = ".";
	o->progress_us = 5000000u;
	while ((c = getopt_long(argc, argv, "b:hjo:qt:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': o->bind = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'j': o->json = true; break;
		case 'o': o->outdir = optarg; break;
		case 'q': o->quiet = true; break;
		case 't': o->timeout_us = seconds(optarg, "--timeout"); break;
		case 'v': o->verbose++; break;
		case O_DEPTH: o->depth = (unsigned)num(optarg, 1, 4096, "--depth"); break;
		case O_FILES: o->files = optarg; break;
		case O_HASH_FAILS: o->hash_fails = (unsigned)num(optarg, 1, 1000, "--hash-fails"); break;
		case O_IDLE: o->idle_us = seconds(optarg, "--idle"); break;
		case O_MAGNET: o->magnet = optarg; break;
		case O_MAX_PEERS: o->max_peers = (unsigned)num(optarg, 1, 1000, "--max-peers"); break;
		case O_MEM: o->mem = (size_t)num(optarg, 1, 4096, "--mem") << 20; break;
		case O_NO_TRACKERS: o->no_trackers = true; break;
		case O_PEER:
			if (o->npeers == MAX_USER_PEERS)
				bad_usage("more than %s --peer", "1024");
			o->peers[o->npeers++] = optarg;
			break;
		case O_PIECES: o->pieces = optarg; break;
		case O_PORT: o->port = (uint16_t)num(optarg, 1, 65535, "--port"); break;
		case O_PROGRESS: o->progress_us = seconds(optarg, "--progress"); break;
		case O_STALL: o->stall_us = seconds(optarg, "--stall"); break;
		default: usage(stderr); exit(EXIT_USAGE);
		}
	}
	if (optind < argc)
		o->torrent = argv[optind++];
	if (optind < argc)
		bad_usage("unexpected argument %s", argv[optind]);
	if (!!o->torrent + !!o->magnet != 1)
		bad_usage("%s", "give a TORRENT file or --magnet URI");
}

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

/* ---- output ------------------------------------------------------------- */

struct app {
	struct opts o;
	struct bt_out out;             /* stdout: -v trace, JSON, summary */
	struct bt_fetch *f;
	struct bt_print_ctx *pctx[BT_FETCH_MAX_KNOWN];
	bool tty;
	bool bar_shown;
	uint64_t last_progress_us;
	uint64_t t0_us;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void clear_bar(struct app *a)
{
	if (a->bar_shown) {
		fputs("\r\033[K", stderr);
		a->bar_shown = false;
	}
}

static void on_event(void *arg, const struct bt_fetch_peer *p, const struct bt_event *ev)
{
	struct app *a = arg;
	struct bt_print_ctx *c;
	const struct bt_meta *m;

	if (!a->o.verbose || p->id >= BT_FETCH_MAX_KNOWN)
		return;
	c = a->pctx[p->id];
	if (!c) {
		c = a->pctx[p->id] = malloc(sizeof *c);
		if (!c)
			return;
		bt_print_ctx_init(c);
		c->verbosity = a->o.verbose > 1 ? 2 : 1;
		c->peer = p->name;
	}
	m = bt_fetch_meta(a->f);
	if (m && !c->piece_count) {
		c->piece_count = m->piece_count;
		c->piece_length = m->piece_length;
		c->total_size = m->total_size;
	}
	clear_bar(a);
	bt_print_event(&a->out, c, ev);
	fflush(stdout);
}

static void peer_fields(struct bt_out *o, const struct bt_fetch_peer *p)
{
	bt_out_str(o, "peer", NULL, p->name);
	if (p->have_id)
		bt_out_str(o, "client", NULL, p->client);
}

static void on_note(void *arg, const struct bt_fetch_note *n)
{
	struct app *a = arg;
	struct bt_out *o = &a->out;
	const struct bt_meta *m;
	char line[512];
	size_t i;

	if (a->o.json) {
		bt_out_begin(o);
		bt_out_str(o, "kind", NULL, bt_fetch_note_name(n->kind));
		bt_out_fixed(o, "t", NULL, (int64_t)(n->t_us / 1000), 3);
		if (n->peer) {
			peer_fields(o, n->peer);
			if (n->kind == BT_FN_PEER_DOWN || n->kind == BT_FN_PEER_BANNED)
				bt_out_str(o, "state", NULL, bt_fetch_pstate_name(n->peer->state));
		}
		switch (n->kind) {
		case BT_FN_PIECE_OK:
		case BT_FN_PIECE_FAILED:
			bt_out_uint(o, "piece", NULL, n->piece);
			bt_out_arr_begin(o, "from", NULL);
			for (i = 0; i < n->nids; i++) {
				const struct bt_fetch_peer *p = bt_fetch_peer_by_id(a->f, n->ids[i]);
				if (p)
					bt_out_str(o, NULL, NULL, p->name);
			}
			bt_out_arr_end(o);
			break;
		case BT_FN_TRACKER:
			bt_out_str(o, "url", NULL, n->url);
			if (n->why)
				bt_out_str(o, "error", NULL, n->why);
			else
				bt_out_uint(o, "peers", NULL, n->n);
			break;
		case BT_FN_METADATA:
			bt_out_uint(o, "bytes", NULL, n->n);
			break;
		case BT_FN_VIOLATION:
			bt_out_bool(o, "dropped", NULL, n->dropped);
			break;
		case BT_FN_RESUME:
			bt_out_uint(o, "good", NULL, n->good);
			bt_out_uint(o, "missing", NULL, n->missing);
			bt_out_uint(o, "corrupt", NULL, n->corrupt);
			bt_out_uint(o, "resumed", NULL, n->n);
			break;
		default:
			break;
		}
		if (n->why && n->kind != BT_FN_TRACKER)
			bt_out_str(o, "why", NULL, n->why);
		bt_out_end(o);
		fflush(stdout);
		return;
	}
	if (a->o.quiet)
		return;
	line[0] = 0;
	switch (n->kind) {
	case BT_FN_PEER_UP:
		snprintf(line, sizeof line, "peer %s up: %s", n->peer->name, n->peer->client);
		break;
	case BT_FN_PEER_DOWN:
		snprintf(line, sizeof line, "peer %s down: %s", n->peer->name,
			 n->why ? n->why : "");
		break;
	case BT_FN_PEER_BANNED:
		snprintf(line, sizeof line, "peer %s dropped: %s", n->peer->name,
			 n->why ? n->why : "");
		break;
	case BT_FN_VIOLATION:
		/* One the peer is dropped for is said by the "dropped" line
		 * that follows; a tolerated one has no other line. */
		if (!n->dropped)
			snprintf(line, sizeof line, "peer %s violation (tolerated): %s",
				 n->peer->name, n->why ? n->why : "");
		break;
	case BT_FN_PIECE_FAILED:
		snprintf(line, sizeof line, "piece %" PRIu32 " failed its hash check (%zu peer%s)",
			 n->piece, n->nids, n->nids == 1 ? "" : "s");
		break;
	case BT_FN_METADATA:
		m = bt_fetch_meta(a->f);
		snprintf(line, sizeof line, "metadata: %" PRIu64 " bytes, %u pieces of %" PRIu64,
			 n->n, m ? m->piece_count : 0, m ? m->piece_length : 0);
		break;
	case BT_FN_METADATA_BAD:
		snprintf(line, sizeof line, "metadata rejected: %s", n->why ? n->why : "");
		break;
	case BT_FN_TRACKER:
		if (n->why)
			snprintf(line, sizeof line, "tracker %s: %s", n->url, n->why);
		else
			snprintf(line, sizeof line, "tracker %s: %" PRIu64 " peers", n->url, n->n);
		break;
	case BT_FN_RESUME:
		if (n->good || n->corrupt)
			snprintf(line, sizeof line, "on disk: %u pieces good, %u missing, %u bad",
				 n->good, n->missing, n->corrupt);
		break;
	default:
		break;
	}
	if (line[0]) {
		char esc[600];
		clear_bar(a);
		/* Peer-chosen text (client names) is already escaped by the
		 * engine; tracker messages too.  Escape once more for safety
		 * of the terminal: nothing but printable ASCII goes out. */
		bt_escape_text(line, strlen(line), esc, sizeof esc);
		fprintf(stderr, "bt-fetch: %s\n", esc);
	}
}

static void human_bytes(uint64_t v, char *buf, size_t cap)
{
	if (v >= (1u << 30))
		snprintf(buf, cap, "%.2f GiB", (double)v / (1u << 30));
	else if (v >= (1u << 20))
		snprintf(buf, cap, "%.1f MiB", (double)v / (1u << 20));
	else if (v >= 1024)
		snprintf(buf, cap, "%.1f KiB", (double)v / 1024);
	else
		snprintf(buf, cap, "%" PRIu64 " B", v);
}

static void progress(struct app *a, bool force)
{
	struct bt_fetch_stats s;
	uint64_t now = bt_now_us();
	char have[32], want[32], rate[32], eta[32] = "-";
	double pct;

	if (a->o.quiet)
		return;
	if (!force && now - a->last_progress_us < (a->tty && !a->o.json ? 250000u : a->o.progress_us))
		return;
	a->last_progress_us = now;
	bt_fetch_stats(a->f, &s);
	pct = s.want_bytes ? 100.0 * (double)s.have_bytes / (double)s.want_bytes : 0;
	if (a->o.json) {
		bt_out_begin(&a->out);
		bt_out_str(&a->out, "kind", NULL, "progress");
		bt_out_fixed(&a->out, "t", NULL, (int64_t)(s.elapsed_us / 1000), 3);
		bt_out_uint(&a->out, "have_bytes", NULL, s.have_bytes);
		bt_out_uint(&a->out, "want_bytes", NULL, s.want_bytes);
		bt_out_uint(&a->out, "have_pieces", NULL, s.have_pieces);
		bt_out_uint(&a->out, "want_pieces", NULL, s.want_pieces);
		bt_out_uint(&a->out, "rate", NULL, s.rate);
		bt_out_uint(&a->out, "peers", NULL, s.peers_up);
		bt_out_end(&a->out);
		fflush(stdout);
		return;
	}
	human_bytes(s.have_bytes, have, sizeof have);
	human_bytes(s.want_bytes, want, sizeof want);
	human_bytes(s.rate, rate, sizeof rate);
	if (s.rate && s.want_bytes > s.have_bytes) {
		uint64_t left = (s.want_bytes - s.have_bytes) / s.rate;
		snprintf(eta, sizeof eta, "%" PRIu64 ":%02" PRIu64, left / 60, left % 60);
	}
	if (a->tty) {
		char bar[31];
		int i, fillw = (int)(pct * 30 / 100);
		for (i = 0; i < 30; i++)
			bar[i] = i < fillw ? '#' : ' ';
		bar[30] = 0;
		if (!s.have_meta)
			fprintf(stderr, "\r\033[K[%s] metadata...  peers %u/%u", bar,
				s.peers_up, s.peers_known);
		else
			fprintf(stderr, "\r\033[K[%s] %5.1f%%  %s / %s  %s/s  peers %u/%u  ETA %s%s",
				bar, pct, have, want, rate, s.peers_up, s.peers_known, eta,
				s.endgame ? "  endgame" : "");
		a->bar_shown = true;
	} else {
		fprintf(stderr, "bt-fetch: progress %.1f%% %s / %s, %s/s, %u peers, eta %s\n",
			pct, have, want, rate, s.peers_up, eta);
	}
}

static void summary(struct app *a, int result)
{
	struct bt_out *o = &a->out;
	struct bt_fetch_stats s;
	size_t i, n = bt_fetch_npeers(a->f);
	double secs;
	char b[64];

	clear_bar(a);
	bt_fetch_stats(a->f, &s);
	secs = (double)(bt_now_us() - a->t0_us) / 1e6;
	bt_out_begin(o);
	bt_out_str(o, "kind", NULL, "summary");
	bt_out_str(o, "result", "result ", bt_fetch_result_name(result));
	bt_out_fixed(o, "seconds", " time ", (int64_t)(secs * 1000), 3);
	bt_out_text(o, " s");
	bt_out_uint(o, "downloaded", " downloaded ", s.downloaded);
	snprintf(b, sizeof b, " (%.1f MB/s)", secs > 0 ? (double)s.downloaded / secs / 1e6 : 0);
	bt_out_text(o, b);
	bt_out_uint(o, "have_pieces", " pieces ", s.have_pieces);
	bt_out_uint(o, "want_pieces", "/", s.want_pieces);
	bt_out_uint(o, "resumed_pieces", " resumed ", s.resumed_pieces);
	bt_out_uint(o, "hash_fails", " hash_fails ", s.hash_fails);
	bt_out_uint(o, "wasted", " wasted ", s.wasted);
	bt_out_text(o, "\n");
	bt_out_arr_begin(o, "peers", NULL);
	for (i = 0; i < n; i++) {
		const struct bt_fetch_peer *p = bt_fetch_peer_at(a->f, i);
		bt_out_obj_begin(o, NULL, NULL);
		bt_out_str(o, "peer", "  ", p->name);
		bt_out_str(o, "client", " ", p->have_id ? p->client : "-");
		bt_out_str(o, "source", " from ", p->source == BT_FETCH_SRC_USER ? "user" : "tracker");
		bt_out_uint(o, "bytes", " bytes ", p->bytes);
		bt_out_uint(o, "blocks", " blocks ", p->blocks);
		bt_out_uint(o, "pieces_ok", " pieces_ok ", p->pieces_ok);
		bt_out_uint(o, "hash_fails", " hash_fails ", p->hash_fails);
		bt_out_uint(o, "hash_blamed", " alone ", p->hash_blamed);
		bt_out_uint(o, "violations", " violations ", p->violations);
		/* The first one; in text not when it is what the peer was
		 * dropped for ("why" says it). */
		if (p->violation[0] && (o->json || strcmp(p->violation, p->why) != 0)) {
			bt_out_text(o, " (first: ");
			bt_out_bytes(o, "violation", "", p->violation, strlen(p->violation));
			bt_out_text(o, ")");
		}
		bt_out_uint(o, "wasted", " wasted ", p->wasted);
		bt_out_uint(o, "peak_rate", " peak_rate ", p->peak_rate);
		bt_out_uint(o, "connects", " connects ", p->connects);
		bt_out_str(o, "state", " state ", bt_fetch_pstate_name(p->state));
		if (p->why[0])
			bt_out_bytes(o, "why", " why ", p->why, strlen(p->why));
		bt_out_text(o, "\n");
		bt_out_obj_end(o);
	}
	bt_out_arr_end(o);
	bt_out_end(o);
	fflush(stdout);
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static struct app a;
	struct bt_fetch_cfg cfg;
	struct bt_loop loop;
	struct bt_meta meta;
	struct bt_meta_err me;
	struct bt_magnet mg;
	uint8_t *tbuf = NULL, *scratch = NULL;
	size_t tlen, i;
	bool have_meta = false;
	char errbuf[256];
	int rc, result, dirfd;
	uint64_t deadline;

	signal(SIGPIPE, SIG_IGN);
	parse_opts(argc, argv, &a.o);
	bt_out_init(&a.out, stdout, a.o.json);
	a.tty = isatty(STDERR_FILENO) && !a.o.json;

	bt_fetch_cfg_init(&cfg);
	if (a.o.files)
		cfg.nfiles = ranges(a.o.files, cfg.files, BT_FETCH_MAX_RANGES, "--files");
	if (a.o.pieces)
		cfg.npieces = ranges(a.o.pieces, cfg.pieces, BT_FETCH_MAX_RANGES, "--pieces");
	if (a.o.bind) {
		if (bt_sockaddr_parse(a.o.bind, false, &cfg.src, &cfg.src_len) != BT_OK)
			bad_usage("bad --bind %s (a numeric address)", a.o.bind);
	}
	if (mkdir(a.o.outdir, 0755) != 0 && errno != EEXIST)
		err(EXIT_IO, "%s", a.o.outdir);
	dirfd = open(a.o.outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		err(EXIT_IO, "%s", a.o.outdir);
	cfg.dirfd = dirfd;
	cfg.max_peers = a.o.max_peers;
	cfg.mem_budget = a.o.mem;
	cfg.max_depth = a.o.depth;
	cfg.connect_timeout_us = a.o.timeout_us;
	cfg.stall_us = a.o.stall_us;
	cfg.idle_us = a.o.idle_us;
	cfg.max_hash_fails = a.o.hash_fails;
	cfg.no_trackers = a.o.no_trackers;
	cfg.port = a.o.port;
	cfg.on_event = on_event;
	cfg.on_note = on_note;
	cfg.arg = &a;

	if (bt_loop_init(&loop) != 0)
		errx(EXIT_IO, "cannot create the event loop");
	if (a.o.torrent) {
		tbuf = slurp(a.o.torrent, &tlen);
		if (bt_meta_parse(&meta, tbuf, tlen, NULL, &me) != BT_OK)
			errx(EXIT_USAGE, "%s: %s at offset %zu", a.o.torrent,
			     me.rule ? me.rule : bt_strerror(me.code), me.off);
		have_meta = true;
		for (i = 0; i < cfg.npieces; i++)
			if (cfg.pieces[i].first >= meta.piece_count)
				errx(EXIT_USAGE, "--pieces: piece %u, but the torrent has %u pieces",
				     cfg.pieces[i].first, meta.piece_count);
		for (i = 0; i < cfg.nfiles; i++)
			if (cfg.files[i].first >= meta.nfiles - meta.npad)
				errx(EXIT_USAGE, "--files: file %u, but the torrent has %zu files",
				     cfg.files[i].first, meta.nfiles - meta.npad);
		rc = bt_fetch_new(&a.f, &loop, &cfg, &meta);
	} else {
		struct bt_magnet_err e;
		size_t len = strlen(a.o.magnet);
		scratch = malloc(len + 1);
		if (!scratch)
			err(EXIT_USAGE, "malloc");
		if (bt_magnet_parse(&mg, a.o.magnet, len, scratch, len + 1, &e) != BT_OK)
			errx(EXIT_USAGE, "--magnet: %s at offset %zu", e.rule, e.off);
		if (!mg.has_btih && !mg.has_btmh)
			errx(EXIT_USAGE, "--magnet: no info-hash (xt)");
		rc = bt_fetch_new_magnet(&a.f, &loop, &cfg, mg.has_btih ? mg.btih : NULL,
					 mg.has_btmh ? mg.btmh : NULL);
		if (rc == BT_OK && !a.o.no_trackers)
			for (i = 0; i < mg.ntr; i++)
				bt_fetch_add_tracker(a.f, (const char *)mg.tr[i].p, mg.tr[i].len);
		for (i = 0; rc == BT_OK && i < mg.npe; i++) {
			struct sockaddr_storage ss;
			socklen_t sl;
			char pe[80];
			if (mg.pe[i].len >= sizeof pe)
				continue;
			memcpy(pe, mg.pe[i].p, mg.pe[i].len);
			pe[mg.pe[i].len] = 0;
			if (bt_sockaddr_parse(pe, true, &ss, &sl) == BT_OK)
				bt_fetch_add_peer(a.f, (struct sockaddr *)&ss, sl, BT_FETCH_SRC_USER);
		}
	}
	if (rc != BT_OK)
		errx(EXIT_USAGE, "cannot set up the download: %s", bt_strerror(rc));
	for (i = 0; i < a.o.npeers; i++) {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (bt_sockaddr_parse(a.o.peers[i], true, &ss, &sl) != BT_OK)
			bad_usage("bad --peer %s (HOST:PORT, numeric)", a.o.peers[i]);
		bt_fetch_add_peer(a.f, (struct sockaddr *)&ss, sl, BT_FETCH_SRC_USER);
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	a.t0_us = a.last_progress_us = bt_now_us();
	errbuf[0] = 0;
	rc = bt_fetch_start(a.f, errbuf, sizeof errbuf);
	if (rc != BT_OK) {
		clear_bar(&a);
		warnx("%s", errbuf);
	}
	while (bt_fetch_result(a.f) == BT_FETCH_RUNNING) {
		if (interrupted) {
			bt_fetch_stop(a.f);
			break;
		}
		if (bt_loop_once(&loop, 250000) < 0 && errno != EINTR)
			break;
		progress(&a, false);
	}
	/* Let the last announce ("completed" or "stopped") go out, bounded. */
	deadline = bt_now_us() + 3000000u;
	while (bt_fetch_busy(a.f) && bt_now_us() < deadline && !interrupted)
		bt_loop_once(&loop, 100000);
	result = bt_fetch_result(a.f);
	if (!a.o.json && !a.o.quiet)
		progress(&a, true);
	clear_bar(&a);
	summary(&a, result);

	bt_fetch_free(a.f);
	for (i = 0; i < BT_FETCH_MAX_KNOWN; i++)
		free(a.pctx[i]);
	bt_loop_free(&loop);
	if (have_meta)
		bt_meta_free(&meta);
	free(tbuf);
	free(scratch);
	close(dirfd);
	switch (result) {
	case BT_FETCH_OK: return 0;
	case BT_FETCH_NOPEERS: return EXIT_NOPEERS;
	case BT_FETCH_IOERR: return EXIT_IO;
	case BT_FETCH_BADMETA: return EXIT_META;
	default: return EXIT_INCOMPLETE;
	}
}
