/*
 * wasm_cli: `provider wasm run|serve|compile|validate|spec ...`, a thin client of the
 * wasm_* library.  Hooked from provider/main.c as wasm_cli_main().
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "provider/wasm_cli.h"
#include "wasm/run.h"
#include "wasm/serve.h"
#include "wasm/spec.h"

#define WASM_CLI_MAX_MODULE (64u << 20)

static void
usage(FILE *f)
{
	fputs(
	    "usage: provider wasm run MODULE.wasm [--fuel N] [--memory SIZE]"
	    " [--dir HOST_DIR]\n"
	    "                [--env K=V]... [--no-fuel] [-O0|-O2] "
	    "[--in-process] [--timeout MS] -- ARGS...\n"
	    "       provider wasm serve MODULE.wasm [--memory SIZE] [--dir DIR]"
	    " [--env K=V]...\n"
	    "                [--no-fuel] [-O0|-O2]   (control socket on "
	    "stdin)\n"
	    "       provider wasm compile MODULE.wasm [--no-fuel] [-O0|-O2]\n"
	    "       provider wasm validate MODULE.wasm...\n"
	    "       provider wasm spec [-O0|-O2] [--jobs N] [--no-fuel] "
	    "WAST_JSON...\n",
	    f);
}

/* "64m", "1g", "65536" -> bytes */
static int
parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 0:
		break;
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'i' || *end == 'b' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

struct run_job {
	const struct wasm_program *p;
	const struct wasm_io *io;
	const struct wasm_run_limits *l;
	struct wasm_outcome oc;
	struct wasm_usage u;
	int rc;
	int isolated;
};

static void *
run_thread(void *arg)
{
	struct run_job *j = arg;
	if (j->isolated)
		j->rc = wasm_run_isolated(j->p, j->io, j->l, &j->oc, &j->u);
	else
		j->rc = wasm_program_run(j->p, j->io, j->l, &j->oc, &j->u);
	return NULL;
}

/* Deep wasm recursion needs a deep native stack: run on a 256 MiB one. */
static int
run_big_stack(struct run_job *j)
{
	pthread_attr_t a;
	pthread_t t;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256u << 20);
	if (pthread_create(&t, &a, run_thread, j) != 0) {
		pthread_attr_destroy(&a);
		run_thread(j);
		return j->rc;
	}
	pthread_attr_destroy(&a);
	pthread_join(t, NULL);
	return j->rc;
}

static int
load_file(const char *path, const struct wasm_load_opts *lo,
    struct wasm_program **p)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = util_read_file(path, WASM_CLI_MAX_MODULE, &buf, &len);
	if (rc)
		return rc;
	rc = wasm_program_load((const uint8_t *)buf, len, lo, p);
	if (rc)
		err_prefix(rc, "%s", path);
	free(buf);
	return rc;
}

static int
cmd_run(int argc, char **argv)
{
	struct wasm_load_opts lo;
	struct wasm_run_limits lim = { .fuel = -1 };
	struct wasm_program *p = NULL;
	const char *module = NULL, *dir = NULL;
	const char **env = calloc((size_t)argc + 1, sizeof(char *));
	const char **args = calloc((size_t)argc + 2, sizeof(char *));
	int nenv = 0, nargs = 0, isolated = 1, rc = 1;

	wasm_load_opts_init(&lo);
	if (!env || !args)
		goto out;
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--fuel") == 0 && i + 1 < argc) {
			uint64_t v;
			if (util_parse_u64(argv[++i], "--fuel", &v) < 0 ||
			    v > INT64_MAX) {
				fprintf(stderr, "wasm run: bad --fuel\n");
				goto out;
			}
			lim.fuel = (int64_t)v;
		} else if (strcmp(a, "--memory") == 0 && i + 1 < argc) {
			if (parse_size(argv[++i], &lim.memory_bytes) < 0) {
				fprintf(stderr, "wasm run: bad --memory %s\n",
				    argv[i]);
				goto out;
			}
		} else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
			uint64_t v;
			if (util_parse_u64(argv[++i], "--timeout", &v) < 0)
				goto out;
			lim.wall_ms = v;
		} else if (strcmp(a, "--dir") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else if (strcmp(a, "--env") == 0 && i + 1 < argc) {
			if (!strchr(argv[i + 1], '=')) {
				fprintf(stderr, "wasm run: --env wants K=V\n");
				goto out;
			}
			env[nenv++] = argv[++i];
		} else if (strcmp(a, "--no-fuel") == 0) {
			lo.compile.fuel = 0;
		} else if (strcmp(a, "--in-process") == 0) {
			isolated = 0;
		} else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' &&
		    a[2] <= '3' && !a[3]) {
			lo.compile.opt_level = a[2] - '0';
		} else if (a[0] == '-') {
			fprintf(stderr, "wasm run: unknown option %s\n", a);
			usage(stderr);
			rc = 2;
			goto out;
		} else if (!module) {
			module = a;
		} else {
			args[nargs + 1] = a;
			nargs++;
		}
	}
	if (!module) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	args[0] = module;
	for (; i < argc; i++)
		args[1 + nargs++] = argv[i];
	if (load_file(module, &lo, &p)) {
		fprintf(stderr, "wasm run: %s\n", err_msg());
		goto out;
	}
	struct wasm_io io = {
		.argc = nargs + 1,
		.argv = args,
		.envp = env,
		.stdin_fd = 0,
		.stdout_fd = 1,
		.stderr_fd = 2,
		.data_dir = dir,
	};
	struct run_job j = { .p = p,
		.io = &io,
		.l = &lim,
		.isolated = isolated };
	fflush(stdout);
	if (run_big_stack(&j)) {
		fprintf(stderr, "wasm run: %s\n", err_msg());
		goto out;
	}
	if (j.oc.message[0])
		fprintf(stderr, "%s\n", j.oc.message);
	fprintf(stderr,
	    "usage: fuel=%llu cpu_ms=%llu wall_ms=%llu "
	    "mem_peak_bytes=%llu\n",
	    (unsigned long long)j.u.fuel, (unsigned long long)j.u.cpu_ms,
	    (unsigned long long)j.u.wall_ms,
	    (unsigned long long)j.u.mem_peak_bytes);
	rc = j.oc.exit_code;
out:
	wasm_program_free(p);
	free(env);
	free(args);
	return rc;
}

/* The sandboxed side of an HTTP function: the provider's control socket
 * is stdin (wasm/serve.h); the modules' stderr goes to ours. */
static int
cmd_serve(int argc, char **argv)
{
	struct wasm_load_opts lo;
	struct wasm_program *p = NULL;
	struct wasm_serve_opts so = { .stderr_fd = 2 };
	const char *module = NULL;
	const char **env = calloc((size_t)argc + 1, sizeof(char *));
	uint64_t mem = 0;
	int nenv = 0, type = 0, rc = 1;
	socklen_t tl = sizeof(type);

	wasm_load_opts_init(&lo);
	if (!env)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--memory") == 0 && i + 1 < argc) {
			if (parse_size(argv[++i], &mem) < 0) {
				fprintf(stderr, "wasm serve: bad --memory %s\n",
				    argv[i]);
				goto out;
			}
		} else if (strcmp(a, "--dir") == 0 && i + 1 < argc) {
			so.data_dir = argv[++i];
		} else if (strcmp(a, "--env") == 0 && i + 1 < argc) {
			if (!strchr(argv[i + 1], '=')) {
				fprintf(stderr,
				    "wasm serve: --env wants K=V\n");
				goto out;
			}
			env[nenv++] = argv[++i];
		} else if (strcmp(a, "--no-fuel") == 0) {
			lo.compile.fuel = 0;
		} else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' &&
		    a[2] <= '3' && !a[3]) {
			lo.compile.opt_level = a[2] - '0';
		} else if (a[0] != '-' && !module) {
			module = a;
		} else {
			usage(stderr);
			rc = 2;
			goto out;
		}
	}
	if (!module) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    type != SOCK_SEQPACKET) {
		fprintf(stderr,
		    "wasm serve: stdin is not the provider's "
		    "control socket (a SOCK_SEQPACKET socket)\n");
		goto out;
	}
	/* A module whose declared memory exceeds the lease's cannot run. */
	if (mem > 0 && mem / 65536 < lo.limits.max_memory_pages)
		lo.limits.max_memory_pages = (uint32_t)(mem / 65536);
	if (load_file(module, &lo, &p)) {
		fprintf(stderr, "wasm serve: %s\n", err_msg());
		goto out;
	}
	if (p->start_export < 0) {
		fprintf(stderr, "wasm serve: %s exports no _start\n", module);
		goto out;
	}
	so.env = env;
	if (wasm_serve_run(0, p, &so) < 0) {
		fprintf(stderr, "wasm serve: %s\n", err_msg());
		goto out;
	}
	rc = 0;
out:
	wasm_program_free(p);
	free(env);
	return rc;
}

static int
cmd_compile(int argc, char **argv)
{
	struct wasm_load_opts lo;
	struct wasm_program *p = NULL;
	const char *module = NULL;
	wasm_load_opts_init(&lo);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--no-fuel") == 0)
			lo.compile.fuel = 0;
		else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' &&
		    a[2] <= '3' && !a[3])
			lo.compile.opt_level = a[2] - '0';
		else if (a[0] != '-' && !module)
			module = a;
		else {
			usage(stderr);
			return 2;
		}
	}
	if (!module) {
		usage(stderr);
		return 2;
	}
	if (load_file(module, &lo, &p)) {
		fprintf(stderr, "wasm compile: %s\n", err_msg());
		return 1;
	}
	printf("%s %s\n", p->so_path, p->cached ? "(cached)" : "(compiled)");
	wasm_program_free(p);
	return 0;
}

/* Decode and validate each file; one line each: "ok FILE" or
 * "invalid FILE: message".  Exit 1 if any is invalid. */
static int
cmd_validate(int argc, char **argv)
{
	int bad = 0;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		char *buf = NULL;
		size_t len = 0;
		struct wasm_module *m = NULL;
		int rc =
		    util_read_file(argv[i], WASM_CLI_MAX_MODULE, &buf, &len);
		if (rc == 0)
			rc = wasm_module_decode((const uint8_t *)buf, len, NULL,
			    &m);
		if (rc == 0) {
			printf("ok %s\n", argv[i]);
		} else {
			printf("invalid %s: %s\n", argv[i], err_msg());
			bad = 1;
		}
		wasm_module_free(m);
		free(buf);
	}
	return bad;
}

int
wasm_cli_main(int argc, char **argv)
{
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[0], "run") == 0)
		return cmd_run(argc, argv);
	if (strcmp(argv[0], "compile") == 0)
		return cmd_compile(argc, argv);
	if (strcmp(argv[0], "serve") == 0)
		return cmd_serve(argc, argv);
	if (strcmp(argv[0], "spec") == 0)
		return wasm_spec_main(argc, argv);
	if (strcmp(argv[0], "validate") == 0)
		return cmd_validate(argc, argv);
	if (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
