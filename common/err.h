/*
 * err: the one error convention of Lodge.  Functions return 0 or a negative
 * ERR_* code and record a message naming the input, the position and what
 * was expected; the caller prints err_msg().  Messages are per thread.
 */
#ifndef LODGE_ERR_H
#define LODGE_ERR_H

#include <stdarg.h>

enum {
	ERR_OK = 0,
	ERR_INVAL = -1, /* malformed input */
	ERR_NOMEM = -2, /* allocation failed */
	ERR_IO = -3, /* system call or file failed */
	ERR_SIG = -4, /* signature did not verify */
	ERR_NOTFOUND = -5, /* no such thing */
	ERR_CONFLICT = -6, /* already exists, replayed nonce */
	ERR_RANGE = -7, /* number out of range, overflow */
	ERR_REJECT = -8, /* well-formed but refused by the rules */
	ERR_CORRUPT = -9, /* stored data fails its own checks */
	ERR_LIMIT = -10, /* a size or count limit was hit */
	ERR_ALARM = -11, /* evidence of misbehaviour (a log's split view):
			  * stop, the message holds the evidence */
};

/* Record a message for the current thread and return code (always < 0);
 * the arguments may include err_msg() (the cause, quoted).
 * Messages are cut at ERR_MSG_SIZE - 1 bytes (room for an alarm's two
 * signed notes). */
#define ERR_MSG_SIZE 4096

int err_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int err_setv(int code, const char *fmt, va_list ap);

/* Prepend "prefix: " to the current message; returns code unchanged. */
int err_prefix(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The message of the last error on this thread ("" when none). */
const char *err_msg(void);

/* A short name for a code ("invalid input", "bad signature", ...). */
const char *err_name(int code);

void err_clear(void);

/* A broken invariant, where there is no error path or going on would be
 * wrong: print "<program>: broken invariant: <message>" on stderr and
 * abort().  The one place a library prints (STYLE.md, "Errors"). */
void err_abort(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

/* This thread's error state, put aside while cleanup runs (libgit2's
 * git_error_save / git_error_restore).  Unwinding a failure calls code
 * that may set, prefix or clear the message (a stop that times out, a
 * counter that does not parse); around it:
 *	struct err_saved s;
 *	err_save(&s);
 *	sandbox_free(sb);
 *	err_restore(&s);
 * so the caller reads the failure, not what the cleanup met.  A _free
 * function does this itself: freeing never touches the error state. */
struct err_saved {
	char msg[ERR_MSG_SIZE];
};

void err_save(struct err_saved *s);
void err_restore(const struct err_saved *s);

#endif
