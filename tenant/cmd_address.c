/*
 * cmd_address: `tenant address`, print the tenant's account key
 * (ed25519:<base64url>).
 */
#include <stdio.h>

#include "tenant/cmd.h"

const char cmd_address_help[] =
    "usage: tenant address [--json]\n"
    "Print the tenant's account key (ed25519:...).\n";

int
cmd_address(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct key *k = NULL;
	uint8_t pub[KEY_PUB_LEN];
	char text[KEY_TEXT_SIZE];

	(void)argv;
	if (argc != 0)
		return cmd_usage(cmd_address_help);
	if (tenant_paths_init(&p) || tenant_key_load(&p, &k))
		return cmd_fail(NULL);
	key_public(k, pub);
	key_pub_to_text(pub, text);
	key_free(k);
	if (o->json)
		printf("{\"address\":\"%s\"}\n", text);
	else
		puts(text);
	return EXIT_OK;
}
