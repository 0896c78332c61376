#!/usr/bin/python3
"""Proves the real-peer harness (tests/harness/harness.py) itself.

Prints "ok NAME", "not ok NAME: why", "skip NAME (why)" and '#' notes
(timings); exits 0 only if nothing failed.  Bounded to a few minutes by an
alarm; every process it starts is stopped by PID before it exits.
"""
import os
import re
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as H  # noqa: E402

WHOLE_FILE_LIMIT = 240  # seconds
failed = []
all_pids = []


def ok(name):
    print("ok " + name, flush=True)


def not_ok(name, why):
    failed.append(name)
    why = str(why).strip().replace("\n", "\n#   ")
    print("not ok %s: %s" % (name, why), flush=True)


def skip(name, why):
    print("skip %s (%s)" % (name, why), flush=True)


def note(msg):
    print("# " + msg, flush=True)


def check(name, fn):
    """Run FN; a falsy return or an exception is 'not ok'."""
    try:
        r = fn()
    except Exception as e:  # report, keep going
        tb = traceback.format_exc().strip().splitlines()
        not_ok(name, "%s: %s (%s)" % (type(e).__name__, e, tb[-3].strip() if len(tb) > 2 else ""))
        return None
    if r is False:
        not_ok(name, "check failed")
    elif isinstance(r, str):
        not_ok(name, r)
    else:
        ok(name)
    return r


def on_alarm(signum, frame):
    # SystemExit is no Exception: it unwinds through check() and the
    # with-blocks, which stop every process by PID on the way out.
    not_ok("time-limit", "test_harness.py ran past %d s" % WHOLE_FILE_LIMIT)
    raise SystemExit(1)


# ---------------------------------------------------------------------------

def t_content():
    a = H.content_bytes(7, 3 * H.MiB + 5)
    if a != H.content_bytes(7, 3 * H.MiB + 5) or a == H.content_bytes(8, 3 * H.MiB + 5):
        return "content is not a function of the seed"
    if H.content_bytes(7, 100) != a[:100]:
        return "a shorter stream is not a prefix"
    return True


def t_makers(h, single, multi):
    """Every maker, every version: libtorrent parses it and our own SHA-1 /
    SHA-256 of the raw info dict equal libtorrent's info-hashes."""
    made = []
    for c in (single, multi):
        made.append(h.torrent(c, maker="mktorrent", piece_length=32 * H.KiB))
        made.append(h.torrent(c, maker="transmission-create", piece_length=32 * H.KiB))
        for v in ("v1", "v2", "hybrid"):
            made.append(h.torrent(c, maker="libtorrent", version=v, piece_length=32 * H.KiB))
    for t in made:
        e = t.expected()
        want_v1 = t.version in ("v1", "hybrid")
        want_v2 = t.version in ("v2", "hybrid")
        if bool(e["info_hash_v1"]) != want_v1 or bool(e["info_hash_v2"]) != want_v2:
            return "%r: libtorrent sees %s" % (t, e["version"])
        if e["info_hash_v1"] != t.info_hash_v1 or e["info_hash_v2"] != t.info_hash_v2:
            return "%r: hashes differ from libtorrent's %s %s" % (
                t, e["info_hash_v1"], e["info_hash_v2"])
        if e["trackers"] != [[h.announce_url()]]:
            return "%r: trackers %r" % (t, e["trackers"])
        if e["total_size"] != sum(f["size"] for f in e["files"]):
            return "%r: total size" % t
        paths = e["lt_paths"]
        want = [p for p, s in t.content.files]
        if t.maker == "transmission-create":
            # Measured: transmission-create leaves empty files out.
            want = [p for p, s in t.content.files if s]
        if sorted(paths) != sorted(want):
            return "%r: files %r, wanted %r" % (t, paths, want)
    note("made %d torrents: mktorrent, transmission-create, libtorrent v1/v2/hybrid;"
         " single and multi-file" % len(made))
    return True


def t_tracker_whitelist(h, t_in, t_later):
    tr = h.tracker
    d = H.http_announce(tr.announce_url, b"\x11" * 20, port=1, left=1)
    if b"failure reason" not in d:
        return "a hash outside the whitelist was accepted: %r" % d
    if tr.peers(t_in.handshake_hash) is None:
        return "whitelisted hash refused"
    # A torrent made after the tracker started: whitelist rewritten + SIGHUP.
    if t_later.info_hash_v1 not in tr.whitelist:
        return "later torrent not added to the whitelist"
    tr.peers(t_later.handshake_hash)
    u = H.udp_announce(tr.host, tr.port, t_in.handshake_hash, left=1, event=3)
    if "seeders" not in u:
        return "udp announce: %r" % u
    return True


def t_seeder(h, make, name, peer_re):
    s = make()
    all_pids.append(s.pid)
    note("%s ready in %.2f s (pid %d, %s:%d, first reply %.3f s)" % (
        name, s.ready_secs, s.pid, s.host, s.port, s.first_reply.secs))
    # A fresh probe from a new loopback source address.
    r = s.probe_mse() if s.encryption == "require" else s.probe()
    if r.info_hash != s.info_hash:
        return "info-hash %s, wanted %s" % (r.info_hash.hex(), s.info_hash.hex())
    if not re.match(peer_re, r.peer_id):
        return "peer id %r does not match %r" % (r.peer_id, peer_re)
    note("%s: peer id %r reserved %s (%s), reply after %.3f s" % (
        name, r.peer_id, r.reserved.hex(), r.crypto or "plain", r.secs))
    if s.encryption == "require":
        try:
            s.probe()
            return "accepted a plain handshake with encryption required"
        except H.HandshakeFailed as e:
            if e.kind not in ("closed", "reset"):
                return "plain probe: %s" % e
    return s


def t_leecher(h, t, seeder):
    lee = h.lt_fresh_leecher(t)
    all_pids.append(lee.pid)
    note("libtorrent fresh leecher ready in %.2f s" % lee.ready_secs)
    r = lee.probe(reserved=H.RESERVED_EXT_FAST, read_after=1.0)
    ids = [H.MSG.get(m[0], m[0]) for m in r.messages]
    if "have_none" not in ids or "have_all" in ids or "bitfield" in ids:
        return "leecher sent %r, wanted have_none" % ids
    r2 = seeder.probe(reserved=H.RESERVED_EXT_FAST, read_after=1.0)
    ids2 = [H.MSG.get(m[0], m[0]) for m in r2.messages]
    if "have_all" not in ids2:
        return "libtorrent seeder sent %r, wanted have_all" % ids2
    note("fresh leecher says %s; libtorrent seeder says %s" % (ids, ids2))
    return True


def t_tracker_lists(h, t, seeders):
    want = set((s.host, s.port) for s in seeders)
    got = []

    def listed():
        got[:] = h.tracker.peers(t.handshake_hash)
        return want <= set(got)

    try:
        H.wait_until(listed, 20, "every seeder announced", interval=0.3)
    except H.HarnessError:
        return "tracker lists %r, wanted %r" % (got, sorted(want))
    u = H.udp_announce(h.tracker.host, h.tracker.port, t.handshake_hash, left=1, event=3)
    if u["seeders"] < len(seeders):
        return "udp: %d seeders, wanted >= %d" % (u["seeders"], len(seeders))
    note("tracker lists %s" % sorted(got))
    return True


def t_v2_seeder(h, multi):
    """A v2-only torrent: handshake and tracker use the truncated SHA-256."""
    t2 = h.torrent(multi, maker="libtorrent", version="v2")
    if t2.info_hash_v1 or t2.handshake_hash != bytes.fromhex(t2.info_hash_v2)[:20]:
        return "v2 torrent hashes: %r" % t2
    s = h.lt_seeder(t2)
    all_pids.append(s.pid)
    r = s.probe()
    if r.info_hash != t2.handshake_hash:
        return "info-hash %s" % r.info_hash.hex()
    got = []

    def listed():
        got[:] = h.tracker.peers(t2.handshake_hash)
        return (s.host, s.port) in got

    try:
        H.wait_until(listed, 20, "v2 seeder announced", interval=0.3)
    except H.HarnessError:
        return "tracker lists %r for the truncated v2 hash" % got
    note("v2-only libtorrent seeder ready in %.2f s, announced with %s" % (
        s.ready_secs, t2.handshake_hash_hex))
    return True


def t_loopback_only(h):
    bad = H.foreign_sockets(h.live_pids())
    return ("non-loopback sockets:\n" + "\n".join(bad)) if bad else True


def t_all_gone(pids):
    alive = [p for p in pids if not H.pid_gone(p)]
    return ("still running: %r" % alive) if alive else True


def t_cleanup_on_exception():
    pids = []
    try:
        with H.Harness("exc") as h:
            p = h.spawn(["sleep", "300"], "sleep")
            pids.append(p.pid)
            d = h.dir
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    if not H.pid_gone(pids[0]):
        return "sleep %d survived" % pids[0]
    if os.path.exists(d):
        return "work dir %s left behind" % d
    return True


CHILD = r"""
import sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, %r)
import harness as H
h = H.Harness("child")
c = h.single_file(size=100000)
t = h.torrent(c)
h.start_tracker()
p = h.spawn(["sleep", "300"], "sleep")
print(h.tracker.pid, p.pid, h.dir, flush=True)
# Short sleeps: a signal that lands between Python's last check for pending
# signals and a long blocking sleep is only handled when the sleep ends.
for _ in range(600):
    time.sleep(0.2)
"""


def _child(sig):
    """A Python that uses the harness, killed with SIG: its processes must go."""
    c = subprocess.Popen([H.PY, "-c", CHILD % os.path.join(ROOT, "tests", "harness")],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        line = b""
        deadline = time.monotonic() + 30
        import select
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            r, _, _ = select.select([c.stdout], [], [], 1)
            if r:
                b = os.read(c.stdout.fileno(), 200)
                if not b:
                    break
                line += b
        if not line.endswith(b"\n"):
            return "child did not start"
        tpid, spid, d = line.decode().split()
        tpid, spid = int(tpid), int(spid)
        c.send_signal(sig)
        rc = c.wait(timeout=20)
        # SIGKILL leaves no time for cleanup: PR_SET_PDEATHSIG kills the
        # sleep at once; the harness's reaper process stops opentracker
        # (setuid nobody, which clears PDEATHSIG) within a second or so.
        if sig == signal.SIGKILL:
            t0 = time.monotonic()
            H.wait_until(lambda: H.pid_gone(spid), 5, "sleep to die with its parent")
            H.wait_until(lambda: H.pid_gone(tpid), 10, "reaper to stop opentracker")
            note("after SIGKILL of a harness user: sleep gone (PDEATHSIG), opentracker "
                 "stopped by the reaper in %.2f s" % (time.monotonic() - t0))
            try:
                H.wait_until(lambda: not os.path.exists(d), 5, "reaper to remove " + d)
            except H.HarnessError as e:
                import shutil
                shutil.rmtree(d, ignore_errors=True)
                return str(e)
            return True
        H.wait_until(lambda: H.pid_gone(tpid) and H.pid_gone(spid), 5, "children gone")
        if rc != 128 + sig:
            return "child exit status %r, wanted %d" % (rc, 128 + sig)
        if os.path.exists(d):
            return "work dir %s left behind" % d
        return True
    finally:
        if c.poll() is None:
            c.kill()
            c.wait(5)


# ---------------------------------------------------------------------------

def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(WHOLE_FILE_LIMIT)
    t_start = time.monotonic()
    check("content-deterministic", t_content)
    h = None
    try:
        with H.Harness("test_harness") as h:
            single = h.single_file(size=4 * H.MiB + 12345)
            multi = h.multi_file()
            t = h.torrent(single, maker="mktorrent", piece_length=64 * H.KiB)
            check("torrent-makers", lambda: t_makers(h, single, multi))
            tr = check("opentracker-start", lambda: h.start_tracker())
            if tr is None:
                raise H.HarnessError("no tracker; giving up")
            all_pids.append(tr.pid)
            note("opentracker ready in %.3f s (pid %d, port %d)" % (tr.ready_secs, tr.pid, tr.port))
            t_later = h.torrent(multi, maker="libtorrent", version="hybrid")
            check("opentracker-whitelist", lambda: t_tracker_whitelist(h, t, t_later))

            plain = []
            for name, make, rx in (
                    ("seeder-transmission", lambda: h.transmission_seeder(t, "tolerated"),
                     rb"^-TR3000-"),
                    ("seeder-libtorrent", lambda: h.lt_seeder(t, "plain"), rb"^-LT20[0-9]{2}-"),
                    ("seeder-aria2", lambda: h.aria2_seeder(t, "plain"), rb"^A2-1-\d+-\d+-")):
                s = check(name, lambda: t_seeder(h, make, name, rx))
                if s:
                    plain.append(s)
            lt_seed = [s for s in plain if s.kind == "libtorrent"]
            if lt_seed:
                check("fresh-leecher-has-no-pieces", lambda: t_leecher(h, t, lt_seed[0]))
            else:
                skip("fresh-leecher-has-no-pieces", "no libtorrent seeder")
            if len(plain) == 3:
                check("tracker-lists-seeders", lambda: t_tracker_lists(h, t, plain))
            else:
                skip("tracker-lists-seeders", "not every seeder started")

            for name, make, rx in (
                    ("seeder-transmission-encrypted",
                     lambda: h.seeder("transmission", t, "require"), rb"^-TR3000-"),
                    ("seeder-libtorrent-encrypted", lambda: h.seeder("libtorrent", t, "require"),
                     rb"^-LT20[0-9]{2}-"),
                    ("seeder-aria2-encrypted", lambda: h.seeder("aria2", t, "require"),
                     rb"^A2-1-\d+-\d+-")):
                check(name, lambda: t_seeder(h, make, name, rx))
            check("seeder-libtorrent-v2-only", lambda: t_v2_seeder(h, multi))
            check("loopback-only-sockets", lambda: t_loopback_only(h))
            all_pids[:] = sorted(set(all_pids) | set(h.pids()))
            t_stop = time.monotonic()
        note("stopping %d processes took %.2f s: %s" % (
            len(h.procs), time.monotonic() - t_stop,
            ", ".join("%s %.2fs rc=%s" % (p.name, p.stop_secs or 0, p.returncode)
                      for p in h.procs)))
        check("every-process-stopped", lambda: t_all_gone(all_pids))
        check("work-dir-removed", lambda: (not os.path.exists(h.dir)) or "left %s" % h.dir)
    except H.HarnessError as e:
        not_ok("harness", e)
        if h is not None:
            check("every-process-stopped", lambda: t_all_gone(h.pids()))
    check("cleanup-on-exception", t_cleanup_on_exception)
    check("cleanup-on-sigterm", lambda: _child(signal.SIGTERM))
    check("cleanup-on-sigint", lambda: _child(signal.SIGINT))
    check("cleanup-on-sigkill-reaper", lambda: _child(signal.SIGKILL))
    signal.alarm(0)
    note("test_harness.py took %.1f s" % (time.monotonic() - t_start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
