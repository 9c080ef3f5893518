#!/bin/sh
# The whole Lodge flow on loopback with the real daemons: a market, three
# providers and two tenants.  The demo's flow asserted step by step
# (deploy in one command, gateway, status, logs, charges, close, refund),
# tenants kept out of each other's leases, an escrow that runs dry, two
# tenants racing for one provider's last capacity, and at the end
# `ledger audit` plus the conservation of money.  The example service is
# examples/hello-perl (a one-file perl HTTP server from the provider's
# host userland: perl-base is Essential on Debian).  The provider killed
# with -9 and restarted is test_flow_restart.sh.
# The cluster runs on TLS (README "TLS"; LODGE_INSECURE_HTTP=1 in the
# environment runs it on plain HTTP instead).
: "${LODGE_INSECURE_HTTP=}"
. tests/e2e/lib.sh

EX=$ROOT/examples/hello-perl/deploy.yaml
FUND=1000000000
P1PRICE=cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
P2PRICE=cpu_ms=2000000,mem_mb_s=2000000,storage_mb_s=200000
P3PRICE=cpu_ms=500000,mem_mb_s=500000,storage_mb_s=50000

check "market starts on a free loopback port (no pause grace: dry escrows close at once)" cluster_market --pause-grace 0
check "provider p1 (region=eu, cheaper) starts and advertises" \
    cluster_provider p1 region=eu $P1PRICE
check "provider p2 (region=us, twice p1's price) starts and advertises" \
    cluster_provider p2 region=us $P2PRICE
check "tenant alice gets a key and funds" cluster_tenant alice $FUND
check "tenant bob gets a key and funds" cluster_tenant bob $FUND
check "alice's key file is mode 0600" \
    [ "$(stat -c %a "$CL/alice/lodge/tenant.key")" = 600 ]

# ---- the demo's flow ---------------------------------------------------
check "alice deploys the example in one command (exit 0)" \
    to "$T/d1.json" as alice deploy "$EX" --timeout 20 --json
D1=$(jq -r .deployment "$T/d1.json")
L1=$(jq -r '.orders[0].lease' "$T/d1.json")
URL1=$(jq -r '.orders[0].services.web' "$T/d1.json")
DEP1=$(jq -r '.orders[0].deposit' "$T/d1.json")
for s in validated posted matched manifest fetched running url; do
	check "deploy progress shows step '$s' on its own line" \
	    grep -q "^$s " "$T/d1.json.err"
done
check "the deployment id is its first order's id" \
    [ "$D1" = "$(jq -r '.orders[0].order' "$T/d1.json")" ]
check "the cheaper fitting provider (p1) won" \
    [ "$(lease_field "$L1" provider)" = "$p1_KEY" ]
check "progress says why it won (cheapest of the fitting asks)" \
    grep -q "cheapest of 2 fitting asks" "$T/d1.json.err"
check "the service URL goes through p1's gateway" \
    [ "$URL1" = "$p1_URL/l/$L1/web/" ]
check "the service answers HTTP 200 through the gateway" is_200 "$URL1"
check "the answer is the example's greeting" \
    sh -c "curl -s '$URL1' | grep -q 'hello from a Lodge lease'"
check "tenant status shows the workload running" \
    sh -c "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET status $L1 --json | jq -e '.provider.status == \"running\" and .market.status == \"active\"'"
check "tenant ls lists the deployment with its lease" \
    sh -c "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET ls | grep '^$D1 ' | grep -q '$L1'"
check "tenant logs shows the requests the service got" \
    sh -c "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET logs $L1 | grep -q 'GET / '"
(XDG_CONFIG_HOME=$CL/alice timeout 4 "$BIN/tenant" --market "$MARKET" \
    logs "$L1" -f > "$T/follow.out" 2>&1 &)
sleep 1
curl -s "${URL1}followed" > /dev/null
check "tenant logs -f shows a request made while following" \
    until_ok 5 grep -q 'GET /followed' "$T/follow.out"
check "usage is reported and charged" until_ok 10 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$L1 | jq .charged) -gt 0 ]"
c1=$(lease_field "$L1" charged)
check "charges keep accruing epoch after epoch" until_ok 10 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$L1 | jq .charged) -gt $c1 ]"

# ---- tenants kept apart --------------------------------------------------
check_fails "bob cannot read alice's logs" "HTTP 40[13]" \
    as bob logs "$L1"
check_fails "bob cannot read alice's lease status from the provider" \
    "40[13]" sh -c "XDG_CONFIG_HOME=$CL/bob $BIN/tenant --market $MARKET status $L1 --json | jq -r .provider_error | grep . && false"
$BIN/sdl manifest "$EX" > "$T/manifest.json"
check_fails "bob cannot post a manifest for alice's lease" "HTTP 40[13]" \
    $BIN/provider request --key "$CL/bob/lodge/tenant.key" \
    --provider-key "$p1_KEY" \
    --body "$T/manifest.json" POST "$p1_URL/v1/leases/$L1/manifest"
check "an unsigned request for the logs is refused (401)" \
    [ "$(http_code "$p1_URL/v1/leases/$L1/logs")" = 401 ]

# ---- close and refund ----------------------------------------------------
bal0=$(mget "/v1/accounts/$alice_ADDR" .balances.uakt)
check "alice closes the deployment" to "$T/close1.json" as alice close "$D1" --json
refund=$(jq '.[0].refund' "$T/close1.json")
charged=$(jq '.[0].charged' "$T/close1.json")
check "the lease closed as tenant_closed" \
    [ "$(lease_field "$L1" reason)" = tenant_closed ]
check "the refund is the deposit less what was charged" \
    [ "$refund" = $((DEP1 - charged)) ]
FEE_CLOSE=$(mget /v1/info '.fees.kinds["lease.close"] // .fees.default')
check "the refund is back in alice's balance, less the close's fee" \
    [ "$(mget "/v1/accounts/$alice_ADDR" .balances.uakt)" = $((bal0 + refund - FEE_CLOSE)) ]
check "the workload stops: the gateway no longer serves it" \
    until_ok 10 not_200 "$URL1"
check "the provider reports the lease closed" until_ok 10 sh -c \
    "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET status $L1 --json | jq -e '.provider.status == \"closed\" or (.provider_error // \"\" | test(\"HTTP 404\"))'"

# ---- an escrow that runs dry ---------------------------------------------
# the market closes a lease whose escrow cannot pay the coming epoch at
# the agreed price: bid 1000/epoch, p1 asks 640, and the smallest escrow
# the market matches, min_lease_epochs of it, lasts that many epochs
sed 's/amount: 100000/amount: 1000/' "$EX" > "$T/small.yaml"
MIN=$(($(mget /v1/info .min_lease_epochs) * 640))
check_fails "a deposit below the minimum lease is refused, naming it" \
    "give --deposit $MIN or more" \
    as alice deploy "$T/small.yaml" --deposit $((MIN - 1)) --timeout 20
check "alice deploys with the smallest escrow ($MIN)" \
    to "$T/d2.json" as alice deploy "$T/small.yaml" --deposit $MIN --timeout 20 --json
L2=$(jq -r '.orders[0].lease' "$T/d2.json")
URL2=$(jq -r '.orders[0].services.web' "$T/d2.json")
# (it runs dry while the next part runs: reserved use is charged at the
# agreed price, the CPU at what was used, so it lasts beyond 10 epochs)

# ---- two tenants, one provider's last capacity ---------------------------
# p3 is the cheapest and has room for exactly one 500m service
cores=$(curl -s "$MARKET/v1/providers" | jq "[.[] | select(.key == \"$p1_KEY\")][0].capacity.cpu_millis")
check "p3 (cheapest, room for one service) starts" \
    cluster_provider p3 region=eu $P3PRICE --reserve-cpu "$((cores - 500))m"
check "p3 offers 500 millicores" sh -c "[ \$(curl -s $MARKET/v1/providers | jq '.[] | select(.key == \"$p3_KEY\") | .capacity.cpu_millis') = 500 ]"
to "$T/ra.json" as alice deploy "$EX" --timeout 20 --json &
ra=$!
to "$T/rb.json" as bob deploy "$EX" --timeout 20 --json &
rb=$!
wait $ra; rca=$?
wait $rb; rcb=$?
check "both racing deploys succeed" [ $rca = 0 ] && [ $rcb = 0 ]
pa=$(lease_field "$(jq -r '.orders[0].lease' "$T/ra.json")" provider)
pb=$(lease_field "$(jq -r '.orders[0].lease' "$T/rb.json")" provider)
check "exactly one of them won p3's last capacity" \
    [ "$( (echo "$pa"; echo "$pb") | grep -c "^$p3_KEY$")" = 1 ]
check "the other matched elsewhere, at p1 (the next cheapest)" \
    sh -c "echo '$pa $pb' | grep -q '$p1_KEY'"
check "both services answer through their gateways" sh -c \
    "curl -sf \$(jq -r '.orders[0].services.web' $T/ra.json) > /dev/null && curl -sf \$(jq -r '.orders[0].services.web' $T/rb.json) > /dev/null"
check "alice closes her deployment" as alice close "$(jq -r .deployment "$T/ra.json")"
check "bob closes his by lease id" as bob close "$(jq -r '.orders[0].lease' "$T/rb.json")"

# ---- the small escrow, run dry ------------------------------------------
check "the market closes it as insufficient_funds" until_ok 90 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$L2 | jq -r .reason) = insufficient_funds ]"
check "its workload stops" until_ok 10 not_200 "$URL2"
check "the provider reports it closed (or has forgotten it)" until_ok 10 \
    sh -c "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET status $L2 --json | jq -e '.provider.status == \"closed\" or (.provider_error // \"\" | test(\"HTTP 404\"))'"
check "tenant ls --all shows the reason" \
    sh -c "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET ls --all | grep '$L2' | grep -q insufficient_funds"

# ---- the audit ---------------------------------------------------------
check "ledger audit of the whole run passes" until_ok 10 \
    "$BIN/ledger" audit --market "$MARKET"
MKEY=$(mget /v1/info .market_key)
total=0
for k in "$alice_ADDR" "$bob_ADDR" "$p1_KEY" "$p2_KEY" "$p3_KEY" "$MKEY"; do
	b=$(mget "/v1/accounts/$k" '.balances.uakt // 0')
	total=$((total + b))
done
escrow=$(mget /v1/orders '[.[] | .escrow] | add')
bonds=$(mget /v1/providers '[.[] | .bond] | add')
DEPOSITS=$((2 * FUND + p1_FUNDED + p2_FUNDED + p3_FUNDED))
check "money is conserved: balances + escrows + bonds = deposits ($DEPOSITS)" \
    [ $((total + escrow + bonds)) = $DEPOSITS ]
finish
