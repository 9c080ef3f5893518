/*
 * quote: POST /v1/quote, what matching would do now with a tenant's
 * orders, posted nowhere (ledger/state.h, state_quote): the same
 * predicate and order as matching, against the market's current state.
 */
#include <stdlib.h>

#include "common/cjson.h"
#include "common/err.h"
#include "market/market_internal.h"

void
market_quote(struct market *m, const struct http_request *req,
    struct http_response *resp)
{
	json_t *in = NULL, *out = NULL;
	char *text = NULL;
	int rc;

	if ((rc = cjson_parse(req->body, req->body_len, &in)) < 0 ||
	    !json_is_object(in)) {
		http_respond_error(resp, 400,
		    "quote: expected {\"tenant\":KEY,\"orders\":[order.create "
		    "body...]}%s%s",
		    rc < 0 ? ": " : "", rc < 0 ? err_msg() : "");
		json_decref(in);
		return;
	}
	pthread_mutex_lock(&m->mu);
	rc = state_quote(m->state,
	    json_string_value(json_object_get(in, "tenant")),
	    json_object_get(in, "orders"), &out);
	pthread_mutex_unlock(&m->mu);
	json_decref(in);
	if (rc == ERR_NOMEM) {
		http_respond_error(resp, 500, "%s", err_msg());
		return;
	}
	if (rc < 0) {
		http_respond_error(resp, 400, "%s", err_msg());
		return;
	}
	if (cjson_dump(out, &text, NULL) < 0) {
		json_decref(out);
		http_respond_error(resp, 500, "cannot serialise the quote");
		return;
	}
	json_decref(out);
	http_respond(resp, 200, text);
}
