#include "event.h"

const char *bt_ev_kind_name(enum bt_ev_kind k)
{
	switch (k) {
	case BT_EV_CONNECTING:     return "connecting";
	case BT_EV_CONNECTED:      return "connected";
	case BT_EV_CONNECT_FAILED: return "connect-failed";
	case BT_EV_HANDSHAKE:      return "handshake";
	case BT_EV_MSG:            return "msg";
	case BT_EV_MALFORMED:      return "malformed";
	case BT_EV_CLOSED:         return "closed";
	case BT_EV_RESET:          return "reset";
	case BT_EV_TIMEOUT:        return "timeout";
	case BT_EV_GAP:            return "gap";
	case BT_EV_ENCRYPTED:      return "encrypted";
	case BT_EV_NOTE:           return "note";
	}
	return "unknown";
}
