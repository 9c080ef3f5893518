#!/bin/sh
# Provider end to end on loopback: a market (epoch 1 s) and a provider in
# $T; a tenant funds an order for examples/hello-http (a `host` service,
# python3's http.server) by hand-signed envelopes; the provider sees the
# lease, takes the tenant-signed manifest (and refuses others), runs it in
# a sandbox, serves it through its gateway (by path and by Host), reports
# usage every epoch (charged), survives kill -9 without double counting
# (the sandbox outlives it and is re-adopted), clones a git+http image
# from a host the owner allows (git+file is refused), and stops the
# sandbox when the tenant closes the lease.
. tests/e2e/lib.sh
command -v python3 >/dev/null 2>&1 && [ -x /usr/bin/python3 ] || {
	echo "ok - skipped: no /usr/bin/python3 for the example workload"
	exit 0; }
[ "$(id -u)" = 0 ] || { echo "ok - skipped: the gateway needs root"; exit 0; }

port_of() { sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$1"; }
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds, or time is up
	end=$(($(date +%s) + $1)); shift
	while [ "$(date +%s)" -le $end ]; do "$@" >/dev/null 2>&1 && return 0
		sleep 0.1; done
	return 1
}
# json EXPR: evaluate EXPR over the JSON on stdin as d (a script, so
# that sh -c checks can use it too).
cat >"$T/json" <<'PY'
#!/usr/bin/python3
import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))
PY
chmod +x "$T/json"
json() { "$T/json" "$1"; }

$BIN/market run --data "$T/m" --listen 127.0.0.1:0 --epoch 1 \
    >"$T/market.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/m/market.json"
M=http://127.0.0.1:$(port_of "$T/m/market.json" listen_port)

# A git smart-HTTP server on loopback, which the owner allows.
mkdir -p "$T/srv"
python3 tests/e2e/git_http.py "$T/srv" "$T/git.port" "$T/git.log" \
    >/dev/null 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/git.port"
GITPORT=$(cut -d' ' -f1 "$T/git.port")

check "provider init detects capacity and prints the advertisement" \
    sh -c "$BIN/provider init --market $M --data $T/p --listen 127.0.0.1:0 \
    --attributes region=test --stop-grace 1000 \
    --allow-fetch 127.0.0.1:$GITPORT \
    --price denom=uakt,cpu_ms=1000000,mem_mb_s=100000,request=1000000 \
    >$T/init.out && grep -q '\"region\": \"test\"' $T/init.out && \
    grep -q millicores $T/init.out && test -f $T/p/provider.key"
check_fails "provider init refuses a bad price" "not one of" \
    $BIN/provider init --market $M --data "$T/p2" --price bogus=1

start_provider() {
	rm -f "$T/p/run.json"
	$BIN/provider run --data "$T/p" --log-level debug >>"$T/provider.log" 2>&1 &
	PPID_=$!
	PIDS="$PIDS $PPID_"
	wait_for 10 test -s "$T/p/run.json"
	P=http://127.0.0.1:$(port_of "$T/p/run.json" port)
}
start_provider
PKEY=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' "$T/p/run.json")
check "provider advertises itself" wait_for 5 sh -c \
    "curl -sf $M/v1/providers | grep -q '$PKEY'"

TEN=$($BIN/ledger keygen "$T/tenant.key")
$BIN/ledger keygen "$T/other.key" >/dev/null
$BIN/market deposit --data "$T/m" "$TEN" 100000000 >/dev/null
SDL=examples/hello-http/deploy.yaml
$BIN/sdl manifest $SDL >"$T/manifest.json"
ORDER=$($BIN/sdl orders $SDL | json 'json.dumps(dict(d[0], deposit=50000000, ttl_ms=600000))')
OID=$($BIN/ledger envelope --key "$T/tenant.key" --kind order.create \
    --body "$ORDER" | curl -s -XPOST --data-binary @- $M/v1/entries | json 'd["id"]')
check "the order is matched to the provider" wait_for 5 sh -c \
    "curl -sf $M/v1/orders/$OID | grep -q '\"status\":\"matched\"'"
LID=$(curl -s $M/v1/orders/$OID | json 'd["lease"]')
check "the provider sees its lease on the event stream" wait_for 5 \
    grep -q "lease $LID: created" "$T/provider.log"

REQ="$BIN/provider request"
req() { $REQ "$@" 2>/dev/null; }
check_fails "a manifest signed by another key is refused (403)" "HTTP 403" \
    $REQ --key "$T/other.key" --body "$T/manifest.json" POST $P/v1/leases/$LID/manifest
sed 's/"GREETING":"hello"/"GREETING":"bye"/' "$T/manifest.json" >"$T/bad.json"
check_fails "a manifest with another hash is refused (409, both hashes)" \
    "does not match the order" \
    req --key "$T/tenant.key" --body "$T/bad.json" POST $P/v1/leases/$LID/manifest
check_fails "an unsigned manifest is refused (401)" "HTTP 401" \
    sh -c "curl -s -XPOST --data-binary @$T/manifest.json -w 'HTTP %{http_code}' $P/v1/leases/$LID/manifest; exit 1"
check_fails "an unknown lease is 404" "HTTP 404" \
    $REQ --key "$T/tenant.key" --body "$T/manifest.json" POST $P/v1/leases/l-999/manifest
check "the tenant's manifest is accepted" \
    req --key "$T/tenant.key" --body "$T/manifest.json" POST $P/v1/leases/$LID/manifest
check "lease.started reaches the ledger" wait_for 10 sh -c \
    "curl -sf $M/v1/leases/$LID | grep -q '\"status\":\"active\"'"
check "the service answers through the gateway by path" wait_for 10 sh -c \
    "curl -sf -m 2 $P/l/$LID/web/ | grep -q 'Directory listing'"
check "the service answers through the gateway by Host" sh -c \
    "curl -sf -m 2 -H 'Host: $LID-web.lodge.localhost' $P/ | grep -q 'Directory listing'"
check "an unknown service is 404 at the gateway" sh -c \
    "test \$(curl -s -o /dev/null -w '%{http_code}' $P/l/$LID/nope/) = 404"
check "the tenant reads status" sh -c \
    "$REQ --key $T/tenant.key GET $P/v1/leases/$LID/status | grep -q '\"state\":\"running\"'"
check "the tenant reads logs" sh -c \
    "$REQ --key $T/tenant.key GET $P/v1/leases/$LID/logs | grep -q 'GET / HTTP'"
check_fails "another key gets 403 on status" "HTTP 403" \
    $REQ --key "$T/other.key" GET $P/v1/leases/$LID/status
check_fails "another key gets 403 on logs" "HTTP 403" \
    $REQ --key "$T/other.key" GET "$P/v1/leases/$LID/logs?follow=1"

printf 'a module' >"$T/blob"
BSHA=$(sha256sum "$T/blob" | cut -c1-64)
check "the tenant uploads a blob, stored under its sha256" sh -c \
    "$REQ --key $T/tenant.key --body $T/blob PUT $P/v1/leases/$LID/blobs/$BSHA && \
     cmp $T/blob $T/p/cache/sha256/$BSHA"
check_fails "a blob whose bytes hash otherwise is refused (409)" "HTTP 409" \
    $REQ --key "$T/tenant.key" --body "$T/blob" PUT \
    $P/v1/leases/$LID/blobs/0000000000000000000000000000000000000000000000000000000000000000
HDR=$($REQ --key "$T/tenant.key" --sign-only GET "$P/v1/leases/$LID/logs?follow=1")
(sleep 0.5; curl -s -m 2 $P/l/$LID/web/?from=follow >/dev/null) &
curl -s -N -m 3 -H "$HDR" "$P/v1/leases/$LID/logs?follow=1" >"$T/follow.out"
check "logs?follow=1 streams new output" grep -q 'from=follow' "$T/follow.out"

usage() { curl -s $M/v1/leases/$LID | json "d['usage']['$1']"; }
check "usage entries arrive with requests counted" wait_for 5 sh -c \
    "[ \$(curl -s $M/v1/leases/$LID | $T/json \"d['usage']['requests']\") -ge 2 ]"
check "usage is charged to the tenant and paid to the provider" sh -c \
    "[ \$(curl -s $M/v1/leases/$LID | $T/json 'd[\"charged\"]') -gt 0 ] && \
     [ \$(curl -s $M/v1/accounts/$PKEY | $T/json 'd[\"balances\"][\"uakt\"]') -gt 0 ]"
check "provider status shows the lease and earnings" sh -c \
    "$BIN/provider status --data $T/p | grep -q 'lease $LID' && \
     $BIN/provider status --data $T/p | grep -q earnings"

# kill -9 and restart: the lease runs again, counters never go back.
MEM1=$(usage mem_mb_s); REQ1=$(usage requests)
SB0=$(req --key "$T/tenant.key" GET $P/v1/leases/$LID/status | json 'd["replicas"][0]["pid"]')
kill -9 $PPID_
sleep 0.5
check "kill -9 of the provider leaves its sandbox running" kill -0 "$SB0"
start_provider
check "the restarted provider re-adopts it" wait_for 10 \
    grep -q "lease $LID: .* re-adopted (pid $SB0)" "$T/provider.log"
check "after a restart the service answers again" wait_for 10 sh -c \
    "curl -sf -m 2 $P/l/$LID/web/ | grep -q 'Directory listing'"
sleep 2.5
MEM2=$(usage mem_mb_s); REQ2=$(usage requests)
check "metering continues without going backwards ($MEM1 -> $MEM2 MB-s)" \
    sh -c "[ $MEM2 -gt $MEM1 ] && [ $REQ2 -ge $REQ1 ]"
check "no usage entry was refused by the market" sh -c \
    "! grep -q 'lease.usage.*market answered' $T/provider.log"

# A manifest this provider cannot run (a wasm service; the order claims
# "process" so that the market matches it): refused, closed in the ledger.
sed 's|image: host|image: wasm+https://example.com/m.wasm#sha256=0000000000000000000000000000000000000000000000000000000000000000|' \
    $SDL >"$T/wasm.yaml"
$BIN/sdl manifest "$T/wasm.yaml" >"$T/wasm.json"
new_lease() { # new_lease SDL DEPOSIT: prints the lease id
	o=$($BIN/sdl orders "$1" | json "json.dumps(dict(d[0], deposit=$2, ttl_ms=600000, runtimes=['process']))")
	id=$($BIN/ledger envelope --key "$T/tenant.key" --kind order.create \
	    --body "$o" | curl -s -XPOST --data-binary @- $M/v1/entries | json 'd["id"]')
	wait_for 5 sh -c "curl -sf $M/v1/orders/$id | grep -q '\"lease\":\"l-'"
	curl -s $M/v1/orders/$id | json 'd["lease"]'
}
WID=$(new_lease "$T/wasm.yaml" 1000000)
wait_for 5 grep -q "lease $WID: created" "$T/provider.log"
# Without wasm2c the runtime is missing (422 at once); with it, the
# module's fetch fails in a preparation job (no route to example.com
# here) and refuses the manifest then.
$REQ --key "$T/tenant.key" --body "$T/wasm.json" POST \
    $P/v1/leases/$WID/manifest >/dev/null 2>"$T/wasm.code"
check "a manifest this provider cannot run is refused (422 or async)" \
    grep -q "HTTP 202\|HTTP 422" "$T/wasm.code"
check "the refused lease is closed as manifest_refused" wait_for 15 sh -c \
    "curl -s $M/v1/leases/$WID | grep -q '\"reason\":\"manifest_refused\"'"
if grep -q "HTTP 202" "$T/wasm.code"; then
	check "the tenant's status says why (the module's fetch)" sh -c \
	    "$REQ --key $T/tenant.key GET $P/v1/leases/$WID/status 2>/dev/null |
	     grep -q '\"close_detail\":\"service web: .*example.com'"
fi

# A lease whose escrow runs dry: the market closes it, the provider stops it.
FID=$(new_lease $SDL 1500)
wait_for 5 grep -q "lease $FID: created" "$T/provider.log"
req --key "$T/tenant.key" --body "$T/manifest.json" POST $P/v1/leases/$FID/manifest >/dev/null
check "insufficient funds close the lease and stop its sandbox" wait_for 20 sh -c \
    "curl -s $M/v1/leases/$FID | grep -q '\"reason\":\"insufficient_funds\"' && \
     grep -q 'lease $FID: .* stopped' $T/provider.log"

# A git artifact: checked out at exactly the commit, cached, at /app.
git init -q "$T/repo" && echo one >"$T/repo/app.txt" &&
    git -C "$T/repo" add app.txt &&
    git -C "$T/repo" -c user.name=t -c user.email=t@t commit -qm one
C1=$(git -C "$T/repo" rev-parse HEAD)
echo two >"$T/repo/app.txt"
git -C "$T/repo" -c user.name=t -c user.email=t@t commit -qam two
git clone -q --bare "$T/repo" "$T/srv/repo.git"
# git+file:// would read the provider's own disk: refused.
sed -e "s|image: host|image: git+file://$T/repo#$C1|" -e 's|"/tmp"|"/app"|' \
    $SDL >"$T/gitfile.yaml"
$BIN/sdl manifest "$T/gitfile.yaml" >"$T/gitfile.json"
FID2=$(new_lease "$T/gitfile.yaml" 1000000)
wait_for 5 grep -q "lease $FID2: created" "$T/provider.log"
check_fails "a git+file:// manifest is refused (422)" "file:// URLs are refused" \
    $REQ --key "$T/tenant.key" --body "$T/gitfile.json" POST $P/v1/leases/$FID2/manifest
sed -e "s|image: host|image: git+http://127.0.0.1:$GITPORT/repo.git#$C1|" \
    -e 's|"/tmp"|"/app"|' $SDL >"$T/git.yaml"
$BIN/sdl manifest "$T/git.yaml" >"$T/git.json"
GID=$(new_lease "$T/git.yaml" 40000000)
wait_for 5 grep -q "lease $GID: created" "$T/provider.log"
check "a git+http manifest from an allowed host is accepted" \
    $REQ --key "$T/tenant.key" --body "$T/git.json" POST $P/v1/leases/$GID/manifest
check "the workload sees the pinned commit at /app, from the cache" \
    wait_for 10 sh -c "test \"\$(curl -sf -m 2 $P/l/$GID/web/app.txt)\" = one && \
    test -d $T/p/cache/git/$C1"

SBPID=$(req --key "$T/tenant.key" GET $P/v1/leases/$LID/status | json 'd["replicas"][0]["pid"]')
SBNAME=$(req --key "$T/tenant.key" GET $P/v1/leases/$LID/status | json 'd["replicas"][0]["name"]')
$BIN/ledger envelope --key "$T/tenant.key" --kind lease.close \
    --body "{\"lease\":\"$LID\",\"reason\":\"tenant_closed\"}" |
    curl -s -XPOST --data-binary @- $M/v1/entries >/dev/null
check "lease.close stops the sandbox" wait_for 10 sh -c \
    "grep -q 'lease $LID: .* stopped' $T/provider.log && ! kill -0 $SBPID"
check "the lease's cgroup is removed" sh -c \
    "! ls -d /sys/fs/cgroup/*/lodge/$SBNAME /sys/fs/cgroup/lodge/$SBNAME 2>/dev/null | grep -q ."
check "the gateway no longer routes to a closed lease" sh -c \
    "test \$(curl -s -o /dev/null -w '%{http_code}' $P/l/$LID/web/) = 404"
check "SIGTERM stops the provider cleanly" sh -c \
    "kill -TERM $PPID_; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $PPID_ 2>/dev/null || exit 0; sleep 0.3; done; exit 1"
finish
