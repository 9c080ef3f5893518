#!/bin/sh
# A WebAssembly HTTP function (WAGI) leased end to end with the real
# daemons: a market, a provider offering the "wasm" runtime, a funded
# tenant deploying examples/wasm-http (its module uploaded as a blob for
# wasm+file:), then requests through the gateway (fresh instance each,
# query string, POST body), fuel in the lease's usage, close (404) and
# `ledger audit`.
. tests/e2e/lib.sh
CL=$T
. examples/local/cluster.sh
trap 'cluster_stop; cleanup' EXIT

EX=$ROOT/examples/wasm-http/deploy.yaml
FUND=1000000000
PRICE=cpu_ms=1000,mem_mb_s=1000,storage_mb_s=100,request=1000,fuel=1000

to() { to_f=$1; shift; "$@" > "$to_f" 2> "$to_f.err"; }
until_ok() {
	uo_end=$(($(date +%s) + $1)); shift
	while :; do
		if "$@" > /dev/null 2>&1; then return 0; fi
		[ "$(date +%s)" -ge $uo_end ] && break
		sleep 0.1
	done
	echo "timed out: $*"
	return 1
}
mget() { curl -s -m 5 "$MARKET$1" | jq -r "$2"; }
http_code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }

check "the example module builds (clang --target=wasm32-wasi)" \
    timeout 30 sh "$ROOT/examples/wasm-http/build.sh"
check "market starts" cluster_market
check "provider starts and advertises" cluster_provider w1 region=eu $PRICE
check "the provider offers the wasm runtime" sh -c \
    "curl -s -m 5 '$w1_URL/v1/info' | jq -e '.runtimes | index(\"wasm\")'"
check "the market lists it with runtime wasm and a fuel price" sh -c \
    "curl -s -m 5 '$MARKET/v1/providers' | jq -e '.[] | select(.ask.api_url == \"$w1_URL\") | (.ask.runtimes | index(\"wasm\")) and .ask.price.fuel == 1000'"
check "tenant gets a key and funds" cluster_tenant alice $FUND

check "alice deploys the wasm function (blob uploaded, exit 0)" \
    to "$T/d.json" timeout 40 sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant deploy $EX --timeout 30 --json"
L=$(jq -r '.orders[0].lease' "$T/d.json")
URL=$(jq -r '.orders[0].services.fn' "$T/d.json")
check "deploy uploaded the module as a blob" grep -q "1 blob" "$T/d.json.err"
check "the function URL goes through the gateway" \
    [ "$URL" = "$w1_URL/l/$L/fn/" ]
check "GET answers 200 through the gateway" \
    [ "$(http_code "${URL}hello")" = 200 ]
curl -s -m 10 -A lodge-test "${URL}hello" > "$T/r1" 2> /dev/null
check "the body is the function's (method, path, user agent, env)" \
    sh -c "grep -q 'hello from wasm: GET /hello (user agent: lodge-test)' $T/r1 && grep -q 'greeting=hello' $T/r1"
check "the function's own header comes back" sh -c \
    "curl -s -m 10 -D - -o /dev/null '${URL}hello' | grep -qi '^X-Powered-By: lodge-wasm'"
check "the function's Content-Type comes back" sh -c \
    "curl -s -m 10 -D - -o /dev/null '${URL}hello' | grep -qi '^Content-Type: text/plain'"
curl -s -m 10 "${URL}again" > "$T/r2" 2> /dev/null
check "a second request runs in a fresh instance (state did not persist)" \
    sh -c "grep -q 'served=1' $T/r1 && grep -q 'served=1' $T/r2"
check "the query string reaches the function" sh -c \
    "curl -s -m 10 '${URL}q?name=lodge&n=2' | grep -q 'GET /q?name=lodge&n=2'"
check "a POST body is echoed upper-cased" sh -c \
    "[ \"\$(curl -s -m 10 --data-binary 'make it loud' '${URL}echo')\" = 'MAKE IT LOUD' ]"
check "the function's status comes back (404 for /missing)" \
    [ "$(http_code "${URL}missing")" = 404 ]
check "tenant status shows the function running" sh -c \
    "XDG_CONFIG_HOME=$CL/alice timeout 10 $BIN/tenant --market $MARKET status $L --json | jq -e '.provider.status == \"running\"'"
check "the market's usage shows requests and fuel" until_ok 15 sh -c \
    "curl -s -m 5 $MARKET/v1/leases/$L | jq -e '.usage.requests > 0 and .usage.fuel > 0'"
check "usage is charged" until_ok 10 sh -c \
    "[ \$(curl -s -m 5 $MARKET/v1/leases/$L | jq .charged) -gt 0 ]"
check "alice closes the deployment" timeout 20 sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant close $(jq -r .deployment "$T/d.json")"
check "after close the gateway answers 404" until_ok 10 sh -c \
    "[ \"\$(curl -s -m 5 -o /dev/null -w '%{http_code}' '${URL}hello')\" = 404 ]"
check "ledger audit passes" until_ok 10 timeout 10 \
    "$BIN/ledger" audit --market "$MARKET"
finish
