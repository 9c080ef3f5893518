/*
 * githttp: git's smart HTTP protocol (gitprotocol-http(5), stateless RPC)
 * as a libgit2 subtransport whose requests go through provider/fetch.h,
 * so that every connection of a clone obeys the provider's netpolicy.
 * libgit2's own http transport connects wherever DNS and redirects say
 * and offers no hook on the address; this one is installed per clone
 * through git_remote_callbacks.transport.  Redirects are followed on the
 * first request only (git's http.followRedirects=initial), each hop
 * checked; responses are spooled to an unlinked temporary file, capped.
 */
#ifndef LODGE_PROVIDER_GITHTTP_H
#define LODGE_PROVIDER_GITHTTP_H

#include <stdint.h>

#include <git2.h>

#include "provider/netpolicy.h"

struct githttp {
	const struct netpolicy *policy;
	const char *tmp_dir; /* where responses are spooled */
	uint64_t max_bytes; /* of one response (the pack) */
	int timeout_ms; /* of one request */
	int rc; /* set by the transport: its first failure (ERR_REJECT
	           when the policy refused), 0 when none */
	char msg[512]; /* and its message, fit for the tenant */
};

/* A git_transport_cb: set git_remote_callbacks.transport to it and
 * .payload to a struct githttp that outlives the clone. */
int githttp_transport(git_transport **out, git_remote *owner, void *payload);

#endif
