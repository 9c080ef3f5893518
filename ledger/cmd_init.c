/*
 * ledger init: create a log bound to its signing key (signer.h) and print
 * the verifier key auditors use.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "ledger/cmd.h"
#include "ledger/note.h"
#include "ledger/signer.h"

static const char usage_init[] =
    "usage: ledger init DB --origin NAME --key KEYFILE\n"
    "Create a new log in the SQLite file DB whose checkpoints are signed\n"
    "by KEYFILE (created if it does not exist) under the origin NAME\n"
    "(e.g. lodge.example/ledger), sign the empty checkpoint, and print the\n"
    "verifier key auditors use: <name>+<key id>+<base64 key>.\n";

int
cmd_init(int argc, char **argv)
{
	static const char *const names[] = { "origin", "key", NULL };
	const char *vals[2] = { NULL, NULL };
	char *pos[1], *vkey = NULL;
	int npos, created;

	if (cli_parse_opts(argc, argv, names, vals, NULL, NULL, pos, 1, &npos,
	        usage_init) < 0)
		return EXIT_USAGE;
	if (npos != 1 || !vals[0] || !vals[1])
		return cli_usage_error(usage_init, "%s",
		    "expected DB, --origin and --key");
	if (note_name_check(vals[0]) < 0) {
		err_prefix(ERR_INVAL, "--origin");
		return cli_die("init");
	}
	if (signer_create_log(pos[0], vals[0], vals[1], &vkey, &created) < 0)
		return cli_die("init");
	if (created)
		fprintf(stderr, "ledger: created key %s\n", vals[1]);
	printf("%s\n", vkey);
	free(vkey);
	return 0;
}
