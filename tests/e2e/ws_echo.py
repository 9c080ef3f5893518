#!/usr/bin/env python3
"""ws_echo: a WebSocket (RFC 6455) echo server in the standard library only,
for tests/e2e/test_gateway_ws.sh, run as a lease's service.

  ws_echo.py PORT   serve 127.0.0.1:PORT: an Upgrade to any path but
                    /no-upgrade is accepted (101) and every text or binary
                    message is sent back; the message "flood" makes it send
                    64 KiB messages until the client closes; other requests
                    (and /no-upgrade) get a plain 200.
"""
import base64
import hashlib
import socket
import struct
import sys
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def recv_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b


def read_frame(c):
    h = recv_exact(c, 2)
    op, n = h[0] & 0x0F, h[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(c, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(c, 8))[0]
    mask = recv_exact(c, 4) if h[1] & 0x80 else b"\0\0\0\0"
    data = bytearray(recv_exact(c, n))
    for i in range(n):
        data[i] ^= mask[i % 4]
    return op, bytes(data)


def frame(op, data):
    n = len(data)
    if n < 126:
        h = struct.pack("!BB", 0x80 | op, n)
    elif n < 65536:
        h = struct.pack("!BBH", 0x80 | op, 126, n)
    else:
        h = struct.pack("!BBQ", 0x80 | op, 127, n)
    return h + data


def serve(c):
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            d = c.recv(4096)
            if not d:
                return
            head += d
        lines = head.split(b"\r\n\r\n")[0].decode().split("\r\n")
        path = lines[0].split(" ")[1]
        f = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            f[k.strip().lower()] = v.strip()
        key = f.get("sec-websocket-key")
        if (path.endswith("/no-upgrade") or key is None or
                f.get("upgrade", "").lower() != "websocket"):
            body = b"not a websocket\n"
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                      % len(body) + body)
            return
        acc = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest())
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc +
                  b"\r\n\r\n")
        while True:
            op, data = read_frame(c)
            if op == 8:
                c.sendall(frame(8, data[:2]))
                return
            if op == 9:
                c.sendall(frame(10, data))
            elif op in (1, 2):
                if data == b"flood":
                    chunk = frame(2, b"f" * 65536)
                    while True:
                        c.sendall(chunk)
                c.sendall(frame(op, data))
    except (EOFError, OSError):
        pass
    finally:
        c.close()


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(128)
    print("ws_echo: listening on 127.0.0.1:%s" % sys.argv[1], flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
