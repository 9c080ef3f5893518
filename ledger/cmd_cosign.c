/*
 * ledger cosign: ask the witnesses of a policy to cosign the log's latest
 * checkpoint (cosign.h), attach their cosignatures, store and print the
 * note.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "ledger/cmd.h"
#include "ledger/cosign.h"
#include "ledger/store.h"
#include "ledger/trust.h"

static const char usage_cosign[] =
    "usage: ledger cosign DB --policy FILE\n"
    "Ask each witness of the policy (its \"witness <vkey> <url>\" lines) to\n"
    "cosign the log's latest checkpoint, per C2SP tlog-witness: the\n"
    "request carries a consistency proof from the size the witness last\n"
    "cosigned.  The cosignatures are attached to the stored note, which is\n"
    "printed.  Exits 1 when the note carries fewer cosignatures than the\n"
    "policy's quorum, naming each witness that refused and why (a witness\n"
    "that cosigned another history of this log refuses).  Run `ledger\n"
    "checkpoint` first to sign a new checkpoint.\n";

int
cmd_cosign(int argc, char **argv)
{
	static const char *const names[] = { "policy", NULL };
	const char *vals[1] = { NULL };
	struct trust_policy p;
	struct cosign_report rep;
	struct store *s = NULL;
	char *pos[1], *note = NULL;
	int npos, rc = EXIT_FAIL;

	if (cli_parse_opts(argc, argv, names, vals, NULL, NULL, pos, 1, &npos,
	        usage_cosign) < 0)
		return EXIT_USAGE;
	if (npos != 1 || vals[0] == NULL)
		return cli_usage_error(usage_cosign, "%s",
		    "expected DB --policy FILE");
	trust_policy_init(&p);
	if (trust_policy_load(&p, vals[0]) < 0) {
		cli_die("cosign: --policy");
		goto out;
	}
	if (store_open(pos[0], 0, &s) < 0) {
		cli_die("cosign");
		goto out;
	}
	if (cosign_store(s, &p, &note, &rep) < 0) {
		cli_die("cosign");
		goto out;
	}
	fprintf(stderr,
	    "ledger: cosign: checkpoint %llu: %zu of %zu witnesses "
	    "cosigned now; %zu cosignatures (quorum %zu)%s%s\n",
	    (unsigned long long)rep.size, rep.cosigned, rep.asked, rep.total,
	    p.quorum, rep.failures[0] ? "; refusals:\n" : "", rep.failures);
	fputs(note, stdout);
	rc = 0;
out:
	free(note);
	store_free(s);
	trust_policy_clear(&p);
	return rc;
}
