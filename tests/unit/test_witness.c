/*
 * test_witness: the C2SP tlog-witness request format (the spec's example,
 * round trips, bad bodies), a witness database driven through
 * witness_db_add_checkpoint (a consistent sequence cosigned, 409 on an
 * old-size mismatch, 422 on a bad proof, a split view refused with both
 * notes kept as evidence, 400/403/404), the log's side reading answers,
 * attaching cosignatures and asking a real witness server over HTTP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/util.h"
#include "ledger/cosign.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/witness.h"
#include "ledger/witness_db.h"
#include "ledger/witness_server.h"

#define ORIGIN "test.lodge/log"
#define WNAME "witness.test/w1"
#define NOW 1700000000

/* Two histories of one log: A, and B sharing A's first PREFIX leaves. */
#define PREFIX 3

struct fx {
	char dir[64], db[128];
	struct key *log, *other;
	struct note_verifier log_v, w_v;
	char *log_vkey;
	struct witness_db *w;
	struct merkle_mem *a, *b;
};

static void
seed_key(uint8_t fill, struct key **k)
{
	uint8_t seed[KEY_SEED_LEN];

	memset(seed, fill, sizeof(seed));
	assert_int_equal(key_from_seed(seed, k), 0);
}

/* Grow tree m to n leaves named "<tag><i>" (tag 'a' or 'b'; the first
 * PREFIX are shared). */
static void
grow(struct merkle_mem *m, char tag, uint64_t n)
{
	uint8_t h[32];
	char leaf[32];

	while (merkle_mem_size(m) < n) {
		uint64_t i = merkle_mem_size(m);

		snprintf(leaf, sizeof(leaf), "%c%llu", i < PREFIX ? 'p' : tag,
		    (unsigned long long)i);
		merkle_leaf_hash(leaf, strlen(leaf), h);
		assert_int_equal(merkle_mem_append(m, h), 0);
	}
}

/* The note of m's first size leaves signed by k (the caller frees). */
static char *
signed_note(struct merkle_mem *m, uint64_t size, const struct key *k)
{
	struct merkle_reader r;
	uint8_t root[32];
	char *body, *note;

	merkle_mem_reader(m, &r);
	assert_int_equal(merkle_root(size, &r, root), 0);
	assert_int_equal(checkpoint_format(ORIGIN, size, root, &body), 0);
	assert_int_equal(note_sign(body, strlen(body), ORIGIN, k, &note), 0);
	free(body);
	return note;
}

/* An add-checkpoint body for m at size from old (proof from m). */
static char *
request(struct merkle_mem *m, uint64_t old, uint64_t size, const char *note,
    size_t *len)
{
	uint8_t proof[MERKLE_MAX_PROOF][32];
	struct merkle_reader r;
	size_t n = 0;
	char *body;

	merkle_mem_reader(m, &r);
	if (old > 0 && old < size)
		assert_int_equal(
		    merkle_consistency_proof(old, size, &r, proof, &n), 0);
	assert_int_equal(witness_request_format(old, proof, n, note,
	                     strlen(note), &body, len),
	    0);
	return body;
}

/* Submit m's checkpoint of size from old; returns the status, *a filled. */
static int
submit(struct fx *f, struct merkle_mem *m, uint64_t old, uint64_t size,
    struct witness_answer *a)
{
	char *note = signed_note(m, size, f->log), *body;
	size_t len;

	body = request(m, old, size, note, &len);
	assert_int_equal(witness_db_add_checkpoint(f->w, body, len, NOW, a), 0);
	free(body);
	free(note);
	return a->status;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char keyfile[160], *wvkey = NULL;
	uint8_t pub[KEY_PUB_LEN];

	assert_non_null(f);
	strcpy(f->dir, "/tmp/lodge-witness-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/witness.db", f->dir);
	snprintf(keyfile, sizeof(keyfile), "%s/witness.key", f->dir);
	seed_key(1, &f->log);
	seed_key(2, &f->other);
	key_public(f->log, pub);
	assert_int_equal(note_vkey_format(ORIGIN, pub, &f->log_vkey), 0);
	assert_int_equal(note_vkey_parse(f->log_vkey, &f->log_v), 0);
	assert_int_equal(witness_db_create(f->db, WNAME, keyfile, &wvkey, NULL),
	    0);
	assert_int_equal(note_vkey_parse(wvkey, &f->w_v), 0);
	assert_int_equal(f->w_v.type, NOTE_SIG_COSIGNATURE);
	free(wvkey);
	assert_int_equal(witness_db_open(f->db, &f->w), 0);
	assert_int_equal(witness_db_log_add(f->w, f->log_vkey, NULL), 0);
	assert_int_equal(merkle_mem_new(&f->a), 0);
	assert_int_equal(merkle_mem_new(&f->b), 0);
	grow(f->a, 'a', 9);
	grow(f->b, 'b', 9);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	witness_db_free(f->w);
	merkle_mem_free(f->a);
	merkle_mem_free(f->b);
	key_free(f->log);
	key_free(f->other);
	free(f->log_vkey);
	util_rm_tree(f->dir);
	free(f);
	return 0;
}

/* ---- the request format ------------------------------------------- */

/* The example body of C2SP tlog-witness, "add-checkpoint". */
static const char spec_example[] =
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\xe2\x80\x94 example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGk"
    "u9nTo+zyWE+xeMcTOAYQ8=\n"
    "\xe2\x80\x94 example.com/behind-the-sofa "
    "opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6"
    "QUXTS5Rovnzv++qbSzm9Q=\n";

static void
test_request_parses_the_spec_example(void **state)
{
	struct witness_request req;
	char *again = NULL;
	size_t len;

	(void)state;
	assert_int_equal(
	    witness_request_parse(spec_example, strlen(spec_example), &req), 0);
	assert_int_equal(req.old_size, 20852014);
	assert_int_equal(req.nproof, 4);
	assert_int_equal(req.proof[0][0], 0x3e); /* "PlRN" */
	assert_int_equal(req.proof[3][0], 0xff); /* "/6WV" */
	assert_true(strncmp(req.note, "example.com/behind-the-sofa\n20852163\n",
	                37) == 0);
	/* formatting the parts gives the body back, byte for byte */
	assert_int_equal(witness_request_format(req.old_size, req.proof,
	                     req.nproof, req.note, req.note_len, &again, &len),
	    0);
	assert_int_equal(len, strlen(spec_example));
	assert_string_equal(again, spec_example);
	free(again);
}

static void
test_request_rejects_malformed_bodies(void **state)
{
	static const struct {
		const char *body, *msg;
	} bad[] = {
		{ "", "line 1" },
		{ "old 3", "line 1" },
		{ "olds 3\n\nnote\n", "line 1" },
		{ "old 03\n\nnote\n", "leading zero" },
		{ "old -1\n\nnote\n", "line 1" },
		{ "old 18446744073709551616\n\nnote\n", "line 1" },
		{ "old 3\n", "line 2" },
		{ "old 3\nnot base64\n\nnote\n", "line 2" },
		{ "old 3\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw\n\nn\n",
		    "line 2" },
		{ "old 3\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
		    "line 2" },
		{ "old 3\n\n", "no checkpoint" },
	};
	struct witness_request req;
	char *many, *p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (witness_request_parse(bad[i].body, strlen(bad[i].body),
		        &req) != ERR_INVAL)
			fail_msg("body %zu was accepted", i);
		if (strstr(err_msg(), bad[i].msg) == NULL)
			fail_msg("body %zu: '%s' lacks '%s'", i, err_msg(),
			    bad[i].msg);
	}
	/* 63 proof lines are allowed, 64 are not */
	many = malloc(16 + 64 * 45 + 16);
	assert_non_null(many);
	p = many + sprintf(many, "old 1\n");
	for (int i = 0; i < 64; i++)
		p += sprintf(p,
		    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n");
	strcpy(p, "\nnote\n");
	assert_int_equal(witness_request_parse(many, strlen(many), &req),
	    ERR_INVAL);
	assert_non_null(strstr(err_msg(), "more than 63"));
	memmove(many + 6, many + 6 + 45, strlen(many + 6 + 45) + 1);
	assert_int_equal(witness_request_parse(many, strlen(many), &req), 0);
	assert_int_equal(req.nproof, 63);
	free(many);
}

/* ---- the witness's decisions ---------------------------------------- */

static void
expect_cosignature(struct fx *f, struct merkle_mem *m, uint64_t size,
    const struct witness_answer *a)
{
	char *note = signed_note(m, size, f->log), *text, *line = NULL;
	uint64_t t = 0;

	assert_int_equal(a->status, 200);
	text = strndup(note, strstr(note, "\n\n") + 1 - note);
	assert_int_equal(witness_response_cosig(&f->w_v, text, strlen(text),
	                     a->body, a->body_len, &line, &t),
	    0);
	assert_int_equal(t, NOW);
	free(line);
	free(text);
	free(note);
}

static void
test_witness_cosigns_a_consistent_sequence(void **state)
{
	struct fx *f = *state;
	struct witness_answer a;
	uint64_t sizes[] = { 0, 3, 4, 8, 8, 9 };
	uint64_t old = 0;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		submit(f, f->a, old, sizes[i], &a);
		if (a.status != 200)
			fail_msg("size %llu from %llu: %d %s",
			    (unsigned long long)sizes[i],
			    (unsigned long long)old, a.status, a.body);
		expect_cosignature(f, f->a, sizes[i], &a);
		witness_answer_clear(&a);
		old = sizes[i];
	}
}

static int
count_evidence(void *ctx, const struct witness_evidence *e)
{
	size_t *n = ctx;

	(void)e;
	(*n)++;
	return 0;
}

static void
test_witness_409_on_old_size_mismatch(void **state)
{
	struct fx *f = *state;
	struct witness_answer a;
	size_t nev = 0;

	assert_int_equal(submit(f, f->a, 0, 5, &a), 200);
	witness_answer_clear(&a);
	/* a log that does not know the witness's size asks from 0 */
	assert_int_equal(submit(f, f->a, 0, 7, &a), 409);
	assert_string_equal(a.content_type, "text/x.tlog.size");
	assert_int_equal(a.body_len, 2);
	assert_memory_equal(a.body, "5\n", 2);
	assert_int_equal(a.evidence, 0);
	witness_answer_clear(&a);
	/* an old size below and above what it holds: the same answer */
	assert_int_equal(submit(f, f->a, 3, 7, &a), 409);
	assert_memory_equal(a.body, "5\n", 2);
	witness_answer_clear(&a);
	assert_int_equal(submit(f, f->a, 6, 7, &a), 409);
	witness_answer_clear(&a);
	/* then from its size, with the proof */
	assert_int_equal(submit(f, f->a, 5, 7, &a), 200);
	witness_answer_clear(&a);
	assert_int_equal(
	    witness_db_foreach_evidence(f->w, NULL, count_evidence, &nev), 0);
	assert_int_equal(nev, 0);
}

struct ev_seen {
	size_t n;
	int status;
	char cosigned[512], refused[512];
};

static int
keep_evidence(void *ctx, const struct witness_evidence *e)
{
	struct ev_seen *s = ctx;

	s->n++;
	s->status = e->status;
	snprintf(s->cosigned, sizeof(s->cosigned), "%s", e->cosigned);
	snprintf(s->refused, sizeof(s->refused), "%s", e->refused);
	return 0;
}

static void
test_witness_refuses_a_split_view_and_keeps_both_notes(void **state)
{
	struct fx *f = *state;
	struct witness_answer a;
	struct ev_seen ev = { 0 };
	char *note_a = signed_note(f->a, 5, f->log);
	char *note_b = signed_note(f->b, 5, f->log);

	assert_int_equal(submit(f, f->a, 0, 5, &a), 200);
	witness_answer_clear(&a);
	/* history B at the same size: another root */
	assert_int_equal(submit(f, f->b, 5, 5, &a), 409);
	assert_int_equal(a.evidence, 1);
	assert_memory_equal(a.body, "5\n", 2);
	assert_non_null(strstr(a.reason, "split view"));
	witness_answer_clear(&a);
	assert_int_equal(
	    witness_db_foreach_evidence(f->w, ORIGIN, keep_evidence, &ev), 0);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.status, 409);
	/* both notes, signed by the log; the cosigned one with the
	 * witness's cosignature */
	assert_true(strncmp(ev.cosigned, note_a, strlen(note_a)) == 0);
	assert_non_null(strstr(ev.cosigned, "\xe2\x80\x94 " WNAME " "));
	assert_string_equal(ev.refused, note_b);
	/* the same refusal again is not a second piece of evidence */
	assert_int_equal(submit(f, f->b, 5, 5, &a), 409);
	witness_answer_clear(&a);
	ev.n = 0;
	assert_int_equal(
	    witness_db_foreach_evidence(f->w, NULL, keep_evidence, &ev), 0);
	assert_int_equal(ev.n, 1);
	/* and A goes on being cosigned */
	assert_int_equal(submit(f, f->a, 5, 9, &a), 200);
	witness_answer_clear(&a);
	free(note_a);
	free(note_b);
}

static void
test_witness_422_on_a_proof_that_does_not_verify(void **state)
{
	struct fx *f = *state;
	struct witness_answer a;
	struct ev_seen ev = { 0 };
	char *note, *body;
	size_t len;

	assert_int_equal(submit(f, f->a, 0, 5, &a), 200);
	witness_answer_clear(&a);
	/* history B grown past 5, with B's own (valid for B) proof */
	assert_int_equal(submit(f, f->b, 5, 8, &a), 422);
	assert_int_equal(a.evidence, 1);
	assert_non_null(strstr(a.body, "does not verify"));
	witness_answer_clear(&a);
	assert_int_equal(
	    witness_db_foreach_evidence(f->w, NULL, keep_evidence, &ev), 0);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.status, 422);
	assert_non_null(strstr(ev.refused, "\n8\n"));
	/* A's checkpoint with one proof bit flipped */
	note = signed_note(f->a, 8, f->log);
	body = request(f->a, 5, 8, note, &len);
	body[6] = body[6] == 'A' ? 'B' : 'A';
	assert_int_equal(witness_db_add_checkpoint(f->w, body, len, NOW, &a),
	    0);
	assert_int_equal(a.status, 422);
	witness_answer_clear(&a);
	free(body);
	free(note);
	/* the right proof is still cosigned */
	assert_int_equal(submit(f, f->a, 5, 8, &a), 200);
	witness_answer_clear(&a);
}

static void
test_witness_refuses_what_it_cannot_judge(void **state)
{
	struct fx *f = *state;
	struct witness_answer a;
	uint8_t pub[KEY_PUB_LEN], proof[1][32] = { { 0 } };
	char *note, *body, *vkey, *body2;
	size_t len;

	/* another log: 404 */
	key_public(f->other, pub);
	assert_int_equal(
	    checkpoint_format("other.lodge/log", 1, proof[0], &body), 0);
	assert_int_equal(
	    note_sign(body, strlen(body), "other.lodge/log", f->other, &note),
	    0);
	free(body);
	assert_int_equal(
	    witness_request_format(0, NULL, 0, note, strlen(note), &body, &len),
	    0);
	assert_int_equal(witness_db_add_checkpoint(f->w, body, len, NOW, &a),
	    0);
	assert_int_equal(a.status, 404);
	witness_answer_clear(&a);
	free(body);
	free(note);
	/* this log's origin signed by another key: 403 */
	note = signed_note(f->a, 3, f->other);
	assert_int_equal(
	    witness_request_format(0, NULL, 0, note, strlen(note), &body, &len),
	    0);
	assert_int_equal(witness_db_add_checkpoint(f->w, body, len, NOW, &a),
	    0);
	assert_int_equal(a.status, 403);
	witness_answer_clear(&a);
	free(body);
	free(note);
	/* old size above the checkpoint's: 400 */
	note = signed_note(f->a, 3, f->log);
	assert_int_equal(
	    witness_request_format(4, NULL, 0, note, strlen(note), &body, &len),
	    0);
	assert_int_equal(witness_db_add_checkpoint(f->w, body, len, NOW, &a),
	    0);
	assert_int_equal(a.status, 400);
	witness_answer_clear(&a);
	free(body);
	/* a proof line from size 0: 422 */
	assert_int_equal(witness_request_format(0, proof, 1, note, strlen(note),
	                     &body2, &len),
	    0);
	assert_int_equal(witness_db_add_checkpoint(f->w, body2, len, NOW, &a),
	    0);
	assert_int_equal(a.status, 422);
	witness_answer_clear(&a);
	free(body2);
	free(note);
	/* a malformed body: 400, naming the line */
	assert_int_equal(
	    witness_db_add_checkpoint(f->w, "old x\n\nn\n", 9, NOW, &a), 0);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.body, "line 1"));
	witness_answer_clear(&a);
	/* a log key of the wrong type is refused when added */
	assert_int_equal(witness_db_vkey(f->w, &vkey), 0);
	assert_int_equal(witness_db_log_add(f->w, vkey, NULL), ERR_INVAL);
	free(vkey);
}

static int
keep_state(void *ctx, const struct witness_log_state *s)
{
	uint64_t *size = ctx;

	if (strcmp(s->origin, ORIGIN) == 0 && s->cosigned)
		*size = s->size;
	return 0;
}

static void
test_witness_state_survives_reopening(void **state)
{
	struct fx *f = *state;
	struct witness_answer a;
	uint64_t size = 0;

	assert_int_equal(submit(f, f->a, 0, 4, &a), 200);
	witness_answer_clear(&a);
	witness_db_free(f->w);
	assert_int_equal(witness_db_open(f->db, &f->w), 0);
	assert_int_equal(witness_db_foreach_log(f->w, keep_state, &size), 0);
	assert_int_equal(size, 4);
	assert_int_equal(submit(f, f->a, 0, 6, &a), 409);
	assert_memory_equal(a.body, "4\n", 2);
	witness_answer_clear(&a);
}

/* ---- the log's side ------------------------------------------------- */

static void
test_responses_are_read_strictly(void **state)
{
	struct fx *f = *state;
	struct witness_answer a;
	char *note, *text, *line = NULL, *bad;
	uint64_t size;

	(void)state;
	assert_int_equal(witness_response_size("42\n", 3, &size), 0);
	assert_int_equal(size, 42);
	assert_int_equal(witness_response_size("42", 2, &size), ERR_INVAL);
	assert_int_equal(witness_response_size("042\n", 4, &size), ERR_INVAL);
	assert_int_equal(witness_response_size("\n", 1, &size), ERR_INVAL);

	assert_int_equal(submit(f, f->a, 0, 3, &a), 200);
	note = signed_note(f->a, 3, f->log);
	text = strndup(note, strstr(note, "\n\n") + 1 - note);
	/* another witness's line first is skipped */
	assert_true(asprintf(&bad,
	                "\xe2\x80\x94 other.example/w "
	                "AAAAAAAAAAAAAAAAAAAAAAAA\n%s",
	                a.body) > 0);
	assert_int_equal(witness_response_cosig(&f->w_v, text, strlen(text),
	                     bad, strlen(bad), &line, NULL),
	    0);
	free(line);
	free(bad);
	/* a cosignature over another text does not verify */
	text[strlen(text) - 2] ^= 1;
	assert_int_equal(witness_response_cosig(&f->w_v, text, strlen(text),
	                     a.body, a.body_len, &line, NULL),
	    ERR_SIG);
	/* not signature lines */
	assert_int_equal(witness_response_cosig(&f->w_v, text, strlen(text),
	                     "ok\n", 3, &line, NULL),
	    ERR_INVAL);
	witness_answer_clear(&a);
	free(text);
	free(note);
}

static void
test_cosign_attach_replaces_the_same_key(void **state)
{
	struct fx *f = *state;
	struct key *wk;
	char *note = signed_note(f->a, 3, f->log), *l1, *l2, *n1, *n2, *n3;
	const char *text_end;

	seed_key(9, &wk);
	text_end = strstr(note, "\n\n") + 1;
	assert_int_equal(
	    note_cosign(note, (size_t)(text_end - note), "w.test", wk, 1, &l1),
	    0);
	assert_int_equal(
	    note_cosign(note, (size_t)(text_end - note), "w.test", wk, 2, &l2),
	    0);
	assert_int_equal(cosign_attach(note, l1, &n1), 0);
	assert_int_equal(strlen(n1), strlen(note) + strlen(l1) + 1);
	assert_int_equal(cosign_attach(n1, l2, &n2), 0);
	/* the newer cosignature replaced the older, the log's line stays */
	assert_int_equal(strlen(n2), strlen(n1));
	assert_null(strstr(n2, l1));
	assert_non_null(strstr(n2, l2));
	assert_true(strncmp(n2, note, strlen(note)) == 0);
	assert_int_equal(cosign_attach(n2, "not a line", &n3), ERR_INVAL);
	free(n1);
	free(n2);
	free(l1);
	free(l2);
	free(note);
	key_free(wk);
}

static void
test_cosign_ask_over_http_learns_the_witness_size(void **state)
{
	struct fx *f = *state;
	struct http_server_config hc;
	struct witness_server *srv;
	struct trust_witness tw;
	struct merkle_reader r;
	struct witness_answer a;
	char url[64], *note, *line = NULL;
	uint64_t hint = 0;

	/* the witness already cosigned A at 4 */
	assert_int_equal(submit(f, f->a, 0, 4, &a), 200);
	witness_answer_clear(&a);
	http_server_config_default(&hc);
	hc.host = "127.0.0.1";
	hc.port = 0;
	assert_int_equal(witness_server_start(f->w, &hc, &srv), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u",
	    witness_server_port(srv));
	tw.v = f->w_v;
	tw.url = url;
	merkle_mem_reader(f->a, &r);
	/* asked from 0, told 4 (409), asked again with the proof */
	note = signed_note(f->a, 7, f->log);
	assert_int_equal(cosign_ask(&tw, note, &f->log_v, &r, &hint, &line), 0);
	assert_int_equal(hint, 7);
	assert_non_null(strstr(line, "\xe2\x80\x94 " WNAME " "));
	free(line);
	free(note);
	/* history B: refused, the split named */
	merkle_mem_reader(f->b, &r);
	note = signed_note(f->b, 7, f->log);
	assert_int_equal(cosign_ask(&tw, note, &f->log_v, &r, &hint, &line),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "split view"));
	assert_null(line);
	free(note);
	note = signed_note(f->b, 9, f->log);
	assert_int_equal(cosign_ask(&tw, note, &f->log_v, &r, &hint, &line),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "422"));
	free(note);
	/* a smaller checkpoint than the witness holds */
	hint = 0;
	note = signed_note(f->b, 5, f->log);
	assert_int_equal(cosign_ask(&tw, note, &f->log_v, &r, &hint, &line),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "beyond this checkpoint"));
	free(note);
	witness_server_free(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_parses_the_spec_example),
		cmocka_unit_test(test_request_rejects_malformed_bodies),
		cmocka_unit_test_setup_teardown(
		    test_witness_cosigns_a_consistent_sequence, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_witness_409_on_old_size_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_witness_refuses_a_split_view_and_keeps_both_notes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_witness_422_on_a_proof_that_does_not_verify, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_witness_refuses_what_it_cannot_judge, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_witness_state_survives_reopening, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_responses_are_read_strictly, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cosign_attach_replaces_the_same_key, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cosign_ask_over_http_learns_the_witness_size, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
