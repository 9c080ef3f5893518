/*
 * validate: the checks Akash makes once the SDL is decoded (sdl v2/v2_1
 * validate(), the group-spec validation of deployment/v1beta4 and the
 * manifest validation of manifest/v2beta3), each reported with the
 * position of the thing at fault; plus Lodge's own stricter rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdl/internal.h"

#define P(buf, ...) sdl_fmt(buf, sizeof(buf), __VA_ARGS__)

/* deployment/v1beta4 validation_config.go */
#define AK_CPU_MIN 10ULL
#define AK_CPU_MAX 384000ULL
#define AK_GPU_MAX 24ULL
#define AK_MEM_MIN (1ULL << 20)
#define AK_MEM_MAX (2ULL << 40)
#define AK_STORAGE_MIN (5ULL << 20)
#define AK_STORAGE_MAX (32ULL << 40)
#define AK_UNIT_COUNT 50ULL
#define AK_PRICE_MAX 10000000ULL

static void rep(struct sdl_ctx *c, struct sdl_pos pos, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
rep(struct sdl_ctx *c, struct sdl_pos pos, const char *path, const char *fmt,
    ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sdl_report(c, pos.line, pos.col, path, "%s", msg);
}

/* manifest: ^[a-z]([-a-z0-9]*[a-z0-9])?$ */
static bool
service_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return s[n - 1] != '-';
}

/* k8s IsEnvVarName: ^[-._a-zA-Z][-._a-zA-Z0-9]*$ */
static bool
env_name_ok(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		        ch == '_'))
			return false;
	}
	return true;
}

/* k8s IsDNS1123Subdomain, at most 253 characters. */
static bool
hostname_ok(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum =
		    (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (alnum || ch == '-') {
			if (label == 0 && ch == '-')
				return false;
			label++;
		} else {
			return false;
		}
	}
	return label > 0 && s[n - 1] != '-';
}

/* attributes/v1: ^([a-zA-Z][\w\/\.\-]{1,126}[\w\*]?)$ */
static bool
attr_key_ok(const char *s)
{
	size_t n = strlen(s), end;

	if (n < 2 ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	end = s[n - 1] == '*' ? n - 1 : n;
	if (end - 1 < 1 || end - 1 > (s[n - 1] == '*' ? 126u : 127u))
		return false;
	for (size_t i = 1; i < end; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '_' || ch == '/' ||
		        ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

static bool
price_gt(const struct sdl_price *p, uint64_t whole)
{
	return p->whole > whole || (p->whole == whole && p->frac > 0);
}

static void
check_group_resources(struct sdl_ctx *c, const struct sdl_deployment *d,
    const char *placement)
{
	unsigned __int128 cpu = 0, mem = 0, gpu = 0, sto = 0;
	struct sdl_pos first = { 0, 0 };
	char path[SDL_PATH_MAX];

	for (size_t i = 0; i < d->ndeploys; i++) {
		const struct sdl_deploy *dp = &d->deploys[i];
		const struct sdl_compute *cp;
		if (strcmp(dp->placement, placement))
			continue;
		if (!(cp = sdl_find_compute(d, dp->profile)))
			continue;
		if (!first.line)
			first = dp->pos;
		cpu += (unsigned __int128)cp->cpu_millis * dp->count;
		mem += (unsigned __int128)cp->memory * dp->count;
		gpu += (unsigned __int128)cp->gpu_units * dp->count;
		for (size_t v = 0; v < cp->nvolumes; v++)
			sto +=
			    (unsigned __int128)cp->volumes[v].size * dp->count;
	}
	P(path, "deployment (placement %s)", placement);
	if (cpu > AK_CPU_MAX * AK_UNIT_COUNT)
		rep(c, first, path,
		    "total CPU of the group is more than %llu "
		    "millicores",
		    AK_CPU_MAX * AK_UNIT_COUNT);
	if (mem > AK_MEM_MAX * AK_UNIT_COUNT)
		rep(c, first, path,
		    "total memory of the group is more than "
		    "%llu bytes",
		    AK_MEM_MAX * AK_UNIT_COUNT);
	if (gpu > AK_GPU_MAX * AK_UNIT_COUNT)
		rep(c, first, path,
		    "total GPUs of the group are more than "
		    "%llu",
		    AK_GPU_MAX * AK_UNIT_COUNT);
	if (sto >
	    (unsigned __int128)AK_STORAGE_MAX * AK_UNIT_COUNT * SDL_MAX_VOLUMES)
		rep(c, first, path, "total storage of the group is too large");
}

static void
check_compute(struct sdl_ctx *c, const struct sdl_compute *cp)
{
	char path[SDL_PATH_MAX];

	P(path, "profiles.compute.%s.resources.cpu.units", cp->name);
	if (!(cp->bad & SDL_BAD_CPU) &&
	    (cp->cpu_millis < AK_CPU_MIN || cp->cpu_millis > AK_CPU_MAX))
		rep(c, cp->pos, path,
		    "%u millicores is out of range (expected "
		    "%llu to %llu)",
		    cp->cpu_millis, AK_CPU_MIN, AK_CPU_MAX);
	P(path, "profiles.compute.%s.resources.memory.size", cp->name);
	if (!(cp->bad & SDL_BAD_MEMORY) &&
	    (cp->memory < AK_MEM_MIN || cp->memory > AK_MEM_MAX))
		rep(c, cp->pos, path,
		    "%llu bytes is out of range (expected "
		    "1Mi to 2Ti)",
		    (unsigned long long)cp->memory);
	for (size_t i = 0; i < cp->nvolumes; i++) {
		const struct sdl_volume *v = &cp->volumes[i];
		P(path, "profiles.compute.%s.resources.storage.%s.size",
		    cp->name, v->name);
		if (!v->bad &&
		    (v->size < AK_STORAGE_MIN || v->size > AK_STORAGE_MAX))
			rep(c, v->pos, path,
			    "%llu bytes is out of range "
			    "(expected 5Mi to 32Ti)",
			    (unsigned long long)v->size);
	}
	P(path, "profiles.compute.%s.resources.gpu.units", cp->name);
	if (cp->gpu_units > AK_GPU_MAX)
		rep(c, cp->pos, path,
		    "%llu GPUs is out of range (expected 0 "
		    "to %llu)",
		    (unsigned long long)cp->gpu_units, AK_GPU_MAX);
	P(path, "profiles.compute.%s.resources.gpu.attributes", cp->name);
	for (size_t i = 0; i < cp->ngpu_attrs; i++)
		if (!attr_key_ok(cp->gpu_attrs[i].key))
			rep(c, cp->pos, path,
			    "invalid GPU attribute \"%.150s\" "
			    "(letters, digits, _ / . - only)",
			    cp->gpu_attrs[i].key);
}

/* Whether deploy i names the same service as deploy i - 1: the
 * service's checks were made for the first of them. */
static bool
repeats_service(const struct sdl_deployment *d, size_t i)
{
	return i > 0 &&
	    strcmp(d->deploys[i].service, d->deploys[i - 1].service) == 0;
}

static bool
endpoint_declared(const struct sdl_deployment *d, const char *name)
{
	bool found = false;

	for (size_t x = 0; x < d->nendpoints; x++)
		if (!strcmp(d->endpoints[x].name, name))
			found = true;
	return found;
}

/* The volume of the compute profile called name (the last one when
 * names repeat), or NULL. */
static const struct sdl_volume *
volume_named(const struct sdl_compute *cp, const char *name)
{
	const struct sdl_volume *vol = NULL;

	for (size_t v = 0; cp && v < cp->nvolumes; v++)
		if (!strcmp(cp->volumes[v].name, name))
			vol = &cp->volumes[v];
	return vol;
}

/* ---- one service ------------------------------------------------------- */

/* The service's name and its environment variable names. */
static void
check_service_names(struct sdl_ctx *c, const struct sdl_service *s)
{
	char path[SDL_PATH_MAX];

	if (!service_name_ok(s->name)) {
		P(path, "services.%s", s->name);
		rep(c, s->pos, path,
		    "service name is not valid (lower-case "
		    "letters, digits and -, starting with a letter, not "
		    "ending with -)");
	}
	for (size_t i = 0; i < s->env.count; i++) {
		const char *e = s->env.items[i], *eq = strchr(e, '=');
		size_t n = eq ? (size_t)(eq - e) : strlen(e);
		if (env_name_ok(e, n))
			continue;
		P(path, "services.%s.env[%zu]", s->name, i);
		rep(c, s->pos, path,
		    "invalid environment variable name "
		    "\"%.*s\"",
		    (int)(n > 100 ? 100 : n), e);
	}
}

/* Each expose's accepted host names, and the IP endpoints it sends to
 * are declared. */
static void
check_service_exposes(struct sdl_ctx *c, const struct sdl_deployment *d,
    const struct sdl_service *s)
{
	char path[SDL_PATH_MAX];

	for (size_t i = 0; i < s->nexpose; i++) {
		const struct sdl_expose *e = &s->expose[i];
		for (size_t k = 0; k < e->accept.count; k++) {
			if (hostname_ok(e->accept.items[k]))
				continue;
			P(path, "services.%s.expose[%zu].accept[%zu]", s->name,
			    i, k);
			rep(c, e->pos, path,
			    "\"%.100s\" is not a valid "
			    "host name (RFC 1123, lower case)",
			    e->accept.items[k]);
		}
		for (size_t k = 0; k < e->nto; k++) {
			const struct sdl_expose_to *t = &e->to[k];
			if (!*t->ip || endpoint_declared(d, t->ip))
				continue;
			P(path, "services.%s.expose[%zu].to[%zu].ip", s->name,
			    i, k);
			rep(c, t->pos, path,
			    "no endpoint named "
			    "\"%.64s\" (declare it under endpoints)",
			    t->ip);
		}
	}
}

/* Storage parameters against the compute profile's volumes: the volume
 * exists, no two share a mount point, a ram volume is not read-only. */
static void
check_service_storage(struct sdl_ctx *c, const struct sdl_service *s,
    const struct sdl_compute *cp)
{
	char path[SDL_PATH_MAX];

	for (size_t i = 0; i < s->nstorage; i++) {
		const struct sdl_storage_param *sp = &s->storage[i];
		const struct sdl_volume *vol = volume_named(cp, sp->volume);
		P(path, "services.%s.params.storage.%s", s->name, sp->volume);
		if (cp && !vol)
			rep(c, sp->pos, path,
			    "no volume named \"%s\" in "
			    "compute profile \"%s\"",
			    sp->volume, cp->name);
		for (size_t j = 0; j < i; j++)
			if (*sp->mount &&
			    !strcmp(s->storage[j].mount, sp->mount))
				rep(c, sp->pos, path,
				    "mount \"%.100s\" already "
				    "in use by volume \"%s\"",
				    sp->mount, s->storage[j].volume);
		if (vol && vol->class_ && !strcmp(vol->class_, "ram") &&
		    sp->read_only)
			rep(c, sp->pos, path,
			    "readOnly is not allowed for a "
			    "ram volume");
	}
}

/* A persistent volume must be mounted by the service.  Akash's Go parser
 * only notices a service that mounts nothing at all, and only in v2.0;
 * Lodge applies that v2.0 rule to v2.1 too: an error under --strict, a
 * warning by default (the volume is allocated, and nothing uses it). */
static void
check_persistent_mounted(struct sdl_ctx *c, const struct sdl_deployment *d,
    const struct sdl_service *s, const struct sdl_compute *cp)
{
	char path[SDL_PATH_MAX];

	if (s->nstorage > 0)
		return;
	for (size_t v = 0; cp && v < cp->nvolumes; v++) {
		const struct sdl_volume *vol = &cp->volumes[v];
		if (!vol->persistent)
			continue;
		P(path, "services.%s.params.storage.%s.mount", s->name,
		    vol->name);
		if (d->version < 21 || c->strict)
			rep(c, s->pos, path,
			    "volume \"%s\" of profile \"%s\" is "
			    "persistent and must be mounted (params.storage)",
			    vol->name, cp->name);
		else
			sdl_warn(c, s->pos.line, s->pos.col, path,
			    "volume \"%s\" of profile \"%s\" is "
			    "persistent and is not mounted (params.storage): "
			    "it is allocated and nothing uses it; accepted as "
			    "Akash's Go parser accepts it in v2.1 files "
			    "(--strict refuses it)",
			    vol->name, cp->name);
	}
}

static void
check_service_tee(struct sdl_ctx *c, const struct sdl_service *s,
    const struct sdl_compute *cp)
{
	char path[SDL_PATH_MAX];

	if (s->tee && !strcmp(s->tee, "cpu-gpu") && cp && cp->gpu_units == 0) {
		P(path, "services.%s.params.tee", s->name);
		rep(c, s->pos, path,
		    "tee type \"cpu-gpu\" requires gpu "
		    "resources in profile \"%s\"",
		    cp->name);
	}
}

/* Service s as deployed with profile cp (NULL when it has none).  What
 * does not depend on the profile is checked at its first deploy only. */
static void
check_service(struct sdl_ctx *c, const struct sdl_deployment *d,
    const struct sdl_service *s, const struct sdl_compute *cp, bool first)
{
	if (first) {
		check_service_names(c, s);
		check_service_exposes(c, d, s);
	}
	check_service_storage(c, s, cp);
	check_persistent_mounted(c, d, s, cp);
	check_service_tee(c, s, cp);
}

/* ---- one deploy (service x placement) ---------------------------------- */

/* What the walk over the deploys gathers for the checks after it. */
struct walk {
	const char *denom; /* the first pricing's denomination */
	size_t global; /* expose targets with global: true */
	bool *used_ep; /* per endpoint: some service sends to it */
};

/* The deploy's compute profile, placement and pricing exist; returns the
 * pricing (NULL when there is none). */
static const struct sdl_price *
check_deploy_refs(struct sdl_ctx *c, const struct sdl_deployment *d,
    const struct sdl_deploy *dp, const struct sdl_compute *cp)
{
	const struct sdl_placement *pl = sdl_find_placement(d, dp->placement);
	const struct sdl_price *pr = NULL;
	char path[SDL_PATH_MAX];

	P(path, "deployment.%s.%s.profile", dp->service, dp->placement);
	if (!cp && *dp->profile)
		rep(c, dp->pos, path,
		    "no compute profile named "
		    "\"%.64s\"",
		    dp->profile);
	P(path, "deployment.%s.%s", dp->service, dp->placement);
	if (!pl)
		rep(c, dp->pos, path,
		    "no placement profile named "
		    "\"%.64s\"",
		    dp->placement);
	else if (*dp->profile && !(pr = sdl_find_price(pl, dp->profile)))
		rep(c, dp->pos, path,
		    "no pricing for profile \"%.64s\" "
		    "in placement \"%.64s\"",
		    dp->profile, dp->placement);
	return pr;
}

/* The price is within Akash's limit and in the deployment's one
 * denomination (the first seen, kept in w). */
static void
check_price(struct sdl_ctx *c, const struct sdl_deploy *dp,
    const struct sdl_price *pr, struct walk *w)
{
	char path[SDL_PATH_MAX];

	P(path, "profiles.placement.%s.pricing.%s.amount", dp->placement,
	    dp->profile);
	if (price_gt(pr, AK_PRICE_MAX))
		rep(c, pr->pos, path,
		    "price is more than %llu "
		    "per unit",
		    AK_PRICE_MAX);
	P(path, "profiles.placement.%s.pricing.%s.denom", dp->placement,
	    dp->profile);
	if (!w->denom)
		w->denom = pr->denom;
	else if (strcmp(w->denom, pr->denom))
		rep(c, pr->pos, path,
		    "denomination \"%s\" "
		    "differs from \"%s\" used elsewhere; one "
		    "deployment pays in one denomination",
		    pr->denom, w->denom);
}

/* Count s's global expose targets and mark the endpoints it uses. */
static void
tally_exposes(const struct sdl_deployment *d, const struct sdl_service *s,
    struct walk *w)
{
	for (size_t e = 0; e < s->nexpose; e++)
		for (size_t t = 0; t < s->expose[e].nto; t++) {
			const struct sdl_expose_to *to = &s->expose[e].to[t];
			if (to->global)
				w->global++;
			for (size_t x = 0; x < d->nendpoints; x++)
				if (*to->ip &&
				    !strcmp(to->ip, d->endpoints[x].name))
					w->used_ep[x] = true;
		}
}

/* Tee types must agree within a placement group: s (deploy i) against
 * the services deployed before it in the same placement. */
static void
check_group_tee(struct sdl_ctx *c, const struct sdl_deployment *d, size_t i,
    const struct sdl_service *s)
{
	const struct sdl_deploy *dp = &d->deploys[i];
	char path[SDL_PATH_MAX];

	for (size_t j = 0; j < i; j++) {
		const struct sdl_service *o;
		if (strcmp(d->deploys[j].placement, dp->placement))
			continue;
		o = sdl_find_service(d, d->deploys[j].service);
		if (o && o->tee && strcmp(o->tee, s->tee)) {
			P(path, "services.%s.params.tee", s->name);
			rep(c, s->pos, path,
			    "group \"%s\" has "
			    "conflicting tee types \"%s\" and "
			    "\"%s\"",
			    dp->placement, o->tee, s->tee);
			return;
		}
	}
}

static void
check_deploy(struct sdl_ctx *c, const struct sdl_deployment *d, size_t i,
    struct walk *w)
{
	const struct sdl_deploy *dp = &d->deploys[i];
	const struct sdl_compute *cp = sdl_find_compute(d, dp->profile);
	const struct sdl_service *s = sdl_find_service(d, dp->service);
	const struct sdl_price *pr = check_deploy_refs(c, d, dp, cp);
	char path[SDL_PATH_MAX];

	if (!s) {
		P(path, "deployment.%s", dp->service);
		rep(c, dp->pos, path, "no service named \"%.64s\"",
		    dp->service);
		return;
	}
	check_service(c, d, s, cp, !repeats_service(d, i));
	if (pr)
		check_price(c, dp, pr, w);
	tally_exposes(d, s, w);
	if (s->tee)
		check_group_tee(c, d, i, s);
}

/* ---- the manifest as a whole ------------------------------------------ */

static void
check_something_deployed(struct sdl_ctx *c, const struct sdl_deployment *d)
{
	struct sdl_pos p = { 1, 1 };

	if (d->ndeploys == 0 && d->nservices > 0)
		rep(c, p, "deployment", "no service is deployed");
}

/* The compute profiles some deploy uses; the others are not checked. */
static void
check_used_computes(struct sdl_ctx *c, const struct sdl_deployment *d)
{
	for (size_t i = 0; i < d->ncomputes; i++) {
		bool used = false;
		for (size_t j = 0; j < d->ndeploys && !used; j++)
			used =
			    !strcmp(d->deploys[j].profile, d->computes[i].name);
		if (used)
			check_compute(c, &d->computes[i]);
	}
}

/* Whether IP endpoint target t of s's expose e is already taken, same
 * port and protocol, by a service deployed up to deploy i (by s itself,
 * only by a target before (e, t)). */
static bool
ip_port_taken(const struct sdl_deployment *d, size_t i,
    const struct sdl_service *s, size_t e, size_t t)
{
	const struct sdl_expose *ex = &s->expose[e];
	const char *ip = ex->to[t].ip;

	for (size_t j = 0; j <= i; j++) {
		const struct sdl_service *o =
		    sdl_find_service(d, d->deploys[j].service);
		if (!o || repeats_service(d, j))
			continue;
		for (size_t e2 = 0; e2 < o->nexpose; e2++) {
			const struct sdl_expose *ox = &o->expose[e2];
			for (size_t t2 = 0; t2 < ox->nto; t2++) {
				if (o == s && (e2 > e || (e2 == e && t2 >= t)))
					break;
				if (!strcmp(ox->to[t2].ip, ip) &&
				    ox->as == ex->as && ox->proto == ex->proto)
					return true;
			}
		}
	}
	return false;
}

/* IP endpoint ports are shared by all services using the endpoint: one
 * port and protocol on an endpoint is one service's. */
static void
check_ip_ports(struct sdl_ctx *c, const struct sdl_deployment *d)
{
	char path[SDL_PATH_MAX];

	for (size_t i = 0; i < d->ndeploys; i++) {
		const struct sdl_service *s =
		    sdl_find_service(d, d->deploys[i].service);
		if (!s || repeats_service(d, i))
			continue;
		for (size_t e = 0; e < s->nexpose; e++)
			for (size_t t = 0; t < s->expose[e].nto; t++) {
				const struct sdl_expose *ex = &s->expose[e];
				const struct sdl_expose_to *to = &ex->to[t];
				if (!*to->ip || !ip_port_taken(d, i, s, e, t))
					continue;
				P(path, "services.%s.expose[%zu].to[%zu].ip",
				    s->name, e, t);
				rep(c, to->pos, path,
				    "IP endpoint \"%s\" "
				    "port %u/%s is already in use",
				    to->ip, ex->as,
				    ex->proto == SDL_PROTO_UDP ? "udp" : "tcp");
			}
	}
}

static void
check_endpoints_used(struct sdl_ctx *c, const struct sdl_deployment *d,
    const bool *used_ep)
{
	char path[SDL_PATH_MAX];

	for (size_t x = 0; x < d->nendpoints; x++)
		if (!used_ep[x]) {
			P(path, "endpoints.%s", d->endpoints[x].name);
			rep(c, d->endpoints[x].pos, path,
			    "endpoint declared "
			    "but never used");
		}
}

/* The resource totals of each placement group, once per group. */
static void
check_group_totals(struct sdl_ctx *c, const struct sdl_deployment *d)
{
	for (size_t i = 0; i < d->ndeploys; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(d->deploys[j].placement,
			    d->deploys[i].placement);
		if (!seen)
			check_group_resources(c, d, d->deploys[i].placement);
	}
}

/* The host names seen so far (borrowed). */
struct hosts {
	const char **v;
	size_t n, cap;
};

static bool
hosts_have(const struct hosts *h, const char *name)
{
	bool dup = false;

	for (size_t q = 0; q < h->n; q++)
		if (!strcmp(h->v[q], name))
			dup = true;
	return dup;
}

static int
hosts_add(struct hosts *h, const char *name)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		const char **v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = name;
	return 0;
}

/* The accepted host names of s's expose e, once per target (a host name
 * sent to two targets is two uses).  -1 when out of memory. */
static int
check_expose_hosts(struct sdl_ctx *c, const struct sdl_service *s, size_t e,
    struct hosts *seen)
{
	const struct sdl_expose *ex = &s->expose[e];
	size_t reps = ex->nto ? ex->nto : 1;
	char path[SDL_PATH_MAX];

	for (size_t r = 0; r < reps; r++)
		for (size_t k = 0; k < ex->accept.count; k++) {
			const char *h = ex->accept.items[k];
			if (!hosts_have(seen, h)) {
				if (hosts_add(seen, h))
					return -1;
				continue;
			}
			P(path, "services.%s.expose[%zu].accept[%zu]", s->name,
			    e, k);
			rep(c, ex->pos, path,
			    "host name \"%.100s\" is used more than once", h);
		}
	return 0;
}

/* Host names are unique across the manifest, per expose target.  -1
 * (c->oom set) when out of memory. */
static int
check_unique_hosts(struct sdl_ctx *c, const struct sdl_deployment *d)
{
	struct hosts seen = { NULL, 0, 0 };
	int rc = 0;

	for (size_t i = 0; i < d->ndeploys && rc == 0; i++) {
		const struct sdl_service *s =
		    sdl_find_service(d, d->deploys[i].service);
		for (size_t e = 0; s && e < s->nexpose && rc == 0; e++)
			rc = check_expose_hosts(c, s, e, &seen);
	}
	free(seen.v);
	if (rc)
		c->oom = 1;
	return rc;
}

static void
check_something_global(struct sdl_ctx *c, const struct sdl_deployment *d,
    size_t global)
{
	if (d->ndeploys > 0 && global == 0)
		rep(c, d->deploys[0].pos, "deployment",
		    "no service is exposed globally "
		    "(Akash needs at least one expose with global: true)");
}

/*
 * The phases, in the order their findings are reported: something is
 * deployed; the compute profiles in use; each deploy (its references,
 * its service, its price, its tee group); IP endpoint ports; endpoints
 * in use; group totals; unique host names; a global expose.
 */
void
sdl_validate(struct sdl_ctx *c, const struct sdl_deployment *d)
{
	struct walk w = { NULL, 0, NULL };

	check_something_deployed(c, d);
	check_used_computes(c, d);
	if (d->nendpoints &&
	    !(w.used_ep = calloc(d->nendpoints, sizeof(*w.used_ep)))) {
		c->oom = 1;
		return;
	}
	for (size_t i = 0; i < d->ndeploys; i++)
		check_deploy(c, d, i, &w);
	check_ip_ports(c, d);
	check_endpoints_used(c, d, w.used_ep);
	free(w.used_ep);
	check_group_totals(c, d);
	if (check_unique_hosts(c, d) != 0)
		return;
	check_something_global(c, d, w.global);
}
