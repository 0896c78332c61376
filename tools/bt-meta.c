/* bt-meta — show, check and verify .torrent files.
 *
 *   bt-meta [--json] [--strict] FILE.torrent      report
 *   bt-meta --magnet [--json] [--strict] FILE.torrent   the magnet link
 *   bt-meta --verify [--json] [-v] FILE.torrent DIR
 *
 * Exit: 0 ok (verify: all pieces good), 1 verify found missing or corrupt
 * pieces, 2 usage, 3 malformed or unreadable torrent (or DIR). */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "magnet.h"
#include "meta.h"
#include "out.h"
#include "store.h"

#define EXIT_BAD_PIECES 1
#define EXIT_USAGE 2
#define EXIT_MALFORMED 3

static const char usage_text[] =
	"usage: bt-meta [--json] [--strict] FILE.torrent\n"
	"       bt-meta --magnet [--json] [--strict] FILE.torrent\n"
	"       bt-meta --verify [--json] [--strict] [-v] FILE.torrent DIR\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
	if (f == stdout)
		fputs("\n"
		      "  -h, --help     this text\n"
		      "  -j, --json     one JSON object on one line\n"
		      "  -m, --magnet   print only the magnet link (--json: {\"magnet\": ...})\n"
		      "  -s, --strict   reject what lenient parsing would tolerate\n"
		      "  -v, --verbose  with --verify: one line per bad piece\n"
		      "      --verify   hash the data under DIR against the torrent\n"
		      "\n"
		      "exit: 0 ok, 1 pieces missing or corrupt, 2 usage, 3 malformed torrent\n",
		      f);
}

/* Read the whole file, refusing more than BT_META_MAX_BYTES. */
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
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		warnx("%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size > BT_META_MAX_BYTES) {
		warnx("%s: larger than 64 MiB, not a torrent", path);
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		err(EXIT_MALFORMED, "malloc");
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				warn("%s", path);
			else
				warnx("%s: file shrank while reading", path);
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

static int load(const char *path, bool strict, struct bt_meta *m, uint8_t **buf)
{
	struct bt_meta_opts opts = { strict ? BT_META_STRICT : 0, NULL, 0, 0 };
	struct bt_meta_err e;
	size_t len = 0;
	unsigned t;

	*buf = slurp(path, &len);
	if (!*buf)
		return -1;
	if (bt_meta_parse(m, *buf, len, &opts, &e) != BT_OK) {
		if (e.has_numbers)
			warnx("%s: %s at offset %zu (expected %" PRIu64 ", got %" PRIu64 ")",
			      path, e.rule, e.off, e.want, e.got);
		else
			warnx("%s: %s at offset %zu", path, e.rule, e.off);
		free(*buf);
		*buf = NULL;
		return -1;
	}
	for (t = m->tolerated; t; t &= t - 1)
		warnx("%s: warning: tolerated: %s", path, bt_meta_tol_name(t));
	return 0;
}

static char *magnet_of(const struct bt_meta *m)
{
	size_t n = bt_magnet_from_meta(m, NULL, 0);
	char *s = malloc(n + 1);

	if (!s)
		err(EXIT_MALFORMED, "malloc");
	bt_magnet_from_meta(m, s, n + 1);
	return s;
}

static char *path_of(const struct bt_meta *m, size_t f, size_t *len)
{
	size_t n = bt_meta_path_join(m, f, NULL, 0);
	char *s = malloc(n + 1);

	if (!s)
		err(EXIT_MALFORMED, "malloc");
	bt_meta_path_join(m, f, s, n + 1);
	*len = n;
	return s;
}

/* "1.5 MiB" for the text report. */
static void human(struct bt_out *o, uint64_t v)
{
	static const char *unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	char b[64];
	unsigned u = 0;
	double d = (double)v;

	if (o->json)
		return;
	while (d >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0]))
		d /= 1024, u++;
	if (u == 0)
		snprintf(b, sizeof(b), " (%" PRIu64 " bytes)", v);
	else
		snprintf(b, sizeof(b), " (%.1f %s)", d, unit[u]);
	bt_out_text(o, b);
}

static void out_hashes(struct bt_out *o, const struct bt_meta *m)
{
	if (m->version != BT_META_V2)
		bt_out_hex(o, "info_hash_v1", "info hash v1:  ", m->info_hash_v1, 20);
	else
		bt_out_null(o, "info_hash_v1", "info hash v1:  ");
	bt_out_text(o, "\n");
	if (m->version != BT_META_V1)
		bt_out_hex(o, "info_hash_v2", "info hash v2:  ", m->info_hash_v2, 32);
	else
		bt_out_null(o, "info_hash_v2", "info hash v2:  ");
	bt_out_text(o, "\n");
}

static void report(struct bt_out *o, const struct bt_meta *m)
{
	char *mag = magnet_of(m), b[96];
	size_t i, k;
	uint32_t tier;

	bt_out_begin(o);
	bt_out_bytes(o, "name", "name:          ", m->name.p, m->name.len);
	bt_out_text(o, "\n");
	bt_out_str(o, "version", "version:       ", bt_meta_version_name(m->version));
	bt_out_text(o, "\n");
	out_hashes(o, m);
	bt_out_uint(o, "piece_length", "piece length:  ", m->piece_length);
	human(o, m->piece_length);
	bt_out_text(o, "\n");
	bt_out_uint(o, "piece_count", "piece count:   ", m->piece_count);
	snprintf(b, sizeof(b), " (last piece %" PRIu64 " bytes)\n", m->last_piece_size);
	bt_out_text(o, m->piece_count ? b : "\n");
	bt_out_uint(o, "total_size", "total size:    ", m->total_size);
	human(o, m->total_size);
	bt_out_text(o, "\n");
	bt_out_bool(o, "private", "private:       ", m->is_private);
	bt_out_text(o, "\n");

	snprintf(b, sizeof(b), "files:         %zu", m->nfiles - m->npad);
	bt_out_text(o, b);
	bt_out_uint(o, "pad_files", " (pad files: ", m->npad);
	bt_out_text(o, ")\n");
	bt_out_arr_begin(o, "files", NULL);
	for (i = 0; i < m->nfiles; i++) {
		size_t plen;
		char *p;
		if (m->files[i].attr & BT_META_ATTR_PAD)
			continue;
		p = path_of(m, i, &plen);
		bt_out_obj_begin(o, NULL, NULL);
		bt_out_bytes(o, "path", "  ", p, plen);
		bt_out_uint(o, "size", " (", m->files[i].size);
		bt_out_text(o, " bytes)\n");
		bt_out_obj_end(o);
		free(p);
	}
	bt_out_arr_end(o);

	bt_out_arr_begin(o, "trackers", "trackers:");
	if (m->ntrackers == 0)
		bt_out_text(o, "      -");
	bt_out_text(o, "\n");
	for (i = 0, tier = 0; tier < m->ntiers; tier++) {
		snprintf(b, sizeof(b), "  tier %" PRIu32 ":", tier);
		bt_out_arr_begin(o, NULL, b);
		for (; i < m->ntrackers && m->trackers[i].tier == tier; i++)
			bt_out_bytes(o, NULL, " ", m->trackers[i].url.p,
				     m->trackers[i].url.len);
		bt_out_arr_end(o);
		bt_out_text(o, "\n");
	}
	bt_out_arr_end(o);

	bt_out_arr_begin(o, "url_list", "url-list:");
	bt_out_text(o, m->nurls ? "\n" : "      -\n");
	for (k = 0; k < m->nurls; k++) {
		bt_out_bytes(o, NULL, "  ", m->url_list[k].p, m->url_list[k].len);
		bt_out_text(o, "\n");
	}
	bt_out_arr_end(o);

	if (m->has_created_by)
		bt_out_bytes(o, "created_by", "created by:    ",
			     m->created_by.p, m->created_by.len);
	else
		bt_out_null(o, "created_by", "created by:    ");
	bt_out_text(o, "\n");
	if (m->has_creation_date) {
		time_t t = (time_t)m->creation_date;
		struct tm tm;
		bt_out_int(o, "creation_date", NULL, m->creation_date);
		if ((int64_t)t == m->creation_date && gmtime_r(&t, &tm) &&
		    tm.tm_year + 1900 >= 0 && tm.tm_year + 1900 <= 9999)
			strftime(b, sizeof(b), "creation date: %Y-%m-%dT%H:%M:%SZ\n", &tm);
		else
			snprintf(b, sizeof(b), "creation date: %" PRId64 " (not a date)\n",
				 m->creation_date);
		bt_out_text(o, b);
	} else {
		bt_out_null(o, "creation_date", "creation date: ");
		bt_out_text(o, "\n");
	}
	if (m->has_comment)
		bt_out_bytes(o, "comment", "comment:       ", m->comment.p, m->comment.len);
	else
		bt_out_null(o, "comment", "comment:       ");
	bt_out_text(o, "\n");
	bt_out_str(o, "magnet", "magnet:        ", mag);
	bt_out_end(o); /* the final newline */
	free(mag);
}

/* --- verify --- */

struct ranges {
	uint32_t (*r)[2];
	size_t n, cap;
};

struct vctx {
	struct ranges bad[3];    /* by enum bt_piece_state; [GOOD] unused */
	bool verbose;
	struct bt_out *o;
};

static void range_add(struct ranges *rs, uint32_t p)
{
	if (rs->n && rs->r[rs->n - 1][1] + 1 == p) {
		rs->r[rs->n - 1][1] = p;
		return;
	}
	if (rs->n == rs->cap) {
		size_t nc = rs->cap ? rs->cap * 2 : 64;
		void *nr = realloc(rs->r, nc * sizeof(*rs->r));
		if (!nr)
			err(EXIT_MALFORMED, "realloc");
		rs->r = nr;
		rs->cap = nc;
	}
	rs->r[rs->n][0] = rs->r[rs->n][1] = p;
	rs->n++;
}

static void on_piece(void *ctx, uint32_t piece, int state)
{
	struct vctx *v = ctx;

	if (state == BT_PIECE_GOOD)
		return;
	range_add(&v->bad[state], piece);
	if (v->verbose && !v->o->json) {
		bt_out_uint(v->o, NULL, "piece ", piece);
		bt_out_str(v->o, NULL, ": ", bt_piece_state_name(state));
		bt_out_text(v->o, "\n");
	}
}

static const char *file_status(const struct bt_meta_file *mf,
			       const struct bt_verify_file *vf)
{
	if (vf->state == BT_FILE_UNSAFE)
		return "unsafe";
	if (vf->state == BT_FILE_ERROR)
		return "error";
	if (vf->state == BT_FILE_ABSENT)
		return "missing";
	if (mf->size == 0)
		return "ok";
	if (vf->corrupt)
		return "corrupt";
	if (vf->missing)
		return "incomplete";
	return "ok";
}

static void out_ranges(struct bt_out *o, const char *key, const char *label,
		       const struct ranges *rs)
{
	char b[48];
	size_t i;

	if (!o->json && rs->n == 0)
		return;
	bt_out_arr_begin(o, key, label);
	for (i = 0; i < rs->n; i++) {
		if (o->json) {
			bt_out_arr_begin(o, NULL, NULL);
			bt_out_uint(o, NULL, NULL, rs->r[i][0]);
			bt_out_uint(o, NULL, NULL, rs->r[i][1]);
			bt_out_arr_end(o);
		} else {
			if (rs->r[i][0] == rs->r[i][1])
				snprintf(b, sizeof(b), "%s%" PRIu32, i ? "," : " ",
					 rs->r[i][0]);
			else
				snprintf(b, sizeof(b), "%s%" PRIu32 "-%" PRIu32,
					 i ? "," : " ", rs->r[i][0], rs->r[i][1]);
			bt_out_text(o, b);
		}
	}
	bt_out_arr_end(o);
	bt_out_text(o, "\n");
}

static int verify(struct bt_out *o, const struct bt_meta *m, const char *dir,
		  bool verbose)
{
	struct bt_verify_file *vf;
	struct bt_verify sum;
	struct vctx v;
	char b[128];
	size_t i;
	int dfd, k;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		warn("%s", dir);
		return EXIT_MALFORMED;
	}
	vf = calloc(m->nfiles, sizeof(*vf));
	if (!vf)
		err(EXIT_MALFORMED, "calloc");
	memset(&v, 0, sizeof(v));
	v.verbose = verbose;
	v.o = o;
	if (bt_store_verify(m, dfd, vf, on_piece, &v, &sum) != BT_OK)
		errx(EXIT_MALFORMED, "verify: out of memory");
	close(dfd);

	bt_out_begin(o);
	bt_out_bytes(o, "name", "name:          ", m->name.p, m->name.len);
	bt_out_text(o, "\n");
	bt_out_str(o, "version", "version:       ", bt_meta_version_name(m->version));
	bt_out_text(o, "\n");
	out_hashes(o, m);
	bt_out_arr_begin(o, "files", NULL);
	for (i = 0; i < m->nfiles; i++) {
		size_t plen;
		char *p;
		if (m->files[i].attr & BT_META_ATTR_PAD)
			continue;
		p = path_of(m, i, &plen);
		bt_out_obj_begin(o, NULL, NULL);
		snprintf(b, sizeof(b), "%-10s ", file_status(&m->files[i], &vf[i]));
		bt_out_text(o, b);
		bt_out_bytes(o, "path", "", p, plen);
		bt_out_str(o, "status", NULL, file_status(&m->files[i], &vf[i]));
		bt_out_uint(o, "size", NULL, m->files[i].size);
		bt_out_uint(o, "good", " (pieces: ", vf[i].good);
		bt_out_uint(o, "missing", " good, ", vf[i].missing);
		bt_out_uint(o, "corrupt", " missing, ", vf[i].corrupt);
		bt_out_text(o, " corrupt");
		if (vf[i].state == BT_FILE_SHORT) {
			snprintf(b, sizeof(b), "; %" PRIu64 " of %" PRIu64 " bytes on disk",
				 vf[i].disk_size, m->files[i].size);
			bt_out_text(o, b);
		} else if (vf[i].err) {
			snprintf(b, sizeof(b), "; %s", strerror(vf[i].err));
			bt_out_text(o, b);
		}
		bt_out_text(o, ")\n");
		bt_out_obj_end(o);
		free(p);
	}
	bt_out_arr_end(o);
	bt_out_uint(o, "good", "pieces:        ", sum.good);
	bt_out_uint(o, "missing", " good, ", sum.missing);
	bt_out_uint(o, "corrupt", " missing, ", sum.corrupt);
	bt_out_uint(o, "piece_count", " corrupt (of ", m->piece_count);
	bt_out_text(o, ")\n");
	out_ranges(o, "missing_pieces", "missing pieces:", &v.bad[BT_PIECE_MISSING]);
	out_ranges(o, "corrupt_pieces", "corrupt pieces:", &v.bad[BT_PIECE_CORRUPT]);
	/* JSON keeps a boolean; a person wants a word. */
	if (o->json)
		bt_out_bool(o, "ok", NULL, sum.missing == 0 && sum.corrupt == 0);
	else
		bt_out_str(o, NULL, "result:        ",
			   sum.missing == 0 && sum.corrupt == 0 ? "all pieces good" :
			   "data is incomplete or corrupt");
	bt_out_end(o);

	for (k = 0; k < 3; k++)
		free(v.bad[k].r);
	free(vf);
	return sum.missing || sum.corrupt ? EXIT_BAD_PIECES : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help",    no_argument, NULL, 'h' },
		{ "json",    no_argument, NULL, 'j' },
		{ "magnet",  no_argument, NULL, 'm' },
		{ "strict",  no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "verify",  no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, magnet = false, strict = false, verbose = false, check = false;
	struct bt_meta m;
	struct bt_out o;
	uint8_t *buf;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "hjmsv", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case 'j': json = true; break;
		case 'm': magnet = true; break;
		case 's': strict = true; break;
		case 'v': verbose = true; break;
		case 'V': check = true; break;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if ((magnet && check) || argc != (check ? 2 : 1) ||
	    (verbose && !check)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (load(argv[0], strict, &m, &buf) != 0)
		return EXIT_MALFORMED;

	bt_out_init(&o, stdout, json);
	if (magnet) {
		char *s = magnet_of(&m);
		bt_out_begin(&o);
		bt_out_str(&o, "magnet", "", s);
		bt_out_end(&o);
		free(s);
	} else if (check) {
		rc = verify(&o, &m, argv[1], verbose);
	} else {
		report(&o, &m);
	}
	bt_meta_free(&m);
	free(buf);
	if (fflush(stdout) != 0 || ferror(stdout))
		err(EXIT_MALFORMED, "stdout");
	return rc;
}
