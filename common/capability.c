/*
 * capability: the table of provider capabilities and their attribute
 * names (common/capability.h).
 */
#include <string.h>

#include "common/capability.h"

static const struct {
	const char *name, *attr, *what;
} table[CAPABILITY_COUNT] = {
	[CAPABILITY_NETWORK] = { "network", CAPABILITY_PREFIX "network",
	    "a private network per deployment, services reaching each other "
	    "by name (`provider init --net on`)" },
	[CAPABILITY_EGRESS] = { "egress", CAPABILITY_PREFIX "egress",
	    "outbound traffic from the leases (`provider init --net on`, "
	    "not `--egress off`)" },
	[CAPABILITY_PORTS] = { "ports", CAPABILITY_PREFIX "ports",
	    "host ports forwarded to global exposes that are not HTTP on 80 "
	    "(`provider init --net on`)" },
};

const char *
capability_name(enum capability c)
{
	return c < CAPABILITY_COUNT ? table[c].name : "?";
}

const char *
capability_attr(enum capability c)
{
	return c < CAPABILITY_COUNT ? table[c].attr : "?";
}

const char *
capability_what(enum capability c)
{
	return c < CAPABILITY_COUNT ? table[c].what : "?";
}

int
capability_from_attr(const char *key)
{
	for (int i = 0; i < CAPABILITY_COUNT; i++)
		if (strcmp(key, table[i].attr) == 0)
			return i;
	return -1;
}
