/*
 * key: Ed25519 keys and signatures (RFC 8032) through OpenSSL EVP.
 * Private keys live in PKCS#8 PEM files of mode 0600; public keys are
 * shown as "ed25519:<base64url of the 32 bytes, no padding>".
 */
#ifndef LODGE_KEY_H
#define LODGE_KEY_H

#include <stddef.h>
#include <stdint.h>

#define KEY_PUB_LEN 32
#define KEY_SIG_LEN 64
#define KEY_SEED_LEN 32
/* "ed25519:" + 43 base64url characters + NUL */
#define KEY_TEXT_SIZE 52

struct key;

/* Generate a new key from the system's random source.  The caller owns
 * *out and frees it with key_free(). */
int key_generate(struct key **out);
/* Build a key from a 32-byte RFC 8032 seed (tests, vectors). */
int key_from_seed(const uint8_t seed[KEY_SEED_LEN], struct key **out);
/* Load a PEM private key.  Refuses a file readable by group or others. */
int key_load(const char *path, struct key **out);
/* Write the key as PEM with mode 0600, atomically (temp file + rename).
 * Refuses to replace an existing file (ERR_CONFLICT). */
int key_save(const struct key *k, const char *path);
/* Load path if it exists, else generate and save a new key there;
 * *created tells which (may be NULL). */
int key_load_or_create(const char *path, struct key **out, int *created);
void key_free(struct key *k);

void key_public(const struct key *k, uint8_t pub[KEY_PUB_LEN]);
int key_seed(const struct key *k, uint8_t seed[KEY_SEED_LEN]);
int key_sign(const struct key *k, const void *msg, size_t len,
    uint8_t sig[KEY_SIG_LEN]);
/* 0 when sig is a valid Ed25519 signature of msg by pub, else ERR_SIG. */
int key_verify(const uint8_t pub[KEY_PUB_LEN], const void *msg, size_t len,
    const uint8_t sig[KEY_SIG_LEN]);

/* "ed25519:..." text form of a public key. */
void key_pub_to_text(const uint8_t pub[KEY_PUB_LEN], char out[KEY_TEXT_SIZE]);
int key_pub_from_text(const char *text, uint8_t pub[KEY_PUB_LEN]);

#endif
