#!/usr/bin/python3
"""Helpers for bt-announce tests and benches, on top of harness.py.

    import harness as H, announce_helpers as A
    with H.Harness("announce") as h:
        bad = A.start_bad_tracker(h)                 # tests/hostile/bad_tracker.py
        r = A.run(["-i", HASH, "-T", bad.url("odd"), "--json"])
        r.rc, r.out, r.err, r.secs, r.records        # records: parsed JSON lines

Every process is started through h.spawn (PID recorded, stopped by PID when
the harness closes) or through run(), which waits for it with a deadline and
kills exactly that child if it overstays.  Every address is loopback.

As a command, `announce_helpers.py bench-env FILE [LIFETIME]` starts
opentracker and the bad tracker, writes shell assignments to FILE and waits
for SIGTERM (or LIFETIME seconds); tests/bench/announce.sh uses it.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import harness as H  # noqa: E402

BAD_TRACKER = os.path.join(ROOT, "tests", "hostile", "bad_tracker.py")


def tool_path(name="bt-announce"):
    d = os.environ.get("BTKIT_BIN") or os.path.join(ROOT, "build", "bin")
    return os.path.join(d, name)


class Result:
    def __init__(self, argv, rc, out, err, secs):
        self.argv, self.rc, self.out, self.err, self.secs = argv, rc, out, err, secs
        self.records = []
        self.bad_json = []
        for line in out.splitlines():
            if line.startswith("{"):
                try:
                    self.records.append(json.loads(line))
                except ValueError:
                    self.bad_json.append(line)

    def __repr__(self):
        return "<rc=%s %.2fs out=%r err=%r>" % (self.rc, self.secs, self.out[-400:],
                                                self.err[-400:])


def run(args, timeout=60, stdin=None, tool="bt-announce"):
    """Run the tool with ARGS (no shell), bounded by TIMEOUT seconds
    (subprocess.run kills the child by PID when it overstays)."""
    argv = [tool_path(tool)] + [str(a) for a in args]
    t0 = time.monotonic()
    p = subprocess.run(argv, input=stdin.encode() if isinstance(stdin, str) else stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       env=dict(os.environ, LC_ALL="C"))
    return Result(argv, p.returncode, p.stdout.decode("utf-8", "replace"),
                  p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


class BadTracker:
    """tests/hostile/bad_tracker.py in its own process."""

    def __init__(self, h, tls=None, upstream=None, timeout=H.START_TIMEOUT, lifetime=600):
        argv = [H.PY, BAD_TRACKER, "--lifetime", str(lifetime)]
        if tls:
            argv += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        if upstream:
            argv += ["--upstream", upstream]
        self.proc = h.spawn(argv, "bad-tracker")
        self.pid = self.proc.pid
        self.host = "127.0.0.1"

        def ready():
            if not self.proc.alive():
                raise H.HarnessError("bad_tracker exited:\n" + self.proc.log_tail())
            with open(self.proc.log_path, "rb") as f:
                for line in f.read().decode("utf-8", "replace").splitlines():
                    if line.startswith("READY "):
                        return json.loads(line[6:])
            return None
        info = H.wait_until(ready, timeout, "bad_tracker READY")
        self.http = info["http"]
        self.https = info["https"]
        self.udp = info["udp"]
        self.udp6 = info["udp6"]

    def url(self, mode, kind="announce", https=False):
        if https:
            return "https://%s:%d/%s/%s" % (self.host, self.https, mode, kind)
        return "http://%s:%d/%s/%s" % (self.host, self.http, mode, kind)

    def udp_url(self, mode):
        return "udp://%s:%d/%s/announce" % (self.host, self.udp[mode], mode)

    def _get(self, path):
        import urllib.request
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open("http://%s:%d%s" % (self.host, self.http, path), timeout=5) as r:
            return r.read()

    def last_request(self):
        """The request line of the last /echo/ request (bytes)."""
        return self._get("/_last")

    def last_udp_announce(self):
        """The last announce packet the UDP 'ok' socket received (bytes)."""
        return bytes.fromhex(self._get("/_udp_last").decode())

    def stop(self):
        return self.proc.stop()


def start_bad_tracker(h, **kw):
    return BadTracker(h, **kw)


def make_cert(directory, cn="127.0.0.1"):
    """A self-signed certificate (its own CA) for 127.0.0.1 and localhost,
    made with `openssl req`.  Returns (cert.pem, key.pem)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=60, check=True)
    return cert, key


def _bench_env(out, lifetime):
    """opentracker (whitelisting N generated hashes) + the bad tracker;
    shell assignments in OUT; then wait for SIGTERM or LIFETIME seconds."""
    with H.Harness("bench-announce") as h:
        c = h.single_file(name="bench.bin", size=100000, seed="bench")
        t = h.torrent(c)
        tr = h.start_tracker()
        bad = start_bad_tracker(h)
        env = {
            "BENCH_DIR": h.dir, "BENCH_TORRENT": t.path, "BENCH_HASH": t.info_hash_v1,
            "BENCH_HTTP": tr.announce_url, "BENCH_UDP": tr.udp_url,
            "BENCH_SILENT_UDP": bad.udp_url("silent"), "BENCH_OK_UDP": bad.udp_url("ok"),
            "BENCH_TRACKER_PID": tr.pid, "BENCH_BAD_PID": bad.pid,
        }
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            for k, v in env.items():
                f.write("%s='%s'\n" % (k, v))
        os.rename(tmp, out)
        deadline = time.monotonic() + lifetime
        while time.monotonic() < deadline:
            time.sleep(0.2)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "bench-env":
        _bench_env(sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 300.0)
    else:
        sys.stderr.write("usage: announce_helpers.py bench-env OUTFILE [LIFETIME_SECS]\n")
        sys.exit(2)
