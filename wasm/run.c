/*
 * wasm_run: loading, linking and running compiled modules.  Every
 * invocation gets a fresh instance; the fuel global is set before
 * instantiation (start functions pay too) and read after.
 */
#include "wasm/run.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "sandbox/seccomp_policy.h"
#include "wasm/guard.h"

#define SPECTEST_BIND -1

void
wasm_load_opts_init(struct wasm_load_opts *o)
{
	const char *b = getenv("LODGE_WASM_BOUNDS");
	memset(o, 0, sizeof(*o));
	wasm_compile_opts_init(&o->compile);
	/* A bad value is refused by wasm_program_load, naming it. */
	if (b && *b &&
	    wasm_bounds_parse(b, "LODGE_WASM_BOUNDS", &o->compile.bounds) < 0) {
		o->compile.bounds = -1;
		err_clear();
	}
	wasm_decode_limits_default(&o->limits);
	o->link = WASM_LINK_WASI;
}

static int
name_is(const struct wasm_name *n, const char *s)
{
	return strlen(s) == n->len && memcmp(n->s, s, n->len) == 0;
}

static int
link_spectest(const struct wasm_module *m, const struct wasm_import *im,
    struct wasm_abi_import *v, int *bind)
{
	static const char *const prints[] = { "print", "print_i32", "print_i64",
		"print_f32", "print_f64", "print_i32_f32", "print_f64_f64" };
	switch (im->kind) {
	case WASM_EXT_FUNC:
		for (size_t i = 0; i < sizeof(prints) / sizeof(prints[0]); i++)
			if (name_is(&im->name, prints[i]) &&
			    m->types[im->type].nresults == 0) {
				*bind = SPECTEST_BIND;
				return 0;
			}
		return -1;
	case WASM_EXT_GLOBAL: {
		float f = 666.6f;
		double d = 666.6;
		uint32_t fb;
		if (im->mut)
			return -1;
		if (name_is(&im->name, "global_i32") && im->valtype == WASM_I32)
			v->value = 666;
		else if (name_is(&im->name, "global_i64") &&
		    im->valtype == WASM_I64)
			v->value = 666;
		else if (name_is(&im->name, "global_f32") &&
		    im->valtype == WASM_F32) {
			memcpy(&fb, &f, 4);
			v->value = fb;
		} else if (name_is(&im->name, "global_f64") &&
		    im->valtype == WASM_F64)
			memcpy(&v->value, &d, 8);
		else
			return -1;
		return 0;
	}
	case WASM_EXT_TABLE:
		if (!name_is(&im->name, "table") ||
		    im->valtype != WASM_FUNCREF || im->lim.min > 10 ||
		    (im->lim.has_max && im->lim.max < 20))
			return -1;
		v->min = 10;
		v->max = 20;
		return 0;
	case WASM_EXT_MEMORY:
		if (!name_is(&im->name, "memory") || im->lim.min > 1 ||
		    (im->lim.has_max && im->lim.max < 2))
			return -1;
		v->min = 1;
		v->max = 2;
		return 0;
	}
	return -1;
}

void
wasm_program_free(struct wasm_program *p)
{
	if (!p)
		return;
	if (p->dl)
		dlclose(p->dl);
	wasm_module_free(p->mod);
	free(p->so_path);
	free(p->imports);
	free(p->bind);
	free(p);
}

int
wasm_program_export(const struct wasm_program *p, const char *name, size_t len,
    uint8_t kind)
{
	for (uint32_t i = 0; i < p->mod->nexports; i++) {
		const struct wasm_export *e = &p->mod->exports[i];
		if (e->kind == kind && e->name.len == len &&
		    memcmp(e->name.s, name, len) == 0)
			return (int)i;
	}
	return -1;
}

int
wasm_program_load(const uint8_t *bytes, size_t len,
    const struct wasm_load_opts *o, struct wasm_program **out)
{
	struct wasm_program *p = calloc(1, sizeof(*p));
	int rc;
	*out = NULL;
	if (!p)
		return err_set(ERR_NOMEM, "out of memory");
	if (o->compile.bounds < WASM_BOUNDS_AUTO ||
	    o->compile.bounds > WASM_BOUNDS_GUARD) {
		const char *b = getenv("LODGE_WASM_BOUNDS");
		free(p);
		return err_set(ERR_INVAL,
		    "LODGE_WASM_BOUNDS: \"%s\": expected auto, guard or "
		    "explicit",
		    b ? b : "");
	}
	if ((rc = wasm_module_decode(bytes, len, &o->limits, &p->mod)))
		goto fail;
	struct wasm_module *m = p->mod;
	p->imports = calloc(m->nimports + 1, sizeof(*p->imports));
	p->bind = calloc(m->nimports + 1, sizeof(*p->bind));
	if (!p->imports || !p->bind) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < m->nimports; i++) {
		const struct wasm_import *im = &m->imports[i];
		int ok = -1;
		if ((o->link & WASM_LINK_WASI) && im->kind == WASM_EXT_FUNC &&
		    name_is(&im->module, "wasi_snapshot_preview1")) {
			const struct wasm_functype *ft = &m->types[im->type];
			p->bind[i] = wasi_lookup(im->name.s, im->name.len,
			    ft->params, ft->nparams, ft->results, ft->nresults);
			ok = p->bind[i] ? 0 : -1;
		} else if ((o->link & WASM_LINK_SPECTEST) &&
		    name_is(&im->module, "spectest")) {
			ok = link_spectest(m, im, &p->imports[i], &p->bind[i]);
		}
		if (ok < 0) {
			rc = err_set(ERR_REJECT,
			    "import %u \"%.*s\" \"%.*s\": "
			    "unknown import (only wasi_snapshot_preview1 "
			    "functions can be imported)",
			    i, (int)im->module.len, im->module.s,
			    (int)im->name.len, im->name.s);
			goto fail;
		}
	}
	p->start_export = wasm_program_export(p, "_start", 6, WASM_EXT_FUNC);
	struct wasm_compile_opts co = o->compile;
	co.bounds = p->bounds = wasm_bounds_resolve(co.bounds);
	if ((rc = wasm_compile(m, &co, &p->so_path, &p->cached)))
		goto fail;
	p->dl = dlopen(p->so_path, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl) {
		rc = err_set(ERR_IO, "dlopen %s: %s", p->so_path, dlerror());
		goto fail;
	}
	p->abi = dlsym(p->dl, WASM_ABI_SYMBOL);
	if (!p->abi || p->abi->abi_version != WASM_ABI_VERSION ||
	    p->abi->guard_pages != (p->bounds == WASM_BOUNDS_GUARD)) {
		rc = err_set(ERR_CORRUPT,
		    "%s: not a Lodge wasm module of ABI "
		    "%d",
		    p->so_path, WASM_ABI_VERSION);
		goto fail;
	}
	p->abi->init();
	*out = p;
	return 0;
fail:
	wasm_program_free(p);
	return rc;
}

static int
host_call(void *ctx, uint32_t idx, const uint64_t *a, uint64_t *r,
    struct wasm_abi_mem *mem)
{
	struct wasm_instance *in = ctx;
	int b = in->p->bind[idx];
	if (b > 0)
		return wasi_call(&in->wasi, b, a, r, mem);
	if (b == SPECTEST_BIND)
		return 0;
	return WASM_TRAP_HOST;
}

static const struct wasm_io no_io = { .stdin_fd = -1,
	.stdout_fd = -1,
	.stderr_fd = -1 };

int
wasm_instance_new(const struct wasm_program *p, const struct wasm_io *io,
    const struct wasm_run_limits *l, struct wasm_instance **out, int *trap)
{
	struct wasm_instance *in = calloc(1, sizeof(*in));
	int rc;
	*out = NULL;
	*trap = 0;
	if (!in || !(in->inst = malloc(p->abi->instance_size))) {
		free(in);
		return err_set(ERR_NOMEM, "out of memory");
	}
	in->p = p;
	/* guard pages fault only in a memory */
	if ((p->bounds == WASM_BOUNDS_GUARD && p->mod->nmems &&
	        (rc = wasm_guard_install())) ||
	    (rc = wasi_ctx_init(&in->wasi, io ? io : &no_io))) {
		free(in->inst);
		free(in);
		return rc;
	}
	uint64_t pages = l && l->memory_bytes ? l->memory_bytes / 65536 : 65535;
	in->host.call = host_call;
	in->host.ctx = in;
	in->host.imports = p->imports;
	in->host.mem_limit_pages = (uint32_t)(pages > 65535 ? 65535 : pages);
	in->host.table_limit = 10000000;
	in->budget = l && l->fuel >= 0 ? l->fuel : INT64_MAX;
	in->host.fuel = in->budget;
	struct wasm_guard_frame saved;
	wasm_guard_enter(p->abi, in->inst, &saved);
	*trap = p->abi->instantiate(in->inst, &in->host);
	wasm_guard_leave(&saved);
	in->live = 1;
	*out = in;
	return 0;
}

int
wasm_instance_call(struct wasm_instance *in, uint32_t idx, const uint64_t *args,
    uint64_t *results)
{
	struct wasm_guard_frame saved;
	wasm_guard_enter(in->p->abi, in->inst, &saved);
	int trap = in->p->abi->call(in->inst, idx, args, results);
	wasm_guard_leave(&saved);
	return trap;
}

int64_t
wasm_instance_fuel_left(const struct wasm_instance *in)
{
	return *in->p->abi->fuel(in->inst);
}

uint64_t
wasm_instance_fuel_used(const struct wasm_instance *in)
{
	int64_t left = wasm_instance_fuel_left(in);
	return (uint64_t)(in->budget - left);
}

uint64_t
wasm_instance_mem_bytes(const struct wasm_instance *in)
{
	struct wasm_abi_mem *m = in->p->abi->memory(in->inst);
	return m ? m->size : 0;
}

void
wasm_instance_free(struct wasm_instance *in)
{
	if (!in)
		return;
	if (in->live)
		in->p->abi->release(in->inst);
	wasi_ctx_close(&in->wasi);
	free(in->inst);
	free(in);
}

const char *
wasm_trap_message(int trap, int64_t fuel_left)
{
	if (trap == WASM_TRAP_UNREACHABLE && fuel_left < 0)
		return "out of fuel";
	switch (trap) {
	case WASM_TRAP_NONE:
		return "none";
	case WASM_TRAP_OOB:
		return "out of bounds memory access";
	case WASM_TRAP_INT_OVERFLOW:
		return "integer overflow";
	case WASM_TRAP_DIV_BY_ZERO:
		return "integer divide by zero";
	case WASM_TRAP_INVALID_CONVERSION:
		return "invalid conversion to integer";
	case WASM_TRAP_UNREACHABLE:
		return "unreachable";
	case WASM_TRAP_CALL_INDIRECT:
		return "indirect call mismatch";
	case WASM_TRAP_EXCEPTION:
		return "uncaught exception";
	case WASM_TRAP_EXHAUSTION:
		return "call stack exhausted";
	case WASM_TRAP_EXIT:
		return "exit";
	case WASM_TRAP_HOST:
		return "host function failed";
	case WASM_TRAP_MEMLIMIT:
		return "memory limit exceeded";
	default:
		return "unknown trap";
	}
}

static uint64_t
ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)((t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000);
}

static uint64_t
cpu_ms_self(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

int
wasm_program_run(const struct wasm_program *p, const struct wasm_io *io,
    const struct wasm_run_limits *l, struct wasm_outcome *oc,
    struct wasm_usage *u)
{
	struct wasm_instance *in = NULL;
	struct timespec t0;
	uint64_t c0 = cpu_ms_self();
	int trap = 0, rc;
	int64_t left;

	memset(oc, 0, sizeof(*oc));
	if (p->start_export < 0)
		return err_set(ERR_NOTFOUND, "module has no _start export");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((rc = wasm_instance_new(p, io, l, &in, &trap)))
		return rc;
	uint64_t used = 0, mem = 0, bin = 0, bout = 0;
	int exited = 0, code = 0;
	if (!trap)
		trap = wasm_instance_call(in, (uint32_t)p->start_export, NULL,
		    NULL);
	left = wasm_instance_fuel_left(in);
	used = wasm_instance_fuel_used(in);
	mem = wasm_instance_mem_bytes(in);
	exited = in->wasi.exited;
	code = in->wasi.exit_code;
	bin = in->wasi.bytes_in;
	bout = in->wasi.bytes_out;
	wasm_instance_free(in);
	if (trap == WASM_TRAP_EXIT && exited) {
		trap = 0;
	} else if (trap) {
		oc->trap = trap;
		oc->out_of_fuel = trap == WASM_TRAP_UNREACHABLE && left < 0;
		if (oc->out_of_fuel && l && l->fuel >= 0)
			used = (uint64_t)l->fuel;
		snprintf(oc->message, sizeof(oc->message), "trap: %s",
		    wasm_trap_message(trap, left));
		code = WASM_TRAP_EXIT_CODE;
	}
	oc->exit_code = code;
	if (u) {
		memset(u, 0, sizeof(*u));
		u->fuel = used;
		u->wall_ms = ms_since(&t0);
		u->cpu_ms = cpu_ms_self() - c0;
		u->mem_peak_bytes = mem;
		u->bytes_in = bin;
		u->bytes_out = bout;
		u->requests = 1;
	}
	return 0;
}

/* ---- the confined worker ---- */

struct report {
	struct wasm_outcome oc;
	struct wasm_usage u;
	int rc;
	char err[200];
};

static void
confine(const struct wasm_program *p, const struct wasm_run_limits *l)
{
	struct rlimit rl;
	uint64_t mem = l && l->memory_bytes ? l->memory_bytes : (4ull << 30);
	rl.rlim_cur = rl.rlim_max = mem + (512ull << 20);
	/* A guard-page memory reserves its whole range up front, though
	 * only the part under the cap can ever be made accessible. */
	if (p->bounds == WASM_BOUNDS_GUARD)
		rl.rlim_cur = rl.rlim_max += WASM_ABI_GUARD_RESERVE;
	setrlimit(RLIMIT_AS, &rl);
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_NPROC, &rl);
	if (l && l->wall_ms) {
		rl.rlim_cur = rl.rlim_max = l->wall_ms / 1000 + 2;
		setrlimit(RLIMIT_CPU, &rl);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Namespaces where we may create them (root): no network, no
	 * SysV IPC, own hostname.  Best effort: WASI gives the module no
	 * system call of its own, this is defence in depth. */
	if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		(void)unshare(
		    CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	const struct sock_fprog *prog;
	if (seccomp_policy_get(&prog) == 0)
		prctl(PR_SET_SECCOMP, 2 /* SECCOMP_MODE_FILTER */, prog);
}

int
wasm_run_isolated(const struct wasm_program *p, const struct wasm_io *io,
    const struct wasm_run_limits *l, struct wasm_outcome *oc,
    struct wasm_usage *u)
{
	int fds[2];
	struct timespec t0;
	memset(oc, 0, sizeof(*oc));
	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_set(ERR_IO, "pipe: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return err_set(ERR_IO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		struct report r;
		memset(&r, 0, sizeof(r));
		close(fds[0]);
		confine(p, l);
		r.rc = wasm_program_run(p, io, l, &r.oc, &r.u);
		if (r.rc)
			snprintf(r.err, sizeof(r.err), "%s", err_msg());
		ssize_t w = write(fds[1], &r, sizeof(r));
		(void)w;
		_exit(0);
	}
	close(fds[1]);
	struct report r;
	size_t got = 0;
	int timed_out = 0;
	memset(&r, 0, sizeof(r));
	for (;;) {
		int timeout = -1;
		if (l && l->wall_ms) {
			uint64_t el = ms_since(&t0);
			timeout = el >= l->wall_ms ? 0 : (int)(l->wall_ms - el);
		}
		struct pollfd pf = { fds[0], POLLIN, 0 };
		int n = poll(&pf, 1, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		ssize_t k = read(fds[0], (char *)&r + got, sizeof(r) - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got == sizeof(r))
			break;
	}
	close(fds[0]);
	int st = 0;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
		;
	uint64_t cpu =
	    (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	if (got == sizeof(r) && r.rc)
		return err_set(r.rc, "%s", r.err);
	if (got != sizeof(r)) {
		memset(&r, 0, sizeof(r));
		r.oc.timed_out = timed_out;
		r.oc.trap = WASM_TRAP_HOST;
		r.oc.exit_code = WASM_TRAP_EXIT_CODE;
		snprintf(r.oc.message, sizeof(r.oc.message), "trap: %s",
		    timed_out ? "deadline exceeded" :
		        WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU ?
		                "cpu time limit exceeded" :
		        WIFSIGNALED(st) ? "worker killed by a signal" :
		                          "worker failed");
	}
	*oc = r.oc;
	if (u) {
		*u = r.u;
		u->cpu_ms = cpu;
		u->wall_ms = ms_since(&t0);
		if ((uint64_t)ru.ru_maxrss * 1024 > u->mem_peak_bytes &&
		    u->mem_peak_bytes == 0)
			u->mem_peak_bytes = (uint64_t)ru.ru_maxrss * 1024;
	}
	return 0;
}

/* ---- for commands: files, a deep stack ---- */

void
wasm_load_opts_cap_memory(struct wasm_load_opts *o, uint64_t bytes)
{
	if (bytes > 0 && bytes / 65536 < o->limits.max_memory_pages)
		o->limits.max_memory_pages = (uint32_t)(bytes / 65536);
}

int
wasm_program_load_file(const char *path, const struct wasm_load_opts *o,
    struct wasm_program **out)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((rc = util_read_file(path, WASM_MODULE_FILE_MAX, &buf, &len)) < 0)
		return rc;
	if ((rc = wasm_program_load((const uint8_t *)buf, len, o, out)) < 0)
		err_prefix(rc, "%s", path);
	free(buf);
	return rc;
}

int
wasm_validate_file(const char *path)
{
	struct wasm_module *m = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = util_read_file(path, WASM_MODULE_FILE_MAX, &buf, &len)) == 0)
		rc = wasm_module_decode((const uint8_t *)buf, len, NULL, &m);
	wasm_module_free(m);
	free(buf);
	return rc;
}

struct command_run {
	const struct wasm_program *p;
	const struct wasm_io *io;
	const struct wasm_run_limits *l;
	int isolated;
	struct wasm_outcome *oc;
	struct wasm_usage *u;
	int rc;
	struct err_saved err; /* the thread's error state, for the caller's */
};

static void *
command_thread(void *arg)
{
	struct command_run *c = arg;

	if (c->isolated)
		c->rc = wasm_run_isolated(c->p, c->io, c->l, c->oc, c->u);
	else
		c->rc = wasm_program_run(c->p, c->io, c->l, c->oc, c->u);
	err_save(&c->err);
	return NULL;
}

int
wasm_run_command(const struct wasm_program *p, const struct wasm_io *io,
    const struct wasm_run_limits *l, int isolated, struct wasm_outcome *oc,
    struct wasm_usage *u)
{
	struct command_run c = { .p = p,
		.io = io,
		.l = l,
		.isolated = isolated,
		.oc = oc,
		.u = u };
	pthread_attr_t a;
	pthread_t t;
	int started;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, WASM_COMMAND_STACK);
	started = pthread_create(&t, &a, command_thread, &c) == 0;
	pthread_attr_destroy(&a);
	if (!started) {
		/* No thread: run here, on whatever stack this one has. */
		command_thread(&c);
		return c.rc;
	}
	pthread_join(t, NULL);
	/* Messages are per thread: bring the runner's to the caller. */
	err_restore(&c.err);
	return c.rc;
}
