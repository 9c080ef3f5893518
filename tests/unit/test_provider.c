/*
 * Unit tests for the provider's pure parts: gateway routing, the event
 * stream parser, price and attribute parsing, the data dir `provider
 * init` makes and `provider status` reads, manifest checks against the
 * lease, meters that never go backwards and stay within the market's
 * physical bound, allocation failures while a manifest is read, a
 * lease's stop, the artifact cache, and the bond advice against a
 * stand-in market.
 */
#include <pthread.h>
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
#include "common/http.h"
#include "common/key.h"
#include "common/reqsig.h"
#include "common/util.h"
#include "provider/accept.h"
#include "provider/account.h"
#include "provider/artifact.h"
#include "provider/config.h"
#include "provider/follow.h"
#include "provider/gateway.h"
#include "provider/image_run.h"
#include "provider/lease.h"
#include "provider/lease_vol.h"
#include "provider/lease_update.h"
#include "provider/status.h"
#include "sandbox/sandbox.h"

/* Debian's libgit2 leaks pcre2 match data it allocates per regex use
 * (not ours to free): tell LeakSanitizer in the ASan build. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libpcre2-8.so\n";
}

static void
test_gateway_routes_by_path_and_host(void **state)
{
	struct gateway_route r;

	(void)state;
	assert_int_equal(
	    gateway_route_parse(NULL, "/l/l-4/web/a/b", "x.io", &r), 1);
	assert_string_equal(r.lease, "l-4");
	assert_string_equal(r.service, "web");
	assert_string_equal(r.path, "/a/b");
	assert_int_equal(gateway_route_parse(NULL, "/l/l-4/web", "x.io", &r),
	    1);
	assert_string_equal(r.path, "/");
	assert_int_equal(
	    gateway_route_parse("l-12-api.X.io:8080", "/v1/x", "x.io", &r), 1);
	assert_string_equal(r.lease, "l-12");
	assert_string_equal(r.service, "api");
	assert_string_equal(r.path, "/v1/x");
	assert_true(r.by_host);
	/* Host tricks: the root's trailing dot and upper case name the same
	 * lease; a port is not part of the name; nothing else reaches it */
	assert_int_equal(
	    gateway_route_parse("L-12-API.X.IO.:443", "/", "x.io", &r), 1);
	assert_string_equal(r.lease, "l-12");
	assert_string_equal(r.service, "api");
	assert_int_equal(gateway_route_parse("l-12-api.x.io.", "/", "x.io", &r),
	    1);
	assert_string_equal(r.lease, "l-12");
	assert_int_equal(
	    gateway_route_parse("l-12-api.x.io..", "/", "x.io", &r), 0);
	assert_int_equal(
	    gateway_route_parse("l-12-api.evil.x.io", "/", "x.io", &r), 0);
	assert_int_equal(
	    gateway_route_parse("l-12-api.x.io@l-3-web.x.io", "/", "x.io", &r),
	    0);
	assert_int_equal(gateway_route_parse(".", "/", "x.io", &r), 0);
	/* under a lease's host, a path naming another lease stays with the
	 * host's lease (else lease 4's service would run in lease 12's
	 * origin, with its cookies) */
	assert_int_equal(
	    gateway_route_parse("l-12-api.x.io", "/l/l-4/web/a", "x.io", &r),
	    1);
	assert_string_equal(r.lease, "l-12");
	assert_string_equal(r.service, "api");
	assert_string_equal(r.path, "/l/l-4/web/a");
	assert_true(r.by_host);
	assert_int_equal(gateway_route_parse(":x.io", "/", "x.io", &r), 0);
	/* Not for the gateway: the API, other hosts, no lease prefix. */
	assert_int_equal(
	    gateway_route_parse("127.0.0.1:9", "/v1/leases", "x.io", &r), 0);
	assert_int_equal(gateway_route_parse("web.x.io", "/", "x.io", &r), 0);
	assert_int_equal(gateway_route_parse("l-1-web.y.io", "/", "x.io", &r),
	    0);
	assert_int_equal(
	    gateway_route_parse("l-1-web.evilx.io", "/", "x.io", &r), 0);
	/* For the gateway but malformed. */
	assert_int_equal(gateway_route_parse(NULL, "/l/l-4", "x.io", &r),
	    ERR_INVAL);
	assert_int_equal(gateway_route_parse(NULL, "/l/l-4/w%20b/", "x.io", &r),
	    ERR_INVAL);
}

struct leaves {
	int n;
	long long last;
};

static int
count_leaf(void *ctx, const json_t *leaf)
{
	struct leaves *l = ctx;

	l->n++;
	l->last = json_integer_value(json_object_get(leaf, "index"));
	return 0;
}

static void
test_follow_parser_handles_split_chunks_crlf_and_comments(void **state)
{
	const char *s =
	    ": keep-alive\n\nid: 1\nevent: leaf\ndata: "
	    "{\"index\":1}\n\nid: 2\r\nevent: leaf\r\ndata: {\"index\":\r\n"
	    "data: 2}\r\n\r\n";
	struct follow_parser p;
	struct leaves l = { 0, 0 };
	size_t i;

	(void)state;
	follow_parser_init(&p);
	/* One byte at a time: events may be cut anywhere. */
	for (i = 0; s[i]; i++)
		assert_int_equal(
		    follow_parser_feed(&p, s + i, 1, count_leaf, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.last, 2);
	follow_parser_clear(&p);
	follow_parser_init(&p);
	assert_int_equal(
	    follow_parser_feed(&p, "data: {nope\n\n", 13, count_leaf, &l),
	    ERR_INVAL);
	follow_parser_clear(&p);
}

static int
count_checkpoint(void *ctx, const json_t *cp)
{
	struct leaves *l = ctx;

	l->n += 100;
	l->last = json_integer_value(json_object_get(cp, "size"));
	return 0;
}

/* Checkpoint events go to on_checkpoint (and nowhere without one),
 * leaves to fn, unknown types nowhere; the type lasts one event. */
static void
test_follow_parser_routes_checkpoint_events(void **state)
{
	const char *s =
	    "event: checkpoint\ndata: {\"size\":7,\"note\":\"x\"}\n\n"
	    "id: 3\nevent: leaf\ndata: {\"index\":3}\n\n"
	    "event: other\ndata: {\"index\":9}\n\n"
	    "data: {\"index\":4}\n\n";
	struct follow_parser p;
	struct leaves l = { 0, 0 };

	(void)state;
	follow_parser_init(&p);
	p.on_checkpoint = count_checkpoint;
	assert_int_equal(follow_parser_feed(&p, s, strlen(s), count_leaf, &l),
	    0);
	assert_int_equal(l.n, 102);
	assert_int_equal(l.last, 4);
	follow_parser_clear(&p);
	follow_parser_init(&p); /* no on_checkpoint: skipped */
	l.n = 0;
	assert_int_equal(follow_parser_feed(&p, s, strlen(s), count_leaf, &l),
	    0);
	assert_int_equal(l.n, 2);
	follow_parser_clear(&p);
}

static void
test_config_parses_price_and_attributes(void **state)
{
	struct provider_config c;
	json_t *adv;

	(void)state;
	config_init(&c);
	assert_int_equal(config_parse_price(&c,
	                     "denom=uact,cpu_ms=100,"
	                     "mem_mb_s=2,request=1000"),
	    0);
	assert_string_equal(c.denom, "uact");
	assert_int_equal(c.price[PRICE_CPU_MS], 100);
	assert_int_equal(c.price[PRICE_REQUEST], 1000);
	assert_int_equal(config_parse_price(&c, "gpu=1"), ERR_INVAL);
	assert_int_equal(config_parse_price(&c, "cpu_ms=-1"), ERR_RANGE);
	assert_int_equal(config_parse_price(&c, "cpu_ms"), ERR_INVAL);
	assert_int_equal(config_parse_attributes(&c, "region=eu,tier=2"), 0);
	c.detected.cpu_millis = 4000;
	c.reserved.cpu_millis = 5000; /* more than there is: offers 0 */
	c.detected.memory_bytes = 1000;
	assert_int_equal(config_advertise_body(&c, "http://p", &adv), 0);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(adv, "capacity"), "cpu_millis")),
	    0);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(adv, "attributes"), "region")),
	    "eu");
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(adv, "runtimes"), 0)),
	    "process");
	json_decref(adv);
	config_clear(&c);
}

/* `provider init` then `provider status`, without a market: the data dir
 * made once (the key kept the second time), and a status whose account
 * is null (unreachable), whose leases are null (no state saved yet). */
static void
test_init_data_dir_then_status_without_market(void **state)
{
	struct provider_config c;
	struct key *k = NULL, *again = NULL;
	char dir[] = "/tmp/test_provider_data.XXXXXX", data[128], cmd[200];
	uint8_t pub[KEY_PUB_LEN];
	char text[KEY_TEXT_SIZE];
	json_t *st;
	int created;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	config_init(&c);
	/* Nothing listens on port 1 of loopback: refused at once. */
	snprintf(c.market, sizeof(c.market), "http://127.0.0.1:1");
	c.reserved.memory_bytes = PROVIDER_RESERVE_MEMORY_DEFAULT;
	assert_int_equal(config_setup(data, &c, &k, &created), 0);
	assert_true(created);
	assert_true(c.detected.cpu_millis >= 1000);
	assert_int_equal(config_setup(data, &c, &again, &created), 0);
	assert_false(created);
	key_public(k, pub);
	key_pub_to_text(pub, text);
	assert_int_equal(provider_status_json(data, 2000, &st), 0);
	assert_string_equal(json_string_value(json_object_get(st, "key")),
	    text);
	assert_string_equal(json_string_value(json_object_get(st, "market")),
	    "http://127.0.0.1:1");
	assert_true(json_is_null(json_object_get(st, "account")));
	assert_true(json_is_null(json_object_get(st, "leases")));
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(st, "capacity"), "memory_bytes")),
	    c.detected.memory_bytes - PROVIDER_RESERVE_MEMORY_DEFAULT);
	json_decref(st);
	/* No data dir: the error names provider.json. */
	assert_true(provider_status_json(dir, 2000, &st) < 0);
	assert_null(st);
	assert_non_null(strstr(err_msg(), "provider.json"));
	key_free(k);
	key_free(again);
	config_clear(&c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A stand-in market for the bond advice: /v1/info with its own bond
 * rules and fees, an account, and this provider's entry (NULL: none).
 * notmarket: every path answers 404, as another server would. */
struct standin {
	const char *account;
	const char *providers;
	int notmarket;
};

static void
standin_handle(void *ctx, const struct http_request *req,
    struct http_response *resp)
{
	const struct standin *m = ctx;

	if (m->notmarket)
		http_respond_error(resp, 404, "not here");
	else if (strcmp(req->path, "/v1/info") == 0)
		http_respond(resp, 200,
		    strdup("{\"denoms\":[\"uakt\"],\"bond\":{\"per_cpu\":"
		           "1000000,\"per_gib\":2000000},\"fees\":{\"default\":"
		           "100,\"kinds\":{\"provider.heartbeat\":10}}}"));
	else if (strcmp(req->path, "/v1/providers") == 0)
		http_respond(resp, 200, strdup(m->providers));
	else if (strncmp(req->path, "/v1/accounts/", 13) == 0)
		http_respond(resp, 200, strdup(m->account));
	else
		http_respond_error(resp, 404, "no %s", req->path);
}

/* provider bond's figures are the genesis rules applied to the capacity
 * offered (or to what leases hold, where more), to the unit; what the
 * key lacks counts the bond not locked and a day of heartbeats; a URL
 * that does not answer as a market is an error. */
static void
test_bond_advice_follows_the_markets_rules(void **state)
{
	struct standin m = { "{\"balances\":{\"uakt\":500},\"bonds\":{}}", "[]",
		0 };
	struct http_server_config hc;
	struct http_server *srv = NULL;
	struct provider_config c;
	struct key *k = NULL;
	char dir[] = "/tmp/test_provider_bond.XXXXXX", data[128], cmd[200];
	char prov[600];
	json_t *b = NULL;
	int64_t off_cpu, off_mem, bond;
	int created;

	(void)state;
	http_server_config_default(&hc);
	hc.host = "127.0.0.1";
	hc.port = 0;
	assert_int_equal(http_server_start(&hc, standin_handle, &m, &srv), 0);
	assert_non_null(mkdtemp(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	config_init(&c);
	snprintf(c.market, sizeof(c.market), "http://127.0.0.1:%u",
	    http_server_port(srv));
	c.insecure_http = 1; /* the stand-in market is plain HTTP */
	c.reserved.memory_bytes = PROVIDER_RESERVE_MEMORY_DEFAULT;
	assert_int_equal(config_setup(data, &c, &k, &created), 0);
	off_cpu = (int64_t)c.detected.cpu_millis;
	off_mem = (int64_t)(c.detected.memory_bytes -
	    PROVIDER_RESERVE_MEMORY_DEFAULT);
	bond = (1000000 * off_cpu + 999) / 1000 +
	    (int64_t)(((unsigned __int128)2000000 * (uint64_t)off_mem +
	                  ((1u << 30) - 1)) >>
	        30);
	assert_int_equal(provider_bond_json(data, 5000, &b), 0);
	assert_int_equal(json_integer_value(json_object_get(b, "bond_needed")),
	    bond);
	/* a day of heartbeats at 10 and the advertise fee (the default) */
	assert_int_equal(json_integer_value(json_object_get(b, "fee_reserve")),
	    8640 * 10 + 100);
	assert_int_equal(json_integer_value(json_object_get(b, "to_fund")),
	    bond + 86500 - 500);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(b, "fees"), "lease.usage")),
	    100);
	json_decref(b);
	/* advertised, its leases holding more cpu than it offers, the bond
	 * locked and a day of fees held: nothing to fund */
	{
		uint8_t pub[KEY_PUB_LEN];
		char text[KEY_TEXT_SIZE], acct[300];
		key_public(k, pub);
		key_pub_to_text(pub, text);
		snprintf(prov, sizeof(prov),
		    "[{\"key\":\"%s\",\"advertised\":true,\"withdrawn\":"
		    "false,\"leases\":1,\"used\":{\"cpu_millis\":%lld,"
		    "\"memory_bytes\":0},\"pending\":{\"cpu_millis\":1000}}]",
		    text, (long long)off_cpu);
		bond += 1000000; /* one more core held than offered */
		snprintf(acct, sizeof(acct),
		    "{\"balances\":{\"uakt\":86400},\"bonds\":{\"uakt\":"
		    "%lld}}",
		    (long long)bond);
		m.providers = prov;
		m.account = acct;
		assert_int_equal(provider_bond_json(data, 5000, &b), 0);
		assert_int_equal(
		    json_integer_value(json_object_get(b, "bond_needed")),
		    bond);
		assert_int_equal(
		    json_integer_value(json_object_get(b, "to_fund")), 0);
		assert_true(json_is_true(json_object_get(b, "advertised")));
		json_decref(b);
	}
	m.notmarket = 1;
	assert_int_equal(provider_bond_json(data, 5000, &b), ERR_IO);
	assert_non_null(strstr(err_msg(), "Lodge market"));
	assert_null(b);
	http_server_free(srv);
	key_free(k);
	config_clear(&c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static const char manifest_text[] =
    "{\"deployment\":{\"web\":{\"here\":{\"count\":2,\"profile\":\"p\"}}},"
    "\"profiles\":{\"p\":{\"cpu_millis\":500,\"memory_bytes\":1000000,"
    "\"storage\":{\"default\":{\"size_bytes\":2000000}}}},"
    "\"services\":{\"web\":{\"args\":[\"-c\",\"sleep 1\"],\"command\":"
    "[\"sh\"],\"env\":{\"A\":\"1\"},\"expose\":[{\"as\":80,\"global\":true,"
    "\"port\":8080,\"proto\":\"tcp\"}],\"image\":{\"kind\":\"host\"},"
    "\"runtime\":\"process\"}}}";

static struct lease *
lease_for(const char *text, const char *placement)
{
	struct lease *l;
	json_t *m;
	unsigned char d[32];
	char hex[65];

	assert_int_equal(cjson_parse(text, strlen(text), &m), 0);
	assert_int_equal(cjson_hash(m, d), 0);
	hex_encode(d, 32, hex);
	assert_int_equal(lease_new("l-7", "o-6",
	                     "ed25519:AAAAAAAAAAAAAAAAAAAAA"
	                     "AAAAAAAAAAAAAAAAAAAAAA",
	                     hex, placement, &l),
	    0);
	json_decref(m);
	return l;
}

static void
test_lease_manifest_builds_replicas_and_refuses_mismatch(void **state)
{
	struct lease *l = lease_for(manifest_text, "here");
	json_t *m, *other;
	uint16_t port = 0;

	(void)state;
	assert_int_equal(cjson_parse(manifest_text, strlen(manifest_text), &m),
	    0);
	other = json_deep_copy(m);
	json_object_set_new(other, "extra", json_true());
	assert_int_equal(lease_set_manifest(l, other), ERR_CONFLICT);
	assert_non_null(strstr(err_msg(), l->manifest_hash));
	assert_int_equal(lease_set_manifest(l, m), 0);
	assert_int_equal(l->nrep, 2);
	assert_string_equal(l->rep[0].argv[0], "sh");
	assert_string_equal(l->rep[0].argv[2], "sleep 1");
	assert_null(l->rep[0].argv[3]);
	assert_string_equal(l->rep[1].name, "l-7-web-1");
	assert_int_equal(l->mem_bytes, 2000000);
	assert_int_equal(l->storage_bytes, 4000000);
	assert_non_null(lease_find_service(l, "web", &port));
	assert_int_equal(port, 8080);
	port = 80;
	assert_non_null(lease_find_service(l, "web", &port));
	assert_int_equal(port, 8080);
	port = 0;
	assert_null(lease_find_service(l, "db", &port));
	json_decref(m);
	json_decref(other);
	lease_free(l);
}

/* Volumes (provider/lease_vol.h): a class the provider does not offer,
 * a persistent ram volume and a bad mount path are refused naming the
 * volume; one it offers passes. */
static const char vol_manifest[] =
    "{\"deployment\":{\"db\":{\"here\":{\"count\":1,\"profile\":\"p\"}}},"
    "\"profiles\":{\"p\":{\"cpu_millis\":500,\"memory_bytes\":1000000,"
    "\"storage\":{\"default\":{\"persistent\":false,\"size_bytes\":"
    "1000000},\"data\":{\"class\":\"%s\",\"persistent\":%s,"
    "\"size_bytes\":8388608}}}},"
    "\"services\":{\"db\":{\"args\":[],\"command\":[\"sleep\",\"9\"],"
    "\"image\":{\"kind\":\"host\"},\"params\":{\"storage\":{\"data\":{"
    "\"mount\":\"%s\",\"read_only\":false}}},\"runtime\":\"process\"}}}";

static int
vol_check(const char *class_, const char *persistent, const char *mount)
{
	char text[2048];
	struct lease *l;
	json_t *m,
	    *caps = json_pack("[s,s,s]", "storage/ram", "storage/default",
	        "storage/beta2");
	int rc;

	snprintf(text, sizeof(text), vol_manifest, class_, persistent, mount);
	l = lease_for(text, "here");
	assert_int_equal(cjson_parse(text, strlen(text), &m), 0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	rc = lease_vol_check(l, caps);
	json_decref(m);
	json_decref(caps);
	lease_free(l);
	return rc;
}

static void
test_lease_volumes_checked_against_the_classes_offered(void **state)
{
	char img[256];

	(void)state;
	assert_int_equal(vol_check("beta2", "true", "/var/lib/db"), 0);
	assert_int_equal(vol_check("ram", "false", "/scratch"), 0);
	assert_int_equal(vol_check("beta3", "true", "/var/lib/db"), ERR_REJECT);
	assert_non_null(strstr(err_msg(),
	    "services.db.params.storage.data: this provider does not offer "
	    "the storage class beta3"));
	assert_int_equal(vol_check("ram", "true", "/scratch"), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "ram is memory"));
	assert_int_equal(vol_check("beta2", "true", "/var/../etc"), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "mount /var/../etc"));
	assert_int_equal(lease_vol_image_path("/d/leases/l-1", "db", 2, "data",
	                     1, img, sizeof(img)),
	    0);
	assert_string_equal(img, "/d/leases/l-1/volumes/db-2-data.img");
}

/* A manifest like manifest_text whose expose accepts host (a JSON
 * fragment of members of the expose), with cpu millis. */
static struct lease *
accept_lease(const char *id, const char *expose_extra, int cpu)
{
	char text[2048];
	struct lease *l;
	json_t *m;

	snprintf(text, sizeof(text),
	    "{\"deployment\":{\"web\":{\"here\":{\"count\":2,\"profile\":"
	    "\"p\"}}},\"profiles\":{\"p\":{\"cpu_millis\":%d,"
	    "\"memory_bytes\":1000000,\"storage\":{}}},\"services\":{\"web\":{"
	    "\"args\":[\"-c\",\"sleep 1\"],\"command\":[\"sh\"],\"env\":{},"
	    "\"expose\":[{\"as\":80,\"port\":8080,\"proto\":\"tcp\"%s}],"
	    "\"image\":{\"kind\":\"host\"},\"runtime\":\"process\"}}}",
	    cpu, expose_extra);
	l = lease_for(text, "here");
	snprintf(l->id, sizeof(l->id), "%s", id);
	assert_int_equal(cjson_parse(text, strlen(text), &m), 0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	json_decref(m);
	l->status = LEASE_RUNNING;
	return l;
}

static void
test_accept_names_claims_and_routes(void **state)
{
	static const char *const bad[] = { "", "-a.example", "a-.example",
		"a..example", "a_b.example", "*.example.com", "10.0.0.1",
		"localhost", "lodge.localhost", "l-1-web.lodge.localhost",
		"api.example.org", "a.example.", NULL };
	static const char *const good[] = { "example.com", "App.Example.COM",
		"a-b.c-d.example", "1a.example", "x", NULL };
	struct lease *a, *b, *c;
	struct gateway_route rt;
	json_t *claims;
	char big[300], host[256];

	(void)state;
	for (size_t i = 0; bad[i]; i++)
		if (accept_check_name(bad[i], "lodge.localhost",
		        "api.example.org") != ERR_REJECT)
			fail_msg("%s accepted", bad[i]);
	for (size_t i = 0; good[i]; i++)
		if (accept_check_name(good[i], "lodge.localhost",
		        "api.example.org") != 0)
			fail_msg("%s refused: %s", good[i], err_msg());
	memset(big, 'a', 64);
	big[64] = '\0';
	assert_int_equal(accept_check_name(big, NULL, NULL), ERR_REJECT);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 50; i < sizeof(big) - 1; i += 51)
		big[i] = '.';
	assert_int_equal(accept_check_name(big, NULL, NULL), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "1-253"));
	/* Host headers: port and trailing dot dropped, lower case */
	assert_int_equal(
	    accept_host_of("App.Example.COM.:8443", host, sizeof(host)), 1);
	assert_string_equal(host, "app.example.com");
	assert_int_equal(accept_host_of("[::1]:80", host, sizeof(host)), 0);
	assert_true(accept_host_unclaimable("127.0.0.1", "lodge.localhost"));
	assert_true(accept_host_unclaimable("l-1-web.lodge.localhost",
	    "lodge.localhost"));
	assert_false(
	    accept_host_unclaimable("shop.example.com", "lodge.localhost"));
	assert_false(accept_host_unclaimable("x", NULL));
	assert_int_equal(accept_host_of("", host, sizeof(host)), 0);

	a = accept_lease("l-1",
	    ",\"global\":true,\"accept\":[\"Shop.Example.com\"]", 500);
	b = accept_lease("l-2",
	    ",\"global\":true,\"accept\":[\"shop.example.com\"]", 500);
	a->next = b;
	/* a's claim, in lower case, to its service and port */
	assert_int_equal(accept_claims(a, "lodge.localhost", NULL, &claims), 0);
	assert_int_equal(json_array_size(claims), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(claims, 0), "host")),
	    "shop.example.com");
	json_decref(claims);
	/* b claims what a holds: refused (b is in the list too) */
	assert_int_equal(accept_claims(b, "lodge.localhost", NULL, &claims), 0);
	assert_int_equal(accept_conflict(a, b, claims), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "taken by another lease"));
	/* a closing or closed lease holds no name */
	snprintf(a->pending_close, sizeof(a->pending_close), "tenant_closed");
	assert_int_equal(accept_conflict(a, b, claims), 0);
	a->pending_close[0] = '\0';
	a->status = LEASE_CLOSED;
	assert_int_equal(accept_conflict(a, b, claims), 0);
	/* nor one whose manifest was not taken (waiting) */
	a->status = LEASE_WAITING;
	assert_int_equal(accept_conflict(a, b, claims), 0);
	json_decref(claims);
	/* routes: the running lease that accepts the Host, on its port */
	a->status = LEASE_RUNNING;
	a->next = NULL;
	assert_int_equal(accept_route(a, "SHOP.example.com:80", "/x?y=1", &rt),
	    1);
	assert_string_equal(rt.lease, "l-1");
	assert_string_equal(rt.service, "web");
	assert_string_equal(rt.path, "/x?y=1");
	assert_int_equal(rt.port, 8080);
	assert_true(rt.by_host);
	assert_int_equal(accept_route(a, "other.example.com", "/", &rt), 0);
	{ /* a path whole up to GATEWAY_MAX_TARGET, refused past it */
		char *p = malloc(GATEWAY_MAX_TARGET + 2);
		memset(p, 'p', GATEWAY_MAX_TARGET + 1);
		p[0] = '/';
		p[GATEWAY_MAX_TARGET] = '\0';
		assert_int_equal(accept_route(a, "shop.example.com", p, &rt),
		    1);
		assert_int_equal(strlen(rt.path), GATEWAY_MAX_TARGET);
		p[GATEWAY_MAX_TARGET] = 'p';
		p[GATEWAY_MAX_TARGET + 1] = '\0';
		assert_int_equal(accept_route(a, "shop.example.com", p, &rt),
		    ERR_LIMIT);
		free(p);
	}
	a->status = LEASE_CLOSED;
	assert_int_equal(accept_route(a, "shop.example.com", "/", &rt), 0);
	/* an accept on an expose that is not global is refused */
	c = accept_lease("l-3", ",\"accept\":[\"c.example.com\"]", 500);
	assert_int_equal(accept_claims(c, NULL, NULL, &claims), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "not global"));
	lease_free(c);
	/* a name under the provider's domain, through a manifest */
	c = accept_lease("l-4",
	    ",\"global\":true,\"accept\":[\"l-1-web.lodge.localhost\"]", 500);
	assert_int_equal(accept_claims(c, "lodge.localhost", NULL, &claims),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "services.web.expose[0].accept[0]"));
	lease_free(c);
	lease_free(a);
	lease_free(b);
}

static void
test_lease_update_same_resources(void **state)
{
	struct lease *a = accept_lease("l-1", ",\"global\":true", 500);
	struct lease *b = accept_lease("l-1",
	    ",\"global\":true,\"accept\":[\"new.example.com\"]", 500);
	struct lease *c = accept_lease("l-1", ",\"global\":true", 1000);

	(void)state;
	/* what runs may change (here: the exposes), not the resources */
	assert_int_equal(lease_update_same_resources(a, b), 0);
	assert_int_equal(lease_update_same_resources(a, c), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "cpu_millis 1000"));
	c->nrep = 1;
	assert_int_equal(lease_update_same_resources(a, c), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "1 replicas"));
	c->nrep = 2;
	/* an update asking GPUs the lease's order never had */
	b->rep[0].gpu_units = 1;
	assert_int_equal(lease_update_same_resources(a, b), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "gpu_units 1"));
	lease_free(a);
	lease_free(b);
	lease_free(c);
}

/* A wasm HTTP function whose env lowers its per-request limits. */
static const char fn_manifest[] =
    "{\"deployment\":{\"fn\":{\"here\":{\"count\":1,\"profile\":\"p\"}}},"
    "\"profiles\":{\"p\":{\"cpu_millis\":2500,\"memory_bytes\":"
    "67108864,\"storage\":{}}},"
    "\"services\":{\"fn\":{\"env\":{\"G\":\"1\",\"LODGE_DEADLINE_MS\":"
    "\"250\",\"LODGE_FUEL\":\"5000\"},\"expose\":[{\"as\":80,"
    "\"global\":true,\"port\":80,\"proto\":\"tcp\"}],\"image\":{"
    "\"kind\":\"wasm+https\",\"sha256\":\"%s\",\"url\":"
    "\"https://example.com/f.wasm\"},\"runtime\":\"wasm\"}}}";

static void
test_lease_wasm_function_runs_serve_with_its_limits(void **state)
{
	char text[1024], sha[65];
	struct lease *l;
	json_t *m;
	const struct lease_replica *r;
	size_t i, n;

	(void)state;
	memset(sha, 'a', 64);
	sha[64] = '\0';
	snprintf(text, sizeof(text), fn_manifest, sha);
	l = lease_for(text, "here");
	assert_int_equal(cjson_parse(text, strlen(text), &m), 0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	assert_int_equal(l->nrep, 1);
	r = &l->rep[0];
	assert_true(r->wasm);
	assert_false(r->wasm_job);
	assert_int_equal(r->wasm_fuel, 5000);
	assert_int_equal(r->wasm_deadline_ms, 250);
	/* 2.5 CPUs: 3 workers. */
	assert_int_equal(lease_wasm_workers(r), 3);
	for (n = 0; r->argv[n]; n++)
		;
	assert_true(n >= 8);
	assert_string_equal(r->argv[0], "/app/provider");
	assert_string_equal(r->argv[2], "serve");
	assert_string_equal(r->argv[3], "/app/module.wasm");
	for (i = 0; i < n && strcmp(r->argv[i], "G=1") != 0; i++)
		;
	assert_true(i < n && strcmp(r->argv[i - 1], "--env") == 0);
	for (i = 0; r->env[i] &&
	     strcmp(r->env[i], "LODGE_WASM_CACHE=/app/.wasm-cache") != 0;
	     i++)
		;
	assert_non_null(r->env[i]);
	json_decref(m);
	lease_free(l);
	/* A limit that is not a positive integer refuses the manifest,
	 * naming the field. */
	char *bad = strstr(text, "\"250\"");
	memcpy(bad, "\"2x0\"", 5);
	l = lease_for(text, "here");
	assert_int_equal(cjson_parse(text, strlen(text), &m), 0);
	assert_int_equal(lease_set_manifest(l, m), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "services.fn.env.LODGE_DEADLINE_MS"));
	json_decref(m);
	lease_free(l);
}

static void
test_lease_refuses_wasm_and_other_placements(void **state)
{
	char *wasm = strdup(manifest_text), *p;
	struct lease *l;
	json_t *m;

	(void)state;
	p = strstr(wasm, "\"process\"");
	memcpy(p, "\"wasm\"   ", 9);
	l = lease_for(wasm, "here");
	assert_int_equal(cjson_parse(wasm, strlen(wasm), &m), 0);
	assert_int_equal(lease_set_manifest(l, m), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "wasm"));
	json_decref(m);
	lease_free(l);
	free(wasm);
	l = lease_for(manifest_text, "elsewhere");
	assert_int_equal(cjson_parse(manifest_text, strlen(manifest_text), &m),
	    0);
	assert_int_equal(lease_set_manifest(l, m), ERR_REJECT);
	json_decref(m);
	lease_free(l);
}

static void
test_lease_counters_survive_restart_and_never_go_back(void **state)
{
	struct lease *l = lease_for(manifest_text, "here"), *back;
	uint64_t c[USAGE_COUNT];
	json_t *m, *saved;

	(void)state;
	assert_int_equal(cjson_parse(manifest_text, strlen(manifest_text), &m),
	    0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	lease_add_time(l, 3000);
	atomic_store(&l->requests, 5);
	lease_counters(l, c);
	/* 2 MB reserved for 3 s */
	assert_int_equal(c[USAGE_MEM_MB_S], 6);
	assert_int_equal(c[USAGE_STORAGE_MB_S], 12);
	assert_int_equal(c[USAGE_REQUESTS], 5);
	l->reported[USAGE_CPU_MS] = 70; /* e.g. read back from the ledger */
	lease_counters(l, c);
	assert_int_equal(c[USAGE_CPU_MS], 70);
	assert_int_equal(lease_to_json(l, &saved), 0);
	assert_int_equal(lease_from_json(saved, &back), 0);
	assert_int_equal(lease_set_manifest(back, m), 0);
	lease_add_time(back, 1000);
	lease_counters(back, c);
	assert_int_equal(c[USAGE_MEM_MB_S], 8); /* 6 + 2 */
	assert_int_equal(c[USAGE_REQUESTS], 5);
	assert_int_equal(c[USAGE_CPU_MS], 70);
	json_decref(saved);
	json_decref(m);
	lease_free(back);
	lease_free(l);
}

/* A restart bills the time since the saved counters as the reserved
 * memory and storage of the replicas it re-adopted (they ran on); none of
 * it when none was, or when the clock went back. */
static void
test_lease_downtime_billed_for_the_replicas_that_ran_on(void **state)
{
	struct lease *l = lease_for(manifest_text, "here"), *back;
	uint64_t c[USAGE_COUNT];
	int64_t t0 = util_now_ms(), at;
	json_t *m, *saved;

	(void)state;
	assert_int_equal(cjson_parse(manifest_text, strlen(manifest_text), &m),
	    0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	lease_add_time(l, 3000);
	assert_int_equal(lease_to_json(l, &saved), 0);
	at = json_integer_value(json_object_get(saved, "counters_at"));
	assert_true(at >= t0 && at <= util_now_ms());
	assert_int_equal(lease_from_json(saved, &back), 0);
	assert_int_equal(back->base_at_ms, at);
	assert_int_equal(lease_set_manifest(back, m), 0);
	back->base_at_ms = 1000000;
	/* nothing ran on */
	assert_int_equal(lease_bill_downtime(back, 0, 0, 1005000), 0);
	/* the clock went back */
	assert_int_equal(lease_bill_downtime(back, 2000000, 4000000, 999000),
	    0);
	lease_counters(back, c);
	assert_int_equal(c[USAGE_MEM_MB_S], 6);
	assert_int_equal(c[USAGE_STORAGE_MB_S], 12);
	/* 5 s more of the whole lease's 2 MB and 4 MB */
	assert_int_equal(lease_bill_downtime(back, back->mem_bytes,
	                     back->storage_bytes, 1005000),
	    5000);
	lease_counters(back, c);
	assert_int_equal(c[USAGE_MEM_MB_S], 16);
	assert_int_equal(c[USAGE_STORAGE_MB_S], 32);
	/* and the time this process runs adds on top */
	lease_add_time(back, 1000);
	lease_counters(back, c);
	assert_int_equal(c[USAGE_MEM_MB_S], 18);
	/* half of it ran on for 4 s more (another restart) */
	back->base_at_ms = 2000000;
	assert_int_equal(lease_bill_downtime(back, back->mem_bytes / 2,
	                     back->storage_bytes / 2, 2004000),
	    4000);
	lease_counters(back, c);
	assert_int_equal(c[USAGE_MEM_MB_S], 22);
	assert_int_equal(c[USAGE_STORAGE_MB_S], 44);
	json_decref(saved);
	json_decref(m);
	lease_free(back);
	lease_free(l);
}

/* What is reported is bounded by what the lease could physically use
 * since its sequenced start (the market refuses more: docs/state.md),
 * never below what was reported; before the start nothing reserved is
 * reported.  The proof and the start survive a restart. */
static void
test_lease_usage_report_clamps_to_the_physical_bound(void **state)
{
	struct lease *l = lease_for(manifest_text, "here"), *back;
	uint64_t c[USAGE_COUNT];
	json_t *m, *saved, *proof;

	(void)state;
	assert_int_equal(cjson_parse(manifest_text, strlen(manifest_text), &m),
	    0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	/* 10 s of reserved time counted, 5 requests */
	lease_add_time(l, 10000);
	atomic_store(&l->requests, 5);
	lease_usage_report(l, 1000000, c);
	assert_int_equal(c[USAGE_MEM_MB_S], 0); /* not started */
	assert_int_equal(c[USAGE_REQUESTS], 5);
	/* started 3 s ago by the market's clock: 2 MB x 3 s, 4 MB x 3 s,
	 * 2 x 500 millicores x 3 s */
	l->started_at_ms = 997000;
	lease_usage_report(l, 1000000, c);
	assert_int_equal(c[USAGE_MEM_MB_S], 6);
	assert_int_equal(c[USAGE_STORAGE_MB_S], 12);
	assert_true(c[USAGE_CPU_MS] <= 3000);
	/* a counter below its bound is left alone */
	lease_usage_report(l, 1000000 + 60000, c);
	assert_int_equal(c[USAGE_MEM_MB_S], 20);
	/* never below what the market has */
	l->reported[USAGE_MEM_MB_S] = 7;
	lease_usage_report(l, 1000000, c);
	assert_int_equal(c[USAGE_MEM_MB_S], 7);
	/* a clock before the start bounds at 0, not below */
	lease_usage_report(l, 900000, c);
	assert_int_equal(c[USAGE_STORAGE_MB_S], 0);

	proof = json_pack("{s:s}", "kind", "http.request");
	lease_set_manifest_request(l, proof);
	assert_int_equal(lease_to_json(l, &saved), 0);
	assert_int_equal(lease_from_json(saved, &back), 0);
	assert_int_equal(back->started_at_ms, 997000);
	assert_non_null(back->manifest_request);
	assert_true(json_equal(back->manifest_request, proof));
	json_decref(saved);
	json_decref(m);
	lease_free(back);
	lease_free(l);
}

/* A paused lease (lease.pause): nothing is due to start, no reserved
 * time is counted, the usage bound leaves the market's paused_ms out,
 * the pause and paused_ms survive a restart, and lease_resume makes
 * every replica due at once. */
static void
test_lease_pause_stops_starts_and_meters(void **state)
{
	struct lease *l = lease_for(manifest_text, "here"), *back;
	uint64_t c[USAGE_COUNT];
	size_t idx[LEASE_MAX_REPLICAS];
	json_t *m, *saved, *st;

	(void)state;
	assert_int_equal(cjson_parse(manifest_text, strlen(manifest_text), &m),
	    0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	assert_true(lease_due(l, 0, idx, LEASE_MAX_REPLICAS) > 0);
	lease_add_time(l, 3000);
	l->pause = LEASE_PAUSE_STOPPED;
	assert_int_equal(lease_due(l, 0, idx, LEASE_MAX_REPLICAS), 0);
	lease_add_time(l, 50000); /* paused: not counted */
	lease_counters(l, c);
	assert_int_equal(c[USAGE_MEM_MB_S], 6); /* 2 MB x 3 s only */
	assert_int_equal(lease_status_json(l, &st), 0);
	assert_string_equal(json_string_value(json_object_get(st, "status")),
	    "paused");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(st, "replicas"), 0), "state")),
	    "paused");
	json_decref(st);
	/* started 63 s ago, 60 s of it paused: bounded by 3 s even when
	 * the provider counted more */
	l->started_at_ms = 937000;
	l->paused_ms = 60000;
	l->pause = LEASE_PAUSE_NONE;
	lease_add_time(l, 10000);
	l->pause = LEASE_PAUSE_STOPPED;
	lease_usage_report(l, 1000000, c);
	assert_int_equal(c[USAGE_MEM_MB_S], 6);
	assert_int_equal(c[USAGE_STORAGE_MB_S], 12);
	/* a restart keeps the pause: nothing starts */
	assert_int_equal(lease_to_json(l, &saved), 0);
	assert_true(json_is_true(json_object_get(saved, "paused")));
	assert_int_equal(lease_from_json(saved, &back), 0);
	assert_int_equal(lease_set_manifest(back, m), 0);
	assert_int_equal(back->pause, LEASE_PAUSE_STOPPED);
	assert_int_equal(back->paused_ms, 60000);
	assert_int_equal(lease_due(back, 0, idx, LEASE_MAX_REPLICAS), 0);
	/* resumed: every replica due now, metering again */
	back->rep[0].next_start_ms = INT64_MAX;
	lease_resume(back);
	assert_int_equal(back->pause, LEASE_PAUSE_NONE);
	assert_int_equal(lease_due(back, 0, idx, LEASE_MAX_REPLICAS),
	    back->nrep);
	json_decref(saved);
	assert_int_equal(lease_to_json(back, &saved), 0);
	assert_null(json_object_get(saved, "paused"));
	json_decref(saved);
	json_decref(m);
	lease_free(back);
	lease_free(l);
}

/* Allocation failures, injected: this strdup replaces libc's in the whole
 * test binary (lease.c builds every argv and env entry with it).  With
 * strdup_fail_at = n the n-th call from strdup_calls = 0 fails; 0 never. */
static int strdup_calls, strdup_fail_at;

char *
strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d;

	if (strdup_fail_at != 0 && ++strdup_calls == strdup_fail_at)
		return NULL;
	if ((d = malloc(n)) != NULL)
		memcpy(d, s, n);
	return d;
}

/* Every allocation the manifest needs, failed in turn: each failure is
 * ERR_NOMEM, never a lease whose env or argv ends early (a NULL in the
 * middle of a list ends it). */
static void
test_lease_allocation_failure_is_an_error_not_a_short_list(void **state)
{
	struct lease *l;
	json_t *m;
	int n, rc = -1;

	(void)state;
	assert_int_equal(cjson_parse(manifest_text, strlen(manifest_text), &m),
	    0);
	for (n = 1; n < 1000 && rc != 0; n++) {
		l = lease_for(manifest_text, "here");
		strdup_calls = 0;
		strdup_fail_at = n;
		rc = lease_set_manifest(l, m);
		strdup_fail_at = 0;
		if (rc != 0) {
			assert_int_equal(rc, ERR_NOMEM);
			assert_int_equal(l->nrep, 0);
		} else {
			/* n is past the last strdup: all of it is there. */
			assert_int_equal(l->nrep, 2);
			assert_string_equal(l->rep[1].env[0],
			    "PATH=/usr/local/bin:/usr/bin:/bin");
			assert_string_equal(l->rep[1].env[3], "A=1");
			assert_null(l->rep[1].env[4]);
			assert_string_equal(l->rep[1].argv[2], "sleep 1");
		}
		lease_free(l);
	}
	assert_true(n > 4); /* the failures were reached */
	json_decref(m);
}

/* Two replicas ending with different codes, then the lease stopped: each
 * keeps its own exit code (the daemon once gave all of them the last
 * one's), and none is scheduled to start again. */
static const char two_exits[] =
    "{\"deployment\":{\"a\":{\"here\":{\"count\":1,\"profile\":\"p\"}},"
    "\"b\":{\"here\":{\"count\":1,\"profile\":\"p\"}}},"
    "\"profiles\":{\"p\":{\"cpu_millis\":100,\"memory_bytes\":0,"
    "\"storage\":{}}},"
    "\"services\":{\"a\":{\"args\":[\"-c\",\"exit 3\"],\"command\":"
    "[\"sh\"],\"image\":{\"kind\":\"host\"},\"runtime\":\"process\"},"
    "\"b\":{\"args\":[\"-c\",\"exit 5\"],\"command\":[\"sh\"],"
    "\"image\":{\"kind\":\"host\"},\"runtime\":\"process\"}}}";

static void
test_lease_stop_keeps_each_replicas_exit_code(void **state)
{
	struct lease_stopping st;
	struct sandbox_spec base;
	struct sandbox *sb;
	struct lease *l;
	json_t *m;
	char logs[] = "/tmp/test_provider_logs.XXXXXX", cmd[64];
	size_t i, idx[4];
	int exited;

	(void)state;
	if (geteuid() != 0)
		skip(); /* sandboxes without root need a user namespace */
	assert_non_null(mkdtemp(logs));
	l = lease_for(two_exits, "here");
	assert_int_equal(cjson_parse(two_exits, strlen(two_exits), &m), 0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	assert_int_equal(l->nrep, 2);
	sandbox_spec_init(&base);
	base.cgroup.mode = CGROUP_NONE;
	assert_int_equal(lease_due(l, 0, idx, 4), 2);
	for (i = 0; i < 2; i++) {
		if (lease_spawn(l, i, logs, &base, &sb) < 0)
			fail_msg("lease_spawn %zu: %s", i, err_msg());
		lease_spawned(l, i, sb, NULL, 0);
	}
	/* Both end on their own before the stop (then the stop only
	 * collects them). */
	for (i = 0; i < 2; i++)
		for (exited = 0; !exited;)
			assert_int_equal(
			    sandbox_wait(l->rep[i].sb, 1000, &exited, NULL), 0);
	lease_stop_take(l, &st);
	assert_int_equal(st.n, 2);
	assert_null(l->rep[0].sb);
	lease_stop_run(&st, 1000);
	lease_stop_finish(l, &st);
	assert_int_equal(l->rep[0].last_exit, 3);
	assert_int_equal(l->rep[1].last_exit, 5);
	assert_int_equal(lease_due(l, INT64_MAX - 1, idx, 4), 0);
	json_decref(m);
	lease_free(l);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", logs);
	assert_int_equal(system(cmd), 0);
}

static void
test_artifact_blob_is_content_addressed(void **state)
{
	struct artifact_cache c;
	char dir[] = "/tmp/lodge-test-artifact-XXXXXX", sha[65], *path = NULL;
	char cmd[128];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(artifact_cache_init(&c, dir, 16), 0);
	reqsig_sha256_hex("hello", 5, sha);
	assert_int_equal(artifact_put_blob(&c, sha, "hellO", 5, NULL),
	    ERR_CONFLICT);
	assert_int_equal(artifact_blob_path(&c, sha, &path), ERR_NOTFOUND);
	assert_int_equal(artifact_put_blob(&c, sha, "hello", 5, &path), 0);
	assert_non_null(strstr(path, sha));
	free(path);
	assert_int_equal(artifact_blob_path(&c, sha, &path), 0);
	free(path);
	assert_int_equal(artifact_put_blob(&c, sha, "hello", 5, NULL), 0);
	assert_int_equal(
	    artifact_put_blob(&c, sha, "0123456789abcdefX", 17, NULL),
	    ERR_LIMIT);
	assert_int_equal(artifact_put_blob(&c, "../etc", "x", 1, NULL),
	    ERR_INVAL);
	{
		struct netpolicy pol;
		assert_int_equal(netpolicy_init(&pol, NULL), 0);
		assert_int_equal(
		    artifact_git(&c, &pol, "/nonexistent", "abc", &path),
		    ERR_INVAL);
		netpolicy_clear(&pol);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_artifact_git_checks_out_the_exact_commit(void **state)
{
	struct artifact_cache c;
	struct netpolicy pol;
	char dir[] = "/tmp/lodge-test-git-XXXXXX", cmd[1024], commit[64];
	char *out = NULL, *text = NULL, path[1200];
	size_t len;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
	    "cd %s && git init -q repo && cd repo && "
	    "echo one > app.txt && git add app.txt && git -c user.name=t "
	    "-c user.email=t@t commit -qm one && git rev-parse HEAD > "
	    "../c1 && echo two > app.txt && git -c user.name=t -c "
	    "user.email=t@t commit -qam two",
	    dir);
	if (system(cmd) != 0)
		fail_msg("git could not make the fixture repository (make deps "
		         "installs git)");
	/* The owner's local use: a tenant's file:// is refused (below). */
	assert_int_equal(netpolicy_init(&pol, NULL), 0);
	snprintf(path, sizeof(path), "%s/c1", dir);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(commit, sizeof(commit), f));
	fclose(f);
	commit[40] = '\0';
	snprintf(path, sizeof(path), "%s/cache", dir);
	assert_int_equal(artifact_cache_init(&c, path, 1u << 20), 0);
	snprintf(path, sizeof(path), "file://%s/repo", dir);
	pol.local = 0;
	assert_int_equal(artifact_git(&c, &pol, path, commit, &out),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "file://"));
	assert_null(out);
	pol.local = 1;
	assert_int_equal(artifact_git(&c, &pol, path, commit, &out), 0);
	snprintf(path, sizeof(path), "%s/app.txt", out);
	assert_int_equal(util_read_file(path, 100, &text, &len), 0);
	assert_string_equal(text, "one\n"); /* the first commit, not HEAD */
	free(text);
	free(out);
	snprintf(path, sizeof(path), "file://%s/repo", dir);
	assert_int_equal(artifact_git(&c, &pol, path,
	                     "0123456789012345678901234567890123456789", &out),
	    ERR_NOTFOUND);
	netpolicy_clear(&pol);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static volatile int churn_stop;

static void *
noop(void *arg)
{
	return arg;
}

/* Create and join threads without pause, as the daemon's HTTP server
 * does for each connection. */
static void *
churn(void *arg)
{
	pthread_t t;

	(void)arg;
	while (!churn_stop)
		if (pthread_create(&t, NULL, noop, NULL) == 0)
			pthread_join(t, NULL);
	return NULL;
}

/* Regression: sandbox_start() from a process whose other threads are
 * being created used to hang in the child (glibc's setresuid broadcast
 * to threads that do not exist after clone()). */
static void
test_sandbox_start_while_threads_are_created(void **state)
{
	static const char *const argv[] = { "/bin/true", NULL };
	struct sandbox_spec spec;
	struct sandbox *sb;
	pthread_t t[2];
	char name[64];
	int i, exited, status;

	(void)state;
	if (geteuid() != 0)
		fail_msg("needs root (a sandbox without a user namespace)");
#if defined(__SANITIZE_ADDRESS__)
	/* Under ASan the clone() child can block on the sanitizer's own
	 * allocator lock held by a thread at clone time (an artifact of the
	 * instrumented build, not of the sandbox): test release builds only. */
	skip();
#endif
	alarm(120); /* a hang fails the test instead of the run */
	churn_stop = 0;
	pthread_create(&t[0], NULL, churn, NULL);
	pthread_create(&t[1], NULL, churn, NULL);
	for (i = 0; i < 40; i++) {
		sandbox_spec_init(&spec);
		snprintf(name, sizeof(name), "unit-churn-%ld-%d",
		    (long)getpid(), i);
		spec.name = name;
		spec.argv = argv;
		spec.cgroup.mode = CGROUP_NONE;
		spec.die_with_parent = 1;
		if (sandbox_start(&spec, &sb) < 0)
			fail_msg("sandbox_start #%d: %s", i, err_msg());
		exited = 0;
		while (!exited)
			assert_int_equal(
			    sandbox_wait(sb, 1000, &exited, &status), 0);
		sandbox_free(sb);
	}
	churn_stop = 1;
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	alarm(0);
}

/* ---- the oci runtime: users, mirrors, options ---- */

static void
put_file(const char *dir, const char *name, const char *text)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(util_write_file(path, text, strlen(text), 0644), 0);
}

/* The image's /etc/passwd and /etc/group, read through the layers as
 * overlayfs stacks them: the top one that has the file wins. */
static void
test_image_user_resolves_names_through_the_layers(void **state)
{
	char tmpl[] = "/tmp/lodge-unit-layers-XXXXXX", l0[600], l1[600];
	char path[700];
	const char *layers[2] = { l0, l1 };
	char *home = NULL;
	uid_t uid;
	gid_t gid;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	snprintf(l0, sizeof(l0), "%s/0", tmpl);
	snprintf(l1, sizeof(l1), "%s/1", tmpl);
	snprintf(path, sizeof(path), "%s/etc", l0);
	assert_int_equal(util_mkdirs(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/etc", l1);
	assert_int_equal(util_mkdirs(path, 0755), 0);
	put_file(l0, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
	put_file(l1, "etc/passwd",
	    "root:x:0:0:root:/root:/bin/sh\n"
	    "nginx:x:101:102:nginx:/var/cache/nginx:/sbin/nologin\n");
	put_file(l1, "etc/group", "root:x:0:\nnginx:x:102:\nweb:x:33:\n");
	/* "" is root */
	assert_int_equal(
	    image_run_resolve_user("", layers, 2, &uid, &gid, &home), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(gid, 0);
	assert_string_equal(home, "/root");
	free(home);
	/* a name: uid, gid and home from the top layer's passwd */
	assert_int_equal(
	    image_run_resolve_user("nginx", layers, 2, &uid, &gid, &home), 0);
	assert_int_equal(uid, 101);
	assert_int_equal(gid, 102);
	assert_string_equal(home, "/var/cache/nginx");
	free(home);
	/* name:group and uid:gid */
	assert_int_equal(
	    image_run_resolve_user("nginx:web", layers, 2, &uid, &gid, &home),
	    0);
	assert_int_equal(gid, 33);
	free(home);
	assert_int_equal(
	    image_run_resolve_user("1000:2000", layers, 2, &uid, &gid, &home),
	    0);
	assert_int_equal(uid, 1000);
	assert_int_equal(gid, 2000);
	free(home);
	/* unknown names, and ids outside a lease's range */
	assert_int_equal(
	    image_run_resolve_user("nobody", layers, 2, &uid, &gid, &home),
	    ERR_NOTFOUND);
	assert_non_null(strstr(err_msg(), "nobody"));
	assert_int_equal(
	    image_run_resolve_user("nginx:staff", layers, 2, &uid, &gid, &home),
	    ERR_NOTFOUND);
	assert_int_equal(
	    image_run_resolve_user("70000", layers, 2, &uid, &gid, &home),
	    ERR_REJECT);
	/* only the bottom layer: nginx is not there */
	assert_int_equal(
	    image_run_resolve_user("nginx", layers, 1, &uid, &gid, &home),
	    ERR_NOTFOUND);
	util_rm_tree(tmpl);
}

static void
test_image_options_are_checked(void **state)
{
	struct provider_config c;
	struct image_mirror m;
	char ok[] = "docker.io=http://127.0.0.1:5000", bad[] = "docker.io",
	     bad2[] = "docker.io=ftp://x";
	const char *mirrors[] = { "ghcr.io=https://mirror.example" };
	const char *insecure[] = { "127.0.0.1:5000" };
	struct provider_overrides o = { .mirrors = mirrors,
		.n_mirrors = 1,
		.insecure = insecure,
		.n_insecure = 1,
		.image_cache_max_bytes = 1u << 20,
		.image_id_base = 2000000000u };

	(void)state;
	assert_int_equal(image_run_parse_mirror(ok, &m), 0);
	assert_string_equal(m.registry, "docker.io");
	assert_string_equal(m.url, "http://127.0.0.1:5000");
	assert_int_equal(image_run_parse_mirror(bad, &m), ERR_INVAL);
	assert_int_equal(image_run_parse_mirror(bad2, &m), ERR_INVAL);
	config_init(&c);
	assert_int_equal(config_add_mirror(&c, "docker.io=http://a:1"), 0);
	assert_int_equal(config_add_mirror(&c, "nonsense"), ERR_INVAL);
	assert_int_equal(config_add_insecure(&c, "http://a/b"), ERR_INVAL);
	/* run's options replace init's lists */
	assert_int_equal(config_apply_overrides(&c, &o), 0);
	assert_int_equal(json_array_size(c.registry_mirrors), 1);
	assert_string_equal(
	    json_string_value(json_array_get(c.registry_mirrors, 0)),
	    "ghcr.io=https://mirror.example");
	assert_string_equal(
	    json_string_value(json_array_get(c.insecure_registries, 0)),
	    "127.0.0.1:5000");
	assert_int_equal(c.image_cache_max_bytes, 1u << 20);
	assert_int_equal(c.image_id_base, 2000000000u);
	config_clear(&c);
}

static void
test_config_keeps_tls_options_and_refuses_plain_markets(void **state)
{
	char dir[] = "/tmp/lodge-cfg-XXXXXX", path[128];
	struct provider_config c, d;

	(void)state;
	unsetenv("LODGE_INSECURE_HTTP");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/provider.json", dir);
	config_init(&c);
	snprintf(c.market, sizeof(c.market), "http://127.0.0.1:1");
	snprintf(c.market_key, sizeof(c.market_key), "ed25519:x");
	snprintf(c.tls_cert, sizeof(c.tls_cert), "/etc/lodge/w.crt");
	snprintf(c.tls_key, sizeof(c.tls_key), "/etc/lodge/w.key");
	snprintf(c.tls_certs_dir, sizeof(c.tls_certs_dir), "/etc/lodge/d");
	assert_int_equal(config_save(path, &c), 0);
	config_init(&d);
	assert_int_equal(config_load(path, &d), 0);
	assert_int_equal(d.insecure_http, 0);
	assert_string_equal(d.market_key, "ed25519:x");
	assert_string_equal(d.tls_cert, "/etc/lodge/w.crt");
	assert_string_equal(d.tls_key, "/etc/lodge/w.key");
	assert_string_equal(d.tls_certs_dir, "/etc/lodge/d");
	/* a plain http:// market: only with --insecure-http */
	assert_int_equal(config_pin_market(dir, &d, NULL), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "--insecure-http"));
	c.insecure_http = 1;
	assert_int_equal(config_save(path, &c), 0);
	config_clear(&d);
	config_init(&d);
	assert_int_equal(config_load(path, &d), 0);
	assert_int_equal(d.insecure_http, 1);
	assert_int_equal(config_pin_market(dir, &d, NULL), 0);
	config_clear(&c);
	config_clear(&d);
	util_rm_tree(dir);
}

/* An oci service: its replicas wait for their image (not due). */
static const char oci_manifest[] =
    "{\"deployment\":{\"web\":{\"here\":{\"count\":2,\"profile\":\"p\"}}},"
    "\"profiles\":{\"p\":{\"cpu_millis\":100,\"memory_bytes\":"
    "67108864,\"storage\":{\"default\":{\"size_bytes\":1000}}}},"
    "\"services\":{\"web\":{\"args\":[],\"command\":[],\"env\":{},"
    "\"expose\":[],\"image\":{\"kind\":\"oci\",\"name\":"
    "\"library/nginx\",\"registry\":\"docker.io\",\"tag\":\"1.25\"},"
    "\"runtime\":\"oci\"}}}";

static void
test_lease_oci_replicas_wait_for_their_image(void **state)
{
	struct lease *l = lease_for(oci_manifest, "here");
	size_t idx[4];
	json_t *m;

	(void)state;
	assert_int_equal(cjson_parse(oci_manifest, strlen(oci_manifest), &m),
	    0);
	assert_int_equal(lease_set_manifest(l, m), 0);
	assert_int_equal(l->nrep, 2);
	assert_true(l->rep[0].oci && l->rep[1].oci);
	assert_null(l->rep[0].oci_spec);
	assert_int_equal(lease_due(l, util_now_ms(), idx, 4), 0);
	json_decref(m);
	lease_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gateway_routes_by_path_and_host),
		cmocka_unit_test(test_accept_names_claims_and_routes),
		cmocka_unit_test(test_lease_update_same_resources),
		cmocka_unit_test(
		    test_follow_parser_handles_split_chunks_crlf_and_comments),
		cmocka_unit_test(test_follow_parser_routes_checkpoint_events),
		cmocka_unit_test(test_config_parses_price_and_attributes),
		cmocka_unit_test(test_init_data_dir_then_status_without_market),
		cmocka_unit_test(
		    test_lease_manifest_builds_replicas_and_refuses_mismatch),
		cmocka_unit_test(
		    test_lease_volumes_checked_against_the_classes_offered),
		cmocka_unit_test(test_lease_refuses_wasm_and_other_placements),
		cmocka_unit_test(
		    test_lease_wasm_function_runs_serve_with_its_limits),
		cmocka_unit_test(
		    test_lease_counters_survive_restart_and_never_go_back),
		cmocka_unit_test(
		    test_lease_downtime_billed_for_the_replicas_that_ran_on),
		cmocka_unit_test(
		    test_lease_usage_report_clamps_to_the_physical_bound),
		cmocka_unit_test(test_lease_pause_stops_starts_and_meters),
		cmocka_unit_test(test_bond_advice_follows_the_markets_rules),
		cmocka_unit_test(
		    test_lease_allocation_failure_is_an_error_not_a_short_list),
		cmocka_unit_test(test_lease_stop_keeps_each_replicas_exit_code),
		cmocka_unit_test(test_artifact_blob_is_content_addressed),
		cmocka_unit_test(test_artifact_git_checks_out_the_exact_commit),
		cmocka_unit_test(test_sandbox_start_while_threads_are_created),
		cmocka_unit_test(
		    test_image_user_resolves_names_through_the_layers),
		cmocka_unit_test(test_image_options_are_checked),
		cmocka_unit_test(
		    test_config_keeps_tls_options_and_refuses_plain_markets),
		cmocka_unit_test(test_lease_oci_replicas_wait_for_their_image),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
