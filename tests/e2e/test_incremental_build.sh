#!/bin/sh
# Incremental builds: after one .c changes, `make` recompiles that object
# only, rebuilds its library, and relinks only the binaries that use it
# (objects are kept, .SECONDARY).  Asked of make with -n -W (what would
# run if FILE were newer), so nothing is touched or rebuilt.
. tests/e2e/lib.sh


# would_run FILE: the objects and binaries make would rebuild.
would_run() {
	make -n -W "$1" all 2>/dev/null |
	    sed -n 's/.* -c -o \([^ ]*\.o\) .*/\1/p; s/.* -o \(bin\/[a-z]*\) .*/\1/p' |
	    sed 's|^build/[a-z]*/||' | sort | tr '\n' ' '
}

# expect FILE WANT...: exactly these are rebuilt.
expect() {
	e_file=$1; shift
	e_want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	e_got=$(would_run "$e_file")
	if [ "$e_got" = "$e_want" ]; then
		ok "touching $e_file rebuilds: $e_got"
	else
		notok "touching $e_file rebuilds '$e_got', want '$e_want'"
	fi
}

# (e2e-test builds first: a tree where make still has work to do is
# the bug this looks for, e.g. objects deleted as intermediates)
if make -q all >/dev/null 2>&1; then
	ok "make -q: nothing to do in a built tree"
else
	notok "make -q: a built tree still has work to do:"
	make -n all 2>&1 | cut -c1-100 | head -5 | sed 's/^/#   /'
fi
# a binary's own command: that object and that binary
expect market/main.c market/main.o bin/market
expect ledger/cmd_verify.c ledger/cmd_verify.o bin/ledger
# a library file: that object and the binaries linking its library (the
# market links sdl for the console's /v1/sdl/check)
expect ledger/verify.c ledger/verify.o bin/ledger bin/market bin/provider \
    bin/tenant
expect sdl/units.c sdl/units.o bin/market bin/sdl bin/tenant
finish
