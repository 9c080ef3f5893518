/*
 * fuzz_sdl: libFuzzer harness for the SDL parser, in each of its modes.
 * Any input must give either a deployment or a list of errors (and
 * warnings): never a crash, a hang or a leak.  Accepted inputs also go
 * through every output (manifest, hash, orders, Akash JSON).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/cjson.h"
#include "sdl/sdl.h"

static void
outputs(const struct sdl_deployment *d)
{
	json_t *v = NULL;
	uint8_t h[32];
	char *s = NULL;
	size_t len;

	if (sdl_manifest_json(d, &v) == 0 && cjson_dump(v, &s, &len) == 0)
		free(s);
	json_decref(v);
	v = NULL;
	(void)sdl_manifest_hash(d, h);
	if (sdl_orders_json(d, &v) == 0)
		json_decref(v);
	v = NULL;
	if (sdl_akash_groups_json(d, &v) == 0)
		json_decref(v);
	v = NULL;
	if (sdl_akash_manifest_json(d, &v) == 0)
		json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned modes[] = { 0, SDL_PARSE_STRICT,
		SDL_PARSE_AKASH_GO, SDL_PARSE_AKASH_GO | SDL_PARSE_STRICT };

	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct sdl_deployment *d = NULL;
		struct sdl_errors errs = { 0 };

		if (sdl_parse_buffer_flags("fuzz.yaml", (const char *)data,
		        size, modes[m], &d, &errs) == 0)
			outputs(d);
		sdl_errors_free(&errs);
		sdl_deployment_free(d);
	}
	return 0;
}
