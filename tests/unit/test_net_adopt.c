/*
 * test_net_adopt: a deployment network outliving its process and adopted
 * by the next (sandbox/net.h's net_deployment_adopt, net_replica_adopt,
 * net_cleanup_stale), and the listing comparison it rests on.  The kernel
 * part runs in a network namespace of its own (needs root, ip and nft;
 * skipped with the reason otherwise), so the host is never touched.
 */
#include <sched.h>
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

#define assert_msg(s)                                                      \
	do {                                                               \
		if (strstr(err_msg(), (s)) == NULL)                        \
			fail_msg("message \"%s\" lacks \"%s\"", err_msg(), \
			    (s));                                          \
	} while (0)

static void
test_listing_normalize_zeroes_counts_only(void **state)
{
	char text[] = "table inet t {\n"
	              "\tcounter egress {\n\t\tpackets 12 bytes 3456\n\t}\n"
	              "\t\tct count over 8192 counter packets 7 bytes 99 "
	              "reject\n"
	              "\t\tpackets 1x bytes 2\n"
	              "\t\tip daddr 10.0.0.1 accept\n}\n";

	(void)state;
	net_listing_normalize(text);
	assert_string_equal(text,
	    "table inet t {\n"
	    "\tcounter egress {\n\t\tpackets 0 bytes 0\n\t}\n"
	    "\t\tct count over 8192 counter packets 0 bytes 0 reject\n"
	    "\t\tpackets 1x bytes 2\n"
	    "\t\tip daddr 10.0.0.1 accept\n}\n");
}

/* A net of scope on pool 10.77.0.0/16, or NULL: when this process may
 * not make networks (skip), or when net_new fails with `fails`. */
static struct net *
ut_net_rc(const char *scope, int fails)
{
	const char *dns[] = { "10.0.0.2", NULL };
	struct net_config cfg;
	struct net *n = NULL;
	int rc;

	net_config_init(&cfg);
	cfg.scope = scope;
	cfg.pool = "10.77.0.0/16";
	cfg.dns = dns;
	cfg.port_min = 31000;
	cfg.port_max = 31010;
	cfg.mtu = 1500;
	rc = net_new(&cfg, &n);
	if (rc != 0 && rc != ERR_REJECT && rc != ERR_NOTFOUND && rc != fails)
		fail_msg("net_new: %s", err_msg());
	return n;
}

static struct net *
ut_net(const char *scope)
{
	return ut_net_rc(scope, 0);
}

static int
sh(const char *cmd)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "PATH=$PATH:/usr/sbin:/sbin; %s", cmd);
	return system(buf);
}

static void
test_adopt_takes_an_intact_network_and_refuses_a_tampered_one(void **state)
{
	struct net_service svcs[] = { { "web", 1 }, { "db", 2 } };
	struct net_port_spec port = { "web", 8080, NET_TCP, 0 }, wrong;
	char table[NET_TABLE_SIZE], bridge[NET_IFNAME_SIZE], cmd[256];
	char *hosts = NULL, *again = NULL;
	uint16_t hp = 0;
	uint64_t bytes;
	struct net *n;

	(void)state;
	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		skip();
		return;
	}
	if ((n = ut_net("ut")) == NULL) {
		skip();
		return;
	}
	/* arguments first */
	assert_int_equal(net_deployment_adopt(n, "l 1", svcs, 2, NULL, 0),
	    ERR_INVAL);
	assert_int_equal(net_deployment_adopt(n, "l-1", svcs, 2, NULL, 0),
	    ERR_NOTFOUND);
	assert_int_equal(net_deployment_forget(n, "l-1"), ERR_NOTFOUND);

	/* a first process makes it, forwards a port, and exits keeping it */
	assert_int_equal(net_deployment_add(n, "l-1", svcs, 2), 0);
	assert_int_equal(net_port_add(n, "l-1", "web", 8080, NET_TCP, &hp), 0);
	assert_int_equal(hp, 31000);
	assert_int_equal(net_hosts(n, "l-1", &hosts), 0);
	assert_int_equal(net_deployment_forget(n, "l-1"), 0);
	net_free(n);

	/* the next adopts it as it is: same addresses, same port */
	n = ut_net("ut");
	assert_non_null(n);
	port.host_port = hp;
	assert_int_equal(net_deployment_adopt(n, "l-1", svcs, 2, &port, 1), 0);
	assert_int_equal(net_hosts(n, "l-1", &again), 0);
	assert_string_equal(hosts, again);
	free(again);
	again = NULL;
	assert_int_equal(net_egress_bytes(n, "l-1", &bytes), 0);
	assert_int_equal(net_deployment_adopt(n, "l-1", svcs, 2, &port, 1),
	    ERR_CONFLICT);
	/* its port is its own: another deployment gets the next one */
	hp = 31000;
	assert_int_equal(net_deployment_add(n, "l-2", svcs, 1), 0);
	assert_int_equal(net_port_add(n, "l-2", "web", 80, NET_TCP, &hp),
	    ERR_CONFLICT);
	assert_int_equal(net_deployment_forget(n, "l-1"), 0);
	assert_int_equal(net_deployment_forget(n, "l-2"), 0);
	net_free(n);

	/* another scope's process does not take the pool it uses */
	assert_null(ut_net_rc("other", ERR_CONFLICT));
	assert_msg("the host already has address");

	/* the saved ports must be those of the table */
	n = ut_net("ut");
	wrong = port;
	wrong.host_port = 31001;
	assert_int_equal(net_deployment_adopt(n, "l-1", svcs, 2, &wrong, 1),
	    ERR_CORRUPT);
	assert_msg("differs from the one this provider would make");
	/* and so must the replicas its port forwards to */
	svcs[0].replicas = 2;
	assert_int_equal(net_deployment_adopt(n, "l-1", svcs, 2, &port, 1),
	    ERR_CORRUPT);
	svcs[0].replicas = 1;
	/* an interface someone put on its bridge: not adopted */
	net_bridge_name("ut", "l-1", bridge, sizeof(bridge));
	snprintf(cmd, sizeof(cmd),
	    "ip link add lodgetap type veth peer name lodgetap1 && "
	    "ip link set lodgetap master %s",
	    bridge);
	assert_int_equal(sh(cmd), 0);
	assert_int_equal(net_deployment_adopt(n, "l-1", svcs, 2, &port, 1),
	    ERR_CORRUPT);
	assert_msg("interface lodgetap on it is not one of its replicas'");
	assert_int_equal(sh("ip link del lodgetap"), 0);
	assert_int_equal(net_deployment_adopt(n, "l-1", svcs, 2, &port, 1), 0);
	assert_int_equal(net_deployment_forget(n, "l-1"), 0);
	/* a rule added by hand is a mismatch: not adopted as it is */
	net_table_name("ut", "l-1", table, sizeof(table));
	snprintf(cmd, sizeof(cmd),
	    "nft add rule inet %s input tcp dport 22 accept", table);
	assert_int_equal(sh(cmd), 0);
	assert_int_equal(net_deployment_adopt(n, "l-1", svcs, 2, &port, 1),
	    ERR_CORRUPT);
	assert_msg("a rule added or changed");
	/* nor a bridge given another address */
	snprintf(cmd, sizeof(cmd), "ip address add 192.0.2.1/24 dev %s",
	    bridge);
	assert_int_equal(sh(cmd), 0);
	assert_int_equal(net_deployment_adopt(n, "l-1", svcs, 2, &port, 1),
	    ERR_CORRUPT);
	assert_msg("2 IPv4 addresses");
	/* then it is made again, in the same block */
	assert_int_equal(net_deployment_add(n, "l-1", svcs, 2), 0);
	assert_int_equal(net_hosts(n, "l-1", &again), 0);
	assert_string_equal(hosts, again);
	free(again);

	/* what no deployment of n holds goes; n's stays */
	assert_int_equal(net_deployment_add(n, "l-3", svcs, 1), 0);
	assert_int_equal(net_deployment_forget(n, "l-3"), 0);
	assert_int_equal(net_cleanup_stale(n), 0);
	net_table_name("ut", "l-3", table, sizeof(table));
	snprintf(cmd, sizeof(cmd),
	    "nft list tables | grep -q %s || "
	    "ip -o link show | grep -q 'lodge:ut:l-3'",
	    table);
	assert_int_not_equal(sh(cmd), 0);
	net_table_name("ut", "l-1", table, sizeof(table));
	snprintf(cmd, sizeof(cmd), "nft list tables | grep -q %s", table);
	assert_int_equal(sh(cmd), 0);
	assert_int_equal(net_deployment_remove(n, "l-1"), 0);
	assert_int_equal(net_deployment_adopt(n, "l-1", svcs, 2, &port, 1),
	    ERR_NOTFOUND);
	free(hosts);
	net_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listing_normalize_zeroes_counts_only),
		cmocka_unit_test(
		    test_adopt_takes_an_intact_network_and_refuses_a_tampered_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
