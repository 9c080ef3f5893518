/*
 * exec: shell and exec sessions in a running replica (see exec.h).  A
 * session is a `provider sandbox enter` helper on a pseudo-terminal (or
 * pipes), a thread that waits for it, and the tenant's output stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "provider/daemon_internal.h"
#include "provider/events.h"
#include "provider/exec.h"
#include "sandbox/sandbox.h"

#define EXEC_ARGS_MAX 64
#define EXEC_ARG_BYTES 4096
#define EXEC_KEEPALIVE_MS 20000
#define EXEC_POLL_MS 500

extern char **environ;

struct session {
	char id[33];
	char lease[32];
	char ldir[PATH_MAX];
	char who[KEY_TEXT_SIZE];
	char what[256]; /* the command, for the log */
	pid_t pid; /* the helper */
	int tty;
	int in; /* the terminal's master, or the command's stdin */
	int out[2]; /* master (dup) or stdout; stderr (-1 with a tty) */
	int exited, status; /* under exec_mu */
	int streaming, streamed; /* an output stream is attached; was */
	int done; /* the exit frame was sent */
	int64_t created_ms, ended_ms, last_out_ms;
	int refs; /* the table, the reaper, the stream */
	struct session *next;
};

static pthread_mutex_t exec_mu = PTHREAD_MUTEX_INITIALIZER;
static struct session *sessions;

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Drop one reference (under exec_mu); the last closes and frees. */
static void
unref(struct session *s)
{
	struct session **pp;

	if (--s->refs > 0)
		return;
	for (pp = &sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	close_fd(&s->in);
	close_fd(&s->out[0]);
	close_fd(&s->out[1]);
	free(s);
}

/* Take s out of the table (under exec_mu): no new stream or input. */
static void
unlist(struct session *s)
{
	struct session **pp;

	for (pp = &sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			s->next = NULL;
			unref(s);
			return;
		}
}

static struct session *
find(const char *lease, const char *id)
{
	struct session *s;

	for (s = sessions; s; s = s->next)
		if (strcmp(s->id, id) == 0 && strcmp(s->lease, lease) == 0)
			return s;
	return NULL;
}

/* End sessions nobody reads (under exec_mu): a command whose output
 * no stream asked for within EXEC_UNREAD_MS gets SIGHUP (the helper
 * forwards it), then SIGKILL; an ended one is dropped after as long. */
static void
sweep(int64_t now)
{
	struct session *s, *next;

	for (s = sessions; s; s = next) {
		next = s->next;
		if (s->streaming || s->streamed)
			continue;
		if (!s->exited && now - s->created_ms > 2 * EXEC_UNREAD_MS)
			kill(s->pid, SIGKILL);
		else if (!s->exited && now - s->created_ms > EXEC_UNREAD_MS)
			kill(s->pid, SIGHUP);
		else if (s->exited && now - s->ended_ms > EXEC_UNREAD_MS)
			unlist(s);
	}
}

/* The reaper: waits for the helper, records its end. */
static void *
reaper(void *arg)
{
	struct session *s = arg;
	int st = 0, code;

	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	code = sandbox_exit_code(st);
	log_info("lease %s: exec session %s by %s ended (exit %d): %s",
	    s->lease, s->id, s->who, code, s->what);
	(void)provider_event(s->ldir, "exec.ended", NULL, NULL, code,
	    "session %s by %.20s... ended with %d: %s", s->id, s->who, code,
	    s->what);
	pthread_mutex_lock(&exec_mu);
	s->exited = 1;
	s->status = st;
	s->ended_ms = util_now_ms();
	unref(s);
	pthread_mutex_unlock(&exec_mu);
	return NULL;
}

/* ---- POST /v1/leases/L/exec ---- */

/* The request's argv into argv (strings point into req), at most
 * EXEC_ARGS_MAX, EXEC_ARG_BYTES in all. */
static int
parse_argv(const json_t *a, const char **argv, char *what, size_t cap)
{
	size_t i, n = 0, bytes = 0;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > EXEC_ARGS_MAX)
		return err_set(ERR_INVAL,
		    "argv: expected an array of 1 to %d strings",
		    EXEC_ARGS_MAX);
	what[0] = '\0';
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		if (s == NULL || (bytes += strlen(s) + 1) > EXEC_ARG_BYTES)
			return err_set(ERR_INVAL,
			    "argv[%zu]: expected a string (%d bytes in all "
			    "at most)",
			    i, EXEC_ARG_BYTES);
		argv[i] = s;
		n += (size_t)snprintf(what + n, n < cap ? cap - n : 0, "%s%s",
		    i ? " " : "", s);
		if (n >= cap)
			n = cap - 1;
	}
	argv[json_array_size(a)] = NULL;
	return 0;
}

/* Open a pseudo-terminal of rows x cols: *master, *slave. */
static int
open_pty(int rows, int cols, int *master, int *slave)
{
	struct winsize ws = { (unsigned short)rows, (unsigned short)cols, 0,
		0 };
	char name[128];

	*slave = -1;
	if ((*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 ||
	    grantpt(*master) < 0 || unlockpt(*master) < 0 ||
	    ptsname_r(*master, name, sizeof(name)) != 0 ||
	    (*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		int e = errno;
		close_fd(master);
		return err_set(ERR_IO, "pseudo-terminal: %s", strerror(e));
	}
	if (rows > 0 && cols > 0)
		(void)ioctl(*master, TIOCSWINSZ, &ws);
	return 0;
}

/* Start the helper for s: the command's stdio are fds[0..2]. */
static int
spawn_helper(struct session *s, const struct sandbox_ref *init,
    const char *term, const char *const *argv, const int *fds)
{
	const char *args[EXEC_ARGS_MAX + 16];
	static char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		NULL };
	char pidtext[24], ticks[24], termenv[96];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	size_t n = 0, i;
	int rc;

	snprintf(pidtext, sizeof(pidtext), "%ld", (long)init->pid);
	snprintf(ticks, sizeof(ticks), "%llu",
	    (unsigned long long)init->start_ticks);
	args[n++] = "provider";
	args[n++] = "sandbox";
	args[n++] = "enter";
	args[n++] = "--pid";
	args[n++] = pidtext;
	/* the init the lease had when asked: never another one that took
	 * its pid meanwhile (another tenant's) */
	if (init->start_ticks != 0) {
		args[n++] = "--start";
		args[n++] = ticks;
	}
	if (s->tty) {
		args[n++] = "--tty";
		snprintf(termenv, sizeof(termenv), "TERM=%.80s",
		    term && term[0] ? term : "xterm");
		args[n++] = "--env";
		args[n++] = termenv;
	}
	args[n++] = "--";
	for (i = 0; argv[i]; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	for (i = 0; i < 3; i++)
		posix_spawn_file_actions_adddup2(&fa, fds[i], (int)i);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at,
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	        POSIX_SPAWN_SETSID);
	rc = posix_spawn(&s->pid, "/proc/self/exe", &fa, &at,
	    (char *const *)args, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0)
		return err_set(ERR_IO, "starting the exec helper: %s",
		    strerror(rc));
	return 0;
}

static void
respond_json(struct http_response *resp, int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(j);
	if (text == NULL)
		http_respond_error(resp, 500, "out of memory");
	else
		http_respond(resp, status, text);
}

static void
create(struct pd *pd, const char *lease, const struct http_request *req,
    struct http_response *resp)
{
	const char *argv[EXEC_ARGS_MAX + 1], *service, *term;
	struct session *s = NULL, *o;
	struct lease *l;
	json_t *body;
	pthread_t th;
	struct sandbox_ref ref = { 0, 0 };
	uint8_t rnd[16];
	int fds[3] = { -1, -1, -1 }, p_in[2] = { -1, -1 },
	    p_out[2] = { -1, -1 }, p_err[2] = { -1, -1 }, slave = -1, n = 0,
	    t = 0, status = 0, paused = 0;
	json_int_t want;
	size_t i;

	if ((body = json_loadb(req->body, req->body_len, 0, NULL)) == NULL ||
	    !json_is_object(body)) {
		json_decref(body);
		http_respond_error(resp, 400,
		    "exec: expected a JSON object "
		    "{\"service\",\"argv\":[...],\"tty\",\"rows\",\"cols\"}");
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		json_decref(body);
		http_respond_error(resp, 500, "out of memory");
		return;
	}
	s->in = s->out[0] = s->out[1] = -1;
	s->tty = json_is_true(json_object_get(body, "tty"));
	service = json_string_value(json_object_get(body, "service"));
	term = json_string_value(json_object_get(body, "term"));
	want = json_is_integer(json_object_get(body, "replica")) ?
	    json_integer_value(json_object_get(body, "replica")) :
	    -1;
	if (service == NULL ||
	    parse_argv(json_object_get(body, "argv"), argv, s->what,
	        sizeof(s->what)) < 0) {
		http_respond_error(resp, 400, "exec: %s",
		    service ? err_msg() : "service: expected a string");
		goto fail;
	}
	/* a running replica of the service, and the lease still running */
	pthread_mutex_lock(&pd->mu);
	l = pd_find_lease(pd, lease);
	if (l == NULL || l->status != LEASE_RUNNING || l->pending_close[0])
		status = 409;
	else if (l->pause != LEASE_PAUSE_NONE) {
		status = 409; /* its replicas stop, or stopped */
		paused = 1;
	} else {
		status = 404;
		for (i = 0; i < l->nrep; i++) {
			struct lease_replica *r = &l->rep[i];
			if (strcmp(r->service, service) != 0 ||
			    (want >= 0 && (json_int_t)r->index != want))
				continue;
			status = 503;
			if (r->sb == NULL || sandbox_ref(r->sb, &ref) < 0)
				continue;
			status = 0;
			break;
		}
		snprintf(s->who, sizeof(s->who), "%s", l->tenant_text);
	}
	pthread_mutex_unlock(&pd->mu);
	if (status != 0) {
		http_respond_error(resp, status, "%s",
		    paused ? "exec: the lease is paused (its escrow ran dry; "
		             "nothing runs until a top-up resumes it)" :
		        status == 409 ?
		             "exec: the lease is not running (closed?)" :
		        status == 404 ? "exec: no such service (or replica) in "
		                        "this lease" :
		                        "exec: the replica is not running now "
		                        "(starting or restarting): try again");
		goto fail;
	}
	if (s->tty) {
		json_int_t rows =
		    json_integer_value(json_object_get(body, "rows"));
		json_int_t cols =
		    json_integer_value(json_object_get(body, "cols"));
		if (open_pty(rows > 0 && rows < 1000 ? (int)rows : 24,
		        cols > 0 && cols < 1000 ? (int)cols : 80, &s->in,
		        &slave) < 0) {
			http_respond_error(resp, 500, "%s", err_msg());
			goto fail;
		}
		fds[0] = fds[1] = fds[2] = slave;
		s->out[0] = fcntl(s->in, F_DUPFD_CLOEXEC, 3);
	} else {
		if (pipe2(p_in, O_CLOEXEC) < 0 || pipe2(p_out, O_CLOEXEC) < 0 ||
		    pipe2(p_err, O_CLOEXEC) < 0) {
			http_respond_error(resp, 500, "pipe: %s",
			    strerror(errno));
			goto fail;
		}
		fds[0] = p_in[0];
		fds[1] = p_out[1];
		fds[2] = p_err[1];
		s->in = p_in[1];
		s->out[0] = p_out[0];
		s->out[1] = p_err[0];
		p_in[1] = p_out[0] = p_err[0] = -1;
	}
	for (i = 0; i < 2; i++)
		if (s->out[i] >= 0)
			fcntl(s->out[i], F_SETFL,
			    fcntl(s->out[i], F_GETFL) | O_NONBLOCK);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		http_respond_error(resp, 500, "no randomness");
		goto fail;
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
	snprintf(s->lease, sizeof(s->lease), "%s", lease);
	snprintf(s->ldir, sizeof(s->ldir), "%.3800s/leases/%.32s", pd->data,
	    lease);
	s->created_ms = s->last_out_ms = util_now_ms();
	/* counted and started under one hold of exec_mu, so that requests
	 * at the same time cannot all pass the count */
	pthread_mutex_lock(&exec_mu);
	sweep(util_now_ms());
	for (o = sessions, i = 0; o; o = o->next, i++) {
		if (strcmp(o->lease, lease) == 0)
			n++;
		if (strcmp(o->who, s->who) == 0)
			t++;
	}
	if (n >= EXEC_MAX_PER_LEASE || t >= EXEC_MAX_PER_TENANT ||
	    i >= EXEC_MAX) {
		pthread_mutex_unlock(&exec_mu);
		http_respond_error(resp, 429,
		    "exec: too many sessions (%d a lease, %d a tenant, %d in "
		    "all)",
		    EXEC_MAX_PER_LEASE, EXEC_MAX_PER_TENANT, EXEC_MAX);
		goto fail;
	}
	if (spawn_helper(s, &ref, term, argv, fds) < 0) {
		pthread_mutex_unlock(&exec_mu);
		http_respond_error(resp, 500, "%s", err_msg());
		goto fail;
	}
	/* the command holds its ends now */
	close_fd(&slave);
	close_fd(&p_in[0]);
	close_fd(&p_out[1]);
	close_fd(&p_err[1]);
	log_info("lease %s: exec session %s by %s (%s, %s): %s", lease, s->id,
	    s->who, service, s->tty ? "terminal" : "pipes", s->what);
	(void)provider_event(s->ldir, "exec.started", service, NULL,
	    PROVIDER_EVENT_NO_EXIT, "session %s by %s%s: %s", s->id, s->who,
	    s->tty ? " (terminal)" : "", s->what);
	s->refs = 2; /* the table and the reaper */
	s->next = sessions;
	sessions = s;
	if (pthread_create(&th, NULL, reaper, s) != 0) {
		/* no reaper: end it now rather than leave a zombie */
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
		s->exited = 1;
		s->status = SIGKILL;
		s->ended_ms = util_now_ms();
		s->refs--;
	} else
		pthread_detach(th);
	respond_json(resp, 201, json_pack("{s:s}", "session", s->id));
	pthread_mutex_unlock(&exec_mu);
	json_decref(body);
	return;
fail:
	close_fd(&slave);
	for (i = 0; i < 2; i++) {
		close_fd(&p_in[i]);
		close_fd(&p_out[i]);
		close_fd(&p_err[i]);
	}
	close_fd(&s->in);
	close_fd(&s->out[0]);
	close_fd(&s->out[1]);
	free(s);
	json_decref(body);
}

/* ---- GET /v1/leases/L/exec/ID: the output stream ---- */

static size_t
frame(char *buf, char type, const char *data, size_t len)
{
	buf[0] = type;
	buf[1] = (char)(len >> 24);
	buf[2] = (char)(len >> 16);
	buf[3] = (char)(len >> 8);
	buf[4] = (char)len;
	if (data != NULL && len > 0) /* NULL: the payload is in place */
		memmove(buf + 5, data, len);
	return len + 5;
}

static ssize_t
output_read(void *ctx, char *buf, size_t max)
{
	struct session *s = ctx;
	struct pollfd pf[2];
	char code[16];
	int np = 0, i, exited, status;
	ssize_t n;

	if (max < 64)
		return 0;
	pthread_mutex_lock(&exec_mu);
	exited = s->exited;
	status = s->status;
	pthread_mutex_unlock(&exec_mu);
	if (s->done)
		return -1;
	for (i = 0; i < 2; i++)
		if (s->out[i] >= 0) {
			pf[np].fd = s->out[i];
			pf[np].events = POLLIN;
			pf[np++].revents = 0;
		}
	if (np > 0 && poll(pf, (nfds_t)np, exited ? 0 : EXEC_POLL_MS) > 0)
		for (i = 0; i < np; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(pf[i].fd, buf + 5, max - 5);
			if (n > 0) {
				s->last_out_ms = util_now_ms();
				return (ssize_t)frame(buf,
				    pf[i].fd == s->out[1] ? 'e' : 'o', NULL,
				    (size_t)n);
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				/* the end of it (EIO: a terminal whose
				 * last user is gone) */
				int *fd = pf[i].fd == s->out[0] ? &s->out[0] :
				                                  &s->out[1];
				close_fd(fd);
			}
		}
	if (exited &&
	    (np == 0 || (s->out[0] < 0 && s->out[1] < 0) ||
	        util_now_ms() - s->ended_ms > 2000)) {
		/* what is left is of processes the command left behind */
		snprintf(code, sizeof(code), "%d", sandbox_exit_code(status));
		s->done = 1;
		return (ssize_t)frame(buf, 'x', code, strlen(code));
	}
	if (util_now_ms() - s->last_out_ms > EXEC_KEEPALIVE_MS) {
		s->last_out_ms = util_now_ms();
		return (ssize_t)frame(buf, 'k', NULL, 0);
	}
	return 0;
}

static void
output_free(void *ctx)
{
	struct session *s = ctx;

	pthread_mutex_lock(&exec_mu);
	s->streaming = 0;
	s->streamed = 1;
	/* the tenant went away: the command goes too (a terminal's
	 * command gets SIGHUP when its master closes) */
	if (!s->exited)
		kill(s->pid, SIGHUP);
	unlist(s);
	unref(s);
	pthread_mutex_unlock(&exec_mu);
}

static void
output(const char *lease, const char *id, struct http_response *resp)
{
	struct session *s;

	pthread_mutex_lock(&exec_mu);
	s = find(lease, id);
	if (s != NULL && !s->streaming && !s->streamed) {
		s->streaming = 1;
		s->refs++;
	} else if (s != NULL)
		s = (struct session *)-1;
	pthread_mutex_unlock(&exec_mu);
	if (s == NULL || s == (struct session *)-1) {
		http_respond_error(resp, s ? 409 : 404,
		    s ? "exec session %s: its output is read already" :
		        "no exec session %s",
		    id);
		return;
	}
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->stream = output_read;
	resp->stream_ctx = s;
	resp->stream_free = output_free;
}

/* ---- POST /v1/leases/L/exec/ID/input ---- */

static void
input(const char *lease, const char *id, const struct http_request *req,
    struct http_response *resp)
{
	const char *eof = http_query(req, "eof"),
	           *rs = http_query(req, "resize"),
	           *sig = http_query(req, "signal");
	struct session *s;
	struct winsize ws;
	struct pollfd pf;
	unsigned rows, cols;
	size_t off = 0;
	ssize_t n;
	int fd = -1, tty = 0, signo = 0;
	pid_t pid = 0;

	pthread_mutex_lock(&exec_mu);
	if ((s = find(lease, id)) != NULL && !s->exited) {
		/* after the end of input, signals and sizes still go */
		fd = s->in >= 0 ? fcntl(s->in, F_DUPFD_CLOEXEC, 3) : -1;
		tty = s->tty;
		pid = s->pid;
		if (eof && strcmp(eof, "0") != 0 && !tty)
			close_fd(&s->in);
	}
	pthread_mutex_unlock(&exec_mu);
	if (pid == 0 || (fd < 0 && (req->body_len > 0 || rs != NULL))) {
		if (fd >= 0)
			close(fd);
		http_respond_error(resp, s ? 409 : 404, "exec session %s: %s",
		    id,
		    s == NULL    ? "no such session" :
		        pid == 0 ? "ended" :
		                   "its input is closed");
		return;
	}
	if (rs != NULL) {
		if (!tty || sscanf(rs, "%ux%u", &rows, &cols) != 2 ||
		    rows == 0 || cols == 0 || rows > 999 || cols > 999) {
			close(fd);
			http_respond_error(resp, 400,
			    "resize=%s: expected ROWSxCOLS of a terminal", rs);
			return;
		}
		memset(&ws, 0, sizeof(ws));
		ws.ws_row = (unsigned short)rows;
		ws.ws_col = (unsigned short)cols;
		(void)ioctl(fd, TIOCSWINSZ, &ws);
	}
	if (sig != NULL) {
		signo = atoi(sig);
		if (signo != SIGINT && signo != SIGTERM && signo != SIGHUP &&
		    signo != SIGQUIT && signo != SIGUSR1 && signo != SIGUSR2) {
			if (fd >= 0)
				close(fd);
			http_respond_error(resp, 400,
			    "signal=%s: expected INT, TERM, HUP, QUIT, USR1 "
			    "or USR2 (their numbers)",
			    sig);
			return;
		}
		/* the helper forwards it; under the lock, so that a helper
		 * reaped meanwhile (its pid free again) is not signalled */
		pthread_mutex_lock(&exec_mu);
		if (find(lease, id) == s && !s->exited)
			kill(pid, signo);
		pthread_mutex_unlock(&exec_mu);
	}
	while (off < req->body_len) {
		pf.fd = fd;
		pf.events = POLLOUT;
		if (poll(&pf, 1, 5000) <= 0)
			break;
		if ((n = write(fd, req->body + off, req->body_len - off)) <=
		    0) {
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			break;
		}
		off += (size_t)n;
	}
	/* a terminal's end of input is its EOF character */
	if (eof && strcmp(eof, "0") != 0 && tty && fd >= 0)
		(void)!write(fd, "\004", 1);
	if (fd >= 0)
		close(fd);
	respond_json(resp, 200, json_pack("{s:I}", "written", (json_int_t)off));
}

void
exec_handle(struct pd *pd, const char *lease, const char *rest,
    const struct http_request *req, struct http_response *resp)
{
	char id[40];
	const char *p;
	size_t n;

	if (strcmp(rest, "exec") == 0 && strcmp(req->method, "POST") == 0) {
		create(pd, lease, req, resp);
		return;
	}
	if (strncmp(rest, "exec/", 5) == 0) {
		p = rest + 5;
		n = strcspn(p, "/");
		if (n > 0 && n < sizeof(id)) {
			snprintf(id, sizeof(id), "%.*s", (int)n, p);
			if (p[n] == '\0' && strcmp(req->method, "GET") == 0) {
				output(lease, id, resp);
				return;
			}
			if (strcmp(p + n, "/input") == 0 &&
			    strcmp(req->method, "POST") == 0) {
				input(lease, id, req, resp);
				return;
			}
		}
	}
	http_respond_error(resp, 404, "no such endpoint: %s %s", req->method,
	    req->path);
}
