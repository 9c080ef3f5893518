/*
 * test_sdl: the SDL library on small hand-written files: each field, each
 * unit form, each validation error (with its position and path) in each
 * mode, warnings, the manifest hash's stability, orders, image forms and
 * limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/cjson.h"
#include "common/err.h"
#include "sdl/image.h"
#include "sdl/sdl.h"
#include "sdl/units.h"

/* Three auditor keys, as `ledger keygen` prints them. */
#define AUD_A "ed25519:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"
#define AUD_B "ed25519:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI"
#define AUD_C "ed25519:AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM"

static const char base[] = "version: \"2.0\"\n"
                           "services:\n"
                           "  web:\n"
                           "    image: nginx:1.25\n"
                           "    command: [\"/bin/sh\", \"-c\"]\n"
                           "    args: [\"nginx -g 'daemon off;'\"]\n"
                           "    env:\n"
                           "      - A=1\n"
                           "      - SECRET=hunter2\n"
                           "    expose:\n"
                           "      - port: 80\n"
                           "        as: 80\n"
                           "        accept:\n"
                           "          - example.com\n"
                           "        to:\n"
                           "          - global: true\n"
                           "      - port: 9000\n"
                           "        proto: udp\n"
                           "        to:\n"
                           "          - service: db\n"
                           "    params:\n"
                           "      storage:\n"
                           "        data:\n"
                           "          mount: /var/data\n"
                           "          readOnly: false\n"
                           "    dependencies:\n"
                           "      - service: db\n"
                           "  db:\n"
                           "    image: postgres:14\n"
                           "    expose:\n"
                           "      - port: 5432\n"
                           "        to:\n"
                           "          - service: web\n"
                           "profiles:\n"
                           "  compute:\n"
                           "    web:\n"
                           "      resources:\n"
                           "        cpu:\n"
                           "          units: 0.5\n"
                           "        memory:\n"
                           "          size: 512Mi\n"
                           "        storage:\n"
                           "          - size: 1Gi\n"
                           "          - name: data\n"
                           "            size: 10Gi\n"
                           "            attributes:\n"
                           "              persistent: true\n"
                           "              class: beta2\n"
                           "    db:\n"
                           "      resources:\n"
                           "        cpu:\n"
                           "          units: \"250m\"\n"
                           "        memory:\n"
                           "          size: 1Gi\n"
                           "        storage:\n"
                           "          size: 2Gi\n"
                           "  placement:\n"
                           "    west:\n"
                           "      attributes:\n"
                           "        region: us-west\n"
                           "      signedBy:\n"
                           "        anyOf:\n"
                           "          - " AUD_A "\n"
                           "        allOf:\n"
                           "          - " AUD_B "\n"
                           "      pricing:\n"
                           "        web:\n"
                           "          denom: uakt\n"
                           "          amount: 100\n"
                           "        db:\n"
                           "          denom: uakt\n"
                           "          amount: \"0.5\"\n"
                           "deployment:\n"
                           "  web:\n"
                           "    west:\n"
                           "      profile: web\n"
                           "      count: 2\n"
                           "  db:\n"
                           "    west:\n"
                           "      profile: db\n"
                           "      count: 3\n";

/* base with the first occurrence of from replaced by to (malloc'd). */
static char *
edit(const char *src, const char *from, const char *to)
{
	const char *at = strstr(src, from);
	size_t n;
	char *out;

	if (!at)
		fail_msg("edit: \"%s\" not in the document", from);
	n = strlen(src) - strlen(from) + strlen(to);
	out = malloc(n + 1);
	assert_non_null(out);
	memcpy(out, src, (size_t)(at - src));
	strcpy(out + (at - src), to);
	strcat(out, at + strlen(from));
	return out;
}

static struct sdl_deployment *
parse_ok(const char *yaml)
{
	struct sdl_deployment *d = NULL;
	struct sdl_errors errs = { 0 };

	if (sdl_parse_buffer("t.yaml", yaml, strlen(yaml), &d, &errs)) {
		for (size_t i = 0; i < errs.count; i++)
			print_error("%s\n", errs.items[i]);
		sdl_errors_free(&errs);
		fail_msg("rejected: %s", err_msg());
	}
	sdl_errors_free(&errs);
	return d;
}

/* yaml must be rejected under flags with an error containing want;
 * returns how many errors were reported. */
static size_t
parse_err_flags(const char *yaml, unsigned flags, const char *want)
{
	struct sdl_deployment *d = NULL;
	struct sdl_errors errs = { 0 };
	bool found = false;
	size_t n;

	if (sdl_parse_buffer_flags("t.yaml", yaml, strlen(yaml), flags, &d,
	        &errs) == 0)
		fail_msg("accepted (flags %u), expected an error with \"%s\"",
		    flags, want);
	assert_null(d);
	for (size_t i = 0; i < errs.count; i++) {
		assert_memory_equal(errs.items[i], "t.yaml:", 7);
		if (strstr(errs.items[i], want))
			found = true;
	}
	if (!found) {
		for (size_t i = 0; i < errs.count; i++)
			print_error("  %s\n", errs.items[i]);
		fail_msg("no error (flags %u) contains \"%s\"", flags, want);
	}
	n = errs.count;
	sdl_errors_free(&errs);
	return n;
}

/* yaml must be rejected by default with an error containing want. */
static size_t
parse_err(const char *yaml, const char *want)
{
	return parse_err_flags(yaml, 0, want);
}

/* 0 when yaml is accepted under flags, else the error code (errors
 * printed). */
static int
parse_flags_ok(const char *yaml, unsigned flags)
{
	struct sdl_deployment *d = NULL;
	struct sdl_errors errs = { 0 };
	int rc = sdl_parse_buffer_flags("t.yaml", yaml, strlen(yaml), flags, &d,
	    &errs);

	for (size_t i = 0; i < errs.count; i++)
		print_error("  %s\n", errs.items[i]);
	sdl_errors_free(&errs);
	sdl_deployment_free(d);
	return rc;
}

/* yaml must be accepted by default with warnings, each labelled one,
 * saying that --strict refuses it, and containing want once the label is
 * taken out (the error --strict gives). */
static void
parse_warn(const char *yaml, const char *want)
{
	struct sdl_deployment *d = NULL;
	struct sdl_errors errs = { 0 };

	if (sdl_parse_buffer("t.yaml", yaml, strlen(yaml), &d, &errs)) {
		for (size_t i = 0; i < errs.count; i++)
			print_error("  %s\n", errs.items[i]);
		fail_msg("rejected, expected a warning with \"%s\"", want);
	}
	assert_non_null(d);
	assert_int_equal(errs.count, 0);
	assert_true(errs.nwarnings > 0);
	for (size_t i = 0; i < errs.nwarnings; i++) {
		const char *w = errs.warnings[i],
		           *label = strstr(w, "warning: ");
		char *as_error; /* the text an error would have */
		assert_non_null(label);
		assert_memory_equal(w, "t.yaml:", 7);
		assert_memory_equal(label - 2, ": ", 2);
		assert_non_null(strstr(w, "--strict"));
		as_error = strdup(w);
		assert_non_null(as_error);
		memmove(as_error + (label - w), label + 9,
		    strlen(label + 9) + 1);
		if (!strstr(as_error, want))
			fail_msg("warning without \"%s\": %s", want, w);
		free(as_error);
	}
	sdl_errors_free(&errs);
	sdl_deployment_free(d);
}

static void
test_fields_of_the_base_file(void **state)
{
	struct sdl_deployment *d = parse_ok(base);
	const struct sdl_service *web, *db;
	const struct sdl_compute *cw;
	const struct sdl_placement *pl;

	(void)state;
	assert_int_equal(d->version, 20);
	assert_int_equal(d->nservices, 2);
	/* sorted by name */
	db = &d->services[0];
	web = &d->services[1];
	assert_string_equal(db->name, "db");
	assert_string_equal(web->name, "web");
	assert_int_equal(web->image.kind, SDL_IMAGE_OCI);
	assert_string_equal(web->image.oci.registry, "docker.io");
	assert_string_equal(web->image.oci.repository, "library/nginx");
	assert_string_equal(web->image.oci.tag, "1.25");
	assert_int_equal(web->command.count, 2);
	assert_string_equal(web->command.items[1], "-c");
	assert_int_equal(web->args.count, 1);
	assert_int_equal(web->env.count, 2);
	assert_string_equal(web->env.items[1], "SECRET=hunter2");
	assert_int_equal(web->nexpose, 2);
	assert_int_equal(web->expose[0].port, 80);
	assert_int_equal(web->expose[0].as, 80);
	assert_int_equal(web->expose[0].proto, SDL_PROTO_TCP);
	assert_string_equal(web->expose[0].accept.items[0], "example.com");
	assert_true(web->expose[0].to[0].global);
	assert_int_equal(web->expose[0].http.max_body_size, 1048576);
	assert_int_equal(web->expose[0].http.read_timeout, 60000);
	assert_int_equal(web->expose[0].http.next_tries, 3);
	assert_int_equal(web->expose[0].http.next_cases.count, 2);
	assert_int_equal(web->expose[1].proto, SDL_PROTO_UDP);
	assert_string_equal(web->expose[1].to[0].service, "db");
	assert_int_equal(web->nstorage, 1);
	assert_string_equal(web->storage[0].volume, "data");
	assert_string_equal(web->storage[0].mount, "/var/data");
	assert_false(web->storage[0].read_only);
	assert_string_equal(web->dependencies.items[0], "db");
	assert_null(web->credentials);
	cw = sdl_find_compute(d, "web");
	assert_non_null(cw);
	assert_int_equal(cw->cpu_millis, 500);
	assert_int_equal(cw->memory, 512ULL << 20);
	assert_int_equal(cw->nvolumes, 2);
	assert_string_equal(cw->volumes[0].name, "default");
	assert_int_equal(cw->volumes[0].size, 1ULL << 30);
	assert_string_equal(cw->volumes[1].name, "data");
	assert_true(cw->volumes[1].persistent);
	assert_string_equal(cw->volumes[1].class_, "beta2");
	assert_int_equal(sdl_find_compute(d, "db")->cpu_millis, 250);
	pl = sdl_find_placement(d, "west");
	assert_non_null(pl);
	assert_string_equal(pl->attrs[0].key, "region");
	assert_string_equal(pl->attrs[0].value, "us-west");
	assert_string_equal(pl->any_of.items[0], AUD_A);
	assert_string_equal(pl->all_of.items[0], AUD_B);
	assert_int_equal(sdl_find_price(pl, "web")->whole, 100);
	assert_int_equal(sdl_find_price(pl, "db")->whole, 0);
	assert_int_equal(sdl_find_price(pl, "db")->frac, 500000000000000000ULL);
	assert_int_equal(d->ndeploys, 2);
	assert_string_equal(d->deploys[0].service, "db");
	assert_int_equal(d->deploys[0].count, 3);
	assert_int_equal(d->deploys[1].count, 2);
	sdl_deployment_free(d);
}

static const char v21[] =
    "version: \"2.1\"\n"
    "services:\n"
    "  app:\n"
    "    image: ghcr.io/org/app@sha256:"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    "    credentials:\n"
    "      host: ghcr.io\n"
    "      email: me@example.com\n"
    "      username: me\n"
    "      password: secret123\n"
    "    expose:\n"
    "      - port: 8080\n"
    "        as: 80\n"
    "        http_options:\n"
    "          max_body_size: 2097152\n"
    "          read_timeout: 5000\n"
    "          send_timeout: 6000\n"
    "          next_tries: 5\n"
    "          next_timeout: 10\n"
    "          next_cases: [\"error\", \"502\"]\n"
    "          proxy_buffer_size: 8192\n"
    "        to:\n"
    "          - global: true\n"
    "            ip: myip\n"
    "    params:\n"
    "      tee: cpu-gpu\n"
    "      permissions:\n"
    "        read: [logs, events]\n"
    "profiles:\n"
    "  compute:\n"
    "    gpu:\n"
    "      resources:\n"
    "        cpu: {units: 2}\n"
    "        memory: {size: 4G}\n"
    "        storage: {size: 100Gi}\n"
    "        gpu:\n"
    "          units: 2\n"
    "          attributes:\n"
    "            vendor:\n"
    "              nvidia:\n"
    "                - model: h100\n"
    "                  ram: 80Gi\n"
    "                  interface: sxm\n"
    "                - model: a100\n"
    "  placement:\n"
    "    dc:\n"
    "      pricing:\n"
    "        gpu: {denom: uakt, amount: 1000}\n"
    "deployment:\n"
    "  app:\n"
    "    dc: {profile: gpu, count: 1}\n"
    "endpoints:\n"
    "  myip:\n"
    "    kind: ip\n"
    "reclamation:\n"
    "  min_window: 2h\n";

static void
test_fields_of_v21_file(void **state)
{
	struct sdl_deployment *d = parse_ok(v21);
	const struct sdl_service *s = &d->services[0];
	const struct sdl_compute *c = &d->computes[0];
	const struct sdl_http_options *h = &s->expose[0].http;

	(void)state;
	assert_int_equal(d->version, 21);
	assert_string_equal(s->image.oci.registry, "ghcr.io");
	assert_string_equal(s->image.oci.repository, "org/app");
	assert_null(s->image.oci.tag);
	assert_memory_equal(s->image.oci.digest, "sha256:e3b0", 11);
	assert_non_null(s->credentials);
	assert_string_equal(s->credentials->email, "me@example.com");
	assert_string_equal(s->credentials->password, "secret123");
	assert_int_equal(h->max_body_size, 2097152);
	assert_int_equal(h->read_timeout, 5000);
	assert_int_equal(h->send_timeout, 6000);
	assert_int_equal(h->next_tries, 5);
	assert_int_equal(h->next_timeout, 10);
	assert_int_equal(h->proxy_buffer_size, 8192);
	assert_string_equal(h->next_cases.items[1], "502");
	assert_string_equal(s->expose[0].to[0].ip, "myip");
	assert_string_equal(s->tee, "cpu-gpu");
	assert_int_equal(s->permissions.count, 2);
	assert_int_equal(c->cpu_millis, 2000);
	assert_int_equal(c->memory, 4000000000ULL);
	assert_int_equal(c->gpu_units, 2);
	assert_int_equal(c->ngpu_attrs, 2);
	assert_string_equal(c->gpu_attrs[0].key, "vendor/nvidia/model/a100");
	assert_string_equal(c->gpu_attrs[1].key,
	    "vendor/nvidia/model/h100/ram/80Gi/interface/sxm");
	assert_int_equal(d->nendpoints, 1);
	assert_string_equal(d->endpoints[0].kind, "ip");
	assert_true(d->has_reclamation);
	assert_int_equal(d->reclamation_seconds, 7200);
	sdl_deployment_free(d);
}

static void
test_size_units(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "512", 512 },
		{ "1k", 1000 },
		{ "1Ki", 1024 },
		{ "1M", 1000000 },
		{ "1Mi", 1 << 20 },
		{ "1G", 1000000000 },
		{ "1Gi", 1ULL << 30 },
		{ "1T", 1000000000000ULL },
		{ "1Ti", 1ULL << 40 },
		{ "1P", 1000000000000000ULL },
		{ "1Pi", 1ULL << 50 },
		{ "1E", 1000000000000000000ULL },
		{ "1Ei", 1ULL << 60 },
		{ "1.5Gi", 3ULL << 29 },
		{ "0.5k", 500 },
		{ "1e3", 1000 },
		{ "2.5", 2 },
		{ "128Mi", 134217728 },
		{ "0", 0 },
	};
	static const char *const bad[] = { "1GB", "1gi", "1Gb", "-1Gi", "abc",
		"", "1.2.3", "Gi", "1 Gi", "99999999999Ei" };
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (sdl_parse_size(ok[i].s, false, &v))
			fail_msg("%s: %s", ok[i].s, err_msg());
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sdl_parse_size(bad[i], false, &v) == 0)
			fail_msg("\"%s\" accepted as a size", bad[i]);
	/* GPU ram takes binary suffixes only */
	assert_int_equal(sdl_parse_size("80Gi", true, &v), 0);
	assert_int_not_equal(sdl_parse_size("80G", true, &v), 0);
}

static void
test_cpu_units(void **state)
{
	static const struct {
		const char *s;
		uint32_t v;
	} ok[] = { { "500m", 500 }, { "0.5", 500 }, { "1", 1000 },
		{ "2.25", 2250 }, { "0.01", 10 }, { "100m", 100 },
		{ "1000m", 1000 }, { "0.0015", 1 } };
	static const char *const bad[] = { "-100m", "1.5m", "abc", "m", "",
		"-1", "5000000" };
	uint32_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(sdl_parse_cpu(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sdl_parse_cpu(bad[i], &v) == 0)
			fail_msg("\"%s\" accepted as cpu", bad[i]);
}

static void
test_decimal_and_duration(void **state)
{
	uint64_t w, f, s;

	(void)state;
	assert_int_equal(sdl_parse_decimal("50", &w, &f), 0);
	assert_int_equal(w, 50);
	assert_int_equal(f, 0);
	assert_int_equal(sdl_parse_decimal("0.000000000000000001", &w, &f), 0);
	assert_int_equal(f, 1);
	assert_int_not_equal(sdl_parse_decimal("0.0000000000000000001", &w, &f),
	    0);
	assert_int_not_equal(sdl_parse_decimal("-1", &w, &f), 0);
	assert_int_not_equal(sdl_parse_decimal("1.", &w, &f), 0);
	assert_int_not_equal(sdl_parse_decimal(".5", &w, &f), 0);
	assert_int_equal(sdl_parse_duration("90s", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(sdl_parse_duration("15m", &s), 0);
	assert_int_equal(s, 900);
	assert_int_equal(sdl_parse_duration("720h", &s), 0);
	assert_int_equal(s, 2592000);
	assert_int_not_equal(sdl_parse_duration("0s", &s), 0);
	assert_int_not_equal(sdl_parse_duration("1h30m", &s), 0);
	assert_int_not_equal(sdl_parse_duration("1d", &s), 0);
}

static void
test_unit_forms_in_documents(void **state)
{
	char *y1 = edit(base, "units: 0.5", "units: \"500m\"");
	char *y2 = edit(base, "size: 512Mi", "size: \"536870912\"");
	struct sdl_deployment *d1, *d2;

	(void)state;
	d1 = parse_ok(y1);
	d2 = parse_ok(y2);
	assert_int_equal(sdl_find_compute(d1, "web")->cpu_millis, 500);
	assert_int_equal(sdl_find_compute(d2, "web")->memory, 536870912);
	sdl_deployment_free(d1);
	sdl_deployment_free(d2);
	free(y1);
	free(y2);
}

/* base's two prices, in denomination d */
#define DENOMS(d)                                            \
	"denom: " d "\n          amount: 100\n        db:\n" \
	"          denom: " d
/* the ibc/ denomination n8n/deploy.yml pays in */
#define IBC \
	"ibc/170C677610AC31DF0904FFE09CD3B5C657492170E7E52372E48756B71E56F2F1"

static void
test_validation_errors(void **state)
{
	/* how: 'a' refused in every mode; 's' a finding of Akash's schema
	 * alone: refused under SDL_PARSE_STRICT, a warning by default,
	 * accepted by Akash's Go rules; 'l' refused by Lodge (it cannot
	 * honour it) although Akash accepts it */
	static const struct {
		const char *from, *to, *want;
		char how;
	} cases[] = {
		{ "version: \"2.0\"\n", "", "no version found", 'a' },
		{ "version: \"2.0\"", "version: \"3.0\"",
		    "unsupported version \"3.0\"", 'l' },
		{ "version: \"2.0\"", "version: \"v2.0\"",
		    "unsupported version \"v2.0\"", 's' },
		{ "version: \"2.0\"", "version: 2.0",
		    "version 2.0 is a number in YAML; quote it: version: "
		    "\"2.0\"",
		    's' },
		{ "version: \"2.0\"", "version: 1.0", "unsupported version 1.0",
		    'a' },
		{ "    image: nginx:1.25\n", "", "\"image\" is missing", 'a' },
		{ "image: nginx:1.25", "image: \"\"", "image is empty", 'a' },
		{ "image: nginx:1.25", "image: \"wasm+https://x/y.wasm\"",
		    "sha256", 'l' },
		{ "image: nginx:1.25", "image: \"git+https://x/y#abc\"",
		    "40 hex", 'l' },
		{ "      - port: 80\n", "      - port: 70000\n",
		    "services.web.expose[0].port: 70000 is out of range", 'a' },
		{ "      - port: 80\n", "      - port: 0\n",
		    "expose[0].port: 0 is out of range", 'a' },
		{ "        as: 80\n", "        as: 0\n", "expose[0].as", 's' },
		{ "      - port: 80\n", "      - port: \"80\"\n",
		    "expected an integer", 'a' },
		{ "        proto: udp", "        proto: sctp",
		    "unknown protocol \"sctp\"", 'a' },
		{ "          - example.com", "          - Bad_Host",
		    "not a valid host name", 'a' },
		{ "          - global: true\n      - port: 9000",
		    "          - global: true\n            ip: nope\n"
		    "      - port: 9000",
		    "no endpoint named \"nope\"", 'a' },
		{ "          - service: db\n    params",
		    "          - ip: x\n    params", "needs global: true",
		    'a' },
		{ "          mount: /var/data", "          mount: var/data",
		    "not an absolute path", 'a' },
		{ "        data:\n          mount",
		    "        logs:\n          mount",
		    "no volume named \"logs\"", 'a' },
		{ "      count: 2", "      count: 0",
		    "count: 0 is out of range", 'a' },
		{ "      count: 2", "      count: 51", "Lodge's limit", 'a' },
		{ "      count: 2", "      count: -1", "negative", 'a' },
		{ "      profile: web\n", "      profile: nope\n",
		    "no compute profile named \"nope\"", 'a' },
		{ "deployment:\n  web:\n    west:",
		    "deployment:\n  web:\n    east:",
		    "no placement profile named \"east\"", 'a' },
		{ "deployment:\n  web:", "deployment:\n  www:",
		    "no service named \"www\"", 'a' },
		{ "        web:\n          denom: uakt\n          amount: "
		  "100\n",
		    "", "no pricing for profile \"web\"", 'a' },
		{ DENOMS("uakt"), DENOMS("btc"), "unsupported denomination",
		    's' },
		{ "amount: 100", "amount: 0", "amount is zero", 'a' },
		{ "amount: 100", "amount: -5", "not a non-negative decimal",
		    'a' },
		{ "amount: 100", "amount: 10000001", "more than 10000000",
		    'a' },
		{ "          units: 0.5", "          units: 0",
		    "greater than zero", 'a' },
		{ "          units: 0.5", "          units: -1", "is negative",
		    'a' },
		{ "          units: 0.5", "          units: \"-100m\"",
		    "not a CPU quantity", 'a' },
		{ "          units: 0.5", "          units: 0.005",
		    "out of range", 'a' },
		{ "          units: 0.5", "          units: 500",
		    "out of range", 'a' },
		{ "          size: 512Mi", "          size: 512MB",
		    "is not a size", 'a' },
		{ "          size: 512Mi", "          size: 512Ki",
		    "out of range", 'a' },
		{ "          size: 512Mi", "          size: 3Ti",
		    "out of range", 'a' },
		{ "          - size: 1Gi", "          - size: 1Ki",
		    "out of range", 'a' },
		{ "              class: beta2", "              class: gold",
		    "unknown storage class", 'a' },
		{ "              persistent: true\n              class: beta2",
		    "              persistent: false\n              class: "
		    "beta2",
		    "needs persistent: true", 'a' },
		{ "              persistent: true\n              class: beta2",
		    "              persistent: true\n              class: ram",
		    "ram storage class cannot be persistent", 'a' },
		{ "              persistent: true",
		    "              persistent: 7", "expected true or false",
		    'a' },
		{ "    params:\n      storage:\n        data:\n"
		  "          mount: /var/data\n          readOnly: false\n",
		    "", "persistent and must be mounted", 'a' },
		{ "          - size: 1Gi\n",
		    "          - size: 1Gi\n"
		    "          - size: 2Gi\n",
		    "duplicated volume name", 'a' },
		{ "    dependencies:", "    depends_on:",
		    "unknown field \"depends_on\"", 's' },
		{ "profiles:\n", "extra: 1\nprofiles:\n",
		    "unknown field \"extra\"", 'a' },
		{ "        cpu:\n          units: 0.5\n",
		    "        cpu:\n          units: 0.5\n        gpu:\n"
		    "          units: 1\n",
		    "GPU attributes (vendor) are required", 'a' },
		{ "        cpu:\n          units: 0.5\n",
		    "        cpu:\n          units: 0.5\n        gpu:\n"
		    "          units: 0\n          attributes:\n            "
		    "vendor:\n"
		    "              nvidia:\n",
		    "need units > 0", 'a' },
		{ "        cpu:\n          units: 0.5\n",
		    "        cpu:\n          units: 0.5\n        gpu:\n"
		    "          units: 30\n          attributes:\n            "
		    "vendor:\n"
		    "              nvidia:\n",
		    "GPUs is out of range", 'a' },
		{ "        cpu:\n          units: 0.5\n",
		    "        cpu:\n          units: 0.5\n          "
		    "attributes:\n"
		    "            color: red\n",
		    "unknown field \"color\"", 'a' },
		{ "          - global: true\n      - port: 9000",
		    "          - global: false\n      - port: 9000",
		    "no service is exposed globally", 'a' },
		{ "    env:\n      - A=1", "    env:\n      - 1A=1",
		    "invalid environment variable name", 'a' },
		{ "          - example.com\n        to:\n          - global: "
		  "true\n",
		    "          - example.com\n        to:\n          - global: "
		    "true\n"
		    "          - global: true\n",
		    "used more than once", 'a' },
		{ "        as: 80\n",
		    "        as: 80\n        http_options:\n"
		    "          max_body_size: 104857601\n",
		    "max_body_size", 'a' },
		{ "        as: 80\n",
		    "        as: 80\n        http_options:\n"
		    "          read_timeout: 60001\n",
		    "read_timeout", 'a' },
		{ "        as: 80\n",
		    "        as: 80\n        http_options:\n"
		    "          next_cases: [off, error]\n",
		    "no other case", 'a' },
		{ "        as: 80\n",
		    "        as: 80\n        http_options:\n"
		    "          next_cases: [\"418\"]\n",
		    "unknown next case", 'a' },
		{ "  db:\n    image",
		    "  db:\n    credentials: {host: h, "
		    "username: u}\n    image",
		    "credentials need \"password\"", 'a' },
		{ "  db:\n    image",
		    "  db:\n    credentials: {host: h, "
		    "username: u, password: abc}\n    image",
		    "password is shorter", 's' },
		{ "      signedBy:\n        anyOf:\n          - " AUD_A "\n"
		  "        allOf:\n          - " AUD_B "\n",
		    "      signedBy: []\n", "signedBy: expected a mapping",
		    'a' },
		{ "services:", "endpoints:\n  Bad: {kind: ip}\nservices:",
		    "endpoint name \"Bad\" is not valid", 'a' },
		{ "services:", "endpoints:\n  ep: {kind: ip}\nservices:",
		    "never used", 'a' },
		{ "services:", "endpoints:\n  ep: {kind: dns}\nservices:",
		    "unknown endpoint kind", 'a' },
		{ "services:", "reclamation:\n  min_window: 0s\nservices:",
		    "min_window", 'a' },
		{ "  db:\n    image",
		    "  db:\n    params: {tee: sgx}\n    image",
		    "unsupported tee type", 'a' },
		{ "  db:\n    image",
		    "  db:\n    params: {tee: cpu-gpu}\n"
		    "    image",
		    "requires gpu", 'a' },
		{ "        web:\n          denom: uakt",
		    "        web:\n          denom: uact",
		    "one deployment pays in one denomination", 'a' },
		{ "args: [\"nginx", "args: [5, \"nginx",
		    "args[0]: expected a string, found an integer", 's' },
		{ "    image: nginx:1.25",
		    "    image: nginx:1.25\n    image: x",
		    "duplicate key \"image\"", 'a' },
		{ "    image: nginx:1.25", "    image: [nginx", "YAML syntax",
		    'a' },
		{ "    image: nginx:1.25", "    image: *nope", "unknown anchor",
		    'a' },
		/* null placement attributes (dolly-v2-12b, gpt-neo, ...) */
		{ "      attributes:\n        region: us-west\n",
		    "      attributes:\n",
		    "attributes: expected a mapping, "
		    "found null",
		    's' },
		/* an integer where the schema wants a string */
		{ "size: 512Mi", "size: 536870912",
		    "memory.size: expected a string, found an integer", 's' },
		/* an ibc/ denomination (n8n) */
		{ DENOMS("uakt"), DENOMS(IBC),
		    "unsupported denomination \"ibc/", 's' },
		{ "denom: uakt", "denom: u$", "unsupported denomination", 'a' },
		{ "        as: 80\n",
		    "        as: 80\n        http_options:\n"
		    "          next_cases: [error, 502]\n",
		    "next_cases[1]: expected one of", 's' },
		{ "          - global: true\n      - port: 9000",
		    "          - global: yes\n      - port: 9000",
		    "global: expected true or false, found \"yes\"", 's' },
		{ "  db:\n    image", "  db:\n    params:\n    image",
		    "params: expected a mapping, found null", 's' },
		{ "services:", "reclamation:\n  min_window: 1h30m\nservices:",
		    "min_window", 's' },
		/* what Akash accepts and Lodge cannot honour */
		{ "          - " AUD_A "\n",
		    "          - "
		    "akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63\n",
		    "is an Akash address: Lodge cannot see Akash's audits.  "
		    "Lodge auditors are ed25519 keys, named \"ed25519:<43 "
		    "base64url characters>\"",
		    'l' },
		{ "          - " AUD_B "\n", "          - bob\n",
		    "allOf[0]: \"bob\" is not an auditor key", 'l' },
		{ "        cpu:\n          units: 0.5\n",
		    "        cpu:\n          units: 0.5\n        gpu:\n"
		    "          units: 1\n          attributes:\n            "
		    "vendor:\n              amd:\n",
		    "GPUs of another vendor cannot be asked for", 'l' },
		{ "image: nginx:1.25", "image: \"nginx:bad tag\"",
		    "not a valid image", 'l' },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *y = edit(base, cases[i].from, cases[i].to);
		print_message("case %zu (%c): %s\n", i, cases[i].how,
		    cases[i].want);
		parse_err_flags(y, SDL_PARSE_STRICT, cases[i].want);
		if (cases[i].how == 's')
			parse_warn(y, cases[i].want);
		else
			parse_err(y, cases[i].want);
		if (cases[i].how == 'a')
			parse_err_flags(y, SDL_PARSE_AKASH_GO, cases[i].want);
		else
			assert_int_equal(parse_flags_ok(y, SDL_PARSE_AKASH_GO),
			    0);
		free(y);
	}
}

static void
test_service_name_must_be_a_dns_label(void **state)
{
	char *a = edit(base, "  web:\n    image", "  Web_1:\n    image");
	char *b = edit(a, "deployment:\n  web:", "deployment:\n  Web_1:");

	(void)state;
	parse_err(b, "services.Web_1: service name is not valid");
	free(a);
	free(b);
}

static void
test_error_names_file_line_column_and_path(void **state)
{
	struct sdl_deployment *d = NULL;
	struct sdl_errors errs = { 0 };
	char *y = edit(base, "      - port: 80\n", "      - port: 70000\n");

	(void)state;
	assert_int_equal(sdl_parse_buffer("app.yaml", y, strlen(y), &d, &errs),
	    ERR_INVAL);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.items[0],
	    "app.yaml:11:15: "
	    "services.web.expose[0].port: 70000 is out of range (expected 1 "
	    "to 65535)");
	/* err_msg holds the summary */
	assert_non_null(strstr(err_msg(), "app.yaml:11:15"));
	sdl_errors_free(&errs);
	sdl_errors_free(&errs);
	sdl_errors_free(NULL);
	free(y);
}

static void
test_all_errors_are_reported(void **state)
{
	char *a = edit(base, "      - port: 80\n", "      - port: 0\n");
	char *b = edit(a, "units: 0.5", "units: abc");
	char *c = edit(b, "      count: 2", "      count: 0");
	char *e = edit(c, "denom: uakt", "denom: doge");

	(void)state;
	assert_true(parse_err(e, "port") >= 4);
	free(a);
	free(b);
	free(c);
	free(e);
}

static void
test_parse_without_error_list(void **state)
{
	struct sdl_deployment *d = NULL;

	(void)state;
	assert_int_equal(sdl_parse_buffer("x.yaml", "version: [", 10, &d, NULL),
	    ERR_INVAL);
	assert_null(d);
	assert_non_null(strstr(err_msg(), "x.yaml:"));
	assert_int_equal(sdl_parse_buffer("x.yaml", "", 0, &d, NULL),
	    ERR_INVAL);
	assert_int_not_equal(sdl_parse_file("/nonexistent/sdl.yaml", &d, NULL),
	    0);
	assert_null(d);
}

static void
hash_of(const char *yaml, uint8_t h[32])
{
	struct sdl_deployment *d = parse_ok(yaml);

	assert_int_equal(sdl_manifest_hash(d, h), 0);
	sdl_deployment_free(d);
}

static const char flow[] =
    "# the same deployment as base, written differently\r\n"
    "deployment: {db: {west: {count: 3, profile: db}}, "
    "web: {west: {profile: web, count: 2}}}\r\n"
    "profiles:\r\n"
    "  placement:\r\n"
    "    west:\r\n"
    "      pricing: {db: {amount: 0.50, denom: uakt}, "
    "web: {amount: '100', denom: \"uakt\"}}\r\n"
    "      signedBy: {allOf: [" AUD_B "], anyOf: [" AUD_A "]}\r\n"
    "      attributes: {region: \"us-west\"}\r\n"
    "  compute:\r\n"
    "    db:\r\n"
    "      resources:\r\n"
    "        storage: {size: 2048Mi}\r\n"
    "        memory: {size: \"1073741824\"}\r\n"
    "        cpu: {units: 0.25}\r\n"
    "    web:\r\n"
    "      resources:\r\n"
    "        storage:\r\n"
    "          - {name: data, size: 10240Mi, attributes: "
    "{class: beta2, persistent: true}}\r\n"
    "          - {size: 1024Mi}\r\n"
    "        memory: {size: 0.5Gi}\r\n"
    "        cpu: {units: 500m}\r\n"
    "services:\r\n"
    "  db: {image: \"docker.io/library/postgres:14\", expose: "
    "[{port: 5432, to: [{service: web}]}]}\r\n"
    "  web:\r\n"
    "    dependencies: [{service: db}]\r\n"
    "    params: {storage: {data: {readOnly: false, mount: /var/data}}}\r\n"
    "    expose:\r\n"
    "      - {port: 9000, proto: UDP, to: [{service: db}]}\r\n"
    "      - {port: 80, accept: [example.com], to: [{global: true}], "
    "http_options: {max_body_size: 1048576, next_cases: [timeout, error]}}\r\n"
    "    env: [\"A=1\", \"SECRET=hunter2\"]\r\n"
    "    args: [\"nginx -g 'daemon off;'\"]\r\n"
    "    command: [/bin/sh, -c]\r\n"
    "    image: index.docker.io/library/nginx:1.25\r\n"
    "version: '2.0'\r\n";

static void
test_manifest_hash_is_stable_for_equivalent_files(void **state)
{
	uint8_t h1[32], h2[32], h3[32];
	char *anch;

	(void)state;
	hash_of(base, h1);
	hash_of(flow, h2);
	assert_memory_equal(h1, h2, 32);
	/* anchors and aliases, a merge key, comments */
	anch = edit(base, "    image: postgres:14\n",
	    "    image: &pg postgres:14  # pinned\n");
	{
		char *a2 = edit(anch, "          units: \"250m\"",
		    "          units: 0.250");
		hash_of(a2, h3);
		free(a2);
	}
	assert_memory_equal(h1, h3, 32);
	free(anch);
	/* the Akash JSON view of equivalent files is also equal */
	{
		struct sdl_deployment *a = parse_ok(base), *b = parse_ok(flow);
		json_t *ja, *jb;
		assert_int_equal(sdl_akash_manifest_json(a, &ja), 0);
		assert_int_equal(sdl_akash_manifest_json(b, &jb), 0);
		json_decref(ja);
		json_decref(jb);
		sdl_deployment_free(a);
		sdl_deployment_free(b);
	}
}

static void
test_manifest_hash_changes_with_meaning(void **state)
{
	static const struct {
		const char *from, *to;
	} changes[] = {
		{ "      count: 2", "      count: 3" },
		{ "image: nginx:1.25", "image: nginx:1.26" },
		{ "SECRET=hunter2", "SECRET=hunter3" },
		{ "      - port: 80\n", "      - port: 81\n" },
		{ "amount: 100", "amount: 101" },
		{ "region: us-west", "region: us-east" },
		{ "units: 0.5", "units: 0.6" },
		{ "size: 512Mi", "size: 513Mi" },
		{ "readOnly: false", "readOnly: true" },
		{ "          - " AUD_A, "          - " AUD_C },
		{ "        proto: udp", "        proto: tcp" },
		{ "          - example.com", "          - example.org" },
		{ "args: [\"nginx", "args: [\"nginx2" },
	};
	uint8_t h0[32], h[32];

	(void)state;
	hash_of(base, h0);
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		char *y = edit(base, changes[i].from, changes[i].to);
		hash_of(y, h);
		if (memcmp(h0, h, 32) == 0)
			fail_msg("changing \"%s\" to \"%s\" kept the hash",
			    changes[i].from, changes[i].to);
		free(y);
	}
}

static void
test_manifest_is_canonical_and_holds_env(void **state)
{
	struct sdl_deployment *d = parse_ok(base);
	json_t *m = NULL;
	char *s = NULL;
	size_t len;

	(void)state;
	assert_int_equal(sdl_manifest_json(d, &m), 0);
	assert_int_equal(cjson_dump(m, &s, &len), 0);
	assert_non_null(strstr(s, "\"SECRET\":\"hunter2\""));
	assert_non_null(strstr(s, "\"memory_bytes\":536870912"));
	assert_non_null(strstr(s, "\"cpu_millis\":500"));
	assert_non_null(strstr(s, "\"as\":9000")); /* default filled in */
	free(s);
	json_decref(m);
	sdl_deployment_free(d);
}

static void
test_orders(void **state)
{
	struct sdl_deployment *d = parse_ok(base);
	json_t *o = NULL, *g, *r;
	char *s = NULL;
	size_t len;
	uint8_t h[32];
	char hex[65];

	(void)state;
	assert_int_equal(sdl_orders_json(d, &o), 0);
	assert_int_equal(json_array_size(o), 1);
	g = json_array_get(o, 0);
	assert_string_equal(json_string_value(json_object_get(g, "placement")),
	    "west");
	assert_string_equal(json_string_value(json_object_get(g, "denom")),
	    "uakt");
	/* web: 100 x 2, db: 0.5 rounds up to 1, x 3 */
	assert_int_equal(json_integer_value(json_object_get(g, "max_price")),
	    203);
	r = json_object_get(g, "resources");
	assert_int_equal(json_array_size(r), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(r, 0), "service")),
	    "db");
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(r, 0), "price")),
	    1);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(r, 1), "storage_bytes")),
	    (1LL << 30) + (10LL << 30));
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(r, 1), "cpu_millis")),
	    500);
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(g, "runtimes"), 0)),
	    "oci");
	assert_int_equal(sdl_manifest_hash(d, h), 0);
	{
		static const char digits[] = "0123456789abcdef";
		for (int i = 0; i < 32; i++) {
			hex[2 * i] = digits[h[i] >> 4];
			hex[2 * i + 1] = digits[h[i] & 15];
		}
		hex[64] = '\0';
	}
	assert_string_equal(
	    json_string_value(json_object_get(g, "manifest_hash")), hex);
	assert_int_equal(cjson_dump(o, &s, &len), 0);
	/* env values and commands stay out of what the market sees */
	assert_null(strstr(s, "hunter2"));
	assert_null(strstr(s, "/bin/sh"));
	free(s);
	json_decref(o);
	sdl_deployment_free(d);
}

static void
test_order_runtimes(void **state)
{
	char *a = edit(base, "image: nginx:1.25", "image: host");
	char *b = edit(a, "image: postgres:14", "image: \"wasm+file:db.wasm\"");
	struct sdl_deployment *d = parse_ok(b);
	json_t *o = NULL, *rt;

	(void)state;
	assert_int_equal(sdl_orders_json(d, &o), 0);
	rt = json_object_get(json_array_get(o, 0), "runtimes");
	assert_int_equal(json_array_size(rt), 2);
	assert_string_equal(json_string_value(json_array_get(rt, 0)),
	    "process");
	assert_string_equal(json_string_value(json_array_get(rt, 1)), "wasm");
	json_decref(o);
	sdl_deployment_free(d);
	free(a);
	free(b);
}

static void
test_image_forms(void **state)
{
	static const struct {
		const char *in;
		int kind;
		const char *registry, *name, *tag, *digest;
	} ok[] = {
		{ "nginx", SDL_IMAGE_OCI, "docker.io", "library/nginx",
		    "latest", NULL },
		{ "nginx:1.25", SDL_IMAGE_OCI, "docker.io", "library/nginx",
		    "1.25", NULL },
		{ "org/app:v2", SDL_IMAGE_OCI, "docker.io", "org/app", "v2",
		    NULL },
		{ "ghcr.io/org/app:1.0", SDL_IMAGE_OCI, "ghcr.io", "org/app",
		    "1.0", NULL },
		{ "localhost:5000/a/b", SDL_IMAGE_OCI, "localhost:5000", "a/b",
		    "latest", NULL },
		{ "ghcr.io/org/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae"
		  "41e4649b934ca495991b7852b855",
		    SDL_IMAGE_OCI, "ghcr.io", "org/app", NULL,
		    "sha256:e3b0c44298fc1c149afbf4c8996fb92427"
		    "ae41e4649b934ca495991b7852b855" },
		{ "quay.io/a/b:t@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae"
		  "41e4649b934ca495991b7852b855",
		    SDL_IMAGE_OCI, "quay.io", "a/b", "t",
		    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e"
		    "4649b934ca495991b7852b855" },
		{ "host", SDL_IMAGE_HOST, NULL, NULL, NULL, NULL },
	};
	static const char *const bad[] = { "", "Nginx", "nginx:", "a//b",
		"nginx@sha256:abc", "wasm+https://x.org/m.wasm",
		"wasm+https://x.org/m.wasm#sha256=zz",
		"wasm+http://x.org/m.wasm#sha256=e3b0c44298fc1c149afbf4c8996fb9"
		"2427ae41e4649b934ca495991b7852b855",
		"wasm+file:", "git+https://github.com/a/b",
		"git+https://github.com/a/b#abc",
		"git+ftp://x/y#0123456789abcdef0123456789abcdef01234567",
		"nginx:bad tag" };
	struct sdl_image img;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (sdl_image_parse(ok[i].in, &img))
			fail_msg("%s: %s", ok[i].in, err_msg());
		assert_int_equal(img.kind, ok[i].kind);
		assert_string_equal(img.raw, ok[i].in);
#define SAME(a, b)                                 \
	do {                                       \
		if ((a) || (b)) {                  \
			assert_non_null(a);        \
			assert_non_null(b);        \
			assert_string_equal(a, b); \
		}                                  \
	} while (0)
		SAME(img.oci.registry, ok[i].registry);
		SAME(img.oci.repository, ok[i].name);
		SAME(img.oci.tag, ok[i].tag);
		SAME(img.oci.digest, ok[i].digest);
		sdl_image_clear(&img);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sdl_image_parse(bad[i], &img) == 0)
			fail_msg("\"%s\" accepted as an image", bad[i]);
	assert_int_equal(
	    sdl_image_parse(
	        "wasm+https://cdn.example/f.wasm"
	        "#sha256="
	        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B"
	        "7852B855",
	        &img),
	    0);
	assert_int_equal(img.kind, SDL_IMAGE_WASM_URL);
	assert_string_equal(img.url, "https://cdn.example/f.wasm");
	assert_memory_equal(img.sha256, "e3b0c442", 8);
	assert_int_equal(sdl_image_runtime(&img), SDL_RUNTIME_WASM);
	sdl_image_clear(&img);
	assert_int_equal(sdl_image_parse("wasm+file:fn/app.wasm", &img), 0);
	assert_int_equal(img.kind, SDL_IMAGE_WASM_FILE);
	assert_string_equal(img.url, "fn/app.wasm");
	sdl_image_clear(&img);
	assert_int_equal(
	    sdl_image_parse("git+https://github.com/a/b.git"
	                    "#0123456789ABCDEF0123456789abcdef01234567",
	        &img),
	    0);
	assert_int_equal(img.kind, SDL_IMAGE_GIT);
	assert_string_equal(img.url, "https://github.com/a/b.git");
	assert_string_equal(img.commit,
	    "0123456789abcdef0123456789abcdef01234567");
	assert_int_equal(sdl_image_runtime(&img), SDL_RUNTIME_PROCESS);
	sdl_image_clear(&img);
	/* Akash accepts any name; Lodge keeps an odd one, split loosely */
	assert_int_equal(sdl_image_parse_lenient("MyUser/App:1", &img), 0);
	assert_string_equal(img.oci.repository, "MyUser/App");
	assert_string_equal(img.oci.tag, "1");
	sdl_image_clear(&img);
	sdl_image_clear(NULL);
}

static void
test_yaml_forms(void **state)
{
	/* anchors, merge keys, block scalars, quoted keys, comments */
	static const char y[] =
	    "version: \"2.0\" # comment\n"
	    "services:\n"
	    "  a: &svc\n"
	    "    image: nginx\n"
	    "    command:\n"
	    "      - >-\n"
	    "        folded\n"
	    "        text\n"
	    "    expose: [{port: 80, to: [{global: true}]}]\n"
	    "  \"b\":\n"
	    "    <<: *svc\n"
	    "    image: 'redis'\n"
	    "profiles:\n"
	    "  compute:\n"
	    "    p: {resources: &r {cpu: {units: 1}, memory: {size: 1Gi},"
	    " storage: {size: 1Gi}}}\n"
	    "    q: {resources: *r}\n"
	    "  placement:\n"
	    "    x: {pricing: {p: {denom: uakt, amount: 1}, q: {denom: uakt,"
	    " amount: 2}}}\n"
	    "deployment:\n"
	    "  a: {x: {profile: p, count: 1}}\n"
	    "  b: {x: {profile: q, count: 1}}\n";
	struct sdl_deployment *d = parse_ok(y);

	(void)state;
	assert_string_equal(d->services[0].command.items[0], "folded text");
	assert_string_equal(d->services[1].image.oci.repository,
	    "library/redis");
	assert_int_equal(d->services[1].nexpose, 1);
	assert_int_equal(d->computes[1].memory, 1ULL << 30);
	sdl_deployment_free(d);
}

static void
test_limits(void **state)
{
	struct sdl_deployment *d = NULL;
	size_t n = SDL_MAX_FILE_SIZE + 1;
	char *big = malloc(n);
	char laughs[4096], *p = laughs;

	(void)state;
	assert_non_null(big);
	memset(big, '#', n);
	assert_int_equal(sdl_parse_buffer("big.yaml", big, n, &d, NULL),
	    ERR_LIMIT);
	free(big);
	/* a billion laughs is refused, not expanded */
	p += sprintf(p, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++)
		p += sprintf(p,
		    "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d,"
		    " *a%d, *a%d, *a%d, *a%d]\n",
		    i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
		    i - 1, i - 1, i - 1);
	assert_int_not_equal(
	    sdl_parse_buffer("lol.yaml", laughs, strlen(laughs), &d, NULL), 0);
	assert_non_null(strstr(err_msg(), "too large"));
	/* deep nesting */
	{
		char deep[512];
		memset(deep, '[', 200);
		deep[200] = '\0';
		assert_int_not_equal(
		    sdl_parse_buffer("deep.yaml", deep, strlen(deep), &d, NULL),
		    0);
		assert_non_null(strstr(err_msg(), "nesting"));
	}
	/* a NUL byte */
	assert_int_equal(sdl_parse_buffer("nul.yaml", "a: b\0c", 6, &d, NULL),
	    ERR_INVAL);
}

/* By default Lodge accepts what Akash's Go parser accepts and warns about
 * what only Akash's schema refuses; SDL_PARSE_STRICT refuses it; the Go
 * parser's own checks apply in every mode. */
static void
test_default_is_akash_go_with_warnings(void **state)
{
	char *y = edit(base, "    dependencies:",
	    "    depends_on: [db]\n"
	    "    dependencies:");

	(void)state;
	parse_warn(y,
	    "services.web: unknown field \"depends_on\" (expected "
	    "one of: args, command");
	parse_err_flags(y, SDL_PARSE_STRICT, "unknown field \"depends_on\"");
	assert_int_equal(parse_flags_ok(y, SDL_PARSE_AKASH_GO), 0);
	free(y);
	y = edit(base, "      count: 2", "      count: 0");
	parse_err(y, "count: 0 is out of range");
	parse_err_flags(y, SDL_PARSE_AKASH_GO, "count: 0 is out of range");
	free(y);
}

/* The capabilities an order needs (issue 15): the storage class of each
 * persistent or classed volume, "ip" for an IP endpoint, "network" for
 * service-to-service traffic, sorted. */
static void
test_orders_capabilities(void **state)
{
	char *a =
	    edit(base, "services:", "endpoints:\n  ep: {kind: ip}\nservices:");
	char *y = edit(a, "          - global: true\n      - port: 9000",
	    "          - global: true\n            ip: ep\n"
	    "      - port: 9000");
	struct sdl_deployment *d = parse_ok(y), *d2;
	json_t *o = NULL, *caps;
	char *plain;

	(void)state;
	assert_int_equal(sdl_orders_json(d, &o), 0);
	caps = json_object_get(json_array_get(o, 0), "capabilities");
	/* "network": web exposes a port to db (deployment networks) */
	assert_int_equal(json_array_size(caps), 3);
	assert_string_equal(json_string_value(json_array_get(caps, 0)), "ip");
	assert_string_equal(json_string_value(json_array_get(caps, 1)),
	    "network");
	assert_string_equal(json_string_value(json_array_get(caps, 2)),
	    "storage/beta2");
	json_decref(o);
	sdl_deployment_free(d);
	/* a volume that is neither persistent nor classed needs nothing */
	plain = edit(base,
	    "            attributes:\n              persistent: true\n"
	    "              class: beta2\n",
	    "");
	d2 = parse_ok(plain);
	assert_int_equal(sdl_orders_json(d2, &o), 0);
	caps = json_object_get(json_array_get(o, 0), "capabilities");
	assert_int_equal(json_array_size(caps), 1);
	assert_string_equal(json_string_value(json_array_get(caps, 0)),
	    "network");
	json_decref(o);
	sdl_deployment_free(d2);
	free(plain);
	free(a);
	free(y);
}

/* An unknown field in a service is reported (a warning by default, an
 * error under --strict) and the rest of the service is still built and
 * checked: no false "no service is exposed globally", "must be mounted"
 * or "endpoint declared but never used" (as Redash, matomo, wordpress
 * showed). */
static void
test_unknown_field_keeps_the_service(void **state)
{
	char *a =
	    edit(base, "services:", "endpoints:\n  ep: {kind: ip}\nservices:");
	char *b = edit(a, "          - global: true\n      - port: 9000",
	    "          - global: true\n            ip: ep\n"
	    "      - port: 9000");
	char *y = edit(b, "  web:\n    image: nginx:1.25\n",
	    "  web:\n    restart: always\n    image: nginx:1.25\n");
	struct sdl_deployment *d = NULL;
	struct sdl_errors errs = { 0 };
	const struct sdl_service *web;

	(void)state;
	assert_int_equal(parse_err_flags(y, SDL_PARSE_STRICT,
	                     "services.web: unknown field \"restart\""),
	    1);
	assert_int_equal(sdl_parse_buffer("t.yaml", y, strlen(y), &d, &errs),
	    0);
	assert_int_equal(errs.count, 0);
	assert_int_equal(errs.nwarnings, 1);
	assert_non_null(strstr(errs.warnings[0],
	    "t.yaml:6:5: services.web: warning: unknown field \"restart\""));
	assert_non_null(strstr(errs.warnings[0],
	    "; ignored, as Akash's Go "
	    "parser does"));
	web = sdl_find_service(d, "web");
	assert_string_equal(web->image.oci.repository, "library/nginx");
	assert_int_equal(web->nexpose, 2);
	assert_string_equal(web->expose[0].to[0].ip, "ep");
	assert_int_equal(web->nstorage, 1);
	assert_int_equal(web->env.count, 2);
	sdl_errors_free(&errs);
	sdl_deployment_free(d);
	free(a);
	free(b);
	free(y);
}

/* signedBy names Lodge auditors, ed25519 keys; an Akash address is
 * refused in every Lodge mode with how to name a Lodge auditor (the 139
 * awesome-akash files that name akash1365yvmc4s7awdyj3n2sav7xfx76adc6dn
 * mlx63, packetstream/deploy.yaml among them). */
static void
test_signed_by_akash_address(void **state)
{
	char *y = edit(base, "          - " AUD_A "\n",
	    "          - akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63\n");
	struct sdl_deployment *d = NULL;
	struct sdl_errors errs = { 0 };

	(void)state;
	assert_int_equal(sdl_parse_buffer("t.yaml", y, strlen(y), &d, &errs),
	    ERR_INVAL);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.items[0],
	    "t.yaml:63:13: profiles.placement.west.signedBy.anyOf[0]: "
	    "\"akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63\" is an Akash "
	    "address: Lodge cannot see Akash's audits.  Lodge auditors are "
	    "ed25519 keys, named \"ed25519:<43 base64url characters>\" (the "
	    "key the auditor's `ledger keygen` printed); or remove signedBy");
	sdl_errors_free(&errs);
	parse_err_flags(y, SDL_PARSE_STRICT, "is an Akash address");
	/* what Akash makes of it, for parity */
	assert_int_equal(parse_flags_ok(y, SDL_PARSE_AKASH_GO), 0);
	free(y);
	/* an order names at most 16 auditors (the ledger's limit) */
	{
		char keys[17 * 80] = "", *p = keys;
		for (int i = 0; i < 17; i++)
			p += sprintf(p, "          - ed25519:%c%042d\n",
			    'A' + i, 0);
		for (char *z = keys; *z; z++)
			if (*z == '0')
				*z = 'A';
		y = edit(base, "          - " AUD_A "\n", keys);
		parse_err(y, "anyOf: 17 auditors; an order names at most 16");
		free(y);
	}
}

/* uakt and uact need no word; another Cosmos denomination is the
 * market's to settle or not: a warning (n8n/deploy.yml pays in ibc/...). */
static void
test_denominations(void **state)
{
	static const char *const quiet[] = { "uakt", "uact" };
	char *y;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct sdl_deployment *d = NULL;
		struct sdl_errors errs = { 0 };
		json_t *o = NULL;
		y = edit(base, DENOMS("uakt"),
		    i ? DENOMS("uact") : DENOMS("uakt"));
		assert_int_equal(
		    sdl_parse_buffer("t.yaml", y, strlen(y), &d, &errs), 0);
		assert_int_equal(errs.nwarnings, 0);
		assert_int_equal(parse_flags_ok(y, SDL_PARSE_STRICT), 0);
		assert_int_equal(sdl_orders_json(d, &o), 0);
		assert_string_equal(json_string_value(json_object_get(
		                        json_array_get(o, 0), "denom")),
		    quiet[i]);
		json_decref(o);
		sdl_errors_free(&errs);
		sdl_deployment_free(d);
		free(y);
	}
	y = edit(base, DENOMS("uakt"), DENOMS(IBC));
	parse_warn(y,
	    "unsupported denomination \"" IBC "\" (expected uakt or "
	    "uact)");
	free(y);
}

/* version: 2.0 and 2.1 unquoted are YAML numbers: the message says to
 * quote them, and Akash's reading is kept. */
static void
test_unquoted_version(void **state)
{
	char *y = edit(base, "version: \"2.0\"", "version: 2.1");
	struct sdl_deployment *d = NULL;
	struct sdl_errors errs = { 0 };

	(void)state;
	assert_int_equal(sdl_parse_buffer("t.yaml", y, strlen(y), &d, &errs),
	    0);
	assert_int_equal(d->version, 21);
	assert_int_equal(errs.nwarnings, 1);
	assert_non_null(strstr(errs.warnings[0],
	    "t.yaml:1:10: version: warning: version 2.1 is a number in YAML; "
	    "quote it: version: \"2.1\"; read as \"2.1\""));
	sdl_errors_free(&errs);
	sdl_deployment_free(d);
	parse_err_flags(y, SDL_PARSE_STRICT,
	    "t.yaml:1:10: version: version 2.1 is a number in YAML; quote it: "
	    "version: \"2.1\"");
	free(y);
}

static void
test_akash_groups_merge_profiles_in_v21(void **state)
{
	char *y = edit(base, "version: \"2.0\"", "version: \"2.1\"");
	char *z = edit(y, "      profile: db\n", "      profile: web\n");
	struct sdl_deployment *d20, *d21;
	json_t *g = NULL;

	(void)state;
	/* db now uses a profile with a persistent volume it does not mount:
	 * Akash's Go parser lets that pass */
	assert_int_equal(sdl_parse_buffer_flags("t.yaml", z, strlen(z),
	                     SDL_PARSE_AKASH_GO, &d21, NULL),
	    0);
	free(z);
	free(y);
	y = edit(base, "      profile: db\n", "      profile: web\n");
	/* v2.0: Akash wants the service to mount something */
	z = edit(y, "    image: postgres:14\n",
	    "    image: postgres:14\n"
	    "    params:\n      storage:\n        data:\n"
	    "          mount: /pg\n");
	assert_int_equal(sdl_parse_buffer_flags("t.yaml", z, strlen(z),
	                     SDL_PARSE_AKASH_GO, &d20, NULL),
	    0);
	assert_int_equal(sdl_akash_groups_json(d20, &g), 0);
	assert_int_equal(
	    json_array_size(json_object_get(json_array_get(g, 0), "resources")),
	    2);
	json_decref(g);
	assert_int_equal(sdl_akash_groups_json(d21, &g), 0);
	/* one resource unit, counts added: 3 + 2 */
	assert_int_equal(
	    json_array_size(json_object_get(json_array_get(g, 0), "resources")),
	    1);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_array_get(
	            json_object_get(json_array_get(g, 0), "resources"), 0),
	        "count")),
	    5);
	json_decref(g);
	sdl_deployment_free(d20);
	sdl_deployment_free(d21);
	free(y);
	free(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_of_the_base_file),
		cmocka_unit_test(test_fields_of_v21_file),
		cmocka_unit_test(test_size_units),
		cmocka_unit_test(test_cpu_units),
		cmocka_unit_test(test_decimal_and_duration),
		cmocka_unit_test(test_unit_forms_in_documents),
		cmocka_unit_test(test_validation_errors),
		cmocka_unit_test(test_service_name_must_be_a_dns_label),
		cmocka_unit_test(test_error_names_file_line_column_and_path),
		cmocka_unit_test(test_all_errors_are_reported),
		cmocka_unit_test(test_parse_without_error_list),
		cmocka_unit_test(
		    test_manifest_hash_is_stable_for_equivalent_files),
		cmocka_unit_test(test_manifest_hash_changes_with_meaning),
		cmocka_unit_test(test_manifest_is_canonical_and_holds_env),
		cmocka_unit_test(test_orders),
		cmocka_unit_test(test_order_runtimes),
		cmocka_unit_test(test_image_forms),
		cmocka_unit_test(test_yaml_forms),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_default_is_akash_go_with_warnings),
		cmocka_unit_test(test_unknown_field_keeps_the_service),
		cmocka_unit_test(test_orders_capabilities),
		cmocka_unit_test(test_signed_by_akash_address),
		cmocka_unit_test(test_denominations),
		cmocka_unit_test(test_unquoted_version),
		cmocka_unit_test(test_akash_groups_merge_profiles_in_v21),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
