/*
 * checkpoint: the tenant's memory of the market's log.  Once per command
 * that talks to the market, the market's latest checkpoint is verified
 * under the tenant's policy (the witnesses and their quorum) and proved
 * consistent with the last one the tenant verified (ledger/trust.h): a
 * market showing another history than the one the tenant saw is caught,
 * and the command stops with both signed notes as evidence.  Kept in
 * $XDG_CONFIG_HOME/lodge/logs/ (ledger/trust_client.h names the files).
 */
#ifndef LODGE_TENANT_CHECKPOINT_H
#define LODGE_TENANT_CHECKPOINT_H

#include <stddef.h>

#include "tenant/config.h"

/* The policy file the tenant uses unless told otherwise. */
#define TENANT_WITNESS_POLICY "witness-policy"

/*
 * Check market's latest checkpoint against the tenant's memory and
 * remember it.  policy_file (may be NULL): the policy to verify with;
 * NULL takes p->dir/witness-policy when there is one, else the policy
 * pinned for the market's log, learned from its /v1/info on first use.
 * *pinned (cap bytes) gets the pin's path when this call wrote it, ""
 * otherwise.  ERR_ALARM on a split view (the message holds both notes,
 * also kept beside the memory); ERR_CONFLICT when the market names
 * other witnesses than the pin; trust.h's errors for a checkpoint that
 * does not verify.
 */
int tenant_checkpoint_check(const struct tenant_paths *p, const char *market,
    const char *policy_file, char *pinned, size_t cap);

#endif
