/*
 * tiles: C2SP tlog-tiles paths, entry bundles, the incremental writer
 * and the reader (see tiles.h).
 */
#include "ledger/tiles.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/http.h"
#include "common/util.h"
#include "ledger/note.h"

#define TILE_BYTES (TILES_WIDTH * MERKLE_HASH_LEN)
#define BUNDLE_MAX ((size_t)TILES_WIDTH * (TILES_MAX_ENTRY + 2))
#define NOTE_MAX (64 * 1024)
#define FETCH_MS 30000
#define CACHE_TILES 64

/* ---- paths ---------------------------------------------------------- */

int
tiles_path(int level, uint64_t n, unsigned width, char *buf, size_t cap)
{
	unsigned groups[8];
	size_t k = 0, off;
	int w;

	if (level < TILES_ENTRIES || level > TILES_MAX_LEVEL)
		return err_set(ERR_INVAL, "tile level %d: expected 0-%d", level,
		    TILES_MAX_LEVEL);
	if (width > TILES_WIDTH)
		return err_set(ERR_INVAL, "tile width %u: expected 1-%d", width,
		    TILES_WIDTH);
	do {
		groups[k++] = (unsigned)(n % 1000);
		n /= 1000;
	} while (n > 0);
	if (level == TILES_ENTRIES)
		w = snprintf(buf, cap, "tile/entries/");
	else
		w = snprintf(buf, cap, "tile/%d/", level);
	if (w < 0 || (size_t)w >= cap)
		goto small;
	off = (size_t)w;
	while (k > 0) {
		k--;
		w = snprintf(buf + off, cap - off, k ? "x%03u/" : "%03u",
		    groups[k]);
		if (w < 0 || (size_t)w >= cap - off)
			goto small;
		off += (size_t)w;
	}
	if (width != 0 && width != TILES_WIDTH) {
		w = snprintf(buf + off, cap - off, ".p/%u", width);
		if (w < 0 || (size_t)w >= cap - off)
			goto small;
	}
	return 0;
small:
	return err_set(ERR_LIMIT, "tile path longer than %zu bytes", cap);
}

/* A decimal without leading zero at *p, at most max; advances *p. */
static int
parse_small(const char **p, unsigned max, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return -1;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned)(*s++ - '0');
		if (v > max)
			return -1;
	}
	*p = s;
	*out = v;
	return 0;
}

static int
three_digits(const char *s, unsigned *out)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
	    s[2] < '0' || s[2] > '9')
		return -1;
	*out =
	    (unsigned)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
	return 0;
}

int
tiles_path_parse(const char *path, int *level, uint64_t *n, unsigned *width)
{
	const char *p = path;
	unsigned v, g, ngroups = 0;
	uint64_t acc = 0;

	if (strncmp(p, "tile/", 5) != 0)
		return err_set(ERR_INVAL,
		    "tile path '%.80s': expected it to "
		    "start with \"tile/\"",
		    path);
	p += 5;
	if (strncmp(p, "entries/", 8) == 0) {
		*level = TILES_ENTRIES;
		p += 8;
	} else {
		if (parse_small(&p, TILES_MAX_LEVEL, &v) < 0 || *p != '/')
			return err_set(ERR_INVAL,
			    "tile path '%.80s': expected a "
			    "level 0-%d or \"entries\" after \"tile/\"",
			    path, TILES_MAX_LEVEL);
		*level = (int)v;
		p++;
	}
	for (;;) {
		int x = *p == 'x';

		if (three_digits(p + x, &g) < 0)
			goto bad_index;
		/* no redundant leading group, no 65th bit */
		if ((ngroups == 0 && x && g == 0) ||
		    acc > (UINT64_MAX - g) / 1000)
			goto bad_index;
		acc = acc * 1000 + g;
		ngroups++;
		p += x + 3;
		if (!x)
			break;
		if (*p != '/')
			goto bad_index;
		p++;
	}
	*n = acc;
	*width = TILES_WIDTH;
	if (*p == '\0')
		return 0;
	if (strncmp(p, ".p/", 3) != 0)
		goto bad_index;
	p += 3;
	if (parse_small(&p, TILES_WIDTH - 1, &v) < 0 || v == 0 || *p != '\0')
		return err_set(ERR_INVAL,
		    "tile path '%.80s': a partial width is "
		    "1-%d without leading zero",
		    path, TILES_WIDTH - 1);
	*width = v;
	return 0;
bad_index:
	return err_set(ERR_INVAL,
	    "tile path '%.80s': expected the index as "
	    "3-digit groups, all but the last prefixed by 'x' (1234067 is "
	    "x001/x234/067), then nothing or .p/<width>",
	    path);
}

/* ---- entry bundles -------------------------------------------------- */

int
tiles_bundle_encode(const char *const *entries, const size_t *lens, size_t n,
    uint8_t **out, size_t *out_len)
{
	size_t total = 0, i;
	uint8_t *buf, *p;

	*out = NULL;
	for (i = 0; i < n; i++) {
		if (lens[i] > TILES_MAX_ENTRY)
			return err_set(ERR_LIMIT,
			    "entry %zu is %zu bytes; a "
			    "tlog-tiles entry bundle holds at most %d",
			    i, lens[i], TILES_MAX_ENTRY);
		total += 2 + lens[i];
	}
	if ((buf = malloc(total ? total : 1)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (p = buf, i = 0; i < n; i++) {
		*p++ = (uint8_t)(lens[i] >> 8);
		*p++ = (uint8_t)lens[i];
		memcpy(p, entries[i], lens[i]);
		p += lens[i];
	}
	*out = buf;
	*out_len = total;
	return 0;
}

int
tiles_bundle_foreach(const uint8_t *data, size_t len, uint64_t first,
    size_t count, store_leaf_fn fn, void *ctx)
{
	size_t off = 0, i, elen;
	int rc;

	for (i = 0; count == 0 ? off < len : i < count; i++) {
		if (len - off < 2)
			return err_set(ERR_CORRUPT,
			    "entry bundle: entry %" PRIu64 " "
			    "(byte %zu): expected a 2-byte length",
			    first + i, off);
		elen = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len - off < elen)
			return err_set(ERR_CORRUPT,
			    "entry bundle: entry %" PRIu64 " "
			    "is %zu bytes but the bundle ends after %zu",
			    first + i, elen, len - off);
		if ((rc = fn(ctx, first + i, -1, (const char *)data + off,
		         elen)) != 0)
			return rc;
		off += elen;
	}
	return 0;
}

/* ---- the writer ----------------------------------------------------- */

/* Write data to dir/rel (creating directories) unless it exists: a tile
 * of a given width never changes once written (previous_size checked
 * that dir holds this history). */
static int
put_file(const char *dir, const char *rel, const void *data, size_t len,
    struct tiles_report *rep)
{
	char path[4096], *slash;
	struct stat st;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >=
	    sizeof(path))
		return err_set(ERR_LIMIT, "%s/%s: path too long", dir, rel);
	if (stat(path, &st) == 0) {
		rep->kept++;
		return 0;
	}
	slash = strrchr(path, '/');
	*slash = '\0';
	rc = util_mkdirs(path, 0755);
	*slash = '/';
	if (rc < 0 || (rc = util_write_file(path, data, len, 0644)) < 0)
		return rc;
	rep->written++;
	return 0;
}

/* 1 (counted as kept) when dir/rel exists already. */
static int
stat_kept(const char *dir, const char *rel, struct tiles_report *rep)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (stat(path, &st) != 0)
		return 0;
	rep->kept++;
	return 1;
}

/* The hashes of tile (level, n) of width w from the store. */
static int
write_tile(struct store *s, const char *dir, int level, uint64_t n, unsigned w,
    struct tiles_report *rep)
{
	uint8_t data[TILE_BYTES];
	struct merkle_reader r;
	char rel[TILES_PATH_MAX];
	unsigned i;
	int rc;

	if ((rc = tiles_path(level, n, w, rel, sizeof(rel))) < 0)
		return rc;
	if (stat_kept(dir, rel, rep))
		return 0;
	store_reader(s, &r);
	for (i = 0; i < w; i++)
		if ((rc = r.get(r.ctx, (unsigned)level * TILES_HEIGHT,
		         n * TILES_WIDTH + i, data + i * MERKLE_HASH_LEN)) < 0)
			return err_prefix(rc, "%s", rel);
	return put_file(dir, rel, data, w * MERKLE_HASH_LEN, rep);
}

struct bundle_acc {
	uint8_t *buf;
	size_t len;
};

static int
bundle_leaf(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct bundle_acc *b = ctx;

	(void)time;
	if (len > TILES_MAX_ENTRY)
		return err_set(ERR_LIMIT,
		    "index %" PRIu64 ": the leaf is %zu bytes; "
		    "a tlog-tiles entry bundle holds at most %d",
		    idx, len, TILES_MAX_ENTRY);
	b->buf[b->len++] = (uint8_t)(len >> 8);
	b->buf[b->len++] = (uint8_t)len;
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	return 0;
}

static int
write_bundle(struct store *s, const char *dir, uint64_t n, unsigned w,
    uint8_t *buf, struct tiles_report *rep)
{
	struct bundle_acc b = { buf, 0 };
	char rel[TILES_PATH_MAX], path[4096];
	struct stat st;
	int rc;

	if ((rc = tiles_path(TILES_ENTRIES, n, w, rel, sizeof(rel))) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (stat(path, &st) == 0) {
		rep->kept++;
		return 0; /* written before: read nothing */
	}
	if ((rc = store_foreach(s, n * TILES_WIDTH, n * TILES_WIDTH + w,
	         bundle_leaf, &b)) < 0)
		return rc;
	return put_file(dir, rel, b.buf, b.len, rep);
}

/* The size of the checkpoint already in dir (0 when none), checked to be
 * of s's log and to have s's root at that size. */
static int
previous_size(struct store *s, const char *dir, const char *path,
    uint64_t latest, uint64_t *old)
{
	struct checkpoint cp;
	uint8_t root[MERKLE_HASH_LEN];
	char *note = NULL, *end;
	size_t len;
	int rc;

	*old = 0;
	if ((rc = util_read_file(path, NOTE_MAX, &note, &len)) < 0) {
		if (errno == ENOENT) {
			err_clear();
			return 0;
		}
		return rc;
	}
	if ((end = strstr(note, "\n\n")) == NULL) {
		free(note);
		return err_set(ERR_CORRUPT, "%s: not a signed note", path);
	}
	rc = checkpoint_parse(note, (size_t)(end - note) + 1, &cp);
	free(note);
	if (rc < 0)
		return err_prefix(rc, "%s", path);
	if (strcmp(cp.origin, store_origin(s)) != 0)
		rc = err_set(ERR_CONFLICT,
		    "%s holds tiles of log '%.100s', not "
		    "of '%.100s'",
		    dir, cp.origin, store_origin(s));
	else if (cp.size > latest)
		rc = err_set(ERR_CONFLICT,
		    "%s holds a checkpoint of size %" PRIu64
		    ", beyond the store's latest (%" PRIu64 ")",
		    dir, cp.size, latest);
	else if ((rc = store_root(s, cp.size, root)) == 0 &&
	    memcmp(root, cp.root, MERKLE_HASH_LEN) != 0)
		rc = err_set(ERR_CONFLICT,
		    "%s holds a checkpoint of size %" PRIu64
		    " whose root is not the store's at that size: another "
		    "history",
		    dir, cp.size);
	if (rc == 0)
		*old = cp.size;
	checkpoint_clear(&cp);
	return rc;
}

int
tiles_write(struct store *s, const char *dir, struct tiles_report *rep)
{
	char cppath[4096];
	uint64_t size, old, n, full, start;
	uint8_t *buf = NULL;
	char *note = NULL;
	int level, rc;

	memset(rep, 0, sizeof(*rep));
	if ((rc = store_checkpoint_latest(s, &size, &note)) < 0)
		return rc;
	if (note == NULL)
		return err_set(ERR_NOTFOUND,
		    "the store has no checkpoint to "
		    "publish");
	if ((size_t)snprintf(cppath, sizeof(cppath), "%s/checkpoint", dir) >=
	    sizeof(cppath)) {
		rc = err_set(ERR_LIMIT, "%s: path too long", dir);
		goto out;
	}
	if ((rc = util_mkdirs(dir, 0755)) < 0 ||
	    (rc = previous_size(s, dir, cppath, size, &old)) < 0)
		goto out;
	rep->size = size;
	/* level 0 tiles and the bundles beside them */
	if ((buf = malloc(BUNDLE_MAX)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	full = size / TILES_WIDTH;
	for (n = old / TILES_WIDTH; n < full; n++)
		if ((rc = write_bundle(s, dir, n, TILES_WIDTH, buf, rep)) < 0)
			goto out;
	if (size % TILES_WIDTH &&
	    (rc = write_bundle(s, dir, full, (unsigned)(size % TILES_WIDTH),
	         buf, rep)) < 0)
		goto out;
	for (level = 0; level <= TILES_MAX_LEVEL / TILES_HEIGHT &&
	     (size >> (TILES_HEIGHT * level)) > 0;
	     level++) {
		uint64_t e = size >> (TILES_HEIGHT * level);

		full = e / TILES_WIDTH;
		start = (old >> (TILES_HEIGHT * level)) / TILES_WIDTH;
		for (n = start; n < full; n++)
			if ((rc = write_tile(s, dir, level, n, TILES_WIDTH,
			         rep)) < 0)
				goto out;
		if (e % TILES_WIDTH &&
		    (rc = write_tile(s, dir, level, full,
		         (unsigned)(e % TILES_WIDTH), rep)) < 0)
			goto out;
	}
	/* last, so a reader never sees a checkpoint without its tiles */
	rc = util_write_file(cppath, note, strlen(note), 0644);
out:
	free(buf);
	free(note);
	return rc;
}

/* ---- the reader ----------------------------------------------------- */

struct cached_tile {
	int level;
	uint64_t n;
	unsigned width;
	uint8_t *data; /* width hashes */
};

struct tiles {
	char *base; /* URL prefix or directory, no trailing slash */
	int http;
	uint64_t size; /* the tree tiles_reader serves */
	struct cached_tile cache[CACHE_TILES];
	size_t next; /* round-robin victim */
};

int
tiles_open(const char *url, struct tiles **out)
{
	struct tiles *t;
	const char *b = url;
	size_t n;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
		t->http = 1;
	else if (strncmp(url, "file://", 7) == 0)
		b = url + 7;
	n = strlen(b);
	while (n > 1 && b[n - 1] == '/')
		n--;
	if (n == 0 || (t->base = strndup(b, n)) == NULL) {
		free(t);
		return n == 0 ? err_set(ERR_INVAL, "tiles URL is empty") :
		                err_set(ERR_NOMEM, "out of memory");
	}
	*out = t;
	return 0;
}

void
tiles_free(struct tiles *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < CACHE_TILES; i++)
		free(t->cache[i].data);
	free(t->base);
	free(t);
}

/* Fetch rel: ERR_NOTFOUND when the server or directory has no such
 * resource. */
static int
fetch(struct tiles *t, const char *rel, size_t max, char **data, size_t *len)
{
	struct http_result res = { 0 };
	char where[4096];
	int rc;

	*data = NULL;
	if ((size_t)snprintf(where, sizeof(where), "%s/%s", t->base, rel) >=
	    sizeof(where))
		return err_set(ERR_LIMIT, "%s/%s: too long", t->base, rel);
	if (!t->http) {
		rc = util_read_file(where, max, data, len);
		if (rc < 0 && errno == ENOENT)
			return err_set(ERR_NOTFOUND, "%s: no such file", where);
		return rc;
	}
	if ((rc = http_fetch("GET", where, NULL, NULL, 0, FETCH_MS, &res)) < 0)
		return rc;
	if (res.status == 404 || res.status == 410)
		rc = err_set(ERR_NOTFOUND, "%s: HTTP %ld", where, res.status);
	else if (res.status != 200)
		rc = err_set(ERR_IO, "%s: HTTP %ld", where, res.status);
	else if (res.body_len > max)
		rc =
		    err_set(ERR_LIMIT, "%s: larger than %zu bytes", where, max);
	if (rc == 0) {
		*data = res.body;
		*len = res.body_len;
		res.body = NULL;
	}
	http_result_clear(&res);
	return rc;
}

int
tiles_checkpoint(struct tiles *t, char **note, size_t *len)
{
	return fetch(t, "checkpoint", NOTE_MAX, note, len);
}

/* Tile (level, n) of width w, or the first w hashes of the full tile when
 * the partial one is gone (the spec lets logs delete them); the
 * caller frees *data (w hashes). */
static int
fetch_tile(struct tiles *t, int level, uint64_t n, unsigned w, uint8_t **data)
{
	char rel[TILES_PATH_MAX], *d = NULL;
	size_t len = 0;
	int rc;

	if ((rc = tiles_path(level, n, w, rel, sizeof(rel))) < 0)
		return rc;
	rc = fetch(t, rel, TILE_BYTES, &d, &len);
	if (rc == ERR_NOTFOUND && w != TILES_WIDTH) {
		(void)tiles_path(level, n, TILES_WIDTH, rel, sizeof(rel));
		rc = fetch(t, rel, TILE_BYTES, &d, &len);
		if (rc == 0 && len == TILE_BYTES)
			len = w * MERKLE_HASH_LEN;
	}
	if (rc < 0)
		return rc;
	if (len != w * MERKLE_HASH_LEN) {
		free(d);
		return err_set(ERR_CORRUPT,
		    "%s/%s: %zu bytes; expected %u "
		    "hashes (%u bytes)",
		    t->base, rel, len, w, w * MERKLE_HASH_LEN);
	}
	*data = (uint8_t *)d;
	return 0;
}

unsigned
tiles_width(uint64_t size, int level, uint64_t n)
{
	uint64_t e;

	if (level == TILES_ENTRIES)
		level = 0;
	if (level < 0 || level * TILES_HEIGHT >= 64)
		return 0;
	e = size >> (TILES_HEIGHT * level);

	if (n < e / TILES_WIDTH)
		return TILES_WIDTH;
	if (n == e / TILES_WIDTH)
		return (unsigned)(e % TILES_WIDTH);
	return 0;
}

static int
cached_tile(struct tiles *t, int level, uint64_t n, unsigned w,
    const uint8_t **data)
{
	struct cached_tile *c;
	uint8_t *d;
	int rc;

	for (size_t i = 0; i < CACHE_TILES; i++) {
		c = &t->cache[i];
		if (c->data && c->level == level && c->n == n &&
		    c->width == w) {
			*data = c->data;
			return 0;
		}
	}
	if ((rc = fetch_tile(t, level, n, w, &d)) < 0)
		return rc;
	c = &t->cache[t->next];
	t->next = (t->next + 1) % CACHE_TILES;
	free(c->data);
	c->level = level;
	c->n = n;
	c->width = w;
	c->data = d;
	*data = d;
	return 0;
}

/* merkle_reader.get over the tiles of the tree of t->size: (level, idx)
 * is the hash of 2^k hashes of tile level level/8, k = level%8. */
static int
reader_get(void *ctx, unsigned level, uint64_t idx, uint8_t out[32])
{
	struct tiles *t = ctx;
	int tl = (int)(level / TILES_HEIGHT);
	unsigned k = level % TILES_HEIGHT, w, i, count = 1u << k;
	uint64_t first, n;
	uint8_t buf[TILES_WIDTH][MERKLE_HASH_LEN];
	const uint8_t *data;
	int rc;

	if (level > TILES_MAX_LEVEL || idx > (UINT64_MAX >> k))
		return err_set(ERR_NOTFOUND, "no hash (%u, %" PRIu64 ")", level,
		    idx);
	first = idx << k;
	n = first / TILES_WIDTH;
	w = tiles_width(t->size, tl, n);
	if (first % TILES_WIDTH + count > w)
		return err_set(ERR_NOTFOUND,
		    "hash (%u, %" PRIu64 ") is not in "
		    "the tree of size %" PRIu64,
		    level, idx, t->size);
	if ((rc = cached_tile(t, tl, n, w, &data)) < 0)
		return rc;
	memcpy(buf, data + (first % TILES_WIDTH) * MERKLE_HASH_LEN,
	    count * MERKLE_HASH_LEN);
	for (; count > 1; count /= 2)
		for (i = 0; i < count / 2; i++)
			merkle_node_hash(buf[2 * i], buf[2 * i + 1], buf[i]);
	memcpy(out, buf[0], MERKLE_HASH_LEN);
	return 0;
}

void
tiles_reader(struct tiles *t, uint64_t size, struct merkle_reader *out)
{
	t->size = size;
	out->get = reader_get;
	out->ctx = t;
}

/* A bundle's entries passed on, checked to be exactly [first, end). */
struct entry_feed {
	store_leaf_fn fn;
	void *ctx;
	uint64_t end, next;
	uint64_t from; /* entries before it are not passed on */
};

static int
entry_feed(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct entry_feed *f = ctx;

	if (idx >= f->end)
		return err_set(ERR_CORRUPT,
		    "entry bundle: more entries than the "
		    "tree of its checkpoint has (entry %" PRIu64 ")",
		    idx);
	f->next = idx + 1;
	if (idx < f->from)
		return 0;
	return f->fn(f->ctx, idx, time, data, len);
}

int
tiles_foreach_entry(struct tiles *t, uint64_t size, store_leaf_fn fn, void *ctx)
{
	return tiles_foreach_entry_from(t, 0, size, fn, ctx);
}

int
tiles_foreach_entry_from(struct tiles *t, uint64_t from, uint64_t size,
    store_leaf_fn fn, void *ctx)
{
	char rel[TILES_PATH_MAX], *d = NULL;
	uint64_t n, nb = (size + TILES_WIDTH - 1) / TILES_WIDTH;
	struct entry_feed f = { fn, ctx, 0, 0, from };
	unsigned w;
	size_t len;
	int rc = 0, exact;

	for (n = from / TILES_WIDTH; n < nb; n++) {
		w = tiles_width(size, 0, n);
		if ((rc = tiles_path(TILES_ENTRIES, n, w, rel, sizeof(rel))) <
		    0)
			return rc;
		exact = 1;
		rc = fetch(t, rel, BUNDLE_MAX, &d, &len);
		if (rc == ERR_NOTFOUND && w != TILES_WIDTH) {
			/* the partial bundle is gone: the first w entries
			 * of the full one */
			(void)tiles_path(TILES_ENTRIES, n, TILES_WIDTH, rel,
			    sizeof(rel));
			rc = fetch(t, rel, BUNDLE_MAX, &d, &len);
			exact = 0;
		}
		if (rc < 0)
			return rc;
		f.end = n * TILES_WIDTH + w;
		f.next = n * TILES_WIDTH;
		/* a bundle of the width asked holds exactly that many */
		rc = tiles_bundle_foreach((const uint8_t *)d, len,
		    n * TILES_WIDTH, exact ? 0 : w, entry_feed, &f);
		free(d);
		d = NULL;
		if (rc == 0 && f.next != f.end)
			rc = err_set(ERR_CORRUPT,
			    "entry bundle: %" PRIu64 " entries; "
			    "expected %u",
			    f.next - n * TILES_WIDTH, w);
		if (rc != 0)
			return rc < 0 ? err_prefix(rc, "%s/%s", t->base, rel) :
			                rc;
	}
	return 0;
}

int
tiles_check(struct tiles *t, uint64_t size, const struct merkle_reader *trusted)
{
	uint8_t *data = NULL, want[MERKLE_HASH_LEN];
	char rel[TILES_PATH_MAX];
	uint64_t n, e;
	unsigned w, i;
	int level, rc;

	for (level = 0; level <= TILES_MAX_LEVEL / TILES_HEIGHT &&
	     (e = size >> (TILES_HEIGHT * level)) > 0;
	     level++) {
		for (n = 0; n <= e / TILES_WIDTH; n++) {
			if ((w = tiles_width(size, level, n)) == 0)
				break;
			(void)tiles_path(level, n, w, rel, sizeof(rel));
			if ((rc = fetch_tile(t, level, n, w, &data)) < 0)
				return err_prefix(ERR_CORRUPT, "%s", rel);
			for (i = 0; i < w; i++) {
				if ((rc = trusted->get(trusted->ctx,
				         (unsigned)level * TILES_HEIGHT,
				         n * TILES_WIDTH + i, want)) < 0) {
					free(data);
					return rc;
				}
				if (memcmp(want, data + i * MERKLE_HASH_LEN,
				        MERKLE_HASH_LEN) != 0) {
					free(data);
					return err_set(ERR_CORRUPT,
					    "%s/%s: hash %u is not the "
					    "tree's",
					    t->base, rel, i);
				}
			}
			free(data);
			data = NULL;
		}
	}
	return 0;
}
