#!/usr/bin/env python3
"""An independent verifier of C2SP signed-note (Ed25519, type 0x01),
tlog-checkpoint, tlog-cosignature/v1 (type 0x04) and tlog-tiles, written
from the specifications at c2sp.org and RFC 6962 alone (none of Lodge's C),
for the interop checks of tests/e2e/test_witness.sh.  Ed25519 is python3's
`cryptography` package (Debian: python3-cryptography).

  c2sp_verify.py note FILE --log VKEY [--witness VKEY]... [--quorum N]
  c2sp_verify.py tiles DIR|file://DIR|http(s)://PREFIX --log VKEY
                 [--witness VKEY]... [--quorum N]

Prints "ok: ..." and exits 0 when everything verifies; prints the reason
and exits 1 otherwise.
"""
import argparse
import base64
import hashlib
import re
import struct
import sys
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EM_DASH = "\u2014"


class Invalid(Exception):
    pass


def b64(s):
    try:
        return base64.b64decode(s, validate=True)
    except Exception as e:
        raise Invalid("bad base64 %r: %s" % (s[:40], e))


class Verifier:
    """A verifier key "<name>+<hex key ID>+<base64(type || key)>"."""

    def __init__(self, text):
        m = re.fullmatch(r"([^+\s]+)\+([0-9a-f]{8})\+(\S+)", text.strip())
        if not m:
            raise Invalid("verifier key %r: expected name+id+key" % text)
        self.name = m.group(1)
        raw = b64(m.group(3))
        if len(raw) != 33 or raw[0] not in (0x01, 0x04):
            raise Invalid("verifier key %r: expected type 0x01 or 0x04 "
                          "and 32 bytes" % text)
        self.type, self.pub = raw[0], raw[1:]
        # key ID: SHA-256(name || "\n" || type || key)[:4]
        want = hashlib.sha256(self.name.encode() + b"\n" + raw).digest()[:4]
        if want.hex() != m.group(2):
            raise Invalid("verifier key %r: key ID %s, expected %s"
                          % (text, m.group(2), want.hex()))
        self.id = want
        self.key = Ed25519PublicKey.from_public_bytes(self.pub)

    def verify(self, text, sig):
        """Verify the signature bytes (after the key ID) over the note
        text; for a cosignature, the timestamped message."""
        if self.type == 0x01:
            if len(sig) != 64:
                raise Invalid("%s: signature of %d bytes" % (self.name,
                                                             len(sig)))
            msg = text
        else:
            if len(sig) != 8 + 64:
                raise Invalid("%s: cosignature of %d bytes" % (self.name,
                                                               len(sig)))
            (t,) = struct.unpack(">Q", sig[:8])
            if t >= 1 << 63:
                raise Invalid("%s: timestamp above 2^63-1" % self.name)
            msg = b"cosignature/v1\ntime %d\n" % t + text
            sig = sig[8:]
        try:
            self.key.verify(sig, msg)
        except InvalidSignature:
            raise Invalid("signature by %s does not verify" % self.name)


def open_note(data, log, witnesses):
    """Split a signed note into its text and signature lines, verify the
    log's signature and the witnesses' cosignatures; returns the text and
    the names of the witnesses whose cosignature verified."""
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("note is not UTF-8")
    for c in s:
        if (ord(c) < 0x20 and c != "\n") or ord(c) == 0x7F:
            raise Invalid("note holds control character %r" % c)
    i = s.rfind("\n\n")
    if i < 0 or not s.endswith("\n"):
        raise Invalid("note: no blank line before the signatures")
    text, sigs = s[: i + 1].encode(), s[i + 2:]
    log_ok, cosigned = False, set()
    for line in sigs[:-1].split("\n"):
        m = re.fullmatch(EM_DASH + r" (\S+) (\S+)", line)
        if not m:
            raise Invalid("bad signature line %r" % line[:60])
        raw = b64(m.group(2))
        if len(raw) < 5:
            raise Invalid("signature line %r too short" % line[:60])
        for v in [log] + witnesses:
            if v.name == m.group(1) and v.id == raw[:4]:
                v.verify(text, raw[4:])
                if v is log:
                    log_ok = True
                else:
                    cosigned.add(v.name)
    if not log_ok:
        raise Invalid("no valid signature by the log %s" % log.name)
    return text, cosigned


def parse_checkpoint(text):
    lines = text.decode().split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise Invalid("checkpoint: expected origin, size, root lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin:
        raise Invalid("checkpoint: empty origin")
    if not re.fullmatch(r"0|[1-9][0-9]*", size) or int(size) >= 1 << 64:
        raise Invalid("checkpoint: size %r" % size)
    r = b64(root)
    if len(r) != 32:
        raise Invalid("checkpoint: root is %d bytes" % len(r))
    return origin, int(size), r


# ---- RFC 6962 §2.1 ------------------------------------------------------

def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes):
    """MTH of leaves given by their leaf hashes."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


# ---- C2SP tlog-tiles ----------------------------------------------------

def tile_path(level, n, width):
    """tile/<L>/<N>[.p/<W>]; N in 3-digit groups, all but the last
    prefixed by 'x'."""
    groups = []
    while True:
        groups.append("%03d" % (n % 1000))
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    p = "tile/%s/" % level + "/".join(["x" + g for g in groups[:-1]]
                                       + [groups[-1]])
    if width < 256:
        p += ".p/%d" % width
    return p


def fetch(base, rel):
    if base.startswith("http://") or base.startswith("https://"):
        with urllib.request.urlopen(base.rstrip("/") + "/" + rel,
                                    timeout=30) as r:
            return r.read()
    if base.startswith("file://"):
        base = base[7:]
    with open(base.rstrip("/") + "/" + rel, "rb") as f:
        return f.read()


def check_tiles(base, size, root):
    # entry bundles: big-endian uint16 length, then the entry
    leaves = []
    for n in range((size + 255) // 256):
        width = min(256, size - n * 256)
        data = fetch(base, tile_path("entries", n, width))
        off, count = 0, 0
        while off < len(data):
            if off + 2 > len(data):
                raise Invalid("bundle %d: truncated length" % n)
            (ln,) = struct.unpack(">H", data[off:off + 2])
            if off + 2 + ln > len(data):
                raise Invalid("bundle %d: truncated entry" % n)
            leaves.append(leaf_hash(data[off + 2:off + 2 + ln]))
            off += 2 + ln
            count += 1
        if count != width:
            raise Invalid("bundle %d holds %d entries, expected %d"
                          % (n, count, width))
    if mth(leaves) != root:
        raise Invalid("the entries' RFC 6962 root is not the checkpoint's")
    # tiles: at level l, hash i of tile n is
    # MTH(D[(n*256+i)*256**l : (n*256+i+1)*256**l])
    ntiles, level = 0, 0
    while size >> (8 * level) > 0:
        span = 256 ** level
        count = size // span
        for n in range((count + 255) // 256):
            width = min(256, count - n * 256)
            data = fetch(base, tile_path(level, n, width))
            if len(data) != 32 * width:
                raise Invalid("%s: %d bytes" % (tile_path(level, n, width),
                                                len(data)))
            for i in range(width):
                lo = (n * 256 + i) * span
                if data[32 * i:32 * i + 32] != mth(leaves[lo:lo + span]):
                    raise Invalid("%s: hash %d is wrong"
                                  % (tile_path(level, n, width), i))
            ntiles += 1
        level += 1
    return len(leaves), ntiles


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["note", "tiles"])
    ap.add_argument("source")
    ap.add_argument("--log", required=True)
    ap.add_argument("--witness", action="append", default=[])
    ap.add_argument("--quorum", type=int)
    a = ap.parse_args()
    try:
        log = Verifier(a.log)
        if log.type != 0x01:
            raise Invalid("the log's key must be of type 0x01")
        witnesses = [Verifier(w) for w in a.witness]
        if any(w.type != 0x04 for w in witnesses):
            raise Invalid("a witness key must be of type 0x04")
        quorum = len(witnesses) if a.quorum is None else a.quorum
        if a.what == "note":
            with open(a.source, "rb") as f:
                data = f.read()
        else:
            data = fetch(a.source, "checkpoint")
        text, cosigned = open_note(data, log, witnesses)
        origin, size, root = parse_checkpoint(text)
        if len(cosigned) < quorum:
            raise Invalid("%d of the %d cosignatures required"
                          % (len(cosigned), quorum))
        extra = ""
        if a.what == "tiles":
            n, t = check_tiles(a.source, size, root)
            extra = "; %d entries and %d tiles match its root" % (n, t)
        print("ok: %s checkpoint %d signed by %s, cosigned by %s%s"
              % (origin, size, log.name,
                 ", ".join(sorted(cosigned)) or "no witness", extra))
        return 0
    except (Invalid, OSError) as e:
        print("invalid: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
