/*
 * ledger: command-line tool over the ledger library: create a log, sign
 * envelopes, append, checkpoint, show, prove, verify and mirror.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/key.h"
#include "common/util.h"
#include "common/http.h"
#include "ledger/audit.h"
#include "ledger/mirror.h"
#include "ledger/note.h"
#include "ledger/store.h"
#include "ledger/verify.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char usage_main[] =
    "usage: ledger COMMAND [ARGS]\n"
    "\n"
    "  init DB --origin NAME --key KEYFILE   create a log (and its key)\n"
    "  keygen KEYFILE                        create an Ed25519 key\n"
    "  envelope --key KEYFILE --kind KIND [--body JSON|-] [--nonce N]\n"
    "           [--time MS]                  print a signed envelope\n"
    "  append DB [FILE|-] [--json]           append envelopes, one per line\n"
    "  checkpoint DB [--key KEYFILE]         sign and print a checkpoint\n"
    "  show DB [--from N] [--to M] [--json]  print entries\n"
    "  proof inclusion DB INDEX [--size S] [--json]\n"
    "  proof consistency DB OLD NEW [--json]\n"
    "  verify DB|MIRROR_DIR --vkey VKEY [--json]\n"
    "  mirror DB DIR                         create or update a git mirror\n"
    "  audit --market URL | DB | MIRROR_DIR [--vkey VKEY] [--lease ID]\n"
    "        [--account KEY] [--json]         replay and check everything\n"
    "\n"
    "Each command takes --help.  Exit status: 0 success, 1 failure (the\n"
    "reason on stderr), 2 usage error.\n";

struct opts {
	int argc;
	char **argv;
	int pos; /* positional arguments collected */
	char *args[8];
};

static int
die(const char *what)
{
	fprintf(stderr, "ledger: %s%s%s\n", what ? what : "",
	    what && err_msg()[0] ? ": " : "", err_msg());
	return EXIT_FAIL;
}

static int
usage_error(const char *usage, const char *fmt, const char *arg)
{
	fprintf(stderr, "ledger: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	return EXIT_USAGE;
}

/*
 * A small option parser: names[] lists the options taking a value, flags[]
 * those without; values land in vals[] (NULL when absent), flags in
 * set[]; other arguments are positional.  Returns -1 on a usage error.
 */
static int
parse_opts(int argc, char **argv, const char *const *names, const char **vals,
    const char *const *flags, int *set, char **pos, int maxpos, int *npos,
    const char *usage)
{
	int i, j;

	*npos = 0;
	for (i = 0; i < argc; i++) {
		char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			exit(0);
		}
		if (strncmp(a, "--", 2) != 0 || strcmp(a, "-") == 0 ||
		    a[2] == '\0') {
			if (*npos >= maxpos) {
				usage_error(usage, "unexpected argument '%s'",
				    a);
				return -1;
			}
			pos[(*npos)++] = a;
			continue;
		}
		for (j = 0; names && names[j]; j++) {
			size_t n = strlen(names[j]);
			if (strncmp(a + 2, names[j], n) != 0)
				continue;
			if (a[2 + n] == '=') {
				vals[j] = a + 3 + n;
				break;
			}
			if (a[2 + n] == '\0') {
				if (i + 1 >= argc) {
					usage_error(usage, "%s needs a value",
					    a);
					return -1;
				}
				vals[j] = argv[++i];
				break;
			}
		}
		if (names && names[j])
			continue;
		for (j = 0; flags && flags[j]; j++)
			if (strcmp(a + 2, flags[j]) == 0)
				break;
		if (flags && flags[j]) {
			set[j] = 1;
			continue;
		}
		usage_error(usage, "unknown option '%s'", a);
		return -1;
	}
	return 0;
}

static int
get_u64(const char *s, const char *what, uint64_t *out)
{
	if (util_parse_u64(s, what, out) < 0) {
		die(NULL);
		return -1;
	}
	return 0;
}

/* ---- keygen ------------------------------------------------------------ */

static const char usage_keygen[] =
    "usage: ledger keygen KEYFILE\n"
    "Create an Ed25519 key in KEYFILE (PEM, mode 0600; refuses to replace\n"
    "a file) and print its public key as ed25519:<base64url>.\n";

static int
cmd_keygen(int argc, char **argv)
{
	char *pos[1], text[KEY_TEXT_SIZE];
	uint8_t pub[KEY_PUB_LEN];
	struct key *k = NULL;
	int npos;

	if (parse_opts(argc, argv, NULL, NULL, NULL, NULL, pos, 1, &npos,
	        usage_keygen) < 0)
		return EXIT_USAGE;
	if (npos != 1)
		return usage_error(usage_keygen, "%s", "expected KEYFILE");
	if (key_generate(&k) < 0 || key_save(k, pos[0]) < 0) {
		key_free(k);
		return die("keygen");
	}
	key_public(k, pub);
	key_pub_to_text(pub, text);
	printf("%s\n", text);
	key_free(k);
	return 0;
}

/* ---- init -------------------------------------------------------------- */

static const char usage_init[] =
    "usage: ledger init DB --origin NAME --key KEYFILE\n"
    "Create a new log in the SQLite file DB whose checkpoints are signed\n"
    "by KEYFILE (created if it does not exist) under the origin NAME\n"
    "(e.g. lodge.example/ledger), sign the empty checkpoint, and print the\n"
    "verifier key auditors use: <name>+<key id>+<base64 key>.\n";

static int
sign_checkpoint(struct store *s, const struct key *k, char **note)
{
	uint8_t root[32];
	char *body = NULL;
	int rc;

	if ((rc = store_root(s, store_size(s), root)) < 0 ||
	    (rc = checkpoint_format(store_origin(s), store_size(s), root,
	         &body)) < 0 ||
	    (rc = note_sign(body, strlen(body), store_origin(s), k, note)) <
	        0 ||
	    (rc = store_checkpoint_add(s, store_size(s), util_now_ms(),
	         *note)) < 0) {
		free(body);
		return rc;
	}
	free(body);
	return 0;
}

static int
cmd_init(int argc, char **argv)
{
	static const char *const names[] = { "origin", "key", NULL };
	const char *vals[2] = { NULL, NULL };
	char *pos[1], *vkey = NULL, *note = NULL, abspath[PATH_MAX];
	uint8_t pub[KEY_PUB_LEN];
	struct store *s = NULL;
	struct key *k = NULL;
	int npos, created, rc = EXIT_FAIL;

	if (parse_opts(argc, argv, names, vals, NULL, NULL, pos, 1, &npos,
	        usage_init) < 0)
		return EXIT_USAGE;
	if (npos != 1 || !vals[0] || !vals[1])
		return usage_error(usage_init, "%s",
		    "expected DB, --origin and --key");
	if (note_name_check(vals[0]) < 0) {
		err_prefix(ERR_INVAL, "--origin");
		return die("init");
	}
	if (access(pos[0], F_OK) == 0) {
		fprintf(stderr,
		    "ledger: init: %s exists; refusing to replace "
		    "a ledger\n",
		    pos[0]);
		return EXIT_FAIL;
	}
	if (key_load_or_create(vals[1], &k, &created) < 0)
		return die("init");
	key_public(k, pub);
	if (store_create(pos[0], vals[0], pub, &s) < 0)
		goto fail;
	if (realpath(vals[1], abspath) == NULL ||
	    store_meta_set(s, "key_path", abspath) < 0) {
		if (err_msg()[0] == '\0')
			err_set(ERR_IO, "%s: %s", vals[1], strerror(errno));
		goto fail;
	}
	if (sign_checkpoint(s, k, &note) < 0 ||
	    note_vkey_format(vals[0], pub, &vkey) < 0)
		goto fail;
	if (created)
		fprintf(stderr, "ledger: created key %s\n", vals[1]);
	printf("%s\n", vkey);
	rc = 0;
	goto out;
fail:
	die("init");
	if (s) {
		store_free(s);
		s = NULL;
		unlink(pos[0]);
	}
out:
	free(vkey);
	free(note);
	store_free(s);
	key_free(k);
	return rc;
}

/* ---- envelope ---------------------------------------------------------- */

static const char usage_envelope[] =
    "usage: ledger envelope --key KEYFILE --kind KIND [--body JSON|-]\n"
    "                       [--nonce NONCE] [--time MS]\n"
    "Print one signed envelope (canonical JSON, one line).  The body is a\n"
    "JSON object (integers only), '-' reads it from stdin; default {}.\n"
    "The nonce defaults to 16 random bytes in hex, the time to now.\n";

static int
cmd_envelope(int argc, char **argv)
{
	static const char *const names[] = { "key", "kind", "body", "nonce",
		"time", NULL };
	const char *vals[5] = { NULL };
	char *pos[1], *buf = NULL, *out = NULL;
	struct envelope *e = NULL;
	struct key *k = NULL;
	json_t *body = NULL;
	int64_t t = -1;
	size_t len;
	int npos, rc = EXIT_FAIL;

	if (parse_opts(argc, argv, names, vals, NULL, NULL, pos, 0, &npos,
	        usage_envelope) < 0)
		return EXIT_USAGE;
	if (!vals[0] || !vals[1])
		return usage_error(usage_envelope, "%s",
		    "expected --key and --kind");
	if (vals[4] && util_parse_i64(vals[4], "--time", &t) < 0)
		return die(NULL);
	if (vals[2] && strcmp(vals[2], "-") == 0) {
		if (util_read_file("-", STORE_MAX_LEAF, &buf, &len) < 0)
			return die("envelope");
		if (cjson_parse(buf, len, &body) < 0) {
			free(buf);
			err_prefix(ERR_INVAL, "--body");
			return die("envelope");
		}
		free(buf);
	} else if (vals[2]) {
		if (cjson_parse(vals[2], strlen(vals[2]), &body) < 0) {
			err_prefix(ERR_INVAL, "--body");
			return die("envelope");
		}
	} else {
		body = json_object();
	}
	if (key_load(vals[0], &k) < 0 ||
	    envelope_sign(k, vals[1], body, vals[3], t, &e) < 0 ||
	    envelope_dump(e, &out, &len) < 0) {
		die("envelope");
		goto out;
	}
	printf("%s\n", out);
	rc = 0;
out:
	free(out);
	envelope_free(e);
	json_decref(body);
	key_free(k);
	return rc;
}

/* ---- append ------------------------------------------------------------ */

static const char usage_append[] =
    "usage: ledger append DB [FILE|-] [--json]\n"
    "Append signed envelopes, one per line (default stdin).  A line that is\n"
    "not valid canonical-JSON or whose signature fails is reported with its\n"
    "line number and nothing of it is appended; the exit status is then 1.\n"
    "Lines read together are committed together (group commit); each is\n"
    "acknowledged (\"appended INDEX\", or JSON with --json) only after its\n"
    "commit is on disk.\n";

struct ack {
	uint64_t index;
	int64_t time;
	uint8_t hash[32];
};

static int
flush_acks(struct store *s, struct ack *acks, size_t *nacks, int json)
{
	char h[B64_ENCODED_SIZE(32)];

	if (*nacks == 0)
		return 0;
	if (store_commit(s) < 0)
		return -1;
	for (size_t i = 0; i < *nacks; i++) {
		if (json) {
			b64_encode(acks[i].hash, 32, h);
			printf("{\"index\":%" PRIu64 ",\"leaf_hash\":\"%s\","
			       "\"time\":%" PRId64 "}\n",
			    acks[i].index, h, acks[i].time);
		} else {
			printf("appended %" PRIu64 "\n", acks[i].index);
		}
	}
	fflush(stdout);
	*nacks = 0;
	return 0;
}

static int
cmd_append(int argc, char **argv)
{
	static const char *const flags[] = { "json", NULL };
	int set[1] = { 0 };
	char *pos[2], *buf = NULL;
	const char *src;
	struct store *s = NULL;
	struct ack *acks = NULL;
	struct envelope **envs = NULL;
	const char **lines = NULL;
	size_t *lens = NULL, nlines, linecap = 0, envcap = 0;
	uint64_t *linenos = NULL;
	char **msgs = NULL;
	int *rcs = NULL;
	size_t cap = 1 << 20, len = 0, nacks = 0, ackcap = 0;
	uint64_t lineno = 0, bad = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int npos, fd = 0, rc = EXIT_FAIL, eof = 0;

	if (parse_opts(argc, argv, NULL, NULL, flags, set, pos, 2, &npos,
	        usage_append) < 0)
		return EXIT_USAGE;
	if (npos < 1)
		return usage_error(usage_append, "%s", "expected DB");
	src = npos > 1 ? pos[1] : "-";
	if (strcmp(src, "-") != 0 && (fd = open(src, O_RDONLY)) < 0) {
		fprintf(stderr, "ledger: append: %s: %s\n", src,
		    strerror(errno));
		return EXIT_FAIL;
	}
	if (store_open(pos[0], 0, &s) < 0) {
		die("append");
		goto out;
	}
	if ((buf = malloc(cap + 1)) == NULL) {
		err_set(ERR_NOMEM, "out of memory");
		die("append");
		goto out;
	}
	while (!eof) {
		ssize_t r = read(fd, buf + len, cap - len);
		char *nl;
		size_t off = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "ledger: append: %s: %s\n", src,
			    strerror(errno));
			goto out;
		}
		if (r == 0) {
			eof = 1;
			if (len > 0)
				buf[len++] = '\n'; /* last line unterminated */
		}
		len += (size_t)r;
		if (store_begin(s) < 0) {
			die("append");
			goto out;
		}
		/* the chunk's lines, verified on every core, appended in order */
		nlines = 0;
		while ((nl = memchr(buf + off, '\n', len - off)) != NULL) {
			size_t ll = (size_t)(nl - (buf + off));

			if (nlines == linecap) {
				size_t nc = linecap ? linecap * 2 : 1024;
				const char **np =
				    realloc(lines, nc * sizeof(*np));
				size_t *nlp = realloc(lens, nc * sizeof(*nlp));
				uint64_t *nno =
				    realloc(linenos, nc * sizeof(*nno));
				if (np)
					lines = np;
				if (nlp)
					lens = nlp;
				if (nno)
					linenos = nno;
				if (!np || !nlp || !nno) {
					err_set(ERR_NOMEM, "out of memory");
					die("append");
					goto out;
				}
				linecap = nc;
			}
			lineno++;
			lines[nlines] = buf + off;
			off += ll + 1;
			if (ll > 0 && lines[nlines][ll - 1] == '\r')
				ll--;
			if (ll == 0)
				continue;
			lens[nlines] = ll;
			linenos[nlines] = lineno;
			nlines++;
		}
		if (nlines > envcap) {
			free(envs);
			free(rcs);
			free(msgs);
			envs = calloc(nlines, sizeof(*envs));
			rcs = calloc(nlines, sizeof(*rcs));
			msgs = calloc(nlines, sizeof(*msgs));
			if (!envs || !rcs || !msgs) {
				err_set(ERR_NOMEM, "out of memory");
				die("append");
				goto out;
			}
			envcap = nlines;
		}
		envelope_parse_many(lines, lens, nlines, (int)ncpu, envs, rcs,
		    msgs);
		if (nacks + nlines > ackcap) {
			size_t nc = (nacks + nlines) * 2;
			struct ack *na = realloc(acks, nc * sizeof(*na));
			if (na == NULL) {
				err_set(ERR_NOMEM, "out of memory");
				die("append");
				goto out;
			}
			acks = na;
			ackcap = nc;
		}
		for (size_t i = 0; i < nlines; i++) {
			if (rcs[i] < 0) {
				fprintf(stderr,
				    "ledger: append: %s:%" PRIu64 ": %s\n", src,
				    linenos[i], msgs[i] ? msgs[i] : "invalid");
				bad++;
			} else if (store_append(s, envs[i], util_now_ms(),
			               &acks[nacks].index, &acks[nacks].time,
			               acks[nacks].hash) < 0) {
				fprintf(stderr,
				    "ledger: append: %s:%" PRIu64 ": %s\n", src,
				    linenos[i], err_msg());
				bad++;
			} else {
				nacks++;
			}
			envelope_free(envs[i]);
			free(msgs[i]);
			envs[i] = NULL;
			msgs[i] = NULL;
		}
		if (flush_acks(s, acks, &nacks, set[0]) < 0) {
			die("append: commit");
			goto out;
		}
		store_rollback(s); /* ends the empty transaction, if any */
		memmove(buf, buf + off, len - off);
		len -= off;
		if (len == cap) {
			fprintf(stderr,
			    "ledger: append: %s:%" PRIu64 ": line "
			    "longer than %zu bytes\n",
			    src, lineno + 1, cap);
			goto out;
		}
	}
	rc = bad ? EXIT_FAIL : 0;
	if (bad)
		fprintf(stderr, "ledger: append: %" PRIu64 " line%s rejected\n",
		    bad, bad == 1 ? "" : "s");
out:
	if (fd > 0)
		close(fd);
	free(envs);
	free(rcs);
	free(msgs);
	free(lines);
	free(lens);
	free(linenos);
	free(acks);
	free(buf);
	store_free(s);
	return rc;
}

/* ---- checkpoint -------------------------------------------------------- */

static const char usage_checkpoint[] =
    "usage: ledger checkpoint DB [--key KEYFILE]\n"
    "Sign the log's current size and root as a C2SP checkpoint with the\n"
    "log's key (the one given to init unless --key says otherwise), store\n"
    "it, and print the signed note.\n";

static int
cmd_checkpoint(int argc, char **argv)
{
	static const char *const names[] = { "key", NULL };
	const char *vals[1] = { NULL };
	char *pos[1], *path = NULL, *note = NULL;
	uint8_t pub[KEY_PUB_LEN], logpub[KEY_PUB_LEN];
	struct store *s = NULL;
	struct key *k = NULL;
	int npos, rc = EXIT_FAIL;

	if (parse_opts(argc, argv, names, vals, NULL, NULL, pos, 1, &npos,
	        usage_checkpoint) < 0)
		return EXIT_USAGE;
	if (npos != 1)
		return usage_error(usage_checkpoint, "%s", "expected DB");
	if (store_open(pos[0], 0, &s) < 0)
		goto fail;
	if (vals[0] == NULL) {
		if (store_meta_get(s, "key_path", &path) < 0)
			goto fail;
		if (path == NULL) {
			err_set(ERR_INVAL, "no key recorded; pass --key");
			goto fail;
		}
	}
	if (key_load(vals[0] ? vals[0] : path, &k) < 0)
		goto fail;
	key_public(k, pub);
	store_log_pub(s, logpub);
	if (memcmp(pub, logpub, KEY_PUB_LEN) != 0) {
		err_set(ERR_INVAL, "%s is not this log's key",
		    vals[0] ? vals[0] : path);
		goto fail;
	}
	if (sign_checkpoint(s, k, &note) < 0)
		goto fail;
	fputs(note, stdout);
	rc = 0;
	goto out;
fail:
	die("checkpoint");
out:
	free(note);
	free(path);
	key_free(k);
	store_free(s);
	return rc;
}

/* ---- show -------------------------------------------------------------- */

static const char usage_show[] =
    "usage: ledger show DB [--from N] [--to M] [--json]\n"
    "Print entries N..M (inclusive; default all).  Plain: one line each,\n"
    "INDEX TIME KIND SIGNER NONCE.  --json: one object per line with\n"
    "index, time, leaf (base64 of the exact leaf bytes) and entry.\n";

static int
show_cb(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	int json = *(int *)ctx;
	json_t *leaf = NULL, *entry, *o = NULL;
	char *b64 = NULL, *line = NULL;
	int rc;

	if ((rc = cjson_parse(data, len, &leaf)) < 0)
		return err_prefix(ERR_CORRUPT, "index %" PRIu64, idx);
	entry = json_object_get(leaf, "entry");
	if (!json_is_object(entry)) {
		json_decref(leaf);
		return err_set(ERR_CORRUPT, "index %" PRIu64 ": no entry", idx);
	}
	if (json) {
		if ((b64 = malloc(B64_ENCODED_SIZE(len))) == NULL) {
			json_decref(leaf);
			return err_set(ERR_NOMEM, "out of memory");
		}
		b64_encode((const uint8_t *)data, len, b64);
		o = json_pack("{s:I,s:I,s:s,s:O}", "index", (json_int_t)idx,
		    "time", (json_int_t)time, "leaf", b64, "entry", entry);
		if (o == NULL || (rc = cjson_dump(o, &line, NULL)) < 0) {
			rc = rc < 0 ? rc : err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
		puts(line);
	} else {
		printf("%" PRIu64 " %" PRId64 " %s %s %s\n", idx, time,
		    json_string_value(json_object_get(entry, "kind")),
		    json_string_value(json_object_get(entry, "signer")),
		    json_string_value(json_object_get(entry, "nonce")));
	}
	rc = 0;
out:
	free(line);
	free(b64);
	json_decref(o);
	json_decref(leaf);
	return rc;
}

static int
cmd_show(int argc, char **argv)
{
	static const char *const names[] = { "from", "to", NULL };
	static const char *const flags[] = { "json", NULL };
	const char *vals[2] = { NULL, NULL };
	int set[1] = { 0 };
	char *pos[1];
	struct store *s = NULL;
	uint64_t from = 0, to = UINT64_MAX - 1;
	int npos, rc = EXIT_FAIL;

	if (parse_opts(argc, argv, names, vals, flags, set, pos, 1, &npos,
	        usage_show) < 0)
		return EXIT_USAGE;
	if (npos != 1)
		return usage_error(usage_show, "%s", "expected DB");
	if ((vals[0] && get_u64(vals[0], "--from", &from) < 0) ||
	    (vals[1] && get_u64(vals[1], "--to", &to) < 0))
		return EXIT_USAGE;
	if (store_open(pos[0], 1, &s) < 0 ||
	    store_foreach(s, from, to + 1, show_cb, &set[0]) < 0)
		die("show");
	else
		rc = 0;
	store_free(s);
	return rc;
}

/* ---- proof ------------------------------------------------------------- */

static const char usage_proof[] =
    "usage: ledger proof inclusion DB INDEX [--size S] [--json]\n"
    "       ledger proof consistency DB OLD NEW [--json]\n"
    "Print an RFC 9162 inclusion proof of entry INDEX in the tree of size\n"
    "S (default: the whole log), or a consistency proof between two sizes.\n"
    "--json prints {\"index\",\"size\",\"leaf_hash\",\"proof\",\"root\"} or\n"
    "{\"old\",\"new\",\"old_root\",\"new_root\",\"proof\"}, hashes in base64;\n"
    "otherwise one base64 hash per line.\n";

/* Plain proof output: one base64 hash per line. */
static void
print_hash_lines(uint8_t proof[][32], size_t n)
{
	char b64[B64_ENCODED_SIZE(32)];

	for (size_t i = 0; i < n; i++) {
		b64_encode(proof[i], 32, b64);
		puts(b64);
	}
}

static int
print_json(json_t *o)
{
	char *line = NULL;

	if (o == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (cjson_dump(o, &line, NULL) < 0) {
		json_decref(o);
		return ERR_INVAL;
	}
	puts(line);
	free(line);
	json_decref(o);
	return 0;
}

static int
cmd_proof(int argc, char **argv)
{
	static const char *const names[] = { "size", NULL };
	static const char *const flags[] = { "json", NULL };
	const char *vals[1] = { NULL };
	int set[1] = { 0 };
	char *pos[4], *data = NULL;
	uint8_t proof[MERKLE_MAX_PROOF][32], root[32], root2[32], lh[32];
	struct store *s = NULL;
	uint64_t a, b;
	size_t n, len;
	int npos, rc = EXIT_FAIL, incl;

	if (parse_opts(argc, argv, names, vals, flags, set, pos, 4, &npos,
	        usage_proof) < 0)
		return EXIT_USAGE;
	if (npos < 1)
		return usage_error(usage_proof, "%s",
		    "expected inclusion or consistency");
	incl = strcmp(pos[0], "inclusion") == 0;
	if (!incl && strcmp(pos[0], "consistency") != 0)
		return usage_error(usage_proof, "unknown proof kind '%s'",
		    pos[0]);
	if ((incl && npos != 3) || (!incl && npos != 4))
		return usage_error(usage_proof, "%s",
		    incl ? "expected DB INDEX" : "expected DB OLD NEW");
	if (get_u64(pos[2], incl ? "INDEX" : "OLD", &a) < 0 ||
	    (!incl && get_u64(pos[3], "NEW", &b) < 0))
		return EXIT_USAGE;
	if (store_open(pos[1], 1, &s) < 0)
		goto fail;
	if (incl) {
		b = store_size(s);
		if (vals[0] && get_u64(vals[0], "--size", &b) < 0) {
			store_free(s);
			return EXIT_USAGE;
		}
		if (store_inclusion_proof(s, a, b, proof, &n) < 0 ||
		    store_root(s, b, root) < 0 ||
		    store_leaf(s, a, &data, &len, NULL) < 0)
			goto fail;
		merkle_leaf_hash(data, len, lh);
		if (set[0]) {
			if (print_json(json_pack("{s:I,s:I,s:o,s:o,s:o}",
			        "index", (json_int_t)a, "size", (json_int_t)b,
			        "leaf_hash", cjson_hash_b64(lh), "proof",
			        cjson_hashes_b64(proof, n), "root",
			        cjson_hash_b64(root))) < 0)
				goto fail;
		} else {
			print_hash_lines(proof, n);
		}
	} else {
		if (store_consistency_proof(s, a, b, proof, &n) < 0 ||
		    store_root(s, a, root) < 0 || store_root(s, b, root2) < 0)
			goto fail;
		if (set[0]) {
			if (print_json(json_pack("{s:I,s:I,s:o,s:o,s:o}", "old",
			        (json_int_t)a, "new", (json_int_t)b, "old_root",
			        cjson_hash_b64(root), "new_root",
			        cjson_hash_b64(root2), "proof",
			        cjson_hashes_b64(proof, n))) < 0)
				goto fail;
		} else {
			print_hash_lines(proof, n);
		}
	}
	rc = 0;
	goto out;
fail:
	die("proof");
out:
	free(data);
	store_free(s);
	return rc;
}

/* ---- verify ------------------------------------------------------------ */

static const char usage_verify[] =
    "usage: ledger verify DB|MIRROR_DIR --vkey VKEY [--json]\n"
    "Recompute every leaf hash, every stored hash and root, every\n"
    "checkpoint signature (against VKEY, the text <name>+<id>+<key> or a\n"
    "file holding it) and every envelope signature.  Names the first bad\n"
    "index and exits 1 on any discrepancy.\n";

static int
read_vkey(const char *arg, struct note_verifier *v)
{
	char *buf = NULL, *nl;
	size_t len;
	int rc;

	if (strchr(arg, '+') != NULL)
		return note_vkey_parse(arg, v);
	if ((rc = util_read_file(arg, 4096, &buf, &len)) < 0)
		return rc;
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	rc = note_vkey_parse(buf, v);
	free(buf);
	return rc;
}

static int
cmd_verify(int argc, char **argv)
{
	static const char *const names[] = { "vkey", NULL };
	static const char *const flags[] = { "json", NULL };
	const char *vals[1] = { NULL };
	int set[1] = { 0 };
	char *pos[1], b64[B64_ENCODED_SIZE(32)];
	struct note_verifier vk;
	struct verify_report rep;
	struct store *s = NULL;
	struct stat st;
	uint64_t t0 = util_mono_ns();
	int npos, rc, mirror;

	if (parse_opts(argc, argv, names, vals, flags, set, pos, 1, &npos,
	        usage_verify) < 0)
		return EXIT_USAGE;
	if (npos != 1 || vals[0] == NULL)
		return usage_error(usage_verify, "%s",
		    "expected DB|MIRROR_DIR and --vkey");
	if (read_vkey(vals[0], &vk) < 0) {
		err_prefix(ERR_INVAL, "--vkey");
		return die("verify");
	}
	mirror = stat(pos[0], &st) == 0 && S_ISDIR(st.st_mode);
	if (mirror) {
		rc = mirror_verify(pos[0], &vk, &rep);
	} else if ((rc = store_open(pos[0], 1, &s)) == 0) {
		rc = verify_store(s, &vk, &rep);
		store_free(s);
	}
	if (rc < 0) {
		if (set[0])
			print_json(json_pack("{s:b,s:s}", "ok", 0, "error",
			    err_msg()));
		return die("verify: FAILED");
	}
	b64_encode(rep.root, 32, b64);
	if (set[0]) {
		print_json(json_pack("{s:b,s:I,s:I,s:I,s:s,s:I}", "ok", 1,
		    "entries", (json_int_t)rep.entries, "checkpoints",
		    (json_int_t)rep.checkpoints, "latest_checkpoint",
		    (json_int_t)rep.latest_size, "root", b64, "elapsed_ms",
		    (json_int_t)((util_mono_ns() - t0) / 1000000)));
	} else {
		printf("ok: %" PRIu64 " entries, %" PRIu64 " checkpoint%s "
		       "(latest at size %" PRIu64 "), root %s\n",
		    rep.entries, rep.checkpoints,
		    rep.checkpoints == 1 ? "" : "s", rep.latest_size, b64);
	}
	return 0;
}

/* ---- mirror ------------------------------------------------------------ */

static const char usage_mirror[] =
    "usage: ledger mirror DB DIR\n"
    "Create (as a bare git repository) or update the git mirror in DIR:\n"
    "one commit per checkpoint not yet mirrored.  Anyone can clone DIR\n"
    "with git and check it with ledger verify.\n";

static int
cmd_mirror(int argc, char **argv)
{
	char *pos[2];
	struct store *s = NULL;
	struct mirror_report rep;
	int npos, rc;

	if (parse_opts(argc, argv, NULL, NULL, NULL, NULL, pos, 2, &npos,
	        usage_mirror) < 0)
		return EXIT_USAGE;
	if (npos != 2)
		return usage_error(usage_mirror, "%s", "expected DB DIR");
	if (store_open(pos[0], 1, &s) < 0)
		return die("mirror");
	rc = mirror_update(s, pos[1], &rep);
	store_free(s);
	if (rc < 0)
		return die("mirror");
	printf("mirror %s: %" PRIu64 " new commit%s, %" PRIu64 " entries\n",
	    pos[1], rep.commits, rep.commits == 1 ? "" : "s", rep.size);
	return 0;
}

/* ---- audit ------------------------------------------------------------- */

static const char usage_audit[] =
    "usage: ledger audit --market URL | DB | MIRROR_DIR [--vkey VKEY]\n"
    "                    [--lease ID] [--account KEY] [--json]\n"
    "Replay the whole ledger with the market's rules (from its genesis\n"
    "entry): verify every envelope signature, every leaf and the Merkle\n"
    "tree against the latest signed checkpoint, recompute every match,\n"
    "charge and balance, and check the invariants after every entry.\n"
    "Exits 1 naming the first discrepancy.  Entries after the latest\n"
    "checkpoint are not audited (they are not signed for yet).\n"
    "--vkey pins the log's verifier key; without it the key comes from\n"
    "the source itself (the market's /v1/info, or the database), which\n"
    "proves consistency but not identity.\n"
    "--lease ID tells that lease's story: the order, the asks that fitted\n"
    "and why the winner won, start, each usage with its charge, the close\n"
    "and the refund.  --account KEY prints that account.\n";

struct audit_src {
	struct audit *a;
	uint64_t limit;
};

static int
audit_cb(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct audit_src *src = ctx;

	if (idx >= src->limit)
		return 1; /* past the checkpoint: stop */
	return audit_leaf(src->a, idx, time, data, len);
}

static int
note_size_of(const char *note, uint64_t *size)
{
	const char *nl = strchr(note, '\n');

	if (nl == NULL)
		return err_set(ERR_CORRUPT, "malformed checkpoint");
	return util_parse_u64_prefix(nl + 1, size);
}

static int
audit_market(const char *url, const char *vkey_arg, struct note_verifier *vk,
    struct audit **ap)
{
	struct http_result res = { 0 };
	struct audit_src src = { NULL, 0 };
	char u[1024], *note = NULL;
	json_t *j = NULL, *entries, *e;
	uint64_t size, start = 0;
	size_t i;
	int rc;

	snprintf(u, sizeof(u), "%s/v1/ledger/checkpoint", url);
	if ((rc = http_fetch("GET", u, NULL, NULL, 0, 30000, &res)) < 0)
		return rc;
	if (res.status != 200) {
		rc = err_set(ERR_IO, "%s: HTTP %ld", u, res.status);
		goto out;
	}
	note = res.body;
	res.body = NULL;
	if ((rc = note_size_of(note, &size)) < 0)
		goto out;
	if (vkey_arg == NULL) {
		snprintf(u, sizeof(u), "%s/v1/info", url);
		http_result_clear(&res);
		if ((rc = http_fetch("GET", u, NULL, NULL, 0, 30000, &res)) < 0)
			goto out;
		if (res.status != 200 ||
		    cjson_parse(res.body, res.body_len, &j) < 0 ||
		    !json_is_string(json_object_get(j, "vkey"))) {
			rc = err_set(ERR_IO, "%s: no verifier key", u);
			goto out;
		}
		if ((rc = note_vkey_parse(
		         json_string_value(json_object_get(j, "vkey")), vk)) <
		    0)
			goto out;
		json_decref(j);
		j = NULL;
		fprintf(stderr,
		    "ledger: audit: using the market's own verifier "
		    "key %s (pass --vkey to pin it)\n",
		    vk->name);
	}
	if ((rc = audit_new(vk, ap)) < 0)
		goto out;
	src.a = *ap;
	src.limit = size;
	while (start < size) {
		snprintf(u, sizeof(u),
		    "%s/v1/ledger/entries?start=%" PRIu64 "&end=%" PRIu64, url,
		    start, size);
		http_result_clear(&res);
		if ((rc = http_fetch("GET", u, NULL, NULL, 0, 60000, &res)) < 0)
			goto out;
		if (res.status != 200 ||
		    cjson_parse(res.body, res.body_len, &j) < 0 ||
		    !json_is_array(entries = json_object_get(j, "entries")) ||
		    json_array_size(entries) == 0) {
			rc = err_set(ERR_IO, "%s: bad answer (HTTP %ld)", u,
			    res.status);
			goto out;
		}
		json_array_foreach(entries, i, e)
		{
			const char *b64 =
			    json_string_value(json_object_get(e, "leaf"));
			uint8_t *leaf;
			size_t n, cap;
			if (b64 == NULL) {
				rc = err_set(ERR_IO, "%s: entry without leaf",
				    u);
				goto out;
			}
			cap = strlen(b64);
			if ((leaf = malloc(cap + 1)) == NULL) {
				rc = err_set(ERR_NOMEM, "out of memory");
				goto out;
			}
			if (b64_decode(b64, cap, leaf, cap, &n) < 0) {
				free(leaf);
				rc = err_set(ERR_IO, "%s: bad base64 leaf", u);
				goto out;
			}
			rc = audit_cb(&src,
			    (uint64_t)json_integer_value(
			        json_object_get(e, "index")),
			    (int64_t)json_integer_value(
			        json_object_get(e, "time")),
			    (const char *)leaf, n);
			free(leaf);
			if (rc < 0)
				goto out;
			start++;
		}
		json_decref(j);
		j = NULL;
	}
	rc = audit_checkpoint(*ap, note, strlen(note));
out:
	json_decref(j);
	free(note);
	http_result_clear(&res);
	return rc;
}

struct cp_all {
	struct audit *a;
};

static int
audit_cp_cb(void *ctx, uint64_t size, const char *note)
{
	(void)size;
	return audit_checkpoint(((struct cp_all *)ctx)->a, note, strlen(note));
}

static int
audit_db(const char *path, const char *vkey_arg, struct note_verifier *vk,
    struct audit **ap)
{
	struct store *s = NULL;
	struct audit_src src = { NULL, 0 };
	struct cp_all cp;
	uint8_t pub[KEY_PUB_LEN];
	char *note = NULL;
	int rc;

	if ((rc = store_open(path, 1, &s)) < 0)
		return rc;
	if (vkey_arg == NULL) {
		store_log_pub(s, pub);
		if ((rc = note_verifier_init(vk, store_origin(s),
		         NOTE_SIG_ED25519, pub)) < 0)
			goto out;
		fprintf(stderr,
		    "ledger: audit: using the log's own key from "
		    "%s (pass --vkey to pin it)\n",
		    path);
	}
	if ((rc = store_checkpoint_latest(s, &src.limit, &note)) < 0)
		goto out;
	if (note == NULL) {
		rc = err_set(ERR_CORRUPT, "%s: no checkpoint", path);
		goto out;
	}
	if ((rc = audit_new(vk, ap)) < 0)
		goto out;
	src.a = *ap;
	if ((rc = store_foreach(s, 0, src.limit, audit_cb, &src)) < 0)
		goto out;
	cp.a = *ap;
	rc = store_foreach_checkpoint(s, audit_cp_cb, &cp);
out:
	free(note);
	store_free(s);
	return rc;
}

static int
audit_mirror(const char *dir, const char *vkey_arg, struct note_verifier *vk,
    struct audit **ap)
{
	struct audit_src src = { NULL, UINT64_MAX };
	char *note = NULL;
	int rc;

	if (vkey_arg == NULL)
		return err_set(ERR_INVAL,
		    "auditing a mirror needs --vkey (a "
		    "mirror holds no key of its own)");
	if ((rc = audit_new(vk, ap)) < 0)
		return rc;
	src.a = *ap;
	if ((rc = mirror_read(dir, audit_cb, &src, &note)) < 0)
		return rc;
	rc = audit_checkpoint(*ap, note, strlen(note));
	free(note);
	return rc;
}

static void
print_pretty(json_t *o)
{
	char *t = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (t)
		puts(t);
	free(t);
}

static int
cmd_audit(int argc, char **argv)
{
	static const char *const names[] = { "market", "vkey", "lease",
		"account", NULL };
	static const char *const flags[] = { "json", NULL };
	const char *vals[4] = { NULL };
	int set[1] = { 0 };
	char *pos[1];
	struct note_verifier vk;
	struct audit *a = NULL;
	struct stat st;
	json_t *summary = NULL, *o = NULL;
	int npos, rc;

	if (parse_opts(argc, argv, names, vals, flags, set, pos, 1, &npos,
	        usage_audit) < 0)
		return EXIT_USAGE;
	if ((vals[0] == NULL) == (npos == 0))
		return usage_error(usage_audit, "%s",
		    "expected --market URL, or DB, or MIRROR_DIR");
	if (vals[1] && read_vkey(vals[1], &vk) < 0) {
		err_prefix(ERR_INVAL, "--vkey");
		return die("audit");
	}
	if (vals[0])
		rc = audit_market(vals[0], vals[1], &vk, &a);
	else if (stat(pos[0], &st) == 0 && S_ISDIR(st.st_mode))
		rc = audit_mirror(pos[0], vals[1], &vk, &a);
	else
		rc = audit_db(pos[0], vals[1], &vk, &a);
	if (rc == 0)
		rc = audit_finish(a, &summary);
	if (rc < 0) {
		if (set[0])
			print_json(json_pack("{s:b,s:s}", "ok", 0, "error",
			    err_msg()));
		audit_free(a);
		return die("audit: DISCREPANCY");
	}
	if (vals[2]) {
		if ((rc = state_lease_story(audit_state(a), vals[2], &o)) < 0)
			goto fail;
		if (set[0])
			print_json(o);
		else
			print_pretty(o);
		o = NULL;
	} else if (vals[3]) {
		if ((rc = state_account_json(audit_state(a), vals[3], &o)) < 0)
			goto fail;
		if (set[0])
			print_json(o);
		else
			print_pretty(o);
		o = NULL;
	} else if (set[0]) {
		print_json(summary);
		summary = NULL;
	} else {
		json_t *accts = json_object_get(summary, "accounts");
		const char *k;
		json_t *v;
		printf("audit ok: %lld entries replayed and verified against "
		       "the signed checkpoint, root %s\n",
		    (long long)json_integer_value(
		        json_object_get(summary, "entries")),
		    json_string_value(json_object_get(summary, "root")));
		printf("accounts (recomputed):\n");
		json_object_foreach(accts, k, v)
		{
			char *t = NULL;
			cjson_dump(v, &t, NULL);
			printf("  %s %s\n", k, t ? t : "?");
			free(t);
		}
	}
	json_decref(summary);
	audit_free(a);
	return 0;
fail:
	json_decref(summary);
	audit_free(a);
	return die("audit");
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "init", cmd_init },
		{ "keygen", cmd_keygen },
		{ "envelope", cmd_envelope },
		{ "append", cmd_append },
		{ "checkpoint", cmd_checkpoint },
		{ "show", cmd_show },
		{ "proof", cmd_proof },
		{ "verify", cmd_verify },
		{ "mirror", cmd_mirror },
		{ "audit", cmd_audit },
	};

	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "ledger: unknown command '%s'\n%s", argv[1],
	    usage_main);
	return EXIT_USAGE;
}
