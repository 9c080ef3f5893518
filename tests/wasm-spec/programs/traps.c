/* Misbehaving programs: each must end in its trap, never harm the host. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

volatile int sink;

static int
rec(int n)
{
	volatile char buf[64];
	buf[0] = (char)n;
	return n == -1 ? 0 : rec(n + 1) + buf[0];
}

int
main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "loop"))
		for (;;)
			sink++;
	if (!strcmp(m, "rec"))
		return rec(0);
	if (!strcmp(m, "oob"))
		return *(volatile int *)0x7ffffff0;
	if (!strcmp(m, "grow")) {
		for (int i = 0;; i++) {
			char *p = malloc(1 << 20);
			if (!p) {
				printf("malloc failed after %d MiB\n", i);
				return 0;
			}
			memset(p, 1, 1 << 20);
			sink += p[i % 1000];
		}
	}
	if (!strcmp(m, "exit"))
		exit(7);
	if (!strcmp(m, "files")) {
		FILE *f = fopen("/data/out.txt", "w");
		if (!f || fputs("written\n", f) < 0 || fclose(f))
			return 2;
		f = fopen("/data/../../etc/passwd", "r");
		printf("escape %s\n", f ? "OPENED" : "refused");
		f = fopen("/data/out.txt", "r");
		char line[32] = "";
		if (!f || !fgets(line, sizeof(line), f))
			return 3;
		printf("read back: %s", line);
		return 0;
	}
	if (!strcmp(m, "ls")) {
		/* fd_readdir: a directory of many entries, read back sorted. */
		char name[64];
		for (int i = 0; i < 300; i++) {
			snprintf(name, sizeof(name), "/data/ls/entry-%03d", i);
			if (i == 0 && mkdir("/data/ls", 0755) != 0)
				return 4;
			FILE *f = fopen(name, "w");
			if (!f)
				return 5;
			fclose(f);
		}
		struct dirent **list;
		int n = scandir("/data/ls", &list, NULL, alphasort);
		if (n < 0)
			return 6;
		int files = 0;
		for (int i = 0; i < n; i++) {
			if (list[i]->d_type == DT_REG)
				files++;
			if (i < 3 || i == n - 1)
				printf("%s\n", list[i]->d_name);
			free(list[i]);
		}
		free(list);
		printf("%d entries, %d files\n", n, files);
		return 0;
	}
	printf("ok\n");
	return 0;
}
