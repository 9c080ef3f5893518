/*
 * market internals shared by market.c (sequencer) and api.c (HTTP).
 */
#ifndef LODGE_MARKET_INTERNAL_H
#define LODGE_MARKET_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/http.h"
#include "common/key.h"
#include "ledger/state.h"
#include "ledger/store.h"
#include "market/market.h"
#include "market/ratelimit.h"

struct market {
	char *dir;
	char *db_path;
	char listen_host[64];
	uint16_t listen_port;
	int64_t checkpoint_ms;

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t committed_cv; /* committed grew */
	struct store *store;
	struct state *state;
	struct state_config cfg;
	struct key *key; /* the market key */
	uint8_t treasury[KEY_PUB_LEN];
	uint64_t committed; /* leaves durable on disk (fsync'd):
	                              * what readers, events and
	                              * checkpoints see */
	int txn_open; /* appends waiting for a group
	                              * commit share one transaction */

	/* group fsync, outside mu: the first waiter syncs for everyone
	 * committed before it started */
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	int syncing;
	uint64_t durable;
	uint64_t checkpointed; /* size of the last checkpoint */
	char *checkpoint_note; /* latest signed note */

	char key_text[KEY_TEXT_SIZE];
	char treasury_text[KEY_TEXT_SIZE];
	char *vkey;

	struct ratelimit *rl; /* per-key submissions */
	double rate_per_s, rate_burst; /* its settings, for /v1/info */

	struct http_server *http;
	pthread_t ticker;
	int ticker_started;
	atomic_int stopping;

	/* metrics */
	atomic_ullong m_accepted, m_derived, m_rejected[8], m_requests;
	atomic_int m_sse_clients;
	atomic_ullong m_commits;
};

/* api.c: the request handler http_server_start is given. */
void market_api_handle(void *ctx, const struct http_request *req,
    struct http_response *resp);

#endif
