/*
 * market: the daemon (`market run`) and the treasury's deposit tool
 * (`market deposit`).  Argument parsing only; the work is in market.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cjson.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/log.h"
#include "common/units.h"
#include "common/util.h"
#include "ledger/note.h"
#include "ledger/trust.h"
#include "market/market.h"

#define RUN_OPTIONS                                                            \
	"usage: market run --data DIR --listen HOST:PORT [--origin NAME]\n"    \
	"                  [--epoch SECONDS] [--take-rate PPM]\n"              \
	"                  [--offline-grace SECONDS] [--log-level LEVEL]\n"    \
	"                  [--usage-skew MS] [--fee N] [--fee-kind K=N,...]\n" \
	"                  [--bond-per-cpu N] [--bond-per-gib N]\n"            \
	"                  [--manifest-window SECONDS] "                       \
	"[--min-lease-epochs N]\n"                                             \
	"                  [--pause-grace DURATION]\n"                         \
	"                  [--rate-limit PER_SECOND] [--rate-burst N]\n"       \
	"                  [--denoms D1,D2...] [--checkpoint-interval MS]\n"   \
	"                  [--witness VKEY=URL]... [--witness-policy FILE]\n"  \
	"                  [--quorum N] [--check-invariants] [--console "      \
	"DIR]\n"                                                               \
	"                  [--snapshot-every N] [--insecure-http]\n"           \
	"                  [--tls-cert FILE --tls-key FILE] "                  \
	"[--tls-certs-dir DIR]\n"                                              \
	"                  [--etcd URL[,URL...] --replica NAME "               \
	"[--advertise URL]\n"                                                  \
	"                   [--replica-ttl DURATION] [--bootstrap-from "       \
	"URL|DIR]]\n"

static const char usage_main[] = RUN_OPTIONS
    "       market deposit --data DIR [--market URL] [--denom D] ACCOUNT "
    "AMOUNT\n"
    "\n"
    "Exit status: 0 success, 1 failure (reason on stderr), 2 usage error.\n";

static const char usage_run[] = RUN_OPTIONS
    "Run the market.  On first start it creates in DIR the ledger\n"
    "(ledger.db), the market key and the treasury key, writes the rules\n"
    "into the ledger's genesis entry and prints the public keys and the\n"
    "ledger's verifier key.  The rules, fixed for the ledger's life:\n"
    "  --epoch             billing epoch (default 6 s)\n"
    "  --take-rate         market's cut in ppm (default 20000 = 2%)\n"
    "  --usage-skew        ms added to a lease's age for the physical\n"
    "                      bounds of its usage (default one epoch)\n"
    "  --fee               fee per signed entry, micro-units of the first\n"
    "                      denomination, to the market key (default 100;\n"
    "                      the treasury's deposits and the market's own\n"
    "                      entries pay none)\n"
    "  --fee-kind          per-kind fees replacing the default ones\n"
    "                      (default lease.usage=10,provider.heartbeat=10)\n"
    "  --bond-per-cpu      bond an ask locks per 1000 cpu_millis\n"
    "                      (default 1000000)\n"
    "  --bond-per-gib      bond per GiB of memory (default 1000000)\n"
    "  --manifest-window   time a lease has to prove the manifest's\n"
    "                      delivery (lease.started) before it closes as\n"
    "                      manifest_not_delivered (default 300 s)\n"
    "  --denoms            the denominations settled, comma-separated\n"
    "                      (default uakt; Akash's SDL files also use uact)\n"
    "  --min-lease-epochs  an ask fits an order only if the escrow pays\n"
    "                      this many epochs of its price (default 10)\n"
    "  --checkpoint-interval  how often a checkpoint of the ledger is\n"
    "                      signed and, with witnesses, cosigned (default\n"
    "                      1000 ms; 100-3600000)\n"
    "Any start: --snapshot-every N saves the state (DIR/state.snap, its\n"
    "SHA-256 in the ledger's database) at the first checkpoint after N\n"
    "new entries (default 10000; 0: never), so that a restart replays\n"
    "only the entries after it; a snapshot that does not match the\n"
    "ledger is not used (logged) and the whole ledger is replayed.\n"
    "Witnesses (C2SP tlog-witness; any start): --witness VKEY=URL, once\n"
    "per witness (its cosigner key, as `ledger witness init` prints it,\n"
    "and its URL), or --witness-policy FILE (lines \"witness VKEY URL\",\n"
    "\"quorum N\"; see docs/witness.md); --quorum N of them must cosign\n"
    "a checkpoint before it is published (default: all).  The witnesses\n"
    "are asked in the background; until they answer, the last cosigned\n"
    "checkpoint stays published and submissions go on.  Without\n"
    "witnesses checkpoints are published signed by the market alone, as\n"
    "/v1/info says.  The ledger is also served as C2SP tlog-tiles\n"
    "(/checkpoint, /tile/...), written under DIR/tiles.\n"
    "Not rules, any start: --rate-limit / --rate-burst, entries per\n"
    "second and burst per signing key (default 50 and 200; 0 turns it\n"
    "off), answered 429 with Retry-After past it.  On restart the market\n"
    "rebuilds its state by replaying the ledger; a rule given then must\n"
    "equal the genesis.  SIGTERM or SIGINT stops it cleanly.\n"
    "The Lodge Console (docs/console.md) is served at / from --console\n"
    "DIR (default: console/ beside the binary's bin/, when it exists).\n"
    "--check-invariants walks the whole state after every entry (no\n"
    "negative balance or escrow, money conserved), for tests; `ledger\n"
    "audit` always does.\n"
    "The API speaks TLS 1.3 with a certificate self-signed by the market\n"
    "key, which clients pin (README \"TLS\"); --insecure-http (or\n"
    "LODGE_INSECURE_HTTP=1) serves plain HTTP instead, for loopback\n"
    "development only.  DIR/market.json holds the URL (\"url\").\n"
    "--tls-cert FILE --tls-key FILE (PEM chain and its key) add a public\n"
    "certificate, for browsers opening the console under a domain name:\n"
    "served to clients whose SNI names it (TLS 1.2 allowed for them),\n"
    "the others keep the key-pinned one; --tls-certs-dir DIR adds every\n"
    "NAME.crt + NAME.key pair there and looks again for renewals.\n"
    "Replicas (docs/market-ha.md): --etcd URL[,URL...] (an etcd cluster's\n"
    "client URLs) and --replica NAME (unique per replica) run this market\n"
    "as one replica of a ledger ordered by etcd; every replica holds the\n"
    "same market.key and treasury.key (copy DIR's), serves every read,\n"
    "and forwards submissions to the one elected sequencer, found at its\n"
    "--advertise URL (default: the --listen address).\n"
    "--replica-ttl DURATION (default 10m, at least 5s): a replica's\n"
    "report of what it holds lives this long after its last refresh; a\n"
    "replica gone for longer no longer holds etcd's compaction back (it\n"
    "copies what was compacted when it returns).  --bootstrap-from URL|DIR:\n"
    "copy entries compacted from etcd from that replica's API, a mirror\n"
    "of it, C2SP tiles (a URL or a folder) or a git mirror's folder\n"
    "(default: the sequencer's API), verified against a checkpoint\n"
    "signed by the market key.\n";

static const char usage_deposit[] =
    "usage: market deposit --data DIR [--market URL] [--denom D] ACCOUNT "
    "AMOUNT\n"
    "Sign an account.deposit of AMOUNT micro-units (default denom uakt) to\n"
    "ACCOUNT (ed25519:...) with the treasury key in DIR and submit it to the\n"
    "market (its address read from DIR/market.json unless --market; over\n"
    "TLS its key, pinned, from the same file).\n"
    "Prints the ledger index.\n";

struct arg {
	const char *name;
	const char **val; /* NULL: a flag without value, see flag_set */
};

static int flag_check_invariants, flag_insecure_http;
static const char *witness_args[TRUST_MAX_WITNESSES + 1];
static int nwitness_args;

static int
parse(int argc, char **argv, struct arg *args, char **pos, int maxpos,
    int *npos, const char *usage)
{
	int i;

	*npos = 0;
	for (i = 0; i < argc; i++) {
		struct arg *a;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			exit(0);
		}
		if (strncmp(argv[i], "--", 2) != 0) {
			if (*npos >= maxpos)
				goto bad;
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--check-invariants") == 0) {
			flag_check_invariants = 1;
			continue;
		}
		if (strcmp(argv[i], "--insecure-http") == 0) {
			flag_insecure_http = 1;
			continue;
		}
		if (strcmp(argv[i], "--witness") == 0 && i + 1 < argc &&
		    nwitness_args <= TRUST_MAX_WITNESSES) {
			witness_args[nwitness_args++] = argv[++i];
			continue;
		}
		for (a = args; a->name; a++)
			if (strcmp(argv[i] + 2, a->name) == 0)
				break;
		if (a->name == NULL || i + 1 >= argc)
			goto bad;
		*a->val = argv[++i];
	}
	return 0;
bad:
	fprintf(stderr, "market: unexpected or incomplete argument '%s'\n%s",
	    argv[i], usage);
	return -1;
}

/* An optional integer option in 0..max (unit for the message). */
static int
nonneg(const char *text, const char *name, const char *unit, int64_t max,
    int64_t *out)
{
	int64_t v;

	if (text == NULL)
		return 0;
	if (util_parse_i64(text, name, &v) < 0 || v < 0 || v > max) {
		fprintf(stderr, "market: %s: expected 0-%lld %s\n", name,
		    (long long)max, unit);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * The witnesses of --witness-policy FILE and --witness VKEY=URL into p,
 * and --quorum (default: the file's, else all of them).  Every witness
 * needs a URL: the market asks it.  2 (usage) with a message on error.
 */
static int
witness_policy(const char *file, const char *quorum, struct trust_policy *p)
{
	uint64_t q;
	int i;

	if (file != NULL && trust_policy_load(p, file) < 0) {
		fprintf(stderr, "market: --witness-policy: %s\n", err_msg());
		return 2;
	}
	for (i = 0; i < nwitness_args; i++) {
		const char *a = witness_args[i], *eq = strstr(a, "=http");
		char *vkey;
		int rc;

		if (eq == NULL ||
		    (vkey = strndup(a, (size_t)(eq - a))) == NULL) {
			fprintf(stderr,
			    "market: --witness '%s': expected VKEY=URL "
			    "(an http:// or https:// URL)\n",
			    a);
			return 2;
		}
		rc = trust_policy_add_witness(p, vkey, eq + 1);
		free(vkey);
		if (rc < 0) {
			fprintf(stderr, "market: --witness: %s\n", err_msg());
			return 2;
		}
	}
	if (file == NULL)
		p->quorum = p->nw;
	if (quorum != NULL) {
		if (util_parse_u64(quorum, "--quorum", &q) < 0 || q < 1 ||
		    q > p->nw) {
			fprintf(stderr,
			    "market: --quorum: expected 1-%zu (the "
			    "witnesses given)\n",
			    p->nw);
			return 2;
		}
		p->quorum = (size_t)q;
	}
	for (size_t j = 0; j < p->nw; j++)
		if (p->w[j].url == NULL) {
			fprintf(stderr,
			    "market: witness %s has no URL: the market "
			    "must know where to ask it\n",
			    p->w[j].v.name);
			return 2;
		}
	if (p->nw > 0 && p->quorum == 0) {
		fprintf(stderr,
		    "market: a quorum of 0 would publish what no witness "
		    "cosigned; give --quorum 1-%zu\n",
		    p->nw);
		return 2;
	}
	return 0;
}

/* A --witness-policy's "log" line, when there is one, must be this
 * market's ledger key. */
static int
policy_log_matches(const struct trust_policy *p, const struct market *m)
{
	char *vk = NULL;
	int same;

	if (!p->have_log)
		return 1;
	if (note_vkey_format(p->log.name, p->log.pub, &vk) < 0)
		return 0;
	same = strcmp(vk, market_vkey(m)) == 0;
	free(vk);
	return same;
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
cmd_run(int argc, char **argv)
{
	const char *data = NULL, *listen = NULL, *origin = NULL, *epoch = NULL,
	           *take = NULL, *grace = NULL, *level = NULL, *uskew = NULL,
	           *fee = NULL, *fee_kinds = NULL, *bcpu = NULL, *bgib = NULL,
	           *window = NULL, *minep = NULL, *rate = NULL, *burst = NULL,
	           *cpint = NULL, *wpolicy = NULL, *quorum = NULL,
	           *denoms = NULL, *console = NULL, *snapev = NULL,
	           *tls_cert = NULL, *tls_key = NULL, *tls_dir = NULL,
	           *pgrace = NULL, *etcd = NULL, *replica = NULL,
	           *advertise = NULL, *rttl = NULL, *bfrom = NULL;
	struct arg args[] = { { "data", &data }, { "listen", &listen },
		{ "origin", &origin }, { "epoch", &epoch },
		{ "take-rate", &take }, { "offline-grace", &grace },
		{ "log-level", &level }, { "usage-skew", &uskew },
		{ "fee", &fee }, { "fee-kind", &fee_kinds },
		{ "bond-per-cpu", &bcpu }, { "bond-per-gib", &bgib },
		{ "manifest-window", &window }, { "min-lease-epochs", &minep },
		{ "rate-limit", &rate }, { "rate-burst", &burst },
		{ "denoms", &denoms }, { "checkpoint-interval", &cpint },
		{ "witness-policy", &wpolicy }, { "quorum", &quorum },
		{ "console", &console }, { "snapshot-every", &snapev },
		{ "tls-cert", &tls_cert }, { "tls-key", &tls_key },
		{ "tls-certs-dir", &tls_dir }, { "pause-grace", &pgrace },
		{ "etcd", &etcd }, { "replica", &replica },
		{ "advertise", &advertise }, { "replica-ttl", &rttl },
		{ "bootstrap-from", &bfrom }, { NULL, NULL } };
	struct trust_policy wp;
	struct market_options o;
	struct market *m = NULL;
	enum log_level lv;
	sigset_t set;
	int64_t v;
	int npos, created, sig, rc = 0;

	trust_policy_init(&wp);
	if (parse(argc, argv, args, NULL, 0, &npos, usage_run) < 0)
		return 2;
	if (nwitness_args > TRUST_MAX_WITNESSES) {
		fprintf(stderr, "market: more than %d --witness\n",
		    TRUST_MAX_WITNESSES);
		return 2;
	}
	if (!data || !listen) {
		fprintf(stderr, "market: run needs --data and --listen\n%s",
		    usage_run);
		return 2;
	}
	log_set_name("market");
	if (level) {
		if (log_level_parse(level, &lv) < 0) {
			fprintf(stderr, "market: %s\n", err_msg());
			return 2;
		}
		log_set_level(lv);
	}
	market_options_default(&o);
	o.data_dir = data;
	o.listen = listen;
	o.check_invariants = flag_check_invariants;
	o.insecure_http = flag_insecure_http || util_insecure_http_env();
	o.denoms = denoms;
	o.console_dir = console;
	o.tls_cert = tls_cert;
	o.tls_key = tls_key;
	o.tls_certs_dir = tls_dir;
	if ((etcd != NULL) != (replica != NULL) ||
	    ((advertise != NULL || rttl != NULL || bfrom != NULL) &&
	        etcd == NULL)) {
		fprintf(stderr,
		    "market: --etcd and --replica go together (and "
		    "--advertise, --replica-ttl, --bootstrap-from with "
		    "them)\n");
		return 2;
	}
	/* the other replicas forward to it over TLS pinned to the market
	 * key only (docs/market-ha.md, "Attacks considered") */
	if (advertise != NULL && !o.insecure_http &&
	    strncmp(advertise, "https://", 8) != 0) {
		fprintf(stderr,
		    "market: --advertise: expected an https:// URL (this "
		    "replica serves TLS; the others forward to it only over "
		    "https pinned to the market key), not '%.200s'\n",
		    advertise);
		return 2;
	}
	if (rttl != NULL &&
	    (units_parse_duration(rttl, "--replica-ttl",
	         INT64_C(30) * 86400 * 1000, &o.replica_ttl_ms) < 0 ||
	        (o.replica_ttl_ms < MARKET_HA_REPLICA_TTL_MS_MIN &&
	            err_set(ERR_RANGE,
	                "--replica-ttl: expected at least 5s (a replica "
	                "refreshes it every third of it)") < 0))) {
		fprintf(stderr, "market: %s\n", err_msg());
		return 2;
	}
	if (bfrom != NULL && strncmp(bfrom, "http://", 7) != 0 &&
	    strncmp(bfrom, "https://", 8) != 0 && !is_dir(bfrom)) {
		fprintf(stderr,
		    "market: --bootstrap-from \"%.80s\": expected an "
		    "http:// or https:// URL (a replica's API, a mirror of "
		    "it, tiles) or the folder of a git mirror or of tiles\n",
		    bfrom);
		return 2;
	}
	o.bootstrap_from = bfrom;
	o.etcd = etcd;
	o.replica = replica;
	o.advertise = advertise;
	if (origin)
		o.origin = origin;
	if (epoch) {
		if (util_parse_i64(epoch, "--epoch", &v) < 0 || v <= 0 ||
		    v > 3600) {
			fprintf(stderr,
			    "market: --epoch: expected 1-3600 "
			    "seconds\n");
			return 2;
		}
		o.epoch_ms = v * 1000;
	}
	if (take) {
		if (util_parse_i64(take, "--take-rate", &v) < 0 || v < 0 ||
		    v > 1000000) {
			fprintf(stderr,
			    "market: --take-rate: expected 0-1000000 "
			    "parts per million\n");
			return 2;
		}
		o.take_rate_ppm = v;
	}
	if (grace) {
		if (util_parse_i64(grace, "--offline-grace", &v) < 0 || v < 0) {
			fprintf(stderr,
			    "market: --offline-grace: expected "
			    "seconds\n");
			return 2;
		}
		o.offline_grace_ms = v * 1000;
	}
	if (nonneg(uskew, "--usage-skew", "milliseconds", 86400000,
	        &o.usage_skew_ms) < 0 ||
	    nonneg(fee, "--fee", "micro-units", INT64_C(1) << 40, &o.fee) < 0 ||
	    nonneg(bcpu, "--bond-per-cpu", "micro-units", INT64_MAX,
	        &o.bond_per_cpu) < 0 ||
	    nonneg(bgib, "--bond-per-gib", "micro-units", INT64_MAX,
	        &o.bond_per_gib) < 0 ||
	    nonneg(window, "--manifest-window", "seconds", 86400,
	        &o.manifest_window_ms) < 0 ||
	    nonneg(minep, "--min-lease-epochs", "epochs", 1000000,
	        &o.min_lease_epochs) < 0)
		return 2;
	if (window) {
		if (o.manifest_window_ms == 0) {
			fprintf(stderr,
			    "market: --manifest-window: expected "
			    "1-86400 seconds\n");
			return 2;
		}
		o.manifest_window_ms *= 1000;
	}
	o.fee_kinds = fee_kinds;
	if (pgrace != NULL &&
	    units_parse_duration(pgrace, "--pause-grace",
	        INT64_C(365) * 86400 * 1000, &o.pause_grace_ms) < 0) {
		fprintf(stderr, "market: %s\n", err_msg());
		return 2;
	}
	if (cpint) {
		if (util_parse_i64(cpint, "--checkpoint-interval", &v) < 0 ||
		    v < STATE_CHECKPOINT_MS_MIN ||
		    v > STATE_CHECKPOINT_MS_MAX) {
			fprintf(stderr,
			    "market: --checkpoint-interval: expected %d-%d "
			    "milliseconds\n",
			    STATE_CHECKPOINT_MS_MIN, STATE_CHECKPOINT_MS_MAX);
			return 2;
		}
		o.checkpoint_ms = v;
	}
	if (snapev) {
		if (util_parse_i64(snapev, "--snapshot-every", &v) < 0 ||
		    v < 0) {
			fprintf(stderr,
			    "market: --snapshot-every: expected a number of "
			    "entries >= 0 (0: no snapshots)\n");
			return 2;
		}
		o.snapshot_every = v;
	}
	if (quorum != NULL && wpolicy == NULL && nwitness_args == 0) {
		fprintf(stderr,
		    "market: --quorum without --witness or "
		    "--witness-policy\n");
		return 2;
	}
	if ((rc = witness_policy(wpolicy, quorum, &wp)) != 0) {
		trust_policy_clear(&wp);
		return rc;
	}
	o.witnesses = &wp;
	if (rate) {
		if (util_parse_i64(rate, "--rate-limit", &v) < 0 || v < 0 ||
		    v > 1000000) {
			fprintf(stderr,
			    "market: --rate-limit: expected 0-1000000 "
			    "entries per second per key (0: off)\n");
			return 2;
		}
		o.rate_per_s = (double)v;
	}
	if (burst) {
		if (util_parse_i64(burst, "--rate-burst", &v) < 0 || v < 1 ||
		    v > 1000000) {
			fprintf(stderr,
			    "market: --rate-burst: expected 1-1000000 "
			    "entries\n");
			return 2;
		}
		o.rate_burst = (double)v;
	}
	/* block the stop signals in every thread; main waits for them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (market_open(&o, &m, &created) < 0) {
		fprintf(stderr, "market: %s\n", err_msg());
		trust_policy_clear(&wp);
		return 1;
	}
	if (!policy_log_matches(&wp, m)) {
		fprintf(stderr,
		    "market: --witness-policy %s: its \"log\" line is not "
		    "this market's ledger key (%s)\n",
		    wpolicy, market_vkey(m));
		market_free(m);
		trust_policy_clear(&wp);
		return 2;
	}
	if (market_start(m) < 0) {
		fprintf(stderr, "market: %s\n", err_msg());
		market_free(m);
		trust_policy_clear(&wp);
		return 1;
	}
	if (created)
		printf("market: created %s\n", data);
	if (wp.nw > 0)
		printf("witnesses:    %zu (quorum %zu): checkpoints are "
		       "published once cosigned\n",
		    wp.nw, wp.quorum);
	else
		printf("witnesses:    none: checkpoints are signed by the "
		       "market alone\n");
	printf("market key:   %s\ntreasury key: %s\nledger vkey:  %s\n"
	       "listening on  %s://%.*s:%u%s\n",
	    market_key_text(m), market_treasury_text(m), market_vkey(m),
	    o.insecure_http ? "http" : "https",
	    (int)(strchr(listen, ':') ? strrchr(listen, ':') - listen :
	                                (long)strlen(listen)),
	    listen, market_port(m),
	    o.insecure_http ? " (plain HTTP: --insecure-http)" :
	                      " (TLS 1.3, certificate of the market key)");
	fflush(stdout);
	log_info("serving on port %u", market_port(m));
	sigwait(&set, &sig);
	log_info("signal %d: stopping", sig);
	market_free(m);
	trust_policy_clear(&wp);
	return 0;
}

static int
cmd_deposit(int argc, char **argv)
{
	const char *data = NULL, *url = NULL, *denom = "uakt";
	struct arg args[] = { { "data", &data }, { "market", &url },
		{ "denom", &denom }, { NULL, NULL } };
	char *pos[2], path[PATH_MAX], urlbuf[512], *info = NULL, *text = NULL;
	uint8_t to[KEY_PUB_LEN], mk[KEY_PUB_LEN];
	struct envelope *e = NULL;
	struct http_result res = { 0 };
	struct key *k = NULL;
	json_t *body = NULL, *j = NULL;
	int64_t amount;
	size_t len;
	int npos, rc = 1;
	static const char *const hdr[] = { "Content-Type: application/json",
		NULL };

	if (parse(argc, argv, args, pos, 2, &npos, usage_deposit) < 0)
		return 2;
	if (!data || npos != 2) {
		fprintf(stderr,
		    "market: deposit needs --data, ACCOUNT and "
		    "AMOUNT\n%s",
		    usage_deposit);
		return 2;
	}
	if (key_pub_from_text(pos[0], to) < 0 ||
	    util_parse_i64(pos[1], "AMOUNT", &amount) < 0) {
		fprintf(stderr, "market: deposit: %s\n", err_msg());
		return 2;
	}
	if (amount <= 0) {
		fprintf(stderr, "market: deposit: AMOUNT must be positive\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/market.json", data);
	if (url != NULL) {
		if (util_read_file(path, 65536, &info, &len) == 0)
			(void)cjson_parse(info, len, &j);
	} else {
		if (util_read_file(path, 65536, &info, &len) < 0 ||
		    cjson_parse(info, len, &j) < 0) {
			fprintf(stderr,
			    "market: deposit: %s (is the market "
			    "running? or pass --market URL)\n",
			    err_msg());
			goto out;
		}
		if (json_is_string(json_object_get(j, "url")))
			snprintf(urlbuf, sizeof(urlbuf), "%s",
			    json_string_value(json_object_get(j, "url")));
		else
			snprintf(urlbuf, sizeof(urlbuf), "http://%s:%lld",
			    json_string_value(
			        json_object_get(j, "listen_host")),
			    (long long)json_integer_value(
			        json_object_get(j, "listen_port")));
		url = urlbuf;
	}
	/* Our own market (TLS): its key is in its market.json. */
	if (j != NULL && json_is_string(json_object_get(j, "market_key")) &&
	    key_pub_from_text(
	        json_string_value(json_object_get(j, "market_key")), mk) == 0 &&
	    http_pin(url, mk) < 0) {
		fprintf(stderr, "market: deposit: %s\n", err_msg());
		goto out;
	}
	snprintf(path, sizeof(path), "%s/treasury.key", data);
	body = json_pack("{s:s,s:s,s:I}", "to", pos[0], "denom", denom,
	    "amount", (json_int_t)amount);
	if (key_load(path, &k) < 0 ||
	    envelope_sign(k, "account.deposit", body, NULL, -1, &e) < 0 ||
	    envelope_dump(e, &text, &len) < 0) {
		fprintf(stderr, "market: deposit: %s\n", err_msg());
		goto out;
	}
	snprintf(path, sizeof(path), "%s/v1/entries", url);
	if (http_fetch("POST", path, hdr, text, len, 10000, &res) < 0) {
		fprintf(stderr, "market: deposit: %s\n", err_msg());
		goto out;
	}
	if (res.status != 201) {
		fprintf(stderr, "market: deposit refused (HTTP %ld): %s\n",
		    res.status, res.body);
		goto out;
	}
	printf("%s\n", res.body);
	rc = 0;
out:
	http_result_clear(&res);
	free(text);
	free(info);
	json_decref(j);
	json_decref(body);
	envelope_free(e);
	key_free(k);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_main, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	if (strcmp(argv[1], "deposit") == 0)
		return cmd_deposit(argc - 2, argv + 2);
	fprintf(stderr, "market: unknown command '%s'\n%s", argv[1],
	    usage_main);
	return 2;
}
