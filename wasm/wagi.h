/*
 * wasm_wagi: HTTP functions in WebAssembly following WAGI (deislabs/wagi,
 * CGI 1.1 / RFC 3875 over WASI): the request becomes CGI variables in the
 * environment and the body on stdin; the module's stdout is a CGI response
 * (Status and other headers, a blank line, the body).  One fresh instance
 * per request.
 */
#ifndef LODGE_PROVIDER_WASM_WAGI_H
#define LODGE_PROVIDER_WASM_WAGI_H

#include <stddef.h>
#include <stdint.h>

#include "wasm/run.h"

struct wasm_wagi_header {
	const char *name, *value;
};

/* A request; everything borrowed for the duration of the call. */
struct wasm_wagi_request {
	const char *method; /* "GET" */
	const char *path; /* PATH_INFO, e.g. "/hello" */
	const char *query; /* QUERY_STRING without '?', or NULL */
	const char *script_name; /* SCRIPT_NAME (route prefix), or NULL */
	const char *server_name; /* or NULL: "localhost" */
	const char *server_port; /* or NULL: "80" */
	const char *remote_addr; /* or NULL: "127.0.0.1" */
	const struct wasm_wagi_header *headers;
	size_t nheaders;
	const uint8_t *body;
	size_t body_len;
	const char *const *env; /* lease env "K=V", NULL-terminated, or NULL */
};

/* A response; owned by the caller, wasm_wagi_response_free. */
struct wasm_wagi_response {
	int status;
	struct wasm_wagi_header *headers; /* name/value point into storage */
	size_t nheaders;
	const uint8_t *body; /* into storage */
	size_t body_len;
	char *storage;
	int trap; /* enum wasm_abi_trap, 0 none */
};

#define WASM_WAGI_MAX_OUTPUT (16u << 20)

/* Run one request through a fresh instance of p (which must export
 * _start) in this thread.  Always fills *resp: a module that traps,
 * exits non-zero or writes a malformed response gives 500 (fuel
 * exhausted gives 503) with a one-line body.  u (may be NULL) gets the
 * request's usage.  Returns 0, or < 0 for an internal error (ERR_NOMEM,
 * ERR_IO).  wasm_wagi_run + wasm_wagi_respond. */
int wasm_wagi_invoke(const struct wasm_program *p,
    const struct wasm_wagi_request *req, const struct wasm_run_limits *l,
    struct wasm_wagi_response *resp, struct wasm_usage *u);

/* The half that runs the module (in a worker): the module's stdout into
 * *out (zeroed by the caller; free it with wasm_buf_free), its stderr to
 * stderr_fd (-1: dropped), data_dir (or NULL) preopened as /data.
 * Returns 0 with *oc filled (traps included), or < 0. */
int wasm_wagi_run(const struct wasm_program *p,
    const struct wasm_wagi_request *req, const struct wasm_run_limits *l,
    const char *data_dir, int stderr_fd, struct wasm_buf *out,
    struct wasm_outcome *oc, struct wasm_usage *u);

/* The half that answers (in the gateway): *oc and the module's stdout
 * into *resp: 500 for a trap or a non-zero exit or malformed output,
 * 503 out of fuel, 504 past the deadline (oc->timed_out).  0 or
 * ERR_NOMEM. */
int wasm_wagi_respond(const struct wasm_outcome *oc, const uint8_t *out,
    size_t len, struct wasm_wagi_response *resp);

void wasm_wagi_response_free(struct wasm_wagi_response *r);

/* Parse CGI output (exposed for tests): headers, "Status: NNN ...",
 * "Location" implying 302, blank line, body.  out->storage takes a copy. */
int wasm_wagi_parse(const uint8_t *out, size_t len,
    struct wasm_wagi_response *resp);

#endif
