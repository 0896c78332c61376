/* decprint.h — the capture decoder's own records, as text or JSON.
 *
 * Peer-wire events print through print.h (the printer bt-handshake uses
 * live); what only a capture has is printed here, through out.h's field
 * calls: a flow's start and its summary at the end (endpoints, clients,
 * bytes, messages by type, pieces, the choke timeline, handshake to
 * first piece; or why it was not decoded), tracker records (the query a
 * client sent, the answer through print.h's tracker printers), and the
 * capture-wide counters of --stats.  One record per call: several text
 * lines, or one JSON object. */
#ifndef BT_DECPRINT_H
#define BT_DECPRINT_H

#include "decode.h"
#include "out.h"

enum bt_dec_time {
	BT_DEC_TIME_REL = 0,          /* ms since the flow's first packet */
	BT_DEC_TIME_ABS,              /* wall clock (UTC unless TZ says) */
	BT_DEC_TIME_NONE,
};

/* "#3 127.0.0.1:40000 -> 127.0.0.1:6881" into buf; returns buf. */
char *bt_dec_flow_tag(const struct bt_dec_flow *f, char *buf, size_t cap);
/* Absolute time "2024-05-01 12:00:00.123456" (localtime) into buf. */
char *bt_dec_abs_time(uint64_t ts_us, char *buf, size_t cap);

/* flow #N A -> B bittorrent [...] (when a flow is recognised). */
void bt_dec_print_flow_start(struct bt_out *o, const struct bt_dec_flow *f,
			     enum bt_dec_time tm);
/* The flow's summary; undecoded flows with their reason. */
void bt_dec_print_flow_end(struct bt_out *o, const struct bt_dec_flow *f,
			   enum bt_dec_time tm);
/* A tracker record: requests with their decoded query, answers through
 * print.h (bt_print_trk_*, bt_print_udp_*). */
void bt_dec_print_trk(struct bt_out *o, const struct bt_dec_trk *t,
		      enum bt_dec_time tm);
/* Capture-wide counters. */
void bt_dec_print_stats(struct bt_out *o, const struct bt_dec *d);

#endif
