/*
 * Unit tests for the wasm sandbox: decoder/validator, fuel instrumentation,
 * compile cache, runner (traps, fuel determinism), bounds checks (guard
 * pages and explicit), call depth, what the commands call (files, the
 * deep-stack runner), WASI basics and WAGI.
 * Modules are written in the text format and assembled with wat2wasm.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "wasm/decode.h"
#include "wasm/guard.h"
#include "wasm/instrument.h"
#include "wasm/run.h"
#include "wasm/wagi.h"

static char tmpdir[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lodge-test-wasm-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[512];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Assemble wat text into *bin. */
static void
wat(const char *text, uint8_t **bin, size_t *len)
{
	char in[512], out[512], cmd[1200];
	static int n;
	snprintf(in, sizeof(in), "%s/m%d.wat", tmpdir, n);
	snprintf(out, sizeof(out), "%s/m%d.wasm", tmpdir, n++);
	FILE *f = fopen(in, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "wat2wasm '%s' -o '%s'", in, out);
	assert_int_equal(system(cmd), 0);
	char *b;
	assert_int_equal(util_read_file(out, 1 << 20, &b, len), 0);
	*bin = (uint8_t *)b;
}

static void
load_opts(struct wasm_load_opts *o, int opt)
{
	static char cache[300];
	wasm_load_opts_init(o);
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	o->compile.cache_dir = cache;
	o->compile.opt_level = opt;
}

static const char loop_wat[] =
    "(module\n"
    " (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param "
    "i32)))\n"
    " (memory 1)\n"
    " (global $n (mut i32) (i32.const 0))\n"
    " (func $work (param $k i32) (result i32) (local $i i32) (local $s i32)\n"
    "  (loop $l\n"
    "   (local.set $s (i32.add (local.get $s) (i32.mul (local.get $i) "
    "(local.get $i))))\n"
    "   (if (i32.and (local.get $i) (i32.const 1))\n"
    "     (then (local.set $s (i32.xor (local.get $s) (i32.const 7)))))\n"
    "   (i32.store (i32.and (local.get $i) (i32.const 1023)) (local.get $s))\n"
    "   (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "   (br_if $l (i32.lt_u (local.get $i) (local.get $k))))\n"
    "  (memory.fill (i32.const 0) (i32.const 0) (i32.const 4096))\n"
    "  (local.get $s))\n"
    " (func $rec (param i32) (result i32) (call $rec (i32.add (local.get 0) "
    "(i32.const 1))))\n"
    " (func (export \"_start\")\n"
    "  (drop (memory.grow (i32.const 1)))\n"
    "  (call $exit (i32.and (call $work (i32.const 100000)) (i32.const "
    "127))))\n"
    " (func (export \"spin\") (loop $l (br $l)))\n"
    " (func (export \"deep\") (result i32) (call $rec (i32.const 0)))\n"
    " (func (export \"oob\") (result i32) (i32.load (i32.const 0x7ffffff0)))\n"
    ")\n";

static void
test_wasm_decode_rejects_bad_header_and_simd(void **state)
{
	static const uint8_t bad_magic[] = { 0, 'a', 's', 'n', 1, 0, 0, 0 };
	static const uint8_t empty[] = { 0, 'a', 's', 'm', 1, 0, 0, 0 };
	/* type section: one type () -> (v128) */
	static const uint8_t simd[] = { 0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 1,
		0x60, 0, 1, 0x7b };
	/* type section whose size runs past the end */
	static const uint8_t trunc[] = { 0, 'a', 's', 'm', 1, 0, 0, 0, 1, 9, 1,
		0x60 };
	struct wasm_module *m = NULL;
	(void)state;
	assert_int_equal(
	    wasm_module_decode(bad_magic, sizeof(bad_magic), NULL, &m),
	    ERR_INVAL);
	assert_non_null(strstr(err_msg(), "magic"));
	assert_int_equal(wasm_module_decode(empty, sizeof(empty), NULL, &m), 0);
	wasm_module_free(m);
	assert_int_equal(wasm_module_decode(simd, sizeof(simd), NULL, &m),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "type section, offset 14"));
	assert_non_null(strstr(err_msg(), "SIMD"));
	assert_int_equal(wasm_module_decode(trunc, sizeof(trunc), NULL, &m),
	    ERR_INVAL);
}

static void
test_wasm_decode_validates_types_and_limits(void **state)
{
	uint8_t *b;
	size_t n;
	struct wasm_module *m = NULL;
	struct wasm_decode_limits lim;
	(void)state;
	/* wat2wasm refuses invalid text, so patch a valid module */
	wat("(module (func (result i64) (i64.const 1)))", &b, &n);
	assert_int_equal(wasm_module_decode(b, n, NULL, &m), 0);
	wasm_module_free(m);
	/* result type byte of the function type: i64 (0x7e) -> i32 */
	for (size_t i = 0; i + 1 < n; i++)
		if (b[i] == 0x60 && b[i + 1] == 0 && b[i + 2] == 1) {
			b[i + 3] = 0x7f;
			break;
		}
	assert_int_equal(wasm_module_decode(b, n, NULL, &m), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "type mismatch"));
	free(b);

	wat("(module (memory 100))", &b, &n);
	wasm_decode_limits_default(&lim);
	lim.max_memory_pages = 10;
	assert_int_equal(wasm_module_decode(b, n, &lim, &m), ERR_LIMIT);
	free(b);
}

static void
test_wasm_instrument_output_validates_and_exports_fuel(void **state)
{
	uint8_t *b, *out;
	size_t n, outn;
	struct wasm_module *m = NULL, *m2 = NULL;
	struct wasm_instrument_opts io = { .fuel = 1 };
	(void)state;
	wat(loop_wat, &b, &n);
	assert_int_equal(wasm_module_decode(b, n, NULL, &m), 0);
	assert_int_equal(wasm_instrument(m, &io, &out, &outn), 0);
	assert_true(outn > n);
	assert_int_equal(wasm_module_decode(out, outn, NULL, &m2), 0);
	/* same functions, two more globals, fuel, depth and memory
	 * exported */
	assert_int_equal(m2->nfuncs, m->nfuncs);
	assert_int_equal(m2->nglobals, m->nglobals + 2);
	int fuel = 0, depth = 0, mem = 0;
	for (uint32_t i = 0; i < m2->nexports; i++) {
		const struct wasm_export *e = &m2->exports[i];
		if (e->name.len == strlen(WASM_FUEL_EXPORT) &&
		    !memcmp(e->name.s, WASM_FUEL_EXPORT, e->name.len))
			fuel = e->kind == WASM_EXT_GLOBAL &&
			    e->index == m->nglobals;
		if (e->name.len == strlen(WASM_DEPTH_EXPORT) &&
		    !memcmp(e->name.s, WASM_DEPTH_EXPORT, e->name.len))
			depth = e->kind == WASM_EXT_GLOBAL &&
			    e->index == m->nglobals + 1;
		if (e->name.len == strlen(WASM_MEM_EXPORT) &&
		    !memcmp(e->name.s, WASM_MEM_EXPORT, e->name.len))
			mem = 1;
	}
	assert_true(fuel);
	assert_true(depth);
	assert_true(mem);
	wasm_module_free(m);
	wasm_module_free(m2);
	free(out);
	free(b);
}

static void
run_start(const struct wasm_program *p, int64_t fuel, uint64_t mem,
    struct wasm_outcome *oc, struct wasm_usage *u)
{
	struct wasm_run_limits l = { .fuel = fuel, .memory_bytes = mem };
	assert_int_equal(wasm_program_run(p, NULL, &l, oc, u), 0);
}

static void
test_wasm_fuel_is_deterministic_across_opt_and_memory(void **state)
{
	uint8_t *b;
	size_t n;
	struct wasm_load_opts o0, o2;
	struct wasm_program *p0 = NULL, *p2 = NULL;
	struct wasm_outcome oc;
	struct wasm_usage u0, u2, u3, u4;
	(void)state;
	wat(loop_wat, &b, &n);
	load_opts(&o0, 0);
	load_opts(&o2, 2);
	assert_int_equal(wasm_program_load(b, n, &o0, &p0), 0);
	assert_int_equal(wasm_program_load(b, n, &o2, &p2), 0);
	assert_false(p0->cached);
	run_start(p0, 10000000, 1 << 20, &oc, &u0);
	assert_int_equal(oc.trap, 0);
	int code = oc.exit_code;
	run_start(p2, 10000000, 1 << 20, &oc, &u2);
	assert_int_equal(oc.exit_code, code);
	run_start(p2, 10000000, 64 << 20, &oc, &u3);
	run_start(p2, -1, 0, &oc, &u4);
	assert_true(u0.fuel > 100000);
	assert_int_equal(u0.fuel, u2.fuel);
	assert_int_equal(u2.fuel, u3.fuel);
	assert_int_equal(u3.fuel, u4.fuel);
	assert_int_equal(u0.mem_peak_bytes, 2 * 65536);
	/* a second load hits the cache */
	struct wasm_program *p3 = NULL;
	assert_int_equal(wasm_program_load(b, n, &o2, &p3), 0);
	assert_true(p3->cached);
	/* too little fuel: out of fuel, and all of the budget used */
	run_start(p3, u0.fuel / 2, 0, &oc, &u3);
	assert_true(oc.out_of_fuel);
	assert_string_equal(oc.message, "trap: out of fuel");
	assert_int_equal(u3.fuel, u0.fuel / 2);
	wasm_program_free(p0);
	wasm_program_free(p2);
	wasm_program_free(p3);
	free(b);
}

static int
call_export(const struct wasm_program *p, const char *name, int64_t fuel,
    int64_t *left)
{
	struct wasm_instance *in = NULL;
	struct wasm_run_limits l = { .fuel = fuel };
	int trap;
	uint64_t res[2];
	int e = wasm_program_export(p, name, strlen(name), WASM_EXT_FUNC);
	assert_true(e >= 0);
	assert_int_equal(wasm_instance_new(p, NULL, &l, &in, &trap), 0);
	assert_int_equal(trap, 0);
	trap = wasm_instance_call(in, (uint32_t)e, NULL, res);
	*left = wasm_instance_fuel_left(in);
	wasm_instance_free(in);
	return trap;
}

static void
test_wasm_traps_are_classified(void **state)
{
	uint8_t *b;
	size_t n;
	struct wasm_load_opts o;
	struct wasm_program *p = NULL;
	int64_t left;
	(void)state;
	wat(loop_wat, &b, &n);
	load_opts(&o, 2);
	assert_int_equal(wasm_program_load(b, n, &o, &p), 0);
	int t = call_export(p, "spin", 1000000, &left);
	assert_string_equal(wasm_trap_message(t, left), "out of fuel");
	t = call_export(p, "deep", -1, &left);
	assert_string_equal(wasm_trap_message(t, left), "call stack exhausted");
	t = call_export(p, "oob", -1, &left);
	assert_string_equal(wasm_trap_message(t, left),
	    "out of bounds memory access");
	/* the process is fine afterwards: run again */
	t = call_export(p, "oob", -1, &left);
	assert_int_equal(t, WASM_TRAP_OOB);
	wasm_program_free(p);
	free(b);
}

static void
test_wasm_unknown_import_is_refused(void **state)
{
	uint8_t *b;
	size_t n;
	struct wasm_load_opts o;
	struct wasm_program *p = NULL;
	(void)state;
	wat("(module (import \"env\" \"f\" (func)))", &b, &n);
	load_opts(&o, 0);
	assert_int_equal(wasm_program_load(b, n, &o, &p), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "\"env\" \"f\""));
	free(b);
}

/* Assemble text into the file tmpdir/name; its path into path. */
static void
wat_file(const char *text, const char *name, char *path, size_t cap)
{
	uint8_t *b;
	size_t n;

	wat(text, &b, &n);
	snprintf(path, cap, "%s/%s", tmpdir, name);
	assert_int_equal(util_write_file(path, b, n, 0644), 0);
	free(b);
}

/* What `provider wasm run|validate` call: a module from a file, run on
 * the command's deep-stack thread; its outcome, and on failure its
 * message, come back to the calling thread. */
static void
test_wasm_command_runs_files_and_reports_on_the_callers_thread(void **state)
{
	static const char exit7[] =
	    "(module\n"
	    " (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit "
	    "(param i32)))\n"
	    " (func (export \"_start\") (call $exit (i32.const 7))))\n";
	struct wasm_run_limits lim = { .fuel = -1 };
	struct wasm_io io = { .stdin_fd = -1,
		.stdout_fd = -1,
		.stderr_fd = -1 };
	struct wasm_load_opts o;
	struct wasm_program *p = NULL;
	struct wasm_outcome oc;
	struct wasm_usage u;
	char path[512], junk[512];

	(void)state;
	load_opts(&o, 0);
	wat_file(exit7, "exit7.wasm", path, sizeof(path));
	assert_int_equal(wasm_validate_file(path), 0);
	assert_int_equal(wasm_program_load_file(path, &o, &p), 0);
	assert_int_equal(wasm_run_command(p, &io, &lim, 0, &oc, &u), 0);
	assert_int_equal(oc.exit_code, 7);
	assert_true(u.fuel > 0);
	wasm_program_free(p);

	/* No _start: the runner thread's message, here. */
	wat_file("(module (func (export \"f\")))", "nostart.wasm", path,
	    sizeof(path));
	assert_int_equal(wasm_program_load_file(path, &o, &p), 0);
	err_clear();
	assert_int_equal(wasm_run_command(p, &io, &lim, 0, &oc, &u),
	    ERR_NOTFOUND);
	assert_non_null(strstr(err_msg(), "_start"));
	wasm_program_free(p);

	/* Files that are not modules: the message names the file. */
	snprintf(junk, sizeof(junk), "%s/junk.wasm", tmpdir);
	assert_int_equal(util_write_file(junk, "\0asm\2\0\0\0", 8, 0644), 0);
	assert_true(wasm_validate_file(junk) < 0);
	assert_true(wasm_program_load_file(junk, &o, &p) < 0);
	assert_null(p);
	assert_non_null(strstr(err_msg(), junk));
	snprintf(junk, sizeof(junk), "%s/absent.wasm", tmpdir);
	assert_true(wasm_program_load_file(junk, &o, &p) < 0);
	assert_non_null(strstr(err_msg(), "absent.wasm"));
}

/* ---- bounds checks: guard pages and explicit ---- */

static const char bounds_wat[] =
    "(module\n"
    " (memory 1)\n"
    " (func (export \"grow\") (param i32) (result i32)\n"
    "  (memory.grow (local.get 0)))\n"
    " (func (export \"peek\") (param i32) (result i32)\n"
    "  (i32.load (local.get 0)))\n"
    " (func (export \"poke64\") (param i32)\n"
    "  (i64.store (local.get 0) (i64.const -1)))\n"
    " (func (export \"size\") (result i32) (memory.size))\n"
    " (func (export \"work_then_oob\") (result i32) (local $i i32)\n"
    "  (loop $l\n"
    "   (i32.store (i32.and (local.get $i) (i32.const 4092)) (local.get "
    "$i))\n"
    "   (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "   (br_if $l (i32.lt_u (local.get $i) (i32.const 10000))))\n"
    "  (i32.store (i32.const 8) (i32.const 5))\n"
    "  (i32.load offset=8 (i32.const 0xfffffff0)))\n"
    ")\n";

/* An instance of p, kept across calls. */
static struct wasm_instance *
instance(const struct wasm_program *p, uint64_t mem)
{
	struct wasm_instance *in = NULL;
	struct wasm_run_limits l = { .fuel = 1000000000, .memory_bytes = mem };
	int trap;
	assert_int_equal(wasm_instance_new(p, NULL, &l, &in, &trap), 0);
	assert_int_equal(trap, 0);
	return in;
}

/* Call export name with one i32 argument (or none: arg < 0); the trap,
 * and the first result in *res. */
static int
call1(struct wasm_instance *in, const char *name, int64_t arg, uint32_t *res)
{
	uint64_t a[1] = { (uint64_t)arg }, r[2] = { 0, 0 };
	int e = wasm_program_export(in->p, name, strlen(name), WASM_EXT_FUNC);
	assert_true(e >= 0);
	int trap = wasm_instance_call(in, (uint32_t)e, a, r);
	if (res)
		*res = (uint32_t)r[0];
	return trap;
}

static struct wasm_program *
load_bounds(const uint8_t *b, size_t n, int opt, int bounds)
{
	struct wasm_load_opts o;
	struct wasm_program *p = NULL;
	load_opts(&o, opt);
	o.compile.bounds = bounds;
	assert_int_equal(wasm_program_load(b, n, &o, &p), 0);
	assert_int_equal(p->bounds, bounds);
	return p;
}

/* Both ways of checking bounds, at -O0 and -O2: the same traps, the same
 * fuel at a trap, nothing written by a store that traps, the lease's cap
 * on memory.grow, and the process fine after each trap. */
static void
test_wasm_bounds_guard_and_explicit_agree(void **state)
{
	static const int modes[] = { WASM_BOUNDS_GUARD, WASM_BOUNDS_EXPLICIT };
	uint8_t *b;
	size_t n;
	int64_t fuel_at_trap = -1;
	(void)state;
	wat(bounds_wat, &b, &n);
	for (int opt = 0; opt <= 2; opt += 2)
		for (size_t k = 0; k < 2; k++) {
			struct wasm_program *p =
			    load_bounds(b, n, opt, modes[k]);
			/* a cap of 4 pages */
			struct wasm_instance *in = instance(p, 4 * 65536);
			uint32_t r;
			assert_int_equal(call1(in, "grow", 2, &r), 0);
			assert_int_equal(r, 1);
			assert_int_equal(call1(in, "grow", 2, &r), 0);
			assert_int_equal(r, (uint32_t)-1);
			assert_int_equal(call1(in, "grow", 1, &r), 0);
			assert_int_equal(r, 3);
			assert_int_equal(call1(in, "size", -1, &r), 0);
			assert_int_equal(r, 4);
			assert_int_equal(call1(in, "peek", 4 * 65536 - 4, &r),
			    0);
			assert_int_equal(call1(in, "peek", 4 * 65536, &r),
			    WASM_TRAP_OOB);
			/* straddling the end: traps, writes nothing */
			assert_int_equal(
			    call1(in, "poke64", 4 * 65536 - 4, NULL),
			    WASM_TRAP_OOB);
			assert_int_equal(call1(in, "peek", 4 * 65536 - 4, &r),
			    0);
			assert_int_equal(r, 0);
			wasm_instance_free(in);

			in = instance(p, 0);
			assert_int_equal(call1(in, "work_then_oob", -1, NULL),
			    WASM_TRAP_OOB);
			int64_t left = wasm_instance_fuel_left(in);
			if (fuel_at_trap < 0)
				fuel_at_trap = left;
			assert_int_equal(left, fuel_at_trap);
			assert_int_equal(call1(in, "peek", 8, &r), 0);
			assert_int_equal(r, 5);
			wasm_instance_free(in);
			wasm_program_free(p);
		}
	free(b);
}

/* LODGE_WASM_BOUNDS picks the mode; a bad value is refused by name. */
static void
test_wasm_bounds_from_the_environment(void **state)
{
	uint8_t *b;
	size_t n;
	struct wasm_load_opts o;
	struct wasm_program *p = NULL;
	(void)state;
	wat("(module (func (export \"f\")))", &b, &n);
	setenv("LODGE_WASM_BOUNDS", "explicit", 1);
	load_opts(&o, 0);
	assert_int_equal(wasm_program_load(b, n, &o, &p), 0);
	assert_int_equal(p->bounds, WASM_BOUNDS_EXPLICIT);
	wasm_program_free(p);
	p = NULL;
	setenv("LODGE_WASM_BOUNDS", "fast", 1);
	load_opts(&o, 0);
	assert_int_equal(wasm_program_load(b, n, &o, &p), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "LODGE_WASM_BOUNDS"));
	assert_null(p);
	unsetenv("LODGE_WASM_BOUNDS");
	free(b);
}

/* Under an RLIMIT_AS too low for the reservation, guard pages are not
 * chosen and the module runs with explicit checks (from the cache). */
static void
test_wasm_bounds_fall_back_under_rlimit_as(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
	(void)state;
	skip(); /* ASan's shadow memory does not live under RLIMIT_AS */
#else
	uint8_t *b;
	size_t n;
	(void)state;
	wat(bounds_wat, &b, &n);
	wasm_program_free(load_bounds(b, n, 0, WASM_BOUNDS_EXPLICIT));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 2ull << 30, 2ull << 30 };
		struct wasm_load_opts o;
		struct wasm_program *p = NULL;
		uint32_t r = 0;
		if (setrlimit(RLIMIT_AS, &rl) < 0 || wasm_guard_usable())
			_exit(1);
		load_opts(&o, 0);
		if (wasm_program_load(b, n, &o, &p) < 0 || !p->cached ||
		    p->bounds != WASM_BOUNDS_EXPLICIT)
			_exit(2);
		struct wasm_instance *in = instance(p, 0);
		if (call1(in, "peek", 65536, &r) != WASM_TRAP_OOB)
			_exit(3);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	free(b);
#endif
}

/* ---- call depth ---- */

static const char depth_wat[] =
    "(module\n"
    " (type $t (func (param i32) (result i32)))\n"
    " (import \"wasi_snapshot_preview1\" \"sched_yield\" (func $y (result "
    "i32)))\n"
    " (type $v (func (result i32)))\n"
    " (table 3 funcref)\n"
    " (elem (i32.const 0) $ind $leaf2 $y)\n"
    " (func $rec (param i32) (result i32)\n"
    "  (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))\n"
    "   (else (i32.add (i32.const 1)\n"
    "    (call $rec (i32.sub (local.get 0) (i32.const 1)))))))\n"
    " (func $a (param i32) (result i32) (call $b (local.get 0)))\n"
    " (func $b (param i32) (result i32)\n"
    "  (if (result i32) (local.get 0)\n"
    "   (then (call $a (i32.sub (local.get 0) (i32.const 1))))\n"
    "   (else (i32.const 0))))\n"
    " (func $leaf (param i32) (result i32) (i32.add (local.get 0) "
    "(i32.const 1)))\n"
    " (func $chain (param i32) (result i32) (call $leaf (local.get 0)))\n"
    " (func $ind (param i32) (result i32)\n"
    "  (if (result i32) (local.get 0)\n"
    "   (then (call_indirect (type $t) (i32.sub (local.get 0) (i32.const "
    "1))\n"
    "    (i32.const 0)))\n"
    "   (else (i32.const 0))))\n"
    " (func $leaf2 (param i32) (result i32) (local.get 0))\n"
    " (func $mv (param i32) (result i32 i32)\n"
    "  (if (i32.eq (local.get 0) (i32.const 5))\n"
    "   (then (return (i32.const 1) (i32.const 2))))\n"
    "  (if (result i32 i32) (local.get 0)\n"
    "   (then (call $mv (i32.sub (local.get 0) (i32.const 1))) (drop)\n"
    "    (local.get 0))\n"
    "   (else (i32.const 7) (i32.const 8))))\n"
    " (func (export \"rec\") (param i32) (result i32) (call $rec (local.get "
    "0)))\n"
    " (func (export \"mutual\") (param i32) (result i32) (call $a (local.get "
    "0)))\n"
    " (func (export \"ind\") (param i32) (result i32) (call $ind (local.get "
    "0)))\n"
    " (func (export \"chain\") (param i32) (result i32) (call $chain "
    "(local.get 0)))\n"
    " (func (export \"mv\") (param i32) (result i32 i32) (call $mv "
    "(local.get 0)))\n"
    " (func (export \"yield\") (result i32) (call_indirect (type $v) "
    "(i32.const 2)))\n"
    ")\n";

/* Which functions can recurse: direct and mutual recursion, and through a
 * table; not a chain of calls, nor what a table holds that calls
 * nothing. */
static void
test_wasm_depth_counts_only_what_can_recurse(void **state)
{
	uint8_t *b, *rec = NULL;
	size_t n;
	struct wasm_module *m = NULL;
	/* defined functions: rec a b leaf chain ind leaf2 mv, 6 exports */
	static const uint8_t want[] = { 1, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0,
		0 };
	(void)state;
	wat(depth_wat, &b, &n);
	assert_int_equal(wasm_module_decode(b, n, NULL, &m), 0);
	assert_int_equal(m->ncodes, sizeof(want));
	assert_int_equal(wasm_recursive_funcs(m, &rec), 0);
	assert_memory_equal(rec, want, sizeof(want));
	free(rec);
	wasm_module_free(m);
	free(b);
}

/* 4000 frames of functions that recurse, and not one more, whatever the
 * recursion goes through; the trap comes with the same fuel at -O0 and
 * -O2; multiple results and imports held in a table still work. */
static void
test_wasm_depth_is_exact_and_deterministic(void **state)
{
	static const char *const names[] = { "rec", "mutual", "ind" };
	/* the deepest argument that fits 4000 counted frames */
	static const int fits[] = { 3999, 1999, 3999 };
	uint8_t *b;
	size_t n;
	int64_t left[3][2];
	(void)state;
	wat(depth_wat, &b, &n);
	for (int opt = 0; opt <= 2; opt += 2) {
		struct wasm_program *p = load_bounds(b, n, opt,
		    opt ? WASM_BOUNDS_GUARD : WASM_BOUNDS_EXPLICIT);
		struct wasm_instance *in = instance(p, 0);
		uint32_t r;
		for (int k = 0; k < 3; k++) {
			assert_int_equal(call1(in, names[k], fits[k], &r), 0);
			assert_int_equal(r, k == 0 ? (uint32_t)fits[k] : 0);
			assert_int_equal(call1(in, names[k], fits[k] + 1, &r),
			    WASM_TRAP_EXHAUSTION);
			left[k][opt / 2] = wasm_instance_fuel_left(in);
		}
		/* not counted: any chain of calls that cannot recurse */
		assert_int_equal(call1(in, "chain", 41, &r), 0);
		assert_int_equal(r, 42);
		uint64_t a[1] = { 3 }, res[2];
		int e = wasm_program_export(p, "mv", 2, WASM_EXT_FUNC);
		assert_int_equal(wasm_instance_call(in, (uint32_t)e, a, res),
		    0);
		assert_int_equal(res[0], 7);
		assert_int_equal(res[1], 3);
		a[0] = 7;
		assert_int_equal(wasm_instance_call(in, (uint32_t)e, a, res),
		    0);
		assert_int_equal(res[0], 1);
		assert_int_equal(res[1], 7);
		assert_int_equal(call1(in, "yield", -1, &r), 0);
		assert_int_equal(r, 0);
		wasm_instance_free(in);
		wasm_program_free(p);
	}
	for (int k = 0; k < 3; k++)
		assert_int_equal(left[k][0], left[k][1]);
	free(b);
}

static const char wagi_wat[] =
    "(module\n"
    " (import \"wasi_snapshot_preview1\" \"fd_write\" (func $w (param i32 i32 "
    "i32 i32) (result i32)))\n"
    " (import \"wasi_snapshot_preview1\" \"environ_sizes_get\" (func $es "
    "(param i32 i32) (result i32)))\n"
    " (import \"wasi_snapshot_preview1\" \"fd_prestat_get\" (func $ps (param "
    "i32 i32) (result i32)))\n"
    " (memory (export \"memory\") 1)\n"
    " (data (i32.const 100) \"Status: 201 Created\\r\\nContent-Type: "
    "text/plain\\r\\n\\r\\nhi\\n\")\n"
    " (func (export \"_start\")\n"
    "  (drop (call $es (i32.const 0) (i32.const 4)))\n"
    "  (i32.store (i32.const 8) (i32.const 100))\n"
    "  (i32.store (i32.const 12) (i32.const 52))\n"
    "  (drop (call $w (i32.const 1) (i32.const 8) (i32.const 1) (i32.const "
    "16)))\n"
    "  (if (i32.ne (call $ps (i32.const 3) (i32.const 20)) (i32.const 8)) "
    "(then unreachable))))\n";

static void
test_wasm_wagi_invoke_maps_status_headers_body(void **state)
{
	uint8_t *b;
	size_t n;
	struct wasm_load_opts o;
	struct wasm_program *p = NULL;
	struct wasm_wagi_response r;
	struct wasm_usage u;
	struct wasm_wagi_header h[] = { { "User-Agent", "t" } };
	struct wasm_wagi_request q = { .method = "GET",
		.path = "/x",
		.headers = h,
		.nheaders = 1 };
	struct wasm_run_limits l = { .fuel = 1000000 };
	(void)state;
	wat(wagi_wat, &b, &n);
	load_opts(&o, 0);
	assert_int_equal(wasm_program_load(b, n, &o, &p), 0);
	assert_int_equal(wasm_wagi_invoke(p, &q, &l, &r, &u), 0);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.nheaders, 1);
	assert_string_equal(r.headers[0].name, "Content-Type");
	assert_int_equal(r.body_len, 3);
	assert_memory_equal(r.body, "hi\n", 3);
	assert_true(u.fuel > 0);
	wasm_wagi_response_free(&r);
	/* out of fuel gives 503 */
	l.fuel = 3;
	assert_int_equal(wasm_wagi_invoke(p, &q, &l, &r, &u), 0);
	assert_int_equal(r.status, 503);
	wasm_wagi_response_free(&r);
	wasm_program_free(p);
	free(b);
}

static void
test_wasm_wagi_parse_rejects_missing_blank_line(void **state)
{
	struct wasm_wagi_response r;
	const char *ok = "Location: /there\n\n";
	(void)state;
	assert_int_equal(wasm_wagi_parse((const uint8_t *)ok, strlen(ok), &r),
	    0);
	assert_int_equal(r.status, 302);
	wasm_wagi_response_free(&r);
	const char *bad = "Content-Type: text/plain\nbody";
	assert_int_equal(wasm_wagi_parse((const uint8_t *)bad, strlen(bad), &r),
	    ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wasm_decode_rejects_bad_header_and_simd),
		cmocka_unit_test(test_wasm_decode_validates_types_and_limits),
		cmocka_unit_test(
		    test_wasm_instrument_output_validates_and_exports_fuel),
		cmocka_unit_test(
		    test_wasm_fuel_is_deterministic_across_opt_and_memory),
		cmocka_unit_test(test_wasm_traps_are_classified),
		cmocka_unit_test(test_wasm_bounds_guard_and_explicit_agree),
		cmocka_unit_test(test_wasm_bounds_from_the_environment),
		cmocka_unit_test(test_wasm_bounds_fall_back_under_rlimit_as),
		cmocka_unit_test(test_wasm_depth_counts_only_what_can_recurse),
		cmocka_unit_test(test_wasm_depth_is_exact_and_deterministic),
		cmocka_unit_test(test_wasm_unknown_import_is_refused),
		cmocka_unit_test(
		    test_wasm_command_runs_files_and_reports_on_the_callers_thread),
		cmocka_unit_test(
		    test_wasm_wagi_invoke_maps_status_headers_body),
		cmocka_unit_test(
		    test_wasm_wagi_parse_rejects_missing_blank_line),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
