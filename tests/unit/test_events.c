/*
 * Unit tests for a lease's events in one stream (tenant/events.c): the
 * provider's JSON lines parsed, merged with the ledger's by time (stable
 * on ties), formatted for people; and the provider's events file
 * (provider/events.c) read back.
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
#include <jansson.h>

#include "common/util.h"
#include "provider/events.h"
#include "tenant/events.h"
#include "tenant/exec.h"

static json_t *
ev(json_int_t time, const char *source, const char *id)
{
	json_t *e = json_pack("{s:I,s:s,s:s,s:s,s:s}", "time", time, "source",
	    source, "id", id, "kind", "k", "detail", "");

	assert_non_null(e);
	return e;
}

static const char *
id_at(const json_t *a, size_t i)
{
	return json_string_value(json_object_get(json_array_get(a, i), "id"));
}

static void
test_merge_by_time_stable(void **st)
{
	json_t *a = json_array(), *b = json_array(), *m;

	(void)st;
	json_array_append_new(a, ev(10, "market", "m1"));
	json_array_append_new(a, ev(30, "market", "m2"));
	json_array_append_new(a, ev(30, "market", "m3"));
	json_array_append_new(b, ev(5, "provider", "p1"));
	json_array_append_new(b, ev(30, "provider", "p2"));
	json_array_append_new(b, ev(20, "provider", "p3"));
	m = tenant_events_merge(a, b);
	assert_non_null(m);
	assert_int_equal(json_array_size(m), 6);
	/* by time; on a tie, a's before b's, each in its own order */
	assert_string_equal(id_at(m, 0), "p1");
	assert_string_equal(id_at(m, 1), "m1");
	assert_string_equal(id_at(m, 2), "p3");
	assert_string_equal(id_at(m, 3), "m2");
	assert_string_equal(id_at(m, 4), "m3");
	assert_string_equal(id_at(m, 5), "p2");
	json_decref(m);
	/* either side may be missing */
	m = tenant_events_merge(NULL, b);
	assert_int_equal(json_array_size(m), 3);
	json_decref(m);
	m = tenant_events_merge(NULL, NULL);
	assert_int_equal(json_array_size(m), 0);
	json_decref(m);
	json_decref(a);
	json_decref(b);
}

static void
test_parse_lines(void **st)
{
	static const char text[] =
	    "{\"time\":5,\"kind\":\"replica.started\",\"service\":\"web\"}\n"
	    "not json\n"
	    "{\"kind\":\"no time\"}\n"
	    "\n"
	    "{\"time\":7,\"kind\":\"replica.exited\",\"exit\":3,"
	    "\"detail\":\"exited with 3\"}\n"
	    "{\"time\":9,\"kind\":\"cut"; /* a line still being written */
	json_t *a;

	(void)st;
	a = tenant_events_parse_lines(text, strlen(text));
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(id_at(a, 0), "p1");
	assert_string_equal(id_at(a, 1), "p5");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(a, 0), "source")),
	    "provider");
	/* a missing detail is "" */
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(a, 0), "detail")),
	    "");
	json_decref(a);
}

static void
test_format(void **st)
{
	json_t *e;
	char line[512];

	(void)st;
	/* 2026-12-06 04:10:01.123 UTC */
	e = json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:s}", "time",
	    (json_int_t)1796530201123LL, "source", "provider", "kind",
	    "replica.exited", "service", "web", "replica", "web#0", "exit", 3,
	    "detail", "exited with 3; restart 1 in 1000 ms");
	tenant_event_format(e, line, sizeof(line));
	assert_string_equal(line,
	    "2026-12-06 04:10:01.123  provider  replica.exited       web#0: "
	    "exited with 3; restart 1 in 1000 ms");
	json_decref(e);
	/* the status is added when the detail lacks it */
	e = json_pack("{s:I,s:s,s:s,s:s,s:i}", "time", (json_int_t)0, "source",
	    "provider", "kind", "replica.stopped", "detail", "stopped", "exit",
	    143);
	tenant_event_format(e, line, sizeof(line));
	assert_string_equal(line,
	    "1970-01-01 00:00:00.000  provider  replica.stopped      stopped "
	    "(exit 143)");
	json_decref(e);
}

static void
test_provider_events_file(void **st)
{
	char dir[] = "/tmp/test_events_XXXXXX", sub[128], path[160];
	char *text = NULL;
	size_t len;
	json_t *a;

	(void)st;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/leases/l-1", dir);
	/* the lease's directory is made when missing */
	assert_int_equal(provider_event(sub, "manifest.accepted", NULL, NULL,
	                     PROVIDER_EVENT_NO_EXIT,
	                     "manifest accepted (%d "
	                     "replicas)",
	                     2),
	    0);
	assert_int_equal(provider_event(sub, "replica.exited", "web", "web#0",
	                     3, "exited with %d", 3),
	    0);
	snprintf(path, sizeof(path), "%s/" PROVIDER_EVENTS_FILE, sub);
	assert_int_equal(util_read_file(path, 1 << 20, &text, &len), 0);
	a = tenant_events_parse_lines(text, len);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(a, 0), "detail")),
	    "manifest accepted (2 replicas)");
	assert_null(json_object_get(json_array_get(a, 0), "exit"));
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(a, 1), "exit")),
	    3);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(a, 1), "replica")),
	    "web#0");
	assert_true(json_integer_value(
	                json_object_get(json_array_get(a, 1), "time")) > 0);
	json_decref(a);
	free(text);
	/* no directory: an error, nothing written */
	assert_true(provider_event("", "x", NULL, NULL, PROVIDER_EVENT_NO_EXIT,
	                "y") < 0);
	unlink(path);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/leases", dir);
	rmdir(sub);
	rmdir(dir);
}

/* A frame: type, 4-byte length, payload. */
static size_t
put(char *b, char type, const char *payload)
{
	size_t n = strlen(payload);

	b[0] = type;
	b[1] = (char)(n >> 24);
	b[2] = (char)(n >> 16);
	b[3] = (char)(n >> 8);
	b[4] = (char)n;
	memcpy(b + 5, payload, n);
	return n + 5;
}

static void
test_exec_frames(void **st)
{
	char stream[256], out[64] = "", err[64] = "", *buf = NULL;
	int po[2], pe[2], code = -1, rc = 0;
	size_t n = 0, len = 0, i;
	ssize_t r;

	(void)st;
	assert_int_equal(pipe(po), 0);
	assert_int_equal(pipe(pe), 0);
	n += put(stream + n, 'o', "hello ");
	n += put(stream + n, 'k', "");
	n += put(stream + n, 'e', "oops");
	n += put(stream + n, 'o', "world");
	n += put(stream + n, 'x', "42");
	/* fed one byte at a time: frames are cut anywhere */
	for (i = 0; i < n && rc == 0; i++)
		rc = tenant_exec_frames(&buf, &len, stream + i, 1, po[1], pe[1],
		    &code);
	assert_int_equal(rc, 1);
	assert_int_equal(i, n);
	assert_int_equal(code, 42);
	close(po[1]);
	close(pe[1]);
	r = read(po[0], out, sizeof(out) - 1);
	assert_true(r > 0);
	assert_string_equal(out, "hello world");
	r = read(pe[0], err, sizeof(err) - 1);
	assert_true(r > 0);
	assert_string_equal(err, "oops");
	close(po[0]);
	close(pe[0]);
	/* an unknown type, or an absurd length, is a broken stream */
	len = 0;
	assert_int_equal(
	    tenant_exec_frames(&buf, &len, "?\0\0\0\0", 5, -1, -1, &code), -1);
	len = 0;
	assert_int_equal(
	    tenant_exec_frames(&buf, &len, "o\x7f\0\0\0", 5, -1, -1, &code),
	    -1);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_by_time_stable),
		cmocka_unit_test(test_parse_lines),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_provider_events_file),
		cmocka_unit_test(test_exec_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
