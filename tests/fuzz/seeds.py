#!/usr/bin/python3
"""Regenerates the seed corpora in tests/fuzz/corpus/fuzz_*/ from real bytes.

    /usr/bin/python3 tests/fuzz/seeds.py          (root: tcpdump on lo)

Everything runs on 127.0.0.1 / ::1 through tests/harness (every process
started and stopped by PID):
  - .torrent files made by mktorrent, transmission-create and libtorrent
    (v1, v2, hybrid; single and multi file), their info dictionaries, and
    libtorrent's magnet links for them;
  - opentracker's HTTP announce / scrape / failure bodies and its UDP
    connect / announce / scrape / error datagrams;
  - what libtorrent, Transmission and aria2 seeders send a probing peer:
    handshake, extended handshake, bitfield / have_all, unchoke, pieces,
    ut_metadata data and reject, ut_pex;
  - a tcpdump capture of a libtorrent leecher downloading from a libtorrent
    seeder, plus the UDP tracker exchange and a TCP exchange over ::1, cut
    to the first packets (and one copy with a 96-byte snaplen).
A few seeds are written by hand where no tool here produces the form (a
BEP 3 dictionary-model peer list, peers6, BEP 53 `so=` ranges, old peer id
styles, hostile client names for fuzz_escape), and fuzz_flow's seeds are in
its own synthetic format.  Each file
is named after what it is; old files of those names are replaced, others
(regression inputs) are kept.  The seeds are deterministic in form, not in
bytes (ports, ids and timestamps differ from run to run).
"""
import hashlib
import os
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.dont_write_bytecode = True
import harness as H  # noqa: E402
import capture_helpers as C  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
KiB = 1024
SMALL_LAYOUT = (("a.txt", 5000), ("sub/b.bin", 40000), ("sub/empty.txt", 0), ("c", 17))
written = []


def put(harness_name, label, data):
    d = os.path.join(CORPUS, "fuzz_" + harness_name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, label), "wb") as f:
        f.write(data)
    written.append((harness_name, label, len(data)))


def frames(stream, handshake=True):
    """Split a peer-wire byte stream: [(raw frame bytes)]; the rest is cut."""
    out, i = [], 0
    if handshake and len(stream) >= 68:
        out.append(stream[:68])
        i = 68
    while len(stream) - i >= 4:
        n = struct.unpack(">I", stream[i:i + 4])[0]
        if len(stream) - i - 4 < n:
            break
        out.append(stream[i:i + 4 + n])
        i += 4 + n
    return out


# ---------------------------------------------------------------------------
# torrents and magnets

def torrents(h):
    single = h.single_file(name="single.bin", size=40000, seed=11)
    multi = h.multi_file(name="multi", layout=SMALL_LAYOUT, seed=12)
    made = []
    made.append(("mktorrent-single", h.torrent(single, "mktorrent", piece_length=32 * KiB)))
    made.append(("mktorrent-multi-private", h.torrent(
        multi, "mktorrent", piece_length=32 * KiB, private=True, comment="seed corpus",
        web_seeds=["http://127.0.0.1:1/ws/"])))
    made.append(("transmission-multi", h.torrent(multi, "transmission-create",
                                                 piece_length=16 * KiB)))
    for v in ("v1", "v2", "hybrid"):
        made.append(("libtorrent-%s-single" % v, h.torrent(
            single, "libtorrent", version=v, piece_length=16 * KiB)))
        made.append(("libtorrent-%s-multi" % v, h.torrent(
            multi, "libtorrent", version=v, piece_length=16 * KiB,
            extra_trackers=["udp://127.0.0.1:6969/announce"],
            web_seeds=["http://127.0.0.1:1/ws/"])))
    import libtorrent as lt
    for label, t in made:
        put("meta", label + ".torrent", t.data)
        put("meta", label + ".info", H.raw_info(t.data))
        if label.endswith("multi") or label.startswith("mktorrent"):
            put("bencode", label + ".torrent", t.data)
        put("magnet", label + ".magnet", lt.make_magnet_uri(lt.torrent_info(t.path)).encode())
    # Forms libtorrent does not write: base32 btih, BEP 53 ranges, x.pe,
    # xt.1/xt.2, a '+' in dn.
    t = made[0][1]
    ih = bytes.fromhex(t.info_hash_v1)
    import base64
    put("magnet", "base32-so-pe.magnet", (
        "magnet:?xt=urn:btih:%s&dn=single+file%%20name&so=0,2-4,7"
        "&x.pe=127.0.0.1:6881&x.pe=[::1]:6881&tr=http%%3A%%2F%%2F127.0.0.1%%3A1%%2Fannounce"
        % base64.b32encode(ih).decode()).encode())
    hy = [x for label, x in made if label == "libtorrent-hybrid-multi"][0]
    put("magnet", "xt1-xt2.magnet", (
        "magnet:?xt.1=urn:btih:%s&xt.2=urn:btmh:1220%s&dn=multi&ws=http://127.0.0.1:1/ws/"
        % (hy.info_hash_v1, hy.info_hash_v2)).encode())
    return made


# ---------------------------------------------------------------------------
# tracker bodies and datagrams

def http_get(url):
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as r:
            return r.read()
    except Exception as e:   # opentracker answers some errors with a body
        body = getattr(e, "read", lambda: b"")()
        return body


def tracker(h, made, seeder):
    import urllib.parse
    tr = h.tracker
    t = seeder.torrent
    q = {"info_hash": t.handshake_hash, "peer_id": H.make_peer_id("seedcorpus1"),
         "port": 6881, "uploaded": 0, "downloaded": 0, "left": 1000, "compact": 1,
         "numwant": 50, "event": "started"}
    url = tr.announce_url + "?" + urllib.parse.urlencode(q, quote_via=urllib.parse.quote, safe="")
    body = http_get(url)
    put("announce", "opentracker-compact", body)
    put("bencode", "opentracker-announce", body)
    q["no_peer_id"] = 1
    q["event"] = "stopped"
    put("announce", "opentracker-stopped", http_get(
        tr.announce_url + "?" + urllib.parse.urlencode(q, quote_via=urllib.parse.quote, safe="")))
    q["info_hash"] = b"\x01" * 20   # not whitelisted: a failure reason
    q["event"] = "started"
    put("announce", "opentracker-failure", http_get(
        tr.announce_url + "?" + urllib.parse.urlencode(q, quote_via=urllib.parse.quote, safe="")))
    hashes = [x[1].handshake_hash for x in made[:3]]
    body = http_get(tr.scrape_url + "?" + "&".join(
        "info_hash=" + urllib.parse.quote_from_bytes(x) for x in hashes))
    put("scrape", "opentracker-scrape", body)
    put("bencode", "opentracker-scrape", body)
    put("scrape", "opentracker-scrape-one", http_get(
        tr.scrape_url + "?info_hash=" + urllib.parse.quote_from_bytes(hashes[0])))
    # By hand (no tracker here speaks them): BEP 3 dictionary peers with a
    # host name, peers6 and an external ip, BEP 24, a warning.
    put("announce", "bep3-dict-peers", H.bencode({
        b"interval": 1800, b"min interval": 900, b"complete": 2, b"incomplete": 1,
        b"tracker id": b"t1", b"warning message": b"hand-written seed",
        b"peers": [{b"ip": b"127.0.0.1", b"port": 6881, b"peer id": b"-LT2080-abcdefghijkl"},
                   {b"ip": b"::1", b"port": 6882},
                   {b"ip": b"peer.example", b"port": 6883}]}))
    put("announce", "bep7-peers6", H.bencode({
        b"interval": 1800, b"peers": socket.inet_aton("127.0.0.1") + struct.pack(">H", 6881),
        b"peers6": socket.inet_pton(socket.AF_INET6, "::1") + struct.pack(">H", 6881),
        b"external ip": socket.inet_aton("127.0.0.9")}))

    # UDP (BEP 15): our requests, opentracker's answers.  A seed for
    # fuzz_udp is the transaction id, a control byte, the datagram.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((tr.host, tr.port))
    tid = 0x5eed0001
    s.send(struct.pack(">QII", 0x41727101980, 0, tid))
    r = s.recv(2048)
    put("udp", "opentracker-connect", struct.pack(">I", tid) + b"\x0e" + r)
    conn = struct.unpack(">Q", r[8:16])[0]
    tid += 1
    s.send(struct.pack(">QII20s20sQQQIIIiH", conn, 1, tid, t.handshake_hash,
                       H.make_peer_id("seedcorpus2"), 0, 1000, 0, 2, 0, 7, 50, 6882))
    r = s.recv(65536)
    put("udp", "opentracker-announce", struct.pack(">I", tid) + b"\x0e" + r)
    tid += 1
    s.send(struct.pack(">QII", conn, 2, tid) + b"".join(hashes))
    r = s.recv(65536)
    put("udp", "opentracker-scrape", struct.pack(">I", tid) + b"\x0e" + r)
    tid += 1
    s.send(struct.pack(">QII20s20sQQQIIIiH", conn, 1, tid, b"\x01" * 20,
                       H.make_peer_id("seedcorpus3"), 0, 1000, 0, 2, 0, 7, 50, 6883))
    r = s.recv(65536)
    put("udp", "opentracker-error", struct.pack(">I", tid) + b"\x0e" + r)
    s.close()
    for u in (tr.announce_url, tr.udp_url, "udp://[::1]:6969/announce",
              "https://user:pw@tracker.example:8443/a/b/announce.php?passkey=ab%20CD&x=1#frag",
              "http://tracker.example/announce?info_hash=%12%34"):
        put("url", "url-" + hashlib.sha1(u.encode()).hexdigest()[:8], u.encode())


# ---------------------------------------------------------------------------
# peer wire

def read_for(s, secs, limit=1 << 20):
    out = bytearray()
    end = time.monotonic() + secs
    while time.monotonic() < end and len(out) < limit:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not b:
            break
        out += b
    return bytes(out)


def ext_msg(ext_id, payload):
    return struct.pack(">IBB", 2 + len(payload), 20, ext_id) + payload


def parse_m(stream):
    """The peer's extension ids from its extended handshake, if any."""
    for f in frames(stream)[1:]:
        if len(f) > 6 and f[4] == 20 and f[5] == 0:
            try:
                d = H.bdecode(f[6:])
            except Exception:
                return {}
            return d.get(b"m", {})
    return {}


def talk(peer, tag):
    """Handshake, extended handshake, interested, a metadata request and a
    reject-worthy one, two small block requests.  Returns (sent, received)."""
    # From a fresh loopback address: Transmission takes one connection per
    # address, and libtorrent on 127.0.0.1 may already hold that one.
    s = socket.create_connection((peer.host, peer.port), timeout=5,
                                 source_address=(H.next_source_addr(), 0))
    sent = bytearray()

    def send(b):
        sent.extend(b)
        try:
            s.sendall(b)
        except OSError:    # the peer hung up on us: keep what it sent
            pass
    try:
        send(H.PSTR + H.RESERVED_EXT_FAST + peer.info_hash + H.make_peer_id(tag))
        got = read_for(s, 1.5)          # handshake, extended handshake, bitfield
        send(ext_msg(0, H.bencode({b"m": {b"ut_metadata": 3, b"ut_pex": 1},
                                   b"p": 6881, b"reqq": 250, b"v": b"btkit seeds 0.1"})))
        send(struct.pack(">IB", 1, 2))  # interested
        got += read_for(s, 1.5)         # unchoke
        m = parse_m(got)
        if m.get(b"ut_metadata"):
            um = m[b"ut_metadata"]
            send(ext_msg(um, H.bencode({b"msg_type": 0, b"piece": 0})))
            send(ext_msg(um, H.bencode({b"msg_type": 0, b"piece": 9})))
        got += read_for(s, 1.0)
        send(struct.pack(">IBIII", 13, 6, 0, 0, 600))
        send(struct.pack(">IBIII", 13, 6, 1, 0, 300))
        send(struct.pack(">I", 0))
        got += read_for(s, 2.0)
    finally:
        s.close()
    return bytes(sent), got


def wire(h, made):
    t = [x for label, x in made if label == "libtorrent-v1-multi"][0]
    h.start_tracker()
    seeders = [("libtorrent", h.lt_seeder(t)), ("transmission", h.transmission_seeder(t)),
               ("aria2", h.aria2_seeder(t))]
    for kind, peer in seeders:
        for attempt in range(3):
            sent, got = talk(peer, "seeds%s%d" % (kind[:5], attempt))
            if len(got) > 68:
                break
            time.sleep(2)
        fr = frames(got)
        if not fr:
            H.log("seeds: nothing from %s" % kind)
            continue
        put("handshake", kind, fr[0])
        put("peerid", kind, fr[0][48:68] + b"\x11")
        # framer seeds: control byte (bit 0 handshake, cap index 0),
        # eight chunk sizes, then the stream (cut to a few KiB).
        put("framer", kind + "-recv", b"\x01" + bytes([1, 3, 7, 68, 200, 5, 13, 255]) + got[:6000])
        put("framer", kind + "-sent", b"\x07" + bytes([255] * 8) + sent)
        seen = set()
        for f in fr[1:]:
            mid = f[4] if len(f) > 4 else None
            key = (mid, f[5] if mid == 20 and len(f) > 5 else None)
            if (key in seen and mid != 20) or len(f) > 4096:
                continue
            if key not in seen:
                put("msg", "%s-%s" % (kind, "keepalive" if mid is None else "id%d-%s" % (
                    mid, key[1])), f)
                put("msg", "%s-body-%s" % (kind, "ka" if mid is None else "id%d-%s" % (
                    mid, key[1])), f[4:])
            seen.add(key)
            if mid == 20 and len(f) > 5:
                if f[5] == 0:
                    put("ext_hs", kind, f[6:])
                else:
                    put("utm", "%s-ext%d-%d" % (kind, f[5], len(f)), f[6:])
        for f in frames(sent)[1:]:
            if len(f) > 5 and f[4] == 20 and f[5] not in (0,):
                put("utm", "sent-request-%d" % len(f), f[6:])
    return seeders


def pex(h, seeder):
    """ut_pex from libtorrent: two peers that announce it, one listens for
    the seeder's first pex message (sent about a minute in)."""
    socks = []
    try:
        for i in range(2):
            s = socket.create_connection((seeder.host, seeder.port), timeout=5)
            s.sendall(H.PSTR + H.RESERVED_EXT + seeder.info_hash + H.make_peer_id("pex%d" % i))
            s.sendall(ext_msg(0, H.bencode({b"m": {b"ut_pex": 1}, b"p": 7000 + i})))
            socks.append(s)
        got = read_for(socks[0], 75.0, limit=1 << 16)
        m = parse_m(got)
        for f in frames(got)[1:]:
            if len(f) > 5 and f[4] == 20 and f[5] == 1:
                put("pex", "libtorrent-pex", f[6:])
                break
        else:
            H.log("seeds: no ut_pex from libtorrent (m=%r)" % m)
    finally:
        for s in socks:
            s.close()
    a4 = socket.inet_aton("127.0.0.2") + struct.pack(">H", 6881)
    a6 = socket.inet_pton(socket.AF_INET6, "::1") + struct.pack(">H", 6882)
    put("pex", "bep11-all-lists", H.bencode({
        b"added": a4 + socket.inet_aton("127.0.0.3") + struct.pack(">H", 51413),
        b"added.f": b"\x12\x01", b"added6": a6, b"added6.f": b"\x04",
        b"dropped": socket.inet_aton("127.0.0.4") + struct.pack(">H", 6881),
        b"dropped6": a6}))


# ---------------------------------------------------------------------------
# captures

def capture(h, made, seeder):
    t = seeder.torrent
    lport = H.free_port()
    v6port = H.free_port()
    path = h.path("cap") + "/full.pcap"
    path96 = h.path("cap") + "/snap96.pcap"
    filt = "port %d or port %d or port %d" % (seeder.port, h.tracker.port, v6port)
    caps = [C.Tcpdump(h, path, filt), C.Tcpdump(h, path96, filt, snaplen=96)]
    # the UDP tracker exchange and a TCP exchange over ::1
    H.udp_announce(h.tracker.host, h.tracker.port, t.handshake_hash, event=2)
    ls = socket.socket(socket.AF_INET6)
    ls.bind(("::1", v6port))
    ls.listen(1)
    c = socket.socket(socket.AF_INET6)
    c.connect(("::1", v6port))
    a, _ = ls.accept()
    c.sendall(H.PSTR + H.RESERVED_EXT + t.handshake_hash + H.make_peer_id("v6"))
    a.sendall(b"\0\0\0\x01\x02")
    time.sleep(0.2)
    c.close()
    a.close()
    ls.close()
    lee = C.lt_leecher(h, (seeder.host, seeder.port), torrent=t, linger=0.5)
    lee.wait_done(60)
    lee.wait_exit(30)
    for cap in caps:
        cap.stop()
    for p, name in ((path, "lt-download"), (path96, "lt-download-snap96")):
        hdr, e, linktype, recs = C.read_pcap(p)
        keep = [r for r in recs if r[2] <= 1600][:60]
        out = p + ".cut"
        C.write_pcap(out, hdr, e, keep)
        put("pcap", name + ".pcap", open(out, "rb").read())
        if name == "lt-download":
            pkt_seeds(linktype, recs)


def pkt_seeds(linktype, recs):
    """Frames for fuzz_pkt: selector byte (index of the link type in the
    harness's table), cut byte, frame; Ethernet frames also re-wrapped."""
    table = [0, 1, 12, 101, 108, 113, 228, 229, 276]
    picked = {}
    for r in recs:
        f = r[4]
        if linktype != 1 or len(f) < 34:
            continue
        et = struct.unpack(">H", f[12:14])[0]
        ip = f[14:]
        if et == 0x0800:
            proto, fam = ip[9], 4
            l4 = ip[(ip[0] & 15) * 4:]
        elif et == 0x86dd:
            proto, fam = ip[6], 6
            l4 = ip[40:]
        else:
            continue
        flags = l4[13] if proto == 6 and len(l4) > 13 else 0
        key = (fam, proto, flags & 0x17, len(f) > 200)
        if key not in picked and len(f) <= 1600:
            picked[key] = (et, f)
    for i, (key, (et, f)) in enumerate(sorted(picked.items())):
        ip = f[14:]
        name = "v%d-p%d-f%02x-%s" % (key[0], key[1], key[2], "big" if key[3] else "small")
        put("pkt", name + "-en10mb", bytes([table.index(1), 0]) + f)
        put("pkt", name + "-en10mb-cut", bytes([table.index(1), 40]) + f[:54])
        if i % 2 == 0:
            put("pkt", name + "-raw", bytes([table.index(12), 0]) + ip)
            put("pkt", name + "-null", bytes([table.index(0), 0]) +
                struct.pack("<I", 2 if et == 0x0800 else 30) + ip)
            put("pkt", name + "-sll", bytes([table.index(113), 0]) +
                struct.pack(">HHH8sH", 4, 772, 6, b"\0" * 8, et) + ip)
        else:
            put("pkt", name + "-ipv", bytes([table.index(228 if et == 0x0800 else 229), 0]) + ip)
            put("pkt", name + "-loop", bytes([table.index(108), 0]) +
                struct.pack(">I", 2 if et == 0x0800 else 24) + ip)
            put("pkt", name + "-sll2", bytes([table.index(276), 0]) +
                struct.pack(">HHIHBB8s", et, 0, 1, 772, 0, 6, b"\0" * 8) + ip)
    vlan = [f for et, f in picked.values() if et == 0x0800][:1]
    for f in vlan:
        put("pkt", "v4-vlan-en10mb", bytes([1, 0]) + f[:12] + b"\x81\x00\x00\x07" + f[12:])


# ---------------------------------------------------------------------------
# hand-written seeds in the harnesses' own input formats

def synthetic():
    # fuzz_peerid: 20 id bytes and a buffer-size byte; BEP 20's styles.
    for pid in (b"-TR3000-abcdefghijkl", b"-UT3550-abcdefghijkl", b"-lt0D60-abcdefghijkl",
                b"-BC0150-abcdefghijkl", b"-qB4500-abcdefghijkl", b"-DE13F0-abcdefghijkl",
                b"-ZZ1234-abcdefghijkl", b"A2-1-36-0-abcdefghij", b"M4-20-8--abcdefghijk",
                b"S58B-----abcdefghijk", b"T03I-----abcdefghijk", b"exbc\x01\x02abcdefghijkl",
                b"XBT054d-abcdefghijkl", b"-ML2.7.2-abcdefghijk", b"OP1234abcdefghijklmn",
                b"\x1b[31m\\\xff\x00abcdefghijklmn", b"-BK0100-abcdefghijkl"):
        put("peerid", "id-" + pid[:8].hex(), pid + b"\x09")
    # fuzz_handshake: our own and deviating ones.
    ih, pid = bytes(range(20)), b"-BK0100-abcdefghijkl"
    put("handshake", "btkit", H.PSTR + H.RESERVED_EXT_FAST + ih + pid)
    put("handshake", "capital-p", b"\x13BitTorrent Protocol" + bytes(8) + ih + pid)
    put("handshake", "pstrlen-20", b"\x14BitTorrent protocolX" + bytes(8) + ih + pid)
    # fuzz_flow: config byte, then 8-byte segment headers (flags, who,
    # dseq, len, cut, dack, dts) and, in raw mode, the payload.
    SYN, ACK, FIN, RST, PSH = 2, 16, 1, 4, 8

    def seg(flags, who, dseq, payload=b"", n=None, cut=0, dack=0, dts=10):
        n = len(payload) if n is None else n
        return struct.pack(">BBhBBBB", flags, who, dseq, n, cut, dack, dts) + payload
    hs = H.PSTR + bytes(8) + ih + pid
    raw = seg(SYN, 0, 0) + seg(SYN | ACK, 1, 0) + seg(ACK, 0, 0) + \
        seg(PSH | ACK, 0, 0, hs) + seg(PSH | ACK, 1, 0, hs[:40]) + seg(PSH | ACK, 1, 0, hs[40:]) + \
        seg(PSH | ACK, 0, 0, b"\0\0\0\x01\x02") + seg(FIN | ACK, 0, 0) + seg(FIN | ACK, 1, 0)
    put("flow", "raw-handshake-exchange", b"\x3f" + raw)
    ooo = seg(SYN, 0, 0) + seg(SYN | ACK, 1, 0) + seg(ACK, 0, 100, n=50) + \
        seg(ACK, 0, -150, n=100) + seg(ACK, 0, -100, n=100) + seg(ACK, 0, 50, n=20, cut=30) + \
        seg(ACK, 0, -20, n=200) + seg(RST, 1, 0)
    put("flow", "honest-out-of-order", b"\xbf" + ooo)
    put("flow", "honest-tiny-tables", b"\x91" + ooo + seg(SYN, 2, 0) + seg(ACK, 3, 0, n=10) +
        seg(SYN, 4, 0) + seg(ACK, 0x15, 0, n=10))
    put("flow", "raw-conflict-midstream", b"\x2a" + seg(ACK, 0, 0, b"abcdef") +
        seg(ACK, 0, -6, b"abXdef") + seg(ACK, 0, 6, b"ghij") + seg(ACK, 0, -10, b"q") +
        seg(ACK | FIN, 0, 0, b"z"))
    put("flow", "honest-wrap-absolute", b"\x84" + struct.pack(">BBhBBBB", SYN, 8, 0, 0, 0, 0, 1) +
        struct.pack(">I", 0xffffff00) + seg(ACK, 0, 0, n=250) + seg(ACK, 0, 0, n=250) +
        seg(SYN | ACK, 1, 0) + seg(ACK | FIN, 0, 0, n=3))


def escape_seeds():
    """fuzz_escape: a buffer-size byte, then bytes a peer could send as its
    client name: what real clients send (BEP 10 "v") and hostile ones."""
    for label, b in (("lt-v", b"libtorrent/2.0.8.0"), ("tr-v", b"Transmission 3.00"),
                     ("aria2-v", b"aria2/1.36.0"), ("mu", "\u00b5Torrent 3.5.5".encode()),
                     ("osc-title", b"\x1b]0;pwned\x07name"), ("csi-clear", b"\x1b[2J\x1b[H"),
                     ("c1-csi", b"\xc2\x9b31m"), ("overlong", b"\xc0\xaf\xe0\x80\xaf"),
                     ("surrogate", b"\xed\xa0\x80"), ("backslash-x", b"\\xff\xff\\"),
                     ("nul-tab-nl", b"a\x00b\tc\nd\re"), ("rtl", "\u202etxt.exe".encode()),
                     ("astral", "\U0001f600\U0010ffff".encode() + b"\xf4\x90\x80\x80")):
        put("escape", label, bytes([len(b) % 23 + 1]) + b)


def main():
    if os.geteuid() != 0:
        sys.exit("seeds.py: needs root for tcpdump on lo")
    synthetic()
    escape_seeds()
    with H.Harness("fuzz-seeds") as h:
        made = torrents(h)
        seeders = wire(h, made)
        tracker(h, made, seeders[0][1])
        capture(h, made, seeders[0][1])
        pex(h, seeders[0][1])
    total = sum(n for _, _, n in written)
    for name, label, n in written:
        print("%-10s %-40s %6d" % (name, label, n))
    print("%d files, %d bytes" % (len(written), total))


if __name__ == "__main__":
    main()
