/*
 * codec: hex and base64 (RFC 4648 §4 standard alphabet with padding, and
 * §5 URL-safe alphabet without padding).  Decoders are strict: they refuse
 * wrong lengths, stray characters and non-zero trailing bits.
 */
#ifndef LODGE_CODEC_H
#define LODGE_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decode exactly outlen bytes from a string of 2*outlen hex digits.
 * Returns 0 or ERR_INVAL. */
int hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen);
/* The value of hex digit c (either case), or -1. */
int hex_digit(int c);
/* 1 when in[0..inlen) are all hex digits (either case), else 0. */
int hex_valid(const char *in, size_t inlen);

/* Size of the text b64_encode writes, including the NUL. */
#define B64_ENCODED_SIZE(n) ((((n) + 2) / 3) * 4 + 1)
void b64_encode(const uint8_t *in, size_t len, char *out);
void b64url_encode(const uint8_t *in, size_t len, char *out);
/* Decode into out (room for outcap bytes); *outlen gets the byte count.
 * Returns 0, ERR_INVAL on bad input, ERR_LIMIT when outcap is too small. */
int b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap,
    size_t *outlen);
int b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap,
    size_t *outlen);

#endif
