#!/usr/bin/python3
"""Hostile .torrent files for btkit's tests (tests/integration/test_hostile.py).

    torrents.py --list
    torrents.py NAME OUT.torrent        write one case
    torrents.py --all DIR               write every case as DIR/NAME.torrent

    import torrents as T
    data = T.make("dotdot")             # the bytes of one case
    T.CASES["dotdot"].what              # what it tries

Every case is built here byte by byte (not by a torrent maker, which would
refuse most of them).  Apart from its one fault each case is a well-formed
v1 torrent with correct piece hashes for its content, which is
T.content(n): n deterministic bytes, so a parser that misses the fault
would go on and accept the torrent.  Cases that need files on disk (the
symlinked directory) get them from test_hostile.py; this module only
writes the .torrent.
"""
import hashlib
import sys

PIECE = 16384
ESC, BEL = b"\x1b", b"\x07"


def be(v):
    """bencode; dict keys are sorted as bytes (BEP 3)."""
    if isinstance(v, bool):
        raise TypeError("bool")
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, (list, tuple)):
        return b"l" + b"".join(be(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(be(k) + be(x) for k, x in items) + b"e"
    if isinstance(v, Raw):
        return v.b
    raise TypeError(type(v))


class Raw:
    """Bytes spliced into the output as they are (for values be() cannot make)."""

    def __init__(self, b):
        self.b = b


def content(n, seed=b"hostile"):
    """N deterministic bytes."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(seed + b":%d" % i).digest()
        i += 1
    return bytes(out[:n])


def pieces_of(data, piece=PIECE):
    return b"".join(hashlib.sha1(data[i:i + piece]).digest()
                    for i in range(0, max(len(data), 1), piece)) if data else b""


def torrent(info, announce="http://127.0.0.1:1/announce"):
    d = {"info": info, "created by": "btkit tests/hostile/torrents.py"}
    if announce:
        d["announce"] = announce
    return be(d)


def single(name=b"hostile.bin", size=40000, **extra):
    data = content(size)
    info = {"name": name, "piece length": PIECE, "length": size, "pieces": pieces_of(data)}
    info.update(extra)
    return info


def multi(files, name=b"hostile", **extra):
    """FILES: [(path components (bytes), size)]; contents are consecutive
    slices of content(total)."""
    total = sum(s for _, s in files)
    data = content(total)
    info = {"name": name, "piece length": PIECE, "pieces": pieces_of(data),
            "files": [{"length": s, "path": list(p)} for p, s in files]}
    info.update(extra)
    return info


def multi_data(files):
    """(relative path, bytes) of each file of multi(FILES), for planting on disk."""
    total = sum(s for _, s in files)
    data = content(total)
    out, off = [], 0
    for p, s in files:
        out.append((b"/".join(p).decode("latin-1"), data[off:off + s]))
        off += s
    return out


# The symlink case: a valid torrent whose directory "inside" test_hostile.py
# replaces by a symbolic link to a directory outside the output directory.
SYMLINK_FILES = [((b"plain.bin",), 20000), ((b"inside", b"secret.bin"), 30000)]

FILES_CAP = 1048576          # bt-meta(1) LIMITS: files per torrent


def _too_many_files():
    # A .torrent cannot declare a file count: the files list *is* the count.
    # 2^31 entries cannot fit the 64 MiB size limit, so this is the cap + 1
    # (1,048,577 one-byte files, about 33 MB), which is what a reader must
    # refuse before doing per-file work.
    n = FILES_CAP + 1
    data = content(n)
    files = b"".join(b"d6:lengthi1e4:pathl7:%07dee" % i for i in range(n))
    info = {"name": b"many", "piece length": PIECE, "pieces": pieces_of(data),
            "files": Raw(b"l" + files + b"e")}
    return torrent(info)


def _deep():
    depth = 10000
    return torrent(single(x=Raw(b"l" * depth + b"e" * depth)))


def _huge_string():
    # A string that declares 100 MB and holds 10 bytes: the file is small,
    # the declared length is what a careless reader would allocate or trust.
    t = torrent(single(), announce=None)
    assert t.endswith(b"e")
    return t[:-1] + b"7:comment100000000:0123456789e"


class Case:
    def __init__(self, what, build):
        self.what, self.build = what, build


CASES = {
    "dotdot": Case("a file path component '..' (../../escape.bin)",
                   lambda: torrent(multi([((b"..", b"..", b"escape.bin"), 1000),
                                          ((b"ok.bin",), 1000)]))),
    "dotdot-name": Case("a single-file torrent named '..'",
                        lambda: torrent(single(name=b".."))),
    "absolute-name": Case("a single-file torrent named '/tmp/btkit-abs-evil-name'",
                          lambda: torrent(single(name=b"/tmp/btkit-abs-evil-name"))),
    "absolute-path": Case("a file path component '/etc/btkit-abs-evil-path'",
                          lambda: torrent(multi([((b"/etc/btkit-abs-evil-path",), 1000)]))),
    "slash-component": Case("a path component with a '/' inside (a/../../x)",
                            lambda: torrent(multi([((b"a/../../x",), 1000)]))),
    "empty-component": Case("an empty path component (a//b)",
                            lambda: torrent(multi([((b"a", b"", b"b"), 1000)]))),
    "nul-component": Case("a NUL byte in a path component",
                          lambda: torrent(multi([((b"a\x00b",), 1000)]))),
    "esc-name": Case("ESC [ 2 J, OSC 52 and BEL in the file name (legal, must print escaped)",
                     lambda: torrent(single(name=b"evil" + ESC + b"[2J" + ESC
                                            + b"]52;c;aGk=" + BEL + b".bin"))),
    "symlink-dir": Case("valid; the test makes its directory 'inside' a symlink out of "
                        "the output directory", lambda: torrent(multi(SYMLINK_FILES))),
    "piece-length-2^40": Case("piece length 2^40",
                              lambda: torrent(single(**{"piece length": 1 << 40}))),
    "piece-length-0": Case("piece length 0", lambda: torrent(single(**{"piece length": 0}))),
    "files-over-cap": Case("1,048,577 files (the 1,048,576 cap + 1; 2^31 cannot fit 64 MiB)",
                           _too_many_files),
    "length-negative": Case("a file length of -1",
                            lambda: torrent(single(length=-1))),
    "length-2^62": Case("a file length of 2^62 (total over 2^60)",
                        lambda: torrent(single(length=1 << 62))),
    "pieces-not-20": Case("a pieces string of 39 bytes (not a multiple of 20)",
                          lambda: torrent(single(pieces=bytes(39)))),
    "deep-nesting": Case("10,000 nested lists inside the info dictionary", _deep),
    "string-100mb": Case("a string that declares 100,000,000 bytes and holds 10",
                         _huge_string),
}


def make(name):
    return CASES[name].build()


def main(argv):
    if argv[:1] == ["--list"]:
        for k, c in CASES.items():
            print("%-18s %s" % (k, c.what))
        return 0
    if len(argv) == 2 and argv[0] == "--all":
        import os
        os.makedirs(argv[1], exist_ok=True)
        for k in CASES:
            with open(os.path.join(argv[1], k + ".torrent"), "wb") as f:
                f.write(make(k))
        return 0
    if len(argv) == 2 and argv[0] in CASES:
        with open(argv[1], "wb") as f:
            f.write(make(argv[0]))
        return 0
    sys.stderr.write("usage: torrents.py --list | --all DIR | NAME OUT.torrent\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
