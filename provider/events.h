/*
 * events: what happened to a lease at this provider, one JSON object per
 * line in DATA/leases/<id>/events.jsonl ({"time","kind","service",
 * "replica","exit","detail"}): manifests accepted or refused, image
 * pulls, starts, exits with their status, OOM kills, restarts, stops,
 * the close, shell and exec sessions.  Served to the lease's tenant at
 * GET /v1/leases/<id>/events (`tenant events`).
 */
#ifndef LODGE_PROVIDER_EVENTS_H
#define LODGE_PROVIDER_EVENTS_H

#include <limits.h>

#define PROVIDER_EVENTS_FILE "events.jsonl"
/* Past this size a lease's events are no longer recorded. */
#define PROVIDER_EVENTS_MAX (1u << 20)
/* No exit status in the event. */
#define PROVIDER_EVENT_NO_EXIT INT_MIN

/* Append an event of kind ("replica.exited", ...) to lease_dir's events
 * file (lease_dir is created if missing): service and replica may be
 * NULL, exit_code PROVIDER_EVENT_NO_EXIT, the detail printf-formatted.
 * 0, or a negative code with the message set (callers go on: events are
 * a record for the tenant, not a condition of running). */
int provider_event(const char *lease_dir, const char *kind, const char *service,
    const char *replica, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
