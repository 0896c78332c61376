#!/usr/bin/python3
"""bt-decode against real captures (captures/), tshark, and rewrites.

  golden-*      every captures/TESTLIST entry decodes to its .out byte for byte
  tshark-*      message counts by type, per flow and direction, equal those of
                tshark's BitTorrent dissector (decode-as on the port, sequence
                analysis off); where they cannot agree the test says which
                one is right and why
  diag-*        --diagnose on a capture of bt-handshake's session gives the
                verdicts bt-handshake gave live (captures/diag-*.live)
  rewrite-*     captures rewritten by this test (segments reordered,
                duplicated, dropped, overlapping; snaplen cut; file damaged;
                unknown link type; start cut off) decode to exact results
  keylog-*      an MSE session recorded with its key log decrypts to the
                message counts of its plaintext (decrypted again here from
                the specification) and of the live driver; without the key
                (or with a wrong one) the flow is reported encrypted

Prints "ok NAME", "not ok NAME: why", "skip NAME (why)".  Tools in
$BTKIT_BIN.  Bounded by an alarm.
"""
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CAP = os.path.join(ROOT, "captures")
BIN = os.environ.get("BTKIT_BIN") or os.path.join(ROOT, "build", "bin")
DEC = os.path.join(BIN, "bt-decode")
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import capture_helpers as C  # noqa: E402

LIMIT = 300
failed = []
TMP = tempfile.mkdtemp(prefix="btkit-decode-")


def ok(name):
    print("ok " + name, flush=True)


def not_ok(name, why):
    failed.append(name)
    print("not ok %s: %s" % (name, str(why).strip().replace("\n", "\n#   ")), flush=True)


def skip(name, why):
    print("skip %s (%s)" % (name, why), flush=True)


def note(msg):
    print("# " + msg, flush=True)


def check(name, fn, *a):
    try:
        r = fn(*a)
    except Exception as e:
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


def decode(pcap, *opts, rc_ok=(0,), env=None):
    """bt-decode -r PCAP OPTS in captures/ (options may name files there),
    with TZ=UTC and no key log from the environment unless env says."""
    e = dict(os.environ, TZ="UTC")
    e.pop("BTKIT_KEYLOGFILE", None)
    e.update(env or {})
    r = subprocess.run([DEC, "-r", pcap] + list(opts), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                       env=e, cwd=CAP)
    if r.returncode not in rc_ok:
        raise AssertionError("bt-decode %s %s exited %d: %s" % (
            os.path.basename(pcap), " ".join(opts), r.returncode, r.stderr.decode()[-400:]))
    return r


def records(pcap, *opts, env=None):
    r = decode(pcap, "--json", *opts, env=env)
    return [json.loads(l) for l in r.stdout.decode().splitlines()]


def flow_counts(recs):
    """{(src, dst): {"out": {type: n}, "in": {...}}} of bittorrent flows."""
    out = {}
    for o in recs:
        if o.get("kind") == "flow-end" and o.get("proto") == "bittorrent":
            out[(o["src"], o["dst"])] = {d: dict(o[d].get("counts", {})) for d in ("out", "in")}
    return out


# ---------------------------------------------------------------------------
# goldens

def testlist():
    out = []
    for line in open(os.path.join(CAP, "TESTLIST")):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        w = line.split()
        out.append((w[0], w[1], w[2:]))
    return out


def t_golden(name, pcap, opts):
    r = decode(os.path.join(CAP, pcap), *opts, rc_ok=(0, 1))
    want = open(os.path.join(CAP, name + ".out"), "rb").read()
    if r.stdout != want:
        a, b = r.stdout.decode("utf-8", "replace").splitlines(), want.decode("utf-8", "replace").splitlines()
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return "line %d differs:\n got  %s\n want %s" % (i + 1, x[:200], y[:200])
        return "%d lines, expected %d" % (len(a), len(b))
    errf = os.path.join(CAP, name + ".err")
    want_err = open(errf, "rb").read() if os.path.exists(errf) else b""
    if r.stderr != want_err:
        return "stderr differs: %r" % r.stderr[:300]
    return True


# ---------------------------------------------------------------------------
# tshark

MSG_NAMES = {0: "choke", 1: "unchoke", 2: "interested", 3: "not interested", 4: "have",
             5: "bitfield", 6: "request", 7: "piece", 8: "cancel", 9: "port",
             13: "suggest", 14: "have all", 15: "have none", 16: "reject",
             17: "allowed fast", 20: "extended", 21: "hash request", 22: "hashes",
             23: "hash reject"}


def tshark_counts(pcap, ports):
    """{(src, dst): {dir: {type: n}}} by tshark, flows keyed like bt-decode's
    (src = the side that sent the SYN, from tshark's first packet)."""
    argv = ["tshark", "-r", pcap, "-o", "tcp.analyze_sequence_numbers:FALSE"]
    for p in ports:
        argv += ["-d", "tcp.port==%d,bittorrent" % p]
    argv += ["-T", "fields", "-E", "separator=|", "-e", "tcp.stream", "-e", "ip.src",
             "-e", "tcp.srcport", "-e", "ip.dst", "-e", "tcp.dstport", "-e", "tcp.flags.syn",
             "-e", "tcp.flags.ack", "-e", "bittorrent.protocol.name", "-e", "bittorrent.msg.type",
             "-e", "bittorrent.msg.length"]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300)
    first = {}
    counts = {}
    for line in r.stdout.decode().splitlines():
        f = line.split("|")
        st, sip, sp, dip, dp, syn, ack, pname, types, lens = f
        a, b = "%s:%s" % (sip, sp), "%s:%s" % (dip, dp)
        if st not in first:
            # the SYN's sender, or the first packet's (a SYN-ACK: the other)
            first[st] = (b, a) if syn == "1" and ack == "1" else (a, b)
        cli, srv = first[st]
        key = (cli, srv)
        d = "out" if a == cli else "in"
        c = counts.setdefault(key, {"out": {}, "in": {}})[d]
        if pname:
            c["handshake"] = c.get("handshake", 0) + len(pname.split(","))
        tl = [int(x) for x in types.split(",") if x] if types else []
        ll = [int(x) for x in lens.split(",") if x] if lens else []
        for t in tl:
            n = MSG_NAMES.get(t, "unknown")
            c[n] = c.get(n, 0) + 1
        ka = sum(1 for x in ll if x == 0)
        if ka:
            c["keep-alive"] = c.get("keep-alive", 0) + ka
    return counts


def t_tshark(pcap):
    path = os.path.join(CAP, pcap)
    recs = records(path, "-q")
    ours = flow_counts(recs)
    if not ours:
        return "bt-decode found no BitTorrent flow"
    ports = sorted({int(dst.rsplit(":", 1)[1]) for _, dst in ours})
    theirs = tshark_counts(path, ports)
    mse = {(o["src"], o["dst"]) for o in recs if o.get("kind") == "flow-end"
           and (o.get("out", {}).get("mse_bytes") is not None or o.get("in", {}).get("mse_bytes") is not None)}
    bad = []
    for key, c in sorted(ours.items()):
        if key in mse:
            continue
        t = theirs.get(key, {"out": {}, "in": {}})
        for d in ("out", "in"):
            if c[d] != t[d]:
                bad.append("%s %s: bt-decode %s, tshark %s" % (key, d, c[d], t[d]))
    if bad:
        return "\n".join(bad)
    n = sum(sum(v.values()) for c in ours.values() for v in c.values())
    note("%s: %d messages in %d flows, counts equal tshark's" % (pcap, n, len(ours)))
    return True


def follow(path, stream=0):
    """Both directions' reassembled bytes of a TCP stream, by tshark."""
    r = subprocess.run(["tshark", "-r", path, "-q", "-z", "follow,tcp,raw,%d" % stream],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    cli, srv = b"", b""
    for l in r.stdout.decode().splitlines():
        h = l.strip()
        if not h or any(c not in "0123456789abcdef" for c in h):
            continue
        if l.startswith("\t"):
            srv += bytes.fromhex(h)
        else:
            cli += bytes.fromhex(h)
    return {"out": cli, "in": srv}


def parse_from(stream, off):
    """Messages of stream from off to its end, by the length prefixes (a
    handshake first if one is there); None if they do not end exactly."""
    n = 0
    if stream[off:off + 20] == b"\x13BitTorrent protocol":
        off += 68
        n += 1
    while off + 4 <= len(stream):
        L = struct.unpack(">I", stream[off:off + 4])[0]
        off += 4 + L
        n += 1
    return n if off == len(stream) else None


def t_tshark_mse(pcap):
    """Plaintext after an MSE/PE exchange that selected it.  In each
    direction the stream tshark reassembles holds, from the offset
    bt-decode names, a run of length-prefixed messages that ends exactly
    at the stream's end, as many as bt-decode counted.  tshark either
    counts the same or sees nothing at all (the harness probe's session:
    "Continuation data"), in which case bt-decode is the one right."""
    path = os.path.join(CAP, pcap)
    recs = records(path)
    port = int([o for o in recs if o.get("kind") == "flow"][0]["dst"].rsplit(":", 1)[1])
    theirs = tshark_counts(path, [port])
    n_tshark = sum(sum(v.values()) for c in theirs.values() for v in c.values())
    streams = follow(path)
    ours = list(flow_counts(recs).values())[0]
    checked = []
    for d in ("out", "in"):
        ev = [o for o in recs if o.get("dir") == d and o.get("kind") in ("handshake", "msg")]
        if not ev:
            continue
        off = ev[0]["offset"]
        n = parse_from(streams[d], off)
        if n is None or n != sum(ours[d].values()):
            return "%s: from offset %d the stream does not hold the %d messages bt-decode found (%s)" % (
                d, off, sum(ours[d].values()), n)
        checked.append("%s %d messages from offset %d" % (d, n, off))
    if not checked:
        return "bt-decode decoded nothing"
    key = list(flow_counts(recs))[0]
    t = theirs.get(key, {"out": {}, "in": {}})
    if n_tshark and t != ours:
        return "tshark decoded the plaintext and counts otherwise: %s vs %s" % (t, ours)
    note("%s: bt-decode %s, verified on tshark's own reassembled streams; tshark %s" % (
        pcap, "; ".join(checked), "agrees" if n_tshark else
        "decodes nothing (bt-decode is right)"))
    return True


# ---------------------------------------------------------------------------
# diagnosis

def t_diag(name):
    want = [l.strip() for l in open(os.path.join(CAP, name + ".live")) if l.strip()]
    recs = records(os.path.join(CAP, name + ".pcap"), "--diagnose", "-q")
    got = [o["verdict"] for o in recs if "verdict" in o]
    if got != want:
        return "bt-decode --diagnose %s, bt-handshake live %s" % (got, want)
    return True


# ---------------------------------------------------------------------------
# rewritten captures (classic pcap, Ethernet/IPv4/TCP as tcpdump on lo writes)

class Seg:
    """A frame; for TCP ones the parsed fields, so a rewrite can rebuild it."""

    def __init__(self, rec, link):
        self.rec = rec
        self.tcp = False
        data = rec[4]
        if link != 1 or len(data) < 14 + 20 or data[12:14] != b"\x08\x00":
            return
        ihl = (data[14] & 15) * 4
        if data[14 + 9] != 6:
            return
        t = 14 + ihl
        thl = (data[t + 12] >> 4) * 4
        self.tcp = True
        self.eth = data[:14]
        self.ip = bytearray(data[14:t])
        self.th = bytearray(data[t:t + thl])
        self.payload = data[t + thl:]
        self.seq = struct.unpack(">I", self.th[4:8])[0]
        self.flags = self.th[13]
        self.key = (bytes(self.ip[12:16]), bytes(self.th[0:2]), bytes(self.ip[16:20]), bytes(self.th[2:4]))

    def build(self, seq=None, payload=None):
        """A new record: same headers, another seq/payload (lengths fixed,
        checksums left as they are: nothing here verifies them)."""
        p = self.payload if payload is None else payload
        th = bytearray(self.th)
        th[4:8] = struct.pack(">I", (self.seq if seq is None else seq) & 0xffffffff)
        ip = bytearray(self.ip)
        ip[2:4] = struct.pack(">H", len(ip) + len(th) + len(p))
        data = self.eth + bytes(ip) + bytes(th) + p
        return [self.rec[0], self.rec[1], len(data), len(data), data]


def load(name):
    hdr, e, link, recs = C.read_pcap(os.path.join(CAP, name))
    return hdr, e, link, [Seg(r, link) for r in recs]


def save(name, hdr, e, recs):
    path = os.path.join(TMP, name)
    C.write_pcap(path, hdr, e, recs)
    return path


def events_of(recs):
    """The peer-wire events (not timing) of every flow, in stream order:
    out's then in's (how the two interleave depends on capture order)."""
    ev = [{k: v for k, v in o.items() if k != "t"} for o in recs
          if o.get("kind") in ("handshake", "msg", "malformed")]
    return [x for x in ev if x["dir"] == "out"] + [x for x in ev if x["dir"] == "in"]


def t_reorder(src):
    """Data segments shuffled within windows of 8 (timestamps go with them):
    the same events, counts and summaries as the original."""
    hdr, e, link, segs = load(src)
    rng = random.Random(7)
    recs = [s.rec for s in segs]
    out = recs[:3]      # the SYN, SYN-ACK and ACK stay first
    for i in range(3, len(recs), 8):
        w = recs[i:i + 8]
        rng.shuffle(w)
        out += w
    path = save("reorder-" + src, hdr, e, out)
    a = records(os.path.join(CAP, src), "-t", "none")
    b = records(path, "-t", "none")
    if events_of(a) != events_of(b):
        return "events differ after reordering"
    ca, cb = flow_counts(a), flow_counts(b)
    if ca != cb:
        return "counts differ: %s vs %s" % (ca, cb)
    moved = sum(1 for x, y in zip(recs, out) if x is not y)
    note("reorder %s: %d of %d packets moved; bt-decode unchanged; tshark %s" % (
        src, moved, len(recs), tshark_diff(path, cb)))
    return True


def tshark_diff(path, ours):
    """tshark's counts on a rewritten capture against bt-decode's, which
    equal the original capture's (where both tools agree): so where tshark
    differs, tshark is wrong."""
    if not shutil.which("tshark"):
        return "not run"
    theirs = tshark_counts(path, sorted({int(d.rsplit(":", 1)[1]) for _, d in ours}))
    diffs = []
    for k, c in ours.items():
        t = theirs.get(k, {"out": {}, "in": {}})
        for d in ("out", "in"):
            for m in sorted(set(c[d]) | set(t[d])):
                if c[d].get(m, 0) != t[d].get(m, 0):
                    diffs.append("%s %s %d (right: %d)" % (d, m, t[d].get(m, 0), c[d].get(m, 0)))
    return "agrees" if not diffs else "is wrong: " + ", ".join(diffs)


def t_duplicate(src):
    """Every data segment captured twice, and some three times: unchanged."""
    hdr, e, link, segs = load(src)
    out = []
    for i, s in enumerate(segs):
        out.append(s.rec)
        if s.tcp and s.payload:
            out.append(s.build())
            if i % 3 == 0:
                out.append(s.build())
    path = save("dup-" + src, hdr, e, out)
    a = records(os.path.join(CAP, src), "-t", "none")
    b = records(path, "-t", "none")
    if events_of(a) != events_of(b) or flow_counts(a) != flow_counts(b):
        return "decode differs with duplicated segments"
    note("duplicate %s: bt-decode unchanged; tshark %s" % (src, tshark_diff(path, flow_counts(b))))
    return True


def t_overlap(src):
    """Each data segment split into two that overlap by a third of it, sent
    later half first: unchanged."""
    hdr, e, link, segs = load(src)
    out = []
    n = 0
    for s in segs:
        if s.tcp and len(s.payload) >= 30:
            L = len(s.payload)
            a, b = 2 * L // 3, L // 3
            out.append(s.build(seq=s.seq + b, payload=s.payload[b:]))
            out.append(s.build(payload=s.payload[:a]))
            n += 1
        else:
            out.append(s.rec)
    path = save("overlap-" + src, hdr, e, out)
    a = records(os.path.join(CAP, src), "-t", "none")
    b = records(path, "-t", "none")
    if events_of(a) != events_of(b) or flow_counts(a) != flow_counts(b):
        return "decode differs with overlapping segments"
    note("overlap %s: %d segments split into overlapping halves; bt-decode "
         "unchanged; tshark %s" % (src, n, tshark_diff(path, flow_counts(b))))
    return True


def piece_segments(segs):
    """Indexes of data segments from the server (the second endpoint) whose
    payload lies strictly inside a piece message: found by walking the
    server's stream with the framing rules."""
    # The server's stream in order, with each segment's range.
    server = None
    out = []
    for i, s in enumerate(segs):
        if s.tcp and s.flags & 0x12 == 0x12:
            server = s.key
    if server is None:
        return []
    data = [(s.seq, i, s.payload) for i, s in enumerate(segs)
            if s.tcp and s.key == server and s.payload]
    data.sort()
    base = data[0][0]
    stream = b""
    ranges = []
    for seq, i, p in data:
        off = (seq - base) & 0xffffffff
        if off == len(stream):
            stream += p
            ranges.append((off, off + len(p), i))
    # frame boundaries
    pos = 68
    frames = []
    while pos + 4 <= len(stream):
        n = struct.unpack(">I", stream[pos:pos + 4])[0]
        frames.append((pos, pos + 4 + n, stream[pos + 4] if n else None))
        pos += 4 + n
    for a, b, i in ranges:
        for fa, fb, fid in frames:
            if fid == 7 and fa < a and b < fb:
                out.append((i, fa, fb, a, b))
    return out


def t_drop_inside(src):
    """One segment inside a piece message dropped: a gap of exactly its
    length at its offset, that piece reported damaged, every other message
    decoded as in the original (the next one at its exact offset)."""
    hdr, e, link, segs = load(src)
    cands = piece_segments(segs)
    if not cands:
        return "no segment lies inside a piece message"
    i, fa, fb, a, b = cands[len(cands) // 2]
    out = [s.rec for k, s in enumerate(segs) if k != i]
    path = save("drop-" + src, hdr, e, out)
    A = records(os.path.join(CAP, src), "-t", "none")
    B = records(path, "-t", "none")
    gaps = [o for o in B if o.get("kind") == "gap"]
    if len(gaps) != 1 or gaps[0]["gap_len"] != b - a or gaps[0]["offset"] != a:
        return "expected one gap of %d bytes at %d, got %s" % (b - a, a, gaps)
    ea = [x for x in events_of(A) if not (x["dir"] == "in" and x.get("offset") == fa)]
    eb = events_of(B)
    if ea != eb:
        return "events other than the damaged piece differ"
    notes = [o for o in B if o.get("kind") == "note" and "lost" in o.get("why", "")]
    if not notes:
        return "no note about the damaged piece"
    note("drop %s: segment [%d,%d) inside the piece at [%d,%d): gap, note, "
         "resumed at %d exactly" % (src, a, b, fa, fb, fb))
    return True


def t_drop_header(src):
    """A client segment holding whole messages dropped: a gap of exactly its
    length, then decoding resumes at the next boundary (found by scanning:
    nothing says where it is), and the result is exactly the original
    minus the messages that segment held."""
    hdr, e, link, segs = load(src)
    cli = None
    for s in segs:
        if s.tcp and s.flags & 0x12 == 0x02:
            cli = s.key
    idx = [k for k, s in enumerate(segs) if s.tcp and s.key == cli and s.payload]
    if len(idx) < 4:
        return "too few client segments"
    k = idx[2]
    isn = segs[idx[0]].seq
    a = (segs[k].seq - isn) & 0xffffffff
    b = a + len(segs[k].payload)
    out = [s.rec for j, s in enumerate(segs) if j != k]
    path = save("drophdr-" + src, hdr, e, out)
    A = [x for x in events_of(records(os.path.join(CAP, src), "-t", "none")) if x["dir"] == "out"]
    Brecs = records(path, "-t", "none")
    B = [x for x in events_of(Brecs) if x["dir"] == "out"]
    gaps = [o for o in Brecs if o.get("kind") == "gap"]
    if len(gaps) != 1 or (gaps[0]["offset"], gaps[0]["gap_len"]) != (a, b - a):
        return "expected one gap [%d,%d), got %s" % (a, b, gaps)
    want = [x for x in A if not (a <= x["offset"] < b)]
    if B != want:
        return "got %d client messages, expected %d (the original without [%d,%d))" % (
            len(B), len(want), a, b)
    # The server acknowledged the lost bytes: the gap, and the messages
    # after it, come then, not at the end of the capture.
    At, Bt = records(os.path.join(CAP, src)), records(path)
    ta = [o["t"] for o in At if o.get("dir") == "out" and o.get("kind") == "msg" and o["offset"] >= b][0]
    tb = [o["t"] for o in Bt if o.get("dir") == "out" and o.get("kind") == "msg" and o["offset"] >= b][0]
    tg = [o["t"] for o in Bt if o.get("kind") == "gap"][0]
    dur = [o["duration_ms"] for o in Bt if o.get("kind") == "flow-end"][0]
    if not (tg <= tb and tb - ta < (dur - ta) / 2):
        return "the gap at %.3f ms and the next message at %.3f ms (%.3f ms in the original; " \
               "the capture ends at %.3f ms): held back" % (tg, tb, ta, dur)
    note("drop-header %s: [%d,%d) dropped: the %d messages in it lost, the other "
         "%d decoded at their offsets; the gap at %.3f ms, the next message at %.3f ms "
         "(%.3f in the original)" % (src, a, b, len(A) - len(want), len(want), tg, tb, ta))
    return True


def t_midstream(src):
    """The capture starts after the handshakes (SYNs and first data cut
    off): the flow is picked up at a message boundary and every message
    from there on equals the original's."""
    hdr, e, link, segs = load(src)
    data = [k for k, s in enumerate(segs) if s.tcp and s.payload]
    cut = data[4]
    path = save("mid-" + src, hdr, e, [s.rec for s in segs[cut:]])
    A = events_of(records(os.path.join(CAP, src), "-t", "none"))
    Brecs = records(path, "-t", "none")
    B = events_of(Brecs)
    if not B:
        return "nothing decoded after a mid-stream start"

    def strip(x):
        return {k: v for k, v in x.items() if k != "offset"}
    # The first packet seen names the client: directions may be swapped.
    for swap in (False, True):
        good = True
        for d in ("out", "in"):
            db = {"out": "in", "in": "out"}[d] if swap else d
            a = [strip(x) for x in A if x["dir"] == d]
            b = [dict(strip(x), dir=d) for x in B if x["dir"] == db]
            if b != a[len(a) - len(b):]:
                good = False
        if good:
            break
    else:
        return "messages after the pickup are not the tail of the original's"
    notes = [o for o in Brecs if o.get("kind") == "note" and "mid-stream" in o.get("why", "")]
    if not notes:
        return "no note about the mid-stream start"
    note("midstream %s: %d of %d messages decoded after cutting %d packets" % (
        src, len(B), len(A), cut))
    return True


def snap(src, n):
    """The capture cut to n bytes a packet; also the bytes the cut removed
    from the TCP streams, each stream byte once (a retransmitted segment
    loses the same bytes again)."""
    hdr, e, link, segs = load(src)
    out = []
    cut = {}
    for s in segs:
        r = list(s.rec)
        if s.tcp and s.payload:
            kept = max(0, n - (len(r[4]) - len(s.payload)))
            if kept < len(s.payload):
                cut.setdefault(s.key, set()).update(
                    (s.seq + i) & 0xffffffff for i in range(kept, len(s.payload)))
        r[4] = r[4][:n]
        r[2] = len(r[4])
        out.append(r)
    hdr = hdr[:16] + struct.pack(e + "I", n) + hdr[20:]
    path = save("snap%d-%s" % (n, src), hdr, e, out)
    r = decode(path, "--stats", "--json")
    lost = sum(len(v) for v in cut.values())
    return r, [json.loads(l) for l in r.stdout.decode().splitlines()], lost


def t_snaplen_headers(src):
    """Every packet cut to its headers (66 bytes: Ethernet, IPv4, TCP with
    timestamps): a warning on stderr, exit 0, every flow listed as not
    decoded for that reason."""
    r, recs, lost = snap(src, 66)
    if "snapshot length" not in r.stderr.decode():
        return "no snaplen warning: %r" % r.stderr[:200]
    st = [o for o in recs if o.get("kind") == "stats"][0]
    if not st["problems"].get("truncated_payload"):
        return "stats do not count truncated payloads"
    ends = [o for o in recs if o.get("kind") == "flow-end"]
    if not ends or any(o.get("reason", "").find("snaplen") < 0 for o in ends):
        return "flows not listed as truncated: %s" % ends
    return True


def t_snaplen_partial(src):
    """Packets cut to 96 bytes: the first 30 payload bytes of each segment
    survive.  The handshakes are still recognised, every missing byte is
    a gap: their sum is exactly what the cut removed (a segment the sender
    retransmitted loses its bytes once)."""
    r, recs, lost = snap(src, 96)
    st = [o for o in recs if o.get("kind") == "stats"][0]
    if st["gap_bytes"] != lost:
        return "gap bytes %d, cut %d" % (st["gap_bytes"], lost)
    if not any(o.get("kind") == "flow-end" and o["proto"] == "bittorrent" for o in recs):
        return "the BitTorrent flow was not recognised from its first bytes"
    return True


def t_damaged(src):
    """The file cut in the middle of a packet record: a clear message, exit
    1, and everything before the damage decoded as in the original."""
    raw = open(os.path.join(CAP, src), "rb").read()
    path = os.path.join(TMP, "cut-" + src)
    with open(path, "wb") as f:
        f.write(raw[:len(raw) * 2 // 3])
    r = decode(path, "-t", "none", "--json", rc_ok=(1,))
    if "damaged" not in r.stderr.decode():
        return "no damage message: %r" % r.stderr[:200]
    A = events_of(records(os.path.join(CAP, src), "-t", "none"))
    B = events_of([json.loads(l) for l in r.stdout.decode().splitlines()])
    for d in ("out", "in"):
        a = [x for x in A if x["dir"] == d]
        b = [x for x in B if x["dir"] == d]
        if b != a[:len(b)]:
            return "%s events before the damage differ" % d
    if not B:
        return "nothing decoded before the damage"
    return True


def t_linktype(src):
    """An unknown link type (USER0, 147): one clear warning, exit 0."""
    raw = bytearray(open(os.path.join(CAP, src), "rb").read())
    raw[20:24] = struct.pack("<I", 147)
    path = os.path.join(TMP, "link-" + src)
    open(path, "wb").write(raw)
    r = decode(path, "--stats")
    err = r.stderr.decode()
    if "link type 147" not in err or "not supported" not in err:
        return "no link-type message: %r" % err[:200]
    return True


def t_pcapng(src):
    """The same capture as pcapng (editcap): the same decode."""
    if not shutil.which("editcap"):
        return "editcap missing"
    path = os.path.join(TMP, src + "ng")
    subprocess.run(["editcap", "-F", "pcapng", os.path.join(CAP, src), path], check=True,
                   timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    a = decode(os.path.join(CAP, src)).stdout
    b = decode(path).stdout
    return a == b or "pcapng decode differs"


def t_usage():
    r = subprocess.run([DEC], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    if r.returncode != 2 or b"usage" not in r.stderr:
        return "no usage error without arguments"
    r = subprocess.run([DEC, "-h"], stdout=subprocess.PIPE, timeout=10)
    if r.returncode != 0 or b"usage" not in r.stdout:
        return "-h"
    r = subprocess.run([DEC, "-r", "/nonexistent.pcap"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=10)
    if r.returncode != 3:
        return "missing file exited %d" % r.returncode
    return True


def t_live():
    """-i lo with a BPF filter while a real libtorrent seeder answers a
    handshake probe: both handshakes and the seeder's messages, decoded
    live; stopped by SIGTERM (by PID), it ends the flow and exits 0."""
    import harness as H
    with H.Harness("decode-live") as h:
        c = h.single_file(size=64 * 1024, seed="live")
        t = h.torrent(c, piece_length=32 * 1024)
        s = h.lt_seeder(t, tracker=False)
        p = h.spawn([DEC, "-i", "lo", "-G", "60", "--json", "tcp", "port", str(s.port)],
                    "bt-decode-live", stdout=subprocess.PIPE)
        H.wait_until(lambda: p.alive() and os.path.exists("/proc/%d" % p.pid), 5, "bt-decode")
        import time
        time.sleep(1.5)          # pcap activated, filter set
        r = s.probe(read_after=0.5)
        time.sleep(0.5)
        rc = p.stop()
        out = p.popen.stdout.read().decode()
    recs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    hs = [o["dir"] for o in recs if o.get("kind") == "handshake"]
    msgs = [o.get("msg") for o in recs if o.get("kind") == "msg" and o["dir"] == "in"]
    if rc != 0:
        return "bt-decode exited %s" % rc
    if sorted(hs) != ["in", "out"]:
        return "handshakes seen: %s" % hs
    if len(msgs) < len(r.messages):
        return "live: %d messages from the seeder, the probe read %d" % (len(msgs), len(r.messages))
    note("live: handshakes %s, seeder messages %s" % (hs, msgs))
    return True


# ---------------------------------------------------------------------------
# MSE/PE decrypted with a key log (captures/mse-keylog.*: recorded by
# record.py's "keylog" scenario, our MSE initiator against a libtorrent
# seeder that requires encryption)

KEYCAP, KEYS = "mse-keylog.pcap", "mse-keylog.keys"


def streams_of(pcap):
    """Both directions' TCP payload of the capture's one flow, placed by
    sequence number (first copy wins): (client bytes, server bytes)."""
    hdr, e, link, segs = load(pcap)
    isn, data = {}, {}
    for s in segs:
        if not s.tcp:
            continue
        if s.flags & 0x02:                      # SYN: the stream starts after it
            isn[s.key] = (s.seq + 1) & 0xffffffff
        if s.payload:
            b = data.setdefault(s.key, {})
            b.setdefault(s.seq, s.payload)
    cli = [k for k, v in isn.items() if any(x.key == k and x.flags & 0x12 == 0x02 for x in segs)][0]
    out = {}
    for k, chunks in data.items():
        buf = bytearray()
        for seq, p in sorted(chunks.items(), key=lambda kv: (kv[0] - isn[k]) & 0xffffffff):
            off = (seq - isn[k]) & 0xffffffff
            if off > len(buf):
                raise AssertionError("hole in the recorded stream")
            buf[off:off + len(p)] = p
        out["out" if k == cli else "in"] = bytes(buf)
    return out["out"], out["in"]


def mse_oracle(a2b, b2a, secret, skey):
    """The MSE passive decoding written again from the specification, with
    the harness's RC4 and hashlib (not btkit's mse.c): (A's payload offset,
    A's plaintext, B's payload offset, B's plaintext, crypto_select)."""
    import hashlib
    import harness as H
    sha1 = lambda *p: hashlib.sha1(b"".join(p)).digest()
    i = a2b.find(sha1(b"req1", secret), 96, 96 + 512 + 20)
    if i < 0:
        raise AssertionError("HASH('req1', S) not after Ya: the key does not fit")
    ra, rb = H.RC4(sha1(b"keyA", secret, skey)), H.RC4(sha1(b"keyB", secret, skey))
    a = i + 40
    vc, provide, padc = struct.unpack(">8sIH", ra.crypt(a2b[a:a + 14]))
    if vc != bytes(8):
        raise AssertionError("VC does not decrypt to zeros")
    ra.crypt(a2b[a + 14:a + 14 + padc])
    lia = struct.unpack(">H", ra.crypt(a2b[a + 14 + padc:a + 16 + padc]))[0]
    pa = a + 16 + padc
    j = b2a.find(rb.crypt(bytes(8)), 96, 96 + 512 + 8)
    if j < 0:
        raise AssertionError("encrypted VC not after Yb")
    sel, padd = struct.unpack(">IH", rb.crypt(b2a[j + 8:j + 14]))
    rb.crypt(b2a[j + 14:j + 14 + padd])
    pb = j + 14 + padd
    rc4 = sel == H.MSE_RC4
    plain_a = ra.crypt(a2b[pa:pa + lia]) + (ra.crypt(a2b[pa + lia:]) if rc4 else a2b[pa + lia:])
    plain_b = rb.crypt(b2a[pb:]) if rc4 else b2a[pb:]
    return pa, plain_a, pb, plain_b, sel


def msg_counts(stream):
    """Messages by type in a plaintext stream that starts with a handshake
    and ends on a message boundary."""
    c = {}
    if stream[:20] != b"\x13BitTorrent protocol":
        raise AssertionError("the plaintext does not start with a handshake")
    c["handshake"] = 1
    off = 68
    while off + 4 <= len(stream):
        n = struct.unpack(">I", stream[off:off + 4])[0]
        name = "keep-alive" if n == 0 else MSG_NAMES.get(stream[off + 4], "unknown")
        c[name] = c.get(name, 0) + 1
        off += 4 + n
    if off != len(stream):
        raise AssertionError("the plaintext does not end on a message boundary")
    return c


def keylog_line():
    f = open(os.path.join(CAP, KEYS)).read().split()
    return bytes.fromhex(f[3]), bytes.fromhex(f[4])


def t_keylog_counts():
    """With --keylog, the message counts by type in each direction equal
    those of the session's plaintext, as an independent decryption of the
    recorded streams gives it, and as the live driver saw it (the peer's
    message count it printed, captures/mse-keylog.live); the decrypted
    events start exactly at the payload offsets MSE's framing gives."""
    recs = records(KEYCAP, "--keylog", KEYS, "-t", "none")
    ours = flow_counts(recs)
    if len(ours) != 1:
        return "expected one decoded BitTorrent flow, got %s" % list(ours)
    ours = list(ours.values())[0]
    a2b, b2a = streams_of(os.path.join(CAP, KEYCAP))
    secret, skey = keylog_line()
    pa, plain_a, pb, plain_b, sel = mse_oracle(a2b, b2a, secret, skey)
    want = {"out": msg_counts(plain_a), "in": msg_counts(plain_b)}
    if ours != want:
        return "bt-decode --keylog %s, the plaintext %s" % (ours, want)
    hs = {o["dir"]: o["offset"] for o in recs if o.get("kind") == "handshake"}
    if hs != {"out": pa, "in": pb}:
        return "handshakes at %s, the payloads start at out %d, in %d" % (hs, pa, pb)
    live = open(os.path.join(CAP, "mse-keylog.live")).read()
    m = re.search(r"(\d+) messages after the handshake", live)
    if not m or sum(ours["in"].values()) - 1 != int(m.group(1)):
        return "the driver saw %s messages from the peer, bt-decode %d" % (
            m and m.group(1), sum(ours["in"].values()) - 1)
    if ours["out"] != {"handshake": 1, "interested": 1}:
        return "our side sent a handshake and interested, bt-decode says %s" % ours["out"]
    end = [o for o in recs if o.get("kind") == "flow-end"][0]
    if end["out"].get("decrypted") != ("rc4" if sel == 2 else "plaintext"):
        return "flow summary: %s" % end["out"]
    note("keylog: %d + %d messages decrypted (crypto_select %s), as the plaintext "
         "and the live driver have them" % (sum(ours["out"].values()),
                                           sum(ours["in"].values()), sel))
    return True


def t_keylog_nokey():
    """Without the key log the same flow is reported encrypted; a key log
    whose secret does not fit changes nothing but the reason."""
    recs = records(KEYCAP, "-t", "none")
    ends = [o for o in recs if o.get("kind") == "flow-end"]
    if len(ends) != 1 or ends[0]["proto"] != "undecoded" or ends[0]["reason"] != "encrypted (MSE/PE)":
        return "without a key: %s" % ends
    if any(o.get("kind") in ("handshake", "msg") for o in recs):
        return "messages decoded without a key"
    line = open(os.path.join(CAP, KEYS)).read().split(" ")
    line[3] = ("1" if line[3][0] == "0" else "0") + line[3][1:]
    bad = os.path.join(TMP, "bad.keys")
    open(bad, "w").write(" ".join(line))
    recs2 = records(KEYCAP, "-t", "none", "--keylog", bad)
    ends2 = [o for o in recs2 if o.get("kind") == "flow-end"]
    if ends2[0].get("reason") != "encrypted (MSE/PE); the key log's secret does not fit this flow":
        return "with a wrong key: %s" % ends2
    strip = lambda e: {k: v for k, v in e.items() if k != "reason"}
    if strip(ends2[0]) != strip(ends[0]):
        return "a wrong key changed the summary: %s vs %s" % (ends2[0], ends[0])
    return True


def t_keylog_env():
    """$BTKIT_KEYLOGFILE works as --keylog does; --keylog wins over it; a
    missing --keylog file is exit 3, a missing $BTKIT_KEYLOGFILE a warning."""
    a = decode(KEYCAP, "--keylog", KEYS).stdout
    b = decode(KEYCAP, env={"BTKIT_KEYLOGFILE": os.path.join(CAP, KEYS)}).stdout
    if a != b:
        return "the environment variable decodes otherwise"
    c = decode(KEYCAP, "--keylog", KEYS, env={"BTKIT_KEYLOGFILE": "/nonexistent"}).stdout
    if c != a:
        return "--keylog did not take precedence"
    r = decode(KEYCAP, "--keylog", "/nonexistent.keys", rc_ok=(3,))
    if b"/nonexistent.keys" not in r.stderr:
        return "no message for a missing key log: %r" % r.stderr
    r = decode(KEYCAP, env={"BTKIT_KEYLOGFILE": "/nonexistent"})
    if b"not used" not in r.stderr or r.stdout != decode(KEYCAP).stdout:
        return "a missing $BTKIT_KEYLOGFILE: %r" % r.stderr
    return True


def t_keylog_rewrites():
    """The keyed capture with every segment twice, and with the peer's two
    last data segments swapped: the same decode; with the peer's first
    payload segment dropped, a gap of its size, and the segment after it
    still decrypts (the keystream moved past the lost bytes)."""
    hdr, e, link, segs = load(KEYCAP)
    base = events_of(records(KEYCAP, "-t", "none", "--keylog", KEYS))
    out = []
    for s in segs:
        out.append(s.rec)
        if s.tcp and s.payload:
            out.append(s.build())
    dup = records(save("dup-" + KEYCAP, hdr, e, out), "-t", "none", "--keylog", KEYS)
    if events_of(dup) != base:
        return "duplicated segments decode otherwise"
    srv = [s for s in segs if s.tcp and s.flags & 0x12 == 0x12][0].key
    data = [i for i, s in enumerate(segs) if s.tcp and s.key == srv and s.payload]
    out = [s.rec for s in segs]
    out[data[-1]], out[data[-2]] = out[data[-2]], out[data[-1]]
    swap = records(save("swap-" + KEYCAP, hdr, e, out), "-t", "none", "--keylog", KEYS)
    if events_of(swap) != base:
        return "reordered segments decode otherwise"
    a2b, b2a = streams_of(os.path.join(CAP, KEYCAP))
    _, _, pb, _, _ = mse_oracle(a2b, b2a, *keylog_line())
    isn = [s for s in segs if s.tcp and s.key == srv and s.flags & 0x02][0].seq + 1
    first = [i for i in data if (segs[i].seq - isn) & 0xffffffff == pb]
    if not first or first[0] == data[-1]:
        return "no segment starts the peer's payload"
    k = first[0]
    drop = records(save("drop-" + KEYCAP, hdr, e, [s.rec for i, s in enumerate(segs) if i != k]),
                   "-t", "none", "--keylog", KEYS)
    gaps = [o for o in drop if o.get("kind") == "gap"]
    if len(gaps) != 1 or (gaps[0]["offset"], gaps[0]["gap_len"]) != (pb, len(segs[k].payload)):
        return "expected one gap [%d,+%d), got %s" % (pb, len(segs[k].payload), gaps)
    after = [x for x in events_of(base) if x["dir"] == "in" and x["offset"] >= pb + len(segs[k].payload)]
    got = [x for x in events_of(drop) if x["dir"] == "in"]
    if not after or got != after:
        return "after the gap: %s, expected %s" % (got, after)
    note("keylog rewrites: duplicates unchanged; %d bytes of the peer's payload dropped: "
         "its %d later messages still decrypted" % (len(segs[k].payload), len(after)))
    return True


def on_alarm(signum, frame):
    not_ok("time-limit", "test_decode.py ran past %d s" % LIMIT)
    raise SystemExit(1)


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(LIMIT)
    if not os.access(DEC, os.X_OK):
        not_ok("bt-decode", "%s missing" % DEC)
        return 1
    try:
        for name, pcap, opts in testlist():
            check("golden-" + name, t_golden, name, pcap, opts)
        have_tshark = shutil.which("tshark") is not None
        for pcap in ("download-plain.pcap", "fast-peer.pcap", "metadata.pcap",
                     "download-mtu1500.pcap", "diag-no-pieces.pcap",
                     "diag-not-interested.pcap"):
            if not os.path.exists(os.path.join(CAP, pcap)):
                skip("tshark-" + pcap, "capture missing")
            elif not have_tshark:
                skip("tshark-" + pcap, "tshark not installed")
            else:
                check("tshark-" + pcap, t_tshark, pcap)
        for pcap in ("mse-plain.pcap", "mse-download.pcap"):
            if have_tshark:
                check("tshark-" + pcap, t_tshark_mse, pcap)
        for f in sorted(os.listdir(CAP)):
            if f.startswith("diag-") and f.endswith(".live"):
                check(f[:-5], t_diag, f[:-5])
        for src in ("download-mtu1500.pcap", "fast-peer.pcap"):
            if not os.path.exists(os.path.join(CAP, src)):
                skip("rewrite-" + src, "capture missing")
                continue
            check("rewrite-reorder-" + src, t_reorder, src)
            check("rewrite-duplicate-" + src, t_duplicate, src)
            check("rewrite-overlap-" + src, t_overlap, src)
            if "mtu1500" in src:   # loopback segments are larger than pieces
                check("rewrite-drop-inside-piece-" + src, t_drop_inside, src)
            check("rewrite-drop-header-" + src, t_drop_header, src)
            check("rewrite-midstream-" + src, t_midstream, src)
        check("rewrite-snaplen-headers", t_snaplen_headers, "download-plain.pcap")
        check("rewrite-snaplen-partial", t_snaplen_partial, "download-mtu1500.pcap")
        check("rewrite-damaged-file", t_damaged, "download-mtu1500.pcap")
        check("rewrite-linktype", t_linktype, "fast-peer.pcap")
        check("pcapng", t_pcapng, "download-plain.pcap")
        if os.path.exists(os.path.join(CAP, KEYCAP)):
            check("keylog-counts", t_keylog_counts)
            check("keylog-nokey", t_keylog_nokey)
            check("keylog-env", t_keylog_env)
            check("keylog-rewrites", t_keylog_rewrites)
        else:
            skip("keylog", "captures/%s missing" % KEYCAP)
        check("usage", t_usage)
        if os.geteuid() == 0:
            check("live-capture", t_live)
        else:
            skip("live-capture", "needs root to capture on lo")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
