/*
 * cmd_init: `provider init`, the data dir of a new provider: its key, its
 * config (provider/config.h) and what it will advertise.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/util.h"
#include "provider/cmd.h"
#include "ledger/trust.h"
#include "provider/config.h"
#include "provider/logwatch.h"
#include "sandbox/sandbox.h"

/* The options into cfg and *data.  CMD_DONE with *status, or 0. */
static const char *witness_policy; /* --witness-policy FILE */

static int
parse(const struct cmd *c, int argc, char **argv, struct provider_config *cfg,
    const char **data, int *status)
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
		{ "registry-mirror", required_argument, NULL, 'R' },
		{ "insecure-registry", required_argument, NULL, 'I' },
		{ "image-cache-max", required_argument, NULL, 'C' },
		{ "id-base", required_argument, NULL, 'B' },
		{ "witness-policy", required_argument, NULL, 'W' },
		CMD_OPTS_END,
	};
	char host[128];
	uint16_t port;
	int64_t grace;
	int ch, rc;

	while ((ch = cmd_getopt(c, argc, argv, "h", opts, status)) != -1) {
		if (ch == CMD_DONE)
			return CMD_DONE;
		rc = 0;
		switch (ch) {
		case 'M':
			snprintf(cfg->market, sizeof(cfg->market), "%s",
			    optarg);
			break;
		case 'd':
			*data = optarg;
			break;
		case 'n':
			snprintf(cfg->name, sizeof(cfg->name), "%s", optarg);
			break;
		case 'a':
			rc = config_parse_attributes(cfg, optarg);
			break;
		case 'p':
			rc = config_parse_price(cfg, optarg);
			break;
		case 'l':
			if ((rc = http_parse_listen(optarg, host, sizeof(host),
			         &port)) < 0)
				err_prefix(rc, "--listen");
			snprintf(cfg->listen, sizeof(cfg->listen), "%s",
			    optarg);
			break;
		case 'u':
			snprintf(cfg->api_url, sizeof(cfg->api_url), "%s",
			    optarg);
			break;
		case 'D':
			snprintf(cfg->domain, sizeof(cfg->domain), "%s",
			    optarg);
			break;
		case 'c':
			rc = sandbox_parse_cpu(optarg, "--reserve-cpu",
			    &cfg->reserved.cpu_millis);
			break;
		case 'm':
			rc = sandbox_parse_size(optarg, "--reserve-memory",
			    &cfg->reserved.memory_bytes);
			break;
		case 's':
			rc = sandbox_parse_size(optarg, "--reserve-storage",
			    &cfg->reserved.storage_bytes);
			break;
		case 'g':
			if ((rc = util_parse_i64(optarg, "--stop-grace",
			         &grace)) == 0)
				cfg->stop_grace_ms = grace;
			break;
		case 'L':
			rc = sandbox_parse_size(optarg, "--log-max",
			    &cfg->log_max_bytes);
			break;
		case 'R':
			rc = config_add_mirror(cfg, optarg);
			break;
		case 'I':
			rc = config_add_insecure(cfg, optarg);
			break;
		case 'C':
			rc = sandbox_parse_size(optarg, "--image-cache-max",
			    &cfg->image_cache_max_bytes);
			break;
		case 'B':
			rc = cmd_parse_id_base(optarg, &cfg->image_id_base);
			break;
		case 'W':
			witness_policy = optarg;
			break;
		}
		if (rc < 0) {
			*status = cmd_fail(CMD_USAGE);
			return CMD_DONE;
		}
	}
	if (cfg->market[0] == '\0') {
		*status = cmd_misuse(c);
		return CMD_DONE;
	}
	return 0;
}

/* --witness-policy FILE, checked, copied to DATA/witness-policy (the
 * daemon's logwatch.h reads it there). */
static int
keep_witness_policy(const char *data)
{
	struct trust_policy p;
	char path[PATH_MAX], *text = NULL;
	size_t len;
	int rc;

	trust_policy_init(&p);
	if ((rc = util_read_file(witness_policy, 256 * 1024, &text, &len)) ==
	        0 &&
	    (rc = trust_policy_parse(&p, text, len, witness_policy)) == 0) {
		snprintf(path, sizeof(path), "%s/%s", data, LOGWATCH_POLICY);
		rc = util_write_file(path, text, len, 0644);
	}
	free(text);
	trust_policy_clear(&p);
	return rc < 0 ? err_prefix(rc, "--witness-policy") : 0;
}

static int
init(const struct cmd *c, int argc, char **argv)
{
	struct provider_config cfg;
	struct key *k = NULL;
	const char *data = cmd_data_dir();
	char keytext[KEY_TEXT_SIZE];
	uint8_t pub[KEY_PUB_LEN];
	json_t *adv = NULL;
	int created, status = CMD_FAIL;

	config_init(&cfg);
	cfg.reserved.memory_bytes = PROVIDER_RESERVE_MEMORY_DEFAULT;
	cfg.reserved.storage_bytes = PROVIDER_RESERVE_STORAGE_DEFAULT;
	if (parse(c, argc, argv, &cfg, &data, &status) == CMD_DONE)
		goto out;
	if (config_setup(data, &cfg, &k, &created) < 0 ||
	    (witness_policy && keep_witness_policy(data) < 0) ||
	    config_advertise_body(&cfg,
	        cfg.api_url[0] ? cfg.api_url : "http://<listen>", &adv) < 0) {
		status = cmd_fail(CMD_FAIL);
		goto out;
	}
	key_public(k, pub);
	key_pub_to_text(pub, keytext);
	printf("provider key %s (%s)\nconfig %s/provider.json\ndetected: %llu "
	       "millicores, %llu bytes memory, %llu bytes disk\nadvertised:\n",
	    keytext, created ? "new" : "existing", data,
	    (unsigned long long)cfg.detected.cpu_millis,
	    (unsigned long long)cfg.detected.memory_bytes,
	    (unsigned long long)cfg.detected.storage_bytes);
	status = cmd_print_json(adv);
out:
	json_decref(adv);
	key_free(k);
	config_clear(&cfg);
	return status;
}

const struct cmd cmd_init = {
	.group = "init",
	.run = init,
	.help = "detect capacity, create the key and the config",
	.usage =
	    "usage: provider init --market URL [options]\n"
	    "Detect this machine's cores, memory and disk, create the\n"
	    "provider key and DATA/provider.json, print what is "
	    "advertised.\n"
	    "  --data DIR             data dir (default " PROVIDER_DATA_DEFAULT
	    ")\n"
	    "  --name NAME            a name for the owner's eyes\n"
	    "  --attributes K=V,...   placement attributes "
	    "(region=eu,...)\n"
	    "  --price K=V,...        denom=uakt,cpu_ms=N,mem_mb_s=N,\n"
	    "                         storage_mb_s=N,request=N,"
	    "egress_byte=N\n"
	    "                         (micro-units per 10^6 units)\n"
	    "  --listen HOST:PORT     API and gateway "
	    "(default " PROVIDER_LISTEN_DEFAULT ")\n"
	    "  --api-url URL          advertised URL (default "
	    "http://listen)\n"
	    "  --domain DOMAIN        gateway hosts <lease>-<svc>.DOMAIN\n"
	    "  --reserve-cpu UNITS    kept for the owner (default 0)\n"
	    "  --reserve-memory SIZE  kept for the owner (default 256Mi)\n"
	    "  --reserve-storage SIZE kept for the owner (default 1Gi)\n"
	    "  --stop-grace MS        SIGTERM to SIGKILL (default 5000)\n"
	    "  --log-max SIZE         cap of each captured log (default "
	    "1Mi)\n"
	    "OCI images (the \"oci\" runtime, when run as root):\n"
	    "  --registry-mirror REGISTRY=URL  ask URL first for REGISTRY\n"
	    "                         (docker.io=http://127.0.0.1:5000; "
	    "repeatable)\n"
	    "  --insecure-registry HOST:PORT   plain HTTP to that registry\n"
	    "                         (repeatable; HTTPS everywhere else)\n"
	    "  --image-cache-max SIZE size of the image cache (default 16Gi)\n"
	    "  --id-base UID          host id of the first lease's root; each\n"
	    "                         lease maps 65536 ids from there "
	    "(default\n"
	    "                         1000000000)\n"
	    "  --witness-policy FILE  the market's witnesses and quorum\n"
	    "                         (docs/witness.md), kept as\n"
	    "                         DATA/" LOGWATCH_POLICY "; without it, "
	    "those the\n"
	    "                         market names on first use are "
	    "pinned\n",
};
