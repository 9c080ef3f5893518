/*
 * Benchmark program (tests/bench/bench_wasm_mix.sh): recursion.  A random
 * expression tree evaluated recursively, binary trees allocated, walked and
 * freed recursively (the Benchmarks Game's binary-trees, smaller),
 * N-queens by backtracking, and Ackermann.  Argument: evaluations.
 */
#include <stdio.h>
#include <stdlib.h>

struct expr {
	int op; /* 0 leaf, 1 +, 2 -, 3 *, 4 max */
	int value, l, r;
};

static struct expr exprs[1 << 16];
static int nexprs;
static unsigned seed = 7;

static unsigned
rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

static int
build(int depth)
{
	int i = nexprs++;
	if (depth == 0 || (depth < 12 && rnd() % 6 == 0)) {
		exprs[i].op = 0;
		exprs[i].value = (int)(rnd() % 100);
		return i;
	}
	exprs[i].op = 1 + (int)(rnd() % 4);
	exprs[i].l = build(depth - 1);
	exprs[i].r = build(depth - 1);
	return i;
}

static int
eval(int i, int x)
{
	const struct expr *e = &exprs[i];
	int a, b;
	if (e->op == 0)
		return e->value ^ x;
	a = eval(e->l, x);
	b = eval(e->r, x + 1);
	switch (e->op) {
	case 1:
		return a + b;
	case 2:
		return a - b;
	case 3:
		return (a * b) & 0xffff;
	default:
		return a > b ? a : b;
	}
}

struct node {
	struct node *l, *r;
};

static struct node *
tree(int depth)
{
	struct node *n = malloc(sizeof(*n));
	if (!n)
		exit(1);
	n->l = depth ? tree(depth - 1) : NULL;
	n->r = depth ? tree(depth - 1) : NULL;
	return n;
}

static int
check(const struct node *n)
{
	return 1 + (n->l ? check(n->l) + check(n->r) : 0);
}

static void
drop(struct node *n)
{
	if (n->l) {
		drop(n->l);
		drop(n->r);
	}
	free(n);
}

static int
queens(int n, int row, unsigned cols, unsigned d1, unsigned d2)
{
	if (row == n)
		return 1;
	int count = 0;
	for (int c = 0; c < n; c++) {
		unsigned a = 1u << c, b = 1u << (row + c),
		         e = 1u << (row - c + n);
		if ((cols & a) || (d1 & b) || (d2 & e))
			continue;
		count += queens(n, row + 1, cols | a, d1 | b, d2 | e);
	}
	return count;
}

static int
ack(int m, int n)
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
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	long trees = 0, acks = 0, sum = 0;
	build(15);
	for (int i = 0; i < n; i++)
		sum += eval(0, i);
	for (int i = 0; i < 8; i++) {
		struct node *t = tree(18);
		trees += check(t);
		drop(t);
	}
	for (int i = 0; i < 100; i++)
		acks += ack(3, 7);
	printf(
	    "eval %d nodes x%d=%ld trees=%ld queens(12)=%d ack(3,7)*100=%ld\n",
	    nexprs, n, sum, trees, queens(12, 0, 0, 0, 0), acks);
	return 0;
}
