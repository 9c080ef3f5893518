/*
 * ssecap: a table of client addresses (16 bytes: IPv4-mapped, or an IPv6
 * /64) and the event streams each holds, under one mutex (ssecap.h).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

#include "common/err.h"
#include "market/ssecap.h"

static pthread_mutex_t sse_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint8_t addr[16];
	unsigned n;
	unsigned kick; /* of n, asked to end (market_sse_kick) */
	unsigned claimed; /* of kick, ending (market_sse_kicked) */
} held[MARKET_SSE_ADDRS];

/* The 16-byte key of peer; 1 for the loopback's own (no limit). */
static int
key_of(const char *peer, uint8_t key[16])
{
	struct in_addr a4;
	struct in6_addr a6;

	memset(key, 0, 16);
	if (peer != NULL && inet_pton(AF_INET, peer, &a4) == 1) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &a4, 4);
		return ntohl(a4.s_addr) == INADDR_LOOPBACK;
	}
	if (peer != NULL && inet_pton(AF_INET6, peer, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return 1;
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(key, &a6, 16);
			return key[12] == 127 && key[13] == 0 && key[14] == 0 &&
			    key[15] == 1;
		}
		memcpy(key, &a6, 8); /* one /64: one client */
		return 0;
	}
	/* not an address: its first 16 bytes stand for it */
	if (peer != NULL)
		memcpy(key, peer, strnlen(peer, 16));
	return 0;
}

void
market_addr_key(const char *peer, uint8_t key[16])
{
	(void)key_of(peer, key);
}

static int
slot(const uint8_t key[16], int create)
{
	int i, free_at = -1;

	for (i = 0; i < MARKET_SSE_ADDRS; i++) {
		if (held[i].n == 0) {
			if (free_at < 0)
				free_at = i;
			continue;
		}
		if (memcmp(held[i].addr, key, 16) == 0)
			return i;
	}
	if (create && free_at >= 0)
		memcpy(held[free_at].addr, key, 16);
	return create ? free_at : -1;
}

int
market_sse_take(const char *peer)
{
	uint8_t key[16];
	int i, rc = 0;

	if (key_of(peer, key))
		return 0;
	pthread_mutex_lock(&sse_mu);
	i = slot(key, 1);
	if (i < 0)
		rc = err_set(ERR_LIMIT,
		    "%d client addresses hold this market's event streams "
		    "already; try again later",
		    MARKET_SSE_ADDRS);
	else if (held[i].n >= MARKET_SSE_PER_ADDR)
		rc = err_set(ERR_LIMIT,
		    "%s holds %d event streams of this market already: close "
		    "one first",
		    peer ? peer : "this address", MARKET_SSE_PER_ADDR);
	else
		held[i].n++;
	pthread_mutex_unlock(&sse_mu);
	return rc;
}

void
market_sse_give(const char *peer)
{
	uint8_t key[16];
	int i;

	if (key_of(peer, key))
		return;
	pthread_mutex_lock(&sse_mu);
	if ((i = slot(key, 0)) >= 0 && held[i].n > 0) {
		held[i].n--;
		if (held[i].kick > held[i].n)
			held[i].kick = held[i].n;
		if (held[i].claimed > held[i].kick)
			held[i].claimed = held[i].kick;
	}
	pthread_mutex_unlock(&sse_mu);
}

int
market_sse_kick(const char *peer)
{
	uint8_t key[16];
	unsigned own = 0, most = 0;
	int i, top = -1;

	pthread_mutex_lock(&sse_mu);
	if (!key_of(peer, key) && (i = slot(key, 0)) >= 0)
		own = held[i].n - held[i].kick;
	for (i = 0; i < MARKET_SSE_ADDRS; i++)
		if (held[i].n - held[i].kick > most) {
			most = held[i].n - held[i].kick;
			top = i;
		}
	if (top >= 0 && most >= own + 2)
		held[top].kick++;
	else
		top = -1;
	pthread_mutex_unlock(&sse_mu);
	return top >= 0;
}

int
market_sse_kicked(const char *peer)
{
	uint8_t key[16];
	int i, r = 0;

	if (key_of(peer, key))
		return 0;
	pthread_mutex_lock(&sse_mu);
	if ((i = slot(key, 0)) >= 0 && held[i].kick > held[i].claimed) {
		held[i].claimed++;
		r = 1;
	}
	pthread_mutex_unlock(&sse_mu);
	return r;
}

void
market_sse_give_kicked(const char *peer)
{
	uint8_t key[16];
	int i;

	if (key_of(peer, key))
		return;
	pthread_mutex_lock(&sse_mu);
	if ((i = slot(key, 0)) >= 0 && held[i].n > 0) {
		held[i].n--;
		if (held[i].kick > 0)
			held[i].kick--;
		if (held[i].claimed > 0)
			held[i].claimed--;
	}
	pthread_mutex_unlock(&sse_mu);
}

unsigned
market_sse_held(const char *peer)
{
	uint8_t key[16];
	unsigned n;
	int i;

	if (key_of(peer, key))
		return 0;
	pthread_mutex_lock(&sse_mu);
	i = slot(key, 0);
	n = i >= 0 ? held[i].n : 0;
	pthread_mutex_unlock(&sse_mu);
	return n;
}
