/* bt-announce — ask trackers about a torrent and show what each says.
 *
 *   bt-announce [options] FILE.torrent | MAGNET ...
 *   bt-announce [options] -i HEX [-i HEX ...] -T URL [-T URL ...]
 *   bt-announce [options] --batch FILE|-
 *
 * Wiring only: targets are parsed with meta.h / magnet.h, requests run
 * through trk.h on one loop, answers are printed with print.h plus this
 * tool's fields (ok, error, timings).  Exit: 0 every tracker answered,
 * 1 some tracker failed, 2 usage, 3 a target could not be read. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"
#include "magnet.h"
#include "meta.h"
#include "out.h"
#include "peerid.h"
#include "print.h"
#include "trk.h"

#define EXIT_SOME_FAILED 1
#define EXIT_USAGE       2
#define EXIT_INPUT       3

#define DEFAULT_JOBS     16
#define MAX_JOBS         4096
#define DUMP_MAX         4096   /* raw bytes shown by -v (-vv: all) */

static const char usage_text[] =
	"usage: bt-announce [options] FILE.torrent|MAGNET ...\n"
	"       bt-announce [options] -i HEX ... -T URL ...\n"
	"       bt-announce [options] -b FILE|-\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
	if (f != stdout)
		return;
	fputs("\n"
	      "targets\n"
	      "  -i, --info-hash HEX    40 hex digits (64: a v2 hash, truncated); repeatable\n"
	      "  -T, --tracker URL      http, https or udp tracker; repeatable; replaces\n"
	      "                         the trackers of torrents and magnets\n"
	      "  -b, --batch FILE|-     lines \"TRACKER-URL INFO-HASH\", torrent paths or magnets\n"
	      "  -a, --all              every tracker at once (default: in tier order\n"
	      "                         until one answers, BEP 12)\n"
	      "  -s, --scrape           scrape instead of announce (BEP 48, BEP 15)\n"
	      "announce\n"
	      "  -e, --event EV         started, stopped, completed or empty (default)\n"
	      "  -n, --numwant N        peers wanted (default: the tracker's)\n"
	      "  -p, --port PORT        port to announce (default 6881)\n"
	      "      --uploaded N       bytes (default 0)\n"
	      "      --downloaded N     bytes (default 0)\n"
	      "      --left N           bytes (default: the torrent's size, else 0)\n"
	      "      --peer-id ID       20 bytes or 40 hex digits (default: -BK0100-random)\n"
	      "      --key KEY          8 hex digits are also the UDP key (default random)\n"
	      "      --ip ADDR          the ip parameter (UDP: an IPv4 address)\n"
	      "      --no-compact       send compact=0 (BEP 3 dictionary peers)\n"
	      "      --trackerid ID     echo a tracker id from an earlier answer\n"
	      "transport\n"
	      "  -t, --timeout SECS     whole exchange per tracker (default 15)\n"
	      "      --retries N        UDP retransmissions, 0..8 (default 3)\n"
	      "  -j, --jobs N           requests in flight (default 16)\n"
	      "      --cacert FILE      CA certificates (PEM) for HTTPS trackers\n"
	      "  -k, --insecure         do not verify TLS certificates\n"
	      "output\n"
	      "      --json             one JSON object per tracker per line\n"
	      "  -v, --verbose          raw bytes on errors (-vv: no size limit)\n"
	      "  -h, --help             this text\n"
	      "\n"
	      "exit: 0 all trackers answered, 1 some failed, 2 usage, 3 unreadable target\n",
	      f);
}

enum {
	OPT_UPLOADED = 256, OPT_DOWNLOADED, OPT_LEFT, OPT_PEER_ID, OPT_KEY, OPT_IP,
	OPT_NO_COMPACT, OPT_TRACKERID, OPT_RETRIES, OPT_CACERT, OPT_JSON,
};

static const struct option longopts[] = {
	{ "all",        no_argument,       NULL, 'a' },
	{ "batch",      required_argument, NULL, 'b' },
	{ "cacert",     required_argument, NULL, OPT_CACERT },
	{ "downloaded", required_argument, NULL, OPT_DOWNLOADED },
	{ "event",      required_argument, NULL, 'e' },
	{ "help",       no_argument,       NULL, 'h' },
	{ "info-hash",  required_argument, NULL, 'i' },
	{ "insecure",   no_argument,       NULL, 'k' },
	{ "ip",         required_argument, NULL, OPT_IP },
	{ "jobs",       required_argument, NULL, 'j' },
	{ "json",       no_argument,       NULL, OPT_JSON },
	{ "key",        required_argument, NULL, OPT_KEY },
	{ "left",       required_argument, NULL, OPT_LEFT },
	{ "no-compact", no_argument,       NULL, OPT_NO_COMPACT },
	{ "numwant",    required_argument, NULL, 'n' },
	{ "peer-id",    required_argument, NULL, OPT_PEER_ID },
	{ "port",       required_argument, NULL, 'p' },
	{ "retries",    required_argument, NULL, OPT_RETRIES },
	{ "scrape",     no_argument,       NULL, 's' },
	{ "timeout",    required_argument, NULL, 't' },
	{ "tracker",    required_argument, NULL, 'T' },
	{ "trackerid",  required_argument, NULL, OPT_TRACKERID },
	{ "uploaded",   required_argument, NULL, OPT_UPLOADED },
	{ "verbose",    no_argument,       NULL, 'v' },
	{ NULL, 0, NULL, 0 },
};

/* One torrent, magnet, batch line or the -i/-T set: hashes x trackers. */
struct target {
	struct app *app;
	char *source;              /* "FILE", "magnet", "-i", "BATCH:LINE" */
	uint8_t (*hashes)[20];
	size_t nhashes;
	char **urls;
	uint32_t *tiers;
	size_t ntrackers;
	bool left_known;
	uint64_t left;
	struct unit *units;
	size_t live;               /* units not finished */
};

/* What walks the trackers: one info-hash (announce) or all (scrape). */
struct unit {
	struct target *t;
	size_t hash;               /* announce: index into t->hashes */
	size_t next;               /* ordered mode: next tracker to try */
	size_t live;               /* jobs running */
	bool ok;
};

struct job {
	struct bt_trk_req r;
	struct unit *u;
	size_t tracker;
};

struct app {
	struct bt_loop loop;
	struct bt_trk_client *trk;
	struct bt_out out;
	bool all, scrape, json;
	int verbose;
	unsigned jobs;
	/* announce template */
	struct bt_trk_announce ann;
	uint32_t udp_key, udp_ip;
	char keybuf[9];
	/* -i / -T */
	uint8_t (*hashes)[20];
	size_t nhashes;
	char **trackers;
	size_t ntrackers;
	/* batch: lines are read as requests finish; a pipe or terminal
	 * through the loop (one read per readiness, so the loop never blocks
	 * on a slow writer), a regular file directly. */
	const char *batch_name;      /* non-NULL in batch mode */
	int batch_fd;                /* -1 at end of input */
	bool batch_pollable;
	struct bt_io batch_io;
	bool batch_io_on;
	char *bbuf;
	size_t blen, bcap;
	bool bskip;                  /* inside an over-long line */
	unsigned long batch_line;
	bool left_set;
	/* results */
	unsigned long nok, nfail;
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		err(EXIT_INPUT, "calloc");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		err(EXIT_INPUT, "strdup");
	return p;
}

/* ---- option values ------------------------------------------------------ */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool unhex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* 40 hex digits, or 64 (a v2 hash: trackers see its first 20 bytes). */
static bool parse_hash(const char *s, size_t n, uint8_t out[20])
{
	uint8_t v2[32];

	if (n == 40)
		return unhex(s, 20, out);
	if (n == 64 && unhex(s, 32, v2)) {
		memcpy(out, v2, 20);
		return true;
	}
	return false;
}

static uint64_t num_arg(const char *opt, const char *s, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '-' || *s == '\0')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		goto bad;
	return v;
bad:
	warnx("%s: not a number in 0..%" PRIu64 ": '%s'", opt, max, s);
	usage(stderr);
	exit(EXIT_USAGE);
}

static uint64_t secs_arg(const char *opt, const char *s)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || *end || !(d > 0) || d > 86400) {
		warnx("%s: want seconds in (0, 86400]: '%s'", opt, s);
		usage(stderr);
		exit(EXIT_USAGE);
	}
	return (uint64_t)llround(d * 1e6);
}

static void usage_err(const char *fmt, const char *arg)
{
	warnx(fmt, arg);
	usage(stderr);
	exit(EXIT_USAGE);
}

/* ---- reading targets ---------------------------------------------------- */

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		warn("%s", path);
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > BT_META_MAX_BYTES) {
		warnx("%s: not a regular file of at most 64 MiB", path);
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		err(EXIT_INPUT, "malloc");
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			warnx("%s: read failed", path);
			free(buf);
			close(fd);
			return NULL;
		}
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

static struct target *target_new(struct app *a, const char *source)
{
	struct target *t = xcalloc(1, sizeof(*t));
	t->app = a;
	t->source = xstrdup(source);
	return t;
}

static void target_free(struct target *t)
{
	for (size_t i = 0; i < t->ntrackers; i++)
		free(t->urls[i]);
	free(t->urls);
	free(t->tiers);
	free(t->hashes);
	free(t->units);
	free(t->source);
	free(t);
}

static void target_add_tracker(struct target *t, const void *url, size_t len, uint32_t tier)
{
	char **u = realloc(t->urls, (t->ntrackers + 1) * sizeof(*u));
	uint32_t *ti = realloc(t->tiers, (t->ntrackers + 1) * sizeof(*ti));
	char *s = malloc(len + 1);

	if (!u || !ti || !s)
		err(EXIT_INPUT, "realloc");
	t->urls = u;
	t->tiers = ti;
	memcpy(s, url, len);
	s[len] = '\0';
	t->urls[t->ntrackers] = s;
	t->tiers[t->ntrackers++] = tier;
}

static void target_set_hash(struct target *t, const uint8_t h[20])
{
	t->hashes = xcalloc(1, 20);
	memcpy(t->hashes[0], h, 20);
	t->nhashes = 1;
}

/* Trackers from -T replace the target's own. */
static void target_trackers_override(struct app *a, struct target *t)
{
	if (!a->ntrackers)
		return;
	for (size_t i = 0; i < t->ntrackers; i++)
		free(t->urls[i]);
	t->ntrackers = 0;
	for (size_t i = 0; i < a->ntrackers; i++)
		target_add_tracker(t, a->trackers[i], strlen(a->trackers[i]), (uint32_t)i);
}

/* A torrent file or a magnet; NULL (after a message) if unusable. */
static struct target *target_from_arg(struct app *a, const char *arg)
{
	struct target *t;

	if (strncmp(arg, "magnet:", 7) == 0) {
		size_t len = strlen(arg);
		uint8_t *scratch = malloc(len + 1);
		struct bt_magnet *mg = xcalloc(1, sizeof(*mg));
		struct bt_magnet_err me;

		if (!scratch)
			err(EXIT_INPUT, "malloc");
		if (bt_magnet_parse(mg, arg, len, scratch, len + 1, &me) != BT_OK) {
			warnx("magnet: %s at offset %zu", me.rule, me.off);
			free(scratch);
			free(mg);
			return NULL;
		}
		if (!mg->has_btih && !mg->has_btmh) {
			warnx("magnet: no info-hash (xt=urn:btih: or urn:btmh:)");
			free(scratch);
			free(mg);
			return NULL;
		}
		t = target_new(a, "magnet");
		target_set_hash(t, mg->has_btih ? mg->btih : mg->btmh);
		for (size_t i = 0; i < mg->ntr; i++)
			target_add_tracker(t, mg->tr[i].p, mg->tr[i].len, 0);
		free(scratch);
		free(mg);
	} else {
		struct bt_meta m;
		struct bt_meta_err me;
		size_t len = 0;
		uint8_t *buf = slurp(arg, &len);

		if (!buf)
			return NULL;
		if (bt_meta_parse(&m, buf, len, NULL, &me) != BT_OK) {
			warnx("%s: %s at offset %zu", arg, me.rule, me.off);
			free(buf);
			return NULL;
		}
		t = target_new(a, arg);
		/* Trackers see the v1 hash, or a v2 hash's first 20 bytes. */
		target_set_hash(t, m.version == BT_META_V2 ? m.info_hash_v2 : m.info_hash_v1);
		for (size_t i = 0; i < m.ntrackers; i++)
			target_add_tracker(t, m.trackers[i].url.p, m.trackers[i].url.len,
					   m.trackers[i].tier);
		t->left_known = true;
		t->left = m.total_size;
		bt_meta_free(&m);
		free(buf);
	}
	target_trackers_override(a, t);
	return t;
}

/* ---- output ------------------------------------------------------------- */

/* This tool's own fields, between the printer's and the lists. */
static void put_tool_fields(struct app *a, struct bt_out *o, const struct job *j)
{
	const struct target *t = j->u->t;

	bt_out_str(o, "source", NULL, t->source);
	if (a->batch_name)
		bt_out_null(o, "tier", NULL);
	else
		bt_out_uint(o, "tier", NULL, t->tiers[j->tracker]);
}

static void print_record(struct app *a, const struct job *j)
{
	struct bt_out *o = &a->out;

	bt_out_begin(o);
	bt_print_trk_req_fields(o, NULL, j->u->t->urls[j->tracker], &j->r);
	put_tool_fields(a, o, j);
	bt_print_trk_req_lists(o, NULL, &j->r);
	bt_out_end(o);
	fflush(o->f);
}

/* hexdump -C style, to stderr. */
static void dump(const char *what, const uint8_t *p, size_t n, int verbose)
{
	size_t lim = verbose > 1 ? n : (n < DUMP_MAX ? n : DUMP_MAX);

	fprintf(stderr, "  %s (%zu bytes%s):\n", what, n, lim < n ? ", first 4096" : "");
	for (size_t off = 0; off < lim; off += 16) {
		char line[100];
		size_t k = 0, i;
		k += (size_t)snprintf(line + k, sizeof line - k, "  %08zx ", off);
		for (i = 0; i < 16; i++) {
			if (off + i < lim)
				k += (size_t)snprintf(line + k, sizeof line - k, "%s%02x",
						      i == 8 ? "  " : " ", p[off + i]);
			else
				k += (size_t)snprintf(line + k, sizeof line - k, "%s  ",
						      i == 8 ? "  " : " ");
		}
		k += (size_t)snprintf(line + k, sizeof line - k, "  |");
		for (i = 0; i < 16 && off + i < lim; i++)
			line[k++] = p[off + i] >= 0x20 && p[off + i] < 0x7f ? (char)p[off + i] : '.';
		line[k++] = '|';
		line[k] = '\0';
		fprintf(stderr, "%s\n", line);
	}
}

static void report_error(struct app *a, const struct job *j)
{
	const struct bt_trk_req *r = &j->r;
	const char *url = j->u->t->urls[j->tracker];
	char u[1024];

	bt_escape_text(url, strlen(url), u, sizeof u);
	warnx("%s: %s%s", u, r->msg,
	      r->fail == BT_TRKF_TLS && strstr(r->msg, "certificate") ?
	      " (trust its CA with --cacert FILE, or skip the check with --insecure)" : "");
	if (a->verbose <= 0)
		return;
	if (r->effective_url) {
		bt_escape_text(r->effective_url, strlen(r->effective_url), u, sizeof u);
		fprintf(stderr, "  %s: %s\n", r->t.redirects ? "last URL" : "request URL", u);
	}
	if (r->raw_sent_len)
		dump("last packet sent", r->raw_sent, r->raw_sent_len, a->verbose);
	for (size_t i = 0, k; i < r->headers_len; i = k) {
		char line[1024];
		for (k = i; k < r->headers_len && r->headers[k] != '\n'; k++)
			;
		bt_escape_text(r->headers + i, k > i && r->headers[k - 1] == '\r' ? k - i - 1 :
			       k - i, line, sizeof line);
		if (k > i + 1)
			fprintf(stderr, "  < %s\n", line);
		k++;
	}
	if (r->raw_len)
		dump(r->scheme == BT_URL_UDP ? "last packet received" : "response body",
		     r->raw, r->raw_len, a->verbose);
	else if (r->scheme)
		fprintf(stderr, "  nothing received\n");
}

/* ---- running ------------------------------------------------------------ */

static void start_job(struct app *a, struct unit *u, size_t tracker);

static void on_done(struct bt_trk_req *r)
{
	struct job *j = r->arg;
	struct unit *u = j->u;
	struct target *t = u->t;
	struct app *a = t->app;

	print_record(a, j);
	if (r->fail == BT_TRKF_OK) {
		a->nok++;
		u->ok = true;
	} else {
		a->nfail++;
		report_error(a, j);
	}
	u->live--;
	bt_trk_req_free(r);
	free(j);
	/* BEP 12 without --all: the next tracker, in tier order, until one
	 * answers. */
	if (!a->all && !u->ok && u->next < t->ntrackers)
		start_job(a, u, u->next++);
	else if (u->live == 0 && --t->live == 0)
		target_free(t);
}

static void start_job(struct app *a, struct unit *u, size_t tracker)
{
	struct target *t = u->t;
	struct job *j = xcalloc(1, sizeof(*j));
	struct bt_trk_req *r = &j->r;

	bt_trk_req_init(r);
	j->u = u;
	j->tracker = tracker;
	r->arg = j;
	r->done = on_done;
	r->url = t->urls[tracker];
	r->url_len = strlen(t->urls[tracker]);
	r->ann = a->ann;
	r->udp_key = a->udp_key;
	r->udp_ip = a->udp_ip;
	if (t->left_known && !a->left_set)
		r->ann.left = t->left;
	if (a->scrape) {
		r->kind = BT_TRK_SCRAPE;
		r->hashes = (const uint8_t (*)[20])t->hashes;
		r->nhashes = t->nhashes;
		memcpy(r->ann.info_hash, t->hashes[0], 20);
	} else {
		r->kind = BT_TRK_ANNOUNCE;
		memcpy(r->ann.info_hash, t->hashes[u->hash], 20);
	}
	u->live++;
	if (bt_trk_start(a->trk, r) != 0)
		err(EXIT_INPUT, "cannot start a request");
}

/* Announce: one unit per info-hash; scrape: one unit for all of them. */
static void run_target(struct app *a, struct target *t)
{
	size_t n = a->scrape ? 1 : t->nhashes;

	if (t->ntrackers == 0) {
		char s[256];
		bt_escape_text(t->source, strlen(t->source), s, sizeof s);
		warnx("%s: no trackers (give one with --tracker URL)", s);
		a->nfail++;
		target_free(t);
		return;
	}
	t->units = xcalloc(n, sizeof(*t->units));
	t->live = n;
	for (size_t i = 0; i < n; i++) {
		struct unit *u = &t->units[i];
		u->t = t;
		u->hash = i;
		if (a->all) {
			u->next = t->ntrackers;
			for (size_t k = 0; k < t->ntrackers; k++)
				start_job(a, u, k);
		} else {
			start_job(a, u, u->next++);
		}
	}
}

/* One batch line: "TRACKER-URL INFO-HASH", a torrent path or a magnet.
 * Blank lines and lines starting with '#' are skipped.  A bad line is
 * reported and counted as a failure; the batch goes on. */
static void batch_line(struct app *a, char *line)
{
	char src[64], *p = line, *e, *url, *hash;
	struct target *t;
	uint8_t h[20];
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
		     line[n - 1] == '\t'))
		line[--n] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return;
	snprintf(src, sizeof src, "%s:%lu", a->batch_name, a->batch_line);
	e = p + strcspn(p, " \t");
	if (*e == '\0') {
		t = target_from_arg(a, p);
		if (!t) {
			warnx("%s: target skipped", src);
			a->nfail++;
			return;
		}
		free(t->source);
		t->source = xstrdup(src);
		run_target(a, t);
		return;
	}
	url = p;
	*e++ = '\0';
	hash = e + strspn(e, " \t");
	if (strcspn(hash, " \t") != strlen(hash) || !parse_hash(hash, strlen(hash), h)) {
		warnx("%s: want \"TRACKER-URL INFO-HASH\" (40 hex digits)", src);
		a->nfail++;
		return;
	}
	t = target_new(a, src);
	target_set_hash(t, h);
	target_add_tracker(t, url, strlen(url), 0);
	run_target(a, t);
}

#define BATCH_LINE_MAX (BT_MAGNET_MAX_LEN + 16)

static void batch_feed(struct app *a);

static void batch_readable(struct bt_loop *l, struct bt_io *io, unsigned ev)
{
	struct app *a = io->arg;

	(void)l;
	(void)ev;
	bt_io_del(&a->loop, io);
	a->batch_io_on = false;
	a->batch_pollable = true;
	batch_feed(a);
}

/* Read once into the buffer: > 0 bytes, 0 at end, -1 on error. */
static ssize_t batch_read(struct app *a)
{
	ssize_t n;

	if (a->bcap - a->blen < 4096) {
		char *b = realloc(a->bbuf, a->bcap + 65536);
		if (!b)
			err(EXIT_INPUT, "realloc");
		a->bbuf = b;
		a->bcap += 65536;
	}
	do
		n = read(a->batch_fd, a->bbuf + a->blen, a->bcap - a->blen);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		a->blen += (size_t)n;
	return n;
}

static void batch_end(struct app *a, bool error)
{
	if (error)
		warn("%s", a->batch_name);
	if (a->batch_fd > 0)
		close(a->batch_fd);
	a->batch_fd = -1;
}

/* Keep about `jobs` requests busy: take lines while fewer are active. */
static void batch_feed(struct app *a)
{
	while (a->batch_fd >= 0 && bt_trk_active(a->trk) < a->jobs) {
		char *nl = a->blen ? memchr(a->bbuf, '\n', a->blen) : NULL;
		ssize_t n;

		if (nl) {
			size_t k = (size_t)(nl - a->bbuf);
			*nl = '\0';
			a->batch_line++;
			if (a->bskip) {
				a->bskip = false;
			} else if (memchr(a->bbuf, '\0', k)) {
				warnx("%s:%lu: NUL byte in line", a->batch_name, a->batch_line);
				a->nfail++;
			} else {
				batch_line(a, a->bbuf);
			}
			memmove(a->bbuf, nl + 1, a->blen - k - 1);
			a->blen -= k + 1;
			continue;
		}
		if (a->blen > BATCH_LINE_MAX) {
			if (!a->bskip) {
				warnx("%s:%lu: line longer than %d bytes", a->batch_name,
				      a->batch_line + 1, BATCH_LINE_MAX);
				a->nfail++;
			}
			a->bskip = true;
			a->blen = 0;
		}
		/* A pipe is read only when the loop says it is readable. */
		if (a->batch_pollable) {
			a->batch_pollable = false;
			n = batch_read(a);
		} else if (a->batch_io.fd == a->batch_fd && !a->batch_io_on &&
			   bt_io_add(&a->loop, &a->batch_io) == 0) {
			a->batch_io_on = true;
			return;
		} else if (a->batch_io_on) {
			return;
		} else {
			n = batch_read(a);  /* a regular file: never blocks long */
		}
		if (n == 0 && a->blen && !a->bskip) {
			/* The last line had no newline.  batch_read left room:
			 * it makes 4096 bytes free before every read. */
			a->bbuf[a->blen] = '\0';
			a->batch_line++;
			batch_line(a, a->bbuf);
			a->blen = 0;
		}
		if (n <= 0)
			batch_end(a, n < 0);
	}
}

static void batch_open(struct app *a, const char *name)
{
	struct stat st;

	a->batch_name = strcmp(name, "-") == 0 ? "stdin" : name;
	a->batch_fd = strcmp(name, "-") == 0 ? 0 : open(name, O_RDONLY | O_CLOEXEC);
	if (a->batch_fd < 0)
		err(EXIT_INPUT, "%s", name);
	if (fstat(a->batch_fd, &st) != 0)
		err(EXIT_INPUT, "%s", name);
	a->batch_io.fd = -1;
	if (!S_ISREG(st.st_mode)) {
		/* epoll refuses regular files; everything else goes through it */
		a->batch_io.fd = a->batch_fd;
		a->batch_io.want = BT_IO_IN;
		a->batch_io.cb = batch_readable;
		a->batch_io.arg = a;
	}
}

/* Each request in flight may hold a socket: make room for -j of them, or
 * lower -j to what the hard limit allows. */
static unsigned fit_nofile(unsigned jobs)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)jobs + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return jobs;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return jobs;
	if (rl.rlim_cur >= want)
		return jobs;
	want = rl.rlim_cur > 96 ? rl.rlim_cur - 64 : 32;
	warnx("warning: --jobs %u lowered to %u (open file limit %llu)", jobs, (unsigned)want,
	      (unsigned long long)rl.rlim_cur);
	return (unsigned)want;
}

int main(int argc, char **argv)
{
	struct app a;
	struct bt_trk_opts to;
	const char *key = NULL, *ip = NULL, *trackerid = NULL, *batch = NULL;
	bool have_peer_id = false, have_key = false;
	int c, rc, status;

	memset(&a, 0, sizeof a);
	bt_trk_opts_init(&to);
	bt_trk_announce_init(&a.ann);
	a.ann.compact = BT_TRK_COMPACT_YES;
	a.ann.port = 6881;
	a.jobs = DEFAULT_JOBS;

	while ((c = getopt_long(argc, argv, "ab:e:hi:j:kn:p:st:T:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			a.all = true;
			break;
		case 'b':
			batch = optarg;
			break;
		case OPT_CACERT:
			to.cacert = optarg;
			break;
		case OPT_DOWNLOADED:
			a.ann.downloaded = num_arg("--downloaded", optarg, UINT64_MAX);
			break;
		case 'e':
			a.ann.event = bt_trk_event_parse(optarg, strlen(optarg));
			if (a.ann.event < 0)
				usage_err("--event: want started, stopped, completed or empty: '%s'",
					  optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'i': {
			uint8_t (*h)[20] = realloc(a.hashes, (a.nhashes + 1) * 20);
			if (!h)
				err(EXIT_INPUT, "realloc");
			a.hashes = h;
			if (!parse_hash(optarg, strlen(optarg), a.hashes[a.nhashes]))
				usage_err("--info-hash: want 40 hex digits (or 64 for v2): '%s'",
					  optarg);
			a.nhashes++;
			break;
		}
		case 'j':
			a.jobs = (unsigned)num_arg("--jobs", optarg, MAX_JOBS);
			if (a.jobs == 0)
				usage_err("--jobs: want 1..4096, not '%s'", optarg);
			break;
		case OPT_JSON:
			a.json = true;
			break;
		case 'k':
			to.insecure = true;
			break;
		case OPT_KEY:
			key = optarg;
			break;
		case OPT_IP:
			ip = optarg;
			break;
		case OPT_LEFT:
			a.ann.left = num_arg("--left", optarg, UINT64_MAX);
			a.left_set = true;
			break;
		case 'n':
			a.ann.numwant = (int32_t)num_arg("--numwant", optarg, INT32_MAX);
			break;
		case OPT_NO_COMPACT:
			a.ann.compact = BT_TRK_COMPACT_NO;
			break;
		case 'p':
			a.ann.port = (uint16_t)num_arg("--port", optarg, 65535);
			break;
		case OPT_PEER_ID: {
			size_t n = strlen(optarg);
			if (n == 40 && unhex(optarg, 20, a.ann.peer_id))
				;
			else if (n == 20)
				memcpy(a.ann.peer_id, optarg, 20);
			else
				usage_err("--peer-id: want 20 bytes or 40 hex digits: '%s'", optarg);
			have_peer_id = true;
			break;
		}
		case OPT_RETRIES:
			to.retries = (int)num_arg("--retries", optarg, 8);
			break;
		case 's':
			a.scrape = true;
			break;
		case 't':
			to.timeout_us = secs_arg("--timeout", optarg);
			break;
		case 'T': {
			char **t = realloc(a.trackers, (a.ntrackers + 1) * sizeof(*t));
			if (!t)
				err(EXIT_INPUT, "realloc");
			a.trackers = t;
			a.trackers[a.ntrackers++] = optarg;
			break;
		}
		case OPT_TRACKERID:
			trackerid = optarg;
			break;
		case OPT_UPLOADED:
			a.ann.uploaded = num_arg("--uploaded", optarg, UINT64_MAX);
			break;
		case 'v':
			a.verbose++;
			break;
		default:
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (batch && (argc > 0 || a.nhashes))
		usage_err("%s", "--batch takes no other targets");
	if (!batch && argc == 0 && a.nhashes == 0) {
		usage(stderr);
		exit(EXIT_USAGE);
	}
	if (a.nhashes && a.ntrackers == 0)
		usage_err("%s", "--info-hash needs at least one --tracker URL");

	if (!have_peer_id && bt_peerid_generate(a.ann.peer_id, NULL, NULL) != BT_OK)
		errx(EXIT_INPUT, "no random source for a peer id");
	if (key) {
		size_t n = strlen(key);
		uint8_t kb[4];
		a.ann.key = key;
		a.ann.key_len = n;
		have_key = true;
		/* The same number for UDP when the key is 8 hex digits. */
		if (n == 8 && unhex(key, 4, kb))
			a.udp_key = bt_load_u32be(kb);
		else
			have_key = false;
	}
	if (!have_key) {
		uint32_t k;
		if (bt_trk_random_key(&k, a.keybuf) != 0)
			errx(EXIT_INPUT, "no random source for a key");
		a.udp_key = k;
		if (!key) {
			a.ann.key = a.keybuf;
			a.ann.key_len = 8;
		}
	}
	if (ip) {
		uint8_t b[16];
		a.ann.ip = ip;
		a.ann.ip_len = strlen(ip);
		if (bt_url_ip_literal(ip, strlen(ip), b) == 4)
			a.udp_ip = bt_load_u32be(b);
	}
	if (trackerid) {
		a.ann.trackerid = trackerid;
		a.ann.trackerid_len = strlen(trackerid);
	}

	signal(SIGPIPE, SIG_IGN);
	a.jobs = fit_nofile(a.jobs);
	bt_out_init(&a.out, stdout, a.json);
	if ((rc = bt_loop_init(&a.loop)) != 0) {
		errno = -rc;
		err(EXIT_INPUT, "event loop");
	}
	to.max_inflight = a.jobs;
	if ((rc = bt_trk_client_new(&a.trk, &a.loop, &to)) != 0) {
		errno = -rc;
		err(EXIT_INPUT, "tracker client");
	}

	status = 0;
	a.batch_fd = -1;
	if (batch) {
		batch_open(&a, batch);
	} else {
		for (int i = 0; i < argc; i++) {
			struct target *t = target_from_arg(&a, argv[i]);
			if (!t) {
				status = EXIT_INPUT;
				continue;
			}
			run_target(&a, t);
		}
		if (a.nhashes) {
			struct target *t = target_new(&a, "info-hash");
			t->hashes = xcalloc(a.nhashes, 20);
			memcpy(t->hashes, a.hashes, a.nhashes * 20);
			t->nhashes = a.nhashes;
			target_trackers_override(&a, t);
			run_target(&a, t);
		}
	}
	for (;;) {
		batch_feed(&a);
		if (bt_trk_active(a.trk) == 0 && a.batch_fd < 0)
			break;
		if ((rc = bt_loop_once(&a.loop, 1000000)) < 0) {
			errno = -rc;
			err(EXIT_INPUT, "event loop");
		}
	}
	bt_trk_client_free(a.trk);
	bt_loop_free(&a.loop);
	free(a.hashes);
	free(a.trackers);
	free(a.bbuf);
	if (status)
		return status;
	return a.nfail ? EXIT_SOME_FAILED : 0;
}
