#!/usr/bin/python3
"""Capture helpers for bt-decode's recordings and tests (uses harness.py).

As a module:
    import capture_helpers as C
    with H.Harness("rec") as h:
        cap = C.Tcpdump(h, "/tmp/x.pcap", "tcp port %d" % port)   # started
        ... real clients talk ...
        cap.stop()                       # lingers, stops by PID, checks drops
        leecher = C.lt_leecher(h, torrent=t, peer=(s.host, s.port))
        leecher.wait_done(60)

As a script (what lt_leecher spawns; never run by hand in a test):
    capture_helpers.py leech (--torrent T | --magnet URI) --save-path DIR
        --peer HOST:PORT [--host 127.0.0.1] [--port N] [--enc plain]
        [--lifetime S] [--linger S]
  prints LISTEN <port>, STATE <state>, DONE <pieces>; after DONE it waits
  --linger seconds, removes the torrent (connections close with FIN) and exits.

Every address is loopback, every wait bounded, every process started through
the harness (recorded PID, stopped by PID).
"""
import os
import re
import signal
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as H  # noqa: E402


# --------------------------------------------------------------------------
# tcpdump

class Tcpdump:
    """tcpdump -i IFACE -s 0 -U -w PATH FILTER, started through the harness.
    netns: run inside that network namespace (ip netns exec)."""

    def __init__(self, h, path, filt, iface="lo", netns=None, timeout=15.0, snaplen=0,
                 buffer_kib=0):
        if iface != "lo":
            raise H.HarnessError("captures are taken on lo only")
        self.h = h
        self.path = path
        argv = ["tcpdump", "-i", iface, "-s", str(snaplen), "-U", "-n", "-w", path]
        if buffer_kib:
            argv[1:1] = ["-B", str(buffer_kib)]
        argv += filt.split()
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        self.proc = h.spawn(argv, "tcpdump")

        def listening():
            if not self.proc.alive():
                raise H.HarnessError("tcpdump exited: " + self.proc.log_tail())
            return "listening on" in open(self.proc.log_path, "rb").read().decode("utf-8", "replace")

        H.wait_until(listening, timeout, "tcpdump to listen")
        time.sleep(0.3)   # the socket is bound before the message; be safe

    def stop(self, linger=2.0, allow_drops=False):
        """Wait LINGER s (the last packets), stop by PID, check for drops
        (allow_drops: only count them, in self.dropped).  Returns the
        number of packets captured."""
        time.sleep(linger)
        if self.proc.alive():
            self.proc.popen.send_signal(signal.SIGINT)
            try:
                self.proc.popen.wait(timeout=10)
            except Exception:
                pass
        self.proc.stop()
        log = open(self.proc.log_path, "rb").read().decode("utf-8", "replace")
        m = re.search(r"(\d+) packets? dropped by kernel", log)
        self.dropped = int(m.group(1)) if m else -1
        if not m or (self.dropped != 0 and not allow_drops):
            raise H.HarnessError("tcpdump dropped packets or did not report: " + log[-300:])
        m = re.search(r"(\d+) packets? captured", log)
        return int(m.group(1)) if m else -1


# --------------------------------------------------------------------------
# a libtorrent leecher in its own process

class Leecher:
    def __init__(self, h, proc, port):
        self.h = h
        self.proc = proc
        self.port = port
        self.host = "127.0.0.1"

    def output(self):
        return open(self.proc.log_path, "rb").read().decode("utf-8", "replace")

    def wait_done(self, timeout):
        def done():
            out = self.output()
            if "\nERROR" in "\n" + out:
                raise H.HarnessError("leecher: " + out.strip().splitlines()[-1])
            if not self.proc.alive() and "\nDONE" not in "\n" + out:
                raise H.HarnessError("leecher exited early:\n" + self.proc.log_tail())
            return "\nDONE" in "\n" + out
        H.wait_until(done, timeout, "leecher to finish", interval=0.1)

    def wait_exit(self, timeout):
        H.wait_until(lambda: not self.proc.alive(), timeout, "leecher to exit", interval=0.1)

    def stop(self):
        return self.proc.stop()


def lt_leecher(h, peer, torrent=None, magnet=None, enc="plain", lifetime=120, linger=1.0):
    """Start a libtorrent leecher that dials PEER (host, port) directly (no
    tracker, no DHT) for TORRENT (a harness Torrent) or MAGNET (a URI).
    PEER None: no direct dial; the torrent's trackers find the peers."""
    save = h.path(h._unique("leecher"))
    argv = [H.PY, os.path.abspath(__file__), "leech", "--save-path", save,
            "--enc", enc, "--lifetime", str(lifetime), "--linger", str(linger),
            "--port", str(H.free_port())]
    if peer is not None:
        host, port = peer
        H.assert_loopback(host)
        argv += ["--peer", "%s:%d" % (host, port)]
    if torrent is not None:
        argv += ["--torrent", torrent.path]
    else:
        argv += ["--magnet", magnet]
    proc = h.spawn(argv, "lt-leecher")
    lee = Leecher(h, proc, None)

    def listening():
        out = lee.output()
        if "\nERROR" in "\n" + out:
            raise H.HarnessError("leecher: " + out.strip().splitlines()[-1])
        if not proc.alive():
            raise H.HarnessError("leecher exited:\n" + proc.log_tail())
        return "\nLISTEN" in "\n" + out
    H.wait_until(listening, 20, "leecher to listen")
    return lee


def aria2_leecher(h, torrent, extra=(), timeout_s=60):
    """aria2c downloading TORRENT through its tracker, exiting when done
    (seed-time 0).  Returns the Proc."""
    d = h.path(h._unique("aria2-leecher"))
    argv = ["aria2c", "--no-conf=true", "--dir=" + d,
            "--seed-time=0", "--listen-port=%d" % H.free_port(),
            "--interface=127.0.0.1", "--disable-ipv6=true",
            "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
            "--enable-peer-exchange=false", "--bt-require-crypto=false",
            "--bt-min-crypto-level=plain", "--file-allocation=none",
            "--auto-save-interval=0", "--summary-interval=0",
            "--console-log-level=notice", "--bt-stop-timeout=%d" % timeout_s,
            "--stop-with-process=%d" % os.getpid(), "--follow-torrent=false",
            "--allow-overwrite=true"] + list(extra) + [torrent.path]
    return h.spawn(argv, "aria2-leecher")


def wait_proc(proc, timeout, what):
    H.wait_until(lambda: not proc.alive(), timeout, what, interval=0.1)
    return proc.popen.returncode


# --------------------------------------------------------------------------
# pcap files (classic format, as tcpdump -w writes them)

PCAP_MAGIC_US = 0xa1b2c3d4
PCAP_MAGIC_NS = 0xa1b23c4d


def read_pcap(path):
    """(header bytes, linktype, [(ts_sec, ts_frac, caplen, wirelen, data)])."""
    b = open(path, "rb").read()
    magic = struct.unpack("<I", b[:4])[0]
    if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
        e = "<"
    elif struct.unpack(">I", b[:4])[0] in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
        e = ">"
    else:
        raise ValueError("%s: not a classic pcap file" % path)
    hdr = b[:24]
    linktype = struct.unpack(e + "I", b[20:24])[0]
    recs = []
    off = 24
    while off + 16 <= len(b):
        s, f, cl, wl = struct.unpack(e + "IIII", b[off:off + 16])
        recs.append([s, f, cl, wl, b[off + 16:off + 16 + cl]])
        off += 16 + cl
    return hdr, e, linktype, recs


def write_pcap(path, hdr, e, recs):
    with open(path, "wb") as f:
        f.write(hdr)
        for s, fr, cl, wl, data in recs:
            f.write(struct.pack(e + "IIII", s, fr, len(data), wl))
            f.write(data)


# --------------------------------------------------------------------------
# the leecher process

def _leech(argv):
    import argparse
    import libtorrent as lt
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent")
    ap.add_argument("--magnet")
    ap.add_argument("--save-path", required=True)
    ap.add_argument("--peer")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--enc", default="plain", choices=("plain", "tolerate", "prefer", "require"))
    ap.add_argument("--lifetime", type=float, default=120.0)
    ap.add_argument("--linger", type=float, default=1.0)
    a = ap.parse_args(argv)

    def say(*w):
        sys.stdout.write(" ".join(str(x) for x in w) + "\n")
        sys.stdout.flush()

    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.append(1))
    parent = os.getppid()
    deadline = time.monotonic() + a.lifetime
    if a.peer:
        phost, pport = a.peer.rsplit(":", 1)
        H.assert_loopback(phost)
    H.assert_loopback(a.host)
    enc = {
        "plain": (lt.enc_policy.pe_disabled, lt.enc_level.pe_plaintext, False),
        "tolerate": (lt.enc_policy.pe_enabled, lt.enc_level.pe_both, False),
        "prefer": (lt.enc_policy.pe_enabled, lt.enc_level.pe_both, True),
        "require": (lt.enc_policy.pe_forced, lt.enc_level.pe_rc4, True),
    }[a.enc]
    sess = lt.session({
        "listen_interfaces": "%s:%d" % (a.host, a.port),
        "outgoing_interfaces": a.host,
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False, "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "in_enc_policy": enc[0], "out_enc_policy": enc[0],
        "allowed_enc_level": enc[1], "prefer_rc4": enc[2],
        "alert_mask": lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification,
    })
    if a.torrent:
        e = lt.bdecode(open(a.torrent, "rb").read())
        if a.peer:
            for k in (b"announce", b"announce-list"):
                e.pop(k, None)
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(e)
    else:
        atp = lt.parse_magnet_uri(a.magnet)
        atp.trackers = []
    atp.save_path = a.save_path
    fl = atp.flags
    fl &= ~lt.torrent_flags.auto_managed
    fl &= ~lt.torrent_flags.paused
    atp.flags = fl
    th = sess.add_torrent(atp)
    t0 = time.monotonic()
    while not sess.is_listening():
        if time.monotonic() - t0 > 10:
            say("ERROR no listen socket")
            return 1
        time.sleep(0.05)
    say("LISTEN", sess.listen_port())
    if a.peer:
        th.connect_peer((phost, int(pport)))
    last = None
    done_at = None
    reconnect = time.monotonic() + 5
    while not stop and os.getppid() == parent:
        if time.monotonic() > deadline:
            say("ERROR lifetime over")
            return 1
        for al in sess.pop_alerts():
            if isinstance(al, (lt.torrent_error_alert, lt.file_error_alert)):
                say("ERROR", al.message())
                return 1
        st = th.status()
        if st.state != last:
            last = st.state
            say("STATE", st.state, st.progress_ppm)
        if done_at is None and st.is_seeding:
            done_at = time.monotonic()
            say("DONE", st.num_pieces)
        if a.peer and done_at is None and st.num_peers == 0 and time.monotonic() > reconnect:
            th.connect_peer((phost, int(pport)))
            reconnect = time.monotonic() + 5
        if done_at is not None and time.monotonic() - done_at >= a.linger:
            break
        time.sleep(0.05)
    sess.remove_torrent(th)
    time.sleep(0.5)
    del sess
    return 0


def _gzip_tracker(argv):
    """A stand-in HTTP tracker that answers every announce with one peer
    (PEER), its body gzip-compressed when the client accepts gzip, as
    trackers behind a compressing web server do.  127.0.0.1 only."""
    import gzip
    import http.server
    import socket
    port, peer, lifetime = int(argv[0]), argv[1], float(argv[2])
    phost, pport = peer.rsplit(":", 1)
    H.assert_loopback(phost)
    compact = socket.inet_aton(phost) + struct.pack(">H", int(pport))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = H.bencode({"interval": 1800, "min interval": 900, "complete": 1,
                              "incomplete": 1, "peers": compact})
            gz = "gzip" in (self.headers.get("Accept-Encoding") or "")
            if gz:
                body = gzip.compress(body, mtime=0)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            if gz:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", port), Handler)
    srv.timeout = 0.2
    print("LISTEN", port, flush=True)
    deadline = time.monotonic() + lifetime
    parent = os.getppid()
    while time.monotonic() < deadline and os.getppid() == parent:
        srv.handle_request()
    return 0


def gzip_tracker(h, peer, lifetime=120):
    """Start _gzip_tracker through the harness; returns (proc, announce URL)."""
    port = H.free_port()
    proc = h.spawn([H.PY, os.path.abspath(__file__), "gzip-tracker", str(port),
                    "%s:%d" % peer, str(lifetime)], "gzip-tracker")
    H.wait_until(lambda: H.tcp_listening("127.0.0.1", port, 0.2), 15, "gzip tracker")
    return proc, "http://127.0.0.1:%d/announce" % port


def bench_capture(out, mib, piece_kib=256):
    """A libtorrent seeder serving MIB MiB to a libtorrent leecher, captured
    to OUT (the seeder's port only).  Returns (packets, seconds)."""
    t0 = time.monotonic()
    with H.Harness("bench-capture") as h:
        c = h.single_file(name="bench.bin", size=mib * H.MiB, seed="bench")
        t = h.torrent(c, maker="mktorrent", piece_length=piece_kib * H.KiB)
        s = h.lt_seeder(t, tracker=False, copy_data=False)
        cap = Tcpdump(h, out, "tcp port %d" % s.port, buffer_kib=262144)
        lee = lt_leecher(h, (s.host, s.port), torrent=t, lifetime=600)
        lee.wait_done(600)
        lee.wait_exit(60)
        # A gigabyte a second on lo can outrun tcpdump's disk writes: a
        # few lost packets make gaps, which both tools get alike.
        n = cap.stop(allow_drops=True)
        if cap.dropped:
            H.log("bench-capture: tcpdump dropped %d packets" % cap.dropped)
    return n, time.monotonic() - t0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "leech":
        sys.exit(_leech(sys.argv[2:]))
    if len(sys.argv) == 5 and sys.argv[1] == "gzip-tracker":
        sys.exit(_gzip_tracker(sys.argv[2:]))
    if len(sys.argv) == 4 and sys.argv[1] == "bench-capture":
        n, secs = bench_capture(sys.argv[2], int(sys.argv[3]))
        print("captured %d packets in %.1f s" % (n, secs))
        sys.exit(0)
    sys.stderr.write(__doc__)
    sys.exit(2)
