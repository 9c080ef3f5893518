#!/bin/sh
# Issue 12, case 2: a provider that never received the manifest bills
# anyway.  A sybil key with a near-zero price and huge capacity wins the
# order, then posts lease.started without the tenant's manifest-delivery
# proof, with a proof it signed itself, with the tenant's proof altered or
# for another request: all refused (422); after the manifest window (10 s
# in this market's genesis) the market closes the lease
# manifest_not_delivered and the whole escrow returns, to the unit.  The
# tenant may close with that reason itself; a genuine proof starts the
# lease.  An operator who writes a proof-less lease.started into the
# ledger is caught by `ledger audit`.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/money_lib.sh

check "market starts with a 10 s manifest window" cluster_market --check-invariants --manifest-window 10
check "the genesis says so" [ "$(mget /v1/info .manifest_window_ms)" = 10000 ]
TEN=$(keygen tenant)
SY=$(keygen sybil)
OTHER=$(keygen other)
fund "$TEN" 10000000
fund "$SY" 200000000
# near-zero price, 64 cores and 64 GB
check "the sybil advertises a near-zero price and huge capacity" adv "$T/sybil.key" 64000 64000000000 1
O=$(ord "$T/tenant.key" 500 100000 1000000)
LE=$(mget "/v1/orders/$O" .lease)
check "it wins the order" [ "$(mget "/v1/leases/$LE" .provider)" = "$SY" ]
check "the tenant paid the escrow and one fee" [ "$(bal "$TEN")" = $((10000000 - 1000000 - 100)) ]

code=$(send "$T/sybil.key" lease.started "{\"lease\":\"$LE\"}")
check "lease.started without a proof: 422" sh -c "[ $code = 422 ] && grep -q 'manifest_request: missing' $T/.resp"
code=$(send "$T/sybil.key" lease.started "$(started_body "$LE" "$(proof "$T/sybil.key" "$LE")")")
check "with a proof the provider signed itself: 422" sh -c "[ $code = 422 ] && grep -q \"not by the order's tenant\" $T/.resp"
proof "$T/tenant.key" "$LE" | sed "s/$H0/$(printf '%064d' 1)/" > "$T/altered"
code=$(send "$T/sybil.key" lease.started "$(started_body "$LE" "$(cat "$T/altered")")")
check "with the tenant's proof altered: 422 (signature)" sh -c "[ $code = 422 ] && grep -q 'not a valid signed envelope' $T/.resp"
code=$(send "$T/sybil.key" lease.started "$(started_body "$LE" "$(proof "$T/tenant.key" "$LE" "$H0" GET)")")
check "with a tenant-signed request for something else: 422" [ "$code" = 422 ]
code=$(send "$T/sybil.key" lease.started "$(started_body "$LE" "$(proof "$T/other.key" "$LE")")")
check "with a stranger's proof: 422" [ "$code" = 422 ]
code=$(send "$T/sybil.key" lease.usage "{\"lease\":\"$LE\",\"usage\":{\"cpu_ms\":1,\"requests\":1000}}")
check "usage on the unstarted lease: 422" sh -c "[ $code = 422 ] && grep -q 'not started' $T/.resp"
check "the market closes it manifest_not_delivered after the window" until_ok 25 sh -c "[ \$(curl -s $MARKET/v1/leases/$LE | jq -r .reason) = manifest_not_delivered ]"
check "closed by the market, nothing charged" sh -c "[ \$(curl -s $MARKET/v1/leases/$LE | jq -r .closed_by) = market ] && [ \$(curl -s $MARKET/v1/leases/$LE | jq .charged) = 0 ]"
check "the whole escrow is back, to the unit" [ "$(bal "$TEN")" = $((10000000 - 100)) ]
code=$(send "$T/sybil.key" lease.started "$(started_body "$LE" "$(proof "$T/tenant.key" "$LE")")")
check "a genuine proof after the close: 422" [ "$code" = 422 ]

# the tenant closes an undelivered lease itself
O2=$(ord "$T/tenant.key" 500 100000 1000000)
L2=$(mget "/v1/orders/$O2" .lease)
check "another provider key may not close with that reason" [ "$(send "$T/other.key" lease.close "{\"lease\":\"$L2\",\"reason\":\"manifest_not_delivered\"}")" != 201 ]
check "the tenant closes it manifest_not_delivered" submit "$T/tenant.key" lease.close "{\"lease\":\"$L2\",\"reason\":\"manifest_not_delivered\"}"
check "its escrow is back too (two more fees paid)" [ "$(bal "$TEN")" = $((10000000 - 300)) ]

# a delivered manifest: the genuine proof starts the lease
O3=$(ord "$T/tenant.key" 500 100000 1000000)
L3=$(mget "/v1/orders/$O3" .lease)
check "the tenant's genuine proof starts the lease" start_lease "$T/sybil.key" "$L3"
check "it is active and records the proof" sh -c "[ \$(curl -s $MARKET/v1/leases/$L3 | jq -r .status) = active ] && [ \$(curl -s $MARKET/v1/leases/$L3 | jq .manifest_request_time) -gt 0 ]"
check "the tenant may not claim non-delivery now" [ "$(send "$T/tenant.key" lease.close "{\"lease\":\"$L3\",\"reason\":\"manifest_not_delivered\"}")" = 422 ]
check "ledger audit passes and tells the story" until_ok 10 sh -c "$L audit --market $MARKET --lease $LE --json | jq -e '.close.reason == \"manifest_not_delivered\"'"

# a dishonest operator lets a lease start without proof
O4=$(ord "$T/tenant.key" 500 100000 1000000)
L4=$(mget "/v1/orders/$O4" .lease)
envelope "$T/sybil.key" lease.started "{\"lease\":\"$L4\"}" > "$T/forged.jsonl"
sleep 1.2
N=$(curl -s "$MARKET/v1/ledger/entries?start=0&end=0" | jq .size)
check "the proof-less lease.started goes into the ledger" tamper "$T/forged.jsonl"
check_fails "ledger audit names the index and the missing proof" "index $N.*manifest_request: missing" $L audit "$CL/market/ledger.db"
finish
