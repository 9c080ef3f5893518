/*
 * fuzz_netvol: the parsers of sandbox/net and sandbox/volume that see
 * configuration and SDL text.  Each line of the input goes through
 * net_cidr_parse (a block parsed prints and parses back the same),
 * volume_check_path (an accepted path is absolute with no "." or ".."
 * component) and volume_kind_of; the blocks parsed, alternately as allow
 * and deny lists, through net_policy_compile (its ranges are sorted,
 * disjoint and not adjacent; the first block, as "always", is denied).
 * Built by `make BUILD=fuzz fuzzers`; seeds in tests/fuzz/corpus/netvol/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "sandbox/net.h"
#include "sandbox/volume.h"

#define MAX_BLOCKS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_cidr(const char *line, struct net_cidr *c)
{
	struct net_cidr back;
	char text[32];

	if (c->prefix > 32 ||
	    (c->prefix < 32 && (c->addr & (0xffffffffu >> c->prefix))))
		abort();
	snprintf(text, sizeof(text), "%u.%u.%u.%u/%u", c->addr >> 24,
	    (c->addr >> 16) & 255, (c->addr >> 8) & 255, c->addr & 255,
	    c->prefix);
	if (net_cidr_parse(text, "again", &back) != 0 || back.addr != c->addr ||
	    back.prefix != c->prefix) {
		fprintf(stderr, "%s -> %s does not parse back\n", line, text);
		abort();
	}
}

static void
check_path(const char *p)
{
	if (p[0] != '/')
		abort();
	for (const char *s = p; *s;) {
		const char *e;
		while (*s == '/')
			s++;
		e = s + strcspn(s, "/");
		if ((e - s == 1 && s[0] == '.') ||
		    (e - s == 2 && s[0] == '.' && s[1] == '.'))
			abort();
		s = e;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_cidr allow[MAX_BLOCKS], deny[MAX_BLOCKS], always;
	size_t nallow = 0, ndeny = 0, nblocks = 0;
	char *text = malloc(size + 1), *save = NULL;
	struct net_policy p;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct net_cidr c;
		enum volume_kind k;
		if (net_cidr_parse(line, "fuzz", &c) == 0) {
			check_cidr(line, &c);
			if (nblocks == 0)
				always = c;
			else if (nblocks % 2 && nallow < MAX_BLOCKS)
				allow[nallow++] = c;
			else if (ndeny < MAX_BLOCKS)
				deny[ndeny++] = c;
			nblocks++;
		}
		if (volume_check_path(line, "fuzz") == 0)
			check_path(line);
		(void)volume_kind_of(line, line[0] & 1, "fuzz", &k);
	}
	if (net_policy_compile(allow, nallow, deny, ndeny, &always,
	        nblocks ? 1 : 0, &p) == 0) {
		for (size_t i = 0; i < p.n; i++)
			if (p.deny[i].first > p.deny[i].last ||
			    (i &&
			        (uint64_t)p.deny[i - 1].last + 1 >=
			            p.deny[i].first))
				abort();
		if (nblocks && !net_policy_denies(&p, always.addr))
			abort();
		net_policy_free(&p);
	}
	err_clear();
	free(text);
	return 0;
}
