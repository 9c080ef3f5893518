/*
 * job: work a tenant's manifest asks of the provider before anything runs
 * (a fetch, a git clone, a wasm compile), done by a child process (this
 * provider's binary, `provider prepare ...`) so that the daemon's loop
 * never waits for it: started, polled without blocking, killed at its
 * deadline or when its lease closes.  It runs under limits: a cgroup of
 * its own (CPU, memory, processes, like a sandbox's), RLIMIT_CPU, and,
 * where no cgroup can be written, RLIMIT_AS for memory.
 */
#ifndef LODGE_PROVIDER_JOB_H
#define LODGE_PROVIDER_JOB_H

#include <stdint.h>
#include <sys/types.h>

#include "sandbox/cgroup.h"

struct job_spec {
	const char *const *argv; /* argv[0] an absolute path; borrowed */
	const char *name; /* cgroup name, unique among live jobs */
	const char *cgroup_parent; /* default "lodge" */
	struct cgroup_config cgroup; /* mode and roots (tests) */
	uint64_t cpu_millis; /* 0: no CPU limit */
	uint64_t memory_bytes; /* 0: none */
	uint64_t pids_max; /* 0: none */
	uint64_t cpu_seconds; /* RLIMIT_CPU; 0: none */
	int64_t timeout_ms; /* wall clock from the start; 0: none */
};

struct job_result {
	int exit_code; /* shell-style: the code, or 128+signal */
	int timed_out; /* killed at its deadline */
	int oom; /* its cgroup saw an OOM kill */
	uint64_t cpu_ms; /* CPU time its cgroup used (0 without one) */
	uint64_t mem_peak_bytes;
	char out[4096]; /* its stdout (the first bytes) */
	char err[8192]; /* its stderr (the last bytes) */
};

struct job;

/* Start the job (its stdio: /dev/null in, pipes out); *out is the
 * caller's (job_free).  The child dies with the daemon (a restarted
 * daemon starts the work again).  ERR_IO naming the step on failure. */
int job_start(const struct job_spec *spec, struct job **out);

/* Collect output and see whether it ended, without blocking: 0 while it
 * runs (it is killed first once past its deadline), 1 once it has ended
 * and *res is filled (again at each later call). */
int job_poll(struct job *j, struct job_result *res);

/* Kill the job (and whatever it started: its process group and cgroup)
 * and reap it.  Then job_poll returns 1 at once. */
void job_kill(struct job *j);

/* Its pid, for logs. */
pid_t job_pid(const struct job *j);

/* Kill if still running, remove its cgroup, free.  Accepts NULL. */
void job_free(struct job *j);

#endif
