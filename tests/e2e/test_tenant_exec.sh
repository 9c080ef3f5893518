#!/bin/sh
# `tenant exec` and `tenant shell` against a real provider: the exit
# status, stdout and stderr apart, stdin, Ctrl-C, a terminal (its size,
# Ctrl-C, exit) driven through a pseudo-terminal; inside, the workload's
# identity and nothing more (its pid namespace, uid, no capabilities,
# no_new_privs, seccomp, a read-only root, its cgroup); each session in
# the provider's log and the lease's events; another tenant refused, a
# closed lease refused.
. tests/e2e/lib.sh
need_root
need_tools jq curl perl python3

EX=$ROOT/examples/hello-perl/deploy.yaml
FUND=1000000000
check "market starts" cluster_market
check "provider p1 starts" cluster_provider p1 region=eu \
    cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
check "tenant alice is funded" cluster_tenant alice $FUND
check "tenant bob is funded" cluster_tenant bob $FUND
for n in alice bob; do
	printf '#!/bin/sh\nXDG_CONFIG_HOME=%s LODGE_MARKET=%s exec %s "$@"\n' \
	    "$CL/$n" "$MARKET" "$BIN/tenant" > "$T/tn-$n"
	chmod +x "$T/tn-$n"
done
A=$T/tn-alice
B=$T/tn-bob
check "alice deploys hello-perl" to "$T/d.json" $A deploy "$EX" --timeout 30 --json
D=$(jq -r .deployment "$T/d.json")
L=$(jq -r '.orders[0].lease' "$T/d.json")
[ -n "$L" ] && [ "$L" != null ] || { notok "no lease"; cat "$T/d.json.err"; finish; }

# ---- exec: status, streams, stdin --------------------------------------
$A exec "$L" web -- sh -c 'echo to-out; echo to-err >&2; exit 7' \
    > "$T/e1.out" 2> "$T/e1.err" < /dev/null
rc=$?
check "exec passes the exit status on (7)" [ $rc = 7 ]
check "  stdout and stderr apart" sh -c \
    "[ \"\$(cat $T/e1.out)\" = to-out ] && [ \"\$(cat $T/e1.err)\" = to-err ]"
check "exec passes stdin on" sh -c \
    "[ \"\$(printf 'line1\nline2\n' | $A exec $L web -- sort -r)\" = \"\$(printf 'line2\nline1')\" ]"
$A exec "$L" web -- no-such-command < /dev/null > "$T/e2.out" 2>&1
check "a command not found inside exits 127, saying so" sh -c \
    "[ $? = 127 ] && grep -q 'no-such-command' $T/e2.out"
check "exec of a service the lease lacks is refused" sh -c \
    "! $A exec $L nosuch -- true < /dev/null 2> $T/e3.err && grep -q 'no such service' $T/e3.err"

# ---- inside: the workload's identity, nothing more ---------------------
$A exec "$L" web -- sh -c 'cat /proc/1/comm; ls /proc | grep -c "^[0-9]"; id -u; grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; touch /usr/x 2>&1; touch /etc/x 2>&1; touch /x 2>&1; echo $GREETING; pwd' \
    < /dev/null > "$T/in.out" 2>&1
INIT=$(jq -r '.leases[] | select(.id == "'"$L"'") | .sandboxes[0].pid' "$CL/p1/state.json" 2>/dev/null)
check "exec runs in the replica's pid namespace (its init is pid 1)" \
    sh -c "head -1 $T/in.out | grep -qx lodge-init"
check "  and sees none of the host's processes" \
    sh -c "[ \$(sed -n 2p $T/in.out) -lt 20 ]"
WLUID=$(ps -o uid= --ppid "$INIT" 2>/dev/null | head -1 | tr -d ' ')
check "  as the workload's uid ($WLUID)" \
    sh -c "[ -n '$WLUID' ] && [ \"\$(sed -n 3p $T/in.out)\" = '$WLUID' ] && [ '$WLUID' != 0 ]"
check "  with no capabilities, no_new_privs and the seccomp filter" sh -c "
	grep -q '^CapEff:.0000000000000000' $T/in.out &&
	grep -q '^CapBnd:.0000000000000000' $T/in.out &&
	grep -q '^NoNewPrivs:.1' $T/in.out && grep -q '^Seccomp:.2' $T/in.out"
check "  cannot write outside its writable dirs" sh -c "
	[ \$(grep -c 'Read-only file system\|Permission denied' $T/in.out) -ge 3 ]"
WLPID=$(ps -o pid= --ppid "$INIT" 2>/dev/null | head -1 | tr -d ' ')
check "  with the workload's environment and working directory" sh -c "
	grep -qx hello $T/in.out &&
	[ \"\$(tail -1 $T/in.out)\" = \"\$(readlink /proc/$WLPID/cwd)\" ]"
# a long command: its host process is in the replica's cgroup
( $A exec "$L" web -- sh -c 'echo started; exec sleep 20' < /dev/null > "$T/long.out" 2>&1 ) &
PIDS="$PIDS $!"
until_ok 10 grep -q started "$T/long.out" > /dev/null
# the replica's cgroups (v1 or v2), and a sleep of ours that is in them
INITCG=$(grep 'lodge/' "/proc/$INIT/cgroup" 2>/dev/null | sort)
SL=$(for p in $(pgrep -x sleep); do
	[ "$(grep 'lodge/' /proc/$p/cgroup 2>/dev/null | sort)" = "$INITCG" ] &&
	    grep -q '^sleep' /proc/$p/comm && echo $p
done | head -1)
check "  its processes are in the replica's cgroups (the lease's usage)" \
    sh -c "[ -n '$INITCG' ] && [ -n '$SL' ] && [ \"\$(tr '\\0' ' ' < /proc/$SL/cmdline)\" = 'sleep 20 ' ]"

# ---- Ctrl-C without a terminal ------------------------------------------
( $A exec "$L" web -- sh -c 'trap "echo got-int; exit 42" INT; echo ready; while :; do sleep 0.2; done' \
    < /dev/null > "$T/int.out" 2>&1; echo "rc=$?" >> "$T/int.out" ) &
IPID=$!
PIDS="$PIDS $IPID"
until_ok 10 grep -q ready "$T/int.out" > /dev/null
TPID=$(pgrep -f "tenant exec $L web -- sh -c trap" | head -1)
kill -INT "$TPID" 2>/dev/null
check "Ctrl-C reaches the command (its trap runs, exit 42)" until_ok 10 \
    sh -c "grep -q got-int $T/int.out && grep -q rc=42 $T/int.out"

# ---- a terminal: tenant shell through a pseudo-terminal -----------------
cat > "$T/pty.script" <<'S'
expect \$ $
send [ -t 0 ] && echo on-a-tty; stty size; echo term=$TERM\n
expect term=xterm
resize 40 132
sleep 1
send stty size\n
expect 40 132
send sleep 30\n
sleep 1
send \x03
sleep 0.5
send echo after-int\n
expect after-int
send exit 5\n
S
python3 tests/e2e/pty_drive.py "$T/pty.script" -- env TERM=xterm-256color \
    XDG_CONFIG_HOME="$CL/alice" LODGE_MARKET="$MARKET" \
    "$BIN/tenant" shell "$L" > "$T/pty.out" 2>&1
rc=$?
check "shell: a terminal inside" grep -q '^on-a-tty' "$T/pty.out"
check "  of the local terminal's size (24 80), with \$TERM" sh -c \
    "grep -q '24 80' $T/pty.out && grep -q 'term=xterm-256color' $T/pty.out"
check "  resized with the local one (40 132)" grep -q '40 132' "$T/pty.out"
check "  Ctrl-C interrupts the foreground command, the shell goes on" \
    grep -q '^after-int' "$T/pty.out"
check "  and its exit status is the tenant's (5)" [ $rc = 5 ]

# ---- who may, and the record ------------------------------------------------
check "another tenant's key is refused" sh -c \
    "! $B exec $L web -- true < /dev/null 2> $T/bob.err && grep -q '403' $T/bob.err"
check "the provider logs each session (who, what)" sh -c "
	grep 'exec session' $CL/p1.log | grep -q \"$alice_ADDR\" &&
	grep 'exec session' $CL/p1.log | grep -q 'exit 7'"
check "the lease's events show each session and its exit" sh -c "
	$A events $L --json | jq -e '[.[] | select(.kind == \"exec.started\")] | length >= 5' > /dev/null &&
	$A events $L --json | jq -e '.[] | select(.kind == \"exec.ended\" and .exit == 7)' > /dev/null"

# ---- after the close ------------------------------------------------------
check "close the deployment" sh -c "$A close $D > /dev/null"
check "exec is refused once the lease is closed" until_ok 10 sh -c \
    "! $A exec $L web -- true < /dev/null 2> $T/closed.err && grep -Eq '409|not running|closed' $T/closed.err"
finish
