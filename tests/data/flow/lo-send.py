#!/usr/bin/python3
"""One TCP session over 127.0.0.1 with known bytes, for record.sh.

The client sends CLIENT_LEN bytes, byte i = (i*131 + 7) % 251; the server
sends SERVER_LEN bytes, byte i = (i*17 + 3) % 253, while it reads.  Both in
uneven chunks with TCP_NODELAY and short pauses, so the capture holds many
segments of different sizes.  Each side checks what it received; the
client half-closes first, so both FINs appear.  tests/unit/test_flow.c
regenerates the same bytes."""
import socket
import sys
import threading
import time

CLIENT_LEN, SERVER_LEN = 24000, 12000


def pattern(n, mul, add, mod):
    return bytes((i * mul + add) % mod for i in range(n))


CLIENT = pattern(CLIENT_LEN, 131, 7, 251)
SERVER = pattern(SERVER_LEN, 17, 3, 253)
CHUNKS = [1, 700, 33, 1460, 2999, 80, 512, 4096, 7, 1200]


def send_chunks(sock, data):
    i = k = 0
    while i < len(data):
        n = CHUNKS[k % len(CHUNKS)]
        sock.sendall(data[i:i + n])
        i += n
        k += 1
        time.sleep(0.002)


def recv_all(sock):
    got = bytearray()
    while True:
        b = sock.recv(65536)
        if not b:
            return bytes(got)
        got += b


def serve(ls, result):
    c, _ = ls.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = threading.Thread(target=lambda: result.append(recv_all(c)))
    t.start()
    send_chunks(c, SERVER)
    t.join()
    c.shutdown(socket.SHUT_WR)
    c.close()


def main():
    port = int(sys.argv[1])
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    got_by_server = []
    st = threading.Thread(target=serve, args=(ls, got_by_server))
    st.start()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    send_chunks(s, CLIENT)
    s.shutdown(socket.SHUT_WR)
    got_by_client = recv_all(s)
    s.close()
    st.join(10)
    ls.close()
    if got_by_client != SERVER or got_by_server != [CLIENT]:
        sys.exit("lo-send: bytes received differ from bytes sent")


if __name__ == "__main__":
    main()
