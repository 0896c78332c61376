#!/usr/bin/python3
"""A scriptable misbehaving BitTorrent peer on 127.0.0.1, for bt-fetch tests.

    bad_peer.py --torrent T --data FILE --port P --mode MODE [--lifetime SECS]

Serves the single-file torrent T from FILE, like a seeder, except for one
deliberate fault chosen by MODE:

    honest        no fault (a control)
    wrong-length  a 'have' whose length prefix says 3 (payload 2 bytes, not 4)
    oversized     a length prefix of 0x7fffffff, then garbage
    unrequested   a 'piece' for a block nobody asked for, right after unchoke
    bad-bitfield  a bitfield one byte longer than the piece count allows
    stall         serves, but the first 'piece' stops half way and then
                  nothing more is sent (the connection stays open)
    corrupt       serves every block with its bytes flipped

Listens on 127.0.0.1 only, prints 'LISTEN <port>' when ready, handles each
connection in a thread, and exits on SIGTERM/SIGINT, when its parent dies,
or after --lifetime seconds.  Every wait is bounded.
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

MODES = ("honest", "wrong-length", "oversized", "unrequested", "bad-bitfield",
         "stall", "corrupt")
RESERVED = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04])   # extension protocol, fast


def bdecode(d, i=0):
    c = d[i:i + 1]
    if c == b"i":
        j = d.index(b"e", i)
        return int(d[i + 1:j]), j + 1
    if c == b"l":
        i, out = i + 1, []
        while d[i:i + 1] != b"e":
            v, i = bdecode(d, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i, out = i + 1, {}
        while d[i:i + 1] != b"e":
            k, i = bdecode(d, i)
            v, i = bdecode(d, i)
            out[k] = v
        return out, i + 1
    j = d.index(b":", i)
    n = int(d[i:j])
    return d[j + 1:j + 1 + n], j + 1 + n


def info_bytes(t):
    """Exact bytes of the info dict (for the info-hash)."""
    i = 1
    while t[i:i + 1] != b"e":
        k, i = bdecode(t, i)
        s = i
        _, i = bdecode(t, i)
        if k == b"info":
            return t[s:i]
    raise ValueError("no info")


class Peer:
    def __init__(self, a):
        raw = open(a.torrent, "rb").read()
        info = info_bytes(raw)
        meta = bdecode(info)[0]
        self.info_hash = hashlib.sha1(info).digest()
        self.piece_length = meta[b"piece length"]
        self.length = meta[b"length"]
        self.npieces = len(meta[b"pieces"]) // 20
        self.data = open(a.data, "rb")
        self.lock = threading.Lock()
        self.mode = a.mode
        self.stop = threading.Event()
        self.peer_id = b"-BP0001-" + os.urandom(6).hex().encode()

    def read_block(self, index, begin, length):
        with self.lock:
            self.data.seek(index * self.piece_length + begin)
            return self.data.read(length)

    def bitfield(self):
        n = (self.npieces + 7) // 8
        b = bytearray(b"\xff" * n)
        spare = n * 8 - self.npieces
        if spare:
            b[-1] = (0xff << spare) & 0xff
        return bytes(b)


def msg(mid, payload=b""):
    return struct.pack(">IB", 1 + len(payload), mid) + payload


def recv_exact(s, n, p):
    buf = b""
    while len(buf) < n:
        if p.stop.is_set():
            raise OSError("stopping")
        try:
            chunk = s.recv(n - len(buf))
        except socket.timeout:
            continue
        if not chunk:
            raise OSError("closed")
        buf += chunk
    return buf


def serve(s, p):
    s.settimeout(0.5)
    hs = recv_exact(s, 68, p)
    if hs[28:48] != p.info_hash:
        return
    s.sendall(b"\x13BitTorrent protocol" + RESERVED + p.info_hash + p.peer_id)
    m = p.mode
    if m == "wrong-length":
        s.sendall(struct.pack(">IB", 3, 4) + b"\x00\x00")
    elif m == "oversized":
        s.sendall(struct.pack(">I", 0x7fffffff) + b"\x07" + os.urandom(64))
    elif m == "bad-bitfield":
        s.sendall(msg(5, p.bitfield() + b"\xff"))
    else:
        s.sendall(msg(5, p.bitfield()))
    s.sendall(msg(1))                                     # unchoke
    if m == "unrequested":
        s.sendall(msg(7, struct.pack(">II", 0, 0) + p.read_block(0, 0, 16384)))
    stalled = False
    while not p.stop.is_set():
        (n,) = struct.unpack(">I", recv_exact(s, 4, p))
        if n > 1 << 20:
            return
        body = recv_exact(s, n, p) if n else b""
        if not body or stalled or body[0] != 6 or len(body) != 13:
            continue
        index, begin, length = struct.unpack(">III", body[1:])
        if index >= p.npieces or length > 1 << 17:
            continue
        block = p.read_block(index, begin, length)
        if m == "corrupt":
            block = bytes(b ^ 0xff for b in block[:64]) + block[64:]
        frame = msg(7, struct.pack(">II", index, begin) + block)
        if m == "stall":
            s.sendall(frame[:len(frame) // 2])
            stalled = True
            continue
        s.sendall(frame)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=MODES, required=True)
    ap.add_argument("--lifetime", type=float, default=120.0)
    a = ap.parse_args()
    p = Peer(a)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: p.stop.set())
    parent = os.getppid()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(16)
    ls.settimeout(0.2)
    print("LISTEN %d" % a.port, flush=True)
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
                serve(s, p)
            except (OSError, struct.error, ValueError):
                pass
            finally:
                # A stalled connection is left open until we stop: that is
                # the point of the stall.
                if p.mode != "stall":
                    s.close()
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
