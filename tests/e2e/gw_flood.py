#!/usr/bin/env python3
"""gw_flood: N connections to a gateway each send one request (GET PATH)
and wait SECONDS for its answer; prints how many were sent, answered and
refused (503).  For the hostile-tenant test: a tenant's requests past its
cap wait for a connection instead of being refused or holding threads.
Usage: gw_flood.py PORT PATH N SECONDS"""
import selectors
import socket
import sys
import time


def main():
    port, path, n, secs = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                           float(sys.argv[4]))
    sel = selectors.DefaultSelector()
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
    sent = 0
    got = {}
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(req)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, b"")
        sent += 1
    print("sent=%d" % sent, flush=True)
    end = time.time() + secs
    while time.time() < end and sel.get_map():
        for key, _ in sel.select(timeout=max(0.0, end - time.time())):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                status = data.split(b" ", 2)[1].decode() if b" " in data else "?"
                got[status] = got.get(status, 0) + 1
            sel.unregister(s)
            s.close()
    answered = sum(got.values())
    print("sent=%d answered=%d refused503=%d statuses=%s" %
          (sent, answered, got.get("503", 0), sorted(got.items())),
          flush=True)


if __name__ == "__main__":
    main()
