/*
 * cgroup: a lease's control group on cgroup v2 or v1 (see cgroup.h).
 * Kernel interface: Documentation/admin-guide/cgroup-v2.rst and
 * Documentation/admin-guide/cgroup-v1/{memory,pids}.rst, sched-bwc.rst.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "sandbox/cgroup.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* v1 hierarchies we use, in attach order. */
enum { V1_CPU, V1_CPUACCT, V1_MEMORY, V1_PIDS, V1_COUNT };
static const char *const v1_names[V1_COUNT] = { "cpu", "cpuacct", "memory",
	"pids" };

struct cgroup {
	enum cgroup_mode mode;
	/* v2: dirs[0]; v1: dirs[V1_*], NULL where the hierarchy is absent
	 * or shared with an earlier one (cpu,cpuacct mounted together). */
	char *dirs[V1_COUNT];
};

/* ---- small file helpers ---- */

static int
write_str(const char *dir, const char *file, const char *val)
{
	char path[4096];
	ssize_t n;
	int fd, saved;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	saved = errno;
	close(fd);
	if (n < 0)
		return -saved;
	return 0;
}

/* Write or fail with a message naming the file. */
static int
write_must(const char *dir, const char *file, const char *val)
{
	int rc = write_str(dir, file, val);

	if (rc < 0)
		return err_set(ERR_IO, "%s/%s: writing \"%s\": %s", dir, file,
		    val, strerror(-rc));
	return 0;
}

static int
read_str(const char *dir, const char *file, char *buf, size_t len)
{
	char path[4096];
	ssize_t n;
	size_t got = 0;
	int fd, saved;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	while (got + 1 < len) {
		n = read(fd, buf + got, len - got - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			close(fd);
			return -saved;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	return 0;
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
mkdir_p(const char *path)
{
	char tmp[4096];
	size_t i, n = strlen(path);

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* the parent is there but at the first start: one path walk, not
	 * one a component (each a kernfs lookup under its lock) */
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = path[i];
	}
	return 0;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- pure helpers ---- */

int
cgroup_parse_value(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	while (*text == ' ' || *text == '\t')
		text++;
	if (strncmp(text, "max", 3) == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	if (*text < '0' || *text > '9')
		return err_set(ERR_INVAL,
		    "cgroup value \"%.32s\" is not a "
		    "number",
		    text);
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0)
		return err_set(ERR_RANGE, "cgroup value \"%.32s\" out of range",
		    text);
	if (*end != '\0' && *end != '\n' && *end != ' ')
		return err_set(ERR_INVAL,
		    "cgroup value \"%.32s\" has trailing "
		    "garbage",
		    text);
	*out = (uint64_t)v;
	return 0;
}

int
cgroup_parse_keyed(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
			return cgroup_parse_value(p + klen + 1, out);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return err_set(ERR_NOTFOUND, "no \"%s\" line", key);
}

int
cgroup_has_controller(const char *controllers, const char *controller)
{
	size_t n = strlen(controller);
	const char *p = controllers;

	while ((p = strstr(p, controller)) != NULL) {
		int start = p == controllers || p[-1] == ' ';
		int stop = p[n] == '\0' || p[n] == ' ' || p[n] == '\n';
		if (start && stop)
			return 1;
		p += n;
	}
	return 0;
}

void
cgroup_format_cpu_max(uint64_t cpu_millis, char *buf, size_t len)
{
	uint64_t quota;

	if (cpu_millis == 0) {
		snprintf(buf, len, "max %u", CGROUP_CPU_PERIOD_US);
		return;
	}
	quota = cpu_millis * (CGROUP_CPU_PERIOD_US / 1000u);
	if (quota < 1000)
		quota = 1000; /* the kernel's minimum quota is 1 ms */
	snprintf(buf, len, "%" PRIu64 " %u", quota, CGROUP_CPU_PERIOD_US);
}

int
cgroup_check_name(const char *name, const char *what)
{
	const char *p;

	if (name == NULL || name[0] == '\0')
		return err_set(ERR_INVAL, "%s: empty", what);
	if (strlen(name) > 200)
		return err_set(ERR_INVAL, "%s: longer than 200 characters",
		    what);
	if (name[0] == '/' || strstr(name, "..") != NULL)
		return err_set(ERR_INVAL,
		    "%s \"%s\": must be a relative path "
		    "without \"..\"",
		    what, name);
	for (p = name; *p != '\0'; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		        c == '.' || c == '/'))
			return err_set(ERR_INVAL,
			    "%s \"%s\": character %ld is "
			    "not one of [A-Za-z0-9._/-]",
			    what, name, (long)(p - name) + 1);
	}
	return 0;
}

const char *
cgroup_mode_name(enum cgroup_mode mode)
{
	switch (mode) {
	case CGROUP_V2:
		return "cgroup2";
	case CGROUP_V1:
		return "cgroup1";
	case CGROUP_NONE:
		return "rusage";
	default:
		return "auto";
	}
}

int
cgroup_mode_parse(const char *s, const char *what, enum cgroup_mode *out)
{
	static const struct {
		const char *name;
		enum cgroup_mode mode;
	} modes[] = {
		{ "auto", CGROUP_AUTO },
		{ "v2", CGROUP_V2 },
		{ "v1", CGROUP_V1 },
		{ "none", CGROUP_NONE },
	};
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(s, modes[i].name) == 0) {
			*out = modes[i].mode;
			return 0;
		}
	return err_set(ERR_INVAL, "%s: \"%s\" is not one of auto, v2, v1, none",
	    what, s);
}

enum cgroup_mode
cgroup_mode(const struct cgroup *cg)
{
	return cg->mode;
}

const char *
cgroup_path(const struct cgroup *cg)
{
	if (cg->mode == CGROUP_V2)
		return cg->dirs[0];
	if (cg->mode == CGROUP_V1)
		return cg->dirs[V1_MEMORY] ? cg->dirs[V1_MEMORY] :
		                             cg->dirs[V1_PIDS];
	return NULL;
}

/* ---- the attach stall ---- */

int
cgroup_mount_superopts(const char *mountinfo, const char *mount_point,
    const char *fstype, char *opts, size_t len)
{
	const char *line = mountinfo, *eol;
	size_t mpl = strlen(mount_point), fl = strlen(fstype);
	int found = 0;

	/* "ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTS [TAGS...] - FSTYPE
	 * SOURCE SUPER_OPTS" (proc(5)); the last match is the one on top. */
	for (; *line; line = *eol ? eol + 1 : eol) {
		const char *f = line, *dash;
		int i;

		eol = line + strcspn(line, "\n");
		for (i = 0; i < 4 && f < eol; i++)
			f += strcspn(f, " ") + 1;
		if (f >= eol || (size_t)(eol - f) <= mpl ||
		    strncmp(f, mount_point, mpl) != 0 || f[mpl] != ' ')
			continue;
		if ((dash = strstr(f, " - ")) == NULL || dash > eol)
			continue;
		f = dash + 3;
		if ((size_t)(eol - f) <= fl || strncmp(f, fstype, fl) != 0 ||
		    f[fl] != ' ')
			continue;
		f += fl + 1;
		f += strcspn(f, " ") + 1; /* the source */
		if (f > eol)
			continue;
		snprintf(opts, len, "%.*s", (int)(eol - f), f);
		found = 1;
	}
	return found ?
	    0 :
	    err_set(ERR_NOTFOUND, "no %s mounted at %s", fstype, mount_point);
}

int
cgroup_has_option(const char *opts, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = opts;;) {
		size_t k = strcspn(p, ",");
		if (k == n && strncmp(p, opt, n) == 0)
			return 1;
		if (p[k] == '\0')
			return 0;
		p += k + 1;
	}
}

/* Moving a process into a cgroup (cgroup.procs) takes the kernel's
 * threadgroup lock for writing, and its first writer after a quiet spell
 * waits for an RCU grace period: 7-15 ms per sandbox start here.  With
 * favordynmods on the cgroup2 mount (Linux >= 6.0; a property of the
 * whole kernel, so it serves the v1 hierarchies as well) that lock stays
 * in the mode where writers do not wait, at a small cost to fork and exit
 * (Documentation/admin-guide/cgroup-v2.rst, "favordynmods").  The option
 * is added by reconfiguring the mount with the options it has (fspick,
 * fsconfig: the mount's own flags are left alone).  Best effort, once
 * per process: without root, a cgroup2 mount or the option, starts keep
 * the stall. */
static void
favor_dynmods(const char *v2_root)
{
	static int tried;
	char *mi = NULL, opts[512], *tok, *save;
	size_t len;
	int fd = -1;

	if (tried || v2_root == NULL)
		return;
	tried = 1;
	if (util_read_file("/proc/self/mountinfo", 1u << 20, &mi, &len) < 0 ||
	    cgroup_mount_superopts(mi, v2_root, "cgroup2", opts, sizeof(opts)) <
	        0 ||
	    cgroup_has_option(opts, "favordynmods"))
		goto out;
	if ((fd = fspick(AT_FDCWD, v2_root,
	         FSPICK_CLOEXEC | FSPICK_NO_AUTOMOUNT)) < 0)
		goto out;
	for (tok = strtok_r(opts, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, "rw") != 0 && strcmp(tok, "ro") != 0 &&
		    fsconfig(fd, FSCONFIG_SET_FLAG, tok, NULL, 0) < 0)
			goto out; /* an option we cannot carry over */
	if (fsconfig(fd, FSCONFIG_SET_FLAG, "favordynmods", NULL, 0) == 0)
		(void)fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0);
out:
	if (fd >= 0)
		close(fd);
	err_clear();
	free(mi);
}

/* ---- v2 ---- */

static const char *
v2_default_root(void)
{
	struct statfs sf;

	if (statfs("/sys/fs/cgroup", &sf) == 0 &&
	    (unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC)
		return "/sys/fs/cgroup";
	if (statfs("/sys/fs/cgroup/unified", &sf) == 0 &&
	    (unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC)
		return "/sys/fs/cgroup/unified";
	return NULL;
}

/* Enable the wanted controllers down the chain root/parent...; creates the
 * parent directories. */
static int
v2_prepare_parent(const char *root, const char *parent, const char *enable)
{
	char dir[4096], comp[4096];
	const char *p = parent;
	int rc;

	snprintf(dir, sizeof(dir), "%s", root);
	for (;;) {
		if (enable[0] != '\0' &&
		    (rc = write_str(dir, "cgroup.subtree_control", enable)) < 0)
			return err_set(ERR_IO,
			    "%s/cgroup.subtree_control: "
			    "enabling \"%s\": %s",
			    dir, enable, strerror(-rc));
		if (p == NULL || *p == '\0')
			return 0;
		size_t n = strcspn(p, "/");
		snprintf(comp, sizeof(comp), "%.*s", (int)n, p);
		p += n;
		while (*p == '/')
			p++;
		if (strlen(dir) + n + 2 >= sizeof(dir))
			return err_set(ERR_INVAL, "cgroup path too long");
		strcat(dir, "/");
		strcat(dir, comp);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return err_set(ERR_IO, "%s: %s", dir, strerror(errno));
	}
}

static int
v2_set_limit(const char *dir, const char *file, uint64_t value,
    const char *what)
{
	char val[64];
	int rc;

	if (value == 0) {
		rc = write_str(dir, file, "max");
		if (rc < 0 && rc != -ENOENT)
			return err_set(ERR_IO, "%s/%s: %s", dir, file,
			    strerror(-rc));
		return 0;
	}
	snprintf(val, sizeof(val), "%" PRIu64, value);
	if ((rc = write_str(dir, file, val)) == -ENOENT)
		return err_set(ERR_REJECT,
		    "%s: no %s controller enabled "
		    "(%s missing)",
		    dir, what, file);
	if (rc < 0)
		return err_set(ERR_IO, "%s/%s: writing \"%s\": %s", dir, file,
		    val, strerror(-rc));
	return 0;
}

static int
v2_new(const struct cgroup_config *cfg, const char *parent, const char *name,
    const struct cgroup_limits *lim, int strict, struct cgroup *cg)
{
	const char *root = cfg->v2_root ? cfg->v2_root : v2_default_root();
	char ctl[512], enable[64] = "", dir[4096], val[64];
	static const char *const ctls[] = { "cpu", "memory", "pids" };
	uint64_t want[3];
	size_t i;
	int rc;

	if (root == NULL || !is_dir(root))
		return err_set(ERR_NOTFOUND, "no cgroup2 hierarchy mounted");
	if ((rc = read_str(root, "cgroup.controllers", ctl, sizeof(ctl))) < 0)
		return err_set(ERR_IO, "%s/cgroup.controllers: %s", root,
		    strerror(-rc));
	want[0] = lim->cpu_millis;
	want[1] = lim->memory_bytes;
	want[2] = lim->pids_max;
	for (i = 0; i < 3; i++) {
		if (cgroup_has_controller(ctl, ctls[i])) {
			strcat(enable, enable[0] ? " +" : "+");
			strcat(enable, ctls[i]);
		} else if (strict || want[i] != 0) {
			return err_set(ERR_REJECT,
			    "%s: the %s controller is not "
			    "available in cgroup v2 (cgroup.controllers: "
			    "\"%.*s\")",
			    root, ctls[i], (int)strcspn(ctl, "\n"), ctl);
		}
	}
	if ((rc = v2_prepare_parent(root, parent, enable)) < 0)
		return rc;
	if (snprintf(dir, sizeof(dir), "%s/%s/%s", root, parent, name) >=
	    (int)sizeof(dir))
		return err_set(ERR_INVAL, "cgroup path too long");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return err_set(ERR_IO, "%s: %s", dir, strerror(errno));
	if ((cg->dirs[0] = strdup(dir)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	cgroup_format_cpu_max(lim->cpu_millis, val, sizeof(val));
	if (lim->cpu_millis == 0) {
		if ((rc = write_str(dir, "cpu.max", val)) < 0 && rc != -ENOENT)
			return err_set(ERR_IO, "%s/cpu.max: %s", dir,
			    strerror(-rc));
	} else if ((rc = write_str(dir, "cpu.max", val)) < 0) {
		return err_set(rc == -ENOENT ? ERR_REJECT : ERR_IO,
		    "%s/cpu.max: writing \"%s\": %s", dir, val, strerror(-rc));
	}
	if ((rc = v2_set_limit(dir, "memory.max", lim->memory_bytes,
	         "memory")) < 0)
		return rc;
	/* No swap for a lease, so memory.max is the whole story. */
	if (lim->memory_bytes != 0 &&
	    (rc = write_str(dir, "memory.swap.max", "0")) < 0 && rc != -ENOENT)
		return err_set(ERR_IO, "%s/memory.swap.max: %s", dir,
		    strerror(-rc));
	return v2_set_limit(dir, "pids.max", lim->pids_max, "pids");
}

/* ---- v1 ---- */

static int
v1_new(const struct cgroup_config *cfg, const char *parent, const char *name,
    const struct cgroup_limits *lim, int strict, struct cgroup *cg)
{
	const char *root = cfg->v1_root ? cfg->v1_root : "/sys/fs/cgroup";
	char hier[V1_COUNT][4096], real[V1_COUNT][4096], dir[4096], val[64];
	int have[V1_COUNT], i, j, rc;

	for (i = 0; i < V1_COUNT; i++) {
		if (snprintf(hier[i], sizeof(hier[i]), "%s/%s", root,
		        v1_names[i]) >= (int)sizeof(hier[i]))
			return err_set(ERR_INVAL, "cgroup path too long");
		have[i] = is_dir(hier[i]) && realpath(hier[i], real[i]) != NULL;
		if (!have[i] &&
		    (strict || (i == V1_CPU && lim->cpu_millis) ||
		        (i == V1_MEMORY && lim->memory_bytes) ||
		        (i == V1_PIDS && lim->pids_max)))
			return err_set(ERR_REJECT,
			    "%s: no cgroup v1 %s "
			    "hierarchy",
			    hier[i], v1_names[i]);
		/* cpu and cpuacct are often one hierarchy "cpu,cpuacct". */
		for (j = 0; have[i] && j < i; j++)
			if (have[j] && strcmp(real[i], real[j]) == 0)
				have[i] = 0;
	}
	if (!have[V1_MEMORY] && !have[V1_PIDS] && !have[V1_CPU])
		return err_set(ERR_NOTFOUND, "no cgroup v1 hierarchy under %s",
		    root);
	for (i = 0; i < V1_COUNT; i++) {
		if (!have[i])
			continue;
		if (snprintf(dir, sizeof(dir), "%s/%s/%s", real[i], parent,
		        name) >= (int)sizeof(dir))
			return err_set(ERR_INVAL, "cgroup path too long");
		if ((rc = mkdir_p(dir)) < 0)
			return err_set(ERR_IO, "%s: %s", dir, strerror(-rc));
		if ((cg->dirs[i] = strdup(dir)) == NULL)
			return err_set(ERR_NOMEM, "out of memory");
	}
	if (cg->dirs[V1_CPU] != NULL) {
		const char *d = cg->dirs[V1_CPU];
		snprintf(val, sizeof(val), "%u", CGROUP_CPU_PERIOD_US);
		if ((rc = write_must(d, "cpu.cfs_period_us", val)) < 0)
			return rc;
		if (lim->cpu_millis == 0) {
			snprintf(val, sizeof(val), "-1");
		} else {
			uint64_t q =
			    lim->cpu_millis * (CGROUP_CPU_PERIOD_US / 1000u);
			snprintf(val, sizeof(val), "%" PRIu64,
			    q < 1000 ? 1000 : q);
		}
		if ((rc = write_must(d, "cpu.cfs_quota_us", val)) < 0)
			return rc;
	}
	if (cg->dirs[V1_MEMORY] != NULL) {
		const char *d = cg->dirs[V1_MEMORY];
		if (lim->memory_bytes == 0)
			snprintf(val, sizeof(val), "-1");
		else
			snprintf(val, sizeof(val), "%" PRIu64,
			    lim->memory_bytes);
		/* memsw must stay >= the memory limit: raise it first when
		 * lifting, lower it second when capping. */
		if (lim->memory_bytes == 0)
			(void)write_str(d, "memory.memsw.limit_in_bytes", val);
		if ((rc = write_must(d, "memory.limit_in_bytes", val)) < 0)
			return rc;
		if (lim->memory_bytes != 0 &&
		    (rc = write_str(d, "memory.memsw.limit_in_bytes", val)) <
		        0 &&
		    rc != -ENOENT)
			return err_set(ERR_IO,
			    "%s/memory.memsw.limit_in_bytes: "
			    "%s",
			    d, strerror(-rc));
		/* A reused cgroup starts its peak afresh. */
		(void)write_str(d, "memory.max_usage_in_bytes", "0");
	}
	if (cg->dirs[V1_PIDS] != NULL) {
		if (lim->pids_max == 0)
			snprintf(val, sizeof(val), "max");
		else
			snprintf(val, sizeof(val), "%" PRIu64, lim->pids_max);
		if ((rc = write_must(cg->dirs[V1_PIDS], "pids.max", val)) < 0)
			return rc;
	}
	return 0;
}

/* ---- public ---- */

static void
release_dirs(struct cgroup *cg)
{
	int i;

	for (i = 0; i < V1_COUNT; i++) {
		free(cg->dirs[i]);
		cg->dirs[i] = NULL;
	}
}

static void
remove_dirs(struct cgroup *cg)
{
	int i, tries;

	for (i = 0; i < V1_COUNT; i++) {
		if (cg->dirs[i] == NULL)
			continue;
		/* Freshly killed tasks leave the cgroup asynchronously. */
		for (tries = 0; tries < 200; tries++) {
			if (rmdir(cg->dirs[i]) == 0 || errno != EBUSY)
				break;
			sleep_ms(5);
		}
	}
}

int
cgroup_new(const struct cgroup_config *cfg, const char *parent,
    const char *name, const struct cgroup_limits *lim, struct cgroup **out,
    char **why_not)
{
	struct cgroup *cg;
	char note[1200] = "";
	enum cgroup_mode mode = cfg->mode;
	int rc;

	*out = NULL;
	if (why_not != NULL)
		*why_not = NULL;
	if ((rc = cgroup_check_name(parent, "cgroup parent")) < 0 ||
	    (rc = cgroup_check_name(name, "cgroup name")) < 0)
		return rc;
	if (strchr(name, '/') != NULL)
		return err_set(ERR_INVAL,
		    "cgroup name \"%s\": must not "
		    "contain '/'",
		    name);
	if ((cg = calloc(1, sizeof(*cg))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");

	/* On the host's hierarchies only (tests use directories). */
	if (mode != CGROUP_NONE && cfg->v2_root == NULL && cfg->v1_root == NULL)
		favor_dynmods(v2_default_root());
	if (mode == CGROUP_AUTO || mode == CGROUP_V2) {
		rc = v2_new(cfg, parent, name, lim, mode == CGROUP_AUTO, cg);
		if (rc == 0) {
			cg->mode = CGROUP_V2;
			goto done;
		}
		remove_dirs(cg);
		release_dirs(cg);
		if (mode == CGROUP_V2)
			goto fail;
		snprintf(note, sizeof(note), "v2: %s", err_msg());
	}
	if (mode == CGROUP_AUTO || mode == CGROUP_V1) {
		rc = v1_new(cfg, parent, name, lim, mode == CGROUP_AUTO, cg);
		if (rc == 0) {
			cg->mode = CGROUP_V1;
			goto done;
		}
		remove_dirs(cg);
		release_dirs(cg);
		if (mode == CGROUP_V1)
			goto fail;
		size_t n = strlen(note);
		snprintf(note + n, sizeof(note) - n, "%sv1: %s", n ? "; " : "",
		    err_msg());
	}
	cg->mode = CGROUP_NONE;
done:
	if (why_not != NULL && note[0] != '\0' &&
	    (*why_not = strdup(note)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	*out = cg;
	return 0;
fail:
	cgroup_free(cg);
	return rc;
}

int
cgroup_attach(struct cgroup *cg, pid_t pid)
{
	char val[32];
	int i, rc;

	snprintf(val, sizeof(val), "%ld", (long)pid);
	for (i = 0; i < V1_COUNT; i++) {
		if (cg->dirs[i] == NULL)
			continue;
		if ((rc = write_must(cg->dirs[i], "cgroup.procs", val)) < 0)
			return rc;
	}
	return 0;
}

/* Read one keyed counter or a plain value; absent files read as 0. */
static void
read_counter(const char *dir, const char *file, const char *key, uint64_t scale,
    uint64_t *out)
{
	struct err_saved saved;
	char buf[4096];
	uint64_t v = 0;
	int rc;

	*out = 0;
	if (dir == NULL || read_str(dir, file, buf, sizeof(buf)) < 0)
		return;
	/* A counter that does not parse reads as 0; its message must not
	 * replace the caller's (this runs while a failed start unwinds). */
	err_save(&saved);
	rc = key ? cgroup_parse_keyed(buf, key, &v) :
	           cgroup_parse_value(buf, &v);
	err_restore(&saved);
	if (rc < 0)
		return;
	*out = v == UINT64_MAX ? v : v / scale;
}

int
cgroup_read_usage(const struct cgroup *cg, struct cgroup_usage *out)
{
	memset(out, 0, sizeof(*out));
	if (cg->mode == CGROUP_V2) {
		const char *d = cg->dirs[0];
		read_counter(d, "cpu.stat", "usage_usec", 1, &out->cpu_usec);
		read_counter(d, "memory.peak", NULL, 1, &out->mem_peak_bytes);
		read_counter(d, "memory.events", "oom_kill", 1,
		    &out->oom_kills);
		read_counter(d, "pids.peak", NULL, 1, &out->pids_peak);
	} else if (cg->mode == CGROUP_V1) {
		const char *acct = cg->dirs[V1_CPUACCT] ? cg->dirs[V1_CPUACCT] :
		                                          cg->dirs[V1_CPU];
		read_counter(acct, "cpuacct.usage", NULL, 1000, &out->cpu_usec);
		read_counter(cg->dirs[V1_MEMORY], "memory.max_usage_in_bytes",
		    NULL, 1, &out->mem_peak_bytes);
		read_counter(cg->dirs[V1_MEMORY], "memory.oom_control",
		    "oom_kill", 1, &out->oom_kills);
		read_counter(cg->dirs[V1_PIDS], "pids.peak", NULL, 1,
		    &out->pids_peak);
	}
	return 0;
}

/* SIGKILL every pid listed in dir/cgroup.procs; returns how many were
 * listed. */
static int
kill_listed(const char *dir)
{
	char buf[65536], *p, *end;
	int n = 0;

	if (read_str(dir, "cgroup.procs", buf, sizeof(buf)) < 0)
		return 0;
	for (p = buf; *p != '\0'; p = end) {
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 0) {
			kill((pid_t)pid, SIGKILL);
			n++;
		}
		while (*end == '\n')
			end++;
	}
	return n;
}

int
cgroup_kill_all(struct cgroup *cg, int timeout_ms)
{
	int i, left, waited = 0;

	if (cg->mode == CGROUP_NONE)
		return 0;
	if (cg->mode == CGROUP_V2)
		(void)write_str(cg->dirs[0], "cgroup.kill", "1");
	for (;;) {
		left = 0;
		for (i = 0; i < V1_COUNT; i++)
			if (cg->dirs[i] != NULL)
				left += kill_listed(cg->dirs[i]);
		if (left == 0)
			return 0;
		if (waited >= timeout_ms)
			return err_set(ERR_IO,
			    "%s: %d processes still there "
			    "after %d ms",
			    cgroup_path(cg), left, timeout_ms);
		sleep_ms(2);
		waited += 2;
	}
}

void
cgroup_free(struct cgroup *cg)
{
	struct err_saved saved;

	if (cg == NULL)
		return;
	/* Best effort, and silent: the caller may be unwinding a failure
	 * whose message must survive. */
	err_save(&saved);
	if (cg->mode != CGROUP_NONE && cg->mode != CGROUP_AUTO) {
		(void)cgroup_kill_all(cg, 2000);
		remove_dirs(cg);
	}
	release_dirs(cg);
	free(cg);
	err_restore(&saved);
}

void
cgroup_release(struct cgroup *cg)
{
	if (cg == NULL)
		return;
	release_dirs(cg);
	free(cg);
}
