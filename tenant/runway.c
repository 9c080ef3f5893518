/*
 * runway: the time a lease's escrow still pays (see runway.h).
 */
#include <stdio.h>

#include "tenant/runway.h"

int64_t
tenant_runway_ms(const json_t *obj, int64_t now_ms)
{
	const json_t *pu = json_object_get(obj, "paid_until");

	if (!json_is_integer(pu))
		return -1;
	if (json_integer_value(pu) <= now_ms)
		return 0;
	return json_integer_value(pu) - now_ms;
}

int64_t
tenant_grace_ms(const json_t *obj, int64_t now_ms)
{
	const json_t *g = json_object_get(obj, "grace_until");

	if (!json_is_integer(g))
		return -1;
	if (json_integer_value(g) <= now_ms)
		return 0;
	return json_integer_value(g) - now_ms;
}

const char *
tenant_duration(int64_t ms, char *buf, size_t cap)
{
	long long s = (long long)(ms / 1000);

	if (s >= 86400)
		snprintf(buf, cap, "%lld d %lld h", s / 86400,
		    s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, cap, "%lld h %lld min", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, cap, "%lld min %lld s", s / 60, s % 60);
	else
		snprintf(buf, cap, "%lld s", s);
	return buf;
}
