/* Unit tests of common/identity: the gateway's signed identity metadata round trips, and
 * verification refuses expired, malformed, over-long and wrongly signed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/b64.h"
#include "common/crypto.h"
#include "common/identity.h"

#define SECRET "gateway-identity-secret"
#define NOW 1767225600
#define USER "3f1c2a9e-7b4d-4e21-9a0c-5d6e7f8a9b0c"

static int setup(void **state) {
  *state = arena_create(4096);
  return 0;
}

static int teardown(void **state) {
  arena_destroy(*state);
  return 0;
}

/* The signature a correct implementation computes, for values built by hand. */
static const char *sign_raw(arena *a, const char *secret, const char *value) {
  uint8_t mac[32];
  crypto_hmac_sha256(secret, strlen(secret), value, strlen(value), mac);
  char *sig = arena_alloc(a, 64);
  b64_encode(B64_URL_NOPAD, mac, sizeof mac, sig, 64);
  return sig;
}

static bool verify_raw(arena *a, const char *value, rpc_identity *out) {
  return identity_verify(a, SECRET, value, sign_raw(a, SECRET, value), NOW, out);
}

static void test_sign_then_verify_returns_the_caller(void **state) {
  arena *a = *state;
  const char *roles[] = {"passenger", "staff"};
  const char *value, *sig;
  assert_true(identity_sign(a, SECRET, USER, roles, 2, NOW + 60, &value, &sig));
  assert_string_equal(value, USER ";passenger,staff;1767225660");
  assert_int_equal(strlen(sig), 43);
  assert_string_equal(sig, sign_raw(a, SECRET, value));
  rpc_identity id;
  assert_true(identity_verify(a, SECRET, value, sig, NOW, &id));
  assert_string_equal(id.user_id, USER);
  assert_int_equal(id.n_roles, 2);
  assert_string_equal(id.roles[0], "passenger");
  assert_string_equal(id.roles[1], "staff");
}

static void test_no_roles_round_trips(void **state) {
  arena *a = *state;
  const char *value, *sig;
  assert_true(identity_sign(a, SECRET, USER, NULL, 0, NOW + 60, &value, &sig));
  assert_string_equal(value, USER ";;1767225660");
  rpc_identity id;
  assert_true(identity_verify(a, SECRET, value, sig, NOW, &id));
  assert_int_equal(id.n_roles, 0);
}

static void test_output_is_copied_into_the_arena(void **state) {
  arena *a = *state;
  char value[128];
  snprintf(value, sizeof value, "%s;admin;%d", USER, NOW + 60);
  const char *sig = sign_raw(a, SECRET, value);
  rpc_identity id;
  assert_true(identity_verify(a, SECRET, value, sig, NOW, &id));
  memset(value, 'x', strlen(value)); /* the caller's buffer may die */
  assert_string_equal(id.user_id, USER);
  assert_string_equal(id.roles[0], "admin");
}

static void test_rejects_expired(void **state) {
  arena *a = *state;
  const char *value, *sig;
  assert_true(identity_sign(a, SECRET, USER, NULL, 0, NOW, &value, &sig));
  rpc_identity id;
  assert_false(identity_verify(a, SECRET, value, sig, NOW, &id));
  assert_null(id.user_id); /* left anonymous */
  assert_false(identity_verify(a, SECRET, value, sig, NOW + 1, &id));
  assert_true(identity_verify(a, SECRET, value, sig, NOW - 1, &id));
}

static void test_rejects_a_wrong_signature(void **state) {
  arena *a = *state;
  const char *value, *sig;
  assert_true(identity_sign(a, SECRET, USER, NULL, 0, NOW + 60, &value, &sig));
  rpc_identity id;
  char bad[64];
  strcpy(bad, sig);
  bad[5] = bad[5] == 'A' ? 'B' : 'A';
  assert_false(identity_verify(a, SECRET, value, bad, NOW, &id));
  assert_false(identity_verify(a, "another-secret", value, sig, NOW, &id));
  assert_false(identity_verify(a, SECRET, value, "", NOW, &id));
  snprintf(bad, sizeof bad, "%s=", sig); /* padded */
  assert_false(identity_verify(a, SECRET, value, bad, NOW, &id));
  snprintf(bad, sizeof bad, "%.42s", sig); /* truncated */
  assert_false(identity_verify(a, SECRET, value, bad, NOW, &id));
  assert_false(identity_verify(a, SECRET, value, NULL, NOW, &id));
  assert_false(identity_verify(a, "", value, sig, NOW, &id));
}

static void test_rejects_a_tampered_value(void **state) {
  arena *a = *state;
  const char *roles[] = {"passenger"};
  const char *value, *sig;
  assert_true(identity_sign(a, SECRET, USER, roles, 1, NOW + 60, &value, &sig));
  char *forged = arena_printf(a, "%s;admin;%d", USER, NOW + 60);
  rpc_identity id;
  assert_false(identity_verify(a, SECRET, forged, sig, NOW, &id));
}

static void test_rejects_malformed_values_even_when_signed(void **state) {
  arena *a = *state;
  const char *bad[] = {
      "",
      USER,                                      /* one field */
      USER ";passenger",                         /* two fields */
      USER ";passenger;1767225660;extra",        /* four fields */
      ";passenger;1767225660",                   /* empty user id */
      USER ";passenger;",                        /* empty expiry */
      USER ";passenger;17672256x0",              /* non-numeric expiry */
      USER ";passenger;-1767225660",             /* signed expiry */
      USER ";passenger; 1767225660",
      USER ";passenger;1767225660000000000000",  /* too many digits */
      USER ";passenger,;1767225660",             /* empty role */
      USER ";,passenger;1767225660",
      USER ";a,b,c,d,e,f,g,h,i;1767225660",      /* 9 roles > RPC_MAX_ROLES */
      "user id;passenger;1767225660",            /* space in the user id */
      USER ";pass\tenger;1767225660",            /* control character */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rpc_identity id;
    if (verify_raw(a, bad[i], &id)) fail_msg("accepted malformed value %zu: %s", i, bad[i]);
    assert_null(id.user_id);
  }
  rpc_identity id;
  assert_true(verify_raw(a, USER ";a,b,c,d,e,f,g,h;1767225660", &id)); /* 8 roles is the limit */
  assert_int_equal(id.n_roles, 8);
}

static void test_rejects_an_overlong_value(void **state) {
  arena *a = *state;
  char value[1200];
  const size_t tail = strlen(";r;1767225660");
  memset(value, 'u', sizeof value);
  snprintf(value + 1024 - tail, sizeof value - 1024, ";r;%d", NOW + 60);
  rpc_identity id;
  assert_int_equal(strlen(value), 1024);
  assert_true(verify_raw(a, value, &id)); /* exactly 1 KiB is the limit */
  memset(value, 'u', sizeof value);
  snprintf(value + 1025 - tail, sizeof value - 1025, ";r;%d", NOW + 60);
  assert_int_equal(strlen(value), 1025);
  assert_false(verify_raw(a, value, &id));
  const char *v, *s;
  char uid[1100];
  memset(uid, 'u', 1050);
  uid[1050] = '\0';
  assert_false(identity_sign(a, SECRET, uid, NULL, 0, NOW + 60, &v, &s));
}

static void test_sign_refuses_what_the_format_cannot_carry(void **state) {
  arena *a = *state;
  const char *v, *s;
  const char *comma[] = {"a,b"};
  const char *semi[] = {"a;b"};
  const char *empty[] = {""};
  const char *nine[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  assert_false(identity_sign(a, SECRET, "", NULL, 0, NOW, &v, &s));
  assert_null(v);
  assert_null(s);
  assert_false(identity_sign(a, SECRET, "u;1", NULL, 0, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, "u,1", NULL, 0, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, USER, comma, 1, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, USER, semi, 1, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, USER, empty, 1, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, USER, nine, 9, NOW, &v, &s));
  assert_false(identity_sign(a, "", USER, NULL, 0, NOW, &v, &s));
  assert_false(identity_sign(a, SECRET, USER, NULL, 0, -1, &v, &s));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_sign_then_verify_returns_the_caller),
      T(test_no_roles_round_trips),
      T(test_output_is_copied_into_the_arena),
      T(test_rejects_expired),
      T(test_rejects_a_wrong_signature),
      T(test_rejects_a_tampered_value),
      T(test_rejects_malformed_values_even_when_signed),
      T(test_rejects_an_overlong_value),
      T(test_sign_refuses_what_the_format_cannot_carry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
