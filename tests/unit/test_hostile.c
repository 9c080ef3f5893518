/*
 * Unit tests for what a hostile tenant could do to a provider through
 * the features around a running lease: streams held open, volume image
 * names that meet, exec sessions past their limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/key.h"
#include "common/log.h"
#include "market/ssecap.h"
#include "provider/lease.h"
#include "provider/lease_fit.h"
#include "provider/lease_vol.h"
#include "provider/streamcap.h"
#include "sandbox/net.h"

/* One tenant holds at most STREAMCAP_PER_TENANT followed streams; the
 * others still get theirs, and a stream given back can be taken again. */
static void
test_streams_capped_per_tenant(void **state)
{
	uint8_t a[KEY_PUB_LEN], b[KEY_PUB_LEN];
	int i;

	(void)state;
	memset(a, 0xaa, sizeof(a));
	memset(b, 0xbb, sizeof(b));
	for (i = 0; i < STREAMCAP_PER_TENANT; i++)
		assert_int_equal(streamcap_take(a), 0);
	assert_int_equal(streamcap_take(a), ERR_LIMIT);
	assert_non_null(strstr(err_msg(), "close one first"));
	assert_int_equal(streamcap_held(a), STREAMCAP_PER_TENANT);
	assert_int_equal(streamcap_take(b), 0);
	assert_int_equal(streamcap_held(b), 1);
	streamcap_give(a);
	assert_int_equal(streamcap_take(a), 0);
	for (i = 0; i < STREAMCAP_PER_TENANT; i++)
		streamcap_give(a);
	streamcap_give(b);
	assert_int_equal(streamcap_held(a), 0);
	assert_int_equal(streamcap_held(b), 0);
	/* a give with nothing held does not go below zero */
	streamcap_give(b);
	assert_int_equal(streamcap_held(b), 0);
	/* requests in progress: their own count, their own limit */
	for (i = 0; i < STREAMCAP_BUSY_PER_TENANT; i++)
		assert_int_equal(streamcap_busy_take(a), 0);
	assert_int_equal(streamcap_busy_take(a), ERR_LIMIT);
	assert_non_null(strstr(err_msg(), "requests in progress"));
	assert_int_equal(streamcap_held(a), 0);
	assert_int_equal(streamcap_take(a), 0);
	assert_int_equal(streamcap_busy_take(b), 0);
	streamcap_busy_give(b);
	streamcap_give(a);
	for (i = 0; i < STREAMCAP_BUSY_PER_TENANT; i++)
		streamcap_busy_give(a);
	assert_int_equal(streamcap_busy_held(a), 0);
}

/* The volumes of manifest text (services a and b, b of 2 replicas, each
 * mounting the volumes named in va and vb) checked as lease_vol_check
 * does on delivery. */
static int
vol_names(const char *a, const char *va, const char *b, const char *vb)
{
	static const char fmt[] =
	    "{\"deployment\":{\"%s\":{\"here\":{\"count\":1,\"profile\":"
	    "\"p\"}},\"%s\":{\"here\":{\"count\":2,\"profile\":\"p\"}}},"
	    "\"profiles\":{\"p\":{\"cpu_millis\":100,\"memory_bytes\":"
	    "1000000,\"storage\":{\"default\":{\"persistent\":false,"
	    "\"size_bytes\":1000000},\"%s\":{\"class\":\"beta2\","
	    "\"persistent\":true,\"size_bytes\":8388608},\"%s\":{"
	    "\"persistent\":false,\"size_bytes\":8388608}}}},"
	    "\"services\":{\"%s\":{\"args\":[],\"command\":[\"sleep\","
	    "\"9\"],\"image\":{\"kind\":\"host\"},\"params\":{\"storage\":"
	    "{\"%s\":{\"mount\":\"/v\",\"read_only\":false}}},\"runtime\":"
	    "\"process\"},\"%s\":{\"args\":[],\"command\":[\"sleep\","
	    "\"9\"],\"image\":{\"kind\":\"host\"},\"params\":{\"storage\":"
	    "{\"%s\":{\"mount\":\"/v\",\"read_only\":false}}},\"runtime\":"
	    "\"process\"}}}";
	char text[4096], hex[65];
	unsigned char d[32];
	struct lease *l;
	json_t *m,
	    *caps = json_pack("[s,s]", "storage/default", "storage/beta2");
	int rc;

	snprintf(text, sizeof(text), fmt, a, b, va, vb, a, va, b, vb);
	assert_int_equal(cjson_parse(text, strlen(text), &m), 0);
	assert_int_equal(cjson_hash(m, d), 0);
	hex_encode(d, 32, hex);
	assert_int_equal(
	    lease_new("l-7", "o-6",
	        "ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", hex,
	        "here", &l),
	    0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	rc = lease_vol_check(l, caps);
	json_decref(m);
	json_decref(caps);
	lease_free(l);
	return rc;
}

/* Two disk volumes whose image files would be one file (mounted twice
 * at once) are refused; names that only look alike pass. */
static void
test_volume_images_never_shared(void **state)
{
	(void)state;
	/* "web" persistent volume "x-1-y.ephemeral" and "web-0-x" replica
	 * 1 ephemeral volume "y": web-0-x-1-y.ephemeral.img both */
	assert_int_equal(vol_names("web", "x-1-y.ephemeral", "web-0-x", "y"),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(),
	    "services.web-0-x.params.storage.y (replica 1): its image file "
	    "web-0-x-1-y.ephemeral.img is another volume's too"));
	/* alike, not the same */
	assert_int_equal(vol_names("web", "x-1-z.ephemeral", "web-0-x", "y"),
	    0);
	assert_int_equal(vol_names("web", "x-2-y.ephemeral", "web-0-x", "y"),
	    0);
}

/* A deployment's network cannot fill the host's conntrack table: new
 * connections past NET_CONNS_MAX, out of the block or into the host,
 * are refused, before anything else in the chain accepts them. */
static void
test_network_connections_bounded(void **state)
{
	struct net_policy p;
	struct net_ruleset r = { .table = "lodge_0000abcd",
		.bridge = "lodgeb0000abcd",
		.policy = &p };
	char *text = NULL, want[256];
	const char *fwd, *in;

	(void)state;
	assert_int_equal(net_cidr_parse("10.213.7.0/24", "subnet", &r.subnet),
	    0);
	assert_int_equal(net_policy_compile(NULL, 0, NULL, 0, NULL, 0, &p), 0);
	assert_int_equal(net_ruleset_text(&r, &text), 0);
	snprintf(want, sizeof(want),
	    "policy accept;\n\t\tiifname \"lodgeb0000abcd\" ct state new "
	    "ct count over %d ",
	    NET_CONNS_MAX);
	fwd = strstr(text, "chain forward {");
	in = strstr(text, "chain input {");
	assert_non_null(fwd);
	assert_non_null(in);
	assert_non_null(strstr(fwd, want));
	assert_true(strstr(fwd, want) < strstr(fwd, "accept\n"));
	assert_true(strstr(in, want) != NULL &&
	    strstr(in, want) < strstr(in, "established,related accept"));
	free(text);
	net_policy_free(&p);
}

/* A log record is one line whatever its message carries: a tenant's
 * exec command with a newline cannot forge a line of the provider's log
 * (the session's "who"), nor send a terminal its escapes. */
static void
test_log_record_is_one_line(void **state)
{
	char path[] = "/tmp/lodge-test-log-XXXXXX", buf[4096];
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fd, 2), 2);
	log_msg(LOG_INFO, "exec session s1 by ed25519:AAA: %s",
	    "sh\n2026-01-01T00:00:00.000Z provider INFO lease l-2: exec "
	    "session s2 by ed25519:BBB\r\x1b[2J");
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "by ed25519:AAA: sh 2026-01-01"));
	assert_non_null(strstr(buf, "?[2J"));
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	assert_null(strchr(buf, '\x1b'));
}

/* The market's event streams: 32 an address (an IPv6 /64 is one), none
 * counted for the loopback's own 127.0.0.1 and ::1. */
static void
test_market_streams_capped_per_address(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < MARKET_SSE_PER_ADDR; i++)
		assert_int_equal(market_sse_take("203.0.113.7"), 0);
	assert_int_equal(market_sse_take("203.0.113.7"), ERR_LIMIT);
	assert_non_null(strstr(err_msg(), "203.0.113.7 holds 32 event"));
	assert_int_equal(market_sse_take("203.0.113.8"), 0);
	market_sse_give("203.0.113.8");
	/* another address of the same /64 is the same client */
	for (i = 0; i < MARKET_SSE_PER_ADDR; i++)
		assert_int_equal(market_sse_take("2001:db8:1:2::1"), 0);
	assert_int_equal(market_sse_take("2001:db8:1:2:ffff::9"), ERR_LIMIT);
	assert_int_equal(market_sse_take("2001:db8:1:3::1"), 0);
	market_sse_give("2001:db8:1:3::1");
	for (i = 0; i < 100; i++) {
		assert_int_equal(market_sse_take("127.0.0.1"), 0);
		assert_int_equal(market_sse_take("::1"), 0);
	}
	assert_int_equal(market_sse_held("127.0.0.1"), 0);
	market_sse_give("203.0.113.7");
	assert_int_equal(market_sse_held("203.0.113.7"),
	    MARKET_SSE_PER_ADDR - 1);
	assert_int_equal(market_sse_take("203.0.113.7"), 0);
	for (i = 0; i < MARKET_SSE_PER_ADDR; i++) {
		market_sse_give("203.0.113.7");
		market_sse_give("2001:db8:1:2::5");
	}
	assert_int_equal(market_sse_held("203.0.113.7"), 0);
	assert_int_equal(market_sse_held("2001:db8:1:2::1"), 0);
}

/* The key the per-address limits count by: an IPv6 client's /64 is one
 * client (it may pick any address in it), an IPv4 address and its
 * IPv4-mapped form are one, and distinct networks are distinct. */
static void
test_market_addr_key_groups_a_64(void **state)
{
	uint8_t a[16], b[16];

	(void)state;
	market_addr_key("2001:db8:1:2::1", a);
	market_addr_key("2001:db8:1:2:ffff:eeee:dddd:cccc", b);
	assert_memory_equal(a, b, 16);
	market_addr_key("2001:db8:1:3::1", b);
	assert_memory_not_equal(a, b, 16);
	market_addr_key("203.0.113.7", a);
	market_addr_key("::ffff:203.0.113.7", b);
	assert_memory_equal(a, b, 16);
	market_addr_key("203.0.113.8", b);
	assert_memory_not_equal(a, b, 16);
	market_addr_key("not an address", b);
	assert_memory_not_equal(a, b, 16);
}

/* A full table of addresses says so, not that the address holds 32. */
static void
test_market_streams_address_table_full(void **state)
{
	char ip[32];
	int i;

	(void)state;
	for (i = 0; i < MARKET_SSE_ADDRS; i++) {
		snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 256, i % 256);
		assert_int_equal(market_sse_take(ip), 0);
	}
	assert_int_equal(market_sse_take("10.2.0.1"), ERR_LIMIT);
	assert_non_null(strstr(err_msg(), "client addresses hold"));
	assert_int_equal(market_sse_take("10.1.0.0"), 0); /* its own slot */
	market_sse_give("10.1.0.0");
	for (i = 0; i < MARKET_SSE_ADDRS; i++) {
		snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 256, i % 256);
		market_sse_give(ip);
	}
	assert_int_equal(market_sse_take("10.2.0.1"), 0);
	market_sse_give("10.2.0.1");
}

/* When the market's streams are all taken, the address holding the most
 * makes room for a new one, down to an even share: one holding a single
 * stream is never asked, an address is never pushed below the asker's
 * count + 1, and each ask ends exactly one stream. */
static void
test_market_streams_make_room_fairly(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		assert_int_equal(market_sse_take("198.51.100.1"), 0);
	assert_int_equal(market_sse_take("198.51.100.2"), 0);
	/* a newcomer: the holder of 5 is asked, once per kick */
	assert_int_equal(market_sse_kick("198.51.100.3"), 1);
	assert_int_equal(market_sse_kicked("198.51.100.2"), 0);
	assert_int_equal(market_sse_kicked("198.51.100.1"), 1);
	assert_int_equal(market_sse_kicked("198.51.100.1"), 0);
	/* asked but not gone yet: counted as gone for the next kicks, down
	 * to 1 for an asker holding none (then 1 each) */
	assert_int_equal(market_sse_kick("198.51.100.3"), 1); /* 4 → 3 */
	assert_int_equal(market_sse_kick("198.51.100.3"), 1); /* 3 → 2 */
	assert_int_equal(market_sse_kick("198.51.100.3"), 1); /* 2 → 1 */
	assert_int_equal(market_sse_kick("198.51.100.3"), 0);
	market_sse_give_kicked("198.51.100.1");
	assert_int_equal(market_sse_held("198.51.100.1"), 4);
	for (i = 0; i < 3; i++)
		assert_int_equal(market_sse_kicked("198.51.100.1"), 1);
	assert_int_equal(market_sse_kicked("198.51.100.1"), 0);
	for (i = 0; i < 2; i++)
		market_sse_give_kicked("198.51.100.1");
	assert_int_equal(market_sse_held("198.51.100.1"), 2);
	/* an asker holding 1 takes nothing from a holder of 2 */
	assert_int_equal(market_sse_take("198.51.100.3"), 0);
	assert_int_equal(market_sse_kick("198.51.100.3"), 0);
	market_sse_give_kicked("198.51.100.1"); /* the 3rd ends */
	assert_int_equal(market_sse_held("198.51.100.1"), 1);
	assert_int_equal(market_sse_take("198.51.100.1"), 0);
	/* the loopback asks as one holding none: the holder of 2 gives one,
	 * the holders of 1 never */
	assert_int_equal(market_sse_kick("127.0.0.1"), 1);
	assert_int_equal(market_sse_kicked("198.51.100.1"), 1);
	market_sse_give_kicked("198.51.100.1");
	assert_int_equal(market_sse_kick("127.0.0.1"), 0);
	assert_int_equal(market_sse_kicked("198.51.100.2"), 0);
	/* a stream that ends by itself while an ask is pending: the ask
	 * never outnumbers the streams */
	for (i = 0; i < 3; i++)
		assert_int_equal(market_sse_take("198.51.100.2"), 0);
	assert_int_equal(market_sse_kick("127.0.0.1"), 1); /* 4 → 3 */
	for (i = 0; i < 4; i++)
		market_sse_give("198.51.100.2");
	assert_int_equal(market_sse_held("198.51.100.2"), 0);
	assert_int_equal(market_sse_kicked("198.51.100.2"), 0);
	market_sse_give("198.51.100.1");
	market_sse_give("198.51.100.3");
	assert_int_equal(market_sse_held("198.51.100.1"), 0);
	assert_int_equal(market_sse_held("198.51.100.3"), 0);
}

/* A manifest runs no more than its order asked (and the market bills):
 * the volumes' lease of vol_names is 3 replicas of 100 millis, 1000000
 * bytes of memory and 1000000 + 8388608 * 2 bytes of storage each. */
static void
test_manifest_fits_its_order(void **state)
{
	static const char fmt[] =
	    "{\"deployment\":{\"a\":{\"here\":{\"count\":1,\"profile\":"
	    "\"p\"}},\"b\":{\"here\":{\"count\":2,\"profile\":\"p\"}}},"
	    "\"profiles\":{\"p\":{\"cpu_millis\":100,\"memory_bytes\":"
	    "1000000,\"storage\":{\"default\":{\"persistent\":false,"
	    "\"size_bytes\":%s}}}},\"services\":{\"a\":{\"args\":[],"
	    "\"command\":[\"true\"],\"image\":{\"kind\":\"host\"},"
	    "\"runtime\":\"process\"},\"b\":{\"args\":[],\"command\":"
	    "[\"true\"],\"image\":{\"kind\":\"host\"},\"runtime\":"
	    "\"process\"}}}";
	char text[2048], hex[65];
	unsigned char d[32];
	struct lease *l;
	json_t *m, *res;

	(void)state;
	snprintf(text, sizeof(text), fmt, "1000000");
	assert_int_equal(cjson_parse(text, strlen(text), &m), 0);
	assert_int_equal(cjson_hash(m, d), 0);
	hex_encode(d, 32, hex);
	assert_int_equal(
	    lease_new("l-7", "o-6",
	        "ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", hex,
	        "here", &l),
	    0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	json_decref(m);
	/* as `sdl orders` gives it: one entry a service */
	res = json_pack("[{s:i,s:i,s:i,s:i},{s:i,s:i,s:i,s:i}]", "count", 1,
	    "cpu_millis", 100, "memory_bytes", 1000000, "storage_bytes",
	    1000000, "count", 2, "cpu_millis", 100, "memory_bytes", 1000000,
	    "storage_bytes", 1000000);
	assert_int_equal(lease_fits_order(l, res), 0);
	json_decref(res);
	/* a tiny order for the same manifest */
	res = json_pack("[{s:i,s:i,s:i,s:i}]", "count", 3, "cpu_millis", 100,
	    "memory_bytes", 1000, "storage_bytes", 1000000);
	assert_int_equal(lease_fits_order(l, res), ERR_REJECT);
	assert_non_null(strstr(err_msg(),
	    "its replicas ask 3000000 memory_bytes in all, its order 3000"));
	json_decref(res);
	res = json_pack("[{s:i,s:i,s:i,s:i}]", "count", 2, "cpu_millis", 1000,
	    "memory_bytes", 10000000, "storage_bytes", 10000000);
	assert_int_equal(lease_fits_order(l, res), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "ask 3 replicas"));
	json_decref(res);
	/* products that overflow saturate (a huge order, billed so),
	 * never wrap to a small one: 2^62 x 4 is not 0 */
	res = json_pack("[{s:I,s:i,s:i,s:i}]", "count", (json_int_t)1 << 62,
	    "cpu_millis", 4, "memory_bytes", 4, "storage_bytes", 4);
	assert_int_equal(lease_fits_order(l, res), 0);
	json_decref(res);
	assert_int_equal(lease_fits_order(l, NULL), ERR_REJECT);
	lease_free(l);
	/* a negative volume size is not a small one */
	snprintf(text, sizeof(text), fmt, "-1");
	assert_int_equal(cjson_parse(text, strlen(text), &m), 0);
	assert_int_equal(cjson_hash(m, d), 0);
	hex_encode(d, 32, hex);
	assert_int_equal(
	    lease_new("l-8", "o-6",
	        "ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", hex,
	        "here", &l),
	    0);
	if (lease_set_manifest(l, m) == 0) {
		res = json_pack("[{s:i,s:i,s:i,s:i}]", "count", 3, "cpu_millis",
		    100, "memory_bytes", 1000000, "storage_bytes", 1000000);
		assert_int_equal(lease_fits_order(l, res), ERR_REJECT);
		assert_non_null(strstr(err_msg(), "storage_bytes"));
		json_decref(res);
	}
	json_decref(m);
	lease_free(l);
	/* GPUs count too: a profile asking 2 GPUs under an order that
	 * asked none (or 1 per replica of 3) is refused */
	snprintf(text, sizeof(text), "%s", fmt);
	{
		char *p = strstr(text, "\"cpu_millis\":100,");
		char with[2048];
		assert_non_null(p);
		snprintf(with, sizeof(with), "%.*s\"gpu_units\":2,%s",
		    (int)(p - text), text, p);
		snprintf(text, sizeof(text), with, "1000000");
	}
	assert_int_equal(cjson_parse(text, strlen(text), &m), 0);
	assert_int_equal(cjson_hash(m, d), 0);
	hex_encode(d, 32, hex);
	assert_int_equal(
	    lease_new("l-9", "o-6",
	        "ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", hex,
	        "here", &l),
	    0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	json_decref(m);
	res = json_pack("[{s:i,s:i,s:i,s:i}]", "count", 3, "cpu_millis", 100,
	    "memory_bytes", 1000000, "storage_bytes", 1000000);
	assert_int_equal(lease_fits_order(l, res), ERR_REJECT);
	assert_non_null(strstr(err_msg(),
	    "its replicas ask 6 gpu_units in all, its order 0"));
	json_decref(res);
	res = json_pack("[{s:i,s:i,s:i,s:i,s:i}]", "count", 3, "cpu_millis",
	    100, "memory_bytes", 1000000, "storage_bytes", 1000000, "gpu_units",
	    1);
	assert_int_equal(lease_fits_order(l, res), ERR_REJECT);
	assert_non_null(
	    strstr(err_msg(), "ask 6 gpu_units in all, its order 3"));
	json_decref(res);
	res = json_pack("[{s:i,s:i,s:i,s:i,s:i}]", "count", 3, "cpu_millis",
	    100, "memory_bytes", 1000000, "storage_bytes", 1000000, "gpu_units",
	    2);
	assert_int_equal(lease_fits_order(l, res), 0);
	json_decref(res);
	res = json_pack("[{s:i,s:i,s:i,s:i,s:s}]", "count", 3, "cpu_millis",
	    100, "memory_bytes", 1000000, "storage_bytes", 1000000, "gpu_units",
	    "many");
	assert_int_equal(lease_fits_order(l, res), ERR_REJECT);
	json_decref(res);
	lease_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams_capped_per_tenant),
		cmocka_unit_test(test_volume_images_never_shared),
		cmocka_unit_test(test_network_connections_bounded),
		cmocka_unit_test(test_log_record_is_one_line),
		cmocka_unit_test(test_market_streams_capped_per_address),
		cmocka_unit_test(test_market_streams_make_room_fairly),
		cmocka_unit_test(test_market_addr_key_groups_a_64),
		cmocka_unit_test(test_market_streams_address_table_full),
		cmocka_unit_test(test_manifest_fits_its_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
