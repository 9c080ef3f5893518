#!/bin/sh
# The Lodge Console (console/, served by the market at /): how the market
# serves its files (content types, caching, a CSP without inline scripts,
# paths outside console/ refused), POST /v1/sdl/check against `sdl
# check`, then the pages in Debian's headless chromium driven over the
# DevTools protocol (tests/e2e/console_test.py): the market page with two
# providers, a live update over SSE after a new deployment, a lease's
# story against `ledger audit --lease --json` with its standing top-up
# (tenant topup --auto), a provider's page with its record, the
# ledger explorer's in-browser verification (and tampered answers
# refused), consistency with the remembered checkpoint, a phone-sized
# screen, dark theme, no console errors.  Screenshots go to
# build/console/ (a current set is committed under docs/console/).
. tests/e2e/lib.sh

PY=/usr/bin/python3
EX=$ROOT/examples/hello-perl/deploy.yaml
SHOTS=${LODGE_CONSOLE_SHOTS:-$ROOT/build/console}

# no rate limit: the figures fill the market with 1,000 orders
check "market starts on a free loopback port, serving console/" \
    cluster_market --console "$ROOT/console" --rate-limit 0

# ---- serving -----------------------------------------------------------
curl -s -D "$T/h" -o "$T/index" "$MARKET/"
check "GET / answers the console's index.html" \
    sh -c "head -1 '$T/h' | grep -q ' 200 ' && grep -q 'Lodge Console' '$T/index'"
check "... as text/html" grep -qi '^Content-Type: text/html; charset=utf-8' "$T/h"
check "... with a CSP that allows scripts from the market only (no inline)" \
    sh -c "grep -i '^Content-Security-Policy:' '$T/h' | grep -q \"default-src 'self'\" && ! grep -i '^Content-Security-Policy:' '$T/h' | grep -q unsafe"
check "... nosniff and revalidated on each load (no-cache)" \
    sh -c "grep -qi '^X-Content-Type-Options: nosniff' '$T/h' && grep -qi '^Cache-Control: no-cache' '$T/h'"
check "index.html has no inline script (the CSP would block it)" \
    sh -c "! grep -q '<script>' '$T/index' && ! grep -qi ' on[a-z]*=' '$T/index'"
curl -s --compressed -D "$T/hz" -o "$T/app.js" "$MARKET/console/app.js"
check "a client that asks for gzip gets the files gzipped" \
    sh -c "grep -qi '^Content-Encoding: gzip' '$T/hz' && cmp -s '$T/app.js' '$ROOT/console/app.js'"
check "... and one that does not, plain" \
    sh -c "! curl -s -D - -o /dev/null '$MARKET/console/app.js' | grep -qi '^Content-Encoding'"
ctype() { curl -s -o /dev/null -w '%{content_type}' "$MARKET$1"; }
check "a module is served as text/javascript" \
    [ "$(ctype /console/app.js)" = "text/javascript; charset=utf-8" ]
check "the stylesheet as text/css" \
    [ "$(ctype /console/style.css)" = "text/css; charset=utf-8" ]
for bad in "/console/../Makefile" "/console/%2e%2e/Makefile" \
    "/console/..%2fmarket/main.c" "/console/.git/config" \
    "/console/a/b/c.js" "/console//etc/passwd" "/console/%2fetc%2fpasswd.txt" \
    "/console/main.c" "/console/README.md" "/console/x%00.js"; do
	code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$MARKET$bad")
	check "path outside the console refused: $bad ($code)" \
	    sh -c "[ $code = 404 ] || [ $code = 400 ]"
done
check "POST to a console file is refused" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' -XPOST --data x "$MARKET/console/app.js")" = 405 ]

# ---- POST /v1/sdl/check ------------------------------------------------
curl -s -XPOST --data-binary @"$EX" "$MARKET/v1/sdl/check?name=deploy.yaml" > "$T/ok.json"
check "sdl/check accepts the example SDL" jq -e '.ok == true and .errors == []' "$T/ok.json"
check "... with the manifest hash \`sdl hash\` prints" \
    [ "$(jq -r .manifest_hash "$T/ok.json")" = "$("$BIN/sdl" hash "$EX")" ]
check "... and the orders \`sdl orders\` prints" \
    sh -c "[ \"\$(jq -cS .orders '$T/ok.json')\" = \"\$('$BIN/sdl' orders '$EX' | jq -cS .)\" ]"
sed 's/cpu:/cpux:/; s/units: *0*\.5/units: -1/' "$EX" > "$T/bad.yaml"
"$BIN/sdl" check "$T/bad.yaml" 2> "$T/bad.cli" > /dev/null
curl -s -XPOST --data-binary @"$T/bad.yaml" \
    "$MARKET/v1/sdl/check?name=$T/bad.yaml" > "$T/bad.json"
check "sdl/check refuses an invalid SDL" jq -e '.ok == false and (.errors | length) > 0' "$T/bad.json"
check "... with the same messages as \`sdl check\`" \
    sh -c "jq -r '.warnings[], .errors[]' '$T/bad.json' | diff - '$T/bad.cli'"

# ---- the browser ---------------------------------------------------------
if ! command -v chromium > /dev/null 2>&1 &&
    ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
	skip "the console in a browser" "Debian's chromium cannot be installed here"
	finish
fi
need_tools chromium
need "python3-websocket (make deps installs it)" $PY -c 'import websocket'

check "provider p1 (region=eu) starts and advertises" \
    cluster_provider p1 region=eu cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
check "provider p2 (region=us, dearer) starts and advertises" \
    cluster_provider p2 region=us cpu_ms=2000000,mem_mb_s=2000000,storage_mb_s=200000
check "tenant alice gets a key and funds" cluster_tenant alice 1000000000
check "alice deploys the example" to "$T/d1.json" as alice deploy "$EX" --timeout 30 --json

mkdir -p "$SHOTS"
rm -f "$SHOTS/figures.jsonl"
$PY "$ROOT/tests/e2e/console_test.py" --market "$MARKET" --shots "$SHOTS" \
    --ledger "$BIN/ledger" --figures "$SHOTS/figures.jsonl" \
    --deploy-sdl "$EX" --deploy-bad "$T/bad.yaml" --deploy-bad-cli "$T/bad.cli" \
    --fund "$BIN/market deposit --data $CL/market" \
    --wycheproof "$SHARED/corpus/ed25519/wycheproof_ed25519_test.json" \
    --trigger "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant deploy $EX --timeout 30 --json" \
    --autotopup "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant topup --auto 3200 --below 8" \
    > "$T/browser.out" 2>&1
rc=$?
cat "$T/browser.out"
FAILED=$((FAILED + $(grep -c '^not ok' "$T/browser.out")))
[ $rc -eq 0 ] || [ "$(grep -c '^not ok' "$T/browser.out")" -gt 0 ] ||
    notok "the browser test ran to its end (exit $rc)"

# ---- alice's PEM key imported in a fresh browser --------------------------
$PY "$ROOT/tests/e2e/console_test.py" --market "$MARKET" --shots "$SHOTS" \
    --ledger "$BIN/ledger" --trigger true \
    --only-import "$CL/alice/lodge/tenant.key" --expect-key "$alice_ADDR" \
    > "$T/import.out" 2>&1
cat "$T/import.out"
FAILED=$((FAILED + $(grep -c '^not ok' "$T/import.out")))

# ---- figures: the market page with 1,000 leases ----------------------------
N=${LODGE_CONSOLE_LEASES:-1000}
check "$N small orders matched by an ask-only provider (leases for the figures)" \
    $PY "$ROOT/tests/e2e/console_bulk.py" --market "$MARKET" \
    --deposit-cmd "$BIN/market deposit --data $CL/market" "$N"
$PY "$ROOT/tests/e2e/console_test.py" --market "$MARKET" --shots "$SHOTS" \
    --ledger "$BIN/ledger" --figures "$SHOTS/figures.jsonl" --trigger true \
    --only-figures "$N" > "$T/figures.out" 2>&1
cat "$T/figures.out"
FAILED=$((FAILED + $(grep -c '^not ok' "$T/figures.out")))
# ---- a witness: cosignatures verified in the browser ------------------------
VKEY=$(curl -s "$MARKET/v1/info" | jq -r .vkey)
(cd "$T" && $BIN/ledger witness init w.db --name witness.test/w1 --key w.key > wvkey 2> /dev/null &&
    $BIN/ledger witness log w.db "$VKEY" > /dev/null)
$BIN/ledger witness serve "$T/w.db" --listen 127.0.0.1:0 > "$T/w.out" 2> "$T/w.err" &
PIDS="$PIDS $!"
check "a witness serves on a loopback port" until_ok 10 grep -q '^listening on' "$T/w.out"
cluster_kill "$MARKET_PID"
check "the market restarts with the witness, quorum 1" cluster_market \
    --console "$ROOT/console" --rate-limit 0 \
    --witness "$(cat "$T/wvkey")=$(sed -n 's/^listening on //p' "$T/w.out")" --quorum 1
check "its published checkpoint is cosigned" until_ok 15 sh -c \
    "curl -s '$MARKET/v1/ledger/checkpoint' | grep -q '^— witness.test/w1 '"
$PY "$ROOT/tests/e2e/console_test.py" --market "$MARKET" --shots "$SHOTS" \
    --ledger "$BIN/ledger" --trigger true --only-witness witness.test/w1 \
    > "$T/witness.out" 2>&1
cat "$T/witness.out"
FAILED=$((FAILED + $(grep -c '^not ok' "$T/witness.out")))
finish
