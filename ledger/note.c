/*
 * note: C2SP signed-note (Ed25519, type 0x01), C2SP tlog-cosignature/v1
 * (type 0x04) and C2SP tlog-checkpoint.  Parsing follows Go's
 * golang.org/x/mod/sumdb/note, the reference implementation.
 */
#include "ledger/note.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/codec.h"
#include "common/err.h"

typedef unsigned long long ull;

/* "— ": U+2014 EM DASH and a space open every signature line. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN 4

#define COSIG_LEN (4 + 8 + KEY_SIG_LEN)

/* Decode one UTF-8 code point at s[0..len); its length, or 0 when the
 * bytes are not well-formed (overlong, surrogate, above U+10FFFF). */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Unicode White_Space, as Go's unicode.IsSpace. */
static int
is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 ||
	    c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	    c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	    c == 0x3000;
}

/* Well-formed UTF-8 with no ASCII control character but newline. */
static int
text_check(const char *s, size_t len, const char *what)
{
	size_t i = 0, n;
	uint32_t c;

	while (i < len) {
		n = utf8_decode((const unsigned char *)s + i, len - i, &c);
		if (n == 0)
			return err_set(ERR_INVAL, "%s: byte %zu: invalid UTF-8",
			    what, i);
		if ((c < 0x20 && c != '\n') || c == 0x7f)
			return err_set(ERR_INVAL,
			    "%s: byte %zu: control "
			    "character 0x%02x; only newline is allowed",
			    what, i, (unsigned)c);
		i += n;
	}
	return 0;
}

static int
name_check(const char *name, size_t len)
{
	size_t i = 0, n;
	uint32_t c;

	if (len == 0)
		return err_set(ERR_INVAL, "key name is empty");
	if (len > NOTE_NAME_MAX)
		return err_set(ERR_INVAL, "key name is %zu bytes; at most %d",
		    len, NOTE_NAME_MAX);
	while (i < len) {
		n = utf8_decode((const unsigned char *)name + i, len - i, &c);
		if (n == 0)
			return err_set(ERR_INVAL,
			    "key name: byte %zu: invalid "
			    "UTF-8",
			    i);
		if (is_space(c) || c == '+' || c < 0x20 || c == 0x7f)
			return err_set(ERR_INVAL,
			    "key name: byte %zu: '%s' is "
			    "not allowed in a name",
			    i,
			    c == '+' ? "+" :
			               "white space or control character");
		i += n;
	}
	return 0;
}

int
note_name_check(const char *name)
{
	return name_check(name, strlen(name));
}

uint32_t
note_key_id_type(const char *name, uint8_t type, const uint8_t pub[KEY_PUB_LEN])
{
	uint8_t h[SHA256_DIGEST_LENGTH], tail[2 + KEY_PUB_LEN];
	size_t nlen = strlen(name);
	uint8_t *buf;

	tail[0] = '\n';
	tail[1] = type;
	memcpy(tail + 2, pub, KEY_PUB_LEN);
	/* One-shot SHA-256 over name || tail; names are short. */
	if (nlen <= NOTE_NAME_MAX) {
		uint8_t stack[NOTE_NAME_MAX + sizeof(tail)];

		memcpy(stack, name, nlen);
		memcpy(stack + nlen, tail, sizeof(tail));
		SHA256(stack, nlen + sizeof(tail), h);
	} else {
		if ((buf = malloc(nlen + sizeof(tail))) == NULL)
			err_abort("note_key_id_type: out of memory hashing a "
			          "%zu-byte key name (this function has no "
			          "error path)",
			    nlen);
		memcpy(buf, name, nlen);
		memcpy(buf + nlen, tail, sizeof(tail));
		SHA256(buf, nlen + sizeof(tail), h);
		free(buf);
	}
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3];
}

uint32_t
note_key_id(const char *name, const uint8_t pub[KEY_PUB_LEN])
{
	return note_key_id_type(name, NOTE_SIG_ED25519, pub);
}

int
note_verifier_init(struct note_verifier *v, const char *name, uint8_t type,
    const uint8_t pub[KEY_PUB_LEN])
{
	int rc;

	memset(v, 0, sizeof(*v));
	if ((rc = note_name_check(name)) < 0)
		return rc;
	if (type != NOTE_SIG_ED25519 && type != NOTE_SIG_COSIGNATURE)
		return err_set(ERR_INVAL,
		    "key type 0x%02x: expected 0x01 "
		    "(Ed25519) or 0x04 (cosignature/v1)",
		    type);
	memcpy(v->name, name, strlen(name) + 1);
	v->type = type;
	memcpy(v->pub, pub, KEY_PUB_LEN);
	v->id = note_key_id_type(name, type, pub);
	return 0;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

int
note_vkey_format_type(const char *name, uint8_t type,
    const uint8_t pub[KEY_PUB_LEN], char **out)
{
	uint8_t key[1 + KEY_PUB_LEN];
	char b64[B64_ENCODED_SIZE(1 + KEY_PUB_LEN)];
	size_t nlen = strlen(name);
	int rc;

	*out = NULL;
	if ((rc = name_check(name, nlen)) < 0)
		return rc;
	if (type != NOTE_SIG_ED25519 && type != NOTE_SIG_COSIGNATURE)
		return err_set(ERR_INVAL,
		    "key type 0x%02x: expected 0x01 "
		    "(Ed25519) or 0x04 (cosignature/v1)",
		    type);
	key[0] = type;
	memcpy(key + 1, pub, KEY_PUB_LEN);
	b64_encode(key, sizeof(key), b64);
	if (asprintf(out, "%s+%08x+%s", name, note_key_id_type(name, type, pub),
	        b64) < 0) {
		*out = NULL;
		return err_set(ERR_NOMEM, "note_vkey_format: out of memory");
	}
	return 0;
}

int
note_vkey_format(const char *name, const uint8_t pub[KEY_PUB_LEN], char **out)
{
	return note_vkey_format_type(name, NOTE_SIG_ED25519, pub, out);
}

int
note_vkey_parse(const char *vkey, struct note_verifier *out)
{
	const char *p1, *p2;
	uint8_t idb[4], key[1 + KEY_PUB_LEN + 1];
	size_t nlen, klen;
	char name[NOTE_NAME_MAX + 1];
	uint32_t id;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((p1 = strchr(vkey, '+')) == NULL ||
	    (p2 = strchr(p1 + 1, '+')) == NULL)
		return err_set(ERR_INVAL,
		    "verifier key '%.80s': expected "
		    "<name>+<key id>+<key>",
		    vkey);
	nlen = (size_t)(p1 - vkey);
	if ((rc = name_check(vkey, nlen)) < 0)
		return err_prefix(rc, "verifier key '%.80s'", vkey);
	memcpy(name, vkey, nlen);
	name[nlen] = '\0';
	if (p2 - (p1 + 1) != 8 || hex_decode(p1 + 1, 8, idb, 4) < 0)
		return err_set(ERR_INVAL,
		    "verifier key '%.80s': key id '%.*s' "
		    "is not 8 hex digits",
		    vkey, (int)(p2 - (p1 + 1)) > 16 ? 16 : (int)(p2 - (p1 + 1)),
		    p1 + 1);
	id = get_be32(idb);
	rc = b64_decode(p2 + 1, strlen(p2 + 1), key, sizeof(key), &klen);
	if (rc < 0 || klen == 0)
		return err_set(ERR_INVAL,
		    "verifier key '%.80s': key is not "
		    "base64 of a type byte and a key",
		    vkey);
	if (key[0] != NOTE_SIG_ED25519 && key[0] != NOTE_SIG_COSIGNATURE)
		return err_set(ERR_INVAL,
		    "verifier key '%.80s': key type "
		    "0x%02x is not supported (0x01 Ed25519, 0x04 "
		    "cosignature/v1)",
		    vkey, key[0]);
	if (klen != 1 + KEY_PUB_LEN)
		return err_set(ERR_INVAL,
		    "verifier key '%.80s': key is %zu "
		    "bytes; expected %d",
		    vkey, klen - 1, KEY_PUB_LEN);
	if ((rc = note_verifier_init(out, name, key[0], key + 1)) < 0)
		return rc;
	if (out->id != id) {
		rc = err_set(ERR_INVAL,
		    "verifier key '%.80s': key id %08x does "
		    "not match name and key (expected %08x)",
		    vkey, id, out->id);
		memset(out, 0, sizeof(*out));
		return rc;
	}
	return 0;
}

/* The rules for note text, shared by signing and cosigning. */
static int
sign_text_check(const char *text, size_t len)
{
	if (len == 0)
		return err_set(ERR_INVAL, "note text is empty");
	if (text[len - 1] != '\n')
		return err_set(ERR_INVAL,
		    "note text: byte %zu: expected it to "
		    "end in a newline",
		    len - 1);
	return text_check(text, len, "note text");
}

int
note_sign(const char *text, size_t len, const char *name, const struct key *k,
    char **out)
{
	uint8_t sig[4 + KEY_SIG_LEN], pub[KEY_PUB_LEN];
	char b64[B64_ENCODED_SIZE(sizeof(sig))];
	size_t nlen = strlen(name), blen, total;
	char *buf, *p;
	int rc;

	*out = NULL;
	if ((rc = sign_text_check(text, len)) < 0)
		return rc;
	if ((rc = name_check(name, nlen)) < 0)
		return rc;
	key_public(k, pub);
	put_be32(sig, note_key_id(name, pub));
	if ((rc = key_sign(k, text, len, sig + 4)) < 0)
		return err_prefix(rc, "signing note as %s", name);
	b64_encode(sig, sizeof(sig), b64);
	blen = strlen(b64);
	total = len + 1 + SIG_PREFIX_LEN + nlen + 1 + blen + 1;
	if ((buf = malloc(total + 1)) == NULL)
		return err_set(ERR_NOMEM, "note_sign: out of memory");
	p = buf;
	memcpy(p, text, len);
	p += len;
	*p++ = '\n';
	memcpy(p, sig_prefix, SIG_PREFIX_LEN);
	p += SIG_PREFIX_LEN;
	memcpy(p, name, nlen);
	p += nlen;
	*p++ = ' ';
	memcpy(p, b64, blen);
	p += blen;
	*p++ = '\n';
	*p = '\0';
	*out = buf;
	return 0;
}

/* "cosignature/v1\ntime <T>\n" || text, the message a cosigner signs. */
static int
cosig_message(const char *text, size_t len, uint64_t time, char **msg,
    size_t *msglen)
{
	char head[64];
	int hl;

	hl = snprintf(head, sizeof(head), "cosignature/v1\ntime %llu\n",
	    (ull)time);
	if ((*msg = malloc((size_t)hl + len)) == NULL)
		return err_set(ERR_NOMEM, "cosignature: out of memory");
	memcpy(*msg, head, (size_t)hl);
	memcpy(*msg + hl, text, len);
	*msglen = (size_t)hl + len;
	return 0;
}

/* Check sig (the bytes after the key ID) by verifier v over text. */
static int
verify_sig(const struct note_verifier *v, const char *text, size_t len,
    const uint8_t *sig, size_t siglen, uint64_t *time)
{
	char *msg;
	size_t msglen;
	uint64_t t;
	int rc;

	if (v->type == NOTE_SIG_ED25519) {
		if (siglen != KEY_SIG_LEN)
			return err_set(ERR_SIG,
			    "signature by %s+%08x is %zu "
			    "bytes; expected %d",
			    v->name, v->id, siglen, KEY_SIG_LEN);
		if (key_verify(v->pub, text, len, sig) < 0)
			return err_set(ERR_SIG,
			    "signature by %s+%08x does not "
			    "verify",
			    v->name, v->id);
		return 0;
	}
	if (siglen != 8 + KEY_SIG_LEN)
		return err_set(ERR_SIG,
		    "cosignature by %s+%08x is %zu bytes; "
		    "expected %d",
		    v->name, v->id, siglen, 8 + KEY_SIG_LEN);
	t = get_be64(sig);
	if ((rc = cosig_message(text, len, t, &msg, &msglen)) < 0)
		return rc;
	rc = key_verify(v->pub, msg, msglen, sig + 8);
	free(msg);
	if (rc < 0)
		return err_set(ERR_SIG,
		    "cosignature by %s+%08x at time %llu "
		    "does not verify",
		    v->name, v->id, (ull)t);
	if (time != NULL)
		*time = t;
	return 0;
}

/* Split one signature line (without "\n") into name and decoded bytes
 * (key ID first, at least one byte after it).  buf holds cap bytes. */
static int
sig_line_parse(const char *line, size_t len, const char **name, size_t *nlen,
    uint8_t *buf, size_t cap, size_t *blen)
{
	const char *sp;
	int rc;

	if (len < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN))
		return err_set(ERR_INVAL,
		    "expected it to start with "
		    "\"\xe2\x80\x94 \" (U+2014 and a space)");
	line += SIG_PREFIX_LEN;
	len -= SIG_PREFIX_LEN;
	if ((sp = memchr(line, ' ', len)) == NULL)
		return err_set(ERR_INVAL, "expected \"<name> <base64>\"");
	*name = line;
	*nlen = (size_t)(sp - line);
	if ((rc = name_check(line, *nlen)) < 0)
		return rc;
	sp++;
	rc = b64_decode(sp, len - (size_t)(sp - line), buf, cap, blen);
	if (rc < 0 || *blen < 5)
		return err_set(ERR_INVAL,
		    "signature of %.*s is not base64 of a "
		    "key id and a signature",
		    (int)*nlen, *name);
	return 0;
}

int
note_open(const char *note, size_t len, const struct note_verifier *known,
    size_t nknown, char **text_out, size_t *nverified)
{
	size_t seen[NOTE_MAX_SIGS], nseen = 0, nsig = 0, textlen, i, j;
	size_t nlen, blen, lineno;
	const char *sigs, *end, *line, *nl, *name;
	uint8_t *buf = NULL;
	char *text = NULL;
	uint32_t id;
	int rc;

	if (text_out != NULL)
		*text_out = NULL;
	if (nverified != NULL)
		*nverified = 0;
	if ((rc = text_check(note, len, "note")) < 0)
		return rc;
	/* The text ends at the last blank line; signatures follow it. */
	for (i = len; i >= 2; i--)
		if (note[i - 1] == '\n' && note[i - 2] == '\n')
			break;
	if (i < 2)
		return err_set(ERR_INVAL,
		    "note: no blank line before the "
		    "signatures");
	textlen = i - 1;
	sigs = note + i;
	end = note + len;
	if (sigs == end || end[-1] != '\n')
		return err_set(ERR_INVAL,
		    "note: byte %zu: expected signature "
		    "lines ending in a newline",
		    len);
	if ((buf = malloc(len)) == NULL)
		return err_set(ERR_NOMEM, "note_open: out of memory");

	for (line = sigs, lineno = 1; line < end; line = nl + 1, lineno++) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (++nsig > NOTE_MAX_SIGS) {
			rc = err_set(ERR_INVAL, "note: more than %d signatures",
			    NOTE_MAX_SIGS);
			goto fail;
		}
		rc = sig_line_parse(line, (size_t)(nl - line), &name, &nlen,
		    buf, len, &blen);
		if (rc < 0) {
			rc = err_prefix(rc, "note: signature line %zu", lineno);
			goto fail;
		}
		id = get_be32(buf);
		for (j = 0; j < nknown; j++)
			if (known[j].id == id &&
			    strlen(known[j].name) == nlen &&
			    memcmp(known[j].name, name, nlen) == 0)
				break;
		if (j == nknown)
			continue; /* unknown signer: not ours to judge */
		for (i = 0; i < nseen; i++)
			if (seen[i] == j)
				break;
		if (i < nseen)
			continue; /* one verdict per verifier */
		rc = verify_sig(&known[j], note, textlen, buf + 4, blen - 4,
		    NULL);
		if (rc < 0) {
			rc = err_prefix(rc, "note: signature line %zu", lineno);
			goto fail;
		}
		seen[nseen++] = j;
	}
	if (nseen == 0) {
		rc = err_set(ERR_SIG,
		    "note: none of its %zu signatures is by "
		    "one of the %zu known keys",
		    nsig, nknown);
		goto fail;
	}
	if (text_out != NULL) {
		if ((text = malloc(textlen + 1)) == NULL) {
			rc = err_set(ERR_NOMEM, "note_open: out of memory");
			goto fail;
		}
		memcpy(text, note, textlen);
		text[textlen] = '\0';
		*text_out = text;
	}
	if (nverified != NULL)
		*nverified = nseen;
	free(buf);
	return 0;
fail:
	free(buf);
	return rc;
}

int
note_cosign(const char *text, size_t len, const char *name, const struct key *k,
    uint64_t time, char **out)
{
	uint8_t sig[COSIG_LEN], pub[KEY_PUB_LEN];
	char b64[B64_ENCODED_SIZE(COSIG_LEN)];
	char *msg = NULL;
	size_t msglen;
	int i, rc;

	*out = NULL;
	if ((rc = sign_text_check(text, len)) < 0)
		return rc;
	if ((rc = note_name_check(name)) < 0)
		return rc;
	key_public(k, pub);
	put_be32(sig, note_key_id_type(name, NOTE_SIG_COSIGNATURE, pub));
	for (i = 0; i < 8; i++)
		sig[4 + i] = (uint8_t)(time >> (56 - 8 * i));
	if ((rc = cosig_message(text, len, time, &msg, &msglen)) < 0)
		return rc;
	rc = key_sign(k, msg, msglen, sig + 12);
	free(msg);
	if (rc < 0)
		return err_prefix(rc, "cosigning as %s", name);
	b64_encode(sig, sizeof(sig), b64);
	if (asprintf(out, "%s%s %s", sig_prefix, name, b64) < 0) {
		*out = NULL;
		return err_set(ERR_NOMEM, "note_cosign: out of memory");
	}
	return 0;
}

int
note_cosignature_verify(const struct note_verifier *v, const char *text,
    size_t len, const char *line, size_t linelen, uint64_t *time)
{
	uint8_t buf[COSIG_LEN];
	const char *name;
	size_t nlen, blen;
	int rc;

	if (v->type != NOTE_SIG_COSIGNATURE)
		return err_set(ERR_INVAL,
		    "cosignature: %s+%08x is a key of type "
		    "0x%02x, not a cosigner (0x04)",
		    v->name, v->id, v->type);
	if (linelen > 0 && line[linelen - 1] == '\n')
		linelen--;
	if ((rc = text_check(line, linelen, "cosignature line")) < 0)
		return rc;
	if ((rc = sig_line_parse(line, linelen, &name, &nlen, buf, sizeof(buf),
	         &blen)) < 0)
		return err_prefix(rc, "cosignature line");
	if (strlen(v->name) != nlen || memcmp(v->name, name, nlen) != 0 ||
	    get_be32(buf) != v->id)
		return err_set(ERR_INVAL,
		    "cosignature line is by %.*s+%08x, "
		    "not by %s+%08x",
		    (int)nlen, name, get_be32(buf), v->name, v->id);
	return verify_sig(v, text, len, buf + 4, blen - 4, time);
}

int
checkpoint_format(const char *origin, uint64_t size, const uint8_t root[32],
    char **out)
{
	char b64[B64_ENCODED_SIZE(32)];
	size_t olen = strlen(origin);
	int rc;

	*out = NULL;
	if (olen == 0)
		return err_set(ERR_INVAL, "checkpoint origin is empty");
	if (memchr(origin, '\n', olen) != NULL)
		return err_set(ERR_INVAL, "checkpoint origin holds a newline");
	if ((rc = text_check(origin, olen, "checkpoint origin")) < 0)
		return rc;
	b64_encode(root, 32, b64);
	if (asprintf(out, "%s\n%llu\n%s\n", origin, (ull)size, b64) < 0) {
		*out = NULL;
		return err_set(ERR_NOMEM, "checkpoint_format: out of memory");
	}
	return 0;
}

void
checkpoint_clear(struct checkpoint *c)
{
	if (c == NULL)
		return;
	free(c->origin);
	free(c->extensions);
	memset(c, 0, sizeof(*c));
}

int
checkpoint_parse(const char *text, size_t len, struct checkpoint *out)
{
	const char *p = text, *end = text + len, *nl;
	const char *line[3];
	size_t llen[3], i, rlen;
	uint64_t size = 0;
	uint8_t root[32];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = text_check(text, len, "checkpoint")) < 0)
		return rc;
	if (len == 0 || text[len - 1] != '\n')
		return err_set(ERR_INVAL,
		    "checkpoint: expected it to end in a "
		    "newline");
	for (i = 0; i < 3; i++) {
		if (p == end)
			return err_set(ERR_INVAL,
			    "checkpoint: %zu lines; expected "
			    "origin, size and root hash",
			    i);
		nl = memchr(p, '\n', (size_t)(end - p));
		line[i] = p;
		llen[i] = (size_t)(nl - p);
		p = nl + 1;
	}
	if (llen[0] == 0)
		return err_set(ERR_INVAL, "checkpoint line 1: origin is empty");
	if (llen[1] == 0 || llen[1] > 20 || (line[1][0] == '0' && llen[1] > 1))
		goto badsize;
	for (i = 0; i < llen[1]; i++) {
		unsigned d = (unsigned char)line[1][i] - '0';

		if (d > 9 || size > (UINT64_MAX - d) / 10)
			goto badsize;
		size = size * 10 + d;
	}
	if (llen[2] != 44 ||
	    b64_decode(line[2], llen[2], root, sizeof(root), &rlen) < 0 ||
	    rlen != 32) {
		return err_set(ERR_INVAL,
		    "checkpoint line 3: '%.*s' is not "
		    "base64 of a 32-byte root hash",
		    llen[2] > 60 ? 60 : (int)llen[2], line[2]);
	}
	/* Extension lines: any number, none empty. */
	for (nl = p, i = 4; nl < end; i++) {
		if (*nl == '\n')
			return err_set(ERR_INVAL,
			    "checkpoint line %zu: empty "
			    "extension line",
			    i);
		nl = memchr(nl, '\n', (size_t)(end - nl)) + 1;
	}
	out->size = size;
	memcpy(out->root, root, sizeof(root));
	if ((out->origin = strndup(line[0], llen[0])) == NULL)
		goto nomem;
	if (p < end &&
	    (out->extensions = strndup(p, (size_t)(end - p))) == NULL)
		goto nomem;
	return 0;
badsize:
	return err_set(ERR_INVAL,
	    "checkpoint line 2: '%.*s' is not a tree "
	    "size (decimal, no sign or leading zero, at most %llu)",
	    llen[1] > 24 ? 24 : (int)llen[1], line[1], (ull)UINT64_MAX);
nomem:
	checkpoint_clear(out);
	return err_set(ERR_NOMEM, "checkpoint_parse: out of memory");
}
