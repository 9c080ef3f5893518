/*
 * tenant: the tenant's command line (docs/tenant.md).  Parses the
 * options and dispatches to one command, tenant/cmd_<name>.c; the work
 * is the tenant library's (config, client, deploy, view, manage).
 */
#include <stdio.h>
#include <string.h>

#include "tenant/cmd.h"

static const char usage_text[] =
    "usage: tenant [--market URL] [--witness-policy FILE] COMMAND [ARGS]\n"
    "              [--market-key KEY] [--insecure-http] [--json]\n"
    "  keygen                      create the tenant's key\n"
    "  address                     print the tenant's account key\n"
    "  balance                     the account's balances\n"
    "  deploy FILE [--deposit AMOUNT] [--ttl SECONDS] [--no-wait]\n"
    "              [--timeout SECONDS]\n"
    "                              order, match, send the manifest, run\n"
    "  ls [--all]                  deployments, orders and leases\n"
    "  status LEASE|ORDER          a lease on the market and its provider\n"
    "  logs LEASE [-f]             the workload's logs (-f: follow)\n"
    "  events LEASE [-f]           the lease's life: ledger and provider "
    "events\n"
    "  shell LEASE [SERVICE]       a terminal in a running replica\n"
    "  exec LEASE SERVICE [--tty] -- CMD...\n"
    "                              one command in a running replica\n"
    "  topup DEPLOYMENT AMOUNT     add AMOUNT to each order's escrow\n"
    "  topup --auto AMOUNT --below EPOCHS LEASE\n"
    "                              a standing top-up in the ledger: AMOUNT\n"
    "                              at each billing leaving fewer than\n"
    "                              EPOCHS epochs paid (--auto off: cancel)\n"
    "  close DEPLOYMENT|LEASE      close it; the escrow left is refunded\n"
    "  update DEPLOYMENT FILE      run a new file on the same leases\n"
    "  quote FILE                  who would win, at what price, and why\n"
    "                              the others do not fit (posts nothing)\n"
    "  providers                   every provider and its record\n"
    "The market is --market URL or $LODGE_MARKET; the key lives in\n"
    "$XDG_CONFIG_HOME/lodge/tenant.key.  Amounts are integer micro-units\n"
    "(uakt; 1 AKT = 1000000 uakt: what is shown gives both).\n"
    "`tenant COMMAND --help` for one command.\n"
    "Each command that talks to the market first checks its checkpoint:\n"
    "cosigned by the witnesses of --witness-policy FILE (or\n"
    "$LODGE_WITNESS_POLICY, or $XDG_CONFIG_HOME/lodge/witness-policy;\n"
    "else those the market named on first use, pinned) and consistent\n"
    "with the last one seen (kept in $XDG_CONFIG_HOME/lodge/logs/).  A\n"
    "market showing another history stops the command with an ALARM and\n"
    "both signed notes.\n"
    "TLS: an https:// market's key is --market-key KEY (or\n"
    "$LODGE_MARKET_KEY), else learned on first use and kept in\n"
    "$XDG_CONFIG_HOME/lodge/known_markets (a changed key stops every\n"
    "command); a provider's certificate must hold its key in the\n"
    "market's state.  Plain http:// markets and providers only with\n"
    "--insecure-http (or $LODGE_INSECURE_HTTP=1), for loopback\n"
    "development.\n"
    "Exit status: 0 success, 1 failure, 2 usage error, 3 invalid SDL,\n"
    "4 nothing matched before the TTL, 5 the provider refused or could\n"
    "not run the deployment.\n";

static const struct {
	const char *name;
	cmd_fn fn;
	const char *help;
} cmds[] = {
	{ "keygen", cmd_keygen, cmd_keygen_help },
	{ "address", cmd_address, cmd_address_help },
	{ "balance", cmd_balance, cmd_balance_help },
	{ "deploy", cmd_deploy, cmd_deploy_help },
	{ "ls", cmd_ls, cmd_ls_help },
	{ "status", cmd_status, cmd_status_help },
	{ "logs", cmd_logs, cmd_logs_help },
	{ "topup", cmd_topup, cmd_topup_help },
	{ "close", cmd_close, cmd_close_help },
	{ "update", cmd_update, cmd_update_help },
	{ "events", cmd_events, cmd_events_help },
	{ "shell", cmd_shell, cmd_shell_help },
	{ "exec", cmd_exec, cmd_exec_help },
	{ "quote", cmd_quote, cmd_quote_help },
	{ "providers", cmd_providers, cmd_providers_help },
};

/* The command called name, or -1. */
static int
find(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
main(int argc, char **argv)
{
	struct cmd_opts o;
	const char *cmd = NULL;
	int i, n, rc;

	if ((rc = cmd_opts_parse(argc, argv, &o, &i)) != EXIT_OK) {
		fputs(usage_text, stderr);
		return rc;
	}
	if (i < argc)
		cmd = argv[i++];
	if (cmd == NULL || strcmp(cmd, "help") == 0) {
		if (cmd && i < argc && (n = find(argv[i])) >= 0) {
			fputs(cmds[n].help, stdout);
			return EXIT_OK;
		}
		fputs(usage_text, cmd || o.help ? stdout : stderr);
		return cmd || o.help ? EXIT_OK : EXIT_USAGE;
	}
	if ((n = find(cmd)) < 0) {
		fprintf(stderr, "tenant: unknown command \"%s\"\n", cmd);
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (o.help) {
		fputs(cmds[n].help, stdout);
		return EXIT_OK;
	}
	return cmds[n].fn(&o, argc - i, argv + i);
}
