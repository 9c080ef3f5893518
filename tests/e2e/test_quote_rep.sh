#!/bin/sh
# Issue 21 against a real market with providers that only advertise:
# `tenant quote` posts nothing and says who would win, at what price (per
# epoch and per month) and why every other provider does not fit (price,
# attributes, capacity, a bid policy that denies the tenant, a minimum
# lease), from the market's own matching predicate (POST /v1/quote); the
# deploy that follows, nothing having changed, matches the quoted winner
# at the quoted price.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
need_tools jq curl

EX=$T/deploy.yaml # the hello-http example, placed in region eu
sed 's/^    loopback:$/    loopback:\n      attributes:\n        region: eu/' \
    "$ROOT/examples/hello-http/deploy.yaml" > "$EX"

check "market starts" cluster_market --check-invariants
check "tenant alice gets a key" sh -c \
    "mkdir -p $CL/alice && XDG_CONFIG_HOME=$CL/alice $BIN/tenant keygen > $T/alice.addr"
ALICE=$(cat "$T/alice.addr")
fund "$ALICE" 100000000
# the example: 500 millicores, bid 100000/epoch, 1 s epochs.
# cpu_ms price p gives p/2000 per epoch.
for n in cheap dear mars small deny minlease; do fund_ask $n; done
check "cheap asks 640 per epoch" advertise cheap '{"region":"eu"}' 1280000
check "dear asks 200000 per epoch (above the bid)" advertise dear '{"region":"eu"}' 400000000
check "mars has the wrong attributes" advertise mars '{"region":"mars"}' 2000
# only 100 millicores free
check "small has too little cpu" advertise small '{"region":"eu"}' 2000 100
check "deny (cheapest) denies alice by its bid policy" \
    submit "$T/deny.key" provider.advertise "{\"api_url\":\"http://127.0.0.1:9\",\"attributes\":{\"region\":\"eu\"},\"capacity\":{\"cpu_millis\":4000,\"memory_bytes\":8000000000,\"storage_bytes\":100000000000},\"runtimes\":[\"process\"],\"price\":{\"denom\":\"uakt\",\"cpu_ms\":2000},\"policy\":{\"deny\":[\"$ALICE\"]}}"
check "minlease asks a lease of 10^8 epochs" \
    submit "$T/minlease.key" provider.advertise "{\"api_url\":\"http://127.0.0.1:9\",\"attributes\":{\"region\":\"eu\"},\"capacity\":{\"cpu_millis\":4000,\"memory_bytes\":8000000000,\"storage_bytes\":100000000000},\"runtimes\":[\"process\"],\"price\":{\"denom\":\"uakt\",\"cpu_ms\":4000},\"policy\":{\"min_lease_epochs\":100000000}}"
key() { cat "$T/$1.pub"; }
orders() { mget /v1/orders length; }
N0=$(orders)

check "tenant quote --json answers" to "$T/q.json" as alice quote "$EX" --json
reason() { jq -r ".groups[0].not_fitting[] | select(.provider==\"$(key "$1")\") | .reason" "$T/q.json"; }
check "... the winner is cheap" [ "$(jq -r '.groups[0].winner' "$T/q.json")" = "$(key cheap)" ]
check "... at 640 per epoch" [ "$(jq -r '.groups[0].price' "$T/q.json")" = 640 ]
check "... and 640 x 2592000 epochs of 1 s per 30-day month" \
    [ "$(jq -r '.groups[0].per_month' "$T/q.json")" = $((640 * 2592000)) ]
check "... dear: price" [ "$(reason dear)" = price ]
check "... mars: attributes" [ "$(reason mars)" = attributes ]
check "... small: cpu" [ "$(reason small)" = cpu ]
check "... deny: policy_deny" [ "$(reason deny)" = policy_deny ]
check "... minlease: policy_min_lease" [ "$(reason minlease)" = policy_min_lease ]
check "... and nothing was posted" [ "$(orders)" = "$N0" ]
check "tenant quote (human) names the winner, price and month in units" \
    sh -c "as() { XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant \"\$@\"; }; as quote $EX > $T/q.txt && grep -q 'winner $(key cheap)' $T/q.txt && grep -q '640 uakt/epoch (0.000640 akt), 1658880000 uakt per 30-day month (1658.880000 akt)' $T/q.txt && grep -q 'does not fit $(key deny): policy_deny: its bid policy denies this tenant' $T/q.txt"
check "the deploy that follows matches the quoted winner" \
    to "$T/d.json" as alice deploy "$EX" --no-wait --json
D=$(jq -r .deployment "$T/d.json")
check "... at the quoted provider and price" until_ok 5 sh -c \
    "L=\$(curl -s $MARKET/v1/orders/$D | jq -r .lease) && [ \$(curl -s $MARKET/v1/leases/\$L | jq -r .provider) = $(key cheap) ] && [ \$(curl -s $MARKET/v1/leases/\$L | jq .price) = 640 ]"
as alice quote "$ROOT/examples/hello-http/nonexistent.yaml" > /dev/null 2>&1
check "quoting a missing file fails" [ $? != 0 ]
check "a malformed quote request is a 400 naming the field" sh -c \
    "curl -s -XPOST --data-binary '{\"tenant\":\"$ALICE\",\"orders\":[{}]}' $MARKET/v1/quote | grep -q 'quote.orders\[0\]'"
check "GET /v1/quote is 405" [ "$(http_code "$MARKET/v1/quote")" = 405 ]
finish
