/*
 * wasm_wire: the framing between the provider's gateway and the sandboxed
 * `provider wasm serve` workers that run its HTTP functions.  Pure
 * encoding and decoding (no I/O), so it is tested and fuzzed directly.
 *
 * A frame is a 12-byte header (magic "LWG1", type, payload length; all
 * little-endian u32) and a payload.  Strings are a u32 length, the bytes
 * and a NUL (no NUL inside); byte strings a u32 length and the bytes.
 * The control channel (a SOCK_SEQPACKET socket, the supervisor's stdin)
 * carries fixed 16-byte messages, WASM_CTL_ADD with one fd (SCM_RIGHTS).
 * A worker socket serves one worker's lifetime: when the worker dies the
 * supervisor writes DIED and closes it, and the gateway hands over a new
 * socket for the slot (WASM_CTL_ADD again), so a stream cut mid-frame is
 * never read again.
 */
#ifndef LODGE_PROVIDER_WASM_WIRE_H
#define LODGE_PROVIDER_WASM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "wasm/run.h"
#include "wasm/wagi.h"

#define WASM_WIRE_MAGIC 0x3147574cu /* "LWG1" */
#define WASM_WIRE_HEADER 12u
#define WASM_WIRE_MAX (WASM_WAGI_MAX_OUTPUT + (48u << 20))
/* A REPLY is at most the module's output and a little more. */
#define WASM_WIRE_MAX_REPLY (WASM_WAGI_MAX_OUTPUT + 4096u)
#define WASM_WIRE_MAX_HEADERS 256u

enum wasm_wire_type {
	WASM_WIRE_REQUEST = 1, /* gateway -> worker */
	WASM_WIRE_REPLY = 2, /* worker -> gateway */
	WASM_WIRE_DIED = 3, /* supervisor -> gateway: the worker of
	                              this socket died (and was replaced);
	                              with the request it was running */
};

/* Control messages (gateway -> supervisor). */
enum wasm_ctl_op {
	WASM_CTL_ADD = 1, /* fd attached: a new worker for slot
	                              (an old one there is killed) */
	WASM_CTL_KILL = 2, /* SIGKILL the worker of slot if it runs
	                              request seq (seq 0: whatever it does) */
};

struct wasm_ctl_msg {
	uint32_t op;
	uint32_t slot;
	uint64_t seq;
};

#define WASM_POOL_MAX_WORKERS 64u

/* A decoded request; every pointer borrows the payload it came from. */
struct wasm_wire_request {
	uint64_t seq;
	struct wasm_run_limits limits; /* wall_ms: informational */
	struct wasm_wagi_request q; /* q.env is NULL */
	struct wasm_wagi_header *headers; /* owned */
};

/* A decoded reply; out borrows the payload. */
struct wasm_wire_reply {
	uint64_t seq;
	struct wasm_outcome oc;
	struct wasm_usage u;
	const uint8_t *out; /* the module's stdout */
	size_t out_len;
};

/* Parse a frame header; ERR_INVAL on a bad magic, type or length. */
int wasm_wire_header(const uint8_t h[WASM_WIRE_HEADER], uint32_t *type,
    uint32_t *len);

/* Whole frames (header and payload) in *buf (owned by the caller, free()). */
int wasm_wire_request_encode(uint64_t seq, const struct wasm_wagi_request *q,
    const struct wasm_run_limits *l, uint8_t **buf, size_t *len);
int wasm_wire_reply_encode(uint64_t seq, const struct wasm_outcome *oc,
    const struct wasm_usage *u, const uint8_t *out, size_t out_len,
    uint8_t **buf, size_t *len);
/* DIED: the worker's wait status and the seq of the request it was
 * running (0: it died idle), into a fixed 24-byte frame. */
#define WASM_WIRE_DIED_FRAME 24u
void wasm_wire_died_encode(int32_t status, uint64_t seq,
    uint8_t frame[WASM_WIRE_DIED_FRAME]);

/* Payloads (after the header).  ERR_INVAL names the field that is wrong;
 * on success free the request with wasm_wire_request_clear. */
int wasm_wire_request_decode(const uint8_t *p, size_t len,
    struct wasm_wire_request *out);
void wasm_wire_request_clear(struct wasm_wire_request *r);
int wasm_wire_reply_decode(const uint8_t *p, size_t len,
    struct wasm_wire_reply *out);
int wasm_wire_died_decode(const uint8_t *p, size_t len, int32_t *status,
    uint64_t *seq);

#endif
