/* loop.h — one event loop: epoll readiness plus monotonic timers.
 *
 * Live tools drive every socket (peers, UDP trackers, libcurl's sockets)
 * from one thread through this loop, so no state is shared between threads
 * and every wait has a deadline.  The loop owns no memory of its callers:
 * struct bt_io and struct bt_timer live in the caller's connection structs
 * and must stay put while registered. */
#ifndef BT_LOOP_H
#define BT_LOOP_H

#include "bt.h"

struct bt_loop;

/* events: a mask of BT_IO_IN, BT_IO_OUT, BT_IO_ERR (error or hang-up). */
#define BT_IO_IN  0x1u
#define BT_IO_OUT 0x2u
#define BT_IO_ERR 0x4u

struct bt_io {
	int fd;
	unsigned want;           /* BT_IO_IN | BT_IO_OUT */
	void (*cb)(struct bt_loop *l, struct bt_io *io, unsigned events);
	void *arg;
};

struct bt_timer {
	uint64_t when_us;        /* monotonic deadline */
	size_t slot;             /* heap position + 1; 0 = not armed */
	void (*cb)(struct bt_loop *l, struct bt_timer *t);
	void *arg;
};

struct bt_loop {
	int epfd;
	bool stop;
	struct bt_timer **heap;  /* min-heap on when_us */
	size_t nheap, capheap;
	uint64_t now_us;         /* cached at each wake-up */
	size_t nio;              /* registered descriptors */
};

/* Monotonic clock in microseconds. */
uint64_t bt_now_us(void);

int bt_loop_init(struct bt_loop *l);        /* 0 or -errno */
void bt_loop_free(struct bt_loop *l);

/* Register, change or remove a descriptor (io->want says what to wait for).
 * One epoll_wait can report several descriptors; so a callback that tears
 * down another connection must not free its bt_io before bt_loop_once
 * returns: bt_io_del it, close the fd, and free it later (a zero-delay
 * timer, or a dead-list the tool sweeps after bt_loop_once). */
int bt_io_add(struct bt_loop *l, struct bt_io *io);
int bt_io_mod(struct bt_loop *l, struct bt_io *io, unsigned want);
void bt_io_del(struct bt_loop *l, struct bt_io *io);

/* Arm (or re-arm) a timer to fire once after delay_us; stop disarms.
 * Arming needs memory only when the heap grows: -ENOMEM then. */
int bt_timer_arm(struct bt_loop *l, struct bt_timer *t, uint64_t delay_us);
int bt_timer_arm_at(struct bt_loop *l, struct bt_timer *t, uint64_t when_us);
void bt_timer_stop(struct bt_loop *l, struct bt_timer *t);
static inline bool bt_timer_armed(const struct bt_timer *t) { return t->slot != 0; }

/* Wait at most max_wait_us (or until the next timer), dispatch ready I/O
 * and due timers once.  Returns the number of callbacks run, or -errno. */
int bt_loop_once(struct bt_loop *l, uint64_t max_wait_us);
/* Run until bt_loop_break() or until nothing is registered and no timer
 * is armed.  Returns 0 or -errno. */
int bt_loop_run(struct bt_loop *l);
void bt_loop_break(struct bt_loop *l);

#endif
