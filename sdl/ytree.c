/*
 * ytree: libyaml events folded into a node tree with positions.  Anchors
 * are registered when their node is complete, so an alias can never point
 * into its own ancestor (no cycles); expansion through aliases is bounded
 * by weighing every node by the nodes it stands for.
 */
#include "sdl/ytree.h"

#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/err.h"
#include "sdl/sdl.h"

struct yanchor {
	char *name;
	struct ynode *node;
};

struct ybuild {
	struct ytree *t;
	struct ynode *stack[SDL_MAX_DEPTH + 1];
	char *stack_anchor[SDL_MAX_DEPTH + 1];
	int depth;
	uint32_t line, col;
};

static struct ynode *
node_new(struct ytree *t, enum ynode_kind kind, const yaml_mark_t *mark)
{
	struct ynode *n;

	if (t->nall == t->capall) {
		size_t cap = t->capall ? t->capall * 2 : 64;
		struct ynode **all = realloc(t->all, cap * sizeof(*all));
		if (!all)
			return NULL;
		t->all = all;
		t->capall = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->kind = kind;
	n->line = (uint32_t)mark->line + 1;
	n->col = (uint32_t)mark->column + 1;
	n->weight = 1;
	t->all[t->nall++] = n;
	return n;
}

static int
seq_push(struct ynode *parent, struct ynode *child)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct ynode **items =
		    realloc(parent->items, cap * sizeof(*items));
		if (!items)
			return ERR_NOMEM;
		parent->items = items;
		parent->cap = cap;
	}
	parent->items[parent->n++] = child;
	return 0;
}

/* Append child to a sequence or as the next half of a mapping pair. */
static int
attach(struct ybuild *b, struct ynode *child)
{
	struct ynode *parent;

	if (b->depth == 0) {
		if (b->t->root == NULL)
			b->t->root = child;
		return 0;
	}
	parent = b->stack[b->depth - 1];
	if (parent->kind == YN_SEQ) {
		if (seq_push(parent, child))
			return ERR_NOMEM;
	} else {
		/* mapping: n counts complete pairs; a key waits in
		 * items[2n] for its value */
		if (parent->cap < (parent->n + 1) * 2) {
			size_t cap = parent->cap ? parent->cap * 2 : 8;
			struct ynode **items =
			    realloc(parent->items, cap * sizeof(*items));
			if (!items)
				return ERR_NOMEM;
			memset(items + parent->cap, 0,
			    (cap - parent->cap) * sizeof(*items));
			parent->items = items;
			parent->cap = cap;
		}
		if (parent->items[parent->n * 2] == NULL) {
			parent->items[parent->n * 2] = child;
		} else {
			parent->items[parent->n * 2 + 1] = child;
			parent->n++;
		}
	}
	parent->weight += child->weight;
	if (parent->weight > SDL_MAX_NODES)
		return err_set(ERR_LIMIT,
		    "document too large: more than %d "
		    "nodes after expanding aliases",
		    SDL_MAX_NODES);
	return 0;
}

static int
anchor_add(struct ytree *t, const char *name, struct ynode *n)
{
	if (t->nanchors == t->capanchors) {
		size_t cap = t->capanchors ? t->capanchors * 2 : 8;
		struct yanchor *a = realloc(t->anchors, cap * sizeof(*a));
		if (!a)
			return ERR_NOMEM;
		t->anchors = a;
		t->capanchors = cap;
	}
	t->anchors[t->nanchors].name = strdup(name);
	if (!t->anchors[t->nanchors].name)
		return ERR_NOMEM;
	t->anchors[t->nanchors].node = n;
	t->nanchors++;
	return 0;
}

static struct ynode *
anchor_find(struct ytree *t, const char *name)
{
	/* the latest definition wins, as YAML specifies */
	for (size_t i = t->nanchors; i > 0; i--)
		if (strcmp(t->anchors[i - 1].name, name) == 0)
			return t->anchors[i - 1].node;
	return NULL;
}

static bool
match_int(const char *s, size_t len)
{
	size_t i = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		for (i = 2; i < len; i++) {
			char c = s[i];
			if (s[1] == 'o' ? !(c >= '0' && c <= '7') :
			                  !((c >= '0' && c <= '9') ||
			                      (c >= 'a' && c <= 'f') ||
			                      (c >= 'A' && c <= 'F')))
				return false;
		}
		return true;
	}
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i == len)
		return false;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool
match_float(const char *s, size_t len)
{
	size_t i = 0, digits = 0;
	static const char *const special[] = { ".inf", ".Inf", ".INF", "-.inf",
		"-.Inf", "-.INF", "+.inf", "+.Inf", "+.INF", ".nan", ".NaN",
		".NAN" };

	for (size_t k = 0; k < sizeof(special) / sizeof(special[0]); k++)
		if (strlen(special[k]) == len &&
		    memcmp(s, special[k], len) == 0)
			return true;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	}
	if (digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t ed = 0;
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, ed++;
		if (ed == 0)
			return false;
	}
	return i == len;
}

static bool
eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static enum yscalar_type
resolve(const char *s, size_t len, bool plain, const char *tag)
{
	if (tag) {
		if (strcmp(tag, "tag:yaml.org,2002:str") == 0 ||
		    strcmp(tag, "tag:yaml.org,2002:binary") == 0)
			return YS_STR;
		if (tag[0] == '!' && strcmp(tag, "!") != 0)
			return YS_STR; /* unknown local tag: text */
		if (strncmp(tag, "tag:yaml.org,2002:", 18) != 0)
			return YS_STR;
		plain = true;
	}
	if (!plain)
		return YS_STR;
	if (len == 0 || eq(s, len, "~") || eq(s, len, "null") ||
	    eq(s, len, "Null") || eq(s, len, "NULL"))
		return YS_NULL;
	if (eq(s, len, "true") || eq(s, len, "True") || eq(s, len, "TRUE") ||
	    eq(s, len, "false") || eq(s, len, "False") || eq(s, len, "FALSE"))
		return YS_BOOL;
	if (match_int(s, len))
		return YS_INT;
	if (match_float(s, len))
		return YS_FLOAT;
	return YS_STR;
}

struct keyref {
	struct ynode *key, *val;
	size_t order;
	bool explicit_;
};

static int
keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	size_t n = x->key->len < y->key->len ? x->key->len : y->key->len;
	int c = memcmp(x->key->val, y->key->val, n);

	if (c)
		return c;
	if (x->key->len != y->key->len)
		return x->key->len < y->key->len ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static bool
is_merge_key(const struct ynode *k)
{
	return k->kind == YN_SCALAR && k->plain && k->len == 2 &&
	    memcmp(k->val, "<<", 2) == 0;
}

static int
refs_add(struct keyref **refs, size_t *n, size_t *cap, struct ynode *k,
    struct ynode *v, bool explicit_)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct keyref *r = realloc(*refs, c * sizeof(*r));
		if (!r)
			return ERR_NOMEM;
		*refs = r;
		*cap = c;
	}
	(*refs)[*n] = (struct keyref){ k, v, *n, explicit_ };
	(*n)++;
	return 0;
}

/* Finish a mapping: apply merge keys, refuse duplicates and non-scalar
 * keys, and leave the pairs sorted by key. */
static int
map_finish(struct ybuild *b, struct ynode *m)
{
	struct keyref *refs = NULL;
	size_t n = 0, cap = 0, out = 0;
	int rc = 0;

	for (size_t i = 0; i < m->n; i++) {
		struct ynode *k = YMAP_KEY(m, i), *v = YMAP_VAL(m, i);
		if (k->kind != YN_SCALAR) {
			b->line = k->line, b->col = k->col;
			rc = err_set(ERR_INVAL,
			    "a mapping key must be a "
			    "scalar");
			goto fail;
		}
		if (is_merge_key(k))
			continue;
		if ((rc = refs_add(&refs, &n, &cap, k, v, true)))
			goto fail;
	}
	for (size_t i = 0; i < m->n; i++) {
		struct ynode *k = YMAP_KEY(m, i), *v = YMAP_VAL(m, i);
		size_t nsrc = 1;
		struct ynode *const *src = &v;

		if (!is_merge_key(k))
			continue;
		if (v->kind == YN_SEQ) {
			nsrc = v->n;
			src = v->items;
		}
		for (size_t s = 0; s < nsrc; s++) {
			if (src[s]->kind != YN_MAP) {
				b->line = src[s]->line, b->col = src[s]->col;
				rc = err_set(ERR_INVAL,
				    "a merge key (<<) needs "
				    "a mapping or a list of mappings");
				goto fail;
			}
			for (size_t j = 0; j < src[s]->n; j++) {
				if ((rc = refs_add(&refs, &n, &cap,
				         YMAP_KEY(src[s], j),
				         YMAP_VAL(src[s], j), false)))
					goto fail;
			}
		}
	}
	if (n)
		qsort(refs, n, sizeof(*refs), keyref_cmp);
	if (n * 2 > m->cap) {
		struct ynode **items =
		    realloc(m->items, n * 2 * sizeof(*items));
		if (!items) {
			rc = ERR_NOMEM;
			goto fail;
		}
		m->items = items;
		m->cap = n * 2;
	}
	for (size_t i = 0; i < n; i++) {
		if (out > 0) {
			struct ynode *prev = m->items[2 * (out - 1)];
			if (prev->len == refs[i].key->len &&
			    memcmp(prev->val, refs[i].key->val, prev->len) ==
			        0) {
				if (refs[i].explicit_) {
					b->line = refs[i].key->line;
					b->col = refs[i].key->col;
					rc = err_set(ERR_INVAL,
					    "duplicate key "
					    "\"%.*s\"",
					    (int)(prev->len > 200 ? 200 :
					                            prev->len),
					    prev->val);
					goto fail;
				}
				continue; /* merged value loses */
			}
		}
		if (!refs[i].explicit_) {
			m->weight += refs[i].key->weight + refs[i].val->weight;
			if (m->weight > SDL_MAX_NODES) {
				rc = err_set(ERR_LIMIT,
				    "document too large: "
				    "more than %d nodes after expanding "
				    "aliases",
				    SDL_MAX_NODES);
				goto fail;
			}
		}
		m->items[2 * out] = refs[i].key;
		m->items[2 * out + 1] = refs[i].val;
		out++;
	}
	m->n = out;
fail:
	free(refs);
	return rc;
}

static int
build(struct ybuild *b, yaml_parser_t *p)
{
	yaml_event_t ev;
	int rc = 0, docs = 0;

	for (;;) {
		struct ynode *n = NULL;
		const char *anchor = NULL;

		if (!yaml_parser_parse(p, &ev)) {
			b->line = (uint32_t)p->problem_mark.line + 1;
			b->col = (uint32_t)p->problem_mark.column + 1;
			if (p->error == YAML_MEMORY_ERROR)
				return err_set(ERR_NOMEM, "out of memory");
			return err_set(ERR_INVAL, "YAML syntax: %s%s%s",
			    p->problem ? p->problem : "error",
			    p->context ? " " : "",
			    p->context ? p->context : "");
		}
		b->line = (uint32_t)ev.start_mark.line + 1;
		b->col = (uint32_t)ev.start_mark.column + 1;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return 0;
		case YAML_DOCUMENT_START_EVENT:
			docs++;
			break;
		case YAML_DOCUMENT_END_EVENT:
			/* only the first document counts, as in yaml.v3 */
			yaml_event_delete(&ev);
			return 0;
		case YAML_ALIAS_EVENT:
			n = anchor_find(b->t,
			    (const char *)ev.data.alias.anchor);
			if (!n) {
				rc = err_set(ERR_INVAL, "unknown anchor \"%s\"",
				    (const char *)ev.data.alias.anchor);
				break;
			}
			rc = attach(b, n);
			break;
		case YAML_SCALAR_EVENT:
			if (ev.data.scalar.length > SDL_MAX_STRING) {
				rc = err_set(ERR_LIMIT,
				    "scalar longer than %d "
				    "bytes",
				    SDL_MAX_STRING);
				break;
			}
			n = node_new(b->t, YN_SCALAR, &ev.start_mark);
			if (!n ||
			    !(n->val = malloc(ev.data.scalar.length + 1))) {
				rc = ERR_NOMEM;
				break;
			}
			if (ev.data.scalar.length)
				memcpy(n->val, ev.data.scalar.value,
				    ev.data.scalar.length);
			n->val[ev.data.scalar.length] = '\0';
			n->len = ev.data.scalar.length;
			n->plain =
			    ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			n->type = resolve(n->val, n->len, n->plain,
			    (const char *)ev.data.scalar.tag);
			anchor = (const char *)ev.data.scalar.anchor;
			if ((rc = attach(b, n)))
				break;
			if (anchor)
				rc = anchor_add(b->t, anchor, n);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (b->depth >= SDL_MAX_DEPTH) {
				rc = err_set(ERR_LIMIT,
				    "nesting deeper than %d", SDL_MAX_DEPTH);
				break;
			}
			n = node_new(b->t,
			    ev.type == YAML_SEQUENCE_START_EVENT ? YN_SEQ :
			                                           YN_MAP,
			    &ev.start_mark);
			if (!n) {
				rc = ERR_NOMEM;
				break;
			}
			anchor = ev.type == YAML_SEQUENCE_START_EVENT ?
			    (const char *)ev.data.sequence_start.anchor :
			    (const char *)ev.data.mapping_start.anchor;
			b->stack_anchor[b->depth] =
			    anchor ? strdup(anchor) : NULL;
			if (anchor && !b->stack_anchor[b->depth]) {
				rc = ERR_NOMEM;
				break;
			}
			b->stack[b->depth++] = n;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			n = b->stack[--b->depth];
			anchor = b->stack_anchor[b->depth];
			b->stack_anchor[b->depth] = NULL;
			if (n->kind == YN_MAP)
				rc = map_finish(b, n);
			if (!rc)
				rc = attach(b, n);
			if (!rc && anchor)
				rc = anchor_add(b->t, anchor, n);
			free((char *)anchor);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc)
			return rc;
		(void)docs;
	}
}

int
ytree_parse(const char *buf, size_t len, struct ytree **out, uint32_t *line,
    uint32_t *col)
{
	yaml_parser_t p;
	struct ybuild b;
	int rc;

	*out = NULL;
	*line = *col = 0;
	memset(&b, 0, sizeof(b));
	b.t = calloc(1, sizeof(*b.t));
	if (!b.t)
		return err_set(ERR_NOMEM, "out of memory");
	if (!yaml_parser_initialize(&p)) {
		free(b.t);
		return err_set(ERR_NOMEM, "out of memory");
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	rc = build(&b, &p);
	yaml_parser_delete(&p);
	for (int i = 0; i < SDL_MAX_DEPTH + 1; i++)
		free(b.stack_anchor[i]);
	if (rc) {
		*line = b.line;
		*col = b.col;
		ytree_free(b.t);
		if (rc == ERR_NOMEM)
			err_set(ERR_NOMEM, "out of memory");
		return rc;
	}
	*out = b.t;
	return 0;
}

void
ytree_free(struct ytree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nall; i++) {
		free(t->all[i]->val);
		free(t->all[i]->items);
		free(t->all[i]);
	}
	for (size_t i = 0; i < t->nanchors; i++)
		free(t->anchors[i].name);
	free(t->anchors);
	free(t->all);
	free(t);
}

struct ynode *
ytree_get(const struct ynode *map, const char *key)
{
	size_t lo = 0, hi, klen = strlen(key);

	if (!map || map->kind != YN_MAP)
		return NULL;
	hi = map->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct ynode *k = YMAP_KEY(map, mid);
		size_t n = k->len < klen ? k->len : klen;
		int c = memcmp(k->val, key, n);
		if (c == 0 && k->len != klen)
			c = k->len < klen ? -1 : 1;
		if (c == 0)
			return YMAP_VAL(map, mid);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
