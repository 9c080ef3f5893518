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

#include <cmocka.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/key.h"
#include "provider/lease.h"
#include "provider/lease_vol.h"
#include "provider/streamcap.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams_capped_per_tenant),
		cmocka_unit_test(test_volume_images_never_shared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
