/*
 * cmd_keygen: `tenant keygen`, create the tenant's key and print its
 * account key (docs/tenant.md, "Key, market, config").
 */
#include <stdio.h>

#include "tenant/cmd.h"

const char cmd_keygen_help[] =
    "usage: tenant keygen [--json]\n"
    "Create the tenant's Ed25519 key in $XDG_CONFIG_HOME/lodge/"
    "tenant.key\n(mode 0600) and print its account key.  Refuses to "
    "replace a key.\n";

int
cmd_keygen(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct key *k = NULL;
	uint8_t pub[KEY_PUB_LEN];
	char text[KEY_TEXT_SIZE];

	(void)argv;
	if (argc != 0)
		return cmd_usage(cmd_keygen_help);
	if (tenant_paths_init(&p) || tenant_key_create(&p, &k))
		return cmd_fail("keygen");
	key_public(k, pub);
	key_pub_to_text(pub, text);
	key_free(k);
	if (o->json)
		printf("{\"address\":\"%s\",\"key_file\":\"%s\"}\n", text,
		    p.key);
	else {
		puts(text);
		fprintf(stderr, "tenant: key written to %s\n", p.key);
	}
	return EXIT_OK;
}
