/*
 * exec: a tenant's session in a running replica (see exec.h): the
 * output stream read in a thread, the input sent from this one.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "tenant/exec.h"
#include "tenant/view.h"

#define EXEC_FRAME_MAX (1u << 20)
#define EXEC_INPUT_MAX 4096
#define EXEC_POLL_MS 100

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
tenant_exec_frames(char **buf, size_t *len, const char *data, size_t n, int out,
    int err, int *exit_code)
{
	char *nb, code[16];
	size_t flen, off = 0;

	if (n > 0) {
		if ((nb = realloc(*buf, *len + n)) == NULL)
			return -1;
		memcpy(nb + *len, data, n);
		*buf = nb;
		*len += n;
	}
	while (*len - off >= 5) {
		const unsigned char *h = (unsigned char *)*buf + off;
		flen = (size_t)h[1] << 24 | (size_t)h[2] << 16 |
		    (size_t)h[3] << 8 | h[4];
		if (flen > EXEC_FRAME_MAX)
			return -1;
		if (*len - off < 5 + flen)
			break;
		switch (h[0]) {
		case 'o':
			(void)write_all(out, (char *)h + 5, flen);
			break;
		case 'e':
			(void)write_all(err, (char *)h + 5, flen);
			break;
		case 'k':
			break;
		case 'x':
			snprintf(code, sizeof(code), "%.*s",
			    (int)(flen < 15 ? flen : 15), (char *)h + 5);
			*exit_code = atoi(code);
			memmove(*buf, *buf + off + 5 + flen,
			    *len - off - 5 - flen);
			*len -= off + 5 + flen;
			return 1;
		default:
			return -1;
		}
		off += 5 + flen;
	}
	memmove(*buf, *buf + off, *len - off);
	*len -= off;
	return 0;
}

/* The output stream's thread. */
struct reader {
	struct tenant_client *c;
	const char *api;
	char path[160];
	int out, err;
	char *buf;
	size_t len;
	int exit_code, got_exit, bad;
	int rc;
	char msg[512];
	atomic_int done;
};

static int
on_chunk(void *ctx, const char *data, size_t len)
{
	struct reader *r = ctx;
	int rc = tenant_exec_frames(&r->buf, &r->len, data, len, r->out, r->err,
	    &r->exit_code);

	if (rc < 0)
		r->bad = 1;
	if (rc == 1)
		r->got_exit = 1;
	return rc != 0;
}

static void *
read_output(void *arg)
{
	struct reader *r = arg;

	r->rc = tenant_provider_follow(r->c, r->api, r->path, on_chunk, r);
	if (r->rc != 0)
		snprintf(r->msg, sizeof(r->msg), "%s", err_msg());
	atomic_store(&r->done, 1);
	return NULL;
}

/* POST input (or a control: query) to the session. */
static int
send_input(struct tenant_client *c, const char *api, const char *base,
    const char *query, const char *data, size_t len)
{
	struct http_result res;
	char path[256], ebuf[256];
	int rc;

	snprintf(path, sizeof(path), "%s/input%s%s", base, query ? "?" : "",
	    query ? query : "");
	if ((rc = tenant_provider_call(c, api, "POST", path,
	         "application/octet-stream", data, len, 10000, &res)) != 0)
		return rc;
	if (res.status != 200)
		rc = err_set(ERR_REJECT, "provider: input: HTTP %ld: %s",
		    res.status,
		    tenant_error_text(res.body, ebuf, sizeof(ebuf)));
	http_result_clear(&res);
	return rc;
}

/* The first service of the provider's status of lease (GET status). */
static int
first_service(struct tenant_client *c, const char *api, const char *lease,
    char *out, size_t cap)
{
	struct http_result res;
	char path[128], ebuf[256];
	const char *s;
	json_t *j;
	int rc;

	snprintf(path, sizeof(path), "/v1/leases/%s/status", lease);
	if ((rc = tenant_provider_call(c, api, "GET", path, NULL, NULL, 0, 0,
	         &res)) != 0)
		return rc;
	if (res.status != 200) {
		rc = err_set(ERR_REJECT, "provider: HTTP %ld: %s", res.status,
		    tenant_error_text(res.body, ebuf, sizeof(ebuf)));
		http_result_clear(&res);
		return rc;
	}
	j = json_loadb(res.body, res.body_len, 0, NULL);
	http_result_clear(&res);
	s = json_string_value(json_object_get(
	    json_array_get(json_object_get(j, "replicas"), 0), "service"));
	if (s == NULL)
		rc = err_set(ERR_NOTFOUND, "lease %s runs no service", lease);
	else
		snprintf(out, cap, "%s", s);
	json_decref(j);
	return rc;
}

int
tenant_exec(struct tenant_client *c, const char *id,
    const struct tenant_exec_opts *o, int *exit_code)
{
	struct reader r;
	struct http_result res;
	pthread_t th;
	struct pollfd pf;
	json_t *l = NULL, *req = NULL, *argv = NULL, *ans = NULL;
	char lease[32], path[160], base[160], svc[128], ebuf[512], q[64];
	char in[EXEC_INPUT_MAX], *api = NULL, *body = NULL;
	const char *sid;
	int rc, in_open = o->in_fd >= 0, rows, cols, started = 0;
	ssize_t n;
	size_t i;

	memset(&r, 0, sizeof(r));
	if ((rc = tenant_resolve_lease(c, id, lease, sizeof(lease))) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/leases/%s", lease);
	if ((rc = tenant_market_get(c, path, &l)) != 0 ||
	    (rc = tenant_provider_url(c,
	         json_string_value(json_object_get(l, "provider")), &api)) != 0)
		goto out;
	if (o->service != NULL)
		snprintf(svc, sizeof(svc), "%s", o->service);
	else if ((rc = first_service(c, api, lease, svc, sizeof(svc))) != 0)
		goto out;
	argv = json_array();
	for (i = 0; argv && o->argv[i]; i++)
		json_array_append_new(argv, json_string(o->argv[i]));
	req = json_pack("{s:s,s:o,s:b,s:i,s:i,s:s}", "service", svc, "argv",
	    argv, "tty", o->tty, "rows", o->rows, "cols", o->cols, "term",
	    o->term ? o->term : "xterm");
	if (req != NULL && o->replica >= 0)
		json_object_set_new(req, "replica", json_integer(o->replica));
	if (req == NULL || (body = json_dumps(req, JSON_COMPACT)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/leases/%s/exec", lease);
	if ((rc = tenant_provider_call(c, api, "POST", path, "application/json",
	         body, strlen(body), 0, &res)) != 0)
		goto out;
	if (res.status != 201) {
		rc = err_set(ERR_REJECT, "provider: exec: HTTP %ld: %s",
		    res.status,
		    tenant_error_text(res.body, ebuf, sizeof(ebuf)));
		http_result_clear(&res);
		goto out;
	}
	ans = json_loadb(res.body, res.body_len, 0, NULL);
	http_result_clear(&res);
	if ((sid = json_string_value(json_object_get(ans, "session"))) ==
	        NULL ||
	    strlen(sid) > 64) {
		rc =
		    err_set(ERR_IO, "provider: exec: no session in its answer");
		goto out;
	}
	snprintf(base, sizeof(base), "/v1/leases/%s/exec/%s", lease, sid);
	r.c = c;
	r.api = api;
	snprintf(r.path, sizeof(r.path), "%s", base);
	r.out = o->out_fd;
	r.err = o->err_fd;
	if (pthread_create(&th, NULL, read_output, &r) != 0) {
		rc = err_set(ERR_IO, "cannot start a thread");
		goto out;
	}
	started = 1;
	while (!atomic_load(&r.done)) {
		if (o->winch && *o->winch && o->size &&
		    o->size(&rows, &cols) == 0) {
			*o->winch = 0;
			snprintf(q, sizeof(q), "resize=%dx%d", rows, cols);
			(void)send_input(c, api, base, q, NULL, 0);
		}
		if (o->signal && *o->signal) {
			snprintf(q, sizeof(q), "signal=%d", (int)*o->signal);
			*o->signal = 0;
			(void)send_input(c, api, base, q, NULL, 0);
		}
		if (!in_open) {
			poll(NULL, 0, EXEC_POLL_MS);
			continue;
		}
		pf.fd = o->in_fd;
		pf.events = POLLIN;
		if (poll(&pf, 1, EXEC_POLL_MS) <= 0)
			continue;
		n = read(o->in_fd, in, sizeof(in));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			in_open = 0;
			(void)send_input(c, api, base, "eof=1", NULL, 0);
			continue;
		}
		/* the session may have ended meanwhile: not an error */
		if (send_input(c, api, base, NULL, in, (size_t)n) != 0)
			err_clear();
	}
	pthread_join(th, NULL);
	if (r.got_exit) {
		*exit_code = r.exit_code;
		rc = 0;
	} else
		rc = err_set(ERR_IO,
		    "the session's output ended without its "
		    "exit status%s%s",
		    r.msg[0] ? ": " : "", r.msg);
out:
	(void)started;
	free(r.buf);
	free(body);
	free(api);
	json_decref(ans);
	json_decref(req);
	json_decref(l);
	return rc;
}
