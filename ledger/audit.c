/*
 * audit: verification plus replay of a whole ledger (see audit.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/err.h"
#include "ledger/audit.h"

/* Leaves gathered a batch at a time: their signatures checked and hashes
 * computed on the other cores (verify_leaves_start) while this thread
 * replays the batch before, then verified in order and replayed from the
 * envelopes already checked. */
#define AUDIT_BATCH 1024

struct abatch {
	struct verify_leaf *l; /* AUDIT_BATCH; data owned */
	size_t n;
	struct verify_job *job; /* being checked, or NULL */
};

struct audit {
	struct verifier *v;
	int threads;
	struct abatch b[2]; /* b[cur]: being filled; the other: checked
	                     * or being checked, waiting to be replayed */
	int cur;
	struct state *st;
	struct state_config cfg;
	uint64_t checkpoint_size;
	int have_checkpoint;
	char *checkpoint_note; /* the largest fed */
};

int
audit_new(const struct note_verifier *vkey, struct audit **out)
{
	struct audit *a;
	int rc;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((rc = verifier_new(vkey, NULL, &a->v)) < 0) {
		free(a);
		return rc;
	}
	a->threads = verify_threads(0);
	*out = a;
	return 0;
}

void
audit_set_threads(struct audit *a, int threads)
{
	a->threads = verify_threads(threads);
}

static void
batch_clear(struct abatch *b)
{
	verify_leaves_wait(b->job);
	b->job = NULL;
	for (size_t i = 0; i < b->n; i++) {
		verify_leaf_clear(&b->l[i]);
		free((char *)b->l[i].data);
	}
	b->n = 0;
}

void
audit_free(struct audit *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		batch_clear(&a->b[i]);
		free(a->b[i].l);
	}
	verifier_free(a->v);
	state_free(a->st);
	free(a->checkpoint_note);
	free(a);
}

const struct state *
audit_state(const struct audit *a)
{
	return a->st;
}

/* One checked leaf: its place in the tree, then the state machine. */
static int
replay_checked(struct audit *a, const struct verify_leaf *vl)
{
	struct replay_leaf l;
	int rc;

	if ((rc = verifier_leaf_checked(a->v, vl)) < 0)
		return rc;
	l.e = vl->e;
	l.index = vl->idx;
	l.time = vl->ltime;
	if ((rc = replay_leaf(&a->st, &a->cfg, 1, &l)) < 0)
		return err_prefix(rc, "index %" PRIu64 " (%s)", vl->idx,
		    err_name(rc));
	return 0;
}

/* Start checking b on every core but this thread's. */
static int
batch_start(struct audit *a, struct abatch *b)
{
	if (b->n == 0)
		return 0;
	return verify_leaves_start(b->l, b->n, a->threads - 1, 1, &b->job);
}

/* Replay b (its check finished first, this thread helping); the first
 * failure, the lowest index, is the one reported. */
static int
batch_replay(struct audit *a, struct abatch *b)
{
	int rc = 0;

	verify_leaves_wait(b->job);
	b->job = NULL;
	for (size_t i = 0; i < b->n; i++)
		if ((rc = replay_checked(a, &b->l[i])) < 0)
			break;
	batch_clear(b);
	return rc;
}

/* The batch being filled is full (or all is fed): start checking it,
 * replay the one before meanwhile; with all set, replay it too. */
static int
batch_rotate(struct audit *a, int all)
{
	struct abatch *cur = &a->b[a->cur], *prev = &a->b[!a->cur];
	int rc;

	if ((rc = batch_start(a, cur)) < 0 ||
	    (rc = batch_replay(a, prev)) < 0) {
		struct err_saved saved;

		/* this thread helps finish cur's check, whose failures set
		 * this thread's message: the lower index's must stay */
		err_save(&saved);
		batch_clear(cur);
		err_restore(&saved);
		return rc;
	}
	a->cur = !a->cur;
	if (all && (rc = batch_replay(a, cur)) < 0)
		return rc;
	return 0;
}

static int
batch_flush(struct audit *a)
{
	return batch_rotate(a, 1);
}

int
audit_leaf(struct audit *a, uint64_t idx, int64_t time, const char *data,
    size_t len)
{
	struct abatch *b = &a->b[a->cur];
	struct verify_leaf *l;
	char *copy;

	if (b->l == NULL && (b->l = calloc(AUDIT_BATCH, sizeof(*b->l))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((copy = malloc(len ? len : 1)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(copy, data, len);
	l = &b->l[b->n++];
	memset(l, 0, sizeof(*l));
	l->idx = idx;
	l->time = time;
	l->data = copy;
	l->len = len;
	if (a->threads == 1)
		return batch_flush(a);
	if (b->n == AUDIT_BATCH)
		return batch_rotate(a, 0);
	return 0;
}

int
audit_checkpoint(struct audit *a, const char *note, size_t len)
{
	uint64_t size;
	int rc;

	if ((rc = batch_flush(a)) < 0)
		return rc;
	if ((rc = verifier_checkpoint(a->v, note, len, &size)) < 0)
		return rc;
	if (!a->have_checkpoint || size >= a->checkpoint_size) {
		char *copy = strndup(note, len);

		if (copy == NULL)
			return err_set(ERR_NOMEM, "out of memory");
		free(a->checkpoint_note);
		a->checkpoint_note = copy;
		a->checkpoint_size = size;
	}
	a->have_checkpoint = 1;
	return 0;
}

const char *
audit_checkpoint_note(const struct audit *a)
{
	return a->checkpoint_note;
}

void
audit_reader(struct audit *a, struct merkle_reader *out)
{
	verifier_reader(a->v, out);
}

int
audit_finish(struct audit *a, json_t **summary)
{
	struct merkle_reader r;
	uint8_t root[32];
	char b64[B64_ENCODED_SIZE(32)];
	json_t *dump = NULL, *o, *rules = NULL;
	uint64_t n;
	int rc;

	if ((rc = batch_flush(a)) < 0)
		return rc;
	n = verifier_size(a->v);
	if (!a->have_checkpoint)
		return err_set(ERR_CORRUPT,
		    "no signed checkpoint to check the "
		    "entries against");
	if (a->checkpoint_size != n)
		return err_set(ERR_CORRUPT,
		    "the latest checkpoint covers %" PRIu64
		    " entries but %" PRIu64 " were audited",
		    a->checkpoint_size, n);
	if (a->st == NULL)
		return err_set(ERR_CORRUPT,
		    "no genesis entry: an empty "
		    "ledger");
	if (state_pending_count(a->st) > 0)
		return err_set(ERR_CORRUPT,
		    "after index %" PRIu64 ": %zu "
		    "entr%s the rules derive (lease.create, close, expiry) "
		    "never appeared",
		    n - 1, state_pending_count(a->st),
		    state_pending_count(a->st) == 1 ? "y" : "ies");
	if ((rc = state_check_invariants(a->st)) < 0)
		return rc;
	verifier_reader(a->v, &r);
	if ((rc = merkle_root(n, &r, root)) < 0)
		return rc;
	if (summary == NULL)
		return 0;
	b64_encode(root, 32, b64);
	if ((rc = state_dump(a->st, &dump)) < 0)
		return rc;
	if ((rc = replay_genesis_body(&a->cfg, &rules)) < 0) {
		json_decref(dump);
		return rc;
	}
	o = json_pack("{s:b,s:I,s:s,s:o,s:O,s:O,s:O,s:O,s:O}", "ok", 1,
	    "entries", (json_int_t)n, "root", b64, "rules", rules, "accounts",
	    json_object_get(dump, "accounts"), "totals",
	    json_object_get(dump, "totals"), "orders",
	    json_object_get(dump, "orders"), "leases",
	    json_object_get(dump, "leases"), "providers",
	    json_object_get(dump, "providers"));
	json_decref(dump);
	if (o == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	*summary = o;
	return 0;
}
