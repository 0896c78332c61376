/* fuzz.h — helpers shared by the libFuzzer harnesses (header only).
 *
 * FUZZ_CHECK(c): a property of the code under test; when it fails the
 * harness prints which one and aborts, so libFuzzer saves the input.
 *
 * struct fz: a cursor that takes control values (chunk sizes, flags,
 * transaction ids) from the front of the input, the way libFuzzer's
 * FuzzedDataProvider does.  Reads past the end give 0: every input is a
 * valid program for the harness. */
#ifndef BT_FUZZ_H
#define BT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(c) do { \
	if (!(c)) { \
		fprintf(stderr, "ERROR: %s:%d: property failed: %s\n", \
			__FILE__, __LINE__, #c); \
		abort(); \
	} \
} while (0)

/* FUZZ_KNOWN(tag, c): a property that a known, reported library bug
 * breaks.  It fails like FUZZ_CHECK, naming the tag, unless the tag is in
 * FUZZ_ALLOW (comma-separated, in the environment): then the harness goes
 * on past it, so a long run can look for other bugs while the fix is
 * pending (FUZZ_ALLOW=be-max-tokens make fuzz).  Tags and their bugs are
 * listed in tests/unit/test_regress.c. */
#define FUZZ_KNOWN(tag, c) do { \
	if (!(c) && !fz_allowed(tag)) { \
		fprintf(stderr, "ERROR: %s:%d: property failed (known bug %s): %s\n", \
			__FILE__, __LINE__, tag, #c); \
		abort(); \
	} \
} while (0)

static inline bool fz_allowed(const char *tag)
{
	static const char *a;
	static bool got;
	const char *p;
	size_t n = strlen(tag);

	if (!got) {   /* the environment does not change during a run */
		a = getenv("FUZZ_ALLOW");
		got = true;
	}
	for (p = a; p && (p = strstr(p, tag)) != NULL; p += n)
		if ((p == a || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

/* p[0..n) lies inside buf[0..len) (n == 0 anywhere inside or at the end;
 * NULL with n == 0 allowed). */
static inline bool fz_inside(const void *p, size_t n, const void *buf, size_t len)
{
	const uint8_t *q = p, *b = buf;

	if (!q)
		return n == 0;
	return q >= b && (size_t)(q - b) <= len && n <= len - (size_t)(q - b);
}

struct fz {
	const uint8_t *p;
	size_t left;
};

static inline void fz_init(struct fz *z, const uint8_t *data, size_t size)
{
	z->p = data;
	z->left = size;
}

static inline uint8_t fz_u8(struct fz *z)
{
	uint8_t v = 0;

	if (z->left) {
		v = *z->p++;
		z->left--;
	}
	return v;
}

static inline uint16_t fz_u16(struct fz *z)
{
	uint16_t hi = fz_u8(z);

	return (uint16_t)(hi << 8 | fz_u8(z));
}

static inline uint32_t fz_u32(struct fz *z)
{
	uint32_t hi = fz_u16(z);

	return hi << 16 | fz_u16(z);
}

/* Up to n bytes (fewer at the end of the input): a view, *got its size. */
static inline const uint8_t *fz_bytes(struct fz *z, size_t n, size_t *got)
{
	const uint8_t *p = z->p;

	if (n > z->left)
		n = z->left;
	z->p += n;
	z->left -= n;
	*got = n;
	return p;
}

/* A private copy of p[0..n) in a buffer of exactly n bytes, so ASan flags
 * any read past a length narrower than libFuzzer's own buffer.  Free it. */
static inline uint8_t *fz_dup(const void *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	if (!d)
		abort();
	if (n)
		memcpy(d, p, n);
	return d;
}

#endif
