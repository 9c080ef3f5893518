/*
 * cmd_common: the options of every tenant command, parsed once, and the
 * helpers the commands share: usage and failure lines, JSON output, the
 * key and market client, amounts.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/http.h"
#include "common/util.h"
#include "tenant/checkpoint.h"
#include "tenant/cmd.h"

int
cmd_opts_parse(int argc, char **argv, struct cmd_opts *o, int *cmd)
{
	static const struct option lopts[] = {
		{ "market", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "follow", no_argument, NULL, 'f' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "deposit", required_argument, NULL, 'd' },
		{ "ttl", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "witness-policy", required_argument, NULL, 'W' },
		{ "tty", no_argument, NULL, 'Y' },
		{ "insecure-http", no_argument, NULL, 'H' },
		{ "market-key", required_argument, NULL, 'K' },
		{ "auto", required_argument, NULL, 'A' },
		{ "below", required_argument, NULL, 'B' }, { NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hf", lopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->market = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			o->help = true;
			break;
		case 'f':
			o->follow = true;
			break;
		case 'n':
			o->no_wait = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 'd':
			o->deposit = optarg;
			break;
		case 't':
			o->ttl = optarg;
			break;
		case 'T':
			o->timeout = optarg;
			break;
		case 'W':
			o->witness_policy = optarg;
			break;
		case 'Y':
			o->tty = true;
			break;
		case 'H':
			o->insecure_http = true;
			break;
		case 'K':
			o->market_key = optarg;
			break;
		case 'A':
			o->auto_topup = optarg;
			break;
		case 'B':
			o->below = optarg;
			break;
		default:
			fprintf(stderr,
			    "tenant: unknown or incomplete option "
			    "\"%s\"\n",
			    argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	*cmd = optind;
	return EXIT_OK;
}

int
cmd_usage(const char *help)
{
	fputs(help, stderr);
	return EXIT_USAGE;
}

int
cmd_fail(const char *what)
{
	fprintf(stderr, "tenant: %s%s%s\n", what ? what : "", what ? ": " : "",
	    err_msg());
	return EXIT_FAIL;
}

void
cmd_print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s) {
		puts(s);
		free(s);
	}
}

/* Once per command: the market's checkpoint against the remembered one
 * (tenant/checkpoint.h).  On failure c is cleared. */
static int
check_checkpoint(const struct cmd_opts *o, const struct tenant_paths *p,
    struct tenant_client *c)
{
	const char *policy = o->witness_policy ? o->witness_policy :
	                                         getenv("LODGE_WITNESS_POLICY");
	char pinned[PATH_MAX];
	int rc;

	if (policy != NULL && policy[0] == '\0')
		policy = NULL;
	rc = tenant_checkpoint_check(p, c->market, policy, pinned,
	    sizeof(pinned));
	if (rc == 0) {
		if (pinned[0] != '\0')
			fprintf(stderr,
			    "tenant: first use of this market's log: its "
			    "witnesses are pinned in %s\n",
			    pinned);
		return EXIT_OK;
	}
	if (rc == ERR_ALARM) {
		fprintf(stderr, "tenant: %s\n", err_msg());
		rc = EXIT_FAIL;
	} else if (rc == ERR_IO) {
		/* No answer, or not a market's (a 404, another server's
		 * page): the same words as every other non-market answer
		 * (tenant/view.c). */
		fprintf(stderr,
		    "tenant: %s does not answer as a Lodge market: %s\n",
		    c->market, err_msg());
		rc = EXIT_FAIL;
	} else
		rc = cmd_fail("the market's checkpoint");
	tenant_client_clear(c);
	return rc;
}

/* The market's TLS key, pinned (README "TLS"): --market-key, else the
 * one known_markets remembers, else learned now.  A plain http:// market
 * only with --insecure-http.  On failure c is cleared. */
static int
pin_market(const struct cmd_opts *o, const struct tenant_paths *p,
    struct tenant_client *c)
{
	const char *given =
	    o->market_key ? o->market_key : getenv("LODGE_MARKET_KEY");
	char known[PATH_MAX + 32];
	int learned = 0;

	if (strncmp(c->market, "http://", 7) == 0) {
		if (c->insecure_http)
			return EXIT_OK;
		fprintf(stderr,
		    "tenant: market %s is plain http://: refused (give its "
		    "https:// URL, or --insecure-http for loopback "
		    "development)\n",
		    c->market);
		tenant_client_clear(c);
		return EXIT_FAIL;
	}
	snprintf(known, sizeof(known), "%s/known_markets", p->dir);
	if (util_mkdirs(p->dir, 0700) < 0 ||
	    http_pin_known(c->market, given, known, c->timeout_ms, &learned) <
	        0) {
		fprintf(stderr, "tenant: market %s: %s\n", c->market,
		    err_msg());
		tenant_client_clear(c);
		return EXIT_FAIL;
	}
	if (learned)
		fprintf(stderr,
		    "tenant: first use of market %s: its TLS key is "
		    "remembered in %s\n",
		    c->market, known);
	return EXIT_OK;
}

int
cmd_open_client(const struct cmd_opts *o, struct tenant_paths *p,
    struct tenant_client *c)
{
	struct key *k = NULL;
	const char *m = o->market ? o->market : getenv("LODGE_MARKET");

	memset(c, 0, sizeof(*c));
	if (tenant_paths_init(p) || tenant_key_load(p, &k))
		return cmd_fail(NULL);
	if (m == NULL || m[0] == '\0') {
		key_free(k);
		fprintf(stderr,
		    "tenant: no market: give --market URL or set "
		    "LODGE_MARKET\n");
		return EXIT_USAGE;
	}
	if (tenant_client_init(c, m, k)) {
		tenant_client_clear(c);
		return cmd_fail(NULL);
	}
	c->insecure_http = o->insecure_http || util_insecure_http_env();
	if (pin_market(o, p, c) != EXIT_OK)
		return EXIT_FAIL;
	return check_checkpoint(o, p, c);
}

int
cmd_parse_amount(const char *s, int64_t *out)
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
