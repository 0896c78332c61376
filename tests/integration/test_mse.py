#!/usr/bin/python3
"""MSE/PE (common/mse.c) against real peers that require encryption.

Starts Transmission, libtorrent and aria2 seeders with encryption
"require" (tests/harness), shows that each refuses a plain handshake, then
runs $BUILD/tests/test_mse_live against each: our initiator completes MSE
with the BitTorrent handshake as IA, the seeder's handshake decrypts with
the right info-hash, our encrypted stream after it is accepted, and the key
log line decrypts the recorded session passively.  Once offering RC4 only,
once offering both methods (a seeder requiring encryption must pick RC4).

Then the receiver role: test_mse_live listens, and a libtorrent session
(in this process, encryption forced) dials it: once offering RC4 only, once
offering both with our receiver preferring plaintext (the "header
obfuscation only" path, the stream after the IA in the clear).  libtorrent
must list us as a peer with our peer id, decrypted from our handshake.

Prints "ok NAME", "not ok NAME: why", "skip NAME (why)" and '#' notes (the
binary's own lines are passed through).  Bounded by an alarm; every process
the harness starts is stopped by PID before this exits.
"""
import os
import select
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.dont_write_bytecode = True
import harness as H  # noqa: E402

BUILD = os.environ.get("BUILD") or os.path.join(ROOT, "build")
LIVE = os.path.join(BUILD, "tests", "test_mse_live")
WHOLE_FILE_LIMIT = 300  # seconds
failed = []


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


def check(name, fn, *args):
    try:
        r = fn(*args)
    except Exception as e:  # report, keep going
        tb = traceback.format_exc().strip().splitlines()
        not_ok(name, "%s: %s (%s)" % (type(e).__name__, e, tb[-3].strip() if len(tb) > 2 else ""))
        return None
    if r is True or r is None:
        ok(name)
    else:
        not_ok(name, r)
    return r


def on_alarm(signum, frame):
    not_ok("time-limit", "test_mse.py ran past %d s" % WHOLE_FILE_LIMIT)
    raise SystemExit(1)


def t_plain_refused(s):
    """A seeder requiring encryption closes a plain handshake at once."""
    try:
        r = s.probe()
    except H.HandshakeFailed as e:
        if e.kind in ("closed", "reset"):
            note("%s: plain handshake %s (%d bytes back)" % (s.kind, e.kind, len(e.got)))
            return True
        return "plain probe: %s" % e
    return "accepted a plain handshake: %r" % r


def run_live(s, kind, label, provide, expect, keylog):
    """Run the C initiator against s; pass its lines through; True if it
    printed at least one ok and no not-ok and exited 0."""
    env = dict(os.environ)
    env.update({
        "BTKIT_MSE_PEER": "%s:%d" % (s.host, s.port),
        "BTKIT_MSE_INFOHASH": s.info_hash.hex(),
        "BTKIT_MSE_NAME": label,
        "BTKIT_MSE_SOURCE": H.next_source_addr(),
        "BTKIT_MSE_PROVIDE": str(provide),
        "BTKIT_MSE_EXPECT": expect,
        "BTKIT_MSE_KEYLOG": keylog,
        "BTKIT_MSE_TIMEOUT": "10",
    })
    t0 = time.monotonic()
    p = subprocess.run([LIVE], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    oks = pass_through(out)
    note("%s: test_mse_live exited %d after %.2f s" % (label, p.returncode,
                                                        time.monotonic() - t0))
    if p.returncode != 0 and "not ok " not in out:
        not_ok(label + "-exit", "exited %d without a failing test" % p.returncode)
    return p.returncode == 0 and oks > 0


def pass_through(out):
    oks = 0
    for line in out.splitlines():
        if line.startswith("not ok "):
            failed.append(line[7:])
        elif line.startswith("# ") and line[2:3].isdigit() and " passed, " in line:
            continue  # the binary's own total: the runner counts its lines
        elif line.startswith("ok "):
            oks += 1
        print(line, flush=True)
    return oks


def lt_dialler(h, t, level, prefer_rc4):
    """A libtorrent session with no data for torrent t that dials only what
    it is told to, with MSE forced."""
    import libtorrent as lt
    src = H.next_source_addr()
    sess = lt.session({
        "listen_interfaces": "%s:%d" % (src, H.free_port(src, udp=False)),
        "outgoing_interfaces": src,
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False, "enable_incoming_utp": False,
        "enable_outgoing_utp": False, "allow_multiple_connections_per_ip": True,
        "in_enc_policy": lt.enc_policy.pe_forced,
        "out_enc_policy": lt.enc_policy.pe_forced,
        "allowed_enc_level": level, "prefer_rc4": prefer_rc4,
    })
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(t.path)
    atp.save_path = h.path("lt-dialler-%d" % H.free_port())
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    th = sess.add_torrent(atp)
    th.replace_trackers([])
    return lt, sess, th


def t_receiver(h, t, label, level_name, prefer_rc4, prefer_plain, expect, keylog):
    """test_mse_live as the receiver; libtorrent dials it."""
    lt, sess, th = lt_dialler(h, t, getattr(__import__("libtorrent").enc_level, level_name),
                              prefer_rc4)
    port = H.free_port("127.0.0.1", udp=False)
    env = dict(os.environ)
    env.update({
        "BTKIT_MSE_LISTEN": "127.0.0.1:%d" % port,
        "BTKIT_MSE_INFOHASH": t.handshake_hash.hex(),
        "BTKIT_MSE_NAME": label,
        "BTKIT_MSE_PREFER_PLAIN": "1" if prefer_plain else "0",
        "BTKIT_MSE_EXPECT": expect,
        "BTKIT_MSE_KEYLOG": keylog,
        "BTKIT_MSE_TIMEOUT": "10",
    })
    p = subprocess.Popen([LIVE], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""
    seen_us = None
    try:
        deadline = time.monotonic() + 5
        while b"listening" not in out:
            r, _, _ = select.select([p.stdout], [], [], max(0, deadline - time.monotonic()))
            if not r:
                p.kill()
                return "test_mse_live did not start listening"
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            out += chunk
        th.connect_peer(("127.0.0.1", port))
        # libtorrent shows us with the peer id it decrypted from our handshake.
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and p.poll() is None and not seen_us:
            for pi in th.get_peer_info():
                if pi.pid.to_bytes().startswith(b"-BK0100-"):
                    seen_us = pi
            time.sleep(0.05)
        rest, _ = p.communicate(timeout=20)
        out += rest
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        del sess
    oks = pass_through(out.decode("utf-8", "replace"))
    if p.returncode != 0:
        return "test_mse_live exited %d" % p.returncode
    if not oks:
        return "no test ran"
    if not seen_us:
        return "libtorrent never listed a peer with our peer id"
    flags = []
    for f in ("rc4_encrypted", "plaintext_encrypted"):
        if seen_us.flags & getattr(lt.peer_info, f):
            flags.append(f)
    note("%s: libtorrent lists us as %r (%s)" % (label, seen_us.pid.to_bytes()[:8],
                                               ", ".join(flags) or "no crypto flag"))
    want = "rc4_encrypted" if expect == "rc4" else "plaintext_encrypted"
    if want not in flags:
        return "libtorrent peer flags %s, expected %s" % (flags, want)
    return True


def t_no_legacy_provider():
    """Without OpenSSL's legacy provider, MSE fails with a clear error
    (test_mse's own check, run with OPENSSL_MODULES pointing nowhere)."""
    unit = os.path.join(BUILD, "tests", "test_mse")
    env = dict(os.environ, OPENSSL_MODULES="/nonexistent", BTKIT_MSE_EXPECT_NO_RC4="1")
    # OpenSSL 3.0 itself leaks ~515 bytes when a provider fails to load
    # (seen with a 5-line program doing only OSSL_PROVIDER_load(NULL,
    # "legacy")); under `make check` LeakSanitizer would blame us for it.
    env["ASAN_OPTIONS"] = ":".join(filter(None, (os.environ.get("ASAN_OPTIONS"),
                                                 "detect_leaks=0")))
    p = subprocess.run([unit], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    oks = pass_through(out)
    if p.returncode != 0 or oks != 1:
        return "test_mse exited %d with %d ok" % (p.returncode, oks)
    return True


def t_keylog(path, want):
    """The key log file holds one well-formed line per connection."""
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln]
    if len(lines) != want:
        return "%d lines, expected %d" % (len(lines), want)
    for ln in lines:
        parts = ln.split(" ")
        if (len(parts) != 5 or parts[0] != "mse" or len(parts[3]) != 192
                or len(parts[4]) != 40 or not parts[1].startswith("127.0.0.")):
            return "malformed line %r" % ln[:80]
    return True


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(WHOLE_FILE_LIMIT)
    if not os.access(LIVE, os.X_OK):
        not_ok("binary", "%s not built" % LIVE)
        return 1
    check("no-legacy-provider", t_no_legacy_provider)
    with H.Harness("mse") as h:
        c = h.single_file(size=H.MiB + 4321, seed="mse")
        t = h.torrent(c, maker="mktorrent", piece_length=64 * H.KiB)
        h.start_tracker()
        keylog = h.path("keylog.txt", mkdir=False)
        runs = 0
        for kind in ("transmission", "libtorrent", "aria2"):
            try:
                s = h.seeder(kind, t, "require")
                note("%s requiring encryption ready on port %d after %.2f s" % (
                    kind, s.port, s.ready_secs))
            except H.HarnessError as e:
                skip("mse-" + kind, "seeder did not start: %s" % str(e).splitlines()[0])
                continue
            check("plain-refused-" + kind, t_plain_refused, s)
            # RC4 only; then both methods offered: a peer that requires
            # encryption must still select RC4.
            for label, provide in ((kind, 2), (kind + "_both", 3)):
                if run_live(s, kind, label, provide, "rc4", keylog):
                    runs += 1
        # The receiver role, dialled by libtorrent.
        t2 = h.torrent(c, maker="libtorrent", piece_length=32 * H.KiB, tracker=False)
        for label, level, rc4, pplain, expect in (
                ("receiver_rc4", "pe_rc4", True, False, "rc4"),
                ("receiver_plain", "pe_both", False, True, "plain")):
            if check("mse-" + label, t_receiver, h, t2, label, level, rc4, pplain,
                     expect, keylog) is True:
                runs += 1
        if runs:
            check("keylog-file", t_keylog, keylog, runs)
        for k, v in sorted(h.timings.items()):
            note("start %s: %.2f s" % (k, v))
    signal.alarm(0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
