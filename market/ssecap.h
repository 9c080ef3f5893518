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

/* Take a stream for peer (an address as text): 0, or ERR_LIMIT (message
 * set) when it holds MARKET_SSE_PER_ADDR already.  An unparsable peer
 * counts as one address of its own text.  Thread-safe. */
int market_sse_take(const char *peer);

/* Give back a stream taken for peer. */
void market_sse_give(const char *peer);

/* Streams peer holds now. */
unsigned market_sse_held(const char *peer);

#endif
