/*
 * cmd_update: `tenant update DEPLOYMENT|LEASE FILE`, Akash's deployment
 * update: the same leases and providers run the new file (images, env,
 * command, ports may change; resources, count, placement and price may
 * not), one replica at a time (tenant_update, tenant/update.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "tenant/cmd.h"
#include "tenant/update.h"

const char cmd_update_help[] =
    "usage: tenant update DEPLOYMENT|LEASE FILE [--timeout SECONDS]\n"
    "                     [--market URL] [--json]\n"
    "Move a running deployment (o-N; or one lease, l-N) to a new SDL "
    "file on\nthe same leases: images, env, command and ports may "
    "change; resources,\ncount, placement, price and runtimes may not "
    "(refused, naming the field,\nbefore anything is signed).  Each "
    "lease's tenant-signed lease.update\nrecords the new manifest hash "
    "in the ledger; its provider takes the\nmanifest and replaces the "
    "replicas one at a time.\n";

static void
show(void *ctx, const char *lease, const char *text)
{
	const bool *json = ctx;

	if (!*json)
		printf("%s: %s\n", lease, text);
	fflush(stdout);
}

int
cmd_update(const struct cmd_opts *o, int argc, char **argv)
{
	struct sdl_errors errs = { 0 };
	struct tenant_paths p;
	struct tenant_client c;
	json_t *res = NULL;
	bool json = o->json;
	long long secs = 0;
	char *end;
	int rc;

	if (argc != 2)
		return cmd_usage(cmd_update_help);
	if (o->timeout) {
		secs = strtoll(o->timeout, &end, 10);
		if (*end || secs <= 0) {
			fprintf(stderr,
			    "tenant: update: --timeout %s: expected a "
			    "positive number of seconds\n",
			    o->timeout);
			return EXIT_USAGE;
		}
	}
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	rc = tenant_update(&c, &p, argv[0], argv[1], secs * 1000, &errs, show,
	    &json, &res);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.items[i]);
	for (size_t i = 0; i < errs.nwarnings; i++)
		fprintf(stderr, "%s\n", errs.warnings[i]);
	if (rc == 0 && json)
		cmd_print_json(res);
	if (rc != 0) {
		if (errs.count > 0)
			fprintf(stderr, "tenant: update: %s is not valid SDL\n",
			    argv[1]);
		else
			cmd_fail("update");
		rc = errs.count > 0  ? EXIT_SDL :
		    rc == ERR_REJECT ? EXIT_PROVIDER :
		                       EXIT_FAIL;
	}
	json_decref(res);
	sdl_errors_free(&errs);
	tenant_client_clear(&c);
	return rc;
}
