/* bt-decode — the BitTorrent conversations in a capture.
 *
 *   bt-decode [options] -r FILE                 pcap or pcapng file ("-": stdin)
 *   bt-decode [options] -i IFACE [FILTER...]    live, BPF filter as in tcpdump
 *
 * Options, wiring and exit codes only: the pipeline is decode.h, the text
 * is print.h's (events, tracker answers) and decode.h's (flows, stats),
 * the verdicts diag.h's.  Exit: 0 ok, 1 the capture was damaged or could
 * not be read to its end (what could be read was decoded), 2 usage, 3
 * the capture or interface could not be opened or the filter compiled. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "decprint.h"
#include "diag.h"
#include "mse.h"
#include "print.h"

#define EXIT_DAMAGED 1
#define EXIT_USAGE 2
#define EXIT_OPEN 3

#define WARN_MAX 5            /* warnings of one kind printed */
#define LIVE_IDLE_S 300       /* live: a flow silent this long ends */
#define MAX_VERDICTS 32
#define IOBUF (1u << 20)      /* stdio buffer of the capture file */

static const char usage_text[] =
	"usage: bt-decode [-hjqv] [--diagnose] [--keylog FILE] [--stats] [-d PORT]...\n"
	"                 [-t rel|abs|none] -r FILE\n"
	"       bt-decode [-hjqv] [--diagnose] [--keylog FILE] [--stats] [-d PORT]...\n"
	"                 [-t rel|abs|none] [-c COUNT] [-G SECONDS] [-s SNAPLEN]\n"
	"                 -i IFACE [FILTER...]\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
	if (f == stdout)
		fputs("\n"
		      "  -c, --count N       live: stop after N packets\n"
		      "  -d, --decode-as P   flows on port P are BitTorrent (TCP) or a\n"
		      "                      UDP tracker, whatever their first bytes\n"
		      "      --diagnose      per flow, the verdicts bt-handshake gives live\n"
		      "  -G, --duration S    live: stop after S seconds\n"
		      "  -h, --help          this text\n"
		      "  -i, --interface IF  capture live on IF (needs privileges)\n"
		      "  -j, --json          one JSON object per line\n"
		      "      --keylog FILE   decrypt MSE/PE flows whose secrets FILE holds\n"
		      "                      (bt-handshake --keylog; default $" BT_MSE_KEYLOG_ENV ")\n"
		      "  -q, --quiet         no message lines: flows, verdicts, stats only\n"
		      "  -r, --read FILE     read a pcap or pcapng file (- for stdin)\n"
		      "  -s, --snaplen N     live: bytes captured per packet (default 262144)\n"
		      "      --stats         capture-wide counters at the end\n"
		      "  -t, --time MODE     rel: ms since the flow's start (default);\n"
		      "                      abs: wall clock (TZ); none: no times\n"
		      "  -v, --verbose       more detail (PEX addresses; -vv bit strings)\n"
		      "\n"
		      "exit: 0 ok, 1 capture damaged or unreadable partway, 2 usage,\n"
		      "      3 cannot open the capture, interface or key log, or bad filter\n",
		      f);
}

struct opts {
	const char *file, *iface, *keylog;
	bool json, quiet, diagnose, stats;
	int verbosity;
	enum bt_dec_time tm;
	uint64_t count;
	unsigned duration;
	int snaplen;
	char *filter;
};

struct tflow {                /* per decoded flow */
	struct bt_print_ctx pc;
	char tag[96];
	struct bt_diag *diag;
};

struct app {
	struct opts o;
	struct bt_out out;
	struct bt_dec dec;
	uint64_t warned[BT_DEC_NPROBLEMS];
	const char *src;          /* file or interface, for messages */
	int linktype;
	uint64_t live_pkts;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* ---- decoder callbacks ---------------------------------------------------- */

static struct tflow *tflow_of(struct app *a, struct bt_dec_flow *f)
{
	struct tflow *t = f->user;

	if (t)
		return t;
	t = calloc(1, sizeof *t);
	if (!t)
		err(EXIT_DAMAGED, "malloc");
	bt_print_ctx_init(&t->pc);
	t->pc.verbosity = a->o.verbosity;
	/* JSON keeps "t" (ms since the flow's start) with -t abs: the flow
	 * record has the start's absolute time. */
	t->pc.time = a->o.tm == BT_DEC_TIME_NONE ? BT_PRINT_TIME_NONE :
		     a->o.tm == BT_DEC_TIME_REL || a->o.json ?
		     BT_PRINT_TIME_MS : BT_PRINT_TIME_NONE;
	snprintf(t->tag, sizeof t->tag, "#%" PRIu64, f->id);
	t->pc.peer = t->tag;
	if (a->o.diagnose && f->kind == BT_DEC_PEER) {
		t->diag = malloc(sizeof *t->diag);
		if (!t->diag)
			err(EXIT_DAMAGED, "malloc");
		bt_diag_init(t->diag, NULL);
	}
	f->user = t;
	return t;
}

static void cb_flow_start(void *ctx, struct bt_dec_flow *f)
{
	struct app *a = ctx;

	tflow_of(a, f);
	if (!a->o.quiet)
		bt_dec_print_flow_start(&a->out, f, a->o.tm);
}

static void cb_event(void *ctx, struct bt_dec_flow *f, const struct bt_event *ev,
		     uint64_t ts_us)
{
	struct app *a = ctx;
	struct tflow *t = tflow_of(a, f);

	if (t->diag)
		bt_diag_feed(t->diag, ev);
	if (a->o.quiet) {
		bt_print_ctx_learn(&t->pc, ev);
		return;
	}
	if (a->o.tm == BT_DEC_TIME_ABS && !a->o.json) {
		char b[48];

		bt_dec_abs_time(ts_us, b, sizeof b);
		snprintf(t->tag, sizeof t->tag, "%s #%" PRIu64, b + 11, f->id);
	}
	bt_print_event(&a->out, &t->pc, ev);
}

static void cb_trk(void *ctx, struct bt_dec_flow *f, const struct bt_dec_trk *tr)
{
	struct app *a = ctx;

	if (f)
		tflow_of(a, f);
	if (!a->o.quiet)
		bt_dec_print_trk(&a->out, tr, a->o.tm);
}

static void cb_flow_end(void *ctx, struct bt_dec_flow *f)
{
	struct app *a = ctx;
	struct tflow *t = f->user;

	bt_dec_print_flow_end(&a->out, f, a->o.tm);
	if (t && t->diag) {
		struct bt_verdict v[MAX_VERDICTS];
		size_t n;

		bt_diag_end(t->diag, f->last_us - f->first_us);
		n = bt_diag_verdicts(t->diag, v, MAX_VERDICTS);
		for (size_t i = 0; i < n && i < MAX_VERDICTS; i++)
			bt_verdict_print(&a->out, &v[i]);
		bt_diag_free(t->diag);
		free(t->diag);
	}
	free(t);
	f->user = NULL;
}

static void cb_problem(void *ctx, const struct bt_dec_problem *p)
{
	struct app *a = ctx;

	if (++a->warned[p->kind] > WARN_MAX) {
		if (a->warned[p->kind] == WARN_MAX + 1)
			warnx("%s: more packets like that: not reported one by one "
			      "(see --stats)", a->src);
		return;
	}
	switch (p->kind) {
	case BT_DEC_P_LINKTYPE:
		warnx("%s: packet %" PRIu64 ": link type %d (%s) not supported: skipped",
		      a->src, p->pkt, p->linktype,
		      pcap_datalink_val_to_name(p->linktype) ?
		      pcap_datalink_val_to_name(p->linktype) : "unknown");
		break;
	case BT_DEC_P_TRUNCATED:
		warnx("%s: packet %" PRIu64 ": cut by the snapshot length (%zu of %zu "
		      "bytes captured) inside the %s header: skipped", a->src, p->pkt,
		      p->caplen, p->wirelen, p->layer);
		break;
	case BT_DEC_P_TRUNC_PAYLOAD:
		warnx("%s: packet %" PRIu64 ": cut by the snapshot length (%zu of %zu "
		      "bytes captured): the missing payload is a gap", a->src, p->pkt,
		      p->caplen, p->wirelen);
		break;
	case BT_DEC_P_MALFORMED:
		warnx("%s: packet %" PRIu64 ": malformed %s header (%s): skipped",
		      a->src, p->pkt, p->layer, p->rule ? p->rule : "?");
		break;
	case BT_DEC_P_FRAGMENT:
		warnx("%s: packet %" PRIu64 ": IP fragment: not reassembled", a->src, p->pkt);
		break;
	default:
		warnx("%s: packet %" PRIu64 ": out of memory for a new flow", a->src, p->pkt);
		break;
	}
}

/* ---- capture loops -------------------------------------------------------- */

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	struct app *a = (struct app *)user;
	uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;

	bt_dec_frame(&a->dec, a->linktype, data, h->caplen, h->len, ts);
	a->live_pkts++;
}

/* A file: every packet, then the end.  Returns the exit code. */
static int read_file(struct app *a)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p;
	FILE *f;
	char *iobuf = NULL;
	int r, rc = 0;

	/* Our own FILE with a large buffer: libpcap reads each record with
	 * fread, and stdio's default 4 KiB means a read(2) per few packets. */
	f = strcmp(a->o.file, "-") == 0 ? stdin : fopen(a->o.file, "rb");
	if (!f) {
		warn("%s", a->o.file);
		return EXIT_OPEN;
	}
	/* glibc ignores the size unless it is given the buffer. */
	iobuf = malloc(IOBUF);
	if (iobuf)
		setvbuf(f, iobuf, _IOFBF, IOBUF);
	p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!p) {
		warnx("%s: %s", a->o.file, ebuf);
		if (f != stdin)
			fclose(f);
		free(iobuf);
		return EXIT_OPEN;
	}
	a->linktype = pcap_datalink(p);
	while ((r = pcap_next_ex(p, &h, &data)) == 1)
		on_packet((u_char *)a, h, data);
	if (r == PCAP_ERROR) {
		warnx("%s: damaged capture after packet %" PRIu64 ": %s; "
		      "decoded what came before", a->o.file, a->live_pkts,
		      pcap_geterr(p));
		rc = EXIT_DAMAGED;
	}
	pcap_close(p);     /* closes f, unless it is stdin */
	if (f != stdin)
		free(iobuf);   /* stdin keeps it until exit */
	return rc;
}

static uint64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Live: until a signal, -c COUNT packets or -G SECONDS. */
static int read_live(struct app *a)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	uint64_t t0 = mono_ms(), last_expire = 0;
	pcap_t *p;
	int r, fd = -1;

	p = pcap_create(a->o.iface, ebuf);
	if (!p) {
		warnx("%s: %s", a->o.iface, ebuf);
		return EXIT_OPEN;
	}
	pcap_set_snaplen(p, a->o.snaplen);
	pcap_set_promisc(p, 0);
	pcap_set_timeout(p, 200);
	pcap_set_immediate_mode(p, 1);
	if ((r = pcap_activate(p)) < 0) {
		warnx("%s: %s", a->o.iface, pcap_geterr(p));
		pcap_close(p);
		return EXIT_OPEN;
	}
	if (a->o.filter) {
		if (pcap_compile(p, &prog, a->o.filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
		    pcap_setfilter(p, &prog) != 0) {
			warnx("filter '%s': %s", a->o.filter, pcap_geterr(p));
			pcap_close(p);
			return EXIT_OPEN;
		}
		pcap_freecode(&prog);
	}
	/* Non-blocking, with our own poll: every wait is bounded (a signal,
	 * -G) even when no packet comes. */
	if (pcap_setnonblock(p, 1, ebuf) != 0 || (fd = pcap_get_selectable_fd(p)) < 0) {
		warnx("%s: cannot poll the capture: %s", a->o.iface, ebuf);
		pcap_close(p);
		return EXIT_OPEN;
	}
	a->linktype = pcap_datalink(p);
	while (!stop_flag) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int cnt = a->o.count ? (int)(a->o.count - a->live_pkts < 1000 ?
					     a->o.count - a->live_pkts : 1000) : -1;

		if (poll(&pfd, 1, 200) < 0 && errno != EINTR) {
			warn("poll");
			break;
		}
		r = pcap_dispatch(p, cnt, on_packet, (u_char *)a);
		if (r == PCAP_ERROR) {
			warnx("%s: %s", a->o.iface, pcap_geterr(p));
			pcap_close(p);
			return EXIT_DAMAGED;
		}
		if (r == PCAP_ERROR_BREAK)
			break;
		if (a->o.count && a->live_pkts >= a->o.count)
			break;
		if (a->o.duration && mono_ms() - t0 >= (uint64_t)a->o.duration * 1000u)
			break;
		if (a->dec.st.last_us > (uint64_t)LIVE_IDLE_S * 1000000u &&
		    mono_ms() - last_expire > 1000) {
			bt_dec_expire(&a->dec, a->dec.st.last_us - (uint64_t)LIVE_IDLE_S * 1000000u);
			last_expire = mono_ms();
		}
		fflush(stdout);
	}
	pcap_close(p);
	return 0;
}

/* ---- options ---------------------------------------------------------------- */

enum { OPT_DIAGNOSE = 256, OPT_KEYLOG, OPT_STATS };

/* Load a key log into the decoder.  A malformed line is a warning, not
 * the end: the other lines still decrypt their flows.  explicit: named by
 * --keylog (a missing file is an error) rather than by the environment
 * (a live tool may not have written it yet: a warning).  Returns 0 or
 * EXIT_OPEN. */
static int load_keylog(struct app *a, const char *path, bool explicit)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0, bad = 0, kept = 0;
	ssize_t n;

	if (!f) {
		if (explicit) {
			warn("key log %s", path);
			return EXIT_OPEN;
		}
		warn("key log %s (from $" BT_MSE_KEYLOG_ENV "): not used", path);
		return 0;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		const char *why = NULL;
		int rc;

		lineno++;
		rc = bt_dec_keylog_add(&a->dec, line, (size_t)n, &why);
		if (rc == BT_OK) {
			kept++;
		} else if (rc == BT_EINVAL) {
			if (++bad <= WARN_MAX)
				warnx("%s:%zu: not a key log line: %s", path, lineno,
				      why ? why : "?");
		} else if (rc == BT_ENOSPC) {
			warnx("%s:%zu: no room for more keys: the rest not read",
			      path, lineno);
			break;
		}
	}
	if (ferror(f))
		warn("key log %s", path);
	free(line);
	fclose(f);
	if (bad > WARN_MAX)
		warnx("%s: %zu malformed lines in all", path, bad);
	if (!kept)
		warnx("%s: no usable MSE key in %zu lines", path, lineno);
	return 0;
}

static char *join_args(int argc, char **argv)
{
	size_t n = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		n += strlen(argv[i]) + 1;
	s = malloc(n);
	if (!s)
		err(EXIT_USAGE, "malloc");
	s[0] = '\0';
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static uint64_t num_arg(const char *s, uint64_t max, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-') {
		warnx("%s: not a number from 0 to %" PRIu64 ": %s", what, max, s);
		usage(stderr);
		exit(EXIT_USAGE);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "decode-as", required_argument, NULL, 'd' },
		{ "diagnose", no_argument, NULL, OPT_DIAGNOSE },
		{ "duration", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ "interface", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "keylog", required_argument, NULL, OPT_KEYLOG },
		{ "quiet", no_argument, NULL, 'q' },
		{ "read", required_argument, NULL, 'r' },
		{ "snaplen", required_argument, NULL, 's' },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "time", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	static struct app a;      /* large; and the signal handler's neighbour */
	struct bt_dec_cfg cfg;
	struct bt_dec_cb cb = {
		.flow_start = cb_flow_start, .event = cb_event, .trk = cb_trk,
		.flow_end = cb_flow_end, .problem = cb_problem,
	};
	struct sigaction sa;
	int c, rc;

	memset(&cfg, 0, sizeof cfg);
	a.o.tm = BT_DEC_TIME_REL;
	a.o.snaplen = 262144;
	while ((c = getopt_long(argc, argv, "c:d:G:hi:jqr:s:t:v", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			a.o.count = num_arg(optarg, UINT64_MAX / 2, "-c");
			break;
		case 'd':
			if (cfg.nforce >= BT_DEC_MAX_FORCE) {
				warnx("-d: at most %d ports", BT_DEC_MAX_FORCE);
				return EXIT_USAGE;
			}
			cfg.force_port[cfg.nforce++] = (uint16_t)num_arg(optarg, 65535, "-d");
			break;
		case 'G':
			a.o.duration = (unsigned)num_arg(optarg, 1u << 30, "-G");
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'i':
			a.o.iface = optarg;
			break;
		case 'j':
			a.o.json = true;
			break;
		case 'q':
			a.o.quiet = true;
			break;
		case 'r':
			a.o.file = optarg;
			break;
		case 's':
			a.o.snaplen = (int)num_arg(optarg, 262144, "-s");
			break;
		case 't':
			if (strcmp(optarg, "rel") == 0 || strcmp(optarg, "relative") == 0)
				a.o.tm = BT_DEC_TIME_REL;
			else if (strcmp(optarg, "abs") == 0 || strcmp(optarg, "absolute") == 0)
				a.o.tm = BT_DEC_TIME_ABS;
			else if (strcmp(optarg, "none") == 0)
				a.o.tm = BT_DEC_TIME_NONE;
			else {
				warnx("-t: rel, abs or none, not %s", optarg);
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case 'v':
			a.o.verbosity++;
			break;
		case OPT_DIAGNOSE:
			a.o.diagnose = true;
			break;
		case OPT_KEYLOG:
			a.o.keylog = optarg;
			break;
		case OPT_STATS:
			a.o.stats = true;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if ((!a.o.file) == (!a.o.iface)) {
		warnx(a.o.file ? "-r and -i exclude each other" : "-r FILE or -i IFACE needed");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind < argc) {
		if (a.o.file) {
			warnx("a filter applies to live captures (-i) only");
			usage(stderr);
			return EXIT_USAGE;
		}
		a.o.filter = join_args(argc - optind, argv + optind);
	}
	a.src = a.o.file ? a.o.file : a.o.iface;
	setvbuf(stdout, NULL, a.o.iface ? _IOLBF : _IOFBF, 1 << 16);
	bt_out_init(&a.out, stdout, a.o.json);
	if (bt_dec_init(&a.dec, &cfg, &cb, &a) != 0)
		errx(EXIT_OPEN, "out of memory");
	{
		const char *env = getenv(BT_MSE_KEYLOG_ENV);

		if (a.o.keylog)
			rc = load_keylog(&a, a.o.keylog, true);
		else if (env && *env)
			rc = load_keylog(&a, env, false);
		else
			rc = 0;
		if (rc) {
			bt_dec_free(&a.dec);
			return rc;
		}
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = a.o.file ? read_file(&a) : read_live(&a);
	if (rc != EXIT_OPEN) {
		bt_dec_finish(&a.dec);
		if (a.o.stats)
			bt_dec_print_stats(&a.out, &a.dec);
	}
	bt_dec_free(&a.dec);
	free(a.o.filter);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		return rc ? rc : EXIT_DAMAGED;
	}
	return rc;
}
