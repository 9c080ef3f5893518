# Lodge: one Makefile for everything.  `make` builds bin/, `make test` runs
# every test (unit tests also under ASan+UBSan, fuzzers for a bounded time,
# end-to-end tests on loopback), `make bench` prints figures, `make demo`
# runs the flow, `make deps` installs what is missing.

BUILD ?= release
O := build/$(BUILD)

PKGS := openssl jansson libcurl sqlite3 libgit2 yaml-0.1 libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE
ifeq ($(BUILD),release)
  OPT := -O2 -g
  SAN :=
else ifeq ($(BUILD),asan)
  OPT := -O1 -g -fno-omit-frame-pointer
  SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
else ifeq ($(BUILD),fuzz)
  CC := clang
  OPT := -O1 -g -fno-omit-frame-pointer -DLODGE_FUZZ
  SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
endif

ALL_CFLAGS := $(WARN) $(OPT) $(SAN) -I. $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
ALL_LDFLAGS := $(SAN) -Wl,--as-needed $(LDFLAGS)
LDLIBS := $(PKG_LIBS) -lm -lpthread

# Folders in link order: a library may use those after it, never before.
MODULES := tenant provider market ledger sdl wasm sandbox common

# What each folder's library uses, all of it (transitively): a binary or a
# test links its own folders' libraries and these, nothing else.
common_USES :=
sandbox_USES := common
wasm_USES := sandbox common
sdl_USES := common
ledger_USES := common
market_USES := ledger common
provider_USES := wasm sandbox common
tenant_USES := sdl common

# A folder's binary is its main.c and one cmd_<name>.c per command (thin:
# options in, library calls out); everything else is its library.
define module_rules
$(1)_CMDS := $$(wildcard $(1)/main.c $(1)/cmd_*.c)
$(1)_SRCS := $$(filter-out $$($(1)_CMDS),$$(wildcard $(1)/*.c))
$(1)_OBJS := $$(patsubst %.c,$(O)/%.o,$$($(1)_SRCS))
$(O)/lib$(1).a: $$($(1)_OBJS)
	@mkdir -p $$(@D)
	@rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))

LIBS := $(foreach m,$(MODULES),$(if $($(m)_SRCS),$(O)/lib$(m).a))
BINS := $(foreach m,$(MODULES),$(if $(wildcard $(m)/main.c),bin/$(m)))

# The libraries a source file needs: the folders it includes from, with
# what they use, in link order.
src_folders = $(sort $(shell sed -n 's|^\#include "\([a-z]*\)/.*|\1|p' $(1)))
lib_closure = $(sort $(foreach f,$(1),$(f) $($(f)_USES)))
libs_of = $(foreach m,$(MODULES),$(if $(filter $(m),$(call lib_closure,$(1))),$(O)/lib$(m).a))
$(foreach m,$(MODULES),$(eval bin/$(m): $(patsubst %.c,$(O)/%.o,$($(m)_CMDS)) $(call libs_of,$(m))))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/unit/%,$(UNIT_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRCS))
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(O)/bench/%,$(BENCH_SRCS))

.PHONY: all deps test unit-test asan-test fuzz-test e2e-test bench demo clean \
	units fuzzers benches wasm-spec-O2 format format-check
.DEFAULT_GOAL := all

ifeq ($(BUILD),release)
all: $(BINS)
else
all: $(LIBS)
endif

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Objects are kept (not deleted as intermediates), so touching one .c
# rebuilds that object and relinks only what uses it.
.SECONDARY:

bin/%:
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

define test_rules
$(O)/$(1)/$(2): $(O)/tests/$(1)/$(2).o $(call libs_of,$(call src_folders,tests/$(1)/$(2).c))
endef
$(foreach t,$(basename $(notdir $(wildcard tests/unit/test_*.c))),$(eval $(call test_rules,unit,$(t))))
$(foreach t,$(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c))),$(eval $(call test_rules,fuzz,$(t))))
$(foreach t,$(basename $(notdir $(wildcard tests/bench/bench_*.c))),$(eval $(call test_rules,bench,$(t))))

$(O)/unit/%:
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(O)/fuzz/%:
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(O)/bench/%:
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

units: $(UNIT_BINS)
fuzzers: $(FUZZ_BINS)
benches: $(BENCH_BINS)

# Debian 12 packages the build, the tests and the demo need.
DEPS := build-essential pkg-config libssl-dev libjansson-dev \
	libcurl4-openssl-dev libsqlite3-dev libgit2-dev libyaml-dev \
	libseccomp-dev libcmocka-dev clang lld \
	libclang-rt-14-dev clang-format wabt wasi-libc libclang-rt-dev-wasm32 git curl \
	sqlite3 openssl procps jq
deps:
	@missing=$$(for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all present"; else \
		echo "deps: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $$missing; fi

unit-test: all
	@$(MAKE) --no-print-directory units
	@tests/run.sh unit $(UNIT_BINS)

asan-test:
	@$(MAKE) --no-print-directory BUILD=asan units
	@tests/run.sh asan $(patsubst $(O)/%,build/asan/%,$(UNIT_BINS))

FUZZ_SECONDS ?= 20
fuzz-test:
	@$(MAKE) --no-print-directory BUILD=fuzz fuzzers
	@tests/run.sh fuzz $(patsubst $(O)/%,build/fuzz/%,$(FUZZ_BINS))

e2e-test: all
	@tests/run.sh e2e $(sort $(wildcard tests/e2e/test_*.sh))

# Every test; one closing line "N passed, N failed" for CI.
test: all
	@$(MAKE) --no-print-directory units
	@$(MAKE) --no-print-directory BUILD=asan units
	@$(MAKE) --no-print-directory BUILD=fuzz fuzzers
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh all \
		$(UNIT_BINS) \
		$(patsubst $(O)/%,build/asan/%,$(UNIT_BINS)) \
		$(patsubst $(O)/%,build/fuzz/%,$(FUZZ_BINS)) \
		tests/check_format.sh \
		$(sort $(wildcard tests/e2e/test_*.sh))

# One style (KNF, .clang-format): `make format` rewrites, the check is part
# of `make test`.
format:
	@clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	@tests/run.sh format tests/check_format.sh

bench: all
	@$(MAKE) --no-print-directory benches
	@tests/bench/run.sh $(BENCH_BINS)

# The WebAssembly core test suite through the pipeline at -O2 (make test
# runs it at -O0 to stay quick).
wasm-spec-O2: all
	@tests/wasm-spec/run.sh -O2

demo: deps
	@$(MAKE) --no-print-directory all
	@examples/demo.sh

clean:
	rm -rf build bin

-include $(shell find build/$(BUILD) -name '*.d' 2>/dev/null)
