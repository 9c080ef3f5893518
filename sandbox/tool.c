/*
 * tool: fork + execve of a system tool with pipes for stdin, stdout and
 * stderr, a poll loop so a large input never deadlocks against a large
 * output, setns() into a network namespace in the child, and a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "sandbox/tool.h"

#define TOOL_OUT_MAX (4u << 20)
#define TOOL_ERR_MAX 2048

int
tool_find(const char *name, const char *pkg, char *buf, size_t len)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin",
		"/bin" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int n = snprintf(buf, len, "%s/%s", dirs[i], name);
		if (n < 0 || (size_t)n >= len)
			return err_set(ERR_LIMIT, "%s: path too long", name);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return err_set(ERR_NOTFOUND,
	    "%s: not found in /usr/sbin, /usr/bin, /sbin or /bin (install "
	    "the Debian package %s)",
	    name, pkg);
}

/* Between fork and execve: only async-signal-safe calls. */
static void __attribute__((noreturn))
child(const char *const *argv, int in, int out, int errfd, int netns_fd)
{
	static const char *const envp[] = {
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL
	};
	static const char msg[] = "setns into the network namespace failed\n";

	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) {
		if (write(errfd, msg, sizeof(msg) - 1) < 0)
			_exit(126);
		_exit(126);
	}
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(126);
#ifdef SYS_close_range
	syscall(SYS_close_range, 3u, ~0u, 0u);
#endif
	execve(argv[0], (char *const *)argv, (char *const *)envp);
	_exit(127);
}

/* Append what fd has to *buf (capped at max, the rest is read and
 * dropped); 1 at EOF, 0 otherwise, -1 on error. */
static int
drain(int fd, char **buf, size_t *n, size_t *cap, size_t max)
{
	char tmp[4096];
	ssize_t r = read(fd, tmp, sizeof(tmp));

	if (r < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (r == 0)
		return 1;
	if (*n + (size_t)r + 1 > *cap && *n < max) {
		size_t ncap = *cap ? *cap : 4096;
		char *nb;
		while (ncap < *n + (size_t)r + 1)
			ncap *= 2;
		if ((nb = realloc(*buf, ncap)) == NULL)
			return -1;
		*buf = nb;
		*cap = ncap;
	}
	if (*n < max) {
		memcpy(*buf + *n, tmp, (size_t)r);
		*n += (size_t)r;
		(*buf)[*n] = 0;
	}
	return 0;
}

/* The first lines of a tool's stderr, on one line, for a message. */
static void
one_line(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

int
tool_run(const char *const *argv, const char *input, int netns_fd,
    int timeout_ms, char **out)
{
	int in[2] = { -1, -1 }, po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	char *obuf = NULL, *ebuf = NULL;
	size_t on = 0, ocap = 0, en = 0, ecap = 0, ilen, ioff = 0;
	const char *tool =
	    strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int64_t deadline = util_now_ms() + timeout_ms;
	int rc, status = 0, killed = 0;
	pid_t pid;

	if (out)
		*out = NULL;
	ilen = input ? strlen(input) : 0;
	/* stdin is a socket so a tool that exits without reading all of it
	 * gives EPIPE (MSG_NOSIGNAL), not a SIGPIPE to the provider. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 ||
	    pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
		rc = err_set(ERR_IO, "%s: pipe: %s", tool, strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		rc = err_set(ERR_IO, "%s: fork: %s", tool, strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child(argv, in[0], po[1], pe[1], netns_fd);
	close(in[0]);
	close(po[1]);
	close(pe[1]);
	in[0] = po[1] = pe[1] = -1;
	if (ilen == 0) {
		close(in[1]);
		in[1] = -1;
	}
	while (po[0] >= 0 || pe[0] >= 0) {
		struct pollfd p[3];
		int np = 0, left = (int)(deadline - util_now_ms());
		if (left <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		if (in[1] >= 0)
			p[np++] =
			    (struct pollfd){ .fd = in[1], .events = POLLOUT };
		if (po[0] >= 0)
			p[np++] =
			    (struct pollfd){ .fd = po[0], .events = POLLIN };
		if (pe[0] >= 0)
			p[np++] =
			    (struct pollfd){ .fd = pe[0], .events = POLLIN };
		if (poll(p, (nfds_t)np, left) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < np; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == in[1]) {
				ssize_t w = send(in[1], input + ioff,
				    ilen - ioff, MSG_NOSIGNAL | MSG_DONTWAIT);
				if (w > 0)
					ioff += (size_t)w;
				if ((w < 0 && errno != EAGAIN &&
				        errno != EINTR) ||
				    ioff == ilen) {
					close(in[1]);
					in[1] = -1;
				}
			} else if (p[i].fd == po[0]) {
				if (drain(po[0], &obuf, &on, &ocap,
				        TOOL_OUT_MAX) != 0) {
					close(po[0]);
					po[0] = -1;
				}
			} else if (drain(pe[0], &ebuf, &en, &ecap,
			               TOOL_ERR_MAX) != 0) {
				close(pe[0]);
				pe[0] = -1;
			}
		}
	}
	/* Output closed; the deadline still holds for the exit itself. */
	for (;;) {
		pid_t w = waitpid(pid, &status, killed ? 0 : WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (w == 0 && util_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			killed = 1;
		} else if (w == 0) {
			usleep(1000);
		}
	}
	if (killed) {
		rc = err_set(ERR_IO, "%s: no answer within %d ms (killed)",
		    tool, timeout_ms);
		goto fail;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (ebuf)
			one_line(ebuf);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			rc = err_set(ERR_NOTFOUND, "%s: could not be executed",
			    argv[0]);
		else if (ebuf && *ebuf)
			rc = err_set(ERR_IO, "%s: %s", tool, ebuf);
		else
			rc = err_set(ERR_IO, "%s: exit status %d", tool,
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			                        128 + WTERMSIG(status));
		goto fail;
	}
	if (out) {
		if (obuf == NULL && (obuf = calloc(1, 1)) == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
		*out = obuf;
		obuf = NULL;
	}
	rc = 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	free(obuf);
	free(ebuf);
	return rc;
}
