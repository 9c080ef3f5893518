/*
 * account: the provider key's bond, withdrawal and transfers (see
 * account.h).  The bond is computed by the ledger's own rule
 * (state_bond_for) from the parameters the market's genesis states, so
 * the advice and the market agree to the unit.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "ledger/state.h"
#include "provider/account.h"
#include "provider/config.h"
#include "provider/daemon.h"

/* The entry kinds a provider signs, whose fees the advice lists. */
static const char *const provider_kinds[] = { "provider.advertise",
	"provider.heartbeat", "provider.withdraw", "lease.started",
	"lease.usage", "lease.close", "account.transfer" };

/* A provider's data dir, loaded. */
struct acct {
	struct provider_config cfg;
	struct key *key;
	char key_text[KEY_TEXT_SIZE];
};

static int
acct_open(const char *data, struct acct *a)
{
	char path[PATH_MAX];
	uint8_t pub[KEY_PUB_LEN];
	int rc;

	config_init(&a->cfg);
	a->key = NULL;
	snprintf(path, sizeof(path), "%.4000s/provider.json", data);
	if ((rc = config_load(path, &a->cfg)) < 0 ||
	    (rc = config_pin_market(data, &a->cfg, NULL)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%.4000s/provider.key", data);
	if ((rc = key_load(path, &a->key)) < 0)
		return rc;
	key_public(a->key, pub);
	key_pub_to_text(pub, a->key_text);
	return 0;
}

static void
acct_close(struct acct *a)
{
	key_free(a->key);
	config_clear(&a->cfg);
}

/* GET market+path as JSON; anything but 200 JSON is ERR_IO naming it. */
static int
get_json(const struct acct *a, const char *path, int timeout_ms, json_t **out)
{
	struct http_result r = { 0 };
	char url[1200];
	json_error_t je;
	int rc;

	*out = NULL;
	snprintf(url, sizeof(url), "%s%s", a->cfg.market, path);
	if ((rc = http_fetch("GET", url, NULL, NULL, 0, timeout_ms, &r)) < 0)
		return err_prefix(rc, "market %s", a->cfg.market);
	if (r.status != 200)
		rc = err_set(ERR_IO, "GET %s: HTTP %ld: is %s a Lodge market?",
		    url, r.status, a->cfg.market);
	else if ((*out = json_loadb(r.body, r.body_len, 0, &je)) == NULL)
		rc = err_set(ERR_IO, "GET %s: not JSON (%s)", url, je.text);
	http_result_clear(&r);
	return rc;
}

/* This key's entry in GET /v1/providers (borrowed from ps), or NULL. */
static json_t *
own_entry(json_t *ps, const char *key_text)
{
	json_t *p;
	size_t i;

	json_array_foreach(ps, i, p)
	{
		const char *k = json_string_value(json_object_get(p, "key"));
		if (k && strcmp(k, key_text) == 0)
			return p;
	}
	return NULL;
}

static int64_t
i64_at(const json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

/* The fee of kind under the genesis rules of info ("fees":{"default",
 * "kinds"}). */
static int64_t
fee_of(const json_t *info, const char *kind)
{
	const json_t *fees = json_object_get(info, "fees");
	const json_t *k = json_object_get(json_object_get(fees, "kinds"), kind);

	return k ? (int64_t)json_integer_value(k) : i64_at(fees, "default");
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* A signed entry of kind by a's key, posted; *index gets its ledger
 * index.  A refusal is ERR_REJECT with the market's reason. */
static int
submit(const struct acct *a, const char *kind, json_t *body, uint64_t *index)
{
	char *reply = NULL;
	json_t *ans;
	long status;
	int rc;

	*index = 0;
	if ((rc = provider_post_entry(a->cfg.market, a->key, kind, body,
	         &status, &reply)) < 0)
		return err_prefix(rc, "market %s", a->cfg.market);
	if (status != 201) {
		json_t *j = reply ? json_loads(reply, 0, NULL) : NULL;
		const char *e = json_string_value(json_object_get(j, "error"));
		rc = err_set(status >= 500 || status == 429 ? ERR_IO :
		                                              ERR_REJECT,
		    "the market refused %s (HTTP %ld): %s", kind, status,
		    e ? e : (reply ? reply : "(no answer)"));
		json_decref(j);
		free(reply);
		return rc;
	}
	ans = reply ? json_loads(reply, 0, NULL) : NULL;
	*index = (uint64_t)json_integer_value(json_object_get(ans, "index"));
	json_decref(ans);
	free(reply);
	return 0;
}

int
provider_bond_json(const char *data, int timeout_ms, json_t **out)
{
	struct acct a;
	struct provider_resources off;
	struct state_config sc;
	json_t *info = NULL, *acc = NULL, *ps = NULL, *me, *fees = NULL;
	const char *denom;
	int64_t needed, locked, balance, reserve, beats, lack, cpu, mem;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = acct_open(data, &a)) < 0)
		goto out;
	if ((rc = get_json(&a, "/v1/info", timeout_ms, &info)) < 0)
		goto out;
	denom = json_string_value(
	    json_array_get(json_object_get(info, "denoms"), 0));
	if (denom == NULL || !json_is_object(json_object_get(info, "bond"))) {
		rc = err_set(ERR_IO,
		    "market %s: /v1/info states no bond rules "
		    "(denoms, bond): is it a Lodge market?",
		    a.cfg.market);
		goto out;
	}
	if ((rc = get_json(&a, "/v1/providers", timeout_ms, &ps)) < 0)
		goto out;
	{
		char path[200];
		snprintf(path, sizeof(path), "/v1/accounts/%s", a.key_text);
		if ((rc = get_json(&a, path, timeout_ms, &acc)) < 0)
			goto out;
	}
	me = own_entry(ps, a.key_text);
	config_offered(&a.cfg, &off);
	/* The bond holds what leases use too, where that is more. */
	cpu = max64((int64_t)off.cpu_millis,
	    i64_at(json_object_get(me, "used"), "cpu_millis") +
	        i64_at(json_object_get(me, "pending"), "cpu_millis"));
	mem = max64((int64_t)off.memory_bytes,
	    i64_at(json_object_get(me, "used"), "memory_bytes") +
	        i64_at(json_object_get(me, "pending"), "memory_bytes"));
	state_config_default(&sc);
	sc.bond_per_cpu = i64_at(json_object_get(info, "bond"), "per_cpu");
	sc.bond_per_gib = i64_at(json_object_get(info, "bond"), "per_gib");
	if ((rc = state_bond_for(&sc, cpu, mem, &needed)) < 0)
		goto out;
	locked = i64_at(json_object_get(acc, "bonds"), denom);
	balance = i64_at(json_object_get(acc, "balances"), denom);
	if ((fees = json_object()) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < sizeof(provider_kinds) / sizeof(provider_kinds[0]); i++)
		json_object_set_new(fees, provider_kinds[i],
		    json_integer(fee_of(info, provider_kinds[i])));
	beats = (int64_t)PROVIDER_FEE_RESERVE_S * 1000 / PROVIDER_HEARTBEAT_MS;
	if (__builtin_mul_overflow(beats, fee_of(info, "provider.heartbeat"),
	        &reserve) ||
	    __builtin_add_overflow(reserve,
	        json_is_true(json_object_get(me, "advertised")) ?
	            0 :
	            fee_of(info, "provider.advertise"),
	        &reserve) ||
	    __builtin_add_overflow(needed > locked ? needed - locked : 0,
	        reserve, &lack)) {
		rc = err_set(ERR_RANGE, "bond and fees overflow int64");
		goto out;
	}
	lack = lack > balance ? lack - balance : 0;
	*out = json_pack("{s:s,s:s,s:s,s:{s:I,s:I},s:{s:I,s:I},s:I,s:I,s:I,"
	                 "s:b,s:b,s:I,s:O,s:I,s:I}",
	    "key", a.key_text, "market", a.cfg.market, "denom", denom,
	    "capacity", "cpu_millis", (json_int_t)off.cpu_millis,
	    "memory_bytes", (json_int_t)off.memory_bytes, "rules", "per_cpu",
	    (json_int_t)sc.bond_per_cpu, "per_gib", (json_int_t)sc.bond_per_gib,
	    "bond_needed", (json_int_t)needed, "bond_locked",
	    (json_int_t)locked, "balance", (json_int_t)balance, "advertised",
	    json_is_true(json_object_get(me, "advertised")), "withdrawn",
	    json_is_true(json_object_get(me, "withdrawn")), "leases",
	    (json_int_t)i64_at(me, "leases"), "fees", fees, "fee_reserve",
	    (json_int_t)reserve, "to_fund", (json_int_t)lack);
	if (*out == NULL)
		rc = err_set(ERR_NOMEM, "out of memory");
out:
	json_decref(fees);
	json_decref(info);
	json_decref(acc);
	json_decref(ps);
	acct_close(&a);
	return rc;
}

int
provider_withdraw(const char *data, int timeout_ms, json_t **out)
{
	struct acct a;
	json_t *body = NULL, *ps = NULL, *me;
	uint64_t index;
	int64_t leases;
	int rc;

	*out = NULL;
	if ((rc = acct_open(data, &a)) < 0)
		goto out;
	if ((body = json_object()) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = submit(&a, "provider.withdraw", body, &index)) < 0 ||
	    (rc = get_json(&a, "/v1/providers", timeout_ms, &ps)) < 0)
		goto out;
	me = own_entry(ps, a.key_text);
	leases = i64_at(me, "leases");
	*out = json_pack("{s:s,s:I,s:I,s:I,s:s}", "key", a.key_text, "index",
	    (json_int_t)index, "leases", (json_int_t)leases, "bond_locked",
	    (json_int_t)i64_at(me, "bond"), "bond_back",
	    leases > 0 ? "with its last lease" : "now");
	if (*out == NULL)
		rc = err_set(ERR_NOMEM, "out of memory");
out:
	json_decref(body);
	json_decref(ps);
	acct_close(&a);
	return rc;
}

int
provider_transfer(const char *data, const char *to, int64_t amount,
    const char *denom, int timeout_ms, json_t **out)
{
	struct acct a;
	json_t *info = NULL, *body = NULL, *acc = NULL;
	uint8_t pub[KEY_PUB_LEN];
	char path[200];
	uint64_t index;
	int rc;

	*out = NULL;
	if (key_pub_from_text(to, pub) < 0)
		return err_set(ERR_INVAL,
		    "--to \"%.80s\": not a key (ed25519:...)", to);
	if (amount <= 0)
		return err_set(ERR_INVAL,
		    "amount %lld: expected a positive "
		    "number of micro-units",
		    (long long)amount);
	if ((rc = acct_open(data, &a)) < 0)
		goto out;
	if (denom == NULL) {
		if ((rc = get_json(&a, "/v1/info", timeout_ms, &info)) < 0)
			goto out;
		denom = json_string_value(
		    json_array_get(json_object_get(info, "denoms"), 0));
		if (denom == NULL) {
			rc = err_set(ERR_IO,
			    "market %s: /v1/info names no "
			    "denomination",
			    a.cfg.market);
			goto out;
		}
	}
	body = json_pack("{s:s,s:s,s:I}", "to", to, "denom", denom, "amount",
	    (json_int_t)amount);
	if (body == NULL) {
		rc = err_set(ERR_INVAL, "denom: not UTF-8 text");
		goto out;
	}
	if ((rc = submit(&a, "account.transfer", body, &index)) < 0)
		goto out;
	snprintf(path, sizeof(path), "/v1/accounts/%s", a.key_text);
	if ((rc = get_json(&a, path, timeout_ms, &acc)) < 0)
		goto out;
	*out = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "from", a.key_text, "to",
	    to, "denom", denom, "amount", (json_int_t)amount, "index",
	    (json_int_t)index, "balance",
	    (json_int_t)i64_at(json_object_get(acc, "balances"), denom));
	if (*out == NULL)
		rc = err_set(ERR_NOMEM, "out of memory");
out:
	json_decref(info);
	json_decref(body);
	json_decref(acc);
	acct_close(&a);
	return rc;
}
