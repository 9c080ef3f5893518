/*
 * image: parse image references.  OCI references are parsed by
 * image/ref.c (Docker's grammar and defaults); Lodge's schemes are
 * wasm+https, wasm+file, git+ and host.
 */
#include "sdl/image.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/err.h"

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int
parse_wasm_url(const char *s, struct sdl_image *img)
{
	const char *hash = strchr(s, '#');
	const char *host = s + 8;

	if (strncmp(s, "https://", 8) != 0)
		return err_set(ERR_INVAL, "wasm+ URL must be https://");
	if (!hash || strncmp(hash, "#sha256=", 8) != 0 ||
	    strlen(hash + 8) != 64 || !hex_valid(hash + 8, 64))
		return err_set(ERR_INVAL,
		    "wasm+https image needs "
		    "#sha256=<64 hex> naming the module's hash");
	if (host == hash || *host == '/' || *host == '#')
		return err_set(ERR_INVAL, "wasm+https URL has no host");
	for (const char *q = s; q < hash; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return err_set(ERR_INVAL,
			    "wasm+https URL contains a "
			    "space or control character");
	img->kind = SDL_IMAGE_WASM_URL;
	if (!(img->url = strndup(s, (size_t)(hash - s))) ||
	    !(img->sha256 = strdup(hash + 8)))
		return ERR_NOMEM;
	lower(img->sha256);
	return 0;
}

static int
parse_git(const char *s, struct sdl_image *img)
{
	const char *hash = strrchr(s, '#');
	static const char *const schemes[] = { "https://", "http://", "ssh://",
		"git://", "file://" };
	bool ok = false;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(s, schemes[i], strlen(schemes[i])) == 0 &&
		    s + strlen(schemes[i]) != hash && s[strlen(schemes[i])])
			ok = true;
	if (!ok)
		return err_set(ERR_INVAL,
		    "git+ image needs a URL "
		    "(https://, http://, ssh://, git:// or file://)");
	if (!hash || strlen(hash + 1) != 40 || !hex_valid(hash + 1, 40))
		return err_set(ERR_INVAL, "git+ image needs #<40 hex commit>");
	for (const char *q = s; q < hash; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return err_set(ERR_INVAL,
			    "git+ URL contains a space or "
			    "control character");
	img->kind = SDL_IMAGE_GIT;
	if (!(img->url = strndup(s, (size_t)(hash - s))) ||
	    !(img->commit = strdup(hash + 1)))
		return ERR_NOMEM;
	lower(img->commit);
	return 0;
}

static int
image_parse(const char *s, struct sdl_image *img, bool lenient)
{
	int rc;

	memset(img, 0, sizeof(*img));
	if (!s || !*s)
		return err_set(ERR_INVAL, "image is empty");
	if (!(img->raw = strdup(s)))
		return err_set(ERR_NOMEM, "out of memory");
	if (strcmp(s, "host") == 0) {
		img->kind = SDL_IMAGE_HOST;
		return 0;
	}
	if (strncmp(s, "wasm+file:", 10) == 0) {
		if (!s[10]) {
			rc = err_set(ERR_INVAL, "wasm+file: needs a path");
			goto fail;
		}
		img->kind = SDL_IMAGE_WASM_FILE;
		if (!(img->url = strdup(s + 10))) {
			rc = ERR_NOMEM;
			goto fail;
		}
		return 0;
	}
	if (strncmp(s, "wasm+", 5) == 0)
		rc = parse_wasm_url(s + 5, img);
	else if (strncmp(s, "git+", 4) == 0)
		rc = parse_git(s + 4, img);
	else {
		/* image/ref.c holds the one parser of OCI references */
		img->kind = SDL_IMAGE_OCI;
		rc = lenient ? image_ref_parse_lenient(s, &img->oci) :
		               image_ref_parse(s, &img->oci);
	}
	if (rc == 0)
		return 0;
fail:
	if (rc == ERR_NOMEM)
		err_set(ERR_NOMEM, "out of memory");
	sdl_image_clear(img);
	return rc;
}

int
sdl_image_parse(const char *s, struct sdl_image *img)
{
	return image_parse(s, img, false);
}

int
sdl_image_parse_lenient(const char *s, struct sdl_image *img)
{
	return image_parse(s, img, true);
}

void
sdl_image_clear(struct sdl_image *img)
{
	if (!img)
		return;
	free(img->raw);
	image_ref_clear(&img->oci);
	free(img->url);
	free(img->sha256);
	free(img->commit);
	memset(img, 0, sizeof(*img));
}

static int
dup_field(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : ERR_NOMEM;
}

int
sdl_image_copy(struct sdl_image *dst, const struct sdl_image *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->kind = src->kind;
	if (image_ref_copy(&dst->oci, &src->oci) ||
	    dup_field(&dst->raw, src->raw) || dup_field(&dst->url, src->url) ||
	    dup_field(&dst->sha256, src->sha256) ||
	    dup_field(&dst->commit, src->commit)) {
		sdl_image_clear(dst);
		return err_set(ERR_NOMEM, "out of memory");
	}
	return 0;
}

enum sdl_runtime
sdl_image_runtime(const struct sdl_image *img)
{
	switch (img->kind) {
	case SDL_IMAGE_WASM_URL:
	case SDL_IMAGE_WASM_FILE:
		return SDL_RUNTIME_WASM;
	case SDL_IMAGE_GIT:
	case SDL_IMAGE_HOST:
		return SDL_RUNTIME_PROCESS;
	default:
		return SDL_RUNTIME_OCI;
	}
}

const char *
sdl_runtime_name(enum sdl_runtime rt)
{
	switch (rt) {
	case SDL_RUNTIME_WASM:
		return "wasm";
	case SDL_RUNTIME_PROCESS:
		return "process";
	default:
		return "oci";
	}
}

const char *
sdl_image_kind_name(enum sdl_image_kind kind)
{
	switch (kind) {
	case SDL_IMAGE_WASM_URL:
		return "wasm+https";
	case SDL_IMAGE_WASM_FILE:
		return "wasm+file";
	case SDL_IMAGE_GIT:
		return "git";
	case SDL_IMAGE_HOST:
		return "host";
	default:
		return "oci";
	}
}
