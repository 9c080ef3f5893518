#!/usr/bin/python3
"""A git smart-HTTP server for the end-to-end tests, on 127.0.0.1:0.

usage: git_http.py ROOT PORTFILE LOGFILE

Serves the repositories under ROOT with `git http-backend` (CGI), plus:
  /redir/SCHEME/HOSTPORT/REST  -> 302 to SCHEME://HOSTPORT/REST?QUERY
  /secret/...                  -> 403 with a body no tenant may ever see
and listens on a second port, the canary, which records any connection
(nothing the provider refuses may reach it).  PORTFILE gets "PORT
CANARY_PORT"; LOGFILE one line per request ("GET /path") and "CANARY"
per connection to the canary.
"""
import http.server
import os
import socket
import subprocess
import sys
import threading

ROOT, PORTFILE, LOGFILE = sys.argv[1:4]
SECRET = b"SECRET-ADMIN-PAGE: token=hunter2\n"
lock = threading.Lock()


def log(line):
    with lock, open(LOGFILE, "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def serve(self):
        log("%s %s" % (self.command, self.path))
        path, _, query = self.path.partition("?")
        if path.startswith("/redir/"):
            parts = path[len("/redir/"):].split("/", 2)
            if len(parts) == 3:
                loc = "%s://%s/%s" % tuple(parts)
                if query:
                    loc += "?" + query
                self.send_response(302)
                self.send_header("Location", loc)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        if path.startswith("/secret/"):
            self.send_response(403)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(SECRET)))
            self.end_headers()
            self.wfile.write(SECRET)
            return
        self.cgi(path, query)

    def cgi(self, path, query):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        env = dict(os.environ)
        env.update({
            "GIT_PROJECT_ROOT": ROOT,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type") or "",
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
        })
        p = subprocess.run(["git", "http-backend"], input=body, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        head, _, out = p.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, out = p.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def canary(sock):
    while True:
        c, _ = sock.accept()
        log("CANARY")
        c.close()


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    can = socket.socket()
    can.bind(("127.0.0.1", 0))
    can.listen(16)
    threading.Thread(target=canary, args=(can,), daemon=True).start()
    with open(PORTFILE + ".tmp", "w") as f:
        f.write("%d %d\n" % (srv.server_address[1], can.getsockname()[1]))
    os.rename(PORTFILE + ".tmp", PORTFILE)
    srv.serve_forever()


main()
