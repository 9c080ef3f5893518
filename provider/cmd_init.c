/*
 * cmd_init: `provider init`, the data dir of a provider: its key, its
 * config (provider/config.h) and what it will advertise.  On a data dir
 * that has a config already, only the options given change it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/util.h"
#include "provider/cmd.h"
#include "ledger/trust.h"
#include "provider/config.h"
#include "provider/logwatch.h"
#include "sandbox/sandbox.h"

#define INIT_MAX_LIST 16

/* The options as given (NULL: not given), applied once the data dir's
 * existing config, if any, is loaded. */
struct init_opts {
	const char *data;
	const char *v[128]; /* by option character */
	/* The repeatable ones (--registry-mirror, --insecure-registry):
	 * the lists given replace the config's. */
	const char *mirrors[INIT_MAX_LIST], *insecure[INIT_MAX_LIST];
	struct provider_overrides lists;
};

static const struct option init_options[] = {
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
	{ "pids-per-cpu", required_argument, NULL, 'P' },
	{ "pids-max", required_argument, NULL, 'X' },
	{ "prepare-jobs", required_argument, NULL, 'j' },
	{ "prepare-memory", required_argument, NULL, 'y' },
	{ "prepare-timeout", required_argument, NULL, 't' },
	{ "allow-fetch", required_argument, NULL, 'f' },
	{ "registry-mirror", required_argument, NULL, 'R' },
	{ "insecure-registry", required_argument, NULL, 'I' },
	{ "image-cache-max", required_argument, NULL, 'C' },
	{ "id-base", required_argument, NULL, 'B' },
	{ "witness-policy", required_argument, NULL, 'W' },
	{ "insecure-http", no_argument, NULL, '1' },
	{ "market-key", required_argument, NULL, '2' },
	{ "tls-cert", required_argument, NULL, '3' },
	{ "tls-key", required_argument, NULL, '4' },
	{ "tls-certs-dir", required_argument, NULL, '5' },
	CMD_OPTS_END,
};

/* --witness-policy FILE, checked, copied to DATA/witness-policy (the
 * daemon's logwatch.h reads it there). */
static int
keep_witness_policy(const char *data, const char *file)
{
	struct trust_policy p;
	char path[PATH_MAX], *text = NULL;
	size_t len;
	int rc;

	trust_policy_init(&p);
	if ((rc = util_read_file(file, 256 * 1024, &text, &len)) == 0 &&
	    (rc = trust_policy_parse(&p, text, len, file)) == 0) {
		snprintf(path, sizeof(path), "%s/%s", data, LOGWATCH_POLICY);
		rc = util_write_file(path, text, len, 0644);
	}
	free(text);
	trust_policy_clear(&p);
	return rc < 0 ? err_prefix(rc, "--witness-policy") : 0;
}

/* The name of option ch, for messages. */
static const char *
opt_name(int ch)
{
	const struct option *o;

	for (o = init_options; o->name; o++)
		if (o->val == ch)
			return o->name;
	return "?";
}

/* The TLS options (README "TLS"): --insecure-http, --market-key,
 * --tls-cert, --tls-key, --tls-certs-dir. */
static int
apply_tls(struct provider_config *cfg, int ch, const char *v)
{
	uint8_t pub[KEY_PUB_LEN];
	char *dst = NULL;
	size_t cap = 0;

	switch (ch) {
	case '1':
		cfg->insecure_http = 1;
		return 0;
	case '2':
		if (v[0] != '\0' && key_pub_from_text(v, pub) < 0)
			return err_prefix(ERR_INVAL, "--market-key");
		snprintf(cfg->market_key, sizeof(cfg->market_key), "%s", v);
		return 0;
	case '3':
		dst = cfg->tls_cert, cap = sizeof(cfg->tls_cert);
		break;
	case '4':
		dst = cfg->tls_key, cap = sizeof(cfg->tls_key);
		break;
	case '5':
		dst = cfg->tls_certs_dir, cap = sizeof(cfg->tls_certs_dir);
		break;
	default:
		return 0;
	}
	if (v[0] != '\0' && access(v, R_OK) != 0)
		return err_set(ERR_INVAL, "--%s %s: %s", opt_name(ch), v,
		    strerror(errno));
	if (v[0] != '\0' && v[0] != '/') { /* the daemon may run elsewhere */
		char abs[PATH_MAX];
		if (realpath(v, abs) == NULL)
			return err_set(ERR_INVAL, "--%s %s: %s", opt_name(ch),
			    v, strerror(errno));
		v = abs;
		if (strlen(v) >= cap)
			return err_set(ERR_LIMIT, "--%s: path too long",
			    opt_name(ch));
		snprintf(dst, cap, "%s", v);
		return 0;
	}
	if (strlen(v) >= cap)
		return err_set(ERR_LIMIT, "--%s: path too long", opt_name(ch));
	snprintf(dst, cap, "%s", v);
	return 0;
}

/* Apply the option ch with value v to cfg. */
static int
apply(struct provider_config *cfg, int ch, const char *v)
{
	char host[128];
	uint16_t port;
	int64_t n;
	int rc = 0;

	switch (ch) {
	case 'M':
		snprintf(cfg->market, sizeof(cfg->market), "%s", v);
		break;
	case 'n':
		snprintf(cfg->name, sizeof(cfg->name), "%s", v);
		break;
	case 'a':
		/* The set given replaces the one there was. */
		json_object_clear(cfg->attributes);
		rc = config_parse_attributes(cfg, v);
		break;
	case 'p':
		rc = config_parse_price(cfg, v);
		break;
	case 'l':
		if ((rc = http_parse_listen(v, host, sizeof(host), &port)) < 0)
			err_prefix(rc, "--listen");
		snprintf(cfg->listen, sizeof(cfg->listen), "%s", v);
		break;
	case 'u':
		snprintf(cfg->api_url, sizeof(cfg->api_url), "%s", v);
		break;
	case 'D':
		snprintf(cfg->domain, sizeof(cfg->domain), "%s", v);
		break;
	case 'c':
		rc = sandbox_parse_cpu(v, "--reserve-cpu",
		    &cfg->reserved.cpu_millis);
		break;
	case 'm':
		rc = sandbox_parse_size(v, "--reserve-memory",
		    &cfg->reserved.memory_bytes);
		break;
	case 's':
		rc = sandbox_parse_size(v, "--reserve-storage",
		    &cfg->reserved.storage_bytes);
		break;
	case 'g':
		if ((rc = util_parse_i64(v, "--stop-grace", &n)) == 0)
			cfg->stop_grace_ms = n;
		break;
	case 'L':
		rc = sandbox_parse_size(v, "--log-max", &cfg->log_max_bytes);
		break;
	case 'P':
		rc = util_parse_u64(v, "--pids-per-cpu", &cfg->pids_per_cpu);
		break;
	case 'X':
		rc = util_parse_u64(v, "--pids-max", &cfg->pids_max);
		break;
	case 'j':
		rc = util_parse_u64(v, "--prepare-jobs", &cfg->prepare_jobs);
		break;
	case 'y':
		rc = sandbox_parse_size(v, "--prepare-memory",
		    &cfg->prepare_memory_bytes);
		break;
	case 't':
		if ((rc = util_parse_i64(v, "--prepare-timeout", &n)) == 0) {
			if (n < 1 || n > 86400)
				rc = err_set(ERR_RANGE,
				    "--prepare-timeout %s: expected 1 to "
				    "86400 seconds",
				    v);
			else
				cfg->prepare_timeout_ms = n * 1000;
		}
		break;
	case 'f':
		rc = config_parse_fetch_allow(cfg, v);
		break;
	case 'C':
		rc = sandbox_parse_size(v, "--image-cache-max",
		    &cfg->image_cache_max_bytes);
		break;
	case 'B':
		rc = cmd_parse_id_base(v, &cfg->image_id_base);
		break;
	default:
		rc = apply_tls(cfg, ch, v);
		break;
	}
	return rc;
}

/* The options into o.  CMD_DONE with *status, or 0. */
static int
parse(const struct cmd *c, int argc, char **argv, struct init_opts *o,
    int *status)
{
	int ch;

	while (
	    (ch = cmd_getopt(c, argc, argv, "h", init_options, status)) != -1) {
		if (ch == CMD_DONE)
			return CMD_DONE;
		if (ch == 'd')
			o->data = optarg;
		else if (ch == 'R' || ch == 'I') {
			size_t *n = ch == 'R' ? &o->lists.n_mirrors :
			                        &o->lists.n_insecure;
			const char **v = ch == 'R' ? o->mirrors : o->insecure;
			if (*n == INIT_MAX_LIST) {
				err_set(ERR_LIMIT, "more than %d --%s",
				    INIT_MAX_LIST, opt_name(ch));
				*status = cmd_fail(CMD_USAGE);
				return CMD_DONE;
			}
			v[(*n)++] = optarg;
			o->v[ch] = optarg;
		} else if (ch == '1')
			o->v[ch] = "1"; /* a flag */
		else if (ch > 0 && ch < 128)
			o->v[ch] = optarg;
	}
	if (optind != argc) {
		*status = cmd_misuse(c);
		return CMD_DONE;
	}
	return 0;
}

static int
init(const struct cmd *c, int argc, char **argv)
{
	struct provider_config cfg;
	struct init_opts o;
	struct key *k = NULL;
	char keytext[KEY_TEXT_SIZE], path[PATH_MAX], changed[512] = "";
	uint8_t pub[KEY_PUB_LEN];
	json_t *adv = NULL;
	int created, existing, ch, rc, status = CMD_FAIL;
	size_t n = 0;

	memset(&o, 0, sizeof(o));
	o.data = cmd_data_dir();
	o.lists.mirrors = o.mirrors;
	o.lists.insecure = o.insecure;
	config_init(&cfg);
	cfg.reserved.memory_bytes = PROVIDER_RESERVE_MEMORY_DEFAULT;
	cfg.reserved.storage_bytes = PROVIDER_RESERVE_STORAGE_DEFAULT;
	if (parse(c, argc, argv, &o, &status) == CMD_DONE)
		goto out;
	/* An existing config is the starting point: what is not given
	 * stays as it was (attributes, reservations, prices, limits). */
	snprintf(path, sizeof(path), "%.4000s/provider.json", o.data);
	existing = access(path, F_OK) == 0;
	if (existing && config_load(path, &cfg) < 0) {
		status = cmd_fail(CMD_FAIL);
		goto out;
	}
	if (!existing && o.v['M'] == NULL) {
		status = cmd_misuse(c);
		goto out;
	}
	for (ch = 1; ch < 128; ch++) {
		if (o.v[ch] == NULL || ch == 'W')
			continue;
		if (ch == 'R' || ch == 'I' ?
		        config_apply_overrides(&cfg, &o.lists) < 0 :
		        apply(&cfg, ch, o.v[ch]) < 0) {
			status = cmd_fail(CMD_USAGE);
			goto out;
		}
		n += (size_t)snprintf(changed + n,
		    n < sizeof(changed) ? sizeof(changed) - n : 0, "%s%s",
		    n ? ", " : "", opt_name(ch));
		if (n >= sizeof(changed))
			n = sizeof(changed) - 1;
	}
	if ((cfg.tls_cert[0] == '\0') != (cfg.tls_key[0] == '\0')) {
		err_set(ERR_INVAL, "--tls-cert and --tls-key go together");
		status = cmd_fail(CMD_USAGE);
		goto out;
	}
	/* A value that leaves nothing to offer is a bad option: 2. */
	if ((rc = config_setup(o.data, &cfg, &k, &created)) < 0 ||
	    (o.v['W'] && (rc = keep_witness_policy(o.data, o.v['W'])) < 0) ||
	    (rc = config_advertise_body(&cfg,
	         cfg.api_url[0]        ? cfg.api_url :
	             cfg.insecure_http ? "http://<listen>" :
	                                 "https://<listen>",
	         &adv)) < 0) {
		status = cmd_fail(rc == ERR_INVAL ? CMD_USAGE : CMD_FAIL);
		goto out;
	}
	key_public(k, pub);
	key_pub_to_text(pub, keytext);
	printf("provider key %s (%s)\nconfig %s/provider.json (%s%s)\n"
	       "detected: %llu millicores, %llu bytes memory, %llu bytes "
	       "disk\nadvertised:\n",
	    keytext, created ? "new" : "existing", o.data,
	    existing ? "updated: " : "new",
	    existing ? (changed[0] ? changed : "nothing given") : "",
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
	    "On a data dir with a config, only the options given change it\n"
	    "(--market is then optional; the key is kept).\n"
	    "  --data DIR             data dir (default " PROVIDER_DATA_DEFAULT
	    ")\n"
	    "  --name NAME            a name for the owner's eyes\n"
	    "  --attributes K=V,...   placement attributes "
	    "(region=eu,...; replaces the set)\n"
	    "  --price K=V,...        denom=uakt,cpu_ms=N,mem_mb_s=N,\n"
	    "                         storage_mb_s=N,request=N,"
	    "egress_byte=N\n"
	    "                         (micro-units per 10^6 units)\n"
	    "  --listen HOST:PORT     API and gateway "
	    "(default " PROVIDER_LISTEN_DEFAULT ")\n"
	    "  --api-url URL          advertised URL (default "
	    "https://listen;\n"
	    "                         http://listen with --insecure-http)\n"
	    "  --domain DOMAIN        gateway hosts <lease>-<svc>.DOMAIN\n"
	    "  --reserve-cpu UNITS    kept for the owner (default 0)\n"
	    "  --reserve-memory SIZE  kept for the owner (default 256Mi)\n"
	    "  --reserve-storage SIZE kept for the owner (default 1Gi)\n"
	    "  --stop-grace MS        SIGTERM to SIGKILL (default 5000)\n"
	    "  --log-max SIZE         cap of each captured log (default "
	    "1Mi)\n"
	    "  --pids-per-cpu N       process limit per CPU of a sandbox "
	    "(default 256)\n"
	    "  --pids-max N           ceiling of any sandbox's process limit "
	    "(default 4096)\n"
	    "  --prepare-jobs N       fetches, clones and compiles at once "
	    "(default 2)\n"
	    "  --prepare-memory SIZE  memory cap of one of them (default "
	    "1Gi)\n"
	    "  --prepare-timeout S    wall clock of one of them (default "
	    "300)\n"
	    "  --allow-fetch H[:P],.. hosts tenants may fetch from over "
	    "http and\n"
	    "                         at private addresses (default none)\n"
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
