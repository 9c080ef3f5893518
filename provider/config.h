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
	/* Deployment networks (sandbox/net.h; docs/sandbox.md): */
	int net_on; /* --net on: a network per deployment */
	char net_pool[32]; /* CIDR of the deployments' blocks;
	                          "": NET_POOL_DEFAULT */
	int egress_off; /* --egress off: no outbound traffic */
	json_t *egress_allow; /* ["CIDR", ...]: adjust the default */
	json_t *egress_deny; /* egress policy; owned */
	json_t *dns; /* ["ADDR", ...] for the replicas; owned;
	                          []: the host's resolv.conf */
	uint16_t port_min, port_max; /* forwarded host ports */
	/* Not saved: set by whoever knows what runs (the daemon once its
	 * networks are up; `provider init` from a dry check). */
	int net_live; /* networks work here: capabilities offered */
	json_t *fetch_allow; /* array of "host" or "host:port": hosts the
	                        owner lets tenants fetch from over plain
	                        http and at private addresses; owned */
	/* The "oci" runtime (provider/image_run.h): */
	json_t *registry_mirrors; /* ["docker.io=http://...", ...]; owned */
	json_t *insecure_registries; /* ["HOST:PORT", ...]; owned */
	uint64_t image_cache_max_bytes; /* the image cache's size limit */
	uint64_t image_id_base; /* host id of the first lease's root */
	char storage_classes[96]; /* disk classes offered, "default,beta2";
	                             "" = volume_default_classes(), "none" */
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

/* --net on|off, --egress on|off, --port-range A-B, and the repeatable
 * --egress-allow / --egress-deny / --dns (added to c's lists; the
 * CIDRs are checked by config_net_config / net_new). */
int config_parse_net(struct provider_config *c, const char *s);
int config_parse_egress(struct provider_config *c, const char *s);
int config_parse_port_range(struct provider_config *c, const char *s);
int config_add_egress(struct provider_config *c, int deny, const char *cidr);
int config_add_dns(struct provider_config *c, const char *addr);

struct net_config;

/* The scope of the deployment networks of the provider whose key text is
 * key_text (NET_SCOPE_MAX fits): 'p' and 8 characters of the key mapped
 * into [a-z0-9], as its sandboxes' names without their '-'. */
void config_net_scope(const char *key_text, char *buf, size_t len);

/* c's network settings into cfg (net_config_init first); the strings
 * stay c's, the NULL-terminated lists go into lists (3 x 17 slots) and
 * are borrowed from c. */
void config_net_config(const struct provider_config *c, const char *scope,
    struct net_config *cfg, const char *lists[3][17]);

/* The capabilities c offers (common/capability.h), by index: 1 each
 * offered.  Networks need c->net_live. */
void config_capabilities(const struct provider_config *c, int offered[]);

/* Append the capabilities of c's deployment networks ("egress",
 * "network", "ports": common/capability.h) that it offers to the array
 * out.  ERR_NOMEM. */
int config_net_capabilities(const struct provider_config *c, json_t *out);

/* The provider.advertise body (state.h), with c's "capabilities"; the
 * caller owns *out. */
int config_advertise_body(const struct provider_config *c, const char *api_url,
    json_t **out);

/* ---- capabilities (provider/config_caps.c; issue 15) ---- */

/* Can disk volumes (ext4 images on loop devices) be made here: root,
 * /dev/loop-control, mkfs.ext4?  1, or 0 with the reason in why (may be
 * NULL). */
int config_disk_volumes_available(char *why, size_t cap);

/* The disk classes c offers (its storage_classes or the default). */
const char *config_storage_classes(const struct provider_config *c);

/* --storage-classes "default,beta2,beta3" (Akash's disk classes; "ram"
 * is always offered and may be listed; "none" offers no disk class) into
 * c.  ERR_INVAL naming an unknown class. */
int config_parse_storage_classes(struct provider_config *c, const char *s);

/* The capabilities advertised ("storage/ram", "storage/default", ...):
 * only what this provider can honour.  The caller owns the array. */
json_t *config_capabilities_json(const struct provider_config *c);

/* Is capability advertised by c? */
int config_offers(const struct provider_config *c, const char *capability);

#endif
