/* out.h — one field emitter for human text and JSON.
 *
 * Every tool prints through this (iproute2 json_print style): each field
 * call names a JSON key and a text label, and the mode picks which is used.
 * In text mode a field prints as label followed by its value (no label:
 * the field is JSON-only).  In JSON mode a record is one object on one
 * line.  Bytes that came from outside (peer names, paths, failure reasons)
 * go through bt_out_bytes, which escapes them for the terminal (text) or
 * for JSON, so no peer can put an escape sequence on the user's screen. */
#ifndef BT_OUT_H
#define BT_OUT_H

#include <stdio.h>
#include "bt.h"

#define BT_OUT_MAX_NEST 80 /* bencode depth 64 plus record levels */

struct bt_out {
	FILE *f;
	bool json;
	int depth;                       /* open JSON objects/arrays */
	bool first[BT_OUT_MAX_NEST + 1]; /* no member yet at this depth */
	bool in_array[BT_OUT_MAX_NEST + 1];
};

void bt_out_init(struct bt_out *o, FILE *f, bool json);

/* A record: JSON "{...}\n"; text: a final newline. */
void bt_out_begin(struct bt_out *o);
void bt_out_end(struct bt_out *o);

/* Nested values (JSON); in text mode they print label only. key is NULL
 * inside arrays. */
void bt_out_obj_begin(struct bt_out *o, const char *key, const char *label);
void bt_out_obj_end(struct bt_out *o);
void bt_out_arr_begin(struct bt_out *o, const char *key, const char *label);
void bt_out_arr_end(struct bt_out *o);

/* Fields.  key: JSON member name (NULL inside an array); label: text
 * printed before the value (NULL: nothing in text mode). */
void bt_out_str(struct bt_out *o, const char *key, const char *label, const char *s);
void bt_out_bytes(struct bt_out *o, const char *key, const char *label,
		  const void *p, size_t n);
void bt_out_uint(struct bt_out *o, const char *key, const char *label, uint64_t v);
void bt_out_int(struct bt_out *o, const char *key, const char *label, int64_t v);
void bt_out_bool(struct bt_out *o, const char *key, const char *label, bool v);
void bt_out_hex(struct bt_out *o, const char *key, const char *label,
		const void *p, size_t n);
void bt_out_null(struct bt_out *o, const char *key, const char *label);
/* A number with fixed decimals (e.g. milliseconds: 12.345). */
void bt_out_fixed(struct bt_out *o, const char *key, const char *label,
		  int64_t v, unsigned scale_pow10);
/* Literal text, text mode only (punctuation, newlines). */
void bt_out_text(struct bt_out *o, const char *s);

/* Escaping helpers into a caller buffer; always NUL-terminated, truncated
 * with "..." if cap is too small.  Returns dst. */
char *bt_escape_text(const void *p, size_t n, char *dst, size_t cap);
char *bt_hex(const void *p, size_t n, char *dst, size_t cap); /* lowercase */

#endif
