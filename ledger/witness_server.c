/*
 * witness_server: the HTTP face of a witness (see witness_server.h).
 * Everything but routing is witness_db_add_checkpoint's.
 */
#include "ledger/witness_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"

struct witness_server {
	struct witness_db *w;
	struct http_server *http;
};

static void
handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct witness_server *s = ctx;
	struct witness_answer a;

	if (strcmp(req->path, "/add-checkpoint") != 0) {
		http_respond_error(resp, 404,
		    "%s: not found; a witness serves POST /add-checkpoint",
		    req->path);
		return;
	}
	if (strcmp(req->method, "POST") != 0) {
		http_respond_error(resp, 405, "add-checkpoint takes POST");
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "Allow: POST\r\n");
		return;
	}
	if (witness_db_add_checkpoint(s->w, req->body, req->body_len,
	        (uint64_t)time(NULL), &a) < 0) {
		log_error("add-checkpoint from %s: %s", req->peer, err_msg());
		http_respond_error(resp, 500, "witness: %s", err_msg());
		return;
	}
	if (a.status == 200)
		log_info("%s: %s", req->peer, a.reason);
	else
		log_warn("%s: refused (%d%s): %s", req->peer, a.status,
		    a.evidence ? ", evidence kept" : "", a.reason);
	resp->status = a.status;
	resp->content_type = a.content_type;
	resp->body = a.body;
	resp->body_len = a.body_len;
	a.body = NULL;
	witness_answer_clear(&a);
}

int
witness_server_start(struct witness_db *w, const struct http_server_config *c,
    struct witness_server **out)
{
	struct http_server_config hc = *c;
	struct witness_server *s;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	s->w = w;
	if (hc.max_body < WITNESS_MAX_BODY)
		hc.max_body = WITNESS_MAX_BODY;
	if ((rc = http_server_start(&hc, handle, s, &s->http)) < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

uint16_t
witness_server_port(const struct witness_server *s)
{
	return http_server_port(s->http);
}

void
witness_server_free(struct witness_server *s)
{
	if (s == NULL)
		return;
	http_server_free(s->http);
	free(s);
}
