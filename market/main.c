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
#include <unistd.h>

#include "common/cjson.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/log.h"
#include "common/util.h"
#include "market/market.h"

static const char usage_main[] =
    "usage: market run --data DIR --listen HOST:PORT [--origin NAME]\n"
    "                  [--epoch SECONDS] [--take-rate PPM]\n"
    "                  [--offline-grace SECONDS] [--log-level LEVEL]\n"
    "                  [--check-invariants]\n"
    "       market deposit --data DIR [--market URL] [--denom D] ACCOUNT "
    "AMOUNT\n"
    "\n"
    "Exit status: 0 success, 1 failure (reason on stderr), 2 usage error.\n";

static const char usage_run[] =
    "usage: market run --data DIR --listen HOST:PORT [--origin NAME]\n"
    "                  [--epoch SECONDS] [--take-rate PPM]\n"
    "                  [--offline-grace SECONDS] [--log-level LEVEL]\n"
    "                  [--denoms D1,D2...] [--check-invariants]\n"
    "Run the market.  On first start it creates in DIR the ledger\n"
    "(ledger.db), the market key and the treasury key, writes the rules\n"
    "(epoch, take rate in parts per million, default 20000 = 2%) into the\n"
    "ledger's genesis entry and prints the public keys and the ledger's\n"
    "verifier key.  On restart it rebuilds its state by replaying the\n"
    "ledger.  SIGTERM or SIGINT stops it cleanly.  --check-invariants walks\n"
    "the whole state after every entry (no negative balance or escrow,\n"
    "money conserved), for tests; `ledger audit` always does.  --denoms:\n"
    "the denominations settled (default uakt; Akash's SDL files also use\n"
    "uact), first start only.\n";

static const char usage_deposit[] =
    "usage: market deposit --data DIR [--market URL] [--denom D] ACCOUNT "
    "AMOUNT\n"
    "Sign an account.deposit of AMOUNT micro-units (default denom uakt) to\n"
    "ACCOUNT (ed25519:...) with the treasury key in DIR and submit it to the\n"
    "market (its address read from DIR/market.json unless --market).\n"
    "Prints the ledger index.\n";

struct arg {
	const char *name;
	const char **val; /* NULL: a flag without value, see flag_set */
};

static int flag_check_invariants;

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

static int
cmd_run(int argc, char **argv)
{
	const char *data = NULL, *listen = NULL, *origin = NULL, *epoch = NULL,
	           *take = NULL, *grace = NULL, *level = NULL, *denoms = NULL;
	struct arg args[] = { { "data", &data }, { "listen", &listen },
		{ "origin", &origin }, { "epoch", &epoch },
		{ "take-rate", &take }, { "offline-grace", &grace },
		{ "log-level", &level }, { "denoms", &denoms },
		{ NULL, NULL } };
	struct market_options o;
	struct market *m = NULL;
	enum log_level lv;
	sigset_t set;
	int64_t v;
	int npos, created, sig;

	if (parse(argc, argv, args, NULL, 0, &npos, usage_run) < 0)
		return 2;
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
	o.denoms = denoms;
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
	/* block the stop signals in every thread; main waits for them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (market_open(&o, &m, &created) < 0 || market_start(m) < 0) {
		fprintf(stderr, "market: %s\n", err_msg());
		market_free(m);
		return 1;
	}
	if (created)
		printf("market: created %s\n", data);
	printf("market key:   %s\ntreasury key: %s\nledger vkey:  %s\n"
	       "listening on  http://%.*s:%u\n",
	    market_key_text(m), market_treasury_text(m), market_vkey(m),
	    (int)(strchr(listen, ':') ? strrchr(listen, ':') - listen :
	                                (long)strlen(listen)),
	    listen, market_port(m));
	fflush(stdout);
	log_info("serving on port %u", market_port(m));
	sigwait(&set, &sig);
	log_info("signal %d: stopping", sig);
	market_free(m);
	return 0;
}

static int
cmd_deposit(int argc, char **argv)
{
	const char *data = NULL, *url = NULL, *denom = "uakt";
	struct arg args[] = { { "data", &data }, { "market", &url },
		{ "denom", &denom }, { NULL, NULL } };
	char *pos[2], path[PATH_MAX], urlbuf[512], *info = NULL, *text = NULL;
	uint8_t to[KEY_PUB_LEN];
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
	if (url == NULL) {
		snprintf(path, sizeof(path), "%s/market.json", data);
		if (util_read_file(path, 65536, &info, &len) < 0 ||
		    cjson_parse(info, len, &j) < 0) {
			fprintf(stderr,
			    "market: deposit: %s (is the market "
			    "running? or pass --market URL)\n",
			    err_msg());
			goto out;
		}
		snprintf(urlbuf, sizeof(urlbuf), "http://%s:%lld",
		    json_string_value(json_object_get(j, "listen_host")),
		    (long long)json_integer_value(
		        json_object_get(j, "listen_port")));
		url = urlbuf;
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
