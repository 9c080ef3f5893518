/*
 * fuzz_note: arbitrary bytes into note_open (with one fixed verifier, the
 * RFC 8032 TEST 1 key as "example.com/ledger-test") and checkpoint_parse.
 * Built by `make BUILD=fuzz fuzzers`; seeds in tests/fuzz/corpus/note/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "ledger/note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char vkey[] =
    "example.com/"
    "ledger-test+13389fb3+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct note_verifier v;
	static int ready;
	struct checkpoint cp;
	char *text = NULL;
	size_t nv = 0;

	if (!ready) {
		if (note_vkey_parse(vkey, &v) < 0)
			abort();
		ready = 1;
	}
	if (note_open((const char *)data, size, &v, 1, &text, &nv) == 0) {
		/* A verified note's text must itself parse as a note text:
		 * non-empty and ending in a newline. */
		if (nv == 0 || text == NULL || text[0] == '\0' ||
		    text[strlen(text) - 1] != '\n')
			abort();
		if (checkpoint_parse(text, strlen(text), &cp) == 0)
			checkpoint_clear(&cp);
		free(text);
	} else if (text != NULL)
		abort(); /* nothing handed over on failure */
	if (checkpoint_parse((const char *)data, size, &cp) == 0) {
		char *again = NULL;

		/* Whatever parses formats back to its first three lines. */
		if (checkpoint_format(cp.origin, cp.size, cp.root, &again) <
		        0 ||
		    strncmp(again, (const char *)data, strlen(again)) != 0)
			abort();
		free(again);
		checkpoint_clear(&cp);
	}
	err_clear();
	return 0;
}
