# Sourced by tests that speak the market's protocol by hand, after
# lib.sh (which starts the market: cluster_market): signed envelopes from
# `ledger envelope`, posted with curl to $MARKET.
L=$BIN/ledger
M=$BIN/market

# post: an envelope on stdin -> prints "STATUS BODY"
post() {
	curl -s -o "$T/.post" -w '%{http_code}' -XPOST --data-binary @- \
	    "$MARKET/v1/entries"
	printf ' '; cat "$T/.post"; echo
}
# envelope KEY KIND BODY: a signed envelope on stdout
envelope() { $L envelope --key "$1" --kind "$2" --body "$3"; }
# submit KEY KIND BODY: must be accepted; prints the body of the answer
submit() {
	out=$(envelope "$1" "$2" "$3" | post)
	case "$out" in
	201*) echo "${out#201 }";;
	*) echo "submit $2 failed: $out" >&2; return 1;;
	esac
}
# code KEY KIND BODY: the HTTP status a submission gets
code() {
	envelope "$1" "$2" "$3" | curl -s -o /dev/null -w '%{http_code}' \
	    -XPOST --data-binary @- "$MARKET/v1/entries"
}
# keygen NAME: a key in $T/NAME.key; prints its public key
keygen() { $L keygen "$T/$1.key" > "$T/$1.pub"; cat "$T/$1.pub"; }
# fund ADDR AMOUNT: a treasury deposit
fund() { $M deposit --data "$CL/market" "$1" "$2" > /dev/null; }
# fee KIND: what an entry of KIND costs its signer (the genesis rules)
fee() { curl -s "$MARKET/v1/info" | jq ".fees.kinds[\"$1\"] // .fees.default"; }
# bond_for CPU_MILLIS MEMORY_BYTES: the bond an ask of that capacity
# locks, from the genesis rules (docs/state.md, "Bonds": each term
# rounded up)
bond_for() {
	bf_cpu=$(curl -s "$MARKET/v1/info" | jq .bond.per_cpu)
	bf_gib=$(curl -s "$MARKET/v1/info" | jq .bond.per_gib)
	echo $(( (bf_cpu * $1 + 999) / 1000 + (bf_gib * $2 + 1073741823) / 1073741824 ))
}
# fund_ask NAME [CPU_MILLIS]: fund $T/NAME.key (made if missing) with the
# bond of advertise's ask and its fee
fund_ask() {
	[ -f "$T/$1.key" ] || keygen "$1" > /dev/null
	fund "$(cat "$T/$1.pub")" \
	    $(( $(bond_for "${2:-4000}" 8000000000) + $(fee provider.advertise) ))
}
# advertise NAME ATTRS CPU_PRICE [CPU_MILLIS]: a provider that only asks
# (no daemon), with the key $T/NAME.key (made if missing)
advertise() {
	[ -f "$T/$1.key" ] || keygen "$1" > /dev/null
	submit "$T/$1.key" provider.advertise "{\"api_url\":\"http://127.0.0.1:9\",\"attributes\":$2,\"capacity\":{\"cpu_millis\":${4:-4000},\"memory_bytes\":8000000000,\"storage_bytes\":100000000000},\"runtimes\":[\"process\"],\"price\":{\"denom\":\"uakt\",\"cpu_ms\":$3}}"
}
# order KEY ATTRS CPU MAXPRICE DEPOSIT [TTL_MS]: prints the order's id
order() {
	submit "$1" order.create "{\"placement\":\"dc\",\"attributes\":$2,\"resources\":[{\"profile\":\"web\",\"service\":\"web\",\"count\":1,\"cpu_millis\":$3,\"memory_bytes\":268435456,\"storage_bytes\":1073741824,\"price\":$4}],\"denom\":\"uakt\",\"max_price\":$4,\"runtimes\":[\"process\"],\"manifest_hash\":\"$(printf '%064d' 0)\",\"deposit\":$5,\"ttl_ms\":${6:-600000}}" | jq -r .id
}
