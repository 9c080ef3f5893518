/*
 * cmd_shell: `tenant shell LEASE [SERVICE]`, a terminal in a running
 * replica, and `tenant exec LEASE SERVICE [--tty] -- CMD...`, one
 * command there (tenant/exec.h): the local terminal in raw mode while a
 * remote one runs, its size sent when it changes; exits with the
 * command's status.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "tenant/cmd.h"
#include "tenant/exec.h"

const char cmd_shell_help[] =
    "usage: tenant shell LEASE|ORDER [SERVICE] [--market URL]\n"
    "A shell (sh) on a terminal inside a running replica of SERVICE (the "
    "lease's\n"
    "first by default): its namespaces, cgroup, user and seccomp filter, "
    "never more\n"
    "than the workload has.  Only the lease's tenant may; the provider "
    "logs each\n"
    "session and its usage is the lease's.  Exits with the shell's "
    "status.\n";

const char cmd_exec_help[] =
    "usage: tenant exec LEASE|ORDER SERVICE [--tty] [--market URL] -- CMD "
    "[ARG...]\n"
    "Run CMD inside a running replica of SERVICE as `tenant shell` does, "
    "its\n"
    "standard input, output and error passed through (--tty: on a "
    "terminal there,\n"
    "this one in raw mode).  Ctrl-C reaches CMD.  Exits with CMD's status "
    "(128+N\n"
    "when killed by signal N; 127 when it is not found inside); 1 with a "
    "message\n"
    "when the session could not start.\n";

static volatile sig_atomic_t winch, pending;

static void
on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

static void
on_signal(int sig)
{
	pending = sig;
}

static int
term_size(int *rows, int *cols)
{
	struct winsize ws;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 &&
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
		return -1;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return *rows > 0 && *cols > 0 ? 0 : -1;
}

static int
run(const struct cmd_opts *o, const char *id, const char *service,
    const char *const *argv, bool tty)
{
	struct tenant_paths p;
	struct tenant_client c;
	struct tenant_exec_opts eo;
	struct termios saved, raw;
	struct sigaction sa;
	int rc, code = 0, local_tty = isatty(STDIN_FILENO), restored = 1;

	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	memset(&eo, 0, sizeof(eo));
	eo.service = service;
	eo.replica = -1;
	eo.argv = argv;
	eo.tty = tty;
	eo.rows = 24;
	eo.cols = 80;
	eo.term = getenv("TERM");
	eo.in_fd = STDIN_FILENO;
	eo.out_fd = STDOUT_FILENO;
	eo.err_fd = STDERR_FILENO;
	eo.winch = &winch;
	eo.signal = &pending;
	eo.size = term_size;
	(void)term_size(&eo.rows, &eo.cols);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Ctrl-C and the rest are bytes for the remote terminal */
	if (tty && local_tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			restored = 0;
	}
	rc = tenant_exec(&c, id, &eo, &code);
	if (!restored)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	tenant_client_clear(&c);
	if (rc != 0)
		return cmd_fail(tty ? "shell" : "exec");
	return code;
}

int
cmd_shell(const struct cmd_opts *o, int argc, char **argv)
{
	static const char *const sh[] = { "sh", NULL };

	if (argc < 1 || argc > 2)
		return cmd_usage(cmd_shell_help);
	return run(o, argv[0], argc == 2 ? argv[1] : NULL, sh,
	    isatty(STDIN_FILENO) || o->tty);
}

int
cmd_exec(const struct cmd_opts *o, int argc, char **argv)
{
	if (argc < 3)
		return cmd_usage(cmd_exec_help);
	return run(o, argv[0], argv[1], (const char *const *)argv + 2, o->tty);
}
