/*
 * cmd_topup: `tenant topup DEPLOYMENT|LEASE AMOUNT`, more escrow for
 * each open order of a deployment (tenant_topup, tenant/manage.h), and
 * `tenant topup --auto AMOUNT|off --below EPOCHS LEASE`, a lease's
 * standing top-up (tenant_autotopup, tenant/autotopup.h).
 */
#include <stdio.h>
#include <string.h>

#include "common/units.h"
#include "common/util.h"
#include "tenant/autotopup.h"
#include "tenant/cmd.h"
#include "tenant/manage.h"
#include "tenant/runway.h"

const char cmd_topup_help[] =
    "usage: tenant topup DEPLOYMENT|LEASE AMOUNT "
    "[--market URL] [--json]\n"
    "       tenant topup --auto AMOUNT --below EPOCHS LEASE "
    "[--market URL] [--json]\n"
    "       tenant topup --auto off LEASE\n"
    "Add AMOUNT (micro-units) to the escrow of each open order of the "
    "\ndeployment.\n"
    "--auto signs a standing instruction into the ledger: at each "
    "billing of\nLEASE (l-N, or an order's o-N) that leaves its escrow "
    "paying fewer than\nEPOCHS epochs at the lease price, the market's "
    "rules move AMOUNT from your\nbalance into the escrow (nothing when "
    "the balance holds less than AMOUNT:\nthe lease then runs dry as "
    "without it).  When the escrow runs out before a\nbilling, the "
    "market tops it up instead of pausing it if AMOUNT pays the\n"
    "epoch; a paused lease takes AMOUNT at the next credit to your "
    "balance and\nresumes once its escrow pays an epoch.  The last "
    "instruction is in\nforce; --auto off cancels it.  EPOCHS is 1 to "
    "4294967296.\n"
    "A top-up of a paused lease says whether it resumed it.\n";

/* `tenant topup --auto AMOUNT|off [--below EPOCHS] LEASE` */
static int
auto_topup(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *l = NULL;
	int64_t amount = 0, below = 0, price;
	char line[512];
	int rc;

	if (argc != 1)
		return cmd_usage(cmd_topup_help);
	if (strcmp(o->auto_topup, "off") == 0) {
		if (o->below != NULL) {
			fprintf(stderr,
			    "tenant: topup: --auto off takes no --below\n");
			return EXIT_USAGE;
		}
	} else {
		if ((rc = cmd_parse_amount(o->auto_topup, &amount)) != EXIT_OK)
			return rc;
		if (o->below == NULL) {
			fprintf(stderr,
			    "tenant: topup: --auto AMOUNT needs --below "
			    "EPOCHS (top up when the escrow pays fewer "
			    "epochs)\n");
			return EXIT_USAGE;
		}
		if (util_parse_i64(o->below, "--below", &below) != 0 ||
		    below < 1 || below > TENANT_AUTOTOPUP_MAX_EPOCHS) {
			fprintf(stderr,
			    "tenant: topup: --below \"%s\" is not a number "
			    "of epochs from 1 to %lld\n",
			    o->below, (long long)TENANT_AUTOTOPUP_MAX_EPOCHS);
			return EXIT_USAGE;
		}
	}
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	if (tenant_autotopup(&c, argv[0], amount, below, &l) != 0) {
		rc = cmd_fail("topup --auto");
		goto done;
	}
	price = json_integer_value(json_object_get(l, "price"));
	if (amount > 0 && amount < price)
		fprintf(stderr,
		    "tenant: topup: note: %lld is less than one epoch at "
		    "the lease's price (%lld): each top-up pays less than "
		    "an epoch, so the escrow still runs down\n",
		    (long long)amount, (long long)price);
	if (o->json)
		cmd_print_json(json_object_get(l, "auto_topup"));
	else
		printf("%s: standing top-up %s\n",
		    json_string_value(json_object_get(l, "id")),
		    tenant_autotopup_describe(l, NULL, line, sizeof(line)) ?
		        line :
		        "not shown by the market");
done:
	json_decref(l);
	tenant_client_clear(&c);
	return rc;
}

/* One line per order topped up, as it happens (not with --json). */
static void
show(void *ctx, const struct tenant_change *ch)
{
	const bool *json = ctx;

	if (*json || ch->rc != 0)
		return;
	char h[64], left[64];

	units_fmt_tokens(json_integer_value(json_object_get(ch->row, "escrow")),
	    ch->denom, h, sizeof(h));
	printf("%s: +%lld, escrow now %lld %s (%s)\n", ch->order,
	    (long long)json_integer_value(json_object_get(ch->row, "added")),
	    (long long)json_integer_value(json_object_get(ch->row, "escrow")),
	    ch->denom, h);
	if (json_object_get(ch->row, "resumed") == NULL)
		return;
	if (json_is_true(json_object_get(ch->row, "resumed")))
		printf("%s: resumed: the escrow pays a whole epoch again; the "
		       "provider starts it again (same lease, same URL)\n",
		    json_string_value(json_object_get(ch->row, "lease")));
	else if (strcmp(json_string_value(
	                    json_object_get(ch->row, "lease_status")),
	             "paused") == 0) {
		int64_t g = tenant_grace_ms(ch->row, util_now_ms());

		units_fmt_tokens(
		    json_integer_value(json_object_get(ch->row, "price")),
		    ch->denom, h, sizeof(h));
		left[0] = '\0';
		if (g >= 0) {
			char d[48];
			snprintf(left, sizeof(left), " (in %s)",
			    tenant_duration(g, d, sizeof(d)));
		}
		printf("%s: still paused: to resume, the escrow must pay a "
		       "whole epoch at the lease price (%lld %s, %s) past the "
		       "time the lease had run when paused; top up more before "
		       "the grace ends%s\n",
		    json_string_value(json_object_get(ch->row, "lease")),
		    (long long)json_integer_value(
		        json_object_get(ch->row, "price")),
		    ch->denom, h, left);
	} else
		printf("%s: %s\n",
		    json_string_value(json_object_get(ch->row, "lease")),
		    json_string_value(
		        json_object_get(ch->row, "lease_status")));
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

	if (o->auto_topup != NULL)
		return auto_topup(o, argc, argv);
	if (o->below != NULL) {
		fprintf(stderr, "tenant: topup: --below goes with --auto\n");
		return EXIT_USAGE;
	}
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
