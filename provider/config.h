/*
 * config: the provider's configuration (DATA/provider.json) and what it
 * advertises: the machine's detected capacity less the owner's
 * reservations, attributes, the price vector and the runtimes offered.
 */
#ifndef LODGE_PROVIDER_CONFIG_H
#define LODGE_PROVIDER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define PROVIDER_DATA_DEFAULT "/var/lib/lodge-provider"
#define PROVIDER_DOMAIN_DEFAULT "lodge.localhost"
#define PROVIDER_LISTEN_DEFAULT "127.0.0.1:8443"
/* What `provider init` keeps back for the owner unless told otherwise. */
#define PROVIDER_RESERVE_MEMORY_DEFAULT (256u << 20)
#define PROVIDER_RESERVE_STORAGE_DEFAULT (1u << 30)
/* Process limit of a sandbox: this many per CPU of its profile (rounded
 * up, at least one CPU), never above the ceiling, which a service's
 * LODGE_PIDS may not exceed either. */
#define PROVIDER_PIDS_PER_CPU_DEFAULT 256u
#define PROVIDER_PIDS_MAX_DEFAULT 4096u
/* Preparation jobs (fetches, clones, wasm compiles; provider/job.h):
 * how many run at once, the memory one may use (the lease's, at least
 * PROVIDER_PREPARE_MEMORY_FLOOR, at most this cap) and its wall-clock
 * limit. */
#define PROVIDER_PREPARE_JOBS_DEFAULT 2u
#define PROVIDER_PREPARE_MEMORY_DEFAULT (1ull << 30)
#define PROVIDER_PREPARE_MEMORY_FLOOR (256ull << 20)
#define PROVIDER_PREPARE_TIMEOUT_MS_DEFAULT 300000

struct key;

/* Price components, in the order of state.h's provider.advertise. */
enum provider_price {
	PRICE_CPU_MS,
	PRICE_MEM_MB_S,
	PRICE_STORAGE_MB_S,
	PRICE_REQUEST,
	PRICE_EGRESS_BYTE,
	PRICE_FUEL,
	PRICE_COUNT
};

struct provider_resources {
	uint64_t cpu_millis;
	uint64_t memory_bytes;
	uint64_t storage_bytes;
};

struct provider_config {
	char market[512]; /* market base URL */
	char name[64];
	char listen[128]; /* HOST:PORT of API and gateway */
	char domain[128]; /* gateway host names end with it */
	char api_url[256]; /* advertised; "" = http://listen */
	char denom[16];
	int64_t price[PRICE_COUNT]; /* micro-units per 10^6 units */
	struct provider_resources detected, reserved;
	json_t *attributes; /* object of strings; owned */
	uint64_t log_max_bytes; /* per captured stream */
	uint64_t artifact_max_bytes; /* per artifact */
	int64_t stop_grace_ms; /* SIGTERM to SIGKILL */
	uint64_t pids_per_cpu; /* default process limit per CPU */
	uint64_t pids_max; /* ceiling of any sandbox's process limit */
	uint64_t prepare_jobs; /* preparation jobs running at once */
	uint64_t prepare_memory_bytes; /* cap of one job's memory */
	int64_t prepare_timeout_ms; /* wall clock of one job */
	json_t *fetch_allow; /* array of "host" or "host:port": hosts the
	                        owner lets tenants fetch from over plain
	                        http and at private addresses; owned */
	/* The "oci" runtime (provider/image_run.h): */
	json_t *registry_mirrors; /* ["docker.io=http://...", ...]; owned */
	json_t *insecure_registries; /* ["HOST:PORT", ...]; owned */
	uint64_t image_cache_max_bytes; /* the image cache's size limit */
	uint64_t image_id_base; /* host id of the first lease's root */
	/* TLS (common/tls.h; README "TLS"): */
	int insecure_http; /* plain HTTP served and to the market */
	char market_key[64]; /* the market's pinned key; "": learned on
	                        first use into DATA/known_markets */
	char tls_cert[512], tls_key[512]; /* the gateway's certificate for
	                                     *.domain (PEM files) */
	char tls_certs_dir[512]; /* NAME.crt + NAME.key for accept hosts */
};

/* Options given to `provider run` over the saved config; NULL/0: keep. */
struct provider_overrides {
	const char *const *mirrors; /* "REGISTRY=URL" */
	size_t n_mirrors;
	const char *const *insecure; /* "HOST:PORT" */
	size_t n_insecure;
	uint64_t image_cache_max_bytes;
	uint64_t image_id_base;
	int insecure_http; /* --insecure-http */
};

/* Apply o (may be NULL) to c: lists given replace c's.  ERR_INVAL names
 * a malformed mirror. */
int config_apply_overrides(struct provider_config *c,
    const struct provider_overrides *o);

/* Pin the market's TLS key for c->market (common/http.h http_pin_known):
 * c->market_key, else the one DATA/known_markets remembers, else the one
 * it shows now, remembered (*learned = 1, may be NULL).  A plain http://
 * market is refused unless c->insecure_http or $LODGE_INSECURE_HTTP. */
#define CONFIG_KNOWN_MARKETS "known_markets"
int config_pin_market(const char *data, const struct provider_config *c,
    int *learned);

/* Add one --registry-mirror (checked) or --insecure-registry to c. */
int config_add_mirror(struct provider_config *c, const char *s);
int config_add_insecure(struct provider_config *c, const char *s);

/* Defaults (no market, nothing detected).  Pair with config_clear. */
void config_init(struct provider_config *c);
void config_clear(struct provider_config *c);

/* Can the provider run with c: something left to offer once the owner's
 * reservations are taken (ERR_INVAL naming the --reserve-* option, what
 * the machine has and what is reserved), and limits that make sense
 * (pids, preparation jobs). */
int config_check(const struct provider_config *c);

/* The process limit of a sandbox whose profile has cpu_millis: per CPU
 * (rounded up, at least one) times c->pids_per_cpu, at most c->pids_max. */
uint64_t config_pids_for(const struct provider_config *c, uint64_t cpu_millis);

/* "host,host:port,[::1]:8080" into c->fetch_allow (replacing it; ""
 * empties it): names and literal addresses, lower-cased. */
int config_parse_fetch_allow(struct provider_config *c, const char *s);

/* Detect cores (1000 millis each), memory and the free disk of dir. */
int config_detect(const char *dir, struct provider_resources *out);

/* What is offered: detected less reserved (never below 0). */
void config_offered(const struct provider_config *c,
    struct provider_resources *out);

/* "denom=uakt,cpu_ms=100,mem_mb_s=2,storage_mb_s=1,request=1000,
 * egress_byte=1,fuel=1": sets the named components, others unchanged. */
int config_parse_price(struct provider_config *c, const char *s);
/* "k=v,k2=v2" into c->attributes (added to what is there). */
int config_parse_attributes(struct provider_config *c, const char *s);

/* Is wasm2c (Debian's wabt) on PATH?  The wasm runtime compiles modules
 * with it, so "wasm" is offered only then. */
int config_wasm_available(void);

/* Can this provider run OCI images (sandbox_image_supported)? */
int config_oci_available(void);

/* The runtimes offered: "process", "wasm" when wasm2c is installed, "oci"
 * when images can run here; the caller owns the array (NULL when out of
 * memory). */
json_t *config_runtimes_json(void);

/* Load / save DATA/provider.json. */
int config_load(const char *path, struct provider_config *c);
int config_save(const char *path, const struct provider_config *c);

/* What `provider init` does with c (market and options set): create
 * data (0700), detect the machine into c->detected, check c
 * (config_check: ERR_INVAL, nothing written), load the provider
 * key data/provider.key or create it (*created 1 then), and write
 * data/provider.json.  On success *key is the caller's (key_free). */
int config_setup(const char *data, struct provider_config *c, struct key **key,
    int *created);

/* The provider.advertise body (state.h); the caller owns *out. */
int config_advertise_body(const struct provider_config *c, const char *api_url,
    json_t **out);

#endif
