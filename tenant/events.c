/*
 * events: a lease's ledger entries and its provider's events in one
 * stream, by time (see events.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/units.h"
#include "common/util.h"
#include "tenant/events.h"
#include "tenant/runway.h"

/* Ledger entries read per request while looking for top-ups (the market
 * answers at most its page). */
#define EVENTS_PAGE 1000
/* Top-ups are looked for among this many entries from the order's, at
 * most: a long-lived lease on a busy market shows the first ones. */
#define EVENTS_SCAN_MAX 200000

static int add(json_t *arr, json_int_t time, const char *source,
    const char *kind, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int
add(json_t *arr, json_int_t time, const char *source, const char *kind,
    const char *id, const char *fmt, ...)
{
	char detail[512], key[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* one entry may tell two things (an order.create and its match) */
	snprintf(key, sizeof(key), "%s.%s", id, kind);
	if (json_array_append_new(arr,
	        json_pack("{s:I,s:s,s:s,s:s,s:s}", "time", time, "source",
	            source, "kind", kind, "id", key, "detail", detail)) < 0)
		return err_set(ERR_NOMEM, "out of memory");
	return 0;
}

static json_int_t
num(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* The lease.autotopup entry body (of the ledger leaf at index, time)
 * as an event. */
static int
add_autotopup(json_t *arr, const json_t *e, const json_t *body,
    const char *denom)
{
	char id[32], amount[96];

	snprintf(id, sizeof(id), "m%lld", (long long)num(e, "index"));
	if (json_is_true(json_object_get(body, "off")))
		return add(arr, num(e, "time"), "market", "lease.autotopup", id,
		    "standing top-up cancelled");
	units_fmt_amount(num(body, "amount"), denom, amount, sizeof(amount));
	return add(arr, num(e, "time"), "market", "lease.autotopup", id,
	    "standing top-up set: %s from the balance at each billing that "
	    "leaves the escrow paying fewer than %lld epochs",
	    amount, (long long)num(body, "below_epochs"));
}

/* The entries of a lease told as events, and what each tells; a NULL
 * detail: add_autotopup tells it. */
static const struct {
	const char *kind;
	const char *detail;
} lease_kinds[] = {
	{ "lease.pause",
	    "paused: the escrow cannot pay the next epoch; the workload "
	    "stops, its volumes are kept; a top-up resumes it" },
	{ "lease.resume",
	    "resumed: the top-up pays it again; the workload starts again "
	    "(same lease, same URL)" },
	{ "lease.topup",
	    "standing top-up: the escrow ran out before a billing; the "
	    "instruction's amount moved from your balance, the lease runs "
	    "on" },
	{ "lease.autotopup", NULL },
};

/* The ledger leaf e (entry body, of kind kind) naming the tenant's lease
 * as an event when kind is one of lease_kinds; 0 and nothing added for
 * any other kind. */
static int
add_lease_entry(json_t *arr, const json_t *e, const json_t *body,
    const char *kind, const char *denom)
{
	char id[32];
	size_t i;

	for (i = 0; i < sizeof(lease_kinds) / sizeof(lease_kinds[0]); i++) {
		if (strcmp(kind, lease_kinds[i].kind) != 0)
			continue;
		if (lease_kinds[i].detail == NULL)
			return add_autotopup(arr, e, body, denom);
		snprintf(id, sizeof(id), "m%lld", (long long)num(e, "index"));
		return add(arr, num(e, "time"), "market", lease_kinds[i].kind,
		    id, "%s", lease_kinds[i].detail);
	}
	return 0;
}

/* The deployment.deposit entries naming order, and the lease.autotopup,
 * lease.pause, lease.resume and lease.topup entries naming lease, from
 * index from on. */
static int
add_topups(struct tenant_client *c, json_t *arr, const char *order,
    const char *lease, json_int_t from, const char *denom)
{
	json_t *page = NULL, *e, *leaf;
	char path[128], id[32], amount[96];
	uint8_t *buf = NULL;
	size_t i, len, cap = 0;
	json_int_t at = from, size;
	int rc = 0;

	for (;;) {
		snprintf(path, sizeof(path), "/v1/ledger/entries?start=%lld",
		    (long long)at);
		if ((rc = tenant_market_get(c, path, &page)) != 0)
			break;
		size = num(page, "size");
		if (json_array_size(json_object_get(page, "entries")) == 0)
			break;
		json_array_foreach(json_object_get(page, "entries"), i, e)
		{
			const char *b64 = str(e, "leaf");
			json_t *body;
			at = num(e, "index") + 1;
			len = strlen(b64);
			if (len / 4 * 3 + 3 > cap) {
				free(buf);
				cap = len / 4 * 3 + 3;
				if ((buf = malloc(cap)) == NULL) {
					rc =
					    err_set(ERR_NOMEM, "out of memory");
					goto out;
				}
			}
			if (b64_decode(b64, len, buf, cap, &len) < 0 ||
			    (leaf = json_loadb((char *)buf, len, 0, NULL)) ==
			        NULL) {
				err_clear();
				continue;
			}
			body = json_object_get(json_object_get(leaf, "entry"),
			    "body");
			if (strcmp(str(json_object_get(leaf, "entry"), "kind"),
			        "deployment.deposit") == 0 &&
			    strcmp(str(body, "order"), order) == 0) {
				units_fmt_amount(num(body, "amount"), denom,
				    amount, sizeof(amount));
				snprintf(id, sizeof(id), "m%lld",
				    (long long)num(e, "index"));
				rc = add(arr, num(e, "time"), "market",
				    "deployment.deposit", id,
				    "top-up of %s into %s's escrow", amount,
				    order);
			} else if (strcmp(str(body, "lease"), lease) == 0)
				rc = add_lease_entry(arr, e, body,
				    str(json_object_get(leaf, "entry"), "kind"),
				    denom);
			json_decref(leaf);
			if (rc != 0)
				goto out;
		}
		json_decref(page);
		page = NULL;
		if (at >= size || at - from >= EVENTS_SCAN_MAX)
			break;
	}
out:
	json_decref(page);
	free(buf);
	return rc;
}

/* A warning, at the time of asking, for a lease whose escrow runs dry
 * within TENANT_RUNWAY_WARN_MS (its "paid_until") or that is paused
 * (its "grace_until"); nothing else.  Its id names what it warns of, so
 * a follower prints each warning once. */
static int
add_warning(json_t *arr, const json_t *l, const char *denom)
{
	int64_t now = util_now_ms(), left;
	char d[48], id[64], a[96];

	if (strcmp(str(l, "status"), "paused") == 0 &&
	    json_is_integer(json_object_get(l, "grace_until"))) {
		left = num(l, "grace_until") - now;
		snprintf(id, sizeof(id), "w%lld",
		    (long long)num(l, "paused_at"));
		return add(arr, now, "market", "warning", id,
		    "lease %s is paused: it closes insufficient_funds %s%s "
		    "(its volumes deleted) unless a top-up resumes it: tenant "
		    "topup %s AMOUNT",
		    str(l, "id"), left > 0 ? "in " : "now",
		    left > 0 ? tenant_duration(left, d, sizeof(d)) : "",
		    str(l, "order"));
	}
	if ((left = tenant_runway_ms(l, now)) < 0 ||
	    left >= TENANT_RUNWAY_WARN_MS)
		return 0;
	units_fmt_amount(num(l, "price"), denom, a, sizeof(a));
	snprintf(id, sizeof(id), "w%lld", (long long)num(l, "paid_until"));
	return add(arr, now, "market", "warning", id,
	    "the escrow of lease %s pays %s more at %s/epoch, then it runs "
	    "dry: tenant topup %s AMOUNT",
	    str(l, "id"), tenant_duration(left, d, sizeof(d)), a,
	    str(l, "order"));
}

int
tenant_market_events(struct tenant_client *c, const char *lease, json_t **out,
    bool *closed)
{
	json_t *st = NULL, *arr = json_array(), *o, *m, *s, *u, *cl, *l;
	char path[128], id[32], a1[96], a2[96], a3[96];
	const char *denom;
	size_t i;
	int rc;

	*out = NULL;
	*closed = false;
	if (arr == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	snprintf(path, sizeof(path), "/v1/leases/%.40s/story", lease);
	if ((rc = tenant_market_get(c, path, &st)) != 0)
		goto fail;
	o = json_object_get(st, "order");
	l = json_object_get(st, "lease");
	denom = json_string_value(json_object_get(o, "denom"));
	units_fmt_amount(num(o, "deposit"), denom, a1, sizeof(a1));
	snprintf(id, sizeof(id), "m%lld", (long long)num(o, "index"));
	if ((rc = add(arr, num(o, "created"), "market", "order.create", id,
	         "order %s posted: bid up to %lld %s/epoch, %s in escrow",
	         str(o, "id"), (long long)num(o, "max_price"),
	         denom ? denom : "", a1)) != 0)
		goto fail;
	if (json_is_object(m = json_object_get(st, "match"))) {
		units_fmt_amount(num(m, "price"), denom, a1, sizeof(a1));
		snprintf(id, sizeof(id), "m%lld", (long long)num(m, "index"));
		if ((rc = add(arr, num(m, "time"), "market", "match", id,
		         "lease %s on %s at %s per epoch (cheapest of %lld "
		         "fitting)",
		         lease, str(m, "winner"), a1,
		         (long long)num(m, "fitting"))) != 0)
			goto fail;
	}
	if (json_is_object(s = json_object_get(st, "started"))) {
		snprintf(id, sizeof(id), "m%lld", (long long)num(s, "index"));
		if ((rc = add(arr, num(s, "time"), "market", "lease.started",
		         id,
		         "started: the provider proved the manifest's "
		         "delivery; billing counts from here")) != 0)
			goto fail;
	}
	json_array_foreach(json_object_get(st, "usage"), i, u)
	{
		units_fmt_amount(num(u, "charge"), denom, a1, sizeof(a1));
		units_fmt_amount(num(u, "escrow_after"), denom, a2, sizeof(a2));
		/* the standing top-up this billing made, or wanted */
		a3[0] = '\0';
		if (json_object_get(u, "topup") != NULL)
			units_fmt_amount(num(u, "topup"), denom, a3,
			    sizeof(a3));
		else if (json_object_get(u, "topup_short") != NULL)
			units_fmt_amount(num(u, "topup_short"), denom, a3,
			    sizeof(a3));
		snprintf(id, sizeof(id), "m%lld", (long long)num(u, "index"));
		if ((rc = add(arr, num(u, "time"), "market", "lease.usage", id,
		         "usage over %lld epochs: charged %s, escrow left "
		         "%s%s%s%s",
		         (long long)num(u, "epochs"), a1, a2,
		         a3[0] == '\0' ? "" :
		             json_object_get(u, "topup") != NULL ?
		                         " after a standing top-up of " :
		                         "; the standing top-up of ",
		         a3,
		         json_object_get(u, "topup_short") != NULL ?
		             " was not made: the balance holds less" :
		             "")) != 0)
			goto fail;
	}
	if ((rc = add_topups(c, arr, str(o, "id"), lease, num(o, "index") + 1,
	         denom)) != 0)
		goto fail;
	if ((rc = add_warning(arr, l, denom)) != 0)
		goto fail;
	if (json_is_object(cl = json_object_get(st, "close"))) {
		units_fmt_amount(num(cl, "refund"), denom, a1, sizeof(a1));
		units_fmt_amount(num(l, "charged"), denom, a3, sizeof(a3));
		snprintf(id, sizeof(id), "m%lld", (long long)num(cl, "index"));
		if ((rc = add(arr, num(cl, "time"), "market", "lease.close", id,
		         "closed: %s (by %.20s...); charged %s in all, %s "
		         "refunded",
		         str(cl, "reason"), str(cl, "by"), a3, a1)) != 0)
			goto fail;
		*closed = true;
	}
	json_decref(st);
	/* the ledger's order, which is the order of time */
	*out = tenant_events_merge(arr, NULL);
	json_decref(arr);
	return *out ? 0 : err_set(ERR_NOMEM, "out of memory");
fail:
	json_decref(st);
	json_decref(arr);
	return rc;
}

json_t *
tenant_events_parse_lines(const char *text, size_t len)
{
	json_t *arr = json_array(), *ev;
	const char *p = text, *end = text + len, *nl;
	char id[32];
	size_t n = 0;

	while (arr != NULL && p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		n++;
		ev = json_loadb(p, (size_t)(nl - p), 0, NULL);
		p = nl + 1;
		if (!json_is_object(ev) ||
		    !json_is_integer(json_object_get(ev, "time")) ||
		    !json_is_string(json_object_get(ev, "kind"))) {
			json_decref(ev);
			continue;
		}
		snprintf(id, sizeof(id), "p%zu", n);
		json_object_set_new(ev, "source", json_string("provider"));
		json_object_set_new(ev, "id", json_string(id));
		if (!json_is_string(json_object_get(ev, "detail")))
			json_object_set_new(ev, "detail", json_string(""));
		if (json_array_append_new(arr, ev) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

int
tenant_provider_events(struct tenant_client *c, const char *api,
    const char *lease, json_t **out)
{
	struct http_result r = { 0 };
	char path[128], ebuf[256];
	int rc;

	*out = NULL;
	snprintf(path, sizeof(path), "/v1/leases/%.40s/events", lease);
	if ((rc = tenant_provider_call(c, api, "GET", path, NULL, NULL, 0,
	         10000, &r)) != 0)
		return rc;
	if (r.status != 200)
		rc = err_set(ERR_REJECT, "provider %s: HTTP %ld: %s", api,
		    r.status,
		    tenant_error_text(r.body ? r.body : "", ebuf,
		        sizeof(ebuf)));
	else if ((*out = tenant_events_parse_lines(r.body ? r.body : "",
	              r.body_len)) == NULL)
		rc = err_set(ERR_NOMEM, "out of memory");
	http_result_clear(&r);
	return rc;
}

struct slot {
	json_t *ev;
	size_t seq;
};

static int
by_time(const void *pa, const void *pb)
{
	const struct slot *a = pa, *b = pb;
	json_int_t ta = num(a->ev, "time"), tb = num(b->ev, "time");

	if (ta != tb)
		return ta < tb ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

json_t *
tenant_events_merge(const json_t *a, const json_t *b)
{
	size_t na = json_array_size(a), nb = json_array_size(b), i, n = 0;
	struct slot *v = calloc(na + nb + 1, sizeof(*v));
	json_t *out = json_array();

	if (v == NULL || out == NULL) {
		free(v);
		json_decref(out);
		return NULL;
	}
	for (i = 0; i < na; i++, n++)
		v[n] = (struct slot){ json_array_get(a, i), n };
	for (i = 0; i < nb; i++, n++)
		v[n] = (struct slot){ json_array_get(b, i), n };
	qsort(v, n, sizeof(*v), by_time);
	for (i = 0; i < n; i++)
		if (json_array_append(out, v[i].ev) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	free(v);
	return out;
}

void
tenant_event_format(const json_t *ev, char *buf, size_t cap)
{
	json_int_t t = num(ev, "time");
	time_t secs = (time_t)(t / 1000);
	const json_t *ex = json_object_get(ev, "exit");
	const char *rep = str(ev, "replica"), *svc = str(ev, "service");
	char stamp[32], who[96] = "", code[32] = "";
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	if (rep[0] || svc[0])
		snprintf(who, sizeof(who), "%s: ", rep[0] ? rep : svc);
	if (json_is_integer(ex) && !strstr(str(ev, "detail"), "exit") &&
	    !strstr(str(ev, "detail"), "with "))
		snprintf(code, sizeof(code), " (exit %lld)",
		    (long long)json_integer_value(ex));
	snprintf(buf, cap, "%s.%03d  %-8s  %-20s %s%s%s", stamp,
	    (int)(t % 1000), str(ev, "source"), str(ev, "kind"), who,
	    str(ev, "detail"), code);
}
