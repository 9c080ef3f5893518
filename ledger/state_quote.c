/*
 * state_quote: what matching would do now with orders not posted yet
 * (state.h, state_quote): every ask through the one predicate matching
 * runs (st_fit_reason), the winner by matching's order, and why each
 * other ask does not fit.  Nothing of the state changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "ledger/state_internal.h"

#define MONTH_MS (INT64_C(30) * 24 * 3600 * 1000)
#define QUOTE_MAX_ORDERS 1024 /* placement groups in one quote */

static const char *const nofit_names[ST_NOFIT_COUNT] = { "fits", "no_ask",
	"offline", "denom", "runtimes", "cpu", "memory", "storage", "gpu",
	"attributes", "signed_by", "reputation", "policy_deny", "policy_allow",
	"price", "escrow", "policy_min_lease", "capabilities" };

const char *
state_nofit_name(int reason)
{
	if (reason < 0 || reason >= ST_NOFIT_COUNT)
		return NULL;
	return nofit_names[reason];
}

/* One line for people: why p does not fit o. */
static void
nofit_text(const struct state *s, const struct provider *p,
    const struct order *o, enum st_nofit r, char *buf, size_t cap)
{
	const char *d = s->cfg.denoms[o->denom];
	int64_t pr = st_ask_price(p, o);

	switch (r) {
	case ST_NOFIT_NO_ASK:
		snprintf(buf, cap, "no ask (withdrawn)");
		break;
	case ST_NOFIT_OFFLINE:
		snprintf(buf, cap, "offline (silent past the grace period)");
		break;
	case ST_NOFIT_DENOM:
		snprintf(buf, cap, "asks in %s, the order pays in %s",
		    s->cfg.denoms[p->denom], d);
		break;
	case ST_NOFIT_RUNTIMES:
		snprintf(buf, cap, "does not offer every runtime asked");
		break;
	case ST_NOFIT_CPU:
		snprintf(buf, cap, "needs %lld cpu_millis, %lld free",
		    (long long)o->need.cpu,
		    (long long)(p->cap.cpu - p->used.cpu - p->pend.cpu));
		break;
	case ST_NOFIT_MEM:
		snprintf(buf, cap, "needs %lld memory bytes, %lld free",
		    (long long)o->need.mem,
		    (long long)(p->cap.mem - p->used.mem - p->pend.mem));
		break;
	case ST_NOFIT_STORAGE:
		snprintf(buf, cap, "needs %lld storage bytes, %lld free",
		    (long long)o->need.sto,
		    (long long)(p->cap.sto - p->used.sto - p->pend.sto));
		break;
	case ST_NOFIT_GPU:
		snprintf(buf, cap, "needs %lld gpu units, %lld free",
		    (long long)o->need.gpu,
		    (long long)(p->cap.gpu - p->used.gpu - p->pend.gpu));
		break;
	case ST_NOFIT_ATTRIBUTES:
		snprintf(buf, cap, "lacks an attribute the placement asks");
		break;
	case ST_NOFIT_SIGNED_BY:
		snprintf(buf, cap,
		    "not attested by the auditors signedBy asks");
		break;
	case ST_NOFIT_REPUTATION: {
		int64_t have = -1;
		int i = st_rec_below(p, o, s->now, &have);
		if (i < 0)
			i = 0;
		if (have < 0)
			snprintf(buf, cap,
			    "its record has no %s yet; the order asks at "
			    "least %lld",
			    st_rep_names[i], (long long)o->min_rep[i]);
		else
			snprintf(buf, cap,
			    "its record's %s is %lld, below the %lld "
			    "the order asks",
			    st_rep_names[i], (long long)have,
			    (long long)o->min_rep[i]);
		break;
	}
	case ST_NOFIT_POLICY_DENY:
		snprintf(buf, cap, "its bid policy denies this tenant");
		break;
	case ST_NOFIT_POLICY_ALLOW:
		snprintf(buf, cap,
		    "its bid policy takes only the %zu tenants it lists",
		    p->nallow);
		break;
	case ST_NOFIT_PRICE:
		if (pr < 0)
			snprintf(buf, cap, "price overflows int64");
		else
			snprintf(buf, cap,
			    "asks %lld %s/epoch, above the bid of %lld",
			    (long long)pr, d, (long long)o->max_price);
		break;
	case ST_NOFIT_ESCROW:
		snprintf(buf, cap,
		    "the escrow of %lld %s pays fewer than the market's "
		    "%lld epochs at %lld %s/epoch",
		    (long long)o->escrow, d, (long long)s->cfg.min_lease_epochs,
		    (long long)pr, d);
		break;
	case ST_NOFIT_POLICY_MIN_LEASE:
		snprintf(buf, cap,
		    "its bid policy asks a minimum lease of %lld epochs: "
		    "the escrow of %lld %s pays fewer at %lld %s/epoch",
		    (long long)p->min_lease_epochs, (long long)o->escrow, d,
		    (long long)pr, d);
		break;
	case ST_NOFIT_CAPABILITIES:
		snprintf(buf, cap,
		    "it does not offer every capability the order needs "
		    "(storage classes, network, ports, gpu, ip)");
		break;
	default:
		snprintf(buf, cap, "fits");
		break;
	}
}

/* Per month of 30 days at price per epoch (rounded down). */
static int64_t
per_month(const struct state *s, int64_t price)
{
	state_u128 m = (state_u128)(uint64_t)price * (uint64_t)MONTH_MS /
	    (uint64_t)s->cfg.epoch_ms;

	return m > (state_u128)INT64_MAX ? INT64_MAX : (int64_t)m;
}

/* The epochs of its price the escrow must pay at p: the market's
 * minimum lease, or the ask's policy's when longer. */
static int64_t
min_lease(const struct state *s, const struct provider *p)
{
	return p->min_lease_epochs > s->cfg.min_lease_epochs ?
	    p->min_lease_epochs :
	    s->cfg.min_lease_epochs;
}

struct qcand {
	struct provider *p;
	int64_t price;
};

/* Quote one parsed order: the group's answer; the winner's reservation
 * is added to pend (undone by the caller).  NULL on ERR_NOMEM. */
static json_t *
quote_one(struct state *s, struct order *o, const char *placement,
    struct provider **won)
{
	struct qcand *c = NULL;
	size_t nc = 0;
	json_t *g, *fit, *nofit;
	char why[256];

	*won = NULL;
	g = json_pack("{s:s,s:s,s:I,s:I,s:[],s:[]}", "placement", placement,
	    "denom", s->cfg.denoms[o->denom], "max_price",
	    (json_int_t)o->max_price, "escrow", (json_int_t)o->escrow,
	    "fitting", "not_fitting");
	if (g == NULL ||
	    (s->nprovs > 0 && (c = calloc(s->nprovs, sizeof(*c))) == NULL)) {
		json_decref(g);
		return NULL;
	}
	fit = json_object_get(g, "fitting");
	nofit = json_object_get(g, "not_fitting");
	for (size_t i = 0; i < s->nprovs; i++) {
		struct provider *p = s->provs[i];
		int64_t price = 0;
		enum st_nofit r = st_fit_reason(s, p, o, &price);
		size_t j;

		if (r != ST_FIT) {
			nofit_text(s, p, o, r, why, sizeof(why));
			json_array_append_new(nofit,
			    json_pack("{s:s,s:s,s:s}", "provider", p->key_text,
			        "reason", nofit_names[r], "detail", why));
			continue;
		}
		for (j = nc;
		     j > 0 && st_better(p, price, c[j - 1].p, c[j - 1].price);
		     j--)
			c[j] = c[j - 1];
		c[j].p = p;
		c[j].price = price;
		nc++;
	}
	for (size_t i = 0; i < nc; i++)
		json_array_append_new(fit,
		    json_pack("{s:s,s:I,s:I,s:I,s:I}", "provider",
		        c[i].p->key_text, "price", (json_int_t)c[i].price,
		        "per_month", (json_int_t)per_month(s, c[i].price),
		        "ask_time", (json_int_t)c[i].p->ask_time,
		        "min_lease_epochs", (json_int_t)min_lease(s, c[i].p)));
	if (nc > 0) {
		struct provider *w = c[0].p;
		json_object_set_new(g, "winner", json_string(w->key_text));
		json_object_set_new(g, "price", json_integer(c[0].price));
		json_object_set_new(g, "per_month",
		    json_integer(per_month(s, c[0].price)));
		json_object_set_new(g, "min_lease_epochs",
		    json_integer(min_lease(s, w)));
		w->pend.cpu += o->need.cpu;
		w->pend.mem += o->need.mem;
		w->pend.sto += o->need.sto;
		w->pend.gpu += o->need.gpu;
		*won = w;
	} else {
		json_object_set_new(g, "winner", json_null());
	}
	free(c);
	return g;
}

int
state_quote(struct state *s, const char *tenant, const json_t *orders,
    json_t **out)
{
	struct account who, *a;
	struct order *os = NULL;
	struct provider **won = NULL;
	json_t *res = NULL, *groups, *b;
	int64_t fee, need = 0, saved_now = s->now;
	size_t n, i, parsed = 0;
	int rc = 0;

	*out = NULL;
	memset(&who, 0, sizeof(who));
	if (tenant == NULL || key_pub_from_text(tenant, who.key) < 0)
		return err_set(ERR_INVAL,
		    "quote.tenant: expected an ed25519: "
		    "key (the tenant that would post)");
	if (!json_is_array(orders) || (n = json_array_size(orders)) == 0 ||
	    n > QUOTE_MAX_ORDERS)
		return err_set(ERR_INVAL,
		    "quote.orders: expected 1-%d order.create bodies",
		    QUOTE_MAX_ORDERS);
	key_pub_to_text(who.key, who.key_text);
	a = st_smap_get(&s->accounts, who.key_text);
	if ((os = calloc(n, sizeof(*os))) == NULL ||
	    (won = calloc(n, sizeof(*won))) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	saved_now = s->now;
	s->now = s->time; /* time-dependent figures as of the last leaf */
	s->read_only = 1;
	json_array_foreach(orders, i, b)
	{
		struct order *o = &os[i];
		for (int k = 0; k < ST_METERS; k++)
			o->caps[k] = -1;
		if (!json_is_object(b)) {
			rc = err_set(ERR_INVAL,
			    "quote.orders[%zu]: expected an "
			    "order.create body",
			    i);
			break;
		}
		if ((rc = st_order_parse(s, b, o)) < 0) {
			rc = err_prefix(rc, "quote.orders[%zu]", i);
			break;
		}
		parsed++;
		o->tenant = &who;
		o->escrow = o->deposit;
		o->created = s->time;
		o->status = ORDER_OPEN;
	}
	s->read_only = 0;
	if (rc < 0)
		goto out;
	fee = state_fee_of(s, who.key, "order.create");
	res = json_pack("{s:s,s:I,s:I,s:I,s:I,s:[]}", "tenant", who.key_text,
	    "index", (json_int_t)s->last_index, "time", (json_int_t)s->time,
	    "epoch_ms", (json_int_t)s->cfg.epoch_ms, "fee_per_order",
	    (json_int_t)fee, "groups");
	if (res == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	groups = json_object_get(res, "groups");
	for (i = 0; i < n; i++) {
		const char *pl = json_string_value(
		    json_object_get(json_array_get(orders, i), "placement"));
		json_t *g = quote_one(s, &os[i], pl ? pl : "", &won[i]);
		if (g == NULL || json_array_append_new(groups, g) < 0) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
		/* each posted order pays its fee and moves its deposit */
		if (os[i].denom == 0)
			need = need > INT64_MAX - os[i].deposit ?
			    INT64_MAX :
			    need + os[i].deposit;
		need = need > INT64_MAX - fee ? INT64_MAX : need + fee;
	}
	json_object_set_new(res, "balance", json_integer(a ? a->bal[0] : 0));
	json_object_set_new(res, "needed", json_integer(need));
	*out = res;
	res = NULL;
out:
	/* undo the reservations the quote made for later groups */
	for (i = 0; won != NULL && i < n; i++) {
		struct provider *w = won[i];
		if (w == NULL)
			continue;
		w->pend.cpu -= os[i].need.cpu;
		w->pend.mem -= os[i].need.mem;
		w->pend.sto -= os[i].need.sto;
		w->pend.gpu -= os[i].need.gpu;
	}
	for (i = 0; os != NULL && i < parsed; i++) {
		free(os[i].kv);
		free(os[i].all_of);
		free(os[i].any_of);
		st_capabilities_free(os[i].capv, os[i].ncap);
	}
	free(os);
	free(won);
	json_decref(res);
	s->now = saved_now;
	return rc;
}
