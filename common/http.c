/*
 * http: libmicrohttpd server (thread per connection, bounded) and libcurl
 * client (see http.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include "common/err.h"
#include "common/http.h"

struct http_server {
	struct MHD_Daemon *d;
	http_handler handler;
	void *ctx;
	size_t max_body;
	uint16_t port;
};

struct conn_state {
	char *body;
	size_t len, cap;
	int too_big;
};

struct stream_state {
	http_stream_fn fn;
	void *ctx;
	void (*free_fn)(void *);
};

void
http_server_config_default(struct http_server_config *c)
{
	memset(c, 0, sizeof(*c));
	c->host = "127.0.0.1";
	c->max_body = 1024 * 1024;
	c->max_conns = 512;
	c->max_conns_per_ip = 256;
	c->idle_timeout_s = 30;
}

static ssize_t
stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream_state *st = cls;
	ssize_t n;

	(void)pos;
	/* fn blocks for a while when it has nothing; 0 means "ask again" */
	while ((n = st->fn(st->ctx, buf, max)) == 0)
		;
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void
stream_free(void *cls)
{
	struct stream_state *st = cls;

	if (st->free_fn)
		st->free_fn(st->ctx);
	free(st);
}

static void
add_extra_headers(struct MHD_Response *r, const char *extra)
{
	char buf[sizeof(((struct http_response *)0)->extra_headers)];
	char *line, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", extra);
	for (line = strtok_r(buf, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char *colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		colon++;
		while (*colon == ' ')
			colon++;
		MHD_add_response_header(r, line, colon);
	}
}

static enum MHD_Result
send_response(struct MHD_Connection *c, struct http_response *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (resp->stream) {
		struct stream_state *st = calloc(1, sizeof(*st));
		if (st == NULL) {
			if (resp->stream_free)
				resp->stream_free(resp->stream_ctx);
			return MHD_NO;
		}
		st->fn = resp->stream;
		st->ctx = resp->stream_ctx;
		st->free_fn = resp->stream_free;
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
		    stream_reader, st, stream_free);
		if (r == NULL) {
			stream_free(st);
			return MHD_NO;
		}
		MHD_add_response_header(r, "Cache-Control", "no-cache");
	} else {
		r = MHD_create_response_from_buffer(resp->body_len,
		    resp->body ? resp->body : (char *)"",
		    resp->body ? MHD_RESPMEM_MUST_FREE :
		                 MHD_RESPMEM_PERSISTENT);
		if (r == NULL) {
			free(resp->body);
			return MHD_NO;
		}
	}
	resp->body = NULL;
	MHD_add_response_header(r, "Content-Type",
	    resp->content_type ? resp->content_type : "application/json");
	add_extra_headers(r, resp->extra_headers);
	ret = MHD_queue_response(c, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct conn_state *cs = *con_cls;
	struct http_response resp;
	struct http_request req;
	const union MHD_ConnectionInfo *ci;
	char peer[INET6_ADDRSTRLEN] = "?";

	(void)version;
	if (cs == NULL) {
		const char *cl;
		if ((cs = calloc(1, sizeof(*cs))) == NULL)
			return MHD_NO;
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > s->max_body)
			cs->too_big = 1;
		*con_cls = cs;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!cs->too_big && cs->len + *upload_size > s->max_body)
			cs->too_big = 1;
		if (!cs->too_big) {
			if (cs->len + *upload_size + 1 > cs->cap) {
				size_t nc = (cs->len + *upload_size + 1) * 2;
				char *nb;
				if (nc > s->max_body + 1)
					nc = s->max_body + 1;
				if ((nb = realloc(cs->body, nc)) == NULL)
					return MHD_NO;
				cs->body = nb;
				cs->cap = nc;
			}
			memcpy(cs->body + cs->len, upload, *upload_size);
			cs->len += *upload_size;
			cs->body[cs->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	memset(&resp, 0, sizeof(resp));
	if (cs->too_big) {
		http_respond_error(&resp, 413,
		    "request body larger than %zu "
		    "bytes",
		    s->max_body);
		return send_response(c, &resp);
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET,
			    &((const struct sockaddr_in *)(const void *)sa)
			         ->sin_addr,
			    peer, sizeof(peer));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
			    &((const struct sockaddr_in6 *)(const void *)sa)
			         ->sin6_addr,
			    peer, sizeof(peer));
	}
	req.method = method;
	req.path = url;
	req.body = cs->body ? cs->body : "";
	req.body_len = cs->len;
	req.peer = peer;
	req.conn = c;
	resp.status = 200;
	s->handler(s->ctx, &req, &resp);
	return send_response(c, &resp);
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (cs) {
		free(cs->body);
		free(cs);
		*con_cls = NULL;
	}
}

int
http_server_start(const struct http_server_config *c, http_handler h, void *ctx,
    struct http_server **out)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	unsigned flags =
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, c->host,
	        &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->port);
	} else if (inet_pton(AF_INET6, c->host,
	               &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->port);
		flags |= MHD_USE_IPv6;
	} else {
		return err_set(ERR_INVAL,
		    "listen address '%s': expected an "
		    "IPv4 or IPv6 address",
		    c->host);
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	s->handler = h;
	s->ctx = ctx;
	s->max_body = c->max_body;
	s->d = MHD_start_daemon(flags, c->port, NULL, NULL, access_cb, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, c->max_conns,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, c->max_conns_per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, c->idle_timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
	if (s->d == NULL) {
		free(s);
		return err_set(ERR_IO, "cannot listen on %s:%u (in use?)",
		    c->host, c->port);
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : c->port;
	*out = s;
	return 0;
}

uint16_t
http_server_port(const struct http_server *s)
{
	return s->port;
}

void
http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}

const char *
http_query(const struct http_request *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *
http_header(const struct http_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void
http_respond(struct http_response *resp, int status, char *body)
{
	free(resp->body);
	resp->status = status;
	resp->body = body;
	resp->body_len = body ? strlen(body) : 0;
}

void
http_respond_error(struct http_response *resp, int status, const char *fmt, ...)
{
	char msg[1024];
	json_t *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:s}", "error", msg);
	http_respond(resp, status, o ? json_dumps(o, JSON_COMPACT) : NULL);
	json_decref(o);
}

int
http_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon;
	char *end;
	unsigned long p;
	size_t n;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			goto bad;
		n = (size_t)(rb - s - 1);
		colon = rb + 1;
		s++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			goto bad;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hostlen)
		goto bad;
	memcpy(host, s, n);
	host[n] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || p > 65535 || errno)
		goto bad;
	*port = (uint16_t)p;
	return 0;
bad:
	return err_set(ERR_INVAL, "'%s': expected HOST:PORT (port 0-65535)", s);
}

/* ---- client ---------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Largest response body the client accepts: a broken or hostile peer
 * cannot make a caller run out of memory. */
#define HTTP_CLIENT_MAX_BODY (256 * 1024 * 1024)

struct buf {
	char *data;
	size_t len, cap;
};

static size_t
write_cb(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t len = size * n;

	if (b->len + len > HTTP_CLIENT_MAX_BODY)
		return 0; /* curl fails the transfer */
	if (b->len + len + 1 > b->cap) {
		size_t nc = (b->len + len + 1) * 2;
		char *nd = realloc(b->data, nc);
		if (nd == NULL)
			return 0;
		b->data = nd;
		b->cap = nc;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static struct curl_slist *
make_headers(const char *const *headers)
{
	struct curl_slist *l = NULL, *n;

	for (size_t i = 0; headers && headers[i]; i++) {
		if ((n = curl_slist_append(l, headers[i])) == NULL) {
			curl_slist_free_all(l);
			return NULL;
		}
		l = n;
	}
	/* no "Expect: 100-continue" round trip for bodies */
	if ((n = curl_slist_append(l, "Expect:")) == NULL)
		curl_slist_free_all(l);
	return n;
}

int
http_fetch(const char *method, const char *url, const char *const *headers,
    const void *body, size_t body_len, long timeout_ms, struct http_result *out)
{
	struct curl_slist *hl;
	struct buf b = { 0 };
	CURLcode cc;
	CURL *c;

	memset(out, 0, sizeof(*out));
	pthread_once(&curl_once, curl_init_once);
	if ((c = curl_easy_init()) == NULL)
		return err_set(ERR_NOMEM, "curl: cannot create a handle");
	if ((hl = make_headers(headers)) == NULL) {
		curl_easy_cleanup(c);
		return err_set(ERR_NOMEM, "%s %s: out of memory for headers",
		    method, url);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)body_len);
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		free(b.data);
		curl_slist_free_all(hl);
		curl_easy_cleanup(c);
		return err_set(ERR_IO, "%s %s: %s", method, url,
		    curl_easy_strerror(cc));
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	if (b.data == NULL && (b.data = calloc(1, 1)) == NULL) {
		curl_slist_free_all(hl);
		curl_easy_cleanup(c);
		return err_set(ERR_NOMEM, "out of memory");
	}
	out->body = b.data;
	out->body_len = b.len;
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return 0;
}

void
http_result_clear(struct http_result *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

struct follow {
	http_chunk_fn fn;
	void *ctx;
	atomic_int *stop;
};

static size_t
follow_cb(char *p, size_t size, size_t n, void *ud)
{
	struct follow *f = ud;

	return f->fn(f->ctx, p, size * n) == 0 ? size * n : 0;
}

/* libcurl calls this at least once a second, also while the stream is
 * silent: a non-zero return aborts the transfer. */
static int
follow_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct follow *f = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return f->stop && atomic_load(f->stop);
}

int
http_follow(const char *url, const char *const *headers,
    long connect_timeout_ms, http_chunk_fn fn, void *ctx, atomic_int *stop)
{
	struct follow f = { fn, ctx, stop };
	struct curl_slist *hl;
	CURLcode cc;
	long status = 0;
	CURL *c;

	pthread_once(&curl_once, curl_init_once);
	if ((c = curl_easy_init()) == NULL)
		return err_set(ERR_NOMEM, "curl: cannot create a handle");
	if ((hl = make_headers(headers)) == NULL) {
		curl_easy_cleanup(c);
		return err_set(ERR_NOMEM, "GET %s: out of memory for headers",
		    url);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, follow_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, follow_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &f);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
	/* a stream that stays silent past its keep-alives is dead */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (cc == CURLE_WRITE_ERROR || cc == CURLE_ABORTED_BY_CALLBACK)
		return 1; /* fn or *stop asked to stop */
	if (cc != CURLE_OK)
		return err_set(ERR_IO, "GET %s: %s", url,
		    curl_easy_strerror(cc));
	if (status != 200)
		return err_set(ERR_IO, "GET %s: HTTP %ld", url, status);
	return 0;
}
