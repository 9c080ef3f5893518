/*
 * log: one line per message on stderr, "2026-11-23T11:08:45.123Z name LEVEL msg";
 * under systemd-journald (stderr is the stream $JOURNAL_STREAM names),
 * "<PRIORITY>LEVEL msg": the journal adds the time and the name itself.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"

static enum log_level log_level = LOG_INFO;
static char log_name[32] = "lodge";

void
log_set_level(enum log_level level)
{
	log_level = level;
}

void
log_set_name(const char *name)
{
	snprintf(log_name, sizeof(log_name), "%s", name);
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const char *names[] = { "debug", "info", "warn", "error",
		"off" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return err_set(ERR_INVAL,
	    "log level '%s': expected debug, info, "
	    "warn, error or off",
	    s);
}

int
log_to_journal(void)
{
	static int cached = -1;
	const char *v;
	unsigned long long dev, ino;
	struct stat st;

	if (cached >= 0)
		return cached;
	cached = 0;
	/* "DEV:INO" of the journal's stream; only when stderr is it still
	 * (a redirected stderr of a child of the service is not). */
	if ((v = getenv("JOURNAL_STREAM")) != NULL &&
	    sscanf(v, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(fileno(stderr), &st) == 0 &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino)
		cached = 1;
	return cached;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *tags[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	/* syslog priorities: debug, info, warning, err */
	static const int prio[] = { 7, 6, 4, 3 };
	char line[2048], stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level < log_level || level >= LOG_OFF)
		return;
	if (log_to_journal()) {
		n = snprintf(line, sizeof(line), "<%d>%s ", prio[level],
		    tags[level]);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s ", stamp,
		    ts.tv_nsec / 1000000, log_name, tags[level]);
	}
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One record, one line: what a message carries from outside (a
	 * tenant's exec command, a host name) cannot start a forged line
	 * (nor, to the journal, a "<N>" priority) or drive a terminal. */
	for (char *c = line + (n > 0 ? n : 0); *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
		else if ((unsigned char)*c < 0x20 && *c != '\t')
			*c = '?';
		else if (*c == 0x7f)
			*c = '?';
	/* one write per line, so lines of concurrent threads don't mix */
	fprintf(stderr, "%s\n", line);
}
