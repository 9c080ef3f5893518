/*
 * cmd: what the tenant's commands share (tenant/cmd_*.c): the options,
 * the exit codes, and the few helpers each would otherwise copy.
 * tenant/main.c parses the options once and dispatches to a command.
 */
#ifndef LODGE_TENANT_CMD_H
#define LODGE_TENANT_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "tenant/client.h"
#include "tenant/config.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1, /* market, provider, network or local error */
	EXIT_USAGE = 2, /* bad arguments */
	EXIT_SDL = 3, /* the SDL file is invalid */
	EXIT_NOMATCH = 4, /* nothing matched before the TTL */
	EXIT_PROVIDER = 5, /* the provider refused or could not run it */
};

/* Every option, before or after the command; a command reads those it
 * takes.  Strings are borrowed from argv and unchecked. */
struct cmd_opts {
	const char *market; /* --market URL */
	bool json; /* --json */
	bool help; /* --help, -h */
	bool follow; /* -f, --follow (logs) */
	bool no_wait; /* --no-wait (deploy) */
	bool all; /* --all (ls) */
	const char *deposit; /* --deposit AMOUNT (deploy) */
	const char *ttl; /* --ttl SECONDS (deploy) */
	const char *timeout; /* --timeout SECONDS (deploy) */
	const char *witness_policy; /* --witness-policy FILE */
	bool tty; /* --tty (exec) */
	bool insecure_http; /* --insecure-http (or $LODGE_INSECURE_HTTP=1) */
	const char *market_key; /* --market-key KEY (or $LODGE_MARKET_KEY) */
	const char *auto_topup; /* --auto AMOUNT|off (topup) */
	const char *below; /* --below EPOCHS (topup --auto) */
};

/* A command: argc/argv are its arguments (options taken out); returns
 * an exit status. */
typedef int (*cmd_fn)(const struct cmd_opts *o, int argc, char **argv);

int cmd_keygen(const struct cmd_opts *o, int argc, char **argv);
int cmd_address(const struct cmd_opts *o, int argc, char **argv);
int cmd_balance(const struct cmd_opts *o, int argc, char **argv);
int cmd_deploy(const struct cmd_opts *o, int argc, char **argv);
int cmd_ls(const struct cmd_opts *o, int argc, char **argv);
int cmd_status(const struct cmd_opts *o, int argc, char **argv);
int cmd_logs(const struct cmd_opts *o, int argc, char **argv);
int cmd_topup(const struct cmd_opts *o, int argc, char **argv);
int cmd_close(const struct cmd_opts *o, int argc, char **argv);
int cmd_update(const struct cmd_opts *o, int argc, char **argv);
int cmd_events(const struct cmd_opts *o, int argc, char **argv);
int cmd_shell(const struct cmd_opts *o, int argc, char **argv);
int cmd_exec(const struct cmd_opts *o, int argc, char **argv);
int cmd_quote(const struct cmd_opts *o, int argc, char **argv);
int cmd_providers(const struct cmd_opts *o, int argc, char **argv);

/* Each command's `--help` text, "usage: tenant NAME ...\n..." */
extern const char cmd_keygen_help[], cmd_address_help[], cmd_balance_help[],
    cmd_deploy_help[], cmd_ls_help[], cmd_status_help[], cmd_logs_help[],
    cmd_topup_help[], cmd_close_help[], cmd_update_help[], cmd_quote_help[],
    cmd_providers_help[];
extern const char cmd_events_help[], cmd_shell_help[], cmd_exec_help[];

/* Parse the options wherever they are (GNU permutation) into o; *cmd is
 * the index of the first argument left (the command), argc when none.
 * An unknown or incomplete option is told on stderr: EXIT_USAGE. */
int cmd_opts_parse(int argc, char **argv, struct cmd_opts *o, int *cmd);

/* help on stderr, for wrong arguments: EXIT_USAGE. */
int cmd_usage(const char *help);

/* "tenant: what: err_msg()" on stderr (what may be NULL): EXIT_FAIL. */
int cmd_fail(const char *what);

/* v on stdout, indented, keys sorted. */
void cmd_print_json(const json_t *v);

/* Load the key into c with the market of --market or $LODGE_MARKET,
 * and check the market's checkpoint against the one the tenant
 * remembers (tenant/checkpoint.h; the policy of --witness-policy or
 * $LODGE_WITNESS_POLICY); EXIT_OK, or the exit status after saying why
 * on stderr (a split view: EXIT_FAIL and the alarm with both notes).  c
 * is cleared on failure, else the caller clears it. */
int cmd_open_client(const struct cmd_opts *o, struct tenant_paths *p,
    struct tenant_client *c);

/* s as a positive amount of micro-units, else EXIT_USAGE said. */
int cmd_parse_amount(const char *s, int64_t *out);

#endif
