/*
 * verify: rebuild and check a ledger from its leaves (see verify.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/util.h"
#include "ledger/verify.h"

struct verifier {
	struct note_verifier vkey;
	char *origin;
	struct merkle_mem *tree;
	int64_t last_time;
	uint64_t nodes_seen;
};

int
verifier_new(const struct note_verifier *vkey, const char *origin,
    struct verifier **out)
{
	struct verifier *v;
	int rc;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	v->vkey = *vkey;
	if (origin && (v->origin = strdup(origin)) == NULL) {
		free(v);
		return err_set(ERR_NOMEM, "out of memory");
	}
	if ((rc = merkle_mem_new(&v->tree)) < 0) {
		verifier_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

void
verifier_free(struct verifier *v)
{
	if (v == NULL)
		return;
	merkle_mem_free(v->tree);
	free(v->origin);
	free(v);
}

uint64_t
verifier_size(const struct verifier *v)
{
	return merkle_mem_size(v->tree);
}

void
verifier_reader(struct verifier *v, struct merkle_reader *out)
{
	merkle_mem_reader(v->tree, out);
}

uint64_t
verifier_expected_nodes(uint64_t n)
{
	uint64_t total = 0;

	for (; n > 0; n >>= 1)
		total += n;
	return total;
}

int
verifier_leaf(struct verifier *v, uint64_t idx, int64_t time, const char *data,
    size_t len)
{
	struct envelope *e = NULL;
	json_t *leaf = NULL, *entry;
	long long lidx, ltime;
	char *canon = NULL;
	size_t canonlen;
	uint8_t lh[32];
	int rc;

	if (idx != merkle_mem_size(v->tree))
		return err_set(ERR_CORRUPT,
		    "index %" PRIu64 ": expected entry "
		    "%" PRIu64 " next (an entry is missing or out of order)",
		    idx, merkle_mem_size(v->tree));
	if ((rc = cjson_parse(data, len, &leaf)) < 0) {
		rc = err_prefix(ERR_CORRUPT,
		    "index %" PRIu64 ": leaf is not "
		    "valid JSON",
		    idx);
		goto fail;
	}
	if (!json_is_object(leaf) || json_object_size(leaf) != 3 ||
	    cjson_get_int(leaf, "index", "leaf", &lidx) < 0 ||
	    cjson_get_int(leaf, "time", "leaf", &ltime) < 0 ||
	    (entry = json_object_get(leaf, "entry")) == NULL) {
		rc = err_set(ERR_CORRUPT,
		    "index %" PRIu64 ": leaf is not "
		    "{\"entry\",\"index\",\"time\"}",
		    idx);
		goto fail;
	}
	if ((uint64_t)lidx != idx || lidx < 0) {
		rc = err_set(ERR_CORRUPT,
		    "index %" PRIu64 ": leaf says it is "
		    "index %lld (entries swapped or moved)",
		    idx, lidx);
		goto fail;
	}
	if (time >= 0 && ltime != time) {
		rc = err_set(ERR_CORRUPT,
		    "index %" PRIu64 ": leaf time %lld "
		    "differs from stored time %" PRId64,
		    idx, ltime, time);
		goto fail;
	}
	if (ltime < v->last_time) {
		rc = err_set(ERR_CORRUPT,
		    "index %" PRIu64 ": time %lld is "
		    "before the previous entry's %" PRId64,
		    idx, ltime, v->last_time);
		goto fail;
	}
	json_incref(entry);
	if ((rc = envelope_from_json(entry, &e)) < 0) {
		rc = err_prefix(ERR_CORRUPT, "index %" PRIu64, idx);
		goto fail;
	}
	if ((rc = store_leaf_bytes(e, idx, ltime, &canon, &canonlen)) < 0)
		goto fail;
	if (canonlen != len || memcmp(canon, data, len) != 0) {
		rc = err_set(ERR_CORRUPT,
		    "index %" PRIu64 ": leaf bytes are "
		    "not canonical JSON",
		    idx);
		goto fail;
	}
	merkle_leaf_hash(data, len, lh);
	if ((rc = merkle_mem_append(v->tree, lh)) < 0)
		goto fail;
	v->last_time = ltime;
	rc = 0;
fail:
	free(canon);
	envelope_free(e);
	json_decref(leaf);
	return rc;
}

int
verifier_checkpoint(struct verifier *v, const char *note, size_t len,
    uint64_t *size)
{
	struct checkpoint cp = { 0 };
	struct merkle_reader r;
	uint8_t root[32];
	char *text = NULL;
	int rc;

	if ((rc = note_open(note, len, &v->vkey, 1, &text, NULL)) < 0) {
		rc = err_prefix(rc == ERR_SIG ? ERR_SIG : ERR_CORRUPT,
		    "checkpoint");
		goto out;
	}
	if ((rc = checkpoint_parse(text, strlen(text), &cp)) < 0) {
		rc = err_prefix(ERR_CORRUPT, "checkpoint");
		goto out;
	}
	if (v->origin == NULL && (v->origin = strdup(cp.origin)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	if (strcmp(cp.origin, v->origin) != 0) {
		rc = err_set(ERR_CORRUPT,
		    "checkpoint at size %" PRIu64 ": "
		    "origin '%s' is not the log's '%s'",
		    cp.size, cp.origin, v->origin);
		goto out;
	}
	if (cp.size > merkle_mem_size(v->tree)) {
		rc = err_set(ERR_CORRUPT,
		    "checkpoint at size %" PRIu64 " but "
		    "the log holds only %" PRIu64 " entries (entries removed "
		    "from the end)",
		    cp.size, merkle_mem_size(v->tree));
		goto out;
	}
	merkle_mem_reader(v->tree, &r);
	if ((rc = merkle_root(cp.size, &r, root)) < 0)
		goto out;
	if (memcmp(root, cp.root, 32) != 0) {
		rc = err_set(ERR_CORRUPT,
		    "checkpoint at size %" PRIu64 ": its "
		    "root differs from the root of the entries (an entry "
		    "below index %" PRIu64 " was changed)",
		    cp.size, cp.size);
		goto out;
	}
	if (size)
		*size = cp.size;
	rc = 0;
out:
	checkpoint_clear(&cp);
	free(text);
	return rc;
}

int
verifier_node(struct verifier *v, unsigned level, uint64_t idx,
    const uint8_t *hash, size_t len)
{
	struct merkle_reader r;
	uint8_t want[32];

	merkle_mem_reader(v->tree, &r);
	if (level >= 64 || (idx + 1) > (merkle_mem_size(v->tree) >> level))
		return err_set(ERR_CORRUPT,
		    "stored hash (level %u, index %" PRIu64
		    ") is not part of a tree of %" PRIu64 " entries",
		    level, idx, merkle_mem_size(v->tree));
	if (r.get(r.ctx, level, idx, want) < 0)
		return ERR_CORRUPT;
	if (len != 32 || memcmp(want, hash, 32) != 0)
		return err_set(ERR_CORRUPT,
		    "stored hash (level %u, index %" PRIu64
		    ") for entries %" PRIu64 "..%" PRIu64 " differs "
		    "from the entries' hash",
		    level, idx, idx << level, ((idx + 1) << level) - 1);
	v->nodes_seen++;
	return 0;
}

static int
leaf_cb(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	return verifier_leaf(ctx, idx, time, data, len);
}

static int
node_cb(void *ctx, unsigned level, uint64_t idx, const uint8_t *hash,
    size_t len)
{
	return verifier_node(ctx, level, idx, hash, len);
}

struct cp_ctx {
	struct verifier *v;
	struct verify_report *rep;
};

static int
checkpoint_cb(void *ctx, uint64_t size, const char *note)
{
	struct cp_ctx *c = ctx;
	uint64_t got;
	int rc;

	if ((rc = verifier_checkpoint(c->v, note, strlen(note), &got)) < 0)
		return rc;
	if (got != size)
		return err_set(ERR_CORRUPT,
		    "checkpoint stored for size %" PRIu64 " says size %" PRIu64,
		    size, got);
	c->rep->checkpoints++;
	c->rep->latest_size = size;
	return 0;
}

int
verify_store(struct store *s, const struct note_verifier *vkey,
    struct verify_report *rep)
{
	struct verifier *v = NULL;
	struct merkle_reader r;
	struct cp_ctx cc;
	uint64_t want;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if ((rc = store_quick_check(s)) < 0)
		return rc;
	if ((rc = verifier_new(vkey, store_origin(s), &v)) < 0)
		return rc;
	if ((rc = store_foreach(s, 0, UINT64_MAX, leaf_cb, v)) < 0)
		goto out;
	if (verifier_size(v) != store_size(s)) {
		rc = err_set(ERR_CORRUPT,
		    "the log reports %" PRIu64 " entries "
		    "but holds %" PRIu64,
		    store_size(s), verifier_size(v));
		goto out;
	}
	rep->entries = verifier_size(v);
	if ((rc = store_foreach_node(s, node_cb, v)) < 0)
		goto out;
	want = verifier_expected_nodes(rep->entries);
	if (v->nodes_seen != want) {
		rc = err_set(ERR_CORRUPT,
		    "%" PRIu64 " stored hashes, expected "
		    "%" PRIu64 " for %" PRIu64 " entries",
		    v->nodes_seen, want, rep->entries);
		goto out;
	}
	rep->nodes = v->nodes_seen;
	cc.v = v;
	cc.rep = rep;
	if ((rc = store_foreach_checkpoint(s, checkpoint_cb, &cc)) < 0)
		goto out;
	if (rep->checkpoints == 0) {
		rc = err_set(ERR_CORRUPT,
		    "no checkpoint: nothing signed by the "
		    "log to verify against");
		goto out;
	}
	verifier_reader(v, &r);
	rc = merkle_root(rep->entries, &r, rep->root);
out:
	verifier_free(v);
	return rc;
}

int
verify_vkey_load(const char *arg, struct note_verifier *out)
{
	char *buf = NULL, *nl;
	size_t len;
	int rc;

	if (strchr(arg, '+') != NULL)
		return note_vkey_parse(arg, out);
	if ((rc = util_read_file(arg, 4096, &buf, &len)) < 0)
		return rc;
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	rc = note_vkey_parse(buf, out);
	free(buf);
	return rc;
}
