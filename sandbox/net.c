/*
 * net: per-deployment bridges, veths and nftables tables.  The pure part
 * (CIDRs, the egress policy, block choice, names, nft text) is separate
 * from the part that runs ip(8) and nft(8); the kernel is the record of
 * what exists, so every step replaces or ignores leftovers of a crash.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "sandbox/net.h"
#include "sandbox/tool.h"

#define TOOL_TIMEOUT_MS 30000
#define MAX_SUBNET_PREFIX 29
#define MAX_LIST 256

/* ---- pure helpers ---- */

static uint32_t
mask_of(unsigned prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

static void
addr_text(uint32_t a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
	    (a >> 8) & 255, a & 255);
}

int
net_cidr_parse(const char *s, const char *what, struct net_cidr *out)
{
	char buf[64];
	const char *slash;
	struct in_addr in;
	unsigned long prefix = 32;
	uint32_t a;

	if (s == NULL || *s == 0)
		return err_set(ERR_INVAL, "%s: empty, expected a.b.c.d/n",
		    what);
	if (strchr(s, ':'))
		return err_set(ERR_REJECT,
		    "%s: %s: IPv6 is not supported (replicas have IPv4 "
		    "addresses only)",
		    what, s);
	slash = strchr(s, '/');
	if ((slash ? (size_t)(slash - s) : strlen(s)) >= sizeof(buf))
		return err_set(ERR_INVAL, "%s: %s: not an IPv4 CIDR", what, s);
	snprintf(buf, sizeof(buf), "%.*s",
	    (int)(slash ? (size_t)(slash - s) : strlen(s)), s);
	if (inet_pton(AF_INET, buf, &in) != 1)
		return err_set(ERR_INVAL,
		    "%s: %s: not an IPv4 CIDR (expected a.b.c.d/n)", what, s);
	if (slash) {
		char *end;
		if (slash[1] < '0' || slash[1] > '9')
			return err_set(ERR_INVAL,
			    "%s: %s: prefix length missing", what, s);
		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (errno || *end || prefix > 32)
			return err_set(ERR_INVAL,
			    "%s: %s: prefix length must be 0-32", what, s);
	}
	a = ntohl(in.s_addr);
	if (a & ~mask_of((unsigned)prefix)) {
		char net[16];
		addr_text(a & mask_of((unsigned)prefix), net, sizeof(net));
		return err_set(ERR_INVAL,
		    "%s: %s: host bits set (did you mean %s/%lu?)", what, s,
		    net, prefix);
	}
	out->addr = a;
	out->prefix = (unsigned)prefix;
	return 0;
}

/* One entry of the policy: a block, its verdict and its rank. */
struct rule {
	uint32_t first, last;
	unsigned prefix;
	int rank; /* 0 built-in, 1 configured allow, 2 configured deny */
	int deny;
};

static const struct {
	const char *cidr;
	const char *why;
} builtin_deny[] = {
	{ "0.0.0.0/8", "this network" },
	{ "10.0.0.0/8", "private (RFC 1918)" },
	{ "100.64.0.0/10", "carrier-grade NAT (RFC 6598)" },
	{ "127.0.0.0/8", "loopback" },
	{ "168.63.129.16/32", "Azure host endpoint" },
	{ "169.254.0.0/16", "link-local, cloud metadata" },
	{ "172.16.0.0/12", "private (RFC 1918)" },
	{ "192.168.0.0/16", "private (RFC 1918)" },
	{ "224.0.0.0/4", "multicast" },
	{ "240.0.0.0/4", "reserved, broadcast" },
};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_range(const void *a, const void *b)
{
	const struct net_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static struct rule
rule_of(const struct net_cidr *c, int rank, int deny)
{
	return (struct rule){ .first = c->addr,
		.last = c->addr | ~mask_of(c->prefix),
		.prefix = c->prefix,
		.rank = rank,
		.deny = deny };
}

/* Sort and merge overlapping or adjacent ranges in place. */
static size_t
merge_ranges(struct net_range *r, size_t n)
{
	size_t m = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range);
	for (size_t i = 1; i < n; i++) {
		if ((uint64_t)r[i].first <= (uint64_t)r[m].last + 1) {
			if (r[i].last > r[m].last)
				r[m].last = r[i].last;
		} else {
			r[++m] = r[i];
		}
	}
	return m + 1;
}

int
net_policy_compile(const struct net_cidr *allow, size_t nallow,
    const struct net_cidr *deny, size_t ndeny, const struct net_cidr *always,
    size_t nalways, struct net_policy *out)
{
	size_t nb = sizeof(builtin_deny) / sizeof(builtin_deny[0]);
	size_t nr = nb + nallow + ndeny, nbound = 0, nout = 0;
	struct rule *rules = NULL;
	uint64_t *bound = NULL;
	struct net_range *res = NULL;
	int rc;

	out->deny = NULL;
	out->n = 0;
	rules = calloc(nr, sizeof(*rules));
	bound = calloc(2 * nr + 2, sizeof(*bound));
	res = calloc(nr * 2 + nalways + 1, sizeof(*res));
	if (!rules || !bound || !res) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < nb; i++) {
		struct net_cidr c;
		if (net_cidr_parse(builtin_deny[i].cidr, "built-in", &c) != 0)
			err_abort("net: built-in %s", builtin_deny[i].cidr);
		rules[i] = rule_of(&c, 0, 1);
	}
	for (size_t i = 0; i < nallow; i++)
		rules[nb + i] = rule_of(&allow[i], 1, 0);
	for (size_t i = 0; i < ndeny; i++)
		rules[nb + nallow + i] = rule_of(&deny[i], 2, 1);
	/* Blocks nest or are disjoint, so between two consecutive bounds
	 * every address has the same covering rules: decide once per
	 * elementary interval. */
	bound[nbound++] = 0;
	bound[nbound++] = 1ull << 32;
	for (size_t i = 0; i < nr; i++) {
		bound[nbound++] = rules[i].first;
		bound[nbound++] = (uint64_t)rules[i].last + 1;
	}
	qsort(bound, nbound, sizeof(*bound), cmp_u64);
	for (size_t i = 0; i + 1 < nbound; i++) {
		const struct rule *best = NULL;
		if (bound[i] == bound[i + 1])
			continue;
		for (size_t j = 0; j < nr; j++) {
			const struct rule *r = &rules[j];
			if (bound[i] < r->first || bound[i] > r->last)
				continue;
			if (!best || r->prefix > best->prefix ||
			    (r->prefix == best->prefix && r->rank > best->rank))
				best = r;
		}
		if (best && best->deny)
			res[nout++] = (struct net_range){ (uint32_t)bound[i],
				(uint32_t)(bound[i + 1] - 1) };
	}
	for (size_t i = 0; i < nalways; i++)
		res[nout++] = (struct net_range){ always[i].addr,
			always[i].addr | ~mask_of(always[i].prefix) };
	out->n = merge_ranges(res, nout);
	out->deny = res;
	res = NULL;
	rc = 0;
fail:
	free(rules);
	free(bound);
	free(res);
	return rc;
}

int
net_policy_denies(const struct net_policy *p, uint32_t addr)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < p->deny[mid].first)
			hi = mid;
		else if (addr > p->deny[mid].last)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

void
net_policy_free(struct net_policy *p)
{
	if (p == NULL)
		return;
	free(p->deny);
	p->deny = NULL;
	p->n = 0;
}

/* Names are FNV-1a hashes (util_fnv1a): short and stable, not a security
 * boundary (a collision is refused as a conflict by the kernel). */

/* splitmix64's finalizer: every input bit moves every output bit, so
 * ids differing in their last byte get unrelated names. */
static uint64_t
mix(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static uint64_t
id_hash(const char *id)
{
	return mix(util_fnv1a(id, strlen(id), UTIL_FNV1A_INIT));
}

/* Names hash the provider's scope with the id: two providers on one host
 * never share a name, even for the same id. */
static uint64_t
name_hash(const char *scope, const char *id)
{
	uint64_t h = UTIL_FNV1A_INIT;

	if (scope && *scope) {
		h = util_fnv1a(scope, strlen(scope), h);
		h = util_fnv1a("/", 1, h);
	}
	return util_fnv1a(id, strlen(id), h);
}

static uint32_t
fold32(uint64_t h)
{
	h = mix(h);
	return (uint32_t)(h ^ (h >> 32));
}

void
net_bridge_name(const char *scope, const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "lodgeb%08x", fold32(name_hash(scope, id)));
}

void
net_table_name(const char *scope, const char *id, char *buf, size_t len)
{
	if (scope && *scope)
		snprintf(buf, len, "lodge_%s_%08x", scope,
		    fold32(name_hash(scope, id)));
	else
		snprintf(buf, len, "lodge_%08x", fold32(name_hash(scope, id)));
}

void
net_veth_name(const char *scope, const char *id, unsigned index, char *buf,
    size_t len)
{
	char ix[16];
	uint64_t h = util_fnv1a("", 1, name_hash(scope, id));

	snprintf(ix, sizeof(ix), "%u", index);
	h = mix(util_fnv1a(ix, strlen(ix), h));
	snprintf(buf, len, "lodgev%09llx",
	    (unsigned long long)(h & 0xfffffffffull));
}

int
net_subnet_pick(const struct net_cidr *pool, unsigned prefix, const char *id,
    const struct net_cidr *taken, size_t ntaken, struct net_cidr *out)
{
	uint64_t nslots, start;

	if (prefix < pool->prefix || prefix > MAX_SUBNET_PREFIX)
		return err_set(ERR_RANGE,
		    "subnet prefix /%u: must be between the pool's /%u and "
		    "/%d",
		    prefix, pool->prefix, MAX_SUBNET_PREFIX);
	nslots = 1ull << (prefix - pool->prefix);
	start = id_hash(id) % nslots;
	for (uint64_t k = 0; k < nslots; k++) {
		uint64_t slot = (start + k) % nslots;
		uint32_t a = pool->addr + (uint32_t)(slot << (32 - prefix));
		int used = 0;
		for (size_t i = 0; i < ntaken && !used; i++)
			used = taken[i].addr == a;
		if (!used) {
			out->addr = a;
			out->prefix = prefix;
			return 0;
		}
	}
	return err_set(ERR_LIMIT,
	    "address pool exhausted: all %llu /%u blocks are in use",
	    (unsigned long long)nslots, prefix);
}

static const char *
proto_name(enum net_proto p)
{
	return p == NET_UDP ? "udp" : "tcp";
}

/* Close a memstream into *out, or fail. */
static int
finish_text(FILE *f, char **buf, char **out)
{
	int bad = ferror(f);

	if (fclose(f) != 0 || bad) {
		free(*buf);
		*buf = NULL;
		return err_set(ERR_NOMEM, "out of memory");
	}
	*out = *buf;
	return 0;
}

static void
print_ports(FILE *f, const char *table, const struct net_forward *fw, size_t n)
{
	char a[16];

	for (size_t i = 0; i < n; i++) {
		fprintf(f, "add rule inet %s ports %s dport %u dnat ip to ",
		    table, proto_name(fw[i].proto), fw[i].host_port);
		if (fw[i].ntargets == 1) {
			addr_text(fw[i].targets[0], a, sizeof(a));
			fprintf(f, "%s:%u\n", a, fw[i].port);
			continue;
		}
		fprintf(f, "numgen inc mod %zu map { ", fw[i].ntargets);
		for (size_t t = 0; t < fw[i].ntargets; t++) {
			addr_text(fw[i].targets[t], a, sizeof(a));
			fprintf(f, "%s%zu : %s . %u", t ? ", " : "", t, a,
			    fw[i].port);
		}
		fprintf(f, " }\n");
	}
}

int
net_ports_text(const char *table, const struct net_forward *f, size_t n,
    char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (m == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	fprintf(m, "flush chain inet %s ports\n", table);
	print_ports(m, table, f, n);
	return finish_text(m, &buf, out);
}

int
net_ruleset_text(const struct net_ruleset *r, char **out)
{
	const char *t = r->table, *b = r->bridge;
	char *buf = NULL, a[16], sub[24];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	addr_text(r->subnet.addr, a, sizeof(a));
	snprintf(sub, sizeof(sub), "%s/%u", a, r->subnet.prefix);
	/* Create-then-delete makes the delete succeed whether or not a
	 * leftover exists; all of it is one transaction. */
	fprintf(f, "table inet %s {}\ndelete table inet %s\n", t, t);
	fprintf(f, "table inet %s {\n", t);
	fprintf(f, "\tcounter egress {}\n");
	fprintf(f, "\tset deny4 { type ipv4_addr; flags interval;");
	if (r->policy && r->policy->n) {
		fprintf(f, " elements = {");
		for (size_t i = 0; i < r->policy->n; i++) {
			char x[16], y[16];
			addr_text(r->policy->deny[i].first, x, sizeof(x));
			addr_text(r->policy->deny[i].last, y, sizeof(y));
			if (r->policy->deny[i].first == r->policy->deny[i].last)
				fprintf(f, "%s %s", i ? "," : "", x);
			else
				fprintf(f, "%s %s-%s", i ? "," : "", x, y);
		}
		fprintf(f, " }");
	}
	fprintf(f, " }\n");
	fprintf(f, "\tset dns4 { type ipv4_addr;");
	if (r->ndns) {
		fprintf(f, " elements = {");
		for (size_t i = 0; i < r->ndns; i++) {
			addr_text(r->dns[i], a, sizeof(a));
			fprintf(f, "%s %s", i ? "," : "", a);
		}
		fprintf(f, " }");
	}
	fprintf(f, " }\n");
	/* Before conntrack: only the block's own IPv4 sources, never
	 * loopback destinations (the bridge has route_localnet on for
	 * forwards reached on the host's 127.0.0.1), no IPv6. */
	fprintf(f,
	    "\tchain pre {\n"
	    "\t\ttype filter hook prerouting priority raw; policy accept;\n"
	    "\t\tiifname \"%s\" meta nfproto ipv6 drop\n"
	    "\t\tiifname \"%s\" ip saddr != %s drop\n"
	    "\t\tiifname \"%s\" ip daddr 127.0.0.0/8 drop\n"
	    "\t}\n",
	    b, b, sub, b);
	/* Inside the block everything goes (as in one Akash namespace);
	 * into it only replies and forwarded ports; out of it the egress
	 * policy, except that another deployment's forwarded port (reached
	 * on a host address) is open to it as to the internet. */
	/* The host's connection tracking table is everyone's: a deployment
	 * opening connections without end (to anywhere, or to the host)
	 * would fill it, and then the host drops every new connection,
	 * the provider's and other tenants'.  New ones past NET_CONNS_MAX
	 * tracked at once (closed TCP ones not counted) are refused. */
	fprintf(f,
	    "\tchain forward {\n"
	    "\t\ttype filter hook forward priority filter; policy accept;\n"
	    "\t\tiifname \"%s\" ct state new ct count over %d counter "
	    "reject with icmpx admin-prohibited\n"
	    "\t\tiifname \"%s\" oifname \"%s\" accept\n"
	    "\t\toifname \"%s\" ct state established,related accept\n"
	    "\t\toifname \"%s\" ct status dnat accept\n"
	    "\t\toifname \"%s\" reject with icmpx admin-prohibited\n"
	    "\t\tiifname \"%s\" jump egress\n"
	    "\t}\n",
	    b, NET_CONNS_MAX, b, b, b, b, b, b);
	fprintf(f,
	    "\tchain egress {\n"
	    "\t\tct state established,related counter name egress accept\n");
	if (!r->egress_off)
		fprintf(f,
		    "\t\toifname \"lodgeb*\" ct status dnat counter name "
		    "egress accept\n");
	fprintf(f,
	    "\t\toifname \"lodgeb*\" reject with icmpx admin-prohibited\n");
	if (!r->egress_off)
		fprintf(f,
		    "\t\tip daddr @dns4 udp dport 53 counter name egress "
		    "accept\n"
		    "\t\tip daddr @dns4 tcp dport 53 counter name egress "
		    "accept\n"
		    "\t\tip daddr @deny4 reject with icmpx admin-prohibited\n"
		    "\t\tmeta nfproto ipv4 counter name egress accept\n");
	fprintf(f, "\t\treject with icmpx admin-prohibited\n\t}\n");
	/* The host itself: only replies to what it opened, and DNS when a
	 * nameserver is one of its addresses. */
	fprintf(f,
	    "\tchain input {\n"
	    "\t\ttype filter hook input priority filter; policy accept;\n"
	    "\t\tiifname \"%s\" ct state new ct count over %d "
	    "reject with icmpx admin-prohibited\n"
	    "\t\tiifname \"%s\" ct state established,related accept\n",
	    b, NET_CONNS_MAX, b);
	if (!r->egress_off)
		fprintf(f,
		    "\t\tiifname \"%s\" ip daddr @dns4 udp dport 53 accept\n"
		    "\t\tiifname \"%s\" ip daddr @dns4 tcp dport 53 accept\n",
		    b, b);
	fprintf(f,
	    "\t\tiifname \"%s\" reject with icmpx admin-prohibited\n"
	    "\t}\n",
	    b);
	/* Nor may the host's processes open connections into the block,
	 * except through a forwarded port. */
	fprintf(f,
	    "\tchain output {\n"
	    "\t\ttype filter hook output priority filter; policy accept;\n"
	    "\t\toifname \"%s\" ct state established,related accept\n"
	    "\t\toifname \"%s\" ct status dnat accept\n"
	    "\t\toifname \"%s\" reject with icmpx admin-prohibited\n"
	    "\t}\n",
	    b, b, b);
	fprintf(f,
	    "\tchain ports {\n\t}\n"
	    "\tchain prerouting {\n"
	    "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	    "\t\tfib daddr type local jump ports\n"
	    "\t}\n"
	    "\tchain outnat {\n"
	    "\t\ttype nat hook output priority -100; policy accept;\n"
	    "\t\tfib daddr type local jump ports\n"
	    "\t}\n");
	/* Out: masquerade.  Into the block: a replica reaching its own
	 * forwarded port (hairpin) or the host's loopback reaching one must
	 * come back through the host, so those are masqueraded too. */
	fprintf(f,
	    "\tchain postrouting {\n"
	    "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
	    "\t\tip saddr %s oifname != \"%s\" masquerade\n"
	    "\t\toifname \"%s\" ct status dnat ip saddr %s masquerade\n"
	    "\t\toifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n"
	    "\t}\n"
	    "}\n",
	    sub, b, b, sub, b);
	return finish_text(f, &buf, out);
}

/* ---- the live networks ---- */

struct replica {
	char *service;
	unsigned replica;
	uint32_t addr;
};

struct port {
	uint16_t host_port, port;
	enum net_proto proto;
	char *service;
};

struct dep {
	char *id;
	char bridge[NET_IFNAME_SIZE], table[NET_TABLE_SIZE];
	struct net_cidr subnet;
	struct replica *reps;
	size_t nreps;
	struct port *ports;
	size_t nports;
	struct dep *next;
};

struct net {
	pthread_mutex_t mu;
	char scope[NET_SCOPE_MAX + 1];
	struct net_cidr pool;
	unsigned prefix;
	int egress_off;
	struct net_policy policy;
	uint32_t dns[NET_DNS_MAX];
	size_t ndns;
	uint16_t port_min, port_max;
	unsigned mtu;
	char ip[64], nft[64];
	struct dep *deps;
};

void
net_config_init(struct net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pool = NET_POOL_DEFAULT;
	cfg->subnet_prefix = NET_SUBNET_PREFIX_DEFAULT;
	cfg->port_min = NET_PORT_MIN_DEFAULT;
	cfg->port_max = NET_PORT_MAX_DEFAULT;
}

static int
parse_list(const char *const *list, const char *what, struct net_cidr **out,
    size_t *n)
{
	size_t k = 0;
	char name[64];

	*out = NULL;
	*n = 0;
	while (list && list[k])
		k++;
	if (k > MAX_LIST)
		return err_set(ERR_LIMIT, "%s: more than %d entries", what,
		    MAX_LIST);
	if (k == 0)
		return 0;
	if ((*out = calloc(k, sizeof(**out))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < k; i++) {
		int rc;
		snprintf(name, sizeof(name), "%s[%zu]", what, i);
		if ((rc = net_cidr_parse(list[i], name, &(*out)[i])) != 0) {
			free(*out);
			*out = NULL;
			return rc;
		}
	}
	*n = k;
	return 0;
}

static int lodge_link(const char *name);

/* What `ip -o link show dev name` says of interface name, in this
 * thread's network namespace (/sys/class/net may be another's): its
 * alias ("" when none), its master ("" when none), whether it is up.
 * -1 when there is no such interface. */
static int
link_info(const char *ip, const char *name, char *alias, size_t alen,
    char *master, size_t mlen, int *up)
{
	const char *argv[] = { ip, "-o", "link", "show", "dev", name, NULL };
	char *text = NULL, *p;

	alias[0] = master[0] = 0;
	*up = 0;
	if (tool_run(argv, NULL, -1, TOOL_TIMEOUT_MS, &text) != 0) {
		err_clear();
		free(text);
		return -1;
	}
	text[strcspn(text, "\n")] = 0;
	if ((p = strstr(text, "\\    alias ")) != NULL)
		snprintf(alias, alen, "%s", p + 11);
	if ((p = strstr(text, " master ")) != NULL)
		snprintf(master, mlen, "%.*s", (int)strcspn(p + 8, " "), p + 8);
	*up =
	    strstr(text, "<UP") || strstr(text, ",UP,") || strstr(text, ",UP>");
	free(text);
	return 0;
}

/* 1 when name is a bridge this module made for scope ("" or NULL: none):
 * "lodgeb" + 8 hex digits with the alias "lodge:SCOPE:ID". */
static int
scope_bridge(const char *scope, const char *name)
{
	char alias[256], prefix[64], ip[64], master[32];
	int up;

	if (!lodge_link(name) || name[5] != 'b')
		return 0;
	if (tool_find("ip", "iproute2", ip, sizeof(ip)) != 0) {
		err_clear();
		return 0;
	}
	if (link_info(ip, name, alias, sizeof(alias), master, sizeof(master),
	        &up) != 0)
		return 0;
	snprintf(prefix, sizeof(prefix), "lodge:%s:", scope ? scope : "");
	return strncmp(alias, prefix, strlen(prefix)) == 0;
}

/* The host's IPv4 addresses as /32 blocks (malloc'd), but those of
 * scope's bridges (left by a previous process, for adoption). */
static int
host_addresses(const char *scope, struct net_cidr **out, size_t *n)
{
	struct ifaddrs *ifa, *i;
	size_t k = 0, cap = 0;

	*out = NULL;
	*n = 0;
	if (getifaddrs(&ifa) != 0)
		return err_set(ERR_IO, "getifaddrs: %s", strerror(errno));
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    scope_bridge(scope, i->ifa_name))
			continue;
		if (k == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct net_cidr *p = realloc(*out, nc * sizeof(*p));
			if (!p) {
				freeifaddrs(ifa);
				free(*out);
				*out = NULL;
				return err_set(ERR_NOMEM, "out of memory");
			}
			*out = p;
			cap = nc;
		}
		(*out)[k].addr =
		    ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)
		              ->sin_addr.s_addr);
		(*out)[k++].prefix = 32;
	}
	freeifaddrs(ifa);
	*n = k;
	return 0;
}

/* resolv.conf's IPv4 nameservers that a replica can reach (not
 * loopback: the replica's 127.0.0.1 is its own). */
static void
resolv_nameservers(const char *path, uint32_t *dns, size_t *n)
{
	char *text = NULL, *save = NULL;
	size_t len;

	*n = 0;
	if (util_read_file(path, 1 << 16, &text, &len) != 0) {
		err_clear();
		return;
	}
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char addr[64];
		struct in_addr in;
		if (sscanf(line, " nameserver %63s", addr) != 1)
			continue;
		if (inet_pton(AF_INET, addr, &in) != 1)
			continue;
		if ((ntohl(in.s_addr) >> 24) == 127 || *n == NET_DNS_MAX)
			continue;
		dns[(*n)++] = ntohl(in.s_addr);
	}
	free(text);
}

/* MTU of the device of the IPv4 default route, or 1500. */
static unsigned
default_mtu(void)
{
	char *text = NULL, *save = NULL, path[128];
	unsigned mtu = 1500;
	size_t len;

	if (util_read_file("/proc/net/route", 1 << 20, &text, &len) != 0) {
		err_clear();
		return mtu;
	}
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char dev[IF_NAMESIZE + 1], *v = NULL;
		unsigned dst, gw, flags;
		size_t vl;
		if (sscanf(line, "%16s %x %x %x", dev, &dst, &gw, &flags) !=
		        4 ||
		    dst != 0 || !(flags & 1))
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", dev);
		if (util_read_file(path, 64, &v, &vl) == 0) {
			unsigned m = (unsigned)strtoul(v, NULL, 10);
			if (m >= 576 && m <= 65535)
				mtu = m;
		} else {
			err_clear();
		}
		free(v);
		break;
	}
	free(text);
	return mtu;
}

static int
valid_scope(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NET_SCOPE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

static int
overlaps(const struct net_cidr *a, const struct net_cidr *b)
{
	unsigned p = a->prefix < b->prefix ? a->prefix : b->prefix;

	return (a->addr & mask_of(p)) == (b->addr & mask_of(p));
}

int
net_new(const struct net_config *cfg, struct net **out)
{
	struct net_cidr *allow = NULL, *deny = NULL, *always = NULL;
	size_t nallow = 0, ndeny = 0, nhost = 0;
	struct net *n;
	int rc;

	*out = NULL;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	pthread_mutex_init(&n->mu, NULL);
	if (cfg->scope && *cfg->scope) {
		if (!valid_scope(cfg->scope)) {
			rc = err_set(ERR_INVAL,
			    "scope \"%s\": expected 1-%d of [a-z0-9]",
			    cfg->scope, NET_SCOPE_MAX);
			goto fail;
		}
		snprintf(n->scope, sizeof(n->scope), "%s", cfg->scope);
	}
	if ((rc = net_cidr_parse(cfg->pool ? cfg->pool : NET_POOL_DEFAULT,
	         "pool", &n->pool)) != 0)
		goto fail;
	n->prefix =
	    cfg->subnet_prefix ? cfg->subnet_prefix : NET_SUBNET_PREFIX_DEFAULT;
	if (n->prefix < n->pool.prefix || n->prefix > MAX_SUBNET_PREFIX) {
		rc = err_set(ERR_RANGE,
		    "subnet prefix /%u: must be between the pool's /%u and "
		    "/%d",
		    n->prefix, n->pool.prefix, MAX_SUBNET_PREFIX);
		goto fail;
	}
	n->port_min = cfg->port_min ? cfg->port_min : NET_PORT_MIN_DEFAULT;
	n->port_max = cfg->port_max ? cfg->port_max : NET_PORT_MAX_DEFAULT;
	if (n->port_min > n->port_max) {
		rc = err_set(ERR_RANGE, "port range %u-%u: empty", n->port_min,
		    n->port_max);
		goto fail;
	}
	n->egress_off = cfg->egress_off;
	if (cfg->mtu && (cfg->mtu < 576 || cfg->mtu > 65535)) {
		rc = err_set(ERR_RANGE, "mtu %u: must be 576-65535", cfg->mtu);
		goto fail;
	}
	n->mtu = cfg->mtu ? cfg->mtu : default_mtu();
	if ((rc = parse_list(cfg->egress_allow, "egress_allow", &allow,
	         &nallow)) != 0 ||
	    (rc = parse_list(cfg->egress_deny, "egress_deny", &deny, &ndeny)) !=
	        0)
		goto fail;
	if (cfg->dns) {
		for (size_t i = 0; cfg->dns[i]; i++) {
			char name[32];
			struct net_cidr c;
			snprintf(name, sizeof(name), "dns[%zu]", i);
			if (i == NET_DNS_MAX) {
				rc = err_set(ERR_LIMIT,
				    "dns: more than %d nameservers",
				    NET_DNS_MAX);
				goto fail;
			}
			if ((rc = net_cidr_parse(cfg->dns[i], name, &c)) != 0)
				goto fail;
			if (c.prefix != 32 || (c.addr >> 24) == 127) {
				rc = err_set(ERR_INVAL,
				    "%s: %s: expected one address a replica "
				    "can "
				    "reach (not loopback: a replica's "
				    "127.0.0.1 "
				    "is its own)",
				    name, cfg->dns[i]);
				goto fail;
			}
			n->dns[n->ndns++] = c.addr;
		}
	} else {
		resolv_nameservers(cfg->resolv_conf ? cfg->resolv_conf :
		                                      "/etc/resolv.conf",
		    n->dns, &n->ndns);
	}
	if ((rc = host_addresses(n->scope, &always, &nhost)) != 0)
		goto fail;
	for (size_t i = 0; i < nhost; i++) {
		if (overlaps(&always[i], &n->pool)) {
			char a[16];
			addr_text(always[i].addr, a, sizeof(a));
			rc = err_set(ERR_CONFLICT,
			    "pool %s: the host already has address %s in it "
			    "(choose another pool)",
			    cfg->pool ? cfg->pool : NET_POOL_DEFAULT, a);
			goto fail;
		}
	}
	{
		struct net_cidr *p =
		    realloc(always, (nhost + 1) * sizeof(*always));
		if (!p) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
		always = p;
		always[nhost++] = n->pool;
	}
	if ((rc = net_policy_compile(allow, nallow, deny, ndeny, always, nhost,
	         &n->policy)) != 0)
		goto fail;
	if ((rc = tool_find("ip", "iproute2", n->ip, sizeof(n->ip))) != 0 ||
	    (rc = tool_find("nft", "nftables", n->nft, sizeof(n->nft))) != 0)
		goto fail;
	if (geteuid() != 0) {
		rc = err_set(ERR_REJECT,
		    "deployment networks need root (bridges, veths and "
		    "nftables rules in the host's network namespace)");
		goto fail;
	}
	*out = n;
	n = NULL;
	rc = 0;
fail:
	free(allow);
	free(deny);
	free(always);
	net_free(n);
	return rc;
}

static void
dep_free(struct dep *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nreps; i++)
		free(d->reps[i].service);
	for (size_t i = 0; i < d->nports; i++)
		free(d->ports[i].service);
	free(d->reps);
	free(d->ports);
	free(d->id);
	free(d);
}

void
net_free(struct net *n)
{
	if (n == NULL)
		return;
	while (n->deps) {
		struct dep *d = n->deps;
		n->deps = d->next;
		dep_free(d);
	}
	net_policy_free(&n->policy);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

const struct net_policy *
net_egress_policy(const struct net *n)
{
	return &n->policy;
}

static struct dep *
find_dep(struct net *n, const char *id)
{
	for (struct dep *d = n->deps; d; d = d->next)
		if (strcmp(d->id, id) == 0)
			return d;
	return NULL;
}

static int
find_replica(struct net *n, const char *id, const char *service,
    unsigned replica, struct dep **dp, size_t *index)
{
	struct dep *d = find_dep(n, id);

	if (d == NULL)
		return err_set(ERR_NOTFOUND, "deployment %s: no network", id);
	for (size_t i = 0; i < d->nreps; i++) {
		if (strcmp(d->reps[i].service, service) == 0 &&
		    d->reps[i].replica == replica) {
			*dp = d;
			*index = i;
			return 0;
		}
	}
	return err_set(ERR_NOTFOUND,
	    "deployment %s: no replica %u of service %s", id, replica, service);
}

/* Write a sysctl in the caller's network namespace. */
static int
sysctl_write(const char *path, const char *value)
{
	FILE *f = fopen(path, "we");

	if (f == NULL)
		return err_set(ERR_IO, "%s: %s", path, strerror(errno));
	fputs(value, f);
	if (fclose(f) != 0)
		return err_set(ERR_IO, "%s: %s", path, strerror(errno));
	return 0;
}

static int
run_ip(struct net *n, const char *batch, int netns_fd)
{
	const char *argv[] = { n->ip, "-batch", "-", NULL };

	return tool_run(argv, batch, netns_fd, TOOL_TIMEOUT_MS, NULL);
}

static int
run_nft(const char *nft, const char *script, char **out)
{
	const char *argv[] = { nft, "-f", "-", NULL };

	return tool_run(argv, script, -1, TOOL_TIMEOUT_MS, out);
}

/* ip link del, when the link exists. */
static int
link_del(const char *ip, const char *name)
{
	const char *argv[] = { ip, "link", "del", "dev", name, NULL };

	if (if_nametoindex(name) == 0)
		return 0;
	if (tool_run(argv, NULL, -1, TOOL_TIMEOUT_MS, NULL) == 0)
		return 0;
	if (if_nametoindex(name) == 0) { /* went away meanwhile */
		err_clear();
		return 0;
	}
	return err_prefix(ERR_IO, "removing %s", name);
}

static int
table_del(const char *nft, const char *table)
{
	char script[192];

	snprintf(script, sizeof(script),
	    "table inet %s {}\ndelete table inet %s\n", table, table);
	return run_nft(nft, script, NULL);
}

static int
valid_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* Ids go into ip's batch input and interface aliases: a plain set. */
static int
valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > NET_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		        (id[i] >= 'A' && id[i] <= 'Z') ||
		        (id[i] >= '0' && id[i] <= '9') || id[i] == '-' ||
		        id[i] == '_' || id[i] == '.'))
			return 0;
	return 1;
}

static int
ipv6_present(void)
{
	return access("/proc/sys/net/ipv6", F_OK) == 0;
}

/* Remove d's kernel objects, all of them even when one fails; the first
 * failure is the one reported. */
static int
dep_teardown(struct net *n, const struct dep *d)
{
	struct err_saved first;
	int rc = 0, r;

	if ((r = table_del(n->nft, d->table)) != 0) {
		rc = r;
		err_save(&first);
	}
	for (size_t i = 0; i < d->nreps; i++) {
		char v[NET_IFNAME_SIZE];
		net_veth_name(n->scope, d->id, (unsigned)i, v, sizeof(v));
		if ((r = link_del(n->ip, v)) != 0 && rc == 0) {
			rc = r;
			err_save(&first);
		}
	}
	if ((r = link_del(n->ip, d->bridge)) != 0 && rc == 0) {
		rc = r;
		err_save(&first);
	}
	if (rc != 0)
		err_restore(&first);
	return rc;
}

/* Bridge, then table.  Leftovers under the same names are replaced. */
static int
dep_setup(struct net *n, struct dep *d)
{
	struct net_ruleset rs = { .table = d->table,
		.bridge = d->bridge,
		.subnet = d->subnet,
		.egress_off = n->egress_off,
		.policy = &n->policy,
		.dns = n->dns,
		.ndns = n->ndns };
	char batch[1024], gw[16], path[128], addrgen[128] = "";
	char *script = NULL;
	int rc;

	for (size_t i = 0; i < d->nreps; i++) {
		char v[NET_IFNAME_SIZE];
		net_veth_name(n->scope, d->id, (unsigned)i, v, sizeof(v));
		if ((rc = link_del(n->ip, v)) != 0)
			return rc;
	}
	if ((rc = link_del(n->ip, d->bridge)) != 0)
		return rc;
	if ((rc = sysctl_write("/proc/sys/net/ipv4/ip_forward", "1")) != 0)
		return err_prefix(rc, "enabling IPv4 forwarding");
	addr_text(d->subnet.addr + 1, gw, sizeof(gw));
	/* No IPv6 link-local address: replicas get IPv4 only, and the host
	 * must not be reachable over fe80::. */
	if (ipv6_present())
		snprintf(addrgen, sizeof(addrgen),
		    "link set dev %s addrgenmode none\n", d->bridge);
	/* The alias says whose it is, for net_cleanup_all(scope). */
	snprintf(batch, sizeof(batch),
	    "link add name %s mtu %u type bridge\n"
	    "link set dev %s alias \"lodge:%s:%s\"\n"
	    "%s"
	    "address add %s/%u dev %s\n"
	    "link set dev %s up\n",
	    d->bridge, n->mtu, d->bridge, n->scope, d->id, addrgen, gw,
	    d->subnet.prefix, d->bridge, d->bridge);
	if ((rc = run_ip(n, batch, -1)) != 0) {
		err_prefix(rc, "creating bridge %s", d->bridge);
		goto fail;
	}
	/* The host's 127.0.0.1 may reach a forwarded port: that needs
	 * loopback sources routed out of (and replies into) the bridge;
	 * the table's pre chain drops loopback arriving from replicas. */
	snprintf(path, sizeof(path),
	    "/proc/sys/net/ipv4/conf/%s/route_localnet", d->bridge);
	if ((rc = sysctl_write(path, "1")) != 0)
		goto fail;
	if ((rc = net_ruleset_text(&rs, &script)) != 0)
		goto fail;
	if ((rc = run_nft(n->nft, script, NULL)) != 0) {
		err_prefix(rc, "loading table inet %s", d->table);
		goto fail;
	}
	free(script);
	return 0;
fail:
	free(script);
	{
		struct err_saved s;
		err_save(&s);
		dep_teardown(n, d);
		err_restore(&s);
	}
	return rc;
}

/* Check id and the services, and count their replicas into *total. */
static int
services_check(struct net *n, const char *id, const struct net_service *svcs,
    size_t nsvcs, size_t *total_out)
{
	size_t total = 0, cap;

	if (id == NULL || !valid_id(id))
		return err_set(ERR_INVAL,
		    "deployment id \"%s\": expected 1-%d of [A-Za-z0-9._-]",
		    id ? id : "", NET_ID_MAX);
	if (nsvcs == 0)
		return err_set(ERR_INVAL, "deployment %s: no services", id);
	for (size_t i = 0; i < nsvcs; i++) {
		if (!svcs[i].name || !valid_label(svcs[i].name))
			return err_set(ERR_INVAL,
			    "deployment %s: service name \"%s\": expected a "
			    "DNS label ([A-Za-z0-9-], 1-63, no leading or "
			    "trailing '-')",
			    id, svcs[i].name ? svcs[i].name : "");
		if (svcs[i].replicas == 0)
			return err_set(ERR_INVAL,
			    "deployment %s: service %s: no replicas", id,
			    svcs[i].name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(svcs[i].name, svcs[j].name) == 0)
				return err_set(ERR_INVAL,
				    "deployment %s: service %s listed twice",
				    id, svcs[i].name);
		total += svcs[i].replicas;
	}
	/* network, gateway and broadcast addresses are not replicas' */
	cap = ((size_t)1 << (32 - n->prefix)) - 3;
	if (total > cap)
		return err_set(ERR_LIMIT,
		    "deployment %s: %zu replicas do not fit in a /%u block "
		    "(at most %zu)",
		    id, total, n->prefix, cap);
	*total_out = total;
	return 0;
}

/* The replicas of svcs into d->reps (allocated for all of them), with
 * their addresses in d->subnet. */
static int
reps_fill(struct dep *d, const struct net_service *svcs, size_t nsvcs)
{
	for (size_t i = 0; i < nsvcs; i++) {
		for (unsigned r = 0; r < svcs[i].replicas; r++) {
			struct replica *p = &d->reps[d->nreps];
			if ((p->service = strdup(svcs[i].name)) == NULL)
				return err_set(ERR_NOMEM, "out of memory");
			p->replica = r;
			p->addr = d->subnet.addr + 2 + (uint32_t)d->nreps;
			d->nreps++;
		}
	}
	return 0;
}

/* The blocks of the pool that bridges of the host other than except hold
 * (left for adoption, or not removed yet), appended to *taken. */
static int
held_blocks(struct net *n, const char *except, struct net_cidr **taken,
    size_t *ntaken)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) != 0)
		return err_set(ERR_IO, "getifaddrs: %s", strerror(errno));
	for (i = ifa; i; i = i->ifa_next) {
		struct net_cidr c;
		struct net_cidr *p;
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    !lodge_link(i->ifa_name) || i->ifa_name[5] != 'b' ||
		    strcmp(i->ifa_name, except) == 0)
			continue;
		c.addr = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)
		                   ->sin_addr.s_addr) &
		    mask_of(n->prefix);
		c.prefix = n->prefix;
		if (!overlaps(&c, &n->pool))
			continue;
		if ((p = realloc(*taken, (*ntaken + 1) * sizeof(*p))) == NULL) {
			freeifaddrs(ifa);
			return err_set(ERR_NOMEM, "out of memory");
		}
		*taken = p;
		p[(*ntaken)++] = c;
	}
	freeifaddrs(ifa);
	return 0;
}

int
net_deployment_add(struct net *n, const char *id,
    const struct net_service *svcs, size_t nsvcs)
{
	struct net_cidr *taken = NULL;
	size_t ntaken = 0, total = 0;
	struct dep *d = NULL;
	char bridge[NET_IFNAME_SIZE];
	int rc;

	if ((rc = services_check(n, id, svcs, nsvcs, &total)) != 0)
		return rc;
	pthread_mutex_lock(&n->mu);
	if (find_dep(n, id)) {
		rc = err_set(ERR_CONFLICT, "deployment %s: has a network", id);
		goto fail;
	}
	for (struct dep *e = n->deps; e; e = e->next)
		ntaken++;
	if (ntaken && (taken = calloc(ntaken, sizeof(*taken))) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	ntaken = 0;
	for (struct dep *e = n->deps; e; e = e->next)
		taken[ntaken++] = e->subnet;
	/* Nor a block a leftover bridge still holds (its own is replaced). */
	net_bridge_name(n->scope, id, bridge, sizeof(bridge));
	if ((rc = held_blocks(n, bridge, &taken, &ntaken)) != 0)
		goto fail;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->id = strdup(id)) == NULL ||
	    (d->reps = calloc(total, sizeof(*d->reps))) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = net_subnet_pick(&n->pool, n->prefix, id, taken, ntaken,
	         &d->subnet)) != 0) {
		err_prefix(rc, "deployment %s", id);
		goto fail;
	}
	net_bridge_name(n->scope, id, d->bridge, sizeof(d->bridge));
	net_table_name(n->scope, id, d->table, sizeof(d->table));
	for (struct dep *e = n->deps; e; e = e->next) {
		if (strcmp(e->bridge, d->bridge) == 0) {
			rc = err_set(ERR_CONFLICT,
			    "deployment %s: its network name %s is taken by "
			    "deployment %s",
			    id, d->bridge, e->id);
			goto fail;
		}
	}
	/* The names of a live deployment are never taken over: setup
	 * removes leftovers under the new deployment's names. */
	for (struct dep *e = n->deps; e; e = e->next) {
		for (size_t i = 0; i < e->nreps; i++) {
			char a[NET_IFNAME_SIZE], b[NET_IFNAME_SIZE];
			net_veth_name(n->scope, e->id, (unsigned)i, a,
			    sizeof(a));
			for (size_t j = 0; j < total; j++) {
				net_veth_name(n->scope, id, (unsigned)j, b,
				    sizeof(b));
				if (strcmp(a, b) == 0) {
					rc = err_set(ERR_CONFLICT,
					    "deployment %s: interface name %s "
					    "is taken by deployment %s",
					    id, b, e->id);
					goto fail;
				}
			}
		}
	}
	if ((rc = reps_fill(d, svcs, nsvcs)) != 0)
		goto fail;
	if ((rc = dep_setup(n, d)) != 0) {
		err_prefix(rc, "deployment %s", id);
		goto fail;
	}
	d->next = n->deps;
	n->deps = d;
	d = NULL;
	rc = 0;
fail:
	pthread_mutex_unlock(&n->mu);
	free(taken);
	dep_free(d);
	return rc;
}

/* Deployment id's network taken out of n's list (for the caller to tear
 * down or forget and free), or NULL with ERR_NOTFOUND set. */
static struct dep *
dep_take(struct net *n, const char *id)
{
	struct dep **pp, *d = NULL;

	pthread_mutex_lock(&n->mu);
	for (pp = &n->deps; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id) == 0) {
			d = *pp;
			*pp = d->next;
			break;
		}
	}
	pthread_mutex_unlock(&n->mu);
	if (d == NULL)
		err_set(ERR_NOTFOUND, "deployment %s: no network", id);
	return d;
}

int
net_deployment_remove(struct net *n, const char *id)
{
	struct dep *d;
	int rc;

	if ((d = dep_take(n, id)) == NULL)
		return ERR_NOTFOUND;
	rc = dep_teardown(n, d);
	if (rc != 0)
		err_prefix(rc, "deployment %s", id);
	dep_free(d);
	return rc;
}

int
net_replica_attach(struct net *n, const char *id, const char *service,
    unsigned replica, int netns_fd)
{
	char v[NET_IFNAME_SIZE], a[16], gw[16], host[1024], inside[512];
	const char *six;
	struct dep *d;
	size_t i;
	int rc;

	if (netns_fd < 0)
		return err_set(ERR_INVAL, "replica %s.%u: no network namespace",
		    service, replica);
	pthread_mutex_lock(&n->mu);
	if ((rc = find_replica(n, id, service, replica, &d, &i)) != 0)
		goto out;
	net_veth_name(n->scope, id, (unsigned)i, v, sizeof(v));
	addr_text(d->reps[i].addr, a, sizeof(a));
	addr_text(d->subnet.addr + 1, gw, sizeof(gw));
	six = ipv6_present() ? "" : "#";
	/* The peer is created straight in the replica's namespace, opened
	 * by ip through this process's descriptor. */
	snprintf(host, sizeof(host),
	    "link add name %s mtu %u type veth peer name %s mtu %u netns "
	    "/proc/%ld/fd/%d\n"
	    "link set dev %s alias \"lodge:%s:%s:%zu\"\n"
	    "%slink set dev %s addrgenmode none\n"
	    "link set dev %s master %s\n"
	    "link set dev %s up\n",
	    v, n->mtu, NET_REPLICA_IFNAME, n->mtu, (long)getpid(), netns_fd, v,
	    n->scope, d->id, i, six, v, v, d->bridge, v);
	snprintf(inside, sizeof(inside),
	    "link set dev lo up\n"
	    "%slink set dev %s addrgenmode none\n"
	    "address add %s/%u dev %s\n"
	    "link set dev %s up\n"
	    "route add default via %s dev %s\n",
	    six, NET_REPLICA_IFNAME, a, d->subnet.prefix, NET_REPLICA_IFNAME,
	    NET_REPLICA_IFNAME, gw, NET_REPLICA_IFNAME);
	if ((rc = link_del(n->ip, v)) != 0)
		goto out;
	if ((rc = run_ip(n, host, -1)) != 0) {
		err_prefix(rc, "creating veth %s", v);
		goto undo;
	}
	if ((rc = run_ip(n, inside, netns_fd)) != 0) {
		err_prefix(rc, "configuring %s inside the replica",
		    NET_REPLICA_IFNAME);
		goto undo;
	}
	goto out;
undo : {
	struct err_saved s;
	err_save(&s);
	link_del(n->ip, v);
	err_restore(&s);
}
out:
	if (rc != 0)
		err_prefix(rc, "deployment %s: replica %s.%u", id, service,
		    replica);
	pthread_mutex_unlock(&n->mu);
	return rc;
}

int
net_replica_detach(struct net *n, const char *id, const char *service,
    unsigned replica)
{
	char v[NET_IFNAME_SIZE];
	struct dep *d;
	size_t i;
	int rc;

	pthread_mutex_lock(&n->mu);
	if ((rc = find_replica(n, id, service, replica, &d, &i)) == 0) {
		net_veth_name(n->scope, id, (unsigned)i, v, sizeof(v));
		rc = link_del(n->ip, v);
	}
	pthread_mutex_unlock(&n->mu);
	return rc;
}

int
net_replica_address(struct net *n, const char *id, const char *service,
    unsigned replica, char *buf, size_t len)
{
	struct dep *d;
	size_t i;
	int rc;

	pthread_mutex_lock(&n->mu);
	if ((rc = find_replica(n, id, service, replica, &d, &i)) == 0)
		addr_text(d->reps[i].addr, buf, len);
	pthread_mutex_unlock(&n->mu);
	return rc;
}

int
net_hosts(struct net *n, const char *id, char **out)
{
	char *buf = NULL, a[16];
	size_t len = 0;
	struct dep *d;
	FILE *f;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&n->mu);
	if ((d = find_dep(n, id)) == NULL) {
		rc = err_set(ERR_NOTFOUND, "deployment %s: no network", id);
		goto out;
	}
	if ((f = open_memstream(&buf, &len)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < d->nreps; i++) {
		addr_text(d->reps[i].addr, a, sizeof(a));
		fprintf(f, "%s\t%s\n", a, d->reps[i].service);
	}
	rc = finish_text(f, &buf, out);
out:
	pthread_mutex_unlock(&n->mu);
	return rc;
}

int
net_resolv_conf(struct net *n, char **out)
{
	char *buf = NULL, a[16];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*out = NULL;
	if (f == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n->ndns; i++) {
		addr_text(n->dns[i], a, sizeof(a));
		fprintf(f, "nameserver %s\n", a);
	}
	return finish_text(f, &buf, out);
}

/* 1 when a host socket holds port (proto): forwarding it would steal
 * that socket's traffic. */
static int
port_bound(uint16_t port, enum net_proto proto)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY) };
	int fd = socket(AF_INET,
	    (proto == NET_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	int bound;

	if (fd < 0)
		return 0;
	bound = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
	    errno == EADDRINUSE;
	close(fd);
	return bound;
}

static int
port_forwarded(struct net *n, uint16_t host_port, enum net_proto proto)
{
	for (struct dep *d = n->deps; d; d = d->next)
		for (size_t i = 0; i < d->nports; i++)
			if (d->ports[i].host_port == host_port &&
			    d->ports[i].proto == proto)
				return 1;
	return 0;
}

/* The nft script that sets d's forwarded ports (malloc'd). */
static int
ports_script(const struct dep *d, char **script)
{
	struct net_forward *fw = NULL;
	uint32_t *targets = NULL;
	size_t k = 0;
	int rc;

	*script = NULL;
	if ((d->nports && (fw = calloc(d->nports, sizeof(*fw))) == NULL) ||
	    (targets = calloc(d->nports * d->nreps + 1, sizeof(*targets))) ==
	        NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < d->nports; i++) {
		fw[i] =
		    (struct net_forward){ .host_port = d->ports[i].host_port,
			    .proto = d->ports[i].proto,
			    .port = d->ports[i].port,
			    .targets = targets + k };
		for (size_t r = 0; r < d->nreps; r++) {
			if (strcmp(d->reps[r].service, d->ports[i].service) ==
			    0) {
				targets[k++] = d->reps[r].addr;
				fw[i].ntargets++;
			}
		}
	}
	rc = net_ports_text(d->table, fw, d->nports, script);
fail:
	free(fw);
	free(targets);
	return rc;
}

/* Load d's forwarded ports into its table's ports chain. */
static int
ports_apply(struct net *n, struct dep *d)
{
	char *script = NULL;
	int rc;

	if ((rc = ports_script(d, &script)) != 0)
		return rc;
	if ((rc = run_nft(n->nft, script, NULL)) != 0)
		err_prefix(rc, "forwarding ports in table inet %s", d->table);
	free(script);
	return rc;
}

int
net_port_add(struct net *n, const char *id, const char *service, uint16_t port,
    enum net_proto proto, uint16_t *host_port)
{
	struct dep *d;
	struct port *np;
	uint16_t hp = *host_port;
	int rc, known = 0;

	if (port == 0)
		return err_set(ERR_RANGE, "deployment %s: service %s: port 0",
		    id, service);
	pthread_mutex_lock(&n->mu);
	if ((d = find_dep(n, id)) == NULL) {
		rc = err_set(ERR_NOTFOUND, "deployment %s: no network", id);
		goto out;
	}
	for (size_t r = 0; r < d->nreps && !known; r++)
		known = strcmp(d->reps[r].service, service) == 0;
	if (!known) {
		rc = err_set(ERR_NOTFOUND, "deployment %s: no service %s", id,
		    service);
		goto out;
	}
	if (hp) {
		if (hp < n->port_min || hp > n->port_max) {
			rc = err_set(ERR_RANGE,
			    "host port %u: outside the range %u-%u", hp,
			    n->port_min, n->port_max);
			goto out;
		}
		if (port_forwarded(n, hp, proto) || port_bound(hp, proto)) {
			rc = err_set(ERR_CONFLICT, "host port %u/%s: in use",
			    hp, proto_name(proto));
			goto out;
		}
	} else {
		for (uint32_t p = n->port_min; p <= n->port_max && !hp; p++)
			if (!port_forwarded(n, (uint16_t)p, proto) &&
			    !port_bound((uint16_t)p, proto))
				hp = (uint16_t)p;
		if (!hp) {
			rc = err_set(ERR_LIMIT,
			    "no free host port in %u-%u for %s", n->port_min,
			    n->port_max, proto_name(proto));
			goto out;
		}
	}
	np = realloc(d->ports, (d->nports + 1) * sizeof(*np));
	if (np == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	d->ports = np;
	np[d->nports] = (struct port){ .host_port = hp,
		.port = port,
		.proto = proto,
		.service = strdup(service) };
	if (np[d->nports].service == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	d->nports++;
	if ((rc = ports_apply(n, d)) != 0) {
		free(d->ports[--d->nports].service);
		goto out;
	}
	*host_port = hp;
out:
	if (rc != 0)
		err_prefix(rc, "deployment %s", id);
	pthread_mutex_unlock(&n->mu);
	return rc;
}

int
net_port_remove(struct net *n, const char *id, uint16_t host_port,
    enum net_proto proto)
{
	struct dep *d;
	int rc = 0;

	pthread_mutex_lock(&n->mu);
	if ((d = find_dep(n, id)) == NULL) {
		rc = err_set(ERR_NOTFOUND, "deployment %s: no network", id);
		goto out;
	}
	for (size_t i = 0; i < d->nports; i++) {
		if (d->ports[i].host_port != host_port ||
		    d->ports[i].proto != proto)
			continue;
		struct port gone = d->ports[i];
		memmove(&d->ports[i], &d->ports[i + 1],
		    (d->nports - i - 1) * sizeof(*d->ports));
		d->nports--;
		if ((rc = ports_apply(n, d)) != 0) {
			/* still forwarded: keep it on the record */
			memmove(&d->ports[i + 1], &d->ports[i],
			    (d->nports - i) * sizeof(*d->ports));
			d->ports[i] = gone;
			d->nports++;
		} else {
			free(gone.service);
		}
		goto out;
	}
	rc = err_set(ERR_NOTFOUND,
	    "deployment %s: host port %u/%s is not "
	    "forwarded",
	    id, host_port, proto_name(proto));
out:
	pthread_mutex_unlock(&n->mu);
	return rc;
}

/* The egress counter of table (deployment id's). */
static int
counter_read(struct net *n, const char *table, const char *id, uint64_t *bytes)
{
	const char *argv[] = { n->nft, "list", "counter", "inet", table,
		"egress", NULL };
	char *text = NULL, *p;
	int rc;

	if ((rc = tool_run(argv, NULL, -1, TOOL_TIMEOUT_MS, &text)) != 0)
		return err_prefix(rc, "deployment %s: egress counter", id);
	if ((p = strstr(text, " bytes ")) == NULL ||
	    util_parse_u64_prefix(p + 7, bytes) != 0) {
		rc = err_set(ERR_CORRUPT,
		    "deployment %s: nft printed no byte count for counter "
		    "egress",
		    id);
	}
	free(text);
	return rc;
}

int
net_egress_bytes(struct net *n, const char *id, uint64_t *bytes)
{
	char table[NET_TABLE_SIZE];
	struct dep *d;

	pthread_mutex_lock(&n->mu);
	d = find_dep(n, id);
	if (d)
		snprintf(table, sizeof(table), "%s", d->table);
	pthread_mutex_unlock(&n->mu);
	if (d == NULL)
		return err_set(ERR_NOTFOUND, "deployment %s: no network", id);
	return counter_read(n, table, id, bytes);
}

int
net_leftover_egress(struct net *n, const char *id, uint64_t *bytes)
{
	char table[NET_TABLE_SIZE];

	pthread_mutex_lock(&n->mu);
	if (find_dep(n, id)) {
		pthread_mutex_unlock(&n->mu);
		return err_set(ERR_CONFLICT, "deployment %s: has a network",
		    id);
	}
	pthread_mutex_unlock(&n->mu);
	net_table_name(n->scope, id, table, sizeof(table));
	return counter_read(n, table, id, bytes);
}

/* "lodgeb" + 8 hex digits or "lodgev" + 9: the names this module makes. */
static int
lodge_link(const char *name)
{
	size_t n = strlen(name), want;

	if (strncmp(name, "lodgeb", 6) == 0)
		want = 14;
	else if (strncmp(name, "lodgev", 6) == 0)
		want = 15;
	else
		return 0;
	if (n != want)
		return 0;
	for (size_t i = 6; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		        (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

/* From one line of `ip -o link show`: the name (before '@' or ':') and
 * the alias ("" when none). */
static int
link_line(char *line, char **name, const char **alias)
{
	char *p = strstr(line, ": "), *a;

	if (p == NULL)
		return 0;
	*name = p + 2;
	(*name)[strcspn(*name, "@:")] = 0;
	a = strstr(p + 2 + strlen(*name) + 1, "\\    alias ");
	*alias = a ? a + 11 : "";
	return 1;
}

/* 1 when name (a table or link) is one of n's deployments'. */
static int
kept_name(struct net *n, const char *name)
{
	int kept = 0;

	pthread_mutex_lock(&n->mu);
	for (struct dep *d = n->deps; d && !kept; d = d->next) {
		kept =
		    strcmp(d->table, name) == 0 || strcmp(d->bridge, name) == 0;
		for (size_t i = 0; i < d->nreps && !kept; i++) {
			char v[NET_IFNAME_SIZE];
			net_veth_name(n->scope, d->id, (unsigned)i, v,
			    sizeof(v));
			kept = strcmp(v, name) == 0;
		}
	}
	pthread_mutex_unlock(&n->mu);
	return kept;
}

/* net_cleanup_all(scope), or, with keep, net_cleanup_stale(keep) (scope
 * is then keep's, "" meaning the scope-less names only). */
static int
cleanup(const char *scope, struct net *keep)
{
	char ip[64], nft[64], *text = NULL, *save = NULL, prefix[64];
	const char *tables[] = { nft, "list", "tables", NULL };
	const char *links[] = { ip, "-o", "link", "show", NULL };
	struct err_saved first;
	int rc = 0, r;

	if (scope && *scope && !valid_scope(scope))
		return err_set(ERR_INVAL,
		    "scope \"%s\": expected 1-%d of [a-z0-9]", scope,
		    NET_SCOPE_MAX);
	if (scope && !*scope && !keep)
		scope = NULL;
	if ((r = tool_find("ip", "iproute2", ip, sizeof(ip))) != 0 ||
	    (r = tool_find("nft", "nftables", nft, sizeof(nft))) != 0)
		return r;
	if ((r = tool_run(tables, NULL, -1, TOOL_TIMEOUT_MS, &text)) != 0)
		return err_prefix(r, "listing nft tables");
	if (scope && *scope)
		snprintf(prefix, sizeof(prefix), "lodge_%s_", scope);
	else
		snprintf(prefix, sizeof(prefix), "lodge_");
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		if (sscanf(line, "table inet %63s", name) != 1 ||
		    strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		/* scope-less: "lodge_" + 8 hex digits, no scope in it */
		if (keep && scope && !*scope && strlen(name) != 14)
			continue;
		if (keep && kept_name(keep, name))
			continue;
		if ((r = table_del(nft, name)) != 0 && rc == 0) {
			rc = r;
			err_save(&first);
		}
	}
	free(text);
	text = NULL;
	if ((r = tool_run(links, NULL, -1, TOOL_TIMEOUT_MS, &text)) != 0) {
		if (rc == 0)
			return err_prefix(r, "listing interfaces");
		goto out;
	}
	if (scope)
		snprintf(prefix, sizeof(prefix), "lodge:%s:", scope);
	/* veths first: a bridge's ports do not go with it */
	for (int pass = 0; pass < 2; pass++) {
		char *copy = strdup(text);
		save = NULL;
		if (copy == NULL) {
			if (rc == 0)
				rc = err_set(ERR_NOMEM, "out of memory");
			break;
		}
		for (char *line = strtok_r(copy, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			const char *alias;
			char *name;
			if (!link_line(line, &name, &alias) ||
			    !lodge_link(name) ||
			    name[5] != (pass == 0 ? 'v' : 'b'))
				continue;
			if (scope &&
			    strncmp(alias, prefix, strlen(prefix)) != 0)
				continue;
			if (keep && kept_name(keep, name))
				continue;
			if ((r = link_del(ip, name)) != 0 && rc == 0) {
				rc = r;
				err_save(&first);
			}
		}
		free(copy);
	}
out:
	free(text);
	if (rc != 0)
		err_restore(&first);
	return rc;
}

int
net_cleanup_all(const char *scope)
{
	return cleanup(scope, NULL);
}

int
net_cleanup_stale(struct net *n)
{
	return cleanup(n->scope, n);
}

void
net_listing_normalize(char *text)
{
	char *r = text, *w = text;

	while (*r) {
		if (strncmp(r, "packets ", 8) == 0 && r[8] >= '0' &&
		    r[8] <= '9') {
			char *p = r + 8;
			while (*p >= '0' && *p <= '9')
				p++;
			if (strncmp(p, " bytes ", 7) == 0 && p[7] >= '0' &&
			    p[7] <= '9') {
				p += 7;
				while (*p >= '0' && *p <= '9')
					p++;
				memcpy(w, "packets 0 bytes 0", 17);
				w += 17;
				r = p;
				continue;
			}
		}
		*w++ = *r++;
	}
	*w = 0;
}

int
net_deployment_forget(struct net *n, const char *id)
{
	struct dep *d;

	if ((d = dep_take(n, id)) == NULL)
		return ERR_NOTFOUND;
	dep_free(d);
	return 0;
}

static void *
scratch_thread(void *arg)
{
	int *fd = arg;

	/* A network namespace is per thread: only this one moves. */
	if (unshare(CLONE_NEWNET) != 0)
		*fd = -errno;
	else if ((*fd = open("/proc/thread-self/ns/net",
	              O_RDONLY | O_CLOEXEC)) < 0)
		*fd = -errno;
	return NULL;
}

/* A new, empty network namespace, held by *fd (the caller closes it). */
static int
scratch_netns(int *fd)
{
	pthread_t t;
	int e;

	*fd = -1;
	if ((e = pthread_create(&t, NULL, scratch_thread, fd)) != 0)
		return err_set(ERR_IO, "pthread_create: %s", strerror(e));
	pthread_join(t, NULL);
	if (*fd < 0) {
		e = -*fd;
		*fd = -1;
		return err_set(ERR_IO, "a scratch network namespace: %s",
		    strerror(e));
	}
	return 0;
}

/* `nft list table inet table` in netns_fd (-1: this one), normalized. */
static int
table_listing(const char *nft, const char *table, int netns_fd, char **out)
{
	const char *argv[] = { nft, "list", "table", "inet", table, NULL };
	int rc;

	*out = NULL;
	if ((rc = tool_run(argv, NULL, netns_fd, TOOL_TIMEOUT_MS, out)) != 0)
		return rc;
	net_listing_normalize(*out);
	return 0;
}

/* Is d's table in the kernel the one this process would make?  The same
 * script is loaded in a scratch namespace and both listings compared. */
static int
table_check(struct net *n, const struct dep *d)
{
	struct net_ruleset rs = { .table = d->table,
		.bridge = d->bridge,
		.subnet = d->subnet,
		.egress_off = n->egress_off,
		.policy = &n->policy,
		.dns = n->dns,
		.ndns = n->ndns };
	const char *argv[] = { n->nft, "-f", "-", NULL };
	char *rules = NULL, *ports = NULL, *script = NULL, *want = NULL,
	     *have = NULL;
	int rc, fd = -1;

	if ((rc = table_listing(n->nft, d->table, -1, &have)) != 0) {
		err_clear();
		rc = err_set(ERR_CORRUPT, "table inet %s is missing", d->table);
		goto out;
	}
	if ((rc = net_ruleset_text(&rs, &rules)) != 0 ||
	    (rc = ports_script(d, &ports)) != 0)
		goto out;
	if (asprintf(&script, "%s%s", rules, ports) < 0) {
		script = NULL;
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = scratch_netns(&fd)) != 0)
		goto out;
	if ((rc = tool_run(argv, script, fd, TOOL_TIMEOUT_MS, NULL)) != 0 ||
	    (rc = table_listing(n->nft, d->table, fd, &want)) != 0) {
		err_prefix(rc, "table inet %s as it would be made", d->table);
		goto out;
	}
	if (strcmp(have, want) != 0)
		rc = err_set(ERR_CORRUPT,
		    "table inet %s differs from the one this provider would "
		    "make (a rule added or changed, or the configuration "
		    "changed since)",
		    d->table);
out:
	if (fd >= 0)
		close(fd);
	free(rules);
	free(ports);
	free(script);
	free(want);
	free(have);
	return rc;
}

/* Is d's bridge in the kernel as dep_setup made it?  Sets d->subnet
 * from its address. */
static int
bridge_check(struct net *n, struct dep *d)
{
	char alias[256], want[128], path[160], master[32], *v = NULL;
	struct ifaddrs *ifa, *i;
	size_t naddr = 0, len;
	uint32_t a = 0, mask = 0;
	int up = 0;

	if (link_info(n->ip, d->bridge, alias, sizeof(alias), master,
	        sizeof(master), &up) != 0)
		return err_set(ERR_CORRUPT, "bridge %s is missing", d->bridge);
	snprintf(want, sizeof(want), "lodge:%s:%s", n->scope, d->id);
	if (strcmp(alias, want) != 0)
		return err_set(ERR_CORRUPT,
		    "bridge %s: alias \"%s\", expected \"%s\"", d->bridge,
		    alias, want);
	if (getifaddrs(&ifa) != 0)
		return err_set(ERR_IO, "getifaddrs: %s", strerror(errno));
	for (i = ifa; i; i = i->ifa_next) {
		if (strcmp(i->ifa_name, d->bridge) != 0)
			continue;
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		naddr++;
		a = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)
		              ->sin_addr.s_addr);
		mask = i->ifa_netmask ?
		    ntohl(((struct sockaddr_in *)(void *)i->ifa_netmask)
		              ->sin_addr.s_addr) :
		    0;
	}
	freeifaddrs(ifa);
	if (!up)
		return err_set(ERR_CORRUPT, "bridge %s is down", d->bridge);
	if (naddr != 1)
		return err_set(ERR_CORRUPT,
		    "bridge %s: %zu IPv4 addresses, expected its gateway's",
		    d->bridge, naddr);
	d->subnet.addr = (a - 1) & mask_of(n->prefix);
	d->subnet.prefix = n->prefix;
	if (mask != mask_of(n->prefix) || a != d->subnet.addr + 1 ||
	    d->subnet.prefix < n->pool.prefix ||
	    !overlaps(&d->subnet, &n->pool)) {
		char t[16];
		addr_text(a, t, sizeof(t));
		return err_set(ERR_CORRUPT,
		    "bridge %s: address %s is not the gateway of a /%u block "
		    "of the pool",
		    d->bridge, t, n->prefix);
	}
	for (struct dep *e = n->deps; e; e = e->next)
		if (overlaps(&e->subnet, &d->subnet))
			return err_set(ERR_CORRUPT,
			    "bridge %s: its block is deployment %s's",
			    d->bridge, e->id);
	snprintf(path, sizeof(path),
	    "/proc/sys/net/ipv4/conf/%s/route_localnet", d->bridge);
	if (util_read_file(path, 64, &v, &len) != 0 || v[0] != '1') {
		free(v);
		err_clear();
		return err_set(ERR_CORRUPT, "bridge %s: route_localnet is off",
		    d->bridge);
	}
	free(v);
	return 0;
}

/* Are the interfaces on d's bridge only its replicas' veths?  (One put
 * there by someone else would see, or forge, the deployment's
 * traffic.) */
static int
bridge_ports_check(struct net *n, const struct dep *d)
{
	const char *argv[] = { n->ip, "-o", "link", "show", "master", d->bridge,
		NULL };
	char *text = NULL, *save = NULL;
	int rc = 0;

	if ((rc = tool_run(argv, NULL, -1, TOOL_TIMEOUT_MS, &text)) != 0)
		return err_prefix(rc, "bridge %s: its ports", d->bridge);
	for (char *line = strtok_r(text, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *alias;
		char *name;
		int ours = 0;
		if (!link_line(line, &name, &alias))
			continue;
		for (size_t i = 0; i < d->nreps && !ours; i++) {
			char v[NET_IFNAME_SIZE];
			net_veth_name(n->scope, d->id, (unsigned)i, v,
			    sizeof(v));
			ours = strcmp(v, name) == 0;
		}
		if (!ours)
			rc = err_set(ERR_CORRUPT,
			    "bridge %s: interface %s on it is not one of its "
			    "replicas'",
			    d->bridge, name);
	}
	free(text);
	return rc;
}

int
net_deployment_adopt(struct net *n, const char *id,
    const struct net_service *svcs, size_t nsvcs,
    const struct net_port_spec *ports, size_t nports)
{
	struct dep *d = NULL;
	size_t total = 0;
	int rc;

	if ((rc = services_check(n, id, svcs, nsvcs, &total)) != 0)
		return rc;
	pthread_mutex_lock(&n->mu);
	if (find_dep(n, id)) {
		rc = err_set(ERR_CONFLICT, "deployment %s: has a network", id);
		goto fail;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->id = strdup(id)) == NULL ||
	    (d->reps = calloc(total, sizeof(*d->reps))) == NULL ||
	    (nports &&
	        (d->ports = calloc(nports, sizeof(*d->ports))) == NULL)) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	net_bridge_name(n->scope, id, d->bridge, sizeof(d->bridge));
	net_table_name(n->scope, id, d->table, sizeof(d->table));
	if (if_nametoindex(d->bridge) == 0) {
		char *t = NULL;
		if (table_listing(n->nft, d->table, -1, &t) == 0)
			rc = err_set(ERR_CORRUPT, "bridge %s is missing",
			    d->bridge);
		else
			rc = err_set(ERR_NOTFOUND, "no network to adopt");
		free(t);
		goto fail;
	}
	if ((rc = bridge_check(n, d)) != 0 ||
	    (rc = reps_fill(d, svcs, nsvcs)) != 0 ||
	    (rc = bridge_ports_check(n, d)) != 0)
		goto fail;
	for (size_t i = 0; i < nports; i++) {
		const struct net_port_spec *p = &ports[i];
		int known = 0;
		for (size_t r = 0; r < d->nreps && !known; r++)
			known = strcmp(d->reps[r].service, p->service) == 0;
		if (!known || p->port == 0 || p->host_port < n->port_min ||
		    p->host_port > n->port_max ||
		    port_forwarded(n, p->host_port, p->proto)) {
			rc = err_set(ERR_CORRUPT,
			    "forwarded port %u/%s -> %s:%u: not in the range "
			    "%u-%u, or taken",
			    p->host_port, proto_name(p->proto), p->service,
			    p->port, n->port_min, n->port_max);
			goto fail;
		}
		d->ports[d->nports] = (struct port){ .host_port = p->host_port,
			.port = p->port,
			.proto = p->proto,
			.service = strdup(p->service) };
		if (d->ports[d->nports].service == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
		d->nports++;
	}
	if ((rc = table_check(n, d)) != 0)
		goto fail;
	d->next = n->deps;
	n->deps = d;
	d = NULL;
	rc = 0;
fail:
	if (rc != 0)
		err_prefix(rc, "deployment %s", id);
	pthread_mutex_unlock(&n->mu);
	dep_free(d);
	return rc;
}

/* Does the text hold needle? */
static int
has(const char *text, const char *needle)
{
	return text && strstr(text, needle) != NULL;
}

/* Is replica i of d's interface as net_replica_attach made it? */
static int
replica_intact(struct net *n, const struct dep *d, size_t i, int netns_fd)
{
	const char *link[] = { n->ip, "-o", "link", "show", "dev",
		NET_REPLICA_IFNAME, NULL };
	const char *addr[] = { n->ip, "-o", "-4", "address", "show", "dev",
		NET_REPLICA_IFNAME, NULL };
	const char *route[] = { n->ip, "-4", "route", "show", "default", NULL };
	char v[NET_IFNAME_SIZE], alias[256], want[160], a[16], gw[16],
	    master[32], *out = NULL;
	unsigned idx;
	int ok, up;

	net_veth_name(n->scope, d->id, (unsigned)i, v, sizeof(v));
	if ((idx = if_nametoindex(v)) == 0 ||
	    link_info(n->ip, v, alias, sizeof(alias), master, sizeof(master),
	        &up) != 0)
		return 0;
	snprintf(want, sizeof(want), "lodge:%s:%s:%zu", n->scope, d->id, i);
	if (strcmp(alias, want) != 0 || strcmp(master, d->bridge) != 0 || !up)
		return 0;
	/* Inside: its peer (eth0@ifIDX), up, its address, the route. */
	snprintf(want, sizeof(want), "%s@if%u:", NET_REPLICA_IFNAME, idx);
	ok = tool_run(link, NULL, netns_fd, TOOL_TIMEOUT_MS, &out) == 0 &&
	    has(out, want) && has(out, ",UP");
	free(out);
	out = NULL;
	addr_text(d->reps[i].addr, a, sizeof(a));
	snprintf(want, sizeof(want), "inet %s/%u ", a, d->subnet.prefix);
	ok = ok && tool_run(addr, NULL, netns_fd, TOOL_TIMEOUT_MS, &out) == 0 &&
	    has(out, want);
	free(out);
	out = NULL;
	addr_text(d->subnet.addr + 1, gw, sizeof(gw));
	snprintf(want, sizeof(want), "default via %s dev %s", gw,
	    NET_REPLICA_IFNAME);
	ok = ok &&
	    tool_run(route, NULL, netns_fd, TOOL_TIMEOUT_MS, &out) == 0 &&
	    has(out, want);
	free(out);
	err_clear();
	return ok;
}

int
net_replica_adopt(struct net *n, const char *id, const char *service,
    unsigned replica, int netns_fd, int *kept)
{
	struct dep *d;
	size_t i;
	int rc, ok;

	if (kept)
		*kept = 0;
	if (netns_fd < 0)
		return err_set(ERR_INVAL, "replica %s.%u: no network namespace",
		    service, replica);
	pthread_mutex_lock(&n->mu);
	if ((rc = find_replica(n, id, service, replica, &d, &i)) != 0) {
		pthread_mutex_unlock(&n->mu);
		return rc;
	}
	ok = replica_intact(n, d, i, netns_fd);
	pthread_mutex_unlock(&n->mu);
	if (ok) {
		if (kept)
			*kept = 1;
		return 0;
	}
	return net_replica_attach(n, id, service, replica, netns_fd);
}
