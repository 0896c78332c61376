/* peerid.c — client name from a peer id (BEP 20); our own peer id.
 *
 * Every branch checks the exact bytes it reads against a fixed alphabet
 * before printing them, so the only peer bytes that reach the output
 * unescaped are ASCII letters, digits and '.'. */
#include "peerid.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define UTF8_MU "\xc2\xb5"  /* µ */

enum vstyle {
	V_PARTS4,   /* a.b.c.d, base-36 digits (libtorrent's fingerprint) */
	V_TR,       /* Transmission */
	V_UT,       /* µTorrent: a.b.c and a build char */
	V_PARTS3,   /* a.b.c, and .d only when d is not 0 */
	V_BC,       /* BitComet: -BC0059- is 0.59, the first version to use
		       this style (BEP 20) */
};

struct az_client {
	char code[2];
	enum vstyle style;
	const char *name;
};

/* BEP 20's list, plus codes in common use since (BI, BK, BT, PI, UM). */
static const struct az_client az_clients[] = {
	{ "AG", V_PARTS4, "Ares" },
	{ "A~", V_PARTS4, "Ares" },
	{ "AR", V_PARTS4, "Arctic" },
	{ "AV", V_PARTS4, "Avicora" },
	{ "AX", V_PARTS4, "BitPump" },
	{ "AZ", V_PARTS4, "Vuze (Azureus)" },
	{ "BB", V_PARTS4, "BitBuddy" },
	{ "BC", V_BC,     "BitComet" },
	{ "BF", V_PARTS4, "Bitflu" },
	{ "BG", V_PARTS4, "BTG" },
	{ "BI", V_PARTS4, "BiglyBT" },
	{ "BK", V_PARTS4, "btkit" },
	{ "BR", V_PARTS4, "BitRocket" },
	{ "BS", V_PARTS4, "BTSlave" },
	{ "BT", V_UT,     "BitTorrent" },
	{ "BX", V_PARTS4, "~Bittorrent X" },
	{ "CD", V_PARTS4, "Enhanced CTorrent" },
	{ "CT", V_PARTS4, "CTorrent" },
	{ "DE", V_PARTS4, "Deluge" },
	{ "DP", V_PARTS4, "Propagate Data Client" },
	{ "EB", V_PARTS4, "EBit" },
	{ "ES", V_PARTS4, "electric sheep" },
	{ "FT", V_PARTS4, "FoxTorrent" },
	{ "FW", V_PARTS4, "FrostWire" },
	{ "FX", V_PARTS4, "Freebox BitTorrent" },
	{ "GS", V_PARTS4, "GSTorrent" },
	{ "HL", V_PARTS4, "Halite" },
	{ "HN", V_PARTS4, "Hydranode" },
	{ "KG", V_PARTS4, "KGet" },
	{ "KT", V_PARTS4, "KTorrent" },
	{ "LH", V_PARTS4, "LH-ABC" },
	{ "LP", V_PARTS4, "Lphant" },
	{ "LT", V_PARTS4, "libtorrent (Rasterbar)" },
	{ "lt", V_PARTS3, "libtorrent (rakshasa)" },
	{ "LW", V_PARTS4, "LimeWire" },
	{ "MO", V_PARTS4, "MonoTorrent" },
	{ "MP", V_PARTS4, "MooPolice" },
	{ "MR", V_PARTS4, "Miro" },
	{ "MT", V_PARTS4, "MoonlightTorrent" },
	{ "NX", V_PARTS4, "Net Transport" },
	{ "PD", V_PARTS4, "Pando" },
	{ "PI", V_PARTS4, "PicoTorrent" },
	{ "qB", V_PARTS4, "qBittorrent" },
	{ "QD", V_PARTS4, "QQDownload" },
	{ "QT", V_PARTS4, "Qt 4 Torrent example" },
	{ "RT", V_PARTS4, "Retriever" },
	{ "S~", V_PARTS4, "Shareaza alpha/beta" },
	{ "SB", V_PARTS4, "~Swiftbit" },
	{ "SS", V_PARTS4, "SwarmScope" },
	{ "ST", V_PARTS4, "SymTorrent" },
	{ "st", V_PARTS4, "sharktorrent" },
	{ "SZ", V_PARTS4, "Shareaza" },
	{ "TN", V_PARTS4, "TorrentDotNET" },
	{ "TR", V_TR,     "Transmission" },
	{ "TS", V_PARTS4, "Torrentstorm" },
	{ "TT", V_PARTS4, "TuoTu" },
	{ "UL", V_PARTS4, "uLeecher!" },
	{ "UM", V_UT,     UTF8_MU "Torrent Mac" },
	{ "UT", V_UT,     UTF8_MU "Torrent" },
	{ "UW", V_UT,     UTF8_MU "Torrent Web" },
	{ "VG", V_PARTS4, "Vagaa" },
	{ "WD", V_PARTS4, "WebTorrent Desktop" },
	{ "WT", V_PARTS4, "BitLet" },
	{ "WW", V_PARTS4, "WebTorrent" },
	{ "WY", V_PARTS4, "FireTorrent" },
	{ "XL", V_PARTS4, "Xunlei" },
	{ "XT", V_PARTS4, "XanTorrent" },
	{ "XX", V_PARTS4, "Xtorrent" },
	{ "ZT", V_PARTS4, "ZipTorrent" },
};

/* Shadow-style first letters (BEP 20). */
static const struct {
	char c;
	const char *name;
} shadow_clients[] = {
	{ 'A', "ABC" },
	{ 'O', "Osprey Permaseed" },
	{ 'Q', "BTQueue" },
	{ 'R', "Tribler" },
	{ 'S', "Shadow" },
	{ 'T', "BitTornado" },
	{ 'U', "UPnP NAT Bit Torrent" },
};

/* ---- output ------------------------------------------------------------- */

struct sbuf {
	char t[BT_PEERID_STRLEN];
	size_t n;
};

static void sb_printf(struct sbuf *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (s->n >= sizeof(s->t) - 1)
		return;
	va_start(ap, fmt);
	r = vsnprintf(s->t + s->n, sizeof(s->t) - s->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		s->n += (size_t)r;
	if (s->n > sizeof(s->t) - 1)
		s->n = sizeof(s->t) - 1;
}

/* Peer bytes: printable ASCII as is, '\\' doubled, the rest as \xHH. */
static void sb_escaped(struct sbuf *s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\')
			sb_printf(s, "\\\\");
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			sb_printf(s, "%c", p[i]);
		else
			sb_printf(s, "\\x%02x", p[i]);
	}
}

static const char *sb_out(const struct sbuf *s, char *buf, size_t cap)
{
	size_t n = s->n;

	if (cap == 0)
		return buf;
	if (n > cap - 1) {
		n = cap - 1;
		/* Do not end inside a UTF-8 sequence (the µ of µTorrent). */
		while (n > 0 && ((uint8_t)s->t[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf, s->t, n);
	buf[n] = '\0';
	return buf;
}

/* ---- character classes -------------------------------------------------- */

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_upper(uint8_t c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_lower(uint8_t c)
{
	return c >= 'a' && c <= 'z';
}

/* libtorrent's version digit: 0-9, then A-Z for 10..35. -1 otherwise. */
static int b36(uint8_t c)
{
	if (is_digit(c))
		return c - '0';
	if (is_upper(c))
		return c - 'A' + 10;
	return -1;
}

/* Shadow's version digit: 0-9, A-Z (10..35), a-z (36..61), '.' (62). */
static int shadow_digit(uint8_t c)
{
	if (is_digit(c))
		return c - '0';
	if (is_upper(c))
		return c - 'A' + 10;
	if (is_lower(c))
		return c - 'a' + 36;
	if (c == '.')
		return 62;
	return -1;
}

/* ---- styles -------------------------------------------------------------- */

static void tr_suffix(struct sbuf *s, uint8_t c)
{
	if (c == 'Z')
		sb_printf(s, "+");
	else if (c == 'X' || c == 'B')
		sb_printf(s, " beta");
	else if (c != '0')
		sb_printf(s, " (%c)", c);
}

/* "-XXvvvv-".  v[] are checked to be 0-9/A-Z (b36) before any branch. */
static bool azureus(const uint8_t *id, struct sbuf *s)
{
	const struct az_client *c = NULL;
	const uint8_t *v = id + 3;
	int d[4];
	size_t i;

	if (id[0] != '-' || id[7] != '-')
		return false;
	for (i = 1; i < 3; i++)
		if (id[i] < 0x21 || id[i] > 0x7e || id[i] == '-')
			return false;
	for (i = 0; i < 4; i++)
		if ((d[i] = b36(v[i])) < 0)
			return false;

	for (i = 0; i < sizeof(az_clients) / sizeof(az_clients[0]); i++)
		if (az_clients[i].code[0] == id[1] && az_clients[i].code[1] == id[2])
			c = &az_clients[i];
	if (!c) {
		sb_escaped(s, id + 1, 2);
		sb_printf(s, " %d.%d.%d.%d", d[0], d[1], d[2], d[3]);
		return true;
	}

	sb_printf(s, "%s ", c->name);
	switch (c->style) {
	case V_TR:
		if (v[0] == '0' && v[1] == '0' && v[2] == '0') {
			sb_printf(s, "0.%c", v[3]);      /* -TR0006-: 0.6 */
		} else if (v[0] == '0' && v[1] == '0') {
			sb_printf(s, "0.%c%c", v[2], v[3]); /* -TR0072-: 0.72 */
		} else if (d[0] <= 3 && d[1] <= 9 && d[2] <= 9) {
			sb_printf(s, "%d.%d%d", d[0], d[1], d[2]); /* 2.94 */
			tr_suffix(s, v[3]);
		} else {
			sb_printf(s, "%d.%d.%d", d[0], d[1], d[2]); /* 4.0.5 */
			tr_suffix(s, v[3]);
		}
		break;
	case V_UT:
		sb_printf(s, "%d.%d.%d", d[0], d[1], d[2]);
		if (v[3] != '0')
			sb_printf(s, " (%c)", v[3]);
		break;
	case V_PARTS3:
		sb_printf(s, "%d.%d.%d", d[0], d[1], d[2]);
		if (d[3])
			sb_printf(s, ".%d", d[3]);
		break;
	case V_PARTS4:
		sb_printf(s, "%d.%d.%d.%d", d[0], d[1], d[2], d[3]);
		break;
	case V_BC:
		if (d[0] <= 9 && d[1] <= 9 && d[2] <= 9 && d[3] <= 9)
			sb_printf(s, "%d.%d%d", d[0] * 10 + d[1], d[2], d[3]);
		else
			sb_printf(s, "%d.%d.%d.%d", d[0], d[1], d[2], d[3]);
		break;
	}
	return true;
}

/* A decimal number of 1..3 digits at id[*p], then '-'.  -1 if not. */
static int dash_num(const uint8_t *id, size_t *p)
{
	int v = 0;
	size_t i = *p, k;

	for (k = 0; k < 3 && i < BT_PEERID_LEN && is_digit(id[i]); k++, i++)
		v = v * 10 + (id[i] - '0');
	if (k == 0 || i >= BT_PEERID_LEN || id[i] != '-')
		return -1;
	*p = i + 1;
	return v;
}

/* "A2-1-36-0-": aria2. */
static bool aria2(const uint8_t *id, struct sbuf *s)
{
	size_t p = 3;
	int a, b, c;

	if (memcmp(id, "A2-", 3) != 0)
		return false;
	if ((a = dash_num(id, &p)) < 0 || (b = dash_num(id, &p)) < 0 ||
	    (c = dash_num(id, &p)) < 0)
		return false;
	sb_printf(s, "aria2 %d.%d.%d", a, b, c);
	return true;
}

/* "M4-3-6--", "M4-20-8-": Mainline (and Queen Bee, 'Q'). */
static bool mainline(const uint8_t *id, struct sbuf *s)
{
	const char *name;
	size_t p = 1;
	int a, b, c;

	if (id[0] == 'M')
		name = "Mainline";
	else if (id[0] == 'Q')
		name = "Queen Bee";
	else
		return false;
	if ((a = dash_num(id, &p)) < 0 || (b = dash_num(id, &p)) < 0 ||
	    (c = dash_num(id, &p)) < 0)
		return false;
	for (; p < 8; p++)    /* padded with dashes to 8 bytes */
		if (id[p] != '-')
			return false;
	sb_printf(s, "%s %d.%d.%d", name, a, b, c);
	return true;
}

/* "S58B-----": letter, 1-5 version chars padded with '-', then "---". */
static bool shadow(const uint8_t *id, struct sbuf *s)
{
	const char *name = NULL;
	int d[5];
	size_t i, n = 0;

	for (i = 0; i < sizeof(shadow_clients) / sizeof(shadow_clients[0]); i++)
		if ((uint8_t)shadow_clients[i].c == id[0])
			name = shadow_clients[i].name;
	if (!name || memcmp(id + 6, "---", 3) != 0)
		return false;
	for (i = 1; i <= 5; i++) {
		if (id[i] == '-')
			break;
		if ((d[n++] = shadow_digit(id[i])) < 0)
			return false;
	}
	for (; i <= 5; i++)
		if (id[i] != '-')
			return false;
	if (n == 0)
		return false;
	sb_printf(s, "%s %d", name, d[0]);
	for (i = 1; i < n; i++)
		sb_printf(s, ".%d", d[i]);
	return true;
}

/* The few clients with a style of their own (BEP 20). */
static bool oddballs(const uint8_t *id, struct sbuf *s)
{
	size_t i;

	/* "exbc" + two version bytes: BitComet before 0.59; BitLord adds
	 * "LORD". */
	if (memcmp(id, "exbc", 4) == 0) {
		sb_printf(s, "%s %u.%02u", memcmp(id + 6, "LORD", 4) == 0 ?
			  "BitLord" : "BitComet", (unsigned)id[4], (unsigned)id[5]);
		return true;
	}
	/* "XBT054d-": XBT Client 0.5.4, 'd' a debug build. */
	if (memcmp(id, "XBT", 3) == 0 && is_digit(id[3]) && is_digit(id[4]) &&
	    is_digit(id[5]) && (id[6] == 'd' || id[6] == '-') && id[7] == '-') {
		sb_printf(s, "XBT Client %c.%c.%c%s", id[3], id[4], id[5],
			  id[6] == 'd' ? " (debug)" : "");
		return true;
	}
	/* "-ML2.7.2-": MLdonkey, dotted version up to a dash. */
	if (memcmp(id, "-ML", 3) == 0) {
		for (i = 3; i < BT_PEERID_LEN && (is_digit(id[i]) || id[i] == '.'); i++)
			;
		if (i > 3 && i < BT_PEERID_LEN && id[i] == '-') {
			sb_printf(s, "MLdonkey %.*s", (int)(i - 3), (const char *)id + 3);
			return true;
		}
	}
	/* "OP1234": Opera, build number. */
	if (id[0] == 'O' && id[1] == 'P' && is_digit(id[2]) && is_digit(id[3]) &&
	    is_digit(id[4]) && is_digit(id[5])) {
		sb_printf(s, "Opera (build %c%c%c%c)", id[2], id[3], id[4], id[5]);
		return true;
	}
	return false;
}

const char *bt_peerid_client(const uint8_t id[BT_PEERID_LEN], char *buf, size_t cap)
{
	struct sbuf s;

	s.n = 0;
	s.t[0] = '\0';
	if (!azureus(id, &s) && !aria2(id, &s) && !mainline(id, &s) &&
	    !oddballs(id, &s) && !shadow(id, &s)) {
		s.n = 0;
		sb_printf(&s, "unknown (");
		sb_escaped(&s, id, BT_PEERID_LEN);
		sb_printf(&s, ")");
	}
	return sb_out(&s, buf, cap);
}

/* ---- our own id ---------------------------------------------------------- */

static int sys_random(void *ctx, uint8_t *buf, size_t n)
{
	(void)ctx;
	while (n > 0) {
		ssize_t r = getrandom(buf, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

int bt_peerid_generate(uint8_t id[BT_PEERID_LEN], bt_random_fn rnd, void *ctx)
{
	static const char alphabet[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	enum { PFX = sizeof(BT_PEERID_PREFIX) - 1, NA = sizeof(alphabet) - 1 };
	uint8_t out[BT_PEERID_LEN], r[32];
	size_t n = PFX, i;
	int round;

	if (!rnd)
		rnd = sys_random;
	memcpy(out, BT_PEERID_PREFIX, PFX);
	/* Rejection sampling: bytes >= 248 (4 * 62) would favour the first
	 * eight characters.  A source that keeps producing only those is
	 * broken; give up after a few rounds rather than loop forever. */
	for (round = 0; round < 8 && n < BT_PEERID_LEN; round++) {
		if (rnd(ctx, r, sizeof(r)) != 0)
			return BT_EUNSUPP;
		for (i = 0; i < sizeof(r) && n < BT_PEERID_LEN; i++)
			if (r[i] < 4 * NA)
				out[n++] = (uint8_t)alphabet[r[i] % NA];
	}
	if (n < BT_PEERID_LEN)
		return BT_EUNSUPP;
	memcpy(id, out, BT_PEERID_LEN);
	return BT_OK;
}
