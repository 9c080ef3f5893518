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
#include "common/units.h"
#include "common/util.h"
#include "provider/cmd.h"
#include "ledger/trust.h"
#include "provider/config.h"
#include "provider/logwatch.h"
#include "sandbox/net.h"
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
	/* --egress-allow, --egress-deny, --dns: the lists given replace
	 * the config's. */
	const char *net_lists[3][INIT_MAX_LIST];
	size_t n_net[3];
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
	{ "net", required_argument, NULL, 'N' },
	{ "net-pool", required_argument, NULL, 'O' },
	{ "egress", required_argument, NULL, 'E' },
	{ "egress-allow", required_argument, NULL, 'A' },
	{ "egress-deny", required_argument, NULL, 'Z' },
	{ "port-range", required_argument, NULL, 'r' },
	{ "dns", required_argument, NULL, 'K' },
	{ "registry-mirror", required_argument, NULL, 'R' },
	{ "insecure-registry", required_argument, NULL, 'I' },
	{ "image-cache-max", required_argument, NULL, 'C' },
	{ "id-base", required_argument, NULL, 'B' },
	{ "witness-policy", required_argument, NULL, 'W' },
	{ "storage-classes", required_argument, NULL, 'S' },
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
		if (strlen(abs) >= cap)
			return err_set(ERR_LIMIT, "--%s: path too long",
			    opt_name(ch));
		memcpy(dst, abs, strlen(abs) + 1);
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
	case 'N':
		rc = config_parse_net(cfg, v);
		break;
	case 'O':
		if (strlen(v) >= sizeof(cfg->net_pool))
			rc = err_set(ERR_INVAL, "--net-pool %s: not a CIDR", v);
		else
			snprintf(cfg->net_pool, sizeof(cfg->net_pool), "%s", v);
		break;
	case 'E':
		rc = config_parse_egress(cfg, v);
		break;
	case 'r':
		rc = config_parse_port_range(cfg, v);
		break;
	case 'C':
		rc = sandbox_parse_size(v, "--image-cache-max",
		    &cfg->image_cache_max_bytes);
		break;
	case 'B':
		rc = cmd_parse_id_base(v, &cfg->image_id_base);
		break;
	case 'S':
		rc = config_parse_storage_classes(cfg, v);
		break;
	default:
		rc = apply_tls(cfg, ch, v);
		break;
	}
	return rc;
}

/* The repeatable network lists given replace the config's. */
static int
apply_net_lists(struct provider_config *cfg, const struct init_opts *o)
{
	json_t **dst[3] = { &cfg->egress_allow, &cfg->egress_deny, &cfg->dns };
	size_t k, i;
	int rc;

	for (k = 0; k < 3; k++) {
		if (o->n_net[k] == 0)
			continue;
		json_array_clear(*dst[k]);
		for (i = 0; i < o->n_net[k]; i++) {
			const char *v = o->net_lists[k][i];
			rc = k == 2 ? config_add_dns(cfg, v) :
			              config_add_egress(cfg, k == 1, v);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* With --net on, check the network settings as the daemon will
 * (net_new: no kernel object is made): a bad CIDR or a pool the host
 * already uses (but by this provider's networks, kept for its running
 * leases) is a bad option; without root or ip/nft the provider runs
 * without networks, and says so. */
static int
check_net(struct provider_config *cfg, const char *data)
{
	char path[PATH_MAX], scope[16] = "";
	const char *lists[3][17];
	struct net_config nc;
	struct net *n = NULL;
	struct key *k = NULL;
	int rc;

	cfg->net_live = 0;
	if (!cfg->net_on)
		return 0;
	snprintf(path, sizeof(path), "%.4000s/provider.key", data);
	if (access(path, F_OK) == 0 && key_load(path, &k) == 0) {
		uint8_t pub[KEY_PUB_LEN];
		char text[KEY_TEXT_SIZE];
		key_public(k, pub);
		key_pub_to_text(pub, text);
		config_net_scope(text, scope, sizeof(scope));
		key_free(k);
	}
	err_clear();
	config_net_config(cfg, scope[0] ? scope : NULL, &nc, lists);
	rc = net_new(&nc, &n);
	net_free(n);
	if (rc == 0) {
		cfg->net_live = 1;
		return 0;
	}
	if (rc == ERR_REJECT || rc == ERR_NOTFOUND) {
		fprintf(stderr,
		    "provider init: --net on, but %s: the provider will run "
		    "without deployment networks and advertise no network, "
		    "egress or ports capability\n",
		    err_msg());
		err_clear();
		return 0;
	}
	return err_prefix(rc, "--net");
}

/* The URL `provider run` will advertise for cfg (its api_url, else
 * https://HOST:PORT of --listen, http:// with --insecure-http) into url;
 * *note gets a warning when tenants elsewhere could not reach it (a
 * wildcard or loopback host, a port chosen at run time), else "". */
static void
advertised_url(const struct provider_config *cfg, char *url, size_t size,
    const char **note)
{
	const char *scheme =
	    cfg->insecure_http || util_insecure_http_env() ? "http" : "https";
	char host[128];
	uint16_t port = 0;

	*note = "";
	if (cfg->api_url[0]) {
		snprintf(url, size, "%s", cfg->api_url);
		return;
	}
	if (http_parse_listen(cfg->listen, host, sizeof(host), &port) < 0)
		snprintf(host, sizeof(host), "%s", cfg->listen);
	if (port == 0) {
		snprintf(url, size, "%s://%s:<port chosen at start>", scheme,
		    host);
		*note = "the port is chosen when `provider run` starts; give "
		        "--api-url or a fixed --listen port";
		return;
	}
	snprintf(url, size, "%s://%s%s%s:%u", scheme,
	    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	    port);
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
		*note = "a wildcard address is no address for tenants: give "
		        "--api-url https://NAME:PORT";
	else if (strncmp(host, "127.", 4) == 0 ||
	    strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		*note = "loopback: only tenants on this machine reach it; "
		        "give --api-url for others";
}

/* The advertised price (micro-units per 10^6 units of each meter) for
 * people: per core-hour, GiB-month, million requests, GiB out. */
static void
print_prices(const json_t *price)
{
	static const struct {
		const char *key, *per;
		long double mult; /* units of the meter in one "per" */
	} m[] = {
		{ "cpu_ms", "core-hour", 3600000.0L },
		/* MB = 10^6 bytes (ledger/state.h): a GiB is 1073.741824 */
		{ "mem_mb_s", "GiB-month of memory", 1073.741824L * 2592000 },
		{ "storage_mb_s", "GiB-month of storage",
		    1073.741824L * 2592000 },
		{ "request", "million requests", 1e6L },
		{ "egress_byte", "GiB of egress", 1073741824.0L },
		{ "fuel", "10^9 WebAssembly fuel", 1e9L },
	};
	const char *denom = json_string_value(json_object_get(price, "denom"));
	char buf[96];
	long double v;
	size_t i;

	printf("prices, for people (the meters above are micro-units per "
	       "10^6 units):\n");
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (!json_is_integer(json_object_get(price, m[i].key)))
			continue;
		v = (long double)json_integer_value(
		        json_object_get(price, m[i].key)) *
		    m[i].mult / 1e6L;
		units_fmt_amount(v >= 9.2e18L ? INT64_MAX : (int64_t)(v + 0.5L),
		    denom, buf, sizeof(buf));
		printf("  %-13s %s per %s\n", m[i].key, buf, m[i].per);
	}
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
		} else if (ch == 'A' || ch == 'Z' || ch == 'K') {
			size_t k = ch == 'A' ? 0 : ch == 'Z' ? 1 : 2;
			if (o->n_net[k] == INIT_MAX_LIST) {
				err_set(ERR_LIMIT, "more than %d --%s",
				    INIT_MAX_LIST, opt_name(ch));
				*status = cmd_fail(CMD_USAGE);
				return CMD_DONE;
			}
			o->net_lists[k][o->n_net[k]++] = optarg;
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
	char url[400];
	const char *note;
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
		if (ch == 'A' || ch == 'Z' || ch == 'K' ?
		        apply_net_lists(&cfg, &o) < 0 :
		        ch == 'R' || ch == 'I' ?
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
	if (check_net(&cfg, o.data) < 0) {
		status = cmd_fail(CMD_USAGE);
		goto out;
	}
	if ((cfg.tls_cert[0] == '\0') != (cfg.tls_key[0] == '\0')) {
		err_set(ERR_INVAL, "--tls-cert and --tls-key go together");
		status = cmd_fail(CMD_USAGE);
		goto out;
	}
	/* A value that leaves nothing to offer is a bad option: 2. */
	if ((rc = config_setup(o.data, &cfg, &k, &created)) < 0 ||
	    (o.v['W'] && (rc = keep_witness_policy(o.data, o.v['W'])) < 0) ||
	    (advertised_url(&cfg, url, sizeof(url), &note),
	        rc = config_advertise_body(&cfg, url, &adv)) < 0) {
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
	if ((status = cmd_print_json(adv)) != CMD_OK)
		goto out;
	print_prices(json_object_get(adv, "price"));
	printf("API URL: %s\n", url);
	if (note[0])
		printf("  (%s)\n", note);
	printf("deployments: http://<lease>-<service>.%s (a wildcard DNS "
	       "record *.%s must point at this machine), or "
	       "%s/l/<lease>/<service>/\n",
	    cfg.domain, cfg.domain, url);
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
	    "                         (micro-units per 10^6 units: "
	    "cpu_ms=1000 is\n"
	    "                         0.0036 AKT per core-hour; 1 AKT = "
	    "10^6 uakt)\n"
	    "  --listen HOST:PORT     API and gateway "
	    "(default " PROVIDER_LISTEN_DEFAULT ")\n"
	    "  --api-url URL          the URL tenants reach the API at, "
	    "advertised on\n"
	    "                         the market (default https://HOST:PORT "
	    "of --listen,\n"
	    "                         http:// with --insecure-http; give it "
	    "when HOST\n"
	    "                         is 0.0.0.0 or behind NAT)\n"
	    "  --domain DOMAIN        the gateway serves a deployment's "
	    "service at\n"
	    "                         http://<lease>-<service>.DOMAIN; "
	    "needs a wildcard\n"
	    "                         DNS record *.DOMAIN pointing at this "
	    "machine\n"
	    "                         (default " PROVIDER_DOMAIN_DEFAULT
	    ", which resolves\n"
	    "                         to loopback)\n"
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
	    "Deployment networks (as root, with ip and nft; docs/sandbox.md):\n"
	    "  --net on|off           a private network per deployment, "
	    "outbound\n"
	    "                         traffic and forwarded ports (default "
	    "off)\n"
	    "  --net-pool CIDR        the deployments' addresses "
	    "(default " NET_POOL_DEFAULT ")\n"
	    "  --egress on|off        outbound traffic (default on)\n"
	    "  --egress-allow CIDR    allow a destination the default policy "
	    "denies\n"
	    "  --egress-deny CIDR     deny one it allows (both repeatable)\n"
	    "  --port-range A-B       host ports forwarded to tcp/udp "
	    "exposes\n"
	    "                         (default 30000-32767)\n"
	    "  --dns ADDR             the replicas' nameserver (repeatable;\n"
	    "                         default: the host's resolv.conf)\n"
	    "TLS (README \"TLS\"; certificates self-signed with the provider "
	    "key by default):\n"
	    "  --tls-cert FILE        the gateway's certificate for "
	    "*.DOMAIN (PEM)\n"
	    "  --tls-key FILE         its private key (PEM; with --tls-cert)\n"
	    "  --tls-certs-dir DIR    NAME.crt + NAME.key per accept hostname "
	    "(SNI)\n"
	    "  --market-key KEY       pin the market's TLS key (default: "
	    "learned on\n"
	    "                         first use into DATA/known_markets)\n"
	    "  --insecure-http        plain HTTP, loopback development only\n"
	    "                         (or LODGE_INSECURE_HTTP=1)\n"
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
	    "  --storage-classes C,.. disk classes of volumes offered: "
	    "default,\n"
	    "                         beta1, beta2, beta3, or none (default\n"
	    "                         default,beta2; ram is always offered; "
	    "disk\n"
	    "                         classes need root and loop devices)\n"
	    "  --witness-policy FILE  the market's witnesses and quorum\n"
	    "                         (docs/witness.md), kept as\n"
	    "                         DATA/" LOGWATCH_POLICY "; without it, "
	    "those the\n"
	    "                         market names on first use are "
	    "pinned\n",
};
