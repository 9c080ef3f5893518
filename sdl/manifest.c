/*
 * manifest: Lodge's canonical manifest (what the provider needs, as a
 * normalised JSON value whose canonical bytes common/cjson defines), its
 * SHA-256, and the market orders derived from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/capability.h"
#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "sdl/internal.h"

#define CHK(x)                      \
	do {                        \
		if (!(x))           \
			goto nomem; \
	} while (0)

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted, de-duplicated array of the strings of l. */
static json_t *
sorted_set(const struct sdl_strlist *l)
{
	const char **v = NULL;
	json_t *a = json_array();

	if (!a)
		return NULL;
	if (l->count) {
		if (!(v = malloc(l->count * sizeof(*v)))) {
			json_decref(a);
			return NULL;
		}
		memcpy(v, l->items, l->count * sizeof(*v));
		qsort(v, l->count, sizeof(*v), cmp_str);
	}
	for (size_t i = 0; i < l->count; i++) {
		if (i > 0 && !strcmp(v[i], v[i - 1]))
			continue;
		if (json_array_append_new(a, json_string(v[i]))) {
			free(v);
			json_decref(a);
			return NULL;
		}
	}
	free(v);
	return a;
}

static json_t *
list(const struct sdl_strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->count; i++)
		if (json_array_append_new(a, json_string(l->items[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
image_json(const struct sdl_image *img)
{
	json_t *o = json_pack("{s:s}", "kind", sdl_image_kind_name(img->kind));
	const struct {
		const char *k, *v;
	} f[] = {
		{ "registry", img->oci.registry },
		{ "name", img->oci.repository },
		{ "tag", img->oci.tag },
		{ "digest", img->oci.digest },
		{ "url", img->url },
		{ "sha256", img->sha256 },
		{ "commit", img->commit },
	};

	for (size_t i = 0; o && i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].v &&
		    json_object_set_new(o, f[i].k, json_string(f[i].v))) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static int
cmp_dump(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Exposes flattened one per target, defaults filled in, sorted by their
 * canonical bytes and de-duplicated: order in the file means nothing. */
static json_t *
exposes_json(const struct sdl_service *s)
{
	char **dumps = NULL;
	size_t n = 0, cap = 0;
	json_t *arr = NULL;

	for (size_t i = 0; i < s->nexpose; i++) {
		const struct sdl_expose *e = &s->expose[i];
		size_t reps = e->nto ? e->nto : 1;
		for (size_t r = 0; r < reps; r++) {
			const struct sdl_expose_to *to =
			    e->nto ? &e->to[r] : NULL;
			json_t *o, *http;
			char *dump = NULL;
			size_t len;
			int rc;

			http = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
			    "max_body_size", (json_int_t)e->http.max_body_size,
			    "proxy_buffer_size",
			    (json_int_t)e->http.proxy_buffer_size,
			    "read_timeout", (json_int_t)e->http.read_timeout,
			    "send_timeout", (json_int_t)e->http.send_timeout,
			    "next_tries", (json_int_t)e->http.next_tries,
			    "next_timeout", (json_int_t)e->http.next_timeout,
			    "next_cases", sorted_set(&e->http.next_cases));
			o = json_pack("{s:I,s:I,s:s,s:b,s:o,s:o}", "port",
			    (json_int_t)e->port, "as",
			    (json_int_t)(e->as ? e->as : e->port), "proto",
			    e->proto == SDL_PROTO_UDP ? "udp" : "tcp", "global",
			    to ? to->global : 0, "accept",
			    sorted_set(&e->accept), "http_options", http);
			if (o && to && *to->service &&
			    json_object_set_new(o, "service",
			        json_string(to->service)))
				goto fail_o;
			if (o && to && *to->ip &&
			    json_object_set_new(o, "ip", json_string(to->ip)))
				goto fail_o;
			if (!o)
				goto nomem;
			rc = cjson_dump(o, &dump, &len);
			json_decref(o);
			if (rc)
				goto nomem;
			if (n == cap) {
				size_t c = cap ? cap * 2 : 8;
				char **d = realloc(dumps, c * sizeof(*d));
				if (!d) {
					free(dump);
					goto nomem;
				}
				dumps = d;
				cap = c;
			}
			dumps[n++] = dump;
			continue;
fail_o:
			json_decref(o);
			goto nomem;
		}
	}
	if (n)
		qsort(dumps, n, sizeof(*dumps), cmp_dump);
	CHK(arr = json_array());
	for (size_t i = 0; i < n; i++) {
		json_t *v;
		if (i > 0 && !strcmp(dumps[i], dumps[i - 1]))
			continue;
		CHK(!cjson_parse(dumps[i], strlen(dumps[i]), &v));
		CHK(!json_array_append_new(arr, v));
	}
	for (size_t i = 0; i < n; i++)
		free(dumps[i]);
	free(dumps);
	return arr;
nomem:
	for (size_t i = 0; i < n; i++)
		free(dumps[i]);
	free(dumps);
	json_decref(arr);
	return NULL;
}

static json_t *
env_json(const struct sdl_strlist *env)
{
	json_t *o = json_object();

	/* later definitions win, as in a process environment */
	for (size_t i = 0; o && i < env->count; i++) {
		const char *e = env->items[i], *eq = strchr(e, '=');
		char *k = eq ? strndup(e, (size_t)(eq - e)) : strdup(e);
		int rc = !k ||
		    json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
		free(k);
		if (rc) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *
service_json(const struct sdl_service *s)
{
	json_t *o = NULL, *params = NULL;

	CHK(o = json_pack("{s:o,s:s,s:o,s:o,s:o,s:o,s:o}", "image",
	        image_json(&s->image), "runtime",
	        sdl_runtime_name(sdl_image_runtime(&s->image)), "command",
	        list(&s->command), "args", list(&s->args), "env",
	        env_json(&s->env), "expose", exposes_json(s), "dependencies",
	        sorted_set(&s->dependencies)));
	CHK(params = json_object());
	if (s->nstorage) {
		json_t *st = json_object();
		CHK(st);
		CHK(!json_object_set_new(params, "storage", st));
		for (size_t i = 0; i < s->nstorage; i++)
			CHK(!json_object_set_new(st, s->storage[i].volume,
			    json_pack("{s:s,s:b}", "mount", s->storage[i].mount,
			        "read_only", s->storage[i].read_only)));
	}
	if (s->permissions.count)
		CHK(!json_object_set_new(params, "permissions",
		    sorted_set(&s->permissions)));
	if (s->tee)
		CHK(!json_object_set_new(params, "tee", json_string(s->tee)));
	CHK(!json_object_set_new(o, "params", params));
	params = NULL;
	if (s->credentials)
		CHK(!json_object_set_new(o, "credentials",
		    json_pack("{s:s,s:s,s:s,s:s}", "host", s->credentials->host,
		        "email", s->credentials->email, "username",
		        s->credentials->username, "password",
		        s->credentials->password)));
	return o;
nomem:
	json_decref(params);
	json_decref(o);
	return NULL;
}

static json_t *
attrs_obj(const struct sdl_attr *a, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < n; i++)
		if (json_object_set_new(o, a[i].key, json_string(a[i].value))) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static json_t *
compute_json(const struct sdl_compute *cp)
{
	json_t *o = NULL, *st = NULL, *gpu = NULL;

	CHK(st = json_object());
	for (size_t i = 0; i < cp->nvolumes; i++) {
		const struct sdl_volume *v = &cp->volumes[i];
		json_t *vo = json_pack("{s:I,s:b}", "size_bytes",
		    (json_int_t)v->size, "persistent", v->persistent);
		CHK(vo);
		if (v->class_ &&
		    json_object_set_new(vo, "class", json_string(v->class_))) {
			json_decref(vo);
			goto nomem;
		}
		CHK(!json_object_set_new(st, v->name, vo));
	}
	CHK(gpu = json_array());
	for (size_t i = 0; i < cp->ngpu_attrs; i++)
		CHK(!json_array_append_new(gpu,
		    json_string(cp->gpu_attrs[i].key)));
	o = json_pack("{s:I,s:o,s:I,s:o,s:I,s:o}", "cpu_millis",
	    (json_int_t)cp->cpu_millis, "cpu_attributes",
	    attrs_obj(cp->cpu_attrs, cp->ncpu_attrs), "memory_bytes",
	    (json_int_t)cp->memory, "storage", st, "gpu_units",
	    (json_int_t)cp->gpu_units, "gpu_attributes", gpu);
	return o;
nomem:
	json_decref(st);
	json_decref(gpu);
	return NULL;
}

static int
cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of object o as a sorted array of strings, or NULL. */
static json_t *
sorted_keys(const json_t *o)
{
	const char *k, *keys[64];
	json_t *v, *arr = json_array();
	size_t n = 0;

	json_object_foreach((json_t *)o, k, v)
	{
		if (n < sizeof(keys) / sizeof(keys[0]))
			keys[n++] = k;
	}
	qsort(keys, n, sizeof(keys[0]), cmp_cstr);
	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, json_string(keys[i]))) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

/* Add name to the set of capability names caps (a JSON object used as a
 * set; its keys come out sorted). */
static int
cap_add(json_t *caps, const char *name)
{
	return json_object_set_new(caps, name, json_true()) ? ERR_NOMEM : 0;
}

/*
 * What service s with profile cp needs of a provider beyond resources
 * (issue 15; docs/state.md, "Matching"): "storage/CLASS" for each volume
 * with a storage class or persistent ("default" then), "gpu" for GPUs,
 * "ip" for an IP endpoint.  Class names are Akash's (checked by the
 * parser); a name outside [a-z0-9._/-] is lower-cased and mapped to '-'.
 */
static int
caps_of(const struct sdl_service *s, const struct sdl_compute *cp, json_t *caps)
{
	char name[80];

	for (size_t v = 0; v < cp->nvolumes; v++) {
		const struct sdl_volume *vo = &cp->volumes[v];
		const char *c = vo->class_ ? vo->class_ :
		    vo->persistent         ? "default" :
		                             NULL;
		size_t n;
		if (c == NULL)
			continue;
		n = (size_t)snprintf(name, sizeof(name), "storage/%.60s", c);
		for (size_t k = 8; k < n; k++) {
			char ch = name[k];
			if (ch >= 'A' && ch <= 'Z')
				name[k] = (char)(ch - 'A' + 'a');
			else if (!((ch >= 'a' && ch <= 'z') ||
			             (ch >= '0' && ch <= '9') || ch == '.' ||
			             ch == '_' || ch == '-'))
				name[k] = '-';
		}
		if (cap_add(caps, name))
			return ERR_NOMEM;
	}
	if (cp->gpu_units > 0 && cap_add(caps, "gpu"))
		return ERR_NOMEM;
	for (size_t e = 0; e < s->nexpose; e++)
		for (size_t t = 0; t < s->expose[e].nto; t++)
			if (s->expose[e].to[t].ip && s->expose[e].to[t].ip[0] &&
			    cap_add(caps, "ip"))
				return ERR_NOMEM;
	return 0;
}

/* Exact decimal text of a price: "50", "0.5". */
static void
amount_text(const struct sdl_price *p, char *buf, size_t size)
{
	char frac[24];
	size_t n;

	if (!p->frac) {
		snprintf(buf, size, "%llu", (unsigned long long)p->whole);
		return;
	}
	snprintf(frac, sizeof(frac), "%018llu", (unsigned long long)p->frac);
	for (n = strlen(frac); n > 0 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	snprintf(buf, size, "%llu.%s", (unsigned long long)p->whole, frac);
}

static bool
profile_used(const struct sdl_deployment *d, const char *prof,
    const char *placement)
{
	for (size_t i = 0; i < d->ndeploys; i++)
		if (!strcmp(d->deploys[i].profile, prof) &&
		    (!placement || !strcmp(d->deploys[i].placement, placement)))
			return true;
	return false;
}

int
sdl_manifest_json(const struct sdl_deployment *d, json_t **out)
{
	json_t *m = NULL, *svcs, *profs, *pls, *dep, *eps;

	*out = NULL;
	CHK(m = json_object());
	CHK(!json_object_set_new(m, "services", svcs = json_object()));
	CHK(!json_object_set_new(m, "profiles", profs = json_object()));
	CHK(!json_object_set_new(m, "placements", pls = json_object()));
	CHK(!json_object_set_new(m, "deployment", dep = json_object()));
	CHK(svcs && profs && pls && dep);
	for (size_t i = 0; i < d->ndeploys; i++) {
		const struct sdl_deploy *dp = &d->deploys[i];
		const struct sdl_service *s = sdl_find_service(d, dp->service);
		json_t *so = json_object_get(dep, dp->service);
		if (!so) {
			CHK(!json_object_set_new(dep, dp->service,
			    so = json_object()));
			CHK(so);
			CHK(s &&
			    !json_object_set_new(svcs, s->name,
			        service_json(s)));
		}
		CHK(!json_object_set_new(so, dp->placement,
		    json_pack("{s:s,s:I}", "profile", dp->profile, "count",
		        (json_int_t)dp->count)));
	}
	for (size_t i = 0; i < d->ncomputes; i++)
		if (profile_used(d, d->computes[i].name, NULL))
			CHK(!json_object_set_new(profs, d->computes[i].name,
			    compute_json(&d->computes[i])));
	for (size_t i = 0; i < d->nplacements; i++) {
		const struct sdl_placement *pl = &d->placements[i];
		json_t *pr = json_object(), *po;
		bool used = false;
		CHK(pr);
		for (size_t j = 0; j < pl->npricing; j++) {
			char amt[64];
			if (!profile_used(d, pl->pricing[j].profile, pl->name))
				continue;
			used = true;
			amount_text(&pl->pricing[j], amt, sizeof(amt));
			if (json_object_set_new(pr, pl->pricing[j].profile,
			        json_pack("{s:s,s:s}", "denom",
			            pl->pricing[j].denom, "amount", amt))) {
				json_decref(pr);
				goto nomem;
			}
		}
		if (!used) {
			json_decref(pr);
			continue;
		}
		po = json_pack("{s:o,s:{s:o,s:o},s:o}", "attributes",
		    attrs_obj(pl->attrs, pl->nattrs), "signed_by", "all_of",
		    sorted_set(&pl->all_of), "any_of", sorted_set(&pl->any_of),
		    "pricing", pr);
		CHK(po);
		CHK(!json_object_set_new(pls, pl->name, po));
	}
	if (d->nendpoints) {
		CHK(!json_object_set_new(m, "endpoints", eps = json_object()));
		CHK(eps);
		for (size_t i = 0; i < d->nendpoints; i++)
			CHK(!json_object_set_new(eps, d->endpoints[i].name,
			    json_pack("{s:s}", "kind", d->endpoints[i].kind)));
	}
	if (d->has_reclamation)
		CHK(!json_object_set_new(m, "reclamation",
		    json_pack("{s:I}", "min_window_seconds",
		        (json_int_t)d->reclamation_seconds)));
	*out = m;
	return 0;
nomem:
	json_decref(m);
	return err_set(ERR_NOMEM, "out of memory building the manifest");
}

int
sdl_manifest_hash(const struct sdl_deployment *d, uint8_t out[32])
{
	json_t *m;
	int rc;

	if ((rc = sdl_manifest_json(d, &m)))
		return rc;
	rc = cjson_hash(m, out);
	json_decref(m);
	return rc;
}

/* Mark the capabilities (common/capability.h) service s needs: the
 * private network when it exposes a port to another service, forwarded
 * ports for a global expose that is not HTTP on 80 (TCP as 80: Akash's
 * ingress; any other port or UDP gets a NodePort there). */
static void
service_needs(const struct sdl_service *s, bool need[CAPABILITY_COUNT])
{
	for (size_t i = 0; i < s->nexpose; i++) {
		const struct sdl_expose *e = &s->expose[i];
		uint32_t as = e->as ? e->as : e->port;
		for (size_t r = 0; r < e->nto; r++) {
			if (e->to[r].service && *e->to[r].service)
				need[CAPABILITY_NETWORK] = true;
			if (e->to[r].global && !*e->to[r].ip &&
			    (e->proto != SDL_PROTO_TCP || as != 80))
				need[CAPABILITY_PORTS] = true;
		}
	}
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Add the capabilities a placement's services need to the order o's
 * "capabilities" (made when it has none; other capabilities kept), which
 * stays sorted and without duplicates. */
static int
add_capabilities(json_t *o, const bool need[CAPABILITY_COUNT])
{
	const char *name[64];
	json_t *v, *sorted;
	size_t n = 0, i;

	json_array_foreach(json_object_get(o, "capabilities"), i, v)
	{
		if (json_is_string(v) && n < 64 - CAPABILITY_COUNT)
			name[n++] = json_string_value(v);
	}
	for (int c = 0; c < CAPABILITY_COUNT; c++) {
		for (i = 0; need[c] && i < n; i++)
			if (strcmp(name[i], capability_name(c)) == 0)
				break;
		if (need[c] && i == n)
			name[n++] = capability_name(c);
	}
	if (n == 0)
		return 0;
	qsort(name, n, sizeof(name[0]), cmp_name);
	if ((sorted = json_array()) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (json_array_append_new(sorted, json_string(name[i])) != 0) {
			json_decref(sorted);
			return -1;
		}
	/* the old list (whose strings name[] borrows) goes only now */
	return json_object_set_new(o, "capabilities", sorted) != 0 ? -1 : 0;
}

int
sdl_orders_json(const struct sdl_deployment *d, json_t **out)
{
	uint8_t hash[32];
	char hex[65];
	json_t *arr = NULL, *o = NULL;
	bool need[CAPABILITY_COUNT] = { false }; /* the placement's */
	int rc;

	*out = NULL;
	if ((rc = sdl_manifest_hash(d, hash)))
		return rc;
	hex_encode(hash, 32, hex);
	CHK(arr = json_array());
	for (size_t pi = 0; pi < d->nplacements; pi++) {
		const struct sdl_placement *pl = &d->placements[pi];
		const char *denom = NULL, *tee = NULL;
		int64_t max_price = 0;
		bool rt[4] = { false };
		json_t *res, *rts, *attrs, *caps;

		o = NULL;
		CHK(caps = json_object());
		if (!(res = json_array())) {
			json_decref(caps);
			goto nomem;
		}
		for (size_t i = 0; i < d->ndeploys; i++) {
			const struct sdl_deploy *dp = &d->deploys[i];
			const struct sdl_service *s;
			const struct sdl_compute *cp;
			const struct sdl_price *pr;
			int64_t price, total;
			uint64_t storage = 0;

			if (strcmp(dp->placement, pl->name))
				continue;
			s = sdl_find_service(d, dp->service);
			cp = sdl_find_compute(d, dp->profile);
			pr = sdl_find_price(pl, dp->profile);
			if (!s || !cp || !pr) {
				json_decref(res);
				json_decref(caps);
				rc = err_set(ERR_INVAL,
				    "deployment %s.%s is not "
				    "complete",
				    dp->service, dp->placement);
				goto fail;
			}
			if (denom && strcmp(denom, pr->denom)) {
				json_decref(res);
				json_decref(caps);
				rc = err_set(ERR_INVAL,
				    "placement %s mixes "
				    "denominations %s and %s",
				    pl->name, denom, pr->denom);
				goto fail;
			}
			denom = pr->denom;
			service_needs(s, need);
			if (s->tee && !tee)
				tee = s->tee;
			/* whole units per block, a fraction rounds up */
			if (pr->whole > INT64_MAX - 1) {
				json_decref(res);
				json_decref(caps);
				rc = err_set(ERR_RANGE, "price overflows");
				goto fail;
			}
			price = (int64_t)pr->whole + (pr->frac ? 1 : 0);
			if (__builtin_mul_overflow(price, (int64_t)dp->count,
			        &total) ||
			    __builtin_add_overflow(max_price, total,
			        &max_price)) {
				json_decref(res);
				json_decref(caps);
				rc = err_set(ERR_RANGE,
				    "max price of placement "
				    "%s overflows",
				    pl->name);
				goto fail;
			}
			for (size_t v = 0; v < cp->nvolumes; v++)
				storage += cp->volumes[v].size;
			rt[sdl_image_runtime(&s->image)] = true;
			if (caps_of(s, cp, caps)) {
				json_decref(res);
				json_decref(caps);
				goto nomem;
			}
			if (json_array_append_new(res,
			        json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}",
			            "profile", dp->profile, "service",
			            dp->service, "count", (json_int_t)dp->count,
			            "cpu_millis", (json_int_t)cp->cpu_millis,
			            "memory_bytes", (json_int_t)cp->memory,
			            "storage_bytes", (json_int_t)storage,
			            "gpu_units", (json_int_t)cp->gpu_units,
			            "price", (json_int_t)price))) {
				json_decref(res);
				json_decref(caps);
				goto nomem;
			}
		}
		if (!denom) {
			json_decref(res);
			json_decref(caps);
			continue;
		}
		if (!(rts = json_array())) {
			json_decref(res);
			json_decref(caps);
			goto nomem;
		}
		/* sorted: oci < process < wasm */
		if (rt[SDL_RUNTIME_OCI])
			json_array_append_new(rts, json_string("oci"));
		if (rt[SDL_RUNTIME_PROCESS])
			json_array_append_new(rts, json_string("process"));
		if (rt[SDL_RUNTIME_WASM])
			json_array_append_new(rts, json_string("wasm"));
		attrs = attrs_obj(pl->attrs, pl->nattrs);
		if (attrs && tee)
			json_object_set_new(attrs, "tee/type",
			    json_string(tee));
		o = json_pack("{s:s,s:o,s:{s:o,s:o},s:o,s:s,s:I,s:o,s:s}",
		    "placement", pl->name, "attributes", attrs, "signed_by",
		    "all_of", sorted_set(&pl->all_of), "any_of",
		    sorted_set(&pl->any_of), "resources", res, "denom", denom,
		    "max_price", (json_int_t)max_price, "runtimes", rts,
		    "manifest_hash", hex);
		if (o && json_object_size(caps) > 0 &&
		    json_object_set_new(o, "capabilities", sorted_keys(caps))) {
			json_decref(caps);
			goto nomem;
		}
		json_decref(caps);
		CHK(o);
		/* x-lodge-min-reputation, only when the placement has it */
		for (int k = 0; k < SDL_MIN_REP_N; k++) {
			json_t *mr = json_object_get(o, "min_reputation");
			if (pl->min_rep[k] < 0)
				continue;
			if (mr == NULL &&
			    json_object_set_new(o, "min_reputation",
			        mr = json_object()) < 0) {
				json_decref(o);
				goto nomem;
			}
			if (json_object_set_new(mr, sdl_min_rep_members[k],
			        json_integer(pl->min_rep[k])) < 0) {
				json_decref(o);
				goto nomem;
			}
		}
		CHK(!json_array_append_new(arr, o));
		CHK(add_capabilities(o, need) == 0); /* o is arr's now */
		memset(need, 0, sizeof(need));
		o = NULL;
	}
	*out = arr;
	return 0;
nomem:
	rc = err_set(ERR_NOMEM, "out of memory building orders");
fail:
	json_decref(arr);
	return rc;
}
