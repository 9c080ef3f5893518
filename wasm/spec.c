/*
 * wasm_spec: runs the WebAssembly core test suite, as converted by
 * wast2json, through the whole pipeline (validate, instrument with fuel,
 * wasm2c + cc, instantiate, invoke).  Modules are compiled first, in
 * parallel; each .json then runs in its own child process so that one
 * crash cannot hide the rest.  Features we do not support are skipped and
 * counted by name.
 */
#include "wasm/spec.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "wasm/guard.h"
#include "wasm/run.h"

enum { SK_SIMD, SK_TEXT, SK_LINKING, SK_OTHER, SK_N };
static const char *const skip_names[SK_N] = { "simd", "text-format",
	"cross-module linking", "other" };

struct tally {
	uint64_t passed, failed, skipped[SK_N];
};

struct spec_opts {
	struct wasm_load_opts lo;
	int jobs;
	int verbose;
};

/* ---- helpers ---- */

static char *
path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static char *
dir_of(const char *path)
{
	char *d = strdup(path);
	if (!d)
		return NULL;
	char *s = strrchr(d, '/');
	if (s)
		*s = 0;
	else
		strcpy(d, ".");
	return d;
}

static int
read_bin(const char *path, uint8_t **buf, size_t *len)
{
	char *b = NULL;
	int rc = util_read_file(path, 64u << 20, &b, len);
	*buf = (uint8_t *)b;
	return rc;
}

static int
is_simd_err(void)
{
	const char *m = err_msg();
	return strstr(m, "SIMD") || strstr(m, "v128");
}

/* ---- phase 1: compile every module in parallel ---- */

struct cjob {
	char **paths;
	size_t n, next;
	pthread_mutex_t lock;
	const struct spec_opts *o;
};

static void *
compile_worker(void *arg)
{
	struct cjob *j = arg;
	for (;;) {
		pthread_mutex_lock(&j->lock);
		size_t i = j->next++;
		pthread_mutex_unlock(&j->lock);
		if (i >= j->n)
			return NULL;
		uint8_t *buf;
		size_t len;
		struct wasm_module *m = NULL;
		char *so = NULL;
		if (read_bin(j->paths[i], &buf, &len))
			continue;
		if (wasm_module_decode(buf, len, &j->o->lo.limits, &m) == 0) {
			if (wasm_compile(m, &j->o->lo.compile, &so, NULL) < 0)
				fprintf(stderr, "wasm spec: %s: %s\n",
				    j->paths[i], err_msg());
		}
		free(so);
		wasm_module_free(m);
		free(buf);
	}
}

static int
precompile(char **files, int nfiles, const struct spec_opts *o)
{
	struct cjob j = { .o = o };
	size_t cap = 0;
	pthread_mutex_init(&j.lock, NULL);
	for (int f = 0; f < nfiles; f++) {
		json_error_t je;
		json_t *root = json_load_file(files[f], JSON_ALLOW_NUL, &je);
		if (!root)
			continue;
		char *dir = dir_of(files[f]);
		json_t *cmds = json_object_get(root, "commands"), *c;
		size_t i;
		json_array_foreach(cmds, i, c)
		{
			const char *t =
			    json_string_value(json_object_get(c, "type"));
			const char *fn =
			    json_string_value(json_object_get(c, "filename"));
			if (!t || !fn ||
			    (strcmp(t, "module") != 0 &&
			        strcmp(t, "assert_uninstantiable") != 0))
				continue;
			if (j.n == cap) {
				cap = cap ? cap * 2 : 256;
				char **np = realloc(j.paths, cap * sizeof(*np));
				if (!np)
					break;
				j.paths = np;
			}
			j.paths[j.n++] = path_join(dir, fn);
		}
		free(dir);
		json_decref(root);
	}
	int nt = o->jobs > 0 ? o->jobs : 2;
	pthread_t th[64];
	if (nt > 64)
		nt = 64;
	for (int t = 0; t < nt; t++)
		pthread_create(&th[t], NULL, compile_worker, &j);
	for (int t = 0; t < nt; t++)
		pthread_join(th[t], NULL);
	for (size_t i = 0; i < j.n; i++)
		free(j.paths[i]);
	free(j.paths);
	pthread_mutex_destroy(&j.lock);
	return 0;
}

/* ---- phase 2: run one .json ---- */

struct loaded {
	char *name; /* "$M" or NULL */
	struct wasm_program *p;
	struct wasm_instance *in;
	int skip; /* SK_* + 1 when unavailable */
	int registered; /* others may import (and change) it */
};

struct fstate {
	const struct spec_opts *o;
	const char *file;
	char *dir;
	struct loaded *mods;
	size_t nmods, capmods;
	int cur; /* index of the current module, -1 */
	int link_broken; /* a module importing from another
	                              registered one could not be linked */
	struct tally t;
	int line;
};

static void fail_msg(struct fstate *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail_msg(struct fstate *s, const char *fmt, ...)
{
	va_list ap;
	s->t.failed++;
	if (s->t.failed > 30 && !s->o->verbose)
		return;
	fprintf(stdout, "FAIL %s:%d: ", s->file, s->line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static void
drop_module(struct loaded *l)
{
	wasm_instance_free(l->in);
	wasm_program_free(l->p);
	free(l->name);
	memset(l, 0, sizeof(*l));
}

static int
load_module(struct fstate *s, const char *fn, struct wasm_program **p,
    int *skip)
{
	uint8_t *buf;
	size_t len;
	char *path = path_join(s->dir, fn);
	int rc = read_bin(path, &buf, &len);
	free(path);
	*skip = 0;
	*p = NULL;
	if (rc)
		return rc;
	rc = wasm_program_load(buf, len, &s->o->lo, p);
	free(buf);
	if (rc == ERR_REJECT || rc == ERR_LIMIT) {
		if (is_simd_err())
			*skip = SK_SIMD + 1;
		else if (strstr(err_msg(), "unknown import"))
			*skip = SK_LINKING + 1;
		else
			*skip = SK_OTHER + 1;
	}
	return rc;
}

static struct loaded *
find_mod(struct fstate *s, json_t *action)
{
	const char *name = json_string_value(json_object_get(action, "module"));
	if (!name)
		return s->cur >= 0 ? &s->mods[s->cur] : NULL;
	for (size_t i = s->nmods; i-- > 0;)
		if (s->mods[i].name && strcmp(s->mods[i].name, name) == 0)
			return &s->mods[i];
	return NULL;
}

/* A JSON value {type, value} to a 64-bit slot.  Returns 1 for v128. */
static int
value_slot(json_t *v, uint64_t *out, uint8_t *type)
{
	const char *t = json_string_value(json_object_get(v, "type"));
	const char *val = json_string_value(json_object_get(v, "value"));
	*out = 0;
	if (!t)
		return -1;
	if (strcmp(t, "v128") == 0)
		return 1;
	if (strcmp(t, "i32") == 0)
		*type = WASM_I32;
	else if (strcmp(t, "i64") == 0)
		*type = WASM_I64;
	else if (strcmp(t, "f32") == 0)
		*type = WASM_F32;
	else if (strcmp(t, "f64") == 0)
		*type = WASM_F64;
	else if (strcmp(t, "externref") == 0)
		*type = WASM_EXTERNREF;
	else if (strcmp(t, "funcref") == 0)
		*type = WASM_FUNCREF;
	else
		return -1;
	if (!val || strcmp(val, "null") == 0)
		return 0;
	if (strncmp(val, "nan:", 4) == 0)
		return 0;
	*out = strtoull(val, NULL, 10);
	if (*type == WASM_EXTERNREF)
		*out += 1;
	return 0;
}

static int
value_matches(json_t *exp, uint64_t got)
{
	const char *t = json_string_value(json_object_get(exp, "type"));
	const char *val = json_string_value(json_object_get(exp, "value"));
	uint64_t want;
	uint8_t ty;
	if (value_slot(exp, &want, &ty) != 0)
		return 0;
	if (ty == WASM_F32) {
		uint32_t b = (uint32_t)got;
		if (val && strcmp(val, "nan:canonical") == 0)
			return (b & 0x7fffffffu) == 0x7fc00000u;
		if (val && strcmp(val, "nan:arithmetic") == 0)
			return (b & 0x7fc00000u) == 0x7fc00000u;
		return b == (uint32_t)want;
	}
	if (ty == WASM_F64) {
		if (val && strcmp(val, "nan:canonical") == 0)
			return (got & 0x7fffffffffffffffull) ==
			    0x7ff8000000000000ull;
		if (val && strcmp(val, "nan:arithmetic") == 0)
			return (got & 0x7ff8000000000000ull) ==
			    0x7ff8000000000000ull;
		return got == want;
	}
	if (ty == WASM_I32)
		return (uint32_t)got == (uint32_t)want;
	if (ty == WASM_FUNCREF)
		return val && strcmp(val, "null") == 0 ? got == 0 : got != 0;
	(void)t;
	return got == want;
}

/* Perform an action.  Returns -2 skip, -1 harness error (message in
 * err), else the trap code; results in res[]. */
static int
do_action(struct fstate *s, json_t *a, uint64_t *res, size_t *nres, int *skip,
    char *err, size_t errlen)
{
	struct loaded *l = find_mod(s, a);
	const char *type = json_string_value(json_object_get(a, "type"));
	json_t *jf = json_object_get(a, "field");
	const char *field = json_string_value(jf);
	size_t flen = json_string_length(jf);
	*skip = 0;
	if (!l || !field || !type) {
		snprintf(err, errlen, "no module for the action");
		return -1;
	}
	if (l->skip) {
		*skip = l->skip;
		return -2;
	}
	if (l->registered && s->link_broken) {
		/* its state may have been changed by the unlinked module */
		*skip = SK_LINKING + 1;
		return -2;
	}
	if (!l->in) {
		snprintf(err, errlen, "module not instantiated");
		return -1;
	}
	if (strcmp(type, "get") == 0) {
		int e = wasm_program_export(l->p, field, flen, WASM_EXT_GLOBAL);
		if (e < 0) {
			snprintf(err, errlen, "no global export %s", field);
			return -1;
		}
		*nres = 1;
		return l->p->abi->global_get(l->in->inst, (uint32_t)e, res);
	}
	int e = wasm_program_export(l->p, field, flen, WASM_EXT_FUNC);
	if (e < 0) {
		snprintf(err, errlen, "no function export %s", field);
		return -1;
	}
	json_t *args = json_object_get(a, "args"), *v;
	uint64_t av[64];
	size_t i;
	if (json_array_size(args) > 64) {
		snprintf(err, errlen, "too many args");
		return -1;
	}
	json_array_foreach(args, i, v)
	{
		uint8_t ty;
		int r = value_slot(v, &av[i], &ty);
		if (r == 1) {
			*skip = SK_SIMD + 1;
			return -2;
		}
	}
	const struct wasm_module *m = l->p->mod;
	*nres = m->types[m->func_types[m->exports[e].index]].nresults;
	return wasm_instance_call(l->in, (uint32_t)e, av, res);
}

static void
skip_count(struct fstate *s, int skip)
{
	s->t.skipped[skip - 1]++;
}

static void
cmd_module(struct fstate *s, json_t *c)
{
	const char *fn = json_string_value(json_object_get(c, "filename"));
	const char *name = json_string_value(json_object_get(c, "name"));
	struct loaded l = { 0 };
	int skip = 0, trap = 0;
	if (s->nmods == s->capmods) {
		size_t nc = s->capmods ? s->capmods * 2 : 16;
		struct loaded *nm = realloc(s->mods, nc * sizeof(*nm));
		if (!nm)
			return;
		s->mods = nm;
		s->capmods = nc;
	}
	if (name)
		l.name = strdup(name);
	if (!fn || load_module(s, fn, &l.p, &skip)) {
		if (skip) {
			l.skip = skip;
			skip_count(s, skip);
			if (skip == SK_LINKING + 1)
				s->link_broken = 1;
		} else {
			fail_msg(s, "module %s does not load: %s",
			    fn ? fn : "?", err_msg());
			l.skip = SK_OTHER + 1;
		}
	} else {
		struct wasm_run_limits lim = { .fuel = -1,
			.memory_bytes = 1ull << 30 };
		if (wasm_instance_new(l.p, NULL, &lim, &l.in, &trap) < 0) {
			fail_msg(s, "module %s: %s", fn, err_msg());
			l.skip = SK_OTHER + 1;
		} else if (trap) {
			fail_msg(s, "module %s: instantiation trapped: %s", fn,
			    wasm_trap_message(trap, 0));
			wasm_instance_free(l.in);
			l.in = NULL;
			l.skip = SK_OTHER + 1;
		} else {
			s->t.passed++;
		}
	}
	s->mods[s->nmods++] = l;
	s->cur = (int)s->nmods - 1;
}

static void
cmd_assert_module(struct fstate *s, json_t *c, const char *type)
{
	const char *fn = json_string_value(json_object_get(c, "filename"));
	const char *mt = json_string_value(json_object_get(c, "module_type"));
	if (mt && strcmp(mt, "text") == 0) {
		skip_count(s, SK_TEXT + 1);
		return;
	}
	if (!fn)
		return;
	int want_decode_fail = strcmp(type, "assert_invalid") == 0 ||
	    strcmp(type, "assert_malformed") == 0;
	if (want_decode_fail) {
		uint8_t *buf;
		size_t len;
		struct wasm_module *m = NULL;
		char *path = path_join(s->dir, fn);
		int rc = read_bin(path, &buf, &len);
		free(path);
		if (rc) {
			fail_msg(s, "%s: cannot read %s", type, fn);
			return;
		}
		rc = wasm_module_decode(buf, len, &s->o->lo.limits, &m);
		free(buf);
		wasm_module_free(m);
		if (rc == 0)
			fail_msg(s, "%s %s: accepted (%s expected)", type, fn,
			    json_string_value(json_object_get(c, "text")));
		else if (rc == ERR_REJECT && is_simd_err())
			skip_count(s, SK_SIMD + 1);
		else
			s->t.passed++;
		return;
	}
	struct wasm_program *p = NULL;
	int skip, trap = 0;
	int rc = load_module(s, fn, &p, &skip);
	if (strcmp(type, "assert_unlinkable") == 0) {
		if (rc == 0) {
			struct wasm_instance *in = NULL;
			struct wasm_run_limits lim = { .fuel = -1,
				.memory_bytes = 1ull << 30 };
			wasm_instance_new(p, NULL, &lim, &in, &trap);
			wasm_instance_free(in);
			if (!trap)
				fail_msg(s, "assert_unlinkable %s: linked", fn);
			else
				s->t.passed++;
		} else if (skip == SK_SIMD + 1) {
			skip_count(s, skip);
		} else {
			s->t.passed++;
		}
		wasm_program_free(p);
		return;
	}
	/* assert_uninstantiable */
	if (rc) {
		if (skip)
			skip_count(s, skip);
		else
			fail_msg(s, "%s %s: does not load: %s", type, fn,
			    err_msg());
		wasm_program_free(p);
		return;
	}
	struct wasm_instance *in = NULL;
	struct wasm_run_limits lim = { .fuel = -1, .memory_bytes = 1ull << 30 };
	wasm_instance_new(p, NULL, &lim, &in, &trap);
	if (!trap)
		fail_msg(s, "%s %s: instantiated", type, fn);
	else
		s->t.passed++;
	wasm_instance_free(in);
	wasm_program_free(p);
}

static void
cmd_action(struct fstate *s, json_t *c, const char *type)
{
	json_t *a = json_object_get(c, "action");
	uint64_t res[64];
	size_t nres = 0;
	int skip;
	char err[200] = "";
	int r = do_action(s, a, res, &nres, &skip, err, sizeof(err));
	const char *field = json_string_value(json_object_get(a, "field"));
	if (r == -2) {
		skip_count(s, skip);
		return;
	}
	if (r == -1) {
		fail_msg(s, "%s %s: %s", type, field ? field : "?", err);
		return;
	}
	if (strcmp(type, "assert_trap") == 0) {
		if (r == 0)
			fail_msg(s, "assert_trap %s: no trap (%s expected)",
			    field,
			    json_string_value(json_object_get(c, "text")));
		else
			s->t.passed++;
		return;
	}
	if (strcmp(type, "assert_exhaustion") == 0) {
		if (r != WASM_TRAP_EXHAUSTION)
			fail_msg(s, "assert_exhaustion %s: got %s", field,
			    r ? wasm_trap_message(r, 0) : "no trap");
		else
			s->t.passed++;
		return;
	}
	if (r != 0) {
		fail_msg(s, "%s %s: trapped: %s", type, field,
		    wasm_trap_message(r, 0));
		return;
	}
	if (strcmp(type, "action") == 0) {
		s->t.passed++;
		return;
	}
	json_t *exp = json_object_get(c, "expected"), *v;
	size_t i;
	if (json_array_size(exp) != nres) {
		fail_msg(s, "%s %s: %zu results, %zu expected", type, field,
		    nres, json_array_size(exp));
		return;
	}
	json_array_foreach(exp, i, v)
	{
		uint64_t w;
		uint8_t ty;
		if (value_slot(v, &w, &ty) == 1) {
			skip_count(s, SK_SIMD + 1);
			return;
		}
		if (!value_matches(v, res[i])) {
			fail_msg(s,
			    "%s %s: result %zu is 0x%llx, expected %s "
			    "%s",
			    type, field, i, (unsigned long long)res[i],
			    json_string_value(json_object_get(v, "type")),
			    json_string_value(json_object_get(v, "value")));
			return;
		}
	}
	s->t.passed++;
}

static void
run_file(const char *file, const struct spec_opts *o, struct tally *out)
{
	struct fstate s = { .o = o, .file = file, .cur = -1 };
	json_error_t je;
	json_t *root = json_load_file(file, JSON_ALLOW_NUL, &je);
	memset(out, 0, sizeof(*out));
	if (!root) {
		printf("FAIL %s: %s\n", file, je.text);
		out->failed = 1;
		return;
	}
	s.dir = dir_of(file);
	json_t *cmds = json_object_get(root, "commands"), *c;
	size_t i;
	json_array_foreach(cmds, i, c)
	{
		const char *type =
		    json_string_value(json_object_get(c, "type"));
		s.line = (int)json_integer_value(json_object_get(c, "line"));
		if (!type)
			continue;
		if (strcmp(type, "module") == 0)
			cmd_module(&s, c);
		else if (strcmp(type, "register") == 0) {
			struct loaded *l = find_mod(&s, c);
			if (l)
				l->registered = 1;
		} else if (strcmp(type, "assert_return") == 0 ||
		    strcmp(type, "assert_trap") == 0 ||
		    strcmp(type, "assert_exhaustion") == 0 ||
		    strcmp(type, "action") == 0)
			cmd_action(&s, c, type);
		else if (strncmp(type, "assert_", 7) == 0)
			cmd_assert_module(&s, c, type);
	}
	for (size_t k = 0; k < s.nmods; k++)
		drop_module(&s.mods[k]);
	free(s.mods);
	free(s.dir);
	json_decref(root);
	*out = s.t;
}

struct file_job {
	const char *file;
	const struct spec_opts *o;
	struct tally t;
};

static void *
file_thread(void *arg)
{
	struct file_job *j = arg;
	run_file(j->file, j->o, &j->t);
	return NULL;
}

/* Child process per file, on a deep stack; the tally comes back on a
 * pipe.  A crash counts as one failure. */
static void
run_file_isolated(const char *file, const struct spec_opts *o, struct tally *t)
{
	int fds[2];
	memset(t, 0, sizeof(*t));
	fflush(stdout);
	if (pipe(fds) < 0) {
		t->failed = 1;
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		struct file_job j = { .file = file, .o = o };
		pthread_attr_t a;
		pthread_t th;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 512u << 20);
		if (pthread_create(&th, &a, file_thread, &j) == 0)
			pthread_join(th, NULL);
		else
			file_thread(&j);
		fflush(stdout);
		ssize_t w = write(fds[1], &j.t, sizeof(j.t));
		(void)w;
		_exit(0);
	}
	close(fds[1]);
	ssize_t n = pid > 0 ? read(fds[0], t, sizeof(*t)) : -1;
	close(fds[0]);
	int st = 0;
	if (pid > 0)
		waitpid(pid, &st, 0);
	if (n != (ssize_t)sizeof(*t)) {
		memset(t, 0, sizeof(*t));
		t->failed = 1;
		printf("FAIL %s: runner died (status 0x%x)\n", file, st);
	}
}

int
wasm_spec_main(int argc, char **argv)
{
	struct spec_opts o = { .jobs = 2 };
	char **files = calloc((size_t)argc + 1, sizeof(char *));
	int nfiles = 0;
	struct timespec t0, t1, t2;
	wasm_load_opts_init(&o.lo);
	o.lo.link = WASM_LINK_WASI | WASM_LINK_SPECTEST;
	o.lo.compile.opt_level = 0;
	o.lo.compile.cpu_seconds = 120;
	o.lo.limits.max_table_size = 0xffffffffu;
	o.lo.limits.max_funcs = 1000000;
	if (!files)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3')
			o.lo.compile.opt_level = a[2] - '0';
		else if (strcmp(a, "--jobs") == 0 && i + 1 < argc)
			o.jobs = atoi(argv[++i]);
		else if (strcmp(a, "--no-fuel") == 0)
			o.lo.compile.fuel = 0;
		else if (strcmp(a, "-v") == 0)
			o.verbose = 1;
		else if (a[0] == '-') {
			fprintf(stderr, "wasm spec: unknown option %s\n", a);
			free(files);
			return 2;
		} else
			files[nfiles++] = argv[i];
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	precompile(files, nfiles, &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct tally total = { 0 };
	for (int f = 0; f < nfiles; f++) {
		struct tally t;
		run_file_isolated(files[f], &o, &t);
		total.passed += t.passed;
		total.failed += t.failed;
		for (int k = 0; k < SK_N; k++)
			total.skipped[k] += t.skipped[k];
		if (o.verbose || t.failed)
			printf("%s: %llu passed, %llu failed\n", files[f],
			    (unsigned long long)t.passed,
			    (unsigned long long)t.failed);
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	uint64_t sk = 0;
	for (int k = 0; k < SK_N; k++)
		sk += total.skipped[k];
	printf("wasm spec: %llu passed, %llu failed, %llu skipped (",
	    (unsigned long long)total.passed, (unsigned long long)total.failed,
	    (unsigned long long)sk);
	int first = 1;
	for (int k = 0; k < SK_N; k++) {
		if (!total.skipped[k])
			continue;
		printf("%s%s: %llu", first ? "" : ", ", skip_names[k],
		    (unsigned long long)total.skipped[k]);
		first = 0;
	}
	printf(")\nwasm spec: -O%d, fuel %s, bounds %s, %d files, compile %.1f "
	       "s, run %.1f s\n",
	    o.lo.compile.opt_level, o.lo.compile.fuel ? "on" : "off",
	    wasm_bounds_name(wasm_bounds_resolve(o.lo.compile.bounds)), nfiles,
	    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	    (double)(t2.tv_sec - t1.tv_sec) + (t2.tv_nsec - t1.tv_nsec) / 1e9);
	free(files);
	return total.failed ? 1 : 0;
}
