/*
 * units: micro-units, rates and durations as people read them (see
 * units.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/units.h"

void
units_name(const char *denom, char *buf, size_t cap, int *micro)
{
	size_t i;

	if (cap == 0)
		return;
	if (denom == NULL)
		denom = "uakt";
	*micro = denom[0] == 'u' && denom[1] != '\0';
	if (!*micro) {
		snprintf(buf, cap, "%s", denom);
		return;
	}
	for (i = 0; denom[i + 1] != '\0' && i + 1 < cap; i++)
		buf[i] = (char)toupper((unsigned char)denom[i + 1]);
	buf[i] = '\0';
}

void
units_fmt_tokens(int64_t micro, const char *denom, char *buf, size_t cap)
{
	char unit[32], frac[8];
	uint64_t mag;
	int is_micro, n;

	units_name(denom, unit, sizeof(unit), &is_micro);
	if (!is_micro) {
		snprintf(buf, cap, "%lld %s", (long long)micro, unit);
		return;
	}
	mag = micro < 0 ? (uint64_t)0 - (uint64_t)micro : (uint64_t)micro;
	snprintf(frac, sizeof(frac), "%06llu",
	    (unsigned long long)(mag % 1000000));
	for (n = 6; n > 0 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	snprintf(buf, cap, "%s%llu%s%s %s", micro < 0 ? "-" : "",
	    (unsigned long long)(mag / 1000000), n ? "." : "", frac, unit);
}

void
units_fmt_amount(int64_t micro, const char *denom, char *buf, size_t cap)
{
	char u[64];
	int is_micro;

	units_name(denom, u, sizeof(u), &is_micro);
	if (!is_micro) {
		snprintf(buf, cap, "%lld %s", (long long)micro,
		    denom ? denom : "");
		return;
	}
	units_fmt_tokens(micro, denom, u, sizeof(u));
	snprintf(buf, cap, "%s (%lld %s)", u, (long long)micro,
	    denom ? denom : "uakt");
}

void
units_fmt_duration(int64_t ms, char *buf, size_t cap)
{
	static const struct {
		int64_t ms;
		const char *tag;
	} u[] = { { 86400000, "d" }, { 3600000, "h" }, { 60000, "m" },
		{ 1000, "s" } };
	int64_t a, b;
	size_t i;

	if (ms < 0) {
		snprintf(buf, cap, "forever");
		return;
	}
	for (i = 0; i < 3 && ms < u[i].ms; i++)
		;
	a = ms / u[i].ms;
	if (i == 3) {
		snprintf(buf, cap, "%llds", (long long)a);
		return;
	}
	b = ms % u[i].ms / u[i + 1].ms;
	if (b == 0)
		snprintf(buf, cap, "%lld%s", (long long)a, u[i].tag);
	else
		snprintf(buf, cap, "%lld%s %lld%s", (long long)a, u[i].tag,
		    (long long)b, u[i + 1].tag);
}

int
units_parse_duration(const char *s, const char *what, int64_t max_ms,
    int64_t *ms)
{
	static const struct {
		const char *tag;
		int64_t ms;
	} u[] = { { "ms", 1 }, { "d", 86400000 }, { "h", 3600000 },
		{ "m", 60000 }, { "s", 1000 } };
	const char *p = s;
	int64_t total = 0, last = INT64_MAX;

	if (s == NULL || *s == '\0')
		goto bad;
	while (*p) {
		int64_t v = 0, mul = 1000;
		size_t i, n = 0;
		if (!isdigit((unsigned char)*p))
			goto bad;
		for (; isdigit((unsigned char)*p); p++, n++) {
			if (v > (INT64_MAX - 9) / 10)
				goto range;
			v = v * 10 + (*p - '0');
		}
		if (*p == '\0' && p - n == s) /* a bare number: seconds */
			mul = 1000;
		else {
			for (i = 0; i < sizeof(u) / sizeof(u[0]); i++)
				if (strncmp(p, u[i].tag, strlen(u[i].tag)) == 0)
					break;
			if (i == sizeof(u) / sizeof(u[0]) || u[i].ms >= last)
				goto bad;
			mul = last = u[i].ms;
			p += strlen(u[i].tag);
		}
		if (v > (INT64_MAX - total) / mul)
			goto range;
		total += v * mul;
	}
	if (total > max_ms)
		goto range;
	*ms = total;
	return 0;
range:
	return err_set(ERR_RANGE, "%s: \"%.40s\" is longer than %lld s", what,
	    s ? s : "", (long long)(max_ms / 1000));
bad:
	return err_set(ERR_INVAL,
	    "%s: \"%.40s\" is not a duration (expected e.g. 24h, 90m, 30s, "
	    "1h30m, 500ms or a number of seconds)",
	    what, s ? s : "");
}

int64_t
units_rate_per(int64_t per_epoch, int64_t epoch_ms, int64_t period_ms)
{
	__int128 v;

	if (epoch_ms <= 0)
		return 0;
	v = ((__int128)per_epoch * period_ms * 2 + epoch_ms) /
	    ((__int128)epoch_ms * 2);
	return v > INT64_MAX ? INT64_MAX :
	    v < INT64_MIN    ? INT64_MIN :
	                       (int64_t)v;
}

int64_t
units_lasts_ms(int64_t escrow, int64_t per_epoch, int64_t epoch_ms)
{
	__int128 v;

	if (per_epoch <= 0)
		return -1;
	if (escrow <= 0 || epoch_ms <= 0)
		return 0;
	v = (__int128)(escrow / per_epoch) * epoch_ms;
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}
