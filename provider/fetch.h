/*
 * fetch: one HTTP(S) request of a tenant's fetch, under the provider's
 * netpolicy.  libcurl opens every socket through a callback that judges
 * the address it is about to connect to (after DNS, so a name that
 * resolves to loopback is refused; every address tried, so happy
 * eyeballs cannot slip past); redirects are followed here, hop by hop,
 * each new URL checked before it is requested.  Proxies from the
 * environment are ignored (they would hide the address).  The body goes
 * to a file descriptor, capped.  What the remote said stays in the log:
 * the error message is fit for the tenant (fetch_run).
 */
#ifndef LODGE_PROVIDER_FETCH_H
#define LODGE_PROVIDER_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "provider/netpolicy.h"

struct fetch_req {
	const char *method; /* "GET" (default) or "POST" */
	const char *url;
	const char *const *headers; /* "Name: value", NULL-terminated */
	const void *body; /* POST body */
	size_t body_len;
	int max_redirects; /* followed for GET only; 0: none */
	uint64_t max_bytes; /* of the response body; 0: no cap */
	int timeout_ms; /* whole request, redirects included; 0: 300 s */
	int out_fd; /* the body is written here (from its offset) */
};

struct fetch_result {
	long status; /* of the last hop */
	char content_type[128];
	char final_url[2048]; /* after redirects */
	uint64_t bytes; /* written to out_fd */
};

/* Run rq under p.  Returns 0 with *res filled (any HTTP status: the
 * caller judges it), or: ERR_REJECT when the policy refused a URL or an
 * address (the message says which, as the tenant may read it), ERR_LIMIT
 * when the body exceeds max_bytes, ERR_IO for any other failure with a
 * generic message ("<url>: the fetch failed") while the detail (curl's
 * error, the address) is logged.  A redirect that is not followed is
 * returned as is (3xx). */
int fetch_run(const struct netpolicy *p, const struct fetch_req *rq,
    struct fetch_result *res);

#endif
