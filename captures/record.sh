#!/bin/sh
# Records the captures in this directory from real BitTorrent clients on
# 127.0.0.1 (tests/harness: opentracker, libtorrent, aria2, bt-handshake),
# then regenerates the expected decodes (update.sh).  Needs root: tcpdump
# on lo, and a network namespace for the 1448-byte-segment capture.
#
#   captures/record.sh [SCENARIO...]   default: all (see record.py)
#
# Only lo is touched: the namespace's own lo (MTU 1500, no offloads) for
# mtu1500, the host's lo for the rest.  The namespace is deleted on exit.
set -eu
cd "$(dirname "$0")"
[ "$(id -u)" = 0 ] || { echo "record.sh: needs root (tcpdump, ip netns)" >&2; exit 1; }
BTKIT_BIN=${BTKIT_BIN:-$(cd .. && pwd)/build/bin}
export BTKIT_BIN
NS=btkit-rec-$$
trap 'ip netns del "$NS" 2>/dev/null || true' EXIT INT TERM
for s in ${*:-download fast metadata udp mse diag gzip keylog mtu1500}; do
	if [ "$s" = mtu1500 ]; then
		ip netns add "$NS"
		ip netns exec "$NS" ip link set lo mtu 1500 up
		ip netns exec "$NS" ethtool -K lo tso off gso off gro off >/dev/null
		ip netns exec "$NS" timeout 600 /usr/bin/python3 record.py . "$s"
		ip netns del "$NS"
	else
		timeout 600 /usr/bin/python3 record.py . "$s"
	fi
done
./update.sh
