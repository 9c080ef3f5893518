/*
 * replay: genesis configuration and whole-ledger replay (see replay.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/err.h"
#include "ledger/replay.h"

int
replay_genesis_body(const struct state_config *c, json_t **out)
{
	char treasury[KEY_TEXT_SIZE];
	json_t *denoms = json_array(), *kinds = json_object(), *o;

	if (denoms == NULL || kinds == NULL) {
		json_decref(denoms);
		json_decref(kinds);
		return err_set(ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < c->ndenoms; i++)
		json_array_append_new(denoms, json_string(c->denoms[i]));
	for (size_t i = 0; i < c->nfee_kinds; i++)
		json_object_set_new(kinds, c->fee_kinds[i].kind,
		    json_integer(c->fee_kinds[i].fee));
	key_pub_to_text(c->treasury_key, treasury);
	o = json_pack("{s:i,s:s,s:I,s:I,s:I,s:I,s:o,s:I,s:{s:I,s:o},"
	              "s:{s:I,s:I},s:I,s:I,s:I,s:I}",
	    "version", REPLAY_GENESIS_VERSION, "treasury", treasury,
	    "take_rate_ppm", (json_int_t)c->take_rate_ppm, "epoch_ms",
	    (json_int_t)c->epoch_ms, "skew_ms", (json_int_t)c->skew_ms,
	    "offline_grace_ms", (json_int_t)c->offline_grace_ms, "denoms",
	    denoms, "usage_skew_ms", (json_int_t)c->usage_skew_ms, "fees",
	    "default", (json_int_t)c->fee, "kinds", kinds, "bond", "per_cpu",
	    (json_int_t)c->bond_per_cpu, "per_gib", (json_int_t)c->bond_per_gib,
	    "manifest_window_ms", (json_int_t)c->manifest_window_ms,
	    "min_lease_epochs", (json_int_t)c->min_lease_epochs,
	    "checkpoint_ms", (json_int_t)c->checkpoint_ms, "pause_grace_ms",
	    (json_int_t)c->pause_grace_ms);
	if (o == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	*out = o;
	return 0;
}

/* An integer member of the genesis body, or ERR_CORRUPT naming it. */
static int
gint(const json_t *b, const char *key, const char *what, long long *v)
{
	if (cjson_get_int(b, key, what, v) < 0)
		return err_prefix(ERR_CORRUPT, "index 0");
	return 0;
}

int
replay_genesis_config(const struct envelope *e, struct state_config *c)
{
	const char *treasury, *k;
	long long v, take, epoch, skew, grace, uskew, fee, pcpu, pgib, win,
	    minep;
	json_t *denoms, *d, *fees, *kinds, *bond;
	size_t i;
	int rc;

	if (strcmp(e->kind, REPLAY_GENESIS_KIND) != 0)
		return err_set(ERR_CORRUPT,
		    "index 0: expected a %s entry, "
		    "found %s",
		    REPLAY_GENESIS_KIND, e->kind);
	state_config_default(c);
	memcpy(c->market_key, e->signer, KEY_PUB_LEN);
	if ((rc = gint(e->body, "version", "genesis", &v)) < 0)
		return rc;
	if (v == 1)
		return err_set(ERR_CORRUPT,
		    "index 0: genesis version 1 predates "
		    "the money rules (entry fees, provider bonds, usage "
		    "bounds, manifest-delivery proofs) and this build does not "
		    "replay it; start a new ledger (version %d)",
		    REPLAY_GENESIS_VERSION);
	if (v != REPLAY_GENESIS_VERSION)
		return err_set(ERR_CORRUPT,
		    "index 0: genesis version %lld is "
		    "unknown; this build knows version %d",
		    v, REPLAY_GENESIS_VERSION);
	if (cjson_get_str(e->body, "treasury", "genesis", &treasury) < 0 ||
	    cjson_get_arr(e->body, "denoms", "genesis", &denoms) < 0 ||
	    cjson_get_obj(e->body, "fees", "genesis", &fees) < 0 ||
	    cjson_get_obj(fees, "kinds", "genesis.fees", &kinds) < 0 ||
	    cjson_get_obj(e->body, "bond", "genesis", &bond) < 0)
		return err_prefix(ERR_CORRUPT, "index 0");
	if ((rc = gint(e->body, "take_rate_ppm", "genesis", &take)) < 0 ||
	    (rc = gint(e->body, "epoch_ms", "genesis", &epoch)) < 0 ||
	    (rc = gint(e->body, "skew_ms", "genesis", &skew)) < 0 ||
	    (rc = gint(e->body, "offline_grace_ms", "genesis", &grace)) < 0 ||
	    (rc = gint(e->body, "usage_skew_ms", "genesis", &uskew)) < 0 ||
	    (rc = gint(fees, "default", "genesis.fees", &fee)) < 0 ||
	    (rc = gint(bond, "per_cpu", "genesis.bond", &pcpu)) < 0 ||
	    (rc = gint(bond, "per_gib", "genesis.bond", &pgib)) < 0 ||
	    (rc = gint(e->body, "manifest_window_ms", "genesis", &win)) < 0 ||
	    (rc = gint(e->body, "min_lease_epochs", "genesis", &minep)) < 0)
		return rc;
	if (key_pub_from_text(treasury, c->treasury_key) < 0)
		return err_prefix(ERR_CORRUPT, "index 0: genesis.treasury");
	if (take < 0 || take > 1000000 || epoch <= 0 || skew < 0 || grace < 0)
		return err_set(ERR_CORRUPT,
		    "index 0: genesis parameters out "
		    "of range");
	c->take_rate_ppm = (uint32_t)take;
	c->epoch_ms = epoch;
	c->skew_ms = skew;
	c->offline_grace_ms = grace;
	c->usage_skew_ms = uskew;
	c->fee = fee;
	c->bond_per_cpu = pcpu;
	c->bond_per_gib = pgib;
	c->manifest_window_ms = win;
	c->min_lease_epochs = minep;
	/* added to version 2 later: absent, it is the default */
	if (json_object_get(e->body, "checkpoint_ms") != NULL) {
		if ((rc = gint(e->body, "checkpoint_ms", "genesis", &v)) < 0)
			return rc;
		c->checkpoint_ms = v;
	}
	/* added later too: absent, unfunded leases close at once (0) */
	c->pause_grace_ms = 0;
	if (json_object_get(e->body, "pause_grace_ms") != NULL) {
		if ((rc = gint(e->body, "pause_grace_ms", "genesis", &v)) < 0)
			return rc;
		c->pause_grace_ms = v;
	}
	if (json_object_size(kinds) > STATE_FEE_KINDS_MAX)
		return err_set(ERR_CORRUPT,
		    "index 0: genesis.fees.kinds: at "
		    "most %d kinds",
		    STATE_FEE_KINDS_MAX);
	c->nfee_kinds = 0;
	json_object_foreach(kinds, k, d)
	{
		struct state_fee_kind *fk = &c->fee_kinds[c->nfee_kinds];
		if (!json_is_integer(d) || strlen(k) >= sizeof(fk->kind))
			return err_set(ERR_CORRUPT,
			    "index 0: genesis.fees.kinds."
			    "%.64s: expected an integer fee",
			    k);
		strcpy(fk->kind, k);
		fk->fee = json_integer_value(d);
		c->nfee_kinds++;
	}
	if (json_array_size(denoms) == 0 ||
	    json_array_size(denoms) > STATE_DENOMS_MAX)
		return err_set(ERR_CORRUPT,
		    "index 0: genesis.denoms: expected "
		    "1-%d denominations",
		    STATE_DENOMS_MAX);
	c->ndenoms = 0;
	json_array_foreach(denoms, i, d)
	{
		const char *s = json_string_value(d);
		if (s == NULL || strlen(s) == 0 || strlen(s) >= STATE_DENOM_LEN)
			return err_set(ERR_CORRUPT,
			    "index 0: genesis.denoms[%zu]"
			    ": expected a short string",
			    i);
		strcpy(c->denoms[c->ndenoms++], s);
	}
	return 0;
}

int
replay_parse_leaf(const char *data, size_t len, struct replay_leaf *out)
{
	json_t *leaf = NULL, *entry;
	long long idx, t;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cjson_parse(data, len, &leaf)) < 0)
		return err_prefix(ERR_CORRUPT, "leaf");
	if ((rc = cjson_get_int(leaf, "index", "leaf", &idx)) < 0 ||
	    (rc = cjson_get_int(leaf, "time", "leaf", &t)) < 0 ||
	    (rc = cjson_get_obj(leaf, "entry", "leaf", &entry)) < 0 ||
	    idx < 0) {
		json_decref(leaf);
		return err_prefix(ERR_CORRUPT, "leaf");
	}
	json_incref(entry);
	json_decref(leaf);
	if ((rc = envelope_from_json(entry, &out->e)) < 0)
		return err_prefix(rc, "index %lld", idx);
	out->index = (uint64_t)idx;
	out->time = t;
	return 0;
}

int
replay_leaf(struct state **st, struct state_config *cfg, int check,
    const struct replay_leaf *l)
{
	int rc;

	if (l->index == 0) {
		if (*st != NULL)
			return err_set(ERR_CORRUPT, "index 0 seen twice");
		if ((rc = replay_genesis_config(l->e, cfg)) < 0)
			return rc;
		cfg->check_invariants = check;
		return state_new(cfg, st);
	}
	if (*st == NULL)
		return err_set(ERR_CORRUPT,
		    "index %" PRIu64 ": no genesis "
		    "entry before it",
		    l->index);
	if ((rc = state_apply(*st, l->e, l->index, l->time, NULL)) < 0)
		return rc;
	if (check && (rc = state_check_invariants(*st)) < 0)
		return err_prefix(rc, "after index %" PRIu64, l->index);
	return 0;
}

struct replay_ctx {
	struct state *st;
	struct state_config *cfg;
	int check;
};

static int
replay_cb(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct replay_ctx *r = ctx;
	struct replay_leaf l;
	int rc;

	if ((rc = replay_parse_leaf(data, len, &l)) < 0)
		return rc;
	if (l.index != idx || l.time != time) {
		envelope_free(l.e);
		return err_set(ERR_CORRUPT,
		    "index %" PRIu64 ": leaf says "
		    "index %" PRIu64 " time %" PRId64,
		    idx, l.index, l.time);
	}
	rc = replay_leaf(&r->st, r->cfg, r->check, &l);
	envelope_free(l.e);
	return rc;
}

int
replay_store(struct store *s, int check, struct state **out,
    struct state_config *cfg)
{
	struct state_config local;
	struct replay_ctx r = { NULL, cfg ? cfg : &local, check };
	int rc;

	if ((rc = store_foreach(s, 0, UINT64_MAX, replay_cb, &r)) < 0) {
		state_free(r.st);
		return rc;
	}
	if (r.st == NULL)
		return err_set(ERR_NOTFOUND, "the ledger has no genesis entry");
	*out = r.st;
	return 0;
}
