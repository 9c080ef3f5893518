/*
 * cjson: canonical JSON over jansson.  jansson already refuses invalid
 * UTF-8 and NUL in strings; we add duplicate-key refusal (its flag), and
 * refuse floats and deep nesting ourselves, naming the path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"

static int
check_value(const json_t *v, int depth, char *path, size_t pathlen, size_t cap)
{
	int rc;

	if (depth > CJSON_MAX_DEPTH)
		return err_set(ERR_INVAL, "%s: nesting deeper than %d",
		    path[0] ? path : "$", CJSON_MAX_DEPTH);
	switch (json_typeof(v)) {
	case JSON_REAL:
		return err_set(ERR_INVAL,
		    "%s: floating-point numbers are not "
		    "allowed; use integers (micro-units, bytes)",
		    path[0] ? path : "$");
	case JSON_OBJECT: {
		const char *key;
		json_t *child;

		json_object_foreach((json_t *)v, key, child)
		{
			int n =
			    snprintf(path + pathlen, cap - pathlen, ".%s", key);
			size_t nl = n < 0              ? pathlen :
			    pathlen + (size_t)n >= cap ? cap - 1 :
			                                 pathlen + (size_t)n;
			if ((rc = check_value(child, depth + 1, path, nl,
			         cap)) < 0)
				return rc;
			path[pathlen] = '\0';
		}
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *child;

		json_array_foreach(v, i, child)
		{
			int n =
			    snprintf(path + pathlen, cap - pathlen, "[%zu]", i);
			size_t nl = n < 0              ? pathlen :
			    pathlen + (size_t)n >= cap ? cap - 1 :
			                                 pathlen + (size_t)n;
			if ((rc = check_value(child, depth + 1, path, nl,
			         cap)) < 0)
				return rc;
			path[pathlen] = '\0';
		}
		return 0;
	}
	case JSON_STRING:
		/* built in memory, a string could hold a NUL */
		if (strlen(json_string_value(v)) != json_string_length(v))
			return err_set(ERR_INVAL, "%s: string contains NUL",
			    path[0] ? path : "$");
		return 0;
	default:
		return 0;
	}
}

int
cjson_check(const json_t *v)
{
	char path[512] = "$";

	if (v == NULL)
		return err_set(ERR_INVAL, "no JSON value");
	return check_value(v, 1, path, 1, sizeof(path));
}

int
cjson_parse(const char *buf, size_t len, json_t **out)
{
	json_error_t jerr;
	json_t *v = NULL;
	int rc;

	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &jerr);
	if (v == NULL)
		return err_set(ERR_INVAL, "JSON %d:%d: %s", jerr.line,
		    jerr.column, jerr.text);
	if ((rc = cjson_check(v)) < 0) {
		json_decref(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* Serialise without re-checking: one pass into a buffer that usually
 * fits, a second only for large values. */
static int
dump_unchecked(const json_t *v, char **out, size_t *len)
{
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
	size_t cap = 2048, n;
	char *buf;

	for (;;) {
		if ((buf = malloc(cap + 1)) == NULL)
			return err_set(ERR_NOMEM, "out of memory");
		n = json_dumpb(v, buf, cap, flags);
		if (n == 0) {
			free(buf);
			return err_set(ERR_INVAL,
			    "JSON value cannot be "
			    "serialised");
		}
		if (n <= cap)
			break;
		free(buf);
		cap = n;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int
cjson_dump(const json_t *v, char **out, size_t *len)
{
	int rc;

	if ((rc = cjson_check(v)) < 0)
		return rc;
	return dump_unchecked(v, out, len);
}

int
cjson_dump_checked(const json_t *v, char **out, size_t *len)
{
	return dump_unchecked(v, out, len);
}

int
cjson_hash(const json_t *v, unsigned char digest[32])
{
	char *buf;
	size_t n;
	int rc;

	if ((rc = cjson_dump(v, &buf, &n)) < 0)
		return rc;
	SHA256((const unsigned char *)buf, n, digest);
	free(buf);
	return 0;
}

json_t *
cjson_hash_b64(const unsigned char h[32])
{
	char b64[B64_ENCODED_SIZE(32)];

	b64_encode(h, 32, b64);
	return json_string(b64);
}

json_t *
cjson_hashes_b64(unsigned char (*h)[32], size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		if (json_array_append_new(a, cjson_hash_b64(h[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int
get_typed(const json_t *obj, const char *key, const char *what, json_type type,
    const char *tname, json_t **out)
{
	json_t *v = NULL;

	if (!json_is_object(obj))
		return err_set(ERR_INVAL, "%s: expected an object", what);
	if ((v = json_object_get(obj, key)) == NULL)
		return err_set(ERR_INVAL, "%s.%s: missing (expected %s)", what,
		    key, tname);
	if (json_typeof(v) != type)
		return err_set(ERR_INVAL, "%s.%s: expected %s", what, key,
		    tname);
	*out = v;
	return 0;
}

int
cjson_get_str(const json_t *obj, const char *key, const char *what,
    const char **out)
{
	json_t *v = NULL;
	int rc;

	if ((rc = get_typed(obj, key, what, JSON_STRING, "a string", &v)) < 0)
		return rc;
	*out = json_string_value(v);
	return 0;
}

int
cjson_get_int(const json_t *obj, const char *key, const char *what,
    long long *out)
{
	json_t *v = NULL;
	int rc;

	if ((rc = get_typed(obj, key, what, JSON_INTEGER, "an integer", &v)) <
	    0)
		return rc;
	*out = json_integer_value(v);
	return 0;
}

int
cjson_get_obj(const json_t *obj, const char *key, const char *what,
    json_t **out)
{
	return get_typed(obj, key, what, JSON_OBJECT, "an object", out);
}

int
cjson_get_arr(const json_t *obj, const char *key, const char *what,
    json_t **out)
{
	return get_typed(obj, key, what, JSON_ARRAY, "an array", out);
}
