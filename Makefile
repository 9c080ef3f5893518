# Lodge: one Makefile for everything.  `make` builds bin/, `make test` runs
# every test (unit tests also under ASan+UBSan, fuzzers for a bounded time,
# end-to-end tests on loopback), `make bench` prints figures, `make demo`
# runs the flow, `make deps` installs what is missing.

BUILD ?= release
O := build/$(BUILD)

PKGS := openssl jansson libcurl sqlite3 libgit2 yaml-0.1 libseccomp libarchive \
	zlib
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
MODULES := tenant provider market ledger sdl image wasm sandbox common

# What each folder's library uses, all of it (transitively): a binary or a
# test links its own folders' libraries and these, nothing else.
common_USES :=
sandbox_USES := common
wasm_USES := sandbox common
sdl_USES := image common
image_USES := common
ledger_USES := common
market_USES := sdl image ledger common
provider_USES := wasm sandbox image ledger common
tenant_USES := ledger sdl image common

# A folder's binary is its main.c and one cmd_<name>.c per command (thin:
# options in, library calls out); everything else is its library.
define module_rules
$(1)_CMDS := $$(wildcard $(1)/main.c $(1)/cmd_*.c)
$(1)_SRCS := $$(filter-out $$($(1)_CMDS) $(1)/front.c,$$(wildcard $(1)/*.c))
$(1)_OBJS := $$(patsubst %.c,$(O)/%.o,$$($(1)_SRCS))
$(O)/lib$(1).a: $$($(1)_OBJS)
	@mkdir -p $$(@D)
	@rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))

LIBS := $(foreach m,$(MODULES),$(if $($(m)_SRCS),$(O)/lib$(m).a))
# A folder with a front.c has two programs: bin/<folder>, its front.c and
# the commands named in <folder>_FRONT_CMDS, linked with only what those
# use; and bin/<folder>-full, main.c with every command, which the front
# execs for the others.  The provider's front runs the commands that
# start workloads, so a sandbox or a wasm worker does not first load
# libcurl, libgit2, libarchive and SQLite with their ~35 dependencies
# (~7 ms of CPU per start).
provider_FRONT_CMDS := provider/cmd_common.c provider/cmd_sandbox.c \
	provider/cmd_wasm.c
main_bin = $(if $(wildcard $(1)/front.c),bin/$(1)-full,bin/$(1))
BINS := $(foreach m,$(MODULES),$(if $(wildcard $(m)/main.c),\
	$(call main_bin,$(m)) $(if $(wildcard $(m)/front.c),bin/$(m))))

# The libraries a source file needs: the folders it includes from, with
# what they use, in link order.
src_folders = $(sort $(shell sed -n 's|^\#include "\([a-z]*\)/.*|\1|p' $(1)))
lib_closure = $(sort $(foreach f,$(1),$(f) $($(f)_USES)))
libs_of = $(foreach m,$(MODULES),$(if $(filter $(m),$(call lib_closure,$(1))),$(O)/lib$(m).a))
$(foreach m,$(MODULES),$(eval $(call main_bin,$(m)): $(patsubst %.c,$(O)/%.o,$($(m)_CMDS)) $(call libs_of,$(m))))
$(foreach m,$(MODULES),$(if $(wildcard $(m)/front.c),$(eval bin/$(m): \
	$(patsubst %.c,$(O)/%.o,$(m)/front.c $($(m)_FRONT_CMDS)) \
	$(call libs_of,$(call src_folders,$(m)/front.c $($(m)_FRONT_CMDS))))))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/unit/%,$(UNIT_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRCS))
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(O)/bench/%,$(BENCH_SRCS))
# Programs the end-to-end tests and benches drive libraries with.
DRV_SRCS := $(wildcard tests/e2e/drv_*.c)
DRV_BINS := $(patsubst tests/e2e/%.c,$(O)/e2e/%,$(DRV_SRCS))

.PHONY: install uninstall all deps test unit-test asan-test fuzz-test e2e-test bench demo clean \
	units fuzzers benches drivers failallocs failalloc-test wasm-spec-O2 format \
	format-check
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
# The gateway benches also link tests/bench/benchgw.c (the gateway's
# handler and route as the daemon runs them), first; their own
# provider/gateway.h include brings libprovider.
$(O)/bench/bench_gateway $(O)/bench/bench_gateway_nginx: \
	$(O)/tests/bench/benchgw.o
# Each bench links tests/bench/benchlib.c (percentiles, the HTTP client
# loop), before the libraries it and benchlib use.
BENCH_LIB := $(O)/tests/bench/benchlib.o
$(foreach t,$(basename $(notdir $(wildcard tests/bench/bench_*.c))),$(eval \
	$(O)/bench/$(t): $(O)/tests/bench/$(t).o $(BENCH_LIB) $(call libs_of,\
	$(call src_folders,tests/bench/$(t).c tests/bench/benchlib.c))))

$(O)/unit/%:
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(O)/fuzz/%:
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(foreach t,$(basename $(notdir $(DRV_SRCS))),$(eval $(call test_rules,e2e,$(t))))

$(O)/e2e/%:
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bench/%:
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# Allocation-failure runs (tests/failalloc/run.sh), in the ASan build: the
# unit tests named here (PROG or PROG:GLOB, GLOB choosing its cmocka
# tests) relinked against copies of their libraries whose allocation calls
# go to tests/failalloc/failalloc.c, which fails the Nth one.
FAILALLOC := test_common test_note test_reqsig test_sdl test_merkle \
	test_state test_store test_wasm_pool:test_wire_*
FAILALLOC_SECONDS ?= 90
FA_TESTS := $(foreach t,$(FAILALLOC),$(firstword $(subst :, ,$(t))))
FA_BINS := $(patsubst %,$(O)/failalloc/%,$(FA_TESTS))
FA_SYMS := malloc calloc realloc reallocarray strdup strndup asprintf vasprintf
$(O)/failalloc/lib%.a: $(O)/lib%.a
	@mkdir -p $(@D)
	objcopy $(foreach s,$(FA_SYMS),--redefine-sym $(s)=failalloc_$(s)) $< $@
$(foreach t,$(FA_TESTS),$(eval $(O)/failalloc/$(t): $(O)/tests/unit/$(t).o \
	$(O)/tests/failalloc/failalloc.o $(patsubst $(O)/%,$(O)/failalloc/%,\
	$(call libs_of,$(call src_folders,tests/unit/$(t).c)))))
$(O)/failalloc/%:
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

units: $(UNIT_BINS)
fuzzers: $(FUZZ_BINS)
benches: $(BENCH_BINS)
drivers: $(DRV_BINS)
failallocs: $(FA_BINS)

# Debian 12 packages, by what needs them: everything the build, every test,
# the benches and the demo call that a minimal Debian (Essential and
# required packages) lacks.  `make deps` installs what is missing, one
# line per group (tools/deps.sh).
DEPS_build := build-essential pkg-config libssl-dev libjansson-dev \
	libcurl4-openssl-dev libsqlite3-dev libgit2-dev libyaml-dev \
	libseccomp-dev zlib1g-dev
DEPS_tests := libcmocka-dev clang lld libclang-rt-14-dev clang-format
DEPS_wasm := wabt wasi-libc libclang-rt-dev-wasm32
# git (tests, git+ artifacts, ledger mirror), curl and jq (e2e, demo),
# sqlite3 (ledger tampering, demo), openssl, ps (procps: the cluster's
# cleanup), setpriv (util-linux: non-root provider), perl and python3
# (the hello-perl and hello-http workloads run the host's /usr/bin ones),
# mandoc and man-db (the man pages' lint, man reading the installed
# ones), systemd (systemd-analyze verify of examples/systemd), nginx
# (bench_tls's baseline for TLS handshakes)
DEPS_tools := git curl jq sqlite3 openssl procps util-linux perl-base \
	python3 python3-cryptography mandoc man-db systemd nginx
# OCI images: libarchive (unpacking), Debian's registry and the tools the
# tests build and push images with (no Docker)
DEPS_image := libarchive-dev docker-registry skopeo umoci apache2-utils \
	crun busybox-static
# deployment networks and volumes (sandbox/net, sandbox/volume)
DEPS_net := iproute2 nftables e2fsprogs
# the console's browser test: headless chromium driven over the DevTools
# protocol from Debian's python3 (tests/e2e/test_console.sh); node runs its
# verification code on the public vectors (test_console_js.sh)
DEPS_console := chromium python3-websocket nodejs
# what the benches compare against or load with: wrk (event-driven load
# generator), bubblewrap and crun (sandbox start), nginx (the gateway)
DEPS_bench := wrk bubblewrap crun nginx
# market replicas over etcd (market run --etcd): the members the HA tests
# and benches start, and etcdctl for looking at them
DEPS_ha := etcd-server etcd-client
DEPS := $(DEPS_build) $(DEPS_tests) $(DEPS_wasm) $(DEPS_tools) $(DEPS_image) \
	$(DEPS_net) $(DEPS_console) $(DEPS_bench) $(DEPS_ha)
deps:
	@tools/deps.sh \
		"build (compiler, libraries)" "$(DEPS_build)" \
		"tests (cmocka, clang, sanitizers, clang-format)" "$(DEPS_tests)" \
		"WebAssembly (wabt, wasi-libc)" "$(DEPS_wasm)" \
		"tools the tests and the demo call" "$(DEPS_tools)" \
		"OCI images (libarchive, registry, skopeo, umoci)" "$(DEPS_image)" \
		"networks and volumes (iproute2, nftables, e2fsprogs)" "$(DEPS_net)" \
		"the console's browser test (chromium)" "$(DEPS_console)" \
		"benches (wrk, bubblewrap, crun, nginx)" "$(DEPS_bench)" \
		"market replicas (etcd)" "$(DEPS_ha)"

unit-test: all
	@$(MAKE) --no-print-directory units drivers
	@tests/run.sh unit $(UNIT_BINS)

asan-test:
	@$(MAKE) --no-print-directory BUILD=asan units
	@tests/run.sh asan $(patsubst $(O)/%,build/asan/%,$(UNIT_BINS))

FUZZ_SECONDS ?= 20
fuzz-test:
	@$(MAKE) --no-print-directory BUILD=fuzz fuzzers
	@tests/run.sh fuzz $(patsubst $(O)/%,build/fuzz/%,$(FUZZ_BINS))

# End-to-end scripts run E2E_JOBS at a time (tests/run.sh; those marked
# "# e2e: alone" by themselves).
E2E_JOBS ?= 3
export E2E_JOBS

e2e-test: all
	@$(MAKE) --no-print-directory drivers
	@tests/run.sh e2e $(sort $(wildcard tests/e2e/test_*.sh))

failalloc-test:
	@$(MAKE) --no-print-directory BUILD=asan failallocs
	@FAILALLOC="$(FAILALLOC)" FAILALLOC_SECONDS=$(FAILALLOC_SECONDS) \
		tests/run.sh failalloc tests/failalloc/run.sh

# Every test; one closing line "N passed, N failed" for CI.  TESTS=PATTERN
# runs only the tests whose path contains PATTERN (tests/run.sh --only).
test: all
	@$(MAKE) --no-print-directory units drivers
	@$(MAKE) --no-print-directory BUILD=asan units failallocs
	@$(MAKE) --no-print-directory BUILD=fuzz fuzzers
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FAILALLOC="$(FAILALLOC)" \
		FAILALLOC_SECONDS=$(FAILALLOC_SECONDS) tests/run.sh all \
		$(UNIT_BINS) \
		$(patsubst $(O)/%,build/asan/%,$(UNIT_BINS)) \
		tests/failalloc/run.sh \
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
	@$(MAKE) --no-print-directory benches drivers
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

# Install as the GNU conventions expect: PREFIX (or prefix, bindir,
# mandir, man1dir...) says where, DESTDIR stages it (packaging).  The
# binaries, their man pages (docs/man) and bash completion, one copy of
# tools/completion/lodge.bash per command.
PREFIX ?= /usr/local
prefix ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir ?= $(exec_prefix)/bin
datarootdir ?= $(prefix)/share
mandir ?= $(datarootdir)/man
man1dir ?= $(mandir)/man1
bashcompdir ?= $(datarootdir)/bash-completion/completions
INSTALL ?= install
INSTALL_PROGRAM ?= $(INSTALL)
INSTALL_DATA ?= $(INSTALL) -m 644
INSTALL_BINS := market provider tenant ledger sdl
MAN_PAGES := $(patsubst %,docs/man/%.1,$(INSTALL_BINS))
CONSOLE_FILES := $(filter-out console/README.md,$(wildcard console/*.*))

install: all
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(man1dir) \
		$(DESTDIR)$(bashcompdir)
	$(INSTALL_PROGRAM) $(patsubst %,bin/%,$(INSTALL_BINS) provider-full) \
		$(DESTDIR)$(bindir)/
	$(INSTALL) -d $(DESTDIR)$(datarootdir)/lodge/console
	$(INSTALL_DATA) $(CONSOLE_FILES) $(DESTDIR)$(datarootdir)/lodge/console/
	$(INSTALL_DATA) $(MAN_PAGES) $(DESTDIR)$(man1dir)/
	for b in $(INSTALL_BINS); do \
		$(INSTALL_DATA) tools/completion/lodge.bash \
			$(DESTDIR)$(bashcompdir)/$$b || exit 1; \
	done

uninstall:
	for b in $(INSTALL_BINS); do \
		rm -f $(DESTDIR)$(bindir)/$$b $(DESTDIR)$(man1dir)/$$b.1 \
			$(DESTDIR)$(bashcompdir)/$$b; \
	done
	rm -f $(DESTDIR)$(bindir)/provider-full
	rm -rf $(DESTDIR)$(datarootdir)/lodge

-include $(shell find build/$(BUILD) -name '*.d' 2>/dev/null)
