/*
 * config: the tenant's key and deployment records under
 * $XDG_CONFIG_HOME/lodge (XDG Base Directory Specification 0.8).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/util.h"
#include "tenant/config.h"

#define RECORD_MAX (4 * 1024 * 1024)

static int
join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= cap)
		return err_set(ERR_LIMIT, "path too long: %s/%s", a, b);
	return 0;
}

int
tenant_paths_init(struct tenant_paths *p)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char base[PATH_MAX];
	int n;

	memset(p, 0, sizeof(*p));
	/* XDG: a relative $XDG_CONFIG_HOME is invalid and ignored */
	if (xdg && xdg[0] == '/')
		n = snprintf(base, sizeof(base), "%s", xdg);
	else if (home && home[0])
		n = snprintf(base, sizeof(base), "%s/.config", home);
	else
		return err_set(ERR_INVAL,
		    "neither XDG_CONFIG_HOME nor HOME is "
		    "set: cannot find the tenant's config directory");
	if (n < 0 || (size_t)n >= sizeof(base))
		return err_set(ERR_LIMIT, "config path too long");
	if (join(p->dir, sizeof(p->dir), base, "lodge") ||
	    join(p->key, sizeof(p->key), p->dir, "tenant.key") ||
	    join(p->deployments, sizeof(p->deployments), p->dir, "deployments"))
		return ERR_LIMIT;
	return 0;
}

int
tenant_key_load(const struct tenant_paths *p, struct key **out)
{
	struct stat st;

	if (stat(p->key, &st) != 0 && errno == ENOENT)
		return err_set(ERR_NOTFOUND,
		    "no tenant key at %s (run "
		    "`tenant keygen` first)",
		    p->key);
	return key_load(p->key, out);
}

int
tenant_key_create(const struct tenant_paths *p, struct key **out)
{
	struct stat st;
	struct key *k = NULL;
	int rc;

	*out = NULL;
	if (stat(p->key, &st) == 0)
		return err_set(ERR_CONFLICT,
		    "a tenant key already exists at "
		    "%s",
		    p->key);
	if ((rc = util_mkdirs(p->dir, 0700)) != 0)
		return rc;
	if ((rc = key_generate(&k)) != 0)
		return rc;
	if ((rc = key_save(k, p->key)) != 0) {
		key_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

/* Ids are "o-<digits>": anything else could escape the directory. */
static int
check_id(const char *id)
{
	size_t n = strlen(id);

	if (n < 3 || n > 22 || strncmp(id, "o-", 2) != 0 ||
	    strspn(id + 2, "0123456789") != n - 2)
		return err_set(ERR_INVAL,
		    "\"%s\" is not a deployment id "
		    "(o-<number>)",
		    id);
	return 0;
}

static int
record_path(const struct tenant_paths *p, const char *id, char *out, size_t cap)
{
	char name[64];
	int rc;

	if ((rc = check_id(id)) != 0)
		return rc;
	snprintf(name, sizeof(name), "%s.json", id);
	return join(out, cap, p->deployments, name);
}

int
tenant_record_save(const struct tenant_paths *p, const json_t *rec)
{
	char path[PATH_MAX];
	const char *id = json_string_value(json_object_get(rec, "id"));
	char *text = NULL;
	int rc;

	if (id == NULL)
		return err_set(ERR_INVAL, "deployment record without an id");
	if ((rc = record_path(p, id, path, sizeof(path))) != 0)
		return rc;
	if ((rc = util_mkdirs(p->deployments, 0700)) != 0)
		return rc;
	if ((text = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	rc = util_write_file(path, text, strlen(text), 0600);
	free(text);
	return rc;
}

static int
load_path(const char *path, json_t **out)
{
	char *text = NULL;
	size_t len;
	int rc;

	if ((rc = util_read_file(path, RECORD_MAX, &text, &len)) != 0)
		return rc;
	rc = cjson_parse(text, len, out);
	free(text);
	if (rc == 0 && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return err_set(ERR_CORRUPT, "%s: not a JSON object", path);
	}
	return rc ? err_prefix(rc, "%s", path) : 0;
}

int
tenant_record_load(const struct tenant_paths *p, const char *id, json_t **out)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;

	*out = NULL;
	if ((rc = record_path(p, id, path, sizeof(path))) != 0)
		return rc;
	if (stat(path, &st) != 0)
		return err_set(ERR_NOTFOUND,
		    "no local record of deployment "
		    "%s",
		    id);
	return load_path(path, out);
}

int
tenant_record_find_order(const struct tenant_paths *p, const char *order_id,
    json_t **out)
{
	struct dirent *de;
	DIR *d;
	int rc;

	*out = NULL;
	/* the common case: the order is the deployment's first */
	if ((rc = tenant_record_load(p, order_id, out)) != ERR_NOTFOUND)
		return rc;
	err_clear();
	if ((d = opendir(p->deployments)) == NULL)
		return err_set(ERR_NOTFOUND, "no local record of order %s",
		    order_id);
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		json_t *rec = NULL, *v;
		size_t i;
		size_t n = strlen(de->d_name);

		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		if (join(path, sizeof(path), p->deployments, de->d_name) ||
		    load_path(path, &rec)) {
			err_clear();
			continue;
		}
		json_array_foreach(json_object_get(rec, "orders"), i, v)
		{
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), order_id) == 0) {
				closedir(d);
				*out = rec;
				return 0;
			}
		}
		json_decref(rec);
	}
	closedir(d);
	return err_set(ERR_NOTFOUND, "no local record of order %s", order_id);
}
