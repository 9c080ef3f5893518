/*
 * ref: OCI image references as Docker resolves them (the grammar of
 * github.com/distribution/reference): "nginx" is
 * docker.io/library/nginx:latest, "user/app:tag" lives on docker.io,
 * "host:port/path@sha256:<hex>" names its own registry.
 */
#ifndef LODGE_IMAGE_REF_H
#define LODGE_IMAGE_REF_H

/* Every field malloc'd and owned by the struct (image_ref_clear). */
struct image_ref {
	char *registry; /* "docker.io" (also for index.docker.io),
	                   "ghcr.io", "127.0.0.1:5000", "[::1]:5000" */
	char *repository; /* "library/nginx": docker.io's official
	                     images get "library/" */
	char *tag; /* "latest" unless a digest alone is given (NULL then) */
	char *digest; /* "sha256:<64 lower-case hex>" or NULL */
};

/* Parse s into ref.  Returns 0, ERR_INVAL with a message saying what was
 * expected ("image tag \"x y\" is not valid ..."), or ERR_NOMEM; ref is
 * cleared on error. */
int image_ref_parse(const char *s, struct image_ref *ref);

/* As image_ref_parse, but a reference outside Docker's grammar (upper
 * case, odd separators: Akash accepts any non-empty name) is still split
 * into registry/repository/tag/digest by the same positions, as long as
 * it has no space or control character.  A registry will refuse such a
 * name when it is pulled; parsing does not. */
int image_ref_parse_lenient(const char *s, struct image_ref *ref);

/* The canonical text "registry/repository[:tag][@digest]", malloc'd (the
 * caller frees it), or NULL when out of memory. */
char *image_ref_string(const struct image_ref *ref);

/* Deep copy; returns 0 or ERR_NOMEM (dst cleared then). */
int image_ref_copy(struct image_ref *dst, const struct image_ref *src);

/* Free the fields (not ref itself) and zero them; accepts NULL. */
void image_ref_clear(struct image_ref *ref);

#endif
