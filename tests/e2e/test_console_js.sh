#!/bin/sh
# The console's verification code (console/verify.js, util.js) under
# node's test runner (tests/js/): RFC 6962 and transparency-dev proof
# vectors, Go/C2SP signed notes and a cosignature from ../shared/corpus,
# and canonical JSON byte for byte against `ledger envelope`; the words
# for a provider's record and a lease's standing top-up (record.js).  The
# same modules run in the browser (test_console.sh).
. tests/e2e/lib.sh

need_tools node
need "the public corpus in $SHARED/corpus" test -d "$SHARED/corpus/merkle"
LODGE_SHARED=$SHARED LODGE_BIN=$BIN node --test --test-reporter=tap \
    "$ROOT/tests/js/" > "$T/node.out" 2>&1
rc=$?
# node's TAP numbers its lines and indents subtests: keep the top level
sed -n 's/^\(not ok\|ok\) [0-9]* - /\1 - /p' "$T/node.out"
FAILED=$(grep -c '^not ok' "$T/node.out")
if [ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
	notok "node --test ran (exit $rc)"
	tail -20 "$T/node.out" | sed 's/^/# /'
fi
grep -A12 '^not ok' "$T/node.out" | sed 's/^/# /'
finish
