#!/usr/bin/env bash
# bt-announce benchmarks on 127.0.0.1 (nothing else is contacted):
#   1. announces per second against the local opentracker, HTTP and UDP,
#      with J requests in flight (-j 1, 16, 64), each as a ratio against a
#      counterpart doing the same announces in the same run: HTTP against
#      `curl --parallel --parallel-max J`, UDP against a small asyncio
#      BEP 15 client (there is no stock UDP tracker CLI);
#   2. the wall time of a batch of UDP probes where a tenth of the trackers
#      never answer: it should be about one timeout, not the sum.
# Trackers come from tests/harness/announce_helpers.py bench-env, started
# here and stopped by its PID (which stops its own children by PID).
#
# Env: BTKIT_BIN (default build/bin), BENCH_N announces per run (2000),
#      BENCH_JOBS ("1 16 64"), BENCH_TIMEOUT for the silent batch (2).
set -u
cd "$(dirname "$0")/../.."
BIN=${BTKIT_BIN:-$PWD/${BUILD:-build}/bin}
TOOL=$BIN/bt-announce
N=${BENCH_N:-2000}
JOBS=${BENCH_JOBS:-1 16 64}
SILENT_T=${BENCH_TIMEOUT:-2}
PY=/usr/bin/python3

[ -x "$TOOL" ] || { echo "bench: $TOOL missing (make all first)" >&2; exit 1; }
work=$(mktemp -d /tmp/btkit-bench-XXXXXX)
envpid=
cleanup() {
	if [ -n "$envpid" ] && kill -0 "$envpid" 2>/dev/null; then
		kill -TERM "$envpid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$envpid" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$envpid" 2>/dev/null && kill -KILL "$envpid" 2>/dev/null
		wait "$envpid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

$PY tests/harness/announce_helpers.py bench-env "$work/env" 600 >"$work/env.log" 2>&1 &
envpid=$!
for _ in $(seq 150); do [ -s "$work/env" ] && break; sleep 0.2; done
[ -s "$work/env" ] || { echo "bench: trackers did not start:" >&2; tail "$work/env.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/env"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

# stats FILE: "OK FAILED MEDIAN_MS P99_MS" of timing.total_ms in JSON lines
cat >"$work/stats.py" <<'PYEOF'
import json, sys
ok = bad = 0
t = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["ok"]:
        ok += 1
        t.append(r["timing"]["total_ms"])
    else:
        bad += 1
t.sort()
med = t[len(t) // 2] if t else float("nan")
p99 = t[min(len(t) - 1, int(len(t) * 0.99))] if t else float("nan")
print("%d %d %.3f %.3f" % (ok, bad, med, p99))
PYEOF

# curl's config: N GET URLs with the query bt-announce sends.
cat >"$work/curlcfg.py" <<'PYEOF'
import sys, urllib.parse
url, h, n = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3])
q = ("info_hash=%s&peer_id=-CU0000-000000000000&port=6999&uploaded=0&downloaded=0"
     "&left=0&compact=1" % urllib.parse.quote_from_bytes(h, safe=""))
for _ in range(n):
    print('url = "%s?%s"\noutput = "/dev/null"' % (url, q))
PYEOF
$PY "$work/curlcfg.py" "$BENCH_HTTP" "$BENCH_HASH" "$N" >"$work/curl.cfg"

# The UDP counterpart: asyncio, one socket per announce (as bt-announce),
# J at once, connect + announce each.  Prints "OK SECONDS".
cat >"$work/udpref.py" <<'PYEOF'
import asyncio, os, struct, sys, time
host, port = sys.argv[1].split("//")[1].split("/")[0].rsplit(":", 1)
h, n, j = bytes.fromhex(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
assert host.startswith("127.")


class P(asyncio.DatagramProtocol):
    def __init__(self):
        self.q = asyncio.Queue()

    def datagram_received(self, d, a):
        self.q.put_nowait(d)


async def one(loop):
    tr, p = await loop.create_datagram_endpoint(P, remote_addr=(host, int(port)))
    try:
        tid = int.from_bytes(os.urandom(4), "big")
        tr.sendto(struct.pack(">QII", 0x41727101980, 0, tid))
        r = await asyncio.wait_for(p.q.get(), 10)
        cid = struct.unpack(">Q", r[8:16])[0]
        tr.sendto(struct.pack(">QII20s20sQQQIIIiH", cid, 1, tid, h, b"-PY0000-000000000000",
                              0, 0, 0, 0, 0, 0, -1, 6999))
        r = await asyncio.wait_for(p.q.get(), 10)
        return struct.unpack(">I", r[:4])[0] == 1
    finally:
        tr.close()


async def main():
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(j)

    async def lim():
        async with sem:
            return await one(loop)
    t0 = time.monotonic()
    ok = sum(await asyncio.gather(*(lim() for _ in range(n))))
    print("%d %.4f" % (ok, time.monotonic() - t0))

asyncio.run(main())
PYEOF

status=0
echo "# bt-announce bench: $N announces per run, opentracker on 127.0.0.1"
for proto in http udp; do
	url=$BENCH_HTTP
	[ $proto = udp ] && url=$BENCH_UDP
	yes "$url $BENCH_HASH" | head -n "$N" >"$work/batch.$proto"
	for j in $JOBS; do
		t0=$(now)
		"$TOOL" --json -b "$work/batch.$proto" -j "$j" -t 10 -p 6999 >"$work/out" 2>"$work/err"
		t1=$(now)
		wall=$(elapsed "$t0" "$t1")
		read -r ok bad med p99 < <($PY "$work/stats.py" "$work/out")
		if [ $proto = http ]; then
			t0=$(now)
			curl -s --noproxy '*' --parallel --parallel-max "$j" -K "$work/curl.cfg" \
			     -w '%{http_code}\n' >"$work/ref" 2>/dev/null
			t1=$(now)
			rok=$(grep -c '^200$' "$work/ref")
			rwall=$(elapsed "$t0" "$t1")
			rname="curl --parallel"
		else
			read -r rok rwall < <($PY "$work/udpref.py" "$url" "$BENCH_HASH" "$N" "$j")
			rname="asyncio BEP 15"
		fi
		awk -v p=$proto -v j="$j" -v n="$N" -v ok="$ok" -v bad="$bad" -v med="$med" \
		    -v p99="$p99" -v w="$wall" -v rok="$rok" -v rw="$rwall" -v rn="$rname" 'BEGIN {
			printf "bench announce %-4s -j %-3d %6.0f/s (ok %d, failed %d; median %.3f ms, p99 %.3f ms)   %s %6.0f/s (ok %d)   ratio %.2f\n",
			       p, j, n / w, ok, bad, med, p99, rn, n / rw, rok, rw / w }'
		[ "$bad" = 0 ] || { status=1; head -3 "$work/err" >&2; }
	done
done

# A tenth of the trackers never answer.
M=100
for i in $(seq "$M"); do
	if [ $((i % 10)) = 0 ]; then
		echo "$BENCH_SILENT_UDP $BENCH_HASH"
	else
		echo "$BENCH_UDP $BENCH_HASH"
	fi
done >"$work/batch.silent"
t0=$(now)
"$TOOL" --json -b "$work/batch.silent" -j "$M" -t "$SILENT_T" --retries 1 >"$work/out" 2>/dev/null
rc=$?
t1=$(now)
read -r ok bad med p99 < <($PY "$work/stats.py" "$work/out")
awk -v m="$M" -v ok="$ok" -v bad="$bad" -v w="$(elapsed "$t0" "$t1")" -v to="$SILENT_T" \
    -v rc=$rc 'BEGIN {
	printf "bench silent-tenth: %d UDP probes, %d silent, -t %s: wall %.2f s = %.2f timeouts (the sum would be %.0f s; ok %d, failed %d, exit %d)\n",
	       m, bad, to, w, w / to, bad * to, ok, bad, rc
	exit (w < to * 1.5 && bad == m / 10 && rc == 1) ? 0 : 1 }' || status=1
exit $status
