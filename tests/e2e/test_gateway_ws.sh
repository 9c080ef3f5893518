#!/bin/sh
# WebSocket through the provider's gateway (issue 17): a lease's service
# is a real WebSocket echo server (tests/e2e/ws_echo.py, stdlib only) and
# the client python3-websocket.  After the 101 the gateway splices bytes
# both ways in its event loop: messages and a 1 MiB one come back intact,
# metered in the lease's egress; an upgrade the service does not take
# gets its plain answer; a client that never reads a flood costs the
# provider a bounded buffer while other requests are still answered.
. tests/e2e/lib.sh
need_root
need_tools jq curl
PY=/usr/bin/python3 # Debian's, with python3-websocket (make deps)
need "python3-websocket (make deps)" $PY -c 'import websocket'

check "market starts" cluster_market
check "provider p1 starts" cluster_provider p1 region=eu \
    cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
check "tenant alice is funded" cluster_tenant alice 1000000000
A="env XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant"

python3 - "$T/ws.yaml" "$ROOT/tests/e2e/ws_echo.py" << 'PYEOF'
import json, sys
out, src = sys.argv[1], open(sys.argv[2]).read()
open(out, "w").write(
    'version: "2.0"\nservices:\n  web:\n    image: host\n'
    '    command: ["python3"]\n    args: [%s, %s, "8080"]\n'
    '    expose:\n      - port: 8080\n        as: 80\n        to:\n'
    '          - global: true\n' % (json.dumps("-c"), json.dumps(src)) +
    "profiles:\n  compute:\n    p:\n      resources:\n        cpu:\n"
    "          units: 0.25\n        memory:\n          size: 64Mi\n"
    "        storage:\n          size: 16Mi\n  placement:\n    anywhere:\n"
    "      pricing:\n        p:\n          denom: uakt\n"
    "          amount: 100000\n"
    "deployment:\n  web:\n    anywhere:\n      profile: p\n      count: 1\n")
PYEOF
check "alice deploys a WebSocket echo service" \
    to "$T/a.json" $A deploy "$T/ws.yaml" --timeout 30 --json
L=$(jq -r '.orders[0].lease' "$T/a.json")
WS="ws://127.0.0.1:${p1_URL##*:}/l/$L/web/chat"
check "its plain answer comes through the gateway" until_ok 10 sh -c \
    "curl -sf -m 2 $p1_URL/l/$L/web/ | grep -q 'not a websocket'"
egress() { curl -s "$MARKET/v1/leases/$L" > /dev/null; \
    $A status "$L" --json | jq '.provider.usage.egress_bytes // 0'; }
E0=$(egress)

cat > "$T/client.py" << 'PYEOF'
import sys, time, websocket
url, what = sys.argv[1], sys.argv[2]
if what == "echo":
    ws = websocket.create_connection(url, timeout=10)
    for i in range(100):
        ws.send("message %d" % i)
        assert ws.recv() == "message %d" % i, i
    big = bytes(range(256)) * 4096
    ws.send_binary(big)
    got = b""
    while len(got) < len(big):
        got += ws.recv()
    assert got == big
    ws.close()
    print("echoed 100 messages and 1 MiB")
elif what == "refused":
    try:
        websocket.create_connection(url, timeout=10)
        print("upgraded?!")
    except websocket.WebSocketBadStatusException as e:
        print("refused with status %d" % e.status_code)
elif what == "noread":
    ws = websocket.create_connection(url, timeout=10)
    ws.send("flood")
    print("flooding", flush=True)
    time.sleep(float(sys.argv[3]))  # never reads
    ws.sock.close()
PYEOF
check "100 messages and a 1 MiB one come back intact through the gateway" \
    sh -c "$PY $T/client.py $WS echo | grep -q 'echoed 100 messages and 1 MiB'"
check "the spliced bytes are metered in the lease's egress (>= 1 MiB more)" \
    until_ok 10 sh -c "[ \$(( \$($A status $L --json | jq '.provider.usage.egress_bytes // 0') - $E0 )) -ge 1048576 ]"
check "an upgrade the service does not take gets its answer (200), no splice" \
    sh -c "$PY $T/client.py ws://127.0.0.1:${p1_URL##*:}/l/$L/web/no-upgrade refused | grep -q 'refused with status 200'"

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$p1_PID/status"; }
R0=$(rss)
$PY "$T/client.py" "$WS" noread 6 > "$T/noread.out" 2>&1 &
NOREAD=$!
PIDS="$PIDS $NOREAD"
until_ok 10 grep -q flooding "$T/noread.out" > /dev/null
sleep 3
R1=$(rss)
echo "# provider RSS: $R0 KiB before, $R1 KiB with a client not reading a flood"
check "a client that never reads a flood: the provider grows < 16 MiB" \
    sh -c "[ \$(( $R1 - $R0 )) -lt 16384 ]"
check "  while other requests through the gateway are answered" sh -c \
    "curl -sf -m 2 $p1_URL/l/$L/web/ | grep -q 'not a websocket'"
check "  and another WebSocket still echoes" \
    sh -c "$PY $T/client.py $WS echo | grep -q echoed"
wait $NOREAD
finish
