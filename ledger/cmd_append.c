/*
 * ledger append: append signed envelopes, one per line, from a file or
 * stdin (ingest.h), acknowledging each once it is on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/codec.h"
#include "ledger/cmd.h"
#include "ledger/ingest.h"
#include "ledger/store.h"

static const char usage_append[] =
    "usage: ledger append DB [FILE|-] [--json]\n"
    "Append signed envelopes, one per line (default stdin).  A line that is\n"
    "not valid canonical-JSON or whose signature fails is reported with its\n"
    "line number and nothing of it is appended; the exit status is then 1.\n"
    "Lines read together are committed together (group commit); each is\n"
    "acknowledged (\"appended INDEX\", or JSON with --json) only after its\n"
    "commit is on disk.\n";

struct append_out {
	const char *src; /* the input, as messages name it */
	int json;
};

static void
print_rejected(void *ctx, uint64_t lineno, const char *why)
{
	struct append_out *o = ctx;

	fprintf(stderr, "ledger: append: %s:%" PRIu64 ": %s\n", o->src, lineno,
	    why);
}

static void
print_acks(void *ctx, const struct ingest_ack *acks, size_t n)
{
	struct append_out *o = ctx;
	char h[B64_ENCODED_SIZE(32)];

	for (size_t i = 0; i < n; i++) {
		if (o->json) {
			b64_encode(acks[i].leaf_hash, 32, h);
			printf("{\"index\":%" PRIu64 ",\"leaf_hash\":\"%s\","
			       "\"time\":%" PRId64 "}\n",
			    acks[i].index, h, acks[i].time);
		} else {
			printf("appended %" PRIu64 "\n", acks[i].index);
		}
	}
	fflush(stdout);
}

int
cmd_append(int argc, char **argv)
{
	static const char *const flags[] = { "json", NULL };
	static const struct ingest_ops ops = { print_rejected, print_acks };
	int set[1] = { 0 };
	char *pos[2];
	struct append_out out;
	struct store *s = NULL;
	uint64_t bad = 0;
	int npos, fd = 0, rc = EXIT_FAIL;

	if (cli_parse_opts(argc, argv, NULL, NULL, flags, set, pos, 2, &npos,
	        usage_append) < 0)
		return EXIT_USAGE;
	if (npos < 1)
		return cli_usage_error(usage_append, "%s", "expected DB");
	out.src = npos > 1 ? pos[1] : "-";
	out.json = set[0];
	if (strcmp(out.src, "-") != 0 && (fd = open(out.src, O_RDONLY)) < 0) {
		fprintf(stderr, "ledger: append: %s: %s\n", out.src,
		    strerror(errno));
		return EXIT_FAIL;
	}
	if (store_open(pos[0], 0, &s) < 0 ||
	    ingest_fd(s, fd, out.src, &ops, &out, &bad) < 0) {
		cli_die("append");
		goto out;
	}
	rc = bad ? EXIT_FAIL : 0;
	if (bad)
		fprintf(stderr, "ledger: append: %" PRIu64 " line%s rejected\n",
		    bad, bad == 1 ? "" : "s");
out:
	if (fd > 0)
		close(fd);
	store_free(s);
	return rc;
}
