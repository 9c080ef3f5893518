/*
 * ingest: append a stream of signed envelopes, one per line, to a store.
 * The lines of each read are verified on every core, appended in order and
 * committed together (group commit); each is acknowledged only once that
 * commit is on disk.  A bad line is rejected by its number and nothing of
 * it is appended; the lines around it still are.
 */
#ifndef LODGE_LEDGER_INGEST_H
#define LODGE_LEDGER_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/store.h"

/* Bytes a line may hold, its newline included. */
#define INGEST_MAX_LINE (1 << 20)

/* What one appended line became. */
struct ingest_ack {
	uint64_t index;
	int64_t time; /* sequencer time, ms since the epoch */
	uint8_t leaf_hash[32];
};

/* The caller's view of the stream, called on the calling thread. */
struct ingest_ops {
	/* Line lineno (from 1; empty lines count) was not appended: why
	 * says what was wrong with it (borrowed for the call). */
	void (*rejected)(void *ctx, uint64_t lineno, const char *why);
	/* acks[0..n) were just made durable together, in ledger order
	 * (borrowed for the call). */
	void (*committed)(void *ctx, const struct ingest_ack *acks, size_t n);
};

/*
 * Read fd to its end (name is how messages call it: "name: ..." and
 * "name:LINE: ...") and append every good line to s, a store open for
 * writing; a "\r\n" ending is accepted, empty lines are skipped and the
 * last line may lack its newline.  *nrejected gets the number of lines
 * rejected.  Returns 0 once the whole input is read, even when lines were
 * rejected; a negative code on a read error, a failed commit ("commit:
 * ..."), or a line longer than INGEST_MAX_LINE bytes; what was
 * acknowledged before stays.  fd is not closed.
 */
int ingest_fd(struct store *s, int fd, const char *name,
    const struct ingest_ops *ops, void *ctx, uint64_t *nrejected);

#endif
