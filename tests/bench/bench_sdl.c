/*
 * bench_sdl: SDL files parsed per second over the awesome-akash corpus.
 * Files are read into memory first; the timed loop is parse + validate +
 * canonical manifest (and its hash).  The baseline measured in the same
 * run is libyaml alone parsing the same bytes, so the ratio says what the
 * model, the checks and the manifest cost on top of YAML.
 */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <yaml.h>

#include "common/util.h"
#include "sdl/sdl.h"

struct file {
	char *name;
	char *buf;
	size_t len;
};

static struct file *files;
static size_t nfiles, capfiles;

static void
pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static void
load_dir(const char *dir)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat st;
		size_t len = strlen(ents[i]->d_name);

		if (ents[i]->d_name[0] != '.') {
			pathf(path, sizeof(path), "%s/%s", dir,
			    ents[i]->d_name);
			if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
				load_dir(path);
			} else if ((len > 5 &&
			               !strcmp(ents[i]->d_name + len - 5,
			                   ".yaml")) ||
			    (len > 4 &&
			        !strcmp(ents[i]->d_name + len - 4, ".yml"))) {
				if (nfiles == capfiles) {
					capfiles =
					    capfiles ? capfiles * 2 : 512;
					files = realloc(files,
					    capfiles * sizeof(*files));
					if (!files)
						exit(1);
				}
				if (util_read_file(path, SDL_MAX_FILE_SIZE,
				        &files[nfiles].buf,
				        &files[nfiles].len) == 0)
					files[nfiles++].name = strdup(path);
			}
		}
		free(ents[i]);
	}
	free(ents);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
yaml_only(const struct file *f)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t events = 0;
	int done = 0;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)f->buf, f->len);
	while (!done && yaml_parser_parse(&p, &ev)) {
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		events++;
	}
	yaml_parser_delete(&p);
	return events;
}

int
main(void)
{
	const char *base = getenv("LODGE_SHARED");
	char dir[PATH_MAX];
	size_t iters = 0, ok = 0, sink = 0, yiters = 0;
	double t0, t, rate, yrate;

	pathf(dir, sizeof(dir), "%s/corpus/sdl/awesome-akash",
	    base && *base ? base : "../shared");
	load_dir(dir);
	if (nfiles == 0) {
		fprintf(stderr, "bench_sdl: no SDL files under %s\n", dir);
		return 1;
	}
	/* baseline: libyaml events only */
	t0 = now();
	do {
		for (size_t i = 0; i < nfiles; i++)
			sink += yaml_only(&files[i]);
		yiters++;
	} while ((t = now()) - t0 < 1.0);
	yrate = (double)(yiters * nfiles) / (t - t0);
	/* parse + validate + canonical manifest and hash */
	t0 = now();
	do {
		ok = 0;
		for (size_t i = 0; i < nfiles; i++) {
			struct sdl_deployment *d = NULL;
			uint8_t h[32];
			if (sdl_parse_buffer(files[i].name, files[i].buf,
			        files[i].len, &d, NULL) == 0 &&
			    sdl_manifest_hash(d, h) == 0) {
				ok++;
				sink += h[0];
			}
			sdl_deployment_free(d);
		}
		iters++;
	} while ((t = now()) - t0 < 2.0);
	rate = (double)(iters * nfiles) / (t - t0);
	printf("sdl: parse+validate+manifest: %.0f files/s (%zu files, %zu "
	       "iterations; %zu valid)\n",
	    rate, nfiles, iters, ok);
	printf("sdl: baseline libyaml events only: %.0f files/s (ratio "
	       "%.2fx)\n",
	    yrate, yrate / rate);
	for (size_t i = 0; i < nfiles; i++) {
		free(files[i].name);
		free(files[i].buf);
	}
	free(files);
	return sink == 0xdeadbeef;
}
