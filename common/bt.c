#include "bt.h"

const char *bt_strerror(int code)
{
	switch (code) {
	case BT_OK:        return "ok";
	case BT_NEED_MORE: return "truncated";
	case BT_EINVAL:    return "malformed";
	case BT_ETOOBIG:   return "too big";
	case BT_ENOSPC:    return "buffer too small";
	case BT_EDEPTH:    return "nested too deep";
	case BT_EUNSUPP:   return "unsupported";
	}
	return "unknown error";
}

