/*
 * signer: creating a log bound to its signing key and signing its
 * checkpoints (see signer.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "ledger/note.h"
#include "ledger/signer.h"

/* The metadata key under which the signing key's absolute path is kept. */
#define SIGNER_KEY_PATH "key_path"

int
signer_checkpoint(struct store *s, uint64_t size, const struct key *k,
    char **note)
{
	uint8_t root[32];
	char *body = NULL, *signed_note = NULL;
	int rc;

	if ((rc = store_root(s, size, root)) < 0 ||
	    (rc = checkpoint_format(store_origin(s), size, root, &body)) < 0 ||
	    (rc = note_sign(body, strlen(body), store_origin(s), k,
	         &signed_note)) < 0 ||
	    (rc = store_checkpoint_add(s, size, util_now_ms(), signed_note)) <
	        0) {
		free(body);
		free(signed_note);
		return rc;
	}
	free(body);
	*note = signed_note;
	return 0;
}

/* Record keyfile's absolute path in s, for signer_key_load. */
static int
record_key_path(struct store *s, const char *keyfile)
{
	char abspath[PATH_MAX];

	if (realpath(keyfile, abspath) == NULL)
		return err_set(ERR_IO, "%s: %s", keyfile, strerror(errno));
	return store_meta_set(s, SIGNER_KEY_PATH, abspath);
}

int
signer_create_log(const char *path, const char *origin, const char *keyfile,
    char **vkey, int *key_created)
{
	uint8_t pub[KEY_PUB_LEN];
	struct store *s = NULL;
	struct key *k = NULL;
	char *note = NULL;
	int rc, created;

	if ((rc = note_name_check(origin)) < 0)
		return err_prefix(rc, "origin");
	/* before the key: a mistyped path must not leave a new key behind */
	if (access(path, F_OK) == 0)
		return err_set(ERR_CONFLICT,
		    "%s exists; refusing to replace a ledger", path);
	if ((rc = key_load_or_create(keyfile, &k, &created)) < 0)
		return rc;
	key_public(k, pub);
	if ((rc = store_create(path, origin, pub, &s)) < 0)
		goto out;
	if ((rc = record_key_path(s, keyfile)) < 0 ||
	    (rc = signer_checkpoint(s, 0, k, &note)) < 0 ||
	    (rc = note_vkey_format(origin, pub, vkey)) < 0) {
		store_free(s);
		s = NULL;
		unlink(path);
		goto out;
	}
	if (key_created)
		*key_created = created;
out:
	free(note);
	store_free(s);
	key_free(k);
	return rc;
}

int
signer_key_load(struct store *s, const char *keyfile, struct key **out)
{
	uint8_t pub[KEY_PUB_LEN], logpub[KEY_PUB_LEN];
	char *recorded = NULL;
	struct key *k = NULL;
	int rc;

	if (keyfile == NULL) {
		if ((rc = store_meta_get(s, SIGNER_KEY_PATH, &recorded)) < 0)
			return rc;
		if (recorded == NULL)
			return err_set(ERR_INVAL,
			    "no key recorded; pass --key");
		keyfile = recorded;
	}
	if ((rc = key_load(keyfile, &k)) < 0)
		goto out;
	key_public(k, pub);
	store_log_pub(s, logpub);
	if (memcmp(pub, logpub, KEY_PUB_LEN) != 0) {
		rc = err_set(ERR_INVAL, "%s is not this log's key", keyfile);
		key_free(k);
		goto out;
	}
	*out = k;
out:
	free(recorded);
	return rc;
}
