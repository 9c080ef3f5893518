/*
 * wasm_instrument: fuel metering and call-depth counting as a
 * WebAssembly-to-WebAssembly rewrite.  Straight-line runs are charged at
 * their start, so the fuel consumed is a pure function of the path taken
 * (deterministic across optimisation levels); checks sit at function
 * entries and loop headers only, so the overrun is bounded by the longest
 * loop-free, call-free path.  The depth is counted in wasm too, only in
 * the functions that can be on a cycle of calls, so "call stack exhausted"
 * comes at the same call whatever the C compiler does.
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

/* The fuel is passed from function to function in registers: every
 * defined function takes it as an extra parameter, f, and gives back what
 * is left as an extra result, so that the C compiler keeps it in a
 * register; the global g is written after every change of f (never read
 * between calls), so it always holds what it would if the charges were
 * made to it directly, for the host and for a trap. */

/* Charge `cost`: g = f -= cost. */
static void
emit_charge(struct wbuf *w, uint32_t g, uint32_t f, uint64_t cost)
{
	put8(w, 0x20);
	put_u32(w, f);
	put8(w, 0x42);
	put_s64(w, (int64_t)cost);
	put8(w, 0x7d);
	put8(w, 0x22); /* local.tee */
	put_u32(w, f);
	put8(w, 0x24);
	put_u32(w, g);
}

/* if (f < 0) unreachable */
static void
emit_check(struct wbuf *w, uint32_t f)
{
	put8(w, 0x20);
	put_u32(w, f);
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
emit_dynamic(struct wbuf *w, uint32_t g, uint32_t f, uint32_t scratch,
    uint32_t op)
{
	put8(w, 0x21);
	put_u32(w, scratch);
	put8(w, 0x20);
	put_u32(w, f);
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
	put8(w, 0x22);
	put_u32(w, f);
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

/* ---- which functions can recurse ---- */

/* A growable list of edges (from, to) of the call graph. */
struct edges {
	uint32_t *p; /* pairs */
	size_t n, cap; /* pairs */
	int oom;
};

static void
add_edge(struct edges *e, uint32_t from, uint32_t to)
{
	if (e->oom)
		return;
	if (e->n == e->cap) {
		size_t nc = e->cap ? e->cap * 2 : 64;
		uint32_t *np = realloc(e->p, nc * 2 * sizeof(*np));
		if (!np) {
			e->oom = 1;
			return;
		}
		e->p = np;
		e->cap = nc;
	}
	e->p[2 * e->n] = from;
	e->p[2 * e->n + 1] = to;
	e->n++;
}

static int
same_type(const struct wasm_functype *a, const struct wasm_functype *b)
{
	return a->nparams == b->nparams && a->nresults == b->nresults &&
	    (!a->nparams || memcmp(a->params, b->params, a->nparams) == 0) &&
	    (!a->nresults || memcmp(a->results, b->results, a->nresults) == 0);
}

static uint32_t
type_hash(const struct wasm_functype *t)
{
	uint32_t h = 2166136261u ^ t->nparams;
	for (uint32_t i = 0; i < t->nparams; i++)
		h = (h ^ t->params[i]) * 16777619u;
	h = (h ^ 0xff ^ t->nresults) * 16777619u;
	for (uint32_t i = 0; i < t->nresults; i++)
		h = (h ^ t->results[i]) * 16777619u;
	return h;
}

/* canon[t]: the first type index structurally equal to t (call_indirect
 * compares types by structure). */
static int
canon_types(const struct wasm_module *m, uint32_t **out)
{
	uint32_t *canon = malloc((m->ntypes + 1) * sizeof(*canon));
	size_t size = 16;
	while (size < 2 * (size_t)m->ntypes)
		size *= 2;
	uint32_t *slot = malloc(size * sizeof(*slot));
	if (!canon || !slot) {
		free(canon);
		free(slot);
		return err_set(ERR_NOMEM, "out of memory");
	}
	memset(slot, 0xff, size * sizeof(*slot));
	for (uint32_t t = 0; t < m->ntypes; t++) {
		size_t i = type_hash(&m->types[t]) & (size - 1);
		while (slot[i] != UINT32_MAX &&
		    !same_type(&m->types[slot[i]], &m->types[t]))
			i = (i + 1) & (size - 1);
		if (slot[i] == UINT32_MAX)
			slot[i] = t;
		canon[t] = slot[i];
	}
	free(slot);
	*out = canon;
	return 0;
}

/* The end of the constant expression at off: the offset after its end. */
static int
skip_const_expr(const struct wasm_module *m, size_t off, size_t end,
    size_t *after)
{
	for (size_t p = off; p < end;) {
		struct wasm_instr in;
		int rc = wasm_instr_decode(m->bytes, p, end, &in);
		if (rc)
			return rc;
		p += in.len;
		if (in.op == 0x0b) {
			*after = p;
			return 0;
		}
	}
	return err_set(ERR_INVAL, "element section: unterminated expression");
}

/* addr[x] = 1 for every function x (imports included) a table can ever
 * hold: those an element segment names, and those a ref.func names (in
 * code or a global's initialiser).  An export alone puts nothing in a
 * table: the host never does. */
static int
table_funcs(const struct wasm_module *m, uint8_t **out)
{
	const uint8_t *b = m->bytes;
	uint8_t *addr = calloc(m->nfuncs + 1, 1);
	struct wasm_instr in;
	int rc = 0;

	if (!addr)
		return err_set(ERR_NOMEM, "out of memory");
	/* ref.func anywhere in code or a global's initialiser */
	for (uint32_t f = 0; f < m->ncodes && !rc; f++) {
		const struct wasm_code *c = &m->codes[f];
		for (size_t p = c->expr_off; p < c->off + c->len && !rc;
		     p += in.len)
			if (!(rc = wasm_instr_decode(b, p, c->off + c->len,
			          &in)) &&
			    in.op == 0xd2 && in.a < m->nfuncs)
				addr[in.a] = 1;
	}
	for (uint32_t g = m->nglobal_imports; g < m->nglobals && !rc; g++) {
		const struct wasm_global *gl = &m->globals[g];
		for (size_t p = gl->init_off;
		     p < gl->init_off + gl->init_len && !rc; p += in.len)
			if (!(rc = wasm_instr_decode(b, p,
			          gl->init_off + gl->init_len, &in)) &&
			    in.op == 0xd2 && in.a < m->nfuncs)
				addr[in.a] = 1;
	}
	/* element segments: function indices, or expressions */
	size_t p = m->sec_off[9], end = p + m->sec_len[9];
	uint32_t cnt = 0, flags, n, x;
	if (!rc && m->sec_off[9])
		rc = wasm_read_u32(b, &p, end, &cnt);
	for (uint32_t i = 0; i < cnt && !rc; i++) {
		if ((rc = wasm_read_u32(b, &p, end, &flags)))
			break;
		if (!(flags & 1) &&
		    (((flags & 2) && (rc = wasm_read_u32(b, &p, end, &x))) ||
		        (rc = skip_const_expr(m, p, end, &p))))
			break;
		if (flags & 3)
			p++; /* element kind or reference type */
		if ((rc = wasm_read_u32(b, &p, end, &n)))
			break;
		for (uint32_t k = 0; k < n && !rc; k++) {
			if (!(flags & 4)) {
				if (!(rc = wasm_read_u32(b, &p, end, &x)) &&
				    x < m->nfuncs)
					addr[x] = 1;
				continue;
			}
			size_t e = p;
			if ((rc = skip_const_expr(m, p, end, &e)))
				break;
			for (; p < e && !rc; p += in.len)
				if (!(rc = wasm_instr_decode(b, p, e, &in)) &&
				    in.op == 0xd2 && in.a < m->nfuncs)
					addr[in.a] = 1;
		}
	}
	if (rc) {
		free(addr);
		return rc;
	}
	*out = addr;
	return 0;
}

/* The call graph: a node per defined function, then one per type (the
 * functions a call_indirect of that type can reach).  A self-call marks
 * rec[] at once. */
static int
call_graph(const struct wasm_module *m, const uint32_t *canon,
    const uint8_t *addr, uint8_t *rec, struct edges *e)
{
	const uint8_t *b = m->bytes;
	uint32_t nfi = m->nfunc_imports;
	int rc;

	for (uint32_t f = 0; f < m->ncodes; f++) {
		const struct wasm_code *c = &m->codes[f];
		for (size_t p = c->expr_off; p < c->off + c->len;) {
			struct wasm_instr in;
			if ((rc = wasm_instr_decode(b, p, c->off + c->len,
			         &in)))
				return rc;
			p += in.len;
			if (in.op == 0x10 && in.a >= nfi) {
				if (in.a - nfi == f)
					rec[f] = 1;
				add_edge(e, f, in.a - nfi);
			} else if (in.op == 0x11 && in.a < m->ntypes) {
				add_edge(e, f, m->ncodes + canon[in.a]);
			}
		}
	}
	for (uint32_t f = 0; f < m->ncodes; f++)
		if (addr[nfi + f])
			add_edge(e, m->ncodes + canon[m->func_types[nfi + f]],
			    f);
	return e->oom ? err_set(ERR_NOMEM, "out of memory") : 0;
}

/* Tarjan's strongly connected components, without recursion: every
 * function in a component of more than one node is marked in rec[]. */
static int
mark_cycles(uint32_t n, const uint32_t *start, const uint32_t *adj,
    uint32_t nfuncs, uint8_t *rec)
{
	uint32_t *index = malloc(((size_t)n + 1) * sizeof(*index));
	uint32_t *low = malloc(((size_t)n + 1) * sizeof(*low));
	uint32_t *stack = malloc(((size_t)n + 1) * sizeof(*stack));
	/* the DFS path: nodes and their next edge */
	uint32_t *cs = malloc(((size_t)n + 1) * sizeof(*cs));
	uint32_t *ce = malloc(((size_t)n + 1) * sizeof(*ce));
	uint8_t *on = calloc((size_t)n + 1, 1);
	uint32_t next = 0, sp = 0, csp;
	int rc = 0;

	if (!index || !low || !stack || !cs || !ce || !on) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(index, 0xff, n * sizeof(*index));
	for (uint32_t root = 0; root < n; root++) {
		if (index[root] != UINT32_MAX)
			continue;
		csp = 0;
		cs[csp] = root;
		ce[csp++] = start[root];
		index[root] = low[root] = next++;
		stack[sp++] = root;
		on[root] = 1;
		while (csp) {
			uint32_t v = cs[csp - 1];
			if (ce[csp - 1] < start[v + 1]) {
				uint32_t w = adj[ce[csp - 1]++];
				if (index[w] == UINT32_MAX) {
					index[w] = low[w] = next++;
					stack[sp++] = w;
					on[w] = 1;
					cs[csp] = w;
					ce[csp++] = start[w];
				} else if (on[w] && index[w] < low[v]) {
					low[v] = index[w];
				}
				continue;
			}
			csp--;
			if (csp && low[v] < low[cs[csp - 1]])
				low[cs[csp - 1]] = low[v];
			if (low[v] != index[v])
				continue;
			uint32_t first = sp;
			do
				on[stack[--first]] = 0;
			while (stack[first] != v);
			if (sp - first > 1)
				for (uint32_t k = first; k < sp; k++)
					if (stack[k] < nfuncs)
						rec[stack[k]] = 1;
			sp = first;
		}
	}
out:
	free(index);
	free(low);
	free(stack);
	free(cs);
	free(ce);
	free(on);
	return rc;
}

int
wasm_recursive_funcs(const struct wasm_module *m, uint8_t **rec_out)
{
	uint32_t n = m->ncodes + m->ntypes;
	uint32_t *canon = NULL, *start = NULL, *adj = NULL;
	struct edges e = { 0 };
	uint8_t *rec = calloc(m->ncodes + 1, 1), *addr = NULL;
	int rc;

	*rec_out = NULL;
	if (!rec)
		return err_set(ERR_NOMEM, "out of memory");
	if ((rc = canon_types(m, &canon)) || (rc = table_funcs(m, &addr)) ||
	    (rc = call_graph(m, canon, addr, rec, &e)))
		goto out;
	/* compressed adjacency: the edges of node v are
	 * adj[start[v] .. start[v + 1]) */
	start = calloc((size_t)n + 2, sizeof(*start));
	adj = malloc((e.n + 1) * sizeof(*adj));
	if (!start || !adj) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < e.n; i++)
		start[e.p[2 * i] + 2]++;
	for (uint32_t v = 0; v < n; v++)
		start[v + 2] += start[v + 1];
	for (size_t i = 0; i < e.n; i++)
		adj[start[e.p[2 * i] + 1]++] = e.p[2 * i + 1];
	if ((rc = mark_cycles(n, start, adj, m->ncodes, rec)))
		goto out;
	*rec_out = rec;
	rec = NULL;
out:
	free(rec);
	free(addr);
	free(canon);
	free(start);
	free(adj);
	free(e.p);
	return rc;
}

struct ins {
	size_t off, len;
	uint32_t op;
	uint32_t a, b; /* immediates, as struct wasm_instr */
};

/* ---- the rewrite ---- */

/* A type appended to the type section: the transformed type of an
 * original one (its parameters and results plus the extra ones), or
 * [] -> its results (a wrapper block's type). */
struct newtype {
	uint8_t block; /* 1: [] -> results */
	uint32_t t; /* the original type */
};

struct plan {
	const struct wasm_module *m;
	int fuel; /* the fuel parameter and result */
	int depth; /* the depth parameter */
	uint32_t max_depth;
	uint32_t nxp; /* extra parameters: fuel + depth */
	uint32_t fuel_g, depth_g;
	uint8_t *rec; /* per defined function: counted */
	uint32_t *xtype; /* per type: its transformed type, or UINT32_MAX */
	uint32_t *btype; /* per type: [] -> its results, or UINT32_MAX */
	struct newtype *nt;
	uint32_t nnt;
	uint32_t *wrap; /* per import: its wrapper, or UINT32_MAX */
	uint32_t *wrapped; /* the imports wrapped, in order */
	uint32_t nwrap;
};

static uint32_t
add_type(struct plan *pl, uint8_t block, uint32_t t)
{
	pl->nt[pl->nnt].block = block;
	pl->nt[pl->nnt].t = t;
	return pl->m->ntypes + pl->nnt++;
}

/* The transformed type of original type t. */
static uint32_t
xtype(struct plan *pl, uint32_t t)
{
	if (pl->xtype[t] == UINT32_MAX)
		pl->xtype[t] = add_type(pl, 0, t);
	return pl->xtype[t];
}

/* v as a signed LEB128 (a block type's type index) into out: its length. */
static size_t
leb_s33(uint8_t *out, int64_t v)
{
	size_t n = 0;
	for (;;) {
		uint8_t b = v & 0x7f;
		v >>= 7;
		if ((v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40))) {
			out[n++] = b;
			return n;
		}
		out[n++] = b | 0x80;
	}
}

/* The wrapper block type of a function of type t, encoded into bt (at
 * most 5 bytes). */
static size_t
block_type(struct plan *pl, uint32_t t, uint8_t bt[6])
{
	const struct wasm_module *m = pl->m;
	const struct wasm_functype *ft = &m->types[t];
	if (ft->nresults == 0) {
		bt[0] = 0x40;
		return 1;
	}
	if (ft->nresults == 1) {
		bt[0] = ft->results[0];
		return 1;
	}
	if (pl->btype[t] == UINT32_MAX) {
		struct wasm_functype want = { 0, ft->nresults, NULL,
			ft->results };
		uint32_t k;
		for (k = 0; k < m->ntypes; k++)
			if (same_type(&m->types[k], &want))
				break;
		pl->btype[t] = k < m->ntypes ? k : add_type(pl, 1, t);
	}
	return leb_s33(bt, pl->btype[t]);
}

static uint32_t
map_func(const struct plan *pl, uint32_t x)
{
	return x < pl->m->nfunc_imports && pl->wrap[x] != UINT32_MAX ?
	    pl->wrap[x] :
	    x;
}

/* A local's index once the extra parameters follow the function's own. */
static uint32_t
map_local(const struct plan *pl, uint32_t np, uint32_t x)
{
	return x < np ? x : x + pl->nxp;
}

/* Pass the fuel and depth to a defined function's call. */
static void
emit_args(const struct plan *pl, struct wbuf *w, uint32_t f, uint32_t d)
{
	if (pl->fuel) {
		put8(w, 0x20);
		put_u32(w, f);
	}
	if (pl->depth) {
		put8(w, 0x20);
		put_u32(w, d);
	}
}

/* depth += 1; if (depth > max) { depth global = depth; unreachable } */
static void
emit_depth_check(const struct plan *pl, struct wbuf *w, uint32_t d)
{
	put8(w, 0x20);
	put_u32(w, d);
	put8(w, 0x41);
	put8(w, 0x01);
	put8(w, 0x6a); /* i32.add */
	put8(w, 0x22);
	put_u32(w, d);
	put8(w, 0x41);
	put_s64(w, (int32_t)pl->max_depth);
	put8(w, 0x4b); /* i32.gt_u */
	put8(w, 0x04);
	put8(w, 0x40);
	put8(w, 0x20);
	put_u32(w, d);
	put8(w, 0x24);
	put_u32(w, pl->depth_g);
	put8(w, 0x00);
	put8(w, 0x0b);
}

static int
rewrite_body(struct plan *pl, uint32_t fidx, const struct wasm_code *c,
    struct wbuf *out)
{
	const struct wasm_module *m = pl->m;
	const uint8_t *b = m->bytes;
	uint32_t t = m->func_types[fidx];
	const struct wasm_functype *ft = &m->types[t];
	struct wbuf w = { 0 };
	struct ins *ins = NULL;
	size_t nins = 0, cap = 0;
	int rc = 0, fuel = pl->fuel;
	int counted = pl->depth && pl->rec[fidx - m->nfunc_imports];
	size_t p = c->off;
	uint32_t ngroups, np = ft->nparams;
	uint32_t f = np, d = np + (fuel ? 1 : 0);
	uint32_t scratch = np + pl->nxp + c->nlocals;

	if (!pl->nxp) {
		put_u32(out, (uint32_t)c->len);
		put(out, b + c->off, c->len);
		return 0;
	}
	if ((rc = wasm_read_u32(b, &p, c->off + c->len, &ngroups)))
		goto out;
	put_u32(&w, ngroups + 1);
	put(&w, b + p, c->expr_off - p);
	put_u32(&w, 1);
	put8(&w, 0x7f);
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
		ins[nins].a = in.a;
		ins[nins].b = in.b;
		nins++;
		p += in.len;
	}
	if (counted)
		emit_depth_check(pl, &w, d);
	if (fuel) {
		/* every way out but a trap leaves through this block, and
		 * then gives back the fuel */
		uint8_t bt[6];
		size_t n = block_type(pl, t, bt);
		put8(&w, 0x02);
		put(&w, bt, n);
	}
	uint32_t depth = 0; /* labels open inside the wrapper */
	int run_start = fuel, check = fuel;
	for (size_t i = 0; i < nins; i++) {
		uint32_t op = ins[i].op;
		if (run_start) {
			uint64_t cost = 0;
			for (size_t j = i; j < nins; j++) {
				cost += wasm_fuel_cost(ins[j].op);
				if (ends_run(ins[j].op))
					break;
			}
			if (cost)
				emit_charge(&w, pl->fuel_g, f, cost);
			if (check)
				emit_check(&w, f);
			run_start = check = 0;
		}
		if (fuel && is_dynamic(op))
			emit_dynamic(&w, pl->fuel_g, f, scratch, op);
		switch (op) {
		case 0x20:
		case 0x21:
		case 0x22:
			put8(&w, (uint8_t)op);
			put_u32(&w, map_local(pl, np, ins[i].a));
			break;
		case 0x0f:
			if (fuel) {
				put8(&w, 0x0c); /* br out of the wrapper */
				put_u32(&w, depth);
			} else {
				put8(&w, 0x0f);
			}
			break;
		case 0x0b:
			if (fuel && depth == 0) { /* the function's own end */
				put8(&w, 0x0b);
				put8(&w, 0x20);
				put_u32(&w, f);
			}
			put8(&w, 0x0b);
			break;
		case 0x10:
			if (ins[i].a < m->nfunc_imports) {
				put(&w, b + ins[i].off, ins[i].len);
				break;
			}
			emit_args(pl, &w, f, d);
			put(&w, b + ins[i].off, ins[i].len);
			if (fuel) {
				put8(&w, 0x21);
				put_u32(&w, f);
			}
			break;
		case 0x11:
			put8(&w, 0x21);
			put_u32(&w, scratch);
			emit_args(pl, &w, f, d);
			put8(&w, 0x20);
			put_u32(&w, scratch);
			put8(&w, 0x11);
			put_u32(&w, xtype(pl, ins[i].a));
			put_u32(&w, ins[i].b);
			if (fuel) {
				put8(&w, 0x21);
				put_u32(&w, f);
			}
			break;
		case 0xd2:
			put8(&w, 0xd2);
			put_u32(&w, map_func(pl, ins[i].a));
			break;
		default:
			put(&w, b + ins[i].off, ins[i].len);
			break;
		}
		if (op == 0x02 || op == 0x03 || op == 0x04)
			depth++;
		else if (op == 0x0b && depth > 0)
			depth--;
		if (fuel && ends_run(op)) {
			run_start = 1;
			check = op == 0x03;
		}
	}
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

/* The body of import x's wrapper: a defined function of its transformed
 * type, so that a table can hold it; passes its own parameters on and
 * gives the fuel back as it came. */
static void
wrapper_body(const struct plan *pl, uint32_t x, struct wbuf *out)
{
	const struct wasm_functype *ft = &pl->m->types[pl->m->func_types[x]];
	struct wbuf w = { 0 };
	uint32_t np = ft->nparams;
	put_u32(&w, 0);
	for (uint32_t k = 0; k < np; k++) {
		put8(&w, 0x20);
		put_u32(&w, k);
	}
	put8(&w, 0x10);
	put_u32(&w, x);
	if (pl->fuel) {
		put8(&w, 0x20);
		put_u32(&w, np);
	}
	put8(&w, 0x0b);
	if (w.oom)
		out->oom = 1;
	put_u32(out, (uint32_t)w.n);
	put(out, w.p, w.n);
	free(w.p);
}

/* A constant expression at [off, off + len), with ref.func of a wrapped
 * import pointing at its wrapper. */
static int
put_const_expr(const struct plan *pl, size_t off, size_t len, struct wbuf *s)
{
	for (size_t p = off; p < off + len;) {
		struct wasm_instr in;
		int rc = wasm_instr_decode(pl->m->bytes, p, off + len, &in);
		if (rc)
			return rc;
		if (in.op == 0xd2) {
			put8(s, 0xd2);
			put_u32(s, map_func(pl, in.a));
		} else {
			put(s, pl->m->bytes + p, in.len);
		}
		p += in.len;
	}
	return 0;
}

/* The element section with wrapped imports replaced by their wrappers,
 * and one more, declarative, segment naming every wrapper (so that
 * ref.func may name them). */
static int
put_elems(const struct plan *pl, struct wbuf *s)
{
	const struct wasm_module *m = pl->m;
	const uint8_t *b = m->bytes;
	size_t p = m->sec_off[9], end = p + m->sec_len[9];
	uint32_t cnt = 0, flags, n, x;
	int rc;

	if (m->sec_off[9] && (rc = wasm_read_u32(b, &p, end, &cnt)))
		return rc;
	put_u32(s, cnt + 1);
	for (uint32_t i = 0; i < cnt; i++) {
		size_t q = p, e = p;
		if ((rc = wasm_read_u32(b, &p, end, &flags)))
			return rc;
		if (!(flags & 1)) { /* active: table index?, offset */
			if ((flags & 2) && (rc = wasm_read_u32(b, &p, end, &x)))
				return rc;
			if ((rc = skip_const_expr(m, p, end, &p)))
				return rc;
		}
		if (flags & 3)
			p++; /* element kind or reference type */
		put(s, b + q, p - q);
		if ((rc = wasm_read_u32(b, &p, end, &n)))
			return rc;
		put_u32(s, n);
		for (uint32_t k = 0; k < n; k++) {
			if (flags & 4) {
				if ((rc = skip_const_expr(m, p, end, &e)) ||
				    (rc = put_const_expr(pl, p, e - p, s)))
					return rc;
				p = e;
			} else {
				if ((rc = wasm_read_u32(b, &p, end, &x)))
					return rc;
				put_u32(s, map_func(pl, x));
			}
		}
	}
	put8(s, 3); /* declarative, function indices */
	put8(s, 0x00);
	put_u32(s, pl->nwrap);
	for (uint32_t k = 0; k < pl->nwrap; k++)
		put_u32(s, pl->wrap[pl->wrapped[k]]);
	return 0;
}

/* The global section with ref.func mapped, then lodge_fuel (mut i64 = 0)
 * and lodge_depth (mut i32 = 0). */
static int
put_globals(const struct plan *pl, struct wbuf *s)
{
	const struct wasm_module *m = pl->m;
	put_u32(s, m->nglobals - m->nglobal_imports + 2);
	for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
		const struct wasm_global *g = &m->globals[i];
		put8(s, g->valtype);
		put8(s, g->mut);
		int rc = put_const_expr(pl, g->init_off, g->init_len, s);
		if (rc)
			return rc;
	}
	put(s, "\x7e\x01\x42\x00\x0b\x7f\x01\x41\x00\x0b", 10);
	return 0;
}

/* The type section with the appended types. */
static int
put_types(const struct plan *pl, struct wbuf *s)
{
	const struct wasm_module *m = pl->m;
	size_t p = m->sec_off[1], end = p + m->sec_len[1];
	uint32_t cnt = 0;
	int rc;
	if (m->sec_off[1] && (rc = wasm_read_u32(m->bytes, &p, end, &cnt)))
		return rc;
	put_u32(s, cnt + pl->nnt);
	put(s, m->bytes + p, end - p);
	for (uint32_t k = 0; k < pl->nnt; k++) {
		const struct wasm_functype *t = &m->types[pl->nt[k].t];
		put8(s, 0x60);
		if (pl->nt[k].block) {
			put_u32(s, 0);
		} else {
			put_u32(s, t->nparams + pl->nxp);
			put(s, t->params, t->nparams);
			if (pl->fuel)
				put8(s, WASM_I64);
			if (pl->depth)
				put8(s, WASM_I32);
		}
		put_u32(s, t->nresults + (!pl->nt[k].block && pl->fuel));
		put(s, t->results, t->nresults);
		if (!pl->nt[k].block && pl->fuel)
			put8(s, WASM_I64);
	}
	return 0;
}

/* The function section: defined functions, then the wrappers. */
static void
put_funcs(struct plan *pl, struct wbuf *s)
{
	const struct wasm_module *m = pl->m;
	put_u32(s, m->ncodes + pl->nwrap);
	for (uint32_t i = 0; i < m->ncodes; i++) {
		uint32_t t = m->func_types[m->nfunc_imports + i];
		put_u32(s, pl->nxp ? xtype(pl, t) : t);
	}
	for (uint32_t k = 0; k < pl->nwrap; k++)
		put_u32(s, xtype(pl, m->func_types[pl->wrapped[k]]));
}

static void
plan_free(struct plan *pl)
{
	free(pl->rec);
	free(pl->xtype);
	free(pl->btype);
	free(pl->nt);
	free(pl->wrap);
	free(pl->wrapped);
}

static int
plan_init(struct plan *pl, const struct wasm_module *m,
    const struct wasm_instrument_opts *opts)
{
	memset(pl, 0, sizeof(*pl));
	pl->m = m;
	pl->fuel = opts && opts->fuel;
	pl->max_depth = opts ? opts->max_depth : 0;
	pl->depth = pl->max_depth != 0;
	pl->nxp = (uint32_t)pl->fuel + (uint32_t)pl->depth;
	pl->fuel_g = m->nglobals;
	pl->depth_g = m->nglobals + 1;
	/* at most: every type transformed and given a block type */
	pl->xtype = malloc((m->ntypes + 1) * sizeof(*pl->xtype));
	pl->btype = malloc((m->ntypes + 1) * sizeof(*pl->btype));
	pl->nt = malloc((2 * (size_t)m->ntypes + 1) * sizeof(*pl->nt));
	pl->wrap = malloc((m->nfunc_imports + 1) * sizeof(*pl->wrap));
	pl->wrapped = malloc((m->nfunc_imports + 1) * sizeof(*pl->wrapped));
	if (!pl->xtype || !pl->btype || !pl->nt || !pl->wrap || !pl->wrapped)
		return err_set(ERR_NOMEM, "out of memory");
	memset(pl->xtype, 0xff, (m->ntypes + 1) * sizeof(*pl->xtype));
	memset(pl->btype, 0xff, (m->ntypes + 1) * sizeof(*pl->btype));
	memset(pl->wrap, 0xff, (m->nfunc_imports + 1) * sizeof(*pl->wrap));
	if (pl->depth) {
		int rc = wasm_recursive_funcs(m, &pl->rec);
		if (rc)
			return rc;
	}
	/* an import a table can hold gets a wrapper of the transformed
	 * type, as call_indirect expects of every entry */
	if (pl->nxp && m->nfunc_imports) {
		uint8_t *addr;
		int rc = table_funcs(m, &addr);
		if (rc)
			return rc;
		for (uint32_t x = 0; x < m->nfunc_imports; x++)
			if (addr[x]) {
				pl->wrap[x] = m->nfuncs + pl->nwrap;
				pl->wrapped[pl->nwrap++] = x;
			}
		free(addr);
	}
	return 0;
}

int
wasm_instrument(const struct wasm_module *m,
    const struct wasm_instrument_opts *opts, uint8_t **out, size_t *out_len)
{
	static const uint8_t order[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10,
		11 };
	struct wbuf w = { 0 }, s = { 0 }, code = { 0 }, funcs = { 0 };
	struct plan pl;
	char name[32];
	int rc;
	uint32_t g = m->nglobals;

	*out = NULL;
	*out_len = 0;
	if ((rc = plan_init(&pl, m, opts)))
		goto out;
	/* the code and function sections first: they decide which types
	 * are added */
	put_u32(&code, m->ncodes + pl.nwrap);
	for (uint32_t i = 0; i < m->ncodes; i++)
		if ((rc = rewrite_body(&pl, m->nfunc_imports + i, &m->codes[i],
		         &code)))
			goto out;
	for (uint32_t k = 0; k < pl.nwrap; k++)
		wrapper_body(&pl, pl.wrapped[k], &code);
	put_funcs(&pl, &funcs);
	put(&w, "\0asm\1\0\0\0", 8);
	for (size_t k = 0; k < sizeof(order); k++) {
		uint8_t id = order[k];
		size_t off = m->sec_off[id], len = m->sec_len[id];
		int present = off != 0;
		s.n = 0;
		switch (id) {
		case 1:
			if (!present && !pl.nnt)
				continue;
			if ((rc = put_types(&pl, &s)))
				goto out;
			break;
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
		case 3:
			if (!present && !pl.nwrap)
				continue;
			put(&s, funcs.p, funcs.n);
			break;
		case 6:
			if ((rc = put_globals(&pl, &s)))
				goto out;
			break;
		case 7:
			put_u32(&s,
			    m->nexports + 2 + (m->nmems ? 1 : 0) +
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
			put_name(&s, WASM_DEPTH_EXPORT);
			put8(&s, WASM_EXT_GLOBAL);
			put_u32(&s, g + 1);
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
		case 8:
			continue; /* run by the host, after the fuel is set */
		case 9:
			if (!pl.nwrap) {
				if (!present)
					continue;
				put(&s, m->bytes + off, len);
			} else if ((rc = put_elems(&pl, &s))) {
				goto out;
			}
			break;
		case 10:
			if (!present && !pl.nwrap)
				continue;
			put(&s, code.p, code.n);
			break;
		default:
			if (!present)
				continue;
			put(&s, m->bytes + off, len);
			break;
		}
		put_section(&w, id, &s);
	}
	if (w.oom || s.oom || code.oom || funcs.oom) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	*out = w.p;
	*out_len = w.n;
	w.p = NULL;
out:
	free(w.p);
	free(s.p);
	free(code.p);
	free(funcs.p);
	plan_free(&pl);
	return rc;
}
