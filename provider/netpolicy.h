/*
 * netpolicy: where a tenant's artifacts (git+, wasm+https images) may be
 * fetched from.  https only, plain http only to hosts the owner allows,
 * and never the provider's own side of the network: loopback, private,
 * shared (CGNAT), link-local, multicast and reserved ranges (RFC 6890's
 * special-purpose registries), nor the addresses of this machine's own
 * interfaces.  Addresses are judged as connected to, after DNS, on every
 * connection of every redirect (provider/fetch.h): a name that resolves
 * to 127.0.0.1 is refused like the literal.
 */
#ifndef LODGE_PROVIDER_NETPOLICY_H
#define LODGE_PROVIDER_NETPOLICY_H

#include <stddef.h>
#include <sys/socket.h>
#include <jansson.h>

struct netpolicy {
	char **allow; /* "host" or "host:port", lower case; owned */
	size_t nallow;
	struct sockaddr_storage *own; /* this machine's addresses; owned */
	size_t nown;
	int local; /* file:// and any address: the owner's own use from
	              the command line, never a tenant's fetch */
};

/* A policy allowing the hosts of allow (a JSON array of "host" or
 * "host:port" strings, or NULL), with this machine's interface addresses
 * (getifaddrs) as its own.  Pair with netpolicy_clear. */
int netpolicy_init(struct netpolicy *p, const json_t *allow);
void netpolicy_clear(struct netpolicy *p);

/* Add one allowed "host" or "host:port" (lower-cased). */
int netpolicy_allow(struct netpolicy *p, const char *hostport);

/* Add an address of this machine by hand (tests; init reads them). */
int netpolicy_add_own(struct netpolicy *p, const struct sockaddr *sa);

/* The special-purpose class of an address ("loopback", "private",
 * "link-local", "shared address space", "unspecified", "multicast",
 * "reserved", "documentation", ...), or NULL for a public unicast
 * address.  IPv4-mapped, NAT64 and 6to4 IPv6 addresses are judged by
 * the IPv4 address they carry.  Pure. */
const char *netpolicy_addr_class(const struct sockaddr *sa);

/* Why sa may not be connected to under p: its class, "this provider's
 * own address", or NULL when it may (always NULL when p->local). */
const char *netpolicy_addr_refused(const struct netpolicy *p,
    const struct sockaddr *sa);

/* Check a URL before any connection: https, or http to an allowed host
 * (file:// only when p->local); no other scheme.  *trusted is set when
 * the host (and port) is on the allow list: its addresses are then not
 * judged.  ERR_REJECT with a message fit for the tenant otherwise. */
int netpolicy_check_url(const struct netpolicy *p, const char *url,
    int *trusted);

/* Numeric text of sa ("127.0.0.1", "::1") into buf. */
void netpolicy_addr_text(const struct sockaddr *sa, char *buf, size_t len);

#endif
