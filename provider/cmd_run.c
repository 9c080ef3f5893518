/*
 * cmd_run: `provider run`, the provider daemon (provider/daemon.h) in the
 * foreground until SIGINT or SIGTERM.
 */
#include <signal.h>
#include <string.h>

#define MAX_LIST 32

#include "common/err.h"
#include "common/log.h"
#include "sandbox/sandbox.h"
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
		{ "registry-mirror", required_argument, NULL, 'R' },
		{ "insecure-registry", required_argument, NULL, 'I' },
		{ "image-cache-max", required_argument, NULL, 'C' },
		{ "id-base", required_argument, NULL, 'B' },
		{ "insecure-http", no_argument, NULL, '1' },
		CMD_OPTS_END,
	};
	static const int stops[] = { SIGINT, SIGTERM, 0 };
	const char *data = cmd_data_dir();
	const char *mirrors[MAX_LIST], *insecure[MAX_LIST];
	struct provider_overrides o;
	enum log_level lv;
	int ch, status;

	memset(&o, 0, sizeof(o));
	o.mirrors = mirrors;
	o.insecure = insecure;
	while ((ch = cmd_getopt(c, argc, argv, "h", opts, &status)) != -1) {
		if (ch == CMD_DONE)
			return status;
		if (ch == 'd')
			data = optarg;
		else if (ch == 'l') {
			if (log_level_parse(optarg, &lv) < 0)
				return cmd_fail(CMD_USAGE);
			log_set_level(lv);
		} else if (ch == 'R' || ch == 'I') {
			size_t *n = ch == 'R' ? &o.n_mirrors : &o.n_insecure;
			const char **v = ch == 'R' ? mirrors : insecure;
			if (*n == MAX_LIST) {
				err_set(ERR_LIMIT, "more than %d %s", MAX_LIST,
				    ch == 'R' ? "mirrors" :
				                "insecure "
				                "registries");
				return cmd_fail(CMD_USAGE);
			}
			v[(*n)++] = optarg;
		} else if (ch == 'C') {
			if (sandbox_parse_size(optarg, "--image-cache-max",
			        &o.image_cache_max_bytes) < 0)
				return cmd_fail(CMD_USAGE);
		} else if (ch == 'B') {
			if (cmd_parse_id_base(optarg, &o.image_id_base) < 0)
				return cmd_fail(CMD_USAGE);
		} else if (ch == '1') {
			o.insecure_http = 1;
		}
	}
	log_set_name("provider");
	cmd_on_signals(on_stop, stops);
	signal(SIGPIPE, SIG_IGN);
	if (provider_daemon_run_opts(data, &o, &daemon_stop) < 0)
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
	         "  --log-level LEVEL  debug, info, warn, error or off\n"
	         "Over provider.json for this run (see `provider init "
	         "--help`):\n"
	         "  --registry-mirror REGISTRY=URL (repeatable)\n"
	         "  --insecure-registry HOST:PORT (repeatable)\n"
	         "  --image-cache-max SIZE\n"
	         "  --id-base UID\n"
	         "  --insecure-http (plain HTTP: loopback development only)\n",
};
