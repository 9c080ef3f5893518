/*
 * fuzz_snapshot: arbitrary bytes as a state snapshot payload
 * (state_snapshot_decode) under the default rules.  A payload is refused
 * cleanly, or gives a state whose invariants hold, that encodes again and
 * decodes to the same bytes.  ASan/UBSan/LSan catch the rest.  The seed
 * is the snapshot of a small market (genesis and deposits).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "ledger/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state_config c;
	struct state *s = NULL, *again = NULL;
	char *a = NULL, *b = NULL;
	size_t na, nb;

	state_config_default(&c);
	c.check_invariants = 0;
	if (state_snapshot_decode(&c, (const char *)data, size, &s) < 0)
		return 0;
	if (state_check_invariants(s) < 0)
		abort(); /* decode checks them */
	if (state_snapshot_encode(s, &a, &na) < 0 ||
	    state_snapshot_decode(&c, a, na, &again) < 0 ||
	    state_snapshot_encode(again, &b, &nb) < 0 || na != nb ||
	    memcmp(a, b, na) != 0)
		abort();
	free(a);
	free(b);
	state_free(again);
	state_free(s);
	return 0;
}
