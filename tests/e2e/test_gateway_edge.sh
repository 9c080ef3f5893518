#!/bin/sh
# The provider's gateway at the edge, attacked and used, over TLS (a
# lease's service is tests/e2e/gw_edge_up.py, the provider runs with
# `ulimit -n 256`): a POST on a kept connection the service acted on and
# then closed reaches it once (502), a GET goes again and is answered;
# the client's own X-Forwarded-For / X-Real-IP / Forwarded /
# X-Forwarded-Proto are dropped and the gateway's written (proto https);
# a target of 8192 bytes goes whole, one of 8193 gets 414; a flood of
# slow requests past the descriptor budget gets answers and refusals
# (503, or a close at the accept: a TLS client cannot read the plain
# 503), never a 502, and the provider serves on.  Plain HTTP's
# X-Forwarded-Proto http is tests/unit/test_gateway.c's.
LODGE_INSECURE_HTTP= # TLS everywhere: the gateway's clients come over TLS
. tests/e2e/lib.sh
need_root
need_tools jq curl python3

# The provider (init, bond, run) with few descriptors: 256, of which
# the HTTP server keeps 64 for the rest of the daemon (http.h).
printf 'ulimit -n 256 || exit 1\nexec "$@"\n' > "$T/lowfd.sh"
check "market starts" cluster_market
CLUSTER_AS="sh $T/lowfd.sh"
check "provider p1 starts with ulimit -n 256" cluster_provider p1 region=eu \
    cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
CLUSTER_AS=
check "  its limit is 256" \
    grep -Eq '^Max open files +256 +256' "/proc/$p1_PID/limits"
check "tenant alice is funded" cluster_tenant alice 1000000000
A="env XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant"

python3 - "$T/up.yaml" "$ROOT/tests/e2e/gw_edge_up.py" << 'PYEOF'
import json, sys
out, src = sys.argv[1], open(sys.argv[2]).read()
open(out, "w").write(
    'version: "2.0"\nservices:\n  web:\n    image: host\n'
    '    command: ["python3"]\n    args: [%s, %s, "8080"]\n'
    '    expose:\n      - port: 8080\n        as: 80\n        to:\n'
    '          - global: true\n' % (json.dumps("-c"), json.dumps(src)) +
    "profiles:\n  compute:\n    p:\n      resources:\n        cpu:\n"
    "          units: 0.5\n        memory:\n          size: 128Mi\n"
    "        storage:\n          size: 16Mi\n  placement:\n    anywhere:\n"
    "      pricing:\n        p:\n          denom: uakt\n"
    "          amount: 100000\n"
    "deployment:\n  web:\n    anywhere:\n      profile: p\n      count: 1\n")
PYEOF
check "alice deploys the service" \
    to "$T/a.json" $A deploy "$T/up.yaml" --timeout 30 --json
L=$(jq -r '.orders[0].lease' "$T/a.json")
G="$p1_URL/l/$L/web"
check "it answers through the gateway" until_ok 10 sh -c \
    "curl -sf -m 2 $G/echo | grep -q target_len"
echo "# provider descriptors before the flood: $(ls /proc/$p1_PID/fd | wc -l)"

# ---- 1. a request is sent again only when it is safe to repeat -------
# The gateway keeps its connection to the service from /echo for the
# next request (/die); a POST without a body (Content-Length: 0) was
# the one sent twice before.
curl -s -m 5 -o /dev/null "$G/echo"
curl -s -m 5 -o "$T/die.out" -w '%{http_code}' -d '' "$G/die" > "$T/die.code"
check "a POST on a kept connection the service closed after acting: 502" \
    grep -qx 502 "$T/die.code"
check "  and it reached the service once, never twice" \
    sh -c "[ \$(curl -s -m 5 $G/count | jq -r '.POST // 0') = 1 ]"
curl -s -m 5 -o /dev/null "$G/echo"
curl -s -m 5 -o "$T/die.out" -w '%{http_code}' "$G/die" > "$T/die.code"
check "a GET there goes again on a new connection and is answered" \
    sh -c "grep -qx 200 $T/die.code && grep -qx survived $T/die.out"
check "  (it reached the service twice: safe to repeat)" \
    sh -c "[ \$(curl -s -m 5 $G/count | jq -r '.GET // 0') = 2 ]"

# ---- 2. the forwarding fields are the gateway's --------------------------
curl -s -m 5 -H 'X-Forwarded-For: 6.6.6.6' -H 'X-Real-IP: 6.6.6.6' \
    -H 'Forwarded: for=6.6.6.6;proto=http' -H 'X-Forwarded-Proto: http' \
    -H 'X-App: kept' "$G/echo" > "$T/echo.json"
check "a client's own X-Forwarded-For, X-Real-IP, Forwarded are dropped" \
    sh -c "! grep -q 6.6.6.6 $T/echo.json"
check "  X-Forwarded-For and X-Real-IP are the peer the gateway saw" \
    sh -c "[ \"\$(jq -c '[.fields[\"x-forwarded-for\"], .fields[\"x-real-ip\"]]' $T/echo.json)\" = '[[\"127.0.0.1\"],[\"127.0.0.1\"]]' ]"
check "  Forwarded says for= and proto= (RFC 7239); the client came over" \
    sh -c "[ \"\$(jq -c '[.fields.forwarded, .fields[\"x-forwarded-proto\"]]' $T/echo.json)\" = '[[\"for=127.0.0.1;proto=https\"],[\"https\"]]' ]"
check "  the client's other fields still pass" \
    sh -c "[ \"\$(jq -c '.fields[\"x-app\"]' $T/echo.json)\" = '[\"kept\"]' ]"

# ---- 3. request targets: whole up to 8192 bytes, 414 past ----------------
pad() { python3 -c "import sys; print('/echo' + 'a' * (int(sys.argv[1]) - 5))" "$1"; }
curl -s -m 5 "$G$(pad 8192)" > "$T/long.json"
check "a target of 8192 bytes reaches the service whole" \
    sh -c "[ \$(jq .target_len $T/long.json) = 8192 ]"
check "a target of 8193 bytes is answered 414, not cut short" \
    sh -c "[ \$(curl -s -m 5 -o /dev/null -w '%{http_code}' $G$(pad 8193)) = 414 ]"
check "  by host name too (the lease's own origin)" \
    sh -c "[ \$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Host: $L-web.lodge.localhost' $p1_URL$(pad 8193)) = 414 ]"

# ---- 4. descriptors: upstream sockets count --------------------------------
cat > "$T/flood.py" << 'PYEOF'
import socket, ssl, sys, threading
url, n = sys.argv[1], int(sys.argv[2])
host, port = url.split("//")[1].split("/")[0].split(":")
path = "/" + url.split("//")[1].split("/", 1)[1]
res = {}
lock = threading.Lock()
def one(i):
    s = socket.socket()
    s.settimeout(30)
    what = "closed"
    try:
        s.connect((host, int(port)))
        if url.startswith("https:"):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        b = b""
        while b"\r\n" not in b:
            d = s.recv(4096)
            if not d:
                break
            b += d
        if b"\r\n" in b:
            what = b.split(b" ")[1].decode()
    except OSError:
        pass
    s.close()
    with lock:
        res[what] = res.get(what, 0) + 1
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(" ".join("%s=%d" % kv for kv in sorted(res.items())))
PYEOF
python3 "$T/flood.py" "$G/slow?ms=3000" 200 > "$T/flood.out" 2>&1
echo "# 200 slow requests at once: $(cat "$T/flood.out")"
check "a flood past the descriptor budget: only 200, 503 or closed, no 502" \
    awk '{ for (i = 1; i <= NF; i++) { split($i, a, "=");
        if (a[1] != "200" && a[1] != "503" && a[1] != "closed") bad = 1 } }
        END { exit bad }' "$T/flood.out"
check "  some are answered 200" grep -Eq '(^| )200=' "$T/flood.out"
check "  the rest refused (503 or closed at the accept): the budget held" \
    grep -Eq '(^| )(503|closed)=' "$T/flood.out"
check "the provider is still running" kill -0 "$p1_PID"
check "  and serves through the gateway after the flood" \
    sh -c "curl -sf -m 5 $G/echo | grep -q target_len"
check "  and its API" sh -c "curl -sf -m 5 $p1_URL/healthz | grep -q ok"
finish
