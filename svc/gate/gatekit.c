/* The gate kit (gatekit.h): Ed25519-signed static QR tokens, HMAC-SHA256 rotating codes and the
 * published key set. Self-contained (libcrypto + jansson) because gate vendors embed it as is. */
#include "svc/gate/gatekit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#define GK_PREFIX "MT1"
#define GK_SIG_LEN 64
#define GK_SIG_B64_LEN 86         /* 64 bytes, unpadded base64url */
#define GK_COUNTER_MAX_DIGITS 15
#define GK_PAYLOAD_MAX 512        /* decoded payload bytes; the largest valid one is ~260 */

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* ---- base64url (RFC 4648 §5), unpadded, strict ---- */

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url_len(size_t n) { return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0); }

/* Writes b64url_len(n) characters and a NUL; false when cap is too small. */
static bool b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap) {
  if (cap < b64url_len(n) + 1) return false;
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = B64URL[v >> 18 & 63];
    out[o++] = B64URL[v >> 12 & 63];
    out[o++] = B64URL[v >> 6 & 63];
    out[o++] = B64URL[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = B64URL[v >> 18 & 63];
    out[o++] = B64URL[v >> 12 & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = B64URL[v >> 18 & 63];
    out[o++] = B64URL[v >> 12 & 63];
    out[o++] = B64URL[v >> 6 & 63];
  }
  out[o] = '\0';
  return true;
}

static int b64url_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

/* Decodes exactly n characters. Refuses '=' and anything outside the alphabet, a length of
 * 1 mod 4, non-zero unused trailing bits, and output beyond cap. */
static bool b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len) {
  if (n % 4 == 1) return false;
  size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
  if (need > cap) return false;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64url_value((unsigned char)in[i]);
    if (v < 0) return false;
    acc = (acc << 6 | (uint32_t)v) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return false; /* non-canonical */
  *out_len = o;
  return true;
}

/* ---- field rules ---- */

static bool kid_valid(const char *s, size_t n) {
  if (n < 1 || n > GK_MAX_KID_LEN) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static bool digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

/* Canonical lowercase UUID version 4: xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx. */
static bool uuid_v4_valid(const char *s) {
  if (strlen(s) != 36) return false;
  for (int i = 0; i < 36; i++) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

static bool station_valid(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > 64) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) return false;
  return true;
}

static const char *const TYPES[] = {"oneway",      "return",      "day_pass",     "weekly_pass",
                                    "monthly_pass", "yearly_pass", "lifetime_pass"};

/* 1 = a journey ticket (o and d), 0 = a pass, -1 = unknown. */
static int typ_kind(const char *typ) {
  for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++)
    if (strcmp(typ, TYPES[i]) == 0) return i < 2;
  return -1;
}

/* The rules a payload obeys, whether it is about to be signed or was just decoded. */
static bool payload_valid(const gk_payload *p) {
  if (memchr(p->tid, '\0', sizeof p->tid) == NULL || memchr(p->typ, '\0', sizeof p->typ) == NULL ||
      memchr(p->o, '\0', sizeof p->o) == NULL || memchr(p->d, '\0', sizeof p->d) == NULL)
    return false;
  int kind = typ_kind(p->typ);
  if (kind < 0 || !uuid_v4_valid(p->tid) || p->pax < 1 || p->pax > 100 || p->iat < 0) return false;
  if (kind == 1) return station_valid(p->o) && station_valid(p->d);
  return p->o[0] == '\0' && p->d[0] == '\0';
}

/* ---- payload JSON ---- */

/* Compact JSON {tid, typ, pax, [o, d,] iat} in that order; malloc'ed, NULL on failure. */
static char *payload_encode(const gk_payload *p) {
  json_t *o = json_object();
  if (!o) return NULL;
  bool ok = json_object_set_new(o, "tid", json_string(p->tid)) == 0 &&
            json_object_set_new(o, "typ", json_string(p->typ)) == 0 &&
            json_object_set_new(o, "pax", json_integer(p->pax)) == 0;
  if (ok && p->o[0]) ok = json_object_set_new(o, "o", json_string(p->o)) == 0;
  if (ok && p->d[0]) ok = json_object_set_new(o, "d", json_string(p->d)) == 0;
  ok = ok && json_object_set_new(o, "iat", json_integer((json_int_t)p->iat)) == 0;
  char *s = ok ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  return s;
}

/* Copies a JSON string member of at most cap-1 bytes; false when missing, not a string, or longer. */
static bool get_str(json_t *obj, const char *key, char *dst, size_t cap) {
  json_t *v = json_object_get(obj, key);
  if (!json_is_string(v)) return false;
  size_t n = json_string_length(v);
  if (n >= cap) return false;
  const char *s = json_string_value(v);
  if (memchr(s, '\0', n)) return false;
  memcpy(dst, s, n);
  dst[n] = '\0';
  return true;
}

static bool payload_decode(const uint8_t *buf, size_t len, gk_payload *p) {
  memset(p, 0, sizeof *p);
  json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
  if (!root) return false;
  bool ok = json_is_object(root) && get_str(root, "tid", p->tid, sizeof p->tid) &&
            get_str(root, "typ", p->typ, sizeof p->typ);
  json_t *pax = json_object_get(root, "pax"), *iat = json_object_get(root, "iat");
  ok = ok && json_is_integer(pax) && json_is_integer(iat);
  if (ok) {
    json_int_t n = json_integer_value(pax);
    ok = n >= 1 && n <= 100;
    p->pax = ok ? (int)n : 0;
    p->iat = (int64_t)json_integer_value(iat);
  }
  size_t members = 4;
  if (ok && typ_kind(p->typ) == 1) {
    ok = get_str(root, "o", p->o, sizeof p->o) && get_str(root, "d", p->d, sizeof p->d);
    members = 6;
  }
  ok = ok && json_object_size(root) == members && payload_valid(p);
  json_decref(root);
  if (!ok) memset(p, 0, sizeof *p);
  return ok;
}

/* ---- key ring ---- */

void gk_keyring_init(gk_keyring *r) {
  memset(r, 0, sizeof *r);
  r->signing = -1;
}

const gk_key *gk_keyring_find(const gk_keyring *r, const char *kid, size_t kid_len) {
  if (!r || !kid) return NULL;
  for (int i = 0; i < r->n; i++)
    if (strlen(r->keys[i].kid) == kid_len && memcmp(r->keys[i].kid, kid, kid_len) == 0) return &r->keys[i];
  return NULL;
}

/* Checks the kid and the ring's room; returns the new slot or NULL with a message. */
static gk_key *new_slot(gk_keyring *r, const char *kid, char *err, size_t errlen) {
  size_t n = kid ? strnlen(kid, GK_MAX_KID_LEN + 1) : 0;
  if (!kid_valid(kid, n)) {
    set_err(err, errlen, "kid must be 1-%d characters of A-Z a-z 0-9 _ -", GK_MAX_KID_LEN);
    return NULL;
  }
  if (gk_keyring_find(r, kid, n)) {
    set_err(err, errlen, "duplicate kid \"%s\"", kid);
    return NULL;
  }
  if (r->n >= GK_MAX_KEYS) {
    set_err(err, errlen, "the key ring is full (%d keys)", GK_MAX_KEYS);
    return NULL;
  }
  gk_key *k = &r->keys[r->n];
  memset(k, 0, sizeof *k);
  memcpy(k->kid, kid, n);
  return k;
}

/* Never prompts for a passphrase: an encrypted PEM simply fails to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

bool gk_keyring_add_private_pem(gk_keyring *r, const char *kid, const char *pem, bool signing, char *err,
                                size_t errlen) {
  gk_key *k = new_slot(r, kid, err, errlen);
  if (!k) return false;
  if (!pem) {
    set_err(err, errlen, "no PEM");
    return false;
  }
  BIO *bio = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
  BIO_free(bio);
  bool ok = false;
  if (!pk) {
    set_err(err, errlen, "not a PEM private key (or an encrypted one)");
  } else if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
    set_err(err, errlen, "not an Ed25519 key (openssl genpkey -algorithm ed25519)");
  } else {
    size_t pl = sizeof k->priv, ql = sizeof k->pub;
    ok = EVP_PKEY_get_raw_private_key(pk, k->priv, &pl) == 1 && pl == 32 &&
         EVP_PKEY_get_raw_public_key(pk, k->pub, &ql) == 1 && ql == 32;
    if (!ok) set_err(err, errlen, "cannot extract the Ed25519 key");
  }
  EVP_PKEY_free(pk);
  ERR_clear_error();
  if (!ok) {
    OPENSSL_cleanse(k, sizeof *k);
    return false;
  }
  k->has_private = true;
  if (signing) r->signing = r->n;
  r->n++;
  return true;
}

bool gk_keyring_add_public(gk_keyring *r, const char *kid, const uint8_t pub[32], char *err, size_t errlen) {
  gk_key *k = new_slot(r, kid, err, errlen);
  if (!k) return false;
  memcpy(k->pub, pub, 32);
  r->n++;
  return true;
}

static bool jwk_str(json_t *e, const char *key, const char **out) {
  json_t *v = json_object_get(e, key);
  *out = json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) ? json_string_value(v) : NULL;
  return *out != NULL;
}

bool gk_keyring_load_jwks(gk_keyring *r, const char *json, size_t len, char *err, size_t errlen) {
  json_error_t je;
  json_t *root = json ? json_loadb(json, len, JSON_REJECT_DUPLICATES, &je) : NULL;
  if (!root) {
    set_err(err, errlen, "not JSON%s%s", json ? ": " : "", json ? je.text : "");
    return false;
  }
  json_t *keys = json_is_object(root) ? json_object_get(root, "keys") : NULL;
  if (!json_is_array(keys)) {
    set_err(err, errlen, "expected {\"keys\": [...]}");
    json_decref(root);
    return false;
  }
  gk_keyring tmp = *r; /* all or nothing */
  bool ok = true;
  for (size_t i = 0; ok && i < json_array_size(keys); i++) {
    json_t *e = json_array_get(keys, i);
    const char *kty, *crv, *kid, *x, *s;
    char kerr[128] = "";
    uint8_t pub[33];
    size_t pl = 0;
    if (!json_is_object(e)) {
      set_err(err, errlen, "keys[%zu]: not an object", i);
      ok = false;
    } else if (!jwk_str(e, "kty", &kty) || strcmp(kty, "OKP") != 0) {
      set_err(err, errlen, "keys[%zu]: kty must be \"OKP\"", i);
      ok = false;
    } else if (!jwk_str(e, "crv", &crv) || strcmp(crv, "Ed25519") != 0) {
      set_err(err, errlen, "keys[%zu]: crv must be \"Ed25519\"", i);
      ok = false;
    } else if (json_object_get(e, "alg") && (!jwk_str(e, "alg", &s) || strcmp(s, "EdDSA") != 0)) {
      set_err(err, errlen, "keys[%zu]: alg must be \"EdDSA\"", i);
      ok = false;
    } else if (json_object_get(e, "use") && (!jwk_str(e, "use", &s) || strcmp(s, "sig") != 0)) {
      set_err(err, errlen, "keys[%zu]: use must be \"sig\"", i);
      ok = false;
    } else if (json_object_get(e, "d")) {
      set_err(err, errlen, "keys[%zu]: a published key set holds no private key (\"d\")", i);
      ok = false;
    } else if (!jwk_str(e, "kid", &kid)) {
      set_err(err, errlen, "keys[%zu]: kid missing", i);
      ok = false;
    } else if (!jwk_str(e, "x", &x) || !b64url_decode(x, strlen(x), pub, sizeof pub, &pl) || pl != 32) {
      set_err(err, errlen, "keys[%zu]: x must be 32 bytes of unpadded base64url", i);
      ok = false;
    } else if (!gk_keyring_add_public(&tmp, kid, pub, kerr, sizeof kerr)) {
      set_err(err, errlen, "keys[%zu]: %s", i, kerr);
      ok = false;
    }
  }
  json_decref(root);
  if (ok) *r = tmp;
  OPENSSL_cleanse(&tmp, sizeof tmp);
  return ok;
}

char *gk_keyring_jwks(const gk_keyring *r) {
  json_t *root = json_object(), *keys = json_array();
  bool ok = root && keys && json_object_set(root, "keys", keys) == 0;
  for (int i = 0; ok && i < r->n; i++) {
    char x[48];
    json_t *e = json_object();
    ok = e && b64url_encode(r->keys[i].pub, 32, x, sizeof x) &&
         json_object_set_new(e, "kty", json_string("OKP")) == 0 &&
         json_object_set_new(e, "crv", json_string("Ed25519")) == 0 &&
         json_object_set_new(e, "alg", json_string("EdDSA")) == 0 &&
         json_object_set_new(e, "use", json_string("sig")) == 0 &&
         json_object_set_new(e, "kid", json_string(r->keys[i].kid)) == 0 &&
         json_object_set_new(e, "x", json_string(x)) == 0 && json_array_append(keys, e) == 0;
    json_decref(e);
  }
  char *s = ok ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(keys);
  json_decref(root);
  return s;
}

/* ---- static tokens ---- */

bool gk_token_sign(const gk_keyring *r, const gk_payload *p, char *out, size_t cap) {
  if (cap > 0) out[0] = '\0';
  if (!r || !p || r->signing < 0 || r->signing >= r->n || !r->keys[r->signing].has_private || !payload_valid(p))
    return false;
  const gk_key *k = &r->keys[r->signing];
  char *json = payload_encode(p);
  if (!json) return false;
  size_t jl = strlen(json);
  char buf[GK_MAX_TOKEN_LEN + 1];
  int head = snprintf(buf, sizeof buf, GK_PREFIX ".%s.", k->kid);
  bool ok = head > 0 && jl <= GK_PAYLOAD_MAX &&
            b64url_encode((const uint8_t *)json, jl, buf + head, sizeof buf - (size_t)head);
  free(json);
  if (!ok) return false;
  size_t signed_len = strlen(buf);
  if (signed_len + 1 + GK_SIG_B64_LEN > GK_MAX_TOKEN_LEN || signed_len + 1 + GK_SIG_B64_LEN + 1 > cap) return false;

  uint8_t sig[GK_SIG_LEN];
  size_t sl = sizeof sig;
  EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->priv, sizeof k->priv);
  EVP_MD_CTX *md = pk ? EVP_MD_CTX_new() : NULL;
  ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, pk) == 1 &&
       EVP_DigestSign(md, sig, &sl, (const uint8_t *)buf, signed_len) == 1 && sl == GK_SIG_LEN;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pk);
  if (!ok) {
    ERR_clear_error();
    return false;
  }
  buf[signed_len] = '.';
  b64url_encode(sig, sizeof sig, buf + signed_len + 1, sizeof buf - signed_len - 1);
  memcpy(out, buf, strlen(buf) + 1);
  return true;
}

const char *gk_result_name(gk_result r) {
  switch (r) {
    case GK_OK: return "OK";
    case GK_MALFORMED: return "MALFORMED";
    case GK_UNKNOWN_KID: return "UNKNOWN_KID";
    case GK_BAD_SIGNATURE: return "BAD_SIGNATURE";
    case GK_BAD_PAYLOAD: return "BAD_PAYLOAD";
  }
  return "UNKNOWN";
}

static bool ed25519_verify(const uint8_t pub[32], const char *msg, size_t len, const uint8_t sig[GK_SIG_LEN]) {
  EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
  EVP_MD_CTX *md = pk ? EVP_MD_CTX_new() : NULL;
  bool ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1 &&
            EVP_DigestVerify(md, sig, GK_SIG_LEN, (const uint8_t *)msg, len) == 1;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pk);
  if (!ok) ERR_clear_error();
  return ok;
}

gk_result gk_verify(const gk_keyring *r, const char *s, size_t len, gk_presented *out) {
  gk_presented tmp;
  if (!out) out = &tmp;
  memset(out, 0, sizeof *out);
  if (!s || len == 0 || len > GK_MAX_TOKEN_LEN) return GK_MALFORMED;
  /* Printable ASCII only (this also refuses NUL and bytes >= 0x80); then split on '.'. */
  const char *part[7];
  size_t plen[7], np = 0, start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len) {
      unsigned char c = (unsigned char)s[i];
      if (c < 0x20 || c > 0x7E) return GK_MALFORMED;
      if (c != '.') continue;
    }
    if (np == 6) return GK_MALFORMED;
    part[np] = s + start;
    plen[np++] = i - start;
    start = i + 1;
  }
  if (np != 4 && np != 6) return GK_MALFORMED;
  for (size_t i = 0; i < np; i++)
    if (plen[i] == 0) return GK_MALFORMED;
  if (plen[0] != 3 || memcmp(part[0], GK_PREFIX, 3) != 0) return GK_MALFORMED;
  if (!kid_valid(part[1], plen[1])) return GK_MALFORMED;

  uint8_t payload[GK_MAX_TOKEN_LEN / 4 * 3], sig[GK_SIG_LEN + 2];
  size_t payload_len = 0, sig_len = 0;
  if (!b64url_decode(part[2], plen[2], payload, sizeof payload, &payload_len)) return GK_MALFORMED;
  if (plen[3] != GK_SIG_B64_LEN || !b64url_decode(part[3], plen[3], sig, sizeof sig, &sig_len) ||
      sig_len != GK_SIG_LEN)
    return GK_MALFORMED;
  if (np == 6) {
    if (plen[4] > GK_COUNTER_MAX_DIGITS || !digits(part[4], plen[4])) return GK_MALFORMED;
    if (plen[5] != GK_CODE_DIGITS || !digits(part[5], plen[5])) return GK_MALFORMED;
    int64_t c = 0;
    for (size_t i = 0; i < plen[4]; i++) c = c * 10 + (part[4][i] - '0');
    out->rotating = true;
    out->counter = c;
    memcpy(out->code, part[5], GK_CODE_DIGITS);
    out->code[GK_CODE_DIGITS] = '\0';
  }
  memcpy(out->kid, part[1], plen[1]);
  out->kid[plen[1]] = '\0';
  out->token_len = (size_t)(part[3] + plen[3] - s);

  const gk_key *k = gk_keyring_find(r, part[1], plen[1]);
  if (!k) return GK_UNKNOWN_KID;
  size_t signed_len = (size_t)(part[2] + plen[2] - s);
  if (!ed25519_verify(k->pub, s, signed_len, sig)) return GK_BAD_SIGNATURE;
  if (!payload_decode(payload, payload_len, &out->payload)) return GK_BAD_PAYLOAD;
  return GK_OK;
}

/* ---- rotating codes ---- */

uint32_t gk_hotp_sha256(const uint8_t *secret, size_t secret_len, uint64_t counter) {
  uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
  unsigned int ml = 0;
  for (int i = 7; i >= 0; i--, counter >>= 8) msg[i] = (uint8_t)(counter & 0xFF);
  static const uint8_t empty[1] = {0};
  if (!HMAC(EVP_sha256(), secret_len ? secret : empty, (int)secret_len, msg, sizeof msg, mac, &ml) || ml != 32) {
    ERR_clear_error();
    return UINT32_MAX; /* never a valid 6-digit code */
  }
  unsigned off = mac[ml - 1] & 0x0F;
  uint32_t bin = (uint32_t)(mac[off] & 0x7F) << 24 | (uint32_t)mac[off + 1] << 16 | (uint32_t)mac[off + 2] << 8 |
                 mac[off + 3];
  OPENSSL_cleanse(mac, sizeof mac);
  return bin % 1000000u;
}

int64_t gk_counter_at(int64_t unix_s) {
  int64_t q = unix_s / GK_STEP_S;
  return unix_s % GK_STEP_S < 0 ? q - 1 : q;
}

bool gk_counter_in_window(int64_t counter, int64_t now_counter) {
  uint64_t d = counter > now_counter ? (uint64_t)counter - (uint64_t)now_counter
                                     : (uint64_t)now_counter - (uint64_t)counter;
  return d <= 1;
}

gk_code_result gk_code_check(const uint8_t secret[GK_SECRET_LEN], int64_t counter, const char *code,
                             int64_t now_counter, int64_t last_counter) {
  if (!secret || !code || counter < 0 || !gk_counter_in_window(counter, now_counter)) return GK_CODE_INVALID;
  if (strnlen(code, GK_CODE_DIGITS + 1) != GK_CODE_DIGITS || !digits(code, GK_CODE_DIGITS)) return GK_CODE_INVALID;
  uint32_t v = gk_hotp_sha256(secret, GK_SECRET_LEN, (uint64_t)counter);
  if (v > 999999u) return GK_CODE_INVALID;
  char want[GK_CODE_DIGITS + 1];
  snprintf(want, sizeof want, "%06u", (unsigned)v);
  bool match = CRYPTO_memcmp(want, code, GK_CODE_DIGITS) == 0;
  OPENSSL_cleanse(want, sizeof want);
  if (!match) return GK_CODE_INVALID;
  return counter > last_counter ? GK_CODE_OK : GK_CODE_REPLAYED;
}

bool gk_rotating_format(const char *token, const uint8_t secret[GK_SECRET_LEN], int64_t counter, char *out,
                        size_t cap) {
  if (cap > 0) out[0] = '\0';
  if (!token || !secret || counter < 0 || counter > 999999999999999LL) return false;
  uint32_t v = gk_hotp_sha256(secret, GK_SECRET_LEN, (uint64_t)counter);
  if (v > 999999u) return false;
  int n = snprintf(out, cap, "%s.%lld.%06u", token, (long long)counter, (unsigned)v);
  if (n < 0 || (size_t)n >= cap || (size_t)n > GK_MAX_TOKEN_LEN) {
    if (cap > 0) out[0] = '\0';
    return false;
  }
  return true;
}
