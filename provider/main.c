/*
 * provider: the provider's command line.  Finds the command in the table
 * below and runs it; each is a cmd_<name>.c (see cmd.h), a thin client of
 * the provider, sandbox and wasm libraries.
 */
#include <stdio.h>
#include <string.h>

#include "provider/cmd.h"

static const struct cmd *const commands[] = {
	&cmd_init,
	&cmd_run,
	&cmd_status,
	&cmd_bond,
	&cmd_withdraw,
	&cmd_transfer,
	&cmd_request,
	&cmd_sandbox_run,
	&cmd_sandbox_enter,
	&cmd_prepare_git,
	&cmd_prepare_fetch,
	&cmd_prepare_wasm,
	&cmd_wasm_run,
	&cmd_wasm_serve,
	&cmd_wasm_compile,
	&cmd_wasm_validate,
	&cmd_wasm_spec,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The commands of group (all of them when NULL), one line each. */
static void
usage(FILE *f, const char *group)
{
	const struct cmd *c;
	size_t i;

	fprintf(f,
	    "usage: provider COMMAND [options]   (COMMAND -h: its own)\n");
	for (i = 0; i < NCOMMANDS; i++) {
		c = commands[i];
		if (group == NULL || strcmp(c->group, group) == 0)
			fprintf(f, "  %-8s %-8s %s\n", c->group,
			    c->name ? c->name : "", c->help);
	}
}

/* Run c on argv, whose argv[0] is the command's last word: renamed to
 * the whole command, which getopt's messages then name. */
static int
run(const struct cmd *c, int argc, char **argv)
{
	static char name[64];

	snprintf(name, sizeof(name), "provider %s%s%s", c->group,
	    c->name ? " " : "", c->name ? c->name : "");
	argv[0] = name;
	return c->run(c, argc, argv);
}

static int
is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

int
main(int argc, char **argv)
{
	const struct cmd *c;
	int known_group = 0;
	size_t i;

	if (argc < 2 || is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout, NULL);
		return argc < 2 ? CMD_USAGE : CMD_OK;
	}
	optind = 1;
	for (i = 0; i < NCOMMANDS; i++) {
		c = commands[i];
		if (strcmp(argv[1], c->group) != 0)
			continue;
		known_group = 1;
		if (c->name == NULL)
			return run(c, argc - 1, argv + 1);
		if (argc >= 3 && strcmp(argv[2], c->name) == 0)
			return run(c, argc - 2, argv + 2);
	}
	/* `provider wasm` alone, or with -h: what the group has. */
	if (known_group && (argc == 2 || is_help(argv[2]))) {
		usage(argc == 2 ? stderr : stdout, argv[1]);
		return argc == 2 ? CMD_USAGE : CMD_OK;
	}
	fprintf(stderr, "provider: unknown command \"%s%s%s\"\n", argv[1],
	    argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
	usage(stderr, NULL);
	return CMD_USAGE;
}
