#!/bin/sh
# Issue 21 against a real market with providers that only advertise:
# `tenant quote` posts nothing and says who would win, at what price (per
# epoch and per month) and why every other provider does not fit (price,
# attributes, capacity, a bid policy that denies the tenant, a minimum
# lease), from the market's own matching predicate (POST /v1/quote); the
# deploy that follows, nothing having changed, matches the quoted winner
# at the quoted price.  Then reputation: a provider that refuses a
# manifest and one that drops offline see their records move
# (/v1/providers/KEY/record, `tenant providers`), and `ledger audit`
# recomputes each record from the ledger and finds the market's equal.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/money_lib.sh
need_tools jq curl

EX=$T/deploy.yaml # the hello-http example, placed in region eu
sed '0,/^    loopback:$/s//    loopback:\n      attributes:\n        region: eu/' \
    "$ROOT/examples/hello-http/deploy.yaml" > "$EX"

# providers that only advertise go offline 10 s after their last entry
CLUSTER_GRACE=10
check "market starts (no pause grace)" cluster_market --check-invariants --pause-grace 0
check "tenant alice gets a key" sh -c \
    "mkdir -p $CL/alice && XDG_CONFIG_HOME=$CL/alice $BIN/tenant keygen > $T/alice.addr"
ALICE=$(cat "$T/alice.addr")
fund "$ALICE" 100000000
# the example: 500 millicores, bid 100000/epoch, 1 s epochs.
# cpu_ms price p gives p/2000 per epoch.
# each funds its bond and ask, and 100000 for the fees of heartbeats
for n in cheap dear mars small deny minlease; do
	fund_ask $n
	fund "$(cat "$T/$n.pub")" 100000
done
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
# beat: every provider signs a heartbeat (stays online)
beat() { for n in cheap dear mars small deny minlease; do submit "$T/$n.key" provider.heartbeat '{}' > /dev/null; done; }
orders() { mget /v1/orders length; }
N0=$(orders)

beat
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
as alice deploy "$EX" --deposit 640 > "$T/low.out" 2> "$T/low.err"
check "deploy --deposit 640: refused before posting (deny, cheaper, denies alice)" [ $? = 1 ]
check "... naming cheap's minimum lease (10 x 640), from the market's own quote" \
    grep -q "fits now ($(key cheap): 640 uakt/epoch x 10 epochs = 6400 uakt): give --deposit 6400 or more" "$T/low.err"
check "... and nothing was posted" [ "$(orders)" = "$N0" ]
beat
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

# ---- reputation -------------------------------------------------------------
rec() { mget "/v1/providers/$(key "$1")/record" "$2"; }
LEASE=$(mget "/v1/orders/$D" .lease)
check "cheap's record: one lease won, none started" \
    sh -c "[ $(rec cheap .leases.won) = 1 ] && [ $(rec cheap .leases.started) = 0 ]"
check "cheap refuses the manifest" submit "$T/cheap.key" lease.close \
    "{\"lease\":\"$LEASE\",\"reason\":\"manifest_refused\"}"
check "... its record counts it, and its completion rate falls to 0" \
    sh -c "[ \$(curl -s $MARKET/v1/providers/$(key cheap)/record | jq '[.manifests_refused, .leases.ended.manifest_refused, .completion_rate_ppm] | join(\",\")') = '\"1,1,0\"' ]"
check "an unknown provider's record is 404" \
    [ "$(http_code "$MARKET/v1/providers/$ALICE/record")" = 404 ]
check "dear drops offline after the grace (others beat)" until_ok 30 sh -c \
    "for n in cheap mars small deny minlease; do $L envelope --key $T/\$n.key --kind provider.heartbeat --body '{}' | curl -s -o /dev/null -XPOST --data-binary @- $MARKET/v1/entries; done; [ \$(curl -s $MARKET/v1/providers/$(key dear)/record | jq .online) = false ]"
check "... its record: one offline mark" [ "$(rec dear .offline_marks)" = 1 ]
check "dear comes back with a heartbeat" submit "$T/dear.key" provider.heartbeat '{}'
check "... online, with its offline time kept: uptime below 100%" \
    until_ok 5 sh -c "[ \$(curl -s $MARKET/v1/providers/$(key dear)/record | jq '.online and .offline_ms > 0 and .uptime_7d_ppm < 1000000') = true ]"
check "tenant providers lists each with its record" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant providers > $T/p.txt && grep -q '^$(key cheap) online' $T/p.txt && grep -q 'manifests refused 1' $T/p.txt && grep -q 'offline 1 times' $T/p.txt"
check "tenant providers --json: six records" sh -c \
    "[ \$(XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant providers --json | jq length) = 6 ]"
# a placement asking a minimum record (x-lodge-min-reputation)
sed '0,/^    loopback:$/s//    loopback:\n      x-lodge-min-reputation:\n        completion_rate: 0.5/' \
    "$EX" > "$T/minrep.yaml"
check "sdl check accepts x-lodge-min-reputation without a warning" sh -c \
    "$BIN/sdl check $T/minrep.yaml 2> $T/mr.err && ! grep -q warning $T/mr.err"
check "... and --strict reports it as Akash's schema would" sh -c \
    "! $BIN/sdl check --strict $T/minrep.yaml 2> $T/mrs.err && grep -q 'a Lodge extension' $T/mrs.err"
beat
as alice quote "$T/minrep.yaml" --json > "$T/mq.json"
check "a minimum completion rate of 50%: nothing fits (exit 4)" [ $? = 4 ]
check "... cheap (0%) and the others (no record yet) fail on reputation" \
    sh -c "[ \$(jq '[.groups[0].not_fitting[] | select(.reason == \"reputation\")] | length' $T/mq.json) -ge 4 ] && jq -e '.groups[0].not_fitting[] | select(.provider == \"$(key cheap)\") | .detail | test(\"completion_rate_ppm is 0\")' $T/mq.json > /dev/null"
beat
as alice deploy "$T/minrep.yaml" --ttl 1 > "$T/md.out" 2> "$T/md.err"
check "deploying it: nothing matches before the TTL (exit 4)" [ $? = 4 ]
check "... and the reason counts the market's own rules, reputation among them" \
    grep -q "(the market's own rules, per provider:.* reputation [0-9]" "$T/md.err"
# ---- the escrow's runway ----------------------------------------------------
# alice's order at cheap (640/epoch, 1 s epochs) with 20 epochs of escrow,
# started with her genuine manifest proof
beat
AK=$CL/alice/lodge/tenant.key
check "alice orders with 20 epochs of escrow" to "$T/ro.json" \
    submit "$AK" order.create "{\"placement\":\"dc\",\"attributes\":{\"region\":\"eu\"},\"resources\":[{\"profile\":\"web\",\"service\":\"web\",\"count\":1,\"cpu_millis\":500,\"memory_bytes\":268435456,\"storage_bytes\":0,\"price\":640}],\"denom\":\"uakt\",\"max_price\":640,\"runtimes\":[\"process\"],\"manifest_hash\":\"$H0\",\"deposit\":12800,\"ttl_ms\":60000}"
RO=$(jq -r .id "$T/ro.json")
RL=$(mget "/v1/orders/$RO" .lease)
check "... matched at cheap and started" start_lease "$T/cheap.key" "$RL" "$AK"
check "the market says until when the escrow pays (20 epochs after the start)" \
    [ "$(mget "/v1/leases/$RL" '.paid_until - .started')" = 20000 ]
check "tenant status shows the runway, with a warning" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status $RL | grep -q 'runway    the escrow pays [0-9]* s more at this price (warning: then the market closes it insufficient_funds'"
check "tenant ls warns of it" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant ls | grep -q 'warning: lease $RL: the escrow pays [0-9]* s more at 640 uakt/epoch, then the market closes it insufficient_funds: tenant topup $RO AMOUNT'"
check "... and the market closes it insufficient_funds when it runs dry (cheap beats)" \
    until_ok 40 sh -c "$L envelope --key $T/cheap.key --kind provider.heartbeat --body '{}' | curl -s -o /dev/null -XPOST --data-binary @- $MARKET/v1/entries; [ \$(curl -s $MARKET/v1/leases/$RL | jq -r .reason) = insufficient_funds ]"
# a quiet market: the checkpoint covers every leaf, the records agree
until_ok 10 sh -c "[ \$(curl -s $MARKET/v1/ledger/checkpoint | sed -n 2p) = \$(( \$(curl -s $MARKET/v1/providers/$(key dear)/record | jq .index) + 1 )) ]"
for n in cheap dear; do
	check "ledger audit recomputes $n's record and finds the market's equal" \
	    sh -c "$L audit --market $MARKET --provider $(key $n) --json > $T/a.$n.json && jq -e '.market_agrees == true' $T/a.$n.json > /dev/null && [ \"\$(jq -S 'del(.market_agrees)' $T/a.$n.json)\" = \"\$(curl -s $MARKET/v1/providers/$(key $n)/record | jq -S .)\" ]"
done
finish
