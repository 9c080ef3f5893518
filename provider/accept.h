/*
 * accept: the host names an SDL expose `accept`s, served through the
 * provider's gateway by the request's Host.  A name is checked (RFC 1123,
 * no wildcard, not under the provider's own domain nor its API host) and
 * claimed by one live lease on this provider at a time: a manifest that
 * names one another lease holds is refused before anything of it runs.
 * Claims are the manifests of the leases that are not closed, so they
 * last across provider restarts and end with the lease.
 */
#ifndef LODGE_PROVIDER_ACCEPT_H
#define LODGE_PROVIDER_ACCEPT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "provider/gateway.h"
#include "provider/lease.h"

#define ACCEPT_NAME_MAX 253

/* Is name one a lease may claim: at most 253 characters of labels of
 * 1-63 letters, digits and hyphens (not first or last), letters compared
 * in lower case; no wildcard ("*"); not an address (a last label of
 * digits only); not "localhost"; neither domain nor a name under it (the
 * provider's own <lease>-<service>.DOMAIN names); not api_host (the
 * provider's API).  domain and api_host may be NULL or "".  0, or
 * ERR_REJECT saying why. */
int accept_check_name(const char *name, const char *domain,
    const char *api_host);

/* "Host" header value to the name it asks for: the port and a trailing
 * dot dropped, lower case.  0 when it is not a host name (empty, an IPv6
 * literal, too long). */
int accept_host_of(const char *host, char *out, size_t cap);

/* Can no lease hold name (lower case, as accept_host_of gives it): an
 * address (a last label of digits) or a name under domain?  Then a
 * request for it need not look for a claim.  Does not set err. */
int accept_host_unclaimable(const char *name, const char *domain);

/* Every accepted name of l (its manifest set; the services of its
 * replicas), checked with accept_check_name, as [{"host","service",
 * "port"}] in *out (caller owns).  An accept on an expose that is not
 * global is refused (ERR_REJECT naming services.S.expose[i].accept):
 * only global exposes are reachable through the gateway. */
int accept_claims(const struct lease *l, const char *domain,
    const char *api_host, json_t **out);

/* Does another live lease of the list head (not self, running, not
 * closing, with a manifest) claim one of claims' names?  0, or ERR_REJECT naming the
 * host (not the other lease: it is another tenant's). */
int accept_conflict(const struct lease *head, const struct lease *self,
    const json_t *claims);

/* The route of a request whose Host is a name a running lease of head
 * claims: 1 with rt filled (by_host, port the expose's), 0 when none,
 * ERR_LIMIT when it is claimed but path is longer than GATEWAY_MAX_TARGET
 * (answer 414: never forwarded cut short). */
int accept_route(const struct lease *head, const char *host, const char *path,
    struct gateway_route *rt);

#endif
