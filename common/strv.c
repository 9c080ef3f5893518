/*
 * strv: NULL-terminated lists of malloc'd strings, built one at a time
 * (see strv.h).
 */
#include "common/strv.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

void
strv_add(struct strv *l, char *item)
{
	char **nv;
	size_t cap;

	if (item == NULL || l->oom) {
		free(item);
		l->oom = 1;
		return;
	}
	if (l->n + 2 > l->cap) {
		cap = l->cap ? l->cap * 2 : 8;
		if ((nv = realloc(l->v, cap * sizeof(*nv))) == NULL) {
			free(item);
			l->oom = 1;
			return;
		}
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = item;
	l->v[l->n] = NULL;
}

int
strv_done(struct strv *l, char ***out)
{
	*out = NULL;
	if (!l->oom && l->v == NULL &&
	    (l->v = calloc(1, sizeof(*l->v))) == NULL)
		l->oom = 1;
	if (l->oom) {
		strv_free(l->v);
		memset(l, 0, sizeof(*l));
		return err_set(ERR_NOMEM, "out of memory");
	}
	*out = l->v;
	memset(l, 0, sizeof(*l));
	return 0;
}

void
strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}
