/*
 * Unit tests for what keeps the provider robust against its tenants and
 * its operator (issue 13): the fetch policy's address classes and URL
 * rules, fetches whose redirects and connections it judges, preparation
 * jobs (output, deadline, kill), the config's checks and process limits,
 * /proc/PID/stat parsing, and a sandbox that outlives its starter and is
 * adopted again, its output copied by its own init.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/util.h"
#include "provider/config.h"
#include "provider/fetch.h"
#include "provider/job.h"
#include "provider/lease.h"
#include "provider/netpolicy.h"
#include "sandbox/sandbox.h"

/* ---- netpolicy ---- */

static const char *
class_of(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1)
		in->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
	}
	return netpolicy_addr_class((struct sockaddr *)&ss);
}

static void
test_netpolicy_classifies_special_addresses(void **state)
{
	static const struct {
		const char *addr, *want; /* want NULL: public */
	} cases[] = {
		{ "127.0.0.1", "loopback" },
		{ "127.255.0.9", "loopback" },
		{ "0.0.0.0", "unspecified" },
		{ "10.1.2.3", "private" },
		{ "172.16.0.1", "private" },
		{ "172.31.255.255", "private" },
		{ "172.32.0.1", NULL },
		{ "192.168.1.1", "private" },
		{ "100.64.0.1", "shared address space" },
		{ "169.254.169.254", "link-local" },
		{ "224.0.0.1", "multicast" },
		{ "255.255.255.255", "reserved" },
		{ "192.0.2.7", "documentation" },
		{ "198.18.0.1", "reserved (benchmarking)" },
		{ "8.8.8.8", NULL },
		{ "93.184.216.34", NULL },
		{ "::1", "loopback" },
		{ "::", "unspecified" },
		{ "::ffff:127.0.0.1", "loopback" },
		{ "::ffff:10.0.0.1", "private" },
		{ "::ffff:8.8.8.8", NULL },
		{ "64:ff9b::a00:1", "private" },
		{ "2002:7f00:1::1", "loopback" },
		{ "fe80::1", "link-local" },
		{ "fd12:3456::1", "private (unique local)" },
		{ "ff02::1", "multicast" },
		{ "2001:db8::1", "documentation" },
		{ "2001::1", "reserved (Teredo)" },
		{ "2606:4700::1111", NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *c = class_of(cases[i].addr);
		if (cases[i].want == NULL) {
			if (c != NULL)
				fail_msg("%s: \"%s\", expected public",
				    cases[i].addr, c);
		} else if (c == NULL ||
		    strncmp(c, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("%s: \"%s\", expected \"%s\"", cases[i].addr,
			    c ? c : "(public)", cases[i].want);
	}
}

static void
test_netpolicy_refuses_this_machines_own_addresses(void **state)
{
	struct netpolicy p;
	struct sockaddr_in a;
	struct sockaddr_in6 m;

	(void)state;
	assert_int_equal(netpolicy_init(&p, NULL), 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	inet_pton(AF_INET, "203.0.113.9", &a.sin_addr); /* documentation */
	assert_non_null(netpolicy_addr_refused(&p, (struct sockaddr *)&a));
	inet_pton(AF_INET, "8.8.4.4", &a.sin_addr);
	assert_null(netpolicy_addr_refused(&p, (struct sockaddr *)&a));
	/* As if this machine had that public address. */
	assert_int_equal(netpolicy_add_own(&p, (struct sockaddr *)&a), 0);
	assert_string_equal(netpolicy_addr_refused(&p, (struct sockaddr *)&a),
	    "this provider's own address");
	/* ... also when reached as an IPv4-mapped IPv6 address. */
	memset(&m, 0, sizeof(m));
	m.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:8.8.4.4", &m.sin6_addr);
	assert_string_equal(netpolicy_addr_refused(&p, (struct sockaddr *)&m),
	    "this provider's own address");
	/* The owner's own use judges nothing. */
	p.local = 1;
	assert_null(netpolicy_addr_refused(&p, (struct sockaddr *)&a));
	netpolicy_clear(&p);
}

static void
test_netpolicy_checks_urls_scheme_and_allowed_hosts(void **state)
{
	json_t *allow = json_pack("[s,s]", "git.example.com:8080", "10.0.0.5");
	struct netpolicy p;
	int trusted;

	(void)state;
	assert_int_equal(netpolicy_init(&p, allow), 0);
	json_decref(allow);
	assert_int_equal(
	    netpolicy_check_url(&p, "https://example.com/r.git", &trusted), 0);
	assert_false(trusted);
	assert_int_equal(
	    netpolicy_check_url(&p, "file:///etc/passwd", &trusted),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "file:// URLs are refused"));
	assert_int_equal(
	    netpolicy_check_url(&p, "http://example.com/r.git", &trusted),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "plain http:// is refused"));
	assert_int_equal(
	    netpolicy_check_url(&p, "ssh://example.com/r.git", &trusted),
	    ERR_REJECT);
	assert_int_equal(
	    netpolicy_check_url(&p, "ftp://example.com/x", &trusted),
	    ERR_REJECT);
	assert_int_equal(netpolicy_check_url(&p, "not a url", &trusted),
	    ERR_REJECT);
	/* Allowed host and port: http, and its addresses not judged. */
	assert_int_equal(netpolicy_check_url(&p,
	                     "http://GIT.example.com:8080/r.git", &trusted),
	    0);
	assert_true(trusted);
	assert_int_equal(netpolicy_check_url(&p,
	                     "http://git.example.com:8081/r.git", &trusted),
	    ERR_REJECT);
	assert_int_equal(
	    netpolicy_check_url(&p, "http://git.example.com/r.git", &trusted),
	    ERR_REJECT);
	/* A host allowed on any port. */
	assert_int_equal(
	    netpolicy_check_url(&p, "http://10.0.0.5:9/r.git", &trusted), 0);
	assert_true(trusted);
	assert_int_equal(
	    netpolicy_check_url(&p, "https://10.0.0.5/r.git", &trusted), 0);
	assert_true(trusted);
	/* No prefix match: 10.0.0.50 is another host. */
	assert_int_equal(
	    netpolicy_check_url(&p, "http://10.0.0.50/r.git", &trusted),
	    ERR_REJECT);
	p.local = 1;
	assert_int_equal(netpolicy_check_url(&p, "file:///srv/r.git", &trusted),
	    0);
	netpolicy_clear(&p);
}

/* ---- fetch: a loopback server that answers by path ---- */

struct server {
	int fd;
	uint16_t port;
	char redirect_evil[128]; /* Location of /evil */
	char redirect_plain[128]; /* Location of /plain */
	pthread_t thread;
};

static void *
serve(void *arg)
{
	struct server *s = arg;
	char req[2048], resp[4096], body[2048];
	const char *status, *loc;
	ssize_t n;
	int c;

	for (;;) {
		if ((c = accept(s->fd, NULL, NULL)) < 0)
			return NULL;
		n = read(c, req, sizeof(req) - 1);
		req[n > 0 ? n : 0] = '\0';
		status = "200 OK";
		loc = NULL;
		snprintf(body, sizeof(body), "hello\n");
		if (strncmp(req, "GET /r1 ", 8) == 0) {
			status = "302 Found";
			loc = "/ok";
		} else if (strncmp(req, "GET /evil ", 10) == 0) {
			status = "302 Found";
			loc = s->redirect_evil;
		} else if (strncmp(req, "GET /plain ", 11) == 0) {
			status = "302 Found";
			loc = s->redirect_plain;
		} else if (strncmp(req, "GET /loop ", 10) == 0) {
			status = "302 Found";
			loc = "/loop";
		} else if (strncmp(req, "GET /big ", 9) == 0) {
			memset(body, 'x', 2000);
			body[2000] = '\0';
		} else if (strncmp(req, "GET /secret ", 12) == 0) {
			status = "403 Forbidden";
			snprintf(body, sizeof(body), "SECRET\n");
		}
		n = snprintf(resp, sizeof(resp),
		    "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s%s%s"
		    "Connection: close\r\n\r\n%s",
		    status, strlen(body), loc ? "Location: " : "",
		    loc ? loc : "", loc ? "\r\n" : "", body);
		if (write(c, resp, (size_t)n) < 0)
			break;
		close(c);
	}
	return NULL;
}

static int
listener(uint16_t *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Has anyone connected to the canary listener? */
static int
touched(int fd)
{
	int fl = fcntl(fd, F_GETFL), c;

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	c = accept(fd, NULL, NULL);
	fcntl(fd, F_SETFL, fl);
	if (c >= 0) {
		close(c);
		return 1;
	}
	return 0;
}

static int
get(const struct netpolicy *p, const char *url, uint64_t max,
    struct fetch_result *res, char *body, size_t cap)
{
	char path[] = "/tmp/lodge-test-fetch-XXXXXX";
	struct fetch_req rq;
	ssize_t n;
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	unlink(path);
	memset(&rq, 0, sizeof(rq));
	rq.url = url;
	rq.max_redirects = 3;
	rq.max_bytes = max;
	rq.timeout_ms = 5000;
	rq.out_fd = fd;
	rc = fetch_run(p, &rq, res);
	n = pread(fd, body, cap - 1, 0);
	body[n > 0 ? n : 0] = '\0';
	close(fd);
	return rc;
}

static void
test_fetch_judges_every_connection_and_redirect(void **state)
{
	struct server s;
	struct netpolicy p;
	struct fetch_result res;
	uint16_t canary_port;
	int canary = listener(&canary_port);
	char url[256], allow[64], body[4096];

	(void)state;
	memset(&s, 0, sizeof(s));
	s.fd = listener(&s.port);
	snprintf(s.redirect_evil, sizeof(s.redirect_evil),
	    "https://localhost:%u/x", canary_port);
	snprintf(s.redirect_plain, sizeof(s.redirect_plain),
	    "http://127.0.0.2:%u/x", canary_port);
	assert_int_equal(pthread_create(&s.thread, NULL, serve, &s), 0);
	assert_int_equal(netpolicy_init(&p, NULL), 0);
	snprintf(allow, sizeof(allow), "127.0.0.1:%u", s.port);
	assert_int_equal(netpolicy_allow(&p, allow), 0);

	/* Loopback not allowed: refused before any connection. */
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/x", canary_port);
	assert_int_equal(get(&p, url, 0, &res, body, sizeof(body)), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "127.0.0.1 is loopback"));
	snprintf(url, sizeof(url), "https://localhost:%u/x", canary_port);
	assert_int_equal(get(&p, url, 0, &res, body, sizeof(body)), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "is loopback"));
	/* The allowed host, through a redirect of its own. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/r1", s.port);
	assert_int_equal(get(&p, url, 0, &res, body, sizeof(body)), 0);
	assert_int_equal(res.status, 200);
	assert_string_equal(body, "hello\n");
	assert_non_null(strstr(res.final_url, "/ok"));
	/* Its redirects elsewhere are judged hop by hop. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/evil", s.port);
	assert_int_equal(get(&p, url, 0, &res, body, sizeof(body)), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "is loopback"));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/plain", s.port);
	assert_int_equal(get(&p, url, 0, &res, body, sizeof(body)), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "plain http:// is refused"));
	assert_false(touched(canary));
	/* Too many redirects: the last answer, unfollowed. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/loop", s.port);
	assert_int_equal(get(&p, url, 0, &res, body, sizeof(body)), 0);
	assert_int_equal(res.status, 302);
	/* The body cap. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/big", s.port);
	assert_int_equal(get(&p, url, 1000, &res, body, sizeof(body)),
	    ERR_LIMIT);
	/* A status is the caller's to judge; the message carries no body. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/secret", s.port);
	assert_int_equal(get(&p, url, 0, &res, body, sizeof(body)), 0);
	assert_int_equal(res.status, 403);
	/* Nothing listens: a generic failure, no detail of the remote. */
	close(canary);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", canary_port);
	assert_int_equal(netpolicy_allow(&p, "127.0.0.1"), 0);
	assert_int_equal(get(&p, url, 0, &res, body, sizeof(body)), ERR_IO);
	assert_non_null(strstr(err_msg(), "the fetch failed"));
	assert_null(strstr(err_msg(), "refused"));
	shutdown(s.fd, SHUT_RDWR);
	close(s.fd);
	pthread_join(s.thread, NULL);
	netpolicy_clear(&p);
}

/* ---- jobs ---- */

/* The state letter of pid in /proc/PID/stat, or '?'. */
static char
proc_state(long pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (p = strrchr(buf, ')')) != NULL && p[1] == ' ' ? p[2] : '?';
}

static int
run_job(const char *script, int64_t timeout_ms, struct job_result *res)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct job_spec spec;
	struct job *j = NULL;
	int64_t until = util_now_ms() + 10000;
	int rc;

	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.name = "test-job";
	spec.cgroup.mode = CGROUP_NONE;
	spec.timeout_ms = timeout_ms;
	if ((rc = job_start(&spec, &j)) < 0)
		return rc;
	while ((rc = job_poll(j, res)) == 0 && util_now_ms() < until)
		usleep(20000);
	job_free(j);
	return rc == 1 ? 0 : -1;
}

static void
test_job_collects_output_exit_and_deadline(void **state)
{
	struct job_result res;
	char path[] = "/tmp/lodge-test-job-XXXXXX", script[256];
	char *text = NULL;
	size_t len;
	long child;
	int fd;

	(void)state;
	assert_int_equal(
	    run_job("echo /the/path; echo oops >&2; exit 3", 0, &res), 0);
	assert_int_equal(res.exit_code, 3);
	assert_false(res.timed_out);
	assert_string_equal(res.out, "/the/path\n");
	assert_string_equal(res.err, "oops\n");
	/* stderr keeps its end when long. */
	assert_int_equal(run_job("i=0; while [ $i -lt 2000 ]; do echo "
	                         "line$i >&2; i=$((i+1)); done; echo END >&2",
	                     0, &res),
	    0);
	assert_non_null(strstr(res.err, "line1999\nEND\n"));
	assert_null(strstr(res.err, "line1\n"));
	/* Past its deadline it is killed, with what it started. */
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	snprintf(script, sizeof(script), "sleep 30 & echo $! > %s; wait", path);
	assert_int_equal(run_job(script, 300, &res), 0);
	assert_true(res.timed_out);
	assert_int_equal(res.exit_code, 128 + SIGKILL);
	assert_int_equal(util_read_file(path, 64, &text, &len), 0);
	child = strtol(text, NULL, 10);
	free(text);
	unlink(path);
	assert_true(child > 0);
	/* Gone, or a zombie waiting for whoever reaps orphans here. */
	usleep(100000);
	assert_true(kill((pid_t)child, 0) < 0 ? errno == ESRCH :
	                                        proc_state(child) == 'Z');
	/* Not an absolute path. */
	{
		const char *argv[] = { "sh", NULL };
		struct job_spec spec;
		struct job *j;
		memset(&spec, 0, sizeof(spec));
		spec.argv = argv;
		spec.name = "x";
		assert_int_equal(job_start(&spec, &j), ERR_INVAL);
	}
}

/* ---- config and process limits ---- */

static void
test_config_refuses_what_leaves_nothing_and_limits_pids(void **state)
{
	struct provider_config c;

	(void)state;
	config_init(&c);
	c.detected.cpu_millis = 2000;
	c.detected.memory_bytes = 8ull << 30;
	c.detected.storage_bytes = 100ull << 30;
	assert_int_equal(config_check(&c), 0);
	c.reserved.cpu_millis = 4000; /* --reserve-cpu 4 on 2 cores */
	assert_int_equal(config_check(&c), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "--reserve-cpu 4.000 CPUs"));
	assert_non_null(strstr(err_msg(), "this machine has 2.000 CPUs"));
	c.reserved.cpu_millis = 2000; /* exactly all: capacity 0 */
	assert_int_equal(config_check(&c), ERR_INVAL);
	c.reserved.cpu_millis = 1999;
	assert_int_equal(config_check(&c), 0);
	c.reserved.memory_bytes = 8ull << 30;
	assert_int_equal(config_check(&c), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "--reserve-memory"));
	c.reserved.memory_bytes = 0;
	c.prepare_jobs = 0;
	assert_int_equal(config_check(&c), ERR_INVAL);
	c.prepare_jobs = 2;
	c.prepare_memory_bytes = 1u << 20;
	assert_int_equal(config_check(&c), ERR_INVAL);
	c.prepare_memory_bytes = 1ull << 30;
	assert_int_equal(config_check(&c), 0);
	/* 256 per CPU (rounded up, at least one), at most 4096. */
	assert_int_equal(config_pids_for(&c, 0), 256);
	assert_int_equal(config_pids_for(&c, 500), 256);
	assert_int_equal(config_pids_for(&c, 1001), 512);
	assert_int_equal(config_pids_for(&c, 64000), 4096);
	assert_int_equal(config_parse_fetch_allow(&c,
	                     "Git.Example.com:8080,"
	                     "10.0.0.5,[::1]:9"),
	    0);
	assert_int_equal(json_array_size(c.fetch_allow), 3);
	assert_string_equal(json_string_value(json_array_get(c.fetch_allow, 0)),
	    "git.example.com:8080");
	assert_int_equal(config_parse_fetch_allow(&c, "a b"), ERR_INVAL);
	assert_int_equal(config_parse_fetch_allow(&c, "host:99999"), ERR_INVAL);
	assert_int_equal(config_parse_fetch_allow(&c, "http://host"),
	    ERR_INVAL);
	assert_int_equal(json_array_size(c.fetch_allow), 3); /* unchanged */
	assert_int_equal(config_parse_fetch_allow(&c, ""), 0);
	assert_int_equal(json_array_size(c.fetch_allow), 0);
	config_clear(&c);
}

static struct lease *
lease_of(const char *env, unsigned cpu_millis)
{
	char text[1024];
	struct lease *l;
	unsigned char d[32];
	char hex[65];
	json_t *m;

	snprintf(text, sizeof(text),
	    "{\"deployment\":{\"web\":{\"here\":{\"count\":1,\"profile\":"
	    "\"p\"}}},\"profiles\":{\"p\":{\"cpu_millis\":%u,\"memory_"
	    "bytes\":1000000,\"storage\":{}}},\"services\":{\"web\":{"
	    "\"args\":[],\"command\":[\"sh\"],\"env\":{%s},\"image\":{\"kind\":"
	    "\"host\"},"
	    "\"runtime\":\"process\"}}}",
	    cpu_millis, env);
	assert_int_equal(cjson_parse(text, strlen(text), &m), 0);
	assert_int_equal(cjson_hash(m, d), 0);
	hex_encode(d, 32, hex);
	assert_int_equal(lease_new("l-7", "o-6",
	                     "ed25519:AAAAAAAAAAAAAAAAAAAAA"
	                     "AAAAAAAAAAAAAAAAAAAAAA",
	                     hex, "here", &l),
	    0);
	if (lease_set_manifest(l, m) < 0) {
		print_message("lease_set_manifest: %s\n", err_msg());
		json_decref(m);
		lease_free(l);
		return NULL;
	}
	json_decref(m);
	return l;
}

static void
test_lease_process_limit_per_cpu_env_and_ceiling(void **state)
{
	struct lease *l;

	(void)state;
	assert_non_null(l = lease_of("", 2500));
	assert_int_equal(lease_set_pids(l, 100, 1000), 0);
	assert_int_equal(l->rep[0].pids_max, 300); /* 3 CPUs */
	assert_int_equal(lease_set_pids(l, 500, 1000), 0);
	assert_int_equal(l->rep[0].pids_max, 1000); /* the ceiling */
	lease_free(l);
	assert_non_null(l = lease_of("\"LODGE_PIDS\":\"40\"", 500));
	assert_int_equal(lease_set_pids(l, 256, 4096), 0);
	assert_int_equal(l->rep[0].pids_max, 40);
	lease_free(l);
	assert_non_null(l = lease_of("\"LODGE_PIDS\":\"5000\"", 500));
	assert_int_equal(lease_set_pids(l, 256, 4096), ERR_REJECT);
	assert_non_null(strstr(err_msg(), "services.web.env.LODGE_PIDS: 5000"));
	assert_non_null(strstr(err_msg(), "4096"));
	lease_free(l);
	assert_null(lease_of("\"LODGE_PIDS\":\"-1\"", 500));
	assert_non_null(strstr(err_msg(), "not a positive integer"));
	assert_null(lease_of("\"LODGE_PIDS\":\"0\"", 500));
}

/* ---- sandboxes that outlive their starter ---- */

static void
test_proc_stat_gives_comm_and_start_time(void **state)
{
	char comm[32];
	uint64_t t;

	(void)state;
	assert_int_equal(sandbox_parse_proc_stat(
	                     "42 (lodge-init) S 1 42 42 0 -1 4194560 100 0 0 0 "
	                     "3 4 0 0 20 0 1 0 123456 4000000 200",
	                     comm, sizeof(comm), &t),
	    0);
	assert_string_equal(comm, "lodge-init");
	assert_int_equal(t, 123456);
	/* A name with spaces and parentheses: the last ')' ends it. */
	assert_int_equal(sandbox_parse_proc_stat(
	                     "7 (a) (b c) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 "
	                     "1 0 99 0 0",
	                     comm, sizeof(comm), &t),
	    0);
	assert_string_equal(comm, "a) (b c");
	assert_int_equal(t, 99);
	assert_int_equal(
	    sandbox_parse_proc_stat("7 (x) R 1 2", comm, sizeof(comm), &t),
	    ERR_INVAL);
	assert_int_equal(
	    sandbox_parse_proc_stat("no comm", comm, sizeof(comm), &t),
	    ERR_INVAL);
}

static void
test_sandbox_outlives_its_starter_and_is_adopted(void **state)
{
	static const char *const argv[] = { "/bin/sh", "-c",
		"echo first; while [ ! -e /tmp/go ]; do sleep 0.05; done; "
		"i=0; while [ $i -lt 300 ]; do echo 0123456789; i=$((i+1)); "
		"done; exit 7",
		NULL };
	char dir[] = "/tmp/lodge-test-adopt-XXXXXX", out[256], status[256];
	char *text = NULL, cmd[300];
	struct sandbox_spec spec;
	struct sandbox *sb = NULL, *again = NULL;
	struct sandbox_ref ref, bad;
	size_t len;
	int exited = 0, st = 0;

	(void)state;
	if (geteuid() != 0)
		skip(); /* sandboxes without root need a user namespace */
	assert_non_null(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/out.log", dir);
	snprintf(status, sizeof(status), "%s/status", dir);
	sandbox_spec_init(&spec);
	spec.argv = argv;
	spec.name = "lodge-test-adopt";
	spec.stdout_path = out;
	spec.status_path = status;
	spec.log_max_bytes = 1000;
	spec.die_with_parent = 0;
	assert_int_equal(sandbox_start(&spec, &sb), 0);
	assert_int_equal(sandbox_ref(sb, &ref), 0);
	assert_true(ref.start_ticks > 0);
	/* Its init copies the output itself: no thread of ours does. */
	for (len = 0; len == 0;) {
		free(text);
		text = NULL;
		assert_int_equal(util_read_file(out, 4096, &text, &len), 0);
		if (len == 0)
			usleep(20000);
	}
	assert_string_equal(text, "first\n");
	free(text);
	text = NULL;
	/* Let go: the sandbox goes on, as after its starter exits. */
	sandbox_release(sb);
	assert_int_equal(kill(ref.pid, 0), 0);
	/* A stale reference (another start time) is refused. */
	bad = ref;
	bad.start_ticks++;
	assert_int_equal(sandbox_adopt(&spec, &bad, &again), ERR_NOTFOUND);
	assert_int_equal(kill(ref.pid, 0), 0);
	assert_int_equal(sandbox_adopt(&spec, &ref, &again), 0);
	assert_int_equal(sandbox_pid(again), ref.pid);
	assert_true(sandbox_netns_fd(again) >= 0);
	assert_int_equal(sandbox_wait(again, 0, &exited, &st), 0);
	assert_false(exited);
	/* The workload goes on writing, capped, and ends with its code. */
	snprintf(cmd, sizeof(cmd), "touch /proc/%ld/root/tmp/go",
	    (long)ref.pid);
	assert_int_equal(system(cmd), 0);
	while (!exited)
		assert_int_equal(sandbox_wait(again, 5000, &exited, &st), 0);
	assert_int_equal(sandbox_exit_code(st), 7);
	assert_int_equal(util_read_file(out, 4096, &text, &len), 0);
	assert_non_null(strstr(text, "[lodge: output truncated]"));
	assert_true(len < 1100);
	free(text);
	sandbox_free(again);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netpolicy_classifies_special_addresses),
		cmocka_unit_test(
		    test_netpolicy_refuses_this_machines_own_addresses),
		cmocka_unit_test(
		    test_netpolicy_checks_urls_scheme_and_allowed_hosts),
		cmocka_unit_test(
		    test_fetch_judges_every_connection_and_redirect),
		cmocka_unit_test(test_job_collects_output_exit_and_deadline),
		cmocka_unit_test(
		    test_config_refuses_what_leaves_nothing_and_limits_pids),
		cmocka_unit_test(
		    test_lease_process_limit_per_cpu_env_and_ceiling),
		cmocka_unit_test(test_proc_stat_gives_comm_and_start_time),
		cmocka_unit_test(
		    test_sandbox_outlives_its_starter_and_is_adopted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
