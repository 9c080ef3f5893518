/*
 * ledger proof: print an RFC 9162 inclusion or consistency proof from
 * the log's stored hashes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "ledger/cmd.h"
#include "ledger/merkle.h"
#include "ledger/store.h"

static const char usage_proof[] =
    "usage: ledger proof inclusion DB INDEX [--size S] [--json]\n"
    "       ledger proof consistency DB OLD NEW [--json]\n"
    "Print an RFC 9162 inclusion proof of entry INDEX in the tree of size\n"
    "S (default: the whole log), or a consistency proof between two sizes.\n"
    "--json prints {\"index\",\"size\",\"leaf_hash\",\"proof\",\"root\"} or\n"
    "{\"old\",\"new\",\"old_root\",\"new_root\",\"proof\"}, hashes in base64;\n"
    "otherwise one base64 hash per line.\n";

/* Plain proof output: one base64 hash per line. */
static void
print_hash_lines(uint8_t proof[][32], size_t n)
{
	char b64[B64_ENCODED_SIZE(32)];

	for (size_t i = 0; i < n; i++) {
		b64_encode(proof[i], 32, b64);
		puts(b64);
	}
}

/* Entry index's inclusion in the tree of size entries. */
static int
prove_inclusion(struct store *s, uint64_t index, uint64_t size, int json)
{
	uint8_t proof[MERKLE_MAX_PROOF][32], root[32], lh[32];
	char *data = NULL;
	size_t n, len;
	int rc;

	if ((rc = store_inclusion_proof(s, index, size, proof, &n)) < 0 ||
	    (rc = store_root(s, size, root)) < 0 ||
	    (rc = store_leaf(s, index, &data, &len, NULL)) < 0)
		return rc;
	merkle_leaf_hash(data, len, lh);
	free(data);
	if (!json) {
		print_hash_lines(proof, n);
		return 0;
	}
	return cli_print_json(json_pack("{s:I,s:I,s:o,s:o,s:o}", "index",
	    (json_int_t)index, "size", (json_int_t)size, "leaf_hash",
	    cjson_hash_b64(lh), "proof", cjson_hashes_b64(proof, n), "root",
	    cjson_hash_b64(root)));
}

/* The tree of size old_size is a prefix of the one of size new_size. */
static int
prove_consistency(struct store *s, uint64_t old_size, uint64_t new_size,
    int json)
{
	uint8_t proof[MERKLE_MAX_PROOF][32], old_root[32], new_root[32];
	size_t n;
	int rc;

	if ((rc = store_consistency_proof(s, old_size, new_size, proof, &n)) <
	        0 ||
	    (rc = store_root(s, old_size, old_root)) < 0 ||
	    (rc = store_root(s, new_size, new_root)) < 0)
		return rc;
	if (!json) {
		print_hash_lines(proof, n);
		return 0;
	}
	return cli_print_json(json_pack("{s:I,s:I,s:o,s:o,s:o}", "old",
	    (json_int_t)old_size, "new", (json_int_t)new_size, "old_root",
	    cjson_hash_b64(old_root), "new_root", cjson_hash_b64(new_root),
	    "proof", cjson_hashes_b64(proof, n)));
}

int
cmd_proof(int argc, char **argv)
{
	static const char *const names[] = { "size", NULL };
	static const char *const flags[] = { "json", NULL };
	const char *vals[1] = { NULL };
	int set[1] = { 0 };
	char *pos[4];
	struct store *s = NULL;
	uint64_t a, b;
	int npos, rc = EXIT_FAIL, incl;

	if (cli_parse_opts(argc, argv, names, vals, flags, set, pos, 4, &npos,
	        usage_proof) < 0)
		return EXIT_USAGE;
	if (npos < 1)
		return cli_usage_error(usage_proof, "%s",
		    "expected inclusion or consistency");
	incl = strcmp(pos[0], "inclusion") == 0;
	if (!incl && strcmp(pos[0], "consistency") != 0)
		return cli_usage_error(usage_proof, "unknown proof kind '%s'",
		    pos[0]);
	if ((incl && npos != 3) || (!incl && npos != 4))
		return cli_usage_error(usage_proof, "%s",
		    incl ? "expected DB INDEX" : "expected DB OLD NEW");
	if (cli_get_u64(pos[2], incl ? "INDEX" : "OLD", &a) < 0 ||
	    (!incl && cli_get_u64(pos[3], "NEW", &b) < 0))
		return EXIT_USAGE;
	if (store_open(pos[1], 1, &s) < 0)
		goto fail;
	if (incl) {
		b = store_size(s);
		if (vals[0] && cli_get_u64(vals[0], "--size", &b) < 0) {
			store_free(s);
			return EXIT_USAGE;
		}
		if (prove_inclusion(s, a, b, set[0]) < 0)
			goto fail;
	} else if (prove_consistency(s, a, b, set[0]) < 0) {
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	cli_die("proof");
out:
	store_free(s);
	return rc;
}
