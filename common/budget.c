/* budget.c — a memory budget.  See budget.h. */
#include "budget.h"

#include <stdlib.h>

static void took(struct bt_budget *b, size_t n)
{
	b->used += n;
	if (b->used > b->peak)
		b->peak = b->used;
}

void *bt_budget_alloc(struct bt_budget *b, size_t n)
{
	void *p;

	/* n > cap - used, written so that neither side can wrap */
	if (n > b->cap || b->used > b->cap - n)
		return NULL;
	p = malloc(n ? n : 1);
	if (!p)
		return NULL;
	took(b, n);
	return p;
}

void *bt_budget_grow(struct bt_budget *b, void *p, size_t old, size_t n)
{
	void *q;

	if (n <= old)
		return p;
	if (n - old > b->cap || b->used > b->cap - (n - old))
		return NULL;
	q = realloc(p, n);
	if (!q)
		return NULL;
	took(b, n - old);
	return q;
}

void bt_budget_free(struct bt_budget *b, void *p, size_t n)
{
	if (!p)
		return;
	free(p);
	b->used -= n;
}
