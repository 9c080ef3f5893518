/*
 * provider (front): what `provider` runs first.  The commands that start
 * workloads (sandbox run, wasm run|serve|compile|validate|spec) run here,
 * in a program linked with only what they use; every other command is
 * exec'd, argv unchanged, in provider-full beside this binary (main.c),
 * which links libcurl, libgit2, libarchive and SQLite.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "provider/cmd.h"

static const struct cmd *const commands[] = {
	&cmd_sandbox_run,
	&cmd_wasm_run,
	&cmd_wasm_serve,
	&cmd_wasm_compile,
	&cmd_wasm_validate,
	&cmd_wasm_spec,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The rest: provider-full in this binary's directory. */
static int
exec_full(char **argv)
{
	char self[PATH_MAX], full[PATH_MAX + 16], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0) {
		fprintf(stderr, "provider: /proc/self/exe: %s\n",
		    strerror(errno));
		return CMD_FAIL;
	}
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	snprintf(full, sizeof(full), "%s/provider-full", self);
	execv(full, argv);
	fprintf(stderr, "provider: cannot run %s: %s\n", full, strerror(errno));
	return CMD_FAIL;
}

int
main(int argc, char **argv)
{
	static char name[64];
	const struct cmd *c;
	size_t i;

	for (i = 0; argc >= 3 && i < NCOMMANDS; i++) {
		c = commands[i];
		if (strcmp(argv[1], c->group) != 0 ||
		    strcmp(argv[2], c->name) != 0)
			continue;
		/* As main.c's run(): argv[0] names the whole command. */
		snprintf(name, sizeof(name), "provider %s %s", c->group,
		    c->name);
		argv[2] = name;
		optind = 1;
		return c->run(c, argc - 2, argv + 2);
	}
	return exec_full(argv);
}
