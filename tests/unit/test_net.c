/*
 * test_net: the pure parts of the deployment networks: CIDR parsing, the
 * egress policy (built-in denials, configured allow/deny by longest
 * prefix, the host's addresses always denied), block choice from the
 * pool, interface and table names, the nft text of a table and of its
 * forwarded ports, and the configuration checks of net_new().  The
 * kernel side is tests/e2e/test_netvol.sh.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "sandbox/net.h"

static uint32_t
ip4(const char *s)
{
	struct in_addr in;

	if (inet_pton(AF_INET, s, &in) != 1)
		fail_msg("bad test address %s", s);
	return ntohl(in.s_addr);
}

static struct net_cidr
cidr(const char *s)
{
	struct net_cidr c;

	if (net_cidr_parse(s, "test", &c) != 0)
		fail_msg("bad test cidr %s: %s", s, err_msg());
	return c;
}

static void
assert_msg(const char *want)
{
	if (strstr(err_msg(), want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err_msg(), want);
}

static void
test_cidr_parse_accepts_blocks_and_addresses(void **state)
{
	struct net_cidr c;

	(void)state;
	assert_int_equal(net_cidr_parse("10.213.0.0/16", "pool", &c), 0);
	assert_int_equal(c.addr, ip4("10.213.0.0"));
	assert_int_equal(c.prefix, 16);
	assert_int_equal(net_cidr_parse("1.2.3.4", "x", &c), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(net_cidr_parse("0.0.0.0/0", "x", &c), 0);
	assert_int_equal(c.addr, 0);
	assert_int_equal(c.prefix, 0);
}

static void
test_cidr_parse_rejects_with_a_reason(void **state)
{
	struct net_cidr c;

	(void)state;
	assert_int_equal(net_cidr_parse("10.0.0.1/8", "egress_deny[1]", &c),
	    ERR_INVAL);
	assert_msg("egress_deny[1]: 10.0.0.1/8: host bits set (did you mean "
	           "10.0.0.0/8?)");
	assert_int_equal(net_cidr_parse("10.0.0.0/33", "x", &c), ERR_INVAL);
	assert_msg("prefix length must be 0-32");
	assert_int_equal(net_cidr_parse("10.0.0.0/", "x", &c), ERR_INVAL);
	assert_int_equal(net_cidr_parse("10.0.0.0/8x", "x", &c), ERR_INVAL);
	assert_int_equal(net_cidr_parse("ten/8", "x", &c), ERR_INVAL);
	assert_int_equal(net_cidr_parse("", "x", &c), ERR_INVAL);
	assert_int_equal(net_cidr_parse("fd00::/8", "x", &c), ERR_REJECT);
	assert_msg("IPv6 is not supported");
}

/* The compiled ranges are sorted, disjoint and not adjacent. */
static void
assert_canonical(const struct net_policy *p)
{
	for (size_t i = 0; i < p->n; i++) {
		assert_true(p->deny[i].first <= p->deny[i].last);
		if (i > 0)
			assert_true((uint64_t)p->deny[i - 1].last + 1 <
			    p->deny[i].first);
	}
}

static void
test_default_policy_denies_private_and_allows_the_rest(void **state)
{
	static const char *const denied[] = { "10.1.2.3", "127.0.0.1",
		"169.254.169.254", "100.64.0.1", "100.127.255.255",
		"172.16.5.5", "172.31.255.255", "192.168.1.1", "224.0.0.1",
		"255.255.255.255", "0.1.2.3", "168.63.129.16" };
	static const char *const allowed[] = { "8.8.8.8", "1.1.1.1",
		"172.32.0.1", "172.15.255.255", "100.128.0.1", "100.63.255.255",
		"203.0.113.10", "223.255.255.255", "168.63.129.17" };
	struct net_policy p;

	(void)state;
	assert_int_equal(net_policy_compile(NULL, 0, NULL, 0, NULL, 0, &p), 0);
	assert_canonical(&p);
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		if (!net_policy_denies(&p, ip4(denied[i])))
			fail_msg("%s should be denied", denied[i]);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (net_policy_denies(&p, ip4(allowed[i])))
			fail_msg("%s should be allowed", allowed[i]);
	/* 224/4 and 240/4 merge into 224/3 */
	assert_int_equal(p.deny[p.n - 1].first, ip4("224.0.0.0"));
	assert_int_equal(p.deny[p.n - 1].last, ip4("255.255.255.255"));
	assert_int_equal(p.n, 9);
	net_policy_free(&p);
}

static void
test_policy_longest_prefix_decides(void **state)
{
	struct net_cidr allow[] = { cidr("10.5.0.0/16"), cidr("8.8.8.0/24"),
		cidr("1.2.3.0/24") };
	struct net_cidr deny[] = { cidr("10.5.3.0/24"), cidr("8.8.8.0/24"),
		cidr("0.0.0.0/0") };
	struct net_policy p;

	(void)state;
	assert_int_equal(net_policy_compile(allow, 3, deny, 3, NULL, 0, &p), 0);
	assert_canonical(&p);
	/* a configured allow opens a hole in a built-in denial ... */
	assert_false(net_policy_denies(&p, ip4("10.5.1.1")));
	assert_true(net_policy_denies(&p, ip4("10.6.0.1")));
	/* ... and a longer configured deny closes part of it again */
	assert_true(net_policy_denies(&p, ip4("10.5.3.1")));
	/* at equal length, deny beats allow */
	assert_true(net_policy_denies(&p, ip4("8.8.8.8")));
	/* deny 0/0 + allow: an allow-list */
	assert_false(net_policy_denies(&p, ip4("1.2.3.4")));
	assert_true(net_policy_denies(&p, ip4("9.9.9.9")));
	net_policy_free(&p);
}

static void
test_policy_always_denies_the_host_whatever_is_allowed(void **state)
{
	struct net_cidr allow[] = { cidr("203.0.113.0/24"),
		cidr("203.0.113.1/32") };
	struct net_cidr always[] = { cidr("203.0.113.1"),
		cidr("10.213.0.0/16") };
	struct net_policy p;

	(void)state;
	assert_int_equal(net_policy_compile(allow, 2, NULL, 0, always, 2, &p),
	    0);
	assert_canonical(&p);
	assert_true(net_policy_denies(&p, ip4("203.0.113.1")));
	assert_false(net_policy_denies(&p, ip4("203.0.113.2")));
	assert_true(net_policy_denies(&p, ip4("10.213.7.2")));
	net_policy_free(&p);
}

static void
test_names_fit_interfaces_and_differ(void **state)
{
	char b1[NET_IFNAME_SIZE], b2[NET_IFNAME_SIZE], t[NET_TABLE_SIZE];
	char v1[NET_IFNAME_SIZE], v2[NET_IFNAME_SIZE], v3[NET_IFNAME_SIZE];
	char b3[NET_IFNAME_SIZE], t2[NET_TABLE_SIZE];

	(void)state;
	net_bridge_name(NULL, "l-42", b1, sizeof(b1));
	net_bridge_name(NULL, "l-43", b2, sizeof(b2));
	net_table_name(NULL, "l-42", t, sizeof(t));
	net_veth_name(NULL, "l-42", 0, v1, sizeof(v1));
	net_veth_name(NULL, "l-42", 1, v2, sizeof(v2));
	net_veth_name(NULL, "l-43", 0, v3, sizeof(v3));
	assert_int_equal(strlen(b1), 14);
	assert_int_equal(strncmp(b1, "lodgeb", 6), 0);
	assert_int_equal(strlen(v1), 15); /* IFNAMSIZ - 1 */
	assert_int_equal(strncmp(v1, "lodgev", 6), 0);
	assert_int_equal(strlen(t), 14);
	assert_int_equal(strncmp(t, "lodge_", 6), 0);
	assert_string_equal(t + 6, b1 + 6); /* table and bridge go together */
	assert_string_not_equal(b1, b2);
	assert_string_not_equal(v1, v2);
	assert_string_not_equal(v1, v3);
	/* deterministic: a restarted provider finds the same names */
	net_veth_name(NULL, "l-42", 1, v3, sizeof(v3));
	assert_string_equal(v2, v3);
	/* ids differing in the last byte share no visible prefix pattern */
	assert_int_not_equal(strncmp(v1 + 6, v2 + 6, 4), 0);
	/* "" is no scope; another provider's scope gives other names */
	net_bridge_name("", "l-42", b3, sizeof(b3));
	assert_string_equal(b1, b3);
	net_bridge_name("p2", "l-42", b3, sizeof(b3));
	assert_string_not_equal(b1, b3);
	net_table_name("p2", "l-42", t2, sizeof(t2));
	assert_int_equal(strncmp(t2, "lodge_p2_", 9), 0);
	assert_string_equal(t2 + 9, b3 + 6);
	net_veth_name("p2", "l-42", 1, v3, sizeof(v3));
	assert_string_not_equal(v2, v3);
}

static void
test_subnet_pick_is_stable_and_probes_past_taken(void **state)
{
	struct net_cidr pool = cidr("10.213.0.0/16"), a, b, taken[256];

	(void)state;
	assert_int_equal(net_subnet_pick(&pool, 24, "dseq-1", NULL, 0, &a), 0);
	assert_int_equal(a.prefix, 24);
	assert_int_equal(a.addr & 0xffff0000u, pool.addr);
	assert_int_equal(a.addr & 0xffu, 0);
	assert_int_equal(net_subnet_pick(&pool, 24, "dseq-1", NULL, 0, &b), 0);
	assert_int_equal(a.addr, b.addr);
	/* taken: the next block, wrapping */
	assert_int_equal(net_subnet_pick(&pool, 24, "dseq-1", &a, 1, &b), 0);
	assert_int_equal(b.addr,
	    a.addr == ip4("10.213.255.0") ? pool.addr : a.addr + 256);
	/* /26 blocks are 64-aligned */
	assert_int_equal(net_subnet_pick(&pool, 26, "dseq-1", NULL, 0, &b), 0);
	assert_int_equal(b.addr & 63u, 0);
	/* all taken */
	for (unsigned i = 0; i < 256; i++)
		taken[i] = (struct net_cidr){ pool.addr + (i << 8), 24 };
	assert_int_equal(net_subnet_pick(&pool, 24, "dseq-1", taken, 256, &b),
	    ERR_LIMIT);
	assert_msg("all 256 /24 blocks are in use");
	assert_int_equal(net_subnet_pick(&pool, 30, "x", NULL, 0, &b),
	    ERR_RANGE);
	assert_int_equal(net_subnet_pick(&pool, 8, "x", NULL, 0, &b),
	    ERR_RANGE);
}

static void
assert_has(const char *text, const char *want)
{
	if (strstr(text, want) == NULL)
		fail_msg("no \"%s\" in:\n%s", want, text);
}

static void
assert_lacks(const char *text, const char *unwanted)
{
	if (strstr(text, unwanted) != NULL)
		fail_msg("\"%s\" should not be in:\n%s", unwanted, text);
}

static void
test_ruleset_isolates_meters_and_masquerades(void **state)
{
	struct net_policy p;
	uint32_t dns[] = { ip4("10.99.0.10") };
	struct net_ruleset r = { .table = "lodge_0000abcd",
		.bridge = "lodgeb0000abcd",
		.subnet = cidr("10.213.7.0/24"),
		.policy = &p,
		.dns = dns,
		.ndns = 1 };
	char *text = NULL;

	(void)state;
	assert_int_equal(net_policy_compile(NULL, 0, NULL, 0, NULL, 0, &p), 0);
	assert_int_equal(net_ruleset_text(&r, &text), 0);
	/* replaces a leftover in the same transaction */
	assert_has(text,
	    "table inet lodge_0000abcd {}\n"
	    "delete table inet lodge_0000abcd\n"
	    "table inet lodge_0000abcd {\n");
	assert_has(text, "counter egress {}");
	assert_has(text,
	    "elements = { 0.0.0.0-0.255.255.255, "
	    "10.0.0.0-10.255.255.255,");
	assert_has(text, " 168.63.129.16,");
	assert_has(text,
	    "set dns4 { type ipv4_addr; elements = { 10.99.0.10 } }");
	assert_has(text,
	    "iifname \"lodgeb0000abcd\" ip saddr != 10.213.7.0/24 "
	    "drop");
	assert_has(text,
	    "iifname \"lodgeb0000abcd\" oifname \"lodgeb0000abcd\" "
	    "accept");
	assert_has(text,
	    "oifname \"lodgeb0000abcd\" reject with icmpx "
	    "admin-prohibited");
	assert_has(text,
	    "ip daddr @dns4 udp dport 53 counter name egress accept");
	assert_has(text, "ip daddr @deny4 reject");
	assert_has(text, "meta nfproto ipv4 counter name egress accept");
	assert_has(text, "iifname \"lodgeb0000abcd\" reject with icmpx");
	assert_has(text, "fib daddr type local jump ports");
	assert_has(text,
	    "ip saddr 10.213.7.0/24 oifname != \"lodgeb0000abcd\" "
	    "masquerade");
	free(text);

	r.egress_off = 1;
	assert_int_equal(net_ruleset_text(&r, &text), 0);
	assert_has(text,
	    "\tchain egress {\n"
	    "\t\tct state established,related counter name egress "
	    "accept\n"
	    "\t\toifname \"lodgeb*\" reject with icmpx "
	    "admin-prohibited\n"
	    "\t\treject with icmpx admin-prohibited\n"
	    "\t}\n");
	assert_lacks(text, "meta nfproto ipv4 counter name egress accept");
	assert_lacks(text, "dport 53");
	assert_lacks(text, "ct status dnat counter name egress accept");
	/* replies (forwarded ports) still flow, and are counted: above */
	free(text);
	net_policy_free(&p);
}

static void
test_ports_text_forwards_to_every_replica(void **state)
{
	uint32_t one[] = { ip4("10.213.7.2") };
	uint32_t two[] = { ip4("10.213.7.3"), ip4("10.213.7.4") };
	struct net_forward f[] = {
		{ .host_port = 30000,
		    .proto = NET_TCP,
		    .port = 5432,
		    .targets = one,
		    .ntargets = 1 },
		{ .host_port = 30001,
		    .proto = NET_UDP,
		    .port = 53,
		    .targets = two,
		    .ntargets = 2 },
	};
	char *text = NULL;

	(void)state;
	assert_int_equal(net_ports_text("lodge_1", f, 2, &text), 0);
	assert_string_equal(text,
	    "flush chain inet lodge_1 ports\n"
	    "add rule inet lodge_1 ports tcp dport 30000 dnat ip to "
	    "10.213.7.2:5432\n"
	    "add rule inet lodge_1 ports udp dport 30001 dnat ip to numgen inc "
	    "mod 2 map { 0 : 10.213.7.3 . 53, 1 : 10.213.7.4 . 53 }\n");
	free(text);
	assert_int_equal(net_ports_text("lodge_1", NULL, 0, &text), 0);
	assert_string_equal(text, "flush chain inet lodge_1 ports\n");
	free(text);
}

static void
test_net_new_checks_the_configuration(void **state)
{
	const char *bad_deny[] = { "1.2.3.0/24", "10.0.0.1/8", NULL };
	const char *loop_dns[] = { "127.0.0.53", NULL };
	struct net_config cfg;
	struct net *n = NULL;

	(void)state;
	net_config_init(&cfg);
	cfg.pool = "10.213.0.1/16";
	assert_int_equal(net_new(&cfg, &n), ERR_INVAL);
	assert_msg("pool: 10.213.0.1/16: host bits set");
	assert_null(n);

	net_config_init(&cfg);
	cfg.subnet_prefix = 30;
	assert_int_equal(net_new(&cfg, &n), ERR_RANGE);
	assert_msg("subnet prefix /30");
	cfg.subnet_prefix = 8;
	assert_int_equal(net_new(&cfg, &n), ERR_RANGE);

	net_config_init(&cfg);
	cfg.port_min = 40000;
	cfg.port_max = 30000;
	assert_int_equal(net_new(&cfg, &n), ERR_RANGE);
	assert_msg("port range 40000-30000: empty");

	net_config_init(&cfg);
	cfg.egress_deny = bad_deny;
	assert_int_equal(net_new(&cfg, &n), ERR_INVAL);
	assert_msg("egress_deny[1]: 10.0.0.1/8");

	net_config_init(&cfg);
	cfg.dns = loop_dns;
	assert_int_equal(net_new(&cfg, &n), ERR_INVAL);
	assert_msg("dns[0]: 127.0.0.53");

	net_config_init(&cfg);
	cfg.scope = "Prov-1";
	assert_int_equal(net_new(&cfg, &n), ERR_INVAL);
	assert_msg("scope \"Prov-1\": expected 1-12 of [a-z0-9]");
	assert_int_equal(net_cleanup_all("a b"), ERR_INVAL);

	/* the host's own loopback is in this pool */
	net_config_init(&cfg);
	cfg.pool = "127.0.0.0/8";
	cfg.subnet_prefix = 24;
	assert_int_equal(net_new(&cfg, &n), ERR_CONFLICT);
	assert_msg("the host already has address 127.0.0.1");
	assert_null(n);
}

/* The nameservers replicas get come from resolv.conf without loopback
 * ones.  Needs what net_new() needs (root, ip, nft): else it reports
 * which of them is missing. */
static void
test_resolv_conf_keeps_reachable_nameservers(void **state)
{
	char path[] = "/tmp/lodge-test-resolv-XXXXXX", *text = NULL;
	struct net_config cfg;
	struct net *n = NULL;
	int fd, rc;
	FILE *f;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	f = fdopen(fd, "w");
	fputs("search example\nnameserver 127.0.0.53\nnameserver 9.9.9.9\n"
	      "nameserver ::1\nnameserver 10.0.0.2\n",
	    f);
	fclose(f);
	net_config_init(&cfg);
	cfg.resolv_conf = path;
	rc = net_new(&cfg, &n);
	unlink(path);
	if (rc == ERR_REJECT || rc == ERR_NOTFOUND) {
		assert_true(
		    strstr(err_msg(), "root") || strstr(err_msg(), "install"));
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(net_resolv_conf(n, &text), 0);
	assert_string_equal(text, "nameserver 9.9.9.9\nnameserver 10.0.0.2\n");
	free(text);
	/* a private nameserver is reachable on port 53 only, not otherwise */
	assert_true(net_policy_denies(net_egress_policy(n), ip4("10.0.0.2")));
	assert_int_equal(net_hosts(n, "nope", &text), ERR_NOTFOUND);
	/* ids go into ip's input and interface aliases: a plain set */
	{
		struct net_service svc = { "web", 1 };
		struct net_service two[] = { { "web", 1 }, { "web", 2 } };
		struct net_service bad = { "-web", 1 };
		assert_int_equal(net_deployment_add(n, "l-1\"x", &svc, 1),
		    ERR_INVAL);
		assert_msg("expected 1-64 of [A-Za-z0-9._-]");
		assert_int_equal(net_deployment_add(n, "l-1", two, 2),
		    ERR_INVAL);
		assert_msg("service web listed twice");
		assert_int_equal(net_deployment_add(n, "l-1", &bad, 1),
		    ERR_INVAL);
		assert_msg("expected a DNS label");
		svc.replicas = 300;
		assert_int_equal(net_deployment_add(n, "l-1", &svc, 1),
		    ERR_LIMIT);
		assert_msg(
		    "300 replicas do not fit in a /24 block (at most 253)");
	}
	net_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_parse_accepts_blocks_and_addresses),
		cmocka_unit_test(test_cidr_parse_rejects_with_a_reason),
		cmocka_unit_test(
		    test_default_policy_denies_private_and_allows_the_rest),
		cmocka_unit_test(test_policy_longest_prefix_decides),
		cmocka_unit_test(
		    test_policy_always_denies_the_host_whatever_is_allowed),
		cmocka_unit_test(test_names_fit_interfaces_and_differ),
		cmocka_unit_test(
		    test_subnet_pick_is_stable_and_probes_past_taken),
		cmocka_unit_test(test_ruleset_isolates_meters_and_masquerades),
		cmocka_unit_test(test_ports_text_forwards_to_every_replica),
		cmocka_unit_test(test_net_new_checks_the_configuration),
		cmocka_unit_test(test_resolv_conf_keeps_reachable_nameservers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
