/*
 * signer: the log operator's side of a ledger, the counterpart of
 * verify.h: create a log bound to the Ed25519 key that signs its
 * checkpoints, find that key again, and sign C2SP checkpoints of the store.
 */
#ifndef LODGE_LEDGER_SIGNER_H
#define LODGE_LEDGER_SIGNER_H

#include <stdint.h>

#include "common/key.h"
#include "ledger/store.h"

/*
 * Create a new log at path (store.h) named origin (a note key name, see
 * note_name_check) whose checkpoints keyfile signs.  The key is loaded,
 * or created (PEM, mode 0600) when keyfile does not exist; *key_created
 * (may be NULL) says which.  The key's absolute path is recorded in the
 * log for signer_key_load, and the empty tree's checkpoint is signed.
 * *vkey gets the verifier key text auditors use (note_vkey_format); the
 * caller frees it with free().  Refuses an existing path (ERR_CONFLICT)
 * before touching the key; on a later failure the new log is removed
 * (a key it created stays).
 */
int signer_create_log(const char *path, const char *origin, const char *keyfile,
    char **vkey, int *key_created);

/*
 * Load the log's signing key: keyfile, or when it is NULL the key file
 * recorded by signer_create_log (ERR_INVAL when there is none).  The key
 * must be the log's (store_log_pub), ERR_INVAL otherwise.  The caller
 * frees *out with key_free().
 */
int signer_key_load(struct store *s, const char *keyfile, struct key **out);

/*
 * Sign the checkpoint of the first size leaves of s (its origin, size and
 * root) with k, the log's key, and store it with the current time.  *note
 * gets the signed note; the caller frees it with free().
 */
int signer_checkpoint(struct store *s, uint64_t size, const struct key *k,
    char **note);

#endif
