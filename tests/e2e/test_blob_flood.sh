#!/bin/sh
# Big bodies against a real provider (issue 13, item 3): 24 unsigned PUTs
# of 64 MiB blobs to a real lease, each sending all but one byte, are
# refused from their head (401) without the provider's memory growing
# (VmRSS); the lease's tenant uploads a 64 MiB blob that is streamed to
# disk and hashed on the way (memory does not grow by its size either),
# also chunked; a blob over the limit is refused from its Content-Length.
. tests/e2e/lib.sh

cc -O2 -Wall -o "$T/hostile" tests/e2e/hostile.c -lpthread || {
	notok "build tests/e2e/hostile.c"; finish; }
H=$T/hostile
port_of() { sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$1"; }

$BIN/market run --data "$T/m" --listen 127.0.0.1:0 --epoch 1 \
    >"$T/market.log" 2>&1 &
PIDS="$PIDS $!"
until_ok 10 test -s "$T/m/market.json" >/dev/null
M=http://127.0.0.1:$(port_of "$T/m/market.json" listen_port)
$BIN/provider init --market "$M" --data "$T/p" --listen 127.0.0.1:0 \
    --attributes region=test \
    --price denom=uakt,cpu_ms=1000000,mem_mb_s=100000,request=1000000 \
    >/dev/null 2>"$T/init.err" || { notok "provider init"; cat "$T/init.err"; finish; }
# Its key must hold the bond of what it offers before the market takes
# its ask (the money rules; examples/local/cluster.sh does the same).
BOND=$($BIN/provider bond --data "$T/p" --json 2>>"$T/init.err") || {
	notok "provider bond"; cat "$T/init.err"; finish; }
NEED=$(echo "$BOND" | jq -r .to_fund)
[ "$NEED" -gt 0 ] && $BIN/market deposit --data "$T/m" \
    "$(echo "$BOND" | jq -r .key)" "$NEED" >/dev/null
$BIN/provider run --data "$T/p" >"$T/provider.log" 2>&1 &
PP=$!
PIDS="$PIDS $PP"
check "the provider starts" until_ok 10 test -s "$T/p/run.json"
PPORT=$(port_of "$T/p/run.json" port)
P=http://127.0.0.1:$PPORT
PKEY=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' "$T/p/run.json")
check "the provider advertises itself" until_ok 10 sh -c \
    "curl -sf $M/v1/providers | grep -q '$PKEY'"

# A lease for the tenant (its manifest is never sent: nothing runs).
TEN=$($BIN/ledger keygen "$T/tenant.key")
$BIN/market deposit --data "$T/m" "$TEN" 100000000 >/dev/null
ORDER=$($BIN/sdl orders examples/hello-http/deploy.yaml |
    jq -c '.[0] + {deposit: 50000000, ttl_ms: 600000}')
OID=$($BIN/ledger envelope --key "$T/tenant.key" --kind order.create \
    --body "$ORDER" | curl -s -XPOST --data-binary @- "$M/v1/entries" | jq -r .id)
check "the order is matched to the provider" until_ok 10 sh -c \
    "curl -sf $M/v1/orders/$OID | grep -q '\"status\":\"matched\"'"
LID=$(curl -s "$M/v1/orders/$OID" | jq -r .lease)
check "the provider knows its lease" until_ok 10 \
    grep -q "lease $LID: created" "$T/provider.log"

rss() { awk '/^VmRSS:/ { print $2 }' /proc/$PP/status; }
# grew_less KB BEFORE: VmRSS now is less than KB above BEFORE
grew_less() {
	now=$(rss)
	echo "# VmRSS ${2} kB -> ${now} kB" >&3
	[ $((now - $2)) -lt "$1" ]
}
exec 3>&1
SHA0=$(printf '%064d' 0)
R0=$(rss)
$H bigput "$PPORT" 24 67108864 "/v1/leases/$LID/blobs/$SHA0" >"$T/flood.out" 2>&1
sed 's/^/# /' "$T/flood.out"
check "24 unsigned 64 MiB PUTs are all refused with 401" \
    grep -q 'statuses: 401=24$' "$T/flood.out"
check "the provider's memory did not grow with them (< 32 MiB)" \
    grew_less 32768 "$R0"
check "the provider still answers" sh -c "curl -sf -m 2 $P/healthz | grep -q ok"

head -c 67108864 /dev/urandom >"$T/blob"
SHA=$(sha256sum "$T/blob" | cut -c1-64)
R1=$(rss)
check "the tenant uploads a 64 MiB blob (201)" \
    $BIN/provider request --key "$T/tenant.key" --body "$T/blob" PUT \
    "$P/v1/leases/$LID/blobs/$SHA"
check "it is stored under its sha256" cmp "$T/blob" "$T/p/cache/sha256/$SHA"
check "streamed: the provider's memory did not grow by its size" \
    grew_less 32768 "$R1"
check "no temporary file is left behind" sh -c \
    "[ -z \"\$(ls $T/p/cache/tmp)\" ]"

head -c 1000000 /dev/urandom >"$T/blob2"
SHA2=$(sha256sum "$T/blob2" | cut -c1-64)
SIG=$($BIN/provider request --key "$T/tenant.key" --body "$T/blob2" \
    --sign-only PUT "$P/v1/leases/$LID/blobs/$SHA2")
check "a chunked upload is streamed too" sh -c \
    "[ \$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H '$SIG' \
    -H 'Transfer-Encoding: chunked' --data-binary @$T/blob2 \
    $P/v1/leases/$LID/blobs/$SHA2) = 201 ] && cmp $T/blob2 $T/p/cache/sha256/$SHA2"
head -c 1000000 /dev/urandom >"$T/blob3"
head -c 1000000 /dev/urandom >"$T/blob4"
SHA4=$(sha256sum "$T/blob4" | cut -c1-64)
SIG4=$($BIN/provider request --key "$T/tenant.key" --body "$T/blob4" \
    --sign-only PUT "$P/v1/leases/$LID/blobs/$SHA4")
check "a body other than the signed one is refused (401), nothing stored" \
    sh -c "[ \$(curl -s -o $T/mis.out -w '%{http_code}' -X PUT -H '$SIG4' \
    --data-binary @$T/blob3 $P/v1/leases/$LID/blobs/$SHA4) = 401 ] && \
    grep -q 'this one has' $T/mis.out && \
    [ ! -e $T/p/cache/sha256/$SHA4 ] && [ -z \"\$(ls $T/p/cache/tmp)\" ]"
$H bigput "$PPORT" 1 67108865 "/v1/leases/$LID/blobs/$SHA0" >"$T/big.out" 2>&1
check "a blob over 64 MiB is refused from its Content-Length (413)" \
    grep -q 'statuses: 413=1$' "$T/big.out"
check "a PUT to an unknown lease is 404 from its head" sh -c \
    "$H bigput $PPORT 1 1000000 /v1/leases/l-999/blobs/$SHA0 | grep -q 'statuses: 404=1$'"
finish
