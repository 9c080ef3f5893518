/*
 * market: the sequencer and its state.  It owns the ledger store, the
 * state machine and the market key; it verifies submitted envelopes,
 * applies them, appends them durably (group commit) together with the
 * entries the rules derive from them, signs checkpoints, and serves the
 * HTTP API (api.c).  The daemon (main.c) only parses arguments.
 */
#ifndef LODGE_MARKET_H
#define LODGE_MARKET_H

#include <stdint.h>
#include <jansson.h>

#include "ledger/state.h"
#include "ledger/trust.h"

struct market;

/* A replica's applied/<name> key in etcd lives this long after its last
 * refresh (market_options.replica_ttl_ms). */
#define MARKET_HA_REPLICA_TTL_MS_DEFAULT (10 * 60 * 1000)
#define MARKET_HA_REPLICA_TTL_MS_MIN 5000

struct market_options {
	const char *data_dir;
	const char *listen; /* "127.0.0.1:8080" */
	const char *origin; /* ledger origin, first start only */
	int64_t epoch_ms; /* 0: default (first start only) */
	int64_t take_rate_ppm; /* < 0: default (first start only) */
	int64_t offline_grace_ms; /* < 0: default */
	/* Money rules, written into the genesis at first start (< 0 or
	 * NULL: default; on restart, a value given must equal the
	 * ledger's). */
	int64_t usage_skew_ms; /* < 0: one epoch */
	int64_t fee; /* default fee per entry */
	const char *fee_kinds; /* "KIND=N,KIND=N" (replaces the
	                               * default overrides) */
	int64_t bond_per_cpu, bond_per_gib;
	int64_t manifest_window_ms;
	int64_t min_lease_epochs;
	/* How long an unfunded lease stays paused before it closes
	 * (genesis pause_grace_ms); < 0: STATE_PAUSE_GRACE_MS_DEFAULT in a
	 * new genesis, whatever the ledger says on restart. */
	int64_t pause_grace_ms;
	/* Per-key token bucket on submissions (not a ledger rule): entries
	 * per second (0: off) and burst; the treasury and market keys are
	 * not limited. */
	double rate_per_s, rate_burst;
	/* How often to sign a checkpoint (ms), a genesis rule like the
	 * money ones (<= 0: default, STATE_CHECKPOINT_MS_DEFAULT). */
	int64_t checkpoint_ms;
	/* The witnesses asked to cosign each checkpoint (with their URLs)
	 * and the quorum a checkpoint needs before it is published;
	 * borrowed, it must outlive the market.  NULL or none: checkpoints
	 * are published signed by the market alone. */
	const struct trust_policy *witnesses;
	const char *denoms; /* "uakt,uact": the denominations settled,
	                              first start only; NULL: uakt */
	/* The console's static files (console/ of the repository); NULL:
	 * console/ beside the binary's bin/ folder, when it exists. */
	const char *console_dir;
	int check_invariants; /* full invariant walk after every
	                              * apply (O(state)); tests turn it on */
	/* A state snapshot (state.snap, its hash in the store) at the
	 * first checkpoint after this many new entries, so a restart
	 * replays only what came after it; 0: none; < 0: 10000. */
	int64_t snapshot_every;
	/* Replicas over etcd (market run --etcd; docs/market-ha.md):
	 * the members' client URLs, comma-separated, and this replica's
	 * name; NULL: the single-process market.  advertise: the URL the
	 * other replicas forward submissions to (NULL: the listen
	 * address). */
	const char *etcd;
	const char *replica;
	const char *advertise;
	/* How long a replica's applied/<name> key outlives its last refresh
	 * (an etcd lease): a replica gone for longer stops holding
	 * compaction back (ms; <= 0: MARKET_HA_REPLICA_TTL_MS_DEFAULT). */
	int64_t replica_ttl_ms;
	/* Where a replica copies entries compacted from etcd from: another
	 * replica's API or a mirror serving the same read endpoints (NULL:
	 * the sequencer's, from the election key). */
	const char *bootstrap_from;
	int insecure_http; /* serve plain HTTP (loopback development);
	                      0: TLS 1.3 with a certificate self-signed
	                      by the market key (common/tls.h) */
	/* Certificates for public names (a CA-issued one, so that browsers
	 * open the console), served to clients whose SNI names them; the
	 * others, Lodge's clients pinning the market key, get the
	 * self-signed one.  PEM files, both or neither; a directory of
	 * NAME.crt + NAME.key pairs, looked at again for renewals.  NULL:
	 * none.  Refused with insecure_http. */
	const char *tls_cert, *tls_key, *tls_certs_dir;
};

/* POST /v1/quote and /v1/sdl/check cost CPU (a quote also holds the
 * sequencer's lock): each client address may ask MARKET_COMPUTE_RATE a
 * second (MARKET_COMPUTE_BURST at once), and at most
 * MARKET_COMPUTE_INFLIGHT run at a time; past either, 429 or 503 with
 * Retry-After. */
#define MARKET_COMPUTE_RATE 10.0
#define MARKET_COMPUTE_BURST 20.0
#define MARKET_COMPUTE_INFLIGHT 4

void market_options_default(struct market_options *o);

/* Open (creating on first start) the market in o->data_dir: ledger.db,
 * market.key, treasury.key, market.json, tiles/ (the ledger as C2SP
 * tlog-tiles).  On restart the state is rebuilt by replaying the
 * ledger.  *created tells a first start. */
int market_open(const struct market_options *o, struct market **out,
    int *created);
/* Serve HTTP on o->listen and run the ticker (expiries, checkpoints)
 * and the publisher (cosignatures, tiles: publish.c). */
int market_start(struct market *m);
/* The port actually bound (when the listen port was 0). */
uint16_t market_port(const struct market *m);
/* Stop serving and free everything.  Accepts NULL; leaves the error state
 * (err.h) as it found it.  Should a witness hold the publisher past a few
 * seconds, the ledger is committed and synced and m is left to it (the
 * process is ending). */
void market_free(struct market *m);

/* Public identity, for printing: market and treasury keys, verifier
 * key of the ledger.  Borrowed strings. */
const char *market_key_text(const struct market *m);
const char *market_treasury_text(const struct market *m);
const char *market_vkey(const struct market *m);

/* What a submission got: on success its ledger index, sequencer time and
 * the id it created ("" when none); on a refusal the HTTP status to
 * answer and, with 429, the seconds to wait (Retry-After). */
struct market_result {
	uint64_t index;
	int64_t time;
	char id[STATE_ID_LEN];
	int status;
	int64_t retry_after_s;
};

/*
 * Submit one envelope (JSON text).  On success (0) r->index is its ledger
 * index and it is durable.  Errors (r->status): ERR_INVAL (400), ERR_SIG
 * (401), a signer that cannot pay the entry's fee (ERR_REJECT, 402),
 * ERR_CONFLICT (409, replayed nonce), ERR_LIMIT (429: the signer's rate
 * limit; r->retry_after_s), ERR_REJECT (422), others (500); err_msg()
 * says why.  The rate limit is looked at before the signature is verified
 * and a token taken only once it verified.
 */
int market_submit(struct market *m, const char *body, size_t len,
    struct market_result *r);

/* The HTTP status for a market_submit error code. */
int market_status_for(int code);

#endif
