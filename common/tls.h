/*
 * tls: TLS with ledger identities (OpenSSL, RFC 8446).  A daemon's
 * certificate is self-signed with its own Ed25519 key (RFC 8410), the
 * key the ledger knows, so a client pins that key rather than trusting a
 * CA.  Also: operator certificates for public names, chosen by SNI (the
 * provider's gateway), and the known-hosts file of pinned keys.
 */
#ifndef LODGE_TLS_H
#define LODGE_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"

struct tls_server;

/* A self-signed X.509 certificate (DER) for k's public key, signed by k,
 * subject CN=cn, valid from an hour ago for ten years.  *der is
 * malloc'd, the caller frees it. */
int tls_cert_self_signed(const struct key *k, const char *cn, uint8_t **der,
    size_t *len);

/* The Ed25519 public key of a certificate (DER); ERR_INVAL when it is
 * not an X.509 certificate or its key is not Ed25519. */
int tls_cert_public(const uint8_t *der, size_t len, uint8_t pub[KEY_PUB_LEN]);

/* libcurl's CURLOPT_PINNEDPUBLICKEY for an Ed25519 key: "sha256//" and
 * the base64 SHA-256 of its SubjectPublicKeyInfo. */
#define TLS_PIN_SIZE 64
void tls_pin_text(const uint8_t pub[KEY_PUB_LEN], char out[TLS_PIN_SIZE]);

/* A server context: TLS 1.3 only, the self-signed certificate of k (cn
 * its subject).  The caller owns *out (tls_server_free).  k is only read
 * during the call. */
int tls_server_new(const struct key *k, const char *cn,
    struct tls_server **out);
void tls_server_free(struct tls_server *t);

/* A public certificate (PEM chain in cert_file, its private key in
 * key_file) served to clients whose SNI it names (its subjectAltName
 * DNS names or CN, wildcards included); those clients may use TLS 1.2.
 * Errors name the file. */
int tls_server_add_cert(struct tls_server *t, const char *cert_file,
    const char *key_file);

/* Every NAME.crt (or NAME.pem) in dir with a NAME.key beside it, as
 * tls_server_add_cert; *count gets how many (may be NULL).  A missing
 * dir is an error; a pair that does not load is an error naming it.
 * The directory is looked at again, at most every TLS_RESCAN_MS, when a
 * client names a server: pairs added or renewed there since are served
 * from then on (a renewal before the old one; a pair that does not load
 * yet is tried again the next time). */
#define TLS_RESCAN_MS 2000
int tls_server_add_dir(struct tls_server *t, const char *dir, size_t *count);
/* How often the directory is looked at again, in ms (tests). */
void tls_server_set_rescan_ms(struct tls_server *t, unsigned ms);

/* Names equal to domain or ending in ".domain" are public (TLS 1.2
 * allowed) even without a certificate of their own: they get the
 * self-signed one.  domain is copied; "" or NULL: none. */
int tls_server_set_public_domain(struct tls_server *t, const char *domain);

/* How many public certificates were added. */
size_t tls_server_cert_count(const struct tls_server *t);

/* A new server-side SSL (returned as void * to keep OpenSSL out of this
 * header) on fd, or NULL.  The caller frees it with SSL_free. */
void *tls_server_ssl(struct tls_server *t, int fd);

/*
 * known-hosts: a text file of "ORIGIN ed25519:KEY" lines (ORIGIN is
 * scheme://host:port), like SSH's known_hosts.  tls_known_check: when
 * path has a line for origin, its key must equal pub (ERR_ALARM naming
 * both keys and the file otherwise); when it has none, the line is
 * added (created mode 0600) and *learned set to 1.
 */
int tls_known_check(const char *path, const char *origin,
    const uint8_t pub[KEY_PUB_LEN], int *learned);
/* The key path remembers for origin: ERR_NOTFOUND when none. */
int tls_known_get(const char *path, const char *origin,
    uint8_t pub[KEY_PUB_LEN]);

/* "scheme://host:port" of url (the default port of its scheme when it
 * has none), lower-cased; ERR_INVAL when url is not http(s)://. */
#define TLS_ORIGIN_SIZE 300
int tls_url_origin(const char *url, char out[TLS_ORIGIN_SIZE]);

#endif
