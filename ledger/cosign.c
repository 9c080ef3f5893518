/*
 * cosign: collecting witness cosignatures for a log's checkpoints (see
 * cosign.h).
 */
#include "ledger/cosign.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/http.h"
#include "common/util.h"
#include "ledger/witness.h"

#define ASK_MS 30000
#define URL_MAX 1024

/* "— " */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN 4

/* Name and key ID of a signature line [p, end); -1 when it is not one. */
static int
line_key(const char *p, const char *end, const char **name, size_t *nlen,
    uint32_t *id)
{
	const char *sp;
	uint8_t buf[8];
	char b64[9];

	if (end - p < SIG_PREFIX_LEN || memcmp(p, sig_prefix, SIG_PREFIX_LEN))
		return -1;
	p += SIG_PREFIX_LEN;
	if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL || end - sp < 9)
		return -1;
	*name = p;
	*nlen = (size_t)(sp - p);
	/* the first 8 base64 characters hold the 4-byte key ID and more */
	memcpy(b64, sp + 1, 8);
	b64[8] = '\0';
	{
		size_t n;

		if (b64_decode(b64, 8, buf, sizeof(buf), &n) < 0 || n < 4)
			return -1;
	}
	*id = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | buf[3];
	return 0;
}

int
cosign_attach(const char *note, const char *line, char **out)
{
	const char *sigs, *p, *nl, *end, *name, *lname;
	size_t len = strlen(note), llen = strlen(line), nlen, lnlen, o = 0;
	uint32_t id, lid;
	char *buf;

	*out = NULL;
	if ((sigs = strstr(note, "\n\n")) == NULL || note[len - 1] != '\n')
		return err_set(ERR_INVAL, "cosign_attach: not a signed note");
	/* the text ends at the last blank line */
	for (p = sigs; (p = strstr(p + 1, "\n\n")) != NULL;)
		sigs = p;
	sigs += 2;
	if (line_key(line, line + llen, &lname, &lnlen, &lid) < 0)
		return err_set(ERR_INVAL,
		    "cosign_attach: '%.60s' is not a "
		    "signature line",
		    line);
	if ((buf = malloc(len + llen + 2)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(buf, note, (size_t)(sigs - note));
	o = (size_t)(sigs - note);
	end = note + len;
	for (p = sigs; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (line_key(p, nl, &name, &nlen, &id) == 0 && id == lid &&
		    nlen == lnlen && memcmp(name, lname, nlen) == 0)
			continue; /* replaced by line */
		memcpy(buf + o, p, (size_t)(nl + 1 - p));
		o += (size_t)(nl + 1 - p);
	}
	memcpy(buf + o, line, llen);
	o += llen;
	buf[o++] = '\n';
	buf[o] = '\0';
	*out = buf;
	return 0;
}

/* One add-checkpoint round trip. */
static int
post(const struct trust_witness *w, const char *body, size_t len,
    struct http_result *res)
{
	static const char *const headers[] = {
		"Content-Type: text/plain; charset=utf-8", NULL
	};
	char u[URL_MAX];

	snprintf(u, sizeof(u), "%s/add-checkpoint", w->url);
	return http_fetch("POST", u, headers, body, len, ASK_MS, res);
}

/* The first line of a refusal's body, for messages. */
static const char *
first_line(const struct http_result *res, char *buf, size_t cap)
{
	size_t n = 0;

	if (res->body != NULL)
		while (n < res->body_len && n < cap - 1 && res->body[n] != '\n')
			n++;
	memcpy(buf, res->body ? res->body : "", n);
	buf[n] = '\0';
	return buf;
}

int
cosign_ask(const struct trust_witness *w, const char *note,
    const struct note_verifier *log, const struct merkle_reader *r,
    uint64_t *hint, char **line)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	struct http_result res = { 0 };
	struct checkpoint cp = { 0 };
	char *text = NULL, *body = NULL, why[300];
	size_t n, blen;
	uint64_t wsize;
	int tries, rc;

	*line = NULL;
	if (w->url == NULL)
		return err_set(ERR_INVAL, "witness %s: no URL to ask",
		    w->v.name);
	if ((rc = note_open(note, strlen(note), log, 1, &text, NULL)) < 0 ||
	    (rc = checkpoint_parse(text, strlen(text), &cp)) < 0)
		goto out;
	for (tries = 0; tries < 3; tries++) {
		if (*hint > cp.size) {
			rc = err_set(ERR_REJECT,
			    "witness %s has cosigned size "
			    "%" PRIu64
			    " of %s, beyond this checkpoint's %" PRIu64
			    ": it has seen another (or a later) history of "
			    "this log",
			    w->v.name, *hint, cp.origin, cp.size);
			goto out;
		}
		n = 0;
		if (*hint > 0 && *hint < cp.size &&
		    (rc = merkle_consistency_proof(*hint, cp.size, r, proof,
		         &n)) < 0)
			goto out;
		free(body);
		if ((rc = witness_request_format(*hint, proof, n, note,
		         strlen(note), &body, &blen)) < 0)
			goto out;
		http_result_clear(&res);
		if ((rc = post(w, body, blen, &res)) < 0)
			goto out;
		if (res.status == 200) {
			rc = witness_response_cosig(&w->v, text, strlen(text),
			    res.body, res.body_len, line, NULL);
			if (rc < 0)
				err_prefix(rc, "witness %s", w->v.name);
			else
				*hint = cp.size;
			goto out;
		}
		if (res.status == 409 &&
		    witness_response_size(res.body, res.body_len, &wsize) ==
		        0 &&
		    wsize != *hint) {
			*hint = wsize; /* ask again from the witness's size */
			continue;
		}
		if (res.status == 409) {
			rc = err_set(ERR_REJECT,
			    "witness %s refused (409): it "
			    "cosigned another root at size %" PRIu64
			    " of %s: a split view",
			    w->v.name, cp.size, cp.origin);
		} else if (res.status == 422) {
			rc = err_set(ERR_REJECT,
			    "witness %s refused (422): %s: "
			    "it cosigned another tree at size %" PRIu64
			    ": a split view",
			    w->v.name, first_line(&res, why, sizeof(why)),
			    *hint);
		} else {
			rc = err_set(ERR_REJECT,
			    "witness %s refused (HTTP %ld): %s", w->v.name,
			    res.status, first_line(&res, why, sizeof(why)));
		}
		goto out;
	}
	rc = err_set(ERR_REJECT,
	    "witness %s: its size kept changing; "
	    "gave up after %d requests",
	    w->v.name, tries);
out:
	free(body);
	free(text);
	checkpoint_clear(&cp);
	http_result_clear(&res);
	return rc;
}

/* The metadata key keeping what w last cosigned. */
static void
hint_key(const struct trust_witness *w, char *buf, size_t cap)
{
	snprintf(buf, cap, "witness_size:%s+%08x", w->v.name, w->v.id);
}

int
cosign_store(struct store *s, const struct trust_policy *p, char **note_out,
    struct cosign_report *rep)
{
	struct trust_policy local = *p; /* shallow: the urls stay p's */
	uint8_t pub[KEY_PUB_LEN];
	struct merkle_reader r;
	char *note = NULL, *line = NULL, *next = NULL, *v = NULL, key[320];
	size_t off = 0, i, total = 0;
	uint64_t size, hint;
	int changed = 0, rc;

	memset(rep, 0, sizeof(*rep));
	if (note_out)
		*note_out = NULL;
	store_log_pub(s, pub);
	if ((rc = note_verifier_init(&local.log, store_origin(s),
	         NOTE_SIG_ED25519, pub)) < 0)
		return rc;
	local.have_log = 1;
	if ((rc = store_checkpoint_latest(s, &size, &note)) < 0)
		return rc;
	if (note == NULL)
		return err_set(ERR_NOTFOUND, "the log has no checkpoint");
	rep->size = size;
	store_reader(s, &r);
	for (i = 0; i < p->nw; i++) {
		const struct trust_witness *w = &p->w[i];

		if (w->url == NULL)
			continue;
		rep->asked++;
		hint_key(w, key, sizeof(key));
		hint = 0;
		if ((rc = store_meta_get(s, key, &v)) < 0)
			goto out;
		if (v != NULL && util_parse_u64(v, key, &hint) < 0)
			hint = 0;
		free(v);
		v = NULL;
		rc = cosign_ask(w, note, &local.log, &r, &hint, &line);
		if (rc == 0)
			rc = cosign_attach(note, line, &next);
		if (rc == ERR_NOMEM)
			goto out;
		if (rc < 0) {
			if (off < sizeof(rep->failures))
				off += (size_t)snprintf(rep->failures + off,
				    sizeof(rep->failures) - off, "%s%s",
				    off ? "\n" : "", err_msg());
		} else {
			free(note);
			note = next;
			next = NULL;
			changed = 1;
			rep->cosigned++;
		}
		free(line);
		line = NULL;
		/* what the witness holds, even after a refusal (409) */
		if (hint > 0) {
			char num[24];

			snprintf(num, sizeof(num), "%" PRIu64, hint);
			if ((rc = store_meta_set(s, key, num)) < 0)
				goto out;
		}
	}
	if (changed &&
	    (rc = store_checkpoint_add(s, size, util_now_ms(), note)) < 0)
		goto out;
	local.quorum = 0;
	if ((rc = trust_verify(&local, note, strlen(note), NULL, &total)) < 0)
		goto out;
	rep->total = total;
	if (total < p->quorum) {
		rc = err_set(ERR_REJECT,
		    "checkpoint %" PRIu64 " carries %zu of the "
		    "%zu cosignatures required%s%s",
		    size, total, p->quorum, off ? ":\n" : "", rep->failures);
		goto out;
	}
	rc = 0;
out:
	if (rc == 0 && note_out) {
		*note_out = note;
		note = NULL;
	}
	free(next);
	free(line);
	free(v);
	free(note);
	return rc;
}
