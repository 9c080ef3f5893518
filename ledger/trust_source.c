/*
 * trust_source: advancing a client's remembered checkpoint (trust.h)
 * from where a log is served: a market's HTTP API, a store file, or C2SP
 * tiles.  Each fetches the latest checkpoint and the consistency proof
 * from the remembered size, and leaves the judgement to trust_update.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/http.h"
#include "ledger/store.h"
#include "ledger/tiles.h"
#include "ledger/trust.h"

#define URL_MAX 1024
#define FETCH_MS 30000

/* The proof range for note (verified under m's policy first, so a bad
 * note is refused before anything else is fetched). */
static int
proof_range(struct trust_memory *m, const struct trust_policy *p,
    const char *note, size_t len, uint64_t *size, uint64_t *from, uint64_t *to,
    int *need)
{
	struct checkpoint cp;
	int rc;

	if ((rc = trust_verify(p, note, len, &cp, NULL)) < 0)
		return rc;
	*size = cp.size;
	checkpoint_clear(&cp);
	*need = trust_proof_range(m, *size, from, to);
	return 0;
}

/* ---- a market ------------------------------------------------------- */

static int
market_get(const char *u, struct http_result *res)
{
	int rc;

	if ((rc = http_fetch("GET", u, NULL, NULL, 0, FETCH_MS, res)) < 0)
		return rc;
	if (res->status != 200) {
		rc = err_set(ERR_IO, "%s: HTTP %ld: %.200s", u, res->status,
		    res->body ? res->body : "");
		http_result_clear(res);
		return rc;
	}
	return 0;
}

static int
market_proof(const char *url, uint64_t from, uint64_t to,
    uint8_t proof[][MERKLE_HASH_LEN], size_t *n)
{
	struct http_result res = { 0 };
	char u[URL_MAX];
	json_t *j = NULL, *arr, *h;
	size_t i, len;
	int rc;

	*n = 0;
	snprintf(u, sizeof(u),
	    "%s/v1/ledger/proof/consistency?old=%" PRIu64 "&new=%" PRIu64, url,
	    from, to);
	if ((rc = market_get(u, &res)) < 0)
		return rc;
	if ((rc = cjson_parse(res.body, res.body_len, &j)) < 0 ||
	    (rc = cjson_get_arr(j, "proof", "consistency proof", &arr)) < 0)
		goto out;
	if (json_array_size(arr) > MERKLE_MAX_PROOF) {
		rc = err_set(ERR_LIMIT, "%s: a proof of %zu hashes", u,
		    json_array_size(arr));
		goto out;
	}
	json_array_foreach(arr, i, h)
	{
		const char *s = json_string_value(h);

		if (s == NULL ||
		    b64_decode(s, strlen(s), proof[i], MERKLE_HASH_LEN, &len) <
		        0 ||
		    len != MERKLE_HASH_LEN) {
			rc = err_set(ERR_INVAL,
			    "%s: proof[%zu] is not base64 "
			    "of a 32-byte hash",
			    u, i);
			goto out;
		}
	}
	*n = json_array_size(arr);
	rc = 0;
out:
	if (rc < 0)
		err_prefix(rc, "%s", u);
	json_decref(j);
	http_result_clear(&res);
	return rc;
}

int
trust_follow_market(struct trust_memory *m, const char *url, int *advanced,
    uint64_t *size)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	struct http_result res = { 0 };
	char u[URL_MAX];
	uint64_t sz, from, to;
	size_t n = 0;
	int need, rc;

	if (advanced)
		*advanced = 0;
	snprintf(u, sizeof(u), "%s/v1/ledger/checkpoint", url);
	if ((rc = market_get(u, &res)) < 0)
		return rc;
	if ((rc = proof_range(m, trust_memory_policy(m), res.body, res.body_len,
	         &sz, &from, &to, &need)) < 0) {
		err_prefix(rc, "%s", u);
		goto out;
	}
	if (size)
		*size = sz;
	if (need && (rc = market_proof(url, from, to, proof, &n)) < 0)
		goto out;
	rc = trust_update(m, res.body, res.body_len, proof, n, advanced);
out:
	http_result_clear(&res);
	return rc;
}

/* ---- a store file --------------------------------------------------- */

int
trust_follow_store(struct trust_memory *m, const char *path, int *advanced,
    uint64_t *size)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	struct store *s = NULL;
	char *note = NULL;
	uint64_t sz, from, to;
	size_t n = 0;
	int need, rc;

	if (advanced)
		*advanced = 0;
	if ((rc = store_open(path, 1, &s)) < 0)
		return rc;
	if ((rc = store_checkpoint_latest(s, &sz, &note)) < 0)
		goto out;
	if (note == NULL) {
		rc = err_set(ERR_NOTFOUND, "%s: no checkpoint", path);
		goto out;
	}
	if ((rc = proof_range(m, trust_memory_policy(m), note, strlen(note),
	         &sz, &from, &to, &need)) < 0) {
		err_prefix(rc, "%s", path);
		goto out;
	}
	if (size)
		*size = sz;
	if (need && to > store_size(s)) {
		rc = err_set(ERR_NOTFOUND,
		    "%s: the log holds %" PRIu64
		    " entries, fewer than the remembered checkpoint's %" PRIu64
		    "; cannot prove the two consistent",
		    path, store_size(s), to);
		goto out;
	}
	if (need && (rc = store_consistency_proof(s, from, to, proof, &n)) < 0)
		goto out;
	rc = trust_update(m, note, strlen(note), proof, n, advanced);
out:
	free(note);
	store_free(s);
	return rc;
}

/* ---- C2SP tiles ----------------------------------------------------- */

int
trust_follow_tiles(struct trust_memory *m, const char *url, int *advanced,
    uint64_t *size)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	struct merkle_reader r;
	struct tiles *t = NULL;
	char *note = NULL;
	uint64_t sz, from, to;
	size_t len, n = 0;
	int need, rc;

	if (advanced)
		*advanced = 0;
	if ((rc = tiles_open(url, &t)) < 0)
		return rc;
	if ((rc = tiles_checkpoint(t, &note, &len)) < 0)
		goto out;
	if ((rc = proof_range(m, trust_memory_policy(m), note, len, &sz, &from,
	         &to, &need)) < 0) {
		err_prefix(rc, "%s/checkpoint", url);
		goto out;
	}
	if (size)
		*size = sz;
	if (need && to > sz) {
		rc = err_set(ERR_NOTFOUND,
		    "%s: its checkpoint (size %" PRIu64
		    ") is older than the remembered one (size %" PRIu64
		    "); its tiles cannot prove the two consistent",
		    url, sz, to);
		goto out;
	}
	tiles_reader(t, sz, &r);
	if (need &&
	    (rc = merkle_consistency_proof(from, to, &r, proof, &n)) < 0) {
		err_prefix(rc, "%s: consistency proof from tiles", url);
		goto out;
	}
	rc = trust_update(m, note, len, proof, n, advanced);
out:
	free(note);
	tiles_free(t);
	return rc;
}
