#!/usr/bin/env bash
# make bench: bt-fetch against aria2c and libtorrent's own downloader.
#
# The same 256 MiB torrent (BENCH_FETCH_MIB to change it) is downloaded from
# the same local libtorrent seeder by bt-fetch, aria2c and libtorrent
# (python3-libtorrent), then from three libtorrent seeders at once.  Each
# download runs under /usr/bin/time -v (wall time, peak RSS), is checked
# byte for byte, and is preceded by sync so no tool pays for another's
# dirty pages.  After an untimed warm-up the tools take turns (a different
# one first each round), BENCH_FETCH_ROUNDS rounds (default 3);
# the best wall time of each is compared, printed as ratios:
#   bt-fetch / libtorrent  (target <= 0.5)
#   bt-fetch / aria2c      (target <= 0.25)
# Everything runs on 127.0.0.1; every process is stopped by PID (harness).
set -u
cd "$(dirname "$0")/../.."
export BTKIT_BIN=${BTKIT_BIN:-$PWD/${BUILD:-build}/bin}
exec /usr/bin/python3 - "$@" <<'EOF'
import os, shutil, sys, time
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "harness"))
sys.dont_write_bytecode = True
import harness as H
import fetch_helpers as F

MIB = int(os.environ.get("BENCH_FETCH_MIB", "256"))
ROUNDS = int(os.environ.get("BENCH_FETCH_ROUNDS", "3"))
fails = 0


def run(h, c, t, name, peers):
    out = h.path(h._unique("bench-out-" + name))
    if name == "bt-fetch":
        argv = [os.path.join(F.BIN, "bt-fetch"), "-q", "--no-trackers", "-o", out, t.path]
        for p in peers:
            argv += ["--peer", "%s:%d" % p]
    elif name == "libtorrent":
        argv = F.lt_leech_argv(t.path, out, peers)
    else:
        argv = F.aria2_leech_argv(t.path, out)     # peers: from the tracker
    os.sync()
    time.sleep(0.3)
    rc, secs, rss, text = F.timed(argv, 600)
    bad = F.same_tree(c.save_path, out, c.files) if rc == 0 else "exit %d" % rc
    shutil.rmtree(out, ignore_errors=True)
    return secs, rss, bad, text


def scenario(h, c, t, title, peers):
    global fails
    best = {}
    # Warm up: a seeder's first upload faults its mmap in; nobody should
    # pay for that.  Then the tools take turns, a different one first
    # each round.
    run(h, c, t, "bt-fetch", peers)
    order = ["bt-fetch", "libtorrent", "aria2c"]
    for r in range(ROUNDS):
        for name in order[r % 3:] + order[:r % 3]:
            secs, rss, bad, text = run(h, c, t, name, peers)
            if bad:
                fails += 1
                print("  %-10s round %d FAILED: %s\n%s" % (name, r + 1, bad, text[-800:]))
                continue
            b = best.get(name)
            if not b or secs < b[0]:
                best[name] = (secs, rss)
            best.setdefault(name + "/all", []).append(secs)
    print("%s (%d MiB, best of %d):" % (title, MIB, ROUNDS))
    for name in ("bt-fetch", "libtorrent", "aria2c"):
        if name in best:
            secs, rss = best[name]
            runs = " ".join("%.2f" % x for x in best[name + "/all"])
            print("  %-10s %6.2f s %7.1f MB/s  peak RSS %7.1f MiB   (runs: %s)" % (
                name, secs, MIB * 1048576 / secs / 1e6, rss / 1024.0, runs))
    if "bt-fetch" in best:
        me = best["bt-fetch"][0]
        for name, target in (("libtorrent", 0.5), ("aria2c", 0.25)):
            if name in best:
                ratio = me / best[name][0]
                print("  bt-fetch / %-10s time ratio %.2f (target <= %.2f: %s)" % (
                    name, ratio, target, "met" if ratio <= target else "NOT met"))
        print("  bt-fetch peak RSS %.1f MiB (target < 32: %s)" % (
            best["bt-fetch"][1] / 1024.0, "met" if best["bt-fetch"][1] < 32768 else "NOT met"))


with H.Harness("bench-fetch") as h:
    c = h.single_file(name="bench.bin", size=MIB * H.MiB, seed="bench")
    t = h.torrent(c, maker="libtorrent", version="v1", piece_length=256 * H.KiB)
    h.start_tracker()
    s1 = h.lt_seeder(t)
    H.wait_until(lambda: h.tracker.peers(t.handshake_hash), 20, "seeder announce")
    scenario(h, c, t, "one libtorrent seeder", [(s1.host, s1.port)])
    s2, s3 = h.lt_seeder(t), h.lt_seeder(t)
    H.wait_until(lambda: len(h.tracker.peers(t.handshake_hash)) >= 3, 20, "announces")
    scenario(h, c, t, "three libtorrent seeders at once",
             [(s.host, s.port) for s in (s1, s2, s3)])
sys.exit(1 if fails else 0)
EOF
