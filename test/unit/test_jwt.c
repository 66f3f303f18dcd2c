/* Unit tests of common/jwt: EdDSA sign/verify round trip, every rejection (algorithm, kid,
 * signature, time, issuer, audience, malformed input, claim types), PEM and JWK keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/b64.h"
#include "common/jwt.h"

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */
#define ISS "https://auth.metro.hcmc.vn"
#define AUD "metro-api"

typedef struct fixture {
  jwt_key *key;   /* kid "k1", the signing key */
  jwt_key *other; /* kid "k0", another key in the verification set */
  jwt_key *keys[2];
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->key = jwt_key_generate("k1");
  f->other = jwt_key_generate("k0");
  f->keys[0] = f->other;
  f->keys[1] = f->key;
  *state = f;
  return f->key && f->other ? 0 : -1;
}

static int teardown(void **state) {
  fixture *f = *state;
  jwt_key_free(f->key);
  jwt_key_free(f->other);
  free(f);
  return 0;
}

static jwt_claims sample_claims(void) {
  jwt_claims c;
  memset(&c, 0, sizeof c);
  strcpy(c.sub, "3f1c2a9e-7b4d-4e21-9a0c-5d6e7f8a9b0c");
  strcpy(c.fid, "8d3e1f20-1111-4222-8333-444455556666");
  strcpy(c.jti, "0b9c8d7e-aaaa-4bbb-9ccc-dddddddddddd");
  strcpy(c.iss, ISS);
  strcpy(c.aud, AUD);
  strcpy(c.roles[0], "passenger");
  strcpy(c.roles[1], "staff");
  c.n_roles = 2;
  c.iat = NOW;
  c.nbf = NOW;
  c.exp = NOW + 900;
  return c;
}

static jwt_result verify(fixture *f, const char *token, jwt_claims *out) {
  return jwt_verify(token, f->keys, 2, ISS, AUD, NOW, 0, out);
}

/* A token from raw header and payload JSON, signed with k's private key through OpenSSL
 * directly, so tests can build what jwt_sign never would. NULL k: an empty signature. */
static char *craft(const jwt_key *k, const char *header, const char *payload) {
  char *h = b64_encode_alloc(B64_URL_NOPAD, header, strlen(header));
  char *p = b64_encode_alloc(B64_URL_NOPAD, payload, strlen(payload));
  size_t n = strlen(h) + strlen(p) + 100;
  char *token = malloc(n);
  snprintf(token, n, "%s.%s.", h, p);
  free(h);
  free(p);
  if (!k) return token;
  char *pem = jwt_key_private_pem(k);
  BIO *bio = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  BIO_free(bio);
  free(pem);
  assert_non_null(pkey);
  uint8_t sig[64];
  size_t sig_len = sizeof sig;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, pkey), 1);
  assert_int_equal(EVP_DigestSign(md, sig, &sig_len, (uint8_t *)token, strlen(token) - 1), 1);
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pkey);
  assert_true(b64_encode(B64_URL_NOPAD, sig, sig_len, token + strlen(token), 90));
  return token;
}

#define GOOD_HEADER "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"k1\"}"
#define GOOD_PAYLOAD "{\"sub\":\"u1\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1767226500}"

static void expect_crafted(fixture *f, const char *header, const char *payload, jwt_result want) {
  char *t = craft(f->key, header, payload);
  jwt_result got = verify(f, t, NULL);
  if (got != want)
    fail_msg("%s / %s: got %s, want %s", header, payload, jwt_result_name(got),
             jwt_result_name(want));
  free(t);
}

/* ---- round trip ---- */

static void test_sign_then_verify_returns_the_claims(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims(), out;
  char *t = jwt_sign(f->key, &c);
  assert_non_null(t);
  assert_int_equal(verify(f, t, &out), JWT_OK);
  assert_memory_equal(&out, &c, sizeof c);
  free(t);
}

static void test_signed_header_names_eddsa_jwt_and_kid(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims();
  char *t = jwt_sign(f->key, &c);
  char header[256];
  size_t n;
  assert_true(b64_decode(B64_URL_NOPAD, t, (size_t)(strchr(t, '.') - t), header, sizeof header - 1,
                         &n));
  header[n] = '\0';
  assert_string_equal(header, GOOD_HEADER);
  free(t);
}

static void test_verify_without_expectations_skips_iss_and_aud(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims(), out;
  c.iss[0] = c.aud[0] = '\0';
  c.nbf = c.iat = 0;
  char *t = jwt_sign(f->key, &c);
  assert_int_equal(jwt_verify(t, f->keys, 2, NULL, NULL, NOW, 0, &out), JWT_OK);
  assert_string_equal(out.sub, c.sub);
  free(t);
}

static void test_sign_refuses_without_private_key_or_with_bad_claims(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims();
  c.n_roles = 9;
  assert_null(jwt_sign(f->key, &c));
  c = sample_claims();
  memset(c.sub, 'x', sizeof c.sub); /* no NUL inside the field */
  assert_null(jwt_sign(f->key, &c));
  c = sample_claims();
  c.roles[1][0] = '\0';
  assert_null(jwt_sign(f->key, &c));
  json_t *jwk = jwt_key_public_jwk(f->key);
  jwt_key *pub = jwt_key_from_jwk(jwk);
  json_decref(jwk);
  c = sample_claims();
  assert_null(jwt_sign(pub, &c));
  jwt_key_free(pub);
}

static void test_result_names(void **state) {
  (void)state;
  assert_string_equal(jwt_result_name(JWT_OK), "JWT_OK");
  assert_string_equal(jwt_result_name(JWT_BAD_AUDIENCE), "JWT_BAD_AUDIENCE");
  assert_string_equal(jwt_result_name((jwt_result)99), "JWT_UNKNOWN");
}

/* ---- algorithm ---- */

static void test_rejects_alg_none(void **state) {
  fixture *f = *state;
  char *t = craft(NULL, "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}", GOOD_PAYLOAD);
  assert_int_equal(verify(f, t, NULL), JWT_BAD_ALGORITHM);
  free(t);
  expect_crafted(f, "{\"alg\":\"none\",\"kid\":\"k1\"}", GOOD_PAYLOAD, JWT_BAD_ALGORITHM);
}

static void test_rejects_alg_hs256_keyed_with_the_public_key(void **state) {
  fixture *f = *state;
  /* The classic confusion: an HMAC keyed with the public key bytes. */
  char *t = craft(NULL, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", GOOD_PAYLOAD);
  json_t *jwk = jwt_key_public_jwk(f->key);
  const char *x = json_string_value(json_object_get(jwk, "x"));
  uint8_t mac[32];
  size_t mlen = 0;
  assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, x, strlen(x),
                            (const uint8_t *)t, strlen(t) - 1, mac, sizeof mac, &mlen));
  char *full = malloc(strlen(t) + 50);
  strcpy(full, t);
  b64_encode(B64_URL_NOPAD, mac, mlen, full + strlen(full), 50);
  assert_int_equal(verify(f, full, NULL), JWT_BAD_ALGORITHM);
  free(full);
  free(t);
  json_decref(jwk);
}

static void test_rejects_missing_or_odd_alg(void **state) {
  fixture *f = *state;
  expect_crafted(f, "{\"typ\":\"JWT\",\"kid\":\"k1\"}", GOOD_PAYLOAD, JWT_BAD_ALGORITHM);
  expect_crafted(f, "{\"alg\":\"eddsa\",\"kid\":\"k1\"}", GOOD_PAYLOAD, JWT_BAD_ALGORITHM);
  expect_crafted(f, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", GOOD_PAYLOAD, JWT_BAD_ALGORITHM);
  expect_crafted(f, "{\"alg\":[\"EdDSA\"],\"kid\":\"k1\"}", GOOD_PAYLOAD, JWT_BAD_ALGORITHM);
  expect_crafted(f, "{\"alg\":null,\"kid\":\"k1\"}", GOOD_PAYLOAD, JWT_BAD_ALGORITHM);
}

static void test_rejects_crit_and_foreign_typ(void **state) {
  fixture *f = *state;
  expect_crafted(f, "{\"alg\":\"EdDSA\",\"kid\":\"k1\",\"crit\":[\"exp\"]}", GOOD_PAYLOAD,
                 JWT_MALFORMED);
  expect_crafted(f, "{\"alg\":\"EdDSA\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}", GOOD_PAYLOAD,
                 JWT_MALFORMED);
  expect_crafted(f, "{\"alg\":\"EdDSA\",\"kid\":\"k1\"}", GOOD_PAYLOAD, JWT_OK);
}

/* ---- kid ---- */

static void test_rejects_missing_kid(void **state) {
  fixture *f = *state;
  expect_crafted(f, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", GOOD_PAYLOAD, JWT_UNKNOWN_KID);
  expect_crafted(f, "{\"alg\":\"EdDSA\",\"kid\":1}", GOOD_PAYLOAD, JWT_UNKNOWN_KID);
}

static void test_rejects_unknown_kid(void **state) {
  fixture *f = *state;
  expect_crafted(f, "{\"alg\":\"EdDSA\",\"kid\":\"k9\"}", GOOD_PAYLOAD, JWT_UNKNOWN_KID);
  jwt_claims c = sample_claims();
  char *t = jwt_sign(f->key, &c);
  assert_int_equal(jwt_verify(t, f->keys, 1, ISS, AUD, NOW, 0, NULL), JWT_UNKNOWN_KID);
  assert_int_equal(jwt_verify(t, NULL, 0, ISS, AUD, NOW, 0, NULL), JWT_UNKNOWN_KID);
  free(t);
}

/* ---- signature ---- */

/* Replaces the character at i with another of the base64url alphabet. */
static void flip(char *t, size_t i) { t[i] = t[i] == 'A' ? 'B' : 'A'; }

static void test_rejects_a_flipped_signature_byte(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims();
  char *t = jwt_sign(f->key, &c);
  flip(t, strlen(t) - 10);
  assert_int_equal(verify(f, t, NULL), JWT_BAD_SIGNATURE);
  free(t);
}

static void test_rejects_a_modified_payload(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims();
  char *t = jwt_sign(f->key, &c);
  flip(t, (size_t)(strchr(t, '.') - t) + 8);
  jwt_result r = verify(f, t, NULL);
  assert_true(r == JWT_BAD_SIGNATURE);
  free(t);
}

static void test_rejects_a_signature_by_another_key_with_the_same_kid(void **state) {
  fixture *f = *state;
  jwt_key *impostor = jwt_key_generate("k1");
  jwt_claims c = sample_claims();
  char *t = jwt_sign(impostor, &c);
  assert_int_equal(verify(f, t, NULL), JWT_BAD_SIGNATURE);
  free(t);
  jwt_key_free(impostor);
}

static void test_rejects_truncated_or_empty_signature(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims();
  char *t = jwt_sign(f->key, &c);
  char *sig = strrchr(t, '.') + 1;
  memset(sig, 'A', 43); /* well-formed base64url of 32 bytes, too short for Ed25519 */
  sig[43] = '\0';
  assert_int_equal(verify(f, t, NULL), JWT_BAD_SIGNATURE);
  sig[0] = '\0';
  assert_int_equal(verify(f, t, NULL), JWT_BAD_SIGNATURE);
  free(t);
}

/* ---- time ---- */

static void test_rejects_expired_tokens(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims(), out;
  c.exp = NOW - 1;
  char *t = jwt_sign(f->key, &c);
  assert_int_equal(verify(f, t, &out), JWT_EXPIRED);
  assert_string_equal(out.sub, ""); /* out is zeroed on failure */
  assert_int_equal(jwt_verify(t, f->keys, 2, ISS, AUD, NOW, 30, NULL), JWT_OK);
  free(t);
  c.exp = NOW;
  t = jwt_sign(f->key, &c);
  assert_int_equal(verify(f, t, NULL), JWT_EXPIRED);
  free(t);
}

static void test_rejects_tokens_not_yet_valid(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims();
  c.nbf = NOW + 100;
  char *t = jwt_sign(f->key, &c);
  assert_int_equal(verify(f, t, NULL), JWT_NOT_YET_VALID);
  assert_int_equal(jwt_verify(t, f->keys, 2, ISS, AUD, NOW, 100, NULL), JWT_OK);
  free(t);
}

static void test_leeway_is_clamped(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims();
  c.exp = NOW - 7200;
  c.nbf = 0;
  char *t = jwt_sign(f->key, &c);
  assert_int_equal(jwt_verify(t, f->keys, 2, ISS, AUD, NOW, INT64_MAX, NULL), JWT_EXPIRED);
  assert_int_equal(jwt_verify(t, f->keys, 2, ISS, AUD, NOW, -5, NULL), JWT_EXPIRED);
  free(t);
}

static void test_requires_exp(void **state) {
  fixture *f = *state;
  expect_crafted(f, GOOD_HEADER, "{\"sub\":\"u1\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}",
                 JWT_MALFORMED);
}

/* ---- issuer and audience ---- */

static void test_rejects_wrong_or_missing_issuer(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims();
  strcpy(c.iss, "https://evil.example");
  char *t = jwt_sign(f->key, &c);
  assert_int_equal(verify(f, t, NULL), JWT_BAD_ISSUER);
  free(t);
  c.iss[0] = '\0';
  t = jwt_sign(f->key, &c);
  assert_int_equal(verify(f, t, NULL), JWT_BAD_ISSUER);
  free(t);
}

static void test_rejects_wrong_or_missing_audience(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims();
  strcpy(c.aud, "other-api");
  char *t = jwt_sign(f->key, &c);
  assert_int_equal(verify(f, t, NULL), JWT_BAD_AUDIENCE);
  free(t);
  c.aud[0] = '\0';
  t = jwt_sign(f->key, &c);
  assert_int_equal(verify(f, t, NULL), JWT_BAD_AUDIENCE);
  free(t);
  expect_crafted(f, GOOD_HEADER,
                 "{\"iss\":\"" ISS "\",\"aud\":[\"a\",\"b\"],\"exp\":1767226500}",
                 JWT_BAD_AUDIENCE);
}

static void test_accepts_an_audience_array_containing_the_expected_one(void **state) {
  fixture *f = *state;
  char *t = craft(f->key, GOOD_HEADER,
                  "{\"iss\":\"" ISS "\",\"aud\":[\"gates\",\"" AUD "\"],\"exp\":1767226500}");
  jwt_claims out;
  assert_int_equal(verify(f, t, &out), JWT_OK);
  assert_string_equal(out.aud, AUD);
  free(t);
}

static void test_rejects_bad_audience_shapes(void **state) {
  fixture *f = *state;
  expect_crafted(f, GOOD_HEADER, "{\"iss\":\"" ISS "\",\"aud\":[],\"exp\":1767226500}",
                 JWT_MALFORMED);
  expect_crafted(f, GOOD_HEADER, "{\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\",7],\"exp\":1767226500}",
                 JWT_MALFORMED);
  expect_crafted(f, GOOD_HEADER, "{\"iss\":\"" ISS "\",\"aud\":{},\"exp\":1767226500}",
                 JWT_MALFORMED);
}

/* ---- malformed ---- */

static void test_rejects_wrong_segment_counts(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims();
  char *t = jwt_sign(f->key, &c);
  char buf[2048];
  snprintf(buf, sizeof buf, "%.*s", (int)(strrchr(t, '.') - t), t); /* 2 parts */
  assert_int_equal(verify(f, buf, NULL), JWT_MALFORMED);
  snprintf(buf, sizeof buf, "%s.%s", t, "AAAA"); /* 4 parts */
  assert_int_equal(verify(f, buf, NULL), JWT_MALFORMED);
  assert_int_equal(verify(f, "", NULL), JWT_MALFORMED);
  assert_int_equal(verify(f, "..", NULL), JWT_MALFORMED);
  assert_int_equal(verify(f, NULL, NULL), JWT_MALFORMED);
  free(t);
}

static void test_rejects_bad_base64(void **state) {
  fixture *f = *state;
  jwt_claims c = sample_claims();
  char *t = jwt_sign(f->key, &c);
  char buf[2048];
  strcpy(buf, t);
  buf[3] = '+'; /* standard alphabet in the header */
  assert_int_equal(verify(f, buf, NULL), JWT_MALFORMED);
  strcpy(buf, t);
  buf[strlen(buf) - 1] = '*'; /* in the signature */
  assert_int_equal(verify(f, buf, NULL), JWT_MALFORMED);
  snprintf(buf, sizeof buf, "%s==", t); /* padding */
  assert_int_equal(verify(f, buf, NULL), JWT_MALFORMED);
  free(t);
}

static void test_rejects_non_json_and_non_object_segments(void **state) {
  fixture *f = *state;
  expect_crafted(f, "not json", GOOD_PAYLOAD, JWT_MALFORMED);
  expect_crafted(f, "[\"EdDSA\"]", GOOD_PAYLOAD, JWT_MALFORMED);
  expect_crafted(f, GOOD_HEADER, "not json", JWT_MALFORMED);
  expect_crafted(f, GOOD_HEADER, "\"a string\"", JWT_MALFORMED);
  expect_crafted(f, GOOD_HEADER, "[1,2]", JWT_MALFORMED);
  expect_crafted(f, "{\"alg\":\"EdDSA\",\"kid\":\"k1\",\"kid\":\"k0\"}", GOOD_PAYLOAD,
                 JWT_MALFORMED); /* duplicate member */
}

static void test_rejects_an_oversize_token(void **state) {
  fixture *f = *state;
  char *big = malloc(JWT_MAX_TOKEN + 100);
  memset(big, 'A', JWT_MAX_TOKEN + 99);
  big[JWT_MAX_TOKEN + 99] = '\0';
  big[10] = '.';
  big[20] = '.';
  assert_int_equal(verify(f, big, NULL), JWT_MALFORMED);
  free(big);
}

static void test_rejects_claims_of_wrong_type(void **state) {
  fixture *f = *state;
  const char *payloads[] = {
      "{\"sub\":1,\"exp\":1767226500}",
      "{\"sub\":\"u\",\"exp\":\"1767226500\"}",
      "{\"sub\":\"u\",\"exp\":1767226500.5}",
      "{\"sub\":\"u\",\"exp\":1767226500,\"nbf\":true}",
      "{\"sub\":\"u\",\"exp\":1767226500,\"iat\":null}",
      "{\"sub\":\"u\",\"exp\":1767226500,\"roles\":\"admin\"}",
      "{\"sub\":\"u\",\"exp\":1767226500,\"roles\":[1]}",
      "{\"sub\":\"u\",\"exp\":1767226500,\"roles\":[\"\"]}",
      "{\"sub\":\"u\",\"exp\":1767226500,\"jti\":{}}",
      "{\"sub\":\"u\",\"exp\":1767226500,\"fid\":[]}",
      "{\"sub\":\"u\",\"exp\":1767226500,\"iss\":5}",
  };
  for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
    char *t = craft(f->key, GOOD_HEADER, payloads[i]);
    jwt_result r = jwt_verify(t, f->keys, 2, NULL, NULL, NOW, 0, NULL);
    if (r != JWT_MALFORMED) fail_msg("%s: got %s", payloads[i], jwt_result_name(r));
    free(t);
  }
}

static void test_rejects_claims_too_long_for_the_struct(void **state) {
  fixture *f = *state;
  char payload[1024], s64[65];
  memset(s64, 'a', 64);
  s64[64] = '\0';
  snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"exp\":1767226500}", s64);
  char *t = craft(f->key, GOOD_HEADER, payload);
  assert_int_equal(jwt_verify(t, f->keys, 2, NULL, NULL, NOW, 0, NULL), JWT_MALFORMED);
  free(t);
  s64[63] = '\0'; /* 63 characters fit */
  snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"exp\":1767226500}", s64);
  t = craft(f->key, GOOD_HEADER, payload);
  assert_int_equal(jwt_verify(t, f->keys, 2, NULL, NULL, NOW, 0, NULL), JWT_OK);
  free(t);
  t = craft(f->key, GOOD_HEADER,
            "{\"exp\":1767226500,\"roles\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}");
  assert_int_equal(jwt_verify(t, f->keys, 2, NULL, NULL, NOW, 0, NULL), JWT_MALFORMED);
  free(t);
  t = craft(f->key, GOOD_HEADER,
            "{\"exp\":1767226500,\"roles\":[\"abcdefghijklmnopqrstuvwxyz0123456\"]}");
  assert_int_equal(jwt_verify(t, f->keys, 2, NULL, NULL, NOW, 0, NULL), JWT_MALFORMED);
  free(t);
}

/* ---- keys ---- */

static void test_jwk_export_import_round_trip(void **state) {
  fixture *f = *state;
  json_t *jwk = jwt_key_public_jwk(f->key);
  assert_non_null(jwk);
  assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "OKP");
  assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "Ed25519");
  assert_string_equal(json_string_value(json_object_get(jwk, "kid")), "k1");
  assert_string_equal(json_string_value(json_object_get(jwk, "alg")), "EdDSA");
  assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
  assert_int_equal(strlen(json_string_value(json_object_get(jwk, "x"))), 43);
  assert_null(json_object_get(jwk, "d"));
  jwt_key *pub = jwt_key_from_jwk(jwk);
  assert_non_null(pub);
  assert_false(jwt_key_has_private(pub));
  assert_null(jwt_key_private_pem(pub));
  assert_string_equal(jwt_key_kid(pub), "k1");
  jwt_claims c = sample_claims();
  char *t = jwt_sign(f->key, &c);
  assert_int_equal(jwt_verify(t, &pub, 1, ISS, AUD, NOW, 0, NULL), JWT_OK);
  json_t *again = jwt_key_public_jwk(pub);
  assert_true(json_equal(jwk, again));
  json_decref(again);
  free(t);
  jwt_key_free(pub);
  json_decref(jwk);
}

static void test_rejects_bad_jwks(void **state) {
  fixture *f = *state;
  json_t *good = jwt_key_public_jwk(f->key);
  const char *x = json_string_value(json_object_get(good, "x"));
  char short_x[64];
  snprintf(short_x, sizeof short_x, "%.42s", x); /* 31 bytes */
  json_t *bad[] = {
      json_pack("{s:s, s:s, s:s, s:s}", "kty", "RSA", "crv", "Ed25519", "x", x, "kid", "k1"),
      json_pack("{s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "X25519", "x", x, "kid", "k1"),
      json_pack("{s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", short_x, "kid", "k1"),
      json_pack("{s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", "AAAA", "kid", "k1"),
      json_pack("{s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", "!!!", "kid", "k1"),
      json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", x),
      json_pack("{s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", x, "kid", "bad kid"),
      json_pack("{s:s, s:s, s:s, s:i}", "kty", "OKP", "crv", "Ed25519", "x", x, "kid", 1),
      json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", x, "kid", "k1",
                "alg", "RS256"),
      json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", x, "kid", "k1",
                "use", "enc"),
      json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", x, "kid", "k1",
                "d", x),
      json_pack("[s]", "OKP"),
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_non_null(bad[i]);
    jwt_key *k = jwt_key_from_jwk(bad[i]);
    if (k) fail_msg("bad JWK %zu accepted", i);
    json_decref(bad[i]);
  }
  assert_null(jwt_key_from_jwk(NULL));
  json_decref(good);
}

static void test_private_pem_round_trip(void **state) {
  fixture *f = *state;
  char *pem = jwt_key_private_pem(f->key);
  assert_non_null(pem);
  assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
  jwt_key *copy = jwt_key_from_private_pem(pem, strlen(pem), "k1");
  assert_non_null(copy);
  assert_true(jwt_key_has_private(copy));
  jwt_claims c = sample_claims();
  char *t = jwt_sign(copy, &c);
  assert_int_equal(verify(f, t, NULL), JWT_OK);
  free(t);
  jwt_key_free(copy);
  assert_null(jwt_key_from_private_pem(pem, strlen(pem), "")); /* a kid is required */
  free(pem);
}

static void test_rejects_pem_that_is_not_an_ed25519_private_key(void **state) {
  (void)state;
  const char *junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  assert_null(jwt_key_from_private_pem(junk, strlen(junk), "k1"));
  assert_null(jwt_key_from_private_pem("", 0, "k1"));
  EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  BIO *bio = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL), 1);
  char *data;
  long n = BIO_get_mem_data(bio, &data);
  assert_null(jwt_key_from_private_pem(data, (size_t)n, "k1"));
  BIO_free(bio);
  EVP_PKEY_free(ec);
}

static void test_generate_refuses_bad_kids(void **state) {
  (void)state;
  assert_null(jwt_key_generate(NULL));
  assert_null(jwt_key_generate(""));
  assert_null(jwt_key_generate("with space"));
  assert_null(jwt_key_generate("quote\""));
  char long_kid[80];
  memset(long_kid, 'k', 64);
  long_kid[64] = '\0';
  assert_null(jwt_key_generate(long_kid));
  long_kid[63] = '\0';
  jwt_key *k = jwt_key_generate(long_kid);
  assert_non_null(k);
  jwt_key_free(k);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_sign_then_verify_returns_the_claims),
      T(test_signed_header_names_eddsa_jwt_and_kid),
      T(test_verify_without_expectations_skips_iss_and_aud),
      T(test_sign_refuses_without_private_key_or_with_bad_claims),
      T(test_result_names),
      T(test_rejects_alg_none),
      T(test_rejects_alg_hs256_keyed_with_the_public_key),
      T(test_rejects_missing_or_odd_alg),
      T(test_rejects_crit_and_foreign_typ),
      T(test_rejects_missing_kid),
      T(test_rejects_unknown_kid),
      T(test_rejects_a_flipped_signature_byte),
      T(test_rejects_a_modified_payload),
      T(test_rejects_a_signature_by_another_key_with_the_same_kid),
      T(test_rejects_truncated_or_empty_signature),
      T(test_rejects_expired_tokens),
      T(test_rejects_tokens_not_yet_valid),
      T(test_leeway_is_clamped),
      T(test_requires_exp),
      T(test_rejects_wrong_or_missing_issuer),
      T(test_rejects_wrong_or_missing_audience),
      T(test_accepts_an_audience_array_containing_the_expected_one),
      T(test_rejects_bad_audience_shapes),
      T(test_rejects_wrong_segment_counts),
      T(test_rejects_bad_base64),
      T(test_rejects_non_json_and_non_object_segments),
      T(test_rejects_an_oversize_token),
      T(test_rejects_claims_of_wrong_type),
      T(test_rejects_claims_too_long_for_the_struct),
      T(test_jwk_export_import_round_trip),
      T(test_rejects_bad_jwks),
      T(test_private_pem_round_trip),
      T(test_rejects_pem_that_is_not_an_ed25519_private_key),
      T(test_generate_refuses_bad_kids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
