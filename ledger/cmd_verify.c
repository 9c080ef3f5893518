/*
 * ledger verify: check a whole log, a SQLite store or a git mirror,
 * offline against its verifier key (verify.h, mirror.h).
 */
#include <inttypes.h>
#include <stdio.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/util.h"
#include "ledger/cmd.h"
#include "ledger/mirror.h"
#include "ledger/store.h"
#include "ledger/verify.h"

static const char usage_verify[] =
    "usage: ledger verify DB|MIRROR_DIR --vkey VKEY [--json]\n"
    "Recompute every leaf hash, every stored hash and root, every\n"
    "checkpoint signature (against VKEY, the text <name>+<id>+<key> or a\n"
    "file holding it) and every envelope signature.  Names the first bad\n"
    "index and exits 1 on any discrepancy.\n";

/* A directory is a git mirror; anything else a store file. */
static int
verify_path(const char *path, const struct note_verifier *vk,
    struct verify_report *rep)
{
	struct store *s = NULL;
	int rc;

	if (cli_is_dir(path))
		return mirror_verify(path, vk, rep);
	if ((rc = store_open(path, 1, &s)) < 0)
		return rc;
	rc = verify_store(s, vk, rep);
	store_free(s);
	return rc;
}

static void
print_report(const struct verify_report *rep, int json, uint64_t t0)
{
	char b64[B64_ENCODED_SIZE(32)];

	b64_encode(rep->root, 32, b64);
	if (json) {
		cli_print_json(json_pack("{s:b,s:I,s:I,s:I,s:s,s:I}", "ok", 1,
		    "entries", (json_int_t)rep->entries, "checkpoints",
		    (json_int_t)rep->checkpoints, "latest_checkpoint",
		    (json_int_t)rep->latest_size, "root", b64, "elapsed_ms",
		    (json_int_t)((util_mono_ns() - t0) / 1000000)));
	} else {
		printf("ok: %" PRIu64 " entries, %" PRIu64 " checkpoint%s "
		       "(latest at size %" PRIu64 "), root %s\n",
		    rep->entries, rep->checkpoints,
		    rep->checkpoints == 1 ? "" : "s", rep->latest_size, b64);
	}
}

int
cmd_verify(int argc, char **argv)
{
	static const char *const names[] = { "vkey", NULL };
	static const char *const flags[] = { "json", NULL };
	const char *vals[1] = { NULL };
	int set[1] = { 0 };
	char *pos[1];
	struct note_verifier vk;
	struct verify_report rep;
	uint64_t t0 = util_mono_ns();
	int npos;

	if (cli_parse_opts(argc, argv, names, vals, flags, set, pos, 1, &npos,
	        usage_verify) < 0)
		return EXIT_USAGE;
	if (npos != 1 || vals[0] == NULL)
		return cli_usage_error(usage_verify, "%s",
		    "expected DB|MIRROR_DIR and --vkey");
	if (verify_vkey_load(vals[0], &vk) < 0) {
		err_prefix(ERR_INVAL, "--vkey");
		return cli_die("verify");
	}
	if (verify_path(pos[0], &vk, &rep) < 0) {
		if (set[0])
			cli_print_json(json_pack("{s:b,s:s}", "ok", 0, "error",
			    err_msg()));
		return cli_die("verify: FAILED");
	}
	print_report(&rep, set[0], t0);
	return 0;
}
