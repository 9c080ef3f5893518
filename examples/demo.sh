#!/bin/sh
# make demo: the Lodge flow on loopback, in a temporary directory.  Until
# the market, provider and tenant land, it demonstrates the ledger: a log
# is created, signed entries from two parties are appended, checkpointed,
# proved, mirrored to git, cloned with plain git and audited offline, and
# a tampered copy is caught.  Every step is named; the first that fails
# stops the demo with a non-zero exit naming it.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
L=$ROOT/bin/ledger
DIR=$(mktemp -d /tmp/lodge-demo-XXXXXX)
trap 'rm -rf "$DIR"' EXIT INT TERM
cd "$DIR" || exit 1
start=$(date +%s%N)

step() {
	name=$1; shift
	printf '==> %s\n' "$name"
	if ! "$@"; then
		echo "demo: FAILED at step: $name" >&2
		exit 1
	fi
}

create() {
	$L init ledger.db --origin demo.lodge/ledger --key log.key > vkey 2>/dev/null &&
	echo "    verifier key: $(cat vkey)"
}
keys() {
	echo "    tenant:   $($L keygen tenant.key)"
	echo "    provider: $($L keygen provider.key)"
}
entries() {
	i=1
	while [ $i -le 5 ]; do
		$L envelope --key tenant.key --kind demo.order \
		    --body "{\"order\":$i,\"max_price\":$((i * 1000)),\"denom\":\"uakt\"}"
		$L envelope --key provider.key --kind demo.usage \
		    --body "{\"order\":$i,\"cpu_ms\":$((i * 6000))}"
		i=$((i + 1))
	done > entries.jsonl &&
	$L append ledger.db entries.jsonl | tail -1 | sed 's/^/    /'
}
forged() {
	sed -n 1p entries.jsonl | sed 's/"max_price":1000/"max_price":1/' > forged.jsonl
	if $L append ledger.db forged.jsonl 2> forged.err; then
		echo "    a forged entry was accepted" >&2
		return 1
	fi
	sed 's/^/    refused: /' forged.err | head -1
}
checkpoint() {
	$L checkpoint ledger.db | sed 's/^/    /'
}
show() {
	$L show ledger.db | sed 's/^/    /'
}
proof() {
	$L proof inclusion ledger.db 3 --json | sed 's/^/    /' &&
	$L proof consistency ledger.db 4 10 --json | sed 's/^/    /'
}
mirror() {
	$L mirror ledger.db mirror.git | sed 's/^/    /' &&
	git clone -q mirror.git clone &&
	echo "    cloned with git: $(git -C clone log --oneline | wc -l) commits, $(ls clone/entries | wc -l) bundle(s)"
}
audit() {
	$L verify ledger.db --vkey vkey | sed 's/^/    db:     /' &&
	$L verify clone --vkey vkey | sed 's/^/    mirror: /'
}
tamper() {
	cp ledger.db tampered.db
	sqlite3 tampered.db "UPDATE leaf SET data = replace(data, '\"cpu_ms\":18000', '\"cpu_ms\":1800') WHERE idx = 5" || return 1
	if $L verify tampered.db --vkey vkey 2> tamper.err; then
		echo "    tampering went unnoticed" >&2
		return 1
	fi
	sed 's/^/    caught: /' tamper.err
}

echo "Lodge demo (ledger) in $DIR"
step "create a ledger and its signing key" create
step "create a tenant and a provider key" keys
step "append signed entries from both" entries
step "refuse a forged entry" forged
step "sign a checkpoint (C2SP signed note)" checkpoint
step "show the log" show
step "prove inclusion and consistency (RFC 9162)" proof
step "mirror to git and clone it" mirror
step "audit: verify the log and the clone offline" audit
step "catch a tampered copy" tamper
end=$(date +%s%N)
echo "demo: all steps passed in $(( (end - start) / 1000000 )) ms"
