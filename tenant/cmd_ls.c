/*
 * cmd_ls: `tenant ls`, the tenant's orders with their deployment, lease,
 * provider, price, charges and escrow (tenant_ls, tenant/view.h), as a
 * table or as JSON.
 */
#include <stdio.h>

#include "common/util.h"
#include "tenant/cmd.h"
#include "tenant/runway.h"
#include "tenant/view.h"

const char cmd_ls_help[] =
    "usage: tenant ls [--all] [--market URL] [--json]\n"
    "List the tenant's orders with their deployment, lease, provider, "
    "price,\ncharges and escrow.  Closed ones only with --all.\n";

static const char *
str(const json_t *row, const char *key, const char *none)
{
	const char *s = json_string_value(json_object_get(row, key));

	return s ? s : none;
}

static long long
num(const json_t *row, const char *key)
{
	return (long long)json_integer_value(json_object_get(row, key));
}

static void
print_table(const json_t *rows, bool all)
{
	json_t *row;
	size_t i;

	if (json_array_size(rows) == 0)
		printf("no %sorders (ls --all shows closed ones)\n",
		    all ? "" : "open ");
	else
		printf("%-11s %-9s %-8s %-9s %-8s %-14s %9s %9s %11s %s\n",
		    "DEPLOYMENT", "ORDER", "ORDER-ST", "LEASE", "LEASE-ST",
		    "PROVIDER", "PRICE", "CHARGED", "ESCROW", "REASON");
	json_array_foreach(rows, i, row)
	    printf("%-11s %-9s %-8s %-9s %-8s %-14.14s %9lld %9lld %11lld "
	           "%s\n",
	        str(row, "deployment", NULL), str(row, "order", NULL),
	        str(row, "status", NULL), str(row, "lease", "-"),
	        str(row, "lease_status", "-"), str(row, "provider", "-"),
	        num(row, "price"), num(row, "charged"), num(row, "escrow"),
	        str(row, "reason", ""));
	/* leases whose escrow runs dry soon at the agreed price */
	json_array_foreach(rows, i, row)
	{
		int64_t left = tenant_runway_ms(row, util_now_ms());
		char d[48];
		if (left < 0 || left >= TENANT_RUNWAY_WARN_MS)
			continue;
		printf("warning: lease %s: the escrow pays %s more at %lld "
		       "%s/epoch, then the market closes it "
		       "insufficient_funds: tenant topup %s AMOUNT\n",
		    str(row, "lease", "-"), tenant_duration(left, d, sizeof(d)),
		    num(row, "price"), str(row, "denom", ""),
		    str(row, "deployment", NULL));
	}
}

int
cmd_ls(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *rows = NULL;
	int rc;

	(void)argv;
	if (argc != 0)
		return cmd_usage(cmd_ls_help);
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	if (tenant_ls(&c, &p, o->all, &rows)) {
		rc = cmd_fail("ls");
		goto done;
	}
	if (o->json)
		cmd_print_json(rows);
	else
		print_table(rows, o->all);
	rc = EXIT_OK;
done:
	json_decref(rows);
	tenant_client_clear(&c);
	return rc;
}
