/* API-key secrets: generation from the CSPRNG, the strict format check the gateway runs
 * before any lookup, and the SHA-256 that is all the database ever holds of a secret. */
#include "common/api_key.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/b64.h"
#include "common/crypto.h"

#define SECRET_BYTES 32
#define SECRET_B64_LEN 43 /* unpadded base64url of 32 bytes */

void api_key_generate(char key_id[API_KEY_ID_LEN + 1], char secret[API_KEY_SECRET_LEN + 1]) {
  uint8_t id[API_KEY_ID_LEN / 2];
  char token[SECRET_B64_LEN + 1];
  crypto_random_bytes(id, sizeof id);
  crypto_hex(id, sizeof id, key_id);
  crypto_random_token(SECRET_BYTES, token, sizeof token); /* cannot fail: the buffer fits */
  snprintf(secret, API_KEY_SECRET_LEN + 1, "mk_%s_%s", key_id, token);
  memset(token, 0, sizeof token);
}

bool api_key_id_valid(const char *key_id) {
  if (!key_id || strnlen(key_id, API_KEY_ID_LEN + 1) != API_KEY_ID_LEN) return false;
  for (int i = 0; i < API_KEY_ID_LEN; i++)
    if (!((key_id[i] >= '0' && key_id[i] <= '9') || (key_id[i] >= 'a' && key_id[i] <= 'f'))) return false;
  return true;
}

bool api_key_parse(const char *secret, char key_id[API_KEY_ID_LEN + 1]) {
  if (!secret || strnlen(secret, API_KEY_SECRET_LEN + 1) != API_KEY_SECRET_LEN) return false;
  if (memcmp(secret, "mk_", 3) != 0 || secret[3 + API_KEY_ID_LEN] != '_') return false;
  char id[API_KEY_ID_LEN + 1];
  memcpy(id, secret + 3, API_KEY_ID_LEN);
  id[API_KEY_ID_LEN] = '\0';
  if (!api_key_id_valid(id)) return false;
  uint8_t raw[SECRET_BYTES];
  size_t n = 0;
  const char *b64 = secret + 4 + API_KEY_ID_LEN;
  bool ok = b64_decode(B64_URL_NOPAD, b64, SECRET_B64_LEN, raw, sizeof raw, &n) && n == SECRET_BYTES;
  memset(raw, 0, sizeof raw);
  if (ok && key_id) memcpy(key_id, id, API_KEY_ID_LEN + 1);
  return ok;
}

void api_key_sha256_hex(const char *secret, char out[API_KEY_SHA256_HEX_LEN + 1]) {
  crypto_sha256_hex(secret, strlen(secret), out);
}

bool api_key_matches(const char *secret, const char *sha256_hex) {
  uint8_t want[CRYPTO_SHA256_LEN], got[CRYPTO_SHA256_LEN];
  if (!secret || !sha256_hex || !crypto_hex_decode(sha256_hex, want, sizeof want)) return false;
  crypto_sha256(secret, strlen(secret), got);
  return crypto_ct_equal(got, want, sizeof want);
}
