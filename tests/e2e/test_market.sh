#!/bin/sh
# The market daemon on loopback, driven with envelopes from
# `ledger envelope` and curl: matching (price, attributes, capacity),
# charges and the take rate, an insufficient-funds close, a tenant's close
# and refund, refusals (forged signature, replayed nonce, deposit not by
# the treasury, malformed), kill -9 during submissions and restart, audit.
# Providers fund their bonds and fees first; leases start with the
# tenant's manifest-delivery proof (docs/state.md, "Money").
# The cluster runs on TLS (README "TLS"; LODGE_INSECURE_HTTP=1 in the
# environment runs it on plain HTTP instead).
: "${LODGE_INSECURE_HTTP=}"
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
FEE=100
H0=$(printf '%064d' 0)
# proof LEASE: the tenant-signed request that delivered LEASE's manifest
proof() { $L envelope --key "$T/tenant.key" --kind http.request --body "{\"body_sha256\":\"$H0\",\"method\":\"POST\",\"path\":\"/v1/leases/$1/manifest\"}"; }
# start_lease KEY LEASE: lease.started with that proof
start_lease() { submit "$1" lease.started "{\"lease\":\"$2\",\"manifest_request\":$(proof "$2")}"; }
bal() { curl -s "$MARKET/v1/accounts/$1" | jq .balances.uakt; }

check "market starts on a free port" cluster_market --check-invariants --min-lease-epochs 3 --pause-grace 0
TEN=$(keygen tenant)
P1=$(keygen p1)
P2=$(keygen p2)
P3=$(keygen p3)
MKEY=$(mget /v1/info .market_key)
check "treasury deposit credits the tenant" fund "$TEN" 10000000
check "balance shows the deposit" sh -c "[ \$(curl -s $MARKET/v1/accounts/$TEN | jq .balances.uakt) = 10000000 ]"

# refusals
check "a deposit not signed by the treasury gets 422" [ "$(code "$T/tenant.key" account.deposit "{\"to\":\"$TEN\",\"denom\":\"uakt\",\"amount\":5}")" = 422 ]
envelope "$T/tenant.key" account.transfer "{\"to\":\"$P1\",\"denom\":\"uakt\",\"amount\":1}" > "$T/tr.json"
envelope "$T/tenant.key" account.transfer "{\"to\":\"$P1\",\"denom\":\"uakt\",\"amount\":2}" > "$T/tr2.json"
sed 's/"amount":1/"amount":1000/' "$T/tr.json" > "$T/forged.json"
check "forged signature gets 401" sh -c "post() { curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary @$T/forged.json $MARKET/v1/entries; }; [ \$(post) = 401 ]"
check "a transfer is accepted once" sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary @$T/tr.json $MARKET/v1/entries) = 201 ]"
check "the replayed nonce gets 409" sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary @$T/tr.json $MARKET/v1/entries) = 409 ]"
check "malformed JSON gets 400" sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary '{\"kind\":' $MARKET/v1/entries) = 400 ]"
check "a float amount gets 400" sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary '{\"a\":1.5}' $MARKET/v1/entries) = 400 ]"
check "an oversized body gets 413" sh -c "head -c 400000 /dev/zero | tr '\\\\0' x > $T/big && [ \$(curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary @$T/big $MARKET/v1/entries) = 413 ]"
check "errors are JSON with a reason" sh -c "curl -s -XPOST --data-binary '{}' $MARKET/v1/entries | jq -e .error"

# matching: p1 eu expensive, p2 us cheap, p3 cheapest but small; each
# funds its bond (and fees) first
check "an unfunded provider cannot advertise (402)" [ "$(code "$T/p1.key" provider.advertise '{"api_url":"http://127.0.0.1:9","attributes":{},"capacity":{"cpu_millis":1000,"memory_bytes":1000000,"storage_bytes":0},"runtimes":["process"],"price":{"denom":"uakt","cpu_ms":1}}')" = 402 ]
fund "$P1" 20000000
fund "$P2" 20000000
fund "$P3" 20000000
check "p1 advertises" advertise p1 '{"region":"eu"}' 2000000 4000
check "p2 advertises" advertise p2 '{"region":"us"}' 1000000 4000
check "p3 advertises (small)" advertise p3 '{"region":"us"}' 100000 200
O1=$(order "$T/tenant.key" '{}' 500 5000 100000)
L1=$(mget "/v1/orders/$O1" .lease)
check "order without attributes matched" [ "$L1" != null ]
check "the cheaper fitting provider (p2) won; the cheapest (p3) was full" sh -c "[ \$(curl -s $MARKET/v1/leases/$L1 | jq -r .provider) = $P2 ]"
check "the lease price is the winner's ask (500 per epoch)" sh -c "[ \$(curl -s $MARKET/v1/leases/$L1 | jq .price) = 500 ]"
O2=$(order "$T/tenant.key" '{"region":"eu"}' 500 5000 100000)
check "an attribute asked for beats a lower price (p1 wins)" sh -c "[ \$(curl -s $MARKET/v1/leases/\$(curl -s $MARKET/v1/orders/$O2 | jq -r .lease) | jq -r .provider) = $P1 ]"
O3=$(order "$T/tenant.key" '{"region":"mars"}' 500 5000 100000)
check "an order nobody fits waits open" sh -c "[ \$(curl -s $MARKET/v1/orders/$O3 | jq -r .status) = open ]"
check "the escrow and the fees left the tenant's balance" [ "$(bal "$TEN")" = $((10000000 - 1 - 300000 - 4 * FEE)) ]
check "a provider's bond is locked and shown" sh -c "[ \$(curl -s $MARKET/v1/accounts/$P2 | jq .bonds.uakt) = 11450581 ] && [ \$(curl -s $MARKET/v1/providers | jq '.[] | select(.key == \"$P2\") | .bond') = 11450581 ]"

# charges with the take rate, then a tenant close with refund
check "a lease.started without the manifest-delivery proof gets 422" [ "$(code "$T/p2.key" lease.started "{\"lease\":\"$L1\"}")" = 422 ]
check "p2 starts the lease with the tenant's proof" start_lease "$T/p2.key" "$L1"
sleep 1.1
p2=$(bal "$P2")
m0=$(bal "$MKEY")
check "p2 reports usage" submit "$T/p2.key" lease.usage "{\"lease\":\"$L1\",\"usage\":{\"cpu_ms\":500}}"
check "usage was charged at the ask (500)" sh -c "[ \$(curl -s $MARKET/v1/leases/$L1 | jq .charged) = 500 ]"
check "the provider got the charge less 2% and its usage fee (10)" [ "$(bal "$P2")" = $((p2 + 490 - 10)) ]
check "the market got its 2% and the fee" [ "$(bal "$MKEY")" = $((m0 + 10 + 10)) ]
envelope "$T/p2.key" lease.usage "{\"lease\":\"$L1\",\"usage\":{\"cpu_ms\":999999999999}}" > "$T/huge.json"
check "usage past what 500 cpu_millis can do gets 422 naming the bound" sh -c "[ \$(curl -s -o $T/huge.out -w '%{http_code}' -XPOST --data-binary @$T/huge.json $MARKET/v1/entries) = 422 ] && grep -q 'cpu_ms: 999999999999 is past its physical bound' $T/huge.out"

check "usage going backwards gets 422" [ "$(code "$T/p2.key" lease.usage "{\"lease\":\"$L1\",\"usage\":{\"cpu_ms\":100}}")" = 422 ]
check "another provider's usage report for it gets 422" [ "$(code "$T/p1.key" lease.usage "{\"lease\":\"$L1\",\"usage\":{\"cpu_ms\":900}}")" = 422 ]
before=$(mget "/v1/accounts/$TEN" .balances.uakt)
check "the tenant closes the lease" submit "$T/tenant.key" lease.close "{\"lease\":\"$L1\",\"reason\":\"tenant_closed\"}"
check "the close carries reason tenant_closed" sh -c "[ \$(curl -s $MARKET/v1/leases/$L1 | jq -r .reason) = tenant_closed ]"
check "the rest of the escrow came back to the tenant" [ "$(bal "$TEN")" = $((before + 100000 - 500 - FEE)) ]

# an escrow that runs dry: closed as insufficient_funds by the market
O5=$(order "$T/tenant.key" '{}' 500 5000 1499)
check "an escrow below 3 epochs of the agreed price (500) does not match" sh -c "[ \$(curl -s $MARKET/v1/orders/$O5 | jq -r .status) = open ]"
O4=$(order "$T/tenant.key" '{}' 500 5000 1500)
L4=$(mget "/v1/orders/$O4" .lease)
check "a small-deposit order matched" [ "$L4" != null ]
check "its lease starts" start_lease "$T/p2.key" "$L4"
check "the market closes it as insufficient_funds when the escrow is spent" until_ok 10 sh -c "[ \$(curl -s $MARKET/v1/leases/$L4 | jq -r .reason) = insufficient_funds ]"
check "the close is a market-signed ledger entry" sh -c "curl -s '$MARKET/v1/ledger/entries?start=0' | jq -r '.entries[].leaf' | while read l; do echo \$l | base64 -d; echo; done | grep '\"kind\":\"lease.close\"' | grep -q '$MKEY'"

# the audit replays all of it
check "ledger audit of the running market passes" $L audit --market "$MARKET"
check "audit tells a lease's story" until_ok 10 sh -c "$L audit --market $MARKET --lease $L1 --json | jq -e '.match and .close'"
check "audit recomputes the tenant's balance as the market shows it" until_ok 10 sh -c "[ \$($L audit --market $MARKET --account $TEN --json 2>/dev/null | jq .balances.uakt) = \$(curl -s $MARKET/v1/accounts/$TEN | jq .balances.uakt) ]"

# slow clients trickling bodies in cannot stall the others
head -c 100000 /dev/zero | tr '\0' x > "$T/slow"
i=0
while [ $i -lt 30 ]; do
	curl -s --limit-rate 200 -o /dev/null -XPOST --data-binary @"$T/slow" "$MARKET/v1/entries" &
	PIDS="$PIDS $!"
	i=$((i + 1))
done
sleep 0.5
check "30 slow uploads do not stall a normal request" sh -c "[ \$(curl -s -o /dev/null -m 2 -w '%{http_code}' $MARKET/v1/info) = 200 ]"
check "a submission goes through beside them" sh -c "[ \$(curl -s -o /dev/null -m 2 -w '%{http_code}' -XPOST --data-binary @$T/tr2.json $MARKET/v1/entries) = 201 ]"

# kill -9 during a stream of submissions, then restart
i=0
while [ $i -lt 120 ]; do
	envelope "$CL/market/treasury.key" account.deposit "{\"to\":\"$TEN\",\"denom\":\"uakt\",\"amount\":1}" > "$T/dep.$i"
	i=$((i + 1))
done
(
	i=0
	while [ $i -lt 120 ]; do
		code=$(curl -s -o "$T/ans.$i" -w '%{http_code}' -XPOST --data-binary @"$T/dep.$i" "$MARKET/v1/entries")
		echo "$i $code" >> "$T/codes"
		i=$((i + 1))
	done
) &
feeder=$!
sleep 0.3
kill -9 "$MARKET_PID"
wait "$feeder" 2>/dev/null
acked=$(grep -c ' 201$' "$T/codes")
check "some submissions were acknowledged before the kill" [ "$acked" -gt 0 ]
check "the market restarts by replaying its ledger" cluster_market --check-invariants --min-lease-epochs 3 --pause-grace 0
lost=0
for n in $(grep ' 201$' "$T/codes" | cut -d' ' -f1); do
	idx=$(jq .index "$T/ans.$n")
	nonce=$(jq -r .nonce "$T/dep.$n")
	got=$(curl -s "$MARKET/v1/ledger/entries?start=$idx&end=$((idx + 1))" | jq -r '.entries[0].leaf' | base64 -d | jq -r .entry.nonce)
	[ "$got" = "$nonce" ] || lost=$((lost + 1))
done
check "every acknowledged submission ($acked) is in the ledger at its index" [ "$lost" -eq 0 ]
check "after the restart the audit passes" until_ok 10 $L audit --market "$MARKET"
check "the restarted state equals a fresh replay" until_ok 10 sh -c "[ \$($L audit --market $MARKET --account $TEN --json 2>/dev/null | jq .balances.uakt) = \$(curl -s $MARKET/v1/accounts/$TEN | jq .balances.uakt) ]"
check "SSE resumes from any index" sh -c "timeout 3 curl -sN '$MARKET/v1/events?since=3' | grep -m1 '^id: ' | grep -qx 'id: 3'"
check "metrics in Prometheus text" sh -c "curl -s $MARKET/metrics | grep -q '^lodge_ledger_entries [0-9]'"
check "SIGTERM stops the market cleanly" sh -c "kill $MARKET_PID; i=0; while kill -0 $MARKET_PID 2>/dev/null && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i+1)); done; ! kill -0 $MARKET_PID 2>/dev/null"
finish
