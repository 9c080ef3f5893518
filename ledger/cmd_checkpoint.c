/*
 * ledger checkpoint: sign the log's current size and root with its key
 * (signer.h), store the checkpoint and print it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ledger/cmd.h"
#include "ledger/signer.h"
#include "ledger/store.h"

static const char usage_checkpoint[] =
    "usage: ledger checkpoint DB [--key KEYFILE]\n"
    "Sign the log's current size and root as a C2SP checkpoint with the\n"
    "log's key (the one given to init unless --key says otherwise), store\n"
    "it, and print the signed note.\n";

int
cmd_checkpoint(int argc, char **argv)
{
	static const char *const names[] = { "key", NULL };
	const char *vals[1] = { NULL };
	char *pos[1], *note = NULL;
	struct store *s = NULL;
	struct key *k = NULL;
	int npos, rc = EXIT_FAIL;

	if (cli_parse_opts(argc, argv, names, vals, NULL, NULL, pos, 1, &npos,
	        usage_checkpoint) < 0)
		return EXIT_USAGE;
	if (npos != 1)
		return cli_usage_error(usage_checkpoint, "%s", "expected DB");
	if (store_open(pos[0], 0, &s) < 0 ||
	    signer_key_load(s, vals[0], &k) < 0 ||
	    signer_checkpoint(s, store_size(s), k, &note) < 0) {
		cli_die("checkpoint");
		goto out;
	}
	fputs(note, stdout);
	rc = 0;
out:
	free(note);
	key_free(k);
	store_free(s);
	return rc;
}
