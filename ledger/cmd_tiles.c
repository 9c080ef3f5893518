/*
 * ledger tiles: write the log as C2SP tlog-tiles (tiles.h) into a
 * directory any static web server can serve.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ledger/cmd.h"
#include "ledger/store.h"
#include "ledger/tiles.h"

static const char usage_tiles[] =
    "usage: ledger tiles DB OUTDIR\n"
    "Write the log up to its latest checkpoint as a C2SP tlog-tiles static\n"
    "log under OUTDIR: checkpoint (the signed note, cosignatures and all),\n"
    "tile/<L>/<N>[.p/<W>] (256-wide tiles of hashes) and\n"
    "tile/entries/<N>[.p/<W>] (entry bundles, each leaf prefixed by its\n"
    "2-byte big-endian length).  Run again after new checkpoints: only new\n"
    "tiles and the partial ones are written; full tiles never change.\n"
    "Read it back with `ledger audit --tiles URL` or `ledger follow`.\n";

int
cmd_tiles(int argc, char **argv)
{
	struct tiles_report rep;
	struct store *s = NULL;
	char *pos[2];
	int npos, rc = 0;

	if (cli_parse_opts(argc, argv, NULL, NULL, NULL, NULL, pos, 2, &npos,
	        usage_tiles) < 0)
		return EXIT_USAGE;
	if (npos != 2)
		return cli_usage_error(usage_tiles, "%s", "expected DB OUTDIR");
	if (store_open(pos[0], 1, &s) < 0 || tiles_write(s, pos[1], &rep) < 0)
		rc = cli_die("tiles");
	else
		printf("tiles: %" PRIu64 " entries; %" PRIu64
		       " tiles and bundles written, %" PRIu64 " kept\n",
		    rep.size, rep.written, rep.kept);
	store_free(s);
	return rc;
}
