/*
 * ledger witness: run a C2SP tlog-witness (witness_db.h, witness_server.h):
 * create it, tell it which logs to follow, serve add-checkpoint, and show
 * its state and the evidence it kept.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/http.h"
#include "common/log.h"
#include "ledger/cmd.h"
#include "ledger/witness_db.h"
#include "ledger/witness_server.h"

static const char usage_witness[] =
    "usage: ledger witness init DB --name NAME --key KEYFILE\n"
    "       ledger witness log DB VKEY [--origin ORIGIN]\n"
    "       ledger witness serve DB [--listen HOST:PORT]\n"
    "       ledger witness state DB [--json]\n"
    "       ledger witness evidence DB [--origin ORIGIN] [--json]\n"
    "A C2SP tlog-witness.  init creates its database and key (KEYFILE is\n"
    "created when missing) and prints its verifier key (type 0x04).  log\n"
    "makes it follow the log whose checkpoints VKEY signs (origin: the\n"
    "key's name unless --origin).  serve answers POST /add-checkpoint on\n"
    "HOST:PORT (default 127.0.0.1:0, any free port; the address is printed)\n"
    "until SIGTERM or SIGINT: it cosigns a checkpoint only with a\n"
    "consistency proof from the size it last cosigned, and keeps both\n"
    "notes when a log shows it a checkpoint inconsistent with one it\n"
    "cosigned.  state prints each log's last cosigned size and root;\n"
    "evidence prints the notes of every refusal kept as evidence.\n";

static int
cmd_witness_init(int argc, char **argv)
{
	static const char *const names[] = { "name", "key", NULL };
	const char *vals[2] = { NULL };
	char *pos[1], *vkey = NULL;
	int npos, created = 0;

	if (cli_parse_opts(argc, argv, names, vals, NULL, NULL, pos, 1, &npos,
	        usage_witness) < 0)
		return EXIT_USAGE;
	if (npos != 1 || vals[0] == NULL || vals[1] == NULL)
		return cli_usage_error(usage_witness, "%s",
		    "witness init: expected DB --name NAME --key KEYFILE");
	if (witness_db_create(pos[0], vals[0], vals[1], &vkey, &created) < 0)
		return cli_die("witness init");
	if (created)
		fprintf(stderr, "ledger: witness init: created key %s\n",
		    vals[1]);
	puts(vkey);
	free(vkey);
	return 0;
}

static int
cmd_witness_log(int argc, char **argv)
{
	static const char *const names[] = { "origin", NULL };
	const char *vals[1] = { NULL };
	struct witness_db *w = NULL;
	char *pos[2];
	int npos, rc = 0;

	if (cli_parse_opts(argc, argv, names, vals, NULL, NULL, pos, 2, &npos,
	        usage_witness) < 0)
		return EXIT_USAGE;
	if (npos != 2)
		return cli_usage_error(usage_witness, "%s",
		    "witness log: expected DB VKEY");
	if (witness_db_open(pos[0], &w) < 0 ||
	    witness_db_log_add(w, pos[1], vals[0]) < 0)
		rc = cli_die("witness log");
	witness_db_free(w);
	return rc;
}

static int
cmd_witness_serve(int argc, char **argv)
{
	static const char *const names[] = { "listen", NULL };
	const char *vals[1] = { NULL };
	struct http_server_config hc;
	struct witness_server *srv = NULL;
	struct witness_db *w = NULL;
	char host[256], *pos[1], *vkey = NULL;
	sigset_t set;
	int npos, sig, rc = EXIT_FAIL;

	if (cli_parse_opts(argc, argv, names, vals, NULL, NULL, pos, 1, &npos,
	        usage_witness) < 0)
		return EXIT_USAGE;
	if (npos != 1)
		return cli_usage_error(usage_witness, "%s",
		    "witness serve: expected DB");
	http_server_config_default(&hc);
	if (http_parse_listen(vals[0] ? vals[0] : "127.0.0.1:0", host,
	        sizeof(host), &hc.port) < 0)
		return cli_usage_error(usage_witness, "--listen: %s",
		    err_msg());
	hc.host = host;
	/* the stop signals wait for main; the server's threads never see
	 * them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_set_name("witness");
	if (witness_db_open(pos[0], &w) < 0 || witness_db_vkey(w, &vkey) < 0 ||
	    witness_server_start(w, &hc, &srv) < 0) {
		cli_die("witness serve");
		goto out;
	}
	printf("witness vkey: %s\nlistening on http://%s%s%s:%u\n", vkey,
	    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	    witness_server_port(srv));
	fflush(stdout);
	log_info("%s serving on port %u", witness_db_name(w),
	    witness_server_port(srv));
	sigwait(&set, &sig);
	log_info("signal %d: stopping", sig);
	rc = 0;
out:
	witness_server_free(srv);
	witness_db_free(w);
	free(vkey);
	return rc;
}

static int
state_print(void *ctx, const struct witness_log_state *s)
{
	char root[B64_ENCODED_SIZE(32)] = "";
	json_t *o;
	int *json = ctx;

	if (s->root)
		b64_encode(s->root, 32, root);
	if (*json) {
		o = json_pack("{s:s,s:s,s:b,s:I,s:s?,s:s?,s:I,s:I,s:I}",
		    "origin", s->origin, "vkeys", s->vkeys, "cosigned",
		    s->cosigned, "size", (json_int_t)s->size, "root",
		    s->root ? root : NULL, "note", s->note, "time",
		    (json_int_t)s->time, "history", (json_int_t)s->history,
		    "evidence", (json_int_t)s->evidence);
		return cli_print_json(o);
	}
	if (s->cosigned)
		printf("%s: cosigned size %" PRIu64 " root %s at %" PRIu64
		       " (%" PRIu64 " notes cosigned, %" PRIu64
		       " refusals kept as evidence)\n",
		    s->origin, s->size, root, s->time, s->history, s->evidence);
	else
		printf("%s: nothing cosigned yet (%" PRIu64
		       " refusals kept as evidence)\n",
		    s->origin, s->evidence);
	return 0;
}

static int
evidence_print(void *ctx, const struct witness_evidence *e)
{
	int *json = ctx;

	if (*json)
		return cli_print_json(
		    json_pack("{s:I,s:s,s:I,s:i,s:s,s:s,s:s,s:s}", "id",
		        (json_int_t)e->id, "origin", e->origin, "time",
		        (json_int_t)e->time, "status", e->status, "reason",
		        e->reason, "cosigned", e->cosigned, "refused",
		        e->refused, "request", e->request));
	printf("=== evidence %" PRId64 ": %s, at %" PRIu64 " (answered %d)\n"
	       "%s\n"
	       "--- the checkpoint the witness had cosigned ---\n%s"
	       "--- the checkpoint it refused ---\n%s",
	    e->id, e->origin, e->time, e->status, e->reason, e->cosigned,
	    e->refused);
	return 0;
}

static int
cmd_witness_show(int argc, char **argv, int evidence)
{
	static const char *const names[] = { "origin", NULL };
	static const char *const flags[] = { "json", NULL };
	const char *vals[1] = { NULL };
	int set[1] = { 0 };
	struct witness_db *w = NULL;
	char *pos[1];
	int npos, rc = 0;

	if (cli_parse_opts(argc, argv, evidence ? names : NULL, vals, flags,
	        set, pos, 1, &npos, usage_witness) < 0)
		return EXIT_USAGE;
	if (npos != 1)
		return cli_usage_error(usage_witness, "%s",
		    "witness state|evidence: expected DB");
	if (witness_db_open(pos[0], &w) < 0 ||
	    (evidence ? witness_db_foreach_evidence(w, vals[0], evidence_print,
	                    &set[0]) :
	                witness_db_foreach_log(w, state_print, &set[0])) < 0)
		rc = cli_die(evidence ? "witness evidence" : "witness state");
	witness_db_free(w);
	return rc;
}

int
cmd_witness(int argc, char **argv)
{
	if (argc < 1)
		return cli_usage_error(usage_witness, "%s",
		    "witness: expected init, log, serve, state or evidence");
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(usage_witness, stdout);
		return 0;
	}
	if (strcmp(argv[0], "init") == 0)
		return cmd_witness_init(argc - 1, argv + 1);
	if (strcmp(argv[0], "log") == 0)
		return cmd_witness_log(argc - 1, argv + 1);
	if (strcmp(argv[0], "serve") == 0)
		return cmd_witness_serve(argc - 1, argv + 1);
	if (strcmp(argv[0], "state") == 0)
		return cmd_witness_show(argc - 1, argv + 1, 0);
	if (strcmp(argv[0], "evidence") == 0)
		return cmd_witness_show(argc - 1, argv + 1, 1);
	return cli_usage_error(usage_witness,
	    "witness: unknown subcommand '%s'", argv[0]);
}
