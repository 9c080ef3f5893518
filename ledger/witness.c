/*
 * witness: C2SP tlog-witness add-checkpoint requests, the witness's
 * decision and the answers a log reads back (see witness.h).
 */
#include "ledger/witness.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/err.h"

/* "— ": U+2014 EM DASH and a space open every signature line. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN 4
#define HASH_B64_LEN 44 /* base64 of 32 bytes, padded */

/* A decimal size without sign or leading zero in s[0..len), the whole
 * of it. */
static int
parse_size(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
witness_request_parse(const char *body, size_t len, struct witness_request *out)
{
	const char *p = body, *end = body + len, *nl;
	size_t line = 1, n;

	memset(out, 0, sizeof(*out));
	if ((nl = memchr(p, '\n', len)) == NULL)
		return err_set(ERR_INVAL,
		    "request line 1: expected \"old <size>\" "
		    "and a newline");
	if (nl - p < 4 || memcmp(p, "old ", 4) != 0 ||
	    parse_size(p + 4, (size_t)(nl - p) - 4, &out->old_size) < 0)
		return err_set(ERR_INVAL,
		    "request line 1: '%.*s': expected "
		    "\"old <size>\" (decimal, no leading zero)",
		    nl - p > 40 ? 40 : (int)(nl - p), p);
	for (p = nl + 1, line = 2;; p = nl + 1, line++) {
		if (p == end)
			return err_set(ERR_INVAL,
			    "request line %zu: expected a "
			    "proof line or the empty line before the "
			    "checkpoint",
			    line);
		if (*p == '\n')
			break;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return err_set(ERR_INVAL,
			    "request line %zu: expected it "
			    "to end in a newline",
			    line);
		if (out->nproof == WITNESS_MAX_PROOF)
			return err_set(ERR_INVAL,
			    "request line %zu: more than %d "
			    "consistency proof lines",
			    line, WITNESS_MAX_PROOF);
		if (nl - p != HASH_B64_LEN ||
		    b64_decode(p, HASH_B64_LEN, out->proof[out->nproof],
		        MERKLE_HASH_LEN, &n) < 0 ||
		    n != MERKLE_HASH_LEN)
			return err_set(ERR_INVAL,
			    "request line %zu: '%.*s' is not "
			    "base64 of a 32-byte hash",
			    line, nl - p > 60 ? 60 : (int)(nl - p), p);
		out->nproof++;
	}
	out->note = p + 1;
	out->note_len = (size_t)(end - out->note);
	if (out->note_len == 0)
		return err_set(ERR_INVAL,
		    "request: no checkpoint after the empty "
		    "line");
	return 0;
}

int
witness_request_format(uint64_t old_size,
    const uint8_t proof[][MERKLE_HASH_LEN], size_t nproof, const char *note,
    size_t note_len, char **out, size_t *out_len)
{
	char head[32], *buf, *p;
	size_t hl, total, i;

	*out = NULL;
	if (nproof > WITNESS_MAX_PROOF)
		return err_set(ERR_LIMIT,
		    "a consistency proof of %zu hashes; a "
		    "witness takes at most %d",
		    nproof, WITNESS_MAX_PROOF);
	hl =
	    (size_t)snprintf(head, sizeof(head), "old %" PRIu64 "\n", old_size);
	total = hl + nproof * (HASH_B64_LEN + 1) + 1 + note_len;
	if ((buf = malloc(total + 1)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(buf, head, hl);
	p = buf + hl;
	for (i = 0; i < nproof; i++) {
		char b64[B64_ENCODED_SIZE(MERKLE_HASH_LEN)];

		b64_encode(proof[i], MERKLE_HASH_LEN, b64);
		memcpy(p, b64, HASH_B64_LEN);
		p += HASH_B64_LEN;
		*p++ = '\n';
	}
	*p++ = '\n';
	memcpy(p, note, note_len);
	p[note_len] = '\0';
	*out = buf;
	if (out_len != NULL)
		*out_len = total;
	return 0;
}

int
witness_note_origin(const char *note, size_t len, char **origin)
{
	const char *nl = memchr(note, '\n', len);

	*origin = NULL;
	if (nl == NULL || nl == note)
		return err_set(ERR_INVAL,
		    "checkpoint: expected an origin line "
		    "first");
	if ((*origin = strndup(note, (size_t)(nl - note))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (strlen(*origin) != (size_t)(nl - note)) {
		free(*origin);
		*origin = NULL;
		return err_set(ERR_INVAL, "checkpoint: NUL in the origin");
	}
	return 0;
}

void
witness_decision_clear(struct witness_decision *d)
{
	if (d == NULL)
		return;
	free(d->text);
	memset(d, 0, sizeof(*d));
}

static int refuse(struct witness_decision *d, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(struct witness_decision *d, int status, const char *fmt, ...)
{
	va_list ap;

	d->status = status;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	return 0;
}

int
witness_decide(const struct witness_log *log, const struct witness_last *last,
    const struct witness_request *req, struct witness_decision *d)
{
	char have[B64_ENCODED_SIZE(32)], got[B64_ENCODED_SIZE(32)];
	struct checkpoint cp;
	char *text = NULL;
	int rc;

	memset(d, 0, sizeof(*d));
	d->last_size = last->size;
	if (log == NULL)
		return refuse(d, 404, "unknown log origin");
	rc = note_open(req->note, req->note_len, log->keys, log->nkeys, &text,
	    NULL);
	if (rc == ERR_NOMEM)
		return rc;
	if (rc == ERR_SIG)
		return refuse(d, 403, "%s", err_msg());
	if (rc < 0)
		return refuse(d, 400, "%s", err_msg());
	rc = checkpoint_parse(text, strlen(text), &cp);
	if (rc == ERR_NOMEM) {
		free(text);
		return rc;
	}
	if (rc < 0) {
		free(text);
		return refuse(d, 400, "%s", err_msg());
	}
	if (strcmp(cp.origin, log->origin) != 0) {
		checkpoint_clear(&cp);
		free(text);
		return refuse(d, 404, "unknown log origin");
	}
	d->text = text;
	d->size = cp.size;
	memcpy(d->root, cp.root, MERKLE_HASH_LEN);
	checkpoint_clear(&cp);

	if (req->old_size > d->size)
		return refuse(d, 400,
		    "old size %" PRIu64 " is above the "
		    "checkpoint's size %" PRIu64,
		    req->old_size, d->size);
	if (req->old_size != last->size)
		return refuse(d, 409,
		    "old size %" PRIu64 " is not the size "
		    "last cosigned, %" PRIu64,
		    req->old_size, last->size);
	b64_encode(last->root, MERKLE_HASH_LEN, have);
	b64_encode(d->root, MERKLE_HASH_LEN, got);
	if (req->old_size == 0) {
		if (req->nproof != 0)
			return refuse(d, 422,
			    "a proof from size 0 must be "
			    "empty; it has %zu lines",
			    req->nproof);
		if (d->size == 0 && last->note != NULL &&
		    memcmp(d->root, last->root, MERKLE_HASH_LEN) != 0) {
			d->evidence = 1;
			return refuse(d, 409,
			    "checkpoint of size 0 has root "
			    "%s; the one cosigned has %s",
			    got, have);
		}
	} else if (req->old_size == d->size) {
		if (memcmp(d->root, last->root, MERKLE_HASH_LEN) != 0) {
			d->evidence = 1;
			return refuse(d, 409,
			    "split view: checkpoint of size "
			    "%" PRIu64 " has root %s but the witness "
			    "cosigned root %s at that size",
			    d->size, got, have);
		}
		if (req->nproof != 0)
			return refuse(d, 422,
			    "a proof between equal sizes must "
			    "be empty; it has %zu lines",
			    req->nproof);
	} else if (merkle_verify_consistency(req->old_size, d->size, last->root,
	               d->root, req->proof, req->nproof) < 0) {
		d->evidence = 1;
		return refuse(d, 422,
		    "the consistency proof from size %" PRIu64
		    " (cosigned root %s) to size %" PRIu64 " (root %s) "
		    "does not verify",
		    req->old_size, have, d->size, got);
	}
	d->status = 200;
	snprintf(d->reason, sizeof(d->reason), "cosigned size %" PRIu64,
	    d->size);
	return 0;
}

int
witness_response_cosig(const struct note_verifier *w, const char *text,
    size_t text_len, const char *body, size_t len, char **line, uint64_t *time)
{
	const char *p = body, *end = body + len, *nl;
	size_t lineno;
	int rc;

	*line = NULL;
	if (len == 0 || body[len - 1] != '\n')
		return err_set(ERR_INVAL,
		    "witness answer: expected signature "
		    "lines ending in a newline");
	for (lineno = 1; p < end; p = nl + 1, lineno++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl - p < SIG_PREFIX_LEN ||
		    memcmp(p, sig_prefix, SIG_PREFIX_LEN) != 0)
			return err_set(ERR_INVAL,
			    "witness answer line %zu: "
			    "expected a signature line (\"\xe2\x80\x94 "
			    "<name> <base64>\")",
			    lineno);
		rc = note_cosignature_verify(w, text, text_len, p,
		    (size_t)(nl - p), time);
		if (rc == ERR_INVAL)
			continue; /* another key's line, or not ours to read */
		if (rc < 0)
			return err_prefix(rc, "witness answer line %zu",
			    lineno);
		if ((*line = strndup(p, (size_t)(nl - p))) == NULL)
			return err_set(ERR_NOMEM, "out of memory");
		return 0;
	}
	return err_set(ERR_INVAL,
	    "witness answer: no cosignature by %s+%08x "
	    "among its %zu lines",
	    w->name, w->id, lineno - 1);
}

int
witness_response_size(const char *body, size_t len, uint64_t *size)
{
	if (len < 2 || body[len - 1] != '\n' ||
	    parse_size(body, len - 1, size) < 0)
		return err_set(ERR_INVAL,
		    "witness answer: '%.*s' is not a tree "
		    "size and a newline",
		    len > 40 ? 40 : (int)len, body);
	return 0;
}
