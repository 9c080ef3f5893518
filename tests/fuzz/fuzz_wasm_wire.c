/*
 * fuzz_wasm_wire: arbitrary bytes as the payloads of the frames between
 * the gateway and the sandboxed wasm workers (wasm/wire.h).  The
 * first byte picks the frame type; whatever decodes must encode again and
 * decode to the same request or reply.  Seeds in
 * tests/fuzz/corpus/wasm_wire/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void
request(const uint8_t *p, size_t len)
{
	struct wasm_wire_request a, b;
	uint8_t *buf;
	size_t blen;
	uint32_t type, plen;

	if (wasm_wire_request_decode(p, len, &a) < 0)
		return;
	if (wasm_wire_request_encode(a.seq, &a.q, &a.limits, &buf, &blen) < 0)
		abort();
	if (wasm_wire_header(buf, &type, &plen) < 0 ||
	    type != WASM_WIRE_REQUEST || plen != len ||
	    memcmp(buf + WASM_WIRE_HEADER, p, len) != 0 ||
	    wasm_wire_request_decode(buf + WASM_WIRE_HEADER, plen, &b) < 0)
		abort();
	if (a.seq != b.seq || a.limits.fuel != b.limits.fuel ||
	    !same_str(a.q.method, b.q.method) ||
	    !same_str(a.q.query, b.q.query) || a.q.nheaders != b.q.nheaders ||
	    a.q.body_len != b.q.body_len)
		abort();
	for (size_t i = 0; i < a.q.nheaders; i++)
		if (!same_str(a.q.headers[i].name, b.q.headers[i].name) ||
		    !same_str(a.q.headers[i].value, b.q.headers[i].value))
			abort();
	wasm_wire_request_clear(&a);
	wasm_wire_request_clear(&b);
	free(buf);
}

static void
reply(const uint8_t *p, size_t len)
{
	struct wasm_wire_reply a, b;
	uint8_t *buf;
	size_t blen;

	if (wasm_wire_reply_decode(p, len, &a) < 0)
		return;
	if (wasm_wire_reply_encode(a.seq, &a.oc, &a.u, a.out, a.out_len, &buf,
	        &blen) < 0)
		abort();
	if (wasm_wire_reply_decode(buf + WASM_WIRE_HEADER,
	        blen - WASM_WIRE_HEADER, &b) < 0 ||
	    a.seq != b.seq || a.oc.trap != b.oc.trap ||
	    a.oc.exit_code != b.oc.exit_code ||
	    strcmp(a.oc.message, b.oc.message) != 0 || a.u.fuel != b.u.fuel ||
	    a.out_len != b.out_len ||
	    (a.out_len && memcmp(a.out, b.out, a.out_len) != 0))
		abort();
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t type, plen;
	int32_t st;
	uint64_t seq;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		request(data + 1, size - 1);
		break;
	case 1:
		reply(data + 1, size - 1);
		break;
	case 2:
		(void)wasm_wire_died_decode(data + 1, size - 1, &st, &seq);
		break;
	default:
		if (size >= 1 + WASM_WIRE_HEADER)
			(void)wasm_wire_header(data + 1, &type, &plen);
		break;
	}
	return 0;
}
