/*
 * cmd_bond: `provider bond`, the bond the market's rules lock for the
 * capacity this provider offers, what is locked and held, the fees it
 * pays, and how to fund the key (provider/account.h).
 */
#include <stdio.h>

#include "common/units.h"
#include "provider/account.h"
#include "provider/cmd.h"
#include "provider/config.h"

/* How long the market gets to answer. */
#define BOND_MARKET_MS 10000

static long long
num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "?";
}

static void
print_text(const json_t *b)
{
	const json_t *cap = json_object_get(b, "capacity");
	const json_t *rules = json_object_get(b, "rules");
	const json_t *fees = json_object_get(b, "fees");
	const char *d = str(b, "denom"), *k;
	json_t *v;
	char h[64], h2[64];
	int first = 1;

	printf("provider %s\nmarket   %s%s\n", str(b, "key"), str(b, "market"),
	    json_is_true(json_object_get(b, "withdrawn")) ?
	        " (withdrawn)" :
	        json_is_true(json_object_get(b, "advertised")) ?
	        " (advertising)" :
	        " (not advertising)");
	units_fmt_tokens(num(b, "bond_needed"), d, h, sizeof(h));
	printf("bond     %lld %s (%s) for %lld millicores and %lld bytes of "
	       "memory (%lld per 1000 millicores, %lld per GiB)\n",
	    num(b, "bond_needed"), d, h, num(cap, "cpu_millis"),
	    num(cap, "memory_bytes"), num(rules, "per_cpu"),
	    num(rules, "per_gib"));
	units_fmt_tokens(num(b, "bond_locked"), d, h, sizeof(h));
	units_fmt_tokens(num(b, "balance"), d, h2, sizeof(h2));
	printf("locked   %lld %s (%s)\nbalance  %lld %s (%s)\nfees    ",
	    num(b, "bond_locked"), d, h, num(b, "balance"), d, h2);
	json_object_foreach((json_t *)fees, k, v)
	{
		printf("%s %s %lld", first ? "" : ",", k,
		    (long long)json_integer_value(v));
		first = 0;
	}
	printf(" %s per entry\n", d);
	if (num(b, "to_fund") == 0) {
		printf("funded   the bond and a day of fees (%lld %s) are "
		       "covered\n",
		    num(b, "fee_reserve"), d);
		return;
	}
	units_fmt_tokens(num(b, "to_fund"), d, h, sizeof(h));
	printf("to fund  %lld %s (%s): the bond not yet locked and a day of "
	       "fees (%lld %s)\n"
	       "  from the market's treasury (its operator): market deposit "
	       "--data MARKET_DIR %s %lld\n"
	       "  or from any funded key: an account.transfer of %lld %s to "
	       "%s\n",
	    num(b, "to_fund"), d, h, num(b, "fee_reserve"), d, str(b, "key"),
	    num(b, "to_fund"), num(b, "to_fund"), d, str(b, "key"));
}

static int
bond(const struct cmd *c, int argc, char **argv)
{
	const char *data;
	json_t *b = NULL;
	int as_json, rc;

	if (cmd_data_json_opts(c, argc, argv, &data, &as_json, &rc) == CMD_DONE)
		return rc;
	if (optind != argc)
		return cmd_misuse(c);
	if (provider_bond_json(data, BOND_MARKET_MS, &b) < 0)
		return cmd_fail(CMD_FAIL);
	if (as_json)
		rc = cmd_print_json(b);
	else {
		print_text(b);
		rc = CMD_OK;
	}
	json_decref(b);
	return rc;
}

const struct cmd cmd_bond = {
	.group = "bond",
	.run = bond,
	.help = "the bond and fees the market asks, how to fund them",
	.usage = "usage: provider bond [--data DIR] [--json]\n"
	         "The bond the market's genesis rules lock for the capacity "
	         "this provider\n"
	         "offers, what is locked and held now, the fee of each entry "
	         "it signs, and\n"
	         "what the key lacks to advertise (\"to_fund\": the bond and a "
	         "day of fees).\n"
	         "  --data DIR  data dir (default $LODGE_PROVIDER_DATA "
	         "or " PROVIDER_DATA_DEFAULT ")\n"
	         "  --json      all of it as JSON\n",
};
