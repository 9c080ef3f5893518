/*
 * netpolicy: which URLs and addresses a tenant's fetch may reach (see
 * netpolicy.h).  The ranges are IANA's IPv4 and IPv6 special-purpose
 * address registries (RFC 6890 and its updates); URLs are parsed by
 * libcurl's own parser (curl_url), the one that will fetch them.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/err.h"
#include "provider/netpolicy.h"

int
netpolicy_allow(struct netpolicy *p, const char *hostport)
{
	char **na, *d;
	size_t i;

	if ((d = strdup(hostport)) == NULL ||
	    (na = realloc(p->allow, (p->nallow + 1) * sizeof(*na))) == NULL) {
		free(d);
		return err_set(ERR_NOMEM, "out of memory");
	}
	for (i = 0; d[i]; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] - 'A' + 'a');
	p->allow = na;
	p->allow[p->nallow++] = d;
	return 0;
}

int
netpolicy_add_own(struct netpolicy *p, const struct sockaddr *sa)
{
	struct sockaddr_storage *no;
	size_t len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
	                                        sizeof(struct sockaddr_in6);

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return 0;
	if ((no = realloc(p->own, (p->nown + 1) * sizeof(*no))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	p->own = no;
	memset(&p->own[p->nown], 0, sizeof(p->own[0]));
	memcpy(&p->own[p->nown], sa, len);
	p->nown++;
	return 0;
}

int
netpolicy_init(struct netpolicy *p, const json_t *allow)
{
	struct ifaddrs *ifs = NULL, *i;
	const json_t *v;
	size_t k;
	int rc;

	memset(p, 0, sizeof(*p));
	json_array_foreach(allow, k, v)
	{
		if (json_is_string(v) &&
		    (rc = netpolicy_allow(p, json_string_value(v))) < 0)
			goto fail;
	}
	if (getifaddrs(&ifs) < 0) {
		rc = err_set(ERR_IO, "getifaddrs: %m");
		goto fail;
	}
	for (i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && (rc = netpolicy_add_own(p, i->ifa_addr)) < 0)
			goto fail;
	freeifaddrs(ifs);
	return 0;
fail:
	if (ifs)
		freeifaddrs(ifs);
	netpolicy_clear(p);
	return rc;
}

void
netpolicy_clear(struct netpolicy *p)
{
	size_t i;

	for (i = 0; i < p->nallow; i++)
		free(p->allow[i]);
	free(p->allow);
	free(p->own);
	memset(p, 0, sizeof(*p));
}

/* The class of an IPv4 address (host order), or NULL when public. */
static const char *
v4_class(uint32_t a)
{
	static const struct {
		uint32_t net, mask;
		const char *what;
	} r[] = {
		{ 0x00000000, 0xff000000, "unspecified (\"this network\")" },
		{ 0x0a000000, 0xff000000, "private" },
		{ 0x64400000, 0xffc00000, "shared address space (CGNAT)" },
		{ 0x7f000000, 0xff000000, "loopback" },
		{ 0xa9fe0000, 0xffff0000, "link-local" },
		{ 0xac100000, 0xfff00000, "private" },
		{ 0xc0000000, 0xffffff00, "reserved (IETF protocol)" },
		{ 0xc0000200, 0xffffff00, "documentation" },
		{ 0xc0586300, 0xffffff00, "reserved (6to4 relay)" },
		{ 0xc0a80000, 0xffff0000, "private" },
		{ 0xc6120000, 0xfffe0000, "reserved (benchmarking)" },
		{ 0xc6336400, 0xffffff00, "documentation" },
		{ 0xcb007100, 0xffffff00, "documentation" },
		{ 0xe0000000, 0xf0000000, "multicast" },
		{ 0xf0000000, 0xf0000000, "reserved" },
	};
	size_t i;

	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if ((a & r[i].mask) == r[i].net)
			return r[i].what;
	return NULL;
}

static uint32_t
be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Do the first bits of a match prefix p? */
static int
prefix(const uint8_t *a, const uint8_t *p, unsigned bits)
{
	unsigned i;

	for (i = 0; i < bits / 8; i++)
		if (a[i] != p[i])
			return 0;
	if (bits % 8) {
		uint8_t m = (uint8_t)(0xff << (8 - bits % 8));
		if ((a[i] & m) != (p[i] & m))
			return 0;
	}
	return 1;
}

static const char *
v6_class(const uint8_t *a)
{
	static const uint8_t zero[16] = { 0 };
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
		0xff };
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b };
	static const uint8_t nat64_local[6] = { 0, 0x64, 0xff, 0x9b, 0, 1 };
	static const struct {
		uint8_t p[4];
		unsigned bits;
		const char *what;
	} r[] = {
		{ { 0x01, 0x00 }, 64, "reserved (discard)" },
		{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, "documentation" },
		{ { 0x20, 0x01, 0x00, 0x00 }, 32, "reserved (Teredo)" },
		{ { 0x20, 0x01, 0x00, 0x00 }, 23, "reserved (IETF protocol)" },
		{ { 0x3f, 0xff }, 20, "documentation" },
		{ { 0x5f, 0x00 }, 16, "reserved (segment routing)" },
		{ { 0xfc, 0x00 }, 7, "private (unique local)" },
		{ { 0xfe, 0x80 }, 10, "link-local" },
		{ { 0xfe, 0xc0 }, 10, "private (site-local)" },
		{ { 0xff, 0x00 }, 8, "multicast" },
	};
	size_t i;

	if (memcmp(a, zero, 16) == 0)
		return "unspecified";
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return "loopback";
	/* Addresses that carry an IPv4 one reach it: judge that. */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return v4_class(be32(a + 12));
	if (a[0] == 0x20 && a[1] == 0x02) /* 6to4 */
		return v4_class(be32(a + 2));
	if (memcmp(a, nat64_local, 6) == 0)
		return "private (local NAT64)";
	if (memcmp(a, zero, 12) == 0) /* IPv4-compatible, deprecated */
		return "reserved (IPv4-compatible)";
	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (prefix(a, r[i].p, r[i].bits))
			return r[i].what;
	return NULL;
}

const char *
netpolicy_addr_class(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_class(
		    ntohl(((const struct sockaddr_in *)(const void *)sa)
		              ->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return v6_class(((const struct sockaddr_in6 *)(const void *)sa)
		                    ->sin6_addr.s6_addr);
	return "not an internet address";
}

/* sa's address as 16 bytes (IPv4 mapped into IPv6), for comparison. */
static void
addr16(const struct sockaddr *sa, uint8_t out[16])
{
	memset(out, 0, 16);
	if (sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    4);
	} else if (sa->sa_family == AF_INET6)
		memcpy(out,
		    ((const struct sockaddr_in6 *)(const void *)sa)
		        ->sin6_addr.s6_addr,
		    16);
}

const char *
netpolicy_addr_refused(const struct netpolicy *p, const struct sockaddr *sa)
{
	uint8_t a[16], b[16];
	const char *c;
	size_t i;

	if (p->local)
		return NULL;
	if ((c = netpolicy_addr_class(sa)) != NULL)
		return c;
	addr16(sa, a);
	for (i = 0; i < p->nown; i++) {
		addr16((const struct sockaddr *)&p->own[i], b);
		if (memcmp(a, b, 16) == 0)
			return "this provider's own address";
	}
	return NULL;
}

void
netpolicy_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL ||
	    inet_ntop(sa->sa_family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

/* Is host:port (host lower case, IPv6 in brackets) on the allow list? */
static int
allowed(const struct netpolicy *p, const char *host, const char *port)
{
	size_t i, n = strlen(host);

	for (i = 0; i < p->nallow; i++) {
		const char *e = p->allow[i];
		if (strncmp(e, host, n) != 0)
			continue;
		if (e[n] == '\0' ||
		    (e[n] == ':' && strcmp(e + n + 1, port) == 0))
			return 1;
	}
	return 0;
}

int
netpolicy_check_url(const struct netpolicy *p, const char *url, int *trusted)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *q;
	int rc = 0;

	*trusted = 0;
	if (u == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		rc = err_set(ERR_REJECT, "%.200s: not a URL", url);
		goto out;
	}
	if (strcmp(scheme, "file") == 0) {
		if (!p->local)
			rc = err_set(ERR_REJECT,
			    "%.200s: file:// URLs are refused (only https://, "
			    "or http:// to a host this provider allows)",
			    url);
		else
			*trusted = 1;
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		rc = err_set(ERR_REJECT,
		    "%.200s: %s:// is refused (only https://, or http:// to a "
		    "host this provider allows)",
		    url, scheme);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	        CURLUE_OK) {
		rc = err_set(ERR_REJECT, "%.200s: no host", url);
		goto out;
	}
	for (q = host; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	*trusted = p->local || allowed(p, host, port);
	if (strcmp(scheme, "http") == 0 && !*trusted)
		rc = err_set(ERR_REJECT,
		    "%.200s: plain http:// is refused for host %s (only "
		    "https://, or http:// to a host this provider allows)",
		    url, host);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}
