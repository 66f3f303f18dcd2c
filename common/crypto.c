/* Security primitives over OpenSSL 3's EVP and RAND APIs (no deprecated calls). A failure
 * of libcrypto here means a broken process, so these abort rather than return errors. */
#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"

static _Noreturn void crypto_die(const char *what) {
  fprintf(stderr, "crypto: %s failed\n", what);
  abort();
}

void crypto_random_bytes(void *buf, size_t n) {
  uint8_t *p = buf;
  while (n > 0) { /* RAND_bytes takes an int */
    int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
    if (RAND_bytes(p, chunk) != 1) crypto_die("RAND_bytes");
    p += chunk;
    n -= (size_t)chunk;
  }
}

bool crypto_random_token(size_t n_bytes, char *out, size_t cap) {
  if (n_bytes == 0 || n_bytes > 1024 || cap <= b64_encoded_len(B64_URL_NOPAD, n_bytes)) {
    if (cap > 0) out[0] = '\0';
    return false;
  }
  uint8_t raw[1024];
  crypto_random_bytes(raw, n_bytes);
  bool ok = b64_encode(B64_URL_NOPAD, raw, n_bytes, out, cap);
  OPENSSL_cleanse(raw, n_bytes);
  return ok;
}

void crypto_hex(const void *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  const uint8_t *p = in;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = '\0';
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool crypto_hex_decode(const char *in, void *out, size_t n) {
  if (strnlen(in, 2 * n + 1) != 2 * n) return false;
  uint8_t *o = out;
  for (size_t i = 0; i < n; i++) {
    int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    o[i] = (uint8_t)(hi << 4 | lo);
  }
  return true;
}

void crypto_sha256(const void *in, size_t n, uint8_t out[CRYPTO_SHA256_LEN]) {
  unsigned int len = 0;
  if (EVP_Digest(in, n, out, &len, EVP_sha256(), NULL) != 1 || len != CRYPTO_SHA256_LEN)
    crypto_die("EVP_Digest(SHA256)");
}

void crypto_sha256_hex(const void *in, size_t n, char out[2 * CRYPTO_SHA256_LEN + 1]) {
  uint8_t md[CRYPTO_SHA256_LEN];
  crypto_sha256(in, n, md);
  crypto_hex(md, sizeof md, out);
}

/* HMAC with the named digest through EVP_MAC; out holds exactly out_len bytes. */
static void hmac(const char *digest, const void *key, size_t key_len, const void *msg, size_t n,
                 uint8_t *out, size_t out_len) {
  static const uint8_t empty_key[1] = {0};
  size_t len = 0;
  /* EVP_Q_mac refuses a NULL key even when its length is 0. */
  if (!EVP_Q_mac(NULL, "HMAC", NULL, digest, NULL, key_len ? key : empty_key, key_len, msg, n,
                 out, out_len, &len) ||
      len != out_len)
    crypto_die("EVP_Q_mac(HMAC)");
}

void crypto_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t n,
                        uint8_t out[CRYPTO_SHA256_LEN]) {
  hmac("SHA256", key, key_len, msg, n, out, CRYPTO_SHA256_LEN);
}

void crypto_hmac_sha512(const void *key, size_t key_len, const void *msg, size_t n,
                        uint8_t out[CRYPTO_SHA512_LEN]) {
  hmac("SHA512", key, key_len, msg, n, out, CRYPTO_SHA512_LEN);
}

void crypto_hmac_sha512_hex(const void *key, size_t key_len, const void *msg, size_t n,
                            char out[2 * CRYPTO_SHA512_LEN + 1]) {
  uint8_t mac[CRYPTO_SHA512_LEN];
  crypto_hmac_sha512(key, key_len, msg, n, mac);
  crypto_hex(mac, sizeof mac, out);
}

bool crypto_ct_equal(const void *a, const void *b, size_t n) {
  return n == 0 || CRYPTO_memcmp(a, b, n) == 0;
}

bool crypto_ct_streq(const char *given, const char *expected) {
  size_t lg = strlen(given), le = strlen(expected);
  /* Always compare le bytes: given when the lengths match, else expected with itself, so
   * neither the content nor the first difference shows in the time taken. */
  const char *lhs = lg == le ? given : expected;
  int diff = le == 0 ? 0 : CRYPTO_memcmp(lhs, expected, le);
  return (diff == 0) & (lg == le);
}

void crypto_uuid_v4(char out[CRYPTO_UUID_LEN + 1]) {
  uint8_t b[16];
  crypto_random_bytes(b, sizeof b);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10xx */
  char hex[33];
  crypto_hex(b, sizeof b, hex);
  snprintf(out, CRYPTO_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
           hex + 16, hex + 20);
}

bool crypto_uuid_valid(const char *s) {
  if (!s || strnlen(s, CRYPTO_UUID_LEN + 1) != CRYPTO_UUID_LEN) return false;
  for (int i = 0; i < CRYPTO_UUID_LEN; i++) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}
