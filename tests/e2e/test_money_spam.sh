#!/bin/sh
# Issue 12, case 4: writing to the ledger is not free.  300 provider.attest
# from a key that never held funds are all refused (402 for the fee, 429
# once its rate limit is spent) and the ledger does not grow; a funded key
# past its token bucket gets 429 with Retry-After, applied before the
# signature is checked, while forgeries in another key's name cannot drain
# that key's bucket; nonces are forgotten once the skew window refuses
# their envelopes, and replays stay refused (409 inside the window, 422 by
# the skew rule after it).
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/money_lib.sh

check "market starts with a rate limit of 1/s, burst 10" cluster_market --check-invariants --rate-limit 1 --rate-burst 10
check "/v1/info states the limit and the fees" sh -c "curl -s $MARKET/v1/info | jq -e '.rate_limit.per_second == 1 and .rate_limit.burst == 10 and .fees.default == 100'"
S=$(keygen spammer)
P=$(keygen prov)
F=$(keygen funded)
V=$(keygen victim)
fund "$P" 20000000
check "a provider to attest" adv "$T/prov.key" 1000 1000000000 1
size() { curl -s "$MARKET/v1/ledger/entries?start=0&end=0" | jq .size; }
sleep 1.2
n0=$(size)

i=0
while [ $i -lt 300 ]; do
	envelope "$T/spammer.key" provider.attest "{\"provider\":\"$P\",\"attributes\":{\"tier\":\"$i\"}}" > "$T/att.$i"
	i=$((i + 1))
done
i=0
while [ $i -lt 300 ]; do
	post_file "$T/att.$i" >> "$T/att.codes"
	echo >> "$T/att.codes"
	i=$((i + 1))
done
check "300 attests from an unfunded key: none accepted" [ "$(grep -c '^201$' "$T/att.codes")" = 0 ]
check "the first ones are refused for the fee (402)" [ "$(grep -c '^402$' "$T/att.codes")" -ge 10 ]
check "the rest hit its rate limit (429)" [ "$(grep -c '^429$' "$T/att.codes")" -ge 100 ]
check "nothing else was answered" [ "$(grep -cv '^40[2]$\|^429$' "$T/att.codes")" = 0 ]
sleep 1.2
# (the market's own entries, such as the provider's offline mark on a
# loaded machine, may come; nothing from the spammer)
spam_in() {
	curl -s "$MARKET/v1/ledger/entries?start=$n0" | jq -r '.entries[].leaf' |
	    while read -r l; do echo "$l" | base64 -d; echo; done |
	    jq -r .entry.signer | grep -c "^$S\$"
}
check "the ledger did not grow by any of the spammer's entries" [ "$(spam_in)" = 0 ]
sleep 1.1
code=$(post_file "$T/att.1")
check "its 402 says why and how to get funds" sh -c "[ $code = 402 ] && grep -q 'fee of 100 uakt' $T/.resp && grep -q account.deposit $T/.resp"

# a funded key past its bucket
fund "$F" 1000000
fund "$V" 1000000
i=0
while [ $i -lt 30 ]; do
	envelope "$T/funded.key" account.transfer "{\"to\":\"$V\",\"denom\":\"uakt\",\"amount\":1}" > "$T/tr.$i"
	i=$((i + 1))
done
i=0
t0=$(date +%s)
while [ $i -lt 30 ]; do
	post_file "$T/tr.$i" >> "$T/tr.codes"
	echo >> "$T/tr.codes"
	cp "$T/.hdr" "$T/tr.hdr.$i"
	cp "$T/.resp" "$T/tr.resp.$i"
	i=$((i + 1))
done
secs=$(($(date +%s) - t0 + 1))
ok201=$(grep -c '^201$' "$T/tr.codes")
# its burst of 10, and one more per second the posts took
check "a funded key gets its burst through ($ok201 of 30 in ${secs}s)" sh -c "[ $ok201 -ge 10 ] && [ $ok201 -le $((10 + secs)) ]"
check "then 429" grep -q '^429$' "$T/tr.codes"
# the last 429 (on a loaded machine the bucket may refill meanwhile)
last=$(($(grep -n '^429$' "$T/tr.codes" | tail -1 | cut -d: -f1) - 1))
check "with a Retry-After header" grep -qi '^Retry-After: [1-9]' "$T/tr.hdr.$last"
check "and a reason" grep -q 'too many entries from this key' "$T/tr.resp.$last"
# spend any token it earned meanwhile, then forge in its name at once
i=0
while [ $i -lt 5 ]; do
	code=$(send "$T/funded.key" account.transfer "{\"to\":\"$V\",\"denom\":\"uakt\",\"amount\":1}")
	[ "$code" = 201 ] && ok201=$((ok201 + 1))
	[ "$code" = 429 ] && break
	i=$((i + 1))
done
sed 's/"amount":1/"amount":2/' "$T/tr.0" > "$T/forged_f"
check "a forgery in the limited key's name: 429, before any signature check" [ "$(post_file "$T/forged_f")" = 429 ]
wait_s=$(sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9]*\).*/\1/p' "$T/.hdr")
check "Retry-After says when ($wait_s s)" [ "$wait_s" -ge 1 ]
i=0
: > "$T/forged.codes"
while [ $i -lt 40 ]; do
	envelope "$T/victim.key" account.transfer "{\"to\":\"$F\",\"denom\":\"uakt\",\"amount\":1}" | sed 's/"amount":1/"amount":9/' > "$T/fv"
	post_file "$T/fv" >> "$T/forged.codes"
	echo >> "$T/forged.codes"
	i=$((i + 1))
done
check "40 forgeries in another key's name: all 401" [ "$(grep -c '^401$' "$T/forged.codes")" = 40 ]
check "they did not drain its bucket: its own entry goes through" [ "$(send "$T/victim.key" account.transfer "{\"to\":\"$F\",\"denom\":\"uakt\",\"amount\":1}")" = 201 ]
sleep "$wait_s"
check "after Retry-After the funded key is served again" [ "$(send "$T/funded.key" account.transfer "{\"to\":\"$V\",\"denom\":\"uakt\",\"amount\":1}")" = 201 ]
check "every accepted transfer paid its fee, to the unit" [ "$(bal "$F")" = $((1000000 - (ok201 + 1) * 101 + 1)) ]

# nonces: remembered while the skew window could accept them, then forgotten
TR=$CL/market/treasury.key
nonces() { curl -s "$MARKET/metrics" | sed -n 's/^lodge_nonces_remembered //p'; }
# (each signed 295 s before it is sent, so that a loaded machine's delays
# stay inside the 300 s window; then a wait until the last is past it)
i=0
while [ $i -lt 5 ]; do
	old=$(($(now_ms) - 295000))
	$L envelope --key "$TR" --kind account.deposit --body "{\"to\":\"$V\",\"denom\":\"uakt\",\"amount\":1}" --time "$old" > "$T/old.$i"
	check "an entry signed 295 s ago is accepted ($i)" [ "$(post_file "$T/old.$i")" = 201 ]
	i=$((i + 1))
done
check "its replay inside the window: 409" [ "$(post_file "$T/old.0")" = 409 ]
n1=$(nonces)
left=$((old + 300000 + 1000 - $(now_ms)))
[ "$left" -gt 0 ] && sleep "$((left / 1000)).$(printf %03d $((left % 1000)))"
check "a fresh entry moves the sequencer time on" [ "$(send "$TR" account.deposit "{\"to\":\"$V\",\"denom\":\"uakt\",\"amount\":1}")" = 201 ]
n2=$(nonces)
check "the 5 expired nonces were forgotten ($n1 -> $n2)" [ "$n2" = $((n1 - 5 + 1)) ]
check "a replay of a forgotten one is still refused (422, skew)" sh -c "[ \$(curl -s -o $T/rp -w '%{http_code}' -XPOST --data-binary @$T/old.0 $MARKET/v1/entries) = 422 ] && grep -q skew $T/rp"
check "the audit agrees with it all" until_ok 10 $L audit --market "$MARKET"

# a dishonest operator writes the unfunded key's attest anyway
envelope "$T/spammer.key" provider.attest "{\"provider\":\"$P\",\"attributes\":{\"tier\":\"gold\"}}" > "$T/forged.jsonl"
sleep 1.2
N=$(size)
check "the unpaid attest goes into the ledger" tamper "$T/forged.jsonl"
check_fails "ledger audit names the index and the missing fee" "index $N.*fee: provider.attest costs a fee of 100 uakt" $L audit "$CL/market/ledger.db"
finish
