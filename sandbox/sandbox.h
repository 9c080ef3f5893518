/*
 * sandbox: the process sandbox of a lease.  A pid-1 init in fresh pid,
 * mount, uts, ipc, net and cgroup namespaces (plus user when the provider
 * is not root), pivot_root into a root of read-only binds, an unprivileged
 * uid, no capabilities, no_new_privs, a seccomp deny-list and rlimits; a
 * cgroup (v2 or v1) for limits and metering, or rusage when none is
 * writable.  The provider's one privileged module; see docs/sandbox.md.
 */
#ifndef LODGE_PROVIDER_SANDBOX_H
#define LODGE_PROVIDER_SANDBOX_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/cgroup.h"
#include "sandbox/volume.h"

#define SANDBOX_UID_DEFAULT 65534u
#define SANDBOX_TMP_DEFAULT (64u << 20)
#define SANDBOX_DATA_DEFAULT (64u << 20)
/* An image's user namespace maps this many ids (0..65535) by default, as
 * one /etc/subuid line does. */
#define SANDBOX_IDS_DEFAULT 65536u
/* overlayfs stacks at most 500 lower layers. */
#define SANDBOX_LAYERS_MAX 500
#define SANDBOX_VOLUMES_MAX 16

/* At most this many volumes mounted at their paths (spec->mounts). */
#define SANDBOX_MOUNTS_MAX 16

/* A volume at its mount path inside the root (sandbox/volume.h): a tmpfs
 * is mounted by the sandbox's child; any other (ext4 from a loop device)
 * by the caller's process as a detached mount (idmapped into an image's
 * user namespace: ids on it are the namespace's) that the child moves
 * into place.  Mounted after the root is built and before pivot_root,
 * every path component resolved inside the root (a symlink cannot lead
 * out); separate mounts, they stay writable under a read-only /. */
struct sandbox_mount {
	const char *path; /* absolute, inside; volume_check_path */
	struct volume_mount m;
};

/* A named volume of an image's root: a tmpfs of bytes at path (inside,
 * absolute), created when the image lacks it. */
struct sandbox_volume {
	const char *path;
	uint64_t bytes;
};

/*
 * An OCI image as the root file system (docs/sandbox.md, "Images"): the
 * unpacked layers read-only, each through an idmapped mount, stacked by
 * overlayfs under a writable tmpfs layer of upper_bytes, in a user
 * namespace mapping ids 0..id_count-1 to id_base..: the image's root is
 * root inside and id_base on the host, never the host's root.  Needs a
 * root provider (a multi-id map, idmapped mounts: Linux >= 5.19).
 * Borrowed for the duration of sandbox_start() only.
 */
struct sandbox_image {
	const char *const *layers; /* unpacked layer dirs, bottom first */
	size_t n_layers; /* 1..SANDBOX_LAYERS_MAX */
	uint64_t upper_bytes; /* the writable layer; 0: SANDBOX_DATA_DEFAULT */
	uid_t id_base; /* host uid and gid of root inside; not 0 */
	uint32_t id_count; /* ids mapped; 0: SANDBOX_IDS_DEFAULT */
	uid_t uid; /* the workload's ids inside (< id_count); */
	gid_t gid; /* 0 is root of the namespace, with
	                             the container default capabilities */
	const struct sandbox_volume *volumes;
	size_t n_volumes; /* at most SANDBOX_VOLUMES_MAX */
};

/* What to run and within which limits.  All pointers are borrowed for the
 * duration of sandbox_start() only.  Fill with sandbox_spec_init() first. */
struct sandbox_spec {
	const char *const *argv; /* argv[0]: a path, or looked up in PATH */
	const char *const *env; /* NULL: PATH, HOME=/tmp, LANG=C.UTF-8 */
	const char *name; /* [A-Za-z0-9._-]: hostname, cgroup name;
	                             unique among live sandboxes */
	const char *app_dir; /* host dir bound read-only at /app, or NULL */
	const struct sandbox_image *image; /* an image as the root (then
	                             no app_dir, /data, uid or gid), or
	                             NULL: the host's read-only userland */
	const char *workdir; /* inside; default /app, or / without app;
	                             an image's is created when missing */
	uint64_t data_bytes; /* size of /data (tmpfs) */
	uint64_t tmp_bytes; /* size of /tmp (tmpfs) */
	uint64_t cpu_millis; /* 1000 = one CPU; 0 = no limit */
	uint64_t memory_bytes; /* 0 = no limit */
	uint64_t pids_max; /* 0 = no limit */
	struct cgroup_config cgroup; /* mode (default auto) and roots */
	const char *cgroup_parent; /* default "lodge" */
	const char *run_dir; /* empty host dir where the root is staged
	                             (in the sandbox's own mount namespace);
	                             default /run/lodge/sandbox as root,
	                             $TMPDIR/lodge-sandbox-<uid> otherwise */
	uid_t uid; /* inside; 0 means SANDBOX_UID_DEFAULT:
	                             the workload never runs as root */
	gid_t gid; /* 0 means SANDBOX_UID_DEFAULT */
	int stdin_fd; /* -1: /dev/null; borrowed */
	int stdout_fd; /* -1: /dev/null, unless stdout_path */
	int stderr_fd;
	const char *stdout_path; /* capture to this file (created, 0640) */
	const char *stderr_path;
	uint64_t log_max_bytes; /* cap of each captured file; 0 = 1 MiB */
	/* A deployment network (sandbox/net.h; docs/sandbox.md): */
	const char *hosts_extra; /* lines appended to the generated
	                             /etc/hosts (service names), or NULL */
	const char *resolv_conf; /* /etc/resolv.conf's text instead of
	                             the host's file, or NULL */
	int (*net_setup)(void *arg, int netns_fd); /* called by the parent
	                             once the child is cloned and before it
	                             runs anything, with its network
	                             namespace (e.g. net_replica_attach);
	                             < 0 fails the start (err.h message) */
	void *net_arg; /* net_setup's first argument */
	const char *status_path; /* init writes the workload's wait status
	                             here too (created, 0600), for a process
	                             that adopts the sandbox; NULL: a pipe */
	int die_with_parent; /* SIGKILL the sandbox if the caller dies;
	                             0: it outlives the caller (its init
	                             copies the captured output itself), for
	                             a later process to adopt */
	const struct sandbox_mount *mounts; /* volumes at their paths, in
	                             order (a later one may sit in an
	                             earlier one); borrowed */
	size_t n_mounts; /* at most SANDBOX_MOUNTS_MAX */
};

/* What names a running sandbox to a later process: its init's host pid
 * and start time (clock ticks after boot, /proc/PID/stat field 22), so
 * that a reused pid is never taken for it. */
struct sandbox_ref {
	pid_t pid;
	uint64_t start_ticks;
};

enum sandbox_metering {
	SANDBOX_METER_CGROUP2 = CGROUP_V2,
	SANDBOX_METER_CGROUP1 = CGROUP_V1,
	SANDBOX_METER_RUSAGE = CGROUP_NONE,
};

struct sandbox_usage {
	uint64_t cpu_ms;
	uint64_t wall_ms;
	uint64_t mem_peak_bytes;
	uint64_t oom_kills;
	uint64_t pids_peak; /* 0 when the mode cannot tell (rusage) */
	enum sandbox_metering metering;
};

struct sandbox;

/* Defaults: fds -1, sizes SANDBOX_*_DEFAULT, parent "lodge", auto cgroup. */
void sandbox_spec_init(struct sandbox_spec *spec);

/* Start the workload and return once it has exec'd (or failed to).  On
 * success *out is owned by the caller (sandbox_free).  Errors: ERR_INVAL
 * for a bad spec, ERR_REJECT for a limit the host cannot enforce in the
 * requested cgroup mode (or an image without root), ERR_NOTFOUND when
 * argv[0] cannot be found inside, ERR_IO for a failed system call (the
 * message names the step). */
int sandbox_start(const struct sandbox_spec *spec, struct sandbox **out);

/* Wait up to timeout_ms (-1: forever, 0: poll) for the workload to end.
 * *exited is 1 once it has, with *status its wait status (WIFEXITED /
 * WIFSIGNALED; an OOM kill is SIGKILL).  The final usage is read then.
 * EINTR returns 0 with *exited 0, so a signal handler can act. */
int sandbox_wait(struct sandbox *sb, int timeout_ms, int *exited, int *status);

/* Stop: SIGTERM to the workload (via init), up to grace_ms for it to end,
 * then SIGKILL to the whole pid namespace and cgroup, which is emptied.
 * *status (may be NULL) as for sandbox_wait. */
int sandbox_stop(struct sandbox *sb, int grace_ms, int *status);

/* Wait for the workload to end as a foreground supervisor does: each
 * signal a handler stores in *pending is forwarded to it (and *pending
 * reset to 0).  *status as for sandbox_wait. */
int sandbox_wait_forwarding(struct sandbox *sb, volatile sig_atomic_t *pending,
    int *status);

/* Send sig to the workload (init forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT,
 * SIGUSR1, SIGUSR2; SIGKILL ends the namespace). */
int sandbox_signal(struct sandbox *sb, int sig);

/* Usage so far (live while running, final after exit). */
int sandbox_usage(struct sandbox *sb, struct sandbox_usage *out);

/* Container default capabilities (Docker's default set: chown,
 * dac_override, fowner, fsetid, kill, setgid, setuid, setpcap,
 * net_bind_service, net_raw, sys_chroot, mknod, audit_write, setfcap) as a
 * bit mask of CAP_* numbers: what an image's root keeps inside its user
 * namespace. */
uint64_t sandbox_image_caps(void);

/* Is this host able to run images (root, overlayfs, idmapped mounts)?
 * 1, or 0 with the reason in why (may be NULL). */
int sandbox_image_supported(char *why, size_t cap);

/* Host pid of the sandbox's init (pid 1 inside), for setns() helpers. */
pid_t sandbox_pid(const struct sandbox *sb);

/* An O_CLOEXEC fd of the sandbox's network namespace (borrowed; valid
 * until sandbox_free), for the gateway to setns(fd, CLONE_NEWNET) in a
 * thread or helper and connect to the lease's loopback. */
int sandbox_netns_fd(const struct sandbox *sb);

/* An O_CLOEXEC fd of the sandbox's user namespace (borrowed), or -1 when
 * it has none (a root provider).  A provider without root joins it first,
 * in a single-threaded helper, to be allowed into the network namespace. */
int sandbox_userns_fd(const struct sandbox *sb);

/* Why metering fell back from a better mode ("" when it did not). */
const char *sandbox_metering_note(const struct sandbox *sb);
/* How sb is metered (what sandbox_usage's metering says), without
 * reading its counters. */
enum sandbox_metering sandbox_metering(const struct sandbox *sb);

/* The reference of a running sandbox (ERR_NOTFOUND once it has ended). */
int sandbox_ref(const struct sandbox *sb, struct sandbox_ref *out);

/* Adopt a sandbox another process started (die_with_parent 0) and left
 * running: spec as it was started (name, cgroup, limits, status_path;
 * argv, stdio and capture paths are not used: its init goes on writing
 * the capture files).  Checks that ref->pid is still that sandbox's init
 * (start time, name, cgroup) and opens a pidfd, its namespaces and its
 * cgroup.  ERR_NOTFOUND when it has ended.  The adopted sandbox is not
 * this process's child: its end is seen on the pidfd, its status read
 * from status_path (SIGKILL when none was written), its CPU metered by
 * its cgroup only (nothing in rusage mode).  On success *out is the
 * caller's, as from sandbox_start. */
int sandbox_adopt(const struct sandbox_spec *spec,
    const struct sandbox_ref *ref, struct sandbox **out);

/* Let go of sb without stopping it: the workload and its cgroup stay, for
 * a later process to adopt.  Accepts NULL. */
void sandbox_release(struct sandbox *sb);

/* Kill whatever is left, remove the cgroup, close, free.  Accepts NULL;
 * leaves the error state (err.h) as it found it. */
void sandbox_free(struct sandbox *sb);

/* ---- pure helpers ---- */

/* The command name and start time (field 22) of a /proc/PID/stat text. */
int sandbox_parse_proc_stat(const char *text, char *comm, size_t len,
    uint64_t *start_ticks);

/* Shell-style exit code of a wait status: the code, or 128+signal. */
int sandbox_exit_code(int status);

/* "cgroup2", "cgroup1" or "rusage". */
const char *sandbox_metering_name(enum sandbox_metering m);

/* One line "usage: cpu_ms=N wall_ms=N mem_peak_bytes=N oom=0|1
 * pids_peak=N metering=M" (no newline) into buf. */
void sandbox_format_usage(const struct sandbox_usage *u, char *buf, size_t len);

/* Sizes: "1048576", "512k", "64M", "64m", "1G", "64Mi", "1Gi" (k/M/G/T,
 * in either case, are binary, as in Kubernetes' Ki/Mi/Gi and docker's
 * 512m; "kB"/"MB"/"GB" are decimal). */
int sandbox_parse_size(const char *s, const char *what, uint64_t *out);

/* A uid for the workload: a number, not 0 (root), at most 2^32 - 2. */
int sandbox_parse_uid(const char *s, const char *what, uid_t *out);

/* CPU units: "1", "0.5", "2.25", "250m" -> millicpus (1000 = one CPU). */
int sandbox_parse_cpu(const char *s, const char *what, uint64_t *millis);

#endif
