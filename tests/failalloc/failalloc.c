/*
 * failalloc: allocation-failure injection for the ASan unit tests, as
 * curl's torture tests make each allocation fail in turn.  The libraries
 * linked into build/asan/failalloc/test_* are rewritten by objcopy so that
 * their malloc, calloc, realloc, reallocarray, strdup, strndup, asprintf
 * and vasprintf calls come here; the test's own calls do not.
 *
 *   LODGE_FAIL_ALLOC=N    the Nth of those calls fails as on ENOMEM
 *   LODGE_FAIL_ALLOC=0    none fails; "failalloc: K allocations" at exit
 *   LODGE_FAIL_ALLOC_TRACE=1  the failed call's stack on stderr
 *   LODGE_TEST_FILTER=NAME    run only the cmocka tests matching NAME
 *
 * A failure that cmocka reports abandons the test with longjmp, leaking
 * what the test itself held.  So the leak check runs at that moment, while
 * the test's frame still holds its pointers: what LeakSanitizer finds then
 * was lost by the code under test (tests/failalloc/run.sh reads it).
 */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>

static unsigned long fail_at; /* 0: count only */
static int trace;
static atomic_ulong calls;
static atomic_int injected;

__attribute__((constructor)) static void
failalloc_init(void)
{
	const char *v = getenv("LODGE_FAIL_ALLOC");
	const char *f = getenv("LODGE_TEST_FILTER");

	if (v != NULL)
		fail_at = strtoul(v, NULL, 10);
	trace = getenv("LODGE_FAIL_ALLOC_TRACE") != NULL;
	if (f != NULL && *f != '\0')
		cmocka_set_test_filter(f);
}

__attribute__((destructor)) static void
failalloc_report(void)
{
	const char *v = getenv("LODGE_FAIL_ALLOC");

	if (v != NULL && fail_at == 0)
		fprintf(stderr, "failalloc: %lu allocations\n",
		    (unsigned long)atomic_load(&calls));
}

/* Whether this call is the one to fail. */
static int
fail_now(const char *fn)
{
	unsigned long n = atomic_fetch_add(&calls, 1) + 1;

	if (fail_at == 0 || n != fail_at)
		return 0;
	atomic_store(&injected, 1);
	fprintf(stderr, "failalloc: %s call %lu fails\n", fn, n);
	if (trace)
		__sanitizer_print_stack_trace();
	errno = ENOMEM;
	return 1;
}

void *
failalloc_malloc(size_t n)
{
	return fail_now("malloc") ? NULL : malloc(n);
}

void *
failalloc_calloc(size_t n, size_t size)
{
	return fail_now("calloc") ? NULL : calloc(n, size);
}

void *
failalloc_realloc(void *p, size_t n)
{
	return fail_now("realloc") ? NULL : realloc(p, n);
}

void *
failalloc_reallocarray(void *p, size_t n, size_t size)
{
	return fail_now("reallocarray") ? NULL : reallocarray(p, n, size);
}

char *
failalloc_strdup(const char *s)
{
	return fail_now("strdup") ? NULL : strdup(s);
}

char *
failalloc_strndup(const char *s, size_t n)
{
	return fail_now("strndup") ? NULL : strndup(s, n);
}

int
failalloc_vasprintf(char **out, const char *fmt, va_list ap)
{
	return fail_now("vasprintf") ? -1 : vasprintf(out, fmt, ap);
}

int
failalloc_asprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (fail_now("asprintf"))
		return -1;
	va_start(ap, fmt);
	rc = vasprintf(out, fmt, ap);
	va_end(ap);
	return rc;
}

/* cmocka leaves a failed test through longjmp (__longjmp_chk, as
 * Debian builds it with _FORTIFY_SOURCE): check for leaks first, once,
 * while the test's frame is live.  LeakSanitizer then exits with its
 * report, or marks the end-of-process check done. */
static void
leak_check_once(void)
{
	static atomic_int checked;

	if (atomic_load(&injected) && !atomic_exchange(&checked, 1))
		__lsan_do_leak_check();
}

void __longjmp_chk(struct __jmp_buf_tag env[1], int val)
    __attribute__((noreturn));

void
__longjmp_chk(struct __jmp_buf_tag env[1], int val)
{
	static void (*real)(struct __jmp_buf_tag[1], int);

	leak_check_once();
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "__longjmp_chk");
	real(env, val);
	abort(); /* not reached */
}

void
longjmp(struct __jmp_buf_tag env[1], int val)
{
	static void (*real)(struct __jmp_buf_tag[1], int);

	leak_check_once();
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "longjmp");
	real(env, val);
	abort(); /* not reached */
}
