#!/bin/sh
# Market replicas over etcd: --bootstrap-from a git mirror's folder that
# is behind what etcd compacted is refused saying so (its checkpoint
# below the entries compacted), not as "neither a git mirror nor a
# folder of tiles".  One etcd member, one replica on loopback.
: "${LODGE_INSECURE_HTTP=}"
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/ha_lib.sh
need_tools etcd etcdctl curl jq python3 git

need "an etcd member" etcd_cluster 1
need "keys" replica_keys
check "replica r1 starts" replica_start 1 --offline-grace 3600 --replica-ttl 5s
origin=$(replica_info 1 | jq -r .origin)
P=/lodge/$origin
ACCT=$($L keygen "$T/acct.key")
deposit() {
	for dp_k in $(seq 1 "$1"); do
		envelope "$T/keys/treasury.key" account.deposit "{\"to\":\"$ACCT\",\"denom\":\"uakt\",\"amount\":1}" > "$T/dp.json"
		[ "$(curl -s -m 15 -o /dev/null -w '%{http_code}' -XPOST --data-binary @"$T/dp.json" "$(replica_url 1)/v1/entries")" = 201 ] || return 1
	done
}
check "3 deposits" deposit 3
check "ledger mirror of r1's copy" $L mirror "$T/r1/ledger.db" "$T/mirror.git"
msize=$(git -C "$T/mirror.git" show HEAD:checkpoint | sed -n 2p)
check "10 more deposits" deposit 10
check "etcd compacts past the mirror's $msize entries" until_ok 30 sh -c "[ \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/compacted --print-value-only)\" -gt $msize ]"
mkdir -p "$T/new"
cp "$T/keys/market.key" "$T/keys/treasury.key" "$T/new/"
chmod 600 "$T/new"/*.key
check_fails "a new replica refuses the mirror behind etcd's compaction, saying so" "is below the" \
    timeout 60 $M run --data "$T/new" --listen 127.0.0.1:0 --etcd "$ETCD_URLS" \
    --replica new --bootstrap-from "$T/mirror.git" ${LODGE_INSECURE_HTTP:+--insecure-http}
sed 's/^/#   /' "$T/.out" | tail -1
finish
