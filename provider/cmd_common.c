/*
 * cmd_common: option handling, reporting and printing for every provider
 * command (see cmd.h).
 */
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "provider/cmd.h"
#include "provider/config.h"

int
cmd_getopt(const struct cmd *c, int argc, char **argv, const char *shortopts,
    const struct option *longopts, int *status)
{
	int ch = getopt_long(argc, argv, shortopts, longopts, NULL);

	if (ch == 'h') {
		cmd_usage(c, stdout);
		*status = CMD_OK;
		return CMD_DONE;
	}
	if (ch == '?' || ch == ':') {
		*status = cmd_misuse(c);
		return CMD_DONE;
	}
	return ch;
}

void
cmd_usage(const struct cmd *c, FILE *f)
{
	fputs(c->usage, f);
}

int
cmd_misuse(const struct cmd *c)
{
	cmd_usage(c, stderr);
	return CMD_USAGE;
}

int
cmd_fail(int status)
{
	if (err_msg()[0] != '\0')
		fprintf(stderr, "provider: %s\n", err_msg());
	return status;
}

int
cmd_parse_id_base(const char *s, uint64_t *out)
{
	int rc;

	if ((rc = util_parse_u64(s, "--id-base", out)) < 0)
		return rc;
	if (*out == 0 || *out + 65536 > 0xffffffffull)
		return err_set(ERR_RANGE,
		    "--id-base: %s leaves no range of 65536 host ids", s);
	return 0;
}

const char *
cmd_data_dir(void)
{
	const char *d = getenv("LODGE_PROVIDER_DATA");

	return d && *d ? d : PROVIDER_DATA_DEFAULT;
}

int
cmd_data_json_opts(const struct cmd *c, int argc, char **argv,
    const char **data, int *as_json, int *status)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		CMD_OPTS_END,
	};
	int ch;

	*data = cmd_data_dir();
	*as_json = 0;
	while ((ch = cmd_getopt(c, argc, argv, "h", opts, status)) != -1) {
		if (ch == CMD_DONE)
			return CMD_DONE;
		if (ch == 'd')
			*data = optarg;
		else if (ch == 'j')
			*as_json = 1;
	}
	return 0;
}

int
cmd_print_json(const json_t *j)
{
	char *t = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (t == NULL) {
		(void)err_set(ERR_NOMEM, "out of memory");
		return CMD_FAIL;
	}
	printf("%s\n", t);
	free(t);
	return CMD_OK;
}

void
cmd_on_signals(void (*handler)(int), const int *sigs)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	for (; *sigs != 0; sigs++)
		sigaction(*sigs, &sa, NULL);
}

const char *
cmd_front_binary(char *buf, size_t len)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL ||
	    strcmp(slash + 1, "provider-full") != 0)
		return NULL;
	*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/provider", self) >= len ||
	    access(buf, X_OK) != 0)
		return NULL;
	return buf;
}
