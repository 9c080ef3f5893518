/*
 * daemon_net: the daemon's deployment networks (sandbox/net.h through
 * provider/lease_net.h): one per lease with a manifest, given to each
 * replica's start, removed when a lease closes; those of running leases
 * outlive the process (a stop or a kill) and are adopted by the next,
 * which removes the ones no lease holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/capability.h"
#include "common/err.h"
#include "common/log.h"
#include "provider/daemon_internal.h"
#include "sandbox/net.h"

int
pd_net_start(struct pd *pd)
{
	const char *lists[3][17];
	struct net_config nc;
	int rc;

	pd->cfg.net_live = 0;
	if (!pd->cfg.net_on)
		return 0;
	/* The sandbox scope without its '-'. */
	config_net_scope(pd->key_text, pd->net_scope, sizeof(pd->net_scope));
	if (geteuid() != 0) {
		log_warn("--net on, but not running as root: no deployment "
		         "networks; network, egress and ports are not "
		         "advertised");
		return 0;
	}
	/* What the last process of this key left stays: the leases it
	 * left running adopt their networks as they load, pd_net_sweep
	 * removes the rest. */
	config_net_config(&pd->cfg, pd->net_scope, &nc, lists);
	if ((rc = net_new(&nc, &pd->net)) < 0) {
		if (rc == ERR_NOTFOUND || rc == ERR_REJECT) {
			log_warn("--net on, but %s: no deployment networks; "
			         "network, egress and ports are not advertised",
			    err_msg());
			err_clear();
			return 0;
		}
		return err_prefix(rc, "provider.json: net");
	}
	pd->cfg.net_live = 1;
	log_info("deployment networks: pool %s, egress %s, ports %u-%u "
	         "(scope %s)",
	    pd->cfg.net_pool[0] ? pd->cfg.net_pool : NET_POOL_DEFAULT,
	    pd->cfg.egress_off ? "off" : "on", pd->cfg.port_min,
	    pd->cfg.port_max, pd->net_scope);
	return 0;
}

int
pd_net_lease(struct pd *pd, struct lease *l)
{
	int need[CAPABILITY_COUNT], offered[CAPABILITY_COUNT], rc;

	lease_net_needs(l, need);
	config_capabilities(&pd->cfg, offered);
	for (int c = 0; c < CAPABILITY_COUNT; c++)
		if (need[c] && !offered[c])
			return err_set(ERR_REJECT,
			    "manifest: needs the \"%s\" capability (%s), which "
			    "this provider does not offer",
			    capability_name(c), capability_what(c));
	if (pd->net == NULL)
		return 0;
	if ((rc = lease_net_plan_ports(l)) < 0 ||
	    (rc = lease_net_up(pd->net, l)) < 0)
		return rc;
	for (size_t i = 0; i < l->nports; i++)
		log_info("lease %s: forwarded port %u/%s -> %s:%u", l->id,
		    l->ports[i].host, l->ports[i].udp ? "udp" : "tcp",
		    l->ports[i].service, l->ports[i].port);
	return 0;
}

int
pd_net_spec(struct pd *pd, const struct lease *l, size_t i,
    struct sandbox_spec *spec, struct lease_net_attach *att, char **hosts,
    char **resolv)
{
	int rc;

	*hosts = *resolv = NULL;
	if (pd->net == NULL || !l->net_up)
		return 0;
	if ((rc = net_hosts(pd->net, l->id, hosts)) < 0 ||
	    (rc = net_resolv_conf(pd->net, resolv)) < 0) {
		free(*hosts);
		*hosts = NULL;
		return err_prefix(rc, "network");
	}
	att->net = pd->net;
	att->id = l->id;
	att->service = l->rep[i].service;
	att->replica = l->rep[i].index;
	spec->hosts_extra = *hosts;
	spec->resolv_conf = *resolv;
	spec->net_setup = lease_net_setup;
	spec->net_arg = att;
	return 0;
}

void
pd_net_sweep(struct pd *pd)
{
	if (pd->net == NULL)
		return;
	if (net_cleanup_stale(pd->net) < 0) {
		log_warn("removing networks no lease holds: %s", err_msg());
		err_clear();
	}
}

void
pd_net_stop(struct pd *pd)
{
	struct lease *l;
	size_t kept = 0;

	if (pd->net == NULL)
		return;
	/* A running lease's sandboxes stay: its network with them (its
	 * service-to-service traffic, forwarded ports and egress go on,
	 * its counter with them), for the next start to adopt. */
	for (l = pd->leases; l; l = l->next) {
		if (l->status == LEASE_RUNNING && l->net_up) {
			lease_net_keep(pd->net, l);
			kept++;
		} else {
			lease_net_down(pd->net, l);
		}
	}
	net_free(pd->net);
	pd->net = NULL;
	pd->cfg.net_live = 0;
	log_info("deployment networks: %zu left for the next start, the "
	         "others removed",
	    kept);
}
