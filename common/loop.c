#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 64

uint64_t bt_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int bt_loop_init(struct bt_loop *l)
{
	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	l->now_us = bt_now_us();
	return 0;
}

void bt_loop_free(struct bt_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	free(l->heap);
	memset(l, 0, sizeof(*l));
	l->epfd = -1;
}

static uint32_t ep_events(unsigned want)
{
	uint32_t e = 0;

	if (want & BT_IO_IN)
		e |= EPOLLIN | EPOLLRDHUP;
	if (want & BT_IO_OUT)
		e |= EPOLLOUT;
	return e;
}

int bt_io_add(struct bt_loop *l, struct bt_io *io)
{
	struct epoll_event ev = { .events = ep_events(io->want), .data.ptr = io };

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0)
		return -errno;
	l->nio++;
	return 0;
}

int bt_io_mod(struct bt_loop *l, struct bt_io *io, unsigned want)
{
	struct epoll_event ev = { .events = ep_events(want), .data.ptr = io };

	if (want == io->want)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->want = want;
	return 0;
}

void bt_io_del(struct bt_loop *l, struct bt_io *io)
{
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL) == 0 && l->nio)
		l->nio--;
}

/* Timer heap: heap[k]->slot == k + 1. */
static void heap_set(struct bt_loop *l, size_t k, struct bt_timer *t)
{
	l->heap[k] = t;
	t->slot = k + 1;
}

static void sift_up(struct bt_loop *l, size_t k)
{
	struct bt_timer *t = l->heap[k];

	while (k > 0) {
		size_t parent = (k - 1) / 2;
		if (l->heap[parent]->when_us <= t->when_us)
			break;
		heap_set(l, k, l->heap[parent]);
		k = parent;
	}
	heap_set(l, k, t);
}

static void sift_down(struct bt_loop *l, size_t k)
{
	struct bt_timer *t = l->heap[k];

	for (;;) {
		size_t c = 2 * k + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && l->heap[c + 1]->when_us < l->heap[c]->when_us)
			c++;
		if (t->when_us <= l->heap[c]->when_us)
			break;
		heap_set(l, k, l->heap[c]);
		k = c;
	}
	heap_set(l, k, t);
}

void bt_timer_stop(struct bt_loop *l, struct bt_timer *t)
{
	size_t k;

	if (!t->slot)
		return;
	k = t->slot - 1;
	t->slot = 0;
	l->nheap--;
	if (k == l->nheap)
		return;
	{
		struct bt_timer *moved = l->heap[l->nheap];
		heap_set(l, k, moved);
		sift_up(l, k);
		sift_down(l, moved->slot - 1);
	}
}

int bt_timer_arm_at(struct bt_loop *l, struct bt_timer *t, uint64_t when_us)
{
	bt_timer_stop(l, t);
	if (l->nheap == l->capheap) {
		size_t cap = l->capheap ? l->capheap * 2 : 16;
		struct bt_timer **h = realloc(l->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->capheap = cap;
	}
	t->when_us = when_us;
	heap_set(l, l->nheap, t);
	l->nheap++;
	sift_up(l, l->nheap - 1);
	return 0;
}

int bt_timer_arm(struct bt_loop *l, struct bt_timer *t, uint64_t delay_us)
{
	return bt_timer_arm_at(l, t, bt_now_us() + delay_us);
}

int bt_loop_once(struct bt_loop *l, uint64_t max_wait_us)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t wait = max_wait_us;
	int n, i, ran = 0, ms;

	l->now_us = bt_now_us();
	if (l->nheap) {
		uint64_t first = l->heap[0]->when_us;
		uint64_t until = first > l->now_us ? first - l->now_us : 0;
		if (until < wait)
			wait = until;
	}
	/* Round up so a timer is never woken for just before its deadline. */
	ms = wait > 86400000000u ? 86400000 : (int)((wait + 999) / 1000);
	n = epoll_wait(l->epfd, ev, MAX_EVENTS, ms);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	l->now_us = bt_now_us();
	for (i = 0; i < n; i++) {
		struct bt_io *io = ev[i].data.ptr;
		unsigned e = 0;
		if (ev[i].events & (EPOLLIN | EPOLLRDHUP))
			e |= BT_IO_IN;
		if (ev[i].events & EPOLLOUT)
			e |= BT_IO_OUT;
		if (ev[i].events & (EPOLLERR | EPOLLHUP))
			e |= BT_IO_ERR;
		/* See loop.h: an io is never freed inside a dispatch round. */
		io->cb(l, io, e);
		ran++;
	}
	while (l->nheap && l->heap[0]->when_us <= l->now_us) {
		struct bt_timer *t = l->heap[0];
		bt_timer_stop(l, t);
		t->cb(l, t);
		ran++;
	}
	return ran;
}

int bt_loop_run(struct bt_loop *l)
{
	l->stop = false;
	while (!l->stop && (l->nio || l->nheap)) {
		int r = bt_loop_once(l, 1000000);
		if (r < 0)
			return r;
	}
	return 0;
}

void bt_loop_break(struct bt_loop *l)
{
	l->stop = true;
}
