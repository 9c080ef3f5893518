#!/bin/sh
# A provider without root (uid 65534 via setpriv): its sandboxes get their
# own user namespace, metering falls back to rusage, and the gateway
# reaches the lease's loopback through its helper process (user namespace,
# then network namespace, socket passed back).  A restart re-adopts the
# sandbox without root too.
. tests/e2e/lib.sh
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 &&
    [ -x /usr/bin/python3 ] || {
	echo "ok - skipped: needs root (to drop it), setpriv and python3"
	exit 0; }
AS="setpriv --reuid 65534 --regid 65534 --clear-groups"
$AS true 2>/dev/null || { echo "ok - skipped: setpriv cannot drop root"; exit 0; }
port_of() { sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$1"; }
wait_for() {
	end=$(($(date +%s) + $1)); shift
	while [ "$(date +%s)" -le $end ]; do "$@" >/dev/null 2>&1 && return 0
		sleep 0.1; done
	return 1
}
chmod 755 "$T"
$BIN/market run --data "$T/m" --listen 127.0.0.1:0 --epoch 1 \
    >"$T/market.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/m/market.json"
M=http://127.0.0.1:$(port_of "$T/m/market.json" listen_port)
mkdir -p "$T/p" && chown 65534:65534 "$T/p"
check "provider init without root" \
    $AS $BIN/provider init --market $M --data "$T/p" --listen 127.0.0.1:0
$AS $BIN/provider run --data "$T/p" --log-level debug >"$T/provider.log" 2>&1 &
PPID_=$!
PIDS="$PIDS $PPID_"
wait_for 10 test -s "$T/p/run.json"
P=http://127.0.0.1:$(port_of "$T/p/run.json" port)

TEN=$($BIN/ledger keygen "$T/tenant.key")
$BIN/market deposit --data "$T/m" "$TEN" 100000000 >/dev/null
SDL=examples/hello-http/deploy.yaml
$BIN/sdl manifest $SDL >"$T/manifest.json"
O=$($BIN/sdl orders $SDL | python3 -c 'import json,sys; o=json.load(sys.stdin)[0]; o["deposit"]=50000000; o["ttl_ms"]=600000; print(json.dumps(o))')
$BIN/ledger envelope --key "$T/tenant.key" --kind order.create --body "$O" |
    curl -s -XPOST --data-binary @- $M/v1/entries >/dev/null
wait_for 5 grep -q "lease l-4: created" "$T/provider.log"
check "the manifest is accepted" $BIN/provider request --key "$T/tenant.key" \
    --body "$T/manifest.json" POST $P/v1/leases/l-4/manifest
check "the gateway reaches the service through its helper" wait_for 10 \
    sh -c "curl -sf -m 2 $P/l/l-4/web/ | grep -q 'Directory listing'"
check "two requests on one client connection are both served" sh -c \
    "test \$(curl -sf -m 2 $P/l/l-4/web/ $P/l/l-4/web/ | grep -c '<h1>') = 2"
check "usage is reported, metered by rusage" wait_for 5 sh -c \
    "curl -s $M/v1/leases/l-4 | grep -q '\"requests\":[1-9]'"
SB=$($BIN/provider request --key "$T/tenant.key" GET $P/v1/leases/l-4/status 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["replicas"][0]["pid"])')
check "SIGTERM stops the provider" sh -c \
    "kill -TERM $PPID_; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $PPID_ 2>/dev/null || exit 0; sleep 0.3; done; exit 1"
check "its sandbox (pid $SB) keeps running, for the next start" \
    sh -c "[ -n '$SB' ] && kill -0 $SB"
rm -f "$T/p/run.json"
$AS $BIN/provider run --data "$T/p" --log-level debug >>"$T/provider.log" 2>&1 &
PPID_=$!
PIDS="$PIDS $PPID_"
check "the restarted provider re-adopts it without root" wait_for 10 \
    grep -q "re-adopted (pid $SB)" "$T/provider.log"
wait_for 10 test -s "$T/p/run.json"
P=http://127.0.0.1:$(port_of "$T/p/run.json" port)
check "the gateway reaches the adopted service through its helper" \
    wait_for 10 sh -c "curl -sf -m 2 $P/l/l-4/web/ | grep -q 'Directory listing'"
$BIN/ledger envelope --key "$T/tenant.key" --kind lease.close \
    --body '{"lease":"l-4","reason":"tenant_closed"}' |
    curl -s -XPOST --data-binary @- $M/v1/entries >/dev/null
check "closing the lease stops the adopted sandbox" wait_for 10 sh -c \
    "! kill -0 $SB 2>/dev/null"
finish
