/*
 * ref: parse OCI image references with the grammar and defaults of
 * github.com/distribution/reference (docker.io, library/, tag "latest").
 * The SDL's image field uses this parser too (sdl/image.c).
 */
#include "image/ref.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/err.h"

static bool
alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+ (([._]|__|[-]+) [a-z0-9]+)* */
static bool
valid_component(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !alnum_lower(s[0]))
		return false;
	while (i < n) {
		while (i < n && alnum_lower(s[i]))
			i++;
		if (i == n)
			return true;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n || !alnum_lower(s[i]))
			return false;
	}
	return true;
}

/* domain: host[:port], host made of DNS labels or a bracketed IPv6. */
static bool
valid_domain(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return false;
	if (s[0] == '[') {
		while (i < n && s[i] != ']')
			i++;
		if (i == n)
			return false;
		i++;
	} else {
		while (i < n && s[i] != ':') {
			char c = s[i];
			if (!(isalnum((unsigned char)c) || c == '-' ||
			        c == '.'))
				return false;
			i++;
		}
		if (i == 0 || s[0] == '-' || s[0] == '.' || s[i - 1] == '-' ||
		    s[i - 1] == '.')
			return false;
	}
	if (i < n) {
		if (s[i] != ':' || i + 1 == n)
			return false;
		for (i++; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
	}
	return true;
}

static bool
valid_tag(const char *s, size_t n)
{
	if (n == 0 || n > 128)
		return false;
	if (!(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' ||
		        s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static int
parse_digest(const char *d, struct image_ref *ref)
{
	const char *c = strchr(d, ':');
	size_t hexlen;

	if (!c || c == d)
		return err_set(ERR_INVAL,
		    "image digest must be <algorithm>:<hex>");
	for (const char *q = d; q < c; q++)
		if (!(isalnum((unsigned char)*q) || *q == '+' || *q == '.' ||
		        *q == '_' || *q == '-'))
			return err_set(ERR_INVAL,
			    "image digest algorithm is not valid");
	hexlen = strlen(c + 1);
	if (hexlen < 32 || !hex_valid(c + 1, hexlen) ||
	    (strncmp(d, "sha256:", 7) == 0 && hexlen != 64))
		return err_set(ERR_INVAL,
		    "image digest must be sha256:<64 hex>");
	if (!(ref->digest = strdup(d)))
		return ERR_NOMEM;
	for (char *p = ref->digest; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

/* registry and repository from the name part s[0..namelen) */
static int
parse_name(const char *s, size_t namelen, struct image_ref *ref, bool lenient)
{
	const char *first_end = memchr(s, '/', namelen);
	size_t flen = first_end ? (size_t)(first_end - s) : namelen;
	const char *path = s;
	size_t plen = namelen;
	bool has_domain = false;

	if (first_end &&
	    (memchr(s, '.', flen) || memchr(s, ':', flen) ||
	        (flen == 9 && memcmp(s, "localhost", 9) == 0) ||
	        memchr(s, '[', flen))) {
		has_domain = true;
	} else if (first_end && !lenient) {
		/* an upper-case first component is a domain too */
		for (size_t i = 0; i < flen; i++)
			if (isupper((unsigned char)s[i]))
				has_domain = true;
	}
	if (has_domain) {
		if (!valid_domain(s, flen) && !lenient)
			return err_set(ERR_INVAL,
			    "image registry \"%.*s\" is not a host[:port]",
			    (int)flen, s);
		ref->registry = strndup(s, flen);
		path = first_end + 1;
		plen = namelen - flen - 1;
	} else {
		ref->registry = strdup("docker.io");
	}
	if (!ref->registry)
		return ERR_NOMEM;
	for (size_t i = 0, start = 0; i <= plen; i++) {
		if (i == plen || path[i] == '/') {
			if (!valid_component(path + start, i - start) &&
			    !(lenient && i > start))
				return err_set(ERR_INVAL,
				    "image name component \"%.*s\" is not "
				    "valid (lower-case letters, digits, "
				    "separators . _ __ -)",
				    (int)(i - start), path + start);
			start = i + 1;
		}
	}
	if (strcmp(ref->registry, "index.docker.io") == 0) {
		free(ref->registry);
		if (!(ref->registry = strdup("docker.io")))
			return ERR_NOMEM;
	}
	if (strcmp(ref->registry, "docker.io") == 0 &&
	    !memchr(path, '/', plen)) {
		if (!(ref->repository = malloc(plen + 9)))
			return ERR_NOMEM;
		memcpy(ref->repository, "library/", 8);
		memcpy(ref->repository + 8, path, plen);
		ref->repository[plen + 8] = '\0';
		return 0;
	}
	if (!(ref->repository = strndup(path, plen)))
		return ERR_NOMEM;
	return 0;
}

static int
parse(const char *s, struct image_ref *ref, bool lenient)
{
	const char *at, *slash, *colon;
	size_t rest, namelen;
	int rc;

	memset(ref, 0, sizeof(*ref));
	if (!s || !*s)
		return err_set(ERR_INVAL, "image is empty");
	at = strchr(s, '@');
	rest = at ? (size_t)(at - s) : strlen(s);
	if (at && (rc = parse_digest(at + 1, ref)))
		goto fail;
	/* a tag is a ':' after the last '/' */
	slash = memrchr(s, '/', rest);
	colon = memchr(slash ? slash : s, ':',
	    rest - (size_t)((slash ? slash : s) - s));
	namelen = colon ? (size_t)(colon - s) : rest;
	if (colon) {
		size_t taglen = rest - namelen - 1;
		if (!valid_tag(colon + 1, taglen) && !(lenient && taglen)) {
			rc = err_set(ERR_INVAL,
			    "image tag \"%.*s\" is not valid "
			    "([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
			    (int)taglen, colon + 1);
			goto fail;
		}
		if (!(ref->tag = strndup(colon + 1, taglen))) {
			rc = ERR_NOMEM;
			goto fail;
		}
	} else if (!at) {
		if (!(ref->tag = strdup("latest"))) {
			rc = ERR_NOMEM;
			goto fail;
		}
	}
	if (namelen == 0 || namelen > 255) {
		rc = err_set(ERR_INVAL, "image name must be 1-255 characters");
		goto fail;
	}
	if ((rc = parse_name(s, namelen, ref, lenient)))
		goto fail;
	return 0;
fail:
	if (rc == ERR_NOMEM)
		err_set(ERR_NOMEM, "out of memory");
	image_ref_clear(ref);
	return rc;
}

int
image_ref_parse(const char *s, struct image_ref *ref)
{
	return parse(s, ref, false);
}

int
image_ref_parse_lenient(const char *s, struct image_ref *ref)
{
	int rc = parse(s, ref, false);

	if (rc != ERR_INVAL || !s || !*s)
		return rc;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return rc;
	return parse(s, ref, true);
}

char *
image_ref_string(const struct image_ref *ref)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s%s%s%s%s", ref->registry, ref->repository,
	        ref->tag ? ":" : "", ref->tag ? ref->tag : "",
	        ref->digest ? "@" : "", ref->digest ? ref->digest : "") < 0)
		return NULL;
	return s;
}

static int
dup_field(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : ERR_NOMEM;
}

int
image_ref_copy(struct image_ref *dst, const struct image_ref *src)
{
	memset(dst, 0, sizeof(*dst));
	if (dup_field(&dst->registry, src->registry) ||
	    dup_field(&dst->repository, src->repository) ||
	    dup_field(&dst->tag, src->tag) ||
	    dup_field(&dst->digest, src->digest)) {
		image_ref_clear(dst);
		return err_set(ERR_NOMEM, "out of memory");
	}
	return 0;
}

void
image_ref_clear(struct image_ref *ref)
{
	if (!ref)
		return;
	free(ref->registry);
	free(ref->repository);
	free(ref->tag);
	free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}
