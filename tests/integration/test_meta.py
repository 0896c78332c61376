#!/usr/bin/python3
"""bt-meta against libtorrent's reading of real torrents.

Torrents are made by mktorrent (v1), libtorrent (v1, v2, hybrid) and
transmission-create (v1), single-file and multi-file (nested dirs, an empty
file), plus one with private, comment, two tracker tiers and a url-list.

`bt-meta --json FILE` is compared with libtorrent (harness.lt_view) on:
name, version, info_hash_v1/v2 (hex or null), piece_length, piece_count
(== num_pieces()), total_size (non-pad bytes), private, files (path and
size, pad files excluded; path below the torrent directory for multi-file
torrents, the name for single-file ones), pad_files, trackers (tiers),
url_list, created_by, creation_date, comment, and the magnet's xt and dn.

`bt-meta --verify --json FILE DIR` (DIR holds what libtorrent calls the
save path: DIR/name is the file or top directory).  Keys read here, as
tools/bt-meta.c prints them:
    ok (bool), piece_count, good, missing, corrupt (piece counts),
    missing_pieces, corrupt_pieces: lists of inclusive [first, last] ranges,
    files: [{path, status ("ok"|"missing"|"corrupt"|"incomplete"|...),
             size, good, missing, corrupt}]  (pad files excluded)
Exit status 0 when every piece is good, 1 when some are missing or corrupt.
The damage test overwrites bytes inside exactly pieces 1 and 3 (both inside
the first, multi-piece file) and deletes one file; the expected verdicts
are computed from the layout and cross-checked with a libtorrent recheck.

Prints "ok NAME" / "not ok NAME: why"; exits 0 only if nothing failed.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as H  # noqa: E402

BIN = os.environ.get("BTKIT_BIN") or os.path.join(ROOT, "build", "bin")
BT_META = os.path.join(BIN, "bt-meta")
LIMIT = 180
failed = []


def ok(name):
    print("ok " + name, flush=True)


def not_ok(name, why):
    failed.append(name)
    print("not ok %s: %s" % (name, str(why).strip().replace("\n", "\n#   ")), flush=True)


def note(msg):
    print("# " + msg, flush=True)


def check(name, fn):
    try:
        r = fn()
    except Exception as e:
        tb = traceback.format_exc().strip().splitlines()
        not_ok(name, "%s: %s (%s)" % (type(e).__name__, e, tb[-3].strip() if len(tb) > 2 else ""))
        return None
    if r is True or r is None:
        ok(name)
    else:
        not_ok(name, r)
    return r


def bt_meta(*args, want_rc=(0,)):
    r = subprocess.run([BT_META] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode not in want_rc:
        raise AssertionError("bt-meta %s exited %d (wanted %s): %s" % (
            " ".join(args), r.returncode, want_rc, r.stderr.decode("utf-8", "replace")[-400:]))
    return r


def bt_meta_json(*args, want_rc=(0,)):
    r = bt_meta(*args, want_rc=want_rc)
    lines = r.stdout.decode().strip().splitlines()
    if len(lines) != 1:
        raise AssertionError("--json printed %d lines, wanted one object" % len(lines))
    return json.loads(lines[0]), r.returncode


def on_alarm(signum, frame):
    # SystemExit unwinds through check() and the harness's with-block.
    not_ok("time-limit", "test_meta.py ran past %d s" % LIMIT)
    raise SystemExit(1)


def magnet_parts(m):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(m).query)
    return sorted(x.lower() for x in q.get("xt", [])), q.get("dn", [None])[0]


# ---------------------------------------------------------------------------

KEYS = ("name", "version", "info_hash_v1", "info_hash_v2", "piece_length", "piece_count",
        "total_size", "private", "files", "pad_files", "trackers", "url_list",
        "created_by", "creation_date", "comment")


def compare_meta(t):
    got, _ = bt_meta_json("--json", t.path)
    want = t.expected()
    # libtorrent says "" for an absent comment / created by; bt-meta null.
    for k in ("comment", "created_by"):
        if want[k] == "":
            want[k] = None
    diffs = []
    missing = [k for k in KEYS + ("magnet",) if k not in got]
    if missing:
        return "keys missing from --json: %s" % missing
    for k in KEYS:
        if got[k] != want[k]:
            diffs.append("%s: bt-meta %s, libtorrent %s" % (
                k, json.dumps(got[k])[:300], json.dumps(want[k])[:300]))
    if magnet_parts(got["magnet"]) != magnet_parts(want["magnet"]):
        diffs.append("magnet: bt-meta %s, libtorrent %s" % (got["magnet"], want["magnet"]))
    if t.version != got["version"]:
        diffs.append("version: made %s, bt-meta says %s" % (t.version, got["version"]))
    return "\n".join(diffs) if diffs else True


def lt_recheck(t, save_path, timeout=30):
    """Piece verdicts of a libtorrent recheck of SAVE_PATH: list of bools.
    No listening socket, no tracker, no DHT: this session talks to nobody."""
    import libtorrent as lt
    sess = lt.session({"listen_interfaces": "", "enable_dht": False, "enable_lsd": False,
                       "enable_upnp": False, "enable_natpmp": False,
                       "enable_incoming_utp": False, "enable_outgoing_utp": False,
                       "enable_incoming_tcp": False, "enable_outgoing_tcp": False})
    e = lt.bdecode(open(t.path, "rb").read())
    for k in (b"announce", b"announce-list", b"url-list"):
        e.pop(k, None)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(e)
    atp.save_path = save_path
    atp.flags = (atp.flags | lt.torrent_flags.upload_mode) & ~lt.torrent_flags.auto_managed \
        & ~lt.torrent_flags.paused
    h = sess.add_torrent(atp)
    checking = (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data,
                lt.torrent_status.queued_for_checking, lt.torrent_status.allocating)
    H.wait_until(lambda: h.status().state not in checking and h.status().has_metadata,
                 timeout, "libtorrent recheck", interval=0.05)
    pieces = list(h.status().pieces)
    sess.remove_torrent(h)
    del sess
    return pieces


def pieces_of_file(ti, idx):
    """Pieces holding any byte of file IDX (empty for an empty file)."""
    fs = ti.files()
    size = fs.file_size(idx)
    if size == 0:
        return set()
    first = ti.map_file(idx, 0, 1).piece
    last = ti.map_file(idx, size - 1, 1).piece
    return set(range(first, last + 1))


def expand(ranges):
    out = set()
    for a, b in ranges:
        out.update(range(a, b + 1))
    return out


def damage_and_verify(h, t, delete_rel=None):
    """Copy t's data, corrupt pieces 1 and 3, delete DELETE_REL (a path of
    t.content.files), check bt-meta's verdicts piece by piece and file by file."""
    ti = t.lt_info()
    fs = ti.files()
    plen = ti.piece_length()
    work = t.content.copy_to(h.path("verify", h._unique(t.maker + "-" + t.version)))
    # Sanity: with intact data every piece is good and the exit status is 0.
    got, rc = bt_meta_json("--verify", "--json", t.path, work.save_path)
    if not got.get("ok") or got.get("corrupt") or got.get("missing") or rc != 0:
        return "intact data: rc %d, %s" % (rc, json.dumps(got)[:400])

    # Pieces 1 and 3 must lie inside the first file, which must span >= 4 pieces.
    real = [i for i in range(fs.num_files()) if not fs.file_flags(i) & fs.flag_pad_file]
    f0 = real[0]
    if not {1, 3} <= pieces_of_file(ti, f0) or ti.map_file(f0, 0, 1).piece != 0:
        return "fixture: pieces 1 and 3 are not inside the first file"
    p0 = os.path.join(work.save_path, fs.file_path(f0))
    with open(p0, "r+b") as f:
        for piece, off in ((1, 100), (3, plen - 7)):
            pos = piece * plen + off  # file 0 starts at offset 0 of piece 0
            f.seek(pos)
            old = f.read(5)
            f.seek(pos)
            f.write(bytes(b ^ 0xA5 for b in old))
    corrupt = {1, 3}
    missing = set()
    deleted = None
    if delete_rel:
        deleted = [i for i in range(fs.num_files())
                   if fs.file_path(i).replace(os.sep, "/") == delete_rel]
        if len(deleted) != 1:
            return "fixture: no file %s in %s" % (delete_rel, t)
        deleted = deleted[0]
        os.unlink(os.path.join(work.save_path, delete_rel))
        missing = pieces_of_file(ti, deleted)
        if missing & corrupt:
            return "fixture: deleted file shares pieces with 1 and 3"

    got, rc = bt_meta_json("--verify", "--json", t.path, work.save_path, want_rc=(0, 1))
    diffs = []
    if rc != 1:
        diffs.append("exit status %d, wanted 1" % rc)
    if got.get("ok") is not False:
        diffs.append("ok is %r" % got.get("ok"))
    gc, gm = expand(got.get("corrupt_pieces", [])), expand(got.get("missing_pieces", []))
    if gc != corrupt:
        diffs.append("corrupt pieces %s, wanted %s" % (sorted(gc), sorted(corrupt)))
    if gm != missing:
        diffs.append("missing pieces %s, wanted %s" % (sorted(gm), sorted(missing)))
    n = ti.num_pieces()
    want_counts = (n - len(corrupt) - len(missing), len(missing), len(corrupt))
    got_counts = (got.get("good"), got.get("missing"), got.get("corrupt"))
    if got_counts != want_counts or got.get("piece_count") != n:
        diffs.append("good/missing/corrupt %s of %s, wanted %s of %d" % (
            got_counts, got.get("piece_count"), want_counts, n))

    # Per file: status and the verdicts of the pieces touching it.
    want_files = {}
    for i in range(fs.num_files()):
        if fs.file_flags(i) & fs.flag_pad_file:
            continue
        ps = pieces_of_file(ti, i)
        c, m = len(ps & corrupt), len(ps & missing)
        if i == deleted:
            status = "missing"
        elif fs.file_size(i) == 0:
            status = "ok"
        elif c:
            status = "corrupt"
        elif m:
            status = "incomplete"
        else:
            status = "ok"
        rel = fs.file_path(i).replace(os.sep, "/")
        if t.content.multi:
            rel = rel[len(ti.name()) + 1:]
        want_files[rel] = (status, len(ps) - c - m, m, c)
    got_files = {f.get("path"): (f.get("status"), f.get("good"), f.get("missing"),
                                 f.get("corrupt")) for f in got.get("files", [])}
    if got_files != want_files:
        for k in sorted(set(got_files) | set(want_files)):
            if got_files.get(k) != want_files.get(k):
                diffs.append("file %s: (status, good, missing, corrupt) %s, wanted %s" % (
                    k, got_files.get(k), want_files.get(k)))

    # libtorrent's own recheck of the same damaged copy must agree.
    lt_have = lt_recheck(t, work.save_path)
    lt_bad = set(i for i, x in enumerate(lt_have) if not x)
    if lt_bad != corrupt | missing:
        diffs.append("libtorrent recheck finds bad pieces %s, wanted %s" % (
            sorted(lt_bad), sorted(corrupt | missing)))
    shutil.rmtree(work.save_path, ignore_errors=True)
    return "\n".join(diffs) if diffs else True


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(LIMIT)
    t0 = time.monotonic()
    if not os.access(BT_META, os.X_OK):
        not_ok("bt-meta-exists", "%s not found or not executable" % BT_META)
        return 1
    ok("bt-meta-exists")
    with H.Harness("test_meta") as h:
        try:
            torrents = make_torrents(h)
        except Exception as e:
            not_ok("fixtures", "%s: %s" % (type(e).__name__, e))
            return 1
        for name, t in torrents:
            check("meta-" + name, lambda: compare_meta(t))

        by = dict(torrents)
        check("verify-damage-mktorrent-single",
              lambda: damage_and_verify(h, by["mktorrent-single"]))
        for name in ("mktorrent-multi", "transmission-create-multi", "libtorrent-v1-multi",
                     "libtorrent-v2-multi", "libtorrent-hybrid-multi"):
            check("verify-damage-" + name,
                  lambda: damage_and_verify(h, by[name], delete_rel="multi/sub/deeper/c.bin"))
        check("verify-damage-libtorrent-v2-single",
              lambda: damage_and_verify(h, by["libtorrent-v2-single"]))
    signal.alarm(0)
    note("test_meta.py took %.1f s" % (time.monotonic() - t0))
    return 1 if failed else 0


def make_torrents(h):
    """(test name, Torrent) for every maker, version and layout."""
    single = h.single_file(size=4 * H.MiB + 12345)      # 65 pieces of 64 KiB
    multi = h.multi_file()                                # a.bin: 10 pieces of 32 KiB
    torrents = []
    for c, plen in ((single, 64 * H.KiB), (multi, 32 * H.KiB)):
        kind = "multi" if c.multi else "single"
        torrents.append(("mktorrent-%s" % kind, h.torrent(c, "mktorrent", piece_length=plen)))
        torrents.append(("transmission-create-%s" % kind,
                         h.torrent(c, "transmission-create", piece_length=plen)))
        for v in ("v1", "v2", "hybrid"):
            torrents.append(("libtorrent-%s-%s" % (v, kind),
                             h.torrent(c, "libtorrent", version=v, piece_length=plen)))
    extra = ["http://127.0.0.1:2/announce", "udp://127.0.0.1:3/announce"]
    torrents.append(("mktorrent-private-tiers-webseed", h.torrent(
        multi, "mktorrent", piece_length=32 * H.KiB, private=True, comment="btkit test",
        extra_trackers=extra, web_seeds=["http://127.0.0.1:4/seed/"])))
    torrents.append(("libtorrent-hybrid-private-tiers-webseed", h.torrent(
        multi, "libtorrent", version="hybrid", piece_length=16 * H.KiB, private=True,
        comment="btkit test", extra_trackers=extra,
        web_seeds=["http://127.0.0.1:4/seed/"])))
    return torrents


if __name__ == "__main__":
    sys.exit(main())
