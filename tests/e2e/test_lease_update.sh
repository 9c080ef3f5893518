#!/bin/sh
# `tenant update` (Akash's deployment update) and `accept` host names,
# through the real market, provider and tenant on loopback.  An update
# that changes an env value keeps the lease: the service answers with the
# new value, the ledger records the new manifest hash (lease.update) and
# `ledger audit` replays it; hostile updates (another key, a manifest
# that is not the recorded one, a replay, changed resources, a closed
# lease) change nothing.  A service's `accept` host name answers through
# the gateway by Host:, a second lease claiming it is refused at manifest
# time, the name outlives a provider restart and is released with the
# lease.
. tests/e2e/lib.sh

# show FILE CMD...: CMD's stdout to FILE, its stderr to FILE.err, shown
# when it fails
show() {
	sh_f=$1; shift
	"$@" > "$sh_f" 2> "$sh_f.err" || { cat "$sh_f.err"; return 1; }
}
# lease_is LEASE STATUS: the market shows it so, else what it shows
lease_is() {
	[ "$(lease_field "$1" status)" = "$2" ] ||
	    { curl -s "$MARKET/v1/leases/$1"; return 1; }
}

EX=$ROOT/examples/hello-perl/deploy.yaml
FUND=1000000000
P1PRICE=cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
HOST=app.update-test.example

check "market starts" cluster_market
check "provider p1 starts and advertises" \
    cluster_provider p1 region=eu $P1PRICE --stop-grace 3000
check "tenant alice gets a key and funds" cluster_tenant alice $FUND
check "tenant bob gets a key and funds" cluster_tenant bob $FUND

# ---- an update that changes an env value ---------------------------------
check "alice deploys the example" \
    show "$T/d1.json" as alice deploy "$EX" --timeout 20 --json
D1=$(jq -r .deployment "$T/d1.json")
L1=$(jq -r '.orders[0].lease' "$T/d1.json")
URL1=$(jq -r '.orders[0].services.web' "$T/d1.json")
check "it answers with its first greeting" \
    sh -c "curl -s '$URL1' | grep -q '^hello from a Lodge lease'"
H0=$(lease_field "$L1" manifest_hash)
check "the market shows the order's manifest hash for the lease" \
    [ "$H0" = "$($BIN/sdl hash "$EX" 2>/dev/null | awk '{print $NF}')" ]
sed 's/GREETING=hello/GREETING=bonjour/' "$EX" > "$T/bonjour.yaml"
HB=$($BIN/sdl hash "$T/bonjour.yaml" | awk '{print $NF}')
check "alice updates the deployment to GREETING=bonjour (exit 0)" \
    show "$T/u1.json" as alice update "$D1" "$T/bonjour.yaml" --timeout 30 --json
check "the update names the same lease" \
    [ "$(jq -r '.leases[0].lease' "$T/u1.json")" = "$L1" ]
check "the service answers with the new value" until_ok 10 \
    sh -c "curl -s '$URL1' | grep -q '^bonjour from a Lodge lease'"
check "the lease is the same and still active" lease_is "$L1" active
check "no new order or lease was made" \
    [ "$(mget /v1/orders 'length')" = 1 ]
check "the ledger records the new manifest hash for the lease" \
    [ "$(lease_field "$L1" manifest_hash)" = "$HB" ]
check "one lease.update entry for the lease" \
    [ "$(count_entries "$L1" lease.update)" = 1 ]
check "the provider runs the new manifest" sh -c \
    "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET status $L1 --json | jq -e '.provider.manifest_hash == \"$HB\" and .provider.status == \"running\"'"
check "tenant ls still lists the deployment with its lease" \
    sh -c "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET ls | grep '^$D1 ' | grep -q '$L1'"

# ---- hostile updates: nothing changes --------------------------------------
sed 's/units: 0.5/units: 1/' "$T/bonjour.yaml" > "$T/bigger.yaml"
check_fails "an update with more cpu is refused, naming the field" \
    "cpu_millis" as alice update "$D1" "$T/bigger.yaml"
sed 's/count: 1/count: 2/' "$T/bonjour.yaml" > "$T/twice.yaml"
check_fails "an update with another count is refused, naming the field" \
    "count" as alice update "$D1" "$T/twice.yaml"
sed 's/amount: 100000/amount: 200000/' "$T/bonjour.yaml" > "$T/price.yaml"
check_fails "an update with another price is refused" \
    "price" as alice update "$D1" "$T/price.yaml"
check_fails "the same file again: nothing to update" \
    "nothing to update" as alice update "$D1" "$T/bonjour.yaml"
sed 's/GREETING=hello/GREETING=hola/' "$EX" > "$T/hola.yaml"
check_fails "bob cannot update alice's lease (the market refuses his key)" \
    "only the tenant" as bob update "$L1" "$T/hola.yaml"
$BIN/sdl manifest "$T/hola.yaml" > "$T/hola.json"
check_fails "bob cannot send alice's provider an update (403)" "HTTP 403" \
    $BIN/provider request --key "$CL/bob/lodge/tenant.key" \
    --body "$T/hola.json" POST "$p1_URL/v1/leases/$L1/update"
check_fails "a manifest whose hash the ledger did not record is refused" \
    "not the manifest hash the ledger records" \
    $BIN/provider request --key "$CL/alice/lodge/tenant.key" \
    --body "$T/hola.json" POST "$p1_URL/v1/leases/$L1/update"
$BIN/sdl manifest "$EX" > "$T/hello.json"
check_fails "the old manifest sent again (an old update replayed) is refused" \
    "not the manifest hash the ledger records" \
    $BIN/provider request --key "$CL/alice/lodge/tenant.key" \
    --body "$T/hello.json" POST "$p1_URL/v1/leases/$L1/update"
OLD=$(curl -s "$MARKET/v1/ledger/entries?start=0" | jq -r '.entries[].leaf' |
    while read -r l; do echo "$l" | base64 -d; echo; done |
    jq -c 'select(.entry.kind == "lease.update") | .entry' | head -1)
check "the lease.update envelope replayed to the market is refused (409)" \
    [ "$(echo "$OLD" | curl -s -o /dev/null -w '%{http_code}' -XPOST \
        --data-binary @- "$MARKET/v1/entries")" = 409 ]
check "after all of them: still one lease.update, still bonjour" sh -c \
    "[ $(count_entries "$L1" lease.update) = 1 ] && curl -s '$URL1' | grep -q '^bonjour'"
check "the ledger's hash is unchanged" \
    [ "$(lease_field "$L1" manifest_hash)" = "$HB" ]

# ---- accept host names ------------------------------------------------------
awk -v h="$HOST" '{print} /^        as: 80$/ {print "        accept:"; print "          - " h}' \
    "$EX" > "$T/accept.yaml"
check "the accept file names the host" grep -q "$HOST" "$T/accept.yaml"
check "alice deploys a service that accepts $HOST" \
    show "$T/a1.json" as alice deploy "$T/accept.yaml" --timeout 20 --json
LA=$(jq -r '.orders[0].lease' "$T/a1.json")
check "the gateway answers Host: $HOST with alice's service" \
    sh -c "curl -s -H 'Host: $HOST' '$p1_URL/some/path' | grep -q 'you asked for /some/path'"
check "the host name matches in any case, with the port" \
    sh -c "curl -s -H 'Host: APP.Update-Test.Example:80' '$p1_URL/' | grep -q 'from a Lodge lease'"
check_fails "bob's lease claiming the same host name is refused at manifest time" \
    "is taken by another lease" as bob deploy "$T/accept.yaml" --timeout 20
LB=$(mget /v1/leases "[.[] | select(.tenant == \"$bob_ADDR\")][0].id")
check "bob's lease is closed and charged nothing" until_ok 10 sh -c \
    "[ \"\$(curl -s $MARKET/v1/leases/$LB | jq -r '.status + \" \" + (.charged|tostring)')\" = 'closed 0' ]"
check "alice's service still answers $HOST" \
    sh -c "curl -s -H 'Host: $HOST' '$p1_URL/' | grep -q 'from a Lodge lease'"
awk '{print} /^        as: 80$/ {print "        accept:"; print "          - x.lodge.localhost"}' \
    "$EX" > "$T/hijack.yaml"
check_fails "a name under the provider's own domain is refused" \
    "under the provider's domain" as bob deploy "$T/hijack.yaml" --timeout 20
cluster_crash p1 > /dev/null 2>&1
check "p1, killed with -9, starts again" cluster_provider_start p1
check "after the restart the host name still answers" until_ok 15 \
    sh -c "curl -s -H 'Host: $HOST' '$p1_URL/' | grep -q 'from a Lodge lease'"
check "alice closes the accepting deployment" as alice close "$LA"
check "the host name is released: no answer for it" until_ok 10 \
    sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: $HOST' '$p1_URL/') != 200 ]"
check "bob can claim it now" \
    show "$T/b2.json" as bob deploy "$T/accept.yaml" --timeout 20 --json
check "and it answers for bob" \
    sh -c "curl -s -H 'Host: $HOST' '$p1_URL/' | grep -q 'from a Lodge lease'"
check "bob closes it" as bob close "$(jq -r .deployment "$T/b2.json")"

# ---- a provider killed in the middle of a rollout ---------------------------
# two replicas that ignore SIGTERM, so each stop takes the provider's
# stop grace (3 s): p1 is killed -9 while it replaces the first one
sed -e 's/count: 1/count: 2/' \
    -e 's/^        \$| = 1;$/        $| = 1; $SIG{TERM} = "IGNORE"; print "start $ENV{GREETING}\\n";/' \
    "$EX" > "$T/slow1.yaml"
sed 's/GREETING=hello/GREETING=two/' "$T/slow1.yaml" > "$T/slow2.yaml"
check "the slow-stopping service's file is valid" $BIN/sdl check "$T/slow1.yaml"
check "alice deploys two replicas that ignore SIGTERM" \
    show "$T/s1.json" as alice deploy "$T/slow1.yaml" --timeout 20 --json
LS=$(jq -r '.orders[0].lease' "$T/s1.json")
check "both replicas started with the first value" until_ok 10 sh -c \
    "[ \$(XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET logs $LS | grep -c '^start hello') = 2 ]"
(XDG_CONFIG_HOME="$CL/alice" timeout 20 "$BIN/tenant" --market "$MARKET" \
    update "$LS" "$T/slow2.yaml" --timeout 15 > "$T/s2.out" 2>&1 &)
check "p1 takes the update and starts replacing the first replica" \
    until_ok 10 grep -q "lease $LS: replacing .*-web-0 (1 of 2)" "$CL/p1.log"
cluster_crash p1 > /dev/null 2>&1
check "p1, killed -9 during the rollout, starts again" cluster_provider_start p1
check "it resumes the update" \
    until_ok 10 grep -q "lease $LS: resuming its update" "$CL/p1.log"
check "both replicas end on the new value, none on the old" until_ok 30 sh -c \
    "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET logs $LS > $T/slow.logs; [ \$(grep -c '^start two' $T/slow.logs) = 2 ] && ! grep -q '^start hello' $T/slow.logs"
check "the lease is still the same, active" lease_is "$LS" active
check "alice closes it" as alice close "$LS"

# ---- a closed lease is not updated ------------------------------------------
check "alice closes the updated deployment" as alice close "$D1"
check_fails "an update of a closed lease is refused" "closed" \
    as alice update "$D1" "$T/hola.yaml"
check "ledger audit of the whole run passes (lease.update replayed)" \
    until_ok 10 "$BIN/ledger" audit --market "$MARKET"
finish
