/*
 * cmd_sandbox: `provider sandbox run`, one command in a lease sandbox in
 * the foreground (sandbox/sandbox.h), for operators and the tests.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "provider/cmd.h"
#include "sandbox/sandbox.h"

#define MAX_ENV 128
#define MAX_LAYERS 64
#define ID_BASE_DEFAULT 1000000000u

/* An image root from --layer, --id-base and --user. */
struct image_opts {
	const char *layers[MAX_LAYERS];
	struct sandbox_image im;
};

/* Exit statuses when the workload did not get to run (as docker run and
 * env(1) use them). */
#define EXIT_SETUP 125
#define EXIT_NOTFOUND 127

static volatile sig_atomic_t pending_signal;

static void
on_signal(int sig)
{
	pending_signal = sig;
}

/* The options into spec (env entries into env, at most MAX_ENV); the
 * command is argv[optind...].  CMD_DONE with *status, or 0. */
static int
parse(const struct cmd *c, int argc, char **argv, struct sandbox_spec *spec,
    const char **env, struct image_opts *io, int *status)
{
	static const struct option opts[] = {
		{ "cpu", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "pids", required_argument, NULL, 'p' },
		{ "storage", required_argument, NULL, 's' },
		{ "tmp", required_argument, NULL, 't' },
		{ "root", required_argument, NULL, 'r' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "env", required_argument, NULL, 'e' },
		{ "name", required_argument, NULL, 'n' },
		{ "uid", required_argument, NULL, 'u' },
		{ "cgroup", required_argument, NULL, 'g' },
		{ "layer", required_argument, NULL, 'L' },
		{ "id-base", required_argument, NULL, 'B' },
		{ "user", required_argument, NULL, 'U' },
		CMD_OPTS_END,
	};
	size_t nenv = 0;
	uint64_t v;
	char *end;
	int ch, rc;

	/* "+": options end at the command, whose own options are its. */
	while ((ch = cmd_getopt(c, argc, argv, "+h", opts, status)) != -1) {
		if (ch == CMD_DONE)
			return CMD_DONE;
		rc = 0;
		switch (ch) {
		case 'c':
			rc = sandbox_parse_cpu(optarg, "--cpu",
			    &spec->cpu_millis);
			break;
		case 'm':
			rc = sandbox_parse_size(optarg, "--memory",
			    &spec->memory_bytes);
			break;
		case 'p':
			rc = util_parse_u64(optarg, "--pids", &spec->pids_max);
			break;
		case 's':
			rc = sandbox_parse_size(optarg, "--storage",
			    &spec->data_bytes);
			break;
		case 't':
			rc = sandbox_parse_size(optarg, "--tmp",
			    &spec->tmp_bytes);
			break;
		case 'r':
			spec->app_dir = optarg;
			break;
		case 'w':
			spec->workdir = optarg;
			break;
		case 'e':
			if (nenv == MAX_ENV)
				rc = err_set(ERR_LIMIT, "--env: more than %d",
				    MAX_ENV);
			else
				env[nenv++] = optarg;
			break;
		case 'n':
			spec->name = optarg;
			break;
		case 'u':
			if ((rc = sandbox_parse_uid(optarg, "--uid",
			         &spec->uid)) == 0)
				spec->gid = spec->uid;
			break;
		case 'g':
			rc = cgroup_mode_parse(optarg, "--cgroup",
			    &spec->cgroup.mode);
			break;
		case 'L':
			if (io->im.n_layers == MAX_LAYERS)
				rc = err_set(ERR_LIMIT, "--layer: more than %d",
				    MAX_LAYERS);
			else
				io->layers[io->im.n_layers++] = optarg;
			break;
		case 'B':
			if ((rc = util_parse_u64(optarg, "--id-base", &v)) ==
			        0 &&
			    (v == 0 || v > 0xfffeffffu))
				rc = err_set(ERR_RANGE,
				    "--id-base: %s is not a host uid", optarg);
			io->im.id_base = (uid_t)v;
			break;
		case 'U':
			v = strtoul(optarg, &end, 10);
			io->im.uid = io->im.gid = (uid_t)v;
			if (*end == ':')
				io->im.gid = (gid_t)strtoul(end + 1, &end, 10);
			if (end == optarg || *end != '\0' || v >= 65536)
				rc = err_set(ERR_INVAL,
				    "--user: \"%s\" is not UID[:GID] below "
				    "65536",
				    optarg);
			break;
		}
		if (rc < 0) {
			*status = cmd_fail(CMD_USAGE);
			return CMD_DONE;
		}
	}
	if (optind >= argc) {
		*status = cmd_misuse(c);
		return CMD_DONE;
	}
	if (nenv > 0) {
		env[nenv] = NULL;
		spec->env = env;
	}
	if (io->im.n_layers > 0) {
		io->im.layers = io->layers;
		io->im.upper_bytes = spec->data_bytes;
		if (io->im.id_base == 0)
			io->im.id_base = ID_BASE_DEFAULT;
		spec->image = &io->im;
	}
	return 0;
}

static int
sandbox_run(const struct cmd *c, int argc, char **argv)
{
	static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, 0 };
	struct sandbox_spec spec;
	struct sandbox_usage usage;
	struct sandbox *sb = NULL;
	const char *env[MAX_ENV + 1];
	struct image_opts io;
	char name[64], line[256];
	int rc, status = 0;

	sandbox_spec_init(&spec);
	snprintf(name, sizeof(name), "run-%ld", (long)getpid());
	spec.name = name;
	memset(&io, 0, sizeof(io));
	if (parse(c, argc, argv, &spec, env, &io, &status) == CMD_DONE)
		return status;
	spec.argv = (const char *const *)(argv + optind);
	spec.stdin_fd = 0;
	spec.stdout_fd = 1;
	spec.stderr_fd = 2;
	spec.die_with_parent = 1;

	/* Terminal and service signals go on to the workload. */
	cmd_on_signals(on_signal, forwarded);
	if ((rc = sandbox_start(&spec, &sb)) < 0)
		return cmd_fail(
		    rc == ERR_NOTFOUND ? EXIT_NOTFOUND : EXIT_SETUP);
	if (spec.cgroup.mode == CGROUP_AUTO && sandbox_metering_note(sb)[0] &&
	    sandbox_metering(sb) == SANDBOX_METER_RUSAGE)
		fprintf(stderr, "provider: metering falls back: %s\n",
		    sandbox_metering_note(sb));
	if (sandbox_wait_forwarding(sb, &pending_signal, &status) < 0) {
		rc = cmd_fail(EXIT_SETUP);
		sandbox_free(sb);
		return rc;
	}
	sandbox_usage(sb, &usage);
	sandbox_format_usage(&usage, line, sizeof(line));
	fflush(stdout);
	fprintf(stderr, "%s\n", line);
	sandbox_free(sb);
	return sandbox_exit_code(status);
}

const struct cmd cmd_sandbox_run = {
	.group = "sandbox",
	.name = "run",
	.run = sandbox_run,
	.help = "run one command in a lease sandbox",
	.usage = "usage: provider sandbox run [options] -- CMD [ARG...]\n"
	         "Run one command in a lease sandbox in the foreground, stdio\n"
	         "passed through; exits with its status (128+signal when "
	         "killed)\n"
	         "and prints its usage on stderr as the last line.\n"
	         "  --cpu UNITS       CPU limit: 1, 0.5, 250m (default: none)\n"
	         "  --memory SIZE     memory limit: 256M, 1Gi (default: none)\n"
	         "  --pids N          process limit (default: none)\n"
	         "  --storage SIZE    size of /data (default 64M)\n"
	         "  --tmp SIZE        size of /tmp (default 64M)\n"
	         "  --root DIR        host directory bound read-only at /app\n"
	         "  --workdir DIR     working directory inside (default /app "
	         "or /)\n"
	         "  --env NAME=VALUE  environment (repeatable; default PATH, "
	         "HOME,\n"
	         "                    LANG)\n"
	         "  --name NAME       sandbox name (default run-<pid>)\n"
	         "  --uid N           uid inside (default 65534)\n"
	         "  --cgroup MODE     auto, v2, v1 or none (rusage metering)\n"
	         "  --layer DIR       an unpacked image layer (repeatable, "
	         "bottom first):\n"
	         "                    the image is the root (--storage sizes "
	         "its\n"
	         "                    writable layer), in a user namespace\n"
	         "  --id-base N       host id of the image's root (default "
	         "1000000000)\n"
	         "  --user UID[:GID]  the image's user inside (default 0)\n",
};
