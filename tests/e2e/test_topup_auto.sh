#!/bin/sh
# Issue 21, standing top-ups: `tenant topup --auto AMOUNT --below EPOCHS
# LEASE` signs a lease.autotopup into the ledger and the market's rules
# apply it at each billing: a lease billed every epoch by a provider
# (played by hand with signed lease.usage entries) stays funded, the
# tenant's balance going down by AMOUNT steps exactly when the escrow
# pays fewer than EPOCHS epochs; `tenant status` shows the instruction,
# `tenant events` its entries, the top-ups and the runway warning;
# `--auto off` cancels it; bad amounts and epochs are usage errors;
# another key's instruction, a replayed one and one for a closed lease
# are refused.  A lease paused with a standing top-up and an empty balance
# resumes when a deposit into the balance lets the instruction pay (not a
# deposit to another account, not once cancelled); `tenant topup` on a
# paused lease says whether it resumed; an escrow running out unbilled
# with the balance funded is topped up by the market (lease.topup), not
# paused.  Abuse of a paused lease: its provider's usage, close with
# readings and lease.started, a lease.pause, lease.resume or lease.topup
# signed by the tenant or the provider: refused, nothing billed; a
# top-up of a closed lease's order: refused, the balance untouched.
# `ledger audit` recomputes the same leases.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/money_lib.sh
need_tools jq curl

FUND=100000000
check "market starts" cluster_market --check-invariants
MIN=$(mget /v1/info .min_lease_epochs)
check "tenant alice gets a key and funds" cluster_tenant alice $FUND
check "tenant bob too" cluster_tenant bob 1000000
AK=$(ls "$CL"/alice/*/tenant.key | head -1)
BK=$(ls "$CL"/bob/*/tenant.key | head -1)
# half a core at 1.28 per cpu_ms: 640 per (1 s) epoch
fund_ask prov
check "a provider asks 640 per epoch" advertise prov '{}' 1280000
fund "$(cat "$T/prov.pub")" 100000 # the fees of its usage reports
O=$(ord "$AK" 500 640 $((MIN * 640)))
L1=$(mget "/v1/orders/$O" .lease)
check "alice's order matched at 640 ($O, $L1)" [ "$(mget "/v1/leases/$L1" .price)" = 640 ]
check "the lease starts with alice's manifest-delivery proof" start_lease "$T/prov.key" "$L1" "$AK"
EXP=$(bal "$alice_ADDR")

# ---- bad arguments: usage errors, nothing posted --------------------------
usage_err() {
	as alice topup "$@" "$L1" > "$T/u.out" 2> "$T/u.err"
	[ $? = 2 ] && [ ! -s "$T/u.out" ]
}
check "--auto 0 is a usage error" usage_err --auto 0 --below 3
check "--auto -5 is a usage error" usage_err --auto -5 --below 3
check "--auto past int64 is a usage error" usage_err --auto 99999999999999999999 --below 3
check "--auto 1.5 is a usage error" usage_err --auto 1.5 --below 3
check "--below 0 is a usage error" usage_err --auto 1000 --below 0
check "--below past 2^32 is a usage error" usage_err --auto 1000 --below 4294967297
check "--auto without --below is a usage error" usage_err --auto 1000
check "... saying --below is needed" grep -q "needs --below EPOCHS" "$T/u.err"
check "--below without --auto is a usage error" usage_err 100 --below 3
check "--auto off with --below is a usage error" usage_err --auto off --below 3
check "nothing was posted: no lease.autotopup, alice's balance whole" sh -c \
    "[ \"\$(curl -s $MARKET/v1/leases/$L1 | jq .auto_topup)\" = null ] && [ $(bal "$alice_ADDR") = $EXP ]"

# ---- another key's instruction --------------------------------------------
as bob topup --auto 1000 --below 3 "$L1" > "$T/b.out" 2> "$T/b.err"
check "bob's standing top-up for alice's lease exits 1" [ $? = 1 ]
check "... the market says only the tenant may" grep -q "only the tenant of $L1" "$T/b.err"
c=$(send "$T/prov.key" lease.autotopup "{\"lease\":\"$L1\",\"amount\":1000,\"below_epochs\":3}")
check "the provider's, signed by hand: 422" [ "$c" = 422 ]
c=$(send "$AK" lease.autotopup "{\"lease\":\"$L1\",\"amount\":1000,\"below_epochs\":3,\"to\":\"$bob_ADDR\"}")
check "a body with another member: 400 naming it" sh -c "[ $c = 400 ] && grep -q 'lease.autotopup.to: unknown member' $T/.resp"
c=$(send "$AK" lease.autotopup "{\"lease\":\"$L1\",\"off\":true}")
check "cancelling when none is set: 422" sh -c "[ $c = 422 ] && grep -q 'no standing top-up to cancel' $T/.resp"

# ---- many instructions, the last in force; a replay --------------------------
envelope "$AK" lease.autotopup "{\"lease\":\"$L1\",\"amount\":5,\"below_epochs\":2}" > "$T/old.env"
check "an instruction signed by hand is accepted (201)" [ "$(post_file "$T/old.env")" = 201 ]
check "... and its replay refused (409)" [ "$(post_file "$T/old.env")" = 409 ]
for a in 11 12 13; do
	as alice topup --auto $a --below 4 "$L1" > /dev/null 2> "$T/small.err"
done
check "an AMOUNT below one epoch's price is taken, with a note saying so" \
    grep -q "note: 13 is less than one epoch at the lease's price (640)" "$T/small.err"
check "alice sets 3200 below 8 epochs" to "$T/set.out" as alice topup --auto 3200 --below 8 "$L1"
check "... told back as the market holds it" \
    grep -q "^$L1: standing top-up 0.0032 AKT (3200 uakt) when the escrow pays fewer than 8 epochs" "$T/set.out"
check "the last of 5 instructions is in force" sh -c \
    "curl -s $MARKET/v1/leases/$L1 | jq -e '.auto_topup | .on and .amount == 3200 and .below_epochs == 8 and .instructions == 5 and .applied == 0'"
F=$(fee lease.autotopup)
EXP=$((EXP - 5 * F))
check "alice paid 5 entry fees and nothing else" [ "$(bal "$alice_ADDR")" = $EXP ]

# ---- billing every epoch: kept funded, the balance down by 3200 steps ------
START=$(mget "/v1/leases/$L1" .started)
# bill K: the provider's cumulative usage after K epochs (500 cpu_ms an
# epoch), posted once K epochs have passed since the start
bill() {
	while [ $(($(now_ms) - START)) -le $(($1 * 1000 + 50)) ]; do
		sleep 0.1
	done
	submit "$T/prov.key" lease.usage "{\"lease\":\"$L1\",\"usage\":{\"cpu_ms\":$(($1 * 500))}}" > /dev/null
}
applied() { mget "/v1/leases/$L1" .auto_topup.applied; }
steps_ok=1
esc=$((MIN * 640))
n=0
for k in $(seq 1 13); do
	bill "$k" || steps_ok=0
	esc=$((esc - 640))
	if [ $((esc / 640)) -lt 8 ]; then
		esc=$((esc + 3200))
		n=$((n + 1))
	fi
	[ "$(mget "/v1/leases/$L1" .escrow)" = $esc ] || steps_ok=0
	[ "$(applied)" = $n ] || steps_ok=0
	[ "$(bal "$alice_ADDR")" = $((EXP - n * 3200)) ] || steps_ok=0
done
check "13 epochs billed: escrow and balance as the rule says after each" [ $steps_ok = 1 ]
check "... 3 top-ups of 3200 (at epochs 3, 8 and 13), 9600 moved" sh -c \
    "curl -s $MARKET/v1/leases/$L1 | jq -e '.auto_topup | .applied == 3 and .moved == 9600 and .shortfalls == 0'"
check "... the lease still active, alice's balance down by 3 x 3200" sh -c \
    "[ $(lease_field "$L1" status) = active ] && [ $(bal "$alice_ADDR") = $((EXP - 9600)) ]"
EXP=$((EXP - 9600))

# ---- what the tenant sees ---------------------------------------------------
check "tenant status shows the standing top-up" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status $L1 2>/dev/null | grep -q 'auto      standing top-up 0.0032 AKT (3200 uakt) when the escrow pays fewer than 8 epochs (set at ledger index [0-9]*); 3 made (0.0096 AKT (9600 uakt)), 0 short'"
as alice events "$L1" > "$T/ev.out" 2> "$T/ev.err"
check "tenant events lists the instructions" sh -c \
    "[ \$(grep -c 'lease.autotopup.*standing top-up set' $T/ev.out) = 5 ]"
check "... and each billing's top-up" sh -c \
    "[ \$(grep -c 'after a standing top-up of 0.0032 AKT' $T/ev.out) = 3 ]"
check "... and warns that the escrow runs dry within the hour" \
    grep -q "^warning: lease $L1: the escrow pays .* more at 640 per epoch, then the market closes it insufficient_funds: tenant topup $L1 AMOUNT (its standing top-up adds to it" "$T/ev.out"
check "tenant events --json has no warning line (JSON only)" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant events $L1 --json 2>/dev/null | jq -e 'length > 0' > /dev/null"

# ---- the balance lacks it: nothing moves, the lease runs dry as before -----
check "alice sends all but 1000 of her balance to bob" \
    submit "$AK" account.transfer "{\"to\":\"$bob_ADDR\",\"denom\":\"uakt\",\"amount\":$((EXP - F - 1000))}"
EXP=1000
short_ok=1
for k in $(seq 14 20); do
	bill "$k" || short_ok=0
	[ "$(bal "$alice_ADDR")" = 1000 ] || short_ok=0
done
check "7 more billings, the last 3 under the threshold: the balance stays 1000" [ $short_ok = 1 ]
check "... those 3 counted short, no top-up made" sh -c \
    "curl -s $MARKET/v1/leases/$L1 | jq -e '.auto_topup | .applied == 3 and .shortfalls == 3 and .moved == 9600'"
check "... the escrow billed down to 5 x 640 as without an instruction" \
    [ "$(mget "/v1/leases/$L1" .escrow)" = $((5 * 640)) ]
check "... and tenant events says why" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant events $L1 2>/dev/null | grep -q 'the standing top-up of 0.0032 AKT (3200 uakt) was not made: the balance holds less'"

# ---- cancel, then close -----------------------------------------------------
check "alice cancels it (--auto off)" to "$T/off.out" as alice topup --auto off "$L1"
check "... told off" grep -q "^$L1: standing top-up off (cancelled at ledger index" "$T/off.out"
check "the market shows it off" sh -c \
    "curl -s $MARKET/v1/leases/$L1 | jq -e '.auto_topup | (.on | not) and .amount == 0 and .instructions == 6'"
check "alice closes the lease" as alice close "$L1"
as alice topup --auto 100 --below 2 "$L1" > "$T/c.out" 2> "$T/c.err"
check "a standing top-up for the closed lease exits 1, saying closed" sh -c \
    "[ $? = 1 ] && grep -q 'is closed' $T/c.err"

# ---- a paused lease resumed by its standing top-up at a deposit -----------
# lease L2 of 640 per epoch, not billed (its provider reports nothing), with
# a standing top-up of 3200 and an empty balance: the escrow runs out and
# the market pauses it (24 h grace); credits to alice's balance then apply
# the instruction.
l2() { mget "/v1/leases/$L2" "$1"; }
fund "$alice_ADDR" $((MIN * 640 + 100000))
O2=$(ord "$AK" 500 640 $((MIN * 640)))
L2=$(mget "/v1/orders/$O2" .lease)
check "alice's second order matched at 640 ($O2, $L2)" [ "$(l2 .price)" = 640 ]
check "... and started" start_lease "$T/prov.key" "$L2" "$AK"
check "alice sets a standing top-up of 3200 below 2 epochs on it" \
    as alice topup --auto 3200 --below 2 "$L2"
B=$(bal "$alice_ADDR")
check "alice empties her balance (to bob)" submit "$AK" account.transfer \
    "{\"to\":\"$bob_ADDR\",\"denom\":\"uakt\",\"amount\":$((B - $(fee account.transfer)))}"
check "... to 0" [ "$(bal "$alice_ADDR")" = 0 ]
check "the escrow runs out, the balance empty: the market pauses it" \
    until_ok $((MIN + 20)) sh -c "[ \"\$(curl -s $MARKET/v1/leases/$L2 | jq -r .status)\" = paused ]"
check "... no top-up made" [ "$(l2 .auto_topup.applied)" = 0 ]
ESC=$(l2 .escrow)
fund "$bob_ADDR" 100000
sleep 1
check "a deposit to bob's balance does not resume it" sh -c \
    "curl -s $MARKET/v1/leases/$L2 | jq -e '.status == \"paused\" and .auto_topup.applied == 0 and .escrow == $ESC'"
fund "$alice_ADDR" 3000
sleep 1
check "a deposit of 3000 (less than the amount) moves nothing" sh -c \
    "curl -s $MARKET/v1/leases/$L2 | jq -e '.status == \"paused\" and .auto_topup.applied == 0 and .escrow == $ESC' > /dev/null && [ $(bal "$alice_ADDR") = 3000 ]"
fund "$alice_ADDR" 1000
check "a deposit bringing the balance to 4000: 3200 moves, the lease resumes" \
    until_ok 10 sh -c "curl -s $MARKET/v1/leases/$L2 | jq -e '.status == \"active\" and .pauses == 1 and .escrow == $((ESC + 3200))' > /dev/null"
check "... one top-up, made on a credit; alice's balance 800" sh -c \
    "curl -s $MARKET/v1/leases/$L2 | jq -e '.auto_topup | .applied == 1 and .on_credit == 1 and .moved == 3200 and .shortfalls == 0' > /dev/null && [ $(bal "$alice_ADDR") = 800 ]"
RN=$(curl -s "$MARKET/v1/ledger/entries?start=0" | jq -r "[.entries[] | select((.leaf | @base64d | fromjson | .entry) as \$e | \$e.kind == \"lease.resume\" and \$e.body.lease == \"$L2\")][0].index")
CI=$(l2 .auto_topup.credit_index)
check "... by a market-signed lease.resume right after the deposit (index $CI)" \
    [ "$RN" = $((CI + 1)) ]
check "the provider's usage is billed again after the resume" \
    submit "$T/prov.key" lease.usage "{\"lease\":\"$L2\",\"usage\":{\"cpu_ms\":$((MIN * 500))}}"
check "... charged $((MIN * 640))" [ "$(l2 .charged)" = $((MIN * 640)) ]
check "the escrow runs out again (alice's 800 pays no top-up): paused again" \
    until_ok 20 sh -c "[ \"\$(curl -s $MARKET/v1/leases/$L2 | jq -r .status)\" = paused ]"
check "alice cancels the standing top-up while it is paused" \
    as alice topup --auto off "$L2"
ESC=$(l2 .escrow)
fund "$alice_ADDR" 100000
sleep 1
check "a deposit after the cancel does nothing: still paused, escrow $ESC" sh -c \
    "curl -s $MARKET/v1/leases/$L2 | jq -e '.status == \"paused\" and .pauses == 2 and .auto_topup.applied == 1 and .escrow == $ESC'"

# ---- the paused lease abused by its provider and its tenant --------------
CH=$(l2 .charged)
c=$(send "$T/prov.key" lease.usage "{\"lease\":\"$L2\",\"usage\":{\"cpu_ms\":$((MIN * 5000))}}")
check "the provider's usage for the paused lease: 422, nothing billed ($c)" \
    sh -c "[ $c = 422 ] && grep -q paused $T/.resp && [ \$(curl -s $MARKET/v1/leases/$L2 | jq .charged) = $CH ]"
c=$(send "$T/prov.key" lease.close "{\"lease\":\"$L2\",\"reason\":\"provider_closed\",\"usage\":{\"cpu_ms\":$((MIN * 5000))}}")
check "... its close with readings: refused ($c), still paused" \
    sh -c "[ $c = 422 ] && [ \"\$(curl -s $MARKET/v1/leases/$L2 | jq -r .status)\" = paused ]"
if start_lease "$T/prov.key" "$L2" "$AK" 2> "$T/st.err"; then
	notok "... starting it again: accepted"
else
	check "... starting it again: refused ($(head -c 150 "$T/st.err")), still paused" \
	    sh -c "[ \"\$(curl -s $MARKET/v1/leases/$L2 | jq -r .status)\" = paused ]"
fi
for k in lease.pause lease.resume lease.topup; do
	ct=$(send "$AK" $k "{\"lease\":\"$L2\"}")
	cp=$(send "$T/prov.key" $k "{\"lease\":\"$L2\"}")
	check "$k signed by the tenant ($ct) or the provider ($cp): refused, still paused" \
	    sh -c "[ $ct = 422 ] && [ $cp = 422 ] && [ \"\$(curl -s $MARKET/v1/leases/$L2 | jq -r .status)\" = paused ]"
done

# ---- tenant topup on a paused lease says whether it resumed ---------------
check "tenant topup of 1: the deposit is made" to "$T/tp1.out" as alice topup "$O2" 1
check "... and it says the lease is still paused, and why" \
    grep -q "^$L2: still paused: to resume, the escrow must pay a whole epoch at the lease price (640 uakt" "$T/tp1.out"
check "... --json: resumed false, paused, with the price" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant topup $O2 1 --json | jq -e '.[0] | .lease == \"$L2\" and .resumed == false and .lease_status == \"paused\" and .price == 640 and (.grace_until | type) == \"number\"'"
check "tenant topup of 3200 resumes it, and says so" to "$T/tp2.out" as alice topup "$O2" 3200
check "... resumed" grep -q "^$L2: resumed: the escrow pays a whole epoch again" "$T/tp2.out"
check "... as the market shows" [ "$(l2 .status)" = active ]

# ---- the escrow running out with the balance funded: lease.topup, no pause -
check "alice sets 3200 below 1 epoch again, her balance funded" \
    as alice topup --auto 3200 --below 1 "$L2"
check "unbilled, the escrow runs out: the market tops it up (lease.topup) instead of pausing" \
    until_ok 20 sh -c "curl -s $MARKET/v1/leases/$L2 | jq -e '.auto_topup.on_due >= 1' > /dev/null"
check "... the lease still active, paused twice only" sh -c \
    "curl -s $MARKET/v1/leases/$L2 | jq -e '.status == \"active\" and .pauses == 2'"
check "tenant events shows the market's top-up" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant events $L2 2>/dev/null | grep -q 'lease.topup .*standing top-up: the escrow ran out before a billing'"
check "alice closes it" as alice close "$L2"
B0=$(bal "$alice_ADDR")
as alice topup "$O2" 5000 > "$T/tc.out" 2> "$T/tc.err"
rc=$?
check "tenant topup of the closed lease's order exits 1 ($(head -c 200 "$T/tc.err"))" \
    sh -c "[ $rc = 1 ] && grep -q closed $T/tc.err"
check "... alice's balance untouched" [ "$(bal "$alice_ADDR")" = "$B0" ]

# ---- ledger audit recomputes the same ---------------------------------------
check "ledger audit of the whole run passes" until_ok 10 $L audit --market "$MARKET"
check "... and recomputes the lease's standing top-up as the market shows it" until_ok 10 sh -c \
    "[ \"\$($L audit --market $MARKET --lease $L1 --json | jq -c .lease.auto_topup)\" = \"\$(curl -s $MARKET/v1/leases/$L1 | jq -c .auto_topup)\" ]"
check "... and the paused lease's, resumed by credits and topped up by time" until_ok 10 sh -c \
    "[ \"\$($L audit --market $MARKET --lease $L2 --json | jq -c .lease.auto_topup)\" = \"\$(curl -s $MARKET/v1/leases/$L2 | jq -c .auto_topup)\" ]"
finish
