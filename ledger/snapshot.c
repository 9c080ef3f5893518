/*
 * snapshot: a market's state snapshot file, its record in the store and
 * the restart from it (see snapshot.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/reqsig.h"
#include "common/util.h"
#include "ledger/replay.h"
#include "ledger/snapshot.h"
#include "ledger/verify.h"

#define HEAD_MAGIC "lodge-state-snapshot"
#define HEAD_MAX 160
#define SNAPSHOT_MAX ((size_t)16 << 30) /* a file larger is refused */

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
snapshot_write(const char *path, uint64_t size,
    const uint8_t root[MERKLE_HASH_LEN], const char *payload, size_t len,
    char hash[65])
{
	char head[HEAD_MAX], roothex[2 * MERKLE_HASH_LEN + 1], tmp[4096];
	uint8_t digest[32];
	EVP_MD_CTX *mc;
	int fd, n, ok;

	hex_encode(root, MERKLE_HASH_LEN, roothex);
	n = snprintf(head, sizeof(head), "%s %" PRIu64 " %s\n", HEAD_MAGIC,
	    size, roothex);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return err_set(ERR_INVAL, "%s: path too long", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	    0)
		return err_set(ERR_IO, "%s: %s", tmp, strerror(errno));
	if (write_all(fd, head, (size_t)n) < 0 ||
	    write_all(fd, payload, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return err_set(ERR_IO, "%s: %s", tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return err_set(ERR_IO, "%s: %s", path, strerror(e));
	}
	/* the hash of header and payload, as the file holds them */
	ok = (mc = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(mc, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(mc, head, (size_t)n) == 1 &&
	    EVP_DigestUpdate(mc, payload, len) == 1 &&
	    EVP_DigestFinal_ex(mc, digest, NULL) == 1;
	EVP_MD_CTX_free(mc);
	if (!ok)
		return err_set(ERR_NOMEM, "SHA-256 of %s failed", path);
	hex_encode(digest, sizeof(digest), hash);
	return 0;
}

int
snapshot_record(struct store *s, uint64_t size, const char hash[65])
{
	char v[128];

	snprintf(v, sizeof(v), "%" PRIu64 " %s", size, hash);
	return store_meta_set(s, SNAPSHOT_META_KEY, v);
}

/* ---- a snapshot written by a copy-on-write child ------------------ */

struct snapshot_job {
	pid_t pid;
	int rd; /* the child's error message, if any */
	uint64_t size;
	char *path; /* the snapshot's; the child writes path.new */
	uint64_t t0; /* util_mono_ns at the fork */
};

/* The child: the state as the fork left it, encoded into path.new
 * (fsynced); exits 0, or 1 after writing why to fd wr. */
static void __attribute__((noreturn))
job_child(int wr, pid_t parent, const char *path, const struct state *s,
    uint64_t size, const uint8_t root[MERKLE_HASH_LEN])
{
	char head[HEAD_MAX], roothex[2 * MERKLE_HASH_LEN + 1], newer[4096];
	char *buf = NULL;
	size_t len = 0;
	int fd, n;

	/* die with the market (a kill -9 of it must not leave a child
	 * writing, nor holding its listening sockets); the child needs
	 * none of the descriptors it inherited but its pipe */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	if (wr != 3) {
		if (dup2(wr, 3) < 0)
			_exit(1);
		wr = 3;
	}
	close_range(4, ~0U, 0);
	/* background work: the sequencer's core comes first */
	(void)setpriority(PRIO_PROCESS, 0, 10);
	hex_encode(root, MERKLE_HASH_LEN, roothex);
	n = snprintf(head, sizeof(head), "%s %" PRIu64 " %s\n", HEAD_MAGIC,
	    size, roothex);
	snprintf(newer, sizeof(newer), "%s.new", path);
	if (state_snapshot_encode(s, &buf, &len) < 0)
		goto fail;
	if ((fd = open(newer, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	    0) {
		err_set(ERR_IO, "%s: %s", newer, strerror(errno));
		goto fail;
	}
	if (write_all(fd, head, (size_t)n) < 0 || write_all(fd, buf, len) < 0 ||
	    fsync(fd) < 0) {
		err_set(ERR_IO, "%s: %s", newer, strerror(errno));
		goto fail;
	}
	_exit(0);
fail:
	(void)!write(wr, err_msg(), strlen(err_msg()));
	_exit(1);
}

int
snapshot_start(const char *path, const struct state *s, uint64_t size,
    const uint8_t root[MERKLE_HASH_LEN], struct snapshot_job **out)
{
	struct snapshot_job *j;
	pid_t parent = getpid();
	int p[2];

	if (strlen(path) + 5 > 4000)
		return err_set(ERR_INVAL, "%s: path too long", path);
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->path = strdup(path)) == NULL) {
		free(j);
		return err_set(ERR_NOMEM, "out of memory");
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(j->path);
		free(j);
		return err_set(ERR_IO, "pipe: %s", strerror(errno));
	}
	j->t0 = util_mono_ns();
	j->size = size;
	if ((j->pid = fork()) < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		free(j->path);
		free(j);
		return err_set(ERR_IO, "fork for the state snapshot: %s",
		    strerror(e));
	}
	if (j->pid == 0) {
		close(p[0]);
		job_child(p[1], parent, path, s, size, root);
	}
	close(p[1]);
	j->rd = p[0];
	*out = j;
	return 0;
}

/* The SHA-256 of the file at path in hex, read in pieces. */
static int
file_sha256(const char *path, char hash[65])
{
	static const size_t piece = 1 << 20;
	uint8_t digest[32];
	EVP_MD_CTX *mc = NULL;
	char *b = NULL;
	int fd = -1, rc = 0;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(ERR_IO, "%s: %s", path, strerror(errno));
	if ((b = malloc(piece)) == NULL || (mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(mc, EVP_sha256(), NULL) != 1) {
		rc = err_set(ERR_NOMEM, "SHA-256 of %s: out of memory", path);
		goto out;
	}
	while ((n = read(fd, b, piece)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (EVP_DigestUpdate(mc, b, (size_t)n) != 1) {
			rc = err_set(ERR_NOMEM, "SHA-256 of %s failed", path);
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(mc, digest, NULL) != 1) {
		rc = err_set(ERR_NOMEM, "SHA-256 of %s failed", path);
		goto out;
	}
	hex_encode(digest, sizeof(digest), hash);
out:
	EVP_MD_CTX_free(mc);
	free(b);
	close(fd);
	return rc;
}

int
snapshot_job_pid(const struct snapshot_job *j)
{
	return (int)j->pid;
}

int
snapshot_poll(struct snapshot_job **jp, int wait, uint64_t *size, char hash[65],
    double *ms)
{
	struct snapshot_job *j = *jp;
	char msg[512], newer[4096];
	ssize_t n = 0;
	pid_t r;
	int st, rc;

	while ((r = waitpid(j->pid, &st, wait ? 0 : WNOHANG)) < 0 &&
	    errno == EINTR)
		;
	if (r == 0)
		return 0;
	if (r < 0) {
		rc = err_set(ERR_IO, "waiting for the snapshot writer: %s",
		    strerror(errno));
		goto out;
	}
	while ((n = read(j->rd, msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
		;
	msg[n > 0 ? n : 0] = '\0';
	snprintf(newer, sizeof(newer), "%s.new", j->path);
	if (WIFSIGNALED(st)) {
		rc = err_set(ERR_IO,
		    "the snapshot writer (pid %d) was killed "
		    "by signal %d",
		    (int)j->pid, WTERMSIG(st));
		goto out;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		rc = err_set(ERR_IO, "the snapshot writer failed: %s",
		    msg[0] ? msg : "(no message)");
		goto out;
	}
	/* the hash of the file as written: the parent's, so the child
	 * calls nothing that another thread's lock could have held at the
	 * fork */
	if ((rc = file_sha256(newer, hash)) < 0)
		goto out;
	*size = j->size;
	if (ms)
		*ms = (double)(util_mono_ns() - j->t0) / 1e6;
	rc = 1;
out:
	close(j->rd);
	free(j->path);
	free(j);
	*jp = NULL;
	return rc;
}

int
snapshot_install(const char *path)
{
	char newer[4096], dir[4096], *slash;
	int fd;

	if (snprintf(newer, sizeof(newer), "%s.new", path) >=
	    (int)sizeof(newer))
		return err_set(ERR_INVAL, "%s: path too long", path);
	if (rename(newer, path) < 0)
		return err_set(ERR_IO, "%s: %s", newer, strerror(errno));
	/* the rename itself durable */
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
}

/* path's bytes into *buf when their SHA-256 is want: ERR_NOTFOUND when
 * there is no such file, ERR_CORRUPT naming the mismatch. */
static int
read_recorded(const char *path, const char *want, char **buf, size_t *len)
{
	char got[65];
	int rc;

	*buf = NULL;
	if ((rc = util_read_file(path, SNAPSHOT_MAX, buf, len)) < 0) {
		if (access(path, F_OK) != 0)
			rc = err_set(ERR_NOTFOUND, "%s: no such file", path);
		return rc;
	}
	reqsig_sha256_hex(*buf, *len, got);
	if (strcmp(got, want) != 0) {
		free(*buf);
		*buf = NULL;
		return err_set(ERR_CORRUPT,
		    "%s: its SHA-256 %.16s… is not the %.16s… the store "
		    "recorded (the file was changed or is not this store's)",
		    path, got, want);
	}
	return 0;
}

int
snapshot_load(struct store *s, const char *path, const struct state_config *c,
    struct state **out, uint64_t *size)
{
	char *rec = NULL, *buf = NULL, want[65], got[65], rhex[65], *nl;
	char newer[4096];
	uint8_t root[MERKLE_HASH_LEN];
	uint64_t rsize, hsize;
	size_t len;
	int rc;

	if ((rc = store_meta_get(s, SNAPSHOT_META_KEY, &rec)) < 0)
		return rc;
	if (rec == NULL)
		return err_set(ERR_NOTFOUND, "no state snapshot recorded");
	if (sscanf(rec, "%" SCNu64 " %64s", &rsize, want) != 2 ||
	    strlen(want) != 64) {
		rc = err_set(ERR_CORRUPT,
		    "the store's %s record '%.80s' is not '<size> <sha256>'",
		    SNAPSHOT_META_KEY, rec);
		goto out;
	}
	if ((rc = read_recorded(path, want, &buf, &len)) < 0) {
		struct err_saved saved;
		int rc2 = ERR_NOTFOUND;

		/* a market stopped between recording a snapshot and renaming
		 * its file into place (snapshot_install) left it at
		 * path.new: take it, and put it in place */
		err_save(&saved);
		if (snprintf(newer, sizeof(newer), "%s.new", path) <
		        (int)sizeof(newer) &&
		    access(newer, F_OK) == 0 &&
		    (rc2 = read_recorded(newer, want, &buf, &len)) == 0)
			(void)snapshot_install(path);
		if (rc2 < 0) {
			err_restore(&saved);
			goto out;
		}
	}
	if ((nl = memchr(buf, '\n', len < HEAD_MAX ? len : HEAD_MAX)) == NULL ||
	    sscanf(buf, HEAD_MAGIC " %" SCNu64 " %64s", &hsize, rhex) != 2 ||
	    hsize != rsize) {
		rc = err_set(ERR_CORRUPT,
		    "%s: the header does not name the size %" PRIu64
		    " the store recorded",
		    path, rsize);
		goto out;
	}
	if (hsize > store_size(s) || hsize == 0) {
		rc = err_set(ERR_CORRUPT,
		    "%s: taken at %" PRIu64
		    " entries, the ledger holds %" PRIu64,
		    path, hsize, store_size(s));
		goto out;
	}
	if ((rc = store_root(s, hsize, root)) < 0)
		goto out;
	hex_encode(root, MERKLE_HASH_LEN, got);
	if (strcmp(got, rhex) != 0) {
		rc = err_set(ERR_CORRUPT,
		    "%s: its tree root at %" PRIu64 " entries is not the "
		    "ledger's (a snapshot of another ledger)",
		    path, hsize);
		goto out;
	}
	nl++;
	if ((rc = state_snapshot_decode(c, nl, len - (size_t)(nl - buf), out)) <
	    0) {
		err_prefix(rc, "%s", path);
		goto out;
	}
	if (state_last_index(*out) + 1 != hsize) {
		rc = err_set(ERR_CORRUPT,
		    "%s: the state's last index %" PRIu64 " is not the "
		    "size %" PRIu64 " - 1",
		    path, state_last_index(*out), hsize);
		state_free(*out);
		*out = NULL;
		goto out;
	}
	*size = hsize;
	rc = 0;
out:
	free(rec);
	free(buf);
	return rc;
}

/* ---- replay: leaves checked on every core, applied in order -------- */

#define REPLAY_BATCH 2048

struct tail {
	struct state **st;
	struct state_config *cfg;
	int check;
	uint64_t next; /* the index expected next */
	struct verify_leaf l[REPLAY_BATCH];
	size_t n;
};

static void
tail_clear(struct tail *t)
{
	for (size_t i = 0; i < t->n; i++) {
		verify_leaf_clear(&t->l[i]);
		free((char *)t->l[i].data);
	}
	t->n = 0;
}

static int
tail_flush(struct tail *t)
{
	int rc = 0;

	if ((rc = verify_leaves(t->l, t->n, 0, 1)) < 0) {
		tail_clear(t);
		return rc;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct verify_leaf *v = &t->l[i];
		struct replay_leaf l = { v->e, v->idx, v->ltime };

		if (v->rc < 0) {
			rc = err_set(v->rc, "%s",
			    v->msg ? v->msg : "out of memory");
			break;
		}
		if ((rc = replay_leaf(t->st, t->cfg, t->check, &l)) < 0)
			break;
	}
	tail_clear(t);
	return rc;
}

static int
tail_leaf(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct tail *t = ctx;
	struct verify_leaf *l = &t->l[t->n];
	char *copy;

	if (idx != t->next)
		return err_set(ERR_CORRUPT,
		    "index %" PRIu64 ": expected entry %" PRIu64 " next", idx,
		    t->next);
	if ((copy = malloc(len ? len : 1)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(copy, data, len);
	memset(l, 0, sizeof(*l));
	l->idx = idx;
	l->time = time;
	l->data = copy;
	l->len = len;
	t->n++;
	t->next++;
	return t->n == REPLAY_BATCH ? tail_flush(t) : 0;
}

/* Apply the leaves from `from` on into *st (NULL: from the genesis). */
static int
replay_from(struct store *s, uint64_t from, int check, struct state **st,
    struct state_config *cfg)
{
	struct tail *t;
	int rc;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	t->st = st;
	t->cfg = cfg;
	t->check = check;
	t->next = from;
	rc = store_foreach(s, from, UINT64_MAX, tail_leaf, t);
	if (rc == 0)
		rc = tail_flush(t);
	tail_clear(t);
	free(t);
	return rc;
}

/* The genesis rules of the store (leaf 0) into cfg. */
static int
genesis_config(struct store *s, int check, struct state_config *cfg)
{
	struct replay_leaf l;
	char *data = NULL;
	size_t len;
	int64_t time;
	int rc;

	if ((rc = store_leaf(s, 0, &data, &len, &time)) < 0)
		return rc;
	rc = replay_parse_leaf(data, len, &l);
	free(data);
	if (rc < 0)
		return rc;
	rc = l.index != 0 ?
	    err_set(ERR_CORRUPT, "leaf 0 says index %" PRIu64, l.index) :
	    replay_genesis_config(l.e, cfg);
	envelope_free(l.e);
	cfg->check_invariants = check;
	return rc;
}

int
snapshot_replay(struct store *s, const char *path, int check,
    struct state **out, struct state_config *cfg, uint64_t *from,
    char **fallback)
{
	struct state_config local;
	struct state *st = NULL;
	uint64_t size = 0;
	int rc;

	if (fallback)
		*fallback = NULL;
	if (cfg == NULL)
		cfg = &local;
	if (path != NULL && store_size(s) > 0 &&
	    (rc = genesis_config(s, check, cfg)) == 0) {
		rc = snapshot_load(s, path, cfg, &st, &size);
		if (rc < 0 && rc != ERR_NOTFOUND && fallback != NULL &&
		    asprintf(fallback, "%s", err_msg()) < 0)
			*fallback = NULL;
		if (rc == ERR_NOTFOUND) {
			char *rec = NULL;
			/* a record without its file is a fallback too */
			if (store_meta_get(s, SNAPSHOT_META_KEY, &rec) == 0 &&
			    rec != NULL && fallback != NULL &&
			    asprintf(fallback, "%s", err_msg()) < 0)
				*fallback = NULL;
			free(rec);
		}
		if (rc < 0)
			size = 0;
	}
	*from = size;
	if ((rc = replay_from(s, size, check, &st, cfg)) < 0) {
		state_free(st);
		return rc;
	}
	if (st == NULL)
		return err_set(ERR_NOTFOUND, "the ledger has no genesis entry");
	*out = st;
	return 0;
}
