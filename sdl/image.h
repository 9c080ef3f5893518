/*
 * image: the image forms a Lodge service may name.  An OCI reference
 * (Docker's grammar and defaults: docker.io, library/, tag "latest"), and
 * Lodge's own schemes: wasm+https://...#sha256=<hex>, wasm+file:<path>,
 * git+<url>#<40-hex commit> and "host".
 */
#ifndef LODGE_SDL_IMAGE_H
#define LODGE_SDL_IMAGE_H

#include <stddef.h>

#include "image/ref.h"

enum sdl_image_kind {
	SDL_IMAGE_OCI = 1, /* registry/name[:tag][@digest] */
	SDL_IMAGE_WASM_URL, /* wasm+https://host/path#sha256=<64 hex> */
	SDL_IMAGE_WASM_FILE, /* wasm+file:<path> */
	SDL_IMAGE_GIT, /* git+<url>#<40 hex commit> */
	SDL_IMAGE_HOST, /* the provider's read-only userland */
};

/* The runtime a provider needs for an image: "oci", "wasm" or "process". */
enum sdl_runtime {
	SDL_RUNTIME_OCI = 1,
	SDL_RUNTIME_WASM,
	SDL_RUNTIME_PROCESS,
};

struct sdl_image {
	enum sdl_image_kind kind;
	char *raw; /* the text as written */
	/* SDL_IMAGE_OCI: the reference as image_ref_parse gives it (the
	 * one parser of OCI references, image/ref.h): registry
	 * ("docker.io" by default), repository (with "library/" for
	 * official images), tag ("latest" unless a digest alone is given;
	 * NULL then), digest ("sha256:<hex>" or NULL).  All NULL for the
	 * other kinds. */
	struct image_ref oci;
	/* SDL_IMAGE_WASM_URL / SDL_IMAGE_GIT: url without the scheme prefix
	 * and fragment ("https://..."); SDL_IMAGE_WASM_FILE: path in url. */
	char *url;
	char *sha256; /* WASM_URL: 64 lower-case hex */
	char *commit; /* GIT: 40 lower-case hex */
};

/* Parse s into img (fields malloc'd, owned by img; release with
 * sdl_image_clear).  Returns 0, ERR_INVAL with a message saying what was
 * expected, or ERR_NOMEM.  img is cleared on error. */
int sdl_image_parse(const char *s, struct sdl_image *img);

/* As sdl_image_parse, but an OCI reference is parsed by
 * image_ref_parse_lenient (outside Docker's grammar, still split by the
 * same positions when it has no space or control character).  Lodge's
 * schemes stay strict. */
int sdl_image_parse_lenient(const char *s, struct sdl_image *img);

/* Free the fields of img (not img itself); accepts NULL. */
void sdl_image_clear(struct sdl_image *img);

/* Deep copy; returns 0 or ERR_NOMEM. */
int sdl_image_copy(struct sdl_image *dst, const struct sdl_image *src);

enum sdl_runtime sdl_image_runtime(const struct sdl_image *img);
const char *sdl_runtime_name(enum sdl_runtime rt);
const char *sdl_image_kind_name(enum sdl_image_kind kind);

#endif
