/*
 * ledger audit: replay a whole ledger, from a running market, a store file,
 * a git mirror or C2SP tiles (audit.h), check its checkpoint against a
 * policy and a remembered checkpoint (trust.h), and print the verdict, a
 * lease's story or an account.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/http.h"
#include "ledger/audit.h"
#include "ledger/cmd.h"
#include "ledger/state.h"
#include "ledger/trust.h"
#include "ledger/verify.h"

static const char usage_audit[] =
    "usage: ledger audit --market URL | --tiles URL | DB | MIRROR_DIR\n"
    "                    [--vkey VKEY] [--policy FILE] [--since FILE]\n"
    "                    [--lease ID] [--account KEY] [--provider KEY]\n"
    "                    [--json]\n"
    "Replay the whole ledger with the market's rules (from its genesis\n"
    "entry): verify every envelope signature, every leaf and the Merkle\n"
    "tree against the latest signed checkpoint, recompute every match,\n"
    "charge and balance, and check the invariants after every entry.\n"
    "Exits 1 naming the first discrepancy.  Entries after the latest\n"
    "checkpoint are not audited (they are not signed for yet).\n"
    "--vkey pins the log's verifier key; without it the key comes from\n"
    "the source itself (the market's /v1/info, or the database), which\n"
    "proves consistency but not identity; a mirror and tiles need it (or\n"
    "a policy's \"log\" line).\n"
    "--tiles URL reads a C2SP tlog-tiles log (http(s)://, file:// or a\n"
    "directory, as `ledger tiles` writes it) and checks every tile too.\n"
    "--policy FILE (see `ledger follow`) requires its quorum of witness\n"
    "cosignatures on the latest checkpoint.\n"
    "--since FILE audits from a remembered checkpoint: the latest one must\n"
    "be consistent with it (an RFC 9162 proof over the replayed tree, or\n"
    "from the market or store when the audited checkpoint is the older),\n"
    "else ALARM and both notes, the evidence of a split view; when it is,\n"
    "it is remembered in FILE (a missing FILE: first use).\n"
    "--lease ID tells that lease's story: the order, the asks that fitted\n"
    "and why the winner won, start, each usage with its charge, the close\n"
    "and the refund.  --account KEY prints that account.\n"
    "--provider KEY prints that provider's record (docs/state.md,\n"
    "\"Reputation\"), recomputed from the ledger; with --market, the\n"
    "market's own (/v1/providers/KEY/record) must equal it when both are\n"
    "at the same index (else DISCREPANCY; \"market_agrees\" in --json).\n";

/* Replay the ledger at url (a market) or path (a mirror directory or a
 * store file), saying where the key came from when it was not pinned. */
static int
audit_run(const char *url, const char *tiles, const char *path,
    struct audit_key *key, struct audit **a)
{
	int rc;

	if (tiles) {
		rc = audit_from_tiles(tiles, key, a);
	} else if (url) {
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

/* Compare the recomputed record rec with the market's at url: 1 equal,
 * 0 not compared (the market is at another index: said on stderr),
 * ERR_REJECT naming the first differing member. */
static int
compare_record(const char *url, const char *key, const json_t *rec)
{
	struct http_result r = { 0 };
	json_t *m = NULL, *v;
	char u[2048];
	const char *k;
	int rc;

	snprintf(u, sizeof(u), "%s/v1/providers/%s/record", url, key);
	if ((rc = http_fetch("GET", u, NULL, NULL, 0, 30000, &r)) < 0)
		return rc;
	if (r.status != 200 ||
	    (m = json_loadb(r.body, r.body_len, 0, NULL)) == NULL) {
		rc = err_set(ERR_IO, "%s: HTTP %ld, not a record", u, r.status);
		goto out;
	}
	if (!json_equal(json_object_get(m, "index"),
	        json_object_get(rec, "index"))) {
		fprintf(stderr,
		    "ledger: audit: the market's record is at index %lld, "
		    "the audit at %lld: not compared\n",
		    (long long)json_integer_value(json_object_get(m, "index")),
		    (long long)json_integer_value(
		        json_object_get(rec, "index")));
		rc = 0;
		goto out;
	}
	rc = 1;
	json_object_foreach((json_t *)rec, k, v)
	{
		if (!json_equal(v, json_object_get(m, k))) {
			rc = err_set(ERR_REJECT,
			    "the market's record of %s differs "
			    "from the one the ledger gives in \"%s\"",
			    key, k);
			break;
		}
	}
	if (rc == 1 && json_object_size(m) != json_object_size(rec))
		rc = err_set(ERR_REJECT,
		    "the market's record of %s has "
		    "members the ledger's lacks",
		    key);
out:
	json_decref(m);
	http_result_clear(&r);
	return rc;
}

/* What was asked for once the audit passed: a lease's story (lease), an
 * account (account), a provider's record (provider, compared with the
 * market's at url when given), or the summary; as JSON or for people.
 * Takes summary. */
static int
print_result(const struct audit *a, json_t *summary, const char *lease,
    const char *account, const char *provider, const char *url, int json)
{
	json_t *o = NULL;
	int rc = 0;

	if (lease)
		rc = state_lease_story(audit_state(a), lease, &o);
	else if (account)
		rc = state_account_json(audit_state(a), account, &o);
	else if (provider)
		rc = state_provider_record(audit_state(a), provider, &o);
	if (rc == 0 && provider && url) {
		if ((rc = compare_record(url, provider, o)) >= 0) {
			json_object_set_new(o, "market_agrees",
			    rc == 1 ? json_true() : json_null());
			rc = 0;
		}
	}
	if (rc < 0) {
		json_decref(o);
		json_decref(summary);
		return rc;
	}
	if (lease || account || provider) {
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

/*
 * The audited checkpoint against the policy's quorum and, with since,
 * against the remembered one; *since_size gets the remembered size and
 * *older is set when the audited checkpoint is the older of the two.
 * An older one must be a prefix of the remembered one: the proof is
 * computed over the replayed tree when it reaches the remembered size,
 * else asked of the source (a market, a store holding more leaves than
 * its checkpoint covers), as tenants do; a mirror or tiles cannot give
 * one.
 */
static int
check_trust(struct audit *a, struct trust_policy *p,
    const struct audit_key *key, const char *since, const char *market,
    const char *path, uint64_t *since_size, int *first, int *older)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	const char *note = audit_checkpoint_note(a);
	struct trust_memory *m = NULL;
	struct merkle_reader r;
	struct checkpoint cp;
	struct stat st;
	uint64_t from, to;
	size_t n = 0;
	int rc;

	p->log = key->vk;
	p->have_log = 1;
	if ((rc = trust_verify(p, note, strlen(note), &cp, NULL)) < 0)
		return rc;
	if (since == NULL) {
		checkpoint_clear(&cp);
		return 0;
	}
	if ((rc = trust_memory_open(since, p, &m)) < 0)
		goto out;
	*first = trust_memory_checkpoint(m) == NULL;
	*since_size = *first ? 0 : trust_memory_checkpoint(m)->size;
	*older = !*first && *since_size > cp.size;
	if (trust_proof_range(m, cp.size, &from, &to)) {
		if (to > cp.size && market != NULL) {
			rc = trust_follow_market_note(m, market, note,
			    strlen(note), NULL, NULL);
			goto out;
		}
		if (to > cp.size && path != NULL && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode)) {
			rc = trust_follow_store(m, path, NULL, NULL);
			goto out;
		}
		if (to > cp.size) {
			rc = err_set(ERR_REJECT,
			    "the remembered checkpoint (%s, "
			    "size %llu) is beyond the audited one (size %llu): "
			    "the source is behind, or rolled back",
			    since, (unsigned long long)to,
			    (unsigned long long)cp.size);
			goto out;
		}
		audit_reader(a, &r);
		if ((rc = merkle_consistency_proof(from, to, &r, proof, &n)) <
		    0)
			goto out;
	}
	rc = trust_update(m, note, strlen(note), proof, n, NULL);
out:
	checkpoint_clear(&cp);
	trust_memory_free(m);
	return rc;
}

int
cmd_audit(int argc, char **argv)
{
	static const char *const names[] = { "market", "vkey", "lease",
		"account", "tiles", "since", "policy", "provider", NULL };
	static const char *const flags[] = { "json", NULL };
	const char *vals[8] = { NULL };
	int set[1] = { 0 };
	char *pos[1];
	struct audit_key key = { .pinned = 0 };
	struct trust_policy p;
	struct audit *a = NULL;
	json_t *summary = NULL;
	uint64_t since_size = 0;
	int npos, rc, first = 0, older = 0;

	if (cli_parse_opts(argc, argv, names, vals, flags, set, pos, 1, &npos,
	        usage_audit) < 0)
		return EXIT_USAGE;
	if ((vals[0] != NULL) + (vals[4] != NULL) + (npos != 0) != 1)
		return cli_usage_error(usage_audit, "%s",
		    "expected --market URL, --tiles URL, DB or MIRROR_DIR");
	if (cli_load_policy(vals[6], vals[1], &p) < 0 ||
	    cli_pin_market(vals[0], &p) < 0 || cli_pin_tiles(vals[4], &p) < 0)
		return cli_die("audit");
	if (p.have_log) {
		key.vk = p.log;
		key.pinned = 1;
	}
	if ((rc = audit_run(vals[0], vals[4], npos ? pos[0] : NULL, &key,
	         &a)) == 0 &&
	    (rc = audit_finish(a, &summary)) == 0 &&
	    (vals[5] != NULL || vals[6] != NULL))
		rc = check_trust(a, &p, &key, vals[5], vals[0],
		    npos ? pos[0] : NULL, &since_size, &first, &older);
	trust_policy_clear(&p);
	if (rc < 0) {
		if (set[0])
			cli_print_json(json_pack("{s:b,s:s,s:b}", "ok", 0,
			    "error", err_msg(), "alarm", rc == ERR_ALARM));
		json_decref(summary);
		audit_free(a);
		return cli_die(
		    rc == ERR_ALARM ? "audit" : "audit: DISCREPANCY");
	}
	if (vals[5] != NULL) {
		if (set[0])
			json_object_set_new(summary, "since",
			    json_pack("{s:I,s:b,s:b}", "size",
			        (json_int_t)since_size, "first_use", first,
			        "older", older));
		else if (first)
			fprintf(stderr,
			    "ledger: audit: first use: the checkpoint is "
			    "remembered in %s\n",
			    vals[5]);
		else if (older)
			fprintf(stderr,
			    "ledger: audit: the audited checkpoint is older "
			    "than the remembered one of size %llu (%s) and, as "
			    "the source proves, a prefix of it; %s is "
			    "unchanged\n",
			    (unsigned long long)since_size, vals[5], vals[5]);
		else
			fprintf(stderr,
			    "ledger: audit: consistent with the remembered "
			    "checkpoint of size %llu (%s), which it replaces\n",
			    (unsigned long long)since_size, vals[5]);
	}
	rc = print_result(a, summary, vals[2], vals[3], vals[7], vals[0],
	    set[0]);
	audit_free(a);
	if (rc == ERR_REJECT)
		return cli_die("audit: DISCREPANCY");
	return rc < 0 ? cli_die("audit") : 0;
}
