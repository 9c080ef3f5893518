/*
 * Unit tests for common/tls (self-signed Ed25519 certificates, pins, the
 * known-markets file, URL origins) and TLS in common/http_server driven by
 * the libcurl client of common/http.h on loopback: a pinned key let in, a
 * wrong one refused naming both keys, bodies larger than a TLS record,
 * plain HTTP on a TLS port answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/tls.h"
#include "common/util.h"

static struct key *
seeded(uint8_t b)
{
	uint8_t seed[KEY_SEED_LEN];
	struct key *k = NULL;

	memset(seed, b, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &k), 0);
	return k;
}

static void
test_self_signed_cert_holds_the_key(void **state)
{
	struct key *k = seeded(1);
	uint8_t pub[KEY_PUB_LEN], got[KEY_PUB_LEN], *der = NULL;
	size_t len = 0;

	(void)state;
	key_public(k, pub);
	assert_int_equal(tls_cert_self_signed(k, "lodge test", &der, &len), 0);
	assert_true(len > 100);
	assert_int_equal(tls_cert_public(der, len, got), 0);
	assert_memory_equal(got, pub, KEY_PUB_LEN);
	/* a flipped byte in the DER is not a certificate any more */
	der[1] ^= 0xff;
	assert_int_not_equal(tls_cert_public(der, len, got), 0);
	free(der);
	key_free(k);
}

static void
test_pin_text_is_sha256_of_the_spki(void **state)
{
	/* RFC 8410 §10.1's example key; its SPKI's SHA-256, computed with
	 * `openssl pkey -pubin -outform der | openssl dgst -sha256 -binary
	 * | base64`. */
	static const uint8_t pub[KEY_PUB_LEN] = { 0x19, 0xbf, 0x44, 0x09, 0x69,
		0x84, 0xcd, 0xfe, 0x85, 0x41, 0xba, 0xc1, 0x67, 0xdc, 0x3b,
		0x96, 0xc8, 0x50, 0x86, 0xaa, 0x30, 0xb6, 0xb6, 0xcb, 0x0c,
		0x5c, 0x38, 0xad, 0x70, 0x31, 0x66, 0xe1 };
	char pin[TLS_PIN_SIZE], other[TLS_PIN_SIZE];
	uint8_t pub2[KEY_PUB_LEN];

	(void)state;
	tls_pin_text(pub, pin);
	assert_string_equal(pin,
	    "sha256//oekVYFTgT6yJmunydRMs3Ael28TqLCrTof/G4NJTaB8=");
	memcpy(pub2, pub, sizeof(pub2));
	pub2[31] ^= 1;
	tls_pin_text(pub2, other);
	assert_string_not_equal(pin, other);
}

static void
test_url_origin(void **state)
{
	char o[TLS_ORIGIN_SIZE];

	(void)state;
	assert_int_equal(tls_url_origin("https://Example.COM/v1/x", o), 0);
	assert_string_equal(o, "https://example.com:443");
	assert_int_equal(tls_url_origin("http://127.0.0.1:8080", o), 0);
	assert_string_equal(o, "http://127.0.0.1:8080");
	assert_int_equal(tls_url_origin("https://[::1]:9/a?b", o), 0);
	assert_string_equal(o, "https://[::1]:9");
	assert_int_equal(tls_url_origin("ftp://x", o), ERR_INVAL);
	assert_int_equal(tls_url_origin("https://:80/", o), ERR_INVAL);
	assert_int_equal(tls_url_origin("https://h:8x/", o), ERR_INVAL);
}

static void
test_known_markets_learn_keep_and_alarm_on_change(void **state)
{
	char dir[] = "/tmp/lodge-tls-XXXXXX", path[256];
	uint8_t a[KEY_PUB_LEN], b[KEY_PUB_LEN], got[KEY_PUB_LEN];
	char at[KEY_TEXT_SIZE], bt[KEY_TEXT_SIZE];
	int learned = -1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/known_markets", dir);
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	key_pub_to_text(a, at);
	key_pub_to_text(b, bt);
	assert_int_equal(tls_known_get(path, "https://m:1", got), ERR_NOTFOUND);
	/* first use: learned */
	assert_int_equal(tls_known_check(path, "https://m:1", a, &learned), 0);
	assert_int_equal(learned, 1);
	assert_int_equal(tls_known_get(path, "https://m:1", got), 0);
	assert_memory_equal(got, a, KEY_PUB_LEN);
	/* the same key again: nothing new */
	assert_int_equal(tls_known_check(path, "https://m:1", a, &learned), 0);
	assert_int_equal(learned, 0);
	/* another origin is another line */
	assert_int_equal(tls_known_check(path, "https://m:2", b, &learned), 0);
	assert_int_equal(learned, 1);
	/* a changed key: an alarm naming the file and both keys */
	assert_int_equal(tls_known_check(path, "https://m:1", b, &learned),
	    ERR_ALARM);
	assert_non_null(strstr(err_msg(), "CHANGED"));
	assert_non_null(strstr(err_msg(), at));
	assert_non_null(strstr(err_msg(), bt));
	assert_non_null(strstr(err_msg(), path));
	/* the remembered key is still the first */
	assert_int_equal(tls_known_get(path, "https://m:1", got), 0);
	assert_memory_equal(got, a, KEY_PUB_LEN);
	/* a damaged file is named with its line */
	assert_int_equal(
	    util_write_file(path, "https://m:1 nonsense\n", 21, 0600), 0);
	assert_int_equal(tls_known_check(path, "https://m:1", a, &learned),
	    ERR_CORRUPT);
	assert_non_null(strstr(err_msg(), ":1:"));
	unlink(path);
	rmdir(dir);
}

/* ---- the server over TLS ---------------------------------------------- */

static void
handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	char *b;

	(void)ctx;
	if (strcmp(req->path, "/big") == 0) { /* 8 MiB of JSON string */
		size_t n = 8u << 20;
		b = malloc(n + 1);
		memset(b, 'x', n);
		b[0] = b[n - 1] = '"';
		b[n] = '\0';
		http_respond(resp, 200, b);
		return;
	}
	b = malloc(64);
	snprintf(b, 64, "{\"len\":%zu}", req->body_len);
	http_respond(resp, 200, b);
}

struct srv {
	struct key *k;
	struct tls_server *tls;
	struct http_server *s;
	char url[64];
};

static void
srv_start(struct srv *v)
{
	struct http_server_config c;

	memset(v, 0, sizeof(*v));
	v->k = seeded(7);
	assert_int_equal(tls_server_new(v->k, "lodge test", &v->tls), 0);
	http_server_config_default(&c);
	c.max_body = 8u << 20;
	c.tls = v->tls;
	assert_int_equal(http_server_start(&c, handler, NULL, &v->s), 0);
	snprintf(v->url, sizeof(v->url), "https://127.0.0.1:%u",
	    http_server_port(v->s));
}

static void
srv_stop(struct srv *v)
{
	http_server_free(v->s);
	tls_server_free(v->tls);
	key_free(v->k);
}

static int
count_chunk(void *ctx, const char *data, size_t len)
{
	(void)data;
	(void)len;
	(*(int *)ctx)++;
	return 0;
}

static void
test_pinned_key_accepted_wrong_key_refused(void **state)
{
	struct srv v;
	struct http_result r;
	uint8_t pub[KEY_PUB_LEN], wrong[KEY_PUB_LEN], seen[KEY_PUB_LEN];
	char url[128], pt[KEY_TEXT_SIZE], wt[KEY_TEXT_SIZE];
	int chunks = 0;

	(void)state;
	srv_start(&v);
	key_public(v.k, pub);
	key_pub_to_text(pub, pt);
	memset(wrong, 9, sizeof(wrong));
	key_pub_to_text(wrong, wt);
	snprintf(url, sizeof(url), "%s/x", v.url);
	/* the key a server shows, without trusting it */
	assert_int_equal(http_peer_key(v.url, 5000, seen), 0);
	assert_memory_equal(seen, pub, KEY_PUB_LEN);
	/* pinned to the right key: served */
	assert_int_equal(http_pin(v.url, pub), 0);
	assert_int_equal(http_fetch("GET", url, NULL, NULL, 0, 5000, &r), 0);
	assert_int_equal(r.status, 200);
	http_result_clear(&r);
	/* a streaming read is pinned as well */
	assert_int_equal(
	    http_follow(url, NULL, 5000, count_chunk, &chunks, NULL), 0);
	assert_true(chunks > 0);
	/* pinned to another key: refused, both keys named */
	assert_int_equal(http_pin(v.url, wrong), 0);
	assert_int_equal(http_fetch("GET", url, NULL, NULL, 0, 5000, &r),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), pt));
	assert_non_null(strstr(err_msg(), wt));
	assert_non_null(strstr(err_msg(), "pinned"));
	assert_int_equal(
	    http_follow(url, NULL, 5000, count_chunk, &chunks, NULL),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), wt));
	/* http_pin_known with a given wrong key refuses too */
	assert_int_equal(
	    http_pin_known(v.url, wt, "/nonexistent/k", 5000, NULL),
	    ERR_REJECT);
	srv_stop(&v);
}

static void
test_bodies_larger_than_a_record_and_keep_alive(void **state)
{
	static const char *const hdr[] = { "Content-Type: text/plain", NULL };
	struct srv v;
	struct http_result r;
	uint8_t pub[KEY_PUB_LEN];
	char url[128], want[64];
	size_t sizes[] = { 0, 1, 16383, 16384, 16385, 100000, 3000000 };
	char *body = malloc(3000000);

	(void)state;
	memset(body, 'x', 3000000);
	srv_start(&v);
	key_public(v.k, pub);
	assert_int_equal(http_pin(v.url, pub), 0);
	snprintf(url, sizeof(url), "%s/echo", v.url);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(
		    http_fetch("POST", url, hdr, body, sizes[i], 10000, &r), 0);
		assert_int_equal(r.status, 200);
		snprintf(want, sizeof(want), "{\"len\":%zu}", sizes[i]);
		assert_string_equal(r.body, want);
		http_result_clear(&r);
	}
	free(body);
	srv_stop(&v);
}

static void
test_plain_http_on_a_tls_port_is_answered(void **state)
{
	struct srv v;
	struct sockaddr_in sa;
	char buf[512];
	const char *req = "PUT /v1/leases/l-1/manifest HTTP/1.1\r\n"
	                  "Host: x\r\nContent-Length: 2\r\n\r\n{}";
	ssize_t n, got = 0;
	int fd;

	(void)state;
	srv_start(&v);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(http_server_port(v.s));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	while ((n = recv(fd, buf + got, sizeof(buf) - 1 - (size_t)got, 0)) > 0)
		got += n;
	buf[got] = '\0';
	close(fd);
	assert_non_null(strstr(buf, "HTTP/1.1 400"));
	assert_non_null(strstr(buf, "use https://"));
	srv_stop(&v);
}

/* NAME.crt and NAME.key in dir: k's certificate for CN=name. */
static void
drop_pair(const char *dir, const char *name, const struct key *k)
{
	uint8_t *der, seed[KEY_SEED_LEN];
	const unsigned char *p;
	char path[512];
	size_t len;
	EVP_PKEY *pk;
	X509 *x;
	FILE *f;

	assert_int_equal(tls_cert_self_signed(k, name, &der, &len), 0);
	assert_int_equal(key_seed(k, seed), 0);
	p = der;
	assert_non_null(x = d2i_X509(NULL, &p, (long)len));
	assert_non_null(pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519,
	                    NULL, seed, sizeof(seed)));
	/* the key first: the server may look between the two */
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	assert_non_null(f = fopen(path, "w"));
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	assert_non_null(f = fopen(path, "w"));
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pk);
	free(der);
}

/* Shake hands with 127.0.0.1:port naming sni (NULL: none); the key of
 * the certificate shown into pub. */
static void
shown_key(uint16_t port, const char *sni, uint8_t pub[KEY_PUB_LEN])
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct sockaddr_in sa;
	size_t n = KEY_PUB_LEN;
	SSL *ssl;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_non_null(ssl = SSL_new(ctx));
	SSL_set_fd(ssl, fd);
	if (sni)
		SSL_set_tlsext_host_name(ssl, sni);
	assert_int_equal(SSL_connect(ssl), 1);
	assert_int_equal(
	    EVP_PKEY_get_raw_public_key(
	        X509_get0_pubkey(SSL_get0_peer_certificate(ssl)), pub, &n),
	    1);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
}

static void
test_certs_dir_chosen_by_sni_and_looked_at_again(void **state)
{
	char dir[] = "/tmp/lodge-certs-XXXXXX";
	struct http_server_config c;
	struct http_server *s;
	struct tls_server *t;
	struct key *k = seeded(3), *a = seeded(4), *b = seeded(5);
	uint8_t kp[KEY_PUB_LEN], ap[KEY_PUB_LEN], bp[KEY_PUB_LEN],
	    got[KEY_PUB_LEN];
	size_t n = 9;

	(void)state;
	key_public(k, kp);
	key_public(a, ap);
	key_public(b, bp);
	assert_non_null(mkdtemp(dir));
	drop_pair(dir, "a.example", a);
	assert_int_equal(tls_server_new(k, "lodge test", &t), 0);
	assert_int_equal(tls_server_add_dir(t, dir, &n), 0);
	assert_int_equal(n, 1);
	tls_server_set_rescan_ms(t, 0);
	http_server_config_default(&c);
	c.tls = t;
	assert_int_equal(http_server_start(&c, handler, NULL, &s), 0);
	/* SNI picks the directory's certificate; no SNI, the key's */
	shown_key(http_server_port(s), "a.example", got);
	assert_memory_equal(got, ap, KEY_PUB_LEN);
	shown_key(http_server_port(s), NULL, got);
	assert_memory_equal(got, kp, KEY_PUB_LEN);
	shown_key(http_server_port(s), "b.example", got);
	assert_memory_equal(got, kp, KEY_PUB_LEN);
	/* dropped in while serving: taken at the next handshake naming a
	 * server */
	drop_pair(dir, "b.example", b);
	shown_key(http_server_port(s), "b.example", got);
	assert_memory_equal(got, bp, KEY_PUB_LEN);
	/* a renewal (a.example now with b's key) wins over the old one */
	sleep(1); /* another mtime */
	drop_pair(dir, "a.example", b);
	shown_key(http_server_port(s), "a.example", got);
	assert_memory_equal(got, bp, KEY_PUB_LEN);
	http_server_free(s);
	tls_server_free(t);
	key_free(k);
	key_free(a);
	key_free(b);
	util_rm_tree(dir);
}

/* A client gone while its answer is written: an error to the server,
 * not a SIGPIPE to this process (which does not ignore it). */
static void
test_client_gone_mid_answer_is_no_sigpipe(void **state)
{
	static const char req[] =
	    "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct srv v;
	struct http_result r;
	uint8_t pub[KEY_PUB_LEN];
	char url[128];

	(void)state;
	signal(SIGPIPE, SIG_DFL);
	srv_start(&v);
	for (int i = 0; i < 5; i++) {
		SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
		struct sockaddr_in sa;
		SSL *ssl;
		char buf[100];
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons(http_server_port(v.s));
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		assert_int_equal(SSL_connect(ssl), 1);
		assert_int_equal(SSL_write(ssl, req, sizeof(req) - 1),
		    (int)sizeof(req) - 1);
		assert_true(SSL_read(ssl, buf, sizeof(buf)) > 0);
		/* gone with megabytes of the answer still to come: a reset */
		{
			struct linger lg = { 1, 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(fd);
		SSL_free(ssl);
		SSL_CTX_free(ctx);
	}
	usleep(300000);
	/* still alive, still serving */
	key_public(v.k, pub);
	assert_int_equal(http_pin(v.url, pub), 0);
	snprintf(url, sizeof(url), "%s/x", v.url);
	assert_int_equal(http_fetch("GET", url, NULL, NULL, 0, 5000, &r), 0);
	assert_int_equal(r.status, 200);
	http_result_clear(&r);
	srv_stop(&v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_signed_cert_holds_the_key),
		cmocka_unit_test(test_pin_text_is_sha256_of_the_spki),
		cmocka_unit_test(test_url_origin),
		cmocka_unit_test(
		    test_known_markets_learn_keep_and_alarm_on_change),
		cmocka_unit_test(test_pinned_key_accepted_wrong_key_refused),
		cmocka_unit_test(
		    test_bodies_larger_than_a_record_and_keep_alive),
		cmocka_unit_test(test_plain_http_on_a_tls_port_is_answered),
		cmocka_unit_test(
		    test_certs_dir_chosen_by_sni_and_looked_at_again),
		cmocka_unit_test(test_client_gone_mid_answer_is_no_sigpipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
