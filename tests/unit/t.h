/* t.h — the unit-test harness: one header, no framework.
 *
 * A test file defines static void test_x(void) functions and a main that
 * calls T_RUN(test_x) for each, then returns T_DONE().  Each test prints
 * "ok NAME" or "not ok NAME" (with the first failed assertion), which
 * tests/run.sh counts.  Assertions compare exact values and exact bytes. */
#ifndef BT_T_H
#define BT_T_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int t_failed_now, t_pass, t_fail;

#define T_FAILF(...) do { \
	if (!t_failed_now) { \
		printf("#   %s:%d: ", __FILE__, __LINE__); \
		printf(__VA_ARGS__); \
		printf("\n"); \
	} \
	t_failed_now = 1; \
} while (0)

#define T_CHECK(c) do { if (!(c)) T_FAILF("check failed: %s", #c); } while (0)

#define T_EQ_INT(a, b) do { \
	long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
	if (t_a_ != t_b_) T_FAILF("%s == %lld, expected %s == %lld", #a, t_a_, #b, t_b_); \
} while (0)

#define T_EQ_UINT(a, b) do { \
	unsigned long long t_a_ = (unsigned long long)(a), t_b_ = (unsigned long long)(b); \
	if (t_a_ != t_b_) T_FAILF("%s == %llu, expected %llu", #a, t_a_, t_b_); \
} while (0)

#define T_EQ_STR(a, b) do { \
	const char *t_a_ = (a), *t_b_ = (b); \
	if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) \
		T_FAILF("%s == \"%s\", expected \"%s\"", #a, t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); \
} while (0)

#define T_EQ_MEM(a, alen, b, blen) do { \
	size_t t_al_ = (size_t)(alen), t_bl_ = (size_t)(blen); \
	if (t_al_ != t_bl_ || (t_al_ && memcmp((a), (b), t_al_) != 0)) \
		T_FAILF("%s (%zu bytes) differs from %s (%zu bytes)", #a, t_al_, #b, t_bl_); \
} while (0)

#define T_RUN(fn) do { \
	t_failed_now = 0; \
	fn(); \
	if (t_failed_now) { t_fail++; printf("not ok %s\n", #fn); } \
	else { t_pass++; printf("ok %s\n", #fn); } \
	fflush(stdout); \
} while (0)

#define T_DONE() (printf("# %d passed, %d failed\n", t_pass, t_fail), t_fail ? 1 : 0)

/* Copy len bytes so they end flush against a PROT_NONE page: a read past
 * the end faults even without ASan (picohttpparser's trick).  The region
 * is leaked on purpose; tests are short-lived. */
static inline const uint8_t *t_guarded(const void *src, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + pg - 1) / pg * pg + pg;
	uint8_t *m = mmap(NULL, span ? span : pg, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		abort();
	mprotect(m + span - pg, pg, PROT_NONE);
	uint8_t *p = m + span - pg - len;
	if (len)
		memcpy(p, src, len);
	return p;
}

#endif
