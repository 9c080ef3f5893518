/*
 * ledger attest: an auditor's provider.attest, signed with the auditor's
 * key and posted to a market: the attributes it vouches for, or none to
 * revoke its attestation (docs/state.md; SDL signedBy counts it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/envelope.h"
#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "ledger/cmd.h"

#define ATTEST_TIMEOUT_MS 10000

static const char usage_attest[] =
    "usage: ledger attest --key KEYFILE --market URL PROVIDER K=V[,K=V...]\n"
    "       ledger attest --key KEYFILE --market URL PROVIDER --revoke\n"
    "Sign a provider.attest with the auditor's KEYFILE and post it to the\n"
    "market at URL: the auditor vouches that PROVIDER (ed25519:...) has\n"
    "the attributes K=V (an SDL's signedBy names the auditor's key to\n"
    "count them).  A new attestation replaces the auditor's last one;\n"
    "--revoke withdraws it.  The entry's fee is paid from KEYFILE's\n"
    "account.  Prints the ledger index.\n";

/* "k=v,k=v" into a new object of strings; NULL with the message set. */
static json_t *
parse_attributes(const char *s)
{
	json_t *o = json_object();
	char *copy = strdup(s), *save = NULL, *tok, *eq;

	if (o == NULL || copy == NULL) {
		err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(tok, '=')) == NULL || eq == tok ||
		    eq[1] == '\0') {
			err_set(ERR_INVAL,
			    "attributes: '%s': expected KEY=VALUE", tok);
			goto fail;
		}
		*eq = '\0';
		if (json_object_set_new(o, tok, json_string(eq + 1)) < 0) {
			err_set(ERR_INVAL, "attributes: '%s': not UTF-8 text",
			    tok);
			goto fail;
		}
	}
	if (json_object_size(o) == 0) {
		err_set(ERR_INVAL,
		    "attributes: none given (--revoke to "
		    "withdraw an attestation)");
		goto fail;
	}
	free(copy);
	return o;
fail:
	free(copy);
	json_decref(o);
	return NULL;
}

int
cmd_attest(int argc, char **argv)
{
	static const char *const names[] = { "key", "market", NULL };
	static const char *const flags[] = { "revoke", NULL };
	static const char *const hdrs[] = { "Content-Type: application/json",
		NULL };
	const char *vals[2] = { NULL };
	int set[1] = { 0 };
	char *pos[2], *canon = NULL, url[600];
	uint8_t pk[KEY_PUB_LEN];
	struct http_result r = { 0 };
	struct envelope *e = NULL;
	struct key *k = NULL;
	json_t *attrs = NULL, *body = NULL, *reply = NULL;
	size_t len;
	int npos, rc = EXIT_FAIL;

	if (cli_parse_opts(argc, argv, names, vals, flags, set, pos, 2, &npos,
	        usage_attest) < 0)
		return EXIT_USAGE;
	if (!vals[0] || !vals[1])
		return cli_usage_error(usage_attest, "%s",
		    "expected --key and --market");
	if (npos != (set[0] ? 1 : 2))
		return cli_usage_error(usage_attest, "%s",
		    set[0] ? "expected PROVIDER alone with --revoke" :
		             "expected PROVIDER and K=V,...");
	if (key_pub_from_text(pos[0], pk) < 0)
		return cli_usage_error(usage_attest,
		    "PROVIDER '%s': expected ed25519:<base64 key>", pos[0]);
	if (set[0])
		attrs = json_object();
	else if ((attrs = parse_attributes(pos[1])) == NULL)
		return cli_usage_error(usage_attest, "%s", err_msg());
	body = json_pack("{s:s,s:O}", "provider", pos[0], "attributes", attrs);
	if (body == NULL) {
		err_set(ERR_NOMEM, "out of memory");
		cli_die("attest");
		goto out;
	}
	if (key_load(vals[0], &k) < 0 ||
	    envelope_sign(k, "provider.attest", body, NULL, -1, &e) < 0 ||
	    envelope_dump(e, &canon, &len) < 0) {
		cli_die("attest");
		goto out;
	}
	snprintf(url, sizeof(url), "%.580s/v1/entries", vals[1]);
	if (http_fetch("POST", url, hdrs, canon, len, ATTEST_TIMEOUT_MS, &r) <
	    0) {
		cli_die(url);
		goto out;
	}
	if (r.status != 201) {
		fprintf(stderr,
		    "ledger: attest: the market refused it (HTTP "
		    "%ld): %.*s\n",
		    r.status, (int)r.body_len, r.body ? r.body : "");
		goto out;
	}
	reply = json_loadb(r.body, r.body_len, 0, NULL);
	printf("%s %s (ledger index %lld)\n",
	    set[0] ? "revoked the attestation of" : "attested", pos[0],
	    (long long)json_integer_value(json_object_get(reply, "index")));
	rc = 0;
out:
	json_decref(reply);
	http_result_clear(&r);
	free(canon);
	envelope_free(e);
	key_free(k);
	json_decref(body);
	json_decref(attrs);
	return rc;
}
