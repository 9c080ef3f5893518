/*
 * trust: a client's policy (log key, witnesses, quorum) and its memory of
 * the last verified checkpoint, checked for consistency with each new one
 * (see trust.h).
 */
#include "ledger/trust.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/util.h"

#define MEMORY_MAX (64 * 1024) /* bytes of a remembered note */
#define POLICY_MAX (256 * 1024)

struct trust_memory {
	char *path;
	const struct trust_policy *p;
	char *note; /* NULL when empty */
	struct checkpoint cp;
};

void
trust_policy_init(struct trust_policy *p)
{
	memset(p, 0, sizeof(*p));
}

void
trust_policy_clear(struct trust_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nw; i++)
		free(p->w[i].url);
	memset(p, 0, sizeof(*p));
}

int
trust_policy_add_witness(struct trust_policy *p, const char *vkey,
    const char *url)
{
	struct note_verifier v;
	int rc;

	if ((rc = note_vkey_parse(vkey, &v)) < 0)
		return rc;
	if (v.type != NOTE_SIG_COSIGNATURE)
		return err_set(ERR_INVAL,
		    "witness key '%.80s' is of type 0x%02x; "
		    "a witness cosigns with a key of type 0x04",
		    vkey, v.type);
	for (size_t i = 0; i < p->nw; i++)
		if (p->w[i].v.id == v.id && strcmp(p->w[i].v.name, v.name) == 0)
			return err_set(ERR_CONFLICT,
			    "witness %s+%08x is listed "
			    "twice",
			    v.name, v.id);
	if (p->nw == TRUST_MAX_WITNESSES)
		return err_set(ERR_LIMIT, "more than %d witnesses",
		    TRUST_MAX_WITNESSES);
	if (url != NULL && strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)
		return err_set(ERR_INVAL,
		    "witness %s: '%.80s' is not an http:// "
		    "or https:// URL",
		    v.name, url);
	p->w[p->nw].v = v;
	p->w[p->nw].url = NULL;
	if (url != NULL) {
		size_t n = strlen(url);

		while (n > 0 && url[n - 1] == '/')
			n--; /* the prefix, without its trailing slashes */
		if ((p->w[p->nw].url = strndup(url, n)) == NULL)
			return err_set(ERR_NOMEM, "out of memory");
	}
	p->nw++;
	return 0;
}

/* Split line (NUL-terminated, modified) into at most max words. */
static size_t
split_words(char *line, char **words, size_t max)
{
	size_t n = 0;
	char *save = NULL, *t;

	for (t = strtok_r(line, " \t\r", &save); t != NULL;
	     t = strtok_r(NULL, " \t\r", &save)) {
		if (n == max)
			return max + 1;
		words[n++] = t;
	}
	return n;
}

int
trust_policy_parse(struct trust_policy *p, const char *text, size_t len,
    const char *what)
{
	char *copy, *line, *next, *words[4];
	size_t lineno = 0, n;
	uint64_t q = 0;
	int have_quorum = 0, rc = 0;

	if ((copy = strndup(text, len)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (strlen(copy) != len) {
		rc = err_set(ERR_INVAL, "%s: holds a NUL byte", what);
		goto out;
	}
	for (line = copy; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strchr(line, '#') != NULL)
			*strchr(line, '#') = '\0';
		n = split_words(line, words, 3);
		if (n == 0)
			continue;
		if (strcmp(words[0], "log") == 0 && n == 2) {
			if (p->have_log) {
				rc = err_set(ERR_INVAL,
				    "%s:%zu: a second log "
				    "line; a policy is for one log",
				    what, lineno);
				goto out;
			}
			if ((rc = note_vkey_parse(words[1], &p->log)) < 0)
				goto line_fail;
			if (p->log.type != NOTE_SIG_ED25519) {
				rc = err_set(ERR_INVAL,
				    "%s:%zu: the log's key "
				    "must be of type 0x01 (Ed25519)",
				    what, lineno);
				goto out;
			}
			p->have_log = 1;
		} else if (strcmp(words[0], "witness") == 0 &&
		    (n == 2 || n == 3)) {
			if ((rc = trust_policy_add_witness(p, words[1],
			         n == 3 ? words[2] : NULL)) < 0)
				goto line_fail;
		} else if (strcmp(words[0], "quorum") == 0 && n == 2) {
			if ((rc = util_parse_u64(words[1], "quorum", &q)) < 0)
				goto line_fail;
			have_quorum = 1;
		} else {
			rc = err_set(ERR_INVAL,
			    "%s:%zu: '%.40s': expected \"log "
			    "<vkey>\", \"witness <vkey> [<url>]\" or \"quorum "
			    "<n>\"",
			    what, lineno, words[0]);
			goto out;
		}
	}
	p->quorum = have_quorum ? (size_t)q : p->nw;
	if (p->quorum > p->nw) {
		rc = err_set(ERR_INVAL,
		    "%s: quorum %zu but only %zu witness%s "
		    "listed",
		    what, p->quorum, p->nw, p->nw == 1 ? "" : "es");
		goto out;
	}
	rc = 0;
	goto out;
line_fail:
	rc = err_prefix(rc, "%s:%zu", what, lineno);
out:
	free(copy);
	return rc;
}

int
trust_policy_load(struct trust_policy *p, const char *path)
{
	char *text = NULL;
	size_t len;
	int rc;

	if ((rc = util_read_file(path, POLICY_MAX, &text, &len)) < 0)
		return rc;
	rc = trust_policy_parse(p, text, len, path);
	free(text);
	return rc;
}

/* Verify note's log signature, then count the cosignatures of p's
 * witnesses; quorum of them needed. */
static int
verify_quorum(const struct trust_policy *p, size_t quorum, const char *note,
    size_t len, struct checkpoint *cp_out, size_t *ncosig)
{
	int counted[TRUST_MAX_WITNESSES] = { 0 };
	struct checkpoint cp;
	char *text = NULL, missing[512] = "";
	const char *line, *end = note + len, *nl;
	size_t tl, n = 0, i;
	int rc;

	if (cp_out != NULL)
		memset(cp_out, 0, sizeof(*cp_out));
	if (!p->have_log)
		return err_set(ERR_INVAL,
		    "no log key to verify the checkpoint "
		    "with");
	if ((rc = note_open(note, len, &p->log, 1, &text, NULL)) < 0)
		return err_prefix(rc, "checkpoint");
	tl = strlen(text);
	if ((rc = checkpoint_parse(text, tl, &cp)) < 0) {
		free(text);
		return rc;
	}
	/* note_open checked the lines: they follow the text and a blank
	 * line, each one well-formed and ending in a newline */
	for (line = note + tl + 1; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		for (i = 0; i < p->nw; i++) {
			if (counted[i])
				continue;
			rc = note_cosignature_verify(&p->w[i].v, text, tl, line,
			    (size_t)(nl - line), NULL);
			if (rc == ERR_INVAL)
				continue; /* not this witness's line */
			if (rc < 0) {
				rc = err_prefix(rc, "checkpoint");
				goto fail;
			}
			counted[i] = 1;
			n++;
			break;
		}
	}
	if (n < quorum) {
		size_t off = 0;

		for (i = 0; i < p->nw && off < sizeof(missing) - 1; i++)
			if (!counted[i])
				off += (size_t)snprintf(missing + off,
				    sizeof(missing) - off, "%s%s",
				    off ? ", " : "", p->w[i].v.name);
		rc = err_set(ERR_REJECT,
		    "checkpoint of size %" PRIu64 " carries %zu "
		    "of the %zu witness cosignatures required (none from %s)",
		    cp.size, n, quorum, missing);
		goto fail;
	}
	free(text);
	if (ncosig != NULL)
		*ncosig = n;
	if (cp_out != NULL)
		*cp_out = cp;
	else
		checkpoint_clear(&cp);
	return 0;
fail:
	free(text);
	checkpoint_clear(&cp);
	return rc;
}

int
trust_verify(const struct trust_policy *p, const char *note, size_t len,
    struct checkpoint *cp, size_t *ncosig)
{
	return verify_quorum(p, p->quorum, note, len, cp, ncosig);
}

int
trust_memory_open(const char *path, const struct trust_policy *p,
    struct trust_memory **out)
{
	struct trust_memory *m;
	size_t len;
	int rc;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->path = strdup(path)) == NULL) {
		free(m);
		return err_set(ERR_NOMEM, "out of memory");
	}
	m->p = p;
	if (access(path, F_OK) != 0) {
		if (errno != ENOENT) {
			rc = err_set(ERR_IO, "%s: %s", path, strerror(errno));
			goto fail;
		}
		*out = m; /* first use */
		return 0;
	}
	if ((rc = util_read_file(path, MEMORY_MAX, &m->note, &len)) < 0)
		goto fail;
	/* the quorum is the policy's of the day it was verified; the log's
	 * signature says the file is what it was */
	if ((rc = verify_quorum(p, 0, m->note, len, &m->cp, NULL)) < 0) {
		rc = err_prefix(rc, "%s: the remembered checkpoint", path);
		goto fail;
	}
	*out = m;
	return 0;
fail:
	trust_memory_free(m);
	return rc;
}

void
trust_memory_free(struct trust_memory *m)
{
	if (m == NULL)
		return;
	checkpoint_clear(&m->cp);
	free(m->note);
	free(m->path);
	free(m);
}

const char *
trust_memory_note(const struct trust_memory *m)
{
	return m->note;
}

const struct checkpoint *
trust_memory_checkpoint(const struct trust_memory *m)
{
	return m->note ? &m->cp : NULL;
}

const char *
trust_memory_path(const struct trust_memory *m)
{
	return m->path;
}

const struct trust_policy *
trust_memory_policy(const struct trust_memory *m)
{
	return m->p;
}

int
trust_proof_range(const struct trust_memory *m, uint64_t new_size,
    uint64_t *from, uint64_t *to)
{
	uint64_t old;

	*from = *to = 0;
	if (m->note == NULL)
		return 0;
	old = m->cp.size;
	*from = old < new_size ? old : new_size;
	*to = old < new_size ? new_size : old;
	return *from != 0 && *from != *to;
}

/* Remember note (len bytes) and its checkpoint cp (taken). */
static int
remember(struct trust_memory *m, const char *note, size_t len,
    struct checkpoint *cp)
{
	char *copy;
	int rc;

	if ((copy = strndup(note, len)) == NULL) {
		checkpoint_clear(cp);
		return err_set(ERR_NOMEM, "out of memory");
	}
	if ((rc = util_write_file(m->path, note, len, 0644)) < 0) {
		free(copy);
		checkpoint_clear(cp);
		return err_prefix(rc, "remembering the checkpoint");
	}
	free(m->note);
	checkpoint_clear(&m->cp);
	m->note = copy;
	m->cp = *cp;
	memset(cp, 0, sizeof(*cp));
	return 0;
}

/* The alarm: both notes in the message and in <path>.evidence. */
static int
raise_alarm(struct trust_memory *m, const char *note, size_t len,
    const char *why)
{
	char *text = NULL, *evpath = NULL;
	int n;

	n = asprintf(&text,
	    "ALARM: split view of log %s: %s.  Both checkpoints are "
	    "signed by the log's key: one log cannot honestly have signed "
	    "both.  Keep them as evidence (saved in %s.evidence).\n"
	    "--- remembered checkpoint (%s) ---\n%s"
	    "--- checkpoint shown now ---\n%.*s",
	    m->cp.origin, why, m->path, m->path, m->note, (int)len, note);
	if (n < 0)
		return err_set(ERR_ALARM,
		    "ALARM: split view of log %s: %s "
		    "(and out of memory to show the evidence)",
		    m->cp.origin, why);
	if (asprintf(&evpath, "%s.evidence", m->path) >= 0)
		(void)util_write_file(evpath, text, (size_t)n, 0644);
	free(evpath);
	err_set(ERR_ALARM, "%s", text);
	free(text);
	return ERR_ALARM;
}

int
trust_update(struct trust_memory *m, const char *note, size_t len,
    const uint8_t proof[][MERKLE_HASH_LEN], size_t nproof, int *advanced)
{
	const struct checkpoint *old = &m->cp;
	char why[512], ro[B64_ENCODED_SIZE(32)], rn[B64_ENCODED_SIZE(32)];
	struct checkpoint cp;
	int rc;

	if (advanced != NULL)
		*advanced = 0;
	if ((rc = trust_verify(m->p, note, len, &cp, NULL)) < 0)
		return rc;
	if (m->note == NULL) {
		if ((rc = remember(m, note, len, &cp)) == 0 && advanced)
			*advanced = 1;
		return rc;
	}
	if (strcmp(cp.origin, old->origin) != 0) {
		rc = err_set(ERR_INVAL,
		    "the checkpoint is of log '%.100s'; the "
		    "remembered one (%s) is of '%.100s'",
		    cp.origin, m->path, old->origin);
		checkpoint_clear(&cp);
		return rc;
	}
	b64_encode(old->root, 32, ro);
	b64_encode(cp.root, 32, rn);
	if (cp.size == old->size) {
		if (memcmp(cp.root, old->root, 32) != 0) {
			snprintf(why, sizeof(why),
			    "two checkpoints of size %" PRIu64 " with "
			    "different roots (%s remembered, %s now)",
			    cp.size, ro, rn);
			checkpoint_clear(&cp);
			return raise_alarm(m, note, len, why);
		}
		return remember(m, note, len, &cp);
	}
	if (cp.size > old->size) {
		if (old->size > 0 &&
		    merkle_verify_consistency(old->size, cp.size, old->root,
		        cp.root, proof, nproof) < 0) {
			snprintf(why, sizeof(why),
			    "the checkpoint of size %" PRIu64 " (root %s) "
			    "does not extend the remembered one of size "
			    "%" PRIu64 " (root %s): its consistency proof "
			    "does not verify",
			    cp.size, rn, old->size, ro);
			checkpoint_clear(&cp);
			return raise_alarm(m, note, len, why);
		}
		if ((rc = remember(m, note, len, &cp)) == 0 && advanced)
			*advanced = 1;
		return rc;
	}
	/* an older checkpoint: it must be a prefix of the remembered one */
	if (cp.size > 0 &&
	    merkle_verify_consistency(cp.size, old->size, cp.root, old->root,
	        proof, nproof) < 0) {
		snprintf(why, sizeof(why),
		    "the remembered checkpoint of size %" PRIu64
		    " (root %s) does not extend the older one shown now, of "
		    "size %" PRIu64 " (root %s): the consistency proof does "
		    "not verify",
		    old->size, ro, cp.size, rn);
		checkpoint_clear(&cp);
		return raise_alarm(m, note, len, why);
	}
	checkpoint_clear(&cp);
	return 0;
}
