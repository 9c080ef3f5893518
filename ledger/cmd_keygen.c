/*
 * ledger keygen: create an Ed25519 key file and print its public key.
 */
#include <stdio.h>

#include "common/key.h"
#include "ledger/cmd.h"

static const char usage_keygen[] =
    "usage: ledger keygen KEYFILE\n"
    "Create an Ed25519 key in KEYFILE (PEM, mode 0600; refuses to replace\n"
    "a file) and print its public key as ed25519:<base64url>.\n";

int
cmd_keygen(int argc, char **argv)
{
	char *pos[1], text[KEY_TEXT_SIZE];
	uint8_t pub[KEY_PUB_LEN];
	struct key *k = NULL;
	int npos;

	if (cli_parse_opts(argc, argv, NULL, NULL, NULL, NULL, pos, 1, &npos,
	        usage_keygen) < 0)
		return EXIT_USAGE;
	if (npos != 1)
		return cli_usage_error(usage_keygen, "%s", "expected KEYFILE");
	if (key_generate(&k) < 0 || key_save(k, pos[0]) < 0) {
		key_free(k);
		return cli_die("keygen");
	}
	key_public(k, pub);
	key_pub_to_text(pub, text);
	printf("%s\n", text);
	key_free(k);
	return 0;
}
