/*
 * wasm_serve: the sandbox's side of a wasm HTTP function (`provider wasm
 * serve`).  A supervisor receives one socket per worker over the control
 * channel (wasm/wire.h) and forks a worker for each; when a worker dies,
 * or is killed on the gateway's request (its deadline), the supervisor
 * tells the gateway with a DIED frame and closes that socket, and the
 * gateway hands over a new one for the slot.  A worker answers requests
 * on its socket one at a time, each in a fresh instance of the module.
 */
#ifndef LODGE_PROVIDER_WASM_SERVE_H
#define LODGE_PROVIDER_WASM_SERVE_H

#include "wasm/run.h"

struct wasm_serve_opts {
	const char *data_dir; /* preopened as /data, or NULL */
	const char *const *env; /* lease env "K=V" for every request */
	int stderr_fd; /* the modules' stderr; -1 dropped */
};

/* Serve until the control socket ctl closes (or SIGTERM): then kill the
 * workers and return 0.  < 0 when the supervisor cannot go on (its
 * message names the step); ERR_INVAL when ctl is not a SOCK_SEQPACKET
 * socket, ERR_NOTFOUND when p has no _start.  p is loaded before:
 * workers share it. */
int wasm_serve_run(int ctl, const struct wasm_program *p,
    const struct wasm_serve_opts *o);

#endif
