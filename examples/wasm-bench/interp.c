/*
 * Benchmark program (tests/bench/bench_wasm_mix.sh): indirect calls.  A
 * small stack machine whose every instruction is a handler called through
 * a table of function pointers runs a bytecode program (the lengths of
 * Collatz sequences, summed).  Argument: the count of numbers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct vm;
typedef void (*op_fn)(struct vm *);

struct vm {
	int64_t stack[64];
	int64_t reg[8];
	int sp, pc, running;
	const int32_t *code;
};

enum {
	PUSH,
	LOAD,
	STORE,
	ADD,
	SUB,
	MUL,
	DIV2,
	ODD,
	JZ,
	JMP,
	LT,
	DUP,
	POP,
	HALT,
	NOPS
};

static void
op_push(struct vm *m)
{
	m->stack[m->sp++] = m->code[m->pc++];
}
static void
op_load(struct vm *m)
{
	m->stack[m->sp++] = m->reg[m->code[m->pc++]];
}
static void
op_store(struct vm *m)
{
	m->reg[m->code[m->pc++]] = m->stack[--m->sp];
}
static void
op_add(struct vm *m)
{
	m->sp--;
	m->stack[m->sp - 1] += m->stack[m->sp];
}
static void
op_sub(struct vm *m)
{
	m->sp--;
	m->stack[m->sp - 1] -= m->stack[m->sp];
}
static void
op_mul(struct vm *m)
{
	m->sp--;
	m->stack[m->sp - 1] *= m->stack[m->sp];
}
static void
op_div2(struct vm *m)
{
	m->stack[m->sp - 1] >>= 1;
}
static void
op_odd(struct vm *m)
{
	m->stack[m->sp - 1] &= 1;
}
static void
op_jz(struct vm *m)
{
	int32_t t = m->code[m->pc++];
	if (m->stack[--m->sp] == 0)
		m->pc = t;
}
static void
op_jmp(struct vm *m)
{
	m->pc = m->code[m->pc];
}
static void
op_lt(struct vm *m)
{
	m->sp--;
	m->stack[m->sp - 1] = m->stack[m->sp - 1] < m->stack[m->sp];
}
static void
op_dup(struct vm *m)
{
	m->stack[m->sp] = m->stack[m->sp - 1];
	m->sp++;
}
static void
op_pop(struct vm *m)
{
	m->sp--;
}
static void
op_halt(struct vm *m)
{
	m->running = 0;
}

static const op_fn ops[NOPS] = { op_push, op_load, op_store, op_add, op_sub,
	op_mul, op_div2, op_odd, op_jz, op_jmp, op_lt, op_dup, op_pop,
	op_halt };

/* r0 = i, r1 = n, r2 = x, r3 = total: for (i = 1; i < n; i++) for (x = i;
 * x != 1; total++) x = x odd ? 3x + 1 : x / 2; (the number is each
 * instruction's offset) */
static const int32_t prog[] = {
	/* 0 */ PUSH,
	1,
	STORE,
	0,
	/* 4 */ LOAD,
	0,
	LOAD,
	1,
	LT,
	JZ,
	62,
	/* 11 */ LOAD,
	0,
	STORE,
	2,
	/* 15 */ LOAD,
	2,
	PUSH,
	1,
	SUB,
	JZ,
	53,
	/* 22 */ LOAD,
	2,
	ODD,
	JZ,
	39,
	/* 27 */ LOAD,
	2,
	PUSH,
	3,
	MUL,
	PUSH,
	1,
	ADD,
	STORE,
	2,
	JMP,
	44,
	/* 39 */ LOAD,
	2,
	DIV2,
	STORE,
	2,
	/* 44 */ LOAD,
	3,
	PUSH,
	1,
	ADD,
	STORE,
	3,
	JMP,
	15,
	/* 53 */ LOAD,
	0,
	PUSH,
	1,
	ADD,
	STORE,
	0,
	JMP,
	4,
	/* 62 */ HALT,
};

int
main(int argc, char **argv)
{
	int32_t code[sizeof(prog) / sizeof(prog[0])];
	for (size_t i = 0; i < sizeof(prog) / sizeof(prog[0]); i++)
		code[i] = prog[i];
	struct vm m = { .code = code, .running = 1 };
	m.reg[1] = argc > 1 ? atoi(argv[1]) : 40000;
	while (m.running)
		ops[m.code[m.pc++]](&m);
	printf("collatz steps below %lld: %lld\n", (long long)m.reg[1],
	    (long long)m.reg[3]);
	return 0;
}
