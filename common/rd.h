/* rd.h — bounds-checked reader and writer over caller buffers.
 *
 * Every read of untrusted bytes in btkit goes through these accessors.  A
 * read that would cross the end fails (returns false) and leaves the
 * cursor where it was; lengths are compared with what remains, never by
 * forming p + n first.  Wire layouts are read field by field, never by
 * casting packed structs onto a buffer. */
#ifndef BT_RD_H
#define BT_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct bt_rd {
	const uint8_t *p;
	const uint8_t *end;
};

static inline void bt_rd_init(struct bt_rd *r, const void *buf, size_t len)
{
	r->p = (const uint8_t *)buf;
	r->end = r->p + len;
}

static inline size_t bt_rd_left(const struct bt_rd *r)
{
	return (size_t)(r->end - r->p);
}

static inline bool bt_rd_u8(struct bt_rd *r, uint8_t *v)
{
	if (bt_rd_left(r) < 1)
		return false;
	*v = r->p[0];
	r->p += 1;
	return true;
}

static inline bool bt_rd_u16be(struct bt_rd *r, uint16_t *v)
{
	if (bt_rd_left(r) < 2)
		return false;
	*v = (uint16_t)((uint16_t)r->p[0] << 8 | r->p[1]);
	r->p += 2;
	return true;
}

static inline bool bt_rd_u32be(struct bt_rd *r, uint32_t *v)
{
	if (bt_rd_left(r) < 4)
		return false;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	     (uint32_t)r->p[2] << 8 | (uint32_t)r->p[3];
	r->p += 4;
	return true;
}

static inline bool bt_rd_u64be(struct bt_rd *r, uint64_t *v)
{
	uint32_t hi = 0, lo = 0;
	if (bt_rd_left(r) < 8)
		return false;
	bt_rd_u32be(r, &hi);
	bt_rd_u32be(r, &lo);
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

/* A view of the next n bytes; valid as long as the underlying buffer. */
static inline bool bt_rd_view(struct bt_rd *r, size_t n, const uint8_t **out)
{
	if (bt_rd_left(r) < n)
		return false;
	*out = r->p;
	r->p += n;
	return true;
}

static inline bool bt_rd_copy(struct bt_rd *r, void *dst, size_t n)
{
	if (bt_rd_left(r) < n)
		return false;
	if (n)
		memcpy(dst, r->p, n);
	r->p += n;
	return true;
}

static inline bool bt_rd_skip(struct bt_rd *r, size_t n)
{
	if (bt_rd_left(r) < n)
		return false;
	r->p += n;
	return true;
}

/* Big-endian loads from a buffer the caller has already length-checked. */
static inline uint32_t bt_load_u32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint16_t bt_load_u16be(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline void bt_store_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Writer: appends into a caller buffer.  On overflow it stops writing but
 * keeps counting, so after a failed encode w->len is the size needed. */
struct bt_wr {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

static inline void bt_wr_init(struct bt_wr *w, void *buf, size_t cap)
{
	w->buf = (uint8_t *)buf;
	w->cap = cap;
	w->len = 0;
}

static inline bool bt_wr_ok(const struct bt_wr *w)
{
	return w->len <= w->cap;
}

static inline void bt_wr_bytes(struct bt_wr *w, const void *src, size_t n)
{
	if (w->len <= w->cap && w->cap - w->len >= n && n)
		memcpy(w->buf + w->len, src, n);
	w->len += n;
}

static inline void bt_wr_u8(struct bt_wr *w, uint8_t v)
{
	bt_wr_bytes(w, &v, 1);
}

static inline void bt_wr_u16be(struct bt_wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	bt_wr_bytes(w, b, 2);
}

static inline void bt_wr_u32be(struct bt_wr *w, uint32_t v)
{
	uint8_t b[4];
	bt_store_u32be(b, v);
	bt_wr_bytes(w, b, 4);
}

static inline void bt_wr_u64be(struct bt_wr *w, uint64_t v)
{
	bt_wr_u32be(w, (uint32_t)(v >> 32));
	bt_wr_u32be(w, (uint32_t)v);
}

#endif
