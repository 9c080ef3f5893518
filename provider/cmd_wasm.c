/*
 * cmd_wasm: `provider wasm run|serve|compile|validate|spec`, a thin client
 * of the wasm library (wasm/run.h, wasm/serve.h, wasm/spec.h).  run and
 * serve are also what a wasm lease runs inside its sandbox.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "provider/cmd.h"
#include "sandbox/sandbox.h"
#include "wasm/run.h"
#include "wasm/serve.h"
#include "wasm/spec.h"

/* What run, serve and compile share. */
struct module_opts {
	struct wasm_load_opts lo;
	uint64_t memory_bytes; /* --memory; 0: none */
	const char *dir; /* --dir, preopened as /data */
	const char **env; /* --env K=V..., NULL-terminated */
	size_t nenv;
};

static int
module_opts_init(struct module_opts *o, int argc)
{
	memset(o, 0, sizeof(*o));
	wasm_load_opts_init(&o->lo);
	/* Each --env takes an argument: argc bounds them. */
	if ((o->env = calloc((size_t)argc + 1, sizeof(*o->env))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	return 0;
}

/* An option of struct module_opts: 1 when ch was one (0 when not), < 0
 * when its value is bad. */
static int
module_opt(int ch, const char *arg, struct module_opts *o)
{
	int rc;

	switch (ch) {
	case 'O':
		if (arg[0] < '0' || arg[0] > '3' || arg[1] != '\0')
			return err_set(ERR_INVAL,
			    "-O%s: the level is 0, 1, 2 or 3", arg);
		o->lo.compile.opt_level = arg[0] - '0';
		return 1;
	case 'F':
		o->lo.compile.fuel = 0;
		return 1;
	case 'm':
		if ((rc = sandbox_parse_size(arg, "--memory",
		         &o->memory_bytes)) < 0)
			return rc;
		return 1;
	case 'd':
		o->dir = arg;
		return 1;
	case 'e':
		if (strchr(arg, '=') == NULL)
			return err_set(ERR_INVAL, "--env %s: expected K=V",
			    arg);
		o->env[o->nenv++] = arg;
		return 1;
	}
	return 0;
}

/* Parse argv with the options of struct module_opts plus opts' own, which
 * go to own(ch, optarg, ctx).  CMD_DONE with *status, or 0. */
static int
parse_module_opts(const struct cmd *c, int argc, char **argv,
    const struct option *opts, struct module_opts *o,
    int (*own)(int ch, const char *arg, void *ctx), void *ctx, int *status)
{
	int ch, rc;

	while ((ch = cmd_getopt(c, argc, argv, "hO:", opts, status)) != -1) {
		if (ch == CMD_DONE)
			return CMD_DONE;
		if ((rc = module_opt(ch, optarg, o)) == 0 && own != NULL)
			rc = own(ch, optarg, ctx);
		if (rc < 0) {
			*status = cmd_fail(CMD_USAGE);
			return CMD_DONE;
		}
	}
	return 0;
}

/* The one module operand.  CMD_DONE with *status, or 0. */
static int
one_module(const struct cmd *c, int argc, char **argv, const char **module,
    int *status)
{
	if (argc - optind != 1) {
		*status = cmd_misuse(c);
		return CMD_DONE;
	}
	*module = argv[optind];
	return 0;
}

/* ---- run ---- */

struct run_opts {
	struct wasm_run_limits lim;
	int isolated;
};

static int
run_opt(int ch, const char *arg, void *ctx)
{
	struct run_opts *r = ctx;
	uint64_t v;
	int rc;

	switch (ch) {
	case 'f':
		if ((rc = util_parse_u64(arg, "--fuel", &v)) < 0)
			return rc;
		if (v > INT64_MAX)
			return err_set(ERR_RANGE, "--fuel: %s is too large",
			    arg);
		r->lim.fuel = (int64_t)v;
		return 1;
	case 't':
		if ((rc = util_parse_u64(arg, "--timeout", &v)) < 0)
			return rc;
		r->lim.wall_ms = v;
		return 1;
	case 'i':
		r->isolated = 0;
		return 1;
	}
	return 0;
}

static int
run_main(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-fuel", no_argument, NULL, 'F' },
		{ "memory", required_argument, NULL, 'm' },
		{ "dir", required_argument, NULL, 'd' },
		{ "env", required_argument, NULL, 'e' },
		{ "fuel", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "in-process", no_argument, NULL, 'i' },
		CMD_OPTS_END,
	};
	struct run_opts r = { .lim = { .fuel = -1 }, .isolated = 1 };
	struct wasm_program *p = NULL;
	struct wasm_outcome oc;
	struct wasm_usage u;
	struct module_opts o;
	struct wasm_io io;
	int status;

	if (module_opts_init(&o, argc) < 0)
		return cmd_fail(CMD_FAIL);
	if (parse_module_opts(c, argc, argv, opts, &o, run_opt, &r, &status) ==
	    CMD_DONE)
		goto out;
	if (optind >= argc) {
		status = cmd_misuse(c);
		goto out;
	}
	r.lim.memory_bytes = o.memory_bytes;
	/* The module's argv: its path, then what follows it. */
	memset(&io, 0, sizeof(io));
	io.argc = argc - optind;
	io.argv = (const char **)(argv + optind);
	io.envp = o.env;
	io.stdin_fd = 0;
	io.stdout_fd = 1;
	io.stderr_fd = 2;
	io.data_dir = o.dir;
	if (wasm_program_load_file(argv[optind], &o.lo, &p) < 0) {
		status = cmd_fail(CMD_FAIL);
		goto out;
	}
	fflush(stdout);
	if (wasm_run_command(p, &io, &r.lim, r.isolated, &oc, &u) < 0) {
		status = cmd_fail(CMD_FAIL);
		goto out;
	}
	if (oc.message[0])
		fprintf(stderr, "%s\n", oc.message);
	/* The last line: a lease's job reads its fuel here. */
	fprintf(stderr,
	    "usage: fuel=%llu cpu_ms=%llu wall_ms=%llu mem_peak_bytes=%llu\n",
	    (unsigned long long)u.fuel, (unsigned long long)u.cpu_ms,
	    (unsigned long long)u.wall_ms,
	    (unsigned long long)u.mem_peak_bytes);
	status = oc.exit_code;
out:
	wasm_program_free(p);
	free(o.env);
	return status;
}

/* ---- serve ---- */

/* The sandboxed side of an HTTP function: the provider's control socket
 * is stdin (wasm/serve.h); the modules' stderr goes to ours. */
static int
serve_main(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-fuel", no_argument, NULL, 'F' },
		{ "memory", required_argument, NULL, 'm' },
		{ "dir", required_argument, NULL, 'd' },
		{ "env", required_argument, NULL, 'e' },
		CMD_OPTS_END,
	};
	struct wasm_serve_opts so = { .stderr_fd = 2 };
	struct wasm_program *p = NULL;
	struct module_opts o;
	const char *module;
	int status;

	if (module_opts_init(&o, argc) < 0)
		return cmd_fail(CMD_FAIL);
	if (parse_module_opts(c, argc, argv, opts, &o, NULL, NULL, &status) ==
	        CMD_DONE ||
	    one_module(c, argc, argv, &module, &status) == CMD_DONE)
		goto out;
	wasm_load_opts_cap_memory(&o.lo, o.memory_bytes);
	so.data_dir = o.dir;
	so.env = o.env;
	status = CMD_FAIL;
	if (wasm_program_load_file(module, &o.lo, &p) < 0 ||
	    wasm_serve_run(0, p, &so) < 0) {
		status = cmd_fail(CMD_FAIL);
		goto out;
	}
	status = CMD_OK;
out:
	wasm_program_free(p);
	free(o.env);
	return status;
}

/* ---- compile, validate, spec ---- */

static int
compile_main(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-fuel", no_argument, NULL, 'F' },
		CMD_OPTS_END,
	};
	struct wasm_program *p = NULL;
	struct module_opts o;
	const char *module;
	int status;

	if (module_opts_init(&o, argc) < 0)
		return cmd_fail(CMD_FAIL);
	if (parse_module_opts(c, argc, argv, opts, &o, NULL, NULL, &status) ==
	        CMD_DONE ||
	    one_module(c, argc, argv, &module, &status) == CMD_DONE)
		goto out;
	if (wasm_program_load_file(module, &o.lo, &p) < 0) {
		status = cmd_fail(CMD_FAIL);
		goto out;
	}
	printf("%s %s\n", p->so_path, p->cached ? "(cached)" : "(compiled)");
	status = CMD_OK;
out:
	wasm_program_free(p);
	free(o.env);
	return status;
}

/* One line per file, "ok FILE" or "invalid FILE: message"; 1 when any
 * is invalid. */
static int
validate_main(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = { CMD_OPTS_END };
	int ch, i, status = CMD_OK;

	while ((ch = cmd_getopt(c, argc, argv, "h", opts, &status)) != -1)
		if (ch == CMD_DONE)
			return status;
	if (optind >= argc) {
		return cmd_misuse(c);
	}
	for (i = optind; i < argc; i++) {
		if (wasm_validate_file(argv[i]) == 0) {
			printf("ok %s\n", argv[i]);
		} else {
			printf("invalid %s: %s\n", argv[i], err_msg());
			status = CMD_FAIL;
		}
	}
	return status;
}

/* The spec runner parses its own options (wasm/spec.h). */
static int
spec_main(const struct cmd *c, int argc, char **argv)
{
	if (argc > 1 &&
	    (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		cmd_usage(c, stdout);
		return CMD_OK;
	}
	return wasm_spec_main(argc, argv);
}

const struct cmd cmd_wasm_run = {
	.group = "wasm",
	.name = "run",
	.run = run_main,
	.help = "run a module's _start (WASI), fuel metered",
	.usage =
	    "usage: provider wasm run [options] MODULE.wasm [--] [ARG...]\n"
	    "Run the module with ARGs; exits with its exit code and "
	    "prints its usage\n"
	    "(fuel, cpu_ms, wall_ms, mem_peak_bytes) on stderr as the last "
	    "line.\n"
	    "  --fuel N       fuel budget (default: none)\n"
	    "  --no-fuel      compile without fuel metering\n"
	    "  --memory SIZE  cap of its linear memory: 64m, 1Gi\n"
	    "  --dir DIR      host directory preopened as /data\n"
	    "  --env K=V      environment (repeatable)\n"
	    "  --timeout MS   wall-clock deadline\n"
	    "  --in-process   run here, not in a confined worker process\n"
	    "  -O0|-O1|-O2|-O3  optimisation of the compiled module\n",
};

const struct cmd cmd_wasm_serve = {
	.group = "wasm",
	.name = "serve",
	.run = serve_main,
	.help = "an HTTP function's workers (in its sandbox)",
	.usage = "usage: provider wasm serve [options] MODULE.wasm\n"
	         "Serve HTTP requests, each in a fresh instance, on the "
	         "sockets the provider\n"
	         "hands over on the control socket that is stdin "
	         "(SOCK_SEQPACKET).\n"
	         "  --memory SIZE  the lease's memory: caps the module's\n"
	         "  --dir DIR      host directory preopened as /data\n"
	         "  --env K=V      environment of every request (repeatable)\n"
	         "  --no-fuel      compile without fuel metering\n"
	         "  -O0|-O1|-O2|-O3  optimisation of the compiled module\n",
};

const struct cmd cmd_wasm_compile = {
	.group = "wasm",
	.name = "compile",
	.run = compile_main,
	.help = "compile a module into the cache",
	.usage = "usage: provider wasm compile [--no-fuel] [-O0|-O2] "
	         "MODULE.wasm\n"
	         "Compile the module into the cache ($LODGE_WASM_CACHE); "
	         "print the shared\n"
	         "object's path and whether it was cached or compiled.\n",
};

const struct cmd cmd_wasm_validate = {
	.group = "wasm",
	.name = "validate",
	.run = validate_main,
	.help = "decode and validate modules",
	.usage = "usage: provider wasm validate MODULE.wasm...\n"
	         "Decode and validate each module: \"ok FILE\" or \"invalid "
	         "FILE: why\";\n"
	         "exit 1 when any is invalid.\n",
};

const struct cmd cmd_wasm_spec = {
	.group = "wasm",
	.name = "spec",
	.run = spec_main,
	.help = "run the WebAssembly spec suite (wast2json output)",
	.usage = "usage: provider wasm spec [-O0|-O2] [--jobs N] [--no-fuel] "
	         "[-v] WAST_JSON...\n"
	         "Run the core test suite's assertions through the whole "
	         "pipeline; exit 1\n"
	         "when a supported one fails.\n",
};
