/*
 * ledger audit: replay a whole ledger, from a running market, a store file
 * or a git mirror (audit.h), and print the verdict, a lease's story or an
 * account.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/cjson.h"
#include "common/err.h"
#include "ledger/audit.h"
#include "ledger/cmd.h"
#include "ledger/state.h"
#include "ledger/verify.h"

static const char usage_audit[] =
    "usage: ledger audit --market URL | DB | MIRROR_DIR [--vkey VKEY]\n"
    "                    [--lease ID] [--account KEY] [--json]\n"
    "Replay the whole ledger with the market's rules (from its genesis\n"
    "entry): verify every envelope signature, every leaf and the Merkle\n"
    "tree against the latest signed checkpoint, recompute every match,\n"
    "charge and balance, and check the invariants after every entry.\n"
    "Exits 1 naming the first discrepancy.  Entries after the latest\n"
    "checkpoint are not audited (they are not signed for yet).\n"
    "--vkey pins the log's verifier key; without it the key comes from\n"
    "the source itself (the market's /v1/info, or the database), which\n"
    "proves consistency but not identity.\n"
    "--lease ID tells that lease's story: the order, the asks that fitted\n"
    "and why the winner won, start, each usage with its charge, the close\n"
    "and the refund.  --account KEY prints that account.\n";

/* Replay the ledger at url (a market) or path (a mirror directory or a
 * store file), saying where the key came from when it was not pinned. */
static int
audit_run(const char *url, const char *path, struct audit_key *key,
    struct audit **a)
{
	int rc;

	if (url) {
		rc = audit_from_market(url, key, a);
		if (key->learned)
			fprintf(stderr,
			    "ledger: audit: using the market's own verifier "
			    "key %s (pass --vkey to pin it)\n",
			    key->vk.name);
	} else if (cli_is_dir(path)) {
		rc = audit_from_mirror(path, key, a);
	} else {
		rc = audit_from_store(path, key, a);
		if (key->learned)
			fprintf(stderr,
			    "ledger: audit: using the log's own key from "
			    "%s (pass --vkey to pin it)\n",
			    path);
	}
	return rc;
}

/* The audit's findings: plain, a summary and every account. */
static void
print_summary(json_t *summary)
{
	json_t *accts = json_object_get(summary, "accounts");
	const char *k;
	json_t *v;

	printf("audit ok: %lld entries replayed and verified against "
	       "the signed checkpoint, root %s\n",
	    (long long)json_integer_value(json_object_get(summary, "entries")),
	    json_string_value(json_object_get(summary, "root")));
	printf("accounts (recomputed):\n");
	json_object_foreach(accts, k, v)
	{
		char *t = NULL;
		cjson_dump(v, &t, NULL);
		printf("  %s %s\n", k, t ? t : "?");
		free(t);
	}
}

/* What was asked for once the audit passed: a lease's story (lease), an
 * account (account), or the summary; as JSON or for people.  Takes
 * summary. */
static int
print_result(const struct audit *a, json_t *summary, const char *lease,
    const char *account, int json)
{
	json_t *o = NULL;
	int rc = 0;

	if (lease)
		rc = state_lease_story(audit_state(a), lease, &o);
	else if (account)
		rc = state_account_json(audit_state(a), account, &o);
	if (rc < 0) {
		json_decref(summary);
		return rc;
	}
	if (lease || account) {
		if (json) {
			cli_print_json(o);
		} else {
			cli_print_pretty(o);
			json_decref(o);
		}
	} else if (json) {
		cli_print_json(summary);
		summary = NULL;
	} else {
		print_summary(summary);
	}
	json_decref(summary);
	return 0;
}

int
cmd_audit(int argc, char **argv)
{
	static const char *const names[] = { "market", "vkey", "lease",
		"account", NULL };
	static const char *const flags[] = { "json", NULL };
	const char *vals[4] = { NULL };
	int set[1] = { 0 };
	char *pos[1];
	struct audit_key key = { .pinned = 0 };
	struct audit *a = NULL;
	json_t *summary = NULL;
	int npos, rc;

	if (cli_parse_opts(argc, argv, names, vals, flags, set, pos, 1, &npos,
	        usage_audit) < 0)
		return EXIT_USAGE;
	if ((vals[0] == NULL) == (npos == 0))
		return cli_usage_error(usage_audit, "%s",
		    "expected --market URL, or DB, or MIRROR_DIR");
	if (vals[1]) {
		if (verify_vkey_load(vals[1], &key.vk) < 0) {
			err_prefix(ERR_INVAL, "--vkey");
			return cli_die("audit");
		}
		key.pinned = 1;
	}
	if ((rc = audit_run(vals[0], npos ? pos[0] : NULL, &key, &a)) == 0)
		rc = audit_finish(a, &summary);
	if (rc < 0) {
		if (set[0])
			cli_print_json(json_pack("{s:b,s:s}", "ok", 0, "error",
			    err_msg()));
		audit_free(a);
		return cli_die("audit: DISCREPANCY");
	}
	rc = print_result(a, summary, vals[2], vals[3], set[0]);
	audit_free(a);
	return rc < 0 ? cli_die("audit") : 0;
}
