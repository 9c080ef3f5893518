/*
 * lease_net: a lease's deployment network on this provider (sandbox/net.h):
 * what its manifest needs (capabilities), its network made and removed,
 * its forwarded ports (kept across restarts in the lease's saved state),
 * each replica's interface, and its egress bytes for metering.  See
 * docs/sandbox.md, "Networking in the provider".
 */
#ifndef LODGE_PROVIDER_LEASE_NET_H
#define LODGE_PROVIDER_LEASE_NET_H

#include <stddef.h>

#include "common/capability.h"
#include "provider/lease.h"

struct net;

/* The capabilities lease l's manifest needs, by index (1: needed): the
 * private network when a service exposes a port to another service,
 * ports when a service of its placement has a global expose that is not
 * TCP as 80 (Akash's rule for its ingress; any other gets a NodePort). */
void lease_net_needs(const struct lease *l, int need[CAPABILITY_COUNT]);

/* Fill l->ports from its manifest: one per global expose that is not TCP
 * as 80 (service, port, proto) of the services deployed in its
 * placement; an entry that was already there (loaded from the saved
 * state) keeps its host port.  ERR_LIMIT past LEASE_MAX_PORTS. */
int lease_net_plan_ports(struct lease *l);

/* Make l's network: net_deployment_add with its services (in replica
 * order, with their counts), then forward each of l->ports (the saved
 * host port when it is still free, else the lowest free one; written
 * back).  On failure nothing of it is left.  Sets l->net_up.  For a
 * lease whose sandboxes the last process left running
 * (l->saved_sandboxes), its network is adopted instead when it is intact
 * with the saved ports (net_deployment_adopt; l->net_egress_at, loaded
 * with the lease, keeps the egress count exact); otherwise, with a log
 * line, made again as above. */
int lease_net_up(struct net *n, struct lease *l);

/* Remove l's network (net_deployment_remove; what is gone already is no
 * error), and clear l->net_up.  The forwarded ports stay recorded. */
void lease_net_down(struct net *n, struct lease *l);

/* What a replica's start gives sandbox_spec.net_setup (the arg). */
struct lease_net_attach {
	struct net *net;
	const char *id, *service;
	unsigned replica;
};

/* sandbox_spec.net_setup: net_replica_attach of arg's replica into
 * netns_fd. */
int lease_net_setup(void *arg, int netns_fd);

/* Give the running replicas of l (re-adopted after a restart) their
 * interface: kept when intact (net_replica_adopt), else made again; a
 * failure is logged and the replica killed, so it restarts with one.
 * Returns how many have one. */
size_t lease_net_reattach(struct net *n, struct lease *l);

/* Read l's egress counter into l->net_egress (lease_counters adds it to
 * egress_bytes): what it counted past l->net_egress_at.  Errors are
 * logged, the last value kept. */
void lease_net_meter(struct net *n, struct lease *l);

/* At the provider's exit, for a lease whose sandboxes stay running: its
 * network stays in the kernel for the next process to adopt (forgotten
 * by n), and l->net_up is cleared. */
void lease_net_keep(struct net *n, struct lease *l);

#endif
