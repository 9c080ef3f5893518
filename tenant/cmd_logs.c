/*
 * cmd_logs: `tenant logs LEASE [-f]`, the workload's logs from its
 * provider, copied to stdout as they come (tenant_lease_logs,
 * tenant/view.h).
 */
#include <stdio.h>

#include "tenant/cmd.h"
#include "tenant/view.h"

const char cmd_logs_help[] =
    "usage: tenant logs LEASE [-f] [--market URL]\n"
    "Print the lease's logs from its provider; -f follows them.\n";

static int
write_chunk(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	if (fwrite(data, 1, len, stdout) != len)
		return 1;
	fflush(stdout);
	return 0;
}

int
cmd_logs(const struct cmd_opts *o, int argc, char **argv)
{
	struct tenant_paths p;
	struct tenant_client c;
	int rc;

	if (argc != 1)
		return cmd_usage(cmd_logs_help);
	if ((rc = cmd_open_client(o, &p, &c)) != EXIT_OK)
		return rc;
	if (tenant_lease_logs(&c, argv[0], o->follow, write_chunk, NULL))
		rc = cmd_fail("logs");
	tenant_client_clear(&c);
	return rc;
}
