/*
 * units: the quantities SDL writes as text, parsed exactly (no floating
 * point): sizes with Akash's suffixes (k Ki M Mi G Gi T Ti P Pi E Ei, or
 * plain bytes, decimals allowed), CPU units ("500m", 0.5, "1"), decimal
 * prices with up to 18 fractional digits, and durations ("24h").
 */
#ifndef LODGE_SDL_UNITS_H
#define LODGE_SDL_UNITS_H

#include <stdbool.h>
#include <stdint.h>

/* Size in bytes, truncated toward zero as Akash does.  binary_only allows
 * only the Ki..Ei suffixes (Akash's GPU ram).  Returns 0, ERR_INVAL with a
 * message, or ERR_RANGE. */
int sdl_parse_size(const char *s, bool binary_only, uint64_t *out);

/* CPU in millicores: "<n>m" is millicores, anything else a decimal number
 * of cores (truncated to whole millicores). */
int sdl_parse_cpu(const char *s, uint32_t *millis);

/* A non-negative decimal "123" or "1.5" (at most 18 fractional digits). */
int sdl_parse_decimal(const char *s, uint64_t *whole, uint64_t *frac18);

/* "<n>s", "<n>m" or "<n>h" (n >= 1) in seconds. */
int sdl_parse_duration(const char *s, uint64_t *seconds);

#endif
