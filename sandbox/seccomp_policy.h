/*
 * seccomp_policy: the system-call filter of a process sandbox, built with
 * libseccomp.  Default allow, with an explicit deny-list (EPERM) of what a
 * workload has no business calling; foreign architectures and the x32 ABI
 * kill the process.  See docs/sandbox.md for the list and the reasons.
 */
#ifndef LODGE_PROVIDER_SECCOMP_POLICY_H
#define LODGE_PROVIDER_SECCOMP_POLICY_H

#include <linux/filter.h>

/* The compiled BPF program, built once per process (thread-safe) and kept
 * for its lifetime; *out is borrowed.  Load it in the sandboxed process
 * with prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, out) after
 * PR_SET_NO_NEW_PRIVS: that needs no allocation, so it is safe after
 * clone() in a multithreaded provider.  Returns 0, ERR_IO or ERR_NOMEM. */
int seccomp_policy_get(const struct sock_fprog **out);

/* The names of the system calls denied outright (NULL-terminated), for the
 * docs and the tests. */
extern const char *const seccomp_policy_denied[];

#endif
