/*
 * hostile: the bad clients of the end-to-end tests (test_slowloris.sh,
 * test_blob_flood.sh), built by them with cc; and the probe that measures
 * what a good client sees meanwhile.
 *   hostile slowloris PORT N SECONDS INTERVAL_MS FROM...
 *       keep N connections open from the FROM addresses in turn, each
 *       sending one byte of a request head every INTERVAL_MS, opening a
 *       new one when the server closes one; prints a status line a second
 *   hostile probe PORT COUNT PATH
 *       COUNT requests one after the other, each on a new connection;
 *       prints failures and latency percentiles
 *   hostile slowbody PORT PATH LEN INTERVAL_MS
 *       a complete head announcing LEN bytes, then one byte of body every
 *       INTERVAL_MS; prints the status the server answered and when
 *   hostile bigput PORT N LEN PATH
 *       N connections at once each PUT LEN bytes (announced) and send
 *       LEN - 1 of them as fast as they can; prints the statuses
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint16_t port;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
more_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* A socket connecting to 127.0.0.1:port from `from` (NULL: any);
 * nonblocking unless block. */
static int
dial(const char *from, int block)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | (block ? 0 : SOCK_NONBLOCK), 0);
	int one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (from) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		if (inet_pton(AF_INET, from, &sin.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			close(fd);
			return -1;
		}
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- slowloris ---- */

static const char slow_head[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ";

struct slow {
	int fd;
	size_t sent;
	uint64_t next;
};

static int
slowloris(int argc, char **argv)
{
	int n = atoi(argv[0]), secs = atoi(argv[1]), interval = atoi(argv[2]);
	char **from = argv + 3;
	int nfrom = argc - 3, k = 0, i, open = 0, max_open = 0;
	unsigned long opened = 0, got408 = 0, refused = 0, closed = 0;
	struct slow *c = calloc((size_t)n, sizeof(*c));
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	uint64_t t0 = now_ms(), next_print = t0 + 1000, now;

	if (n <= 0 || nfrom <= 0 || c == NULL || p == NULL)
		return 2;
	for (i = 0; i < n; i++)
		c[i].fd = -1;
	while ((now = now_ms()) < t0 + (uint64_t)secs * 1000) {
		int opens = 0;
		for (i = 0; i < n; i++) {
			if (c[i].fd < 0 && opens < 400) {
				c[i].fd = dial(from[k++ % nfrom], 0);
				c[i].sent = 0;
				/* spread the first bytes over the interval */
				c[i].next = now + (uint64_t)(rand() % interval);
				opens++;
				if (c[i].fd >= 0) {
					opened++;
					open++;
				}
			}
			p[i].fd = c[i].fd;
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		if (open > max_open)
			max_open = open;
		(void)poll(p, (nfds_t)n, 50);
		now = now_ms();
		for (i = 0; i < n; i++) {
			if (c[i].fd < 0)
				continue;
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				char buf[512];
				ssize_t r =
				    recv(c[i].fd, buf, sizeof(buf) - 1, 0);
				if (r > 0) {
					buf[r] = '\0';
					if (strstr(buf, " 408 "))
						got408++;
					else if (strstr(buf, " 503 "))
						refused++;
				}
				closed++;
				close(c[i].fd);
				c[i].fd = -1;
				open--;
				continue;
			}
			if (now >= c[i].next) {
				char b = c[i].sent < sizeof(slow_head) - 1 ?
				    slow_head[c[i].sent] :
				    'a';
				if (send(c[i].fd, &b, 1, MSG_NOSIGNAL) == 1)
					c[i].sent++;
				c[i].next = now + (uint64_t)interval;
			}
		}
		if (now >= next_print) {
			printf(
			    "t=%llu open=%d max_open=%d opened=%lu closed=%lu "
			    "got408=%lu refused=%lu\n",
			    (unsigned long long)(now - t0) / 1000, open,
			    max_open, opened, closed, got408, refused);
			fflush(stdout);
			next_print += 1000;
		}
	}
	printf("end open=%d max_open=%d opened=%lu closed=%lu got408=%lu "
	       "refused=%lu\n",
	    open, max_open, opened, closed, got408, refused);
	return 0;
}

/* ---- probe ---- */

/* One request on a new connection; its status, or -1. */
static int
request_once(const char *req, int timeout_ms)
{
	char buf[4096];
	size_t have = 0;
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	int fd = dial(NULL, 0), status = -1;

	if (fd < 0)
		return -1;
	for (size_t off = 0; off < strlen(req);) {
		struct pollfd p = { fd, POLLOUT, 0 };
		ssize_t w;
		if (poll(&p, 1, timeout_ms) <= 0)
			goto out;
		if ((w = send(fd, req + off, strlen(req) - off, MSG_NOSIGNAL)) <
		    0) {
			if (errno == EAGAIN)
				continue;
			goto out;
		}
		off += (size_t)w;
	}
	while (now_ms() < end && have < sizeof(buf) - 1) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;
		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			break;
		if ((r = recv(fd, buf + have, sizeof(buf) - 1 - have, 0)) <= 0)
			break;
		have += (size_t)r;
		buf[have] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	buf[have] = '\0';
	if (have > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0)
		status = atoi(buf + 9);
out:
	close(fd);
	return status;
}

static int
cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
probe(char **argv)
{
	int n = atoi(argv[0]), failed = 0, i;
	uint64_t *lat = calloc((size_t)n, sizeof(uint64_t));
	char req[512];

	if (n <= 0 || lat == NULL)
		return 2;
	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", argv[1]);
	for (i = 0; i < n; i++) {
		uint64_t t = now_ms();
		if (request_once(req, 5000) != 200)
			failed++;
		lat[i] = now_ms() - t;
	}
	qsort(lat, (size_t)n, sizeof(uint64_t), cmp);
	printf("n=%d failed=%d p50=%llu p99=%llu max=%llu\n", n, failed,
	    (unsigned long long)lat[n / 2],
	    (unsigned long long)lat[(n * 99) / 100],
	    (unsigned long long)lat[n - 1]);
	return 0;
}

/* ---- slow body ---- */

static int
slowbody(char **argv)
{
	const char *path = argv[0];
	long len = atol(argv[1]);
	int interval = atoi(argv[2]), fd = dial(NULL, 1), status = -1;
	char head[512], buf[1024];
	uint64_t t0 = now_ms();
	long sent = 0;
	int n;

	if (fd < 0)
		return 2;
	n = snprintf(head, sizeof(head),
	    "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %ld\r\n\r\n", path,
	    len);
	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) != n)
		return 2;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, interval) > 0) {
			ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);
			if (r > 12) {
				buf[r] = '\0';
				status = atoi(buf + 9);
			}
			break;
		}
		if (sent < len - 1 && send(fd, "x", 1, MSG_NOSIGNAL) == 1)
			sent++;
	}
	printf("status=%d ms=%llu sent=%ld\n", status,
	    (unsigned long long)(now_ms() - t0), sent);
	close(fd);
	return 0;
}

/* ---- big PUTs ---- */

struct put {
	long len;
	const char *path;
	int status;
	long sent;
};

static void *
put_main(void *arg)
{
	struct put *u = arg;
	static char chunk[65536];
	char head[512], buf[1024];
	int fd = dial(NULL, 0), n;
	size_t hoff = 0;

	u->status = -1;
	if (fd < 0)
		return NULL;
	n = snprintf(head, sizeof(head),
	    "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %ld\r\n\r\n",
	    u->path, u->len);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t w;
		if (hoff < (size_t)n || u->sent < u->len - 1)
			p.events |= POLLOUT;
		if (poll(&p, 1, 30000) <= 0)
			break;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);
			if (r > 12) {
				buf[r] = '\0';
				u->status = atoi(buf + 9);
			}
			break;
		}
		if (hoff < (size_t)n) {
			w = send(fd, head + hoff, (size_t)n - hoff,
			    MSG_NOSIGNAL);
			if (w > 0)
				hoff += (size_t)w;
		} else {
			long left = u->len - 1 - u->sent;
			w = send(fd, chunk,
			    left < (long)sizeof(chunk) ? (size_t)left :
			                                 sizeof(chunk),
			    MSG_NOSIGNAL);
			if (w > 0)
				u->sent += w;
		}
		if (w < 0 && errno != EAGAIN)
			break;
	}
	close(fd);
	return NULL;
}

static int
bigput(char **argv)
{
	int n = atoi(argv[0]), i, counts[600] = { 0 };
	struct put *u = calloc((size_t)n, sizeof(*u));
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	long total = 0;

	if (n <= 0 || u == NULL || t == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		u[i].len = atol(argv[1]);
		u[i].path = argv[2];
		pthread_create(&t[i], NULL, put_main, &u[i]);
	}
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		total += u[i].sent;
		if (u[i].status >= 100 && u[i].status < 600)
			counts[u[i].status]++;
		else
			counts[0]++;
	}
	printf("n=%d body_bytes_sent=%ld statuses:", n, total);
	for (i = 0; i < 600; i++)
		if (counts[i])
			printf(" %d=%d", i ? i : -1, counts[i]);
	printf("\n");
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr,
		    "usage: hostile slowloris|probe|slowbody|bigput "
		    "PORT ...\n");
		return 2;
	}
	more_fds();
	port = (uint16_t)atoi(argv[2]);
	if (strcmp(argv[1], "slowloris") == 0 && argc >= 7)
		return slowloris(argc - 3, argv + 3);
	if (strcmp(argv[1], "probe") == 0 && argc == 5)
		return probe(argv + 3);
	if (strcmp(argv[1], "slowbody") == 0 && argc == 6)
		return slowbody(argv + 3);
	if (strcmp(argv[1], "bigput") == 0 && argc == 6)
		return bigput(argv + 3);
	fprintf(stderr, "hostile: bad arguments\n");
	return 2;
}
