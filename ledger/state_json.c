/*
 * state_json: JSON views of the state for the market's GET endpoints, the
 * whole-state dump that replay compares byte for byte, and the audit story
 * of a lease.  Every function returns a new value the caller owns.
 */
#include <string.h>

#include "common/err.h"
#include "ledger/state_internal.h"

static const char *const order_status_names[] = { "open", "open", "matched",
	"closed" };
static const char *const lease_status_names[] = { "created", "active", "closed",
	"paused" };

static json_t *
res_json(const struct res4 *r)
{
	return json_pack("{s:I,s:I,s:I,s:I}", "cpu_millis", (json_int_t)r->cpu,
	    "memory_bytes", (json_int_t)r->mem, "storage_bytes",
	    (json_int_t)r->sto, "gpu_units", (json_int_t)r->gpu);
}

static json_t *
reason_json(enum state_reason r)
{
	const char *n = state_reason_name(r);

	return n ? json_string(n) : json_null();
}

/* {denom: bond} of a key: what its ask locks (denoms[0]), 0 elsewhere. */
static json_t *
bonds_json(const struct state *s, const char *key_text)
{
	const struct provider *p = st_smap_get(&s->providers, key_text);
	json_t *b = json_object();

	for (size_t d = 0; b != NULL && d < s->cfg.ndenoms; d++)
		json_object_set_new(b, s->cfg.denoms[d],
		    json_integer(d == 0 && p ? p->bond : 0));
	return b;
}

json_t *
st_account_json(const struct state *s, const struct account *a)
{
	json_t *b = json_object();

	for (size_t d = 0; b != NULL && d < s->cfg.ndenoms; d++)
		json_object_set_new(b, s->cfg.denoms[d],
		    json_integer(a->bal[d]));
	return json_pack("{s:s,s:o,s:o}", "key", a->key_text, "balances", b,
	    "bonds", bonds_json(s, a->key_text));
}

json_t *
st_order_json(const struct state *s, const struct order *o)
{
	json_t *j = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,"
	                      "s:O,s:o,s:I,s:o,s:o}",
	    "id", o->id, "index", (json_int_t)o->index, "tenant",
	    o->tenant->key_text, "status", order_status_names[o->status],
	    "denom", s->cfg.denoms[o->denom], "max_price",
	    (json_int_t)o->max_price, "deposit", (json_int_t)o->deposit,
	    "escrow", (json_int_t)o->escrow, "created", (json_int_t)o->created,
	    "expires", (json_int_t)(o->created + o->ttl_ms), "refund",
	    (json_int_t)o->refund, "body", o->body, "need", res_json(&o->need),
	    "closed", (json_int_t)o->closed_time, "reason",
	    reason_json(o->reason), "lease",
	    o->lease ? json_string(o->lease->id) : json_null());
	return j;
}

/* The lease view with "paid_until" (st_lease_paid_until; null when it
 * does not run dry with time). */
static json_t *lease_json(const struct state *s, const struct lease *l);

json_t *
st_lease_json(const struct state *s, const struct lease *l)
{
	json_t *j = lease_json(s, l);
	int64_t pu = st_lease_paid_until(s, l);

	if (j != NULL &&
	    json_object_set_new(j, "paid_until",
	        pu < 0 ? json_null() : json_integer(pu)) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A lease's standing top-up: the instruction in force (amount and
 * below_epochs 0 once cancelled) and what it did. */
static json_t *
autotopup_json(const struct lease *l)
{
	const struct st_autotopup *a = &l->auto_topup;

	return json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
	    "on", a->amount > 0, "amount", (json_int_t)a->amount,
	    "below_epochs", (json_int_t)a->below, "index", (json_int_t)a->index,
	    "time", (json_int_t)a->time, "instructions",
	    (json_int_t)a->instructions, "applied", (json_int_t)a->applied,
	    "moved", (json_int_t)a->moved, "shortfalls",
	    (json_int_t)a->shortfalls, "on_credit", (json_int_t)a->on_credit,
	    "credit_index", (json_int_t)a->credit_index, "on_due",
	    (json_int_t)a->on_due);
}

static json_t *
lease_json(const struct state *s, const struct lease *l)
{
	json_t *u = json_object(), *j;
	const char *mh = st_lease_manifest_hash(l);

	for (int i = 0; u != NULL && i < ST_METERS; i++)
		json_object_set_new(u, st_usage_names[i],
		    json_integer(l->last[i]));
	j = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,"
	              "s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:o,s:I,s:s,s:I,"
	              "s:I}",
	    "id", l->id, "index", (json_int_t)l->index, "order", l->order->id,
	    "provider", l->prov->key_text, "tenant", l->order->tenant->key_text,
	    "status", lease_status_names[l->status], "price",
	    (json_int_t)l->price, "created", (json_int_t)l->created, "started",
	    (json_int_t)l->started, "started_index",
	    (json_int_t)l->started_index, "manifest_request_time",
	    (json_int_t)l->proof_time, "charged", (json_int_t)l->charged,
	    "charged_reserved", (json_int_t)l->charged_r, "charged_extras",
	    (json_int_t)l->charged_x, "fees", (json_int_t)l->fees,
	    "billed_epochs", (json_int_t)l->billed_epochs, "carry",
	    (json_int_t)l->carry, "carry_extras", (json_int_t)l->carry_x,
	    "usage", u, "escrow", (json_int_t)l->order->escrow, "reason",
	    reason_json(l->reason), "closed", (json_int_t)l->closed_time,
	    "closed_by", l->closed_by, "closed_index",
	    (json_int_t)l->closed_index, "manifest_deadline",
	    (json_int_t)(l->created > INT64_MAX - s->cfg.manifest_window_ms ?
	            INT64_MAX :
	            l->created + s->cfg.manifest_window_ms));
	/* The manifest it runs now (lease.update moves it) and how often
	 * it was updated. */
	if (j != NULL &&
	    (json_object_set_new(j, "manifest_hash",
	         mh ? json_string(mh) : json_null()) < 0 ||
	        json_object_set_new(j, "updates",
	            json_integer(l->updates ?
	                    (json_int_t)json_array_size(l->updates) :
	                    0)) < 0)) {
		json_decref(j);
		j = NULL;
	}
	/* its standing top-up, once its tenant has signed one */
	if (j != NULL && l->auto_topup.instructions > 0 &&
	    json_object_set_new(j, "auto_topup", autotopup_json(l)) < 0) {
		json_decref(j);
		j = NULL;
	}
	/* Pauses: when this one began and its grace ends (null when not
	 * paused), the time paused before and how many. */
	if (j != NULL &&
	    json_object_update_new(j,
	        json_pack("{s:o,s:o,s:I,s:I}", "paused_at",
	            l->status == LEASE_PAUSED ? json_integer(l->paused_at) :
	                                        json_null(),
	            "grace_until",
	            l->status == LEASE_PAUSED ?
	                json_integer(
	                    l->paused_at > INT64_MAX - s->cfg.pause_grace_ms ?
	                        INT64_MAX :
	                        l->paused_at + s->cfg.pause_grace_ms) :
	                json_null(),
	            "paused_ms", (json_int_t)l->paused_ms, "pauses",
	            (json_int_t)l->pauses)) < 0) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

json_t *
st_provider_json(const struct state *s, const struct provider *p)
{
	json_t *att = json_array();

	for (size_t i = 0; att != NULL && i < p->natt; i++) {
		char t[KEY_TEXT_SIZE];
		key_pub_to_text(p->att[i].auditor, t);
		json_array_append_new(att,
		    json_pack("{s:s,s:O,s:I}", "auditor", t, "attributes",
		        p->att[i].attrs, "index", (json_int_t)p->att[i].index));
	}
	return json_pack("{s:s,s:b,s:b,s:b,s:I,s:I,s:I,s:o,s:o,s:o,s:O,s:o,"
	                 "s:I,s:I,s:s}",
	    "key", p->key_text, "advertised", p->has_ask, "withdrawn",
	    p->withdrawn, "online", p->online, "ask_index",
	    (json_int_t)p->ask_index, "ask_time", (json_int_t)p->ask_time,
	    "last_seen", (json_int_t)p->last_seen, "capacity",
	    res_json(&p->cap), "used", res_json(&p->used), "pending",
	    res_json(&p->pend), "ask", p->ask ? p->ask : json_null(),
	    "attested_by", att, "leases", (json_int_t)p->nleases, "bond",
	    (json_int_t)p->bond, "bond_denom", s->cfg.denoms[0]);
}

static int
nomem_if_null(json_t *v, json_t **out)
{
	if (v == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	*out = v;
	return 0;
}

int
state_account_json(const struct state *s, const char *key_text, json_t **out)
{
	const struct account *a = st_smap_get(&s->accounts, key_text);
	json_t *b;

	if (a != NULL)
		return nomem_if_null(st_account_json(s, a), out);
	/* an unknown key is an account with nothing in it */
	if (key_pub_from_text(key_text, (uint8_t[KEY_PUB_LEN]){ 0 }) < 0)
		return err_set(ERR_INVAL, "account '%.60s': not an ed25519 key",
		    key_text);
	if ((b = json_object()) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (size_t d = 0; d < s->cfg.ndenoms; d++)
		json_object_set_new(b, s->cfg.denoms[d], json_integer(0));
	return nomem_if_null(json_pack("{s:s,s:o,s:o}", "key", key_text,
	                         "balances", b, "bonds",
	                         bonds_json(s, key_text)),
	    out);
}

int
state_order_json(const struct state *s, const char *id, json_t **out)
{
	const struct order *o = st_smap_get(&s->orders, id);

	if (o == NULL)
		return err_set(ERR_NOTFOUND, "order '%.40s': no such order",
		    id);
	return nomem_if_null(st_order_json(s, o), out);
}

int
state_lease_json(const struct state *s, const char *id, json_t **out)
{
	const struct lease *l = st_smap_get(&s->leases, id);

	if (l == NULL)
		return err_set(ERR_NOTFOUND, "lease '%.40s': no such lease",
		    id);
	return nomem_if_null(st_lease_json(s, l), out);
}

int
state_providers_json(const struct state *s, json_t **out)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < s->nprovs; i++)
		if (json_array_append_new(a, st_provider_json(s, s->provs[i])) <
		    0) {
			json_decref(a);
			a = NULL;
		}
	return nomem_if_null(a, out);
}

int
state_orders_json(const struct state *s, const char *tenant, const char *status,
    json_t **out)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < s->nords; i++) {
		const struct order *o = s->ords[i];
		if (tenant != NULL && strcmp(o->tenant->key_text, tenant) != 0)
			continue;
		if (status != NULL &&
		    strcmp(order_status_names[o->status], status) != 0)
			continue;
		if (json_array_append_new(a, st_order_json(s, o)) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return nomem_if_null(a, out);
}

int
state_leases_json(const struct state *s, const char *provider,
    const char *tenant, json_t **out)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < s->nleases; i++) {
		const struct lease *l = s->leases_v[i];
		if (provider != NULL &&
		    strcmp(l->prov->key_text, provider) != 0)
			continue;
		if (tenant != NULL &&
		    strcmp(l->order->tenant->key_text, tenant) != 0)
			continue;
		if (json_array_append_new(a, st_lease_json(s, l)) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return nomem_if_null(a, out);
}

int
state_lease_story(const struct state *s, const char *id, json_t **out)
{
	const struct lease *l = st_smap_get(&s->leases, id);
	json_t *close, *started;

	if (l == NULL)
		return err_set(ERR_NOTFOUND, "lease '%.40s': no such lease",
		    id);
	if (l->started_index != 0) /* index 0 is the genesis */
		started = json_pack("{s:I,s:I,s:I,s:s}", "index",
		    (json_int_t)l->started_index, "time",
		    (json_int_t)l->started, "manifest_request_time",
		    (json_int_t)l->proof_time, "rule",
		    "started with the tenant-signed request that delivered the "
		    "manifest; billing counts from here");
	else
		started = json_null();
	if (l->status == LEASE_CLOSED)
		close = json_pack("{s:s,s:s,s:I,s:I,s:I}", "reason",
		    state_reason_name(l->reason), "by", l->closed_by, "index",
		    (json_int_t)l->closed_index, "time",
		    (json_int_t)l->closed_time, "refund",
		    (json_int_t)l->order->refund);
	else
		close = json_null();
	return nomem_if_null(
	    json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "lease",
	        st_lease_json(s, l), "order", st_order_json(s, l->order),
	        "match", st_match_json(l->order), "started", started, "usage",
	        l->usage ? json_incref(l->usage) : json_array(), "close", close,
	        "updates", l->updates ? json_incref(l->updates) : json_array()),
	    out);
}

int
state_dump(const struct state *s, json_t **out)
{
	json_t *root, *accts, *ords, *leases, *provs, *tot, *pend = NULL;
	int rc;

	if ((rc = state_pending(s, &pend)) < 0)
		return rc;
	root = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:I}",
	    "accounts", accts = json_object(), "orders", ords = json_object(),
	    "leases", leases = json_object(), "providers",
	    provs = json_object(), "totals", tot = json_object(), "pending",
	    pend, "nonces", (json_int_t)s->nonces.n, "last_index",
	    (json_int_t)s->last_index, "time", (json_int_t)s->time, "applied",
	    (json_int_t)s->applied);
	if (root == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	rc = 0;
	for (size_t i = 0; rc == 0 && i < s->naccts; i++) {
		json_t *a = st_account_json(s, s->accts[i]);
		rc = a ? json_object_set(accts, s->accts[i]->key_text,
		             json_object_get(a, "balances")) :
		         -1;
		json_decref(a);
	}
	for (size_t i = 0; rc == 0 && i < s->nords; i++) {
		json_t *o = st_order_json(s, s->ords[i]);
		rc = o ?
		    json_object_set_new(o, "match", st_match_json(s->ords[i])) :
		    -1;
		if (rc == 0)
			rc = json_object_set_new(ords, s->ords[i]->id, o);
		else
			json_decref(o);
	}
	for (size_t i = 0; rc == 0 && i < s->nleases; i++) {
		json_t *l = st_lease_json(s, s->leases_v[i]);
		rc = l ? json_object_set_new(l, "history",
		             s->leases_v[i]->usage ?
		                 json_incref(s->leases_v[i]->usage) :
		                 json_array()) :
		         -1;
		if (rc == 0)
			rc = json_object_set_new(leases, s->leases_v[i]->id, l);
		else
			json_decref(l);
	}
	for (size_t i = 0; rc == 0 && i < s->nprovs; i++)
		rc = json_object_set_new(provs, s->provs[i]->key_text,
		    st_provider_json(s, s->provs[i]));
	/* each provider's record (state_reputation.c), so that equal dumps
	 * mean equal records too (a restored snapshot must keep them) */
	if (rc == 0) {
		json_t *recs = json_object();
		rc = json_object_set_new(root, "records", recs);
		for (size_t i = 0; rc == 0 && i < s->nprovs; i++)
			rc = json_object_set_new(recs, s->provs[i]->key_text,
			    st_record_json(s, s->provs[i]));
	}
	for (size_t d = 0; rc == 0 && d < s->cfg.ndenoms; d++)
		rc = json_object_set_new(tot, s->cfg.denoms[d],
		    json_pack("{s:I,s:I,s:I,s:I,s:I}", "deposits",
		        (json_int_t)s->deposits[d], "balances",
		        (json_int_t)s->balances[d], "escrows",
		        (json_int_t)s->escrows[d], "bonds",
		        (json_int_t)s->bonds[d], "entry_fees",
		        (json_int_t)s->entry_fees[d]));
	if (rc != 0) {
		json_decref(root);
		return err_set(ERR_NOMEM, "out of memory");
	}
	*out = root;
	return 0;
}
