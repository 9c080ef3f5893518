/*
 * key: Ed25519 (RFC 8032) through OpenSSL 3 EVP; PEM files of mode 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/key.h"
#include "common/util.h"

struct key {
	EVP_PKEY *pkey;
	uint8_t pub[KEY_PUB_LEN];
};

static int
ossl_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return err_set(ERR_INVAL, "%s: %s", what, e ? buf : "OpenSSL error");
}

static int
key_wrap(EVP_PKEY *pkey, struct key **out)
{
	struct key *k;
	size_t len = KEY_PUB_LEN;

	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return err_set(ERR_INVAL, "not an Ed25519 key");
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pkey);
		return err_set(ERR_NOMEM, "out of memory");
	}
	if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &len) != 1 ||
	    len != KEY_PUB_LEN) {
		EVP_PKEY_free(pkey);
		free(k);
		return ossl_fail("Ed25519 public key");
	}
	k->pkey = pkey;
	*out = k;
	return 0;
}

int
key_from_seed(const uint8_t seed[KEY_SEED_LEN], struct key **out)
{
	EVP_PKEY *pkey;

	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    KEY_SEED_LEN);
	if (pkey == NULL)
		return ossl_fail("Ed25519 seed");
	return key_wrap(pkey, out);
}

int
key_generate(struct key **out)
{
	uint8_t seed[KEY_SEED_LEN];
	int rc;

	if ((rc = util_random(seed, sizeof(seed))) < 0)
		return rc;
	rc = key_from_seed(seed, out);
	OPENSSL_cleanse(seed, sizeof(seed));
	return rc;
}

int
key_load(const char *path, struct key **out)
{
	EVP_PKEY *pkey = NULL;
	struct stat st;
	FILE *f;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(errno == ENOENT ? ERR_NOTFOUND : ERR_IO,
		    "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		close(fd);
		return err_set(ERR_IO, "%s: %s", path, strerror(errno));
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		return err_set(ERR_INVAL,
		    "%s: mode %03o lets others read the "
		    "private key; expected 0600 (chmod 600 %s)",
		    path, (unsigned)(st.st_mode & 0777), path);
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return err_set(ERR_IO, "%s: %s", path, strerror(errno));
	}
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL) {
		ERR_clear_error();
		return err_set(ERR_INVAL, "%s: not a PEM private key", path);
	}
	if (key_wrap(pkey, out) < 0)
		return err_prefix(ERR_INVAL, "%s", path);
	return 0;
}

int
key_save(const struct key *k, const char *path)
{
	BIO *bio = NULL;
	char *pem = NULL;
	long len;
	int rc;

	if (access(path, F_OK) == 0)
		return err_set(ERR_CONFLICT,
		    "%s: exists; refusing to "
		    "overwrite a key",
		    path);
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) !=
	    1) {
		BIO_free(bio);
		return ossl_fail("writing PEM");
	}
	len = BIO_get_mem_data(bio, &pem);
	rc = util_write_file(path, pem, (size_t)len, 0600);
	BIO_free(bio);
	return rc;
}

int
key_load_or_create(const char *path, struct key **out, int *created)
{
	int rc;

	if (created)
		*created = 0;
	rc = key_load(path, out);
	if (rc != ERR_NOTFOUND)
		return rc;
	if ((rc = key_generate(out)) < 0)
		return rc;
	if ((rc = key_save(*out, path)) < 0) {
		key_free(*out);
		*out = NULL;
		return rc;
	}
	if (created)
		*created = 1;
	return 0;
}

void
key_free(struct key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

void
key_public(const struct key *k, uint8_t pub[KEY_PUB_LEN])
{
	memcpy(pub, k->pub, KEY_PUB_LEN);
}

int
key_seed(const struct key *k, uint8_t seed[KEY_SEED_LEN])
{
	size_t len = KEY_SEED_LEN;

	if (EVP_PKEY_get_raw_private_key(k->pkey, seed, &len) != 1 ||
	    len != KEY_SEED_LEN)
		return ossl_fail("Ed25519 private key");
	return 0;
}

int
key_sign(const struct key *k, const void *msg, size_t len,
    uint8_t sig[KEY_SIG_LEN])
{
	EVP_MD_CTX *ctx;
	size_t siglen = KEY_SIG_LEN;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 &&
	    siglen == KEY_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : ossl_fail("Ed25519 sign");
}

int
key_verify(const uint8_t pub[KEY_PUB_LEN], const void *msg, size_t len,
    const uint8_t sig[KEY_SIG_LEN])
{
	EVP_PKEY *pkey;
	EVP_MD_CTX *ctx;
	int ok = 0;

	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    KEY_PUB_LEN);
	if (pkey == NULL) {
		ERR_clear_error();
		return err_set(ERR_SIG, "not a valid Ed25519 public key");
	}
	if ((ctx = EVP_MD_CTX_new()) != NULL) {
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		    EVP_DigestVerify(ctx, sig, KEY_SIG_LEN, msg, len) == 1;
		EVP_MD_CTX_free(ctx);
	}
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return ok ? 0 : err_set(ERR_SIG, "Ed25519 signature does not verify");
}

void
key_pub_to_text(const uint8_t pub[KEY_PUB_LEN], char out[KEY_TEXT_SIZE])
{
	memcpy(out, "ed25519:", 8);
	b64url_encode(pub, KEY_PUB_LEN, out + 8);
}

int
key_pub_from_text(const char *text, uint8_t pub[KEY_PUB_LEN])
{
	size_t n;

	if (strncmp(text, "ed25519:", 8) != 0)
		return err_set(ERR_INVAL,
		    "public key '%.60s': expected "
		    "ed25519:<base64url>",
		    text);
	if (strlen(text + 8) != 43 ||
	    b64url_decode(text + 8, 43, pub, KEY_PUB_LEN, &n) < 0 ||
	    n != KEY_PUB_LEN)
		return err_set(ERR_INVAL,
		    "public key '%.60s': expected 43 "
		    "base64url characters (32 bytes) after ed25519:",
		    text);
	return 0;
}
