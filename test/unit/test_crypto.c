/* Unit tests of common/crypto: SHA-256 and HMAC vectors (FIPS 180-2, RFC 4231), hex, random
 * tokens, constant-time comparison and UUID v4 generation and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/b64.h"
#include "common/crypto.h"

static void test_sha256_of_abc_matches_fips_180_2(void **state) {
  (void)state;
  char hex[65];
  crypto_sha256_hex("abc", 3, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  crypto_sha256_hex("", 0, hex);
  assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hmac_sha256_matches_rfc4231_case_1(void **state) {
  (void)state;
  uint8_t key[20], mac[32];
  memset(key, 0x0b, sizeof key);
  crypto_hmac_sha256(key, sizeof key, "Hi There", 8, mac);
  char hex[65];
  crypto_hex(mac, sizeof mac, hex);
  assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

static void test_hmac_sha256_matches_rfc4231_case_2(void **state) {
  (void)state;
  uint8_t mac[32];
  const char *msg = "what do ya want for nothing?";
  crypto_hmac_sha256("Jefe", 4, msg, strlen(msg), mac);
  char hex[65];
  crypto_hex(mac, sizeof mac, hex);
  assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_hmac_sha512_hex_matches_rfc4231_case_2(void **state) {
  (void)state;
  char hex[129];
  const char *msg = "what do ya want for nothing?";
  crypto_hmac_sha512_hex("Jefe", 4, msg, strlen(msg), hex);
  assert_string_equal(hex,
                      "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                      "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
}

static void test_hmac_accepts_an_empty_key(void **state) {
  (void)state;
  char hex[129];
  crypto_hmac_sha512_hex("", 0, "x", 1, hex);
  assert_int_equal(strlen(hex), 128);
}

static void test_hex_round_trips_and_rejects_bad_digits(void **state) {
  (void)state;
  const uint8_t raw[] = {0x00, 0x7f, 0x80, 0xff, 0xab};
  char hex[11];
  crypto_hex(raw, sizeof raw, hex);
  assert_string_equal(hex, "007f80ffab");
  uint8_t back[5];
  assert_true(crypto_hex_decode("007F80FFab", back, sizeof back));
  assert_memory_equal(back, raw, sizeof raw);
  assert_false(crypto_hex_decode("007f80ffag", back, sizeof back));
  assert_false(crypto_hex_decode("007f80ff", back, sizeof back));
  assert_false(crypto_hex_decode("007f80ffab00", back, sizeof back));
}

static void test_random_token_is_base64url_of_n_bytes_and_fresh(void **state) {
  (void)state;
  char a[64], b[64];
  assert_true(crypto_random_token(32, a, sizeof a));
  assert_true(crypto_random_token(32, b, sizeof b));
  assert_int_equal(strlen(a), 43);
  assert_string_not_equal(a, b);
  uint8_t raw[32];
  size_t len;
  assert_true(b64_decode(B64_URL_NOPAD, a, strlen(a), raw, sizeof raw, &len));
  assert_int_equal(len, 32);
}

static void test_random_token_refuses_a_small_buffer(void **state) {
  (void)state;
  char small[43];
  assert_false(crypto_random_token(32, small, sizeof small));
  assert_false(crypto_random_token(0, small, sizeof small));
}

static void test_random_bytes_fill_the_buffer(void **state) {
  (void)state;
  uint8_t a[64] = {0}, b[64] = {0};
  crypto_random_bytes(a, sizeof a);
  crypto_random_bytes(b, sizeof b);
  assert_memory_not_equal(a, b, sizeof a);
}

static void test_ct_equal_compares_bytes(void **state) {
  (void)state;
  assert_true(crypto_ct_equal("abcd", "abcd", 4));
  assert_false(crypto_ct_equal("abcd", "abce", 4));
  assert_false(crypto_ct_equal("xbcd", "abcd", 4));
  assert_true(crypto_ct_equal("a", "b", 0));
}

static void test_ct_streq_handles_different_lengths(void **state) {
  (void)state;
  assert_true(crypto_ct_streq("secret", "secret"));
  assert_true(crypto_ct_streq("", ""));
  assert_false(crypto_ct_streq("secret", "secret2"));
  assert_false(crypto_ct_streq("secret2", "secret"));
  assert_false(crypto_ct_streq("", "secret"));
  assert_false(crypto_ct_streq("secret", ""));
  assert_false(crypto_ct_streq("secreT", "secret"));
}

static void test_uuid_v4_is_canonical_and_unique(void **state) {
  (void)state;
  char a[37], b[37];
  for (int i = 0; i < 100; i++) {
    crypto_uuid_v4(a);
    assert_int_equal(strlen(a), 36);
    assert_true(crypto_uuid_valid(a));
    assert_int_equal(a[14], '4');
  }
  crypto_uuid_v4(b);
  assert_string_not_equal(a, b);
}

static void test_uuid_validation_accepts_canonical_v4(void **state) {
  (void)state;
  assert_true(crypto_uuid_valid("3f1c2a9e-7b4d-4e21-9a0c-5d6e7f8a9b0c"));
  assert_true(crypto_uuid_valid("00000000-0000-4000-8000-000000000000"));
  assert_true(crypto_uuid_valid("ffffffff-ffff-4fff-bfff-ffffffffffff"));
}

static void test_uuid_validation_rejects_everything_else(void **state) {
  (void)state;
  const char *bad[] = {
      NULL,
      "",
      "3f1c2a9e-7b4d-4e21-9a0c-5d6e7f8a9b0",     /* short */
      "3f1c2a9e-7b4d-4e21-9a0c-5d6e7f8a9b0c0",   /* long */
      "3F1C2A9E-7B4D-4E21-9A0C-5D6E7F8A9B0C",    /* uppercase is not canonical */
      "3f1c2a9e7b4d-4e21-9a0c-5d6e7f8a9b0c-",    /* hyphen misplaced */
      "3f1c2a9e-7b4d-1e21-9a0c-5d6e7f8a9b0c",    /* version 1 */
      "3f1c2a9e-7b4d-4e21-ca0c-5d6e7f8a9b0c",    /* wrong variant */
      "3f1c2a9g-7b4d-4e21-9a0c-5d6e7f8a9b0c",    /* not hex */
      "{3f1c2a9e-7b4d-4e21-9a0c-5d6e7f8a9b0c}",
      "3f1c2a9e 7b4d 4e21 9a0c 5d6e7f8a9b0c",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(crypto_uuid_valid(bad[i]));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_of_abc_matches_fips_180_2),
      cmocka_unit_test(test_hmac_sha256_matches_rfc4231_case_1),
      cmocka_unit_test(test_hmac_sha256_matches_rfc4231_case_2),
      cmocka_unit_test(test_hmac_sha512_hex_matches_rfc4231_case_2),
      cmocka_unit_test(test_hmac_accepts_an_empty_key),
      cmocka_unit_test(test_hex_round_trips_and_rejects_bad_digits),
      cmocka_unit_test(test_random_token_is_base64url_of_n_bytes_and_fresh),
      cmocka_unit_test(test_random_token_refuses_a_small_buffer),
      cmocka_unit_test(test_random_bytes_fill_the_buffer),
      cmocka_unit_test(test_ct_equal_compares_bytes),
      cmocka_unit_test(test_ct_streq_handles_different_lengths),
      cmocka_unit_test(test_uuid_v4_is_canonical_and_unique),
      cmocka_unit_test(test_uuid_validation_accepts_canonical_v4),
      cmocka_unit_test(test_uuid_validation_rejects_everything_else),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
