/*
 * cmd_request: `provider request`, one request to a provider's private
 * API signed with a key (common/reqsig.h), as the tenant CLI sends them;
 * for tests and operators.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/reqsig.h"
#include "common/util.h"
#include "provider/cmd.h"

#define REQUEST_BODY_MAX (256u << 20)
#define REQUEST_TIMEOUT_MS 30000

static int
request(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "body", required_argument, NULL, 'b' },
		{ "sign-only", no_argument, NULL, 's' },
		{ "provider-key", required_argument, NULL, 'P' },
		CMD_OPTS_END,
	};
	const char *keyfile = NULL, *bodyfile = NULL, *method, *url, *target;
	const char *pkey = NULL;
	uint8_t pub[KEY_PUB_LEN];
	struct http_result r = { 0 };
	struct key *k = NULL;
	char *body = NULL, *line = NULL;
	const char *hdrs[3];
	char host[REQSIG_HOST_MAX];
	size_t blen = 0;
	int ch, status, sign_only = 0;

	while ((ch = cmd_getopt(c, argc, argv, "h", opts, &status)) != -1) {
		if (ch == CMD_DONE)
			return status;
		if (ch == 'k')
			keyfile = optarg;
		else if (ch == 'b')
			bodyfile = optarg;
		else if (ch == 's')
			sign_only = 1;
		else if (ch == 'P')
			pkey = optarg;
	}
	if (keyfile == NULL || argc - optind != 2) {
		return cmd_misuse(c);
	}
	method = argv[optind];
	url = argv[optind + 1];
	if (reqsig_url_target(url, &target) < 0 ||
	    reqsig_url_host(url, host) < 0)
		return cmd_fail(CMD_USAGE);
	/* https://: the certificate must hold the provider's key */
	if (pkey &&
	    (key_pub_from_text(pkey, pub) < 0 || http_pin(url, pub) < 0))
		return cmd_fail(CMD_USAGE);
	status = CMD_FAIL;
	if (key_load(keyfile, &k) < 0 ||
	    (bodyfile &&
	        util_read_file(bodyfile, REQUEST_BODY_MAX, &body, &blen) < 0) ||
	    reqsig_header_line(k, method, host, target, body, blen, &line) <
	        0) {
		status = cmd_fail(CMD_FAIL);
		goto out;
	}
	if (sign_only) {
		/* For curl -H and other clients: the header line alone. */
		printf("%s\n", line);
		status = CMD_OK;
		goto out;
	}
	hdrs[0] = line;
	hdrs[1] = "Content-Type: application/octet-stream";
	hdrs[2] = NULL;
	if (http_fetch(method, url, hdrs, body, blen, REQUEST_TIMEOUT_MS, &r) <
	    0) {
		status = cmd_fail(CMD_FAIL);
		goto out;
	}
	fwrite(r.body, 1, r.body_len, stdout);
	if (r.body_len && r.body[r.body_len - 1] != '\n')
		putchar('\n');
	fprintf(stderr, "HTTP %ld\n", r.status);
	status = r.status >= 200 && r.status < 300 ? CMD_OK : CMD_FAIL;
out:
	http_result_clear(&r);
	free(body);
	free(line);
	key_free(k);
	return status;
}

const struct cmd cmd_request = {
	.group = "request",
	.run = request,
	.help = "send a request signed by KEY (tenant's view)",
	.usage = "usage: provider request --key KEYFILE [--body FILE] "
	         "[--sign-only] METHOD URL\n"
	         "Send METHOD URL signed with KEYFILE's key for URL's host; "
	         "the answer's body\non stdout, "
	         "\"HTTP <status>\" on stderr; exit 0 for a 2xx.\n"
	         "  --body FILE  the request body\n"
	         "  --sign-only  print the X-Lodge-Signature header line, send "
	         "nothing\n"
	         "  --provider-key KEY  for an https:// URL: the provider's "
	         "ed25519: key,\n"
	         "               which its certificate must hold (else the "
	         "system's CAs)\n",
};
