/*
 * cmd_run: `provider run`, the provider daemon (provider/daemon.h) in the
 * foreground until SIGINT or SIGTERM.
 */
#include <signal.h>

#include "common/err.h"
#include "common/log.h"
#include "provider/cmd.h"
#include "provider/config.h"
#include "provider/daemon.h"

static volatile sig_atomic_t daemon_stop;

static void
on_stop(int sig)
{
	(void)sig;
	daemon_stop = 1;
}

static int
run(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		CMD_OPTS_END,
	};
	static const int stops[] = { SIGINT, SIGTERM, 0 };
	const char *data = cmd_data_dir();
	enum log_level lv;
	int ch, status;

	while ((ch = cmd_getopt(c, argc, argv, "h", opts, &status)) != -1) {
		if (ch == CMD_DONE)
			return status;
		if (ch == 'd')
			data = optarg;
		else if (ch == 'l') {
			if (log_level_parse(optarg, &lv) < 0)
				return cmd_fail(CMD_USAGE);
			log_set_level(lv);
		}
	}
	log_set_name("provider");
	cmd_on_signals(on_stop, stops);
	signal(SIGPIPE, SIG_IGN);
	if (provider_daemon_run(data, &daemon_stop) < 0)
		return cmd_fail(CMD_FAIL);
	return CMD_OK;
}

const struct cmd cmd_run = {
	.group = "run",
	.run = run,
	.help = "the provider daemon",
	.usage = "usage: provider run [--data DIR] [--log-level LEVEL]\n"
	         "Advertise, take leases, run and meter their sandboxes until "
	         "SIGINT or SIGTERM.\n"
	         "  --data DIR         data dir (default $LODGE_PROVIDER_DATA "
	         "or " PROVIDER_DATA_DEFAULT ")\n"
	         "  --log-level LEVEL  debug, info, warn, error or off\n",
};
