/*
 * seccomp_policy: the sandbox's system-call deny-list (see seccomp_policy.h),
 * compiled with libseccomp and exported as classic BPF (seccomp(2)).
 */
#include <errno.h>
#include <linux/personality.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "sandbox/seccomp_policy.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* Names unknown to this architecture or this libseccomp are skipped. */
const char *const seccomp_policy_denied[] = {
	/* file system namespaces and mounts */
	"mount", "umount", "umount2", "pivot_root", "chroot", "move_mount",
	"open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
	/* other namespaces */
	"unshare", "setns",
	/* looking into or steering other processes */
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	"pidfd_getfd", "process_madvise",
	/* the kernel itself */
	"init_module", "finit_module", "delete_module", "create_module",
	"query_module", "get_kernel_syms", "kexec_load", "kexec_file_load",
	"bpf", "perf_event_open", "lookup_dcookie", "syslog", "_sysctl",
	"sysfs", "nfsservctl", "uselib", "ustat", "vhangup",
	/* keyrings */
	"keyctl", "add_key", "request_key",
	/* clocks */
	"clock_settime", "clock_adjtime", "settimeofday", "adjtimex", "stime",
	/* the machine */
	"reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
	"sethostname", "setdomainname", "iopl", "ioperm", "modify_ldt", "vm86",
	"vm86old",
	/* file handles bypass path permissions (the "shocker" escape) */
	"open_by_handle_at", "name_to_handle_at",
	/* large attack surface, not needed by a workload */
	"userfaultfd", "fanotify_init", "io_uring_setup", "io_uring_enter",
	"io_uring_register", "move_pages", "migrate_pages", NULL
};

static pthread_once_t policy_once = PTHREAD_ONCE_INIT;
static struct sock_fprog policy_prog;
static int policy_rc;
static char policy_msg[256];

static int
deny_errno(scmp_filter_ctx ctx, int err, const char *name, unsigned int n,
    const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return 0;
	rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO((unsigned)err), nr, n,
	    cmp);
	/* A pseudo-syscall that does not exist on this ABI is fine. */
	if (rc == -EDOM || rc == -EOPNOTSUPP)
		return 0;
	if (rc < 0) {
		snprintf(policy_msg, sizeof(policy_msg),
		    "seccomp rule for %s: "
		    "%s",
		    name, strerror(-rc));
		return -1;
	}
	return 0;
}

static int
build(scmp_filter_ctx ctx)
{
	static const unsigned long ns_flags[] = {
		CLONE_NEWNS,
		CLONE_NEWUTS,
		CLONE_NEWIPC,
		CLONE_NEWUSER,
		CLONE_NEWPID,
		CLONE_NEWNET,
		CLONE_NEWCGROUP,
	};
	/* personality(2) flags that weaken the address space; checked only
	 * when bit 31 is clear, so the query personality(0xffffffff) works. */
	static const unsigned long persona_flags[] = {
		READ_IMPLIES_EXEC,
		ADDR_NO_RANDOMIZE,
		MMAP_PAGE_ZERO,
		ADDR_COMPAT_LAYOUT,
		ADDR_LIMIT_3GB,
		ADDR_LIMIT_32BIT,
	};
	struct scmp_arg_cmp cmp;
	size_t i;

	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	        SCMP_ACT_KILL_PROCESS) < 0) {
		snprintf(policy_msg, sizeof(policy_msg),
		    "seccomp: cannot set "
		    "the bad-architecture action");
		return -1;
	}
	for (i = 0; seccomp_policy_denied[i] != NULL; i++)
		if (deny_errno(ctx, EPERM, seccomp_policy_denied[i], 0, NULL) <
		    0)
			return -1;
	/* clone() that makes namespaces; clone3 passes its flags in memory a
	 * filter cannot read, so it reports ENOSYS and libc falls back to
	 * clone(), which is checked. */
	for (i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]);
		if (deny_errno(ctx, EPERM, "clone", 1, &cmp) < 0)
			return -1;
	}
	if (deny_errno(ctx, ENOSYS, "clone3", 0, NULL) < 0)
		return -1;
	for (i = 0; i < sizeof(persona_flags) / sizeof(persona_flags[0]); i++) {
		cmp = SCMP_A0(SCMP_CMP_MASKED_EQ,
		    persona_flags[i] | 0x80000000u, persona_flags[i]);
		if (deny_errno(ctx, EPERM, "personality", 1, &cmp) < 0)
			return -1;
	}
	/* Typing into the controlling terminal of the provider. */
	cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI);
	if (deny_errno(ctx, EPERM, "ioctl", 1, &cmp) < 0)
		return -1;
	cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX);
	if (deny_errno(ctx, EPERM, "ioctl", 1, &cmp) < 0)
		return -1;
	/* vsock is not network-namespaced: it would reach the host. */
	cmp = SCMP_A0(SCMP_CMP_EQ, AF_VSOCK, 0);
	if (deny_errno(ctx, EAFNOSUPPORT, "socket", 1, &cmp) < 0)
		return -1;
	return 0;
}

static void
compile_once(void)
{
	scmp_filter_ctx ctx = NULL;
	char *buf = NULL;
	size_t cap = 0, len = 0;
	ssize_t n;
	int fd = -1;

	policy_rc = ERR_IO;
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		snprintf(policy_msg, sizeof(policy_msg), "seccomp_init failed");
		goto fail;
	}
	if (build(ctx) < 0)
		goto fail;
	/* libseccomp 2.5 exports to a file descriptor only. */
	if ((fd = memfd_create("lodge-seccomp", MFD_CLOEXEC)) < 0) {
		snprintf(policy_msg, sizeof(policy_msg), "memfd_create: %s",
		    strerror(errno));
		goto fail;
	}
	if (seccomp_export_bpf(ctx, fd) < 0) {
		snprintf(policy_msg, sizeof(policy_msg),
		    "seccomp_export_bpf "
		    "failed");
		goto fail;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto fail;
	for (;;) {
		if (len == cap) {
			char *nb = realloc(buf, cap ? cap * 2 : 4096);
			if (nb == NULL) {
				policy_rc = ERR_NOMEM;
				snprintf(policy_msg, sizeof(policy_msg),
				    "out of memory");
				goto fail;
			}
			buf = nb;
			cap = cap ? cap * 2 : 4096;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0 || len % sizeof(struct sock_filter) != 0 ||
	    len / sizeof(struct sock_filter) > 0xffff) {
		snprintf(policy_msg, sizeof(policy_msg),
		    "seccomp: exported "
		    "program has a bad size %zu",
		    len);
		goto fail;
	}
	policy_prog.len = (unsigned short)(len / sizeof(struct sock_filter));
	policy_prog.filter = (struct sock_filter *)(void *)buf;
	policy_rc = 0;
	close(fd);
	seccomp_release(ctx);
	return;
fail:
	if (policy_msg[0] == '\0')
		snprintf(policy_msg, sizeof(policy_msg), "seccomp export: %s",
		    strerror(errno));
	free(buf);
	if (fd >= 0)
		close(fd);
	if (ctx != NULL)
		seccomp_release(ctx);
}

int
seccomp_policy_get(const struct sock_fprog **out)
{
	pthread_once(&policy_once, compile_once);
	if (policy_rc < 0)
		return err_set(policy_rc, "%s", policy_msg);
	*out = &policy_prog;
	return 0;
}
