/*
 * audit: verification plus replay of a whole ledger (see audit.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/err.h"
#include "ledger/audit.h"

struct audit {
	struct verifier *v;
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
	*out = a;
	return 0;
}

void
audit_free(struct audit *a)
{
	if (a == NULL)
		return;
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

int
audit_leaf(struct audit *a, uint64_t idx, int64_t time, const char *data,
    size_t len)
{
	struct replay_leaf l;
	int rc;

	if ((rc = verifier_leaf(a->v, idx, time, data, len)) < 0)
		return rc;
	if ((rc = replay_parse_leaf(data, len, &l)) < 0)
		return rc;
	rc = replay_leaf(&a->st, &a->cfg, 1, &l);
	envelope_free(l.e);
	if (rc < 0)
		return err_prefix(rc, "index %" PRIu64 " (%s)", idx,
		    err_name(rc));
	return 0;
}

int
audit_checkpoint(struct audit *a, const char *note, size_t len)
{
	uint64_t size;
	int rc;

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
	uint64_t n = verifier_size(a->v);
	int rc;

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
