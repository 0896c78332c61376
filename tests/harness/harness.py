#!/usr/bin/python3
"""btkit real-peer test harness: real BitTorrent software on 127.0.0.1.

Import it from a test (run with /usr/bin/python3, which has libtorrent):

    sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
    sys.dont_write_bytecode = True
    import harness as H
    with H.Harness("mytest") as h:
        c = h.single_file(size=4 * H.MiB)           # deterministic content
        t = h.torrent(c, maker="mktorrent")          # tracker = h's opentracker
        h.start_tracker()                            # whitelists h's torrents
        s = h.lt_seeder(t)                           # started, seeding, probed
        r = H.handshake_probe(s.host, s.port, t.handshake_hash)
        print(r.peer_id, H.http_announce(h.tracker.announce_url, t.handshake_hash))
    # every process started is stopped by PID here, even on an exception

Rules it keeps: every address is loopback (asserted), every wait has a
deadline, every process is started in its own session with its PID recorded
and is stopped by that PID (SIGTERM, then SIGKILL after a bound) from the
with-block, atexit, or a SIGTERM/SIGINT/SIGHUP handler.  Set BTKIT_KEEP=1 to
keep the work directory for a post-mortem (processes are still stopped).
"""
import atexit
import ctypes
import hashlib
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import weakref

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"  # Debian's: the only one that can import libtorrent
KiB = 1024
MiB = 1024 * 1024
PEER_ID_PREFIX = b"-BK0100-"
PSTR = b"\x13BitTorrent protocol"
# Reserved bits (BEP 10 extension protocol: byte 5 0x10; BEP 6 fast: byte 7 0x04).
RESERVED_EXT = bytes([0, 0, 0, 0, 0, 0x10, 0, 0])
RESERVED_EXT_FAST = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04])

# Bounds, in seconds.  Generous: a loaded 2-core CI box is slow to start things.
STOP_TERM_WAIT = 5.0      # SIGTERM -> SIGKILL
STOP_KILL_WAIT = 5.0      # SIGKILL -> give up (reported)
START_TIMEOUT = 30.0      # a daemon listening / a seeder seeding
PROBE_TIMEOUT = 5.0


class HarnessError(Exception):
    pass


def log(*a):
    """Diagnostics go to stderr as '#' lines (tests/run.sh shows '#   ')."""
    sys.stderr.write("# " + " ".join(str(x) for x in a) + "\n")
    sys.stderr.flush()


def assert_loopback(host):
    """Refuse any address outside 127.0.0.0/8 and ::1 (network rule)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise HarnessError("not a literal loopback address: %r" % (host,))
    if not ip.is_loopback:
        raise HarnessError("refusing non-loopback address %s" % host)
    return host


def wait_until(pred, timeout, what, interval=0.05):
    """Poll PRED until it returns a true value; HarnessError after TIMEOUT s."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise HarnessError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


# --------------------------------------------------------------------------
# bencode (small, strict enough for test fixtures; the C one is under test)

def bdecode(data):
    """Decode bytes; dict keys stay bytes.  Raises ValueError on bad input."""
    v, i = _bdec(data, 0)
    if i != len(data):
        raise ValueError("trailing bytes at %d" % i)
    return v


def _bdec(d, i):
    c = d[i:i + 1]
    if c == b"i":
        j = d.index(b"e", i)
        return int(d[i + 1:j]), j + 1
    if c == b"l":
        i += 1
        out = []
        while d[i:i + 1] != b"e":
            v, i = _bdec(d, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while d[i:i + 1] != b"e":
            k, i = _bdec(d, i)
            v, i = _bdec(d, i)
            out[k] = v
        return out, i + 1
    if c.isdigit():
        j = d.index(b":", i)
        n = int(d[i:j])
        if j + 1 + n > len(d):
            raise ValueError("string past end at %d" % i)
        return d[j + 1:j + 1 + n], j + 1 + n
    raise ValueError("bad bencode at %d" % i)


def bencode(v):
    if isinstance(v, bool):
        raise TypeError("bool")
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, (list, tuple)):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError(type(v))


def raw_info(torrent_bytes):
    """The exact bytes of the top-level 'info' value (what info-hashes hash)."""
    d = torrent_bytes
    if d[:1] != b"d":
        raise ValueError("not a dict")
    i = 1
    while d[i:i + 1] != b"e":
        k, i = _bdec(d, i)
        start = i
        _, i = _bdec(d, i)
        if k == b"info":
            return d[start:i]
    raise ValueError("no info dict")


# --------------------------------------------------------------------------
# processes

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def _child_setup(pdeathsig=True):
    # Runs in the child between fork and exec.  spawn() blocks the stop
    # signals around fork + registration; the mask is inherited across exec,
    # so unblock them here.  PDEATHSIG: if this Python dies without cleaning
    # up (SIGKILL), the kernel sends the child SIGKILL.  The kernel clears it
    # when a child changes credentials (opentracker's setuid to nobody): the
    # reaper process covers that case.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if pdeathsig and _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Proc:
    """One started process.  stop() is idempotent and bounded."""

    def __init__(self, harness, name, argv, popen, log_path):
        self.harness = harness
        self.name = name
        self.argv = argv
        self.popen = popen
        self.pid = popen.pid
        self.log_path = log_path
        self.started = time.monotonic()
        self.returncode = None
        self.stop_secs = None

    def alive(self):
        return self.popen.poll() is None

    def stop(self, term_wait=STOP_TERM_WAIT):
        stop_procs([self], term_wait)
        return self.returncode

    def log_tail(self, n=15):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def __repr__(self):
        return "<Proc %s pid=%d>" % (self.name, self.pid)


def stop_procs(procs, term_wait=STOP_TERM_WAIT, kill_wait=STOP_KILL_WAIT):
    """SIGTERM each live PID, wait (bounded) for all, SIGKILL the rest, reap.

    Signals go to the recorded PID only; the Popen object guarantees that the
    PID is still our unreaped child (so it cannot have been recycled).
    Returns the list of processes that could not be reaped (should be empty).
    """
    live = [p for p in procs if p.popen.poll() is None]
    t0 = time.monotonic()
    for p in live:
        try:
            p.popen.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = t0 + term_wait
    for p in live:
        try:
            p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    stuck = [p for p in live if p.popen.poll() is None]
    for p in stuck:
        log("%s pid %d ignored SIGTERM for %.1f s: SIGKILL" % (p.name, p.pid, term_wait))
        try:
            p.popen.kill()
        except ProcessLookupError:
            pass
    lost = []
    for p in stuck:
        try:
            p.popen.wait(timeout=kill_wait)
        except subprocess.TimeoutExpired:
            lost.append(p)
    for p in procs:
        p.returncode = p.popen.poll()
        if p in live and p.stop_secs is None:
            p.stop_secs = time.monotonic() - t0
    for p in lost:
        log("%s pid %d survived SIGKILL for %.1f s" % (p.name, p.pid, kill_wait))
    return lost


def _starttime(pid):
    """Start time of PID (clock ticks since boot), to tell it from a recycled PID."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def pid_gone(pid):
    """True when PID no longer exists (or is only an unreaped zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return st.rsplit(")", 1)[1].split()[0] == "Z"


_HARNESSES = weakref.WeakSet()
_HANDLERS_SET = False
_PREV_HANDLERS = {}


def _close_all():
    for h in list(_HARNESSES):
        try:
            h.close()
        except Exception as e:  # keep closing the others
            log("harness close failed:", e)


_CLOSING = []   # non-empty while a Harness.close() runs
_PENDING = []   # a signal that arrived during close(): re-raised after it


def _on_signal(signum, frame):
    # Stop everything we started, then leave with the conventional status.
    # The with-blocks above us then find nothing left to do.  A signal that
    # lands while close() is stopping processes must not cut that short: it
    # is remembered and acted on when close() is done.
    if _CLOSING:
        _PENDING.append(signum)
        return
    _close_all()
    prev = _PREV_HANDLERS.get(signum)
    if callable(prev):
        prev(signum, frame)
    raise SystemExit(128 + signum)


def _install_handlers():
    global _HANDLERS_SET
    if _HANDLERS_SET:
        return
    _HANDLERS_SET = True
    atexit.register(_close_all)
    try:
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            prev = signal.getsignal(s)
            if prev not in (signal.SIG_DFL, signal.SIG_IGN, signal.default_int_handler, None):
                _PREV_HANDLERS[s] = prev
            signal.signal(s, _on_signal)
    except ValueError:  # not the main thread: atexit and with-blocks only
        pass


# --------------------------------------------------------------------------
# ports and addresses

_used_ports = set()
_rng = random.SystemRandom()
# Below Linux's ephemeral range (32768-60999 by default), so an outgoing
# connection elsewhere cannot grab our port between check and bind.
PORT_LO, PORT_HI = 20000, 32000


def free_port(host="127.0.0.1", udp=True):
    """A port free on HOST right now for TCP and (by default) UDP too:
    opentracker serves UDP on its port, and Transmission and libtorrent
    open a UDP socket on their peer port even with uTP and DHT off."""
    assert_loopback(host)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(500):
        port = _rng.randrange(PORT_LO, PORT_HI)
        if port in _used_ports:
            continue
        kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp else [])
        ok = True
        for k in kinds:
            s = socket.socket(fam, k)
            try:
                s.bind((host, port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            _used_ports.add(port)
            return port
    raise HarnessError("no free port on %s" % host)


_next_src = [2]


def next_source_addr():
    """127.0.0.2, .3, ... .254, then around: one per connection to a peer
    that keys peers by IP (Transmission)."""
    n = _next_src[0]
    _next_src[0] = 2 + (n - 1) % 253
    return "127.0.0.%d" % n


def tcp_listening(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# deterministic content

def content_bytes(seed, size):
    """SIZE bytes fully determined by SEED (SHAKE-256 stream per 1 MiB block)."""
    out = bytearray()
    blk = 0
    while len(out) < size:
        n = min(MiB, size - len(out))
        out += hashlib.shake_256(b"btkit:%s:%d" % (str(seed).encode(), blk)).digest(n)
        blk += 1
    return bytes(out)


def write_content(path, seed, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        done = 0
        blk = 0
        while done < size:
            n = min(MiB, size - done)
            f.write(hashlib.shake_256(b"btkit:%s:%d" % (str(seed).encode(), blk)).digest(n))
            done += n
            blk += 1


# Default multi-file layout: nested dirs, an empty file, sizes that do not
# line up with any power-of-two piece length.
MULTI_LAYOUT = (
    ("a.bin", 300000),
    ("sub/b.bin", MiB + 123),
    ("sub/deeper/c.bin", 70000),
    ("sub/empty.txt", 0),
    ("z.txt", 17),
)


class Content:
    """Files on disk.  path: the file or top dir; save_path: its parent
    (what clients call the download dir); files: [(relpath, size)] with
    relpath relative to path's parent for multi-file ('multi/sub/b.bin')."""

    def __init__(self, name, save_path, files, multi, seed):
        self.name = name
        self.save_path = save_path
        self.path = os.path.join(save_path, name)
        self.files = files
        self.multi = multi
        self.seed = seed
        self.total_size = sum(s for _, s in files)

    def file_path(self, rel):
        return os.path.join(self.save_path, rel)

    def copy_to(self, save_path):
        """Same content under another save path (each seeder its own copy)."""
        os.makedirs(save_path, exist_ok=True)
        dst = os.path.join(save_path, self.name)
        if self.multi:
            shutil.copytree(self.path, dst)
        else:
            shutil.copy2(self.path, dst)
        return Content(self.name, save_path, self.files, self.multi, self.seed)


# --------------------------------------------------------------------------
# torrents

class Torrent:
    """A .torrent file.  Its info-hashes are computed here from the exact
    info bytes (independently of libtorrent); expected() is libtorrent's view.

    version: 'v1' | 'v2' | 'hybrid'; info_hash_v1 (40 hex) / info_hash_v2
    (64 hex) or None; handshake_hash: the 20 bytes a peer handshake carries
    (v1 hash, or the v2 hash truncated to 20 bytes for v2-only torrents)."""

    def __init__(self, path, content, maker, version):
        self.path = path
        self.content = content
        self.maker = maker
        self.version = version
        with open(path, "rb") as f:
            self.data = f.read()
        info = raw_info(self.data)
        meta = bdecode(info)
        self.is_v2 = b"meta version" in meta
        self.is_v1 = b"pieces" in meta
        self.info_hash_v1 = hashlib.sha1(info).hexdigest() if self.is_v1 else None
        self.info_hash_v2 = hashlib.sha256(info).hexdigest() if self.is_v2 else None
        if self.info_hash_v1:
            self.handshake_hash = bytes.fromhex(self.info_hash_v1)
        else:
            self.handshake_hash = bytes.fromhex(self.info_hash_v2)[:20]
        self.handshake_hash_hex = self.handshake_hash.hex()
        self.name = content.name
        self._lt = None

    def lt_info(self):
        import libtorrent as lt
        if self._lt is None:
            self._lt = lt.torrent_info(self.path)
        return self._lt

    def expected(self):
        """libtorrent's view, shaped like `bt-meta --json`."""
        return lt_view(self.path)

    def __repr__(self):
        return "<Torrent %s %s %s %s>" % (self.maker, self.version, self.name,
                                          self.handshake_hash_hex)


def lt_view(path):
    """libtorrent's reading of a .torrent, with bt-meta's JSON keys.
    File paths are as bt-meta prints them: below the torrent directory for a
    multi-file torrent ('sub/b.bin', libtorrent says 'multi/sub/b.bin'), the
    name for a single file.  Pad files are left out of files and counted
    (v2-only: libtorrent invents alignment pad files; the torrent has none,
    so pad_files is 0).  Extra keys: lt_paths (libtorrent's own paths),
    multi, total_size_with_pads."""
    import libtorrent as lt
    ti = lt.torrent_info(path)
    ih = ti.info_hashes()
    fs = ti.files()
    files, pads, lt_paths = [], 0, []
    for i in range(fs.num_files()):
        if fs.file_flags(i) & lt.file_storage.flag_pad_file:
            pads += 1
            continue
        lt_paths.append(fs.file_path(i).replace(os.sep, "/"))
        files.append({"path": lt_paths[-1], "size": fs.file_size(i)})
    # libtorrent's paths of a multi-file torrent start with "name/".
    multi = any("/" in p for p in lt_paths)
    if multi:
        for f in files:
            f["path"] = f["path"][len(ti.name()) + 1:]
    tiers = {}
    for t in ti.trackers():
        tiers.setdefault(t.tier, []).append(t.url)
    v1 = str(ih.v1) if ih.has_v1() else None
    v2 = str(ih.v2) if ih.has_v2() else None
    return {
        "name": ti.name(),
        "version": "hybrid" if (v1 and v2) else ("v2" if v2 else "v1"),
        "info_hash_v1": v1,
        "info_hash_v2": v2,
        "piece_length": ti.piece_length(),
        "piece_count": ti.num_pieces(),
        "total_size": sum(f["size"] for f in files),
        "total_size_with_pads": ti.total_size(),
        "private": bool(ti.priv()),
        "files": files,
        "pad_files": 0 if (v2 and not v1) else pads,
        "trackers": [tiers[k] for k in sorted(tiers)],
        "url_list": [w["url"] for w in ti.web_seeds()] if ti.web_seeds() else [],
        "created_by": ti.creator(),
        "creation_date": ti.creation_date() or None,
        "comment": ti.comment(),
        "magnet": lt.make_magnet_uri(ti),
        "multi": multi,
        "lt_paths": lt_paths,
    }


# --------------------------------------------------------------------------
# wire probes

class HandshakeFailed(HarnessError):
    """kind: refused | timeout | closed | reset | bad-reply"""

    def __init__(self, kind, msg, got=b""):
        HarnessError.__init__(self, "%s: %s" % (kind, msg))
        self.kind = kind
        self.got = got


class HandshakeReply:
    def __init__(self, raw, messages, secs, source):
        self.raw = raw
        self.reserved = raw[20:28]
        self.info_hash = raw[28:48]
        self.peer_id = raw[48:68]
        self.messages = messages  # [(id or None for keep-alive, payload)]
        self.secs = secs
        self.source = source

    @property
    def client(self):
        """Printable peer-id prefix: '-TR3000-', '-LT2080-', 'A2-1-36-0-'."""
        m = re.match(rb"^(-[A-Za-z0-9]{2}[A-Za-z0-9.]{4}-|A2-\d+-\d+-\d+-)", self.peer_id)
        return m.group(1).decode() if m else self.peer_id[:8].decode("latin-1")

    def __repr__(self):
        return "<HandshakeReply %s reserved=%s %d msgs>" % (
            self.client, self.reserved.hex(), len(self.messages))


def make_peer_id(tag=None):
    tail = (tag or "%012d" % _rng.randrange(10 ** 12)).encode()[:12].ljust(12, b"0")
    return PEER_ID_PREFIX + tail


class _Reader:
    """Buffered reads from a socket with one deadline per call; optional
    decrypt (an RC4 stream) applied to bytes as they are consumed."""

    def __init__(self, s):
        self.s = s
        self.buf = bytearray()
        self.decrypt = None

    def _fill(self, need, deadline, what):
        while len(self.buf) < need:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HandshakeFailed("timeout", "%s: got %d of %d bytes" % (
                    what, len(self.buf), need), bytes(self.buf))
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                raise HandshakeFailed("timeout", "%s: got %d of %d bytes" % (
                    what, len(self.buf), need), bytes(self.buf))
            except ConnectionResetError:
                raise HandshakeFailed("reset", "%s: after %d of %d bytes" % (
                    what, len(self.buf), need), bytes(self.buf))
            if not chunk:
                raise HandshakeFailed("closed", "%s: peer closed after %d of %d bytes" % (
                    what, len(self.buf), need), bytes(self.buf))
            self.buf += chunk

    def read(self, n, deadline, what="read"):
        self._fill(n, deadline, what)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return self.decrypt.crypt(out) if self.decrypt else out

    def skip_to(self, pattern, limit, deadline, what):
        """Discard raw bytes up to and including PATTERN, which must start
        within the first LIMIT bytes."""
        while True:
            i = self.buf.find(pattern)
            if i >= 0:
                del self.buf[:i + len(pattern)]
                return i
            if len(self.buf) >= limit + len(pattern):
                raise HandshakeFailed("bad-reply", "%s: not in the first %d bytes" % (what, limit))
            self._fill(len(self.buf) + 1, deadline, what)


def _connect(host, port, source, timeout):
    assert_loopback(host)
    source = assert_loopback(source or next_source_addr())
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect((host, port))
    except ConnectionRefusedError:
        s.close()
        raise HandshakeFailed("refused", "%s:%d refused" % (host, port))
    except socket.timeout:
        s.close()
        raise HandshakeFailed("timeout", "connect to %s:%d" % (host, port))
    except OSError:
        s.close()
        raise
    return s, source


def _read_reply(rd, t0, deadline, read_after, source, crypto=None):
    raw = rd.read(68, deadline, "handshake reply")
    if raw[:20] != PSTR:
        raise HandshakeFailed("bad-reply", "not a BitTorrent handshake: %r" % raw[:20], raw)
    secs = time.monotonic() - t0
    msgs = []
    if read_after > 0:
        end = time.monotonic() + read_after
        try:
            while True:
                (n,) = struct.unpack(">I", rd.read(4, end, "message length"))
                if n > 1 << 20:
                    raise HandshakeFailed("bad-reply", "message length %d" % n)
                body = rd.read(n, end, "message") if n else b""
                msgs.append((body[0] if body else None, body[1:]))
        except HandshakeFailed as e:
            if e.kind not in ("timeout", "closed", "reset"):
                raise
    r = HandshakeReply(raw, msgs, secs, source)
    r.crypto = crypto
    return r


def handshake_probe(host, port, info_hash, peer_id=None, reserved=RESERVED_EXT,
                    source=None, timeout=PROBE_TIMEOUT, read_after=0.0):
    """Plain BitTorrent handshake; returns HandshakeReply or raises
    HandshakeFailed.  SOURCE: local address to bind (default: the next of
    127.0.0.2...); READ_AFTER: seconds to keep reading length-prefixed
    messages after the 68-byte reply (for have_all/have_none/bitfield)."""
    if len(info_hash) != 20:
        raise ValueError("info_hash must be 20 bytes")
    t0 = time.monotonic()
    deadline = t0 + timeout
    s, source = _connect(host, port, source, timeout)
    try:
        s.sendall(PSTR + reserved + info_hash + (peer_id or make_peer_id()))
        return _read_reply(_Reader(s), t0, deadline, read_after, source)
    finally:
        s.close()


# ---- MSE/PE (message stream encryption), initiator side, for probing peers
# that require encryption.  A test fixture, not btkit's implementation.

MSE_P = int("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
            "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
            "4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563", 16)
MSE_PLAIN, MSE_RC4 = 0x01, 0x02


class RC4:
    """RC4 with the first 1024 keystream bytes dropped, as MSE uses it."""

    def __init__(self, key, drop=1024):
        S = list(range(256))
        j = 0
        for i in range(256):
            j = (j + S[i] + key[i % len(key)]) & 255
            S[i], S[j] = S[j], S[i]
        self.S, self.i, self.j = S, 0, 0
        self.crypt(bytes(drop))

    def crypt(self, data):
        S, i, j = self.S, self.i, self.j
        out = bytearray(len(data))
        for n, c in enumerate(data):
            i = (i + 1) & 255
            j = (j + S[i]) & 255
            S[i], S[j] = S[j], S[i]
            out[n] = c ^ S[(S[i] + S[j]) & 255]
        self.i, self.j = i, j
        return bytes(out)


def mse_handshake_probe(host, port, info_hash, peer_id=None, reserved=RESERVED_EXT,
                        provide=MSE_RC4, source=None, timeout=PROBE_TIMEOUT,
                        read_after=0.0):
    """MSE handshake (DH, then RC4 or plaintext as the peer selects) with the
    BitTorrent handshake as initial payload.  Returns a HandshakeReply whose
    .crypto is 'rc4' or 'plain' (the peer's crypto_select)."""
    if len(info_hash) != 20:
        raise ValueError("info_hash must be 20 bytes")
    sha1 = lambda *p: hashlib.sha1(b"".join(p)).digest()
    t0 = time.monotonic()
    deadline = t0 + timeout
    s, source = _connect(host, port, source, timeout)
    try:
        rd = _Reader(s)
        xa = int.from_bytes(os.urandom(20), "big")
        s.sendall(pow(2, xa, MSE_P).to_bytes(96, "big") + os.urandom(_rng.randrange(0, 64)))
        yb = int.from_bytes(rd.read(96, deadline, "MSE Yb"), "big")
        S = pow(yb, xa, MSE_P).to_bytes(96, "big")
        enc = RC4(sha1(b"keyA", S, info_hash))
        dec = RC4(sha1(b"keyB", S, info_hash))
        ia = PSTR + reserved + info_hash + (peer_id or make_peer_id())
        x = bytes(a ^ b for a, b in zip(sha1(b"req2", info_hash), sha1(b"req3", S)))
        s.sendall(sha1(b"req1", S) + x
                  + enc.crypt(bytes(8) + struct.pack(">IHH", provide, 0, len(ia)))
                  + enc.crypt(ia))
        # The peer's PadB (0-512 bytes) comes before its encrypted VC.
        rd.skip_to(dec.crypt(bytes(8)), 512, deadline, "MSE encrypted VC")
        rd.decrypt = dec
        select, padd = struct.unpack(">IH", rd.read(6, deadline, "MSE crypto_select"))
        if padd > 512 or select not in (MSE_PLAIN, MSE_RC4) or not select & provide:
            raise HandshakeFailed("bad-reply", "MSE crypto_select %#x padD %d" % (select, padd))
        rd.read(padd, deadline, "MSE padD")
        if select == MSE_PLAIN:
            rd.decrypt = None
        return _read_reply(rd, t0, deadline, read_after, source,
                           "rc4" if select == MSE_RC4 else "plain")
    finally:
        s.close()


# Message ids, for tests reading HandshakeReply.messages.
MSG = {0: "choke", 1: "unchoke", 2: "interested", 3: "not_interested", 4: "have",
       5: "bitfield", 6: "request", 7: "piece", 8: "cancel", 9: "port",
       13: "suggest", 14: "have_all", 15: "have_none", 16: "reject",
       17: "allowed_fast", 20: "extended"}


def _parse_compact(peers):
    out = []
    if isinstance(peers, bytes):
        for i in range(0, len(peers) - len(peers) % 6, 6):
            out.append((socket.inet_ntoa(peers[i:i + 4]),
                        struct.unpack(">H", peers[i + 4:i + 6])[0]))
    elif isinstance(peers, list):
        for p in peers:
            out.append((p[b"ip"].decode(), p[b"port"]))
    return out


def http_announce(url, info_hash, peer_id=None, port=1, left=0, event=None,
                  numwant=50, timeout=5.0, extra=None):
    """One HTTP announce (compact=1; opentracker answers 400 to compact=0).
    Returns the decoded dict plus 'peer_list': [(ip, port)].  PORT=1 and
    event=stopped make a harmless read-only announce."""
    u = urllib.parse.urlsplit(url)
    assert_loopback(u.hostname)
    q = {"info_hash": info_hash, "peer_id": peer_id or make_peer_id(), "port": port,
         "uploaded": 0, "downloaded": 0, "left": left, "compact": 1,
         "numwant": numwant}
    if event:
        q["event"] = event
    q.update(extra or {})
    # quote, not urlencode's default quote_plus: opentracker does not decode
    # '+' as a space, so an info-hash with a 0x20 byte would not match.
    full = url + ("&" if u.query else "?") + urllib.parse.urlencode(
        q, quote_via=urllib.parse.quote, safe="")
    # A ProxyHandler({}) so no *_proxy environment variable can send this elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(full, timeout=timeout) as r:
        body = r.read()
    d = bdecode(body)
    d["peer_list"] = _parse_compact(d.get(b"peers", b""))
    return d


def http_scrape(url, info_hashes=(), timeout=5.0):
    u = urllib.parse.urlsplit(url)
    assert_loopback(u.hostname)
    surl = url.replace("/announce", "/scrape")
    if info_hashes:
        surl += "?" + "&".join("info_hash=" + urllib.parse.quote_from_bytes(h)
                               for h in info_hashes)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(surl, timeout=timeout) as r:
        return bdecode(r.read())


def udp_announce(host, port, info_hash, peer_id=None, announce_port=1, left=0,
                 event=0, numwant=50, timeout=3.0):
    """BEP 15 connect + announce.  event: 0 none, 1 completed, 2 started, 3 stopped.
    Returns dict(interval, leechers, seeders, peer_list)."""
    assert_loopback(host)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.connect((host, port))
        tx = _rng.randrange(1 << 32)
        s.send(struct.pack(">QII", 0x41727101980, 0, tx))
        r = s.recv(2048)
        action, rtx, conn = struct.unpack(">IIQ", r[:16])
        if action != 0 or rtx != tx:
            raise HarnessError("udp connect: bad reply %r" % r)
        tx = _rng.randrange(1 << 32)
        s.send(struct.pack(">QII20s20sQQQIIIiH", conn, 1, tx, info_hash,
                           peer_id or make_peer_id(), 0, left, 0, event, 0,
                           _rng.randrange(1 << 32), numwant, announce_port))
        r = s.recv(65536)
        action, rtx = struct.unpack(">II", r[:8])
        if action == 3:
            raise HarnessError("udp announce error: %r" % r[8:])
        if action != 1 or rtx != tx:
            raise HarnessError("udp announce: bad reply %r" % r)
        interval, leechers, seeders = struct.unpack(">III", r[8:20])
        return {"interval": interval, "leechers": leechers, "seeders": seeders,
                "peer_list": _parse_compact(r[20:])}
    finally:
        s.close()


# --------------------------------------------------------------------------
# sockets of our processes: nothing but loopback

def _ss_lines():
    out = subprocess.run(["ss", "-tuanpH"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, timeout=10).stdout.decode()
    return out.splitlines()


def _addr_host(a):
    host = a.rsplit(":", 1)[0].strip("[]")
    return host.split("%", 1)[0]


def foreign_sockets(pids):
    """Sockets of PIDS whose local or peer address is not loopback (a
    wildcard peer '*' of a listening/unconnected socket is fine, a wildcard
    local address is not: it would accept from other interfaces)."""
    pids = set(pids)
    bad = []
    for line in _ss_lines():
        f = line.split()
        if len(f) < 7:
            continue
        owners = set(int(x) for x in re.findall(r"pid=(\d+)", line))
        if not owners & pids:
            continue
        local, peer = f[4], f[5]
        for role, a in (("local", local), ("peer", peer)):
            host = _addr_host(a)
            if role == "peer" and host in ("*", "0.0.0.0", "::"):
                continue
            try:
                if ipaddress.ip_address(host).is_loopback:
                    continue
            except ValueError:
                pass
            bad.append(line)
            break
    return bad


# --------------------------------------------------------------------------
# the harness

class Harness:
    """A work dir, a process registry, and factories for content, torrents,
    the tracker and peers.  Use as a context manager (or call close())."""

    def __init__(self, name="test", keep=None):
        _install_handlers()
        self.name = name
        self.keep = keep if keep is not None else bool(os.environ.get("BTKIT_KEEP"))
        self.dir = tempfile.mkdtemp(prefix="btkit-%s-" % name)
        # 0755, not mkdtemp's 0700: opentracker's chroot is below it and the
        # tracker, once it is 'nobody', must still read its whitelist.
        os.chmod(self.dir, 0o755)
        self.procs = []
        self.seeders = []
        self.torrents = []
        self.tracker = None
        self.tracker_port = None
        self.timings = {}
        self._closed = False
        self._serial = 0
        self._reaper = None
        self._registry = os.path.join(self.dir, "pids.txt")
        _HARNESSES.add(self)

    # context manager
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Stop every process (bounded), then remove the work dir."""
        if self._closed:
            return
        _CLOSING.append(self)
        try:
            # The reaper last: it guards the others until they are gone.
            lost = stop_procs([p for p in self.procs if p is not self._reaper])
            if self._reaper is not None:
                lost += stop_procs([self._reaper])
            if lost:
                log("could not reap:", lost)
            if self.keep:
                log("kept work dir", self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            self._closed = True
        finally:
            _CLOSING.remove(self)
        if _PENDING and not _CLOSING:
            signum = _PENDING.pop()
            del _PENDING[:]
            _close_all()
            raise SystemExit(128 + signum)

    def path(self, *parts, mkdir=True):
        p = os.path.join(self.dir, *parts)
        if mkdir:
            os.makedirs(p, exist_ok=True)
        return p

    def _unique(self, stem):
        self._serial += 1
        return "%s-%d" % (stem, self._serial)

    def spawn(self, argv, name, env=None, cwd=None, stdout=None, pdeathsig=True):
        """Start ARGV in its own session; output to a log file in the work
        dir (or STDOUT=subprocess.PIPE); record its PID for close()."""
        if self._closed:
            raise HarnessError("harness is closed")
        if self._reaper is None:
            self._start_reaper()
        log_path = os.path.join(self.path("logs"), "%s.log" % self._unique(name))
        lf = open(log_path, "wb")
        # No stop signal between fork and registration: a process we started
        # but did not record could not be stopped by PID.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=stdout if stdout is not None else lf,
                                 stderr=lf, cwd=cwd, env=env,
                                 start_new_session=True,
                                 preexec_fn=lambda: _child_setup(pdeathsig))
            proc = Proc(self, name, argv, p, log_path)
            self.procs.append(proc)
            with open(self._registry, "a") as f:
                f.write("%d %s %s\n" % (p.pid, _starttime(p.pid), name))
        finally:
            lf.close()
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return proc

    def _start_reaper(self):
        # Not PDEATHSIG'd: it must outlive us to clean up after a SIGKILL.
        argv = [PY, os.path.join(HERE, "reaper.py"), str(os.getpid()), self._registry]
        if not self.keep:
            argv.append(self.dir)
        lf = open(os.path.join(self.path("logs"), "reaper.log"), "wb")
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                 start_new_session=True,
                                 preexec_fn=lambda: _child_setup(False))
        finally:
            lf.close()
        self._reaper = Proc(self, "reaper", argv, p, lf.name)
        self.procs.append(self._reaper)

    # ---- content and torrents -------------------------------------------

    def single_file(self, name="single.bin", size=4 * MiB + 12345, seed=1):
        save = self.path("data", self._unique("single"))
        write_content(os.path.join(save, name), seed, size)
        return Content(name, save, [(name, size)], False, seed)

    def multi_file(self, name="multi", layout=MULTI_LAYOUT, seed=2):
        save = self.path("data", self._unique("multi"))
        files = []
        for i, (rel, size) in enumerate(layout):
            write_content(os.path.join(save, name, rel), "%s/%d" % (seed, i), size)
            files.append((name + "/" + rel, size))
        return Content(name, save, files, True, seed)

    def announce_url(self):
        """The tracker URL torrents carry (port fixed before the tracker runs)."""
        if self.tracker_port is None:
            self.tracker_port = free_port(udp=True)
        return "http://127.0.0.1:%d/announce" % self.tracker_port

    def torrent(self, content, maker="mktorrent", version="v1", piece_length=64 * KiB,
                tracker=True, extra_trackers=(), private=False, comment=None,
                web_seeds=(), out=None):
        """Make a .torrent of CONTENT with MAKER: 'mktorrent' (v1),
        'libtorrent' (version 'v1' | 'v2' | 'hybrid'), 'transmission-create'
        (v1).  Its tracker is this harness's opentracker unless tracker=False.
        transmission-create leaves empty files out; mktorrent keeps them."""
        url = self.announce_url() if tracker else None
        trackers = ([url] if url else []) + list(extra_trackers)
        out = out or os.path.join(self.path("torrents"),
                                  self._unique("%s-%s-%s" % (content.name, maker, version))
                                  + ".torrent")
        if maker == "mktorrent":
            if version != "v1":
                raise HarnessError("mktorrent makes v1 only")
            lg = piece_length.bit_length() - 1
            if 1 << lg != piece_length:
                raise HarnessError("mktorrent needs a power-of-two piece length")
            argv = ["mktorrent", "-l", str(lg), "-o", out, "-t", "2"]
            for t in trackers:
                argv += ["-a", t]
            if not trackers:
                raise HarnessError("mktorrent requires a tracker")
            if private:
                argv.append("-p")
            if comment:
                argv += ["-c", comment]
            for w in web_seeds:
                argv += ["-w", w]
            argv.append(content.path)
            _run(argv, timeout=60)
        elif maker == "transmission-create":
            if version != "v1":
                raise HarnessError("transmission-create makes v1 only")
            argv = ["transmission-create", "-o", out, "-s", str(piece_length // KiB)]
            for t in trackers:
                argv += ["-t", t]
            if private:
                argv.append("-p")
            if comment:
                argv += ["-c", comment]
            argv.append(content.path)
            _run(argv, timeout=60)
        elif maker == "libtorrent":
            _lt_make(content, version, piece_length, trackers, private, comment,
                     web_seeds, out)
        else:
            raise HarnessError("unknown maker %r" % maker)
        t = Torrent(out, content, maker, version)
        self.torrents.append(t)
        if self.tracker is not None and tracker:
            self.tracker.allow([t])
        return t

    # ---- tracker ---------------------------------------------------------

    def start_tracker(self, torrents=None, timeout=START_TIMEOUT):
        """opentracker on 127.0.0.1 (HTTP and UDP on one port), whitelisting
        TORRENTS (default: every torrent made so far; later ones are added
        as they are made).  Returns the Tracker, ready."""
        if self.tracker is not None:
            return self.tracker
        self.announce_url()
        self.tracker = Tracker(self, self.tracker_port,
                               self.torrents if torrents is None else torrents, timeout)
        return self.tracker

    # ---- peers ---------------------------------------------------------------

    def transmission_seeder(self, torrent, encryption="tolerated", **kw):
        s = TransmissionSeeder(self, torrent, encryption, **kw)
        self.seeders.append(s)
        return s

    def lt_seeder(self, torrent, encryption="plain", **kw):
        s = LtPeer(self, torrent, encryption, **kw)
        self.seeders.append(s)
        return s

    def seeder(self, kind, torrent, encryption="plain", **kw):
        """One name for every client: KIND 'transmission' | 'libtorrent' |
        'aria2'; ENCRYPTION 'plain' (plain handshakes accepted; Transmission
        'tolerated') or 'require' (MSE/RC4 only)."""
        if encryption not in ("plain", "require"):
            raise HarnessError("encryption %r: use 'plain' or 'require'" % encryption)
        if kind == "transmission":
            return self.transmission_seeder(
                torrent, "tolerated" if encryption == "plain" else "required", **kw)
        if kind == "libtorrent":
            return self.lt_seeder(torrent, encryption, **kw)
        if kind == "aria2":
            return self.aria2_seeder(torrent, encryption, **kw)
        raise HarnessError("unknown seeder kind %r" % kind)

    def lt_fresh_leecher(self, torrent, encryption="plain", **kw):
        """A libtorrent peer with no data (and no tracker): it has no piece."""
        s = LtPeer(self, torrent, encryption, mode="empty", **kw)
        self.seeders.append(s)
        return s

    def aria2_seeder(self, torrent, encryption="plain", **kw):
        s = Aria2Seeder(self, torrent, encryption, **kw)
        self.seeders.append(s)
        return s

    def pids(self):
        return [p.pid for p in self.procs]

    def live_pids(self):
        return [p.pid for p in self.procs if not pid_gone(p.pid)]


def _run(argv, timeout):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    if r.returncode != 0:
        raise HarnessError("%s exited %d: %s" % (argv[0], r.returncode,
                                                  r.stdout.decode("utf-8", "replace")[-500:]))
    return r.stdout.decode("utf-8", "replace")


def _lt_make(content, version, piece_length, trackers, private, comment, web_seeds, out):
    import libtorrent as lt
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only,
             "hybrid": 0}.get(version)
    if flags is None:
        raise HarnessError("unknown version %r" % version)
    fs = lt.file_storage()
    lt.add_files(fs, content.path)
    ct = lt.create_torrent(fs, piece_length, flags)
    for tier, t in enumerate(trackers):
        ct.add_tracker(t, tier)
    for w in web_seeds:
        ct.add_url_seed(w)
    ct.set_creator("btkit-harness libtorrent/%s" % lt.__version__)
    if comment:
        ct.set_comment(comment)
    if private:
        ct.set_priv(True)
    lt.set_piece_hashes(ct, content.save_path)
    with open(out, "wb") as f:
        f.write(lt.bencode(ct.generate()))


def tracker_hashes(t):
    """What clients announce for torrent T (40 hex each): the v1 info-hash
    and, for v2 and hybrid torrents, the SHA-256 one truncated to 20 bytes
    (BEP 52; libtorrent announces both for a hybrid)."""
    out = [t.info_hash_v1] if t.info_hash_v1 else []
    if t.info_hash_v2:
        out.append(t.info_hash_v2[:40])
    return out


class Tracker:
    """opentracker, chrooted to its dir, as 'nobody', whitelist-only.
    Whitelist: tracker_hashes() of the harness's torrents."""

    def __init__(self, h, port, torrents, timeout):
        self.h = h
        self.host = "127.0.0.1"
        self.port = port
        self.dir = h.path("opentracker")
        os.chmod(self.dir, 0o755)
        self.whitelist = set()
        self.announce_url = "http://%s:%d/announce" % (self.host, port)
        self.scrape_url = "http://%s:%d/scrape" % (self.host, port)
        self.udp_url = "udp://%s:%d/announce" % (self.host, port)
        self._write(h for t in torrents for h in tracker_hashes(t))
        t0 = time.monotonic()
        # -u nobody: as root it chroots to -d, then setuid(nobody); the
        # whitelist path is inside the chroot.
        self.proc = h.spawn(["opentracker", "-i", self.host, "-p", str(port), "-P", str(port),
                             "-d", self.dir, "-u", "nobody", "-w", "/whitelist.txt"],
                            "opentracker")
        self.pid = self.proc.pid
        try:
            wait_until(lambda: self._ready(), timeout, "opentracker on %s:%d" % (self.host, port))
        except HarnessError as e:
            raise HarnessError("%s\n%s" % (e, self.proc.log_tail()))
        self.ready_secs = time.monotonic() - t0
        h.timings["opentracker"] = self.ready_secs

    def _write(self, hashes):
        self.whitelist.update(x.lower() for x in hashes)
        tmp = os.path.join(self.dir, "whitelist.txt.tmp")
        with open(tmp, "w") as f:
            for x in sorted(self.whitelist):
                f.write(x + "\n")
        os.chmod(tmp, 0o644)
        os.rename(tmp, os.path.join(self.dir, "whitelist.txt"))

    def _probe_hash(self):
        return bytes.fromhex(sorted(self.whitelist)[0]) if self.whitelist else b"\0" * 20

    def _ready(self):
        if not self.proc.alive():
            raise HarnessError("opentracker exited %s:\n%s" % (self.proc.popen.returncode,
                                                                self.proc.log_tail()))
        if not tcp_listening(self.host, self.port, 0.5):
            return False
        try:
            # A real announce (event=stopped skips the whitelist check), then
            # withdrawn: proves the whitelist is loaded and readable.
            if self.whitelist:
                self.peers(self._probe_hash())
            udp_announce(self.host, self.port, self._probe_hash(), event=3, timeout=1)
        except (OSError, HarnessError):
            return False
        return True

    def allow(self, torrents, timeout=10.0):
        """Add torrents' hashes to the whitelist (SIGHUP reloads it)."""
        new = [h for t in torrents for h in tracker_hashes(t) if h not in self.whitelist]
        if not new:
            return
        self._write(new)
        self.proc.popen.send_signal(signal.SIGHUP)
        probe = bytes.fromhex(new[-1])

        def loaded():
            try:
                return self.peers(probe) is not None
            except HarnessError:
                return False
        wait_until(loaded, timeout, "opentracker to reload its whitelist", interval=0.1)

    def peers(self, info_hash):
        """(ip, port) of everyone announced for INFO_HASH.  opentracker lists
        no peers in the answer to event=stopped, so this announces as a
        leecher on port 1 and then withdraws with event=stopped (same peer id)."""
        pid = make_peer_id("peers-query")
        d = http_announce(self.announce_url, info_hash, peer_id=pid, port=1, left=1)
        http_announce(self.announce_url, info_hash, peer_id=pid, port=1, left=1,
                      event="stopped")
        if b"failure reason" in d:
            raise HarnessError("tracker: %r" % d[b"failure reason"])
        return [p for p in d["peer_list"] if p[1] != 1]

    def stop(self):
        return self.proc.stop()


class Seeder:
    """Common face of every peer: host, port, pid, torrent, info_hash (the
    20 handshake bytes), encryption, ready_secs, stop(), probe()."""
    kind = "?"
    peer_id_re = rb"."

    def __init__(self, h, torrent, encryption):
        self.h = h
        self.torrent = torrent
        self.info_hash = torrent.handshake_hash
        self.encryption = encryption
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None
        self.ready_secs = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self):
        return self.proc.stop() if self.proc else None

    def probe(self, **kw):
        """Plain handshake probe (fails against encryption='require' peers)."""
        return handshake_probe(self.host, self.port, self.info_hash, **kw)

    def probe_mse(self, **kw):
        """MSE-encrypted handshake probe."""
        return mse_handshake_probe(self.host, self.port, self.info_hash, **kw)

    def _check_alive(self):
        if not self.proc.alive():
            raise HarnessError("%s exited %s:\n%s" % (self.kind, self.proc.popen.returncode,
                                                      self.proc.log_tail()))

    def _finish_start(self, t0, timeout):
        """Wait until a handshake gets the right answer: plain, or MSE/RC4 for
        peers that require encryption.  Records ready_secs in h.timings."""
        deadline = t0 + timeout
        last = [None]
        probe = self.probe_mse if self.encryption == "require" else self.probe

        def ok():
            self._check_alive()
            try:
                r = probe(timeout=max(0.5, min(3.0, deadline - time.monotonic())))
            except HandshakeFailed as e:
                last[0] = e
                return False
            if r.info_hash != self.info_hash:
                last[0] = "wrong info-hash %s" % r.info_hash.hex()
                return False
            if not re.match(self.peer_id_re, r.peer_id):
                last[0] = "unexpected peer id %r" % r.peer_id
                return False
            self.first_reply = r
            return True

        self.first_reply = None
        try:
            wait_until(ok, max(0.1, deadline - time.monotonic()),
                       "%s handshake on %s:%s" % (self.kind, self.host, self.port), interval=0.2)
        except HarnessError as e:
            raise HarnessError("%s (last: %s)\n%s" % (e, last[0], self.proc.log_tail()))
        self.ready_secs = time.monotonic() - t0
        self.h.timings["%s(%s)" % (self.kind, self.encryption)] = self.ready_secs

    def __repr__(self):
        return "<%s %s:%s pid=%s>" % (self.kind, self.host, self.port, self.pid)


class TransmissionSeeder(Seeder):
    """transmission-daemon -f -g DIR; torrent added with transmission-remote
    and seeded from a private copy of the data.  encryption: 'tolerated'
    (prefer plain), 'preferred', 'required'."""
    kind = "transmission"
    peer_id_re = rb"^-TR\d{3}[0-9A-Z]-"
    ENC = {"tolerated": 0, "plain": 0, "preferred": 1, "prefer": 1, "required": 2, "require": 2}

    def __init__(self, h, torrent, encryption="tolerated", timeout=START_TIMEOUT,
                 copy_data=True):
        if encryption not in self.ENC:
            raise HarnessError("transmission encryption %r" % encryption)
        Seeder.__init__(self, h, torrent, "require" if self.ENC[encryption] == 2 else encryption)
        t0 = time.monotonic()
        self.port = free_port()
        self.rpc_port = free_port()
        self.dir = h.path(h._unique("transmission"))
        cfg = os.path.join(self.dir, "config")
        os.makedirs(cfg)
        content = torrent.content.copy_to(os.path.join(self.dir, "data")) if copy_data \
            else torrent.content
        self.save_path = content.save_path
        settings = {
            "bind-address-ipv4": self.host, "bind-address-ipv6": "::1",
            "peer-port": self.port, "peer-port-random-on-start": False,
            "rpc-enabled": True, "rpc-bind-address": self.host, "rpc-port": self.rpc_port,
            "rpc-authentication-required": False, "rpc-whitelist-enabled": True,
            "rpc-whitelist": "127.0.0.1", "rpc-host-whitelist-enabled": False,
            "dht-enabled": False, "lpd-enabled": False, "pex-enabled": False,
            "utp-enabled": False, "port-forwarding-enabled": False,
            "blocklist-enabled": False, "encryption": self.ENC[encryption],
            "download-dir": self.save_path, "incomplete-dir-enabled": False,
            "watch-dir-enabled": False, "start-added-torrents": True,
            "speed-limit-up-enabled": False, "speed-limit-down-enabled": False,
            "alt-speed-enabled": False, "ratio-limit-enabled": False,
            "idle-seeding-limit-enabled": False, "seed-queue-enabled": False,
            "download-queue-enabled": False, "queue-stalled-enabled": False,
            "scrape-paused-torrents-enabled": False, "rename-partial-files": False,
            "peer-limit-global": 200, "peer-limit-per-torrent": 100,
            "message-level": 2, "umask": 18,
        }
        with open(os.path.join(cfg, "settings.json"), "w") as f:
            json.dump(settings, f, indent=1)
        env = dict(os.environ, HOME=self.dir, TRANSMISSION_HOME=cfg)
        self.proc = h.spawn(["transmission-daemon", "-f", "-g", cfg, "--log-info"],
                            "transmission-daemon", env=env)
        self.remote = ["transmission-remote", "%s:%d" % (self.host, self.rpc_port)]
        try:
            wait_until(lambda: self._check_alive() or tcp_listening(self.host, self.rpc_port),
                       timeout, "transmission rpc on port %d" % self.rpc_port)
            self._remote("-a", torrent.path, "-w", self.save_path)
            self._wait_seeding(t0 + timeout)
        except HarnessError as e:
            raise HarnessError("%s\n%s" % (e, self.proc.log_tail()))
        self._finish_start(t0, timeout)

    def _remote(self, *args, timeout=10):
        return _run(self.remote + list(args), timeout=timeout)

    def info(self):
        """transmission-remote -t HASH -i, parsed into {field: value}."""
        out = self._remote("-t", self.torrent.handshake_hash_hex, "-i")
        d = {}
        for line in out.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                d[k.strip()] = v.strip()
        return d

    def _wait_seeding(self, deadline):
        # transmission-remote -i says "Idle" for a running torrent that moves
        # no data (a seeder nobody is leeching from), "Seeding" while it
        # uploads; it verifies data of a newly added torrent by itself.
        started = [False]

        def seeding():
            self._check_alive()
            d = self.info()
            self.state = d.get("State")
            if d.get("Error") and d.get("Error") != "None":
                raise HarnessError("transmission error: %s" % d.get("Error"))
            if d.get("Percent Done") == "100%" and self.state in ("Idle", "Seeding"):
                return True
            if self.state in ("Stopped", "Finished") and not started[0]:
                started[0] = True
                self._remote("-t", self.torrent.handshake_hash_hex, "-s")
            return False

        wait_until(seeding, max(0.1, deadline - time.monotonic()),
                   "transmission to seed at 100%", interval=0.2)


class LtPeer(Seeder):
    """tests/harness/lt_seeder.py in its own process.  encryption: 'plain',
    'tolerate', 'prefer', 'require'.  mode: 'recheck' (hash the data, then
    seed), 'seed' (libtorrent seed_mode), 'empty' (fresh leecher)."""
    kind = "libtorrent"
    peer_id_re = rb"^-LT2\d{2}[0-9A-Za-z]-"

    def __init__(self, h, torrent, encryption="plain", mode="recheck", timeout=START_TIMEOUT,
                 copy_data=True, tracker=True, lifetime=900):
        Seeder.__init__(self, h, torrent, encryption)
        if mode == "empty":
            self.kind = "libtorrent-leecher"
        t0 = time.monotonic()
        self.mode = mode
        self.port = free_port()
        self.dir = h.path(h._unique("libtorrent"))
        if mode == "empty":
            self.save_path = h.path(self.dir, "empty")
        elif copy_data:
            self.save_path = torrent.content.copy_to(os.path.join(self.dir, "data")).save_path
        else:
            self.save_path = torrent.content.save_path
        argv = [PY, os.path.join(HERE, "lt_seeder.py"), "--torrent", torrent.path,
                "--save-path", self.save_path, "--host", self.host, "--port", str(self.port),
                "--enc", encryption, "--mode", mode, "--lifetime", str(lifetime)]
        if not tracker:
            argv.append("--no-tracker")
        self.proc = h.spawn(argv, self.kind)
        self.out_path = self.proc.log_path  # stdout and stderr both go there

        def ready():
            self._check_alive()
            txt = open(self.out_path, "rb").read().decode("utf-8", "replace")
            if "\nERROR" in "\n" + txt:
                raise HarnessError("lt_seeder: " + txt.strip().splitlines()[-1])
            return "\nREADY" in "\n" + txt

        try:
            wait_until(ready, timeout, "libtorrent %s READY" % mode)
        except HarnessError as e:
            raise HarnessError("%s\n%s" % (e, self.proc.log_tail()))
        self._finish_start(t0, timeout)


class Aria2Seeder(Seeder):
    """aria2c -V --seed-ratio=0.0 on a private copy of the data, status via
    its JSON-RPC on 127.0.0.1.  encryption: 'plain' (aria2 still tries MSE
    first when it dials), 'require' (--bt-require-crypto, arc4)."""
    kind = "aria2"
    peer_id_re = rb"^A2-\d+-\d+-\d+-"

    def __init__(self, h, torrent, encryption="plain", timeout=START_TIMEOUT):
        if encryption not in ("plain", "require"):
            raise HarnessError("aria2 encryption %r" % encryption)
        Seeder.__init__(self, h, torrent, encryption)
        t0 = time.monotonic()
        self.port = free_port()
        self.rpc_port = free_port()
        self.dir = h.path(h._unique("aria2"))
        self.save_path = torrent.content.copy_to(os.path.join(self.dir, "data")).save_path
        req = encryption == "require"
        argv = ["aria2c", "--no-conf=true", "--dir=" + self.save_path,
                "--check-integrity=true", "--bt-seed-unverified=false",
                "--seed-ratio=0.0", "--listen-port=%d" % self.port,
                "--interface=" + self.host, "--disable-ipv6=true",
                "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--bt-require-crypto=%s" % ("true" if req else "false"),
                "--bt-min-crypto-level=%s" % ("arc4" if req else "plain"),
                "--enable-rpc=true", "--rpc-listen-all=false",
                "--rpc-listen-port=%d" % self.rpc_port,
                "--stop-with-process=%d" % os.getpid(),
                "--file-allocation=none", "--auto-save-interval=0",
                "--summary-interval=0", "--console-log-level=notice",
                "--log=" + os.path.join(self.dir, "aria2.log"), "--log-level=info",
                "--bt-stop-timeout=0", "--follow-torrent=false",
                torrent.path]
        self.proc = h.spawn(argv, "aria2c")
        try:
            wait_until(lambda: self._seeding(), timeout, "aria2 to seed", interval=0.2)
        except HarnessError as e:
            raise HarnessError("%s\n%s" % (e, self.proc.log_tail()))
        self._finish_start(t0, timeout)

    def rpc(self, method, *params):
        req = json.dumps({"jsonrpc": "2.0", "id": "h", "method": method,
                          "params": list(params)}).encode()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        r = opener.open(urllib.request.Request(
            "http://%s:%d/jsonrpc" % (self.host, self.rpc_port), data=req,
            headers={"Content-Type": "application/json"}), timeout=3)
        return json.loads(r.read())["result"]

    def _seeding(self):
        self._check_alive()
        if not tcp_listening(self.host, self.rpc_port, 0.5):
            return False
        try:
            act = self.rpc("aria2.tellActive", ["gid", "status", "seeder", "completedLength",
                                                "totalLength", "errorMessage"])
        except (OSError, ValueError, KeyError):
            return False
        for d in act:
            if d.get("seeder") == "true" and d["completedLength"] == d["totalLength"]:
                self.status = d
                return True
        return False


# --------------------------------------------------------------------------
# command line: `harness.py demo-env FILE` for tests/demo.sh

def _demo_env(out, lifetime):
    """Start opentracker + a libtorrent seeder for a generated torrent,
    write shell assignments to OUT, then wait for SIGTERM (or LIFETIME s)."""
    with Harness("demo") as h:
        c = h.single_file(name="btkit-demo.bin", size=2 * MiB + 777, seed="demo")
        t = h.torrent(c, maker="libtorrent", version="hybrid", piece_length=256 * KiB,
                      comment="btkit demo torrent")
        h.start_tracker()
        s = h.lt_seeder(t)
        env = {
            "DEMO_DIR": h.dir, "DEMO_TORRENT": t.path, "DEMO_DATA": s.save_path,
            "DEMO_TRACKER": h.tracker.announce_url, "DEMO_TRACKER_UDP": h.tracker.udp_url,
            "DEMO_TRACKER_PID": h.tracker.pid, "DEMO_SEEDER_HOST": s.host,
            "DEMO_SEEDER_PORT": s.port, "DEMO_SEEDER_PID": s.pid,
            "DEMO_INFO_HASH": t.info_hash_v1, "DEMO_INFO_HASH_V2": t.info_hash_v2,
            "DEMO_SEEDER_READY_SECS": "%.2f" % s.ready_secs,
        }
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            for k, v in env.items():
                f.write("%s='%s'\n" % (k, v))
        os.rename(tmp, out)
        deadline = time.monotonic() + lifetime
        while time.monotonic() < deadline:
            time.sleep(0.2)
        log("demo-env: lifetime over")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "demo-env":
        _demo_env(sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 120.0)
    else:
        sys.stderr.write("usage: harness.py demo-env OUTFILE [LIFETIME_SECS]\n")
        sys.exit(2)
