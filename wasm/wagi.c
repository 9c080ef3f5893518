/*
 * wasm_wagi: WAGI request/response mapping (CGI 1.1, RFC 3875 §4.1 meta
 * variables, §6 response) around a fresh wasm instance per request.
 */
#include "wasm/wagi.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

void
wasm_wagi_response_free(struct wasm_wagi_response *r)
{
	if (!r)
		return;
	free(r->headers);
	free(r->storage);
	memset(r, 0, sizeof(*r));
}

static int
set_error(struct wasm_wagi_response *r, int status, const char *msg)
{
	wasm_wagi_response_free(r);
	size_t n = strlen(msg);
	r->storage = malloc(n + 2 + 32);
	r->headers = calloc(1, sizeof(*r->headers));
	if (!r->storage || !r->headers)
		return err_set(ERR_NOMEM, "out of memory");
	strcpy(r->storage, "text/plain");
	char *body = r->storage + 11;
	memcpy(body, msg, n);
	body[n] = '\n';
	r->headers[0].name = "Content-Type";
	r->headers[0].value = r->storage;
	r->nheaders = 1;
	r->status = status;
	r->body = (const uint8_t *)body;
	r->body_len = n + 1;
	return 0;
}

int
wasm_wagi_parse(const uint8_t *out, size_t len, struct wasm_wagi_response *r)
{
	memset(r, 0, sizeof(*r));
	r->storage = malloc(len + 1);
	if (!r->storage)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(r->storage, out, len);
	r->storage[len] = 0;
	char *s = r->storage, *end = s + len;
	size_t cap = 0;
	r->status = 200;
	int have_status = 0, have_location = 0;
	for (;;) {
		char *nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl) {
			wasm_wagi_response_free(r);
			return err_set(ERR_INVAL,
			    "CGI response: no blank line "
			    "after the headers");
		}
		char *line_end = nl;
		if (line_end > s && line_end[-1] == '\r')
			line_end--;
		*line_end = 0;
		if (line_end == s) {
			s = nl + 1;
			break;
		}
		char *colon = strchr(s, ':');
		if (!colon || colon == s) {
			wasm_wagi_response_free(r);
			return err_set(ERR_INVAL,
			    "CGI response: malformed "
			    "header line \"%.40s\"",
			    s);
		}
		*colon = 0;
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcasecmp(s, "Status") == 0) {
			int st = atoi(v);
			if (st < 100 || st > 999) {
				wasm_wagi_response_free(r);
				return err_set(ERR_INVAL,
				    "CGI response: bad "
				    "Status \"%.20s\"",
				    v);
			}
			r->status = st;
			have_status = 1;
		} else {
			if (strcasecmp(s, "Location") == 0)
				have_location = 1;
			if (r->nheaders == cap) {
				cap = cap ? cap * 2 : 8;
				struct wasm_wagi_header *nh =
				    realloc(r->headers, cap * sizeof(*nh));
				if (!nh) {
					wasm_wagi_response_free(r);
					return err_set(ERR_NOMEM,
					    "out of memory");
				}
				r->headers = nh;
			}
			r->headers[r->nheaders].name = s;
			r->headers[r->nheaders].value = v;
			r->nheaders++;
		}
		s = nl + 1;
	}
	if (!have_status && have_location)
		r->status = 302;
	r->body = (const uint8_t *)s;
	r->body_len = (size_t)(end - s);
	return 0;
}

/* Environment for the request: CGI variables, HTTP_*, then lease env. */
static char **
build_env(const struct wasm_wagi_request *q, size_t *count)
{
	size_t n = 16 + q->nheaders, k = 0;
	for (const char *const *e = q->env; e && *e; e++)
		n++;
	char **env = calloc(n + 1, sizeof(char *));
	if (!env)
		return NULL;
	char clen[32];
	snprintf(clen, sizeof(clen), "%zu", q->body_len);
	const char *ctype = "";
	for (size_t i = 0; i < q->nheaders; i++)
		if (strcasecmp(q->headers[i].name, "Content-Type") == 0)
			ctype = q->headers[i].value;
	const char *fixed[][2] = {
		{ "GATEWAY_INTERFACE", "CGI/1.1" },
		{ "SERVER_PROTOCOL", "HTTP/1.1" },
		{ "SERVER_SOFTWARE", "lodge-wagi" },
		{ "REQUEST_METHOD", q->method ? q->method : "GET" },
		{ "PATH_INFO", q->path ? q->path : "/" },
		{ "QUERY_STRING", q->query ? q->query : "" },
		{ "SCRIPT_NAME", q->script_name ? q->script_name : "" },
		{ "SERVER_NAME",
		    q->server_name ? q->server_name : "localhost" },
		{ "SERVER_PORT", q->server_port ? q->server_port : "80" },
		{ "REMOTE_ADDR",
		    q->remote_addr ? q->remote_addr : "127.0.0.1" },
		{ "CONTENT_TYPE", ctype },
		{ "CONTENT_LENGTH", clen },
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (asprintf(&env[k++], "%s=%s", fixed[i][0], fixed[i][1]) < 0)
			goto fail;
	for (size_t i = 0; i < q->nheaders; i++) {
		const char *nm = q->headers[i].name;
		if (strcasecmp(nm, "Content-Type") == 0 ||
		    strcasecmp(nm, "Content-Length") == 0 ||
		    strcasecmp(nm, "Authorization") == 0)
			continue;
		size_t l = strlen(nm), vl = strlen(q->headers[i].value);
		char *v = malloc(5 + l + 1 + vl + 1);
		if (!v)
			goto fail;
		memcpy(v, "HTTP_", 5);
		for (size_t j = 0; j < l; j++)
			v[5 + j] = nm[j] == '-' ?
			    '_' :
			    (char)toupper((unsigned char)nm[j]);
		v[5 + l] = '=';
		memcpy(v + 6 + l, q->headers[i].value, vl + 1);
		env[k++] = v;
	}
	for (const char *const *e = q->env; e && *e; e++)
		if (!(env[k++] = strdup(*e)))
			goto fail;
	*count = k;
	return env;
fail:
	for (size_t i = 0; i < k; i++)
		free(env[i]);
	free(env);
	return NULL;
}

int
wasm_wagi_run(const struct wasm_program *p, const struct wasm_wagi_request *req,
    const struct wasm_run_limits *l, const char *data_dir, int stderr_fd,
    struct wasm_buf *out, struct wasm_outcome *oc, struct wasm_usage *u)
{
	size_t nenv = 0;
	int rc;
	char **env = build_env(req, &nenv);
	if (!env)
		return err_set(ERR_NOMEM, "out of memory");
	const char *argv[1] = {
		req->script_name && *req->script_name ? req->script_name : "/"
	};
	struct wasm_io io = {
		.argc = 1,
		.argv = argv,
		.envp = (const char *const *)env,
		.stdin_fd = -1,
		.stdout_fd = -1,
		.stderr_fd = stderr_fd,
		.stdin_data = req->body ? req->body : (const uint8_t *)"",
		.stdin_len = req->body_len,
		.stdout_buf = out,
		.data_dir = data_dir,
	};
	out->max = WASM_WAGI_MAX_OUTPUT;
	rc = wasm_program_run(p, &io, l, oc, u);
	for (size_t i = 0; i < nenv; i++)
		free(env[i]);
	free(env);
	return rc;
}

int
wasm_wagi_respond(const struct wasm_outcome *oc, const uint8_t *out, size_t len,
    struct wasm_wagi_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	if (oc->trap) {
		int rc = set_error(resp,
		    oc->timed_out       ? 504 :
		        oc->out_of_fuel ? 503 :
		                          500,
		    oc->message);
		resp->trap = oc->trap;
		return rc;
	}
	if (oc->exit_code != 0) {
		char msg[64];
		snprintf(msg, sizeof(msg), "function exited with status %d",
		    oc->exit_code);
		return set_error(resp, 500, msg);
	}
	if (wasm_wagi_parse(out ? out : (const uint8_t *)"", len, resp) < 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "%s", err_msg());
		return set_error(resp, 500, msg);
	}
	return 0;
}

int
wasm_wagi_invoke(const struct wasm_program *p,
    const struct wasm_wagi_request *req, const struct wasm_run_limits *l,
    struct wasm_wagi_response *resp, struct wasm_usage *u)
{
	struct wasm_buf out = { .max = WASM_WAGI_MAX_OUTPUT };
	struct wasm_outcome oc;
	int rc;

	memset(resp, 0, sizeof(*resp));
	rc = wasm_wagi_run(p, req, l, NULL, -1, &out, &oc, u);
	if (rc == 0)
		rc = wasm_wagi_respond(&oc, out.data, out.len, resp);
	wasm_buf_free(&out);
	return rc;
}
