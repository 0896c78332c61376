#!/usr/bin/python3
"""Helpers for the bt-fetch tests and bench (tests/integration/test_fetch.py,
tests/bench/fetch.sh), on top of harness.py.

    run_fetch(h, argv, timeout)     bt-fetch --json ... -> FetchRun
    same_tree(a, b)                 byte-identical files below two dirs
    lt_leech(h, t, peers, out)      libtorrent's own downloader (a process)
    aria2_leech(h, t, out)          aria2c as a downloader (peers: the tracker)
    timed(argv)                     wall time and peak RSS via /usr/bin/time -v

As a script: `fetch_helpers.py lt-leech TORRENT SAVE HOST:PORT... ` downloads
with libtorrent from exactly those peers (no tracker, no DHT) and prints
'DONE <seconds>' — run under /usr/bin/time by the bench.
"""
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import harness as H  # noqa: E402

BIN = os.environ.get("BTKIT_BIN", os.path.join(ROOT, "build", "bin"))


class FetchRun:
    """One bt-fetch --json run: rc, secs, records, summary, peers by addr."""

    def __init__(self, argv, rc, out, err, secs):
        self.argv, self.rc, self.secs = argv, rc, secs
        self.stdout, self.stderr = out, err
        self.records = []
        for line in out.splitlines():
            try:
                self.records.append(json.loads(line))
            except ValueError:
                pass
        s = [r for r in self.records if r.get("kind") == "summary"]
        self.summary = s[-1] if s else None
        self.peers = {p["peer"]: p for p in (self.summary or {}).get("peers", [])}

    def kinds(self, kind):
        return [r for r in self.records if r.get("kind") == kind]

    def why(self):
        return "rc %s, summary %s, stderr %s" % (
            self.rc, json.dumps(self.summary)[:1500] if self.summary else None,
            self.stderr.strip()[-800:])


def run_fetch(argv, timeout=120, kill_after=None):
    """bt-fetch with ARGV (--json added); kill_after=SECS sends SIGKILL."""
    cmd = [os.path.join(BIN, "bt-fetch"), "--json"] + list(argv)
    t0 = time.monotonic()
    if kill_after is None:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        return FetchRun(cmd, p.returncode, p.stdout.decode("utf-8", "replace"),
                        p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        p.kill()                                   # SIGKILL, by PID
        out, err = p.communicate(timeout=10)
    return FetchRun(cmd, p.returncode, out.decode("utf-8", "replace"),
                    err.decode("utf-8", "replace"), time.monotonic() - t0)


def run_fetch_until(argv, pred, timeout=60):
    """Start bt-fetch, SIGKILL it (by PID) as soon as PRED(json record) is
    true for a line it printed, or at TIMEOUT.  Returns FetchRun."""
    cmd = [os.path.join(BIN, "bt-fetch"), "--json"] + list(argv)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    lines = []
    deadline = t0 + timeout
    try:
        os.set_blocking(p.stdout.fileno(), False)
        buf = b""
        hit = False
        while time.monotonic() < deadline and not hit and p.poll() is None:
            try:
                chunk = p.stdout.read()
            except BlockingIOError:
                chunk = None
            if chunk:
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    lines.append(line.decode("utf-8", "replace"))
                    try:
                        if pred(json.loads(lines[-1])):
                            hit = True
                            break
                    except ValueError:
                        pass
            else:
                time.sleep(0.005)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
    return FetchRun(cmd, p.returncode, "\n".join(lines), "", time.monotonic() - t0)


def same_tree(src_root, dst_root, rel_files):
    """None if every (rel, size) of REL_FILES is byte-identical below both
    roots, else a description of the first difference."""
    for rel, size in rel_files:
        a, b = os.path.join(src_root, rel), os.path.join(dst_root, rel)
        if not os.path.exists(b):
            return "%s missing" % rel
        if os.path.islink(b) or not os.path.isfile(b):
            return "%s is not a regular file" % rel
        if os.path.getsize(b) != size:
            return "%s: %d bytes, expected %d" % (rel, os.path.getsize(b), size)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            off = 0
            while True:
                x, y = fa.read(1 << 20), fb.read(1 << 20)
                if x != y:
                    return "%s differs near offset %d" % (rel, off)
                if not x:
                    break
                off += len(x)
    return None


def timed(argv, timeout, env=None, cwd=None):
    """Run ARGV under /usr/bin/time -v: (rc, wall secs, peak RSS KiB, output)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + list(argv), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       env=env, cwd=cwd)
    secs = time.monotonic() - t0
    out = p.stdout.decode("utf-8", "replace")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out)
    return p.returncode, secs, int(m.group(1)) if m else -1, out


def lt_leech_argv(torrent_path, save_path, peers, timeout=300):
    return [H.PY, os.path.abspath(__file__), "lt-leech", torrent_path, save_path,
            str(timeout)] + ["%s:%d" % p for p in peers]


def aria2_leech_argv(torrent_path, save_path):
    """aria2c downloading TORRENT_PATH into SAVE_PATH; peers from the
    torrent's tracker (aria2 cannot dial a given peer).  Exits when done."""
    return ["aria2c", "--no-conf=true", "--dir=" + save_path, "--seed-time=0",
            "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
            "--enable-peer-exchange=false", "--disable-ipv6=true",
            "--interface=127.0.0.1", "--listen-port=%d" % H.free_port(),
            "--file-allocation=none", "--check-integrity=false",
            "--bt-require-crypto=false", "--bt-min-crypto-level=plain",
            "--summary-interval=0", "--console-log-level=warn",
            "--bt-stop-timeout=60", "--follow-torrent=false",
            "--stop-with-process=%d" % os.getpid(), torrent_path]


class SimplePeer:
    """A process listening on host:port that a test stops through the harness."""

    def __init__(self, proc, host, port):
        self.proc, self.host, self.port, self.pid = proc, host, port, proc.pid

    def addr(self):
        return "%s:%d" % (self.host, self.port)

    def stop(self):
        return self.proc.stop()


def _wait_listen(proc, port, timeout=20):
    def ready():
        if not proc.alive():
            raise H.HarnessError("%s exited:\n%s" % (proc.name, proc.log_tail()))
        return H.tcp_listening("127.0.0.1", port, 0.5)
    H.wait_until(ready, timeout, "%s on port %d" % (proc.name, port), interval=0.05)


def bad_peer(h, torrent, data_path, mode, lifetime=300):
    """tests/hostile/bad_peer.py serving TORRENT (single file) from DATA_PATH
    with fault MODE; started and stopped by the harness."""
    port = H.free_port()
    argv = [H.PY, os.path.join(ROOT, "tests", "hostile", "bad_peer.py"), "--torrent",
            torrent.path, "--data", data_path, "--port", str(port), "--mode", mode,
            "--lifetime", str(lifetime)]
    proc = h.spawn(argv, "bad-peer-" + mode)
    _wait_listen(proc, port)
    return SimplePeer(proc, "127.0.0.1", port)


def slow_lt_seeder(h, torrent, rate, lifetime=300):
    """A real libtorrent seeder (own copy of the data, no tracker) whose
    upload is limited to RATE bytes/s: next to a bad peer it cannot finish
    the download before the bad peer has had its turn."""
    port = H.free_port()
    save = torrent.content.copy_to(h.path(h._unique("slow-lt"))).save_path
    argv = [H.PY, os.path.abspath(__file__), "lt-seed", torrent.path, save, str(port),
            str(int(rate)), str(lifetime)]
    proc = h.spawn(argv, "slow-libtorrent")

    def ready():
        if not proc.alive():
            raise H.HarnessError("slow lt seeder exited:\n" + proc.log_tail())
        with open(proc.log_path, "rb") as f:
            return b"READY" in f.read()
    H.wait_until(ready, 30, "slow libtorrent seeder READY")
    return SimplePeer(proc, "127.0.0.1", port)


def slow_aria2_seeder(h, torrent, rate, timeout=30):
    """aria2c seeding its own copy of TORRENT's data with its upload limited
    to RATE bytes/s (harness.py's aria2 seeder has no limit)."""
    port, rpc = H.free_port(), H.free_port()
    d = h.path(h._unique("slow-aria2"))
    save = torrent.content.copy_to(os.path.join(d, "data")).save_path
    argv = ["aria2c", "--no-conf=true", "--dir=" + save, "--check-integrity=true",
            "--bt-seed-unverified=false", "--seed-ratio=0.0",
            "--listen-port=%d" % port, "--interface=127.0.0.1", "--disable-ipv6=true",
            "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
            "--enable-peer-exchange=false", "--bt-require-crypto=false",
            "--bt-min-crypto-level=plain", "--max-overall-upload-limit=%d" % rate,
            "--enable-rpc=false", "--stop-with-process=%d" % os.getpid(),
            "--file-allocation=none", "--auto-save-interval=0", "--summary-interval=0",
            "--console-log-level=notice", "--bt-stop-timeout=0",
            "--follow-torrent=false", torrent.path]
    proc = h.spawn(argv, "slow-aria2c")
    _wait_listen(proc, port, timeout)
    # Listening comes before the check of its data: wait for a handshake.
    H.wait_until(lambda: _hs_ok("127.0.0.1", port, torrent.handshake_hash), timeout,
                 "slow aria2 handshake", interval=0.2)
    return SimplePeer(proc, "127.0.0.1", port)


def _hs_ok(host, port, ih):
    try:
        H.handshake_probe(host, port, ih, timeout=3)
        return True
    except H.HarnessError:
        return False


def _lt_seed(torrent, save, port, rate, lifetime):
    import libtorrent as lt
    import signal as sg
    stop = []
    for x in (sg.SIGTERM, sg.SIGINT, sg.SIGHUP):
        sg.signal(x, lambda *_: stop.append(1))
    parent = os.getppid()
    sess = lt.session({
        "listen_interfaces": "127.0.0.1:%d" % port, "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False, "enable_incoming_utp": False,
        "enable_outgoing_utp": False, "allow_multiple_connections_per_ip": True,
        "in_enc_policy": lt.enc_policy.pe_disabled,
        "out_enc_policy": lt.enc_policy.pe_disabled,
        "upload_rate_limit": rate,
        "alert_mask": lt.alert.category_t.error_notification,
    })
    # Loopback peers are in libtorrent's unlimited local class by default:
    # put every address in the global class, so the limit applies.
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    sess.set_peer_class_filter(f)
    e = lt.bdecode(open(torrent, "rb").read())
    for k in (b"announce", b"announce-list"):
        e.pop(k, None)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(e)
    atp.save_path = save
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    h = sess.add_torrent(atp)
    deadline = time.monotonic() + lifetime
    ready = False
    while not stop and time.monotonic() < deadline and os.getppid() == parent:
        if not ready and h.status().state == lt.torrent_status.seeding:
            ready = True
            print("READY", flush=True)
        sess.pop_alerts()
        time.sleep(0.05)
    return 0


def _lt_leech(torrent, save, timeout, peers):
    import libtorrent as lt
    sess = lt.session({
        "listen_interfaces": "127.0.0.1:%d" % H.free_port(),
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False, "enable_incoming_utp": False,
        "enable_outgoing_utp": False, "allow_multiple_connections_per_ip": True,
        "in_enc_policy": lt.enc_policy.pe_disabled,
        "out_enc_policy": lt.enc_policy.pe_disabled,
        "alert_mask": lt.alert.category_t.error_notification,
    })
    e = lt.bdecode(open(torrent, "rb").read())
    for k in (b"announce", b"announce-list"):
        e.pop(k, None)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(e)
    atp.save_path = save
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    t0 = time.monotonic()
    h = sess.add_torrent(atp)
    for p in peers:
        host, port = p.rsplit(":", 1)
        h.connect_peer((H.assert_loopback(host), int(port)))
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        st = h.status()
        if st.is_seeding or st.state == lt.torrent_status.seeding:
            print("DONE %.3f" % (time.monotonic() - t0), flush=True)
            return 0
        for a in sess.pop_alerts():
            pass
        time.sleep(0.01)
    print("TIMEOUT", flush=True)
    return 1


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "lt-seed":
        sys.exit(_lt_seed(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                          float(sys.argv[6])))
    if len(sys.argv) >= 5 and sys.argv[1] == "lt-leech":
        sys.exit(_lt_leech(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5:]))
    sys.stderr.write("usage: fetch_helpers.py lt-leech TORRENT SAVE TIMEOUT HOST:PORT...\n")
    sys.exit(2)
