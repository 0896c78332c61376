#!/usr/bin/python3
"""The hostile-input suite (issue 7): every tool against a peer, a tracker
and .torrent files that misbehave on purpose, on 127.0.0.1.

    peers     tests/hostile/peer.py, one process per scenario, against
              bt-handshake (-D --stay 0 -t 3) and bt-fetch (--peer it, next
              to a rate-limited honest libtorrent seeder; the file must come
              out right)
    trackers  tests/hostile/bad_tracker.py against bt-announce (-t 3) and
              bt-handshake's swarm mode (a torrent whose tracker it is)
    torrents  tests/hostile/torrents.py against bt-meta --verify and
              bt-fetch; nothing may be written or read outside the output
              directory

Every run is checked for: no crash (no signal, no sanitizer report), no hang
(a bound per run, from the tool's timeout + 2 s; subprocess timeouts kill
by PID), the exit status, a message naming the problem (exact substrings,
below), no raw control bytes on stdout (nor ESC/BEL on stderr), and, for
bt-handshake, a summary that does not claim more pieces than the torrent
has.  A tool that misbehaves is reported "not ok" with what was expected
and what it did; the tools are not fixed here.

One line per scenario x tool, in a fixed order, after all runs (they run
concurrently: 30-40 s, about 80 s for a sanitizer build on a loaded 2-core
box).  A run that fails on its time alone is run again, alone, at the end,
and that verdict stands (noted with '#').  BTKIT_BIN picks the tools (e.g. a
sanitizer build); HOSTILE_ONLY=REGEX narrows the runs; `--markdown FILE`
also writes the scenario x tool -> outcome table (docs/HOSTILE.md).
"""
import concurrent.futures as cf
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.path.insert(0, os.path.join(ROOT, "tests", "hostile"))
import harness as H            # noqa: E402
import report as R             # noqa: E402
import announce_helpers as A   # noqa: E402
import fetch_helpers as F      # noqa: E402
import torrents as T           # noqa: E402
import peer as P               # noqa: E402

BIN = os.environ.get("BTKIT_BIN") or os.path.join(ROOT, "build", "bin")
PEER_PY = os.path.join(ROOT, "tests", "hostile", "peer.py")
WHOLE_FILE_LIMIT = 240          # s; the suite takes about a minute
TMO = 3                         # -t for every tool
# The honest seeders next to each hostile peer (one per concurrent bt-fetch)
# are rate-limited so that the download takes ~4 s: the hostile peer gets
# requests and its timeouts fire before the honest one could finish alone.
SEEDER_RATE = 250 * 1024        # bytes/s
SEEDERS = 4
FETCH_BOUND = 15.0              # s: ~4 s of download + -t 3 + 2 + slack
STRACE = shutil.which("strace")


# ---- running a tool -----------------------------------------------------------

class Run:
    def __init__(self, argv, rc, out, err, secs, killed):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err
        self.secs, self.killed = secs, killed
        self.text = (out + b"\n" + err).decode("utf-8", "replace")

    def records(self):
        out = []
        for line in self.out.decode("utf-8", "replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def tail(self, n=600):
        t = self.text.strip()
        return t if len(t) <= n else "..." + t[-n:]


def run_tool(argv, bound, env=None, cwd=None):
    """Run ARGV; kill it (SIGKILL, by PID) if it outlives BOUND + 10 s."""
    e = dict(os.environ, LC_ALL="C")
    e.update(env or {})
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=e, cwd=cwd)
    killed = False
    try:
        out, err = p.communicate(timeout=bound + 10)
    except subprocess.TimeoutExpired:
        killed = True
        p.kill()
        out, err = p.communicate(timeout=10)
    return Run(argv, p.returncode, out, err, time.monotonic() - t0, killed)


def tool(name):
    return os.path.join(BIN, name)


CTRL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")
SAN = re.compile(r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                 r"SUMMARY: \w+Sanitizer)[^\n]*")


def common(r, bound):
    """The checks every run gets: crash, hang, raw control bytes."""
    bad = []
    if r.killed:
        bad.append("hung: killed after %.1f s (bound %.1f s)" % (r.secs, bound))
    elif r.rc < 0:
        bad.append("crashed: killed by signal %d (%s)" % (-r.rc, signal.Signals(-r.rc).name))
    elif r.secs > bound:
        bad.append("took %.1f s, past its bound of %.1f s" % (r.secs, bound))
    m = SAN.search(r.err.decode("utf-8", "replace"))
    if m:
        bad.append("sanitizer: " + m.group(0)[:200])
    m = CTRL.search(r.out)
    if m:
        bad.append("raw control byte 0x%02x on stdout at offset %d: %r" % (
            m.group(0)[0], m.start(), r.out[max(0, m.start() - 30):m.start() + 10]))
    m = re.search(rb"[\x1b\x07]", r.err)
    if m:
        bad.append("raw 0x%02x on stderr: %r" % (m.group(0)[0],
                                                 r.err[max(0, m.start() - 30):m.start() + 10]))
    return bad


class E:
    """What a run must show.  rc: allowed exit statuses; want: substrings
    that must all appear (a tuple: any one of them); absent: substrings
    that must not; bound: seconds; check: fn(run) -> list of problems."""

    def __init__(self, rc, want=(), absent=(), bound=None, check=None, cell=None,
                 expect=None):
        self.rc, self.want, self.absent = set(rc), list(want), list(absent)
        self.bound, self.check, self.cell = bound, check, cell
        self.expect = expect     # in words, first in a "not ok" line


def judge(r, e, text=None):
    """Problems of run R against expectation E (matching in TEXT, default
    stdout + stderr)."""
    text = r.text if text is None else text
    bad = common(r, e.bound)
    if r.killed or r.rc < 0:
        return bad
    if r.rc not in e.rc:
        bad.append("exit %d, expected %s" % (r.rc, "/".join(str(x) for x in sorted(e.rc))))
    for w in e.want:
        alts = w if isinstance(w, tuple) else (w,)
        if not any(a in text for a in alts):
            bad.append("no %s in the output" % " or ".join('"%s"' % a for a in alts))
    for a in e.absent:
        if a in text:
            bad.append('"%s" in the output' % a)
    if e.check:
        bad += e.check(r) or []
    if bad and e.expect:
        bad.insert(0, "expected " + e.expect)
    return bad


def first_hit(e, text):
    """The first expected substring found: what the outcome cell quotes."""
    if e.cell:
        return e.cell
    for w in e.want:
        for a in (w if isinstance(w, tuple) else (w,)):
            if a in text:
                return a
    return ""


# ---- expectations: peers ---------------------------------------------------------

HS_BOUND = TMO + 2.0            # a wait for the handshake
HS_BOUND_AFTER = TMO + 1 + 2.0  # the 1 s wait for a bitfield, then a wait for unchoke


def summary_pieces(r):
    """bt-handshake's summary must not claim more pieces than the torrent has."""
    m = re.search(r"^summary .* pieces (\d+)/(\d+)", r.text, re.M)
    if m and int(m.group(1)) > int(m.group(2)):
        return ["summary says pieces %s/%s: it counts spare bits, extra bytes or "
                "out-of-range haves as pieces (at most %s)" % (m.group(1), m.group(2),
                                                              m.group(2))]
    return []


HS = {
    "honest": E({0}, ["matches its SHA-1"]),
    "len-max": E({1}, ["length prefix 4294967295 exceeds cap 131081", "verdict malformed"]),
    "over-cap": E({1}, ["length prefix 131082 exceeds cap 131081", "verdict malformed"]),
    "at-cap": E({0}, ["<- piece index 0 begin 0 length 131072", "matches its SHA-1"],
                ["exceeds cap", "does NOT match"],
                expect="the frame at the cap accepted, the unasked 128 KiB block left out of "
                "the piece, and piece 0 verified from the 4 blocks requested and served"),
    "bitfield-spare": E({0, 1}, ["7 spare bits set past piece count 17"]),
    "bitfield-length": E({0, 1}, ["bitfield is 5 bytes, expected 3 for 17 pieces"]),
    "have-range": E({0, 1}, ["have index 17 !! index 17 out of range"]),
    "piece-unrequested": E({0, 1}, [("never requested", "not requested", "unrequested")],
                           expect="a remark or verdict that the block was never requested"),
    "piece-corrupt": E({1}, ["does NOT match its SHA-1"]),
    "request-1g": E({0, 1}, ["<- request index 0 begin 0 length 1073741824",
                             "1073741824 > 16384"]),
    "keepalive-flood": E({1}, ["timeout no unchoke within 3000 ms"], bound=HS_BOUND_AFTER,
                         expect="keep-alives not to extend the unchoke wait"),
    "slowloris": E({1}, ["timeout no handshake from the peer within 3000 ms",
                         "verdict no-handshake"]),
    "slowloris-msg": E({1}, ["timeout no unchoke within 3000 ms",
                             ("bytes into a", "partial message", "incomplete message")],
                       ["this peer has no piece"], bound=HS_BOUND_AFTER,
                       expect="the timeout to name the bitfield left half-received, "
                       "not a verdict that the peer has no piece"),
    "close-mid": E({1}, ["closed 14 bytes into a 104-byte message", "verdict peer-closed"]),
    "bad-pstr": E({0, 1}, ["protocol string 'BitTorrent Protocol' is not",
                           "peer-handshake"], bound=HS_BOUND_AFTER),
    "wrong-infohash": E({1}, ["info hash is not the torrent's", "verdict other-info-hash"],
                        bound=HS_BOUND_AFTER),
    "ext-60k": E({0}, ["<- extended handshake m ut_metadata=3 v 'hostile-peer/1.0'",
                       "matches its SHA-1"]),
    "ext-over-cap": E({0, 1}, ["extended payload larger than 64 KiB"]),
    "ext-malformed": E({0, 1}, ["payload not decoded: unexpected byte in integer"]),
    "escapes": E({0}, [r"peer_id '-EV0001-\x1b[2J\x07\x1b]52;c\x07'",
                       r"v 'evil\x1b[2J\x1b]52;c;aGFja2Vk\x07client\x07'"],
                 cell="shown escaped: \\x1b[2J \\x07"),
    "unknown-id": E({0}, ["<- unknown id 0x63 payload 5 bytes",
                          "<- unknown id 0xfa payload 40 bytes", "matches its SHA-1"]),
    "silent": E({1}, ["timeout no handshake from the peer within 3000 ms",
                      "verdict no-handshake"]),
}
for _e in HS.values():
    _e.bound = _e.bound or HS_BOUND
    _e.check = summary_pieces

# bt-fetch: what the hostile peer's records (peer_down, peer_banned,
# violation, summary) must say; every run must also end complete with the
# right file.  "tolerated": the peer did nothing a downloader must refuse.
DONE = "closed by us: complete"
FETCH = {
    "honest": [DONE],
    "len-max": ["message of 4294967295 bytes (cap 131081)", "banned"],
    "over-cap": ["message of 131082 bytes (cap 131081)", "banned"],
    "at-cap": ["piece 0 begin 0 length 131072 was never requested", "banned"],
    "bitfield-spare": [("spare bits", "bitfield of 3 bytes for 17 pieces"), "banned"],
    "bitfield-length": ["bitfield of 5 bytes for 17 pieces", "banned"],
    "have-range": ["have 17, but the torrent has 17 pieces", "banned"],
    "piece-unrequested": ["piece 1 begin 16384 length 16384 was never requested", "banned"],
    "piece-corrupt": ["failed the hash check", "banned"],
    "request-1g": [("request of 1073741824", "length 1073741824", "1073741824 bytes")],
    "keepalive-flood": [DONE],
    "slowloris": ["no handshake within 3000 ms"],
    "slowloris-msg": [DONE],
    "close-mid": ["closed by the peer, 14 bytes into a 104-byte message"],
    "bad-pstr": [("protocol string", "BitTorrent Protocol")],
    "wrong-infohash": ["wrong info-hash in its handshake", "banned"],
    "ext-60k": [DONE],
    "ext-over-cap": [("extended", "64 KiB")],
    "ext-malformed": [("extended", "bencode", "malformed")],
    "escapes": [r"\x1b[2J"],      # text mode with -v: the trace shows it escaped
    "unknown-id": [DONE],
    "silent": ["no handshake within 3000 ms"],
}
FETCH_EXPECT = {
    "request-1g": "the 1 GiB request reported (a violation: BEP 3 peers close on "
                  "requests over 16 KiB), not ignored in silence",
    "bad-pstr": "the handshake's protocol string 'BitTorrent Protocol' reported "
                "(a violation, as a wrong info-hash is), not accepted in silence",
    "ext-over-cap": "the extended handshake over the 64 KiB cap reported "
                    "(bt-fetch(1): malformed messages are reported), not ignored in silence",
    "ext-malformed": "the extended handshake that is not bencode reported "
                     "(bt-fetch(1): malformed messages are reported), not ignored in silence",
}
assert set(HS) == set(FETCH) == set(P.SCENARIOS)


# ---- expectations: trackers ------------------------------------------------------

# (name, url kind, mode, substrings both tools must print); every run must
# also not escape twice (a backslash shown as \\).
TRACKERS = [
    ("bad-bencode", "http", "badbencode", ["bad announce response: unexpected byte in integer"]),
    ("truncated-compact", "http", "odd", ['compact "peers" length is not a multiple of 6']),
    ("truncated-compact-udp", "udp", "odd", ["peer list length is not a multiple of 6"]),
    ("10mb-body", "http", "big", ["body larger than 8388608 bytes"]),
    ("10mb-body-no-length", "http", "bignolen", ["body larger than 8388608 bytes"]),
    ("redirect-loop", "http", "redirect", ["too many redirects (more than 5)"]),
    ("wrong-udp-tid", "udp", "wrongtid", ["transaction id", "differs from the one sent"]),
    ("silence-http", "http", "hang", ["timed out after 3.0 s waiting for the response"]),
    ("silence-udp", "udp", "silent", ["no answer to the UDP connect after 4 attempts in 3.0 s"]),
    ("failure-esc", "http", "failure", [r"go away \x1b[31mnow"]),
]
TRK_BOUND = TMO + 2.0
SWARM_EXPECT = {
    "silence-http": "the run over within -t 3 + 2 s: one announce timeout, no second "
                    "wait for a tracker that never answered",
    "silence-udp": "the run over within -t 3 + 2 s: one announce timeout, no second "
                   "wait for a tracker that never answered",
    "failure-esc": "the failure reason escaped once, as bt-announce shows it",
}


# ---- expectations: torrents ------------------------------------------------------

RULES = {
    "dotdot": "file path component '..' is not allowed",
    "dotdot-name": "file path component '..' is not allowed",
    "absolute-name": "file path component contains '/'",
    "absolute-path": "file path component contains '/'",
    "slash-component": "file path component contains '/'",
    "empty-component": "file path component is empty",
    "nul-component": "file path component contains a NUL byte",
    "piece-length-2^40": "piece length exceeds 1 GiB",
    "piece-length-0": "piece length must be positive",
    "files-over-cap": "too many files",
    "length-negative": "file length is negative",
    "length-2^62": "file length exceeds 2^60 bytes",
    "pieces-not-20": "pieces length is not a multiple of 20",
    "deep-nesting": "nesting deeper than",
    "string-100mb": "torrent is truncated",
}
# Names a careless tool would reach outside the output directory.
SENTINELS = {
    "dotdot": ["escape.bin"], "absolute-name": ["btkit-abs-evil"],
    "absolute-path": ["btkit-abs-evil"], "symlink-dir": ["secret.bin"],
}


def meta_bound(case):
    """No timeout to go by: reading a small torrent is instant, the 33 MB
    one takes about 2 s here (more with sanitizers on a loaded box)."""
    return 20.0 if case == "files-over-cap" else 5.0


ABS_TARGETS = ["/tmp/btkit-abs-evil-name", "/etc/btkit-abs-evil-path"]
assert set(RULES) | {"esc-name", "symlink-dir"} == set(T.CASES)


# ---- the suite -----------------------------------------------------------------

class Suite:
    def __init__(self, h):
        self.h = h
        self.results = {}          # name -> (ok, cell, why)
        self.lock = threading.Lock()
        self.only = re.compile(os.environ.get("HOSTILE_ONLY", ""))
        self.no_fetch = False
        self.later = []                      # timing-only failures, rerun at the end
        self.spawn_lock = threading.Lock()   # Harness.spawn's serial is not thread-safe

    def record(self, name, bad, cell):
        with self.lock:
            self.results[name] = (not bad, cell, "; ".join(bad))

    def wanted(self, name):
        if self.no_fetch and name.endswith("/bt-fetch"):
            return False
        return bool(self.only.search(name))

    # -- processes --

    def spawn_peer(self, scenario, torrent_path, data_path):
        """peer.py SCENARIO serving TORRENT_PATH from DATA_PATH: (Proc, "127.0.0.1:PORT")."""
        with self.spawn_lock:
            proc = self.h.spawn([H.PY, PEER_PY, "--scenario", scenario, "--torrent",
                                 torrent_path, "--data", data_path, "--lifetime",
                                 str(WHOLE_FILE_LIMIT + 60)], "peer-" + scenario)

        def listening():
            if not proc.alive():
                raise H.HarnessError("peer.py %s exited:\n%s" % (scenario, proc.log_tail()))
            with open(proc.log_path, "rb") as f:
                m = re.search(rb"^LISTEN (\d+)$", f.read(), re.M)
            return int(m.group(1)) if m else None
        port = H.wait_until(listening, 20, "peer.py %s listening" % scenario)
        return proc, "127.0.0.1:%d" % port

    # -- peers --

    def retried(self, name, once):
        """ONCE() -> (problems, cell, run).  A run whose only problem is its
        time is run once more after all the concurrent runs are over (this
        box is shared and the suite loads it: a sanitizer build starting
        under load can take seconds), and the second verdict stands; a
        crash, a hang, a wrong exit or message never gets a second chance."""
        bad, cell, r = once()
        if bad and any(b.startswith("took ") for b in bad) and all(
                b.startswith(("took ", "output: ", "expected ", "hostile peer's"))
                for b in bad):
            with self.lock:
                self.later.append((name, once, r.secs))
            return
        self.record(name, bad, cell)

    def rerun_late(self):
        for name, once, first in self.later:
            try:
                bad, cell, r = once()
            except Exception as ex:  # as in run(): a failure, not a crash
                self.record(name, ["%s: %s" % (type(ex).__name__, ex)], "error")
                continue
            R.note("%s: first run took %.1f s, past its bound; rerun alone: %.1f s%s" % (
                name, first, r.secs, "" if bad else ", ok"))
            self.record(name, bad, cell)

    def peer_handshake(self, sc, addr):
        e = HS[sc]

        def once():
            r = run_tool([tool("bt-handshake"), addr, "--torrent", self.t.path, "-D",
                          "--stay", "0", "-t", str(TMO)], e.bound)
            bad = judge(r, e)
            if bad:
                bad.append("output: " + r.tail())
            return bad, first_hit(e, r.text), r
        self.retried("peer/%s/bt-handshake" % sc, once)

    def peer_fetch(self, sc, addr, seeders):
        e = E({0}, FETCH[sc], bound=FETCH_BOUND, expect=FETCH_EXPECT.get(sc))
        text_mode = sc == "escapes"
        n = [0]

        def once():
            n[0] += 1
            out = self.h.path("fetch-%s-%d" % (sc, n[0]))
            seeder = seeders.get(timeout=120)
            try:
                argv = [tool("bt-fetch"), "-v" if text_mode else "--json", "-o", out,
                        "--no-trackers", "-t", str(TMO), "--stall", "2", "--idle", "8",
                        "--peer", addr, "--peer", seeder.addr(), self.t.path]
                r = run_tool(argv, FETCH_BOUND)
            finally:
                seeders.put(seeder)
            if text_mode:
                text = r.text
            else:
                recs = [x for x in r.records() if x.get("peer") == addr]
                summ = [x for x in r.records() if x.get("kind") == "summary"]
                for s in summ:
                    recs += [p for p in s.get("peers", []) if p.get("peer") == addr]
                text = "\n".join("%s %s %s" % (x.get("kind", "summary"), x.get("state", ""),
                                               x.get("why", "")) for x in recs)
                if not summ:
                    text += "\n(no summary)"
            bad = judge(r, e, text)
            if not r.killed and r.rc >= 0:
                diff = F.same_tree(self.c.save_path, out, self.c.files)
                if diff:
                    bad.append("downloaded file wrong: " + diff)
            if bad:
                bad.append("hostile peer's records: " + text.strip()[-500:])
                if text_mode:
                    bad.append("output: " + r.tail())
            cell = first_hit(e, text)
            return bad, ("tolerated; complete" if cell == DONE else cell), r
        self.retried("peer/%s/bt-fetch" % sc, once)

    # -- trackers --

    def tracker_announce(self, name, url, want):
        e = E({1}, want, [r"\\x"], bound=TRK_BOUND)

        def once():
            r = run_tool([tool("bt-announce"), "-t", str(TMO), "-i", self.t.info_hash_v1,
                          "-T", url], TRK_BOUND)
            bad = judge(r, e)
            if bad:
                bad.append("output: " + r.tail())
            return bad, first_hit(e, r.text), r
        self.retried("tracker/%s/bt-announce" % name, once)

    def tracker_swarm(self, name, url, want):
        path = os.path.join(self.h.path("swarm"), name + ".torrent")
        with open(path, "wb") as f:
            f.write(T.torrent(T.single(), announce=url))
        e = E({3}, want + ["no peer to probe"], [r"\\x"], bound=TRK_BOUND,
              expect=SWARM_EXPECT.get(name))

        def once():
            r = run_tool([tool("bt-handshake"), "--torrent", path, "-t", str(TMO)], TRK_BOUND)
            bad = judge(r, e)
            if bad:
                bad.append("output: " + r.tail())
            return bad, first_hit(e, r.text), r
        self.retried("tracker/%s/bt-handshake-swarm" % name, once)

    # -- torrents --

    def torrent_case(self, case):
        """Both tools on one hostile .torrent, each in its own sandbox:
        SANDBOX/out is the output directory, the rest of SANDBOX (and the
        absolute targets) must be left as it was."""
        base = self.h.path("torrent-" + case)
        tpath = os.path.join(base, case + ".torrent")
        self.generated()
        shutil.copyfile(os.path.join(self.gen_dir, case + ".torrent"), tpath)
        for tl in ("bt-meta", "bt-fetch"):
            name = "torrent/%s/%s" % (case, tl)
            if not self.wanted(name):
                continue
            box = os.path.join(base, tl)
            out = os.path.join(box, "out")
            os.makedirs(out)
            self.plant(case, box, out, tl)
            before = snapshot(box, skip=out)
            abs_before = [os.path.lexists(p) for p in ABS_TARGETS]
            if tl == "bt-meta":
                bad, cell = self.meta_run(case, tpath, out)
            else:
                bad, cell = self.fetch_run(case, tpath, out, box)
            after = snapshot(box, skip=out)
            if after != before:
                changed = sorted(set(before.items()) ^ set(after.items()))
                bad.append("changed outside the output directory: %r" % changed[:4])
            for p, was in zip(ABS_TARGETS, abs_before):
                if not was and os.path.lexists(p):
                    bad.append("created %s" % p)
                    try:
                        os.unlink(p)  # ours: it did not exist before the run
                    except OSError:
                        pass
            self.record(name, bad, cell)

    def generate(self):
        """torrents.py --all in its own process: the 33 MB case takes seconds
        of CPU, which in a thread here would hold the GIL and stretch the
        times measured for the runs going on meanwhile."""
        self.gen_dir = self.h.path("generated")
        self.gen = self.h.spawn([H.PY, "-B", os.path.join(ROOT, "tests", "hostile",
                                                          "torrents.py"),
                                 "--all", self.gen_dir], "torrents.py")

    def generated(self):
        rc = self.gen.popen.wait(timeout=120)
        if rc != 0:
            raise H.HarnessError("torrents.py --all exited %s:\n%s" % (rc, self.gen.log_tail()))

    def plant(self, case, box, out, tl):
        """Files a careless tool would find: a decoy where '..' leads, the
        data of the valid cases, the symlinked directory."""
        if case == "dotdot":
            # out/hostile/../../escape.bin is box/escape.bin
            with open(os.path.join(box, "escape.bin"), "wb") as f:
                f.write(T.content(1000))
        if case == "esc-name" and tl == "bt-meta":
            with open(os.path.join(out, self.esc_name()), "wb") as f:
                f.write(T.content(40000))
        if case == "symlink-dir":
            outside = os.path.join(box, "outside")
            os.makedirs(outside)
            top = os.path.join(out, "hostile")
            os.makedirs(top)
            for rel, b in T.multi_data(T.SYMLINK_FILES):
                if rel.startswith("inside/"):
                    # bt-meta: the right bytes, so following the link would
                    # verify "ok"; bt-fetch: zeros, which a write would change.
                    with open(os.path.join(outside, "secret.bin"), "wb") as f:
                        f.write(b if tl == "bt-meta" else bytes(len(b)))
                elif tl == "bt-meta":
                    with open(os.path.join(top, rel), "wb") as f:
                        f.write(b)
            os.symlink("../../outside", os.path.join(top, "inside"))

    @staticmethod
    def esc_name():
        return (b"evil\x1b[2J\x1b]52;c;aGk=\x07.bin").decode("latin-1")

    def meta_run(self, case, tpath, out):
        argv = [tool("bt-meta"), "--verify", tpath, out]
        env = {}
        log = None
        if STRACE and SENTINELS.get(case):
            log = tpath + ".strace"
            argv = [STRACE, "-f", "-qq", "-e", "trace=open,openat,openat2,creat",
                    "-e", "status=successful", "-o", log] + argv
            # LeakSanitizer cannot run under ptrace.
            env["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
        if case in RULES:
            e = E({3}, [RULES[case], tpath + ": ", "at offset"], bound=meta_bound(case))
        elif case == "esc-name":
            e = E({0}, [r"ok         evil\x1b[2J\x1b]52;c;aGk=\x07.bin", "pieces:        3 good"],
                  bound=5.0, cell="verified; name shown escaped")
        else:  # symlink-dir
            e = E({1}, ["unsafe     inside/secret.bin", "Too many levels of symbolic links"],
                  bound=5.0, cell="inside/secret.bin unsafe (O_NOFOLLOW)")
        r = run_tool(argv, e.bound, env=env)
        bad = judge(r, e)
        if log:
            with open(log, "rb") as f:
                for line in f.read().decode("utf-8", "replace").splitlines():
                    for s in SENTINELS[case]:
                        if s in line:
                            bad.append("opened outside: " + line.strip()[:200])
        elif SENTINELS.get(case):
            R.note("strace not found: %s not checked for reads outside" % case)
        if bad:
            bad.append("output: " + r.tail())
        return bad, first_hit(e, r.text)

    def fetch_run(self, case, tpath, out, box):
        peer = "127.0.0.1:1"        # nothing listens: a rejected torrent never gets there
        proc = None
        if case in ("esc-name", "symlink-dir"):
            dpath = os.path.join(self.h.path("torrent-" + case), "seed.bin")
            files = [((self.esc_name().encode("latin-1"),), 40000)] if case == "esc-name" \
                else T.SYMLINK_FILES
            with open(dpath, "wb") as f:
                f.write(b"".join(b for _, b in T.multi_data(files)))
            proc, peer = self.spawn_peer("honest", tpath, dpath)
        argv = [tool("bt-fetch"), "-o", out, "--no-trackers", "-t", "2", "--idle", "8",
                "--peer", peer, tpath]
        if case in RULES:
            e = E({2}, [RULES[case], tpath + ": ", "at offset"], bound=meta_bound(case))
        elif case == "esc-name":
            e = E({0}, ["result complete"], bound=FETCH_BOUND,
                  cell="complete; file written under its own name, inside")
        else:
            e = E({4}, ["cannot create inside/secret.bin", "symlink"], bound=FETCH_BOUND,
                  cell="exit 4: cannot create inside/secret.bin (symlink)")
        try:
            r = run_tool(argv, e.bound)
        finally:
            if proc:
                proc.stop()
        bad = judge(r, e)
        if case in RULES:
            left = [os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs]
            if left:
                bad.append("wrote %r" % left[:3])
        if case == "esc-name" and not bad:
            p = os.path.join(out, self.esc_name())
            if not os.path.isfile(p) or open(p, "rb").read() != T.content(40000):
                bad.append("file %r missing or wrong" % p)
        if bad:
            bad.append("output: " + r.tail())
        return bad, first_hit(e, r.text)

    # -- everything --

    def run(self):
        h = self.h
        self.generate()
        self.c = h.single_file(size=H.MiB + 12345)          # 17 pieces of 64 KiB
        self.t = h.torrent(self.c)                           # mktorrent, v1
        jobs, fetch_jobs = [], []
        peers = {}
        scen = [s for s in P.SCENARIOS if self.wanted("peer/%s/" % s)]
        for sc in scen:
            peers[sc] = self.spawn_peer(sc, self.t.path, self.c.path)[1]
        seeders = queue.Queue()
        if any(self.wanted("peer/%s/bt-fetch" % s) for s in scen):
            for _ in range(SEEDERS):
                seeders.put(F.slow_lt_seeder(h, self.t, SEEDER_RATE, WHOLE_FILE_LIMIT + 60))
        for sc in scen:
            if self.wanted("peer/%s/bt-fetch" % sc):
                fetch_jobs.append((self.peer_fetch, sc, peers[sc], seeders))
            if self.wanted("peer/%s/bt-handshake" % sc):
                jobs.append((self.peer_handshake, sc, peers[sc]))
        if any(self.wanted("tracker/%s/" % n) for n, _, _, _ in TRACKERS):
            bad = A.start_bad_tracker(h, lifetime=WHOLE_FILE_LIMIT + 60)
            for n, kind, mode, want in TRACKERS:
                url = bad.url(mode) if kind == "http" else bad.udp_url(mode)
                if self.wanted("tracker/%s/bt-announce" % n):
                    jobs.append((self.tracker_announce, n, url, want))
                if self.wanted("tracker/%s/bt-handshake-swarm" % n):
                    jobs.append((self.tracker_swarm, n, url, want))
        jobs += [(self.torrent_case, k) for k in T.CASES if self.wanted("torrent/%s/" % k)]
        t0 = time.monotonic()
        with cf.ThreadPoolExecutor(SEEDERS) as fx, cf.ThreadPoolExecutor(4) as ox:
            futs = [fx.submit(*j) for j in fetch_jobs] + [ox.submit(*j) for j in jobs]
            for fu, j in zip(futs, fetch_jobs + jobs):
                try:
                    fu.result()
                except Exception as ex:  # a broken job is a failure, not a crash
                    self.record("job/%s/%s" % (j[0].__name__, j[1]), [
                        "%s: %s" % (type(ex).__name__, ex)], "error")
        self.rerun_late()
        R.note("%d runs in %.1f s with tools from %s" % (
            sum(1 for v in self.results.values() if v[0] is not None),
                                                        time.monotonic() - t0, BIN))


def snapshot(root, skip):
    """{relative path: (kind, size, mtime_ns, link target)} below ROOT, not
    below SKIP."""
    snap = {}
    for d, dirs, files in os.walk(root):
        if os.path.abspath(d) == os.path.abspath(skip):
            dirs[:] = []
            continue
        for n in dirs + files:
            p = os.path.join(d, n)
            if os.path.abspath(p) == os.path.abspath(skip):
                continue
            st = os.lstat(p)
            link = os.readlink(p) if os.path.islink(p) else None
            snap[os.path.relpath(p, root)] = (st.st_mode >> 12, st.st_size, st.st_mtime_ns, link)
    return snap


# ---- output ----------------------------------------------------------------------

def order():
    names = []
    for sc in P.SCENARIOS:
        names += ["peer/%s/bt-handshake" % sc, "peer/%s/bt-fetch" % sc]
    for n, _, _, _ in TRACKERS:
        names += ["tracker/%s/bt-announce" % n, "tracker/%s/bt-handshake-swarm" % n]
    for k in T.CASES:
        names += ["torrent/%s/bt-meta" % k, "torrent/%s/bt-fetch" % k]
    return names


def report(results):
    for name in order() + sorted(set(results) - set(order())):
        if name not in results:
            continue
        ok, cell, why = results[name]
        if ok:
            R.ok(name)
        else:
            R.not_ok(name, why)


def md_cell(results, name):
    if name not in results:
        return "-"
    ok, cell, why = results[name]
    cell = cell.replace("|", "\\|")
    if ok:
        return "ok: `%s`" % cell if cell else "ok"
    why = why.split("; output:")[0].split("; hostile peer's records:")[0]
    return "**not ok**: %s" % why.replace("|", "\\|")[:300]


def markdown(results, path):
    L = []
    L.append("# Hostile inputs: scenario x tool -> outcome\n")
    L.append("Generated by `tests/integration/test_hostile.py --markdown docs/HOSTILE.md` "
             "(tools from `%s`); the findings below the tables are written by hand.\n"
             % os.path.relpath(BIN, ROOT))
    L.append("Every cell is one run on 127.0.0.1, checked for: no crash (no signal, no "
             "sanitizer report), no hang (bound: the tool's `-t 3` + 2 s; one more second "
             "where bt-handshake first waits 1 s for a bitfield; bt-fetch %d s), the exit "
             "status, a message naming the problem (the quoted text), no raw control bytes "
             "on stdout and no ESC/BEL on stderr. bt-fetch runs also end with the file "
             "byte-identical to the original, fetched next to an honest libtorrent seeder "
             "limited to %d KiB/s.\n" % (FETCH_BOUND, SEEDER_RATE // 1024))
    L.append("## Peers (`tests/hostile/peer.py`)\n")
    L.append("bt-handshake: `HOST:PORT --torrent T -D --stay 0 -t 3` (text). bt-fetch: "
             "`--json -o DIR --no-trackers -t 3 --stall 2 --idle 8 --peer HOSTILE --peer "
             "HONEST T` (escapes: `-v`, text); the quote is from the hostile peer's records.\n")
    L.append("| scenario | the peer | bt-handshake | bt-fetch |")
    L.append("|---|---|---|---|")
    for sc, what in P.SCENARIOS.items():
        L.append("| %s | %s | %s | %s |" % (sc, what.replace("|", "\\|"),
                                          md_cell(results, "peer/%s/bt-handshake" % sc),
                                          md_cell(results, "peer/%s/bt-fetch" % sc)))
    L.append("\n## Trackers (`tests/hostile/bad_tracker.py`)\n")
    L.append("bt-announce: `-t 3 -i HASH -T URL`. bt-handshake swarm mode: `--torrent T -t 3`, "
             "T's only tracker being URL.\n")
    L.append("| scenario | the tracker (mode) | bt-announce | bt-handshake (swarm) |")
    L.append("|---|---|---|---|")
    for n, kind, mode, _ in TRACKERS:
        L.append("| %s | %s `%s` | %s | %s |" % (n, kind, mode,
                                               md_cell(results, "tracker/%s/bt-announce" % n),
                                               md_cell(results, "tracker/%s/bt-handshake-swarm" % n)))
    L.append("\n## .torrent files (`tests/hostile/torrents.py`)\n")
    L.append("bt-meta: `--verify T DIR` (under strace where a careless reader would open "
             "something outside DIR). bt-fetch: `-o DIR --no-trackers -t 2 --peer P T`. "
             "Both: nothing outside DIR changes, nothing is created at an absolute path.\n")
    L.append("| case | the torrent | bt-meta | bt-fetch |")
    L.append("|---|---|---|---|")
    for k, c in T.CASES.items():
        L.append("| %s | %s | %s | %s |" % (k, c.what.replace("|", "\\|"),
                                          md_cell(results, "torrent/%s/bt-meta" % k),
                                          md_cell(results, "torrent/%s/bt-fetch" % k)))
    n_ok = sum(1 for v in results.values() if v[0])
    L.append("\n%d runs: %d ok, %d not ok.\n" % (len(results), n_ok, len(results) - n_ok))
    body = "\n".join(L) + "\n"
    # Keep the hand-written part (from the findings heading on) across runs.
    tail = ""
    if os.path.exists(path):
        old = open(path, encoding="utf-8").read()
        i = old.find("\n## Findings")
        if i >= 0:
            tail = old[i:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(body.rstrip("\n") + "\n\n" + tail.lstrip("\n") if tail else body)


def on_alarm(signum, frame):
    R.not_ok("time-limit", "test_hostile.py ran past %d s" % WHOLE_FILE_LIMIT)
    raise SystemExit(1)


def main():
    md = None
    if sys.argv[1:2] == ["--markdown"] and len(sys.argv) == 3:
        md = sys.argv[2]
    missing = [t for t in ("bt-handshake", "bt-announce", "bt-meta") if not os.access(tool(t), os.X_OK)]
    if missing:
        R.not_ok("tools", "missing in %s: %s" % (BIN, ", ".join(missing)))
        R.finish()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(WHOLE_FILE_LIMIT)
    with H.Harness("hostile") as h:
        s = Suite(h)
        have_fetch = os.access(tool("bt-fetch"), os.X_OK)
        if not have_fetch:
            for name in order():
                if name.endswith("/bt-fetch"):
                    s.results[name] = (None, "skip", "no bt-fetch in %s" % BIN)
            s.no_fetch = True
        s.run()
        results = dict(s.results)
    signal.alarm(0)
    skipped = {k: v for k, v in results.items() if v[0] is None}
    for k in order():
        if k in skipped:
            R.skip(k, skipped[k][2])
    report({k: v for k, v in results.items() if v[0] is not None})
    if md:
        markdown({k: v for k, v in results.items() if v[0] is not None}, md)
    R.finish()


if __name__ == "__main__":
    main()
