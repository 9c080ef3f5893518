#!/bin/sh
# docs/openapi-market.json checked against a running market: every
# documented path and method answers with a documented status, the
# documented content type, and JSON carrying the schema's required
# properties; undocumented paths answer 404.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
SPEC=$ROOT/docs/openapi-market.json

check "the document is OpenAPI 3 JSON" sh -c "jq -e '.openapi | startswith(\"3.\")' $SPEC"
check "market starts" cluster_market --check-invariants
TEN=$(keygen tenant)
P1=$(keygen p1)
fund "$TEN" 1000000
fund_ask p1 # the bond and the fee of its ask
check "a funded provider advertises" advertise p1 '{"region":"eu"}' 1000000
O=$(order "$T/tenant.key" '{}' 500 5000 100000)
LEASE=$(mget "/v1/orders/$O" .lease)
check "the order is matched: a lease exists" sh -c "echo '$LEASE' | grep -q '^l-'"
until_ok 10 sh -c "curl -s $MARKET/v1/ledger/checkpoint | sed -n 2p | grep -qv '^[01]\$'"

# required properties of schema S (following one $ref) present in file F
has_required() {
	schema=$1; file=$2
	ref=$(echo "$schema" | jq -r '."$ref" // empty')
	[ -n "$ref" ] && schema=$(jq ".components.schemas.\"${ref##*/}\"" "$SPEC")
	if [ "$(echo "$schema" | jq -r .type)" = array ]; then
		item=$(echo "$schema" | jq '.items')
		[ "$(jq 'length' "$file")" -gt 0 ] || return 0
		jq '.[0]' "$file" > "$file.0"
		has_required "$item" "$file.0"
		return $?
	fi
	for k in $(echo "$schema" | jq -r '.required[]?'); do
		jq -e "has(\"$k\")" "$file" > /dev/null || { echo "missing $k"; return 1; }
	done
}

jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | "\(.) \($p)"' "$SPEC" > "$T/ops"
while read -r method path; do
	url=$(echo "$path" | sed "s|{id}|$( echo "$path" | grep -q orders && echo "$O" || echo "$LEASE")|; s|{key}|$(echo "$path" | grep -q providers && echo "$P1" || echo "$TEN")|")
	case "$path" in
	*/inclusion) url="$url?index=1";;
	*/consistency) url="$url?old=1&new=2";;
	*/entries) [ "$method" = get ] && url="$url?start=0&end=3";;
	*/events) url="$url?since=0";;
	esac
	if [ "$path" = /v1/quote ]; then
		curl -s "$MARKET/v1/orders/$O" | jq -c "{tenant:\"$TEN\",orders:[.body]}" > "$T/body"
	elif [ "$method" = post ]; then
		envelope "$T/tenant.key" account.transfer "{\"to\":\"$P1\",\"denom\":\"uakt\",\"amount\":1}" > "$T/body"
	fi
	if [ "$path" = /v1/events ]; then
		timeout 2 curl -s -D "$T/hdr" -o /dev/null "$MARKET$url"
		code=$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$T/hdr")
	elif [ "$method" = post ]; then
		code=$(curl -s -D "$T/hdr" -o "$T/resp" -w '%{http_code}' -XPOST --data-binary @"$T/body" "$MARKET$url")
	else
		code=$(curl -s -D "$T/hdr" -o "$T/resp" -w '%{http_code}' "$MARKET$url")
	fi
	ctype=$(sed -n 's/^[Cc]ontent-[Tt]ype: *\([^;\r]*\).*/\1/p' "$T/hdr" | tr -d '\r')
	resp=$(jq ".paths.\"$path\".$method.responses.\"$code\"" "$SPEC")
	if [ "$resp" = null ]; then
		notok "$method $path: status $code is not documented"
		continue
	fi
	want=$(echo "$resp" | jq -r '.content | keys[0]')
	if [ "$want" != "$ctype" ]; then
		notok "$method $path: content type '$ctype', documented '$want'"
		continue
	fi
	if [ "$want" = application/json ]; then
		schema=$(echo "$resp" | jq ".content.\"application/json\".schema")
		if ! out=$(has_required "$schema" "$T/resp"); then
			notok "$method $path: response lacks documented property ($out)"
			continue
		fi
	fi
	ok "$method $path answers $code $ctype as documented"
done < "$T/ops"

# documented error answers
check "POST /v1/entries with a bad body answers a documented 400" sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary 'x' $MARKET/v1/entries) = 400 ] && jq -e '.paths.\"/v1/entries\".post.responses.\"400\"' $SPEC"
check "POST /v1/quote with a bad body answers a documented 400" sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary '{\"tenant\":1}' $MARKET/v1/quote) = 400 ] && jq -e '.paths.\"/v1/quote\".post.responses.\"400\"' $SPEC"
check "GET an unknown order answers a documented 404" sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' $MARKET/v1/orders/o-999) = 404 ]"
check "an undocumented path answers 404" sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' $MARKET/v1/nothing) = 404 ]"
check "every route the server knows is documented" sh -c "for r in /v1/info /v1/providers /v1/orders /v1/leases /v1/quote /healthz /metrics; do jq -e \".paths.\\\"\$r\\\"\" $SPEC > /dev/null || exit 1; done"
finish
