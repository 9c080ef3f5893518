#!/bin/sh
# Issue 12, case 3: advertising is not free.  A key with no funds cannot
# become a provider (402: it cannot even pay the fee; 422 with only the fee,
# naming the bond and how to get funds).  A funded provider locks its bond
# (1000000 per core and per GiB in this genesis), re-advertising tops it up
# or releases the difference (never below what running leases hold), a
# withdraw keeps it until the last lease ends, then it comes back; earnings
# move out with account.transfer.  Balances checked to the unit; the audit
# recomputes them, bonds included.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/money_lib.sh

check "market starts" cluster_market --check-invariants
check "the genesis states the bond rule" sh -c "curl -s $MARKET/v1/info | jq -e '.bond.per_cpu == 1000000 and .bond.per_gib == 1000000'"
P=$(keygen prov)
P2=$(keygen prov2)
TEN=$(keygen tenant)
OUT=$(keygen wallet)
ASK='{"api_url":"http://127.0.0.1:9","attributes":{},"capacity":{"cpu_millis":4000,"memory_bytes":8000000000,"storage_bytes":0},"runtimes":["process"],"price":{"denom":"uakt","cpu_ms":1}}'

code=$(send "$T/prov.key" provider.advertise "$ASK")
check "a key that never held funds cannot advertise: 402" sh -c "[ $code = 402 ] && grep -q 'fee of 100 uakt' $T/.resp && grep -q 'account.deposit' $T/.resp"
fund "$P" 100
code=$(send "$T/prov.key" provider.advertise "$ASK")
check "with only the fee: 422 naming the bond (4 cores, 8 GB: 11450581)" sh -c "[ $code = 422 ] && grep -q 'bond for this capacity' $T/.resp && grep -q '11450581 uakt' $T/.resp && grep -q 'account.deposit' $T/.resp"
check "nothing was taken, no provider exists" sh -c "[ \$(curl -s $MARKET/v1/accounts/$P | jq .balances.uakt) = 100 ] && [ \$(curl -s $MARKET/v1/providers | jq length) = 0 ]"

fund "$P" 20000000
check "funded, it advertises" adv "$T/prov.key" 4000 8000000000 1
check "the bond is locked and shown" [ "$(bond "$P")" = 11450581 ]
check "balance: 20000100 - fee - bond" [ "$(bal "$P")" = 8549419 ]
check "a larger ask tops the bond up (8 cores)" adv "$T/prov.key" 8000 8000000000 1
check "bond 15450581, balance 4549319" sh -c "[ \$(curl -s $MARKET/v1/accounts/$P | jq .bonds.uakt) = 15450581 ] && [ \$(curl -s $MARKET/v1/accounts/$P | jq .balances.uakt) = 4549319 ]"
code=$(send "$T/prov.key" provider.advertise "$(echo "$ASK" | sed 's/"cpu_millis":4000/"cpu_millis":16000/')")
check "16 cores need 8000000 more than it holds: 422, nothing taken" sh -c "[ $code = 422 ] && grep -q 'locked already' $T/.resp && [ \$(curl -s $MARKET/v1/accounts/$P | jq .balances.uakt) = 4549319 ]"
check "a smaller ask releases the difference (2 cores)" adv "$T/prov.key" 2000 8000000000 1
check "bond 9450581, balance 10549219" sh -c "[ \$(curl -s $MARKET/v1/accounts/$P | jq .bonds.uakt) = 9450581 ] && [ \$(curl -s $MARKET/v1/accounts/$P | jq .balances.uakt) = 10549219 ]"

# a lease holds one core
fund "$TEN" 10000000
O=$(ord "$T/tenant.key" 1000 100000 1000000)
LE=$(mget "/v1/orders/$O" .lease)
check "a tenant's order goes to it" [ "$(mget "/v1/leases/$LE" .provider)" = "$P" ]
check "the lease starts" start_lease "$T/prov.key" "$LE"
check "an ask of 0 cores keeps the bond of the core the lease holds" adv "$T/prov.key" 0 8000000000 1
check "bond 8450581 (1 core + 8 GB), balance 11549019" sh -c "[ \$(curl -s $MARKET/v1/accounts/$P | jq .bonds.uakt) = 8450581 ] && [ \$(curl -s $MARKET/v1/accounts/$P | jq .balances.uakt) = 11549019 ]"
check "the provider withdraws" submit "$T/prov.key" provider.withdraw '{}'
check "the bond stays while its lease runs" [ "$(bond "$P")" = 8450581 ]
check "the tenant closes the last lease" submit "$T/tenant.key" lease.close "{\"lease\":\"$LE\",\"reason\":\"tenant_closed\"}"
check "the bond comes back with it" sh -c "[ \$(curl -s $MARKET/v1/accounts/$P | jq .bonds.uakt) = 0 ] && [ \$(curl -s $MARKET/v1/accounts/$P | jq .balances.uakt) = 19999500 ]"
check "every unit accounted for: 20000100 - 6 fees" [ "$(bal "$P")" = $((20000100 - 600)) ]
check "earnings move out with account.transfer" submit "$T/prov.key" account.transfer "{\"to\":\"$OUT\",\"denom\":\"uakt\",\"amount\":19999000}"
check "the wallet got them, the provider kept the rest less the fee" sh -c "[ \$(curl -s $MARKET/v1/accounts/$OUT | jq .balances.uakt) = 19999000 ] && [ \$(curl -s $MARKET/v1/accounts/$P | jq .balances.uakt) = 400 ]"

# no lease: a withdraw releases at once
fund "$P2" 5000000
check "another provider advertises 1 core, 1 GB" adv "$T/prov2.key" 1000 1000000000 1
check "its bond: 1000000 + ceil(10^6 x 10^9 / 2^30) = 1931323" [ "$(bond "$P2")" = 1931323 ]
check "it withdraws with no lease" submit "$T/prov2.key" provider.withdraw '{}'
check "its bond is back at once" sh -c "[ \$(curl -s $MARKET/v1/accounts/$P2 | jq .bonds.uakt) = 0 ] && [ \$(curl -s $MARKET/v1/accounts/$P2 | jq .balances.uakt) = $((5000000 - 200)) ]"

check "ledger audit recomputes the provider's account, bonds included" until_ok 10 sh -c "$L audit --market $MARKET --account $P --json | jq -e '.balances.uakt == 400 and .bonds.uakt == 0'"
check "money is conserved: deposits = balances + escrows + bonds" sh -c "$L audit --market $MARKET --json | jq -e '.totals.uakt | .deposits == .balances + .escrows + .bonds'"
finish
