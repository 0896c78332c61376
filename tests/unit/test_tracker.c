/* test_tracker.c — HTTP announce/scrape URLs and responses, UDP packets
 * (tracker.h).  Expected bytes are written out by hand from the BEPs. */
#include "t.h"
#include "tracker.h"

#define VIEW_EQ(p, n, lit) T_EQ_MEM((p), (n), (lit), strlen(lit))
#define LIT(s) (s), (sizeof(s) - 1)

static const uint8_t ih0[20] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
	0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
};
#define IH0_ENC "%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13"
static const char pid[] = "-BK0001-abcdefghijkl";

static const char *fmt(const struct bt_peer_addr *a, char *buf)
{
	return bt_addr_fmt(a, buf, BT_ADDR_STRLEN);
}

/* ---- announce URL ----------------------------------------------------- */

static void test_announce_url_full(void)
{
	static const char want[] =
		"http://tracker.example.com:6969/announce"
		"?info_hash=" IH0_ENC
		"&peer_id=-BK0001-abcdefghijkl"
		"&port=6881&uploaded=0&downloaded=1234&left=18446744073709551615"
		"&event=started&numwant=50&compact=1&no_peer_id=1"
		"&key=A1B2C3D4&ip=%3A%3A1&trackerid=t%20id%26x";
	struct bt_trk_announce a;
	struct bt_trk_err e;
	char buf[1024];
	size_t n;

	bt_trk_announce_init(&a);
	memcpy(a.info_hash, ih0, 20);
	memcpy(a.peer_id, pid, 20);
	a.port = 6881;
	a.downloaded = 1234;
	a.left = UINT64_MAX;
	a.event = BT_TRK_EV_STARTED;
	a.numwant = 50;
	a.compact = BT_TRK_COMPACT_YES;
	a.no_peer_id = true;
	a.key = "A1B2C3D4";
	a.key_len = 8;
	a.ip = "::1";
	a.ip_len = 3;
	a.trackerid = "t id&x";
	a.trackerid_len = 6;
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://tracker.example.com:6969/announce"),
				     buf, sizeof buf, &n, &e), BT_OK);
	T_EQ_STR(buf, want);
	T_EQ_UINT(n, sizeof want - 1);
}

static void test_announce_url_minimal_and_query(void)
{
	struct bt_trk_announce a;
	char buf[512];
	size_t n;

	bt_trk_announce_init(&a);
	memcpy(a.info_hash, ih0, 20);
	memcpy(a.peer_id, pid, 20);
	T_EQ_INT(bt_trk_announce_url(&a, LIT("https://t.example/announce?passkey=abc"),
				     buf, sizeof buf, &n, NULL), BT_OK);
	T_EQ_STR(buf, "https://t.example/announce?passkey=abc&info_hash=" IH0_ENC
		 "&peer_id=-BK0001-abcdefghijkl&port=0&uploaded=0&downloaded=0&left=0");
	/* An empty query or one ending in '&' takes no extra '&'. */
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/announce?"), buf, sizeof buf, &n, NULL), BT_OK);
	T_EQ_STR(buf, "http://t/announce?info_hash=" IH0_ENC
		 "&peer_id=-BK0001-abcdefghijkl&port=0&uploaded=0&downloaded=0&left=0");
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/announce?a=1&"), buf, sizeof buf, &n, NULL), BT_OK);
	T_EQ_STR(buf, "http://t/announce?a=1&info_hash=" IH0_ENC
		 "&peer_id=-BK0001-abcdefghijkl&port=0&uploaded=0&downloaded=0&left=0");
	/* The fragment is not part of a request. */
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/announce#x"), buf, sizeof buf, &n, NULL), BT_OK);
	T_EQ_STR(buf, "http://t/announce?info_hash=" IH0_ENC
		 "&peer_id=-BK0001-abcdefghijkl&port=0&uploaded=0&downloaded=0&left=0");
}

/* 13 info-hashes of consecutive byte values cover all 256, through the
 * whole URL builder; expected text written out from the BEP 3 rule. */
static void test_announce_url_every_byte(void)
{
	static const char *const enc[13] = {
		"%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13",
		"%14%15%16%17%18%19%1A%1B%1C%1D%1E%1F%20%21%22%23%24%25%26%27",
		"%28%29%2A%2B%2C-.%2F0123456789%3A%3B",
		"%3C%3D%3E%3F%40ABCDEFGHIJKLMNO",
		"PQRSTUVWXYZ%5B%5C%5D%5E_%60abc",
		"defghijklmnopqrstuvw",
		"xyz%7B%7C%7D~%7F%80%81%82%83%84%85%86%87%88%89%8A%8B",
		"%8C%8D%8E%8F%90%91%92%93%94%95%96%97%98%99%9A%9B%9C%9D%9E%9F",
		"%A0%A1%A2%A3%A4%A5%A6%A7%A8%A9%AA%AB%AC%AD%AE%AF%B0%B1%B2%B3",
		"%B4%B5%B6%B7%B8%B9%BA%BB%BC%BD%BE%BF%C0%C1%C2%C3%C4%C5%C6%C7",
		"%C8%C9%CA%CB%CC%CD%CE%CF%D0%D1%D2%D3%D4%D5%D6%D7%D8%D9%DA%DB",
		"%DC%DD%DE%DF%E0%E1%E2%E3%E4%E5%E6%E7%E8%E9%EA%EB%EC%ED%EE%EF",
		"%F0%F1%F2%F3%F4%F5%F6%F7%F8%F9%FA%FB%FC%FD%FE%FF%00%01%02%03",
	};
	struct bt_trk_announce a;
	char buf[512], want[512];
	int k, j;

	bt_trk_announce_init(&a);
	memcpy(a.peer_id, pid, 20);
	a.port = 1;
	for (k = 0; k < 13; k++) {
		for (j = 0; j < 20; j++)
			a.info_hash[j] = (uint8_t)(20 * k + j);
		snprintf(want, sizeof want, "http://t/a?info_hash=%s&peer_id=-BK0001-abcdefghijkl"
			 "&port=1&uploaded=0&downloaded=0&left=0", enc[k]);
		T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/a"), buf, sizeof buf, NULL, NULL), BT_OK);
		T_EQ_STR(buf, want);
	}
}

static void test_announce_url_events_and_options(void)
{
	static const struct { int ev; const char *tail; } evs[] = {
		{ BT_TRK_EV_NONE, "left=7" },
		{ BT_TRK_EV_STARTED, "left=7&event=started" },
		{ BT_TRK_EV_COMPLETED, "left=7&event=completed" },
		{ BT_TRK_EV_STOPPED, "left=7&event=stopped" },
	};
	struct bt_trk_announce a;
	char buf[512];
	size_t i, n, tl;

	bt_trk_announce_init(&a);
	a.left = 7;
	for (i = 0; i < sizeof evs / sizeof evs[0]; i++) {
		a.event = evs[i].ev;
		T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/a"), buf, sizeof buf, &n, NULL), BT_OK);
		tl = strlen(evs[i].tail);
		T_CHECK(n >= tl && memcmp(buf + n - tl, evs[i].tail, tl) == 0);
	}
	a.event = BT_TRK_EV_NONE;
	a.numwant = 0;
	a.compact = BT_TRK_COMPACT_NO;
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/a"), buf, sizeof buf, &n, NULL), BT_OK);
	T_CHECK(n > 20 && strcmp(buf + n - 20, "&numwant=0&compact=0") == 0);

	T_EQ_STR(bt_trk_event_name(BT_TRK_EV_COMPLETED), "completed");
	T_EQ_STR(bt_trk_event_name(BT_TRK_EV_NONE), "none");
	T_CHECK(bt_trk_event_name(4) == NULL);
	T_EQ_INT(bt_trk_event_parse(LIT("stopped")), BT_TRK_EV_STOPPED);
	T_EQ_INT(bt_trk_event_parse(LIT("")), BT_TRK_EV_NONE);
	T_EQ_INT(bt_trk_event_parse(LIT("empty")), BT_TRK_EV_NONE);
	T_EQ_INT(bt_trk_event_parse(LIT("Started")), -1);
	T_EQ_INT(bt_trk_event_parse(LIT("start")), -1);
}

static void test_announce_url_errors(void)
{
	struct bt_trk_announce a;
	struct bt_trk_err e;
	char buf[512];
	size_t n, need;

	bt_trk_announce_init(&a);
	T_EQ_INT(bt_trk_announce_url(&a, LIT("udp://t:6969/announce"), buf, sizeof buf, &n, &e), BT_EUNSUPP);
	T_EQ_STR(e.rule, "not an http(s) URL (UDP trackers use bt_udp_*)");
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t:0/announce"), buf, sizeof buf, &n, &e), BT_EINVAL);
	T_EQ_STR(e.rule, "port 0");
	T_EQ_UINT(e.off, 9);
	T_EQ_INT(bt_trk_announce_url(&a, LIT("t/announce"), buf, sizeof buf, &n, &e), BT_EINVAL);
	T_EQ_STR(e.rule, "missing scheme (expected http://, https:// or udp://)");
	a.numwant = -2;
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/a"), buf, sizeof buf, &n, &e), BT_EINVAL);
	T_EQ_STR(e.rule, "numwant below -1");
	a.numwant = -1;
	a.event = 9;
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/a"), buf, sizeof buf, &n, &e), BT_EINVAL);
	T_EQ_STR(e.rule, "unknown event");
	a.event = 0;

	/* Buffer too small: the needed length is reported; cap must hold
	 * the NUL too. */
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/a"), buf, 10, &n, &e), BT_ENOSPC);
	need = n;
	T_EQ_UINT(need, strlen("http://t/a?info_hash=") + 60 + strlen("&peer_id=") + 60 +
		  strlen("&port=0&uploaded=0&downloaded=0&left=0"));
	T_EQ_STR(buf, "");
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/a"), buf, need, &n, &e), BT_ENOSPC);
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/a"), buf, need + 1, &n, &e), BT_OK);
	T_EQ_UINT(strlen(buf), need);
	T_EQ_INT(bt_trk_announce_url(&a, LIT("http://t/a"), NULL, 0, &n, &e), BT_ENOSPC);
	T_EQ_UINT(n, need);
}

/* ---- scrape URL -------------------------------------------------------- */

static void test_scrape_url(void)
{
	uint8_t h[2][20];
	char buf[512];
	size_t n;

	memcpy(h[0], ih0, 20);
	memset(h[1], 0xff, 20);
	T_EQ_INT(bt_trk_scrape_url(LIT("http://t.example/announce"), (const uint8_t (*)[20])h, 1,
				   buf, sizeof buf, &n, NULL), BT_OK);
	T_EQ_STR(buf, "http://t.example/scrape?info_hash=" IH0_ENC);
	T_EQ_INT(bt_trk_scrape_url(LIT("https://t.example:81/x/announce.php?passkey=k#f"),
				   (const uint8_t (*)[20])h, 2, buf, sizeof buf, &n, NULL), BT_OK);
	T_EQ_STR(buf, "https://t.example:81/x/scrape.php?passkey=k&info_hash=" IH0_ENC
		 "&info_hash=%FF%FF%FF%FF%FF%FF%FF%FF%FF%FF%FF%FF%FF%FF%FF%FF%FF%FF%FF%FF");
	T_EQ_INT(bt_trk_scrape_url(LIT("http://t/announce"), NULL, 0, buf, sizeof buf, &n, NULL), BT_OK);
	T_EQ_STR(buf, "http://t/scrape");
	T_EQ_UINT(n, 15);
	T_EQ_INT(bt_trk_scrape_url(LIT("http://t/announce?"), NULL, 0, buf, sizeof buf, &n, NULL), BT_OK);
	T_EQ_STR(buf, "http://t/scrape?");
	T_EQ_INT(bt_trk_scrape_url(LIT("http://t/announce/announcer"), NULL, 0, buf, sizeof buf, &n, NULL), BT_OK);
	T_EQ_STR(buf, "http://t/announce/scraper");
}

static void test_scrape_url_failures(void)
{
	static const char *last =
		"cannot scrape: last path component does not start with \"announce\"";
	struct bt_trk_err e;
	char buf[512];
	size_t n;

	T_EQ_INT(bt_trk_scrape_url(LIT("http://t/a/b"), NULL, 0, buf, sizeof buf, &n, &e), BT_EINVAL);
	T_EQ_STR(e.rule, last);
	T_EQ_UINT(e.off, 11);
	T_EQ_INT(bt_trk_scrape_url(LIT("http://t/announce/x"), NULL, 0, buf, sizeof buf, &n, &e), BT_EINVAL);
	T_EQ_STR(e.rule, last);
	T_EQ_UINT(e.off, 18);
	T_EQ_INT(bt_trk_scrape_url(LIT("http://t/"), NULL, 0, buf, sizeof buf, &n, &e), BT_EINVAL);
	T_EQ_UINT(e.off, 9);
	T_EQ_INT(bt_trk_scrape_url(LIT("http://t/annoUNCE"), NULL, 0, buf, sizeof buf, &n, &e), BT_EINVAL);
	T_EQ_INT(bt_trk_scrape_url(LIT("http://t/ann"), NULL, 0, buf, sizeof buf, &n, &e), BT_EINVAL);
	T_EQ_INT(bt_trk_scrape_url(LIT("http://t/x?announce"), NULL, 0, buf, sizeof buf, &n, &e), BT_EINVAL);
	T_EQ_STR(e.rule, last);
	T_EQ_INT(bt_trk_scrape_url(LIT("http://t?announce"), NULL, 0, buf, sizeof buf, &n, &e), BT_EINVAL);
	T_EQ_STR(e.rule, "cannot scrape: the announce URL has no path");
	T_EQ_UINT(e.off, 8);
	T_EQ_INT(bt_trk_scrape_url(LIT("udp://t:1/announce"), NULL, 0, buf, sizeof buf, &n, &e), BT_EUNSUPP);
	T_EQ_INT(bt_trk_scrape_url(LIT("http://t/announce"), (const uint8_t (*)[20])ih0, 1,
				   buf, 20, &n, &e), BT_ENOSPC);
	T_EQ_UINT(n, strlen("http://t/scrape?info_hash=") + 60);
}

/* ---- HTTP announce responses ------------------------------------------ */

static struct bt_be_tok toks[4096];

static int announce(struct bt_trk_resp *r, const void *body, size_t len,
		    struct bt_peer_addr *peers, struct bt_trk_peer_info *info,
		    size_t cap, struct bt_trk_err *e)
{
	return bt_trk_parse_announce(r, t_guarded(body, len), len, toks,
				     sizeof toks / sizeof toks[0], peers, info, cap, e);
}

static const char compact_body[] =
	"d8:completei5e10:incompletei3e8:intervali1800e12:min intervali900e"
	"5:peers12:\x01\x02\x03\x04\x1a\xe1\xc0\xa8\x00\x01\x00\x50" "e";

static void test_resp_compact(void)
{
	struct bt_trk_resp r;
	struct bt_trk_err e;
	struct bt_peer_addr p[4];
	struct bt_trk_peer_info pi[4];
	char s[BT_ADDR_STRLEN];

	T_EQ_INT(announce(&r, LIT(compact_body), p, pi, 4, &e), BT_OK);
	T_EQ_INT(e.code, BT_OK);
	T_EQ_INT(r.interval, 1800);
	T_EQ_INT(r.min_interval, 900);
	T_EQ_INT(r.complete, 5);
	T_EQ_INT(r.incomplete, 3);
	T_EQ_INT(r.downloaded, BT_TRK_ABSENT);
	T_EQ_INT(r.peers_form, BT_TRK_PEERS_COMPACT);
	T_CHECK(!r.has_peers6);
	T_EQ_UINT(r.npeers, 2);
	T_EQ_UINT(r.nstored, 2);
	T_EQ_UINT(r.nhosts, 0);
	T_EQ_STR(fmt(&p[0], s), "1.2.3.4:6881");
	T_EQ_STR(fmt(&p[1], s), "192.168.0.1:80");
	T_CHECK(pi[0].ip == NULL && pi[0].id == NULL && !pi[0].is_host);
	T_CHECK(r.failure == NULL && r.warning == NULL && r.tracker_id == NULL);
	T_EQ_UINT(r.tolerated, 0);
	T_EQ_UINT(r.trailing, 0);
}

static void test_resp_compact_truncated_array(void)
{
	struct bt_trk_resp r;
	struct bt_peer_addr p[1];
	char s[BT_ADDR_STRLEN];

	T_EQ_INT(announce(&r, LIT(compact_body), p, NULL, 1, NULL), BT_OK);
	T_EQ_UINT(r.npeers, 2);
	T_EQ_UINT(r.nstored, 1);
	T_EQ_STR(fmt(&p[0], s), "1.2.3.4:6881");
	T_EQ_INT(announce(&r, LIT(compact_body), NULL, NULL, 0, NULL), BT_OK);
	T_EQ_UINT(r.npeers, 2);
	T_EQ_UINT(r.nstored, 0);
}

static void test_resp_dict_peers(void)
{
	static const char body[] =
		"d8:intervali60e5:peersl"
		"d2:ip7:1.2.3.47:peer id20:-qB4250-abcdefghijkl4:porti6881ee"
		"d2:ip3:::14:porti51413ee"
		"d2:ip16:peer.example.org4:porti1ee"
		"ee";
	struct bt_trk_resp r;
	struct bt_trk_err e;
	struct bt_peer_addr p[4];
	struct bt_trk_peer_info pi[4];
	char s[BT_ADDR_STRLEN];

	T_EQ_INT(announce(&r, LIT(body), p, pi, 4, &e), BT_OK);
	T_EQ_INT(r.interval, 60);
	T_EQ_INT(r.peers_form, BT_TRK_PEERS_DICT);
	T_EQ_UINT(r.npeers, 3);
	T_EQ_UINT(r.nstored, 3);
	T_EQ_UINT(r.nhosts, 1);
	T_EQ_STR(fmt(&p[0], s), "1.2.3.4:6881");
	VIEW_EQ(pi[0].id, pi[0].id_len, "-qB4250-abcdefghijkl");
	VIEW_EQ(pi[0].ip, pi[0].ip_len, "1.2.3.4");
	T_CHECK(!pi[0].is_host);
	T_EQ_STR(fmt(&p[1], s), "[::1]:51413");
	T_CHECK(pi[1].id == NULL);
	T_EQ_UINT(pi[1].id_len, 0);
	T_EQ_INT(p[2].family, 0);
	T_EQ_INT(p[2].port, 1);
	T_CHECK(pi[2].is_host);
	VIEW_EQ(pi[2].ip, pi[2].ip_len, "peer.example.org");
}

static void test_resp_dict_peer_errors(void)
{
	static const struct { const char *body; int code; size_t off; const char *rule; uint64_t v; } c[] = {
		{ "d5:peersli1eee", BT_EINVAL, 9, "peer entry is not a dictionary", 0 },
		{ "d5:peersld4:porti1eeee", BT_EINVAL, 9, "peer entry has no \"ip\"", 0 },
		{ "d5:peersld2:ipi1e4:porti1eeee", BT_EINVAL, 14, "peer \"ip\" is not a string", 0 },
		{ "d5:peersld2:ip0:4:porti1eeee", BT_EINVAL, 14, "peer \"ip\" is empty", 0 },
		{ "d5:peersld2:ip1:xeee", BT_EINVAL, 9, "peer entry has no \"port\"", 0 },
		{ "d5:peersld2:ip1:x4:port1:1eee", BT_EINVAL, 23, "peer \"port\" is not an integer", 0 },
		{ "d5:peersld2:ip1:x4:porti70000eeee", BT_EINVAL, 23,
		  "peer \"port\" out of range (0..65535)", 70000 },
		{ "d5:peersld2:ip1:x4:porti-1eeee", BT_EINVAL, 23,
		  "peer \"port\" out of range (0..65535)", (uint64_t)-1 },
		{ "d5:peersld2:ip1:x7:peer idi5e4:porti1eeee", BT_EINVAL, 26,
		  "peer \"peer id\" is not a string", 0 },
	};
	struct bt_trk_resp r;
	struct bt_trk_err e;
	struct bt_peer_addr p[2];
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		T_EQ_INT(announce(&r, c[i].body, strlen(c[i].body), p, NULL, 2, &e), c[i].code);
		T_EQ_UINT(e.off, c[i].off);
		T_EQ_STR(e.rule, c[i].rule);
		T_EQ_UINT(e.value, c[i].v);
	}
}

static void test_resp_peers6(void)
{
	/* BEP 7's example shape: peers (6 bytes) and peers6 (18 bytes). */
	static const char body[] =
		"d8:intervali1800e5:peers6:\x0a\x00\x00\x01\x1a\xe1"
		"6:peers618:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x1b\x39" "e";
	struct bt_trk_resp r;
	struct bt_peer_addr p[4];
	struct bt_trk_peer_info pi[4];
	char s[BT_ADDR_STRLEN];

	T_EQ_INT(announce(&r, LIT(body), p, pi, 4, NULL), BT_OK);
	T_CHECK(r.has_peers6);
	T_EQ_UINT(r.npeers, 2);
	T_EQ_UINT(r.npeers6, 1);
	T_EQ_STR(fmt(&p[0], s), "10.0.0.1:6881");
	T_EQ_STR(fmt(&p[1], s), "[2001:db8::1]:6969");
	T_CHECK(pi[1].ip == NULL);
}

static void test_resp_failure_warning_trackerid(void)
{
	static const char fail_body[] = "d14:failure reason17:torrent not founde";
	static const char warn_body[] =
		"d8:intervali30e5:peers0:10:tracker id3:a\x01" "b15:warning message11:slow down!!e";
	struct bt_trk_resp r;
	struct bt_trk_err e;
	struct bt_peer_addr p[1];

	T_EQ_INT(announce(&r, LIT(fail_body), p, NULL, 1, &e), BT_OK);
	VIEW_EQ(r.failure, r.failure_len, "torrent not found");
	T_EQ_INT(r.interval, BT_TRK_ABSENT);
	T_EQ_INT(r.peers_form, BT_TRK_PEERS_NONE);
	T_EQ_UINT(r.npeers, 0);

	T_EQ_INT(announce(&r, LIT(warn_body), p, NULL, 1, &e), BT_OK);
	T_CHECK(r.failure == NULL);
	VIEW_EQ(r.warning, r.warning_len, "slow down!!");
	T_EQ_MEM(r.tracker_id, r.tracker_id_len, "a\x01" "b", 3);
	T_EQ_INT(r.interval, 30);
	T_EQ_INT(r.peers_form, BT_TRK_PEERS_COMPACT);
	T_EQ_UINT(r.npeers, 0);
}

static void test_resp_external_ip(void)
{
	static const char b4[] = "d11:external ip4:\x7f\x00\x00\x01" "8:intervali1ee";
	static const char b3[] = "d11:external ip3:abc8:intervali1ee";
	struct bt_trk_resp r;
	char s[BT_ADDR_STRLEN];

	T_EQ_INT(announce(&r, LIT(b4), NULL, NULL, 0, NULL), BT_OK);
	T_CHECK(r.has_external_ip);
	T_EQ_STR(bt_addr_ip_fmt(&r.external_ip, s, sizeof s), "127.0.0.1");
	T_EQ_INT(announce(&r, LIT(b3), NULL, NULL, 0, NULL), BT_OK);
	T_CHECK(!r.has_external_ip);
	VIEW_EQ(r.external_raw, r.external_raw_len, "abc");
}

static void test_resp_not_multiple_of_6(void)
{
	static const char b13[] = "d5:peers13:0123456789abce";
	static const char b6[] = "d6:peers617:0123456789abcdefge";
	struct bt_trk_resp r;
	struct bt_trk_err e;
	struct bt_peer_addr p[4];

	T_EQ_INT(announce(&r, LIT(b13), p, NULL, 4, &e), BT_EINVAL);
	T_EQ_STR(e.rule, "compact \"peers\" length is not a multiple of 6");
	T_EQ_UINT(e.value, 13);
	T_EQ_UINT(e.off, 8);
	T_EQ_UINT(r.nstored, 0);
	T_EQ_INT(announce(&r, LIT(b6), p, NULL, 4, &e), BT_EINVAL);
	T_EQ_STR(e.rule, "\"peers6\" length is not a multiple of 18");
	T_EQ_UINT(e.value, 17);
	T_EQ_UINT(e.off, 9);
}

static void test_resp_not_bencode(void)
{
	static const struct { const char *body; size_t off; const char *rule; } c[] = {
		{ "<html><body>502 Bad Gateway</body></html>", 0, "not bencode: body looks like HTML" },
		{ "\r\n<!DOCTYPE html>", 2, "not bencode: body looks like HTML" },
		{ "Not Found", 0, "not bencode: body does not start with a dictionary" },
		{ "400 Bad Request", 0, "not bencode: body does not start with a dictionary" },
		{ "li1ee", 0, "bencode, but not a dictionary" },
		{ "i42e", 0, "bencode, but not a dictionary" },
		{ "4:spam", 0, "bencode, but not a dictionary" },
		{ "", 0, "not bencode: empty body" },
	};
	struct bt_trk_resp r;
	struct bt_trk_err e;
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		T_EQ_INT(announce(&r, c[i].body, strlen(c[i].body), NULL, NULL, 0, &e), BT_EINVAL);
		T_EQ_UINT(e.off, c[i].off);
		T_EQ_STR(e.rule, c[i].rule);
	}
	/* A dictionary that breaks a bencode rule: the decoder's rule. */
	T_EQ_INT(announce(&r, LIT("d8:intervali01x"), NULL, NULL, 0, &e), BT_EINVAL);
	T_EQ_UINT(e.off, 14);
}

static void test_resp_truncated(void)
{
	struct bt_trk_resp r;
	struct bt_trk_err e;
	struct bt_peer_addr p[4];
	size_t n;

	/* Every proper prefix of a valid body is "truncated". */
	for (n = 1; n < sizeof compact_body - 1; n++) {
		int rc = announce(&r, compact_body, n, p, NULL, 4, &e);
		if (rc != BT_NEED_MORE)
			T_FAILF("prefix %zu: %d", n, rc);
		else
			T_EQ_STR(e.rule, "truncated bencode");
	}
}

static void test_resp_huge_peers(void)
{
	/* Declared lengths: one that could still arrive (truncated), one
	 * past the decoder's 4 GiB limit, one past 32 bits. */
	static const char decl[] = "d5:peers4294967000:abc";
	static const char decl1[] = "d5:peers4294967295:abc";
	static const char decl2[] = "d5:peers99999999999:abc";
	const size_t max = BT_TRK_MAX_PEERS;
	struct bt_trk_resp r;
	struct bt_trk_err e;
	struct bt_peer_addr p[3];
	struct bt_be_tok t[8];
	char s[BT_ADDR_STRLEN];
	uint8_t *b;
	size_t n, hdr;

	T_EQ_INT(announce(&r, LIT(decl), p, NULL, 3, &e), BT_NEED_MORE);
	T_EQ_STR(e.rule, "truncated bencode");
	T_EQ_INT(announce(&r, LIT(decl1), p, NULL, 3, &e), BT_ETOOBIG);
	T_EQ_UINT(e.off, 8);
	T_EQ_INT(announce(&r, LIT(decl2), p, NULL, 3, &e), BT_ETOOBIG);
	T_EQ_UINT(e.off, 8);

	/* Exactly the cap: all counted, 3 stored; one more: refused. */
	b = malloc(32 + (max + 1) * 6);
	T_CHECK(b != NULL);
	if (!b)
		return;
	hdr = (size_t)sprintf((char *)b, "d5:peers%zu:", max * 6);
	for (n = 0; n < max * 6; n++)
		b[hdr + n] = (uint8_t)(n % 6 == 4 ? 0x1a : n % 6 == 5 ? 0xe1 : n % 6 + 1);
	b[hdr + max * 6] = 'e';
	n = hdr + max * 6 + 1;
	T_EQ_INT(bt_trk_parse_announce(&r, t_guarded(b, n), n, t, 8, p, NULL, 3, &e), BT_OK);
	T_EQ_UINT(r.npeers, max);
	T_EQ_UINT(r.nstored, 3);
	T_EQ_STR(fmt(&p[2], s), "1.2.3.4:6881");

	hdr = (size_t)sprintf((char *)b, "d5:peers%zu:", (max + 1) * 6);
	memset(b + hdr, 7, (max + 1) * 6);
	b[hdr + (max + 1) * 6] = 'e';
	n = hdr + (max + 1) * 6 + 1;
	T_EQ_INT(bt_trk_parse_announce(&r, t_guarded(b, n), n, t, 8, p, NULL, 3, &e), BT_ETOOBIG);
	T_EQ_STR(e.rule, "more peers than BT_TRK_MAX_PEERS");
	T_EQ_UINT(e.value, max + 1);
	T_EQ_UINT(r.nstored, 0);
	free(b);
}

static void test_resp_body_cap(void)
{
	struct bt_trk_resp r;
	struct bt_trk_err e;
	size_t n = BT_TRK_MAX_BODY + 1;
	uint8_t *b = malloc(n);

	T_CHECK(b != NULL);
	if (!b)
		return;
	memset(b, 'x', n);
	b[0] = 'd';
	T_EQ_INT(bt_trk_parse_announce(&r, b, n, toks, 4096, NULL, NULL, 0, &e), BT_ETOOBIG);
	T_EQ_STR(e.rule, "body larger than 8 MiB");
	T_EQ_UINT(e.value, n);
	free(b);
}

static void test_resp_wrong_types(void)
{
	static const struct { const char *body; size_t off; const char *rule; } c[] = {
		{ "d8:interval3:abce", 11, "\"interval\" is not an integer" },
		{ "d12:min intervallee", 16, "\"min interval\" is not an integer" },
		{ "d14:failure reasoni1ee", 18, "\"failure reason\" is not a string" },
		{ "d15:warning messagedee", 19, "\"warning message\" is not a string" },
		{ "d5:peersi1ee", 8, "\"peers\" is neither a string nor a list" },
		{ "d5:peersdee", 8, "\"peers\" is neither a string nor a list" },
		{ "d6:peers6lee", 9, "\"peers6\" is not a string" },
		{ "d8:completei1e10:downloaded1:xe", 27, "\"downloaded\" is not an integer" },
	};
	struct bt_trk_resp r;
	struct bt_trk_err e;
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		T_EQ_INT(announce(&r, c[i].body, strlen(c[i].body), NULL, NULL, 0, &e), BT_EINVAL);
		T_EQ_UINT(e.off, c[i].off);
		T_EQ_STR(e.rule, c[i].rule);
	}
}

static void test_resp_lenient(void)
{
	/* Unsorted keys and a trailing newline (some PHP trackers). */
	static const char body[] = "d8:intervali5e5:peers0:8:completei1ee\n";
	struct bt_trk_resp r;
	struct bt_trk_err e;
	struct bt_be_tok t[2];

	T_EQ_INT(announce(&r, LIT(body), NULL, NULL, 0, &e), BT_OK);
	T_CHECK(r.tolerated & BT_BE_TOL_UNSORTED);
	T_EQ_UINT(r.trailing, 1);
	T_EQ_INT(r.complete, 1);
	T_EQ_INT(bt_trk_parse_announce(&r, body, sizeof body - 1, t, 2, NULL, NULL, 0, &e),
		 BT_ENOSPC);
}

/* ---- HTTP scrape responses -------------------------------------------- */

static void test_scrape_resp(void)
{
	/* BEP 48's example, plus a name on the second entry. */
	static const char body[] =
		"d5:filesd20:xxxxxxxxxxxxxxxxxxxxd8:completei11e10:downloadedi13772e10:incompletei19ee"
		"20:yyyyyyyyyyyyyyyyyyyyd8:completei21e10:downloadedi206e10:incompletei20e4:name3:fooeee";
	struct bt_trk_scrape_resp r;
	struct bt_trk_scrape_entry en;
	struct bt_trk_err e;
	size_t it = 0;

	T_EQ_INT(bt_trk_parse_scrape(&r, t_guarded(body, sizeof body - 1), sizeof body - 1,
				     toks, 4096, &e), BT_OK);
	T_EQ_UINT(r.nfiles, 2);
	T_CHECK(bt_trk_scrape_next(&r, &it, &en));
	T_EQ_MEM(en.info_hash, 20, "xxxxxxxxxxxxxxxxxxxx", 20);
	T_EQ_INT(en.complete, 11);
	T_EQ_INT(en.downloaded, 13772);
	T_EQ_INT(en.incomplete, 19);
	T_CHECK(en.name == NULL);
	T_CHECK(bt_trk_scrape_next(&r, &it, &en));
	T_EQ_MEM(en.info_hash, 20, "yyyyyyyyyyyyyyyyyyyy", 20);
	T_EQ_INT(en.complete, 21);
	T_EQ_INT(en.downloaded, 206);
	T_EQ_INT(en.incomplete, 20);
	VIEW_EQ(en.name, en.name_len, "foo");
	T_CHECK(!bt_trk_scrape_next(&r, &it, &en));
	T_CHECK(!bt_trk_scrape_next(&r, &it, &en));
}

static void test_scrape_resp_edge(void)
{
	static const struct { const char *body; int code; size_t off; const char *rule; uint64_t v; } c[] = {
		{ "d5:filesd19:xxxxxxxxxxxxxxxxxxxdeee", BT_EINVAL, 9,
		  "\"files\" key is not a 20-byte info-hash", 19 },
		{ "d5:filesd20:xxxxxxxxxxxxxxxxxxxxi1eee", BT_EINVAL, 32,
		  "\"files\" entry is not a dictionary", 0 },
		{ "d5:filesd20:xxxxxxxxxxxxxxxxxxxxd8:complete1:1eee", BT_EINVAL, 43,
		  "scrape \"complete\" is not an integer", 0 },
		{ "d5:filesd20:xxxxxxxxxxxxxxxxxxxxd4:nameli1eeeee", BT_EINVAL, 39,
		  "scrape \"name\" is not a string", 0 },
		{ "d5:fileslee", BT_EINVAL, 8, "\"files\" is not a dictionary", 0 },
		{ "<html>", BT_EINVAL, 0, "not bencode: body looks like HTML", 0 },
		{ "d5:filesd20:xxxxxxxxxxxxxxxxxxxxde", BT_NEED_MORE, 34, "truncated bencode", 0 },
	};
	struct bt_trk_scrape_resp r;
	struct bt_trk_scrape_entry en;
	struct bt_trk_err e;
	size_t i, it = 0;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		size_t n = strlen(c[i].body);
		T_EQ_INT(bt_trk_parse_scrape(&r, t_guarded(c[i].body, n), n, toks, 4096, &e), c[i].code);
		T_EQ_UINT(e.off, c[i].off);
		T_EQ_STR(e.rule, c[i].rule);
		T_EQ_UINT(e.value, c[i].v);
	}
	T_EQ_INT(bt_trk_parse_scrape(&r, LIT("d14:failure reason6:no wayee"), toks, 4096, &e), BT_OK);
	VIEW_EQ(r.failure, r.failure_len, "no way");
	T_EQ_UINT(r.nfiles, 0);
	T_CHECK(!bt_trk_scrape_next(&r, &it, &en));
	T_EQ_INT(bt_trk_parse_scrape(&r, LIT("d5:filesdee"), toks, 4096, &e), BT_OK);
	T_EQ_UINT(r.nfiles, 0);
	T_CHECK(!bt_trk_scrape_next(&r, &it, &en));
	/* Absent counts. */
	T_EQ_INT(bt_trk_parse_scrape(&r, LIT("d5:filesd20:xxxxxxxxxxxxxxxxxxxxdeee"), toks, 4096, &e), BT_OK);
	it = 0;
	T_CHECK(bt_trk_scrape_next(&r, &it, &en));
	T_EQ_INT(en.complete, BT_TRK_ABSENT);
	T_EQ_INT(en.incomplete, BT_TRK_ABSENT);
	T_EQ_INT(en.downloaded, BT_TRK_ABSENT);
}

/* ---- UDP encoders ------------------------------------------------------ */

static void test_udp_connect_req(void)
{
	static const uint8_t want[16] = {
		0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, /* protocol id */
		0x00, 0x00, 0x00, 0x00,                         /* action 0 */
		0x12, 0x34, 0x56, 0x78,                         /* transaction id */
	};
	uint8_t out[32];
	struct bt_wr w;

	bt_wr_init(&w, out, sizeof out);
	T_EQ_INT(bt_udp_connect_req(&w, 0x12345678), BT_OK);
	T_EQ_MEM(out, w.len, want, sizeof want);
	bt_wr_init(&w, out, 15);
	T_EQ_INT(bt_udp_connect_req(&w, 0x12345678), BT_ENOSPC);
	T_EQ_UINT(w.len, 16);
}

static const uint8_t ann_want[98] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* connection id */
	0x00, 0x00, 0x00, 0x01,                         /* action 1 */
	0xde, 0xad, 0xbe, 0xef,                         /* transaction id */
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, /* info_hash */
	0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
	'-', 'B', 'K', '0', '0', '0', '1', '-', 'a', 'b',           /* peer_id */
	'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l',
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x11, /* downloaded */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* left */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, /* uploaded */
	0x00, 0x00, 0x00, 0x02,                         /* event: started */
	0x00, 0x00, 0x00, 0x00,                         /* ip */
	0xca, 0xfe, 0xba, 0xbe,                         /* key */
	0xff, 0xff, 0xff, 0xff,                         /* num_want -1 */
	0x1a, 0xe1,                                     /* port 6881 */
};

static void fill_udp_announce(struct bt_udp_announce *a)
{
	memset(a, 0, sizeof *a);
	a->connection_id = 0x0102030405060708ull;
	a->transaction_id = 0xdeadbeef;
	memcpy(a->info_hash, ih0, 20);
	memcpy(a->peer_id, pid, 20);
	a->downloaded = 0x1111;
	a->left = 0x100000000ull;
	a->uploaded = 5;
	a->event = BT_TRK_EV_STARTED;
	a->key = 0xcafebabe;
	a->num_want = -1;
	a->port = 6881;
}

static void test_udp_announce_req(void)
{
	struct bt_udp_announce a;
	uint8_t out[128];
	struct bt_wr w;

	fill_udp_announce(&a);
	bt_wr_init(&w, out, sizeof out);
	T_EQ_INT(bt_udp_announce_req(&w, &a), BT_OK);
	T_EQ_UINT(w.len, BT_UDP_ANNOUNCE_LEN);
	T_EQ_MEM(out, w.len, ann_want, sizeof ann_want);
	bt_wr_init(&w, out, 97);
	T_EQ_INT(bt_udp_announce_req(&w, &a), BT_ENOSPC);
	T_EQ_UINT(w.len, 98);
}

static void test_udp_announce_urldata(void)
{
	/* BEP 41's example: udp://tracker.example.com:80/dir?a=b&c=d */
	static const uint8_t opt[] = { 0x2, 0xC, '/', 'd', 'i', 'r', '?', 'a', '=', 'b',
				       '&', 'c', '=', 'd' };
	static char big[BT_URL_MAX_LEN + 1];
	struct bt_udp_announce a;
	struct bt_url u;
	static uint8_t out[8192];
	struct bt_wr w;
	size_t i;

	fill_udp_announce(&a);
	T_EQ_INT(bt_url_parse(&u, LIT("udp://tracker.example.com:80/dir?a=b&c=d"), NULL), BT_OK);
	a.url_data_set = true;
	a.url_data = u.target;
	a.url_data_len = u.target_len;
	bt_wr_init(&w, out, sizeof out);
	T_EQ_INT(bt_udp_announce_req(&w, &a), BT_OK);
	T_EQ_UINT(w.len, 98 + sizeof opt);
	T_EQ_MEM(out, 98, ann_want, 98);
	T_EQ_MEM(out + 98, w.len - 98, opt, sizeof opt);

	/* No path or query: an empty option says the client supports it. */
	a.url_data = "";
	a.url_data_len = 0;
	bt_wr_init(&w, out, sizeof out);
	T_EQ_INT(bt_udp_announce_req(&w, &a), BT_OK);
	T_EQ_UINT(w.len, 100);
	T_EQ_INT(out[98], 2);
	T_EQ_INT(out[99], 0);

	/* 300 bytes: 255 + 45, each with its own 0x2 and length. */
	for (i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	a.url_data = big;
	a.url_data_len = 300;
	bt_wr_init(&w, out, sizeof out);
	T_EQ_INT(bt_udp_announce_req(&w, &a), BT_OK);
	T_EQ_UINT(w.len, 98 + 2 + 255 + 2 + 45);
	T_EQ_INT(out[98], 0x02);
	T_EQ_INT(out[99], 0xff);
	T_EQ_MEM(out + 100, 255, big, 255);
	T_EQ_INT(out[355], 0x02);
	T_EQ_INT(out[356], 45);
	T_EQ_MEM(out + 357, 45, big + 255, 45);

	/* Exactly 255 and 510: no empty trailing option. */
	a.url_data_len = 255;
	bt_wr_init(&w, out, sizeof out);
	T_EQ_INT(bt_udp_announce_req(&w, &a), BT_OK);
	T_EQ_UINT(w.len, 98 + 2 + 255);
	a.url_data_len = 510;
	bt_wr_init(&w, out, sizeof out);
	T_EQ_INT(bt_udp_announce_req(&w, &a), BT_OK);
	T_EQ_UINT(w.len, 98 + 2 * 257);
	T_EQ_INT(out[98 + 257], 0x02);
	T_EQ_INT(out[98 + 258], 0xff);

	/* Over the cap: refused, nothing written. */
	a.url_data_len = BT_URL_MAX_LEN + 1;
	bt_wr_init(&w, out, sizeof out);
	T_EQ_INT(bt_udp_announce_req(&w, &a), BT_ETOOBIG);
	T_EQ_UINT(w.len, 0);
}

static void test_udp_scrape_req(void)
{
	static const uint8_t want[56] = {
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x00, 0x00, 0x00, 0x02,
		0x00, 0x00, 0x00, 0x01,
		'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a',
		'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a',
		'b', 'b', 'b', 'b', 'b', 'b', 'b', 'b', 'b', 'b',
		'b', 'b', 'b', 'b', 'b', 'b', 'b', 'b', 'b', 'b',
	};
	static uint8_t h[75][20];
	static uint8_t out[2048];
	struct bt_wr w;

	memset(h[0], 'a', 20);
	memset(h[1], 'b', 20);
	bt_wr_init(&w, out, sizeof out);
	T_EQ_INT(bt_udp_scrape_req(&w, 0x0102030405060708ull, 1, (const uint8_t (*)[20])h, 2), BT_OK);
	T_EQ_MEM(out, w.len, want, sizeof want);
	bt_wr_init(&w, out, sizeof out);
	T_EQ_INT(bt_udp_scrape_req(&w, 1, 1, (const uint8_t (*)[20])h, 74), BT_OK);
	T_EQ_UINT(w.len, 16 + 74 * 20);
	bt_wr_init(&w, out, sizeof out);
	T_EQ_INT(bt_udp_scrape_req(&w, 1, 1, (const uint8_t (*)[20])h, 75), BT_ETOOBIG);
	T_EQ_UINT(w.len, 0);
	T_EQ_INT(bt_udp_scrape_req(&w, 1, 1, (const uint8_t (*)[20])h, 0), BT_EINVAL);
}

/* ---- UDP parsers ------------------------------------------------------- */

static void test_udp_connect_resp(void)
{
	static const uint8_t ok[] = {
		0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	};
	static const uint8_t act1[] = { 0, 0, 0, 1, 0x12, 0x34, 0x56, 0x78, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t err3[] = { 0, 0, 0, 3, 0x12, 0x34, 0x56, 0x78, 'n', 'o' };
	uint8_t longer[20];
	struct bt_trk_err e;
	uint64_t cid = 0;
	size_t n;

	T_EQ_INT(bt_udp_parse_connect(t_guarded(ok, 16), 16, 0x12345678, &cid, &e), BT_OK);
	T_EQ_UINT(cid, 0x0102030405060708ull);
	T_EQ_INT(e.problem, BT_UDP_P_NONE);
	memcpy(longer, ok, 16);
	memset(longer + 16, 0xee, 4);
	T_EQ_INT(bt_udp_parse_connect(t_guarded(longer, 20), 20, 0x12345678, &cid, &e), BT_OK);

	T_EQ_INT(bt_udp_parse_connect(t_guarded(ok, 16), 16, 0x12345679, &cid, &e), BT_EINVAL);
	T_EQ_INT(e.problem, BT_UDP_P_TID);
	T_EQ_UINT(e.value, 0x12345678);
	T_EQ_UINT(e.off, 4);
	T_EQ_STR(e.rule, "transaction id differs from the one sent");

	T_EQ_INT(bt_udp_parse_connect(t_guarded(act1, 16), 16, 0x12345678, &cid, &e), BT_EINVAL);
	T_EQ_INT(e.problem, BT_UDP_P_ACTION);
	T_EQ_UINT(e.value, 1);

	T_EQ_INT(bt_udp_parse_connect(t_guarded(err3, 10), 10, 0x12345678, &cid, &e), BT_EINVAL);
	T_EQ_INT(e.problem, BT_UDP_P_ERROR);
	T_EQ_STR(bt_udp_problem_name(e.problem), "tracker error");

	for (n = 0; n < 16; n++) {
		T_EQ_INT(bt_udp_parse_connect(t_guarded(ok, n), n, 0x12345678, &cid, &e), BT_NEED_MORE);
		T_EQ_INT(e.problem, BT_UDP_P_SHORT);
		T_EQ_UINT(e.value, n);
	}
	T_EQ_STR(e.rule, "connect response shorter than 16 bytes");
}

static const uint8_t ann_resp[] = {
	0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef,
	0x00, 0x00, 0x07, 0x08,           /* interval 1800 */
	0x00, 0x00, 0x00, 0x05,           /* leechers */
	0x00, 0x00, 0x00, 0x0a,           /* seeders */
	0x01, 0x02, 0x03, 0x04, 0x1a, 0xe1,
	0xc0, 0xa8, 0x00, 0x01, 0x00, 0x50,
	0x00,                             /* one stray byte, cut below */
};

static void test_udp_announce_resp(void)
{
	struct bt_udp_announce_resp r;
	struct bt_peer_addr p[4];
	struct bt_trk_err e;
	char s[BT_ADDR_STRLEN];
	size_t n;

	T_EQ_INT(bt_udp_parse_announce(t_guarded(ann_resp, 32), 32, 0xdeadbeef, 4, &r, p, 4, &e), BT_OK);
	T_EQ_UINT(r.interval, 1800);
	T_EQ_UINT(r.leechers, 5);
	T_EQ_UINT(r.seeders, 10);
	T_EQ_UINT(r.npeers, 2);
	T_EQ_UINT(r.nstored, 2);
	T_EQ_STR(fmt(&p[0], s), "1.2.3.4:6881");
	T_EQ_STR(fmt(&p[1], s), "192.168.0.1:80");

	T_EQ_INT(bt_udp_parse_announce(t_guarded(ann_resp, 32), 32, 0xdeadbeef, 4, &r, p, 1, &e), BT_OK);
	T_EQ_UINT(r.npeers, 2);
	T_EQ_UINT(r.nstored, 1);

	T_EQ_INT(bt_udp_parse_announce(t_guarded(ann_resp, 20), 20, 0xdeadbeef, 4, &r, p, 4, &e), BT_OK);
	T_EQ_UINT(r.npeers, 0);

	T_EQ_INT(bt_udp_parse_announce(t_guarded(ann_resp, 33), 33, 0xdeadbeef, 4, &r, p, 4, &e), BT_EINVAL);
	T_EQ_INT(e.problem, BT_UDP_P_STRIDE);
	T_EQ_UINT(e.value, 13);
	T_EQ_UINT(e.off, 20);
	T_EQ_STR(e.rule, "peer list length is not a multiple of 6");

	/* The same 12 bytes over IPv6 are not whole 18-byte peers. */
	T_EQ_INT(bt_udp_parse_announce(t_guarded(ann_resp, 32), 32, 0xdeadbeef, 6, &r, p, 4, &e), BT_EINVAL);
	T_EQ_INT(e.problem, BT_UDP_P_STRIDE);
	T_EQ_UINT(e.value, 12);
	T_EQ_STR(e.rule, "peer list length is not a multiple of 18");

	T_EQ_INT(bt_udp_parse_announce(t_guarded(ann_resp, 32), 32, 0xdeadbeee, 4, &r, p, 4, &e), BT_EINVAL);
	T_EQ_INT(e.problem, BT_UDP_P_TID);
	T_EQ_UINT(e.value, 0xdeadbeef);

	for (n = 0; n < 20; n++) {
		T_EQ_INT(bt_udp_parse_announce(t_guarded(ann_resp, n), n, 0xdeadbeef, 4, &r, p, 4, &e),
			 BT_NEED_MORE);
		T_EQ_INT(e.problem, BT_UDP_P_SHORT);
	}
	T_EQ_STR(e.rule, "announce response shorter than 20 bytes");
	T_EQ_INT(bt_udp_parse_announce(ann_resp, 32, 0xdeadbeef, 5, &r, p, 4, &e), BT_EINVAL);
	T_EQ_STR(e.rule, "address family is not 4 or 6");
}

static void test_udp_announce_resp6(void)
{
	static const uint8_t pkt[] = {
		0, 0, 0, 1, 0, 0, 0, 7,
		0, 0, 0, 60, 0, 0, 0, 1, 0, 0, 0, 2,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x1b, 0x39,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1, 0x00, 0x50,
	};
	struct bt_udp_announce_resp r;
	struct bt_peer_addr p[4];
	struct bt_trk_err e;
	char s[BT_ADDR_STRLEN];

	T_EQ_INT(bt_udp_parse_announce(t_guarded(pkt, sizeof pkt), sizeof pkt, 7, 6, &r, p, 4, &e), BT_OK);
	T_EQ_UINT(r.interval, 60);
	T_EQ_UINT(r.npeers, 2);
	T_EQ_STR(fmt(&p[0], s), "[2001:db8::1]:6969");
	T_EQ_STR(fmt(&p[1], s), "[::ffff:10.0.0.1]:80");
}

static void test_udp_scrape_resp(void)
{
	static const uint8_t pkt[] = {
		0, 0, 0, 2, 0, 0, 0, 9,
		0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
		0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0,
		0xaa, 0xbb, 0xcc, 0xdd, 0xee,
	};
	struct bt_udp_scrape_entry s[2];
	struct bt_trk_err e;
	size_t n;

	T_EQ_INT(bt_udp_parse_scrape(t_guarded(pkt, 32), 32, 9, s, 2, &n, &e), BT_OK);
	T_EQ_UINT(n, 2);
	T_EQ_UINT(s[0].seeders, 1);
	T_EQ_UINT(s[0].completed, 2);
	T_EQ_UINT(s[0].leechers, 3);
	T_EQ_UINT(s[1].seeders, 256);
	T_EQ_UINT(s[1].completed, 512);
	T_EQ_UINT(s[1].leechers, 768);
	T_EQ_INT(bt_udp_parse_scrape(t_guarded(pkt, 32), 32, 9, s, 1, &n, &e), BT_OK);
	T_EQ_UINT(n, 2);
	T_EQ_INT(bt_udp_parse_scrape(t_guarded(pkt, 8), 8, 9, s, 2, &n, &e), BT_OK);
	T_EQ_UINT(n, 0);
	T_EQ_INT(bt_udp_parse_scrape(t_guarded(pkt, 37), 37, 9, s, 2, &n, &e), BT_EINVAL);
	T_EQ_INT(e.problem, BT_UDP_P_STRIDE);
	T_EQ_UINT(e.value, 29);
	T_EQ_INT(bt_udp_parse_scrape(t_guarded(pkt, 32), 32, 8, s, 2, &n, &e), BT_EINVAL);
	T_EQ_INT(e.problem, BT_UDP_P_TID);
	T_EQ_INT(bt_udp_parse_scrape(t_guarded(pkt, 7), 7, 9, s, 2, &n, &e), BT_NEED_MORE);
	T_EQ_INT(e.problem, BT_UDP_P_SHORT);
	T_EQ_STR(e.rule, "packet shorter than 8 bytes");
}

static void test_udp_error_resp(void)
{
	static const uint8_t pkt[] = {
		0, 0, 0, 3, 0xca, 0xfe, 0x00, 0x01,
		'u', 'n', 'k', 'n', 'o', 'w', 'n', ' ', 't', 'o', 'r', 'r', 'e', 'n', 't',
	};
	const uint8_t *m;
	size_t ml;
	struct bt_trk_err e;
	struct bt_udp_announce_resp r;

	T_EQ_INT(bt_udp_parse_error(t_guarded(pkt, sizeof pkt), sizeof pkt, 0xcafe0001, &m, &ml, &e), BT_OK);
	VIEW_EQ(m, ml, "unknown torrent");
	T_EQ_INT(bt_udp_parse_error(t_guarded(pkt, 8), 8, 0xcafe0001, &m, &ml, &e), BT_OK);
	T_EQ_UINT(ml, 0);
	T_EQ_INT(bt_udp_parse_error(t_guarded(pkt, sizeof pkt), sizeof pkt, 0xcafe0002, &m, &ml, &e), BT_EINVAL);
	T_EQ_INT(e.problem, BT_UDP_P_TID);
	T_CHECK(m == NULL);
	T_EQ_INT(bt_udp_parse_error(t_guarded(ann_resp, 32), 32, 0xdeadbeef, &m, &ml, &e), BT_EINVAL);
	T_EQ_INT(e.problem, BT_UDP_P_ACTION);
	T_EQ_UINT(e.value, 1);
	/* An announce parser given the error packet says so. */
	T_EQ_INT(bt_udp_parse_announce(t_guarded(pkt, sizeof pkt), sizeof pkt, 0xcafe0001, 4,
				       &r, NULL, 0, &e), BT_EINVAL);
	T_EQ_INT(e.problem, BT_UDP_P_ERROR);
	T_EQ_UINT(e.value, 3);
	T_EQ_STR(e.rule, "tracker sent an error packet (action 3)");
}

static void test_udp_timeouts(void)
{
	static const unsigned want[9] = { 15, 30, 60, 120, 240, 480, 960, 1920, 3840 };
	unsigned n;

	for (n = 0; n < 9; n++)
		T_EQ_UINT(bt_udp_timeout_s(n), want[n]);
	T_EQ_UINT(bt_udp_timeout_s(9), 0);
	T_EQ_UINT(bt_udp_timeout_s(1000), 0);
	T_CHECK(bt_udp_conn_id_fresh(1000, 1000));
	T_CHECK(bt_udp_conn_id_fresh(1000, 60999));
	T_CHECK(!bt_udp_conn_id_fresh(1000, 61000));
	T_CHECK(!bt_udp_conn_id_fresh(2000, 1000));
	T_EQ_INT(BT_UDP_CONN_ID_LIFETIME_S, 60);
}

/* A scrape response nobody parsed (zeroed) has no entries, and iterating
 * it must not touch the missing token array. */
static void test_scrape_next_zeroed(void)
{
	struct bt_trk_scrape_resp r;
	struct bt_trk_scrape_entry e;
	size_t it = 0;

	memset(&r, 0, sizeof r);
	T_CHECK(!bt_trk_scrape_next(&r, &it, &e));
	r.files = -1;
	T_CHECK(!bt_trk_scrape_next(&r, &it, &e));
}

int main(void)
{
	T_RUN(test_announce_url_full);
	T_RUN(test_announce_url_minimal_and_query);
	T_RUN(test_announce_url_every_byte);
	T_RUN(test_announce_url_events_and_options);
	T_RUN(test_announce_url_errors);
	T_RUN(test_scrape_url);
	T_RUN(test_scrape_url_failures);
	T_RUN(test_resp_compact);
	T_RUN(test_resp_compact_truncated_array);
	T_RUN(test_resp_dict_peers);
	T_RUN(test_resp_dict_peer_errors);
	T_RUN(test_resp_peers6);
	T_RUN(test_resp_failure_warning_trackerid);
	T_RUN(test_resp_external_ip);
	T_RUN(test_resp_not_multiple_of_6);
	T_RUN(test_resp_not_bencode);
	T_RUN(test_resp_truncated);
	T_RUN(test_resp_huge_peers);
	T_RUN(test_resp_body_cap);
	T_RUN(test_resp_wrong_types);
	T_RUN(test_resp_lenient);
	T_RUN(test_scrape_resp);
	T_RUN(test_scrape_resp_edge);
	T_RUN(test_udp_connect_req);
	T_RUN(test_udp_announce_req);
	T_RUN(test_udp_announce_urldata);
	T_RUN(test_udp_scrape_req);
	T_RUN(test_udp_connect_resp);
	T_RUN(test_udp_announce_resp);
	T_RUN(test_udp_announce_resp6);
	T_RUN(test_udp_scrape_resp);
	T_RUN(test_udp_error_resp);
	T_RUN(test_udp_timeouts);
	T_RUN(test_scrape_next_zeroed);
	return T_DONE();
}
