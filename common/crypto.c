/* Security primitives over OpenSSL 3's EVP and RAND APIs (no deprecated calls). A failure
 * of libcrypto here means a broken process, so these abort rather than return errors. */
#include "common/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
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

/* Identifier bytes come from a per-thread pool refilled 512 bytes at a time: RAND_bytes costs
 * about the same for 16 bytes as for 512 (its locks and fork check dominate). */
#define ID_POOL_BYTES 512
static _Thread_local uint8_t id_pool[ID_POOL_BYTES];
static _Thread_local size_t id_pool_left;

void crypto_random_id_bytes(void *buf, size_t n) {
  uint8_t *p = buf;
  while (n > 0) {
    if (id_pool_left == 0) {
      crypto_random_bytes(id_pool, sizeof id_pool);
      id_pool_left = sizeof id_pool;
    }
    size_t take = n < id_pool_left ? n : id_pool_left;
    uint8_t *from = id_pool + sizeof id_pool - id_pool_left;
    memcpy(p, from, take);
    OPENSSL_cleanse(from, take); /* a byte is handed out once */
    id_pool_left -= take;
    p += take;
    n -= take;
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

/* HMAC through EVP_MAC. Fetching the algorithm and deriving the key's inner and outer pads is
 * most of the cost of a short message, and the same few keys sign everything (the gateway's
 * identity secret above all), so each thread keeps its last few keyed contexts and re-initialises
 * one with its key (EVP_MAC_init with a NULL key keeps the key). Keys longer than
 * HMAC_CACHED_KEY_MAX, and misses when every slot is taken, use a context of their own. */
#define HMAC_CACHE_SLOTS 4
#define HMAC_CACHED_KEY_MAX 128

typedef struct hmac_slot {
  const char *digest; /* "SHA256" or "SHA512": a string literal of this file */
  size_t key_len;
  uint8_t key[HMAC_CACHED_KEY_MAX];
  EVP_MAC_CTX *ctx;
} hmac_slot;

typedef struct hmac_cache {
  EVP_MAC *mac;
  hmac_slot slots[HMAC_CACHE_SLOTS];
  unsigned next_victim;
} hmac_cache;

static pthread_key_t hmac_cache_key;
static pthread_once_t hmac_cache_once = PTHREAD_ONCE_INIT;

static void hmac_cache_free(void *p) {
  hmac_cache *c = p;
  for (int i = 0; i < HMAC_CACHE_SLOTS; i++) {
    EVP_MAC_CTX_free(c->slots[i].ctx);
    OPENSSL_cleanse(c->slots[i].key, sizeof c->slots[i].key);
  }
  EVP_MAC_free(c->mac);
  free(c);
}

static void hmac_cache_key_create(void) {
  if (pthread_key_create(&hmac_cache_key, hmac_cache_free) != 0) crypto_die("pthread_key_create");
}

static hmac_cache *hmac_cache_get(void) {
  pthread_once(&hmac_cache_once, hmac_cache_key_create);
  hmac_cache *c = pthread_getspecific(hmac_cache_key);
  if (c) return c;
  c = calloc(1, sizeof *c);
  if (!c || !(c->mac = EVP_MAC_fetch(NULL, "HMAC", NULL))) crypto_die("EVP_MAC_fetch(HMAC)");
  if (pthread_setspecific(hmac_cache_key, c) != 0) crypto_die("pthread_setspecific");
  return c;
}

static EVP_MAC_CTX *hmac_keyed(EVP_MAC *mac, const char *digest, const void *key, size_t key_len) {
  static const uint8_t empty_key[1] = {0}; /* EVP_MAC_init takes a NULL key as "keep the old one" */
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
  if (!ctx || !EVP_MAC_init(ctx, key_len ? key : empty_key, key_len, params)) crypto_die("EVP_MAC_init(HMAC)");
  return ctx;
}

/* A context keyed for (digest, key), ready for EVP_MAC_update; *owned when the caller frees it. */
static EVP_MAC_CTX *hmac_context(const char *digest, const void *key, size_t key_len, bool *owned) {
  hmac_cache *c = hmac_cache_get();
  *owned = false;
  if (key_len <= HMAC_CACHED_KEY_MAX) {
    for (int i = 0; i < HMAC_CACHE_SLOTS; i++) {
      hmac_slot *s = &c->slots[i];
      if (s->ctx && s->key_len == key_len && strcmp(s->digest, digest) == 0 &&
          memcmp(s->key, key, key_len) == 0) {
        if (!EVP_MAC_init(s->ctx, NULL, 0, NULL)) crypto_die("EVP_MAC_init(HMAC)");
        return s->ctx;
      }
    }
    hmac_slot *s = &c->slots[c->next_victim++ % HMAC_CACHE_SLOTS];
    EVP_MAC_CTX_free(s->ctx);
    s->ctx = hmac_keyed(c->mac, digest, key, key_len);
    s->digest = digest;
    s->key_len = key_len;
    memcpy(s->key, key, key_len);
    return s->ctx;
  }
  *owned = true;
  return hmac_keyed(c->mac, digest, key, key_len);
}

/* HMAC with the named digest; out holds exactly out_len bytes. */
static void hmac(const char *digest, const void *key, size_t key_len, const void *msg, size_t n,
                 uint8_t *out, size_t out_len) {
  bool owned;
  EVP_MAC_CTX *ctx = hmac_context(digest, key, key_len, &owned);
  size_t len = 0;
  if (!EVP_MAC_update(ctx, msg, n) || !EVP_MAC_final(ctx, out, &len, out_len) || len != out_len)
    crypto_die("EVP_MAC(HMAC)");
  if (owned) EVP_MAC_CTX_free(ctx);
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

/* 16 random bytes as a canonical UUID v4, without printf (request ids are made per call). */
static void uuid_v4_format(uint8_t b[16], char out[CRYPTO_UUID_LEN + 1]) {
  static const char digits[] = "0123456789abcdef";
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10xx */
  char *o = out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    *o++ = digits[b[i] >> 4];
    *o++ = digits[b[i] & 15];
  }
  *o = '\0';
}

void crypto_uuid_v4(char out[CRYPTO_UUID_LEN + 1]) {
  uint8_t b[16];
  crypto_random_bytes(b, sizeof b);
  uuid_v4_format(b, out);
}

void crypto_id_uuid_v4(char out[CRYPTO_UUID_LEN + 1]) {
  uint8_t b[16];
  crypto_random_id_bytes(b, sizeof b);
  uuid_v4_format(b, out);
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
