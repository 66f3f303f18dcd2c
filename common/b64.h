/* Base64 in its two alphabets (standard "+/" and URL-safe "-_"), padded or not: encoding into
 * a bounded buffer and strict decoding that rejects anything but the canonical encoding. */
#ifndef METRO_B64_H
#define METRO_B64_H

#include <stdbool.h>
#include <stddef.h>

typedef enum b64_variant {
  B64_STD,        /* RFC 4648 §4, "+/", '=' padding */
  B64_STD_NOPAD,  /* RFC 4648 §4 without padding (as in the $scrypt$ strings) */
  B64_URL,        /* RFC 4648 §5, "-_", '=' padding */
  B64_URL_NOPAD,  /* RFC 4648 §5 without padding (JWS, opaque tokens) */
} b64_variant;

/* Characters needed to encode n bytes, without the terminating NUL. */
size_t b64_encoded_len(b64_variant v, size_t n);
/* An upper bound on the bytes that n characters decode to. */
size_t b64_decoded_max(size_t n);

/* Encodes n bytes into out as a NUL-terminated string. False (out untouched beyond being an
 * empty string when cap > 0) when out cannot hold b64_encoded_len(v, n) + 1 characters. */
bool b64_encode(b64_variant v, const void *in, size_t n, char *out, size_t cap);
/* The encoding in a malloc'd string (the caller frees it); NULL on overflow or OOM. */
char *b64_encode_alloc(b64_variant v, const void *in, size_t n);

/* Decodes exactly n characters of in into out. Strict: only the variant's alphabet; padding
 * exactly where the variant requires it and nowhere else; no whitespace; unused trailing bits
 * must be zero (so every byte string has one encoding). False on any of these, or when the
 * result would not fit in cap bytes; *out_len is the decoded length on success. */
bool b64_decode(b64_variant v, const char *in, size_t n, void *out, size_t cap, size_t *out_len);

#endif
