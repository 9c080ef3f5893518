/*
 * codec: hex and base64 (RFC 4648 §4 and §5), strict decoders.
 */
#include <string.h>

#include "common/codec.h"
#include "common/err.h"

static const char hexdig[] = "0123456789abcdef";
static const char b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
hex_encode(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hexdig[in[i] >> 4];
		out[2 * i + 1] = hexdig[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
	if (inlen != 2 * outlen)
		return err_set(ERR_INVAL, "hex: expected %zu digits, got %zu",
		    2 * outlen, inlen);
	for (size_t i = 0; i < outlen; i++) {
		int hi = hex_digit(in[2 * i]), lo = hex_digit(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return err_set(ERR_INVAL,
			    "hex: bad digit at offset "
			    "%zu",
			    hi < 0 ? 2 * i : 2 * i + 1);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
hex_valid(const char *in, size_t inlen)
{
	for (size_t i = 0; i < inlen; i++)
		if (hex_digit(in[i]) < 0)
			return 0;
	return 1;
}

static void
b64_enc(const char *alpha, int pad, const uint8_t *in, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = alpha[v >> 18];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		out[o++] = alpha[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = alpha[v >> 18];
		out[o++] = alpha[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alpha[v >> 18];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
}

void
b64_encode(const uint8_t *in, size_t len, char *out)
{
	b64_enc(b64std, 1, in, len, out);
}

void
b64url_encode(const uint8_t *in, size_t len, char *out)
{
	b64_enc(b64url, 0, in, len, out);
}

static int
b64_dec(const char *alpha, int pad, const char *in, size_t inlen, uint8_t *out,
    size_t outcap, size_t *outlen)
{
	int8_t map[256];
	size_t n = inlen, o = 0, i;
	uint32_t acc = 0;
	int bits = 0;

	memset(map, -1, sizeof(map));
	for (i = 0; i < 64; i++)
		map[(unsigned char)alpha[i]] = (int8_t)i;
	if (pad) {
		if (inlen % 4 != 0)
			return err_set(ERR_INVAL,
			    "base64: length %zu is not "
			    "a multiple of 4",
			    inlen);
		if (n > 0 && in[n - 1] == '=')
			n--;
		if (n > 0 && in[n - 1] == '=')
			n--;
	} else if (inlen % 4 == 1) {
		return err_set(ERR_INVAL, "base64url: impossible length %zu",
		    inlen);
	}
	for (i = 0; i < n; i++) {
		int8_t v = map[(unsigned char)in[i]];
		if (v < 0)
			return err_set(ERR_INVAL,
			    "base64: bad character at "
			    "offset %zu",
			    i);
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outcap)
				return err_set(ERR_LIMIT,
				    "base64: decoded "
				    "data longer than %zu bytes",
				    outcap);
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* leftover bits must be zero: one text per byte string */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return err_set(ERR_INVAL, "base64: non-zero trailing bits");
	*outlen = o;
	return 0;
}

int
b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap,
    size_t *outlen)
{
	return b64_dec(b64std, 1, in, inlen, out, outcap, outlen);
}

int
b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap,
    size_t *outlen)
{
	return b64_dec(b64url, 0, in, inlen, out, outcap, outlen);
}
