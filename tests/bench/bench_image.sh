#!/bin/sh
# bench_image: pull + unpack of a 3-layer image of about 50 MB (unpacked)
# from a docker-registry on loopback, by libimage (tests/e2e/drv_image,
# into an empty cache) against `skopeo copy` to an OCI layout then
# `umoci unpack` of the same image, measured in the same run, median of N
# runs each, alternating.  Goal: lodge/baseline <= 1.0x.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${BENCH_IMAGE_RUNS:-5}
T=$(mktemp -d "${1:-/tmp}/bench-image-XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2> /dev/null; done; wait 2> /dev/null; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
. "$ROOT/tests/e2e/registry_lib.sh"

for tool in docker-registry skopeo umoci python3 jq; do
	if ! command -v $tool > /dev/null; then
		echo "bench_image: skipped ($tool is not installed: make deps)"
		exit 0
	fi
done
[ -x "$DRV" ] || { echo "bench_image: $DRV missing (make drivers)"; exit 1; }

now_us() { echo $(($(date +%s%N) / 1000)); }
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# three layers: big random files, text, many small files
python3 - "$T/spec.json" <<'EOF'
import json, sys
l1 = [["d", "opt/data", 493]] + \
    [["rand", "opt/data/r%02d.bin" % i, 1 << 20, i] for i in range(12)] + \
    [["text", "opt/data/t%02d.txt" % i, 1 << 20] for i in range(8)]
l2 = [["d", "usr/share/doc", 493]] + \
    [["rand", "usr/share/doc/f%03d" % i, 24 << 10, 100 + i]
     for i in range(400)] + \
    [["text", "usr/share/doc/t%03d" % i, 16 << 10] for i in range(200)]
l3 = [["d", "srv/www", 493]] + \
    [["rand", "srv/www/a%02d" % i, 512 << 10, 1000 + i] for i in range(16)] + \
    [["text", "srv/www/b%02d.html" % i, 256 << 10] for i in range(20)] + \
    [["wh", "opt/data", "t00.txt"], ["opq", "usr/share/doc"]]
json.dump({"tag": "v1", "images": [{"arch": "amd64",
           "config": {"Cmd": ["/bin/sh"]}, "layers": [l1, l2, l3]}]},
          open(sys.argv[1], "w"))
EOF
registry_start reg || exit 1
image_push "$T/spec.json" "$REG" bench/image:v1 || exit 1
size=$(skopeo inspect --tls-verify=false --raw "docker://$REG/bench/image:v1" |
    jq '[.layers[].size] | add')

umoci_flags=""
[ "$(id -u)" = 0 ] || umoci_flags=--rootless
i=0
while [ $i -lt "$N" ]; do
	t0=$(now_us)
	skopeo --insecure-policy copy -q --src-tls-verify=false \
	    "docker://$REG/bench/image:v1" "oci:$T/oci-$i:v1" || exit 1
	# shellcheck disable=SC2086
	umoci unpack $umoci_flags --image "$T/oci-$i:v1" "$T/bundle-$i" \
	    > /dev/null || exit 1
	echo $(($(now_us) - t0)) >> "$T/base"
	t0=$(now_us)
	"$DRV" pull --cache "$T/cache-$i" --insecure "$REG" \
	    "$REG/bench/image:v1" > "$T/pull.json" || exit 1
	echo $(($(now_us) - t0)) >> "$T/lodge"
	rm -rf "$T/oci-$i" "$T/bundle-$i" "$T/cache-$i"
	i=$((i + 1))
done
l50=$(median "$T/lodge")
b50=$(median "$T/base")
ratio=$(awk -v a="$l50" -v b="$b50" 'BEGIN {printf "%.2f", a / b}')
printf 'pull + unpack of a 3-layer image (%d MB compressed, ~50 MB unpacked), %d runs:\n' \
    $((size / 1000000)) "$N"
printf '  lodge (libimage):      p50 %7d us\n' "$l50"
printf '  skopeo copy + umoci:   p50 %7d us\n' "$b50"
printf '  ratio lodge/baseline p50: %sx\n' "$ratio"
if awk -v r="$ratio" 'BEGIN {exit !(r <= 1.0)}'; then
	echo "  goal <= 1.0x: met"
else
	echo "  goal <= 1.0x: MISSED"
	exit 1
fi
