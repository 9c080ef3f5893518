#!/bin/sh
# Issue 12 from the provider's side, with the real daemons: an unfunded
# provider is told to fund its key and advertises once funded, its bond
# exactly what `provider bond` computed (case 3); requests the gateway
# answers itself (502: the service is not listening) are not billed and
# the tenant's readiness probe backs off (case 5); signed provider-API
# requests name the host they were sent to and a restarted provider
# refuses what was signed before it started (case 6); lease.started
# carries the tenant's signed manifest request (case 2); `provider
# withdraw` keeps the bond while a lease runs and releases it with the
# last one; `provider transfer` moves earnings out, to the unit.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
need_tools jq curl perl

EX=$ROOT/examples/hello-perl/deploy.yaml
FUND=1000000000
PRICE=cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000,request=1000000

check "market starts" cluster_market

# ---- case 3: an unfunded provider ----------------------------------------
"$BIN/provider" init --market "$MARKET" --data "$CL/p" --name p \
    --attributes region=eu --price "denom=uakt,$PRICE" \
    --listen 127.0.0.1:0 > "$CL/p.init" 2>&1
"$BIN/provider" bond --data "$CL/p" --json > "$T/bond0.json"
PKEY=$(jq -r .key "$T/bond0.json")
NEED=$(jq .to_fund "$T/bond0.json")
BOND=$(jq .bond_needed "$T/bond0.json")
check "provider bond: the bond is the genesis rule applied to the capacity offered" \
    [ "$BOND" = "$(bond_for "$(jq .capacity.cpu_millis "$T/bond0.json")" "$(jq .capacity.memory_bytes "$T/bond0.json")")" ]
check "provider bond: an unfunded key lacks the bond and a day of fees" \
    [ "$NEED" = $((BOND + $(jq .fee_reserve "$T/bond0.json"))) ]
check "provider bond says how to fund it (treasury deposit or transfer)" \
    sh -c "$BIN/provider bond --data $CL/p | grep -q 'market deposit --data MARKET_DIR $PKEY $NEED' &&
        $BIN/provider bond --data $CL/p | grep -q 'account.transfer'"
"$BIN/provider" run --data "$CL/p" >> "$CL/p.log" 2>&1 &
cluster_track $!
p_PID=$!
check "its daemon runs, but the market refuses its ask: the log says to fund the key" \
    until_ok 10 grep -q "fund the key $PKEY" "$CL/p.log"
check "... and it is not advertised" \
    [ "$(mget /v1/providers "[.[] | select(.key == \"$PKEY\")] | length")" = 0 ]
fund "$PKEY" "$NEED"
check "funded, it advertises at its next try" until_ok 15 sh -c \
    "curl -s $MARKET/v1/providers | jq -e '.[] | select(.key == \"$PKEY\" and .advertised)'"
check "the bond locked is what provider bond computed, to the unit" \
    [ "$(mget "/v1/accounts/$PKEY" .bonds.uakt)" = "$BOND" ]
p_URL=$(jq -r .api_url "$CL/p/run.json")
PORT=$(jq -r .port "$CL/p/run.json")

check "tenant alice gets a key and funds" cluster_tenant alice $FUND
TKEY=$CL/alice/lodge/tenant.key

# ---- case 5: what the gateway answers itself is not billed ------------------
# a service that never listens: every request through the gateway is its
# own 502 (connection refused)
sed -e 's/^      - "perl"$/      - "sh"/' -e '/^    args:$/,/^    env:$/c\
    args:\
      - "-c"\
      - "echo deaf; exec sleep 3600"\
    env:' "$EX" > "$T/deaf.yaml"
check "a service that never listens deploys" \
    to "$T/deaf.json" as alice deploy "$T/deaf.yaml" --timeout 20 --json
check "... the probe got only the gateway's 502" \
    grep -q "answers HTTP 502" "$T/deaf.json.err"
LD=$(jq -r '.orders[0].lease' "$T/deaf.json")
UD=$(jq -r '.orders[0].services.web' "$T/deaf.json")
n502=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	[ "$(http_code "$UD")" = 502 ] && n502=$((n502 + 1))
done
check "twenty requests through the gateway: twenty 502s" [ $n502 = 20 ]
check "usage keeps being reported for the lease" until_ok 10 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$LD | jq .usage.mem_mb_s) -gt 0 ]"
sleep 2
check "not one of them (nor the probe's) is billed: requests 0, extras 0" \
    sh -c "curl -s $MARKET/v1/leases/$LD | jq -e '.usage.requests == 0 and .charged_extras == 0'"

# a service that answers 503 itself: its answers are billed (they came
# from the service), and the probe backs off instead of ~400 tries
sed 's|HTTP/1.1 200 OK|HTTP/1.1 503 Service Unavailable|; s|-> 200 (request|-> 503 (request|' \
    "$EX" > "$T/busy.yaml"
check "a service that answers 503 deploys" \
    to "$T/busy.json" as alice deploy "$T/busy.yaml" --timeout 20 --json
LB=$(jq -r '.orders[0].lease' "$T/busy.json")
NPROBE=$(as alice logs "$LB" | grep -c -- '-> 503')
check "the readiness probe backed off: $NPROBE tries in its 10 s (at most 20)" \
    [ "$NPROBE" -ge 3 ] && [ "$NPROBE" -le 20 ]
check "the service's own 503s are billed, one request each" until_ok 10 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$LB | jq .usage.requests) = $NPROBE ]"

# ---- case 2: the proof in lease.started -----------------------------------
check "alice deploys the example" \
    to "$T/hello.json" as alice deploy "$EX" --timeout 20 --json
LH=$(jq -r '.orders[0].lease' "$T/hello.json")
SI=$(lease_field "$LH" started_index)
curl -s "$MARKET/v1/ledger/entries?start=$SI&end=$((SI + 1))" |
    jq -r '.entries[0].leaf' | base64 -d > "$T/started.json"
check "lease.started carries alice's signed manifest request" sh -c \
    "jq -e '.entry.kind == \"lease.started\" and .entry.body.manifest_request.signer == \"$alice_ADDR\" and .entry.body.manifest_request.body.path == \"/v1/leases/$LH/manifest\"' $T/started.json"
check "... signed for this provider's host" [ "$(jq -r .entry.body.manifest_request.body.host "$T/started.json")" = "127.0.0.1:$PORT" ]

# ---- case 6: host and restart ---------------------------------------------
STATUS=/v1/leases/$LH/status
H1=$("$BIN/provider" request --key "$TKEY" --sign-only GET "$p_URL$STATUS")
check "a signed status request is answered (200)" \
    [ "$(http_code -H "$H1" "$p_URL$STATUS")" = 200 ]
curl -s -o "$T/replay" -w '%{http_code}' -H "$H1" "$p_URL$STATUS" > "$T/replay.code"
check "the same request again: refused (401, its nonce was used)" \
    sh -c "[ \$(cat $T/replay.code) = 401 ] && grep -q 'already used' $T/replay"
HOTHER=$("$BIN/provider" request --key "$TKEY" --sign-only GET "http://localhost:$PORT$STATUS")
curl -s -o "$T/other" -w '%{http_code}' -H "$HOTHER" "$p_URL$STATUS" > "$T/other.code"
other_host() {
	[ "$(cat "$T/other.code")" = 401 ] && jq -r .error "$T/other" |
	    grep -qF "for host \"localhost:$PORT\", this server is 127.0.0.1:$PORT"
}
check "a request signed for another host is refused (401, naming both)" other_host
H2=$("$BIN/provider" request --key "$TKEY" --sign-only GET "$p_URL$STATUS")
# the provider restarts on the same address (its nonce memory is gone)
sed -i "s/127.0.0.1:0/127.0.0.1:$PORT/" "$CL/p/provider.json"
cluster_kill "$p_PID"
sleep 1.1
check "the provider restarts on the same address" cluster_provider_start p
check "... the same URL" [ "$p_URL" = "http://127.0.0.1:$PORT" ]
curl -s -o "$T/old" -w '%{http_code}' -H "$H2" "$p_URL$STATUS" > "$T/old.code"
check "a request signed before the restart, never sent: refused (401)" \
    sh -c "[ \$(cat $T/old.code) = 401 ] && grep -q 'signed before this provider started' $T/old"
check "the request replayed across the restart: refused (401)" \
    [ "$(http_code -H "$H1" "$p_URL$STATUS")" = 401 ]
H3=$("$BIN/provider" request --key "$TKEY" --sign-only GET "$p_URL$STATUS")
check "a request signed now is answered (200)" \
    [ "$(http_code -H "$H3" "$p_URL$STATUS")" = 200 ]

# a manifest must be sent as its canonical bytes: its signature is the
# proof the market bills from
O=$("$BIN/sdl" orders "$EX" | jq -c ".[0] + {deposit: 50000000, ttl_ms: 600000}")
OID=$("$L" envelope --key "$TKEY" --kind order.create --body "$O" | post | sed -n 's/^201 //p' | jq -r .id)
LM=$(mget "/v1/orders/$OID" .lease)
until_ok 5 grep -q "lease $LM: created" "$CL/p.log" > /dev/null
"$BIN/sdl" manifest "$EX" > "$T/m.json"
check_fails "a manifest with a trailing newline is refused (400, canonical bytes)" \
    "canonical JSON bytes" "$BIN/provider" request --key "$TKEY" \
    --body "$T/m.json" POST "$p_URL/v1/leases/$LM/manifest"
check "the tenant closes that one manifest_not_delivered" \
    submit "$TKEY" lease.close "{\"lease\":\"$LM\",\"reason\":\"manifest_not_delivered\"}"

# ---- withdraw and transfer --------------------------------------------------
check "provider withdraw while leases run: the bond stays until the last ends" \
    sh -c "$BIN/provider withdraw --data $CL/p | grep -q 'comes back when the last one ends'"
check "the bond is still locked" [ "$(mget "/v1/accounts/$PKEY" .bonds.uakt)" = "$BOND" ]
check "the withdrawn provider is no longer offered" \
    sh -c "curl -s $MARKET/v1/providers | jq -e '.[] | select(.key == \"$PKEY\") | .withdrawn'"
for d in "$T/deaf.json" "$T/busy.json" "$T/hello.json"; do
	as alice close "$(jq -r .deployment "$d")" > /dev/null
done
check "with its last lease closed the bond comes back" until_ok 5 sh -c \
    "[ \$(curl -s $MARKET/v1/accounts/$PKEY | jq .bonds.uakt) = 0 ]"
cluster_kill "$p_PID" # no more heartbeats: the balance holds still
sleep 1.1
B0=$(mget "/v1/accounts/$PKEY" .balances.uakt)
bob=$(keygen bob)
check "provider transfer moves earnings out" \
    "$BIN/provider" transfer --data "$CL/p" --to "$bob" 12345
check "... to the unit: the other key got the amount" \
    [ "$(mget "/v1/accounts/$bob" .balances.uakt)" = 12345 ]
check "... the provider paid the amount and the transfer's fee" \
    [ "$(mget "/v1/accounts/$PKEY" .balances.uakt)" = $((B0 - 12345 - $(fee account.transfer))) ]
check_fails "a transfer beyond the balance is refused, with the reason" \
    "refused account.transfer" "$BIN/provider" transfer --data "$CL/p" \
    --to "$bob" $((B0 * 2))

# ---- alice's money, to the unit ---------------------------------------------
charged=0
for l in "$LD" "$LB" "$LH" "$LM"; do
	charged=$((charged + $(lease_field "$l" charged)))
done
# entries alice signed: 4 order.create, 4 lease.close
check "alice's balance: her deposit less what her leases were charged and 8 fees" \
    [ "$(mget "/v1/accounts/$alice_ADDR" .balances.uakt)" = $((FUND - charged - 4 * $(fee order.create) - 4 * $(fee lease.close))) ]
check "ledger audit passes" until_ok 10 "$L" audit --market "$MARKET"
finish
