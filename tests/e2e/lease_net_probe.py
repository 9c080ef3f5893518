"""The prober that tests/e2e/test_lease_net.sh deploys as a lease's "web"
service (inlined with python3 -c): an HTTP server on 0.0.0.0:8080, reached
through the provider's gateway, that tries the network from inside the
lease and says what happened.

  GET /echo?host=H&port=P[&n=N]  send N bytes (default 64) to H:P over TCP
                                 and expect them back: "echoed N" or
                                 "failed: <reason>" (H may be a name,
                                 looked up through /etc/hosts)
  GET /hosts, GET /resolv        /etc/hosts, /etc/resolv.conf
  GET /loop?host=H&port=P&n=N&ms=M&secs=S&delay=D&id=K
                                 in D seconds, start echoing N bytes to
                                 H:P every M ms for S seconds in the
                                 background (a client that must go on
                                 while the provider restarts):
                                 "started K"
  GET /loopresult?id=K           "running|done ok A failed B" and the
                                 first failure's reason
"""
import http.server
import socket
import threading
import time
import urllib.parse

loops = {}


def echo(host, port, n):
    payload = bytes((i * 7 + 1) % 251 for i in range(n))
    try:
        addr = socket.getaddrinfo(host, port, socket.AF_INET)[0][4]
    except OSError as e:
        return "failed: resolve %s: %s" % (host, e)
    try:
        s = socket.create_connection(addr, timeout=3)
        got = b""
        t = threading.Thread(target=s.sendall, args=(payload,), daemon=True)
        t.start()
        while len(got) < n:
            data = s.recv(65536)
            if not data:
                break
            got += data
        t.join(3)
        s.close()
    except OSError as e:
        return "failed: %s:%d: %s" % (host, port, e)
    if got != payload:
        return "failed: %d of %d bytes came back" % (len(got), n)
    return "echoed %d" % n


def loop(k, host, port, n, ms, secs, delay):
    st = loops[k]
    time.sleep(delay)
    end = time.time() + secs
    while time.time() < end:
        r = echo(host, port, n)
        if r.startswith("echoed"):
            st["ok"] += 1
        else:
            st["failed"] += 1
            st["first"] = st["first"] or r
        time.sleep(ms / 1000.0)
    st["done"] = True


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path.endswith("/echo"):
            body = echo(q.get("host", ""), int(q.get("port", "0")),
                        int(q.get("n", "64")))
        elif u.path.endswith("/loopresult"):
            st = loops.get(q.get("id", ""))
            body = ("%s ok %d failed %d %s" % (
                "done" if st["done"] else "running", st["ok"],
                st["failed"], st["first"]) if st else "no such loop")
        elif u.path.endswith("/loop"):
            k = q.get("id", "")
            loops[k] = {"ok": 0, "failed": 0, "first": "", "done": False}
            threading.Thread(target=loop, daemon=True, args=(
                k, q.get("host", ""), int(q.get("port", "0")),
                int(q.get("n", "64")), int(q.get("ms", "100")),
                float(q.get("secs", "10")),
                float(q.get("delay", "0")))).start()
            body = "started %s" % k
        elif u.path.endswith("/hosts"):
            body = open("/etc/hosts").read()
        elif u.path.endswith("/resolv"):
            body = open("/etc/resolv.conf").read()
        else:
            body = "prober\n"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
