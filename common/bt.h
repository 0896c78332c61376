/* bt.h — result codes shared by every btkit codec.
 *
 * Incremental parsers follow one contract (picohttpparser style): given
 * (buf, len) they return the number of bytes consumed (>= 0), BT_NEED_MORE
 * when the input is a valid prefix that needs more bytes, or another
 * negative BT_E* code when the input can never become valid. */
#ifndef BT_H
#define BT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum bt_result {
	BT_OK        = 0,
	BT_NEED_MORE = -1, /* truncated: a valid prefix, feed more bytes */
	BT_EINVAL    = -2, /* malformed: violates the format */
	BT_ETOOBIG   = -3, /* a declared length or count exceeds a cap */
	BT_ENOSPC    = -4, /* caller's buffer or token array too small */
	BT_EDEPTH    = -5, /* nesting deeper than allowed */
	BT_EUNSUPP   = -6, /* well-formed but a variant we do not handle */
};

/* A static string describing a result code; never NULL. */
const char *bt_strerror(int code);

#endif
