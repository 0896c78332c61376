/* wire.c — peer wire protocol codec and stream framer.  See wire.h. */
#include "wire.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* ---- Handshake ---------------------------------------------------------- */

void bt_handshake_encode(uint8_t out[BT_HS_LEN], const uint8_t reserved[8],
			 const uint8_t info_hash[20], const uint8_t peer_id[20])
{
	/* Field order is the whole point: pstrlen, pstr, reserved, info_hash,
	 * peer_id.  Offsets spelled out so a reader can check them. */
	out[0] = BT_PSTR_LEN;
	memcpy(out + 1, BT_PSTR, BT_PSTR_LEN);
	if (reserved)
		memcpy(out + 20, reserved, 8);
	else
		memset(out + 20, 0, 8);
	memcpy(out + 28, info_hash, 20);
	memcpy(out + 48, peer_id, 20);
}

static uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* Compare n wire bytes with a C string ignoring ASCII case; no str*(). */
static bool eq_nocase(const uint8_t *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(p[i]) != ascii_lower((uint8_t)s[i]))
			return false;
	return true;
}

long bt_handshake_parse(const uint8_t *buf, size_t len, struct bt_handshake *hs)
{
	struct bt_rd r;
	uint8_t pl;

	memset(hs, 0, sizeof *hs);
	bt_rd_init(&r, buf, len);
	if (!bt_rd_u8(&r, &pl))
		return BT_NEED_MORE;
	hs->pstrlen = pl;
	if (pl == 0) {
		hs->problems = BT_HS_BAD_PSTRLEN | BT_HS_BAD_PSTR;
		return BT_EINVAL;
	}
	/* 1 + pl + 48 <= 304: compare with what remains, no pointer math. */
	if (bt_rd_left(&r) < (size_t)pl + 48)
		return BT_NEED_MORE;
	bt_rd_view(&r, pl, &hs->pstr);
	bt_rd_copy(&r, hs->reserved, 8);
	bt_rd_copy(&r, hs->info_hash, 20);
	bt_rd_copy(&r, hs->peer_id, 20);

	if (pl != BT_PSTR_LEN) {
		hs->problems |= BT_HS_BAD_PSTRLEN | BT_HS_BAD_PSTR;
	} else if (memcmp(hs->pstr, BT_PSTR, BT_PSTR_LEN) != 0) {
		hs->problems |= BT_HS_BAD_PSTR;
		if (eq_nocase(hs->pstr, BT_PSTR, BT_PSTR_LEN))
			hs->problems |= BT_HS_PSTR_CASE;
	}
	return (long)(1 + (size_t)pl + 48);
}

const struct bt_wire_name bt_reserved_names[] = {
	{ BT_RSV_EXTENSION, "extension" },
	{ BT_RSV_V2,        "v2" },
	{ BT_RSV_FAST,      "fast" },
	{ BT_RSV_DHT,       "dht" },
	{ 0, NULL },
};

const char *bt_reserved_name(unsigned bit)
{
	for (const struct bt_wire_name *t = bt_reserved_names; t->name; t++)
		if ((unsigned)t->value == bit)
			return t->name;
	return NULL;
}

int bt_reserved_next(const uint8_t r[8], int from)
{
	for (int b = from < 0 ? 0 : from; b < 64; b++)
		if (bt_reserved_has(r, (unsigned)b))
			return b;
	return -1;
}

uint64_t bt_reserved_unknown(const uint8_t r[8])
{
	uint64_t m = 0;
	for (int b = bt_reserved_next(r, 0); b >= 0; b = bt_reserved_next(r, b + 1))
		if (!bt_reserved_name((unsigned)b))
			m |= (uint64_t)1 << b;
	return m;
}

/* Append s to dst[*n..cap), keeping a NUL; truncation marked by "...". */
static void append(char *dst, size_t cap, size_t *n, const char *s)
{
	size_t sl = strlen(s);   /* s is ours, not wire data */
	if (*n + sl + 1 <= cap) {
		memcpy(dst + *n, s, sl + 1);
		*n += sl;
	} else if (*n < cap) {
		/* Fill what is left, then mark the cut: "..." must land where
		 * the text is, not after an earlier NUL. */
		size_t room = cap - 1 - *n;
		memcpy(dst + *n, s, room < sl ? room : sl);
		dst[cap - 1] = '\0';
		if (cap >= 4)
			memcpy(dst + cap - 4, "...", 4);
		*n = cap;        /* full: later appends change nothing */
	}
}

char *bt_reserved_str(const uint8_t r[8], char *dst, size_t cap)
{
	size_t n = 0;
	bool any = false;
	char num[8];

	if (cap == 0)
		return dst;
	dst[0] = '\0';
	for (int b = 63; b >= 0; b--) {
		const char *name;
		if (!bt_reserved_has(r, (unsigned)b))
			continue;
		if (any)
			append(dst, cap, &n, ",");
		if (!(name = bt_reserved_name((unsigned)b))) {
			snprintf(num, sizeof num, "bit %d", b);
			name = num;
		}
		append(dst, cap, &n, name);
		any = true;
	}
	if (!any)
		append(dst, cap, &n, "none");
	return dst;
}

/* ---- Messages ----------------------------------------------------------- */

const struct bt_wire_name bt_msg_names[] = {
	{ BT_MSG_KEEPALIVE,      "keep-alive" },
	{ BT_MSG_CHOKE,          "choke" },
	{ BT_MSG_UNCHOKE,        "unchoke" },
	{ BT_MSG_INTERESTED,     "interested" },
	{ BT_MSG_NOT_INTERESTED, "not interested" },
	{ BT_MSG_HAVE,           "have" },
	{ BT_MSG_BITFIELD,       "bitfield" },
	{ BT_MSG_REQUEST,        "request" },
	{ BT_MSG_PIECE,          "piece" },
	{ BT_MSG_CANCEL,         "cancel" },
	{ BT_MSG_PORT,           "port" },
	{ BT_MSG_SUGGEST,        "suggest piece" },
	{ BT_MSG_HAVE_ALL,       "have all" },
	{ BT_MSG_HAVE_NONE,      "have none" },
	{ BT_MSG_REJECT,         "reject request" },
	{ BT_MSG_ALLOWED_FAST,   "allowed fast" },
	{ BT_MSG_EXTENDED,       "extended" },
	{ BT_MSG_HASH_REQUEST,   "hash request" },
	{ BT_MSG_HASHES,         "hashes" },
	{ BT_MSG_HASH_REJECT,    "hash reject" },
	{ 0, NULL },
};

const char *bt_msg_name(int id)
{
	for (const struct bt_wire_name *t = bt_msg_names; t->name; t++)
		if (t->value == id)
			return t->name;
	return "unknown";
}

/* Payload size rule per id.  exact: the size must equal n; else >= n. */
struct size_rule {
	size_t n;
	bool exact;
	const char *bad;
};

static bool size_rule(int id, struct size_rule *s)
{
	static const struct size_rule none = { 0, true, "payload must be empty" },
		four = { 4, true, "payload must be 4 bytes" },
		twelve = { 12, true, "payload must be 12 bytes" },
		piece = { 8, false, "payload must be at least 8 bytes" },
		bits = { 1, false, "bitfield must not be empty" },
		port = { 2, true, "payload must be 2 bytes" },
		ext = { 1, false, "payload must hold an extended id" },
		hreq = { 48, true, "payload must be 48 bytes" },
		hashes = { 48, false, "payload must be 48 + 32*n bytes" };

	switch (id) {
	case BT_MSG_CHOKE: case BT_MSG_UNCHOKE: case BT_MSG_INTERESTED:
	case BT_MSG_NOT_INTERESTED: case BT_MSG_HAVE_ALL: case BT_MSG_HAVE_NONE:
		*s = none; return true;
	case BT_MSG_HAVE: case BT_MSG_SUGGEST: case BT_MSG_ALLOWED_FAST:
		*s = four; return true;
	case BT_MSG_REQUEST: case BT_MSG_CANCEL: case BT_MSG_REJECT:
		*s = twelve; return true;
	case BT_MSG_PIECE:       *s = piece; return true;
	case BT_MSG_BITFIELD:    *s = bits; return true;
	case BT_MSG_PORT:        *s = port; return true;
	case BT_MSG_EXTENDED:    *s = ext; return true;
	case BT_MSG_HASH_REQUEST: case BT_MSG_HASH_REJECT:
		*s = hreq; return true;
	case BT_MSG_HASHES:      *s = hashes; return true;
	}
	return false;
}

static void read_hash_req(struct bt_rd *r, struct bt_hash_req *h)
{
	bt_rd_copy(r, h->pieces_root, 32);
	bt_rd_u32be(r, &h->base_layer);
	bt_rd_u32be(r, &h->index);
	bt_rd_u32be(r, &h->length);
	bt_rd_u32be(r, &h->proof_layers);
}

int bt_msg_parse(const uint8_t *msg, size_t len, struct bt_msg *m)
{
	struct bt_rd r;
	struct size_rule rule;
	uint8_t id = 0;

	memset(m, 0, sizeof *m);
	m->kind = BT_MSG_UNKNOWN;
	m->id = -1;
	bt_rd_init(&r, msg, len);
	if (!bt_rd_u32be(&r, &m->len))
		return BT_NEED_MORE;
	if (bt_rd_left(&r) < m->len)
		return BT_NEED_MORE;
	if (bt_rd_left(&r) > m->len) {
		m->bad = "bytes follow the message";
		return BT_EINVAL;
	}
	if (m->len == 0) {
		m->kind = BT_MSG_KEEPALIVE;
		return BT_OK;
	}
	bt_rd_u8(&r, &id);
	m->id = id;
	m->payload_len = m->len - 1;
	bt_rd_view(&r, m->payload_len, &m->payload);
	if (!size_rule(id, &rule))
		return BT_OK;    /* unknown id: reported by kind, not fatal */
	m->kind = (enum bt_msg_kind)id;
	if (rule.exact ? m->payload_len != rule.n : m->payload_len < rule.n) {
		m->bad = rule.bad;
		m->expect = rule.n;
		return BT_EINVAL;
	}
	if (id == BT_MSG_HASHES && (m->payload_len - 48) % 32 != 0) {
		m->bad = rule.bad;
		m->expect = 48 + (m->payload_len - 48) / 32 * 32;
		return BT_EINVAL;
	}

	/* Sizes are checked; read the fields back from the payload. */
	bt_rd_init(&r, m->payload, m->payload_len);
	switch (id) {
	case BT_MSG_HAVE: case BT_MSG_SUGGEST: case BT_MSG_ALLOWED_FAST:
		bt_rd_u32be(&r, &m->u.index);
		break;
	case BT_MSG_REQUEST: case BT_MSG_CANCEL: case BT_MSG_REJECT:
		bt_rd_u32be(&r, &m->u.req.index);
		bt_rd_u32be(&r, &m->u.req.begin);
		bt_rd_u32be(&r, &m->u.req.length);
		break;
	case BT_MSG_PIECE:
		bt_rd_u32be(&r, &m->u.piece.index);
		bt_rd_u32be(&r, &m->u.piece.begin);
		m->u.piece.len = bt_rd_left(&r);
		bt_rd_view(&r, m->u.piece.len, &m->u.piece.data);
		break;
	case BT_MSG_BITFIELD:
		m->u.bitfield.bits = m->payload;
		m->u.bitfield.len = m->payload_len;
		break;
	case BT_MSG_PORT:
		bt_rd_u16be(&r, &m->u.port);
		break;
	case BT_MSG_EXTENDED:
		bt_rd_u8(&r, &m->u.ext.id);
		m->u.ext.len = bt_rd_left(&r);
		bt_rd_view(&r, m->u.ext.len, &m->u.ext.payload);
		break;
	case BT_MSG_HASH_REQUEST: case BT_MSG_HASH_REJECT:
		read_hash_req(&r, &m->u.hash);
		break;
	case BT_MSG_HASHES:
		read_hash_req(&r, &m->u.hashes.req);
		m->u.hashes.len = bt_rd_left(&r);
		bt_rd_view(&r, m->u.hashes.len, &m->u.hashes.hashes);
		break;
	}
	return BT_OK;
}

/* <len><id> for a payload of n bytes, or BT_ETOOBIG if len overflows. */
static int put_head(struct bt_wr *w, uint8_t id, size_t n)
{
	if (n > (size_t)UINT32_MAX - 1)
		return BT_ETOOBIG;
	bt_wr_u32be(w, (uint32_t)(n + 1));
	bt_wr_u8(w, id);
	return BT_OK;
}

static int done(const struct bt_wr *w)
{
	return bt_wr_ok(w) ? BT_OK : BT_ENOSPC;
}

int bt_msg_put_keepalive(struct bt_wr *w)
{
	bt_wr_u32be(w, 0);
	return done(w);
}

int bt_msg_put_simple(struct bt_wr *w, uint8_t id)
{
	put_head(w, id, 0);
	return done(w);
}

int bt_msg_put_index(struct bt_wr *w, uint8_t id, uint32_t index)
{
	put_head(w, id, 4);
	bt_wr_u32be(w, index);
	return done(w);
}

int bt_msg_put_have(struct bt_wr *w, uint32_t index)
{
	return bt_msg_put_index(w, BT_MSG_HAVE, index);
}

int bt_msg_put_bitfield(struct bt_wr *w, const uint8_t *bits, size_t n)
{
	if (put_head(w, BT_MSG_BITFIELD, n) != BT_OK)
		return BT_ETOOBIG;
	bt_wr_bytes(w, bits, n);
	return done(w);
}

int bt_msg_put_block(struct bt_wr *w, uint8_t id, uint32_t index,
		     uint32_t begin, uint32_t length)
{
	put_head(w, id, 12);
	bt_wr_u32be(w, index);
	bt_wr_u32be(w, begin);
	bt_wr_u32be(w, length);
	return done(w);
}

int bt_msg_put_request(struct bt_wr *w, uint32_t index, uint32_t begin,
		       uint32_t length)
{
	return bt_msg_put_block(w, BT_MSG_REQUEST, index, begin, length);
}

int bt_msg_put_cancel(struct bt_wr *w, uint32_t index, uint32_t begin,
		      uint32_t length)
{
	return bt_msg_put_block(w, BT_MSG_CANCEL, index, begin, length);
}

int bt_msg_put_reject(struct bt_wr *w, uint32_t index, uint32_t begin,
		      uint32_t length)
{
	return bt_msg_put_block(w, BT_MSG_REJECT, index, begin, length);
}

int bt_msg_put_piece(struct bt_wr *w, uint32_t index, uint32_t begin,
		     const uint8_t *data, size_t n)
{
	if (n > (size_t)UINT32_MAX - 9)
		return BT_ETOOBIG;
	put_head(w, BT_MSG_PIECE, n + 8);
	bt_wr_u32be(w, index);
	bt_wr_u32be(w, begin);
	bt_wr_bytes(w, data, n);
	return done(w);
}

int bt_msg_put_port(struct bt_wr *w, uint16_t port)
{
	put_head(w, BT_MSG_PORT, 2);
	bt_wr_u16be(w, port);
	return done(w);
}

int bt_msg_put_extended(struct bt_wr *w, uint8_t ext_id,
			const uint8_t *payload, size_t n)
{
	if (n > (size_t)UINT32_MAX - 2)
		return BT_ETOOBIG;
	put_head(w, BT_MSG_EXTENDED, n + 1);
	bt_wr_u8(w, ext_id);
	bt_wr_bytes(w, payload, n);
	return done(w);
}

static void put_hash_req(struct bt_wr *w, const struct bt_hash_req *h)
{
	bt_wr_bytes(w, h->pieces_root, 32);
	bt_wr_u32be(w, h->base_layer);
	bt_wr_u32be(w, h->index);
	bt_wr_u32be(w, h->length);
	bt_wr_u32be(w, h->proof_layers);
}

int bt_msg_put_hash_req(struct bt_wr *w, uint8_t id,
			const struct bt_hash_req *h)
{
	put_head(w, id, 48);
	put_hash_req(w, h);
	return done(w);
}

int bt_msg_put_hashes(struct bt_wr *w, const struct bt_hash_req *h,
		      const uint8_t *hashes, size_t n)
{
	if (n > (size_t)UINT32_MAX - 49)
		return BT_ETOOBIG;
	put_head(w, BT_MSG_HASHES, n + 48);
	put_hash_req(w, h);
	bt_wr_bytes(w, hashes, n);
	return done(w);
}

/* ---- Framer ------------------------------------------------------------- */

/* Framer states.  The header of a frame is 1 byte (pstrlen) in HS and 4
 * bytes (length prefix) in MSG; once it is known, so is the frame size. */
enum { FR_HS = 1, FR_MSG, FR_ERR };

int bt_framer_init(struct bt_framer *f, uint8_t *buf, size_t cap,
		   uint32_t max_len, bool handshake)
{
	memset(f, 0, sizeof *f);
	f->buf = buf;
	f->cap = cap;
	f->max_len = max_len ? max_len : BT_FRAMER_DEFAULT_MAX;
	f->state = handshake ? FR_HS : FR_MSG;
	/* cap >= max_len + 4 also keeps every frame size within size_t;
	 * the LONG_MAX test keeps it within feed's return value (ILP32). */
	if ((uint64_t)cap < (uint64_t)f->max_len + 4 ||
	    (uint64_t)f->max_len + 4 > (uint64_t)LONG_MAX ||
	    (handshake && cap < BT_HS_MAX_LEN)) {
		f->state = FR_ERR;
		f->err = BT_ENOSPC;
		f->err_why = "framer buffer smaller than its cap";
		return BT_ENOSPC;
	}
	return BT_OK;
}

static long fail(struct bt_framer *f, struct bt_frame *out, int err,
		 const char *why, uint32_t declared, uint64_t at)
{
	f->state = FR_ERR;
	f->err = err;
	f->err_why = why;
	f->err_declared = declared;
	f->err_offset = at;
	out->why = why;
	out->declared_len = declared;
	out->offset = at;
	return err;
}

/* Size of the frame whose header is at hdr (1 or 4 bytes, present) into
 * *sz, or an error (recorded in f).  at: the frame's stream offset. */
static int frame_size(struct bt_framer *f, const uint8_t *hdr,
		      struct bt_frame *out, uint64_t at, size_t *sz)
{
	if (f->state == FR_HS) {
		if (hdr[0] == 0)
			return (int)fail(f, out, BT_EINVAL,
				"handshake pstrlen 0 (no protocol string)", 0, at);
		*sz = 1 + (size_t)hdr[0] + 48;
		return BT_OK;
	}
	uint32_t n = bt_load_u32be(hdr);
	if (n > f->max_len)
		return (int)fail(f, out, BT_ETOOBIG,
			    "message length over the framer's cap", n, at);
	*sz = 4 + (size_t)n;  /* init made sure this fits size_t and long */
	return BT_OK;
}

/* Hand out a complete frame at p and leave the framer ready for the next. */
static void emit(struct bt_framer *f, struct bt_frame *out,
		 const uint8_t *p, size_t n)
{
	out->p = p;
	out->len = n;
	if (f->state == FR_HS) {
		out->kind = BT_FRAME_HANDSHAKE;
		bt_handshake_parse(p, n, &out->hs); /* whole: cannot fail */
		f->state = FR_MSG;
	} else {
		out->kind = BT_FRAME_MSG;
		out->declared_len = bt_load_u32be(p);
	}
	f->have = 0;
	f->need = 0;
}

long bt_framer_feed(struct bt_framer *f, const uint8_t *data, size_t len,
		    struct bt_frame *out)
{
	size_t used = 0, hdr, take, sz;
	uint64_t at;
	int rc;

	memset(out, 0, sizeof *out);
	if (f->state == FR_ERR || f->state == 0) {
		if (f->state == 0)    /* zeroed, never initialised */
			return fail(f, out, BT_EINVAL, "framer not initialised",
				    0, 0);
		out->why = f->err_why;
		out->declared_len = f->err_declared;
		out->offset = f->err_offset;
		return f->err;
	}
	hdr = f->state == FR_HS ? 1 : 4;
	at = f->offset - f->have;     /* start of the frame in progress */
	out->offset = at;

	/* Fast path: the whole frame is in data; return it in place. */
	if (f->have == 0 && len >= hdr) {
		if ((rc = frame_size(f, data, out, at, &sz)) != BT_OK)
			return rc;
		if (len >= sz) {
			emit(f, out, data, sz);
			f->offset += sz;
			return (long)sz;
		}
	}

	/* Slow path: assemble in buf.  First the header, then the rest. */
	if (f->need == 0) {
		take = hdr - f->have < len ? hdr - f->have : len;
		if (take)
			memcpy(f->buf + f->have, data, take);
		f->have += take;
		used += take;
		if (f->have < hdr) {
			f->offset += used;
			return (long)used;
		}
		if ((rc = frame_size(f, f->buf, out, at, &sz)) != BT_OK)
			return rc;
		if (sz > f->cap)      /* init guarantees otherwise */
			return fail(f, out, BT_ENOSPC,
				    "framer buffer smaller than its cap", 0, at);
		f->need = sz;
	}
	take = f->need - f->have < len - used ? f->need - f->have : len - used;
	if (take)
		memcpy(f->buf + f->have, data + used, take);
	f->have += take;
	used += take;
	f->offset += used;
	if (f->have == f->need)
		emit(f, out, f->buf, f->need);
	return (long)used;
}

size_t bt_framer_partial(const struct bt_framer *f, size_t *need)
{
	if (need)
		*need = f->need;
	return f->have;
}
