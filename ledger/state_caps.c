/*
 * state_caps: the capabilities of asks and orders (issue 15): names such
 * as "storage/beta2", "gpu", "ip" that a provider offers and an order
 * needs; an order fits only a provider offering every one it needs
 * (docs/state.md, "Matching").
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "ledger/state_internal.h"

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cap_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > ST_CAPABILITY_LEN)
		return 0;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') ||
		        *n == '.' || *n == '_' || *n == '/' || *n == '-'))
			return 0;
	return 1;
}

void
st_capabilities_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
st_capabilities_parse(const json_t *arr, const char *what, char ***out,
    size_t *n)
{
	char **v = NULL;
	size_t i, k = 0;
	json_t *e;

	*out = NULL;
	*n = 0;
	if (arr == NULL)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > ST_MAX_CAPABILITIES)
		return err_set(ERR_INVAL,
		    "%s: expected an array of at most %d capability names",
		    what, ST_MAX_CAPABILITIES);
	if (json_array_size(arr) == 0)
		return 0;
	if ((v = calloc(json_array_size(arr), sizeof(*v))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	json_array_foreach(arr, i, e)
	{
		const char *s = json_string_value(e);
		if (s == NULL || !cap_name_ok(s)) {
			st_capabilities_free(v, k);
			return err_set(ERR_INVAL,
			    "%s[%zu]: expected a capability name (1-%d bytes "
			    "of a-z, 0-9, '.', '_', '/', '-')",
			    what, i, ST_CAPABILITY_LEN);
		}
		if ((v[k++] = strdup(s)) == NULL) {
			st_capabilities_free(v, k - 1);
			return err_set(ERR_NOMEM, "out of memory");
		}
	}
	qsort(v, k, sizeof(*v), cmp_str);
	for (i = 1; i < k;) { /* duplicates say nothing more */
		if (strcmp(v[i], v[i - 1]) == 0) {
			free(v[i]);
			memmove(v + i, v + i + 1, (k - i - 1) * sizeof(*v));
			k--;
		} else
			i++;
	}
	*out = v;
	*n = k;
	return 0;
}

int
st_capabilities_hold(char *const *have, size_t nhave, char *const *want,
    size_t nwant)
{
	for (size_t i = 0; i < nwant; i++)
		if (nhave == 0 ||
		    bsearch(&want[i], have, nhave, sizeof(*have), cmp_str) ==
		        NULL)
			return 0;
	return 1;
}
