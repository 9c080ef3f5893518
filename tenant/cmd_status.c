/*
 * cmd_status: `tenant status LEASE|ORDER`, a lease as the market sees it
 * (price, charges, escrow, usage) and as its provider runs it (replicas,
 * restarts), with the service URLs (tenant_lease_status, tenant/view.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/units.h"
#include "common/util.h"
#include "tenant/autotopup.h"
#include "tenant/cmd.h"
#include "tenant/money.h"
#include "tenant/runway.h"
#include "tenant/view.h"

const char cmd_status_help[] =
    "usage: tenant status LEASE|ORDER [--market URL] "
    "[--json]\n"
    "Show a lease as the market sees it (price, charges, escrow, "
    "usage) and\nas its provider runs it (replicas, restarts), "
    "with the service URLs.\n"
    "Prices per epoch, hour and month (30 days) and the escrow left are "
    "in tokens\n(1 AKT = 1000000 uakt) with the raw micro-units; "
    "\"lasts\" is how long the\nescrow pays the lease at its price; "
    "\"auto\" its standing top-up (tenant topup\n--auto); a lease "
    "whose escrow ran dry is \"paused\"\n(workload stopped, volumes kept) "
    "until `tenant topup` or its grace's end.  "
    "--json adds them as \"money\".\n";

static long long
num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* The lease's price and escrow for people (money: tenant_money_json,
 * or NULL when the market's rules could not be read). */
static void
print_money(const json_t *l, const json_t *money)
{
	const json_t *h = json_object_get(money, "human");
	const char *st = json_string_value(json_object_get(l, "status"));
	char ep[32];

#define H(k) json_string_value(json_object_get(h, k))
	if (money == NULL) {
		printf("  price     %lld per epoch; escrow %lld\n",
		    num(l, "price"), num(l, "escrow"));
		return;
	}
	units_fmt_duration(num(money, "epoch_ms"), ep, sizeof(ep));
	printf("  price     %s per epoch (%s)\n", H("per_epoch"), ep);
	printf("            %s per hour, %s per month\n", H("per_hour"),
	    H("per_month"));
	if (st != NULL && strcmp(st, "active") == 0)
		printf("  escrow    %s left, lasts %s at this price\n",
		    H("escrow"), H("lasts"));
	else if (st != NULL && strcmp(st, "paused") == 0)
		printf("  escrow    %s left (not enough for the next epoch; "
		       "nothing is billed while paused)\n",
		    H("escrow"));
	else
		printf("  escrow    %s left\n", H("escrow"));
#undef H
}

/* The market's side of the lease. */
static void
print_market(const char *lease, const json_t *l, const char *api,
    const json_t *money, int64_t grace)
{
	const char *reason = json_string_value(json_object_get(l, "reason"));
	const char *k;
	json_t *v;
	int64_t left;
	char at[512];

	printf("lease %s (order %s)\n", lease,
	    json_string_value(json_object_get(l, "order")));
	printf("  status    %s%s%s\n",
	    json_string_value(json_object_get(l, "status")), reason ? ", " : "",
	    reason ? reason : "");
	printf("  provider  %s%s%s\n",
	    json_string_value(json_object_get(l, "provider")),
	    api ? " at " : "", api ? api : "");
	print_money(l, money);
	if (money != NULL) {
		char ch[96], fe[96];
		const char *d =
		    json_string_value(json_object_get(money, "denom"));
		units_fmt_amount(num(l, "charged"), d, ch, sizeof(ch));
		units_fmt_amount(num(l, "fees"), d, fe, sizeof(fe));
		printf("  charged   %s; fees %s\n", ch, fe);
	} else
		printf("  charged   %lld; fees %lld (micro-units)\n",
		    num(l, "charged"), num(l, "fees"));
	if ((left = tenant_runway_ms(l, util_now_ms())) >= 0) {
		char d[48], g[48], warn[192] = "";
		if (left < TENANT_RUNWAY_WARN_MS && grace > 0)
			snprintf(warn, sizeof(warn),
			    " (warning: then the market pauses it, keeping its "
			    "volumes %s before it closes insufficient_funds; "
			    "tenant topup adds to it)",
			    tenant_duration(grace, g, sizeof(g)));
		else if (left < TENANT_RUNWAY_WARN_MS)
			snprintf(warn, sizeof(warn),
			    " (warning: then the market closes it "
			    "insufficient_funds; tenant topup adds to it)");
		printf("  runway    the escrow pays %s more at this price%s\n",
		    tenant_duration(left, d, sizeof(d)), warn);
	}
	if ((left = tenant_grace_ms(l, util_now_ms())) >= 0) {
		char d[48];
		printf(
		    "  paused    the escrow ran dry: the workload is stopped, "
		    "its volumes kept;\n"
		    "            it closes insufficient_funds in %s unless "
		    "topped up (tenant topup %s AMOUNT resumes it)\n",
		    tenant_duration(left, d, sizeof(d)),
		    json_string_value(json_object_get(l, "order")));
	}
	/* the standing top-up (tenant topup --auto), once one was signed */
	if (tenant_autotopup_describe(l,
	        json_string_value(json_object_get(money, "denom")), at,
	        sizeof(at)) != NULL)
		printf("  auto      standing top-up %s\n", at);
	printf("  usage    ");
	json_object_foreach(json_object_get(l, "usage"), k, v)
	    printf(" %s=%lld", k, (long long)json_integer_value(v));
	printf("\n");
}

/* What o has beyond the keys of known (NULL-terminated), one line each
 * after indent: a provider newer than this tenant (forwarded ports,
 * ...) is shown, not hidden.  Strings as they are, the rest as JSON. */
static void
print_extra(const json_t *o, const char *const *known, const char *indent)
{
	const char *const *kn;
	const char *k;
	json_t *v;
	char *text;

	json_object_foreach((json_t *)o, k, v)
	{
		for (kn = known; *kn && strcmp(*kn, k) != 0; kn++)
			;
		if (*kn || json_is_null(v) ||
		    (json_is_string(v) && json_string_length(v) == 0) ||
		    (json_is_array(v) && json_array_size(v) == 0) ||
		    (json_is_object(v) && json_object_size(v) == 0))
			continue;
		if (json_is_string(v)) {
			printf("%s%-9s %s\n", indent, k, json_string_value(v));
			continue;
		}
		if ((text = json_dumps(v,
		         JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)) ==
		    NULL)
			continue;
		printf("%s%-9s %s\n", indent, k, text);
		free(text);
	}
}

/* A replica's exposed ports: "8080 as 80 (global)". */
static void
print_expose(const json_t *rep)
{
	json_t *e;
	size_t i;

	if (json_array_size(json_object_get(rep, "expose")) == 0)
		return;
	printf("      ports");
	json_array_foreach(json_object_get(rep, "expose"), i, e) printf(
	    "%s %lld as %lld%s", i ? "," : "", num(e, "port"), num(e, "as"),
	    json_is_true(json_object_get(e, "global")) ? " (global)" : "");
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
		static const char *const known[] = { "service", "name",
			"replica", "state", "pid", "restarts", "last_exit",
			"last_error", "expose", NULL };
		printf("    %s#%lld %s, %lld restarts%s%s\n",
		    json_string_value(json_object_get(rep, "service")),
		    num(rep, "replica"),
		    json_string_value(json_object_get(rep, "state")),
		    num(rep, "restarts"), le && le[0] ? ": " : "",
		    le ? le : "");
		print_expose(rep);
		print_extra(rep, known, "      ");
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
	{
		static const char *const known[] = { "lease", "order", "status",
			"close_reason", "close_detail", "replicas", "usage",
			"images", NULL };
		print_extra(ps, known, "  ");
	}
}

/* Akash's forwarded_ports: "host:port → service:port/proto". */
static void
print_ports(const json_t *fp)
{
	json_t *e;
	size_t i;

	json_array_foreach((json_t *)fp, i, e)
	{
		printf("  port      %s\n",
		    json_string_value(json_object_get(e, "text")));
	}
}

int
cmd_status(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *out = NULL, *ps, *money = NULL;
	char lease[32];
	int64_t epoch_ms;
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
	/* price per hour and month, escrow left: a nicety, not an error */
	if (tenant_market_epoch_ms(&c, &epoch_ms) != 0 ||
	    tenant_lease_money(&c, json_object_get(out, "market"), epoch_ms,
	        &money) != 0)
		err_clear();
	else
		json_object_set_new(out, "money", money);
	if (o->json) {
		cmd_print_json(out);
		goto done;
	}
	{
		int64_t grace = 0;
		if (tenant_market_pause_grace_ms(&c, &grace) != 0)
			err_clear(); /* "closes" then */
		print_market(lease, json_object_get(out, "market"),
		    json_string_value(json_object_get(out, "api_url")),
		    json_object_get(out, "money"), grace);
	}
	ps = json_object_get(out, "provider");
	if (ps && !json_is_null(ps)) {
		print_workload(ps, json_object_get(out, "services"));
		print_ports(json_object_get(out, "forwarded_ports"));
	} else
		printf("  workload  unknown (%s)\n",
		    json_string_value(json_object_get(out, "provider_error")));
done:
	json_decref(out);
	tenant_client_clear(&c);
	return rc;
}
