/*
 * ingest: a stream of envelope lines into the store, a read at a time:
 * read, split into lines, verify them on every core, append them in
 * order, commit, acknowledge (see ingest.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/envelope.h"
#include "common/err.h"
#include "common/util.h"
#include "ledger/ingest.h"

struct ingest {
	struct store *s;
	const char *name;
	const struct ingest_ops *ops;
	void *ctx;
	int threads;
	uint64_t rejected;

	/* bytes read and not yet split into lines: buf[0..len) */
	char *buf;
	size_t len;
	uint64_t lineno; /* lines split so far */

	/* this read's non-empty lines, without their line ends */
	const char **lines;
	size_t *lens;
	uint64_t *linenos;
	size_t nlines, linecap;

	/* their verification: envelope or NULL, code, message */
	struct envelope **envs;
	int *rcs;
	char **msgs;
	size_t envcap;

	/* appended, waiting for the commit */
	struct ingest_ack *acks;
	size_t nacks, ackcap;
};

static void
ingest_clear(struct ingest *in)
{
	free(in->buf);
	free(in->lines);
	free(in->lens);
	free(in->linenos);
	free(in->envs);
	free(in->rcs);
	free(in->msgs);
	free(in->acks);
}

/* Read what fd has after the bytes kept; at its end, terminate an
 * unterminated last line (buf has room for that newline). */
static int
ingest_read(struct ingest *in, int fd, int *eof)
{
	ssize_t r;

	do
		r = read(fd, in->buf + in->len, INGEST_MAX_LINE - in->len);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return err_set(ERR_IO, "%s: %s", in->name, strerror(errno));
	if (r == 0) {
		*eof = 1;
		if (in->len > 0)
			in->buf[in->len++] = '\n';
	}
	in->len += (size_t)r;
	return 0;
}

static int
ingest_grow_lines(struct ingest *in)
{
	size_t nc = in->linecap ? in->linecap * 2 : 1024;
	const char **np = realloc(in->lines, nc * sizeof(*np));
	size_t *nlp = realloc(in->lens, nc * sizeof(*nlp));
	uint64_t *nno = realloc(in->linenos, nc * sizeof(*nno));

	if (np)
		in->lines = np;
	if (nlp)
		in->lens = nlp;
	if (nno)
		in->linenos = nno;
	if (!np || !nlp || !nno)
		return err_set(ERR_NOMEM, "out of memory");
	in->linecap = nc;
	return 0;
}

/* The complete lines in buf, numbered; *used gets the bytes they take. */
static int
ingest_split(struct ingest *in, size_t *used)
{
	size_t off = 0;
	char *nl;
	int rc;

	in->nlines = 0;
	while ((nl = memchr(in->buf + off, '\n', in->len - off)) != NULL) {
		const char *line = in->buf + off;
		size_t ll = (size_t)(nl - line);

		if (in->nlines == in->linecap &&
		    (rc = ingest_grow_lines(in)) < 0)
			return rc;
		in->lineno++;
		off += ll + 1;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			continue;
		in->lines[in->nlines] = line;
		in->lens[in->nlines] = ll;
		in->linenos[in->nlines] = in->lineno;
		in->nlines++;
	}
	*used = off;
	return 0;
}

/* Parse and verify the lines on every core; room for their acks. */
static int
ingest_verify(struct ingest *in)
{
	if (in->nlines > in->envcap) {
		free(in->envs);
		free(in->rcs);
		free(in->msgs);
		in->envs = calloc(in->nlines, sizeof(*in->envs));
		in->rcs = calloc(in->nlines, sizeof(*in->rcs));
		in->msgs = calloc(in->nlines, sizeof(*in->msgs));
		if (!in->envs || !in->rcs || !in->msgs) {
			in->envcap = 0;
			return err_set(ERR_NOMEM, "out of memory");
		}
		in->envcap = in->nlines;
	}
	if (envelope_parse_many(in->lines, in->lens, in->nlines, in->threads,
	        in->envs, in->rcs, in->msgs) < 0)
		return ERR_NOMEM;
	if (in->nacks + in->nlines > in->ackcap) {
		size_t nc = (in->nacks + in->nlines) * 2;
		struct ingest_ack *na = realloc(in->acks, nc * sizeof(*na));

		if (na == NULL)
			return err_set(ERR_NOMEM, "out of memory");
		in->acks = na;
		in->ackcap = nc;
	}
	return 0;
}

/* Append the verified lines in order, rejecting the others. */
static void
ingest_append(struct ingest *in)
{
	for (size_t i = 0; i < in->nlines; i++) {
		struct ingest_ack *a = &in->acks[in->nacks];

		if (in->rcs[i] < 0) {
			in->ops->rejected(in->ctx, in->linenos[i],
			    in->msgs[i] ? in->msgs[i] : "invalid");
			in->rejected++;
		} else if (store_append(in->s, in->envs[i], util_now_ms(),
		               &a->index, &a->time, a->leaf_hash) < 0) {
			in->ops->rejected(in->ctx, in->linenos[i], err_msg());
			in->rejected++;
		} else {
			in->nacks++;
		}
		envelope_free(in->envs[i]);
		free(in->msgs[i]);
		in->envs[i] = NULL;
		in->msgs[i] = NULL;
	}
}

/* Make the appended lines durable, then acknowledge them. */
static int
ingest_commit(struct ingest *in)
{
	int rc;

	if (in->nacks > 0) {
		if ((rc = store_commit(in->s)) < 0)
			return err_prefix(rc, "commit");
		in->ops->committed(in->ctx, in->acks, in->nacks);
		in->nacks = 0;
	}
	store_rollback(in->s); /* ends the empty transaction, if any */
	return 0;
}

/* Keep the unterminated rest of the read for the next one. */
static int
ingest_keep_rest(struct ingest *in, size_t used)
{
	memmove(in->buf, in->buf + used, in->len - used);
	in->len -= used;
	if (in->len == INGEST_MAX_LINE)
		return err_set(ERR_LIMIT,
		    "%s:%" PRIu64 ": line longer than %zu bytes", in->name,
		    in->lineno + 1, (size_t)INGEST_MAX_LINE);
	return 0;
}

int
ingest_fd(struct store *s, int fd, const char *name,
    const struct ingest_ops *ops, void *ctx, uint64_t *nrejected)
{
	struct ingest in = { .s = s, .name = name, .ops = ops, .ctx = ctx };
	size_t used;
	int eof = 0, rc = 0;

	in.threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if ((in.buf = malloc(INGEST_MAX_LINE + 1)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	while (!eof) {
		if ((rc = ingest_read(&in, fd, &eof)) < 0 ||
		    (rc = store_begin(s)) < 0 ||
		    (rc = ingest_split(&in, &used)) < 0 ||
		    (rc = ingest_verify(&in)) < 0)
			goto out;
		ingest_append(&in);
		if ((rc = ingest_commit(&in)) < 0 ||
		    (rc = ingest_keep_rest(&in, used)) < 0)
			goto out;
	}
out:
	*nrejected = in.rejected;
	ingest_clear(&in);
	return rc;
}
