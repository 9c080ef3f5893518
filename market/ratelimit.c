/*
 * ratelimit: per-key token buckets in a chained hash table (see
 * ratelimit.h).  Buckets are refilled lazily from the time of their last
 * use; a refilled bucket carries no information, so it may be dropped.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "market/ratelimit.h"

#define RL_SLOTS 4096

struct rl_entry {
	struct rl_entry *next;
	uint8_t key[KEY_PUB_LEN];
	double tokens;
	int64_t last_ms;
};

struct ratelimit {
	pthread_mutex_t mu;
	double rate, burst; /* tokens per ms, at most */
	size_t max_keys, n;
	struct rl_entry *slots[RL_SLOTS];
};

int
ratelimit_new(double rate, double burst, size_t max_keys,
    struct ratelimit **out)
{
	struct ratelimit *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	pthread_mutex_init(&r->mu, NULL);
	r->rate = rate > 0 ? rate / 1000.0 : 0;
	r->burst = burst >= 1 ? burst : 1;
	r->max_keys = max_keys > 0 ? max_keys : 1;
	*out = r;
	return 0;
}

void
ratelimit_free(struct ratelimit *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < RL_SLOTS; i++)
		for (struct rl_entry *e = r->slots[i], *n; e != NULL; e = n) {
			n = e->next;
			free(e);
		}
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static size_t
slot_of(const uint8_t key[KEY_PUB_LEN])
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (size_t i = 0; i < KEY_PUB_LEN; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	return (size_t)(h % RL_SLOTS);
}

static double
refilled(const struct ratelimit *r, const struct rl_entry *e, int64_t now)
{
	double t = e->tokens;

	if (now > e->last_ms)
		t += (double)(now - e->last_ms) * r->rate;
	return t > r->burst ? r->burst : t;
}

/* Drop the entries whose bucket is full again; under mu. */
static void
sweep(struct ratelimit *r, int64_t now)
{
	for (size_t i = 0; i < RL_SLOTS; i++)
		for (struct rl_entry **pp = &r->slots[i], *e; (e = *pp);) {
			if (refilled(r, e, now) >= r->burst) {
				*pp = e->next;
				free(e);
				r->n--;
			} else {
				pp = &e->next;
			}
		}
}

static int64_t
wait_ms(const struct ratelimit *r, double tokens)
{
	int64_t ms = (int64_t)((1.0 - tokens) / r->rate) + 1;

	return ms > 0 ? ms : 1;
}

static int64_t
use(struct ratelimit *r, const uint8_t key[KEY_PUB_LEN], int64_t now, int take)
{
	size_t s = slot_of(key);
	struct rl_entry *e;
	int64_t rc = 0;
	double t;

	if (r->rate <= 0)
		return 0;
	pthread_mutex_lock(&r->mu);
	for (e = r->slots[s]; e != NULL; e = e->next)
		if (memcmp(e->key, key, KEY_PUB_LEN) == 0)
			break;
	t = e ? refilled(r, e, now) : r->burst;
	if (t < 1.0) {
		rc = wait_ms(r, t);
		goto out;
	}
	if (!take)
		goto out;
	if (e == NULL) {
		if (r->n >= r->max_keys)
			sweep(r, now);
		if (r->n >= r->max_keys || (e = calloc(1, sizeof(*e))) == NULL)
			goto out; /* untracked: as if its bucket were full */
		memcpy(e->key, key, KEY_PUB_LEN);
		e->next = r->slots[s];
		r->slots[s] = e;
		r->n++;
	}
	e->tokens = t - 1.0;
	e->last_ms = now;
out:
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int64_t
ratelimit_peek(struct ratelimit *r, const uint8_t key[KEY_PUB_LEN],
    int64_t now_ms)
{
	return use(r, key, now_ms, 0);
}

int64_t
ratelimit_take(struct ratelimit *r, const uint8_t key[KEY_PUB_LEN],
    int64_t now_ms)
{
	return use(r, key, now_ms, 1);
}

size_t
ratelimit_keys(struct ratelimit *r)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}
