/*
 * cmd_events: `tenant events LEASE [-f]`, the lease's life in one stream:
 * its ledger entries and its provider's events by time (tenant/events.h);
 * -f polls both and prints what is new until the lease is closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/util.h"
#include "tenant/cmd.h"
#include "tenant/events.h"
#include "tenant/runway.h"
#include "tenant/view.h"

/* How often -f asks again, and for how many rounds after the market's
 * close it waits for the provider's. */
#define EVENTS_POLL_MS 1000
#define EVENTS_CLOSE_ROUNDS 10

const char cmd_events_help[] =
    "usage: tenant events LEASE|ORDER [-f] [--market URL] [--json]\n"
    "The lease's life in one stream, by time (UTC): from the ledger, the "
    "order,\n"
    "the match, the start, each usage with its charge, top-ups and the "
    "close with\n"
    "its refund; from the provider, the manifest accepted or refused, "
    "image pulls,\n"
    "starts, exits with their status, OOM kills, restarts, stops, shell "
    "and exec\n"
    "sessions.  -f follows until the lease is closed.  --json: the events "
    "as JSON\n"
    "({\"time\" (ms),\"source\",\"kind\",\"detail\",\"id\",...}), one per "
    "line with -f.\n"
    "A provider that does not answer is said on stderr; the ledger's "
    "events still\n"
    "show.  A lease whose escrow pays less than an hour more at its "
    "price gets a\n"
    "warning line after the events (as in tenant ls and status).\n";

/* Print the events of all not printed yet (seen: source+id -> true). */
static void
print_new(const json_t *all, json_t *seen, bool json, bool follow)
{
	char key[64], line[1024], *text;
	json_t *ev;
	size_t i;

	json_array_foreach(all, i, ev)
	{
		snprintf(key, sizeof(key), "%.10s:%.40s",
		    json_string_value(json_object_get(ev, "source")),
		    json_string_value(json_object_get(ev, "id")));
		if (json_object_get(seen, key) != NULL)
			continue;
		json_object_set_new(seen, key, json_true());
		if (json && follow) {
			text = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
			if (text)
				printf("%s\n", text);
			free(text);
		} else if (!json) {
			tenant_event_format(ev, line, sizeof(line));
			printf("%s\n", line);
		}
	}
	fflush(stdout);
}

/* The warning `tenant ls` and `tenant status` give, for the lease view
 * l: its escrow pays less than TENANT_RUNWAY_WARN_MS more at its price
 * (tenant/runway.h).  Said once, after the first events. */
static void
print_runway_warning(const json_t *l)
{
	int64_t left = tenant_runway_ms(l, util_now_ms());
	const json_t *a = json_object_get(l, "auto_topup");
	const char *id = json_string_value(json_object_get(l, "id"));
	char d[48];

	if (left < 0 || left >= TENANT_RUNWAY_WARN_MS)
		return;
	printf("warning: lease %s: the escrow pays %s more at %lld "
	       "per epoch, then the market closes it insufficient_funds: "
	       "tenant topup %s AMOUNT%s\n",
	    id, tenant_duration(left, d, sizeof(d)),
	    (long long)json_integer_value(json_object_get(l, "price")), id,
	    json_is_true(json_object_get(a, "on")) ?
	        " (its standing top-up adds to it at each billing while "
	        "your balance holds it)" :
	        ", or tenant topup --auto AMOUNT --below EPOCHS");
}

/* Has the provider recorded the lease's close? */
static bool
provider_closed(const json_t *pev)
{
	json_t *ev;
	size_t i;

	json_array_foreach(pev, i, ev)
	{
		const char *k = json_string_value(json_object_get(ev, "kind"));
		if (k && strcmp(k, "lease.closed") == 0)
			return true;
	}
	return false;
}

int
cmd_events(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	struct timespec nap = { EVENTS_POLL_MS / 1000,
		(EVENTS_POLL_MS % 1000) * 1000000L };
	json_t *l = NULL, *mev = NULL, *pev = NULL, *all = NULL,
	       *seen = json_object();
	char lease[32], path[96], *api = NULL, last_err[256] = "";
	bool closed = false, warned = false;
	int rc, rounds = 0;

	if (argc != 1)
		return cmd_usage(cmd_events_help);
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK) {
		json_decref(seen);
		return rc;
	}
	if (tenant_resolve_lease(&c, argv[0], lease, sizeof(lease)) != 0) {
		rc = cmd_fail("events");
		goto done;
	}
	snprintf(path, sizeof(path), "/v1/leases/%s", lease);
	if (tenant_market_get(&c, path, &l) != 0) {
		rc = cmd_fail("events");
		goto done;
	}
	for (;;) {
		if (tenant_market_events(&c, lease, &mev, &closed) != 0) {
			rc = cmd_fail("events");
			goto done;
		}
		/* the provider's side, when it answers */
		if (api == NULL &&
		    tenant_provider_url(&c,
		        json_string_value(json_object_get(l, "provider")),
		        &api) != 0)
			api = NULL;
		if (api == NULL ||
		    tenant_provider_events(&c, api, lease, &pev) != 0) {
			if (strcmp(last_err, err_msg()) != 0) {
				fprintf(stderr,
				    "tenant: events: the provider's events "
				    "are missing: %s\n",
				    err_msg());
				snprintf(last_err, sizeof(last_err), "%s",
				    err_msg());
			}
			err_clear();
		}
		all = tenant_events_merge(mev, pev);
		if (all == NULL) {
			err_set(ERR_NOMEM, "out of memory");
			rc = cmd_fail("events");
			goto done;
		}
		if (o->json && !o->follow)
			cmd_print_json(all);
		else
			print_new(all, seen, o->json, o->follow);
		if (!o->json && !warned) {
			print_runway_warning(l);
			fflush(stdout);
			warned = true;
		}
		if (!o->follow ||
		    (closed &&
		        (provider_closed(pev) ||
		            ++rounds > EVENTS_CLOSE_ROUNDS)))
			break;
		json_decref(all);
		json_decref(mev);
		json_decref(pev);
		all = mev = pev = NULL;
		nanosleep(&nap, NULL);
	}
	rc = EXIT_OK;
done:
	json_decref(all);
	json_decref(mev);
	json_decref(pev);
	json_decref(l);
	json_decref(seen);
	free(api);
	tenant_client_clear(&c);
	return rc;
}
