/*
 * net: one private network per deployment.  A Linux bridge per deployment
 * holding a block of the provider's address pool, a veth pair into each
 * replica's network namespace, service names as /etc/hosts lines, and one
 * nftables table per deployment that isolates it (from other deployments
 * and from the host), masquerades and meters its outbound traffic under
 * the provider's egress policy, and forwards host ports to its services.
 * Drives ip(8) (iproute2) and nft(8) (nftables); see docs/sandbox.md,
 * "Networking".  Needs root (CAP_NET_ADMIN in the host's namespace).
 */
#ifndef LODGE_SANDBOX_NET_H
#define LODGE_SANDBOX_NET_H

#include <stddef.h>
#include <stdint.h>

#define NET_POOL_DEFAULT "10.213.0.0/16"
#define NET_SUBNET_PREFIX_DEFAULT 24
#define NET_PORT_MIN_DEFAULT 30000
#define NET_PORT_MAX_DEFAULT 32767
#define NET_DNS_MAX 4
/* Interface names: "lodgeb" + 8 hex digits (bridge), "lodgev" + 9 hex
 * digits (host side of a replica's veth), both with the alias
 * "lodge:SCOPE:ID[:INDEX]"; nft tables "lodge_[SCOPE_]" + 8 hex digits in
 * family inet.  net_cleanup_all() removes exactly these. */
#define NET_IFNAME_SIZE 16
#define NET_SCOPE_MAX 12
#define NET_ID_MAX 64 /* a deployment id: [A-Za-z0-9._-] */
#define NET_TABLE_SIZE 32
/* Inside the replica the veth is eth0, with the default route. */
#define NET_REPLICA_IFNAME "eth0"

/* An IPv4 block; addr in host byte order, host bits zero. */
struct net_cidr {
	uint32_t addr;
	unsigned prefix;
};

/* A closed range of IPv4 addresses, host byte order. */
struct net_range {
	uint32_t first, last;
};

/* The provider's choices.  Pointers are borrowed for net_new() only.
 * Fill with net_config_init() first. */
struct net_config {
	const char *scope; /* [a-z0-9], at most NET_SCOPE_MAX: this
	                             provider's, when several share a host
	                             (in names and aliases); NULL: none */
	const char *pool; /* CIDR the deployments' blocks come from;
	                             NULL: NET_POOL_DEFAULT */
	unsigned subnet_prefix; /* each deployment's block, pool's prefix
	                             to 29; 0: NET_SUBNET_PREFIX_DEFAULT */
	int egress_off; /* 1: no outbound traffic at all */
	const char *const *egress_allow; /* NULL-terminated CIDR lists that */
	const char *const *egress_deny; /* adjust the default egress policy */
	const char *const *dns; /* nameservers for the replicas, reachable
	                             on port 53 whatever the policy; NULL:
	                             the non-loopback ones of resolv_conf */
	const char *resolv_conf; /* NULL: /etc/resolv.conf */
	uint16_t port_min, port_max; /* host ports to forward; 0: default */
	unsigned mtu; /* 0: the MTU of the default route's
	                             device (1500 when there is none) */
};

/* The egress policy, compiled: the destinations a replica may not reach,
 * as sorted, disjoint, non-adjacent ranges. */
struct net_policy {
	struct net_range *deny;
	size_t n;
};

enum net_proto {
	NET_TCP,
	NET_UDP,
};

/* A service of a deployment and its replica count: replica r of the
 * i-th service gets the (sum of earlier counts + r)-th replica address. */
struct net_service {
	const char *name; /* a DNS label: [A-Za-z0-9-], at most 63 */
	unsigned replicas; /* at least 1 */
};

struct net;

/* ---- the live networks ---- */

/* Defaults: pool, prefix and ports as above, egress on, no lists, dns and
 * mtu found at net_new(). */
void net_config_init(struct net_config *cfg);

/* Check the configuration (each bad item named: "egress_deny[1]:
 * 10.0.0.1/8: host bits set"), compile the egress policy with the host's
 * own addresses, and find ip and nft.  The kernel is not touched.
 * ERR_INVAL / ERR_RANGE for a bad config, ERR_CONFLICT when the pool
 * overlaps an address of the host (the gateways of this scope's bridges,
 * left for adoption, aside), ERR_NOTFOUND for a missing tool,
 * ERR_REJECT when not root.  *out is owned by the caller (net_free). */
int net_new(const struct net_config *cfg, struct net **out);

/* Free the memory.  The kernel objects stay: remove deployments first
 * (net_deployment_remove), or call net_cleanup_all(); those left are for
 * a next process to adopt (net_deployment_adopt). */
void net_free(struct net *n);

/* The compiled policy (borrowed). */
const struct net_policy *net_egress_policy(const struct net *n);

/* Create deployment id's network: a block of the pool (the same one each
 * time the id comes back, unless taken), its bridge with the block's
 * first address as the replicas' gateway, and its nft table; replica
 * addresses are fixed from here on.  Leftovers of a crashed run under
 * the same names are replaced.  ERR_CONFLICT when id exists, ERR_LIMIT
 * when the pool is full or the services do not fit in one block. */
int net_deployment_add(struct net *n, const char *id,
    const struct net_service *svcs, size_t nsvcs);

/* A forwarded port as saved by the caller, for net_deployment_adopt. */
struct net_port_spec {
	const char *service;
	uint16_t port;
	enum net_proto proto;
	uint16_t host_port;
};

/* Take over deployment id's network as a previous process (killed or
 * stopped) left it in the kernel, without touching it: its bridge (alias
 * naming this scope and id, up, one address: the gateway of a block of
 * the pool at the configured prefix that no other deployment holds,
 * route_localnet on, no interface on it but its replicas' veths) and its
 * nft table, which must be exactly the one
 * net_deployment_add and net_port_add would make now for these services
 * and forwarded ports (compared, counter values aside, with the same
 * script loaded in a scratch network namespace): an added or changed
 * rule, or a configuration changed since, is a mismatch.  The egress
 * counter goes on counting from where it was.  Replica addresses follow
 * the services as in net_deployment_add.  ERR_NOTFOUND when neither the
 * bridge nor the table exists, ERR_CORRUPT (naming what differs) when
 * something does not match: then the caller removes and makes the
 * network again (net_deployment_add replaces leftovers).  Nothing is
 * changed in the kernel either way. */
int net_deployment_adopt(struct net *n, const char *id,
    const struct net_service *svcs, size_t nsvcs,
    const struct net_port_spec *ports, size_t nports);

/* Forget deployment id without touching the kernel: its bridge, veths and
 * table stay for a next process to adopt (net_deployment_adopt).
 * ERR_NOTFOUND when id is unknown to n. */
int net_deployment_forget(struct net *n, const char *id);

/* Remove everything of deployment id: table (rules, forwards, counter),
 * veths, bridge.  Idempotent in the kernel: what is already gone is not
 * an error.  ERR_NOTFOUND when id is unknown to n. */
int net_deployment_remove(struct net *n, const char *id);

/* Give replica `replica` of service `service` its interface: a veth
 * whose inside end is NET_REPLICA_IFNAME in the network namespace
 * netns_fd (borrowed; e.g. sandbox_netns_fd() or an open
 * /proc/PID/ns/net), with its address and default route, and lo up.
 * Attaching again (a restarted replica) replaces the previous veth. */
int net_replica_attach(struct net *n, const char *id, const char *service,
    unsigned replica, int netns_fd);

/* For a replica that outlived a previous process (adopted): keep its
 * interface when it is intact -- the host end with its alias on the
 * deployment's bridge and up, its peer NET_REPLICA_IFNAME in netns_fd
 * with the replica's address and the default route through the gateway
 * -- so its connections go on; otherwise net_replica_attach.  *kept
 * (may be NULL) is 1 when it was kept. */
int net_replica_adopt(struct net *n, const char *id, const char *service,
    unsigned replica, int netns_fd, int *kept);

/* Remove a replica's veth (gone already when its namespace ended). */
int net_replica_detach(struct net *n, const char *id, const char *service,
    unsigned replica);

/* The replica's address as text into buf (at least 16 bytes). */
int net_replica_address(struct net *n, const char *id, const char *service,
    unsigned replica, char *buf, size_t len);

/* /etc/hosts lines naming every replica of the deployment by its
 * service: "10.213.7.2\tweb\n", one line per replica (a service with
 * several replicas resolves to all of them).  *out is malloc'd. */
int net_hosts(struct net *n, const char *id, char **out);

/* The replicas' /etc/resolv.conf: "nameserver X\n" per nameserver (empty
 * when the host has none a replica can reach).  *out is malloc'd. */
int net_resolv_conf(struct net *n, char **out);

/* Forward a host port (proto) to port of every replica of service
 * (spread over them).  *host_port: 0 picks the lowest free port of the
 * range (not forwarded already and not bound on the host); otherwise
 * that port, ERR_CONFLICT when it is taken, ERR_RANGE when outside the
 * range.  The chosen port is written back. */
int net_port_add(struct net *n, const char *id, const char *service,
    uint16_t port, enum net_proto proto, uint16_t *host_port);

/* Stop forwarding host_port (proto).  ERR_NOTFOUND when it is not. */
int net_port_remove(struct net *n, const char *id, uint16_t host_port,
    enum net_proto proto);

/* IP bytes the deployment's replicas sent out of their network so far
 * (to the internet, DNS, replies on forwarded ports). */
int net_egress_bytes(struct net *n, const char *id, uint64_t *bytes);

/* The egress counter of the table a previous process left for
 * deployment id, which n does not have (one not adopted, read before
 * net_deployment_add replaces it, so that its last bytes are still
 * metered).  ERR_IO when there is no such table, ERR_CONFLICT when id
 * is n's. */
int net_leftover_egress(struct net *n, const char *id, uint64_t *bytes);

/* Remove the Lodge bridges, veths and nft tables on the host (names as
 * above) of scope, or all of them for a NULL or "" scope: for the
 * tests (the provider adopts its own, then net_cleanup_stale()).
 * Idempotent. */
int net_cleanup_all(const char *scope);

/* Remove the Lodge bridges, veths and nft tables of n's scope that are
 * not n's deployments' (those of leases that ended while no provider
 * ran): for the provider's start, once it adopted or made the networks
 * of its leases.  Idempotent. */
int net_cleanup_stale(struct net *n);

/* ---- pure helpers ---- */

/* An `nft list table` text with every "packets N bytes M" zeroed, in
 * place: two listings of the same rules compare equal whatever they
 * counted. */
void net_listing_normalize(char *text);

/* "a.b.c.d/n" (or "a.b.c.d" for /32) into out; what names the field in
 * messages.  ERR_INVAL for anything else, ERR_REJECT for IPv6. */
int net_cidr_parse(const char *s, const char *what, struct net_cidr *out);

/* Compile the egress policy: the built-in denials (0/8, 10/8,
 * 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16, 224/4, 240/4,
 * Azure's 168.63.129.16) adjusted by allow and deny: the longest prefix
 * covering an address decides, at equal length a configured deny beats a
 * configured allow which beats a built-in.  Then always (no allow can
 * undo it) the addresses in `always` (the host's own, the pool).
 * *out owned by the caller (net_policy_free). */
int net_policy_compile(const struct net_cidr *allow, size_t nallow,
    const struct net_cidr *deny, size_t ndeny, const struct net_cidr *always,
    size_t nalways, struct net_policy *out);

/* 1 when the policy denies addr (host byte order), 0 when it allows. */
int net_policy_denies(const struct net_policy *p, uint32_t addr);

void net_policy_free(struct net_policy *p);

/* The names of deployment id's bridge and table, and of the host end of
 * the veth of its index-th replica (index 0 is the first replica), for a
 * provider of scope (NULL or "": none). */
void net_bridge_name(const char *scope, const char *id, char *buf, size_t len);
void net_table_name(const char *scope, const char *id, char *buf, size_t len);
void net_veth_name(const char *scope, const char *id, unsigned index, char *buf,
    size_t len);

/* A block of prefix bits for id out of pool: the one id hashes to, or the
 * next one (wrapping) not in taken.  ERR_LIMIT when all are taken,
 * ERR_RANGE when prefix is not in [pool's prefix, 29]. */
int net_subnet_pick(const struct net_cidr *pool, unsigned prefix,
    const char *id, const struct net_cidr *taken, size_t ntaken,
    struct net_cidr *out);

/* Connections one deployment may have tracked at once by the host's
 * conntrack table (into other hosts, and into the host itself, each):
 * past them new ones are refused, so that no deployment fills the table
 * every connection of the host needs (nf_conntrack_max, 262144 here). */
#define NET_CONNS_MAX 8192

/* What the nft table of one deployment is made of. */
struct net_ruleset {
	const char *table, *bridge;
	struct net_cidr subnet;
	int egress_off;
	const struct net_policy *policy;
	const uint32_t *dns;
	size_t ndns;
};

/* A forwarded host port: to port on the targets, spread round robin. */
struct net_forward {
	uint16_t host_port;
	enum net_proto proto;
	uint16_t port;
	const uint32_t *targets;
	size_t ntargets;
};

/* The nft script that (re)creates the deployment's table in one
 * transaction (an existing table of that name is replaced).  *out is
 * malloc'd. */
int net_ruleset_text(const struct net_ruleset *r, char **out);

/* The nft script that replaces the table's forwarded ports with these,
 * in one transaction.  *out is malloc'd. */
int net_ports_text(const char *table, const struct net_forward *f, size_t n,
    char **out);

#endif
