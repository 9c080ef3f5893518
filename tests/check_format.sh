#!/bin/sh
# One style for the whole tree: every C file must be what clang-format
# (Debian's clang-format, with the repository's .clang-format: KNF) makes
# of it.  `make format` rewrites them in place.
cd "$(dirname "$0")/.." || exit 1
command -v clang-format >/dev/null 2>&1 ||
	{ echo "not ok - clang-format is not installed (make deps installs it)"; exit 1; }
files=$(git ls-files '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find . -name '*.[ch]' -not -path './build/*')
bad=0; n=0
for f in $files; do
	n=$((n + 1))
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 && continue
	bad=$((bad + 1))
	echo "# $f is not formatted (run: make format):"
	clang-format "$f" | diff -u "$f" - | head -20 | sed 's/^/#   /'
done
if [ $bad -eq 0 ]; then
	echo "ok - all $n C files are in the project's style (.clang-format)"
else
	echo "not ok - $bad of $n C files are not in the project's style"
	exit 1
fi
