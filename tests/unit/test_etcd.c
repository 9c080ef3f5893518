/*
 * Unit tests for common/etcd against a real etcd member this test starts
 * on loopback ports in a temporary folder (skipped, saying why, when
 * /usr/bin/etcd is absent), and against a fake member answering garbage,
 * lies and an endless body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/etcd.h"

#define ETCD_BIN "/usr/bin/etcd"

static pid_t etcd_pid;
static char etcd_url[64], tmpdir[64];

static int
free_port(void)
{
	struct sockaddr_in a = { 0 };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		close(fd);
		return -1;
	}
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int
start_etcd(void **state)
{
	char peer[64], cluster[96], data[96];
	struct etcd *c = NULL;
	int cp = free_port(), pp = free_port();

	(void)state;
	if (access(ETCD_BIN, X_OK) != 0)
		return 0;
	strcpy(tmpdir, "/tmp/lodge-etcd-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(etcd_url, sizeof(etcd_url), "http://127.0.0.1:%d", cp);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", pp);
	snprintf(cluster, sizeof(cluster), "t=%s", peer);
	snprintf(data, sizeof(data), "%s/data", tmpdir);
	if ((etcd_pid = fork()) == 0) {
		int fd = open("/dev/null", 1);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(ETCD_BIN, "etcd", "--name", "t", "--data-dir", data,
		    "--listen-client-urls", etcd_url, "--advertise-client-urls",
		    etcd_url, "--listen-peer-urls", peer,
		    "--initial-advertise-peer-urls", peer, "--initial-cluster",
		    cluster, (char *)NULL);
		_exit(127);
	}
	if (etcd_new(etcd_url, 1000, &c) < 0)
		return -1;
	for (int i = 0; i < 200; i++) {
		struct etcd_range r;
		struct timespec ts = { 0, 50 * 1000000 };

		if (etcd_range(c, "x", 1, NULL, 0, 0, 0, &r) == 0) {
			etcd_range_clear(&r);
			etcd_free(c);
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	etcd_free(c);
	fprintf(stderr, "etcd did not answer on %s\n", etcd_url);
	return -1;
}

static int
stop_etcd(void **state)
{
	char cmd[128];

	(void)state;
	if (etcd_pid > 0) {
		kill(etcd_pid, SIGTERM);
		waitpid(etcd_pid, NULL, 0);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

#define NEED_ETCD()                                                      \
	do {                                                             \
		if (etcd_pid <= 0) {                                     \
			print_message("skipped: " ETCD_BIN " is absent " \
			              "(make deps installs "             \
			              "etcd-server)\n");                 \
			skip();                                          \
		}                                                        \
	} while (0)

static void
test_endpoints_parsed_and_refused(void **state)
{
	struct etcd *c = NULL;

	(void)state;
	assert_int_equal(etcd_new("", 1000, &c), ERR_INVAL);
	assert_int_equal(etcd_new("ftp://x", 1000, &c), ERR_INVAL);
	assert_int_equal(etcd_new("http://a:1,,http://b:2", 1000, &c),
	    ERR_INVAL);
	assert_null(c);
	assert_int_equal(etcd_new("http://a:1/,http://b:2", 1000, &c), 0);
	assert_string_equal(etcd_endpoint(c), "http://a:1");
	etcd_free(c);
}

static void
test_prefix_end(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(etcd_prefix_end("ab", 2, out), 2);
	assert_memory_equal(out, "ac", 2);
	assert_int_equal(etcd_prefix_end("a\xff", 2, out), 1);
	assert_memory_equal(out, "b", 1);
}

static void
test_create_only_txn_one_winner(void **state)
{
	struct etcd *a = NULL, *b = NULL;
	struct etcd_cmp cmp = { "/t/e/1", 6, 0, ETCD_CMP_EQUAL };
	struct etcd_put pa = { "/t/e/1", "from a", 6, 6, 0 };
	struct etcd_put pb = { "/t/e/1", "from b", 6, 6, 0 };
	struct etcd_kv kv;
	struct etcd_range r;
	int64_t rev = 0;
	int ok = -1;

	(void)state;
	NEED_ETCD();
	assert_int_equal(etcd_new(etcd_url, 2000, &a), 0);
	assert_int_equal(etcd_new(etcd_url, 2000, &b), 0);
	assert_int_equal(etcd_txn(a, &cmp, 1, &pa, 1, NULL, 0, &ok, &rev, NULL),
	    0);
	assert_int_equal(ok, 1);
	assert_true(rev > 0);
	/* the second writer of index 1 loses and learns what is there */
	assert_int_equal(
	    etcd_txn(b, &cmp, 1, &pb, 1, "/t/e/1", 6, &ok, NULL, &kv), 0);
	assert_int_equal(ok, 0);
	assert_int_equal(kv.value_len, 6);
	assert_memory_equal(kv.value, "from a", 6);
	assert_int_equal(kv.create_revision, rev);
	free(kv.key);
	free(kv.value);
	assert_int_equal(etcd_range(b, "/t/e/1", 6, NULL, 0, 0, 1, &r), 0);
	assert_int_equal(r.n, 1);
	assert_memory_equal(r.kvs[0].value, "from a", 6);
	etcd_range_clear(&r);
	etcd_free(a);
	etcd_free(b);
}

/* A batch guarded by "its predecessor's key exists" (GREATER 0) fails
 * harmlessly before the predecessor is there and succeeds after. */
static void
test_txn_needs_key_present(void **state)
{
	struct etcd *c = NULL;
	struct etcd_cmp cmp[2] = { { "/p/e/2", 6, 0, ETCD_CMP_EQUAL },
		{ "/p/e/1", 6, 0, ETCD_CMP_GREATER } };
	struct etcd_put p2 = { "/p/e/2", "two", 6, 3, 0 };
	struct etcd_put p1 = { "/p/e/1", "one", 6, 3, 0 };
	struct etcd_cmp c1 = { "/p/e/1", 6, 0, ETCD_CMP_EQUAL };
	struct etcd_range r;
	int ok = -1;

	(void)state;
	NEED_ETCD();
	assert_int_equal(etcd_new(etcd_url, 2000, &c), 0);
	assert_int_equal(etcd_txn(c, cmp, 2, &p2, 1, NULL, 0, &ok, NULL, NULL),
	    0);
	assert_int_equal(ok, 0);
	assert_int_equal(etcd_range(c, "/p/e/2", 6, NULL, 0, 0, 0, &r), 0);
	assert_int_equal(r.n, 0); /* nothing written */
	etcd_range_clear(&r);
	assert_int_equal(etcd_txn(c, &c1, 1, &p1, 1, NULL, 0, &ok, NULL, NULL),
	    0);
	assert_int_equal(ok, 1);
	assert_int_equal(etcd_txn(c, cmp, 2, &p2, 1, NULL, 0, &ok, NULL, NULL),
	    0);
	assert_int_equal(ok, 1);
	assert_int_equal(etcd_range(c, "/p/e/2", 6, NULL, 0, 0, 0, &r), 0);
	assert_int_equal(r.n, 1);
	assert_memory_equal(r.kvs[0].value, "two", 3);
	etcd_range_clear(&r);
	etcd_free(c);
}

static void
test_range_prefix_limit_binary(void **state)
{
	struct etcd *c = NULL;
	struct etcd_range r;
	char key[16], end[16];
	int ok;

	(void)state;
	NEED_ETCD();
	assert_int_equal(etcd_new(etcd_url, 2000, &c), 0);
	for (int i = 0; i < 5; i++) {
		char val[3] = { 'v', (char)i, '\0' }; /* a NUL inside */
		struct etcd_put p = { key, val, 0, 3, 0 };

		p.key_len = (size_t)snprintf(key, sizeof(key), "/r/%02d", i);
		assert_int_equal(
		    etcd_txn(c, NULL, 0, &p, 1, NULL, 0, &ok, NULL, NULL), 0);
		assert_int_equal(ok, 1);
	}
	size_t el = etcd_prefix_end("/r/", 3, end);
	assert_int_equal(etcd_range(c, "/r/", 3, end, el, 2, 0, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.count, 5);
	assert_true(r.more);
	assert_memory_equal(r.kvs[1].key, "/r/01", 5);
	assert_int_equal(r.kvs[1].value_len, 3);
	assert_int_equal(r.kvs[1].value[1], 1);
	etcd_range_clear(&r);
	assert_int_equal(etcd_range(c, "/none", 5, NULL, 0, 0, 0, &r), 0);
	assert_int_equal(r.n, 0);
	assert_true(r.revision > 0);
	etcd_range_clear(&r);
	etcd_free(c);
}

static void
test_lease_expires_with_its_key(void **state)
{
	struct etcd *c = NULL;
	struct etcd_cmp cmp = { "/l/leader", 9, 0, ETCD_CMP_EQUAL };
	struct etcd_put p = { "/l/leader", "me", 9, 2, 0 };
	struct etcd_range r;
	int64_t id = 0, ttl = 0;
	int ok;

	(void)state;
	NEED_ETCD();
	assert_int_equal(etcd_new(etcd_url, 2000, &c), 0);
	assert_int_equal(etcd_lease_grant(c, 5, &id), 0);
	assert_int_equal(etcd_lease_keepalive(c, id, &ttl), 0);
	assert_true(ttl > 0 && ttl <= 5);
	p.lease = id;
	assert_int_equal(etcd_txn(c, &cmp, 1, &p, 1, NULL, 0, &ok, NULL, NULL),
	    0);
	assert_int_equal(ok, 1);
	assert_int_equal(etcd_range(c, "/l/leader", 9, NULL, 0, 0, 0, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.kvs[0].lease, id);
	etcd_range_clear(&r);
	assert_int_equal(etcd_lease_revoke(c, id), 0);
	assert_int_equal(etcd_lease_keepalive(c, id, &ttl), ERR_NOTFOUND);
	assert_int_equal(etcd_range(c, "/l/leader", 9, NULL, 0, 0, 0, &r), 0);
	assert_int_equal(r.n, 0); /* the key went with its lease */
	etcd_range_clear(&r);
	etcd_free(c);
}

struct seen {
	int n;
	char last[16];
};

static int
count_cb(void *ctx, const struct etcd_kv *kv, int deleted, int64_t rev)
{
	struct seen *s = ctx;

	(void)deleted;
	(void)rev;
	snprintf(s->last, sizeof(s->last), "%.*s", (int)kv->key_len, kv->key);
	return ++s->n == 3 ? 1 : 0;
}

static void
test_watch_from_revision_and_compacted(void **state)
{
	struct etcd *c = NULL;
	struct seen s = { 0 };
	int64_t first = 0, rev = 0;
	char end[8];
	size_t el = etcd_prefix_end("/w/", 3, end);
	int ok;

	(void)state;
	NEED_ETCD();
	assert_int_equal(etcd_new(etcd_url, 2000, &c), 0);
	for (int i = 0; i < 3; i++) {
		char key[8];
		struct etcd_put p = { key, "x", 0, 1, 0 };
		p.key_len = (size_t)snprintf(key, sizeof(key), "/w/%d", i);
		assert_int_equal(
		    etcd_txn(c, NULL, 0, &p, 1, NULL, 0, &ok, &rev, NULL), 0);
		if (i == 0)
			first = rev;
	}
	assert_int_equal(
	    etcd_watch(c, "/w/", 3, end, el, first, 3000, count_cb, &s, NULL),
	    0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.last, "/w/2");
	/* nothing new: the watch ends when its time is up */
	s.n = 0;
	assert_int_equal(
	    etcd_watch(c, "/w/", 3, end, el, rev + 1, 300, count_cb, &s, NULL),
	    0);
	assert_int_equal(s.n, 0);
	assert_int_equal(etcd_delete(c, "/w/", 3, end, el, &rev), 0);
	assert_int_equal(rev, 3);
	assert_int_equal(etcd_compact(c, first + 2), 0);
	assert_int_equal(
	    etcd_watch(c, "/w/", 3, end, el, first, 1000, count_cb, &s, NULL),
	    ERR_NOTFOUND);
	etcd_free(c);
}

struct calls {
	int calls, events;
	int call[8], deleted[8]; /* per event: which call brought it */
	char key[8][16];
};

static int
batch_cb(void *ctx, const struct etcd_kv *kvs, const int *deleted, size_t n,
    int64_t rev)
{
	struct calls *s = ctx;

	(void)rev;
	for (size_t i = 0; i < n && s->events < 8; i++, s->events++) {
		s->call[s->events] = s->calls;
		s->deleted[s->events] = deleted[i];
		snprintf(s->key[s->events], sizeof(s->key[0]), "%.*s",
		    (int)kvs[i].key_len, kvs[i].key);
	}
	s->calls++;
	return s->events >= 4 ? 1 : 0;
}

/* A transaction's writes reach the batch callback in one call, in
 * order, a delete marked. */
static void
test_watch_batch_one_call_per_txn(void **state)
{
	struct etcd *c = NULL;
	struct calls s = { 0 };
	struct etcd_put p[3];
	char keys[3][8], end[8];
	size_t el = etcd_prefix_end("/b/", 3, end);
	int64_t first = 0, rev = 0;
	int ok;

	(void)state;
	NEED_ETCD();
	assert_int_equal(etcd_new(etcd_url, 2000, &c), 0);
	for (int i = 0; i < 3; i++) {
		size_t kl =
		    (size_t)snprintf(keys[i], sizeof(keys[i]), "/b/%d", i);
		p[i] = (struct etcd_put){ keys[i], "x", kl, 1, 0 };
	}
	assert_int_equal(etcd_txn(c, NULL, 0, p, 3, NULL, 0, &ok, &first, NULL),
	    0);
	assert_int_equal(etcd_delete(c, "/b/1", 4, NULL, 0, &rev), 0);
	assert_int_equal(etcd_watch_batch(c, "/b/", 3, end, el, first, 3000,
	                     batch_cb, &s, NULL),
	    0);
	assert_int_equal(s.events, 4);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(s.key[i], keys[i]);
		assert_int_equal(s.call[i], 0); /* the transaction: one call */
		assert_int_equal(s.deleted[i], 0);
	}
	assert_string_equal(s.key[3], "/b/1");
	assert_int_equal(s.deleted[3], 1);
	etcd_free(c);
}

static void
test_dead_member_skipped(void **state)
{
	struct etcd *c = NULL;
	struct etcd_range r;
	char urls[160];

	(void)state;
	NEED_ETCD();
	snprintf(urls, sizeof(urls), "http://127.0.0.1:%d,%s", free_port(),
	    etcd_url);
	assert_int_equal(etcd_new(urls, 2000, &c), 0);
	assert_int_equal(etcd_range(c, "x", 1, NULL, 0, 0, 1, &r), 0);
	assert_string_equal(etcd_endpoint(c), etcd_url);
	etcd_range_clear(&r);
	etcd_free(c);
}

/* ---- a fake member ---------------------------------------------------- */

struct fake {
	int fd, port;
	const char *answer; /* NULL: an endless body */
};

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	char req[8192];
	int c = accept(f->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	if (read(c, req, sizeof(req)) <= 0) {
		close(c);
		return NULL;
	}
	if (f->answer != NULL) {
		char head[128];
		int n = snprintf(head, sizeof(head),
		    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n",
		    strlen(f->answer));
		if (write(c, head, (size_t)n) < 0 ||
		    write(c, f->answer, strlen(f->answer)) < 0)
			(void)0;
	} else {
		static char chunk[1 << 16];
		const char *head =
		    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
		memset(chunk, 'a', sizeof(chunk));
		if (write(c, head, strlen(head)) < 0)
			(void)0;
		while (write(c, chunk, sizeof(chunk)) > 0)
			;
	}
	close(c);
	return NULL;
}

static int
fake_range(const char *answer, const char **msg)
{
	struct fake f = { .answer = answer };
	struct sockaddr_in a = { 0 };
	socklen_t al = sizeof(a);
	struct etcd *c = NULL;
	struct etcd_range r;
	pthread_t th;
	char url[64];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f.fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(f.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f.fd, 1), 0);
	getsockname(f.fd, (struct sockaddr *)&a, &al);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	pthread_create(&th, NULL, fake_main, &f);
	assert_int_equal(etcd_new(url, 5000, &c), 0);
	rc = etcd_range(c, "k", 1, NULL, 0, 0, 0, &r);
	if (rc == 0)
		etcd_range_clear(&r);
	etcd_free(c);
	pthread_join(th, NULL);
	close(f.fd);
	*msg = err_msg();
	return rc;
}

static void
test_garbage_answers_refused(void **state)
{
	const char *msg;

	(void)state;
	assert_int_equal(fake_range("<html>hello</html>", &msg), ERR_CORRUPT);
	assert_non_null(strstr(msg, "not a JSON object"));
	assert_int_equal(fake_range("{\"kvs\":[{\"key\":\"!!!\"}]}", &msg),
	    ERR_CORRUPT);
	assert_non_null(strstr(msg, "\"key\": not valid base64"));
	assert_int_equal(
	    fake_range("{\"header\":{\"revision\":\"12x\"}}", &msg),
	    ERR_CORRUPT);
	assert_non_null(strstr(msg, "\"revision\": expected an integer"));
	assert_int_equal(fake_range("{\"kvs\":{}}", &msg), ERR_CORRUPT);
	assert_int_equal(fake_range("{\"more\":\"yes\"}", &msg), ERR_CORRUPT);
	assert_int_equal(fake_range("{\"error\":\"etcdserver: request timed "
	                            "out\",\"code\":14}",
	                     &msg),
	    ERR_IO);
	assert_non_null(strstr(msg, "no quorum"));
}

/* A member that answers it cannot serve now (no leader: a minority side
 * of a partition), or does not answer a write in time, is left for the
 * next request: a replica talking to it would never refresh its lease
 * nor campaign again while the rest of the cluster serves. */
static void
test_unavailable_member_left(void **state)
{
	struct fake f = { .answer = "{\"error\":\"etcdserver: no leader\","
		                    "\"code\":14}" };
	struct sockaddr_in a = { 0 };
	socklen_t al = sizeof(a);
	struct etcd *c = NULL;
	struct etcd_range r;
	struct etcd_put p = { "k", "v", 1, 1, 0 };
	pthread_t th;
	char urls[200], first[64], second[64];
	int ok, mute;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f.fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(f.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f.fd, 1), 0);
	getsockname(f.fd, (struct sockaddr *)&a, &al);
	snprintf(first, sizeof(first), "http://127.0.0.1:%d",
	    ntohs(a.sin_port));
	/* a member that takes connections and never answers */
	a.sin_port = 0;
	mute = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(mute, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(mute, 8), 0);
	al = sizeof(a);
	getsockname(mute, (struct sockaddr *)&a, &al);
	snprintf(second, sizeof(second), "http://127.0.0.1:%d",
	    ntohs(a.sin_port));
	snprintf(urls, sizeof(urls), "%s,%s", first, second);
	pthread_create(&th, NULL, fake_main, &f);
	assert_int_equal(etcd_new(urls, 500, &c), 0);
	assert_int_equal(etcd_range(c, "k", 1, NULL, 0, 0, 0, &r), ERR_IO);
	pthread_join(th, NULL);
	assert_string_equal(etcd_endpoint(c), second);
	assert_int_equal(etcd_txn(c, NULL, 0, &p, 1, NULL, 0, &ok, NULL, NULL),
	    ERR_IO);
	assert_string_equal(etcd_endpoint(c), first);
	etcd_free(c);
	close(f.fd);
	close(mute);
}

static void
test_endless_answer_refused(void **state)
{
	const char *msg;

	(void)state;
	assert_int_equal(fake_range(NULL, &msg), ERR_LIMIT);
	assert_non_null(strstr(msg, "answer larger than"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints_parsed_and_refused),
		cmocka_unit_test(test_prefix_end),
		cmocka_unit_test(test_create_only_txn_one_winner),
		cmocka_unit_test(test_txn_needs_key_present),
		cmocka_unit_test(test_range_prefix_limit_binary),
		cmocka_unit_test(test_lease_expires_with_its_key),
		cmocka_unit_test(test_watch_from_revision_and_compacted),
		cmocka_unit_test(test_watch_batch_one_call_per_txn),
		cmocka_unit_test(test_dead_member_skipped),
		cmocka_unit_test(test_garbage_answers_refused),
		cmocka_unit_test(test_endless_answer_refused),
		cmocka_unit_test(test_unavailable_member_left),
	};
	return cmocka_run_group_tests(tests, start_etcd, stop_etcd);
}
