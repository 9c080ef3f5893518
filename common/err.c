/*
 * err: per-thread last-error message (see err.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static _Thread_local char err_buf[ERR_MSG_SIZE];

int
err_setv(int code, const char *fmt, va_list ap)
{
	char msg[ERR_MSG_SIZE];

	/* formatted apart first: an argument may be err_msg() itself */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	memcpy(err_buf, msg, strlen(msg) + 1);
	return code < 0 ? code : ERR_INVAL;
}

int
err_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = err_setv(code, fmt, ap);
	va_end(ap);
	return code;
}

int
err_prefix(int code, const char *fmt, ...)
{
	char prefix[ERR_MSG_SIZE / 2], joined[ERR_MSG_SIZE * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(joined, sizeof(joined), "%s: %s", prefix,
	    err_buf[0] != '\0' ? err_buf : err_name(code));
	joined[sizeof(err_buf) - 1] = '\0';
	memcpy(err_buf, joined, sizeof(err_buf));
	return code;
}

const char *
err_msg(void)
{
	return err_buf;
}

void
err_clear(void)
{
	err_buf[0] = '\0';
}

void
err_abort(const char *fmt, ...)
{
	char msg[ERR_MSG_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one write, not interleaved with other threads' output */
	fprintf(stderr, "%s: broken invariant: %s\n",
	    program_invocation_short_name, msg);
	abort();
}

void
err_save(struct err_saved *s)
{
	memcpy(s->msg, err_buf, sizeof(s->msg));
}

void
err_restore(const struct err_saved *s)
{
	memcpy(err_buf, s->msg, sizeof(err_buf));
}

const char *
err_name(int code)
{
	switch (code) {
	case ERR_OK:
		return "ok";
	case ERR_INVAL:
		return "invalid input";
	case ERR_NOMEM:
		return "out of memory";
	case ERR_IO:
		return "I/O error";
	case ERR_SIG:
		return "bad signature";
	case ERR_NOTFOUND:
		return "not found";
	case ERR_CONFLICT:
		return "conflict";
	case ERR_RANGE:
		return "out of range";
	case ERR_REJECT:
		return "rejected";
	case ERR_CORRUPT:
		return "corrupt data";
	case ERR_LIMIT:
		return "limit exceeded";
	case ERR_ALARM:
		return "alarm";
	}
	return "error";
}
