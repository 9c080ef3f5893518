/*
 * ytree: a YAML document read with libyaml into a tree of nodes that keep
 * their line and column.  Anchors and aliases are resolved (an alias shares
 * its anchor's node), merge keys ("<<") are applied, duplicate keys are
 * refused, and size, depth and alias expansion are bounded.  Internal to
 * sdl/.
 */
#ifndef LODGE_SDL_YTREE_H
#define LODGE_SDL_YTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ynode_kind { YN_SCALAR = 1, YN_SEQ, YN_MAP };

/* How a scalar resolves under YAML 1.2's core schema (as yaml.v3). */
enum yscalar_type { YS_STR = 1, YS_NULL, YS_BOOL, YS_INT, YS_FLOAT };

struct ynode {
	enum ynode_kind kind;
	uint32_t line, col; /* 1-based */
	/* YN_SCALAR */
	char *val;
	size_t len;
	enum yscalar_type type;
	bool plain;
	/* YN_SEQ: items[0..n); YN_MAP: items are key, value pairs, n pairs */
	struct ynode **items;
	size_t n;
	size_t cap;
	uint64_t weight; /* nodes below, counting alias expansion */
};

struct ytree {
	struct ynode *root; /* NULL for an empty document */
	struct ynode **all; /* every node, for freeing */
	size_t nall, capall;
	struct yanchor *anchors;
	size_t nanchors, capanchors;
};

/* Parse buf into *out (caller frees with ytree_free).  On error returns
 * ERR_INVAL (syntax, duplicate key, unknown alias; line and col set) or
 * ERR_LIMIT / ERR_NOMEM, with err_set holding the message (without the
 * position, which is returned separately). */
int ytree_parse(const char *buf, size_t len, struct ytree **out, uint32_t *line,
    uint32_t *col);
void ytree_free(struct ytree *t);

/* Map lookup: the value node for key, or NULL. */
struct ynode *ytree_get(const struct ynode *map, const char *key);
#define YMAP_KEY(m, i) ((m)->items[2 * (i)])
#define YMAP_VAL(m, i) ((m)->items[2 * (i) + 1])

#endif
