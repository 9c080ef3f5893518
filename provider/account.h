/*
 * account: the provider key's money on the market (docs/state.md,
 * "Bonds" and "Fees"): the bond the genesis rules lock for the capacity
 * it offers and what the key must hold to advertise, withdrawing its ask
 * (the bond comes back), and moving earnings out with account.transfer.
 * For `provider bond`, `provider withdraw` and `provider transfer`.
 */
#ifndef LODGE_PROVIDER_ACCOUNT_H
#define LODGE_PROVIDER_ACCOUNT_H

#include <stdint.h>
#include <jansson.h>

/* Seconds of heartbeats (one per PROVIDER_HEARTBEAT_MS) whose fees the
 * funding advice keeps in reserve beyond the bond: a day. */
#define PROVIDER_FEE_RESERVE_S 86400

/* What the market's genesis rules ask of this provider, from data
 * (provider.json, provider.key) and the market's /v1/info, account and
 * ask, as {"key","market","denom","capacity":{"cpu_millis",
 * "memory_bytes"} (offered: detected less reserved),"rules":{"per_cpu",
 * "per_gib"},"bond_needed" (state_bond_for of that capacity, or of what
 * its leases hold where more),"bond_locked","balance","advertised",
 * "withdrawn","leases","fees":{KIND:N} (the kinds a provider signs),
 * "fee_reserve" (PROVIDER_FEE_RESERVE_S of heartbeats, and the
 * advertise fee when not advertised yet),"to_fund" (what the key lacks for bond and reserve: 0
 * when funded)}.  The caller owns *out.  Errors: loading the data dir;
 * ERR_IO when the market does not answer as a market. */
int provider_bond_json(const char *data, int timeout_ms, json_t **out);

/* Sign and post provider.withdraw for the key of data: no new leases;
 * running ones go on.  *out (caller owns): {"key","index","leases",
 * "bond_locked","bond_back":"now"|"with its last lease"} as the market
 * shows it after.  ERR_REJECT with the market's reason when refused. */
int provider_withdraw(const char *data, int timeout_ms, json_t **out);

/* Move amount of denom (NULL: the market's first) from the key of data to
 * the account to ("ed25519:..."), an account.transfer.  *out (caller
 * owns): {"from","to","denom","amount","index","balance"} (the balance
 * left).  ERR_INVAL for a bad key or amount; ERR_REJECT with the
 * market's reason when refused. */
int provider_transfer(const char *data, const char *to, int64_t amount,
    const char *denom, int timeout_ms, json_t **out);

#endif
