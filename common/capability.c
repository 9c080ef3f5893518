/*
 * capability: the table of the deployment networks' capabilities
 * (common/capability.h).
 */
#include <string.h>

#include "common/capability.h"

static const struct {
	const char *name, *what;
} table[CAPABILITY_COUNT] = {
	[CAPABILITY_EGRESS] = { "egress",
	    "outbound traffic from the leases (`provider init --net on`, "
	    "not `--egress off`)" },
	[CAPABILITY_NETWORK] = { "network",
	    "a private network per deployment, its services reaching each "
	    "other by name (`provider init --net on`)" },
	[CAPABILITY_PORTS] = { "ports",
	    "host ports forwarded to global exposes that are not TCP as 80 "
	    "(`provider init --net on`)" },
};

const char *
capability_name(enum capability c)
{
	return c < CAPABILITY_COUNT ? table[c].name : "?";
}

const char *
capability_what(enum capability c)
{
	return c < CAPABILITY_COUNT ? table[c].what : "?";
}

int
capability_from_name(const char *name)
{
	for (int i = 0; i < CAPABILITY_COUNT; i++)
		if (strcmp(name, table[i].name) == 0)
			return i;
	return -1;
}
