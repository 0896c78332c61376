#!/usr/bin/python3
"""Records the captures in this directory from real clients on 127.0.0.1.
Run through record.sh (needs root for tcpdump on lo).

    record.py OUTDIR [SCENARIO...]     default: every scenario

Scenarios and the captures they write:
    download   libtorrent seeder, aria2 leecher through opentracker (HTTP):
               download-plain.pcap (the seeder's port: aria2's MSE attempt,
               then the plain download), tracker-http.pcap (the tracker port)
    fast       libtorrent seeder, libtorrent leecher (fast extension):
               fast-peer.pcap
    metadata   libtorrent seeder, libtorrent leecher from a magnet link
               (ut_metadata, then the download): metadata.pcap
    udp        a torrent with a udp:// tracker, libtorrent seeder and
               libtorrent leecher announcing over BEP 15: tracker-udp.pcap
    mse        libtorrent seeder accepting MSE; the harness's MSE probe
               offering plaintext (mse-plain.pcap) and RC4 (mse-rc4.pcap);
               a libtorrent leecher whose key exchange selects plaintext,
               then downloads (mse-download.pcap)
    diag       bt-handshake against real clients in the silent-peer cases:
               diag-*.pcap, with diag-*.live the verdicts bt-handshake gave
               live (one name a line), which bt-decode --diagnose must give
    gzip       a libtorrent leecher (which sends Accept-Encoding: gzip)
               announcing to a stand-in tracker that gzips its answers
               as trackers behind a compressing web server do:
               tracker-http-gzip.pcap
    keylog     an encrypted session made with btkit's own MSE module (the
               tests/unit/test_mse_live driver, RC4) against a libtorrent
               seeder that requires encryption, with the key log the driver
               writes: mse-keylog.pcap, mse-keylog.keys, and
               mse-keylog.live (what the driver saw in plaintext)
    mtu1500    libtorrent seeder and leecher with 1448-byte segments: run
               inside a network namespace whose lo has MTU 1500 and no
               segmentation offload (record.sh sets it up):
               download-mtu1500.pcap

Each capture is a few hundred KiB at most (small torrents).  Every process
is started through the harness and stopped by PID; every wait is bounded.
"""
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import harness as H  # noqa: E402
import capture_helpers as C  # noqa: E402

KiB = H.KiB


def note(*a):
    sys.stderr.write("record: " + " ".join(str(x) for x in a) + "\n")
    sys.stderr.flush()


def save(tmp, out, name):
    shutil.copyfile(tmp, os.path.join(out, name))
    note("wrote %s (%d bytes)" % (name, os.path.getsize(os.path.join(out, name))))


def s_download(h, out):
    c = h.single_file(name="plain.bin", size=192 * KiB + 777, seed="cap-plain")
    t = h.torrent(c, maker="mktorrent", piece_length=32 * KiB)
    h.start_tracker()
    trk = C.Tcpdump(h, h.path("cap") + "/trk.pcap", "tcp port %d" % h.tracker_port)
    s = h.lt_seeder(t)
    peer = C.Tcpdump(h, h.path("cap") + "/peer.pcap", "tcp port %d" % s.port)
    a = C.aria2_leecher(h, t)
    rc = C.wait_proc(a, 90, "aria2 to download")
    if rc != 0:
        raise H.HarnessError("aria2 exited %s: %s" % (rc, a.log_tail()))
    peer.stop()
    trk.stop()
    save(peer.path, out, "download-plain.pcap")
    save(trk.path, out, "tracker-http.pcap")


def s_fast(h, out):
    c = h.single_file(name="fast.bin", size=160 * KiB + 100, seed="cap-fast")
    t = h.torrent(c, maker="mktorrent", piece_length=32 * KiB)
    s = h.lt_seeder(t, tracker=False)
    cap = C.Tcpdump(h, h.path("cap") + "/fast.pcap", "tcp port %d" % s.port)
    lee = C.lt_leecher(h, (s.host, s.port), torrent=t)
    lee.wait_done(60)
    lee.wait_exit(20)
    cap.stop()
    save(cap.path, out, "fast-peer.pcap")


def s_metadata(h, out):
    c = h.single_file(name="meta.bin", size=96 * KiB + 5, seed="cap-meta")
    t = h.torrent(c, maker="mktorrent", piece_length=32 * KiB)
    s = h.lt_seeder(t, tracker=False)
    cap = C.Tcpdump(h, h.path("cap") + "/meta.pcap", "tcp port %d" % s.port)
    lee = C.lt_leecher(h, (s.host, s.port),
                       magnet="magnet:?xt=urn:btih:%s&dn=meta.bin" % t.info_hash_v1)
    lee.wait_done(60)
    lee.wait_exit(20)
    cap.stop()
    save(cap.path, out, "metadata.pcap")


def s_udp(h, out):
    c = h.single_file(name="udp.bin", size=64 * KiB + 3, seed="cap-udp")
    h.announce_url()
    udp = "udp://127.0.0.1:%d/announce" % h.tracker_port
    t = h.torrent(c, maker="mktorrent", piece_length=32 * KiB, tracker=False,
                  extra_trackers=[udp])
    h.start_tracker()
    h.tracker.allow([t])
    cap = C.Tcpdump(h, h.path("cap") + "/udp.pcap", "udp port %d" % h.tracker_port)
    h.lt_seeder(t)
    # aria2 speaks BEP 15 only through its DHT socket (DHT is off here):
    # a libtorrent leecher that finds the seeder through the tracker.
    lee = C.lt_leecher(h, None, torrent=t, linger=2.0)
    lee.wait_done(90)
    lee.wait_exit(20)   # it announces completed, then stopped
    cap.stop()
    save(cap.path, out, "tracker-udp.pcap")


def s_mse(h, out):
    c = h.single_file(name="mse.bin", size=64 * KiB, seed="cap-mse")
    t = h.torrent(c, maker="mktorrent", piece_length=32 * KiB)
    s = h.lt_seeder(t, encryption="tolerate", tracker=False)
    for name, provide in (("mse-plain.pcap", H.MSE_PLAIN), ("mse-rc4.pcap", H.MSE_RC4)):
        cap = C.Tcpdump(h, h.path("cap") + "/" + name, "tcp port %d" % s.port)
        r = s.probe_mse(provide=provide, read_after=1.0)
        note("%s: crypto %s, %d messages" % (name, r.crypto, len(r.messages)))
        cap.stop()
        save(cap.path, out, name)
    # Two libtorrents that both accept plaintext and prefer it: the key
    # exchange selects plaintext, the download runs in the clear.
    cap = C.Tcpdump(h, h.path("cap") + "/mse-lt.pcap", "tcp port %d" % s.port)
    lee = C.lt_leecher(h, (s.host, s.port), torrent=t, enc="tolerate")
    lee.wait_done(60)
    lee.wait_exit(20)
    cap.stop()
    save(cap.path, out, "mse-download.pcap")


BIN = os.environ.get("BTKIT_BIN") or os.path.join(ROOT, "build", "bin")


def s_diag(h, out):
    c = h.single_file(name="diag.bin", size=128 * KiB + 7, seed="cap-diag")
    t = h.torrent(c, maker="mktorrent", piece_length=32 * KiB)
    seed = h.lt_seeder(t, tracker=False)
    empty = h.lt_fresh_leecher(t)
    aria = h.aria2_seeder(t)
    cases = [
        ("diag-pstr-case", seed, ["--pstr", "BitTorrent Protocol"]),
        ("diag-pstrlen-after", seed, ["--pstrlen-after"]),
        ("diag-short-peer-id", seed, ["--short-peer-id", "12"]),
        ("diag-no-pieces", empty, ["-D"]),
        ("diag-not-interested", aria, []),
    ]
    for name, peer, args in cases:
        cap = C.Tcpdump(h, h.path("cap") + "/" + name + ".pcap", "tcp port %d" % peer.port)
        argv = [os.path.join(BIN, "bt-handshake"), "-j", "-q", "-t", "5",
                "%s:%d" % (peer.host, peer.port), "--torrent", t.path] + args
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        cap.stop()
        verdicts = []
        for line in r.stdout.decode("utf-8", "replace").splitlines():
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if "verdict" in o:
                verdicts.append(o["verdict"])
        if not verdicts:
            raise H.HarnessError("%s: bt-handshake gave no verdict: %s" % (name, r.stdout[-500:]))
        save(cap.path, out, name + ".pcap")
        with open(os.path.join(out, name + ".live"), "w") as f:
            f.write("".join(v + "\n" for v in verdicts))
        note("%s: live verdicts %s" % (name, " ".join(verdicts)))


def s_gzip(h, out):
    c = h.single_file(name="gz.bin", size=64 * KiB + 9, seed="cap-gzip")
    s_tmp = h.torrent(c, maker="mktorrent", piece_length=32 * KiB, tracker=False,
                      extra_trackers=["http://127.0.0.1:1/announce"])
    seed = h.lt_seeder(s_tmp, tracker=False)
    proc, url = C.gzip_tracker(h, (seed.host, seed.port))
    t = h.torrent(c, maker="mktorrent", piece_length=32 * KiB, tracker=False,
                  extra_trackers=[url])
    cap = C.Tcpdump(h, h.path("cap") + "/gz.pcap", "tcp port %s" % url.rsplit(":", 1)[1].split("/")[0])
    lee = C.lt_leecher(h, None, torrent=t, linger=1.0)
    lee.wait_done(60)
    lee.wait_exit(20)
    cap.stop()
    proc.stop()
    save(cap.path, out, "tracker-http-gzip.pcap")


def s_keylog(h, out):
    # The driver is our initiator (mse.h) with our handshake as the IA, an
    # encrypted "interested" after it; it appends the key log line.  Once
    # bt-handshake speaks MSE, `bt-handshake --encryption=require --keylog
    # F -D` can record a whole download the same way.
    live = os.path.join(os.path.dirname(BIN), "tests", "test_mse_live")
    if not os.access(live, os.X_OK):
        raise H.HarnessError("%s not built" % live)
    c = h.single_file(name="keylog.bin", size=96 * KiB + 13, seed="cap-keylog")
    t = h.torrent(c, maker="mktorrent", piece_length=32 * KiB)
    s = h.seeder("libtorrent", t, "require")
    keys = h.path("cap") + "/mse-keylog.keys"
    cap = C.Tcpdump(h, h.path("cap") + "/mse-keylog.pcap", "tcp port %d" % s.port)
    env = dict(os.environ, BTKIT_MSE_PEER="%s:%d" % (s.host, s.port),
               BTKIT_MSE_INFOHASH=t.handshake_hash.hex(), BTKIT_MSE_NAME="keylog",
               BTKIT_MSE_SOURCE=H.next_source_addr(), BTKIT_MSE_PROVIDE="2",
               BTKIT_MSE_EXPECT="rc4", BTKIT_MSE_KEYLOG=keys, BTKIT_MSE_TIMEOUT="10")
    r = subprocess.run([live], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    cap.stop()
    text = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0 or "not ok" in text:
        raise H.HarnessError("test_mse_live failed: %s" % text[-800:])
    save(cap.path, out, "mse-keylog.pcap")
    save(keys, out, "mse-keylog.keys")
    with open(os.path.join(out, "mse-keylog.live"), "w") as f:
        f.write("".join(ln + "\n" for ln in text.splitlines() if ln.startswith("#")))
    note("keylog: %s" % " / ".join(ln for ln in text.splitlines() if "messages" in ln))


def s_mtu1500(h, out):
    c = h.single_file(name="mtu.bin", size=320 * KiB + 11, seed="cap-mtu")
    t = h.torrent(c, maker="mktorrent", piece_length=64 * KiB)
    s = h.lt_seeder(t, tracker=False)
    cap = C.Tcpdump(h, h.path("cap") + "/mtu.pcap", "tcp port %d" % s.port)
    lee = C.lt_leecher(h, (s.host, s.port), torrent=t)
    lee.wait_done(60)
    lee.wait_exit(20)
    cap.stop()
    save(cap.path, out, "download-mtu1500.pcap")


SCENARIOS = {"download": s_download, "fast": s_fast, "metadata": s_metadata,
             "udp": s_udp, "mse": s_mse, "diag": s_diag, "gzip": s_gzip,
             "keylog": s_keylog, "mtu1500": s_mtu1500}


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    out = os.path.abspath(sys.argv[1])
    names = sys.argv[2:] or list(SCENARIOS)
    for n in names:
        if n not in SCENARIOS:
            sys.stderr.write("record: unknown scenario %s\n" % n)
            return 2
    for n in names:
        t0 = time.monotonic()
        with H.Harness("rec-" + n) as h:
            SCENARIOS[n](h, out)
        note("%s done in %.1f s" % (n, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
