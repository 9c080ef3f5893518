/*
 * cmd_balance: `tenant balance`, the account's balances per denomination
 * and the escrow its open orders hold (tenant_balance, tenant/view.h).
 */
#include <stdio.h>

#include "common/units.h"
#include "tenant/cmd.h"
#include "tenant/view.h"

const char cmd_balance_help[] =
    "usage: tenant balance [--market URL] [--json]\n"
    "Print the account's balances per denomination and the escrow "
    "held by\nits open orders.\n";

int
cmd_balance(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *acct = NULL, *bal, *escrow, *v;
	const char *denom;
	int rc;

	(void)argv;
	if (argc != 0)
		return cmd_usage(cmd_balance_help);
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	if (tenant_balance(&c, &acct)) {
		rc = cmd_fail("balance");
		goto done;
	}
	if (o->json) {
		cmd_print_json(acct);
		rc = EXIT_OK;
		goto done;
	}
	bal = json_object_get(acct, "balances");
	escrow = json_object_get(acct, "escrow");
	printf("%s\n", c.address);
	if (json_object_size(bal) == 0)
		printf("  (no balance)\n");
	json_object_foreach(bal, denom, v)
	{
		char a[64], e[64];
		json_int_t held =
		    json_integer_value(json_object_get(escrow, denom));
		units_fmt_tokens(json_integer_value(v), denom, a, sizeof(a));
		units_fmt_tokens(held, denom, e, sizeof(e));
		printf("  %-8s %lld available, %lld in escrow (%s, %s)\n",
		    denom, (long long)json_integer_value(v), (long long)held, a,
		    e);
	}
	rc = EXIT_OK;
done:
	json_decref(acct);
	tenant_client_clear(&c);
	return rc;
}
