/*
 * sdl: Akash's Stack Definition Language (versions 2.0 and 2.1) parsed with
 * libyaml into a typed, normalised model; validated with Akash's rules
 * (its sdl-input schema and its Go parser's checks) plus Lodge's limits;
 * turned into Lodge's canonical manifest, its hash, and market orders, and
 * into Akash's own group-spec and manifest JSON for parity checks.
 */
#ifndef LODGE_SDL_H
#define LODGE_SDL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sdl/image.h"

/* Lodge's limits, stricter than Akash's where Akash has none. */
#define SDL_MAX_FILE_SIZE (1024 * 1024) /* bytes of SDL text */
#define SDL_MAX_NODES 200000 /* YAML nodes after aliases */
#define SDL_MAX_DEPTH 64 /* YAML nesting */
#define SDL_MAX_SERVICES 64
#define SDL_MAX_PROFILES 64 /* compute and placement each */
#define SDL_MAX_NAME_LEN 63 /* service, profile, volume... */
#define SDL_MAX_COUNT 50 /* replicas per service/placement */
#define SDL_MAX_EXPOSE 64 /* expose entries per service */
#define SDL_MAX_LIST 1024 /* env, args, command, accept... */
#define SDL_MAX_STRING 65536 /* any one scalar */
#define SDL_MAX_VOLUMES 16 /* storage volumes per profile */
#define SDL_MAX_ERRORS 100 /* errors (and warnings) collected per file */
#define SDL_MAX_AUDITORS 16 /* keys per signedBy list (ledger's) */

/* Where a thing was written: 1-based line and column (0 when unknown). */
struct sdl_pos {
	uint32_t line;
	uint32_t col;
};

/* A key/value attribute, as in placement, storage, cpu and gpu
 * attributes.  Lists of them are kept sorted by key. */
struct sdl_attr {
	char *key;
	char *value;
};

/* A list of strings that remembers whether it was written at all (Akash
 * prints an absent list as null and an empty one as []). */
struct sdl_strlist {
	char **items;
	size_t count;
	bool present;
};

enum sdl_proto { SDL_PROTO_TCP = 1, SDL_PROTO_UDP };

struct sdl_http_options { /* defaults filled in */
	uint32_t max_body_size; /* bytes, default 1048576, max 104857600 */
	uint32_t proxy_buffer_size; /* bytes, 0 = provider default */
	uint32_t read_timeout; /* ms, default 60000, max 60000 */
	uint32_t send_timeout; /* ms, default 60000, max 60000 */
	uint32_t next_tries; /* default 3 */
	uint32_t next_timeout; /* ms, default 0 */
	struct sdl_strlist next_cases; /* default error, timeout */
};

struct sdl_expose_to {
	char *service; /* "" unless to a service */
	bool global;
	char *ip; /* endpoint name or "" */
	struct sdl_pos pos;
};

struct sdl_expose {
	uint32_t port; /* 1-65535 */
	uint32_t as; /* 0 when not given */
	enum sdl_proto proto;
	struct sdl_expose_to *to;
	size_t nto;
	struct sdl_strlist accept;
	struct sdl_http_options http;
	struct sdl_pos pos;
};

struct sdl_storage_param {
	char *volume;
	char *mount; /* absolute path */
	bool read_only;
	struct sdl_pos pos;
};

struct sdl_credentials {
	char *host, *email, *username, *password;
	struct sdl_pos pos;
};

struct sdl_service {
	char *name;
	struct sdl_image image;
	struct sdl_strlist command, args, env;
	struct sdl_expose *expose;
	size_t nexpose;
	struct sdl_strlist dependencies;
	bool has_params;
	struct sdl_storage_param *storage; /* sorted by volume */
	size_t nstorage;
	struct sdl_strlist permissions; /* params.permissions.read */
	bool has_permissions;
	char *tee; /* "cpu", "cpu-gpu" or NULL */
	struct sdl_credentials *credentials; /* NULL when absent */
	struct sdl_pos pos;
};

struct sdl_volume {
	bool bad; /* internal: size already reported */
	char *name; /* "default" when a single size is given */
	uint64_t size; /* bytes */
	struct sdl_attr *attrs; /* persistent, class (normalised), sorted */
	size_t nattrs;
	bool persistent;
	const char *class_; /* borrowed from attrs, or NULL */
	struct sdl_pos pos;
};

struct sdl_compute {
	char *name;
	uint32_t cpu_millis;
	struct sdl_attr *cpu_attrs;
	size_t ncpu_attrs;
	uint64_t memory; /* bytes */
	struct sdl_volume *volumes; /* in Akash's order */
	size_t nvolumes;
	uint64_t gpu_units;
	struct sdl_attr *gpu_attrs; /* "vendor/nvidia/model/<m>" = "true" */
	size_t ngpu_attrs;
	struct sdl_pos pos;
	unsigned bad; /* internal: SDL_BAD_* fields already reported */
};

#define SDL_BAD_CPU 0x1u
#define SDL_BAD_MEMORY 0x2u
#define SDL_BAD_GPU 0x4u

/* A price as an exact decimal: whole + frac / 10^18 (Akash's Dec). */
struct sdl_price {
	char *profile;
	char *denom;
	uint64_t whole;
	uint64_t frac; /* 0 .. 10^18-1 */
	struct sdl_pos pos;
};

enum {
	SDL_MIN_REP_COMPLETION,
	SDL_MIN_REP_UPTIME_7D,
	SDL_MIN_REP_UPTIME_30D,
	SDL_MIN_REP_STARTED,
	SDL_MIN_REP_N
};
/* The x-lodge-min-reputation keys, in that order, and the order.create
 * "min_reputation" members they become. */
extern const char *const sdl_min_rep_keys[SDL_MIN_REP_N];
extern const char *const sdl_min_rep_members[SDL_MIN_REP_N];

struct sdl_placement {
	char *name;
	struct sdl_attr *attrs;
	size_t nattrs;
	struct sdl_strlist all_of, any_of;
	struct sdl_price *pricing; /* sorted by profile */
	size_t npricing;
	struct sdl_pos pos;
	/* x-lodge-min-reputation (a Lodge extension Akash's parser
	 * ignores): the minimum record a provider must have, -1 unset;
	 * completion rate, uptime 7d and 30d in ppm, leases started. */
	int64_t min_rep[SDL_MIN_REP_N];
};

/* One deployment entry: service S runs in placement P with profile. */
struct sdl_deploy {
	char *service;
	char *placement;
	char *profile;
	uint32_t count;
	struct sdl_pos pos;
};

struct sdl_endpoint {
	char *name;
	char *kind; /* "ip" */
	struct sdl_pos pos;
};

/* The whole deployment.  Named things are sorted by name (bytewise);
 * deploys are sorted by service, then placement. */
struct sdl_deployment {
	char *file; /* name given to the parser */
	int version; /* 20 or 21 */
	struct sdl_service *services;
	size_t nservices;
	struct sdl_compute *computes;
	size_t ncomputes;
	struct sdl_placement *placements;
	size_t nplacements;
	struct sdl_deploy *deploys;
	size_t ndeploys;
	struct sdl_endpoint *endpoints;
	size_t nendpoints;
	bool has_reclamation;
	char *reclamation_min_window; /* as written, e.g. "24h" */
	uint64_t reclamation_seconds;
};

/* Every error found in one file, each "file:line:col: path: message",
 * and every warning, each "file:line:col: path: warning: message". */
struct sdl_errors {
	char **items;
	size_t count;
	size_t cap;
	size_t dropped; /* errors beyond SDL_MAX_ERRORS */
	char **warnings;
	size_t nwarnings;
	size_t wcap;
	size_t wdropped; /* warnings beyond SDL_MAX_ERRORS */
};

/*
 * Flags for the _flags variants.  By default (0) Lodge accepts what
 * Akash's Go parser (pkg.akt.dev/go/sdl Read) accepts, which treats
 * Akash's input schema (sdl-input.schema.yaml) as advisory: a finding of
 * the schema alone is a warning.  Lodge's limits apply, and so do its
 * refusals of what it cannot honour (signedBy names that are not Lodge
 * auditor keys, GPU vendors other than nvidia, images it cannot pull).
 *
 * SDL_PARSE_STRICT makes the schema's findings errors.
 * SDL_PARSE_AKASH_GO applies Akash's rules only, without Lodge's refusals
 * of what it cannot honour: what Akash itself would accept, for the
 * Akash JSON of parity checks.  Both together: Akash's schema and its Go
 * parser, as Akash's tooling applies them.
 */
#define SDL_PARSE_AKASH_GO 0x1u
#define SDL_PARSE_STRICT 0x2u

/* Parse and validate an SDL file (at most SDL_MAX_FILE_SIZE bytes) with
 * the default rules (flags 0).  On success *out is a new deployment owned
 * by the caller (free with sdl_deployment_free).  On failure returns
 * ERR_INVAL (invalid SDL; every error appended to errs when errs is not
 * NULL), ERR_IO, ERR_LIMIT or ERR_NOMEM; err_msg() holds a summary naming
 * the first error.  Warnings go to errs->warnings either way. */
int sdl_parse_file(const char *path, struct sdl_deployment **out,
    struct sdl_errors *errs);

/* The same over bytes in memory; name is used in error messages. */
int sdl_parse_buffer(const char *name, const char *buf, size_t len,
    struct sdl_deployment **out, struct sdl_errors *errs);

int sdl_parse_file_flags(const char *path, unsigned flags,
    struct sdl_deployment **out, struct sdl_errors *errs);
int sdl_parse_buffer_flags(const char *name, const char *buf, size_t len,
    unsigned flags, struct sdl_deployment **out, struct sdl_errors *errs);

void sdl_deployment_free(struct sdl_deployment *d);

/* Free the errors and warnings held by errs and zero it (errs itself is the
 * caller's); accepts NULL. */
void sdl_errors_free(struct sdl_errors *errs);

/* Lookups by name; NULL when absent.  Results are borrowed from d. */
const struct sdl_service *sdl_find_service(const struct sdl_deployment *d,
    const char *name);
const struct sdl_compute *sdl_find_compute(const struct sdl_deployment *d,
    const char *name);
const struct sdl_placement *sdl_find_placement(const struct sdl_deployment *d,
    const char *name);
const struct sdl_price *sdl_find_price(const struct sdl_placement *p,
    const char *profile);

/* Lodge's canonical manifest: everything the provider needs to run the
 * deployment, normalised (bytes, millicores, defaults filled in, maps as
 * objects) so that equivalent files give identical canonical bytes.  The
 * caller owns *out (json_decref).  Returns 0 or ERR_NOMEM. */
int sdl_manifest_json(const struct sdl_deployment *d, json_t **out);

/* SHA-256 of the canonical bytes of sdl_manifest_json. */
int sdl_manifest_hash(const struct sdl_deployment *d, uint8_t out[32]);

/* The market orders, a JSON array with one object per placement group:
 * {"placement","attributes","signed_by","resources":[{"profile","service",
 * "count","cpu_millis","memory_bytes","storage_bytes","gpu_units",
 * "price"}],"denom","max_price","runtimes","manifest_hash"}.  Env values
 * and commands stay out.  Returns 0, ERR_NOMEM, ERR_RANGE (price
 * overflow) or ERR_INVAL (mixed denominations). */
int sdl_orders_json(const struct sdl_deployment *d, json_t **out);

/* Akash's DeploymentGroups() and Manifest() as Akash's JSON encodes them
 * (pkg.akt.dev/go/sdl), for parity checks.  The caller owns *out. */
int sdl_akash_groups_json(const struct sdl_deployment *d, json_t **out);
int sdl_akash_manifest_json(const struct sdl_deployment *d, json_t **out);

#endif
