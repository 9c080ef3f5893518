#!/bin/sh
# make demo: the whole Lodge flow on loopback, in a temporary directory.
# A market and two providers (different prices and attributes, each key
# funded for its bond and fees first) start on free ports; a funded tenant
# deploys examples/hello-perl in one command,
# calls it through the provider's gateway, watches usage and charges
# accrue, reads its logs and closes it for a refund; `ledger audit`
# replays the market's ledger; the ledger is then mirrored to git, cloned
# and verified offline, and a tampered copy is caught.  A WebAssembly HTTP
# function (examples/wasm-http) is deployed, called and closed before the
# audit, so the audit covers its fuel charges too; so is an OCI image
# (examples/image-hello) from a docker-registry the demo starts.  Every step is
# named; the first that fails stops the demo with a non-zero exit naming
# it, and every process the demo started is ended on every path.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
L=$BIN/ledger
EX=$ROOT/examples/hello-perl/deploy.yaml
CL=$(mktemp -d /tmp/lodge-demo-XXXXXX)
. "$ROOT/examples/local/cluster.sh"
REG_PID=""
trap 'cluster_stop; [ -n "$REG_PID" ] && kill "$REG_PID" 2> /dev/null; rm -rf "$CL"' EXIT
trap 'exit 130' INT TERM
cd "$CL" || exit 1
start=$(date +%s%N)

step() {
	name=$1; shift
	printf '==> %s\n' "$name"
	if ! "$@"; then
		echo "demo: FAILED at step: $name" >&2
		exit 1
	fi
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

tools() {
	# `make demo` installs them first (make deps)
	for t in jq curl git perl sqlite3 ps; do
		command -v $t > /dev/null || {
			echo "    $t is missing (make deps installs it)"
			return 1
		}
	done
	echo "    market, provider, tenant, ledger from $BIN; perl for the service"
}
market() {
	cluster_market && echo "    market at $MARKET (epoch 1 s)" &&
	    if [ -n "$LODGE_INSECURE_HTTP" ]; then
		echo "    plain HTTP on loopback (LODGE_INSECURE_HTTP=1, as --insecure-http); without it every daemon speaks TLS with its ledger key (README \"TLS\")"
	    fi
}
registry() {
	# Debian's docker-registry on a free loopback port, and an image
	# built there without Docker (its root: the host's static busybox)
	for t in docker-registry skopeo busybox python3; do
		command -v $t > /dev/null || { echo "    $t is missing (make deps)"; return 1; }
	done
	T=$CL PIDS="" ROOT=$ROOT
	. "$ROOT/tests/e2e/registry_lib.sh"
	registry_start registry > /dev/null || return 1
	REG_PID=$PIDS
	sh "$ROOT/examples/image-hello/build.sh" "$REG" "$CL/registry" &&
	echo "    docker-registry at $REG holds lodge/hello:1.0 ($(skopeo inspect --tls-verify=false "docker://$REG/lodge/hello:1.0" | jq -r .Digest | cut -c1-19)…)"
}
providers() {
	# same machine, two owners: eu is cheaper, us asks twice as much.
	# Advertising is not free: each key first holds the bond the genesis
	# rules lock for the capacity it offers, and the fees of the entries
	# it signs; `provider bond` computes what it lacks and the treasury
	# deposits that (cluster_fund_provider)
	cluster_provider eu region=eu,tier=standard \
	    cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000 \
	    --registry-mirror "docker.io=http://$REG" --insecure-registry "$REG" &&
	cluster_provider us region=us,tier=premium \
	    cpu_ms=2000000,mem_mb_s=2000000,storage_mb_s=200000 &&
	echo "    each provider's key was funded before it advertised (bond and a day of fees, from \`provider bond\`): eu $eu_FUNDED, us $us_FUNDED uakt" &&
	curl -s "$MARKET/v1/providers" | jq -r '.[] | "    \(.key[0:20])… \(.ask.api_url) \(.ask.attributes | to_entries | map("\(.key)=\(.value)") | join(",")) cpu_ms=\(.ask.price.cpu_ms) mem_mb_s=\(.ask.price.mem_mb_s) online=\(.online) bond=\(.bond)"'
}
tenant() {
	cluster_tenant alice 1000000000 &&
	as alice balance | sed 's/^/    /'
}
deploy() {
	t0=$(date +%s%N)
	as alice deploy "$EX" --json > deploy.json 2> deploy.progress
	rc=$?
	sed 's/^/    /' deploy.progress
	[ $rc = 0 ] || return 1
	DEPLOY_MS=$(ms_since "$t0")
	DEP=$(jq -r .deployment deploy.json)
	LEASE=$(jq -r '.orders[0].lease' deploy.json)
	URL=$(jq -r '.orders[0].services.web' deploy.json)
	echo "    deployment $DEP, lease $LEASE, running $DEPLOY_MS ms after \`tenant deploy\` started"
}
call() {
	for i in 1 2 3; do
		out=$(curl -sf "$URL?call=$i") || return 1
		echo "    GET $URL?call=$i -> $out"
	done
}
charges() {
	i=0
	while [ $i -lt 4 ]; do
		sleep 1
		curl -s "$MARKET/v1/leases/$LEASE" | jq -r '"    t+\(.billed_epochs)s  charged \(.charged) uakt (fees \(.fees)), escrow \(.escrow), usage cpu_ms=\(.usage.cpu_ms) mem_mb_s=\(.usage.mem_mb_s) requests=\(.usage.requests)"'
		i=$((i + 1))
	done
	[ "$(mget "/v1/leases/$LEASE" .charged)" -gt 0 ]
}
status() {
	as alice status "$LEASE" | sed 's/^/    /'
}
logs() {
	as alice logs "$LEASE" | sed 's/^/    /'
}
close() {
	as alice close "$DEP" --json > close.json &&
	jq -r '.[] | "    \(.order) / \(.lease) closed (\(.reason)): charged \(.charged), refunded \(.refund)"' close.json &&
	REFUND=$(jq '.[0].refund' close.json) && CHARGED=$(jq '.[0].charged' close.json) &&
	PRICE=$(mget "/v1/leases/$LEASE" .price) &&
	EPOCHS=$(mget "/v1/leases/$LEASE" .billed_epochs) &&
	[ "$(mget "/v1/leases/$LEASE" .reason)" = tenant_closed ] &&
	until_ok 5 sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$URL') != 200 ]" &&
	echo "    the gateway no longer serves $LEASE; the workload is stopped" &&
	as alice balance | sed 's/^/    /'
}
wasm() {
	# a WebAssembly HTTP function: built to wasm32-wasi, uploaded as a
	# blob, one fresh instance per request in sandboxed worker processes,
	# fuel metered and charged
	command -v clang > /dev/null && command -v wasm2c > /dev/null || {
		echo "    clang or wasm2c is missing"; return 1; }
	sh "$ROOT/examples/wasm-http/build.sh" | sed 's/^/    /' &&
	(cd "$ROOT" && as alice deploy examples/wasm-http/deploy.yaml \
	    --json > "$CL/wasm.json" 2> "$CL/wasm.progress") || {
		sed 's/^/    /' wasm.progress; return 1; }
	WDEP=$(jq -r .deployment wasm.json)
	WLEASE=$(jq -r '.orders[0].lease' wasm.json)
	WURL=$(jq -r '.orders[0].services.fn' wasm.json)
	echo "    lease $WLEASE, function at $WURL"
	for p in "hello?call=1" "hello?call=2"; do
		out=$(curl -sf "$WURL$p" | head -1) || return 1
		echo "    GET $WURL$p -> $out"
	done
	out=$(curl -sf --data-binary 'shout this' "${WURL}echo") || return 1
	echo "    POST ${WURL}echo 'shout this' -> $out"
	for p in visits visits; do
		out=$(curl -sf "$WURL$p") || return 1
		echo "    GET $WURL$p -> $out (fresh instance; /data keeps state)"
	done
	code=$(curl -s -o /dev/null -w '%{http_code}' "${WURL}spin")
	[ "$code" = 503 ] || { echo "    /spin answered $code, not 503" >&2; return 1; }
	echo "    GET ${WURL}spin -> 503 (an endless loop ran out of its fuel budget)"
	# the spin's fuel is billed; its 503 (answered by the runtime, not
	# the function) is not counted as a request
	until_ok 5 sh -c "curl -s '$MARKET/v1/leases/$WLEASE' | jq -e '.usage.fuel >= 1000000000 and .usage.requests >= 5'" || {
		echo "    the fuel of the requests is not in the usage" >&2; return 1; }
	curl -s "$MARKET/v1/leases/$WLEASE" | jq -r '"    usage requests=\(.usage.requests) fuel=\(.usage.fuel) cpu_ms=\(.usage.cpu_ms); charged \(.charged) uakt"' &&
	as alice close "$WDEP" > /dev/null &&
	until_ok 5 sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '${WURL}hello') = 404 ]" &&
	echo "    closed; the gateway answers 404 for it"
}
image() {
	# an OCI image named as Akash SDL files name them (lodge/hello:1.0 is
	# docker.io's), pulled through the provider's docker.io mirror, run as
	# root of a user namespace whose ids are unprivileged on the host
	(cd "$ROOT" && as alice deploy examples/image-hello/deploy.yaml \
	    --json > "$CL/image.json" 2> "$CL/image.progress") || {
		sed 's/^/    /' image.progress; return 1; }
	grep '^fetched   image' image.progress | sed 's/^/    /'
	IDEP=$(jq -r .deployment image.json)
	ILEASE=$(jq -r '.orders[0].lease' image.json)
	IURL=$(jq -r '.orders[0].services.web' image.json)
	out=$(curl -sf "$IURL") || return 1
	echo "    GET $IURL -> $out"
	as alice status "$ILEASE" --json > image.status &&
	sb=$(jq -r '.provider.replicas[0].pid' image.status) &&
	wl=$(cut -d' ' -f1 "/proc/$sb/task/$sb/children") &&
	echo "    on the host the workload runs as uid $(awk '/^Uid:/ {print $2}' "/proc/$wl/status") (the lease's id range), not root" &&
	until_ok 5 sh -c "'$BIN/ledger' show market/ledger.db --json | jq -e 'select(.entry.kind == \"lease.started\" and .entry.body.lease == \"$ILEASE\") | .entry.body.images.web' > /dev/null" &&
	echo "    lease.started in the ledger: images.web = $("$BIN/ledger" show market/ledger.db --json | jq -r "select(.entry.kind == \"lease.started\" and .entry.body.lease == \"$ILEASE\") | .entry.body.images.web" | cut -c1-19)…" &&
	as alice close "$IDEP" > /dev/null && echo "    closed"
}
audit() {
	VKEY=$(jq -r .vkey market/market.json)
	# audit covers what the latest signed checkpoint covers: wait until
	# it includes the close (the tenant's recomputed balance = market's)
	want=$(mget "/v1/accounts/$alice_ADDR" .balances.uakt)
	until_ok 5 sh -c "[ \"\$('$L' audit --market '$MARKET' --vkey '$VKEY' --account '$alice_ADDR' --json 2>/dev/null | jq .balances.uakt)\" = '$want' ]" || {
		echo "    the audit never covered the close" >&2; return 1; }
	"$L" audit --market "$MARKET" --vkey "$VKEY" > /dev/null &&
	"$L" audit --market "$MARKET" --vkey "$VKEY" 2>&1 | tail -4 |
	    sed 's/^/    /' &&
	echo "    the story of $LEASE, recomputed from the ledger:" &&
	"$L" audit --market "$MARKET" --vkey "$VKEY" --lease "$LEASE" --json |
	    jq -r '"    matched: \(.match.fitting) fitting asks, winner at \(.match.price)/epoch (\(.match.rule))\n    usage entries: \(.usage | length), close: \(.close.reason // .lease.reason)"'
}
stop() {
	cluster_stop
	echo "    market and providers stopped; the ledger stays in market/ledger.db"
}
mirror() {
	ENTRIES=$(sqlite3 market/ledger.db 'SELECT count(*) FROM leaf')
	"$L" mirror market/ledger.db mirror.git | sed 's/^/    /' &&
	git clone -q mirror.git clone &&
	echo "    cloned with git: $(git -C clone log --oneline | wc -l) commits"
}
offline() {
	"$L" verify market/ledger.db --vkey "$VKEY" | sed 's/^/    db:     /' &&
	"$L" verify clone --vkey "$VKEY" | sed 's/^/    mirror: /'
}
proof() {
	n=$(sqlite3 market/ledger.db 'SELECT max(size) FROM checkpoint')
	oi=${DEP#o-} # an order's id is its ledger index
	"$L" proof inclusion market/ledger.db "$oi" --json | jq -c . |
	    cut -c1-150 |
	    sed "s/^/    inclusion of the order (leaf $oi): /" &&
	"$L" proof consistency market/ledger.db "$((oi + 1))" "$n" --json |
	    jq -c . | cut -c1-150 |
	    sed "s/^/    consistency $((oi + 1)) -> $n: /"
}
tamper() {
	cp market/ledger.db tampered.db
	# inflate the last usage report: a provider billing for more
	sqlite3 tampered.db "UPDATE leaf SET data = replace(CAST(data AS TEXT), '\"mem_mb_s\":', '\"mem_mb_s\":9') WHERE idx = (SELECT max(idx) FROM leaf WHERE CAST(data AS TEXT) LIKE '%\"lease.usage\"%')" || return 1
	[ "$(sqlite3 tampered.db "SELECT count(*) FROM leaf WHERE CAST(data AS TEXT) LIKE '%\"mem_mb_s\":9%'")" -ge 1 ] || {
		echo "    no usage entry to tamper with" >&2; return 1; }
	if "$L" verify tampered.db --vkey "$VKEY" 2> tamper.err; then
		echo "    tampering went unnoticed" >&2
		return 1
	fi
	sed 's/^/    caught: /' tamper.err | head -2
}

echo "Lodge demo in $CL"
step "tools present" tools
step "start the market on loopback" market
step "start a docker-registry holding an image built here" registry
step "start two providers (eu cheaper, us dearer)" providers
step "create and fund a tenant" tenant
step "deploy examples/hello-perl in one command" deploy
step "call the service through the provider's gateway" call
step "watch usage and charges accrue" charges
step "tenant status and logs" status
step "read the workload's logs" logs
step "close the deployment; the rest of the escrow is refunded" close
step "deploy a WebAssembly HTTP function and call it (fuel metered)" wasm
step "deploy an OCI image from the registry and call it" image
step "ledger audit: replay every entry and recompute every charge" audit
step "stop the daemons" stop
step "mirror the ledger to git and clone it" mirror
step "verify the database and the clone offline" offline
step "prove inclusion and consistency (RFC 9162)" proof
step "catch a tampered copy" tamper
summary() {
	echo "    deploy → running → first 200 through the gateway: $DEPLOY_MS ms"
	echo "    lease $LEASE on the cheaper provider (eu) at $PRICE uakt/epoch"
	echo "    charged $CHARGED uakt for $EPOCHS epochs, refunded $REFUND uakt at close"
	echo "    ledger: $ENTRIES entries, audited by replay, mirrored, verified offline"
}
step "summary" summary
echo "demo: all steps passed in $(ms_since "$start") ms"
