/*
 * cmd_status: `provider status`, capacity, leases and earnings
 * (provider/status.h) as text or JSON.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/units.h"
#include "provider/cmd.h"
#include "provider/config.h"
#include "provider/status.h"

/* How long the market gets to say what this provider has earned. */
#define STATUS_MARKET_MS 5000

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "?";
}

static unsigned long long
num(const json_t *o, const char *k)
{
	return (unsigned long long)json_integer_value(json_object_get(o, k));
}

static void
print_text(const json_t *st)
{
	const json_t *cap = json_object_get(st, "capacity");
	const json_t *acct = json_object_get(st, "account"), *l;
	char *t;
	size_t i;

	printf("provider %s (%s)\nmarket   %s\ncapacity %llu millicores, %llu "
	       "MB memory, %llu MB storage\n",
	    str(st, "key"), str(st, "name"), str(st, "market"),
	    num(cap, "cpu_millis"), num(cap, "memory_bytes") / 1000000,
	    num(cap, "storage_bytes") / 1000000);
	json_array_foreach(json_object_get(st, "leases"), i, l)
	{
		printf("lease %-8s %-8s order %s tenant %s\n", str(l, "id"),
		    str(l, "status"), str(l, "order"), str(l, "tenant"));
	}
	if (!json_is_object(acct)) {
		printf("earnings (market unreachable)\n");
		return;
	}
	if (!json_is_object(json_object_get(acct, "balances"))) {
		t = json_dumps(acct, JSON_COMPACT);
		printf("earnings %s\n", t ? t : "?");
		free(t);
		return;
	}
	/* the balance: earnings and what funded the key, less the fees */
	printf("earnings");
	{
		const char *denom;
		json_t *v;
		char h[96];
		int first = 1;
		json_object_foreach(json_object_get(acct, "balances"), denom, v)
		{
			units_fmt_amount(json_integer_value(v), denom, h,
			    sizeof(h));
			printf("%s %s", first ? "" : ",", h);
			first = 0;
		}
		printf("%s\n", first ? " none" : "");
	}
}

static int
status(const struct cmd *c, int argc, char **argv)
{
	const char *data;
	json_t *st = NULL;
	int as_json, rc;

	if (cmd_data_json_opts(c, argc, argv, &data, &as_json, &rc) == CMD_DONE)
		return rc;
	if (provider_status_json(data, STATUS_MARKET_MS, &st) < 0)
		return cmd_fail(CMD_FAIL);
	if (as_json)
		rc = cmd_print_json(st);
	else {
		print_text(st);
		rc = CMD_OK;
	}
	json_decref(st);
	return rc;
}

const struct cmd cmd_status = {
	.group = "status",
	.run = status,
	.help = "capacity, leases and earnings",
	.usage = "usage: provider status [--data DIR] [--json]\n"
	         "This provider's offered capacity, its leases as the daemon "
	         "last saved them\n"
	         "and its earnings on the market.\n"
	         "  --data DIR  data dir (default $LODGE_PROVIDER_DATA "
	         "or " PROVIDER_DATA_DEFAULT ")\n"
	         "  --json      all of it as JSON\n",
};
