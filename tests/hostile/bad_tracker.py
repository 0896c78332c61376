#!/usr/bin/python3
"""A misbehaving BitTorrent tracker for btkit's tests: HTTP, HTTPS and UDP on
loopback only.

Started by tests/harness/announce_helpers.py (never by hand in a test).  It
binds its ports itself (port 0: the kernel picks) and prints one line

    READY {"http": PORT, "https": PORT|null, "udp": {"ok": PORT, ...}, "udp6": PORT|null}

on stdout, flushed.  It exits on SIGTERM/SIGINT, when its parent dies
(checked every 0.2 s) and after --lifetime seconds.

HTTP behaviour is chosen by the first path component, the rest being
"announce" or "scrape" (so BEP 48 scrape URLs work):

    /ok/          a valid compact answer (announce) or files dict (scrape)
    /dict/        BEP 3 dictionary peers with peer ids, peers6, warning,
                  tracker id, min interval, external ip
    /failure/     "failure reason" with an ESC byte in it (escaping test)
    /badbencode/  a dictionary with a broken integer
    /odd/         compact "peers" of 7 bytes
    /odd6/        "peers6" of 17 bytes
    /500/         HTTP 500 with a short text body
    /400fail/     HTTP 400 with a bencoded failure reason
    /hang/        accepts, reads the request, never answers
    /big/         10 MB body with Content-Length
    /bignolen/    10 MB body, no Content-Length (HTTP/1.0, close-delimited)
    /redirect/    302 to itself, forever
    /redirect1/   302 to /ok/<same>
    /redirectudp/ 302 to a udp:// URL
    /html/        200 with an HTML page
    /empty/       200 with an empty body
    /close/       closes the connection without a response
    /gzip/        the /ok/ answer, gzip-encoded
    /echo/        the /ok/ answer; the request line is kept for /_last
    /_last        the last /echo/ request line; /_udp_last: hex of the last
                  UDP announce packet received on the "ok" socket
    /announce, /scrape (with --upstream): proxied to that tracker URL, so
                  the HTTPS listener can front opentracker

UDP: one socket per behaviour:
    ok          connect, announce (2 peers), scrape, with BEP 15 sizes
    wrongtid    connect answered with another transaction id
    short       connect answered with 12 bytes
    wrongaction connect answered with action 1
    error       connect ok, then an error packet (action 3)
    odd         connect ok, announce answered with 7 bytes of peers
    silent      never answers
    dropfirst   drops the first packet of each new source address
    dupconnect  answers each connect twice (a late duplicate)
    udp6 (on ::1, if available): like ok, 18-byte peers
"""
import argparse
import gzip
import http.server
import ipaddress
import json
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse
import urllib.request

PROTO = 0x41727101980
ESC = b"\x1b"


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


def compact(ip, port):
    return socket.inet_aton(ip) + struct.pack(">H", port)


OK_PEERS = [("127.0.0.1", 6881), ("127.0.0.2", 6882)]
OK_ANNOUNCE = be({"interval": 1800, "min interval": 900, "complete": 3, "incomplete": 4,
                  "peers": b"".join(compact(*p) for p in OK_PEERS)})
DICT_ANNOUNCE = be({
    "interval": 1200, "min interval": 600, "complete": 1, "incomplete": 2,
    "warning message": "be nice", "tracker id": "tid-42",
    "external ip": socket.inet_aton("127.0.0.9"),
    "peers": [
        {"ip": "127.0.0.3", "port": 51413, "peer id": b"-TR3000-abcdefghijkl"},
        {"ip": "127.0.0.4", "port": 6881, "peer id": b"-LT2080-abcdefghijkl"},
        {"ip": "::1", "port": 6999, "peer id": b"A2-1-36-0-abcdefghij"},
    ],
    "peers6": socket.inet_pton(socket.AF_INET6, "::1") + struct.pack(">H", 7000),
})
FAILURE = be({"failure reason": b"go away " + ESC + b"[31mnow"})

STATE = {"last": b"", "udp_last": b""}
STOP = threading.Event()


def scrape_body(query):
    q = urllib.parse.parse_qs(query, keep_blank_values=True, encoding="latin-1")
    files = {}
    for h in q.get("info_hash", []):
        hb = h.encode("latin-1")
        files[hb] = {"complete": 5, "incomplete": 6, "downloaded": 7}
    return be({"files": files})


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bad_tracker/1"
    upstream = None

    def log_message(self, fmt, *a):  # quiet
        pass

    def send(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.strip("/").split("/")
        mode = parts[0] if parts else ""
        tail = parts[-1] if parts else ""
        scrape = tail.startswith("scrape")
        ok_body = scrape_body(u.query) if scrape else OK_ANNOUNCE
        if mode == "_last":
            return self.send(200, STATE["last"])
        if mode == "_udp_last":
            return self.send(200, STATE["udp_last"].hex().encode())
        if mode in ("announce", "scrape") and self.upstream:
            target = self.upstream.rsplit("/", 1)[0] + "/" + mode + (
                "?" + u.query if u.query else "")
            h = urllib.parse.urlsplit(target).hostname
            if not ipaddress.ip_address(h).is_loopback:
                return self.send(500, b"upstream not loopback")
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            try:
                with opener.open(target, timeout=5) as r:
                    return self.send(r.status, r.read())
            except urllib.error.HTTPError as e:
                return self.send(e.code, e.read())
        if mode == "ok":
            return self.send(200, ok_body)
        if mode == "echo":
            STATE["last"] = self.requestline.encode("latin-1")
            return self.send(200, ok_body)
        if mode == "dict":
            return self.send(200, DICT_ANNOUNCE)
        if mode == "failure":
            return self.send(200, FAILURE)
        if mode == "badbencode":
            return self.send(200, b"d8:intervali18x0e5:peers0:e")
        if mode == "odd":
            return self.send(200, be({"interval": 1800, "peers": b"\x7f\x00\x00\x01\x1a\xe1\x00"}))
        if mode == "odd6":
            return self.send(200, be({"interval": 1800, "peers": b"", "peers6": b"\x00" * 17}))
        if mode == "500":
            return self.send(500, b"internal error\n")
        if mode == "400fail":
            return self.send(400, be({"failure reason": "unregistered torrent"}))
        if mode == "hang":
            STOP.wait(120)
            return
        if mode == "big":
            n = 10 * 1000 * 1000
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            return self._stream(n)
        if mode == "bignolen":
            self.close_connection = True
            self.send_response_only(200)
            self.send_header("Connection", "close")
            self.end_headers()
            return self._stream(10 * 1000 * 1000)
        if mode == "redirect":
            return self.send(302, b"", extra=[("Location", self.path)])
        if mode == "redirect1":
            return self.send(302, b"", extra=[("Location", "/ok/" + "/".join(parts[1:]) + (
                "?" + u.query if u.query else ""))])
        if mode == "redirectudp":
            return self.send(302, b"", extra=[("Location", "udp://127.0.0.1:9/announce")])
        if mode == "html":
            return self.send(200, b"<html><body>Tracker offline</body></html>\n", "text/html")
        if mode == "empty":
            return self.send(200, b"")
        if mode == "close":
            self.close_connection = True
            return
        if mode == "gzip":
            z = gzip.compress(ok_body)
            return self.send(200, z, extra=[("Content-Encoding", "gzip")])
        return self.send(404, b"no such behaviour\n")

    def _stream(self, n):
        chunk = b"x" * 65536
        try:
            while n > 0 and not STOP.is_set():
                k = min(n, len(chunk))
                self.wfile.write(chunk[:k])
                n -= k
        except OSError:
            pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


# ---- UDP ---------------------------------------------------------------------

def udp_loop(sock, mode, fam):
    seen = set()
    conns = {}  # by IP, as opentracker does: a client may use many sockets
    sock.settimeout(0.2)
    while not STOP.is_set():
        try:
            pkt, addr = sock.recvfrom(65536)
        except socket.timeout:
            continue
        except OSError:
            return
        if len(pkt) < 16:
            continue
        if mode == "silent":
            continue
        if mode == "dropfirst" and addr not in seen:
            seen.add(addr)
            continue
        cid, action, tid = struct.unpack(">QII", pkt[:16])
        if action == 0 and cid == PROTO:
            if mode == "wrongtid":
                out = struct.pack(">IIQ", 0, (tid + 1) & 0xffffffff, 0x1234)
            elif mode == "short":
                out = struct.pack(">IIQ", 0, tid, 0x1234)[:12]
            elif mode == "wrongaction":
                out = struct.pack(">IIQ", 1, tid, 0x1234)
            else:
                out = struct.pack(">IIQ", 0, tid, 0x1234567890)
                conns[addr[0]] = 0x1234567890
            sock.sendto(out, addr)
            if mode == "dupconnect":
                sock.sendto(out, addr)
            continue
        if conns.get(addr[0]) != cid:
            sock.sendto(struct.pack(">II", 3, tid) + b"bad connection id", addr)
            continue
        if mode == "error":
            sock.sendto(struct.pack(">II", 3, tid) + b"no such torrent " + ESC + b"[0m", addr)
            continue
        if action == 1:
            if mode in ("ok", "dropfirst", "dupconnect"):
                STATE["udp_last"] = pkt
            if mode == "odd":
                peers = b"\x7f\x00\x00\x01\x1a\xe1\x00"
            elif fam == 6:
                peers = socket.inet_pton(socket.AF_INET6, "::1") + struct.pack(">H", 6881)
            else:
                peers = b"".join(compact(*p) for p in OK_PEERS)
            sock.sendto(struct.pack(">IIIII", 1, tid, 1800, 4, 3) + peers, addr)
        elif action == 2:
            n = (len(pkt) - 16) // 20
            sock.sendto(struct.pack(">II", 2, tid) + struct.pack(">III", 5, 7, 6) * n, addr)


UDP_MODES = ("ok", "wrongtid", "short", "wrongaction", "error", "odd", "silent",
             "dropfirst", "dupconnect")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--upstream", help="tracker announce URL to proxy /announce and /scrape to")
    ap.add_argument("--lifetime", type=float, default=600.0)
    a = ap.parse_args()
    if not ipaddress.ip_address(a.host).is_loopback:
        sys.exit("bad_tracker: loopback only")
    if a.upstream:
        Handler.upstream = a.upstream

    threads = []
    srv = Server((a.host, 0), Handler)
    threads.append(threading.Thread(target=srv.serve_forever, daemon=True))
    https_port = None
    if a.tls_cert:
        tsrv = Server((a.host, 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        tsrv.socket = ctx.wrap_socket(tsrv.socket, server_side=True)
        https_port = tsrv.server_address[1]
        threads.append(threading.Thread(target=tsrv.serve_forever, daemon=True))
    udp = {}
    for m in UDP_MODES:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a.host, 0))
        udp[m] = s.getsockname()[1]
        threads.append(threading.Thread(target=udp_loop, args=(s, m, 4), daemon=True))
    udp6 = None
    try:
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s6.bind(("::1", 0))
        udp6 = s6.getsockname()[1]
        threads.append(threading.Thread(target=udp_loop, args=(s6, "ok", 6), daemon=True))
    except OSError:
        pass
    for t in threads:
        t.start()
    sys.stdout.write("READY " + json.dumps({"http": srv.server_address[1], "https": https_port,
                                            "udp": udp, "udp6": udp6}) + "\n")
    sys.stdout.flush()

    import signal
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    signal.signal(signal.SIGINT, lambda *_: STOP.set())
    parent = os.getppid()
    deadline = time.monotonic() + a.lifetime
    while not STOP.is_set() and time.monotonic() < deadline and os.getppid() == parent:
        STOP.wait(0.2)
    STOP.set()
    srv.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
