/*
 * etcd: a small client of etcd's v3 API through its JSON gateway (the
 * grpc-gateway every etcd >= 3.4 serves on its client URLs: /v3/kv/...,
 * /v3/watch, /v3/lease/...), over libcurl and jansson.  Keys and values are
 * bytes (base64 on the wire); int64 fields arrive as JSON strings.
 */
#ifndef LODGE_COMMON_ETCD_H
#define LODGE_COMMON_ETCD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* An answer larger than this is refused (ERR_LIMIT): a member that
 * streams without end must not exhaust the caller's memory. */
#define ETCD_MAX_ANSWER ((size_t)64 << 20)
#define ETCD_MAX_ENDPOINTS 16

/* A client: a list of member URLs, tried in turn when one does not
 * answer.  Not thread-safe: one per thread (it keeps a libcurl handle
 * so connections are reused). */
struct etcd;

/* urls: "http://127.0.0.1:2379[,http://...]" (1 to ETCD_MAX_ENDPOINTS,
 * http:// or https://); timeout_ms bounds each request (a write etcd has
 * not committed by then fails with ERR_IO: its outcome is unknown).
 * ERR_INVAL names a bad URL.  The caller owns *out (etcd_free). */
int etcd_new(const char *urls, long timeout_ms, struct etcd **out);
void etcd_free(struct etcd *c);
/* The member URL the last request went to (borrowed). */
const char *etcd_endpoint(const struct etcd *c);

struct etcd_kv {
	char *key, *value; /* malloc'd, NUL-terminated (bytes may hold
	                      NULs: use the lengths) */
	size_t key_len, value_len;
	int64_t create_revision, mod_revision, lease;
};

struct etcd_range {
	struct etcd_kv *kvs; /* malloc'd array of n */
	size_t n;
	int64_t revision; /* the store's revision the answer reflects */
	int64_t count; /* keys in the range (not only those returned) */
	int more; /* limit cut the answer */
};
void etcd_range_clear(struct etcd_range *r);

/* Keys in [key, end) (end NULL: key alone; "\0" of length 1: every key
 * >= key), sorted by key, at most limit (0: no limit).  serializable: the
 * member answers from its own committed copy (works without a quorum,
 * may lag); else a linearizable read (needs the quorum).  The caller
 * clears *out. */
int etcd_range(struct etcd *c, const char *key, size_t key_len, const char *end,
    size_t end_len, int64_t limit, int serializable, struct etcd_range *out);

/* How a compare weighs the key's create_revision against the value. */
enum etcd_cmp_op {
	ETCD_CMP_EQUAL = 0,
	ETCD_CMP_GREATER,
};
/* One compare of a transaction: key's create_revision (0: absent) must
 * equal create_revision (op ETCD_CMP_EQUAL, the default of a zeroed op),
 * or be greater than it (ETCD_CMP_GREATER with 0: the key exists). */
struct etcd_cmp {
	const char *key;
	size_t key_len;
	int64_t create_revision;
	enum etcd_cmp_op op;
};
struct etcd_put {
	const char *key, *value;
	size_t key_len, value_len;
	int64_t lease; /* 0: none */
};

/*
 * A transaction: when every compare holds, every put is applied at one
 * revision (*succeeded = 1); otherwise nothing is written (*succeeded =
 * 0) and, when fail_get is given, *fail_kv gets that key's current
 * value (zeroed when absent; the caller frees its key and value).
 * *revision (may be NULL) gets the revision of the answer: on success
 * the revision the puts created.  At most 128 compares and 128 puts
 * (etcd's --max-txn-ops).
 */
int etcd_txn(struct etcd *c, const struct etcd_cmp *cmp, size_t ncmp,
    const struct etcd_put *puts, size_t nput, const char *fail_get,
    size_t fail_get_len, int *succeeded, int64_t *revision,
    struct etcd_kv *fail_kv);

/* Delete [key, end) (end as in etcd_range); *deleted may be NULL. */
int etcd_delete(struct etcd *c, const char *key, size_t key_len,
    const char *end, size_t end_len, int64_t *deleted);
/* Compact the history (older revisions of keys) up to revision. */
int etcd_compact(struct etcd *c, int64_t revision);

/* A lease of ttl_s seconds (*id); refreshed by etcd_lease_keepalive,
 * which gives the TTL left and ERR_NOTFOUND when the lease has expired. */
int etcd_lease_grant(struct etcd *c, int64_t ttl_s, int64_t *id);
int etcd_lease_keepalive(struct etcd *c, int64_t id, int64_t *ttl_s);
int etcd_lease_revoke(struct etcd *c, int64_t id);

/*
 * Watch [key, end) from start_revision: fn gets each event (deleted set
 * for a DELETE) in revision order.  Returns 0 when max_ms passed, *stop
 * became non-zero (looked at every 100 ms) or fn returned 1; fn's
 * negative code; ERR_NOTFOUND when start_revision was compacted away
 * (read the range again); ERR_IO when the stream failed.
 */
typedef int (*etcd_watch_fn)(void *ctx, const struct etcd_kv *kv, int deleted,
    int64_t revision);
int etcd_watch(struct etcd *c, const char *key, size_t key_len, const char *end,
    size_t end_len, int64_t start_revision, long max_ms, etcd_watch_fn fn,
    void *ctx, atomic_int *stop);
/* etcd_watch, but fn gets the events of one message of the stream at
 * once (a transaction's writes together; catching up from an older
 * revision, several revisions may come in one), kvs[i] deleted when
 * deleted[i], in revision order; the same returns. */
typedef int (*etcd_watch_batch_fn)(void *ctx, const struct etcd_kv *kvs,
    const int *deleted, size_t n, int64_t revision);
int etcd_watch_batch(struct etcd *c, const char *key, size_t key_len,
    const char *end, size_t end_len, int64_t start_revision, long max_ms,
    etcd_watch_batch_fn fn, void *ctx, atomic_int *stop);

/* end of the prefix range of p (p with its last byte incremented, as
 * etcd's clientv3.GetPrefixRangeEnd); out has room for len bytes.
 * Returns the length of end. */
size_t etcd_prefix_end(const char *p, size_t len, char *out);

#endif
