/*
 * logwatch: the provider's watch on the market's log.  Each checkpoint
 * the market's event stream carries is verified under the provider's
 * policy (DATA/witness-policy, or the witnesses the market named on
 * first use, pinned) and proved consistent with the last one verified
 * (ledger/trust.h; kept in DATA/logs/).  A market showing another
 * history raises the alarm: logged loudly with both signed notes, and
 * from then on no new lease is taken (running ones keep running).
 */
#ifndef LODGE_PROVIDER_LOGWATCH_H
#define LODGE_PROVIDER_LOGWATCH_H

#include <limits.h>
#include <stdatomic.h>
#include <jansson.h>

#define LOGWATCH_POLICY "witness-policy" /* in the data dir */

enum logwatch_state {
	LOGWATCH_UNSEEN, /* no checkpoint seen yet: leases are taken */
	LOGWATCH_OK, /* the last one verified and was consistent */
	LOGWATCH_UNVERIFIED, /* the last one did not verify (its
	                      * cosignatures, or the pin): no new
	                      * lease until one does */
	LOGWATCH_ALARM, /* a split view: no new lease until a restart */
};

struct trust_client;

struct logwatch {
	char dir[PATH_MAX]; /* DATA/logs */
	char policy[PATH_MAX]; /* DATA/witness-policy, "" when absent */
	char market[512];
	struct trust_client *tc; /* opened at the first checkpoint */
	atomic_int state; /* enum logwatch_state */
	char evidence[PATH_MAX + 16]; /* after an alarm, where both notes are */
};

/* For the provider in data_dir following market (copied). */
int logwatch_init(struct logwatch *w, const char *data_dir, const char *market);
void logwatch_clear(struct logwatch *w);

/* A checkpoint event's data ({"size":N,"note":TEXT}): verified,
 * remembered, logged; the state changes as the enum says (an alarm stays;
 * a market that cannot be asked for a proof changes nothing).  Always 0:
 * the stream goes on. */
int logwatch_seen(struct logwatch *w, const json_t *event);

/* 1 when a new lease may be taken (UNSEEN or OK). */
int logwatch_accepting(const struct logwatch *w);

#endif
