/*
 * wasm_pool: the gateway's side of a lease's wasm HTTP function, whose
 * fresh instances run in worker processes inside the lease's process
 * sandbox (`provider wasm serve`, wasm/serve.h): defence in depth under
 * wasm2c's own bounds checks.  The provider creates one socket pair per
 * worker and hands one end to the sandbox over a control socket (the
 * sandbox's stdin); each request takes an idle worker, is framed over its
 * socket (wasm/wire.h) and answered by a fresh instance.  Past the
 * request's wall-clock deadline the gateway has the worker killed and
 * answers 504; a dead worker's socket is never used again, the slot gets
 * a new socket and the supervisor a new worker on it.
 */
#ifndef LODGE_PROVIDER_WASM_POOL_H
#define LODGE_PROVIDER_WASM_POOL_H

#include <stdint.h>

#include "wasm/run.h"
#include "wasm/wagi.h"

/* How long the gateway waits for the supervisor to confirm a kill before
 * it gives up on the whole pool (the sandbox is then restarted). */
#define WASM_POOL_KILL_WAIT_MS 2000

struct wasm_pool;

/* A SOCK_SEQPACKET pair for the control channel: fds[0] for
 * wasm_pool_new, fds[1] the sandbox's stdin (close it once started).
 * Both O_CLOEXEC. */
int wasm_pool_control_pair(int fds[2]);

/* Set up workers (1..WASM_POOL_MAX_WORKERS) over ctl_fd, which the pool
 * owns from now on (also on error).  The supervisor need not run yet:
 * the messages wait in the socket.  *out has one reference. */
int wasm_pool_new(int ctl_fd, unsigned workers, struct wasm_pool **out);

/* Another reference, for a request in flight. */
struct wasm_pool *wasm_pool_ref(struct wasm_pool *p);

/* Drop a reference; the last one closes the sockets.  Accepts NULL. */
void wasm_pool_free(struct wasm_pool *p);

/* Stop taking requests: queued ones get 503, the supervisor sees the
 * control socket close and ends the workers (so the sandbox exits). */
void wasm_pool_close(struct wasm_pool *p);

/* 1 while the pool can serve; 0 once closed or broken (the supervisor
 * stopped answering: the sandbox should be restarted, lease_reap does). */
int wasm_pool_alive(struct wasm_pool *p);

/* Run req in a fresh instance in a worker, within l (fuel, memory;
 * wall_ms the deadline, 0 none; a request also waits at most that long
 * for a free worker).  Always fills *resp (the module's answer, or 500,
 * 503 or 504 with a one-line body) and *u (requests 1; fuel charged: what
 * the instance used, never above the budget, or the whole budget when it
 * ran out, was killed, its worker died or answered out of protocol).
 * Returns 0, or < 0 only when out of memory. */
int wasm_pool_invoke(struct wasm_pool *p, const struct wasm_wagi_request *req,
    const struct wasm_run_limits *l, struct wasm_wagi_response *resp,
    struct wasm_usage *u);

/* Counters since the pool started (for status and tests). */
struct wasm_pool_stats {
	uint64_t requests, deadline_kills, worker_deaths;
	unsigned workers;
};
void wasm_pool_stats(struct wasm_pool *p, struct wasm_pool_stats *out);

/* The app dir of a module for the sandbox (bound at /app): under
 * root/<sha256 of the module>/, module.wasm, "provider" (a hard link or
 * copy of provider_bin, NULL meaning this process's binary) and
 * .wasm-cache/ with the module compiled with `provider wasm run|serve`'s
 * defaults, once with guard pages and once with explicit bounds checks
 * (whichever the sandbox can afford), so the sandboxed process only
 * dlopens.  The module must
 * export _start, and its declared memory fit memory_bytes (0: no cap),
 * else ERR_REJECT / ERR_LIMIT say why.  *app_dir (owned by the caller)
 * is that directory. */
int wasm_app_prepare(const char *module_path, const char *root,
    const char *provider_bin, uint64_t memory_bytes, char **app_dir);

#endif
