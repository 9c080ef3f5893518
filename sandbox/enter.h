/*
 * enter: run one more process inside a running sandbox, as `tenant exec`
 * and `tenant shell` need: its cgroups, its namespaces and, for the
 * process, exactly the workload's identity (uids, groups, capabilities,
 * rlimits, no_new_privs, the seccomp filter), never more.  For a
 * single-threaded helper process (`provider sandbox enter`): it changes
 * the calling process's namespaces for good.
 */
#ifndef LODGE_SANDBOX_ENTER_H
#define LODGE_SANDBOX_ENTER_H

#include <stdint.h>
#include <sys/types.h>

/* What to run: argv (argv[0] a path, or looked up in the workload's
 * PATH), extra environment entries "K=V" over the workload's own
 * (NULL-terminated, may be NULL), tty: standard input is a terminal to
 * become the process's controlling one (a new session). */
struct sandbox_enter {
	const char *const *argv;
	const char *const *env;
	int tty;
	/* the init's start time (/proc/PID/stat field 22, as struct
	 * sandbox_ref has it), 0: not checked.  A pid the sandbox's init
	 * left and another sandbox's init took is then never entered. */
	uint64_t start_ticks;
};

/* Join the sandbox whose init is init_pid (its command name must be
 * "lodge-init", and it must run a workload): this process moves into its
 * (and, when e->start_ticks is not 0, must have started then), this
 * process moves into its
 * cgroups and its user (when it has its own), ipc, uts, net, cgroup, pid
 * and mount namespaces and takes its rlimits; a child then takes the
 * workload's identity (read from the workload and its init: uids, gids,
 * groups, capability sets and bounding set), its working directory and
 * environment, and execs e->argv.  This process waits for the child,
 * forwarding SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it;
 * *status gets its wait status.  Errors: ERR_NOTFOUND when init_pid is
 * not a running sandbox's init or has no workload, ERR_IO naming the
 * step that failed (also the child's, before its exec: a command not
 * found inside is ERR_NOTFOUND). */
int sandbox_enter_run(pid_t init_pid, const struct sandbox_enter *e,
    int *status);

#endif
