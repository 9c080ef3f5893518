/*
 * tls: self-signed Ed25519 certificates (RFC 8410), server contexts with
 * SNI-chosen public certificates, pins and the known-hosts file of
 * tls.h, over OpenSSL 3.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "common/tls.h"
#include "common/util.h"

struct tls_cert {
	SSL_CTX *ctx;
	X509 *x; /* borrowed from ctx */
	char file[PATH_MAX]; /* "" for --tls-cert; else the dir's file */
	struct timespec mtime; /* of file when loaded */
};

struct tls_server {
	SSL_CTX *base; /* the self-signed certificate of the daemon's key */
	struct tls_cert *certs; /* newest first: a renewal wins */
	size_t ncerts;
	char domain[256];
	char dir[PATH_MAX]; /* --tls-certs-dir, looked at again */
	uint64_t rescan_ms, next_scan; /* util_mono_ns ms */
	/* certs, ncerts, next_scan: the server's event loops shake hands
	 * at the same time (hello_cb) */
	pthread_mutex_t mu;
};

static int
ossl_fail(int code, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return err_set(code, "%s: %s", what, e ? buf : "OpenSSL error");
}

static EVP_PKEY *
pkey_of(const struct key *k)
{
	uint8_t seed[KEY_SEED_LEN];
	EVP_PKEY *p;

	if (key_seed(k, seed) < 0)
		return NULL;
	p = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    sizeof(seed));
	OPENSSL_cleanse(seed, sizeof(seed));
	return p;
}

static int
make_cert(EVP_PKEY *pk, const char *cn, X509 **out)
{
	X509 *x = X509_new();
	X509_NAME *name;
	uint8_t serial[16];
	BIGNUM *bn = NULL;

	*out = NULL;
	if (x == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (util_random(serial, sizeof(serial)) < 0)
		goto fail;
	serial[0] &= 0x7f; /* a positive INTEGER */
	if (X509_set_version(x, 2) != 1 ||
	    (bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 366 * 86400) == NULL ||
	    X509_set_pubkey(x, pk) != 1)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	        (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_sign(x, pk, NULL) <= 0) /* Ed25519: no digest */
		goto fail;
	BN_free(bn);
	*out = x;
	return 0;
fail:
	BN_free(bn);
	X509_free(x);
	return ossl_fail(ERR_INVAL, "self-signed certificate");
}

int
tls_cert_self_signed(const struct key *k, const char *cn, uint8_t **der,
    size_t *len)
{
	EVP_PKEY *pk = pkey_of(k);
	unsigned char *p = NULL;
	X509 *x = NULL;
	int rc, n;

	*der = NULL;
	*len = 0;
	if (pk == NULL)
		return ossl_fail(ERR_INVAL, "Ed25519 key");
	if ((rc = make_cert(pk, cn, &x)) < 0)
		goto out;
	if ((n = i2d_X509(x, &p)) <= 0) {
		rc = ossl_fail(ERR_INVAL, "certificate encoding");
		goto out;
	}
	if ((*der = malloc((size_t)n)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*der, p, (size_t)n);
	*len = (size_t)n;
out:
	OPENSSL_free(p);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

int
tls_cert_public(const uint8_t *der, size_t len, uint8_t pub[KEY_PUB_LEN])
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	EVP_PKEY *pk;
	size_t n = KEY_PUB_LEN;
	int rc = 0;

	if (x == NULL)
		return ossl_fail(ERR_INVAL, "not an X.509 certificate");
	pk = X509_get0_pubkey(x);
	if (pk == NULL || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pk, pub, &n) != 1 || n != KEY_PUB_LEN)
		rc = err_set(ERR_INVAL,
		    "the certificate's key is not an Ed25519 key");
	ERR_clear_error();
	X509_free(x);
	return rc;
}

void
tls_pin_text(const uint8_t pub[KEY_PUB_LEN], char out[TLS_PIN_SIZE])
{
	/* SubjectPublicKeyInfo of an Ed25519 key (RFC 8410 §4): a fixed
	 * prefix and the 32 bytes. */
	static const uint8_t prefix[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
		0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };
	uint8_t spki[12 + KEY_PUB_LEN], md[32];
	unsigned int mdlen = 0;

	memcpy(spki, prefix, sizeof(prefix));
	memcpy(spki + sizeof(prefix), pub, KEY_PUB_LEN);
	EVP_Digest(spki, sizeof(spki), md, &mdlen, EVP_sha256(), NULL);
	memcpy(out, "sha256//", 8);
	EVP_EncodeBlock((unsigned char *)out + 8, md, 32); /* 44 + NUL */
}

/* ---- servers ---------------------------------------------------------- */

static SSL_CTX *
ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return NULL;
	/* The client hello callback raises the floor to TLS 1.3 for every
	 * name that is not public. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx,
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	        SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	return ctx;
}

/* The server name of a ClientHello (RFC 6066 §3), NUL-terminated and
 * lower-cased, or "" when none or malformed. */
static void
hello_name(SSL *ssl, char *out, size_t cap)
{
	const unsigned char *p;
	size_t len, n;

	out[0] = '\0';
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p,
	        &len) ||
	    len < 5 || (size_t)((p[0] << 8) | p[1]) + 2 != len ||
	    p[2] != TLSEXT_NAMETYPE_host_name)
		return;
	n = (size_t)((p[3] << 8) | p[4]);
	if (n == 0 || n + 5 > len || n >= cap)
		return;
	for (size_t i = 0; i < n; i++) {
		if (p[5 + i] == '\0')
			return;
		out[i] = (char)tolower(p[5 + i]);
	}
	out[n] = '\0';
}

static int
is_public(const struct tls_server *t, const char *name)
{
	size_t n = strlen(name), d = strlen(t->domain);

	if (d == 0 || n < d)
		return 0;
	if (n == d)
		return strcmp(name, t->domain) == 0;
	return name[n - d - 1] == '.' && strcmp(name + n - d, t->domain) == 0;
}

static int scan_dir(struct tls_server *t, const char *dir, int strict,
    size_t *count);

static int
hello_cb(SSL *ssl, int *al, void *arg)
{
	struct tls_server *t = arg;
	char name[256];

	(void)al;
	hello_name(ssl, name, sizeof(name));
	pthread_mutex_lock(&t->mu);
	if (name[0] != '\0' && t->dir[0] != '\0') {
		/* Certificates dropped into the directory since: in an
		 * event loop's thread, under the lock. */
		uint64_t now = util_mono_ns() / 1000000;
		if (now >= t->next_scan) {
			t->next_scan = now + t->rescan_ms;
			(void)scan_dir(t, t->dir, 0, NULL);
			err_clear();
		}
	}
	if (name[0] != '\0') {
		/* Exact names first, wildcards after. */
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < t->ncerts; i++) {
				if (X509_check_host(t->certs[i].x, name, 0,
				        pass == 0 ?
				            X509_CHECK_FLAG_NO_WILDCARDS :
				            0,
				        NULL) != 1)
					continue;
				SSL_set_SSL_CTX(ssl, t->certs[i].ctx);
				pthread_mutex_unlock(&t->mu);
				return SSL_CLIENT_HELLO_SUCCESS;
			}
		if (is_public(t, name)) {
			pthread_mutex_unlock(&t->mu);
			return SSL_CLIENT_HELLO_SUCCESS;
		}
	}
	pthread_mutex_unlock(&t->mu);
	SSL_set_min_proto_version(ssl, TLS1_3_VERSION);
	return SSL_CLIENT_HELLO_SUCCESS;
}

int
tls_server_new(const struct key *k, const char *cn, struct tls_server **out)
{
	struct tls_server *t;
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	int rc;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	pthread_mutex_init(&t->mu, NULL);
	if ((t->base = ctx_new()) == NULL) {
		rc = ossl_fail(ERR_NOMEM, "TLS context");
		goto fail;
	}
	if ((pk = pkey_of(k)) == NULL) {
		rc = ossl_fail(ERR_INVAL, "Ed25519 key");
		goto fail;
	}
	if ((rc = make_cert(pk, cn, &x)) < 0)
		goto fail;
	if (SSL_CTX_use_certificate(t->base, x) != 1 ||
	    SSL_CTX_use_PrivateKey(t->base, pk) != 1) {
		rc = ossl_fail(ERR_INVAL, "TLS certificate");
		goto fail;
	}
	SSL_CTX_set_client_hello_cb(t->base, hello_cb, t);
	t->rescan_ms = TLS_RESCAN_MS;
	X509_free(x);
	EVP_PKEY_free(pk);
	*out = t;
	return 0;
fail:
	X509_free(x);
	EVP_PKEY_free(pk);
	tls_server_free(t);
	return rc;
}

void
tls_server_free(struct tls_server *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->ncerts; i++)
		SSL_CTX_free(t->certs[i].ctx);
	free(t->certs);
	SSL_CTX_free(t->base);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Load a pair; put it first (newest first).  file/mtime say which file
 * of the directory it came from (NULL: not the directory's). */
static int
add_cert(struct tls_server *t, const char *cert_file, const char *key_file,
    const char *file, const struct timespec *mtime)
{
	struct tls_cert *nc;
	SSL_CTX *ctx;
	char what[PATH_MAX * 2 + 64];

	if ((ctx = ctx_new()) == NULL)
		return ossl_fail(ERR_NOMEM, "TLS context");
	snprintf(what, sizeof(what), "%s", cert_file);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		goto fail;
	snprintf(what, sizeof(what), "%s", key_file);
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
		goto fail;
	snprintf(what, sizeof(what), "%s and %s do not match", key_file,
	    cert_file);
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	nc = realloc(t->certs, (t->ncerts + 1) * sizeof(*nc));
	if (nc == NULL) {
		SSL_CTX_free(ctx);
		return err_set(ERR_NOMEM, "out of memory");
	}
	t->certs = nc;
	memmove(nc + 1, nc, t->ncerts * sizeof(*nc));
	memset(&nc[0], 0, sizeof(nc[0]));
	nc[0].ctx = ctx;
	nc[0].x = SSL_CTX_get0_certificate(ctx);
	if (file) {
		snprintf(nc[0].file, sizeof(nc[0].file), "%s", file);
		nc[0].mtime = *mtime;
	}
	t->ncerts++;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return ossl_fail(ERR_INVAL, what);
}

int
tls_server_add_cert(struct tls_server *t, const char *cert_file,
    const char *key_file)
{
	int rc;

	pthread_mutex_lock(&t->mu);
	rc = add_cert(t, cert_file, key_file, NULL, NULL);
	pthread_mutex_unlock(&t->mu);
	return rc;
}

/* Was this version of file loaded already? */
static int
loaded(const struct tls_server *t, const char *file,
    const struct timespec *mtime)
{
	for (size_t i = 0; i < t->ncerts; i++)
		if (strcmp(t->certs[i].file, file) == 0 &&
		    t->certs[i].mtime.tv_sec == mtime->tv_sec &&
		    t->certs[i].mtime.tv_nsec == mtime->tv_nsec)
			return 1;
	return 0;
}

/* Load the pairs of dir not loaded yet (new files, or newer versions);
 * strict: the first that does not load is the error, else it is left
 * for the next look (the operator may be writing it). */
static int
scan_dir(struct tls_server *t, const char *dir, int strict, size_t *count)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL)
		return strict ?
		    err_set(ERR_IO, "%s: %s", dir, strerror(errno)) :
		    0;
	while ((de = readdir(d)) != NULL) {
		char cert[PATH_MAX], key[PATH_MAX];
		size_t len = strlen(de->d_name);
		struct stat st;
		if (len <= 4 || de->d_name[0] == '.' ||
		    (strcmp(de->d_name + len - 4, ".crt") != 0 &&
		        strcmp(de->d_name + len - 4, ".pem") != 0))
			continue;
		if ((size_t)snprintf(cert, sizeof(cert), "%s/%s", dir,
		        de->d_name) >= sizeof(cert) ||
		    (size_t)snprintf(key, sizeof(key), "%s/%.*s.key", dir,
		        (int)(len - 4), de->d_name) >= sizeof(key)) {
			if (!strict)
				continue;
			rc = err_set(ERR_LIMIT, "%s/%s: path too long", dir,
			    de->d_name);
			break;
		}
		if (stat(cert, &st) != 0 || loaded(t, cert, &st.st_mtim))
			continue;
		if (access(key, R_OK) != 0) {
			if (!strict)
				continue;
			rc = err_set(ERR_NOTFOUND,
			    "%s: no private key %s beside it (NAME.crt "
			    "needs NAME.key)",
			    cert, key);
			break;
		}
		if ((rc = add_cert(t, cert, key, cert, &st.st_mtim)) < 0) {
			if (strict)
				break;
			ERR_clear_error();
			rc = 0;
			continue;
		}
		n++;
	}
	closedir(d);
	if (count)
		*count = n;
	return rc;
}

int
tls_server_add_dir(struct tls_server *t, const char *dir, size_t *count)
{
	int rc;

	if (count)
		*count = 0;
	if (strlen(dir) >= sizeof(t->dir))
		return err_set(ERR_LIMIT, "%s: path too long", dir);
	pthread_mutex_lock(&t->mu);
	if ((rc = scan_dir(t, dir, 1, count)) == 0) {
		snprintf(t->dir, sizeof(t->dir), "%s", dir);
		t->next_scan = util_mono_ns() / 1000000 + t->rescan_ms;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void
tls_server_set_rescan_ms(struct tls_server *t, unsigned ms)
{
	pthread_mutex_lock(&t->mu);
	t->rescan_ms = ms;
	t->next_scan = util_mono_ns() / 1000000 + ms;
	pthread_mutex_unlock(&t->mu);
}

int
tls_server_set_public_domain(struct tls_server *t, const char *domain)
{
	size_t i;

	if (domain == NULL)
		domain = "";
	if (strlen(domain) >= sizeof(t->domain))
		return err_set(ERR_LIMIT, "domain \"%s\" is too long", domain);
	for (i = 0; domain[i]; i++)
		t->domain[i] = (char)tolower((unsigned char)domain[i]);
	t->domain[i] = '\0';
	return 0;
}

size_t
tls_server_cert_count(const struct tls_server *t)
{
	size_t n;

	pthread_mutex_lock((pthread_mutex_t *)&t->mu);
	n = t->ncerts;
	pthread_mutex_unlock((pthread_mutex_t *)&t->mu);
	return n;
}

/* A socket BIO that writes with MSG_NOSIGNAL: a client gone while its
 * answer is written is an error to the server, not a SIGPIPE to a
 * process that did not ignore it (OpenSSL's socket BIO uses write()). */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int
nosig_write(BIO *b, const char *buf, int len)
{
	int fd = -1;
	ssize_t n;

	BIO_get_fd(b, &fd);
	do
		n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static void
nosig_init(void)
{
	const BIO_METHOD *sock = BIO_s_socket();
	BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOCKET, "lodge socket");

	if (m == NULL || BIO_meth_set_write(m, nosig_write) != 1 ||
	    BIO_meth_set_read(m, BIO_meth_get_read(sock)) != 1 ||
	    BIO_meth_set_puts(m, BIO_meth_get_puts(sock)) != 1 ||
	    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) != 1 ||
	    BIO_meth_set_create(m, BIO_meth_get_create(sock)) != 1 ||
	    BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock)) != 1) {
		BIO_meth_free(m);
		return;
	}
	nosig_method = m;
}

void *
tls_server_ssl(struct tls_server *t, int fd)
{
	SSL *ssl = SSL_new(t->base);
	BIO *bio;

	if (ssl == NULL)
		return NULL;
	pthread_once(&nosig_once, nosig_init);
	if (nosig_method == NULL || (bio = BIO_new(nosig_method)) == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	BIO_set_fd(bio, fd, BIO_NOCLOSE);
	SSL_set_bio(ssl, bio, bio);
	SSL_set_accept_state(ssl);
	return ssl;
}

/* ---- known hosts ------------------------------------------------------ */

int
tls_url_origin(const char *url, char out[TLS_ORIGIN_SIZE])
{
	const char *h, *end, *port = NULL;
	const char *scheme, *dport;
	size_t hl;
	int pl;

	if (strncasecmp(url, "https://", 8) == 0) {
		scheme = "https";
		dport = "443";
		h = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		scheme = "http";
		dport = "80";
		h = url + 7;
	} else {
		return err_set(ERR_INVAL,
		    "\"%s\" is not an http:// or https:// URL", url);
	}
	end = h + strcspn(h, "/?#");
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (rb == NULL)
			goto bad;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				goto bad;
			port = rb + 2;
		}
		hl = (size_t)(rb + 1 - h);
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));
		hl = (size_t)((colon ? colon : end) - h);
		if (colon)
			port = colon + 1;
	}
	if (hl == 0 ||
	    (port &&
	        (port == end ||
	            strspn(port, "0123456789") != (size_t)(end - port))))
		goto bad;
	if (port)
		pl = (int)(end - port);
	else
		port = dport, pl = (int)strlen(dport);
	if ((size_t)snprintf(out, TLS_ORIGIN_SIZE, "%s://%.*s:%.*s", scheme,
	        (int)hl, h, pl, port) >= TLS_ORIGIN_SIZE)
		return err_set(ERR_LIMIT, "URL \"%s\": host too long", url);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
bad:
	return err_set(ERR_INVAL, "URL \"%s\": expected scheme://host[:port]",
	    url);
}

/* The key on origin's line of the file text, 1 found, 0 none, <0 bad. */
static int
known_find(const char *path, const char *text, const char *origin,
    uint8_t pub[KEY_PUB_LEN])
{
	const char *line = text;
	size_t ol = strlen(origin);
	int lineno = 0;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		lineno++;
		if (len > ol && memcmp(line, origin, ol) == 0 &&
		    line[ol] == ' ') {
			char k[KEY_TEXT_SIZE + 8];
			size_t kl = len - ol - 1;
			if (kl >= sizeof(k))
				goto bad;
			memcpy(k, line + ol + 1, kl);
			k[kl] = '\0';
			if (key_pub_from_text(k, pub) < 0)
				goto bad;
			return 1;
		}
		line += len + (nl != NULL);
	}
	return 0;
bad:
	return err_set(ERR_CORRUPT, "%s:%d: expected \"ORIGIN ed25519:KEY\"",
	    path, lineno);
}

static int
known_read(const char *path, char **text)
{
	size_t len;

	*text = NULL;
	if (access(path, F_OK) != 0) {
		if (errno != ENOENT)
			return err_set(ERR_IO, "%s: %s", path, strerror(errno));
		*text = strdup("");
		return *text ? 0 : err_set(ERR_NOMEM, "out of memory");
	}
	return util_read_file(path, 1 << 20, text, &len);
}

int
tls_known_get(const char *path, const char *origin, uint8_t pub[KEY_PUB_LEN])
{
	char *text;
	int rc;

	if ((rc = known_read(path, &text)) < 0)
		return rc;
	rc = known_find(path, text, origin, pub);
	free(text);
	if (rc == 0)
		return err_set(ERR_NOTFOUND, "%s: no key for %s", path, origin);
	return rc < 0 ? rc : 0;
}

int
tls_known_check(const char *path, const char *origin,
    const uint8_t pub[KEY_PUB_LEN], int *learned)
{
	uint8_t old[KEY_PUB_LEN];
	char *text, line[TLS_ORIGIN_SIZE + KEY_TEXT_SIZE + 4];
	char ok[KEY_TEXT_SIZE], nk[KEY_TEXT_SIZE];
	int rc, fd, n;

	if (learned)
		*learned = 0;
	if ((rc = known_read(path, &text)) < 0)
		return rc;
	rc = known_find(path, text, origin, old);
	free(text);
	if (rc < 0)
		return rc;
	key_pub_to_text(pub, nk);
	if (rc == 1) {
		if (memcmp(old, pub, KEY_PUB_LEN) == 0)
			return 0;
		key_pub_to_text(old, ok);
		return err_set(ERR_ALARM,
		    "the TLS key of %s has CHANGED: %s remembers %s, the "
		    "server now shows %s.  Someone may be impersonating it; "
		    "if the change is expected, delete its line from %s",
		    origin, path, ok, nk, path);
	}
	n = snprintf(line, sizeof(line), "%s %s\n", origin, nk);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(ERR_IO, "%s: %s", path, strerror(errno));
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		return err_set(ERR_IO, "%s: %s", path, strerror(e));
	}
	close(fd);
	if (learned)
		*learned = 1;
	return 0;
}
