#!/bin/sh
# Issue 12 from the tenant CLI's side, tried as a new user would (cases
# 2, 7 and 8), against a real market with providers that only advertise:
# an unfunded tenant is told how to get funds and what --deposit does,
# and nothing is posted; a --deposit below the minimum lease at the
# cheapest provider that fits now is refused with the amount needed;
# `tenant balance` against something that is not a market is an error; a
# refused close prints nothing on stdout and exits 1; signedBy naming an
# auditor who never attested is explained by matching's own rule; a
# manifest that cannot be delivered closes the lease
# manifest_not_delivered and the whole escrow comes back.  Every balance
# is checked to the unit, fees included.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
need_tools jq curl

EX=$ROOT/examples/hello-http/deploy.yaml
FUND=100000000

check "market starts" cluster_market
MIN=$(mget /v1/info .min_lease_epochs)
check "tenant alice gets a key (no funds yet)" sh -c \
    "mkdir -p $CL/alice && XDG_CONFIG_HOME=$CL/alice $BIN/tenant keygen > $T/alice.addr"
ALICE=$(cat "$T/alice.addr")
# a provider at 1.28 per 10^6 cpu_ms: 640 per epoch for the example's
# 500 millicores (1 s epochs); it only advertises (its API is unreachable)
fund_ask prov
check "a provider asks 640 per epoch" advertise prov '{}' 1280000
P=$(cat "$T/prov.pub")
orders() { mget "/v1/orders?tenant=$ALICE" 'length'; }

# ---- an unfunded tenant ---------------------------------------------------
as alice deploy "$EX" > "$T/u.out" 2> "$T/u.err"
check "deploying without funds fails (exit 1)" [ $? = 1 ]
check "... saying the balance and the amount needed" \
    grep -q "your balance is 0 uakt; this deployment needs" "$T/u.err"
check "... what --deposit does" grep -q "which --deposit sets: it moves from your balance into the order" "$T/u.err"
check "... and how to get funds, naming the key" \
    sh -c "grep -q 'market deposit --data DIR $ALICE AMOUNT' $T/u.err && grep -q 'account.transfer' $T/u.err && grep -q 'tenant address' $T/u.err"
check "... and nothing was posted" [ "$(orders)" = 0 ]
fund "$ALICE" $FUND
EXP=$FUND

# ---- a deposit below the minimum lease -----------------------------------
as alice deploy "$EX" --deposit 640 > "$T/d.out" 2> "$T/d.err"
check "--deposit of one epoch (640) is refused (exit 1)" [ $? = 1 ]
check "... naming the cheapest fitting provider, its price and the minimum" \
    grep -q "cheapest provider that fits now ($P: 640 uakt/epoch x $MIN epochs = $((MIN * 640)) uakt): give --deposit $((MIN * 640)) or more" "$T/d.err"
check "... and nothing was posted or taken" \
    sh -c "[ \$(curl -s '$MARKET/v1/orders?tenant=$ALICE' | jq length) = 0 ] && [ \$(curl -s $MARKET/v1/accounts/$ALICE | jq .balances.uakt) = $EXP ]"
check "--deposit of exactly the minimum is posted and matched" \
    to "$T/m.json" as alice deploy "$EX" --deposit $((MIN * 640)) --no-wait --json
EXP=$((EXP - $(fee order.create) - MIN * 640))
D1=$(jq -r .deployment "$T/m.json")
check "... at the agreed 640" until_ok 5 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/\$(curl -s $MARKET/v1/orders/$D1 | jq -r .lease) | jq .price) = 640 ]"

# ---- a refused close -------------------------------------------------------
cluster_tenant bob 1000000
as bob close "$D1" > "$T/c.out" 2> "$T/c.err"
check "bob closing alice's deployment exits 1" [ $? = 1 ]
check "... prints nothing on stdout" [ ! -s "$T/c.out" ]
check "... says why on stderr" grep -q "may not close" "$T/c.err"
check "... and the deployment is untouched" [ "$(mget "/v1/orders/$D1" .status)" = matched ]
check "bob's balance: the fees of his refused entries came back" \
    [ "$(mget "/v1/accounts/$bob_ADDR" .balances.uakt)" = 1000000 ]
as bob close "$(mget "/v1/orders/$D1" .lease)" > "$T/c2.out" 2> "$T/c2.err"
check "the same by lease id: exit 1, nothing on stdout" \
    sh -c "[ $? = 1 ] && [ ! -s $T/c2.out ]"
check "alice closes it herself" as alice close "$D1"
EXP=$((EXP - $(fee lease.close) + MIN * 640))
check "her balance: all but two fees, to the unit" \
    [ "$(mget "/v1/accounts/$ALICE" .balances.uakt)" = $EXP ]

# ---- tenant balance against something that is not a market -----------------
as alice balance --market "$MARKET/nope" > "$T/b.out" 2> "$T/b.err"
check "balance against a URL that is not a market (404) exits 1" [ $? = 1 ]
check "... prints no balance, says it is not a market" \
    sh -c "[ ! -s $T/b.out ] && grep -q 'does not answer as a Lodge market' $T/b.err"
mkdir -p "$T/www/v1/accounts"
echo '{"ok":true}' > "$T/www/v1/accounts/$ALICE"
if command -v python3 > /dev/null; then
	python3 -m http.server 0 --bind 127.0.0.1 --directory "$T/www" \
	    > "$T/www.log" 2>&1 &
	cluster_track $!
	until_ok 5 grep -q "port" "$T/www.log" > /dev/null
	WPORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$T/www.log" | head -1)
	as alice balance --market "http://127.0.0.1:$WPORT" > "$T/b2.out" 2> "$T/b2.err"
	check "balance against a server answering other JSON exits 1, nothing on stdout" \
	    sh -c "[ $? = 1 ] && [ ! -s $T/b2.out ] && grep -q 'does not answer as a Lodge market' $T/b2.err"
fi

# ---- signedBy naming an auditor who never attested ---------------------------
AUD=$(keygen auditor)
awk -v a="$AUD" '/^    loopback:$/ { print; print "      signedBy:"
	print "        allOf: [" a "]"; next } { print }' "$EX" > "$T/signed.yaml"
as alice deploy "$T/signed.yaml" --ttl 1 > "$T/s.out" 2> "$T/s.err"
check "signedBy an auditor who never attested: nothing matches (exit 4)" [ $? = 4 ]
EXP=$((EXP - $(fee order.create)))
check "... explained by matching's rule, not 'a provider fits now'" \
    sh -c "grep -q 'no current provider.attest by $AUD' $T/s.err && ! grep -q 'fits now' $T/s.err"
fund "$AUD" "$(fee provider.attest)"
check "the auditor attests the provider" \
    submit "$T/auditor.key" provider.attest "{\"provider\":\"$P\",\"attributes\":{\"x\":\"y\"}}"
check "now the same deployment matches" \
    to "$T/s2.json" as alice deploy "$T/signed.yaml" --no-wait --json
EXP=$((EXP - $(fee order.create)))
D2=$(jq -r .deployment "$T/s2.json")
check "... matched" until_ok 5 sh -c "[ \$(curl -s $MARKET/v1/orders/$D2 | jq -r .status) = matched ]"
as alice close "$D2" > /dev/null
EXP=$((EXP - $(fee lease.close)))

# ---- case 2: a manifest that cannot be delivered ----------------------------
B0=$(mget "/v1/accounts/$ALICE" .balances.uakt)
check "balances agree so far, to the unit" [ "$B0" = $EXP ]
as alice deploy "$EX" --deposit 100000 --timeout 30 > "$T/n.out" 2> "$T/n.err"
check "deploying to a provider that cannot be reached fails (exit 5)" [ $? = 5 ]
check "... saying the manifest could not be delivered, and why" \
    grep -q "the manifest could not be delivered to http://127.0.0.1:9" "$T/n.err"
check "... and that the lease is closed manifest_not_delivered" \
    grep -q "is closed manifest_not_delivered: nothing is charged" "$T/n.err"
LN=$(sed -n 's/.*lease \(l-[0-9]*\) is closed manifest_not_delivered.*/\1/p' "$T/n.err" | head -1)
check "the market shows it closed by the tenant, nothing charged" \
    sh -c "curl -s $MARKET/v1/leases/$LN | jq -e '.reason == \"manifest_not_delivered\" and .closed_by == \"tenant\" and .charged == 0'"
check "the whole escrow is back: only the two fees are gone, to the unit" \
    [ "$(mget "/v1/accounts/$ALICE" .balances.uakt)" = $((B0 - $(fee order.create) - $(fee lease.close))) ]
check "ledger audit passes" until_ok 10 "$L" audit --market "$MARKET"
finish
