/*
 * quote: the tenant's side of POST /v1/quote (see quote.h): the SDL file
 * turned into the order bodies deploy would post, sent for a quote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/http.h"
#include "common/util.h"
#include "tenant/deploy.h"
#include "tenant/quote.h"

const char *
tenant_human_amount(int64_t v, const char *denom, char *buf, size_t cap)
{
	uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	const char *d = denom ? denom : "";

	if (d[0] == 'u' && d[1] != '\0')
		snprintf(buf, cap, "%s%llu.%06llu %s", v < 0 ? "-" : "",
		    (unsigned long long)(a / 1000000),
		    (unsigned long long)(a % 1000000), d + 1);
	else
		snprintf(buf, cap, "%lld %s", (long long)v, d);
	return buf;
}

/* POST req to /v1/quote; *out the answer. */
static int
post_quote(struct tenant_client *c, const json_t *req, json_t **out)
{
	static const char *const hdr[] = { "Content-Type: application/json",
		NULL };
	struct http_result r = { 0 };
	char url[2048], ebuf[512], *text = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = cjson_dump(req, &text, &len)) != 0)
		return rc;
	snprintf(url, sizeof(url), "%s/v1/quote", c->market);
	if ((rc = http_fetch("POST", url, hdr, text, len, c->timeout_ms, &r)))
		goto out;
	if (r.status != 200) {
		rc = err_set(r.status >= 500 ? ERR_IO : ERR_REJECT,
		    "the market refused the quote (HTTP %ld): %s", r.status,
		    tenant_error_text(r.body, ebuf, sizeof(ebuf)));
		goto out;
	}
	if ((*out = json_loadb(r.body, r.body_len, 0, NULL)) == NULL)
		rc = err_set(ERR_IO, "POST %s: the answer is not JSON", url);
out:
	http_result_clear(&r);
	free(text);
	return rc;
}

int
tenant_quote_orders(struct tenant_client *c, const json_t *orders, json_t **out)
{
	json_t *req =
	    json_pack("{s:s,s:O}", "tenant", c->address, "orders", orders);
	int rc;

	*out = NULL;
	if (req == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	rc = post_quote(c, req, out);
	json_decref(req);
	return rc;
}

int
tenant_quote_why(struct tenant_client *c, const json_t *order, char **out)
{
	json_t *req, *q = NULL, *g, *v, *count;
	char *line = NULL;
	const char *k;
	size_t i, len = 0;
	FILE *f;
	int rc;

	*out = NULL;
	req = json_pack("{s:s,s:[O]}", "tenant", c->address, "orders", order);
	if (req == NULL || (count = json_object()) == NULL) {
		json_decref(req);
		return err_set(ERR_NOMEM, "out of memory");
	}
	rc = post_quote(c, req, &q);
	json_decref(req);
	if (rc != 0) {
		json_decref(count);
		return rc;
	}
	g = json_array_get(json_object_get(q, "groups"), 0);
	json_array_foreach(json_object_get(g, "not_fitting"), i, v)
	{
		const char *r = json_string_value(json_object_get(v, "reason"));
		if (r != NULL)
			json_object_set_new(count, r,
			    json_integer(
			        json_integer_value(json_object_get(count, r)) +
			        1));
	}
	if ((f = open_memstream(&line, &len)) == NULL) {
		json_decref(count);
		json_decref(q);
		return err_set(ERR_NOMEM, "out of memory");
	}
	if (!json_is_string(json_object_get(g, "winner"))) {
		fprintf(f, "the market's own rules, per provider:");
		i = 0;
		json_object_foreach(count, k, v) fprintf(f, "%s %s %lld",
		    i++ ? "," : "", k, (long long)json_integer_value(v));
		if (i == 0)
			fprintf(f, " no provider");
	}
	fclose(f);
	json_decref(count);
	json_decref(q);
	*out = line;
	return 0;
}

int
tenant_quote(struct tenant_client *c, const char *file, int64_t deposit,
    struct sdl_errors *errs, int *sdl_bad, json_t **out)
{
	struct sdl_deployment *d = NULL;
	json_t *groups = NULL, *req = NULL, *g;
	size_t i;
	int rc;

	*out = NULL;
	*sdl_bad = 0;
	if ((rc = sdl_parse_file(file, &d, errs)) != 0 ||
	    (rc = sdl_orders_json(d, &groups)) != 0) {
		*sdl_bad = 1;
		goto out;
	}
	json_array_foreach(groups, i, g)
	{
		int64_t dep = deposit;
		json_int_t mp =
		    json_integer_value(json_object_get(g, "max_price"));
		if (dep <= 0 &&
		    (mp <= 0 ||
		        __builtin_mul_overflow((int64_t)mp,
		            (int64_t)TENANT_DEFAULT_DEPOSIT_EPOCHS, &dep))) {
			rc = err_set(ERR_RANGE,
			    "the default deposit of placement %zu "
			    "overflows; give --deposit",
			    i);
			goto out;
		}
		if (json_object_set_new(g, "deposit", json_integer(dep)) ||
		    json_object_set_new(g, "ttl_ms",
		        json_integer(TENANT_DEFAULT_TTL_MS))) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	req = json_pack("{s:s,s:O}", "tenant", c->address, "orders", groups);
	if (req == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = post_quote(c, req, out);
out:
	json_decref(req);
	json_decref(groups);
	sdl_deployment_free(d);
	return rc;
}
