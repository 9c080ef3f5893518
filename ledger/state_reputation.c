/*
 * state_reputation: a provider's record as a pure function of the ledger
 * (docs/state.md, "Reputation"): counters the state machine keeps as the
 * provider's entries apply, and figures derived from them at the state's
 * time, so the market and `ledger audit` give the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "ledger/state_internal.h"

#define DAY_MS (INT64_C(24) * 3600 * 1000)

int
st_rec_offline(struct provider *p, int64_t t)
{
	struct st_record *r = &p->rec;
	size_t j = 0;
	int rc;

	/* forget what ended before every window the record shows */
	for (size_t i = 0; i < r->noff; i++)
		if (r->off[i].to < 0 || r->off[i].to >= t - ST_RECORD_WINDOW_MS)
			r->off[j++] = r->off[i];
	r->noff = j;
	if ((rc = st_grow((void **)&r->off, &r->off_cap, r->noff + 1,
	         sizeof(*r->off))) < 0)
		return rc;
	r->off[r->noff].from = t;
	r->off[r->noff].to = -1;
	r->noff++;
	r->offline_marks++;
	return 0;
}

void
st_rec_online(struct provider *p, int64_t t)
{
	struct st_record *r = &p->rec;

	if (r->noff == 0 || r->off[r->noff - 1].to >= 0)
		return;
	r->off[r->noff - 1].to = t;
	r->offline_ms += t - r->off[r->noff - 1].from;
}

void
st_rec_free(struct provider *p)
{
	free(p->rec.off);
	p->rec.off = NULL;
	p->rec.noff = p->rec.off_cap = 0;
}

/* Offline time within [T - w, T]. */
static int64_t
offline_within(const struct st_record *r, int64_t T, int64_t w)
{
	int64_t sum = 0;

	for (size_t i = 0; i < r->noff; i++) {
		int64_t a = r->off[i].from,
		        b = r->off[i].to < 0 ? T : r->off[i].to;
		if (a < T - w)
			a = T - w;
		if (b > T)
			b = T;
		if (b > a)
			sum += b - a;
	}
	return sum;
}

int64_t
st_rec_uptime_ppm(const struct provider *p, int64_t T, int64_t w)
{
	int64_t age = T - p->rec.first_time;

	if (w > age)
		w = age;
	if (w <= 0)
		return -1;
	return (
	    int64_t)((state_u128)(uint64_t)(w - offline_within(&p->rec, T, w)) *
	    1000000u / (uint64_t)w);
}

int64_t
st_rec_completion_ppm(const struct provider *p)
{
	const int64_t *e = p->rec.ended;
	int64_t all = 0, failed, n;

	for (int i = 1; i < STATE_REASON_COUNT; i++)
		all += e[i];
	failed = e[STATE_REASON_PROVIDER_CLOSED] +
	    e[STATE_REASON_PROVIDER_OFFLINE] + e[STATE_REASON_MANIFEST_REFUSED];
	n = all - e[STATE_REASON_MANIFEST_NOT_DELIVERED];
	if (n <= 0)
		return -1;
	return (n - failed) * 1000000 / n;
}

const char *const st_rep_names[ST_REP_N] = { "completion_rate_ppm",
	"uptime_7d_ppm", "uptime_30d_ppm", "leases_started" };

int
st_rec_below(const struct provider *p, const struct order *o, int64_t T,
    int64_t *have)
{
	for (int i = 0; i < ST_REP_N; i++) {
		int64_t v;
		if (o->min_rep[i] < 0)
			continue;
		switch (i) {
		case ST_REP_COMPLETION:
			v = st_rec_completion_ppm(p);
			break;
		case ST_REP_UPTIME_7D:
			v = st_rec_uptime_ppm(p, T, 7 * DAY_MS);
			break;
		case ST_REP_UPTIME_30D:
			v = st_rec_uptime_ppm(p, T, 30 * DAY_MS);
			break;
		default:
			v = p->rec.started;
			break;
		}
		if (v < o->min_rep[i]) {
			if (have)
				*have = v;
			return i;
		}
	}
	return -1;
}

/* An integer, or null for -1 ("not defined yet"). */
static json_t *
ppm(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

json_t *
st_record_json(const struct state *s, const struct provider *p)
{
	const struct st_record *r = &p->rec;
	int64_t T = s->time, offline, age = T - r->first_time;
	json_t *o, *ended, *att;

	offline = r->offline_ms;
	if (r->noff > 0 && r->off[r->noff - 1].to < 0)
		offline += T - r->off[r->noff - 1].from;
	if ((ended = json_object()) == NULL || (att = json_array()) == NULL) {
		json_decref(ended);
		return NULL;
	}
	for (int i = 1; i < STATE_REASON_COUNT; i++)
		json_object_set_new(ended, state_reason_name(i),
		    json_integer(r->ended[i]));
	for (size_t i = 0; i < p->natt; i++) {
		char k[KEY_TEXT_SIZE];
		key_pub_to_text(p->att[i].auditor, k);
		json_array_append_new(att,
		    json_pack("{s:s,s:I}", "auditor", k, "index",
		        (json_int_t)p->att[i].index));
	}
	o = json_pack("{s:s,s:I,s:I,s:{s:I,s:I},s:I,s:{s:I,s:I,s:I,s:o},"
	              "s:I,s:I,s:I,s:I,s:b,s:I,s:I,s:I,s:o,s:o,s:o,"
	              "s:{s:I,s:I,s:I},s:o}",
	    "provider", p->key_text, "index", (json_int_t)s->last_index, "time",
	    (json_int_t)T, "first_ask", "index", (json_int_t)r->first_index,
	    "time", (json_int_t)r->first_time, "key_age_ms", (json_int_t)age,
	    "leases", "won", (json_int_t)r->won, "started",
	    (json_int_t)r->started, "live", (json_int_t)p->nleases, "ended",
	    ended, "manifests_refused",
	    (json_int_t)r->ended[STATE_REASON_MANIFEST_REFUSED],
	    "usage_reports", (json_int_t)r->usage_reports, "heartbeats",
	    (json_int_t)r->heartbeats, "last_seen", (json_int_t)p->last_seen,
	    "online", p->online, "offline_marks", (json_int_t)r->offline_marks,
	    "online_ms", (json_int_t)(age - offline), "offline_ms",
	    (json_int_t)offline, "uptime_7d_ppm",
	    ppm(st_rec_uptime_ppm(p, T, 7 * DAY_MS)), "uptime_30d_ppm",
	    ppm(st_rec_uptime_ppm(p, T, 30 * DAY_MS)), "completion_rate_ppm",
	    ppm(st_rec_completion_ppm(p)), "bond", "now", (json_int_t)p->bond,
	    "max", (json_int_t)r->bond_max, "changes",
	    (json_int_t)r->bond_changes, "attestations", att);
	return o;
}

int
state_provider_record(const struct state *s, const char *key_text, json_t **out)
{
	const struct provider *p;

	*out = NULL;
	if (key_text == NULL ||
	    (p = st_smap_get(&s->providers, key_text)) == NULL)
		return err_set(ERR_NOTFOUND, "no provider %.80s",
		    key_text ? key_text : "");
	if ((*out = st_record_json(s, p)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	return 0;
}

int
state_provider_records(const struct state *s, json_t **out)
{
	json_t *a = json_array();

	*out = NULL;
	if (a == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < s->nprovs; i++) {
		json_t *r = st_record_json(s, s->provs[i]);
		if (r == NULL || json_array_append_new(a, r) < 0) {
			json_decref(a);
			return err_set(ERR_NOMEM, "out of memory");
		}
	}
	*out = a;
	return 0;
}
