/*
 * units: amounts, rates and durations for people (the tenant's and the
 * provider's commands).  The ledger counts integer micro-units ("uakt");
 * one million of them make one unit of the token ("AKT", an
 * AKT-equivalent).  A lease's price is per epoch; people think per hour
 * and per month, and in how long the escrow lasts.
 */
#ifndef LODGE_COMMON_UNITS_H
#define LODGE_COMMON_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* A month, for prices: 30 days. */
#define UNITS_MONTH_MS (30LL * 86400 * 1000)

/* The unit of denom for people: "uakt" -> "AKT", any "u<name>" ->
 * NAME upper-cased; another denomination is its own unit (*micro set to
 * 0: its amounts are printed as they are). */
void units_name(const char *denom, char *buf, size_t cap, int *micro);

/* micro micro-units of denom as "0.064 AKT": the integer part, then up
 * to six decimals without trailing zeros.  Always NUL-terminated. */
void units_fmt_tokens(int64_t micro, const char *denom, char *buf, size_t cap);

/* The same with the raw amount: "0.064 AKT (64000 uakt)". */
void units_fmt_amount(int64_t micro, const char *denom, char *buf, size_t cap);

/* ms as "3d 4h", "4h 12m", "12m 5s", "45s" (two largest units); a
 * negative ms is "forever". */
void units_fmt_duration(int64_t ms, char *buf, size_t cap);

/* A duration as people write it into *ms: a whole number followed by
 * "ms", "s", "m", "h" or "d", or several of them ("1h30m", the largest
 * first); a bare number is seconds.  "0" is 0.  ERR_INVAL naming what
 * (e.g. "--pause-grace") on anything else, ERR_RANGE above max_ms. */
int units_parse_duration(const char *s, const char *what, int64_t max_ms,
    int64_t *ms);

/* A price per epoch of epoch_ms as a price per period_ms, rounded to the
 * nearest micro-unit, INT64_MAX when it does not fit; 0 when epoch_ms
 * is not positive. */
int64_t units_rate_per(int64_t per_epoch, int64_t epoch_ms, int64_t period_ms);

/* How long escrow lasts paying per_epoch every epoch_ms: whole epochs
 * it pays, in ms; -1 (forever) when per_epoch is not positive. */
int64_t units_lasts_ms(int64_t escrow, int64_t per_epoch, int64_t epoch_ms);

#endif
