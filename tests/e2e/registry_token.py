#!/usr/bin/env python3
"""A small token server for Docker's registry token authentication
(distribution docs/spec/auth/token.md), for the image tests: GET
/token?service=S&scope=repository:NAME:ACTIONS answers {"token": JWT}
signed RS256 by KEY, with CERT in the header's x5c (the registry trusts
CERT as its rootcertbundle).  A Basic login USER:PASS gets every action
it asks for; anyone gets "pull" on names under PUBLIC/; a wrong login
gets 401.  Signing uses the openssl command, so only the standard
library is needed.

usage: registry_token.py PORTFILE KEY CERT ISSUER USER:PASS PUBLIC
Writes the port it listens on (127.0.0.1) to PORTFILE.
"""
import base64
import http.server
import json
import os
import subprocess
import sys
import time
import urllib.parse


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


PORTFILE, KEY, CERT, ISSUER, LOGIN, PUBLIC = sys.argv[1:7]
with open(CERT) as f:
    pem = "".join(line for line in f if "-----" not in line)
X5C = base64.b64encode(base64.b64decode(pem)).decode()


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    data = (b64url(json.dumps(header).encode()) + "." +
            b64url(json.dumps(claims).encode())).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY],
                         input=data, capture_output=True, check=True).stdout
    return data.decode() + "." + b64url(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/token":
            return self.answer(404, {"error": "no such path"})
        q = urllib.parse.parse_qs(url.query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            login = base64.b64decode(auth[6:]).decode(errors="replace")
            if login != LOGIN:
                return self.answer(401, {"error": "bad login"})
            user = login.split(":")[0]
        access = []
        for scope in " ".join(q.get("scope", [])).split():
            parts = scope.split(":")
            if len(parts) != 3 or parts[0] != "repository":
                continue
            want = parts[2].split(",")
            if user:
                grant = want
            elif parts[1].startswith(PUBLIC + "/"):
                grant = [a for a in want if a == "pull"]
            else:
                grant = []
            access.append({"type": "repository", "name": parts[1],
                           "actions": grant})
        now = int(time.time())
        token = sign({"iss": ISSUER, "sub": user or "",
                      "aud": q.get("service", [""])[0],
                      "exp": now + 300, "nbf": now - 10, "iat": now,
                      "jti": b64url(os.urandom(12)), "access": access})
        self.answer(200, {"token": token, "access_token": token,
                          "expires_in": 300})


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
