/* The API-key secret format, shared by the auth service (which makes keys) and the gateway
 * (which checks X-API-Key): "mk_" + 16 hex key id + "_" + base64url of 32 random bytes. */
#ifndef METRO_API_KEY_H
#define METRO_API_KEY_H

#include <stdbool.h>

#define API_KEY_HEADER "x-api-key"
#define API_KEY_ID_LEN 16         /* lowercase hex digits of 8 random bytes */
#define API_KEY_SECRET_LEN 63     /* "mk_" 16 "_" 43 */
#define API_KEY_PREFIX_LEN 8      /* the part of the secret a key list shows */
#define API_KEY_SHA256_HEX_LEN 64

/* A fresh random key id and its secret (NUL-terminated). */
void api_key_generate(char key_id[API_KEY_ID_LEN + 1], char secret[API_KEY_SECRET_LEN + 1]);

/* True for exactly 16 lowercase hex digits. */
bool api_key_id_valid(const char *key_id);

/* True when secret has the exact format (the base64url part canonical for 32 bytes); then
 * key_id (may be NULL) gets its key id. Says nothing about whether the key exists. */
bool api_key_parse(const char *secret, char key_id[API_KEY_ID_LEN + 1]);

/* Lowercase hex of SHA-256 over the whole secret string: what the auth service stores (as
 * bytes) and LookupApiKey answers. */
void api_key_sha256_hex(const char *secret, char out[API_KEY_SHA256_HEX_LEN + 1]);

/* Whether secret hashes to sha256_hex (64 hex digits, either case), in time independent of
 * where they differ. False for a malformed hash. */
bool api_key_matches(const char *secret, const char *sha256_hex);

#endif
