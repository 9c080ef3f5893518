/*
 * capability: what a provider can do beyond CPU, memory and disk, as
 * Akash names them: placement attributes "capabilities/NAME" = "true".
 * A provider advertises those it offers; an order carries those its SDL
 * needs, so the market's attribute matching refuses a provider without
 * them (docs/sandbox.md, "Capabilities").
 */
#ifndef LODGE_COMMON_CAPABILITY_H
#define LODGE_COMMON_CAPABILITY_H

#include <stddef.h>

#define CAPABILITY_PREFIX "capabilities/"
#define CAPABILITY_VALUE "true"

/* One row each; add new ones at the end (names are what is advertised). */
enum capability {
	CAPABILITY_NETWORK, /* a private network per deployment: services
	                       reach each other by name */
	CAPABILITY_EGRESS, /* outbound traffic from the leases */
	CAPABILITY_PORTS, /* host ports forwarded to global exposes that
	                       are not HTTP on 80 */
	CAPABILITY_COUNT
};

/* "network", "egress", "ports". */
const char *capability_name(enum capability c);

/* The attribute key: "capabilities/network", ... */
const char *capability_attr(enum capability c);

/* What it is and how a provider offers it, for messages. */
const char *capability_what(enum capability c);

/* The capability whose attribute key is key, or -1. */
int capability_from_attr(const char *key);

#endif
