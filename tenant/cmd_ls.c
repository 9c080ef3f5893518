/*
 * cmd_ls: `tenant ls`, the tenant's orders with their deployment, lease,
 * provider, price, charges and escrow (tenant_ls, tenant/view.h), as a
 * table or as JSON.
 */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/units.h"
#include "common/util.h"
#include "tenant/cmd.h"
#include "tenant/money.h"
#include "tenant/runway.h"
#include "tenant/view.h"

const char cmd_ls_help[] =
    "usage: tenant ls [--all] [--market URL] [--json]\n"
    "List the tenant's orders with their deployment, lease, provider, "
    "price,\ncharges and escrow.  Closed ones only with --all.\n"
    "PRICE is the lease's price per epoch in micro-units (uakt), /MONTH "
    "the same\nfor 30 days in tokens (1 AKT = 1000000 uakt), ESCROW "
    "what is left (tokens,\nthen micro-units), LASTS how long it pays "
    "at that price (\"paused\": the escrow ran dry, see below).  --json "
    "adds them\nto each leased row as \"money\".\n"
    "A warning line follows for each lease whose escrow pays less than an "
    "hour\nmore, and for each paused lease (its workload stopped, its "
    "volumes kept) with\nthe time left before it closes insufficient_funds; "
    "`tenant topup` resumes it.\n";

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

/* The money of each leased row (tenant_money_json, as "money"), at the
 * market's epoch; rows stay as they are when it cannot be read. */
static void
add_money(struct tenant_client *c, json_t *rows)
{
	int64_t epoch_ms;
	json_t *row;
	size_t i;

	if (tenant_market_epoch_ms(c, &epoch_ms) != 0) {
		err_clear();
		return;
	}
	json_array_foreach(rows, i, row)
	{
		if (json_object_get(row, "lease") == NULL)
			continue;
		json_object_set_new(row, "money",
		    tenant_money_json(num(row, "price"), num(row, "escrow"),
		        str(row, "denom", NULL), epoch_ms));
	}
}

/* What the market does when an escrow runs dry, for the warnings. */
static void
dry_text(int64_t grace, char *buf, size_t cap)
{
	char d[48];

	if (grace > 0)
		snprintf(buf, cap,
		    "then the market pauses it (workload stopped, volumes "
		    "kept %s, then closed insufficient_funds)",
		    tenant_duration(grace, d, sizeof(d)));
	else
		snprintf(buf, cap,
		    "then the market closes it insufficient_funds");
}

static void
print_table(const json_t *rows, bool all, int64_t grace)
{
	const json_t *h;
	json_t *row;
	char month[48], escrow[64], price[40], dry[160];
	size_t i;

	if (json_array_size(rows) == 0)
		printf("no %sorders (ls --all shows closed ones)\n",
		    all ? "" : "open ");
	else
		printf("%-11s %-9s %-8s %-9s %-8s %-14s %14s %12s %9s %-22s "
		       "%-8s %s\n",
		    "DEPLOYMENT", "ORDER", "ORDER-ST", "LEASE", "LEASE-ST",
		    "PROVIDER", "PRICE", "/MONTH", "CHARGED", "ESCROW", "LASTS",
		    "REASON");
	json_array_foreach(rows, i, row)
	{
		const char *denom = str(row, "denom", "uakt");
		const char *st = str(row, "lease_status", "-");
		h = json_object_get(json_object_get(row, "money"), "human");
		snprintf(price, sizeof(price), "%lld %s", num(row, "price"),
		    denom);
		units_fmt_tokens(num(row, "escrow"), denom, month,
		    sizeof(month));
		snprintf(escrow, sizeof(escrow), "%s (%lld)", month,
		    num(row, "escrow"));
		if (h != NULL)
			units_fmt_tokens(
			    num(json_object_get(row, "money"), "per_month"),
			    denom, month, sizeof(month));
		printf("%-11s %-9s %-8s %-9s %-8s %-14.14s %14s %12s %9lld "
		       "%-22s %-8s %s\n",
		    str(row, "deployment", NULL), str(row, "order", NULL),
		    str(row, "status", NULL), str(row, "lease", "-"), st,
		    str(row, "provider", "-"),
		    json_object_get(row, "lease") ? price : "-",
		    h ? month : "-", num(row, "charged"), escrow,
		    h && strcmp(st, "active") == 0 ?
		        json_string_value(json_object_get(h, "lasts")) :
		        strcmp(st, "paused") == 0 ? "paused" :
		                                    "-",
		    str(row, "reason", ""));
	}
	/* leases whose escrow runs dry soon at the agreed price */
	dry_text(grace, dry, sizeof(dry));
	json_array_foreach(rows, i, row)
	{
		int64_t left = tenant_runway_ms(row, util_now_ms());
		char d[48];
		if (left < 0 || left >= TENANT_RUNWAY_WARN_MS)
			continue;
		printf("warning: lease %s: the escrow pays %s more at %lld "
		       "%s/epoch, %s: tenant topup %s AMOUNT\n",
		    str(row, "lease", "-"), tenant_duration(left, d, sizeof(d)),
		    num(row, "price"), str(row, "denom", ""), dry,
		    str(row, "deployment", NULL));
	}
	/* paused leases: closed when their grace ends */
	json_array_foreach(rows, i, row)
	{
		int64_t left = tenant_grace_ms(row, util_now_ms());
		char d[48];
		if (left < 0)
			continue;
		printf("warning: lease %s is paused (its escrow ran dry; "
		       "workload stopped, volumes kept): it closes "
		       "insufficient_funds in %s unless topped up: tenant "
		       "topup %s AMOUNT\n",
		    str(row, "lease", "-"), tenant_duration(left, d, sizeof(d)),
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
	add_money(&c, rows);
	if (o->json)
		cmd_print_json(rows);
	else {
		int64_t grace = 0;
		if (tenant_market_pause_grace_ms(&c, &grace) != 0)
			err_clear(); /* the warnings say "closes" then */
		print_table(rows, o->all, grace);
	}
	rc = EXIT_OK;
done:
	json_decref(rows);
	tenant_client_clear(&c);
	return rc;
}
