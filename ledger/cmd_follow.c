/*
 * ledger follow: what a client does before trusting a log's state: check
 * the source's latest checkpoint against the one it remembers (trust.h),
 * with a consistency proof, and remember the new one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/cmd.h"
#include "ledger/store.h"
#include "ledger/trust.h"

static const char usage_follow[] =
    "usage: ledger follow --market URL | --tiles URL | DB --since FILE\n"
    "                     [--vkey VKEY] [--policy FILE]\n"
    "Verify the source's latest checkpoint (the log's signature, and the\n"
    "policy's quorum of witness cosignatures) and that it is consistent\n"
    "with the checkpoint remembered in FILE (an RFC 9162 consistency proof\n"
    "from the market, computed from the tiles or from the store), then\n"
    "remember it in FILE.  A missing FILE is a first use: the checkpoint\n"
    "is remembered as it is.  When the two checkpoints cannot both be\n"
    "honest (a split view) it prints ALARM and both notes, writes them to\n"
    "FILE.evidence, leaves FILE as it was and exits 1.\n"
    "The log's key comes from --vkey, else the policy's \"log\" line, else\n"
    "(for DB only) the store itself.\n";

/* The store's own key when none was given (said on stderr). */
static int
store_key(const char *path, struct trust_policy *p)
{
	uint8_t pub[32];
	struct store *s;
	int rc;

	if ((rc = store_open(path, 1, &s)) < 0)
		return rc;
	store_log_pub(s, pub);
	rc =
	    note_verifier_init(&p->log, store_origin(s), NOTE_SIG_ED25519, pub);
	store_free(s);
	if (rc == 0) {
		p->have_log = 1;
		fprintf(stderr,
		    "ledger: follow: using the log's own key from %s "
		    "(pass --vkey to pin it)\n",
		    path);
	}
	return rc;
}

int
cmd_follow(int argc, char **argv)
{
	static const char *const names[] = { "market", "tiles", "since", "vkey",
		"policy", NULL };
	const char *vals[5] = { NULL };
	struct trust_policy p;
	struct trust_memory *m = NULL;
	const struct checkpoint *old;
	uint64_t old_size = 0, size = 0;
	char *pos[1];
	int npos, first, advanced = 0, rc = EXIT_FAIL;

	if (cli_parse_opts(argc, argv, names, vals, NULL, NULL, pos, 1, &npos,
	        usage_follow) < 0)
		return EXIT_USAGE;
	if ((vals[0] != NULL) + (vals[1] != NULL) + (npos == 1) != 1)
		return cli_usage_error(usage_follow, "%s",
		    "expected one of --market URL, --tiles URL or DB");
	if (vals[2] == NULL)
		return cli_usage_error(usage_follow, "%s",
		    "expected --since FILE");
	if (cli_load_policy(vals[4], vals[3], &p) < 0) {
		cli_die("follow");
		goto out;
	}
	if (!p.have_log && npos == 1 && store_key(pos[0], &p) < 0) {
		cli_die("follow");
		goto out;
	}
	if (!p.have_log) {
		rc = cli_usage_error(usage_follow, "%s",
		    "the log's key is needed: --vkey, or a policy with a "
		    "\"log\" line");
		goto out;
	}
	if (cli_pin_market(vals[0], &p) < 0 || cli_pin_tiles(vals[1], &p) < 0 ||
	    trust_memory_open(vals[2], &p, &m) < 0) {
		cli_die("follow");
		goto out;
	}
	old = trust_memory_checkpoint(m);
	first = old == NULL;
	if (old)
		old_size = old->size;
	if ((vals[0] ? trust_follow_market(m, vals[0], &advanced, &size) :
	            vals[1] ?
	               trust_follow_tiles(m, vals[1], &advanced, &size) :
	               trust_follow_store(m, pos[0], &advanced, &size)) < 0) {
		cli_die("follow");
		goto out;
	}
	if (first)
		printf("first use: remembered checkpoint %" PRIu64
		       " of %s in %s\n",
		    size, trust_memory_checkpoint(m)->origin, vals[2]);
	else if (advanced)
		printf("ok: checkpoint %" PRIu64 " extends the remembered one "
		       "(%" PRIu64 "); remembered in %s\n",
		    size, old_size, vals[2]);
	else if (size == old_size)
		printf("ok: checkpoint %" PRIu64 " is the remembered one\n",
		    size);
	else
		printf("ok: checkpoint %" PRIu64 " is older than the "
		       "remembered one (%" PRIu64 ") and a prefix of it\n",
		    size, old_size);
	rc = 0;
out:
	trust_memory_free(m);
	trust_policy_clear(&p);
	return rc;
}
