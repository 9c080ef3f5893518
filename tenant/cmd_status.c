/*
 * cmd_status: `tenant status LEASE|ORDER`, a lease as the market sees it
 * (price, charges, escrow, usage) and as its provider runs it (replicas,
 * restarts), with the service URLs (tenant_lease_status, tenant/view.h).
 */
#include <stdio.h>

#include "common/util.h"
#include "tenant/cmd.h"
#include "tenant/runway.h"
#include "tenant/view.h"

const char cmd_status_help[] =
    "usage: tenant status LEASE|ORDER [--market URL] "
    "[--json]\n"
    "Show a lease as the market sees it (price, charges, escrow, "
    "usage) and\nas its provider runs it (replicas, restarts), "
    "with the service URLs.\n";

static long long
num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* The market's side of the lease. */
static void
print_market(const char *lease, const json_t *l, const char *api)
{
	const char *reason = json_string_value(json_object_get(l, "reason"));
	const char *k;
	json_t *v;
	int64_t left;

	printf("lease %s (order %s)\n", lease,
	    json_string_value(json_object_get(l, "order")));
	printf("  status    %s%s%s\n",
	    json_string_value(json_object_get(l, "status")), reason ? ", " : "",
	    reason ? reason : "");
	printf("  provider  %s%s%s\n",
	    json_string_value(json_object_get(l, "provider")),
	    api ? " at " : "", api ? api : "");
	printf("  price     %lld per epoch; charged %lld; escrow %lld; "
	       "fees %lld\n",
	    num(l, "price"), num(l, "charged"), num(l, "escrow"),
	    num(l, "fees"));
	if ((left = tenant_runway_ms(l, util_now_ms())) >= 0) {
		char d[48];
		printf("  runway    the escrow pays %s more at this price%s\n",
		    tenant_duration(left, d, sizeof(d)),
		    left < TENANT_RUNWAY_WARN_MS ?
		        " (warning: then the market closes it "
		        "insufficient_funds; tenant topup adds to it)" :
		        "");
	}
	printf("  usage    ");
	json_object_foreach(json_object_get(l, "usage"), k, v)
	    printf(" %s=%lld", k, (long long)json_integer_value(v));
	printf("\n");
}

/* The provider's side: its replicas and the service URLs. */
static void
print_workload(const json_t *ps, json_t *urls)
{
	const char *k;
	json_t *rep, *v;
	size_t i;

	printf("  workload  %s\n",
	    json_string_value(json_object_get(ps, "status")));
	json_array_foreach(json_object_get(ps, "replicas"), i, rep)
	{
		const char *le =
		    json_string_value(json_object_get(rep, "last_error"));
		printf("    %s#%lld %s, %lld restarts%s%s\n",
		    json_string_value(json_object_get(rep, "service")),
		    num(rep, "replica"),
		    json_string_value(json_object_get(rep, "state")),
		    num(rep, "restarts"), le && le[0] ? ": " : "",
		    le ? le : "");
	}
	/* the "oci" runtime's images: the digest that runs, or the pull */
	json_object_foreach(json_object_get(ps, "images"), k, v)
	{
		const char *dig =
		    json_string_value(json_object_get(v, "digest"));
		const char *er = json_string_value(json_object_get(v, "error"));
		printf("  image     %s %s %s", k,
		    json_string_value(json_object_get(v, "reference")),
		    json_string_value(json_object_get(v, "state")));
		if (dig != NULL)
			printf(" %s", dig);
		else
			printf(" %lld / %lld bytes", num(v, "done"),
			    num(v, "total"));
		printf("%s%s\n", er ? ": " : "", er ? er : "");
	}
	json_object_foreach(urls, k, v)
	    printf("  url       %s %s\n", k, json_string_value(v));
}

int
cmd_status(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *out = NULL, *ps;
	char lease[32];
	int rc;

	if (argc != 1)
		return cmd_usage(cmd_status_help);
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	if (tenant_lease_status(&c, argv[0], lease, sizeof(lease), &out)) {
		rc = cmd_fail("status");
		goto done;
	}
	rc = EXIT_OK;
	if (o->json) {
		cmd_print_json(out);
		goto done;
	}
	print_market(lease, json_object_get(out, "market"),
	    json_string_value(json_object_get(out, "api_url")));
	ps = json_object_get(out, "provider");
	if (ps && !json_is_null(ps))
		print_workload(ps, json_object_get(out, "services"));
	else
		printf("  workload  unknown (%s)\n",
		    json_string_value(json_object_get(out, "provider_error")));
done:
	json_decref(out);
	tenant_client_clear(&c);
	return rc;
}
