/*
 * cmd_deploy: `tenant deploy FILE`, the deploy state machine
 * (tenant_deploy, tenant/deploy.h) with its progress rendered: one line
 * per step, or one status line rewritten on a terminal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "tenant/cmd.h"
#include "tenant/deploy.h"

const char cmd_deploy_help[] =
    "usage: tenant deploy FILE [--deposit AMOUNT] "
    "[--ttl SECONDS] [--no-wait]\n"
    "                   [--timeout SECONDS] [--market URL] [--json]\n"
    "Validate FILE (`sdl check`'s errors and warnings), post one "
    "order per\nplacement group with AMOUNT of escrow each (default: "
    "max_price x 600\nepochs), wait for the match, send the manifest "
    "to the provider, wait\nuntil it runs and print each service's "
    "URL.  --deposit moves AMOUNT from\nthe balance into the order's "
    "escrow; the provider is paid from it at the\nagreed price and "
    "the rest comes back on close.  An AMOUNT below the market's\n"
    "minimum lease (min_lease_epochs x the price of the cheapest "
    "provider that\nfits now) is refused, naming the amount needed.  "
    "A manifest that cannot be\ndelivered closes the lease "
    "manifest_not_delivered (nothing charged).\n--ttl: how long the "
    "orders wait for a match (default 60).  --timeout: how\nlong to "
    "wait for the workload to run (default 120).  --no-wait: stop "
    "after\nposting.\n"
    "Exit status 3: invalid SDL; 4: nothing matched (the reason is "
    "printed);\n5: the provider refused or could not run it.\n";

static const char *const step_tag[TENANT_STEP_COUNT] = {
	"validated",
	"posted",
	"matched",
	"manifest",
	"fetched",
	"running",
	"url",
};

struct render {
	FILE *f;
	bool tty;
	bool pending; /* an in-progress line is on screen */
	const char *file; /* the SDL file */
	const struct sdl_errors *errs; /* its warnings, once parsed */
	bool warned; /* they are on stderr */
};

/* The SDL file's warnings (what only Akash's schema refuses) on stderr,
 * as `sdl check` prints them, once. */
static void
print_warnings(struct render *r)
{
	if (r->warned)
		return;
	r->warned = true;
	for (size_t i = 0; i < r->errs->nwarnings; i++)
		fprintf(stderr, "%s\n", r->errs->warnings[i]);
	if (r->errs->wdropped)
		fprintf(stderr, "%s: ... and %zu more warnings\n", r->file,
		    r->errs->wdropped);
}

static void
render(void *ctx, const struct tenant_progress *p)
{
	struct render *r = ctx;

	if (p->step == TENANT_STEP_VALIDATED && p->done)
		print_warnings(r);
	if (r->tty) {
		/* one status line, rewritten; finished steps keep a ✓ */
		if (p->done)
			fprintf(r->f, "\r\033[K\033[32m✓\033[0m %-9s %s\n",
			    step_tag[p->step], p->text);
		else
			fprintf(r->f, "\r\033[K  %s", p->text);
		r->pending = !p->done;
	} else if (p->done) {
		fprintf(r->f, "%-9s %s\n", step_tag[p->step], p->text);
	}
	fflush(r->f);
}

/* --ttl or --timeout: s seconds (1 to max) as milliseconds, else
 * EXIT_USAGE said. */
static int
parse_seconds(const char *name, const char *s, int64_t max, int64_t *ms)
{
	int64_t v;

	if (util_parse_i64(s, name, &v) || v <= 0 || v > max) {
		fprintf(stderr,
		    "tenant: %s \"%s\" is not a number of seconds (1 to "
		    "%lld)\n",
		    name, s, (long long)max);
		return EXIT_USAGE;
	}
	*ms = v * 1000;
	return EXIT_OK;
}

static int
parse_opts(const struct cmd_opts *o, struct tenant_deploy_opts *d)
{
	int rc;

	d->no_wait = o->no_wait;
	if (o->deposit && (rc = cmd_parse_amount(o->deposit, &d->deposit)))
		return rc;
	if (o->ttl &&
	    (rc = parse_seconds("--ttl", o->ttl, 365 * 86400, &d->ttl_ms)))
		return rc;
	if (o->timeout &&
	    (rc = parse_seconds("--timeout", o->timeout, 86400,
	         &d->run_timeout_ms)))
		return rc;
	return EXIT_OK;
}

/* Why it failed, on stderr: the SDL errors as `sdl check` prints them,
 * or the library's message. */
static void
report_failure(const char *file, const struct sdl_errors *errs,
    enum tenant_failure failure)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(stderr, "%s\n", errs->items[i]);
	if (errs->dropped)
		fprintf(stderr, "%s: ... and %zu more errors\n", file,
		    errs->dropped);
	if (errs->count == 0 || failure != TENANT_FAIL_SDL)
		fprintf(stderr, "tenant: deploy: %s\n", err_msg());
	else
		fprintf(stderr, "tenant: deploy: %s is not valid SDL\n", file);
}

static int
exit_status(enum tenant_failure failure)
{
	switch (failure) {
	case TENANT_FAIL_NONE:
		return EXIT_OK;
	case TENANT_FAIL_SDL:
		return EXIT_SDL;
	case TENANT_FAIL_NOMATCH:
		return EXIT_NOMATCH;
	case TENANT_FAIL_PROVIDER:
		return EXIT_PROVIDER;
	default:
		return EXIT_FAIL;
	}
}

/* Does an order of the deployment still hold escrow (not closed, as
 * one whose manifest could not be delivered is)? */
static bool
holds_escrow(const json_t *res)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(res, "orders"), i, e)
	{
		const char *st =
		    json_string_value(json_object_get(e, "status"));
		if (st == NULL || strcmp(st, "closed") != 0)
			return true;
	}
	return false;
}

int
cmd_deploy(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_deploy_opts d = { 0 };
	struct sdl_errors errs = { 0 };
	struct tenant_paths p;
	struct tenant_client c;
	enum tenant_failure failure;
	struct render r;
	json_t *res = NULL;
	const char *dep;
	int rc;

	if (argc != 1)
		return cmd_usage(cmd_deploy_help);
	d.file = argv[0];
	if ((rc = parse_opts(o, &d)) != EXIT_OK)
		return rc;
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	/* with --json the JSON owns stdout and progress goes to stderr */
	r.f = o->json ? stderr : stdout;
	r.tty = isatty(fileno(r.f)) && getenv("TERM") &&
	    strcmp(getenv("TERM"), "dumb") != 0;
	r.pending = false;
	r.file = d.file;
	r.errs = &errs;
	r.warned = false;
	rc = tenant_deploy(&c, &p, &d, render, &r, &errs, &failure, &res);
	if (r.pending)
		fputs("\r\033[K", r.f);
	print_warnings(&r);
	if (rc)
		report_failure(d.file, &errs, failure);
	dep = json_string_value(json_object_get(res, "deployment"));
	if (rc && failure != TENANT_FAIL_NOMATCH && dep && dep[0] &&
	    holds_escrow(res))
		fprintf(stderr,
		    "tenant: deployment %s was posted; `tenant close "
		    "%s` releases its escrow\n",
		    dep, dep);
	if (o->json && res)
		cmd_print_json(res);
	else if (rc == 0 && d.no_wait)
		printf("deployment %s posted; follow it with `tenant ls` or "
		       "`tenant status`\n",
		    dep);
	else if (rc == 0)
		printf("deployment %s is running; `tenant close %s` ends it\n",
		    dep, dep);
	json_decref(res);
	sdl_errors_free(&errs);
	tenant_client_clear(&c);
	return exit_status(failure);
}
