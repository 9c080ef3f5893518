/*
 * events: a lease's events file at the provider (see events.h): one
 * append of one line per event, so concurrent writers never mix lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "common/util.h"
#include "provider/events.h"

int
provider_event(const char *lease_dir, const char *kind, const char *service,
    const char *replica, int exit_code, const char *fmt, ...)
{
	char path[PATH_MAX], detail[1024], *line = NULL;
	json_t *ev;
	struct stat st;
	va_list ap;
	size_t len;
	ssize_t w;
	int fd, rc = 0;

	if (lease_dir == NULL || lease_dir[0] == '\0')
		return err_set(ERR_INVAL, "event %s: no lease directory", kind);
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	ev = json_pack("{s:I,s:s,s:s}", "time", (json_int_t)util_now_ms(),
	    "kind", kind, "detail", detail);
	if (ev != NULL && service != NULL)
		json_object_set_new(ev, "service", json_string(service));
	if (ev != NULL && replica != NULL)
		json_object_set_new(ev, "replica", json_string(replica));
	if (ev != NULL && exit_code != PROVIDER_EVENT_NO_EXIT)
		json_object_set_new(ev, "exit", json_integer(exit_code));
	if (ev == NULL ||
	    (line = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		json_decref(ev);
		return err_set(ERR_NOMEM, "out of memory");
	}
	json_decref(ev);
	len = strlen(line);
	line[len++] = '\n'; /* over the NUL: written by length */
	snprintf(path, sizeof(path), "%.3900s/" PROVIDER_EVENTS_FILE,
	    lease_dir);
	if ((rc = util_mkdirs(lease_dir, 0750)) < 0)
		goto out;
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) <
	    0) {
		rc = err_set(ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == 0 &&
	    (size_t)st.st_size + len > PROVIDER_EVENTS_MAX)
		rc = err_set(ERR_LIMIT, "%s: full", path);
	else if ((w = write(fd, line, len)) < 0 || (size_t)w != len)
		rc = err_set(ERR_IO, "%s: %s", path,
		    w < 0 ? strerror(errno) : "short write");
	close(fd);
out:
	free(line);
	return rc;
}
