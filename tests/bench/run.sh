#!/bin/sh
# Run every benchmark binary with a scratch directory; each prints its
# figures next to a baseline measured in the same run.
dir=$(mktemp -d /tmp/lodge-bench-XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM
rc=0
for b in "$@"; do
	echo "== $(basename "$b")"
	"$b" "$dir" || rc=1
done
for s in tests/bench/bench_*.sh; do
	[ -f "$s" ] || continue
	echo "== $(basename "$s")"
	sh "$s" "$dir" || rc=1
done
exit $rc
