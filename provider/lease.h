/*
 * lease: one lease on this provider, from lease.create to its stop.  Reads
 * the tenant's canonical manifest (the services of the order's placement),
 * runs each replica in a sandbox with its logs captured, restarts crashed
 * workloads with backoff, and keeps the lease's cumulative usage counters
 * (which only ever grow, across provider restarts too).  Not thread-safe:
 * the daemon serialises calls under its lock.
 */
#ifndef LODGE_PROVIDER_LEASE_H
#define LODGE_PROVIDER_LEASE_H

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/key.h"
#include "sandbox/sandbox.h"

#define LEASE_MAX_SERVICES 64
#define LEASE_MAX_REPLICAS (LEASE_MAX_SERVICES * 4)
#define LEASE_MAX_EXPOSE 16
#define LEASE_RESTART_MAX_MS 30000
#define LEASE_MAX_BLOBS 16

enum lease_status {
	LEASE_WAITING = 0, /* lease.create seen, no manifest yet */
	LEASE_RUNNING, /* manifest accepted, sandboxes started */
	LEASE_CLOSED, /* stopped; kept for status until forgotten */
};

/* Where a lease is in a pause (lease.pause / lease.resume). */
enum lease_pause {
	LEASE_PAUSE_NONE = 0, /* not paused */
	LEASE_PAUSE_STOPPING, /* lease.pause seen, its replicas stopping */
	LEASE_PAUSE_STOPPED, /* stopped; nothing starts, nothing metered */
};

/* The usage vector of state.h's lease.usage, cumulative. */
enum lease_counter {
	USAGE_CPU_MS,
	USAGE_MEM_MB_S,
	USAGE_STORAGE_MB_S,
	USAGE_REQUESTS,
	USAGE_EGRESS_BYTES,
	USAGE_FUEL,
	USAGE_COUNT
};

/* Default per-request fuel budget of a wasm HTTP function (LODGE_FUEL in
 * the provider's environment overrides it): about a second of work. */
#define LEASE_WASM_FUEL_DEFAULT 1000000000LL

/* Default fuel budget of one run of a wasm job (LODGE_JOB_FUEL in the
 * provider's environment overrides it): some twenty minutes of work. */
#define LEASE_WASM_JOB_FUEL_DEFAULT 1000000000000LL

/* Default wall-clock deadline of one request to a wasm HTTP function
 * (LODGE_DEADLINE_MS in the provider's environment overrides it). */
#define LEASE_WASM_DEADLINE_MS_DEFAULT 10000

/* Worker processes of one wasm HTTP function replica: one per CPU of its
 * profile, at least 2 (so one slow request does not hold up the rest),
 * at most 16. */
#define LEASE_WASM_WORKERS_MIN 2
#define LEASE_WASM_WORKERS_MAX 16

struct wasm_pool;
struct image_run_spec;
struct lease_rollout;

/* A forwarded port (provider/lease_net.h): host port on the provider to
 * port/proto of service, Akash's forwarded_ports. */
#define LEASE_MAX_PORTS 64
struct lease_port {
	char service[64];
	uint16_t port; /* the service's, inside the lease */
	uint16_t host; /* on the provider; 0: none yet */
	int udp; /* proto: 0 tcp, 1 udp */
};

struct lease_expose {
	uint16_t port; /* inside the lease */
	uint16_t as; /* advertised port (0: same) */
	int global; /* reachable through the gateway */
};

/* One replica of one service. */
struct lease_replica {
	char service[64]; /* the service's name */
	char name[96]; /* sandbox name, unique on the host */
	unsigned index; /* replica number */
	char **argv, **env; /* NULL-terminated; owned */
	char *image; /* as written; owned */
	char *app_dir; /* artifact dir bound at /app, or NULL */
	int wasm; /* runtime "wasm" */
	int wasm_job; /* wasm run as a sandboxed process
	                              (`provider wasm run`), not HTTP */
	int done; /* a job that exited 0: not restarted */
	char wasm_kind[16]; /* "wasm+file" or "wasm+https" */
	char *wasm_url; /* as in the manifest; owned */
	char wasm_sha256[65]; /* of the module; "" until resolved */
	char *wasm_path; /* the module in the artifact cache */
	struct wasm_pool *pool; /* HTTP function: the workers in sb;
	                              NULL when not running */
	uint64_t wasm_fuel; /* tenant's per-request fuel budget and */
	uint64_t wasm_deadline_ms; /* deadline (env LODGE_FUEL,
	                              LODGE_DEADLINE_MS); 0: the provider's */
	int oci; /* runtime "oci": an image
	                              (provider/image_run.h) */
	struct image_run_spec *oci_spec; /* what it runs, once pulled;
	                              NULL until then (not due) */
	struct lease_expose expose[LEASE_MAX_EXPOSE];
	size_t nexpose;
	uint64_t cpu_millis, memory_bytes, storage_bytes;
	uint64_t gpu_units; /* the profile's; checked against the order */
	uint64_t pids_req; /* the service's LODGE_PIDS; 0: not given */
	uint64_t pids_max; /* the sandbox's process limit (lease_set_pids;
	                      until then the provider defaults') */
	struct sandbox *sb; /* NULL when not running */
	uint64_t cpu_ms_done; /* CPU of sandboxes that ended */
	uint64_t cpu_ms_base; /* of an adopted sandbox's cgroup: what the
	                         lease's base counters already hold */
	uint64_t cpu_ms_live; /* its reading in the last lease_counters */
	unsigned restarts;
	int64_t next_start_ms; /* when to (re)start; 0: now */
	int64_t started_ms;
	int last_exit; /* shell-style exit code, -1 none */
	int cleaned; /* leftovers of a past process gone */
	int64_t prep_after_ms; /* daemon: retry a failed preparation
	                          (fetch, clone, compile) from then */
	char last_error[256];
};

struct lease {
	char scope[16]; /* sandbox name prefix: this provider's
	                              (several may share a host) */
	char id[24];
	char order[24];
	char placement[64];
	char tenant_text[KEY_TEXT_SIZE];
	uint8_t tenant[KEY_PUB_LEN];
	char manifest_hash[65];
	enum lease_status status;
	char close_reason[32];
	char close_detail[256]; /* why, for the tenant (a refusal) */
	json_t *manifest; /* canonical manifest; owned; or NULL */
	struct lease_replica *rep;
	size_t nrep;
	/* Metering: counters = base + what this process measured. */
	uint64_t base[USAGE_COUNT]; /* loaded at (re)start */
	uint64_t reported[USAGE_COUNT]; /* last sent in lease.usage */
	int64_t run_ms; /* reserved time since base */
	int64_t base_at_ms; /* wall clock base was saved at (0: unknown) */
	_Atomic uint64_t requests, egress_bytes; /* gateway, since base */
	uint64_t mem_bytes, storage_bytes; /* reserved, all replicas */
	char metering[16]; /* "cgroup2", "cgroup1", "rusage" */
	char logs_dir[PATH_MAX]; /* daemon: where replicas log (wasm
	                                   jobs' usage lines are read there) */
	_Atomic uint64_t fuel; /* wasm requests, jobs */
	char blobs[LEASE_MAX_BLOBS][65]; /* uploaded, in order */
	size_t nblobs;
	json_t *saved_sandboxes; /* lease_from_json: those left running by
	                            the last process, for lease_adopt */
	int started_posted; /* lease.started is in the ledger */
	json_t *manifest_request; /* the tenant's signed manifest POST
	                              (reqsig envelope, decoded): the
	                              proof lease.started carries; owned */
	int64_t started_at_ms; /* sequencer time of lease.started
	                              (0: not known yet) */
	int64_t started_retry_ms; /* daemon: post lease.started again
	                              no sooner than this */
	int final_posted; /* final usage after stop sent */
	int64_t created_ms;
	char pending_close[32]; /* daemon: stop with this reason */
	int post_close; /* daemon: also sign lease.close */
	/* The deployment network (provider/lease_net.h): */
	struct lease_port ports[LEASE_MAX_PORTS]; /* forwarded; saved, so a
	                             restart keeps the same host ports */
	size_t nports;
	int net_up; /* its network exists in this process */
	_Atomic uint64_t net_egress; /* bytes out of its network, as
	                             counted since base */
	uint64_t net_egress_at; /* its kernel counter's value that base
	                             holds already (an adopted network's
	                             counter goes on; 0 for a new one) */
	struct lease_rollout *rollout; /* a tenant's update being rolled
	                                  out (provider/lease_update.h) */
	/* lease.pause (its escrow ran dry, docs/state.md "Pause"): the
	 * workload stopped, its volumes, forwarded ports and network kept
	 * until lease.resume or the close.  Saved. */
	enum lease_pause pause;
	int resume_after; /* daemon: lease.resume seen while stopping */
	int64_t paused_ms; /* the market's paused_ms: time paused before,
	                      left out of the usage bound */
	struct lease *next;
};

/* A new lease waiting for its manifest.  The caller owns *out. */
int lease_new(const char *id, const char *order, const char *tenant_text,
    const char *manifest_hash, const char *placement, struct lease **out);
void lease_free(struct lease *l);

/* Check a posted manifest against the lease: its canonical hash must be
 * the order's (ERR_CONFLICT naming both), and every service deployed in
 * the order's placement must be runnable here ("process" with a host or
 * git image; "wasm": an HTTP function when it has a global expose and
 * no command/args, else a job run by `provider wasm run` in the sandbox;
 * "oci": an image, pulled by provider/image_run.h before its replicas
 * are due; ERR_REJECT with the reason otherwise).  On success the lease holds
 * the manifest and its replicas (not yet started).  ERR_INVAL: malformed. */
int lease_set_manifest(struct lease *l, const json_t *manifest);

/* The process limit of each replica: per_cpu per CPU of its profile
 * (rounded up, at least one), at most ceiling; a service's LODGE_PIDS
 * (a positive integer, checked by lease_set_manifest) replaces it, and
 * one above ceiling refuses the lease (ERR_REJECT naming
 * services.NAME.env.LODGE_PIDS and the ceiling). */
int lease_set_pids(struct lease *l, uint64_t per_cpu, uint64_t ceiling);

/* Has replica r what it needs to start: nothing for a host image, its
 * app dir (a git checkout, a wasm module's compiled app dir) else. */
int lease_replica_ready(const struct lease_replica *r);

/* Replicas due to (re)start at now_ms (ready ones only): the first start, and restarts
 * after a crash with backoff 1 s doubling to LEASE_RESTART_MAX_MS.  Their
 * indexes go to idx (at most max); returns how many. */
size_t lease_due(const struct lease *l, int64_t now_ms, size_t *idx,
    size_t max);

/* Start replica i in a sandbox (logs under logs_dir, host settings from
 * base), after emptying what an earlier provider process may have left in
 * its cgroup.  Reads only what the manifest fixed, so the daemon calls it
 * without its lock (a start takes a while); *out goes to lease_spawned.
 * Returns sandbox_start's code. */
int lease_spawn(const struct lease *l, size_t i, const char *logs_dir,
    const struct sandbox_spec *base, struct sandbox **out);

/* After a restart (lease_from_json, lease_set_manifest): take over the
 * sandboxes the last process left running (sandbox_adopt, with the spec
 * lease_spawn would use), so that their workloads go on; their CPU is
 * metered on from what the saved counters hold.  A wasm HTTP function's
 * sandbox is not adopted (its workers' control channel ended with the
 * last process): it is restarted.  Replicas whose sandbox ended meanwhile
 * are left to start as usual.  The replicas adopted ran on while no
 * provider process was there: the time since the saved counters is billed
 * as their reserved memory and storage (lease_bill_downtime).  Returns
 * how many were adopted. */
size_t lease_adopt(struct lease *l, const char *logs_dir,
    const struct sandbox_spec *base, int64_t now_ms);
/* Bill the time from the saved counters (base_at_ms) to now_ms as
 * mem_bytes and storage_bytes reserved (the replicas that ran on: a
 * replica that ended while the provider was down is not billed for that
 * time): mem_mb_s and storage_mb_s of the base grow by bytes x ms /
 * 10^9.  Nothing when both are 0, the saved time is unknown or the clock
 * went back.  What is reported stays within the physical bound since
 * lease.started (lease_usage_report).  Returns the ms billed. */
int64_t lease_bill_downtime(struct lease *l, uint64_t mem_bytes,
    uint64_t storage_bytes, int64_t now_ms);

/* Let go of l's sandboxes without stopping them (the daemon's planned
 * exit: the next process adopts them).  Call lease_to_json first: it
 * records what lease_adopt needs.  Under the daemon's lock. */
void lease_release(struct lease *l);

/* Record the outcome of lease_spawn: sb running (owned by the lease from
 * now on), or NULL with error (a restart is scheduled with backoff). */
void lease_spawned(struct lease *l, size_t i, struct sandbox *sb,
    const char *error, int64_t now_ms);

/* Reap replicas whose workload ended; they are rescheduled, but for wasm
 * jobs that exited 0 (done).  A wasm job's fuel (the last "usage:" line
 * of its stderr log under logs_dir) is added to the lease's usage. */
void lease_reap(struct lease *l, int64_t now_ms);

/* Sandboxes taken from a lease to be stopped (lease_stop_*). */
struct lease_stopping {
	size_t n;
	size_t rep[LEASE_MAX_REPLICAS]; /* the replica each was taken from */
	struct sandbox *sb[LEASE_MAX_REPLICAS]; /* owned until finish */
	int status[LEASE_MAX_REPLICAS]; /* each one's own wait status,
	                                   -1 when its stop failed */
};

/* Stop every replica of l, in three steps so that the slow middle one
 * runs without the daemon's lock (a grace period must not hold up the
 * API and the gateway):
 * lease_stop_take, under the lock: drop the function pools (requests in
 * flight keep their reference), take every sandbox away into st and
 * schedule no restart;
 * lease_stop_run, without it: SIGTERM, up to grace_ms, SIGKILL and the
 * cgroup emptied, for each, keeping each one's own exit status;
 * lease_stop_finish, under it again: each replica's exit code, CPU time
 * and (a wasm job) fuel into the lease; the sandboxes freed.  The lease's
 * status is the caller's to set. */
void lease_stop_take(struct lease *l, struct lease_stopping *st);
/* The same for the wasm HTTP functions of l only (which lease_adopt
 * cannot take over: they are stopped at a planned exit). */
void lease_stop_take_functions(struct lease *l, struct lease_stopping *st);
void lease_stop_run(struct lease_stopping *st, int grace_ms);
void lease_stop_finish(struct lease *l, struct lease_stopping *st);

/* The cumulative counters now, given elapsed reserved time. */
void lease_counters(struct lease *l, uint64_t out[USAGE_COUNT]);

/* The counters to report at now_ms (provider clock): lease_counters,
 * each reserved counter (cpu_ms, mem_mb_s, storage_mb_s) clamped to
 * what the lease could physically use since its sequenced start
 * (started_at_ms), the time it was paused (paused_ms) left out: cpu_millis x ms / 1000, bytes x ms / 10^9 over its
 * replicas -- the market's bound (docs/state.md) without its skew
 * allowance, so an honest report is never refused.  Never below what
 * was reported.  Before the start is known they are the reported ones. */
void lease_usage_report(struct lease *l, int64_t now_ms,
    uint64_t out[USAGE_COUNT]);

/* Keep proof (the decoded http.request envelope of the tenant's manifest
 * POST, reqsig_envelope_json) for lease.started; the lease takes the
 * reference.  Replaces an earlier one. */
void lease_set_manifest_request(struct lease *l, json_t *proof);

/* lease.resume: the pause is over; every replica but a finished job is
 * due to start at once (same lease, same volumes, ports and names). */
void lease_resume(struct lease *l);

/* Add wall time to the reserved time while the lease runs (not while it
 * is paused). */
void lease_add_time(struct lease *l, int64_t ms);

/* Persisted form (no manifest; it is stored apart; the manifest request
 * and the start time are kept) and back, with the running sandboxes'
 * references (sandbox_ref) and the CPU the counters hold of each.  After
 * lease_from_json the counters restart from the saved ones. */
int lease_to_json(struct lease *l, json_t **out);
int lease_from_json(const json_t *j, struct lease **out);

/* The forwarded ports as [{"service","port","proto","host_port"}], or
 * NULL when out of memory. */
json_t *lease_ports_json(const struct lease *l);

/* Status for the tenant: replicas, state, restarts, exit codes, usage,
 * forwarded_ports. */
int lease_status_json(struct lease *l, json_t **out);

/* The replica serving (service, port): the first global expose, or the
 * one matching port when port != 0.  NULL when none. */
struct lease_replica *lease_find_service(struct lease *l, const char *service,
    uint16_t *port);

/* Record a blob the tenant uploaded for this lease (wasm+file modules
 * are resolved from them: see lease_set_manifest).  ERR_LIMIT when full. */
int lease_add_blob(struct lease *l, const char *sha256_hex);

/* Resolve the module of every wasm+file replica from the lease's blobs:
 * the k-th distinct wasm+file URL of the manifest (services in canonical
 * order) is the k-th distinct blob uploaded; with one module that is the
 * lease's only blob.  ERR_REJECT when they do not pair up. */
int lease_resolve_wasm_blobs(struct lease *l);

/* Prepare the app dir of wasm replica i (job or HTTP function) under
 * root (root/<sha256>, shared by replicas of the same module; see
 * wasm_app_prepare): module.wasm, this provider's binary and the compiled
 * .so, so the sandboxed `provider wasm run|serve` only dlopens.  Reads
 * only what the manifest fixed (no lock); *app_dir is malloc'd. */
int lease_wasm_app_prepare(const struct lease *l, size_t i, const char *root,
    char **app_dir);

/* How many workers replica r's function gets (LEASE_WASM_WORKERS_*). */
unsigned lease_wasm_workers(const struct lease_replica *r);

/* Take replica r's function pool away: requests in flight finish or fail
 * (they hold their own reference), new ones find no pool.  Under the
 * daemon's lock. */
void lease_replica_drop_pool(struct lease_replica *r);

/* Does replica r run (has a sandbox)? */
int lease_replica_running(const struct lease_replica *r);

/* Counter names as in lease.usage ("cpu_ms", ...). */
const char *lease_counter_name(enum lease_counter c);

#endif
