/*
 * tool: run one of the host's system tools (ip, nft, mkfs.ext4) for the
 * sandbox's network and volume modules, optionally inside a network
 * namespace, with input on stdin and its output captured.
 */
#ifndef LODGE_SANDBOX_TOOL_H
#define LODGE_SANDBOX_TOOL_H

#include <stddef.h>

/* The absolute path of tool name in /usr/sbin, /usr/bin, /sbin or /bin
 * (the provider's PATH may lack the sbin directories) into buf.
 * ERR_NOTFOUND, naming the Debian package pkg, when it is missing. */
int tool_find(const char *name, const char *pkg, char *buf, size_t len);

/* Run argv (argv[0] an absolute path) with input (may be NULL) on its
 * stdin, in the network namespace netns_fd when it is >= 0, with
 * LC_ALL=C, killed after timeout_ms.  *out (may be NULL) receives its
 * stdout (malloc'd, NUL-terminated, owned by the caller).  It must exit
 * 0: otherwise ERR_IO with "<tool>: <first lines of its stderr>".  Safe
 * to call from a multi-threaded process (the child only calls
 * async-signal-safe functions before execve). */
int tool_run(const char *const *argv, const char *input, int netns_fd,
    int timeout_ms, char **out);

#endif
