/*
 * image: parse image references.  OCI references follow the grammar of
 * github.com/distribution/reference (docker.io and library/ defaults,
 * tag "latest"); Lodge's schemes are wasm+https, wasm+file, git+ and host.
 */
#include "sdl/image.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static char *
dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static bool
is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

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
parse_oci(const char *s, struct sdl_image *img, bool lenient)
{
	const char *at = strchr(s, '@');
	size_t rest = at ? (size_t)(at - s) : strlen(s);
	const char *slash, *colon = NULL;
	size_t namelen;

	if (at) {
		const char *d = at + 1, *c = strchr(d, ':');
		size_t hexlen;
		if (!c || c == d)
			return err_set(ERR_INVAL,
			    "image digest must be "
			    "<algorithm>:<hex>");
		for (const char *q = d; q < c; q++)
			if (!(isalnum((unsigned char)*q) || *q == '+' ||
			        *q == '.' || *q == '_' || *q == '-'))
				return err_set(ERR_INVAL,
				    "image digest "
				    "algorithm is not valid");
		hexlen = strlen(c + 1);
		if (hexlen < 32 || !is_hex(c + 1, hexlen) ||
		    (strncmp(d, "sha256:", 7) == 0 && hexlen != 64))
			return err_set(ERR_INVAL,
			    "image digest must be "
			    "sha256:<64 hex>");
		if (!(img->digest = strdup(d)))
			return ERR_NOMEM;
		lower(img->digest);
	}
	/* a tag is a ':' after the last '/' */
	slash = memrchr(s, '/', rest);
	colon = memchr(slash ? slash : s, ':',
	    rest - (size_t)((slash ? slash : s) - s));
	namelen = colon ? (size_t)(colon - s) : rest;
	if (colon) {
		size_t taglen = rest - namelen - 1;
		if (!valid_tag(colon + 1, taglen) && !(lenient && taglen))
			return err_set(ERR_INVAL,
			    "image tag \"%.*s\" is not "
			    "valid ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
			    (int)taglen, colon + 1);
		if (!(img->tag = dupn(colon + 1, taglen)))
			return ERR_NOMEM;
	} else if (!at) {
		if (!(img->tag = strdup("latest")))
			return ERR_NOMEM;
	}
	if (namelen == 0 || namelen > 255)
		return err_set(ERR_INVAL,
		    "image name must be 1-255 "
		    "characters");
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
				    "image registry "
				    "\"%.*s\" is not a host[:port]",
				    (int)flen, s);
			img->registry = dupn(s, flen);
			path = first_end + 1;
			plen = namelen - flen - 1;
		} else {
			img->registry = strdup("docker.io");
		}
		if (!img->registry)
			return ERR_NOMEM;
		for (size_t i = 0, start = 0; i <= plen; i++) {
			if (i == plen || path[i] == '/') {
				if (!valid_component(path + start, i - start) &&
				    !(lenient && i > start))
					return err_set(ERR_INVAL,
					    "image name "
					    "component \"%.*s\" is not valid "
					    "(lower-case letters, digits, "
					    "separators . _ __ -)",
					    (int)(i - start), path + start);
				start = i + 1;
			}
		}
		if (!has_domain || strcmp(img->registry, "docker.io") == 0 ||
		    strcmp(img->registry, "index.docker.io") == 0) {
			if (strcmp(img->registry, "index.docker.io") == 0) {
				free(img->registry);
				if (!(img->registry = strdup("docker.io")))
					return ERR_NOMEM;
			}
			if (!memchr(path, '/', plen)) {
				if (!(img->name = malloc(plen + 9)))
					return ERR_NOMEM;
				memcpy(img->name, "library/", 8);
				memcpy(img->name + 8, path, plen);
				img->name[plen + 8] = '\0';
				return 0;
			}
		}
		if (!(img->name = dupn(path, plen)))
			return ERR_NOMEM;
	}
	return 0;
}

static int
parse_wasm_url(const char *s, struct sdl_image *img)
{
	const char *hash = strchr(s, '#');
	const char *host = s + 8;

	if (strncmp(s, "https://", 8) != 0)
		return err_set(ERR_INVAL, "wasm+ URL must be https://");
	if (!hash || strncmp(hash, "#sha256=", 8) != 0 ||
	    strlen(hash + 8) != 64 || !is_hex(hash + 8, 64))
		return err_set(ERR_INVAL,
		    "wasm+https image needs "
		    "#sha256=<64 hex> naming the module's hash");
	if (host == hash || *host == '/' || *host == '#')
		return err_set(ERR_INVAL, "wasm+https URL has no host");
	for (const char *q = s; q < hash; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return err_set(ERR_INVAL,
			    "wasm+https URL contains a "
			    "space or control character");
	img->kind = SDL_IMAGE_WASM_URL;
	if (!(img->url = dupn(s, (size_t)(hash - s))) ||
	    !(img->sha256 = strdup(hash + 8)))
		return ERR_NOMEM;
	lower(img->sha256);
	return 0;
}

static int
parse_git(const char *s, struct sdl_image *img)
{
	const char *hash = strrchr(s, '#');
	static const char *const schemes[] = { "https://", "http://", "ssh://",
		"git://", "file://" };
	bool ok = false;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(s, schemes[i], strlen(schemes[i])) == 0 &&
		    s + strlen(schemes[i]) != hash && s[strlen(schemes[i])])
			ok = true;
	if (!ok)
		return err_set(ERR_INVAL,
		    "git+ image needs a URL "
		    "(https://, http://, ssh://, git:// or file://)");
	if (!hash || strlen(hash + 1) != 40 || !is_hex(hash + 1, 40))
		return err_set(ERR_INVAL, "git+ image needs #<40 hex commit>");
	for (const char *q = s; q < hash; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return err_set(ERR_INVAL,
			    "git+ URL contains a space or "
			    "control character");
	img->kind = SDL_IMAGE_GIT;
	if (!(img->url = dupn(s, (size_t)(hash - s))) ||
	    !(img->commit = strdup(hash + 1)))
		return ERR_NOMEM;
	lower(img->commit);
	return 0;
}

static int
image_parse(const char *s, struct sdl_image *img, bool lenient)
{
	int rc;

	memset(img, 0, sizeof(*img));
	if (!s || !*s)
		return err_set(ERR_INVAL, "image is empty");
	if (!(img->raw = strdup(s)))
		return err_set(ERR_NOMEM, "out of memory");
	if (strcmp(s, "host") == 0) {
		img->kind = SDL_IMAGE_HOST;
		return 0;
	}
	if (strncmp(s, "wasm+file:", 10) == 0) {
		if (!s[10]) {
			rc = err_set(ERR_INVAL, "wasm+file: needs a path");
			goto fail;
		}
		img->kind = SDL_IMAGE_WASM_FILE;
		if (!(img->url = strdup(s + 10))) {
			rc = ERR_NOMEM;
			goto fail;
		}
		return 0;
	}
	if (strncmp(s, "wasm+", 5) == 0)
		rc = parse_wasm_url(s + 5, img);
	else if (strncmp(s, "git+", 4) == 0)
		rc = parse_git(s + 4, img);
	else {
		img->kind = SDL_IMAGE_OCI;
		rc = parse_oci(s, img, lenient);
	}
	if (rc == 0)
		return 0;
fail:
	if (rc == ERR_NOMEM)
		err_set(ERR_NOMEM, "out of memory");
	sdl_image_clear(img);
	return rc;
}

int
sdl_image_parse(const char *s, struct sdl_image *img)
{
	return image_parse(s, img, false);
}

int
sdl_image_parse_lenient(const char *s, struct sdl_image *img)
{
	int rc = image_parse(s, img, false);

	if (rc != ERR_INVAL || !s || !*s || strncmp(s, "wasm+", 5) == 0 ||
	    strncmp(s, "git+", 4) == 0)
		return rc;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return rc;
	return image_parse(s, img, true);
}

void
sdl_image_clear(struct sdl_image *img)
{
	if (!img)
		return;
	free(img->raw);
	free(img->registry);
	free(img->name);
	free(img->tag);
	free(img->digest);
	free(img->url);
	free(img->sha256);
	free(img->commit);
	memset(img, 0, sizeof(*img));
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
sdl_image_copy(struct sdl_image *dst, const struct sdl_image *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->kind = src->kind;
	if (dup_field(&dst->raw, src->raw) ||
	    dup_field(&dst->registry, src->registry) ||
	    dup_field(&dst->name, src->name) ||
	    dup_field(&dst->tag, src->tag) ||
	    dup_field(&dst->digest, src->digest) ||
	    dup_field(&dst->url, src->url) ||
	    dup_field(&dst->sha256, src->sha256) ||
	    dup_field(&dst->commit, src->commit)) {
		sdl_image_clear(dst);
		return err_set(ERR_NOMEM, "out of memory");
	}
	return 0;
}

enum sdl_runtime
sdl_image_runtime(const struct sdl_image *img)
{
	switch (img->kind) {
	case SDL_IMAGE_WASM_URL:
	case SDL_IMAGE_WASM_FILE:
		return SDL_RUNTIME_WASM;
	case SDL_IMAGE_GIT:
	case SDL_IMAGE_HOST:
		return SDL_RUNTIME_PROCESS;
	default:
		return SDL_RUNTIME_OCI;
	}
}

const char *
sdl_runtime_name(enum sdl_runtime rt)
{
	switch (rt) {
	case SDL_RUNTIME_WASM:
		return "wasm";
	case SDL_RUNTIME_PROCESS:
		return "process";
	default:
		return "oci";
	}
}

const char *
sdl_image_kind_name(enum sdl_image_kind kind)
{
	switch (kind) {
	case SDL_IMAGE_WASM_URL:
		return "wasm+https";
	case SDL_IMAGE_WASM_FILE:
		return "wasm+file";
	case SDL_IMAGE_GIT:
		return "git";
	case SDL_IMAGE_HOST:
		return "host";
	default:
		return "oci";
	}
}
