/*
 * fuzz_witness: arbitrary bytes as a C2SP tlog-witness add-checkpoint
 * body (witness_request_parse: what parses formats back to the same
 * bytes, then witness_decide against a fixed log, once as never
 * cosigned and once as having cosigned size 3), as a witness's answers
 * (witness_response_size, witness_response_cosig) and as a tlog-tiles
 * path (tiles_path_parse: what parses formats back to the same path).
 * Built by `make BUILD=fuzz fuzzers`; seeds in tests/fuzz/corpus/witness/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "ledger/note.h"
#include "ledger/tiles.h"
#include "ledger/witness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The RFC 8032 TEST 1 key as the log (fuzz_note's), and the C2SP
 * vectors' witness. */
static const char log_vkey[] =
    "example.com/"
    "ledger-test+13389fb3+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";
static const char w_vkey[] =
    "witness.example/"
    "w-test+38cc0863+BD1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM";

static void
decide(const struct witness_log *log, const struct witness_last *last,
    const struct witness_request *req)
{
	struct witness_decision d;

	if (witness_decide(log, last, req, &d) < 0)
		abort(); /* only out of memory may fail */
	switch (d.status) {
	case 200:
		/* a cosigned checkpoint was verified, is not smaller than
		 * what was cosigned and was reached from that size */
		if (d.text == NULL || d.size < last->size ||
		    req->old_size != last->size || d.evidence)
			abort();
		break;
	case 409:
	case 422:
		break;
	case 400:
	case 403:
	case 404:
		if (d.evidence)
			abort(); /* evidence needs a verified note */
		break;
	default:
		abort();
	}
	if (d.evidence && (last->note == NULL || d.text == NULL))
		abort();
	witness_decision_clear(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct note_verifier lv, wv;
	static int ready;
	struct witness_log log = { "example.com/ledger-test", &lv, 1 };
	struct witness_last never = { 0, { 0 }, NULL };
	struct witness_last three = { 3, { 1, 2, 3 }, "cosigned note\n" };
	struct witness_request *req;
	char *again = NULL, *line = NULL, *path;
	size_t len;
	uint64_t n;
	unsigned w;
	int level;

	if (!ready) {
		if (note_vkey_parse(log_vkey, &lv) < 0 ||
		    note_vkey_parse(w_vkey, &wv) < 0)
			abort();
		ready = 1;
	}
	if ((req = malloc(sizeof(*req))) == NULL)
		abort();
	if (witness_request_parse((const char *)data, size, req) == 0) {
		if (witness_request_format(req->old_size, req->proof,
		        req->nproof, req->note, req->note_len, &again,
		        &len) < 0 ||
		    len != size || memcmp(again, data, size) != 0)
			abort(); /* the parse is strict: one form per body */
		free(again);
		decide(&log, &never, req);
		decide(&log, &three, req);
		decide(NULL, &never, req);
	}
	free(req);
	(void)witness_response_size((const char *)data, size, &n);
	if (witness_response_cosig(&wv, "t\n", 2, (const char *)data, size,
	        &line, NULL) == 0) {
		if (line == NULL)
			abort();
		free(line);
	} else if (line != NULL) {
		abort();
	}
	if ((path = strndup((const char *)data, size)) == NULL)
		abort();
	if (tiles_path_parse(path, &level, &n, &w) == 0) {
		char buf[TILES_PATH_MAX];

		if (tiles_path(level, n, w, buf, sizeof(buf)) < 0 ||
		    strcmp(buf, path) != 0)
			abort();
	}
	free(path);
	err_clear();
	return 0;
}
