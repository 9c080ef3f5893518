/*
 * cmd_close: `tenant close DEPLOYMENT|LEASE`, close every order of a
 * deployment or one lease; the provider stops the workload and the
 * escrow left is refunded (tenant_close, tenant/manage.h).
 */
#include <stdio.h>

#include "common/units.h"
#include "tenant/cmd.h"
#include "tenant/manage.h"

const char cmd_close_help[] =
    "usage: tenant close DEPLOYMENT|LEASE [--market URL] "
    "[--json]\n"
    "Close every order of a deployment (o-N) or one lease (l-N); "
    "the\nprovider stops the workload and the escrow left is "
    "refunded.\n";

/* A failed step as it happens; one line per order closed (not with
 * --json). */
static void
show(void *ctx, const struct tenant_change *ch)
{
	const bool *json = ctx;
	const char *lease, *reason;
	char h[64];

	if (ch->rc != 0) {
		cmd_fail("close");
		return;
	}
	if (*json)
		return;
	lease = json_string_value(json_object_get(ch->row, "lease"));
	reason = json_string_value(json_object_get(ch->row, "reason"));
	units_fmt_tokens(json_integer_value(json_object_get(ch->row, "refund")),
	    ch->denom, h, sizeof(h));
	printf("%s%s%s closed (%s): charged %lld, refunded %lld %s (%s)\n",
	    ch->order, lease ? " / " : "", lease ? lease : "",
	    reason ? reason : "?",
	    (long long)json_integer_value(json_object_get(ch->row, "charged")),
	    (long long)json_integer_value(json_object_get(ch->row, "refund")),
	    ch->denom, h);
}

int
cmd_close(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *rows = NULL;
	bool json = o->json;
	int rc;

	if (argc != 1)
		return cmd_usage(cmd_close_help);
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	rc = tenant_close(&c, &p, argv[0], show, &json, &rows);
	if (rows == NULL) {
		/* it failed before any order (later failures were told) */
		rc = cmd_fail("close");
		goto done;
	}
	/* A refused close prints nothing on stdout (its reason went to
	 * stderr as it happened). */
	if (o->json && (rc == 0 || json_array_size(rows) > 0))
		cmd_print_json(rows);
	rc = rc ? EXIT_FAIL : EXIT_OK;
done:
	json_decref(rows);
	tenant_client_clear(&c);
	return rc;
}
