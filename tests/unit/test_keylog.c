/* test_keylog.c — key-log lines by endpoints (keylog.h): addresses as
 * binary (two spellings of one IPv6 address are one), both roles, a
 * recurring 4-tuple handed out in file order, lines that cannot match. */
#include "t.h"
#include "keylog.h"

static char line[BT_MSE_KEYLOG_LINE_MAX + 1];

static const char *mk(const char *cli, const char *srv, uint8_t s0, bool skey)
{
	uint8_t s[BT_MSE_KEY_LEN], ih[20];

	memset(s, s0, sizeof s);
	memset(ih, 0x11, sizeof ih);
	/* bt_mse_keylog_format checks the text only, so "?" is fine */
	if (bt_mse_keylog_format(line, sizeof line, cli, srv, s, skey ? ih : NULL) < 0)
		abort();
	return line;
}

static struct bt_flow_ep ep(int fam, const char *a16, uint16_t port)
{
	struct bt_flow_ep e;

	memset(&e, 0, sizeof e);
	e.addr.family = (uint8_t)fam;
	memcpy(e.addr.a, a16, fam == 4 ? 4 : 16);
	e.port = port;
	return e;
}

static void test_lookup(void)
{
	struct bt_keylog k;
	struct bt_flow_ep c4 = ep(4, "\x7f\x00\x00\x02", 40000), s4 = ep(4, "\x7f\x00\x00\x01", 6881);
	struct bt_flow_ep c6 = ep(6, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 5000);
	struct bt_flow_ep s6 = ep(6, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 6881);
	const struct bt_keylog_entry *e;
	const char *why = NULL;
	bool a_first = false;

	bt_keylog_init(&k);
	T_EQ_INT(bt_keylog_add(&k, "# comment\n", 10, &why), BT_EUNSUPP);
	T_EQ_INT(bt_keylog_add(&k, "\n", 1, &why), BT_EUNSUPP);
	T_EQ_INT(bt_keylog_add(&k, "tls x y z\n", 10, &why), BT_EUNSUPP);
	T_EQ_INT(bt_keylog_add(&k, "mse 1.2.3.4:5 6.7.8.9:1 00\n", 27, &why), BT_EINVAL);
	T_EQ_STR(why, "S is not 192 hex digits");
	mk("127.0.0.2:40000", "127.0.0.1:6881", 1, true);
	T_EQ_INT(bt_keylog_add(&k, line, strlen(line), &why), BT_OK);
	mk("127.0.0.2:40000", "127.0.0.1:6881", 2, false);    /* the tuple again */
	T_EQ_INT(bt_keylog_add(&k, line, strlen(line), &why), BT_OK);
	mk("[0:0::1]:5000", "[::1]:6881", 3, true);
	T_EQ_INT(bt_keylog_add(&k, line, strlen(line), &why), BT_OK);
	mk("?", "127.0.0.1:6881", 4, true);                   /* cannot match */
	T_EQ_INT(bt_keylog_add(&k, line, strlen(line), &why), BT_EUNSUPP);
	mk("1.2.3.4:99999", "127.0.0.1:6881", 4, true);
	T_EQ_INT(bt_keylog_add(&k, line, strlen(line), &why), BT_EUNSUPP);
	T_EQ_UINT(k.unmatchable, 2);
	T_EQ_UINT(k.n, 3);
	/* the server side first: found, roles told */
	e = bt_keylog_take(&k, &s4, &c4, &a_first);
	T_CHECK(e && !a_first && e->secret[0] == 1 && e->has_skey);
	/* the same tuple again: the next line, in file order; then none */
	e = bt_keylog_take(&k, &c4, &s4, &a_first);
	T_CHECK(e && a_first && e->secret[0] == 2 && !e->has_skey);
	T_CHECK(bt_keylog_take(&k, &c4, &s4, &a_first) == NULL);
	/* IPv6 written two ways */
	e = bt_keylog_take(&k, &c6, &s6, &a_first);
	T_CHECK(e && a_first && e->secret[0] == 3);
	/* ports matter */
	c6.port++;
	T_CHECK(bt_keylog_take(&k, &c6, &s6, &a_first) == NULL);
	bt_keylog_free(&k);
}

/* Many lines: the index grows, every one is found. */
static void test_many(void)
{
	struct bt_keylog k;
	char cli[32];
	bool a_first;

	bt_keylog_init(&k);
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(cli, sizeof cli, "10.0.%u.%u:%u", i / 256, i % 256, 1000 + i % 7);
		mk(cli, "10.1.0.1:6881", (uint8_t)i, true);
		T_EQ_INT(bt_keylog_add(&k, line, strlen(line), NULL), BT_OK);
	}
	for (unsigned i = 0; i < 5000; i += 37) {
		uint8_t a[4] = { 10, 0, (uint8_t)(i / 256), (uint8_t)(i % 256) };
		struct bt_flow_ep c = ep(4, (const char *)a, (uint16_t)(1000 + i % 7));
		struct bt_flow_ep s = ep(4, "\x0a\x01\x00\x01", 6881);
		const struct bt_keylog_entry *e = bt_keylog_take(&k, &c, &s, &a_first);

		T_CHECK(e && e->secret[0] == (uint8_t)i && a_first);
	}
	/* a lookup for a line without an info-hash finds the log's hashes */
	{
		uint8_t ih[20], req2[20], got[20];

		memset(ih, 0x11, 20);
		bt_mse_req2(ih, req2);
		T_CHECK(bt_keylog_find_skey(&k, req2, got));
		T_EQ_MEM(got, 20, ih, 20);
		req2[0] ^= 1;
		T_CHECK(!bt_keylog_find_skey(&k, req2, got));
	}
	bt_keylog_free(&k);
}

int main(void)
{
	T_RUN(test_lookup);
	T_RUN(test_many);
	return T_DONE();
}
