/*
 * strv: a NULL-terminated list of malloc'd strings built one at a time
 * (an argv, an environment).  A failed allocation marks the list instead
 * of leaving a NULL in it (which would end it there: an env or argv cut
 * short, the rest leaked); strv_done reports it once.
 */
#ifndef LODGE_COMMON_STRV_H
#define LODGE_COMMON_STRV_H

#include <stddef.h>

/* Start it zeroed: struct strv l = { 0 }. */
struct strv {
	char **v;
	size_t n, cap;
	int oom;
};

/* Append item, owned by the list from now on (NULL: its allocation
 * failed, which strv_done reports). */
void strv_add(struct strv *l, char *item);

/* Hand the list over to *out (possibly empty, never NULL; free it with
 * strv_free) and reset l; or, when an allocation failed, free it, set
 * *out to NULL and return ERR_NOMEM. */
int strv_done(struct strv *l, char ***out);

/* Free a list and its strings; accepts NULL. */
void strv_free(char **v);

#endif
