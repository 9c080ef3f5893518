/*
 * publish: what the market shows of its ledger.  The publisher thread
 * has each new signed checkpoint cosigned by the market's witnesses (C2SP
 * tlog-witness, through ledger/cosign.h) and publishes it only once the
 * quorum's cosignatures are attached; then, with or without witnesses, it
 * writes the published checkpoint's C2SP tlog-tiles under DATA/tiles
 * (ledger/tiles.h), which api.c serves.  Witnesses and disks are dealt
 * with outside the market's lock, on read-only connections of the
 * publisher's own, so submissions never wait for a witness: the last
 * cosigned checkpoint stays published while a newer one is asked for.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "ledger/cosign.h"
#include "ledger/tiles.h"
#include "market/market_internal.h"

#define RETRY_MAX_MS 30000 /* between cosigning rounds that failed */

int
market_cosigned(const struct market *m, const char *note)
{
	struct trust_policy local = *m->witnesses; /* shallow */

	local.log = m->logv;
	local.have_log = 1;
	return trust_verify(&local, note, strlen(note), NULL, NULL);
}

int
market_publish_locked(struct market *m, const char *note, uint64_t size)
{
	char *copy = strdup(note);

	if (copy == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	free(m->published);
	m->published = copy;
	m->published_size = size;
	m->published_gen++;
	/* event streams wait on committed_cv; the publisher on publish_cv */
	pthread_cond_broadcast(&m->committed_cv);
	pthread_cond_broadcast(&m->publish_cv);
	return 0;
}

/* Ask the witnesses to cosign note, proofs read on a connection of our
 * own; outside mu. */
static int
cosign_round(struct market *m, const char *note, uint64_t hints[], char **out,
    struct cosign_report *rep)
{
	struct merkle_reader r;
	struct store *ro = NULL;
	int rc;

	if ((rc = store_open(m->db_path, 1, &ro)) < 0)
		return rc;
	store_reader(ro, &r);
	rc = cosign_note(m->witnesses, note, &m->logv, &r, hints, out, rep);
	store_free(ro);
	return rc;
}

/* Write the tiles of the latest stored checkpoint; outside mu.  A fresh
 * read-only connection each time: it sees the size committed now. */
static int
write_tiles(struct market *m, struct tiles_report *rep)
{
	struct store *ro = NULL;
	int rc;

	if ((rc = store_open(m->db_path, 1, &ro)) < 0)
		return rc;
	rc = tiles_write(ro, m->tiles_dir, rep);
	store_free(ro);
	return rc;
}

/* One cosigning round for the latest signed note; mu held on entry and
 * exit, released meanwhile.  0 when it was published. */
static int
cosign_latest(struct market *m, uint64_t hints[])
{
	uint64_t before[TRUST_MAX_WITNESSES], size = m->checkpointed;
	struct cosign_report rep;
	char *note = strdup(m->checkpoint_note), *cosigned = NULL;
	int rc;

	if (note == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(before, hints, sizeof(before));
	pthread_mutex_unlock(&m->mu);
	rc = cosign_round(m, note, hints, &cosigned, &rep);
	pthread_mutex_lock(&m->mu);
	free(note);
	atomic_fetch_add(&m->m_cosign_rounds, 1);
	/* what each witness holds, even after a refusal: the next round
	 * starts from there (kept where `ledger cosign` keeps it) */
	if (memcmp(before, hints, sizeof(before)) != 0 &&
	    cosign_hints_save(m->store, m->witnesses, hints) < 0)
		log_warn("keeping the witnesses' sizes: %s", err_msg());
	if (rc < 0)
		goto fail;
	if (rep.total < m->witnesses->quorum) {
		rc = err_set(ERR_REJECT,
		    "checkpoint %" PRIu64 ": %zu of the %zu "
		    "cosignatures required%s%s",
		    size, rep.total, m->witnesses->quorum,
		    rep.failures[0] ? "; " : "", rep.failures);
		goto fail;
	}
	/* only cosigned checkpoints are stored: mirrors and tiles copy the
	 * store's, and restarts publish the latest of them again */
	if ((rc = store_checkpoint_add(m->store, size, util_now_ms(),
	         cosigned)) < 0 ||
	    (rc = market_publish_locked(m, cosigned, size)) < 0)
		goto fail;
	if (m->txn_open) {
		/* commit it now, as the ticker does for its checkpoints */
		m->txn_open = 0;
		if (store_commit(m->store) < 0) {
			log_error(
			    "ledger commit failed: %s; stopping so that a "
			    "restart replays the ledger",
			    err_msg());
			abort();
		}
	}
	if (m->cosign_error[0] != '\0')
		log_info("checkpoint %" PRIu64 " cosigned by %zu witnesses "
		         "again",
		    size, rep.total);
	m->cosign_error[0] = '\0';
	free(cosigned);
	return 0;
fail:
	atomic_fetch_add(&m->m_cosign_failed, 1);
	/* loud once per change of reason, not once a round */
	if (strncmp(m->cosign_error, err_msg(), sizeof(m->cosign_error) - 1))
		log_warn("not publishing: %s (the last cosigned checkpoint, "
		         "%" PRIu64 ", stays published)",
		    err_msg(), m->published_size);
	snprintf(m->cosign_error, sizeof(m->cosign_error), "%s", err_msg());
	free(cosigned);
	return rc;
}

static void *
publisher_main(void *arg)
{
	struct market *m = arg;
	uint64_t hints[TRUST_MAX_WITNESSES] = { 0 }, tiled = 0, failed = 0;
	int64_t retry_at = 0, backoff = m->checkpoint_ms;
	int64_t tiles_retry_at = 0;
	uint64_t refused_size = 0; /* the checkpoint size last refused */

	pthread_mutex_lock(&m->mu);
	if (m->witnesses &&
	    cosign_hints_load(m->store, m->witnesses, hints) < 0)
		log_warn("reading the witnesses' sizes: %s", err_msg());
	while (!atomic_load(&m->stopping)) {
		int64_t now = util_mono_ns() / 1000000;
		struct timespec ts;

		if (m->witnesses && m->checkpoint_note &&
		    (m->published == NULL ||
		        m->checkpointed > m->published_size) &&
		    (now >= retry_at || m->checkpointed != refused_size)) {
			/* a grown checkpoint is offered at once: the round
			 * refused may have been refused for its size alone */
			uint64_t size = m->checkpointed;

			if (cosign_latest(m, hints) == 0) {
				backoff = m->checkpoint_ms;
				retry_at = 0;
				refused_size = 0;
			} else {
				refused_size = size;
				retry_at = util_mono_ns() / 1000000 + backoff;
				backoff = backoff * 2 < RETRY_MAX_MS ?
				    backoff * 2 :
				    RETRY_MAX_MS;
			}
			continue;
		}
		if (m->published != NULL && m->published_gen != tiled &&
		    (m->published_gen != failed || now >= tiles_retry_at)) {
			struct tiles_report rep;
			uint64_t gen = m->published_gen;
			int rc;

			pthread_mutex_unlock(&m->mu);
			rc = write_tiles(m, &rep);
			if (rc < 0)
				log_warn("tiles: %s", err_msg());
			pthread_mutex_lock(&m->mu);
			if (rc == 0) {
				tiled = gen;
			} else { /* at the next checkpoint, or in a while */
				failed = gen;
				tiles_retry_at = now + RETRY_MAX_MS;
			}
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&m->publish_cv, &m->mu, &ts);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

int
market_publisher_start(struct market *m)
{
	if (pthread_create(&m->publisher, NULL, publisher_main, m) != 0)
		return err_set(ERR_IO, "cannot start the publisher thread");
	m->publisher_started = 1;
	return 0;
}
