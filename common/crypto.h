/* Small security primitives on OpenSSL 3 libcrypto: random bytes and tokens, hex, SHA-256,
 * HMAC-SHA256/512, constant-time comparison and UUID v4. Failures of the library abort. */
#ifndef METRO_CRYPTO_H
#define METRO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_SHA512_LEN 64
#define CRYPTO_UUID_LEN 36 /* characters, without the NUL */

/* n cryptographically secure random bytes; aborts if the generator fails. */
void crypto_random_bytes(void *buf, size_t n);
/* n random bytes for identifiers that label things (request ids, trace ids), not for keys or
 * tokens: cryptographically secure, but served from a per-thread pool (no fork after threads). */
void crypto_random_id_bytes(void *buf, size_t n);
/* n_bytes random bytes as base64url without padding into out (NUL-terminated). False when
 * out cannot hold it (n_bytes = 32 needs 44 bytes). */
bool crypto_random_token(size_t n_bytes, char *out, size_t cap);

/* Lowercase hex of n bytes into out, which holds 2 * n + 1 characters. */
void crypto_hex(const void *in, size_t n, char *out);
/* Decodes exactly 2 * n hex digits (either case) from in into out[n]; false on any other
 * character or when strlen(in) != 2 * n. */
bool crypto_hex_decode(const char *in, void *out, size_t n);

void crypto_sha256(const void *in, size_t n, uint8_t out[CRYPTO_SHA256_LEN]);
void crypto_sha256_hex(const void *in, size_t n, char out[2 * CRYPTO_SHA256_LEN + 1]);

void crypto_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t n,
                        uint8_t out[CRYPTO_SHA256_LEN]);
void crypto_hmac_sha512(const void *key, size_t key_len, const void *msg, size_t n,
                        uint8_t out[CRYPTO_SHA512_LEN]);
void crypto_hmac_sha512_hex(const void *key, size_t key_len, const void *msg, size_t n,
                            char out[2 * CRYPTO_SHA512_LEN + 1]);

/* Equality of n bytes in time that depends on n only. */
bool crypto_ct_equal(const void *a, const void *b, size_t n);
/* Equality of two strings, given (from the outside) and expected (the secret one). The time
 * depends on the two lengths only, never on where the strings first differ. */
bool crypto_ct_streq(const char *given, const char *expected);

/* A random UUID v4 in canonical lowercase form ("xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx"). */
void crypto_uuid_v4(char out[CRYPTO_UUID_LEN + 1]);
/* The same from crypto_random_id_bytes: for ids that label requests, not for stored keys. */
void crypto_id_uuid_v4(char out[CRYPTO_UUID_LEN + 1]);
/* True only for the canonical form of a UUID v4: 36 characters, lowercase hex, hyphens at
 * 8, 13, 18 and 23, version nibble 4 and variant 8, 9, a or b. */
bool crypto_uuid_valid(const char *s);

#endif
