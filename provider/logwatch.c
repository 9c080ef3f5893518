/*
 * logwatch: the checkpoints of the market's event stream against the one
 * the provider remembers (see logwatch.h).
 */
#include "provider/logwatch.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "ledger/trust_client.h"

int
logwatch_init(struct logwatch *w, const char *data_dir, const char *market)
{
	memset(w, 0, sizeof(*w));
	if ((size_t)snprintf(w->dir, sizeof(w->dir), "%s/logs", data_dir) >=
	        sizeof(w->dir) ||
	    (size_t)snprintf(w->policy, sizeof(w->policy), "%s/%s", data_dir,
	        LOGWATCH_POLICY) >= sizeof(w->policy) ||
	    (size_t)snprintf(w->market, sizeof(w->market), "%s", market) >=
	        sizeof(w->market))
		return err_set(ERR_LIMIT, "%s: path too long", data_dir);
	if (access(w->policy, F_OK) != 0)
		w->policy[0] = '\0';
	atomic_store(&w->state, LOGWATCH_UNSEEN);
	return 0;
}

void
logwatch_clear(struct logwatch *w)
{
	trust_client_free(w->tc);
	w->tc = NULL;
}

/* A long message (an alarm's two notes) one log line per line. */
static void
log_lines(const char *text)
{
	const char *p = text, *nl;

	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p) - 1;
		log_error("%.*s", (int)(nl - p + (*nl != '\n')), p);
	}
}

static void
refuse(struct logwatch *w, const char *why)
{
	if (atomic_load(&w->state) != LOGWATCH_UNVERIFIED)
		log_error("market %s: %s: %s; not taking new leases until a "
		          "checkpoint verifies",
		    w->market, why, err_msg());
	else
		log_warn("market %s: %s: %s", w->market, why, err_msg());
	atomic_store(&w->state, LOGWATCH_UNVERIFIED);
}

int
logwatch_seen(struct logwatch *w, const json_t *event)
{
	const char *note = json_string_value(json_object_get(event, "note"));
	uint64_t size = 0;
	int adv = 0, rc;

	if (atomic_load(&w->state) == LOGWATCH_ALARM) {
		log_error("ALARM raised earlier (the evidence is in %s): not "
		          "taking new leases; running ones go on",
		    w->evidence);
		return 0;
	}
	if (note == NULL) {
		log_warn("event stream: a checkpoint event without a note");
		return 0;
	}
	if (w->tc == NULL &&
	    (rc = trust_client_open(w->dir, w->market,
	         w->policy[0] ? w->policy : NULL, &w->tc)) < 0) {
		if (rc == ERR_IO) /* the market unreachable: next time */
			log_warn("market %s: %s", w->market, err_msg());
		else
			refuse(w, "its witnesses");
		return 0;
	}
	rc = trust_client_check(w->tc, note, strlen(note), &adv, &size);
	if (rc == ERR_ALARM) {
		snprintf(w->evidence, sizeof(w->evidence), "%s.evidence",
		    trust_memory_path(trust_client_memory(w->tc)));
		atomic_store(&w->state, LOGWATCH_ALARM);
		log_lines(err_msg());
		log_error("ALARM: market %s has shown two histories of its "
		          "ledger; not taking new leases (running ones go "
		          "on); the evidence is in %s",
		    w->market, w->evidence);
		return 0;
	}
	if (rc == ERR_IO) {
		log_warn("market %s: checkpoint %llu not checked: %s",
		    w->market, (unsigned long long)size, err_msg());
		return 0;
	}
	if (rc < 0) {
		refuse(w, "a checkpoint that does not verify");
		return 0;
	}
	if (atomic_load(&w->state) == LOGWATCH_UNVERIFIED)
		log_info("market %s: checkpoint %llu verifies: taking leases "
		         "again",
		    w->market, (unsigned long long)size);
	else if (adv)
		log_debug("market %s: checkpoint %llu verified", w->market,
		    (unsigned long long)size);
	atomic_store(&w->state, LOGWATCH_OK);
	return 0;
}

int
logwatch_accepting(const struct logwatch *w)
{
	int s = atomic_load(&w->state);

	return s == LOGWATCH_UNSEEN || s == LOGWATCH_OK;
}
