/*
 * A WAGI HTTP function in C: CGI variables in the environment, the request
 * body on stdin, a CGI response on stdout.  Build: ./build.sh (clang
 * --target=wasm32-wasi with Debian's wasi-libc); run locally:
 *   provider wasm run hello.wasm --env REQUEST_METHOD=GET --env PATH_INFO=/x
 *
 * Routes: /missing (404), POST (echo upper-cased), /visits (a counter
 * kept in /data, which outlives the instance), /sleep?ms=N (waits: past
 * the provider's deadline the request gets 504), /spin (never ends: the
 * fuel budget stops it with 503), anything else: hello.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *
env(const char *k)
{
	const char *v = getenv(k);
	return v ? v : "";
}

/* Module state: a fresh instance per request starts it at 0 every time. */
static int served;

int
main(void)
{
	const char *method = env("REQUEST_METHOD");
	const char *path = env("PATH_INFO");
	long len = atol(env("CONTENT_LENGTH"));

	if (strcmp(path, "/missing") == 0) {
		printf(
		    "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n"
		    "no such page: %s\n",
		    path);
		return 0;
	}
	if (strcmp(path, "/visits") == 0) {
		/* Instances are fresh; the lease's /data is not. */
		long n = 0;
		FILE *f = fopen("/data/visits", "r");
		if (f) {
			if (fscanf(f, "%ld", &n) != 1)
				n = 0;
			fclose(f);
		}
		if ((f = fopen("/data/visits", "w")) == NULL) {
			printf("Status: 500\r\nContent-Type: text/plain\r\n\r\n"
			       "cannot write /data/visits\n");
			return 0;
		}
		fprintf(f, "%ld\n", ++n);
		fclose(f);
		printf("Content-Type: text/plain\r\n\r\nvisits=%ld\n", n);
		return 0;
	}
	if (strcmp(path, "/sleep") == 0) {
		long ms = atol(env("QUERY_STRING") +
		    (strncmp(env("QUERY_STRING"), "ms=", 3) == 0 ? 3 : 0));
		struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };
		nanosleep(&ts, NULL);
		printf("Content-Type: text/plain\r\n\r\nslept %ld ms\n", ms);
		return 0;
	}
	if (strcmp(path, "/spin") == 0) {
		volatile unsigned long i = 0;
		for (;;)
			i++;
	}
	if (strcmp(method, "POST") == 0) {
		/* echo the body back, upper-cased */
		printf("Content-Type: text/plain\r\n\r\n");
		int c;
		for (long i = 0; i < len && (c = getchar()) != EOF; i++)
			putchar(c >= 'a' && c <= 'z' ? c - 32 : c);
		return 0;
	}
	printf("Content-Type: text/plain\r\nX-Powered-By: lodge-wasm\r\n\r\n");
	printf("hello from wasm: %s %s", method, path);
	if (*env("QUERY_STRING"))
		printf("?%s", env("QUERY_STRING"));
	printf(" (user agent: %s)\n",
	    *env("HTTP_USER_AGENT") ? env("HTTP_USER_AGENT") : "none");
	printf("greeting=%s served=%d\n", env("GREETING"), ++served);
	return 0;
}
