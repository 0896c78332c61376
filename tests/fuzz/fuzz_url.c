/* Tracker URLs and percent-encoding (url.h), and the tracker URLs built
 * from them (tracker.h), on any bytes.
 *
 * bt_url_parse: on success every view lies in the input, path + query
 * form the target, the host obeys its rules, the port is the explicit or
 * default one.  For an http(s) URL, the announce and scrape URLs built
 * from it parse again to the same scheme, host and port, and the buffer
 * contract holds (exact length, BT_ENOSPC one byte short).
 * bt_url_decode: never grows, in place gives the same bytes.
 * bt_url_encode: only unreserved bytes and %XX, bt_url_encoded_len says
 * how many, and decoding gives the input back. */
#include "fuzz.h"
#include "tracker.h"
#include "url.h"

static bool unreserved(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == '~';
}

static void same_origin(const struct bt_url *u, const char *built, size_t n)
{
	struct bt_url v;
	struct bt_url_err e;

	FUZZ_CHECK(strlen(built) == n);
	FUZZ_CHECK(bt_url_parse(&v, built, n, &e) == BT_OK);
	FUZZ_CHECK(v.scheme == u->scheme && v.port == u->port);
	FUZZ_CHECK(v.host_len == u->host_len && memcmp(v.host, u->host, u->host_len) == 0);
	FUZZ_CHECK(v.has_query && !v.has_fragment);
}

static void build(const struct bt_url *u, const char *s, size_t len,
		  const uint8_t *data, size_t size)
{
	struct bt_trk_announce a;
	struct bt_trk_err err;
	uint8_t hashes[3][20];
	size_t n, n2, i;
	char *buf;
	int rc;

	bt_trk_announce_init(&a);
	for (i = 0; i < 20; i++) {
		a.info_hash[i] = data[i % size];
		a.peer_id[i] = (uint8_t)(data[(i * 7) % size] + i);
	}
	a.port = (uint16_t)size;
	a.left = (uint64_t)-1;
	a.event = BT_TRK_EV_STARTED;
	a.numwant = 50;
	a.compact = BT_TRK_COMPACT_YES;
	a.key = (const char *)data;
	a.key_len = size < 8 ? size : 8;
	rc = bt_trk_announce_url(&a, s, len, NULL, 0, &n, &err);
	if (u->scheme == BT_URL_UDP) {
		FUZZ_CHECK(rc == BT_EUNSUPP);
		return;
	}
	FUZZ_CHECK(rc == BT_ENOSPC && err.value == n + 1);
	buf = malloc(n + 1);
	if (!buf)
		abort();
	buf[0] = 'X';
	FUZZ_CHECK(bt_trk_announce_url(&a, s, len, buf, n, &n2, &err) == BT_ENOSPC);
	FUZZ_CHECK(n2 == n && (n == 0 || buf[0] == '\0'));
	FUZZ_CHECK(bt_trk_announce_url(&a, s, len, buf, n + 1, &n2, &err) == BT_OK);
	FUZZ_CHECK(n2 == n);
	same_origin(u, buf, n);
	free(buf);

	memcpy(hashes, a.info_hash, 20);
	memcpy(hashes[1], a.peer_id, 20);
	memset(hashes[2], 0, 20);
	rc = bt_trk_scrape_url(s, len, hashes, 3, NULL, 0, &n, &err);
	if (rc == BT_EINVAL) {
		FUZZ_CHECK(err.rule && strncmp(err.rule, "cannot scrape", 13) == 0);
		return;
	}
	FUZZ_CHECK(rc == BT_ENOSPC);
	buf = malloc(n + 1);
	if (!buf)
		abort();
	FUZZ_CHECK(bt_trk_scrape_url(s, len, hashes, 3, buf, n + 1, &n2, &err) == BT_OK);
	FUZZ_CHECK(n2 == n);
	same_origin(u, buf, n);
	FUZZ_CHECK(strstr(buf, "scrape") != NULL);
	free(buf);
}

static void check_parse(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct bt_url u;
	struct bt_url_err err;
	int rc = bt_url_parse(&u, s, size, &err);
	uint8_t ip[16];

	if (rc != BT_OK) {
		FUZZ_CHECK(rc == BT_EINVAL || rc == BT_EUNSUPP || rc == BT_ETOOBIG);
		FUZZ_CHECK(err.code == rc && err.rule != NULL);
		FUZZ_CHECK(err.off <= size);
		return;
	}
	FUZZ_CHECK(size <= BT_URL_MAX_LEN);
	FUZZ_CHECK(u.scheme >= BT_URL_HTTP && u.scheme <= BT_URL_UDP);
	FUZZ_CHECK(fz_inside(u.userinfo, u.userinfo_len, s, size));
	FUZZ_CHECK(fz_inside(u.host, u.host_len, s, size));
	FUZZ_CHECK(fz_inside(u.path, u.path_len, s, size));
	FUZZ_CHECK(fz_inside(u.query, u.query_len, s, size));
	FUZZ_CHECK(fz_inside(u.fragment, u.fragment_len, s, size));
	FUZZ_CHECK(fz_inside(u.target, u.target_len, s, size));
	FUZZ_CHECK(u.host_len > 0 && u.host_len <= BT_URL_MAX_HOST);
	FUZZ_CHECK(u.port != 0);
	FUZZ_CHECK(u.port_given || u.port == bt_url_default_port(u.scheme));
	FUZZ_CHECK(u.path_len == 0 || u.path[0] == '/');
	FUZZ_CHECK(u.target == u.path);
	FUZZ_CHECK(u.target_len == u.path_len + (u.has_query ? 1 + u.query_len : 0));
	FUZZ_CHECK(!u.has_query || u.path[u.path_len] == '?');
	FUZZ_CHECK(u.has_query || u.query_len == 0);
	FUZZ_CHECK(u.has_fragment || u.fragment_len == 0);
	FUZZ_CHECK(!u.has_fragment || (u.fragment[-1] == '#' &&
		   u.fragment + u.fragment_len == s + size));
	FUZZ_CHECK(memchr(u.host, '@', u.host_len) == NULL);
	if (u.host_family) {
		FUZZ_CHECK(bt_url_ip_literal(u.host, u.host_len, ip) == u.host_family);
		FUZZ_CHECK(memcmp(ip, u.ip, 16) == 0);
	} else {
		FUZZ_CHECK(bt_url_ip_literal(u.host, u.host_len, ip) != 4);
	}
	if (size)
		build(&u, s, size, data, size);
}

static void check_codec(const uint8_t *data, size_t size)
{
	uint8_t *dec = malloc(size + 1), *inplace = fz_dup(data, size), *enc, *back;
	struct bt_url_err err;
	struct bt_wr w;
	long n, n2;
	size_t i, elen;

	if (!dec)
		abort();
	n = bt_url_decode((const char *)data, size, dec, size, &err);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n <= size);
		n2 = bt_url_decode((const char *)inplace, size, inplace, size, NULL);
		FUZZ_CHECK(n2 == n && memcmp(inplace, dec, (size_t)n) == 0);
		if (n > 0)
			FUZZ_CHECK(bt_url_decode((const char *)data, size, dec, (size_t)n - 1,
						 &err) == BT_ENOSPC);
	} else {
		FUZZ_CHECK(n == BT_EINVAL && err.off < size && data[err.off] == '%');
	}

	/* Encode any bytes, then decode: the same bytes. */
	elen = bt_url_encoded_len(data, size);
	enc = malloc(elen + 1);
	back = malloc(size + 1);
	if (!enc || !back)
		abort();
	bt_wr_init(&w, enc, elen);
	bt_url_encode(&w, data, size);
	FUZZ_CHECK(bt_wr_ok(&w) && w.len == elen);
	for (i = 0; i < elen; i++) {
		if (enc[i] == '%') {
			FUZZ_CHECK(i + 2 < elen);
			FUZZ_CHECK(strchr("0123456789ABCDEF", enc[i + 1]) && enc[i + 1]);
			FUZZ_CHECK(strchr("0123456789ABCDEF", enc[i + 2]) && enc[i + 2]);
			i += 2;
		} else {
			FUZZ_CHECK(unreserved(enc[i]));
		}
	}
	n = bt_url_decode((const char *)enc, elen, back, size, NULL);
	FUZZ_CHECK(n == (long)size && memcmp(back, data, size) == 0);
	free(dec);
	free(inplace);
	free(enc);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parse(data, size);
	check_codec(data, size);
	return 0;
}
