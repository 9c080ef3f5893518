/* Misbehaving programs: each must end in its trap, never harm the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile int sink;

static int rec(int n)
{
	volatile char buf[64];
	buf[0] = (char)n;
	return n == -1 ? 0 : rec(n + 1) + buf[0];
}

int main(int argc, char **argv)
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
	printf("ok\n");
	return 0;
}
