/* EdDSA (Ed25519) compact JWS: key handling (generate, PKCS#8 PEM, JWK), signing, and strict
 * verification that pins the algorithm, checks the signature first and bounds every claim. */
#include "common/jwt.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"

#define ED25519_KEY_LEN 32
#define ED25519_SIG_LEN 64
#define JWT_MAX_PEM 16384
#define JWT_MAX_AUDIENCES 16
#define JWT_MAX_LEEWAY 3600

struct jwt_key {
  EVP_PKEY *pkey;
  bool has_private;
  char kid[JWT_KID_MAX + 1];
};

static bool kid_ok(const char *kid) {
  if (!kid) return false;
  size_t n = strnlen(kid, JWT_KID_MAX + 1);
  if (n == 0 || n > JWT_KID_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = kid[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

/* Takes ownership of pkey; frees it when the key cannot be made. */
static jwt_key *key_wrap(EVP_PKEY *pkey, bool has_private, const char *kid) {
  if (!pkey) return NULL;
  jwt_key *k = kid_ok(kid) && EVP_PKEY_is_a(pkey, "ED25519") ? calloc(1, sizeof *k) : NULL;
  if (!k) {
    EVP_PKEY_free(pkey);
    return NULL;
  }
  k->pkey = pkey;
  k->has_private = has_private;
  strcpy(k->kid, kid);
  return k;
}

jwt_key *jwt_key_generate(const char *kid) {
  if (!kid_ok(kid)) return NULL;
  return key_wrap(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), true, kid);
}

/* Refuses to decrypt: a PEM that needs a passphrase is not accepted (and nothing prompts). */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

jwt_key *jwt_key_from_private_pem(const char *pem, size_t len, const char *kid) {
  if (!pem || len == 0 || len > JWT_MAX_PEM || !kid_ok(kid)) return NULL;
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  if (!bio) return NULL;
  EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
  BIO_free(bio);
  ERR_clear_error();
  return key_wrap(pkey, true, kid);
}

char *jwt_key_private_pem(const jwt_key *k) {
  if (!k || !k->has_private) return NULL;
  BIO *bio = BIO_new(BIO_s_mem());
  if (!bio) return NULL;
  char *out = NULL;
  if (PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) == 1) {
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0 && (out = malloc((size_t)n + 1)) != NULL) {
      memcpy(out, data, (size_t)n);
      out[n] = '\0';
    }
  }
  BIO_free(bio);
  return out;
}

/* True when member name is absent, or a string equal to want. */
static bool optional_member_is(const json_t *obj, const char *name, const char *want) {
  const json_t *v = json_object_get(obj, name);
  return !v || (json_is_string(v) && strcmp(json_string_value(v), want) == 0);
}

/* True when member name is a string equal to want. */
static bool member_is(const json_t *obj, const char *name, const char *want) {
  const json_t *v = json_object_get(obj, name);
  return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

jwt_key *jwt_key_from_jwk(const json_t *jwk) {
  if (!json_is_object(jwk) || !member_is(jwk, "kty", "OKP") || !member_is(jwk, "crv", "Ed25519") ||
      !optional_member_is(jwk, "alg", "EdDSA") || !optional_member_is(jwk, "use", "sig") ||
      json_object_get(jwk, "d"))
    return NULL;
  const json_t *x = json_object_get(jwk, "x"), *kid = json_object_get(jwk, "kid");
  if (!json_is_string(x) || !json_is_string(kid)) return NULL;
  uint8_t raw[ED25519_KEY_LEN];
  size_t n = 0;
  if (!b64_decode(B64_URL_NOPAD, json_string_value(x), json_string_length(x), raw, sizeof raw,
                  &n) ||
      n != ED25519_KEY_LEN)
    return NULL;
  EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, raw, sizeof raw);
  ERR_clear_error();
  return key_wrap(pkey, false, json_string_value(kid));
}

json_t *jwt_key_public_jwk(const jwt_key *k) {
  if (!k) return NULL;
  uint8_t raw[ED25519_KEY_LEN];
  size_t n = sizeof raw;
  char x[64];
  if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &n) != 1 || n != ED25519_KEY_LEN ||
      !b64_encode(B64_URL_NOPAD, raw, n, x, sizeof x))
    return NULL;
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", x,
                   "kid", k->kid, "alg", "EdDSA", "use", "sig");
}

const char *jwt_key_kid(const jwt_key *k) { return k ? k->kid : NULL; }

bool jwt_key_has_private(const jwt_key *k) { return k && k->has_private; }

void jwt_key_free(jwt_key *k) {
  if (!k) return;
  EVP_PKEY_free(k->pkey);
  free(k);
}

/* ---- signing ---- */

#define FIELD_OK(s) (strnlen((s), sizeof(s)) < sizeof(s))

static bool claims_in_bounds(const jwt_claims *c) {
  if (!FIELD_OK(c->sub) || !FIELD_OK(c->fid) || !FIELD_OK(c->jti) || !FIELD_OK(c->iss) ||
      !FIELD_OK(c->aud) || c->n_roles < 0 || c->n_roles > JWT_MAX_ROLES)
    return false;
  for (int i = 0; i < c->n_roles; i++)
    if (!FIELD_OK(c->roles[i]) || c->roles[i][0] == '\0') return false;
  return true;
}

/* Sets obj[name] = s unless s is empty; false when jansson refuses (e.g. invalid UTF-8). */
static bool put_string(json_t *obj, const char *name, const char *s) {
  return s[0] == '\0' || json_object_set_new(obj, name, json_string(s)) == 0;
}

static bool put_time(json_t *obj, const char *name, int64_t t, bool always) {
  return (!always && t == 0) || json_object_set_new(obj, name, json_integer(t)) == 0;
}

static json_t *claims_to_json(const jwt_claims *c) {
  json_t *p = json_object(), *roles = json_array();
  bool ok = p && roles;
  for (int i = 0; ok && i < c->n_roles; i++)
    ok = json_array_append_new(roles, json_string(c->roles[i])) == 0;
  ok = ok && put_string(p, "iss", c->iss) && put_string(p, "sub", c->sub) &&
       put_string(p, "aud", c->aud) && put_string(p, "jti", c->jti) &&
       put_string(p, "fid", c->fid) && json_object_set(p, "roles", roles) == 0 &&
       put_time(p, "iat", c->iat, false) && put_time(p, "nbf", c->nbf, false) &&
       put_time(p, "exp", c->exp, true);
  json_decref(roles);
  if (!ok) {
    json_decref(p);
    return NULL;
  }
  return p;
}

/* base64url(JSON of obj) in a malloc'd string; steals obj. */
static char *encode_segment(json_t *obj) {
  char *json = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
  json_decref(obj);
  if (!json) return NULL;
  char *seg = b64_encode_alloc(B64_URL_NOPAD, json, strlen(json));
  free(json);
  return seg;
}

char *jwt_sign(const jwt_key *k, const jwt_claims *c) {
  if (!k || !k->has_private || !c || !claims_in_bounds(c)) return NULL;
  char *header = encode_segment(
      json_pack("{s:s, s:s, s:s}", "alg", "EdDSA", "typ", "JWT", "kid", k->kid));
  char *payload = encode_segment(claims_to_json(c));
  char *token = NULL;
  if (header && payload) {
    size_t hl = strlen(header), pl = strlen(payload);
    size_t sig_chars = b64_encoded_len(B64_URL_NOPAD, ED25519_SIG_LEN);
    token = malloc(hl + 1 + pl + 1 + sig_chars + 1);
    if (token) {
      memcpy(token, header, hl);
      token[hl] = '.';
      memcpy(token + hl + 1, payload, pl);
      size_t signed_len = hl + 1 + pl;
      token[signed_len] = '.';
      uint8_t sig[ED25519_SIG_LEN];
      size_t sig_len = sizeof sig;
      EVP_MD_CTX *md = EVP_MD_CTX_new();
      bool ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) == 1 &&
                EVP_DigestSign(md, sig, &sig_len, (const uint8_t *)token, signed_len) == 1 &&
                sig_len == ED25519_SIG_LEN &&
                b64_encode(B64_URL_NOPAD, sig, sig_len, token + signed_len + 1, sig_chars + 1);
      EVP_MD_CTX_free(md);
      if (!ok) {
        free(token);
        token = NULL;
      }
    }
  }
  free(header);
  free(payload);
  return token;
}

/* ---- verification ---- */

const char *jwt_result_name(jwt_result r) {
  static const char *const names[] = {
      [JWT_OK] = "JWT_OK",
      [JWT_MALFORMED] = "JWT_MALFORMED",
      [JWT_BAD_ALGORITHM] = "JWT_BAD_ALGORITHM",
      [JWT_UNKNOWN_KID] = "JWT_UNKNOWN_KID",
      [JWT_BAD_SIGNATURE] = "JWT_BAD_SIGNATURE",
      [JWT_EXPIRED] = "JWT_EXPIRED",
      [JWT_NOT_YET_VALID] = "JWT_NOT_YET_VALID",
      [JWT_BAD_ISSUER] = "JWT_BAD_ISSUER",
      [JWT_BAD_AUDIENCE] = "JWT_BAD_AUDIENCE",
  };
  if ((unsigned)r >= sizeof names / sizeof names[0] || !names[r]) return "JWT_UNKNOWN";
  return names[r];
}

/* Decodes a base64url segment and parses it as a JSON object; NULL otherwise. */
static json_t *decode_object(const char *seg, size_t n) {
  char buf[JWT_MAX_TOKEN];
  size_t len = 0;
  if (n == 0 || !b64_decode(B64_URL_NOPAD, seg, n, buf, sizeof buf, &len)) return NULL;
  json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
  if (v && !json_is_object(v)) {
    json_decref(v);
    v = NULL;
  }
  return v;
}

static const jwt_key *find_key(jwt_key *const *keys, int n_keys, const char *kid) {
  for (int i = 0; keys && i < n_keys; i++)
    if (keys[i] && strcmp(keys[i]->kid, kid) == 0) return keys[i];
  return NULL;
}

/* Checks the header: alg pinned to EdDSA, typ JWT if present, no crit, and a known kid. */
static jwt_result check_header(const json_t *h, jwt_key *const *keys, int n_keys,
                               const jwt_key **key) {
  if (!member_is(h, "alg", "EdDSA")) return JWT_BAD_ALGORITHM;
  if (!optional_member_is(h, "typ", "JWT") || json_object_get(h, "crit")) return JWT_MALFORMED;
  const json_t *kid = json_object_get(h, "kid");
  if (!json_is_string(kid)) return JWT_UNKNOWN_KID;
  *key = find_key(keys, n_keys, json_string_value(kid));
  return *key ? JWT_OK : JWT_UNKNOWN_KID;
}

static jwt_result check_signature(const jwt_key *key, const char *token, size_t signed_len,
                                  const char *sig_b64, size_t sig_chars) {
  uint8_t sig[2 * ED25519_SIG_LEN];
  size_t sig_len = 0;
  if (!b64_decode(B64_URL_NOPAD, sig_b64, sig_chars, sig, sizeof sig, &sig_len))
    return JWT_MALFORMED;
  if (sig_len != ED25519_SIG_LEN) return JWT_BAD_SIGNATURE;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  bool ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, key->pkey) == 1 &&
            EVP_DigestVerify(md, sig, sig_len, (const uint8_t *)token, signed_len) == 1;
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  return ok ? JWT_OK : JWT_BAD_SIGNATURE;
}

/* Copies claim name into dst[cap] when present; false when not a string or too long. */
static bool read_string(const json_t *p, const char *name, char *dst, size_t cap) {
  const json_t *v = json_object_get(p, name);
  if (!v) return true;
  if (!json_is_string(v) || json_string_length(v) >= cap) return false;
  memcpy(dst, json_string_value(v), json_string_length(v) + 1);
  return true;
}

/* Reads an integer NumericDate; false when present but not an integer. */
static bool read_time(const json_t *p, const char *name, int64_t *dst, bool *present) {
  const json_t *v = json_object_get(p, name);
  *present = v != NULL;
  if (!v) return true;
  if (!json_is_integer(v)) return false;
  *dst = (int64_t)json_integer_value(v);
  return true;
}

static bool read_roles(const json_t *p, jwt_claims *c) {
  const json_t *roles = json_object_get(p, "roles");
  if (!roles) return true;
  if (!json_is_array(roles) || json_array_size(roles) > JWT_MAX_ROLES) return false;
  size_t i;
  const json_t *r;
  json_array_foreach(roles, i, r) {
    if (!json_is_string(r) || json_string_length(r) == 0 ||
        json_string_length(r) >= sizeof c->roles[0])
      return false;
    memcpy(c->roles[i], json_string_value(r), json_string_length(r) + 1);
  }
  c->n_roles = (int)json_array_size(roles);
  return true;
}

/* aud as a string or a non-empty array of strings, each of which must fit jwt_claims.aud.
 * c->aud gets expect when it is among them, else the first. *has_expected tells which. */
static bool read_audience(const json_t *p, const char *expect, jwt_claims *c, bool *has_expected) {
  const json_t *aud = json_object_get(p, "aud");
  *has_expected = false;
  if (!aud) return true;
  const json_t *single[1] = {aud};
  const json_t *const *items = single;
  size_t n = 1;
  const json_t *list[JWT_MAX_AUDIENCES];
  if (json_is_array(aud)) {
    n = json_array_size(aud);
    if (n == 0 || n > JWT_MAX_AUDIENCES) return false;
    for (size_t i = 0; i < n; i++) list[i] = json_array_get(aud, i);
    items = list;
  }
  for (size_t i = 0; i < n; i++) {
    if (!json_is_string(items[i]) || json_string_length(items[i]) >= sizeof c->aud) return false;
    if (expect && strcmp(json_string_value(items[i]), expect) == 0) *has_expected = true;
  }
  const char *keep = *has_expected ? expect : json_string_value(items[0]);
  memcpy(c->aud, keep, strlen(keep) + 1);
  return true;
}

static jwt_result check_claims(const json_t *p, const char *expect_iss, const char *expect_aud,
                               int64_t now, int64_t leeway, jwt_claims *c) {
  bool has_exp, has_nbf, has_iat, has_aud;
  if (!read_string(p, "sub", c->sub, sizeof c->sub) ||
      !read_string(p, "fid", c->fid, sizeof c->fid) ||
      !read_string(p, "jti", c->jti, sizeof c->jti) ||
      !read_string(p, "iss", c->iss, sizeof c->iss) || !read_roles(p, c) ||
      !read_audience(p, expect_aud, c, &has_aud) || !read_time(p, "exp", &c->exp, &has_exp) ||
      !read_time(p, "nbf", &c->nbf, &has_nbf) || !read_time(p, "iat", &c->iat, &has_iat) ||
      !has_exp)
    return JWT_MALFORMED;
  if (leeway < 0) leeway = 0;
  if (leeway > JWT_MAX_LEEWAY) leeway = JWT_MAX_LEEWAY;
  if (now - leeway >= c->exp) return JWT_EXPIRED;
  if (has_nbf && c->nbf > now + leeway) return JWT_NOT_YET_VALID;
  if (expect_iss && (!json_object_get(p, "iss") || strcmp(c->iss, expect_iss) != 0))
    return JWT_BAD_ISSUER;
  if (expect_aud && !has_aud) return JWT_BAD_AUDIENCE;
  return JWT_OK;
}

jwt_result jwt_verify(const char *token, jwt_key *const *keys, int n_keys, const char *expect_iss,
                      const char *expect_aud, int64_t now, int64_t leeway, jwt_claims *out) {
  jwt_claims c;
  memset(&c, 0, sizeof c);
  if (out) memset(out, 0, sizeof *out);
  if (!token) return JWT_MALFORMED;
  size_t len = strnlen(token, JWT_MAX_TOKEN + 1);
  if (len > JWT_MAX_TOKEN) return JWT_MALFORMED;
  const char *dot1 = memchr(token, '.', len);
  const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
  /* Exactly three segments; an empty signature (as "alg":"none" sends) fails later. */
  if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) return JWT_MALFORMED;

  json_t *header = decode_object(token, (size_t)(dot1 - token));
  if (!header) return JWT_MALFORMED;
  const jwt_key *key = NULL;
  jwt_result r = check_header(header, keys, n_keys, &key);
  json_decref(header);
  if (r != JWT_OK) return r;

  r = check_signature(key, token, (size_t)(dot2 - token), dot2 + 1,
                      len - (size_t)(dot2 + 1 - token));
  if (r != JWT_OK) return r;

  json_t *payload = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
  if (!payload) return JWT_MALFORMED;
  r = check_claims(payload, expect_iss, expect_aud, now, leeway, &c);
  json_decref(payload);
  if (r == JWT_OK && out) *out = c;
  return r;
}
