/*
 * drv_image: drives libimage from the image tests and the bench until the
 * provider has its own command: pull an image into a cache and print
 * what a runtime gets (JSON), collect the cache, report its usage.
 *
 *   drv_image pull --cache DIR [--mirror REG=URL]... [--insecure HOST]...
 *       [--cred HOST=USER (password in $DRV_IMAGE_PASSWORD)]
 *       [--platform OS/ARCH[/VARIANT]] [--max-layer N] [--max-image N]
 *       [--max-unpacked N] [--max-entries N] [--timeout S] [--progress] REF
 *   drv_image gc --cache DIR --max BYTES [--keep DIGEST]...
 *   drv_image usage --cache DIR
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "image/cache.h"
#include "image/pull.h"

#define MAX_LIST 16

static int
usage(void)
{
	fprintf(stderr,
	    "usage: drv_image pull --cache DIR [options] REF\n"
	    "       drv_image gc --cache DIR --max BYTES [--keep DIGEST]...\n"
	    "       drv_image usage --cache DIR\n");
	return 2;
}

static int
fail(const char *what)
{
	fprintf(stderr, "drv_image: %s%s%s\n", what, *err_msg() ? ": " : "",
	    err_msg());
	return 1;
}

static int
print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(1) | JSON_SORT_KEYS);

	json_decref(v);
	if (!s)
		return fail("out of memory");
	puts(s);
	free(s);
	return 0;
}

static json_t *
strings(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *
result_json(const struct image_result *r, const char *lower)
{
	const struct image_config *c = &r->config;
	json_t *layers = json_array(), *ports = json_array(), *cfg;

	for (size_t i = 0; i < r->n_layers; i++)
		json_array_append_new(layers,
		    json_pack("{s:s, s:s, s:I, s:s, s:I, s:b}", "digest",
		        r->layers[i].digest, "media_type",
		        r->layers[i].media_type, "size",
		        (json_int_t)r->layers[i].size, "dir", r->layers[i].dir,
		        "unpacked_bytes",
		        (json_int_t)r->layers[i].unpacked_bytes, "cached",
		        r->layers[i].cached));
	for (size_t i = 0; i < c->n_ports; i++)
		json_array_append_new(ports,
		    json_pack("{s:i, s:s}", "port", c->ports[i].port, "proto",
		        c->ports[i].proto));
	cfg = json_pack("{s:s, s:s, s:o, s:o, s:o, s:s?, s:s?, s:o}", "os",
	    c->os, "architecture", c->architecture, "entrypoint",
	    strings(c->entrypoint, c->n_entrypoint), "cmd",
	    strings(c->cmd, c->n_cmd), "env", strings(c->env, c->n_env),
	    "working_dir", c->working_dir, "user", c->user, "ports", ports);
	return json_pack("{s:s, s:s?, s:s, s:s, s:o, s:o, s:s, s:o, s:I, s:I}",
	    "reference", r->reference, "index_digest", r->index_digest,
	    "manifest_digest", r->manifest_digest, "config_digest",
	    r->config_digest, "config", cfg, "layers", layers, "lowerdir",
	    lower, "skipped", strings(r->skipped, r->n_skipped),
	    "setid_stripped", (json_int_t)r->setid_stripped, "bytes_downloaded",
	    (json_int_t)r->bytes_downloaded);
}

static int
on_progress(void *ctx, const struct image_progress *p)
{
	static const char *const names[] = { "", "resolve", "download",
		"unpack", "done" };

	(void)ctx;
	fprintf(stderr, "progress %s layer %zu/%zu %llu/%llu\n",
	    names[p->phase], p->layer, p->n_layers, (unsigned long long)p->done,
	    (unsigned long long)p->total);
	return 0;
}

static int
num(const char *s, const char *what, uint64_t *out)
{
	if (util_parse_u64(s, what, out))
		return fail("bad number");
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cache_dir = NULL, *ref_s = NULL, *keep[MAX_LIST];
	const char *insecure[MAX_LIST];
	struct image_mirror mirrors[MAX_LIST];
	struct image_credential cred = { 0 };
	struct image_pull_options o = { 0 };
	struct image_platform pf, *pfp = NULL;
	char *pf_buf = NULL, *cred_buf = NULL;
	struct image_cache *cache = NULL;
	uint64_t max = 0, v;
	size_t n_keep = 0;
	int progress = 0, rc = 1;
	const char *cmd;

	if (argc < 2)
		return usage();
	cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i],
		           *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--progress") == 0) {
			progress = 1;
			continue;
		}
		if (a[0] != '-') {
			ref_s = a;
			continue;
		}
		if (!val)
			return usage();
		i++;
		if (strcmp(a, "--cache") == 0) {
			cache_dir = val;
		} else if (strcmp(a, "--mirror") == 0 &&
		    o.n_mirrors < MAX_LIST && strchr(val, '=')) {
			char *s = strdup(val), *eq = strchr(s, '=');
			*eq = '\0';
			mirrors[o.n_mirrors].registry = s;
			mirrors[o.n_mirrors++].url = eq + 1;
		} else if (strcmp(a, "--insecure") == 0 &&
		    o.n_insecure < MAX_LIST) {
			insecure[o.n_insecure++] = val;
		} else if (strcmp(a, "--cred") == 0 && strchr(val, '=')) {
			char *eq;
			cred_buf = strdup(val);
			eq = strchr(cred_buf, '=');
			*eq = '\0';
			cred.host = cred_buf;
			cred.username = eq + 1;
			cred.password = getenv("DRV_IMAGE_PASSWORD");
		} else if (strcmp(a, "--platform") == 0) {
			char *s1, *s2;
			pf_buf = strdup(val);
			s1 = strchr(pf_buf, '/');
			if (!s1)
				return usage();
			*s1++ = '\0';
			s2 = strchr(s1, '/');
			if (s2)
				*s2++ = '\0';
			pf.os = pf_buf;
			pf.architecture = s1;
			pf.variant = s2;
			pfp = &pf;
		} else if (strcmp(a, "--max-layer") == 0) {
			if (num(val, a, &o.max_layer_bytes))
				return 2;
		} else if (strcmp(a, "--max-image") == 0) {
			if (num(val, a, &o.max_image_bytes))
				return 2;
		} else if (strcmp(a, "--max-unpacked") == 0) {
			if (num(val, a, &o.max_unpacked_bytes))
				return 2;
		} else if (strcmp(a, "--max-entries") == 0) {
			if (num(val, a, &o.max_entries))
				return 2;
		} else if (strcmp(a, "--timeout") == 0) {
			if (num(val, a, &v))
				return 2;
			o.timeout_s = (long)v;
		} else if (strcmp(a, "--max") == 0) {
			if (num(val, a, &max))
				return 2;
		} else if (strcmp(a, "--keep") == 0 && n_keep < MAX_LIST) {
			keep[n_keep++] = val;
		} else {
			return usage();
		}
	}
	o.mirrors = mirrors;
	o.insecure = insecure;
	if (!cache_dir)
		return usage();
	if (image_cache_open(cache_dir, &cache))
		return fail("cache");
	if (strcmp(cmd, "pull") == 0 && ref_s) {
		struct image_auth auth = { &cred, cred.host ? 1 : 0 };
		struct image_result res;
		struct image_ref ref;
		char *lower = NULL;

		if (image_ref_parse(ref_s, &ref)) {
			rc = fail(ref_s);
			goto out;
		}
		if (image_pull(cache, &ref, pfp, &auth, &o,
		        progress ? on_progress : NULL, NULL, &res)) {
			rc = fail("pull");
			image_ref_clear(&ref);
			goto out;
		}
		if (image_result_lowerdir(&res, &lower))
			lower = strdup("");
		rc = print_json(result_json(&res, lower));
		free(lower);
		image_result_clear(&res);
		image_ref_clear(&ref);
	} else if (strcmp(cmd, "gc") == 0) {
		struct image_gc_stats st;
		if (image_cache_gc(cache, max, keep, n_keep, &st)) {
			rc = fail("gc");
			goto out;
		}
		rc = print_json(json_pack("{s:I, s:I, s:I, s:I}",
		    "bytes_before", (json_int_t)st.bytes_before, "bytes_after",
		    (json_int_t)st.bytes_after, "layers_removed",
		    (json_int_t)st.layers_removed, "blobs_removed",
		    (json_int_t)st.blobs_removed));
	} else if (strcmp(cmd, "usage") == 0) {
		struct image_cache_usage u;
		if (image_cache_usage(cache, &u)) {
			rc = fail("usage");
			goto out;
		}
		rc = print_json(json_pack("{s:I, s:I, s:I}", "bytes",
		    (json_int_t)u.bytes, "layers", (json_int_t)u.layers,
		    "blobs", (json_int_t)u.blobs));
	} else {
		rc = usage();
	}
out:
	image_cache_free(cache);
	for (size_t i = 0; i < o.n_mirrors; i++)
		free((char *)mirrors[i].registry);
	free(pf_buf);
	free(cred_buf);
	return rc;
}
