# The decoder/validator against wabt's wasm-validate, module by module, on
# every binary module of the core test suite (SIMD ones excepted): the
# verdicts must agree, or, where they differ, ours must be the one the
# suite itself expects (wabt 1.0.32 accepts a few invalid modules).
. tests/e2e/lib.sh
. tests/wasm-spec/env.sh
need_tools wast2json wasm-validate
need "the WebAssembly core test suite in $SHARED/corpus/wasm-spec" \
    test -d "$SHARED/corpus/wasm-spec"
for w in "$SHARED"/corpus/wasm-spec/*.wast; do
	b=$(basename "$w" .wast)
	case $b in simd*) continue;; esac
	mkdir -p "$T/s/$b"
	(cd "$T/s/$b" && wast2json "$w" -o "$b.json" >/dev/null 2>&1) || true
done
ls "$T"/s/*/*.wasm >"$T/files"
# shellcheck disable=SC2046
$WASM validate $(cat "$T/files") >"$T/ours" 2>&1
while read -r f; do
	if wasm-validate "$f" >/dev/null 2>&1; then echo "ok $f"; else echo "invalid $f"; fi
done <"$T/files" >"$T/theirs"
n=$(wc -l <"$T/files")
agree=0; ours_right=0; wrong=0
while read -r v1 f1 v2; do
	f1=${f1%:}
	if [ "$v1" = "$v2" ]; then agree=$((agree + 1)); continue; fi
	name=$(basename "$f1"); json=$(dirname "$f1")/$(basename "$(dirname "$f1")").json
	line=$(grep "\"filename\": \"$name\"" "$json")
	case "$v1:$line" in
	invalid:*assert_invalid*|invalid:*assert_malformed*|ok:*\"module\"*)
		ours_right=$((ours_right + 1))
		echo "# differs from wasm-validate, as the suite expects: $name ($v1)";;
	*) wrong=$((wrong + 1)); echo "# disagrees: $name ours=$v1 wabt=$v2: $(grep "$f1" "$T/ours" | cut -c1-200)";;
	esac
done <<EOF2
$(paste -d' ' "$T/ours" "$T/theirs" | awk '{print $1, $2, $(NF-1)}')
EOF2
echo "# $n modules: $agree agree with wasm-validate, $ours_right differ where the suite sides with us"
check "decoder agrees with wasm-validate (or with the suite)" test "$wrong" -eq 0 -a "$agree" -gt 1000
finish
