/*
 * cmd: what the provider's commands share.  provider/main.c finds the
 * command in its table; each command is a cmd_<name>.c that parses its
 * options with cmd_getopt and calls the provider, sandbox and wasm
 * libraries, printing what they return.
 */
#ifndef LODGE_PROVIDER_CMD_H
#define LODGE_PROVIDER_CMD_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit statuses of every command (`provider sandbox run` and `provider
 * wasm run` pass their workload's on). */
#define CMD_OK 0
#define CMD_FAIL 1 /* the operation failed */
#define CMD_USAGE 2 /* bad arguments */

/* One command: `provider GROUP [NAME] [options] [operands]`. */
struct cmd {
	const char *group;
	const char *name; /* NULL: the group alone is the command */
	/* argv[0] is "provider GROUP [NAME]", argv[1...] what followed;
	 * returns the exit status */
	int (*run)(const struct cmd *c, int argc, char **argv);
	const char *help; /* one line for `provider --help` */
	const char *usage; /* synopsis and options, for -h and misuse */
};

/* The commands, one per cmd_<name>.c. */
extern const struct cmd cmd_init, cmd_run, cmd_status, cmd_request;
extern const struct cmd cmd_bond, cmd_withdraw, cmd_transfer;
extern const struct cmd cmd_sandbox_run, cmd_sandbox_enter;
extern const struct cmd cmd_prepare_git, cmd_prepare_fetch, cmd_prepare_wasm;
extern const struct cmd cmd_wasm_run, cmd_wasm_serve, cmd_wasm_compile,
    cmd_wasm_validate, cmd_wasm_spec;

/* Closes a command's long options, adding --help (give 'h' in the short
 * options too). */
#define CMD_OPTS_END                        \
	{ "help", no_argument, NULL, 'h' }, \
	{                                   \
		NULL, 0, NULL, 0            \
	}

/* cmd_getopt's "stop here": the command returns *status. */
#define CMD_DONE (-2)

/* getopt_long over argv, for command c: the next option, or -1 after the
 * last (optind then indexes the operands); CMD_DONE when the command is
 * to return *status at once: -h or --help (usage on stdout, CMD_OK), an
 * unknown option or a missing value (getopt's message, the usage on
 * stderr, CMD_USAGE). */
int cmd_getopt(const struct cmd *c, int argc, char **argv,
    const char *shortopts, const struct option *longopts, int *status);

/* c's usage on f. */
void cmd_usage(const struct cmd *c, FILE *f);

/* A command line c cannot run (an operand or a required option missing,
 * an operand too many): its usage on stderr; returns CMD_USAGE. */
int cmd_misuse(const struct cmd *c);

/* "provider: MESSAGE" (err_msg(), when there is one) on stderr; returns
 * status. */
int cmd_fail(int status);

/* --id-base: a host uid that leaves at least one range of 65536 ids. */
int cmd_parse_id_base(const char *s, uint64_t *out);

/* The front binary (`provider`, provider/front.c) beside this one when
 * this is provider-full and it is there, into buf; else NULL. */
const char *cmd_front_binary(char *buf, size_t len);

/* The data dir: $LODGE_PROVIDER_DATA, else PROVIDER_DATA_DEFAULT. */
const char *cmd_data_dir(void);

/* The options of a command that reads the data dir and may print JSON:
 * --data DIR into *data (default cmd_data_dir()) and --json into
 * *as_json.  0 with optind at the first operand, or CMD_DONE when the
 * command is to return *status at once (cmd_getopt). */
int cmd_data_json_opts(const struct cmd *c, int argc, char **argv,
    const char **data, int *as_json, int *status);

/* j on stdout, indented, keys sorted: CMD_OK, or CMD_FAIL (the message
 * set) when it cannot be formatted. */
int cmd_print_json(const json_t *j);

/* handler for each signal of sigs (ended by 0), without SA_RESTART: a
 * wait in progress returns, so the command sees the signal at once. */
void cmd_on_signals(void (*handler)(int), const int *sigs);

#endif
