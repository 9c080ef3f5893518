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

#include "common/err.h"
#include "common/http.h"
#include "common/reqsig.h"
#include "common/util.h"
#include "provider/artifact.h"

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

int
artifact_fetch_url(struct artifact_cache *c, const char *url, const char *sha,
    char **path)
{
	struct http_result r = { 0 };
	int rc;

	if (artifact_blob_path(c, sha, path) == 0)
		return 0;
	if (strncmp(url, "https://", 8) != 0 &&
	    strncmp(url, "http://", 7) != 0 && strncmp(url, "file://", 7) != 0)
		return err_set(ERR_INVAL, "artifact url %s: not https", url);
	if ((rc = http_fetch("GET", url, NULL, NULL, 0, 120000, &r)) < 0)
		return rc;
	if (strncmp(url, "file://", 7) != 0 && r.status != 200) {
		rc = err_set(ERR_IO, "artifact %s: HTTP %ld", url, r.status);
		goto out;
	}
	rc = artifact_put_blob(c, sha, r.body, r.body_len, path);
	if (rc < 0)
		err_prefix(rc, "artifact %s", url);
out:
	http_result_clear(&r);
	return rc;
}

static int
git_fail(const char *what, const char *url)
{
	const git_error *e = git_error_last();

	return err_set(ERR_IO, "git %s %s: %s", what, url,
	    e && e->message ? e->message : "failed");
}

int
artifact_git(struct artifact_cache *c, const char *url, const char *commit,
    char **dir)
{
	git_clone_options co;
	git_checkout_options ck;
	git_repository *repo = NULL;
	git_commit *cm = NULL;
	git_oid oid;
	char tmp[PATH_MAX], gitdir[PATH_MAX + 8], *final = NULL;
	struct stat st;
	int rc;

	*dir = NULL;
	if (!is_commit(commit))
		return err_set(ERR_INVAL,
		    "git commit \"%s\": expected 40 "
		    "lower-case hex",
		    commit);
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
	util_rm_tree(tmp);
	co.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
	if (git_clone(&repo, url, tmp, &co) < 0) {
		rc = git_fail("clone", url);
		goto out;
	}
	if (git_oid_fromstr(&oid, commit) < 0 ||
	    git_commit_lookup(&cm, repo, &oid) < 0) {
		rc = err_set(ERR_NOTFOUND, "git %s: commit %s not found", url,
		    commit);
		goto out;
	}
	ck.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_checkout_tree(repo, (const git_object *)cm, &ck) < 0 ||
	    git_repository_set_head_detached(repo, &oid) < 0) {
		rc = git_fail("checkout", url);
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
