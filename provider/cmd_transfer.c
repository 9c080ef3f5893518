/*
 * cmd_transfer: `provider transfer --to KEY AMOUNT`, move earnings out of
 * the provider's key with an account.transfer (provider/account.h).
 */
#include <stdio.h>

#include "common/util.h"
#include "provider/account.h"
#include "provider/cmd.h"
#include "provider/config.h"

#define TRANSFER_MARKET_MS 10000

static int
transfer(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "to", required_argument, NULL, 't' },
		{ "denom", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		CMD_OPTS_END,
	};
	const char *data = cmd_data_dir(), *to = NULL, *denom = NULL;
	json_t *t = NULL;
	int64_t amount;
	int ch, as_json = 0, rc;

	while ((ch = cmd_getopt(c, argc, argv, "h", opts, &rc)) != -1) {
		if (ch == CMD_DONE)
			return rc;
		if (ch == 'd')
			data = optarg;
		else if (ch == 't')
			to = optarg;
		else if (ch == 'D')
			denom = optarg;
		else if (ch == 'j')
			as_json = 1;
	}
	if (to == NULL || argc - optind != 1)
		return cmd_misuse(c);
	if (util_parse_i64(argv[optind], "AMOUNT", &amount) < 0)
		return cmd_fail(CMD_USAGE);
	if (provider_transfer(data, to, amount, denom, TRANSFER_MARKET_MS, &t) <
	    0)
		return cmd_fail(CMD_FAIL);
	if (as_json) {
		rc = cmd_print_json(t);
		json_decref(t);
		return rc;
	}
	printf("transferred %lld %s to %s (ledger index %lld); %lld %s left\n",
	    (long long)json_integer_value(json_object_get(t, "amount")),
	    json_string_value(json_object_get(t, "denom")), to,
	    (long long)json_integer_value(json_object_get(t, "index")),
	    (long long)json_integer_value(json_object_get(t, "balance")),
	    json_string_value(json_object_get(t, "denom")));
	json_decref(t);
	return CMD_OK;
}

const struct cmd cmd_transfer = {
	.group = "transfer",
	.run = transfer,
	.help = "move earnings to another key",
	.usage = "usage: provider transfer --to KEY AMOUNT [--denom D] "
	         "[--data DIR] [--json]\n"
	         "Sign an account.transfer of AMOUNT micro-units from this "
	         "provider's balance\n"
	         "to KEY (ed25519:...).  The bond is not part of the balance; "
	         "the transfer's\n"
	         "fee is paid on top.\n"
	         "  --to KEY    the account to credit\n"
	         "  --denom D   the denomination (default: the market's "
	         "first)\n"
	         "  --data DIR  data dir (default $LODGE_PROVIDER_DATA "
	         "or " PROVIDER_DATA_DEFAULT ")\n"
	         "  --json      the outcome as JSON\n",
};
