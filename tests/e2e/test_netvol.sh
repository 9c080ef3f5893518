#!/bin/sh
# test_netvol: deployment networks (sandbox/net) and volumes
# (sandbox/volume) through tests/e2e/drv_net and drv_vol, as root.
# Network namespaces stand in for the provider's host (so the real host's
# network and nftables are never touched), for "the internet" and for the
# replicas of three deployments.  Checked: service names, isolation from
# another deployment and from the host, the egress policy (internet yes,
# private, the host's addresses and loopback no, DNS to the configured
# nameserver yes) and its byte counter, forwarded tcp/udp ports (from
# outside, the host's loopback, the deployment itself), egress off, a
# replica restart, removal and crash cleanup; volumes full at their size,
# data surviving detach and re-attach, a symlink in the root leading
# nowhere outside it, tmpfs ram volumes; and that no veth, bridge, nft
# table, mount or loop device is left.
. tests/e2e/lib.sh
[ "$(id -u)" = 0 ] || { echo "ok - skipped: needs root"; exit 0; }
for t in ip nft losetup mkfs.ext4 umount; do
	command -v $t >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v $t >/dev/null 2>&1 ||
	    { echo "ok - skipped: no $t (make deps)"; exit 0; }
done
PY=/usr/bin/python3
[ -x $PY ] || PY=$(command -v python3) ||
    { echo "ok - skipped: no python3"; exit 0; }
DRV=${LODGE_DRV_DIR:-$ROOT/build/release/e2e} # or build/asan/e2e
PEER=$ROOT/tests/e2e/net_peer.py
if [ ! -x "$DRV/drv_net" ] || [ ! -x "$DRV/drv_vol" ]; then
	notok "drivers missing (make drivers)"; exit 1
fi
N=lt$$ # namespace prefix: h h2 (hosts), i (internet), a1 a2 b1 c1 z1 d1 d2
NSS="h h2 i a1 a2 b1 c1 z1 d1 d2"

netvol_cleanup() {
	kill_ours KILL $PIDS
	wait 2>/dev/null
	for s in $NSS; do ip netns del "$N$s" 2>/dev/null; done
	for s in $NSS; do rm -rf "/etc/netns/$N$s"; done
	rmdir /etc/netns 2>/dev/null
	grep " $T/" /proc/mounts | cut -d' ' -f2 | sort -r |
	    while read -r m; do umount -l "$m"; done
	[ -x "$DRV/drv_vol" ] && "$DRV/drv_vol" cleanup "$T" 2>/dev/null
	rm -rf "$T"
}
cleanup() { netvol_cleanup; }

in_ns() { ns=$1; shift; ip netns exec "$N$ns" "$@" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&-; }
# reach NS PROTO HOST PORT [BYTES]: an echo through the network works
reach() { in_ns "$1" $PY "$PEER" echo "$2" "$3" "$4" "${5:-64}"; }
# serve NS PROTO PORT: an echo server (ip netns exec execs python: $! is
# the server itself, killed at the end)
serve() {
	ip netns exec "$N$1" $PY "$PEER" serve "$2" "$3" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- &
	PIDS="$PIDS $!"
}

# drv CMD...: one command to the drv_net serving host h (fds 3/4); the
# answer line in $R.  drv2: the one serving h2 (fds 5/6); drvz: a second
# provider on host h (fds 7/8).
drv() { echo "$*" >&3; read -r R <&4 || R="err drv_net ended"; }
drv2() { echo "$*" >&5; read -r R <&6 || R="err drv_net ended"; }
drvz() { echo "$*" >&7; read -r R <&8 || R="err drv_net ended"; }
is_ok() { case "$R" in ok*) return 0;; esac; echo "$R"; return 1; }
val() { echo "${R#ok }"; }
# drv_start NAME NS FD_IN FD_OUT ARGS...
drv_start() {
	nm=$1; ns=$2; fi=$3; fo=$4; shift 4
	mkfifo "$T/$nm.in" "$T/$nm.out"
	ip netns exec "$N$ns" "$DRV/drv_net" serve "$@" <"$T/$nm.in" \
	    >"$T/$nm.out" 2>"$T/$nm.err" &
	eval "pid_$nm=\$!"
	PIDS="$PIDS $!"
	eval "exec $fi>\"\$T/\$nm.in\" $fo<\"\$T/\$nm.out\""
	read -r R <&"$fo" || R="err: $(cat "$T/$nm.err")"
	[ "$R" = ready ] || { notok "drv_net $nm: $R"; finish; }
}
# names NS DRV DEP: the replica's /etc/hosts and resolv.conf (bound over
# /etc by ip netns exec), as the sandbox will write them
names() {
	mkdir -p "/etc/netns/$N$1"
	$2 hosts "$3" "$T/hosts.$1"
	printf '127.0.0.1\tlocalhost\n' | cat - "$T/hosts.$1" \
	    >"/etc/netns/$N$1/hosts"
	$2 resolv "/etc/netns/$N$1/resolv.conf"
}
lodge_links() { ip -n "$N$1" -o link show | grep -c ': lodge'; }
lodge_tables_of() { ip netns exec "$N$1" nft list tables | grep -c "lodge_$2"; }
lodge_tables() { ip netns exec "$N$1" nft list tables | grep -c 'lodge'; }
no_lodge_left() { [ "$(lodge_links "$1")" = 0 ] && [ "$(lodge_tables "$1")" = 0 ]; }

# ---- the stand-in world ----
for s in $NSS; do
	ip netns add "$N$s" && ip -n "$N$s" link set lo up ||
	    { notok "ip netns add $N$s"; finish; }
done
ip -n "${N}h" link add up0 type veth peer name eth0 netns "${N}i"
ip -n "${N}h" address add 203.0.113.1/24 dev up0
ip -n "${N}h" link set up0 up
ip -n "${N}h" route add default via 203.0.113.10
ip -n "${N}h2" link add up0 type veth peer name eth1 netns "${N}i"
ip -n "${N}h2" address add 198.51.100.1/24 dev up0
ip -n "${N}h2" link set up0 up
ip -n "${N}h2" route add default via 198.51.100.10
ip -n "${N}i" address add 203.0.113.10/24 dev eth0
ip -n "${N}i" address add 10.99.0.10/24 dev eth0
ip -n "${N}i" address add 198.51.100.10/24 dev eth1
ip -n "${N}i" link set eth0 up
ip -n "${N}i" link set eth1 up
serve i tcp 8080 # "the internet" (and a private LAN host on 10.99.0.10)
ip netns exec "${N}i" $PY "$PEER" dns 10.99.0.10 53 internet.test=203.0.113.10 &
PIDS="$PIDS $!"
serve h tcp 9090 # a service of the provider's host
serve a1 tcp 80 # deployment A: web, db
serve a2 tcp 5432
serve a2 udp 5353
serve b1 tcp 80 # deployment B
serve c1 tcp 7000 # deployment C, on the host without egress
for r in 1 2; do # deployment D: one service, two replicas that say who
	ip netns exec "$N"d$r $PY "$PEER" hello 8000 "replica-$r" &
	PIDS="$PIDS $!"
done

# ---- deployments A and B on host h ----
drv_start h h 3 4 --scope pa --ports 30000-30010 --dns 10.99.0.10
drv add A web=1 db=1
check "deployment A: bridge, table and addresses" is_ok
drv add B web=1
check "deployment B alongside" is_ok
drv attach A web 0 "/run/netns/${N}a1"; check "A/web attached" is_ok
drv attach A db 0 "/run/netns/${N}a2"; check "A/db attached" is_ok
drv attach B web 0 "/run/netns/${N}b1"; check "B/web attached" is_ok
drv addr A web 0; WEB=$(val)
drv addr A db 0; DB=$(val)
GW=${DB%.*}.1
drv addr B web 0; BWEB=$(val)
names a1 drv A; names a2 drv A; names b1 drv B
check "A/web has eth0 with $WEB, default route via $GW" sh -c \
    "ip -n ${N}a1 -4 address show eth0 | grep -q 'inet $WEB/' &&
     ip -n ${N}a1 route | grep -q 'default via $GW dev eth0'"
check "A and B have different blocks" [ "${DB%.*}" != "${BWEB%.*}" ]
check "/etc/hosts of A names its services" sh -c \
    "grep -q '^$WEB	web\$' $T/hosts.a1 && grep -q '^$DB	db\$' $T/hosts.a1"

# names within the deployment
until_ok 10 reach a1 tcp db 5432 >/dev/null
check "A/web reaches db by name and port" reach a1 tcp db 5432
check "A/db reaches web by name" reach a2 tcp web 80

# isolation
check_fails "B cannot resolve A's service name" "failed: resolve" \
    reach b1 tcp db 5432
check_fails "B cannot reach A/db by address" "No route to host" \
    reach b1 tcp "$DB" 5432
check_fails "A cannot reach B by address" "No route to host" \
    reach a1 tcp "$BWEB" 80
check_fails "the host cannot open a connection into A" "No route to host" \
    reach h tcp "$DB" 5432

# egress policy and metering
drv egress A; E0=$(val)
check "A/web reaches the internet by address (200000 bytes echoed)" \
    reach a1 tcp 203.0.113.10 8080 200000
drv egress A; E1=$(val)
check "egress bytes counted ($E0 -> $E1)" [ $((E1 - E0)) -ge 200000 ]
check "A/web resolves a name through the configured nameserver" \
    reach a1 tcp internet.test 8080
check_fails "A/web cannot reach a private address (10.99.0.10)" \
    "No route to host" reach a1 tcp 10.99.0.10 8080
check_fails "A/web cannot reach the host's address" "No route to host" \
    reach a1 tcp 203.0.113.1 9090
check_fails "A/web cannot reach the host through its gateway" \
    "No route to host" reach a1 tcp "$GW" 9090
check_fails "A/web's 127.0.0.1 is its own, not the host's" "refused" \
    reach a1 tcp 127.0.0.1 9090
drv denies 169.254.169.254
check "cloud metadata is denied by the policy" [ "$R" = "ok 1" ]

# forwarded ports
drv port A db 5432 tcp; HP=$(val)
check "A/db:5432/tcp forwarded from host port $HP" is_ok
drv port A db 5353 udp; HPU=$(val)
check "A/db:5353/udp forwarded from host port $HPU" is_ok
check "ports come from the range" sh -c \
    "[ $HP -ge 30000 ] && [ $HP -le 30010 ] && [ $HPU -ge 30000 ]"
check "tcp echo from the internet through 203.0.113.1:$HP" \
    reach i tcp 203.0.113.1 "$HP" 100000
check "udp echo from the internet through 203.0.113.1:$HPU" \
    reach i udp 203.0.113.1 "$HPU"
check "tcp echo from the host's 127.0.0.1:$HP" reach h tcp 127.0.0.1 "$HP"
check "A/web reaches its own forwarded port through the host" \
    reach a1 tcp 203.0.113.1 "$HP"
check "B reaches A's forwarded port through the host, as the internet does" \
    reach b1 tcp 203.0.113.1 "$HP"
drv port A db 5432 tcp "$HP"
check_fails "a host port cannot be forwarded twice" "in use" is_ok
drv port A db 5432 tcp 31000
check_fails "a host port outside the range is refused" "outside the range" \
    is_ok
drv unport A "$HP" tcp; check "forward removed" is_ok
check_fails "the removed forward answers no more" "failed" \
    reach i tcp 203.0.113.1 "$HP"

# a service with two replicas: both names, the forward spread over both
drv add D api=2 && drv attach D api 0 "/run/netns/${N}d1" &&
    drv attach D api 1 "/run/netns/${N}d2"
check "deployment D: api with two replicas" is_ok
names d1 drv D
check "its name resolves to both replicas" \
    [ "$(grep -c '	api$' "$T/hosts.d1")" = 2 ]
check "api by name from a replica" sh -c \
    "ip netns exec ${N}d1 $PY $PEER read api 8000 | grep -q replica-"
drv port D api 8000 tcp; HPD=$(val)
for k in 1 2 3 4; do in_ns i $PY "$PEER" read 203.0.113.1 "$HPD"; done \
    >"$T/spread" 2>&1
check "the forwarded port spreads connections over both replicas" sh -c \
    "[ \$(grep -c replica-1 $T/spread) = 2 ] &&
     [ \$(grep -c replica-2 $T/spread) = 2 ]"
drv remove D; check "D removed" is_ok

# a replica restart: detach, attach again
drv detach A web 0; check "A/web detached" is_ok
check_fails "a detached replica has no eth0" "not exist" \
    ip -n "${N}a1" link show eth0
drv attach A web 0 "/run/netns/${N}a1"; check "A/web attached again" is_ok
check "A/web reaches db again" reach a1 tcp db 5432

# egress off, on host h2
drv_start h2 h2 5 6 --egress-off --ports 30000-30010
drv2 add C app=1; check "deployment C on a provider without egress" is_ok
drv2 attach C app 0 "/run/netns/${N}c1"; check "C/app attached" is_ok
check_fails "egress off: C cannot reach the internet" "No route to host" \
    reach c1 tcp 198.51.100.10 8080
drv2 port C app 7000 tcp; HP2=$(val)
check "egress off: C's forwarded port still answers" \
    reach i tcp 198.51.100.1 "$HP2"
drv2 remove C; check "C removed" is_ok
check "h2: no Lodge link or table left" no_lodge_left h2
drv2 quit
exec 5>&- 6<&-

# a second provider on host h: its own scope and pool
check_fails "a second provider cannot take a pool in use" \
    "choose another pool" sh -c \
    "echo quit | ip netns exec ${N}h $DRV/drv_net serve --scope pz"
drv_start z h 7 8 --scope pz --pool 10.214.0.0/16 --ports 30011-30020
drvz add Z web=1; check "deployment Z of the second provider" is_ok
drvz attach Z web 0 "/run/netns/${N}z1"; check "Z/web attached" is_ok
check "Z reaches the internet" reach z1 tcp 203.0.113.10 8080
check_fails "Z cannot reach B of the other provider" "No route to host" \
    reach z1 tcp "$BWEB" 80

# removal, then a crash of provider pa with B still up
drv remove A; check "A removed" is_ok
# on h: pa's tables, then every Lodge link (B: bridge + veth, Z: the same)
counts_are() { [ "$(lodge_tables_of h pa_)" = "$1" ] &&
    [ "$(lodge_links h)" = "$2" ]; }
check "A's bridge, veths and table are gone" counts_are 1 4
check_fails "A/web lost its eth0 with the deployment" "not exist" \
    ip -n "${N}a1" link show eth0
check "B still reaches the internet" reach b1 tcp 203.0.113.10 8080
kill -9 "$pid_h" 2>/dev/null
exec 3>&- 4<&-
check "after a crash, B's bridge and table are still there" \
    [ "$(lodge_tables_of h pa_)" = 1 ]
check "net_cleanup_all pa removes them" in_ns h "$DRV/drv_net" cleanup pa
check "pa: no table and no link left" counts_are 0 2
check "B/web lost its eth0" sh -c "! ip -n ${N}b1 link show eth0 2>/dev/null"
check "provider pz's deployment is untouched" reach z1 tcp 203.0.113.10 8080
drvz quit
exec 7>&- 8<&-
check "net_cleanup_all (every scope) after pz stopped without removing" \
    in_ns h "$DRV/drv_net" cleanup
check "h: no Lodge link or table left" no_lodge_left h
check "net_cleanup_all again: nothing to do, no error" \
    in_ns h "$DRV/drv_net" cleanup
check "the real host has no Lodge link or table" sh -c \
    "! ip -o link show | grep -q ': lodge' &&
     ! nft list tables | grep -q lodge"

# ---- volumes ----
V="$DRV/drv_vol"
mkdir -p "$T/lease" "$T/root/var" "$T/root2/etc" "$T/outside"
IMG="$T/lease/db-0-data.img"
fill() { dd if=/dev/zero of="$1" bs=1M count="$2" 2>&1; }
to "$T/vol1" "$V" disk "$IMG" 8M "$T/root" /var/lib/data
check "a persistent volume is created and mounted" grep -q '^created /dev/loop' \
    "$T/vol1"
DEV=$(cut -d' ' -f2 "$T/vol1")
check "it is ext4 on $DEV at its mount path, owned by the sandbox uid" \
    sh -c "grep -q '^$DEV $T/root/var/lib/data ext4' /proc/mounts &&
           [ \$(stat -c %u $T/root/var/lib/data) = 65534 ]"
check "the image is 8 MiB" [ "$(stat -c %s "$IMG")" = 8388608 ]
echo "kept" >"$T/root/var/lib/data/marker"
check_fails "writing past the size gives ENOSPC" "No space left on device" \
    fill "$T/root/var/lib/data/big" 16
rm -f "$T/root/var/lib/data/big"
to "$T/vol2" "$V" disk "$IMG" 8M "$T/root" /srv/second
check "opening it again while attached reuses $DEV" grep -q "^found $DEV\$" \
    "$T/vol2"
umount "$T/root/srv/second"
check_fails "another size is refused" "cannot be resized" \
    "$V" disk "$IMG" 16M "$T/root" /srv/other
umount "$T/root/var/lib/data"
loop_of_img() { losetup -a | grep -q "$IMG"; }
check "unmounted, the loop device goes (autoclear)" \
    until_ok 10 sh -c "! losetup -a | grep -q '$IMG'"
to "$T/vol3" "$V" disk "$IMG" 8M "$T/root" /var/lib/data
check "re-attached: found, not made again" grep -q '^found /dev/loop' \
    "$T/vol3"
check "the data survived detach and re-attach" \
    grep -q kept "$T/root/var/lib/data/marker"
# the provider dies (kill -9): the mount stays; at start it cleans up
check "volume_cleanup_all unmounts and detaches what is under the dir" \
    "$V" cleanup "$T/lease"
check "no mount and no loop device left for the image" sh -c \
    "! grep -q '$T/root' /proc/mounts && ! losetup -a | grep -q '$IMG'"
check "the image is still there for the restarted provider" test -f "$IMG"
"$V" disk "$IMG" 8M "$T/root" /var/lib/data >/dev/null 2>&1
check "after the restart the data is there" \
    grep -q kept "$T/root/var/lib/data/marker"
check "the lease closes: volume_delete detaches and unlinks" \
    "$V" delete "$IMG"
check "the image is gone, nothing mounted" sh -c \
    "[ ! -e '$IMG' ] && ! grep -q '$T/root' /proc/mounts"
check "volume_delete of a gone image is no error" "$V" delete "$IMG"

# symlinks in the replica's root resolve inside it
ln -s "$T/outside" "$T/root2/var"
check_fails "a symlink to a host path (absent in the root) is refused" \
    "not a directory inside the root" \
    "$V" ram 4M "$T/root2" /var/x
ln -s ../../../../../../etc "$T/root2/up"
check "a '..' symlink stays in the root" "$V" ram 4M "$T/root2" /up/x
check "nothing was made outside the root" sh -c \
    "[ -z \"\$(ls -A $T/outside)\" ] && [ ! -e /etc/x ] &&
     grep -q ' $T/root2/etc/x tmpfs' /proc/mounts"
check_fails "a ram volume is full at its size" "No space left on device" \
    fill "$T/root2/etc/x/big" 8
umount "$T/root2/etc/x"
check_fails "a mount path with .. is refused" "not allowed" \
    "$V" ram 4M "$T/root2" /a/../b

check "nothing of the test is mounted" sh -c "! grep -q ' $T/' /proc/mounts"
check "no loop device of the test is left" sh -c "! losetup -a | grep -q '$T/'"
finish
