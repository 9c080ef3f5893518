/*
 * streamcap: a table of tenants and the streams each holds open (see
 * streamcap.h), under one mutex; a slot is free when it holds none.
 */
#include <pthread.h>
#include <string.h>

#include "common/err.h"
#include "provider/streamcap.h"

static pthread_mutex_t cap_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint8_t key[KEY_PUB_LEN];
	unsigned n;
} held[STREAMCAP_TENANTS];

/* The slot of tenant, or a free one (create), or -1 (under cap_mu). */
static int
slot(const uint8_t tenant[KEY_PUB_LEN], int create)
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

int
streamcap_take(const uint8_t tenant[KEY_PUB_LEN])
{
	int i, rc = 0;

	pthread_mutex_lock(&cap_mu);
	i = slot(tenant, 1);
	if (i < 0 || held[i].n >= STREAMCAP_PER_TENANT)
		rc = err_set(ERR_LIMIT,
		    "this tenant follows %d streams (logs, events) on this "
		    "provider already: close one first",
		    STREAMCAP_PER_TENANT);
	else
		held[i].n++;
	pthread_mutex_unlock(&cap_mu);
	return rc;
}

void
streamcap_give(const uint8_t tenant[KEY_PUB_LEN])
{
	int i;

	pthread_mutex_lock(&cap_mu);
	if ((i = slot(tenant, 0)) >= 0 && held[i].n > 0)
		held[i].n--;
	pthread_mutex_unlock(&cap_mu);
}

unsigned
streamcap_held(const uint8_t tenant[KEY_PUB_LEN])
{
	unsigned n;
	int i;

	pthread_mutex_lock(&cap_mu);
	i = slot(tenant, 0);
	n = i >= 0 ? held[i].n : 0;
	pthread_mutex_unlock(&cap_mu);
	return n;
}
