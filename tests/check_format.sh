#!/bin/sh
# One style for the whole tree: every C file must be what clang-format
# (Debian's clang-format, with the repository's .clang-format: KNF) makes
# of it.  `make format` rewrites them in place.  One check per file.
cd "$(dirname "$0")/.." || exit 1
command -v clang-format >/dev/null 2>&1 ||
	{ echo "not ok - clang-format is not installed (make deps installs it)"; exit 1; }
rc=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*'); do
	if clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "ok - format $f"
	else
		echo "not ok - format $f (run: make format)"
		clang-format "$f" | diff -u "$f" - | head -20 | sed 's/^/#   /'
		rc=1
	fi
done
exit $rc
