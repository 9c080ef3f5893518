/*
 * Unit tests for ledger/ingest: good lines appended in order and
 * acknowledged once committed, bad ones named by line, line ends, lines
 * split across reads, the line limit and read errors.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/envelope.h"
#include "common/err.h"
#include "common/key.h"
#include "ledger/ingest.h"
#include "ledger/store.h"

#define ORIGIN "test.lodge/ingest"
#define MAXSEEN 64

struct fixture {
	char dir[64];
	char db[128];
	char in[128];
	struct key *user;
	struct store *s;
	/* what the callbacks saw */
	uint64_t rejected[MAXSEEN];
	char why[MAXSEEN][256];
	size_t nrejected;
	uint64_t acked[MAXSEEN];
	size_t nacked, ncommits;
	uint64_t visible; /* store size another reader saw at the last ack */
};

static void
on_rejected(void *ctx, uint64_t lineno, const char *why)
{
	struct fixture *f = ctx;

	assert_true(f->nrejected < MAXSEEN);
	f->rejected[f->nrejected] = lineno;
	snprintf(f->why[f->nrejected], sizeof(f->why[0]), "%s", why);
	f->nrejected++;
}

static void
on_committed(void *ctx, const struct ingest_ack *acks, size_t n)
{
	struct fixture *f = ctx;
	struct store *reader;

	for (size_t i = 0; i < n; i++) {
		assert_true(f->nacked < MAXSEEN);
		f->acked[f->nacked++] = acks[i].index;
	}
	f->ncommits++;
	/* acknowledged means committed: another connection sees it */
	assert_int_equal(store_open(f->db, 1, &reader), 0);
	f->visible = store_size(reader);
	store_free(reader);
}

static const struct ingest_ops ops = { on_rejected, on_committed };

/* A signed envelope line (no newline) whose body is {"n":n}; caller frees. */
static char *
envelope_line(struct fixture *f, int n)
{
	json_t *body = json_pack("{s:i}", "n", n);
	struct envelope *e;
	char nonce[32], *out;
	size_t len;

	snprintf(nonce, sizeof(nonce), "nonce-%d", n);
	assert_int_equal(
	    envelope_sign(f->user, "test.entry", body, nonce, 1000 + n, &e), 0);
	assert_int_equal(envelope_dump(e, &out, &len), 0);
	envelope_free(e);
	json_decref(body);
	return out;
}

static void
write_input(struct fixture *f, const char *text, size_t len)
{
	FILE *fp = fopen(f->in, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static int
ingest_input(struct fixture *f, uint64_t *nrejected)
{
	int fd = open(f->in, O_RDONLY), rc;

	assert_true(fd >= 0);
	rc = ingest_fd(f->s, fd, "in.jsonl", &ops, f, nrejected);
	close(fd);
	return rc;
}

static int
setup(void **state)
{
	static const uint8_t seed[32] = { 7 };
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t pub[32] = { 1 };

	strcpy(f->dir, "/tmp/lodge-ingest-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/log.db", f->dir);
	snprintf(f->in, sizeof(f->in), "%s/in.jsonl", f->dir);
	if (key_from_seed(seed, &f->user) < 0 ||
	    store_create(f->db, ORIGIN, pub, &f->s) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[200];

	store_free(f->s);
	key_free(f->user);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
test_good_lines_go_in_bad_ones_are_named_by_line(void **state)
{
	struct fixture *f = *state;
	char *l0 = envelope_line(f, 0), *l1 = envelope_line(f, 1);
	char *l2 = envelope_line(f, 2), *forged = envelope_line(f, 3);
	char text[4096];
	uint64_t bad;

	/* same signature, another body: the signature no longer fits */
	forged[strstr(forged, "\"n\":3") - forged + 4] = '4';
	/* 1 good, 2 forged, 3 empty, 4 not JSON, 5 good with CRLF, 6 a
	 * lone CR, 7 good without a final newline */
	snprintf(text, sizeof(text), "%s\n%s\n\n{\"not json\n%s\r\n\r\n%s", l0,
	    forged, l1, l2);
	write_input(f, text, strlen(text));
	assert_int_equal(ingest_input(f, &bad), 0);
	assert_int_equal(bad, 2);
	assert_int_equal(f->nrejected, 2);
	assert_int_equal(f->rejected[0], 2);
	if (strstr(f->why[0], "signature") == NULL)
		fail_msg("line 2 rejected as '%s', wanted a bad signature",
		    f->why[0]);
	assert_int_equal(f->rejected[1], 4);
	assert_int_equal(f->nacked, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(f->acked[i], i);
	assert_int_equal(store_size(f->s), 3);
	free(l0);
	free(l1);
	free(l2);
	free(forged);
}

static void
test_acknowledged_lines_are_committed(void **state)
{
	struct fixture *f = *state;
	char *l0 = envelope_line(f, 0), *l1 = envelope_line(f, 1);
	char text[4096];
	uint64_t bad;

	snprintf(text, sizeof(text), "%s\n%s\n", l0, l1);
	write_input(f, text, strlen(text));
	assert_int_equal(ingest_input(f, &bad), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(f->ncommits, 1); /* one read, one group commit */
	assert_int_equal(f->nacked, 2);
	assert_int_equal(f->visible, 2);
	free(l0);
	free(l1);
}

static void
test_empty_input_appends_nothing(void **state)
{
	struct fixture *f = *state;
	uint64_t bad = 99;

	write_input(f, "\n\r\n", 3);
	assert_int_equal(ingest_input(f, &bad), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(f->ncommits, 0);
	assert_int_equal(store_size(f->s), 0);
}

struct writer {
	int fd;
	const char *a, *b; /* written apart, with a pause between */
};

static void *
write_in_two(void *p)
{
	struct writer *w = p;

	assert_int_equal(write(w->fd, w->a, strlen(w->a)),
	    (ssize_t)strlen(w->a));
	usleep(100000);
	assert_int_equal(write(w->fd, w->b, strlen(w->b)),
	    (ssize_t)strlen(w->b));
	close(w->fd);
	return NULL;
}

static void
test_a_line_split_across_reads_is_joined(void **state)
{
	struct fixture *f = *state;
	char *l0 = envelope_line(f, 0), *l1 = envelope_line(f, 1);
	char first[4096], second[4096];
	struct writer w;
	pthread_t th;
	uint64_t bad;
	int p[2];

	/* l0 whole, then l1 cut in the middle of its signature */
	snprintf(first, sizeof(first), "%s\n%.*s", l0, (int)strlen(l1) - 20,
	    l1);
	snprintf(second, sizeof(second), "%s\n", l1 + strlen(l1) - 20);
	assert_int_equal(pipe(p), 0);
	w = (struct writer){ p[1], first, second };
	assert_int_equal(pthread_create(&th, NULL, write_in_two, &w), 0);
	assert_int_equal(ingest_fd(f->s, p[0], "pipe", &ops, f, &bad), 0);
	pthread_join(th, NULL);
	close(p[0]);
	assert_int_equal(bad, 0);
	assert_int_equal(f->nacked, 2);
	assert_int_equal(f->ncommits, 2);
	assert_int_equal(store_size(f->s), 2);
	free(l0);
	free(l1);
}

static void
test_a_line_over_the_limit_is_refused_by_number(void **state)
{
	struct fixture *f = *state;
	char *l0 = envelope_line(f, 0);
	size_t n = strlen(l0) + 1 + INGEST_MAX_LINE + 1;
	char *text = malloc(n);
	uint64_t bad;

	assert_non_null(text);
	memcpy(text, l0, strlen(l0));
	text[strlen(l0)] = '\n';
	memset(text + strlen(l0) + 1, 'x', INGEST_MAX_LINE);
	text[n - 1] = '\n';
	write_input(f, text, n);
	assert_int_equal(ingest_input(f, &bad), ERR_LIMIT);
	if (strstr(err_msg(), "in.jsonl:2: line longer than") == NULL)
		fail_msg("said '%s', wanted line 2 named", err_msg());
	/* what came before it was acknowledged and stays */
	assert_int_equal(f->nacked, 1);
	assert_int_equal(store_size(f->s), 1);
	free(text);
	free(l0);
}

static void
test_a_read_error_names_the_input(void **state)
{
	struct fixture *f = *state;
	uint64_t bad;
	int fd = open(f->dir, O_RDONLY); /* read(2) on it: EISDIR */

	assert_true(fd >= 0);
	assert_int_equal(ingest_fd(f->s, fd, "somewhere", &ops, f, &bad),
	    ERR_IO);
	close(fd);
	if (strncmp(err_msg(), "somewhere: ", 11) != 0)
		fail_msg("said '%s', wanted the input named", err_msg());
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_good_lines_go_in_bad_ones_are_named_by_line),
		T(test_acknowledged_lines_are_committed),
		T(test_empty_input_appends_nothing),
		T(test_a_line_split_across_reads_is_joined),
		T(test_a_line_over_the_limit_is_refused_by_number),
		T(test_a_read_error_names_the_input),
	};
	return cmocka_run_group_tests_name("ingest", tests, NULL, NULL);
}
