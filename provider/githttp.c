/*
 * githttp: the smart HTTP subtransport over fetch.c (see githttp.h).
 * The smart transport (libgit2's) speaks pkt-lines; this file moves its
 * bytes: the advertisement from GET <url>/info/refs?service=
 * git-upload-pack, then each negotiation round as one POST <url>/git-
 * upload-pack whose body is what libgit2 wrote and whose answer is read
 * back.  Only fetches (upload-pack): a push is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2/sys/transport.h>

#include "common/err.h"
#include "common/log.h"
#include "provider/fetch.h"
#include "provider/githttp.h"

#define INFO_REFS "/info/refs?service=git-upload-pack"
#define UPLOAD_PACK "/git-upload-pack"

struct sub {
	git_smart_subtransport parent;
	struct githttp *g;
	char *base; /* the repository URL, after the first redirects */
};

struct stream {
	git_smart_subtransport_stream parent;
	struct sub *sub;
	int post; /* a negotiation round (else the advertisement) */
	char *req; /* what libgit2 wrote, for the POST */
	size_t req_len;
	int fd; /* the spooled answer, -1 until requested */
	int failed;
};

/* libgit2's error from ours (rc, err_msg()), the first one kept for the
 * caller of the clone. */
static int
git_err(struct githttp *g, int rc)
{
	if (g->rc == 0) {
		g->rc = rc;
		snprintf(g->msg, sizeof(g->msg), "%s", err_msg());
	}
	git_error_set_str(GIT_ERROR_NET, err_msg());
	return -1;
}

/* An unlinked temporary file in dir. */
static int
spool_file(const char *dir)
{
	char path[4200];
	int fd;

	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
		return fd;
	snprintf(path, sizeof(path), "%.4000s/githttp-XXXXXX", dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) >= 0)
		unlink(path);
	return fd;
}

/* Send the request of s and spool its answer. */
static int
request(struct stream *s)
{
	const struct githttp *g = s->sub->g;
	int rc;
	static const char *const get_hdrs[] = { "Accept: */*", NULL };
	static const char *const post_hdrs[] = {
		"Content-Type: application/x-git-upload-pack-request",
		"Accept: application/x-git-upload-pack-result", NULL
	};
	const char *want = s->post ? "application/x-git-upload-pack-result" :
	                             "application/x-git-upload-pack-"
	                             "advertisement";
	struct fetch_req rq;
	struct fetch_result res;
	char *url = NULL;
	size_t n;

	if ((s->fd = spool_file(g->tmp_dir)) < 0)
		return err_set(ERR_IO, "git: spool file in %s: %s", g->tmp_dir,
		    strerror(errno));
	if (asprintf(&url, "%s%s", s->sub->base,
	        s->post ? UPLOAD_PACK : INFO_REFS) < 0)
		return err_set(ERR_NOMEM, "out of memory");
	memset(&rq, 0, sizeof(rq));
	rq.method = s->post ? "POST" : "GET";
	rq.url = url;
	rq.headers = s->post ? post_hdrs : get_hdrs;
	rq.body = s->req;
	rq.body_len = s->req_len;
	rq.max_redirects = s->post ? 0 : 5;
	rq.max_bytes = g->max_bytes;
	rq.timeout_ms = g->timeout_ms;
	rq.out_fd = s->fd;
	if ((rc = fetch_run(g->policy, &rq, &res)) < 0)
		goto out;
	if (res.status != 200 ||
	    strncmp(res.content_type, want, strlen(want)) != 0) {
		/* What the remote answered is for the log only. */
		log_warn("git %s: HTTP %ld, content type \"%s\"", url,
		    res.status, res.content_type);
		rc = err_set(ERR_IO,
		    "%.200s: the fetch failed (not a smart HTTP git "
		    "repository that answers)",
		    s->sub->base);
		goto out;
	}
	if (!s->post) {
		/* Later rounds go where the first request ended up. */
		n = strlen(res.final_url);
		if (n < strlen(INFO_REFS) ||
		    strcmp(res.final_url + n - strlen(INFO_REFS), INFO_REFS) !=
		        0) {
			rc = err_set(ERR_REJECT,
			    "%.200s: redirected to a URL that is not a git "
			    "repository's",
			    s->sub->base);
			goto out;
		}
		res.final_url[n - strlen(INFO_REFS)] = '\0';
		free(s->sub->base);
		if ((s->sub->base = strdup(res.final_url)) == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (lseek(s->fd, 0, SEEK_SET) < 0)
		rc = err_set(ERR_IO, "git: spool: %s", strerror(errno));
out:
	free(url);
	return rc;
}

static int
stream_read(git_smart_subtransport_stream *gs, char *buf, size_t size,
    size_t *bytes_read)
{
	struct stream *s = (struct stream *)gs;
	ssize_t r;
	int rc;

	*bytes_read = 0;
	if (s->failed)
		return -1;
	if (s->fd < 0 && (rc = request(s)) < 0) {
		s->failed = 1;
		return git_err(s->sub->g, rc);
	}
	do
		r = read(s->fd, buf, size);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		git_error_set(GIT_ERROR_OS, "git: reading the spool: %s",
		    strerror(errno));
		return -1;
	}
	*bytes_read = (size_t)r;
	return 0;
}

static int
stream_write(git_smart_subtransport_stream *gs, const char *buf, size_t len)
{
	struct stream *s = (struct stream *)gs;
	char *n;

	if (!s->post || s->fd >= 0) {
		git_error_set(GIT_ERROR_NET, "git: unexpected write");
		return -1;
	}
	if (s->req_len + len > (64u << 20)) {
		git_error_set(GIT_ERROR_NET, "git: request too large");
		return -1;
	}
	if ((n = realloc(s->req, s->req_len + len + 1)) == NULL) {
		git_error_set_oom();
		return -1;
	}
	memcpy(n + s->req_len, buf, len);
	s->req = n;
	s->req_len += len;
	return 0;
}

static void
stream_free(git_smart_subtransport_stream *gs)
{
	struct stream *s = (struct stream *)gs;

	if (s->fd >= 0)
		close(s->fd);
	free(s->req);
	free(s);
}

static int
sub_action(git_smart_subtransport_stream **out, git_smart_subtransport *gt,
    const char *url, git_smart_service_t action)
{
	struct sub *t = (struct sub *)gt;
	struct stream *s;
	size_t n;

	*out = NULL;
	if (action != GIT_SERVICE_UPLOADPACK_LS &&
	    action != GIT_SERVICE_UPLOADPACK) {
		git_error_set(GIT_ERROR_NET, "git: only fetching is allowed");
		return -1;
	}
	if (action == GIT_SERVICE_UPLOADPACK_LS || t->base == NULL) {
		free(t->base);
		if ((t->base = strdup(url)) == NULL) {
			git_error_set_oom();
			return -1;
		}
		n = strlen(t->base);
		while (n > 0 && t->base[n - 1] == '/')
			t->base[--n] = '\0';
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		git_error_set_oom();
		return -1;
	}
	s->parent.subtransport = gt;
	s->parent.read = stream_read;
	s->parent.write = stream_write;
	s->parent.free = stream_free;
	s->sub = t;
	s->post = action == GIT_SERVICE_UPLOADPACK;
	s->fd = -1;
	*out = &s->parent;
	return 0;
}

static int
sub_close(git_smart_subtransport *gt)
{
	(void)gt;
	return 0;
}

static void
sub_free(git_smart_subtransport *gt)
{
	struct sub *t = (struct sub *)gt;

	free(t->base);
	free(t);
}

static int
sub_new(git_smart_subtransport **out, git_transport *owner, void *param)
{
	struct sub *t = calloc(1, sizeof(*t));

	(void)owner;
	if (t == NULL) {
		git_error_set_oom();
		return -1;
	}
	t->parent.action = sub_action;
	t->parent.close = sub_close;
	t->parent.free = sub_free;
	t->g = param;
	*out = &t->parent;
	return 0;
}

int
githttp_transport(git_transport **out, git_remote *owner, void *payload)
{
	git_smart_subtransport_definition def = { sub_new, 1, payload };

	return git_transport_smart(out, owner, &def);
}
