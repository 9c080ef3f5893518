/*
 * wasm_compile: instrument, wasm2c, cc -shared; cache by content hash.
 * Each .so carries its own small wasm2c runtime (thread-local trap state,
 * memories with guard pages or explicit bounds checks) and a generated
 * shim exporting struct wasm_abi_module; the call depth is counted by the
 * instrumentation, so exhaustion is deterministic.
 */
#include "wasm/compile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "common/util.h"
#include "wasm/abi.h"
#include "wasm/guard.h"
#include "wasm/instrument.h"

#define STR_(...) #__VA_ARGS__
#define STR(...) STR_(__VA_ARGS__)

#define WASM_RT_HEADER "/usr/include/wasm-rt.h"

void
wasm_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void
wasm_compile_opts_init(struct wasm_compile_opts *o)
{
	static char def[512];
	const char *env = getenv("LODGE_WASM_CACHE");
	if (env && *env) {
		o->cache_dir = env;
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(def, sizeof(def), "%s/lodge-wasm-cache-%u",
		    tmp && *tmp ? tmp : "/tmp", (unsigned)getuid());
		o->cache_dir = def;
	}
	o->opt_level = 2;
	o->fuel = 1;
	o->max_call_depth = WASM_CALL_DEPTH_DEFAULT;
	o->bounds = WASM_BOUNDS_AUTO;
	o->cpu_seconds = 300;
	o->mem_bytes = 4ull << 30;
}

/* Run argv with stdout+stderr to log_path under the limits; 0 if it
 * exited 0. */
static int
run_tool(const char *const *argv, const char *log_path,
    const struct wasm_compile_opts *o)
{
	pid_t pid = fork();
	if (pid < 0)
		return err_set(ERR_IO, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		struct rlimit rl;
		rl.rlim_cur = rl.rlim_max = o->cpu_seconds;
		setrlimit(RLIMIT_CPU, &rl);
		rl.rlim_cur = rl.rlim_max = o->mem_bytes;
		setrlimit(RLIMIT_AS, &rl);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return err_set(ERR_IO, "waitpid: %s", strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	char *log = NULL;
	size_t len = 0;
	const char *tail = "";
	if (util_read_file(log_path, 1 << 20, &log, &len) == 0) {
		tail = log;
		if (len > 600)
			tail = log + len - 600;
	}
	int rc;
	if (WIFSIGNALED(st))
		rc = err_set(ERR_IO,
		    "%s killed by signal %d (CPU or memory "
		    "limit?): %s",
		    argv[0], WTERMSIG(st), tail);
	else
		rc = err_set(ERR_IO, "%s failed (exit %d): %s", argv[0],
		    WEXITSTATUS(st), tail);
	free(log);
	return rc;
}

static int
capture(const char *cmd, char *out, size_t cap)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = 0;
	pclose(f);
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = 0;
	return n ? 0 : -1;
}

static pthread_once_t tool_once = PTHREAD_ONCE_INIT;
static char tool_version[512];

static void
tool_init(void)
{
	char a[128] = "?", b[256] = "?";
	capture("wasm2c --version 2>/dev/null", a, sizeof(a));
	capture("cc --version 2>/dev/null", b, sizeof(b));
	snprintf(tool_version, sizeof(tool_version), "wasm2c %s; cc %s; abi %d",
	    a, b, WASM_ABI_VERSION);
}

const char *
wasm_toolchain_version(void)
{
	pthread_once(&tool_once, tool_init);
	return tool_version;
}

/* The file `name` resolves to through PATH, as execvp finds it, with
 * symbolic links resolved: "path size mtime inode", or "name ?". */
static void
tool_signature(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	char cand[4096], real[4096];
	struct stat st;

	snprintf(out, cap, "%s ?", name);
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		if (snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, path,
		        name) < (int)sizeof(cand) &&
		    access(cand, X_OK) == 0 && realpath(cand, real) &&
		    stat(real, &st) == 0) {
			int k = snprintf(out, cap, "%s %lld %lld.%09ld %llu",
			    real, (long long)st.st_size,
			    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			    (unsigned long long)st.st_ino);
			if (k < 0 || (size_t)k >= cap)
				snprintf(out, cap, "%s ?", name);
			return;
		}
		path += n;
		if (*path == ':')
			path++;
	}
}

/* wasm_toolchain_version(), remembered in cache_dir under the tools'
 * signatures, so that a run whose module is cached starts no process:
 * the versions are asked again when wasm2c or cc is another file. */
static void
toolchain_version(const char *cache_dir, char *out, size_t cap)
{
	char sig[8400], a[4100], b[4100], hex[65], memo[1200], tmp[1300];
	char *text = NULL;
	size_t len = 0;

	tool_signature("wasm2c", a, sizeof(a));
	tool_signature("cc", b, sizeof(b));
	snprintf(sig, sizeof(sig), "%s\n%s\nabi %d", a, b, WASM_ABI_VERSION);
	wasm_sha256_hex(sig, strlen(sig), hex);
	snprintf(memo, sizeof(memo), "%s/toolchain-%.32s", cache_dir, hex);
	if (util_read_file(memo, 4096, &text, &len) == 0 && len > 0 &&
	    len < cap && !memchr(text, 0, len)) {
		memcpy(out, text, len);
		out[len] = 0;
		free(text);
		return;
	}
	free(text);
	snprintf(out, cap, "%s", wasm_toolchain_version());
	/* best effort: a read-only cache asks every time */
	snprintf(tmp, sizeof(tmp), "%s.%ld", memo, (long)getpid());
	if (util_write_file(tmp, out, strlen(out), 0644) == 0 &&
	    rename(tmp, memo) < 0)
		unlink(tmp);
}

/* ---- the per-.so runtime (replaces wasm-rt-impl.c) ---- */

static const char rt_source[] =
    "#include <pthread.h>\n"
    "#include <setjmp.h>\n"
    "#include <stdarg.h>\n"
    "#include <stdbool.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "#include <sys/mman.h>\n"
    "#include \"wasm-rt.h\"\n"
    "__thread jmp_buf *lodge_jb;\n"
    "__thread uint32_t lodge_mem_limit = 65535, lodge_table_limit = 10000000;\n"
    "__attribute__((noreturn)) void lodge_trap(int code) {\n"
    "  if (!lodge_jb) abort();\n"
    "  longjmp(*lodge_jb, code);\n"
    "}\n"
    "void wasm_rt_trap(wasm_rt_trap_t code) { lodge_trap((int)code); }\n"
    "void wasm_rt_init(void) {}\n"
    "bool wasm_rt_is_initialized(void) { return true; }\n"
    "void wasm_rt_free(void) {}\n"
    "typedef struct { uint32_t np, nr; wasm_rt_type_t t[]; } ft_t;\n"
    "static ft_t **g_types; static uint32_t g_ntypes;\n"
    "static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;\n"
    "uint32_t wasm_rt_register_func_type(uint32_t np, uint32_t nr, ...) {\n"
    "  ft_t *f = malloc(sizeof(ft_t) + (np + nr + 1) * "
    "sizeof(wasm_rt_type_t));\n"
    "  if (!f) abort();\n"
    "  f->np = np; f->nr = nr;\n"
    "  va_list ap; va_start(ap, nr);\n"
    "  for (uint32_t i = 0; i < np + nr; i++) f->t[i] = va_arg(ap, "
    "wasm_rt_type_t);\n"
    "  va_end(ap);\n"
    "  pthread_mutex_lock(&g_lock);\n"
    "  for (uint32_t i = 0; i < g_ntypes; i++)\n"
    "    if (g_types[i]->np == np && g_types[i]->nr == nr &&\n"
    "        !memcmp(g_types[i]->t, f->t, (np + nr) * sizeof(wasm_rt_type_t))) "
    "{\n"
    "      pthread_mutex_unlock(&g_lock); free(f); return i + 1; }\n"
    "  ft_t **n = realloc(g_types, (g_ntypes + 1) * sizeof(*n));\n"
    "  if (!n) abort();\n"
    "  g_types = n; g_types[g_ntypes++] = f;\n"
    "  uint32_t r = g_ntypes;\n"
    "  pthread_mutex_unlock(&g_lock);\n"
    "  return r;\n"
    "}\n"
    "__attribute__((destructor)) static void lodge_rt_fini(void) {\n"
    "  for (uint32_t i = 0; i < g_ntypes; i++) free(g_types[i]);\n"
    "  free(g_types); g_types = NULL; g_ntypes = 0;\n"
    "}\n"
    "uint32_t wasm_rt_register_tag(uint32_t size) { (void)size; return 0; }\n"
    "void wasm_rt_load_exception(uint32_t t, uint32_t s, const void *v)\n"
    "{ (void)t; (void)s; (void)v; }\n"
    "void wasm_rt_throw(void) { lodge_trap(7); }\n"
    "void wasm_rt_set_unwind_target(jmp_buf *t) { (void)t; }\n"
    "jmp_buf *wasm_rt_get_unwind_target(void) { return lodge_jb; }\n"
    "uint32_t wasm_rt_exception_tag(void) { return 0; }\n"
    "uint32_t wasm_rt_exception_size(void) { return 0; }\n"
    "void *wasm_rt_exception(void) { return NULL; }\n"
    "#if LODGE_GUARD\n"
    /* Guard pages: the whole range a load or store can reach
     * (LODGE_RESERVE bytes, WASM_ABI_GUARD_RESERVE) is reserved
     * inaccessible, and only the memory's size is open, so any access past
     * it faults.  A fresh instance per request would map and unmap 8 GiB
     * each time (and take its first pages' faults again): a freed memory
     * keeps up to LODGE_KEEP bytes open, zeroed, for the next one (at most
     * LODGE_SPARES kept; a trylock, so a child forked while another thread
     * held the lock just maps afresh). */
    "#define LODGE_KEEP (1u << 20)\n"
    "#define LODGE_SPARES 4\n"
    "static pthread_mutex_t lodge_spare_lock = PTHREAD_MUTEX_INITIALIZER;\n"
    "static struct { uint8_t *d; size_t open; } lodge_spare[LODGE_SPARES];\n"
    "static int lodge_nspare;\n"
    "static int lodge_protect(uint8_t *d, size_t from, size_t to, int prot) "
    "{\n"
    "  return to > from && mprotect(d + from, to - from, prot) != 0;\n"
    "}\n"
    /* A reservation with exactly [0, n) open, and zero. */
    "static uint8_t *lodge_reserve(size_t n) {\n"
    "  uint8_t *d = NULL; size_t open = 0;\n"
    "  if (pthread_mutex_trylock(&lodge_spare_lock) == 0) {\n"
    "    if (lodge_nspare > 0) { lodge_nspare--;\n"
    "      d = lodge_spare[lodge_nspare].d; open = "
    "lodge_spare[lodge_nspare].open; }\n"
    "    pthread_mutex_unlock(&lodge_spare_lock);\n"
    "  }\n"
    "  if (!d) {\n"
    "    void *p = mmap(NULL, LODGE_RESERVE, PROT_NONE,\n"
    "      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);\n"
    "    if (p == MAP_FAILED) return NULL;\n"
    "    d = p;\n"
    "  }\n"
    "  if (lodge_protect(d, open, n, PROT_READ | PROT_WRITE) ||\n"
    "      lodge_protect(d, n, open, PROT_NONE)) {\n"
    "    munmap(d, LODGE_RESERVE); return NULL; }\n"
    "  return d;\n"
    "}\n"
    /* Back to the spares: what stays open is zeroed, the rest given back
     * to the kernel and closed. */
    "static void lodge_unreserve(uint8_t *d, size_t open) {\n"
    "  size_t keep = open < LODGE_KEEP ? open : LODGE_KEEP;\n"
    "  if (open > keep && (madvise(d + keep, open - keep, MADV_DONTNEED) ||\n"
    "      lodge_protect(d, keep, open, PROT_NONE))) {\n"
    "    munmap(d, LODGE_RESERVE); return; }\n"
    "  memset(d, 0, keep);\n"
    "  if (pthread_mutex_trylock(&lodge_spare_lock) == 0) {\n"
    "    if (lodge_nspare < LODGE_SPARES) {\n"
    "      lodge_spare[lodge_nspare].d = d; lodge_spare[lodge_nspare].open = "
    "keep;\n"
    "      lodge_nspare++; d = NULL; }\n"
    "    pthread_mutex_unlock(&lodge_spare_lock);\n"
    "  }\n"
    "  if (d) munmap(d, LODGE_RESERVE);\n"
    "}\n"
    "__attribute__((destructor)) static void lodge_spares_fini(void) {\n"
    "  for (int i = 0; i < lodge_nspare; i++) munmap(lodge_spare[i].d, "
    "LODGE_RESERVE);\n"
    "  lodge_nspare = 0;\n"
    "}\n"
    "void wasm_rt_allocate_memory(wasm_rt_memory_t *m, uint32_t init, "
    "uint32_t max) {\n"
    "  if (init > lodge_mem_limit) lodge_trap(11);\n"
    "  size_t n = (size_t)init * 65536;\n"
    "  uint8_t *d = lodge_reserve(n);\n"
    "  if (!d) lodge_trap(11);\n"
    "  m->data = d;\n"
    "  m->size = (uint32_t)n; m->pages = init; m->max_pages = max;\n"
    "}\n"
    "uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *m, uint32_t delta) {\n"
    "  uint64_t np = (uint64_t)m->pages + delta;\n"
    "  uint32_t old = m->pages;\n"
    "  if (np > m->max_pages || np > lodge_mem_limit || np > 65535) return "
    "(uint32_t)-1;\n"
    "  if (delta == 0) return old;\n"
    "  if (lodge_protect(m->data, (size_t)old * 65536, (size_t)np * 65536,\n"
    "      PROT_READ | PROT_WRITE))\n"
    "    return (uint32_t)-1;\n"
    "  m->pages = (uint32_t)np; m->size = (uint32_t)(np * 65536);\n"
    "  return old;\n"
    "}\n"
    "void wasm_rt_free_memory(wasm_rt_memory_t *m) {\n"
    "  if (m->data) lodge_unreserve(m->data, (size_t)m->pages * 65536);\n"
    "  m->data = NULL;\n"
    "}\n"
    "#else\n"
    "void wasm_rt_allocate_memory(wasm_rt_memory_t *m, uint32_t init, uint32_t "
    "max) {\n"
    "  if (init > lodge_mem_limit) lodge_trap(11);\n"
    "  size_t n = (size_t)init * 65536;\n"
    "  m->data = calloc(n ? n : 1, 1);\n"
    "  if (!m->data) lodge_trap(11);\n"
    "  m->size = (uint32_t)n; m->pages = init; m->max_pages = max;\n"
    "}\n"
    "uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *m, uint32_t delta) {\n"
    "  uint64_t np = (uint64_t)m->pages + delta;\n"
    "  uint32_t old = m->pages;\n"
    "  if (np > m->max_pages || np > lodge_mem_limit || np > 65535) return "
    "(uint32_t)-1;\n"
    "  if (delta == 0) return old;\n"
    "  uint8_t *d = realloc(m->data, (size_t)np * 65536);\n"
    "  if (!d) return (uint32_t)-1;\n"
    "  memset(d + (size_t)old * 65536, 0, (size_t)delta * 65536);\n"
    "  m->data = d; m->pages = (uint32_t)np; m->size = (uint32_t)(np * "
    "65536);\n"
    "  return old;\n"
    "}\n"
    "void wasm_rt_free_memory(wasm_rt_memory_t *m) { free(m->data); m->data = "
    "NULL; }\n"
    "#endif\n"
    "#define TABLE_OPS(type) \\\n"
    "void wasm_rt_allocate_##type##_table(wasm_rt_##type##_table_t *t, "
    "uint32_t n, uint32_t max) { \\\n"
    "  if (n > lodge_table_limit) lodge_trap(11); \\\n"
    "  t->data = calloc(n ? n : 1, sizeof(wasm_rt_##type##_t)); \\\n"
    "  if (!t->data) lodge_trap(11); \\\n"
    "  t->size = n; t->max_size = max; } \\\n"
    "void wasm_rt_free_##type##_table(wasm_rt_##type##_table_t *t) { "
    "free(t->data); t->data = NULL; } \\\n"
    "uint32_t wasm_rt_grow_##type##_table(wasm_rt_##type##_table_t *t, "
    "uint32_t delta, wasm_rt_##type##_t init) { \\\n"
    "  uint64_t n = (uint64_t)t->size + delta; uint32_t old = t->size; \\\n"
    "  if (n > t->max_size || n > lodge_table_limit) return (uint32_t)-1; \\\n"
    "  if (delta == 0) return old; \\\n"
    "  wasm_rt_##type##_t *d = realloc(t->data, n * sizeof(*d)); \\\n"
    "  if (!d) return (uint32_t)-1; \\\n"
    "  for (uint64_t i = old; i < n; i++) d[i] = init; \\\n"
    "  t->data = d; t->size = (uint32_t)n; return old; }\n"
    "TABLE_OPS(funcref)\n"
    "TABLE_OPS(externref)\n"
    "const char *wasm_rt_strerror(wasm_rt_trap_t t) { (void)t; return "
    "\"trap\"; }\n";

/* ---- shim generation ---- */

static char
letter(uint8_t t)
{
	switch (t) {
	case WASM_I32:
		return 'i';
	case WASM_I64:
		return 'j';
	case WASM_F32:
		return 'f';
	case WASM_F64:
		return 'd';
	case WASM_FUNCREF:
		return 'r';
	default:
		return 'e';
	}
}

static const char *
ctype(uint8_t t)
{
	switch (t) {
	case WASM_I32:
		return "u32";
	case WASM_I64:
		return "u64";
	case WASM_F32:
		return "f32";
	case WASM_F64:
		return "f64";
	case WASM_FUNCREF:
		return "wasm_rt_funcref_t";
	default:
		return "wasm_rt_externref_t";
	}
}

static void
ret_type(FILE *f, const struct wasm_functype *ft)
{
	if (ft->nresults == 0) {
		fputs("void", f);
	} else if (ft->nresults == 1) {
		fputs(ctype(ft->results[0]), f);
	} else {
		fputs("struct wasm_multi_", f);
		for (uint32_t i = 0; i < ft->nresults; i++)
			fputc(letter(ft->results[i]), f);
	}
}

static const char shim_prelude[] =
    "#include <setjmp.h>\n"
    "#include <stdint.h>\n"
    "#include <string.h>\n"
    "#include \"m.h\"\n"
    "extern __thread jmp_buf *lodge_jb;\n"
    "extern __thread uint32_t lodge_mem_limit, lodge_table_limit;\n"
    "__attribute__((noreturn)) void lodge_trap(int code);\n"
    "static inline uint64_t b_i(u32 v) { return v; }\n"
    "static inline uint64_t b_j(u64 v) { return v; }\n"
    "static inline uint64_t b_f(f32 v) { uint32_t b; memcpy(&b, &v, 4); return "
    "b; }\n"
    "static inline uint64_t b_d(f64 v) { uint64_t b; memcpy(&b, &v, 8); return "
    "b; }\n"
    "static inline uint64_t b_r(wasm_rt_funcref_t v) { return v.func != NULL; "
    "}\n"
    "static inline uint64_t b_e(wasm_rt_externref_t v) { return "
    "(uint64_t)(uintptr_t)v; }\n"
    "static inline u32 v_i(uint64_t x) { return (u32)x; }\n"
    "static inline u64 v_j(uint64_t x) { return x; }\n"
    "static inline f32 v_f(uint64_t x) { uint32_t b = (uint32_t)x; f32 v; "
    "memcpy(&v, &b, 4); return v; }\n"
    "static inline f64 v_d(uint64_t x) { f64 v; memcpy(&v, &x, 8); return v; "
    "}\n"
    "static inline wasm_rt_funcref_t v_r(uint64_t x) { (void)x; return "
    "wasm_rt_funcref_null_value; }\n"
    "static inline wasm_rt_externref_t v_e(uint64_t x) { return "
    "(wasm_rt_externref_t)(uintptr_t)x; }\n";

static const char *
table_kind(uint8_t elemtype)
{
	return elemtype == WASM_FUNCREF ? "funcref" : "externref";
}

/* struct Z_h_instance_t (what wasm2c's imports point into: the imported
 * memories, tables and globals) and struct lodge_inst around it. */
static void
gen_instance_struct(const struct wasm_module *m, FILE *f)
{
	fputs("\nstruct Z_h_instance_t {\n"
	      "  struct wasm_abi_mem *mem;\n"
	      "  const struct wasm_abi_host *host;\n",
	    f);
	for (uint32_t i = 0; i < m->nimports; i++) {
		const struct wasm_import *im = &m->imports[i];
		switch (im->kind) {
		case WASM_EXT_MEMORY:
			fprintf(f, "  wasm_rt_memory_t i%u;\n", i);
			break;
		case WASM_EXT_TABLE:
			fprintf(f, "  wasm_rt_%s_table_t i%u;\n",
			    table_kind(im->valtype), i);
			break;
		case WASM_EXT_GLOBAL:
			fprintf(f, "  %s i%u;\n", ctype(im->valtype), i);
			break;
		default:
			break;
		}
	}
	fputs("  int dummy;\n};\n"
	      "struct lodge_inst { Z_m_instance_t m; struct Z_h_instance_t h; "
	      "};\n",
	    f);
}

/* An imported function i: marshal the arguments into u64 slots, call
 * the host, trap if it says so, unmarshal the results. */
static void
gen_import_func(const struct wasm_module *m, uint32_t i, FILE *f)
{
	const struct wasm_functype *ft = &m->types[m->imports[i].type];
	ret_type(f, ft);
	fprintf(f, " Z_hZ_i%u(struct Z_h_instance_t *h", i);
	for (uint32_t k = 0; k < ft->nparams; k++)
		fprintf(f, ", %s p%u", ctype(ft->params[k]), k);
	fprintf(f, ") {\n  uint64_t a[%u], r[%u];\n", ft->nparams + 1,
	    ft->nresults + 1);
	for (uint32_t k = 0; k < ft->nparams; k++)
		fprintf(f, "  a[%u] = b_%c(p%u);\n", k, letter(ft->params[k]),
		    k);
	fprintf(f,
	    "  int t = h->host->call(h->host->ctx, %u, a, "
	    "r, h->mem);\n  if (t) lodge_trap(t);\n",
	    i);
	if (ft->nresults == 1) {
		fprintf(f, "  return v_%c(r[0]);\n", letter(ft->results[0]));
	} else if (ft->nresults > 1) {
		fputs("  ", f);
		ret_type(f, ft);
		fputs(" x;\n", f);
		for (uint32_t k = 0; k < ft->nresults; k++) {
			char l = letter(ft->results[k]);
			fprintf(f, "  x.%c%u = v_%c(r[%u]);\n", l, k, l, k);
		}
		fputs("  return x;\n", f);
	} else {
		fputs("  (void)r;\n", f);
	}
	fputs("}\n", f);
}

/* What wasm2c calls for each import: functions as above; memories,
 * tables and globals by address in struct Z_h_instance_t. */
static void
gen_imports(const struct wasm_module *m, FILE *f)
{
	for (uint32_t i = 0; i < m->nimports; i++) {
		const struct wasm_import *im = &m->imports[i];
		if (im->kind == WASM_EXT_FUNC) {
			gen_import_func(m, i, f);
		} else if (im->kind == WASM_EXT_MEMORY) {
			fprintf(f,
			    "wasm_rt_memory_t *Z_hZ_i%u(struct "
			    "Z_h_instance_t *h) { return &h->i%u; }\n",
			    i, i);
		} else if (im->kind == WASM_EXT_TABLE) {
			fprintf(f,
			    "wasm_rt_%s_table_t *Z_hZ_i%u(struct "
			    "Z_h_instance_t *h) { return &h->i%u; }\n",
			    table_kind(im->valtype), i, i);
		} else {
			fprintf(f,
			    "%s *Z_hZ_i%u(struct Z_h_instance_t *h) "
			    "{ return &h->i%u; }\n",
			    ctype(im->valtype), i, i);
		}
	}
}

/* How the instrumentation changed the defined functions' types
 * (wasm/instrument.h): extra parameters fuel (i64) and depth (i32), extra
 * result fuel (i64). */
struct xform {
	int fuel, depth;
};

/* "R x = " (R the C type of function fidx's results as called), or ""
 * when it returns nothing: *multi says whether x is a struct. */
static void
call_result(const struct wasm_module *m, uint32_t fidx, const struct xform *x,
    FILE *f, int *multi)
{
	const struct wasm_functype *ft = &m->types[m->func_types[fidx]];
	int extra = fidx >= m->nfunc_imports && x->fuel;
	uint32_t n = ft->nresults + (extra ? 1 : 0);
	*multi = n > 1;
	if (n == 0)
		return;
	if (n == 1) {
		fputs(extra ? "u64" : ctype(ft->results[0]), f);
	} else {
		fputs("struct wasm_multi_", f);
		for (uint32_t i = 0; i < ft->nresults; i++)
			fputc(letter(ft->results[i]), f);
		if (extra)
			fputc('j', f);
	}
	fputs(" x = ", f);
}

/* The extra arguments of a call to function fidx from the host: the fuel
 * the instance has, depth 0. */
static void
call_extra_args(const struct wasm_module *m, uint32_t fidx,
    const struct xform *x, FILE *f)
{
	if (fidx < m->nfunc_imports)
		return;
	if (x->fuel)
		fputs(", *(u64 *)Z_mZ_lodge_fuel(&I->m)", f);
	if (x->depth)
		fputs(", 0", f);
}

/* lodge_instantiate: allocate the imported memories and tables at the
 * host's sizes, set the imported globals, instantiate, set the fuel, run
 * the start function; a trap on the way is returned. */
static void
gen_instantiate(const struct wasm_module *m, const struct xform *x, FILE *f)
{
	int mem_import = -1;
	fputs("static int lodge_instantiate(void *vi, const struct "
	      "wasm_abi_host *host) {\n"
	      "  struct lodge_inst *volatile I = vi;\n"
	      "  memset(vi, 0, sizeof(struct lodge_inst));\n"
	      "  I->h.host = host;\n"
	      "  lodge_mem_limit = host->mem_limit_pages;\n"
	      "  lodge_table_limit = host->table_limit;\n"
	      "  jmp_buf jb; jmp_buf *volatile prev = lodge_jb; int t;\n"
	      "  volatile int fuel_set = 0;\n"
	      "  lodge_jb = &jb;\n"
	      "  if ((t = setjmp(jb)) != 0) { lodge_jb = prev;\n"
	      "    if (!fuel_set) *(int64_t *)Z_mZ_lodge_fuel(&I->m) = "
	      "host->fuel;\n    return lodge_trap_code(I, t); }\n",
	    f);
	for (uint32_t i = 0; i < m->nimports; i++) {
		const struct wasm_import *im = &m->imports[i];
		if (im->kind == WASM_EXT_MEMORY) {
			fprintf(f,
			    "  wasm_rt_allocate_memory(&I->h.i%u, "
			    "host->imports[%u].min, host->imports[%u].max);\n",
			    i, i, i);
			mem_import = (int)i;
		} else if (im->kind == WASM_EXT_TABLE) {
			fprintf(f,
			    "  wasm_rt_allocate_%s_table(&I->h.i%u, "
			    "host->imports[%u].min, host->imports[%u].max);\n",
			    table_kind(im->valtype), i, i, i);
		} else if (im->kind == WASM_EXT_GLOBAL) {
			fprintf(f,
			    "  I->h.i%u = v_%c(host->imports[%u].value);\n", i,
			    letter(im->valtype), i);
		}
	}
	if (mem_import >= 0)
		fprintf(f, "  I->h.mem = (struct wasm_abi_mem *)&I->h.i%d;\n",
		    mem_import);
	else if (m->nmems)
		fputs("  I->h.mem = (struct wasm_abi_mem *)"
		      "Z_mZ_lodge_mem(&I->m);\n",
		    f);
	fputs(m->nimports ? "  Z_m_instantiate(&I->m, &I->h);\n" :
	                    "  Z_m_instantiate(&I->m);\n",
	    f);
	fputs("  *(int64_t *)Z_mZ_lodge_fuel(&I->m) = host->fuel;\n"
	      "  *Z_mZ_lodge_depth(&I->m) = 0;\n"
	      "  fuel_set = 1;\n",
	    f);
	if (m->has_start) {
		fputs("  Z_mZ_lodge_start(&I->m", f);
		call_extra_args(m, m->start, x, f);
		fputs(");\n", f);
	}
	fputs("  lodge_jb = prev;\n  return 0;\n}\n", f);
}

/* lodge_release: the module's own state, then the imported memories and
 * tables the shim allocated. */
static void
gen_release(const struct wasm_module *m, FILE *f)
{
	fputs("static void lodge_release(void *vi) {\n"
	      "  struct lodge_inst *I = vi;\n  Z_m_free(&I->m);\n",
	    f);
	for (uint32_t i = 0; i < m->nimports; i++) {
		const struct wasm_import *im = &m->imports[i];
		if (im->kind == WASM_EXT_MEMORY)
			fprintf(f, "  wasm_rt_free_memory(&I->h.i%u);\n", i);
		else if (im->kind == WASM_EXT_TABLE)
			fprintf(f, "  wasm_rt_free_%s_table(&I->h.i%u);\n",
			    table_kind(im->valtype), i);
	}
	fputs("}\n", f);
}

/* lodge_call: one case per exported function, by export index, with the
 * arguments and results in u64 slots; a trap is returned. */
static void
gen_call(const struct wasm_module *m, const struct xform *x, FILE *f)
{
	fputs("static int lodge_call(void *vi, uint32_t idx, const uint64_t "
	      "*a, uint64_t *r) {\n"
	      "  struct lodge_inst *I = vi;\n"
	      "  lodge_mem_limit = I->h.host->mem_limit_pages;\n"
	      "  lodge_table_limit = I->h.host->table_limit;\n"
	      "  jmp_buf jb; jmp_buf *volatile prev = lodge_jb; int t;\n"
	      "  lodge_jb = &jb;\n"
	      "  if ((t = setjmp(jb)) != 0) { lodge_jb = prev; "
	      "return lodge_trap_code(I, t); }\n"
	      "  *Z_mZ_lodge_depth(&I->m) = 0;\n"
	      "  (void)a; (void)r;\n"
	      "  switch (idx) {\n",
	    f);
	for (uint32_t e = 0; e < m->nexports; e++) {
		if (m->exports[e].kind != WASM_EXT_FUNC)
			continue;
		uint32_t fidx = m->exports[e].index;
		const struct wasm_functype *ft = &m->types[m->func_types[fidx]];
		int multi;
		fprintf(f, "  case %u: {\n    ", e);
		call_result(m, fidx, x, f, &multi);
		fprintf(f, "Z_mZ_e%u(&I->m", e);
		for (uint32_t k = 0; k < ft->nparams; k++)
			fprintf(f, ", v_%c(a[%u])", letter(ft->params[k]), k);
		call_extra_args(m, fidx, x, f);
		fputs(");\n", f);
		for (uint32_t k = 0; k < ft->nresults; k++) {
			char l = letter(ft->results[k]);
			if (multi)
				fprintf(f, "    r[%u] = b_%c(x.%c%u);\n", k, l,
				    l, k);
			else
				fprintf(f, "    r[0] = b_%c(x);\n", l);
		}
		if (!multi && ft->nresults == 0 && fidx >= m->nfunc_imports &&
		    x->fuel)
			fputs("    (void)x;\n", f);
		fputs("    break; }\n", f);
	}
	fputs("  default: lodge_jb = prev; return 10;\n  }\n"
	      "  lodge_jb = prev;\n  return 0;\n}\n",
	    f);
}

/* lodge_global_get: one case per exported global, by export index. */
static void
gen_global_get(const struct wasm_module *m, FILE *f)
{
	fputs("static int lodge_global_get(void *vi, uint32_t idx, uint64_t "
	      "*out) {\n  struct lodge_inst *I = vi;\n  (void)I; (void)out;\n"
	      "  switch (idx) {\n",
	    f);
	for (uint32_t e = 0; e < m->nexports; e++) {
		if (m->exports[e].kind != WASM_EXT_GLOBAL)
			continue;
		uint8_t t = m->globals[m->exports[e].index].valtype;
		fprintf(f,
		    "  case %u: *out = b_%c(*Z_mZ_e%u(&I->m)); "
		    "return 0;\n",
		    e, letter(t), e);
	}
	fputs("  default: return 10;\n  }\n}\n", f);
}

/* The exported struct wasm_abi_module (wasm/abi.h) the loader looks up. */
static void
gen_abi_module(FILE *f)
{
	fputs("static int64_t *lodge_fuel(void *vi) {\n"
	      "  return (int64_t *)Z_mZ_lodge_fuel(&((struct lodge_inst "
	      "*)vi)->m);"
	      "\n}\n"
	      "static struct wasm_abi_mem *lodge_memory(void *vi) {\n"
	      "  return ((struct lodge_inst *)vi)->h.mem;\n}\n"
	      "__attribute__((visibility(\"default\"))) const struct "
	      "wasm_abi_module lodge_wasm_module = {\n"
	      "  .abi_version = ",
	    f);
	fprintf(f, "%d,\n", WASM_ABI_VERSION);
	fputs("  .instance_size = sizeof(struct lodge_inst),\n"
	      "  .init = Z_m_init_module,\n"
	      "  .instantiate = lodge_instantiate,\n"
	      "  .call = lodge_call,\n"
	      "  .global_get = lodge_global_get,\n"
	      "  .fuel = lodge_fuel,\n"
	      "  .memory = lodge_memory,\n"
	      "  .release = lodge_release,\n"
	      "  .guard_pages = LODGE_GUARD,\n"
	      "  .trap = lodge_trap,\n};\n",
	    f);
}

/* shim.c: the glue between wasm2c's m.c and struct wasm_abi_module. */
static int
gen_shim(const struct wasm_module *m, int fuel, uint32_t max_depth, FILE *f)
{
	struct xform x = { fuel, max_depth != 0 };
	fputs(shim_prelude, f);
	fputs(STR(WASM_ABI_DECLS), f);
	gen_instance_struct(m, f);
	/* The depth rule traps with `unreachable` once past the limit. */
	fprintf(f,
	    "static int lodge_trap_code(struct lodge_inst *I, int t) {\n"
	    "  if (t == WASM_TRAP_UNREACHABLE && %u && "
	    "*Z_mZ_lodge_depth(&I->m) > %uu)\n"
	    "    return WASM_TRAP_EXHAUSTION;\n"
	    "  return t;\n}\n",
	    max_depth, max_depth);
	gen_imports(m, f);
	gen_instantiate(m, &x, f);
	gen_release(m, f);
	gen_call(m, &x, f);
	gen_global_get(m, f);
	gen_abi_module(f);
	return ferror(f) ? err_set(ERR_IO, "writing the shim failed") : 0;
}

/* The tail of wasm-rt.h (included by m.h, after m.c's <math.h>): isnan
 * as the compiler's builtin, which -fsignaling-nans would otherwise turn
 * into a call to libc's __isnan on every float operation that looks at a
 * NaN (sqrt, min, max, abs, ...); it answers the same for every NaN. */
static const char rt_header_tail[] = "\n#undef isnan\n"
                                     "#define isnan(x) __builtin_isnan(x)\n";

/* wasm-rt.h of wabt 1.0.32 (checked), with rt_header_tail. */
static int
write_rt_header(const char *dir)
{
	char *src = NULL, path[4096];
	size_t len;
	int rc = util_read_file(WASM_RT_HEADER, 1 << 20, &src, &len);
	if (rc)
		return err_prefix(rc,
		    "wasm2c runtime header (is wabt "
		    "installed?)");
	if (!strstr(src, "extern uint32_t wasm_rt_call_stack_depth;") ||
	    !strstr(src, "WASM_RT_MEMCHECK_SIGNAL_HANDLER")) {
		free(src);
		return err_set(ERR_IO,
		    "%s: unexpected content (wabt version "
		    "other than 1.0.32?)",
		    WASM_RT_HEADER);
	}
	FILE *f;
	if (snprintf(path, sizeof(path), "%s/wasm-rt.h", dir) >=
	        (int)sizeof(path) ||
	    !(f = fopen(path, "w"))) {
		free(src);
		return err_set(ERR_IO, "%s: %s", path, strerror(errno));
	}
	fwrite(src, 1, len, f);
	fputs(rt_header_tail, f);
	rc = fclose(f) ? err_set(ERR_IO, "%s: write failed", path) : 0;
	free(src);
	return rc;
}

/* Make the fuel global volatile in wasm2c's m.h.  The instrumentation
 * writes it after every charge (wasm/instrument.c) but never reads it
 * between calls; a faulting access (guard pages) is not something the C
 * compiler accounts for, and without volatile it could drop a write that
 * a later one overwrites, leaving a trap to read an older value at -O2
 * than at -O0. */
static int
patch_fuel_volatile(const char *dir)
{
	static const char field[] = "  u64 w2c_" WASM_FUEL_EXPORT ";\n";
	char path[4096], *src = NULL;
	size_t len;
	int rc;
	if (snprintf(path, sizeof(path), "%s/m.h", dir) >= (int)sizeof(path))
		return err_set(ERR_LIMIT, "%s: path too long", dir);
	if ((rc = util_read_file(path, 64u << 20, &src, &len)))
		return err_prefix(rc, "wasm2c output");
	char *at = strstr(src, field);
	if (!at || strstr(at + 1, field)) {
		free(src);
		return err_set(ERR_IO,
		    "%s: the fuel global's field is not where wasm2c 1.0.32 "
		    "puts it",
		    path);
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		free(src);
		return err_set(ERR_IO, "%s: %s", path, strerror(errno));
	}
	fwrite(src, 1, (size_t)(at - src), f);
	fputs("  volatile", f);
	fputs(at + 1, f);
	rc = fclose(f) ? err_set(ERR_IO, "%s: write failed", path) : 0;
	free(src);
	return rc;
}

static void
rm_tree(const char *dir)
{
	static const char *const names[] = { "m.wasm", "m.c", "m.h", "rt.c",
		"shim.c", "wasm-rt.h", "log", "m.so" };
	char p[4096];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (snprintf(p, sizeof(p), "%s/%s", dir, names[i]) <
		    (int)sizeof(p))
			unlink(p);
	}
	rmdir(dir);
}

static int
write_str(const char *dir, const char *name, const void *d, size_t n)
{
	char p[4096];
	FILE *f = NULL;
	if (snprintf(p, sizeof(p), "%s/%s", dir, name) < (int)sizeof(p))
		f = fopen(p, "w");
	if (!f)
		return err_set(ERR_IO, "%s: %s", p, strerror(errno));
	fwrite(d, 1, n, f);
	return fclose(f) ? err_set(ERR_IO, "%s: write failed", p) : 0;
}

int
wasm_compile(const struct wasm_module *m, const struct wasm_compile_opts *o,
    char **so_path, int *cached)
{
	uint8_t *inst = NULL;
	size_t inst_len = 0;
	char key[65], *keybuf = NULL, dir[1200] = "", final[4096];
	char p1[4096], p2[4096], p3[4096], p4[4096], plog[4096], pso[4096];
	char olevel[8], memcheck[64], lguard[32], reserve[64];
	int rc;
	FILE *f = NULL;

	*so_path = NULL;
	if (cached)
		*cached = 0;
	if (strlen(o->cache_dir) > 1000)
		return err_set(ERR_LIMIT, "wasm cache dir: path too long");
	if ((rc = util_mkdirs(o->cache_dir, 0700)))
		return err_prefix(rc, "wasm cache %s", o->cache_dir);
	char tv[600];
	toolchain_version(o->cache_dir, tv, sizeof(tv));
	size_t kl = m->len + strlen(tv) + 64;
	if (!(keybuf = malloc(kl)))
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(keybuf, m->bytes, m->len);
	int bounds = wasm_bounds_resolve(o->bounds);
	int n = snprintf(keybuf + m->len, kl - m->len, "|%s|O%d|fuel%d|d%u|%s",
	    tv, o->opt_level, o->fuel ? 1 : 0, o->max_call_depth,
	    wasm_bounds_name(bounds));
	wasm_sha256_hex(keybuf, m->len + (size_t)n, key);
	free(keybuf);

	snprintf(final, sizeof(final), "%s/%s.so", o->cache_dir, key);
	if (access(final, R_OK) == 0) {
		if (cached)
			*cached = 1;
		goto found;
	}
	struct wasm_instrument_opts io = { .fuel = o->fuel,
		.max_depth = o->max_call_depth };
	if ((rc = wasm_instrument(m, &io, &inst, &inst_len)))
		goto out;
	snprintf(dir, sizeof(dir), "%s/tmp-%.16s-XXXXXX", o->cache_dir, key);
	if (!mkdtemp(dir)) {
		rc = err_set(ERR_IO, "mkdtemp %s: %s", dir, strerror(errno));
		dir[0] = 0;
		goto out;
	}
	if ((rc = write_str(dir, "m.wasm", inst, inst_len)) ||
	    (rc = write_str(dir, "rt.c", rt_source, sizeof(rt_source) - 1)) ||
	    (rc = write_rt_header(dir)))
		goto out;
	snprintf(p1, sizeof(p1), "%s/shim.c", dir);
	if (!(f = fopen(p1, "w"))) {
		rc = err_set(ERR_IO, "%s: %s", p1, strerror(errno));
		goto out;
	}
	rc = gen_shim(m, o->fuel, o->max_call_depth, f);
	if (fclose(f) && !rc)
		rc = err_set(ERR_IO, "%s: write failed", p1);
	f = NULL;
	if (rc)
		goto out;
	snprintf(p1, sizeof(p1), "%s/m.wasm", dir);
	snprintf(p2, sizeof(p2), "%s/m.c", dir);
	snprintf(p3, sizeof(p3), "%s/shim.c", dir);
	snprintf(p4, sizeof(p4), "%s/rt.c", dir);
	snprintf(plog, sizeof(plog), "%s/log", dir);
	snprintf(pso, sizeof(pso), "%s/m.so", dir);
	const char *w2c[] = { "wasm2c", "--no-debug-names", "-n", "m", "-o", p2,
		p1, NULL };
	if ((rc = run_tool(w2c, plog, o)) || (rc = patch_fuel_volatile(dir)))
		goto out;
	snprintf(olevel, sizeof(olevel), "-O%d", o->opt_level);
	int guard = bounds == WASM_BOUNDS_GUARD;
	snprintf(memcheck, sizeof(memcheck),
	    "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=%d", guard);
	snprintf(lguard, sizeof(lguard), "-DLODGE_GUARD=%d", guard);
	snprintf(reserve, sizeof(reserve), "-DLODGE_RESERVE=%lluull",
	    (unsigned long long)WASM_ABI_GUARD_RESERVE);
	char inc[4200];
	snprintf(inc, sizeof(inc), "-I%s", dir);
	/* The depth is counted by the instrumentation, not by wasm2c. */
	const char *cc[] = { "cc", olevel, "-shared", "-fPIC",
		"-fvisibility=hidden", "-fno-strict-aliasing",
		"-fsignaling-nans", "-ffp-contract=off", "-fno-math-errno",
		"-w", "-DNDEBUG", memcheck, lguard, reserve,
		"-DWASM_RT_USE_STACK_DEPTH_COUNT=0", inc, "-Wl,-z,defs", "-o",
		pso, p2, p3, p4, "-lm", "-lpthread", NULL };
	if ((rc = run_tool(cc, plog, o)))
		goto out;
	if (rename(pso, final) < 0) {
		rc = err_set(ERR_IO, "rename %s: %s", final, strerror(errno));
		goto out;
	}
found:
	if (!(*so_path = strdup(final)))
		rc = err_set(ERR_NOMEM, "out of memory");
out:
	if (dir[0] && !getenv("LODGE_WASM_KEEP"))
		rm_tree(dir);
	free(inst);
	return rc;
}
