/* budget.h — a memory budget: heap blocks counted against a cap.
 *
 * The capture decoder must not grow with the capture (DESIGN.md, "Limits"):
 * every buffer it holds for a flow — framers, scan windows, HTTP heads and
 * bodies, zlib's state, UDP tracker requests — is taken through one
 * caller-owned struct bt_budget, and a request that would pass the cap is
 * refused (NULL) instead of made.  The caller then gives up that one flow
 * with a reason; the others go on.
 *
 * The caller says the size when freeing (the blocks carry no header), so
 * the books stay exact without malloc_usable_size.  Not thread-safe: one
 * budget per decoder, as one decoder per thread. */
#ifndef BT_BUDGET_H
#define BT_BUDGET_H

#include <stddef.h>

struct bt_budget {
	size_t cap;             /* bytes allowed at once */
	size_t used;            /* bytes held now */
	size_t peak;            /* most held at once */
};

/* n bytes, or NULL (over the cap, or no memory). */
void *bt_budget_alloc(struct bt_budget *b, size_t n);
/* Grow p (old bytes, NULL if 0) to n >= old bytes, as realloc; NULL
 * leaves p as it was.  n <= old returns p unchanged. */
void *bt_budget_grow(struct bt_budget *b, void *p, size_t old, size_t n);
/* Free p, which was n bytes; NULL is allowed. */
void bt_budget_free(struct bt_budget *b, void *p, size_t n);

#endif
