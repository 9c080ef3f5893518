/*
 * ledger: command-line tool over the ledger library: create a log, sign
 * envelopes, append, checkpoint, show, prove, verify, mirror, tiles and
 * audit; run a witness, collect cosignatures, follow a log.
 * This file only dispatches; each command is ledger/cmd_<name>.c.
 */
#include <stdio.h>
#include <string.h>

#include "ledger/cmd.h"

static const char usage_main[] =
    "usage: ledger COMMAND [ARGS]\n"
    "\n"
    "  init DB --origin NAME --key KEYFILE   create a log (and its key)\n"
    "  keygen KEYFILE                        create an Ed25519 key\n"
    "  envelope --key KEYFILE --kind KIND [--body JSON|-] [--nonce N]\n"
    "           [--time MS]                  print a signed envelope\n"
    "  append DB [FILE|-] [--json]           append envelopes, one per line\n"
    "  checkpoint DB [--key KEYFILE]         sign and print a checkpoint\n"
    "  show DB [--from N] [--to M] [--json]  print entries\n"
    "  proof inclusion DB INDEX [--size S] [--json]\n"
    "  proof consistency DB OLD NEW [--json]\n"
    "  verify DB|MIRROR_DIR --vkey VKEY [--json]\n"
    "  mirror DB DIR                         create or update a git mirror\n"
    "  tiles DB OUTDIR                       write C2SP tlog-tiles\n"
    "  audit --market URL | --tiles URL | DB | MIRROR_DIR [--vkey VKEY]\n"
    "        [--policy FILE] [--since FILE] [--lease ID] [--account KEY]\n"
    "        [--json]                        replay and check everything\n"
    "  witness init|log|serve|state|evidence  a C2SP tlog-witness\n"
    "  cosign DB --policy FILE               collect witness cosignatures\n"
    "  follow --market URL | --tiles URL | DB --since FILE [--vkey VKEY]\n"
    "         [--policy FILE]                check a checkpoint against the\n"
    "                                        remembered one, remember it\n"
    "  attest --key KEYFILE --market URL PROVIDER K=V,...|--revoke\n"
    "                                        an auditor's provider.attest\n"
    "\n"
    "Each command takes --help.  Exit status: 0 success, 1 failure (the\n"
    "reason on stderr), 2 usage error.\n";

static const struct {
	const char *name;
	int (*fn)(int, char **);
} cmds[] = {
	{ "init", cmd_init },
	{ "keygen", cmd_keygen },
	{ "envelope", cmd_envelope },
	{ "append", cmd_append },
	{ "checkpoint", cmd_checkpoint },
	{ "show", cmd_show },
	{ "proof", cmd_proof },
	{ "verify", cmd_verify },
	{ "mirror", cmd_mirror },
	{ "audit", cmd_audit },
	{ "tiles", cmd_tiles },
	{ "witness", cmd_witness },
	{ "cosign", cmd_cosign },
	{ "follow", cmd_follow },
	{ "attest", cmd_attest },
};

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "ledger: unknown command '%s'\n%s", argv[1],
	    usage_main);
	return EXIT_USAGE;
}
