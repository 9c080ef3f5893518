# Sourced by tests/e2e/test_money_*.sh after lib.sh and market_lib.sh:
# helpers to play tenants, honest and hostile providers against a real
# market with `ledger envelope` and curl (docs/state.md, "Money").
H0=$(printf '%064d' 0) # the manifest hash of every order here
now_ms() { date +%s%3N; }

# bal KEY / bond KEY: the market's view of an account, micro-units
bal() { curl -s "$MARKET/v1/accounts/$1" | jq .balances.uakt; }
bond() { curl -s "$MARKET/v1/accounts/$1" | jq .bonds.uakt; }

# post_file FILE: POST an envelope file; prints the status, the answer
# goes to $T/.resp and its headers to $T/.hdr
post_file() {
	curl -s -D "$T/.hdr" -o "$T/.resp" -w '%{http_code}' -XPOST \
	    --data-binary @"$1" "$MARKET/v1/entries"
}
# send KEY KIND BODY: sign and POST; prints the status (answer in $T/.resp)
send() {
	envelope "$1" "$2" "$3" > "$T/.env"
	post_file "$T/.env"
}

# adv KEY CPU_MILLIS MEMORY_BYTES PRICE_CPU_MS [PRICE_REQUEST]: an ask
adv() {
	submit "$1" provider.advertise "{\"api_url\":\"http://127.0.0.1:9\",\"attributes\":{},\"capacity\":{\"cpu_millis\":$2,\"memory_bytes\":$3,\"storage_bytes\":100000000000},\"runtimes\":[\"process\"],\"price\":{\"denom\":\"uakt\",\"cpu_ms\":$4,\"request\":${5:-0}}}" > /dev/null
}
# ord KEY CPU_MILLIS MAX_PRICE DEPOSIT [EXTRA_JSON_MEMBERS]: an order of
# 256 MiB and 1 GiB; prints its id
ord() {
	submit "$1" order.create "{\"placement\":\"dc\",\"resources\":[{\"profile\":\"web\",\"service\":\"web\",\"count\":1,\"cpu_millis\":$2,\"memory_bytes\":268435456,\"storage_bytes\":1073741824,\"price\":$3}],\"denom\":\"uakt\",\"max_price\":$3,\"runtimes\":[\"process\"],\"manifest_hash\":\"$H0\",\"deposit\":$4,\"ttl_ms\":600000${5:+,$5}}" | jq -r .id
}

# proof TENANT_KEYFILE LEASE [HASH] [METHOD]: the http.request envelope the
# tenant signs when it POSTs LEASE's manifest (what a provider receives)
proof() {
	$L envelope --key "$1" --kind http.request --body "{\"body_sha256\":\"${3:-$H0}\",\"method\":\"${4:-POST}\",\"path\":\"/v1/leases/$2/manifest\"}"
}
# started_body LEASE PROOF_JSON
started_body() { echo "{\"lease\":\"$1\",\"manifest_request\":$2}"; }
# start_lease PROVIDER_KEYFILE LEASE [TENANT_KEYFILE]: lease.started with
# the tenant's genuine proof; must be accepted
start_lease() {
	submit "$1" lease.started "$(started_body "$2" "$(proof "${3:-$T/tenant.key}" "$2")")" > /dev/null
}

# tamper FILE: stop the market, append the envelopes of FILE (one per
# line) to its ledger as a dishonest operator could, and sign a checkpoint
# over them with the market's key
tamper() {
	kill "$MARKET_PID" 2>/dev/null
	wait "$MARKET_PID" 2>/dev/null
	$L append "$CL/market/ledger.db" "$1" > /dev/null &&
	    $L checkpoint "$CL/market/ledger.db" --key "$CL/market/market.key" > /dev/null
}
