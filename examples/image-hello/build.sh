#!/bin/sh
# Build lodge/hello:1.0 without Docker: an OCI layout (tests/e2e/
# oci_image.py) whose root is the host's static busybox and a start
# script, pushed with skopeo to the registry REG (host:port).
# usage: build.sh REG OUTDIR
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REG=$1
OUT=$2
BUSYBOX=$(command -v busybox)
python3 - "$OUT/spec.json" "$BUSYBOX" << 'PY'
import json, sys
start = """#!/bin/sh
mkdir -p /www
echo "$GREETING (uid $(id -u) inside, image user root)" > /www/index.html
exec httpd -f -p 80 -h /www
"""
json.dump({"tag": "1.0", "images": [{"arch": "amd64",
    "config": {"Entrypoint": ["/start.sh"],
               "Env": ["GREETING=hello"], "ExposedPorts": {"80/tcp": {}}},
    "layers": [[["d", "bin", 493], ["host", "bin/busybox", sys.argv[2], 493]]
               + [["l", "bin/" + a, "busybox"]
                  for a in ("sh", "httpd", "id", "mkdir", "echo")],
               [["f", "start.sh", 493, start],
                ["d", "etc", 493],
                ["f", "etc/passwd", 420, "root:x:0:0:root:/root:/bin/sh\n"]]]
    }]}, open(sys.argv[1], "w"))
PY
python3 "$ROOT/tests/e2e/oci_image.py" "$OUT/spec.json" "$OUT/layout" > /dev/null
skopeo --insecure-policy copy -q --dest-tls-verify=false \
    "oci:$OUT/layout:1.0" "docker://$REG/lodge/hello:1.0"
