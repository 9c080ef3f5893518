/*
 * cmd_withdraw: `provider withdraw`, take this provider's ask off the
 * market (provider.withdraw): no new leases, running ones go on, and the
 * bond comes back now or with the last lease (provider/account.h).
 */
#include <stdio.h>

#include "provider/account.h"
#include "provider/cmd.h"
#include "provider/config.h"

#define WITHDRAW_MARKET_MS 10000

static int
withdraw(const struct cmd *c, int argc, char **argv)
{
	const char *data;
	json_t *w = NULL;
	int as_json, rc;
	long long leases, bond;

	if (cmd_data_json_opts(c, argc, argv, &data, &as_json, &rc) == CMD_DONE)
		return rc;
	if (optind != argc)
		return cmd_misuse(c);
	if (provider_withdraw(data, WITHDRAW_MARKET_MS, &w) < 0)
		return cmd_fail(CMD_FAIL);
	if (as_json) {
		rc = cmd_print_json(w);
		json_decref(w);
		return rc;
	}
	leases = (long long)json_integer_value(json_object_get(w, "leases"));
	bond = (long long)json_integer_value(json_object_get(w, "bond_locked"));
	printf("withdrawn (ledger index %lld): no new leases\n",
	    (long long)json_integer_value(json_object_get(w, "index")));
	if (leases > 0)
		printf("%lld lease%s still running; the bond (%lld) comes back "
		       "when the last one ends\n",
		    leases, leases == 1 ? " is" : "s are", bond);
	else
		printf("no lease is running: the bond is back in the balance "
		       "now\n");
	json_decref(w);
	return CMD_OK;
}

const struct cmd cmd_withdraw = {
	.group = "withdraw",
	.run = withdraw,
	.help = "take the ask off the market; the bond comes back",
	.usage = "usage: provider withdraw [--data DIR] [--json]\n"
	         "Sign provider.withdraw: the market matches no new lease "
	         "here; running leases\n"
	         "go on.  The bond comes back at once when no lease runs, "
	         "else with the last\n"
	         "one.  A running daemon stops advertising until it is "
	         "restarted.\n"
	         "  --data DIR  data dir (default $LODGE_PROVIDER_DATA "
	         "or " PROVIDER_DATA_DEFAULT ")\n"
	         "  --json      the outcome as JSON\n",
};
