/*
 * capability: the names of what a provider can do beyond CPU, memory and
 * disk that deployment networks bring (issue 15): an ask's
 * "capabilities" lists those it offers, an order's those its SDL needs,
 * and the market matches an order only to a provider offering all of
 * them (docs/state.md, "Matching"; docs/sandbox.md, "Networking in the
 * provider").  Storage classes, GPUs and IP endpoints are capabilities
 * too ("storage/CLASS", "gpu", "ip"), named where volumes are made.
 */
#ifndef LODGE_COMMON_CAPABILITY_H
#define LODGE_COMMON_CAPABILITY_H

/* In the names' sorted order (an order's list is sorted). */
enum capability {
	CAPABILITY_EGRESS, /* outbound traffic from the leases */
	CAPABILITY_NETWORK, /* a private network per deployment: services
	                       reach each other by name */
	CAPABILITY_PORTS, /* host ports forwarded to global exposes that
	                       are not TCP as 80 */
	CAPABILITY_COUNT
};

/* "egress", "network", "ports". */
const char *capability_name(enum capability c);

/* What it is and how a provider offers it, for messages. */
const char *capability_what(enum capability c);

/* The capability named name, or -1. */
int capability_from_name(const char *name);

#endif
