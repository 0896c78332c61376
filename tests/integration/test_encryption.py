#!/usr/bin/python3
"""bt-handshake --encryption against real peers (tests/harness).

Transmission, libtorrent and aria2 seeders that require encryption:
  - a plain handshake (the default, --encryption=off) is dropped: exit 1
    and a verdict saying the peer may require encryption, suggesting
    --encryption=prefer;
  - --probe-encryption redials with MSE after that drop: the verdict
    requires-encryption (the MSE spec, not a BEP), exit 1;
  - --encryption=require -D: MSE (the steps on the timeline), handshake,
    bitfield, interested/unchoke, one piece verified, exit 0; the key log
    line (mse.h's format) names our endpoints, and its secret decrypts the
    session the tool wrote with -w: the peer's handshake and our IA
    (our handshake) come out of the recorded ciphertext.
A libtorrent seeder without encryption ("plain", pe_disabled):
  - --encryption=prefer falls back to plain and says so (a remark), exit 0,
    and the piece still verifies;
  - --encryption=require: the verdict mse-refused, exit 1.
$BTKIT_KEYLOGFILE is honoured like --keylog.

Prints "ok NAME", "not ok NAME: why", "skip NAME (why)" and '#' notes
(MSE handshake times per client).  Bounded by an alarm; every process the
harness starts is stopped by PID before this exits.  Each run comes from
its own source address (127.0.0.2, .3, ...): Transmission keys peers by IP.
"""
import hashlib
import json
import os
import re
import signal
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.dont_write_bytecode = True
import harness as H  # noqa: E402
from report import ok, not_ok, skip, note, check, finish, failed  # noqa: E402,F401

BIN = os.path.join(os.environ.get("BTKIT_BIN", os.path.join(ROOT, "build", "bin")),
                   "bt-handshake")
WHOLE_FILE_LIMIT = 170  # seconds
PIECE = 64 * H.KiB
KEYLOG_RE = re.compile(r"^mse (\S+) (\S+) ([0-9a-f]{192})(?: ([0-9a-f]{40}))?$")
MSE_STEPS = ("MSE: sent Ya (", "MSE: got Yb after ", "MSE: RC4 selected after ")
timings = {}


def on_alarm(signum, frame):
    not_ok("time-limit", "test_encryption.py ran past %d s" % WHOLE_FILE_LIMIT)
    raise SystemExit(1)


class Session:
    """One bt-handshake --json run."""

    def __init__(self, argv, timeout=60, env=None):
        self.argv = argv
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=env)
        self.rc = p.returncode
        self.stderr = p.stderr.decode("utf-8", "replace")
        self.records = [json.loads(x) for x in p.stdout.decode().splitlines() if x.strip()]
        self.events = [r for r in self.records if "t" in r]
        self.summary = next((r for r in self.records if r.get("kind") == "summary"), None)
        self.verdicts = [r for r in self.records if "verdict" in r]
        self.names = [v["verdict"] for v in self.verdicts]

    def notes(self):
        return [e for e in self.events if e["kind"] == "note"]

    def inbound(self):
        return [e["msg"] if e["kind"] == "msg" else e["kind"]
                for e in self.events if e["dir"] == "in" and e["kind"] != "note"]

    def first(self, dir, what):
        for e in self.events:
            if e["dir"] == dir and (e.get("msg") == what or e["kind"] == what):
                return e
        return None

    def why(self, msg):
        lines = [msg, "argv: " + " ".join(self.argv), "rc %d" % self.rc]
        lines += [json.dumps(r)[:300] for r in self.records]
        if self.stderr:
            lines.append("stderr: " + self.stderr[-300:])
        return "\n".join(lines)


def probe(peer, torrent, *args, src=None, env=None, timeout=60):
    argv = [BIN, "%s:%d" % (peer.host, peer.port), "--torrent", torrent.path,
            "-b", src or H.next_source_addr(), "--json"] + list(args)
    return Session(argv, timeout, env)


# ---- a pure-Python reading of what -w wrote, and RC4 --------------------

def pcap_streams(path):
    """{(src_port, dst_port): bytes} of the TCP payloads in file order
    (bt-handshake writes each direction in sequence), and the SYN's ports."""
    with open(path, "rb") as f:
        data = f.read()
    if struct.unpack("<I", data[:4])[0] != 0xa1b2c3d4:
        raise ValueError("not a microsecond pcap")
    off, streams, syn = 24, {}, None
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8:off + 12])[0]
        fr = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if fr[12:14] != b"\x08\x00":
            continue
        ihl = (fr[14] & 15) * 4
        tcp = fr[14 + ihl:]
        sport, dport = struct.unpack(">HH", tcp[:4])
        flags = tcp[13]
        if flags & 0x02 and not flags & 0x10:
            syn = (sport, dport)
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            streams[(sport, dport)] = streams.get((sport, dport), b"") + payload
    return streams, syn


def rc4(key):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 255
        s[i], s[j] = s[j], s[i]
    st = [0, 0]

    def stream(n):
        i, j = st
        out = bytearray(n)
        for k in range(n):
            i = (i + 1) & 255
            j = (j + s[i]) & 255
            s[i], s[j] = s[j], s[i]
            out[k] = s[(s[i] + s[j]) & 255]
        st[0], st[1] = i, j
        return bytes(out)
    stream(1024)  # MSE discards the first 1024 bytes
    return stream


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def sha1(*parts):
    return hashlib.sha1(b"".join(parts)).digest()


def decrypt_session(secret, skey, a2b, b2a):
    """Walk both directions of a recorded MSE session with S and SKEY as
    the MSE spec says; return (our IA, the peer's first 68 payload bytes,
    crypto_select) or raise ValueError."""
    ka, kb = rc4(sha1(b"keyA", secret, skey)), rc4(sha1(b"keyB", secret, skey))
    # A->B: Ya, PadA, HASH('req1', S) ...
    req1 = sha1(b"req1", secret)
    i = a2b.find(req1, 96, 96 + 512 + 20)
    if i < 0:
        raise ValueError("HASH('req1', S) not within 532 bytes after Ya: wrong S?")
    if a2b[i + 20:i + 40] != xor(sha1(b"req2", skey), sha1(b"req3", secret)):
        raise ValueError("HASH('req2', SKEY) xor HASH('req3', S) does not match")
    p = i + 40
    vc = xor(a2b[p:p + 14], ka(14))
    if vc[:8] != bytes(8):
        raise ValueError("A->B VC does not decrypt to zeros")
    padc = struct.unpack(">H", vc[12:14])[0]
    p += 14
    ka(padc)
    p += padc
    ia_len = struct.unpack(">H", xor(a2b[p:p + 2], ka(2)))[0]
    p += 2
    ia = xor(a2b[p:p + ia_len], ka(ia_len))
    # B->A: Yb, PadB, ENCRYPT(VC, crypto_select, len(PadD), PadD), payload
    enc_vc = kb(8)
    j = b2a.find(enc_vc, 96, 96 + 512 + 8)
    if j < 0:
        raise ValueError("encrypted VC not within 520 bytes after Yb")
    q = j + 8
    sel = xor(b2a[q:q + 6], kb(6))
    select, padd = struct.unpack(">IH", sel)
    q += 6
    kb(padd)
    q += padd
    first = b2a[q:q + 68]
    if select == 2:
        first = xor(first, kb(68))
    return ia, first, select


# ---- the checks -----------------------------------------------------------

def t_plain(peer, torrent, kind):
    """The default (off): a plain handshake, dropped; the hint verdict."""
    s = probe(peer, torrent, "--stay", "0", "-t", "5")
    if s.rc != 1 or s.names not in (["closed-on-handshake"], ["reset-on-handshake"]):
        return s.why("exit %d verdicts %r, expected 1 [closed/reset-on-handshake]"
                     % (s.rc, s.names))
    v = s.verdicts[0]
    if "after our plain handshake: it may require encryption" not in v["text"] \
            or "--encryption=prefer" not in v["text"] or not v["problem"]:
        return s.why("verdict text lacks the encryption hint: %r" % v["text"])
    if "handshake" in s.inbound() or s.summary["encryption"] != "none":
        return s.why("unexpected answer %r" % s.inbound())
    end = s.first("in", "closed") or s.first("in", "reset")
    note("%s: plain handshake %s after %.1f ms" % (
        kind, end["kind"], end["t"] - s.first("out", "handshake")["t"]))
    return True


def t_probe(peer, torrent, kind):
    """--probe-encryption: the drop, a redial with MSE that works, and the
    verdict requires-encryption naming the MSE spec."""
    s = probe(peer, torrent, "--probe-encryption", "--stay", "0", "-t", "10")
    if s.rc != 1 or s.names != ["requires-encryption"]:
        return s.why("exit %d verdicts %r, expected 1 [requires-encryption]" % (s.rc, s.names))
    v = s.verdicts[0]
    if "Message Stream Encryption" not in v["rule"] or "BEP" in v["rule"] or not v["problem"]:
        return s.why("rule %r" % v["rule"])
    whys = [n["why"] for n in s.notes()]
    if not any(w.startswith("the peer ") and "after our plain handshake" in w for w in whys) \
            or not any("redialling with encryption" in w for w in whys):
        return s.why("no refusal/probe notes: %r" % whys)
    if [e["kind"] for e in s.events].count("connecting") != 2:
        return s.why("expected two connection attempts")
    sm = s.summary
    if sm["attempts"] != 2 or sm["encryption"] != "rc4" or sm["client"] is None:
        return s.why("summary %r" % sm)
    return True


def mse_steps_in_order(s):
    """The three MSE notes, in order, before the peer's handshake."""
    idx = []
    for step in MSE_STEPS:
        i = next((k for k, e in enumerate(s.events)
                  if e["kind"] == "note" and e["why"].startswith(step)), None)
        if i is None:
            return "no note %r" % step
        idx.append(i)
    hs_in = next((k for k, e in enumerate(s.events)
                  if e["dir"] == "in" and e["kind"] == "handshake"), None)
    if idx != sorted(idx) or hs_in is None or hs_in < idx[-1]:
        return "MSE notes out of order: %r, peer handshake at %r" % (idx, hs_in)
    return None


def t_require(peer, torrent, kind, h):
    """--encryption=require -D: MSE then the whole script; the key log and
    the pcap agree, and S decrypts the recording."""
    src = H.next_source_addr()
    keylog = h.path("keylog-%s.txt" % kind, mkdir=False)
    pcap = h.path("require-%s.pcap" % kind, mkdir=False)
    s = probe(peer, torrent, "--encryption=require", "-D", "--stay", "0", "-t", "20",
              "--keylog", keylog, "-w", pcap, src=src)
    if s.rc != 0 or s.names:
        return s.why("exit %d verdicts %r, expected 0 and none" % (s.rc, s.names))
    bad = mse_steps_in_order(s)
    if bad:
        return s.why(bad)
    seq = s.inbound()
    if seq[:3] != ["handshake", "extended", "bitfield"] or "unchoke" not in seq:
        return s.why("peer sent %r" % seq[:6])
    unchoke, interested = s.first("in", "unchoke"), s.first("out", "interested")
    if kind != "libtorrent" and unchoke["t"] < interested["t"]:
        return s.why("unchoked before interested")
    sm = s.summary
    if sm["piece_ok"] is not True or sm["encryption"] != "rc4" or sm["attempts"] != 1:
        return s.why("summary %r" % sm)
    gy = next(e["why"] for e in s.notes() if e["why"].startswith(MSE_STEPS[1]))
    yb_ms = float(gy[len(MSE_STEPS[1]):].split(" ")[0])
    timings.setdefault(kind, []).append((yb_ms, sm["mse_ms"], sm["handshake_ms"]))
    note("%s: MSE RC4 in %.1f ms (Yb after %.1f ms), peer handshake %.1f ms after "
         "connect, first block at %.1f ms" % (kind, sm["mse_ms"], yb_ms,
                                             sm["handshake_ms"], sm["first_block_ms"]))
    # The key log: one line, our endpoints, and it decrypts the recording.
    with open(keylog) as f:
        lines = [x for x in f.read().splitlines() if x]
    if len(lines) != 1:
        return "key log has %d lines, expected 1: %r" % (len(lines), lines)
    m = KEYLOG_RE.match(lines[0])
    if not m:
        return "key log line does not parse: %r" % lines[0]
    client, server, secret, skey = m.group(1), m.group(2), bytes.fromhex(m.group(3)), \
        bytes.fromhex(m.group(4) or "")
    streams, syn = pcap_streams(pcap)
    if server != "%s:%d" % (peer.host, peer.port) or syn is None or \
            client != "%s:%d" % (src, syn[0]) or syn[1] != peer.port:
        return "key log endpoints %s -> %s, connection %s:%r -> %s:%d" % (
            client, server, src, syn and syn[0], peer.host, peer.port)
    if skey != torrent.handshake_hash:
        return "key log info-hash %s" % skey.hex()
    a2b, b2a = streams.get(syn, b""), streams.get((syn[1], syn[0]), b"")
    if a2b[:20] == b"\x13BitTorrent protocol" or b"BitTorrent protocol" in a2b + b2a:
        return "the recording holds a plain handshake"
    try:
        ia, first, select = decrypt_session(secret, skey, a2b, b2a)
    except ValueError as e:
        return "decrypting the recording with the key log: %s" % e
    ours = s.first("out", "handshake")
    if len(ia) != 68 or ia[:20] != b"\x13BitTorrent protocol" or \
            ia[28:48] != torrent.handshake_hash or ia[48:68].decode("latin-1") != ours["peer_id"]:
        return "decrypted IA %r is not our handshake" % ia
    if select != 2 or first[:20] != b"\x13BitTorrent protocol" or \
            first[28:48] != torrent.handshake_hash:
        return "decrypted peer payload %r (select %d) is not its handshake" % (first, select)
    return True


def t_prefer_encrypted(peer, torrent, h):
    """prefer against a peer requiring encryption: MSE on the first
    attempt; the key log comes from $BTKIT_KEYLOGFILE."""
    keylog = h.path("keylog-env.txt", mkdir=False)
    env = dict(os.environ, BTKIT_KEYLOGFILE=keylog)
    s = probe(peer, torrent, "--encryption=prefer", "--stay", "0", "-t", "10", env=env)
    if s.rc != 0 or s.names or s.summary["encryption"] != "rc4" or s.summary["attempts"] != 1:
        return s.why("exit %d verdicts %r summary %r" % (s.rc, s.names, s.summary))
    with open(keylog) as f:
        lines = f.read().splitlines()
    if len(lines) != 1 or not KEYLOG_RE.match(lines[0]):
        return "key log from the environment: %r" % lines
    return True


def t_prefer_fallback(peer, torrent):
    """prefer against a peer without encryption: it drops our Ya, we redial
    plain and say so; a remark, not a problem; the piece verifies."""
    s = probe(peer, torrent, "--encryption=prefer", "-D", "--stay", "0", "-t", "15")
    if s.rc != 0 or s.names != ["mse-refused"] or s.verdicts[0]["problem"]:
        return s.why("exit %d verdicts %r, expected 0 and the remark mse-refused"
                     % (s.rc, s.names))
    whys = [n["why"] for n in s.notes()]
    ref = [w for w in whys if "it does not accept encrypted connections" in w]
    fb = [w for w in whys if "falling back to a plain connection" in w]
    if not ref or not fb:
        return s.why("no refusal/fallback notes: %r" % whys)
    if "We fell back to a plain connection" not in s.verdicts[0]["text"]:
        return s.why("remark text %r" % s.verdicts[0]["text"])
    kinds = [e["kind"] for e in s.events]
    if kinds.count("connecting") != 2 or "closed" in kinds[:kinds.index("connected", 2)]:
        return s.why("expected a redial without a close event before it: %r" % kinds)
    sm = s.summary
    if sm["piece_ok"] is not True or sm["encryption"] != "none" or sm["attempts"] != 2:
        return s.why("summary %r" % sm)
    note("libtorrent without encryption: our Ya dropped after %s; plain handshake "
         "answered %.1f ms after the second connect" % (
             ref[0].split("connection ")[1].split(" after")[0], sm["handshake_ms"]))
    return True


def t_require_plain_peer(peer, torrent):
    s = probe(peer, torrent, "--encryption=require", "--stay", "0", "-t", "5")
    if s.rc != 1 or s.names != ["mse-refused"] or not s.verdicts[0]["problem"]:
        return s.why("exit %d verdicts %r, expected 1 [mse-refused]" % (s.rc, s.names))
    if "--encryption=prefer" not in s.verdicts[0]["text"]:
        return s.why("no advice in %r" % s.verdicts[0]["text"])
    return True


def t_usage():
    for args in (["--encryption=maybe"], ["--encryption=prefer", "--probe-encryption"],
                 ["--crypto", "aes"]):
        argv = [BIN, "127.0.0.1:1", "--info-hash", "00" * 20] + args
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        if p.returncode != 2:
            return "%r exited %d, expected 2" % (args, p.returncode)
    return True


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(WHOLE_FILE_LIMIT)
    if not os.access(BIN, os.X_OK):
        not_ok("binary", "%s not built" % BIN)
        return finish()
    check("usage", t_usage)
    with H.Harness("encryption") as h:
        c = h.single_file(size=H.MiB + 777, seed="encryption")
        t = h.torrent(c, maker="mktorrent", piece_length=PIECE)
        h.start_tracker()
        req = {}
        for kind in ("transmission", "libtorrent", "aria2"):
            try:
                req[kind] = h.seeder(kind, t, "require")
                note("%s requiring encryption on port %d, ready after %.2f s"
                     % (kind, req[kind].port, req[kind].ready_secs))
            except H.HarnessError as e:
                skip("start-%s-require" % kind, str(e).splitlines()[0])
        try:
            plain = h.seeder("libtorrent", t, "plain")
        except H.HarnessError as e:
            plain = None
            skip("start-libtorrent-plain", str(e).splitlines()[0])
        for kind, p in req.items():
            check("plain-dropped-%s" % kind, t_plain, p, t, kind)
            check("probe-encryption-%s" % kind, t_probe, p, t, kind)
            check("require-%s" % kind, t_require, p, t, kind, h)
        if "libtorrent" in req:
            check("prefer-encrypted-libtorrent", t_prefer_encrypted, req["libtorrent"], t, h)
        if plain:
            check("prefer-fallback-libtorrent-plain", t_prefer_fallback, plain, t)
            check("require-libtorrent-plain", t_require_plain_peer, plain, t)
        for kind, v in sorted(timings.items()):
            note("MSE handshake %s: Yb after %s ms, RC4 selected after %s ms" % (
                kind, ", ".join("%.1f" % x[0] for x in v), ", ".join("%.1f" % x[1] for x in v)))
    signal.alarm(0)
    return finish()


if __name__ == "__main__":
    main()
