/*
 * tenant: the tenant's command line (docs/tenant.md).  Parses arguments
 * and calls the tenant library: config (key, records), client (market
 * and provider calls) and deploy (the deploy state machine).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "tenant/client.h"
#include "tenant/config.h"
#include "tenant/deploy.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1, /* market, provider, network or local error */
	EXIT_USAGE = 2, /* bad arguments */
	EXIT_SDL = 3, /* the SDL file is invalid */
	EXIT_NOMATCH = 4, /* nothing matched before the TTL */
	EXIT_PROVIDER = 5, /* the provider refused or could not run it */
};

struct opts {
	const char *market;
	bool json;
	bool help;
	bool follow;
	bool no_wait;
	bool all;
	const char *deposit;
	const char *ttl;
	const char *timeout;
};

static const char usage_text[] =
    "usage: tenant [--market URL] COMMAND [ARGS] [--json]\n"
    "  keygen                      create the tenant's key\n"
    "  address                     print the tenant's account key\n"
    "  balance                     the account's balances\n"
    "  deploy FILE [--deposit AMOUNT] [--ttl SECONDS] [--no-wait]\n"
    "              [--timeout SECONDS]\n"
    "                              order, match, send the manifest, run\n"
    "  ls [--all]                  deployments, orders and leases\n"
    "  status LEASE|ORDER          a lease on the market and its provider\n"
    "  logs LEASE [-f]             the workload's logs (-f: follow)\n"
    "  topup DEPLOYMENT AMOUNT     add AMOUNT to each order's escrow\n"
    "  close DEPLOYMENT|LEASE      close it; the escrow left is refunded\n"
    "The market is --market URL or $LODGE_MARKET; the key lives in\n"
    "$XDG_CONFIG_HOME/lodge/tenant.key.  Amounts are integer micro-units\n"
    "(uakt).  `tenant COMMAND --help` for one command.\n"
    "Exit status: 0 success, 1 failure, 2 usage error, 3 invalid SDL,\n"
    "4 nothing matched before the TTL, 5 the provider refused or could\n"
    "not run the deployment.\n";

static const struct {
	const char *name;
	const char *help;
} helps[] = {
	{ "keygen",
	    "usage: tenant keygen [--json]\n"
	    "Create the tenant's Ed25519 key in $XDG_CONFIG_HOME/lodge/"
	    "tenant.key\n(mode 0600) and print its account key.  Refuses to "
	    "replace a key.\n" },
	{ "address",
	    "usage: tenant address [--json]\n"
	    "Print the tenant's account key (ed25519:...).\n" },
	{ "balance",
	    "usage: tenant balance [--market URL] [--json]\n"
	    "Print the account's balances per denomination and the escrow "
	    "held by\nits open orders.\n" },
	{ "deploy",
	    "usage: tenant deploy FILE [--deposit AMOUNT] "
	    "[--ttl SECONDS] [--no-wait]\n"
	    "                   [--timeout SECONDS] [--market URL] [--json]\n"
	    "Validate FILE (errors as `sdl check` prints them), post one "
	    "order per\nplacement group with AMOUNT of escrow each (default: "
	    "max_price x 600\nepochs), wait for the match, send the manifest "
	    "to the provider, wait\nuntil it runs and print each service's "
	    "URL.  --ttl: how long the orders\nwait for a match (default "
	    "60).  --timeout: how long to wait for the\nworkload to run "
	    "(default 120).  --no-wait: stop after posting.\n"
	    "Exit status 3: invalid SDL; 4: nothing matched (the reason is "
	    "printed);\n5: the provider refused or could not run it.\n" },
	{ "ls",
	    "usage: tenant ls [--all] [--market URL] [--json]\n"
	    "List the tenant's orders with their deployment, lease, provider, "
	    "price,\ncharges and escrow.  Closed ones only with --all.\n" },
	{ "status",
	    "usage: tenant status LEASE|ORDER [--market URL] "
	    "[--json]\n"
	    "Show a lease as the market sees it (price, charges, escrow, "
	    "usage) and\nas its provider runs it (replicas, restarts), "
	    "with the service URLs.\n" },
	{ "logs",
	    "usage: tenant logs LEASE [-f] [--market URL]\n"
	    "Print the lease's logs from its provider; -f follows them.\n" },
	{ "topup",
	    "usage: tenant topup DEPLOYMENT|LEASE AMOUNT "
	    "[--market URL] [--json]\n"
	    "Add AMOUNT (micro-units) to the escrow of each open order of the "
	    "\ndeployment.\n" },
	{ "close",
	    "usage: tenant close DEPLOYMENT|LEASE [--market URL] "
	    "[--json]\n"
	    "Close every order of a deployment (o-N) or one lease (l-N); "
	    "the\nprovider stops the workload and the escrow left is "
	    "refunded.\n" },
};

static int
help_for(const char *cmd, FILE *f)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (strcmp(helps[i].name, cmd) == 0) {
			fputs(helps[i].help, f);
			return 1;
		}
	return 0;
}

static int
fail(const char *what)
{
	fprintf(stderr, "tenant: %s%s%s\n", what ? what : "", what ? ": " : "",
	    err_msg());
	return EXIT_FAIL;
}

static void
print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s) {
		puts(s);
		free(s);
	}
}

static bool
is_id(const char *s, char kind)
{
	return s && s[0] == kind && s[1] == '-' && s[2] &&
	    strspn(s + 2, "0123456789") == strlen(s + 2);
}

/* Open the key and the market client. */
static int
open_client(const struct opts *o, struct tenant_paths *p,
    struct tenant_client *c)
{
	struct key *k = NULL;
	const char *m = o->market ? o->market : getenv("LODGE_MARKET");

	memset(c, 0, sizeof(*c));
	if (tenant_paths_init(p) || tenant_key_load(p, &k))
		return fail(NULL);
	if (m == NULL || m[0] == '\0') {
		key_free(k);
		fprintf(stderr,
		    "tenant: no market: give --market URL or set "
		    "LODGE_MARKET\n");
		return EXIT_USAGE;
	}
	if (tenant_client_init(c, m, k)) {
		tenant_client_clear(c);
		return fail(NULL);
	}
	return EXIT_OK;
}

static int
parse_amount(const char *s, int64_t *out)
{
	if (util_parse_i64(s, "amount", out) || *out <= 0) {
		fprintf(stderr,
		    "tenant: amount \"%s\" is not a positive "
		    "integer of micro-units\n",
		    s);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* ---- keygen, address, balance ------------------------------------- */

static int
cmd_keygen(const struct opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct key *k = NULL;
	uint8_t pub[KEY_PUB_LEN];
	char text[KEY_TEXT_SIZE];

	(void)argv;
	if (argc != 0)
		return help_for("keygen", stderr), EXIT_USAGE;
	if (tenant_paths_init(&p) || tenant_key_create(&p, &k))
		return fail("keygen");
	key_public(k, pub);
	key_pub_to_text(pub, text);
	key_free(k);
	if (o->json)
		printf("{\"address\":\"%s\",\"key_file\":\"%s\"}\n", text,
		    p.key);
	else {
		puts(text);
		fprintf(stderr, "tenant: key written to %s\n", p.key);
	}
	return EXIT_OK;
}

static int
cmd_address(const struct opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct key *k = NULL;
	uint8_t pub[KEY_PUB_LEN];
	char text[KEY_TEXT_SIZE];

	(void)argv;
	if (argc != 0)
		return help_for("address", stderr), EXIT_USAGE;
	if (tenant_paths_init(&p) || tenant_key_load(&p, &k))
		return fail(NULL);
	key_public(k, pub);
	key_pub_to_text(pub, text);
	key_free(k);
	if (o->json)
		printf("{\"address\":\"%s\"}\n", text);
	else
		puts(text);
	return EXIT_OK;
}

static int
cmd_balance(const struct opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *acct = NULL, *orders = NULL, *bal, *escrow = NULL, *v;
	char path[256];
	const char *denom;
	size_t i;
	int rc;

	(void)argv;
	if (argc != 0)
		return help_for("balance", stderr), EXIT_USAGE;
	if ((rc = open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	snprintf(path, sizeof(path), "/v1/accounts/%s", c.address);
	if ((rc = tenant_market_get(&c, path, &acct)) == ERR_NOTFOUND) {
		err_clear();
		acct = json_pack("{s:s,s:{}}", "key", c.address, "balances");
	} else if (rc) {
		rc = fail("balance");
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/orders?tenant=%s", c.address);
	if (tenant_market_get(&c, path, &orders) != 0)
		err_clear();
	escrow = json_object();
	json_array_foreach(orders, i, v)
	{
		const char *d = json_string_value(json_object_get(v, "denom"));
		json_int_t e = json_integer_value(json_object_get(v, "escrow"));
		if (d == NULL || e <= 0)
			continue;
		json_object_set_new(escrow, d,
		    json_integer(
		        e + json_integer_value(json_object_get(escrow, d))));
	}
	bal = json_object_get(acct, "balances");
	if (o->json) {
		json_object_set(acct, "escrow", escrow);
		print_json(acct);
	} else {
		printf("%s\n", c.address);
		if (json_object_size(bal) == 0)
			printf("  (no balance)\n");
		json_object_foreach(bal, denom, v)
		    printf("  %-8s %lld available, %lld in escrow\n", denom,
		        (long long)json_integer_value(v),
		        (long long)json_integer_value(
		            json_object_get(escrow, denom)));
	}
	rc = EXIT_OK;
out:
	json_decref(acct);
	json_decref(orders);
	json_decref(escrow);
	tenant_client_clear(&c);
	return rc;
}

/* ---- deploy --------------------------------------------------------- */

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
};

static void
render(void *ctx, const struct tenant_progress *p)
{
	struct render *r = ctx;

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

static int
cmd_deploy(const struct opts *o, int argc, char **argv)
{
	struct tenant_deploy_opts d = { 0 };
	struct sdl_errors errs = { 0 };
	struct tenant_paths p;
	struct tenant_client c;
	enum tenant_failure failure;
	struct render r;
	json_t *res = NULL;
	int64_t v;
	int rc;

	if (argc != 1)
		return help_for("deploy", stderr), EXIT_USAGE;
	d.file = argv[0];
	d.no_wait = o->no_wait;
	if (o->deposit && (rc = parse_amount(o->deposit, &d.deposit)))
		return rc;
	if (o->ttl) {
		if (util_parse_i64(o->ttl, "--ttl", &v) || v <= 0 ||
		    v > 365 * 86400) {
			fprintf(stderr,
			    "tenant: --ttl \"%s\" is not a number "
			    "of seconds (1 to 31536000)\n",
			    o->ttl);
			return EXIT_USAGE;
		}
		d.ttl_ms = v * 1000;
	}
	if (o->timeout) {
		if (util_parse_i64(o->timeout, "--timeout", &v) || v <= 0 ||
		    v > 86400) {
			fprintf(stderr,
			    "tenant: --timeout \"%s\" is not a "
			    "number of seconds (1 to 86400)\n",
			    o->timeout);
			return EXIT_USAGE;
		}
		d.run_timeout_ms = v * 1000;
	}
	if ((rc = open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	/* with --json the JSON owns stdout and progress goes to stderr */
	r.f = o->json ? stderr : stdout;
	r.tty = isatty(fileno(r.f)) && getenv("TERM") &&
	    strcmp(getenv("TERM"), "dumb") != 0;
	r.pending = false;
	rc = tenant_deploy(&c, &p, &d, render, &r, &errs, &failure, &res);
	if (r.pending)
		fputs("\r\033[K", r.f);
	if (rc) {
		for (size_t i = 0; i < errs.count; i++)
			fprintf(stderr, "%s\n", errs.items[i]);
		if (errs.dropped)
			fprintf(stderr, "%s: ... and %zu more errors\n", d.file,
			    errs.dropped);
		if (errs.count == 0 || failure != TENANT_FAIL_SDL)
			fprintf(stderr, "tenant: deploy: %s\n", err_msg());
		else
			fprintf(stderr, "tenant: deploy: %s is not valid SDL\n",
			    d.file);
	}
	if (rc && failure != TENANT_FAIL_NOMATCH && res &&
	    json_string_length(json_object_get(res, "deployment")) > 0)
		fprintf(stderr,
		    "tenant: deployment %s was posted; `tenant close "
		    "%s` releases its escrow\n",
		    json_string_value(json_object_get(res, "deployment")),
		    json_string_value(json_object_get(res, "deployment")));
	if (o->json && res)
		print_json(res);
	else if (rc == 0 && d.no_wait)
		printf("deployment %s posted; follow it with `tenant ls` or "
		       "`tenant status`\n",
		    json_string_value(json_object_get(res, "deployment")));
	else if (rc == 0)
		printf("deployment %s is running; `tenant close %s` ends it\n",
		    json_string_value(json_object_get(res, "deployment")),
		    json_string_value(json_object_get(res, "deployment")));
	json_decref(res);
	sdl_errors_free(&errs);
	tenant_client_clear(&c);
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

/* ---- ls, status ----------------------------------------------------- */

static int
cmd_ls(const struct opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *orders = NULL, *leases = NULL, *out = NULL, *ord;
	char path[256];
	size_t i;
	int rc;

	(void)argv;
	if (argc != 0)
		return help_for("ls", stderr), EXIT_USAGE;
	if ((rc = open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	snprintf(path, sizeof(path), "/v1/orders?tenant=%s", c.address);
	if (tenant_market_get(&c, path, &orders)) {
		rc = fail("ls");
		goto done;
	}
	snprintf(path, sizeof(path), "/v1/leases?tenant=%s", c.address);
	if (tenant_market_get(&c, path, &leases)) {
		rc = fail("ls");
		goto done;
	}
	out = json_array();
	json_array_foreach(orders, i, ord)
	{
		const char *id = json_string_value(json_object_get(ord, "id"));
		const char *st =
		    json_string_value(json_object_get(ord, "status"));
		const char *lid =
		    json_string_value(json_object_get(ord, "lease"));
		json_t *rec = NULL, *lease = NULL, *l, *row;
		size_t j;
		const char *dep = id;

		if (!o->all && st && strcmp(st, "closed") == 0)
			continue;
		if (tenant_record_find_order(&p, id, &rec) == 0)
			dep = json_string_value(json_object_get(rec, "id"));
		else
			err_clear();
		json_array_foreach(leases, j, l) if (lid &&
		    json_is_string(json_object_get(l, "id")) &&
		    strcmp(json_string_value(json_object_get(l, "id")), lid) ==
		        0) lease = l;
		row = json_pack("{s:s,s:s,s:s,s:O,s:O,s:O,s:O,s:O}",
		    "deployment", dep ? dep : id, "order", id, "status",
		    st ? st : "?", "lease", json_object_get(ord, "lease"),
		    "reason", json_object_get(ord, "reason"), "escrow",
		    json_object_get(ord, "escrow"), "max_price",
		    json_object_get(ord, "max_price"), "denom",
		    json_object_get(ord, "denom"));
		if (row && lease) {
			json_object_set(row, "lease_status",
			    json_object_get(lease, "status"));
			json_object_set(row, "provider",
			    json_object_get(lease, "provider"));
			json_object_set(row, "price",
			    json_object_get(lease, "price"));
			json_object_set(row, "charged",
			    json_object_get(lease, "charged"));
			json_object_set(row, "escrow",
			    json_object_get(lease, "escrow"));
			if (json_is_string(json_object_get(lease, "reason")))
				json_object_set(row, "reason",
				    json_object_get(lease, "reason"));
		}
		if (row)
			json_array_append_new(out, row);
		json_decref(rec);
	}
	if (o->json)
		print_json(out);
	else {
		json_t *row;
		if (json_array_size(out) == 0)
			printf("no %sorders (ls --all shows closed ones)\n",
			    o->all ? "" : "open ");
		else
			printf("%-11s %-9s %-8s %-9s %-8s %-14s %9s %9s %11s "
			       "%s\n",
			    "DEPLOYMENT", "ORDER", "ORDER-ST", "LEASE",
			    "LEASE-ST", "PROVIDER", "PRICE", "CHARGED",
			    "ESCROW", "REASON");
		json_array_foreach(out, i, row)
		{
			const char *pv =
			    json_string_value(json_object_get(row, "provider"));
			const char *rs =
			    json_string_value(json_object_get(row, "reason"));
			const char *ls = json_string_value(
			    json_object_get(row, "lease_status"));
			const char *lid =
			    json_string_value(json_object_get(row, "lease"));
			printf("%-11s %-9s %-8s %-9s %-8s %-14.14s %9lld %9lld "
			       "%11lld %s\n",
			    json_string_value(
			        json_object_get(row, "deployment")),
			    json_string_value(json_object_get(row, "order")),
			    json_string_value(json_object_get(row, "status")),
			    lid ? lid : "-", ls ? ls : "-", pv ? pv : "-",
			    (long long)json_integer_value(
			        json_object_get(row, "price")),
			    (long long)json_integer_value(
			        json_object_get(row, "charged")),
			    (long long)json_integer_value(
			        json_object_get(row, "escrow")),
			    rs ? rs : "");
		}
	}
	rc = EXIT_OK;
done:
	json_decref(out);
	json_decref(orders);
	json_decref(leases);
	tenant_client_clear(&c);
	return rc;
}

/* The lease of id: a lease id as is, an order's lease otherwise. */
static int
resolve_lease(struct tenant_client *c, const char *id, char *lease, size_t cap)
{
	json_t *ord = NULL;
	char path[96];
	const char *l;
	int rc;

	if (is_id(id, 'l')) {
		snprintf(lease, cap, "%s", id);
		return 0;
	}
	if (!is_id(id, 'o'))
		return err_set(ERR_INVAL,
		    "\"%s\" is neither a lease (l-N) nor "
		    "an order (o-N)",
		    id);
	snprintf(path, sizeof(path), "/v1/orders/%s", id);
	if ((rc = tenant_market_get(c, path, &ord)) != 0)
		return rc;
	l = json_string_value(json_object_get(ord, "lease"));
	if (l == NULL)
		rc = err_set(ERR_NOTFOUND, "order %s has no lease (status %s)",
		    id, json_string_value(json_object_get(ord, "status")));
	else
		snprintf(lease, cap, "%s", l);
	json_decref(ord);
	return rc;
}

/* GET a provider path for lease l (signed); *out the JSON answer. */
static int
provider_json(struct tenant_client *c, const json_t *l, const char *suffix,
    char **api, json_t **out)
{
	struct http_result res;
	char path[128], ebuf[512];
	const char *id = json_string_value(json_object_get(l, "id"));
	int rc;

	*out = NULL;
	if ((rc = tenant_provider_url(c,
	         json_string_value(json_object_get(l, "provider")), api)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/leases/%s/%s", id, suffix);
	if ((rc = tenant_provider_call(c, *api, "GET", path, NULL, NULL, 0, 0,
	         &res)) != 0)
		return rc;
	if (res.status != 200)
		rc = err_set(res.status == 404 ? ERR_NOTFOUND : ERR_REJECT,
		    "provider: GET %s: HTTP %ld: %s", path, res.status,
		    tenant_error_text(res.body, ebuf, sizeof(ebuf)));
	else if ((*out = json_loadb(res.body, res.body_len, 0, NULL)) == NULL)
		rc = err_set(ERR_IO, "provider: GET %s: not JSON", path);
	http_result_clear(&res);
	return rc;
}

static int
cmd_status(const struct opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *l = NULL, *ps = NULL, *out = NULL, *rep, *urls = NULL;
	char lease[32], path[96], *api = NULL;
	const char *k;
	json_t *v;
	size_t i;
	int rc;

	if (argc != 1)
		return help_for("status", stderr), EXIT_USAGE;
	if ((rc = open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	if (resolve_lease(&c, argv[0], lease, sizeof(lease))) {
		rc = fail("status");
		goto done;
	}
	snprintf(path, sizeof(path), "/v1/leases/%s", lease);
	if (tenant_market_get(&c, path, &l)) {
		rc = fail("status");
		goto done;
	}
	out = json_pack("{s:O}", "market", l);
	if (provider_json(&c, l, "status", &api, &ps) == 0) {
		json_object_set(out, "provider", ps);
		urls = json_object();
		json_array_foreach(json_object_get(ps, "replicas"), i, rep)
		{
			const char *svc =
			    json_string_value(json_object_get(rep, "service"));
			json_t *ex;
			size_t j;
			json_array_foreach(json_object_get(rep, "expose"), j,
			    ex) if (svc &&
			    json_is_true(json_object_get(ex, "global")))
			{
				char url[1024];
				snprintf(url, sizeof(url), "%s/l/%s/%s/", api,
				    lease, svc);
				json_object_set_new(urls, svc,
				    json_string(url));
			}
		}
		json_object_set(out, "services", urls);
	} else {
		json_object_set_new(out, "provider", json_null());
		json_object_set_new(out, "provider_error",
		    json_string(err_msg()));
		err_clear();
	}
	if (api)
		json_object_set_new(out, "api_url", json_string(api));
	if (o->json) {
		print_json(out);
		rc = EXIT_OK;
		goto done;
	}
	printf("lease %s (order %s)\n", lease,
	    json_string_value(json_object_get(l, "order")));
	printf("  status    %s%s%s\n",
	    json_string_value(json_object_get(l, "status")),
	    json_is_string(json_object_get(l, "reason")) ? ", " : "",
	    json_is_string(json_object_get(l, "reason")) ?
	        json_string_value(json_object_get(l, "reason")) :
	        "");
	printf("  provider  %s%s%s\n",
	    json_string_value(json_object_get(l, "provider")),
	    api ? " at " : "", api ? api : "");
	printf("  price     %lld per epoch; charged %lld; escrow %lld; "
	       "fees %lld\n",
	    (long long)json_integer_value(json_object_get(l, "price")),
	    (long long)json_integer_value(json_object_get(l, "charged")),
	    (long long)json_integer_value(json_object_get(l, "escrow")),
	    (long long)json_integer_value(json_object_get(l, "fees")));
	printf("  usage    ");
	json_object_foreach(json_object_get(l, "usage"), k, v)
	    printf(" %s=%lld", k, (long long)json_integer_value(v));
	printf("\n");
	if (ps) {
		printf("  workload  %s\n",
		    json_string_value(json_object_get(ps, "status")));
		json_array_foreach(json_object_get(ps, "replicas"), i, rep)
		{
			const char *le = json_string_value(
			    json_object_get(rep, "last_error"));
			printf("    %s#%lld %s, %lld restarts%s%s\n",
			    json_string_value(json_object_get(rep, "service")),
			    (long long)json_integer_value(
			        json_object_get(rep, "replica")),
			    json_string_value(json_object_get(rep, "state")),
			    (long long)json_integer_value(
			        json_object_get(rep, "restarts")),
			    le && le[0] ? ": " : "", le ? le : "");
		}
		json_object_foreach(urls, k, v)
		    printf("  url       %s %s\n", k, json_string_value(v));
	} else {
		printf("  workload  unknown (%s)\n",
		    json_string_value(json_object_get(out, "provider_error")));
	}
	rc = EXIT_OK;
done:
	free(api);
	json_decref(urls);
	json_decref(out);
	json_decref(ps);
	json_decref(l);
	tenant_client_clear(&c);
	return rc;
}

/* ---- logs ------------------------------------------------------------ */

static int
write_chunk(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	if (fwrite(data, 1, len, stdout) != len)
		return 1;
	fflush(stdout);
	return 0;
}

static int
cmd_logs(const struct opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *l = NULL;
	char lease[32], path[128], *api = NULL;
	int rc;

	if (argc != 1)
		return help_for("logs", stderr), EXIT_USAGE;
	if ((rc = open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	if (resolve_lease(&c, argv[0], lease, sizeof(lease))) {
		rc = fail("logs");
		goto done;
	}
	snprintf(path, sizeof(path), "/v1/leases/%s", lease);
	if (tenant_market_get(&c, path, &l) ||
	    tenant_provider_url(&c,
	        json_string_value(json_object_get(l, "provider")), &api)) {
		rc = fail("logs");
		goto done;
	}
	snprintf(path, sizeof(path), "/v1/leases/%s/logs%s", lease,
	    o->follow ? "?follow=1" : "");
	if (tenant_provider_follow(&c, api, path, write_chunk, NULL)) {
		rc = fail("logs");
		goto done;
	}
	rc = EXIT_OK;
done:
	free(api);
	json_decref(l);
	tenant_client_clear(&c);
	return rc;
}

/* ---- topup, close ---------------------------------------------------- */

/* The orders of a deployment id (o-N: its record, or just o-N) or of a
 * lease (l-N: its order).  *out is a new array of strings. */
static int
deployment_orders(struct tenant_client *c, const struct tenant_paths *p,
    const char *id, json_t **out)
{
	json_t *rec = NULL, *l = NULL;
	char path[96];
	int rc;

	*out = NULL;
	if (is_id(id, 'o')) {
		if (tenant_record_load(p, id, &rec) == 0) {
			*out = json_incref(json_object_get(rec, "orders"));
			json_decref(rec);
			if (*out)
				return 0;
		}
		err_clear();
		*out = json_pack("[s]", id);
		return 0;
	}
	if (!is_id(id, 'l'))
		return err_set(ERR_INVAL,
		    "\"%s\" is neither a deployment (o-N) "
		    "nor a lease (l-N)",
		    id);
	snprintf(path, sizeof(path), "/v1/leases/%s", id);
	if ((rc = tenant_market_get(c, path, &l)) != 0)
		return rc;
	*out = json_pack("[O]", json_object_get(l, "order"));
	json_decref(l);
	return *out ? 0 : err_set(ERR_INVAL, "lease %s has no order", id);
}

static int
cmd_topup(const struct opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *ids = NULL, *res = json_array(), *v;
	int64_t amount;
	size_t i;
	int rc;

	if (argc != 2)
		return json_decref(res), help_for("topup", stderr), EXIT_USAGE;
	if ((rc = parse_amount(argv[1], &amount)) != EXIT_OK)
		return json_decref(res), rc;
	if ((rc = open_client(o, &p, &c)) != EXIT_OK)
		return json_decref(res), rc;
	if (deployment_orders(&c, &p, argv[0], &ids)) {
		rc = fail("topup");
		goto done;
	}
	rc = EXIT_OK;
	json_array_foreach(ids, i, v)
	{
		const char *id = json_string_value(v);
		json_t *body = json_pack("{s:s,s:I}", "order", id, "amount",
		           (json_int_t)amount),
		       *ord = NULL;
		char path[96];

		if (tenant_market_submit(&c, "deployment.deposit", body, NULL,
		        NULL, 0)) {
			json_decref(body);
			rc = fail("topup");
			goto done;
		}
		json_decref(body);
		snprintf(path, sizeof(path), "/v1/orders/%s", id);
		if (tenant_market_get(&c, path, &ord) == 0) {
			json_t *row = json_pack("{s:s,s:I,s:O}", "order", id,
			    "added", (json_int_t)amount, "escrow",
			    json_object_get(ord, "escrow"));
			json_array_append_new(res, row);
			if (!o->json)
				printf("%s: +%lld, escrow now %lld %s\n", id,
				    (long long)amount,
				    (long long)json_integer_value(
				        json_object_get(ord, "escrow")),
				    json_string_value(
				        json_object_get(ord, "denom")));
		}
		err_clear();
		json_decref(ord);
	}
	if (o->json)
		print_json(res);
done:
	json_decref(res);
	json_decref(ids);
	tenant_client_clear(&c);
	return rc;
}

/* lease.close (tenant_closed) for the order's lease unless it is closed
 * already. */
static int
close_lease_of(struct tenant_client *c, const json_t *ord)
{
	const char *lid = json_string_value(json_object_get(ord, "lease"));
	json_t *l = NULL, *body;
	char path[96];
	const char *st;
	int rc;

	if (lid == NULL)
		return 0;
	snprintf(path, sizeof(path), "/v1/leases/%s", lid);
	if ((rc = tenant_market_get(c, path, &l)) != 0)
		return rc;
	st = json_string_value(json_object_get(l, "status"));
	if (st && strcmp(st, "closed") != 0) {
		body = json_pack("{s:s,s:s}", "lease", lid, "reason",
		    "tenant_closed");
		rc =
		    tenant_market_submit(c, "lease.close", body, NULL, NULL, 0);
		json_decref(body);
	}
	json_decref(l);
	return rc;
}

static int
cmd_close(const struct opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	json_t *ids = NULL, *res = json_array(), *v;
	size_t i;
	int rc;

	if (argc != 1)
		return json_decref(res), help_for("close", stderr), EXIT_USAGE;
	if ((rc = open_client(o, &p, &c)) != EXIT_OK)
		return json_decref(res), rc;
	if (is_id(argv[0], 'l')) {
		json_t *body = json_pack("{s:s,s:s}", "lease", argv[0],
		    "reason", "tenant_closed");
		rc = tenant_market_submit(&c, "lease.close", body, NULL, NULL,
		    0);
		json_decref(body);
		if (rc) {
			rc = fail("close");
			goto done;
		}
	}
	if (deployment_orders(&c, &p, argv[0], &ids)) {
		rc = fail("close");
		goto done;
	}
	rc = EXIT_OK;
	json_array_foreach(ids, i, v)
	{
		const char *id = json_string_value(v);
		json_t *ord = NULL, *body, *row;
		char path[96];
		const char *st;

		snprintf(path, sizeof(path), "/v1/orders/%s", id);
		if (tenant_market_get(&c, path, &ord)) {
			rc = fail("close");
			continue;
		}
		/* a lease is closed with its own lease.close first: that is
		 * the entry providers follow to stop the workload */
		if (close_lease_of(&c, ord) != 0)
			rc = fail("close");
		json_decref(ord);
		if (tenant_market_get(&c, path, &ord)) {
			rc = fail("close");
			continue;
		}
		st = json_string_value(json_object_get(ord, "status"));
		if (st && strcmp(st, "closed") != 0) {
			body = json_pack("{s:s}", "order", id);
			if (tenant_market_submit(&c, "order.close", body, NULL,
			        NULL, 0))
				rc = fail("close");
			json_decref(body);
			json_decref(ord);
			ord = NULL;
			if (tenant_market_get(&c, path, &ord)) {
				rc = fail("close");
				continue;
			}
		}
		row = json_pack("{s:s,s:O,s:O,s:O,s:O}", "order", id, "lease",
		    json_object_get(ord, "lease"), "status",
		    json_object_get(ord, "status"), "reason",
		    json_object_get(ord, "reason"), "refund",
		    json_object_get(ord, "refund"));
		if (row) {
			json_t *l = NULL;
			const char *lid =
			    json_string_value(json_object_get(ord, "lease"));
			if (lid) {
				snprintf(path, sizeof(path), "/v1/leases/%s",
				    lid);
				if (tenant_market_get(&c, path, &l) == 0)
					json_object_set(row, "charged",
					    json_object_get(l, "charged"));
				err_clear();
				json_decref(l);
			}
			json_array_append_new(res, row);
		}
		if (!o->json && row)
			printf("%s%s%s closed (%s): charged %lld, refunded "
			       "%lld %s\n",
			    id,
			    json_is_string(json_object_get(row, "lease")) ?
			        " / " :
			        "",
			    json_is_string(json_object_get(row, "lease")) ?
			        json_string_value(
			            json_object_get(row, "lease")) :
			        "",
			    json_is_string(json_object_get(row, "reason")) ?
			        json_string_value(
			            json_object_get(row, "reason")) :
			        "?",
			    (long long)json_integer_value(
			        json_object_get(row, "charged")),
			    (long long)json_integer_value(
			        json_object_get(row, "refund")),
			    json_string_value(json_object_get(ord, "denom")));
		json_decref(ord);
	}
	if (o->json)
		print_json(res);
done:
	json_decref(res);
	json_decref(ids);
	tenant_client_clear(&c);
	return rc;
}

/* ---- main ------------------------------------------------------------ */

static const struct {
	const char *name;
	int (*fn)(const struct opts *, int, char **);
} cmds[] = {
	{ "keygen", cmd_keygen },
	{ "address", cmd_address },
	{ "balance", cmd_balance },
	{ "deploy", cmd_deploy },
	{ "ls", cmd_ls },
	{ "status", cmd_status },
	{ "logs", cmd_logs },
	{ "topup", cmd_topup },
	{ "close", cmd_close },
};

int
main(int argc, char **argv)
{
	static const struct option lopts[] = { { "market", required_argument,
		                                   NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "follow", no_argument, NULL, 'f' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "deposit", required_argument, NULL, 'd' },
		{ "ttl", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 } };
	struct opts o = { 0 };
	const char *cmd = NULL;
	int c;

	/* options may come before or after the command (GNU permutation) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hf", lopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.market = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			o.help = true;
			break;
		case 'f':
			o.follow = true;
			break;
		case 'n':
			o.no_wait = true;
			break;
		case 'a':
			o.all = true;
			break;
		case 'd':
			o.deposit = optarg;
			break;
		case 't':
			o.ttl = optarg;
			break;
		case 'T':
			o.timeout = optarg;
			break;
		default:
			fprintf(stderr,
			    "tenant: unknown or incomplete option "
			    "\"%s\"\n",
			    argv[optind - 1]);
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		cmd = argv[optind++];
	if (cmd == NULL || strcmp(cmd, "help") == 0) {
		if (cmd && optind < argc && help_for(argv[optind], stdout))
			return EXIT_OK;
		fputs(usage_text, cmd || o.help ? stdout : stderr);
		return cmd || o.help ? EXIT_OK : EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmds[i].name, cmd) != 0)
			continue;
		if (o.help) {
			help_for(cmd, stdout);
			return EXIT_OK;
		}
		return cmds[i].fn(&o, argc - optind, argv + optind);
	}
	fprintf(stderr, "tenant: unknown command \"%s\"\n", cmd);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}
