/*
 * ledger envelope: sign a body as an envelope of a kind and print it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/key.h"
#include "common/util.h"
#include "ledger/cmd.h"
#include "ledger/store.h"

static const char usage_envelope[] =
    "usage: ledger envelope --key KEYFILE --kind KIND [--body JSON|-]\n"
    "                       [--nonce NONCE] [--time MS]\n"
    "Print one signed envelope (canonical JSON, one line).  The body is a\n"
    "JSON object (integers only), '-' reads it from stdin; default {}.\n"
    "The nonce defaults to 16 random bytes in hex, the time to now.\n";

/* The --body argument: JSON text, "-" for stdin, NULL for {}. */
static int
read_body(const char *arg, json_t **body)
{
	char *buf = NULL;
	size_t len;
	int rc;

	if (arg == NULL) {
		*body = json_object();
		return 0;
	}
	if (strcmp(arg, "-") != 0) {
		if (cjson_parse(arg, strlen(arg), body) < 0)
			return err_prefix(ERR_INVAL, "--body");
		return 0;
	}
	if ((rc = util_read_file("-", STORE_MAX_LEAF, &buf, &len)) < 0)
		return rc;
	if ((rc = cjson_parse(buf, len, body)) < 0)
		err_prefix(ERR_INVAL, "--body");
	free(buf);
	return rc;
}

int
cmd_envelope(int argc, char **argv)
{
	static const char *const names[] = { "key", "kind", "body", "nonce",
		"time", NULL };
	const char *vals[5] = { NULL };
	char *pos[1], *out = NULL;
	struct envelope *e = NULL;
	struct key *k = NULL;
	json_t *body = NULL;
	int64_t t = -1;
	size_t len;
	int npos, rc = EXIT_FAIL;

	if (cli_parse_opts(argc, argv, names, vals, NULL, NULL, pos, 0, &npos,
	        usage_envelope) < 0)
		return EXIT_USAGE;
	if (!vals[0] || !vals[1])
		return cli_usage_error(usage_envelope, "%s",
		    "expected --key and --kind");
	if (vals[4] && util_parse_i64(vals[4], "--time", &t) < 0)
		return cli_die(NULL);
	if (read_body(vals[2], &body) < 0)
		return cli_die("envelope");
	if (key_load(vals[0], &k) < 0 ||
	    envelope_sign(k, vals[1], body, vals[3], t, &e) < 0 ||
	    envelope_dump(e, &out, &len) < 0) {
		cli_die("envelope");
		goto out;
	}
	printf("%s\n", out);
	rc = 0;
out:
	free(out);
	envelope_free(e);
	json_decref(body);
	key_free(k);
	return rc;
}
