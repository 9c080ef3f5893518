/*
 * envelope: signed envelopes {"body","kind","nonce","sig","signer","time"}
 * (DESIGN.md, trust rules).  The signed bytes are the canonical JSON of
 * the envelope without "sig".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/util.h"

static int
valid_kind(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ENVELOPE_KIND_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int
valid_nonce(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ENVELOPE_NONCE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * The signed bytes are the canonical envelope without "sig".  Keys sort as
 * body, kind, nonce, sig, signer, time; sig and signer hold only
 * base64url characters, which JSON never escapes (checked before this is
 * called), and time only digits, so the
 * canonical text ends with the fixed-shape tail
 *   ,"sig":"<86>","signer":"<51>","time":<digits>}
 * and cutting ,"sig":"<86>" out of it gives the signed bytes without a
 * second serialisation.
 */
static int
signed_span(const char *canon, size_t len, size_t *cut, size_t *cutlen)
{
	static const char sig_key[] = ",\"sig\":\"";
	const size_t signer_len =
	    11 + (KEY_TEXT_SIZE - 1) + 1; /* ,"signer":"<51>" */
	size_t p = len;

	if (p < 2 || canon[--p] != '}')
		return -1;
	while (p > 0 && canon[p - 1] >= '0' && canon[p - 1] <= '9')
		p--;
	if (p < 8 || memcmp(canon + p - 8, ",\"time\":", 8) != 0)
		return -1;
	p -= 8;
	if (p < signer_len ||
	    memcmp(canon + p - signer_len, ",\"signer\":\"", 11) != 0)
		return -1;
	p -= signer_len;
	/* ,"sig":"<86 chars>" */
	if (p < 8 + 86 + 1 || memcmp(canon + p - 95, sig_key, 8) != 0)
		return -1;
	*cut = p - 95;
	*cutlen = 95;
	return 0;
}

static int
from_json(json_t *j, int checked, struct envelope **out)
{
	struct envelope *e = NULL;
	const char *sigtext;
	long long t;
	char *msg = NULL;
	size_t msglen, n;
	json_t *body;
	int rc;

	if (!json_is_object(j)) {
		rc = err_set(ERR_INVAL, "envelope: expected a JSON object");
		goto fail;
	}
	if (json_object_size(j) != 6) {
		rc = err_set(ERR_INVAL,
		    "envelope: expected exactly the members "
		    "body, kind, nonce, sig, signer, time");
		goto fail;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	e->json = j;
	j = NULL;
	if ((rc = cjson_get_str(e->json, "kind", "envelope", &e->kind)) < 0 ||
	    (rc = cjson_get_obj(e->json, "body", "envelope", &body)) < 0 ||
	    (rc = cjson_get_str(e->json, "signer", "envelope",
	         &e->signer_text)) < 0 ||
	    (rc = cjson_get_str(e->json, "nonce", "envelope", &e->nonce)) < 0 ||
	    (rc = cjson_get_int(e->json, "time", "envelope", &t)) < 0 ||
	    (rc = cjson_get_str(e->json, "sig", "envelope", &sigtext)) < 0)
		goto fail;
	e->body = body;
	if (!valid_kind(e->kind)) {
		rc = err_set(ERR_INVAL,
		    "envelope.kind: '%.80s' is not a kind "
		    "(1-%d of a-z 0-9 . _ -)",
		    e->kind, ENVELOPE_KIND_MAX);
		goto fail;
	}
	if (!valid_nonce(e->nonce)) {
		rc = err_set(ERR_INVAL,
		    "envelope.nonce: expected 1-%d "
		    "printable ASCII characters",
		    ENVELOPE_NONCE_MAX);
		goto fail;
	}
	if (t < 0) {
		rc = err_set(ERR_INVAL, "envelope.time: %lld is negative", t);
		goto fail;
	}
	e->time_ms = t;
	if ((rc = key_pub_from_text(e->signer_text, e->signer)) < 0) {
		rc = err_prefix(rc, "envelope.signer");
		goto fail;
	}
	if (strlen(sigtext) != 86 ||
	    b64url_decode(sigtext, 86, e->sig, sizeof(e->sig), &n) < 0 ||
	    n != KEY_SIG_LEN) {
		rc = err_set(ERR_INVAL,
		    "envelope.sig: expected 86 base64url "
		    "characters (64 bytes)");
		goto fail;
	}
	if ((rc = checked ?
	            cjson_dump_checked(e->json, &e->canon, &e->canon_len) :
	            cjson_dump(e->json, &e->canon, &e->canon_len)) < 0)
		goto fail;
	{
		size_t cut, cutlen;
		if (signed_span(e->canon, e->canon_len, &cut, &cutlen) < 0) {
			rc = err_set(ERR_INVAL,
			    "envelope: unexpected "
			    "canonical form");
			goto fail;
		}
		if ((msg = malloc(e->canon_len)) == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
		memcpy(msg, e->canon, cut);
		memcpy(msg + cut, e->canon + cut + cutlen,
		    e->canon_len - cut - cutlen);
		msglen = e->canon_len - cutlen;
	}
	if (key_verify(e->signer, msg, msglen, e->sig) < 0) {
		rc = err_set(ERR_SIG,
		    "envelope: signature by %s does not "
		    "verify",
		    e->signer_text);
		goto fail;
	}
	free(msg);
	*out = e;
	return 0;
fail:
	free(msg);
	json_decref(j);
	envelope_free(e);
	return rc;
}

int
envelope_from_json(json_t *j, struct envelope **out)
{
	return from_json(j, 0, out);
}

int
envelope_parse(const char *buf, size_t len, struct envelope **out)
{
	json_t *j;
	int rc;

	if ((rc = cjson_parse(buf, len, &j)) < 0)
		return rc;
	/* cjson_parse checked every value already */
	return from_json(j, 1, out);
}

int
envelope_sign(const struct key *k, const char *kind, json_t *body,
    const char *nonce, int64_t time_ms, struct envelope **out)
{
	uint8_t pub[KEY_PUB_LEN], sig[KEY_SIG_LEN], rnd[16];
	char signer[KEY_TEXT_SIZE], nbuf[33], sigtext[B64_ENCODED_SIZE(64)];
	char *msg = NULL;
	size_t msglen;
	json_t *j = NULL;
	int rc;

	if (!json_is_object(body))
		return err_set(ERR_INVAL, "envelope body: expected an object");
	if (!valid_kind(kind))
		return err_set(ERR_INVAL,
		    "envelope kind '%.80s': expected 1-%d "
		    "of a-z 0-9 . _ -",
		    kind, ENVELOPE_KIND_MAX);
	if (nonce == NULL) {
		if ((rc = util_random(rnd, sizeof(rnd))) < 0)
			return rc;
		hex_encode(rnd, sizeof(rnd), nbuf);
		nonce = nbuf;
	} else if (!valid_nonce(nonce)) {
		return err_set(ERR_INVAL,
		    "envelope nonce: expected 1-%d "
		    "printable ASCII characters",
		    ENVELOPE_NONCE_MAX);
	}
	if (time_ms < 0)
		time_ms = util_now_ms();
	key_public(k, pub);
	key_pub_to_text(pub, signer);
	j = json_pack("{s:s,s:O,s:s,s:s,s:I}", "kind", kind, "body", body,
	    "signer", signer, "nonce", nonce, "time", (json_int_t)time_ms);
	if (j == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((rc = cjson_dump(j, &msg, &msglen)) < 0)
		goto fail;
	if ((rc = key_sign(k, msg, msglen, sig)) < 0)
		goto fail;
	b64url_encode(sig, sizeof(sig), sigtext);
	if (json_object_set_new(j, "sig", json_string(sigtext)) < 0) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	free(msg);
	return envelope_from_json(j, out);
fail:
	free(msg);
	json_decref(j);
	return rc;
}

int
envelope_dump(const struct envelope *e, char **out, size_t *len)
{
	if ((*out = malloc(e->canon_len + 1)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(*out, e->canon, e->canon_len + 1);
	if (len)
		*len = e->canon_len;
	return 0;
}

void
envelope_free(struct envelope *e)
{
	if (e == NULL)
		return;
	json_decref(e->json);
	free(e->canon);
	free(e);
}

struct parse_job {
	const char *const *bufs;
	const size_t *lens;
	size_t n;
	atomic_size_t next;
	struct envelope **out;
	int *rcs;
	char **msgs;
};

static void *
parse_worker(void *arg)
{
	struct parse_job *j = arg;
	size_t i;

	/* claim items in small runs so threads share the work evenly */
	while ((i = atomic_fetch_add(&j->next, 1)) < j->n) {
		j->out[i] = NULL;
		j->rcs[i] = envelope_parse(j->bufs[i], j->lens[i], &j->out[i]);
		if (j->msgs)
			j->msgs[i] = j->rcs[i] < 0 ? strdup(err_msg()) : NULL;
	}
	return NULL;
}

int
envelope_parse_many(const char *const *bufs, const size_t *lens, size_t n,
    int threads, struct envelope **out, int *rcs, char **msgs)
{
	struct parse_job j = { bufs, lens, n, 0, out, rcs, msgs };
	pthread_t th[16];
	int started = 0;

	if (threads > 16)
		threads = 16;
	/* the calling thread works too */
	for (int t = 1; t < threads && (size_t)t < n; t++) {
		if (pthread_create(&th[started], NULL, parse_worker, &j) != 0)
			break;
		started++;
	}
	parse_worker(&j);
	for (int t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	return 0;
}
