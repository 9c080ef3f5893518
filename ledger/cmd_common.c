/*
 * cmd_common: what the ledger tool's commands share: error and usage
 * messages, the option parser, JSON output (see cmd.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/http.h"
#include "common/util.h"
#include "ledger/cmd.h"
#include "ledger/verify.h"

int
cli_die(const char *what)
{
	fprintf(stderr, "ledger: %s%s%s\n", what ? what : "",
	    what && err_msg()[0] ? ": " : "", err_msg());
	return EXIT_FAIL;
}

int
cli_usage_error(const char *usage, const char *fmt, const char *arg)
{
	fprintf(stderr, "ledger: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	return EXIT_USAGE;
}

int
cli_parse_opts(int argc, char **argv, const char *const *names,
    const char **vals, const char *const *flags, int *set, char **pos,
    int maxpos, int *npos, const char *usage)
{
	int i, j;

	*npos = 0;
	for (i = 0; i < argc; i++) {
		char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			exit(0);
		}
		if (strncmp(a, "--", 2) != 0 || strcmp(a, "-") == 0 ||
		    a[2] == '\0') {
			if (*npos >= maxpos) {
				cli_usage_error(usage,
				    "unexpected argument '%s'", a);
				return -1;
			}
			pos[(*npos)++] = a;
			continue;
		}
		for (j = 0; names && names[j]; j++) {
			size_t n = strlen(names[j]);
			if (strncmp(a + 2, names[j], n) != 0)
				continue;
			if (a[2 + n] == '=') {
				vals[j] = a + 3 + n;
				break;
			}
			if (a[2 + n] == '\0') {
				if (i + 1 >= argc) {
					cli_usage_error(usage,
					    "%s needs a value", a);
					return -1;
				}
				vals[j] = argv[++i];
				break;
			}
		}
		if (names && names[j])
			continue;
		for (j = 0; flags && flags[j]; j++)
			if (strcmp(a + 2, flags[j]) == 0)
				break;
		if (flags && flags[j]) {
			set[j] = 1;
			continue;
		}
		cli_usage_error(usage, "unknown option '%s'", a);
		return -1;
	}
	return 0;
}

int
cli_get_u64(const char *s, const char *what, uint64_t *out)
{
	if (util_parse_u64(s, what, out) < 0) {
		cli_die(NULL);
		return -1;
	}
	return 0;
}

int
cli_print_json(json_t *o)
{
	char *line = NULL;

	if (o == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (cjson_dump(o, &line, NULL) < 0) {
		json_decref(o);
		return ERR_INVAL;
	}
	puts(line);
	free(line);
	json_decref(o);
	return 0;
}

void
cli_print_pretty(const json_t *o)
{
	char *t = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (t)
		puts(t);
	free(t);
}

int
cli_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
cli_load_policy(const char *policy, const char *vkey, struct trust_policy *p)
{
	trust_policy_init(p);
	if (policy && trust_policy_load(p, policy) < 0) {
		err_prefix(ERR_INVAL, "--policy");
		return -1;
	}
	if (vkey) {
		if (verify_vkey_load(vkey, &p->log) < 0) {
			err_prefix(ERR_INVAL, "--vkey");
			return -1;
		}
		p->have_log = 1;
	}
	return 0;
}

int
cli_pin_market(const char *url, const struct trust_policy *p)
{
	uint8_t seen[32];

	if (url == NULL || strncmp(url, "https://", 8) != 0)
		return 0;
	/* Without a log key the checkpoints are checked against the key
	 * the market names itself: the key its TLS certificate holds is
	 * trusted as far (and pinned, so that every request of the run
	 * reaches the same server). */
	if ((p->have_log ? http_pin(url, p->log.pub) :
	            http_peer_key(url, 10000, seen) < 0 ?
	                   -1 :
	                   http_pin(url, seen)) < 0) {
		err_prefix(ERR_INVAL, "--market");
		return -1;
	}
	return 0;
}

int
cli_pin_tiles(const char *url, const struct trust_policy *p)
{
	uint8_t seen[32];

	/* The market's own tiles are served with its self-signed
	 * certificate; a CDN's with a CA's, checked as usual. */
	if (url == NULL || !p->have_log || strncmp(url, "https://", 8) != 0 ||
	    http_peer_key(url, 10000, seen) < 0 ||
	    memcmp(seen, p->log.pub, sizeof(seen)) != 0) {
		err_clear();
		return 0;
	}
	if (http_pin(url, seen) < 0) {
		err_prefix(ERR_INVAL, "--tiles");
		return -1;
	}
	return 0;
}
