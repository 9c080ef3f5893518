/*
 * ledger mirror: create or update the git mirror of a log (mirror.h).
 */
#include <inttypes.h>
#include <stdio.h>

#include "ledger/cmd.h"
#include "ledger/mirror.h"
#include "ledger/store.h"

static const char usage_mirror[] =
    "usage: ledger mirror DB DIR\n"
    "Create (as a bare git repository) or update the git mirror in DIR:\n"
    "one commit per checkpoint not yet mirrored.  Anyone can clone DIR\n"
    "with git and check it with ledger verify.\n";

int
cmd_mirror(int argc, char **argv)
{
	char *pos[2];
	struct store *s = NULL;
	struct mirror_report rep;
	int npos, rc;

	if (cli_parse_opts(argc, argv, NULL, NULL, NULL, NULL, pos, 2, &npos,
	        usage_mirror) < 0)
		return EXIT_USAGE;
	if (npos != 2)
		return cli_usage_error(usage_mirror, "%s", "expected DB DIR");
	if (store_open(pos[0], 1, &s) < 0)
		return cli_die("mirror");
	rc = mirror_update(s, pos[1], &rep);
	store_free(s);
	if (rc < 0)
		return cli_die("mirror");
	printf("mirror %s: %" PRIu64 " new commit%s, %" PRIu64 " entries\n",
	    pos[1], rep.commits, rep.commits == 1 ? "" : "s", rep.size);
	return 0;
}
