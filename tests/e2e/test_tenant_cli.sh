#!/bin/sh
# The tenant CLI against a real market, with providers that only
# advertise (no daemon): usage and exit codes, the key, balances, SDL
# errors as `sdl check` prints them, why nothing matched (nobody
# advertising, attributes, price above the bid), --no-wait, deployment
# records, multi-group deployments, top-up, close and refund, progress
# on a terminal.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh

EX=$ROOT/examples/hello-http/deploy.yaml
TN=$BIN/tenant
FUND=1000000000
export XDG_CONFIG_HOME=$T/cfg

# rc CODE CMD...: CMD must exit with CODE
rc() { rc_want=$1; shift; "$@" > "$T/.rc" 2>&1; rc_got=$?
	[ $rc_got = "$rc_want" ] || { cat "$T/.rc"; echo "exit $rc_got, want $rc_want"; return 1; }; }
bal() { curl -s "$MARKET/v1/accounts/$ADDR" | jq '.balances.uakt // 0'; }
# pay KIND [N]: the tenant signed N (1) entries of KIND: EXP, the balance
# it should have, loses their fees (to the unit)
pay() { EXP=$((EXP - ${2:-1} * $(fee "$1"))); }
oget() { curl -s "$MARKET/v1/orders/$1" | jq -r ".$2"; }

# ---- usage ---------------------------------------------------------------
check "no command: usage on stderr, exit 2" rc 2 $TN
check "an unknown command exits 2" rc 2 $TN frobnicate
check "an unknown option exits 2" rc 2 $TN ls --frob
for c in keygen address balance deploy ls status logs topup close; do
	check "tenant $c --help exits 0 with its usage" \
	    sh -c "$TN $c --help | grep -q 'usage: tenant $c'"
done
check "the usage documents the exit codes" sh -c "$TN --help | grep -q 'nothing matched'"

# ---- key ---------------------------------------------------------------
check_fails "without a key, commands say to run keygen" "tenant keygen" \
    $TN address
check "keygen prints the new account key" sh -c "$TN keygen > $T/addr"
ADDR=$(cat "$T/addr")
check "the key is ed25519:<base64url>" sh -c "grep -Eq '^ed25519:[A-Za-z0-9_-]{43}$' $T/addr"
check "the key file is mode 0600 under XDG_CONFIG_HOME/lodge" \
    [ "$(stat -c %a "$XDG_CONFIG_HOME/lodge/tenant.key")" = 600 ]
check_fails "keygen refuses to replace a key (exit 1)" "already exists" \
    $TN keygen
check "address prints the same key" [ "$($TN address)" = "$ADDR" ]
check "address --json" sh -c "[ \$($TN address --json | jq -r .address) = $ADDR ]"

# ---- market ------------------------------------------------------------
check "market starts" cluster_market
check "without --market or LODGE_MARKET: exit 2" rc 2 $TN balance
export LODGE_MARKET=$MARKET
check "a new account has nothing" sh -c "$TN balance | grep -Eq 'no balance|uakt +0 available'"
$BIN/market deposit --data "$CL/market" "$ADDR" $FUND > /dev/null
EXP=$FUND
check "balance shows the deposit" sh -c "$TN balance | grep -q 'uakt *$FUND available'"
check "balance --json" sh -c "[ \$($TN balance --json | jq .balances.uakt) = $FUND ]"
check "--market on the command line wins over LODGE_MARKET" \
    sh -c "LODGE_MARKET=http://127.0.0.1:9 $TN --market $MARKET balance --json | jq -e .balances"

# ---- invalid SDL -------------------------------------------------------
sed 's/port: 8080/port: 70000/' "$EX" > "$T/bad.yaml"
check "an invalid SDL file exits 3" rc 3 $TN deploy "$T/bad.yaml"
$TN deploy "$T/bad.yaml" 2> "$T/bad.tenant" > /dev/null
$BIN/sdl check "$T/bad.yaml" 2> "$T/bad.sdl"
check "its errors are printed as sdl check prints them" \
    sh -c "grep -F -f $T/bad.sdl $T/bad.tenant | grep -q ':[0-9]*:[0-9]*: '"
check "a missing file exits 1" rc 1 $TN deploy "$T/nope.yaml"
awk '/^    loopback:$/ { print; print "      signedBy:"
	print "        anyOf: [akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63]"; next }
	{ print }' "$EX" > "$T/akash1.yaml"
check "signedBy naming an Akash auditor exits 3" rc 3 $TN deploy "$T/akash1.yaml"
check "... before anything is validated or posted, saying what a Lodge auditor is" \
    sh -c "grep -q 'is an Akash address: .*Lodge auditors are ed25519 keys' $T/.rc &&
        ! grep -Eq '^(validated|posted) ' $T/.rc"

# ---- nothing matches ---------------------------------------------------
check "with no provider: exit 4" rc 4 $TN deploy "$EX" --ttl 1
pay order.create
check "... saying nobody advertises" grep -q "no provider is advertising" "$T/.rc"
sed 's/^    image: host$/    image: host\n    depends_on: [db]/' "$EX" > "$T/schema.yaml"
check "what only Akash's schema refuses does not stop a deploy (exit 4 here)" \
    rc 4 $TN deploy "$T/schema.yaml" --ttl 1
pay order.create
check "... it is a warning on stderr, before validated" \
    sh -c "grep -q 'schema.yaml:10:5: services.web: warning: unknown field \"depends_on\"' $T/.rc &&
        awk '/: warning: /{w=NR} /^validated /{v=NR} END{exit !(w && v && w < v)}' $T/.rc"
fund_ask dear
check "dear provider advertises (price above the bid)" \
    advertise dear '{"region":"eu"}' 400000000
check "a bid below every ask: exit 4" rc 4 $TN deploy "$EX" --ttl 1
pay order.create
check "... naming the cheapest fitting ask and its price" \
    grep -q "cheapest fitting ask is 200000 uakt/epoch (ed25519:.*), above the bid of 100000" "$T/.rc"
awk '/^  placement:/{print; getline; print; print "      attributes:"; print "        region: mars"; next} {print}' \
    "$EX" > "$T/mars.yaml"
check "an attribute nobody has: exit 4" rc 4 $TN deploy "$T/mars.yaml" --ttl 1
pay order.create
check "... naming the attribute" grep -q "attributes asked (region=mars)" "$T/.rc"
check "every expired order's escrow is back in the balance, less 4 fees" \
    sh -c "sleep 1; [ \$(curl -s $MARKET/v1/accounts/$ADDR | jq .balances.uakt) = $EXP ]"

# ---- --no-wait, records, ls, topup, close --------------------------------
fund_ask cheap
check "cheap provider advertises" advertise cheap '{"region":"eu"}' 1000000
check "deploy --no-wait posts and exits 0" rc 0 $TN deploy "$EX" --no-wait --deposit 500000
pay order.create
D=$(sed -n 's/.*order \(o-[0-9]*\):.*/\1/p' "$T/.rc" | head -1)
check "--no-wait prints one line per step when not on a terminal" \
    sh -c "grep -q '^validated ' $T/.rc && grep -q '^posted ' $T/.rc"
check "a deployment record is kept, mode 0600" \
    [ "$(stat -c %a "$XDG_CONFIG_HOME/lodge/deployments/$D.json")" = 600 ]
check "the record holds the manifest the provider will get" \
    sh -c "[ \$(jq -c .manifest $XDG_CONFIG_HOME/lodge/deployments/$D.json | jq -S -c .) = \$($BIN/sdl manifest $EX | jq -S -c .) ]"
check "the order matched the cheap provider" until_ok 5 sh -c "[ \$(curl -s $MARKET/v1/orders/$D | jq -r .status) = matched ]"
LZ=$(oget "$D" lease)
check "ls shows the deployment, its lease and escrow" \
    sh -c "$TN ls | grep '^$D ' | grep '$LZ' | grep -q 500000"
check "ls --json" sh -c "$TN ls --json | jq -e '.[] | select(.deployment == \"$D\" and .lease == \"$LZ\")'"
check "status of the lease (its provider is unreachable: still shown)" \
    sh -c "$TN status $LZ | grep -q 'status    created'"
check "status accepts the order id" sh -c "$TN status $D --json | jq -e '.market.id == \"$LZ\"'"
check "topup adds to the escrow" rc 0 $TN topup "$D" 1000
pay deployment.deposit
check "the escrow grew by the top-up" [ "$(oget "$D" escrow)" = 501000 ]
check "topup refuses a non-number" rc 2 $TN topup "$D" lots
check "close refunds the whole escrow" sh -c "$TN close $D --json | jq -e '.[0].refund == 501000 and .[0].reason == \"tenant_closed\"'"
pay lease.close # the order closes with its lease
check "the balance is whole again, less the fees of 3 entries" [ "$(bal)" = $EXP ]
check "ls hides closed orders; ls --all shows them" \
    sh -c "! $TN ls | grep -q '^$D ' && $TN ls --all | grep '^$D ' | grep -q tenant_closed"
check "closing it again is harmless" rc 0 $TN close "$D"

# a lease closed by its id
check "deploy --no-wait again" rc 0 $TN deploy "$EX" --no-wait
pay order.create
D2=$(sed -n 's/.*order \(o-[0-9]*\):.*/\1/p' "$T/.rc" | head -1)
until_match() { [ "$(oget "$D2" status)" = matched ]; }
check "it matched" until_match
L2=$(oget "$D2" lease)
check "close LEASE closes the lease" rc 0 $TN close "$L2"
pay lease.close
check "the lease reason is tenant_closed" \
    [ "$(curl -s "$MARKET/v1/leases/$L2" | jq -r .reason)" = tenant_closed ]
check "the balance is whole again after a lease close, less 2 fees" [ "$(bal)" = $EXP ]

# two placement groups: two orders, one deployment
cat "$EX" > "$T/two.yaml"
sed -i 's/^deployment:/deployment-placeholder:/' "$T/two.yaml"
awk '/^  placement:/{print; print "    second:"; print "      pricing:"; print "        web:"; print "          denom: uakt"; print "          amount: 100000"; next}
     /^deployment-placeholder:/{print "deployment:"; print "  web:"; print "    loopback:"; print "      profile: web"; print "      count: 1"; print "    second:"; print "      profile: web"; print "      count: 1"; exit}
     {print}' "$T/two.yaml" > "$T/two2.yaml"
check "a two-placement SDL is valid" $BIN/sdl check "$T/two2.yaml"
check "deploy --no-wait posts one order per placement" rc 0 $TN deploy "$T/two2.yaml" --no-wait --deposit 300000
pay order.create 2
D3=$(sed -n 's/.*order \(o-[0-9]*\):.*/\1/p' "$T/.rc" | head -1)
check "the record lists both orders" \
    [ "$(jq '.orders | length' "$XDG_CONFIG_HOME/lodge/deployments/$D3.json")" = 2 ]
check "topup DEPLOYMENT tops up each of its orders" sh -c "$TN topup $D3 7 --json | jq -e 'length == 2 and all(.[]; .escrow == 300007)'"
pay deployment.deposit 2
check "close DEPLOYMENT closes both orders" sh -c "$TN close $D3 --json | jq -e 'length == 2 and all(.[]; .status == \"closed\")'"
pay lease.close 2 # both matched: each closes with its lease
check "and refunds both, less the fees of 6 entries" [ "$(bal)" = $EXP ]

# ---- progress on a terminal ----------------------------------------------
check "on a terminal, steps are rewritten on one line with ✓ marks" \
    sh -c "TERM=xterm script -qec '$TN deploy $EX --no-wait' /dev/null > $T/tty.out && grep -q '✓' $T/tty.out && grep -q \"\$(printf '\\r\\033\\[K')\" $T/tty.out"
D4=$(sed -n 's/.*order \(o-[0-9]*\):.*/\1/p' "$T/tty.out" | head -1)
check "close it" rc 0 $TN close "$D4"
check "ledger audit passes" sh -c "sleep 1.2; $BIN/ledger audit --market $MARKET"
finish
