/*
 * cmd_providers: `tenant providers`, every provider with its record
 * (GET /v1/providers and /v1/providers/KEY/record, docs/state.md
 * "Reputation"): what the ledger says of it, which anyone can recompute
 * with `ledger audit --provider KEY`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tenant/cmd.h"

const char cmd_providers_help[] =
    "usage: tenant providers [--market URL] [--json]\n"
    "Every provider on the market with its record, a pure function of "
    "the\nledger (docs/state.md, \"Reputation\"): online or not, leases "
    "won,\nstarted and completed, completion rate, uptime over 7 and 30 "
    "days, key\nage, bond and attestations.  `ledger audit --market URL "
    "--provider KEY`\nrecomputes one from the ledger and compares.  "
    "--json: [{\"provider\":\nview,\"record\":record}].\n";

/* ppm as a percentage with two decimals, or "-" when undefined. */
static const char *
pct(const json_t *v, char *buf, size_t cap)
{
	if (!json_is_integer(v))
		return "-";
	snprintf(buf, cap, "%lld.%02lld%%",
	    (long long)(json_integer_value(v) / 10000),
	    (long long)(json_integer_value(v) % 10000 / 100));
	return buf;
}

int
cmd_providers(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *ps = NULL, *out = NULL, *v;
	char path[256];
	size_t i;
	int rc;

	(void)argv;
	if (argc != 0)
		return cmd_usage(cmd_providers_help);
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	if (tenant_market_get(&c, "/v1/providers", &ps) != 0 ||
	    (out = json_array()) == NULL) {
		rc = cmd_fail("providers");
		goto done;
	}
	json_array_foreach(ps, i, v)
	{
		const char *key = json_string_value(json_object_get(v, "key"));
		json_t *rec = NULL;
		snprintf(path, sizeof(path), "/v1/providers/%s/record",
		    key ? key : "");
		if (tenant_market_get(&c, path, &rec) != 0) {
			rc = cmd_fail("providers");
			goto done;
		}
		json_array_append_new(out,
		    json_pack("{s:O,s:o}", "provider", v, "record", rec));
	}
	rc = EXIT_OK;
	if (o->json) {
		cmd_print_json(out);
		goto done;
	}
	if (json_array_size(out) == 0)
		printf("(no provider)\n");
	json_array_foreach(out, i, v)
	{
		json_t *r = json_object_get(v, "record");
		json_t *l = json_object_get(r, "leases");
		char a[48], b[48], d[48];
		printf("%s %s%s\n"
		       "  leases won %lld, started %lld, live %lld; completion "
		       "%s; uptime 7d %s, 30d %s\n"
		       "  key age %lld s, offline %lld times (%lld s), "
		       "manifests refused %lld, bond %lld, %zu attestations\n",
		    json_string_value(json_object_get(r, "provider")),
		    json_is_true(json_object_get(r, "online")) ? "online" :
		                                                 "offline",
		    json_is_true(json_object_get(json_object_get(v, "provider"),
		        "withdrawn")) ?
		        " (withdrawn)" :
		        "",
		    (long long)json_integer_value(json_object_get(l, "won")),
		    (long long)json_integer_value(
		        json_object_get(l, "started")),
		    (long long)json_integer_value(json_object_get(l, "live")),
		    pct(json_object_get(r, "completion_rate_ppm"), a,
		        sizeof(a)),
		    pct(json_object_get(r, "uptime_7d_ppm"), b, sizeof(b)),
		    pct(json_object_get(r, "uptime_30d_ppm"), d, sizeof(d)),
		    (long long)(json_integer_value(
		                    json_object_get(r, "key_age_ms")) /
		        1000),
		    (long long)json_integer_value(
		        json_object_get(r, "offline_marks")),
		    (long long)(json_integer_value(
		                    json_object_get(r, "offline_ms")) /
		        1000),
		    (long long)json_integer_value(
		        json_object_get(r, "manifests_refused")),
		    (long long)json_integer_value(
		        json_object_get(json_object_get(r, "bond"), "now")),
		    json_array_size(json_object_get(r, "attestations")));
	}
done:
	json_decref(ps);
	json_decref(out);
	tenant_client_clear(&c);
	return rc;
}
