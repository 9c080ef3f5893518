/* Behaviour check: strings, malloc/realloc/free, recursion, switch. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long
ack(unsigned long m, unsigned long n)
{
	if (m == 0)
		return n + 1;
	if (n == 0)
		return ack(m - 1, 1);
	return ack(m - 1, ack(m, n - 1));
}

int
main(int argc, char **argv)
{
	char *s = NULL;
	size_t len = 0;
	for (int i = 0; i < 500; i++) {
		char word[32];
		int n = snprintf(word, sizeof(word), "%s%d ",
		    i % 3 == 0     ? "fizz" :
		        i % 5 == 0 ? "buzz" :
		                     "n",
		    i);
		s = realloc(s, len + (size_t)n + 1);
		memcpy(s + len, word, (size_t)n + 1);
		len += (size_t)n;
	}
	int up = 0, digits = 0;
	for (size_t i = 0; i < len; i++) {
		if (isdigit((unsigned char)s[i]))
			digits++;
		s[i] = (char)toupper((unsigned char)s[i]);
		if (isupper((unsigned char)s[i]))
			up++;
	}
	printf("len=%zu digits=%d upper=%d tail=%s\n", len, digits, up,
	    s + len - 20);
	printf("ack(2,300)=%lu ack(3,5)=%lu argc=%d\n", ack(2, 300), ack(3, 5),
	    argc);
	for (int i = 1; i < argc; i++)
		printf("arg %d: %s\n", i, argv[i]);
	free(s);
	return 0;
}
