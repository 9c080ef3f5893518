/*
 * cmd_topup: `tenant topup DEPLOYMENT|LEASE AMOUNT`, more escrow for
 * each open order of a deployment (tenant_topup, tenant/manage.h).
 */
#include <stdio.h>

#include "common/units.h"
#include "tenant/cmd.h"
#include "tenant/manage.h"

const char cmd_topup_help[] =
    "usage: tenant topup DEPLOYMENT|LEASE AMOUNT "
    "[--market URL] [--json]\n"
    "Add AMOUNT (micro-units) to the escrow of each open order of the "
    "\ndeployment.\n";

/* One line per order topped up, as it happens (not with --json). */
static void
show(void *ctx, const struct tenant_change *ch)
{
	const bool *json = ctx;

	if (*json || ch->rc != 0)
		return;
	char h[64];

	units_fmt_tokens(json_integer_value(json_object_get(ch->row, "escrow")),
	    ch->denom, h, sizeof(h));
	printf("%s: +%lld, escrow now %lld %s (%s)\n", ch->order,
	    (long long)json_integer_value(json_object_get(ch->row, "added")),
	    (long long)json_integer_value(json_object_get(ch->row, "escrow")),
	    ch->denom, h);
}

int
cmd_topup(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *rows = NULL;
	bool json = o->json;
	int64_t amount;
	int rc;

	if (argc != 2)
		return cmd_usage(cmd_topup_help);
	if ((rc = cmd_parse_amount(argv[1], &amount)) != EXIT_OK)
		return rc;
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	if (tenant_topup(&c, &p, argv[0], amount, show, &json, &rows))
		rc = cmd_fail("topup");
	else if (o->json)
		cmd_print_json(rows);
	json_decref(rows);
	tenant_client_clear(&c);
	return rc;
}
