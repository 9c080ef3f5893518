/*
 * ssecap: how many event streams (GET /v1/events, Server-Sent Events) one
 * client address holds open at once, so that a few addresses cannot take
 * every stream of the market's HTTP server, which the providers need to
 * follow the ledger (and so to start any lease).
 */
#ifndef LODGE_MARKET_SSECAP_H
#define LODGE_MARKET_SSECAP_H

#include <stdint.h>

/* Streams one address (IPv4, or IPv6 /64) may hold; the loopback's
 * 127.0.0.1 and ::1 (the host itself, or a reverse proxy on it) have no
 * limit of their own. */
#define MARKET_SSE_PER_ADDR 32
/* Addresses holding streams at once (the server holds 512 streams). */
#define MARKET_SSE_ADDRS 512

/* Streams the market admits at once before it makes room for a new one
 * (market_sse_kick); the server holds 512, the rest covers the streams
 * asked to end that have not ended yet (each ends within about 1 s). */
#define MARKET_SSE_BUDGET 448

/* The 16-byte key that stands for the client at peer (an address as
 * text): an IPv4 address (IPv4-mapped), the /64 of an IPv6 one (one
 * client holds a /64), or the first 16 bytes of a text that is neither.
 * The per-address limits (streams here, quotes and SDL checks in
 * market/api.c) count by it. */
void market_addr_key(const char *peer, uint8_t key[16]);

/* Take a stream for peer (an address as text): 0, or ERR_LIMIT (message
 * set) when it holds MARKET_SSE_PER_ADDR already.  An unparsable peer
 * counts as one address of its own text.  Thread-safe. */
int market_sse_take(const char *peer);

/* Give back a stream taken for peer. */
void market_sse_give(const char *peer);

/* Make room for a stream of peer when the market's streams are all
 * taken: ask one stream of the address holding the most (less those
 * already asked) to end, when it holds at least 2 more than peer (the
 * loopback, untracked, counts as 0), so no address is pushed below an
 * even share and one holding a single stream is never asked.  1: one was
 * asked (market_sse_kicked tells it), 0: none can be.  Thread-safe. */
int market_sse_kick(const char *peer);

/* Was one of peer's streams asked to end?  1 once per ask (the caller's
 * stream then ends and gives its place back), else 0.  Thread-safe. */
int market_sse_kicked(const char *peer);

/* Give back a stream of peer that market_sse_kicked told to end. */
void market_sse_give_kicked(const char *peer);

/* Streams peer holds now. */
unsigned market_sse_held(const char *peer);

#endif
