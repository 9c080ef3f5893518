/*
 * akash: the deployment as Akash's Go SDL package encodes it with
 * encoding/json: DeploymentGroups() (deployment/v1beta4 GroupSpecs) and
 * Manifest() (manifest/v2beta3), with Akash's orderings, its resource
 * merging in v2.1 and its endpoint sequence numbers, so that Lodge's output
 * can be compared with Akash's reference fixtures as JSON values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "sdl/internal.h"

enum { EP_SHARED_HTTP = 0, EP_RANDOM_PORT = 1, EP_LEASED_IP = 2 };

struct mexpose { /* one manifest ServiceExpose */
	const struct sdl_expose *e;
	const struct sdl_expose_to *to; /* NULL when the expose has none */
	uint32_t seq;
};

struct ep {
	int kind;
	uint32_t seq;
};

/* Append to an array of n elements of size sz; returns 0 or ERR_NOMEM. */
static int
grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 8;
	void *p = realloc(*arr, c * sz);
	if (!p)
		return ERR_NOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

static const char *
to_service(const struct mexpose *m)
{
	return m->to ? m->to->service : "";
}

static bool
to_global(const struct mexpose *m)
{
	return m->to ? m->to->global : false;
}

/* manifest ServiceExposes.Less */
static bool
mexpose_less(const struct mexpose *a, const struct mexpose *b)
{
	int c = strcmp(to_service(a), to_service(b));

	if (c)
		return c < 0;
	if (a->e->port != b->e->port)
		return a->e->port < b->e->port;
	if (a->e->proto != b->e->proto)
		return a->e->proto == SDL_PROTO_TCP; /* "TCP" < "UDP" */
	if (to_global(a) != to_global(b))
		return to_global(a);
	return false;
}

/* The flattened, sorted exposes of s; caller frees *out. */
static int
service_exposes(const struct sdl_deployment *d, const struct sdl_service *s,
    struct mexpose **out, size_t *n)
{
	struct mexpose *m = NULL;
	size_t cap = 0, k = 0;

	for (size_t i = 0; i < s->nexpose; i++) {
		const struct sdl_expose *e = &s->expose[i];
		size_t reps = e->nto ? e->nto : 1;
		for (size_t r = 0; r < reps; r++) {
			if (grow((void **)&m, &cap, k, sizeof(*m))) {
				free(m);
				return ERR_NOMEM;
			}
			m[k].e = e;
			m[k].to = e->nto ? &e->to[r] : NULL;
			m[k].seq = 0;
			if (m[k].to && m[k].to->global && *m[k].to->ip)
				m[k].seq = sdl_endpoint_seq(d, m[k].to->ip);
			k++;
		}
	}
	/* Go's sort.Sort is an insertion sort at these sizes */
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && mexpose_less(&m[j], &m[j - 1]);
		     j--) {
			struct mexpose t = m[j];
			m[j] = m[j - 1];
			m[j - 1] = t;
		}
	*out = m;
	*n = k;
	return 0;
}

static bool
is_ingress(const struct mexpose *m)
{
	uint32_t ext = m->e->as ? m->e->as : m->e->port;

	return m->e->proto == SDL_PROTO_TCP && to_global(m) && ext == 80;
}

static void
eps_sort(struct ep *e, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && e[j].seq < e[j - 1].seq; j--) {
			struct ep t = e[j];
			e[j] = e[j - 1];
			e[j - 1] = t;
		}
}

/* ServiceExposes.GetEndpoints: appended to *eps. */
static int
exposes_endpoints(const struct mexpose *m, size_t n, struct ep **eps,
    size_t *neps, size_t *cap)
{
	for (size_t i = 0; i < n; i++) {
		struct ep one[2];
		size_t k = 0;
		if (!to_global(&m[i]))
			continue;
		if (*m[i].to->ip)
			one[k++] = (struct ep){ EP_LEASED_IP, m[i].seq };
		one[k++] = (struct ep){ is_ingress(&m[i]) ? EP_SHARED_HTTP :
			                                    EP_RANDOM_PORT,
			0 };
		eps_sort(one, k);
		for (size_t j = 0; j < k; j++) {
			if (grow((void **)eps, cap, *neps, sizeof(**eps)))
				return ERR_NOMEM;
			(*eps)[(*neps)++] = one[j];
		}
	}
	return 0;
}

#define CHK(x)                      \
	do {                        \
		if (!(x))           \
			goto nomem; \
	} while (0)

static json_t *
strlist_json(const struct sdl_strlist *l)
{
	json_t *a;

	if (!l->present)
		return json_null();
	if (!(a = json_array()))
		return NULL;
	for (size_t i = 0; i < l->count; i++)
		if (json_array_append_new(a, json_string(l->items[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
val_json(uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_pack("{s:s}", "val", buf);
}

static json_t *
attrs_json(const struct sdl_attr *a, size_t n)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr,
		        json_pack("{s:s,s:s}", "key", a[i].key, "value",
		            a[i].value))) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

static json_t *
eps_json(const struct ep *e, size_t n)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *o =
		    json_pack("{s:I}", "sequence_number", (json_int_t)e[i].seq);
		if (!o ||
		    (e[i].kind &&
		        json_object_set_new(o, "kind",
		            json_integer(e[i].kind))) ||
		    json_array_append_new(arr, o)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *
resources_json(const struct sdl_compute *cp, uint32_t id, const struct ep *eps,
    size_t neps)
{
	json_t *r = NULL, *cpu = NULL, *gpu = NULL, *sto = NULL;

	CHK(r = json_object());
	CHK(!json_object_set_new(r, "id", json_integer(id)));
	CHK(cpu = json_pack("{s:o}", "units", val_json(cp->cpu_millis)));
	if (cp->ncpu_attrs)
		CHK(!json_object_set_new(cpu, "attributes",
		    attrs_json(cp->cpu_attrs, cp->ncpu_attrs)));
	CHK(!json_object_set_new(r, "cpu", cpu));
	cpu = NULL;
	CHK(!json_object_set_new(r, "memory",
	    json_pack("{s:o}", "size", val_json(cp->memory))));
	CHK(sto = json_array());
	for (size_t i = 0; i < cp->nvolumes; i++) {
		const struct sdl_volume *v = &cp->volumes[i];
		json_t *o = json_pack("{s:s,s:o}", "name", v->name, "size",
		    val_json(v->size));
		CHK(o);
		if (v->nattrs &&
		    json_object_set_new(o, "attributes",
		        attrs_json(v->attrs, v->nattrs))) {
			json_decref(o);
			goto nomem;
		}
		CHK(!json_array_append_new(sto, o));
	}
	if (cp->nvolumes)
		CHK(!json_object_set_new(r, "storage", sto));
	else
		json_decref(sto);
	sto = NULL;
	CHK(gpu = json_pack("{s:o}", "units", val_json(cp->gpu_units)));
	if (cp->ngpu_attrs)
		CHK(!json_object_set_new(gpu, "attributes",
		    attrs_json(cp->gpu_attrs, cp->ngpu_attrs)));
	CHK(!json_object_set_new(r, "gpu", gpu));
	gpu = NULL;
	CHK(!json_object_set_new(r, "endpoints", eps_json(eps, neps)));
	return r;
nomem:
	json_decref(r);
	json_decref(cpu);
	json_decref(gpu);
	json_decref(sto);
	return NULL;
}

static json_t *
price_json(const struct sdl_price *p)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%llu.%018llu", (unsigned long long)p->whole,
	    (unsigned long long)p->frac);
	return json_pack("{s:s,s:s}", "denom", p->denom, "amount", buf);
}

static json_t *
http_json(const struct sdl_http_options *h)
{
	json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I}", "maxBodySize",
	    (json_int_t)h->max_body_size, "readTimeout",
	    (json_int_t)h->read_timeout, "sendTimeout",
	    (json_int_t)h->send_timeout, "nextTries", (json_int_t)h->next_tries,
	    "nextTimeout", (json_int_t)h->next_timeout);

	if (!o)
		return NULL;
	if (h->next_cases.count &&
	    json_object_set_new(o, "nextCases", strlist_json(&h->next_cases)))
		goto nomem;
	if (h->proxy_buffer_size &&
	    json_object_set_new(o, "proxyBufferSize",
	        json_integer(h->proxy_buffer_size)))
		goto nomem;
	return o;
nomem:
	json_decref(o);
	return NULL;
}

static json_t *
mexposes_json(const struct mexpose *m, size_t n)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct sdl_expose *e = m[i].e;
		json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:b,s:o,s:o,s:s,s:I}",
		    "port", (json_int_t)e->port, "externalPort",
		    (json_int_t)e->as, "proto",
		    e->proto == SDL_PROTO_UDP ? "UDP" : "TCP", "service",
		    to_service(&m[i]), "global", to_global(&m[i]), "hosts",
		    strlist_json(&e->accept), "httpOptions",
		    http_json(&e->http), "ip", m[i].to ? m[i].to->ip : "",
		    "endpointSequenceNumber", (json_int_t)m[i].seq);
		if (!o || json_array_append_new(arr, o)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *
params_json(const struct sdl_service *s)
{
	json_t *p = json_object(), *sto = NULL;

	if (!p)
		return NULL;
	if (s->nstorage) {
		CHK(sto = json_array());
		for (size_t i = 0; i < s->nstorage; i++)
			CHK(!json_array_append_new(sto,
			    json_pack("{s:s,s:s,s:b}", "name",
			        s->storage[i].volume, "mount",
			        s->storage[i].mount, "readOnly",
			        s->storage[i].read_only)));
		CHK(!json_object_set_new(p, "storage", sto));
		sto = NULL;
	} else {
		CHK(!json_object_set_new(p, "storage", json_null()));
	}
	if (s->has_permissions) {
		json_t *perm = json_object();
		CHK(perm);
		if (s->permissions.count &&
		    json_object_set_new(perm, "read",
		        strlist_json(&s->permissions))) {
			json_decref(perm);
			goto nomem;
		}
		CHK(!json_object_set_new(p, "permissions", perm));
	}
	if (s->tee)
		CHK(!json_object_set_new(p, "tee",
		    json_pack("{s:s,s:b}", "type", s->tee, "attestation", 1)));
	return p;
nomem:
	json_decref(sto);
	json_decref(p);
	return NULL;
}

struct unit { /* one group resource unit being built */
	const struct sdl_compute *cp;
	const char *profile;
	const struct sdl_price *price;
	uint32_t id;
	uint64_t count;
	struct ep *eps;
	size_t neps, capeps;
};

/* Build groups (which != 0) or the manifest for every placement. */
static int
build(const struct sdl_deployment *d, bool groups, json_t **out)
{
	json_t *arr = json_array(), *g = NULL, *svcs = NULL;
	struct unit *units = NULL;
	struct mexpose *m = NULL;
	int rc = ERR_NOMEM;

	*out = NULL;
	if (!arr)
		goto fail;
	for (size_t pi = 0; pi < d->nplacements; pi++) {
		const struct sdl_placement *pl = &d->placements[pi];
		size_t nunits = 0, capunits = 0;
		const char *tee = NULL;
		bool any = false;

		svcs = json_array();
		CHK(svcs);
		for (size_t i = 0; i < d->ndeploys; i++) {
			const struct sdl_deploy *dp = &d->deploys[i];
			const struct sdl_service *s;
			const struct sdl_compute *cp;
			struct ep *eps = NULL;
			size_t neps = 0, capeps = 0, nm = 0, u;
			json_t *ms;

			if (strcmp(dp->placement, pl->name))
				continue;
			s = sdl_find_service(d, dp->service);
			cp = sdl_find_compute(d, dp->profile);
			if (!s || !cp)
				continue;
			any = true;
			if (s->tee && !tee)
				tee = s->tee;
			if (service_exposes(d, s, &m, &nm))
				goto nomem;
			if (exposes_endpoints(m, nm, &eps, &neps, &capeps)) {
				free(eps);
				goto nomem;
			}
			for (u = 0; d->version >= 21 && u < nunits; u++)
				if (!strcmp(units[u].profile, dp->profile))
					break;
			if (d->version < 21 || u == nunits) {
				if (grow((void **)&units, &capunits, nunits,
				        sizeof(*units))) {
					free(eps);
					goto nomem;
				}
				u = nunits++;
				memset(&units[u], 0, sizeof(units[u]));
				units[u].cp = cp;
				units[u].profile = dp->profile;
				units[u].price =
				    sdl_find_price(pl, dp->profile);
				units[u].id = (uint32_t)u + 1;
				units[u].count = dp->count;
				units[u].eps =
				    malloc((neps ? neps : 1) * sizeof(*eps));
				if (!units[u].eps) {
					free(eps);
					goto nomem;
				}
				if (neps)
					memcpy(units[u].eps, eps,
					    neps * sizeof(*eps));
				units[u].neps = units[u].capeps = neps;
				if (!units[u].capeps)
					units[u].capeps = 1;
			} else {
				units[u].count += dp->count;
				for (size_t k = 0; k < neps; k++) {
					if (grow((void **)&units[u].eps,
					        &units[u].capeps, units[u].neps,
					        sizeof(*eps))) {
						free(eps);
						goto nomem;
					}
					units[u].eps[units[u].neps++] = eps[k];
				}
				eps_sort(units[u].eps, units[u].neps);
			}
			if (!groups) {
				json_t *cred = json_null();
				if (s->credentials)
					cred = json_pack("{s:s,s:s,s:s,s:s}",
					    "host", s->credentials->host,
					    "email",
					    d->version >= 21 ?
					        s->credentials->email :
					        "",
					    "username",
					    s->credentials->username,
					    "password",
					    s->credentials->password);
				ms = json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:I,"
				               "s:o,s:o}",
				    "name", s->name, "image",
				    s->image.raw ? s->image.raw : "", "command",
				    strlist_json(&s->command), "args",
				    strlist_json(&s->args), "env",
				    strlist_json(&s->env), "resources",
				    resources_json(cp, units[u].id, eps, neps),
				    "count", (json_int_t)dp->count, "expose",
				    mexposes_json(m, nm), "credentials", cred);
				if (ms && s->has_params &&
				    json_object_set_new(ms, "params",
				        params_json(s))) {
					json_decref(ms);
					ms = NULL;
				}
				if (!ms || json_array_append_new(svcs, ms)) {
					free(eps);
					goto nomem;
				}
			}
			free(eps);
			free(m);
			m = NULL;
		}
		if (!any) {
			json_decref(svcs);
			svcs = NULL;
			continue;
		}
		if (groups) {
			json_t *res = json_array(), *attrs = json_null();
			struct sdl_attr *all = NULL;
			size_t nall = pl->nattrs;

			CHK(res);
			g = json_pack("{s:s,s:o}", "name", pl->name,
			    "resources", res);
			CHK(g);
			for (size_t u = 0; u < nunits; u++) {
				json_t *ru =
				    json_pack("{s:o,s:I,s:o}", "resource",
				        resources_json(units[u].cp, units[u].id,
				            units[u].eps, units[u].neps),
				        "count", (json_int_t)units[u].count,
				        "price",
				        units[u].price ?
				            price_json(units[u].price) :
				            json_null());
				CHK(ru);
				CHK(!json_array_append_new(res, ru));
			}
			if (pl->nattrs || tee) {
				all = calloc(pl->nattrs + 1, sizeof(*all));
				CHK(all);
				if (pl->nattrs)
					memcpy(all, pl->attrs,
					    pl->nattrs * sizeof(*all));
				if (tee) {
					/* insert "tee/type" in key order */
					size_t at = 0;
					while (at < nall &&
					    strcmp(all[at].key, "tee/type") < 0)
						at++;
					memmove(&all[at + 1], &all[at],
					    (nall - at) * sizeof(*all));
					all[at].key = (char *)"tee/type";
					all[at].value = (char *)tee;
					nall++;
				}
				attrs = attrs_json(all, nall);
				free(all);
				CHK(attrs);
			}
			CHK(!json_object_set_new(g, "requirements",
			    json_pack("{s:{s:o,s:o},s:o}", "signed_by",
			        "all_of", strlist_json(&pl->all_of), "any_of",
			        strlist_json(&pl->any_of), "attributes",
			        attrs)));
			json_decref(svcs);
			svcs = NULL;
		} else {
			g = json_pack("{s:s,s:o}", "name", pl->name, "services",
			    svcs);
			svcs = NULL;
			CHK(g);
		}
		CHK(!json_array_append_new(arr, g));
		g = NULL;
		for (size_t u = 0; u < nunits; u++)
			free(units[u].eps);
		nunits = 0;
		free(units);
		units = NULL;
		continue;
nomem:
		for (size_t u = 0; u < nunits; u++)
			free(units[u].eps);
		goto fail;
	}
	*out = arr;
	return 0;
fail:
	free(m);
	free(units);
	json_decref(g);
	json_decref(svcs);
	json_decref(arr);
	return err_set(rc, "out of memory");
}

int
sdl_akash_groups_json(const struct sdl_deployment *d, json_t **out)
{
	return build(d, true, out);
}

int
sdl_akash_manifest_json(const struct sdl_deployment *d, json_t **out)
{
	return build(d, false, out);
}
