#!/bin/sh
# bin/ledger end to end: every command, bad input, tampering of the SQLite
# file and of a git mirror, and kill -9 during a stream of appends.
. tests/e2e/lib.sh
L=$BIN/ledger
cd "$T" || exit 1

for c in init keygen envelope append checkpoint show proof verify mirror; do
	check "ledger $c --help" sh -c "$L $c --help | grep -q usage"
done
check_fails "unknown command is a usage error" "unknown command" $L frobnicate

check "init creates the log and the key" sh -c "$L init log.db --origin test.lodge/log --key log.key > vkey"
check "verifier key has the C2SP form" grep -Eq '^test.lodge/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{43}=?' vkey
check "key file is mode 0600" sh -c "[ \$(stat -c %a log.key) = 600 ]"
check_fails "init refuses to replace a ledger" "exists" $L init log.db --origin x --key log.key
check "keygen" sh -c "$L keygen user.key | grep -q '^ed25519:'"
i=0
while [ $i -lt 40 ]; do
	$L envelope --key user.key --kind test.entry --body "{\"n\":$i}" >> env.jsonl
	i=$((i + 1))
done
check "append 40 envelopes" sh -c "$L append log.db env.jsonl | tail -1 | grep -qx 'appended 39'"

# a bad signature and malformed JSON: named by line, nothing of them appended
sed -n 1p env.jsonl | sed 's/"n":0/"n":1000/' > bad.jsonl
echo '{"not json' >> bad.jsonl
$L envelope --key user.key --kind test.entry --body '{"n":41}' >> bad.jsonl
$L append log.db bad.jsonl > bad.out 2> bad.err; rc=$?
check "append with bad lines exits non-zero" [ $rc -ne 0 ]
check "bad signature named by line" grep -q 'bad.jsonl:1: .*signature' bad.err
check "malformed JSON named by line" grep -q 'bad.jsonl:2: ' bad.err
check "the good line was appended" grep -qx 'appended 40' bad.out
check "the log holds 41 entries" sh -c "[ \$($L show log.db | wc -l) = 41 ]"
check_fails "a float body is refused" "floating" $L envelope --key user.key --kind x --body '{"a":1.5}'
check "checkpoint prints a signed note" sh -c "$L checkpoint log.db > cp && grep -q '^41\$' cp && grep -q '^— test.lodge/log ' cp"
check "show --json has index, time, leaf, entry" sh -c "$L show log.db --from 3 --to 3 --json | grep -q '^{\"entry\":{.*},\"index\":3,\"leaf\":\"[A-Za-z0-9+/=]*\",\"time\":[0-9]*}\$' "
check "show --json leaf is the exact leaf bytes" sh -c "$L show log.db --from 3 --to 3 --json | sed 's/.*\"leaf\":\"\\([^\"]*\\)\".*/\\1/' | base64 -d | grep -q '^{\"entry\":{.*\"index\":3,\"time\":[0-9]*}\$'"
check "proof inclusion --json" sh -c "$L proof inclusion log.db 7 --json | grep -q '\"index\":7.*\"leaf_hash\".*\"proof\":\\[.*\"root\".*\"size\":41'"
check "proof inclusion at an older size" sh -c "$L proof inclusion log.db 7 --size 20 --json | grep -q '\"size\":20'"
check "proof consistency --json" sh -c "$L proof consistency log.db 10 41 --json | grep -q '\"new\":41.*\"new_root\".*\"old\":10.*\"old_root\".*\"proof\"'"
check_fails "proof of an index beyond the log" "not below" $L proof inclusion log.db 41 --json
check "verify a good log" sh -c "$L verify log.db --vkey \"\$(cat vkey)\" | grep -q '^ok: 41 entries'"
check "verify --json" sh -c "$L verify log.db --vkey vkey --json | grep -q '\"ok\":true'"
$L keygen other.key > /dev/null
$L init other.db --origin test.lodge/log --key other.key > other.vkey
check_fails "verify with another log's key fails" "FAILED" $L verify log.db --vkey other.vkey

# the git mirror, cloned with plain git and verified offline
check "mirror creates a repository (checkpoints at 0 and 41)" sh -c "$L mirror log.db mirror.git | grep -q '2 new commits, 41 entries'"
i=0
while [ $i -lt 5 ]; do
	$L envelope --key user.key --kind test.entry --body "{\"m\":$i}" | $L append log.db > /dev/null
	i=$((i + 1))
done
$L checkpoint log.db > /dev/null
check "mirror adds one commit per checkpoint" sh -c "$L mirror log.db mirror.git | grep -q '1 new commit, 46 entries'"
check "plain git clone of the mirror" git clone -q mirror.git clone
check "clone has checkpoint and entries" sh -c "[ -f clone/checkpoint ] && [ -f clone/entries/000000000000.jsonl ]"
check "git log has one commit per checkpoint" sh -c "[ \$(git -C clone log --oneline | wc -l) = 3 ]"
check "verify the clone offline" sh -c "$L verify clone --vkey vkey | grep -q '^ok: 46 entries'"
(cd clone && sed -i '5s/"n":4/"n":5/' entries/000000000000.jsonl &&
    git -c user.name=x -c user.email=x@x commit -qam tamper)
check_fails "an edited mirror entry is detected" "index 4" $L verify clone --vkey vkey

# tampering with the SQLite file itself
cp log.db flip.db
nonce=$(sed -n 12p env.jsonl | sed 's/.*"nonce":"\([^"]*\)".*/\1/')
off=$(grep -obUa "$nonce" flip.db | head -1 | cut -d: -f1)
printf 'Z' | dd of=flip.db bs=1 seek="$off" conv=notrunc 2>/dev/null
check_fails "a byte flipped in the SQLite file is detected at its index" "index 11" $L verify flip.db --vkey vkey
cp log.db cp.db
sqlite3 cp.db "UPDATE checkpoint SET note = replace(note, 'test.lodge/log', 'test.lodge/lug') WHERE size = 46"
check_fails "an edited checkpoint is detected" "checkpoint" $L verify cp.db --vkey vkey
cp log.db del.db
sqlite3 del.db "DELETE FROM leaf WHERE idx = 20"
check_fails "a removed entry is detected" "index 21" $L verify del.db --vkey vkey
cp log.db swap.db
sqlite3 swap.db "UPDATE leaf SET idx=-1 WHERE idx=30; UPDATE leaf SET idx=30 WHERE idx=31; UPDATE leaf SET idx=31 WHERE idx=-1"
check_fails "two swapped entries are detected" "index 30" $L verify swap.db --vkey vkey

# kill -9 during a stream of appends: nothing acknowledged is lost
$L init crash.db --origin test.lodge/crash --key crash.key > crash.vkey 2>/dev/null
i=0
while [ $i -lt 400 ]; do
	$L envelope --key user.key --kind test.entry --body "{\"c\":$i}" >> stream.jsonl
	i=$((i + 1))
done
round=0; lost=0; acked_total=0
start=0
while [ $round -lt 3 ]; do
	rm -f fifo; mkfifo fifo
	$L append crash.db - < fifo > acks.$round 2>/dev/null &
	app=$!
	PIDS="$PIDS $app"
	( sed -n "$((start + 1)),$((start + 100))p" stream.jsonl | while read -r line; do
		echo "$line"; sleep 0.01; done > fifo ) &
	feeder=$!
	PIDS="$PIDS $feeder"
	sleep 0.4
	kill -9 $app 2>/dev/null
	wait $app 2>/dev/null
	kill $feeder 2>/dev/null
	wait $feeder 2>/dev/null
	acked=$(grep -c '^appended' acks.$round)
	last=$(tail -1 acks.$round | sed 's/appended //')
	size=$($L show crash.db | wc -l)
	if [ -n "$last" ] && [ "$size" -le "$last" ]; then lost=1; fi
	acked_total=$((acked_total + acked))
	start=$((start + 100))
	round=$((round + 1))
done
check "kill -9 mid-stream acknowledged something" [ $acked_total -gt 0 ]
check "kill -9 lost no acknowledged append" [ $lost -eq 0 ]
check "after kill -9 the log checkpoints and verifies" sh -c "$L checkpoint crash.db > /dev/null && $L verify crash.db --vkey crash.vkey"
finish
