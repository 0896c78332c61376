/* print.c — the one printer (see print.h for the formats).
 *
 * Every record is built from out.h field calls: a call with a label prints
 * in text mode, a call with a key in JSON mode, so the two forms cannot
 * drift apart.  Peer bytes reach the output only through bt_out_bytes, or
 * as text that bt_escape_text / peerid.h already escaped (safe_str). */
#include "print.h"
#include "trk.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ext.h"
#include "wire.h"

/* ---- Problems: the printer's remarks, emitted last ---------------------- */

#define NPROB    12
#define PROB_LEN 200

struct probs {
	int n;
	char s[NPROB][PROB_LEN];
};

/* Arguments are numbers, static rules, or text already escaped. */
__attribute__((format(printf, 2, 3)))
static void prob(struct probs *p, const char *fmt, ...)
{
	va_list ap;

	if (p->n >= NPROB) {
		/* Say that something is missing rather than drop it silently. */
		snprintf(p->s[NPROB - 1], PROB_LEN, "more problems not shown");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(p->s[p->n++], PROB_LEN, fmt, ap);
	va_end(ap);
}

/* s is text this library wrote or already escaped: printed as is in text
 * mode, so escapes like \x1b are not doubled; JSON escapes it like any
 * string (a backslash becomes \\, decoding to what the text shows). */
static void safe_str(struct bt_out *o, const char *key, const char *label,
		     const char *s)
{
	if (o->json) {
		bt_out_str(o, key, NULL, s);
	} else if (label) {
		bt_out_text(o, label);
		bt_out_text(o, s);
	}
}

/* A number in text mode only (JSON has it under its own key already). */
static void text_u64(struct bt_out *o, const char *pre, uint64_t v,
		     const char *post)
{
	char b[32];

	if (o->json)
		return;
	snprintf(b, sizeof b, "%" PRIu64, v);
	bt_out_text(o, pre);
	bt_out_text(o, b);
	bt_out_text(o, post);
}

static void put_probs(struct bt_out *o, const struct probs *p)
{
	if (p->n == 0)
		return;
	bt_out_arr_begin(o, "problems", NULL);
	for (int i = 0; i < p->n; i++)
		safe_str(o, NULL, " !! ", p->s[i]);
	bt_out_arr_end(o);
}

/* A quoted peer string: the label carries the opening quote. */
static void qbytes(struct bt_out *o, const char *key, const char *label,
		   const void *p, size_t n)
{
	bt_out_bytes(o, key, label, p, n);
	if (label)
		bt_out_text(o, "'");
}

static void put_ip(struct bt_out *o, const char *key, const char *label,
		   const struct bt_peer_addr *a)
{
	char b[BT_ADDR_STRLEN];
	bt_out_str(o, key, label, bt_addr_ip_fmt(a, b, sizeof b));
}

/* ---- Context ------------------------------------------------------------ */

void bt_print_ctx_init(struct bt_print_ctx *c)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < 2; i++)
		c->side[i].metadata_size = c->side[i].reqq = -1;
}

static int side_of(enum bt_dir d)
{
	return d == BT_DIR_IN ? 1 : 0;
}

static void learn_hs(struct bt_print_side *s, const struct bt_handshake *hs)
{
	s->have_hs = true;
	memcpy(s->reserved, hs->reserved, 8);
	memcpy(s->peer_id, hs->peer_id, 20);
	bt_peerid_client(hs->peer_id, s->client, sizeof s->client);
}

/* One "m" entry: BEP 10 makes later handshakes additive, id 0 disables. */
static void learn_m(struct bt_print_side *s, const struct bt_ext_m *m)
{
	size_t len = m->name.len < BT_PRINT_NAME_MAX ? m->name.len : BT_PRINT_NAME_MAX;
	bool cut = m->name.len > BT_PRINT_NAME_MAX;
	size_t i;

	if (!m->valid || !m->name.p)
		return;
	for (i = 0; i < s->next; i++)
		if (s->ext[i].len == len && s->ext[i].cut == cut &&
		    memcmp(s->ext[i].name, m->name.p, len) == 0)
			break;
	if (m->id == 0) {
		if (i < s->next)
			s->ext[i] = s->ext[--s->next];
		return;
	}
	if (i == s->next) {
		if (s->next == BT_PRINT_EXT_MAX)
			return;
		s->next++;
		s->ext[i].len = (uint8_t)len;
		s->ext[i].cut = cut;
		memcpy(s->ext[i].name, m->name.p, len);
	}
	s->ext[i].id = (uint8_t)m->id;
}

static void learn_ext(struct bt_print_side *s, const struct bt_ext_hs *h)
{
	s->have_ext = true;
	if (h->have & BT_EXT_HAVE_V) {
		s->v_len = h->v.len < BT_PRINT_V_MAX ? h->v.len : BT_PRINT_V_MAX;
		memcpy(s->v, h->v.p, s->v_len);
	}
	if (h->have & BT_EXT_HAVE_METADATA_SIZE)
		s->metadata_size = h->metadata_size;
	if (h->have & BT_EXT_HAVE_REQQ)
		s->reqq = h->reqq;
	for (size_t i = 0; i < h->nm; i++)
		learn_m(s, &h->m[i]);
}

static bool is_ext_hs(const struct bt_event *ev)
{
	return ev->kind == BT_EV_MSG && ev->msg &&
	       ev->msg->kind == BT_MSG_EXTENDED &&
	       ev->msg->u.ext.id == BT_EXT_ID_HANDSHAKE;
}

void bt_print_ctx_learn(struct bt_print_ctx *c, const struct bt_event *ev)
{
	struct bt_ext_hs h;

	if (ev->kind == BT_EV_HANDSHAKE && ev->hs)
		learn_hs(&c->side[side_of(ev->dir)], ev->hs);
	else if (is_ext_hs(ev) &&
		 bt_ext_hs_parse(&h, ev->msg->u.ext.payload, ev->msg->u.ext.len,
				 NULL) == BT_OK)
		learn_ext(&c->side[side_of(ev->dir)], &h);
}

const uint8_t *bt_print_ext_name(const struct bt_print_ctx *c, enum bt_dir dir,
				 uint8_t id, size_t *len)
{
	/* The receiver's own "m" numbers what it receives. */
	const struct bt_print_side *s = &c->side[1 - side_of(dir)];

	for (size_t i = 0; i < s->next; i++)
		if (s->ext[i].id == id) {
			*len = s->ext[i].len;
			return s->ext[i].name;
		}
	*len = 0;
	return NULL;
}

/* ---- Bitfields ---------------------------------------------------------- */

static unsigned pop8(uint8_t b)
{
	unsigned n = 0;
	for (; b; b &= (uint8_t)(b - 1))
		n++;
	return n;
}

uint64_t bt_bitfield_count(const uint8_t *bits, size_t nbytes,
			   uint64_t piece_count, uint64_t *spare_set)
{
	uint64_t set = 0, spare = 0;

	for (size_t i = 0; i < nbytes; i++) {
		uint64_t first = (uint64_t)i * 8;   /* piece of the high bit */
		if (piece_count == 0 || first + 8 <= piece_count) {
			set += pop8(bits[i]);
		} else if (first >= piece_count) {
			spare += pop8(bits[i]);
		} else {
			/* Pieces come high bit first: keep the top bits. */
			uint8_t mask = (uint8_t)(0xffu << (8 - (piece_count - first)));
			set += pop8(bits[i] & mask);
			spare += pop8(bits[i] & (uint8_t)~mask);
		}
	}
	if (spare_set)
		*spare_set = spare;
	return set;
}

/* Bit strings beyond this many bits end in "..." (2^16: a 1 GiB torrent
 * of 16 KiB pieces); the line is for eyes, and the cap bounds the
 * allocation whatever length the peer declared. */
#define BITSTRING_MAX 65536u

static void put_bitstring(struct bt_out *o, const uint8_t *bits, size_t nbytes)
{
	uint64_t nbits = (uint64_t)nbytes * 8;
	size_t n = nbits > BITSTRING_MAX ? BITSTRING_MAX : (size_t)nbits, i;
	char *s = malloc(n + 4);

	if (!s)
		return;
	for (i = 0; i < n; i++)
		s[i] = (char)('0' + (bits[i / 8] >> (7 - i % 8) & 1));
	if (n < nbits)
		memcpy(s + n, "...", 3), n += 3;
	bt_out_bytes(o, "bitstring", " bits ", s, n);
	free(s);
}

static void put_bitfield(struct bt_out *o, const struct bt_print_ctx *c,
			 const struct bt_msg *m, struct probs *p)
{
	const uint8_t *bits = m->u.bitfield.bits;
	size_t nb = m->u.bitfield.len;
	uint64_t nbits = (uint64_t)nb * 8, pc = c->piece_count, spare = 0, have;

	if (pc) {
		have = bt_bitfield_count(bits, nb, pc, &spare);
		bt_out_uint(o, "have", " ", have);
		bt_out_uint(o, "pieces", "/", pc);
		bt_out_text(o, " pieces");
		/* Floor, so "100.0%" means all of them. */
		bt_out_fixed(o, "percent", " (", (int64_t)(have * 1000 / pc), 1);
		bt_out_text(o, "%)");
		bt_out_uint(o, "bits", NULL, nbits);
		bt_out_uint(o, "spare_set", NULL, spare);
		if (nb != (pc + 7) / 8)
			prob(p, "bitfield is %zu bytes, expected %" PRIu64 " for %"
			     PRIu64 " pieces", nb, (pc + 7) / 8, pc);
		if (spare)
			prob(p, "%" PRIu64 " spare bit%s set past piece count %" PRIu64,
			     spare, spare == 1 ? "" : "s", pc);
	} else {
		have = bt_bitfield_count(bits, nb, 0, NULL);
		bt_out_uint(o, "have", " ", have);
		bt_out_null(o, "pieces", NULL);
		bt_out_null(o, "percent", NULL);
		bt_out_uint(o, "bits", " of ", nbits);
		bt_out_text(o, " bits set");
		bt_out_null(o, "spare_set", NULL);
	}
	if (c->verbosity >= 2)
		put_bitstring(o, bits, nb);
}

/* ---- Blocks and indexes ------------------------------------------------- */

static void check_index(const struct bt_print_ctx *c, uint32_t index,
			struct probs *p)
{
	if (c->piece_count && index >= c->piece_count)
		prob(p, "index %" PRIu32 " out of range (%" PRIu64 " pieces)",
		     index, c->piece_count);
}

/* Size of piece index, 0 if unknown (the last piece needs total_size). */
static uint64_t piece_size(const struct bt_print_ctx *c, uint32_t index)
{
	uint64_t pl = c->piece_length, pc = c->piece_count;

	if (!pl || (pc && index >= pc))
		return 0;
	if (pc && c->total_size && index == pc - 1 &&
	    c->total_size > pl * (pc - 1) && c->total_size <= pl * pc)
		return c->total_size - pl * (pc - 1);
	return pl;
}

static void check_block(const struct bt_print_ctx *c, uint32_t index,
			uint32_t begin, uint64_t length, struct probs *p)
{
	uint64_t ps = piece_size(c, index);

	check_index(c, index, p);
	if (ps && (uint64_t)begin + length > ps)
		prob(p, "block %" PRIu32 "+%" PRIu64 " ends past the piece's %"
		     PRIu64 " bytes", begin, length, ps);
}

static void put_block(struct bt_out *o, const struct bt_print_ctx *c,
		      const struct bt_msg *m, struct probs *p)
{
	uint32_t len = m->u.req.length;

	bt_out_uint(o, "index", " index ", m->u.req.index);
	bt_out_uint(o, "begin", " begin ", m->u.req.begin);
	bt_out_uint(o, "length", " length ", len);
	check_block(c, m->u.req.index, m->u.req.begin, len, p);
	if (len > BT_BLOCK_LEN)
		prob(p, "length %" PRIu32 " > %u: most clients drop peers asking "
		     "for more than 16 KiB", len, BT_BLOCK_LEN);
	else if (len == 0)
		prob(p, "zero-length block");
}

static void put_hash_req(struct bt_out *o, const struct bt_hash_req *h)
{
	bt_out_hex(o, "pieces_root", " pieces_root ", h->pieces_root, 32);
	bt_out_uint(o, "base_layer", " base_layer ", h->base_layer);
	bt_out_uint(o, "index", " index ", h->index);
	bt_out_uint(o, "length", " length ", h->length);
	bt_out_uint(o, "proof_layers", " proof_layers ", h->proof_layers);
}

/* ---- Extended messages -------------------------------------------------- */

struct bit_name {
	unsigned bit;
	const char *text;
};

static void bit_probs(struct probs *p, unsigned bits, const struct bit_name *t)
{
	for (; t->text; t++)
		if (bits & t->bit)
			prob(p, "%s", t->text);
}

static const struct bit_name ext_hs_probs[] = {
	{ BT_EXT_P_NONCANON, "non-canonical bencode (unsorted keys or leading zeros)" },
	{ BT_EXT_P_TRAILING, "bytes after the dictionary" },
	{ BT_EXT_P_M_TYPE, "m is not a dictionary" },
	{ BT_EXT_P_M_ID, "an m value is not an integer 0..255" },
	{ BT_EXT_P_M_DUPID, "two m names share an id" },
	{ BT_EXT_P_V, "v is not a string" },
	{ BT_EXT_P_P, "p is not a port 1..65535" },
	{ BT_EXT_P_REQQ, "reqq is not a positive integer" },
	{ BT_EXT_P_YOURIP, "yourip is not 4 or 16 bytes" },
	{ BT_EXT_P_IPV4, "ipv4 is not 4 bytes" },
	{ BT_EXT_P_IPV6, "ipv6 is not 16 bytes" },
	{ BT_EXT_P_METADATA_SIZE, "metadata_size is not 1..64 MiB" },
	{ BT_EXT_P_UPLOAD_ONLY, "upload_only is not 0 or 1" },
	{ BT_EXT_P_COMPLETE_AGO, "complete_ago is below -1" },
	{ BT_EXT_P_E, "e is not 0 or 1" },
	{ 0, NULL },
};

static void put_ext_hs(struct bt_out *o, const struct bt_ext_hs *h,
		       struct probs *p)
{
	if (h->have & BT_EXT_HAVE_M) {
		bt_out_arr_begin(o, "m", " m ");
		if (h->nm == 0)
			bt_out_text(o, "-");
		for (size_t i = 0; i < h->nm; i++) {
			const struct bt_ext_m *m = &h->m[i];
			bt_out_obj_begin(o, NULL, NULL);
			bt_out_bytes(o, "name", i ? "," : "", m->name.p, m->name.len);
			if (m->valid)
				bt_out_int(o, "id", "=", m->id);
			else
				bt_out_null(o, "id", "=");
			bt_out_obj_end(o);
		}
		bt_out_arr_end(o);
	}
	if (h->have & BT_EXT_HAVE_V)
		qbytes(o, "v", " v '", h->v.p, h->v.len);
	if (h->have & BT_EXT_HAVE_P)
		bt_out_int(o, "p", " p ", h->p);
	if (h->have & BT_EXT_HAVE_REQQ)
		bt_out_int(o, "reqq", " reqq ", h->reqq);
	if (h->have & BT_EXT_HAVE_YOURIP)
		put_ip(o, "yourip", " yourip ", &h->yourip);
	if (h->have & BT_EXT_HAVE_IPV4)
		put_ip(o, "ipv4", " ipv4 ", &h->ipv4);
	if (h->have & BT_EXT_HAVE_IPV6)
		put_ip(o, "ipv6", " ipv6 ", &h->ipv6);
	if (h->have & BT_EXT_HAVE_METADATA_SIZE)
		bt_out_int(o, "metadata_size", " metadata_size ", h->metadata_size);
	if (h->have & BT_EXT_HAVE_UPLOAD_ONLY)
		bt_out_int(o, "upload_only", " upload_only ", h->upload_only);
	if (h->have & BT_EXT_HAVE_COMPLETE_AGO)
		bt_out_int(o, "complete_ago", " complete_ago ", h->complete_ago);
	if (h->have & BT_EXT_HAVE_E)
		bt_out_int(o, "e", " e ", h->e);
	bit_probs(p, h->problems, ext_hs_probs);
	if (h->problems & BT_EXT_P_M_CAP)
		prob(p, "m has %zu entries, first %zu kept", h->m_total, h->nm);
}

static const struct bit_name utm_probs[] = {
	{ BT_UTM_P_NONCANON, "non-canonical bencode (unsorted keys or leading zeros)" },
	{ BT_UTM_P_UNKNOWN_TYPE, "unknown msg_type: BEP 9 says ignore it" },
	{ BT_UTM_P_TRAILING, "bytes after a request or reject" },
	{ BT_UTM_P_HUGE, "total_size over 64 MiB" },
	{ 0, NULL },
};

static void put_utm(struct bt_out *o, const struct bt_print_ctx *c,
		    enum bt_dir dir, const struct bt_utm *u, struct probs *p)
{
	static const char *const types[] = { "request", "data", "reject" };
	bool known = u->msg_type >= 0 && u->msg_type <= 2;

	bt_out_str(o, "type", " ", known ? types[u->msg_type] : "unknown");
	bt_out_int(o, "msg_type", known ? NULL : " msg_type ", u->msg_type);
	bt_out_int(o, "piece", " piece ", u->piece);
	if (u->have & BT_UTM_HAVE_TOTAL_SIZE)
		bt_out_int(o, "total_size", " total_size ", u->total_size);
	if (u->msg_type == BT_UTM_DATA)
		bt_out_uint(o, "length", " length ", u->data.len);
	bit_probs(p, u->problems, utm_probs);
	if (u->msg_type == BT_UTM_REQUEST) {
		/* The receiver holds the metadata it announced. */
		int64_t ms = c->side[1 - side_of(dir)].metadata_size;
		if (ms > 0 && (uint64_t)u->piece >= bt_utm_pieces((uint64_t)ms))
			prob(p, "piece %" PRId64 " past the metadata's %" PRIu64
			     " pieces", u->piece, bt_utm_pieces((uint64_t)ms));
	}
}

static const struct bit_name pex_probs[] = {
	{ BT_PEX_P_NONCANON, "non-canonical bencode (unsorted keys or leading zeros)" },
	{ BT_PEX_P_TRAILING, "bytes after the dictionary" },
	{ BT_PEX_P_TYPE, "a peer list is not a string" },
	{ BT_PEX_P_EMPTY, "no added, added6, dropped or dropped6 list" },
	{ BT_PEX_P_FLAGS_LEN, "added.f length differs from the added count" },
	{ BT_PEX_P_FLAGS6_LEN, "added6.f length differs from the added6 count" },
	{ BT_PEX_P_RESERVED, "a flag byte has bits above 0x10" },
	{ BT_PEX_P_LEN(BT_PEX_ADDED), "added is not whole 6-byte entries" },
	{ BT_PEX_P_LEN(BT_PEX_DROPPED), "dropped is not whole 6-byte entries" },
	{ BT_PEX_P_LEN(BT_PEX_ADDED6), "added6 is not whole 18-byte entries" },
	{ BT_PEX_P_LEN(BT_PEX_DROPPED6), "dropped6 is not whole 18-byte entries" },
	{ 0, NULL },
};

static void put_pex(struct bt_out *o, const struct bt_print_ctx *c,
		    const struct bt_pex *x, struct probs *p)
{
	static const char *const keys[BT_PEX_NLISTS] = {
		"added_peers", "dropped_peers", "added6_peers", "dropped6_peers",
	};
	static const char *const labels[BT_PEX_NLISTS] = {
		" added ", " dropped ", " added6 ", " dropped6 ",
	};
	struct bt_peer_addr a;
	char b[BT_ADDR_STRLEN], fl[64];

	for (int l = 0; l < BT_PEX_NLISTS; l++) {
		size_t n = x->count[l];
		/* Text shows the lists that have entries; JSON all four. */
		bt_out_uint(o, bt_pex_list_name((enum bt_pex_list)l),
			    n ? labels[l] : NULL, n);
		if (c->verbosity < 1)
			continue;
		bt_out_arr_begin(o, keys[l], NULL);
		for (size_t i = 0; bt_pex_peer(x, (enum bt_pex_list)l, i, &a); i++) {
			bt_out_obj_begin(o, NULL, NULL);
			bt_out_str(o, "addr", " ", bt_addr_fmt(&a, b, sizeof b));
			if (a.flags) {
				bt_out_str(o, "flags", " (",
					   bt_pex_flags_str(a.flags, fl, sizeof fl));
				bt_out_text(o, ")");
			}
			bt_out_obj_end(o);
		}
		bt_out_arr_end(o);
	}
	bit_probs(p, x->problems, pex_probs);
}

static bool name_is(const uint8_t *name, size_t len, const char *s)
{
	return name && len == strlen(s) && memcmp(name, s, len) == 0;
}

/* Extension messages are numbered by the receiver's "m"; id 0 is always
 * the extended handshake. */
static void put_extended(struct bt_out *o, struct bt_print_ctx *c,
			 enum bt_dir dir, const struct bt_msg *m, struct probs *p)
{
	uint8_t id = m->u.ext.id;
	const uint8_t *pl = m->u.ext.payload, *name;
	size_t n = m->u.ext.len, nl;
	struct bt_be_err err = { 0 };
	int rc = BT_OK;
	char hex[8];

	bt_out_uint(o, "ext_id", NULL, id);
	if (id == BT_EXT_ID_HANDSHAKE) {
		name = (const uint8_t *)"handshake", nl = 9;
	} else if (!(name = bt_print_ext_name(c, dir, id, &nl)) &&
		   c->side[1 - side_of(dir)].have_ext) {
		prob(p, "id %u is not in the receiver's m dictionary", id);
	}
	if (name) {
		bt_out_bytes(o, "ext", " ", name, nl);
	} else {
		snprintf(hex, sizeof hex, "0x%02x", id);
		bt_out_str(o, "ext", " ", hex);
	}
	bt_out_uint(o, "ext_len", NULL, n);

	if (id == BT_EXT_ID_HANDSHAKE) {
		struct bt_ext_hs h;
		if ((rc = bt_ext_hs_parse(&h, pl, n, &err)) == BT_OK) {
			learn_ext(&c->side[side_of(dir)], &h);  /* parsed once */
			put_ext_hs(o, &h, p);
		}
	} else if (name_is(name, nl, "ut_metadata")) {
		struct bt_utm u;
		if ((rc = bt_utm_parse(&u, pl, n, &err)) == BT_OK)
			put_utm(o, c, dir, &u, p);
	} else if (name_is(name, nl, "ut_pex")) {
		struct bt_pex x;
		if ((rc = bt_pex_parse(&x, pl, n, &err)) == BT_OK)
			put_pex(o, c, &x, p);
	} else {
		text_u64(o, " ", n, " bytes");   /* named or not, not decoded */
	}
	if (rc != BT_OK)
		prob(p, "payload not decoded: %s at byte %zu",
		     err.rule ? err.rule : bt_strerror(rc), err.off);
}

/* ---- Messages ----------------------------------------------------------- */

static void put_msg(struct bt_out *o, struct bt_print_ctx *c, enum bt_dir dir,
		    const struct bt_msg *m, struct probs *p)
{
	char b[32];

	bt_out_str(o, "msg", "", bt_msg_name(m->id));
	if (m->kind != BT_MSG_KEEPALIVE)
		bt_out_int(o, "id", NULL, m->id);
	bt_out_uint(o, "len", NULL, m->len);

	switch (m->kind) {
	case BT_MSG_HAVE: case BT_MSG_SUGGEST: case BT_MSG_ALLOWED_FAST:
		bt_out_uint(o, "index", " index ", m->u.index);
		check_index(c, m->u.index, p);
		break;
	case BT_MSG_BITFIELD:
		put_bitfield(o, c, m, p);
		break;
	case BT_MSG_REQUEST: case BT_MSG_CANCEL: case BT_MSG_REJECT:
		put_block(o, c, m, p);
		break;
	case BT_MSG_PIECE:
		/* Never the data: only where it goes and how much. */
		bt_out_uint(o, "index", " index ", m->u.piece.index);
		bt_out_uint(o, "begin", " begin ", m->u.piece.begin);
		bt_out_uint(o, "length", " length ", m->u.piece.len);
		check_block(c, m->u.piece.index, m->u.piece.begin, m->u.piece.len, p);
		break;
	case BT_MSG_PORT:
		bt_out_uint(o, "port", " ", m->u.port);
		break;
	case BT_MSG_EXTENDED:
		put_extended(o, c, dir, m, p);
		break;
	case BT_MSG_HASH_REQUEST: case BT_MSG_HASH_REJECT:
		put_hash_req(o, &m->u.hash);
		break;
	case BT_MSG_HASHES:
		put_hash_req(o, &m->u.hashes.req);
		bt_out_uint(o, "hashes", " hashes ", m->u.hashes.len / 32);
		break;
	case BT_MSG_UNKNOWN:
		snprintf(b, sizeof b, " id 0x%02x", m->id < 0 ? 0 : m->id & 0xff);
		bt_out_text(o, b);
		bt_out_uint(o, "payload_len", " payload ", m->payload_len);
		bt_out_text(o, " bytes");
		break;
	default:                   /* no payload */
		break;
	}
}

/* Which payload sizes are a minimum rather than exact (wire.c's rules). */
static bool size_is_min(enum bt_msg_kind k)
{
	return k == BT_MSG_PIECE || k == BT_MSG_BITFIELD ||
	       k == BT_MSG_EXTENDED || k == BT_MSG_HASHES;
}

static void put_malformed(struct bt_out *o, const struct bt_print_ctx *c,
			  const struct bt_event *ev)
{
	const struct bt_msg *m = ev->msg;
	char b[64];

	bt_out_text(o, "malformed");
	if (!m) {
		/* A framing error: nothing after it in this stream is read. */
		uint32_t cap = c->frame_cap ? c->frame_cap : BT_FRAMER_DEFAULT_MAX;
		bt_out_str(o, "error", NULL, bt_strerror(ev->err));
		if (ev->err == BT_ETOOBIG) {
			bt_out_uint(o, "declared_len", " length prefix ", ev->declared_len);
			bt_out_uint(o, "cap", " exceeds cap ", cap);
		} else {
			bt_out_str(o, "why", " stream: ", ev->why ? ev->why : "?");
		}
		text_u64(o, " at stream offset ", ev->stream_off, "");
		if (ev->err == BT_ETOOBIG && ev->why)
			bt_out_str(o, "why", NULL, ev->why);
		return;
	}
	if (m->id < 0 && m->kind != BT_MSG_KEEPALIVE) {
		/* bt_msg_parse stopped before the id: the frame itself. */
		bt_out_uint(o, "len", NULL, m->len);
		bt_out_str(o, "why", " message: ", m->bad ? m->bad : "?");
		return;
	}
	bt_out_str(o, "msg", " ", bt_msg_name(m->id));
	bt_out_int(o, "id", NULL, m->id);
	bt_out_uint(o, "len", NULL, m->len);
	bt_out_uint(o, "payload_len", " (", m->payload_len);
	bt_out_text(o, m->payload_len == 1 ? " byte" : " bytes");
	if (m->kind == BT_MSG_HASHES && m->payload_len >= 48) {
		bt_out_text(o, ", expected 48 + 32*n)");
	} else {
		snprintf(b, sizeof b, ", expected %s",
			 size_is_min(m->kind) ? "at least " : "");
		bt_out_text(o, b);
		bt_out_uint(o, "expected", "", m->expect);
		bt_out_text(o, ")");
	}
	if (m->bad)
		bt_out_str(o, "why", NULL, m->bad);
}

/* ---- Handshakes --------------------------------------------------------- */

/* raw: the handshake's bytes as sent (the event's), or NULL. */
static void hs_probs(const struct bt_print_ctx *c, const struct bt_handshake *hs,
		     const uint8_t *raw, size_t raw_len, struct probs *p)
{
	char esc[80];
	size_t z, k;
	uint8_t all[48];

	/* BAD_PSTRLEN means the first byte is not 19.  With a protocol string
	 * of 19 bytes that is not its length that is wrong but its place, or
	 * the byte itself: say which, from the bytes. */
	if ((hs->problems & BT_HS_BAD_PSTRLEN) && hs->pstrlen != BT_PSTR_LEN)
		prob(p, "pstrlen %zu is not %d", hs->pstrlen, BT_PSTR_LEN);
	else if ((hs->problems & BT_HS_BAD_PSTRLEN) && raw && raw_len > BT_PSTR_LEN &&
		 hs->pstr == raw && raw[BT_PSTR_LEN] == BT_PSTR_LEN)
		prob(p, "the length byte (19) comes after the protocol string: "
		     "the first byte, %u, is read as the length", raw[0]);
	else if ((hs->problems & BT_HS_BAD_PSTRLEN) && raw && raw_len)
		prob(p, "first byte %u is not the protocol string's length, %d",
		     raw[0], BT_PSTR_LEN);
	else if (hs->problems & BT_HS_BAD_PSTRLEN)
		prob(p, "the first byte is not the protocol string's length, %d",
		     BT_PSTR_LEN);
	if ((hs->problems & BT_HS_BAD_PSTR) && hs->pstr)
		prob(p, "protocol string '%s' is not '" BT_PSTR "'%s",
		     bt_escape_text(hs->pstr, hs->pstrlen, esc, sizeof esc),
		     hs->problems & BT_HS_PSTR_CASE ? " (case)" : "");

	/* A client that sends a short peer id and pads it (or has it padded)
	 * with zeros: "pigeon" + 14 NULs. */
	for (z = 0; z < 20 && hs->peer_id[19 - z] == 0; z++)
		;
	if (z == 20)
		prob(p, "peer id is all zero bytes");
	else if (z >= 8)
		prob(p, "peer id is %zu bytes then %zu zero bytes: a short id padded?",
		     20 - z, z);

	if (!c->have_info_hash || memcmp(hs->info_hash, c->info_hash, 20) == 0)
		return;
	/* Look for the torrent's hash elsewhere in the 48 bytes after the
	 * protocol string: a handshake built with fields out of order. */
	memcpy(all, hs->reserved, 8);
	memcpy(all + 8, hs->info_hash, 20);
	memcpy(all + 28, hs->peer_id, 20);
	for (k = 0; k + 20 <= 48; k++)
		if (k != 8 && memcmp(all + k, c->info_hash, 20) == 0)
			break;
	if (k + 20 <= 48)
		prob(p, "info hash is not the torrent's, which starts at byte %zu "
		     "instead of %zu: fields out of order (no reserved bytes?)",
		     1 + hs->pstrlen + k, 1 + hs->pstrlen + 8);
	else
		prob(p, "info hash is not the torrent's");
}

static void put_handshake(struct bt_out *o, const struct bt_print_ctx *c,
			  const struct bt_handshake *hs, const uint8_t *raw,
			  size_t raw_len, struct probs *p)
{
	char rs[128], client[BT_PEERID_STRLEN];

	bt_out_text(o, "handshake");
	bt_out_uint(o, "pstrlen", NULL, hs->pstrlen);
	if (hs->pstr)
		qbytes(o, "pstr", " '", hs->pstr, hs->pstrlen);
	bt_out_hex(o, "reserved", NULL, hs->reserved, 8);
	bt_out_arr_begin(o, "reserved_bits", NULL);
	for (int b = 63; b >= 0; b--) {
		const char *nm;
		char num[16];
		if (!bt_reserved_has(hs->reserved, (unsigned)b))
			continue;
		if (!(nm = bt_reserved_name((unsigned)b))) {
			snprintf(num, sizeof num, "bit %d", b);
			nm = num;
		}
		bt_out_str(o, NULL, NULL, nm);
	}
	bt_out_arr_end(o);
	/* Text: bt_reserved_str's own names and numbers, nothing from the peer. */
	bt_out_text(o, " reserved ");
	bt_out_text(o, bt_reserved_str(hs->reserved, rs, sizeof rs));
	bt_out_hex(o, "info_hash", " info_hash ", hs->info_hash, 20);
	qbytes(o, "peer_id", " peer_id '", hs->peer_id, 20);
	bt_peerid_client(hs->peer_id, client, sizeof client);
	/* peerid.h's "unknown (<escaped id>)" would repeat the peer id. */
	if (strncmp(client, "unknown", 7) == 0)
		client[7] = '\0';
	safe_str(o, "client", " (", client);
	bt_out_text(o, ")");
	hs_probs(c, hs, raw, raw_len, p);
}

/* ---- Events ------------------------------------------------------------- */

static void put_time(struct bt_out *o, const struct bt_print_ctx *c, uint64_t t)
{
	char num[32], col[40];

	if (c->time == BT_PRINT_TIME_NONE)
		return;
	if (o->json) {
		bt_out_fixed(o, "t", NULL, (int64_t)t, 3);
		return;
	}
	snprintf(num, sizeof num, "%" PRIu64 ".%03u", t / 1000, (unsigned)(t % 1000));
	snprintf(col, sizeof col, "%9s ", num);
	bt_out_text(o, col);
}

static void put_why(struct bt_out *o, const struct bt_event *ev)
{
	if (ev->why)
		bt_out_str(o, "why", " ", ev->why);
}

void bt_print_event(struct bt_out *o, struct bt_print_ctx *c,
		    const struct bt_event *ev)
{
	struct probs p;
	bool in = ev->dir == BT_DIR_IN;

	p.n = 0;
	if (ev->kind == BT_EV_HANDSHAKE && ev->hs)
		learn_hs(&c->side[side_of(ev->dir)], ev->hs);
	/* Extended handshakes are learned in put_extended, parsed once. */

	bt_out_begin(o);
	put_time(o, c, ev->t_us);
	if (c->peer) {
		bt_out_str(o, "peer", "", c->peer);
		bt_out_text(o, " ");
	}
	bt_out_str(o, "dir", NULL, in ? "in" : "out");
	bt_out_text(o, in ? "<- " : "-> ");
	bt_out_str(o, "kind", NULL, bt_ev_kind_name(ev->kind));

	switch (ev->kind) {
	case BT_EV_HANDSHAKE:
		bt_out_uint(o, "offset", NULL, ev->stream_off);
		if (ev->hs)
			put_handshake(o, c, ev->hs, ev->raw, ev->raw_len, &p);
		else
			bt_out_text(o, "handshake");
		break;
	case BT_EV_MSG:
		bt_out_uint(o, "offset", NULL, ev->stream_off);
		if (ev->msg)
			put_msg(o, c, ev->dir, ev->msg, &p);
		else
			bt_out_text(o, "msg");
		break;
	case BT_EV_MALFORMED:
		bt_out_uint(o, "offset", NULL, ev->stream_off);
		put_malformed(o, c, ev);
		break;
	case BT_EV_CONNECT_FAILED:
		bt_out_text(o, "connect failed");
		bt_out_int(o, "errno", NULL, ev->err);
		/* strerror: the C locale's text in a tool that never calls
		 * setlocale; its static buffer is used only for unknown codes. */
		bt_out_str(o, "error", ": ", strerror(ev->err));
		put_why(o, ev);
		break;
	case BT_EV_GAP:
		bt_out_uint(o, "offset", NULL, ev->stream_off);
		bt_out_uint(o, "gap_len", "gap ", ev->gap_len);
		text_u64(o, " bytes missing at stream offset ", ev->stream_off, "");
		put_why(o, ev);
		break;
	case BT_EV_ENCRYPTED:
		bt_out_text(o, "encrypted (not plain BitTorrent; MSE/PE?)");
		put_why(o, ev);
		break;
	default:   /* connecting, connected, closed, reset, timeout, note */
		bt_out_text(o, bt_ev_kind_name(ev->kind));
		put_why(o, ev);
		break;
	}
	put_probs(o, &p);
	bt_out_end(o);
}

/* ---- Tracker answers ---------------------------------------------------- */

static void put_head_trk(struct bt_out *o, const char *what, const char *url)
{
	bt_out_str(o, "kind", "", what);
	bt_out_str(o, "url", " ", url ? url : "");
}

/* A count the tracker may leave out: null / "-" when absent. */
static void put_count(struct bt_out *o, const char *key, const char *label,
		      int64_t v)
{
	if (v == BT_TRK_ABSENT)
		bt_out_null(o, key, label);
	else
		bt_out_int(o, key, label, v);
}

static void tolerated_probs(struct probs *p, unsigned tol, size_t trailing)
{
	static const struct bit_name t[] = {
		{ BT_BE_TOL_UNSORTED, "dictionary keys not sorted" },
		{ BT_BE_TOL_DUPKEY, "duplicate dictionary keys" },
		{ BT_BE_TOL_LEADZERO, "leading zeros in a number" },
		{ BT_BE_TOL_NEGZERO, "-0 in an integer" },
		{ 0, NULL },
	};
	bit_probs(p, tol, t);
	if (trailing)
		prob(p, "%zu bytes after the bencoded body", trailing);
}

void bt_print_trk_announce_fields(struct bt_out *o, const struct bt_print_ctx *c,
				  const char *url, const struct bt_trk_resp *r)
{
	static const char *const forms[] = { "none", "compact", "dict" };
	struct probs p;

	(void)c;
	p.n = 0;
	put_head_trk(o, "announce", url);
	if (r->failure)
		qbytes(o, "failure", " failure '", r->failure, r->failure_len);
	if (r->warning)
		qbytes(o, "warning", " warning '", r->warning, r->warning_len);
	if (r->failure) {
		/* BEP 3: nothing else counts; a retry interval may (BEP 31). */
		if (r->interval != BT_TRK_ABSENT)
			bt_out_int(o, "interval", " interval ", r->interval);
		if (r->min_interval != BT_TRK_ABSENT)
			bt_out_int(o, "min_interval", " min_interval ", r->min_interval);
		tolerated_probs(&p, r->tolerated, r->trailing);
		put_probs(o, &p);
		return;
	}
	put_count(o, "interval", " interval ", r->interval);
	put_count(o, "min_interval", " min_interval ", r->min_interval);
	put_count(o, "seeders", " seeders ", r->complete);
	put_count(o, "leechers", " leechers ", r->incomplete);
	put_count(o, "completed", " completed ", r->downloaded);
	if (r->tracker_id)
		qbytes(o, "tracker_id", " tracker_id '", r->tracker_id, r->tracker_id_len);
	if (r->has_external_ip)
		put_ip(o, "external_ip", " external_ip ", &r->external_ip);
	else if (r->external_raw)
		prob(&p, "external ip is %zu bytes, not 4 or 16", r->external_raw_len);
	bt_out_uint(o, "npeers", " peers ", r->npeers);
	bt_out_uint(o, "npeers6", NULL, r->npeers6);
	bt_out_str(o, "peers_form", NULL,
		   r->peers_form >= 0 && r->peers_form <= 2 ? forms[r->peers_form] : "?");
	if (r->peers_form == BT_TRK_PEERS_NONE && !r->has_peers6)
		prob(&p, "no peers key");
	tolerated_probs(&p, r->tolerated, r->trailing);
	put_probs(o, &p);
}

void bt_print_trk_peers(struct bt_out *o, const struct bt_print_ctx *c,
			const struct bt_peer_addr *peers,
			const struct bt_trk_peer_info *info, size_t n)
{
	char b[BT_ADDR_STRLEN], client[BT_PEERID_STRLEN];

	(void)c;
	bt_out_arr_begin(o, "peers", NULL);
	for (size_t i = 0; i < n; i++) {
		const struct bt_trk_peer_info *pi = info ? &info[i] : NULL;
		bt_out_text(o, "\n  ");
		bt_out_obj_begin(o, NULL, NULL);
		if (peers[i].family == 4 || peers[i].family == 6) {
			bt_out_str(o, "addr", "", bt_addr_fmt(&peers[i], b, sizeof b));
		} else if (pi && pi->is_host && pi->ip) {
			bt_out_bytes(o, "host", "", pi->ip, pi->ip_len);
			bt_out_uint(o, "port", ":", peers[i].port);
		} else {
			bt_out_null(o, "addr", "");
		}
		if (pi && pi->id) {
			qbytes(o, "peer_id", " peer_id '", pi->id, pi->id_len);
			if (pi->id_len == BT_PEERID_LEN) {
				bt_peerid_client(pi->id, client, sizeof client);
				if (strncmp(client, "unknown", 7) == 0)
					client[7] = '\0';
				safe_str(o, "client", " (", client);
				bt_out_text(o, ")");
			}
		}
		bt_out_obj_end(o);
	}
	bt_out_arr_end(o);
}

void bt_print_trk_announce(struct bt_out *o, const struct bt_print_ctx *c,
			   const char *url, const struct bt_trk_resp *r,
			   const struct bt_peer_addr *peers,
			   const struct bt_trk_peer_info *info, size_t n)
{
	bt_out_begin(o);
	bt_print_trk_announce_fields(o, c, url, r);
	if (!r->failure)
		bt_print_trk_peers(o, c, peers, info, n);
	bt_out_end(o);
}

void bt_print_udp_announce_fields(struct bt_out *o, const struct bt_print_ctx *c,
				  const char *url, const struct bt_udp_announce_resp *r)
{
	(void)c;
	put_head_trk(o, "announce", url);
	bt_out_uint(o, "interval", " interval ", r->interval);
	bt_out_uint(o, "seeders", " seeders ", r->seeders);
	bt_out_uint(o, "leechers", " leechers ", r->leechers);
	bt_out_uint(o, "npeers", " peers ", r->npeers);
}

void bt_print_udp_announce(struct bt_out *o, const struct bt_print_ctx *c,
			   const char *url, const struct bt_udp_announce_resp *r,
			   const struct bt_peer_addr *peers, size_t n)
{
	bt_out_begin(o);
	bt_print_udp_announce_fields(o, c, url, r);
	bt_print_trk_peers(o, c, peers, NULL, n);
	bt_out_end(o);
}

void bt_print_trk_scrape_fields(struct bt_out *o, const struct bt_print_ctx *c,
				const char *url, const struct bt_trk_scrape_resp *r)
{
	struct probs p;

	(void)c;
	p.n = 0;
	put_head_trk(o, "scrape", url);
	if (r->failure)
		qbytes(o, "failure", " failure '", r->failure, r->failure_len);
	else
		bt_out_uint(o, "nfiles", " files ", r->nfiles);
	tolerated_probs(&p, r->tolerated, r->trailing);
	put_probs(o, &p);
}

void bt_print_trk_scrape_files(struct bt_out *o, const struct bt_print_ctx *c,
			       const struct bt_trk_scrape_resp *r)
{
	struct bt_trk_scrape_entry e;
	size_t it = 0;

	(void)c;
	bt_out_arr_begin(o, "files", NULL);
	while (!r->failure && bt_trk_scrape_next(r, &it, &e)) {
		bt_out_text(o, "\n  ");
		bt_out_obj_begin(o, NULL, NULL);
		bt_out_hex(o, "info_hash", "", e.info_hash, 20);
		put_count(o, "seeders", " seeders ", e.complete);
		put_count(o, "leechers", " leechers ", e.incomplete);
		put_count(o, "completed", " completed ", e.downloaded);
		if (e.name)
			qbytes(o, "name", " name '", e.name, e.name_len);
		bt_out_obj_end(o);
	}
	bt_out_arr_end(o);
}

void bt_print_trk_scrape(struct bt_out *o, const struct bt_print_ctx *c,
			 const char *url, const struct bt_trk_scrape_resp *r)
{
	bt_out_begin(o);
	bt_print_trk_scrape_fields(o, c, url, r);
	bt_print_trk_scrape_files(o, c, r);
	bt_out_end(o);
}

void bt_print_udp_scrape_fields(struct bt_out *o, const struct bt_print_ctx *c,
				const char *url, size_t nhashes, size_t n)
{
	struct probs p;

	(void)c;
	p.n = 0;
	put_head_trk(o, "scrape", url);
	bt_out_uint(o, "nfiles", " files ", n);
	if (n != nhashes)
		prob(&p, "tracker answered %zu entries for %zu info-hashes", n, nhashes);
	put_probs(o, &p);
}

void bt_print_udp_scrape_files(struct bt_out *o, const struct bt_print_ctx *c,
			       const uint8_t (*hashes)[20], size_t nhashes,
			       const struct bt_udp_scrape_entry *e, size_t n)
{
	(void)c;
	bt_out_arr_begin(o, "files", NULL);
	for (size_t i = 0; i < n && i < nhashes; i++) {
		bt_out_text(o, "\n  ");
		bt_out_obj_begin(o, NULL, NULL);
		bt_out_hex(o, "info_hash", "", hashes[i], 20);
		bt_out_uint(o, "seeders", " seeders ", e[i].seeders);
		bt_out_uint(o, "leechers", " leechers ", e[i].leechers);
		bt_out_uint(o, "completed", " completed ", e[i].completed);
		bt_out_obj_end(o);
	}
	bt_out_arr_end(o);
}

void bt_print_udp_scrape(struct bt_out *o, const struct bt_print_ctx *c,
			 const char *url, const uint8_t (*hashes)[20], size_t nhashes,
			 const struct bt_udp_scrape_entry *e, size_t n)
{
	bt_out_begin(o);
	bt_print_udp_scrape_fields(o, c, url, nhashes, n);
	bt_print_udp_scrape_files(o, c, hashes, nhashes, e, n);
	bt_out_end(o);
}

void bt_print_trk_failure_fields(struct bt_out *o, const struct bt_print_ctx *c,
				 const char *what, const char *url,
				 const uint8_t *msg, size_t len)
{
	(void)c;
	put_head_trk(o, what, url);
	qbytes(o, "failure", " failure '", msg ? msg : (const uint8_t *)"", msg ? len : 0);
}

void bt_print_trk_failure(struct bt_out *o, const struct bt_print_ctx *c,
			  const char *what, const char *url,
			  const uint8_t *msg, size_t len)
{
	bt_out_begin(o);
	bt_print_trk_failure_fields(o, c, what, url, msg, len);
	bt_out_end(o);
}

void bt_print_trk_error_fields(struct bt_out *o, const struct bt_print_ctx *c,
			       const char *what, const char *url,
			       const struct bt_trk_err *e)
{
	(void)c;
	put_head_trk(o, what, url);
	bt_out_str(o, "error", " error ", bt_strerror(e->code));
	bt_out_str(o, "rule", ": ", e->rule ? e->rule : "?");
	bt_out_uint(o, "offset", " at byte ", e->off);
	if (e->value) {
		bt_out_uint(o, "value", " (value ", e->value);
		bt_out_text(o, ")");
	}
	if (e->problem)
		bt_out_str(o, "problem", NULL, bt_udp_problem_name(e->problem));
}

void bt_print_trk_error(struct bt_out *o, const struct bt_print_ctx *c,
			const char *what, const char *url,
			const struct bt_trk_err *e)
{
	bt_out_begin(o);
	bt_print_trk_error_fields(o, c, what, url, e);
	bt_out_end(o);
}

/* ---- a finished trk.h request ------------------------------------------ */

static void put_ms(struct bt_out *o, const char *key, const char *label, int64_t us)
{
	if (us < 0)
		bt_out_null(o, key, label);
	else
		bt_out_fixed(o, key, label, us, 3);
}

static void put_req_timing(struct bt_out *o, const struct bt_trk_req *r)
{
	const struct bt_trk_timing *t = &r->t;
	bool udp = r->scheme == BT_URL_UDP;

	bt_out_obj_begin(o, "timing", NULL);
	put_ms(o, "total_ms", " total ", t->total_us);
	bt_out_text(o, " ms (");
	put_ms(o, "dns_ms", "dns ", t->dns_us);
	put_ms(o, "connect_ms", udp ? NULL : " connect ", t->connect_us);
	put_ms(o, "tls_ms", udp || r->scheme != BT_URL_HTTPS ? NULL : " tls ", t->tls_us);
	put_ms(o, "first_byte_ms", udp ? NULL : " first_byte ", t->first_byte_us);
	put_ms(o, "udp_connect_ms", udp ? " connect_rtt " : NULL, t->udp_connect_us);
	put_ms(o, "udp_request_ms", !udp ? NULL :
	       r->kind == BT_TRK_SCRAPE ? " scrape_rtt " : " announce_rtt ", t->udp_request_us);
	bt_out_uint(o, "retries", udp ? " retries " : NULL, t->retries);
	bt_out_bool(o, "conn_id_reused", udp && t->conn_id_reused ? " conn_id_reused " : NULL,
		    t->conn_id_reused);
	bt_out_bool(o, "tcp_reused", NULL, t->tcp_reused);
	bt_out_uint(o, "redirects", t->redirects ? " redirects " : NULL, t->redirects);
	bt_out_text(o, ")");
	bt_out_obj_end(o);
}

/* Outcome of the request: protocol, ok, error, HTTP status, timings. */
static void put_req_outcome(struct bt_out *o, const struct bt_trk_req *r)
{
	bool ok = r->fail == BT_TRKF_OK;

	if (r->scheme)
		bt_out_str(o, "protocol", NULL, bt_url_scheme_name(r->scheme));
	else
		bt_out_null(o, "protocol", NULL);
	bt_out_bool(o, "ok", NULL, ok);
	if (ok) {
		bt_out_null(o, "error_kind", NULL);
		bt_out_null(o, "error", NULL);
	} else {
		bt_out_str(o, "error_kind", " error ", bt_trk_fail_name(r->fail));
		/* trk.h escaped msg for a terminal already: no second escape. */
		if (o->json)
			bt_out_str(o, "error", NULL, r->msg);
		else
			bt_out_text(o, ": "), bt_out_text(o, r->msg);
	}
	if (r->http_status)
		bt_out_int(o, "http_status", " http ", r->http_status);
	else
		bt_out_null(o, "http_status", NULL);
	put_req_timing(o, r);
}

void bt_print_trk_req_fields(struct bt_out *o, const struct bt_print_ctx *c,
			     const char *url, const struct bt_trk_req *r)
{
	bool udp = r->scheme == BT_URL_UDP, http = r->scheme && !udp;
	bool answered = r->fail == BT_TRKF_OK || (r->fail == BT_TRKF_FAILURE && http);
	const char *kind = r->kind == BT_TRK_ANNOUNCE ? "announce" : "scrape";

	if (r->kind == BT_TRK_ANNOUNCE && answered)
		bt_print_trk_announce_fields(o, c, url, &r->resp);
	else if (r->kind != BT_TRK_ANNOUNCE && http && answered)
		bt_print_trk_scrape_fields(o, c, url, &r->scrape);
	else if (r->kind != BT_TRK_ANNOUNCE && udp && r->udp_scrape)
		bt_print_udp_scrape_fields(o, c, url, r->nsent, r->udp_nscrape);
	else if (r->fail == BT_TRKF_FAILURE)
		bt_print_trk_failure_fields(o, c, kind, url, r->failure, r->failure_len);
	else {
		bt_out_str(o, "kind", "", kind);
		bt_out_str(o, "url", " ", url);
	}
	if (r->kind == BT_TRK_ANNOUNCE)
		bt_out_hex(o, "info_hash", " info_hash ", r->ann.info_hash, 20);
	put_req_outcome(o, r);
}

void bt_print_trk_req_lists(struct bt_out *o, const struct bt_print_ctx *c,
			    const struct bt_trk_req *r)
{
	bool udp = r->scheme == BT_URL_UDP, http = r->scheme && !udp;
	bool answered = r->fail == BT_TRKF_OK || (r->fail == BT_TRKF_FAILURE && http);

	if (r->kind == BT_TRK_ANNOUNCE) {
		if (answered && !r->resp.failure)
			bt_print_trk_peers(o, c, r->peers, r->info, r->resp.nstored);
	} else if (http && answered) {
		bt_print_trk_scrape_files(o, c, &r->scrape);
	} else if (udp && r->udp_scrape) {
		bt_print_udp_scrape_files(o, c, r->sent, r->nsent, r->udp_scrape,
					  r->udp_nscrape);
	}
}
