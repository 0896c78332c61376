/* decprint.c — the capture decoder's records as text or JSON.  See
 * decprint.h.  Everything a peer or tracker sent goes through out.h's
 * escaping (bt_out_bytes); text we made ourselves (addresses, names,
 * notes) is written as is in text and escaped in JSON. */
#include "decprint.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "mse.h"
#include "peerid.h"
#include "print.h"

const char *bt_dec_trk_kind_name(int k)
{
	switch (k) {
	case BT_DEC_TRK_HTTP_REQ:          return "http-request";
	case BT_DEC_TRK_HTTP_RESP:         return "http-response";
	case BT_DEC_TRK_UDP_CONNECT:       return "udp-connect";
	case BT_DEC_TRK_UDP_CONNECTED:     return "udp-connect-response";
	case BT_DEC_TRK_UDP_ANNOUNCE:      return "udp-announce";
	case BT_DEC_TRK_UDP_ANNOUNCE_RESP: return "udp-announce-response";
	case BT_DEC_TRK_UDP_SCRAPE:        return "udp-scrape";
	case BT_DEC_TRK_UDP_SCRAPE_RESP:   return "udp-scrape-response";
	case BT_DEC_TRK_UDP_ERROR:         return "udp-error";
	case BT_DEC_TRK_UDP_OTHER:         return "udp-other";
	}
	return "?";
}

char *bt_dec_flow_tag(const struct bt_dec_flow *f, char *buf, size_t cap)
{
	char a[BT_ADDR_STRLEN], b[BT_ADDR_STRLEN];

	bt_flow_ep_fmt(&f->ep[0], a, sizeof a);
	bt_flow_ep_fmt(&f->ep[1], b, sizeof b);
	snprintf(buf, cap, "#%" PRIu64 " %s -> %s", f->id, a, b);
	return buf;
}

char *bt_dec_abs_time(uint64_t ts_us, char *buf, size_t cap)
{
	time_t sec = (time_t)(ts_us / 1000000);
	struct tm tm;
	char d[40];

	if (!localtime_r(&sec, &tm)) {
		snprintf(buf, cap, "%" PRIu64 ".%06u", ts_us / 1000000,
			 (unsigned)(ts_us % 1000000));
		return buf;
	}
	strftime(d, sizeof d, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%06u", d, (unsigned)(ts_us % 1000000));
	return buf;
}

/* Text we wrote or already escaped: as is in text, escaped in JSON. */
static void safe_str(struct bt_out *o, const char *key, const char *label,
		     const char *s)
{
	if (o->json) {
		bt_out_str(o, key, NULL, s);
	} else if (label) {
		bt_out_text(o, label);
		bt_out_text(o, s);
	}
}

/* A flag: JSON true, text a fixed phrase. */
static void flag(struct bt_out *o, const char *key, const char *text)
{
	bt_out_bool(o, key, NULL, true);
	bt_out_text(o, text);
}

static void ep_field(struct bt_out *o, const char *key, const char *label,
		     const struct bt_flow_ep *e)
{
	char b[BT_ADDR_STRLEN];

	safe_str(o, key, label, bt_flow_ep_fmt(e, b, sizeof b));
}

/* The time column of our own records, as the printer writes it. */
static void put_t(struct bt_out *o, enum bt_dec_time tm, uint64_t t_us,
		  uint64_t ts_us)
{
	char num[48], col[64];

	if (tm == BT_DEC_TIME_NONE)
		return;
	if (o->json) {
		bt_out_fixed(o, "t", NULL, (int64_t)t_us, 3);
		if (tm == BT_DEC_TIME_ABS)
			bt_out_str(o, "ts", NULL, bt_dec_abs_time(ts_us, num, sizeof num));
		return;
	}
	if (tm == BT_DEC_TIME_ABS) {
		bt_dec_abs_time(ts_us, num, sizeof num);
		snprintf(col, sizeof col, "%s ", num + 11);  /* HH:MM:SS.us */
	} else {
		snprintf(num, sizeof num, "%" PRIu64 ".%03u", t_us / 1000,
			 (unsigned)(t_us % 1000));
		snprintf(col, sizeof col, "%9s ", num);
	}
	bt_out_text(o, col);
}

static void put_client(struct bt_out *o, const struct bt_dec_dirsum *s)
{
	char c[BT_PEERID_STRLEN];

	if (s->hs) {
		bt_out_bytes(o, "peer_id", " peer_id '", s->peer_id, 20);
		bt_out_text(o, "'");
		bt_peerid_client(s->peer_id, c, sizeof c);
		if (strncmp(c, "unknown", 7) == 0)
			c[7] = '\0';
		safe_str(o, "client", " (", c);
		bt_out_text(o, ")");
	}
	if (s->v_len) {
		bt_out_bytes(o, "v", " v '", s->v, s->v_len);
		bt_out_text(o, "'");
	}
}

void bt_dec_print_flow_start(struct bt_out *o, const struct bt_dec_flow *f,
			     enum bt_dec_time tm)
{
	char b[64];

	bt_out_begin(o);
	bt_out_str(o, "kind", NULL, "flow");
	bt_out_uint(o, "flow", "flow #", f->id);
	ep_field(o, "src", " ", &f->ep[0]);
	ep_field(o, "dst", " -> ", &f->ep[1]);
	bt_out_str(o, "proto", " ", bt_dec_kind_name(f->kind));
	if (tm != BT_DEC_TIME_NONE) {
		bt_out_str(o, "start", " start ", bt_dec_abs_time(f->first_us, b, sizeof b));
		bt_out_uint(o, "start_us", NULL, f->first_us);
	}
	if (f->forced)
		flag(o, "forced", " (forced by -d)");
	bt_out_end(o);
}

static const int count_order[] = {
	BT_DEC_C_HANDSHAKE, 20, 5, 14, 15, 4, 0, 1, 2, 3, 6, 7, 8, 16,
	17, 13, 9, 21, 22, 23, BT_DEC_C_KEEPALIVE, BT_DEC_C_UNKNOWN,
	BT_DEC_C_MALFORMED, -1,
};

static void put_counts(struct bt_out *o, const uint64_t *count)
{
	bool first = true;

	bt_out_obj_begin(o, "counts", NULL);
	for (int i = 0; count_order[i] >= 0; i++) {
		uint64_t v = count[count_order[i]];
		char lab[40];

		if (!v)
			continue;
		snprintf(lab, sizeof lab, "%s%s ", first ? ": " : ", ",
			 bt_dec_count_name(count_order[i]));
		bt_out_uint(o, bt_dec_count_name(count_order[i]), lab, v);
		first = false;
	}
	bt_out_obj_end(o);
}

static void put_dirsum(struct bt_out *o, const struct bt_dec_flow *f, int dir)
{
	const struct bt_dec_dirsum *s = &f->d[dir];

	bt_out_text(o, dir == BT_DIR_OUT ? "\n  ->" : "\n  <-");
	bt_out_obj_begin(o, dir == BT_DIR_OUT ? "out" : "in", NULL);
	put_client(o, s);
	bt_out_uint(o, "pkts", " ", s->pkts);
	bt_out_uint(o, "bytes", " pkts, ", s->bytes);
	bt_out_text(o, " bytes");
	if (s->gap_bytes)
		bt_out_uint(o, "gap_bytes", ", lost ", s->gap_bytes);
	if (s->skipped)
		bt_out_uint(o, "skipped", ", not decoded ", s->skipped);
	if (s->mse)
		bt_out_uint(o, "mse_bytes", ", MSE/PE ", s->enc_bytes);
	if (s->mse && s->decrypted) {
		safe_str(o, "decrypted", " (decrypted with the key log: ",
			 f->mse_select == BT_MSE_CRYPTO_RC4 ? "rc4" :
			 f->mse_select == BT_MSE_CRYPTO_PLAIN ? "plaintext" : "unknown");
		bt_out_text(o, f->mse_select ? " selected)" : " method)");
	} else if (s->mse) {
		bt_out_bool(o, "plain_after_mse", NULL, s->plain_after_mse);
		bt_out_text(o, s->plain_after_mse ? " (then plaintext)" : " (encrypted)");
	}
	if (s->midstream)
		flag(o, "midstream", ", mid-stream start");
	if (f->kind == BT_DEC_PEER) {
		bt_out_uint(o, "msgs", ", ", s->msgs);
		bt_out_text(o, " msgs");
		put_counts(o, s->count);
	}
	if (s->count[BT_MSG_PIECE]) {
		bt_out_uint(o, "pieces", "; ", s->pieces);
		bt_out_uint(o, "piece_bytes", " pieces, ", s->piece_bytes);
		bt_out_text(o, " block bytes");
		if (s->pieces_untracked)
			bt_out_uint(o, "pieces_untracked", " (blocks of untracked pieces ",
				    s->pieces_untracked);
		if (s->pieces_untracked)
			bt_out_text(o, ")");
	}
	if (s->fin)
		flag(o, "fin", ", closed");
	if (s->rst)
		flag(o, "rst", ", reset");
	bt_out_obj_end(o);
}

void bt_dec_print_flow_end(struct bt_out *o, const struct bt_dec_flow *f,
			   enum bt_dec_time tm)
{
	uint64_t dur = f->last_us > f->first_us ? f->last_us - f->first_us : 0;
	uint64_t hs = 0, fp = 0;

	bt_out_begin(o);
	bt_out_str(o, "kind", NULL, "flow-end");
	bt_out_uint(o, "flow", "flow #", f->id);
	ep_field(o, "src", " ", &f->ep[0]);
	ep_field(o, "dst", " -> ", &f->ep[1]);
	if (f->kind == BT_DEC_UNDECODED) {
		bt_out_str(o, "proto", NULL, bt_dec_kind_name(f->kind));
		safe_str(o, "reason", " not decoded: ", f->reason ? f->reason : "?");
	} else {
		bt_out_str(o, "proto", " end ", bt_dec_kind_name(f->kind));
		if (f->reason)
			safe_str(o, "reason", " (", f->reason);
		if (f->reason)
			bt_out_text(o, ")");
	}
	if (tm != BT_DEC_TIME_NONE) {
		bt_out_fixed(o, "duration_ms", ", ", (int64_t)dur, 3);
		bt_out_text(o, " ms");
	}
	if (f->kind == BT_DEC_UNDECODED) {
		bt_out_uint(o, "bytes_out", ", ", f->d[0].bytes);
		bt_out_uint(o, "bytes_in", " + ", f->d[1].bytes);
		bt_out_text(o, " bytes");
		if (f->d[0].gap_bytes + f->d[1].gap_bytes)
			bt_out_uint(o, "gap_bytes", ", lost ",
				    f->d[0].gap_bytes + f->d[1].gap_bytes);
		bt_out_end(o);
		return;
	}
	if (f->gaps)
		bt_out_uint(o, "gaps", ", gaps ", f->gaps);
	if (f->conflicts)
		bt_out_uint(o, "conflicts", ", conflicting retransmissions ", f->conflicts);
	if (f->kind == BT_DEC_HTTP_TRACKER) {
		bt_out_uint(o, "requests", ", requests ", f->trk_requests);
		bt_out_uint(o, "responses", ", responses ", f->trk_responses);
	}
	put_dirsum(o, f, BT_DIR_OUT);
	put_dirsum(o, f, BT_DIR_IN);
	if (f->kind == BT_DEC_PEER && (f->nchokes || tm != BT_DEC_TIME_NONE)) {
		if (f->nchokes) {
			bt_out_text(o, "\n  chokes:");
			bt_out_arr_begin(o, "chokes", NULL);
			for (size_t i = 0; i < f->nchokes; i++) {
				const struct bt_dec_choke *c = &f->chokes[i];

				bt_out_obj_begin(o, NULL, NULL);
				bt_out_text(o, c->dir == BT_DIR_OUT ? " ->" : " <-");
				bt_out_str(o, "dir", NULL, c->dir == BT_DIR_OUT ? "out" : "in");
				bt_out_str(o, "state", " ", c->choke ? "choke" : "unchoke");
				if (tm != BT_DEC_TIME_NONE)
					bt_out_fixed(o, "t", " ", (int64_t)(c->ts_us - f->first_us), 3);
				bt_out_obj_end(o);
			}
			bt_out_arr_end(o);
			if (f->chokes_more)
				bt_out_uint(o, "chokes_more", " ... and ", f->chokes_more);
		}
		for (int i = 0; i < 2; i++) {
			if (f->d[i].t_hs && (!hs || f->d[i].t_hs < hs))
				hs = f->d[i].t_hs;
			if (f->d[i].t_first_piece && (!fp || f->d[i].t_first_piece < fp))
				fp = f->d[i].t_first_piece;
		}
		if (hs && fp && fp >= hs && tm != BT_DEC_TIME_NONE) {
			bt_out_fixed(o, "first_piece_ms", "\n  first piece ",
				     (int64_t)(fp - hs), 3);
			bt_out_text(o, " ms after the first handshake");
		}
	}
	bt_out_end(o);
}

static void put_tag(struct bt_out *o, const struct bt_dec_trk *t)
{
	char b[32];

	snprintf(b, sizeof b, "%s%" PRIu64, t->udp ? "U" : "#", t->conv);
	bt_out_str(o, "peer", "", b);
	bt_out_text(o, " ");
	bt_out_str(o, "dir", NULL, t->dir == BT_DIR_IN ? "in" : "out");
	bt_out_text(o, t->dir == BT_DIR_IN ? "<- " : "-> ");
}

static void put_peer_id(struct bt_out *o, const uint8_t id[20])
{
	char c[BT_PEERID_STRLEN];

	bt_out_bytes(o, "peer_id", " peer_id '", id, 20);
	bt_out_text(o, "'");
	bt_peerid_client(id, c, sizeof c);
	if (strncmp(c, "unknown", 7) == 0)
		c[7] = '\0';
	safe_str(o, "client", " (", c);
	bt_out_text(o, ")");
}

static void q_num(struct bt_out *o, const char *key, int64_t v)
{
	char lab[32];

	if (v < 0)
		return;
	snprintf(lab, sizeof lab, " %s ", key);
	bt_out_int(o, key, lab, v);
}

static void q_view(struct bt_out *o, const char *key, const char *v, size_t n)
{
	char lab[32];

	if (!v)
		return;
	snprintf(lab, sizeof lab, " %s '", key);
	bt_out_bytes(o, key, lab, v, n);
	bt_out_text(o, "'");
}

static void put_query(struct bt_out *o, const struct bt_dec_query *q)
{
	if (q->scrape || q->nhash != 1) {
		bt_out_uint(o, "nhashes", " info_hashes ", q->nhash);
		bt_out_arr_begin(o, "info_hashes", NULL);
		for (size_t i = 0; i < q->nhash && i < BT_DEC_MAX_HASHES; i++)
			bt_out_hex(o, NULL, " ", q->hashes[i], 20);
		bt_out_arr_end(o);
	} else {
		bt_out_hex(o, "info_hash", " info_hash ", q->hashes[0], 20);
	}
	if (q->have_peer_id)
		put_peer_id(o, q->peer_id);
	q_num(o, "port", q->port);
	q_num(o, "uploaded", q->uploaded);
	q_num(o, "downloaded", q->downloaded);
	q_num(o, "left", q->left);
	if (q->event_s) {
		if (q->event >= 0)
			bt_out_str(o, "event", " event ", bt_trk_event_name(q->event));
		else
			q_view(o, "event", q->event_s, q->event_len);
	}
	q_num(o, "numwant", q->numwant);
	q_num(o, "compact", q->compact);
	q_num(o, "no_peer_id", q->no_peer_id);
	q_num(o, "supportcrypto", q->supportcrypto);
	q_num(o, "requirecrypto", q->requirecrypto);
	q_num(o, "corrupt", q->corrupt);
	q_num(o, "redundant", q->redundant);
	q_view(o, "key", q->key, q->key_len);
	q_view(o, "ip", q->ip, q->ip_len);
	q_view(o, "trackerid", q->trackerid, q->trackerid_len);
	if (q->unknown)
		bt_out_uint(o, "unknown_params", " other params ", q->unknown);
	if (q->bad) {
		bt_out_arr_begin(o, "problems", NULL);
		safe_str(o, NULL, " !! ", q->bad);
		bt_out_arr_end(o);
	}
}

static const char *udp_what(int kind)
{
	switch (kind) {
	case BT_DEC_TRK_UDP_CONNECT:
	case BT_DEC_TRK_UDP_CONNECTED:     return "connect";
	case BT_DEC_TRK_UDP_ANNOUNCE:
	case BT_DEC_TRK_UDP_ANNOUNCE_RESP: return "announce";
	case BT_DEC_TRK_UDP_SCRAPE:
	case BT_DEC_TRK_UDP_SCRAPE_RESP:   return "scrape";
	case BT_DEC_TRK_UDP_ERROR:         return "error";
	}
	return "udp";
}

static void put_udp(struct bt_out *o, const struct bt_dec_trk *t)
{
	char b[64];

	if (t->kind == BT_DEC_TRK_UDP_OTHER || t->rc != BT_OK) {
		bt_print_trk_error_fields(o, NULL, udp_what(t->kind), t->url, &t->err);
		return;
	}
	switch (t->kind) {
	case BT_DEC_TRK_UDP_CONNECT:
		bt_out_str(o, "kind", "", "connect-request");
		bt_out_str(o, "url", " ", t->url);
		break;
	case BT_DEC_TRK_UDP_CONNECTED:
		bt_out_str(o, "kind", "", "connect");
		bt_out_str(o, "url", " ", t->url);
		snprintf(b, sizeof b, "0x%016" PRIx64, t->connection_id);
		bt_out_str(o, "connection_id", " connection_id ", b);
		break;
	case BT_DEC_TRK_UDP_ANNOUNCE: {
		const struct bt_udp_announce *a = t->uann;

		bt_out_str(o, "kind", "", "announce-request");
		bt_out_str(o, "url", " ", t->url);
		bt_out_hex(o, "info_hash", " info_hash ", a->info_hash, 20);
		put_peer_id(o, a->peer_id);
		bt_out_uint(o, "port", " port ", a->port);
		bt_out_uint(o, "uploaded", " uploaded ", a->uploaded);
		bt_out_uint(o, "downloaded", " downloaded ", a->downloaded);
		bt_out_uint(o, "left", " left ", a->left);
		if (bt_trk_event_name((int)a->event) && a->event <= 3)
			bt_out_str(o, "event", " event ", bt_trk_event_name((int)a->event));
		else
			bt_out_uint(o, "event", " event ", a->event);
		bt_out_int(o, "numwant", " numwant ", a->num_want);
		snprintf(b, sizeof b, "%08" PRIx32, a->key);
		bt_out_str(o, "key", " key ", b);
		if (a->ip)
			bt_out_uint(o, "ip", " ip ", a->ip);
		if (a->url_data_set) {
			bt_out_bytes(o, "url_data", " url_data '", a->url_data, a->url_data_len);
			bt_out_text(o, "'");
		}
		snprintf(b, sizeof b, "0x%016" PRIx64, a->connection_id);
		bt_out_str(o, "connection_id", " connection_id ", b);
		break;
	}
	case BT_DEC_TRK_UDP_SCRAPE:
		bt_out_str(o, "kind", "", "scrape-request");
		bt_out_str(o, "url", " ", t->url);
		bt_out_uint(o, "nhashes", " info_hashes ", t->nhashes);
		bt_out_arr_begin(o, "info_hashes", NULL);
		for (size_t i = 0; i < t->nhashes && i < BT_DEC_MAX_HASHES; i++)
			bt_out_hex(o, NULL, " ", t->hashes[i], 20);
		bt_out_arr_end(o);
		break;
	case BT_DEC_TRK_UDP_ANNOUNCE_RESP:
		bt_print_udp_announce_fields(o, NULL, t->url, t->uresp);
		break;
	case BT_DEC_TRK_UDP_SCRAPE_RESP:
		bt_print_udp_scrape_fields(o, NULL, t->url, t->hashes ? t->nhashes : t->nsentries,
					   t->nsentries);
		break;
	case BT_DEC_TRK_UDP_ERROR:
		bt_print_trk_failure_fields(o, NULL, "error", t->url, t->errmsg, t->errmsg_len);
		break;
	}
	snprintf(b, sizeof b, "%08" PRIx32, t->tid);
	bt_out_str(o, "tid", " tid ", b);
	if (t->dir == BT_DIR_IN && !t->matched) {
		bt_out_bool(o, "matched", NULL, false);
		bt_out_text(o, " (no request seen)");
	}
	if (t->kind == BT_DEC_TRK_UDP_ANNOUNCE_RESP)
		bt_print_trk_peers(o, NULL, t->peers, NULL, t->npeers);
	else if (t->kind == BT_DEC_TRK_UDP_SCRAPE_RESP)
		bt_print_udp_scrape_files(o, NULL, t->hashes, t->hashes ? t->nhashes : 0,
					  t->sentries, t->nsentries);
}

void bt_dec_print_trk(struct bt_out *o, const struct bt_dec_trk *t,
		      enum bt_dec_time tm)
{
	bt_out_begin(o);
	put_t(o, tm, t->t_us, t->ts_us);
	put_tag(o, t);
	if (t->udp) {
		put_udp(o, t);
		bt_out_end(o);
		return;
	}
	if (t->kind == BT_DEC_TRK_HTTP_REQ) {
		bt_out_str(o, "kind", "", t->scrape ? "scrape-request" : "announce-request");
		bt_out_bytes(o, "method", " ", t->method, t->method_len);
		bt_out_str(o, "url", " ", t->url);
		put_query(o, t->q);
		bt_out_end(o);
		return;
	}
	bt_out_int(o, "http_status", "HTTP ", t->status);
	if (t->chunked)
		flag(o, "chunked", " chunked");
	if (t->inflated)
		bt_out_bytes(o, "content_encoding", " ", t->content_encoding,
			     t->content_encoding_len);
	bt_out_text(o, " ");
	if (t->note) {
		bt_out_str(o, "kind", "", t->scrape ? "scrape" : "announce");
		bt_out_str(o, "url", " ", t->url);
		safe_str(o, "note", ": ", t->note);
		if (t->content_encoding) {
			bt_out_bytes(o, "content_encoding", " (", t->content_encoding,
				     t->content_encoding_len);
			bt_out_text(o, ")");
		}
		bt_out_uint(o, "body_len", ", body ", t->body_size);
		bt_out_text(o, " bytes");
	} else if (t->rc != BT_OK) {
		bt_print_trk_error_fields(o, NULL, t->scrape ? "scrape" : "announce",
					  t->url, &t->err);
	} else if (t->scrape) {
		bt_print_trk_scrape_fields(o, NULL, t->url, t->scrape_resp);
		bt_print_trk_scrape_files(o, NULL, t->scrape_resp);
	} else {
		bt_print_trk_announce_fields(o, NULL, t->url, t->resp);
		if (!t->resp->failure)
			bt_print_trk_peers(o, NULL, t->peers, t->info, t->npeers);
	}
	bt_out_end(o);
}

static void kv(struct bt_out *o, const char *key, const char *label, uint64_t v)
{
	bt_out_uint(o, key, label, v);
}

void bt_dec_print_stats(struct bt_out *o, const struct bt_dec *d)
{
	const struct bt_dec_stats *s = &d->st;
	static const char *const pn[BT_DEC_NPROBLEMS] = {
		NULL, "truncated", "truncated_payload", "malformed", "linktype",
		"fragment", "nomem",
	};
	uint64_t dur = s->last_us > s->first_us ? s->last_us - s->first_us : 0;

	bt_out_begin(o);
	bt_out_str(o, "kind", NULL, "stats");
	kv(o, "packets", "stats: ", s->pkts);
	kv(o, "cap_bytes", " packets, ", s->cap_bytes);
	kv(o, "wire_bytes", " bytes captured of ", s->wire_bytes);
	bt_out_text(o, " on the wire");
	bt_out_fixed(o, "duration_ms", ", ", (int64_t)dur, 3);
	bt_out_text(o, " ms");
	kv(o, "ipv4", "\n  IPv4 ", s->ipv4);
	kv(o, "ipv6", ", IPv6 ", s->ipv6);
	kv(o, "tcp", ", TCP ", s->tcp);
	kv(o, "udp", ", UDP ", s->udp);
	kv(o, "other", ", other ", s->other);
	kv(o, "flows", "\n  flows ", s->flows);
	kv(o, "flows_peer", ": bittorrent ", s->flows_peer);
	kv(o, "flows_http", ", http tracker ", s->flows_http);
	kv(o, "flows_undecoded", ", not decoded ", s->flows_undecoded);
	kv(o, "flows_empty", ", without payload ", s->flows_empty);
	kv(o, "flows_mse", "; MSE/PE ", s->flows_mse);
	kv(o, "flows_mse_plain", " (then plaintext ", s->flows_mse_plain);
	bt_out_text(o, ")");
	kv(o, "flows_midstream", ", mid-stream ", s->flows_midstream);
	if (s->keys) {   /* only with --keylog: other outputs stay as they were */
		kv(o, "keys", "\n  key log lines ", s->keys);
		kv(o, "flows_keyed", ", flows with a line ", s->flows_keyed);
		kv(o, "flows_decrypted", ", decrypted ", s->flows_decrypted);
	}
	kv(o, "messages", "\n  messages ", s->msgs);
	put_counts(o, s->count);
	kv(o, "events", "\n  events ", s->events);
	kv(o, "trk_http", ", tracker HTTP records ", s->trk_http);
	kv(o, "trk_udp", ", UDP packets ", s->trk_udp);
	kv(o, "udp_convs", " in conversations ", s->udp_convs);
	kv(o, "gaps", "\n  gaps ", s->gaps);
	kv(o, "gap_bytes", " (bytes ", s->gap_bytes);
	bt_out_text(o, ")");
	bt_out_obj_begin(o, "problems", NULL);
	for (int i = 1; i < BT_DEC_NPROBLEMS; i++) {
		char lab[40];

		if (!s->problems[i])
			continue;
		snprintf(lab, sizeof lab, ", %s ", pn[i]);
		kv(o, pn[i], lab, s->problems[i]);
	}
	bt_out_obj_end(o);
	kv(o, "mem_peak", "\n  decoder memory peak ", s->mem_peak);
	bt_out_text(o, " bytes");
	if (s->mem_refused)
		kv(o, "mem_refused", ", flows refused for memory ", s->mem_refused);
	bt_out_end(o);
}
