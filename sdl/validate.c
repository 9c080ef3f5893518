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

static void
check_service(struct sdl_ctx *c, const struct sdl_deployment *d,
    const struct sdl_service *s, const struct sdl_compute *cp, bool first)
{
	char path[SDL_PATH_MAX];

	if (!first)
		goto storage;
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
		if (!env_name_ok(e, n)) {
			P(path, "services.%s.env[%zu]", s->name, i);
			rep(c, s->pos, path,
			    "invalid environment variable name "
			    "\"%.*s\"",
			    (int)(n > 100 ? 100 : n), e);
		}
	}
	for (size_t i = 0; i < s->nexpose; i++) {
		const struct sdl_expose *e = &s->expose[i];
		for (size_t k = 0; k < e->accept.count; k++)
			if (!hostname_ok(e->accept.items[k])) {
				P(path, "services.%s.expose[%zu].accept[%zu]",
				    s->name, i, k);
				rep(c, e->pos, path,
				    "\"%.100s\" is not a valid "
				    "host name (RFC 1123, lower case)",
				    e->accept.items[k]);
			}
		for (size_t k = 0; k < e->nto; k++) {
			const struct sdl_expose_to *t = &e->to[k];
			bool found = false;
			if (!*t->ip)
				continue;
			for (size_t x = 0; x < d->nendpoints; x++)
				if (!strcmp(d->endpoints[x].name, t->ip))
					found = true;
			if (!found) {
				P(path, "services.%s.expose[%zu].to[%zu].ip",
				    s->name, i, k);
				rep(c, t->pos, path,
				    "no endpoint named "
				    "\"%.64s\" (declare it under endpoints)",
				    t->ip);
			}
		}
	}
storage:
	/* storage parameters against the compute profile's volumes */
	for (size_t i = 0; i < s->nstorage; i++) {
		const struct sdl_storage_param *sp = &s->storage[i];
		const struct sdl_volume *vol = NULL;
		for (size_t v = 0; cp && v < cp->nvolumes; v++)
			if (!strcmp(cp->volumes[v].name, sp->volume))
				vol = &cp->volumes[v];
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
	/* a persistent volume must be mounted by the service */
	for (size_t v = 0; cp && v < cp->nvolumes; v++) {
		const struct sdl_volume *vol = &cp->volumes[v];
		bool mounted = false;
		if (!vol->persistent)
			continue;
		for (size_t i = 0; i < s->nstorage; i++)
			if (!strcmp(s->storage[i].volume, vol->name) &&
			    *s->storage[i].mount)
				mounted = true;
		/* Akash's Go parser only notices a service that mounts
		 * nothing at all, and only in v2.0; Lodge applies that v2.0
		 * rule to v2.1 too */
		mounted = s->nstorage > 0 || (!c->strict && d->version >= 21);
		if (!mounted) {
			P(path, "services.%s.params.storage.%s.mount", s->name,
			    vol->name);
			rep(c, s->pos, path,
			    "volume \"%s\" of profile \"%s\" is "
			    "persistent and must be mounted (params.storage)",
			    vol->name, cp->name);
		}
	}
	if (s->tee && !strcmp(s->tee, "cpu-gpu") && cp && cp->gpu_units == 0) {
		P(path, "services.%s.params.tee", s->name);
		rep(c, s->pos, path,
		    "tee type \"cpu-gpu\" requires gpu "
		    "resources in profile \"%s\"",
		    cp->name);
	}
}

void
sdl_validate(struct sdl_ctx *c, const struct sdl_deployment *d)
{
	char path[SDL_PATH_MAX];
	const char *denom = NULL;
	size_t global = 0;
	bool *used_ep = NULL;

	if (d->ndeploys == 0 && d->nservices > 0) {
		struct sdl_pos p = { 1, 1 };
		rep(c, p, "deployment", "no service is deployed");
	}
	for (size_t i = 0; i < d->ncomputes; i++) {
		bool used = false;
		for (size_t j = 0; j < d->ndeploys && !used; j++)
			used =
			    !strcmp(d->deploys[j].profile, d->computes[i].name);
		if (used)
			check_compute(c, &d->computes[i]);
	}
	if (d->nendpoints &&
	    !(used_ep = calloc(d->nendpoints, sizeof(*used_ep)))) {
		c->oom = 1;
		return;
	}
	for (size_t i = 0; i < d->ndeploys; i++) {
		const struct sdl_deploy *dp = &d->deploys[i];
		const struct sdl_compute *cp = sdl_find_compute(d, dp->profile);
		const struct sdl_placement *pl =
		    sdl_find_placement(d, dp->placement);
		const struct sdl_service *s = sdl_find_service(d, dp->service);
		const struct sdl_price *pr = NULL;

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
		else if (*dp->profile &&
		    !(pr = sdl_find_price(pl, dp->profile)))
			rep(c, dp->pos, path,
			    "no pricing for profile \"%.64s\" "
			    "in placement \"%.64s\"",
			    dp->profile, dp->placement);
		P(path, "deployment.%s", dp->service);
		if (!s) {
			rep(c, dp->pos, path, "no service named \"%.64s\"",
			    dp->service);
			continue;
		}
		check_service(c, d, s, cp,
		    i == 0 ||
		        strcmp(dp->service, d->deploys[i - 1].service) != 0);
		if (pr) {
			P(path, "profiles.placement.%s.pricing.%s.amount",
			    dp->placement, dp->profile);
			if (price_gt(pr, AK_PRICE_MAX))
				rep(c, pr->pos, path,
				    "price is more than %llu "
				    "per unit",
				    AK_PRICE_MAX);
			P(path, "profiles.placement.%s.pricing.%s.denom",
			    dp->placement, dp->profile);
			if (!denom)
				denom = pr->denom;
			else if (strcmp(denom, pr->denom))
				rep(c, pr->pos, path,
				    "denomination \"%s\" "
				    "differs from \"%s\" used elsewhere; one "
				    "deployment pays in one denomination",
				    pr->denom, denom);
		}
		for (size_t e = 0; e < s->nexpose; e++)
			for (size_t t = 0; t < s->expose[e].nto; t++) {
				const struct sdl_expose_to *to =
				    &s->expose[e].to[t];
				if (to->global)
					global++;
				for (size_t x = 0; x < d->nendpoints; x++)
					if (*to->ip &&
					    !strcmp(to->ip,
					        d->endpoints[x].name))
						used_ep[x] = true;
			}
		/* tee types must agree within a placement group */
		if (s->tee) {
			for (size_t j = 0; j < i; j++) {
				const struct sdl_service *o;
				if (strcmp(d->deploys[j].placement,
				        dp->placement))
					continue;
				o = sdl_find_service(d, d->deploys[j].service);
				if (o && o->tee && strcmp(o->tee, s->tee)) {
					P(path, "services.%s.params.tee",
					    s->name);
					rep(c, s->pos, path,
					    "group \"%s\" has "
					    "conflicting tee types \"%s\" and "
					    "\"%s\"",
					    dp->placement, o->tee, s->tee);
					break;
				}
			}
		}
	}
	/* IP endpoint ports are shared by all services using the endpoint */
	for (size_t i = 0; i < d->ndeploys; i++) {
		const struct sdl_service *s =
		    sdl_find_service(d, d->deploys[i].service);
		if (!s ||
		    (i > 0 &&
		        !strcmp(d->deploys[i].service,
		            d->deploys[i - 1].service)))
			continue;
		for (size_t e = 0; e < s->nexpose; e++)
			for (size_t t = 0; t < s->expose[e].nto; t++) {
				const struct sdl_expose *ex = &s->expose[e];
				const struct sdl_expose_to *to = &ex->to[t];
				bool clash = false;
				if (!*to->ip)
					continue;
				for (size_t j = 0; j <= i && !clash; j++) {
					const struct sdl_service *o =
					    sdl_find_service(d,
					        d->deploys[j].service);
					if (!o ||
					    (j > 0 &&
					        !strcmp(d->deploys[j].service,
					            d->deploys[j - 1].service)))
						continue;
					for (size_t e2 = 0;
					     e2 < o->nexpose && !clash; e2++)
						for (size_t t2 = 0;
						     t2 < o->expose[e2].nto;
						     t2++) {
							if (o == s &&
							    (e2 > e ||
							        (e2 == e &&
							            t2 >= t)))
								break;
							if (!strcmp(
							        o->expose[e2]
							            .to[t2]
							            .ip,
							        to->ip) &&
							    o->expose[e2].as ==
							        ex->as &&
							    o->expose[e2]
							            .proto ==
							        ex->proto)
								clash = true;
						}
				}
				if (clash) {
					P(path,
					    "services.%s.expose[%zu].to[%zu]."
					    "ip",
					    s->name, e, t);
					rep(c, to->pos, path,
					    "IP endpoint \"%s\" "
					    "port %u/%s is already in use",
					    to->ip, ex->as,
					    ex->proto == SDL_PROTO_UDP ? "udp" :
					                                 "tcp");
				}
			}
	}
	for (size_t x = 0; x < d->nendpoints; x++)
		if (!used_ep[x]) {
			P(path, "endpoints.%s", d->endpoints[x].name);
			rep(c, d->endpoints[x].pos, path,
			    "endpoint declared "
			    "but never used");
		}
	free(used_ep);
	/* group totals */
	for (size_t i = 0; i < d->ndeploys; i++)
		if (i == 0 ||
		    strcmp(d->deploys[i].placement,
		        d->deploys[i - 1].placement)) {
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++)
				seen = !strcmp(d->deploys[j].placement,
				    d->deploys[i].placement);
			if (!seen)
				check_group_resources(c, d,
				    d->deploys[i].placement);
		}
	/* hostnames are unique across the manifest, per expose target */
	{
		const char **hosts = NULL;
		size_t nh = 0, caph = 0;
		for (size_t i = 0; i < d->ndeploys; i++) {
			const struct sdl_service *s =
			    sdl_find_service(d, d->deploys[i].service);
			for (size_t e = 0; s && e < s->nexpose; e++) {
				const struct sdl_expose *ex = &s->expose[e];
				size_t reps = ex->nto ? ex->nto : 1;
				for (size_t r = 0; r < reps; r++)
					for (size_t k = 0; k < ex->accept.count;
					     k++) {
						const char *h =
						    ex->accept.items[k];
						bool dup = false;
						for (size_t q = 0; q < nh; q++)
							if (!strcmp(hosts[q],
							        h))
								dup = true;
						if (dup) {
							P(path,
							    "services.%s."
							    "expose[%zu].accept"
							    "[%zu]",
							    s->name, e, k);
							rep(c, ex->pos, path,
							    "host name "
							    "\"%.100s\""
							    " is used more "
							    "than "
							    "once",
							    h);
							continue;
						}
						if (nh == caph) {
							size_t c2 = caph ?
							    caph * 2 :
							    16;
							const char **nn =
							    realloc(hosts,
							        c2 *
							            sizeof(
							                *nn));
							if (!nn) {
								c->oom = 1;
								free(hosts);
								return;
							}
							hosts = nn;
							caph = c2;
						}
						hosts[nh++] = h;
					}
			}
		}
		free(hosts);
	}
	if (d->ndeploys > 0 && global == 0) {
		struct sdl_pos p = d->deploys[0].pos;
		rep(c, p, "deployment",
		    "no service is exposed globally "
		    "(Akash needs at least one expose with global: true)");
	}
}
