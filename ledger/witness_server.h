/*
 * witness_server: a C2SP tlog-witness over HTTP (common/http.h): POST
 * <prefix>/add-checkpoint answered by witness_db_add_checkpoint.  The
 * submission and monitoring prefixes are the server's root.
 */
#ifndef LODGE_LEDGER_WITNESS_SERVER_H
#define LODGE_LEDGER_WITNESS_SERVER_H

#include <stdint.h>

#include "common/http.h"
#include "ledger/witness_db.h"

struct witness_server;

/* Serve w (borrowed: it must outlive the server) on the address in c
 * (its max_body is raised to WITNESS_MAX_BODY when lower).  Each
 * request is logged (common/log.h) with its verdict.  The caller frees
 * *out with witness_server_free. */
int witness_server_start(struct witness_db *w,
    const struct http_server_config *c, struct witness_server **out);
uint16_t witness_server_port(const struct witness_server *s);
/* Stop serving and free; w is left open. */
void witness_server_free(struct witness_server *s);

#endif
