#!/bin/sh
# The WebAssembly core test suite through the whole pipeline:
#   tests/wasm-spec/run.sh [-O0|-O2] [--no-fuel] [WAST...]
# converts each .wast (default: all of ../shared/corpus/wasm-spec) with
# wast2json into a temporary directory, then runs `provider wasm spec`.
# Modules use guard pages where the process can reserve them;
# LODGE_WASM_BOUNDS=explicit runs the suite with explicit bounds checks.
# Prints "wasm spec: N passed, M failed, K skipped (feature: n, ...)";
# exits non-zero when a supported feature fails.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
SHARED=${LODGE_SHARED:-$ROOT/../shared}
T=$(mktemp -d /tmp/lodge-wasm-spec-XXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
. "$ROOT/tests/wasm-spec/env.sh"
opts=""
files=""
for a in "$@"; do
	case "$a" in
	-O*|--no-fuel|-v) opts="$opts $a";;
	*) files="$files $a";;
	esac
done
[ -n "$files" ] || files=$(ls "$SHARED"/corpus/wasm-spec/*.wast)
jsons=""
for w in $files; do
	b=$(basename "$w" .wast)
	mkdir -p "$T/$b"
	if (cd "$T/$b" && wast2json "$w" -o "$b.json" >/dev/null 2>&1); then
		jsons="$jsons $T/$b/$b.json"
	else
		echo "wasm spec: $b.wast: wast2json failed (skipped)"
	fi
done
# shellcheck disable=SC2086
$WASM spec --jobs "${JOBS:-2}" $opts $jsons
