/*
 * test_trust: a client's policy (parsing, refusals), checkpoint
 * verification with a quorum of witness cosignatures, and the memory of
 * the last verified checkpoint: first use, consistent growth, an older
 * checkpoint, and the alarm with both notes on a split view (same size
 * with another root, or growth that is not an extension), and following
 * a stand-in market over HTTP.
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

#include <jansson.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/util.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/trust.h"

#define ORIGIN "test.lodge/log"
#define PREFIX 3

struct fx {
	char dir[64], mem[128];
	struct key *log, *w1, *w2, *other;
	char *log_vkey, *w1_vkey, *w2_vkey;
	struct merkle_mem *a, *b;
	struct trust_policy p;
};

static void
seed_key(uint8_t fill, struct key **k)
{
	uint8_t seed[KEY_SEED_LEN];

	memset(seed, fill, sizeof(seed));
	assert_int_equal(key_from_seed(seed, k), 0);
}

static char *
vkey_of(const struct key *k, const char *name, uint8_t type)
{
	uint8_t pub[KEY_PUB_LEN];
	char *v;

	key_public(k, pub);
	assert_int_equal(note_vkey_format_type(name, type, pub, &v), 0);
	return v;
}

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

/* m's checkpoint at size signed by the log, cosigned by w (may be NULL)
 * as name. */
static char *
note_at(struct fx *f, struct merkle_mem *m, uint64_t size, const struct key *w,
    const char *name)
{
	struct merkle_reader r;
	uint8_t root[32];
	char *body, *note, *line, *both;

	merkle_mem_reader(m, &r);
	assert_int_equal(merkle_root(size, &r, root), 0);
	assert_int_equal(checkpoint_format(ORIGIN, size, root, &body), 0);
	assert_int_equal(note_sign(body, strlen(body), ORIGIN, f->log, &note),
	    0);
	if (w != NULL) {
		assert_int_equal(
		    note_cosign(body, strlen(body), name, w, 1700000000, &line),
		    0);
		/* a note ends in its last signature line and a newline */
		assert_true(asprintf(&both, "%s%s\n", note, line) > 0);
		free(line);
		free(note);
		note = both;
	}
	free(body);
	return note;
}

static size_t
proof_of(struct merkle_mem *m, uint64_t from, uint64_t to, uint8_t proof[][32])
{
	struct merkle_reader r;
	size_t n = 0;

	merkle_mem_reader(m, &r);
	assert_int_equal(merkle_consistency_proof(from, to, &r, proof, &n), 0);
	return n;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *text;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/lodge-trust-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->mem, sizeof(f->mem), "%s/checkpoint", f->dir);
	seed_key(1, &f->log);
	seed_key(2, &f->w1);
	seed_key(3, &f->w2);
	seed_key(4, &f->other);
	f->log_vkey = vkey_of(f->log, ORIGIN, NOTE_SIG_ED25519);
	f->w1_vkey = vkey_of(f->w1, "w1.test", NOTE_SIG_COSIGNATURE);
	f->w2_vkey = vkey_of(f->w2, "w2.test", NOTE_SIG_COSIGNATURE);
	assert_int_equal(merkle_mem_new(&f->a), 0);
	assert_int_equal(merkle_mem_new(&f->b), 0);
	grow(f->a, 'a', 9);
	grow(f->b, 'b', 9);
	assert_true(asprintf(&text,
	                "# the test log and its witnesses\n"
	                "log %s\n"
	                "witness %s http://127.0.0.1:1/\n"
	                "witness %s   # no URL: a client's policy\n"
	                "quorum 1\n",
	                f->log_vkey, f->w1_vkey, f->w2_vkey) > 0);
	trust_policy_init(&f->p);
	assert_int_equal(
	    trust_policy_parse(&f->p, text, strlen(text), "policy"), 0);
	free(text);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	trust_policy_clear(&f->p);
	merkle_mem_free(f->a);
	merkle_mem_free(f->b);
	key_free(f->log);
	key_free(f->w1);
	key_free(f->w2);
	key_free(f->other);
	free(f->log_vkey);
	free(f->w1_vkey);
	free(f->w2_vkey);
	util_rm_tree(f->dir);
	free(f);
	return 0;
}

static void
test_policy_parses_and_names_bad_lines(void **state)
{
	struct fx *f = *state;
	struct trust_policy p;
	char text[1024];
	static const char *const bad_fmt[] = {
		"frob %s\n",
		"log %s\nlog %s\n",
		"witness %s\nquorum 2\n",
		"witness %s ftp://x\n",
		"witness %s\nwitness %s\n",
		"quorum x%s\n",
	};
	static const char *const want[] = { "policy:1", "second log line",
		"quorum 2 but only 1", "not an http", "twice", "quorum" };

	assert_true(f->p.have_log);
	assert_int_equal(f->p.nw, 2);
	assert_int_equal(f->p.quorum, 1);
	assert_string_equal(f->p.w[0].url, "http://127.0.0.1:1");
	assert_null(f->p.w[1].url);
	for (size_t i = 0; i < sizeof(bad_fmt) / sizeof(bad_fmt[0]); i++) {
		const char *k = i == 1 ? f->log_vkey : f->w1_vkey;

		snprintf(text, sizeof(text), bad_fmt[i], k, k);
		trust_policy_init(&p);
		if (trust_policy_parse(&p, text, strlen(text), "policy") >= 0)
			fail_msg("policy %zu was accepted", i);
		if (strstr(err_msg(), want[i]) == NULL)
			fail_msg("policy %zu: '%s' lacks '%s'", i, err_msg(),
			    want[i]);
		trust_policy_clear(&p);
	}
	/* keys of the wrong type in each place */
	snprintf(text, sizeof(text), "log %s\n", f->w1_vkey);
	trust_policy_init(&p);
	assert_int_equal(trust_policy_parse(&p, text, strlen(text), "p"),
	    ERR_INVAL);
	trust_policy_clear(&p);
	snprintf(text, sizeof(text), "witness %s\n", f->log_vkey);
	assert_int_equal(trust_policy_parse(&p, text, strlen(text), "p"),
	    ERR_INVAL);
	trust_policy_clear(&p);
	/* no quorum line: every witness */
	snprintf(text, sizeof(text), "witness %s\nwitness %s\n", f->w1_vkey,
	    f->w2_vkey);
	assert_int_equal(trust_policy_parse(&p, text, strlen(text), "p"), 0);
	assert_int_equal(p.quorum, 2);
	trust_policy_clear(&p);
}

static void
test_verify_counts_the_quorum(void **state)
{
	struct fx *f = *state;
	struct checkpoint cp;
	char *note = note_at(f, f->a, 5, f->w1, "w1.test"), *bad;
	size_t n = 0;

	assert_int_equal(trust_verify(&f->p, note, strlen(note), &cp, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cp.size, 5);
	checkpoint_clear(&cp);
	f->p.quorum = 2;
	assert_int_equal(trust_verify(&f->p, note, strlen(note), NULL, &n),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "1 of the 2"));
	assert_non_null(strstr(err_msg(), "w2.test"));
	f->p.quorum = 1;
	/* a cosignature by a known witness that does not verify */
	bad = strdup(note);
	bad[strlen(bad) - 5] = bad[strlen(bad) - 5] == 'A' ? 'B' : 'A';
	assert_int_equal(trust_verify(&f->p, bad, strlen(bad), NULL, &n),
	    ERR_SIG);
	free(bad);
	free(note);
	/* a cosignature by an unknown witness does not count */
	note = note_at(f, f->a, 5, f->other, "w3.test");
	assert_int_equal(trust_verify(&f->p, note, strlen(note), NULL, &n),
	    ERR_REJECT);
	free(note);
	/* the log's signature is required */
	f->p.quorum = 0;
	note = note_at(f, f->a, 5, NULL, NULL);
	note[strstr(note, "\n\n") - note - 2] ^= 1;
	assert_int_equal(trust_verify(&f->p, note, strlen(note), NULL, &n),
	    ERR_SIG);
	free(note);
}

static void
test_memory_first_use_then_consistent_growth(void **state)
{
	struct fx *f = *state;
	uint8_t proof[MERKLE_MAX_PROOF][32];
	struct trust_memory *m;
	char *n3 = note_at(f, f->a, 3, f->w1, "w1.test");
	char *n7 = note_at(f, f->a, 7, f->w1, "w1.test"), *file;
	uint64_t from, to;
	size_t len, np;
	int adv;

	assert_int_equal(trust_memory_open(f->mem, &f->p, &m), 0);
	assert_null(trust_memory_note(m));
	assert_int_equal(trust_proof_range(m, 3, &from, &to), 0);
	assert_int_equal(trust_update(m, n3, strlen(n3), NULL, 0, &adv), 0);
	assert_int_equal(adv, 1);
	assert_int_equal(util_read_file(f->mem, 1 << 16, &file, &len), 0);
	assert_string_equal(file, n3);
	free(file);
	assert_int_equal(trust_proof_range(m, 7, &from, &to), 1);
	assert_int_equal(from, 3);
	assert_int_equal(to, 7);
	np = proof_of(f->a, 3, 7, proof);
	/* a wrong proof of the right tree is an alarm too: no consistent
	 * view is shown */
	proof[0][0] ^= 1;
	assert_int_equal(trust_update(m, n7, strlen(n7), proof, np, &adv),
	    ERR_ALARM);
	proof[0][0] ^= 1;
	assert_int_equal(trust_update(m, n7, strlen(n7), proof, np, &adv), 0);
	assert_int_equal(adv, 1);
	trust_memory_free(m);
	assert_int_equal(trust_memory_open(f->mem, &f->p, &m), 0);
	assert_int_equal(trust_memory_checkpoint(m)->size, 7);
	/* the same checkpoint again: fine, not advanced */
	assert_int_equal(trust_update(m, n7, strlen(n7), NULL, 0, &adv), 0);
	assert_int_equal(adv, 0);
	trust_memory_free(m);
	free(n3);
	free(n7);
}

static void
test_memory_alarm_on_a_split_view_keeps_both_notes(void **state)
{
	struct fx *f = *state;
	uint8_t proof[MERKLE_MAX_PROOF][32];
	struct trust_memory *m;
	char *na = note_at(f, f->a, 5, f->w1, "w1.test");
	char *nb = note_at(f, f->b, 5, f->w1, "w1.test");
	char *nb8 = note_at(f, f->b, 8, f->w1, "w1.test"), *ev, evpath[160];
	size_t len, np;

	assert_int_equal(trust_memory_open(f->mem, &f->p, &m), 0);
	assert_int_equal(trust_update(m, na, strlen(na), NULL, 0, NULL), 0);
	/* same size, another root */
	assert_int_equal(trust_update(m, nb, strlen(nb), NULL, 0, NULL),
	    ERR_ALARM);
	assert_non_null(strstr(err_msg(), "ALARM: split view"));
	assert_non_null(strstr(err_msg(), na));
	assert_non_null(strstr(err_msg(), nb));
	snprintf(evpath, sizeof(evpath), "%s.evidence", f->mem);
	assert_int_equal(util_read_file(evpath, 1 << 16, &ev, &len), 0);
	assert_non_null(strstr(ev, na));
	assert_non_null(strstr(ev, nb));
	free(ev);
	/* history B grown: its own proof does not extend A */
	np = proof_of(f->b, 5, 8, proof);
	assert_int_equal(trust_update(m, nb8, strlen(nb8), proof, np, NULL),
	    ERR_ALARM);
	assert_non_null(strstr(err_msg(), "does not extend"));
	/* the memory is A's still, in memory and on disk */
	assert_string_equal(trust_memory_note(m), na);
	trust_memory_free(m);
	assert_int_equal(trust_memory_open(f->mem, &f->p, &m), 0);
	assert_string_equal(trust_memory_note(m), na);
	trust_memory_free(m);
	free(na);
	free(nb);
	free(nb8);
}

static void
test_memory_older_checkpoint_must_be_a_prefix(void **state)
{
	struct fx *f = *state;
	uint8_t proof[MERKLE_MAX_PROOF][32];
	struct trust_memory *m;
	char *n7 = note_at(f, f->a, 7, f->w1, "w1.test");
	char *n4 = note_at(f, f->a, 4, f->w1, "w1.test");
	char *b4 = note_at(f, f->b, 4, f->w1, "w1.test");
	uint64_t from, to;
	size_t np;
	int adv = -1;

	assert_int_equal(trust_memory_open(f->mem, &f->p, &m), 0);
	assert_int_equal(trust_update(m, n7, strlen(n7), NULL, 0, NULL), 0);
	assert_int_equal(trust_proof_range(m, 4, &from, &to), 1);
	assert_int_equal(from, 4);
	assert_int_equal(to, 7);
	np = proof_of(f->a, 4, 7, proof);
	assert_int_equal(trust_update(m, n4, strlen(n4), proof, np, &adv), 0);
	assert_int_equal(adv, 0);
	assert_int_equal(trust_memory_checkpoint(m)->size, 7);
	/* B's 4 is not a prefix of A's 7 */
	assert_int_equal(trust_update(m, b4, strlen(b4), proof, np, NULL),
	    ERR_ALARM);
	trust_memory_free(m);
	free(n7);
	free(n4);
	free(b4);
}

static void
test_memory_refuses_unverified_checkpoints_without_alarm(void **state)
{
	struct fx *f = *state;
	struct trust_memory *m;
	char *n3 = note_at(f, f->a, 3, f->w1, "w1.test");
	char *bare = note_at(f, f->b, 3, NULL, NULL);
	char *n5;

	assert_int_equal(trust_memory_open(f->mem, &f->p, &m), 0);
	assert_int_equal(trust_update(m, n3, strlen(n3), NULL, 0, NULL), 0);
	/* no cosignature: refused for the quorum, not an alarm */
	assert_int_equal(trust_update(m, bare, strlen(bare), NULL, 0, NULL),
	    ERR_REJECT);
	/* another key's checkpoint of the same origin */
	key_free(f->log);
	seed_key(4, &f->log);
	n5 = note_at(f, f->a, 5, f->w1, "w1.test");
	assert_int_equal(trust_update(m, n5, strlen(n5), NULL, 0, NULL),
	    ERR_SIG);
	assert_string_equal(trust_memory_note(m), n3);
	trust_memory_free(m);
	/* a memory file edited by hand is refused when opened */
	assert_int_equal(util_write_file(f->mem, n5, strlen(n5), 0644), 0);
	assert_int_equal(trust_memory_open(f->mem, &f->p, &m), ERR_SIG);
	assert_non_null(strstr(err_msg(), "remembered checkpoint"));
	free(n3);
	free(n5);
	free(bare);
}

/* ---- a stand-in market serving a tree's checkpoint and proofs ------ */

struct market {
	struct fx *f;
	struct merkle_mem *m;
	uint64_t size;
	int proofs; /* consistency proofs served */
};

static void
serve(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct market *mk = ctx;
	uint8_t proof[MERKLE_MAX_PROOF][32];
	struct merkle_reader r;
	const char *o = http_query(req, "old"), *n = http_query(req, "new");
	uint64_t a, b;
	size_t np;
	char *body;
	json_t *j;

	if (strcmp(req->path, "/v1/ledger/checkpoint") == 0) {
		http_respond(resp, 200,
		    note_at(mk->f, mk->m, mk->size, mk->f->w1, "w1.test"));
		resp->content_type = "text/plain; charset=utf-8";
		return;
	}
	if (strcmp(req->path, "/v1/ledger/proof/consistency") != 0 || !o ||
	    !n || util_parse_u64(o, "old", &a) < 0 ||
	    util_parse_u64(n, "new", &b) < 0) {
		http_respond_error(resp, 404, "no");
		return;
	}
	merkle_mem_reader(mk->m, &r);
	if (merkle_consistency_proof(a, b, &r, proof, &np) < 0) {
		http_respond_error(resp, 400, "%s", err_msg());
		return;
	}
	mk->proofs++;
	/* the market's form (the roots left out: the client has them) */
	j = json_pack("{s:I,s:I,s:o}", "old", (json_int_t)a, "new",
	    (json_int_t)b, "proof", cjson_hashes_b64(proof, np));
	assert_int_equal(cjson_dump(j, &body, NULL), 0);
	json_decref(j);
	http_respond(resp, 200, body);
}

static void
test_follow_a_market_over_http(void **state)
{
	struct fx *f = *state;
	struct market mk = { f, f->a, 3, 0 };
	struct http_server_config hc;
	struct http_server *srv;
	struct trust_memory *m;
	char url[64];
	uint64_t size = 0;
	int adv = 0;

	http_server_config_default(&hc);
	hc.host = "127.0.0.1";
	hc.port = 0;
	assert_int_equal(http_server_start(&hc, serve, &mk, &srv), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u",
	    http_server_port(srv));
	assert_int_equal(trust_memory_open(f->mem, &f->p, &m), 0);
	assert_int_equal(trust_follow_market(m, url, &adv, &size), 0);
	assert_int_equal(adv, 1);
	assert_int_equal(size, 3);
	assert_int_equal(mk.proofs, 0); /* first use needs none */
	mk.size = 8;
	assert_int_equal(trust_follow_market(m, url, &adv, &size), 0);
	assert_int_equal(adv, 1);
	assert_int_equal(mk.proofs, 1);
	assert_int_equal(trust_memory_checkpoint(m)->size, 8);
	/* the market now shows the other history */
	mk.m = f->b;
	mk.size = 9;
	assert_int_equal(trust_follow_market(m, url, &adv, &size), ERR_ALARM);
	assert_non_null(strstr(err_msg(), "ALARM: split view"));
	assert_int_equal(trust_memory_checkpoint(m)->size, 8);
	/* and an unreachable one is an ordinary error */
	assert_int_equal(
	    trust_follow_market(m, "http://127.0.0.1:1", &adv, &size), ERR_IO);
	trust_memory_free(m);
	http_server_free(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_policy_parses_and_names_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_counts_the_quorum,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_memory_first_use_then_consistent_growth, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_memory_alarm_on_a_split_view_keeps_both_notes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_memory_older_checkpoint_must_be_a_prefix, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_memory_refuses_unverified_checkpoints_without_alarm,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow_a_market_over_http,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
