/*
 * mirror: the ledger as a git repository, written and verified through
 * libgit2 (see mirror.h for the layout).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "common/err.h"
#include "ledger/mirror.h"

static const char readme[] =
    "This repository is a mirror of a Lodge ledger.\n"
    "\n"
    "checkpoint  the log's latest signed checkpoint (C2SP tlog-checkpoint,\n"
    "            signed note, Ed25519): origin, size, base64 RFC 6962 root,\n"
    "            and the witnesses' cosignatures (C2SP tlog-cosignature)\n"
    "entries/    the leaves, MIRROR_BUNDLE (1024) per file, one per line,\n"
    "            each the exact canonical JSON {\"entry\",\"index\",\"time\"}\n"
    "            whose SHA-256(0x00||line) is its RFC 6962 leaf hash\n"
    "\n"
    "One commit per checkpoint, and one more when it gains cosignatures.\n"
    "Verify with the log's verifier key:\n"
    "    ledger verify <this directory> --vkey '<name>+<id>+<key>'\n";

static int
git_fail(const char *what)
{
	const git_error *e = git_error_last();

	return err_set(ERR_IO, "git: %s: %s", what,
	    e && e->message ? e->message : "failed");
}

struct bundle_buf {
	char *data;
	size_t len, cap;
};

static int
bundle_cb(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct bundle_buf *b = ctx;

	(void)idx;
	(void)time;
	if (b->len + len + 1 > b->cap) {
		size_t ncap = (b->cap + len + 1) * 2;
		char *n = realloc(b->data, ncap);
		if (n == NULL)
			return err_set(ERR_NOMEM, "out of memory");
		b->data = n;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, data, len);
	b->data[b->len + len] = '\n';
	b->len += len + 1;
	return 0;
}

/* Parse the size out of an (unverified) checkpoint note. */
static int
note_size(const char *note, uint64_t *size)
{
	const char *nl = strchr(note, '\n');
	char *end;

	if (nl == NULL)
		return err_set(ERR_CORRUPT, "mirror: malformed checkpoint");
	*size = strtoull(nl + 1, &end, 10);
	if (*end != '\n')
		return err_set(ERR_CORRUPT, "mirror: malformed checkpoint");
	return 0;
}

static int
blob_from_tree(git_repository *repo, git_tree *tree, const char *path,
    git_blob **out)
{
	git_tree_entry *te = NULL;
	int rc;

	if (git_tree_entry_bypath(&te, tree, path) != 0)
		return err_set(ERR_CORRUPT, "mirror: no '%s' in the tree",
		    path);
	rc = git_blob_lookup(out, repo, git_tree_entry_id(te));
	git_tree_entry_free(te);
	if (rc != 0)
		return git_fail(path);
	return 0;
}

/* 1 when two notes have the same text (the checkpoint body before the
 * blank line), whatever their signatures. */
static int
same_body(const char *a, const char *b)
{
	const char *ea = strstr(a, "\n\n"), *eb = strstr(b, "\n\n");

	return ea != NULL && eb != NULL && ea - a == eb - b &&
	    memcmp(a, b, (size_t)(ea - a)) == 0;
}

struct cp_list {
	uint64_t *sizes;
	char **notes;
	size_t n, cap;
	int64_t above; /* only sizes above this; -1 for all */
};

static int
cp_collect(void *ctx, uint64_t size, const char *note)
{
	struct cp_list *l = ctx;

	if ((int64_t)size <= l->above)
		return 0;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		uint64_t *s = realloc(l->sizes, ncap * sizeof(*s));
		if (s == NULL)
			return err_set(ERR_NOMEM, "out of memory");
		l->sizes = s;
		char **nn = realloc(l->notes, ncap * sizeof(*nn));
		if (nn == NULL)
			return err_set(ERR_NOMEM, "out of memory");
		l->notes = nn;
		l->cap = ncap;
	}
	if ((l->notes[l->n] = strdup(note)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	l->sizes[l->n++] = size;
	return 0;
}

static int
add_blob(git_repository *repo, git_treebuilder *tb, const char *name,
    const void *data, size_t len)
{
	git_oid oid;

	if (git_blob_create_from_buffer(&oid, repo, data, len) != 0)
		return git_fail("writing blob");
	if (git_treebuilder_insert(NULL, tb, name, &oid, GIT_FILEMODE_BLOB) !=
	    0)
		return git_fail("tree insert");
	return 0;
}

static int
commit_checkpoint(struct store *s, git_repository *repo, git_commit *parent,
    uint64_t old_size, uint64_t size, const char *note, int resigned,
    git_commit **out)
{
	git_treebuilder *root = NULL, *entries = NULL;
	git_tree *ptree = NULL, *pentries = NULL, *tree = NULL;
	git_tree_entry *te = NULL;
	git_signature *sig = NULL;
	struct bundle_buf b = { 0 };
	git_oid entries_oid, tree_oid, commit_oid;
	char msg[128], name[32];
	uint64_t k;
	int rc;

	if (parent) {
		if (git_commit_tree(&ptree, parent) != 0) {
			rc = git_fail("parent tree");
			goto out;
		}
		if (git_tree_entry_bypath(&te, ptree, "entries") == 0 &&
		    git_tree_lookup(&pentries, repo, git_tree_entry_id(te)) !=
		        0) {
			rc = git_fail("parent entries");
			goto out;
		}
	}
	if (git_treebuilder_new(&root, repo, ptree) != 0 ||
	    git_treebuilder_new(&entries, repo, pentries) != 0) {
		rc = git_fail("tree builder");
		goto out;
	}
	/* rewrite only the bundles that grew; older ones are shared */
	for (k = old_size / MIRROR_BUNDLE; k * MIRROR_BUNDLE < size; k++) {
		uint64_t lo = k * MIRROR_BUNDLE, hi = lo + MIRROR_BUNDLE;
		b.len = 0;
		if ((rc = store_foreach(s, lo, hi < size ? hi : size, bundle_cb,
		         &b)) < 0)
			goto out;
		snprintf(name, sizeof(name), "%012" PRIu64 ".jsonl", lo);
		if ((rc = add_blob(repo, entries, name, b.data ? b.data : "",
		         b.len)) < 0)
			goto out;
	}
	if (git_treebuilder_write(&entries_oid, entries) != 0) {
		rc = git_fail("writing entries tree");
		goto out;
	}
	if (size > 0 &&
	    git_treebuilder_insert(NULL, root, "entries", &entries_oid,
	        GIT_FILEMODE_TREE) != 0) {
		rc = git_fail("tree insert");
		goto out;
	}
	if ((rc = add_blob(repo, root, "checkpoint", note, strlen(note))) < 0 ||
	    (rc = add_blob(repo, root, "README", readme, strlen(readme))) < 0)
		goto out;
	if (git_treebuilder_write(&tree_oid, root) != 0 ||
	    git_tree_lookup(&tree, repo, &tree_oid) != 0) {
		rc = git_fail("writing tree");
		goto out;
	}
	/* a fixed author and time keep mirrors of one log identical */
	if (git_signature_new(&sig, "Lodge ledger", "ledger@lodge.invalid", 0,
	        0) != 0) {
		rc = git_fail("signature");
		goto out;
	}
	snprintf(msg, sizeof(msg), "checkpoint %" PRIu64 "%s\n", size,
	    resigned ? ", with new signatures" : "");
	if (git_commit_create_v(&commit_oid, repo, "refs/heads/main", sig, sig,
	        NULL, msg, tree, parent ? 1 : 0, parent) != 0 ||
	    git_commit_lookup(out, repo, &commit_oid) != 0) {
		rc = git_fail("commit");
		goto out;
	}
	rc = 0;
out:
	free(b.data);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_entry_free(te);
	git_tree_free(pentries);
	git_tree_free(ptree);
	git_treebuilder_free(entries);
	git_treebuilder_free(root);
	return rc;
}

int
mirror_update(struct store *s, const char *dir, struct mirror_report *rep)
{
	git_repository *repo = NULL;
	git_commit *head = NULL, *next = NULL;
	git_tree *tree = NULL;
	git_blob *blob = NULL;
	git_oid oid;
	struct cp_list l = { 0 };
	uint64_t have = 0;
	char *head_note = NULL;
	size_t i;
	int rc;

	memset(rep, 0, sizeof(*rep));
	git_libgit2_init();
	if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH,
	        NULL) != 0) {
		git_repository_init_options o;
		git_repository_init_options_init(&o,
		    GIT_REPOSITORY_INIT_OPTIONS_VERSION);
		o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
		o.initial_head = "main";
		if (git_repository_init_ext(&repo, dir, &o) != 0) {
			rc = git_fail(dir);
			goto out;
		}
	}
	if (git_reference_name_to_id(&oid, repo, "refs/heads/main") == 0) {
		char *text;
		if (git_commit_lookup(&head, repo, &oid) != 0 ||
		    git_commit_tree(&tree, head) != 0) {
			rc = git_fail("reading head");
			goto out;
		}
		if ((rc = blob_from_tree(repo, tree, "checkpoint", &blob)) < 0)
			goto out;
		text = strndup(git_blob_rawcontent(blob),
		    (size_t)git_blob_rawsize(blob));
		if (text == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
		head_note = text;
		if ((rc = note_size(text, &have)) < 0)
			goto out;
	}
	/* the head's size too: its note may have gained cosignatures */
	l.above = head ? (int64_t)have - 1 : -1;
	if ((rc = store_foreach_checkpoint(s, cp_collect, &l)) < 0)
		goto out;
	for (i = 0; i < l.n; i++) {
		int resigned = head_note != NULL && l.sizes[i] == have;

		if (resigned && strcmp(l.notes[i], head_note) == 0)
			continue;
		if (resigned && !same_body(l.notes[i], head_note)) {
			rc = err_set(ERR_CORRUPT,
			    "the store's checkpoint of size %" PRIu64
			    " is not the one the mirror holds at that size",
			    have);
			goto out;
		}
		if (l.sizes[i] > store_size(s)) {
			rc = err_set(ERR_CORRUPT,
			    "checkpoint at size %" PRIu64 " is beyond the log",
			    l.sizes[i]);
			goto out;
		}
		if ((rc = commit_checkpoint(s, repo, head, have, l.sizes[i],
		         l.notes[i], resigned, &next)) < 0)
			goto out;
		git_commit_free(head);
		head = next;
		next = NULL;
		have = l.sizes[i];
		rep->commits++;
	}
	rep->size = have;
	rc = 0;
out:
	for (i = 0; i < l.n; i++)
		free(l.notes[i]);
	free(l.notes);
	free(l.sizes);
	free(head_note);
	git_blob_free(blob);
	git_tree_free(tree);
	git_commit_free(head);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

static int
verify_bundle(struct verifier *v, const char *name, const char *data,
    size_t len)
{
	char want[32];
	size_t off = 0;
	int rc;

	snprintf(want, sizeof(want), "%012" PRIu64 ".jsonl", verifier_size(v));
	if (strcmp(name, want) != 0)
		return err_set(ERR_CORRUPT,
		    "mirror: entries/%s where entries/%s "
		    "was expected",
		    name, want);
	struct verify_leaf *l = NULL;
	size_t n = 0, cap = 0;

	/* the bundle's leaves checked on every core, then fed in order */
	while (off < len) {
		const char *nl = memchr(data + off, '\n', len - off);
		if (nl == NULL) {
			free(l);
			return err_set(ERR_CORRUPT,
			    "mirror: entries/%s: last "
			    "line has no newline",
			    name);
		}
		if (n == cap) {
			struct verify_leaf *m;
			cap = cap ? cap * 2 : 256;
			if ((m = realloc(l, cap * sizeof(*l))) == NULL) {
				free(l);
				return err_set(ERR_NOMEM, "out of memory");
			}
			l = m;
		}
		memset(&l[n], 0, sizeof(l[n]));
		l[n].idx = verifier_size(v) + n;
		l[n].time = -1;
		l[n].data = data + off;
		l[n].len = (size_t)(nl - (data + off));
		n++;
		off = (size_t)(nl - data) + 1;
	}
	rc = n > 0 ? verify_leaves(l, n, 0, 0) : 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		if ((rc = verifier_leaf_checked(v, &l[i])) < 0)
			err_prefix(rc, "mirror: entries/%s", name);
	for (size_t i = 0; i < n; i++)
		verify_leaf_clear(&l[i]);
	free(l);
	return rc;
}

int
mirror_verify(const char *dir, const struct note_verifier *vkey,
    struct verify_report *rep)
{
	git_repository *repo = NULL;
	git_commit *c = NULL, *parent = NULL;
	git_tree *tree = NULL, *etree = NULL;
	git_tree_entry *te = NULL;
	git_blob *blob = NULL;
	struct verifier *v = NULL;
	struct merkle_reader r;
	git_oid oid;
	uint64_t size, prev = UINT64_MAX;
	size_t i;
	int rc;

	memset(rep, 0, sizeof(*rep));
	git_libgit2_init();
	if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH,
	        NULL) != 0) {
		rc = err_set(ERR_NOTFOUND, "%s: not a git repository", dir);
		goto out;
	}
	if (git_reference_name_to_id(&oid, repo, "HEAD") != 0 &&
	    git_reference_name_to_id(&oid, repo, "refs/heads/main") != 0) {
		rc = err_set(ERR_CORRUPT, "%s: mirror has no commits", dir);
		goto out;
	}
	if (git_commit_lookup(&c, repo, &oid) != 0 ||
	    git_commit_tree(&tree, c) != 0) {
		rc = git_fail("reading head");
		goto out;
	}
	if ((rc = verifier_new(vkey, NULL, &v)) < 0)
		goto out;
	if (git_tree_entry_bypath(&te, tree, "entries") == 0) {
		if (git_tree_lookup(&etree, repo, git_tree_entry_id(te)) != 0) {
			rc = git_fail("entries");
			goto out;
		}
		for (i = 0; i < git_tree_entrycount(etree); i++) {
			const git_tree_entry *be =
			    git_tree_entry_byindex(etree, i);
			if (git_blob_lookup(&blob, repo,
			        git_tree_entry_id(be)) != 0) {
				rc = git_fail(git_tree_entry_name(be));
				goto out;
			}
			rc = verify_bundle(v, git_tree_entry_name(be),
			    git_blob_rawcontent(blob),
			    (size_t)git_blob_rawsize(blob));
			git_blob_free(blob);
			blob = NULL;
			if (rc < 0)
				goto out;
		}
	}
	rep->entries = verifier_size(v);
	/* every commit's checkpoint, newest first, against these entries */
	for (;;) {
		git_tree_free(tree);
		tree = NULL;
		if (git_commit_tree(&tree, c) != 0) {
			rc = git_fail("commit tree");
			goto out;
		}
		if ((rc = blob_from_tree(repo, tree, "checkpoint", &blob)) < 0)
			goto out;
		rc = verifier_checkpoint(v, git_blob_rawcontent(blob),
		    (size_t)git_blob_rawsize(blob), &size);
		git_blob_free(blob);
		blob = NULL;
		if (rc < 0) {
			char id[GIT_OID_HEXSZ + 1];
			git_oid_tostr(id, sizeof(id), git_commit_id(c));
			rc = err_prefix(rc, "mirror commit %.12s", id);
			goto out;
		}
		if (rep->checkpoints == 0) {
			if (size != rep->entries) {
				rc = err_set(ERR_CORRUPT,
				    "mirror: head "
				    "checkpoint covers %" PRIu64 " entries but "
				    "the tree holds %" PRIu64,
				    size, rep->entries);
				goto out;
			}
			rep->latest_size = size;
		} else if (size > prev) {
			rc = err_set(ERR_CORRUPT,
			    "mirror: checkpoint sizes "
			    "go backwards in history (%" PRIu64
			    " before %" PRIu64 ")",
			    size, prev);
			goto out;
		}
		prev = size;
		rep->checkpoints++;
		if (git_commit_parentcount(c) == 0)
			break;
		if (git_commit_parent(&parent, c, 0) != 0) {
			rc = git_fail("parent commit");
			goto out;
		}
		git_commit_free(c);
		c = parent;
		parent = NULL;
	}
	verifier_reader(v, &r);
	rc = merkle_root(rep->entries, &r, rep->root);
out:
	verifier_free(v);
	git_blob_free(blob);
	git_tree_entry_free(te);
	git_tree_free(etree);
	git_tree_free(tree);
	git_commit_free(parent);
	git_commit_free(c);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

int
mirror_read(const char *dir, store_leaf_fn fn, void *ctx, char **note)
{
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL, *etree = NULL;
	git_tree_entry *te = NULL;
	git_blob *blob = NULL;
	git_oid oid;
	uint64_t idx = 0;
	size_t i;
	int rc;

	*note = NULL;
	git_libgit2_init();
	if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH,
	        NULL) != 0) {
		rc = err_set(ERR_NOTFOUND, "%s: not a git repository", dir);
		goto out;
	}
	if ((git_reference_name_to_id(&oid, repo, "HEAD") != 0 &&
	        git_reference_name_to_id(&oid, repo, "refs/heads/main") != 0) ||
	    git_commit_lookup(&c, repo, &oid) != 0 ||
	    git_commit_tree(&tree, c) != 0) {
		rc = err_set(ERR_CORRUPT, "%s: mirror has no readable head",
		    dir);
		goto out;
	}
	if ((rc = blob_from_tree(repo, tree, "checkpoint", &blob)) < 0)
		goto out;
	*note =
	    strndup(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	blob = NULL;
	if (*note == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = 0;
	if (git_tree_entry_bypath(&te, tree, "entries") != 0)
		goto out; /* an empty log */
	if (git_tree_lookup(&etree, repo, git_tree_entry_id(te)) != 0) {
		rc = git_fail("entries");
		goto out;
	}
	for (i = 0; i < git_tree_entrycount(etree); i++) {
		const git_tree_entry *be = git_tree_entry_byindex(etree, i);
		const char *d;
		size_t len, off = 0;
		char want[32];

		snprintf(want, sizeof(want), "%012" PRIu64 ".jsonl", idx);
		if (strcmp(git_tree_entry_name(be), want) != 0) {
			rc = err_set(ERR_CORRUPT,
			    "mirror: entries/%s where "
			    "entries/%s was expected",
			    git_tree_entry_name(be), want);
			goto out;
		}
		if (git_blob_lookup(&blob, repo, git_tree_entry_id(be)) != 0) {
			rc = git_fail(git_tree_entry_name(be));
			goto out;
		}
		d = git_blob_rawcontent(blob);
		len = (size_t)git_blob_rawsize(blob);
		while (off < len) {
			const char *nl = memchr(d + off, '\n', len - off);
			if (nl == NULL) {
				rc = err_set(ERR_CORRUPT,
				    "mirror: entries/%s: "
				    "last line has no newline",
				    want);
				goto out;
			}
			if ((rc = fn(ctx, idx, -1, d + off,
			         (size_t)(nl - (d + off)))) != 0)
				goto out;
			idx++;
			off = (size_t)(nl - d) + 1;
		}
		git_blob_free(blob);
		blob = NULL;
	}
out:
	if (rc < 0) {
		free(*note);
		*note = NULL;
	}
	git_blob_free(blob);
	git_tree_entry_free(te);
	git_tree_free(etree);
	git_tree_free(tree);
	git_commit_free(c);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}
