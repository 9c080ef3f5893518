/*
 * wasm_wire: frames between the gateway and the sandboxed wasm workers
 * (see wasm/wire.h).  Decoding trusts nothing: every length is checked
 * against what is left, and strings must end in their NUL.
 */
#include "wasm/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* ---- encoding ---- */

struct enc {
	uint8_t *b;
	size_t len, cap;
	int failed;
};

static void
put(struct enc *e, const void *d, size_t n)
{
	if (e->failed)
		return;
	if (e->len + n > e->cap) {
		size_t cap = e->cap ? e->cap : 256;
		while (cap < e->len + n)
			cap *= 2;
		uint8_t *nb = realloc(e->b, cap);
		if (!nb) {
			e->failed = 1;
			return;
		}
		e->b = nb;
		e->cap = cap;
	}
	if (n)
		memcpy(e->b + e->len, d, n);
	e->len += n;
}

static void
put_u32(struct enc *e, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
		(uint8_t)(v >> 24) };
	put(e, b, 4);
}

static void
put_u64(struct enc *e, uint64_t v)
{
	put_u32(e, (uint32_t)v);
	put_u32(e, (uint32_t)(v >> 32));
}

static void
put_bytes(struct enc *e, const void *d, size_t n)
{
	if (n > UINT32_MAX) {
		e->failed = 1;
		return;
	}
	put_u32(e, (uint32_t)n);
	put(e, d, n);
}

/* A NULL string is encoded as length 0xffffffff. */
static void
put_str(struct enc *e, const char *s)
{
	if (!s) {
		put_u32(e, UINT32_MAX);
		return;
	}
	put_bytes(e, s, strlen(s));
	put(e, "", 1);
}

static void
begin(struct enc *e, uint32_t type)
{
	memset(e, 0, sizeof(*e));
	put_u32(e, WASM_WIRE_MAGIC);
	put_u32(e, type);
	put_u32(e, 0);
}

static int
finish(struct enc *e, uint8_t **buf, size_t *len)
{
	if (!e->failed && e->len - WASM_WIRE_HEADER > WASM_WIRE_MAX) {
		free(e->b);
		return err_set(ERR_LIMIT,
		    "wasm frame of %zu bytes is over the "
		    "limit (%u)",
		    e->len, WASM_WIRE_MAX);
	}
	if (e->failed) {
		free(e->b);
		return err_set(ERR_NOMEM, "out of memory");
	}
	uint32_t n = (uint32_t)(e->len - WASM_WIRE_HEADER);
	e->b[8] = (uint8_t)n;
	e->b[9] = (uint8_t)(n >> 8);
	e->b[10] = (uint8_t)(n >> 16);
	e->b[11] = (uint8_t)(n >> 24);
	*buf = e->b;
	*len = e->len;
	return 0;
}

int
wasm_wire_request_encode(uint64_t seq, const struct wasm_wagi_request *q,
    const struct wasm_run_limits *l, uint8_t **buf, size_t *len)
{
	struct enc e;
	begin(&e, WASM_WIRE_REQUEST);
	put_u64(&e, seq);
	put_u64(&e, (uint64_t)l->fuel);
	put_u64(&e, l->memory_bytes);
	put_u64(&e, l->wall_ms);
	put_str(&e, q->method);
	put_str(&e, q->path);
	put_str(&e, q->query);
	put_str(&e, q->script_name);
	put_str(&e, q->server_name);
	put_str(&e, q->server_port);
	put_str(&e, q->remote_addr);
	if (q->nheaders > WASM_WIRE_MAX_HEADERS) {
		free(e.b);
		return err_set(ERR_LIMIT, "more than %u request headers",
		    WASM_WIRE_MAX_HEADERS);
	}
	put_u32(&e, (uint32_t)q->nheaders);
	for (size_t i = 0; i < q->nheaders; i++) {
		put_str(&e, q->headers[i].name);
		put_str(&e, q->headers[i].value);
	}
	put_bytes(&e, q->body, q->body ? q->body_len : 0);
	return finish(&e, buf, len);
}

int
wasm_wire_reply_encode(uint64_t seq, const struct wasm_outcome *oc,
    const struct wasm_usage *u, const uint8_t *out, size_t out_len,
    uint8_t **buf, size_t *len)
{
	struct enc e;
	begin(&e, WASM_WIRE_REPLY);
	put_u64(&e, seq);
	put_u32(&e, (uint32_t)oc->trap);
	put_u32(&e, (uint32_t)oc->out_of_fuel);
	put_u32(&e, (uint32_t)oc->timed_out);
	put_u32(&e, (uint32_t)oc->exit_code);
	put_str(&e, oc->message);
	put_u64(&e, u->fuel);
	put_u64(&e, u->cpu_ms);
	put_u64(&e, u->wall_ms);
	put_u64(&e, u->mem_peak_bytes);
	put_u64(&e, u->bytes_in);
	put_u64(&e, u->bytes_out);
	put_bytes(&e, out, out ? out_len : 0);
	return finish(&e, buf, len);
}

static void
le32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

void
wasm_wire_died_encode(int32_t status, uint64_t seq,
    uint8_t frame[WASM_WIRE_DIED_FRAME])
{
	le32(frame, WASM_WIRE_MAGIC);
	le32(frame + 4, WASM_WIRE_DIED);
	le32(frame + 8, WASM_WIRE_DIED_FRAME - WASM_WIRE_HEADER);
	le32(frame + 12, (uint32_t)status);
	le32(frame + 16, (uint32_t)seq);
	le32(frame + 20, (uint32_t)(seq >> 32));
}

/* ---- decoding ---- */

struct dec {
	const uint8_t *p;
	size_t left;
	const char *field; /* the first field that did not fit */
};

static uint32_t
rd32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
}

static int
get_u32(struct dec *d, const char *field, uint32_t *v)
{
	if (d->field)
		return -1;
	if (d->left < 4) {
		d->field = field;
		return -1;
	}
	*v = rd32(d->p);
	d->p += 4;
	d->left -= 4;
	return 0;
}

static int
get_u64(struct dec *d, const char *field, uint64_t *v)
{
	uint32_t lo = 0, hi = 0;
	if (get_u32(d, field, &lo) < 0 || get_u32(d, field, &hi) < 0)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

static int
get_bytes(struct dec *d, const char *field, const uint8_t **b, size_t *n)
{
	uint32_t len = 0;
	if (get_u32(d, field, &len) < 0)
		return -1;
	if (len > d->left) {
		d->field = field;
		return -1;
	}
	*b = d->p;
	*n = len;
	d->p += len;
	d->left -= len;
	return 0;
}

/* A string: NUL-terminated, no NUL inside; NULL when so encoded. */
static int
get_str(struct dec *d, const char *field, const char **s)
{
	uint32_t len = 0;
	if (get_u32(d, field, &len) < 0)
		return -1;
	if (len == UINT32_MAX) {
		*s = NULL;
		return 0;
	}
	if (d->left < 1 || len > d->left - 1 || d->p[len] != 0 ||
	    memchr(d->p, 0, len)) {
		d->field = field;
		return -1;
	}
	*s = (const char *)d->p;
	d->p += (size_t)len + 1;
	d->left -= (size_t)len + 1;
	return 0;
}

static int
dec_fail(const struct dec *d, const char *what)
{
	if (d->field)
		return err_set(ERR_INVAL,
		    "wasm %s frame: %s is truncated or "
		    "malformed",
		    what, d->field);
	return err_set(ERR_INVAL,
	    "wasm %s frame: %zu bytes after the last "
	    "field",
	    what, d->left);
}

int
wasm_wire_header(const uint8_t h[WASM_WIRE_HEADER], uint32_t *type,
    uint32_t *len)
{
	if (rd32(h) != WASM_WIRE_MAGIC)
		return err_set(ERR_INVAL, "wasm frame: bad magic %08x",
		    rd32(h));
	*type = rd32(h + 4);
	*len = rd32(h + 8);
	if (*type < WASM_WIRE_REQUEST || *type > WASM_WIRE_DIED)
		return err_set(ERR_INVAL, "wasm frame: unknown type %u", *type);
	if (*len > WASM_WIRE_MAX)
		return err_set(ERR_INVAL,
		    "wasm frame: length %u over the "
		    "limit (%u)",
		    *len, WASM_WIRE_MAX);
	return 0;
}

void
wasm_wire_request_clear(struct wasm_wire_request *r)
{
	if (!r)
		return;
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

int
wasm_wire_request_decode(const uint8_t *p, size_t len,
    struct wasm_wire_request *r)
{
	struct dec d = { p, len, NULL };
	struct wasm_wagi_request *q = &r->q;
	uint64_t fuel = 0;
	uint32_t nh = 0;
	const uint8_t *body = NULL;
	size_t body_len = 0;

	memset(r, 0, sizeof(*r));
	get_u64(&d, "seq", &r->seq);
	get_u64(&d, "fuel", &fuel);
	get_u64(&d, "memory", &r->limits.memory_bytes);
	get_u64(&d, "deadline", &r->limits.wall_ms);
	get_str(&d, "method", &q->method);
	get_str(&d, "path", &q->path);
	get_str(&d, "query", &q->query);
	get_str(&d, "script_name", &q->script_name);
	get_str(&d, "server_name", &q->server_name);
	get_str(&d, "server_port", &q->server_port);
	get_str(&d, "remote_addr", &q->remote_addr);
	if (get_u32(&d, "header count", &nh) == 0 && nh > WASM_WIRE_MAX_HEADERS)
		d.field = "header count";
	if (d.field)
		return dec_fail(&d, "request");
	r->limits.fuel = (int64_t)fuel;
	if (nh && !(r->headers = calloc(nh, sizeof(*r->headers))))
		return err_set(ERR_NOMEM, "out of memory");
	for (uint32_t i = 0; i < nh; i++) {
		get_str(&d, "header name", &r->headers[i].name);
		get_str(&d, "header value", &r->headers[i].value);
		if (!d.field && (!r->headers[i].name || !r->headers[i].value))
			d.field = "header";
	}
	get_bytes(&d, "body", &body, &body_len);
	if (d.field || d.left) {
		int rc = dec_fail(&d, "request");
		wasm_wire_request_clear(r);
		return rc;
	}
	if (!q->method || !q->path) {
		wasm_wire_request_clear(r);
		return err_set(ERR_INVAL,
		    "wasm request frame: no method or "
		    "path");
	}
	q->headers = r->headers;
	q->nheaders = nh;
	q->body = body;
	q->body_len = body_len;
	return 0;
}

int
wasm_wire_reply_decode(const uint8_t *p, size_t len, struct wasm_wire_reply *r)
{
	struct dec d = { p, len, NULL };
	uint32_t trap = 0, oof = 0, tmo = 0, code = 0;
	const char *msg = NULL;

	memset(r, 0, sizeof(*r));
	get_u64(&d, "seq", &r->seq);
	get_u32(&d, "trap", &trap);
	get_u32(&d, "out_of_fuel", &oof);
	get_u32(&d, "timed_out", &tmo);
	get_u32(&d, "exit_code", &code);
	get_str(&d, "message", &msg);
	get_u64(&d, "fuel", &r->u.fuel);
	get_u64(&d, "cpu_ms", &r->u.cpu_ms);
	get_u64(&d, "wall_ms", &r->u.wall_ms);
	get_u64(&d, "mem_peak_bytes", &r->u.mem_peak_bytes);
	get_u64(&d, "bytes_in", &r->u.bytes_in);
	get_u64(&d, "bytes_out", &r->u.bytes_out);
	get_bytes(&d, "stdout", &r->out, &r->out_len);
	if (d.field || d.left)
		return dec_fail(&d, "reply");
	if (r->out_len > WASM_WAGI_MAX_OUTPUT)
		return err_set(ERR_LIMIT,
		    "wasm reply frame: %zu bytes of "
		    "output, over the limit (%u)",
		    r->out_len, WASM_WAGI_MAX_OUTPUT);
	if (trap > 255 || oof > 1 || tmo > 1)
		return err_set(ERR_INVAL,
		    "wasm reply frame: bad outcome "
		    "(trap %u)",
		    trap);
	r->oc.trap = (int)trap;
	r->oc.out_of_fuel = (int)oof;
	r->oc.timed_out = (int)tmo;
	r->oc.exit_code = (int)(int32_t)code;
	snprintf(r->oc.message, sizeof(r->oc.message), "%s", msg ? msg : "");
	r->u.requests = 1;
	return 0;
}

int
wasm_wire_died_decode(const uint8_t *p, size_t len, int32_t *status,
    uint64_t *seq)
{
	if (len != WASM_WIRE_DIED_FRAME - WASM_WIRE_HEADER)
		return err_set(ERR_INVAL,
		    "wasm died frame: %zu bytes, "
		    "expected %u",
		    len, WASM_WIRE_DIED_FRAME - WASM_WIRE_HEADER);
	*status = (int32_t)rd32(p);
	*seq = (uint64_t)rd32(p + 8) << 32 | rd32(p + 4);
	return 0;
}
