/*
 * log: leveled logging to stderr for daemons and tools.  Libraries do not
 * log; they return errors (err.h).
 */
#ifndef LODGE_LOG_H
#define LODGE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

void log_set_level(enum log_level level);
/* Parse "debug|info|warn|error|off"; returns 0 or ERR_INVAL. */
int log_level_parse(const char *s, enum log_level *out);
/* Set the name printed after the timestamp ("market", "provider"). */
void log_set_name(const char *name);
/* Whether stderr is systemd-journald's stream ($JOURNAL_STREAM names its
 * device and inode): lines then carry a "<N>" syslog priority and no
 * time or name, which the journal records itself.  Decided once. */
int log_to_journal(void);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
