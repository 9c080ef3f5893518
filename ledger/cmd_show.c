/*
 * ledger show: print a range of the log's entries, plain or as JSON.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "ledger/cmd.h"
#include "ledger/store.h"

static const char usage_show[] =
    "usage: ledger show DB [--from N] [--to M] [--json]\n"
    "Print entries N..M (inclusive; default all).  Plain: one line each,\n"
    "INDEX TIME KIND SIGNER NONCE.  --json: one object per line with\n"
    "index, time, leaf (base64 of the exact leaf bytes) and entry.\n";

/* One line of --json: index, time, leaf (the exact bytes) and entry. */
static int
print_leaf_json(uint64_t idx, int64_t time, const char *data, size_t len,
    json_t *entry)
{
	char *b64 = NULL, *line = NULL;
	json_t *o = NULL;
	int rc = 0;

	if ((b64 = malloc(B64_ENCODED_SIZE(len))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	b64_encode((const uint8_t *)data, len, b64);
	o = json_pack("{s:I,s:I,s:s,s:O}", "index", (json_int_t)idx, "time",
	    (json_int_t)time, "leaf", b64, "entry", entry);
	if (o == NULL || (rc = cjson_dump(o, &line, NULL)) < 0) {
		rc = rc < 0 ? rc : err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	puts(line);
out:
	free(line);
	free(b64);
	json_decref(o);
	return rc;
}

static int
show_leaf(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	int json = *(int *)ctx;
	json_t *leaf = NULL, *entry;
	int rc;

	if ((rc = cjson_parse(data, len, &leaf)) < 0)
		return err_prefix(ERR_CORRUPT, "index %" PRIu64, idx);
	entry = json_object_get(leaf, "entry");
	if (!json_is_object(entry)) {
		json_decref(leaf);
		return err_set(ERR_CORRUPT, "index %" PRIu64 ": no entry", idx);
	}
	if (json) {
		rc = print_leaf_json(idx, time, data, len, entry);
	} else {
		printf("%" PRIu64 " %" PRId64 " %s %s %s\n", idx, time,
		    json_string_value(json_object_get(entry, "kind")),
		    json_string_value(json_object_get(entry, "signer")),
		    json_string_value(json_object_get(entry, "nonce")));
		rc = 0;
	}
	json_decref(leaf);
	return rc;
}

int
cmd_show(int argc, char **argv)
{
	static const char *const names[] = { "from", "to", NULL };
	static const char *const flags[] = { "json", NULL };
	const char *vals[2] = { NULL, NULL };
	int set[1] = { 0 };
	char *pos[1];
	struct store *s = NULL;
	uint64_t from = 0, to = UINT64_MAX - 1;
	int npos, rc = EXIT_FAIL;

	if (cli_parse_opts(argc, argv, names, vals, flags, set, pos, 1, &npos,
	        usage_show) < 0)
		return EXIT_USAGE;
	if (npos != 1)
		return cli_usage_error(usage_show, "%s", "expected DB");
	if ((vals[0] && cli_get_u64(vals[0], "--from", &from) < 0) ||
	    (vals[1] && cli_get_u64(vals[1], "--to", &to) < 0))
		return EXIT_USAGE;
	if (store_open(pos[0], 1, &s) < 0 ||
	    store_foreach(s, from, to + 1, show_leaf, &set[0]) < 0)
		cli_die("show");
	else
		rc = 0;
	store_free(s);
	return rc;
}
