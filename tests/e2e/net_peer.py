#!/usr/bin/env python3
"""Echo servers and clients for tests/e2e/test_netvol.sh, run inside the
network namespaces that stand in for replicas, the host and "the internet".

  net_peer.py serve tcp|udp PORT          echo everything back, forever
  net_peer.py echo tcp|udp HOST PORT [N]  send N bytes (default 64), expect
                                          them back; prints "echoed N" or
                                          "failed: <reason>" (exit 1)
  net_peer.py hello PORT TEXT             a TCP server that sends TEXT to
                                          each client and closes
  net_peer.py read HOST PORT              print what a TCP server sends
  net_peer.py dns ADDR PORT NAME=ADDR...  a DNS server (UDP) on ADDR (so its
                                          answers come from ADDR) answering
                                          A queries for NAME, NXDOMAIN else
HOST may be a name: it is looked up through /etc/hosts (getaddrinfo).
"""
import socket
import sys
import threading

TIMEOUT = 3.0


def serve(proto, port):
    if proto == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        while True:
            data, peer = s.recvfrom(65536)
            s.sendto(data, peer)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)

    def echo(c):
        with c:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                c.sendall(data)

    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def hello(port, text):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        with c:
            c.sendall(text.encode() + b"\n")


def read(host, port):
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as s:
            got = b""
            while True:
                data = s.recv(4096)
                if not data:
                    break
                got += data
    except OSError as e:
        print("failed: %s:%d: %s" % (host, port, e))
        return 1
    sys.stdout.write(got.decode("utf-8", "replace"))
    return 0


def dns(bind, port, names):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((bind, port))
    while True:
        q, peer = s.recvfrom(512)
        if len(q) < 12:
            continue
        i, labels = 12, []
        while i < len(q) and q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        question = q[12:i + 5]
        qtype = q[i + 1:i + 3]
        addr = names.get(".".join(labels).lower())
        if addr and qtype == b"\x00\x01":
            answer = (b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" +
                      socket.inet_aton(addr))
            flags, count = b"\x81\x80", b"\x00\x01"
        else:
            answer = b""
            flags = b"\x81\x80" if addr else b"\x81\x83"
            count = b"\x00\x00"
        s.sendto(q[:2] + flags + b"\x00\x01" + count + b"\x00\x00\x00\x00" +
                 question + answer, peer)


def echo(proto, host, port, n):
    payload = bytes((i * 7 + 1) % 251 for i in range(n))
    try:
        addr = socket.getaddrinfo(host, port, socket.AF_INET)[0][4]
    except OSError as e:
        print("failed: resolve %s: %s" % (host, e))
        return 1
    try:
        if proto == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(TIMEOUT)
            s.sendto(payload, addr)
            got, _ = s.recvfrom(65536)
        else:
            s = socket.create_connection(addr, timeout=TIMEOUT)
            got = b""

            def send():
                s.sendall(payload)

            t = threading.Thread(target=send, daemon=True)
            t.start()
            while len(got) < n:
                data = s.recv(65536)
                if not data:
                    break
                got += data
            t.join(TIMEOUT)
        s.close()
    except OSError as e:
        print("failed: %s:%d: %s" % (host, port, e))
        return 1
    if got != payload:
        print("failed: %d of %d bytes came back" % (len(got), n))
        return 1
    print("echoed %d" % n)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "serve":
        serve(argv[2], int(argv[3]))
        return 0
    if len(argv) == 4 and argv[1] == "hello":
        hello(int(argv[2]), argv[3])
        return 0
    if len(argv) == 4 and argv[1] == "read":
        return read(argv[2], int(argv[3]))
    if len(argv) >= 4 and argv[1] == "dns":
        dns(argv[2], int(argv[3]),
            dict(a.lower().split("=", 1) for a in argv[4:]))
        return 0
    if len(argv) in (5, 6) and argv[1] == "echo":
        n = int(argv[5]) if len(argv) == 6 else 64
        return echo(argv[2], argv[3], int(argv[4]), n)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
