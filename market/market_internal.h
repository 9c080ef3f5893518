/*
 * market internals shared by market.c (sequencer) and api.c (HTTP).
 */
#ifndef LODGE_MARKET_INTERNAL_H
#define LODGE_MARKET_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/http.h"
#include "common/key.h"
#include "ledger/note.h"
#include "ledger/snapshot.h"
#include "ledger/state.h"
#include "ledger/store.h"
#include "ledger/trust.h"
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

	/* What is published (/v1/ledger/checkpoint, the event stream,
	 * tiles/, the store's checkpoints that mirrors copy): with
	 * witnesses, the latest note the quorum cosigned; without, the
	 * latest signed one.  NULL until there is one. */
	char *published;
	uint64_t published_size;
	uint64_t published_gen; /* bumped on every new one */
	const struct trust_policy *witnesses; /* NULL: none */
	struct note_verifier logv; /* the ledger's verifier (0x01) */
	pthread_cond_t publish_cv; /* checkpoint_note or published
	                              changed: the publisher looks */
	pthread_t publisher;
	int publisher_started;
	char *tiles_dir;
	char *console_dir; /* the console's files; NULL: none served */
	char cosign_error[512]; /* the last round's refusals ("" when
	                         * the last round met the quorum) */

	char key_text[KEY_TEXT_SIZE];
	char treasury_text[KEY_TEXT_SIZE];
	char *vkey;

	/* state snapshots (ledger/snapshot.h), taken by the ticker */
	char *snap_path; /* <dir>/state.snap */
	int64_t snapshot_every; /* entries between them; 0: none */
	uint64_t snap_size; /* tree size of the latest one */
	struct snapshot_job *snap_job; /* the one being written, or NULL */
	double snap_held_ms; /* how long its fork held the sequencer */

	struct ratelimit *rl; /* per-key submissions */
	/* Quotes and SDL checks (CPU, and a quote holds mu): a token bucket
	 * per client address and a cap on those in flight (api.c). */
	struct ratelimit *rl_compute;
	atomic_int compute_inflight;
	double rate_per_s, rate_burst; /* its settings, for /v1/info */

	struct http_server *http;
	struct tls_server *tls; /* NULL: plain HTTP (--insecure-http) */
	int insecure_http;
	pthread_t ticker;
	int ticker_started;
	atomic_int stopping;

	/* metrics */
	atomic_ullong m_accepted, m_derived, m_rejected[8], m_requests;
	atomic_int m_sse_clients;
	atomic_ullong m_commits;
	atomic_ullong m_cosign_rounds, m_cosign_failed;

	/* replicas over etcd (replica.h); NULL: the single-process
	 * market, its SQLite store the order of the ledger */
	struct market_ha *ha;
	char *advertise; /* the API URL other replicas forward to */
};

/* market.c: sign and append every pending derived entry; under mu. */
int market_drain_pending_locked(struct market *m);

/* publish.c: start the publisher thread (cosignatures when m has
 * witnesses, then tiles), which stops when m->stopping is set and
 * publish_cv signalled; and make note (of size, signed by the market,
 * stored) the published one, under mu. */
int market_publisher_start(struct market *m);
int market_publish_locked(struct market *m, const char *note, uint64_t size);
/* 0 when note, signed by the market, carries the cosignatures of the
 * quorum of m->witnesses (trust_verify's errors otherwise). */
int market_cosigned(const struct market *m, const char *note);

/* quote.c: POST /v1/quote {"tenant":KEY,"orders":[order.create body]}:
 * state_quote's answer (200), 400 naming the bad field. */
void market_quote(struct market *m, const struct http_request *req,
    struct http_response *resp);

/* console.c: the console's files (m->console_dir; "/" is index.html,
 * "/console/NAME" the rest, NAME checked by market_console_name_ok);
 * POST /v1/sdl/check: {"ok","errors","warnings"[,"manifest_hash",
 * "orders"]}, the messages `sdl check` prints. */
void market_console_serve(struct market *m, const char *path,
    struct http_response *resp);
void market_sdl_check(struct market *m, const struct http_request *req,
    struct http_response *resp);
/* 1 when name is a file the console may serve: letters, digits, '-',
 * '_' and '.' (never first), at most one folder level, a known
 * extension; so no "..", no absolute path, no hidden file. */
int market_console_name_ok(const char *name);
/* Its content type by extension, or NULL. */
const char *market_console_type(const char *name);
/* When req accepts gzip (Accept-Encoding) and resp is a whole body of
 * 1 KiB or more with status 200, replace it by its gzip and add
 * Content-Encoding and Vary; otherwise (or when compressing fails, or
 * extra_headers is full) leave resp as it is. */
void market_gzip(const struct http_request *req, struct http_response *resp);
/* <folder of the running binary>/../console, malloc'd (NULL: unknown). */
char *market_console_default_dir(void);

/* api.c: the request handler http_server_start is given. */
void market_api_handle(void *ctx, const struct http_request *req,
    struct http_response *resp);

#endif
