/*
 * checkpoint: the tenant's check of the market's checkpoint against the
 * one it remembers (see checkpoint.h).
 */
#include "tenant/checkpoint.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "common/err.h"
#include "ledger/trust_client.h"

int
tenant_checkpoint_check(const struct tenant_paths *p, const char *market,
    const char *policy_file, char *pinned, size_t cap)
{
	char logs[PATH_MAX], deflt[PATH_MAX];
	struct trust_client *c = NULL;
	int rc;

	if (cap > 0)
		pinned[0] = '\0';
	if ((size_t)snprintf(logs, sizeof(logs), "%s/logs", p->dir) >=
	        sizeof(logs) ||
	    (size_t)snprintf(deflt, sizeof(deflt), "%s/%s", p->dir,
	        TENANT_WITNESS_POLICY) >= sizeof(deflt))
		return err_set(ERR_LIMIT, "%s: path too long", p->dir);
	if (policy_file == NULL && access(deflt, F_OK) == 0)
		policy_file = deflt;
	if ((rc = trust_client_open(logs, market, policy_file, &c)) < 0)
		return rc;
	if ((rc = trust_client_follow(c, NULL, NULL)) == 0 &&
	    trust_client_pinned_now(c) && cap > 0)
		snprintf(pinned, cap, "%s", trust_client_policy_path(c));
	trust_client_free(c);
	return rc;
}
