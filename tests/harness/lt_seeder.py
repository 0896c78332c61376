#!/usr/bin/python3
"""A libtorrent peer for the btkit harness: one session, one torrent, 127.0.0.1.

Run by harness.py (never by hand in a test); it prints one line per event on
stdout, flushed, so the harness can wait for them:

    LISTEN <port>                 the session listens on 127.0.0.1:<port>
    STATE <state> <progress_ppm>  every state change of the torrent
    READY <state> <num_pieces_we_have>/<num_pieces>
    ERROR <text>                  then exit 1

Modes:
    seed     trust the data (libtorrent seed_mode, hashes checked lazily)
    recheck  check every piece on disk first, READY once it is seeding
    empty    a fresh leecher: empty save path, upload_mode (it never asks for
             pieces), no tracker, so it has no piece and gets none.

It exits on SIGTERM/SIGINT, when its parent dies (checked every 0.2 s) and
after --lifetime seconds, so it can never outlive the harness for long.
"""
import argparse
import os
import signal
import sys
import time

import libtorrent as lt

ENC = {
    # name: (in/out policy, allowed level, prefer_rc4)
    "plain": (lt.enc_policy.pe_disabled, lt.enc_level.pe_plaintext, False),
    "prefer": (lt.enc_policy.pe_enabled, lt.enc_level.pe_both, True),
    "tolerate": (lt.enc_policy.pe_enabled, lt.enc_level.pe_both, False),
    "require": (lt.enc_policy.pe_forced, lt.enc_level.pe_rc4, True),
}


def say(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def strip_trackers(path):
    """torrent_info for PATH without announce/announce-list (same info-hash)."""
    e = lt.bdecode(open(path, "rb").read())
    for k in (b"announce", b"announce-list"):
        e.pop(k, None)
    return lt.torrent_info(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save-path", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--enc", choices=sorted(ENC), default="plain")
    ap.add_argument("--mode", choices=("seed", "recheck", "empty"), default="recheck")
    ap.add_argument("--no-tracker", action="store_true")
    ap.add_argument("--lifetime", type=float, default=900.0)
    a = ap.parse_args()

    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.append(1))
    parent = os.getppid()
    deadline = time.monotonic() + a.lifetime

    policy, level, rc4 = ENC[a.enc]
    ep = "%s:%d" % (a.host, a.port)
    sess = lt.session({
        "listen_interfaces": ep,
        "outgoing_interfaces": a.host,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "in_enc_policy": policy,
        "out_enc_policy": policy,
        "allowed_enc_level": level,
        "prefer_rc4": rc4,
        "alert_mask": lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification,
    })

    no_tracker = a.no_tracker or a.mode == "empty"
    ti = strip_trackers(a.torrent) if no_tracker else lt.torrent_info(a.torrent)
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = a.save_path
    flags = atp.flags
    flags &= ~lt.torrent_flags.auto_managed
    flags &= ~lt.torrent_flags.paused
    if a.mode == "seed":
        flags |= lt.torrent_flags.seed_mode
    if a.mode == "empty":
        flags |= lt.torrent_flags.upload_mode
    atp.flags = flags
    h = sess.add_torrent(atp)

    port = 0
    t0 = time.monotonic()
    while not port:
        if time.monotonic() - t0 > 10:
            say("ERROR", "no listen socket on", ep, "after 10 s")
            return 1
        for al in sess.pop_alerts():
            if isinstance(al, lt.listen_failed_alert):
                say("ERROR", "listen failed:", al.message())
                return 1
        if sess.is_listening():
            port = sess.listen_port()
        else:
            time.sleep(0.05)
    say("LISTEN", port)

    last = None
    ready = False
    while not stop:
        if os.getppid() != parent:
            break
        if time.monotonic() > deadline:
            say("ERROR", "lifetime of", a.lifetime, "s is over")
            break
        for al in sess.pop_alerts():
            if isinstance(al, (lt.torrent_error_alert, lt.file_error_alert)):
                say("ERROR", al.message())
                return 1
        st = h.status()
        if st.errc.value():
            say("ERROR", st.errc.message())
            return 1
        if st.state != last:
            last = st.state
            say("STATE", st.state, st.progress_ppm)
        if not ready:
            have = sum(1 for x in st.pieces if x) if st.pieces else 0
            if a.mode == "empty" and st.state == lt.torrent_status.downloading:
                ready = True
            elif a.mode != "empty" and st.state == lt.torrent_status.seeding:
                ready = True
            if ready:
                say("READY", st.state, "%d/%d" % (have, ti.num_pieces()))
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
