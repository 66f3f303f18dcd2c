/* Unit tests of the gate kit (svc/gate/gatekit.c): sign/verify round trips, every tampering of a
 * presented code refused with the right result, HOTP-SHA256 vectors, the code window and replay rule, JWKS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include "svc/gate/gatekit.h"

#define TID "3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b"

/* A fresh Ed25519 private key as PKCS#8 PEM (what openssl genpkey -algorithm ed25519 writes). */
static char *new_pem(int type) {
  EVP_PKEY *pk = NULL;
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
  assert_non_null(c);
  assert_int_equal(EVP_PKEY_keygen_init(c), 1);
  if (type == EVP_PKEY_EC) assert_int_equal(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(c, NID_X9_62_prime256v1), 1);
  assert_int_equal(EVP_PKEY_keygen(c, &pk), 1);
  BIO *b = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
  char *data;
  long n = BIO_get_mem_data(b, &data);
  char *pem = malloc((size_t)n + 1);
  memcpy(pem, data, (size_t)n);
  pem[n] = '\0';
  BIO_free(b);
  EVP_PKEY_free(pk);
  EVP_PKEY_CTX_free(c);
  return pem;
}

static void add_key(gk_keyring *r, const char *kid, bool signing) {
  char *pem = new_pem(EVP_PKEY_ED25519);
  char err[128] = "";
  assert_true(gk_keyring_add_private_pem(r, kid, pem, signing, err, sizeof err));
  free(pem);
}

static gk_payload oneway(void) {
  gk_payload p;
  memset(&p, 0, sizeof p);
  strcpy(p.tid, TID);
  strcpy(p.typ, "oneway");
  p.pax = 3;
  strcpy(p.o, "ben-thanh");
  strcpy(p.d, "suoi-tien");
  p.iat = 1767225600;
  return p;
}

static gk_payload pass(void) {
  gk_payload p;
  memset(&p, 0, sizeof p);
  strcpy(p.tid, TID);
  strcpy(p.typ, "monthly_pass");
  p.pax = 1;
  p.iat = 1767225600;
  return p;
}

static gk_result verify_str(const gk_keyring *r, const char *s) { return gk_verify(r, s, strlen(s), NULL); }

/* base64url-decodes the payload part of a token with OpenSSL (standard alphabet after mapping). */
static void payload_json(const char *token, char *out, size_t cap) {
  const char *a = strchr(token, '.');
  a = strchr(a + 1, '.') + 1;
  const char *b = strchr(a, '.');
  char tmp[1024];
  size_t n = (size_t)(b - a);
  memcpy(tmp, a, n);
  for (size_t i = 0; i < n; i++) tmp[i] = tmp[i] == '-' ? '+' : tmp[i] == '_' ? '/' : tmp[i];
  while (n % 4) tmp[n++] = '=';
  tmp[n] = '\0';
  int len = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)tmp, (int)n);
  assert_true(len > 0 && (size_t)len < cap);
  while (len > 0 && out[len - 1] == '\0') len--; /* EVP_DecodeBlock counts the padding bytes */
  out[len] = '\0';
}

static void test_roundtrip_oneway(void **state) {
  (void)state;
  gk_keyring r;
  gk_keyring_init(&r);
  add_key(&r, "k2026", true);
  gk_payload p = oneway();
  char tok[GK_MAX_TOKEN_LEN + 1];
  assert_true(gk_token_sign(&r, &p, tok, sizeof tok));
  assert_memory_equal(tok, "MT1.k2026.", 10);
  char json[512];
  payload_json(tok, json, sizeof json);
  assert_string_equal(json, "{\"tid\":\"" TID "\",\"typ\":\"oneway\",\"pax\":3,\"o\":\"ben-thanh\",\"d\":\"suoi-tien\","
                            "\"iat\":1767225600}");
  gk_presented out;
  assert_int_equal(gk_verify(&r, tok, strlen(tok), &out), GK_OK);
  assert_string_equal(out.kid, "k2026");
  assert_false(out.rotating);
  assert_int_equal(out.token_len, strlen(tok));
  assert_memory_equal(&out.payload, &p, sizeof p);
  /* The length bounds the input: trailing bytes beyond it are never read as part of the token. */
  char longer[GK_MAX_TOKEN_LEN + 16];
  snprintf(longer, sizeof longer, "%s.junk", tok);
  assert_int_equal(gk_verify(&r, longer, strlen(tok), NULL), GK_OK);
  /* Too small an output buffer. */
  char small[64];
  assert_false(gk_token_sign(&r, &p, small, sizeof small));
  assert_string_equal(small, "");
}

static void test_roundtrip_pass(void **state) {
  (void)state;
  gk_keyring r;
  gk_keyring_init(&r);
  add_key(&r, "old", false);
  add_key(&r, "new", true);
  gk_payload p = pass();
  char tok[GK_MAX_TOKEN_LEN + 1], json[512];
  assert_true(gk_token_sign(&r, &p, tok, sizeof tok));
  assert_memory_equal(tok, "MT1.new.", 8);
  payload_json(tok, json, sizeof json);
  assert_string_equal(json, "{\"tid\":\"" TID "\",\"typ\":\"monthly_pass\",\"pax\":1,\"iat\":1767225600}");
  gk_presented out;
  assert_int_equal(gk_verify(&r, tok, strlen(tok), &out), GK_OK);
  assert_memory_equal(&out.payload, &p, sizeof p);
  assert_string_equal(out.payload.o, "");
}

static void test_sign_refuses_bad_payloads(void **state) {
  (void)state;
  gk_keyring r;
  gk_keyring_init(&r);
  char tok[GK_MAX_TOKEN_LEN + 1];
  gk_payload p = oneway();
  add_key(&r, "nosign", false);
  assert_false(gk_token_sign(&r, &p, tok, sizeof tok)); /* no signing key */
  add_key(&r, "k", true);
  assert_true(gk_token_sign(&r, &p, tok, sizeof tok));
  p.o[0] = '\0';
  assert_false(gk_token_sign(&r, &p, tok, sizeof tok)); /* oneway without origin */
  p = pass();
  strcpy(p.o, "ben-thanh");
  assert_false(gk_token_sign(&r, &p, tok, sizeof tok)); /* pass with origin */
  p = pass();
  p.pax = 101;
  assert_false(gk_token_sign(&r, &p, tok, sizeof tok));
  p = pass();
  strcpy(p.typ, "week_pass");
  assert_false(gk_token_sign(&r, &p, tok, sizeof tok));
  p = pass();
  p.tid[0] = 'F';
  assert_false(gk_token_sign(&r, &p, tok, sizeof tok));
}

/* Replaces the n-th dot-separated part of tok. */
static void replace_part(const char *tok, int n, const char *with, char *out, size_t cap) {
  char tmp[2048];
  snprintf(tmp, sizeof tmp, "%s", tok);
  out[0] = '\0';
  char *save = NULL;
  int i = 0;
  for (char *p = strtok_r(tmp, ".", &save); p; p = strtok_r(NULL, ".", &save), i++) {
    if (i) strncat(out, ".", cap - strlen(out) - 1);
    strncat(out, i == n ? with : p, cap - strlen(out) - 1);
  }
}

static const char *part(const char *tok, int n, char *buf) {
  const char *s = tok;
  for (int i = 0; i < n; i++) s = strchr(s, '.') + 1;
  const char *e = strchr(s, '.');
  size_t len = e ? (size_t)(e - s) : strlen(s);
  memcpy(buf, s, len);
  buf[len] = '\0';
  return buf;
}

static void test_tampering(void **state) {
  (void)state;
  gk_keyring r;
  gk_keyring_init(&r);
  add_key(&r, "k1", true);
  add_key(&r, "k2", false);
  gk_payload p = oneway();
  char tok[GK_MAX_TOKEN_LEN + 1], t[2048], b[1100], c[1024];
  assert_true(gk_token_sign(&r, &p, tok, sizeof tok));
  assert_int_equal(verify_str(&r, tok), GK_OK);
  size_t pay = strlen("MT1.k1."), sig = strrchr(tok, '.') - tok + 1;

  /* One byte of the payload (still valid base64url). */
  strcpy(t, tok);
  t[pay + 5] = t[pay + 5] == 'A' ? 'B' : 'A';
  assert_int_equal(verify_str(&r, t), GK_BAD_SIGNATURE);
  /* One byte of the signature. */
  strcpy(t, tok);
  t[sig + 10] = t[sig + 10] == 'A' ? 'B' : 'A';
  assert_int_equal(verify_str(&r, t), GK_BAD_SIGNATURE);
  /* The signature's last character carries 2 bits and 4 zero bits: a non-zero tail is non-canonical. */
  strcpy(t, tok);
  char *last = t + strlen(t) - 1;
  assert_true(strchr("AQgw", *last) != NULL);
  *last = *last == 'A' ? 'B' : 'A' + 1;
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  /* Another known kid: that key did not sign it. An unknown kid. */
  replace_part(tok, 1, "k2", t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_BAD_SIGNATURE);
  replace_part(tok, 1, "k3", t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_UNKNOWN_KID);
  /* Bad kids and prefixes. */
  replace_part(tok, 1, "k.1", t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  replace_part(tok, 1, "k!1", t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  replace_part(tok, 1, "abcdefghijklmnopqrstuvwxyz0123456", t, sizeof t); /* 33 */
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  replace_part(tok, 1, "abcdefghijklmnopqrstuvwxyz012345", t, sizeof t); /* 32 */
  assert_int_equal(verify_str(&r, t), GK_UNKNOWN_KID);
  replace_part(tok, 0, "MT2", t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  replace_part(tok, 0, "mt1", t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  replace_part(tok, 0, "MT1X", t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  /* base64 padding, characters outside the alphabet. */
  snprintf(b, sizeof b, "%s=", part(tok, 2, c));
  replace_part(tok, 2, b, t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  snprintf(t, sizeof t, "%s=", tok);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  snprintf(t, sizeof t, "%s==", tok);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  const char *outside[] = {"+", "/", " ", "~", "%"};
  for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) {
    strcpy(t, tok);
    t[pay + 3] = outside[i][0];
    assert_int_equal(verify_str(&r, t), GK_MALFORMED);
    strcpy(t, tok);
    t[sig + 3] = outside[i][0];
    assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  }
  /* A signature one character short or long. */
  strcpy(t, tok);
  t[strlen(t) - 1] = '\0';
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  snprintf(t, sizeof t, "%sA", tok);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  /* A payload part of length 1 mod 4 (even with zero bits) is no base64url. */
  part(tok, 2, c);
  strcat(c, strlen(c) % 4 == 0 ? "A" : strlen(c) % 4 == 2 ? "AAA" : strlen(c) % 4 == 3 ? "AA" : "");
  assert_int_equal(strlen(c) % 4, 1);
  replace_part(tok, 2, c, t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  /* Missing and extra parts, empty parts. */
  snprintf(t, sizeof t, "%.*s", (int)(sig - 1), tok);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  snprintf(t, sizeof t, "%s.x", tok);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  snprintf(t, sizeof t, "%s.1.123456.x", tok);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  snprintf(t, sizeof t, "%s.", tok);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  snprintf(t, sizeof t, ".%s", tok);
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  replace_part(tok, 1, "", t, sizeof t); /* MT1..<payload>.<sig> */
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  snprintf(t, sizeof t, "MT1.k1.%s", tok + sig); /* no payload part */
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  /* Over-long: a token padded to one more byte than the bound. */
  memset(t, 'A', sizeof t);
  memcpy(t, tok, strlen(tok));
  assert_int_equal(gk_verify(&r, t, GK_MAX_TOKEN_LEN + 1, NULL), GK_MALFORMED);
  assert_int_equal(gk_verify(&r, t, (size_t)-1, NULL), GK_MALFORMED);
  assert_int_equal(gk_verify(&r, t, 0, NULL), GK_MALFORMED);
  assert_int_equal(gk_verify(&r, NULL, 10, NULL), GK_MALFORMED);
  /* Non-ASCII, control characters, NUL inside. */
  strcpy(t, tok);
  t[pay + 3] = (char)0xC3;
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  strcpy(t, tok);
  t[pay + 3] = '\n';
  assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  strcpy(t, tok);
  size_t n = strlen(t);
  t[pay + 3] = '\0';
  assert_int_equal(gk_verify(&r, t, n, NULL), GK_MALFORMED);
  strcpy(t, tok);
  t[n] = '\0';
  assert_int_equal(gk_verify(&r, t, n + 1, NULL), GK_MALFORMED); /* a trailing NUL counted in */
  /* Rotating suffixes: counter 1-15 digits, code exactly 6 digits. */
  const char *bad_rot[] = {"1234567890123456.123456", "12a.123456", "-1.123456", "+1.123456", "1.12345",
                           "1.1234567",                "1.12345a",   "1. 23456",  ".123456",   "1."};
  for (size_t i = 0; i < sizeof bad_rot / sizeof *bad_rot; i++) {
    snprintf(t, sizeof t, "%s.%s", tok, bad_rot[i]);
    assert_int_equal(verify_str(&r, t), GK_MALFORMED);
  }
  snprintf(t, sizeof t, "%s.123456789012345.000000", tok);
  gk_presented out;
  assert_int_equal(gk_verify(&r, t, strlen(t), &out), GK_OK);
  assert_true(out.rotating);
  assert_int_equal(out.counter, 123456789012345LL);
  assert_string_equal(out.code, "000000");
  /* Verification against an empty ring. */
  gk_keyring empty;
  gk_keyring_init(&empty);
  assert_int_equal(verify_str(&empty, tok), GK_UNKNOWN_KID);
}

/* Signs an arbitrary JSON payload with the ring's first key, bypassing gk_token_sign's checks. */
static void forge(const gk_keyring *r, const char *json, char *out, size_t cap) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char b64[1024];
  size_t n = strlen(json), o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)(uint8_t)json[i] << 16;
    if (i + 1 < n) v |= (uint32_t)(uint8_t)json[i + 1] << 8;
    if (i + 2 < n) v |= (uint8_t)json[i + 2];
    b64[o++] = tbl[v >> 18 & 63];
    b64[o++] = tbl[v >> 12 & 63];
    if (i + 1 < n) b64[o++] = tbl[v >> 6 & 63];
    if (i + 2 < n) b64[o++] = tbl[v & 63];
  }
  b64[o] = '\0';
  char msg[1200];
  snprintf(msg, sizeof msg, "MT1.%s.%s", r->keys[0].kid, b64);
  EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, r->keys[0].priv, 32);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  uint8_t sig[64];
  size_t sl = sizeof sig;
  assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, pk), 1);
  assert_int_equal(EVP_DigestSign(md, sig, &sl, (const uint8_t *)msg, strlen(msg)), 1);
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pk);
  char sb[96];
  o = 0;
  for (size_t i = 0; i < 64; i += 3) {
    uint32_t v = (uint32_t)sig[i] << 16;
    if (i + 1 < 64) v |= (uint32_t)sig[i + 1] << 8;
    if (i + 2 < 64) v |= sig[i + 2];
    sb[o++] = tbl[v >> 18 & 63];
    sb[o++] = tbl[v >> 12 & 63];
    if (i + 1 < 64) sb[o++] = tbl[v >> 6 & 63];
    if (i + 2 < 64) sb[o++] = tbl[v & 63];
  }
  sb[o] = '\0';
  snprintf(out, cap, "%s.%s", msg, sb);
}

static void test_bad_payloads(void **state) {
  (void)state;
  gk_keyring r;
  gk_keyring_init(&r);
  add_key(&r, "k", true);
  char t[2048];
  /* The forger itself produces what gk_token_sign does. */
  forge(&r, "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":100,\"iat\":0}", t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_OK);
  forge(&r, "{\"iat\":5,\"d\":\"b\",\"o\":\"a-1\",\"pax\":1,\"typ\":\"return\",\"tid\":\"" TID "\"}", t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_OK); /* member order is not part of validity */
  const char *bad[] = {
      "",
      "[]",
      "null",
      "{}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":0,\"x\":1}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":1}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":0} x",
      "{\"tid\":\"" TID "\",\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":0,\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":101,\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":4294967297,\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":\"1\",\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":1.0,\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":true,\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":-1}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":1e9}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":99999999999999999999}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":null}",
      "{\"tid\":\"3F2B8C1E-9A4D-4E6F-8B2A-1C3D5E7F9A0B\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":0}",
      "{\"tid\":\"3f2b8c1e-9a4d-1e6f-8b2a-1c3d5e7f9a0b\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":0}",
      "{\"tid\":\"3f2b8c1e-9a4d-4e6f-7b2a-1c3d5e7f9a0b\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":0}",
      "{\"tid\":\"3f2b8c1e9a4d4e6f8b2a1c3d5e7f9a0b\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":0}",
      "{\"tid\":\"3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b0\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":0}",
      "{\"tid\":\"3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0\",\"typ\":\"day_pass\",\"pax\":1,\"iat\":0}",
      "{\"tid\":1,\"typ\":\"day_pass\",\"pax\":1,\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"Day_pass\",\"pax\":1,\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass_plus_more\",\"pax\":1,\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"oneway\",\"pax\":1,\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"oneway\",\"pax\":1,\"o\":\"a\",\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"oneway\",\"pax\":1,\"o\":\"\",\"d\":\"b\",\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"oneway\",\"pax\":1,\"o\":\"A\",\"d\":\"b\",\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"oneway\",\"pax\":1,\"o\":\"a b\",\"d\":\"b\",\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"oneway\",\"pax\":1,\"o\":\"a\\u0000\",\"d\":\"b\",\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"oneway\",\"pax\":1,\"o\":1,\"d\":\"b\",\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"oneway\",\"pax\":1,\"o\":\"a\",\"d\":\"b\",\"iat\":0,\"e\":\"c\"}",
      "{\"tid\":\"" TID "\",\"typ\":\"oneway\",\"pax\":1,\"o\":"
      "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"d\":\"b\",\"iat\":0}", /* 65 */
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":1,\"o\":\"a\",\"d\":\"b\",\"iat\":0}",
      "{\"tid\":\"" TID "\",\"typ\":\"day_pass\",\"pax\":1,\"o\":\"\",\"d\":\"\",\"iat\":0}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    forge(&r, bad[i], t, sizeof t);
    gk_presented out;
    gk_result res = gk_verify(&r, t, strlen(t), &out);
    if (i == 0) {
      assert_int_equal(res, GK_MALFORMED); /* an empty payload part */
      continue;
    }
    if (res != GK_BAD_PAYLOAD) fail_msg("payload %zu (%s): %s", i, bad[i], gk_result_name(res));
    assert_string_equal(out.payload.tid, ""); /* nothing of a refused payload leaks out */
  }
  /* 64-character stations are the most allowed. */
  forge(&r,
        "{\"tid\":\"" TID "\",\"typ\":\"return\",\"pax\":1,\"o\":"
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"d\":"
        "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"iat\":9223372036854775807}",
        t, sizeof t);
  assert_int_equal(verify_str(&r, t), GK_OK);
}

/* HMAC-SHA256 HOTP over the RFC 4226 appendix D secret, counters 0-9. The expected values were
 * computed outside this code with python3's hmac module:
 *   h = hmac.new(b"12345678901234567890", struct.pack(">Q", c), hashlib.sha256).digest()
 *   o = h[-1] & 15; "%06d" % ((int.from_bytes(h[o:o+4], "big") & 0x7fffffff) % 1000000) */
static void test_hotp_vectors(void **state) {
  (void)state;
  static const uint32_t want[10] = {875740, 247374, 254785, 496144, 480556,
                                    697997, 191609, 579288, 895912, 184989};
  const uint8_t *secret = (const uint8_t *)"12345678901234567890";
  for (uint64_t c = 0; c < 10; c++) assert_int_equal(gk_hotp_sha256(secret, 20, c), want[c]);
  /* A 32-byte secret 00 01 .. 1f, same tool: counters 0, 1 and 55000000. */
  uint8_t s32[32];
  for (int i = 0; i < 32; i++) s32[i] = (uint8_t)i;
  assert_int_equal(gk_hotp_sha256(s32, 32, 0), 464393);
  assert_int_equal(gk_hotp_sha256(s32, 32, 1), 309558);
  assert_int_equal(gk_hotp_sha256(s32, 32, 55000000), 356503);
}

static void test_counter_at(void **state) {
  (void)state;
  assert_int_equal(gk_counter_at(0), 0);
  assert_int_equal(gk_counter_at(29), 0);
  assert_int_equal(gk_counter_at(30), 1);
  assert_int_equal(gk_counter_at(1767225615), 58907520);
  assert_int_equal(gk_counter_at(-1), -1);
  assert_int_equal(gk_counter_at(-30), -1);
  assert_int_equal(gk_counter_at(-31), -2);
  assert_true(gk_counter_in_window(10, 9));
  assert_true(gk_counter_in_window(10, 11));
  assert_false(gk_counter_in_window(10, 12));
  assert_false(gk_counter_in_window(INT64_MAX, INT64_MIN));
  assert_false(gk_counter_in_window(INT64_MIN, INT64_MAX));
}

static void code_for(const uint8_t *secret, int64_t counter, char out[7]) {
  snprintf(out, 7, "%06u", (unsigned)gk_hotp_sha256(secret, GK_SECRET_LEN, (uint64_t)counter));
}

static void test_code_check(void **state) {
  (void)state;
  uint8_t secret[GK_SECRET_LEN];
  for (int i = 0; i < GK_SECRET_LEN; i++) secret[i] = (uint8_t)(i * 7 + 1);
  const int64_t now = 58907520;
  char c[7];
  /* Window edges, with no counter used yet. */
  code_for(secret, now - 2, c);
  assert_int_equal(gk_code_check(secret, now - 2, c, now, 0), GK_CODE_INVALID);
  code_for(secret, now - 1, c);
  assert_int_equal(gk_code_check(secret, now - 1, c, now, 0), GK_CODE_OK);
  code_for(secret, now, c);
  assert_int_equal(gk_code_check(secret, now, c, now, 0), GK_CODE_OK);
  code_for(secret, now + 1, c);
  assert_int_equal(gk_code_check(secret, now + 1, c, now, 0), GK_CODE_OK);
  code_for(secret, now + 2, c);
  assert_int_equal(gk_code_check(secret, now + 2, c, now, 0), GK_CODE_INVALID);
  /* Replay: the counter must be above the last one used. */
  code_for(secret, now, c);
  assert_int_equal(gk_code_check(secret, now, c, now, now), GK_CODE_REPLAYED);
  assert_int_equal(gk_code_check(secret, now, c, now, now + 1), GK_CODE_REPLAYED);
  assert_int_equal(gk_code_check(secret, now, c, now, now - 1), GK_CODE_OK);
  code_for(secret, now + 1, c);
  assert_int_equal(gk_code_check(secret, now + 1, c, now, now), GK_CODE_OK);
  /* Wrong digits: invalid, never replayed (a wrong code says nothing about the counter). */
  code_for(secret, now, c);
  c[5] = c[5] == '9' ? '0' : (char)(c[5] + 1);
  assert_int_equal(gk_code_check(secret, now, c, now, 0), GK_CODE_INVALID);
  assert_int_equal(gk_code_check(secret, now, c, now, now), GK_CODE_INVALID);
  code_for(secret, now + 1, c); /* another step's code */
  assert_int_equal(gk_code_check(secret, now, c, now, 0), GK_CODE_INVALID);
  uint8_t other[GK_SECRET_LEN];
  memcpy(other, secret, sizeof other);
  other[0] ^= 1; /* another ticket's secret */
  code_for(secret, now, c);
  assert_int_equal(gk_code_check(other, now, c, now, 0), GK_CODE_INVALID);
  /* Malformed codes. */
  code_for(secret, now, c);
  char longer[8];
  snprintf(longer, sizeof longer, "%s0", c);
  assert_int_equal(gk_code_check(secret, now, longer, now, 0), GK_CODE_INVALID);
  c[5] = '\0';
  assert_int_equal(gk_code_check(secret, now, c, now, 0), GK_CODE_INVALID);
  assert_int_equal(gk_code_check(secret, now, "12345a", now, 0), GK_CODE_INVALID);
  assert_int_equal(gk_code_check(secret, now, "", now, 0), GK_CODE_INVALID);
  assert_int_equal(gk_code_check(secret, now, NULL, now, 0), GK_CODE_INVALID);
  assert_int_equal(gk_code_check(secret, -1, "000000", 0, -5), GK_CODE_INVALID);
}

static void test_rotating_roundtrip(void **state) {
  (void)state;
  gk_keyring r;
  gk_keyring_init(&r);
  add_key(&r, "k", true);
  gk_payload p = pass();
  char tok[GK_MAX_TOKEN_LEN + 1], rot[GK_MAX_TOKEN_LEN + 1];
  assert_true(gk_token_sign(&r, &p, tok, sizeof tok));
  uint8_t secret[GK_SECRET_LEN];
  memset(secret, 0x5A, sizeof secret);
  int64_t now = gk_counter_at(1767225615);
  assert_true(gk_rotating_format(tok, secret, now, rot, sizeof rot));
  char want[GK_MAX_TOKEN_LEN + 32], c[7];
  code_for(secret, now, c);
  snprintf(want, sizeof want, "%s.%lld.%s", tok, (long long)now, c);
  assert_string_equal(rot, want);
  gk_presented out;
  assert_int_equal(gk_verify(&r, rot, strlen(rot), &out), GK_OK);
  assert_true(out.rotating);
  assert_int_equal(out.counter, now);
  assert_string_equal(out.code, c);
  assert_int_equal(out.token_len, strlen(tok));
  assert_memory_equal(&out.payload, &p, sizeof p);
  assert_int_equal(gk_code_check(secret, out.counter, out.code, now, 0), GK_CODE_OK);
  assert_int_equal(gk_code_check(secret, out.counter, out.code, now, now), GK_CODE_REPLAYED);
  /* The signature still covers the token inside a rotating code. */
  char t[2048];
  strcpy(t, rot);
  t[10] = t[10] == 'A' ? 'B' : 'A';
  assert_int_equal(verify_str(&r, t), GK_BAD_SIGNATURE);
  /* Short buffers and counters that cannot be formatted. */
  assert_false(gk_rotating_format(tok, secret, now, rot, strlen(want)));
  assert_true(gk_rotating_format(tok, secret, now, rot, strlen(want) + 1));
  assert_false(gk_rotating_format(tok, secret, -1, rot, sizeof rot));
  assert_false(gk_rotating_format(tok, secret, 1000000000000000LL, rot, sizeof rot));
  assert_true(gk_rotating_format(tok, secret, 999999999999999LL, rot, sizeof rot));
  assert_int_equal(verify_str(&r, rot), GK_OK);
}

static void test_jwks_roundtrip(void **state) {
  (void)state;
  gk_keyring r;
  gk_keyring_init(&r);
  add_key(&r, "k2025", false);
  add_key(&r, "k2026", true);
  char *jwks = gk_keyring_jwks(&r);
  assert_non_null(jwks);
  assert_non_null(strstr(jwks, "\"kty\":\"OKP\",\"crv\":\"Ed25519\""));
  assert_null(strstr(jwks, "\"d\""));
  gk_keyring pub;
  gk_keyring_init(&pub);
  char err[128] = "";
  assert_true(gk_keyring_load_jwks(&pub, jwks, strlen(jwks), err, sizeof err));
  assert_int_equal(pub.n, 2);
  assert_int_equal(pub.signing, -1);
  for (int i = 0; i < 2; i++) {
    assert_string_equal(pub.keys[i].kid, r.keys[i].kid);
    assert_memory_equal(pub.keys[i].pub, r.keys[i].pub, 32);
    assert_false(pub.keys[i].has_private);
  }
  assert_non_null(gk_keyring_find(&pub, "k2026", 5));
  assert_null(gk_keyring_find(&pub, "k2026", 4));
  assert_null(gk_keyring_find(&pub, "k20266", 6));
  char *again = gk_keyring_jwks(&pub);
  assert_string_equal(again, jwks);
  free(again);
  free(jwks);
  /* A gate with only the public keys verifies; a public ring cannot sign. */
  gk_payload p = oneway();
  char tok[GK_MAX_TOKEN_LEN + 1];
  assert_true(gk_token_sign(&r, &p, tok, sizeof tok));
  assert_int_equal(verify_str(&pub, tok), GK_OK);
  pub.signing = 0;
  assert_false(gk_token_sign(&pub, &p, tok, sizeof tok));
  /* Minimal entries (no alg/use) are accepted; an empty set too. */
  gk_keyring m;
  gk_keyring_init(&m);
  const char *min = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\","
                    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";
  assert_true(gk_keyring_load_jwks(&m, min, strlen(min), err, sizeof err));
  assert_int_equal(m.n, 1);
  const char *none = "{\"keys\":[]}";
  assert_true(gk_keyring_load_jwks(&m, none, strlen(none), err, sizeof err));
  assert_int_equal(m.n, 1);
}

static void test_jwks_refused(void **state) {
  (void)state;
  const char *X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
  char ok_entry[256];
  snprintf(ok_entry, sizeof ok_entry, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"good\",\"x\":\"%s\"}", X);
  const char *bad_entries[] = {
      "{\"kty\":\"EC\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"%s\"}",
      "{\"kty\":\"RSA\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"%s\"}",
      "{\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"%s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"kid\":\"a\",\"x\":\"%s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"kid\":\"a\",\"x\":\"%s\"}",
      "{\"kty\":\"OKP\",\"kid\":\"a\",\"x\":\"%s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"%s\",\"alg\":\"ES256\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"%s\",\"use\":\"enc\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"%s\",\"d\":\"AAAA\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"\",\"x\":\"%s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a.b\",\"x\":\"%s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a b\",\"x\":\"%s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"x\":\"%s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":7,\"x\":\"%s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"good\",\"x\":\"%s\"}", /* duplicate kid */
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"%s=\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"%sAAAA\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"%.42s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"%.40s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"+%.42s\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"%.42sp\"}", /* non-canonical tail */
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\"}",
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":null}",
      "\"%s\"",
  };
  for (size_t i = 0; i < sizeof bad_entries / sizeof *bad_entries; i++) {
    char entry[512], json[1024], err[128] = "";
    snprintf(entry, sizeof entry, bad_entries[i], X);
    snprintf(json, sizeof json, "{\"keys\":[%s,%s]}", ok_entry, entry);
    gk_keyring r;
    gk_keyring_init(&r);
    if (gk_keyring_load_jwks(&r, json, strlen(json), err, sizeof err)) fail_msg("entry %zu accepted: %s", i, entry);
    assert_true(err[0] != '\0');
    assert_int_equal(r.n, 0); /* all or nothing */
  }
  const char *bad_sets[] = {"", "[]", "{}", "{\"keys\":{}}", "{\"keys\":null}", "not json", "{\"keys\":[]} x"};
  for (size_t i = 0; i < sizeof bad_sets / sizeof *bad_sets; i++) {
    gk_keyring r;
    gk_keyring_init(&r);
    char err[128] = "";
    assert_false(gk_keyring_load_jwks(&r, bad_sets[i], strlen(bad_sets[i]), err, sizeof err));
    assert_true(err[0] != '\0');
  }
  /* More keys than a ring holds. */
  char big[8192] = "{\"keys\":[";
  for (int i = 0; i <= GK_MAX_KEYS; i++) {
    char e[160];
    snprintf(e, sizeof e, "%s{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k%d\",\"x\":\"%s\"}", i ? "," : "", i, X);
    strcat(big, e);
  }
  strcat(big, "]}");
  gk_keyring r;
  gk_keyring_init(&r);
  char err[128] = "";
  assert_false(gk_keyring_load_jwks(&r, big, strlen(big), err, sizeof err));
  assert_int_equal(r.n, 0);
}

static void test_pem_keys(void **state) {
  (void)state;
  gk_keyring r;
  gk_keyring_init(&r);
  char err[128] = "";
  char *pem = new_pem(EVP_PKEY_ED25519);
  assert_false(gk_keyring_add_private_pem(&r, "bad kid", pem, true, err, sizeof err));
  assert_false(gk_keyring_add_private_pem(&r, "", pem, true, err, sizeof err));
  assert_false(gk_keyring_add_private_pem(&r, NULL, pem, true, err, sizeof err));
  assert_false(gk_keyring_add_private_pem(&r, "k", "not a pem", true, err, sizeof err));
  assert_false(gk_keyring_add_private_pem(&r, "k", NULL, true, err, sizeof err));
  assert_int_equal(r.n, 0);
  assert_int_equal(r.signing, -1);
  assert_true(gk_keyring_add_private_pem(&r, "k", pem, true, err, sizeof err));
  assert_false(gk_keyring_add_private_pem(&r, "k", pem, false, err, sizeof err)); /* duplicate kid */
  assert_true(r.keys[0].has_private);
  assert_int_equal(r.signing, 0);
  free(pem);
  char *ec = new_pem(EVP_PKEY_EC);
  err[0] = '\0';
  assert_false(gk_keyring_add_private_pem(&r, "ec", ec, false, err, sizeof err));
  assert_non_null(strstr(err, "Ed25519"));
  free(ec);
  /* Fill the ring: one more key is refused. */
  uint8_t pub[32] = {0};
  for (int i = 1; i < GK_MAX_KEYS; i++) {
    char kid[8];
    snprintf(kid, sizeof kid, "p%d", i);
    assert_true(gk_keyring_add_public(&r, kid, pub, err, sizeof err));
  }
  assert_false(gk_keyring_add_public(&r, "full", pub, err, sizeof err));
  assert_int_equal(r.n, GK_MAX_KEYS);
}

static void test_result_names(void **state) {
  (void)state;
  assert_string_equal(gk_result_name(GK_OK), "OK");
  assert_string_equal(gk_result_name(GK_MALFORMED), "MALFORMED");
  assert_string_equal(gk_result_name(GK_UNKNOWN_KID), "UNKNOWN_KID");
  assert_string_equal(gk_result_name(GK_BAD_SIGNATURE), "BAD_SIGNATURE");
  assert_string_equal(gk_result_name(GK_BAD_PAYLOAD), "BAD_PAYLOAD");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_oneway),  cmocka_unit_test(test_roundtrip_pass),
      cmocka_unit_test(test_sign_refuses_bad_payloads), cmocka_unit_test(test_tampering),
      cmocka_unit_test(test_bad_payloads),      cmocka_unit_test(test_hotp_vectors),
      cmocka_unit_test(test_counter_at),        cmocka_unit_test(test_code_check),
      cmocka_unit_test(test_rotating_roundtrip), cmocka_unit_test(test_jwks_roundtrip),
      cmocka_unit_test(test_jwks_refused),      cmocka_unit_test(test_pem_keys),
      cmocka_unit_test(test_result_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
