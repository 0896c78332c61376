#!/usr/bin/python3
"""bt-announce against opentracker, a libtorrent seeder and a misbehaving
tracker (tests/hostile/bad_tracker.py), all on 127.0.0.1.

Prints "ok NAME", "not ok NAME: why", "skip NAME (why)" and '#' notes;
exits 0 only if nothing failed.  Bounded by an alarm; every process it
starts is stopped by PID (harness.py) before it exits.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import harness as H  # noqa: E402
import announce_helpers as A  # noqa: E402

WHOLE_FILE_LIMIT = 150  # seconds; normally ~30
failed = []
OTHER = "11" * 20  # a hash nobody whitelisted

# Keys every --json record has, whatever happened (stable for jq).
COMMON_KEYS = {"kind", "url", "source", "tier", "protocol", "ok", "error_kind", "error",
               "http_status", "timing"}
TIMING_KEYS = {"total_ms", "dns_ms", "connect_ms", "tls_ms", "first_byte_ms",
               "udp_connect_ms", "udp_request_ms", "retries", "conn_id_reused",
               "tcp_reused", "redirects"}
ANNOUNCE_KEYS = COMMON_KEYS | {"info_hash", "interval", "min_interval", "seeders",
                               "leechers", "completed", "npeers", "npeers6",
                               "peers_form", "peers"}


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


def on_alarm(signum, frame):
    not_ok("time-limit", "test_announce.py ran past %d s" % WHOLE_FILE_LIMIT)
    raise SystemExit(1)


def expect(cond, what, r=None):
    if not cond:
        raise AssertionError(what + ("" if r is None else "\n%r" % (r,)))


def one(r, rc=0):
    """The single JSON record of a run, after checking exit status."""
    expect(r.rc == rc, "exit %s, expected %s" % (r.rc, rc), r)
    expect(not r.bad_json, "invalid JSON lines: %r" % r.bad_json)
    expect(len(r.records) == 1, "%d records, expected 1" % len(r.records), r)
    return r.records[0]


def addrs(rec):
    return sorted(p["addr"] for p in rec["peers"])


def expect_error(r, url, kind, msg, rc=1):
    """Exit status, error kind, the exact one-line message on stderr and in
    the JSON record."""
    rec = one(r, rc)
    expect(rec["ok"] is False and rec["error_kind"] == kind,
           "error_kind %r, expected %r" % (rec["error_kind"], kind), r)
    expect(rec["error"] == msg, "error %r, expected %r" % (rec["error"], msg), r)
    line = "bt-announce: %s: %s" % (url, msg)
    expect(line in r.err.splitlines(), "stderr lacks %r" % line, r)
    expect(COMMON_KEYS <= set(rec), "missing keys %s" % (COMMON_KEYS - set(rec)))
    return rec


# ---- slice 1 and 2: opentracker over HTTP and UDP ---------------------------

def t_announce_peers(env, url, proto):
    s = env["seeder"]
    r = A.run(["--json", "-i", env["hash"], "-T", url, "--port", "29001", "--left", "5",
               "-t", "5"])
    rec = one(r)
    expect(rec["protocol"] == proto and rec["ok"], "protocol/ok", rec)
    expect(ANNOUNCE_KEYS <= set(rec), "missing keys %s" % (ANNOUNCE_KEYS - set(rec)))
    expect(TIMING_KEYS == set(rec["timing"]), "timing keys %s" % set(rec["timing"]))
    want = "127.0.0.1:%d" % s.port
    expect(want in addrs(rec), "seeder %s not among %s" % (want, addrs(rec)))
    expect("127.0.0.1:29001" in addrs(rec), "our own announce not listed (opentracker "
           "lists the announcing peer)", rec)
    expect(rec["seeders"] >= 1, "no seeder counted", rec)
    expect(rec["interval"] > 0, "no interval", rec)
    tm = rec["timing"]
    if proto == "http":
        expect(rec["http_status"] == 200 and tm["connect_ms"] is not None and
               tm["first_byte_ms"] is not None, "http timings", tm)
    else:
        expect(tm["udp_connect_ms"] is not None and tm["udp_request_ms"] is not None and
               tm["retries"] == 0, "udp timings", tm)
    env.setdefault("latency", {})[proto] = tm["total_ms"]
    note("%s announce to opentracker: %.3f ms total (%s)" % (proto, tm["total_ms"], tm))


def t_scrape_counts(env, url, proto):
    # Two leechers of our own next to the seeder, then the counts must be
    # what opentracker itself says.
    tag = proto[:1]
    for i in range(2):
        A.run(["-i", env["hash"], "-T", env["http"], "--port", str(29100 + i), "--left", "9",
               "--peer-id", "-BK0100-scr%s%08d" % (tag, i)])
    r = A.run(["--json", "-s", "-i", env["hash"], "-i", OTHER, "-T", url])
    rec = one(r)
    files = {f["info_hash"]: f for f in rec["files"]}
    d = H.http_scrape(env["http"], [bytes.fromhex(env["hash"])])
    theirs = d[b"files"][bytes.fromhex(env["hash"])]
    mine = files.get(env["hash"])
    expect(mine is not None, "our hash missing from scrape", rec)
    got = (mine["seeders"], mine["leechers"])
    want = (theirs[b"complete"], theirs[b"incomplete"])
    expect(got == want, "scrape %s, opentracker says %s" % (got, want))
    expect(mine["seeders"] >= 1 and mine["leechers"] >= 2, "counts too low", mine)
    for i in range(2):  # withdraw
        A.run(["-i", env["hash"], "-T", env["http"], "--port", str(29100 + i), "-e", "stopped",
               "--peer-id", "-BK0100-scr%s%08d" % (tag, i)])


def t_stopped(env, url, proto):
    pid = "-BK0100-stop%s0000000" % proto[0]
    port = 29200 if proto == "http" else 29201
    base = ["--json", "-i", env["hash"], "-T", url, "--port", str(port), "--peer-id", pid,
            "--left", "3"]
    one(A.run(base + ["-e", "started"]))
    before = env["tracker"].peers(bytes.fromhex(env["hash"]))
    expect(("127.0.0.1", port) in before, "started peer not registered", before)
    rec = one(A.run(base + ["-e", "stopped"]))
    expect(rec["ok"], "stopped failed", rec)
    after = env["tracker"].peers(bytes.fromhex(env["hash"]))
    expect(("127.0.0.1", port) not in after, "stopped peer still listed", after)


def t_numwant(env, url, proto):
    # (opentracker lists no peers in its answer to event=stopped.)
    pid = "-BK0100-numwant%s0000" % proto[0]
    for nw in (0, 2, 3):
        rec = one(A.run(["--json", "-i", env["hash"], "-T", url, "-n", nw, "--port", "29300",
                         "--left", "1", "--peer-id", pid]))
        expect(rec["npeers"] <= nw and len(rec["peers"]) == rec["npeers"],
               "numwant %d gave %d peers" % (nw, rec["npeers"]), rec)
        if nw and env["registered"] >= nw:
            expect(rec["npeers"] == nw, "numwant %d gave %d peers with %d registered" % (
                nw, rec["npeers"], env["registered"]), rec)
    one(A.run(["--json", "-i", env["hash"], "-T", url, "--port", "29300", "--peer-id", pid,
               "-e", "stopped"]))


def t_udp_conn_reuse(env):
    # Three hashes, one tracker: one connect, shared by the two others.
    r = A.run(["--json", "-i", env["hash"], "-i", OTHER, "-i", "22" * 20, "-T", env["udp"]])
    expect(len(r.records) == 3, "3 records", r)
    reused = sorted(x["timing"]["conn_id_reused"] for x in r.records)
    expect(reused == [False, True, True], "conn_id_reused %s" % reused, r)
    # Serially (-j 1) as well.
    r = A.run(["--json", "-j", "1", "-i", env["hash"], "-i", "22" * 20, "-T", env["udp"]])
    reused = [x["timing"]["conn_id_reused"] for x in r.records]
    expect(reused == [False, True], "serial conn_id_reused %s" % reused, r)


def t_udp_unlisted(env):
    # opentracker answers a UDP announce of a hash not on its whitelist
    # with just the 8-byte header: the tool says so, raw bytes with -v.
    r = A.run(["-v", "-i", OTHER, "-T", env["udp"]])
    expect(r.rc == 1, "exit %d" % r.rc, r)
    expect("announce response shorter than 20 bytes (got 8 bytes)" in r.err, "message", r)
    expect("last packet received (8 bytes)" in r.err, "-v dump", r)
    r = A.run(["-i", OTHER, "-T", env["http"]])
    expect(r.rc == 1 and "failure reason: Requested download is not authorized" in r.err,
           "http failure reason", r)


def t_params_exact(env):
    bad = env["bad"]
    url = bad.url("echo")
    pid = "-XX0001-abcdefghijkl"
    r = A.run(["--json", "-i", "ff" * 20, "-T", url, "-p", "5555", "--uploaded", "1",
               "--downloaded", "2", "--left", "3", "-e", "completed", "-n", "7",
               "--peer-id", pid, "--key", "0badc0de", "--ip", "127.0.0.5",
               "--trackerid", "t&i d"])
    one(r)
    got = bad.last_request().decode()
    want = ("GET /echo/announce?info_hash=" + "%FF" * 20 + "&peer_id=" + pid +
            "&port=5555&uploaded=1&downloaded=2&left=3&event=completed&numwant=7&compact=1"
            "&key=0badc0de&ip=127.0.0.5&trackerid=t%26i%20d HTTP/1.1")
    expect(got == want, "request line\n got  %s\n want %s" % (got, want))
    # Defaults: a btkit peer id, port 6881, no event, no numwant.
    one(A.run(["--json", "-i", "ff" * 20, "-T", url]))
    got = bad.last_request().decode()
    expect(re.match(r"GET /echo/announce\?info_hash=(%FF){20}&peer_id=-BK0100-[0-9A-Za-z]{12}"
                    r"&port=6881&uploaded=0&downloaded=0&left=0&compact=1&key=[0-9a-f]{8} "
                    r"HTTP/1\.1$", got), "default request line %s" % got)


def t_udp_params_exact(env):
    bad = env["bad"]
    pid = b"-XX0001-abcdefghijkl"
    one(A.run(["--json", "-i", "ee" * 20, "-T", bad.udp_url("ok"), "-p", "5555", "--uploaded", "1",
               "--downloaded", "2", "--left", "3", "-e", "started", "-n", "7",
               "--peer-id", pid.decode(), "--key", "0badc0de", "--ip", "127.0.0.5"]))
    pkt = bad.last_udp_announce()
    import struct
    expect(len(pkt) == 98 + 2 + len("/ok/announce"), "length %d" % len(pkt))
    cid, action, _tid = struct.unpack(">QII", pkt[:16])
    expect(cid == 0x1234567890 and action == 1, "connection id / action")
    expect(pkt[16:36] == b"\xee" * 20 and pkt[36:56] == pid, "hash / peer id")
    dl, left, ul, ev, ip, key, nw, port = struct.unpack(">QQQIIIiH", pkt[56:98])
    expect((dl, left, ul, ev, ip, key, nw, port) ==
           (2, 3, 1, 2, 0x7f000005, 0x0badc0de, 7, 5555),
           "fields %s" % ((dl, left, ul, ev, ip, key, nw, port),))
    expect(pkt[98:] == b"\x02\x0c/ok/announce", "BEP 41 URLData %r" % pkt[98:])


# ---- slice 3: the misbehaving tracker ---------------------------------------

def http_cases(bad):
    u = bad.url
    return [
        ("http-bad-bencode", u("badbencode"), "body",
         "bad announce response: unexpected byte in integer at offset 14"),
        ("http-odd-peers", u("odd"), "body",
         'bad announce response: compact "peers" length is not a multiple of 6 at offset 24 '
         '(got 7)'),
        ("http-odd-peers6", u("odd6"), "body",
         'bad announce response: "peers6" length is not a multiple of 18 at offset 34 (got 17)'),
        ("http-500", u("500"), "http",
         'HTTP/1.1 500 Internal Server Error: "internal error\\x0a"'),
        ("http-400-failure", u("400fail"), "http",
         "HTTP/1.1 400 Bad Request: failure reason: unregistered torrent"),
        ("http-failure-escaped", u("failure"), "failure",
         "failure reason: go away \\x1b[31mnow"),
        ("http-html", u("html"), "body",
         "bad announce response: not bencode: body looks like HTML at offset 0"),
        ("http-empty", u("empty"), "body",
         "bad announce response: not bencode: empty body at offset 0"),
        ("http-no-reply", u("close"), "http",
         "empty reply: the tracker closed the connection without a response"),
        ("http-10mb", u("big"), "too-big", "body larger than 8388608 bytes (Content-Length)"),
        ("http-10mb-no-length", u("bignolen"), "too-big", "body larger than 8388608 bytes"),
        ("http-redirect-loop", u("redirect"), "redirect", "too many redirects (more than 5)"),
        ("http-redirect-udp", u("redirectudp"), "redirect",
         "redirect refused: The redirect target URL could not be parsed: "
         "Unsupported URL scheme"),
        ("url-unknown-scheme", "wss://127.0.0.1/announce", "argument",
         "bad tracker URL: unsupported scheme (not http, https or udp)"),
        ("url-malformed", "http://127.0.0.1:99999/announce", "argument",
         "bad tracker URL: port out of range (1..65535) at offset 17"),
        ("url-udp-no-port", "udp://127.0.0.1/announce", "argument",
         "bad tracker URL: udp URL needs a port at offset 15"),
        ("url-cannot-scrape", "http://127.0.0.1:9/x.php", "argument",
         'cannot scrape: last path component does not start with "announce"'),
    ]


def udp_cases(bad):
    u = bad.udp_url
    return [
        ("udp-wrong-tid", u("wrongtid"), "packet",
         re.compile(r"bad UDP connect response: transaction id 0x([0-9a-f]{8}) differs from "
                    r"the one sent \(0x([0-9a-f]{8})\)$")),
        ("udp-short", u("short"), "packet",
         "bad UDP connect response: connect response shorter than 16 bytes (got 12 bytes)"),
        ("udp-wrong-action", u("wrongaction"), "packet",
         "bad UDP connect response: unexpected action 1"),
        ("udp-error-packet", u("error"), "failure", "tracker error: no such torrent \\x1b[0m"),
        ("udp-odd-peers", u("odd"), "packet",
         "bad UDP announce response: peer list length is not a multiple of 6 (got 7)"),
    ]


def t_bad_case(env, url, kind, msg, scrape=False):
    args = ["--json", "-i", "ab" * 20, "-T", url, "-t", "10"] + (["-s"] if scrape else [])
    r = A.run(args)
    if isinstance(msg, str):
        expect_error(r, url, kind, msg)
    else:
        rec = one(r, 1)
        m = msg.match(rec["error"] or "")
        expect(rec["error_kind"] == kind and m, "error %r" % rec["error"], r)
        expect(int(m.group(1), 16) == (int(m.group(2), 16) + 1) & 0xffffffff,
               "ids not off by one", rec)
    expect(r.secs < 5, "took %.1f s" % r.secs)


def t_hang(env):
    url = env["bad"].url("hang")
    r = A.run(["--json", "-i", "ab" * 20, "-T", url, "-t", "1"])
    expect_error(r, url, "timeout", "timed out after 1.0 s waiting for the response")
    expect(0.9 < r.secs < 3, "took %.2f s" % r.secs)


def t_udp_silent(env):
    url = env["bad"].udp_url("silent")
    r = A.run(["--json", "-i", "ab" * 20, "-T", url, "-t", "1", "--retries", "2"])
    rec = expect_error(r, url, "timeout", "no answer to the UDP connect after 3 attempts in 1.0 s")
    expect(rec["timing"]["retries"] == 2, "retries %s" % rec["timing"]["retries"])
    expect(0.9 < r.secs < 3, "took %.2f s" % r.secs)


def t_udp_retry(env):
    # The tracker drops the first packet of every socket: one
    # retransmission after timeout / (2^(retries+1) - 1) = 3 / 7 s.
    r = A.run(["--json", "-i", "ab" * 20, "-T", env["bad"].udp_url("dropfirst"), "-t", "3",
               "--retries", "2"])
    rec = one(r)
    expect(rec["timing"]["retries"] == 1, "retries %s" % rec["timing"]["retries"], rec)
    expect(0.4 <= rec["timing"]["total_ms"] / 1000 < 1.0, "total %s ms" % rec["timing"]["total_ms"])


def t_udp_dup_connect(env):
    rec = one(A.run(["--json", "-i", "ab" * 20, "-T", env["bad"].udp_url("dupconnect")]))
    expect(rec["ok"] and rec["npeers"] == 2, "a duplicate connect answer broke it", rec)


def t_udp_refused(env):
    port = H.free_port(udp=True)
    url = "udp://127.0.0.1:%d/announce" % port
    expect_error(A.run(["--json", "-i", "ab" * 20, "-T", url]), url, "connect",
                 "UDP port unreachable (ICMP: connection refused)")


def t_dict_peers(env):
    rec = one(A.run(["--json", "--no-compact", "-i", "ab" * 20, "-T", env["bad"].url("dict")]))
    expect(rec["peers_form"] == "dict" and rec["npeers6"] == 1, "form", rec)
    expect(rec["warning"] == "be nice" and rec["tracker_id"] == "tid-42" and
           rec["external_ip"] == "127.0.0.9" and rec["min_interval"] == 600, "fields", rec)
    got = [(p["addr"], p.get("client")) for p in rec["peers"]]
    want = [("127.0.0.3:51413", "Transmission 3.00"),
            ("127.0.0.4:6881", "libtorrent (Rasterbar) 2.0.8.0"),
            ("[::1]:6999", "aria2 1.36.0"), ("[::1]:7000", None)]
    expect(got == want, "peers %s" % got)
    r = A.run(["-i", "ab" * 20, "-T", env["bad"].url("dict")])
    expect("  127.0.0.3:51413 peer_id '-TR3000-abcdefghijkl' (Transmission 3.00)" in
           r.out.splitlines(), "text peer line", r)


def t_udp6(env):
    bad = env["bad"]
    if not bad.udp6:
        return "no ::1"
    rec = one(A.run(["--json", "-i", "ab" * 20, "-T", "udp://[::1]:%d/announce" % bad.udp6]))
    expect(addrs(rec) == ["[::1]:6881"] and rec["npeers6"] == 1, "18-byte peers", rec)


def t_udp_hostname(env):
    rec = one(A.run(["--json", "-i", "ab" * 20, "-T",
                     "udp://localhost:%d/ok/announce" % env["bad"].udp["ok"]]))
    expect(rec["ok"] and rec["timing"]["dns_ms"] is not None, "dns timing", rec)


def t_gzip_redirect(env):
    rec = one(A.run(["--json", "-i", "ab" * 20, "-T", env["bad"].url("gzip")]))
    expect(rec["npeers"] == 2, "gzip body", rec)
    rec = one(A.run(["--json", "-i", "ab" * 20, "-T", env["bad"].url("redirect1")]))
    expect(rec["npeers"] == 2 and rec["timing"]["redirects"] == 1, "one redirect", rec)


def t_verbose_raw(env):
    url = env["bad"].url("odd")
    r = A.run(["-v", "-i", "ab" * 20, "-T", url])
    expect(r.rc == 1, "exit", r)
    expect("  response body (34 bytes):" in r.err and
           "  00000000  64 38 3a 69 6e 74 65 72  76 61 6c 69 31 38 30 30  |d8:intervali1800|"
           in r.err, "hex dump", r)
    expect("  < HTTP/1.1 200 OK" in r.err and "request URL: " + url + "?info_hash=" in r.err,
           "headers / request URL", r)
    r = A.run(["-v", "-i", "ab" * 20, "-T", env["bad"].udp_url("short")])
    expect("last packet sent (16 bytes)" in r.err and "last packet received (12 bytes)" in r.err,
           "udp dump", r)


def t_scrape_bad(env):
    bad = env["bad"]
    r = A.run(["--json", "-s", "-i", "ab" * 20, "-i", "cd" * 20, "-T", bad.url("ok")])
    rec = one(r)
    expect(rec["nfiles"] == 2 and {f["seeders"] for f in rec["files"]} == {5}, "http", rec)
    rec = one(A.run(["--json", "-s", "-i", "ab" * 20, "-T", bad.udp_url("ok")]))
    expect(rec["files"][0]["seeders"] == 5 and rec["files"][0]["leechers"] == 6, "udp", rec)
    rec = one(A.run(["--json", "-s", "-i", "ab" * 20, "-T", bad.url("html")]), 1)
    expect(rec["error_kind"] == "body" and rec["error"] ==
           "bad scrape response: not bencode: body looks like HTML at offset 0", "html", rec)
    rec = one(A.run(["--json", "-s", "-i", "ab" * 20, "-T", bad.udp_url("error")]), 1)
    expect(rec["error_kind"] == "failure" and rec["failure"] == "no such torrent \x1b[0m",
           "udp scrape error", rec)


# ---- slice 4: HTTPS ---------------------------------------------------------

def t_https(env):
    tls = env["tls"]
    url = "https://127.0.0.1:%d/announce" % tls.https
    base = ["--json", "-i", env["hash"], "-T", url, "--port", "29400", "--left", "1",
            "--peer-id", "-BK0100-https0000000"]
    rec = one(A.run(base + ["--cacert", env["cert"]]))
    expect(rec["protocol"] == "https" and rec["timing"]["tls_ms"] is not None, "tls", rec)
    expect("127.0.0.1:%d" % env["seeder"].port in addrs(rec), "seeder via TLS proxy", rec)
    note("https announce: %.3f ms (tls %.3f ms)" % (rec["timing"]["total_ms"],
                                                     rec["timing"]["tls_ms"]))
    r = A.run(base)
    rec = one(r, 1)
    expect(rec["error_kind"] == "tls" and rec["error"].startswith("TLS certificate rejected: "),
           "rejected", r)
    expect("(trust its CA with --cacert FILE, or skip the check with --insecure)" in r.err,
           "hint", r)
    rec = one(A.run(base + ["-k", "-e", "stopped"]))
    expect(rec["ok"], "--insecure", rec)


# ---- slice 5: batch, --all, tiers, targets ----------------------------------

def t_batch(env):
    bad = env["bad"]
    lines = ["# comment", "",
             "%s %s" % (env["http"], env["hash"]),
             "%s %s" % (env["udp"], env["hash"]),
             "  %s   %s  " % (bad.url("ok"), "ab" * 20),
             "%s %s" % (bad.url("500"), "ab" * 20),
             "not-a-line-with hash",
             env["torrent"].path]
    path = os.path.join(env["h"].dir, "batch.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = A.run(["--json", "-b", path, "-j", "2"])
    expect(r.rc == 1, "exit %d" % r.rc, r)
    expect(len(r.records) == 5, "%d records" % len(r.records), r)
    sources = sorted(x["source"] for x in r.records)
    expect(sources == ["%s:%d" % (path, n) for n in (3, 4, 5, 6, 8)], "sources %s" % sources)
    expect(sum(x["ok"] for x in r.records) == 4, "4 ok", r)
    expect("%s:7: want \"TRACKER-URL INFO-HASH\" (40 hex digits)" % path in r.err, "bad line", r)
    for x in r.records:
        expect(ANNOUNCE_KEYS <= set(x) or not x["ok"], "keys of %s" % x["url"])
    # stdin
    r = A.run(["--json", "-b", "-"], stdin="%s %s\n%s %s\n" % (
        env["udp"], env["hash"], env["http"], env["hash"]))
    expect(r.rc == 0 and len(r.records) == 2, "stdin batch", r)


def t_batch_slow_writer(env):
    # A silent tracker's record (-t 1) must come out while the writer is
    # still quiet: the batch is read through the loop, never blocking it.
    import select
    argv = [A.tool_path(), "--json", "-b", "-", "-t", "1", "--retries", "0"]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        p.stdin.write(("%s %s\n" % (env["bad"].udp_url("silent"), env["hash"])).encode())
        p.stdin.flush()
        ready, _, _ = select.select([p.stdout], [], [], 4.0)
        took = time.monotonic() - t0
        expect(ready, "no record within 4 s while stdin stayed open")
        line = p.stdout.readline().decode()
        expect('"error_kind":"timeout"' in line and 0.9 < took < 2.0,
               "record after %.2f s: %s" % (took, line))
        p.stdin.close()
        p.wait(timeout=5)
        expect(p.returncode == 1, "exit %s" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)


def t_batch_concurrent(env):
    # 20 lines, a fifth of them silent: with -j 20 the batch takes about
    # one timeout, not four.
    bad = env["bad"]
    lines = []
    for i in range(20):
        url = bad.udp_url("silent") if i % 5 == 0 else env["udp"]
        lines.append("%s %s" % (url, env["hash"]))
    r = A.run(["--json", "-b", "-", "-j", "20", "-t", "1", "--retries", "1"],
              stdin="\n".join(lines) + "\n")
    expect(r.rc == 1 and len(r.records) == 20, "records", r)
    expect(sum(not x["ok"] for x in r.records) == 4, "4 timeouts", r)
    expect(r.secs < 2.0, "batch took %.2f s (timeouts ran one after another?)" % r.secs)
    note("batch of 20 UDP probes, 4 silent, -t 1: %.2f s" % r.secs)


def t_all_and_tiers(env):
    h = env["h"]
    bad = env["bad"]
    hang = bad.url("hang")
    dead = "udp://127.0.0.1:%d/announce" % H.free_port(udp=True)
    c = env["content"]
    t = h.torrent(c, extra_trackers=[hang, env["udp"], dead])
    # --all: every tracker at once; the hang costs one timeout.
    r = A.run(["--json", "--all", "-t", "1", t.path])
    expect(r.rc == 1 and len(r.records) == 4, "4 records", r)
    by = {x["url"]: x for x in r.records}
    expect(by[env["http"]]["ok"] and by[env["udp"]]["ok"], "working trackers", r)
    expect(by[hang]["error_kind"] == "timeout" and by[dead]["error_kind"] == "connect", "dead", r)
    expect(sorted(x["tier"] for x in r.records) == [0, 1, 2, 3], "tiers", r)
    expect(r.secs < 2.5, "--all took %.2f s" % r.secs)
    # In order (BEP 12): the first tracker answers, nothing else is asked.
    r = A.run(["--json", "-t", "1", t.path])
    expect(r.rc == 0 and [x["url"] for x in r.records] == [env["http"]], "ordered", r)
    # Dead trackers first (-T replaces the torrent's): each is tried, in
    # order, until one answers.
    r = A.run(["--json", "-t", "1", "-T", dead, "-T", env["udp"], "-T", env["http"], t.path])
    expect([x["url"] for x in r.records] == [dead, env["udp"]], "fallback order", r)
    expect(r.rc == 1, "a failed tracker makes exit 1", r)


def t_magnet(env):
    m = "magnet:?xt=urn:btih:%s&dn=x&tr=%s" % (env["hash"], env["udp"].replace(":", "%3A")
                                               .replace("/", "%2F"))
    rec = one(A.run(["--json", "-e", "stopped", m]))
    expect(rec["url"] == env["udp"] and rec["info_hash"] == env["hash"], "magnet", rec)


def t_usage(env):
    r = A.run(["--help"])
    expect(r.rc == 0 and r.out.startswith("usage: bt-announce") and not r.err, "--help", r)
    for args, rc in ((["-i", "xyz", "-T", env["http"]], 2), ([], 2),
                     (["-i", env["hash"]], 2), (["-e", "bogus", env["torrent"].path], 2),
                     (["--retries", "9", env["torrent"].path], 2), (["--bogus"], 2),
                     (["-t", "0", env["torrent"].path], 2),
                     (["/nonexistent.torrent"], 3)):
        r = A.run(args)
        expect(r.rc == rc, "%s: exit %d, expected %d" % (args, r.rc, rc), r)
        expect(not r.out, "%s: stdout %r" % (args, r.out))
    r = A.run([env["torrent"].path, "-T", "http://127.0.0.1:9/announce", "--bogus-opt"])
    expect(r.rc == 2 and "usage:" in r.err, "usage on stderr", r)


def t_text_output(env):
    r = A.run(["-i", env["hash"], "-T", env["udp"], "-e", "stopped"])
    lines = r.out.splitlines()
    expect(r.rc == 0 and lines and lines[0].startswith("announce " + env["udp"] + " interval "),
           "text head", r)
    expect(" info_hash %s " % env["hash"] in lines[0] and " total " in lines[0] and
           " connect_rtt " in lines[0], "text fields", r)


# ---------------------------------------------------------------------------

def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(WHOLE_FILE_LIMIT)
    t0 = time.monotonic()
    if not os.access(A.tool_path(), os.X_OK):
        not_ok("bt-announce-built", "%s missing (BTKIT_BIN?)" % A.tool_path())
        return 1
    with H.Harness("announce") as h:
        env = {"h": h}
        c = h.single_file(size=300000, seed="announce")
        t = h.torrent(c)
        tr = h.start_tracker()
        env.update(content=c, torrent=t, tracker=tr, hash=t.info_hash_v1,
                   http=tr.announce_url, udp=tr.udp_url)
        s = h.lt_seeder(t)
        env["seeder"] = s
        # The seeder announces itself; wait until opentracker lists it.
        H.wait_until(lambda: ("127.0.0.1", s.port) in tr.peers(t.handshake_hash), 20,
                     "the seeder in opentracker")
        for i in range(3):
            H.http_announce(tr.announce_url, t.handshake_hash, port=29500 + i, left=1,
                            peer_id=H.make_peer_id("fill%d" % i))
        env["registered"] = len(tr.peers(t.handshake_hash)) + 1
        env["bad"] = A.start_bad_tracker(h)
        tmp = h.path("tls")
        try:
            env["cert"], key = A.make_cert(tmp)
            env["tls"] = A.start_bad_tracker(h, tls=(env["cert"], key), upstream=tr.announce_url)
        except (subprocess.SubprocessError, OSError, H.HarnessError) as e:
            env["tls"] = None
            note("no TLS front: %s" % e)
        note("setup %.1f s" % (time.monotonic() - t0))

        for proto in ("http", "udp"):
            url = env[proto]
            check("%s-announce-peers" % proto, t_announce_peers, env, url, proto)
            check("%s-scrape-counts" % proto, t_scrape_counts, env, url, proto)
            check("%s-stopped-removes-peer" % proto, t_stopped, env, url, proto)
            check("%s-numwant" % proto, t_numwant, env, url, proto)
        check("udp-conn-id-reuse", t_udp_conn_reuse, env)
        check("udp-opentracker-unlisted-hash", t_udp_unlisted, env)
        check("http-params-exact", t_params_exact, env)
        check("udp-params-exact", t_udp_params_exact, env)

        for name, url, kind, msg in http_cases(env["bad"]):
            check(name, t_bad_case, env, url, kind, msg, name == "url-cannot-scrape")
        for name, url, kind, msg in udp_cases(env["bad"]):
            check(name, t_bad_case, env, url, kind, msg)
        check("http-hang-timeout", t_hang, env)
        check("udp-silent-timeout", t_udp_silent, env)
        check("udp-retransmit", t_udp_retry, env)
        check("udp-late-duplicate-ignored", t_udp_dup_connect, env)
        check("udp-port-unreachable", t_udp_refused, env)
        check("http-dict-peers-clients", t_dict_peers, env)
        if env["bad"].udp6:
            check("udp6-peers", t_udp6, env)
        else:
            skip("udp6-peers", "no ::1")
        check("udp-hostname", t_udp_hostname, env)
        check("http-gzip-redirect", t_gzip_redirect, env)
        check("verbose-raw-bytes", t_verbose_raw, env)
        check("scrape-bad-tracker", t_scrape_bad, env)

        if env["tls"]:
            check("https-cacert-rejected-insecure", t_https, env)
        else:
            skip("https-cacert-rejected-insecure", "no TLS front")

        check("batch", t_batch, env)
        check("batch-concurrent-timeouts", t_batch_concurrent, env)
        check("batch-slow-writer", t_batch_slow_writer, env)
        check("all-and-tiers", t_all_and_tiers, env)
        check("magnet", t_magnet, env)
        check("usage-and-exit-codes", t_usage, env)
        check("text-output", t_text_output, env)
        check("processes-loopback-only", lambda: not H.foreign_sockets(h.live_pids())
              or "non-loopback sockets: %s" % H.foreign_sockets(h.live_pids()))
    note("whole file %.1f s" % (time.monotonic() - t0))
    signal.alarm(0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
