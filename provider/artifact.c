/*
 * artifact: fetch, check and cache artifacts by content (see artifact.h).
 * Git: libgit2 clone into a temp dir, lookup of the exact commit (a branch
 * name is never trusted), forced detached checkout, .git removed, rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "common/log.h"
#include "common/reqsig.h"
#include "common/util.h"
#include "provider/artifact.h"
#include "provider/fetch.h"
#include "provider/githttp.h"

int
artifact_is_sha256(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

static int
is_commit(const char *s)
{
	size_t i;

	for (i = 0; i < 40; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[40] == '\0';
}

int
artifact_cache_init(struct artifact_cache *c, const char *dir,
    uint64_t max_bytes)
{
	char sub[PATH_MAX];
	int rc;

	if (strlen(dir) >= sizeof(c->dir) - 80)
		return err_set(ERR_INVAL, "cache dir %s: too long", dir);
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	c->max_bytes = max_bytes;
	snprintf(sub, sizeof(sub), "%s/sha256", dir);
	if ((rc = util_mkdirs(sub, 0700)) < 0)
		return rc;
	snprintf(sub, sizeof(sub), "%s/git", dir);
	if ((rc = util_mkdirs(sub, 0700)) < 0)
		return rc;
	snprintf(sub, sizeof(sub), "%s/tmp", dir);
	return util_mkdirs(sub, 0700);
}

int
artifact_blob_path(const struct artifact_cache *c, const char *sha, char **path)
{
	struct stat st;

	if (!artifact_is_sha256(sha))
		return err_set(ERR_INVAL,
		    "\"%s\" is not a sha256 (64 "
		    "lower-case hex)",
		    sha);
	if (asprintf(path, "%s/sha256/%s", c->dir, sha) < 0)
		return err_set(ERR_NOMEM, "out of memory");
	if (stat(*path, &st) < 0) {
		free(*path);
		*path = NULL;
		return err_set(ERR_NOTFOUND, "blob %s is not in the cache",
		    sha);
	}
	return 0;
}

int
artifact_put_blob(struct artifact_cache *c, const char *sha, const void *data,
    size_t len, char **path)
{
	char got[65], *p = NULL;
	int rc;

	if (path)
		*path = NULL;
	if (!artifact_is_sha256(sha))
		return err_set(ERR_INVAL,
		    "\"%s\" is not a sha256 (64 "
		    "lower-case hex)",
		    sha);
	if (len > c->max_bytes)
		return err_set(ERR_LIMIT,
		    "blob of %zu bytes: the limit is "
		    "%llu",
		    len, (unsigned long long)c->max_bytes);
	reqsig_sha256_hex(data, len, got);
	if (strcmp(got, sha) != 0)
		return err_set(ERR_CONFLICT, "blob sha256 is %s, not %s", got,
		    sha);
	if (asprintf(&p, "%s/sha256/%s", c->dir, sha) < 0)
		return err_set(ERR_NOMEM, "out of memory");
	if (access(p, F_OK) != 0 &&
	    (rc = util_write_file(p, data, len, 0644)) < 0) {
		free(p);
		return rc;
	}
	if (path)
		*path = p;
	else
		free(p);
	return 0;
}

/* SHA-256 of the file fd, from its start, as hex. */
static int
hash_fd(int fd, char out[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[65536], d[32];
	unsigned int dl = 0;
	static const char hexd[] = "0123456789abcdef";
	ssize_t n;
	int i, rc = 0;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return err_set(ERR_NOMEM, "sha256: out of memory");
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		rc = err_set(ERR_IO, "sha256: %s", strerror(errno));
	while (rc == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = err_set(ERR_IO, "sha256: %s", strerror(errno));
		else
			EVP_DigestUpdate(md, buf, (size_t)n);
	}
	if (rc == 0 && EVP_DigestFinal_ex(md, d, &dl) != 1)
		rc = err_set(ERR_IO, "sha256 failed");
	EVP_MD_CTX_free(md);
	for (i = 0; rc == 0 && i < 32; i++) {
		out[2 * i] = hexd[d[i] >> 4];
		out[2 * i + 1] = hexd[d[i] & 15];
	}
	out[64] = '\0';
	return rc;
}

int
artifact_fetch_url(struct artifact_cache *c, const struct netpolicy *p,
    const char *url, const char *sha, char **path)
{
	struct fetch_req rq;
	struct fetch_result res;
	char tmp[PATH_MAX], got[65], *final = NULL;
	int fd, rc;

	*path = NULL;
	if (artifact_blob_path(c, sha, path) == 0)
		return 0;
	err_clear();
	/* c->dir is at most sizeof(c->dir) - 80 bytes (cache_init). */
	snprintf(tmp, sizeof(tmp), "%.3900s/tmp/fetch-%.64s-%ld", c->dir, sha,
	    (long)getpid());
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return err_set(ERR_IO, "%s: %s", tmp, strerror(errno));
	memset(&rq, 0, sizeof(rq));
	rq.url = url;
	rq.max_redirects = 5;
	rq.max_bytes = c->max_bytes;
	rq.out_fd = fd;
	if ((rc = fetch_run(p, &rq, &res)) < 0)
		goto out;
	if (strncmp(url, "file://", 7) != 0 && res.status != 200) {
		/* The remote's status is for the log: a tenant could
		 * otherwise probe what answers where. */
		log_warn("artifact %s: HTTP %ld", res.final_url, res.status);
		rc = err_set(ERR_IO, "artifact %.200s: the fetch failed", url);
		goto out;
	}
	if ((rc = hash_fd(fd, got)) < 0)
		goto out;
	if (strcmp(got, sha) != 0) {
		rc = err_set(ERR_CONFLICT,
		    "artifact %.200s: sha256 is %s, not %s", url, got, sha);
		goto out;
	}
	if (asprintf(&final, "%s/sha256/%s", c->dir, sha) < 0) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	if (rename(tmp, final) < 0) {
		rc = err_set(ERR_IO, "rename %s: %s", final, strerror(errno));
		goto out;
	}
	*path = final;
	final = NULL;
out:
	close(fd);
	if (rc < 0)
		unlink(tmp);
	free(final);
	return rc;
}

/* A failed clone: the policy's refusal as the transport said it, or a
 * generic message; libgit2's (which may quote the remote) is logged. */
static int
git_fail(const char *what, const char *url, const struct githttp *g)
{
	const git_error *e = git_error_last();

	log_warn("git %s %s: %s", what, url,
	    e && e->message ? e->message : "failed");
	if (g->rc == ERR_REJECT || g->rc == ERR_LIMIT)
		return err_set(g->rc, "git %s: %s", what, g->msg);
	return err_set(ERR_IO,
	    "git %s %.200s: failed (the provider's log has "
	    "the details)",
	    what, url);
}

int
artifact_git(struct artifact_cache *c, const struct netpolicy *p,
    const char *url, const char *commit, char **dir)
{
	git_clone_options co;
	git_checkout_options ck;
	git_repository *repo = NULL;
	git_commit *cm = NULL;
	git_oid oid;
	struct githttp g;
	char tmp[PATH_MAX], spool[PATH_MAX], gitdir[PATH_MAX + 8];
	char *final = NULL;
	struct stat st;
	int rc, trusted;

	*dir = NULL;
	if (!is_commit(commit))
		return err_set(ERR_INVAL,
		    "git commit \"%s\": expected 40 "
		    "lower-case hex",
		    commit);
	if ((rc = netpolicy_check_url(p, url, &trusted)) < 0)
		return err_prefix(rc, "git");
	if (asprintf(&final, "%s/git/%s", c->dir, commit) < 0)
		return err_set(ERR_NOMEM, "out of memory");
	if (stat(final, &st) == 0 && S_ISDIR(st.st_mode)) {
		*dir = final;
		return 0;
	}
	git_libgit2_init();
	git_clone_options_init(&co, GIT_CLONE_OPTIONS_VERSION);
	git_checkout_options_init(&ck, GIT_CHECKOUT_OPTIONS_VERSION);
	/* c->dir is at most sizeof(c->dir) - 80 bytes (cache_init). */
	if (snprintf(tmp, sizeof(tmp), "%.3900s/tmp/git-%s-%ld", c->dir, commit,
	        (long)getpid()) >= (int)sizeof(tmp))
		abort();
	snprintf(spool, sizeof(spool), "%.3900s/tmp", c->dir);
	util_rm_tree(tmp);
	memset(&g, 0, sizeof(g));
	g.policy = p;
	g.tmp_dir = spool;
	g.max_bytes = c->max_bytes;
	co.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
	if (strncmp(url, "file://", 7) != 0) {
		/* Every request through fetch.c, under the policy; never a
		 * local clone (which would read the provider's disk). */
		co.local = GIT_CLONE_NO_LOCAL;
		co.fetch_opts.callbacks.transport = githttp_transport;
		co.fetch_opts.callbacks.payload = &g;
		co.fetch_opts.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	}
	if (git_clone(&repo, url, tmp, &co) < 0) {
		rc = git_fail("clone", url, &g);
		goto out;
	}
	if (git_oid_fromstr(&oid, commit) < 0 ||
	    git_commit_lookup(&cm, repo, &oid) < 0) {
		rc = err_set(ERR_NOTFOUND, "git %.200s: commit %s not found",
		    url, commit);
		goto out;
	}
	ck.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_checkout_tree(repo, (const git_object *)cm, &ck) < 0 ||
	    git_repository_set_head_detached(repo, &oid) < 0) {
		rc = git_fail("checkout", url, &g);
		goto out;
	}
	git_commit_free(cm);
	cm = NULL;
	git_repository_free(repo);
	repo = NULL;
	snprintf(gitdir, sizeof(gitdir), "%s/.git", tmp);
	util_rm_tree(gitdir);
	if (rename(tmp, final) < 0 && errno != ENOTEMPTY && errno != EEXIST) {
		rc = err_set(ERR_IO, "rename %s: %s", final, strerror(errno));
		goto out;
	}
	*dir = final;
	final = NULL;
	rc = 0;
out:
	git_commit_free(cm);
	git_repository_free(repo);
	if (rc < 0)
		util_rm_tree(tmp);
	free(final);
	git_libgit2_shutdown();
	return rc;
}
