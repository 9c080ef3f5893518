/*
 * cmd_enter: `provider sandbox enter --pid PID [--tty] -- CMD...`, one
 * command inside a running sandbox as its workload runs
 * (sandbox/enter.h).  The daemon starts it for `tenant exec` and `tenant
 * shell` (provider/exec.c): a fresh single-threaded process, since
 * joining namespaces changes the whole process.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "provider/cmd.h"
#include "sandbox/enter.h"
#include "sandbox/sandbox.h"

#define ENTER_MAX_ENV 32
/* Exit statuses when the command did not get to run (as env(1)). */
#define ENTER_EXIT_SETUP 125
#define ENTER_EXIT_NOTFOUND 127

static int
enter(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "start", required_argument, NULL, 's' },
		{ "tty", no_argument, NULL, 't' },
		{ "env", required_argument, NULL, 'e' },
		CMD_OPTS_END,
	};
	const char *env[ENTER_MAX_ENV + 1];
	struct sandbox_enter e = { NULL, env, 0, 0 };
	int64_t pid = 0;
	size_t nenv = 0;
	int ch, rc, status;

	memset(env, 0, sizeof(env));
	while ((ch = cmd_getopt(c, argc, argv, "+ht", opts, &rc)) != -1) {
		if (ch == CMD_DONE)
			return rc;
		if (ch == 'p' && util_parse_i64(optarg, "--pid", &pid) < 0)
			return cmd_fail(CMD_USAGE);
		if (ch == 's' &&
		    util_parse_u64(optarg, "--start", &e.start_ticks) < 0)
			return cmd_fail(CMD_USAGE);
		if (ch == 't')
			e.tty = 1;
		if (ch == 'e') {
			if (nenv == ENTER_MAX_ENV ||
			    strchr(optarg, '=') == NULL) {
				err_set(ERR_INVAL,
				    "--env %s: expected K=V, at most %d",
				    optarg, ENTER_MAX_ENV);
				return cmd_fail(CMD_USAGE);
			}
			env[nenv++] = optarg;
		}
	}
	if (pid <= 0 || optind >= argc)
		return cmd_misuse(c);
	e.argv = (const char *const *)argv + optind;
	if ((rc = sandbox_enter_run((pid_t)pid, &e, &status)) < 0) {
		rc =
		    rc == ERR_NOTFOUND ? ENTER_EXIT_NOTFOUND : ENTER_EXIT_SETUP;
		cmd_fail(CMD_FAIL);
		return rc;
	}
	return sandbox_exit_code(status);
}

const struct cmd cmd_sandbox_enter = {
	.group = "sandbox",
	.name = "enter",
	.run = enter,
	.help = "run a command inside a running sandbox",
	.usage =
	    "usage: provider sandbox enter --pid PID [--start TICKS] [--tty] "
	    "[--env K=V]... -- CMD [ARG...]\n"
	    "Run CMD inside the running sandbox whose init is PID: its "
	    "cgroups and\n"
	    "namespaces, its workload's uid, groups, capabilities, "
	    "rlimits, seccomp\n"
	    "filter, working directory and environment (--env adds or "
	    "replaces\n"
	    "entries), never more.  --tty: standard input is a terminal, "
	    "made the\n"
	    "command's controlling one.  Exits with the command's status; "
	    "125 when it\n"
	    "could not be started, 127 when CMD is not found inside.  "
	    "As root (or as\n"
	    "the user that started the sandbox).  The daemon runs it for "
	    "`tenant exec`.\n"
	    "--start TICKS: PID must have started then (/proc/PID/stat "
	    "field 22), so a\n"
	    "pid another sandbox's init took meanwhile is refused (127).\n",
};
