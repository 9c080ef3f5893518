/*
 * manifest: parse OCI image indexes, manifests and configs (OCI Image
 * Spec v1.1; Docker's manifest list and schema 2 have the same shape)
 * with jansson, into the typed structs of manifest.h, and choose an index
 * entry for a platform as containerd's platform matcher does.
 */
#include "image/manifest.h"

#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/err.h"

/* overlayfs stacks at most 500 lower layers */
#define MAX_LAYERS 500
#define MAX_INDEX_ENTRIES 10000
#define MAX_CONFIG_ITEMS 65536

int
image_digest_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
		return 0;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

void
image_platform_host(struct image_platform *p)
{
	static char machine[65];
	static const struct {
		const char *uname, *arch, *variant;
	} map[] = {
		{ "x86_64", "amd64", NULL },
		{ "aarch64", "arm64", NULL },
		{ "arm64", "arm64", NULL },
		{ "armv7l", "arm", "v7" },
		{ "armv6l", "arm", "v6" },
		{ "i686", "386", NULL },
		{ "i386", "386", NULL },
		{ "ppc64le", "ppc64le", NULL },
		{ "s390x", "s390x", NULL },
		{ "riscv64", "riscv64", NULL },
	};
	struct utsname u;

	p->os = "linux";
	p->architecture = "unknown";
	p->variant = NULL;
	if (uname(&u) != 0)
		return;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(u.machine, map[i].uname) == 0) {
			p->architecture = map[i].arch;
			p->variant = map[i].variant;
			return;
		}
	snprintf(machine, sizeof(machine), "%s", u.machine);
	p->architecture = machine;
}

/* A JSON string without NUL, or ERR_INVAL naming what. */
static int
get_string(const json_t *v, const char *what, const char **out)
{
	if (!json_is_string(v))
		return err_set(ERR_INVAL, "%s: expected a string", what);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return err_set(ERR_INVAL, "%s: contains a NUL character", what);
	*out = json_string_value(v);
	return 0;
}

/* An optional string member: a copy, "" (dflt_empty) or NULL when absent
 * or null. */
static int
opt_string(const json_t *obj, const char *key, const char *what,
    bool dflt_empty, char **out)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;
	int rc;

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (dflt_empty && !(*out = strdup("")))
			return err_set(ERR_NOMEM, "out of memory");
		return 0;
	}
	if ((rc = get_string(v, what, &s)))
		return rc;
	if (!(*out = strdup(s)))
		return err_set(ERR_NOMEM, "out of memory");
	return 0;
}

static int
parse_json(const char *body, size_t len, const char *what, json_t **out)
{
	json_error_t je;

	*out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!*out)
		return err_set(ERR_INVAL,
		    "%s: not valid JSON (line %d column "
		    "%d: %s)",
		    what, je.line, je.column, je.text);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return err_set(ERR_INVAL, "%s: expected a JSON object", what);
	}
	return 0;
}

static void
descriptor_clear(struct image_descriptor *d)
{
	free(d->media_type);
	free(d->digest);
	free(d->os);
	free(d->architecture);
	free(d->variant);
	memset(d, 0, sizeof(*d));
}

static int
parse_descriptor(const json_t *v, const char *what, bool platform,
    struct image_descriptor *d)
{
	char w[96];
	const json_t *size;
	int rc;

	memset(d, 0, sizeof(*d));
	if (!json_is_object(v))
		return err_set(ERR_INVAL, "%s: expected an object", what);
	snprintf(w, sizeof(w), "%s.mediaType", what);
	if ((rc = opt_string(v, "mediaType", w, false, &d->media_type)))
		goto fail;
	if (!d->media_type) {
		rc = err_set(ERR_INVAL, "%s: missing", w);
		goto fail;
	}
	snprintf(w, sizeof(w), "%s.digest", what);
	if ((rc = opt_string(v, "digest", w, false, &d->digest)))
		goto fail;
	if (!d->digest) {
		rc = err_set(ERR_INVAL, "%s: missing", w);
		goto fail;
	}
	if (!image_digest_valid(d->digest)) {
		rc = err_set(ERR_INVAL,
		    "%s: \"%.80s\" is not sha256:<64 "
		    "lower-case hex> (the only algorithm supported)",
		    w, d->digest);
		goto fail;
	}
	size = json_object_get(v, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 0) {
		rc = err_set(ERR_INVAL,
		    "%s.size: expected a non-negative "
		    "integer",
		    what);
		goto fail;
	}
	d->size = (uint64_t)json_integer_value(size);
	if (platform) {
		const json_t *p = json_object_get(v, "platform");
		if (p && !json_is_null(p) && !json_is_object(p)) {
			rc = err_set(ERR_INVAL,
			    "%s.platform: expected an "
			    "object",
			    what);
			goto fail;
		}
		snprintf(w, sizeof(w), "%s.platform", what);
		if ((rc = opt_string(p, "os", w, true, &d->os)) ||
		    (rc = opt_string(p, "architecture", w, true,
		         &d->architecture)) ||
		    (rc = opt_string(p, "variant", w, true, &d->variant)))
			goto fail;
	}
	return 0;
fail:
	descriptor_clear(d);
	return rc;
}

/* The media type without parameters, or NULL when empty/generic. */
static char *
specific_type(const char *ct)
{
	size_t n;
	char *s;

	if (!ct)
		return NULL;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (!(s = strndup(ct, n)))
		return NULL;
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!*s || strcmp(s, "application/json") == 0 ||
	    strcmp(s, "text/plain") == 0 ||
	    strcmp(s, "application/octet-stream") == 0) {
		free(s);
		return NULL;
	}
	return s;
}

static bool
is_schema1(const char *t)
{
	return strncmp(t, "application/vnd.docker.distribution.manifest.v1",
	           47) == 0;
}

static enum image_doc_kind
kind_of(const char *t)
{
	if (strcmp(t, IMAGE_MT_OCI_INDEX) == 0 ||
	    strcmp(t, IMAGE_MT_DOCKER_LIST) == 0)
		return IMAGE_DOC_INDEX;
	if (strcmp(t, IMAGE_MT_OCI_MANIFEST) == 0 ||
	    strcmp(t, IMAGE_MT_DOCKER_MANIFEST) == 0)
		return IMAGE_DOC_MANIFEST;
	return 0;
}

static int
parse_array(const json_t *arr, const char *what, bool platform, size_t max,
    struct image_descriptor **out, size_t *n)
{
	char w[64];
	size_t cnt = json_array_size(arr);
	int rc;

	if (cnt > max)
		return err_set(ERR_LIMIT, "%s: %zu entries, at most %zu", what,
		    cnt, max);
	if (cnt && !(*out = calloc(cnt, sizeof(**out))))
		return err_set(ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < cnt; i++) {
		snprintf(w, sizeof(w), "%s[%zu]", what, i);
		if ((rc = parse_descriptor(json_array_get(arr, i), w, platform,
		         &(*out)[i])))
			return rc;
		(*n)++;
	}
	return 0;
}

int
image_manifest_parse(const char *content_type, const char *body, size_t len,
    struct image_manifest *out)
{
	json_t *root = NULL;
	const json_t *sv, *manifests, *layers, *config;
	char *ct = specific_type(content_type), *mt = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > IMAGE_MANIFEST_MAX) {
		rc = err_set(ERR_LIMIT, "manifest: %zu bytes, at most %u", len,
		    IMAGE_MANIFEST_MAX);
		goto fail;
	}
	if (ct && is_schema1(ct)) {
		rc = err_set(ERR_REJECT,
		    "manifest: Docker schema 1 (%s) is "
		    "not supported; push the image again with a current "
		    "tool",
		    ct);
		goto fail;
	}
	if ((rc = parse_json(body, len, "manifest", &root)))
		goto fail;
	if ((rc = opt_string(root, "mediaType", "manifest.mediaType", false,
	         &mt)))
		goto fail;
	sv = json_object_get(root, "schemaVersion");
	if (mt && is_schema1(mt)) {
		rc = err_set(ERR_REJECT,
		    "manifest: Docker schema 1 is not "
		    "supported");
		goto fail;
	}
	if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
		rc = err_set(ERR_INVAL, "manifest.schemaVersion: expected 2");
		goto fail;
	}
	manifests = json_object_get(root, "manifests");
	layers = json_object_get(root, "layers");
	config = json_object_get(root, "config");
	if (ct && mt && strcmp(ct, mt) != 0) {
		rc = err_set(ERR_INVAL,
		    "manifest: served as %s but its "
		    "mediaType is %s",
		    ct, mt);
		goto fail;
	}
	if (ct) {
		out->media_type = ct;
		ct = NULL;
	} else if (mt) {
		out->media_type = mt;
		mt = NULL;
	} else {
		out->media_type = strdup(
		    manifests ? IMAGE_MT_OCI_INDEX : IMAGE_MT_OCI_MANIFEST);
		if (!out->media_type) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
	}
	if (!(out->kind = kind_of(out->media_type))) {
		rc = err_set(ERR_REJECT,
		    "manifest: media type %s is not an "
		    "image index or manifest",
		    out->media_type);
		goto fail;
	}
	if (out->kind == IMAGE_DOC_INDEX) {
		/* the fields of a manifest in an index would make the
		 * document mean two things (OCI image-spec §image-index) */
		if (layers || config) {
			rc = err_set(ERR_INVAL,
			    "manifest: an index with "
			    "\"layers\" or \"config\"");
			goto fail;
		}
		if (!json_is_array(manifests)) {
			rc = err_set(ERR_INVAL,
			    "manifest.manifests: expected "
			    "an array");
			goto fail;
		}
		if ((rc = parse_array(manifests, "manifests", true,
		         MAX_INDEX_ENTRIES, &out->manifests,
		         &out->n_manifests)))
			goto fail;
	} else {
		if (manifests) {
			rc = err_set(ERR_INVAL,
			    "manifest: a manifest with "
			    "\"manifests\"");
			goto fail;
		}
		if ((rc = parse_descriptor(config, "config", false,
		         &out->config)))
			goto fail;
		if (!json_is_array(layers)) {
			rc = err_set(ERR_INVAL,
			    "manifest.layers: expected "
			    "an array");
			goto fail;
		}
		if ((rc = parse_array(layers, "layers", false, MAX_LAYERS,
		         &out->layers, &out->n_layers)))
			goto fail;
	}
	free(ct);
	free(mt);
	json_decref(root);
	return 0;
fail:
	free(ct);
	free(mt);
	json_decref(root);
	image_manifest_clear(out);
	return rc;
}

void
image_manifest_clear(struct image_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	descriptor_clear(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		descriptor_clear(&m->layers[i]);
	free(m->layers);
	for (size_t i = 0; i < m->n_manifests; i++)
		descriptor_clear(&m->manifests[i]);
	free(m->manifests);
	memset(m, 0, sizeof(*m));
}

static const char *
norm_variant(const char *arch, const char *variant)
{
	if (variant && *variant)
		return variant;
	if (strcmp(arch, "arm64") == 0)
		return "v8";
	if (strcmp(arch, "arm") == 0)
		return "v7";
	if (strcmp(arch, "amd64") == 0)
		return "v1";
	return "";
}

int
image_index_choose(const struct image_manifest *idx,
    const struct image_platform *p, const struct image_descriptor **out)
{
	const struct image_descriptor *any = NULL;
	const char *want = norm_variant(p->architecture, p->variant);
	char have[512] = "";
	size_t used = 0;

	*out = NULL;
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct image_descriptor *d = &idx->manifests[i];
		if (strcmp(d->os, p->os) != 0 ||
		    strcmp(d->architecture, p->architecture) != 0)
			continue;
		if (strcmp(norm_variant(d->architecture, d->variant), want) ==
		    0) {
			*out = d;
			return 0;
		}
		if (!p->variant && !any)
			any = d;
	}
	if (any) {
		*out = any;
		return 0;
	}
	for (size_t i = 0; i < idx->n_manifests && used < sizeof(have) - 1;
	     i++) {
		const struct image_descriptor *d = &idx->manifests[i];
		int n = snprintf(have + used, sizeof(have) - used,
		    "%s%s/%s%s%s", i ? ", " : "", *d->os ? d->os : "?",
		    *d->architecture ? d->architecture : "?",
		    *d->variant ? "/" : "", d->variant);
		if (n < 0)
			break;
		used += (size_t)n;
		if (used >= sizeof(have))
			used = sizeof(have) - 1;
	}
	return err_set(ERR_NOTFOUND,
	    "no %s/%s%s%s image in the index (it "
	    "has %s)",
	    p->os, p->architecture, p->variant ? "/" : "",
	    p->variant ? p->variant : "", used ? have : "no entries");
}

/* An array of strings, or null/absent: NULL-terminated copy. */
static int
string_array(const json_t *obj, const char *key, const char *what, char ***out,
    size_t *n)
{
	const json_t *arr = json_object_get(obj, key);
	char w[96];
	size_t cnt;
	int rc;

	*out = NULL;
	*n = 0;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return err_set(ERR_INVAL, "%s: expected an array of strings",
		    what);
	cnt = json_array_size(arr);
	if (cnt > MAX_CONFIG_ITEMS)
		return err_set(ERR_LIMIT, "%s: %zu entries, at most %d", what,
		    cnt, MAX_CONFIG_ITEMS);
	if (!(*out = calloc(cnt + 1, sizeof(char *))))
		return err_set(ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < cnt; i++) {
		const char *s;
		snprintf(w, sizeof(w), "%s[%zu]", what, i);
		if ((rc = get_string(json_array_get(arr, i), w, &s)))
			return rc;
		if (!((*out)[i] = strdup(s)))
			return err_set(ERR_NOMEM, "out of memory");
		(*n)++;
	}
	return 0;
}

static int
port_cmp(const void *a, const void *b)
{
	const struct image_port *x = a, *y = b;

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return strcmp(x->proto, y->proto);
}

static int
parse_ports(const json_t *obj, struct image_config *c)
{
	const json_t *ports = json_object_get(obj, "ExposedPorts");
	const char *key;
	json_t *v;
	size_t n = 0;

	if (!ports || json_is_null(ports))
		return 0;
	if (!json_is_object(ports))
		return err_set(ERR_INVAL,
		    "config.ExposedPorts: expected an "
		    "object");
	if (json_object_size(ports) > MAX_CONFIG_ITEMS)
		return err_set(ERR_LIMIT, "config.ExposedPorts: too many");
	if (!(c->ports =
	            calloc(json_object_size(ports) + 1, sizeof(*c->ports))))
		return err_set(ERR_NOMEM, "out of memory");
	json_object_foreach((json_t *)ports, key, v)
	{
		const char *slash = strchr(key, '/');
		const char *proto = slash ? slash + 1 : "tcp";
		char *end;
		unsigned long p;

		(void)v;
		if (!isdigit((unsigned char)key[0]))
			goto bad;
		p = strtoul(key, &end, 10);
		if (end != (slash ? slash : key + strlen(key)) || p < 1 ||
		    p > 65535)
			goto bad;
		if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
		    strcmp(proto, "sctp") != 0)
			goto bad;
		c->ports[n].port = (uint16_t)p;
		snprintf(c->ports[n].proto, sizeof(c->ports[n].proto), "%s",
		    proto);
		n++;
		continue;
bad:
		return err_set(ERR_INVAL,
		    "config.ExposedPorts: \"%.40s\" is "
		    "not PORT[/tcp|udp|sctp] (port 1-65535)",
		    key);
	}
	qsort(c->ports, n, sizeof(*c->ports), port_cmp);
	c->n_ports = n;
	return 0;
}

int
image_config_parse(const char *body, size_t len, struct image_config *out)
{
	json_t *root = NULL;
	const json_t *cfg, *rootfs;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > IMAGE_CONFIG_MAX) {
		rc = err_set(ERR_LIMIT, "config: %zu bytes, at most %u", len,
		    IMAGE_CONFIG_MAX);
		goto fail;
	}
	if ((rc = parse_json(body, len, "config", &root)))
		goto fail;
	if ((rc = opt_string(root, "os", "config.os", true, &out->os)) ||
	    (rc = opt_string(root, "architecture", "config.architecture", true,
	         &out->architecture)) ||
	    (rc = opt_string(root, "variant", "config.variant", true,
	         &out->variant)))
		goto fail;
	cfg = json_object_get(root, "config");
	if (cfg && !json_is_null(cfg)) {
		if (!json_is_object(cfg)) {
			rc = err_set(ERR_INVAL,
			    "config.config: expected an "
			    "object");
			goto fail;
		}
		if ((rc = string_array(cfg, "Entrypoint", "config.Entrypoint",
		         &out->entrypoint, &out->n_entrypoint)) ||
		    (rc = string_array(cfg, "Cmd", "config.Cmd", &out->cmd,
		         &out->n_cmd)) ||
		    (rc = string_array(cfg, "Env", "config.Env", &out->env,
		         &out->n_env)) ||
		    (rc = opt_string(cfg, "WorkingDir", "config.WorkingDir",
		         false, &out->working_dir)) ||
		    (rc = opt_string(cfg, "User", "config.User", false,
		         &out->user)) ||
		    (rc = parse_ports(cfg, out)))
			goto fail;
		for (size_t i = 0; i < out->n_env; i++)
			if (!strchr(out->env[i], '=') ||
			    out->env[i][0] == '=') {
				rc = err_set(ERR_INVAL,
				    "config.Env[%zu]: "
				    "\"%.40s\" is not NAME=value",
				    i, out->env[i]);
				goto fail;
			}
		if (out->working_dir && !*out->working_dir) {
			free(out->working_dir);
			out->working_dir = NULL;
		}
	}
	rootfs = json_object_get(root, "rootfs");
	if (rootfs && !json_is_null(rootfs)) {
		const json_t *type;
		if (!json_is_object(rootfs)) {
			rc = err_set(ERR_INVAL,
			    "config.rootfs: expected an "
			    "object");
			goto fail;
		}
		type = json_object_get(rootfs, "type");
		if (!json_is_string(type) ||
		    strcmp(json_string_value(type), "layers") != 0) {
			rc = err_set(ERR_INVAL,
			    "config.rootfs.type: expected "
			    "\"layers\"");
			goto fail;
		}
		if ((rc = string_array(rootfs, "diff_ids",
		         "config.rootfs.diff_ids", &out->diff_ids,
		         &out->n_diff_ids)))
			goto fail;
		for (size_t i = 0; i < out->n_diff_ids; i++)
			if (!image_digest_valid(out->diff_ids[i])) {
				rc = err_set(ERR_INVAL,
				    "config.rootfs."
				    "diff_ids[%zu]: not sha256:<64 hex>",
				    i);
				goto fail;
			}
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	image_config_clear(out);
	return rc;
}

static void
free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
image_config_clear(struct image_config *c)
{
	if (!c)
		return;
	free(c->os);
	free(c->architecture);
	free(c->variant);
	free_strings(c->entrypoint, c->n_entrypoint);
	free_strings(c->cmd, c->n_cmd);
	free_strings(c->env, c->n_env);
	free(c->working_dir);
	free(c->user);
	free(c->ports);
	free_strings(c->diff_ids, c->n_diff_ids);
	memset(c, 0, sizeof(*c));
}
