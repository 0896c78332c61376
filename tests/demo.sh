#!/usr/bin/env bash
# make demo: a tracker and a seeder on 127.0.0.1, then every btkit tool that
# exists runs against them.  Nothing leaves the machine; everything started
# here is stopped by PID (trap), and every wait is bounded: the whole demo
# ends in well under a minute.
#
# The harness process (tests/harness/harness.py demo-env) starts opentracker
# and a libtorrent seeder for a torrent it generates, writes their addresses
# to an env file, and stays up until we SIGTERM it (or 50 s pass), stopping
# both by PID on its way out.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
BIN=${BTKIT_BIN:-$PWD/$BUILD/bin}
PY=/usr/bin/python3
T=${DEMO_TOOL_TIMEOUT:-10}   # seconds per tool run

work=$(mktemp -d "${TMPDIR:-/tmp}/btkit-demo.XXXXXX") || exit 1
hpid=""

# shellcheck disable=SC2317  # reached through the trap
cleanup() {
	if [ -n "$hpid" ] && kill -0 "$hpid" 2>/dev/null; then
		kill -TERM "$hpid" 2>/dev/null
		for _ in $(seq 100); do           # up to 10 s for it to stop its children
			kill -0 "$hpid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$hpid" 2>/dev/null && kill -KILL "$hpid" 2>/dev/null
	fi
	[ -n "$hpid" ] && wait "$hpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '\n== %s\n' "$*"; }

# run DESCRIPTION CMD...: show the command, run it with a timeout, show its status.
run() {
	local desc=$1 rc
	shift
	say "$desc"
	echo "\$ ${*/#$BIN\//}"
	timeout -k 2 "$T" "$@"
	rc=$?
	[ "$rc" -eq 124 ] && echo "(stopped after ${T} s)"
	echo "(exit $rc)"
}

say "starting opentracker and a libtorrent seeder on 127.0.0.1"
"$PY" tests/harness/harness.py demo-env "$work/env" 50 2>"$work/harness.log" &
hpid=$!
for _ in $(seq 300); do                       # up to 30 s
	[ -s "$work/env" ] && break
	kill -0 "$hpid" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$work/env" ]; then
	echo "demo: the harness did not come up:" >&2
	tail -20 "$work/harness.log" >&2
	exit 1
fi
# shellcheck disable=SC1091
. "$work/env"
echo "tracker:  $DEMO_TRACKER (UDP: $DEMO_TRACKER_UDP), pid $DEMO_TRACKER_PID"
echo "seeder:   libtorrent at $DEMO_SEEDER_HOST:$DEMO_SEEDER_PORT, pid $DEMO_SEEDER_PID," \
	"ready in ${DEMO_SEEDER_READY_SECS} s"
echo "torrent:  $DEMO_TORRENT"
echo "          hybrid v1+v2, info-hash v1 $DEMO_INFO_HASH"
echo "data:     $DEMO_DATA"

ran=0
if [ -x "$BIN/bt-meta" ]; then
	run "bt-meta: what the torrent says (name, hashes, pieces, files, trackers)" \
		"$BIN/bt-meta" "$DEMO_TORRENT"
	run "bt-meta --magnet: the magnet link for it" \
		"$BIN/bt-meta" --magnet "$DEMO_TORRENT"
	run "bt-meta --verify: hash the seeder's data against the torrent" \
		"$BIN/bt-meta" --verify "$DEMO_TORRENT" "$DEMO_DATA"
	run "bt-meta --json: the same report as one JSON object" \
		"$BIN/bt-meta" --json "$DEMO_TORRENT"
	ran=$((ran + 1))
fi
if [ -x "$BIN/bt-announce" ]; then
	run "bt-announce: ask the tracker (HTTP) who seeds the torrent, with timings" \
		"$BIN/bt-announce" --all -t 5 "$DEMO_TORRENT"
	run "bt-announce: the same over UDP (BEP 15), as JSON" \
		"$BIN/bt-announce" --json -t 5 --info-hash "$DEMO_INFO_HASH" --tracker "$DEMO_TRACKER_UDP"
	run "bt-announce --scrape: seeders/leechers counts" \
		"$BIN/bt-announce" --scrape -t 5 --info-hash "$DEMO_INFO_HASH" --tracker "$DEMO_TRACKER"
	ran=$((ran + 1))
fi
if [ -x "$BIN/bt-handshake" ]; then
	run "bt-handshake -D: handshake, interested, unchoke, one piece fetched and hashed" \
		"$BIN/bt-handshake" -t 5 -D "$DEMO_SEEDER_HOST:$DEMO_SEEDER_PORT" --torrent "$DEMO_TORRENT"
	run "bt-handshake: a client bug reproduced (capital P in the protocol string) and explained" \
		"$BIN/bt-handshake" -t 3 --pstr "BitTorrent Protocol" "$DEMO_SEEDER_HOST:$DEMO_SEEDER_PORT" --torrent "$DEMO_TORRENT"
	ran=$((ran + 1))
fi
if [ -x "$BIN/bt-handshake" ] && [ -x "$BIN/bt-decode" ]; then
	run "bt-handshake -w: the same probe with a 12-byte peer id, written to a pcap" \
		"$BIN/bt-handshake" -t 3 --short-peer-id 12 -w "$work/probe.pcap" \
		"$DEMO_SEEDER_HOST:$DEMO_SEEDER_PORT" --torrent "$DEMO_TORRENT"
	run "bt-decode --diagnose: the capture decoded offline gets the same verdict" \
		"$BIN/bt-decode" --diagnose -r "$work/probe.pcap"
	run "bt-decode --stats -q: a bundled capture of a real download (libtorrent to aria2)" \
		"$BIN/bt-decode" --stats -q -r captures/download-plain.pcap
	ran=$((ran + 1))
fi
if [ -x "$BIN/bt-fetch" ]; then
	run "bt-fetch: download the whole torrent from the tracker's peers, every piece verified" \
		"$BIN/bt-fetch" -t 5 --idle 20 -o "$work/download" "$DEMO_TORRENT"
	if [ -x "$BIN/bt-meta" ]; then
		run "bt-meta --verify: the downloaded copy, checked independently" \
			"$BIN/bt-meta" --verify "$DEMO_TORRENT" "$work/download"
	fi
	ran=$((ran + 1))
fi
for tool in "$BIN"/bt-*; do
	[ -x "$tool" ] || continue
	case "$(basename "$tool")" in
	bt-meta|bt-announce|bt-handshake|bt-decode|bt-fetch) ;;
	*) say "$(basename "$tool") is built but has no demo line yet (add one to tests/demo.sh)" ;;
	esac
done
[ "$ran" -eq 0 ] && say "no btkit tool found in $BIN: run 'make' first"

say "stopping the tracker and the seeder"
exit 0
