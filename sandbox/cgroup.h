/*
 * cgroup: one lease's control group, for limits (CPU, memory, pids) and
 * metering (CPU time, memory peak, OOM kills, pids peak).  Speaks cgroup v2
 * (cpu.max, memory.max, pids.max; cpu.stat, memory.peak, memory.events) and
 * cgroup v1 (cpu, cpuacct, memory, pids hierarchies); the caller falls back
 * to rusage metering when neither can be written (CGROUP_NONE).
 */
#ifndef LODGE_PROVIDER_CGROUP_H
#define LODGE_PROVIDER_CGROUP_H

#include <stdint.h>
#include <sys/types.h>

enum cgroup_mode {
	CGROUP_AUTO = 0, /* v2 if it has cpu+memory+pids, else v1, else none */
	CGROUP_V2,
	CGROUP_V1,
	CGROUP_NONE, /* no cgroup: metering by rusage */
};

/* Where the hierarchies are mounted; NULL fields take the defaults
 * (v2: /sys/fs/cgroup when it is cgroup2, else /sys/fs/cgroup/unified;
 * v1: /sys/fs/cgroup/<controller>).  Tests point these at a temp dir. */
struct cgroup_config {
	enum cgroup_mode mode;
	const char *v2_root;
	const char *v1_root;
};

/* 0 means "no limit" for each field. */
struct cgroup_limits {
	uint64_t cpu_millis; /* 1000 = one CPU */
	uint64_t memory_bytes; /* swap is capped at 0 where the host allows */
	uint64_t pids_max;
};

struct cgroup_usage {
	uint64_t cpu_usec;
	uint64_t mem_peak_bytes;
	uint64_t oom_kills;
	uint64_t pids_peak;
};

struct cgroup;

#define CGROUP_CPU_PERIOD_US 100000u

/* Create (or reuse, if a stale one is left over) the cgroup <parent>/<name>
 * in the mode cfg asks for, and write the limits.  In CGROUP_AUTO the first
 * mode that works wins and *why_not (may be NULL)
 * receives a malloc'd note, owned by the caller, of why the better modes
 * were passed over (NULL when none was).  On success *out is owned by the caller (cgroup_free).  Mode
 * CGROUP_NONE yields a cgroup object that does nothing.  Errors: ERR_INVAL
 * for a bad name, ERR_REJECT when a limit needs a controller that the
 * chosen hierarchy lacks, ERR_IO when a file cannot be written. */
int cgroup_new(const struct cgroup_config *cfg, const char *parent,
    const char *name, const struct cgroup_limits *lim, struct cgroup **out,
    char **why_not);

/* The mode actually in use (never CGROUP_AUTO), and its name
 * ("cgroup2", "cgroup1", "rusage"). */
enum cgroup_mode cgroup_mode(const struct cgroup *cg);
const char *cgroup_mode_name(enum cgroup_mode mode);

/* A mode as the command line names it: "auto", "v2", "v1" or "none";
 * ERR_INVAL naming what otherwise. */
int cgroup_mode_parse(const char *s, const char *what, enum cgroup_mode *out);

/* Directory of the cgroup (the memory one for v1); NULL in CGROUP_NONE. */
const char *cgroup_path(const struct cgroup *cg);

/* Move pid into the cgroup (every hierarchy for v1). */
int cgroup_attach(struct cgroup *cg, pid_t pid);

/* Read the counters.  Counters a hierarchy lacks, or that do not parse,
 * read as 0; the error state is left as it was. */
int cgroup_read_usage(const struct cgroup *cg, struct cgroup_usage *out);

/* SIGKILL every process in the cgroup and wait (up to timeout_ms) until it
 * is empty.  Returns ERR_IO if processes remain. */
int cgroup_kill_all(struct cgroup *cg, int timeout_ms);

/* Kill what remains, remove the directories, free.  Accepts NULL; leaves
 * the error state (err.h) as it found it. */
void cgroup_free(struct cgroup *cg);

/* Free the object only: the cgroup and what runs in it stay (a sandbox
 * left running for a later process).  Accepts NULL. */
void cgroup_release(struct cgroup *cg);

/* Pure helpers, exported for the tests. */
/* Parse "key value" lines (cpu.stat, memory.events, memory.oom_control)
 * and return the value of key; ERR_NOTFOUND when absent. */
int cgroup_parse_keyed(const char *text, const char *key, uint64_t *out);
/* Parse one number, "max" as UINT64_MAX. */
int cgroup_parse_value(const char *text, uint64_t *out);
/* Does a cgroup.controllers line name controller? */
int cgroup_has_controller(const char *controllers, const char *controller);
/* Format cpu.max ("max 100000" for 0, else "<quota> <period>"). */
void cgroup_format_cpu_max(uint64_t cpu_millis, char *buf, size_t len);
/* Check a cgroup name/parent: non-empty, [A-Za-z0-9._-/] only, no "..". */
int cgroup_check_name(const char *name, const char *what);
/* The super options ("rw,nsdelegate") of the fstype mount at mount_point
 * in mountinfo (the text of /proc/self/mountinfo; the last such mount),
 * into opts; ERR_NOTFOUND when there is none. */
int cgroup_mount_superopts(const char *mountinfo, const char *mount_point,
    const char *fstype, char *opts, size_t len);
/* Does the comma-separated list opts hold opt? */
int cgroup_has_option(const char *opts, const char *opt);

#endif
