/*
 * libFuzzer harness: the canonical JSON parser and envelope verification
 * on arbitrary bytes.  Properties: no crash or leak; whatever parses
 * dumps to canonical bytes that parse again to the same bytes; a parsed
 * envelope's canonical dump parses and verifies again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope *e = NULL, *e2 = NULL;
	json_t *v = NULL, *v2 = NULL;
	char *a = NULL, *b = NULL;
	size_t alen, blen;

	if (cjson_parse((const char *)data, size, &v) == 0) {
		if (cjson_dump(v, &a, &alen) != 0)
			abort();
		if (cjson_parse(a, alen, &v2) != 0)
			abort();
		if (cjson_dump(v2, &b, &blen) != 0 || alen != blen ||
		    memcmp(a, b, alen) != 0)
			abort();
	}
	if (envelope_parse((const char *)data, size, &e) == 0) {
		char *c = NULL;
		size_t clen;
		if (envelope_dump(e, &c, &clen) != 0 ||
		    envelope_parse(c, clen, &e2) != 0)
			abort();
		free(c);
	}
	envelope_free(e2);
	envelope_free(e);
	json_decref(v2);
	json_decref(v);
	free(b);
	free(a);
	return 0;
}
