/*
 * wasm_guard: the signal handler that turns a fault in a guard-page memory
 * into the running module's "out of bounds" trap, and the check whether
 * this process can afford the reservations (wasm/guard.h).
 */
#include "wasm/guard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/err.h"

/* What this thread runs, for the handler: written only by the thread
 * itself, outside the handler. */
static __thread struct wasm_guard_frame cur;

static struct sigaction old_segv, old_bus;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

/* Bytes mapped by this process now (/proc/self/statm), 0 if unknown. */
static uint64_t
mapped_bytes(void)
{
	unsigned long long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &pages) != 1)
		pages = 0;
	fclose(f);
	return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

int
wasm_guard_usable(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)rl.rlim_cur <
	        mapped_bytes() + WASM_ABI_GUARD_RESERVE + (1ull << 30))
		return 0;
	void *p = mmap(NULL, WASM_ABI_GUARD_RESERVE, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	munmap(p, WASM_ABI_GUARD_RESERVE);
	return 1;
}

int
wasm_bounds_resolve(int mode)
{
	if (mode == WASM_BOUNDS_AUTO)
		return wasm_guard_usable() ? WASM_BOUNDS_GUARD :
		                             WASM_BOUNDS_EXPLICIT;
	return mode;
}

const char *
wasm_bounds_name(int mode)
{
	switch (mode) {
	case WASM_BOUNDS_GUARD:
		return "guard";
	case WASM_BOUNDS_EXPLICIT:
		return "explicit";
	default:
		return "auto";
	}
}

int
wasm_bounds_parse(const char *s, const char *what, int *mode)
{
	if (strcmp(s, "auto") == 0)
		*mode = WASM_BOUNDS_AUTO;
	else if (strcmp(s, "guard") == 0)
		*mode = WASM_BOUNDS_GUARD;
	else if (strcmp(s, "explicit") == 0)
		*mode = WASM_BOUNDS_EXPLICIT;
	else
		return err_set(ERR_INVAL,
		    "%s: \"%s\": expected auto, guard or explicit", what, s);
	return 0;
}

/* Not ours: what would have happened without us. */
static void
pass_on(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *o = sig == SIGBUS ? &old_bus : &old_segv;
	struct sigaction dfl;

	if ((o->sa_flags & SA_SIGINFO) && o->sa_sigaction) {
		o->sa_sigaction(sig, si, uc);
		return;
	}
	if (!(o->sa_flags & SA_SIGINFO) && o->sa_handler != SIG_DFL &&
	    o->sa_handler != SIG_IGN) {
		o->sa_handler(sig);
		return;
	}
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

static void
on_fault(int sig, siginfo_t *si, void *uc)
{
	const struct wasm_abi_module *abi = cur.abi;

	if (abi && abi->guard_pages) {
		struct wasm_abi_mem *m = abi->memory(cur.inst);
		uintptr_t a = (uintptr_t)si->si_addr;
		uintptr_t base = m ? (uintptr_t)m->data : 0;
		if (base && a >= base && a - base < WASM_ABI_GUARD_RESERVE)
			abi->trap(WASM_TRAP_OOB); /* longjmp: no return */
	}
	pass_on(sig, si, uc);
}

/* Ours, for sig, unless it already is (0); what was there is passed on
 * to (1); -1 on error. */
static int
install_one(int sig, struct sigaction *old)
{
	struct sigaction sa, now;

	if (sigaction(sig, NULL, &now) < 0)
		return -1;
	if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_fault)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	/* SA_NODEFER: the trap leaves the handler by longjmp, and the
	 * signal must not stay blocked after it. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, old) < 0 ? -1 : 1;
}

int
wasm_guard_install(void)
{
	int rc = 0;

	/* Checked every time: code that sets its own handler and later puts
	 * back the one it found (a test framework) may have removed ours. */
	pthread_mutex_lock(&install_lock);
	switch (install_one(SIGSEGV, &old_segv)) {
	case 0:
		break; /* ours already: SIGBUS too */
	case 1:
		if (install_one(SIGBUS, &old_bus) >= 0)
			break;
		/* fall through */
	default:
		rc = err_set(ERR_IO, "sigaction: %s", strerror(errno));
	}
	pthread_mutex_unlock(&install_lock);
	return rc;
}

void
wasm_guard_enter(const struct wasm_abi_module *abi, void *inst,
    struct wasm_guard_frame *saved)
{
	*saved = cur;
	cur.abi = abi;
	cur.inst = inst;
}

void
wasm_guard_leave(const struct wasm_guard_frame *saved)
{
	cur = *saved;
}
