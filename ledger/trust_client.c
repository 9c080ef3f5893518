/*
 * trust_client: a tenant's or a provider's pinned policy and remembered
 * checkpoint for the log its market serves (see trust_client.h).
 */
#include "ledger/trust_client.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/http.h"
#include "common/util.h"

#define INFO_MS 10000

struct trust_client {
	char *market; /* base URL, no trailing '/' */
	char *policy_path; /* the pin, or the file given */
	struct trust_policy p;
	struct trust_memory *mem;
	int pinned_now;
};

/* GET market/v1/info as JSON. */
static int
fetch_info(const char *market, json_t **out)
{
	struct http_result res = { 0 };
	char url[1024];
	int rc;

	snprintf(url, sizeof(url), "%s/v1/info", market);
	if ((rc = http_fetch("GET", url, NULL, NULL, 0, INFO_MS, &res)) < 0)
		return rc;
	if (res.status != 200)
		rc = err_set(ERR_IO, "%s: HTTP %ld: %.200s", url, res.status,
		    res.body ? res.body : "");
	else if ((rc = cjson_parse(res.body, res.body_len, out)) < 0)
		err_prefix(rc, "%s", url);
	http_result_clear(&res);
	return rc;
}

/* The log's key from info into p (its "vkey", of type 0x01). */
static int
info_log(const json_t *info, const char *market, struct trust_policy *p)
{
	const char *vkey = json_string_value(json_object_get(info, "vkey"));
	int rc;

	if (vkey == NULL)
		return err_set(ERR_INVAL,
		    "%s/v1/info: no \"vkey\" (the log's "
		    "verifier key)",
		    market);
	if ((rc = note_vkey_parse(vkey, &p->log)) < 0)
		return err_prefix(rc, "%s/v1/info: vkey", market);
	if (p->log.type != NOTE_SIG_ED25519)
		return err_set(ERR_INVAL,
		    "%s/v1/info: the log's key must be "
		    "of type 0x01 (Ed25519)",
		    market);
	p->have_log = 1;
	return 0;
}

/* The whole policy info describes: the log, "witnesses": {"keys":
 * [vkey...], "quorum": n} (none when absent: a market without
 * witnesses). */
static int
info_policy(const json_t *info, const char *market, struct trust_policy *p)
{
	const json_t *w = json_object_get(info, "witnesses"), *keys, *k;
	json_int_t q;
	size_t i;
	int rc;

	if ((rc = info_log(info, market, p)) < 0)
		return rc;
	if (w == NULL)
		return 0;
	keys = json_object_get(w, "keys");
	q = json_integer_value(json_object_get(w, "quorum"));
	if (!json_is_object(w) || !json_is_array(keys) ||
	    !json_is_integer(json_object_get(w, "quorum")))
		return err_set(ERR_INVAL,
		    "%s/v1/info: \"witnesses\": expected "
		    "{\"keys\": [vkey...], \"quorum\": n}",
		    market);
	json_array_foreach(keys, i, k)
	{
		const char *s = json_string_value(k);

		if (s == NULL)
			return err_set(ERR_INVAL,
			    "%s/v1/info: witnesses.keys[%zu]: "
			    "expected a verifier key",
			    market, i);
		if ((rc = trust_policy_add_witness(p, s, NULL)) < 0)
			return err_prefix(rc, "%s/v1/info: witnesses.keys[%zu]",
			    market, i);
	}
	if (q < 0 || (size_t)q > p->nw)
		return err_set(ERR_INVAL,
		    "%s/v1/info: witnesses.quorum %lld "
		    "with %zu witness keys",
		    market, (long long)q, p->nw);
	p->quorum = (size_t)q;
	return 0;
}

/* DIR/<origin>+<key ID> for the log of p. */
static int
stem_of(const char *dir, const struct note_verifier *log, char *out, size_t cap)
{
	char name[NOTE_NAME_MAX + 1];
	size_t i;

	for (i = 0; log->name[i] != '\0' && i < sizeof(name) - 1; i++) {
		char ch = log->name[i];

		name[i] = (ch >= 'a' && ch <= 'z') ||
		        (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		        ch == '.' || ch == '-' || ch == '_' ?
		    ch :
		    '_';
	}
	name[i] = '\0';
	if ((size_t)snprintf(out, cap, "%s/%s+%08x", dir, name, log->id) >= cap)
		return err_set(ERR_LIMIT, "%s: path too long", dir);
	return 0;
}

static int
same_key(const struct note_verifier *a, const struct note_verifier *b)
{
	return a->id == b->id && a->type == b->type &&
	    strcmp(a->name, b->name) == 0 &&
	    memcmp(a->pub, b->pub, KEY_PUB_LEN) == 0;
}

/* 1 when a and b name the same log, witnesses (in any order) and
 * quorum. */
static int
same_policy(const struct trust_policy *a, const struct trust_policy *b)
{
	size_t i, j;

	if (!same_key(&a->log, &b->log) || a->nw != b->nw ||
	    a->quorum != b->quorum)
		return 0;
	for (i = 0; i < a->nw; i++) {
		for (j = 0; j < b->nw; j++)
			if (same_key(&a->w[i].v, &b->w[j].v))
				break;
		if (j == b->nw)
			return 0;
	}
	return 1;
}

/* "{name+id, ...} quorum n" for messages. */
static void
describe(const struct trust_policy *p, char *buf, size_t cap)
{
	size_t off = 0;

	off += (size_t)snprintf(buf, cap, "{");
	for (size_t i = 0; i < p->nw && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%s+%08x",
		    i ? ", " : "", p->w[i].v.name, p->w[i].v.id);
	if (off < cap)
		snprintf(buf + off, cap - off, "} quorum %zu", p->quorum);
}

/* p in the policy file form, for the pin. */
static int
policy_text(const struct trust_policy *p, const char *market, char **out)
{
	char *text = NULL, *vk = NULL, *next;
	int rc;

	if ((rc = note_vkey_format_type(p->log.name, p->log.type, p->log.pub,
	         &vk)) < 0)
		return rc;
	if (asprintf(&text,
	        "# pinned on first use from %s/v1/info: the log and its\n"
	        "# witnesses.  Remove this file only after confirming a "
	        "change\n"
	        "# with the market's operator.\n"
	        "log %s\n",
	        market, vk) < 0)
		text = NULL;
	free(vk);
	for (size_t i = 0; text != NULL && i < p->nw; i++) {
		const struct note_verifier *w = &p->w[i].v;

		if ((rc = note_vkey_format_type(w->name, w->type, w->pub,
		         &vk)) < 0) {
			free(text);
			return rc;
		}
		if (asprintf(&next, "%switness %s\n", text, vk) < 0)
			next = NULL;
		free(vk);
		free(text);
		text = next;
	}
	if (text != NULL &&
	    asprintf(&next, "%squorum %zu\n", text, p->quorum) >= 0) {
		free(text);
		text = next;
	} else {
		free(text);
		text = NULL;
	}
	if (text == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	*out = text;
	return 0;
}

/* Without a policy file: the pin for the log info names, compared with
 * what info says now, or written on first use. */
static int
pinned_policy(struct trust_client *c, const char *dir, const json_t *info,
    char *stem, size_t cap)
{
	struct trust_policy now;
	char path[PATH_MAX], *text = NULL, was[1024], is[1024];
	int rc;

	trust_policy_init(&now);
	if ((rc = info_policy(info, c->market, &now)) < 0 ||
	    (rc = stem_of(dir, &now.log, stem, cap)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s.policy", stem);
	if ((c->policy_path = strdup(path)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	if (access(path, F_OK) == 0) {
		if ((rc = trust_policy_load(&c->p, path)) < 0)
			goto out;
		if (!same_policy(&c->p, &now)) {
			describe(&c->p, was, sizeof(was));
			describe(&now, is, sizeof(is));
			rc = err_set(ERR_CONFLICT,
			    "the market at %s now names the witnesses %s for "
			    "log %s, but %s, pinned on first use, says %s.  "
			    "If the market's operator changed its witnesses, "
			    "confirm it out of band, then remove that file "
			    "(the next command pins what the market says)",
			    c->market, is, now.log.name, path, was);
		}
		goto out;
	}
	if (errno != ENOENT) {
		rc = err_set(ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((rc = policy_text(&now, c->market, &text)) < 0 ||
	    (rc = util_write_file(path, text, strlen(text), 0644)) < 0)
		goto out;
	c->p = now; /* moved: the learned policy owns no URL */
	trust_policy_init(&now);
	c->pinned_now = 1;
out:
	free(text);
	trust_policy_clear(&now);
	return rc;
}

int
trust_client_open(const char *dir, const char *market, const char *policy_file,
    struct trust_client **out)
{
	struct trust_client *c;
	json_t *info = NULL;
	char stem[PATH_MAX - 32], path[PATH_MAX];
	size_t n = strlen(market);
	int rc;

	*out = NULL;
	while (n > 0 && market[n - 1] == '/')
		n--;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->market = strndup(market, n)) == NULL) {
		free(c);
		return err_set(ERR_NOMEM, "out of memory");
	}
	trust_policy_init(&c->p);
	if ((rc = util_mkdirs(dir, 0700)) < 0)
		goto fail;
	if (policy_file != NULL) {
		if ((c->policy_path = strdup(policy_file)) == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
		if ((rc = trust_policy_load(&c->p, policy_file)) < 0)
			goto fail;
		if (!c->p.have_log &&
		    ((rc = fetch_info(c->market, &info)) < 0 ||
		        (rc = info_log(info, c->market, &c->p)) < 0))
			goto fail;
		if ((rc = stem_of(dir, &c->p.log, stem, sizeof(stem))) < 0)
			goto fail;
	} else if ((rc = fetch_info(c->market, &info)) < 0 ||
	    (rc = pinned_policy(c, dir, info, stem, sizeof(stem))) < 0) {
		goto fail;
	}
	snprintf(path, sizeof(path), "%s.checkpoint", stem);
	if ((rc = trust_memory_open(path, &c->p, &c->mem)) < 0)
		goto fail;
	json_decref(info);
	*out = c;
	return 0;
fail:
	json_decref(info);
	trust_client_free(c);
	return rc;
}

void
trust_client_free(struct trust_client *c)
{
	if (c == NULL)
		return;
	trust_memory_free(c->mem);
	trust_policy_clear(&c->p);
	free(c->policy_path);
	free(c->market);
	free(c);
}

int
trust_client_follow(struct trust_client *c, int *advanced, uint64_t *size)
{
	return trust_follow_market(c->mem, c->market, advanced, size);
}

int
trust_client_check(struct trust_client *c, const char *note, size_t len,
    int *advanced, uint64_t *size)
{
	return trust_follow_market_note(c->mem, c->market, note, len, advanced,
	    size);
}

const struct trust_memory *
trust_client_memory(const struct trust_client *c)
{
	return c->mem;
}

const struct trust_policy *
trust_client_policy(const struct trust_client *c)
{
	return &c->p;
}

const char *
trust_client_policy_path(const struct trust_client *c)
{
	return c->policy_path;
}

int
trust_client_pinned_now(const struct trust_client *c)
{
	return c->pinned_now;
}
