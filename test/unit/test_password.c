/* Unit tests of common/password: scrypt hash strings (round trip, wrong password, tampering,
 * cost bounds, rehash) and the §1.1 policy table, counted in UTF-8 characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/password.h"

/* Tests use the smallest accepted cost: N = 2^10, r = 1, p = 1. */
#define LN 10
#define R 1
#define P 1

static void test_hash_then_verify_accepts_the_password(void **state) {
  (void)state;
  char stored[PASSWORD_HASH_MAX];
  assert_true(password_hash("Correct-Horse-9", LN, R, P, stored, sizeof stored));
  assert_true(strncmp(stored, "$scrypt$ln=10,r=1,p=1$", 22) == 0);
  assert_true(password_verify("Correct-Horse-9", stored));
}

static void test_verify_rejects_a_wrong_password(void **state) {
  (void)state;
  char stored[PASSWORD_HASH_MAX];
  assert_true(password_hash("Correct-Horse-9", LN, R, P, stored, sizeof stored));
  assert_false(password_verify("correct-Horse-9", stored));
  assert_false(password_verify("", stored));
}

static void test_production_default_cost_hashes_and_verifies(void **state) {
  (void)state;
  char stored[PASSWORD_HASH_MAX];
  assert_true(password_hash("Correct-Horse-9", PASSWORD_DEFAULT_LN, PASSWORD_DEFAULT_R,
                            PASSWORD_DEFAULT_P, stored, sizeof stored));
  assert_true(strncmp(stored, "$scrypt$ln=15,r=8,p=1$", 22) == 0);
  assert_true(password_verify("Correct-Horse-9", stored));
  assert_false(password_needs_rehash(stored, PASSWORD_DEFAULT_LN, PASSWORD_DEFAULT_R,
                                     PASSWORD_DEFAULT_P));
}

static void test_same_password_gets_a_fresh_salt(void **state) {
  (void)state;
  char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
  assert_true(password_hash("same password", LN, R, P, a, sizeof a));
  assert_true(password_hash("same password", LN, R, P, b, sizeof b));
  assert_string_not_equal(a, b);
  assert_true(password_verify("same password", a));
  assert_true(password_verify("same password", b));
}

static void test_verify_matches_a_known_scrypt_vector(void **state) {
  (void)state;
  /* scrypt("Mat khau 2024!", "metro-salt-16byt", N=1024, r=8, p=2, 32 bytes), computed
   * independently; pins the string format and the ln -> N mapping. */
  const char *stored = "$scrypt$ln=10,r=8,p=2$bWV0cm8tc2FsdC0xNmJ5dA$"
                       "dWvOVwn/0c9nv7Ts29CjcQXZAbWxRUrE8XfkRxtnEJ8";
  assert_true(password_verify("Mat khau 2024!", stored));
  assert_false(password_verify("Mat khau 2024?", stored));
  assert_false(password_needs_rehash(stored, 10, 8, 2));
}

static void test_verify_rejects_tampered_strings(void **state) {
  (void)state;
  char stored[PASSWORD_HASH_MAX];
  assert_true(password_hash("Correct-Horse-9", LN, R, P, stored, sizeof stored));
  char t[PASSWORD_HASH_MAX];
  /* A changed hash character. */
  strcpy(t, stored);
  size_t last = strlen(t) - 2;
  t[last] = t[last] == 'A' ? 'B' : 'A';
  assert_false(password_verify("Correct-Horse-9", t));
  /* A changed salt character. */
  strcpy(t, stored);
  char *salt = strrchr(t, '$') - 3;
  *salt = *salt == 'A' ? 'B' : 'A';
  assert_false(password_verify("Correct-Horse-9", t));
  /* A changed cost. */
  strcpy(t, stored);
  t[strlen("$scrypt$ln=1")] = '1';
  assert_false(password_verify("Correct-Horse-9", t));
  /* Truncated. */
  strcpy(t, stored);
  t[strlen(t) - 10] = '\0';
  assert_false(password_verify("Correct-Horse-9", t));
}

static void test_verify_rejects_malformed_strings(void **state) {
  (void)state;
  const char *bad[] = {
      NULL,
      "",
      "plaintext",
      "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
      "$scrypt$ln=10,r=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$scrypt$ln=10,r=1,p=1$c2FsdHNhbHRzYWx0",
      "$scrypt$ln=10,r=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA$extra",
      "$scrypt$ln=10,r=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==",
      "$scrypt$ln=10,r=1,p=1$c2Fs*HNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$scrypt$ln=010,r=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$scrypt$ln=-10,r=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$scrypt$ln=10,r=1,p=1$$aGFzaGhhc2hoYXNoaGFzaA",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(password_verify("whatever", bad[i]));
}

static void test_verify_rejects_absurd_parameters(void **state) {
  (void)state;
  const char *params[] = {"ln=9,r=1,p=1", "ln=21,r=1,p=1", "ln=99,r=1,p=1", "ln=10,r=0,p=1",
                          "ln=10,r=33,p=1", "ln=10,r=1,p=0", "ln=10,r=1,p=17",
                          "ln=20,r=32,p=1" /* 4 GiB */};
  for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
    char s[PASSWORD_HASH_MAX];
    snprintf(s, sizeof s, "$scrypt$%s$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", params[i]);
    assert_false(password_verify("whatever", s));
    assert_true(password_needs_rehash(s, LN, R, P));
  }
}

static void test_hash_refuses_out_of_bounds_cost(void **state) {
  (void)state;
  char out[PASSWORD_HASH_MAX];
  assert_false(password_hash("x", 9, 1, 1, out, sizeof out));
  assert_false(password_hash("x", 21, 1, 1, out, sizeof out));
  assert_false(password_hash("x", 10, 0, 1, out, sizeof out));
  assert_false(password_hash("x", 10, 1, 17, out, sizeof out));
  assert_false(password_hash("x", LN, R, P, out, PASSWORD_HASH_MAX - 1));
}

static void test_overlong_passwords_are_refused_before_hashing(void **state) {
  (void)state;
  char pw[PASSWORD_MAX_BYTES + 2];
  memset(pw, 'a', sizeof pw - 1);
  pw[sizeof pw - 1] = '\0'; /* 1025 bytes */
  char out[PASSWORD_HASH_MAX];
  assert_false(password_hash(pw, LN, R, P, out, sizeof out));
  pw[PASSWORD_MAX_BYTES] = '\0'; /* exactly 1024 bytes is still accepted */
  assert_true(password_hash(pw, LN, R, P, out, sizeof out));
  assert_true(password_verify(pw, out));
  pw[PASSWORD_MAX_BYTES] = 'a';
  assert_false(password_verify(pw, out));
  assert_false(password_policy_ok(pw));
}

static void test_needs_rehash_when_the_cost_changes(void **state) {
  (void)state;
  char stored[PASSWORD_HASH_MAX];
  assert_true(password_hash("Correct-Horse-9", LN, R, P, stored, sizeof stored));
  assert_false(password_needs_rehash(stored, LN, R, P));
  assert_true(password_needs_rehash(stored, LN + 1, R, P));
  assert_true(password_needs_rehash(stored, LN, R + 1, P));
  assert_true(password_needs_rehash(stored, LN, R, P + 1));
  assert_true(password_needs_rehash("garbage", LN, R, P));
}

typedef struct policy_case {
  const char *password;
  bool ok;
  const char *why;
} policy_case;

static const policy_case POLICY[] = {
    {"Abcdef1!", true, "8 chars, 4 classes"},
    {"Abcdefg1", true, "8 chars, lower+upper+digit"},
    {"abcdef1!", true, "8 chars, lower+digit+symbol"},
    {"ABCDEF1!", true, "8 chars, upper+digit+symbol"},
    {"Abcdef1", false, "7 chars, 3 classes: too short"},
    {"abcdefgh", false, "8 chars, 1 class"},
    {"abcdefg1", false, "8 chars, 2 classes"},
    {"abcdefghij1", false, "11 chars, 2 classes"},
    {"abcdefghijkl", true, "12 chars, passphrase with 1 class"},
    {"correct horse battery staple", true, "passphrase"},
    {"aaaaaaaaaaa", false, "11 chars, 1 class"},
    {"", false, "empty"},
    {"Abc1!", false, "5 chars"},
    {"Mật khẩu1", true, "9 characters (11 bytes), lower+upper+digit+symbol"},
    {"mậtkhẩuu", false, "8 characters, lower+symbol(non-ASCII) only"},
    {"mậtkhẩu1", true, "8 characters: lower, digit, non-ASCII counts as symbol"},
    {"ẩẩẩẩẩẩẩẩẩẩẩ", false, "11 characters (33 bytes), 1 class: bytes do not count"},
    {"ẩẩẩẩẩẩẩẩẩẩẩẩ", true, "12 characters, passphrase"},
    {"Ab1!\tabcd", false, "control character"},
    {"Abcdef1\xff", false, "invalid UTF-8"},
    {"Abcdef1\xc3", false, "truncated UTF-8"},
    {"Abcdef1\xc0\xaf", false, "overlong UTF-8"},
    {"Abcdef1\xed\xa0\x80", false, "UTF-16 surrogate"},
};

static void test_policy_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof POLICY / sizeof POLICY[0]; i++) {
    if (password_policy_ok(POLICY[i].password) != POLICY[i].ok)
      fail_msg("policy case %zu (%s): expected %s", i, POLICY[i].why,
               POLICY[i].ok ? "accepted" : "refused");
  }
}

/* A string of n copies of the UTF-8 character c. */
static void repeat(char *out, const char *c, int n) {
  out[0] = '\0';
  for (int i = 0; i < n; i++) strcat(out, c);
}

static void test_policy_length_edges_count_characters(void **state) {
  (void)state;
  char pw[1024];
  /* 3 classes throughout: "Aa1" prefix plus filler. */
  strcpy(pw, "Aa1");
  repeat(pw + 3, "b", 4);
  assert_false(password_policy_ok(pw)); /* 7 */
  repeat(pw + 3, "b", 5);
  assert_true(password_policy_ok(pw)); /* 8 */
  repeat(pw + 3, "b", 125);
  assert_true(password_policy_ok(pw)); /* 128 */
  repeat(pw + 3, "b", 126);
  assert_false(password_policy_ok(pw)); /* 129 */
  /* 128 two-byte characters (256 bytes) are 128 characters. */
  repeat(pw, "é", 128);
  assert_true(password_policy_ok(pw));
  repeat(pw, "é", 129);
  assert_false(password_policy_ok(pw));
  assert_false(password_policy_ok(NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_then_verify_accepts_the_password),
      cmocka_unit_test(test_verify_rejects_a_wrong_password),
      cmocka_unit_test(test_production_default_cost_hashes_and_verifies),
      cmocka_unit_test(test_same_password_gets_a_fresh_salt),
      cmocka_unit_test(test_verify_matches_a_known_scrypt_vector),
      cmocka_unit_test(test_verify_rejects_tampered_strings),
      cmocka_unit_test(test_verify_rejects_malformed_strings),
      cmocka_unit_test(test_verify_rejects_absurd_parameters),
      cmocka_unit_test(test_hash_refuses_out_of_bounds_cost),
      cmocka_unit_test(test_overlong_passwords_are_refused_before_hashing),
      cmocka_unit_test(test_needs_rehash_when_the_cost_changes),
      cmocka_unit_test(test_policy_table),
      cmocka_unit_test(test_policy_length_edges_count_characters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
