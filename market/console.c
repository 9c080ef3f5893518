/*
 * console: the Lodge Console's static files (console/ in the repository)
 * served by the market at "/" and "/console/NAME", and POST /v1/sdl/check,
 * the SDL validator the console's deploy page asks (docs/console.md).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/util.h"
#include "market/market_internal.h"
#include "sdl/sdl.h"

#define CONSOLE_MAX_FILE (4 * 1024 * 1024)

/* The same policy on every answer of the console: scripts, styles and
 * images from the market's own origin only (no inline script or style,
 * no eval), no plugins, no framing; connections also to providers (the
 * deploy page delivers manifests and reads status and logs from them).
 * Must fit extra_headers with the Cache-Control line and gzip's two. */
#define CONSOLE_HEADERS                                                  \
	"Content-Security-Policy: default-src 'self'; "                  \
	"connect-src 'self' http: https:; "                              \
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'\r\n" \
	"X-Content-Type-Options: nosniff\r\n"                            \
	"Referrer-Policy: no-referrer\r\n"
#define GZIP_HEADERS "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n"
#define CONSOLE_CACHE "Cache-Control: no-cache\r\n"
_Static_assert(sizeof(CONSOLE_CACHE CONSOLE_HEADERS GZIP_HEADERS) <=
        sizeof(((struct http_response *)0)->extra_headers),
    "the console's headers must fit extra_headers");

static const struct {
	const char *ext, *type;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".json", "application/json" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".yaml", "text/plain; charset=utf-8" },
};

const char *
market_console_type(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t e = strlen(types[i].ext);
		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return NULL;
}

int
market_console_name_ok(const char *name)
{
	size_t seg = 0;

	if (*name == '\0' || strlen(name) > 128)
		return 0;
	for (const char *c = name; *c; c++) {
		if (*c == '/') {
			/* one level of folder ("vendor/x.js"), never empty */
			if (seg == 0 || c[1] == '\0' ||
			    strchr(c + 1, '/') != NULL)
				return 0;
			seg = 0;
			continue;
		}
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		        (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' ||
		        (*c == '.' && seg > 0)))
			return 0; /* no leading dot: no "..", no ".git" */
		seg++;
	}
	return market_console_type(name) != NULL;
}

char *
market_console_default_dir(void)
{
	char exe[PATH_MAX], *slash, *dir = NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	/* bin/market -> console/ beside bin/ (the source tree), else
	 * share/lodge/console beside bin/ (`make install`) */
	for (int i = 0; i < 2; i++) {
		if ((slash = strrchr(exe, '/')) == NULL)
			return NULL;
		*slash = '\0';
	}
	for (int i = 0; i < 2; i++) {
		char index[PATH_MAX + 32];

		free(dir);
		if (asprintf(&dir, "%s/%s", exe,
		        i == 0 ? "console" : "share/lodge/console") < 0)
			return NULL;
		snprintf(index, sizeof(index), "%s/index.html", dir);
		if (access(index, R_OK) == 0)
			return dir;
	}
	return dir;
}

void
market_console_serve(struct market *m, const char *path,
    struct http_response *resp)
{
	const char *name;
	char file[PATH_MAX], *data = NULL;
	size_t len;

	if (m->console_dir == NULL) {
		http_respond_error(resp, 404,
		    "this market serves no console (start it with "
		    "--console DIR)");
		return;
	}
	if (strcmp(path, "/") == 0 || strcmp(path, "/console/") == 0)
		name = "index.html";
	else
		name = path + strlen("/console/");
	if (!market_console_name_ok(name)) {
		http_respond_error(resp, 404, "no such console file '%s'",
		    name);
		return;
	}
	if ((size_t)snprintf(file, sizeof(file), "%s/%s", m->console_dir,
	        name) >= sizeof(file) ||
	    util_read_file(file, CONSOLE_MAX_FILE, &data, &len) < 0) {
		http_respond_error(resp, 404, "no such console file '%s'",
		    name);
		return;
	}
	resp->status = 200;
	resp->body = data;
	resp->body_len = len;
	resp->content_type = market_console_type(name);
	/* files change with the market's version: revalidate each load
	 * (no-cache), which costs a loopback round trip, not a transfer
	 * budget worth an ETag scheme */
	snprintf(resp->extra_headers, sizeof(resp->extra_headers),
	    CONSOLE_CACHE CONSOLE_HEADERS);
}

static json_t *
strings_json(char **items, size_t n, size_t dropped, const char *what)
{
	json_t *a = json_array();
	char more[96];

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(items[i]));
	if (a != NULL && dropped > 0) {
		snprintf(more, sizeof(more), "... and %zu more %s", dropped,
		    what);
		json_array_append_new(a, json_string(more));
	}
	return a;
}

void
market_sdl_check(struct market *m, const struct http_request *req,
    struct http_response *resp)
{
	const char *name = http_query(req, "name");
	struct sdl_deployment *d = NULL;
	struct sdl_errors errs = { 0 };
	json_t *o, *orders = NULL, *manifest = NULL;
	char *mtext = NULL;
	uint8_t h[32];
	char hex[65] = "";
	unsigned flags = 0;
	int rc;

	(void)m;
	if (name == NULL || *name == '\0')
		name = "deploy.yaml";
	if (http_query(req, "strict") != NULL)
		flags |= SDL_PARSE_STRICT;
	rc = sdl_parse_buffer_flags(name, req->body, req->body_len, flags, &d,
	    &errs);
	if (rc == 0 &&
	    (sdl_manifest_hash(d, h) < 0 || sdl_orders_json(d, &orders) < 0 ||
	        sdl_manifest_json(d, &manifest) < 0 ||
	        cjson_dump(manifest, &mtext, NULL) < 0))
		rc = err_set(ERR_INVAL, "%s: %s", name, err_msg());
	if (rc == 0)
		hex_encode(h, 32, hex);
	o = json_pack("{s:b,s:o,s:o}", "ok", rc == 0, "errors",
	    strings_json(errs.items, errs.count, errs.dropped, "errors"),
	    "warnings",
	    strings_json(errs.warnings, errs.nwarnings, errs.wdropped,
	        "warnings"));
	if (o != NULL && rc < 0 && errs.count == 0)
		json_array_append_new(json_object_get(o, "errors"),
		    json_pack("s+", "sdl: ", err_msg()));
	if (o != NULL && rc == 0) {
		json_object_set_new(o, "manifest_hash", json_string(hex));
		json_object_set(o, "orders", orders);
		/* the exact bytes to deliver: their sha256 is manifest_hash */
		json_object_set_new(o, "manifest_text", json_string(mtext));
	}
	json_decref(orders);
	json_decref(manifest);
	free(mtext);
	sdl_deployment_free(d);
	sdl_errors_free(&errs);
	{
		char *text = NULL;
		if (o == NULL || cjson_dump(o, &text, NULL) < 0) {
			json_decref(o);
			http_respond_error(resp, 500,
			    "cannot serialise the response");
			return;
		}
		json_decref(o);
		http_respond(resp, 200, text);
	}
}

/* Accept-Encoding lists gzip with a q other than 0. */
static int
accepts_gzip(const char *ae)
{
	const char *p = ae;

	while (p != NULL && (p = strcasestr(p, "gzip")) != NULL) {
		const char *e = p + 4;
		if ((p == ae || p[-1] == ' ' || p[-1] == ',') &&
		    (*e == '\0' || *e == ',' || *e == ';' || *e == ' ')) {
			const char *q = strchr(e, ',');
			const char *qv = strstr(e, "q=");
			return !(qv != NULL && (q == NULL || qv < q) &&
			    strtod(qv + 2, NULL) == 0.0);
		}
		p = e;
	}
	return 0;
}

void
market_gzip(const struct http_request *req, struct http_response *resp)
{
	const char *ae = http_header(req, "Accept-Encoding");
	size_t used = strlen(resp->extra_headers);
	z_stream z = { 0 };
	uLong cap;
	char *out;

	if (ae == NULL || resp->stream != NULL || resp->status != 200 ||
	    resp->body == NULL || resp->body_len < 1024 ||
	    used + sizeof(GZIP_HEADERS) > sizeof(resp->extra_headers) ||
	    !accepts_gzip(ae))
		return;
	/* windowBits 15 + 16: a gzip wrapper */
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return;
	cap = deflateBound(&z, resp->body_len);
	if ((out = malloc(cap)) == NULL) {
		deflateEnd(&z);
		return;
	}
	z.next_in = (Bytef *)resp->body;
	z.avail_in = (uInt)resp->body_len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return;
	}
	free(resp->body);
	resp->body = out;
	resp->body_len = z.total_out;
	deflateEnd(&z);
	memcpy(resp->extra_headers + used, GZIP_HEADERS, sizeof(GZIP_HEADERS));
}
