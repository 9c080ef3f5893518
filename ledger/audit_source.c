/*
 * audit_source: feeding an audit (audit.h) from where a ledger lives: a
 * running market's HTTP API, a store file, a git mirror or C2SP tiles.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/http.h"
#include "common/util.h"
#include "ledger/audit.h"
#include "ledger/mirror.h"
#include "ledger/store.h"
#include "ledger/tiles.h"

#define URL_MAX 1024
#define FETCH_MS 30000 /* checkpoint and info */
#define FETCH_PAGE_MS 60000 /* a page of entries */

/* An audit being fed the leaves below limit, those the checkpoint covers. */
struct feed {
	struct audit *a;
	uint64_t limit;
};

static int
feed_leaf(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct feed *f = ctx;

	if (idx >= f->limit)
		return 1; /* past the checkpoint: stop */
	return audit_leaf(f->a, idx, time, data, len);
}

static int
feed_checkpoint(void *ctx, uint64_t size, const char *note)
{
	(void)size;
	return audit_checkpoint(ctx, note, strlen(note));
}

/* The tree size a checkpoint note commits to (its second line). */
static int
note_size(const char *note, uint64_t *size)
{
	const char *nl = strchr(note, '\n');

	if (nl == NULL)
		return err_set(ERR_CORRUPT, "malformed checkpoint");
	return util_parse_u64_prefix(nl + 1, size);
}

/* ---- a running market ---------------------------------------------- */

/* The market's latest checkpoint note (*note, malloc'd) and its size. */
static int
market_checkpoint(const char *url, char **note, uint64_t *size)
{
	struct http_result res = { 0 };
	char u[URL_MAX];
	int rc;

	snprintf(u, sizeof(u), "%s/v1/ledger/checkpoint", url);
	if ((rc = http_fetch("GET", u, NULL, NULL, 0, FETCH_MS, &res)) < 0)
		return rc;
	if (res.status != 200) {
		rc = err_set(ERR_IO, "%s: HTTP %ld", u, res.status);
		goto out;
	}
	if ((rc = note_size(res.body, size)) < 0)
		goto out;
	*note = res.body;
	res.body = NULL;
out:
	http_result_clear(&res);
	return rc;
}

/* The verifier key the market says is its own (/v1/info). */
static int
market_vkey(const char *url, struct audit_key *key)
{
	struct http_result res = { 0 };
	char u[URL_MAX];
	json_t *j = NULL;
	int rc;

	snprintf(u, sizeof(u), "%s/v1/info", url);
	if ((rc = http_fetch("GET", u, NULL, NULL, 0, FETCH_MS, &res)) < 0)
		goto out;
	if (res.status != 200 || cjson_parse(res.body, res.body_len, &j) < 0 ||
	    !json_is_string(json_object_get(j, "vkey"))) {
		rc = err_set(ERR_IO, "%s: no verifier key", u);
		goto out;
	}
	if ((rc = note_vkey_parse(json_string_value(json_object_get(j, "vkey")),
	         &key->vk)) < 0)
		goto out;
	key->learned = 1;
out:
	json_decref(j);
	http_result_clear(&res);
	return rc;
}

/* One element of an entries page, {"index","time","leaf":base64}; u is
 * the page's URL, for messages. */
static int
market_feed_entry(const char *u, json_t *e, struct feed *f)
{
	const char *b64 = json_string_value(json_object_get(e, "leaf"));
	uint8_t *leaf;
	size_t n, cap;
	int rc;

	if (b64 == NULL)
		return err_set(ERR_IO, "%s: entry without leaf", u);
	cap = strlen(b64);
	if ((leaf = malloc(cap + 1)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (b64_decode(b64, cap, leaf, cap, &n) < 0) {
		free(leaf);
		return err_set(ERR_IO, "%s: bad base64 leaf", u);
	}
	rc = feed_leaf(f,
	    (uint64_t)json_integer_value(json_object_get(e, "index")),
	    (int64_t)json_integer_value(json_object_get(e, "time")),
	    (const char *)leaf, n);
	free(leaf);
	return rc;
}

/* Every entry below f->limit, a page at a time. */
static int
market_feed_entries(const char *url, struct feed *f)
{
	struct http_result res = { 0 };
	char u[URL_MAX];
	json_t *j = NULL, *entries, *e;
	uint64_t start = 0;
	size_t i;
	int rc = 0;

	while (start < f->limit) {
		snprintf(u, sizeof(u),
		    "%s/v1/ledger/entries?start=%" PRIu64 "&end=%" PRIu64, url,
		    start, f->limit);
		http_result_clear(&res);
		if ((rc = http_fetch("GET", u, NULL, NULL, 0, FETCH_PAGE_MS,
		         &res)) < 0)
			goto out;
		if (res.status != 200 ||
		    cjson_parse(res.body, res.body_len, &j) < 0 ||
		    !json_is_array(entries = json_object_get(j, "entries")) ||
		    json_array_size(entries) == 0) {
			rc = err_set(ERR_IO, "%s: bad answer (HTTP %ld)", u,
			    res.status);
			goto out;
		}
		json_array_foreach(entries, i, e)
		{
			if ((rc = market_feed_entry(u, e, f)) < 0)
				goto out;
			start++;
		}
		json_decref(j);
		j = NULL;
	}
	rc = 0;
out:
	json_decref(j);
	http_result_clear(&res);
	return rc;
}

int
audit_from_market(const char *url, struct audit_key *key, struct audit **out)
{
	struct feed f = { NULL, 0 };
	char *note = NULL;
	int rc;

	*out = NULL;
	if ((rc = market_checkpoint(url, &note, &f.limit)) < 0)
		return rc;
	if ((!key->pinned && (rc = market_vkey(url, key)) < 0) ||
	    (rc = audit_new(&key->vk, &f.a)) < 0 ||
	    (rc = market_feed_entries(url, &f)) < 0 ||
	    (rc = audit_checkpoint(f.a, note, strlen(note))) < 0)
		goto out;
	*out = f.a;
	f.a = NULL;
out:
	audit_free(f.a);
	free(note);
	return rc;
}

/* ---- a store file -------------------------------------------------- */

int
audit_from_store(const char *path, struct audit_key *key, struct audit **out)
{
	struct feed f = { NULL, 0 };
	struct store *s = NULL;
	uint8_t pub[KEY_PUB_LEN];
	char *note = NULL;
	int rc;

	*out = NULL;
	if ((rc = store_open(path, 1, &s)) < 0)
		return rc;
	if (!key->pinned) {
		store_log_pub(s, pub);
		if ((rc = note_verifier_init(&key->vk, store_origin(s),
		         NOTE_SIG_ED25519, pub)) < 0)
			goto out;
		key->learned = 1;
	}
	if ((rc = store_checkpoint_latest(s, &f.limit, &note)) < 0)
		goto out;
	if (note == NULL) {
		rc = err_set(ERR_CORRUPT, "%s: no checkpoint", path);
		goto out;
	}
	if ((rc = audit_new(&key->vk, &f.a)) < 0 ||
	    (rc = store_foreach(s, 0, f.limit, feed_leaf, &f)) < 0 ||
	    (rc = store_foreach_checkpoint(s, feed_checkpoint, f.a)) < 0)
		goto out;
	*out = f.a;
	f.a = NULL;
	rc = 0;
out:
	audit_free(f.a);
	free(note);
	store_free(s);
	return rc;
}

/* ---- a git mirror -------------------------------------------------- */

int
audit_from_mirror(const char *dir, struct audit_key *key, struct audit **out)
{
	struct feed f = { NULL, UINT64_MAX };
	char *note = NULL;
	int rc;

	*out = NULL;
	if (!key->pinned)
		return err_set(ERR_INVAL,
		    "auditing a mirror needs --vkey (a "
		    "mirror holds no key of its own)");
	if ((rc = audit_new(&key->vk, &f.a)) < 0 ||
	    (rc = mirror_read(dir, feed_leaf, &f, &note)) < 0 ||
	    (rc = audit_checkpoint(f.a, note, strlen(note))) < 0)
		goto out;
	*out = f.a;
	f.a = NULL;
out:
	audit_free(f.a);
	free(note);
	return rc;
}

/* ---- C2SP tiles ----------------------------------------------------- */

int
audit_from_tiles(const char *url, struct audit_key *key, struct audit **out)
{
	struct feed f = { NULL, 0 };
	struct merkle_reader r;
	struct tiles *t = NULL;
	char *note = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if (!key->pinned)
		return err_set(ERR_INVAL,
		    "auditing tiles needs --vkey (tiles "
		    "hold no key of their own)");
	if ((rc = tiles_open(url, &t)) < 0)
		return rc;
	if ((rc = tiles_checkpoint(t, &note, &len)) < 0 ||
	    (rc = note_size(note, &f.limit)) < 0 ||
	    (rc = audit_new(&key->vk, &f.a)) < 0 ||
	    (rc = tiles_foreach_entry(t, f.limit, feed_leaf, &f)) < 0 ||
	    (rc = audit_checkpoint(f.a, note, len)) < 0)
		goto out;
	audit_reader(f.a, &r);
	if ((rc = tiles_check(t, f.limit, &r)) < 0)
		goto out;
	*out = f.a;
	f.a = NULL;
out:
	audit_free(f.a);
	free(note);
	tiles_free(t);
	return rc;
}
