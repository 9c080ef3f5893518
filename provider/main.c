/*
 * provider: the provider's command line.  Parses arguments and calls the
 * provider library; subcommands are listed in the table at the bottom
 * (the daemon's join the sandbox's there).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/log.h"
#include "common/reqsig.h"
#include "common/util.h"
#include "provider/config.h"
#include "provider/daemon.h"
#include "sandbox/sandbox.h"
#include "provider/wasm_cli.h"

#define MAX_ENV 128

/* Exit codes of `sandbox run` when the workload did not get to run
 * (as docker run and env(1) use them). */
#define EXIT_SETUP 125
#define EXIT_NOTFOUND 127

static volatile sig_atomic_t pending_signal;

static void
on_signal(int sig)
{
	pending_signal = sig;
}

static void
sandbox_run_usage(FILE *f)
{
	fprintf(f,
	    "usage: provider sandbox run [options] -- CMD [ARG...]\n"
	    "Run one command in a lease sandbox in the foreground, stdio\n"
	    "passed through; exits with its status (128+signal when killed)\n"
	    "and prints its usage on stderr as the last line.\n"
	    "  --cpu UNITS       CPU limit: 1, 0.5, 250m (default: none)\n"
	    "  --memory SIZE     memory limit: 256M, 1Gi (default: none)\n"
	    "  --pids N          process limit (default: none)\n"
	    "  --storage SIZE    size of /data (default 64M)\n"
	    "  --tmp SIZE        size of /tmp (default 64M)\n"
	    "  --root DIR        host directory bound read-only at /app\n"
	    "  --workdir DIR     working directory inside (default /app or /)\n"
	    "  --env NAME=VALUE  environment (repeatable; default PATH, HOME,\n"
	    "                    LANG)\n"
	    "  --name NAME       sandbox name (default run-<pid>)\n"
	    "  --uid N           uid inside (default 65534)\n"
	    "  --cgroup MODE     auto, v2, v1 or none (rusage metering)\n");
}

static int
parse_cgroup_mode(const char *s, enum cgroup_mode *out)
{
	if (strcmp(s, "auto") == 0)
		*out = CGROUP_AUTO;
	else if (strcmp(s, "v2") == 0)
		*out = CGROUP_V2;
	else if (strcmp(s, "v1") == 0)
		*out = CGROUP_V1;
	else if (strcmp(s, "none") == 0)
		*out = CGROUP_NONE;
	else
		return err_set(ERR_INVAL,
		    "--cgroup: \"%s\" is not one of "
		    "auto, v2, v1, none",
		    s);
	return 0;
}

static int
cmd_sandbox_run(int argc, char **argv)
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sandbox_spec spec;
	struct sandbox_usage usage;
	struct sandbox *sb = NULL;
	struct sigaction sa;
	const char *env[MAX_ENV + 1];
	char name[64], line[256];
	size_t nenv = 0;
	uint64_t v;
	int c, rc, exited = 0, status = 0;

	sandbox_spec_init(&spec);
	snprintf(name, sizeof(name), "run-%ld", (long)getpid());
	spec.name = name;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case 'c':
			rc = sandbox_parse_cpu(optarg, "--cpu",
			    &spec.cpu_millis);
			break;
		case 'm':
			rc = sandbox_parse_size(optarg, "--memory",
			    &spec.memory_bytes);
			break;
		case 'p':
			rc = util_parse_u64(optarg, "--pids", &spec.pids_max);
			break;
		case 's':
			rc = sandbox_parse_size(optarg, "--storage",
			    &spec.data_bytes);
			break;
		case 't':
			rc = sandbox_parse_size(optarg, "--tmp",
			    &spec.tmp_bytes);
			break;
		case 'r':
			spec.app_dir = optarg;
			break;
		case 'w':
			spec.workdir = optarg;
			break;
		case 'e':
			if (nenv == MAX_ENV) {
				rc = err_set(ERR_LIMIT, "--env: more than %d",
				    MAX_ENV);
				break;
			}
			env[nenv++] = optarg;
			break;
		case 'n':
			spec.name = optarg;
			break;
		case 'u':
			if ((rc = util_parse_u64(optarg, "--uid", &v)) == 0 &&
			    (v == 0 || v > 0xfffffffeu))
				rc = err_set(ERR_RANGE,
				    "--uid: %s is not a "
				    "non-root uid",
				    optarg);
			spec.uid = spec.gid = (uid_t)v;
			break;
		case 'g':
			rc = parse_cgroup_mode(optarg, &spec.cgroup.mode);
			break;
		case 'h':
			sandbox_run_usage(stdout);
			return 0;
		default:
			sandbox_run_usage(stderr);
			return 2;
		}
		if (rc < 0) {
			fprintf(stderr, "provider: %s\n", err_msg());
			return 2;
		}
	}
	if (optind >= argc) {
		sandbox_run_usage(stderr);
		return 2;
	}
	if (nenv > 0) {
		env[nenv] = NULL;
		spec.env = env;
	}
	spec.argv = (const char *const *)(argv + optind);
	spec.stdin_fd = 0;
	spec.stdout_fd = 1;
	spec.stderr_fd = 2;
	spec.die_with_parent = 1;

	/* Forward terminal and service signals to the workload. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);

	if ((rc = sandbox_start(&spec, &sb)) < 0) {
		fprintf(stderr, "provider: %s\n", err_msg());
		return rc == ERR_NOTFOUND ? EXIT_NOTFOUND : EXIT_SETUP;
	}
	if (spec.cgroup.mode == CGROUP_AUTO && sandbox_metering_note(sb)[0] &&
	    sandbox_usage(sb, &usage) == 0 &&
	    usage.metering == SANDBOX_METER_RUSAGE)
		fprintf(stderr, "provider: metering falls back: %s\n",
		    sandbox_metering_note(sb));
	while (!exited) {
		if (pending_signal != 0) {
			int sig = pending_signal;
			pending_signal = 0;
			(void)sandbox_signal(sb, sig);
		}
		if ((rc = sandbox_wait(sb, 200, &exited, &status)) < 0) {
			fprintf(stderr, "provider: %s\n", err_msg());
			sandbox_free(sb);
			return EXIT_SETUP;
		}
	}
	sandbox_usage(sb, &usage);
	sandbox_format_usage(&usage, line, sizeof(line));
	fflush(stdout);
	fprintf(stderr, "%s\n", line);
	sandbox_free(sb);
	return sandbox_exit_code(status);
}

/* ---- daemon commands ---- */

static const char *
data_dir_default(void)
{
	const char *d = getenv("LODGE_PROVIDER_DATA");

	return d && *d ? d : PROVIDER_DATA_DEFAULT;
}

static void
init_usage(FILE *f)
{
	fprintf(f,
	    "usage: provider init --market URL [options]\n"
	    "Detect this machine's cores, memory and disk, create the\n"
	    "provider key and DATA/provider.json, print what is advertised.\n"
	    "  --data DIR             data dir (default %s)\n"
	    "  --name NAME            a name for the owner's eyes\n"
	    "  --attributes K=V,...   placement attributes (region=eu,...)\n"
	    "  --price K=V,...        denom=uakt,cpu_ms=N,mem_mb_s=N,\n"
	    "                         storage_mb_s=N,request=N,egress_byte=N\n"
	    "                         (micro-units per 10^6 units)\n"
	    "  --listen HOST:PORT     API and gateway (default %s)\n"
	    "  --api-url URL          advertised URL (default http://listen)\n"
	    "  --domain DOMAIN        gateway hosts <lease>-<svc>.DOMAIN\n"
	    "  --reserve-cpu UNITS    kept for the owner (default 0)\n"
	    "  --reserve-memory SIZE  kept for the owner (default 256Mi)\n"
	    "  --reserve-storage SIZE kept for the owner (default 1Gi)\n"
	    "  --stop-grace MS        SIGTERM to SIGKILL (default 5000)\n"
	    "  --log-max SIZE         cap of each captured log (default 1Mi)\n",
	    PROVIDER_DATA_DEFAULT, PROVIDER_LISTEN_DEFAULT);
}

static int
print_json(json_t *j)
{
	char *t = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (t == NULL)
		return -1;
	printf("%s\n", t);
	free(t);
	return 0;
}

static int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "market", required_argument, NULL, 'M' },
		{ "data", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "attributes", required_argument, NULL, 'a' },
		{ "price", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' },
		{ "api-url", required_argument, NULL, 'u' },
		{ "domain", required_argument, NULL, 'D' },
		{ "reserve-cpu", required_argument, NULL, 'c' },
		{ "reserve-memory", required_argument, NULL, 'm' },
		{ "reserve-storage", required_argument, NULL, 's' },
		{ "stop-grace", required_argument, NULL, 'g' },
		{ "log-max", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct provider_config cfg;
	struct key *k = NULL;
	const char *data = data_dir_default();
	char path[4200], keytext[KEY_TEXT_SIZE];
	uint8_t pub[KEY_PUB_LEN];
	json_t *adv = NULL;
	int c, rc = 0, created = 0, ret = 1;
	int64_t g;

	config_init(&cfg);
	cfg.reserved.memory_bytes = 256u << 20;
	cfg.reserved.storage_bytes = 1u << 30;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'M':
			snprintf(cfg.market, sizeof(cfg.market), "%s", optarg);
			break;
		case 'd':
			data = optarg;
			break;
		case 'n':
			snprintf(cfg.name, sizeof(cfg.name), "%s", optarg);
			break;
		case 'a':
			rc = config_parse_attributes(&cfg, optarg);
			break;
		case 'p':
			rc = config_parse_price(&cfg, optarg);
			break;
		case 'l':
			snprintf(cfg.listen, sizeof(cfg.listen), "%s", optarg);
			break;
		case 'u':
			snprintf(cfg.api_url, sizeof(cfg.api_url), "%s",
			    optarg);
			break;
		case 'D':
			snprintf(cfg.domain, sizeof(cfg.domain), "%s", optarg);
			break;
		case 'c':
			rc = sandbox_parse_cpu(optarg, "--reserve-cpu",
			    &cfg.reserved.cpu_millis);
			break;
		case 'm':
			rc = sandbox_parse_size(optarg, "--reserve-memory",
			    &cfg.reserved.memory_bytes);
			break;
		case 's':
			rc = sandbox_parse_size(optarg, "--reserve-storage",
			    &cfg.reserved.storage_bytes);
			break;
		case 'g':
			if ((rc = util_parse_i64(optarg, "--stop-grace", &g)) ==
			    0)
				cfg.stop_grace_ms = g;
			break;
		case 'L':
			rc = sandbox_parse_size(optarg, "--log-max",
			    &cfg.log_max_bytes);
			break;
		case 'h':
			init_usage(stdout);
			config_clear(&cfg);
			return 0;
		default:
			init_usage(stderr);
			config_clear(&cfg);
			return 2;
		}
		if (rc < 0) {
			fprintf(stderr, "provider: %s\n", err_msg());
			config_clear(&cfg);
			return 2;
		}
	}
	if (cfg.market[0] == '\0') {
		init_usage(stderr);
		config_clear(&cfg);
		return 2;
	}
	{
		char host[128];
		uint16_t port;
		if (http_parse_listen(cfg.listen, host, sizeof(host), &port) <
		    0) {
			fprintf(stderr, "provider: --listen: %s\n", err_msg());
			config_clear(&cfg);
			return 2;
		}
	}
	if ((rc = util_mkdirs(data, 0700)) < 0 ||
	    (rc = config_detect(data, &cfg.detected)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/provider.key", data);
	if ((rc = key_load_or_create(path, &k, &created)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/provider.json", data);
	if ((rc = config_save(path, &cfg)) < 0)
		goto fail;
	key_public(k, pub);
	key_pub_to_text(pub, keytext);
	if ((rc = config_advertise_body(&cfg,
	         cfg.api_url[0] ? cfg.api_url : "http://<listen>", &adv)) < 0)
		goto fail;
	printf("provider key %s (%s)\nconfig %s\ndetected: %llu millicores, "
	       "%llu bytes memory, %llu bytes disk\nadvertised:\n",
	    keytext, created ? "new" : "existing", path,
	    (unsigned long long)cfg.detected.cpu_millis,
	    (unsigned long long)cfg.detected.memory_bytes,
	    (unsigned long long)cfg.detected.storage_bytes);
	print_json(adv);
	ret = 0;
fail:
	if (ret)
		fprintf(stderr, "provider: %s\n", err_msg());
	json_decref(adv);
	key_free(k);
	config_clear(&cfg);
	return ret;
}

static volatile sig_atomic_t daemon_stop;

static void
on_stop(int sig)
{
	(void)sig;
	daemon_stop = 1;
}

static int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *data = data_dir_default();
	enum log_level lv;
	struct sigaction sa;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data = optarg;
			break;
		case 'l':
			if (log_level_parse(optarg, &lv) < 0) {
				fprintf(stderr, "provider: %s\n", err_msg());
				return 2;
			}
			log_set_level(lv);
			break;
		case 'h':
			printf("usage: provider run [--data DIR] "
			       "[--log-level LEVEL]\n");
			return 0;
		default:
			return 2;
		}
	}
	log_set_name("provider");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (provider_daemon_run(data, &daemon_stop) < 0) {
		fprintf(stderr, "provider: %s\n", err_msg());
		return 1;
	}
	return 0;
}

static int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct provider_config cfg;
	struct provider_resources off;
	struct key *k = NULL;
	struct http_result r = { 0 };
	const char *data = data_dir_default();
	char path[4200], keytext[KEY_TEXT_SIZE], url[1200];
	uint8_t pub[KEY_PUB_LEN];
	json_t *out = NULL, *state = NULL, *acct = NULL, *v;
	json_error_t je;
	int c, as_json = 0, ret = 1;
	size_t i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			data = optarg;
		else if (c == 'j')
			as_json = 1;
		else {
			fprintf(stderr,
			    "usage: provider status [--data DIR] "
			    "[--json]\n");
			return 2;
		}
	}
	config_init(&cfg);
	snprintf(path, sizeof(path), "%s/provider.json", data);
	if (config_load(path, &cfg) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/provider.key", data);
	if (key_load(path, &k) < 0)
		goto fail;
	key_public(k, pub);
	key_pub_to_text(pub, keytext);
	snprintf(path, sizeof(path), "%s/state.json", data);
	state = json_load_file(path, 0, &je);
	snprintf(url, sizeof(url), "%s/v1/accounts/%s", cfg.market, keytext);
	if (http_fetch("GET", url, NULL, NULL, 0, 5000, &r) == 0 &&
	    r.status == 200)
		acct = json_loadb(r.body, r.body_len, 0, &je);
	http_result_clear(&r);
	config_offered(&cfg, &off);
	out = json_pack("{s:s,s:s,s:s,s:{s:I,s:I,s:I},s:O,s:o}", "key", keytext,
	    "name", cfg.name, "market", cfg.market, "capacity", "cpu_millis",
	    (json_int_t)off.cpu_millis, "memory_bytes",
	    (json_int_t)off.memory_bytes, "storage_bytes",
	    (json_int_t)off.storage_bytes, "leases",
	    state ? json_object_get(state, "leases") : json_null(), "account",
	    acct ? acct : json_null());
	acct = NULL;
	if (out == NULL)
		goto fail;
	if (as_json)
		print_json(out);
	else {
		printf("provider %s (%s)\nmarket   %s\ncapacity %llu "
		       "millicores, %llu MB memory, %llu MB storage\n",
		    keytext, cfg.name, cfg.market,
		    (unsigned long long)off.cpu_millis,
		    (unsigned long long)(off.memory_bytes / 1000000),
		    (unsigned long long)(off.storage_bytes / 1000000));
		json_array_foreach(json_object_get(out, "leases"), i, v)
		    printf("lease %-8s %-8s order %s tenant %s\n",
		        json_string_value(json_object_get(v, "id")),
		        json_string_value(json_object_get(v, "status")),
		        json_string_value(json_object_get(v, "order")),
		        json_string_value(json_object_get(v, "tenant")));
		v = json_object_get(out, "account");
		if (json_is_object(v)) {
			char *t = json_dumps(json_object_get(v, "balances") ?
			        json_object_get(v, "balances") :
			        v,
			    JSON_COMPACT);
			printf("earnings %s\n", t ? t : "?");
			free(t);
		} else
			printf("earnings (market unreachable)\n");
	}
	ret = 0;
fail:
	if (ret)
		fprintf(stderr, "provider: %s\n", err_msg());
	json_decref(out);
	json_decref(state);
	json_decref(acct);
	key_free(k);
	config_clear(&cfg);
	return ret;
}

/* `provider request`: a signed request to a provider's private API, as
 * the tenant CLI will send them (tests and operators use it). */
static int
cmd_request(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "body", required_argument, NULL, 'b' },
		{ "sign-only", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int sign_only = 0;
	const char *keyfile = NULL, *bodyfile = NULL, *method, *url, *p;
	struct key *k = NULL;
	struct http_result r = { 0 };
	char *body = NULL, *sig = NULL, *hdr = NULL;
	const char *hdrs[3];
	size_t blen = 0;
	int c, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'k')
			keyfile = optarg;
		else if (c == 'b')
			bodyfile = optarg;
		else if (c == 's')
			sign_only = 1;
		else
			goto usage;
	}
	if (keyfile == NULL || argc - optind != 2)
		goto usage;
	method = argv[optind];
	url = argv[optind + 1];
	/* The signed target is the URL's path and query. */
	if ((p = strstr(url, "://")) == NULL ||
	    (p = strchr(p + 3, '/')) == NULL) {
		fprintf(stderr, "provider: %s: expected http://HOST/PATH\n",
		    url);
		return 2;
	}
	if (key_load(keyfile, &k) < 0 ||
	    (bodyfile &&
	        util_read_file(bodyfile, 256u << 20, &body, &blen) < 0) ||
	    reqsig_header(k, method, p, body, blen, &sig) < 0 ||
	    asprintf(&hdr, "%s: %s", REQSIG_HEADER, sig) < 0)
		goto out;
	if (sign_only) {
		/* For curl -H and other clients: the header line alone. */
		printf("%s\n", hdr);
		ret = 0;
		goto out;
	}
	hdrs[0] = hdr;
	hdrs[1] = "Content-Type: application/octet-stream";
	hdrs[2] = NULL;
	if (http_fetch(method, url, hdrs, body, blen, 30000, &r) < 0)
		goto out;
	fwrite(r.body, 1, r.body_len, stdout);
	if (r.body_len && r.body[r.body_len - 1] != '\n')
		putchar('\n');
	fprintf(stderr, "HTTP %ld\n", r.status);
	ret = r.status >= 200 && r.status < 300 ? 0 : 1;
	err_clear();
out:
	if (ret && err_msg()[0])
		fprintf(stderr, "provider: %s\n", err_msg());
	http_result_clear(&r);
	free(body);
	free(sig);
	free(hdr);
	key_free(k);
	return ret;
usage:
	fprintf(stderr,
	    "usage: provider request --key KEYFILE [--body FILE] "
	    "[--sign-only] METHOD URL\n"
	    "  --sign-only  print the X-Lodge-Signature header line, send "
	    "nothing\n");
	return 2;
}

/* provider wasm run|compile|validate|spec ...: provider/wasm_cli.c */
static int
cmd_wasm(int argc, char **argv)
{
	return wasm_cli_main(argc - 1, argv + 1);
}

static const struct {
	const char *group, *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{ "init", NULL, cmd_init,
	    "detect capacity, create the key and the config" },
	{ "run", NULL, cmd_run, "the provider daemon" },
	{ "status", NULL, cmd_status, "capacity, leases and earnings" },
	{ "request", NULL, cmd_request,
	    "send a request signed by KEY (tenant's view)" },
	{ "sandbox", "run", cmd_sandbox_run,
	    "run one command in a lease sandbox" },
	{ "wasm", NULL, cmd_wasm,
	    "run|compile|validate|spec a WebAssembly module" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: provider COMMAND [options]\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-7s %-4s %s\n", commands[i].group,
		    commands[i].name ? commands[i].name : "", commands[i].help);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].group) != 0)
			continue;
		if (commands[i].name == NULL)
			return commands[i].fn(argc - 1, argv + 1);
		if (argc >= 3 && strcmp(argv[2], commands[i].name) == 0)
			return commands[i].fn(argc - 2, argv + 2);
	}
	fprintf(stderr, "provider: unknown command \"%s%s%s\"\n", argv[1],
	    argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
	usage(stderr);
	return 2;
}
