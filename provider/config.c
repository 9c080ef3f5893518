/*
 * config: provider.json and the provider.advertise body.  Capacity is what
 * the machine has (sysconf, statvfs) less what the owner keeps back.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/capability.h"
#include "common/cjson.h"
#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/util.h"
#include "provider/config.h"
#include "provider/image_run.h"
#include "sandbox/net.h"
#include "sandbox/sandbox.h"

static const char *const price_names[PRICE_COUNT] = { "cpu_ms", "mem_mb_s",
	"storage_mb_s", "request", "egress_byte", "fuel" };

void
config_init(struct provider_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "provider");
	snprintf(c->listen, sizeof(c->listen), "%s", PROVIDER_LISTEN_DEFAULT);
	snprintf(c->domain, sizeof(c->domain), "%s", PROVIDER_DOMAIN_DEFAULT);
	snprintf(c->denom, sizeof(c->denom), "uakt");
	/* A modest default: 1 micro-unit per cpu second, per 100 MB-s of
	 * memory, per GB-s of storage, per 1000 requests and per MB out. */
	c->price[PRICE_CPU_MS] = 1000;
	c->price[PRICE_MEM_MB_S] = 10000;
	c->price[PRICE_STORAGE_MB_S] = 1000;
	c->price[PRICE_REQUEST] = 1000;
	c->price[PRICE_EGRESS_BYTE] = 1;
	/* 1 micro-unit per 10^6 fuel (about a millisecond of wasm). */
	c->price[PRICE_FUEL] = 1;
	c->attributes = json_object();
	c->log_max_bytes = 1u << 20;
	c->artifact_max_bytes = 256u << 20;
	c->stop_grace_ms = 5000;
	c->pids_per_cpu = PROVIDER_PIDS_PER_CPU_DEFAULT;
	c->pids_max = PROVIDER_PIDS_MAX_DEFAULT;
	c->prepare_jobs = PROVIDER_PREPARE_JOBS_DEFAULT;
	c->prepare_memory_bytes = PROVIDER_PREPARE_MEMORY_DEFAULT;
	c->prepare_timeout_ms = PROVIDER_PREPARE_TIMEOUT_MS_DEFAULT;
	c->fetch_allow = json_array();
	c->registry_mirrors = json_array();
	c->insecure_registries = json_array();
	c->image_cache_max_bytes = IMAGE_RUN_CACHE_MAX_DEFAULT;
	c->image_id_base = IMAGE_RUN_ID_BASE_DEFAULT;
	c->egress_allow = json_array();
	c->egress_deny = json_array();
	c->dns = json_array();
	c->port_min = NET_PORT_MIN_DEFAULT;
	c->port_max = NET_PORT_MAX_DEFAULT;
}

int
config_oci_available(void)
{
	return sandbox_image_supported(NULL, 0);
}

int
config_add_mirror(struct provider_config *c, const char *s)
{
	struct image_mirror m;
	char *dup = strdup(s);
	int rc;

	if (dup == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	rc = image_run_parse_mirror(dup, &m);
	free(dup);
	if (rc == 0 &&
	    json_array_append_new(c->registry_mirrors, json_string(s)) < 0)
		rc = err_set(ERR_INVAL,
		    "--registry-mirror: \"%s\" is not "
		    "UTF-8",
		    s);
	return rc;
}

int
config_add_insecure(struct provider_config *c, const char *s)
{
	if (*s == '\0' || strchr(s, '/') != NULL ||
	    json_array_append_new(c->insecure_registries, json_string(s)) < 0)
		return err_set(ERR_INVAL,
		    "--insecure-registry: \"%s\" is not HOST[:PORT]", s);
	return 0;
}

int
config_apply_overrides(struct provider_config *c,
    const struct provider_overrides *o)
{
	size_t i;
	int rc;

	if (o == NULL)
		return 0;
	if (o->n_mirrors > 0) {
		json_array_clear(c->registry_mirrors);
		for (i = 0; i < o->n_mirrors; i++)
			if ((rc = config_add_mirror(c, o->mirrors[i])) < 0)
				return rc;
	}
	if (o->n_insecure > 0) {
		json_array_clear(c->insecure_registries);
		for (i = 0; i < o->n_insecure; i++)
			if ((rc = config_add_insecure(c, o->insecure[i])) < 0)
				return rc;
	}
	if (o->image_cache_max_bytes)
		c->image_cache_max_bytes = o->image_cache_max_bytes;
	if (o->image_id_base)
		c->image_id_base = o->image_id_base;
	if (o->insecure_http)
		c->insecure_http = 1;
	return 0;
}

int
config_pin_market(const char *data, const struct provider_config *c,
    int *learned)
{
	char path[PATH_MAX];
	int rc;

	if (learned)
		*learned = 0;
	if (strncmp(c->market, "http://", 7) == 0) {
		if (c->insecure_http || util_insecure_http_env())
			return 0;
		return err_set(ERR_REJECT,
		    "market %s is plain http://: give its https:// URL "
		    "(provider init --market), or --insecure-http for "
		    "loopback development",
		    c->market);
	}
	snprintf(path, sizeof(path), "%.4000s/%s", data, CONFIG_KNOWN_MARKETS);
	if ((rc = http_pin_known(c->market,
	         c->market_key[0] ? c->market_key : NULL, path, 10000,
	         learned)) < 0)
		return err_prefix(rc, "market %s", c->market);
	return 0;
}

int
config_wasm_available(void)
{
	const char *path = getenv("PATH");
	char buf[4096];
	const char *p, *e;

	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if (e > p &&
		    (size_t)snprintf(buf, sizeof(buf), "%.*s/wasm2c",
		        (int)(e - p), p) < sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return 1;
	}
	return 0;
}

json_t *
config_runtimes_json(void)
{
	json_t *a = json_pack("[s]", "process");

	if (a != NULL && config_wasm_available())
		json_array_append_new(a, json_string("wasm"));
	if (a != NULL && config_oci_available())
		json_array_append_new(a, json_string("oci"));
	return a;
}

void
config_clear(struct provider_config *c)
{
	json_decref(c->attributes);
	json_decref(c->fetch_allow);
	json_decref(c->registry_mirrors);
	json_decref(c->insecure_registries);
	c->attributes = c->fetch_allow = NULL;
	c->registry_mirrors = c->insecure_registries = NULL;
	json_decref(c->egress_allow);
	json_decref(c->egress_deny);
	json_decref(c->dns);
	c->egress_allow = c->egress_deny = c->dns = NULL;
}

int
config_detect(const char *dir, struct provider_resources *out)
{
	struct statvfs vfs;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

	if (cpus < 1 || pages < 1 || psize < 1)
		return err_set(ERR_IO, "cannot detect cores and memory");
	if (statvfs(dir, &vfs) < 0)
		return err_set(ERR_IO, "statvfs %s: %m", dir);
	out->cpu_millis = (uint64_t)cpus * 1000;
	out->memory_bytes = (uint64_t)pages * (uint64_t)psize;
	out->storage_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	return 0;
}

static uint64_t
minus(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

void
config_offered(const struct provider_config *c, struct provider_resources *out)
{
	out->cpu_millis = minus(c->detected.cpu_millis, c->reserved.cpu_millis);
	out->memory_bytes =
	    minus(c->detected.memory_bytes, c->reserved.memory_bytes);
	out->storage_bytes =
	    minus(c->detected.storage_bytes, c->reserved.storage_bytes);
}

/* One resource of config_check: ERR_INVAL when the reservation leaves
 * nothing of it to offer. */
static int
check_left(uint64_t detected, uint64_t reserved, const char *option,
    const char *unit, uint64_t scale)
{
	if (reserved < detected)
		return 0;
	return err_set(ERR_INVAL,
	    "%s %.3f %s leaves nothing to offer: this machine has %.3f %s "
	    "(reserve less, so that capacity stays above 0)",
	    option, (double)reserved / (double)scale, unit,
	    (double)detected / (double)scale, unit);
}

int
config_check(const struct provider_config *c)
{
	int rc;

	if ((rc = check_left(c->detected.cpu_millis, c->reserved.cpu_millis,
	         "--reserve-cpu", "CPUs", 1000)) < 0 ||
	    (rc = check_left(c->detected.memory_bytes, c->reserved.memory_bytes,
	         "--reserve-memory", "GiB", 1u << 30)) < 0 ||
	    (rc = check_left(c->detected.storage_bytes,
	         c->reserved.storage_bytes, "--reserve-storage", "GiB",
	         1u << 30)) < 0)
		return rc;
	if (c->pids_per_cpu == 0 || c->pids_max == 0)
		return err_set(ERR_INVAL,
		    "--pids-per-cpu %llu, --pids-max %llu: "
		    "each must be at least 1",
		    (unsigned long long)c->pids_per_cpu,
		    (unsigned long long)c->pids_max);
	if (c->prepare_jobs == 0 || c->prepare_jobs > 64)
		return err_set(ERR_INVAL,
		    "--prepare-jobs %llu: expected 1 to 64",
		    (unsigned long long)c->prepare_jobs);
	if (c->prepare_memory_bytes < PROVIDER_PREPARE_MEMORY_FLOOR)
		return err_set(ERR_INVAL,
		    "--prepare-memory %llu: expected at least %llu bytes (a "
		    "C compiler's working set)",
		    (unsigned long long)c->prepare_memory_bytes,
		    (unsigned long long)PROVIDER_PREPARE_MEMORY_FLOOR);
	if (c->prepare_timeout_ms < 1000)
		return err_set(ERR_INVAL,
		    "--prepare-timeout: %lld ms is below a second",
		    (long long)c->prepare_timeout_ms);
	return 0;
}

uint64_t
config_pids_for(const struct provider_config *c, uint64_t cpu_millis)
{
	uint64_t cpus = (cpu_millis + 999) / 1000, n;

	if (cpus == 0)
		cpus = 1;
	if (__builtin_mul_overflow(cpus, c->pids_per_cpu, &n) ||
	    n > c->pids_max)
		n = c->pids_max;
	return n;
}

/* Is s one host of --allow-fetch: a name or an IPv4 address
 * ([A-Za-z0-9.-]), or an IPv6 literal in brackets, then an optional
 * ":port" (1-65535)? */
static int
fetch_host_ok(const char *s)
{
	const char *p = s, *port;
	unsigned long v;
	char *end;

	if (*p == '[') {
		for (p++; *p && *p != ']'; p++)
			if (!(*p == ':' || *p == '.' ||
			        (*p >= '0' && *p <= '9') ||
			        (*p >= 'a' && *p <= 'f') ||
			        (*p >= 'A' && *p <= 'F')))
				return 0;
		if (*p != ']' || p == s + 1)
			return 0;
		p++;
	} else {
		for (; *p && *p != ':'; p++)
			if (!(*p == '.' || *p == '-' ||
			        (*p >= '0' && *p <= '9') ||
			        (*p >= 'a' && *p <= 'z') ||
			        (*p >= 'A' && *p <= 'Z')))
				return 0;
		if (p == s)
			return 0;
	}
	if (*p == '\0')
		return 1;
	if (*p != ':')
		return 0;
	port = p + 1;
	errno = 0;
	v = strtoul(port, &end, 10);
	return *port >= '0' && *port <= '9' && *end == '\0' && errno == 0 &&
	    v >= 1 && v <= 65535;
}

int
config_parse_fetch_allow(struct provider_config *c, const char *s)
{
	char *dup = strdup(s), *save = NULL, *tok, *q;
	json_t *arr = json_array();
	int rc = 0;

	if (dup == NULL || arr == NULL) {
		free(dup);
		json_decref(arr);
		return err_set(ERR_NOMEM, "out of memory");
	}
	for (tok = strtok_r(dup, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!fetch_host_ok(tok)) {
			rc = err_set(ERR_INVAL,
			    "--allow-fetch: \"%s\" is not HOST or HOST:PORT",
			    tok);
			break;
		}
		for (q = tok; *q; q++)
			if (*q >= 'A' && *q <= 'Z')
				*q = (char)(*q - 'A' + 'a');
		json_array_append_new(arr, json_string(tok));
	}
	free(dup);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	json_decref(c->fetch_allow);
	c->fetch_allow = arr;
	return 0;
}

/* Call fn(ctx, key, value) for each "k=v" of a comma list. */
static int
each_pair(const char *s, const char *what,
    int (*fn)(void *, const char *, const char *), void *ctx)
{
	char *dup = strdup(s), *save = NULL, *tok, *eq;
	int rc = 0;

	if (dup == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (tok = strtok_r(dup, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(tok, '=')) == NULL || eq == tok) {
			rc = err_set(ERR_INVAL, "%s: \"%s\" is not NAME=VALUE",
			    what, tok);
			break;
		}
		*eq = '\0';
		if ((rc = fn(ctx, tok, eq + 1)) < 0)
			break;
	}
	free(dup);
	return rc;
}

static int
price_pair(void *ctx, const char *k, const char *v)
{
	struct provider_config *c = ctx;
	int64_t n;
	int i, rc;

	if (strcmp(k, "denom") == 0) {
		if (*v == '\0' || strlen(v) >= sizeof(c->denom))
			return err_set(ERR_INVAL,
			    "--price: denom \"%s\" is "
			    "empty or too long",
			    v);
		snprintf(c->denom, sizeof(c->denom), "%s", v);
		return 0;
	}
	for (i = 0; i < PRICE_COUNT; i++)
		if (strcmp(k, price_names[i]) == 0)
			break;
	if (i == PRICE_COUNT)
		return err_set(ERR_INVAL,
		    "--price: \"%s\" is not one of denom, "
		    "cpu_ms, mem_mb_s, storage_mb_s, request, egress_byte, "
		    "fuel",
		    k);
	if ((rc = util_parse_i64(v, k, &n)) < 0)
		return err_prefix(rc, "--price");
	if (n < 0)
		return err_set(ERR_RANGE, "--price: %s=%s is negative", k, v);
	c->price[i] = n;
	return 0;
}

int
config_parse_price(struct provider_config *c, const char *s)
{
	return each_pair(s, "--price", price_pair, c);
}

static int
attr_pair(void *ctx, const char *k, const char *v)
{
	struct provider_config *c = ctx;

	if (json_object_set_new(c->attributes, k, json_string(v)) < 0)
		return err_set(ERR_INVAL, "--attributes: %s=%s is not UTF-8", k,
		    v);
	return 0;
}

int
config_parse_attributes(struct provider_config *c, const char *s)
{
	return each_pair(s, "--attributes", attr_pair, c);
}

static json_t *
resources_json(const struct provider_resources *r)
{
	return json_pack("{s:I,s:I,s:I}", "cpu_millis",
	    (json_int_t)r->cpu_millis, "memory_bytes",
	    (json_int_t)r->memory_bytes, "storage_bytes",
	    (json_int_t)r->storage_bytes);
}

static json_t *
price_json(const struct provider_config *c)
{
	json_t *p = json_pack("{s:s}", "denom", c->denom);
	int i;

	for (i = 0; p && i < PRICE_COUNT; i++)
		if (c->price[i] > 0)
			json_object_set_new(p, price_names[i],
			    json_integer(c->price[i]));
	return p;
}

int
config_save(const char *path, const struct provider_config *c)
{
	json_t *j;
	char *text;
	int rc;

	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:O,s:o,s:o,s:I,s:I,s:I,"
	              "s:I,s:I,s:I,s:I,s:I,s:O,s:O,s:O,s:I,s:I}",
	    "market", c->market, "name", c->name, "listen", c->listen, "domain",
	    c->domain, "api_url", c->api_url, "detected",
	    resources_json(&c->detected), "reserved",
	    resources_json(&c->reserved), "attributes", c->attributes, "price",
	    price_json(c), "runtimes", config_runtimes_json(), "log_max_bytes",
	    (json_int_t)c->log_max_bytes, "artifact_max_bytes",
	    (json_int_t)c->artifact_max_bytes, "stop_grace_ms",
	    (json_int_t)c->stop_grace_ms, "pids_per_cpu",
	    (json_int_t)c->pids_per_cpu, "pids_max", (json_int_t)c->pids_max,
	    "prepare_jobs", (json_int_t)c->prepare_jobs, "prepare_memory_bytes",
	    (json_int_t)c->prepare_memory_bytes, "prepare_timeout_ms",
	    (json_int_t)c->prepare_timeout_ms, "fetch_allow", c->fetch_allow,
	    "registry_mirrors", c->registry_mirrors, "insecure_registries",
	    c->insecure_registries, "image_cache_max_bytes",
	    (json_int_t)c->image_cache_max_bytes, "image_id_base",
	    (json_int_t)c->image_id_base);
	if (j != NULL && c->storage_classes[0] &&
	    json_object_set_new(j, "storage_classes",
	        json_string(c->storage_classes))) {
		json_decref(j);
		j = NULL;
	}
	if (j != NULL &&
	    (json_object_set_new(j, "insecure_http",
	         json_boolean(c->insecure_http)) < 0 ||
	        json_object_set_new(j, "market_key",
	            json_string(c->market_key)) < 0 ||
	        json_object_set_new(j, "tls_cert", json_string(c->tls_cert)) <
	            0 ||
	        json_object_set_new(j, "tls_key", json_string(c->tls_key)) <
	            0 ||
	        json_object_set_new(j, "tls_certs_dir",
	            json_string(c->tls_certs_dir)) < 0)) {
		json_decref(j);
		j = NULL;
	}
	if (j == NULL)
		return err_set(ERR_NOMEM, "%s: cannot build the config", path);
	if (json_object_set_new(j, "net",
	        json_pack("{s:b,s:s,s:b,s:O,s:O,s:O,s:i,s:i}", "on", c->net_on,
	            "pool", c->net_pool[0] ? c->net_pool : NET_POOL_DEFAULT,
	            "egress", !c->egress_off, "egress_allow", c->egress_allow,
	            "egress_deny", c->egress_deny, "dns", c->dns, "port_min",
	            (int)c->port_min, "port_max", (int)c->port_max)) != 0) {
		json_decref(j);
		return err_set(ERR_NOMEM, "%s: cannot build the config", path);
	}
	text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (text == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	rc = util_write_file(path, text, strlen(text), 0644);
	free(text);
	return rc;
}

int
config_setup(const char *data, struct provider_config *c, struct key **key,
    int *created)
{
	char path[PATH_MAX];
	int rc;

	*key = NULL;
	*created = 0;
	if ((rc = util_mkdirs(data, 0700)) < 0 ||
	    (rc = config_detect(data, &c->detected)) < 0 ||
	    (rc = config_check(c)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%.4000s/provider.key", data);
	if ((rc = key_load_or_create(path, key, created)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%.4000s/provider.json", data);
	if ((rc = config_save(path, c)) < 0) {
		key_free(*key);
		*key = NULL;
		return rc;
	}
	return 0;
}

static int
get_u64(const json_t *o, const char *k, const char *what, uint64_t *out)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return err_set(ERR_INVAL,
		    "%s.%s: missing or not a "
		    "non-negative integer",
		    what, k);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int
get_res(const json_t *o, const char *k, struct provider_resources *r)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_object(v))
		return err_set(ERR_INVAL, "%s: missing or not an object", k);
	if (get_u64(v, "cpu_millis", k, &r->cpu_millis) < 0 ||
	    get_u64(v, "memory_bytes", k, &r->memory_bytes) < 0 ||
	    get_u64(v, "storage_bytes", k, &r->storage_bytes) < 0)
		return ERR_INVAL;
	return 0;
}

static int
get_text(const json_t *o, const char *k, char *buf, size_t cap)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_string(v) || json_string_length(v) >= cap)
		return err_set(ERR_INVAL,
		    "%s: missing, not a string or "
		    "too long",
		    k);
	snprintf(buf, cap, "%s", json_string_value(v));
	return 0;
}

/* A list of strings of net.NAME into *dst (replacing it). */
static int
net_list_from_json(const json_t *net, const char *name, json_t **dst)
{
	const json_t *a = json_object_get(net, name), *v;
	size_t i;

	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > 16)
		return err_set(ERR_INVAL, "net.%s: expected at most 16 strings",
		    name);
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			return err_set(ERR_INVAL, "net.%s[%zu]: not a string",
			    name, i);
	}
	json_decref(*dst);
	*dst = json_incref((json_t *)a);
	return 0;
}

/* The "net" object of provider.json. */
static int
config_net_from_json(struct provider_config *c, const json_t *net)
{
	const json_t *v;
	json_int_t lo, hi;

	if (!json_is_object(net))
		return err_set(ERR_INVAL, "net: not an object");
	c->net_on = json_is_true(json_object_get(net, "on"));
	if ((v = json_object_get(net, "egress")) != NULL)
		c->egress_off = json_is_false(v);
	if ((v = json_object_get(net, "pool")) != NULL) {
		if (!json_is_string(v) ||
		    json_string_length(v) >= sizeof(c->net_pool))
			return err_set(ERR_INVAL, "net.pool: not a CIDR");
		snprintf(c->net_pool, sizeof(c->net_pool), "%s",
		    json_string_value(v));
	}
	lo = json_integer_value(json_object_get(net, "port_min"));
	hi = json_integer_value(json_object_get(net, "port_max"));
	if (json_object_get(net, "port_min") ||
	    json_object_get(net, "port_max")) {
		if (lo < 1 || hi > 65535 || lo > hi)
			return err_set(ERR_INVAL,
			    "net.port_min, net.port_max: expected 1 <= min <= "
			    "max <= 65535");
		c->port_min = (uint16_t)lo;
		c->port_max = (uint16_t)hi;
	}
	if (net_list_from_json(net, "egress_allow", &c->egress_allow) < 0 ||
	    net_list_from_json(net, "egress_deny", &c->egress_deny) < 0 ||
	    net_list_from_json(net, "dns", &c->dns) < 0)
		return ERR_INVAL;
	return 0;
}

static int
on_off(const char *s, const char *what, int *on)
{
	if (strcmp(s, "on") == 0)
		*on = 1;
	else if (strcmp(s, "off") == 0)
		*on = 0;
	else
		return err_set(ERR_INVAL, "%s %s: expected on or off", what, s);
	return 0;
}

int
config_parse_net(struct provider_config *c, const char *s)
{
	return on_off(s, "--net", &c->net_on);
}

int
config_parse_egress(struct provider_config *c, const char *s)
{
	int on = 1, rc;

	if ((rc = on_off(s, "--egress", &on)) < 0)
		return rc;
	c->egress_off = !on;
	return 0;
}

int
config_parse_port_range(struct provider_config *c, const char *s)
{
	unsigned long lo, hi;
	char *end;

	errno = 0;
	lo = strtoul(s, &end, 10);
	if (errno || end == s || *end != '-' || s[0] == '-')
		goto bad;
	s = end + 1;
	hi = strtoul(s, &end, 10);
	if (errno || end == s || *end != '\0' || s[0] == '-' || lo < 1 ||
	    hi > 65535 || lo > hi)
		goto bad;
	c->port_min = (uint16_t)lo;
	c->port_max = (uint16_t)hi;
	return 0;
bad:
	return err_set(ERR_INVAL,
	    "--port-range: expected A-B with 1 <= A <= B <= 65535 (e.g. "
	    "30000-32767)");
}

static int
list_add(json_t *list, const char *v, const char *what)
{
	struct net_cidr cidr;
	int rc;

	if (json_array_size(list) >= 16)
		return err_set(ERR_LIMIT, "more than 16 %s", what);
	if ((rc = net_cidr_parse(v, what, &cidr)) < 0)
		return rc;
	if (json_array_append_new(list, json_string(v)) != 0)
		return err_set(ERR_NOMEM, "out of memory");
	return 0;
}

int
config_add_egress(struct provider_config *c, int deny, const char *cidr)
{
	return list_add(deny ? c->egress_deny : c->egress_allow, cidr,
	    deny ? "--egress-deny" : "--egress-allow");
}

int
config_add_dns(struct provider_config *c, const char *addr)
{
	return list_add(c->dns, addr, "--dns");
}

/* A NULL-terminated view of a list of strings (at most 16). */
static const char *const *
list_view(const json_t *a, const char *out[17])
{
	size_t i, n = 0;
	const json_t *v;

	json_array_foreach(a, i, v)
	{
		if (n < 16 && json_is_string(v))
			out[n++] = json_string_value(v);
	}
	out[n] = NULL;
	return out;
}

void
config_net_scope(const char *key_text, char *buf, size_t len)
{
	snprintf(buf, len, "p%.8s", strlen(key_text) > 8 ? key_text + 8 : "");
	for (size_t i = 1; buf[i]; i++) {
		char ch = buf[i];
		if (ch >= 'A' && ch <= 'Z')
			buf[i] = (char)(ch - 'A' + 'a');
		else if (!((ch >= 'a' && ch <= 'z') ||
		             (ch >= '0' && ch <= '9')))
			buf[i] = '0';
	}
}

void
config_net_config(const struct provider_config *c, const char *scope,
    struct net_config *cfg, const char *lists[3][17])
{
	net_config_init(cfg);
	cfg->scope = scope;
	cfg->pool = c->net_pool[0] ? c->net_pool : NULL;
	cfg->egress_off = c->egress_off;
	cfg->egress_allow = list_view(c->egress_allow, lists[0]);
	cfg->egress_deny = list_view(c->egress_deny, lists[1]);
	cfg->dns = json_array_size(c->dns) ? list_view(c->dns, lists[2]) : NULL;
	cfg->port_min = c->port_min;
	cfg->port_max = c->port_max;
}

void
config_capabilities(const struct provider_config *c, int offered[])
{
	for (int i = 0; i < CAPABILITY_COUNT; i++)
		offered[i] = 0;
	if (!c->net_on || !c->net_live)
		return;
	offered[CAPABILITY_NETWORK] = 1;
	offered[CAPABILITY_PORTS] = 1;
	offered[CAPABILITY_EGRESS] = !c->egress_off;
}

int
config_net_capabilities(const struct provider_config *c, json_t *out)
{
	int offered[CAPABILITY_COUNT];

	config_capabilities(c, offered);
	for (int i = 0; i < CAPABILITY_COUNT; i++)
		if (offered[i] &&
		    json_array_append_new(out, json_string(capability_name(i))))
			return ERR_NOMEM;
	return 0;
}

/* An optional string member into buf ("" when absent). */
static int
get_opt_text(json_t *j, const char *name, char *buf, size_t cap)
{
	json_t *v = json_object_get(j, name);

	buf[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) >= cap)
		return err_set(ERR_INVAL,
		    "%s: expected a string under %zu bytes", name, cap);
	snprintf(buf, cap, "%s", json_string_value(v));
	return 0;
}

int
config_load(const char *path, struct provider_config *c)
{
	json_t *j, *v, *p;
	json_error_t je;
	uint64_t n;
	int rc = ERR_INVAL, i;
	size_t k;

	if ((j = json_load_file(path, 0, &je)) == NULL)
		return err_set(ERR_IO,
		    "%s:%d:%d: %s (run `provider init` "
		    "first?)",
		    path, je.line, je.column, je.text);
	if (get_text(j, "market", c->market, sizeof(c->market)) < 0 ||
	    get_text(j, "name", c->name, sizeof(c->name)) < 0 ||
	    get_text(j, "listen", c->listen, sizeof(c->listen)) < 0 ||
	    get_text(j, "domain", c->domain, sizeof(c->domain)) < 0 ||
	    get_res(j, "detected", &c->detected) < 0 ||
	    get_res(j, "reserved", &c->reserved) < 0)
		goto fail;
	if ((v = json_object_get(j, "api_url")) && json_is_string(v))
		snprintf(c->api_url, sizeof(c->api_url), "%s",
		    json_string_value(v));
	if ((v = json_object_get(j, "attributes")) && json_is_object(v)) {
		json_decref(c->attributes);
		c->attributes = json_incref(v);
	}
	if ((p = json_object_get(j, "price")) == NULL || !json_is_object(p) ||
	    get_text(p, "denom", c->denom, sizeof(c->denom)) < 0) {
		err_set(ERR_INVAL, "%s: price.denom missing", path);
		goto fail;
	}
	for (i = 0; i < PRICE_COUNT; i++) {
		v = json_object_get(p, price_names[i]);
		c->price[i] = json_is_integer(v) ? json_integer_value(v) : 0;
	}
	if (get_u64(j, "log_max_bytes", "config", &n) == 0)
		c->log_max_bytes = n;
	if (get_u64(j, "artifact_max_bytes", "config", &n) == 0)
		c->artifact_max_bytes = n;
	if (get_u64(j, "stop_grace_ms", "config", &n) == 0)
		c->stop_grace_ms = (int64_t)n;
	if (get_u64(j, "pids_per_cpu", "config", &n) == 0)
		c->pids_per_cpu = n;
	if (get_u64(j, "pids_max", "config", &n) == 0)
		c->pids_max = n;
	if (get_u64(j, "prepare_jobs", "config", &n) == 0)
		c->prepare_jobs = n;
	if (get_u64(j, "prepare_memory_bytes", "config", &n) == 0)
		c->prepare_memory_bytes = n;
	if (get_u64(j, "prepare_timeout_ms", "config", &n) == 0)
		c->prepare_timeout_ms = (int64_t)n;
	if ((v = json_object_get(j, "net")) != NULL &&
	    config_net_from_json(c, v) < 0)
		goto fail;
	if ((v = json_object_get(j, "fetch_allow")) != NULL) {
		size_t k;
		json_t *h;
		if (!json_is_array(v)) {
			err_set(ERR_INVAL, "fetch_allow: not an array");
			goto fail;
		}
		json_array_foreach(v, k, h)
		{
			if (!json_is_string(h) ||
			    !fetch_host_ok(json_string_value(h))) {
				err_set(ERR_INVAL,
				    "fetch_allow[%zu]: not HOST or HOST:PORT",
				    k);
				goto fail;
			}
		}
		json_decref(c->fetch_allow);
		c->fetch_allow = json_incref(v);
	}
	if (get_u64(j, "image_cache_max_bytes", "config", &n) == 0 && n > 0)
		c->image_cache_max_bytes = n;
	c->insecure_http = json_is_true(json_object_get(j, "insecure_http"));
	if ((get_opt_text(j, "market_key", c->market_key,
	         sizeof(c->market_key)) < 0) ||
	    get_opt_text(j, "tls_cert", c->tls_cert, sizeof(c->tls_cert)) < 0 ||
	    get_opt_text(j, "tls_key", c->tls_key, sizeof(c->tls_key)) < 0 ||
	    get_opt_text(j, "tls_certs_dir", c->tls_certs_dir,
	        sizeof(c->tls_certs_dir)) < 0)
		goto fail;
	if (get_u64(j, "image_id_base", "config", &n) == 0 && n > 0)
		c->image_id_base = n;
	json_array_foreach(json_object_get(j, "registry_mirrors"), k, v)
	{
		if (!json_is_string(v) ||
		    config_add_mirror(c, json_string_value(v)) < 0) {
			err_set(ERR_INVAL,
			    "registry_mirrors[%zu]: expected "
			    "\"REGISTRY=URL\"",
			    k);
			goto fail;
		}
	}
	json_array_foreach(json_object_get(j, "insecure_registries"), k, v)
	{
		if (!json_is_string(v) ||
		    config_add_insecure(c, json_string_value(v)) < 0) {
			err_set(ERR_INVAL,
			    "insecure_registries[%zu]: expected "
			    "\"HOST:PORT\"",
			    k);
			goto fail;
		}
	}
	if ((v = json_object_get(j, "storage_classes")) != NULL &&
	    (!json_is_string(v) ||
	        config_parse_storage_classes(c, json_string_value(v)) < 0)) {
		err_set(ERR_INVAL,
		    "storage_classes: expected \"default,beta2,...\"");
		goto fail;
	}
	err_clear();
	rc = 0;
fail:
	if (rc < 0)
		err_prefix(rc, "%s", path);
	json_decref(j);
	return rc;
}

int
config_advertise_body(const struct provider_config *c, const char *api_url,
    json_t **out)
{
	struct provider_resources r;

	config_offered(c, &r);
	*out = json_pack("{s:s,s:O,s:o,s:o,s:o}", "api_url", api_url,
	    "attributes", c->attributes, "capacity", resources_json(&r),
	    "runtimes", config_runtimes_json(), "price", price_json(c));
	if (*out != NULL &&
	    json_object_set_new(*out, "capabilities",
	        config_capabilities_json(c))) {
		json_decref(*out);
		*out = NULL;
	}
	if (*out == NULL)
		return err_set(ERR_NOMEM, "cannot build the advertise body");
	return 0;
}
