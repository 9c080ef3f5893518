/*
 * trust_client: what a tenant or a provider keeps about the log its
 * market serves, in a directory of its own: the policy it trusts (a file
 * it was given, or what the market's /v1/info said on first use, then
 * pinned like SSH's known_hosts) and the last cosigned checkpoint it
 * verified (trust.h's memory).  Both are named after the log, so two
 * markets serving one log (a copied data directory) share them:
 *   DIR/<origin>+<key ID>.policy      the pinned policy (trust.h's form)
 *   DIR/<origin>+<key ID>.checkpoint  the remembered note
 *   DIR/<origin>+<key ID>.checkpoint.evidence   both notes of an alarm
 * (<origin> with every byte outside [A-Za-z0-9._-] as '_').
 */
#ifndef LODGE_LEDGER_TRUST_CLIENT_H
#define LODGE_LEDGER_TRUST_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/trust.h"

struct trust_client;

/*
 * Open what the client trusts about the log market (a base URL) serves,
 * creating dir (0700) when missing.  With policy_file, that policy (a
 * policy without a "log" line takes the market's key from /v1/info).
 * Without it, the policy pinned for the log /v1/info names, or on first
 * use the one /v1/info describes ("vkey" and "witnesses": {"keys",
 * "quorum"}), written as the pin.  ERR_CONFLICT when /v1/info names
 * other witnesses or another quorum than the pin: the message shows both
 * and names the file to remove once the change is confirmed out of band.
 * The caller frees *out.
 */
int trust_client_open(const char *dir, const char *market,
    const char *policy_file, struct trust_client **out);
void trust_client_free(struct trust_client *c);

/* The market's latest checkpoint and a proof from the remembered one
 * (trust_follow_market): ERR_ALARM on a split view, its message holding
 * both notes. */
int trust_client_follow(struct trust_client *c, int *advanced, uint64_t *size);
/* The same for a note the market published elsewhere (its event
 * stream), the proof fetched from the market. */
int trust_client_check(struct trust_client *c, const char *note, size_t len,
    int *advanced, uint64_t *size);

/* The memory, the policy in use, and where each is kept (borrowed). */
const struct trust_memory *trust_client_memory(const struct trust_client *c);
const struct trust_policy *trust_client_policy(const struct trust_client *c);
const char *trust_client_policy_path(const struct trust_client *c);
/* 1 when this open pinned the policy (first use). */
int trust_client_pinned_now(const struct trust_client *c);

#endif
