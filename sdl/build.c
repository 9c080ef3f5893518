/*
 * build: the YAML tree into the typed model.  Applies Akash's input schema
 * (sdl-input.schema.yaml: known fields only, types, required fields,
 * enums, ranges; its findings alone are warnings unless strict) and the
 * decoding rules of Akash's Go parser (units, storage attributes, GPU
 * attributes, prices), refuses what Lodge cannot honour (signedBy names
 * that are not auditor keys, GPU vendors but nvidia), reporting every
 * finding with its position and path and carrying on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/key.h"
#include "sdl/internal.h"
#include "sdl/units.h"

#define P(buf, ...) sdl_fmt(buf, sizeof(buf), __VA_ARGS__)

static bool denom_ok(const char *s);
static void check_auditors(struct sdl_ctx *c, const struct ynode *w,
    const char *q, const struct sdl_strlist *l);

static void *
xcalloc(struct sdl_ctx *c, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		c->oom = 1;
	return p;
}

static char *
xstrdup(struct sdl_ctx *c, const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		c->oom = 1;
	return p;
}

static void at(struct sdl_ctx *c, const struct ynode *n, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
at(struct sdl_ctx *c, const struct ynode *n, const char *path, const char *fmt,
    ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sdl_report(c, n ? n->line : 0, n ? n->col : 0, path, "%s", msg);
}

static struct sdl_pos
pos_of(const struct ynode *n)
{
	struct sdl_pos p = { n ? n->line : 0, n ? n->col : 0 };
	return p;
}

static bool
is_null(const struct ynode *n)
{
	return n && n->kind == YN_SCALAR && n->type == YS_NULL;
}

static const char *
kind_name(const struct ynode *n)
{
	if (!n)
		return "nothing";
	if (n->kind == YN_MAP)
		return "a mapping";
	if (n->kind == YN_SEQ)
		return "a list";
	switch (n->type) {
	case YS_NULL:
		return "null";
	case YS_BOOL:
		return "a boolean";
	case YS_INT:
		return "an integer";
	case YS_FLOAT:
		return "a number";
	default:
		return "a string";
	}
}

/* A mapping whose keys are all in allowed (NULL-terminated).  Akash's
 * Go parser decodes null as an empty mapping and ignores unknown fields
 * except where always is set; its schema refuses both (schema findings).
 * Returns whether n is read as a mapping: an unknown field is reported,
 * but the rest of the mapping is still read, so that one stray field does
 * not hide (or falsely break) what is around it. */
static bool
check_map(struct sdl_ctx *c, const struct ynode *n, const char *path,
    const char *const *allowed, bool always)
{
	if (is_null(n)) {
		sdl_schema(c, n->line, n->col, path, "read as an empty mapping",
		    "expected a mapping, found null");
		return !c->strict;
	}
	if (!n || n->kind != YN_MAP) {
		at(c, n, path, "expected a mapping, found %s", kind_name(n));
		return false;
	}
	for (size_t i = 0; allowed && i < n->n; i++) {
		const struct ynode *k = YMAP_KEY(n, i);
		char list[256] = "";
		size_t j;

		for (j = 0; allowed[j]; j++)
			if (strcmp(allowed[j], k->val) == 0)
				break;
		if (allowed[j])
			continue;
		for (j = 0; allowed[j]; j++) {
			strncat(list, j ? ", " : "",
			    sizeof(list) - strlen(list) - 1);
			strncat(list, allowed[j],
			    sizeof(list) - strlen(list) - 1);
		}
		if (always)
			at(c, k, path,
			    "unknown field \"%.100s\" (expected one of: %s)",
			    k->val, list);
		else
			sdl_schema(c, k->line, k->col, path, "ignored",
			    "unknown field \"%.100s\" (expected one of: %s)",
			    k->val, list);
	}
	return true;
}

static bool
want_map(struct sdl_ctx *c, const struct ynode *n, const char *path,
    const char *const *allowed)
{
	return check_map(c, n, path, allowed, false);
}

/* Fields Akash's Go parser itself refuses when unknown. */
static bool
want_map_go(struct sdl_ctx *c, const struct ynode *n, const char *path,
    const char *const *allowed)
{
	return check_map(c, n, path, allowed, true);
}

static const struct ynode *
need(struct sdl_ctx *c, const struct ynode *map, const char *path,
    const char *key)
{
	const struct ynode *v = ytree_get(map, key);

	if (!v)
		at(c, map, path, "required field \"%s\" is missing", key);
	return v;
}

/* A scalar the schema calls a string: quoted, or plain text that is not
 * null, a boolean or a number.  Akash's Go parser takes any scalar as its
 * text (null as ""): a schema finding. */
static const char *
want_str(struct sdl_ctx *c, const struct ynode *n, const char *path)
{
	if (n && n->kind == YN_SCALAR && n->type != YS_STR) {
		const char *text = n->type == YS_NULL ? "" : n->val;
		char as[128];
		P(as, "read as the text \"%.64s\"", text);
		sdl_schema(c, n->line, n->col, path, as,
		    "expected a string, found %s", kind_name(n));
		return c->strict ? NULL : text;
	}
	if (!n || n->kind != YN_SCALAR) {
		at(c, n, path, "expected a string, found %s", kind_name(n));
		return NULL;
	}
	return n->val;
}

/* Any scalar, as text (yaml.v3 decoding into a Go string). */
static const char *
want_text(struct sdl_ctx *c, const struct ynode *n, const char *path)
{
	if (!n || n->kind != YN_SCALAR) {
		at(c, n, path, "expected a scalar, found %s", kind_name(n));
		return NULL;
	}
	return n->type == YS_NULL ? "" : n->val;
}

static bool
want_uint(struct sdl_ctx *c, const struct ynode *n, const char *path,
    uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *s;

	if (!n || n->kind != YN_SCALAR || n->type != YS_INT) {
		at(c, n, path, "expected an integer, found %s", kind_name(n));
		return false;
	}
	s = n->val;
	if (*s == '+')
		s++;
	if (*s == '-') {
		at(c, n, path, "%s is negative (expected %llu to %llu)", n->val,
		    (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		int base = s[1] == 'x' ? 16 : 8;
		for (s += 2; *s; s++) {
			int d = *s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10;
			if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) {
				v = UINT64_MAX;
				break;
			}
			v = v * (uint64_t)base + (uint64_t)d;
		}
	} else {
		for (; *s; s++) {
			if (v > (UINT64_MAX - 9) / 10) {
				v = UINT64_MAX;
				break;
			}
			v = v * 10 + (uint64_t)(*s - '0');
		}
	}
	if (v < min || v > max) {
		at(c, n, path, "%s is out of range (expected %llu to %llu)",
		    n->val, (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}

static bool
want_bool(struct sdl_ctx *c, const struct ynode *n, const char *path, bool *out)
{
	/* yaml.v3 takes YAML 1.1's words when decoding into a bool */
	static const char *const yes[] = { "y", "Y", "yes", "Yes", "YES", "on",
		"On", "ON", NULL };
	static const char *const no[] = { "n", "N", "no", "No", "NO", "off",
		"Off", "OFF", NULL };

	if (n && n->kind == YN_SCALAR && n->plain && n->type == YS_STR) {
		int word = -1;
		for (size_t i = 0; yes[i]; i++)
			if (!strcmp(n->val, yes[i]))
				word = 1;
		for (size_t i = 0; no[i]; i++)
			if (!strcmp(n->val, no[i]))
				word = 0;
		if (word >= 0) {
			sdl_schema(c, n->line, n->col, path,
			    word ? "read as true" : "read as false",
			    "expected true or false, found \"%s\" (a string "
			    "in YAML 1.2)",
			    n->val);
			if (c->strict)
				return false;
			*out = word == 1;
			return true;
		}
	}
	if (!n || n->kind != YN_SCALAR || n->type != YS_BOOL) {
		at(c, n, path, "expected true or false, found %s",
		    kind_name(n));
		return false;
	}
	*out = n->val[0] == 't' || n->val[0] == 'T';
	return true;
}

/* A list of strings, or null when null_ok. */
static bool
want_strlist(struct sdl_ctx *c, const struct ynode *n, const char *path,
    bool null_ok, struct sdl_strlist *out)
{
	char p[SDL_PATH_MAX];
	bool ok = true;

	if (is_null(n) && null_ok)
		return true;
	if (!n || n->kind != YN_SEQ) {
		at(c, n, path, "expected a list of strings%s, found %s",
		    null_ok ? " or null" : "", kind_name(n));
		return false;
	}
	if (n->n > SDL_MAX_LIST) {
		at(c, n, path, "more than %d items (Lodge's limit)",
		    SDL_MAX_LIST);
		return false;
	}
	out->present = true;
	out->items = xcalloc(c, n->n, sizeof(char *));
	if (!out->items)
		return false;
	for (size_t i = 0; i < n->n; i++) {
		const char *s;
		P(p, "%s[%zu]", path, i);
		if (!(s = want_str(c, n->items[i], p))) {
			ok = false;
			continue;
		}
		/* a list holds no NULL: out of memory ends it */
		if ((out->items[out->count] = xstrdup(c, s)) == NULL)
			return false;
		out->count++;
	}
	return ok;
}

static bool
name_ok(struct sdl_ctx *c, const struct ynode *k, const char *path,
    const char *what)
{
	if (k->len == 0 || k->len > SDL_MAX_NAME_LEN) {
		at(c, k, path,
		    "%s name must be 1 to %d characters (Lodge's "
		    "limit)",
		    what, SDL_MAX_NAME_LEN);
		return false;
	}
	if (strlen(k->val) != k->len) {
		at(c, k, path, "%s name contains a NUL byte", what);
		return false;
	}
	return true;
}

/* ---- services ---- */

static const char *const http_keys[] = { "max_body_size", "next_cases",
	"next_timeout", "next_tries", "proxy_buffer_size", "read_timeout",
	"send_timeout", NULL };

/* http_options.next_cases (v, path p): a list of known cases, "off"
 * alone.  A plain 500 is an integer in YAML; Akash's schema wants
 * strings, its Go parser takes the text (a schema finding). */
static void
build_next_cases(struct sdl_ctx *c, const struct ynode *v, const char *p,
    struct sdl_http_options *h)
{
	static const char *const cases[] = { "error", "timeout", "500", "502",
		"503", "504", "403", "404", "429", "off", NULL };
	static const char expected[] = "error, timeout, 500, 502, 503, 504, "
	                               "403, 404, 429 or off";
	struct sdl_strlist l = { 0 };
	bool ok = true;

	if (v->kind != YN_SEQ) {
		at(c, v, p, "expected a list, found %s", kind_name(v));
		return;
	}
	if (v->n > SDL_MAX_LIST) {
		at(c, v, p, "more than %d items (Lodge's limit)", SDL_MAX_LIST);
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *it = v->items[i];
		char q[SDL_PATH_MAX];
		size_t k;

		P(q, "%s[%zu]", p, i);
		if (it->kind != YN_SCALAR) {
			at(c, it, q, "expected one of %s (quoted), found %s",
			    expected, kind_name(it));
			ok = false;
			continue;
		}
		for (k = 0; cases[k]; k++)
			if (!strcmp(cases[k], it->val))
				break;
		if (!cases[k]) {
			at(c, it, q,
			    "unknown next case \"%.64s\" (expected %s)",
			    it->val, expected);
			ok = false;
			continue;
		}
		if (it->type != YS_STR) {
			sdl_schema(c, it->line, it->col, q, "read as its text",
			    "expected one of %s (quoted), found %s", expected,
			    kind_name(it));
			if (c->strict)
				ok = false;
		}
		if (!strcmp(it->val, "off") && v->n != 1) {
			at(c, it, q,
			    "if \"off\" is given, no other case may be");
			ok = false;
		}
	}
	if (!ok || v->n == 0)
		return;
	if (!(l.items = xcalloc(c, v->n, sizeof(char *))))
		return;
	l.present = true;
	for (size_t i = 0; i < v->n; i++)
		l.items[l.count++] = xstrdup(c, v->items[i]->val);
	h->next_cases = l;
}

static void
build_http(struct sdl_ctx *c, const struct ynode *n, const char *path,
    struct sdl_http_options *h)
{
	char p[SDL_PATH_MAX];
	const struct ynode *v;
	uint64_t x;

	h->max_body_size = 1048576;
	h->read_timeout = 60000;
	h->send_timeout = 60000;
	h->next_tries = 3;
	if (n && want_map(c, n, path, http_keys)) {
		P(p, "%s.max_body_size", path);
		if ((v = ytree_get(n, "max_body_size")) &&
		    want_uint(c, v, p, 0, 104857600, &x) && x)
			h->max_body_size = (uint32_t)x;
		P(p, "%s.proxy_buffer_size", path);
		if ((v = ytree_get(n, "proxy_buffer_size")) &&
		    want_uint(c, v, p, 0, 1048576, &x))
			h->proxy_buffer_size = (uint32_t)x;
		P(p, "%s.read_timeout", path);
		if ((v = ytree_get(n, "read_timeout")) &&
		    want_uint(c, v, p, 0, 60000, &x) && x)
			h->read_timeout = (uint32_t)x;
		P(p, "%s.send_timeout", path);
		if ((v = ytree_get(n, "send_timeout")) &&
		    want_uint(c, v, p, 0, 60000, &x) && x)
			h->send_timeout = (uint32_t)x;
		P(p, "%s.next_tries", path);
		if ((v = ytree_get(n, "next_tries")) &&
		    want_uint(c, v, p, 0, UINT32_MAX, &x) && x)
			h->next_tries = (uint32_t)x;
		P(p, "%s.next_timeout", path);
		if ((v = ytree_get(n, "next_timeout")) &&
		    want_uint(c, v, p, 0, UINT32_MAX, &x))
			h->next_timeout = (uint32_t)x;
		P(p, "%s.next_cases", path);
		if ((v = ytree_get(n, "next_cases")) && !is_null(v))
			build_next_cases(c, v, p, h);
	}
	if (!h->next_cases.present) {
		h->next_cases.items = xcalloc(c, 2, sizeof(char *));
		if (h->next_cases.items) {
			h->next_cases.items[0] = xstrdup(c, "error");
			h->next_cases.items[1] = xstrdup(c, "timeout");
			h->next_cases.count = 2;
		}
		h->next_cases.present = true;
	}
}

static bool
host_char_ok(char ch)
{
	return ch > ' ' && ch != 0x7f && ch != '/' && ch != '?' && ch != '#' &&
	    ch != '\\';
}

static void
build_expose(struct sdl_ctx *c, const struct ynode *n, const char *path,
    struct sdl_expose *e)
{
	static const char *const keys[] = { "accept", "as", "http_options",
		"port", "proto", "to", NULL };
	static const char *const to_keys[] = { "global", "ip", "service",
		NULL };
	char p[SDL_PATH_MAX];
	const struct ynode *v;
	uint64_t x;

	e->pos = pos_of(n);
	e->proto = SDL_PROTO_TCP;
	if (!want_map(c, n, path, keys)) {
		build_http(c, NULL, path, &e->http);
		return;
	}
	P(p, "%s.port", path);
	if ((v = need(c, n, path, "port")) && want_uint(c, v, p, 1, 65535, &x))
		e->port = (uint32_t)x;
	P(p, "%s.as", path);
	if ((v = ytree_get(n, "as")) && want_uint(c, v, p, 0, 65535, &x)) {
		if (x == 0)
			sdl_schema(c, v->line, v->col, p, "read as the port",
			    "0 is out of range (expected 1 to 65535)");
		e->as = (uint32_t)x;
	}
	P(p, "%s.proto", path);
	if ((v = ytree_get(n, "proto"))) {
		const char *s = want_str(c, v, p);
		if (s && (!strcmp(s, "tcp") || !strcmp(s, "TCP")))
			e->proto = SDL_PROTO_TCP;
		else if (s && (!strcmp(s, "udp") || !strcmp(s, "UDP")))
			e->proto = SDL_PROTO_UDP;
		else if (s)
			at(c, v, p,
			    "unknown protocol \"%.64s\" (expected tcp "
			    "or udp)",
			    s);
	}
	P(p, "%s.accept", path);
	if ((v = ytree_get(n, "accept")) &&
	    want_strlist(c, v, p, false, &e->accept)) {
		for (size_t i = 0; i < e->accept.count; i++) {
			const char *h = e->accept.items[i];
			char q[SDL_PATH_MAX];
			P(q, "%s[%zu]", p, i);
			for (const char *s = h; *s; s++) {
				if (!host_char_ok(*s)) {
					at(c, v->items[i], q,
					    "\"%.100s\" is not "
					    "a host name",
					    h);
					break;
				}
			}
		}
	}
	P(p, "%s.http_options", path);
	build_http(c, ytree_get(n, "http_options"), p, &e->http);
	P(p, "%s.to", path);
	if ((v = ytree_get(n, "to"))) {
		if (v->kind != YN_SEQ) {
			at(c, v, p, "expected a list, found %s", kind_name(v));
		} else if (v->n > SDL_MAX_EXPOSE) {
			at(c, v, p, "more than %d targets (Lodge's limit)",
			    SDL_MAX_EXPOSE);
		} else if ((e->to = xcalloc(c, v->n, sizeof(*e->to)))) {
			for (size_t i = 0; i < v->n; i++) {
				const struct ynode *t = v->items[i], *w;
				struct sdl_expose_to *to = &e->to[e->nto++];
				char q[SDL_PATH_MAX], r[SDL_PATH_MAX];
				const char *s;

				P(q, "%s[%zu]", p, i);
				to->pos = pos_of(t);
				to->service = xstrdup(c, "");
				to->ip = xstrdup(c, "");
				if (!want_map(c, t, q, to_keys))
					continue;
				P(r, "%s.service", q);
				if ((w = ytree_get(t, "service")) &&
				    (s = want_str(c, w, r))) {
					free(to->service);
					to->service = xstrdup(c, s);
				}
				P(r, "%s.global", q);
				if ((w = ytree_get(t, "global")))
					want_bool(c, w, r, &to->global);
				P(r, "%s.ip", q);
				if ((w = ytree_get(t, "ip")) &&
				    (s = want_str(c, w, r))) {
					if (!*s) {
						at(c, w, r,
						    "ip must not be "
						    "empty");
					} else {
						free(to->ip);
						to->ip = xstrdup(c, s);
						if (!to->global)
							at(c, w, r,
							    "an IP "
							    "endpoint needs "
							    "global: true");
					}
				}
			}
		}
	}
}

static void
build_params(struct sdl_ctx *c, const struct ynode *n, const char *path,
    struct sdl_service *s)
{
	static const char *const keys[] = { "permissions", "storage", "tee",
		NULL };
	static const char *const vol_keys[] = { "mount", "readOnly", NULL };
	char p[SDL_PATH_MAX];
	const struct ynode *v;

	if (is_null(n)) {
		sdl_schema(c, n->line, n->col, path, "read as no params",
		    "expected a mapping, found null");
		return;
	}
	s->has_params = true;
	if (!want_map(c, n, path, keys))
		return;
	P(p, "%s.storage", path);
	if ((v = ytree_get(n, "storage")) && want_map(c, v, p, NULL) &&
	    (s->storage = xcalloc(c, v->n, sizeof(*s->storage)))) {
		for (size_t i = 0; i < v->n; i++) {
			const struct ynode *k = YMAP_KEY(v, i);
			const struct ynode *m = YMAP_VAL(v, i), *w;
			struct sdl_storage_param *sp =
			    &s->storage[s->nstorage++];
			char q[SDL_PATH_MAX], r[SDL_PATH_MAX];
			const char *str;

			P(q, "%s.%s", p, k->val);
			sp->volume = xstrdup(c, k->val);
			sp->mount = xstrdup(c, "");
			sp->pos = pos_of(k);
			if (!want_map(c, m, q, vol_keys))
				continue;
			P(r, "%s.mount", q);
			if ((w = ytree_get(m, "mount")) &&
			    (str = want_str(c, w, r))) {
				if (str[0] != '/')
					at(c, w, r,
					    "\"%.100s\" is not an "
					    "absolute path",
					    str);
				free(sp->mount);
				sp->mount = xstrdup(c, str);
			} else if (!w) {
				at(c, m, q,
				    "required field \"mount\" is "
				    "missing (an absolute path)");
			}
			P(r, "%s.readOnly", q);
			if ((w = ytree_get(m, "readOnly")))
				want_bool(c, w, r, &sp->read_only);
		}
	}
	P(p, "%s.permissions", path);
	if ((v = ytree_get(n, "permissions"))) {
		static const char *const pk[] = { "read", NULL };
		const struct ynode *r;
		s->has_permissions = true;
		if (want_map(c, v, p, pk) && (r = ytree_get(v, "read"))) {
			char q[SDL_PATH_MAX];
			P(q, "%s.read", p);
			if (want_strlist(c, r, q, false, &s->permissions)) {
				for (size_t i = 0; i < s->permissions.count;
				     i++) {
					const char *x = s->permissions.items[i];
					if (strcmp(x, "deployment") &&
					    strcmp(x, "logs") &&
					    strcmp(x, "events"))
						sdl_schema(c, r->items[i]->line,
						    r->items[i]->col, q, "kept",
						    "unknown "
						    "permission \"%.64s\" "
						    "(expected deployment, "
						    "logs or events)",
						    x);
				}
			}
		}
	}
	P(p, "%s.tee", path);
	if ((v = ytree_get(n, "tee"))) {
		const char *t = want_str(c, v, p);
		if (t && strcmp(t, "cpu") && strcmp(t, "cpu-gpu"))
			at(c, v, p,
			    "unsupported tee type \"%.64s\" (expected "
			    "cpu or cpu-gpu)",
			    t);
		else if (t)
			s->tee = xstrdup(c, t);
	}
}

static void
build_credentials(struct sdl_ctx *c, const struct ynode *n, const char *path,
    struct sdl_service *s)
{
	static const char *const keys[] = { "email", "host", "password",
		"username", NULL };
	static const struct {
		const char *key;
		size_t min;
		bool required;
	} f[] = { { "email", 5, false }, { "host", 1, true },
		{ "password", 6, true }, { "username", 1, true } };
	struct sdl_credentials *cr;
	char p[SDL_PATH_MAX];

	if (!(cr = s->credentials = xcalloc(c, 1, sizeof(*cr))))
		return;
	cr->pos = pos_of(n);
	cr->email = xstrdup(c, "");
	cr->host = xstrdup(c, "");
	cr->password = xstrdup(c, "");
	cr->username = xstrdup(c, "");
	if (!want_map(c, n, path, keys))
		return;
	for (size_t i = 0; i < 4; i++) {
		char **dst = i == 0 ? &cr->email :
		    i == 1          ? &cr->host :
		    i == 2          ? &cr->password :
		                      &cr->username;
		const struct ynode *v = ytree_get(n, f[i].key);
		const char *str;
		size_t len, b = 0;

		P(p, "%s.%s", path, f[i].key);
		if (!v) {
			if (f[i].required)
				at(c, n, path, "credentials need \"%s\"",
				    f[i].key);
			continue;
		}
		if (!(str = want_str(c, v, p)))
			continue;
		len = strlen(str);
		if (len < f[i].min) {
			sdl_schema(c, v->line, v->col, p, "kept",
			    "%s is shorter than %zu characters", f[i].key,
			    f[i].min);
			if (c->strict)
				continue;
		}
		/* Akash trims surrounding space; a blank value is missing */
		while (b < len &&
		    (str[b] == ' ' || str[b] == '\t' || str[b] == '\n' ||
		        str[b] == '\r'))
			b++;
		while (len > b &&
		    (str[len - 1] == ' ' || str[len - 1] == '\t' ||
		        str[len - 1] == '\n' || str[len - 1] == '\r'))
			len--;
		if (len == b && f[i].required) {
			at(c, v, p, "credentials %s is blank", f[i].key);
			continue;
		}
		free(*dst);
		if ((*dst = malloc(len - b + 1))) {
			memcpy(*dst, str + b, len - b);
			(*dst)[len - b] = '\0';
		} else {
			c->oom = 1;
		}
	}
}

static void
build_service(struct sdl_ctx *c, const struct ynode *k, const struct ynode *n,
    struct sdl_service *s)
{
	static const char *const keys[] = { "args", "command", "credentials",
		"dependencies", "env", "expose", "image", "params", NULL };
	char path[SDL_PATH_MAX], p[SDL_PATH_MAX];
	const struct ynode *v;
	const char *str;

	P(path, "services.%s", k->val);
	s->name = xstrdup(c, k->val);
	s->pos = pos_of(k);
	name_ok(c, k, path, "service");
	if (!want_map(c, n, path, keys))
		return;
	P(p, "%s.image", path);
	if ((v = need(c, n, path, "image")) && (str = want_str(c, v, p))) {
		if (!*str) {
			at(c, v, p, "image is empty");
		} else {
			int rc = sdl_image_parse_lenient(str, &s->image);
			if (rc == ERR_NOMEM)
				c->oom = 1;
			else if (rc && (c->strict || c->lodge))
				at(c, v, p, "not a valid image (%s)",
				    err_msg());
			else if (rc) {
				/* Akash only needs a name; keep the text */
				s->image.kind = SDL_IMAGE_OCI;
				if (!(s->image.raw = strdup(str)))
					c->oom = 1;
			}
		}
	}
	P(p, "%s.command", path);
	if ((v = ytree_get(n, "command")))
		want_strlist(c, v, p, true, &s->command);
	P(p, "%s.args", path);
	if ((v = ytree_get(n, "args")))
		want_strlist(c, v, p, true, &s->args);
	P(p, "%s.env", path);
	if ((v = ytree_get(n, "env")))
		want_strlist(c, v, p, true, &s->env);
	P(p, "%s.expose", path);
	if ((v = ytree_get(n, "expose")) && !is_null(v)) {
		if (v->kind != YN_SEQ) {
			at(c, v, p, "expected a list, found %s", kind_name(v));
		} else if (v->n > SDL_MAX_EXPOSE) {
			at(c, v, p, "more than %d entries (Lodge's limit)",
			    SDL_MAX_EXPOSE);
		} else if ((s->expose = xcalloc(c, v->n, sizeof(*s->expose)))) {
			for (size_t i = 0; i < v->n; i++) {
				char q[SDL_PATH_MAX];
				P(q, "%s[%zu]", p, i);
				build_expose(c, v->items[i], q,
				    &s->expose[s->nexpose++]);
			}
		}
	}
	P(p, "%s.dependencies", path);
	if ((v = ytree_get(n, "dependencies"))) {
		static const char *const dk[] = { "service", NULL };
		if (v->kind != YN_SEQ) {
			at(c, v, p, "expected a list, found %s", kind_name(v));
		} else if (v->n > SDL_MAX_LIST) {
			at(c, v, p, "more than %d entries", SDL_MAX_LIST);
		} else if ((s->dependencies.items =
		                   xcalloc(c, v->n, sizeof(char *)))) {
			s->dependencies.present = true;
			for (size_t i = 0; i < v->n; i++) {
				char q[SDL_PATH_MAX], r[SDL_PATH_MAX];
				const struct ynode *w;
				P(q, "%s[%zu]", p, i);
				P(r, "%s.service", q);
				char *dep;
				if (want_map(c, v->items[i], q, dk) &&
				    (w = ytree_get(v->items[i], "service")) &&
				    (str = want_str(c, w, r)) &&
				    (dep = xstrdup(c, str)))
					s->dependencies
					    .items[s->dependencies.count++] =
					    dep;
			}
		}
	}
	P(p, "%s.params", path);
	if ((v = ytree_get(n, "params")))
		build_params(c, v, p, s);
	P(p, "%s.credentials", path);
	if ((v = ytree_get(n, "credentials")))
		build_credentials(c, v, p, s);
}

/* ---- profiles.compute ---- */

static int
attr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sdl_attr *)a)->key,
	    ((const struct sdl_attr *)b)->key);
}

static bool
attr_add(struct sdl_ctx *c, struct sdl_attr **list, size_t *n, const char *k,
    const char *v)
{
	struct sdl_attr *l = realloc(*list, (*n + 1) * sizeof(*l));

	if (!l) {
		c->oom = 1;
		return false;
	}
	*list = l;
	l[*n].key = xstrdup(c, k);
	l[*n].value = xstrdup(c, v);
	if (!l[*n].key || !l[*n].value) {
		free(l[*n].key);
		free(l[*n].value);
		return false;
	}
	(*n)++;
	return true;
}

static const char *
attr_get(const struct sdl_attr *a, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].key, key) == 0)
			return a[i].value;
	return NULL;
}

static void
build_volume(struct sdl_ctx *c, const struct ynode *n, const char *path,
    struct sdl_volume *vol, bool named)
{
	static const char *const keys[] = { "attributes", "name", "size",
		NULL };
	static const char *const akeys[] = { "class", "persistent", NULL };
	char p[SDL_PATH_MAX];
	const struct ynode *v, *a;
	const char *str;

	vol->pos = pos_of(n);
	vol->name = xstrdup(c, "default");
	if (!want_map(c, n, path, keys))
		return;
	P(p, "%s.name", path);
	if ((v = ytree_get(n, "name")) && (str = want_str(c, v, p)) && named &&
	    *str) {
		free(vol->name);
		vol->name = xstrdup(c, str);
		if (strlen(str) > SDL_MAX_NAME_LEN)
			at(c, v, p,
			    "volume name longer than %d characters "
			    "(Lodge's limit)",
			    SDL_MAX_NAME_LEN);
	}
	P(p, "%s.size", path);
	vol->bad = true;
	if ((v = need(c, n, path, "size")) && (str = want_str(c, v, p))) {
		if (sdl_parse_size(str, false, &vol->size))
			at(c, v, p, "%s", err_msg());
		else
			vol->bad = false;
	}
	P(p, "%s.attributes", path);
	if ((a = ytree_get(n, "attributes"))) {
		const struct ynode *cl, *pe;
		char persistent[8] = "false";
		const char *class_ = "";
		bool ok = true, raw_true = true, raw_false = true;

		if (!want_map_go(c, a, p, akeys))
			return;
		cl = ytree_get(a, "class");
		pe = ytree_get(a, "persistent");
		if (cl) {
			char q[SDL_PATH_MAX];
			P(q, "%s.class", p);
			if (!(class_ = want_str(c, cl, q))) {
				ok = false;
				class_ = "";
			} else if (strcmp(class_, "default") &&
			    strcmp(class_, "beta1") &&
			    strcmp(class_, "beta2") &&
			    strcmp(class_, "beta3") && strcmp(class_, "ram")) {
				at(c, cl, q,
				    "unknown storage class \"%.64s\" "
				    "(expected default, beta1, beta2, beta3 or "
				    "ram)",
				    class_);
				ok = false;
			}
		}
		if (pe) {
			char q[SDL_PATH_MAX];
			P(q, "%s.persistent", p);
			if (pe->kind != YN_SCALAR || pe->type == YS_NULL ||
			    pe->type == YS_INT || pe->type == YS_FLOAT) {
				at(c, pe, q, "expected true or false, found %s",
				    kind_name(pe));
				ok = false;
			} else if (!strcmp(pe->val, "true") ||
			    !strcmp(pe->val, "on") || !strcmp(pe->val, "yes")) {
				strcpy(persistent, "true");
				/* Akash compares the text as written */
				if (strcmp(pe->val, "true"))
					raw_true = false;
			} else if (!strcmp(pe->val, "false") ||
			    !strcmp(pe->val, "off") || !strcmp(pe->val, "no")) {
				strcpy(persistent, "false");
				if (strcmp(pe->val, "false"))
					raw_false = false;
			} else {
				at(c, pe, q,
				    "invalid value \"%.32s\" (expected "
				    "true or false)",
				    pe->val);
				ok = false;
			}
		}
		if (!ok)
			return;
		if (!*class_ && !strcmp(persistent, "true") && raw_true)
			class_ = "default";
		if (!strcmp(class_, "ram") &&
		    !(!strcmp(persistent, "false") && raw_false)) {
			at(c, a, p, "ram storage class cannot be persistent");
			return;
		}
		if (*class_ && strcmp(class_, "ram") &&
		    !strcmp(persistent, "false") && raw_false) {
			at(c, a, p,
			    "storage class \"%s\" needs persistent: "
			    "true (only ram volumes are ephemeral)",
			    class_);
			return;
		}
		if (*class_)
			attr_add(c, &vol->attrs, &vol->nattrs, "class", class_);
		attr_add(c, &vol->attrs, &vol->nattrs, "persistent",
		    persistent);
		vol->class_ = *class_ ? vol->attrs[0].value : NULL;
		vol->persistent = !strcmp(persistent, "true");
	}
}

/* gpu.units: a whole number of GPUs into cp->gpu_units; false when
 * there is none or it is not one (told). */
static bool
build_gpu_units(struct sdl_ctx *c, const struct ynode *n, const char *path,
    struct sdl_compute *cp)
{
	char p[SDL_PATH_MAX];
	const struct ynode *u;
	const char *t = NULL, *s;
	uint64_t v = 0;
	bool ok;

	P(p, "%s.units", path);
	if (!(u = ytree_get(n, "units")))
		return false;
	if (u->kind == YN_SCALAR &&
	    (u->type == YS_STR || u->type == YS_INT || u->type == YS_FLOAT))
		t = u->val;
	if (!t) {
		at(c, u, p, "expected a whole number of GPUs, found %s",
		    kind_name(u));
		return false;
	}
	for (s = t, ok = *s != '\0'; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) {
			ok = false;
			break;
		}
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (!ok) {
		at(c, u, p, "\"%.32s\" is not a whole number of GPUs", t);
		return false;
	}
	cp->gpu_units = v;
	return true;
}

/* One model of gpu.attributes.vendor.nvidia (item q) as the attribute
 * "vendor/nvidia/model/<model>[/ram/<n>Gi][/interface/<if>]". */
static void
build_gpu_model(struct sdl_ctx *c, const struct ynode *m, const char *q,
    struct sdl_compute *cp)
{
	static const char *const nk[] = { "interface", "model", "ram", NULL };
	char r[SDL_PATH_MAX], key[600];
	const char *model = "", *str;
	const struct ynode *w;
	size_t len;

	if (!want_map(c, m, q, nk))
		return;
	P(r, "%s.model", q);
	if ((w = ytree_get(m, "model")) && !(model = want_str(c, w, r)))
		return;
	sdl_fmt(key, sizeof(key), "vendor/nvidia/model/%.200s", model);
	P(r, "%s.ram", q);
	if ((w = ytree_get(m, "ram"))) {
		uint64_t bytes;
		if (!(str = want_str(c, w, r)))
			return;
		if (sdl_parse_size(str, true, &bytes)) {
			at(c, w, r, "%s", err_msg());
			return;
		}
		len = strlen(key);
		sdl_fmt(key + len, sizeof(key) - len, "/ram/%lluGi",
		    (unsigned long long)(bytes >> 30));
	}
	P(r, "%s.interface", q);
	if ((w = ytree_get(m, "interface"))) {
		if (!(str = want_str(c, w, r)))
			return;
		if (strcmp(str, "pcie") && strcmp(str, "sxm")) {
			at(c, w, r,
			    "invalid GPU interface "
			    "\"%.32s\" (expected pcie or sxm)",
			    str);
			return;
		}
		len = strlen(key);
		sdl_fmt(key + len, sizeof(key) - len, "/interface/%s", str);
	}
	if (attr_get(cp->gpu_attrs, cp->ngpu_attrs, key)) {
		at(c, m, q, "duplicate GPU model \"%.200s\"", key);
		return;
	}
	attr_add(c, &cp->gpu_attrs, &cp->ngpu_attrs, key, "true");
}

/* gpu.attributes.vendor.nvidia: a list of models (path p); false when it
 * is not one (told). */
static bool
build_gpu_models(struct sdl_ctx *c, const struct ynode *nv, const char *p,
    struct sdl_compute *cp)
{
	if (nv->kind != YN_SEQ) {
		at(c, nv, p, "expected a list of models, found %s",
		    kind_name(nv));
		return false;
	}
	if (nv->n > SDL_MAX_LIST) {
		at(c, nv, p, "more than %d models", SDL_MAX_LIST);
		return false;
	}
	for (size_t i = 0; i < nv->n; i++) {
		char q[SDL_PATH_MAX];
		P(q, "%s[%zu]", p, i);
		build_gpu_model(c, nv->items[i], q, cp);
	}
	return true;
}

/* gpu.attributes.vendor (path p) names nvidia only: Akash's Go parser
 * ignores another vendor and asks for any nvidia GPU instead, which is
 * not what was written. */
static void
refuse_other_vendors(struct sdl_ctx *c, const struct ynode *vendor,
    const char *p)
{
	for (size_t i = 0; vendor->kind == YN_MAP && i < vendor->n; i++) {
		const struct ynode *k = YMAP_KEY(vendor, i);
		if (strcmp(k->val, "nvidia"))
			at(c, k, p,
			    "unknown field \"%.64s\" (expected one of: "
			    "nvidia); GPUs of another vendor cannot be asked "
			    "for (Akash's Go parser would ignore it and ask "
			    "for any nvidia GPU)",
			    k->val);
	}
}

/* resources.gpu: units, and the vendor's models as sorted attributes (any
 * nvidia model when none is named). */
static void
build_gpu(struct sdl_ctx *c, const struct ynode *n, const char *path,
    struct sdl_compute *cp)
{
	static const char *const keys[] = { "attributes", "units", NULL };
	char p[SDL_PATH_MAX];
	const struct ynode *a, *vendor, *nv;
	bool have_units;

	if (!want_map_go(c, n, path, keys))
		return;
	have_units = build_gpu_units(c, n, path, cp);
	P(p, "%s.attributes", path);
	a = ytree_get(n, "attributes");
	if (!a) {
		if (have_units && cp->gpu_units > 0)
			at(c, n, path,
			    "GPU attributes (vendor) are required "
			    "when units > 0");
		return;
	}
	if (!want_map_go(c, a, p, (const char *const[]){ "vendor", NULL }))
		return;
	if (!(vendor = ytree_get(a, "vendor"))) {
		at(c, a, p, "at least one GPU vendor must be set");
		return;
	}
	P(p, "%s.attributes.vendor", path);
	if (!want_map(c, vendor, p,
	        c->lodge ? NULL : (const char *const[]){ "nvidia", NULL }))
		return;
	if (c->lodge)
		refuse_other_vendors(c, vendor, p);
	if (vendor->kind == YN_MAP && vendor->n == 0) {
		sdl_schema(c, vendor->line, vendor->col, p,
		    "read as any nvidia GPU",
		    "at least one GPU vendor must be set");
		if (c->strict)
			return;
	}
	if (!have_units || cp->gpu_units == 0)
		at(c, a, path, "GPU attributes need units > 0");
	P(p, "%s.attributes.vendor.nvidia", path);
	nv = ytree_get(vendor, "nvidia");
	if (nv && !is_null(nv) && !build_gpu_models(c, nv, p, cp))
		return;
	if (cp->ngpu_attrs == 0 && (!nv || is_null(nv) || nv->n == 0))
		attr_add(c, &cp->gpu_attrs, &cp->ngpu_attrs,
		    "vendor/nvidia/model/*", "true");
	if (cp->ngpu_attrs > 1)
		qsort(cp->gpu_attrs, cp->ngpu_attrs, sizeof(*cp->gpu_attrs),
		    attr_cmp);
}

/* Akash's schema for cpu units written as a string:
 * ^[0-9]+(\.[0-9]+)?[a-zA-Z]*$ */
static bool
cpu_pattern(const char *s)
{
	const char *p = s;

	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		p++;
	return *p == '\0';
}

/* resources.cpu: units (millicores) and attributes (arch). */
static void
build_cpu(struct sdl_ctx *c, const struct ynode *r, const char *path,
    struct sdl_compute *cp)
{
	char p[SDL_PATH_MAX], q[SDL_PATH_MAX];
	const struct ynode *v, *w;
	const char *str;

	P(p, "%s.cpu", path);
	if (!(v = need(c, r, path, "cpu")) ||
	    !want_map(c, v, p,
	        (const char *const[]){ "attributes", "units", NULL }))
		return;
	P(q, "%s.units", p);
	cp->bad |= SDL_BAD_CPU;
	if ((w = need(c, v, p, "units"))) {
		if (w->kind != YN_SCALAR ||
		    (w->type != YS_STR && w->type != YS_INT &&
		        w->type != YS_FLOAT)) {
			at(c, w, q, "expected a CPU quantity, found %s",
			    kind_name(w));
		} else if (w->type == YS_STR && !cpu_pattern(w->val)) {
			at(c, w, q,
			    "\"%.32s\" is not a CPU quantity "
			    "(cores such as 0.5 or 2, or millicores "
			    "such as \"500m\")",
			    w->val);
		} else if (sdl_parse_cpu(w->val, &cp->cpu_millis)) {
			at(c, w, q, "%s", err_msg());
		} else if (cp->cpu_millis == 0) {
			at(c, w, q,
			    "cpu units must be greater than "
			    "zero");
		} else {
			cp->bad &= ~SDL_BAD_CPU;
		}
	}
	P(q, "%s.attributes", p);
	if (!(w = ytree_get(v, "attributes")) ||
	    !want_map_go(c, w, q, (const char *const[]){ "arch", NULL }))
		return;
	for (size_t i = 0; i < w->n; i++) {
		char a[SDL_PATH_MAX];
		P(a, "%s.arch", q);
		if ((str = want_text(c, YMAP_VAL(w, i), a)))
			attr_add(c, &cp->cpu_attrs, &cp->ncpu_attrs, "arch",
			    str);
	}
}

/* resources.memory: size in bytes. */
static void
build_memory(struct sdl_ctx *c, const struct ynode *r, const char *path,
    struct sdl_compute *cp)
{
	char p[SDL_PATH_MAX], q[SDL_PATH_MAX];
	const struct ynode *v, *w;
	const char *str;

	P(p, "%s.memory", path);
	if (!(v = need(c, r, path, "memory")) ||
	    !want_map(c, v, p, (const char *const[]){ "size", NULL }))
		return;
	P(q, "%s.size", p);
	cp->bad |= SDL_BAD_MEMORY;
	if ((w = need(c, v, p, "size")) && (str = want_str(c, w, q))) {
		if (sdl_parse_size(str, false, &cp->memory))
			at(c, w, q, "%s", err_msg());
		else
			cp->bad &= ~SDL_BAD_MEMORY;
	}
}

/* resources.storage as a list (path p): each volume, names unique, then
 * sorted as Akash sorts them. */
static void
build_volume_list(struct sdl_ctx *c, const struct ynode *v, const char *p,
    struct sdl_compute *cp)
{
	char q[SDL_PATH_MAX];

	if (v->n > SDL_MAX_VOLUMES) {
		at(c, v, p, "more than %d volumes (Lodge's limit)",
		    SDL_MAX_VOLUMES);
		return;
	}
	if (v->n == 0) {
		at(c, v, p, "at least one storage volume is required");
		return;
	}
	if (!(cp->volumes = xcalloc(c, v->n, sizeof(*cp->volumes))))
		return;
	for (size_t i = 0; i < v->n; i++) {
		P(q, "%s[%zu]", p, i);
		build_volume(c, v->items[i], q, &cp->volumes[cp->nvolumes++],
		    true);
	}
	/* names may be NULL once out of memory */
	for (size_t i = 0; !c->oom && i < cp->nvolumes; i++)
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cp->volumes[i].name, cp->volumes[j].name))
				continue;
			P(q, "%s[%zu]", p, i);
			at(c, v->items[i], q, "duplicated volume name \"%s\"",
			    cp->volumes[i].name);
		}
	if (!c->oom)
		sdl_sort_volumes(cp->volumes, cp->nvolumes);
}

/* resources.storage: one volume or a list of them. */
static void
build_storage(struct sdl_ctx *c, const struct ynode *r, const char *path,
    struct sdl_compute *cp)
{
	char p[SDL_PATH_MAX];
	const struct ynode *v;

	P(p, "%s.storage", path);
	if (!(v = need(c, r, path, "storage")))
		return;
	if (v->kind == YN_MAP) {
		if ((cp->volumes = xcalloc(c, 1, sizeof(*cp->volumes)))) {
			cp->nvolumes = 1;
			build_volume(c, v, p, &cp->volumes[0], false);
		}
	} else if (v->kind == YN_SEQ) {
		build_volume_list(c, v, p, cp);
	} else {
		at(c, v, p,
		    "expected a volume or a list of volumes, "
		    "found %s",
		    kind_name(v));
	}
}

/* profiles.compute.<k>: its resources, cpu, memory, storage, gpu. */
static void
build_compute(struct sdl_ctx *c, const struct ynode *k, const struct ynode *n,
    struct sdl_compute *cp)
{
	static const char *const rkeys[] = { "cpu", "gpu", "memory", "storage",
		NULL };
	char path[SDL_PATH_MAX], p[SDL_PATH_MAX];
	const struct ynode *r, *v;

	P(path, "profiles.compute.%s", k->val);
	cp->name = xstrdup(c, k->val);
	cp->pos = pos_of(k);
	name_ok(c, k, path, "compute profile");
	if (!want_map(c, n, path, (const char *const[]){ "resources", NULL }))
		return;
	if (!(r = need(c, n, path, "resources")))
		return;
	P(path, "profiles.compute.%s.resources", k->val);
	if (!want_map(c, r, path, rkeys))
		return;
	build_cpu(c, r, path, cp);
	build_memory(c, r, path, cp);
	build_storage(c, r, path, cp);
	P(p, "%s.gpu", path);
	if ((v = ytree_get(r, "gpu")))
		build_gpu(c, v, p, cp);
}

/* ---- profiles.placement ---- */

const char *const sdl_min_rep_keys[SDL_MIN_REP_N] = { "completion_rate",
	"uptime_7d", "uptime_30d", "leases_started" };
const char *const sdl_min_rep_members[SDL_MIN_REP_N] = { "completion_rate_ppm",
	"uptime_7d_ppm", "uptime_30d_ppm", "leases_started" };

/* x-lodge-min-reputation: {completion_rate?, uptime_7d?, uptime_30d?:
 * a fraction 0-1; leases_started?: an integer}.  Akash's Go parser
 * ignores the key (v2ProfilePlacement has no such field and the file is
 * decoded without KnownFields); its schema does not know it, so --strict
 * reports it as Akash's schema would. */
static void
build_min_rep(struct sdl_ctx *c, const struct ynode *n, const char *path,
    struct sdl_placement *pl)
{
	static const char *const keys[] = { "completion_rate", "uptime_7d",
		"uptime_30d", "leases_started", NULL };
	char q[SDL_PATH_MAX];

	if (c->strict)
		sdl_schema(c, n->line, n->col, path, "ignored",
		    "a Lodge extension Akash's schema does not know");
	if (!want_map_go(c, n, path, keys))
		return;
	for (int i = 0; i < SDL_MIN_REP_N; i++) {
		const struct ynode *v = ytree_get(n, sdl_min_rep_keys[i]);
		uint64_t whole, frac, x;
		P(q, "%s.%s", path, sdl_min_rep_keys[i]);
		if (v == NULL)
			continue;
		if (i == SDL_MIN_REP_STARTED) {
			if (want_uint(c, v, q, 0, 1000000000, &x))
				pl->min_rep[i] = (int64_t)x;
			continue;
		}
		if (v->kind != YN_SCALAR ||
		    (v->type != YS_INT && v->type != YS_FLOAT) ||
		    sdl_parse_decimal(v->val, &whole, &frac) < 0 || whole > 1 ||
		    (whole == 1 && frac != 0)) {
			at(c, v, q,
			    "expected a fraction from 0 to 1 (0.99: 99%%), "
			    "found %s",
			    v->kind == YN_SCALAR ? v->val : kind_name(v));
			continue;
		}
		/* ppm, rounded up: a minimum is never loosened */
		pl->min_rep[i] = (int64_t)(whole * 1000000 +
		    frac / 1000000000000u + (frac % 1000000000000u != 0));
	}
}

static void
build_placement(struct sdl_ctx *c, const struct ynode *k, const struct ynode *n,
    struct sdl_placement *pl)
{
	static const char *const keys[] = { "attributes", "pricing", "signedBy",
		"x-lodge-min-reputation", NULL };
	char path[SDL_PATH_MAX], p[SDL_PATH_MAX];
	const struct ynode *v;

	P(path, "profiles.placement.%s", k->val);
	pl->name = xstrdup(c, k->val);
	pl->pos = pos_of(k);
	for (int i = 0; i < SDL_MIN_REP_N; i++)
		pl->min_rep[i] = -1;
	name_ok(c, k, path, "placement");
	if (!want_map(c, n, path, keys))
		return;
	P(p, "%s.x-lodge-min-reputation", path);
	if ((v = ytree_get(n, "x-lodge-min-reputation")))
		build_min_rep(c, v, p, pl);
	P(p, "%s.attributes", path);
	if ((v = ytree_get(n, "attributes")) && want_map(c, v, p, NULL)) {
		for (size_t i = 0; i < v->n; i++) {
			char q[SDL_PATH_MAX];
			const char *str;
			P(q, "%s.%s", p, YMAP_KEY(v, i)->val);
			if ((str = want_text(c, YMAP_VAL(v, i), q)))
				attr_add(c, &pl->attrs, &pl->nattrs,
				    YMAP_KEY(v, i)->val, str);
		}
	}
	P(p, "%s.signedBy", path);
	if ((v = ytree_get(n, "signedBy")) &&
	    want_map(c, v, p,
	        (const char *const[]){ "allOf", "anyOf", NULL })) {
		const struct ynode *w;
		char q[SDL_PATH_MAX];
		P(q, "%s.allOf", p);
		if ((w = ytree_get(v, "allOf")) &&
		    want_strlist(c, w, q, false, &pl->all_of) && c->lodge)
			check_auditors(c, w, q, &pl->all_of);
		P(q, "%s.anyOf", p);
		if ((w = ytree_get(v, "anyOf")) &&
		    want_strlist(c, w, q, false, &pl->any_of) && c->lodge)
			check_auditors(c, w, q, &pl->any_of);
	}
	P(p, "%s.pricing", path);
	if ((v = need(c, n, path, "pricing")) && want_map(c, v, p, NULL) &&
	    (pl->pricing = xcalloc(c, v->n, sizeof(*pl->pricing)))) {
		for (size_t i = 0; i < v->n; i++) {
			const struct ynode *pk = YMAP_KEY(v, i);
			const struct ynode *pv = YMAP_VAL(v, i), *w;
			struct sdl_price *pr = &pl->pricing[pl->npricing++];
			char q[SDL_PATH_MAX], r[SDL_PATH_MAX];
			const char *str;

			P(q, "%s.%s", p, pk->val);
			pr->profile = xstrdup(c, pk->val);
			pr->denom = xstrdup(c, "");
			pr->pos = pos_of(pk);
			if (!want_map(c, pv, q,
			        (const char *const[]){ "amount", "denom",
			            NULL }))
				continue;
			P(r, "%s.denom", q);
			if ((w = need(c, pv, q, "denom")) &&
			    (str = want_str(c, w, r))) {
				if (!denom_ok(str))
					at(c, w, r,
					    "unsupported denomination "
					    "\"%.64s\" (expected a Cosmos "
					    "denomination: uakt, uact, "
					    "ibc/<hash>...)",
					    str);
				else if (strcmp(str, "uakt") &&
				    strcmp(str, "uact"))
					sdl_schema(c, w->line, w->col, r,
					    "kept (the market decides whether "
					    "it settles it)",
					    "unsupported denomination "
					    "\"%.80s\" (expected uakt or uact)",
					    str);
				free(pr->denom);
				pr->denom = xstrdup(c, str);
			}
			P(r, "%s.amount", q);
			if ((w = need(c, pv, q, "amount"))) {
				if (w->kind != YN_SCALAR ||
				    (w->type != YS_STR && w->type != YS_INT &&
				        w->type != YS_FLOAT)) {
					at(c, w, r,
					    "expected an amount, found "
					    "%s",
					    kind_name(w));
				} else if (sdl_parse_decimal(w->val, &pr->whole,
				               &pr->frac)) {
					at(c, w, r, "%s", err_msg());
				} else if (pr->whole == 0 && pr->frac == 0) {
					at(c, w, r, "amount is zero");
				}
			}
		}
	}
}

/* signedBy.allOf / anyOf (node w, path q, read into l): Lodge's
 * auditors are ed25519 keys, whose provider.attest entries the ledger
 * holds.  An Akash address names an Akash auditor, whose audits Lodge
 * cannot see: matching could never honour it. */
static void
check_auditors(struct sdl_ctx *c, const struct ynode *w, const char *q,
    const struct sdl_strlist *l)
{
	size_t distinct = 0;

	for (size_t i = 0; i < l->count; i++) {
		size_t j = 0;
		while (j < i && strcmp(l->items[j], l->items[i]))
			j++;
		distinct += j == i;
	}
	if (distinct > SDL_MAX_AUDITORS)
		at(c, w, q, "%zu auditors; an order names at most %d", distinct,
		    SDL_MAX_AUDITORS);
	for (size_t i = 0; i < l->count; i++) {
		const char *k = l->items[i];
		const struct ynode *it = w->items[i];
		uint8_t pub[KEY_PUB_LEN];
		char r[SDL_PATH_MAX];

		if (key_pub_from_text(k, pub) == 0)
			continue;
		P(r, "%s[%zu]", q, i);
		if (!strncmp(k, "akash1", 6))
			at(c, it, r,
			    "\"%.64s\" is an Akash address: Lodge cannot see "
			    "Akash's audits.  Lodge auditors are ed25519 keys, "
			    "named \"ed25519:<43 base64url characters>\" (the "
			    "key the auditor's `ledger keygen` printed); or "
			    "remove signedBy",
			    k);
		else
			at(c, it, r,
			    "\"%.64s\" is not an auditor key: Lodge auditors "
			    "are ed25519 keys, named \"ed25519:<43 base64url "
			    "characters>\" (the key the auditor's `ledger "
			    "keygen` printed)",
			    k);
	}
}

/* Cosmos SDK denominations: [a-zA-Z][a-zA-Z0-9/:._-]{2,127} */
static bool
denom_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 128 ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || strchr("/:._-", s[i])))
			return false;
	return true;
}

/* semver.ParseTolerant then Akash's choice: 2.0.0 is v2, >= 2.1.0 is
 * v2.1.  Returns 20, 21 or 0; *exact tells whether s was 2.0.0 or 2.1.0
 * exactly (not 2.5 or 3.0, which Akash also reads as v2.1). */
static int
go_version(const char *s, bool *exact)
{
	unsigned long v[3] = { 0, 0, 0 };
	int k = 0;
	const char *p = s;

	while (*p == ' ')
		p++;
	if (*p == 'v')
		p++;
	for (;;) {
		char *end;
		if (*p < '0' || *p > '9' || k == 3)
			return 0;
		v[k++] = strtoul(p, &end, 10);
		p = end;
		if (*p == '.') {
			p++;
			continue;
		}
		break;
	}
	if (*p && *p != '-' && *p != '+')
		return 0;
	*exact = v[0] == 2 && v[1] <= 1 && v[2] == 0 && !*p;
	if (v[0] == 2 && v[1] == 0 && v[2] == 0 && !*p)
		return 20;
	if (v[0] > 2 || (v[0] == 2 && v[1] >= 1))
		return 21;
	return 0;
}

/* Go's time.ParseDuration, positive: [0-9.]+(ns|us|µs|ms|s|m|h)... */
static bool
go_duration(const char *s, uint64_t *seconds)
{
	double total = 0;
	const char *p = s;

	if (!*p)
		return false;
	while (*p) {
		char *end;
		double v;
		static const struct {
			const char *u;
			double mul;
		} units[] = { { "ns", 1e-9 }, { "us", 1e-6 },
			{ "\xc2\xb5s", 1e-6 }, { "ms", 1e-3 }, { "s", 1 },
			{ "m", 60 }, { "h", 3600 } };
		size_t i;
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return false;
		v = strtod(p, &end);
		if (end == p)
			return false;
		p = end;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strncmp(p, units[i].u, strlen(units[i].u)) &&
			    !(units[i].u[0] == 'm' && p[1] == 's' &&
			        units[i].u[1] == '\0'))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return false;
		total += v * units[i].mul;
		p += strlen(units[i].u);
	}
	if (!(total > 0) || total > 9.2e9)
		return false;
	*seconds = (uint64_t)total;
	return true;
}

/* ---- top level ---- */

static void
build_deployment(struct sdl_ctx *c, const struct ynode *n,
    struct sdl_deployment *d)
{
	size_t total = 0;

	if (!want_map(c, n, "deployment", NULL))
		return;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *v = YMAP_VAL(n, i);
		if (v->kind == YN_MAP)
			total += v->n;
	}
	if (total > (size_t)SDL_MAX_SERVICES * SDL_MAX_PROFILES) {
		at(c, n, "deployment", "too many entries");
		return;
	}
	if (!(d->deploys = xcalloc(c, total, sizeof(*d->deploys))))
		return;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *sk = YMAP_KEY(n, i), *sv = YMAP_VAL(n, i);
		char path[SDL_PATH_MAX];

		P(path, "deployment.%s", sk->val);
		if (!want_map(c, sv, path, NULL))
			continue;
		for (size_t j = 0; j < sv->n; j++) {
			const struct ynode *pk = YMAP_KEY(sv, j);
			const struct ynode *pv = YMAP_VAL(sv, j), *w;
			struct sdl_deploy *dp = &d->deploys[d->ndeploys++];
			char p[SDL_PATH_MAX], q[SDL_PATH_MAX];
			const char *str;
			uint64_t x;

			P(p, "%s.%s", path, pk->val);
			dp->service = xstrdup(c, sk->val);
			dp->placement = xstrdup(c, pk->val);
			dp->profile = xstrdup(c, "");
			dp->pos = pos_of(pk);
			if (!want_map(c, pv, p,
			        (const char *const[]){ "count", "profile",
			            NULL }))
				continue;
			P(q, "%s.profile", p);
			if ((w = need(c, pv, p, "profile")) &&
			    (str = want_str(c, w, q))) {
				free(dp->profile);
				dp->profile = xstrdup(c, str);
			}
			P(q, "%s.count", p);
			if ((w = need(c, pv, p, "count")) &&
			    want_uint(c, w, q, 1, UINT32_MAX, &x)) {
				dp->count = (uint32_t)x;
				if (x > SDL_MAX_COUNT)
					at(c, w, q,
					    "count %llu is more than %d "
					    "(Lodge's limit)",
					    (unsigned long long)x,
					    SDL_MAX_COUNT);
			}
		}
	}
}

static void
build_endpoints(struct sdl_ctx *c, const struct ynode *n,
    struct sdl_deployment *d)
{
	if (!want_map(c, n, "endpoints", NULL))
		return;
	if (n->n > SDL_MAX_PROFILES) {
		at(c, n, "endpoints", "more than %d endpoints (Lodge's limit)",
		    SDL_MAX_PROFILES);
		return;
	}
	if (!(d->endpoints = xcalloc(c, n->n, sizeof(*d->endpoints))))
		return;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = YMAP_KEY(n, i), *v = YMAP_VAL(n, i), *w;
		struct sdl_endpoint *e = &d->endpoints[d->nendpoints++];
		char path[SDL_PATH_MAX], p[SDL_PATH_MAX];
		const char *s = k->val, *str;
		bool ok = k->len >= 2;

		P(path, "endpoints.%s", k->val);
		e->name = xstrdup(c, k->val);
		e->kind = xstrdup(c, "");
		e->pos = pos_of(k);
		/* ^[a-z]+[-_0-9a-z]+$ */
		if (ok && !(s[0] >= 'a' && s[0] <= 'z'))
			ok = false;
		for (size_t j = 1; ok && j < k->len; j++)
			if (!((s[j] >= 'a' && s[j] <= 'z') || s[j] == '-' ||
			        s[j] == '_' || (s[j] >= '0' && s[j] <= '9')))
				ok = false;
		if (!ok || k->len > SDL_MAX_NAME_LEN)
			at(c, k, path,
			    "endpoint name \"%.64s\" is not valid "
			    "(lower-case letters, then letters, digits, - or "
			    "_; at least 2 characters)",
			    k->val);
		if (!want_map(c, v, path,
		        (const char *const[]){ "kind", NULL }))
			continue;
		P(p, "%s.kind", path);
		if ((w = need(c, v, path, "kind")) &&
		    (str = want_str(c, w, p))) {
			if (strcmp(str, "ip"))
				at(c, w, p,
				    "unknown endpoint kind \"%.64s\" "
				    "(expected ip)",
				    str);
			free(e->kind);
			e->kind = xstrdup(c, str);
		}
	}
}

/* version: "2.0" or "2.1", quoted.  Akash's Go parser takes any scalar
 * that semver.ParseTolerant reads (2.0 unquoted, "v2.1", "2.1.0"): a
 * schema finding. */
static void
build_version(struct sdl_ctx *c, const struct ynode *root,
    struct sdl_deployment *d)
{
	const struct ynode *v;
	const char *str;
	bool number, exact = false;
	int go;

	if (!(v = ytree_get(root, "version"))) {
		at(c, root, "version",
		    "no version found (expected version: "
		    "\"2.0\" or \"2.1\")");
		return;
	}
	if (v->kind != YN_SCALAR) {
		at(c, v, "version",
		    "unsupported version: %s (expected \"2.0\" or \"2.1\", "
		    "quoted)",
		    kind_name(v));
		return;
	}
	str = v->val;
	number = v->type == YS_FLOAT || v->type == YS_INT;
	if (v->type == YS_STR && !strcmp(str, "2.0")) {
		d->version = 20;
		return;
	}
	if (v->type == YS_STR && !strcmp(str, "2.1")) {
		d->version = 21;
		return;
	}
	go = go_version(str, &exact);
	if (go && !exact && c->lodge) {
		/* a version Lodge does not know, not a way of writing one */
		at(c, v, "version",
		    "unsupported version %s%.32s%s (expected \"2.0\" or "
		    "\"2.1\"; Akash's Go parser reads any later version as "
		    "2.1)",
		    number ? "" : "\"", str, number ? "" : "\"");
		return;
	}
	if (number && go)
		sdl_schema(c, v->line, v->col, "version",
		    go == 20 ? "read as \"2.0\"" : "read as \"2.1\"",
		    "version %.32s is a number in YAML; quote it: "
		    "version: \"%s\"",
		    str, go == 20 ? "2.0" : "2.1");
	else if (go)
		sdl_schema(c, v->line, v->col, "version",
		    go == 20 ? "read as \"2.0\"" : "read as \"2.1\"",
		    "unsupported version \"%.32s\" (expected \"2.0\" or "
		    "\"2.1\")",
		    str);
	else
		at(c, v, "version",
		    "unsupported version %s%.32s%s (expected \"2.0\" or "
		    "\"2.1\", quoted)",
		    number ? "" : "\"", str, number ? "" : "\"");
	if (go && !c->strict)
		d->version = go;
}

/* include: accepted and ignored, as Akash does; only its form checked. */
static void
build_include(struct sdl_ctx *c, const struct ynode *root)
{
	struct sdl_strlist l = { 0 };
	const struct ynode *v;

	if (!(v = ytree_get(root, "include")))
		return;
	want_strlist(c, v, "include", false, &l);
	for (size_t i = 0; i < l.count; i++)
		free(l.items[i]);
	free(l.items);
}

static void
build_services(struct sdl_ctx *c, const struct ynode *root,
    struct sdl_deployment *d)
{
	const struct ynode *v;

	if (!(v = need(c, root, "(document)", "services")) ||
	    !want_map(c, v, "services", NULL))
		return;
	if (v->n > SDL_MAX_SERVICES)
		at(c, v, "services", "more than %d services (Lodge's limit)",
		    SDL_MAX_SERVICES);
	else if ((d->services = xcalloc(c, v->n, sizeof(*d->services))))
		for (size_t i = 0; i < v->n; i++)
			build_service(c, YMAP_KEY(v, i), YMAP_VAL(v, i),
			    &d->services[d->nservices++]);
}

/* profiles: compute and placement. */
static void
build_profiles(struct sdl_ctx *c, const struct ynode *root,
    struct sdl_deployment *d)
{
	const struct ynode *v, *w;

	if (!(v = need(c, root, "(document)", "profiles")) ||
	    !want_map(c, v, "profiles",
	        (const char *const[]){ "compute", "placement", NULL }))
		return;
	if ((w = need(c, v, "profiles", "compute")) &&
	    want_map(c, w, "profiles.compute", NULL)) {
		if (w->n > SDL_MAX_PROFILES)
			at(c, w, "profiles.compute",
			    "more than %d profiles (Lodge's limit)",
			    SDL_MAX_PROFILES);
		else if ((d->computes = xcalloc(c, w->n, sizeof(*d->computes))))
			for (size_t i = 0; i < w->n; i++)
				build_compute(c, YMAP_KEY(w, i), YMAP_VAL(w, i),
				    &d->computes[d->ncomputes++]);
	}
	if ((w = need(c, v, "profiles", "placement")) &&
	    want_map(c, w, "profiles.placement", NULL)) {
		if (w->n > SDL_MAX_PROFILES)
			at(c, w, "profiles.placement",
			    "more than %d placements (Lodge's limit)",
			    SDL_MAX_PROFILES);
		else if ((d->placements =
		                 xcalloc(c, w->n, sizeof(*d->placements))))
			for (size_t i = 0; i < w->n; i++)
				build_placement(c, YMAP_KEY(w, i),
				    YMAP_VAL(w, i),
				    &d->placements[d->nplacements++]);
	}
}

/* reclamation.min_window: a duration. */
static void
build_reclamation(struct sdl_ctx *c, const struct ynode *root,
    struct sdl_deployment *d)
{
	const struct ynode *v, *w;
	const char *str;
	uint64_t seconds, go_seconds;

	if (!(v = ytree_get(root, "reclamation")) ||
	    !want_map(c, v, "reclamation",
	        (const char *const[]){ "min_window", NULL }) ||
	    !(w = need(c, v, "reclamation", "min_window")) ||
	    !(str = want_str(c, w, "reclamation.min_window")))
		return;
	if (sdl_parse_duration(str, &seconds) == 0) {
		/* Akash's Go parser reads it too, perhaps more finely */
		if (!c->strict && go_duration(str, &go_seconds))
			seconds = go_seconds;
	} else if (go_duration(str, &seconds)) {
		sdl_schema(c, w->line, w->col, "reclamation.min_window",
		    "read as a Go duration",
		    "invalid reclamation min_window: %s", err_msg());
		if (c->strict)
			return;
	} else {
		at(c, w, "reclamation.min_window",
		    "invalid reclamation min_window: %s", err_msg());
		return;
	}
	d->has_reclamation = true;
	d->reclamation_seconds = seconds;
	d->reclamation_min_window = xstrdup(c, str);
}

/* The document, part by part, in the order the errors are reported. */
struct sdl_deployment *
sdl_build(struct sdl_ctx *c, const struct ynode *root)
{
	static const char *const keys[] = { "deployment", "endpoints",
		"include", "profiles", "reclamation", "services", "version",
		NULL };
	struct sdl_deployment *d;
	const struct ynode *v;

	if (!(d = xcalloc(c, 1, sizeof(*d))))
		return NULL;
	d->version = 20;
	if (!root || is_null(root)) {
		sdl_report(c, 1, 1, "(document)", "the file is empty");
		return d;
	}
	if (!want_map_go(c, root, "(document)", keys))
		if (root->kind != YN_MAP)
			return d;
	build_version(c, root, d);
	build_include(c, root);
	build_services(c, root, d);
	build_profiles(c, root, d);
	if ((v = need(c, root, "(document)", "deployment")))
		build_deployment(c, v, d);
	if ((v = ytree_get(root, "endpoints")))
		build_endpoints(c, v, d);
	build_reclamation(c, root, d);
	return d;
}
