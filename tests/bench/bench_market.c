/*
 * bench_market: signed submissions per second to a real market over HTTP
 * on loopback (keep-alive clients, each waiting for its 201, which the
 * market sends once the entry is durable), with p50/p99 latency, next to
 * the raw Ed25519 verify rate measured in the same run.  The clients are
 * minimal keep-alive HTTP/1.1 over raw sockets (curl would cost the market
 * a good share of the two cores it is measured on).  The submissions are
 * account.transfer entries from funded keys, one per client, so every
 * one pays its fee and passes the per-key rate limit (set high enough
 * not to refuse them: the limiter's cost is measured, not its refusals).
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

#define CLIENTS 64
#define PER_CLIENT 200

struct client {
	char **bodies;
	size_t *lens;
	size_t n;
	uint64_t *lat;
	uint16_t port;
	int failed;
};

/* A minimal keep-alive HTTP/1.1 client over a raw socket: the load
 * generator shares the two cores with the market, so it should cost as
 * little as possible. */
static int
connect_to(uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Send one POST and read its answer; returns the status or -1. */
static int
post_once(int fd, const char *body, size_t len)
{
	char hdr[256], buf[4096];
	size_t have = 0, need = 0;
	int n, status = -1;
	char *end = NULL;

	n = snprintf(hdr, sizeof(hdr),
	    "POST /v1/entries HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n",
	    len);
	if (write(fd, hdr, (size_t)n) != n ||
	    write(fd, body, len) != (ssize_t)len)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			char *cl = strcasestr(buf, "Content-Length:");
			status = atoi(buf + 9);
			need = (size_t)(end - buf) + 4 +
			    (cl ? strtoul(cl + 15, NULL, 10) : 0);
		}
		if (end && have >= need)
			return status;
		if (have >= sizeof(buf) - 1)
			return -1;
	}
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	int fd = connect_to(c->port);

	for (size_t i = 0; i < c->n; i++) {
		uint64_t t0 = util_mono_ns();
		if (fd < 0 || post_once(fd, c->bodies[i], c->lens[i]) != 201)
			c->failed++;
		c->lat[i] = util_mono_ns() - t0;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
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
	struct client cl[CLIENTS];
	pthread_t th[CLIENTS];
	struct key *treasury, *who, *from[CLIENTS];
	char dir[512], path[600], to[KEY_TEXT_SIZE], listen[] = "127.0.0.1:0";
	uint8_t pub[32], sig[64];
	uint64_t *all, t0, ns, n = 0, vn = 0;
	double raw, rate;
	int created, failed = 0;

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
	/* each client's key gets funds for its fees and transfers */
	{
		int fd = connect_to(market_port(m));
		for (int c = 0; c < CLIENTS; c++) {
			struct envelope *e;
			char ft[KEY_TEXT_SIZE], *text;
			size_t len;
			json_t *body;
			if (key_generate(&from[c]) < 0)
				die("keys");
			key_public(from[c], pub);
			key_pub_to_text(pub, ft);
			body = json_pack("{s:s,s:s,s:i}", "to", ft, "denom",
			    "uakt", "amount", 1000000);
			if (envelope_sign(treasury, "account.deposit", body,
			        NULL, -1, &e) < 0 ||
			    envelope_dump(e, &text, &len) < 0 ||
			    post_once(fd, text, len) != 201)
				die("funding the clients' keys");
			free(text);
			envelope_free(e);
			json_decref(body);
		}
		close(fd);
	}
	for (int c = 0; c < CLIENTS; c++) {
		cl[c].n = PER_CLIENT;
		cl[c].bodies = calloc(PER_CLIENT, sizeof(char *));
		cl[c].lens = calloc(PER_CLIENT, sizeof(size_t));
		cl[c].lat = calloc(PER_CLIENT, sizeof(uint64_t));
		cl[c].failed = 0;
		cl[c].port = market_port(m);
		for (size_t i = 0; i < PER_CLIENT; i++) {
			struct envelope *e;
			json_t *body = json_pack("{s:s,s:s,s:i}", "to", to,
			    "denom", "uakt", "amount", 1);
			if (envelope_sign(from[c], "account.transfer", body,
			        NULL, -1, &e) < 0 ||
			    envelope_dump(e, &cl[c].bodies[i], &cl[c].lens[i]) <
			        0)
				die("sign");
			envelope_free(e);
			json_decref(body);
		}
	}
	/* the baseline: raw verify of one such envelope, one core */
	key_sign(from[0], cl[0].bodies[0], cl[0].lens[0], sig);
	key_public(from[0], pub);
	t0 = util_mono_ns();
	while (util_mono_ns() - t0 < 1000000000ull) {
		for (int i = 0; i < 50; i++)
			key_verify(pub, cl[0].bodies[0], cl[0].lens[0], sig);
		vn += 50;
	}
	raw = (double)vn * 1e9 / (double)(util_mono_ns() - t0);
	t0 = util_mono_ns();
	for (int c = 0; c < CLIENTS; c++)
		pthread_create(&th[c], NULL, client_main, &cl[c]);
	for (int c = 0; c < CLIENTS; c++)
		pthread_join(th[c], NULL);
	ns = util_mono_ns() - t0;
	all = calloc(CLIENTS * PER_CLIENT, sizeof(uint64_t));
	for (int c = 0; c < CLIENTS; c++) {
		memcpy(all + n, cl[c].lat, PER_CLIENT * sizeof(uint64_t));
		n += PER_CLIENT;
		failed += cl[c].failed;
	}
	qsort(all, n, sizeof(uint64_t), cmp_u64);
	rate = (double)n * 1e9 / (double)ns;
	printf("market: raw Ed25519 verify (1 core): %.0f/s\n", raw);
	printf(
	    "market: signed submissions over HTTP (%d keep-alive connections, "
	    "201 after fsync'd group commit): %.0f/s = %.2f x raw verify "
	    "(goal >= 0.6); latency p50 %.2f ms, p99 %.2f ms; %d failed\n",
	    CLIENTS, rate, rate / raw, (double)all[n / 2] / 1e6,
	    (double)all[n * 99 / 100] / 1e6, failed);
	{
		/* how many fsync'd commits carried them: the group size */
		struct http_result r;
		char url[128], *p;
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics",
		    market_port(m));
		if (http_fetch("GET", url, NULL, NULL, 0, 5000, &r) == 0 &&
		    (p = strstr(r.body, "\nlodge_commits_total ")) != NULL)
			printf("market: %" PRIu64 " submissions in %llu group "
			       "commits (%.1f per fsync)\n",
			    n, strtoull(p + 21, NULL, 10),
			    (double)n / (double)strtoull(p + 21, NULL, 10));
		http_result_clear(&r);
	}
	for (int c = 0; c < CLIENTS; c++) {
		for (size_t i = 0; i < PER_CLIENT; i++)
			free(cl[c].bodies[i]);
		free(cl[c].bodies);
		free(cl[c].lens);
		free(cl[c].lat);
	}
	free(all);
	key_free(treasury);
	key_free(who);
	for (int c = 0; c < CLIENTS; c++)
		key_free(from[c]);
	market_free(m);
	return failed ? 1 : 0;
}
