/*
 * follow: the provider's reader of the market's event stream
 * (GET /v1/events?since=N, Server-Sent Events per the WHATWG HTML
 * "server-sent events" section): a pure incremental parser of "data:"
 * events and a loop that reconnects with exponential backoff from the
 * next index not yet handled, so a restart or a dropped stream misses
 * nothing and handles nothing twice.
 */
#ifndef LODGE_PROVIDER_FOLLOW_H
#define LODGE_PROVIDER_FOLLOW_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define FOLLOW_LINE_MAX (4u << 20) /* one event's data at most */

/* Called once per event with its parsed data (a leaf {"entry","index",
 * "time"}; borrowed).  A negative return stops the stream (the leaf
 * was not handled and will be asked for again). */
typedef int (*follow_leaf_fn)(void *ctx, const json_t *leaf);

struct follow_parser {
	char *buf; /* pending bytes of the current line(s) */
	size_t len, cap;
	char *data; /* the current event's data lines */
	size_t dlen, dcap;
	char event[32]; /* its "event:" type ("" when none) */
	/* "checkpoint" events ({"size":N,"note":TEXT}, the market's
	 * published checkpoint) go here, with the same ctx; NULL: ignored */
	follow_leaf_fn on_checkpoint;
};

void follow_parser_init(struct follow_parser *p);
void follow_parser_clear(struct follow_parser *p);
/* Feed bytes; fn runs for every completed leaf event (type "leaf" or
 * none) and p->on_checkpoint for every checkpoint event, when their data
 * is JSON; events of other types are skipped.
 * Returns 0, fn's negative code, or ERR_LIMIT / ERR_INVAL (the stream is
 * unusable: reconnect). */
int follow_parser_feed(struct follow_parser *p, const char *data, size_t len,
    follow_leaf_fn fn, void *ctx);

/* Follow market (base URL) from *next (the next index to handle, updated
 * by the caller's fn through its own bookkeeping) until *stop becomes
 * non-zero; reconnects with backoff 0.2 s doubling to 10 s, reset after a
 * successful event.  next_fn returns the index to resume from.
 * checkpoint_fn (may be NULL) gets the checkpoint events. */
void follow_run(const char *market, uint64_t (*next_fn)(void *ctx),
    follow_leaf_fn fn, follow_leaf_fn checkpoint_fn, void *ctx,
    atomic_int *stop);

#endif
