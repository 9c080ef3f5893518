/*
 * internal: what the files of sdl/ share and nobody else should use.
 */
#ifndef LODGE_SDL_INTERNAL_H
#define LODGE_SDL_INTERNAL_H

#include <stdarg.h>

#include "sdl/sdl.h"
#include "sdl/ytree.h"

#define SDL_PATH_MAX 320

struct sdl_ctx {
	const char *file;
	struct sdl_errors *errs; /* may be NULL */
	size_t nerr;
	char first[512]; /* the first error, for err_set */
	int oom; /* an allocation failed */
	bool strict; /* the schema's findings are errors
				    * (SDL_PARSE_STRICT) */
	bool lodge; /* refuse what Lodge cannot honour (not
				    * SDL_PARSE_AKASH_GO) */
	size_t nwarn;
};

/* snprintf for paths and messages, truncating silently. */
void sdl_fmt(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record "file:line:col: path: message". */
void sdl_report(struct sdl_ctx *c, uint32_t line, uint32_t col,
    const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Record the warning "file:line:col: path: warning: message". */
void sdl_warn(struct sdl_ctx *c, uint32_t line, uint32_t col, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A finding of Akash's input schema alone (Akash's Go parser accepts the
 * file): an error under SDL_PARSE_STRICT, else a warning that says what
 * was made of it, as Akash's Go parser does (read_as, e.g. "ignored";
 * NULL for "accepted") and that --strict refuses it. */
void sdl_schema(struct sdl_ctx *c, uint32_t line, uint32_t col,
    const char *path, const char *read_as, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Tree into model (structure, types, values; Akash's schema and its
 * decoding rules).  Returns the deployment even when errors were
 * reported (NULL only when out of memory). */
struct sdl_deployment *sdl_build(struct sdl_ctx *c, const struct ynode *root);

/* Cross-reference and limit checks on a built model. */
void sdl_validate(struct sdl_ctx *c, const struct sdl_deployment *d);

/* Akash's storage order (sdl/storage.go), stable insertion sort. */
void sdl_sort_volumes(struct sdl_volume *v, size_t n);

/* Akash's endpoint sequence numbers: the 1-based index of the last
 * occurrence of name among the sorted non-plain-global expose targets
 * of deployed services; 0 when absent. */
uint32_t sdl_endpoint_seq(const struct sdl_deployment *d, const char *name);

#endif
