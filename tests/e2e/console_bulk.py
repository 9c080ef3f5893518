#!/usr/bin/env python3
"""Fill a test market with N leases for the console's figures
(tests/e2e/test_console.sh): an ask-only provider (no daemon) with room
for them all and a tenant posting N small orders that it wins, each
envelope signed here (python3-cryptography's Ed25519 over the canonical
JSON, as `ledger envelope` signs).  The leases are never started (no
manifest): they are what the market page lists.

  console_bulk.py --market URL --deposit-cmd "market deposit --data DIR" N
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Key:
    def __init__(self):
        self.k = Ed25519PrivateKey.generate()
        self.pub = "ed25519:" + b64url(self.k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def envelope(self, kind, body):
        e = {"body": body, "kind": kind, "nonce": os.urandom(16).hex(),
             "signer": self.pub, "time": int(time.time() * 1000)}
        e["sig"] = b64url(self.k.sign(canonical(e).encode()))
        return e


def post(market, env):
    req = urllib.request.Request(market + "/v1/entries", data=canonical(env).encode(), method="POST")
    try:
        return json.load(urllib.request.urlopen(req, timeout=30))
    except urllib.error.HTTPError as e:
        raise SystemExit("%s refused: %s %s" % (env["kind"], e.code, e.read().decode()[:300]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--market", required=True)
    ap.add_argument("--deposit-cmd", required=True)
    ap.add_argument("n", type=int)
    a = ap.parse_args()
    info = json.load(urllib.request.urlopen(a.market + "/v1/info"))
    fee = info["fees"]["default"]
    prov, ten = Key(), Key()
    cap = {"cpu_millis": 200 * a.n, "memory_bytes": 16 * 2**20 * a.n, "storage_bytes": 16 * 2**20 * a.n}
    bond = (info["bond"]["per_cpu"] * cap["cpu_millis"] + 999) // 1000 + \
        (info["bond"]["per_gib"] * cap["memory_bytes"] + 2**30 - 1) // 2**30
    deposit = 100000
    for key, amount in ((prov.pub, bond + fee * 10), (ten.pub, a.n * (deposit + fee) + fee)):
        subprocess.run(a.deposit_cmd + " %s %d" % (key, amount), shell=True, check=True,
                       stdout=subprocess.DEVNULL)
    post(a.market, prov.envelope("provider.advertise", {
        "api_url": "http://127.0.0.1:9", "attributes": {"tier": "bulk"}, "capacity": cap,
        "runtimes": ["process"], "price": {"denom": "uakt", "cpu_ms": 1}}))
    t0 = time.time()
    for i in range(a.n):
        r = post(a.market, ten.envelope("order.create", {
            "placement": "bulk", "attributes": {"tier": "bulk"},
            "resources": [{"service": "web", "count": 1, "cpu_millis": 100,
                           "memory_bytes": 16 * 2**20, "storage_bytes": 16 * 2**20, "price": 1000}],
            "denom": "uakt", "max_price": 1000, "runtimes": ["process"],
            "manifest_hash": "0" * 64, "deposit": deposit, "ttl_ms": 600000}))
        if not r.get("id"):
            raise SystemExit("order %d: no id" % i)
    leases = json.load(urllib.request.urlopen(a.market + "/v1/leases"))
    print("%d orders in %.1f s; the market has %d leases" % (a.n, time.time() - t0, len(leases)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
