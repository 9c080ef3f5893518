/*
 * bench_tls: what TLS costs (README "TLS").  (1) Signed submissions per
 * second to a market over TLS 1.3 (its certificate self-signed by the
 * market key, checked by the clients as a pin) against a market over
 * plain HTTP, in the same run: keep-alive clients, the median ratio of
 * ROUNDS pairs of rounds run back to back, which goes first alternating
 * (goal >= 0.9).  (2) Full TLS handshakes per second
 * (a new connection, a handshake, one small GET, close) on the provider's
 * HTTP server with a gateway name (SNI) against nginx (the Debian
 * package) serving the same Ed25519 certificate, one event loop each
 * (nginx: worker_processes 1), same clients.
 * Usage: bench_tls DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/envelope.h"
#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/tls.h"
#include "common/util.h"
#include "market/market.h"
#include "tests/bench/benchlib.h"

#define CLIENTS 32
#define PER_CLIENT 100
#define ROUNDS 7
#define HS_CLIENTS 4
#define HS_SECONDS 1
#define HS_PAIRS 5

static void die(const char *what) __attribute__((noreturn));

static void
die(const char *what)
{
	fprintf(stderr, "bench_tls: %s: %s\n", what, err_msg());
	exit(1);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ---- a minimal client: plain or TLS over one socket ---- */

struct conn {
	int fd;
	SSL *ssl; /* NULL: plain */
};

static SSL_CTX *client_ctx;

/* Connect (and shake hands, with sni when not NULL); when pin is not
 * NULL the certificate's key must be it. */
static int
conn_open(struct conn *c, uint16_t port, int tls, const char *sni,
    const uint8_t *pin)
{
	c->ssl = NULL;
	if ((c->fd = bench_connect(port)) < 0)
		return -1;
	if (!tls)
		return 0;
	if ((c->ssl = SSL_new(client_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    (sni && SSL_set_tlsext_host_name(c->ssl, sni) != 1) ||
	    SSL_connect(c->ssl) != 1)
		goto fail;
	if (pin) {
		X509 *x = SSL_get0_peer_certificate(c->ssl);
		EVP_PKEY *pk = x ? X509_get0_pubkey(x) : NULL;
		uint8_t pub[KEY_PUB_LEN];
		size_t n = sizeof(pub);
		if (pk == NULL ||
		    EVP_PKEY_get_raw_public_key(pk, pub, &n) != 1 ||
		    n != KEY_PUB_LEN || memcmp(pub, pin, KEY_PUB_LEN) != 0)
			goto fail;
	}
	return 0;
fail:
	ERR_clear_error();
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->fd = -1;
	return -1;
}

static void
conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int
conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->ssl) {
		size_t w;
		return SSL_write_ex(c->ssl, p, n, &w) == 1 && w == n ? 0 : -1;
	}
	return util_send_all(c->fd, p, n);
}

static ssize_t
conn_read(struct conn *c, void *p, size_t n)
{
	if (c->ssl) {
		size_t r;
		return SSL_read_ex(c->ssl, p, n, &r) == 1 ? (ssize_t)r : -1;
	}
	return read(c->fd, p, n);
}

/* Send head+body, read one Content-Length framed answer: its status. */
static int
exchange(struct conn *c, const char *head, size_t hlen, const char *body,
    size_t blen)
{
	char buf[4096];
	size_t have = 0, need = 0;
	char *end = NULL;
	int status = -1;

	/* head and body in one write, as curl sends a small POST */
	if (blen) {
		char *all = malloc(hlen + blen);
		int rc;
		if (all == NULL)
			return -1;
		memcpy(all, head, hlen);
		memcpy(all + hlen, body, blen);
		rc = conn_write(c, all, hlen + blen);
		free(all);
		if (rc < 0)
			return -1;
	} else if (conn_write(c, head, hlen) < 0) {
		return -1;
	}
	for (;;) {
		ssize_t r = conn_read(c, buf + have, sizeof(buf) - 1 - have);
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

/* ---- (1) submissions ---- */

struct sub_client {
	char **bodies;
	size_t *lens;
	size_t n;
	uint16_t port;
	int tls;
	const uint8_t *pin;
	int failed;
};

static void *
sub_main(void *arg)
{
	struct sub_client *s = arg;
	struct conn c;
	char head[256];

	pthread_setname_np(pthread_self(), "tls-client");
	if (conn_open(&c, s->port, s->tls, NULL, s->pin) < 0) {
		s->failed = (int)s->n;
		return NULL;
	}
	for (size_t i = 0; i < s->n; i++) {
		int n = snprintf(head, sizeof(head),
		    "POST /v1/entries HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n\r\n",
		    s->lens[i]);
		if (exchange(&c, head, (size_t)n, s->bodies[i], s->lens[i]) !=
		    201)
			s->failed++;
	}
	conn_close(&c);
	return NULL;
}

/* CLIENTS keep-alive clients, PER_CLIENT fresh deposits each: per s. */
static double
submissions(uint16_t port, int tls, const uint8_t *pin,
    const struct key *treasury, const char *to, int *failed, double *cpu_us)
{
	struct sub_client cl[CLIENTS];
	pthread_t th[CLIENTS];
	uint64_t t0, ns;
	struct rusage ru0, ru1;

	for (int c = 0; c < CLIENTS; c++) {
		memset(&cl[c], 0, sizeof(cl[c]));
		cl[c].n = PER_CLIENT;
		cl[c].bodies = calloc(PER_CLIENT, sizeof(char *));
		cl[c].lens = calloc(PER_CLIENT, sizeof(size_t));
		cl[c].port = port;
		cl[c].tls = tls;
		cl[c].pin = pin;
		for (size_t i = 0; i < PER_CLIENT; i++) {
			struct envelope *e;
			json_t *body = json_pack("{s:s,s:s,s:i}", "to", to,
			    "denom", "uakt", "amount", 1);
			if (envelope_sign(treasury, "account.deposit", body,
			        NULL, -1, &e) < 0 ||
			    envelope_dump(e, &cl[c].bodies[i], &cl[c].lens[i]) <
			        0)
				die("sign");
			envelope_free(e);
			json_decref(body);
		}
	}
	getrusage(RUSAGE_SELF, &ru0);
	t0 = util_mono_ns();
	for (int c = 0; c < CLIENTS; c++)
		pthread_create(&th[c], NULL, sub_main, &cl[c]);
	for (int c = 0; c < CLIENTS; c++)
		pthread_join(th[c], NULL);
	ns = util_mono_ns() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	/* CPU of the whole process (market and clients) per submission:
	 * what the weather of a shared machine does not change */
	*cpu_us = ((double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
	               ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) *
	                  1e6 +
	              (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
	                  ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec)) /
	    (CLIENTS * PER_CLIENT);
	for (int c = 0; c < CLIENTS; c++) {
		*failed += cl[c].failed;
		for (size_t i = 0; i < PER_CLIENT; i++)
			free(cl[c].bodies[i]);
		free(cl[c].bodies);
		free(cl[c].lens);
	}
	return (double)CLIENTS * PER_CLIENT * 1e9 / (double)ns;
}

static struct market *
start_market(const char *base, const char *name, int insecure)
{
	static char listen[] = "127.0.0.1:0";
	struct market_options o;
	struct market *m;
	char dir[600];
	int created;

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	market_options_default(&o);
	o.data_dir = strdup(dir);
	o.listen = listen;
	o.checkpoint_ms = 1000;
	o.insecure_http = insecure;
	if (market_open(&o, &m, &created) < 0 || market_start(m) < 0)
		die("market");
	return m;
}

/* ---- (2) handshakes ---- */

struct hs {
	uint16_t port;
	atomic_int *stop;
	unsigned long n, failed;
};

static void *
hs_main(void *arg)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: x-web.tls.bench\r\n"
	                          "Connection: close\r\n\r\n";
	struct hs *h = arg;

	pthread_setname_np(pthread_self(), "hs-client");
	while (!atomic_load(h->stop)) {
		struct conn c;
		if (conn_open(&c, h->port, 1, "x-web.tls.bench", NULL) < 0) {
			h->failed++;
			continue;
		}
		if (exchange(&c, req, sizeof(req) - 1, NULL, 0) == 200)
			h->n++;
		else
			h->failed++;
		conn_close(&c);
	}
	return NULL;
}

/* Handshakes (each with one GET) per second on port. */
static double
handshakes(uint16_t port, unsigned long *failed)
{
	struct hs h[HS_CLIENTS];
	pthread_t th[HS_CLIENTS];
	atomic_int stop = 0;
	unsigned long n = 0;
	uint64_t t0 = util_mono_ns(), ns;

	for (int i = 0; i < HS_CLIENTS; i++) {
		memset(&h[i], 0, sizeof(h[i]));
		h[i].port = port;
		h[i].stop = &stop;
		pthread_create(&th[i], NULL, hs_main, &h[i]);
	}
	sleep(HS_SECONDS);
	atomic_store(&stop, 1);
	for (int i = 0; i < HS_CLIENTS; i++) {
		pthread_join(th[i], NULL);
		n += h[i].n;
		*failed += h[i].failed;
	}
	ns = util_mono_ns() - t0;
	return (double)n * 1e9 / (double)ns;
}

static void
hello(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	(void)req;
	resp->content_type = "text/plain";
	http_respond(resp, 200, strdup("hello, lodge\n"));
}

/* The PEM files of k's self-signed certificate, for nginx and for the
 * gateway name of our server alike. */
static void
write_pems(const struct key *k, const char *crt, const char *keyf)
{
	uint8_t *der, seed[KEY_SEED_LEN];
	const unsigned char *p;
	size_t len;
	X509 *x;
	EVP_PKEY *pk;
	FILE *f;

	if (tls_cert_self_signed(k, "*.tls.bench", &der, &len) < 0 ||
	    key_seed(k, seed) < 0)
		die("certificate");
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	if (x == NULL || pk == NULL || (f = fopen(crt, "w")) == NULL)
		die("certificate files");
	PEM_write_X509(f, x);
	fclose(f);
	if ((f = fopen(keyf, "w")) == NULL)
		die("key file");
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(keyf, 0600);
	X509_free(x);
	EVP_PKEY_free(pk);
	free(der);
}

static uint16_t
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t p = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

/* nginx serving crt/key on a free port, one worker: its pid, or -1. */
static pid_t
start_nginx(const char *dir, const char *crt, const char *keyf, uint16_t *port)
{
	static const char *const bins[] = { "/usr/sbin/nginx", "/usr/bin/nginx",
		NULL };
	const char *bin = NULL;
	char conf[800];
	FILE *f;
	pid_t pid;

	for (int i = 0; bins[i]; i++)
		if (access(bins[i], X_OK) == 0)
			bin = bins[i];
	if (bin == NULL)
		return -1;
	*port = free_port();
	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f,
	    "worker_processes 1;\n%s"
	    "pid %s/nginx.pid;\nerror_log %s/nginx.err;\n"
	    "events { worker_connections 4096; }\n"
	    "http {\n access_log off;\n"
	    " client_body_temp_path %s/t; proxy_temp_path %s/t;\n"
	    " fastcgi_temp_path %s/t; uwsgi_temp_path %s/t;\n"
	    " scgi_temp_path %s/t;\n"
	    " ssl_session_cache off; ssl_session_tickets off;\n"
	    " server {\n  listen 127.0.0.1:%u ssl;\n"
	    "  ssl_protocols TLSv1.2 TLSv1.3;\n"
	    "  ssl_certificate %s;\n  ssl_certificate_key %s;\n"
	    "  location / { default_type text/plain; "
	    "return 200 \"hello, lodge\\n\"; }\n }\n}\n",
	    geteuid() == 0 ? "user root;\n" : "", dir, dir, dir, dir, dir, dir,
	    dir, *port, crt, keyf);
	fclose(f);
	if ((pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execl(bin, "nginx", "-p", dir, "-c", conf, "-g", "daemon off;",
		    (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) { /* listening within 5 s */
		int fd = bench_connect(*port);
		if (fd >= 0) {
			close(fd);
			return pid;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

int
main(int argc, char **argv)
{
	struct market *plain, *tls;
	struct key *treasury, *who, *pk;
	struct tls_server *ts;
	struct http_server_config hc;
	struct http_server *srv;
	double cp[ROUNDS], ct[ROUNDS];
	double sp[ROUNDS], st[ROUNDS], sr[ROUNDS], ho[HS_PAIRS], hn[HS_PAIRS],
	    hr[HS_PAIRS];
	unsigned long hf = 0, nf = 0;
	char path[800], to[KEY_TEXT_SIZE], crt[600], keyf[600], nd[600];
	uint8_t pub[KEY_PUB_LEN], mpub[KEY_PUB_LEN];
	uint16_t nport = 0;
	int failed = 0;
	pid_t ng;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_tls DIR\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((client_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("TLS client context");
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL); /* pinned */
	SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF);

	/* (1) the same load on a plain and a TLS market, alternating */
	plain = start_market(argv[1], "plain", 1);
	tls = start_market(argv[1], "tls", 0);
	snprintf(path, sizeof(path), "%s/plain/treasury.key", argv[1]);
	if (key_load(path, &treasury) < 0 || key_generate(&who) < 0)
		die("keys");
	key_public(who, pub);
	key_pub_to_text(pub, to);
	{
		/* the TLS market's treasury, to sign its deposits */
		struct key *t2;
		snprintf(path, sizeof(path), "%s/tls/treasury.key", argv[1]);
		if (key_load(path, &t2) < 0 ||
		    key_pub_from_text(market_key_text(tls), mpub) < 0)
			die("tls market keys");
		/* alternating which goes first: no order favours one */
		for (int r = 0; r < ROUNDS; r++) {
			if (r % 2)
				st[r] = submissions(market_port(tls), 1, mpub,
				    t2, to, &failed, &ct[r]);
			sp[r] = submissions(market_port(plain), 0, NULL,
			    treasury, to, &failed, &cp[r]);
			if (r % 2 == 0)
				st[r] = submissions(market_port(tls), 1, mpub,
				    t2, to, &failed, &ct[r]);
			sr[r] = st[r] / sp[r];
		}
		key_free(t2);
	}
	/* the ratio of each pair run back to back (the two cores are
	 * shared: a pair sees the same weather), its median */
	qsort(sp, ROUNDS, sizeof(double), cmp_double);
	qsort(st, ROUNDS, sizeof(double), cmp_double);
	qsort(sr, ROUNDS, sizeof(double), cmp_double);
	qsort(cp, ROUNDS, sizeof(double), cmp_double);
	qsort(ct, ROUNDS, sizeof(double), cmp_double);
	printf("tls: CPU per submission (market and clients, medians): plain "
	       "HTTP %.0f us, TLS %.0f us (%.2fx)\n",
	    cp[ROUNDS / 2], ct[ROUNDS / 2], ct[ROUNDS / 2] / cp[ROUNDS / 2]);
	printf("tls: market submissions (%d keep-alive clients, %d pairs of "
	       "rounds): plain HTTP median %.0f/s, TLS 1.3 (key pinned) "
	       "median %.0f/s; median ratio of the pairs %.2f (range "
	       "%.2f-%.2f; goal >= 0.9); %d failed\n",
	    CLIENTS, ROUNDS, sp[ROUNDS / 2], st[ROUNDS / 2], sr[ROUNDS / 2],
	    sr[0], sr[ROUNDS - 1], failed);
	market_free(plain);
	market_free(tls);
	key_free(treasury);
	key_free(who);

	/* (2) handshakes: our server with a gateway name against nginx,
	 * the same Ed25519 certificate */
	if (key_generate(&pk) < 0)
		die("provider key");
	snprintf(crt, sizeof(crt), "%.500s/gw.crt", argv[1]);
	snprintf(keyf, sizeof(keyf), "%.500s/gw.key", argv[1]);
	write_pems(pk, crt, keyf);
	if (tls_server_new(pk, "lodge provider", &ts) < 0 ||
	    tls_server_set_public_domain(ts, "tls.bench") < 0 ||
	    tls_server_add_cert(ts, crt, keyf) < 0)
		die("provider TLS");
	http_server_config_default(&hc);
	hc.max_conns = 1024;
	hc.max_conns_per_ip = 512;
	hc.loops = 1; /* one event loop each, as nginx's one worker */
	hc.tls = ts;
	if (http_server_start(&hc, hello, NULL, &srv) < 0)
		die("server");
	snprintf(nd, sizeof(nd), "%.500s/nginx", argv[1]);
	mkdir(nd, 0755);
	snprintf(path, sizeof(path), "%s/t", nd);
	mkdir(path, 0755);
	ng = start_nginx(nd, crt, keyf, &nport);
	if (ng < 0) {
		printf("tls: gateway TLS handshakes (Ed25519 certificate, one "
		       "GET each, %d clients): %.0f/s; nginx: not installed "
		       "(make deps), no baseline\n",
		    HS_CLIENTS, handshakes(http_server_port(srv), &hf));
	} else {
		for (int r = 0; r < HS_PAIRS; r++) {
			if (r % 2)
				hn[r] = handshakes(nport, &nf);
			ho[r] = handshakes(http_server_port(srv), &hf);
			if (r % 2 == 0)
				hn[r] = handshakes(nport, &nf);
			hr[r] = hn[r] > 0 ? ho[r] / hn[r] : 0;
		}
		qsort(ho, HS_PAIRS, sizeof(double), cmp_double);
		qsort(hn, HS_PAIRS, sizeof(double), cmp_double);
		qsort(hr, HS_PAIRS, sizeof(double), cmp_double);
		printf("tls: full TLS handshakes/s (Ed25519 certificate, "
		       "X25519, one GET each, %d clients, %d pairs of %d s): "
		       "gateway median %.0f/s, nginx (1 worker) median %.0f/s; "
		       "median ratio of the pairs %.2f (range %.2f-%.2f); "
		       "%lu/%lu failed\n",
		    HS_CLIENTS, HS_PAIRS, HS_SECONDS, ho[HS_PAIRS / 2],
		    hn[HS_PAIRS / 2], hr[HS_PAIRS / 2], hr[0], hr[HS_PAIRS - 1],
		    hf, nf);
		kill(ng, SIGTERM);
		waitpid(ng, NULL, 0);
	}
	http_server_free(srv);
	tls_server_free(ts);
	key_free(pk);
	SSL_CTX_free(client_ctx);
	return failed || hf ? 1 : 0;
}
