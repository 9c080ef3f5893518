/*
 * replica: a market replica over etcd (market run --etcd URLS --replica
 * NAME; docs/market-ha.md).  etcd holds the order of the ledger: leaf i is
 * the value of <prefix>e/<i, 20 digits>, written once by a transaction
 * that succeeds only while that key is absent and this replica still holds
 * the sequencer election (<prefix>leader, under an etcd lease).  Every
 * replica follows those keys, verifies each leaf (signature, index, time,
 * canonical bytes, the rules) before applying it to its own state and
 * SQLite copy, and refuses, saying so, a leaf that does not verify.
 */
#ifndef LODGE_MARKET_REPLICA_H
#define LODGE_MARKET_REPLICA_H

#include <stdint.h>

#include "common/envelope.h"
#include "common/http.h"
#include "ledger/state.h"

struct market;
struct market_options;

/* Lease of the sequencer election (seconds): a sequencer that stops
 * refreshing it is replaced after about this long. */
#define MARKET_HA_LEASE_S 2
/* Entries per etcd transaction (each with its own create-only compare,
 * plus the election's compare: etcd's default --max-txn-ops is 128) and
 * bytes of values per transaction (etcd's default request limit is
 * 1.5 MiB). */
#define MARKET_HA_BATCH 100
#define MARKET_HA_BATCH_BYTES (1024 * 1024)
/* HTTP workers of a replica (one process: 64).  A submission holds its
 * worker until etcd committed it (a queue wait and a transaction: 30-40
 * ms in bench_market_ha, against one fsync alone), a forwarded one the
 * follower's too: with 64, 96 clients' submissions queued for a worker
 * at the sequencer and batches were smaller (26-27 entries, not 30). */
#define MARKET_HA_WORKERS 256

/* 1 when name is a replica name: 1-63 of [A-Za-z0-9._-], not starting
 * with '.' or '-' (it becomes part of etcd keys and log lines). */
int market_ha_name_ok(const char *name);

/*
 * Open m's ledger as a replica (called by market_open with m->key, m->dir
 * and m->db_path set): the local copy (created empty on a first start,
 * else replayed from its snapshot) caught up from etcd.  When etcd holds
 * no ledger yet, the genesis of cfg (the options of this first start) is
 * offered with a create-only transaction: of replicas starting together,
 * one genesis wins and all apply it.  Sets m->store, m->state, m->cfg,
 * m->snap_size and m->ha.
 */
int market_ha_open(struct market *m, const struct market_options *o,
    const struct state_config *cfg);
/* Start the election/follow loop and the etcd writer (after the HTTP
 * server: the sequencer's address is published in etcd). */
int market_ha_start(struct market *m);
/* Stop the threads (m->stopping already set) and free m->ha. */
void market_ha_free(struct market *m);

/* Under m->mu: 1 when this replica sequences now. */
int market_ha_sequencing(const struct market *m);
/* Under m->mu, sequencing: the index the next entry takes, the time of
 * the last one sequenced, and the current term (bumped when the replica
 * stops sequencing). */
uint64_t market_ha_next(const struct market *m);
int64_t market_ha_last_time(const struct market *m);
uint64_t market_ha_term(const struct market *m);
/* Under m->mu: why the last term ended ("" before any). */
const char *market_ha_why(const struct market *m);
/* Under m->mu: 1 when the state is that of the local copy's entries
 * exactly (nothing applied ahead of etcd), as a snapshot needs. */
int market_ha_settled(const struct market *m);
/* Under m->mu, sequencing: queue e (owned from here) at the next index and
 * time t for the etcd writer. */
int market_ha_queue(struct market *m, struct envelope *e, int64_t t);
/* Wait (takes m->mu) until leaf upto - 1 is committed in etcd and applied
 * here: 0; ERR_IO (503) when the term ended first (etcd refused or did
 * not answer the write; its outcome is then learned by following). */
int market_ha_wait(struct market *m, uint64_t upto, uint64_t term);

/* POST /v1/entries on a replica that does not sequence: forwarded to the
 * sequencer (its answer relayed), or 503 naming why not. */
void market_ha_forward(struct market *m, const struct http_request *req,
    struct http_response *resp);
/* {"replica","role","sequencer","applied","etcd_error","halted"} for
 * /v1/info; the caller owns it. */
json_t *market_ha_info(struct market *m);

#endif
