#!/usr/bin/python3
"""bt-fetch against real peers on 127.0.0.1 (tests/harness).

Each test downloads one of the harness's torrents and compares every file
byte for byte with the source:
  - a single file of 256 MiB from libtorrent (peak RSS under 32 MiB);
  - a multi-file torrent (nested directories, an empty file, pieces across
    file boundaries) from libtorrent, aria2 and Transmission each, and from
    all three at once;
  - resume after kill -9 half way: nothing verified before is fetched again;
  - next to an honest libtorrent seeder, a peer that misbehaves
    (tests/hostile/bad_peer.py: wrong length prefix, oversized message,
    unrequested piece, bitfield of the wrong size, stall mid-piece, corrupt
    data): the download completes and the bad peer is reported;
  - the same with tests/hostile/peer.py's scenarios, for the policy: a
    wrong protocol string or a bad bitfield bans the peer with a message
    that names the fault; a bad request or an extended handshake that does
    not decode is reported (JSON "dropped": false, text "tolerated") and
    the peer keeps serving;
  - --files, --pieces, a magnet link (metadata by ut_metadata), peers from
    the tracker, v2 and hybrid torrents, and an output directory with a
    symlink planted in it.

Prints "ok NAME", "not ok NAME: why", "skip NAME (why)".  Bounded by an
alarm; every process the harness starts is stopped by PID.
"""
import json
import os
import re
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.dont_write_bytecode = True
import harness as H  # noqa: E402
import fetch_helpers as F  # noqa: E402
import report as R  # noqa: E402

WHOLE_FILE_LIMIT = 280  # seconds

MULTI = (("a.bin", 3 * H.MiB + 300000), ("sub/b.bin", 5 * H.MiB + 123),
         ("sub/deeper/c.bin", 70000), ("sub/empty.txt", 0), ("z.txt", 17),
         ("big/d.bin", 6 * H.MiB + 5))
check, note, not_ok = R.check, R.note, R.not_ok


def on_alarm(signum, frame):
    not_ok("time-limit", "test_fetch.py ran past %d s" % WHOLE_FILE_LIMIT)
    raise SystemExit(1)


def addr(s):
    return "%s:%d" % (s.host, s.port)


def identical(r, content, out):
    if r.rc != 0:
        return "bt-fetch failed: " + r.why()
    bad = F.same_tree(content.save_path, out, content.files)
    return ("not identical: %s" % bad) if bad else None


# ---- slice 1: one peer, a big file ---------------------------------------

def t_single_libtorrent(h, big):
    c, t, s = big
    out = h.path("out-single")
    argv = [os.path.join(F.BIN, "bt-fetch"), "--json", "-o", out, "--peer", addr(s),
            "--no-trackers", t.path]
    rc, secs, rss, text = F.timed(argv, 120)
    summ = [json.loads(x) for x in text.splitlines() if x.startswith('{"kind":"summary"')]
    if rc != 0 or not summ:
        return "rc %d: %s" % (rc, text[-1500:])
    bad = F.same_tree(c.save_path, out, c.files)
    if bad:
        return "not identical: " + bad
    note("single 256 MiB from libtorrent: %.2f s (%.0f MB/s), peak RSS %.1f MiB" % (
        secs, c.total_size / secs / 1e6, rss / 1024.0))
    if rss > 32 * 1024 and not _sanitized():
        return "peak RSS %d KiB, over 32 MiB" % rss
    p = summ[-1]["peers"][0]
    if p["bytes"] != c.total_size or p["hash_fails"] or p["violations"]:
        return "peer summary: %s" % p
    return None


def _sanitized():
    """ASan's shadow memory and quarantine inflate RSS: no bound then."""
    with open(os.path.join(F.BIN, "bt-fetch"), "rb") as f:
        return b"__asan_init" in f.read()


# ---- slice 2: multi-file, each seeder and all at once ---------------------

def t_multi_from(h, m, kind):
    c, t = m
    s = h.seeder(kind, t)
    out = h.path("out-multi-" + kind)
    r = F.run_fetch(["-o", out, "--no-trackers", "-b", H.next_source_addr(),
                     "--peer", addr(s), t.path], timeout=90)
    bad = identical(r, c, out)
    if bad:
        return bad
    p = r.peers.get(addr(s))
    if not p or p["bytes"] < c.total_size:
        return "%s sent %s" % (kind, p)
    if not os.path.isfile(os.path.join(out, "multi", "sub", "empty.txt")):
        return "the empty file was not created"
    note("multi-file (%d files, 32 KiB pieces) from %s alone: %.1f s" % (
        len(c.files), kind, r.secs))
    s.stop()
    return None


def t_multi_all(h, m):
    c, t = m
    # Transmission unchokes on a 10-second timer: the other two are slowed
    # down so that the download is still going on when it does.
    lt = F.slow_lt_seeder(h, t, 500 * H.KiB)
    ar = F.slow_aria2_seeder(h, t, 500 * H.KiB)
    tr = h.seeder("transmission", t)
    out = h.path("out-multi-all")
    r = F.run_fetch(["-o", out, "--no-trackers", "-b", H.next_source_addr(),
                     "--peer", lt.addr(), "--peer", ar.addr(), "--peer", addr(tr),
                     t.path], timeout=90)
    bad = identical(r, c, out)
    if bad:
        return bad
    got = {k: r.peers.get(a, {}).get("bytes", 0)
           for k, a in (("libtorrent", lt.addr()), ("aria2", ar.addr()),
                        ("transmission", addr(tr)))}
    note("all at once: %.1f s, bytes by peer %s" % (r.secs, got))
    if sum(got.values()) < c.total_size:
        return "bytes %s do not add up to %d" % (got, c.total_size)
    short = [k for k, v in got.items() if v == 0]
    if short:
        return "sent nothing: %s (%s)" % (short, got)
    # Pieces assembled from more than one peer's blocks.
    mixed = [x for x in r.kinds("piece_ok") if len(x.get("from", [])) > 1]
    note("pieces from several peers: %d" % len(mixed))
    for p in (lt, ar, tr):
        p.stop()
    return None


# ---- slice 3: resume after kill -9 ----------------------------------------

def t_resume(h, res):
    c, t = res
    slow = F.slow_lt_seeder(h, t, 6 * H.MiB)
    out = h.path("out-resume")
    npieces = t.lt_info().num_pieces()
    first = F.run_fetch_until(["-o", out, "--no-trackers", "--peer", slow.addr(), t.path],
                              lambda rec: rec.get("kind") == "piece_ok" and
                              rec.get("piece") is not None and
                              _count(rec) >= npieces // 3, timeout=60)
    slow.stop()
    done_before = set(x["piece"] for x in first.kinds("piece_ok"))
    if first.rc != -signal.SIGKILL:
        return "first run was not killed (rc %s, %d pieces)" % (first.rc, len(done_before))
    if not done_before or len(done_before) >= npieces:
        return "killed with %d of %d pieces" % (len(done_before), npieces)
    fast = h.lt_seeder(t, tracker=False)
    second = F.run_fetch(["-o", out, "--no-trackers", "--peer", addr(fast), t.path],
                         timeout=60)
    bad = identical(second, c, out)
    if bad:
        return bad
    res_notes = second.kinds("resume")
    good = res_notes[0]["good"] if res_notes else -1
    again = done_before & set(x["piece"] for x in second.kinds("piece_ok"))
    note("resume: killed after %d/%d verified pieces; on restart %d found good, "
         "%d fetched" % (len(done_before), npieces, good, len(second.kinds("piece_ok"))))
    if good < len(done_before):
        return "only %d pieces good on disk, %d were verified" % (good, len(done_before))
    if again:
        return "fetched again: %s" % sorted(again)[:20]
    fast.stop()
    return None


_seen = set()


def _count(rec):
    _seen.add(rec["piece"])
    return len(_seen)


# ---- slice 4: hostile peers -------------------------------------------------

HOSTILE = {
    "wrong-length": ("banned", "malformed"),
    "oversized": ("banned", "framer"),
    "unrequested": ("banned", "never requested"),
    "bad-bitfield": ("banned", "bitfield"),
    "stall": ("failed", "stalled"),
    "corrupt": ("banned", "hash check"),
}


def t_hostile(h, hx, mode):
    c, t, honest = hx
    b = F.bad_peer(h, t, c.path, mode)
    out = h.path("out-hostile-" + mode)
    r = F.run_fetch(["-o", out, "--no-trackers", "--stall", "1", "--peer", b.addr(),
                     "--peer", honest.addr(), t.path], timeout=60)
    b.stop()
    bad = identical(r, c, out)
    if bad:
        return bad
    p = r.peers.get(b.addr())
    state, word = HOSTILE[mode]
    if not p or p["state"] != state or word not in p.get("why", ""):
        return "bad peer not reported as %s/%r: %s" % (state, word, p)
    if mode == "corrupt" and not p["hash_fails"]:
        return "no hash failure counted: %s" % p
    if mode != "stall" and mode != "corrupt" and not p["violations"]:
        return "no violation counted: %s" % p
    return None


# tests/hostile/peer.py scenario -> (banned?, exact text of the violation).
# The hostile torrent: 8 MiB + 777 bytes in 64 KiB pieces = 129 pieces, a
# bitfield of 17 bytes with 7 spare bits.
POLICY = {
    "bad-pstr": (True, "protocol string 'BitTorrent Protocol' in its handshake is not "
                       "'BitTorrent protocol' (letter case differs)"),
    "bitfield-spare": (True, "bitfield of 17 bytes for 129 pieces has 7 spare bits set "
                             "past the last piece"),
    "bitfield-length": (True, "bitfield of 19 bytes for 129 pieces (expected 17)"),
    "request-1g": (False, "request of 1073741824 bytes (piece 0 begin 0): more than "
                          "16 KiB, which BEP 3 peers close the connection for"),
    "ext-over-cap": (False, "extended handshake of 65537 bytes not decoded: extended "
                            "payload larger than 64 KiB at byte 65536; going on without it"),
    "ext-malformed": (False, "extended handshake of 32 bytes not decoded: unexpected "
                             "byte in integer at byte 29; going on without it"),
}


def hostile_peer(h, t, data_path, scenario):
    """tests/hostile/peer.py SCENARIO serving T from DATA_PATH."""
    proc = h.spawn([H.PY, os.path.join(ROOT, "tests", "hostile", "peer.py"), "--scenario",
                    scenario, "--torrent", t.path, "--data", data_path, "--lifetime", "200"],
                   "peer-" + scenario)

    def listening():
        if not proc.alive():
            raise H.HarnessError("peer.py %s exited:\n%s" % (scenario, proc.log_tail()))
        with open(proc.log_path, "rb") as f:
            m = re.search(rb"^LISTEN (\d+)$", f.read(), re.M)
        return int(m.group(1)) if m else None
    port = H.wait_until(listening, 20, "peer.py %s listening" % scenario)
    return F.SimplePeer(proc, "127.0.0.1", port)


def t_policy(h, hx, scenario):
    c, t, honest = hx
    banned, text = POLICY[scenario]
    b = hostile_peer(h, t, c.path, scenario)
    out = h.path("out-policy-" + scenario)
    r = F.run_fetch(["-o", out, "--no-trackers", "--stall", "1", "--peer", b.addr(),
                     "--peer", honest.addr(), t.path], timeout=60)
    b.stop()
    bad = identical(r, c, out)
    if bad:
        return bad
    p = r.peers.get(b.addr()) or {}
    v = [x for x in r.kinds("violation") if x.get("peer") == b.addr()]
    if not v or not v[0].get("why", "").startswith(text) or v[0].get("dropped") is not banned:
        return "first violation record: %s, expected %r (dropped %s)" % (
            v[:1], text, banned)
    if p.get("violations") != len(v) or p.get("violation") != v[0]["why"]:
        return "summary: violations %s, violation %r; %d records" % (
            p.get("violations"), p.get("violation"), len(v))
    if banned:
        if p.get("state") != "banned" or p.get("why") != v[0]["why"]:
            return "not banned for it: %s" % p
    elif p.get("state") == "banned" or p.get("why") != "closed by us: complete":
        return "dropped for a tolerated violation: %s" % p
    elif len(v) != 1:
        return "%d violation records, expected 1: %s" % (len(v), v)
    return None


def t_policy_text(h, hx):
    """Text mode: a tolerated violation gets a line of its own on stderr
    and shows in the summary (a dropped one is the "dropped" line)."""
    c, t, honest = hx
    b = hostile_peer(h, t, c.path, "ext-malformed")
    out = h.path("out-policy-text")
    argv = [os.path.join(F.BIN, "bt-fetch"), "-o", out, "--no-trackers", "--stall", "1",
            "--peer", b.addr(), "--peer", honest.addr(), t.path]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    b.stop()
    err, txt = p.stderr.decode("utf-8", "replace"), p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        return "rc %d: %s" % (p.returncode, err[-800:])
    line = "bt-fetch: peer %s violation (tolerated): %s" % (b.addr(),
                                                           POLICY["ext-malformed"][1])
    if line not in err:
        return "no %r on stderr: %s" % (line, err[-800:])
    m = re.search(r"^  %s .* violations 1 \(first: %s\) wasted .* why closed by us: "
                  r"complete$" % (re.escape(b.addr()), re.escape(POLICY["ext-malformed"][1])),
                  txt, re.M)
    if not m:
        return "summary line: %s" % txt[-800:]
    return None


# ---- slice 5: selection, magnet, tracker ----------------------------------

def t_files(h, m, s):
    c, t = m
    out = h.path("out-files")
    # Indices in the torrent's order (mktorrent sorts paths), as bt-meta lists.
    paths = [f["path"] for f in t.expected()["files"]]
    sel = "%d,%d" % (paths.index("sub/b.bin"), paths.index("sub/empty.txt"))
    r = F.run_fetch(["-o", out, "--no-trackers", "--peer", addr(s), "--files", sel,
                     t.path], timeout=60)
    if r.rc != 0:
        return r.why()
    want = [f for f in c.files if f[0].endswith("sub/b.bin") or f[0].endswith("empty.txt")]
    bad = F.same_tree(c.save_path, out, want)
    if bad:
        return bad
    others = [f for f, _ in c.files if f not in [w for w, _ in want] and
              os.path.exists(os.path.join(out, f))]
    if others:
        return "files not selected were created: %s" % others
    return None


def t_pieces(h, m, s):
    c, t = m
    out = h.path("out-pieces")
    r = F.run_fetch(["-o", out, "--no-trackers", "--peer", addr(s), "--pieces", "0-3,97",
                     t.path], timeout=60)
    if r.rc != 0:
        return r.why()
    got = sorted(x["piece"] for x in r.kinds("piece_ok"))
    if got != [0, 1, 2, 3, 97]:
        return "pieces fetched: %s" % got
    # The bytes of those pieces, across file boundaries, match the source.
    pl = t.lt_info().piece_length()
    src = b"".join(open(c.file_path(f), "rb").read() for f, _ in c.files)
    for p in (0, 1, 2, 3, 97):
        lo, hi = p * pl, min((p + 1) * pl, len(src))
        pos, chunk = 0, b""
        for f, size in c.files:
            a, z = max(lo, pos), min(hi, pos + size)
            if a < z:
                with open(os.path.join(out, f), "rb") as fh:
                    fh.seek(a - pos)
                    chunk += fh.read(z - a)
            pos += size
        if chunk != src[lo:hi]:
            return "piece %d differs on disk" % p
    return None


def t_magnet(h, m, s):
    c, t = m
    out = h.path("out-magnet")
    mg = "magnet:?xt=urn:btih:%s&dn=multi" % t.info_hash_v1
    r = F.run_fetch(["-o", out, "--peer", addr(s), "--magnet", mg], timeout=60)
    bad = identical(r, c, out)
    if bad:
        return bad
    md = r.kinds("metadata")
    if not md or md[0]["bytes"] != len(H.raw_info(t.data)):
        return "metadata record: %s" % md
    return None


def t_tracker(h, m):
    c, t = m
    s = h.lt_seeder(t)          # announces itself to the harness's tracker
    H.wait_until(lambda: h.tracker.peers(t.handshake_hash), 20, "the seeder's announce")
    out = h.path("out-tracker")
    r = F.run_fetch(["-o", out, t.path], timeout=60)
    bad = identical(r, c, out)
    if bad:
        return bad
    trk = r.kinds("tracker")
    if not trk or trk[0].get("error") or not r.peers.get(addr(s)):
        return "tracker records %s, peers %s" % (trk, list(r.peers))
    if r.peers[addr(s)]["source"] != "tracker":
        return "peer source: %s" % r.peers[addr(s)]
    s.stop()
    return None


# ---- slice 6: v2 and hybrid -------------------------------------------------

def t_version(h, version, magnet=False):
    c = h.multi_file(name="multi-" + version, layout=MULTI[:5], seed="v-" + version)
    t = h.torrent(c, maker="libtorrent", version=version, piece_length=64 * H.KiB,
                  tracker=False)
    s = h.lt_seeder(t, tracker=False)
    out = h.path("out-" + version + ("-magnet" if magnet else ""))
    if magnet:
        mg = t.expected()["magnet"]
        r = F.run_fetch(["-o", out, "--no-trackers", "--peer", addr(s), "--magnet", mg],
                        timeout=60)
    else:
        r = F.run_fetch(["-o", out, "--no-trackers", "--peer", addr(s), t.path], timeout=60)
    bad = identical(r, c, out)
    s.stop()
    return bad


def t_many_peers_verbose(h, m, s):
    """40 peers that refuse, then the seeder, with the -v trace on: the
    peer table grows past its first size while the printer holds names."""
    c, t = m
    out = h.path("out-many")
    argv = ["-v", "-o", out, "--no-trackers", "--max-peers", "60"]
    for _ in range(40):
        argv += ["--peer", "127.0.0.1:%d" % H.free_port()]
    r = F.run_fetch(argv + ["--peer", addr(s), t.path], timeout=60)
    bad = identical(r, c, out)
    if bad:
        return bad
    refused = [p for p in r.peers.values() if p["peer"] != addr(s)]
    if len(refused) != 40 or any(p["bytes"] for p in refused):
        return "peers: %d others, %s" % (len(refused), refused[:2])
    traced = set(x.get("peer") for x in r.records if x.get("kind") == "connecting")
    if len(traced) < 41:
        return "trace names %d peers" % len(traced)
    return None


# ---- safety -----------------------------------------------------------------

def t_symlink(h, m, s):
    c, t = m
    out = h.path("out-symlink")
    outside = h.path("outside")
    os.symlink(outside, os.path.join(out, "multi"))
    r = F.run_fetch(["-o", out, "--no-trackers", "--peer", addr(s), t.path], timeout=30)
    if r.rc != 4:
        return "rc %d, expected 4 (unsafe output): %s" % (r.rc, r.why())
    if os.listdir(outside):
        return "wrote outside the output directory: %s" % os.listdir(outside)
    return None


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(WHOLE_FILE_LIMIT)
    if not os.access(os.path.join(F.BIN, "bt-fetch"), os.X_OK):
        print("skip test_fetch (no %s/bt-fetch)" % F.BIN)
        return 0
    with H.Harness("fetch") as h:
        c = h.single_file(name="big.bin", size=256 * H.MiB, seed="big")
        t = h.torrent(c, maker="libtorrent", version="v1", piece_length=256 * H.KiB,
                      tracker=False)
        s = h.lt_seeder(t, tracker=False)
        check("single_256mib_libtorrent_identical_rss", t_single_libtorrent, h, (c, t, s))
        s.stop()

        mc = h.multi_file(layout=MULTI)
        mt = h.torrent(mc, maker="mktorrent", version="v1", piece_length=32 * H.KiB)
        h.start_tracker()
        m = (mc, mt)
        for kind in ("libtorrent", "aria2", "transmission"):
            check("multi_file_from_" + kind, t_multi_from, h, m, kind)
        check("multi_file_from_all_three_at_once", t_multi_all, h, m)

        rc = h.single_file(name="resume.bin", size=32 * H.MiB + 4321, seed="resume")
        rt = h.torrent(rc, maker="libtorrent", version="v1", piece_length=64 * H.KiB,
                       tracker=False)
        check("resume_after_kill9_refetches_nothing_verified", t_resume, h, (rc, rt))

        hc = h.single_file(name="hostile.bin", size=8 * H.MiB + 777, seed="hostile")
        ht = h.torrent(hc, maker="libtorrent", version="v1", piece_length=64 * H.KiB,
                       tracker=False)
        honest = F.slow_lt_seeder(h, ht, 4 * H.MiB)
        for mode in HOSTILE:
            check("hostile_%s_next_to_libtorrent" % mode.replace("-", "_"), t_hostile, h,
                  (hc, ht, honest), mode)
        for sc in POLICY:
            check("violation_%s_%s" % (sc.replace("-", "_"),
                                       "banned" if POLICY[sc][0] else "tolerated"),
                  t_policy, h, (hc, ht, honest), sc)
        check("violation_tolerated_text_mode", t_policy_text, h, (hc, ht, honest))
        honest.stop()

        ms = h.lt_seeder(mt, tracker=False)
        check("select_files", t_files, h, m, ms)
        check("select_pieces_across_file_boundaries", t_pieces, h, m, ms)
        check("magnet_metadata_by_ut_metadata", t_magnet, h, m, ms)
        check("unsafe_output_symlink_refused", t_symlink, h, m, ms)
        check("many_peers_with_trace", t_many_peers_verbose, h, m, ms)
        ms.stop()
        check("peers_from_tracker", t_tracker, h, m)
        check("v2_torrent_merkle", t_version, h, "v2")
        check("hybrid_torrent_pad_files", t_version, h, "hybrid")
        check("hybrid_magnet", t_version, h, "hybrid", True)
        check("v2_magnet_piece_layers_by_hash_request", t_version, h, "v2", True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
