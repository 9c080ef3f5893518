/*
 * test_sdl_corpus: the public SDL corpora.  awesome-akash in each mode
 * (every file accepted by default unless Akash's Go parser refuses it or
 * it names Akash auditors; schema-only findings warned by default and
 * refused by --strict; each exception listed with its rule; no false
 * errors), Akash's parity fixtures (group specs and manifest equal as
 * JSON values), its invalid fixtures (rejected for the reason their name
 * gives) and its Go test data (accepted or refused as Akash's tests say).
 * The corpus is read from $LODGE_SHARED/corpus/sdl (default ../shared).
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/cjson.h"
#include "common/err.h"
#include "sdl/sdl.h"

static char corpus[PATH_MAX];

/* snprintf through a function: paths that do not fit are cut, and the
 * compiler's truncation warning does not apply */
static void pathf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static int
setup(void **state)
{
	const char *base = getenv("LODGE_SHARED");

	(void)state;
	pathf(corpus, sizeof(corpus), "%s/corpus/sdl",
	    base && *base ? base : "../shared");
	return 0;
}

/* A file of awesome-akash, the message its error (or warning) must
 * contain, and the rule behind it. */
struct rule {
	const char *file;
	const char *message;
	const char *rule;
};

/* Files Akash's Go parser refuses (so does Lodge, in every mode); the
 * message is Akash's first error. */
static const struct rule go_refused[] = {
	{ "Venice-ElizaOS/deploy.yml", "expected a CPU quantity, found a list",
	    "schema+Go: cpu.units is a number or string" },
	{ "bancor/deploy.yaml", "\"2gi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "bark-small/deploy.yaml", "\"4GB\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "bitbucket/deploy.yaml", "\"4gi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "centrifuge/deploy.yaml", "\"16GB\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "chromadb/deploy.yaml", "\"4Gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "codex/deploy.yml", "max_body_size: 1073741824 is out of range",
	    "schema+Go: http_options.max_body_size <= 104857600" },
	{ "elasticsearch/deploy.yaml", "\"8gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "elasticsearch/deploy_with_kibana.yaml", "\"8gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "ghrunner/deploy.yaml", "\"2gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "gitea/deploy.yaml", "\"1gi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "gitea/deploy_postgres.yaml", "\"1gi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "handshake/deploy.yaml", "\"2GB\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "minio/deploy.yml", "to: expected a list, found a mapping",
	    "schema+Go: expose to is a list" },
	{ "onetimepad/deploy.yaml", "\"512mi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "osmosis-fe/deploy.yaml",
	    "accept: expected a list of strings, found null",
	    "schema+Go: expose accept must be a list" },
	{ "paperclip/deploy.yaml", "\"1gi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "postgres-s3-backup/deploy.yaml", "no service is exposed globally",
	    "Go manifest validation: zero global services" },
	{ "ray/deploy.yaml", "\"10Gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "ray/ray-nightly-py310-gpu.yml", "\"10Gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "tensorflow-jupyter-ezkl/deploy.yaml", "\"256GB\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "uptime-kuma/deploy.yaml", "\"512Mb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
};

/* Files only Akash's input schema refuses: a warning by default (the
 * file is accepted unless it names Akash auditors in signedBy), the first
 * error under SDL_PARSE_STRICT. */
static const struct rule schema_only[] = {
	{ "Redash/Redash Queries/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "Redash/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "big-dipper/deploy.yaml", "unknown field \"depends-on\"",
	    "schema: additionalProperties false (services)" },
	{ "botpress/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "chatchat/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "dolly-v2-12b/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "faster-whisper-cpu/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "faster-whisper-gpu/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "gpt-neo/deploy.yaml", "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "gpustack-worker/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "gpustack/deploy.yaml", "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "langflow/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "matomo/deploy.yaml", "unknown field \"servcie\"",
	    "schema: additionalProperties false (expose to)" },
	{ "n8n/deploy.yml", "unsupported denomination \"ibc/",
	    "schema: pricing denom enum [uakt, uact]" },
	{ "open-webui-gpu/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "packetstream/deploy.yaml", "unknown field \"placement\"",
	    "schema: additionalProperties false (placement)" },
	{ "persistent-storage-performance-testing/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "phoronix/deploy.yaml", "unknown field \"environment\"",
	    "schema: additionalProperties false (services)" },
	{ "postgres-restore/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "privategpt-cpu/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "privategpt-gpu/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "prysm-beacon/deploy.yaml", "unknown field \"placement\"",
	    "schema: additionalProperties false (placement)" },
	{ "qbittorrent/deploy-ssh-tunnel.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "redmine/deploy.yaml", "unknown field \"depends-on\"",
	    "schema: additionalProperties false (services)" },
	{ "supabase/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "tensorflow-webapp-mnist/deploy.yaml", "unknown field \"depends-on\"",
	    "schema: additionalProperties false (services)" },
	{ "torchbench/torchbench_gpu_sdl_cuda11.7.yaml",
	    "unknown field \"cmd\"",
	    "schema: additionalProperties false (services)" },
	{ "whisper-gui-cpu/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "whoogle-search/deploy-ssh-tunnel.yaml",
	    "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "wordpress/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
};

#define NGO (sizeof(go_refused) / sizeof(go_refused[0]))
#define NSCHEMA (sizeof(schema_only) / sizeof(schema_only[0]))

/* What the walk counts, by mode. */
struct walk {
	size_t files;
	size_t go_ok; /* accepted by Akash's Go rules (SDL_PARSE_AKASH_GO) */
	size_t ok; /* accepted by default */
	size_t warned; /* ... of which with warnings */
	size_t auditors; /* refused by default only for Akash auditors */
	size_t strict_ok; /* accepted under SDL_PARSE_STRICT */
	bool seen_go[NGO], seen_schema[NSCHEMA];
	int failures;
};

static size_t
find_rule(const struct rule *list, size_t n, const char *rel)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (!strcmp(list[k].file, rel))
			break;
	return k;
}

/* Every Lodge output, to run all of the code over real files (ASan). */
static void
exercise(const struct sdl_deployment *d, const char *rel, struct walk *w)
{
	json_t *v = NULL;
	uint8_t h[32];
	char *s = NULL;
	size_t len;

	if (sdl_manifest_json(d, &v) || cjson_dump(v, &s, &len) ||
	    sdl_manifest_hash(d, h)) {
		print_error("%s: manifest failed: %s\n", rel, err_msg());
		w->failures++;
	}
	free(s);
	json_decref(v);
	v = NULL;
	if (sdl_orders_json(d, &v) || json_array_size(v) == 0) {
		print_error("%s: orders failed: %s\n", rel, err_msg());
		w->failures++;
	}
	json_decref(v);
	v = NULL;
	if (sdl_akash_groups_json(d, &v)) {
		print_error("%s: akash groups failed\n", rel);
		w->failures++;
	}
	json_decref(v);
	v = NULL;
	if (sdl_akash_manifest_json(d, &v)) {
		print_error("%s: akash manifest failed\n", rel);
		w->failures++;
	}
	json_decref(v);
}

/* The text of warning w as the error --strict would give: without its
 * "warning: " label and from the "; " that says how it was read. */
static char *
as_error(const char *w)
{
	const char *label = strstr(w, ": warning: ");
	char *e, *how;

	if (!label || !(e = malloc(strlen(w) + 1)))
		return NULL;
	memcpy(e, w, (size_t)(label - w) + 2);
	strcpy(e + (label - w) + 2, label + 11);
	if ((how = strstr(e, "; ")) != NULL)
		*how = '\0';
	return e;
}

static bool
has(const struct sdl_errors *e, const char *s, bool warnings)
{
	size_t n = warnings ? e->nwarnings : e->count;

	for (size_t i = 0; i < n; i++) {
		const char *item = warnings ? e->warnings[i] : e->items[i];
		char *x = warnings ? as_error(item) : NULL;
		bool hit =
		    warnings ? x && strstr(x, s) : strstr(item, s) != NULL;
		free(x);
		if (hit)
			return true;
	}
	return false;
}

/* Every error of --strict is one of Akash's Go parser, one of Lodge's
 * refusals, or a default warning: none comes from a part dropped for
 * one stray field. */
static void
no_false_errors(const char *rel, const struct sdl_errors *strict,
    const struct sdl_errors *go, const struct sdl_errors *def, struct walk *w)
{
	for (size_t i = 0; i < strict->count; i++) {
		const char *e = strict->items[i];
		bool known = false;
		for (size_t j = 0; j < go->count && !known; j++)
			known = !strcmp(go->items[j], e);
		for (size_t j = 0; j < def->count && !known; j++)
			known = !strcmp(def->items[j], e);
		for (size_t j = 0; j < def->nwarnings && !known; j++) {
			char *x = as_error(def->warnings[j]);
			known = x && !strcmp(x, e);
			free(x);
		}
		if (!known) {
			print_error("%s: --strict error not found in the other "
			            "modes: %s\n",
			    rel, e);
			w->failures++;
		}
	}
}

/* Refused by default only for naming Akash auditors in signedBy. */
static bool
only_auditors(const struct sdl_errors *e)
{
	for (size_t i = 0; i < e->count; i++)
		if (!strstr(e->items[i], ".signedBy.") ||
		    !strstr(e->items[i],
		        "is an Akash address: Lodge cannot "
		        "see Akash's audits"))
			return false;
	return e->count > 0;
}

static void
check_go_refused(const char *rel, size_t k, const struct sdl_errors *go,
    int def_rc, int strict_rc, struct walk *w)
{
	if (k == NGO) {
		print_error("%s: refused by Akash's Go rules, not listed: "
		            "%s\n",
		    rel, go->count ? go->items[0] : err_msg());
		w->failures++;
	} else if (!go->count || !strstr(go->items[0], go_refused[k].message)) {
		print_error("%s: refused, but not for its listed rule (%s): "
		            "%s\n",
		    rel, go_refused[k].message,
		    go->count ? go->items[0] : err_msg());
		w->failures++;
	} else if (def_rc == 0 || strict_rc == 0) {
		print_error("%s: Akash refuses it, Lodge accepts it\n", rel);
		w->failures++;
	} else {
		w->seen_go[k] = true;
	}
}

/* A file Akash's Go parser accepts, by default and under --strict. */
static void
check_go_accepted(const char *rel, const struct sdl_errors *def, int def_rc,
    const struct sdl_errors *strict, int strict_rc, struct walk *w)
{
	size_t k = find_rule(schema_only, NSCHEMA, rel);

	if (def_rc == 0) {
		w->ok++;
		w->warned += def->nwarnings > 0;
	} else if (only_auditors(def)) {
		w->auditors++;
	} else {
		print_error("%s: refused by default: %s\n", rel,
		    def->count ? def->items[0] : err_msg());
		w->failures++;
	}
	if (strict_rc == 0)
		w->strict_ok++;
	if (k == NSCHEMA) {
		if (strict_rc != 0 && !only_auditors(strict)) {
			print_error("%s: refused under --strict, not listed: "
			            "%s\n",
			    rel, strict->count ? strict->items[0] : err_msg());
			w->failures++;
		}
		if (def->nwarnings) {
			print_error("%s: warned, not listed: %s\n", rel,
			    def->warnings[0]);
			w->failures++;
		}
		return;
	}
	if (strict_rc == 0 || !strict->count ||
	    !strstr(strict->items[0], schema_only[k].message) ||
	    !has(def, schema_only[k].message, true)) {
		print_error("%s: not refused under --strict and warned by "
		            "default for its listed rule (%s)\n",
		    rel, schema_only[k].message);
		w->failures++;
		return;
	}
	w->seen_schema[k] = true;
}

static void
check_file(const char *path, const char *rel, struct walk *w)
{
	struct sdl_deployment *dgo = NULL, *d = NULL, *dstrict = NULL;
	struct sdl_errors go = { 0 }, def = { 0 }, strict = { 0 };
	int go_rc, def_rc, strict_rc;

	w->files++;
	go_rc = sdl_parse_file_flags(path, SDL_PARSE_AKASH_GO, &dgo, &go);
	def_rc = sdl_parse_file(path, &d, &def);
	strict_rc =
	    sdl_parse_file_flags(path, SDL_PARSE_STRICT, &dstrict, &strict);
	if (go_rc) {
		check_go_refused(rel, find_rule(go_refused, NGO, rel), &go,
		    def_rc, strict_rc, w);
	} else {
		w->go_ok++;
		if (find_rule(go_refused, NGO, rel) < NGO) {
			print_error("%s: accepted by Akash's Go rules, listed "
			            "as refused\n",
			    rel);
			w->failures++;
		}
		check_go_accepted(rel, &def, def_rc, &strict, strict_rc, w);
		exercise(dgo, rel, w);
	}
	if (d)
		exercise(d, rel, w);
	no_false_errors(rel, &strict, &go, &def, w);
	sdl_errors_free(&go);
	sdl_errors_free(&def);
	sdl_errors_free(&strict);
	sdl_deployment_free(dgo);
	sdl_deployment_free(d);
	sdl_deployment_free(dstrict);
}

static void
walk_dir(const char *dir, const char *rel, struct walk *w)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char path[PATH_MAX], sub[PATH_MAX];
		struct stat st;
		size_t len = strlen(name);

		if (name[0] == '.') {
			free(ents[i]);
			continue;
		}
		pathf(path, sizeof(path), "%s/%s", dir, name);
		pathf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", name);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			walk_dir(path, sub, w);
		else if ((len > 5 && !strcmp(name + len - 5, ".yaml")) ||
		    (len > 4 && !strcmp(name + len - 4, ".yml")))
			check_file(path, sub, w);
		free(ents[i]);
	}
	free(ents);
}

/*
 * Every file in three modes.  Akash's Go rules refuse exactly the files
 * of go_refused, and Lodge refuses them too.  By default Lodge accepts
 * every other file, warning about the schema-only findings, except those
 * that name Akash auditors in signedBy (Lodge cannot honour them).
 * --strict also refuses exactly the files of schema_only.
 */
static void
test_awesome_akash_by_mode(void **state)
{
	struct walk w;
	char dir[PATH_MAX];

	(void)state;
	memset(&w, 0, sizeof(w));
	pathf(dir, sizeof(dir), "%s/awesome-akash", corpus);
	walk_dir(dir, "", &w);
	for (size_t k = 0; k < NGO && w.failures == 0; k++)
		if (!w.seen_go[k]) {
			print_error("%s: listed as refused by Akash, not "
			            "found\n",
			    go_refused[k].file);
			w.failures++;
		}
	for (size_t k = 0; k < NSCHEMA && w.failures == 0; k++)
		if (!w.seen_schema[k]) {
			print_error("%s: listed as schema-only, not found\n",
			    schema_only[k].file);
			w.failures++;
		}
	print_message("awesome-akash: %zu files; Akash's Go rules accept "
	              "%zu; by default %zu accepted (%zu with warnings), "
	              "%zu refused for Akash auditors in signedBy; --strict "
	              "accepts %zu\n",
	    w.files, w.go_ok, w.ok, w.warned, w.auditors, w.strict_ok);
	assert_int_equal(w.failures, 0);
	assert_int_equal(w.files, 287);
	assert_int_equal(w.go_ok, 287 - NGO);
	assert_int_equal(w.ok + w.auditors, w.go_ok);
	assert_int_equal(w.ok, 126);
	assert_int_equal(w.warned, 9);
	assert_int_equal(w.auditors, 139);
	assert_int_equal(w.strict_ok, 117);
}

/* The cases of issue 15, each on the corpus file that showed it. */
static void
test_awesome_akash_cases(void **state)
{
	static const struct {
		const char *file;
		bool ok; /* accepted by default */
		const char *said; /* in a default warning, or error when !ok */
		const char *never[3]; /* in no error of any mode */
	} cases[] = {
		/* one stray field drops nothing around it */
		{ "Redash/deploy.yaml", true, "unknown field \"depends_on\"",
		    { "no service is exposed globally", "must be mounted",
		        "never used" } },
		{ "wordpress/deploy.yaml", false, "is an Akash address",
		    { "no service is exposed globally", "must be mounted",
		        NULL } },
		{ "matomo/deploy.yaml", false, "is an Akash address",
		    { "no service is exposed globally", NULL, NULL } },
		{ "langflow/deploy.yaml", false, "is an Akash address",
		    { "no compute profile named", NULL, NULL } },
		{ "packetstream/deploy.yaml", false,
		    "ed25519 keys, named \"ed25519:<43 base64url characters>\"",
		    { "no pricing for profile", NULL, NULL } },
		{ "supabase/deploy.yaml", true, "unknown field \"depends_on\"",
		    { "must be mounted", NULL, NULL } },
		/* null placement attributes */
		{ "dolly-v2-12b/deploy.yaml", true,
		    "attributes: expected a mapping, found null",
		    { NULL, NULL, NULL } },
		/* an ibc/ denomination: the market decides */
		{ "n8n/deploy.yml", true, "unsupported denomination \"ibc/",
		    { NULL, NULL, NULL } },
		/* a typo Akash ignores, and says so */
		{ "phoronix/deploy.yaml", true, "unknown field \"environment\"",
		    { NULL, NULL, NULL } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static const unsigned modes[] = { 0, SDL_PARSE_STRICT,
			SDL_PARSE_AKASH_GO };
		char path[PATH_MAX];
		struct sdl_deployment *d = NULL;
		struct sdl_errors e = { 0 };
		int rc;

		pathf(path, sizeof(path), "%s/awesome-akash/%s", corpus,
		    cases[i].file);
		rc = sdl_parse_file(path, &d, &e);
		if ((rc == 0) != cases[i].ok)
			fail_msg("%s: %s by default", cases[i].file,
			    rc ? "refused" : "accepted");
		if (!has(&e, cases[i].said, cases[i].ok))
			fail_msg("%s: no %s says \"%s\"", cases[i].file,
			    cases[i].ok ? "warning" : "error", cases[i].said);
		if (!cases[i].ok)
			assert_int_equal(e.nwarnings + e.count > 0, 1);
		sdl_errors_free(&e);
		sdl_deployment_free(d);
		for (size_t m = 0; m < 3; m++) {
			d = NULL;
			sdl_parse_file_flags(path, modes[m], &d, &e);
			for (size_t n = 0; n < 3 && cases[i].never[n]; n++)
				if (has(&e, cases[i].never[n], false))
					fail_msg("%s (flags %u): false error "
					         "\"%s\"",
					    cases[i].file, modes[m],
					    cases[i].never[n]);
			sdl_errors_free(&e);
			sdl_deployment_free(d);
		}
	}
	/* n8n's denomination reaches the orders as written */
	{
		char path[PATH_MAX];
		struct sdl_deployment *d = NULL;
		json_t *o = NULL;
		pathf(path, sizeof(path), "%s/awesome-akash/n8n/deploy.yml",
		    corpus);
		assert_int_equal(sdl_parse_file(path, &d, NULL), 0);
		assert_int_equal(sdl_orders_json(d, &o), 0);
		assert_memory_equal(json_string_value(json_object_get(
		                        json_array_get(o, 0), "denom")),
		    "ibc/170C6776", 12);
		json_decref(o);
		sdl_deployment_free(d);
	}
}

static json_t *
load_json(const char *path)
{
	json_error_t e;
	json_t *v = json_load_file(path, 0, &e);

	if (!v)
		print_error("%s:%d: %s\n", path, e.line, e.text);
	return v;
}

/* By default, the parity input in is accepted (counted in *lodge_ok) or
 * refused only for its signedBy, which names Akash auditors (or plain
 * numbers): Lodge cannot honour them. */
static void
parity_default(const char *in, int *lodge_ok, int *failures)
{
	struct sdl_deployment *d = NULL;
	struct sdl_errors e = { 0 };

	if (sdl_parse_file(in, &d, &e) == 0)
		(*lodge_ok)++;
	for (size_t i = 0; i < e.count; i++)
		if (!strstr(e.items[i], ".signedBy.") ||
		    !strstr(e.items[i], "Lodge auditors are ed25519 keys")) {
			print_error("%s: refused by default: %s\n", in,
			    e.items[i]);
			(*failures)++;
		}
	sdl_errors_free(&e);
	sdl_deployment_free(d);
}

static void
parity_version(const char *version, int *matched, int *total, int *lodge_ok,
    int *failures)
{
	char dir[PATH_MAX];
	struct dirent **ents = NULL;
	int n;

	pathf(dir, sizeof(dir), "%s/akash-parity/input/%s", corpus, version);
	n = scandir(dir, &ents, NULL, alphasort);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char in[PATH_MAX], want[PATH_MAX];
		struct sdl_deployment *d = NULL, *strict = NULL;
		json_t *got = NULL, *exp = NULL;

		if (name[0] == '.') {
			free(ents[i]);
			continue;
		}
		pathf(in, sizeof(in), "%s/%s/input.yaml", dir, name);
		if (sdl_parse_file_flags(in, SDL_PARSE_AKASH_GO, &d, NULL)) {
			print_error("%s: rejected: %s\n", in, err_msg());
			*total += 2;
			free(ents[i]);
			continue;
		}
		/* the parity inputs also pass Akash's schema */
		if (sdl_parse_file_flags(in,
		        SDL_PARSE_AKASH_GO | SDL_PARSE_STRICT, &strict, NULL))
			print_error("%s: rejected by the schema rules: %s\n",
			    in, err_msg());
		else
			(*matched)++;
		(*total)++;
		sdl_deployment_free(strict);
		parity_default(in, lodge_ok, failures);
		for (int k = 0; k < 2; k++) {
			pathf(want, sizeof(want),
			    "%s/akash-parity/"
			    "output-fixtures/%s/%s/%s",
			    corpus, version, name,
			    k ? "manifest.json" : "group-specs.json");
			exp = load_json(want);
			assert_non_null(exp);
			assert_int_equal(k ? sdl_akash_manifest_json(d, &got) :
			                     sdl_akash_groups_json(d, &got),
			    0);
			(*total)++;
			if (json_equal(got, exp)) {
				(*matched)++;
			} else {
				char *a = json_dumps(got, JSON_SORT_KEYS);
				print_error("%s: differs from %s\n  got  %s\n",
				    in, want, a);
				free(a);
			}
			json_decref(got);
			json_decref(exp);
		}
		sdl_deployment_free(d);
		free(ents[i]);
	}
	free(ents);
}

static void
test_parity_fixtures_equal_as_json(void **state)
{
	int matched = 0, total = 0, lodge_ok = 0, failures = 0;

	(void)state;
	parity_version("v2.0", &matched, &total, &lodge_ok, &failures);
	parity_version("v2.1", &matched, &total, &lodge_ok, &failures);
	print_message("akash parity: %d of %d checks match; Lodge accepts %d "
	              "of the 15 inputs by default, the others name Akash "
	              "auditors in signedBy\n",
	    matched, total, lodge_ok);
	assert_int_equal(matched, total);
	assert_int_equal(total, 45);
	assert_int_equal(failures, 0);
	assert_int_equal(lodge_ok, 3);
}

/* The reason a fixture's name gives, as words its error must contain;
 * whether Lodge refuses it by default although Akash's Go parser accepts
 * it (it cannot honour it). */
static const struct {
	const char *name;
	const char *reason;
	bool lodge_refuses;
} reasons[] = {
	{ "count-zero.yaml", "count", false },
	{ "credentials-missing-host.yaml", "\"host\"", false },
	{ "empty-image.yaml", "image is empty", false },
	{ "endpoint-not-used.yaml", "never used", false },
	{ "invalid-endpoint-name.yaml", "endpoint name", false },
	{ "invalid-port.yaml", ".port: 99999 is out of range", false },
	{ "invalid-protocol.yaml", "unknown protocol", false },
	{ "ip-without-global.yaml", "global: true", false },
	{ "missing-deployment.yaml", "\"deployment\" is missing", false },
	{ "missing-image.yaml", "\"image\" is missing", false },
	{ "missing-memory-size.yaml", "memory", false },
	{ "missing-pricing.yaml", "\"pricing\" is missing", false },
	{ "missing-version.yaml", "no version", false },
	{ "negative-cpu.yaml", "cpu.units", false },
	{ "persistent-without-mount.yaml", "persistent and must be mounted",
	    false },
	{ "port-too-high.yaml", ".port: 99999 is out of range", false },
	{ "port-zero.yaml", ".port: 0 is out of range", false },
	{ "ram-persistent-true.yaml", "ram storage class cannot be persistent",
	    false },
	{ "unknown-field.yaml", "unknown field \"unknown_field\"", false },
	{ "v2.1-reclamation-bad-window.yaml", "min_window", false },
	{ "v2.1-tee-cpu-gpu-no-gpu.yaml", "requires gpu", false },
	{ "email-too-short.yaml", "email is shorter", false },
	{ "invalid-denom.yaml", "unsupported denomination", false },
	{ "invalid-gpu-vendor.yaml", "vendor: unknown field \"amd\"", true },
	{ "invalid-version.yaml", "unsupported version \"3.0\"", true },
	{ "password-too-short.yaml", "password is shorter", false },
	{ "reclamation-compound-window.yaml", "min_window", false },
};

static void
invalid_dir(const char *sub, bool go_rejects, int *count)
{
	char dir[PATH_MAX];
	struct dirent **ents = NULL;
	int n;

	pathf(dir, sizeof(dir), "%s/akash-parity/input/%s", corpus, sub);
	n = scandir(dir, &ents, NULL, alphasort);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		struct sdl_deployment *d = NULL;
		struct sdl_errors errs = { 0 };
		char path[PATH_MAX];
		size_t k;
		int rc;

		if (name[0] == '.') {
			free(ents[i]);
			continue;
		}
		pathf(path, sizeof(path), "%s/%s", dir, name);
		for (k = 0; k < sizeof(reasons) / sizeof(reasons[0]); k++)
			if (!strcmp(reasons[k].name, name))
				break;
		if (k == sizeof(reasons) / sizeof(reasons[0]))
			fail_msg("%s: no reason known for this fixture", path);
		/* Akash's rules, schema included */
		rc = sdl_parse_file_flags(path,
		    SDL_PARSE_AKASH_GO | SDL_PARSE_STRICT, &d, &errs);
		if (rc == 0)
			fail_msg("%s: accepted", path);
		assert_true(errs.count > 0);
		if (!strstr(errs.items[0], reasons[k].reason))
			fail_msg("%s: error does not say \"%s\": %s", path,
			    reasons[k].reason, errs.items[0]);
		/* file:line:col: path: message */
		assert_non_null(strstr(errs.items[0], name));
		sdl_errors_free(&errs);
		/* and Lodge's --strict */
		rc = sdl_parse_file_flags(path, SDL_PARSE_STRICT, &d, &errs);
		if (rc == 0 || !has(&errs, reasons[k].reason, false))
			fail_msg("%s: --strict does not refuse it for its "
			         "reason",
			    path);
		sdl_errors_free(&errs);
		rc = sdl_parse_file_flags(path, SDL_PARSE_AKASH_GO, &d, NULL);
		if (go_rejects && rc == 0)
			fail_msg("%s: Akash's Go rules accept it", path);
		if (!go_rejects && rc != 0)
			fail_msg("%s: Akash's Go rules reject it: %s", path,
			    err_msg());
		sdl_deployment_free(d);
		/* by default: refused when Akash's Go rules refuse it or
		 * Lodge cannot honour it, else a warning gives the reason */
		d = NULL;
		rc = sdl_parse_file(path, &d, &errs);
		if (go_rejects || reasons[k].lodge_refuses) {
			if (rc == 0 || !has(&errs, reasons[k].reason, false))
				fail_msg("%s: not refused by default for its "
				         "reason",
				    path);
		} else if (rc != 0 || !has(&errs, reasons[k].reason, true)) {
			fail_msg("%s: not accepted with a warning by default",
			    path);
		}
		sdl_errors_free(&errs);
		sdl_deployment_free(d);
		(*count)++;
		free(ents[i]);
	}
	free(ents);
}

static void
test_invalid_fixtures_rejected_for_their_reason(void **state)
{
	int n = 0;

	(void)state;
	invalid_dir("invalid", true, &n);
	invalid_dir("schema-only-invalid", false, &n);
	print_message("akash invalid fixtures: %d rejected for their reason\n",
	    n);
	assert_int_equal(n, 27);
}

/* _testdata files Akash's Go tests expect ReadFile to refuse. */
static const char *const testdata_fail[] = {
	"deployment-svc-mismatch.yaml", /* v2_test.go */
	"v2.1-deployment-svc-mismatch.yaml", /* v2_1_test.go */
	"v2.1-credentials-error.yaml", /* v2_1_test.go */
	"simple-reclamation-invalid.yaml", /* reclamation_test.go */
	"simple-reclamation-zero.yaml",
	"v2.1-reclamation-invalid.yaml",
	"v2.1-reclamation-zero.yaml",
	"storageClass1.yaml", /* storage_test.go */
	"storageClass2.yaml",
	"storageClass3.yaml",
	"storageClass4.yaml",
	"storageClass5.yaml",
};

static void
testdata_dir(const char *dir, int *ok, int *refused)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);

	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		size_t len = strlen(name);
		struct sdl_deployment *d = NULL;
		bool expect_fail = false;
		char path[PATH_MAX];
		int rc;

		if (len < 5 || strcmp(name + len - 5, ".yaml")) {
			free(ents[i]);
			continue;
		}
		pathf(path, sizeof(path), "%s/%s", dir, name);
		for (size_t k = 0;
		     k < sizeof(testdata_fail) / sizeof(testdata_fail[0]); k++)
			if (!strcmp(testdata_fail[k], name) &&
			    !strstr(dir, "legacy"))
				expect_fail = true;
		rc = sdl_parse_file_flags(path, SDL_PARSE_AKASH_GO, &d, NULL);
		if (expect_fail && rc == 0)
			fail_msg("%s: Akash's tests expect an error", path);
		if (!expect_fail && rc != 0)
			fail_msg("%s: Akash's tests expect success: %s", path,
			    err_msg());
		if (rc == 0) {
			json_t *g = NULL, *m = NULL;
			assert_int_equal(sdl_akash_groups_json(d, &g), 0);
			assert_int_equal(sdl_akash_manifest_json(d, &m), 0);
			assert_true(json_array_size(g) > 0);
			assert_int_equal(json_array_size(g),
			    json_array_size(m));
			json_decref(g);
			json_decref(m);
			(*ok)++;
		} else {
			(*refused)++;
		}
		sdl_deployment_free(d);
		free(ents[i]);
	}
	free(ents);
}

static void
test_akash_testdata_as_akash_tests_expect(void **state)
{
	char dir[PATH_MAX];
	int ok = 0, refused = 0;
	struct sdl_deployment *d = NULL;
	json_t *g = NULL;

	(void)state;
	pathf(dir, sizeof(dir), "%s/akash-testdata", corpus);
	testdata_dir(dir, &ok, &refused);
	pathf(dir, sizeof(dir), "%s/akash-testdata/legacy", corpus);
	testdata_dir(dir, &ok, &refused);
	print_message("akash testdata: %d accepted, %d refused as expected\n",
	    ok, refused);
	assert_int_equal(refused, 12);

	/* TestV2ParseSimpleGPU: one unit with one nvidia a100 GPU */
	pathf(dir, sizeof(dir), "%s/akash-testdata/simple-gpu.yaml", corpus);
	assert_int_equal(
	    sdl_parse_file_flags(dir, SDL_PARSE_AKASH_GO, &d, NULL), 0);
	assert_int_equal(sdl_akash_groups_json(d, &g), 0);
	{
		json_t *gpu = json_object_get(
		    json_object_get(
		        json_array_get(
		            json_object_get(json_array_get(g, 0), "resources"),
		            0),
		        "resource"),
		    "gpu");
		json_t *units =
		    json_object_get(json_object_get(gpu, "units"), "val");
		assert_string_equal(json_string_value(units), "1");
		assert_true(
		    json_array_size(json_object_get(gpu, "attributes")) >= 1);
	}
	json_decref(g);
	sdl_deployment_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_awesome_akash_by_mode),
		cmocka_unit_test(test_awesome_akash_cases),
		cmocka_unit_test(test_parity_fixtures_equal_as_json),
		cmocka_unit_test(
		    test_invalid_fixtures_rejected_for_their_reason),
		cmocka_unit_test(test_akash_testdata_as_akash_tests_expect),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
