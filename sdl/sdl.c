/*
 * sdl: entry points (parse a file or a buffer, in a mode), the error and
 * warning lists, freeing, lookups, and two orderings Akash defines (storage volumes, endpoint
 * sequence numbers) that both the model and the Akash JSON rely on.
 */
#include "sdl/sdl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "sdl/internal.h"

void
sdl_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* Append full (taken) to the list items/count/cap, or count it in
 * *dropped beyond SDL_MAX_ERRORS. */
static void
list_add(struct sdl_ctx *c, char ***items, size_t *count, size_t *cap,
    size_t *dropped, char *full)
{
	if (*count >= SDL_MAX_ERRORS) {
		(*dropped)++;
		free(full);
		return;
	}
	if (*count == *cap) {
		size_t n = *cap ? *cap * 2 : 8;
		char **v = realloc(*items, n * sizeof(*v));
		if (!v) {
			free(full);
			c->oom = 1;
			return;
		}
		*items = v;
		*cap = n;
	}
	(*items)[(*count)++] = full;
}

static void
vreport(struct sdl_ctx *c, bool warning, uint32_t line, uint32_t col,
    const char *path, const char *fmt, va_list ap)
{
	char msg[768], *full = NULL;
	struct sdl_errors *e = c->errs;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (asprintf(&full, "%s:%u:%u: %s: %s%s", c->file, line, col, path,
	        warning ? "warning: " : "", msg) < 0) {
		c->oom = 1;
		return;
	}
	if (warning) {
		c->nwarn++;
		if (e)
			list_add(c, &e->warnings, &e->nwarnings, &e->wcap,
			    &e->wdropped, full);
		else
			free(full);
		return;
	}
	if (c->nerr == 0)
		sdl_fmt(c->first, sizeof(c->first), "%s", full);
	c->nerr++;
	if (e)
		list_add(c, &e->items, &e->count, &e->cap, &e->dropped, full);
	else
		free(full);
}

void
sdl_report(struct sdl_ctx *c, uint32_t line, uint32_t col, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, false, line, col, path, fmt, ap);
	va_end(ap);
}

void
sdl_warn(struct sdl_ctx *c, uint32_t line, uint32_t col, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, true, line, col, path, fmt, ap);
	va_end(ap);
}

void
sdl_schema(struct sdl_ctx *c, uint32_t line, uint32_t col, const char *path,
    const char *read_as, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->strict)
		sdl_report(c, line, col, path, "%s", msg);
	else
		sdl_warn(c, line, col, path,
		    "%s; %s, as Akash's Go parser does (Akash's schema and "
		    "`sdl check --strict` refuse it)",
		    msg, read_as ? read_as : "accepted");
}

int
sdl_parse_buffer(const char *name, const char *buf, size_t len,
    struct sdl_deployment **out, struct sdl_errors *errs)
{
	return sdl_parse_buffer_flags(name, buf, len, 0, out, errs);
}

int
sdl_parse_buffer_flags(const char *name, const char *buf, size_t len,
    unsigned flags, struct sdl_deployment **out, struct sdl_errors *errs)
{
	struct sdl_ctx c;
	struct ytree *t = NULL;
	struct sdl_deployment *d = NULL;
	uint32_t line, col;
	int rc;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.file = name ? name : "(buffer)";
	c.errs = errs;
	c.strict = (flags & SDL_PARSE_STRICT) != 0;
	c.lodge = !(flags & SDL_PARSE_AKASH_GO);
	if (len > SDL_MAX_FILE_SIZE) {
		sdl_report(&c, 0, 0, "(document)",
		    "file is larger than %d "
		    "bytes (Lodge's limit)",
		    SDL_MAX_FILE_SIZE);
		return err_set(ERR_LIMIT, "%s", c.first);
	}
	if (memchr(buf, '\0', len)) {
		sdl_report(&c, 1, 1, "(document)", "file contains a NUL byte");
		return err_set(ERR_INVAL, "%s", c.first);
	}
	if ((rc = ytree_parse(buf, len, &t, &line, &col))) {
		if (rc == ERR_NOMEM)
			return err_set(ERR_NOMEM, "out of memory");
		sdl_report(&c, line, col, "(document)", "%s", err_msg());
		return err_set(ERR_INVAL, "%s", c.first);
	}
	d = sdl_build(&c, t->root);
	ytree_free(t);
	if (!d || c.oom) {
		sdl_deployment_free(d);
		return err_set(ERR_NOMEM, "out of memory");
	}
	sdl_validate(&c, d);
	if (c.oom) {
		sdl_deployment_free(d);
		return err_set(ERR_NOMEM, "out of memory");
	}
	if (c.nerr) {
		sdl_deployment_free(d);
		if (c.nerr > 1)
			return err_set(ERR_INVAL, "%s (and %zu more errors)",
			    c.first, c.nerr - 1);
		return err_set(ERR_INVAL, "%s", c.first);
	}
	if (!(d->file = strdup(c.file))) {
		sdl_deployment_free(d);
		return err_set(ERR_NOMEM, "out of memory");
	}
	*out = d;
	return 0;
}

int
sdl_parse_file(const char *path, struct sdl_deployment **out,
    struct sdl_errors *errs)
{
	return sdl_parse_file_flags(path, 0, out, errs);
}

int
sdl_parse_file_flags(const char *path, unsigned flags,
    struct sdl_deployment **out, struct sdl_errors *errs)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((rc = util_read_file(path, SDL_MAX_FILE_SIZE, &buf, &len))) {
		if (errs) {
			struct sdl_ctx c;
			memset(&c, 0, sizeof(c));
			c.file = path;
			c.errs = errs;
			sdl_report(&c, 0, 0, "(file)", "%s", err_msg());
		}
		return rc == ERR_LIMIT ? err_set(ERR_LIMIT,
		                             "%s: file is larger "
		                             "than %d bytes (Lodge's limit)",
		                             path, SDL_MAX_FILE_SIZE) :
		                         rc;
	}
	rc = sdl_parse_buffer_flags(path, buf, len, flags, out, errs);
	free(buf);
	return rc;
}

void
sdl_errors_free(struct sdl_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->count; i++)
		free(errs->items[i]);
	free(errs->items);
	for (size_t i = 0; i < errs->nwarnings; i++)
		free(errs->warnings[i]);
	free(errs->warnings);
	memset(errs, 0, sizeof(*errs));
}

static void
strlist_free(struct sdl_strlist *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
}

static void
attrs_free(struct sdl_attr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].key);
		free(a[i].value);
	}
	free(a);
}

static void
service_free(struct sdl_service *s)
{
	free(s->name);
	sdl_image_clear(&s->image);
	strlist_free(&s->command);
	strlist_free(&s->args);
	strlist_free(&s->env);
	for (size_t i = 0; i < s->nexpose; i++) {
		struct sdl_expose *e = &s->expose[i];
		for (size_t j = 0; j < e->nto; j++) {
			free(e->to[j].service);
			free(e->to[j].ip);
		}
		free(e->to);
		strlist_free(&e->accept);
		strlist_free(&e->http.next_cases);
	}
	free(s->expose);
	strlist_free(&s->dependencies);
	for (size_t i = 0; i < s->nstorage; i++) {
		free(s->storage[i].volume);
		free(s->storage[i].mount);
	}
	free(s->storage);
	strlist_free(&s->permissions);
	free(s->tee);
	if (s->credentials) {
		free(s->credentials->host);
		free(s->credentials->email);
		free(s->credentials->username);
		free(s->credentials->password);
		free(s->credentials);
	}
}

void
sdl_deployment_free(struct sdl_deployment *d)
{
	if (!d)
		return;
	free(d->file);
	for (size_t i = 0; i < d->nservices; i++)
		service_free(&d->services[i]);
	free(d->services);
	for (size_t i = 0; i < d->ncomputes; i++) {
		struct sdl_compute *c = &d->computes[i];
		free(c->name);
		attrs_free(c->cpu_attrs, c->ncpu_attrs);
		for (size_t j = 0; j < c->nvolumes; j++) {
			free(c->volumes[j].name);
			attrs_free(c->volumes[j].attrs, c->volumes[j].nattrs);
		}
		free(c->volumes);
		attrs_free(c->gpu_attrs, c->ngpu_attrs);
	}
	free(d->computes);
	for (size_t i = 0; i < d->nplacements; i++) {
		struct sdl_placement *p = &d->placements[i];
		free(p->name);
		attrs_free(p->attrs, p->nattrs);
		strlist_free(&p->all_of);
		strlist_free(&p->any_of);
		for (size_t j = 0; j < p->npricing; j++) {
			free(p->pricing[j].profile);
			free(p->pricing[j].denom);
		}
		free(p->pricing);
	}
	free(d->placements);
	for (size_t i = 0; i < d->ndeploys; i++) {
		free(d->deploys[i].service);
		free(d->deploys[i].placement);
		free(d->deploys[i].profile);
	}
	free(d->deploys);
	for (size_t i = 0; i < d->nendpoints; i++) {
		free(d->endpoints[i].name);
		free(d->endpoints[i].kind);
	}
	free(d->endpoints);
	free(d->reclamation_min_window);
	free(d);
}

const struct sdl_service *
sdl_find_service(const struct sdl_deployment *d, const char *name)
{
	for (size_t i = 0; i < d->nservices; i++)
		if (d->services[i].name && !strcmp(d->services[i].name, name))
			return &d->services[i];
	return NULL;
}

const struct sdl_compute *
sdl_find_compute(const struct sdl_deployment *d, const char *name)
{
	for (size_t i = 0; i < d->ncomputes; i++)
		if (d->computes[i].name && !strcmp(d->computes[i].name, name))
			return &d->computes[i];
	return NULL;
}

const struct sdl_placement *
sdl_find_placement(const struct sdl_deployment *d, const char *name)
{
	for (size_t i = 0; i < d->nplacements; i++)
		if (d->placements[i].name &&
		    !strcmp(d->placements[i].name, name))
			return &d->placements[i];
	return NULL;
}

const struct sdl_price *
sdl_find_price(const struct sdl_placement *p, const char *profile)
{
	for (size_t i = 0; i < p->npricing; i++)
		if (p->pricing[i].profile &&
		    !strcmp(p->pricing[i].profile, profile))
			return &p->pricing[i];
	return NULL;
}

static const char *
vol_attr(const struct sdl_volume *v, const char *key)
{
	for (size_t i = 0; i < v->nattrs; i++)
		if (!strcmp(v->attrs[i].key, key))
			return v->attrs[i].value;
	return NULL;
}

/* Akash's comparator (storage.go), quirks included: by size, then by the
 * "persistent" attribute as text, then non-persistent first, then name. */
static bool
vol_less(const struct sdl_volume *a, const struct sdl_volume *b)
{
	const char *ap, *bp;

	if (a->size != b->size)
		return a->size < b->size;
	ap = vol_attr(a, "persistent");
	bp = vol_attr(b, "persistent");
	if (ap && !*ap)
		ap = NULL;
	if (bp && !*bp)
		bp = NULL;
	if ((!ap && bp) || (ap && bp && strcmp(ap, bp) < 0))
		return true;
	if (ap && !bp)
		return false;
	if (!(ap && !strcmp(ap, "true")))
		return true;
	if (!(bp && !strcmp(bp, "true")))
		return false;
	return strcmp(a->name, b->name) < 0;
}

void
sdl_sort_volumes(struct sdl_volume *v, size_t n)
{
	/* Go's sort.SliceStable is an insertion sort below 20 elements;
	 * the comparator is not a strict order, so the algorithm matters. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && vol_less(&v[j], &v[j - 1]); j--) {
			struct sdl_volume t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

uint32_t
sdl_endpoint_seq(const struct sdl_deployment *d, const char *name)
{
	const char **names = NULL;
	size_t n = 0, cap = 0;
	uint32_t seq = 0;

	/* services in deployment (sorted, each once) */
	for (size_t i = 0; i < d->ndeploys; i++) {
		const struct sdl_service *s;
		if (i > 0 &&
		    !strcmp(d->deploys[i].service, d->deploys[i - 1].service))
			continue;
		if (!(s = sdl_find_service(d, d->deploys[i].service)))
			continue;
		for (size_t j = 0; j < s->nexpose; j++)
			for (size_t k = 0; k < s->expose[j].nto; k++) {
				const struct sdl_expose_to *t =
				    &s->expose[j].to[k];
				if (t->global && !*t->ip)
					continue;
				if (n == cap) {
					size_t c2 = cap ? cap * 2 : 16;
					const char **nn =
					    realloc(names, c2 * sizeof(*nn));
					if (!nn) {
						free(names);
						return 0;
					}
					names = nn;
					cap = c2;
				}
				names[n++] = t->ip;
			}
	}
	if (n)
		qsort(names, n, sizeof(*names), str_cmp);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			seq = (uint32_t)(i + 1);
	free(names);
	return seq;
}
