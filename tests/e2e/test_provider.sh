#!/bin/sh
# Provider end to end on loopback: a market (epoch 1 s) and a provider in
# $T; a funded tenant orders examples/hello-http (a `host` service,
# python3's http.server) by hand-signed envelopes; the provider sees the
# lease, takes the tenant-signed manifest (and refuses others), runs it in
# a sandbox, serves it through its gateway (by path and by Host), reports
# usage every epoch (charged), survives kill -9 without double counting
# (the sandbox outlives it and is re-adopted), clones a git+http image
# from a host the owner allows (git+file is refused), and stops the
# sandbox when the tenant closes the lease.
. tests/e2e/lib.sh
need_root
need "/usr/bin/python3 for the example workload (make deps installs python3)" \
    test -x /usr/bin/python3
need_tools git jq curl

REQ="$BIN/provider request"
req() { $REQ "$@" 2>/dev/null; }
SDL=examples/hello-http/deploy.yaml

# new_lease VAR SDL DEPOSIT: the tenant orders SDL's first group with
# DEPOSIT in escrow; VAR is set to its lease once the market matched it.
new_lease() {
	nl_o=$($BIN/sdl orders "$2" | jq -c \
	    ".[0] + {deposit: $3, ttl_ms: 600000, runtimes: [\"process\"]}") ||
	    return 1
	nl_ans=$($BIN/ledger envelope --key "$TKEY" --kind order.create \
	    --body "$nl_o" | curl -s -XPOST --data-binary @- "$MARKET/v1/entries")
	nl_id=$(echo "$nl_ans" | jq -r '.id // empty' 2>/dev/null)
	[ -n "$nl_id" ] || { echo "order.create refused: $nl_ans"; return 1; }
	until_ok 5 sh -c "curl -sf $MARKET/v1/orders/$nl_id | grep -q '\"lease\":\"l-'" ||
	    return 1
	eval "$1=$(mget "/v1/orders/$nl_id" .lease)"
}
usage() { mget "/v1/leases/$LID" ".usage.$1"; }

# A git smart-HTTP server on loopback, which the owner allows.
mkdir -p "$T/srv"
python3 tests/e2e/git_http.py "$T/srv" "$T/git.port" "$T/git.log" \
    >/dev/null 2>&1 &
PIDS="$PIDS $!"
until_ok 10 test -s "$T/git.port" >/dev/null
GITPORT=$(cut -d' ' -f1 "$T/git.port")

check "market starts (no pause grace: a dry escrow closes at once)" cluster_market --pause-grace 0
check "provider init and run (capacity detected, advertised)" \
    cluster_provider p region=test \
    cpu_ms=100000,mem_mb_s=1000000,request=1000000 --stop-grace 1000 \
    --allow-fetch 127.0.0.1:$GITPORT
check "provider init prints the advertisement with its capacity" sh -c \
    "grep -q '\"region\": \"test\"' $CL/p.init && grep -q millicores $CL/p.init && \
    test -f $CL/p/provider.key"
check_fails "provider init refuses a bad price" "not one of" \
    $BIN/provider init --market $MARKET --data "$T/p2" --price bogus=1
P=$p_URL
check "provider advertises itself" until_ok 5 sh -c \
    "curl -sf $MARKET/v1/providers | grep -q '$p_KEY'"

# Funds for every lease below (each order's deposit leaves the balance
# until its lease closes), with room for what the short ones are charged.
check "the tenant gets a key and funds" cluster_tenant alice 200000000
TKEY=$CL/alice/lodge/tenant.key
$BIN/ledger keygen "$T/other.key" >/dev/null
$BIN/sdl manifest $SDL | tr -d "\n" >"$T/manifest.json" # its canonical bytes
check "the order is matched to the provider" new_lease LID $SDL 50000000
check "the provider sees its lease on the event stream" until_ok 5 \
    grep -q "lease $LID: created" "$CL/p.log"

check_fails "a manifest signed by another key is refused (403)" "HTTP 403" \
    $REQ --key "$T/other.key" --body "$T/manifest.json" POST $P/v1/leases/$LID/manifest
sed 's/"GREETING":"hello"/"GREETING":"bye"/' "$T/manifest.json" >"$T/bad.json"
check_fails "a manifest with another hash is refused (409, both hashes)" \
    "does not match the order" \
    req --key "$TKEY" --body "$T/bad.json" POST $P/v1/leases/$LID/manifest
check_fails "an unsigned manifest is refused (401)" "HTTP 401" \
    sh -c "curl -s -XPOST --data-binary @$T/manifest.json -w 'HTTP %{http_code}' $P/v1/leases/$LID/manifest; exit 1"
check_fails "an unknown lease is 404" "HTTP 404" \
    $REQ --key "$TKEY" --body "$T/manifest.json" POST $P/v1/leases/l-999/manifest
check "the tenant's manifest is accepted" \
    req --key "$TKEY" --body "$T/manifest.json" POST $P/v1/leases/$LID/manifest
check "lease.started reaches the ledger" until_ok 10 sh -c \
    "curl -sf $MARKET/v1/leases/$LID | grep -q '\"status\":\"active\"'"
check "the service answers through the gateway by path" until_ok 10 sh -c \
    "curl -sf -m 2 $P/l/$LID/web/ | grep -q 'Directory listing'"
check "the service answers through the gateway by Host" sh -c \
    "curl -sf -m 2 -H 'Host: $LID-web.lodge.localhost' $P/ | grep -q 'Directory listing'"
check "an unknown service is 404 at the gateway" sh -c \
    "test \$(curl -s -o /dev/null -w '%{http_code}' $P/l/$LID/nope/) = 404"
check "the tenant reads status" sh -c \
    "$REQ --key $TKEY GET $P/v1/leases/$LID/status | grep -q '\"state\":\"running\"'"
check "the tenant reads logs" sh -c \
    "$REQ --key $TKEY GET $P/v1/leases/$LID/logs | grep -q 'GET / HTTP'"
check_fails "another key gets 403 on status" "HTTP 403" \
    $REQ --key "$T/other.key" GET $P/v1/leases/$LID/status
check_fails "another key gets 403 on logs" "HTTP 403" \
    $REQ --key "$T/other.key" GET "$P/v1/leases/$LID/logs?follow=1"

printf 'a module' >"$T/blob"
BSHA=$(sha256sum "$T/blob" | cut -c1-64)
check "the tenant uploads a blob, stored under its sha256" sh -c \
    "$REQ --key $TKEY --body $T/blob PUT $P/v1/leases/$LID/blobs/$BSHA && \
     cmp $T/blob $CL/p/cache/sha256/$BSHA"
check_fails "a blob whose bytes hash otherwise is refused (409)" "HTTP 409" \
    $REQ --key "$TKEY" --body "$T/blob" PUT \
    $P/v1/leases/$LID/blobs/0000000000000000000000000000000000000000000000000000000000000000
HDR=$($REQ --key "$TKEY" --sign-only GET "$P/v1/leases/$LID/logs?follow=1")
(sleep 0.5; curl -s -m 2 $P/l/$LID/web/?from=follow >/dev/null) &
curl -s -N -m 3 -H "$HDR" "$P/v1/leases/$LID/logs?follow=1" >"$T/follow.out"
check "logs?follow=1 streams new output" grep -q 'from=follow' "$T/follow.out"

check "usage entries arrive with requests counted" until_ok 5 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$LID | jq .usage.requests) -ge 2 ]"
check "usage is charged to the tenant and paid to the provider" sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$LID | jq .charged) -gt 0 ] && \
     [ \$(curl -s $MARKET/v1/accounts/$p_KEY | jq .balances.uakt) -gt 0 ]"
check "provider status shows the lease and earnings" sh -c \
    "$BIN/provider status --data $CL/p | grep -q 'lease $LID' && \
     $BIN/provider status --data $CL/p | grep -q earnings"

# kill -9 and restart: the lease runs again, counters never go back.
MEM1=$(usage mem_mb_s); REQ1=$(usage requests)
SB0=$(req --key "$TKEY" GET $P/v1/leases/$LID/status | jq -r '.replicas[0].pid')
kill -9 "$p_PID"
sleep 0.5
check "kill -9 of the provider leaves its sandbox running" kill -0 "$SB0"
check "the provider restarts from its data directory" cluster_provider_start p
P=$p_URL
check "the restarted provider re-adopts it" until_ok 10 \
    grep -q "lease $LID: .* re-adopted (pid $SB0)" "$CL/p.log"
check "after a restart the service answers again" until_ok 10 sh -c \
    "curl -sf -m 2 $P/l/$LID/web/ | grep -q 'Directory listing'"
sleep 2.5
MEM2=$(usage mem_mb_s); REQ2=$(usage requests)
check "metering continues without going backwards ($MEM1 -> $MEM2 MB-s)" \
    sh -c "[ $MEM2 -gt $MEM1 ] && [ $REQ2 -ge $REQ1 ]"
check "no usage entry was refused by the market" sh -c \
    "! grep -q 'lease.usage.*market answered' $CL/p.log"

# A manifest this provider cannot run (a wasm service; the order claims
# "process" so that the market matches it): refused, closed in the ledger.
sed 's|image: host|image: wasm+https://example.com/m.wasm#sha256=0000000000000000000000000000000000000000000000000000000000000000|' \
    $SDL >"$T/wasm.yaml"
$BIN/sdl manifest "$T/wasm.yaml" | tr -d "\n" >"$T/wasm.json"
check "an order for a wasm service is matched (it claims process)" \
    new_lease WID "$T/wasm.yaml" 1000000
until_ok 5 grep -q "lease $WID: created" "$CL/p.log" >/dev/null
# Without wasm2c the runtime is missing (422 at once); with it, the
# module's fetch fails in a preparation job (no route to example.com
# here) and refuses the manifest then.
$REQ --key "$TKEY" --body "$T/wasm.json" POST \
    $P/v1/leases/$WID/manifest >/dev/null 2>"$T/wasm.code"
check "a manifest this provider cannot run is refused (422 or async)" \
    grep -q "HTTP 202\|HTTP 422" "$T/wasm.code"
check "the refused lease is closed as manifest_refused" until_ok 15 sh -c \
    "curl -s $MARKET/v1/leases/$WID | grep -q '\"reason\":\"manifest_refused\"'"
if grep -q "HTTP 202" "$T/wasm.code"; then
	check "the tenant's status says why (the module's fetch)" sh -c \
	    "$REQ --key $TKEY GET $P/v1/leases/$WID/status 2>/dev/null |
	     grep -q '\"close_detail\":\"service web: .*example.com'"
fi

# A lease whose escrow runs dry: the market closes it, the provider stops
# it.  The smallest escrow the market matches pays min_lease_epochs of the
# agreed price; the price is mostly reserved memory (charged in full), so
# it runs dry after about that many epochs.
MINDEP=$(($(mget /v1/info .min_lease_epochs) * $(mget "/v1/leases/$LID" .price)))
check "an order with the smallest deposit ($MINDEP) is matched" \
    new_lease FID $SDL $MINDEP
until_ok 5 grep -q "lease $FID: created" "$CL/p.log" >/dev/null
req --key "$TKEY" --body "$T/manifest.json" POST $P/v1/leases/$FID/manifest >/dev/null
check "insufficient funds close the lease and stop its sandbox" until_ok 20 sh -c \
    "curl -s $MARKET/v1/leases/$FID | grep -q '\"reason\":\"insufficient_funds\"' && \
     grep -q 'lease $FID: .* stopped' $CL/p.log"

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
$BIN/sdl manifest "$T/gitfile.yaml" | tr -d "\n" >"$T/gitfile.json"
check "an order for a git+file service is matched" \
    new_lease FID2 "$T/gitfile.yaml" 1000000
until_ok 5 grep -q "lease $FID2: created" "$CL/p.log" >/dev/null
check_fails "a git+file:// manifest is refused (422)" "file:// URLs are refused" \
    $REQ --key "$TKEY" --body "$T/gitfile.json" POST $P/v1/leases/$FID2/manifest
sed -e "s|image: host|image: git+http://127.0.0.1:$GITPORT/repo.git#$C1|" \
    -e 's|"/tmp"|"/app"|' $SDL >"$T/git.yaml"
$BIN/sdl manifest "$T/git.yaml" | tr -d "\n" >"$T/git.json"
check "an order for a git+ service is matched" new_lease GID "$T/git.yaml" 50000000
until_ok 5 grep -q "lease $GID: created" "$CL/p.log" >/dev/null
check "a git+http manifest from an allowed host is accepted" \
    $REQ --key "$TKEY" --body "$T/git.json" POST $P/v1/leases/$GID/manifest
check "the workload sees the pinned commit at /app, from the cache" \
    until_ok 10 sh -c "test \"\$(curl -sf -m 2 $P/l/$GID/web/app.txt)\" = one && \
    test -d $CL/p/cache/git/$C1"

req --key "$TKEY" GET $P/v1/leases/$LID/status >"$T/status.json"
SBPID=$(jq -r '.replicas[0].pid' "$T/status.json")
SBNAME=$(jq -r '.replicas[0].name' "$T/status.json")
$BIN/ledger envelope --key "$TKEY" --kind lease.close \
    --body "{\"lease\":\"$LID\",\"reason\":\"tenant_closed\"}" |
    curl -s -XPOST --data-binary @- $MARKET/v1/entries >/dev/null
check "lease.close stops the sandbox" until_ok 10 sh -c \
    "grep -q 'lease $LID: .* stopped' $CL/p.log && ! kill -0 $SBPID"
check "the lease's cgroup is removed" sh -c \
    "! ls -d /sys/fs/cgroup/*/lodge/$SBNAME /sys/fs/cgroup/lodge/$SBNAME 2>/dev/null | grep -q ."
check "the gateway no longer routes to a closed lease" sh -c \
    "test \$(curl -s -o /dev/null -w '%{http_code}' $P/l/$LID/web/) = 404"
check "SIGTERM stops the provider cleanly" sh -c \
    "kill -TERM $p_PID; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $p_PID 2>/dev/null || exit 0; sleep 0.3; done; exit 1"
finish
