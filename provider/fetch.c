/*
 * fetch: libcurl under the netpolicy (see fetch.h).  One easy handle per
 * hop, so no connection of an earlier hop is reused for a later one; the
 * socket callback is the one place where an address is let through.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "provider/fetch.h"

#define FETCH_TIMEOUT_DEFAULT_MS 300000
#define FETCH_CONNECT_TIMEOUT_MS 10000

/* One hop in progress. */
struct hop {
	const struct netpolicy *p;
	int trusted; /* host on the allow list: addresses not judged */
	char refused[256]; /* why the socket callback refused, or "" */
	int fd;
	uint64_t max, bytes;
	int over; /* the body went past max */
	int werr; /* errno of a failed write */
};

static curl_socket_t
open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct hop *h = ctx;
	const char *why;
	char text[64];

	if (purpose != CURLSOCKTYPE_IPCXN) {
		snprintf(h->refused, sizeof(h->refused),
		    "a socket of another kind than a connection");
		return CURL_SOCKET_BAD;
	}
	if (!h->trusted &&
	    (why = netpolicy_addr_refused(h->p, &a->addr)) != NULL) {
		netpolicy_addr_text(&a->addr, text, sizeof(text));
		/* Several addresses may be tried: the first refusal says. */
		if (h->refused[0] == '\0')
			snprintf(h->refused, sizeof(h->refused),
			    "the address %s is %s", text, why);
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t
write_body(char *data, size_t size, size_t n, void *ctx)
{
	struct hop *h = ctx;
	size_t len = size * n, done = 0;
	ssize_t w;

	if (h->max && h->bytes + len > h->max) {
		h->over = 1;
		return 0;
	}
	while (done < len) {
		w = write(h->fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			h->werr = w < 0 ? errno : EIO;
			return 0;
		}
		done += (size_t)w;
	}
	h->bytes += len;
	return len;
}

/* Run one hop of rq to url; 0 with res filled, or the error. */
static int
one_hop(const struct netpolicy *p, const struct fetch_req *rq, const char *url,
    int post, int64_t deadline, struct fetch_result *res, char **location)
{
	struct hop h;
	struct curl_slist *hl = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", *ct = NULL, *loc = NULL;
	int64_t left = deadline - util_now_ms();
	CURL *c = NULL;
	CURLcode cc;
	size_t i;
	int rc;

	*location = NULL;
	memset(&h, 0, sizeof(h));
	h.p = p;
	h.fd = rq->out_fd;
	h.max = rq->max_bytes;
	if ((rc = netpolicy_check_url(p, url, &h.trusted)) < 0)
		return rc;
	if (left <= 0)
		return err_set(ERR_IO, "%.200s: the fetch timed out", url);
	if ((c = curl_easy_init()) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (i = 0; rq->headers && rq->headers[i]; i++)
		hl = curl_slist_append(hl, rq->headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* The scheme was checked above; curl must not speak another
	 * (file:// only for the owner's local use). */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
	    p->local      ? "https,http,file" :
	        h.trusted ? "https,http" :
	                    "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(left < FETCH_CONNECT_TIMEOUT_MS ? left :
	                                             FETCH_CONNECT_TIMEOUT_MS));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "lodge-provider");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (rq->max_bytes)
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
		    (curl_off_t)rq->max_bytes);
	if (post) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS,
		    rq->body ? rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->body_len);
	}
	cc = curl_easy_perform(c);
	/* A refused address matters only when no other one was taken. */
	if (h.refused[0] && cc != CURLE_OK) {
		log_warn("fetch %s: refused: %s", url, h.refused);
		rc = err_set(ERR_REJECT, "%.200s: refused: %s", url, h.refused);
		goto out;
	}
	if (h.over || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = err_set(ERR_LIMIT, "%.200s: more than %llu bytes", url,
		    (unsigned long long)rq->max_bytes);
		goto out;
	}
	if (cc != CURLE_OK) {
		log_warn("fetch %s: %s%s%s", url, curl_easy_strerror(cc),
		    errbuf[0] ? ": " : "", errbuf);
		rc = err_set(ERR_IO, "%.200s: the fetch failed", url);
		if (h.werr)
			rc = err_set(ERR_IO, "%.200s: writing the body: %s",
			    url, strerror(h.werr));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	res->content_type[0] = '\0';
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(res->content_type, sizeof(res->content_type), "%s",
		    ct);
	res->bytes += h.bytes;
	if (res->status >= 300 && res->status < 400 &&
	    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
	    loc && (*location = strdup(loc)) == NULL)
		rc = err_set(ERR_NOMEM, "out of memory");
out:
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return rc;
}

int
fetch_run(const struct netpolicy *p, const struct fetch_req *rq,
    struct fetch_result *res)
{
	int post = rq->method && strcmp(rq->method, "POST") == 0;
	int64_t deadline = util_now_ms() +
	    (rq->timeout_ms > 0 ? rq->timeout_ms : FETCH_TIMEOUT_DEFAULT_MS);
	char *url = NULL, *loc = NULL;
	int hops, rc;
	off_t start = lseek(rq->out_fd, 0, SEEK_CUR);

	memset(res, 0, sizeof(*res));
	if ((url = strdup(rq->url)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (hops = 0;; hops++) {
		res->bytes = 0;
		if ((rc = one_hop(p, rq, url, post, deadline, res, &loc)) < 0)
			break;
		snprintf(res->final_url, sizeof(res->final_url), "%s", url);
		if (loc == NULL || post || hops >= rq->max_redirects)
			break;
		/* The redirect's own body is not the answer. */
		if (start >= 0 &&
		    (ftruncate(rq->out_fd, start) < 0 ||
		        lseek(rq->out_fd, start, SEEK_SET) < 0)) {
			rc = err_set(ERR_IO, "fetch: rewinding: %s",
			    strerror(errno));
			break;
		}
		log_debug("fetch %s: redirected to %s", url, loc);
		free(url);
		url = loc;
		loc = NULL;
	}
	free(loc);
	free(url);
	return rc;
}
