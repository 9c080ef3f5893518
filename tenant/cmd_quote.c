/*
 * cmd_quote: `tenant quote FILE`, what the market would do with the
 * deployment now, posting nothing (tenant_quote, tenant/quote.h): per
 * placement group the winner and its price per epoch and per month, the
 * other providers that fit, and why the rest do not.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "tenant/cmd.h"
#include "tenant/quote.h"

const char cmd_quote_help[] =
    "usage: tenant quote FILE [--deposit AMOUNT] [--market URL] [--json]\n"
    "Without posting anything, ask the market what it would do with "
    "FILE now:\nper placement group the providers that fit (cheapest "
    "first: the order\nmatching picks in), the winner and its price per "
    "epoch and per 30-day\nmonth (micro-units and whole units), and "
    "for every other provider the\nfirst matching rule it fails (cpu, "
    "memory, price, escrow, attributes,\npolicy_deny, ...).  The "
    "market runs its own matching predicate on its\ncurrent state: an "
    "unchanged market matches `tenant deploy FILE` the same.\n--deposit "
    "as for deploy (default max_price x 600 epochs).\n"
    "Exit status 3: invalid SDL; 4: a placement group has no provider "
    "that fits.\n";

static void
print_group(const json_t *g, int64_t epoch_ms)
{
	const char *d = json_string_value(json_object_get(g, "denom"));
	const json_t *w = json_object_get(g, "winner"), *v;
	char h1[64], h2[64];
	size_t i;

	printf("placement %s: bid up to %lld %s/epoch, escrow %lld %s\n",
	    json_string_value(json_object_get(g, "placement")),
	    (long long)json_integer_value(json_object_get(g, "max_price")), d,
	    (long long)json_integer_value(json_object_get(g, "escrow")), d);
	if (json_is_string(w)) {
		int64_t p = json_integer_value(json_object_get(g, "price"));
		int64_t m = json_integer_value(json_object_get(g, "per_month"));
		printf("  winner %s\n    %lld %s/epoch (%s), %lld %s per "
		       "30-day month (%s); epoch %lld ms\n",
		    json_string_value(w), (long long)p, d,
		    tenant_human_amount(p, d, h1, sizeof(h1)), (long long)m, d,
		    tenant_human_amount(m, d, h2, sizeof(h2)),
		    (long long)epoch_ms);
	} else {
		printf("  no provider fits now: the order would wait\n");
	}
	json_array_foreach(json_object_get(g, "fitting"), i, v)
	{
		if (i == 0)
			continue;
		printf("  also fits %s at %lld %s/epoch, %lld per month\n",
		    json_string_value(json_object_get(v, "provider")),
		    (long long)json_integer_value(json_object_get(v, "price")),
		    d,
		    (long long)json_integer_value(
		        json_object_get(v, "per_month")));
	}
	json_array_foreach(json_object_get(g, "not_fitting"), i, v)
	    printf("  does not fit %s: %s: %s\n",
	        json_string_value(json_object_get(v, "provider")),
	        json_string_value(json_object_get(v, "reason")),
	        json_string_value(json_object_get(v, "detail")));
}

int
cmd_quote(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	struct sdl_errors errs = { 0 };
	json_t *q = NULL, *g;
	int64_t dep = 0;
	int rc, bad = 0;
	size_t i;

	if (argc != 1)
		return cmd_usage(cmd_quote_help);
	if (o->deposit && cmd_parse_amount(o->deposit, &dep))
		return cmd_usage(cmd_quote_help);
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	if (tenant_quote(&c, argv[0], dep, &errs, &bad, &q) != 0) {
		for (size_t k = 0; k < errs.count; k++)
			fprintf(stderr, "%s\n", errs.items[k]);
		rc = bad ? EXIT_SDL : cmd_fail("quote");
		if (bad)
			fprintf(stderr, "tenant: quote: %s is not valid SDL\n",
			    argv[0]);
		goto done;
	}
	rc = EXIT_OK;
	json_array_foreach(json_object_get(q, "groups"), i, g)
	{
		if (!json_is_string(json_object_get(g, "winner")))
			rc = EXIT_NOMATCH;
	}
	if (o->json) {
		cmd_print_json(q);
		goto done;
	}
	json_array_foreach(json_object_get(q, "groups"), i, g)
	    print_group(g, json_integer_value(json_object_get(q, "epoch_ms")));
	printf("balance %lld; posting needs %lld (deposits and %lld of fees "
	       "per order)\n",
	    (long long)json_integer_value(json_object_get(q, "balance")),
	    (long long)json_integer_value(json_object_get(q, "needed")),
	    (long long)json_integer_value(json_object_get(q, "fee_per_order")));
done:
	json_decref(q);
	sdl_errors_free(&errs);
	tenant_client_clear(&c);
	return rc;
}
