/*
 * cjson: Lodge's canonical JSON on top of jansson.  Canonical bytes are
 * UTF-8, object keys sorted bytewise, no whitespace, integers only (no
 * floats), no duplicate keys, nesting at most CJSON_MAX_DEPTH.  Amounts
 * are integers in micro-units and sizes in bytes, so no float is needed.
 */
#ifndef LODGE_CJSON_H
#define LODGE_CJSON_H

#include <stddef.h>
#include <jansson.h>

#define CJSON_MAX_DEPTH 64

/* Parse untrusted bytes.  Refuses invalid JSON or UTF-8, duplicate keys,
 * floats, NUL in strings and nesting deeper than CJSON_MAX_DEPTH, with a
 * message naming the line and column (or the path, for floats and depth).
 * The caller owns *out (json_decref). */
int cjson_parse(const char *buf, size_t len, json_t **out);

/* Check a value built in memory against the same rules. */
int cjson_check(const json_t *v);

/* Canonical bytes of v, malloc'd and NUL-terminated; *len excludes the
 * NUL.  Fails (ERR_INVAL) on a value cjson_check refuses. */
int cjson_dump(const json_t *v, char **out, size_t *len);

/* cjson_dump for a value already known to pass cjson_check (it came
 * from cjson_parse, or was checked): skips the second walk. */
int cjson_dump_checked(const json_t *v, char **out, size_t *len);

/* SHA-256 of the canonical bytes of v. */
int cjson_hash(const json_t *v, unsigned char digest[32]);

/* A JSON string holding the standard base64 of a 32-byte hash, and an
 * array of n of them (proofs); NULL when out of memory.  The caller owns
 * the new value. */
json_t *cjson_hash_b64(const unsigned char h[32]);
json_t *cjson_hashes_b64(unsigned char (*h)[32], size_t n);

/* Typed getters for parsed objects: each fails with ERR_INVAL and a
 * message naming `what` when the member is missing or of the wrong type.
 * Borrowed results live as long as obj. */
int cjson_get_str(const json_t *obj, const char *key, const char *what,
    const char **out);
int cjson_get_int(const json_t *obj, const char *key, const char *what,
    long long *out);
int cjson_get_obj(const json_t *obj, const char *key, const char *what,
    json_t **out);
int cjson_get_arr(const json_t *obj, const char *key, const char *what,
    json_t **out);

#endif
