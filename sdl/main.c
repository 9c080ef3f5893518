/*
 * sdl: the command-line tool over libsdl.  check, manifest, hash, orders,
 * and akash groups / akash manifest (Akash's own JSON, for parity checks).
 * Exit 0 on success, 1 on invalid SDL, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "sdl/sdl.h"

enum { EXIT_OK = 0, EXIT_INVALID = 1, EXIT_USAGE = 2 };

static const char usage[] =
    "usage: sdl <command> [args]\n"
    "\n"
    "  check [--strict] [--akash-go] FILE...\n"
    "                         validate SDL files; errors and warnings on "
    "stderr\n"
    "  manifest FILE          print Lodge's canonical manifest (JSON)\n"
    "  hash FILE              print the manifest hash (SHA-256, hex)\n"
    "  orders FILE            print the market orders (JSON array)\n"
    "  akash groups FILE      print Akash's deployment group specs\n"
    "  akash manifest FILE    print Akash's manifest\n"
    "\n"
    "Each command takes --help.  Exit status: 0 ok, 1 invalid SDL,\n"
    "2 usage error.\n";

static const struct {
	const char *name;
	const char *help;
} helps[] = {
	{ "check",
	    "usage: sdl check [--strict] [--akash-go] FILE...\n"
	    "Parse and validate each SDL file (\"-\" is stdin).  Every error "
	    "is printed\non stderr as FILE:LINE:COL: PATH: MESSAGE, every "
	    "warning as\nFILE:LINE:COL: PATH: warning: MESSAGE.  Exit 0 when "
	    "all files are valid\n(warnings or not), 1 otherwise.\n"
	    "By default a file is valid when Akash's Go parser accepts it and "
	    "Lodge\ncan honour all of it; what only Akash's input schema "
	    "refuses is a warning.\n--strict: Akash's schema findings are "
	    "errors.\n--akash-go: Akash's rules only, without Lodge's refusals "
	    "of what it\ncannot honour (signedBy keys, GPU vendors, images): "
	    "would Akash accept it?\n" },
	{ "manifest",
	    "usage: sdl manifest FILE\n"
	    "Print the canonical manifest of FILE: canonical JSON (sorted "
	    "keys, no\nspaces, integers only) of the normalised "
	    "deployment.\n" },
	{ "hash",
	    "usage: sdl hash FILE\n"
	    "Print the SHA-256 of the canonical manifest bytes, in hex.\n" },
	{ "orders",
	    "usage: sdl orders FILE\n"
	    "Print the orders the market will see, one per placement group, "
	    "as a\nJSON array (resources, attributes, signedBy, denom, "
	    "max_price, runtimes,\nmanifest_hash).\n" },
	{ "akash",
	    "usage: sdl akash groups FILE\n"
	    "       sdl akash manifest FILE\n"
	    "Print Akash's DeploymentGroups() or Manifest() JSON for FILE, as "
	    "Akash's\nGo SDL package encodes them.\n" },
};

static int
help_for(const char *cmd, FILE *f)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (!strcmp(helps[i].name, cmd)) {
			fputs(helps[i].help, f);
			return 1;
		}
	return 0;
}

static bool
wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* Parse path; its warnings (and errors, when it is refused) on
 * stderr. */
static int
load(const char *path, unsigned flags, struct sdl_deployment **d)
{
	struct sdl_errors errs = { 0 };
	int rc = sdl_parse_file_flags(path, flags, d, &errs);

	for (size_t i = 0; i < errs.nwarnings; i++)
		fprintf(stderr, "%s\n", errs.warnings[i]);
	if (errs.wdropped)
		fprintf(stderr, "%s: ... and %zu more warnings\n", path,
		    errs.wdropped);
	if (rc) {
		for (size_t i = 0; i < errs.count; i++)
			fprintf(stderr, "%s\n", errs.items[i]);
		if (errs.dropped)
			fprintf(stderr, "%s: ... and %zu more errors\n", path,
			    errs.dropped);
		if (errs.count == 0)
			fprintf(stderr, "sdl: %s\n", err_msg());
	}
	sdl_errors_free(&errs);
	return rc;
}

static int
print_json(json_t *v, bool pretty)
{
	char *s = NULL;
	size_t len;

	if (pretty) {
		s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (!s)
			return ERR_NOMEM;
		puts(s);
		free(s);
		return 0;
	}
	if (cjson_dump(v, &s, &len))
		return ERR_INVAL;
	fwrite(s, 1, len, stdout);
	fputc('\n', stdout);
	free(s);
	return 0;
}

static int
cmd_check(int argc, char **argv)
{
	int status = EXIT_OK;
	unsigned flags = 0;

	for (; argc > 0 && !strncmp(argv[0], "--", 2); argc--, argv++) {
		if (!strcmp(argv[0], "--akash-go")) {
			flags |= SDL_PARSE_AKASH_GO;
		} else if (!strcmp(argv[0], "--strict")) {
			flags |= SDL_PARSE_STRICT;
		} else {
			fprintf(stderr,
			    "sdl: check: unknown option \"%s\"\n\n%s", argv[0],
			    helps[0].help);
			return EXIT_USAGE;
		}
	}
	if (argc < 1) {
		fputs(helps[0].help, stderr);
		return EXIT_USAGE;
	}
	for (int i = 0; i < argc; i++) {
		struct sdl_deployment *d = NULL;
		if (load(argv[i], flags, &d))
			status = EXIT_INVALID;
		sdl_deployment_free(d);
	}
	return status;
}

static int
cmd_one(const char *cmd, int argc, char **argv)
{
	struct sdl_deployment *d = NULL;
	json_t *v = NULL;
	int rc, status = EXIT_OK;

	if (argc != 1) {
		help_for(strncmp(cmd, "akash-", 6) ? cmd : "akash", stderr);
		return EXIT_USAGE;
	}
	if (load(argv[0], strncmp(cmd, "akash-", 6) ? 0 : SDL_PARSE_AKASH_GO,
	        &d))
		return EXIT_INVALID;
	if (!strcmp(cmd, "hash")) {
		uint8_t h[32];
		char hex[65];
		if ((rc = sdl_manifest_hash(d, h)) == 0) {
			hex_encode(h, 32, hex);
			puts(hex);
		}
	} else if (!strcmp(cmd, "manifest")) {
		if ((rc = sdl_manifest_json(d, &v)) == 0)
			rc = print_json(v, false);
	} else if (!strcmp(cmd, "orders")) {
		if ((rc = sdl_orders_json(d, &v)) == 0)
			rc = print_json(v, false);
	} else if (!strcmp(cmd, "akash-groups")) {
		if ((rc = sdl_akash_groups_json(d, &v)) == 0)
			rc = print_json(v, true);
	} else {
		if ((rc = sdl_akash_manifest_json(d, &v)) == 0)
			rc = print_json(v, true);
	}
	if (rc) {
		fprintf(stderr, "sdl: %s: %s\n", argv[0], err_msg());
		status = EXIT_INVALID;
	}
	json_decref(v);
	sdl_deployment_free(d);
	return status;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "akash")) {
		if (argc < 3 || wants_help(argc - 2, argv + 2) ||
		    (strcmp(argv[2], "groups") &&
		        strcmp(argv[2], "manifest"))) {
			bool h = wants_help(argc - 2, argv + 2);
			help_for("akash", h ? stdout : stderr);
			return h ? EXIT_OK : EXIT_USAGE;
		}
		return cmd_one(strcmp(argv[2], "groups") ? "akash-manifest" :
		                                           "akash-groups",
		    argc - 3, argv + 3);
	}
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
		if (strcmp(helps[i].name, cmd))
			continue;
		if (wants_help(argc - 2, argv + 2)) {
			fputs(helps[i].help, stdout);
			return EXIT_OK;
		}
		if (!strcmp(cmd, "check"))
			return cmd_check(argc - 2, argv + 2);
		return cmd_one(cmd, argc - 2, argv + 2);
	}
	fprintf(stderr, "sdl: unknown command \"%s\"\n\n%s", cmd, usage);
	return EXIT_USAGE;
}
