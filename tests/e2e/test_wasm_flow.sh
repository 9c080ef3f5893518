#!/bin/sh
# A WebAssembly HTTP function (WAGI) leased end to end with the real
# daemons: a market, a provider offering the "wasm" runtime, a funded
# tenant deploying examples/wasm-http (its module uploaded as a blob for
# wasm+file:), then requests through the gateway (fresh instance each,
# query string, POST body), the workers confined in the lease's sandbox,
# state in /data, the wall-clock deadline (504, worker replaced), fuel
# exhaustion (503), fuel in the lease's usage, close (404) and `ledger
# audit`.
# The cluster runs on TLS (README "TLS"; LODGE_INSECURE_HTTP=1 in the
# environment runs it on plain HTTP instead).
: "${LODGE_INSECURE_HTTP=}"
. tests/e2e/lib.sh

EX=$ROOT/examples/wasm-http/deploy.yaml
FUND=1000000000
PRICE=cpu_ms=1000,mem_mb_s=1000,storage_mb_s=100,request=1000,fuel=1000

check "the example module builds (clang --target=wasm32-wasi)" \
    timeout 30 sh "$ROOT/examples/wasm-http/build.sh"
# The provider's deadline (default 10 s); the example's env lowers it to
# 2 s for its function.
LODGE_DEADLINE_MS=5000
export LODGE_DEADLINE_MS
check "market starts" cluster_market
check "provider starts and advertises" cluster_provider w1 region=eu $PRICE
check "the provider offers the wasm runtime" sh -c \
    "curl -s -m 5 '$w1_URL/v1/info' | jq -e '.runtimes | index(\"wasm\")'"
check "the market lists it with runtime wasm and a fuel price" sh -c \
    "curl -s -m 5 '$MARKET/v1/providers' | jq -e '.[] | select(.ask.api_url == \"$w1_URL\") | (.ask.runtimes | index(\"wasm\")) and .ask.price.fuel == 1000'"
check "tenant gets a key and funds" cluster_tenant alice $FUND

check "alice deploys the wasm function (blob uploaded, exit 0)" \
    to "$T/d.json" timeout 130 sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant deploy $EX --timeout 120 --json"
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
    "XDG_CONFIG_HOME=$CL/alice timeout 10 $BIN/tenant --market $MARKET status $L --json > $T/st.json && jq -e '.provider.status == \"running\"' $T/st.json"
SBPID=$(jq -r '.provider.replicas[0].pid' "$T/st.json")
check "the function has a sandbox (its init's pid in the status)" \
    [ "${SBPID:-0}" -gt 1 ]
# The supervisor is the sandbox init's child; the workers are its children.
SUP=$(cat /proc/$SBPID/task/$SBPID/children 2> /dev/null | awk '{print $1}')
check "the sandbox runs provider wasm serve" sh -c \
    "tr '\\0' ' ' < /proc/$SUP/cmdline | grep -q 'wasm serve /app/module.wasm'"
WORKERS=$(cat /proc/$SUP/task/$SUP/children 2> /dev/null)
check "it has two worker processes (profile: 0.5 CPU, at least 2)" \
    [ "$(echo $WORKERS | wc -w)" = 2 ]
W1=$(echo $WORKERS | awk '{print $1}')
check "the workers live in the lease's own pid and network namespaces" \
    sh -c "[ \"\$(readlink /proc/$W1/ns/pid)\" != \"\$(readlink /proc/self/ns/pid)\" ] && [ \"\$(readlink /proc/$W1/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ]"
check "the workers run unprivileged under seccomp" sh -c \
    "grep -q '^Uid:[[:space:]]*65534' /proc/$W1/status && grep -q '^Seccomp:[[:space:]]*2' /proc/$W1/status && grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$W1/status"
check "instances are fresh but /data keeps state (visits 1, then 2)" sh -c \
    "curl -s -m 10 '${URL}visits' | grep -qx 'visits=1' && curl -s -m 10 '${URL}visits' | grep -qx 'visits=2'"
S0=$(date +%s%N)
check "a request past the deadline answers 504" \
    [ "$(http_code "${URL}sleep?ms=20000")" = 504 ]
S1=$(date +%s%N)
check "... after the function's own deadline (2 s; the provider's is 5 s)" \
    [ $(( (S1 - S0) / 1000000 )) -ge 2000 -a $(( (S1 - S0) / 1000000 )) -lt 4500 ]
check "the killed worker was replaced: the function answers again" \
    [ "$(http_code "${URL}hello")" = 200 ]
check "a request within the deadline is not cut (sleep 200 ms)" sh -c \
    "curl -s -m 10 '${URL}sleep?ms=200' | grep -qx 'slept 200 ms'"
check "an endless loop runs out of fuel: 503" \
    [ "$(http_code "${URL}spin")" = 503 ]
check "and the function still answers" [ "$(http_code "${URL}hello")" = 200 ]
check "the market's usage shows requests, CPU and fuel (two budgets: 504 and 503)" until_ok 15 sh -c \
    "curl -s -m 5 $MARKET/v1/leases/$L | jq -e '.usage.requests >= 10 and .usage.cpu_ms > 0 and .usage.fuel >= 2000000000'"
check "usage is charged" until_ok 10 sh -c \
    "[ \$(curl -s -m 5 $MARKET/v1/leases/$L | jq .charged) -gt 0 ]"
check "alice closes the deployment" timeout 20 sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant close $(jq -r .deployment "$T/d.json")"
check "after close the gateway answers 404" until_ok 10 sh -c \
    "[ \"\$(curl -s -m 5 -o /dev/null -w '%{http_code}' '${URL}hello')\" = 404 ]"
check "ledger audit passes" until_ok 10 timeout 10 \
    "$BIN/ledger" audit --market "$MARKET"
# The app dir (module, provider link, compiled .so) outlives the lease
# for the keep time; a provider started with no keep time removes it.
check "the function's app dir is cached on the provider" sh -c \
    "ls $CL/w1/cache/wasm-app/*/.wasm-cache/*.so"
kill -TERM "$w1_PID"
check "the provider stops" until_ok 20 sh -c "! kill -0 $w1_PID"
LODGE_WASM_APP_KEEP_S=0 cluster_provider_start w1 > /dev/null 2>&1
check "restarted with LODGE_WASM_APP_KEEP_S=0, unused app dirs are gone" \
    until_ok 10 sh -c "[ -z \"\$(ls $CL/w1/cache/wasm-app)\" ]"
check "and it says so in its log" grep -q "removed 1 unused wasm app dirs" \
    "$CL/w1.log"
finish
