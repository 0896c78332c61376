#!/usr/bin/python3
"""bt-handshake against real peers on 127.0.0.1 (tests/harness).

For each seeder (libtorrent, Transmission, aria2): the exact sequence of
messages it sends after the handshake, with and without the fast
extension; a requested piece arrives and hashes right.  Then the bugs of
../shared/origin/python-client-notes.txt reproduced against the same real
peers, each with the verdict that explains it: a 6-byte peer id, "BitTorrent
Protocol", a wrong info-hash, never sending interested, a peer with no
pieces, a whole-piece request, requests while choked; and a refused
connection.

Prints "ok NAME", "not ok NAME: why", "skip NAME (why)" and '#' notes (the
timings measured).  Bounded by an alarm; every process the harness starts
is stopped by PID before this exits.  Each connection comes from its own
source address (127.0.0.2, .3, ...): Transmission keys peers by IP.
"""
import json
import os
import re
import signal
import subprocess
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import harness as H  # noqa: E402

BIN = os.path.join(os.environ.get("BTKIT_BIN", os.path.join(ROOT, "build", "bin")),
                   "bt-handshake")
WHOLE_FILE_LIMIT = 540  # seconds
PIECE = 64 * H.KiB
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
    only = os.environ.get("HS_ONLY")  # a regex: run only matching checks
    if only and not re.search(only, name):
        return None
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
    not_ok("time-limit", "test_handshake.py ran past %d s" % WHOLE_FILE_LIMIT)
    raise SystemExit(1)


class Session:
    """One bt-handshake --json run: rc, records, events, summary, verdicts."""

    def __init__(self, argv, timeout):
        self.argv = argv
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        self.rc = p.returncode
        self.stderr = p.stderr.decode("utf-8", "replace")
        self.records = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
        self.events = [r for r in self.records if "t" in r]
        self.summary = next((r for r in self.records if r.get("kind") == "summary"), None)
        self.verdicts = [r for r in self.records if "verdict" in r]
        self.names = [v["verdict"] for v in self.verdicts]
        self.problems = [v["verdict"] for v in self.verdicts if v["problem"]]

    def inbound(self):
        """What the peer sent, as names: 'handshake', 'extended', 'bitfield'..."""
        out = []
        for e in self.events:
            if e["dir"] != "in":
                continue
            out.append(e["msg"] if e["kind"] == "msg" else e["kind"])
        return out

    def first(self, dir, what):
        for e in self.events:
            if e["dir"] == dir and (e.get("msg") == what or e["kind"] == what):
                return e
        return None

    def why(self):
        lines = ["argv: " + " ".join(self.argv), "rc %d" % self.rc]
        for r in self.records:
            lines.append(json.dumps(r)[:300])
        if self.stderr:
            lines.append("stderr: " + self.stderr[-300:])
        return "\n".join(lines)


def probe(peer, torrent, *args, timeout=90):
    argv = [BIN, "%s:%d" % (peer.host, peer.port), "--torrent", torrent.path,
            "-b", H.next_source_addr(), "--json"] + list(args)
    return Session(argv, timeout)


def fail(s, msg):
    return "%s\n%s" % (msg, s.why())


# ---- slice 1: what each client sends, a piece that hashes right ------------

EXPECT = {
    # kind: (client prefix, ext "v" prefix)
    "libtorrent": ("libtorrent (Rasterbar) 2.0", "libtorrent/2.0"),
    "transmission": ("Transmission 3.00", "Transmission 3.00"),
    "aria2": ("aria2 1.36", "aria2/1.36"),
}


def t_sequence(peer, torrent, kind, fast):
    """-D: handshake, extended handshake, bitfield (have all with --fast),
    unchoke after our interested (libtorrent: maybe before), the whole
    piece in 16 KiB blocks, its SHA-1 right."""
    args = ["-D", "--stay", "0", "-t", "20"] + (["--fast"] if fast else [])
    s = probe(peer, torrent, *args)
    client, v = EXPECT[kind]
    if s.rc != 0:
        return fail(s, "exit %d, expected 0" % s.rc)
    seq = s.inbound()
    announce = "have all" if fast else "bitfield"
    if seq[:3] != ["handshake", "extended", announce]:
        return fail(s, "first messages %r, expected handshake, extended, %s" % (seq[:3], announce))
    hs = s.first("in", "handshake")
    if not hs["client"].startswith(client):
        return fail(s, "client %r, expected %s" % (hs["client"], client))
    ext = s.first("in", "extended")
    if ext.get("ext") != "handshake" or not ext.get("v", "").startswith(v):
        return fail(s, "extended handshake v %r, expected %s..." % (ext.get("v"), v))
    if "extension" not in hs["reserved_bits"] or ("fast" not in hs["reserved_bits"]):
        return fail(s, "reserved bits %r lack extension or fast" % hs["reserved_bits"])
    if announce == "bitfield":
        bf = s.first("in", "bitfield")
        if bf["have"] != bf["pieces"] or bf["pieces"] != torrent_pieces(torrent):
            return fail(s, "bitfield %d/%d" % (bf["have"], bf["pieces"]))
    unchoke = s.first("in", "unchoke")
    interested = s.first("out", "interested")
    if not unchoke or not interested:
        return fail(s, "no unchoke / no interested")
    if kind != "libtorrent" and unchoke["t"] < interested["t"]:
        return fail(s, "%s unchoked us before we were interested" % kind)
    pieces = [e for e in s.events if e.get("msg") == "piece"]
    reqs = [e for e in s.events if e.get("msg") == "request"]
    if len(reqs) != PIECE // H.KiB // 16 or any(r["length"] != 16384 for r in reqs):
        return fail(s, "requests %r" % [(r["begin"], r["length"]) for r in reqs])
    if len(pieces) != len(reqs):
        return fail(s, "%d blocks for %d requests" % (len(pieces), len(reqs)))
    if s.summary["piece_ok"] is not True:
        return fail(s, "piece hash not verified: %r" % s.summary.get("piece_ok"))
    if s.problems:
        return fail(s, "problem verdicts %r" % s.problems)
    sm = s.summary
    note("%s%s: handshake %.1f ms after connect, first message +%.1f ms, "
         "unchoke +%.1f ms after interested, first block at %.1f ms"
         % (kind, " --fast" if fast else "", sm["handshake_ms"], sm["first_msg_ms"],
            sm["unchoke_after_interested_ms"] if sm["unchoke_after_interested_ms"] is not None
            else -1, sm["first_block_ms"]))
    return True


def t_metadata(peer, torrent):
    """Only the info-hash: -D fetches the info dictionary over ut_metadata
    (BEP 9), checks it against the info-hash, then fetches and verifies a
    piece with what it learned."""
    argv = [BIN, "%s:%d" % (peer.host, peer.port), "--info-hash", torrent.info_hash_v1,
            "-b", H.next_source_addr(), "--json", "-D", "--stay", "0", "-t", "20"]
    s = Session(argv, 90)
    notes = [e["why"] for e in s.events if e["kind"] == "note"]
    size = len(H.raw_info(torrent.data))
    if not any(n.startswith("metadata: %d bytes" % size) and "hashes to the info-hash" in n
               for n in notes):
        return fail(s, "no metadata note for %d bytes: %r" % (size, notes))
    if s.rc != 0 or s.summary["piece_ok"] is not True or s.summary["piece_count"] != 17:
        return fail(s, "exit %d summary %r" % (s.rc, s.summary))
    return True


def torrent_pieces(torrent):
    return torrent.lt_info().num_pieces()


# ---- slice 2: the notes' bugs against real peers ---------------------------

def t_short_peer_id(peer, torrent):
    """The notes' wall: 'pigeon' (6 bytes) as peer id, reserved bytes all
    zero.  The peer answers its handshake, then waits for 14 more bytes:
    nothing else ever comes."""
    s = probe(peer, torrent, "--peer-id", "pigeon", "--short-peer-id", "6", "-n",
              "--stay", "3", "-t", "5")
    if s.rc != 1 or s.names != ["short-peer-id"]:
        return fail(s, "exit %d verdicts %r, expected 1 [short-peer-id]" % (s.rc, s.names))
    out_hs = s.first("out", "handshake")
    if s.inbound() != ["handshake"]:
        return fail(s, "peer sent %r, expected only its handshake" % s.inbound())
    if "54 bytes of 68" not in s.verdicts[0]["evidence"]:
        return fail(s, "evidence %r" % s.verdicts[0]["evidence"])
    if not out_hs or out_hs["peer_id"][:6] != "pigeon":
        return fail(s, "our handshake was not the short one")
    return True


def t_short_peer_id_then_messages(peer, torrent):
    """Same, with our extension handshake after it: its first 14 bytes end
    the peer id, the rest is read from the wrong offset."""
    s = probe(peer, torrent, "--peer-id", "pigeon", "--short-peer-id", "6",
              "--interested", "--stay", "2", "-t", "5")
    if s.rc != 1 or s.names != ["short-peer-id"]:
        return fail(s, "exit %d verdicts %r" % (s.rc, s.names))
    if "from the wrong offset" not in s.verdicts[0]["text"]:
        return fail(s, "text lacks the misparse: %r" % s.verdicts[0]["text"])
    return True


def t_capital_p(peer, torrent, kind):
    s = probe(peer, torrent, "--pstr", "BitTorrent Protocol", "--stay", "1", "-t", "4")
    if s.rc != 1 or s.names != ["our-protocol-string"]:
        return fail(s, "exit %d verdicts %r" % (s.rc, s.names))
    if "handshake" in s.inbound():
        return fail(s, "%s answered a capital-P handshake" % kind)
    if "capital P" not in s.verdicts[0]["text"]:
        return fail(s, "text %r" % s.verdicts[0]["text"])
    closed = s.first("in", "closed") or s.first("in", "reset")
    note("%s on 'BitTorrent Protocol': %s" % (
        kind, "%s at %.1f ms" % (closed["kind"], closed["t"]) if closed
        else "silent until our %d s timeout" % 4))
    return True


def t_notes_handshake(peer, torrent):
    """The notes' handshake as written: string, then its length, capital P,
    'pigeon'."""
    s = probe(peer, torrent, "--pstr", "BitTorrent Protocol", "--pstrlen-after",
              "--peer-id", "pigeon", "--short-peer-id", "6", "-n", "--stay", "1", "-t", "4")
    if s.rc != 1 or s.names != ["our-pstrlen", "our-protocol-string"]:
        return fail(s, "exit %d verdicts %r" % (s.rc, s.names))
    if "out of order" not in s.verdicts[0]["text"]:
        return fail(s, "text %r" % s.verdicts[0]["text"])
    return True


def t_wrong_info_hash(peer, torrent):
    s = probe(peer, torrent, "--wrong-info-hash", "--stay", "1", "-t", "5")
    if s.rc != 1 or s.names != ["our-info-hash"]:
        return fail(s, "exit %d verdicts %r" % (s.rc, s.names))
    if not (s.first("in", "closed") or s.first("in", "reset")):
        return fail(s, "the peer did not drop the connection")
    return True


def t_never_interested(peer, torrent, kind):
    """No interested: aria2 keeps us choked (the verdict); libtorrent
    unchokes at once anyway, Transmission at its next 10-second rechoke."""
    s = probe(peer, torrent, "--stay", "3", "-t", "5")
    if kind == "libtorrent":
        if s.rc != 0 or not s.first("in", "unchoke") or s.first("out", "interested"):
            return fail(s, "expected libtorrent to unchoke without interested, exit 0")
        note("libtorrent unchoked us %.1f ms after its handshake without interested"
             % (s.first("in", "unchoke")["t"] - s.first("in", "handshake")["t"]))
        return True
    if kind == "transmission" and s.first("in", "unchoke"):
        # Transmission unchokes peers that are not interested when its
        # 10-second rechoke finds a free slot: which happens depends on
        # where in that cycle we connect.
        if s.rc != 0 or s.names:
            return fail(s, "unchoked, yet exit %d verdicts %r" % (s.rc, s.names))
        note("transmission unchoked us without interested at %.1f ms (its rechoke)"
             % s.first("in", "unchoke")["t"])
        return True
    if s.rc != 1 or s.names != ["not-interested"]:
        return fail(s, "exit %d verdicts %r" % (s.rc, s.names))
    if s.first("in", "unchoke"):
        return fail(s, "unchoked though never interested")
    return True


def t_no_pieces(peer, torrent, fast):
    """A fresh libtorrent leecher: no bitfield (or have none with --fast)."""
    args = ["-D", "--stay", "0", "-t", "3"] + (["--fast"] if fast else [])
    s = probe(peer, torrent, *args)
    if s.rc != 1 or not s.names or s.names[0] != "no-pieces":
        return fail(s, "exit %d verdicts %r" % (s.rc, s.names))
    ev = s.verdicts[0]["evidence"]
    want = "in have none" if fast else "no bitfield"
    if want not in ev:
        return fail(s, "evidence %r lacks %r" % (ev, want))
    if s.summary["blocks"] != 0:
        return fail(s, "blocks from a peer with no pieces?")
    return True


def t_whole_piece(peer, torrent, kind):
    """One request for the whole 64 KiB piece (the notes' req_piece).
    Measured: libtorrent and Transmission reject it (fast extension),
    aria2 serves it."""
    s = probe(peer, torrent, "--fast", "--interested", "--wait-unchoke", "--request", "1",
              "--block-size", str(PIECE), "--stay", "0", "-t", "15")
    if "request-too-big" not in s.names:
        return fail(s, "verdicts %r lack request-too-big" % s.names)
    v = s.verdicts[s.names.index("request-too-big")]
    if kind == "aria2":
        if v["problem"] or s.summary["piece_ok"] is not True:
            return fail(s, "aria2 served 64 KiB before; now %r" % v)
    elif not v["problem"] or "rejected it" not in v["text"]:
        return fail(s, "expected %s to reject it: %r" % (kind, v["text"]))
    what = [x for x in v["text"].split(". ") if x.startswith(("The peer", "This peer"))]
    note("%s on a %d-byte request: %s" % (kind, PIECE, what[0] if what else v["text"]))
    return True


def t_request_choked(peer, torrent):
    """Requests before the unchoke (Transmission unchokes on a 10 s timer)."""
    s = probe(peer, torrent, "--interested", "--request", "1", "--stay", "0", "-t", "3")
    if "request-while-choked" not in s.names or s.rc != 1:
        return fail(s, "exit %d verdicts %r" % (s.rc, s.names))
    return True


# ---- slice 2b: encryption against these (non-requiring) peers --------------
# (peers that require encryption: tests/integration/test_encryption.py)

def t_prefer(peer, torrent, kind):
    """--encryption=prefer offering RC4: Transmission ("tolerated") and aria2
    answer MSE and select RC4; libtorrent with encryption disabled drops our
    Ya, and we fall back to plain (a remark, exit 0)."""
    s = probe(peer, torrent, "--encryption=prefer", "--stay", "0", "-t", "10")
    sm = s.summary
    if s.rc != 0 or sm is None or sm["client"] is None:
        return fail(s, "exit %d summary %r" % (s.rc, sm))
    if kind == "libtorrent":
        if sm["encryption"] != "none" or sm["attempts"] != 2 or s.names != ["mse-refused"] \
                or s.verdicts[0]["problem"]:
            return fail(s, "expected a fallback to plain and the remark mse-refused")
    elif sm["encryption"] != "rc4" or sm["attempts"] != 1 or s.names:
        return fail(s, "expected RC4 on the first attempt")
    note("%s with --encryption=prefer: %s" % (kind, "fell back to plain" if kind == "libtorrent"
                                             else "MSE RC4 in %.1f ms" % sm["mse_ms"]))
    return True


def t_crypto_both(peer, torrent, kind):
    """Offering RC4 and plaintext: aria2 selects plaintext; Transmission 3.00
    (tolerated) closes after our message 3 instead of selecting plaintext,
    and prefer falls back to plain."""
    s = probe(peer, torrent, "--encryption=prefer", "--crypto", "both", "--stay", "0", "-t", "10")
    sm = s.summary
    if s.rc != 0 or sm is None or sm["client"] is None:
        return fail(s, "exit %d summary %r" % (s.rc, sm))
    if kind == "aria2":
        if sm["encryption"] != "plaintext" or s.names:
            return fail(s, "expected aria2 to select plaintext")
        return True
    if s.names != ["mse-refused"] or "no crypto_select" not in s.verdicts[0]["evidence"] \
            or "offer RC4" not in s.verdicts[0]["text"] or sm["attempts"] != 2:
        return fail(s, "expected Transmission to close before crypto_select, then plain")
    return True


# ---- slice 3: swarm mode ---------------------------------------------------

def swarm(torrent_args, *args, timeout=120):
    argv = [BIN] + torrent_args + ["-b", H.next_source_addr(), "--json"] + list(args)
    return Session(argv, timeout)


def t_swarm_trackers(torrent, peers):
    """A torrent alone: its tracker's peers, every one probed, one row each,
    and the swarm summary."""
    s = swarm(["--torrent", torrent.path], "-t", "12")
    rows = [r for r in s.records if r.get("kind") == "peer"]
    sw = next((r for r in s.records if r.get("kind") == "swarm"), None)
    ann = [r for r in s.records if r.get("kind") == "announce"]
    want = sorted("%s:%d" % (p.host, p.port) for p in peers.values())
    got = sorted(r["peer"] for r in rows)
    if not ann or s.rc != 0:
        return fail(s, "exit %d, %d announce records" % (s.rc, len(ann)))
    # bt-announce's record (print.h bt_print_trk_req_fields): outcome and peers
    for a in ann:
        if a.get("ok") is not True or a.get("error") is not None or not a.get("peers"):
            return fail(s, "announce record %r" % a)
    if got != want:
        return fail(s, "rows for %r, expected %r" % (got, want))
    if sw is None or sw["peers"] != len(want) or sw["answered"] != len(want) \
            or sw["seeds"] != len(want):
        return fail(s, "swarm summary %r" % sw)
    if sw["missing"] != 0 or sw["rarest_count"] != len(want) or sw["pieces"] != 17:
        return fail(s, "availability %r" % sw)
    for r in rows:
        if r["pieces"] != 17 or r["problem"] and r["client"] != "Transmission 3.00":
            return fail(s, "row %r" % r)
    note("swarm: %d peers answered, %d unchoked us within 12 s" % (sw["answered"], sw["unchoked"]))
    return True


def t_swarm_peers(torrent, peers):
    """--peer given: those peers only, a dead one among them (refused)."""
    dead = "127.0.0.1:%d" % H.free_port()
    lt = peers["libtorrent"]
    args = ["--peer", "%s:%d" % (lt.host, lt.port), "--peer", dead, "-t", "5", "-P", "2"]
    s = swarm(["--torrent", torrent.path], *args)
    rows = {r["peer"]: r for r in s.records if r.get("kind") == "peer"}
    sw = next((r for r in s.records if r.get("kind") == "swarm"), None)
    if s.rc != 0 or len(rows) != 2 or sw is None:
        return fail(s, "exit %d rows %r" % (s.rc, list(rows)))
    if rows[dead]["verdicts"] != ["connect-refused"] or rows[dead]["client"] is not None:
        return fail(s, "dead peer row %r" % rows[dead])
    if sw["connected"] != 1 or sw["answered"] != 1:
        return fail(s, "summary %r" % sw)
    return True


def t_swarm_magnet(torrent, peers):
    """A magnet: trackers from tr=, piece count only from the bitfields."""
    mg = torrent.expected()["magnet"]
    lt = peers["libtorrent"]
    s = swarm(["--magnet", mg], "--peer", "%s:%d" % (lt.host, lt.port), "-t", "5")
    sw = next((r for r in s.records if r.get("kind") == "swarm"), None)
    if s.rc != 0 or sw is None or sw["answered"] != 1 or sw["pieces"] != 24:
        # a 17-piece bitfield is 3 bytes: 24 bits when the torrent is unknown
        return fail(s, "exit %d summary %r" % (s.rc, sw))
    return True


# ---- slice 4: -w FILE.pcap -------------------------------------------------

def tshark_count(path, port):
    """BitTorrent handshakes and messages tshark finds in the file."""
    p = subprocess.run(["tshark", "-r", path, "-d", "tcp.port==%d,bittorrent" % port,
                        "-Y", "bittorrent", "-T", "fields", "-e", "bittorrent.protocol.name",
                        "-e", "bittorrent.msg.length"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    n = 0
    for line in p.stdout.decode().splitlines():
        name, _, lens = line.partition("\t")
        k = len([x for x in name.split(",") if x]) + len([x for x in lens.split(",") if x])
        # tshark shows a keep-alive as a BitTorrent PDU without fields; the
        # file has one segment per message, so such a frame is one.
        n += k if k else 1
    return n


def t_pcap(peer, torrent, h, kind):
    path = h.path("pcap") + "/%s.pcap" % kind
    s = probe(peer, torrent, "-D", "--fast", "--keepalive=0.2", "--stay", "0.5", "-t", "20",
              "-w", path)
    printed = len([e for e in s.events if e["kind"] in ("handshake", "msg")])
    if s.rc != 0 or printed < 10:
        return fail(s, "exit %d, %d messages printed" % (s.rc, printed))
    n = tshark_count(path, peer.port)
    if n != printed:
        return fail(s, "tshark found %d handshakes+messages, the tool printed %d" % (n, printed))
    note("%s: %s holds the %d messages printed, as tshark reads it" % (kind, os.path.basename(path),
                                                                      n))
    return True


# ---- slice 5: -I through a pseudo-terminal --------------------------------

def t_interactive(peer, torrent):
    """Type 'inter<TAB>' (completion), see our interested and then the
    peer's unchoke; 'have 3', then up-arrow (history) sends it again;
    'quit' ends with exit 0."""
    import pty
    import select
    argv = [BIN, "%s:%d" % (peer.host, peer.port), "--torrent", torrent.path,
            "-b", H.next_source_addr(), "-I"]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(BIN, argv)
        finally:
            os._exit(127)
    buf = [b""]

    def until(pat, secs):
        end = H.time.monotonic() + secs
        while pat not in buf[0]:
            left = end - H.time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([fd], [], [], left)
            if r:
                try:
                    d = os.read(fd, 4096)
                except OSError:
                    d = b""
                if not d:
                    return pat in buf[0]
                buf[0] += d
        return True

    def after(pat, start):
        return buf[0].find(pat, start)

    rc = None
    try:
        if not until(b"bt> ", 15):
            return "no prompt:\n" + buf[0].decode("utf-8", "replace")
        mark = len(buf[0])
        os.write(fd, b"inter\t\r")
        if not until(b"<- unchoke", 10):
            return "no unchoke after interested:\n" + buf[0].decode("utf-8", "replace")
        i, u = after(b"-> interested", mark), after(b"<- unchoke", mark)
        if i < 0 or u < i:
            return "interested/unchoke order:\n" + buf[0].decode("utf-8", "replace")
        os.write(fd, b"have 3\r")
        if not until(b"-> have index 3", 5):
            return "have not sent:\n" + buf[0].decode("utf-8", "replace")
        mark = len(buf[0])
        os.write(fd, b"\x1b[A\r")
        end = H.time.monotonic() + 5
        while after(b"-> have index 3", mark) < 0 and H.time.monotonic() < end:
            until(b"\x00never", 0.2)
        if after(b"-> have index 3", mark) < 0:
            return "history did not resend:\n" + buf[0].decode("utf-8", "replace")
        os.write(fd, b"quit\r")
        until(b"summary", 5)
        until(b"\x00never", 1)
        end = H.time.monotonic() + 5
        while H.time.monotonic() < end:
            got, st = os.waitpid(pid, os.WNOHANG)
            if got:
                rc = os.waitstatus_to_exitcode(st)
                break
            H.time.sleep(0.05)
    finally:
        if rc is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    if rc != 0:
        return "exit %r:\n%s" % (rc, buf[0].decode("utf-8", "replace"))
    return True


def t_refused():
    port = H.free_port()
    argv = [BIN, "127.0.0.1:%d" % port, "--info-hash", "00" * 20, "--json", "-t", "3"]
    s = Session(argv, 30)
    if s.rc != 3 or s.names != ["connect-refused"]:
        return fail(s, "exit %d verdicts %r" % (s.rc, s.names))
    return True


def t_usage():
    for argv, rc in (([BIN], 2), ([BIN, "--help"], 0), ([BIN, "1.2.3.4:1"], 2),
                     ([BIN, "nohost", "--info-hash", "00" * 20], 2),
                     ([BIN, "127.0.0.1:1", "--info-hash", "zz"], 2)):
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        if p.returncode != rc:
            return "%r exited %d, expected %d" % (argv, p.returncode, rc)
    return True


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(WHOLE_FILE_LIMIT)
    if not os.access(BIN, os.X_OK):
        not_ok("binary", "%s not built" % BIN)
        return 1
    check("usage", t_usage)
    check("connection-refused", t_refused)
    with H.Harness("handshake") as h:
        c = h.single_file(size=H.MiB + 12345, seed="handshake")
        t = h.torrent(c, maker="mktorrent", piece_length=PIECE)
        h.start_tracker()
        peers = {}
        for kind, start in (("libtorrent", h.lt_seeder), ("transmission", h.transmission_seeder),
                            ("aria2", h.aria2_seeder)):
            try:
                peers[kind] = start(t)
                note("%s seeding on port %d after %.1f s" % (kind, peers[kind].port,
                                                             peers[kind].ready_secs))
            except H.HarnessError as e:
                skip("start-" + kind, str(e).splitlines()[0])
        try:
            leecher = h.lt_fresh_leecher(t)
        except H.HarnessError as e:
            leecher = None
            skip("start-leecher", str(e).splitlines()[0])

        for kind, p in peers.items():
            check("sequence-%s" % kind, t_sequence, p, t, kind, False)
            check("sequence-%s-fast" % kind, t_sequence, p, t, kind, True)
        for kind, p in peers.items():
            check("metadata-%s" % kind, t_metadata, p, t)
        for kind, p in peers.items():
            check("short-peer-id-%s" % kind, t_short_peer_id, p, t)
            check("short-peer-id-then-messages-%s" % kind, t_short_peer_id_then_messages, p, t)
            check("capital-p-%s" % kind, t_capital_p, p, t, kind)
            check("wrong-info-hash-%s" % kind, t_wrong_info_hash, p, t)
            check("never-interested-%s" % kind, t_never_interested, p, t, kind)
            check("whole-piece-request-%s" % kind, t_whole_piece, p, t, kind)
        for kind, p in peers.items():
            check("encryption-prefer-%s" % kind, t_prefer, p, t, kind)
        for kind in ("transmission", "aria2"):
            if kind in peers:
                check("encryption-crypto-both-%s" % kind, t_crypto_both, peers[kind], t, kind)
        if "libtorrent" in peers:
            check("notes-handshake-libtorrent", t_notes_handshake, peers["libtorrent"], t)
        if "transmission" in peers:
            check("request-while-choked-transmission", t_request_choked,
                  peers["transmission"], t)
        if leecher:
            check("no-pieces-fresh-leecher", t_no_pieces, leecher, t, False)
            check("no-pieces-fresh-leecher-fast", t_no_pieces, leecher, t, True)
        for kind in ("libtorrent", "aria2"):
            if kind not in peers:
                continue
            if not H.shutil.which("tshark"):
                skip("pcap-tshark-" + kind, "no tshark")
                continue
            check("pcap-tshark-" + kind, t_pcap, peers[kind], t, h, kind)
        if "aria2" in peers:
            check("interactive-pty-aria2", t_interactive, peers["aria2"], t)
        if len(peers) == 3:
            check("swarm-from-tracker", t_swarm_trackers, t, peers)
        else:
            skip("swarm-from-tracker", "not every seeder started")
        if "libtorrent" in peers:
            check("swarm-peers", t_swarm_peers, t, peers)
            check("swarm-magnet", t_swarm_magnet, t, peers)
        for k, v in sorted(h.timings.items()):
            note("start %s: %.2f s" % (k, v))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
