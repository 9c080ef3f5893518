#!/bin/sh
# A provider without root (uid 65534 via setpriv): its sandboxes get their
# own user namespace, metering falls back to rusage, and the gateway
# reaches the lease's loopback through its helper process (user namespace,
# then network namespace, socket passed back).  A restart re-adopts the
# sandbox without root too.
. tests/e2e/lib.sh
need "root (to drop it to uid 65534): run as root" [ "$(id -u)" = 0 ]
need_tools setpriv jq curl
need "/usr/bin/python3 for the example workload (make deps installs python3)" \
    test -x /usr/bin/python3
AS="setpriv --reuid 65534 --regid 65534 --clear-groups"
need "setpriv to drop root to uid 65534" $AS true
CLUSTER_AS=$AS
chmod 755 "$T"

check "market starts" cluster_market
mkdir -p "$CL/p" && chown 65534:65534 "$CL/p"
check "provider init and run without root" cluster_provider p region=test \
    cpu_ms=1000000,mem_mb_s=100000,request=1000000
CLUSTER_AS=
P=$p_URL
check "the provider runs as uid 65534" \
    grep -q '^Uid:[[:space:]]*65534' "/proc/$p_PID/status"

check "the tenant gets a key and funds" cluster_tenant alice 100000000
TKEY=$CL/alice/lodge/tenant.key
SDL=examples/hello-http/deploy.yaml
$BIN/sdl manifest $SDL | tr -d "\n" >"$T/manifest.json" # its canonical bytes
O=$($BIN/sdl orders $SDL | jq -c '.[0] + {deposit: 50000000, ttl_ms: 600000}')
LID=$($BIN/ledger envelope --key "$TKEY" --kind order.create --body "$O" |
    curl -s -XPOST --data-binary @- "$MARKET/v1/entries" | jq -r '.id // empty')
check "the order is matched to a lease" until_ok 5 sh -c \
    "curl -sf $MARKET/v1/orders/$LID | grep -q '\"lease\":\"l-'"
LID=$(mget "/v1/orders/$LID" .lease)
until_ok 5 grep -q "lease $LID: created" "$CL/p.log" >/dev/null
check "the manifest is accepted" $BIN/provider request --key "$TKEY" \
    --body "$T/manifest.json" POST $P/v1/leases/$LID/manifest
check "the gateway reaches the service through its helper" until_ok 10 \
    sh -c "curl -sf -m 2 $P/l/$LID/web/ | grep -q 'Directory listing'"
XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market "$MARKET" exec "$LID" web -- \
    sh -c 'cat /proc/1/comm; grep -E "^(CapEff|NoNewPrivs):" /proc/self/status; exit 3' \
    < /dev/null > "$T/exec.out" 2>&1
check "tenant exec without root: inside the sandbox, its status (3)" sh -c "
	[ $? = 3 ] && grep -qx lodge-init $T/exec.out &&
	grep -q '^CapEff:.0000000000000000' $T/exec.out &&
	grep -q '^NoNewPrivs:.1' $T/exec.out" || cat "$T/exec.out"
# The exec helper (and so its child until the command's exec, before its
# seccomp filter) is not dumpable: the workload, of the same uid, cannot
# open its /proc/PID/mem (a non-dumpable process's /proc files are root's)
( XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market "$MARKET" exec "$LID" web -- \
    sleep 4 < /dev/null > /dev/null 2>&1 ) &
PIDS="$PIDS $!"
until_ok 5 pgrep -P "$p_PID" -f "sandbox enter --pid" > /dev/null
EH=$(pgrep -P "$p_PID" -f "sandbox enter --pid" | head -1)
check "the exec helper runs as uid 65534 and is not dumpable" sh -c "
	[ -n '$EH' ] && grep -q '^Uid:[[:space:]]*65534' /proc/$EH/status &&
	[ \$(stat -c %u /proc/$EH/mem) = 0 ]"
XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market "$MARKET" exec "$LID" web -- \
    sh -c 'cat /proc/1/environ | tr "\0" "\n"; cat /proc/1/maps | head -3' \
    < /dev/null > "$T/initenv.out" 2>&1
check "the workload cannot read its init's environment or memory map (the provider's)" sh -c "
	grep -q 'Permission denied' $T/initenv.out &&
	! grep -q '^PATH=\|^HOME=\|^XDG\|/provider' $T/initenv.out" || cat "$T/initenv.out"
check "two requests on one client connection are both served" sh -c \
    "test \$(curl -sf -m 2 $P/l/$LID/web/ $P/l/$LID/web/ | grep -c '<h1>') = 2"
check "usage is reported, metered by rusage" until_ok 5 sh -c \
    "curl -s $MARKET/v1/leases/$LID | grep -q '\"requests\":[1-9]'"
SB=$($BIN/provider request --key "$TKEY" GET $P/v1/leases/$LID/status 2>/dev/null |
    jq -r '.replicas[0].pid')
check "SIGTERM stops the provider" sh -c \
    "kill -TERM $p_PID; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $p_PID 2>/dev/null || exit 0; sleep 0.3; done; exit 1"
check "its sandbox (pid $SB) keeps running, for the next start" \
    sh -c "[ -n '$SB' ] && kill -0 $SB"
CLUSTER_AS=$AS
check "the provider restarts without root" cluster_provider_start p
CLUSTER_AS=
P=$p_URL
check "the restarted provider re-adopts it without root" until_ok 10 \
    grep -q "re-adopted (pid $SB)" "$CL/p.log"
check "the gateway reaches the adopted service through its helper" \
    until_ok 10 sh -c "curl -sf -m 2 $P/l/$LID/web/ | grep -q 'Directory listing'"
$BIN/ledger envelope --key "$TKEY" --kind lease.close \
    --body "{\"lease\":\"$LID\",\"reason\":\"tenant_closed\"}" |
    curl -s -XPOST --data-binary @- $MARKET/v1/entries >/dev/null
check "closing the lease stops the adopted sandbox" until_ok 10 sh -c \
    "! kill -0 $SB 2>/dev/null"
finish
