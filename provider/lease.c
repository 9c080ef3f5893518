/*
 * lease: a lease's replicas, their sandboxes and its meters.  Counters
 * follow state.h's lease.usage: cpu_ms measured by the sandboxes' cgroups
 * (or rusage), mem_mb_s and storage_mb_s as reserved bytes x elapsed ms /
 * 10^9 (MB = 10^6 bytes, as the market prices them), requests and
 * egress_bytes counted by the gateway.  Every counter is base (what was
 * saved before this process) plus what this process measured, so a
 * provider restart neither loses the reported past nor counts it twice.
 */
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/key.h"
#include "common/log.h"
#include "common/strv.h"
#include "common/util.h"
#include "provider/artifact.h"
#include "provider/config.h"
#include "provider/image_run.h"
#include "provider/events.h"
#include "provider/lease.h"
#include "provider/lease_vol.h"
#include "wasm/pool.h"

static const char *const counter_names[USAGE_COUNT] = { "cpu_ms", "mem_mb_s",
	"storage_mb_s", "requests", "egress_bytes", "fuel" };

const char *
lease_counter_name(enum lease_counter c)
{
	return c < USAGE_COUNT ? counter_names[c] : "?";
}

void
lease_replica_drop_pool(struct lease_replica *r)
{
	if (r->pool == NULL)
		return;
	wasm_pool_close(r->pool);
	wasm_pool_free(r->pool);
	r->pool = NULL;
}

unsigned
lease_wasm_workers(const struct lease_replica *r)
{
	uint64_t n = (r->cpu_millis + 999) / 1000;

	if (n < LEASE_WASM_WORKERS_MIN)
		n = LEASE_WASM_WORKERS_MIN;
	if (n > LEASE_WASM_WORKERS_MAX)
		n = LEASE_WASM_WORKERS_MAX;
	return (unsigned)n;
}

int
lease_replica_running(const struct lease_replica *r)
{
	return r->sb != NULL;
}

static void
replica_clear(struct lease_replica *r)
{
	if (r->sb)
		sandbox_free(r->sb);
	r->sb = NULL;
	lease_replica_drop_pool(r);
	image_run_spec_unref(r->oci_spec);
	r->oci_spec = NULL;
	free(r->wasm_url);
	free(r->wasm_path);
	r->wasm_url = r->wasm_path = NULL;
	strv_free(r->argv);
	strv_free(r->env);
	free(r->image);
	free(r->app_dir);
	r->argv = r->env = NULL;
	r->image = r->app_dir = NULL;
}

static void
replicas_free(struct lease *l)
{
	size_t i;

	for (i = 0; i < l->nrep; i++)
		replica_clear(&l->rep[i]);
	free(l->rep);
	l->rep = NULL;
	l->nrep = 0;
}

void
lease_free(struct lease *l)
{
	if (l == NULL)
		return;
	replicas_free(l);
	json_decref(l->manifest);
	json_decref(l->saved_sandboxes);
	json_decref(l->manifest_request);
	free(l);
}

static int
copy_field(char *dst, size_t cap, const char *src, const char *what)
{
	if (src == NULL || strlen(src) >= cap)
		return err_set(ERR_INVAL, "lease: %s missing or too long",
		    what);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int
lease_new(const char *id, const char *order, const char *tenant_text,
    const char *manifest_hash, const char *placement, struct lease **out)
{
	struct lease *l = calloc(1, sizeof(*l));
	int rc;

	*out = NULL;
	if (l == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((rc = copy_field(l->id, sizeof(l->id), id, "id")) < 0 ||
	    (rc = copy_field(l->order, sizeof(l->order), order, "order")) < 0 ||
	    (rc = copy_field(l->tenant_text, sizeof(l->tenant_text),
	         tenant_text, "tenant")) < 0 ||
	    (rc = copy_field(l->manifest_hash, sizeof(l->manifest_hash),
	         manifest_hash, "manifest_hash")) < 0 ||
	    (rc = copy_field(l->placement, sizeof(l->placement), placement,
	         "placement")) < 0)
		goto fail;
	if ((rc = key_pub_from_text(tenant_text, l->tenant)) < 0)
		goto fail;
	l->created_ms = util_now_ms();
	*out = l;
	return 0;
fail:
	free(l);
	return rc;
}

/* A malloc'd formatted string, or NULL. */
__attribute__((format(printf, 1, 2))) static char *
str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* Is a a JSON array of strings? */
static int
check_strings(const json_t *a, const char *svc, const char *what)
{
	const json_t *s;
	size_t i;

	if (!json_is_array(a))
		return err_set(ERR_INVAL,
		    "manifest: services.%s.%s is not a list", svc, what);
	json_array_foreach(a, i, s)
	{
		if (!json_is_string(s))
			return err_set(ERR_INVAL,
			    "manifest: services.%s.%s[%zu] is not a string",
			    svc, what, i);
	}
	return 0;
}

/* The sandbox's environment: PATH, HOME and LANG first (wasm_argv counts
 * on it), then the service's env. */
static int
env_from_json(const json_t *o, const char *svc, char ***out)
{
	struct strv e = { 0 };
	const char *k;
	json_t *v;

	*out = NULL;
	if (o && !json_is_object(o))
		return err_set(ERR_INVAL,
		    "manifest: services.%s.env is not an object", svc);
	json_object_foreach((json_t *)o, k, v)
	{
		if (!json_is_string(v))
			return err_set(ERR_INVAL,
			    "manifest: services.%s.env.%s is not a string", svc,
			    k);
	}
	strv_add(&e, strdup("PATH=/usr/local/bin:/usr/bin:/bin"));
	strv_add(&e, strdup("HOME=/tmp"));
	strv_add(&e, strdup("LANG=C.UTF-8"));
	json_object_foreach((json_t *)o, k, v)
	{
		strv_add(&e, str_printf("%s=%s", k, json_string_value(v)));
	}
	return strv_done(&e, out);
}

/* command ++ args of service svc (Kubernetes' convention: command
 * replaces the entrypoint, args follow), possibly empty; *n gets the
 * count.  The caller owns the NULL-terminated *out. */
static int
command_args(const json_t *svc, const char *name, char ***out, size_t *n)
{
	static const char *const keys[] = { "command", "args" };
	struct strv v = { 0 };
	const json_t *a, *s;
	size_t k, i;
	int rc;

	*out = NULL;
	for (k = 0; k < 2; k++)
		if ((rc = check_strings(json_object_get(svc, keys[k]), name,
		         keys[k])) < 0)
			return rc;
	for (k = 0; k < 2; k++) {
		a = json_object_get(svc, keys[k]);
		json_array_foreach(a, i, s)
		{
			strv_add(&v, strdup(json_string_value(s)));
		}
	}
	*n = v.n;
	return strv_done(&v, out);
}

/* argv of a process service: command ++ args; a host image needs a
 * command. */
static int
argv_from_json(const json_t *svc, const char *name, char ***out)
{
	size_t n;
	int rc;

	if ((rc = command_args(svc, name, out, &n)) < 0)
		return rc;
	if (n == 0) {
		strv_free(*out);
		*out = NULL;
		return err_set(ERR_REJECT,
		    "manifest: service %s has no "
		    "command to run",
		    name);
	}
	return 0;
}

/* A function's own per-request limits from its env (LODGE_FUEL,
 * LODGE_DEADLINE_MS): they can only lower the provider's (api.c). */
static int
wasm_limits_from_env(const json_t *env, const char *svc,
    struct lease_replica *r)
{
	static const char *const keys[] = { "LODGE_FUEL", "LODGE_DEADLINE_MS" };
	uint64_t *dst[] = { &r->wasm_fuel, &r->wasm_deadline_ms };
	const char *v;
	char *end;
	size_t i;

	for (i = 0; i < 2; i++) {
		if ((v = json_string_value(json_object_get(env, keys[i]))) ==
		    NULL)
			continue;
		errno = 0;
		*dst[i] = strtoull(v, &end, 10);
		if (errno || end == v || *end != '\0' || *dst[i] == 0 ||
		    v[0] == '-')
			return err_set(ERR_INVAL,
			    "manifest: services.%s.env.%s: "
			    "\"%.40s\" is not a positive integer",
			    svc, keys[i], v);
	}
	return 0;
}

/* The service's own process limit (env LODGE_PIDS), checked against the
 * provider's ceiling by lease_set_pids. */
static int
pids_from_env(const json_t *env, const char *svc, struct lease_replica *r)
{
	const char *v = json_string_value(json_object_get(env, "LODGE_PIDS"));
	char *end;

	r->pids_req = 0;
	if (v == NULL)
		return 0;
	errno = 0;
	r->pids_req = strtoull(v, &end, 10);
	if (errno || end == v || *end != '\0' || r->pids_req == 0 ||
	    v[0] < '0' || v[0] > '9')
		return err_set(ERR_INVAL,
		    "manifest: services.%s.env.LODGE_PIDS: \"%.40s\" is not a "
		    "positive integer",
		    svc, v);
	return 0;
}

static uint64_t
pids_default(uint64_t cpu_millis, uint64_t per_cpu, uint64_t ceiling)
{
	uint64_t cpus = (cpu_millis + 999) / 1000, n;

	if (cpus == 0)
		cpus = 1;
	if (__builtin_mul_overflow(cpus, per_cpu, &n) || n > ceiling)
		n = ceiling;
	return n;
}

int
lease_set_pids(struct lease *l, uint64_t per_cpu, uint64_t ceiling)
{
	size_t i;

	for (i = 0; i < l->nrep; i++) {
		struct lease_replica *r = &l->rep[i];
		if (r->pids_req > ceiling)
			return err_set(ERR_REJECT,
			    "manifest: services.%s.env.LODGE_PIDS: %llu is "
			    "above this provider's process limit %llu",
			    r->service, (unsigned long long)r->pids_req,
			    (unsigned long long)ceiling);
		r->pids_max = r->pids_req ?
		    r->pids_req :
		    pids_default(r->cpu_millis, per_cpu, ceiling);
	}
	return 0;
}

/* argv of a wasm replica, run by this provider's binary in the sandbox
 * (the sandbox env gets LODGE_WASM_CACHE=/app/.wasm-cache):
 *   job:      /app/provider wasm run /app/module.wasm --fuel N
 *             [--memory M] --dir /data --in-process [--env K=V]...
 *             -- command args
 *   function: /app/provider wasm serve /app/module.wasm [--memory M]
 *             --dir /data [--env K=V]...  (control socket on stdin) */
static int
wasm_argv(const json_t *svc, const char *name, struct lease_replica *r, int job)
{
	struct strv v = { 0 }, e = { 0 };
	char **user = NULL, **argv, **env;
	size_t nu = 0, ne = 0, k;
	int rc;

	if (job && (rc = command_args(svc, name, &user, &nu)) < 0)
		return rc;
	while (r->env && r->env[ne])
		ne++;
	strv_add(&v, strdup("/app/provider"));
	strv_add(&v, strdup("wasm"));
	strv_add(&v, strdup(job ? "run" : "serve"));
	strv_add(&v, strdup("/app/module.wasm"));
	if (job) {
		/* LODGE_JOB_FUEL, else lease.h's default. */
		strv_add(&v, strdup("--fuel"));
		strv_add(&v,
		    str_printf("%lld",
		        (long long)util_env_i64("LODGE_JOB_FUEL", 1,
		            LEASE_WASM_JOB_FUEL_DEFAULT)));
	}
	if (r->memory_bytes > 0) {
		strv_add(&v, strdup("--memory"));
		strv_add(&v,
		    str_printf("%llu", (unsigned long long)r->memory_bytes));
	}
	strv_add(&v, strdup("--dir"));
	strv_add(&v, strdup("/data"));
	if (job)
		strv_add(&v, strdup("--in-process"));
	/* The tenant's env goes to the module (not PATH, HOME, LANG: the
	 * first three entries are the sandbox's own). */
	for (k = 3; k < ne; k++) {
		strv_add(&v, strdup("--env"));
		strv_add(&v, strdup(r->env[k]));
	}
	if (job) {
		strv_add(&v, strdup("--"));
		for (k = 0; k < nu; k++)
			strv_add(&v, user[k]); /* moved */
		free(user);
	}
	for (k = 0; k < ne; k++)
		strv_add(&e, strdup(r->env[k]));
	strv_add(&e, strdup("LODGE_WASM_CACHE=/app/.wasm-cache"));
	if ((rc = strv_done(&v, &argv)) < 0) {
		strv_free(e.v);
		return rc;
	}
	if ((rc = strv_done(&e, &env)) < 0) {
		strv_free(argv);
		return rc;
	}
	strv_free(r->argv);
	strv_free(r->env);
	r->argv = argv;
	r->env = env;
	return 0;
}

static int
build_replica(struct lease *l, const char *name, const json_t *svc,
    const json_t *profile, unsigned index, struct lease_replica *r)
{
	const json_t *img = json_object_get(svc, "image"), *ex, *e, *st, *vol;
	const char *kind, *rt, *k;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	r->last_exit = -1;
	snprintf(r->service, sizeof(r->service), "%s", name);
	snprintf(r->name, sizeof(r->name), "%s%s-%s-%u", l->scope, l->id, name,
	    index);
	r->index = index;
	rt = json_string_value(json_object_get(svc, "runtime"));
	kind = json_string_value(json_object_get(img, "kind"));
	if (kind == NULL || rt == NULL)
		return err_set(ERR_INVAL,
		    "manifest: services.%s: image.kind "
		    "and runtime are required",
		    name);
	if (strcmp(rt, "wasm") == 0) {
		const char *url =
		    json_string_value(json_object_get(img, "url"));
		const char *sha =
		    json_string_value(json_object_get(img, "sha256"));
		if (!config_wasm_available())
			return err_set(ERR_REJECT,
			    "manifest: service %s needs "
			    "the \"wasm\" runtime; this provider has no wasm2c "
			    "and offers \"process\" only",
			    name);
		if ((strcmp(kind, "wasm+file") != 0 &&
		        strcmp(kind, "wasm+https") != 0) ||
		    url == NULL ||
		    (strcmp(kind, "wasm+https") == 0 &&
		        (sha == NULL || !artifact_is_sha256(sha))))
			return err_set(ERR_REJECT,
			    "manifest: service %s: image "
			    "kind \"%s\" (url and sha256) cannot run as wasm "
			    "here",
			    name, kind);
		r->wasm = 1;
		snprintf(r->wasm_kind, sizeof(r->wasm_kind), "%s", kind);
		if (sha)
			snprintf(r->wasm_sha256, sizeof(r->wasm_sha256), "%s",
			    sha);
		if ((r->wasm_url = strdup(url)) == NULL ||
		    (r->image = json_dumps(img,
		         JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
			return err_set(ERR_NOMEM, "out of memory");
		if ((r->argv = calloc(1, sizeof(*r->argv))) == NULL)
			return err_set(ERR_NOMEM, "out of memory");
	} else if (strcmp(rt, "oci") == 0) {
		/* The image is pulled, and its argv and env made, by
		 * image_run (pd_prepare_artifacts queues it). */
		if (strcmp(kind, "oci") != 0)
			return err_set(ERR_REJECT,
			    "manifest: service %s: image kind \"%s\" cannot "
			    "run as oci",
			    name, kind);
		r->oci = 1;
		if ((r->image = json_dumps(img,
		         JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
		    (r->argv = calloc(1, sizeof(*r->argv))) == NULL)
			return err_set(ERR_NOMEM, "out of memory");
	} else if (strcmp(rt, "process") != 0)
		return err_set(ERR_REJECT,
		    "manifest: service %s needs the "
		    "\"%s\" runtime; this provider offers \"process\", "
		    "\"wasm\" and \"oci\"",
		    name, rt);
	else if (strcmp(kind, "host") != 0 && strcmp(kind, "git") != 0)
		return err_set(ERR_REJECT,
		    "manifest: service %s: image kind "
		    "\"%s\" cannot run as a process here",
		    name, kind);
	else if ((r->image = strcmp(kind, "git") == 0 ?
	                 json_dumps(img, JSON_COMPACT | JSON_SORT_KEYS) :
	                 strdup("host")) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (!r->wasm && !r->oci &&
	    (rc = argv_from_json(svc, name, &r->argv)) < 0)
		return rc;
	if ((rc = env_from_json(json_object_get(svc, "env"), name, &r->env)) <
	    0)
		return rc;
	ex = json_object_get(svc, "expose");
	json_array_foreach(ex, i, e)
	{
		json_int_t port =
		    json_integer_value(json_object_get(e, "port"));
		json_int_t as = json_integer_value(json_object_get(e, "as"));
		const char *proto =
		    json_string_value(json_object_get(e, "proto"));
		if (r->nexpose == LEASE_MAX_EXPOSE)
			break;
		if (port < 1 || port > 65535 ||
		    (proto && strcmp(proto, "tcp") != 0))
			continue;
		r->expose[r->nexpose].port = (uint16_t)port;
		r->expose[r->nexpose].as =
		    as > 0 && as < 65536 ? (uint16_t)as : 0;
		r->expose[r->nexpose].global =
		    json_is_true(json_object_get(e, "global"));
		r->nexpose++;
	}
	r->cpu_millis = (uint64_t)json_integer_value(
	    json_object_get(profile, "cpu_millis"));
	r->memory_bytes = (uint64_t)json_integer_value(
	    json_object_get(profile, "memory_bytes"));
	r->gpu_units =
	    (uint64_t)json_integer_value(json_object_get(profile, "gpu_units"));
	st = json_object_get(profile, "storage");
	json_object_foreach((json_t *)st, k, vol) r->storage_bytes +=
	    (uint64_t)json_integer_value(json_object_get(vol, "size_bytes"));
	if ((rc = pids_from_env(json_object_get(svc, "env"), name, r)) < 0)
		return rc;
	r->pids_max = r->pids_req ?
	    r->pids_req :
	    pids_default(r->cpu_millis, PROVIDER_PIDS_PER_CPU_DEFAULT,
	        PROVIDER_PIDS_MAX_DEFAULT);
	if (r->wasm) {
		for (i = 0; i < r->nexpose && !r->expose[i].global; i++)
			;
		/* No HTTP ingress, or a command line: a job (or long-running
		 * service) run by `provider wasm run` in the sandbox. */
		if (i == r->nexpose ||
		    json_array_size(json_object_get(svc, "command")) > 0 ||
		    json_array_size(json_object_get(svc, "args")) > 0) {
			r->wasm_job = 1;
		}
		if ((rc = wasm_argv(svc, name, r, r->wasm_job)) < 0)
			return rc;
		if (!r->wasm_job &&
		    (rc = wasm_limits_from_env(json_object_get(svc, "env"),
		         name, r)) < 0)
			return rc;
	}
	return 0;
}

int
lease_set_manifest(struct lease *l, const json_t *m)
{
	unsigned char d[32];
	char hex[65];
	const json_t *services, *deploy, *profiles, *svc, *dp, *prof;
	struct lease_replica *reps = NULL;
	json_t *copy;
	const char *name;
	size_t n = 0, cap = 0;
	unsigned i, count;
	int rc;

	if ((rc = cjson_hash(m, d)) < 0)
		return err_prefix(ERR_INVAL, "manifest");
	hex_encode(d, 32, hex);
	if (strcmp(hex, l->manifest_hash) != 0)
		return err_set(ERR_CONFLICT,
		    "manifest hash %s does not match "
		    "the order's manifest_hash %s",
		    hex, l->manifest_hash);
	services = json_object_get(m, "services");
	deploy = json_object_get(m, "deployment");
	profiles = json_object_get(m, "profiles");
	if (!json_is_object(services) || !json_is_object(deploy) ||
	    !json_is_object(profiles))
		return err_set(ERR_INVAL,
		    "manifest: services, deployment and "
		    "profiles must be objects");
	json_object_foreach((json_t *)deploy, name, dp)
	{
		const json_t *pl = json_object_get(dp, l->placement);
		const char *pname;
		if (pl == NULL)
			continue;
		svc = json_object_get(services, name);
		pname = json_string_value(json_object_get(pl, "profile"));
		prof = pname ? json_object_get(profiles, pname) : NULL;
		count =
		    (unsigned)json_integer_value(json_object_get(pl, "count"));
		if (svc == NULL || prof == NULL || count == 0 || count > 64) {
			rc = err_set(ERR_INVAL,
			    "manifest: deployment.%s.%s: "
			    "service, profile or count missing",
			    name, l->placement);
			goto fail;
		}
		for (i = 0; i < count; i++) {
			if (n == cap) {
				struct lease_replica *nr;
				cap = cap ? cap * 2 : 4;
				if (cap > LEASE_MAX_REPLICAS ||
				    (nr = realloc(reps, cap * sizeof(*nr))) ==
				        NULL) {
					rc = err_set(ERR_LIMIT,
					    "manifest: too "
					    "many replicas");
					goto fail;
				}
				reps = nr;
			}
			rc = build_replica(l, name, svc, prof, i, &reps[n]);
			n++;
			if (rc < 0)
				goto fail;
		}
	}
	if (n == 0) {
		rc = err_set(ERR_REJECT,
		    "manifest: no service is deployed in "
		    "placement \"%s\"",
		    l->placement);
		goto fail;
	}
	if ((copy = json_deep_copy(m)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	replicas_free(l);
	json_decref(l->manifest);
	l->manifest = copy;
	l->rep = reps;
	l->nrep = n;
	l->mem_bytes = l->storage_bytes = 0;
	for (i = 0; i < n; i++) {
		l->mem_bytes += reps[i].memory_bytes;
		l->storage_bytes += reps[i].storage_bytes;
	}
	l->status = LEASE_RUNNING;
	return 0;
fail:
	for (i = 0; i < n; i++)
		replica_clear(&reps[i]);
	free(reps);
	return rc;
}

/* A sandbox of the same name left by an earlier provider process (killed
 * before it could stop it) still holds the cgroup: empty it first, so
 * the lease never runs twice nor is metered twice. */
static void
kill_leftovers(const struct sandbox_spec *base, const char *name)
{
	struct cgroup_limits none = { 0, 0, 0 };
	struct cgroup *cg = NULL;
	struct err_saved saved;
	char *why = NULL;

	/* Best effort: what it meets is not the caller's error. */
	err_save(&saved);
	if (cgroup_new(&base->cgroup,
	        base->cgroup_parent ? base->cgroup_parent : "lodge", name,
	        &none, &cg, &why) == 0) {
		if (cgroup_mode(cg) != CGROUP_NONE)
			(void)cgroup_kill_all(cg, 2000);
		cgroup_free(cg);
	}
	free(why);
	err_restore(&saved);
}

int
lease_replica_ready(const struct lease_replica *r)
{
	if (r->oci)
		return r->oci_spec != NULL;
	if (!r->wasm && (r->image == NULL || strcmp(r->image, "host") == 0))
		return 1;
	return r->app_dir != NULL;
}

size_t
lease_due(const struct lease *l, int64_t now_ms, size_t *idx, size_t max)
{
	size_t i, n = 0;

	if (l->status != LEASE_RUNNING || l->pending_close[0] ||
	    l->pause != LEASE_PAUSE_NONE)
		return 0;
	for (i = 0; i < l->nrep && n < max; i++)
		if (!lease_replica_running(&l->rep[i]) && !l->rep[i].done &&
		    lease_replica_ready(&l->rep[i]) &&
		    now_ms >= l->rep[i].next_start_ms)
			idx[n++] = i;
	return n;
}

int
lease_spawn(const struct lease *l, size_t i, const char *logs_dir,
    const struct sandbox_spec *base, struct sandbox **out)
{
	const struct lease_replica *r = &l->rep[i];
	struct sandbox_spec spec = *base;
	char outp[PATH_MAX], errp[PATH_MAX], statp[PATH_MAX];

	snprintf(outp, sizeof(outp), "%.3900s/%s.stdout.log", logs_dir,
	    r->name);
	snprintf(errp, sizeof(errp), "%.3900s/%s.stderr.log", logs_dir,
	    r->name);
	spec.argv = (const char *const *)r->argv;
	spec.env = (const char *const *)r->env;
	spec.name = r->name;
	spec.app_dir = r->app_dir;
	spec.cpu_millis = r->cpu_millis;
	spec.memory_bytes = r->memory_bytes;
	spec.pids_max = r->pids_max;
	if (r->storage_bytes > 0)
		spec.data_bytes = r->storage_bytes;
	snprintf(statp, sizeof(statp), "%.3900s/%s.status", logs_dir, r->name);
	spec.stdout_path = outp;
	spec.stderr_path = errp;
	/* The sandbox outlives this process (a restart adopts it); its exit
	 * status goes to a file the next process can read. */
	spec.status_path = statp;
	spec.die_with_parent = 0;
	if (r->oci)
		image_run_spec_apply(r->oci_spec, &spec);
	if (!r->cleaned)
		kill_leftovers(base, r->name);
	/* Volumes at their mount paths (provider/lease_vol.h). */
	struct lease_vol_start vs;
	int rc;
	if ((rc = lease_vol_start_prepare(l, i, logs_dir, &spec, &vs)) < 0)
		return rc;
	rc = sandbox_start(&spec, out);
	lease_vol_start_done(&vs);
	return rc;
}

/* bytes x ms / 10^9, saturated: MB-s of a reservation. */
static uint64_t
mb_s(uint64_t bytes, int64_t ms)
{
	unsigned __int128 v = (unsigned __int128)bytes * (uint64_t)ms;

	v /= 1000000000u;
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/* The spec lease_spawn gives replica i, for sandbox_adopt. */
static void
adopt_spec(const struct lease *l, size_t i, const struct sandbox_spec *base,
    char *statp, size_t cap, const char *logs_dir, struct sandbox_spec *spec)
{
	const struct lease_replica *r = &l->rep[i];

	*spec = *base;
	snprintf(statp, cap, "%.3900s/%s.status", logs_dir, r->name);
	spec->name = r->name;
	spec->cpu_millis = r->cpu_millis;
	spec->memory_bytes = r->memory_bytes;
	spec->pids_max = r->pids_max;
	spec->status_path = statp;
}

size_t
lease_adopt(struct lease *l, const char *logs_dir,
    const struct sandbox_spec *base, int64_t now_ms)
{
	const json_t *e;
	struct sandbox_spec spec;
	struct sandbox_ref ref;
	struct sandbox *sb;
	char statp[PATH_MAX];
	uint64_t mem = 0, sto = 0;
	size_t k, i, n = 0;

	json_array_foreach(l->saved_sandboxes, k, e)
	{
		const char *name =
		    json_string_value(json_object_get(e, "name"));
		for (i = 0; name && i < l->nrep; i++)
			if (strcmp(l->rep[i].name, name) == 0)
				break;
		if (name == NULL || i == l->nrep || l->rep[i].sb ||
		    (l->rep[i].wasm && !l->rep[i].wasm_job))
			continue;
		ref.pid = (pid_t)json_integer_value(json_object_get(e, "pid"));
		ref.start_ticks =
		    (uint64_t)json_integer_value(json_object_get(e, "start"));
		adopt_spec(l, i, base, statp, sizeof(statp), logs_dir, &spec);
		if (sandbox_adopt(&spec, &ref, &sb) < 0) {
			log_warn("lease %s: %s ended while the provider was "
			         "down (%s); it starts again",
			    l->id, name, err_msg());
			continue;
		}
		l->rep[i].sb = sb;
		l->rep[i].cleaned = 1;
		l->rep[i].started_ms = now_ms;
		l->rep[i].cpu_ms_base =
		    (uint64_t)json_integer_value(json_object_get(e, "cpu_ms"));
		log_info("lease %s: %s re-adopted (pid %ld)", l->id, name,
		    (long)ref.pid);
		mem += l->rep[i].memory_bytes;
		sto += l->rep[i].storage_bytes;
		n++;
	}
	json_decref(l->saved_sandboxes);
	l->saved_sandboxes = NULL;
	if (lease_bill_downtime(l, mem, sto, now_ms) > 0)
		log_info("lease %s: %lld ms since the saved counters billed as "
		         "reserved time for the %zu replica(s) that ran on "
		         "(%llu memory bytes, %llu storage bytes)",
		    l->id, (long long)(now_ms - l->base_at_ms), n,
		    (unsigned long long)mem, (unsigned long long)sto);
	return n;
}

int64_t
lease_bill_downtime(struct lease *l, uint64_t mem_bytes, uint64_t storage_bytes,
    int64_t now_ms)
{
	int64_t gap;

	if ((mem_bytes == 0 && storage_bytes == 0) || l->base_at_ms <= 0 ||
	    now_ms <= l->base_at_ms)
		return 0;
	gap = now_ms - l->base_at_ms;
	l->base[USAGE_MEM_MB_S] += mb_s(mem_bytes, gap);
	l->base[USAGE_STORAGE_MB_S] += mb_s(storage_bytes, gap);
	return gap;
}

void
lease_release(struct lease *l)
{
	size_t i;

	for (i = 0; i < l->nrep; i++) {
		struct lease_replica *r = &l->rep[i];
		if (r->sb == NULL)
			continue;
		log_info("lease %s: %s left running (pid %ld)", l->id, r->name,
		    (long)sandbox_pid(r->sb));
		sandbox_release(r->sb);
		r->sb = NULL;
	}
}

/* "web#0": a replica as the tenant's SDL names it, for its events. */
static const char *
rep_label(const struct lease_replica *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s#%u", r->service, (unsigned)r->index);
	return buf;
}

void
lease_spawned(struct lease *l, size_t i, struct sandbox *sb, const char *error,
    int64_t now_ms)
{
	struct lease_replica *r = &l->rep[i];
	char label[96];

	r->cleaned = 1;
	if (sb == NULL) {
		snprintf(r->last_error, sizeof(r->last_error), "%s",
		    error ? error : "start failed");
		log_warn("lease %s: %s: %s", l->id, r->name, r->last_error);
		r->restarts++;
		r->next_start_ms = now_ms +
		    (r->restarts > 5 ? LEASE_RESTART_MAX_MS :
		                       1000 << (r->restarts - 1));
		(void)provider_event(l->logs_dir, "replica.start_failed",
		    r->service, rep_label(r, label, sizeof(label)),
		    PROVIDER_EVENT_NO_EXIT, "%s; again in %lld ms",
		    r->last_error, (long long)(r->next_start_ms - now_ms));
		return;
	}
	r->sb = sb;
	r->last_error[0] = '\0';
	r->started_ms = now_ms;
	log_info("lease %s: %s started (pid %ld)", l->id, r->name,
	    (long)sandbox_pid(sb));
	(void)provider_event(l->logs_dir, "replica.started", r->service,
	    rep_label(r, label, sizeof(label)), PROVIDER_EVENT_NO_EXIT, "%s",
	    r->restarts ? "started again" : "started");
}

static void
fold_usage(struct lease_replica *r)
{
	struct sandbox_usage u;

	if (r->sb && sandbox_usage(r->sb, &u) == 0)
		r->cpu_ms_done +=
		    u.cpu_ms > r->cpu_ms_base ? u.cpu_ms - r->cpu_ms_base : 0;
	r->cpu_ms_base = r->cpu_ms_live = 0;
}

/* Add the fuel of a wasm job's run that ended: the last "usage: fuel=N"
 * line of its stderr log (none when it was killed or the log was cut). */
static void
fold_fuel(struct lease *l, struct lease_replica *r)
{
	char path[PATH_MAX + 128], buf[4097], *p, *line = NULL;
	unsigned long long fuel;
	ssize_t n;
	off_t size;
	int fd;

	if (l->logs_dir[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/%s.stderr.log", l->logs_dir, r->name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > 4096)
		size = 4096;
	n = size > 0 ?
	    pread(fd, buf, (size_t)size, lseek(fd, 0, SEEK_END) - size) :
	    0;
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, "usage: fuel=")) != NULL; p++)
		if (p == buf || p[-1] == '\n')
			line = p;
	if (line == NULL || sscanf(line, "usage: fuel=%llu", &fuel) != 1)
		return;
	atomic_fetch_add(&l->fuel, (uint64_t)fuel);
	log_info("lease %s: %s used fuel %llu", l->id, r->name, fuel);
}

void
lease_reap(struct lease *l, int64_t now_ms)
{
	size_t i;
	int exited, status;

	for (i = 0; i < l->nrep; i++) {
		struct lease_replica *r = &l->rep[i];
		struct sandbox_usage u;
		char what[96], label[96];
		unsigned shift;
		int oom;
		if (r->sb == NULL)
			continue;
		/* A function whose supervisor stopped answering: end the
		 * sandbox, so it is reaped and restarted below. */
		if (r->pool && !wasm_pool_alive(r->pool)) {
			log_warn("lease %s: %s: wasm workers do not answer; "
			         "restarting",
			    l->id, r->name);
			(void)sandbox_signal(r->sb, SIGKILL);
			lease_replica_drop_pool(r);
		}
		exited = 0;
		if (sandbox_wait(r->sb, 0, &exited, &status) < 0 || !exited)
			continue;
		r->last_exit = sandbox_exit_code(status);
		/* killed by the kernel for memory: its cgroup says so */
		oom = sandbox_usage(r->sb, &u) == 0 && u.oom_kills > 0;
		fold_usage(r);
		sandbox_free(r->sb);
		r->sb = NULL;
		lease_replica_drop_pool(r);
		if (r->wasm_job) {
			fold_fuel(l, r);
			if (r->last_exit == 0) {
				r->done = 1;
				log_info("lease %s: %s completed", l->id,
				    r->name);
				(void)provider_event(l->logs_dir,
				    "replica.completed", r->service,
				    rep_label(r, label, sizeof(label)), 0,
				    "completed");
				continue;
			}
		}
		/* A workload that ran a minute counts as healthy again. */
		if (now_ms - r->started_ms > 60000)
			r->restarts = 0;
		shift = r->restarts < 5 ? r->restarts : 5;
		r->restarts++;
		r->next_start_ms = now_ms +
		    ((1000 << shift) < LEASE_RESTART_MAX_MS ?
		            (1000 << shift) :
		            LEASE_RESTART_MAX_MS);
		log_warn("lease %s: %s exited with %d; restart %u in %lld ms",
		    l->id, r->name, r->last_exit, r->restarts,
		    (long long)(r->next_start_ms - now_ms));
		if (oom)
			snprintf(what, sizeof(what),
			    "killed for memory (OOM: the lease's limit), exit "
			    "%d",
			    r->last_exit);
		else if (r->last_exit > 128)
			snprintf(what, sizeof(what),
			    "killed by signal %d (exit %d)", r->last_exit - 128,
			    r->last_exit);
		else
			snprintf(what, sizeof(what), "exited with %d",
			    r->last_exit);
		(void)provider_event(l->logs_dir,
		    oom ? "replica.oom_killed" : "replica.exited", r->service,
		    rep_label(r, label, sizeof(label)), r->last_exit,
		    "%s; restart %u in %lld ms", what, r->restarts,
		    (long long)(r->next_start_ms - now_ms));
	}
}

static void
stop_take(struct lease *l, struct lease_stopping *st, int functions_only)
{
	size_t i;

	st->n = 0;
	for (i = 0; i < l->nrep && st->n < LEASE_MAX_REPLICAS; i++) {
		struct lease_replica *r = &l->rep[i];
		if (functions_only && !(r->wasm && !r->wasm_job))
			continue;
		/* Requests in flight keep their reference to a function's
		 * pool; the gateway finds none from now on. */
		lease_replica_drop_pool(r);
		r->next_start_ms = INT64_MAX;
		if (r->sb == NULL)
			continue;
		st->rep[st->n] = i;
		st->sb[st->n] = r->sb;
		st->status[st->n] = -1;
		st->n++;
		r->sb = NULL;
	}
}

void
lease_stop_take(struct lease *l, struct lease_stopping *st)
{
	stop_take(l, st, 0);
}

void
lease_stop_take_functions(struct lease *l, struct lease_stopping *st)
{
	stop_take(l, st, 1);
}

void
lease_stop_run(struct lease_stopping *st, int grace_ms)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (sandbox_stop(st->sb[i], grace_ms, &st->status[i]) < 0) {
			log_warn("stopping sandbox %ld: %s",
			    (long)sandbox_pid(st->sb[i]), err_msg());
			st->status[i] = -1;
		}
}

void
lease_stop_finish(struct lease *l, struct lease_stopping *st)
{
	struct sandbox_usage u;
	char label[96];
	size_t i;

	for (i = 0; i < st->n; i++) {
		struct lease_replica *r = &l->rep[st->rep[i]];
		r->last_exit =
		    st->status[i] < 0 ? -1 : sandbox_exit_code(st->status[i]);
		if (sandbox_usage(st->sb[i], &u) == 0)
			r->cpu_ms_done += u.cpu_ms > r->cpu_ms_base ?
			    u.cpu_ms - r->cpu_ms_base :
			    0;
		r->cpu_ms_base = r->cpu_ms_live = 0;
		sandbox_free(st->sb[i]);
		st->sb[i] = NULL;
		if (r->wasm_job)
			fold_fuel(l, r);
		log_info("lease %s: %s stopped", l->id, r->name);
		(void)provider_event(l->logs_dir, "replica.stopped", r->service,
		    rep_label(r, label, sizeof(label)), r->last_exit,
		    l->pause != LEASE_PAUSE_NONE && !l->pending_close[0] ?
		        "stopped (the lease is paused: its escrow ran dry)" :
		        "stopped (the lease is closing)");
	}
	st->n = 0;
}

void
lease_resume(struct lease *l)
{
	size_t i;

	l->pause = LEASE_PAUSE_NONE;
	l->resume_after = 0;
	for (i = 0; i < l->nrep; i++)
		if (!l->rep[i].done)
			l->rep[i].next_start_ms = 0;
}

void
lease_add_time(struct lease *l, int64_t ms)
{
	if (l->status == LEASE_RUNNING && l->pause == LEASE_PAUSE_NONE &&
	    ms > 0)
		l->run_ms += ms;
}

void
lease_counters(struct lease *l, uint64_t out[USAGE_COUNT])
{
	struct sandbox_usage u;
	uint64_t cpu = 0;
	size_t i;

	for (i = 0; i < l->nrep; i++) {
		struct lease_replica *r = &l->rep[i];
		cpu += r->cpu_ms_done;
		if (r->sb && sandbox_usage(r->sb, &u) == 0) {
			/* An adopted sandbox's cgroup counts from its start:
			 * the base already holds what was counted of it. */
			r->cpu_ms_live = u.cpu_ms;
			cpu += u.cpu_ms > r->cpu_ms_base ?
			    u.cpu_ms - r->cpu_ms_base :
			    0;
			snprintf(l->metering, sizeof(l->metering), "%s",
			    sandbox_metering_name(u.metering));
		}
	}
	out[USAGE_CPU_MS] = l->base[USAGE_CPU_MS] + cpu;
	out[USAGE_MEM_MB_S] =
	    l->base[USAGE_MEM_MB_S] + mb_s(l->mem_bytes, l->run_ms);
	out[USAGE_STORAGE_MB_S] =
	    l->base[USAGE_STORAGE_MB_S] + mb_s(l->storage_bytes, l->run_ms);
	out[USAGE_REQUESTS] =
	    l->base[USAGE_REQUESTS] + atomic_load(&l->requests);
	out[USAGE_EGRESS_BYTES] = l->base[USAGE_EGRESS_BYTES] +
	    atomic_load(&l->egress_bytes) + atomic_load(&l->net_egress);
	out[USAGE_FUEL] = l->base[USAGE_FUEL] + atomic_load(&l->fuel);
	/* Never below what was reported (a counter only grows). */
	for (i = 0; i < USAGE_COUNT; i++)
		if (out[i] < l->reported[i])
			out[i] = l->reported[i];
}

/* bytes x ms / 10^9 or millis x ms / 10^3, saturated. */
static uint64_t
bound_of(uint64_t reserved, int64_t ms, uint64_t div)
{
	unsigned __int128 v = (unsigned __int128)reserved * (uint64_t)ms / div;

	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

void
lease_usage_report(struct lease *l, int64_t now_ms, uint64_t out[USAGE_COUNT])
{
	uint64_t cpu = 0, bound[3];
	int64_t ms;
	size_t i;

	lease_counters(l, out);
	if (l->started_at_ms <= 0) {
		/* Not started in the ledger: nothing can be billed yet. */
		for (i = 0; i <= USAGE_STORAGE_MB_S; i++)
			out[i] = l->reported[i];
		return;
	}
	ms = now_ms > l->started_at_ms ? now_ms - l->started_at_ms : 0;
	ms = ms > l->paused_ms ? ms - l->paused_ms : 0;
	for (i = 0; i < l->nrep; i++)
		cpu += l->rep[i].cpu_millis;
	bound[USAGE_CPU_MS] = bound_of(cpu, ms, 1000);
	bound[USAGE_MEM_MB_S] = bound_of(l->mem_bytes, ms, 1000000000);
	bound[USAGE_STORAGE_MB_S] = bound_of(l->storage_bytes, ms, 1000000000);
	for (i = 0; i <= USAGE_STORAGE_MB_S; i++) {
		if (out[i] > bound[i])
			out[i] = bound[i];
		if (out[i] < l->reported[i])
			out[i] = l->reported[i];
	}
}

void
lease_set_manifest_request(struct lease *l, json_t *proof)
{
	json_decref(l->manifest_request);
	l->manifest_request = proof;
}

/* {"cpu_ms":N,...}, or NULL when out of memory. */
static json_t *
counters_json(const uint64_t v[USAGE_COUNT])
{
	json_t *o = json_object();
	int i;

	for (i = 0; o && i < USAGE_COUNT; i++)
		if (json_object_set_new(o, counter_names[i],
		        json_integer((json_int_t)v[i])) < 0) {
			json_decref(o);
			o = NULL;
		}
	return o;
}

static void
counters_from_json(const json_t *o, uint64_t v[USAGE_COUNT])
{
	int i;

	for (i = 0; i < USAGE_COUNT; i++) {
		json_int_t n =
		    json_integer_value(json_object_get(o, counter_names[i]));
		v[i] = n > 0 ? (uint64_t)n : 0;
	}
}

static const char *const status_names[] = { "waiting", "running", "closed" };

/* "sandboxes": what lease_adopt needs of each running sandbox (a wasm
 * function's is restarted instead), with the CPU the counters just
 * computed hold of it; kept as loaded when the lease has not been set up
 * again yet (a restart before its manifest was read). */
static int
sandboxes_json(const struct lease *l, json_t *o)
{
	struct sandbox_ref ref;
	json_t *arr;
	size_t i;

	if (l->saved_sandboxes)
		return json_object_set(o, "sandboxes", l->saved_sandboxes);
	if ((arr = json_array()) == NULL)
		return -1;
	for (i = 0; i < l->nrep; i++) {
		const struct lease_replica *r = &l->rep[i];
		if (r->sb == NULL || (r->wasm && !r->wasm_job) ||
		    sandbox_ref(r->sb, &ref) < 0)
			continue;
		if (json_array_append_new(arr,
		        json_pack("{s:s,s:I,s:I,s:I}", "name", r->name, "pid",
		            (json_int_t)ref.pid, "start",
		            (json_int_t)ref.start_ticks, "cpu_ms",
		            (json_int_t)r->cpu_ms_live)) < 0) {
			json_decref(arr);
			return -1;
		}
	}
	return json_object_set_new(o, "sandboxes", arr);
}

json_t *
lease_ports_json(const struct lease *l)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < l->nports; i++) {
		const struct lease_port *p = &l->ports[i];
		if (json_array_append_new(a,
		        json_pack("{s:s,s:i,s:s,s:i}", "service", p->service,
		            "port", (int)p->port, "proto",
		            p->udp ? "udp" : "tcp", "host_port",
		            (int)p->host)) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

/* The saved forwarded ports (their host ports are kept across a
 * restart); malformed entries are skipped. */
static void
ports_from_json(struct lease *l, const json_t *a)
{
	const json_t *e;
	size_t i;

	json_array_foreach(a, i, e)
	{
		const char *svc =
		    json_string_value(json_object_get(e, "service"));
		const char *proto =
		    json_string_value(json_object_get(e, "proto"));
		json_int_t port =
		    json_integer_value(json_object_get(e, "port"));
		json_int_t host =
		    json_integer_value(json_object_get(e, "host_port"));
		struct lease_port *p;
		if (l->nports == LEASE_MAX_PORTS || svc == NULL ||
		    strlen(svc) >= sizeof(p->service) || proto == NULL ||
		    port < 1 || port > 65535 || host < 0 || host > 65535)
			continue;
		p = &l->ports[l->nports++];
		snprintf(p->service, sizeof(p->service), "%s", svc);
		p->port = (uint16_t)port;
		p->host = (uint16_t)host;
		p->udp = strcmp(proto, "udp") == 0;
	}
}

int
lease_to_json(struct lease *l, json_t **out)
{
	uint64_t now[USAGE_COUNT];

	lease_counters(l, now);
	*out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:b,s:b,s:I}",
	    "id", l->id, "order", l->order, "placement", l->placement, "tenant",
	    l->tenant_text, "manifest_hash", l->manifest_hash, "status",
	    status_names[l->status], "close_reason", l->close_reason,
	    "counters", counters_json(now), "reported",
	    counters_json(l->reported), "started_posted", l->started_posted,
	    "final_posted", l->final_posted, "created_ms",
	    (json_int_t)l->created_ms);
	/* when the counters above were read (lease_bill_downtime) */
	if (*out != NULL &&
	    json_object_set_new(*out, "counters_at",
	        json_integer((json_int_t)util_now_ms())) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	if (*out == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (l->close_detail[0])
		json_object_set_new(*out, "close_detail",
		    json_string(l->close_detail));
	/* A pause being stopped is saved as paused: the stop ends before
	 * the daemon's last save (its shutdown waits for it). */
	if ((l->pause != LEASE_PAUSE_NONE &&
	        json_object_set_new(*out, "paused", json_true()) < 0) ||
	    (l->paused_ms > 0 &&
	        json_object_set_new(*out, "paused_ms",
	            json_integer((json_int_t)l->paused_ms)) < 0)) {
		json_decref(*out);
		*out = NULL;
		return err_set(ERR_NOMEM, "out of memory");
	}
	if (sandboxes_json(l, *out) < 0 ||
	    (l->manifest_request &&
	        json_object_set(*out, "manifest_request", l->manifest_request) <
	            0) ||
	    (l->started_at_ms > 0 &&
	        json_object_set_new(*out, "started_at",
	            json_integer((json_int_t)l->started_at_ms)) < 0)) {
		json_decref(*out);
		*out = NULL;
		return err_set(ERR_NOMEM, "out of memory");
	}
	/* The kernel counter value that "counters" holds (a restart that
	 * adopts the network counts on from there). */
	if (l->net_up &&
	    json_object_set_new(*out, "net_counter",
	        json_integer((json_int_t)(l->net_egress_at +
	            atomic_load(&l->net_egress)))) < 0) {
		json_decref(*out);
		*out = NULL;
		return err_set(ERR_NOMEM, "out of memory");
	}
	if (l->nports &&
	    json_object_set_new(*out, "forwarded_ports", lease_ports_json(l)) <
	        0) {
		json_decref(*out);
		*out = NULL;
		return err_set(ERR_NOMEM, "out of memory");
	}
	if (l->nblobs) {
		json_t *b = json_array();
		size_t i;
		for (i = 0; b && i < l->nblobs; i++)
			if (json_array_append_new(b, json_string(l->blobs[i])) <
			    0) {
				json_decref(b);
				b = NULL;
			}
		if (json_object_set_new(*out, "blobs", b) < 0) {
			json_decref(*out);
			*out = NULL;
			return err_set(ERR_NOMEM, "out of memory");
		}
	}
	return 0;
}

int
lease_from_json(const json_t *j, struct lease **out)
{
	struct lease *l;
	const char *st;
	int rc;

	rc = lease_new(json_string_value(json_object_get(j, "id")),
	    json_string_value(json_object_get(j, "order")),
	    json_string_value(json_object_get(j, "tenant")),
	    json_string_value(json_object_get(j, "manifest_hash")),
	    json_string_value(json_object_get(j, "placement")), &l);
	if (rc < 0)
		return rc;
	st = json_string_value(json_object_get(j, "status"));
	l->status = st && strcmp(st, "closed") == 0 ?
	    LEASE_CLOSED :
	    LEASE_WAITING; /* running again once its manifest is loaded */
	snprintf(l->close_reason, sizeof(l->close_reason), "%s",
	    json_string_value(json_object_get(j, "close_reason")) ?
	        json_string_value(json_object_get(j, "close_reason")) :
	        "");
	counters_from_json(json_object_get(j, "counters"), l->base);
	counters_from_json(json_object_get(j, "reported"), l->reported);
	l->started_posted = json_is_true(json_object_get(j, "started_posted"));
	l->final_posted = json_is_true(json_object_get(j, "final_posted"));
	l->created_ms = json_integer_value(json_object_get(j, "created_ms"));
	l->base_at_ms = json_integer_value(json_object_get(j, "counters_at"));
	snprintf(l->close_detail, sizeof(l->close_detail), "%s",
	    json_is_string(json_object_get(j, "close_detail")) ?
	        json_string_value(json_object_get(j, "close_detail")) :
	        "");
	if (json_array_size(json_object_get(j, "sandboxes")) > 0 &&
	    l->status != LEASE_CLOSED)
		l->saved_sandboxes =
		    json_incref(json_object_get(j, "sandboxes"));
	l->started_at_ms = json_integer_value(json_object_get(j, "started_at"));
	if (json_is_true(json_object_get(j, "paused")) &&
	    l->status != LEASE_CLOSED)
		l->pause = LEASE_PAUSE_STOPPED;
	if (json_integer_value(json_object_get(j, "paused_ms")) > 0)
		l->paused_ms =
		    json_integer_value(json_object_get(j, "paused_ms"));
	ports_from_json(l, json_object_get(j, "forwarded_ports"));
	if (json_integer_value(json_object_get(j, "net_counter")) > 0)
		l->net_egress_at = (uint64_t)json_integer_value(
		    json_object_get(j, "net_counter"));
	if (json_is_object(json_object_get(j, "manifest_request")))
		l->manifest_request =
		    json_incref(json_object_get(j, "manifest_request"));
	{
		/* A saved blob that no longer checks is dropped, quietly. */
		const json_t *b = json_object_get(j, "blobs"), *v;
		struct err_saved saved;
		size_t i;

		err_save(&saved);
		json_array_foreach(b, i, v)
		{
			if (json_is_string(v))
				(void)lease_add_blob(l, json_string_value(v));
		}
		err_restore(&saved);
	}
	*out = l;
	return 0;
}

/* One replica's entry in lease_status_json, or NULL when out of memory. */
static json_t *
replica_status_json(const struct lease *l, const struct lease_replica *r)
{
	json_t *ports = json_array();
	size_t k;

	for (k = 0; ports && k < r->nexpose; k++)
		if (json_array_append_new(ports,
		        json_pack("{s:i,s:i,s:b}", "port", r->expose[k].port,
		            "as", r->expose[k].as, "global",
		            r->expose[k].global)) < 0) {
			json_decref(ports);
			ports = NULL;
		}
	return json_pack("{s:s,s:s,s:i,s:s,s:I,s:i,s:i,s:s,s:o}", "service",
	    r->service, "name", r->name, "replica", (int)r->index, "state",
	    lease_replica_running(r)         ? "running" :
	        r->done                      ? "completed" :
	        l->status == LEASE_CLOSED    ? "stopped" :
	        l->pause != LEASE_PAUSE_NONE ? "paused" :
	        !lease_replica_ready(r)      ? "preparing" :
	                                       "restarting",
	    "pid", (json_int_t)(r->sb ? sandbox_pid(r->sb) : 0), "restarts",
	    (int)r->restarts, "last_exit", r->last_exit, "last_error",
	    r->last_error, "expose", ports);
}

int
lease_status_json(struct lease *l, json_t **out)
{
	uint64_t now[USAGE_COUNT];
	json_t *reps = json_array(), *o;
	size_t i;

	*out = NULL;
	lease_counters(l, now);
	for (i = 0; reps && i < l->nrep; i++)
		if (json_array_append_new(reps,
		        replica_status_json(l, &l->rep[i])) < 0) {
			json_decref(reps);
			reps = NULL;
		}
	/* "o" takes reps and the counters, NULL or not, even on failure. */
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "lease", l->id, "order",
	    l->order, "status",
	    l->status != LEASE_CLOSED && l->pause != LEASE_PAUSE_NONE ?
	        "paused" :
	        status_names[l->status],
	    "close_reason", l->close_reason, "close_detail", l->close_detail,
	    "replicas", reps, "usage", counters_json(now));
	if (o == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	/* Akash's lease-status forwarded_ports. */
	if (json_object_set_new(o, "forwarded_ports", lease_ports_json(l)) <
	    0) {
		json_decref(o);
		return err_set(ERR_NOMEM, "out of memory");
	}
	*out = o;
	return 0;
}

struct lease_replica *
lease_find_service(struct lease *l, const char *service, uint16_t *port)
{
	size_t i, k;

	for (i = 0; i < l->nrep; i++) {
		struct lease_replica *r = &l->rep[i];
		if (strcmp(r->service, service) != 0)
			continue;
		for (k = 0; k < r->nexpose; k++) {
			if (!r->expose[k].global)
				continue;
			if (*port == 0 || *port == r->expose[k].port ||
			    *port == r->expose[k].as) {
				*port = r->expose[k].port;
				return r;
			}
		}
	}
	return NULL;
}

int
lease_add_blob(struct lease *l, const char *sha256_hex)
{
	size_t i;

	if (!artifact_is_sha256(sha256_hex))
		return err_set(ERR_INVAL, "lease %s: blob %s is not a sha256",
		    l->id, sha256_hex);
	for (i = 0; i < l->nblobs; i++)
		if (strcmp(l->blobs[i], sha256_hex) == 0)
			return 0;
	if (l->nblobs == LEASE_MAX_BLOBS)
		return err_set(ERR_LIMIT, "lease %s: more than %d blobs", l->id,
		    LEASE_MAX_BLOBS);
	memcpy(l->blobs[l->nblobs++], sha256_hex, 65);
	return 0;
}

int
lease_resolve_wasm_blobs(struct lease *l)
{
	const char *urls[LEASE_MAX_BLOBS];
	size_t i, k, n = 0;

	for (i = 0; i < l->nrep; i++) {
		struct lease_replica *r = &l->rep[i];
		if (!r->wasm || strcmp(r->wasm_kind, "wasm+file") != 0)
			continue;
		for (k = 0; k < n && strcmp(urls[k], r->wasm_url) != 0; k++)
			;
		if (k == n) {
			if (n == LEASE_MAX_BLOBS)
				return err_set(ERR_REJECT,
				    "manifest: more than "
				    "%d wasm+file modules",
				    LEASE_MAX_BLOBS);
			urls[n++] = r->wasm_url;
		}
		if (k >= l->nblobs)
			return err_set(ERR_REJECT,
			    "manifest: service %s: no "
			    "blob uploaded for wasm+file:%s (PUT /v1/leases/%s/"
			    "blobs/<sha256> before the manifest)",
			    r->service, r->wasm_url, l->id);
		memcpy(r->wasm_sha256, l->blobs[k], 65);
	}
	return 0;
}

int
lease_wasm_app_prepare(const struct lease *l, size_t i, const char *root,
    char **app_dir)
{
	const struct lease_replica *r = &l->rep[i];
	int rc;

	*app_dir = NULL;
	if (r->wasm_path == NULL)
		return err_set(ERR_NOTFOUND, "%s: module not fetched", r->name);
	if ((rc = wasm_app_prepare(r->wasm_path, root, NULL, r->memory_bytes,
	         app_dir)) < 0)
		return err_prefix(rc, "%s", r->name);
	return 0;
}
