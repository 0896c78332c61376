#!/bin/sh
# Records lo-tcp.pcap, the real loopback capture test_flow.c reassembles:
# one TCP session on 127.0.0.1 port 47321 whose bytes lo-send.py knows.
# Needs root (tcpdump on lo).  Only the loopback interface is touched.
set -eu
cd "$(dirname "$0")"
PORT=47321
OUT=lo-tcp.pcap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tcpdump -i lo -s 0 -U -w "$tmp/$OUT" "tcp port $PORT" 2>"$tmp/err" &
pid=$!
sleep 1                      # let tcpdump open the interface
/usr/bin/python3 lo-send.py "$PORT"
sleep 2                      # stopping at once loses the last packets
kill -INT "$pid"
wait "$pid" || true
cat "$tmp/err" >&2
grep -q '^0 packets dropped by kernel' "$tmp/err" ||
	{ echo "record.sh: tcpdump dropped packets" >&2; exit 1; }
mv "$tmp/$OUT" "$OUT"
ls -l "$OUT"
