/*
 * drv_net: drives sandbox/net for tests/e2e/test_netvol.sh until the
 * provider wires it in.  The networks live in one process, so it serves
 * commands, one per line on stdin, one answer line each ("ok [VALUE]" or
 * "err MESSAGE") on stdout:
 *
 *   drv_net serve [--scope S] [--pool CIDR] [--prefix N] [--egress-off]
 *       [--allow CIDR]... [--deny CIDR]... [--dns ADDR]... [--ports A-B]
 *     add ID SERVICE=COUNT...       attach ID SERVICE R NETNS_PATH
 *     detach ID SERVICE R           addr ID SERVICE R
 *     hosts ID FILE                 resolv FILE
 *     port ID SERVICE PORT tcp|udp [HOST_PORT]   -> ok HOST_PORT
 *     unport ID HOST_PORT tcp|udp   egress ID -> ok BYTES
 *     remove ID                     denies ADDR -> ok 1|0
 *     quit
 *   drv_net cleanup [SCOPE]         net_cleanup_all(SCOPE or all)
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "sandbox/net.h"

#define MAX_LIST 16
#define MAX_ARGS 32

static int
usage(void)
{
	fprintf(stderr,
	    "usage: drv_net serve [--scope S] [--pool CIDR] [--prefix N]\n"
	    "           [--egress-off]\n"
	    "           [--allow CIDR]... [--deny CIDR]... [--dns ADDR]...\n"
	    "           [--ports MIN-MAX]   (commands on stdin)\n"
	    "       drv_net cleanup [SCOPE]\n");
	return 2;
}

static void
answer(int rc, const char *value)
{
	if (rc == 0)
		printf("ok%s%s\n", value ? " " : "", value ? value : "");
	else
		printf("err %s\n", err_msg());
	fflush(stdout);
}

static int
write_text(const char *path, const char *text)
{
	return util_write_file(path, text, strlen(text), 0644);
}

static int
parse_proto(const char *s, enum net_proto *p)
{
	if (strcmp(s, "tcp") == 0)
		*p = NET_TCP;
	else if (strcmp(s, "udp") == 0)
		*p = NET_UDP;
	else
		return err_set(ERR_INVAL, "%s: expected tcp or udp", s);
	return 0;
}

static int
parse_u16(const char *s, const char *what, uint16_t *out)
{
	uint64_t v;
	int rc = util_parse_u64(s, what, &v);

	if (rc == 0 && v > 65535)
		rc = err_set(ERR_RANGE, "%s: %s is not a port", what, s);
	if (rc == 0)
		*out = (uint16_t)v;
	return rc;
}

/* One command line: its answer printed. */
static int
command(struct net *n, char **a, int na)
{
	char buf[64];
	uint64_t u;
	int rc = 0;

	if (na == 0)
		return 0;
	if (strcmp(a[0], "quit") == 0)
		return 1;
	if (strcmp(a[0], "add") == 0 && na >= 3) {
		struct net_service s[MAX_ARGS];
		int k = 0;
		for (int i = 2; i < na && rc == 0; i++) {
			char *eq = strchr(a[i], '=');
			if (!eq) {
				rc = err_set(ERR_INVAL,
				    "%s: expected NAME=COUNT", a[i]);
				break;
			}
			*eq = 0;
			rc = util_parse_u64(eq + 1, a[i], &u);
			s[k].name = a[i];
			s[k++].replicas = (unsigned)u;
		}
		if (rc == 0)
			rc = net_deployment_add(n, a[1], s, (size_t)k);
		answer(rc, NULL);
	} else if (strcmp(a[0], "attach") == 0 && na == 5) {
		int fd = open(a[4], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			rc = err_set(ERR_IO, "%s: cannot open", a[4]);
		if (rc == 0 && (rc = util_parse_u64(a[3], "replica", &u)) == 0)
			rc = net_replica_attach(n, a[1], a[2], (unsigned)u, fd);
		if (fd >= 0)
			close(fd);
		answer(rc, NULL);
	} else if (strcmp(a[0], "detach") == 0 && na == 4) {
		if ((rc = util_parse_u64(a[3], "replica", &u)) == 0)
			rc = net_replica_detach(n, a[1], a[2], (unsigned)u);
		answer(rc, NULL);
	} else if (strcmp(a[0], "addr") == 0 && na == 4) {
		if ((rc = util_parse_u64(a[3], "replica", &u)) == 0)
			rc = net_replica_address(n, a[1], a[2], (unsigned)u,
			    buf, sizeof(buf));
		answer(rc, buf);
	} else if (strcmp(a[0], "hosts") == 0 && na == 3) {
		char *text = NULL;
		if ((rc = net_hosts(n, a[1], &text)) == 0)
			rc = write_text(a[2], text);
		free(text);
		answer(rc, NULL);
	} else if (strcmp(a[0], "resolv") == 0 && na == 2) {
		char *text = NULL;
		if ((rc = net_resolv_conf(n, &text)) == 0)
			rc = write_text(a[1], text);
		free(text);
		answer(rc, NULL);
	} else if (strcmp(a[0], "port") == 0 && (na == 5 || na == 6)) {
		uint16_t port = 0, host = 0;
		enum net_proto p = NET_TCP;
		if ((rc = parse_u16(a[3], "port", &port)) == 0 &&
		    (rc = parse_proto(a[4], &p)) == 0 &&
		    (na < 6 || (rc = parse_u16(a[5], "host port", &host)) == 0))
			rc = net_port_add(n, a[1], a[2], port, p, &host);
		snprintf(buf, sizeof(buf), "%u", host);
		answer(rc, buf);
	} else if (strcmp(a[0], "unport") == 0 && na == 4) {
		uint16_t host = 0;
		enum net_proto p = NET_TCP;
		if ((rc = parse_u16(a[2], "host port", &host)) == 0 &&
		    (rc = parse_proto(a[3], &p)) == 0)
			rc = net_port_remove(n, a[1], host, p);
		answer(rc, NULL);
	} else if (strcmp(a[0], "egress") == 0 && na == 2) {
		u = 0;
		rc = net_egress_bytes(n, a[1], &u);
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)u);
		answer(rc, buf);
	} else if (strcmp(a[0], "remove") == 0 && na == 2) {
		answer(net_deployment_remove(n, a[1]), NULL);
	} else if (strcmp(a[0], "denies") == 0 && na == 2) {
		struct in_addr in;
		if (inet_pton(AF_INET, a[1], &in) != 1) {
			answer(err_set(ERR_INVAL, "%s: not an address", a[1]),
			    NULL);
		} else {
			answer(0,
			    net_policy_denies(net_egress_policy(n),
			        ntohl(in.s_addr)) ?
			        "1" :
			        "0");
		}
	} else {
		answer(err_set(ERR_INVAL, "%s: unknown command or arguments",
		           a[0]),
		    NULL);
	}
	return 0;
}

static int
serve(int argc, char **argv)
{
	const char *allow[MAX_LIST + 1] = { 0 }, *deny[MAX_LIST + 1] = { 0 };
	const char *dns[MAX_LIST + 1] = { 0 };
	int nallow = 0, ndeny = 0, ndns = 0;
	struct net_config cfg;
	struct net *n = NULL;
	char line[4096];
	uint64_t v;

	net_config_init(&cfg);
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i],
		           *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--egress-off") == 0) {
			cfg.egress_off = 1;
			continue;
		}
		if (val == NULL)
			return usage();
		i++;
		if (strcmp(o, "--pool") == 0) {
			cfg.pool = val;
		} else if (strcmp(o, "--scope") == 0) {
			cfg.scope = val;
		} else if (strcmp(o, "--prefix") == 0) {
			if (util_parse_u64(val, "--prefix", &v) != 0)
				goto bad;
			cfg.subnet_prefix = (unsigned)v;
		} else if (strcmp(o, "--allow") == 0 && nallow < MAX_LIST) {
			allow[nallow++] = val;
		} else if (strcmp(o, "--deny") == 0 && ndeny < MAX_LIST) {
			deny[ndeny++] = val;
		} else if (strcmp(o, "--dns") == 0 && ndns < MAX_LIST) {
			dns[ndns++] = val;
		} else if (strcmp(o, "--ports") == 0) {
			unsigned a, b;
			if (sscanf(val, "%u-%u", &a, &b) != 2 || a > 65535 ||
			    b > 65535)
				return usage();
			cfg.port_min = (uint16_t)a;
			cfg.port_max = (uint16_t)b;
		} else {
			return usage();
		}
	}
	cfg.egress_allow = allow;
	cfg.egress_deny = deny;
	if (ndns)
		cfg.dns = dns;
	if (net_new(&cfg, &n) != 0)
		goto bad;
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		char *a[MAX_ARGS], *save = NULL;
		int na = 0;
		for (char *t = strtok_r(line, " \t\n", &save);
		     t && na < MAX_ARGS; t = strtok_r(NULL, " \t\n", &save))
			a[na++] = t;
		if (command(n, a, na))
			break;
	}
	net_free(n);
	return 0;
bad:
	fprintf(stderr, "drv_net: %s\n", err_msg());
	return 1;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return serve(argc, argv);
	if ((argc == 2 || argc == 3) && strcmp(argv[1], "cleanup") == 0) {
		if (net_cleanup_all(argc == 3 ? argv[2] : NULL) != 0) {
			fprintf(stderr, "drv_net: cleanup: %s\n", err_msg());
			return 1;
		}
		return 0;
	}
	return usage();
}
