/*
 * lease_net: the provider's glue between a lease and sandbox/net.h --
 * capabilities a manifest needs, the deployment network, forwarded ports
 * (Akash's forwarded_ports), replica interfaces and egress metering.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "provider/lease_net.h"
#include "sandbox/net.h"

/* Calls fn on every expose of every service deployed in l's placement
 * (once per service, whatever its count). */
static int
each_expose(const struct lease *l,
    int (*fn)(void *ctx, const char *svc, const json_t *e), void *ctx)
{
	const json_t *services = json_object_get(l->manifest, "services");
	const json_t *e;
	size_t i, k;
	int rc;

	for (i = 0; i < l->nrep; i++) {
		const struct lease_replica *r = &l->rep[i];
		const json_t *svc;
		if (r->index != 0)
			continue;
		svc = json_object_get(services, r->service);
		json_array_foreach(json_object_get(svc, "expose"), k, e)
		{
			if ((rc = fn(ctx, r->service, e)) != 0)
				return rc;
		}
	}
	return 0;
}

/* Is e a global expose that gets a forwarded port (not TCP as 80, not
 * an IP endpoint's)? */
static int
forwarded(const json_t *e, int *udp, uint16_t *port)
{
	const char *proto = json_string_value(json_object_get(e, "proto"));
	json_int_t p = json_integer_value(json_object_get(e, "port"));
	json_int_t as = json_integer_value(json_object_get(e, "as"));
	const char *ip = json_string_value(json_object_get(e, "ip"));

	*udp = proto && strcmp(proto, "udp") == 0;
	if (!json_is_true(json_object_get(e, "global")) || (ip && *ip) ||
	    p < 1 || p > 65535)
		return 0;
	if (as == 0)
		as = p;
	if (!*udp && as == 80)
		return 0;
	*port = (uint16_t)p;
	return 1;
}

static int
need_of(void *ctx, const char *svc, const json_t *e)
{
	int *need = ctx, udp;
	const char *to = json_string_value(json_object_get(e, "service"));
	uint16_t port;

	(void)svc;
	if (to && *to)
		need[CAPABILITY_NETWORK] = 1;
	if (forwarded(e, &udp, &port))
		need[CAPABILITY_PORTS] = 1;
	return 0;
}

void
lease_net_needs(const struct lease *l, int need[CAPABILITY_COUNT])
{
	for (int c = 0; c < CAPABILITY_COUNT; c++)
		need[c] = 0;
	(void)each_expose(l, need_of, need);
}

struct plan {
	struct lease_port ports[LEASE_MAX_PORTS];
	size_t n;
	const struct lease *l;
};

static int
plan_one(void *ctx, const char *svc, const json_t *e)
{
	struct plan *p = ctx;
	struct lease_port *lp;
	uint16_t port;
	size_t i;
	int udp;

	if (!forwarded(e, &udp, &port))
		return 0;
	/* The same port exposed to several targets is forwarded once. */
	for (i = 0; i < p->n; i++)
		if (strcmp(p->ports[i].service, svc) == 0 &&
		    p->ports[i].port == port && p->ports[i].udp == udp)
			return 0;
	if (p->n == LEASE_MAX_PORTS)
		return err_set(ERR_LIMIT,
		    "manifest: more than %d forwarded ports", LEASE_MAX_PORTS);
	lp = &p->ports[p->n++];
	memset(lp, 0, sizeof(*lp));
	snprintf(lp->service, sizeof(lp->service), "%s", svc);
	lp->port = port;
	lp->udp = udp;
	/* A saved entry keeps its host port. */
	for (i = 0; i < p->l->nports; i++)
		if (strcmp(p->l->ports[i].service, svc) == 0 &&
		    p->l->ports[i].port == port && p->l->ports[i].udp == udp)
			lp->host = p->l->ports[i].host;
	return 0;
}

int
lease_net_plan_ports(struct lease *l)
{
	struct plan *p = calloc(1, sizeof(*p));
	int rc;

	if (p == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	p->l = l;
	if ((rc = each_expose(l, plan_one, p)) == 0) {
		memcpy(l->ports, p->ports, p->n * sizeof(p->ports[0]));
		l->nports = p->n;
	}
	free(p);
	return rc;
}

int
lease_net_up(struct net *n, struct lease *l)
{
	struct net_service svcs[LEASE_MAX_SERVICES];
	size_t ns = 0, i, k;
	uint16_t host;
	int rc;

	if (l->net_up)
		return 0;
	for (i = 0; i < l->nrep; i++) {
		for (k = 0; k < ns; k++)
			if (strcmp(svcs[k].name, l->rep[i].service) == 0)
				break;
		if (k == ns) {
			if (ns == LEASE_MAX_SERVICES)
				return err_set(ERR_LIMIT,
				    "manifest: more than %d services",
				    LEASE_MAX_SERVICES);
			svcs[ns].name = l->rep[i].service;
			svcs[ns++].replicas = 0;
		}
		svcs[k].replicas++;
	}
	/* Replicas left running by the last process: their network too,
	 * when it is intact (no gap in their traffic, the egress counter
	 * going on); else it is made again. */
	if (l->saved_sandboxes != NULL) {
		struct net_port_spec ps[LEASE_MAX_PORTS];
		size_t np = 0;
		for (i = 0; i < l->nports; i++)
			if (l->ports[i].host != 0)
				ps[np++] = (struct net_port_spec){
					.service = l->ports[i].service,
					.port = l->ports[i].port,
					.proto =
					    l->ports[i].udp ? NET_UDP : NET_TCP,
					.host_port = l->ports[i].host
				};
		rc = net_deployment_adopt(n, l->id, svcs, ns, ps, np);
		if (rc == 0 && np == l->nports) {
			log_info("lease %s: its network adopted as the last "
			         "process left it",
			    l->id);
			l->net_up = 1;
			return 0;
		}
		if (rc == 0) /* a port without a host port yet: made anew */
			(void)net_deployment_forget(n, l->id);
		if (rc != 0 && rc != ERR_NOTFOUND)
			log_warn("lease %s: its network is not adopted: %s; "
			         "making it again",
			    l->id, err_msg());
		else if (rc != 0)
			log_warn("lease %s: no network left by the last "
			         "process; making it again",
			    l->id);
		err_clear();
	}
	/* A table the last process left, replaced now: what it counted
	 * past the saved state is metered before it goes. */
	if (l->saved_sandboxes != NULL || l->net_egress_at > 0) {
		uint64_t left;
		if (net_leftover_egress(n, l->id, &left) == 0 &&
		    left > l->net_egress_at) {
			l->base[USAGE_EGRESS_BYTES] += left - l->net_egress_at;
			l->net_egress_at = left; /* counted once */
		}
		err_clear();
	}
	if ((rc = net_deployment_add(n, l->id, svcs, ns)) < 0)
		return err_prefix(rc, "network");
	for (i = 0; i < l->nports; i++) {
		struct lease_port *p = &l->ports[i];
		enum net_proto proto = p->udp ? NET_UDP : NET_TCP;
		host = p->host;
		rc = net_port_add(n, l->id, p->service, p->port, proto, &host);
		if (rc < 0 && p->host != 0 &&
		    (rc == ERR_CONFLICT || rc == ERR_RANGE)) {
			/* Taken meanwhile, or the range changed: another. */
			log_warn("lease %s: host port %u for %s:%u/%s: %s; "
			         "picking another",
			    l->id, p->host, p->service, p->port,
			    p->udp ? "udp" : "tcp", err_msg());
			host = 0;
			rc = net_port_add(n, l->id, p->service, p->port, proto,
			    &host);
		}
		if (rc < 0) {
			struct err_saved saved;
			err_prefix(rc, "forwarded port %s:%u/%s", p->service,
			    p->port, p->udp ? "udp" : "tcp");
			err_save(&saved);
			(void)net_deployment_remove(n, l->id);
			err_restore(&saved);
			return rc;
		}
		p->host = host;
	}
	l->net_up = 1;
	atomic_store(&l->net_egress, 0);
	l->net_egress_at = 0; /* a new counter */
	return 0;
}

void
lease_net_down(struct net *n, struct lease *l)
{
	struct err_saved saved;
	int rc;

	if (!l->net_up)
		return;
	err_save(&saved);
	if ((rc = net_deployment_remove(n, l->id)) < 0 && rc != ERR_NOTFOUND)
		log_warn("lease %s: removing its network: %s", l->id,
		    err_msg());
	err_restore(&saved);
	l->net_up = 0;
}

int
lease_net_setup(void *arg, int netns_fd)
{
	const struct lease_net_attach *a = arg;

	return net_replica_attach(a->net, a->id, a->service, a->replica,
	    netns_fd);
}

size_t
lease_net_reattach(struct net *n, struct lease *l)
{
	size_t i, done = 0;

	if (!l->net_up)
		return 0;
	for (i = 0; i < l->nrep; i++) {
		struct lease_replica *r = &l->rep[i];
		if (r->sb == NULL)
			continue;
		if (net_replica_adopt(n, l->id, r->service, r->index,
		        sandbox_netns_fd(r->sb), NULL) < 0) {
			log_warn("lease %s: %s: its network interface: %s; "
			         "restarting it",
			    l->id, r->name, err_msg());
			(void)sandbox_signal(r->sb, SIGKILL);
			continue;
		}
		done++;
	}
	return done;
}

void
lease_net_meter(struct net *n, struct lease *l)
{
	uint64_t bytes;

	if (!l->net_up)
		return;
	if (net_egress_bytes(n, l->id, &bytes) < 0) {
		log_warn("lease %s: egress counter: %s", l->id, err_msg());
		return;
	}
	/* An adopted counter holds what base has already. */
	if (bytes >= l->net_egress_at &&
	    bytes - l->net_egress_at > atomic_load(&l->net_egress))
		atomic_store(&l->net_egress, bytes - l->net_egress_at);
}

void
lease_net_keep(struct net *n, struct lease *l)
{
	if (!l->net_up)
		return;
	(void)net_deployment_forget(n, l->id);
	err_clear();
	l->net_up = 0;
}
