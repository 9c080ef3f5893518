/*
 * fuzz_image: libFuzzer harness for the parsers of image/ that read what
 * a registry sends: manifests and indexes (and the platform choice),
 * image configs, WWW-Authenticate headers, token answers, and image
 * references.  The first byte picks the parser; any input must give a
 * result or an error: never a crash, a hang or a leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/auth.h"
#include "image/manifest.h"
#include "image/ref.h"

static const char *const content_types[] = { NULL, IMAGE_MT_OCI_INDEX,
	IMAGE_MT_OCI_MANIFEST, IMAGE_MT_DOCKER_LIST, IMAGE_MT_DOCKER_MANIFEST,
	"application/json; charset=utf-8" };

static void
manifest(const char *s, size_t n, uint8_t sel)
{
	static const struct image_platform pf[] = { { "linux", "amd64", NULL },
		{ "linux", "arm64", "v8" }, { "linux", "arm", NULL } };
	struct image_manifest m;
	const struct image_descriptor *d;

	if (image_manifest_parse(content_types[sel % 6], s, n, &m))
		return;
	if (m.kind == IMAGE_DOC_INDEX)
		for (size_t i = 0; i < 3; i++)
			(void)image_index_choose(&m, &pf[i], &d);
	image_manifest_clear(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_config c;
	struct image_challenge *ch;
	struct image_ref r;
	char *s, *tok;
	size_t n;

	if (size < 1)
		return 0;
	/* NUL-terminated copy: the header and reference parsers take C
	 * strings, the JSON ones a length */
	if (!(s = malloc(size)))
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 6) {
	case 0:
		manifest(s, size - 1, data[0] / 6);
		break;
	case 1:
		if (image_config_parse(s, size - 1, &c) == 0)
			image_config_clear(&c);
		break;
	case 2:
		if (image_auth_parse_challenges(s, &ch, &n) == 0)
			image_auth_challenges_free(ch, n);
		break;
	case 3:
		if (image_auth_token_parse(s, size - 1, &tok) == 0)
			free(tok);
		break;
	case 4:
		if (image_ref_parse(s, &r) == 0) {
			free(image_ref_string(&r));
			image_ref_clear(&r);
		}
		break;
	case 5:
		if (image_ref_parse_lenient(s, &r) == 0)
			image_ref_clear(&r);
		break;
	}
	free(s);
	return 0;
}
