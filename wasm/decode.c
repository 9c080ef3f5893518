/*
 * wasm_decode: WebAssembly binary decoder and validator (Core Specification
 * 2.0 §5 and §3, with the operand-stack algorithm of its Appendix A.3).
 * Anything the spec calls malformed or invalid is refused with the section
 * and byte offset; unsupported proposals with ERR_REJECT.
 */
#include "wasm/decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static const char *const sec_names[13] = {
	"custom",
	"type",
	"import",
	"function",
	"table",
	"memory",
	"global",
	"export",
	"start",
	"element",
	"code",
	"data",
	"datacount",
};

struct rd {
	const uint8_t *b;
	size_t p, end;
	const char *sec;
};

static int
fail_at(const char *sec, size_t off, int code, const char *what)
{
	return err_set(code, "%s section, offset %zu: %s", sec, off, what);
}

#define FAIL(r, what) fail_at((r)->sec, (r)->p, ERR_INVAL, (what))

static int
rd_byte(struct rd *r, uint8_t *out)
{
	if (r->p >= r->end)
		return FAIL(r, "unexpected end");
	*out = r->b[r->p++];
	return 0;
}

static int
leb_u(const uint8_t *b, size_t *off, size_t end, unsigned bits, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	size_t p = *off;
	for (;;) {
		if (p >= end)
			return err_set(ERR_INVAL,
			    "offset %zu: unexpected end "
			    "of LEB128 integer",
			    p);
		uint8_t c = b[p++];
		if (shift + 7 >= bits && shift < bits) {
			/* last byte allowed: no continuation, unused bits 0 */
			unsigned used = bits - shift;
			if (c & 0x80)
				return err_set(ERR_INVAL,
				    "offset %zu: integer "
				    "representation too long",
				    p - 1);
			if (used < 7 && (c >> used) != 0)
				return err_set(ERR_INVAL,
				    "offset %zu: integer "
				    "too large",
				    p - 1);
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
		if (!(c & 0x80))
			break;
	}
	*off = p;
	*out = v;
	return 0;
}

static int
leb_s(const uint8_t *b, size_t *off, size_t end, unsigned bits, int64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	size_t p = *off;
	uint8_t c;
	for (;;) {
		if (p >= end)
			return err_set(ERR_INVAL,
			    "offset %zu: unexpected end "
			    "of LEB128 integer",
			    p);
		c = b[p++];
		if (shift + 7 >= bits) {
			unsigned used = bits - shift; /* 1..7 */
			if (c & 0x80)
				return err_set(ERR_INVAL,
				    "offset %zu: integer "
				    "representation too long",
				    p - 1);
			if (used < 7) {
				uint8_t rest =
				    (uint8_t)((c & 0x7f) >> (used - 1));
				uint8_t all = (uint8_t)(0x7f >> (used - 1));
				if (rest != 0 && rest != all)
					return err_set(ERR_INVAL,
					    "offset %zu: "
					    "integer too large",
					    p - 1);
			}
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
		if (!(c & 0x80))
			break;
	}
	if (shift < 64 && (c & 0x40))
		v |= ~(uint64_t)0 << shift;
	*off = p;
	*out = (int64_t)v;
	return 0;
}

int
wasm_read_u32(const uint8_t *bytes, size_t *off, size_t end, uint32_t *out)
{
	uint64_t v;
	int rc = leb_u(bytes, off, end, 32, &v);
	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

static int
rd_u32(struct rd *r, uint32_t *out)
{
	size_t p0 = r->p;
	int rc = wasm_read_u32(r->b, &r->p, r->end, out);
	if (rc < 0)
		return err_prefix(rc, "%s section (at %zu)", r->sec, p0);
	return 0;
}

static int
utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t k;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3;
			cp = c & 0x07;
		} else
			return 0;
		if (k >= n - i)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) ||
		    (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int
rd_name(struct rd *r, struct wasm_name *out)
{
	uint32_t n;
	int rc = rd_u32(r, &n);
	if (rc)
		return rc;
	if (n > r->end - r->p)
		return FAIL(r, "unexpected end (name)");
	if (!utf8_ok(r->b + r->p, n))
		return FAIL(r, "malformed UTF-8 encoding");
	out->s = (const char *)r->b + r->p;
	out->len = n;
	r->p += n;
	return 0;
}

static int
is_valtype(uint8_t t)
{
	return t == WASM_I32 || t == WASM_I64 || t == WASM_F32 ||
	    t == WASM_F64 || t == WASM_FUNCREF || t == WASM_EXTERNREF;
}

static int
is_reftype(uint8_t t)
{
	return t == WASM_FUNCREF || t == WASM_EXTERNREF;
}

static int
rd_valtype(struct rd *r, uint8_t *t)
{
	int rc = rd_byte(r, t);
	if (rc)
		return rc;
	if (*t == WASM_V128)
		return fail_at(r->sec, r->p - 1, ERR_REJECT,
		    "v128 (SIMD) is not supported");
	if (!is_valtype(*t))
		return fail_at(r->sec, r->p - 1, ERR_INVAL,
		    "malformed value type");
	return 0;
}

const char *
wasm_valtype_name(uint8_t t)
{
	switch (t) {
	case WASM_I32:
		return "i32";
	case WASM_I64:
		return "i64";
	case WASM_F32:
		return "f32";
	case WASM_F64:
		return "f64";
	case WASM_V128:
		return "v128";
	case WASM_FUNCREF:
		return "funcref";
	case WASM_EXTERNREF:
		return "externref";
	default:
		return "?";
	}
}

static int
rd_limits(struct rd *r, struct wasm_limits *l, uint32_t cap, const char *what)
{
	uint8_t flag = 0;
	size_t p0 = r->p;
	int rc = rd_byte(r, &flag);
	if (rc)
		return rc;
	if (flag > 1) {
		if (flag <= 3)
			return fail_at(r->sec, p0, ERR_REJECT,
			    "shared memory (threads) is not supported");
		if (flag <= 7)
			return fail_at(r->sec, p0, ERR_REJECT,
			    "memory64 is not supported");
		return fail_at(r->sec, p0, ERR_INVAL,
		    "integer too large "
		    "(limits flag)");
	}
	if ((rc = rd_u32(r, &l->min)))
		return rc;
	l->has_max = flag;
	l->max = 0xffffffffu;
	if (flag && (rc = rd_u32(r, &l->max)))
		return rc;
	if (l->min > cap || (l->has_max && l->max > cap))
		return fail_at(r->sec, p0, ERR_INVAL,
		    cap == 65536 ?
		        "memory size must be at most 65536 pages (4GiB)" :
		        "size out of range");
	if (l->has_max && l->min > l->max)
		return fail_at(r->sec, p0, ERR_INVAL,
		    "size minimum must not be greater than maximum");
	(void)what;
	return 0;
}

/* ---- instructions ---- */

static int
bt_decode(const uint8_t *b, size_t *p, size_t end, struct wasm_instr *in)
{
	if (*p >= end)
		return err_set(ERR_INVAL, "offset %zu: unexpected end", *p);
	uint8_t c = b[*p];
	if (c == 0x40 || is_valtype(c) || c == WASM_V128) {
		if (c == WASM_V128)
			return err_set(ERR_REJECT,
			    "offset %zu: v128 (SIMD) "
			    "is not supported",
			    *p);
		in->bt = c;
		(*p)++;
		return 0;
	}
	int64_t v;
	int rc = leb_s(b, p, end, 33, &v);
	if (rc)
		return rc;
	if (v < 0)
		return err_set(ERR_INVAL, "offset %zu: malformed block type",
		    *p);
	in->bt = 0;
	in->a = (uint32_t)v;
	return 0;
}

static int
zero_byte(const uint8_t *b, size_t *p, size_t end)
{
	if (*p >= end)
		return err_set(ERR_INVAL, "offset %zu: unexpected end", *p);
	if (b[*p] != 0)
		return err_set(ERR_INVAL, "offset %zu: zero byte expected", *p);
	(*p)++;
	return 0;
}

/* call_indirect (type, table), memarg (align, offset), and the 0xfc
 * operators with two indices. */
static int
imm_two_u32(const uint8_t *b, size_t *p, size_t end, struct wasm_instr *in)
{
	int rc = wasm_read_u32(b, p, end, &in->a);
	return rc ? rc : wasm_read_u32(b, p, end, &in->b);
}

/* br_table: the target count, the targets (left in the bytes, from
 * in->tbl on) and the default target. */
static int
imm_br_table(const uint8_t *b, size_t *p, size_t end, struct wasm_instr *in)
{
	int rc;
	if ((rc = wasm_read_u32(b, p, end, &in->a)))
		return rc;
	in->tbl = *p;
	for (uint32_t i = 0; i < in->a && !rc; i++) {
		uint32_t t;
		rc = wasm_read_u32(b, p, end, &t);
	}
	if (!rc)
		rc = wasm_read_u32(b, p, end, &in->b);
	return rc;
}

/* select t*: the count, and the first type in in->b. */
static int
imm_select_types(const uint8_t *b, size_t *p, size_t end, struct wasm_instr *in)
{
	int rc;
	if ((rc = wasm_read_u32(b, p, end, &in->a)))
		return rc;
	if (in->a > end - *p)
		return err_set(ERR_INVAL, "offset %zu: unexpected end", *p);
	in->b = in->a ? b[*p] : 0;
	for (uint32_t i = 0; i < in->a; i++) {
		if (b[*p + i] == WASM_V128)
			return err_set(ERR_REJECT,
			    "offset %zu: v128 "
			    "(SIMD) is not supported",
			    *p + i);
		if (!is_valtype(b[*p + i]))
			return err_set(ERR_INVAL,
			    "offset %zu: "
			    "malformed value type",
			    *p + i);
	}
	*p += in->a;
	return 0;
}

/* i32.const, i64.const (signed LEB128), f32.const, f64.const (raw
 * little-endian bits); the value in in->i64. */
static int
imm_const(uint8_t op, const uint8_t *b, size_t *p, size_t end,
    struct wasm_instr *in)
{
	int64_t s = 0;
	int rc;
	switch (op) {
	case 0x41:
	case 0x42:
		rc = leb_s(b, p, end, op == 0x41 ? 32 : 64, &s);
		in->i64 = (uint64_t)s;
		return rc;
	case 0x43:
		if (end - *p < 4)
			return err_set(ERR_INVAL, "offset %zu: unexpected end",
			    *p);
		memcpy(&in->b, b + *p, 4);
		in->i64 = in->b;
		*p += 4;
		return 0;
	default:
		if (end - *p < 8)
			return err_set(ERR_INVAL, "offset %zu: unexpected end",
			    *p);
		memcpy(&in->i64, b + *p, 8);
		*p += 8;
		return 0;
	}
}

/* ref.null t: the reference type in in->a. */
static int
imm_reftype(const uint8_t *b, size_t *p, size_t end, struct wasm_instr *in)
{
	if (*p >= end)
		return err_set(ERR_INVAL, "offset %zu: unexpected end", *p);
	in->a = b[(*p)++];
	if (!is_reftype((uint8_t)in->a))
		return err_set(ERR_INVAL,
		    "offset %zu: malformed "
		    "reference type",
		    *p - 1);
	return 0;
}

/* The 0xfc prefix: the sub-opcode (op becomes 0xfc00|sub), then its
 * immediates; off is the instruction's offset, for the message. */
static int
imm_prefixed(const uint8_t *b, size_t *p, size_t end, size_t off,
    struct wasm_instr *in)
{
	uint64_t u;
	int rc;
	if ((rc = leb_u(b, p, end, 32, &u)))
		return rc;
	in->op = 0xfc00u | (uint32_t)(u & 0xff);
	if (u > 17)
		return err_set(ERR_INVAL,
		    "offset %zu: illegal opcode "
		    "0xfc %llu",
		    off, (unsigned long long)u);
	switch (u) {
	case 8:
		if ((rc = wasm_read_u32(b, p, end, &in->a)))
			return rc;
		return zero_byte(b, p, end);
	case 9:
	case 13:
	case 15:
	case 16:
	case 17:
		return wasm_read_u32(b, p, end, &in->a);
	case 10:
		if ((rc = zero_byte(b, p, end)))
			return rc;
		return zero_byte(b, p, end);
	case 11:
		return zero_byte(b, p, end);
	case 12:
	case 14:
		return imm_two_u32(b, p, end, in);
	default:
		return 0;
	}
}

/* Opcodes of proposals outside the supported set: ERR_REJECT naming the
 * proposal, or 0 for any other opcode. */
static int
reject_proposal(uint8_t op, size_t off)
{
	switch (op) {
	case 0xfd:
		return err_set(ERR_REJECT,
		    "offset %zu: SIMD instructions "
		    "(0xfd) are not supported",
		    off);
	case 0xfe:
		return err_set(ERR_REJECT,
		    "offset %zu: atomic instructions "
		    "(threads) are not supported",
		    off);
	case 0x06:
	case 0x07:
	case 0x08:
	case 0x09:
	case 0x18:
	case 0x19:
		return err_set(ERR_REJECT,
		    "offset %zu: exception handling "
		    "is not supported",
		    off);
	case 0x12:
	case 0x13:
		return err_set(ERR_REJECT,
		    "offset %zu: tail calls are not "
		    "supported",
		    off);
	default:
		return 0;
	}
}

int
wasm_instr_decode(const uint8_t *b, size_t off, size_t end,
    struct wasm_instr *in)
{
	size_t p = off;
	int rc = 0;
	memset(in, 0, sizeof(*in));
	if (p >= end)
		return err_set(ERR_INVAL, "offset %zu: unexpected end of code",
		    p);
	uint8_t op = b[p++];
	in->op = op;
	switch (op) {
	case 0x00:
	case 0x01:
	case 0x05:
	case 0x0b:
	case 0x0f:
	case 0x1a:
	case 0x1b:
	case 0xd1:
		break;
	case 0x02:
	case 0x03:
	case 0x04:
		rc = bt_decode(b, &p, end, in);
		break;
	case 0x0c:
	case 0x0d:
	case 0x10:
	case 0x20:
	case 0x21:
	case 0x22:
	case 0x23:
	case 0x24:
	case 0x25:
	case 0x26:
	case 0xd2:
		rc = wasm_read_u32(b, &p, end, &in->a);
		break;
	case 0x0e:
		rc = imm_br_table(b, &p, end, in);
		break;
	case 0x11:
		rc = imm_two_u32(b, &p, end, in);
		break;
	case 0x1c:
		rc = imm_select_types(b, &p, end, in);
		break;
	case 0x3f:
	case 0x40:
		rc = zero_byte(b, &p, end);
		break;
	case 0x41:
	case 0x42:
	case 0x43:
	case 0x44:
		rc = imm_const(op, b, &p, end, in);
		break;
	case 0xd0:
		rc = imm_reftype(b, &p, end, in);
		break;
	case 0xfc:
		rc = imm_prefixed(b, &p, end, off, in);
		break;
	default:
		if (op >= 0x28 && op <= 0x3e) { /* loads and stores: memarg */
			rc = imm_two_u32(b, &p, end, in);
			break;
		}
		if (op >= 0x45 && op <= 0xc4) /* numeric: no immediate */
			break;
		if ((rc = reject_proposal(op, off)))
			return rc;
		return err_set(ERR_INVAL, "offset %zu: illegal opcode 0x%02x",
		    off, op);
	}
	if (rc)
		return rc;
	in->len = p - off;
	return 0;
}

/* ---- function body validation (Appendix A.3) ---- */

#define T_ANY 0 /* the unknown type of unreachable code */

struct ctl {
	uint32_t op;
	const uint8_t *in, *out;
	uint32_t nin, nout;
	size_t height;
	int unreachable;
};

struct vstate {
	const struct wasm_module *m;
	uint8_t *vals;
	size_t nvals, capvals;
	struct ctl *ctls;
	size_t nctls, capctls;
	const uint8_t *locals;
	uint32_t nlocals;
	size_t pos; /* module offset of the current instruction */
	const uint8_t *refs; /* declared function references */
	const uint8_t *elem_types;
};

static uint8_t single_types[256];

static int
vfail(struct vstate *v, const char *what)
{
	return err_set(ERR_INVAL, "code section, offset %zu: %s", v->pos, what);
}

static int
push(struct vstate *v, uint8_t t)
{
	if (v->nvals == v->capvals) {
		size_t n = v->capvals ? v->capvals * 2 : 64;
		uint8_t *p = realloc(v->vals, n);
		if (!p)
			return err_set(ERR_NOMEM, "out of memory");
		v->vals = p;
		v->capvals = n;
	}
	v->vals[v->nvals++] = t;
	return 0;
}

static int
pop(struct vstate *v, uint8_t *out)
{
	struct ctl *c = &v->ctls[v->nctls - 1];
	if (v->nvals == c->height) {
		if (c->unreachable) {
			*out = T_ANY;
			return 0;
		}
		return vfail(v, "type mismatch: operand stack underflow");
	}
	*out = v->vals[--v->nvals];
	return 0;
}

static int
pop_expect(struct vstate *v, uint8_t want, uint8_t *got)
{
	uint8_t t = T_ANY;
	int rc = pop(v, &t);
	if (rc)
		return rc;
	if (t != T_ANY && want != T_ANY && t != want) {
		char msg[96];
		snprintf(msg, sizeof(msg), "type mismatch: expected %s, got %s",
		    wasm_valtype_name(want), wasm_valtype_name(t));
		return vfail(v, msg);
	}
	if (got)
		*got = t; /* T_ANY stays unknown (br_table in dead code) */
	return 0;
}

static int
pop_vals(struct vstate *v, const uint8_t *ts, uint32_t n)
{
	for (uint32_t i = n; i-- > 0;) {
		int rc = pop_expect(v, ts[i], NULL);
		if (rc)
			return rc;
	}
	return 0;
}

static int
push_vals(struct vstate *v, const uint8_t *ts, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		int rc = push(v, ts[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static int
push_ctl(struct vstate *v, uint32_t op, const uint8_t *in, uint32_t nin,
    const uint8_t *out, uint32_t nout)
{
	if (v->nctls == v->capctls) {
		size_t n = v->capctls ? v->capctls * 2 : 16;
		struct ctl *p = realloc(v->ctls, n * sizeof(*p));
		if (!p)
			return err_set(ERR_NOMEM, "out of memory");
		v->ctls = p;
		v->capctls = n;
	}
	struct ctl *c = &v->ctls[v->nctls++];
	c->op = op;
	c->in = in;
	c->nin = nin;
	c->out = out;
	c->nout = nout;
	c->height = v->nvals;
	c->unreachable = 0;
	return push_vals(v, in, nin);
}

static int
pop_ctl(struct vstate *v, struct ctl *out)
{
	if (v->nctls == 0)
		return vfail(v, "unexpected end");
	struct ctl *c = &v->ctls[v->nctls - 1];
	int rc = pop_vals(v, c->out, c->nout);
	if (rc)
		return rc;
	if (v->nvals != c->height)
		return vfail(v,
		    "type mismatch: values remain on the stack "
		    "at the end of a block");
	*out = *c;
	v->nctls--;
	return 0;
}

static void
set_unreachable(struct vstate *v)
{
	struct ctl *c = &v->ctls[v->nctls - 1];
	v->nvals = c->height;
	c->unreachable = 1;
}

static void
label_types(const struct ctl *c, const uint8_t **ts, uint32_t *n)
{
	if (c->op == 0x03) {
		*ts = c->in;
		*n = c->nin;
	} else {
		*ts = c->out;
		*n = c->nout;
	}
}

static int
block_type(struct vstate *v, const struct wasm_instr *in, const uint8_t **pin,
    uint32_t *nin, const uint8_t **pout, uint32_t *nout)
{
	*pin = NULL;
	*nin = 0;
	*pout = NULL;
	*nout = 0;
	if (in->bt == 0x40)
		return 0;
	if (in->bt != 0) {
		*pout = &single_types[(uint8_t)in->bt];
		*nout = 1;
		return 0;
	}
	if (in->a >= v->m->ntypes)
		return vfail(v, "unknown type");
	const struct wasm_functype *ft = &v->m->types[in->a];
	*pin = ft->params;
	*nin = ft->nparams;
	*pout = ft->results;
	*nout = ft->nresults;
	return 0;
}

static int
need_mem(struct vstate *v)
{
	return v->m->nmems ? 0 : vfail(v, "unknown memory 0");
}

static int
need_table(struct vstate *v, uint32_t x, uint8_t *et)
{
	if (x >= v->m->ntables)
		return vfail(v, "unknown table");
	*et = v->m->tables[x].elemtype;
	return 0;
}

static int
unop(struct vstate *v, uint8_t in, uint8_t out)
{
	int rc = pop_expect(v, in, NULL);
	return rc ? rc : push(v, out);
}

static int
binop(struct vstate *v, uint8_t in, uint8_t out)
{
	int rc = pop_expect(v, in, NULL);
	if (!rc)
		rc = pop_expect(v, in, NULL);
	return rc ? rc : push(v, out);
}

static int
memop(struct vstate *v, const struct wasm_instr *in, unsigned natural,
    uint8_t t, int store)
{
	int rc = need_mem(v);
	if (rc)
		return rc;
	if (in->a >= 32 || (1u << in->a) > natural)
		return vfail(v, "alignment must not be larger than natural");
	if (store) {
		if ((rc = pop_expect(v, t, NULL)))
			return rc;
		return pop_expect(v, WASM_I32, NULL);
	}
	return unop(v, WASM_I32, t);
}

/* ---- instruction validation, one function per instruction family ---- */

/* block, loop, if: pop the block's parameters (and if's condition), open
 * a new control frame. */
static int
validate_block(struct vstate *v, const struct wasm_instr *in)
{
	const uint8_t *ts, *ts2;
	uint32_t n, n2;
	int rc;

	if ((rc = block_type(v, in, &ts, &n, &ts2, &n2)))
		return rc;
	if (in->op == 0x04 && (rc = pop_expect(v, WASM_I32, NULL)))
		return rc;
	if ((rc = pop_vals(v, ts, n)))
		return rc;
	return push_ctl(v, in->op, ts, n, ts2, n2);
}

static int
validate_else(struct vstate *v)
{
	struct ctl c;
	int rc;

	if (v->nctls == 0 || v->ctls[v->nctls - 1].op != 0x04)
		return vfail(v, "else without if");
	if ((rc = pop_ctl(v, &c)))
		return rc;
	return push_ctl(v, 0x05, c.in, c.nin, c.out, c.nout);
}

static int
validate_end(struct vstate *v)
{
	struct ctl c;
	int rc;

	if ((rc = pop_ctl(v, &c)))
		return rc;
	if (c.op == 0x04 &&
	    (c.nin != c.nout || (c.nin && memcmp(c.in, c.out, c.nin) != 0)))
		return vfail(v,
		    "type mismatch: if without else must "
		    "leave its parameters unchanged");
	if (v->nctls == 0)
		return 0; /* the function's end */
	return push_vals(v, c.out, c.nout);
}

/* br, br_if */
static int
validate_br(struct vstate *v, const struct wasm_instr *in)
{
	const uint8_t *ts;
	uint32_t n;
	int rc;

	if (in->a >= v->nctls)
		return vfail(v, "unknown label");
	if (in->op == 0x0d && (rc = pop_expect(v, WASM_I32, NULL)))
		return rc;
	label_types(&v->ctls[v->nctls - 1 - in->a], &ts, &n);
	if ((rc = pop_vals(v, ts, n)))
		return rc;
	if (in->op == 0x0d)
		return push_vals(v, ts, n);
	set_unreachable(v);
	return 0;
}

/* br_table: every target (read again from body) must take the default
 * target's arity; in unreachable code the operands may be of unknown
 * type, so each target is checked against what was popped. */
static int
validate_br_table(struct vstate *v, const struct wasm_instr *in,
    const uint8_t *body)
{
	const uint8_t *ts, *ts2;
	uint32_t n, n2;
	uint8_t tmp[64];
	size_t p = in->tbl;
	int rc;

	if ((rc = pop_expect(v, WASM_I32, NULL)))
		return rc;
	if (in->b >= v->nctls)
		return vfail(v, "unknown label");
	label_types(&v->ctls[v->nctls - 1 - in->b], &ts, &n);
	for (uint32_t i = 0; i < in->a; i++) {
		uint32_t l = 0;
		wasm_read_u32(body, &p, (size_t)-1, &l);
		if (l >= v->nctls)
			return vfail(v, "unknown label");
		label_types(&v->ctls[v->nctls - 1 - l], &ts2, &n2);
		if (n2 != n)
			return vfail(v,
			    "type mismatch: br_table "
			    "targets of different arity");
		if (n2 > sizeof(tmp))
			return vfail(v, "br_table arity too large");
		for (uint32_t k = n2; k-- > 0;) {
			if ((rc = pop_expect(v, ts2[k], &tmp[k])))
				return rc;
		}
		for (uint32_t k = 0; k < n2; k++)
			if ((rc = push(v, tmp[k])))
				return rc;
	}
	if ((rc = pop_vals(v, ts, n)))
		return rc;
	set_unreachable(v);
	return 0;
}

static int
validate_return(struct vstate *v)
{
	const uint8_t *ts;
	uint32_t n;
	int rc;

	label_types(&v->ctls[0], &ts, &n);
	if ((rc = pop_vals(v, ts, n)))
		return rc;
	set_unreachable(v);
	return 0;
}

/* call, call_indirect */
static int
validate_call(struct vstate *v, const struct wasm_instr *in)
{
	const struct wasm_module *m = v->m;
	const struct wasm_functype *ft;
	uint8_t et = 0;
	int rc;

	if (in->op == 0x10) {
		if (in->a >= m->nfuncs)
			return vfail(v, "unknown function");
		ft = &m->types[m->func_types[in->a]];
	} else {
		if ((rc = need_table(v, in->b, &et)))
			return rc;
		if (et != WASM_FUNCREF)
			return vfail(v,
			    "type mismatch: call_indirect on a "
			    "table of externref");
		if (in->a >= m->ntypes)
			return vfail(v, "unknown type");
		ft = &m->types[in->a];
		if ((rc = pop_expect(v, WASM_I32, NULL)))
			return rc;
	}
	if ((rc = pop_vals(v, ft->params, ft->nparams)))
		return rc;
	return push_vals(v, ft->results, ft->nresults);
}

/* Control instructions 0x00..0x11. */
static int
validate_control(struct vstate *v, const struct wasm_instr *in,
    const uint8_t *body)
{
	switch (in->op) {
	case 0x00:
		set_unreachable(v);
		return 0;
	case 0x01:
		return 0;
	case 0x02:
	case 0x03:
	case 0x04:
		return validate_block(v, in);
	case 0x05:
		return validate_else(v);
	case 0x0b:
		return validate_end(v);
	case 0x0c:
	case 0x0d:
		return validate_br(v, in);
	case 0x0e:
		return validate_br_table(v, in, body);
	case 0x0f:
		return validate_return(v);
	case 0x10:
	case 0x11:
		return validate_call(v, in);
	default:
		return vfail(v, "illegal opcode");
	}
}

/* Parametric instructions: drop, select, select t. */
static int
validate_parametric(struct vstate *v, const struct wasm_instr *in)
{
	uint8_t t = 0, t2 = 0;
	int rc;

	switch (in->op) {
	case 0x1a:
		return pop(v, &t);
	case 0x1b:
		if ((rc = pop_expect(v, WASM_I32, NULL)))
			return rc;
		if ((rc = pop(v, &t)) || (rc = pop(v, &t2)))
			return rc;
		if (is_reftype(t) || is_reftype(t2))
			return vfail(v,
			    "type mismatch: select on references "
			    "needs a type");
		if (t != T_ANY && t2 != T_ANY && t != t2)
			return vfail(v, "type mismatch in select");
		return push(v, t == T_ANY ? t2 : t);
	case 0x1c:
		if (in->a != 1)
			return vfail(v, "invalid result arity of select");
		t = (uint8_t)in->b;
		if ((rc = pop_expect(v, WASM_I32, NULL)))
			return rc;
		if ((rc = pop_expect(v, t, NULL)) ||
		    (rc = pop_expect(v, t, NULL)))
			return rc;
		return push(v, t);
	default:
		return vfail(v, "illegal opcode");
	}
}

/* Variable instructions: local.get/set/tee, global.get/set. */
static int
validate_variable(struct vstate *v, const struct wasm_instr *in)
{
	const struct wasm_module *m = v->m;

	switch (in->op) {
	case 0x20:
		if (in->a >= v->nlocals)
			return vfail(v, "unknown local");
		return push(v, v->locals[in->a]);
	case 0x21:
		if (in->a >= v->nlocals)
			return vfail(v, "unknown local");
		return pop_expect(v, v->locals[in->a], NULL);
	case 0x22:
		if (in->a >= v->nlocals)
			return vfail(v, "unknown local");
		return unop(v, v->locals[in->a], v->locals[in->a]);
	case 0x23:
		if (in->a >= m->nglobals)
			return vfail(v, "unknown global");
		return push(v, m->globals[in->a].valtype);
	case 0x24:
		if (in->a >= m->nglobals)
			return vfail(v, "unknown global");
		if (!m->globals[in->a].mut)
			return vfail(v, "global is immutable");
		return pop_expect(v, m->globals[in->a].valtype, NULL);
	default:
		return vfail(v, "illegal opcode");
	}
}

/* Table instructions: table.get/set, and after the 0xfc prefix
 * table.init, elem.drop, table.copy/grow/size/fill. */
static int
validate_table(struct vstate *v, const struct wasm_instr *in)
{
	const struct wasm_module *m = v->m;
	uint8_t et = 0, et2 = 0;
	int rc;

	switch (in->op) {
	case 0x25:
		if ((rc = need_table(v, in->a, &et)))
			return rc;
		return unop(v, WASM_I32, et);
	case 0x26:
		if ((rc = need_table(v, in->a, &et)))
			return rc;
		if ((rc = pop_expect(v, et, NULL)))
			return rc;
		return pop_expect(v, WASM_I32, NULL);
	case 0xfc0c:
		if ((rc = need_table(v, in->b, &et)))
			return rc;
		if (in->a >= m->nelems)
			return vfail(v, "unknown elem segment");
		if (v->elem_types[in->a] != et)
			return vfail(v, "type mismatch: table.init");
		return pop_vals(v, (const uint8_t *)"\x7f\x7f\x7f", 3);
	case 0xfc0d:
		if (in->a >= m->nelems)
			return vfail(v, "unknown elem segment");
		return 0;
	case 0xfc0e:
		if ((rc = need_table(v, in->a, &et)) ||
		    (rc = need_table(v, in->b, &et2)))
			return rc;
		if (et != et2)
			return vfail(v, "type mismatch: table.copy");
		return pop_vals(v, (const uint8_t *)"\x7f\x7f\x7f", 3);
	case 0xfc0f:
		if ((rc = need_table(v, in->a, &et)))
			return rc;
		if ((rc = pop_expect(v, WASM_I32, NULL)) ||
		    (rc = pop_expect(v, et, NULL)))
			return rc;
		return push(v, WASM_I32);
	case 0xfc10:
		if ((rc = need_table(v, in->a, &et)))
			return rc;
		return push(v, WASM_I32);
	case 0xfc11:
		if ((rc = need_table(v, in->a, &et)))
			return rc;
		if ((rc = pop_expect(v, WASM_I32, NULL)) ||
		    (rc = pop_expect(v, et, NULL)) ||
		    (rc = pop_expect(v, WASM_I32, NULL)))
			return rc;
		return 0;
	default:
		return vfail(v, "illegal opcode");
	}
}

/* Loads and stores 0x28..0x3e: natural alignment and value type. */
static int
validate_load_store(struct vstate *v, const struct wasm_instr *in)
{
	switch (in->op) {
	case 0x28:
		return memop(v, in, 4, WASM_I32, 0);
	case 0x29:
		return memop(v, in, 8, WASM_I64, 0);
	case 0x2a:
		return memop(v, in, 4, WASM_F32, 0);
	case 0x2b:
		return memop(v, in, 8, WASM_F64, 0);
	case 0x2c:
	case 0x2d:
		return memop(v, in, 1, WASM_I32, 0);
	case 0x2e:
	case 0x2f:
		return memop(v, in, 2, WASM_I32, 0);
	case 0x30:
	case 0x31:
		return memop(v, in, 1, WASM_I64, 0);
	case 0x32:
	case 0x33:
		return memop(v, in, 2, WASM_I64, 0);
	case 0x34:
	case 0x35:
		return memop(v, in, 4, WASM_I64, 0);
	case 0x36:
		return memop(v, in, 4, WASM_I32, 1);
	case 0x37:
		return memop(v, in, 8, WASM_I64, 1);
	case 0x38:
		return memop(v, in, 4, WASM_F32, 1);
	case 0x39:
		return memop(v, in, 8, WASM_F64, 1);
	case 0x3a:
		return memop(v, in, 1, WASM_I32, 1);
	case 0x3b:
		return memop(v, in, 2, WASM_I32, 1);
	case 0x3c:
		return memop(v, in, 1, WASM_I64, 1);
	case 0x3d:
		return memop(v, in, 2, WASM_I64, 1);
	case 0x3e:
		return memop(v, in, 4, WASM_I64, 1);
	default:
		return vfail(v, "illegal opcode");
	}
}

/* Memory instructions: loads, stores, memory.size/grow, and after the
 * 0xfc prefix memory.init, data.drop, memory.copy/fill. */
static int
validate_memory(struct vstate *v, const struct wasm_instr *in)
{
	const struct wasm_module *m = v->m;
	int rc;

	if (in->op >= 0x28 && in->op <= 0x3e)
		return validate_load_store(v, in);
	switch (in->op) {
	case 0x3f:
		if ((rc = need_mem(v)))
			return rc;
		return push(v, WASM_I32);
	case 0x40:
		if ((rc = need_mem(v)))
			return rc;
		return unop(v, WASM_I32, WASM_I32);
	case 0xfc08:
		if ((rc = need_mem(v)))
			return rc;
		if (!m->has_datacount)
			return vfail(v, "data count section required");
		if (in->a >= m->ndatas)
			return vfail(v, "unknown data segment");
		return pop_vals(v, (const uint8_t *)"\x7f\x7f\x7f", 3);
	case 0xfc09:
		if (!m->has_datacount)
			return vfail(v, "data count section required");
		if (in->a >= m->ndatas)
			return vfail(v, "unknown data segment");
		return 0;
	case 0xfc0a:
	case 0xfc0b:
		if ((rc = need_mem(v)))
			return rc;
		return pop_vals(v, (const uint8_t *)"\x7f\x7f\x7f", 3);
	default:
		return vfail(v, "illegal opcode");
	}
}

/* i32.const, i64.const, f32.const, f64.const (0x41..0x44). */
static int
validate_const(struct vstate *v, uint32_t op)
{
	static const uint8_t types[4] = { WASM_I32, WASM_I64, WASM_F32,
		WASM_F64 };
	return push(v, types[op - 0x41]);
}

/* Numeric tests, comparisons and arithmetic 0x45..0xa6, in the opcode
 * table's runs of one signature. */
static int
validate_numeric(struct vstate *v, uint32_t op)
{
	static const uint8_t I = WASM_I32, L = WASM_I64, F = WASM_F32,
	                     D = WASM_F64;

	if (op == 0x45)
		return unop(v, I, I);
	if (op <= 0x4f)
		return binop(v, I, I);
	if (op == 0x50)
		return unop(v, L, I);
	if (op <= 0x5a)
		return binop(v, L, I);
	if (op <= 0x60)
		return binop(v, F, I);
	if (op <= 0x66)
		return binop(v, D, I);
	if (op <= 0x69)
		return unop(v, I, I);
	if (op <= 0x78)
		return binop(v, I, I);
	if (op <= 0x7b)
		return unop(v, L, L);
	if (op <= 0x8a)
		return binop(v, L, L);
	if (op <= 0x91)
		return unop(v, F, F);
	if (op <= 0x98)
		return binop(v, F, F);
	if (op <= 0x9f)
		return unop(v, D, D);
	return binop(v, D, D);
}

/* Conversions, reinterpretations and sign extensions 0xa7..0xc4. */
static int
validate_conversion(struct vstate *v, uint32_t op)
{
	static const uint8_t I = WASM_I32, L = WASM_I64, F = WASM_F32,
	                     D = WASM_F64;

	switch (op) {
	case 0xa7:
		return unop(v, L, I);
	case 0xa8:
	case 0xa9:
		return unop(v, F, I);
	case 0xaa:
	case 0xab:
		return unop(v, D, I);
	case 0xac:
	case 0xad:
		return unop(v, I, L);
	case 0xae:
	case 0xaf:
		return unop(v, F, L);
	case 0xb0:
	case 0xb1:
		return unop(v, D, L);
	case 0xb2:
	case 0xb3:
		return unop(v, I, F);
	case 0xb4:
	case 0xb5:
		return unop(v, L, F);
	case 0xb6:
		return unop(v, D, F);
	case 0xb7:
	case 0xb8:
		return unop(v, I, D);
	case 0xb9:
	case 0xba:
		return unop(v, L, D);
	case 0xbb:
		return unop(v, F, D);
	case 0xbc:
		return unop(v, F, I);
	case 0xbd:
		return unop(v, D, L);
	case 0xbe:
		return unop(v, I, F);
	case 0xbf:
		return unop(v, L, D);
	case 0xc0:
	case 0xc1:
		return unop(v, I, I);
	default:
		return unop(v, L, L);
	}
}

/* i32/i64.trunc_sat_f32/f64_s/u: 0xfc 0..7. */
static int
validate_trunc_sat(struct vstate *v, uint32_t sub)
{
	static const uint8_t from[8] = { WASM_F32, WASM_F32, WASM_F64, WASM_F64,
		WASM_F32, WASM_F32, WASM_F64, WASM_F64 };
	return unop(v, from[sub], sub < 4 ? WASM_I32 : WASM_I64);
}

/* Reference instructions: ref.null, ref.is_null, ref.func. */
static int
validate_reference(struct vstate *v, const struct wasm_instr *in)
{
	uint8_t t = 0;
	int rc;

	switch (in->op) {
	case 0xd0:
		return push(v, (uint8_t)in->a);
	case 0xd1:
		if ((rc = pop(v, &t)))
			return rc;
		if (t != T_ANY && !is_reftype(t))
			return vfail(v,
			    "type mismatch: ref.is_null on a "
			    "number");
		return push(v, WASM_I32);
	case 0xd2:
		if (in->a >= v->m->nfuncs)
			return vfail(v, "unknown function");
		if (!v->refs[in->a])
			return vfail(v, "undeclared function reference");
		return push(v, WASM_FUNCREF);
	default:
		return vfail(v, "illegal opcode");
	}
}

/* The 0xfc prefix: saturating truncations, bulk memory, table ops. */
static int
validate_prefixed(struct vstate *v, const struct wasm_instr *in)
{
	uint32_t sub = in->op & 0xff;

	if (sub <= 7)
		return validate_trunc_sat(v, sub);
	if (sub <= 11)
		return validate_memory(v, in);
	if (sub <= 17)
		return validate_table(v, in);
	return vfail(v, "illegal opcode");
}

/* Check one decoded instruction against the operand and control stacks;
 * the opcode space is laid out by family (§5.4), so ranges dispatch. */
static int
validate_instr(struct vstate *v, const struct wasm_instr *in,
    const uint8_t *body)
{
	uint32_t op = in->op;

	if (op <= 0x11)
		return validate_control(v, in, body);
	if (op <= 0x1c)
		return validate_parametric(v, in);
	if (op <= 0x24)
		return validate_variable(v, in);
	if (op <= 0x26)
		return validate_table(v, in);
	if (op <= 0x40)
		return validate_memory(v, in);
	if (op <= 0x44)
		return validate_const(v, op);
	if (op <= 0xa6)
		return validate_numeric(v, op);
	if (op <= 0xc4)
		return validate_conversion(v, op);
	if (op <= 0xd2)
		return validate_reference(v, in);
	return validate_prefixed(v, in);
}

static int
validate_body(struct wasm_module *m, uint32_t fidx, struct wasm_code *code,
    const struct wasm_decode_limits *lim, const uint8_t *refs,
    const uint8_t *elem_types)
{
	const struct wasm_functype *ft = &m->types[m->func_types[fidx]];
	struct vstate v = { .m = m, .refs = refs, .elem_types = elem_types };
	uint8_t *locals = NULL;
	int rc = 0;
	size_t p = code->off, end = code->off + code->len;
	uint32_t ngroups;
	uint64_t total = ft->nparams;

	struct rd r = { m->bytes, p, end, "code" };
	if ((rc = rd_u32(&r, &ngroups)))
		goto out;
	/* first pass: count */
	size_t save = r.p;
	for (uint32_t i = 0; i < ngroups; i++) {
		uint32_t cnt = 0;
		uint8_t t = 0;
		if ((rc = rd_u32(&r, &cnt)) || (rc = rd_valtype(&r, &t)))
			goto out;
		total += cnt;
		if (total > 0xffffffffu) {
			rc = FAIL(&r, "too many locals");
			goto out;
		}
	}
	if (total > lim->max_locals) {
		rc = fail_at("code", code->off, ERR_LIMIT,
		    "too many locals "
		    "(limit exceeded)");
		goto out;
	}
	locals = malloc(total ? total : 1);
	if (!locals) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	if (ft->nparams)
		memcpy(locals, ft->params, ft->nparams);
	size_t k = ft->nparams;
	r.p = save;
	for (uint32_t i = 0; i < ngroups; i++) {
		uint32_t cnt = 0;
		uint8_t t = 0;
		rd_u32(&r, &cnt);
		rd_valtype(&r, &t);
		memset(locals + k, t, cnt);
		k += cnt;
	}
	code->nlocals = (uint32_t)(total - ft->nparams);
	code->expr_off = r.p;
	v.locals = locals;
	v.nlocals = (uint32_t)total;
	if ((rc = push_ctl(&v, 0x02, NULL, 0, ft->results, ft->nresults)))
		goto out;
	p = r.p;
	while (v.nctls > 0) {
		struct wasm_instr in;
		if (p >= end) {
			rc = err_set(ERR_INVAL,
			    "code section, offset %zu: "
			    "unexpected end of function body (missing end)",
			    p);
			goto out;
		}
		v.pos = p;
		if ((rc = wasm_instr_decode(m->bytes, p, end, &in))) {
			err_prefix(rc, "code section");
			goto out;
		}
		if ((rc = validate_instr(&v, &in, m->bytes)))
			goto out;
		p += in.len;
	}
	if (p != end)
		rc = err_set(ERR_INVAL,
		    "code section, offset %zu: section size "
		    "mismatch (bytes after the function's end)",
		    p);
out:
	free(locals);
	free(v.vals);
	free(v.ctls);
	return rc;
}

/* ---- constant expressions ---- */

static int
const_expr(struct wasm_module *m, struct rd *r, uint8_t want,
    uint32_t nglobals_visible, uint8_t *refs, size_t *len_out)
{
	size_t start = r->p;
	uint8_t stack[4];
	int n = 0;
	for (;;) {
		struct wasm_instr in;
		size_t p0 = r->p;
		int rc = wasm_instr_decode(r->b, r->p, r->end, &in);
		if (rc)
			return err_prefix(rc, "%s section", r->sec);
		r->p += in.len;
		uint8_t t;
		switch (in.op) {
		case 0x0b:
			if (n != 1 || stack[0] != want)
				return fail_at(r->sec, p0, ERR_INVAL,
				    "type mismatch in constant expression");
			if (len_out)
				*len_out = r->p - start;
			return 0;
		case 0x41:
			t = WASM_I32;
			break;
		case 0x42:
			t = WASM_I64;
			break;
		case 0x43:
			t = WASM_F32;
			break;
		case 0x44:
			t = WASM_F64;
			break;
		case 0xd0:
			t = (uint8_t)in.a;
			break;
		case 0xd2:
			if (in.a >= m->nfuncs)
				return fail_at(r->sec, p0, ERR_INVAL,
				    "unknown function");
			if (refs)
				refs[in.a] = 1;
			t = WASM_FUNCREF;
			break;
		case 0x23:
			if (in.a >= nglobals_visible)
				return fail_at(r->sec, p0, ERR_INVAL,
				    "unknown global");
			if (m->globals[in.a].mut)
				return fail_at(r->sec, p0, ERR_INVAL,
				    "constant expression required");
			t = m->globals[in.a].valtype;
			break;
		default:
			return fail_at(r->sec, p0, ERR_INVAL,
			    "constant expression required");
		}
		if (n == (int)sizeof(stack))
			return fail_at(r->sec, p0, ERR_INVAL,
			    "type mismatch in constant expression");
		stack[n++] = t;
	}
}

/* ---- sections ---- */

void
wasm_decode_limits_default(struct wasm_decode_limits *l)
{
	l->max_module_bytes = WASM_LIMIT_MODULE_BYTES;
	l->max_funcs = WASM_LIMIT_FUNCS;
	l->max_locals = WASM_LIMIT_LOCALS;
	l->max_memory_pages = WASM_LIMIT_PAGES;
	l->max_table_size = WASM_LIMIT_TABLE;
	l->max_body_bytes = WASM_LIMIT_BODY;
}

void
wasm_module_free(struct wasm_module *m)
{
	if (!m)
		return;
	free(m->bytes);
	free(m->types);
	free(m->imports);
	free(m->func_types);
	free(m->tables);
	free(m->globals);
	free(m->exports);
	free(m->codes);
	free(m);
}

static int
sec_rank(uint8_t id)
{
	static const int rank[13] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12,
		10 };
	return rank[id];
}

/* What the section decoders share while one module is read. */
struct decoder {
	struct wasm_module *m;
	const struct wasm_decode_limits *lim;
	size_t sec_start; /* payload offset of the section being read */
	int last_rank; /* sec_rank of the last non-custom section */
	uint8_t *refs; /* per function: declared as referenced */
	uint8_t *elem_types; /* per element segment: its reference type */
	size_t cap_funcs, cap_tables, cap_globals;
	uint32_t ndefined; /* entries of the function section */
	int have_code;
};

/* p (n elements of size bytes, room for *cap) with room for one more:
 * p itself, or p grown (doubled, 8 at first; *cap updated), or NULL when
 * out of memory (p untouched). */
static void *
grow(void *p, size_t n, size_t *cap, size_t size)
{
	size_t c;
	void *q;

	if (n < *cap)
		return p;
	c = *cap ? *cap * 2 : 8;
	if ((q = reallocarray(p, c, size)) == NULL)
		return NULL;
	*cap = c;
	return q;
}

static int
add_func(struct decoder *d, uint32_t type)
{
	struct wasm_module *m = d->m;
	uint32_t *p = grow(m->func_types, m->nfuncs, &d->cap_funcs, sizeof(*p));

	if (p == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	m->func_types = p;
	m->func_types[m->nfuncs++] = type;
	return 0;
}

static int
add_table(struct decoder *d, const struct wasm_table *tb)
{
	struct wasm_module *m = d->m;
	struct wasm_table *p =
	    grow(m->tables, m->ntables, &d->cap_tables, sizeof(*p));

	if (p == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	m->tables = p;
	m->tables[m->ntables++] = *tb;
	return 0;
}

static int
add_global(struct decoder *d, const struct wasm_global *g)
{
	struct wasm_module *m = d->m;
	struct wasm_global *p =
	    grow(m->globals, m->nglobals, &d->cap_globals, sizeof(*p));

	if (p == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	m->globals = p;
	m->globals[m->nglobals++] = *g;
	return 0;
}

/* The declared-reference set, sized once the function count is final:
 * every section that fills it comes after the function section. */
static int
need_refs(struct decoder *d)
{
	if (!d->refs && !(d->refs = calloc(d->m->nfuncs + 1, 1)))
		return err_set(ERR_NOMEM, "oom");
	return 0;
}

/* vec(valtype): *ts points into the module's bytes. */
static int
rd_resulttype(struct rd *r, const uint8_t **ts, uint32_t *n)
{
	uint32_t cnt;
	int rc;
	if ((rc = rd_u32(r, &cnt)))
		return rc;
	if (cnt > r->end - r->p)
		return FAIL(r, "unexpected end");
	*ts = r->b + r->p;
	for (uint32_t j = 0; j < cnt; j++) {
		uint8_t t = 0;
		if ((rc = rd_valtype(r, &t)))
			return rc;
	}
	*n = cnt;
	return 0;
}

static int
rd_functype(struct rd *r, struct wasm_functype *ft)
{
	uint8_t form = 0;
	int rc;
	if ((rc = rd_byte(r, &form)))
		return rc;
	if (form != 0x60)
		return fail_at(r->sec, r->p - 1, ERR_INVAL,
		    "malformed function type "
		    "(integer representation too long"
		    " or bad form)");
	if ((rc = rd_resulttype(r, &ft->params, &ft->nparams)))
		return rc;
	return rd_resulttype(r, &ft->results, &ft->nresults);
}

static int
rd_tabletype(struct rd *r, struct wasm_table *tb)
{
	int rc;
	if ((rc = rd_byte(r, &tb->elemtype)))
		return rc;
	if (!is_reftype(tb->elemtype))
		return FAIL(r, "malformed reference type");
	return rd_limits(r, &tb->lim, 0xffffffffu, "table");
}

static int
rd_globaltype(struct rd *r, uint8_t *valtype, uint8_t *mut)
{
	int rc;
	if ((rc = rd_valtype(r, valtype)) || (rc = rd_byte(r, mut)))
		return rc;
	if (*mut > 1)
		return FAIL(r, "malformed mutability");
	return 0;
}

/* Section 1: vec(functype). */
static int
dec_type_section(struct decoder *d, struct rd *r)
{
	struct wasm_module *m = d->m;
	uint32_t cnt;
	int rc;
	if ((rc = rd_u32(r, &cnt)))
		return rc;
	if (cnt > m->len)
		return FAIL(r, "unexpected end");
	m->types = calloc(cnt ? cnt : 1, sizeof(*m->types));
	if (!m->types)
		return err_set(ERR_NOMEM, "oom");
	for (uint32_t i = 0; i < cnt; i++) {
		if ((rc = rd_functype(r, &m->types[i])))
			return rc;
		m->ntypes = i + 1;
	}
	return 0;
}

/* One import's description; imported functions, tables, memories and
 * globals come first in their index spaces. */
static int
dec_import_desc(struct decoder *d, struct rd *r, struct wasm_import *im)
{
	struct wasm_module *m = d->m;
	struct wasm_table tb;
	struct wasm_global g = { 0, 0, 0, 0 };
	int rc;

	switch (im->kind) {
	case WASM_EXT_FUNC:
		if ((rc = rd_u32(r, &im->type)))
			return rc;
		if (im->type >= m->ntypes)
			return FAIL(r, "unknown type");
		if ((rc = add_func(d, im->type)))
			return rc;
		m->nfunc_imports++;
		return 0;
	case WASM_EXT_TABLE:
		if ((rc = rd_tabletype(r, &tb)))
			return rc;
		im->valtype = tb.elemtype;
		im->lim = tb.lim;
		if ((rc = add_table(d, &tb)))
			return rc;
		m->ntable_imports++;
		return 0;
	case WASM_EXT_MEMORY:
		if ((rc = rd_limits(r, &im->lim, 65536, "memory")))
			return rc;
		if (m->nmems)
			return fail_at(r->sec, r->p, ERR_INVAL,
			    "multiple memories");
		m->mem = im->lim;
		m->nmems++;
		m->nmem_imports++;
		return 0;
	case WASM_EXT_GLOBAL:
		if ((rc = rd_globaltype(r, &im->valtype, &im->mut)))
			return rc;
		g.valtype = im->valtype;
		g.mut = im->mut;
		if ((rc = add_global(d, &g)))
			return rc;
		m->nglobal_imports++;
		return 0;
	default:
		return fail_at(r->sec, r->p - 1, ERR_INVAL,
		    "malformed import kind");
	}
}

/* Section 2: vec(module name, name, importdesc). */
static int
dec_import_section(struct decoder *d, struct rd *r)
{
	struct wasm_module *m = d->m;
	uint32_t cnt;
	int rc;
	if ((rc = rd_u32(r, &cnt)))
		return rc;
	if (cnt > m->len)
		return FAIL(r, "unexpected end");
	m->imports = calloc(cnt ? cnt : 1, sizeof(*m->imports));
	if (!m->imports)
		return err_set(ERR_NOMEM, "oom");
	for (uint32_t i = 0; i < cnt; i++) {
		struct wasm_import *im = &m->imports[i];
		if ((rc = rd_name(r, &im->module)) ||
		    (rc = rd_name(r, &im->name)) ||
		    (rc = rd_byte(r, &im->kind)))
			return rc;
		m->nimports = i + 1;
		if ((rc = dec_import_desc(d, r, im)))
			return rc;
	}
	return 0;
}

/* Section 3: the type index of each defined function. */
static int
dec_function_section(struct decoder *d, struct rd *r)
{
	struct wasm_module *m = d->m;
	uint32_t cnt, *ft;
	int rc;
	if ((rc = rd_u32(r, &cnt)))
		return rc;
	if (cnt > d->lim->max_funcs ||
	    (uint64_t)cnt + m->nfuncs > d->lim->max_funcs)
		return fail_at(r->sec, d->sec_start,
		    cnt > m->len ? ERR_INVAL : ERR_LIMIT, "too many functions");
	ft =
	    realloc(m->func_types, ((size_t)m->nfuncs + cnt + 1) * sizeof(*ft));
	if (!ft)
		return err_set(ERR_NOMEM, "oom");
	m->func_types = ft;
	d->cap_funcs = (size_t)m->nfuncs + cnt + 1;
	for (uint32_t i = 0; i < cnt; i++) {
		uint32_t t;
		if ((rc = rd_u32(r, &t)))
			return rc;
		if (t >= m->ntypes)
			return FAIL(r, "unknown type");
		m->func_types[m->nfuncs++] = t;
	}
	d->ndefined = cnt;
	return 0;
}

/* Section 4: vec(tabletype). */
static int
dec_table_section(struct decoder *d, struct rd *r)
{
	uint32_t cnt;
	int rc;
	if ((rc = rd_u32(r, &cnt)))
		return rc;
	for (uint32_t i = 0; i < cnt; i++) {
		struct wasm_table tb;
		if ((rc = rd_tabletype(r, &tb)))
			return rc;
		if (tb.lim.min > d->lim->max_table_size)
			return fail_at(r->sec, r->p, ERR_LIMIT,
			    "table minimum above the limit");
		if ((rc = add_table(d, &tb)))
			return rc;
	}
	return 0;
}

/* Section 5: vec(memtype), at most one memory in all. */
static int
dec_memory_section(struct decoder *d, struct rd *r)
{
	struct wasm_module *m = d->m;
	uint32_t cnt;
	int rc;
	if ((rc = rd_u32(r, &cnt)))
		return rc;
	for (uint32_t i = 0; i < cnt; i++) {
		struct wasm_limits l;
		if ((rc = rd_limits(r, &l, 65536, "memory")))
			return rc;
		if (m->nmems)
			return FAIL(r, "multiple memories");
		if (l.min > d->lim->max_memory_pages)
			return fail_at(r->sec, r->p, ERR_LIMIT,
			    "memory minimum above the limit");
		m->mem = l;
		m->nmems++;
	}
	return 0;
}

/* Section 6: vec(globaltype, constant initializer). */
static int
dec_global_section(struct decoder *d, struct rd *r)
{
	struct wasm_module *m = d->m;
	uint32_t cnt;
	int rc;
	if ((rc = rd_u32(r, &cnt)))
		return rc;
	for (uint32_t i = 0; i < cnt; i++) {
		struct wasm_global g;
		if ((rc = rd_globaltype(r, &g.valtype, &g.mut)))
			return rc;
		g.init_off = r->p;
		if ((rc = need_refs(d)) ||
		    (rc = const_expr(m, r, g.valtype, m->nglobal_imports,
		         d->refs, &g.init_len)) ||
		    (rc = add_global(d, &g)))
			return rc;
	}
	return 0;
}

/* One export: its kind and index are known, its name unique. */
static int
check_export(struct decoder *d, struct rd *r, uint32_t i)
{
	struct wasm_module *m = d->m;
	const struct wasm_export *ex = &m->exports[i];
	uint32_t lim = ex->kind == 0 ? m->nfuncs :
	    ex->kind == 1            ? m->ntables :
	    ex->kind == 2            ? m->nmems :
	    ex->kind == 3            ? m->nglobals :
	                               0;
	if (ex->kind > 3)
		return FAIL(r, "malformed export kind");
	if (ex->index >= lim)
		return FAIL(r, "unknown export target");
	if (ex->kind == 0)
		d->refs[ex->index] = 1;
	for (uint32_t j = 0; j < i; j++)
		if (m->exports[j].name.len == ex->name.len &&
		    memcmp(m->exports[j].name.s, ex->name.s, ex->name.len) == 0)
			return FAIL(r, "duplicate export name");
	return 0;
}

/* Section 7: vec(name, exportdesc). */
static int
dec_export_section(struct decoder *d, struct rd *r)
{
	struct wasm_module *m = d->m;
	uint32_t cnt;
	int rc;
	if ((rc = rd_u32(r, &cnt)))
		return rc;
	if (cnt > m->len)
		return FAIL(r, "unexpected end");
	m->exports = calloc(cnt ? cnt : 1, sizeof(*m->exports));
	if (!m->exports)
		return err_set(ERR_NOMEM, "oom");
	if ((rc = need_refs(d)))
		return rc;
	for (uint32_t i = 0; i < cnt; i++) {
		struct wasm_export *ex = &m->exports[i];
		if ((rc = rd_name(r, &ex->name)) ||
		    (rc = rd_byte(r, &ex->kind)) ||
		    (rc = rd_u32(r, &ex->index)))
			return rc;
		if ((rc = check_export(d, r, i)))
			return rc;
		m->nexports = i + 1;
	}
	return 0;
}

/* Section 8: the start function, of type [] -> []. */
static int
dec_start_section(struct decoder *d, struct rd *r)
{
	struct wasm_module *m = d->m;
	const struct wasm_functype *ft;
	int rc;
	if ((rc = rd_u32(r, &m->start)))
		return rc;
	if (m->start >= m->nfuncs)
		return FAIL(r, "unknown function");
	ft = &m->types[m->func_types[m->start]];
	if (ft->nparams || ft->nresults)
		return FAIL(r, "start function must be [] -> []");
	m->has_start = 1;
	return 0;
}

/* An element segment's function index (the forms without expressions). */
static int
rd_elem_func(struct decoder *d, struct rd *r)
{
	uint32_t f;
	int rc;
	if ((rc = rd_u32(r, &f)))
		return rc;
	if (f >= d->m->nfuncs)
		return FAIL(r, "unknown function");
	d->refs[f] = 1;
	return 0;
}

/* One element segment; flags bit 0 passive or declarative, bit 1 an
 * explicit table index or element kind, bit 2 expressions rather than
 * function indices (§5.5.12).  *et: its reference type. */
static int
dec_elem_segment(struct decoder *d, struct rd *r, uint8_t *et_out)
{
	struct wasm_module *m = d->m;
	uint32_t flags, tidx = 0, n;
	uint8_t et = WASM_FUNCREF;
	int rc;

	if ((rc = rd_u32(r, &flags)))
		return rc;
	if (flags > 7)
		return FAIL(r, "malformed elements segment kind");
	int passive = flags & 1, explicit_tbl = flags & 2, exprs = flags & 4;
	if (!passive) {
		if (explicit_tbl && (rc = rd_u32(r, &tidx)))
			return rc;
		if (tidx >= m->ntables)
			return FAIL(r, "unknown table");
		if ((rc = const_expr(m, r, WASM_I32, m->nglobal_imports,
		         d->refs, NULL)))
			return rc;
	}
	if (passive || explicit_tbl) {
		if ((rc = rd_byte(r, &et)))
			return rc;
		if (!exprs) {
			if (et != 0x00)
				return FAIL(r, "malformed element kind");
			et = WASM_FUNCREF;
		} else if (!is_reftype(et)) {
			return FAIL(r, "malformed reference type");
		}
	}
	if (!passive && m->tables[tidx].elemtype != et)
		return FAIL(r, "type mismatch: element segment and table");
	if ((rc = rd_u32(r, &n)))
		return rc;
	for (uint32_t j = 0; j < n; j++) {
		rc = exprs ?
		    const_expr(m, r, et, m->nglobal_imports, d->refs, NULL) :
		    rd_elem_func(d, r);
		if (rc)
			return rc;
	}
	*et_out = et;
	return 0;
}

/* Section 9: vec(elem). */
static int
dec_element_section(struct decoder *d, struct rd *r)
{
	struct wasm_module *m = d->m;
	uint32_t cnt;
	int rc;
	if ((rc = rd_u32(r, &cnt)))
		return rc;
	if (cnt > m->len)
		return FAIL(r, "unexpected end");
	if ((rc = need_refs(d)))
		return rc;
	d->elem_types = calloc(cnt ? cnt : 1, 1);
	if (!d->elem_types)
		return err_set(ERR_NOMEM, "oom");
	for (uint32_t i = 0; i < cnt; i++) {
		if ((rc = dec_elem_segment(d, r, &d->elem_types[i])))
			return rc;
		m->nelems = i + 1;
	}
	return 0;
}

/* Section 10: vec(code), one per defined function, each validated. */
static int
dec_code_section(struct decoder *d, struct rd *r)
{
	struct wasm_module *m = d->m;
	uint32_t cnt;
	int rc;
	if ((rc = rd_u32(r, &cnt)))
		return rc;
	d->have_code = 1;
	if (cnt != d->ndefined)
		return fail_at(r->sec, d->sec_start, ERR_INVAL,
		    "function and "
		    "code section have inconsistent lengths");
	if ((rc = need_refs(d)))
		return rc;
	if (!d->elem_types && !(d->elem_types = calloc(1, 1)))
		return err_set(ERR_NOMEM, "oom");
	m->codes = calloc(cnt ? cnt : 1, sizeof(*m->codes));
	if (!m->codes)
		return err_set(ERR_NOMEM, "oom");
	for (uint32_t i = 0; i < cnt; i++) {
		uint32_t size;
		if ((rc = rd_u32(r, &size)))
			return rc;
		if (size > r->end - r->p)
			return FAIL(r, "unexpected end (function body)");
		if (size > d->lim->max_body_bytes)
			return fail_at(r->sec, r->p, ERR_LIMIT,
			    "function body above the size "
			    "limit");
		m->codes[i].off = r->p;
		m->codes[i].len = size;
		r->p += size;
		m->ncodes = i + 1;
		if ((rc = validate_body(m, m->nfunc_imports + i, &m->codes[i],
		         d->lim, d->refs, d->elem_types)))
			return rc;
	}
	return 0;
}

/* One data segment; flags 0 active in memory 0, 1 passive, 2 active
 * with an explicit memory index. */
static int
dec_data_segment(struct decoder *d, struct rd *r)
{
	struct wasm_module *m = d->m;
	uint32_t flags, midx = 0, n;
	int rc;
	if ((rc = rd_u32(r, &flags)))
		return rc;
	if (flags > 2)
		return FAIL(r, "malformed data segment kind");
	if (flags != 1) {
		if (flags == 2 && (rc = rd_u32(r, &midx)))
			return rc;
		if (midx >= m->nmems)
			return FAIL(r, "unknown memory");
		if ((rc = const_expr(m, r, WASM_I32, m->nglobal_imports, NULL,
		         NULL)))
			return rc;
	}
	if ((rc = rd_u32(r, &n)))
		return rc;
	if (n > r->end - r->p)
		return FAIL(r,
		    "unexpected end of section or "
		    "function");
	r->p += n;
	return 0;
}

/* Section 11: vec(data). */
static int
dec_data_section(struct decoder *d, struct rd *r)
{
	struct wasm_module *m = d->m;
	uint32_t cnt;
	int rc;
	if ((rc = rd_u32(r, &cnt)))
		return rc;
	if (m->has_datacount && cnt != m->ndatas)
		return fail_at(r->sec, d->sec_start, ERR_INVAL,
		    "data count and "
		    "data section have inconsistent lengths");
	for (uint32_t i = 0; i < cnt; i++)
		if ((rc = dec_data_segment(d, r)))
			return rc;
	if (!m->has_datacount)
		m->ndatas = cnt;
	return 0;
}

/* Section 12: the number of data segments, for memory.init and
 * data.drop in the code section before the data section. */
static int
dec_datacount_section(struct decoder *d, struct rd *r)
{
	int rc;
	if ((rc = rd_u32(r, &d->m->ndatas)))
		return rc;
	d->m->has_datacount = 1;
	return 0;
}

static int (*const sec_decoders[13])(struct decoder *, struct rd *) = {
	[1] = dec_type_section,
	[2] = dec_import_section,
	[3] = dec_function_section,
	[4] = dec_table_section,
	[5] = dec_memory_section,
	[6] = dec_global_section,
	[7] = dec_export_section,
	[8] = dec_start_section,
	[9] = dec_element_section,
	[10] = dec_code_section,
	[11] = dec_data_section,
	[12] = dec_datacount_section,
};

/* The section at *p: its id and size, its place in the order, then its
 * payload, which must be read exactly.  *p moves past it. */
static int
dec_section(struct decoder *d, size_t *p)
{
	struct wasm_module *m = d->m;
	uint8_t id = m->bytes[*p];
	size_t sp = *p + 1;
	uint32_t size;
	int rc;

	if (id > 12)
		return err_set(ERR_INVAL,
		    "offset %zu: malformed section "
		    "id %u",
		    *p, id);
	if ((rc = wasm_read_u32(m->bytes, &sp, m->len, &size)))
		return err_prefix(rc, "%s section header", sec_names[id]);
	if (size > m->len - sp)
		return err_set(ERR_INVAL,
		    "%s section, offset %zu: "
		    "section size %u runs past the end (unexpected "
		    "end)",
		    sec_names[id], *p, size);
	struct rd r = { m->bytes, sp, sp + size, sec_names[id] };
	*p = sp + size;
	if (id == 0) {
		struct wasm_name nm;
		return rd_name(&r, &nm);
	}
	if (sec_rank(id) <= d->last_rank)
		return fail_at(r.sec, sp, ERR_INVAL,
		    "unexpected content "
		    "after last section (junk or duplicate section)");
	d->last_rank = sec_rank(id);
	m->sec_off[id] = sp;
	m->sec_len[id] = size;
	d->sec_start = sp;
	if ((rc = sec_decoders[id](d, &r)))
		return rc;
	if (r.p != r.end)
		return fail_at(r.sec, r.p, ERR_INVAL, "section size mismatch");
	return 0;
}

static int
check_header(const uint8_t *bytes, size_t len,
    const struct wasm_decode_limits *limits)
{
	if (len > limits->max_module_bytes)
		return err_set(ERR_LIMIT,
		    "module is %zu bytes, more than the "
		    "limit of %zu",
		    len, limits->max_module_bytes);
	if (len < 4 || memcmp(bytes, "\0asm", 4) != 0)
		return err_set(ERR_INVAL,
		    "header, offset 0: magic header not "
		    "detected");
	if (len < 8 || memcmp(bytes + 4, "\1\0\0\0", 4) != 0)
		return err_set(ERR_INVAL,
		    "header, offset 4: unknown binary "
		    "version");
	return 0;
}

/* What can only be checked once every section has been read. */
static int
check_sections_agree(const struct decoder *d)
{
	const struct wasm_module *m = d->m;
	if (d->ndefined && !d->have_code)
		return err_set(ERR_INVAL,
		    "function and code section have "
		    "inconsistent lengths");
	if (m->has_datacount && m->ndatas && !m->sec_len[11] && !m->sec_off[11])
		return err_set(ERR_INVAL,
		    "data count and data section have "
		    "inconsistent lengths");
	if (m->nmem_imports == 0 && m->nmems &&
	    m->mem.min > d->lim->max_memory_pages)
		return err_set(ERR_LIMIT, "memory minimum above the limit");
	return 0;
}

int
wasm_module_decode(const uint8_t *bytes, size_t len,
    const struct wasm_decode_limits *limits, struct wasm_module **out)
{
	struct wasm_decode_limits dl;
	struct decoder d = { .m = NULL };
	int rc;

	if (!single_types[WASM_I32])
		for (int i = 0; i < 256; i++)
			single_types[i] = (uint8_t)i;
	if (!limits) {
		wasm_decode_limits_default(&dl);
		limits = &dl;
	}
	*out = NULL;
	if ((rc = check_header(bytes, len, limits)))
		return rc;
	d.lim = limits;
	d.m = calloc(1, sizeof(*d.m));
	if (!d.m || !(d.m->bytes = malloc(len ? len : 1))) {
		free(d.m);
		return err_set(ERR_NOMEM, "out of memory");
	}
	memcpy(d.m->bytes, bytes, len);
	d.m->len = len;
	size_t p = 8;
	while (p < len && !rc)
		rc = dec_section(&d, &p);
	if (!rc)
		rc = check_sections_agree(&d);
	free(d.refs);
	free(d.elem_types);
	if (rc) {
		wasm_module_free(d.m);
		return rc;
	}
	*out = d.m;
	return 0;
}
