/*
 * auth: what a registry client needs to authenticate (Docker registry
 * token authentication, RFC 7235 challenges, RFC 7617 Basic): parsing of
 * WWW-Authenticate headers and token responses, and the credentials an
 * SDL gives (Akash's services.<name>.credentials: host/username/password).
 * Secrets are never put in an error message.
 */
#ifndef LODGE_IMAGE_AUTH_H
#define LODGE_IMAGE_AUTH_H

#include <stddef.h>

/* Longest WWW-Authenticate header parsed, and most challenges in it. */
#define IMAGE_AUTH_HEADER_MAX 8192
#define IMAGE_AUTH_CHALLENGES_MAX 16
/* Largest token response and token accepted. */
#define IMAGE_AUTH_TOKEN_BODY_MAX (1u << 20)
#define IMAGE_AUTH_TOKEN_MAX 65536

/* One challenge; strings malloc'd, NULL when the parameter is absent.
 * Parameters other than realm, service and scope are ignored. */
struct image_challenge {
	char *scheme; /* lower case: "bearer", "basic", ... */
	char *realm; /* Bearer: the token server's URL */
	char *service;
	char *scope; /* "repository:library/nginx:pull" */
};

/*
 * Parse a WWW-Authenticate value: one or more challenges
 * (scheme [token68 | param=value, ...]) separated by commas, values
 * tokens or quoted strings with backslash escapes.  *out (n entries) is
 * owned by the caller (image_auth_challenges_free).  ERR_INVAL names the
 * offset and what was expected; a repeated parameter is an error.
 */
int image_auth_parse_challenges(const char *header,
    struct image_challenge **out, size_t *n);
void image_auth_challenges_free(struct image_challenge *c, size_t n);

/* A registry login, as the SDL's credentials give it.  Borrowed. */
struct image_credential {
	const char *host; /* "docker.io", "ghcr.io", "host:port"; a URL
	                     such as https://index.docker.io/v1/ is
	                     reduced to its host */
	const char *username;
	const char *password;
};

/* The credentials for registry (as in struct image_ref: "docker.io"),
 * whose host matches after reducing URLs and Docker Hub's aliases
 * (index.docker.io, registry-1.docker.io, registry.hub.docker.com);
 * NULL when none does. */
const struct image_credential *image_auth_find(
    const struct image_credential *creds, size_t n, const char *registry);

/* "Basic <base64(user:password)>" (RFC 7617), malloc'd for the caller.
 * ERR_INVAL when the username holds ':' or either holds a control
 * character. */
int image_auth_basic(const struct image_credential *c, char **out);

/* The token of a token server's JSON answer ("token", else
 * "access_token"), malloc'd for the caller.  Refuses a missing or empty
 * token, one longer than IMAGE_AUTH_TOKEN_MAX or with characters outside
 * visible ASCII (it goes into a header). */
int image_auth_token_parse(const char *body, size_t len, char **token);

#endif
