/* scrypt password hashing through EVP_KDF "SCRYPT", the $scrypt$ string format, and the
 * password policy. Stored strings are parsed strictly and their cost is bounded. */
#include "common/password.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/b64.h"
#include "common/crypto.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define MIN_STORED_SALT 8
#define MAX_STORED_SALT 64
#define MIN_STORED_HASH 16
#define MAX_STORED_HASH 64

typedef struct scrypt_params {
  int ln, r, p;
  uint8_t salt[MAX_STORED_SALT];
  size_t salt_len;
  uint8_t hash[MAX_STORED_HASH];
  size_t hash_len;
} scrypt_params;

static bool cost_ok(int ln, int r, int p) {
  if (ln < PASSWORD_MIN_LN || ln > PASSWORD_MAX_LN) return false;
  if (r < 1 || r > PASSWORD_MAX_R || p < 1 || p > PASSWORD_MAX_P) return false;
  return ((uint64_t)128 * (uint64_t)r << ln) <= PASSWORD_MAX_MEMORY;
}

static bool password_length_ok(const char *password) {
  return password && strnlen(password, PASSWORD_MAX_BYTES + 1) <= PASSWORD_MAX_BYTES;
}

/* scrypt(password, salt) into out[out_len]; false if the KDF refuses. */
static bool derive(const char *password, const uint8_t *salt, size_t salt_len, int ln, int r,
                   int p, uint8_t *out, size_t out_len) {
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
  if (!kdf) return false;
  EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (!ctx) return false;
  uint64_t n = (uint64_t)1 << ln;
  uint32_t rr = (uint32_t)r, pp = (uint32_t)p;
  /* Exactly what scrypt needs: V (128 r (N + 2)) and B (128 r p). */
  uint64_t maxmem = (uint64_t)128 * rr * (n + 2) + (uint64_t)128 * rr * pp;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password,
                                        strlen(password)),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &rr),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &pp),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end(),
  };
  bool ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

bool password_hash(const char *password, int ln, int r, int p, char *out, size_t cap) {
  if (cap > 0) out[0] = '\0';
  if (cap < PASSWORD_HASH_MAX || !password_length_ok(password) || !cost_ok(ln, r, p))
    return false;
  uint8_t salt[SALT_LEN], hash[HASH_LEN];
  crypto_random_bytes(salt, sizeof salt);
  if (!derive(password, salt, sizeof salt, ln, r, p, hash, sizeof hash)) return false;
  char salt_b64[32], hash_b64[48];
  b64_encode(B64_STD_NOPAD, salt, sizeof salt, salt_b64, sizeof salt_b64);
  b64_encode(B64_STD_NOPAD, hash, sizeof hash, hash_b64, sizeof hash_b64);
  OPENSSL_cleanse(hash, sizeof hash);
  int n = snprintf(out, cap, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", ln, r, p, salt_b64, hash_b64);
  return n > 0 && (size_t)n < cap;
}

/* Reads a decimal int of 1-2 digits (no sign, no leading zero) at *s, advancing it. */
static bool parse_small_int(const char **s, int *v) {
  const char *c = *s;
  if (c[0] < '1' || c[0] > '9') return false;
  int x = c[0] - '0';
  c++;
  if (*c >= '0' && *c <= '9') x = x * 10 + (*c++ - '0');
  if (*c >= '0' && *c <= '9') return false;
  *v = x;
  *s = c;
  return true;
}

/* Expects the literal lit at *s, advancing past it. */
static bool expect(const char **s, const char *lit) {
  size_t n = strlen(lit);
  if (strncmp(*s, lit, n) != 0) return false;
  *s += n;
  return true;
}

/* Decodes one "$"-terminated (or NUL-terminated when last) base64 field at *s. */
static bool parse_b64_field(const char **s, bool last, uint8_t *out, size_t min, size_t max,
                            size_t *len) {
  const char *end = strchr(*s, '$');
  if (last ? end != NULL : end == NULL) return false;
  if (!end) end = *s + strlen(*s);
  if (!b64_decode(B64_STD_NOPAD, *s, (size_t)(end - *s), out, max, len) || *len < min)
    return false;
  *s = last ? end : end + 1;
  return true;
}

static bool parse_stored(const char *stored, scrypt_params *sp) {
  if (!stored || strnlen(stored, 512) >= 512) return false;
  const char *s = stored;
  return expect(&s, "$scrypt$ln=") && parse_small_int(&s, &sp->ln) && expect(&s, ",r=") &&
         parse_small_int(&s, &sp->r) && expect(&s, ",p=") && parse_small_int(&s, &sp->p) &&
         expect(&s, "$") && cost_ok(sp->ln, sp->r, sp->p) &&
         parse_b64_field(&s, false, sp->salt, MIN_STORED_SALT, MAX_STORED_SALT, &sp->salt_len) &&
         parse_b64_field(&s, true, sp->hash, MIN_STORED_HASH, MAX_STORED_HASH, &sp->hash_len);
}

bool password_verify(const char *password, const char *stored) {
  scrypt_params sp;
  if (!password_length_ok(password) || !parse_stored(stored, &sp)) return false;
  uint8_t got[MAX_STORED_HASH];
  bool ok = derive(password, sp.salt, sp.salt_len, sp.ln, sp.r, sp.p, got, sp.hash_len) &&
            crypto_ct_equal(got, sp.hash, sp.hash_len);
  OPENSSL_cleanse(got, sizeof got);
  return ok;
}

bool password_needs_rehash(const char *stored, int ln, int r, int p) {
  scrypt_params sp;
  if (!parse_stored(stored, &sp)) return true;
  return sp.ln != ln || sp.r != r || sp.p != p || sp.salt_len != SALT_LEN ||
         sp.hash_len != HASH_LEN;
}

/* Decodes one UTF-8 code point at s (shortest form, no surrogates, at most U+10FFFF);
 * returns its length in bytes, or 0 when the sequence is invalid. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp) {
  static const struct { unsigned char mask, lead; size_t len; uint32_t min; } forms[] = {
      {0x80, 0x00, 1, 0}, {0xe0, 0xc0, 2, 0x80}, {0xf0, 0xe0, 3, 0x800}, {0xf8, 0xf0, 4, 0x10000},
  };
  for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
    if ((s[0] & forms[f].mask) != forms[f].lead) continue;
    uint32_t v = s[0] & (unsigned char)~forms[f].mask;
    for (size_t i = 1; i < forms[f].len; i++) {
      if ((s[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
      v = v << 6 | (s[i] & 0x3f);
    }
    if (v < forms[f].min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return forms[f].len;
  }
  return 0;
}

enum { CLASS_LOWER = 1, CLASS_UPPER = 2, CLASS_DIGIT = 4, CLASS_SYMBOL = 8 };

static int char_class(uint32_t cp) {
  if (cp >= 'a' && cp <= 'z') return CLASS_LOWER;
  if (cp >= 'A' && cp <= 'Z') return CLASS_UPPER;
  if (cp >= '0' && cp <= '9') return CLASS_DIGIT;
  return CLASS_SYMBOL;
}

bool password_policy_ok(const char *password) {
  if (!password_length_ok(password)) return false;
  const unsigned char *s = (const unsigned char *)password;
  size_t chars = 0;
  int classes = 0;
  while (*s) {
    uint32_t cp;
    size_t len = utf8_next(s, &cp);
    if (len == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) return false;
    classes |= char_class(cp);
    chars++;
    s += len;
  }
  int n_classes = __builtin_popcount((unsigned)classes);
  return chars >= 8 && chars <= 128 && (n_classes >= 3 || chars >= 12);
}
