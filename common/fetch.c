/* fetch.c — the download engine; see fetch.h. */
#include "fetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "ext.h"
#include "out.h"
#include "picker.h"
#include "store.h"
#include "trk.h"
#include "wire.h"

#define OUR_UT_METADATA   3
#define OUR_REQQ          1024
#define TICK_US           250000u
#define KEEPALIVE_US      90000000u
#define MD_TIMEOUT_US     10000000u
#define FD_CACHE          64
#define MAX_SLOTS         4096u
#define MIN_DEPTH         16u
#define PENDING_HAVES_MAX 65536u

/* ---- structures --------------------------------------------------------- */

struct fconn {
	struct bt_conn c;
	struct bt_fetch *f;
	struct bt_fetch_peer *p;
	struct bt_pick_peer pp;
	bool pp_live;                 /* pp initialised against f->pk */
	bool hs_ok, ext, fast;
	bool no_hashes;               /* rejected a hash request */
	bool dead;
	unsigned tolerated;           /* violations let pass on this connection */
	uint64_t t_dial_us, t_conn_us, last_out_us, last_in_us;
	/* Before the metadata is known (magnet): what the peer said it has. */
	uint8_t *pend_bits;
	size_t pend_len;
	bool pend_all;
	uint32_t *pend_have;
	size_t npend_have, cap_have;
	/* BEP 9 */
	unsigned reqq;                /* from its extended handshake; 0: none */
	uint8_t ut_md;                /* the peer's id for ut_metadata; 0: none */
	int64_t md_size;
	bool md_refused;
	unsigned md_out;              /* our metadata requests outstanding */
	struct fconn *next_dead;
};

struct ftrk {
	struct bt_fetch *f;
	char *url;
	size_t len;
	struct bt_trk_req r;
	struct bt_timer t;
	bool used, started, inflight;
	unsigned fails;
};

struct fdc { uint32_t file; int fd; };

/* A v2 file's piece layer, fetched from peers with BEP 52 hash requests
 * when the metadata came without it (a magnet): whole, in chunks of up to
 * 512 hashes without proofs, then checked against the file's pieces root
 * before it is used. */
struct flayer {
	uint32_t file, npieces, width, chunk, nchunks, ngot;
	uint8_t *buf;                 /* width * 32 bytes */
	uint8_t *got;                 /* per chunk */
	uint64_t *asked;              /* per chunk: when; 0 never */
};

struct bt_fetch {
	struct bt_fetch_cfg cfg;
	struct bt_loop *loop;
	const struct bt_meta *m;      /* NULL until known */
	struct bt_meta own_meta;      /* from ut_metadata */
	bool own_meta_live;
	uint8_t hs_hash[20];          /* what handshakes carry */
	bool has_btih, has_btmh;
	uint8_t btih[20], btmh[32];
	uint8_t peer_id[20];

	struct bt_picker pk;
	bool pk_live;
	uint8_t **bufs;               /* one piece buffer per picker slot */
	bool *file_want;
	struct bt_span *spans;
	size_t cap_spans;
	struct fdc fds[FD_CACHE];
	unsigned fd_next;

	struct bt_fetch_peer *peers;  /* BT_FETCH_MAX_KNOWN, allocated once */
	size_t npeers;
	unsigned nconns;              /* live connections */
	struct fconn *dead;
	struct bt_timer tick, reap;
	unsigned ticks;

	struct bt_trk_client *trk;
	struct ftrk trks[BT_FETCH_MAX_TRACKERS];
	size_t ntrks;

	/* metadata */
	uint8_t *md;
	size_t md_size;
	uint32_t md_n;
	uint8_t *md_have;
	uint64_t *md_asked;           /* when each piece was asked; 0: never */
	uint16_t *md_from;
	struct flayer *layers;
	size_t nlayers, layers_left;

	int result;
	bool started, stopping;
	uint64_t t0_us, last_progress_us;
	uint64_t downloaded, wasted;
	uint32_t hash_fails, resumed;
	uint64_t rate, rate_bytes, rate_t_us;
	bool ever_up;
	char errbuf[512];
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t since(const struct bt_fetch *f)
{
	uint64_t now = bt_now_us();
	return f->t0_us && now > f->t0_us ? now - f->t0_us : 0;
}

static void note(struct bt_fetch *f, int kind, const struct bt_fetch_peer *p,
		 const char *why)
{
	struct bt_fetch_note n;

	if (!f->cfg.on_note)
		return;
	memset(&n, 0, sizeof n);
	n.kind = kind;
	n.peer = p;
	n.why = why;
	n.t_us = since(f);
	f->cfg.on_note(f->cfg.arg, &n);
}

static void emit(struct bt_fetch *f, struct bt_fetch_note *n)
{
	n->t_us = since(f);
	if (f->cfg.on_note)
		f->cfg.on_note(f->cfg.arg, n);
}

const char *bt_fetch_pstate_name(int s)
{
	switch (s) {
	case BT_FP_NEW: return "new";
	case BT_FP_CONNECTING: return "connecting";
	case BT_FP_UP: return "up";
	case BT_FP_GONE: return "gone";
	case BT_FP_FAILED: return "failed";
	case BT_FP_BANNED: return "banned";
	}
	return "unknown";
}

const char *bt_fetch_note_name(int k)
{
	switch (k) {
	case BT_FN_PEER_NEW: return "peer_new";
	case BT_FN_PEER_UP: return "peer_up";
	case BT_FN_PEER_DOWN: return "peer_down";
	case BT_FN_PEER_BANNED: return "peer_banned";
	case BT_FN_VIOLATION: return "violation";
	case BT_FN_PIECE_OK: return "piece_ok";
	case BT_FN_PIECE_FAILED: return "piece_failed";
	case BT_FN_METADATA: return "metadata";
	case BT_FN_METADATA_BAD: return "metadata_bad";
	case BT_FN_TRACKER: return "tracker";
	case BT_FN_RESUME: return "resume";
	case BT_FN_DONE: return "done";
	}
	return "unknown";
}

const char *bt_fetch_result_name(int r)
{
	switch (r) {
	case BT_FETCH_RUNNING: return "running";
	case BT_FETCH_OK: return "complete";
	case BT_FETCH_INCOMPLETE: return "incomplete";
	case BT_FETCH_NOPEERS: return "no-peers";
	case BT_FETCH_IOERR: return "io-error";
	case BT_FETCH_BADMETA: return "bad-metadata";
	}
	return "unknown";
}

void bt_fetch_cfg_init(struct bt_fetch_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->dirfd = -1;
}

static void defaults(struct bt_fetch_cfg *c)
{
	if (!c->max_peers)
		c->max_peers = 40;
	if (!c->mem_budget)
		c->mem_budget = 16u << 20;
	if (!c->max_depth)
		c->max_depth = 256;
	if (!c->connect_timeout_us)
		c->connect_timeout_us = 10000000u;
	if (!c->stall_us)
		c->stall_us = 20000000u;
	if (!c->idle_us)
		c->idle_us = 120000000u;
	if (!c->max_hash_fails)
		c->max_hash_fails = 3;
	if (!c->retries)
		c->retries = 4;
	if (!c->max_metadata)
		c->max_metadata = 16u << 20;
	if (!c->port)
		c->port = 6881;
}

static void finish(struct bt_fetch *f, int result, const char *why);
static void fill(struct fconn *fc);
static void layers_request(struct fconn *fc);
static void drop(struct fconn *fc, int state, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- creation ----------------------------------------------------------- */

static void on_tick(struct bt_loop *l, struct bt_timer *t);
static void on_reap(struct bt_loop *l, struct bt_timer *t);

static int common_new(struct bt_fetch **out, struct bt_loop *l, const struct bt_fetch_cfg *cfg)
{
	struct bt_fetch *f = calloc(1, sizeof *f);
	unsigned i;

	*out = NULL;
	if (!f)
		return BT_ENOSPC;
	f->cfg = *cfg;
	defaults(&f->cfg);
	f->loop = l;
	f->result = BT_FETCH_RUNNING;
	f->tick.cb = on_tick;
	f->tick.arg = f;
	f->reap.cb = on_reap;
	f->reap.arg = f;
	for (i = 0; i < FD_CACHE; i++)
		f->fds[i].fd = -1;
	if (bt_peerid_generate(f->peer_id, NULL, NULL) != BT_OK) {
		free(f);
		return BT_EINVAL;
	}
	*out = f;
	return BT_OK;
}

int bt_fetch_new(struct bt_fetch **out, struct bt_loop *l, const struct bt_fetch_cfg *cfg,
		 const struct bt_meta *m)
{
	struct bt_fetch *f;
	int rc;

	if (!m || cfg->dirfd < 0)
		return BT_EINVAL;
	if ((rc = common_new(&f, l, cfg)) != BT_OK)
		return rc;
	f->m = m;
	if (m->version != BT_META_V2) {
		memcpy(f->hs_hash, m->info_hash_v1, 20);
		f->has_btih = true;
		memcpy(f->btih, m->info_hash_v1, 20);
	} else {
		memcpy(f->hs_hash, m->info_hash_v2, 20);
	}
	*out = f;
	return BT_OK;
}

int bt_fetch_new_magnet(struct bt_fetch **out, struct bt_loop *l,
			const struct bt_fetch_cfg *cfg,
			const uint8_t *btih, const uint8_t *btmh)
{
	struct bt_fetch *f;
	int rc;

	if ((!btih && !btmh) || cfg->dirfd < 0)
		return BT_EINVAL;
	if ((rc = common_new(&f, l, cfg)) != BT_OK)
		return rc;
	if (btih) {
		f->has_btih = true;
		memcpy(f->btih, btih, 20);
		memcpy(f->hs_hash, btih, 20);
	}
	if (btmh) {
		f->has_btmh = true;
		memcpy(f->btmh, btmh, 32);
		if (!btih)
			memcpy(f->hs_hash, btmh, 20);
	}
	*out = f;
	return BT_OK;
}

static void free_conn(struct fconn *fc)
{
	bt_conn_free(&fc->c);
	free(fc->pend_bits);
	free(fc->pend_have);
	free(fc);
}

void bt_fetch_free(struct bt_fetch *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->npeers; i++) {
		struct fconn *fc = f->peers[i].conn;
		if (fc) {
			if (fc->pp_live)
				bt_picker_peer_free(&f->pk, &fc->pp);
			free_conn(fc);
		}
	}
	while (f->dead) {
		struct fconn *fc = f->dead;
		f->dead = fc->next_dead;
		free_conn(fc);
	}
	for (i = 0; i < f->ntrks; i++) {
		if (f->trks[i].inflight)
			bt_trk_cancel(&f->trks[i].r);
		if (f->trks[i].used)
			bt_trk_req_free(&f->trks[i].r);
		bt_timer_stop(f->loop, &f->trks[i].t);
		free(f->trks[i].url);
	}
	if (f->trk)
		bt_trk_client_free(f->trk);
	bt_timer_stop(f->loop, &f->tick);
	bt_timer_stop(f->loop, &f->reap);
	for (i = 0; i < FD_CACHE; i++)
		if (f->fds[i].fd >= 0)
			close(f->fds[i].fd);
	if (f->pk_live) {
		for (i = 0; i < f->pk.nslots; i++)
			free(f->bufs[i]);
		bt_picker_free(&f->pk);
	}
	free(f->bufs);
	free(f->file_want);
	free(f->spans);
	free(f->peers);
	if (f->own_meta_live)
		bt_meta_free(&f->own_meta);
	free(f->md);
	free(f->md_have);
	free(f->md_asked);
	free(f->md_from);
	for (i = 0; i < f->nlayers; i++) {
		free(f->layers[i].buf);
		free(f->layers[i].got);
		free(f->layers[i].asked);
	}
	free(f->layers);
	free(f);
}

/* ---- peers -------------------------------------------------------------- */

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (b->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

int bt_fetch_add_peer(struct bt_fetch *f, const struct sockaddr *sa, socklen_t len, int source)
{
	struct bt_fetch_peer *p;
	size_t i;

	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    len > sizeof p->addr)
		return BT_EINVAL;
	for (i = 0; i < f->npeers; i++)
		if (same_addr(&f->peers[i].addr, sa))
			return BT_OK;
	if (f->npeers >= BT_FETCH_MAX_KNOWN)
		return BT_ETOOBIG;
	/* One allocation for every peer there may be: records never move,
	 * so pointers to them (events, notes, a printer's tag) stay valid.
	 * Pages never touched cost no memory. */
	if (!f->peers) {
		f->peers = calloc(BT_FETCH_MAX_KNOWN, sizeof *f->peers);
		if (!f->peers)
			return BT_ENOSPC;
	}
	p = &f->peers[f->npeers];
	memset(p, 0, sizeof *p);
	memcpy(&p->addr, sa, len);
	p->addr_len = len;
	p->source = source;
	p->id = (uint16_t)f->npeers;
	bt_sockaddr_fmt(sa, p->name, sizeof p->name);
	f->npeers++;
	note(f, BT_FN_PEER_NEW, p, source == BT_FETCH_SRC_USER ? "user" : "tracker");
	return BT_OK;
}

size_t bt_fetch_npeers(const struct bt_fetch *f)
{
	return f->npeers;
}

const struct bt_fetch_peer *bt_fetch_peer_at(const struct bt_fetch *f, size_t i)
{
	return i < f->npeers ? &f->peers[i] : NULL;
}

const struct bt_fetch_peer *bt_fetch_peer_by_id(const struct bt_fetch *f, uint16_t id)
{
	return id < f->npeers ? &f->peers[id] : NULL;
}

const struct bt_meta *bt_fetch_meta(const struct bt_fetch *f)
{
	return f->m;
}

const uint8_t *bt_fetch_info(const struct bt_fetch *f, size_t *len)
{
	if (!f->m) {
		*len = 0;
		return NULL;
	}
	*len = f->m->info.len;
	return f->m->info.p;
}

/* ---- disk --------------------------------------------------------------- */

static int file_fd(struct bt_fetch *f, uint32_t file)
{
	unsigned i;
	int state, err, fd;

	for (i = 0; i < FD_CACHE; i++)
		if (f->fds[i].fd >= 0 && f->fds[i].file == file)
			return f->fds[i].fd;
	fd = bt_store_create(f->m, f->cfg.dirfd, file, &state, &err);
	if (fd < 0) {
		errno = err;
		return -1;
	}
	i = f->fd_next++ % FD_CACHE;
	if (f->fds[i].fd >= 0)
		close(f->fds[i].fd);
	f->fds[i].fd = fd;
	f->fds[i].file = file;
	return fd;
}

static long piece_spans(struct bt_fetch *f, uint32_t piece)
{
	long n = bt_store_spans(f->m, piece, f->spans, f->cap_spans);

	if (n > (long)f->cap_spans) {
		struct bt_span *s = realloc(f->spans, (size_t)n * sizeof *s);
		if (!s)
			return BT_ENOSPC;
		f->spans = s;
		f->cap_spans = (size_t)n;
		n = bt_store_spans(f->m, piece, f->spans, f->cap_spans);
	}
	return n;
}

/* Write a verified piece to the files it covers (wanted files only). */
static int write_piece(struct bt_fetch *f, uint32_t piece, const uint8_t *buf)
{
	long n = piece_spans(f, piece), i;
	uint64_t pos = 0;

	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const struct bt_span *s = &f->spans[i];
		const struct bt_meta_file *fi = &f->m->files[s->file];
		if (!(fi->attr & BT_META_ATTR_PAD) && f->file_want[s->file]) {
			int fd = file_fd(f, s->file);
			if (fd < 0 || bt_store_pwrite(fd, buf + pos, (size_t)s->len, s->off) != BT_OK) {
				char raw[256], path[200];
				int e = errno;
				size_t pl = bt_meta_path_join(f->m, s->file, raw, sizeof raw);
				bt_escape_text(raw, pl < sizeof raw ? pl : sizeof raw - 1, path, sizeof path);
				snprintf(f->errbuf, sizeof f->errbuf, "cannot write %s: %s",
					 path, strerror(e));
				return -1;
			}
		}
		pos += s->len;
	}
	return 0;
}

/* SHA-1 (v1, hybrid) or the merkle root of its blocks (v2). */
static bool piece_ok(struct bt_fetch *f, uint32_t piece, const uint8_t *buf, size_t len)
{
	const struct bt_meta *m = f->m;

	if (m->version != BT_META_V2) {
		uint8_t md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
			return false;
		return memcmp(md, m->pieces.p + (size_t)piece * 20, 20) == 0;
	} else {
		const struct bt_meta_file *fi;
		struct bt_merkle mk;
		uint64_t pl = m->piece_length, width;
		uint8_t h[32];
		const uint8_t *want;
		size_t off;

		if (piece_spans(f, piece) < 1)
			return false;
		fi = &m->files[f->spans[0].file];
		if (!fi->pieces_root)
			return false;
		if (fi->size > pl) {
			if (!fi->layer)
				return false;
			want = fi->layer + 32 * (size_t)(piece - fi->first_piece);
			width = pl / BT_META_BLOCK;
		} else {
			want = fi->pieces_root;
			width = bt_merkle_width((len + BT_META_BLOCK - 1) / BT_META_BLOCK);
		}
		bt_merkle_init(&mk, 0);
		for (off = 0; off < len; off += BT_META_BLOCK) {
			size_t bl = len - off < BT_META_BLOCK ? len - off : BT_META_BLOCK;
			bt_merkle_leaf(buf + off, bl, h);
			bt_merkle_push(&mk, h);
		}
		if (bt_merkle_root(&mk, width, h) != BT_OK)
			return false;
		return memcmp(h, want, 32) == 0;
	}
}

/* ---- metadata known: picker, selection, resume, files ------------------- */

static uint64_t size_cb(void *ctx, uint32_t piece)
{
	return bt_meta_piece_size(ctx, piece);
}

static void resume_cb(void *ctx, uint32_t piece, int state)
{
	struct bt_fetch *f = ctx;

	if (state == BT_PIECE_GOOD) {
		bt_picker_have(&f->pk, piece);
		if (f->pk.state[piece] & BT_PS_WANT)
			f->resumed++;
	}
}

static void want_file_pieces(struct bt_fetch *f, size_t i)
{
	const struct bt_meta_file *fi = &f->m->files[i];
	uint32_t p;

	f->file_want[i] = true;
	for (p = 0; p < fi->npieces; p++)
		bt_picker_want(&f->pk, fi->first_piece + p, true);
}

static int select_pieces(struct bt_fetch *f)
{
	const struct bt_meta *m = f->m;
	size_t i, r, k;

	if (!f->cfg.nfiles && !f->cfg.npieces) {
		uint32_t p;
		for (i = 0; i < m->nfiles; i++)
			f->file_want[i] = !(m->files[i].attr & BT_META_ATTR_PAD);
		for (p = 0; p < m->piece_count; p++)
			bt_picker_want(&f->pk, p, true);
		return 0;
	}
	for (r = 0; r < f->cfg.nfiles; r++) {
		const struct bt_fetch_range *g = &f->cfg.files[r];
		/* Indices count non-pad files. */
		for (i = 0, k = 0; i < m->nfiles; i++) {
			if (m->files[i].attr & BT_META_ATTR_PAD)
				continue;
			if (k >= g->first && k <= g->last)
				want_file_pieces(f, i);
			k++;
		}
		if (g->first >= k) {
			snprintf(f->errbuf, sizeof f->errbuf,
				 "--files: index %u, but the torrent has %zu files", g->first, k);
			return -1;
		}
	}
	for (r = 0; r < f->cfg.npieces; r++) {
		const struct bt_fetch_range *g = &f->cfg.pieces[r];
		uint32_t p;
		if (g->first >= m->piece_count) {
			snprintf(f->errbuf, sizeof f->errbuf,
				 "--pieces: piece %u, but the torrent has %u pieces",
				 g->first, m->piece_count);
			return -1;
		}
		for (p = g->first; p <= g->last && p < m->piece_count; p++) {
			long n = piece_spans(f, p), s;
			bt_picker_want(&f->pk, p, true);
			for (s = 0; s < n; s++)
				if (!(m->files[f->spans[s].file].attr & BT_META_ATTR_PAD))
					f->file_want[f->spans[s].file] = true;
		}
	}
	return 0;
}

static void apply_pending(struct fconn *fc);
static void maybe_interested(struct fconn *fc);

static int install_meta(struct bt_fetch *f)
{
	const struct bt_meta *m = f->m;
	struct bt_pick_cfg pc;
	struct bt_verify sum;
	struct bt_fetch_note n;
	uint64_t slots;
	size_t i;

	for (i = 0; m->version == BT_META_V2 && i < m->nfiles; i++)
		if (m->files[i].size > m->piece_length && !m->files[i].layer) {
			snprintf(f->errbuf, sizeof f->errbuf,
				 "v2 torrent without piece layers: its pieces cannot be "
				 "checked (give the .torrent, or its magnet link)");
			finish(f, BT_FETCH_BADMETA, f->errbuf);
			return -1;
		}
	memset(&pc, 0, sizeof pc);
	pc.npieces = m->piece_count;
	pc.piece_length = m->piece_length;
	pc.last_size = m->last_piece_size;
	if (m->version == BT_META_V2) {
		pc.piece_size = size_cb;
		pc.size_ctx = (void *)m;
	}
	slots = f->cfg.mem_budget / m->piece_length;
	if (slots < 1)
		slots = 1;
	if (slots > MAX_SLOTS)
		slots = MAX_SLOTS;
	if (slots > m->piece_count)
		slots = m->piece_count;
	pc.max_active = (unsigned)slots;
	pc.min_depth = MIN_DEPTH;
	pc.max_depth = f->cfg.max_depth;
	if (bt_picker_init(&f->pk, &pc) != BT_OK) {
		snprintf(f->errbuf, sizeof f->errbuf, "out of memory for %u pieces", m->piece_count);
		finish(f, BT_FETCH_IOERR, f->errbuf);
		return -1;
	}
	f->pk_live = true;
	f->bufs = calloc(slots, sizeof *f->bufs);
	f->file_want = calloc(m->nfiles ? m->nfiles : 1, 1);
	if (!f->bufs || !f->file_want) {
		finish(f, BT_FETCH_IOERR, "out of memory");
		return -1;
	}
	if (select_pieces(f) != 0) {
		finish(f, BT_FETCH_IOERR, f->errbuf);
		return -1;
	}
	/* Resume: what is on disk and good is not fetched again. */
	if (bt_store_verify(m, f->cfg.dirfd, NULL, resume_cb, f, &sum) != BT_OK) {
		finish(f, BT_FETCH_IOERR, "cannot check the data on disk");
		return -1;
	}
	memset(&n, 0, sizeof n);
	n.kind = BT_FN_RESUME;
	n.good = sum.good;
	n.missing = sum.missing;
	n.corrupt = sum.corrupt;
	n.n = f->resumed;
	emit(f, &n);
	/* Every wanted file exists with its size (empty ones too). */
	for (i = 0; i < m->nfiles; i++) {
		int fd;
		if (!f->file_want[i])
			continue;
		fd = file_fd(f, (uint32_t)i);
		if (fd < 0) {
			char raw[256], path[200];
			int e = errno;
			size_t pl = bt_meta_path_join(m, i, raw, sizeof raw);
			bt_escape_text(raw, pl < sizeof raw ? pl : sizeof raw - 1, path, sizeof path);
			snprintf(f->errbuf, sizeof f->errbuf, "cannot create %s: %s%s", path,
				 strerror(e), e == ELOOP ? " (a symlink or not a regular file)" : "");
			finish(f, BT_FETCH_IOERR, f->errbuf);
			return -1;
		}
	}
	if (bt_picker_complete(&f->pk)) {
		finish(f, BT_FETCH_OK, "everything was already on disk");
		return 0;
	}
	/* Connections made before the metadata arrived (magnet). */
	for (i = 0; i < f->npeers; i++) {
		struct fconn *fc = f->peers[i].conn;
		if (fc && !fc->dead && fc->hs_ok && !fc->pp_live) {
			if (bt_picker_peer_init(&f->pk, &fc->pp, fc->p->id) != BT_OK) {
				drop(fc, BT_FP_GONE, "out of memory");
				continue;
			}
			fc->pp_live = true;
			fc->pp.choked = fc->c.peer_choking;
			fc->pp.reqq = fc->reqq;
			apply_pending(fc);
		}
	}
	return 0;
}

/* ---- connections -------------------------------------------------------- */

static void on_conn_event(struct bt_conn *c, const struct bt_event *ev, void *arg);

static void schedule_reap(struct bt_fetch *f)
{
	if (!bt_timer_armed(&f->reap))
		bt_timer_arm(f->loop, &f->reap, 0);
}

/* The connection is over (whatever ended it).  Idempotent. */
static void down(struct fconn *fc, const char *why)
{
	struct bt_fetch *f = fc->f;
	struct bt_fetch_peer *p = fc->p;
	uint64_t now = bt_now_us();
	uint32_t i;

	if (fc->dead)
		return;
	fc->dead = true;
	if (fc->pp_live) {
		bt_picker_peer_free(&f->pk, &fc->pp);
		fc->pp_live = false;
	}
	for (i = 0; f->md_from && i < f->md_n; i++)
		if (f->md_from[i] == p->id && !f->md_have[i]) {
			f->md_asked[i] = 0;
			f->md_from[i] = BT_PICK_NONE;
		}
	if (p->up_since_us) {
		p->up_us += now - p->up_since_us;
		p->up_since_us = 0;
	}
	if (why && p->state != BT_FP_BANNED && p->state != BT_FP_FAILED)
		snprintf(p->why, sizeof p->why, "%s", why);
	if (f->result != BT_FETCH_RUNNING || f->stopping) {
		/* We are leaving: not the peer's failure. */
		if (p->state == BT_FP_CONNECTING || p->state == BT_FP_UP)
			p->state = BT_FP_GONE;
	} else if (p->state == BT_FP_CONNECTING || p->state == BT_FP_UP) {
		if (!fc->hs_ok)
			p->connect_fails++;
		/* A peer never reached gets two more tries (1 s, 2 s apart);
		 * one that was up, cfg.retries. */
		if (p->connects > f->cfg.retries ||
		    (!p->pieces_ok && !p->have_id && p->connect_fails > 2)) {
			p->state = BT_FP_FAILED;
		} else {
			unsigned k = p->connects < 6 ? p->connects : 6;
			p->state = BT_FP_GONE;
			p->retry_at_us = now + ((uint64_t)1000000 << (k - 1));
		}
	}
	p->conn = NULL;
	f->nconns--;
	fc->next_dead = f->dead;
	f->dead = fc;
	schedule_reap(f);
	note(f, p->state == BT_FP_BANNED ? BT_FN_PEER_BANNED : BT_FN_PEER_DOWN, p, p->why);
}

/* Close the connection for a reason; state BANNED or FAILED keeps the
 * peer from being dialled again. */
static void drop(struct fconn *fc, int state, const char *fmt, ...)
{
	struct bt_fetch_peer *p = fc->p;
	va_list ap;

	if (fc->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof p->why, fmt, ap);
	va_end(ap);
	if (state == BT_FP_BANNED || state == BT_FP_FAILED)
		p->state = state;
	bt_conn_close(&fc->c);   /* reports CLOSED, which calls down() */
	down(fc, NULL);
}

/* Count and report a violation (BT_FN_VIOLATION); the first one stays in
 * the peer's record for the summary. */
static void report_violation(struct fconn *fc, const char *why, bool dropped)
{
	struct bt_fetch_peer *p = fc->p;
	struct bt_fetch_note n;

	p->violations++;
	if (!p->violation[0])
		snprintf(p->violation, sizeof p->violation, "%s", why);
	memset(&n, 0, sizeof n);
	n.kind = BT_FN_VIOLATION;
	n.peer = p;
	n.why = why;
	n.dropped = dropped;
	emit(fc->f, &n);
}

/* A violation that ends the connection and bans the peer. */
static void violation(struct fconn *fc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void violation(struct fconn *fc, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	report_violation(fc, why, true);
	drop(fc, BT_FP_BANNED, "%s", why);
}

/* A violation that costs us nothing (see fetch.h): reported, and the
 * connection goes on.  A peer that keeps at it would flood the report
 * (one line each) for no purpose: past BT_FETCH_MAX_TOLERATED on one
 * connection it is dropped like any other violator. */
static void tolerate(struct fconn *fc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void tolerate(struct fconn *fc, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	if (fc->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (fc->tolerated >= BT_FETCH_MAX_TOLERATED) {
		violation(fc, "%u violations on one connection, the last: %s",
			  (unsigned)BT_FETCH_MAX_TOLERATED + 1, why);
		return;
	}
	fc->tolerated++;
	report_violation(fc, why, false);
}

static void dial(struct bt_fetch *f, struct bt_fetch_peer *p)
{
	struct bt_conn_cfg cc;
	struct fconn *fc = calloc(1, sizeof *fc);

	if (!fc)
		return;
	memset(&cc, 0, sizeof cc);
	memcpy(&cc.peer, &p->addr, p->addr_len);
	cc.peer_len = p->addr_len;
	if (f->cfg.src_len && f->cfg.src.ss_family == p->addr.ss_family) {
		cc.src = f->cfg.src;
		cc.src_len = f->cfg.src_len;
	}
	cc.connect_timeout_us = f->cfg.connect_timeout_us;
	cc.on_event = on_conn_event;
	cc.arg = fc;
	fc->f = f;
	fc->p = p;
	if (bt_conn_init(&fc->c, f->loop, &cc) != BT_OK) {
		free_conn(fc);
		p->state = BT_FP_FAILED;
		snprintf(p->why, sizeof p->why, "cannot set up a connection");
		return;
	}
	p->conn = fc;
	p->state = BT_FP_CONNECTING;
	p->connects++;
	f->nconns++;
	fc->t_dial_us = bt_now_us();
	bt_conn_connect(&fc->c);   /* a failure at once is an event: down() */
}

static void dial_more(struct bt_fetch *f)
{
	uint64_t now = bt_now_us();
	size_t i;

	if (f->result != BT_FETCH_RUNNING || f->stopping)
		return;
	for (i = 0; i < f->npeers && f->nconns < f->cfg.max_peers; i++) {
		struct bt_fetch_peer *p = &f->peers[i];
		if (p->conn)
			continue;
		if (p->state == BT_FP_NEW || (p->state == BT_FP_GONE && p->retry_at_us <= now))
			dial(f, p);
	}
}

static void send_handshake(struct fconn *fc)
{
	struct bt_conn_hs h;

	bt_conn_hs_default(&h, fc->f->hs_hash, fc->f->peer_id);
	bt_reserved_set(h.reserved, BT_RSV_EXTENSION);
	bt_reserved_set(h.reserved, BT_RSV_FAST);
	bt_conn_send_handshake(&fc->c, &h);
}

static void send_ext_handshake(struct fconn *fc)
{
	struct bt_ext_hs_out o;
	uint8_t buf[256];
	struct bt_wr w;

	memset(&o, 0, sizeof o);
	o.ut_metadata = OUR_UT_METADATA;
	o.reqq = OUR_REQQ;
	o.v = BT_FETCH_CLIENT;
	bt_wr_init(&w, buf, sizeof buf);
	if (bt_ext_hs_encode(&w, &o) == BT_OK)
		bt_conn_send_extended(&fc->c, BT_EXT_ID_HANDSHAKE, buf, w.len);
}

/* What we have, right after the handshake (BEP 6 requires one of
 * bitfield / have all / have none when both sides are fast). */
static void send_have_state(struct fconn *fc)
{
	struct bt_fetch *f = fc->f;

	if (f->pk_live && f->pk.nhave) {
		size_t n = (f->pk.npieces + 7) / 8, i;
		uint8_t *b = calloc(1, n + 5);
		struct bt_wr w;
		uint8_t *bits;
		if (!b)
			return;
		bits = calloc(1, n);
		if (bits) {
			for (i = 0; i < f->pk.npieces; i++)
				if (f->pk.state[i] & BT_PS_HAVE)
					bits[i >> 3] |= (uint8_t)(0x80u >> (i & 7));
			bt_wr_init(&w, b, n + 5);
			if (bt_msg_put_bitfield(&w, bits, n) == BT_OK)
				bt_conn_send_raw(&fc->c, b, w.len);
			free(bits);
		}
		free(b);
	} else if (fc->fast) {
		bt_conn_send_simple(&fc->c, BT_MSG_HAVE_NONE);
	}
}

static void on_handshake(struct fconn *fc, const struct bt_handshake *hs)
{
	struct bt_fetch *f = fc->f;
	struct bt_fetch_peer *p = fc->p;

	/* wire.h parses any protocol string and leaves the verdict to us.
	 * One that is not exactly <19>"BitTorrent protocol" (a letter's
	 * case included) names another protocol: like a wrong info-hash,
	 * nothing the peer says next can be trusted to mean what BEP 3 says
	 * (clients compare the 20 bytes and close), so it is dropped. */
	if (hs->problems & (BT_HS_BAD_PSTRLEN | BT_HS_BAD_PSTR)) {
		char esc[72];
		if (hs->pstr)
			bt_escape_text(hs->pstr, hs->pstrlen, esc, sizeof esc);
		else
			snprintf(esc, sizeof esc, "?");
		if (hs->problems & BT_HS_BAD_PSTRLEN)
			violation(fc, "protocol string of %zu bytes '%s' in its handshake "
				  "is not '" BT_PSTR "' (%d bytes)", hs->pstrlen, esc,
				  BT_PSTR_LEN);
		else
			violation(fc, "protocol string '%s' in its handshake is not '"
				  BT_PSTR "'%s", esc, (hs->problems & BT_HS_PSTR_CASE) ?
				  " (letter case differs)" : "");
		return;
	}
	if (memcmp(hs->info_hash, f->hs_hash, 20) != 0) {
		violation(fc, "wrong info-hash in its handshake");
		return;
	}
	if (memcmp(hs->peer_id, f->peer_id, 20) == 0) {
		drop(fc, BT_FP_BANNED, "that is us (our own peer id)");
		return;
	}
	fc->hs_ok = true;
	memcpy(p->peer_id, hs->peer_id, 20);
	p->have_id = true;
	bt_peerid_client(hs->peer_id, p->client, sizeof p->client);
	fc->ext = bt_reserved_has(hs->reserved, BT_RSV_EXTENSION);
	fc->fast = bt_reserved_has(hs->reserved, BT_RSV_FAST);
	p->state = BT_FP_UP;
	p->up_since_us = bt_now_us();
	p->why[0] = 0;
	f->ever_up = true;
	if (f->pk_live) {
		if (bt_picker_peer_init(&f->pk, &fc->pp, p->id) != BT_OK) {
			drop(fc, BT_FP_GONE, "out of memory");
			return;
		}
		fc->pp_live = true;
	}
	note(f, BT_FN_PEER_UP, p, p->client);
	if (fc->ext)
		send_ext_handshake(fc);
	if (!fc->dead)
		send_have_state(fc);
	layers_request(fc);
}

/* ---- requests ----------------------------------------------------------- */

static void fill(struct fconn *fc)
{
	struct bt_fetch *f = fc->f;
	struct bt_pick_req r[64];
	size_t n, i;

	bool corked = false;
	int on = 1, off = 0;

	if (fc->dead || !fc->pp_live || f->result != BT_FETCH_RUNNING || f->stopping)
		return;
	do {
		n = bt_picker_next(&f->pk, &fc->pp, r, 64, bt_now_us());
		/* conn.c sends each message at once (TCP_NODELAY, for honest
		 * timings); a batch of requests leaves in one segment when
		 * the socket is corked around it: fewer packets for the peer
		 * to wake up for. */
		if (n > 1 && !corked && fc->c.io.fd >= 0)
			corked = setsockopt(fc->c.io.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0;
		for (i = 0; i < n && !fc->dead; i++)
			if (bt_conn_send_request(&fc->c, r[i].piece, r[i].begin, r[i].len) != BT_OK) {
				drop(fc, BT_FP_GONE, "cannot queue requests");
				return;
			}
	} while (n == 64 && !fc->dead);
	if (corked && !fc->dead && fc->c.io.fd >= 0)
		setsockopt(fc->c.io.fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
}

/* After a block: ask again once a batch's worth of the queue is free
 * (each request alone would be a packet, and a wake-up for the peer). */
static void refill(struct fconn *fc)
{
	unsigned d = fc->pp.depth, batch = d / 4 ? d / 4 : 1;

	if (batch > 32)
		batch = 32;
	if (!fc->dead && fc->pp_live && fc->pp.nq + batch <= d)
		fill(fc);
}

static void fill_all(struct bt_fetch *f)
{
	size_t i;

	for (i = 0; i < f->npeers; i++)
		if (f->peers[i].conn)
			fill(f->peers[i].conn);
}

static void maybe_interested(struct fconn *fc)
{
	struct bt_fetch *f = fc->f;

	if (fc->dead || !fc->pp_live || fc->c.am_interested)
		return;
	if (bt_picker_interesting(&f->pk, &fc->pp))
		bt_conn_send_simple(&fc->c, BT_MSG_INTERESTED);
}

/* The picker refused a bitfield: say why (BEP 3 asks for exactly
 * ceil(pieces / 8) bytes, and for the spare bits of the last one clear). */
static void bad_bitfield(struct fconn *fc, const uint8_t *bits, size_t len)
{
	uint32_t n = fc->f->pk.npieces;
	size_t want = ((size_t)n + 7) / 8;
	unsigned spare = (unsigned)(want * 8 - n), set = 0, i;

	if (len != want) {
		violation(fc, "bitfield of %zu bytes for %u pieces (expected %zu)",
			  len, n, want);
		return;
	}
	for (i = 0; len && i < spare; i++)
		if (bits[len - 1] & (1u << i))
			set++;
	violation(fc, "bitfield of %zu bytes for %u pieces has %u spare bit%s set "
		  "past the last piece", len, n, set, set == 1 ? "" : "s");
}

static void apply_pending(struct fconn *fc)
{
	struct bt_fetch *f = fc->f;
	size_t i;

	if (fc->pend_all) {
		bt_picker_peer_have_all(&f->pk, &fc->pp);
	} else if (fc->pend_bits) {
		if (bt_picker_peer_bitfield(&f->pk, &fc->pp, fc->pend_bits, fc->pend_len) != BT_OK) {
			bad_bitfield(fc, fc->pend_bits, fc->pend_len);
			return;
		}
	}
	for (i = 0; i < fc->npend_have; i++)
		if (bt_picker_peer_have(&f->pk, &fc->pp, fc->pend_have[i]) != BT_OK) {
			violation(fc, "have %u, but the torrent has %u pieces",
				  fc->pend_have[i], f->pk.npieces);
			return;
		}
	free(fc->pend_bits);
	fc->pend_bits = NULL;
	free(fc->pend_have);
	fc->pend_have = NULL;
	fc->npend_have = fc->cap_have = 0;
	maybe_interested(fc);
	fill(fc);
}

/* Cancel every outstanding request for piece on every connection. */
static void cancel_piece(struct bt_fetch *f, uint32_t piece, struct fconn *except)
{
	size_t i;
	unsigned k;

	for (i = 0; i < f->npeers; i++) {
		struct fconn *o = f->peers[i].conn;
		if (!o || o == except || o->dead || !o->pp_live)
			continue;
		for (k = 0; k < o->pp.nq && !o->dead;) {
			struct bt_pick_req r = o->pp.q[k];
			if (r.piece != piece) {
				k++;
				continue;
			}
			bt_picker_peer_drop(&f->pk, &o->pp, r.piece, r.begin, true);
			bt_conn_send_cancel(&o->c, r.piece, r.begin, r.len);
		}
	}
}

static void blame(struct bt_fetch *f, const uint16_t *ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct bt_fetch_peer *p = &f->peers[ids[i]];
		p->hash_fails++;
		if (n == 1)
			p->hash_blamed++;
		if (p->conn && (p->hash_blamed >= f->cfg.max_hash_fails ||
				(p->hash_fails >= 2 * f->cfg.max_hash_fails && !p->pieces_ok)))
			drop(p->conn, BT_FP_BANNED, "sent data for %u pieces that failed "
			     "the hash check (%u alone)", p->hash_fails, p->hash_blamed);
		else if (!p->conn && p->hash_blamed >= f->cfg.max_hash_fails)
			p->state = BT_FP_BANNED;
	}
}

static void piece_done(struct bt_fetch *f, uint32_t piece, unsigned slot)
{
	uint16_t ids[64];
	size_t nids = bt_picker_contributors(&f->pk, piece, ids, 64), i;
	uint64_t len = bt_picker_piece_size(&f->pk, piece);
	struct bt_fetch_note n;

	if (nids > 64)
		nids = 64;
	memset(&n, 0, sizeof n);
	n.piece = piece;
	n.ids = ids;
	n.nids = nids;
	if (!piece_ok(f, piece, f->bufs[slot], (size_t)len)) {
		f->hash_fails++;
		cancel_piece(f, piece, NULL);
		bt_picker_failed(&f->pk, piece);
		n.kind = BT_FN_PIECE_FAILED;
		emit(f, &n);
		blame(f, ids, nids);
		return;
	}
	if (write_piece(f, piece, f->bufs[slot]) != 0) {
		finish(f, BT_FETCH_IOERR, f->errbuf);
		return;
	}
	bt_picker_have(&f->pk, piece);
	f->last_progress_us = bt_now_us();
	for (i = 0; i < nids; i++)
		f->peers[ids[i]].pieces_ok++;
	n.kind = BT_FN_PIECE_OK;
	emit(f, &n);
	if (bt_picker_complete(&f->pk)) {
		finish(f, BT_FETCH_OK, "every wanted piece verified");
		return;
	}
	/* BEP 3: tell peers what we have; not a seed, which can want
	 * nothing from us (a have per piece is a wake-up for it). */
	for (i = 0; i < f->npeers; i++) {
		struct fconn *o = f->peers[i].conn;
		if (o && !o->dead && o->hs_ok &&
		    !(o->pp_live && o->pp.nhave == f->pk.npieces))
			bt_conn_send_have(&o->c, piece);
	}
}

static void on_piece(struct fconn *fc, const struct bt_msg *m)
{
	struct bt_fetch *f = fc->f;
	struct bt_fetch_peer *p = fc->p;
	uint32_t idx = m->u.piece.index, begin = m->u.piece.begin;
	size_t len = m->u.piece.len;
	unsigned slot;
	bool complete;
	int r;

	if (!fc->pp_live) {
		violation(fc, "piece %u begin %u before we could ask for anything", idx, begin);
		return;
	}
	if (len > BT_PICK_BLOCK * 8u) {
		violation(fc, "piece %u begin %u: %zu bytes, we ask for 16 KiB", idx, begin, len);
		return;
	}
	r = bt_picker_block_in(&f->pk, &fc->pp, idx, begin, (uint32_t)len, bt_now_us(),
			       &slot, &complete);
	switch (r) {
	case BT_PICK_BAD:
	case BT_PICK_UNREQUESTED:
		p->wasted += len;
		f->wasted += len;
		violation(fc, "piece %u begin %u length %zu was never requested", idx, begin, len);
		return;
	case BT_PICK_DUP:
	case BT_PICK_UNWANTED:
		p->wasted += len;
		f->wasted += len;
		break;
	default: {
		uint32_t b = begin / BT_PICK_BLOCK;
		if (!f->bufs[slot]) {
			f->bufs[slot] = malloc((size_t)f->pk.cfg.piece_length);
			if (!f->bufs[slot]) {
				finish(f, BT_FETCH_IOERR, "out of memory for a piece buffer");
				return;
			}
		}
		memcpy(f->bufs[slot] + begin, m->u.piece.data, len);
		p->bytes += len;
		p->blocks++;
		f->downloaded += len;
		f->last_progress_us = bt_now_us();
		/* Endgame: others were asked for this block too. */
		if (f->pk.slots[slot].nreq[b]) {
			size_t i;
			for (i = 0; i < f->npeers; i++) {
				struct fconn *o = f->peers[i].conn;
				if (o && o != fc && !o->dead && o->pp_live &&
				    bt_picker_peer_drop(&f->pk, &o->pp, idx, begin, true))
					bt_conn_send_cancel(&o->c, idx, begin, (uint32_t)len);
			}
		}
		if (complete)
			piece_done(f, idx, slot);
	}
	}
	refill(fc);
}

/* ---- metadata (BEP 9) --------------------------------------------------- */

static void md_reset(struct bt_fetch *f)
{
	if (!f->md_n)
		return;
	memset(f->md_have, 0, f->md_n);
	memset(f->md_asked, 0, f->md_n * sizeof *f->md_asked);
	memset(f->md_from, 0xff, f->md_n * sizeof *f->md_from);
}

static void md_request(struct fconn *fc)
{
	struct bt_fetch *f = fc->f;
	uint64_t now = bt_now_us();
	uint32_t i;

	if (f->m || !f->md_n || !fc->ut_md || fc->md_refused || fc->dead ||
	    (size_t)fc->md_size != f->md_size)
		return;
	for (i = 0; i < f->md_n && !fc->dead; i++) {
		uint8_t b[64];
		struct bt_wr w;
		if (f->md_have[i] || (f->md_asked[i] && now - f->md_asked[i] < MD_TIMEOUT_US))
			continue;
		bt_wr_init(&w, b, sizeof b);
		if (bt_utm_put_request(&w, i) != BT_OK)
			return;
		f->md_asked[i] = now;
		f->md_from[i] = fc->p->id;
		fc->md_out++;
		bt_conn_send_extended(&fc->c, fc->ut_md, b, w.len);
	}
}

static void md_request_all(struct bt_fetch *f)
{
	size_t i;

	for (i = 0; i < f->npeers; i++)
		if (f->peers[i].conn)
			md_request(f->peers[i].conn);
}

/* ---- v2 piece layers (BEP 52 hash request / hashes) --------------------- */

static unsigned log2u(uint64_t v)
{
	unsigned k = 0;

	while (((uint64_t)1 << k) < v)
		k++;
	return k;
}

/* Which files of a v2 torrent lack the piece layer needed to check them. */
static int layers_setup(struct bt_fetch *f)
{
	struct bt_meta *m = &f->own_meta;
	size_t i, n = 0;

	if (m->version != BT_META_V2)
		return 0;
	for (i = 0; i < m->nfiles; i++)
		if (m->files[i].size > m->piece_length && !m->files[i].layer &&
		    m->files[i].pieces_root)
			n++;
	if (!n)
		return 0;
	f->layers = calloc(n, sizeof *f->layers);
	if (!f->layers)
		return -1;
	for (i = 0; i < m->nfiles; i++) {
		struct flayer *l;
		if (!(m->files[i].size > m->piece_length && !m->files[i].layer &&
		      m->files[i].pieces_root))
			continue;
		l = &f->layers[f->nlayers++];
		l->file = (uint32_t)i;
		l->npieces = m->files[i].npieces;
		l->width = (uint32_t)bt_merkle_width(l->npieces);
		l->chunk = l->width < 512 ? l->width : 512;
		l->nchunks = l->width / l->chunk;
		l->buf = calloc(l->width, 32);
		l->got = calloc(l->nchunks, 1);
		l->asked = calloc(l->nchunks, sizeof *l->asked);
		if (!l->buf || !l->got || !l->asked)
			return -1;
	}
	f->layers_left = f->nlayers;
	return 0;
}

static void layers_request(struct fconn *fc)
{
	struct bt_fetch *f = fc->f;
	const struct bt_meta *m = f->m;
	uint64_t now = bt_now_us();
	size_t i;
	uint32_t c;

	if (!f->layers_left || !fc->hs_ok || fc->dead || fc->no_hashes)
		return;
	for (i = 0; i < f->nlayers && !fc->dead; i++) {
		struct flayer *l = &f->layers[i];
		for (c = 0; c < l->nchunks && !fc->dead; c++) {
			struct bt_hash_req h;
			uint8_t b[64];
			struct bt_wr w;
			if (l->got[c] || (l->asked[c] && now - l->asked[c] < MD_TIMEOUT_US))
				continue;
			memset(&h, 0, sizeof h);
			memcpy(h.pieces_root, m->files[l->file].pieces_root, 32);
			h.base_layer = log2u(m->piece_length / BT_META_BLOCK);
			h.index = c * l->chunk;
			h.length = l->chunk;
			bt_wr_init(&w, b, sizeof b);
			if (bt_msg_put_hash_req(&w, BT_MSG_HASH_REQUEST, &h) != BT_OK)
				return;
			l->asked[c] = now;
			bt_conn_send_raw(&fc->c, b, w.len);
		}
	}
}

static void layers_request_all(struct bt_fetch *f)
{
	size_t i;

	for (i = 0; i < f->npeers; i++)
		if (f->peers[i].conn)
			layers_request(f->peers[i].conn);
}

static void on_hashes(struct fconn *fc, const struct bt_msg *msg, bool reject)
{
	struct bt_fetch *f = fc->f;
	const struct bt_hash_req *h = reject ? &msg->u.hash : &msg->u.hashes.req;
	size_t i;

	for (i = 0; i < f->nlayers; i++) {
		struct flayer *l = &f->layers[i];
		struct bt_meta_file *fi = &f->own_meta.files[l->file];
		uint32_t c;
		uint8_t root[32];

		if (fi->layer || memcmp(h->pieces_root, fi->pieces_root, 32) != 0)
			continue;
		if (h->length != l->chunk || h->index % l->chunk ||
		    h->index / l->chunk >= l->nchunks ||
		    h->base_layer != log2u(f->m->piece_length / BT_META_BLOCK))
			continue;
		c = h->index / l->chunk;
		if (reject) {
			fc->no_hashes = true;
			l->asked[c] = 0;
			layers_request_all(f);
			return;
		}
		if (l->got[c])
			return;
		/* We asked for no proof: exactly the hashes asked for. */
		if (msg->u.hashes.len != (size_t)l->chunk * 32) {
			violation(fc, "hashes: %zu bytes for %u hashes without proof",
				  msg->u.hashes.len, l->chunk);
			return;
		}
		memcpy(l->buf + (size_t)h->index * 32, msg->u.hashes.hashes, msg->u.hashes.len);
		l->got[c] = 1;
		f->last_progress_us = bt_now_us();
		if (++l->ngot < l->nchunks)
			return;
		if (bt_merkle_layer_root(l->buf, l->npieces, f->m->piece_length, root) != BT_OK ||
		    memcmp(root, fi->pieces_root, 32) != 0) {
			memset(l->got, 0, l->nchunks);
			memset(l->asked, 0, l->nchunks * sizeof *l->asked);
			l->ngot = 0;
			violation(fc, "piece layer of file %u does not hash to its pieces root",
				  l->file);
			layers_request_all(f);
			return;
		}
		fi->layer = l->buf;
		if (--f->layers_left == 0)
			install_meta(f);
		return;
	}
}

static void md_complete(struct bt_fetch *f, struct fconn *fc)
{
	struct bt_meta_opts o;
	struct bt_meta_err e;
	struct bt_fetch_note n;
	bool ok = true;
	unsigned mdlen;
	uint8_t md[EVP_MAX_MD_SIZE];

	if (f->has_btih)
		ok = EVP_Digest(f->md, f->md_size, md, &mdlen, EVP_sha1(), NULL) &&
		     memcmp(md, f->btih, 20) == 0;
	if (ok && f->has_btmh)
		ok = EVP_Digest(f->md, f->md_size, md, &mdlen, EVP_sha256(), NULL) &&
		     memcmp(md, f->btmh, 32) == 0;
	if (!ok) {
		uint16_t first = f->md_from[0];
		bool one = true;
		uint32_t i;
		for (i = 1; i < f->md_n; i++)
			if (f->md_from[i] != first)
				one = false;
		note(f, BT_FN_METADATA_BAD, fc->p, "metadata does not hash to the info-hash");
		md_reset(f);
		if (one && first < f->npeers && f->peers[first].conn)
			violation(f->peers[first].conn, "sent metadata that does not hash to the info-hash");
		md_request_all(f);
		return;
	}
	memset(&o, 0, sizeof o);
	o.flags = BT_META_INFO_ONLY;
	if (bt_meta_parse(&f->own_meta, f->md, f->md_size, &o, &e) != BT_OK) {
		snprintf(f->errbuf, sizeof f->errbuf, "metadata: %s at offset %zu",
			 e.rule ? e.rule : bt_strerror(e.code), e.off);
		finish(f, BT_FETCH_BADMETA, f->errbuf);
		return;
	}
	f->own_meta_live = true;
	f->m = &f->own_meta;
	memset(&n, 0, sizeof n);
	n.kind = BT_FN_METADATA;
	n.n = f->md_size;
	n.peer = fc->p;
	emit(f, &n);
	if (layers_setup(f) != 0) {
		finish(f, BT_FETCH_IOERR, "out of memory for piece layers");
		return;
	}
	if (f->layers_left)
		layers_request_all(f);
	else
		install_meta(f);
}

static void on_md_msg(struct fconn *fc, const uint8_t *p, size_t len)
{
	struct bt_fetch *f = fc->f;
	struct bt_utm u;

	if (bt_utm_parse(&u, p, len, NULL) != BT_OK) {
		violation(fc, "malformed ut_metadata message");
		return;
	}
	if (u.msg_type == BT_UTM_REQUEST) {
		uint8_t b[64];
		struct bt_wr w;
		bt_wr_init(&w, b, sizeof b);
		if (fc->ut_md && u.piece <= UINT32_MAX &&
		    bt_utm_put_reject(&w, (uint32_t)u.piece) == BT_OK)
			bt_conn_send_extended(&fc->c, fc->ut_md, b, w.len);
		return;
	}
	if (u.msg_type == BT_UTM_REJECT) {
		fc->md_refused = true;
		if (u.piece >= 0 && (uint64_t)u.piece < f->md_n && !f->md_have[u.piece] &&
		    f->md_from[u.piece] == fc->p->id)
			f->md_asked[u.piece] = 0;
		md_request_all(f);
		return;
	}
	if (u.msg_type != BT_UTM_DATA || f->m || !f->md_n)
		return;
	if ((uint64_t)u.total_size != f->md_size || (uint64_t)u.piece >= f->md_n) {
		violation(fc, "ut_metadata piece %lld of total_size %lld, expected %zu bytes",
			  (long long)u.piece, (long long)u.total_size, f->md_size);
		return;
	}
	if (f->md_have[u.piece])
		return;
	memcpy(f->md + (size_t)u.piece * BT_UTM_BLOCK, u.data.p, u.data.len);
	f->md_have[u.piece] = 1;
	f->md_from[u.piece] = fc->p->id;
	f->last_progress_us = bt_now_us();
	if (fc->md_out)
		fc->md_out--;
	{
		uint32_t i;
		for (i = 0; i < f->md_n; i++)
			if (!f->md_have[i])
				return;
	}
	md_complete(f, fc);
}

static void on_ext(struct fconn *fc, const struct bt_msg *m)
{
	struct bt_fetch *f = fc->f;

	if (m->u.ext.id == BT_EXT_ID_HANDSHAKE) {
		struct bt_ext_hs h;
		struct bt_be_err e;
		if (bt_ext_hs_parse(&h, m->u.ext.payload, m->u.ext.len, &e) != BT_OK) {
			/* Unusable, not harmful: go on without it (and
			 * without what it offers: ut_metadata, reqq), but
			 * name the rule it broke. */
			tolerate(fc, "extended handshake of %zu bytes not decoded: %s at "
				 "byte %zu; going on without it", m->u.ext.len,
				 e.rule ? e.rule : bt_strerror(e.code), e.off);
			return;
		}
		if ((h.have & BT_EXT_HAVE_REQQ) && h.reqq >= 1) {
			fc->reqq = h.reqq > 65535 ? 65535 : (unsigned)h.reqq;
			fc->pp.reqq = fc->reqq;
		}
		fc->ut_md = (uint8_t)bt_ext_hs_id(&h, "ut_metadata");
		if (h.have & BT_EXT_HAVE_METADATA_SIZE)
			fc->md_size = h.metadata_size;
		if (!f->m && fc->ut_md && fc->md_size > 0 &&
		    (uint64_t)fc->md_size <= f->cfg.max_metadata) {
			if (!f->md_n) {
				f->md_size = (size_t)fc->md_size;
				f->md_n = (uint32_t)((f->md_size + BT_UTM_BLOCK - 1) / BT_UTM_BLOCK);
				f->md = malloc(f->md_size);
				f->md_have = calloc(f->md_n, 1);
				f->md_asked = calloc(f->md_n, sizeof *f->md_asked);
				f->md_from = calloc(f->md_n, sizeof *f->md_from);
				if (!f->md || !f->md_have || !f->md_asked || !f->md_from) {
					finish(f, BT_FETCH_IOERR, "out of memory for the metadata");
					return;
				}
				md_reset(f);
			}
			md_request(fc);
		}
		return;
	}
	if (m->u.ext.id == OUR_UT_METADATA)
		on_md_msg(fc, m->u.ext.payload, m->u.ext.len);
}

/* ---- messages ----------------------------------------------------------- */

static void pend_have(struct fconn *fc, uint32_t idx)
{
	if (fc->npend_have == fc->cap_have) {
		size_t cap = fc->cap_have ? fc->cap_have * 2 : 64;
		uint32_t *q;
		if (cap > PENDING_HAVES_MAX)
			return;   /* absurd before the metadata: forget the rest */
		q = realloc(fc->pend_have, cap * sizeof *q);
		if (!q)
			return;
		fc->pend_have = q;
		fc->cap_have = cap;
	}
	fc->pend_have[fc->npend_have++] = idx;
}

/* A request no client may send: over 16 KiB (BEP 3: "close connections
 * which request an amount greater than that"), of nothing, past the end
 * of its piece, or for a piece past the last.  We never upload, so it
 * costs us a reject at most: reported, tolerated.  Before the metadata
 * (a magnet) only the length can be judged. */
static void check_request(struct fconn *fc, uint32_t index, uint32_t begin,
			  uint32_t length)
{
	const struct bt_meta *m = fc->f->m;
	uint64_t size;

	if (length > BT_BLOCK_LEN || length == 0) {
		tolerate(fc, "request of %u bytes (piece %u begin %u): %s", length,
			 index, begin, length ? "more than 16 KiB, which BEP 3 "
			 "peers close the connection for" : "an empty block");
		return;
	}
	if (!m)
		return;
	if (index >= m->piece_count) {
		tolerate(fc, "request for piece %u, but the torrent has %u pieces",
			 index, m->piece_count);
		return;
	}
	size = bt_meta_piece_size(m, index);
	if ((uint64_t)begin + length > size)
		tolerate(fc, "request of %u bytes at piece %u begin %u: past the end "
			 "of the piece (%llu bytes)", length, index, begin,
			 (unsigned long long)size);
}

static void on_msg(struct fconn *fc, const struct bt_msg *m)
{
	struct bt_fetch *f = fc->f;

	switch (m->kind) {
	case BT_MSG_CHOKE:
		if (fc->pp_live) {
			fc->pp.choked = true;
			/* Without the fast extension a choke discards our
			 * requests (BEP 3); with it, each gets a reject. */
			if (!fc->fast)
				bt_picker_peer_drop_all(&f->pk, &fc->pp, true);
		}
		break;
	case BT_MSG_UNCHOKE:
		if (fc->pp_live) {
			fc->pp.choked = false;
			fill(fc);
		}
		break;
	case BT_MSG_HAVE:
		if (!fc->pp_live) {
			pend_have(fc, m->u.index);
			break;
		}
		if (bt_picker_peer_have(&f->pk, &fc->pp, m->u.index) != BT_OK) {
			violation(fc, "have %u, but the torrent has %u pieces", m->u.index,
				  f->pk.npieces);
			return;
		}
		if (!fc->c.am_interested && (f->pk.state[m->u.index] &
					     (BT_PS_WANT | BT_PS_HAVE)) == BT_PS_WANT)
			bt_conn_send_simple(&fc->c, BT_MSG_INTERESTED);
		fill(fc);
		break;
	case BT_MSG_BITFIELD:
		if (!fc->pp_live) {
			uint8_t *b = malloc(m->u.bitfield.len);
			if (!b)
				break;
			memcpy(b, m->u.bitfield.bits, m->u.bitfield.len);
			free(fc->pend_bits);
			fc->pend_bits = b;
			fc->pend_len = m->u.bitfield.len;
			fc->pend_all = false;
			break;
		}
		if (bt_picker_peer_bitfield(&f->pk, &fc->pp, m->u.bitfield.bits,
					    m->u.bitfield.len) != BT_OK) {
			bad_bitfield(fc, m->u.bitfield.bits, m->u.bitfield.len);
			return;
		}
		maybe_interested(fc);
		fill(fc);
		break;
	case BT_MSG_HAVE_ALL:
		if (!fc->pp_live) {
			fc->pend_all = true;
			break;
		}
		bt_picker_peer_have_all(&f->pk, &fc->pp);
		maybe_interested(fc);
		fill(fc);
		break;
	case BT_MSG_PIECE:
		on_piece(fc, m);
		break;
	case BT_MSG_REJECT:
		if (fc->pp_live)
			bt_picker_peer_drop(&f->pk, &fc->pp, m->u.req.index, m->u.req.begin, false);
		/* Not refilled at once: a peer that rejects everything would
		 * spin us; the next tick asks again. */
		break;
	case BT_MSG_REQUEST:
		check_request(fc, m->u.req.index, m->u.req.begin, m->u.req.length);
		if (fc->dead)
			return;
		/* We do not upload: with the fast extension say so. */
		if (fc->fast) {
			uint8_t b[32];
			struct bt_wr w;
			bt_wr_init(&w, b, sizeof b);
			if (bt_msg_put_reject(&w, m->u.req.index, m->u.req.begin,
					      m->u.req.length) == BT_OK)
				bt_conn_send_raw(&fc->c, b, w.len);
		}
		break;
	case BT_MSG_EXTENDED:
		on_ext(fc, m);
		break;
	case BT_MSG_HASHES:
	case BT_MSG_HASH_REJECT:
		if (f->layers_left)
			on_hashes(fc, m, m->kind == BT_MSG_HASH_REJECT);
		break;
	default:
		break;
	}
}

static void on_conn_event(struct bt_conn *c, const struct bt_event *ev, void *arg)
{
	struct fconn *fc = arg;
	struct bt_fetch *f = fc->f;
	char why[200];

	(void)c;
	if (f->cfg.on_event)
		f->cfg.on_event(f->cfg.arg, fc->p, ev);
	if (fc->dead)
		return;
	if (ev->dir == BT_DIR_OUT && (ev->kind == BT_EV_MSG || ev->kind == BT_EV_HANDSHAKE))
		fc->last_out_us = bt_now_us();
	switch (ev->kind) {
	case BT_EV_CONNECTED:
		fc->t_conn_us = bt_now_us();
		send_handshake(fc);
		break;
	case BT_EV_CONNECT_FAILED:
		snprintf(why, sizeof why, "connect: %s%s%s", strerror(ev->err),
			 ev->why ? ": " : "", ev->why ? ev->why : "");
		down(fc, why);
		break;
	case BT_EV_HANDSHAKE:
		if (ev->dir == BT_DIR_IN && ev->hs)
			on_handshake(fc, ev->hs);
		break;
	case BT_EV_MSG:
		if (ev->dir == BT_DIR_IN && ev->msg) {
			fc->last_in_us = bt_now_us();
			on_msg(fc, ev->msg);
		}
		break;
	case BT_EV_MALFORMED:
		if (ev->dir != BT_DIR_IN)
			break;
		if (ev->err == BT_ETOOBIG)
			violation(fc, "message of %llu bytes (cap %u): %s",
				  (unsigned long long)ev->declared_len,
				  (unsigned)BT_FRAMER_DEFAULT_MAX, ev->why ? ev->why : "too big");
		else if (ev->msg)
			violation(fc, "malformed %s (length prefix %u): %s",
				  bt_msg_name(ev->msg->id), ev->msg->len,
				  ev->why ? ev->why : "wrong size");
		else
			violation(fc, "malformed stream: %s", ev->why ? ev->why : "?");
		break;
	case BT_EV_CLOSED:
	case BT_EV_RESET:
		if (ev->dir == BT_DIR_IN)
			snprintf(why, sizeof why, "%s by the peer%s%s",
				 ev->kind == BT_EV_RESET ? "reset" : "closed",
				 ev->why ? ", " : "", ev->why ? ev->why : "");
		else
			why[0] = 0;   /* we closed: drop() or finish() said why */
		down(fc, why[0] ? why : NULL);
		break;
	default:
		break;
	}
}

/* ---- trackers ----------------------------------------------------------- */

static void announce(struct ftrk *t, int event);

static void on_trk_timer(struct bt_loop *l, struct bt_timer *tm)
{
	struct ftrk *t = tm->arg;

	(void)l;
	if (t->f->result == BT_FETCH_RUNNING && !t->f->stopping)
		announce(t, t->started ? BT_TRK_EV_NONE : BT_TRK_EV_STARTED);
}

static void on_trk_done(struct bt_trk_req *r)
{
	struct ftrk *t = r->arg;
	struct bt_fetch *f = t->f;
	struct bt_fetch_note n;
	uint64_t next;
	size_t i;

	t->inflight = false;
	memset(&n, 0, sizeof n);
	n.kind = BT_FN_TRACKER;
	n.url = t->url;
	if (r->fail == BT_TRKF_OK) {
		int64_t iv = r->resp.interval;
		t->started = true;
		t->fails = 0;
		for (i = 0; i < r->resp.nstored; i++) {
			const struct bt_peer_addr *a = &r->peers[i];
			struct sockaddr_storage ss;
			memset(&ss, 0, sizeof ss);
			if (a->family == 4) {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
				s4->sin_family = AF_INET;
				memcpy(&s4->sin_addr, a->ip, 4);
				s4->sin_port = htons(a->port);
				if (a->port)
					bt_fetch_add_peer(f, (struct sockaddr *)&ss, sizeof *s4,
							  BT_FETCH_SRC_TRACKER);
			} else if (a->family == 6) {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
				s6->sin6_family = AF_INET6;
				memcpy(&s6->sin6_addr, a->ip, 16);
				s6->sin6_port = htons(a->port);
				if (a->port)
					bt_fetch_add_peer(f, (struct sockaddr *)&ss, sizeof *s6,
							  BT_FETCH_SRC_TRACKER);
			}
		}
		n.n = r->resp.nstored;
		next = iv > 0 ? (uint64_t)iv * 1000000u : 1800000000u;
		if (next < 30000000u)
			next = 30000000u;
	} else {
		n.why = r->msg;
		t->fails++;
		next = 15000000u << (t->fails < 5 ? t->fails - 1 : 4);
	}
	emit(f, &n);
	if (f->result == BT_FETCH_RUNNING && !f->stopping)
		bt_timer_arm(f->loop, &t->t, next);
	dial_more(f);
}

static void announce(struct ftrk *t, int event)
{
	struct bt_fetch *f = t->f;
	struct bt_trk_req *r = &t->r;
	uint64_t want = 0, have = 0;

	if (t->inflight || !f->trk)
		return;
	if (t->used)
		bt_trk_req_free(r);
	bt_trk_req_init(r);
	t->used = true;
	r->kind = BT_TRK_ANNOUNCE;
	r->url = t->url;
	r->url_len = t->len;
	memcpy(r->ann.info_hash, f->hs_hash, 20);
	memcpy(r->ann.peer_id, f->peer_id, 20);
	r->ann.port = f->cfg.port;
	r->ann.downloaded = f->downloaded;
	if (f->pk_live)
		bt_picker_progress(&f->pk, &want, &have);
	r->ann.left = f->pk_live ? want - have : 1;
	r->ann.event = event;
	r->ann.numwant = 50;
	r->ann.compact = BT_TRK_COMPACT_YES;
	r->done = on_trk_done;
	r->arg = t;
	if (bt_trk_start(f->trk, r) == 0)
		t->inflight = true;
}

int bt_fetch_add_tracker(struct bt_fetch *f, const char *url, size_t len)
{
	struct ftrk *t;
	size_t i;

	for (i = 0; i < f->ntrks; i++)
		if (f->trks[i].len == len && memcmp(f->trks[i].url, url, len) == 0)
			return BT_OK;
	if (f->ntrks == BT_FETCH_MAX_TRACKERS)
		return BT_ETOOBIG;
	t = &f->trks[f->ntrks];
	memset(t, 0, sizeof *t);
	t->url = malloc(len + 1);
	if (!t->url)
		return BT_ENOSPC;
	memcpy(t->url, url, len);
	t->url[len] = 0;
	t->len = len;
	t->f = f;
	t->t.cb = on_trk_timer;
	t->t.arg = t;
	f->ntrks++;
	return BT_OK;
}

/* ---- the clock ---------------------------------------------------------- */

static void check_conn(struct bt_fetch *f, struct fconn *fc, uint64_t now, bool second)
{
	if (fc->dead)
		return;
	if (!fc->hs_ok) {
		if (fc->t_conn_us && now - fc->t_conn_us > f->cfg.connect_timeout_us)
			drop(fc, BT_FP_GONE, "no handshake within %llu ms",
			     (unsigned long long)(f->cfg.connect_timeout_us / 1000));
		return;
	}
	if (fc->pp_live && fc->pp.nq) {
		uint64_t since_us = fc->pp.last_block_us > fc->pp.q[0].t_us ?
				    fc->pp.last_block_us : fc->pp.q[0].t_us;
		if (now - since_us > f->cfg.stall_us) {
			drop(fc, BT_FP_FAILED, "stalled: no block for %llu s with %u requests out",
			     (unsigned long long)((now - since_us) / 1000000), fc->pp.nq);
			return;
		}
	}
	if (fc->pp_live && second) {
		bt_picker_peer_tick(&f->pk, &fc->pp, now);
		if (fc->pp.rate > fc->p->peak_rate)
			fc->p->peak_rate = fc->pp.rate;
	}
	if (now - fc->last_out_us > KEEPALIVE_US)
		bt_conn_send_keepalive(&fc->c);
}

static void check_idle(struct bt_fetch *f, uint64_t now)
{
	size_t i;
	bool pending = false, trk_busy = false;

	if (now - f->last_progress_us > f->cfg.idle_us) {
		char why[96];
		snprintf(why, sizeof why, "no data for %llu s",
			 (unsigned long long)(f->cfg.idle_us / 1000000));
		snprintf(f->errbuf, sizeof f->errbuf, "%s", why);
		finish(f, f->ever_up ? (f->pk_live ? BT_FETCH_INCOMPLETE : BT_FETCH_BADMETA) :
		       BT_FETCH_NOPEERS, f->errbuf);
		return;
	}
	if (f->nconns)
		return;
	for (i = 0; i < f->npeers; i++)
		if (f->peers[i].state == BT_FP_NEW || f->peers[i].state == BT_FP_GONE)
			pending = true;
	for (i = 0; i < f->ntrks; i++)
		if (f->trks[i].inflight || bt_timer_armed(&f->trks[i].t))
			trk_busy = true;
	if (pending || trk_busy)
		return;
	/* Up once but no picker yet: the metadata (or a v2 piece layer)
	 * never came. */
	finish(f, f->ever_up ? (f->pk_live ? BT_FETCH_INCOMPLETE : BT_FETCH_BADMETA) :
	       BT_FETCH_NOPEERS, f->ever_up ? "every peer is gone" : "no peer could be reached");
}

static void on_tick(struct bt_loop *l, struct bt_timer *t)
{
	struct bt_fetch *f = t->arg;
	uint64_t now = bt_now_us();
	bool second;
	size_t i;

	(void)l;
	if (f->result != BT_FETCH_RUNNING)
		return;
	f->ticks++;
	second = f->ticks % 2 == 0;
	if (second) {
		uint64_t dt = now - f->rate_t_us;
		uint64_t inst = dt ? (f->downloaded - f->rate_bytes) * 1000000u / dt : 0;
		f->rate = f->rate ? (f->rate + inst) / 2 : inst;
		f->rate_bytes = f->downloaded;
		f->rate_t_us = now;
	}
	for (i = 0; i < f->npeers && f->result == BT_FETCH_RUNNING; i++)
		if (f->peers[i].conn)
			check_conn(f, f->peers[i].conn, now, second);
	if (f->result != BT_FETCH_RUNNING)
		return;
	if (!f->m)
		md_request_all(f);
	if (f->layers_left)
		layers_request_all(f);
	fill_all(f);
	dial_more(f);
	check_idle(f, now);
	if (f->result == BT_FETCH_RUNNING)
		bt_timer_arm(f->loop, &f->tick, TICK_US);
}

static void on_reap(struct bt_loop *l, struct bt_timer *t)
{
	struct bt_fetch *f = t->arg;

	(void)l;
	while (f->dead) {
		struct fconn *fc = f->dead;
		f->dead = fc->next_dead;
		free_conn(fc);
	}
	/* Blocks a departed peer held are free: others may take them. */
	if (f->result == BT_FETCH_RUNNING) {
		fill_all(f);
		dial_more(f);
	}
}

/* ---- start and finish --------------------------------------------------- */

int bt_fetch_start(struct bt_fetch *f, char *errbuf, size_t errcap)
{
	size_t i;

	if (f->started)
		return BT_EINVAL;
	f->started = true;
	f->t0_us = f->last_progress_us = f->rate_t_us = bt_now_us();
	if (f->m && !f->cfg.no_trackers)
		for (i = 0; i < f->m->ntrackers; i++)
			bt_fetch_add_tracker(f, (const char *)f->m->trackers[i].url.p,
					     f->m->trackers[i].url.len);
	if (f->m && install_meta(f) != 0) {
		snprintf(errbuf, errcap, "%s", f->errbuf);
		return BT_EINVAL;
	}
	if (f->result != BT_FETCH_RUNNING)
		return BT_OK;   /* nothing to fetch */
	if (f->ntrks) {
		struct bt_trk_opts o;
		bt_trk_opts_init(&o);
		if (bt_trk_client_new(&f->trk, f->loop, &o) != 0)
			f->trk = NULL;
		for (i = 0; f->trk && i < f->ntrks; i++)
			announce(&f->trks[i], BT_TRK_EV_STARTED);
	}
	if (!f->npeers && !f->trk) {
		snprintf(errbuf, errcap, "no peer given and no tracker to ask");
		finish(f, BT_FETCH_NOPEERS, "no peer given and no tracker to ask");
		return BT_OK;
	}
	dial_more(f);
	if (f->result == BT_FETCH_RUNNING)
		bt_timer_arm(f->loop, &f->tick, TICK_US);
	return BT_OK;
}

static void close_all(struct bt_fetch *f)
{
	size_t i;

	for (i = 0; i < f->npeers; i++) {
		struct fconn *fc = f->peers[i].conn;
		if (fc && !fc->dead) {
			if (f->peers[i].state == BT_FP_UP || f->peers[i].state == BT_FP_CONNECTING)
				snprintf(f->peers[i].why, sizeof f->peers[i].why,
					 "closed by us: %s", bt_fetch_result_name(f->result));
			bt_conn_close(&fc->c);
			down(fc, NULL);
		}
	}
}

static void finish(struct bt_fetch *f, int result, const char *why)
{
	size_t i;

	if (f->result != BT_FETCH_RUNNING)
		return;
	f->result = result;
	bt_timer_stop(f->loop, &f->tick);
	close_all(f);
	for (i = 0; i < f->ntrks; i++) {
		struct ftrk *t = &f->trks[i];
		bt_timer_stop(f->loop, &t->t);
		if (!t->started)
			continue;
		if (t->inflight) {
			bt_trk_cancel(&t->r);
			t->inflight = false;
		}
		announce(t, result == BT_FETCH_OK ? BT_TRK_EV_COMPLETED : BT_TRK_EV_STOPPED);
	}
	note(f, BT_FN_DONE, NULL, why);
}

void bt_fetch_stop(struct bt_fetch *f)
{
	finish(f, BT_FETCH_INCOMPLETE, "stopped");
}

bool bt_fetch_busy(const struct bt_fetch *f)
{
	size_t i;

	for (i = 0; i < f->ntrks; i++)
		if (f->trks[i].inflight)
			return true;
	return false;
}

int bt_fetch_result(const struct bt_fetch *f)
{
	return f->result;
}

void bt_fetch_stats(const struct bt_fetch *f, struct bt_fetch_stats *s)
{
	size_t i;

	memset(s, 0, sizeof *s);
	if (f->pk_live) {
		bt_picker_progress(&f->pk, &s->want_bytes, &s->have_bytes);
		s->want_pieces = f->pk.nwant;
		s->have_pieces = f->pk.nhave_wanted;
		s->endgame = bt_picker_endgame(&f->pk);
	}
	s->resumed_pieces = f->resumed;
	s->downloaded = f->downloaded;
	s->wasted = f->wasted;
	s->hash_fails = f->hash_fails;
	for (i = 0; i < f->npeers; i++)
		if (f->peers[i].state == BT_FP_UP)
			s->peers_up++;
	s->peers_known = (unsigned)f->npeers;
	s->rate = f->rate;
	s->elapsed_us = since(f);
	s->have_meta = f->m != NULL;
}
