/*
 * events: one lease's life in one stream (`tenant events`): the ledger's
 * entries about it, from the market (order posted, match, start, each
 * usage with its charge, top-ups, close and refund), and the provider's
 * events (manifest accepted or refused, image pulls, starts, exits with
 * their status, OOM kills, stops; provider/events.h), merged by time.
 * Each event is {"time" (ms),"source":"market"|"provider","kind",
 * "detail","id"} (id: unique within its source, "m<ledger index>.<kind>"
 * or "p<line>", so a follower prints each once), plus "service", "replica" and "exit" when the provider
 * gave them.
 */
#ifndef LODGE_TENANT_EVENTS_H
#define LODGE_TENANT_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "tenant/client.h"

/* The market's events of lease (its story, GET /v1/leases/<id>/story,
 * and the top-ups of its order among the ledger entries from the
 * order's on): a new array in *out, in ledger order; *closed set when
 * the lease is closed on the market.  The client's errors. */
int tenant_market_events(struct tenant_client *c, const char *lease,
    json_t **out, bool *closed);

/* The provider's events of lease, as JSON lines (GET
 * /v1/leases/<id>/events, signed): a new array in *out; a line that is
 * not an event is skipped.  ERR_REJECT with the provider's error when it
 * refuses. */
int tenant_provider_events(struct tenant_client *c, const char *api,
    const char *lease, json_t **out);

/* Parse text (JSON lines from a provider) into a new array of events
 * with source "provider" and id "p<line number>".  NULL when out of
 * memory. */
json_t *tenant_events_parse_lines(const char *text, size_t len);

/* a and b (borrowed) merged into a new array ordered by time; events of
 * the same time keep their order, a's first.  NULL when out of memory. */
json_t *tenant_events_merge(const json_t *a, const json_t *b);

/* One event for people, its time in UTC: "2026-12-06 04:10:01.123
 * provider  replica.exited  web-0: exited with 3; ..." (the replica or
 * service first when given, the exit status when the detail lacks it). */
void tenant_event_format(const json_t *ev, char *buf, size_t cap);

#endif
