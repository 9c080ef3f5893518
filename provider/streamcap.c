/*
 * streamcap: tables of tenants and what each holds (streams open,
 * requests in progress; see streamcap.h), under one mutex; a slot is
 * free when it holds none.
 */
#include <pthread.h>
#include <string.h>

#include "common/err.h"
#include "provider/streamcap.h"

static pthread_mutex_t cap_mu = PTHREAD_MUTEX_INITIALIZER;
struct holder {
	uint8_t key[KEY_PUB_LEN];
	unsigned n;
};
static struct holder streams[STREAMCAP_TENANTS], busy[STREAMCAP_TENANTS];

/* The slot of tenant in held, or a free one (create), or -1 (under
 * cap_mu). */
static int
slot(struct holder *held, const uint8_t tenant[KEY_PUB_LEN], int create)
{
	int i, free_at = -1;

	for (i = 0; i < STREAMCAP_TENANTS; i++) {
		if (held[i].n == 0) {
			if (free_at < 0)
				free_at = i;
			continue;
		}
		if (memcmp(held[i].key, tenant, KEY_PUB_LEN) == 0)
			return i;
	}
	if (create && free_at >= 0)
		memcpy(held[free_at].key, tenant, KEY_PUB_LEN);
	return create ? free_at : -1;
}

/* One more of held for tenant, up to max: 0, or -1. */
static int
take(struct holder *held, const uint8_t tenant[KEY_PUB_LEN], unsigned max)
{
	int i, rc = 0;

	pthread_mutex_lock(&cap_mu);
	i = slot(held, tenant, 1);
	if (i < 0 || held[i].n >= max)
		rc = -1;
	else
		held[i].n++;
	pthread_mutex_unlock(&cap_mu);
	return rc;
}

static void
give(struct holder *held, const uint8_t tenant[KEY_PUB_LEN])
{
	int i;

	pthread_mutex_lock(&cap_mu);
	if ((i = slot(held, tenant, 0)) >= 0 && held[i].n > 0)
		held[i].n--;
	pthread_mutex_unlock(&cap_mu);
}

static unsigned
count(struct holder *held, const uint8_t tenant[KEY_PUB_LEN])
{
	unsigned n;
	int i;

	pthread_mutex_lock(&cap_mu);
	i = slot(held, tenant, 0);
	n = i >= 0 ? held[i].n : 0;
	pthread_mutex_unlock(&cap_mu);
	return n;
}

int
streamcap_take(const uint8_t tenant[KEY_PUB_LEN])
{
	if (take(streams, tenant, STREAMCAP_PER_TENANT) < 0)
		return err_set(ERR_LIMIT,
		    "this tenant follows %d streams (logs, events) on this "
		    "provider already: close one first",
		    STREAMCAP_PER_TENANT);
	return 0;
}

void
streamcap_give(const uint8_t tenant[KEY_PUB_LEN])
{
	give(streams, tenant);
}

unsigned
streamcap_held(const uint8_t tenant[KEY_PUB_LEN])
{
	return count(streams, tenant);
}

int
streamcap_busy_take(const uint8_t tenant[KEY_PUB_LEN])
{
	if (take(busy, tenant, STREAMCAP_BUSY_PER_TENANT) < 0)
		return err_set(ERR_LIMIT,
		    "this tenant's leases have %d requests in progress on "
		    "this provider already (its services answer slowly?): "
		    "try again",
		    STREAMCAP_BUSY_PER_TENANT);
	return 0;
}

void
streamcap_busy_give(const uint8_t tenant[KEY_PUB_LEN])
{
	give(busy, tenant);
}

unsigned
streamcap_busy_held(const uint8_t tenant[KEY_PUB_LEN])
{
	return count(busy, tenant);
}
