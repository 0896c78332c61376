#!/usr/bin/env bash
# bt-decode against tshark on the same large captures, side by side:
# capture bytes and packets per second, as ratios, with peak RSS (from
# /usr/bin/time -v), and bt-decode's peak RSS on a quarter of each capture
# against the whole (memory must not grow with the capture's size).
#
# Two captures of a real download (libtorrent seeder -> libtorrent
# leecher, tests/harness/capture_helpers.py bench-capture):
#   mtu1500   recorded inside a network namespace this script creates and
#             deletes, whose lo has MTU 1500 and no segmentation offload:
#             1448-byte segments, as on a real network
#   loopback  on the host's lo: 64 KiB segments
# Targets (issue 6): at least 20x tshark on mtu1500, 3x on loopback.
#
# bt-decode prints every message (text, to /dev/null); tshark extracts the
# message types with decode-as on the seeder's port and sequence analysis
# off (-T fields -e bittorrent.msg.type), the configuration in which it
# counts the messages right.  Both read the file from the page cache.
#
# Env: BTKIT_BIN (default build/bin), BENCH_MTU_MIB (256), BENCH_LO_MIB
# (1024), BENCH_RUNS (3, bt-decode runs; the median is kept),
# BENCH_KEEP=DIR to keep the captures there.  Needs root (tcpdump, netns).
set -u
cd "$(dirname "$0")/../.."
BIN=${BTKIT_BIN:-$PWD/${BUILD:-build}/bin}
DEC=$BIN/bt-decode
MTU_MIB=${BENCH_MTU_MIB:-256}
LO_MIB=${BENCH_LO_MIB:-1024}
RUNS=${BENCH_RUNS:-3}
PY=/usr/bin/python3
NS=btkit-bench-$$

[ -x "$DEC" ] || { echo "bench: $DEC missing (make all first)" >&2; exit 1; }
command -v tshark >/dev/null || { echo "bench: tshark not installed" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: needs root (tcpdump on lo, ip netns)" >&2; exit 1; }
work=$(mktemp -d /tmp/btkit-bench-decode-XXXXXX)
cleanup() {
	ip netns del "$NS" 2>/dev/null
	if [ -n "${BENCH_KEEP:-}" ]; then
		mkdir -p "$BENCH_KEEP" && mv "$work"/*.pcap "$BENCH_KEEP"/ 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

record() { # name MiB [netns]
	local name=$1 mib=$2 ns=${3:-}
	local pre=()
	[ -n "$ns" ] && pre=(ip netns exec "$ns")
	if ! timeout 900 "${pre[@]}" $PY tests/harness/capture_helpers.py bench-capture \
		"$work/$name.pcap" "$mib" >"$work/$name.rec.log" 2>&1; then
		echo "bench: recording $name failed:" >&2
		tail -5 "$work/$name.rec.log" >&2
		exit 1
	fi
}

echo "recording: ${MTU_MIB} MiB in a namespace (MTU 1500), ${LO_MIB} MiB on lo"
ip netns add "$NS" || exit 1
ip netns exec "$NS" ip link set lo mtu 1500 up
ip netns exec "$NS" ethtool -K lo tso off gso off gro off >/dev/null
record mtu1500 "$MTU_MIB" "$NS"
ip netns del "$NS"
record loopback "$LO_MIB"

# timed FILE CMD...: "SECONDS MAXRSS_KB" of one run (stdout to /dev/null)
timed() {
	local out=$1; shift
	/usr/bin/time -v -o "$out" "$@" >/dev/null 2>"$out.err" || {
		echo "bench: $* failed:" >&2; tail -3 "$out.err" >&2; exit 1; }
	awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0;
		for (i = 1; i <= n; i++) s = s * 60 + t[i]; e = s }
		/Maximum resident set size/ { m = $2 }
		END { printf "%.3f %d\n", e, m }' "$out"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

row() { # name
	local name=$1 pcap=$work/$1.pcap port bytes pkts i t rss tt trss q qp qrss
	bytes=$(stat -c %s "$pcap")
	pkts=$(tcpdump -r "$pcap" -nn 2>/dev/null | wc -l)
	port=$(tcpdump -r "$pcap" -nn -c 1 2>/dev/null | awk '{ sub(/:$/, "", $5); n = split($5, a, "."); print a[n] }')
	cat "$pcap" >/dev/null   # into the page cache, for both
	: >"$work/dec.times"
	for i in $(seq "$RUNS"); do
		timed "$work/dec.$i" "$DEC" -r "$pcap" >>"$work/dec.times"
	done
	t=$(awk '{ print $1 }' "$work/dec.times" | median)
	rss=$(awk '{ print $2 }' "$work/dec.times" | sort -n | tail -1)
	read -r tt trss < <(timed "$work/tshark" tshark -r "$pcap" \
		-d "tcp.port==$port,bittorrent" -o tcp.analyze_sequence_numbers:FALSE \
		-T fields -e bittorrent.msg.type)
	# a quarter of the capture: does memory depend on its size?
	qp=$((pkts / 4))
	editcap -r "$pcap" "$work/q.pcap" "1-$qp" >/dev/null 2>&1
	read -r q qrss < <(timed "$work/q" "$DEC" -r "$work/q.pcap")
	rm -f "$work/q.pcap"
	awk -v n="$name" -v b="$bytes" -v p="$pkts" -v t="$t" -v tt="$tt" \
	    -v r="$rss" -v tr="$trss" -v qr="$qrss" 'BEGIN {
		if (t < 0.001) t = 0.001; if (tt < 0.001) tt = 0.001;
		printf "%-9s %7.1f MB %8d pkts  %8.1f MB/s %9.0f pkt/s  tshark %7.1f MB/s %8.0f pkt/s  ratio %5.1fx\n",
			n, b / 1e6, p, b / 1e6 / t, p / t, b / 1e6 / tt, p / tt, tt / t
		printf "%-9s peak RSS: bt-decode %d KiB (a quarter of the capture: %d KiB), tshark %d KiB\n",
			"", r, qr, tr
	}'
	echo "$name $(awk -v t="$t" -v tt="$tt" 'BEGIN { printf "%.1f", tt / (t < 0.001 ? 0.001 : t) }')" >>"$work/ratios"
}

echo "capture   size       packets   bt-decode                    tshark -T fields"
row mtu1500
row loopback
rc=0
while read -r name ratio; do
	want=3
	[ "$name" = mtu1500 ] && want=20
	if awk -v r="$ratio" -v w="$want" 'BEGIN { exit !(r < w) }'; then
		echo "bench: $name ratio ${ratio}x is under the ${want}x target" >&2
		rc=1
	fi
done <"$work/ratios"
exit $rc
