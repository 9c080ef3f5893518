/*
 * config: where the tenant keeps its things.  The key and the local
 * deployment records live under $XDG_CONFIG_HOME/lodge/ (default
 * ~/.config/lodge/): tenant.key (PKCS#8 PEM, mode 0600) and
 * deployments/<id>.json, one record per `tenant deploy` (docs/tenant.md).
 */
#ifndef LODGE_TENANT_CONFIG_H
#define LODGE_TENANT_CONFIG_H

#include <limits.h>
#include <jansson.h>

#include "common/key.h"

struct tenant_paths {
	char dir[PATH_MAX]; /* $XDG_CONFIG_HOME/lodge */
	char key[PATH_MAX]; /* dir/tenant.key */
	char deployments[PATH_MAX]; /* dir/deployments */
};

/* Fill p from $XDG_CONFIG_HOME (or $HOME/.config).  ERR_INVAL when
 * neither is set, ERR_LIMIT when the path is too long. */
int tenant_paths_init(struct tenant_paths *p);

/* Load the tenant's key; ERR_NOTFOUND (with a hint to run `tenant
 * keygen`) when there is none.  The caller owns *out (key_free). */
int tenant_key_load(const struct tenant_paths *p, struct key **out);

/* Create the directory (0700) and a new key (0600).  ERR_CONFLICT when a
 * key is already there.  The caller owns *out. */
int tenant_key_create(const struct tenant_paths *p, struct key **out);

/*
 * A deployment record: {"id":"o-N","file":S,"market":URL,
 * "manifest_hash":HEX,"manifest":{...},"orders":["o-N",...],
 * "created":MS}.  The id is the first order's id.  Saved atomically,
 * mode 0600 (the manifest may hold secrets).
 */
int tenant_record_save(const struct tenant_paths *p, const json_t *rec);
/* The record with that id; ERR_NOTFOUND when none.  Caller owns *out. */
int tenant_record_load(const struct tenant_paths *p, const char *id,
    json_t **out);
/* The record whose "orders" holds order_id; ERR_NOTFOUND when none. */
int tenant_record_find_order(const struct tenant_paths *p, const char *order_id,
    json_t **out);

#endif
