/*
 * verify: rebuild and check a ledger from its leaves (see verify.h).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A failure of the first half: its code and message, kept for the
 * second half to report in ledger order. */
static void
leaf_fail(struct verify_leaf *l, int rc, int late)
{
	l->rc = rc;
	l->late = late;
	l->msg = strdup(err_msg());
}

/* The first half of verifier_leaf for one leaf (see verify.h). */
static void
leaf_check(struct verify_leaf *l, int keep)
{
	struct envelope *e = NULL;
	json_t *leaf = NULL, *entry;
	long long lidx, ltime;
	char *canon = NULL;
	size_t canonlen;
	uint64_t idx = l->idx;
	int rc;

	l->rc = 0;
	l->msg = NULL;
	l->late = 0;
	l->e = NULL;
	if ((rc = cjson_parse(l->data, l->len, &leaf)) < 0) {
		leaf_fail(l,
		    err_prefix(ERR_CORRUPT,
		        "index %" PRIu64 ": leaf is not "
		        "valid JSON",
		        idx),
		    0);
		goto out;
	}
	if (!json_is_object(leaf) || json_object_size(leaf) != 3 ||
	    cjson_get_int(leaf, "index", "leaf", &lidx) < 0 ||
	    cjson_get_int(leaf, "time", "leaf", &ltime) < 0 ||
	    (entry = json_object_get(leaf, "entry")) == NULL) {
		leaf_fail(l,
		    err_set(ERR_CORRUPT,
		        "index %" PRIu64 ": leaf is not "
		        "{\"entry\",\"index\",\"time\"}",
		        idx),
		    0);
		goto out;
	}
	if ((uint64_t)lidx != idx || lidx < 0) {
		leaf_fail(l,
		    err_set(ERR_CORRUPT,
		        "index %" PRIu64 ": leaf says it is "
		        "index %lld (entries swapped or moved)",
		        idx, lidx),
		    0);
		goto out;
	}
	if (l->time >= 0 && ltime != l->time) {
		leaf_fail(l,
		    err_set(ERR_CORRUPT,
		        "index %" PRIu64 ": leaf time %lld "
		        "differs from stored time %" PRId64,
		        idx, ltime, l->time),
		    0);
		goto out;
	}
	l->ltime = ltime;
	json_incref(entry);
	if ((rc = envelope_from_json(entry, &e)) < 0) {
		leaf_fail(l, err_prefix(ERR_CORRUPT, "index %" PRIu64, idx), 1);
		goto out;
	}
	if ((rc = store_leaf_bytes(e, idx, ltime, &canon, &canonlen)) < 0) {
		leaf_fail(l, rc, 1);
		goto out;
	}
	if (canonlen != l->len || memcmp(canon, l->data, l->len) != 0) {
		leaf_fail(l,
		    err_set(ERR_CORRUPT,
		        "index %" PRIu64 ": leaf bytes are "
		        "not canonical JSON",
		        idx),
		    1);
		goto out;
	}
	merkle_leaf_hash(l->data, l->len, l->hash);
	if (keep) {
		l->e = e;
		e = NULL;
	}
out:
	free(canon);
	envelope_free(e);
	json_decref(leaf);
}

void
verify_leaf_clear(struct verify_leaf *l)
{
	free(l->msg);
	l->msg = NULL;
	envelope_free(l->e);
	l->e = NULL;
}

int
verify_threads(int threads)
{
	long n;

	if (threads > 0)
		return threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

struct verify_job {
	struct verify_leaf *l;
	size_t n;
	int keep;
	atomic_size_t next;
	pthread_t th[64];
	int started;
};

static void *
leaves_worker(void *arg)
{
	struct verify_job *j = arg;
	size_t i;

	/* leaves one at a time: their costs differ (a lease.started holds a
	 * second signature), so a static split would leave a core idle */
	while ((i = atomic_fetch_add(&j->next, 1)) < j->n)
		leaf_check(&j->l[i], j->keep);
	return NULL;
}

int
verify_leaves_start(struct verify_leaf *l, size_t n, int workers, int keep,
    struct verify_job **out)
{
	struct verify_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	j->l = l;
	j->n = n;
	j->keep = keep;
	atomic_init(&j->next, 0);
	if (workers > 64)
		workers = 64;
	/* with no thread started, verify_leaves_wait does it all */
	for (int t = 0; t < workers && (size_t)t < n; t++) {
		if (pthread_create(&j->th[j->started], NULL, leaves_worker,
		        j) != 0)
			break;
		j->started++;
	}
	*out = j;
	return 0;
}

void
verify_leaves_wait(struct verify_job *j)
{
	if (j == NULL)
		return;
	leaves_worker(j); /* the calling thread takes what is left */
	for (int t = 0; t < j->started; t++)
		pthread_join(j->th[t], NULL);
	free(j);
}

int
verify_leaves(struct verify_leaf *l, size_t n, int threads, int keep)
{
	struct verify_job *j;
	int rc;

	if ((rc = verify_leaves_start(l, n, verify_threads(threads) - 1, keep,
	         &j)) < 0)
		return rc;
	verify_leaves_wait(j);
	return 0;
}

int
verifier_leaf_checked(struct verifier *v, const struct verify_leaf *l)
{
	int rc;

	if (l->idx != merkle_mem_size(v->tree))
		return err_set(ERR_CORRUPT,
		    "index %" PRIu64 ": expected entry "
		    "%" PRIu64 " next (an entry is missing or out of order)",
		    l->idx, merkle_mem_size(v->tree));
	if (l->rc < 0 && !l->late)
		return err_set(l->rc, "%s", l->msg ? l->msg : "out of memory");
	if (l->ltime < v->last_time)
		return err_set(ERR_CORRUPT,
		    "index %" PRIu64 ": time %" PRId64 " is "
		    "before the previous entry's %" PRId64,
		    l->idx, l->ltime, v->last_time);
	if (l->rc < 0)
		return err_set(l->rc, "%s", l->msg ? l->msg : "out of memory");
	if ((rc = merkle_mem_append(v->tree, l->hash)) < 0)
		return rc;
	v->last_time = l->ltime;
	return 0;
}

int
verifier_leaf(struct verifier *v, uint64_t idx, int64_t time, const char *data,
    size_t len)
{
	struct verify_leaf l = { .idx = idx,
		.time = time,
		.data = data,
		.len = len };
	int rc;

	/* the order of the checks (and so the message) of the two halves */
	if (idx != merkle_mem_size(v->tree))
		return verifier_leaf_checked(v, &l);
	leaf_check(&l, 0);
	rc = verifier_leaf_checked(v, &l);
	verify_leaf_clear(&l);
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

/* Leaves gathered from the store a batch at a time, checked on every
 * core, then fed to the verifier in order. */
#define VERIFY_BATCH 2048

struct leaf_batch {
	struct verifier *v;
	int threads;
	struct verify_leaf l[VERIFY_BATCH];
	char *data[VERIFY_BATCH];
	size_t n;
};

static int
batch_flush(struct leaf_batch *b)
{
	int rc = 0;
	size_t i;

	if ((rc = verify_leaves(b->l, b->n, b->threads, 0)) < 0)
		b->n = 0; /* nothing checked: free below, report rc */
	for (i = 0; i < b->n; i++)
		if ((rc = verifier_leaf_checked(b->v, &b->l[i])) < 0)
			break;
	for (i = 0; i < VERIFY_BATCH && b->data[i] != NULL; i++) {
		verify_leaf_clear(&b->l[i]);
		free(b->data[i]);
		b->data[i] = NULL;
	}
	b->n = 0;
	return rc;
}

static int
leaf_cb(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct leaf_batch *b = ctx;
	struct verify_leaf *l = &b->l[b->n];

	if (b->threads == 1)
		return verifier_leaf(b->v, idx, time, data, len);
	if ((b->data[b->n] = malloc(len ? len : 1)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(b->data[b->n], data, len);
	memset(l, 0, sizeof(*l));
	l->idx = idx;
	l->time = time;
	l->data = b->data[b->n];
	l->len = len;
	if (++b->n == VERIFY_BATCH)
		return batch_flush(b);
	return 0;
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
	return verify_store_mt(s, vkey, 0, rep);
}

int
verify_store_mt(struct store *s, const struct note_verifier *vkey, int threads,
    struct verify_report *rep)
{
	struct leaf_batch *b = NULL;
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
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	b->v = v;
	b->threads = verify_threads(threads);
	if ((rc = store_foreach(s, 0, UINT64_MAX, leaf_cb, b)) < 0) {
		/* a leaf gathered before the failure may be bad: its index
		 * is the lower, so it is the one to name */
		struct err_saved es;
		int frc;

		err_save(&es);
		if ((frc = batch_flush(b)) < 0)
			rc = frc;
		else
			err_restore(&es);
		goto out;
	}
	if ((rc = batch_flush(b)) < 0)
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
	free(b);
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
