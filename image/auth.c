/*
 * auth: WWW-Authenticate challenges (RFC 7235 §4.1, §2.1), Basic
 * credentials (RFC 7617) and the token server's answer of Docker's
 * registry token authentication (distribution docs/spec/auth/token.md).
 */
#include "image/auth.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

/* RFC 7230 tchar */
static bool
tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 7235 token68 characters (without the trailing '=') */
static bool
t68char(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("-._~+/", c));
}

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *
skip_ws_commas(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	return p;
}

static size_t
token_len(const char *p)
{
	size_t n = 0;

	while (tchar(p[n]))
		n++;
	return n;
}

/* Is p the start of "name = value" (a parameter, not a new scheme)? */
static bool
at_param(const char *p)
{
	size_t n = token_len(p);
	const char *q;

	if (n == 0)
		return false;
	q = skip_ws(p + n);
	if (*q != '=')
		return false;
	q = skip_ws(q + 1);
	/* "abc==" and "abc=" followed by nothing or ',' is a token68 */
	return *q == '"' || tchar(*q);
}

/* Read a quoted-string at p (after the opening quote); *out malloc'd. */
static int
quoted(const char **pp, const char *base, char **out)
{
	const char *p = *pp;
	size_t cap = strlen(p) + 1, n = 0;
	char *s = malloc(cap);

	if (!s)
		return err_set(ERR_NOMEM, "out of memory");
	for (;;) {
		char c = *p++;
		if (c == '\0') {
			free(s);
			return err_set(ERR_INVAL,
			    "WWW-Authenticate: quoted "
			    "string not closed (offset %td)",
			    p - 1 - base);
		}
		if (c == '"')
			break;
		if (c == '\\') {
			c = *p++;
			if (c == '\0') {
				free(s);
				return err_set(ERR_INVAL,
				    "WWW-Authenticate: "
				    "escape at the end (offset %td)",
				    p - 1 - base);
			}
		}
		if ((unsigned char)c < 0x20 && c != '\t') {
			free(s);
			return err_set(ERR_INVAL,
			    "WWW-Authenticate: control "
			    "character in a quoted string (offset %td)",
			    p - 1 - base);
		}
		s[n++] = c;
	}
	s[n] = '\0';
	*pp = p;
	*out = s;
	return 0;
}

static int
set_param(struct image_challenge *ch, const char *name, size_t nlen,
    char *value, const char *base, const char *at)
{
	char **slot = NULL;

	if (nlen == 5 && strncasecmp(name, "realm", 5) == 0)
		slot = &ch->realm;
	else if (nlen == 7 && strncasecmp(name, "service", 7) == 0)
		slot = &ch->service;
	else if (nlen == 5 && strncasecmp(name, "scope", 5) == 0)
		slot = &ch->scope;
	if (!slot) {
		free(value);
		return 0;
	}
	if (*slot) {
		free(value);
		return err_set(ERR_INVAL,
		    "WWW-Authenticate: parameter "
		    "\"%.*s\" repeated (offset %td)",
		    (int)nlen, name, at - base);
	}
	*slot = value;
	return 0;
}

/* The parameters (or token68) of one challenge, up to the next scheme. */
static int
parse_params(const char **pp, const char *base, struct image_challenge *ch)
{
	const char *p = skip_ws(*pp);
	int rc;

	if (*p && *p != ',' && !at_param(p)) {
		/* token68 */
		size_t n = 0;
		while (t68char(p[n]))
			n++;
		if (n == 0)
			return err_set(ERR_INVAL,
			    "WWW-Authenticate: "
			    "unexpected '%c' (offset %td)",
			    *p, p - base);
		while (p[n] == '=')
			n++;
		p = skip_ws(p + n);
		if (*p && *p != ',')
			return err_set(ERR_INVAL,
			    "WWW-Authenticate: "
			    "expected ',' (offset %td)",
			    p - base);
		*pp = p;
		return 0;
	}
	while (at_param(p)) {
		const char *name = p, *at = p;
		size_t nlen = token_len(p);
		char *value = NULL;

		p = skip_ws(skip_ws(p + nlen) + 1);
		if (*p == '"') {
			p++;
			if ((rc = quoted(&p, base, &value)))
				return rc;
		} else {
			size_t vlen = token_len(p);
			if (!(value = strndup(p, vlen)))
				return err_set(ERR_NOMEM, "out of memory");
			p += vlen;
		}
		if ((rc = set_param(ch, name, nlen, value, base, at)))
			return rc;
		p = skip_ws(p);
		if (*p == '\0')
			break;
		if (*p != ',')
			return err_set(ERR_INVAL,
			    "WWW-Authenticate: expected "
			    "',' (offset %td)",
			    p - base);
		p = skip_ws_commas(p);
	}
	*pp = p;
	return 0;
}

int
image_auth_parse_challenges(const char *header, struct image_challenge **out,
    size_t *n)
{
	struct image_challenge *v = NULL;
	const char *p = header;
	size_t cnt = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (strlen(header) > IMAGE_AUTH_HEADER_MAX)
		return err_set(ERR_LIMIT,
		    "WWW-Authenticate: longer than %d "
		    "bytes",
		    IMAGE_AUTH_HEADER_MAX);
	if (!(v = calloc(IMAGE_AUTH_CHALLENGES_MAX, sizeof(*v))))
		return err_set(ERR_NOMEM, "out of memory");
	for (;;) {
		size_t slen;

		p = skip_ws_commas(p);
		if (!*p)
			break;
		slen = token_len(p);
		if (slen == 0) {
			rc = err_set(ERR_INVAL,
			    "WWW-Authenticate: expected an "
			    "auth scheme (offset %td)",
			    p - header);
			goto fail;
		}
		if (cnt == IMAGE_AUTH_CHALLENGES_MAX) {
			rc = err_set(ERR_LIMIT,
			    "WWW-Authenticate: more than "
			    "%d challenges",
			    IMAGE_AUTH_CHALLENGES_MAX);
			goto fail;
		}
		if (!(v[cnt].scheme = strndup(p, slen))) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
		for (char *s = v[cnt].scheme; *s; s++)
			*s = (char)tolower((unsigned char)*s);
		cnt++;
		p += slen;
		if (*p && *p != ' ' && *p != '\t' && *p != ',') {
			rc = err_set(ERR_INVAL,
			    "WWW-Authenticate: unexpected "
			    "'%c' after the scheme (offset %td)",
			    *p, p - header);
			goto fail;
		}
		if ((rc = parse_params(&p, header, &v[cnt - 1])))
			goto fail;
	}
	if (cnt == 0) {
		rc = err_set(ERR_INVAL, "WWW-Authenticate: no challenge");
		goto fail;
	}
	*out = v;
	*n = cnt;
	return 0;
fail:
	image_auth_challenges_free(v, IMAGE_AUTH_CHALLENGES_MAX);
	return rc;
}

void
image_auth_challenges_free(struct image_challenge *c, size_t n)
{
	if (!c)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].scheme);
		free(c[i].realm);
		free(c[i].service);
		free(c[i].scope);
	}
	free(c);
}

/* host of a credential or registry: no scheme, no path, lower case, with
 * Docker Hub's names reduced to docker.io */
static void
host_key(const char *s, char *out, size_t cap)
{
	static const char *const hub[] = { "index.docker.io",
		"registry-1.docker.io", "registry.hub.docker.com" };
	const char *p = strstr(s, "://");
	size_t n;

	if (p)
		s = p + 3;
	n = strcspn(s, "/");
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	for (size_t i = 0; i < sizeof(hub) / sizeof(hub[0]); i++)
		if (strcmp(out, hub[i]) == 0)
			snprintf(out, cap, "docker.io");
}

const struct image_credential *
image_auth_find(const struct image_credential *creds, size_t n,
    const char *registry)
{
	char want[256], have[256];

	host_key(registry, want, sizeof(want));
	for (size_t i = 0; i < n; i++) {
		if (!creds[i].host)
			continue;
		host_key(creds[i].host, have, sizeof(have));
		if (strcmp(want, have) == 0)
			return &creds[i];
	}
	return NULL;
}

static bool
has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int
image_auth_basic(const struct image_credential *c, char **out)
{
	const char *u = c->username ? c->username : "";
	const char *pw = c->password ? c->password : "";
	size_t ul = strlen(u), pl = strlen(pw), rawlen = ul + 1 + pl;
	unsigned char *raw = NULL;
	char *s = NULL;

	*out = NULL;
	if (strchr(u, ':') || has_ctl(u) || has_ctl(pw))
		return err_set(ERR_INVAL,
		    "credentials for %s: the username "
		    "may not hold ':' and neither it nor the password a "
		    "control character",
		    c->host ? c->host : "?");
	if (rawlen > 4096)
		return err_set(ERR_LIMIT,
		    "credentials for %s: longer than "
		    "4096 bytes",
		    c->host ? c->host : "?");
	if (!(raw = malloc(rawlen)) ||
	    !(s = malloc(6 + 4 * ((rawlen + 2) / 3) + 1))) {
		free(raw);
		return err_set(ERR_NOMEM, "out of memory");
	}
	memcpy(raw, u, ul);
	raw[ul] = ':';
	memcpy(raw + ul + 1, pw, pl);
	memcpy(s, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)s + 6, raw, (int)rawlen);
	OPENSSL_cleanse(raw, rawlen);
	free(raw);
	*out = s;
	return 0;
}

int
image_auth_token_parse(const char *body, size_t len, char **token)
{
	json_t *root;
	json_error_t je;
	const json_t *t;
	const char *s;
	size_t n;

	*token = NULL;
	if (len > IMAGE_AUTH_TOKEN_BODY_MAX)
		return err_set(ERR_LIMIT, "token answer: %zu bytes, at most %u",
		    len, IMAGE_AUTH_TOKEN_BODY_MAX);
	if (!(root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je)))
		return err_set(ERR_INVAL,
		    "token answer: not valid JSON "
		    "(line %d column %d: %s)",
		    je.line, je.column, je.text);
	t = json_object_get(root, "token");
	if (!json_is_string(t) || json_string_length(t) == 0)
		t = json_object_get(root, "access_token");
	if (!json_is_string(t) || json_string_length(t) == 0) {
		json_decref(root);
		return err_set(ERR_INVAL,
		    "token answer: no \"token\" or "
		    "\"access_token\" string");
	}
	s = json_string_value(t);
	n = json_string_length(t);
	if (n > IMAGE_AUTH_TOKEN_MAX) {
		json_decref(root);
		return err_set(ERR_LIMIT,
		    "token answer: token longer than %d "
		    "bytes",
		    IMAGE_AUTH_TOKEN_MAX);
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f) {
			json_decref(root);
			return err_set(ERR_INVAL,
			    "token answer: the token "
			    "holds a character outside visible ASCII");
		}
	*token = strdup(s);
	json_decref(root);
	return *token ? 0 : err_set(ERR_NOMEM, "out of memory");
}
