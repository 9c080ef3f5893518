/*
 * test_image: the image library without a real registry: reference
 * parsing, manifests, indexes and platform choice, configs,
 * WWW-Authenticate and token answers, hostile layers built here with
 * libarchive's writer, the cache and its collection, and pulls from a
 * small registry served in-process (auth, redirects, mirrors, a corrupted
 * blob, concurrent pulls of one layer).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/http.h"
#include "common/util.h"
#include "image/auth.h"
#include "image/cache.h"
#include "image/internal.h"
#include "image/manifest.h"
#include "image/pull.h"
#include "image/ref.h"
#include "image/unpack.h"

/* a string literal and its length */
#define LIT(s) s, strlen(s)

#define HEX64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define D0 "sha256:" HEX64
#define D1        \
	"sha256:" \
	"1111111111111111111111111111111111111111111111111111111111111111"
#define D2        \
	"sha256:" \
	"2222222222222222222222222222222222222222222222222222222222222222"
#define D3        \
	"sha256:" \
	"3333333333333333333333333333333333333333333333333333333333333333"

/* ---- references ------------------------------------------------------ */

static void
test_ref_resolves_names_as_docker(void **state)
{
	static const struct {
		const char *in, *registry, *repo, *tag, *digest, *canon;
	} ok[] = {
		{ "nginx", "docker.io", "library/nginx", "latest", NULL,
		    "docker.io/library/nginx:latest" },
		{ "nginx:1.25", "docker.io", "library/nginx", "1.25", NULL,
		    NULL },
		{ "user/app:tag", "docker.io", "user/app", "tag", NULL, NULL },
		{ "docker.io/nginx", "docker.io", "library/nginx", "latest",
		    NULL, NULL },
		{ "index.docker.io/library/redis:7", "docker.io",
		    "library/redis", "7", NULL, NULL },
		{ "ghcr.io/org/app:1.0", "ghcr.io", "org/app", "1.0", NULL,
		    NULL },
		{ "localhost/app", "localhost", "app", "latest", NULL, NULL },
		{ "127.0.0.1:5000/a/b/c@" D0, "127.0.0.1:5000", "a/b/c", NULL,
		    D0, "127.0.0.1:5000/a/b/c@" D0 },
		{ "host:5000/path:v1@" D0, "host:5000", "path", "v1", D0,
		    NULL },
		{ "[::1]:5000/x", "[::1]:5000", "x", "latest", NULL, NULL },
	};
	static const char *const bad[] = { "", "Nginx", "nginx:", "a//b",
		"nginx@sha256:abc", "nginx:bad tag", "-x/y", "a/B",
		"host:port/x" };
	struct image_ref r;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (image_ref_parse(ok[i].in, &r))
			fail_msg("%s: %s", ok[i].in, err_msg());
		assert_string_equal(r.registry, ok[i].registry);
		assert_string_equal(r.repository, ok[i].repo);
		if (ok[i].tag)
			assert_string_equal(r.tag, ok[i].tag);
		else
			assert_null(r.tag);
		if (ok[i].digest)
			assert_string_equal(r.digest, ok[i].digest);
		else
			assert_null(r.digest);
		if (ok[i].canon) {
			char *s = image_ref_string(&r);
			assert_string_equal(s, ok[i].canon);
			free(s);
		}
		image_ref_clear(&r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (image_ref_parse(bad[i], &r) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_null(r.registry);
	}
	assert_int_equal(image_ref_parse("nginx:bad tag", &r), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "image tag \"bad tag\""));
	assert_int_equal(image_ref_parse_lenient("MyUser/App:1", &r), 0);
	assert_string_equal(r.repository, "MyUser/App");
	image_ref_clear(&r);
	assert_int_equal(image_ref_parse_lenient("a b", &r), ERR_INVAL);
	image_ref_clear(&r);
	image_ref_clear(NULL);
}

/* ---- manifests ------------------------------------------------------- */

static const char oci_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_OCI_INDEX "\","
    "\"manifests\":["
    "{\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\","
    "\"size\":10,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\","
    "\"variant\":\"v8\"}},"
    "{\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\","
    "\"size\":11,\"platform\":{\"os\":\"linux\",\"architecture\":"
    "\"amd64\"}},"
    "{\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST "\",\"digest\":\"" D3 "\","
    "\"size\":12,\"platform\":{\"os\":\"unknown\",\"architecture\":"
    "\"unknown\"}}]}";

static const char docker_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_DOCKER_MANIFEST "\","
    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+"
    "json\",\"digest\":\"" D1 "\",\"size\":7},"
    "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff."
    "tar.gzip\",\"digest\":\"" D2 "\",\"size\":100},"
    "{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
    "\"digest\":\"" D3 "\",\"size\":200}]}";

static void
test_manifest_parses_index_and_manifest(void **state)
{
	struct image_manifest m;

	(void)state;
	assert_int_equal(image_manifest_parse(IMAGE_MT_OCI_INDEX, oci_index,
	                     strlen(oci_index), &m),
	    0);
	assert_int_equal(m.kind, IMAGE_DOC_INDEX);
	assert_int_equal(m.n_manifests, 3);
	assert_string_equal(m.manifests[0].architecture, "arm64");
	assert_string_equal(m.manifests[1].variant, "");
	assert_int_equal(m.manifests[2].size, 12);
	image_manifest_clear(&m);
	/* the Content-Type's parameters are ignored; no Content-Type at all
	 * falls back on the document's mediaType */
	assert_int_equal(image_manifest_parse(IMAGE_MT_DOCKER_MANIFEST
	                     "; charset=utf-8",
	                     docker_manifest, strlen(docker_manifest), &m),
	    0);
	assert_int_equal(m.kind, IMAGE_DOC_MANIFEST);
	assert_int_equal(m.n_layers, 2);
	assert_string_equal(m.config.digest, D1);
	assert_int_equal(m.layers[1].size, 200);
	image_manifest_clear(&m);
	assert_int_equal(image_manifest_parse(NULL, docker_manifest,
	                     strlen(docker_manifest), &m),
	    0);
	assert_string_equal(m.media_type, IMAGE_MT_DOCKER_MANIFEST);
	image_manifest_clear(&m);
	/* an OCI manifest without mediaType, served as application/json */
	{
		const char *s =
		    "{\"schemaVersion\":2,\"config\":{\"mediaType\":"
		    "\"a/b\",\"digest\":\"" D1 "\",\"size\":1},"
		    "\"layers\":[]}";
		assert_int_equal(
		    image_manifest_parse("application/json", s, strlen(s), &m),
		    0);
		assert_string_equal(m.media_type, IMAGE_MT_OCI_MANIFEST);
		assert_int_equal(m.n_layers, 0);
		image_manifest_clear(&m);
	}
}

static void
expect_manifest_error(const char *ct, const char *body, int code,
    const char *needle)
{
	struct image_manifest m;
	int rc = image_manifest_parse(ct, body, strlen(body), &m);

	if (rc != code)
		fail_msg("%s: got %d (%s), want %d", body, rc, err_msg(), code);
	if (!strstr(err_msg(), needle))
		fail_msg("%s: message \"%s\" lacks \"%s\"", body, err_msg(),
		    needle);
	assert_null(m.media_type);
}

static void
test_manifest_refuses_what_it_cannot_trust(void **state)
{
	(void)state;
	expect_manifest_error(
	    "application/vnd.docker.distribution.manifest.v1+prettyjws", "{}",
	    ERR_REJECT, "schema 1");
	expect_manifest_error(NULL, "{\"schemaVersion\":1}", ERR_INVAL,
	    "schemaVersion");
	expect_manifest_error(NULL, "[1]", ERR_INVAL, "JSON object");
	expect_manifest_error(NULL, "{\"schemaVersion\":2,", ERR_INVAL,
	    "not valid JSON");
	expect_manifest_error(NULL, "{\"schemaVersion\":2,\"schemaVersion\":2}",
	    ERR_INVAL, "not valid JSON");
	expect_manifest_error(IMAGE_MT_OCI_INDEX, docker_manifest, ERR_INVAL,
	    "served as");
	expect_manifest_error(NULL,
	    "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_OCI_INDEX "\","
	    "\"manifests\":[],\"layers\":[]}",
	    ERR_INVAL, "an index with");
	expect_manifest_error(NULL,
	    "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST
	    "\",\"config\":{\"mediaType\":\"a\",\"digest\":\"sha256:AB\","
	    "\"size\":1},\"layers\":[]}",
	    ERR_INVAL, "config.digest");
	expect_manifest_error(NULL,
	    "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST
	    "\",\"config\":{\"mediaType\":\"a\",\"digest\":\"" D1 "\","
	    "\"size\":-1},\"layers\":[]}",
	    ERR_INVAL, "config.size");
	expect_manifest_error(NULL,
	    "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST
	    "\",\"config\":{\"mediaType\":\"a\",\"digest\":\"" D1 "\","
	    "\"size\":1},\"layers\":[{\"mediaType\":\"a\",\"digest\":"
	    "\"sha512:00\",\"size\":1}]}",
	    ERR_INVAL, "layers[0].digest");
	expect_manifest_error(NULL,
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.artifact"
	    ".manifest.v1+json\"}",
	    ERR_REJECT, "not an image index or manifest");
}

static void
test_index_chooses_the_host_platform(void **state)
{
	struct image_platform amd64 = { "linux", "amd64", NULL };
	struct image_platform arm64 = { "linux", "arm64", NULL };
	struct image_platform arm64v8 = { "linux", "arm64", "v8" };
	struct image_platform armv7 = { "linux", "arm", "v7" };
	struct image_platform host;
	const struct image_descriptor *d;
	struct image_manifest m;

	(void)state;
	assert_int_equal(
	    image_manifest_parse(NULL, oci_index, strlen(oci_index), &m), 0);
	assert_int_equal(image_index_choose(&m, &amd64, &d), 0);
	assert_string_equal(d->digest, D2);
	assert_int_equal(image_index_choose(&m, &arm64, &d), 0);
	assert_string_equal(d->digest, D1);
	assert_int_equal(image_index_choose(&m, &arm64v8, &d), 0);
	assert_string_equal(d->digest, D1);
	assert_int_equal(image_index_choose(&m, &armv7, &d), ERR_NOTFOUND);
	assert_non_null(strstr(err_msg(), "no linux/arm/v7 image"));
	assert_non_null(strstr(err_msg(), "linux/arm64/v8, linux/amd64"));
	image_platform_host(&host);
	assert_string_equal(host.os, "linux");
#if defined(__x86_64__)
	assert_string_equal(host.architecture, "amd64");
#elif defined(__aarch64__)
	assert_string_equal(host.architecture, "arm64");
#endif
	image_manifest_clear(&m);
}

static void
test_config_gives_what_a_runtime_needs(void **state)
{
	static const char cfg[] =
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
	    "\"Entrypoint\":[\"/docker-entrypoint.sh\"],"
	    "\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"],"
	    "\"Env\":[\"PATH=/usr/bin\",\"NGINX_VERSION=1.25.3\"],"
	    "\"WorkingDir\":\"/srv\",\"User\":\"101:101\","
	    "\"ExposedPorts\":{\"443/tcp\":{},\"80/tcp\":{},\"53/udp\":{},"
	    "\"8080\":{}},\"Labels\":{\"a\":\"b\"}},"
	    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\"]},"
	    "\"history\":[{\"created\":\"2024-01-01T00:00:00Z\"}]}";
	struct image_config c;

	(void)state;
	assert_int_equal(image_config_parse(cfg, strlen(cfg), &c), 0);
	assert_string_equal(c.architecture, "amd64");
	assert_int_equal(c.n_entrypoint, 1);
	assert_string_equal(c.entrypoint[0], "/docker-entrypoint.sh");
	assert_null(c.entrypoint[1]);
	assert_int_equal(c.n_cmd, 3);
	assert_string_equal(c.cmd[2], "daemon off;");
	assert_int_equal(c.n_env, 2);
	assert_string_equal(c.working_dir, "/srv");
	assert_string_equal(c.user, "101:101");
	assert_int_equal(c.n_ports, 4);
	assert_int_equal(c.ports[0].port, 53);
	assert_string_equal(c.ports[0].proto, "udp");
	assert_int_equal(c.ports[1].port, 80);
	assert_int_equal(c.ports[3].port, 8080);
	assert_string_equal(c.ports[3].proto, "tcp");
	assert_int_equal(c.n_diff_ids, 1);
	image_config_clear(&c);
	/* a config with nothing but the rootfs is valid */
	assert_int_equal(image_config_parse(LIT("{}"), &c), 0);
	assert_null(c.entrypoint);
	assert_null(c.working_dir);
	image_config_clear(&c);
	assert_int_equal(
	    image_config_parse(LIT("{\"config\":{\"Env\":[\"X\"]}}"), &c),
	    ERR_INVAL);
	assert_non_null(strstr(err_msg(), "config.Env[0]"));
	assert_int_equal(
	    image_config_parse(
	        LIT("{\"config\":{\"ExposedPorts\":{\"0/tcp\":{}}}}"), &c),
	    ERR_INVAL);
	assert_non_null(strstr(err_msg(), "ExposedPorts"));
	assert_int_equal(
	    image_config_parse(LIT("{\"config\":{\"Cmd\":\"sh\"}}"), &c),
	    ERR_INVAL);
	assert_int_equal(
	    image_config_parse(LIT("{\"config\":{\"Cmd\":[\"a\\u0000b"
	                           "\"]}}"),
	        &c),
	    ERR_INVAL);
	assert_non_null(strstr(err_msg(), "NUL"));
}

/* ---- auth ------------------------------------------------------------ */

static void
test_www_authenticate_is_parsed(void **state)
{
	struct image_challenge *c;
	size_t n;

	(void)state;
	assert_int_equal(
	    image_auth_parse_challenges(
	        "Bearer realm=\"https://auth.docker.io/token\","
	        "service=\"registry.docker.io\",scope=\"repository:"
	        "library/nginx:pull\"",
	        &c, &n),
	    0);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].scheme, "bearer");
	assert_string_equal(c[0].realm, "https://auth.docker.io/token");
	assert_string_equal(c[0].service, "registry.docker.io");
	assert_string_equal(c[0].scope, "repository:library/nginx:pull");
	image_auth_challenges_free(c, n);
	/* two challenges, odd spacing, an escape, a token68, unknown
	 * parameters */
	assert_int_equal(
	    image_auth_parse_challenges(
	        "Negotiate abc+/==, Basic  realm = \"a \\\"q\\\" b\" "
	        ", charset=UTF-8 , BEARER realm=tok,error=x",
	        &c, &n),
	    0);
	assert_int_equal(n, 3);
	assert_string_equal(c[0].scheme, "negotiate");
	assert_null(c[0].realm);
	assert_string_equal(c[1].scheme, "basic");
	assert_string_equal(c[1].realm, "a \"q\" b");
	assert_string_equal(c[2].scheme, "bearer");
	assert_string_equal(c[2].realm, "tok");
	assert_null(c[2].scope);
	image_auth_challenges_free(c, n);
	assert_int_equal(image_auth_parse_challenges("Basic", &c, &n), 0);
	assert_int_equal(n, 1);
	image_auth_challenges_free(c, n);

	assert_int_equal(
	    image_auth_parse_challenges("Bearer realm=\"x", &c, &n), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "not closed"));
	assert_int_equal(
	    image_auth_parse_challenges("Bearer realm=a, realm=b", &c, &n),
	    ERR_INVAL);
	assert_non_null(strstr(err_msg(), "repeated"));
	assert_int_equal(image_auth_parse_challenges("", &c, &n), ERR_INVAL);
	assert_int_equal(image_auth_parse_challenges("=x", &c, &n), ERR_INVAL);
	assert_int_equal(
	    image_auth_parse_challenges("Bearer realm=a b=c", &c, &n),
	    ERR_INVAL);
	assert_int_equal(
	    image_auth_parse_challenges("Bearer realm=\"a\nb\"", &c, &n),
	    ERR_INVAL);
}

static void
test_credentials_match_registry_hosts(void **state)
{
	struct image_credential creds[] = {
		{ "https://index.docker.io/v1/", "hub", "p1" },
		{ "GHCR.io", "gh", "p2" },
		{ "127.0.0.1:5000", "local", "p3" },
	};
	char *b = NULL, *tok = NULL;

	(void)state;
	assert_ptr_equal(image_auth_find(creds, 3, "docker.io"), &creds[0]);
	assert_ptr_equal(image_auth_find(creds, 3, "ghcr.io"), &creds[1]);
	assert_ptr_equal(image_auth_find(creds, 3, "127.0.0.1:5000"),
	    &creds[2]);
	assert_null(image_auth_find(creds, 3, "127.0.0.1:5001"));
	assert_null(image_auth_find(creds, 3, "quay.io"));
	assert_int_equal(image_auth_basic(&creds[2], &b), 0);
	assert_string_equal(b, "Basic bG9jYWw6cDM="); /* local:p3 */
	free(b);
	{
		struct image_credential bad = { "h", "a:b", "secretpw" };
		assert_int_equal(image_auth_basic(&bad, &b), ERR_INVAL);
		assert_null(strstr(err_msg(), "secretpw"));
	}
	assert_int_equal(
	    image_auth_token_parse(LIT("{\"token\":\"abc.def\"}"), &tok), 0);
	assert_string_equal(tok, "abc.def");
	free(tok);
	assert_int_equal(
	    image_auth_token_parse(
	        LIT("{\"access_token\":\"xyz\",\"expires_in\":300}"), &tok),
	    0);
	assert_string_equal(tok, "xyz");
	free(tok);
	assert_int_equal(
	    image_auth_token_parse(LIT("{\"token\":\"a\\r\\nX: y\"}"), &tok),
	    ERR_INVAL);
	assert_int_equal(image_auth_token_parse(LIT("{}"), &tok), ERR_INVAL);
	assert_int_equal(image_auth_token_parse(LIT("nope"), &tok), ERR_INVAL);
}

/* ---- layers ---------------------------------------------------------- */

static char tmp_root[] = "/tmp/lodge-image-test-XXXXXX";

struct ent {
	char type; /* f d l h c b p */
	const char *path;
	mode_t perm;
	const char *data; /* file data, or link target */
	size_t size; /* of zero bytes, when data is NULL (f) */
};

/* Write a tar layer to file with libarchive's writer: filter "gzip",
 * "zstd" or "none". */
static void
make_layer(const char *file, const char *filter, const struct ent *e, size_t n)
{
	struct archive *a = archive_write_new();
	static char zeros[1 << 16];

	assert_non_null(a);
	assert_int_equal(archive_write_set_format_pax_restricted(a), 0);
	if (strcmp(filter, "gzip") == 0) {
		assert_int_equal(archive_write_add_filter_gzip(a), 0);
		archive_write_set_filter_option(a, "gzip", "compression-level",
		    "1");
		/* no time in the gzip header: the same layer made twice is
		 * the same blob (two registries serving one image) */
		assert_int_equal(archive_write_set_filter_option(a, "gzip",
		                     "timestamp", NULL),
		    ARCHIVE_OK);
	} else if (strcmp(filter, "zstd") == 0) {
		assert_int_equal(archive_write_add_filter_zstd(a), 0);
	}
	assert_int_equal(archive_write_open_filename(a, file), 0);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t size = 0;

		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_perm(ae, e[i].perm ? e[i].perm : 0644);
		archive_entry_set_mtime(ae, 1700000000, 0);
		archive_entry_set_uid(ae, 0);
		archive_entry_set_gid(ae, 0);
		switch (e[i].type) {
		case 'f':
			archive_entry_set_filetype(ae, AE_IFREG);
			size = e[i].data ? strlen(e[i].data) : e[i].size;
			archive_entry_set_size(ae, (la_int64_t)size);
			break;
		case 'd':
			archive_entry_set_filetype(ae, AE_IFDIR);
			break;
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, e[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, e[i].data);
			archive_entry_set_size(ae, 0);
			break;
		case 'c':
		case 'b':
			archive_entry_set_filetype(ae,
			    e[i].type == 'c' ? AE_IFCHR : AE_IFBLK);
			archive_entry_set_rdev(ae, makedev(1, 3));
			break;
		case 'p':
			archive_entry_set_filetype(ae, AE_IFIFO);
			break;
		}
		assert_int_equal(archive_write_header(a, ae), 0);
		if (e[i].type == 'f' && e[i].data)
			assert_int_equal(archive_write_data(a, e[i].data, size),
			    (la_ssize_t)size);
		else if (e[i].type == 'f')
			for (size_t left = size; left;) {
				size_t k =
				    left < sizeof(zeros) ? left : sizeof(zeros);
				assert_int_equal(
				    archive_write_data(a, zeros, k),
				    (la_ssize_t)k);
				left -= k;
			}
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), 0);
	archive_write_free(a);
}

/* A fresh empty directory under the test's root. */
static void
fresh_dir(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tmp_root, name);
	util_rm_tree(buf);
	assert_int_equal(util_mkdirs(buf, 0755), 0);
}

static int
unpack(const char *name, const char *filter, const struct ent *e, size_t n,
    const struct image_unpack_limits *lim, struct image_unpack_report *rep,
    char *dest, size_t cap)
{
	char file[512];

	snprintf(file, sizeof(file), "%s/%s.tar", tmp_root, name);
	make_layer(file, filter, e, n);
	fresh_dir(dest, cap, name);
	return image_unpack_layer(file, dest, lim, rep);
}

static bool
exists_in(const char *dir, const char *rel, struct stat *st)
{
	char p[1024];
	struct stat tmp;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, st ? st : &tmp) == 0;
}

static void
test_unpack_builds_an_overlay_lower_dir(void **state)
{
	const struct ent e[] = {
		{ 'd', "./etc/", 0755, NULL, 0 },
		{ 'f', "./etc/passwd", 0644, "root:x:0:0::/root:/bin/sh\n", 0 },
		{ 'h', "./etc/passwd-", 0, "etc/passwd", 0 },
		{ 'l', "./etc/mtab", 0, "/proc/mounts", 0 },
		{ 'f', "usr/bin/tool", 04755, "#!/bin/sh\n", 0 },
		{ 'd', "var/lib/", 02775, NULL, 0 },
		{ 'f', "var/lib/.wh.old", 0, NULL, 0 },
		{ 'f', "var/cache/.wh..wh..opq", 0, NULL, 0 },
		{ 'f', "var/cache/new", 0600, "n", 0 },
		{ 'f', ".wh.kept", 0, NULL, 0 },
		{ 'f', "kept", 0644, "layer's own", 0 },
		{ 'f', "kept2", 0644, "layer's own", 0 },
		{ 'f', ".wh.kept2", 0, NULL, 0 },
		{ 'f', ".wh..wh.plnk", 0, NULL, 0 },
		{ 'p', "run/fifo", 0600, NULL, 0 },
		{ 'd', "ro", 0555, NULL, 0 },
		{ 'f', "ro/file", 0444, "x", 0 },
		{ 'c', "dev/null", 0666, NULL, 0 },
		{ 'b', "dev/sda", 0660, NULL, 0 },
	};
	struct image_unpack_report rep;
	char dest[512], val[8];
	struct stat a, b;

	(void)state;
	if (unpack("good", "gzip", e, sizeof(e) / sizeof(e[0]), NULL, &rep,
	        dest, sizeof(dest)))
		fail_msg("%s", err_msg());
	assert_true(exists_in(dest, "etc/passwd", &a));
	assert_true(exists_in(dest, "etc/passwd-", &b));
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_nlink, 2);
	assert_int_equal(a.st_mtime, 1700000000);
	{
		char link[64] = "";
		char p[600];
		snprintf(p, sizeof(p), "%s/etc/mtab", dest);
		assert_int_equal(readlink(p, link, sizeof(link) - 1), 12);
		assert_string_equal(link, "/proc/mounts");
	}
	/* setuid and setgid bits are gone */
	assert_true(exists_in(dest, "usr/bin/tool", &a));
	assert_int_equal(a.st_mode & 07777, 0755);
	assert_true(exists_in(dest, "var/lib", &a));
	assert_int_equal(a.st_mode & 07777, 0775);
	assert_int_equal(rep.setid_stripped, 2);
	/* the parents the archive left out are made 0755 */
	assert_true(exists_in(dest, "usr/bin", &a));
	assert_int_equal(a.st_mode & 07777, 0755);
	/* a whiteout is a 0/0 character device of the name */
	assert_true(exists_in(dest, "var/lib/old", &a));
	assert_true(S_ISCHR(a.st_mode));
	assert_int_equal(a.st_rdev, makedev(0, 0));
	assert_false(exists_in(dest, "var/lib/.wh.old", NULL));
	/* an opaque dir carries the overlay xattr */
	{
		char p[600];
		snprintf(p, sizeof(p), "%s/var/cache", dest);
		assert_int_equal(
		    getxattr(p, "user.overlay.opaque", val, sizeof(val)), 1);
		assert_int_equal(val[0], 'y');
		if (geteuid() == 0)
			assert_int_equal(getxattr(p, "trusted.overlay.opaque",
			                     val, sizeof(val)),
			    1);
	}
	assert_false(exists_in(dest, "var/cache/.wh..wh..opq", NULL));
	assert_true(exists_in(dest, "var/cache/new", NULL));
	/* a whiteout does not hide the layer's own entry */
	assert_true(exists_in(dest, "kept", &a));
	assert_true(S_ISREG(a.st_mode));
	assert_true(exists_in(dest, "kept2", &a));
	assert_true(S_ISREG(a.st_mode));
	assert_false(exists_in(dest, ".wh..wh.plnk", NULL));
	assert_true(exists_in(dest, "run/fifo", &a));
	assert_true(S_ISFIFO(a.st_mode));
	/* a read-only dir gets its mode after its files */
	assert_true(exists_in(dest, "ro", &a));
	assert_int_equal(a.st_mode & 07777, 0555);
	assert_true(exists_in(dest, "ro/file", NULL));
	/* devices are not created, and said so */
	assert_false(exists_in(dest, "dev/null", NULL));
	assert_false(exists_in(dest, "dev/sda", NULL));
	assert_int_equal(rep.n_skipped, 2);
	assert_string_equal(rep.skipped[0],
	    "dev/null: character device 1:3 not created");
	assert_string_equal(rep.skipped[1],
	    "dev/sda: block device 1:3 not created");
	/* made: var/lib/old, and kept (which the file then replaced) */
	assert_int_equal(rep.whiteouts, 2);
	assert_int_equal(rep.opaques, 1);
	assert_int_equal(rep.entries, 19);
	image_unpack_report_clear(&rep);
}

/* Each hostile layer fails (or is harmless) and writes nothing outside
 * its root: the sentinel dir beside it stays empty. */
static void
expect_refused(const char *name, const struct ent *e, size_t n, int code,
    const char *needle)
{
	char dest[512], outside[512];
	struct image_unpack_report rep;
	int rc;

	fresh_dir(outside, sizeof(outside), "outside");
	rc = unpack(name, "none", e, n, NULL, &rep, dest, sizeof(dest));
	if (rc != code)
		fail_msg("%s: got %d (%s), want %d", name, rc, err_msg(), code);
	if (needle && !strstr(err_msg(), needle))
		fail_msg("%s: \"%s\" lacks \"%s\"", name, err_msg(), needle);
	assert_false(exists_in(outside, "pwned", NULL));
	assert_false(exists_in(tmp_root, "pwned", NULL));
	image_unpack_report_clear(&rep);
}

static void
test_unpack_refuses_hostile_layers(void **state)
{
	char abs_outside[600];

	(void)state;
	snprintf(abs_outside, sizeof(abs_outside), "%s/outside", tmp_root);
	{
		const struct ent e[] = { { 'f', "../outside/pwned", 0644, "x",
		    0 } };
		expect_refused("dotdot", e, 1, ERR_INVAL, "\"..\"");
	}
	{
		const struct ent e[] = { { 'f', "a/../../pwned", 0644, "x",
		    0 } };
		expect_refused("dotdot2", e, 1, ERR_INVAL, "\"..\"");
	}
	{
		char abs_file[700];
		snprintf(abs_file, sizeof(abs_file), "%s/pwned", abs_outside);
		const struct ent e[] = { { 'f', abs_file, 0644, "x", 0 } };
		expect_refused("absolute", e, 1, ERR_INVAL, "absolute path");
	}
	{
		/* an absolute symlink out, then a write through it */
		const struct ent e[] = {
			{ 'l', "escape", 0, abs_outside, 0 },
			{ 'f', "escape/pwned", 0644, "x", 0 },
		};
		expect_refused("symlink-abs", e, 2, ERR_INVAL, "symlink");
	}
	{
		/* a relative symlink out, a directory inside it */
		const struct ent e[] = {
			{ 'l', "up", 0, "../outside", 0 },
			{ 'd', "up/pwned", 0755, NULL, 0 },
		};
		expect_refused("symlink-rel", e, 2, ERR_INVAL, "symlink");
	}
	{
		/* a symlink deep in the path */
		const struct ent e[] = {
			{ 'd', "a", 0755, NULL, 0 },
			{ 'l', "a/b", 0, "/", 0 },
			{ 'f', "a/b/tmp/pwned", 0644, "x", 0 },
		};
		expect_refused("symlink-deep", e, 3, ERR_INVAL, "symlink");
	}
	{
		/* a hard link to a file outside, by ".." and through a
		 * symlink */
		const struct ent e[] = { { 'h', "pwned", 0, "../../etc/passwd",
		    0 } };
		expect_refused("hardlink-dotdot", e, 1, ERR_INVAL, "\"..\"");
	}
	{
		const struct ent e[] = {
			{ 'l', "etc", 0, "/etc", 0 },
			{ 'h', "pwned", 0, "etc/passwd", 0 },
		};
		expect_refused("hardlink-symlink", e, 2, ERR_INVAL, "symlink");
	}
	{
		const struct ent e[] = { { 'h', "pwned", 0, "nothere", 0 } };
		expect_refused("hardlink-missing", e, 1, ERR_INVAL,
		    "not in the layer");
	}
	{
		/* a file entry named as an earlier symlink replaces the link
		 * and never writes through it */
		char target[700];
		const struct ent e[] = {
			{ 'l', "f", 0, target, 0 },
			{ 'f', "f", 0644, "inside", 0 },
		};
		char dest[512];
		struct stat st;

		snprintf(target, sizeof(target), "%s/pwned", abs_outside);
		expect_refused("symlink-replaced", e, 2, 0, NULL);
		snprintf(dest, sizeof(dest), "%s/symlink-replaced", tmp_root);
		assert_true(exists_in(dest, "f", &st));
		assert_true(S_ISREG(st.st_mode));
	}
	{
		const struct ent e[] = { { 'f', "a/.wh...", 0, NULL, 0 } };
		expect_refused("whiteout-dotdot", e, 1, ERR_INVAL, "whiteout");
	}
}

static void
test_unpack_stops_a_decompression_bomb(void **state)
{
	/* 64 MiB of zeros compress to about 64 KiB */
	const struct ent big[] = { { 'f', "zeros", 0644, NULL, 64u << 20 } };
	const struct ent many[] = {
		{ 'f', "a", 0644, "1", 0 },
		{ 'f', "b", 0644, "2", 0 },
		{ 'f', "c", 0644, "3", 0 },
	};
	struct image_unpack_limits lim = { .max_bytes = 1u << 20,
		.max_entries = IMAGE_UNPACK_UNLIMITED };
	struct image_unpack_report rep;
	char dest[512], file[600];
	struct stat st;
	uint64_t t0 = util_mono_ns();

	(void)state;
	assert_int_equal(
	    unpack("bomb", "gzip", big, 1, &lim, &rep, dest, sizeof(dest)),
	    ERR_LIMIT);
	assert_non_null(strstr(err_msg(), "more than 1048576 bytes"));
	/* refused from the header: nothing of it was written */
	assert_false(exists_in(dest, "zeros", NULL));
	snprintf(file, sizeof(file), "%s/bomb.tar", tmp_root);
	assert_int_equal(stat(file, &st), 0);
	assert_true(st.st_size < (1 << 20));
	image_unpack_report_clear(&rep);
	lim.max_bytes = IMAGE_UNPACK_UNLIMITED;
	lim.max_entries = 2;
	assert_int_equal(
	    unpack("inodes", "gzip", many, 3, &lim, &rep, dest, sizeof(dest)),
	    ERR_LIMIT);
	assert_non_null(strstr(err_msg(), "more than 2 entries"));
	image_unpack_report_clear(&rep);
	/* the same within its limit, compressed with zstd */
	lim.max_entries = 3;
	lim.max_bytes = 3;
	assert_int_equal(
	    unpack("zstd", "zstd", many, 3, &lim, &rep, dest, sizeof(dest)), 0);
	assert_true(exists_in(dest, "c", NULL));
	assert_int_equal(rep.data_bytes, 3);
	image_unpack_report_clear(&rep);
	/* no budget left: a layer of directories still fits, data not */
	{
		const struct ent dirs[] = { { 'd', "a", 0755, NULL, 0 } };
		lim.max_bytes = 0;
		assert_int_equal(unpack("nobudget", "none", dirs, 1, &lim, &rep,
		                     dest, sizeof(dest)),
		    0);
		image_unpack_report_clear(&rep);
		assert_int_equal(unpack("nobudget2", "none", many, 1, &lim,
		                     &rep, dest, sizeof(dest)),
		    ERR_LIMIT);
		image_unpack_report_clear(&rep);
	}
	assert_true(util_mono_ns() - t0 < 20ull * 1000000000ull);
}

static void
test_unpack_refuses_what_is_not_a_layer(void **state)
{
	char file[512], dest[512];

	(void)state;
	snprintf(file, sizeof(file), "%s/garbage.tar", tmp_root);
	assert_int_equal(util_write_file(file,
	                     "this is no tar archive at all "
	                     "but plain text\n",
	                     45, 0600),
	    0);
	fresh_dir(dest, sizeof(dest), "garbage");
	assert_int_equal(image_unpack_layer(file, dest, NULL, NULL),
	    ERR_CORRUPT);
}

/* As an unprivileged user (a provider without root), the same forms are
 * made: 0/0 whiteouts need no privilege, user.overlay.opaque is the
 * owner's to set. */
static void
test_unpack_works_unprivileged(void **state)
{
	const struct ent e[] = {
		{ 'd', "d", 0555, NULL, 0 },
		{ 'f', "d/.wh.gone", 0, NULL, 0 },
		{ 'f', "o/.wh..wh..opq", 0, NULL, 0 },
		{ 'f', "d/f", 04755, "x", 0 },
	};
	char file[512], dest[512], p[600];
	struct stat st;
	pid_t pid;
	int status;

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(file, sizeof(file), "%s/unpriv.tar", tmp_root);
	make_layer(file, "gzip", e, 4);
	fresh_dir(dest, sizeof(dest), "unpriv");
	assert_int_equal(chown(dest, 65534, 65534), 0);
	assert_int_equal(chmod(tmp_root, 0755), 0);
	assert_int_equal(chmod(file, 0644), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(image_unpack_layer(file, dest, NULL, NULL) ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(exists_in(dest, "d/gone", &st));
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_uid, 65534);
	assert_true(exists_in(dest, "d", &st));
	assert_int_equal(st.st_mode & 07777, 0555);
	assert_true(exists_in(dest, "d/f", &st));
	assert_int_equal(st.st_mode & 07777, 0755);
	snprintf(p, sizeof(p), "%s/o", dest);
	assert_int_equal(getxattr(p, "user.overlay.opaque", NULL, 0), 1);
	assert_true(getxattr(p, "trusted.overlay.opaque", NULL, 0) < 0);
	/* the cache can still remove what it made */
	assert_int_equal(image_rm_at(AT_FDCWD, dest), 0);
	assert_false(exists_in(tmp_root, "unpriv", NULL));
}

/* ---- cache ----------------------------------------------------------- */

static void
make_fake_layer(struct image_cache *c, const char *digest, uint64_t bytes,
    time_t used)
{
	char dir[1024], p[1100], meta[64];
	struct timespec ts[2] = { { used, 0 }, { used, 0 } };

	assert_int_equal(cache_layer_path(c, digest, dir, sizeof(dir)), 0);
	snprintf(p, sizeof(p), "%s/fs", dir);
	assert_int_equal(util_mkdirs(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/meta.json", dir);
	snprintf(meta, sizeof(meta), "{\"unpacked_bytes\":%llu}",
	    (unsigned long long)bytes);
	assert_int_equal(util_write_file(p, meta, strlen(meta), 0600), 0);
	assert_int_equal(utimensat(AT_FDCWD, dir, ts, 0), 0);
}

static void
test_cache_collects_least_recently_used(void **state)
{
	char root[512], p[1024];
	struct image_cache *c;
	struct image_cache_usage u;
	struct image_gc_stats st;
	const char *in_use[] = { D1 };
	char *body;
	size_t len;
	char dgst[72];
	time_t now = time(NULL);

	(void)state;
	fresh_dir(root, sizeof(root), "cache");
	assert_int_equal(image_cache_open(root, &c), 0);
	/* blobs are verified on the way out; a damaged one is dropped */
	image_sha256("hello", 5, dgst);
	assert_int_equal(cache_put_blob(c, dgst, "hello", 5), 0);
	assert_int_equal(cache_get_blob(c, dgst, 100, &body, &len), 0);
	assert_int_equal(len, 5);
	free(body);
	assert_int_equal(cache_blob_path(c, dgst, p, sizeof(p)), 0);
	assert_int_equal(util_write_file(p, "HELLO", 5, 0600), 0);
	assert_int_equal(cache_get_blob(c, dgst, 100, &body, &len),
	    ERR_NOTFOUND);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(cache_get_blob(c, D0, 100, &body, &len), ERR_NOTFOUND);

	/* three layers of 1 MB: D1 oldest but in use, D2 older than D3 */
	make_fake_layer(c, D1, 1000000, now - 300);
	make_fake_layer(c, D2, 1000000, now - 200);
	make_fake_layer(c, D3, 1000000, now - 100);
	assert_int_equal(image_cache_usage(c, &u), 0);
	assert_int_equal(u.layers, 3);
	assert_true(u.bytes >= 3000000);
	assert_int_equal(image_cache_gc(c, 2100000, in_use, 1, &st), 0);
	assert_int_equal(st.layers_removed, 1);
	assert_int_equal(cache_layer_path(c, D2, p, sizeof(p)), 0);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(cache_layer_path(c, D1, p, sizeof(p)), 0);
	assert_int_equal(access(p, F_OK), 0);
	assert_true(st.bytes_after <= 2100000);
	/* under the limit: nothing goes; at zero: all but the one in use */
	assert_int_equal(image_cache_gc(c, 1ull << 40, NULL, 0, &st), 0);
	assert_int_equal(st.layers_removed, 0);
	assert_int_equal(image_cache_gc(c, 0, in_use, 1, &st), 0);
	assert_int_equal(st.layers_removed, 1);
	assert_int_equal(image_cache_usage(c, &u), 0);
	assert_int_equal(u.layers, 1);
	/* a layer being pulled (its lock held) is spared */
	{
		int fd;
		make_fake_layer(c, D2, 10, now - 1000);
		assert_int_equal(cache_lock(c, D2, LOCK_EX, &fd), 0);
		assert_int_equal(image_cache_gc(c, 0, in_use, 1, &st), 0);
		assert_int_equal(st.layers_removed, 0);
		cache_unlock(fd);
		assert_int_equal(image_cache_gc(c, 0, in_use, 1, &st), 0);
		assert_int_equal(st.layers_removed, 1);
	}
	image_cache_free(c);
}

/* ---- pulls from an in-process registry ------------------------------- */

#define MAX_BLOBS 8

struct fake_registry {
	struct http_server *srv;
	int port;
	pthread_mutex_t mu;
	/* what it serves */
	const char *repo; /* "lodge/app" */
	char *index, *manifest; /* index may be NULL */
	char index_digest[72], manifest_digest[72];
	struct {
		char digest[72];
		char *data;
		size_t len;
		int hits;
	} blobs[MAX_BLOBS];
	size_t n_blobs;
	/* how it behaves */
	int auth; /* 0 none, 1 Bearer with a token server, 2 Basic */
	int redirect; /* blobs answer 307 to /store/<digest> */
	int corrupt; /* the first layer's bytes are changed */
	int missing; /* every request is 404 (a mirror without it) */
	unsigned delay_ms; /* before each blob */
	int requests;
};

static bool
authorised(struct fake_registry *f, const struct http_request *req)
{
	const char *a = http_header(req, "Authorization");

	if (f->auth == 1)
		return a && strcmp(a, "Bearer good-token") == 0;
	if (f->auth == 2) /* alice:s3cret */
		return a && strcmp(a, "Basic YWxpY2U6czNjcmV0") == 0;
	return true;
}

static void
fake_handler(void *ctx, const struct http_request *req,
    struct http_response *resp)
{
	struct fake_registry *f = ctx;
	char prefix[256];

	pthread_mutex_lock(&f->mu);
	f->requests++;
	pthread_mutex_unlock(&f->mu);
	if (f->missing) {
		http_respond_error(resp, 404, "nope");
		return;
	}
	if (strcmp(req->path, "/token") == 0) {
		const char *a = http_header(req, "Authorization");
		const char *scope = http_query(req, "scope");
		if (!a || strcmp(a, "Basic YWxpY2U6czNjcmV0") != 0 || !scope ||
		    strcmp(scope, "repository:lodge/app:pull") != 0) {
			http_respond_error(resp, 401, "bad login");
			return;
		}
		http_respond(resp, 200, strdup("{\"token\":\"good-token\"}"));
		return;
	}
	if (strncmp(req->path, "/v2/", 4) == 0 && !authorised(f, req)) {
		resp->status = 401;
		resp->body =
		    strdup("{\"errors\":[{\"code\":\"UNAUTHORIZED\","
		           "\"message\":\"authentication required\"}]}");
		resp->body_len = strlen(resp->body);
		if (f->auth == 1)
			snprintf(resp->extra_headers,
			    sizeof(resp->extra_headers),
			    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:"
			    "%d/token\",service=\"fake\",scope=\"repository:"
			    "lodge/app:pull\"\r\n",
			    f->port);
		else
			snprintf(resp->extra_headers,
			    sizeof(resp->extra_headers),
			    "WWW-Authenticate: Basic realm=\"fake\"\r\n");
		return;
	}
	snprintf(prefix, sizeof(prefix), "/v2/%s/manifests/", f->repo);
	if (strncmp(req->path, prefix, strlen(prefix)) == 0) {
		const char *ref = req->path + strlen(prefix);
		const char *body = NULL, *ct = NULL;
		if (f->index &&
		    (strcmp(ref, "v1") == 0 ||
		        strcmp(ref, f->index_digest) == 0)) {
			body = f->index;
			ct = IMAGE_MT_OCI_INDEX;
		} else if (strcmp(ref, f->manifest_digest) == 0 ||
		    (!f->index && strcmp(ref, "v1") == 0)) {
			body = f->manifest;
			ct = IMAGE_MT_OCI_MANIFEST;
		}
		if (!body) {
			http_respond_error(resp, 404, "manifest unknown");
			return;
		}
		resp->status = 200;
		resp->content_type = ct;
		resp->body = strdup(body);
		resp->body_len = strlen(body);
		return;
	}
	snprintf(prefix, sizeof(prefix), "/v2/%s/blobs/", f->repo);
	if (strncmp(req->path, prefix, strlen(prefix)) == 0 ||
	    strncmp(req->path, "/store/", 7) == 0) {
		const char *d = strrchr(req->path, '/') + 1;
		if (f->redirect && req->path[1] == 'v') {
			resp->status = 307;
			resp->body = strdup("");
			snprintf(resp->extra_headers,
			    sizeof(resp->extra_headers),
			    "Location: http://127.0.0.1:%d/store/%s\r\n",
			    f->port, d);
			return;
		}
		for (size_t i = 0; i < f->n_blobs; i++) {
			if (strcmp(f->blobs[i].digest, d) != 0)
				continue;
			pthread_mutex_lock(&f->mu);
			f->blobs[i].hits++;
			pthread_mutex_unlock(&f->mu);
			if (f->delay_ms)
				usleep(f->delay_ms * 1000);
			resp->status = 200;
			resp->content_type = "application/octet-stream";
			resp->body = malloc(f->blobs[i].len + 1);
			memcpy(resp->body, f->blobs[i].data, f->blobs[i].len);
			resp->body_len = f->blobs[i].len;
			if (f->corrupt && i == 1)
				resp->body[resp->body_len / 2] ^= 1;
			return;
		}
		http_respond_error(resp, 404, "blob unknown");
		return;
	}
	http_respond_error(resp, 404, "no route");
}

static const char *
add_blob(struct fake_registry *f, const char *data, size_t len)
{
	size_t i = f->n_blobs++;

	assert_true(i < MAX_BLOBS);
	f->blobs[i].data = malloc(len + 1);
	memcpy(f->blobs[i].data, data, len);
	f->blobs[i].len = len;
	image_sha256(data, len, f->blobs[i].digest);
	return f->blobs[i].digest;
}

static char *
read_all(const char *path, size_t *len)
{
	char *b = NULL;

	assert_int_equal(util_read_file(path, 1 << 26, &b, len), 0);
	return b;
}

/* An image of two gzip layers (the second whites out a file of the
 * first) behind an index with amd64 and arm64 entries. */
static void
fake_start(struct fake_registry *f, bool with_index)
{
	static const struct ent l1[] = {
		{ 'f', "etc/os-release", 0644, "ID=lodge\n", 0 },
		{ 'f', "etc/old.conf", 0644, "old\n", 0 },
		{ 'f', "bin/app", 0755, "#!/bin/sh\necho hi\n", 0 },
	};
	static const struct ent l2[] = {
		{ 'f', "etc/.wh.old.conf", 0, NULL, 0 },
		{ 'f', "srv/index.html", 0644, "<h1>hi</h1>\n", 0 },
	};
	static const char cfg[] =
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
	    "\"Entrypoint\":[\"/bin/app\"],\"Env\":[\"A=1\"],"
	    "\"ExposedPorts\":{\"80/tcp\":{}}},\"rootfs\":{\"type\":\"layers\","
	    "\"diff_ids\":[\"" D1 "\",\"" D2 "\"]}}";
	struct http_server_config sc;
	char file[512], *data;
	const char *cd, *d1, *d2;
	size_t len, s1, s2;
	char arm[72];

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->repo = "lodge/app";
	cd = add_blob(f, cfg, strlen(cfg));
	snprintf(file, sizeof(file), "%s/l1.tar.gz", tmp_root);
	make_layer(file, "gzip", l1, 3);
	data = read_all(file, &len);
	d1 = add_blob(f, data, len);
	s1 = len;
	free(data);
	snprintf(file, sizeof(file), "%s/l2.tar.gz", tmp_root);
	make_layer(file, "gzip", l2, 2);
	data = read_all(file, &len);
	d2 = add_blob(f, data, len);
	s2 = len;
	free(data);
	assert_true(
	    asprintf(&f->manifest,
	        "{\"schemaVersion\":2,\"mediaType\":\"%s\","
	        "\"config\":{\"mediaType\":\"application/vnd.oci.image."
	        "config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
	        "\"layers\":[{\"mediaType\":\"application/vnd.oci.image."
	        "layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu},"
	        "{\"mediaType\":\"application/vnd.oci.image.layer.v1."
	        "tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
	        IMAGE_MT_OCI_MANIFEST, cd, strlen(cfg), d1, s1, d2, s2) > 0);
	image_sha256(f->manifest, strlen(f->manifest), f->manifest_digest);
	if (with_index) {
		image_sha256("arm", 3, arm);
		assert_true(
		    asprintf(&f->index,
		        "{\"schemaVersion\":2,\"mediaType\":\"%s\","
		        "\"manifests\":[{\"mediaType\":\"%s\",\"digest\":"
		        "\"%s\",\"size\":3,\"platform\":{\"os\":\"linux\","
		        "\"architecture\":\"arm64\"}},{\"mediaType\":"
		        "\"%s\",\"digest\":\"%s\",\"size\":%zu,"
		        "\"platform\":{\"os\":\"linux\",\"architecture\":"
		        "\"amd64\"}}]}",
		        IMAGE_MT_OCI_INDEX, IMAGE_MT_OCI_MANIFEST, arm,
		        IMAGE_MT_OCI_MANIFEST, f->manifest_digest,
		        strlen(f->manifest)) > 0);
		image_sha256(f->index, strlen(f->index), f->index_digest);
	}
	http_server_config_default(&sc);
	sc.host = "127.0.0.1";
	sc.port = 0;
	assert_int_equal(http_server_start(&sc, fake_handler, f, &f->srv), 0);
	f->port = http_server_port(f->srv);
}

static void
fake_stop(struct fake_registry *f)
{
	http_server_free(f->srv);
	for (size_t i = 0; i < f->n_blobs; i++)
		free(f->blobs[i].data);
	free(f->index);
	free(f->manifest);
	pthread_mutex_destroy(&f->mu);
}

struct puller {
	struct image_cache *cache;
	char ref[128];
	const struct image_credential *cred;
	const struct image_mirror *mirror;
	struct image_result res;
	int rc;
	char msg[512];
	int progress_calls;
	int cancel_at; /* cancel at this phase */
	int proven; /* image_pull_options.cache_proven */
};

static const struct image_platform amd64 = { "linux", "amd64", NULL };

static int
on_progress(void *ctx, const struct image_progress *p)
{
	struct puller *pl = ctx;

	pl->progress_calls++;
	assert_true(p->done <= p->total || p->phase == IMAGE_PHASE_RESOLVE);
	return pl->cancel_at && (int)p->phase == pl->cancel_at;
}

static void *
do_pull(void *arg)
{
	struct puller *pl = arg;
	struct image_ref r;
	char host[64];
	const char *insecure[] = { host };
	struct image_pull_options o = { .insecure = insecure,
		.n_insecure = 1,
		.timeout_s = 10,
		.cache_proven = pl->proven };
	struct image_auth auth = { pl->cred, pl->cred ? 1 : 0 };

	if (pl->mirror) {
		o.mirrors = pl->mirror;
		o.n_mirrors = 1;
	}
	pl->rc = image_ref_parse(pl->ref, &r);
	if (pl->rc == 0) {
		snprintf(host, sizeof(host), "%s", r.registry);
		pl->rc = image_pull(pl->cache, &r, &amd64, &auth, &o,
		    on_progress, pl, &pl->res);
	}
	snprintf(pl->msg, sizeof(pl->msg), "%s", err_msg());
	image_ref_clear(&r);
	return NULL;
}

static void
pull_as(struct fake_registry *f, struct puller *pl, struct image_cache *c,
    const char *tag)
{
	memset(pl, 0, sizeof(*pl));
	pl->cache = c;
	snprintf(pl->ref, sizeof(pl->ref), "127.0.0.1:%d/lodge/app:%s", f->port,
	    tag);
}

static struct image_cache *
fresh_cache(const char *name)
{
	char root[512];
	struct image_cache *c;

	fresh_dir(root, sizeof(root), name);
	assert_int_equal(image_cache_open(root, &c), 0);
	return c;
}

static void
test_pull_resolves_index_and_unpacks(void **state)
{
	struct fake_registry f;
	struct puller pl;
	struct image_cache *c = fresh_cache("pull1");
	struct stat st;
	char *lower;
	const char **dg;
	size_t n;

	(void)state;
	fake_start(&f, true);
	f.redirect = 1;
	pull_as(&f, &pl, c, "v1");
	do_pull(&pl);
	if (pl.rc)
		fail_msg("%s", pl.msg);
	assert_string_equal(pl.res.index_digest, f.index_digest);
	assert_string_equal(pl.res.manifest_digest, f.manifest_digest);
	assert_string_equal(pl.res.config.entrypoint[0], "/bin/app");
	assert_int_equal(pl.res.config.ports[0].port, 80);
	assert_int_equal(pl.res.n_layers, 2);
	assert_false(pl.res.layers[0].cached);
	assert_true(exists_in(pl.res.layers[0].dir, "etc/old.conf", NULL));
	assert_true(exists_in(pl.res.layers[1].dir, "etc/old.conf", &st));
	assert_true(S_ISCHR(st.st_mode));
	assert_true(pl.res.bytes_downloaded > 0);
	assert_true(pl.progress_calls >= 4);
	assert_int_equal(image_result_lowerdir(&pl.res, &lower), 0);
	assert_non_null(strstr(lower, pl.res.layers[1].dir));
	assert_true(strstr(lower, pl.res.layers[1].dir) <
	    strstr(lower, pl.res.layers[0].dir));
	free(lower);
	assert_int_equal(image_result_digests(&pl.res, &dg, &n), 0);
	assert_int_equal(n, 5);
	free(dg);
	image_result_clear(&pl.res);
	/* again: every layer from the cache, no layer blob fetched (the
	 * config, blob 0, is asked of the registry again, as manifests are) */
	pull_as(&f, &pl, c, "v1");
	do_pull(&pl);
	assert_int_equal(pl.rc, 0);
	assert_true(pl.res.layers[0].cached && pl.res.layers[1].cached);
	assert_int_equal(pl.res.bytes_downloaded, 0);
	assert_int_equal(f.blobs[0].hits, 2);
	for (size_t i = 1; i < f.n_blobs; i++)
		if (f.blobs[i].hits > 1)
			fail_msg("blob %zu fetched %d times", i,
			    f.blobs[i].hits);
	image_result_clear(&pl.res);
	/* by digest, with the registry gone: all from the cache when the
	 * caller proved access before, else the registry is asked */
	{
		int port = f.port;
		char digest[72];
		snprintf(digest, sizeof(digest), "%s", f.manifest_digest);
		fake_stop(&f);
		memset(&pl, 0, sizeof(pl));
		pl.cache = c;
		snprintf(pl.ref, sizeof(pl.ref), "127.0.0.1:%d/lodge/app@%s",
		    port, digest);
		do_pull(&pl);
		assert_int_equal(pl.rc, ERR_IO);
		memset(&pl.res, 0, sizeof(pl.res));
		pl.proven = 1;
		do_pull(&pl);
		if (pl.rc)
			fail_msg("%s", pl.msg);
		assert_null(pl.res.index_digest);
		image_result_clear(&pl.res);
	}
	image_cache_free(c);
}

static void
test_pull_authenticates(void **state)
{
	struct image_credential good = { "127.0.0.1:%d", "alice", "s3cret" };
	struct image_credential bad = { NULL, "alice", "wrong-pass" };
	struct fake_registry f;
	struct puller pl;
	struct image_cache *c = fresh_cache("pull-auth");
	char host[64];

	(void)state;
	for (int mode = 1; mode <= 2; mode++) {
		fake_start(&f, false);
		f.auth = mode;
		snprintf(host, sizeof(host), "127.0.0.1:%d", f.port);
		good.host = bad.host = host;
		/* anonymous: refused, saying no credentials were given */
		pull_as(&f, &pl, c, "v1");
		do_pull(&pl);
		assert_int_equal(pl.rc, ERR_REJECT);
		if (!strstr(pl.msg,
		        mode == 1 ? "refused an anonymous" : "no credentials"))
			fail_msg("mode %d: %s", mode, pl.msg);
		/* wrong password: refused, the password not in the
		 * message */
		pull_as(&f, &pl, c, "v1");
		pl.cred = &bad;
		do_pull(&pl);
		assert_int_equal(pl.rc, ERR_REJECT);
		assert_null(strstr(pl.msg, "wrong-pass"));
		/* right password */
		pull_as(&f, &pl, c, "v1");
		pl.cred = &good;
		do_pull(&pl);
		if (pl.rc)
			fail_msg("mode %d: %s", mode, pl.msg);
		/* the attack: another caller names the digest now in the
		 * cache, without credentials: the registry is asked and
		 * refuses, the cache hands nothing out */
		{
			char dg[72];
			snprintf(dg, sizeof(dg), "%s",
			    pl.res.index_digest ? pl.res.index_digest :
			                          pl.res.manifest_digest);
			image_result_clear(&pl.res);
			memset(&pl, 0, sizeof(pl));
			pl.cache = c;
			snprintf(pl.ref, sizeof(pl.ref),
			    "127.0.0.1:%d/lodge/app@%s", f.port, dg);
			do_pull(&pl);
			assert_int_equal(pl.rc, ERR_REJECT);
			if (!strstr(pl.msg,
			        mode == 1 ? "refused an anonymous" :
			                    "no credentials"))
				fail_msg("mode %d, by digest: %s", mode,
				    pl.msg);
			snprintf(dg, sizeof(dg), "%s", f.manifest_digest);
			snprintf(pl.ref, sizeof(pl.ref),
			    "127.0.0.1:%d/lodge/app@%s", f.port, dg);
			do_pull(&pl);
			assert_int_equal(pl.rc, ERR_REJECT);
		}
		fake_stop(&f);
	}
	image_cache_free(c);
}

/* Layers in the cache are keyed by digest alone: another registry (one
 * the attacker runs) serving a manifest that names them, without having
 * their bytes, gets nothing from the cache; one that has them re-proves
 * each layer once (downloaded and verified, not unpacked again). */
static void
test_pull_cached_layers_need_their_registry(void **state)
{
	struct fake_registry f, g;
	struct puller pl;
	struct image_cache *c = fresh_cache("pull-origin");
	char mdig[72];

	(void)state;
	fake_start(&f, false);
	pull_as(&f, &pl, c, "v1");
	do_pull(&pl);
	if (pl.rc)
		fail_msg("%s", pl.msg);
	snprintf(mdig, sizeof(mdig), "%s", pl.res.manifest_digest);
	image_result_clear(&pl.res);
	fake_stop(&f);
	/* the attacker's registry: the same manifest and config, no layer
	 * bytes (their digests renamed away) */
	fake_start(&g, false);
	assert_string_equal(g.manifest_digest, mdig);
	for (size_t i = 1; i < g.n_blobs; i++)
		snprintf(g.blobs[i].digest, sizeof(g.blobs[i].digest), "gone");
	pull_as(&g, &pl, c, "v1");
	do_pull(&pl);
	assert_int_equal(pl.rc, ERR_NOTFOUND);
	assert_non_null(strstr(pl.msg, "fetched again from this repository"));
	fake_stop(&g);
	/* a registry that has the bytes: each layer downloaded once more,
	 * used from the cache, and after that not downloaded again */
	fake_start(&g, false);
	pull_as(&g, &pl, c, "v1");
	do_pull(&pl);
	if (pl.rc)
		fail_msg("%s", pl.msg);
	assert_true(pl.res.layers[0].cached && pl.res.layers[1].cached);
	assert_true(pl.res.bytes_downloaded > 0);
	image_result_clear(&pl.res);
	pull_as(&g, &pl, c, "v1");
	do_pull(&pl);
	assert_int_equal(pl.rc, 0);
	assert_int_equal(pl.res.bytes_downloaded, 0);
	image_result_clear(&pl.res);
	fake_stop(&g);
	image_cache_free(c);
}

static void
count_dir(const char *dir, int *n)
{
	char cmd[600];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", n), 1);
	pclose(p);
}

static void
test_pull_refuses_a_corrupted_blob(void **state)
{
	struct fake_registry f;
	struct puller pl;
	struct image_cache *c = fresh_cache("pull-corrupt");
	char p[1024];
	int n;

	(void)state;
	fake_start(&f, false);
	f.corrupt = 1;
	pull_as(&f, &pl, c, "v1");
	do_pull(&pl);
	assert_int_equal(pl.rc, ERR_CORRUPT);
	if (!strstr(pl.msg, f.blobs[1].digest) ||
	    !strstr(pl.msg, "digest mismatch"))
		fail_msg("%s", pl.msg);
	/* nothing of it kept: no layer, nothing in tmp/ */
	assert_int_equal(cache_layer_path(c, f.blobs[1].digest, p, sizeof(p)),
	    0);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s/tmp", image_cache_root(c));
	count_dir(p, &n);
	assert_int_equal(n, 0);
	snprintf(p, sizeof(p), "%s/layers/sha256", image_cache_root(c));
	count_dir(p, &n);
	assert_int_equal(n, 0);
	fake_stop(&f);
	image_cache_free(c);
}

static void
test_pull_limits_and_cancel(void **state)
{
	struct fake_registry f;
	struct puller pl;
	struct image_cache *c = fresh_cache("pull-limits");
	struct image_ref r;
	struct image_pull_options o = { .max_layer_bytes = 10 };
	char host[64];
	const char *insecure[] = { host };
	struct image_result res;

	(void)state;
	fake_start(&f, false);
	snprintf(host, sizeof(host), "127.0.0.1:%d", f.port);
	o.insecure = insecure;
	o.n_insecure = 1;
	snprintf(pl.ref, sizeof(pl.ref), "%s/lodge/app:v1", host);
	assert_int_equal(image_ref_parse(pl.ref, &r), 0);
	assert_int_equal(image_pull(c, &r, &amd64, NULL, &o, NULL, NULL, &res),
	    ERR_LIMIT);
	assert_non_null(strstr(err_msg(), "more than the limit of 10"));
	assert_int_equal(f.blobs[1].hits, 0);
	o.max_layer_bytes = 0;
	o.max_unpacked_bytes = 10;
	assert_int_equal(image_pull(c, &r, &amd64, NULL, &o, NULL, NULL, &res),
	    ERR_LIMIT);
	assert_non_null(strstr(err_msg(), "more than 10 bytes"));
	/* an arm64 host gets the arm64 image, and this one is not */
	{
		struct image_platform arm = { "linux", "arm64", NULL };
		o.max_unpacked_bytes = 0;
		assert_int_equal(
		    image_pull(c, &r, &arm, NULL, &o, NULL, NULL, &res),
		    ERR_REJECT);
		assert_non_null(strstr(err_msg(), "is a linux/amd64 image"));
	}
	image_ref_clear(&r);
	/* cancelled from the progress callback */
	pull_as(&f, &pl, c, "v1");
	pl.cancel_at = IMAGE_PHASE_UNPACK;
	do_pull(&pl);
	assert_int_equal(pl.rc, ERR_REJECT);
	assert_non_null(strstr(pl.msg, "cancelled"));
	/* a tag that is not there */
	pull_as(&f, &pl, c, "v2");
	do_pull(&pl);
	assert_int_equal(pl.rc, ERR_NOTFOUND);
	assert_non_null(strstr(pl.msg, "manifest lodge/app:v2"));
	fake_stop(&f);
	image_cache_free(c);
}

static void
test_pull_tries_the_mirror_first(void **state)
{
	struct fake_registry up, mirror;
	struct puller pl;
	struct image_cache *c = fresh_cache("pull-mirror");
	struct image_mirror m;
	char url[64], reg[64];

	(void)state;
	fake_start(&up, false);
	fake_start(&mirror, false);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", mirror.port);
	snprintf(reg, sizeof(reg), "127.0.0.1:%d", up.port);
	m.registry = reg;
	m.url = url;
	/* the mirror has it: the registry is not asked */
	pull_as(&up, &pl, c, "v1");
	pl.mirror = &m;
	do_pull(&pl);
	if (pl.rc)
		fail_msg("%s", pl.msg);
	assert_int_equal(up.requests, 0);
	assert_true(mirror.requests >= 4);
	image_result_clear(&pl.res);
	/* the mirror lacks it: the registry serves it */
	c = (image_cache_free(c), fresh_cache("pull-mirror"));
	mirror.missing = 1;
	pull_as(&up, &pl, c, "v1");
	pl.mirror = &m;
	do_pull(&pl);
	if (pl.rc)
		fail_msg("%s", pl.msg);
	assert_true(up.requests >= 4);
	image_result_clear(&pl.res);
	fake_stop(&up);
	fake_stop(&mirror);
	image_cache_free(c);
}

static void
test_concurrent_pulls_fetch_a_layer_once(void **state)
{
	struct fake_registry f;
	struct puller pl[3];
	pthread_t th[3];
	struct image_cache *c = fresh_cache("pull-concurrent");

	(void)state;
	fake_start(&f, true);
	f.delay_ms = 200;
	for (int i = 0; i < 3; i++) {
		pull_as(&f, &pl[i], c, "v1");
		assert_int_equal(pthread_create(&th[i], NULL, do_pull, &pl[i]),
		    0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		if (pl[i].rc)
			fail_msg("%d: %s", i, pl[i].msg);
		assert_string_equal(pl[i].res.layers[1].dir,
		    pl[0].res.layers[1].dir);
	}
	for (size_t i = 1; i < f.n_blobs; i++)
		if (f.blobs[i].hits != 1)
			fail_msg("layer blob %zu fetched %d times", i,
			    f.blobs[i].hits);
	for (int i = 0; i < 3; i++)
		image_result_clear(&pl[i].res);
	fake_stop(&f);
	image_cache_free(c);
}

static int
setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmp_root))
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	(void)image_rm_at(AT_FDCWD, tmp_root);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_resolves_names_as_docker),
		cmocka_unit_test(test_manifest_parses_index_and_manifest),
		cmocka_unit_test(test_manifest_refuses_what_it_cannot_trust),
		cmocka_unit_test(test_index_chooses_the_host_platform),
		cmocka_unit_test(test_config_gives_what_a_runtime_needs),
		cmocka_unit_test(test_www_authenticate_is_parsed),
		cmocka_unit_test(test_credentials_match_registry_hosts),
		cmocka_unit_test(test_unpack_builds_an_overlay_lower_dir),
		cmocka_unit_test(test_unpack_refuses_hostile_layers),
		cmocka_unit_test(test_unpack_stops_a_decompression_bomb),
		cmocka_unit_test(test_unpack_refuses_what_is_not_a_layer),
		cmocka_unit_test(test_unpack_works_unprivileged),
		cmocka_unit_test(test_cache_collects_least_recently_used),
		cmocka_unit_test(test_pull_resolves_index_and_unpacks),
		cmocka_unit_test(test_pull_authenticates),
		cmocka_unit_test(test_pull_cached_layers_need_their_registry),
		cmocka_unit_test(test_pull_refuses_a_corrupted_blob),
		cmocka_unit_test(test_pull_limits_and_cancel),
		cmocka_unit_test(test_pull_tries_the_mirror_first),
		cmocka_unit_test(test_concurrent_pulls_fetch_a_layer_once),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
