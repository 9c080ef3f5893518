/*
 * exec: a command in a running replica of the tenant's lease, with its
 * output as it comes and the tenant's input sent on (`tenant exec`,
 * `tenant shell`; the provider's side is provider/exec.h).  A session
 * is three signed requests: its start, its output (a stream of frames,
 * last the exit status) and each piece of input.
 */
#ifndef LODGE_TENANT_EXEC_H
#define LODGE_TENANT_EXEC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "tenant/client.h"

struct tenant_exec_opts {
	const char *service; /* NULL: the first of the provider's status */
	int replica; /* -1: the first running one */
	const char *const *argv;
	bool tty; /* a terminal at the provider (rows x cols, term) */
	int rows, cols;
	const char *term; /* $TERM; NULL: xterm */
	int in_fd, out_fd, err_fd; /* the local ends; in_fd -1: none */
	/* Set by the caller's signal handlers, read and reset here (may be
	 * NULL): the terminal's new size (*size gives it), a signal to
	 * forward (SIGINT, ...; without a terminal). */
	volatile sig_atomic_t *winch, *signal;
	int (*size)(int *rows, int *cols);
};

/* Run o->argv in the lease of id (a lease or order id): *exit_code gets
 * its exit status (128+N when killed by signal N).  Errors: the client's;
 * ERR_REJECT with the provider's reason when it refuses (another
 * tenant's lease, a closed lease, no such service); ERR_IO when the
 * stream breaks before the exit status. */
int tenant_exec(struct tenant_client *c, const char *id,
    const struct tenant_exec_opts *o, int *exit_code);

/* Frames of the provider's output stream (provider/exec.h), fed in
 * pieces as they come: each complete frame goes to out ('o') or err
 * ('e'); 'x' sets *exit_code and returns 1 (the end); 0 otherwise, -1
 * for a malformed stream.  buf/len keep a partial frame between calls
 * (the caller frees buf). */
int tenant_exec_frames(char **buf, size_t *len, const char *data, size_t n,
    int out, int err, int *exit_code);

#endif
