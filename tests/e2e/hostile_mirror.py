#!/usr/bin/env python3
"""A hostile mirror of a market's read endpoints, for the tests of
`market run --bootstrap-from` (tests/e2e/test_market_ha_gaps.sh): it
relays GETs to a real replica (TLS not checked: it is the attacker's own
link) and changes what it relays according to MODE:

  badsig  the checkpoint's signature altered (not signed by the key)
  tamper  entry AT's body altered after signing (the amount)
  time    entry AT's leaf time moved by 1 ms (the signature still holds:
          only the Merkle root shows it)
  honest  nothing changed

usage: hostile_mirror.py UPSTREAM MODE AT PORTFILE
Prints the port it listens on (loopback) into PORTFILE.
"""
import base64
import http.server
import json
import re
import ssl
import sys
import urllib.request

UPSTREAM, MODE, AT, PORTFILE = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def alter_leaf(leaf):
    raw = base64.b64decode(leaf).decode()
    if MODE == "tamper":
        raw2 = re.sub(r'"amount":(\d+)', lambda m: '"amount":%d' % (int(m.group(1)) + 1000), raw, count=1)
        if raw2 == raw:  # no amount: change the nonce instead
            raw2 = raw.replace('"nonce":"', '"nonce":"x', 1)
        raw = raw2
    elif MODE == "time":
        raw = re.sub(r'"time":(\d+)\}$', lambda m: '"time":%d}' % (int(m.group(1)) + 1), raw)
    return base64.b64encode(raw.encode()).decode()


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        try:
            with urllib.request.urlopen(UPSTREAM + self.path, context=CTX, timeout=20) as r:
                body, status = r.read(), r.status
        except urllib.error.HTTPError as e:
            body, status = e.read(), e.code
        path = self.path.split("?")[0]
        if MODE == "badsig" and path == "/v1/ledger/checkpoint":
            lines = body.decode().split("\n")
            for i, l in enumerate(lines):
                if l.startswith("\u2014 "):
                    name, sig = l.rsplit(" ", 1)
                    b = bytearray(base64.b64decode(sig))
                    b[-1] ^= 1
                    lines[i] = name + " " + base64.b64encode(bytes(b)).decode()
            body = "\n".join(lines).encode()
        if MODE in ("tamper", "time") and path == "/v1/ledger/entries":
            j = json.loads(body)
            for e in j.get("entries", []):
                if e.get("index") == AT:
                    e["leaf"] = alter_leaf(e["leaf"])
            body = json.dumps(j).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE, "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
