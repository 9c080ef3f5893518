/*
 * fuzz_netpolicy: arbitrary bytes into what judges a tenant's fetch and
 * what reads the host: netpolicy_check_url (a fixed allow list),
 * config_parse_fetch_allow, sandbox_parse_proc_stat, and the first bytes
 * as IPv4 and IPv6 addresses through netpolicy_addr_class, whose answer
 * for an IPv4-mapped address must be the IPv4 address's.  Built by `make
 * BUILD=fuzz fuzzers`; seeds in tests/fuzz/corpus/netpolicy/.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "provider/config.h"
#include "provider/netpolicy.h"
#include "sandbox/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct netpolicy p;
	static int ready;
	struct provider_config c;
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	const char *c4, *c6;
	char *s, comm[32];
	uint64_t t;
	int trusted, rc;

	if (!ready) {
		memset(&p, 0, sizeof(p));
		if (netpolicy_allow(&p, "git.example.com:8080") < 0 ||
		    netpolicy_allow(&p, "10.0.0.5") < 0)
			abort();
		ready = 1;
	}
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = netpolicy_check_url(&p, s, &trusted);
	/* Never trusted when refused; file:// never passes here. */
	if ((rc < 0 && trusted) || (rc == 0 && strncmp(s, "file:", 5) == 0))
		abort();
	config_init(&c);
	(void)config_parse_fetch_allow(&c, s);
	config_clear(&c);
	(void)sandbox_parse_proc_stat(s, comm, sizeof(comm), &t);
	free(s);
	if (size >= 4) {
		memset(&a4, 0, sizeof(a4));
		a4.sin_family = AF_INET;
		memcpy(&a4.sin_addr, data, 4);
		memset(&a6, 0, sizeof(a6));
		a6.sin6_family = AF_INET6;
		a6.sin6_addr.s6_addr[10] = a6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&a6.sin6_addr.s6_addr[12], data, 4);
		c4 = netpolicy_addr_class((struct sockaddr *)&a4);
		c6 = netpolicy_addr_class((struct sockaddr *)&a6);
		if ((c4 == NULL) != (c6 == NULL) || (c4 && strcmp(c4, c6) != 0))
			abort();
	}
	if (size >= 16) {
		memset(&a6, 0, sizeof(a6));
		a6.sin6_family = AF_INET6;
		memcpy(&a6.sin6_addr, data, 16);
		(void)netpolicy_addr_class((struct sockaddr *)&a6);
	}
	err_clear();
	return 0;
}
