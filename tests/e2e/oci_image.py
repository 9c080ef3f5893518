#!/usr/bin/env python3
"""Write an OCI image layout (image-spec v1.1: oci-layout, index.json,
blobs/sha256/...) from a JSON spec, without Docker, for the image tests
and the bench to push with `skopeo copy oci:DIR:TAG docker://...`.

usage: oci_image.py SPEC.json OUTDIR

SPEC is {"tag": "v1", "images": [IMAGE, ...]}; one image gives a manifest,
several an image index (one entry per image's platform).  IMAGE is
  {"arch": "amd64", "variant": null, "config": {...Docker config...},
   "compression": "gzip" | "none",
   "layers": [[ENTRY, ...], ...]}
ENTRY is a list:
  ["d", path, mode]                 directory
  ["f", path, mode, text]           file with that text
  ["rand", path, size, seed]        file of `size` pseudo-random bytes
  ["text", path, size]              file of `size` bytes of compressible text
  ["l", path, target]               symlink
  ["h", path, target]               hard link to an earlier entry
  ["zeros", path, size]             file of `size` zero bytes (a bomb)
  ["wh", dir, name]                 whiteout of dir/name (dir/.wh.name)
  ["opq", dir]                      opaque marker (dir/.wh..wh..opq)
  ["c", path, major, minor]         character device
  ["host", path, host_path, mode]   file copied from the host (a static
                                    busybox makes a root that really runs)
A path is written as given ("../x" and "/x" too: hostile layers).
"""
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile


def blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def text_bytes(size):
    line = b"the quick brown fox jumps over the lazy dog 0123456789\n"
    return (line * (size // len(line) + 1))[:size]


def layer_tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            kind, path = e[0], e[1]
            info = tarfile.TarInfo(path)
            info.mtime = 1700000000
            data = None
            if kind == "d":
                info.type = tarfile.DIRTYPE
                info.mode = e[2]
            elif kind == "f":
                data = e[3].encode()
                info.mode = e[2]
            elif kind == "rand":
                data = random.Random(e[3]).randbytes(e[2])
                info.mode = 0o644
            elif kind == "text":
                data = text_bytes(e[2])
                info.mode = 0o644
            elif kind == "zeros":
                data = bytes(e[2])
                info.mode = 0o644
            elif kind == "host":
                with open(e[2], "rb") as f:
                    data = f.read()
                info.mode = e[3]
            elif kind == "c":
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = e[2], e[3]
                info.mode = 0o666
            elif kind == "l":
                info.type = tarfile.SYMTYPE
                info.linkname = e[2]
                info.mode = 0o777
            elif kind == "h":
                info.type = tarfile.LNKTYPE
                info.linkname = e[2]
                info.mode = 0o644
            elif kind == "wh":
                info.name = os.path.join(e[1], ".wh." + e[2])
                data = b""
                info.mode = 0o644
            elif kind == "opq":
                info.name = os.path.join(e[1], ".wh..wh..opq")
                data = b""
                info.mode = 0o644
            else:
                raise SystemExit("unknown entry kind %r" % kind)
            if data is not None:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)
    return buf.getvalue()


def image(out, img):
    layers, diff_ids = [], []
    gz = img.get("compression", "gzip") == "gzip"
    for entries in img["layers"]:
        raw = layer_tar(entries)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        data = gzip.compress(raw, compresslevel=6, mtime=0) if gz else raw
        d, n = blob(out, data)
        layers.append({
            "mediaType": "application/vnd.oci.image.layer.v1.tar"
                         + ("+gzip" if gz else ""),
            "digest": d, "size": n})
    config = {
        "architecture": img.get("arch", "amd64"), "os": "linux",
        "config": img.get("config", {}),
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if img.get("variant"):
        config["variant"] = img["variant"]
    cd, cn = blob(out, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cd, "size": cn},
        "layers": layers,
    }
    md, mn = blob(out, json.dumps(manifest).encode())
    platform = {"architecture": config["architecture"], "os": "linux"}
    if img.get("variant"):
        platform["variant"] = img["variant"]
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": mn, "platform": platform}


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    spec = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    descs = [image(out, img) for img in spec["images"]]
    if len(descs) == 1:
        top = descs[0]
    else:
        index = {"schemaVersion": 2,
                 "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": descs}
        d, n = blob(out, json.dumps(index).encode())
        top = {"mediaType": "application/vnd.oci.image.index.v1+json",
               "digest": d, "size": n}
    top = dict(top)
    top.pop("platform", None)
    top["annotations"] = {"org.opencontainers.image.ref.name": spec["tag"]}
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)
    print(top["digest"])


main()
