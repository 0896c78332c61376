#!/usr/bin/python3
"""A scriptable hostile BitTorrent peer on 127.0.0.1 (tests/integration/test_hostile.py).

    peer.py --scenario NAME --torrent T [--data FILE] [--port P] [--lifetime SECS]
    peer.py --list

One process, one scenario.  It listens on 127.0.0.1 (port 0: the kernel
picks), prints "LISTEN <port>" flushed, and treats every connection the same
way in its own thread: read the 68-byte handshake (a wrong info-hash is
closed at once), answer it (or not), then misbehave as NAME says.  Outside
the fault it is an honest seeder of the single-file torrent T when --data is
given: extended handshake, full bitfield, unchoke, every request of up to
128 KiB answered from FILE.  After the fault it keeps reading (and
discarding) until the other side closes, so a tool that does not give up by
itself shows as a hang; "close-mid" is the one scenario that closes first.

Exits on SIGTERM/SIGINT/SIGHUP, when its parent dies (checked every 0.2 s),
or after --lifetime seconds.  Every wait is bounded; nothing but 127.0.0.1.
"""
import argparse
import hashlib
import os
import signal
import socket
import struct
import sys
import threading
import time

PSTR = b"\x13BitTorrent protocol"
RESERVED = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04])    # extension protocol (BEP 10), fast (BEP 6)
FRAMER_CAP = 128 * 1024 + 9                          # btkit's BT_FRAMER_DEFAULT_MAX
EXT_CAP = 64 * 1024                                  # btkit's extended-payload cap
ESC, BEL = b"\x1b", b"\x07"
# The hostile client name: clear the screen, set the clipboard (OSC 52), ring.
EVIL_V = b"evil" + ESC + b"[2J" + ESC + b"]52;c;aGFja2Vk" + BEL + b"client" + BEL
EVIL_PEER_ID = b"-EV0001-" + ESC + b"[2J" + BEL + ESC + b"]52;c" + BEL   # 20 bytes
assert len(EVIL_PEER_ID) == 20

# name: what the peer does.  test_hostile.py holds the expected outcome per tool.
SCENARIOS = {
    "len-max": "a length prefix of 2^32-1 after the handshake, then garbage",
    "over-cap": "a piece message of 128 KiB + 9 + 1 bytes (one over the framer cap)",
    "at-cap": "an unrequested piece message of exactly 128 KiB + 9 bytes (at the cap)",
    "bitfield-spare": "a bitfield with the spare bits past the last piece set",
    "bitfield-length": "a bitfield two bytes longer than the piece count allows",
    "have-range": "a have for index = piece count (one past the last piece)",
    "piece-unrequested": "a piece (index 1, begin 16384, 16 KiB) nobody asked for",
    "piece-corrupt": "serves every requested block with its first 64 bytes flipped",
    "request-1g": "sends interested and a request for 1 GiB (index 0, begin 0)",
    "keepalive-flood": "keep-alives every 20 ms forever, nothing else",
    "slowloris": "the handshake one byte a second",
    "slowloris-msg": "the handshake at once, then a bitfield one byte a second",
    "close-mid": "a length prefix of 100 and 10 bytes of the message, then FIN",
    "bad-pstr": "a handshake with the protocol string 'BitTorrent Protocol'",
    "wrong-infohash": "a handshake with every bit of the info-hash flipped",
    "ext-60k": "an extended handshake of about 60 KiB (under the 64 KiB cap)",
    "ext-over-cap": "an extended handshake of 64 KiB + 1 bytes (over the cap)",
    "ext-malformed": "an extended handshake that is not bencode",
    "escapes": "ESC [ 2 J, OSC 52 and BEL in the peer id and the client name v",
    "unknown-id": "messages with ids 99 and 250, then an honest seeder",
    "silent": "reads the handshake, never answers",
    "honest": "no fault (a control)",
}


# ---- bencode (what the peer needs) ------------------------------------------

def be(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(be(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(be(k) + be(x) for k, x in items) + b"e"
    raise TypeError(type(v))


def bdec(d, i=0):
    c = d[i:i + 1]
    if c == b"i":
        j = d.index(b"e", i)
        return int(d[i + 1:j]), j + 1
    if c in (b"l", b"d"):
        i += 1
        out = [] if c == b"l" else {}
        while d[i:i + 1] != b"e":
            if c == b"l":
                v, i = bdec(d, i)
                out.append(v)
            else:
                k, i = bdec(d, i)
                out[k], i = bdec(d, i)
        return out, i + 1
    j = d.index(b":", i)
    n = int(d[i:j])
    return d[j + 1:j + 1 + n], j + 1 + n


def info_bytes(t):
    i = 1
    while t[i:i + 1] != b"e":
        k, i = bdec(t, i)
        s = i
        _, i = bdec(t, i)
        if k == b"info":
            return t[s:i]
    raise ValueError("no info dictionary")


# ---- wire ----------------------------------------------------------------------

def msg(mid, payload=b""):
    return struct.pack(">IB", 1 + len(payload), mid) + payload


def ext_msg(payload):
    return msg(20, b"\x00" + payload)


class Stop(Exception):
    pass


class Conn:
    def __init__(self, s, peer):
        self.s, self.p = s, peer
        s.settimeout(0.2)

    def send(self, b):
        if self.p.stop.is_set():
            raise Stop()
        self.s.sendall(b)

    def recv_exact(self, n, limit=30.0):
        buf = b""
        deadline = time.monotonic() + limit
        while len(buf) < n:
            if self.p.stop.is_set() or time.monotonic() > deadline:
                raise Stop()
            try:
                chunk = self.s.recv(min(65536, n - len(buf)))
            except socket.timeout:
                continue
            if not chunk:
                raise Stop()
            buf += chunk
        return buf

    def sleep(self, secs):
        """Sleep, but notice the other side closing (and our own stop)."""
        end = time.monotonic() + secs
        while time.monotonic() < end:
            if self.p.stop.is_set():
                raise Stop()
            try:
                self.s.settimeout(min(0.05, max(0.001, end - time.monotonic())))
                b = self.s.recv(65536)
                if not b:
                    raise Stop()
            except socket.timeout:
                pass
            finally:
                self.s.settimeout(0.2)

    def drain(self, limit=60.0):
        """Read and discard until the other side closes (or LIMIT s)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if self.p.stop.is_set():
                return
            try:
                if not self.s.recv(65536):
                    return
            except socket.timeout:
                continue

    def messages(self, limit=60.0):
        """Yield (id, payload) of what the other side sends until it closes."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            (n,) = struct.unpack(">I", self.recv_exact(4, limit))
            if n > 1 << 20:
                raise Stop()
            body = self.recv_exact(n, limit) if n else b""
            if body:
                yield body[0], body[1:]


class Peer:
    def __init__(self, a):
        raw = open(a.torrent, "rb").read()
        info = info_bytes(raw)
        meta = bdec(info)[0]
        self.info_hash = hashlib.sha1(info).digest()
        self.piece_length = meta[b"piece length"]
        self.length = meta.get(b"length", 0)
        self.npieces = len(meta[b"pieces"]) // 20
        self.data = open(a.data, "rb") if a.data else None
        self.lock = threading.Lock()
        self.scenario = a.scenario
        self.stop = threading.Event()
        self.peer_id = EVIL_PEER_ID if a.scenario == "escapes" else \
            b"-HP0001-" + os.urandom(6).hex().encode()

    def block(self, index, begin, length):
        if self.data is None:
            return bytes(length)
        with self.lock:
            self.data.seek(index * self.piece_length + begin)
            return self.data.read(length)

    def bitfield(self, spare=False, extra=0):
        n = (self.npieces + 7) // 8
        b = bytearray(b"\xff" * n)
        pad = n * 8 - self.npieces
        if pad and not spare:
            b[-1] = (0xff << pad) & 0xff
        return bytes(b) + b"\xff" * extra

    def ext_handshake(self, v=b"hostile-peer/1.0", **more):
        d = {"m": {"ut_metadata": 3}, "v": v, "reqq": 250}
        d.update(more)
        return ext_msg(be(d))

    @staticmethod
    def ext_payload_of(size):
        """A valid extended-handshake dictionary of exactly SIZE bytes."""
        k = size
        while True:
            d = be({"m": {"ut_metadata": 3}, "v": b"hostile-peer/1.0", "reqq": 250,
                    "x": b"A" * k})
            if len(d) == size:
                return d
            k -= len(d) - size

    # ---- one connection -------------------------------------------------

    def serve(self, c):
        sc = self.scenario
        hs = c.recv_exact(68, 15.0)
        if hs[28:48] != self.info_hash:
            return
        if sc == "silent":
            return c.drain()
        ih = bytes(x ^ 0xff for x in self.info_hash) if sc == "wrong-infohash" else self.info_hash
        pstr = b"\x13BitTorrent Protocol" if sc == "bad-pstr" else PSTR
        ours = pstr + RESERVED + ih + self.peer_id
        if sc == "slowloris":
            for i in range(len(ours)):
                c.send(ours[i:i + 1])
                c.sleep(1.0)
            return c.drain()
        c.send(ours)
        if sc in ("bad-pstr", "wrong-infohash"):
            return c.drain()
        # Extended handshake (or the fault in it).
        if sc == "ext-60k":
            c.send(self.ext_handshake(x=b"A" * (60 * 1024)))
        elif sc == "ext-over-cap":
            c.send(ext_msg(self.ext_payload_of(EXT_CAP + 1)))
        elif sc == "ext-malformed":
            c.send(ext_msg(b"d1:md11:ut_metadatai3ee1:vi12x3e"))
        elif sc == "escapes":
            c.send(self.ext_handshake(v=EVIL_V))
        else:
            c.send(self.ext_handshake())
        # Faults that replace the stream after the handshake.
        if sc == "len-max":
            c.send(struct.pack(">I", 0xffffffff) + b"\x07" + os.urandom(64))
            return c.drain()
        if sc == "over-cap":
            n = FRAMER_CAP + 1
            c.send(struct.pack(">IBII", n, 7, 0, 0) + os.urandom(n - 9))
            return c.drain()
        if sc == "keepalive-flood":
            while True:
                c.send(b"\x00\x00\x00\x00")
                c.sleep(0.02)
        if sc == "slowloris-msg":
            bf = msg(5, self.bitfield())
            for i in range(len(bf)):
                c.send(bf[i:i + 1])
                c.sleep(1.0)
            return c.drain()
        if sc == "close-mid":
            c.send(struct.pack(">IB", 100, 5) + b"\xff" * 9)   # 10 of 100 bytes
            c.s.shutdown(socket.SHUT_WR)                      # FIN mid-message
            return c.drain()
        if sc == "unknown-id":
            c.send(msg(99, b"hello") + msg(250, b"\x00" * 40))
        # The announcement.
        if sc == "bitfield-spare":
            c.send(msg(5, self.bitfield(spare=True)))
        elif sc == "bitfield-length":
            c.send(msg(5, self.bitfield(extra=2)))
        else:
            c.send(msg(5, self.bitfield()))
        if sc == "have-range":
            c.send(msg(4, struct.pack(">I", self.npieces)))
        c.send(msg(1))                                        # unchoke
        if sc == "at-cap":
            blk = self.block(0, 0, 128 * 1024)
            blk += bytes(128 * 1024 - len(blk))
            frame = msg(7, struct.pack(">II", 0, 0) + blk)
            assert len(frame) == 4 + FRAMER_CAP
            c.send(frame)
        elif sc == "piece-unrequested":
            c.send(msg(7, struct.pack(">II", 1, 16384) + self.block(1, 16384, 16384)))
        elif sc == "request-1g":
            c.send(msg(2) + msg(6, struct.pack(">III", 0, 0, 1 << 30)))
        # Serve requests (honestly, except piece-corrupt).
        for mid, payload in c.messages():
            if mid != 6 or len(payload) != 12:
                continue
            index, begin, length = struct.unpack(">III", payload)
            if index >= self.npieces or length > 128 * 1024:
                continue
            blk = self.block(index, begin, length)
            if sc == "piece-corrupt":
                blk = bytes(b ^ 0xff for b in blk[:64]) + blk[64:]
            c.send(msg(7, struct.pack(">II", index, begin) + blk))


def main():
    ap = argparse.ArgumentParser(description="hostile BitTorrent peer on 127.0.0.1")
    ap.add_argument("--scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--torrent")
    ap.add_argument("--data")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=120.0)
    ap.add_argument("--list", action="store_true", help="print the scenarios and exit")
    a = ap.parse_args()
    if a.list:
        for k in sorted(SCENARIOS):
            print("%-18s %s" % (k, SCENARIOS[k]))
        return 0
    if not a.scenario or not a.torrent:
        ap.error("--scenario and --torrent are required")
    p = Peer(a)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: p.stop.set())
    parent = os.getppid()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(16)
    ls.settimeout(0.2)
    print("LISTEN %d" % ls.getsockname()[1], flush=True)
    deadline = time.monotonic() + a.lifetime
    socks = []
    while not p.stop.is_set() and time.monotonic() < deadline and os.getppid() == parent:
        try:
            s, _ = ls.accept()
        except socket.timeout:
            continue
        socks.append(s)

        def run(s=s):
            try:
                p.serve(Conn(s, p))
            except (Stop, OSError, struct.error, ValueError):
                pass
            finally:
                try:
                    s.close()
                except OSError:
                    pass
        threading.Thread(target=run, daemon=True).start()
    p.stop.set()
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
