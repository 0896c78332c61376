#include "loop.h"
#include "t.h"

#include <fcntl.h>

static int order[8], norder;

static void tcb(struct bt_loop *l, struct bt_timer *t)
{
	(void)l;
	order[norder++] = (int)(intptr_t)t->arg;
}

static void test_timers_fire_in_deadline_order(void)
{
	struct bt_loop l;
	struct bt_timer t[5];
	int i;

	T_EQ_INT(bt_loop_init(&l), 0);
	memset(t, 0, sizeof(t));
	norder = 0;
	/* Armed out of order; 3 is re-armed later, 4 is stopped. */
	uint64_t now = bt_now_us();
	int delays[5] = { 30, 10, 20, 5, 15 };
	for (i = 0; i < 5; i++) {
		t[i].cb = tcb;
		t[i].arg = (void *)(intptr_t)i;
		T_EQ_INT(bt_timer_arm_at(&l, &t[i], now + (uint64_t)delays[i] * 1000), 0);
	}
	T_EQ_INT(bt_timer_arm_at(&l, &t[3], now + 40000), 0);
	bt_timer_stop(&l, &t[4]);
	T_CHECK(!bt_timer_armed(&t[4]));
	T_EQ_INT(bt_loop_run(&l), 0);
	T_EQ_INT(norder, 4);
	T_EQ_INT(order[0], 1);
	T_EQ_INT(order[1], 2);
	T_EQ_INT(order[2], 0);
	T_EQ_INT(order[3], 3);
	T_CHECK(bt_now_us() - now >= 40000);
	bt_loop_free(&l);
}

static void test_timer_heap_many(void)
{
	struct bt_loop l;
	static struct bt_timer t[200];
	int i, last = -1, ok = 1;

	T_EQ_INT(bt_loop_init(&l), 0);
	memset(t, 0, sizeof(t));
	uint64_t now = bt_now_us();
	for (i = 0; i < 200; i++) {
		t[i].cb = tcb;
		/* deadlines in a scrambled order; all in the past so one round runs all */
		T_EQ_INT(bt_timer_arm_at(&l, &t[i], now - 1000000 + (uint64_t)((i * 73) % 200)), 0);
	}
	for (i = 0; i < 200; i += 3)
		bt_timer_stop(&l, &t[i]);
	T_EQ_UINT(l.nheap, 200 - 67);
	/* pop in order and check monotonic deadlines */
	while (l.nheap) {
		struct bt_timer *x = l.heap[0];
		int when = (int)(x->when_us - (now - 1000000));
		if (when < last)
			ok = 0;
		last = when;
		bt_timer_stop(&l, x);
	}
	T_CHECK(ok);
	bt_loop_free(&l);
}

static int got_in;

static void iocb(struct bt_loop *l, struct bt_io *io, unsigned ev)
{
	char buf[16];
	if (ev & BT_IO_IN) {
		got_in += (int)read(io->fd, buf, sizeof(buf));
		bt_io_del(l, io);
	}
}

static void test_io_readiness(void)
{
	struct bt_loop l;
	struct bt_io io;
	int p[2];

	T_EQ_INT(bt_loop_init(&l), 0);
	T_EQ_INT(pipe2(p, O_NONBLOCK), 0);
	io.fd = p[0];
	io.want = BT_IO_IN;
	io.cb = iocb;
	io.arg = NULL;
	got_in = 0;
	T_EQ_INT(bt_io_add(&l, &io), 0);
	T_EQ_INT(bt_loop_once(&l, 1000), 0); /* nothing to read: times out */
	T_EQ_INT(write(p[1], "abc", 3), 3);
	T_EQ_INT(bt_loop_run(&l), 0);
	T_EQ_INT(got_in, 3);
	T_EQ_UINT(l.nio, 0);
	close(p[0]);
	close(p[1]);
	bt_loop_free(&l);
}

int main(void)
{
	T_RUN(test_timers_fire_in_deadline_order);
	T_RUN(test_timer_heap_many);
	T_RUN(test_io_readiness);
	return T_DONE();
}
