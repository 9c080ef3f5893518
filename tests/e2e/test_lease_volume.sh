#!/bin/sh
# Volumes of a lease at their SDL mount paths, through the real market,
# provider and tenant (issue 15, "Storage"): a persistent volume (an ext4
# image on a loop device under the lease) keeps its files across a
# replica restart and a provider kill -9 + restart, is full at its size
# (ENOSPC), and is deleted when the lease closes; a non-persistent named
# volume starts empty at each start of its replica; a ram volume is a
# tmpfs.  Capabilities: an order needing GPUs, IP endpoints or a storage
# class no provider offers is refused by `tenant deploy` before any order
# or escrow, naming what is missing; an unchanged awesome-akash file with a
# persistent beta2 volume matches a provider started with no storage
# options.  Hostile: a mount path through a symlink of the root, a volume
# bigger than the provider's disk.  At the end no loop device nor mount
# of the test is left (`losetup -a`, /proc/mounts).
. tests/e2e/lib.sh
CL=$T
. examples/local/cluster.sh
trap 'cluster_stop; cleanup' EXIT
if [ "$(id -u)" != 0 ]; then
	skip "volumes of a lease" "loop devices and mounts need root"; exit 0
fi
if [ ! -w /dev/loop-control ] || ! command -v mkfs.ext4 >/dev/null 2>&1 &&
    [ ! -x /usr/sbin/mkfs.ext4 ] && [ ! -x /sbin/mkfs.ext4 ]; then
	skip "volumes of a lease" "no loop devices or mkfs.ext4 here"; exit 0
fi
need_tools jq curl losetup

PRICE=denom=uact,cpu_ms=1000,mem_mb_s=1,storage_mb_s=1
AA=$SHARED/corpus/sdl/awesome-akash/vaultwarden/deploy.yaml
status_json() { as alice status "$1" --json; }
rep_pid() { status_json "$1" | jq -r '.provider.replicas[0].pid'; }
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
get() { curl -s -m 10 "$URL${1#/}"; }
track_sandboxes() {
	for p in $(cluster_descendants "$p1_PID"); do cluster_track "$p"; done
}
loops_of_test() { losetup -a | grep -c "$T" ; }
orders_of() { curl -s "$MARKET/v1/orders?tenant=$1" | jq length; }
uact_of() { curl -s "$MARKET/v1/accounts/$1" | jq '.balances.uact // 0'; }

# A perl HTTP server that writes and reads its volumes.
sdl() { # sdl FILE MOUNT CLASS SIZE [extra storage attribute lines]
	cat > "$1" <<EOF
version: "2.0"
services:
  web:
    image: host
    command: ["perl"]
    args:
      - "-e"
      - |
        use IO::Socket::INET;
        \$| = 1;
        my \$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
            LocalPort => 8080, Listen => 64, ReuseAddr => 1) or die "\$!";
        print "volume test listening\n";
        my \$d = "$2";
        while (my \$c = \$s->accept) {
            my \$req = <\$c> // "";
            while (my \$l = <\$c>) { last if \$l =~ /^\r?\n\$/; }
            my (undef, \$p) = split / /, \$req;
            my \$b = "?";
            if (\$p =~ m{^/write/(\w+)/(\w+)\$}) {
                my \$f = \$1 eq "data" ? "\$d/v" : "/\$1/v";
                open(my \$o, ">", \$f) or die "\$f: \$!";
                print \$o \$2; close \$o; \$b = "wrote";
            } elsif (\$p =~ m{^/read/(\w+)\$}) {
                my \$f = \$1 eq "data" ? "\$d/v" : "/\$1/v";
                \$b = "none";
                if (open(my \$i, "<", \$f)) { \$b = <\$i>; }
            } elsif (\$p eq "/fill") {
                open(my \$o, ">", "\$d/fill") or die "fill: \$!";
                my (\$n, \$chunk) = (0, "x" x 65536);
                while (1) {
                    my \$w = syswrite(\$o, \$chunk);
                    if (!defined \$w) { \$b = "\$n \$!"; last; }
                    \$n += \$w;
                }
                close \$o; unlink "\$d/fill";
            } elsif (\$p eq "/mounts") {
                open(my \$m, "<", "/proc/self/mounts"); local \$/; \$b = <\$m>;
            } elsif (\$p eq "/exit") {
                close \$c; exit 3;
            }
            print \$c "HTTP/1.1 200 OK\r\nContent-Length: " . length(\$b)
                . "\r\nConnection: close\r\n\r\n\$b";
            close \$c;
        }
    expose:
      - port: 8080
        as: 80
        to:
          - global: true
    params:
      storage:
        data:
          mount: $2
        cache:
          mount: /cache
        scratch:
          mount: /scratch
profiles:
  compute:
    web:
      resources:
        cpu:
          units: 0.5
        memory:
          size: 128Mi
        storage:
          - size: 64Mi
          - name: data
            size: $4
            attributes:
              persistent: true
              class: $3
          - name: cache
            size: 8Mi
          - name: scratch
            size: 8Mi
            attributes:
              class: ram
  placement:
    anywhere:
      pricing:
        web:
          denom: uact
          amount: 100000
deployment:
  web:
    anywhere:
      profile: web
      count: 1
EOF
}
sdl "$T/vol.yaml" /srv/app/data beta2 16Mi
sdl "$T/beta3.yaml" /srv/app/data beta3 16Mi
sdl "$T/escape.yaml" /bin/lodge-escape-$$ beta2 16Mi
sdl "$T/huge.yaml" /srv/app/data beta2 30Ti

check "market starts (uakt and uact)" cluster_market --denoms uakt,uact
check "provider p1 starts with no storage options" \
    cluster_provider p1 region=eu "$PRICE" --stop-grace 1000
check "it advertises storage/default, storage/beta2 and storage/ram" sh -c \
    "curl -s $MARKET/v1/providers | jq -e '.[] | select(.key == \"$p1_KEY\") | .ask.capabilities == [\"storage/ram\",\"storage/default\",\"storage/beta2\"]'"
check "its /v1/info lists them too" sh -c \
    "curl -s -m 5 $p1_URL/v1/info | jq -e '.capabilities | index(\"storage/beta2\")'"
check "tenant alice is funded" cluster_tenant alice 1000000000
"$BIN/market" deposit --data "$CL/market" --denom uact "$alice_ADDR" \
    1000000000 > /dev/null

# ---- capabilities no provider offers: refused before any escrow --------
cat > "$T/gpu.yaml" <<'EOF'
version: "2.0"
services:
  web:
    image: host
    command: ["sleep", "1000"]
    expose:
      - port: 8080
        as: 80
        to:
          - global: true
profiles:
  compute:
    web:
      resources:
        cpu: {units: 0.5}
        memory: {size: 128Mi}
        storage: {size: 64Mi}
        gpu:
          units: 1
          attributes:
            vendor:
              nvidia:
                - model: a100
  placement:
    anywhere:
      pricing:
        web: {denom: uact, amount: 100000}
deployment:
  web:
    anywhere: {profile: web, count: 1}
EOF
sed -e 's/^services:/endpoints:\n  myip:\n    kind: ip\nservices:/' \
    -e '/^        gpu:/,/model: a100/d' "$T/gpu.yaml" > "$T/ip.yaml"
# the ip file: the global expose goes to the endpoint
sed -i 's/^          - global: true/&\n            ip: myip/' "$T/ip.yaml"
B0=$(uact_of "$alice_ADDR")
N0=$(orders_of "$alice_ADDR")
check_fails "an order needing GPUs is refused, naming them" \
    "needs GPUs (capability gpu), which no provider" \
    as alice deploy "$T/gpu.yaml" --timeout 10
check_fails "an order needing an IP endpoint is refused, naming it" \
    "needs IP endpoints (capability ip), which no provider" \
    as alice deploy "$T/ip.yaml" --timeout 10
check_fails "an order needing storage class beta3 is refused, naming it" \
    "needs the storage class beta3 (capability storage/beta3)" \
    as alice deploy "$T/beta3.yaml" --timeout 10
check "none of them posted an order" [ "$(orders_of "$alice_ADDR")" = "$N0" ]
check "nothing was spent (balance $B0 uact)" [ "$(uact_of "$alice_ADDR")" = "$B0" ]

# ---- awesome-akash: persistent beta2 matches --------------------------
check "awesome-akash vaultwarden needs storage/beta2" sh -c \
    "$BIN/sdl orders '$AA' | jq -e '.[0].capabilities == [\"storage/beta2\"]'"
check "its order matches p1 (no storage options given)" \
    to "$T/aa.json" as alice deploy "$AA" --no-wait --json
AAD=$(jq -r .deployment "$T/aa.json")
check "... the market matched it to p1" until_ok 10 sh -c \
    "[ \"\$(curl -s $MARKET/v1/orders/$AAD | jq -r .status)\" = matched ]"
check "alice closes it" as alice close "$AAD"

# ---- a persistent volume at its mount path ----------------------------
check "alice deploys a service with persistent, ephemeral and ram volumes" \
    to "$T/d1.json" as alice deploy "$T/vol.yaml" --timeout 60 --json
sed 's/^/#   /' "$T/d1.json.err" | tail -5
D1=$(jq -r .deployment "$T/d1.json")
L1=$(jq -r '.orders[0].lease' "$T/d1.json")
URL=$(jq -r '.orders[0].services.web' "$T/d1.json")
IMG=$CL/p1/leases/$L1/volumes/web-0-data.img
check "the image is under the lease: $IMG" test -f "$IMG"
check "... of the volume's size (16 MiB)" [ "$(stat -c %s "$IMG")" = 16777216 ]
check "... attached to a loop device" sh -c "losetup -a | grep -q '$IMG'"
get /mounts > "$T/mounts"
check "the volume is an ext4 mount at /srv/app/data" \
    grep -q "^/dev/loop[0-9]* /srv/app/data ext4 rw,nosuid,nodev" "$T/mounts"
check "the named non-persistent volume is an ext4 mount at /cache" \
    grep -q "^/dev/loop[0-9]* /cache ext4 rw,nosuid,nodev" "$T/mounts"
check "the ram volume is a tmpfs at /scratch" \
    grep -q "^tmpfs /scratch tmpfs rw,nosuid,nodev" "$T/mounts"
check "the workload writes its volumes" sh -c \
    "[ \"\$(curl -s -m 5 ${URL}write/data/first)\" = wrote ] &&
     [ \"\$(curl -s -m 5 ${URL}write/cache/c1)\" = wrote ] &&
     [ \"\$(curl -s -m 5 ${URL}write/scratch/s1)\" = wrote ]"
get /fill > "$T/fill"
check "writing past the size fails with ENOSPC ($(cat "$T/fill"))" \
    grep -q "No space left on device" "$T/fill"
check "... after 12-16 MiB" sh -c \
    "n=\$(cut -d' ' -f1 $T/fill); [ \$n -ge 12000000 ] && [ \$n -le 16777216 ]"

PID1=$(rep_pid "$L1")
get /exit > /dev/null
check "the replica crashes and is restarted" until_ok 20 sh -c \
    "p=\$(XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status $L1 --json | jq -r '.provider.replicas[0].pid'); [ \"\$p\" != null ] && [ \"\$p\" != $PID1 ] && curl -sf -m 3 ${URL}read/data >/dev/null"
check "the persistent volume kept its file across the restart" \
    [ "$(get /read/data)" = first ]
check "the non-persistent volume starts empty again" [ "$(get /read/cache)" = none ]
check "the ram volume starts empty again" [ "$(get /read/scratch)" = none ]

# ---- provider kill -9 and restart -------------------------------------
check "the workload writes a second value" [ "$(get /write/data/second)" = wrote ]
PID2=$(rep_pid "$L1")
track_sandboxes
check "p1 is killed with -9" cluster_crash p1
check "the workload outlives the provider (pid $PID2)" alive "$PID2"
check "p1 restarts" cluster_provider_start p1
URL=$(as alice status "$L1" --json | jq -r .services.web)
check "p1 re-adopts the sandbox" until_ok 10 \
    grep -q "lease $L1: .* re-adopted (pid $PID2)" "$CL/p1.log"
check "the volume is still there (second)" until_ok 10 sh -c \
    "[ \"\$(curl -s -m 3 ${URL}read/data)\" = second ]"
get /exit > /dev/null
check "a restart after the provider's restart mounts the same volume" \
    until_ok 20 sh -c "[ \"\$(curl -s -m 3 ${URL}read/data)\" = second ]"
check "one loop device serves the image" \
    [ "$(losetup -a | grep -c "$IMG")" = 1 ]

# ---- hostile ----------------------------------------------------------
check_fails "a mount path through the root's /bin symlink does not start" \
    "volume" as alice deploy "$T/escape.yaml" --timeout 15
check "... and nothing was made on the host's /usr/bin" \
    [ ! -e "/usr/bin/lodge-escape-$$" ] && [ ! -e "/bin/lodge-escape-$$" ]
as alice ls 2>/dev/null | awk 'NR > 1 && $1 != "'"$D1"'" {print $1}' |
    while read -r d; do as alice close "$d" > /dev/null 2>&1; done
check_fails "a volume bigger than the provider's disk does not match" \
    "storage" as alice deploy "$T/huge.yaml" --timeout 5
as alice ls 2>/dev/null | awk 'NR > 1 && $1 != "'"$D1"'" {print $1}' |
    while read -r d; do as alice close "$d" > /dev/null 2>&1; done

# ---- close: the volume goes ------------------------------------------
check "alice closes the deployment" as alice close "$D1"
check "its workload ends" until_ok 15 dead "$PID2"
check "the image is deleted" until_ok 15 test ! -e "$IMG"
check "the lease's volumes directory is gone" until_ok 5 \
    test ! -e "$CL/p1/leases/$L1/volumes"
cluster_stop
sweep_sandboxes
check "no loop device of the test is left (losetup -a)" \
    until_ok 10 [ "$(loops_of_test)" = 0 ]
check "no mount of the test is left (/proc/mounts)" sh -c \
    "! grep -q '$T' /proc/mounts"
finish
