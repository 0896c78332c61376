#!/usr/bin/env python3
"""Independent reference for the hashes hard-coded in tests/unit/test_meta.c,
test_magnet.c and test_store.c.

It rebuilds the fixture torrents of tests/data/meta/fixtures.h with its own
bencoder (sorted keys), its own data pattern, SHA-1 piece hashes and BEP 52
merkle trees (hashlib only: no btkit code, no libtorrent) and prints the
info-hashes, roots and magnets.  Run: python3 tests/data/meta/expected.py
"""
import hashlib, base64, urllib.parse

def benc(x):
    if isinstance(x, int):
        return b'i%de' % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, bytes):
        return b'%d:' % len(x) + x
    if isinstance(x, list):
        return b'l' + b''.join(benc(i) for i in x) + b'e'
    if isinstance(x, dict):
        items = sorted(((k.encode() if isinstance(k, str) else k), v) for k, v in x.items())
        return b'd' + b''.join(benc_kv(k, v) for k, v in items) + b'e'
    raise TypeError(x)

def benc_kv(k, v):
    return benc(k) + benc(v)

def pat(seed, n):
    # byte i = ((i * 2654435761 + seed * 97) mod 2^32) >> 13, low 8 bits
    return bytes((((i * 2654435761 + seed * 97) & 0xffffffff) >> 13) & 0xff
                 for i in range(n))

def sha1(b): return hashlib.sha1(b).digest()
def sha256(b): return hashlib.sha256(b).digest()

def v1_pieces(data, pl):
    return b''.join(sha1(data[i:i + pl]) for i in range(0, len(data), pl))

BLOCK = 16384

def width(n):
    w = 1
    while w < n:
        w *= 2
    return w

def reduce_tree(nodes, w, zero):
    nodes = nodes + [zero] * (w - len(nodes))
    while len(nodes) > 1:
        nodes = [sha256(nodes[i] + nodes[i + 1]) for i in range(0, len(nodes), 2)]
    return nodes[0]

def zero_at(level):
    z = bytes(32)
    for _ in range(level):
        z = sha256(z + z)
    return z

def leaves(data):
    return [sha256(data[i:i + BLOCK]) for i in range(0, len(data), BLOCK)]

def file_root(data):
    lv = leaves(data)
    return reduce_tree(lv, width(len(lv)), bytes(32))

def piece_layer(data, pl):
    per = pl // BLOCK
    out = []
    for p in range(0, len(data), pl):
        out.append(reduce_tree(leaves(data[p:p + pl]), per, bytes(32)))
    return out

def show(name, info, top=None):
    raw = benc(info)
    print('%s: info %d bytes' % (name, len(raw)))
    print('  sha1   %s' % sha1(raw).hex())
    print('  sha256 %s' % sha256(raw).hex())
    if top is not None:
        print('  torrent %d bytes' % len(benc(top)))
    return raw

# T1: literal single-file v1 torrent of test_meta.c
t1_info = {'length': 5, 'name': 'a.txt', 'piece length': 16384, 'pieces': b'A' * 20}
show('T1', t1_info)

# T2: v1 multi-file with a pad file
a, b, d = pat(1, 10000), pat(2, 20000), pat(4, 5000)
space = a + bytes(6384) + b + d
t2_info = {
    'files': [
        {'length': 10000, 'path': ['a']},
        {'attr': 'p', 'length': 6384, 'path': ['.pad', '6384']},
        {'length': 20000, 'path': ['s', 'b']},
        {'length': 0, 'path': ['c']},
        {'length': 5000, 'path': ['d']},
    ],
    'name': 'multi', 'piece length': 16384,
    'pieces': v1_pieces(space, 16384), 'private': 1,
}
t2 = {'announce': 'http://a/1',
      'announce-list': [['http://a/1', 'http://a/2'], ['udp://b:6969']],
      'comment': 'hi', 'created by': 'btkit', 'creation date': 1700000000,
      'info': t2_info, 'url-list': 'http://ws/'}
show('T2', t2_info, t2)
h = sha1(benc(t2_info))
print('  magnet magnet:?xt=urn:btih:%s&dn=multi&tr=%s&tr=%s&tr=%s&ws=%s' % (
    h.hex(), *[urllib.parse.quote(u, safe='') for u in
               ('http://a/1', 'http://a/2', 'udp://b:6969', 'http://ws/')]))
print('  base32 %s' % base64.b32encode(h).decode())

# T3: v2, files a (pat 1), dir/b (pat 2, 5 bytes), dir/e (empty)
def t3(pl, asize):
    a = pat(1, asize)
    b = pat(2, 5)
    ra, rb = file_root(a), file_root(b)
    info = {'file tree': {
                'a': {'': {'length': asize, 'pieces root': ra}},
                'dir': {'b': {'': {'length': 5, 'pieces root': rb}},
                        'e': {'': {'length': 0}}}},
            'meta version': 2, 'name': 'v2', 'piece length': pl}
    layer = piece_layer(a, pl)
    assert reduce_tree(layer, width(len(layer)), zero_at((pl // BLOCK).bit_length() - 1)) == ra
    top = {'announce': 'http://t/', 'info': info,
           'piece layers': {ra: b''.join(layer)}}
    print('T3(%d, %d): root a %s' % (pl, asize, ra.hex()))
    print('  root b %s' % rb.hex())
    show('T3(%d, %d)' % (pl, asize), info, top)
    return info
t3(16384, 40000)
t3(32768, 163940)

# T4: hybrid, a (pat 1, 20000), pad 12768, b (pat 2, 100)
a, b = pat(1, 20000), pat(2, 100)
t4_info = {
    'file tree': {'a': {'': {'length': 20000, 'pieces root': file_root(a)}},
                  'b': {'': {'length': 100, 'pieces root': file_root(b)}}},
    'files': [{'length': 20000, 'path': ['a']},
              {'attr': 'p', 'length': 12768, 'path': ['.pad', '12768']},
              {'length': 100, 'path': ['b']}],
    'meta version': 2, 'name': 'hy', 'piece length': 16384,
    'pieces': v1_pieces(a + bytes(12768) + b, 16384)}
show('T4', t4_info)
r = benc(t4_info)
print('  magnet magnet:?xt=urn:btih:%s&xt=urn:btmh:1220%s&dn=hy' % (
    sha1(r).hex(), sha256(r).hex()))

# merkle reference values
print('zero[1] %s' % zero_at(1).hex())
print('zero[2] %s' % zero_at(2).hex())
print('root pat(1, 40000) %s' % file_root(pat(1, 40000)).hex())
print('root pat(3, 16384) %s' % file_root(pat(3, 16384)).hex())
print('root "hello" %s' % file_root(b'hello').hex())
