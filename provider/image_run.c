/*
 * image_run: pulls in a worker thread, specs for the sandbox, a range of
 * host ids per lease (see image_run.h).  Jobs are keyed by (lease,
 * service); the worker takes them in order, one pull at a time, and the
 * daemon's loop picks up the finished ones under its own lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/strv.h"
#include "common/util.h"
#include "image/cache.h"
#include "image/pull.h"
#include "image/ref.h"
#include "provider/events.h"
#include "provider/image_run.h"
#include "provider/lease.h"

#define MAX_SLOTS 4096
#define PASSWD_MAX (1u << 20)
#define DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum job_state { JOB_QUEUED, JOB_PULLING, JOB_READY, JOB_FAILED };
static const char *const state_names[] = { "queued", "pulling", "ready",
	"failed" };

struct image_run_spec {
	atomic_int refs;
	char **argv, **env; /* NULL-terminated */
	char *workdir;
	char **layers; /* bottom first */
	struct sandbox_image im;
	struct sandbox_volume *volumes;
	char **volume_paths;
};

struct job {
	char lease[32];
	char service[64];
	char *ref_text; /* as the manifest names it */
	struct image_ref ref; /* what is pulled (a pinned digest) */
	char *host, *user, *pass; /* SDL credentials, or NULL */
	int proven; /* ref.digest was pulled before for this lease, or is a
	               public tag's: the cached manifest may be used */
	char **command, **args, **env; /* SDL's; NULL-terminated */
	size_t n_command, n_args;
	uint64_t upper_bytes;
	size_t n_volumes;
	char *vol_path[SANDBOX_VOLUMES_MAX];
	uint64_t vol_bytes[SANDBOX_VOLUMES_MAX];
	uid_t id_base;
	/* under ir->mu: */
	enum job_state state;
	uint64_t done, total;
	char digest[80];
	char error[512];
	int cancel;
	struct image_result result; /* READY: for the cache's in_use */
	struct image_run_spec *spec; /* READY */
	struct job *next;
};

/* A tag resolved by an earlier pull (Kubernetes' IfNotPresent). */
#define TAGS_MAX 256
struct tag_memo {
	char *ref; /* "registry/repository:tag" */
	char digest[80];
};

struct image_runner {
	struct image_cache *cache;
	struct tag_memo tags[TAGS_MAX];
	size_t n_tags, next_tag;
	char leases_dir[PATH_MAX];
	uint64_t cache_max;
	uint64_t id_base;
	size_t n_slots;
	char (*slots)[32]; /* lease id per range, "" free */
	struct image_mirror *mirrors;
	char **mirror_text;
	size_t n_mirrors;
	char **insecure;
	size_t n_insecure;
	void (*wake)(void *);
	void *wake_ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t worker;
	int have_worker;
	int stop;
	int want_gc; /* a lease was forgotten: collect */
	size_t n_mirror_text;
	struct job *jobs;
};

static void
secret_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
image_run_spec_unref(struct image_run_spec *s)
{
	size_t i;

	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	strv_free(s->argv);
	strv_free(s->env);
	strv_free(s->layers);
	for (i = 0; i < s->im.n_volumes; i++)
		free(s->volume_paths[i]);
	free(s->volume_paths);
	free(s->volumes);
	free(s->workdir);
	free(s);
}

void
image_run_spec_apply(const struct image_run_spec *s, struct sandbox_spec *spec)
{
	spec->image = &s->im;
	spec->argv = (const char *const *)s->argv;
	spec->env = (const char *const *)s->env;
	spec->workdir = s->workdir;
	spec->app_dir = NULL;
}

static void
job_free(struct job *j)
{
	size_t i;

	if (j == NULL)
		return;
	free(j->ref_text);
	image_ref_clear(&j->ref);
	secret_free(j->host);
	secret_free(j->user);
	secret_free(j->pass);
	strv_free(j->command);
	strv_free(j->args);
	strv_free(j->env);
	for (i = 0; i < j->n_volumes; i++)
		free(j->vol_path[i]);
	image_result_clear(&j->result);
	image_run_spec_unref(j->spec);
	free(j);
}

/* A JSON array of strings as a NULL-terminated list. */
static int
strings_of(const json_t *a, char ***out, size_t *n)
{
	struct strv v = { 0 };
	const json_t *s;
	size_t i;

	json_array_foreach(a, i, s)
	{
		if (json_is_string(s))
			strv_add(&v, strdup(json_string_value(s)));
	}
	if (n != NULL)
		*n = v.n;
	return strv_done(&v, out);
}

/* ---- the image's /etc/passwd and /etc/group ---------------------------- */

static int
is_opaque(const char *dir)
{
	char v[4];

	return getxattr(dir, "user.overlay.opaque", v, sizeof(v)) == 1 &&
	    v[0] == 'y';
}

/* The content of name ("etc/passwd") in the stacked layers, as overlayfs
 * shows it: the topmost layer that has it, unless a higher one whites it
 * or etc/ out.  ERR_NOTFOUND when none has it (or it is no regular file). */
static int
layers_read(const char *const *layers, size_t n, const char *name, char **out)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len;
	size_t i;

	*out = NULL;
	for (i = n; i-- > 0;) {
		snprintf(path, sizeof(path), "%s/etc", layers[i]);
		if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
			break; /* etc whited out or replaced */
		snprintf(path, sizeof(path), "%s/%s", layers[i], name);
		if (lstat(path, &st) == 0) {
			if (!S_ISREG(st.st_mode))
				break;
			return util_read_file(path, PASSWD_MAX, out, &len);
		}
		snprintf(path, sizeof(path), "%s/etc", layers[i]);
		if (is_opaque(path))
			break;
	}
	return err_set(ERR_NOTFOUND, "the image has no /%s", name);
}

/* The line of a passwd/group file whose field 0 (by name) or field 2
 * (by id) matches; fields into f (at most 7), pointing into text. */
static int
colon_find(char *text, const char *name, long id, char **f, size_t nf)
{
	char *line, *save = NULL, *p;
	size_t k;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		for (k = 0, p = line; k < nf; k++) {
			f[k] = p;
			if (p != NULL && (p = strchr(p, ':')) != NULL)
				*p++ = '\0';
		}
		if (f[0] == NULL || f[2] == NULL)
			continue;
		if (name != NULL && strcmp(f[0], name) == 0)
			return 0;
		if (name == NULL && strtol(f[2], NULL, 10) == id &&
		    f[2][0] >= '0' && f[2][0] <= '9')
			return 0;
	}
	return ERR_NOTFOUND;
}

static int
numeric(const char *s, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return *end == '\0' && errno == 0;
}

int
image_run_resolve_user(const char *user, const char *const *layers,
    size_t n_layers, uid_t *uid, gid_t *gid, char **home)
{
	char ubuf[256], *group, *text = NULL, *f[7] = { 0 };
	unsigned long v;
	int rc = 0;

	*uid = 0;
	*gid = 0;
	*home = NULL;
	if (user == NULL || *user == '\0')
		user = "0";
	snprintf(ubuf, sizeof(ubuf), "%s", user);
	if ((group = strchr(ubuf, ':')) != NULL)
		*group++ = '\0';
	if (numeric(ubuf, &v)) {
		*uid = (uid_t)v;
		/* the passwd entry of a numeric user still gives its gid and
		 * home, when there is one */
		if (layers_read(layers, n_layers, "etc/passwd", &text) == 0 &&
		    colon_find(text, NULL, (long)v, f, 7) == 0) {
			*gid = (gid_t)strtoul(f[3] ? f[3] : "0", NULL, 10);
			if (f[5] != NULL)
				*home = strdup(f[5]);
		}
		err_clear();
	} else {
		if ((rc = layers_read(layers, n_layers, "etc/passwd", &text)) <
		        0 ||
		    colon_find(text, ubuf, 0, f, 7) != 0 || f[3] == NULL) {
			rc = err_set(ERR_NOTFOUND,
			    "image user \"%s\": no such user in the image's "
			    "/etc/passwd",
			    ubuf);
			goto out;
		}
		*uid = (uid_t)strtoul(f[2], NULL, 10);
		*gid = (gid_t)strtoul(f[3], NULL, 10);
		if (f[5] != NULL)
			*home = strdup(f[5]);
	}
	free(text);
	text = NULL;
	if (group != NULL && *group != '\0') {
		if (numeric(group, &v)) {
			*gid = (gid_t)v;
		} else if ((rc = layers_read(layers, n_layers, "etc/group",
		                &text)) < 0 ||
		    colon_find(text, group, 0, f, 4) != 0) {
			rc = err_set(ERR_NOTFOUND,
			    "image user \"%s\": no group \"%s\" in the image's "
			    "/etc/group",
			    user, group);
			goto out;
		} else {
			*gid = (gid_t)strtoul(f[2], NULL, 10);
		}
	}
	if (*uid >= IMAGE_RUN_IDS || *gid >= IMAGE_RUN_IDS)
		rc = err_set(ERR_REJECT,
		    "image user \"%s\" is %u:%u, outside the %u ids of a "
		    "lease",
		    user, (unsigned)*uid, (unsigned)*gid, IMAGE_RUN_IDS);
out:
	free(text);
	if (rc < 0) {
		free(*home);
		*home = NULL;
	}
	return rc;
}

/* ---- the spec of a pulled image ---------------------------------------- */

/* Is "NAME=..." in env (n entries) for name of length len?  Its index. */
static ssize_t
env_find(char **env, size_t n, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return (ssize_t)i;
	return -1;
}

/* Env: the image's, the SDL's over it, PATH and HOME when neither has
 * them (as Docker does). */
static int
make_env(const struct job *j, const struct image_config *c, const char *home,
    char ***out)
{
	struct strv v = { 0 };
	const char *eq;
	ssize_t k;
	size_t i;

	for (i = 0; i < c->n_env; i++)
		strv_add(&v, strdup(c->env[i]));
	for (i = 0; j->env != NULL && j->env[i] != NULL; i++) {
		eq = strchr(j->env[i], '=');
		if (eq == NULL)
			continue;
		k = v.oom ?
		    -1 :
		    env_find(v.v, v.n, j->env[i], (size_t)(eq - j->env[i]));
		if (k >= 0) {
			char *d = strdup(j->env[i]);
			if (d == NULL) {
				v.oom = 1;
				continue;
			}
			free(v.v[k]);
			v.v[k] = d;
		} else
			strv_add(&v, strdup(j->env[i]));
	}
	if (!v.oom && env_find(v.v, v.n, "PATH", 4) < 0)
		strv_add(&v, strdup("PATH=" DEFAULT_PATH));
	if (!v.oom && env_find(v.v, v.n, "HOME", 4) < 0) {
		char *h = NULL;
		if (asprintf(&h, "HOME=%s", home && *home ? home : "/") < 0)
			h = NULL;
		strv_add(&v, h);
	}
	return strv_done(&v, out);
}

/* argv as Kubernetes (and so Akash) builds it: the SDL's command
 * replaces the Entrypoint (and then the image's Cmd is dropped), its args
 * replace the Cmd. */
static int
make_argv(const struct job *j, const struct image_config *c, char ***out)
{
	struct strv v = { 0 };
	char *const *ep = j->n_command ? j->command : c->entrypoint;
	char *const *cmd = j->n_args ? j->args : j->n_command ? NULL : c->cmd;
	size_t i;

	for (i = 0; ep != NULL && ep[i] != NULL; i++)
		strv_add(&v, strdup(ep[i]));
	for (i = 0; cmd != NULL && cmd[i] != NULL; i++)
		strv_add(&v, strdup(cmd[i]));
	if (!v.oom && v.n == 0) {
		strv_done(&v, out);
		strv_free(*out);
		*out = NULL;
		return err_set(ERR_REJECT,
		    "image %s has no Entrypoint or Cmd and service %s gives "
		    "no command",
		    j->ref_text, j->service);
	}
	return strv_done(&v, out);
}

static int
make_spec(const struct job *j, const struct image_result *r,
    struct image_run_spec **out)
{
	struct image_run_spec *s;
	struct strv lv = { 0 };
	char *home = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	atomic_init(&s->refs, 1);
	for (i = 0; i < r->n_layers; i++)
		strv_add(&lv, strdup(r->layers[i].dir));
	if ((rc = strv_done(&lv, &s->layers)) < 0)
		goto fail;
	if ((rc = image_run_resolve_user(r->config.user,
	         (const char *const *)s->layers, r->n_layers, &s->im.uid,
	         &s->im.gid, &home)) < 0 ||
	    (rc = make_env(j, &r->config, home, &s->env)) < 0 ||
	    (rc = make_argv(j, &r->config, &s->argv)) < 0)
		goto fail;
	if ((s->workdir = strdup(
	         r->config.working_dir && r->config.working_dir[0] == '/' ?
	             r->config.working_dir :
	             "/")) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	s->im.layers = (const char *const *)s->layers;
	s->im.n_layers = r->n_layers;
	s->im.upper_bytes = j->upper_bytes;
	s->im.id_base = j->id_base;
	s->im.id_count = IMAGE_RUN_IDS;
	if (j->n_volumes > 0) {
		s->volumes = calloc(j->n_volumes, sizeof(*s->volumes));
		s->volume_paths = calloc(j->n_volumes, sizeof(char *));
		if (s->volumes == NULL || s->volume_paths == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
		for (i = 0; i < j->n_volumes; i++) {
			if ((s->volume_paths[i] = strdup(j->vol_path[i])) ==
			    NULL) {
				rc = err_set(ERR_NOMEM, "out of memory");
				goto fail;
			}
			s->volumes[i].path = s->volume_paths[i];
			s->volumes[i].bytes = j->vol_bytes[i];
			s->im.n_volumes = i + 1;
		}
		s->im.volumes = s->volumes;
	}
	free(home);
	*out = s;
	return 0;
fail:
	free(home);
	image_run_spec_unref(s);
	return rc;
}

/* ---- the worker --------------------------------------------------------- */

struct progress_ctx {
	struct image_runner *ir;
	struct job *j;
};

static int
on_progress(void *ctx, const struct image_progress *p)
{
	struct progress_ctx *pc = ctx;
	int cancel;

	pthread_mutex_lock(&pc->ir->mu);
	pc->j->done = p->done;
	pc->j->total = p->total;
	cancel = pc->j->cancel || pc->ir->stop;
	pthread_mutex_unlock(&pc->ir->mu);
	return cancel;
}

/* Every digest the cache must keep: the images of every job but the
 * cancelled ones.  Under ir->mu; *out and its strings malloc'd. */
static int
in_use(struct image_runner *ir, char ***out, size_t *n)
{
	const char **d;
	char **all = NULL, **na;
	size_t cap = 0, k, m;
	struct job *j;

	*n = 0;
	for (j = ir->jobs; j != NULL; j = j->next) {
		if (j->cancel || j->state != JOB_READY)
			continue;
		if (image_result_digests(&j->result, &d, &m) < 0)
			continue;
		if (*n + m > cap) {
			cap = (*n + m) * 2;
			if ((na = realloc(all, cap * sizeof(*na))) == NULL) {
				free(d);
				free(all);
				return err_set(ERR_NOMEM, "out of memory");
			}
			all = na;
		}
		for (k = 0; k < m; k++)
			if ((all[*n] = strdup(d[k])) != NULL)
				(*n)++;
		free(d);
	}
	*out = all;
	return 0;
}

/* Collect the cache down to its size; a pull in progress holds its
 * layers' locks, which the collection spares. */
static void
collect(struct image_runner *ir)
{
	struct image_gc_stats st;
	char **use = NULL;
	size_t n = 0, i;
	int rc;

	pthread_mutex_lock(&ir->mu);
	ir->want_gc = 0;
	rc = in_use(ir, &use, &n);
	pthread_mutex_unlock(&ir->mu);
	if (rc == 0)
		rc = image_cache_gc(ir->cache, ir->cache_max,
		    (const char *const *)use, n, &st);
	for (i = 0; i < n; i++)
		free(use[i]);
	free(use);
	if (rc < 0)
		log_warn("image cache: collection: %s", err_msg());
	else if (st.layers_removed + st.blobs_removed > 0)
		log_info("image cache: removed %zu layers and %zu blobs (%llu "
		         "-> %llu bytes, limit %llu)",
		    st.layers_removed, st.blobs_removed,
		    (unsigned long long)st.bytes_before,
		    (unsigned long long)st.bytes_after,
		    (unsigned long long)ir->cache_max);
}

/* Pin the lease's pulled digests (DATA/leases/<lease>/images.json), so
 * a provider restart runs exactly the same images, from the cache. */
static void
pin(struct image_runner *ir, const char *lease)
{
	char path[PATH_MAX + 64], *text;
	json_t *d;

	if ((d = image_run_digests(ir, lease)) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", ir->leases_dir, lease);
	text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(d);
	if (text != NULL && util_mkdirs(path, 0750) == 0) {
		strncat(path, "/images.json", sizeof(path) - strlen(path) - 1);
		if (util_write_file(path, text, strlen(text), 0600) < 0)
			log_warn("lease %s: %s", lease, err_msg());
	}
	free(text);
}

/* The digest a tag resolved to, for the next job of the same reference
 * (under ir->mu).  A tag other than "latest" already pulled is not asked
 * again: Kubernetes' default pull policy (IfNotPresent), which Akash
 * follows; "latest" and a digest reference are always resolved. */
static void
remember_tag(struct image_runner *ir, const struct job *j, const char *digest)
{
	struct tag_memo *t;
	size_t i;

	/* Only what anyone may pull: an image pulled with credentials is
	 * private, and asking the registry again is what checks the next
	 * tenant's. */
	if (j->ref.tag == NULL || strcmp(j->ref.tag, "latest") == 0 ||
	    strchr(j->ref_text, '@') != NULL || j->host != NULL)
		return;
	for (i = 0; i < ir->n_tags; i++)
		if (strcmp(ir->tags[i].ref, j->ref_text) == 0) {
			snprintf(ir->tags[i].digest, sizeof(ir->tags[i].digest),
			    "%s", digest);
			return;
		}
	t = &ir->tags[ir->n_tags < TAGS_MAX ? ir->n_tags++ :
	                                      ir->next_tag++ % TAGS_MAX];
	free(t->ref);
	if ((t->ref = strdup(j->ref_text)) == NULL)
		return;
	snprintf(t->digest, sizeof(t->digest), "%s", digest);
}

/* A digest remembered for ref_text (malloc'd), or NULL.  Under ir->mu. */
static char *
known_tag(struct image_runner *ir, const char *ref_text)
{
	size_t i;

	for (i = 0; i < ir->n_tags; i++)
		if (ir->tags[i].ref != NULL &&
		    strcmp(ir->tags[i].ref, ref_text) == 0)
			return strdup(ir->tags[i].digest);
	return NULL;
}

/* One pull, with retries when the network fails; the spec then. */
static void
run_job(struct image_runner *ir, struct job *j)
{
	struct image_credential cred = { j->host, j->user, j->pass };
	struct image_auth auth = { &cred, j->host != NULL ? 1 : 0 };
	struct image_pull_options opts;
	struct progress_ctx pc = { ir, j };
	struct image_result res;
	struct image_run_spec *spec = NULL;
	char ldir[PATH_MAX];
	int rc = 0, try;
	int64_t t0 = util_now_ms();

	memset(&opts, 0, sizeof(opts));
	opts.mirrors = ir->mirrors;
	opts.n_mirrors = ir->n_mirrors;
	opts.insecure = (const char *const *)ir->insecure;
	opts.n_insecure = ir->n_insecure;
	opts.cache_proven = j->proven;
	memset(&res, 0, sizeof(res));
	snprintf(ldir, sizeof(ldir), "%.3800s/%.32s", ir->leases_dir, j->lease);
	(void)provider_event(ldir, "image.pulling", j->service, NULL,
	    PROVIDER_EVENT_NO_EXIT, "pulling %s", j->ref_text);
	for (try = 1; try <= IMAGE_RUN_TRIES; try++) {
		rc = image_pull(ir->cache, &j->ref, NULL, &auth, &opts,
		    on_progress, &pc, &res);
		if (rc != ERR_IO || try == IMAGE_RUN_TRIES)
			break;
		log_warn("lease %s: %s: pulling %s: %s; again in %d s",
		    j->lease, j->service, j->ref_text, err_msg(), try);
		sleep((unsigned)try);
		pthread_mutex_lock(&ir->mu);
		rc = j->cancel || ir->stop;
		pthread_mutex_unlock(&ir->mu);
		if (rc) {
			rc = err_set(ERR_REJECT, "cancelled");
			break;
		}
	}
	if (rc == 0 && (rc = make_spec(j, &res, &spec)) < 0)
		image_result_clear(&res);
	pthread_mutex_lock(&ir->mu);
	if (rc == 0) {
		remember_tag(ir, j, res.manifest_digest);
		j->result = res;
		j->spec = spec;
		snprintf(j->digest, sizeof(j->digest), "%s",
		    res.manifest_digest);
		j->done = j->total;
		j->state = JOB_READY;
	} else {
		snprintf(j->error, sizeof(j->error), "%s", err_msg());
		j->state = JOB_FAILED;
	}
	pthread_mutex_unlock(&ir->mu);
	if (rc == 0) {
		log_info("lease %s: %s: %s is %s (%zu layers, %llu bytes "
		         "fetched, %lld ms)",
		    j->lease, j->service, j->ref_text, j->digest, res.n_layers,
		    (unsigned long long)res.bytes_downloaded,
		    (long long)(util_now_ms() - t0));
		(void)provider_event(ldir, "image.pulled", j->service, NULL,
		    PROVIDER_EVENT_NO_EXIT,
		    "%s is %s (%zu layers, %llu bytes fetched, %lld ms)",
		    j->ref_text, j->digest, res.n_layers,
		    (unsigned long long)res.bytes_downloaded,
		    (long long)(util_now_ms() - t0));
		pin(ir, j->lease);
	} else {
		log_warn("lease %s: %s: %s", j->lease, j->service, j->error);
		(void)provider_event(ldir, "image.failed", j->service, NULL,
		    PROVIDER_EVENT_NO_EXIT, "%s: %s", j->ref_text, j->error);
	}
}

static void *
worker_main(void *arg)
{
	struct image_runner *ir = arg;
	struct job *j, **pp;

	pthread_mutex_lock(&ir->mu);
	while (!ir->stop) {
		for (j = ir->jobs; j != NULL; j = j->next)
			if (j->state == JOB_QUEUED && !j->cancel)
				break;
		if (j == NULL && ir->want_gc) {
			pthread_mutex_unlock(&ir->mu);
			collect(ir);
			pthread_mutex_lock(&ir->mu);
			continue;
		}
		if (j == NULL) {
			pthread_cond_wait(&ir->cv, &ir->mu);
			continue;
		}
		j->state = JOB_PULLING;
		pthread_mutex_unlock(&ir->mu);
		run_job(ir, j);
		pthread_mutex_lock(&ir->mu);
		/* Forgotten while it pulled: it goes now. */
		if (j->cancel) {
			for (pp = &ir->jobs; *pp != NULL; pp = &(*pp)->next)
				if (*pp == j) {
					*pp = j->next;
					break;
				}
			job_free(j);
		}
		pthread_mutex_unlock(&ir->mu);
		collect(ir);
		if (ir->wake != NULL)
			ir->wake(ir->wake_ctx);
		pthread_mutex_lock(&ir->mu);
	}
	pthread_mutex_unlock(&ir->mu);
	return NULL;
}

/* ---- the runner --------------------------------------------------------- */

int
image_run_parse_mirror(char *s, struct image_mirror *out)
{
	char *eq = strchr(s, '=');

	if (eq == NULL || eq == s ||
	    (strncmp(eq + 1, "http://", 7) != 0 &&
	        strncmp(eq + 1, "https://", 8) != 0))
		return err_set(ERR_INVAL,
		    "--registry-mirror \"%s\": expected REGISTRY=URL with an "
		    "http:// or https:// URL (docker.io=http://127.0.0.1:5000)",
		    s);
	*eq = '\0';
	out->registry = s;
	out->url = eq + 1;
	return 0;
}

int
image_runner_new(const struct image_run_config *cfg, struct image_runner **out)
{
	struct image_runner *ir;
	size_t i;
	int rc, e;

	*out = NULL;
	if ((ir = calloc(1, sizeof(*ir))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	pthread_mutex_init(&ir->mu, NULL);
	pthread_cond_init(&ir->cv, NULL);
	snprintf(ir->leases_dir, sizeof(ir->leases_dir), "%s", cfg->leases_dir);
	ir->cache_max = cfg->cache_max_bytes ? cfg->cache_max_bytes :
	                                       IMAGE_RUN_CACHE_MAX_DEFAULT;
	ir->id_base = cfg->id_base ? cfg->id_base : IMAGE_RUN_ID_BASE_DEFAULT;
	if (ir->id_base + IMAGE_RUN_IDS > 0xffffffffull) {
		rc = err_set(ERR_INVAL, "image id base %llu leaves no range",
		    (unsigned long long)ir->id_base);
		goto fail;
	}
	ir->n_slots = (size_t)((0xffffffffull - ir->id_base) / IMAGE_RUN_IDS);
	if (ir->n_slots > MAX_SLOTS)
		ir->n_slots = MAX_SLOTS;
	ir->wake = cfg->wake;
	ir->wake_ctx = cfg->wake_ctx;
	if ((ir->slots = calloc(ir->n_slots, sizeof(*ir->slots))) == NULL ||
	    (cfg->n_mirrors &&
	        ((ir->mirrors = calloc(cfg->n_mirrors, sizeof(*ir->mirrors))) ==
	                NULL ||
	            (ir->mirror_text =
	                    calloc((ir->n_mirror_text = cfg->n_mirrors * 2),
	                        sizeof(char *))) == NULL)) ||
	    (cfg->n_insecure &&
	        (ir->insecure = calloc(cfg->n_insecure, sizeof(char *))) ==
	            NULL)) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < cfg->n_mirrors; i++) {
		if ((ir->mirror_text[2 * i] =
		            strdup(cfg->mirrors[i].registry)) == NULL ||
		    (ir->mirror_text[2 * i + 1] =
		            strdup(cfg->mirrors[i].url)) == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
		ir->mirrors[i].registry = ir->mirror_text[2 * i];
		ir->mirrors[i].url = ir->mirror_text[2 * i + 1];
		ir->n_mirrors = i + 1;
	}
	for (i = 0; i < cfg->n_insecure; i++) {
		if ((ir->insecure[i] = strdup(cfg->insecure[i])) == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
		ir->n_insecure = i + 1;
	}
	if ((rc = util_mkdirs(cfg->cache_dir, 0700)) < 0 ||
	    (rc = image_cache_open(cfg->cache_dir, &ir->cache)) < 0)
		goto fail;
	if ((e = pthread_create(&ir->worker, NULL, worker_main, ir)) != 0) {
		rc = err_set(ERR_IO, "image puller thread: %s", strerror(e));
		goto fail;
	}
	ir->have_worker = 1;
	*out = ir;
	return 0;
fail:
	image_runner_free(ir);
	return rc;
}

void
image_runner_free(struct image_runner *ir)
{
	struct job *j, *next;
	size_t i;

	if (ir == NULL)
		return;
	if (ir->have_worker) {
		pthread_mutex_lock(&ir->mu);
		ir->stop = 1;
		pthread_cond_broadcast(&ir->cv);
		pthread_mutex_unlock(&ir->mu);
		pthread_join(ir->worker, NULL);
	}
	for (j = ir->jobs; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
	for (i = 0; i < ir->n_tags; i++)
		free(ir->tags[i].ref);
	for (i = 0; ir->mirror_text != NULL && i < ir->n_mirror_text; i++)
		free(ir->mirror_text[i]);
	free(ir->mirror_text);
	free(ir->mirrors);
	for (i = 0; i < ir->n_insecure; i++)
		free(ir->insecure[i]);
	free(ir->insecure);
	free(ir->slots);
	image_cache_free(ir->cache);
	pthread_cond_destroy(&ir->cv);
	pthread_mutex_destroy(&ir->mu);
	free(ir);
}

/* The lease's range of ids (one /etc/subuid-like range each), taken on
 * its first job.  Under ir->mu. */
static int
lease_ids(struct image_runner *ir, const char *lease, uid_t *base)
{
	size_t i, free_slot = ir->n_slots;

	for (i = 0; i < ir->n_slots; i++) {
		if (strcmp(ir->slots[i], lease) == 0) {
			*base = (uid_t)(ir->id_base + i * IMAGE_RUN_IDS);
			return 0;
		}
		if (ir->slots[i][0] == '\0' && free_slot == ir->n_slots)
			free_slot = i;
	}
	if (free_slot == ir->n_slots)
		return err_set(ERR_LIMIT,
		    "no free range of %u ids for lease %s", IMAGE_RUN_IDS,
		    lease);
	snprintf(ir->slots[free_slot], sizeof(ir->slots[free_slot]), "%s",
	    lease);
	*base = (uid_t)(ir->id_base + free_slot * IMAGE_RUN_IDS);
	return 0;
}

static struct job *
find_job(struct image_runner *ir, const char *lease, const char *service)
{
	struct job *j;

	for (j = ir->jobs; j != NULL; j = j->next)
		if (!j->cancel && strcmp(j->lease, lease) == 0 &&
		    (service == NULL || strcmp(j->service, service) == 0))
			return j;
	return NULL;
}

/* "registry/repository[:tag][@digest]" of the manifest's image object. */
static char *
ref_text_of(const json_t *img)
{
	const char *reg = json_string_value(json_object_get(img, "registry"));
	const char *name = json_string_value(json_object_get(img, "name"));
	const char *tag = json_string_value(json_object_get(img, "tag"));
	const char *dig = json_string_value(json_object_get(img, "digest"));
	char *s = NULL;

	if (reg == NULL || name == NULL)
		return NULL;
	if (asprintf(&s, "%s/%s%s%s%s%s", reg, name, tag ? ":" : "",
	        tag ? tag : "", dig ? "@" : "", dig ? dig : "") < 0)
		return NULL;
	return s;
}

/* The service's storage: the profile's "default" volume is the writable
 * layer.  Each named volume the service mounts is a mount of its own
 * (provider/lease_vol.h: a disk image or a tmpfs), not the image's. */
static int
job_storage(struct job *j, const json_t *m, const char *placement,
    const json_t *svc)
{
	const json_t *dp = json_object_get(
	    json_object_get(json_object_get(m, "deployment"), j->service),
	    placement);
	const char *pname = json_string_value(json_object_get(dp, "profile"));
	const json_t *st = json_object_get(
	    json_object_get(json_object_get(json_object_get(m, "profiles"),
	                        pname ? pname : ""),
	        "storage"),
	    "default");

	(void)svc;
	j->upper_bytes =
	    (uint64_t)json_integer_value(json_object_get(st, "size_bytes"));
	return 0;
}

/* A digest pinned for the lease's service by an earlier pull, or NULL. */
static char *
pinned(struct image_runner *ir, const char *lease, const char *service)
{
	char path[PATH_MAX + 64];
	const char *d;
	json_t *j;
	char *out = NULL;

	snprintf(path, sizeof(path), "%s/%s/images.json", ir->leases_dir,
	    lease);
	if ((j = json_load_file(path, 0, NULL)) == NULL)
		return NULL;
	d = json_string_value(json_object_get(j, service));
	if (d != NULL && image_digest_valid(d))
		out = strdup(d);
	json_decref(j);
	return out;
}

static int
new_job(struct image_runner *ir, const struct lease *l, const char *service,
    const json_t *svc, struct job **out)
{
	const json_t *cr = json_object_get(svc, "credentials");
	struct job *j;
	char *pin;
	int rc;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	snprintf(j->lease, sizeof(j->lease), "%s", l->id);
	snprintf(j->service, sizeof(j->service), "%s", service);
	if ((j->ref_text = ref_text_of(json_object_get(svc, "image"))) ==
	    NULL) {
		rc = err_set(ERR_INVAL,
		    "manifest: services.%s.image is not an "
		    "OCI reference",
		    service);
		goto fail;
	}
	if ((rc = image_ref_parse(j->ref_text, &j->ref)) < 0) {
		err_prefix(rc, "services.%s.image", service);
		goto fail;
	}
	if (json_is_object(cr) &&
	    json_string_value(json_object_get(cr, "username")) != NULL) {
		const char *h = json_string_value(json_object_get(cr, "host"));
		j->host = strdup(h && *h ? h : j->ref.registry);
		j->user =
		    strdup(json_string_value(json_object_get(cr, "username")));
		j->pass =
		    strdup(json_string_value(json_object_get(cr, "password")) ?
		            json_string_value(json_object_get(cr, "password")) :
		            "");
		if (j->host == NULL || j->user == NULL || j->pass == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
	}
	/* a digest pinned for the lease, or a public tag pulled before:
	 * access proven, so the cache answers without the registry.  Any
	 * other reference (a digest another lease pulled included) asks the
	 * registry with this lease's credentials. */
	if ((pin = pinned(ir, l->id, service)) == NULL &&
	    strchr(j->ref_text, '@') == NULL && j->host == NULL) {
		pthread_mutex_lock(&ir->mu);
		pin = known_tag(ir, j->ref_text);
		pthread_mutex_unlock(&ir->mu);
	}
	if (pin != NULL) {
		free(j->ref.digest);
		j->ref.digest = pin;
		j->proven = 1;
	}
	if ((rc = strings_of(json_object_get(svc, "command"), &j->command,
	         &j->n_command)) < 0 ||
	    (rc = strings_of(json_object_get(svc, "args"), &j->args,
	         &j->n_args)) < 0 ||
	    (rc = job_storage(j, l->manifest, l->placement, svc)) < 0)
		goto fail;
	{
		struct strv ev = { 0 };
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(svc, "env"), k, v)
		{
			char *e = NULL;
			if (json_is_string(v) &&
			    asprintf(&e, "%s=%s", k, json_string_value(v)) < 0)
				e = NULL;
			if (json_is_string(v))
				strv_add(&ev, e);
		}
		if ((rc = strv_done(&ev, &j->env)) < 0)
			goto fail;
	}
	j->state = JOB_QUEUED;
	*out = j;
	return 0;
fail:
	job_free(j);
	return rc;
}

int
image_run_queue(struct image_runner *ir, const struct lease *l)
{
	const json_t *svcs = json_object_get(l->manifest, "services");
	struct job *j, **tail;
	size_t i, k;
	uid_t base = 0;
	int rc = 0, added = 0;

	for (i = 0; i < l->nrep; i++) {
		const struct lease_replica *r = &l->rep[i];
		if (!r->oci)
			continue;
		for (k = 0; k < i && strcmp(l->rep[k].service, r->service); k++)
			;
		if (k < i)
			continue; /* one pull per service */
		pthread_mutex_lock(&ir->mu);
		j = find_job(ir, l->id, r->service);
		pthread_mutex_unlock(&ir->mu);
		if (j != NULL)
			continue;
		if ((rc = new_job(ir, l, r->service,
		         json_object_get(svcs, r->service), &j)) < 0)
			break;
		pthread_mutex_lock(&ir->mu);
		if ((rc = lease_ids(ir, l->id, &base)) == 0) {
			j->id_base = base;
			for (tail = &ir->jobs; *tail != NULL;
			     tail = &(*tail)->next)
				;
			*tail = j;
			added = 1;
			j = NULL;
		}
		pthread_cond_broadcast(&ir->cv);
		pthread_mutex_unlock(&ir->mu);
		job_free(j);
		if (rc < 0)
			break;
	}
	if (added)
		log_info("lease %s: pulling its images", l->id);
	return rc;
}

int
image_run_attach(struct image_runner *ir, struct lease *l)
{
	struct job *j;
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&ir->mu);
	for (i = 0; i < l->nrep && rc == 0; i++) {
		struct lease_replica *r = &l->rep[i];
		if (!r->oci || r->oci_spec != NULL)
			continue;
		if ((j = find_job(ir, l->id, r->service)) == NULL)
			continue;
		if (j->state == JOB_READY) {
			atomic_fetch_add(&j->spec->refs, 1);
			r->oci_spec = j->spec;
		} else if (j->state == JOB_FAILED) {
			rc = err_set(ERR_REJECT, "service %s: image %s: %s",
			    r->service, j->ref_text, j->error);
			snprintf(r->last_error, sizeof(r->last_error), "%s",
			    err_msg());
		}
	}
	pthread_mutex_unlock(&ir->mu);
	return rc;
}

json_t *
image_run_status(struct image_runner *ir, const char *lease)
{
	json_t *o = NULL, *e;
	struct job *j;

	pthread_mutex_lock(&ir->mu);
	for (j = ir->jobs; j != NULL; j = j->next) {
		if (j->cancel || strcmp(j->lease, lease) != 0)
			continue;
		if (o == NULL && (o = json_object()) == NULL)
			break;
		e = json_pack("{s:s,s:s,s:I,s:I}", "reference", j->ref_text,
		    "state", state_names[j->state], "done", (json_int_t)j->done,
		    "total", (json_int_t)j->total);
		if (e != NULL && j->digest[0])
			json_object_set_new(e, "digest",
			    json_string(j->digest));
		if (e != NULL && j->error[0])
			json_object_set_new(e, "error", json_string(j->error));
		json_object_set_new(o, j->service, e);
	}
	pthread_mutex_unlock(&ir->mu);
	return o;
}

json_t *
image_run_digests(struct image_runner *ir, const char *lease)
{
	json_t *o = NULL;
	struct job *j;

	pthread_mutex_lock(&ir->mu);
	for (j = ir->jobs; j != NULL; j = j->next) {
		if (j->cancel || strcmp(j->lease, lease) != 0 ||
		    j->state != JOB_READY)
			continue;
		if (o == NULL && (o = json_object()) == NULL)
			break;
		json_object_set_new(o, j->service, json_string(j->digest));
	}
	pthread_mutex_unlock(&ir->mu);
	return o;
}

void
image_run_forget(struct image_runner *ir, const char *lease)
{
	struct job **pp, *j;
	size_t i;
	int any = 0;

	pthread_mutex_lock(&ir->mu);
	for (pp = &ir->jobs; (j = *pp) != NULL;) {
		if (strcmp(j->lease, lease) != 0) {
			pp = &j->next;
			continue;
		}
		any = 1;
		j->cancel = 1;
		if (j->state == JOB_PULLING) {
			pp = &j->next; /* the worker frees it */
			continue;
		}
		*pp = j->next;
		job_free(j);
	}
	for (i = 0; i < ir->n_slots; i++)
		if (strcmp(ir->slots[i], lease) == 0)
			ir->slots[i][0] = '\0';
	/* The worker collects: deleting trees is no work for the loop. */
	if (any) {
		ir->want_gc = 1;
		pthread_cond_broadcast(&ir->cv);
	}
	pthread_mutex_unlock(&ir->mu);
}
