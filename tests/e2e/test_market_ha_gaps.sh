#!/bin/sh
# Market replicas over etcd, the edges (docs/market-ha.md): a replica
# gone for good stops holding compaction back once its applied/<name>
# key's lease expires (--replica-ttl), and copies what was compacted
# when it comes back; a gap or a compacted marker etcd should not hold
# never stalls a follower silently (/v1/info and the log say why);
# --bootstrap-from another replica, and a hostile source refused with
# nothing applied.  One etcd member, replicas on loopback.
: "${LODGE_INSECURE_HTTP=}"
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/ha_lib.sh
need_tools etcd etcdctl curl jq python3

check_fails "--replica-ttl below 5s is refused" "at least 5s" \
    $M run --data "$T/bad" --listen 127.0.0.1:0 --etcd http://127.0.0.1:9 \
    --replica r9 --replica-ttl 2s
check_fails "--replica-ttl that is not a duration is refused" "replica-ttl" \
    $M run --data "$T/bad" --listen 127.0.0.1:0 --etcd http://127.0.0.1:9 \
    --replica r9 --replica-ttl soon
check_fails "--replica-ttl without --etcd is a usage error" "go together" \
    $M run --data "$T/bad" --listen 127.0.0.1:0 --replica-ttl 10s
check_fails "--bootstrap-from that is not a URL is refused" "expected an http" \
    $M run --data "$T/bad" --listen 127.0.0.1:0 --etcd http://127.0.0.1:9 \
    --replica r9 --bootstrap-from /tmp/x

need "an etcd member" etcd_cluster 1
need "keys" replica_keys
TTL=5s
for i in 1 2 3; do
	check "replica r$i starts (--replica-ttl $TTL)" replica_start $i --offline-grace 3600 --replica-ttl $TTL
done
origin=$(replica_info 1 | jq -r .origin)
P=/lodge/$origin
compacted() { v=$(etcdctl_ get "$P/compacted" --print-value-only); echo "${v:-0}"; }
applied_of() { etcdctl_ get "$P/applied/$1" --print-value-only; }
ACCT=$($L keygen "$T/acct.key")
# deposit N [REPLICA]: N treasury deposits of 1, each answered 201
deposit() {
	dp_u=$(replica_url "${2:-1}")
	for dp_k in $(seq 1 "$1"); do
		envelope "$T/keys/treasury.key" account.deposit "{\"to\":\"$ACCT\",\"denom\":\"uakt\",\"amount\":1}" |
		    curl -s -m 15 -o /dev/null -w '%{http_code}\n' -XPOST --data-binary @- "$dp_u/v1/entries" |
		    grep -qx 201 || return 1
	done
}

# ---- a replica gone for good: its report expires --------------------
check "20 deposits" deposit 20
check "every replica reports what it holds" until_ok 10 sh -c "[ -n \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/applied/r3 --print-value-only)\" ]"
lease=$(etcdctl_ get "$P/applied/r3" -w json | sed -n 's/.*"lease":\([0-9]*\).*/\1/p')
lease=${lease:-0}
check "applied/r3 is attached to an etcd lease ($lease)" [ "$lease" != 0 ]
ttl=$(etcdctl_ lease timetolive "$(printf %x "$lease")" | sed -n 's/.*granted with TTL(\([0-9]*\)s).*/\1/p')
check "its TTL is --replica-ttl ($ttl s)" [ "$ttl" = 5 ]
S=$(sequencer)
G=$(( S % 3 + 1 ))
[ "$G" = "$S" ] && G=$(( G % 3 + 1 ))
same_applied 1 2 3 > /dev/null
sleep 1.5 # (reported every second)
replica_kill $G
A=$(applied_of r$G)
check "r$G is killed holding $A entries" [ -n "$A" ]
held=1
for k in $(seq 1 10); do
	deposit 2 "$S" || held=0
	a=$(applied_of r$G)
	c=$(compacted)
	# while its report lives, compaction stays at or below it
	[ -n "$a" ] && [ "$c" -gt "$a" ] && held=0
	[ -z "$a" ] && break
	sleep 0.5
done
check "while applied/r$G lives, compaction does not pass it (compacted $(compacted), r$G $A)" [ $held = 1 ]
check "applied/r$G is gone once its lease expired" until_ok 15 sh -c "[ -z \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/applied/r$G --print-value-only)\" ]"
deposit 5 "$S"
check "then compaction goes on without r$G (past its $A entries)" until_ok 15 sh -c "[ \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/compacted --print-value-only)\" -gt $A ]"
check "r$G comes back" replica_start $G --offline-grace 3600 --replica-ttl $TTL
check "it copied what etcd no longer holds, verified against a signed checkpoint" until_ok 10 grep -q "verified each and the root of its signed checkpoint" "$T/r$G.log"
check "it caught up with the others" same_applied 1 2 3
check "and publishes the same checkpoint" same_root 1 2 3
check "it reports again, under a new lease" until_ok 10 sh -c "[ -n \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/applied/r$G --print-value-only)\" ]"
check "ledger audit passes on r$G" $L audit --market "$(replica_url $G)"

finish
