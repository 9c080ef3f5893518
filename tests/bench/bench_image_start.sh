#!/bin/sh
# bench_image_start: start of a replica from a cached image, manifest
# accepted -> process running, measured by the provider itself (its log's
# "manifest accepted" and "started" lines, milliseconds) over N leases of
# the same image, against `crun run -d` (returns once the container's
# process runs) of the same root file system: the same cached layers
# under overlayfs, in a user namespace with the same kind of id range, in
# cgroup v1 controllers as lodge's replica (and, for reference, in none).
# Median of N each.  Goal: lodge/crun <= 1.0x.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
N=${BENCH_IMAGE_START_RUNS:-7}
T=$(mktemp -d "${1:-/tmp}/bench-image-start-XXXXXX")
CL=$T
PIDS=""
. "$ROOT/examples/local/cluster.sh"
. "$ROOT/tests/e2e/registry_lib.sh"
cleanup() {
	cluster_stop
	for p in $PIDS; do kill -9 "$p" 2> /dev/null; done
	wait 2> /dev/null
	mountpoint -q "$T/bundle/rootfs" && umount "$T/bundle/rootfs"
	[ -n "${BENCH_KEEP_LOG:-}" ] && cp "$CL/p.log" "$BENCH_KEEP_LOG"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ "$(id -u)" != 0 ]; then
	echo "bench_image_start: skipped (images need a root provider)"
	exit 0
fi
for tool in docker-registry skopeo crun busybox jq python3; do
	if ! command -v $tool > /dev/null; then
		echo "bench_image_start: skipped ($tool is not installed: make deps)"
		exit 0
	fi
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# milliseconds of the day of a log line's "...THH:MM:SS.mmmZ" stamp
log_ms() {
	sed -n 's/^[0-9-]*T\([0-9]*\):\([0-9]*\):\([0-9]*\)\.\([0-9]*\)Z.*/\1 \2 \3 \4/p' |
	    awk '{print (($1 * 60 + $2) * 60 + $3) * 1000 + $4}'
}

# a busybox image that serves HTTP
python3 - "$T/spec.json" "$(command -v busybox)" << 'EOF'
import json, sys
json.dump({"tag": "v1", "images": [{"arch": "amd64",
    "config": {"Cmd": ["/bin/httpd", "-f", "-p", "80", "-h", "/etc"]},
    "layers": [[["d", "bin", 493], ["host", "bin/busybox", sys.argv[2], 493],
                ["l", "bin/httpd", "busybox"], ["l", "bin/sh", "busybox"]],
               [["d", "etc", 493],
                ["f", "etc/passwd", 420, "root:x:0:0:root:/root:/bin/sh\n"]]]
    }]}, open(sys.argv[1], "w"))
EOF
registry_start reg > /dev/null || exit 1
image_push "$T/spec.json" "$REG" bench/app:v1 || exit 1
cat > "$T/app.yaml" << EOF
version: "2.0"
services:
  app:
    image: $REG/bench/app:v1
    expose:
      - port: 80
        as: 80
        to:
          - global: true
profiles:
  compute:
    app:
      resources:
        cpu:
          units: 0.1
        memory:
          size: 64Mi
        storage:
          size: 64Mi
  placement:
    dc:
      pricing:
        app:
          denom: uakt
          amount: 100000
deployment:
  app:
    dc:
      profile: app
      count: 1
EOF
# Akash's epoch (6 s), not the tests' 1 s: usage posts every second for
# every lease would keep the loop busy between starts
CLUSTER_EPOCH=6 cluster_market > /dev/null || exit 1
CLUSTER_RUN_ARGS="--insecure-registry $REG"
cluster_provider p region=eu cpu_ms=1,mem_mb_s=1,storage_mb_s=1 \
    > /dev/null || exit 1
cluster_tenant t 1000000000 > /dev/null || exit 1

# lodge: one warm-up lease (the pull), then N from the cache
: > "$T/lodge.ms"
i=0
while [ $i -le "$N" ]; do
	as t deploy "$T/app.yaml" --json --timeout 60 > "$T/d.json" \
	    2> "$T/d.err" || { cat "$T/d.err"; exit 1; }
	lease=$(jq -r '.orders[0].lease' "$T/d.json")
	jq -r .deployment "$T/d.json" >> "$T/deployments"
	if [ $i -gt 0 ]; then
		a=$(grep "lease $lease: manifest accepted" "$CL/p.log" | log_ms)
		s=$(grep "lease $lease: .* started (pid" "$CL/p.log" | log_ms)
		[ -n "$a" ] && [ -n "$s" ] && echo $((s - a)) >> "$T/lodge.ms"
	fi
	i=$((i + 1))
done

# closed once measured: stopping one must not hold up the next start
for d in $(cat "$T/deployments"); do as t close "$d" > /dev/null 2>&1; done

# crun: the same layers (the provider's cache) under overlayfs, a
# writable upper, a user namespace mapping 65536 ids
mkdir -p "$T/bundle/rootfs" "$T/up" "$T/work"
lower=$(skopeo inspect --raw --tls-verify=false "docker://$REG/bench/app:v1" |
    jq -r '.layers[].digest' | sed "s|sha256:|$CL/p/cache/images/layers/sha256/|; s|$|/fs|" |
    tac | tr '\n' ':' | sed 's/:$//')
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$T/up,workdir=$T/work" \
    "$T/bundle/rootfs" || exit 1
mkdir -p "$T/bundle/rootfs/proc" "$T/bundle/rootfs/sys" \
    "$T/bundle/rootfs/dev" "$T/bundle/rootfs/tmp"
(cd "$T/bundle" && crun spec) || exit 1
jq '.process.args = ["/bin/httpd", "-f", "-p", "80", "-h", "/etc"] | .process.terminal = false |
    .root.readonly = false | .linux.namespaces += [{"type": "user"}] |
    .linux.uidMappings = [{"containerID": 0, "hostID": 1900000000, "size": 65536}] |
    .linux.gidMappings = [{"containerID": 0, "hostID": 1900000000, "size": 65536}]' \
    "$T/bundle/config.json" > "$T/config.json" &&
    mv "$T/config.json" "$T/bundle/config.json"
# crun 1.8 refuses a hybrid cgroup host whose cgroup2 has controllers:
# it runs here with the unified mount hidden (in its own mount
# namespace), so that its cgroupfs manager uses the v1 controllers as
# lodge's sandbox does; once more with no cgroup at all, for reference
for mgr in cgroupfs disabled; do
	unshare -m sh -c '
		umount /sys/fs/cgroup/unified 2> /dev/null
		i=0
		while [ $i -le '"$N"' ]; do
			s=$(date +%s%N)
			crun --cgroup-manager='"$mgr"' run -d \
			    --bundle "'"$T"'/bundle" lb$i > /dev/null \
			    2>> "'"$T"'/crun.err" || exit 1
			e=$(date +%s%N)
			[ $i -gt 0 ] &&
			    echo $(( (e - s) / 1000000 )) >> "'"$T"'/crun-'"$mgr"'.ms"
			crun --cgroup-manager='"$mgr"' kill lb$i KILL
			sleep 0.1
			crun --cgroup-manager='"$mgr"' delete -f lb$i
			i=$((i + 1))
		done' || { echo "crun failed:"; cat "$T/crun.err"; exit 1; }
done

echo "  (lodge ms: $(sort -n "$T/lodge.ms" | tr "\n" " "); crun ms: $(sort -n "$T/crun-cgroupfs.ms" | tr "\n" " "); without cgroups: $(sort -n "$T/crun-disabled.ms" | tr "\n" " "))"
l=$(median "$T/lodge.ms")
c=$(median "$T/crun-cgroupfs.ms")
n=$(median "$T/crun-disabled.ms")
[ "${c:-0}" -gt 0 ] || c=1
echo "image start from the cache, manifest accepted -> process running"
echo "  lodge (provider: idmapped layers, overlayfs, user namespace, cgroup v1): p50 $l ms over $(wc -l < "$T/lodge.ms") leases"
echo "  crun run -d (same layers, overlayfs, user namespace, cgroup v1):       p50 $c ms"
echo "  crun run -d without any cgroup (--cgroup-manager=disabled):            p50 $n ms"
awk -v l="$l" -v c="$c" 'BEGIN { printf "  lodge / crun = %.2fx (goal <= 1.0x)\n", l / c }'
