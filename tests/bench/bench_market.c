/*
 * bench_market: signed submissions per second to a real market over HTTP
 * on loopback (keep-alive clients, each waiting for its 201, which the
 * market sends once the entry is durable), with p50/p99 latency, next to
 * the raw Ed25519 verify rate measured in the same run.  The clients are
 * benchlib's minimal keep-alive HTTP/1.1 over raw sockets (curl would cost
 * the market a good share of the two cores it is measured on).  The
 * submissions are account.transfer entries from funded keys, one per
 * client, so every one pays its fee and passes the per-key rate limit (set
 * high enough not to refuse them: the limiter's cost is measured, not its
 * refusals).
 * Usage: bench_market DIR
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/envelope.h"
#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/util.h"
#include "market/market.h"
#include "tests/bench/benchlib.h"

#define CLIENTS 64
#define PER_CLIENT 200

/* Every client's signed envelopes, each framed as a whole POST. */
struct requests {
	char **req[CLIENTS];
	size_t *len[CLIENTS];
};

static const char *
next_request(void *ctx, int c, size_t i, size_t *len)
{
	struct requests *rq = ctx;

	*len = rq->len[c][i];
	return rq->req[c][i];
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_market: %s: %s\n", what, err_msg());
	exit(1);
}

int
main(int argc, char **argv)
{
	struct market_options o;
	struct market *m;
	static struct requests rq;
	struct bench_load l = { .clients = CLIENTS,
		.per_client = PER_CLIENT,
		.want_status = 201,
		.request = next_request,
		.ctx = &rq };
	struct bench_result r;
	struct key *treasury, *who, *from[CLIENTS];
	char dir[512], path[600], to[KEY_TEXT_SIZE], listen[] = "127.0.0.1:0";
	uint8_t pub[32], sig[64];
	uint64_t t0, vn = 0;
	double raw, rate;
	size_t failed;
	int created;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_market DIR\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/market", argv[1]);
	market_options_default(&o);
	o.data_dir = dir;
	o.listen = listen;
	o.checkpoint_ms = 1000;
	o.rate_burst = PER_CLIENT + 100;
	if (market_open(&o, &m, &created) < 0 || market_start(m) < 0)
		die("market");
	snprintf(path, sizeof(path), "%s/treasury.key", dir);
	if (key_load(path, &treasury) < 0 || key_generate(&who) < 0)
		die("keys");
	key_public(who, pub);
	key_pub_to_text(pub, to);
	l.port = market_port(m);
	/* each client's key gets funds for its fees and transfers */
	for (int c = 0; c < CLIENTS; c++) {
		struct envelope *e;
		struct http_result hr;
		char ft[KEY_TEXT_SIZE], url[128], *text;
		size_t len;
		json_t *body;

		if (key_generate(&from[c]) < 0)
			die("keys");
		key_public(from[c], pub);
		key_pub_to_text(pub, ft);
		body = json_pack("{s:s,s:s,s:i}", "to", ft, "denom", "uakt",
		    "amount", 1000000);
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/entries",
		    market_port(m));
		if (envelope_sign(treasury, "account.deposit", body, NULL, -1,
		        &e) < 0 ||
		    envelope_dump(e, &text, &len) < 0 ||
		    http_fetch("POST", url, NULL, text, len, 10000, &hr) < 0 ||
		    hr.status != 201)
			die("funding the clients' keys");
		http_result_clear(&hr);
		free(text);
		envelope_free(e);
		json_decref(body);
	}
	for (int c = 0; c < CLIENTS; c++) {
		rq.req[c] = calloc(PER_CLIENT, sizeof(char *));
		rq.len[c] = calloc(PER_CLIENT, sizeof(size_t));
		if (rq.req[c] == NULL || rq.len[c] == NULL)
			die("out of memory");
		for (size_t i = 0; i < PER_CLIENT; i++) {
			struct envelope *e;
			json_t *body = json_pack("{s:s,s:s,s:i}", "to", to,
			    "denom", "uakt", "amount", 1);
			char *text;
			size_t len;
			int n;

			if (envelope_sign(from[c], "account.transfer", body,
			        NULL, -1, &e) < 0 ||
			    envelope_dump(e, &text, &len) < 0)
				die("sign");
			n = asprintf(&rq.req[c][i],
			    "POST /v1/entries HTTP/1.1\r\n"
			    "Host: 127.0.0.1\r\nContent-Type: "
			    "application/json\r\nContent-Length: %zu\r\n\r\n"
			    "%s",
			    len, text);
			if (n < 0)
				die("out of memory");
			rq.len[c][i] = (size_t)n;
			free(text);
			envelope_free(e);
			json_decref(body);
		}
	}
	/* the baseline: raw verify of one such envelope, one core */
	{
		const char *b0 = strstr(rq.req[0][0], "\r\n\r\n") + 4;
		size_t l0 = rq.len[0][0] - (size_t)(b0 - rq.req[0][0]);

		key_sign(from[0], b0, l0, sig);
		key_public(from[0], pub);
		t0 = util_mono_ns();
		while (util_mono_ns() - t0 < 1000000000ull) {
			for (int i = 0; i < 50; i++)
				key_verify(pub, b0, l0, sig);
			vn += 50;
		}
	}
	raw = (double)vn * 1e9 / (double)(util_mono_ns() - t0);
	if (bench_load_run(&l, &r) < 0)
		die("out of memory or threads");
	rate = (double)r.n / r.seconds;
	printf("market: raw Ed25519 verify (1 core): %.0f/s\n", raw);
	printf(
	    "market: signed submissions over HTTP (%d keep-alive connections, "
	    "201 after fsync'd group commit): %.0f/s = %.2f x raw verify "
	    "(goal >= 0.6); latency p50 %.2f ms, p99 %.2f ms; %zu failed\n",
	    CLIENTS, rate, rate / raw, (double)bench_pct(r.lat, r.n, 50) / 1e6,
	    (double)bench_pct(r.lat, r.n, 99) / 1e6, r.errors);
	{
		/* how many fsync'd commits carried them: the group size */
		struct http_result hr;
		char url[128], *p;
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics",
		    market_port(m));
		if (http_fetch("GET", url, NULL, NULL, 0, 5000, &hr) == 0 &&
		    (p = strstr(hr.body, "\nlodge_commits_total ")) != NULL)
			printf("market: %zu submissions in %llu group "
			       "commits (%.1f per fsync)\n",
			    r.n, strtoull(p + 21, NULL, 10),
			    (double)r.n / (double)strtoull(p + 21, NULL, 10));
		http_result_clear(&hr);
	}
	for (int c = 0; c < CLIENTS; c++) {
		for (size_t i = 0; i < PER_CLIENT; i++)
			free(rq.req[c][i]);
		free(rq.req[c]);
		free(rq.len[c]);
	}
	failed = r.errors;
	bench_result_free(&r);
	key_free(treasury);
	key_free(who);
	for (int c = 0; c < CLIENTS; c++)
		key_free(from[c]);
	market_free(m);
	return failed ? 1 : 0;
}
