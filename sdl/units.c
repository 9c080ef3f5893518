/*
 * units: exact parsing of SDL quantities.  Akash parses with float64 and
 * truncates; for every value a person writes the exact decimal result is
 * the same, and it is the same on every machine.
 */
#include "sdl/units.h"

#include <string.h>

#include "common/err.h"

struct suffix {
	const char *s;
	uint64_t mul;
	bool binary;
};

static const struct suffix suffixes[] = {
	{ "Ki", 1ULL << 10, true },
	{ "Mi", 1ULL << 20, true },
	{ "Gi", 1ULL << 30, true },
	{ "Ti", 1ULL << 40, true },
	{ "Pi", 1ULL << 50, true },
	{ "Ei", 1ULL << 60, true },
	{ "k", 1000ULL, false },
	{ "M", 1000000ULL, false },
	{ "G", 1000000000ULL, false },
	{ "T", 1000000000000ULL, false },
	{ "P", 1000000000000000ULL, false },
	{ "E", 1000000000000000000ULL, false },
};

/* Parse [+-]?(digits[.digits]|.digits)([eE][+-]?digits)? over s[0..n):
 * value = m * 10^exp10, keeping at most 19 significant digits. */
static int
parse_number(const char *s, size_t n, bool *neg, uint64_t *m, int *exp10)
{
	size_t i = 0, digits = 0, sig = 0;
	int e = 0;

	*neg = false;
	*m = 0;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		*neg = s[i++] == '-';
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
		if (sig < 19) {
			*m = *m * 10 + (uint64_t)(s[i] - '0');
			if (*m)
				sig++;
		} else {
			e++;
		}
	}
	if (i < n && s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
			if (sig < 19) {
				*m = *m * 10 + (uint64_t)(s[i] - '0');
				if (*m)
					sig++;
				e--;
			}
		}
	}
	if (digits == 0)
		return ERR_INVAL;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		bool eneg = false;
		int ev = 0;
		size_t ed = 0;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, ed++)
			if (ev < 100000)
				ev = ev * 10 + (s[i] - '0');
		if (ed == 0)
			return ERR_INVAL;
		e += eneg ? -ev : ev;
	}
	if (i != n)
		return ERR_INVAL;
	*exp10 = e;
	return 0;
}

/* floor(m * mul * 10^e) into out, or ERR_RANGE. */
static int
scale(uint64_t m, uint64_t mul, int e, uint64_t *out)
{
	unsigned __int128 v = (unsigned __int128)m * mul;

	if (v == 0) {
		*out = 0;
		return 0;
	}
	while (e > 0) {
		if (v > (((unsigned __int128)1) << 120))
			return ERR_RANGE;
		v *= 10;
		e--;
	}
	while (e < 0 && v) {
		v /= 10;
		e++;
	}
	if (v > UINT64_MAX)
		return ERR_RANGE;
	*out = (uint64_t)v;
	return 0;
}

int
sdl_parse_size(const char *s, bool binary_only, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t mul = 1, m;
	bool neg;
	int e, rc;

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i].s);
		if (binary_only && !suffixes[i].binary)
			continue;
		if (n >= sl && memcmp(s + n - sl, suffixes[i].s, sl) == 0) {
			mul = suffixes[i].mul;
			n -= sl;
			break;
		}
	}
	if (parse_number(s, n, &neg, &m, &e))
		return err_set(ERR_INVAL,
		    "\"%s\" is not a size (a number with "
		    "an optional suffix %s)",
		    s,
		    binary_only ? "Ki, Mi, Gi, Ti, Pi or Ei" :
		                  "k, Ki, M, Mi, G, Gi, T, Ti, P, Pi, E or Ei");
	if (neg && m != 0)
		return err_set(ERR_INVAL, "size \"%s\" is negative", s);
	if ((rc = scale(m, mul, e, out)))
		return err_set(rc, "size \"%s\" is too large", s);
	return 0;
}

int
sdl_parse_cpu(const char *s, uint32_t *millis)
{
	size_t n = strlen(s);
	uint64_t m, v;
	bool neg;
	int e;

	if (n > 0 && s[n - 1] == 'm') {
		/* Akash: strconv.ParseUint(s, 10, 32) of the rest */
		v = 0;
		if (n == 1)
			goto bad;
		for (size_t i = 0; i + 1 < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				goto bad;
			v = v * 10 + (uint64_t)(s[i] - '0');
			if (v > UINT32_MAX)
				return err_set(ERR_RANGE,
				    "cpu \"%s\" is too "
				    "large",
				    s);
		}
		*millis = (uint32_t)v;
		return 0;
	}
	if (parse_number(s, n, &neg, &m, &e))
		goto bad;
	if (neg && m != 0)
		return err_set(ERR_INVAL, "cpu \"%s\" is negative", s);
	if (scale(m, 1000, e, &v) || v > UINT32_MAX)
		return err_set(ERR_RANGE, "cpu \"%s\" is too large", s);
	*millis = (uint32_t)v;
	return 0;
bad:
	return err_set(ERR_INVAL,
	    "\"%s\" is not a CPU quantity (cores such "
	    "as 0.5 or 2, or millicores such as \"500m\")",
	    s);
}

int
sdl_parse_decimal(const char *s, uint64_t *whole, uint64_t *frac18)
{
	const char *p = s;
	uint64_t w = 0, f = 0;
	int fd = 0;

	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (w > (UINT64_MAX - 9) / 10)
			return err_set(ERR_RANGE, "amount \"%s\" is too large",
			    s);
		w = w * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (++fd > 18)
				return err_set(ERR_INVAL,
				    "amount \"%s\" has "
				    "more than 18 decimal places",
				    s);
			f = f * 10 + (uint64_t)(*p - '0');
		}
	}
	if (*p)
		goto bad;
	for (; fd < 18; fd++)
		f *= 10;
	*whole = w;
	*frac18 = f;
	return 0;
bad:
	return err_set(ERR_INVAL,
	    "\"%s\" is not a non-negative decimal "
	    "amount",
	    s);
}

int
sdl_parse_duration(const char *s, uint64_t *seconds)
{
	size_t n = strlen(s);
	uint64_t v = 0, mul;

	if (n < 2 || s[0] < '1' || s[0] > '9')
		goto bad;
	switch (s[n - 1]) {
	case 's':
		mul = 1;
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	default:
		goto bad;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		if (v > (UINT64_MAX - 9) / 10)
			return err_set(ERR_RANGE, "duration \"%s\" is too long",
			    s);
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (__builtin_mul_overflow(v, mul, seconds))
		return err_set(ERR_RANGE, "duration \"%s\" is too long", s);
	return 0;
bad:
	return err_set(ERR_INVAL,
	    "\"%s\" is not a duration (a whole number "
	    ">= 1 followed by s, m or h)",
	    s);
}
