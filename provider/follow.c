/*
 * follow: Server-Sent Events from the market, parsed incrementally (lines
 * end in LF, CRLF or CR; "data:" lines of one event are joined with LF; a
 * blank line dispatches; comments and other fields are ignored).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/http.h"
#include "provider/follow.h"

void
follow_parser_init(struct follow_parser *p)
{
	memset(p, 0, sizeof(*p));
}

void
follow_parser_clear(struct follow_parser *p)
{
	free(p->buf);
	free(p->data);
	memset(p, 0, sizeof(*p));
}

static int
append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	char *nb;
	size_t nc;

	if (*len + n + 1 > FOLLOW_LINE_MAX)
		return err_set(ERR_LIMIT,
		    "event stream: an event is larger "
		    "than %u bytes",
		    FOLLOW_LINE_MAX);
	if (*len + n + 1 > *cap) {
		nc = *cap ? *cap : 4096;
		while (nc < *len + n + 1)
			nc *= 2;
		if ((nb = realloc(*buf, nc)) == NULL)
			return err_set(ERR_NOMEM, "out of memory");
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static int
dispatch(struct follow_parser *p, follow_leaf_fn fn, void *ctx)
{
	json_t *leaf = NULL;
	int rc;

	if (p->dlen == 0)
		return 0;
	rc = cjson_parse(p->data, p->dlen, &leaf);
	p->dlen = 0;
	if (rc < 0)
		return err_prefix(ERR_INVAL, "event stream: data");
	rc = fn(ctx, leaf);
	json_decref(leaf);
	return rc < 0 ? rc : 0;
}

static int
line(struct follow_parser *p, const char *s, size_t n, follow_leaf_fn fn,
    void *ctx)
{
	int rc;

	if (n == 0)
		return dispatch(p, fn, ctx);
	if (n < 5 || memcmp(s, "data:", 5) != 0)
		return 0; /* comment, id:, event:, retry: */
	s += 5;
	n -= 5;
	if (n > 0 && *s == ' ') {
		s++;
		n--;
	}
	if (p->dlen > 0 &&
	    (rc = append(&p->data, &p->dlen, &p->dcap, "\n", 1)) < 0)
		return rc;
	return append(&p->data, &p->dlen, &p->dcap, s, n);
}

int
follow_parser_feed(struct follow_parser *p, const char *data, size_t len,
    follow_leaf_fn fn, void *ctx)
{
	size_t i, start;
	int rc;

	if ((rc = append(&p->buf, &p->len, &p->cap, data, len)) < 0)
		return rc;
	start = 0;
	for (i = 0; i < p->len; i++) {
		if (p->buf[i] != '\n' && p->buf[i] != '\r')
			continue;
		/* A CR at the very end may be half of a CRLF. */
		if (p->buf[i] == '\r' && i + 1 == p->len)
			break;
		if ((rc = line(p, p->buf + start, i - start, fn, ctx)) < 0) {
			memmove(p->buf, p->buf + i + 1, p->len - i - 1);
			p->len -= i + 1;
			return rc;
		}
		if (p->buf[i] == '\r' && p->buf[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	memmove(p->buf, p->buf + start, p->len - start);
	p->len -= start;
	return 0;
}

struct follow_ctx {
	struct follow_parser parser;
	follow_leaf_fn fn;
	void *ctx;
	atomic_int *stop;
	int got_event, failed;
};

static int
count_leaf(void *ctx, const json_t *leaf)
{
	struct follow_ctx *f = ctx;
	int rc = f->fn(f->ctx, leaf);

	if (rc == 0)
		f->got_event = 1;
	return rc;
}

static int
on_chunk(void *ctx, const char *data, size_t len)
{
	struct follow_ctx *f = ctx;

	if (atomic_load(f->stop))
		return 1;
	if (follow_parser_feed(&f->parser, data, len, count_leaf, f) < 0) {
		f->failed = 1;
		return 1;
	}
	return atomic_load(f->stop) ? 1 : 0;
}

static void
sleep_ms(long ms, atomic_int *stop)
{
	struct timespec ts = { 0, 50 * 1000000L };

	for (; ms > 0 && !atomic_load(stop); ms -= 50)
		nanosleep(&ts, NULL);
}

void
follow_run(const char *market, uint64_t (*next_fn)(void *ctx),
    follow_leaf_fn fn, void *ctx, atomic_int *stop)
{
	static const char *const hdrs[] = { "Accept: text/event-stream", NULL };
	struct follow_ctx f;
	char url[1024];
	long backoff = 200;

	while (!atomic_load(stop)) {
		memset(&f, 0, sizeof(f));
		follow_parser_init(&f.parser);
		f.fn = fn;
		f.ctx = ctx;
		f.stop = stop;
		snprintf(url, sizeof(url), "%s/v1/events?since=%llu", market,
		    (unsigned long long)next_fn(ctx));
		(void)http_follow(url, hdrs, 5000, on_chunk, &f, stop);
		follow_parser_clear(&f.parser);
		if (atomic_load(stop))
			break;
		if (f.got_event && !f.failed)
			backoff = 200;
		sleep_ms(backoff, stop);
		if (backoff < 10000)
			backoff *= 2;
	}
}
