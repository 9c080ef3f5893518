/*
 * exec: the tenant's shell and exec sessions in a running replica
 * (`tenant shell`, `tenant exec`), over the tenant-signed API:
 *   POST /v1/leases/L/exec  {"service","replica"?,"argv":[...],"tty"?,
 *        "rows"?,"cols"?,"term"?}  -> 201 {"session":ID}
 *   GET  /v1/leases/L/exec/ID  -> a stream of frames: one type byte,
 *        a 4-byte big-endian length, the payload: 'o' output (the
 *        terminal's, or stdout), 'e' stderr, 'k' keep-alive (empty),
 *        'x' the exit status (decimal text), last
 *   POST /v1/leases/L/exec/ID/input[?eof=1|resize=ROWSxCOLS|signal=N]
 *        the body goes to the command's input
 * Each command runs through `provider sandbox enter` (sandbox/enter.h):
 * the replica's namespaces and cgroup (its usage is the lease's), the
 * workload's uid, capabilities and seccomp filter.  Each session is
 * logged and recorded in the lease's events (who, when, what; its exit).
 */
#ifndef LODGE_PROVIDER_EXEC_H
#define LODGE_PROVIDER_EXEC_H

#include "common/http.h"

struct pd;

/* Sessions at once: per lease, and in all. */
#define EXEC_MAX_PER_LEASE 8
#define EXEC_MAX 64
/* Sessions of one tenant at once, over all its leases: no tenant
 * takes every session of the provider from the others. */
#define EXEC_MAX_PER_TENANT 16
/* A session whose output nobody reads for this long is ended. */
#define EXEC_UNREAD_MS 30000

/* The handlers, for requests already authorized as the lease's tenant
 * (api.c); rest is what follows /v1/leases/<id>/ ("exec", "exec/ID",
 * "exec/ID/input").  Answers 404 for another rest or method. */
void exec_handle(struct pd *pd, const char *lease, const char *rest,
    const struct http_request *req, struct http_response *resp);

#endif
