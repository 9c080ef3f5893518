/*
 * Unit tests for the sandboxed wasm function pool: the wire format
 * (wasm_wire), and the gateway side (wasm_pool) against a real supervisor
 * (wasm_serve_run) forked from the test, without the sandbox (that is
 * tests/e2e/test_wasm_flow.sh): fresh instances, deadline kills, worker
 * deaths while busy and idle, close.
 */
#include <poll.h>
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

#include "common/err.h"
#include "common/util.h"
#include "wasm/pool.h"
#include "wasm/serve.h"
#include "wasm/wire.h"

static char tmpdir[256];
static struct wasm_program *prog;

/* stdin's first byte picks the behaviour: 'L' loops forever, 'T' traps,
 * anything else answers 201 "hi". */
static const char fn_wat[] =
    "(module\n"
    " (import \"wasi_snapshot_preview1\" \"fd_read\" (func $r (param i32 i32 "
    "i32 i32) (result i32)))\n"
    " (import \"wasi_snapshot_preview1\" \"fd_write\" (func $w (param i32 i32 "
    "i32 i32) (result i32)))\n"
    " (memory (export \"memory\") 1)\n"
    " (data (i32.const 100) \"Status: 201 Created\\r\\nContent-Type: "
    "text/plain\\r\\n\\r\\nhi\\n\")\n"
    " (func (export \"_start\") (local $c i32)\n"
    "  (i32.store (i32.const 0) (i32.const 64))\n"
    "  (i32.store (i32.const 4) (i32.const 1))\n"
    "  (drop (call $r (i32.const 0) (i32.const 0) (i32.const 1) (i32.const "
    "16)))\n"
    "  (local.set $c (i32.load8_u (i32.const 64)))\n"
    "  (if (i32.eq (local.get $c) (i32.const 76)) (then (loop $l (br $l))))\n"
    "  (if (i32.eq (local.get $c) (i32.const 84)) (then unreachable))\n"
    "  (i32.store (i32.const 8) (i32.const 100))\n"
    "  (i32.store (i32.const 12) (i32.const 52))\n"
    "  (drop (call $w (i32.const 1) (i32.const 8) (i32.const 1) (i32.const "
    "16)))))\n";

static int
setup(void **state)
{
	char in[300], out[300], cmd[700], cache[300];
	char *bin = NULL;
	size_t len;
	struct wasm_load_opts o;
	FILE *f;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lodge-test-pool-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(in, sizeof(in), "%s/fn.wat", tmpdir);
	snprintf(out, sizeof(out), "%s/fn.wasm", tmpdir);
	if (!(f = fopen(in, "w")))
		return -1;
	fputs(fn_wat, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "wat2wasm '%s' -o '%s'", in, out);
	if (system(cmd) != 0 || util_read_file(out, 1 << 20, &bin, &len) < 0)
		return -1;
	wasm_load_opts_init(&o);
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	o.compile.cache_dir = cache;
	o.compile.opt_level = 0;
	int rc = wasm_program_load((const uint8_t *)bin, len, &o, &prog);
	free(bin);
	if (rc < 0)
		fprintf(stderr, "load: %s\n", err_msg());
	return rc < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[512];
	(void)state;
	wasm_program_free(prog);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A supervisor in a child process, and a pool of n workers talking to it. */
struct rig {
	pid_t sup;
	struct wasm_pool *pool;
};

/* The rig a test runs, stopped by rig_teardown when a failed check left
 * the test before its rig_stop. */
static struct rig *live_rig;

static void
rig_start(struct rig *r, unsigned n)
{
	int ctl[2];
	assert_int_equal(wasm_pool_control_pair(ctl), 0);
	r->sup = fork();
	assert_true(r->sup >= 0);
	if (r->sup == 0) {
		struct wasm_serve_opts so = { .stderr_fd = -1 };
		close(ctl[0]);
		_exit(wasm_serve_run(ctl[1], prog, &so) < 0 ? 1 : 0);
	}
	close(ctl[1]);
	r->pool = NULL;
	live_rig = r;
	assert_int_equal(wasm_pool_new(ctl[0], n, &r->pool), 0);
}

/* Close the pool: the supervisor ends its workers and exits 0. */
static void
rig_stop(struct rig *r)
{
	int st = -1;
	live_rig = NULL;
	wasm_pool_close(r->pool);
	wasm_pool_free(r->pool);
	assert_int_equal(waitpid(r->sup, &st, 0), r->sup);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int
rig_teardown(void **state)
{
	struct rig *r = live_rig;

	(void)state;
	if (r == NULL)
		return 0;
	live_rig = NULL;
	wasm_pool_close(r->pool);
	wasm_pool_free(r->pool);
	kill(r->sup, SIGKILL);
	waitpid(r->sup, NULL, 0);
	return 0;
}

static int
call(struct wasm_pool *p, const char *body, int64_t fuel, uint64_t wall_ms,
    struct wasm_usage *u, char *msg, size_t msglen)
{
	struct wasm_wagi_header h[] = { { "User-Agent", "t" } };
	struct wasm_wagi_request q = { .method = "POST",
		.path = "/x",
		.headers = h,
		.nheaders = 1,
		.body = (const uint8_t *)body,
		.body_len = strlen(body) };
	struct wasm_run_limits l = { .fuel = fuel, .wall_ms = wall_ms };
	struct wasm_wagi_response r;
	struct wasm_usage uu;
	assert_int_equal(wasm_pool_invoke(p, &q, &l, &r, u ? u : &uu), 0);
	if (msg)
		snprintf(msg, msglen, "%.*s", (int)r.body_len,
		    (const char *)r.body);
	int status = r.status;
	if (status == 201)
		assert_memory_equal(r.body, "hi\n", 3);
	wasm_wagi_response_free(&r);
	return status;
}

/* The pids of the supervisor's children (its workers). */
static size_t
workers_of(pid_t sup, pid_t *out, size_t max)
{
	char path[64], *buf = NULL, *s, *end;
	size_t len, n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)sup,
	    (int)sup);
	if (util_read_file(path, 4096, &buf, &len) < 0)
		return 0;
	for (s = buf; n < max; s = end) {
		long v = strtol(s, &end, 10);
		if (end == s)
			break;
		out[n++] = (pid_t)v;
	}
	free(buf);
	return n;
}

/* Workers start asynchronously: wait (up to 5 s) until there are n. */
static size_t
wait_workers(pid_t sup, pid_t *out, size_t n)
{
	size_t got = 0;
	for (int i = 0; i < 500 && (got = workers_of(sup, out, n)) != n; i++)
		usleep(10000);
	return got;
}

/* ---- wire ---- */

static void
test_wire_request_round_trip(void **state)
{
	struct wasm_wagi_header h[] = { { "Accept", "*/*" }, { "X-A", "" } };
	struct wasm_wagi_request q = { .method = "PUT",
		.path = "/a/b",
		.query = NULL,
		.script_name = "/l/x/fn",
		.server_port = "8443",
		.headers = h,
		.nheaders = 2,
		.body = (const uint8_t *)"b\0dy",
		.body_len = 4 };
	struct wasm_run_limits l = { .fuel = 12345,
		.memory_bytes = 1 << 20,
		.wall_ms = 700 };
	struct wasm_wire_request d;
	uint8_t *buf;
	size_t len;
	uint32_t type, plen;
	(void)state;
	assert_int_equal(wasm_wire_request_encode(9, &q, &l, &buf, &len), 0);
	assert_int_equal(wasm_wire_header(buf, &type, &plen), 0);
	assert_int_equal(type, WASM_WIRE_REQUEST);
	assert_int_equal(plen, len - WASM_WIRE_HEADER);
	assert_int_equal(
	    wasm_wire_request_decode(buf + WASM_WIRE_HEADER, plen, &d), 0);
	assert_int_equal(d.seq, 9);
	assert_int_equal(d.limits.fuel, 12345);
	assert_int_equal(d.limits.memory_bytes, 1 << 20);
	assert_int_equal(d.limits.wall_ms, 700);
	assert_string_equal(d.q.method, "PUT");
	assert_string_equal(d.q.path, "/a/b");
	assert_null(d.q.query);
	assert_null(d.q.server_name);
	assert_string_equal(d.q.script_name, "/l/x/fn");
	assert_int_equal(d.q.nheaders, 2);
	assert_string_equal(d.q.headers[1].name, "X-A");
	assert_string_equal(d.q.headers[1].value, "");
	assert_int_equal(d.q.body_len, 4);
	assert_memory_equal(d.q.body, "b\0dy", 4);
	wasm_wire_request_clear(&d);
	/* Every truncation is refused, naming a field. */
	for (size_t cut = 0; cut < plen; cut++) {
		assert_true(wasm_wire_request_decode(buf + WASM_WIRE_HEADER,
		                cut, &d) < 0);
		assert_non_null(strstr(err_msg(), "wasm request frame"));
	}
	free(buf);
}

static void
test_wire_rejects_bad_strings_and_headers(void **state)
{
	struct wasm_wagi_request q = { .method = "GET", .path = "/p" };
	struct wasm_run_limits l = { .fuel = 1 };
	struct wasm_wire_request d;
	uint8_t *buf;
	size_t len;
	(void)state;
	assert_int_equal(wasm_wire_request_encode(1, &q, &l, &buf, &len), 0);
	/* method is "GET\0" at offset 12+32+4: drop its NUL */
	uint8_t *m = buf + WASM_WIRE_HEADER + 32 + 4;
	assert_memory_equal(m, "GET", 4);
	m[3] = 'X';
	assert_true(wasm_wire_request_decode(buf + WASM_WIRE_HEADER,
	                len - WASM_WIRE_HEADER, &d) < 0);
	assert_non_null(strstr(err_msg(), "method"));
	m[3] = 0;
	m[1] = 0; /* a NUL inside */
	assert_true(wasm_wire_request_decode(buf + WASM_WIRE_HEADER,
	                len - WASM_WIRE_HEADER, &d) < 0);
	free(buf);
	uint8_t h[WASM_WIRE_HEADER] = { 'L', 'W', 'G', '2' };
	uint32_t type, plen;
	assert_true(wasm_wire_header(h, &type, &plen) < 0);
	assert_non_null(strstr(err_msg(), "magic"));
}

static void
test_wire_reply_and_died_round_trip(void **state)
{
	struct wasm_outcome oc = { .trap = 3, .exit_code = 134 };
	struct wasm_usage u = { .fuel = 77,
		.mem_peak_bytes = 65536,
		.bytes_out = 5 };
	struct wasm_wire_reply r;
	uint8_t *buf, died[WASM_WIRE_DIED_FRAME];
	size_t len;
	uint32_t type, plen;
	int32_t st;
	uint64_t seq;
	(void)state;
	snprintf(oc.message, sizeof(oc.message), "trap: unreachable");
	assert_int_equal(wasm_wire_reply_encode(5, &oc, &u,
	                     (const uint8_t *)"hello", 5, &buf, &len),
	    0);
	assert_int_equal(wasm_wire_reply_decode(buf + WASM_WIRE_HEADER,
	                     len - WASM_WIRE_HEADER, &r),
	    0);
	assert_int_equal(r.seq, 5);
	assert_int_equal(r.oc.trap, 3);
	assert_int_equal(r.oc.exit_code, 134);
	assert_string_equal(r.oc.message, "trap: unreachable");
	assert_int_equal(r.u.fuel, 77);
	assert_int_equal(r.u.requests, 1);
	assert_int_equal(r.out_len, 5);
	assert_memory_equal(r.out, "hello", 5);
	/* trailing bytes are refused */
	assert_true(wasm_wire_reply_decode(buf + WASM_WIRE_HEADER,
	                len - WASM_WIRE_HEADER - 1, &r) < 0);
	free(buf);
	wasm_wire_died_encode(9, 0x100000002ull, died);
	assert_int_equal(wasm_wire_header(died, &type, &plen), 0);
	assert_int_equal(type, WASM_WIRE_DIED);
	assert_int_equal(
	    wasm_wire_died_decode(died + WASM_WIRE_HEADER, plen, &st, &seq), 0);
	assert_int_equal(st, 9);
	assert_true(seq == 0x100000002ull);
}

/* ---- pool ---- */

static void
test_pool_answers_requests_traps_and_fuel(void **state)
{
	struct rig r;
	struct wasm_usage u;
	struct wasm_pool_stats st;
	(void)state;
	rig_start(&r, 2);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(call(r.pool, "ok", 1000000, 5000, &u, NULL, 0),
		    201);
		assert_true(u.fuel > 0);
		assert_int_equal(u.requests, 1);
		assert_int_equal(u.bytes_in, 2);
	}
	/* A trap answers 500 and costs no worker. */
	char msg[128];
	assert_int_equal(
	    call(r.pool, "T", 1000000, 5000, NULL, msg, sizeof(msg)), 500);
	assert_non_null(strstr(msg, "unreachable"));
	/* Out of fuel answers 503, charged the whole budget. */
	assert_int_equal(call(r.pool, "L", 5000, 5000, &u, NULL, 0), 503);
	assert_int_equal(u.fuel, 5000);
	wasm_pool_stats(r.pool, &st);
	assert_int_equal(st.requests, 22);
	assert_int_equal(st.worker_deaths, 0);
	assert_int_equal(st.deadline_kills, 0);
	assert_int_equal(st.workers, 2);
	rig_stop(&r);
}

static void
test_pool_deadline_kills_and_replaces_the_worker(void **state)
{
	struct rig r;
	struct wasm_usage u;
	struct wasm_pool_stats st;
	char msg[128];
	pid_t before[4] = { 0 }, after[4] = { 0 };
	(void)state;
	rig_start(&r, 2);
	assert_int_equal(call(r.pool, "ok", 1000000, 5000, NULL, NULL, 0), 201);
	assert_int_equal(wait_workers(r.sup, before, 2), 2);
	uint64_t t0 = util_mono_ns();
	assert_int_equal(
	    call(r.pool, "L", 1000000000000000LL, 300, &u, msg, sizeof(msg)),
	    504);
	uint64_t ms = (util_mono_ns() - t0) / 1000000;
	assert_true(ms >= 300);
	assert_true(ms < 300 + WASM_POOL_KILL_WAIT_MS);
	assert_non_null(strstr(msg, "deadline of 300 ms"));
	assert_int_equal(u.fuel, 1000000000000000LL);
	/* Both workers answer again; one of them is new. */
	for (int i = 0; i < 6; i++)
		assert_int_equal(
		    call(r.pool, "ok", 1000000, 5000, NULL, NULL, 0), 201);
	assert_int_equal(wait_workers(r.sup, after, 2), 2);
	assert_true(after[0] != before[0] || after[1] != before[1]);
	wasm_pool_stats(r.pool, &st);
	assert_int_equal(st.deadline_kills, 1);
	assert_true(wasm_pool_alive(r.pool));
	rig_stop(&r);
}

struct bg {
	struct wasm_pool *pool;
	int status;
	char msg[128];
};

static void *
bg_call(void *arg)
{
	struct bg *b = arg;
	b->status = call(b->pool, "L", -1, 20000, NULL, b->msg, sizeof(b->msg));
	return NULL;
}

static void
test_pool_worker_death_answers_500_and_is_replaced(void **state)
{
	struct rig r;
	struct bg b;
	pthread_t t;
	pid_t w[2] = { 0, 0 };
	struct wasm_pool_stats st;
	(void)state;
	rig_start(&r, 1);
	assert_int_equal(call(r.pool, "ok", 1000000, 5000, NULL, NULL, 0), 201);
	/* Busy: the request it was running fails with the cause. */
	memset(&b, 0, sizeof(b));
	b.pool = r.pool;
	assert_int_equal(pthread_create(&t, NULL, bg_call, &b), 0);
	usleep(200000);
	assert_int_equal(wait_workers(r.sup, w, 1), 1);
	assert_int_equal(kill(w[0], SIGKILL), 0);
	pthread_join(t, NULL);
	assert_int_equal(b.status, 500);
	assert_non_null(strstr(b.msg, "signal 9"));
	assert_int_equal(call(r.pool, "ok", 1000000, 5000, NULL, NULL, 0), 201);
	/* Idle: the next request is not blamed for it. */
	assert_int_equal(wait_workers(r.sup, w, 1), 1);
	assert_int_equal(kill(w[0], SIGKILL), 0);
	usleep(100000);
	assert_int_equal(call(r.pool, "ok", 1000000, 5000, NULL, NULL, 0), 201);
	assert_int_equal(call(r.pool, "ok", 1000000, 5000, NULL, NULL, 0), 201);
	wasm_pool_stats(r.pool, &st);
	assert_int_equal(st.worker_deaths, 2);
	rig_stop(&r);
}

struct many {
	struct wasm_pool *pool;
	int ok;
};

static void *
many_calls(void *arg)
{
	struct many *m = arg;
	for (int i = 0; i < 25; i++)
		if (call(m->pool, "ok", 1000000, 5000, NULL, NULL, 0) == 201)
			m->ok++;
	return NULL;
}

static void
test_pool_serves_concurrent_requests(void **state)
{
	struct rig r;
	struct many m[4];
	pthread_t t[4];
	struct wasm_pool_stats st;
	(void)state;
	rig_start(&r, 2);
	for (int i = 0; i < 4; i++) {
		m[i].pool = r.pool;
		m[i].ok = 0;
		assert_int_equal(pthread_create(&t[i], NULL, many_calls, &m[i]),
		    0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(m[i].ok, 25);
	}
	wasm_pool_stats(r.pool, &st);
	assert_int_equal(st.requests, 100);
	rig_stop(&r);
}

struct queued {
	struct wasm_pool *pool;
	const char *body;
	uint64_t wall_ms, delay_ms, took_ms;
	int status;
	char msg[128];
};

static void *
queued_call(void *arg)
{
	struct queued *q = arg;
	usleep((useconds_t)(q->delay_ms * 1000));
	uint64_t t0 = util_mono_ns();
	q->status = call(q->pool, q->body, 1000000000000000LL, q->wall_ms, NULL,
	    q->msg, sizeof(q->msg));
	q->took_ms = (util_mono_ns() - t0) / 1000000;
	return NULL;
}

/* With the only worker held, a queued request whose deadline comes first
 * gives up alone (503, at its deadline) and the one behind it still gets
 * the worker when it is freed. */
static void
test_pool_queue_gives_up_at_the_deadline_and_serves_the_rest(void **state)
{
	struct rig r;
	struct queued q[3] = {
		{ .body = "L", .wall_ms = 700, .delay_ms = 0 },
		{ .body = "ok", .wall_ms = 200, .delay_ms = 100 },
		{ .body = "ok", .wall_ms = 5000, .delay_ms = 150 },
	};
	pthread_t t[3];
	(void)state;
	rig_start(&r, 1);
	for (int i = 0; i < 3; i++) {
		q[i].pool = r.pool;
		assert_int_equal(
		    pthread_create(&t[i], NULL, queued_call, &q[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(q[0].status, 504);
	assert_int_equal(q[1].status, 503);
	assert_non_null(strstr(q[1].msg, "no free worker"));
	assert_true(q[1].took_ms >= 200 && q[1].took_ms < 600);
	assert_int_equal(q[2].status, 201);
	assert_true(q[2].took_ms >= 400);
	assert_int_equal(call(r.pool, "ok", 1000000, 5000, NULL, NULL, 0), 201);
	rig_stop(&r);
}

/* Closing the pool wakes a request queued for a worker at once. */
static void
test_pool_close_wakes_queued_requests(void **state)
{
	struct rig r;
	struct queued q[2] = {
		{ .body = "L", .wall_ms = 3000, .delay_ms = 0 },
		{ .body = "ok", .wall_ms = 20000, .delay_ms = 100 },
	};
	pthread_t t[2];
	(void)state;
	rig_start(&r, 1);
	for (int i = 0; i < 2; i++) {
		q[i].pool = r.pool;
		assert_int_equal(
		    pthread_create(&t[i], NULL, queued_call, &q[i]), 0);
	}
	usleep(300000);
	wasm_pool_close(r.pool);
	pthread_join(t[1], NULL);
	assert_int_equal(q[1].status, 503);
	assert_true(q[1].took_ms < 1000);
	pthread_join(t[0], NULL);
	assert_int_not_equal(q[0].status, 201);
	live_rig = NULL;
	wasm_pool_free(r.pool);
	int st = -1;
	assert_int_equal(waitpid(r.sup, &st, 0), r.sup);
}

static void
test_pool_closed_answers_503(void **state)
{
	struct rig r;
	char msg[128];
	int st = -1;
	(void)state;
	rig_start(&r, 2);
	wasm_pool_close(r.pool);
	assert_false(wasm_pool_alive(r.pool));
	assert_int_equal(
	    call(r.pool, "ok", 1000000, 5000, NULL, msg, sizeof(msg)), 503);
	assert_non_null(strstr(msg, "not running"));
	live_rig = NULL;
	wasm_pool_free(r.pool);
	assert_int_equal(waitpid(r.sup, &st, 0), r.sup);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- a lying supervisor and worker, played by the test ---- */

enum lie { LIE_FUEL, LIE_GARBAGE, LIE_SILENT };

struct fake {
	int ctl;
	enum lie lie;
	int adds, kills;
	uint64_t kill_seq;
};

/* Receive one control message; the fd of an ADD into *fd. */
static int
fake_ctl(struct fake *f, int *fd, int timeout_ms)
{
	struct wasm_ctl_msg m;
	struct iovec iov = { &m, sizeof(m) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr mh;
	struct pollfd pf = { f->ctl, POLLIN, 0 };

	if (poll(&pf, 1, timeout_ms) != 1)
		return -1;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = c.buf;
	mh.msg_controllen = sizeof(c.buf);
	if (recvmsg(f->ctl, &mh, 0) != (ssize_t)sizeof(m))
		return -1;
	if (m.op == WASM_CTL_ADD) {
		memcpy(fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
		f->adds++;
	} else {
		f->kills++;
		f->kill_seq = m.seq;
	}
	return (int)m.op;
}

static void *
fake_run(void *arg)
{
	struct fake *f = arg;
	int fd = -1, op;
	uint8_t h[WASM_WIRE_HEADER];
	uint32_t type, len;

	if (fake_ctl(f, &fd, 5000) != WASM_CTL_ADD)
		return NULL;
	/* Read one request. */
	if (read(fd, h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    wasm_wire_header(h, &type, &len) < 0)
		return NULL;
	uint8_t *pl = malloc(len);
	size_t got = 0;
	while (got < len) {
		ssize_t k = read(fd, pl + got, len - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	struct wasm_wire_request rq;
	if (wasm_wire_request_decode(pl, len, &rq) == 0) {
		struct wasm_outcome oc = { 0 };
		struct wasm_usage u = { .fuel = UINT64_MAX };
		const char out[] = "Status: 201\r\n\r\nhi\n";
		uint8_t *buf;
		size_t blen;
		if (f->lie == LIE_FUEL &&
		    wasm_wire_reply_encode(rq.seq, &oc, &u,
		        (const uint8_t *)out, strlen(out), &buf, &blen) == 0) {
			(void)write(fd, buf, blen);
			free(buf);
		} else if (f->lie == LIE_GARBAGE) {
			(void)write(fd, "LWG9 not a frame at all", 23);
		}
		wasm_wire_request_clear(&rq);
	}
	free(pl);
	/* Then answer the control channel as told: a kill is confirmed
	 * (socket closed) unless we play deaf; an ADD is taken. */
	while ((op = fake_ctl(f, &fd, 3000)) > 0) {
		if (op == WASM_CTL_KILL && f->lie != LIE_SILENT)
			close(fd);
	}
	return NULL;
}

static void
test_pool_holds_against_a_lying_worker(void **state)
{
	static const enum lie lies[] = { LIE_FUEL, LIE_GARBAGE, LIE_SILENT };
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct fake f = { .lie = lies[i] };
		struct wasm_pool *p;
		struct wasm_usage u;
		char msg[128];
		pthread_t t;
		int ctl[2];
		assert_int_equal(wasm_pool_control_pair(ctl), 0);
		f.ctl = ctl[1];
		assert_int_equal(wasm_pool_new(ctl[0], 1, &p), 0);
		assert_int_equal(pthread_create(&t, NULL, fake_run, &f), 0);
		uint64_t t0 = util_mono_ns();
		int st = call(p, "ok", 5000, 200, &u, msg, sizeof(msg));
		uint64_t ms = (util_mono_ns() - t0) / 1000000;
		/* Never held much past deadline + the kill wait. */
		assert_true(ms < 200 + WASM_POOL_KILL_WAIT_MS + 1000);
		/* Never billed more than the budget. */
		assert_int_equal(u.fuel, 5000);
		switch (lies[i]) {
		case LIE_FUEL:
			assert_int_equal(st, 201);
			assert_true(wasm_pool_alive(p));
			break;
		case LIE_GARBAGE:
			assert_int_equal(st, 500);
			assert_non_null(strstr(msg, "protocol"));
			assert_true(wasm_pool_alive(p));
			break;
		case LIE_SILENT:
			/* The deadline kill is never confirmed: the pool is
			 * given up, so the sandbox gets restarted. */
			assert_int_equal(st, 503);
			assert_non_null(strstr(msg, "does not answer"));
			assert_false(wasm_pool_alive(p));
			assert_int_equal(f.kills, 1);
			assert_true(f.kill_seq > 0);
			break;
		}
		wasm_pool_close(p);
		pthread_join(t, NULL);
		if (lies[i] == LIE_GARBAGE) {
			/* The worker was killed and a new socket handed over. */
			assert_int_equal(f.kills, 1);
			assert_int_equal(f.kill_seq, 0);
			assert_int_equal(f.adds, 2);
		}
		wasm_pool_free(p);
		close(ctl[1]);
	}
}

static void
test_pool_new_refuses_bad_worker_counts(void **state)
{
	struct wasm_pool *p = NULL;
	int ctl[2];
	(void)state;
	assert_int_equal(wasm_pool_control_pair(ctl), 0);
	close(ctl[1]);
	assert_int_equal(wasm_pool_new(ctl[0], 0, &p), ERR_INVAL);
	assert_null(p);
	assert_int_equal(wasm_pool_control_pair(ctl), 0);
	close(ctl[1]);
	assert_int_equal(wasm_pool_new(ctl[0], WASM_POOL_MAX_WORKERS + 1, &p),
	    ERR_INVAL);
	/* A supervisor that is gone: the first send fails cleanly. */
	assert_int_equal(wasm_pool_control_pair(ctl), 0);
	close(ctl[1]);
	assert_true(wasm_pool_new(ctl[0], 2, &p) < 0);
	assert_null(p);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_request_round_trip),
		cmocka_unit_test(test_wire_rejects_bad_strings_and_headers),
		cmocka_unit_test(test_wire_reply_and_died_round_trip),
		cmocka_unit_test_teardown(
		    test_pool_answers_requests_traps_and_fuel, rig_teardown),
		cmocka_unit_test_teardown(
		    test_pool_deadline_kills_and_replaces_the_worker,
		    rig_teardown),
		cmocka_unit_test_teardown(
		    test_pool_worker_death_answers_500_and_is_replaced,
		    rig_teardown),
		cmocka_unit_test_teardown(test_pool_serves_concurrent_requests,
		    rig_teardown),
		cmocka_unit_test_teardown(test_pool_closed_answers_503,
		    rig_teardown),
		cmocka_unit_test_teardown(
		    test_pool_queue_gives_up_at_the_deadline_and_serves_the_rest,
		    rig_teardown),
		cmocka_unit_test_teardown(test_pool_close_wakes_queued_requests,
		    rig_teardown),
		cmocka_unit_test_teardown(
		    test_pool_holds_against_a_lying_worker, rig_teardown),
		cmocka_unit_test_teardown(
		    test_pool_new_refuses_bad_worker_counts, rig_teardown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
