/*
 * test_lease_net: the provider's side of deployment networks without the
 * kernel: the capability table, the network options of provider.json and
 * what is advertised, the capabilities an SDL's orders carry, and the
 * capabilities and forwarded ports a lease's manifest needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/capability.h"
#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "provider/config.h"
#include "provider/lease.h"
#include "provider/lease_net.h"
#include "sandbox/net.h"
#include "sdl/sdl.h"

static void
test_capability_table_names_capabilities(void **state)
{
	(void)state;
	assert_string_equal(capability_name(CAPABILITY_PORTS), "ports");
	assert_string_equal(capability_name(CAPABILITY_EGRESS), "egress");
	for (int c = 0; c < CAPABILITY_COUNT; c++) {
		assert_int_equal(capability_from_name(capability_name(c)), c);
		assert_non_null(strstr(capability_what(c), "--net on"));
		/* sorted, as an order's and an ask's lists are */
		if (c > 0)
			assert_true(strcmp(capability_name(c - 1),
			                capability_name(c)) < 0);
	}
	assert_int_equal(capability_from_name("storage/beta2"), -1);
	assert_int_equal(capability_from_name(""), -1);
}

/* The advertisement's capabilities, joined by ",". */
static void
adv_caps(const json_t *adv, char *buf, size_t cap)
{
	const json_t *v;
	size_t i, n = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(adv, "capabilities"), i, v)
	{
		/* storage classes depend on the host (root, loop devices) */
		if (strncmp(json_string_value(v), "storage/", 8) == 0)
			continue;
		n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s",
		    n ? "," : "", json_string_value(v));
	}
}

static void
test_config_net_options_checked_saved_and_advertised(void **state)
{
	struct provider_config c, back;
	char dir[] = "/tmp/lodge-netcfg-XXXXXX", path[64], cmd[96], caps[64];
	const char *lists[3][17];
	struct net_config nc;
	json_t *adv;

	(void)state;
	config_init(&c);
	assert_int_equal(c.net_on, 0);
	assert_int_equal(c.port_min, NET_PORT_MIN_DEFAULT);
	assert_int_equal(config_parse_net(&c, "maybe"), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "--net maybe: expected on or off"));
	assert_int_equal(config_parse_net(&c, "on"), 0);
	assert_int_equal(config_parse_egress(&c, "off"), 0);
	assert_int_equal(c.egress_off, 1);
	assert_int_equal(config_parse_port_range(&c, "31000-31099"), 0);
	assert_int_equal(c.port_min, 31000);
	assert_int_equal(c.port_max, 31099);
	assert_int_equal(config_parse_port_range(&c, "5-4"), ERR_INVAL);
	assert_int_equal(config_parse_port_range(&c, "0-10"), ERR_INVAL);
	assert_int_equal(config_parse_port_range(&c, "1-70000"), ERR_INVAL);
	assert_int_equal(config_parse_port_range(&c, "30000"), ERR_INVAL);
	assert_int_equal(config_parse_port_range(&c, "-1-5"), ERR_INVAL);
	assert_int_equal(c.port_min, 31000); /* unchanged by the bad ones */
	assert_int_equal(config_add_egress(&c, 0, "10.5.0.0/16"), 0);
	assert_int_equal(config_add_egress(&c, 1, "10.5.3.1/24"), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "--egress-deny"));
	assert_int_equal(config_add_egress(&c, 1, "8.8.8.8"), 0);
	assert_int_equal(config_add_dns(&c, "nameserver"), ERR_INVAL);
	assert_int_equal(config_add_dns(&c, "192.0.2.53"), 0);
	snprintf(c.net_pool, sizeof(c.net_pool), "10.231.0.0/16");

	/* what net_new gets */
	config_net_config(&c, "pabc", &nc, lists);
	assert_string_equal(nc.scope, "pabc");
	assert_string_equal(nc.pool, "10.231.0.0/16");
	assert_int_equal(nc.egress_off, 1);
	assert_string_equal(nc.egress_allow[0], "10.5.0.0/16");
	assert_null(nc.egress_allow[1]);
	assert_string_equal(nc.egress_deny[0], "8.8.8.8");
	assert_string_equal(nc.dns[0], "192.0.2.53");
	assert_int_equal(nc.port_min, 31000);

	/* saved and loaded back */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/provider.json", dir);
	snprintf(c.market, sizeof(c.market), "http://127.0.0.1:9");
	assert_int_equal(config_save(path, &c), 0);
	config_init(&back);
	assert_int_equal(config_load(path, &back), 0);
	assert_int_equal(back.net_on, 1);
	assert_int_equal(back.egress_off, 1);
	assert_string_equal(back.net_pool, "10.231.0.0/16");
	assert_int_equal(back.port_min, 31000);
	assert_int_equal(back.port_max, 31099);
	assert_int_equal(json_array_size(back.egress_allow), 1);
	assert_int_equal(json_array_size(back.egress_deny), 1);
	assert_int_equal(json_array_size(back.dns), 1);
	assert_int_equal(back.net_live, 0); /* never saved */
	config_clear(&back);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);

	/* advertised: only what runs */
	assert_int_equal(config_advertise_body(&c, "http://p", &adv), 0);
	adv_caps(adv, caps, sizeof(caps));
	assert_string_equal(caps, ""); /* --net on, but not up */
	json_decref(adv);
	c.net_live = 1;
	assert_int_equal(config_advertise_body(&c, "http://p", &adv), 0);
	adv_caps(adv, caps, sizeof(caps));
	assert_string_equal(caps, "network,ports"); /* --egress off */
	json_decref(adv);
	c.egress_off = 0;
	assert_int_equal(config_advertise_body(&c, "http://p", &adv), 0);
	adv_caps(adv, caps, sizeof(caps));
	assert_string_equal(caps, "egress,network,ports");
	json_decref(adv);
	c.net_on = 0;
	assert_int_equal(config_advertise_body(&c, "http://p", &adv), 0);
	adv_caps(adv, caps, sizeof(caps));
	assert_string_equal(caps, "");
	json_decref(adv);
	config_clear(&c);
}

static const char two_services[] = "version: \"2.0\"\n"
                                   "services:\n"
                                   "  web:\n"
                                   "    image: host\n"
                                   "    command: [\"sh\"]\n"
                                   "    expose:\n"
                                   "      - port: 8080\n"
                                   "        as: 80\n"
                                   "        to:\n"
                                   "          - global: true\n"
                                   "  db:\n"
                                   "    image: host\n"
                                   "    command: [\"sh\"]\n"
                                   "    expose:\n"
                                   "      - port: 5432\n"
                                   "        to:\n"
                                   "          - service: web\n"
                                   "%s"
                                   "profiles:\n"
                                   "  compute:\n"
                                   "    p:\n"
                                   "      resources:\n"
                                   "        cpu:\n"
                                   "          units: 0.5\n"
                                   "        memory:\n"
                                   "          size: 64Mi\n"
                                   "        storage:\n"
                                   "          size: 16Mi\n"
                                   "  placement:\n"
                                   "    dc:\n"
                                   "      pricing:\n"
                                   "        p:\n"
                                   "          denom: uakt\n"
                                   "          amount: 100\n"
                                   "deployment:\n"
                                   "  web:\n"
                                   "    dc:\n"
                                   "      profile: p\n"
                                   "      count: 1\n"
                                   "  db:\n"
                                   "    dc:\n"
                                   "      profile: p\n"
                                   "      count: 2\n";

/* The capabilities of the only order of two_services with extra
 * exposes of db spliced in, joined by ",". */
static void
order_caps(const char *extra, char *buf, size_t cap)
{
	struct sdl_deployment *d = NULL;
	struct sdl_errors errs = { 0 };
	char yaml[4096];
	json_t *o = NULL, *v;
	size_t i, n = 0;

	snprintf(yaml, sizeof(yaml), two_services, extra);
	if (sdl_parse_buffer("t.yaml", yaml, strlen(yaml), &d, &errs) != 0)
		fail_msg("rejected: %s", err_msg());
	sdl_errors_free(&errs);
	assert_int_equal(sdl_orders_json(d, &o), 0);
	assert_int_equal(json_array_size(o), 1);
	buf[0] = '\0';
	json_array_foreach(
	    json_object_get(json_array_get(o, 0), "capabilities"), i, v)
	{
		n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s",
		    n ? "," : "", json_string_value(v));
	}
	json_decref(o);
	sdl_deployment_free(d);
}

static void
test_orders_carry_the_capabilities_their_services_need(void **state)
{
	char caps[128];

	(void)state;
	/* web on 80 through the gateway, db only to web: the network */
	order_caps("", caps, sizeof(caps));
	assert_string_equal(caps, "network");
	/* a global TCP port other than 80: ports */
	order_caps("      - port: 5432\n"
	           "        to:\n"
	           "          - global: true\n",
	    caps, sizeof(caps));
	assert_string_equal(caps, "network,ports");
	/* UDP, even as 80: ports */
	order_caps("      - port: 53\n"
	           "        as: 80\n"
	           "        proto: udp\n"
	           "        to:\n"
	           "          - global: true\n",
	    caps, sizeof(caps));
	assert_string_equal(caps, "network,ports");
	/* TCP as 80 is the gateway's */
	order_caps("      - port: 9000\n"
	           "        as: 80\n"
	           "        to:\n"
	           "          - global: true\n",
	    caps, sizeof(caps));
	assert_string_equal(caps, "network");
}

/* db (count 2) exposes 5432 to web and globally as tcp 15432, 53/udp
 * globally and 8080 as 80 (the gateway's); web (count 1) only to db;
 * cache is not deployed in the placement. */
static const char net_manifest[] =
    "{\"deployment\":{\"db\":{\"here\":{\"count\":2,\"profile\":\"p\"}},"
    "\"web\":{\"here\":{\"count\":1,\"profile\":\"p\"}},"
    "\"cache\":{\"there\":{\"count\":1,\"profile\":\"p\"}}},"
    "\"profiles\":{\"p\":{\"cpu_millis\":500,\"memory_bytes\":1000000,"
    "\"storage\":{}}},"
    "\"services\":{"
    "\"db\":{\"args\":[],\"command\":[\"sh\"],\"expose\":["
    "{\"as\":5432,\"global\":false,\"port\":5432,\"proto\":\"tcp\","
    "\"service\":\"web\"},"
    "{\"as\":15432,\"global\":true,\"port\":5432,\"proto\":\"tcp\"},"
    "{\"as\":53,\"global\":true,\"port\":53,\"proto\":\"udp\"},"
    "{\"as\":80,\"global\":true,\"port\":8080,\"proto\":\"tcp\"}],"
    "\"image\":{\"kind\":\"host\"},\"runtime\":\"process\"},"
    "\"web\":{\"args\":[],\"command\":[\"sh\"],\"expose\":[{\"as\":80,"
    "\"global\":false,"
    "\"port\":80,\"proto\":\"tcp\",\"service\":\"db\"}],"
    "\"image\":{\"kind\":\"host\"},\"runtime\":\"process\"},"
    "\"cache\":{\"args\":[],\"command\":[\"sh\"],\"expose\":[{\"as\":6379,"
    "\"global\":true,\"port\":6379,\"proto\":\"tcp\"}],"
    "\"image\":{\"kind\":\"host\"},\"runtime\":\"process\"}}}";

static struct lease *
lease_with(const char *text)
{
	struct lease *l;
	unsigned char d[32];
	char hex[65];
	json_t *m;

	assert_int_equal(cjson_parse(text, strlen(text), &m), 0);
	assert_int_equal(cjson_hash(m, d), 0);
	hex_encode(d, 32, hex);
	assert_int_equal(lease_new("l-9", "o-8",
	                     "ed25519:AAAAAAAAAAAAAAAAAAAAA"
	                     "AAAAAAAAAAAAAAAAAAAAAA",
	                     hex, "here", &l),
	    0);
	if (lease_set_manifest(l, m) != 0)
		fail_msg("manifest refused: %s", err_msg());
	json_decref(m);
	return l;
}

static void
test_lease_plans_its_forwarded_ports_and_keeps_saved_ones(void **state)
{
	int need[CAPABILITY_COUNT];
	struct lease *l = lease_with(net_manifest), *back;
	json_t *j, *st;

	(void)state;
	lease_net_needs(l, need);
	assert_int_equal(need[CAPABILITY_NETWORK], 1);
	assert_int_equal(need[CAPABILITY_PORTS], 1);
	assert_int_equal(need[CAPABILITY_EGRESS], 0);
	assert_int_equal(lease_net_plan_ports(l), 0);
	/* 5432/tcp and 53/udp of db, once each (not per replica); not the
	 * gateway's 8080 as 80, nor the undeployed cache's 6379 */
	assert_int_equal(l->nports, 2);
	assert_string_equal(l->ports[0].service, "db");
	assert_int_equal(l->ports[0].port, 5432);
	assert_int_equal(l->ports[0].udp, 0);
	assert_int_equal(l->ports[1].port, 53);
	assert_int_equal(l->ports[1].udp, 1);
	assert_int_equal(l->ports[0].host, 0);
	/* as net_port_add would have chosen them, then saved and loaded */
	l->ports[0].host = 31005;
	l->ports[1].host = 31006;
	assert_int_equal(lease_to_json(l, &j), 0);
	assert_int_equal(lease_from_json(j, &back), 0);
	assert_int_equal(back->nports, 2);
	json_decref(j);
	{
		json_t *m;
		assert_int_equal(
		    cjson_parse(net_manifest, strlen(net_manifest), &m), 0);
		assert_int_equal(lease_set_manifest(back, m), 0);
		json_decref(m);
	}
	assert_int_equal(lease_net_plan_ports(back), 0);
	assert_int_equal(back->nports, 2);
	assert_int_equal(back->ports[0].host, 31005);
	assert_int_equal(back->ports[1].host, 31006);
	/* the tenant's status lists them */
	assert_int_equal(lease_status_json(back, &st), 0);
	j = json_array_get(json_object_get(st, "forwarded_ports"), 1);
	assert_string_equal(json_string_value(json_object_get(j, "proto")),
	    "udp");
	assert_int_equal(json_integer_value(json_object_get(j, "host_port")),
	    31006);
	json_decref(st);
	lease_free(back);
	lease_free(l);
}

/* An adopted network's egress counter goes on: the saved lease says
 * which of its values its counters hold, so the next process counts only
 * past it (no byte lost when killed, none counted twice). */
static void
test_lease_saves_the_egress_counter_its_counters_hold(void **state)
{
	struct lease *l = lease_with(net_manifest), *back;
	uint64_t now[USAGE_COUNT];
	char scope[16];
	json_t *j;

	(void)state;
	l->base[USAGE_EGRESS_BYTES] = 100;
	l->net_up = 1;
	l->net_egress_at = 1000; /* the counter at the last start */
	atomic_store(&l->net_egress, 500); /* it read 1500 since */
	assert_int_equal(lease_to_json(l, &j), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "net_counter")),
	    1500);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(j, "counters"), "egress_bytes")),
	    600);
	assert_int_equal(lease_from_json(j, &back), 0);
	json_decref(j);
	assert_int_equal(back->base[USAGE_EGRESS_BYTES], 600);
	assert_int_equal(back->net_egress_at, 1500);
	/* the counter read 1800 after the restart: 300 more, not 1800 */
	atomic_store(&back->net_egress, 1800 - back->net_egress_at);
	lease_counters(back, now);
	assert_int_equal(now[USAGE_EGRESS_BYTES], 900);
	/* without a network, nothing is saved of it */
	l->net_up = 0;
	assert_int_equal(lease_to_json(l, &j), 0);
	assert_null(json_object_get(j, "net_counter"));
	json_decref(j);
	lease_free(back);
	lease_free(l);
	/* the networks' scope is the sandboxes' ('p' + 8 of the key) */
	config_net_scope("akash1Ab-Cd9xyz0123", scope, sizeof(scope));
	assert_string_equal(scope, "p0cd9xyz0");
	config_net_scope("short", scope, sizeof(scope));
	assert_string_equal(scope, "p");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capability_table_names_capabilities),
		cmocka_unit_test(
		    test_config_net_options_checked_saved_and_advertised),
		cmocka_unit_test(
		    test_orders_carry_the_capabilities_their_services_need),
		cmocka_unit_test(
		    test_lease_plans_its_forwarded_ports_and_keeps_saved_ones),
		cmocka_unit_test(
		    test_lease_saves_the_egress_counter_its_counters_hold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
