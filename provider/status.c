/*
 * status: a provider's state at a glance, for `provider status` (see
 * status.h): the config and key it runs with, its leases as the daemon
 * last saved them, and its earnings as the market has them.
 */
#include <limits.h>
#include <stdio.h>

#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "provider/config.h"
#include "provider/status.h"

/* GET market/v1/accounts/KEY, or NULL when it does not answer 200 JSON. */
static json_t *
account_json(const char *market, const char *key_text, int timeout_ms)
{
	struct http_result r = { 0 };
	struct err_saved saved;
	char url[1200];
	json_error_t je;
	json_t *acct = NULL;

	/* Unreachable is an answer here ("account": null), not an error. */
	err_save(&saved);
	snprintf(url, sizeof(url), "%s/v1/accounts/%s", market, key_text);
	if (http_fetch("GET", url, NULL, NULL, 0, timeout_ms, &r) == 0 &&
	    r.status == 200)
		acct = json_loadb(r.body, r.body_len, 0, &je);
	http_result_clear(&r);
	err_restore(&saved);
	return acct;
}

int
provider_status_json(const char *data, int timeout_ms, json_t **out)
{
	struct provider_config cfg;
	struct provider_resources off;
	struct key *k = NULL;
	char path[PATH_MAX], key_text[KEY_TEXT_SIZE];
	uint8_t pub[KEY_PUB_LEN];
	json_t *state, *leases, *acct;
	json_error_t je;
	int rc, pinned;

	*out = NULL;
	config_init(&cfg);
	snprintf(path, sizeof(path), "%.4000s/provider.json", data);
	if ((rc = config_load(path, &cfg)) < 0)
		goto out;
	/* The status shows what is local even when the market cannot be
	 * reached or its key is not the pinned one: no account then. */
	pinned = config_pin_market(data, &cfg, NULL) == 0;
	if (!pinned)
		err_clear();
	snprintf(path, sizeof(path), "%.4000s/provider.key", data);
	if ((rc = key_load(path, &k)) < 0)
		goto out;
	key_public(k, pub);
	key_pub_to_text(pub, key_text);
	snprintf(path, sizeof(path), "%.4000s/state.json", data);
	state = json_load_file(path, 0, &je);
	leases = state ? json_object_get(state, "leases") : NULL;
	acct = pinned ? account_json(cfg.market, key_text, timeout_ms) : NULL;
	config_offered(&cfg, &off);
	*out = json_pack("{s:s,s:s,s:s,s:{s:I,s:I,s:I},s:O,s:o}", "key",
	    key_text, "name", cfg.name, "market", cfg.market, "capacity",
	    "cpu_millis", (json_int_t)off.cpu_millis, "memory_bytes",
	    (json_int_t)off.memory_bytes, "storage_bytes",
	    (json_int_t)off.storage_bytes, "leases",
	    leases ? leases : json_null(), "account",
	    acct ? acct : json_null());
	json_decref(state);
	if (*out == NULL)
		rc = err_set(ERR_NOMEM, "out of memory");
out:
	key_free(k);
	config_clear(&cfg);
	return rc;
}
