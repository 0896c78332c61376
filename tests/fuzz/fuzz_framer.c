/* The peer-wire framer: the same frames however the stream is chunked.
 *
 * Input: one control byte (bit 0: the stream starts with a handshake;
 * bits 1-2: the length cap), eight chunk sizes (0..255, used in turn;
 * 0 feeds an empty chunk, then one byte), then the stream.  The stream is framed twice,
 * fed whole and fed in those chunks, and the two runs must give the same
 * frames (kind, offset, bytes, declared length, handshake fields), the
 * same sticky error (code, offset, declared length, rule) and the same
 * partial frame at the end.  Each frame must also parse: a message with
 * bt_msg_parse (never BT_NEED_MORE, never trailing bytes), a handshake
 * with bt_handshake_parse to its full length; frames tile the stream. */
#include "fuzz.h"
#include "wire.h"

struct rec {
	enum bt_frame_kind kind;
	uint64_t offset;
	size_t len, at;          /* bytes at store[at] */
	uint32_t declared;
	uint8_t reserved[8], info_hash[20], peer_id[20];
	size_t pstrlen;
	unsigned problems;
};

struct run {
	struct rec *r;
	size_t n, cap;
	uint8_t *store;
	size_t used;
	int err;                 /* BT_OK or the sticky error */
	uint64_t err_offset;
	uint32_t err_declared;
	const char *err_why;
	size_t partial, partial_need;
};

static void check_frame(const struct bt_frame *out, uint32_t max)
{
	if (out->kind == BT_FRAME_MSG) {
		struct bt_msg m;
		int rc = bt_msg_parse(out->p, out->len, &m);

		FUZZ_CHECK(out->len >= 4 && out->len - 4 == out->declared_len);
		FUZZ_CHECK(out->declared_len <= max);
		FUZZ_CHECK(bt_load_u32be(out->p) == out->declared_len);
		FUZZ_CHECK(rc == BT_OK || (rc == BT_EINVAL && m.kind == m.id));
	} else {
		struct bt_handshake hs;

		FUZZ_CHECK(out->kind == BT_FRAME_HANDSHAKE);
		FUZZ_CHECK(bt_handshake_parse(out->p, out->len, &hs) == (long)out->len);
		FUZZ_CHECK(hs.pstrlen == out->hs.pstrlen && hs.problems == out->hs.problems);
		FUZZ_CHECK(out->hs.pstr == out->p + 1);
	}
}

static void record(struct run *run, const struct bt_frame *out, uint32_t max)
{
	struct rec *r;

	check_frame(out, max);
	FUZZ_CHECK(run->n < run->cap);
	r = &run->r[run->n++];
	memset(r, 0, sizeof *r);
	r->kind = out->kind;
	r->offset = out->offset;
	r->len = out->len;
	r->declared = out->kind == BT_FRAME_MSG ? out->declared_len : 0;
	r->at = run->used;
	memcpy(run->store + run->used, out->p, out->len);
	run->used += out->len;
	if (out->kind == BT_FRAME_HANDSHAKE) {
		memcpy(r->reserved, out->hs.reserved, 8);
		memcpy(r->info_hash, out->hs.info_hash, 20);
		memcpy(r->peer_id, out->hs.peer_id, 20);
		r->pstrlen = out->hs.pstrlen;
		r->problems = out->hs.problems;
	}
}

/* Feed one chunk until it is consumed or the framer fails. */
static bool feed(struct bt_framer *f, struct run *run, const uint8_t *p,
		 size_t len, uint32_t max)
{
	struct bt_frame out;
	long rc;

	do {
		rc = bt_framer_feed(f, p, len, &out);
		if (rc < 0) {
			FUZZ_CHECK(rc != BT_NEED_MORE);
			run->err = (int)rc;
			run->err_offset = out.offset;
			run->err_declared = out.declared_len;
			run->err_why = out.why;
			FUZZ_CHECK(out.why != NULL);
			return false;
		}
		FUZZ_CHECK((size_t)rc <= len);
		if (out.kind != BT_FRAME_NONE)
			record(run, &out, max);
		else
			FUZZ_CHECK((size_t)rc == len);  /* NONE: all consumed */
		p += rc;
		len -= (size_t)rc;
	} while (len);
	return true;
}

static void finish(struct bt_framer *f, struct run *run, uint64_t fed)
{
	struct bt_frame out;

	if (run->err == BT_OK) {
		run->partial = bt_framer_partial(f, &run->partial_need);
		FUZZ_CHECK(f->offset == fed);
		return;
	}
	/* Sticky: the same answer again, nothing consumed. */
	FUZZ_CHECK(bt_framer_feed(f, (const uint8_t *)"x", 1, &out) == run->err);
	FUZZ_CHECK(out.offset == run->err_offset && out.why == run->err_why);
	FUZZ_CHECK(out.declared_len == run->err_declared);
}

static void run_init(struct run *run, size_t size)
{
	memset(run, 0, sizeof *run);
	run->cap = size / 4 + 2;
	run->r = malloc(run->cap * sizeof *run->r);
	run->store = malloc(size + 1);
	if (!run->r || !run->store)
		abort();
}

static uint8_t area1[BT_FRAMER_BUF_LEN(BT_FRAMER_DEFAULT_MAX)];
static uint8_t area2[BT_FRAMER_BUF_LEN(BT_FRAMER_DEFAULT_MAX)];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t maxes[4] = { 0, 16, 100, 16384 + 9 };
	uint8_t ctl = size ? data[0] : 0, chunks[8] = { 0 };
	bool hsk = ctl & 1;
	uint32_t max = maxes[(ctl >> 1) & 3];
	uint32_t eff = max ? max : BT_FRAMER_DEFAULT_MAX;
	size_t cap = BT_FRAMER_BUF_LEN(eff), i, at, ci = 0, off = 0;
	const uint8_t *s;
	uint8_t *buf1, *buf2;
	struct bt_framer f1, f2;
	struct run whole, split;
	size_t n;

	if (size < 9)
		return 0;
	memcpy(chunks, data + 1, 8);
	s = data + 9;
	n = size - 9;

	/* Buffers end flush with a global's redzone, so ASan sees a write
	 * past cap; static, because mallocs of 128 KiB cost an mmap each. */
	buf1 = area1 + sizeof area1 - cap;
	buf2 = area2 + sizeof area2 - cap;
	/* A buffer one byte short is refused. */
	FUZZ_CHECK(bt_framer_init(&f1, buf1 + 1, cap - 1, max, hsk) ==
		   (cap - 1 < (size_t)eff + 4 || (hsk && cap - 1 < BT_HS_MAX_LEN) ?
		    BT_ENOSPC : BT_OK));
	FUZZ_CHECK(bt_framer_init(&f1, buf1, cap, max, hsk) == BT_OK);
	FUZZ_CHECK(bt_framer_init(&f2, buf2, cap, max, hsk) == BT_OK);
	run_init(&whole, n);
	run_init(&split, n);

	if (n)
		feed(&f1, &whole, s, n, eff);
	finish(&f1, &whole, n);

	for (at = 0; at < n; ) {
		size_t c = chunks[ci++ % 8];
		if (c == 0) {           /* an empty feed changes nothing */
			if (!feed(&f2, &split, s + at, 0, eff))
				break;
			c = 1;
		}
		if (c > n - at)
			c = n - at;
		if (!feed(&f2, &split, s + at, c, eff))
			break;
		at += c;
	}
	finish(&f2, &split, n);

	/* The same frames, the same end. */
	FUZZ_CHECK(whole.n == split.n);
	for (i = 0; i < whole.n; i++) {
		struct rec *a = &whole.r[i], *b = &split.r[i];
		FUZZ_CHECK(a->kind == b->kind && a->offset == b->offset);
		FUZZ_CHECK(a->len == b->len && a->declared == b->declared);
		FUZZ_CHECK(memcmp(whole.store + a->at, split.store + b->at, a->len) == 0);
		FUZZ_CHECK(memcmp(a->reserved, b->reserved, 8) == 0);
		FUZZ_CHECK(memcmp(a->info_hash, b->info_hash, 20) == 0);
		FUZZ_CHECK(memcmp(a->peer_id, b->peer_id, 20) == 0);
		FUZZ_CHECK(a->pstrlen == b->pstrlen && a->problems == b->problems);
		/* Frames tile the stream: its own bytes, back to back. */
		FUZZ_CHECK(a->offset == off);
		FUZZ_CHECK(memcmp(whole.store + a->at, s + off, a->len) == 0);
		/* Only the first frame of a handshake stream is one. */
		FUZZ_CHECK((a->kind == BT_FRAME_HANDSHAKE) == (hsk && i == 0));
		off += a->len;
	}
	FUZZ_CHECK(whole.err == split.err);
	FUZZ_CHECK(whole.err_offset == split.err_offset);
	FUZZ_CHECK(whole.err_declared == split.err_declared);
	FUZZ_CHECK(whole.err_why == split.err_why);
	if (whole.err == BT_OK) {
		FUZZ_CHECK(whole.partial == split.partial);
		FUZZ_CHECK(whole.partial_need == split.partial_need);
		FUZZ_CHECK(off + whole.partial == n);
	} else {
		FUZZ_CHECK(whole.err_offset == off);
		FUZZ_CHECK(whole.err == BT_ETOOBIG || whole.err == BT_EINVAL);
		if (whole.err == BT_ETOOBIG)
			FUZZ_CHECK(whole.err_declared > eff);
	}
	free(whole.r);
	free(whole.store);
	free(split.r);
	free(split.store);
	return 0;
}
