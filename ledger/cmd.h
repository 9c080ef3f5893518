/*
 * cmd: the ledger tool's commands, one cmd_<name>.c each, and the few
 * helpers (cli_*, in cmd_common.c) they share for options and output.
 * Commands parse arguments, call the ledger library and print; they
 * return the exit status.
 */
#ifndef LODGE_LEDGER_CMD_H
#define LODGE_LEDGER_CMD_H

#include <stdint.h>
#include <jansson.h>

#include "ledger/trust.h"

#define EXIT_FAIL 1 /* the reason on stderr */
#define EXIT_USAGE 2

/* Each takes the arguments after its name and returns the exit status. */
int cmd_init(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_envelope(int argc, char **argv);
int cmd_append(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_proof(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_mirror(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_witness(int argc, char **argv);
int cmd_cosign(int argc, char **argv);
int cmd_follow(int argc, char **argv);
int cmd_tiles(int argc, char **argv);
int cmd_attest(int argc, char **argv);

/* Print "ledger: WHAT: <err_msg()>" on stderr; returns EXIT_FAIL. */
int cli_die(const char *what);
/* Print "ledger: " fmt (with arg) and the command's usage on stderr;
 * returns EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, const char *arg);

/*
 * A small option parser: names[] lists the options taking a value
 * (--name VALUE or --name=VALUE), flags[] those without (both
 * NULL-terminated, or NULL); values land in vals[] (NULL when absent),
 * flags in set[]; other arguments, "-" among them, go to pos[] (at most
 * maxpos, *npos of them).  --help or -h prints usage on stdout and exits
 * 0.  Returns -1 after printing a usage error.
 */
int cli_parse_opts(int argc, char **argv, const char *const *names,
    const char **vals, const char *const *flags, int *set, char **pos,
    int maxpos, int *npos, const char *usage);

/* Parse s, a number for option or argument what; -1 after printing the
 * error. */
int cli_get_u64(const char *s, const char *what, uint64_t *out);

/* Print o as one line of canonical JSON and release it (o NULL: out of
 * memory).  0, or a negative code with the message set. */
int cli_print_json(json_t *o);
/* Print o indented, keys sorted, for people. */
void cli_print_pretty(const json_t *o);

/* Fill p (initialised here) from a policy file (may be NULL) and a
 * --vkey (may be NULL; the log's key, over the policy's); -1 with the
 * message set on error.  The caller clears p (trust_policy_clear). */
int cli_load_policy(const char *policy, const char *vkey,
    struct trust_policy *p);
/* A market URL on https:// is pinned to the log's key (the market key,
 * README "TLS") when p has one, else to the key its certificate shows now
 * (trusted as far as the key the market names itself); nothing for
 * http:// or NULL.  -1 with the message set on failure. */
int cli_pin_market(const char *url, const struct trust_policy *p);
/* An https:// tiles URL whose certificate holds the log's key (the
 * market serving its own tiles) is pinned to it; any other is left to
 * the system's CAs.  -1 with the message set on failure. */
int cli_pin_tiles(const char *url, const struct trust_policy *p);

/* 1 when path is a directory (a git mirror, for verify and audit). */
int cli_is_dir(const char *path);

#endif
