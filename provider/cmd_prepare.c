/*
 * cmd_prepare: `provider prepare git|fetch|wasm`, one preparation step of
 * a lease as the daemon runs it in a child process (provider/job.h), or
 * as the owner may run it by hand to fill the cache.  Prints the path it
 * made on stdout; a failure is the usual "provider: MESSAGE" line last
 * on stderr (the daemon passes that line on to the tenant, and logs the
 * rest).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "provider/artifact.h"
#include "provider/cmd.h"
#include "provider/config.h"
#include "provider/netpolicy.h"
#include "sandbox/sandbox.h"
#include "wasm/pool.h"

struct prep_opts {
	const char *data;
	int local; /* --local: file:// and any address (the owner's) */
	uint64_t memory_bytes; /* wasm: --memory */
};

/* Options, then exactly nops operands.  CMD_DONE with *status, or 0. */
static int
parse(const struct cmd *c, int argc, char **argv, struct prep_opts *o, int nops,
    int *status)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "local", no_argument, NULL, 'L' },
		{ "memory", required_argument, NULL, 'm' },
		CMD_OPTS_END,
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->data = cmd_data_dir();
	while ((ch = cmd_getopt(c, argc, argv, "h", opts, status)) != -1) {
		if (ch == CMD_DONE)
			return CMD_DONE;
		if (ch == 'd')
			o->data = optarg;
		else if (ch == 'L')
			o->local = 1;
		else if (ch == 'm' &&
		    sandbox_parse_size(optarg, "--memory", &o->memory_bytes) <
		        0) {
			*status = cmd_fail(CMD_USAGE);
			return CMD_DONE;
		}
	}
	if (argc - optind != nops) {
		*status = cmd_misuse(c);
		return CMD_DONE;
	}
	return 0;
}

/* The data dir's config, cache and policy. */
static int
open_data(const struct prep_opts *o, struct provider_config *cfg,
    struct artifact_cache *cache, struct netpolicy *pol)
{
	char path[PATH_MAX];
	int rc;

	config_init(cfg);
	snprintf(path, sizeof(path), "%.4000s/provider.json", o->data);
	if ((rc = config_load(path, cfg)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%.4000s/cache", o->data);
	if ((rc = artifact_cache_init(cache, path, cfg->artifact_max_bytes)) <
	    0)
		return rc;
	if ((rc = netpolicy_init(pol, cfg->fetch_allow)) < 0)
		return rc;
	pol->local = o->local;
	return 0;
}

/* git and fetch: an artifact into the cache. */
static int
artifact_main(const struct cmd *c, int argc, char **argv, int git)
{
	struct prep_opts o;
	struct provider_config cfg;
	struct artifact_cache cache;
	struct netpolicy pol;
	char *path = NULL;
	int status, rc;

	log_set_name("provider prepare");
	memset(&pol, 0, sizeof(pol));
	if (parse(c, argc, argv, &o, 2, &status) == CMD_DONE)
		return status;
	if ((rc = open_data(&o, &cfg, &cache, &pol)) == 0)
		rc = git ? artifact_git(&cache, &pol, argv[optind],
		               argv[optind + 1], &path) :
		           artifact_fetch_url(&cache, &pol, argv[optind],
		               argv[optind + 1], &path);
	if (rc == 0)
		printf("%s\n", path);
	free(path);
	netpolicy_clear(&pol);
	config_clear(&cfg);
	return rc < 0 ? cmd_fail(CMD_FAIL) : CMD_OK;
}

static int
git_main(const struct cmd *c, int argc, char **argv)
{
	return artifact_main(c, argc, argv, 1);
}

static int
fetch_main(const struct cmd *c, int argc, char **argv)
{
	return artifact_main(c, argc, argv, 0);
}

static int
wasm_main(const struct cmd *c, int argc, char **argv)
{
	struct prep_opts o;
	char root[PATH_MAX], front[PATH_MAX], *app = NULL;
	int status, rc;

	log_set_name("provider prepare");
	if (parse(c, argc, argv, &o, 1, &status) == CMD_DONE)
		return status;
	snprintf(root, sizeof(root), "%.4000s/cache/wasm-app", o.data);
	/* The sandbox gets the front (`provider wasm serve` runs there
	 * without loading libcurl, libgit2...), this binary without one. */
	if ((rc = wasm_app_prepare(argv[optind], root,
	         cmd_front_binary(front, sizeof(front)), o.memory_bytes,
	         &app)) < 0)
		return cmd_fail(CMD_FAIL);
	printf("%s\n", app);
	free(app);
	return CMD_OK;
}

const struct cmd cmd_prepare_git = {
	.group = "prepare",
	.name = "git",
	.run = git_main,
	.help = "clone a git+ image's commit into the cache",
	.usage = "usage: provider prepare git [--data DIR] [--local] URL "
	         "COMMIT\n"
	         "Clone URL and check out COMMIT (40 hex) into "
	         "DIR/cache/git/COMMIT, as\n"
	         "the daemon does for a git+ image: https only (http to the "
	         "hosts of\n"
	         "--allow-fetch), no private or own address; print the "
	         "directory.\n"
	         "  --data DIR   data dir (default $LODGE_PROVIDER_DATA or "
	         "" PROVIDER_DATA_DEFAULT ")\n"
	         "  --local      the owner's own use: file:// and any address "
	         "allowed\n",
};

const struct cmd cmd_prepare_fetch = {
	.group = "prepare",
	.name = "fetch",
	.run = fetch_main,
	.help = "fetch a wasm+https module into the cache",
	.usage = "usage: provider prepare fetch [--data DIR] [--local] URL "
	         "SHA256\n"
	         "Fetch URL into DIR/cache/sha256/SHA256 if its bytes hash to "
	         "SHA256,\n"
	         "under the same rules as prepare git; print the file's "
	         "path.\n"
	         "  --data DIR   data dir (default $LODGE_PROVIDER_DATA or "
	         "" PROVIDER_DATA_DEFAULT ")\n"
	         "  --local      the owner's own use: file:// and any address "
	         "allowed\n",
};

const struct cmd cmd_prepare_wasm = {
	.group = "prepare",
	.name = "wasm",
	.run = wasm_main,
	.help = "compile a wasm module into its app dir",
	.usage = "usage: provider prepare wasm [--data DIR] [--memory SIZE] "
	         "MODULE\n"
	         "Make MODULE's app dir DIR/cache/wasm-app/SHA256 (module, "
	         "the provider's front binary,\n"
	         "the module compiled with fuel): what a wasm lease's sandbox "
	         "runs; print\n"
	         "the directory.\n"
	         "  --data DIR     data dir (default $LODGE_PROVIDER_DATA or "
	         "" PROVIDER_DATA_DEFAULT ")\n"
	         "  --memory SIZE  the lease's memory: a module declaring more "
	         "is refused\n",
};
