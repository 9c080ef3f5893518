/*
 * wasm_instrument: fuel metering as a WebAssembly-to-WebAssembly rewrite.
 * Straight-line runs are charged at their start, so the fuel consumed is a
 * pure function of the path taken (deterministic across optimisation
 * levels); checks sit at function entries and loop headers only, so the
 * overrun is bounded by the longest loop-free, call-free path.
 */
#include "wasm/instrument.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct wbuf {
	uint8_t *p;
	size_t n, cap;
	int oom;
};

static void
put(struct wbuf *w, const void *d, size_t n)
{
	if (w->oom || n == 0)
		return;
	if (w->n + n > w->cap) {
		size_t nc = w->cap ? w->cap : 256;
		while (nc < w->n + n)
			nc *= 2;
		uint8_t *np = realloc(w->p, nc);
		if (!np) {
			w->oom = 1;
			return;
		}
		w->p = np;
		w->cap = nc;
	}
	memcpy(w->p + w->n, d, n);
	w->n += n;
}

static void
put8(struct wbuf *w, uint8_t b)
{
	put(w, &b, 1);
}

static void
put_u32(struct wbuf *w, uint32_t v)
{
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		if (v)
			b |= 0x80;
		put8(w, b);
	} while (v);
}

static void
put_s64(struct wbuf *w, int64_t v)
{
	for (;;) {
		uint8_t b = v & 0x7f;
		v >>= 7;
		if ((v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40))) {
			put8(w, b);
			return;
		}
		put8(w, b | 0x80);
	}
}

static void
put_name(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);
	put_u32(w, (uint32_t)n);
	put(w, s, n);
}

static void
put_limits(struct wbuf *w, const struct wasm_limits *l)
{
	put8(w, l->has_max ? 1 : 0);
	put_u32(w, l->min);
	if (l->has_max)
		put_u32(w, l->max);
}

static void
put_section(struct wbuf *w, uint8_t id, const struct wbuf *body)
{
	put8(w, id);
	put_u32(w, (uint32_t)body->n);
	put(w, body->p, body->n);
}

uint32_t
wasm_fuel_cost(uint32_t op)
{
	switch (op) {
	case 0x01:
	case 0x02:
	case 0x03:
	case 0x05:
	case 0x0b:
		return 0; /* structure only: no machine code */
	case 0x10:
		return 4; /* call: frame set-up and return */
	case 0x11:
		return 8; /* call_indirect: + table and type check */
	case 0x40:
		return 16; /* memory.grow, + per page at run time */
	case 0x6d:
	case 0x6e:
	case 0x6f:
	case 0x70:
	case 0x7f:
	case 0x80:
	case 0x81:
	case 0x82:
	case 0x95:
	case 0xa3:
	case 0x91:
	case 0x9f:
		return 4; /* integer div/rem, float div/sqrt */
	default:
		break;
	}
	if (op >= 0xfc08 && op <= 0xfc11)
		return 4; /* bulk: + length at run time */
	return 1;
}

/* Charge `cost` to the fuel global g. */
static void
emit_charge(struct wbuf *w, uint32_t g, uint64_t cost)
{
	put8(w, 0x23);
	put_u32(w, g);
	put8(w, 0x42);
	put_s64(w, (int64_t)cost);
	put8(w, 0x7d);
	put8(w, 0x24);
	put_u32(w, g);
}

/* if (fuel < 0) unreachable */
static void
emit_check(struct wbuf *w, uint32_t g)
{
	put8(w, 0x23);
	put_u32(w, g);
	put8(w, 0x42);
	put8(w, 0x00);
	put8(w, 0x53);
	put8(w, 0x04);
	put8(w, 0x40);
	put8(w, 0x00);
	put8(w, 0x0b);
}

/* Before a bulk operation whose length (i32) is on top of the stack. */
static void
emit_dynamic(struct wbuf *w, uint32_t g, uint32_t scratch, uint32_t op)
{
	put8(w, 0x21);
	put_u32(w, scratch);
	put8(w, 0x23);
	put_u32(w, g);
	put8(w, 0x20);
	put_u32(w, scratch);
	put8(w, 0xad); /* i64.extend_i32_u */
	if (op == 0xfc0a || op == 0xfc0b || op == 0xfc08) {
		put8(w, 0x42);
		put_s64(w, WASM_FUEL_BYTES_SHIFT);
		put8(w, 0x88); /* i64.shr_u */
	} else if (op == 0x40) {
		put8(w, 0x42);
		put_s64(w, WASM_FUEL_PER_PAGE);
		put8(w, 0x7e); /* i64.mul */
	} else if (WASM_FUEL_PER_ELEM != 1) {
		put8(w, 0x42);
		put_s64(w, WASM_FUEL_PER_ELEM);
		put8(w, 0x7e);
	}
	put8(w, 0x7d);
	put8(w, 0x24);
	put_u32(w, g);
	put8(w, 0x20);
	put_u32(w, scratch);
}

static int
is_dynamic(uint32_t op)
{
	return op == 0x40 || op == 0xfc08 || op == 0xfc0a || op == 0xfc0b ||
	    op == 0xfc0c || op == 0xfc0e || op == 0xfc0f || op == 0xfc11;
}

static int
ends_run(uint32_t op)
{
	switch (op) {
	case 0x00:
	case 0x03:
	case 0x04:
	case 0x05:
	case 0x0b:
	case 0x0c:
	case 0x0d:
	case 0x0e:
	case 0x0f:
		return 1;
	default:
		return 0;
	}
}

struct ins {
	size_t off, len;
	uint32_t op;
};

static int
rewrite_body(const struct wasm_module *m, uint32_t fidx,
    const struct wasm_code *c, uint32_t g, int fuel, struct wbuf *out)
{
	const uint8_t *b = m->bytes;
	const struct wasm_functype *ft = &m->types[m->func_types[fidx]];
	struct wbuf w = { 0 };
	struct ins *ins = NULL;
	size_t nins = 0, cap = 0;
	int rc = 0;
	size_t p = c->off;
	uint32_t ngroups;

	if ((rc = wasm_read_u32(b, &p, c->off + c->len, &ngroups)))
		goto out;
	uint32_t scratch = ft->nparams + c->nlocals;
	put_u32(&w, ngroups + (fuel ? 1 : 0));
	put(&w, b + p, c->expr_off - p);
	if (fuel) {
		put_u32(&w, 1);
		put8(&w, 0x7f);
	}
	if (!fuel) {
		put(&w, b + c->expr_off, c->off + c->len - c->expr_off);
		goto done;
	}
	for (p = c->expr_off; p < c->off + c->len;) {
		struct wasm_instr in;
		if ((rc = wasm_instr_decode(b, p, c->off + c->len, &in)))
			goto out;
		if (nins == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct ins *ni = realloc(ins, nc * sizeof(*ni));
			if (!ni) {
				rc = err_set(ERR_NOMEM, "out of memory");
				goto out;
			}
			ins = ni;
			cap = nc;
		}
		ins[nins].off = p;
		ins[nins].len = in.len;
		ins[nins].op = in.op;
		nins++;
		p += in.len;
	}
	int run_start = 1, check = 1;
	for (size_t i = 0; i < nins; i++) {
		if (run_start) {
			uint64_t cost = 0;
			for (size_t j = i; j < nins; j++) {
				cost += wasm_fuel_cost(ins[j].op);
				if (ends_run(ins[j].op))
					break;
			}
			if (cost)
				emit_charge(&w, g, cost);
			if (check)
				emit_check(&w, g);
			run_start = check = 0;
		}
		if (is_dynamic(ins[i].op))
			emit_dynamic(&w, g, scratch, ins[i].op);
		put(&w, b + ins[i].off, ins[i].len);
		if (ends_run(ins[i].op)) {
			run_start = 1;
			check = ins[i].op == 0x03;
		}
	}
done:
	if (w.oom) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	put_u32(out, (uint32_t)w.n);
	put(out, w.p, w.n);
out:
	free(w.p);
	free(ins);
	return rc;
}

int
wasm_instrument(const struct wasm_module *m,
    const struct wasm_instrument_opts *opts, uint8_t **out, size_t *out_len)
{
	static const uint8_t order[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10,
		11 };
	struct wbuf w = { 0 }, s = { 0 };
	char name[32];
	int rc = 0;
	uint32_t g = m->nglobals;
	int fuel = opts && opts->fuel;

	*out = NULL;
	*out_len = 0;
	put(&w, "\0asm\1\0\0\0", 8);
	for (size_t k = 0; k < sizeof(order); k++) {
		uint8_t id = order[k];
		size_t off = m->sec_off[id], len = m->sec_len[id];
		int present = off != 0;
		s.n = 0;
		switch (id) {
		case 2:
			if (!present)
				continue;
			put_u32(&s, m->nimports);
			for (uint32_t i = 0; i < m->nimports; i++) {
				const struct wasm_import *im = &m->imports[i];
				put_name(&s, "h");
				snprintf(name, sizeof(name), "i%u", i);
				put_name(&s, name);
				put8(&s, im->kind);
				switch (im->kind) {
				case WASM_EXT_FUNC:
					put_u32(&s, im->type);
					break;
				case WASM_EXT_TABLE:
					put8(&s, im->valtype);
					put_limits(&s, &im->lim);
					break;
				case WASM_EXT_MEMORY:
					put_limits(&s, &im->lim);
					break;
				default:
					put8(&s, im->valtype);
					put8(&s, im->mut);
					break;
				}
			}
			break;
		case 6: {
			uint32_t n = m->nglobals - m->nglobal_imports;
			put_u32(&s, n + 1);
			if (present) {
				size_t p = off;
				uint32_t cnt;
				if ((rc = wasm_read_u32(m->bytes, &p, off + len,
				         &cnt)))
					goto out;
				put(&s, m->bytes + p, off + len - p);
			}
			put8(&s, WASM_I64);
			put8(&s, 1);
			put8(&s, 0x42);
			put8(&s, 0x00);
			put8(&s, 0x0b);
			break;
		}
		case 7:
			put_u32(&s,
			    m->nexports + 1 + (m->nmems ? 1 : 0) +
			        (m->has_start ? 1 : 0));
			for (uint32_t i = 0; i < m->nexports; i++) {
				snprintf(name, sizeof(name), "e%u", i);
				put_name(&s, name);
				put8(&s, m->exports[i].kind);
				put_u32(&s, m->exports[i].index);
			}
			put_name(&s, WASM_FUEL_EXPORT);
			put8(&s, WASM_EXT_GLOBAL);
			put_u32(&s, g);
			if (m->has_start) {
				put_name(&s, WASM_START_EXPORT);
				put8(&s, WASM_EXT_FUNC);
				put_u32(&s, m->start);
			}
			if (m->nmems) {
				put_name(&s, WASM_MEM_EXPORT);
				put8(&s, WASM_EXT_MEMORY);
				put_u32(&s, 0);
			}
			break;
		case 10:
			if (!present)
				continue;
			put_u32(&s, m->ncodes);
			for (uint32_t i = 0; i < m->ncodes; i++)
				if ((rc = rewrite_body(m, m->nfunc_imports + i,
				         &m->codes[i], g, fuel, &s)))
					goto out;
			break;
		case 8:
			continue; /* run by the host, after the fuel is set */
		default:
			if (!present)
				continue;
			put(&s, m->bytes + off, len);
			break;
		}
		put_section(&w, id, &s);
	}
	if (w.oom || s.oom) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	*out = w.p;
	*out_len = w.n;
	w.p = NULL;
out:
	free(w.p);
	free(s.p);
	return rc;
}
