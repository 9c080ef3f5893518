/*
 * test_sdl_corpus: the public SDL corpora.  awesome-akash (every file
 * accepted unless Akash's own rules reject it, each exception listed with
 * its rule), Akash's parity fixtures (group specs and manifest equal as
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

/* Files awesome-akash holds that Akash itself would refuse, and why.  The
 * message is what Lodge's first error must contain. */
static const struct {
	const char *file;
	const char *message;
	const char *rule;
} exceptions[] = {
	{ "Redash/Redash Queries/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "Redash/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "Venice-ElizaOS/deploy.yml", "expected a CPU quantity, found a list",
	    "schema+Go: cpu.units is a number or string" },
	{ "bancor/deploy.yaml", "\"2gi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "bark-small/deploy.yaml", "\"4GB\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "big-dipper/deploy.yaml", "unknown field \"depends-on\"",
	    "schema: additionalProperties false (services)" },
	{ "bitbucket/deploy.yaml", "\"4gi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "botpress/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "centrifuge/deploy.yaml", "\"16GB\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "chatchat/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "chromadb/deploy.yaml", "\"4Gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "codex/deploy.yml", "max_body_size: 1073741824 is out of range",
	    "schema+Go: http_options.max_body_size <= 104857600" },
	{ "dolly-v2-12b/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "elasticsearch/deploy.yaml", "\"8gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "elasticsearch/deploy_with_kibana.yaml", "\"8gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "faster-whisper-cpu/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "faster-whisper-gpu/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "ghrunner/deploy.yaml", "\"2gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "gitea/deploy.yaml", "\"1gi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "gitea/deploy_postgres.yaml", "\"1gi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "gpt-neo/deploy.yaml", "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "gpustack-worker/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "gpustack/deploy.yaml", "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "handshake/deploy.yaml", "\"2GB\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "langflow/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "matomo/deploy.yaml", "unknown field \"servcie\"",
	    "schema: additionalProperties false (services)" },
	{ "minio/deploy.yml", "unknown field \"cmd\"",
	    "schema: additionalProperties false (services)" },
	{ "n8n/deploy.yml", "unsupported denomination",
	    "schema: pricing denom enum [uakt, uact]" },
	{ "onetimepad/deploy.yaml", "\"512mi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "open-webui-gpu/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "osmosis-fe/deploy.yaml",
	    "accept: expected a list of strings, found null",
	    "schema: expose accept must be an array" },
	{ "packetstream/deploy.yaml", "unknown field \"placement\"",
	    "schema: additionalProperties false (profiles)" },
	{ "paperclip/deploy.yaml", "\"1gi\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "persistent-storage-performance-testing/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "phoronix/deploy.yaml", "unknown field \"environment\"",
	    "schema: additionalProperties false (services)" },
	{ "postgres-restore/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "postgres-s3-backup/deploy.yaml", "no service is exposed globally",
	    "Go manifest validation: zero global services" },
	{ "privategpt-cpu/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "privategpt-gpu/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "prysm-beacon/deploy.yaml", "unknown field \"placement\"",
	    "schema: additionalProperties false (profiles)" },
	{ "qbittorrent/deploy-ssh-tunnel.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "ray/deploy.yaml", "\"10Gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "ray/ray-nightly-py310-gpu.yml", "\"10Gb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "redmine/deploy.yaml", "unknown field \"depends-on\"",
	    "schema: additionalProperties false (services)" },
	{ "supabase/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "tensorflow-jupyter-ezkl/deploy.yaml", "\"256GB\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "tensorflow-webapp-mnist/deploy.yaml", "unknown field \"depends-on\"",
	    "schema: additionalProperties false (services)" },
	{ "torchbench/torchbench_gpu_sdl_cuda11.7.yaml",
	    "unknown field \"cmd\"",
	    "schema: additionalProperties false (services)" },
	{ "uptime-kuma/deploy.yaml", "\"512Mb\" is not a size",
	    "Go parser: size suffix not in k/Ki/M/Mi/G/Gi/T/Ti/P/Pi/E/Ei" },
	{ "whisper-gui-cpu/deploy.yaml",
	    "attributes: expected a mapping, found null",
	    "schema: placement attributes must be an object" },
	{ "whoogle-search/deploy-ssh-tunnel.yaml",
	    "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
	{ "wordpress/deploy.yaml", "unknown field \"depends_on\"",
	    "schema: additionalProperties false (services)" },
};

#define NEXC (sizeof(exceptions) / sizeof(exceptions[0]))

struct walk {
	size_t files, accepted, rejected;
	bool seen[NEXC];
	int failures;
};

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

static void
check_file(const char *path, const char *rel, struct walk *w)
{
	struct sdl_deployment *d = NULL;
	struct sdl_errors errs = { 0 };
	size_t k;
	int rc;

	for (k = 0; k < NEXC; k++)
		if (!strcmp(exceptions[k].file, rel))
			break;
	w->files++;
	rc = sdl_parse_file(path, &d, &errs);
	if (rc == 0) {
		w->accepted++;
		if (k < NEXC) {
			print_error("%s: accepted, but listed as an exception "
			            "(%s)\n",
			    rel, exceptions[k].rule);
			w->failures++;
		}
		exercise(d, rel, w);
	} else {
		w->rejected++;
		if (k == NEXC) {
			print_error("%s: rejected by a rule that is not "
			            "Akash's: %s\n",
			    rel, errs.count ? errs.items[0] : err_msg());
			w->failures++;
		} else if (!errs.count ||
		    !strstr(errs.items[0], exceptions[k].message)) {
			print_error("%s: rejected, but not for its listed rule "
			            "(%s): %s\n",
			    rel, exceptions[k].message,
			    errs.count ? errs.items[0] : err_msg());
			w->failures++;
		} else {
			w->seen[k] = true;
		}
	}
	sdl_errors_free(&errs);
	sdl_deployment_free(d);
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

static void
test_awesome_akash_accepted_except_akash_rejects(void **state)
{
	struct walk w;
	char dir[PATH_MAX];

	(void)state;
	memset(&w, 0, sizeof(w));
	pathf(dir, sizeof(dir), "%s/awesome-akash", corpus);
	walk_dir(dir, "", &w);
	for (size_t k = 0; k < NEXC; k++)
		if (!w.seen[k] && w.failures == 0) {
			print_error("%s: listed exception not found or not "
			            "rejected\n",
			    exceptions[k].file);
			w.failures++;
		}
	print_message("awesome-akash: %zu files, %zu accepted, %zu rejected "
	              "(%zu listed exceptions)\n",
	    w.files, w.accepted, w.rejected, NEXC);
	assert_int_equal(w.files, 287);
	assert_int_equal(w.failures, 0);
	assert_int_equal(w.rejected, NEXC);
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

static void
parity_version(const char *version, int *matched, int *total)
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
		if (sdl_parse_file(in, &strict, NULL))
			print_error("%s: rejected by the schema rules: %s\n",
			    in, err_msg());
		else
			(*matched)++;
		(*total)++;
		sdl_deployment_free(strict);
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
	int matched = 0, total = 0;

	(void)state;
	parity_version("v2.0", &matched, &total);
	parity_version("v2.1", &matched, &total);
	print_message("akash parity: %d of %d checks match\n", matched, total);
	assert_int_equal(matched, total);
	assert_true(total >= 45);
}

/* The reason a fixture's name gives, as words its error must contain. */
static const struct {
	const char *name;
	const char *reason;
} reasons[] = {
	{ "count-zero.yaml", "count" },
	{ "credentials-missing-host.yaml", "\"host\"" },
	{ "empty-image.yaml", "image is empty" },
	{ "endpoint-not-used.yaml", "never used" },
	{ "invalid-endpoint-name.yaml", "endpoint name" },
	{ "invalid-port.yaml", ".port: 99999 is out of range" },
	{ "invalid-protocol.yaml", "unknown protocol" },
	{ "ip-without-global.yaml", "global: true" },
	{ "missing-deployment.yaml", "\"deployment\" is missing" },
	{ "missing-image.yaml", "\"image\" is missing" },
	{ "missing-memory-size.yaml", "memory" },
	{ "missing-pricing.yaml", "\"pricing\" is missing" },
	{ "missing-version.yaml", "no version" },
	{ "negative-cpu.yaml", "cpu.units" },
	{ "persistent-without-mount.yaml", "persistent and must be mounted" },
	{ "port-too-high.yaml", ".port: 99999 is out of range" },
	{ "port-zero.yaml", ".port: 0 is out of range" },
	{ "ram-persistent-true.yaml",
	    "ram storage class cannot be persistent" },
	{ "unknown-field.yaml", "unknown field \"unknown_field\"" },
	{ "v2.1-reclamation-bad-window.yaml", "min_window" },
	{ "v2.1-tee-cpu-gpu-no-gpu.yaml", "requires gpu" },
	{ "email-too-short.yaml", "email is shorter" },
	{ "invalid-denom.yaml", "unsupported denomination" },
	{ "invalid-gpu-vendor.yaml", "vendor: unknown field \"amd\"" },
	{ "invalid-version.yaml", "unsupported version" },
	{ "password-too-short.yaml", "password is shorter" },
	{ "reclamation-compound-window.yaml", "min_window" },
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
		rc = sdl_parse_file(path, &d, &errs);
		if (rc == 0)
			fail_msg("%s: accepted", path);
		assert_true(errs.count > 0);
		if (!strstr(errs.items[0], reasons[k].reason))
			fail_msg("%s: error does not say \"%s\": %s", path,
			    reasons[k].reason, errs.items[0]);
		/* file:line:col: path: message */
		assert_non_null(strstr(errs.items[0], name));
		sdl_errors_free(&errs);
		rc = sdl_parse_file_flags(path, SDL_PARSE_AKASH_GO, &d, NULL);
		if (go_rejects && rc == 0)
			fail_msg("%s: Akash's Go rules accept it", path);
		if (!go_rejects && rc != 0)
			fail_msg("%s: Akash's Go rules reject it: %s", path,
			    err_msg());
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
		cmocka_unit_test(
		    test_awesome_akash_accepted_except_akash_rejects),
		cmocka_unit_test(test_parity_fixtures_equal_as_json),
		cmocka_unit_test(
		    test_invalid_fixtures_rejected_for_their_reason),
		cmocka_unit_test(test_akash_testdata_as_akash_tests_expect),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
