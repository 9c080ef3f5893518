#!/bin/sh
# Market replicas over etcd: a key under e/ that is not an entry key
# (e/ and 20 digits) is ignored and said once in a follower's log, also
# when it is longer than the 300 bytes the log quotes or holds a NUL
# (each catch-up, about every second, meets it again).  One etcd member,
# two replicas on loopback.
: "${LODGE_INSECURE_HTTP=}"
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/ha_lib.sh
need_tools etcd etcdctl curl jq python3

need "an etcd member" etcd_cluster 1
need "keys" replica_keys
for i in 1 2; do
	check "replica r$i starts" replica_start $i --offline-grace 3600
done
S=$(sequencer)
F=$(( S % 2 + 1 ))
origin=$(replica_info 1 | jq -r .origin)
P=/lodge/$origin
# after every entry key, so each catch-up of the follower reads them
long="$P/e/99999999999999999999$(printf 'x%.0s' $(seq 1 400))"
short="$P/e/99999999999999999999short"
check "a stray key of $(printf %s "$long" | wc -c) bytes is put under e/" etcdctl_ put "$long" stray
check "a short stray key is put under e/" etcdctl_ put "$short" stray
sleep 6
nlong=$(grep -c 'xxxxxxxxxx" is not an entry key' "$T/r$F.log")
nshort=$(grep -c 'short" is not an entry key' "$T/r$F.log")
check "the follower r$F said the long stray key once in 6 s (said $nlong times)" [ "$nlong" -le 1 ]
check "and the short one once (said $nshort times)" [ "$nshort" -le 1 ]
ACCT=$($L keygen "$T/acct.key")
envelope "$T/keys/treasury.key" account.deposit "{\"to\":\"$ACCT\",\"denom\":\"uakt\",\"amount\":1}" > "$T/dp.json"
check "a deposit is accepted" sh -c "[ \"\$(curl -s -m 15 -o /dev/null -w '%{http_code}' -XPOST --data-binary @$T/dp.json $(replica_url $S)/v1/entries)\" = 201 ]"
check "both replicas hold it (the strays ignored)" same_applied 1 2
finish
