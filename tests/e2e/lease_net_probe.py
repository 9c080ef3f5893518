"""The prober that tests/e2e/test_lease_net.sh deploys as a lease's "web"
service (inlined with python3 -c): an HTTP server on 0.0.0.0:8080, reached
through the provider's gateway, that tries the network from inside the
lease and says what happened.

  GET /echo?host=H&port=P[&n=N]  send N bytes (default 64) to H:P over TCP
                                 and expect them back: "echoed N" or
                                 "failed: <reason>" (H may be a name,
                                 looked up through /etc/hosts)
  GET /hosts, GET /resolv        /etc/hosts, /etc/resolv.conf
"""
import http.server
import socket
import threading
import urllib.parse


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


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path.endswith("/echo"):
            body = echo(q.get("host", ""), int(q.get("port", "0")),
                        int(q.get("n", "64")))
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
