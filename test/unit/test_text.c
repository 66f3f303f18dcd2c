/* Unit tests of common/text's UTF-8 decoder and the code point count built on it: every sequence
 * length at its boundaries, and the refusals (stray continuation, overlong, surrogate, beyond
 * U+10FFFF, cut short). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/text.h"

typedef struct decoded {
  const char *bytes;
  size_t len;
  unsigned cp;
} decoded;

/* Decodes s, checks the length and code point, and that a NULL cp is accepted. */
static void assert_decodes(const char *s, size_t len, unsigned cp) {
  unsigned got = 0xdeadbeef;
  assert_int_equal(text_utf8_decode(s, &got), len);
  assert_int_equal(got, cp);
  assert_int_equal(text_utf8_decode(s, NULL), len);
}

static void assert_refused(const char *s) {
  unsigned got = 0;
  assert_int_equal(text_utf8_decode(s, &got), 0);
  assert_int_equal(text_utf8_decode(s, NULL), 0);
}

static void test_ascii_is_one_byte(void **state) {
  (void)state;
  assert_decodes("A", 1, 'A');
  assert_decodes("\x01", 1, 0x01);
  assert_decodes("\x7f", 1, 0x7f);
  assert_decodes("ab", 1, 'a'); /* only the sequence at p */
  assert_decodes("", 1, 0);     /* the NUL is U+0000: loops stop on *p */
}

static void test_multibyte_sequences_at_their_boundaries(void **state) {
  (void)state;
  static const decoded OK[] = {
      {"\xc2\x80", 2, 0x80},
      {"\xc3\xa9", 2, 0xe9}, /* é */
      {"\xdf\xbf", 2, 0x7ff},
      {"\xe0\xa0\x80", 3, 0x800},
      {"\xe2\x82\xac", 3, 0x20ac}, /* € */
      {"\xed\x9f\xbf", 3, 0xd7ff}, /* just below the surrogates */
      {"\xee\x80\x80", 3, 0xe000}, /* just above them */
      {"\xef\xbf\xbf", 3, 0xffff},
      {"\xf0\x90\x80\x80", 4, 0x10000},
      {"\xf0\x9f\x98\x80", 4, 0x1f600}, /* 😀 */
      {"\xf4\x8f\xbf\xbf", 4, 0x10ffff},
  };
  for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++) assert_decodes(OK[i].bytes, OK[i].len, OK[i].cp);
  assert_decodes("\xc3\xa9x", 2, 0xe9); /* what follows is not read into it */
}

static void test_refuses_stray_continuation_and_impossible_leads(void **state) {
  (void)state;
  assert_refused("\x80");
  assert_refused("\xbf");
  assert_refused("\x80\x80");
  assert_refused("\xf8\x88\x80\x80\x80"); /* the old 5-byte form */
  assert_refused("\xfc\x84\x80\x80\x80\x80");
  assert_refused("\xfe");
  assert_refused("\xff");
}

static void test_refuses_overlong_forms(void **state) {
  (void)state;
  assert_refused("\xc0\x80"); /* NUL */
  assert_refused("\xc0\xaf"); /* '/' */
  assert_refused("\xc1\xbf"); /* U+007F */
  assert_refused("\xe0\x80\x80");
  assert_refused("\xe0\x9f\xbf"); /* U+07FF */
  assert_refused("\xf0\x80\x80\x80");
  assert_refused("\xf0\x8f\xbf\xbf"); /* U+FFFF */
}

static void test_refuses_surrogates(void **state) {
  (void)state;
  assert_refused("\xed\xa0\x80"); /* U+D800 */
  assert_refused("\xed\xad\xbf"); /* U+DB7F */
  assert_refused("\xed\xb0\x80"); /* U+DC00 */
  assert_refused("\xed\xbf\xbf"); /* U+DFFF */
  assert_refused("\xed\xa0\xbd\xed\xb8\x80"); /* CESU-8 for U+1F600 */
}

static void test_refuses_code_points_beyond_u10ffff(void **state) {
  (void)state;
  assert_refused("\xf4\x90\x80\x80"); /* U+110000 */
  assert_refused("\xf5\x80\x80\x80");
  assert_refused("\xf7\xbf\xbf\xbf"); /* U+1FFFFF */
}

static void test_refuses_sequences_cut_short(void **state) {
  (void)state;
  assert_refused("\xc3");         /* by the NUL */
  assert_refused("\xe2\x82");     /* by the NUL */
  assert_refused("\xf0\x9f\x98"); /* by the NUL */
  assert_refused("\xc3" "A");     /* by an ASCII byte */
  assert_refused("\xe2\x82" "A");
  assert_refused("\xf0\x9f\xc3\xa9"); /* by the next lead byte */
}

static void test_length_counts_code_points_or_refuses(void **state) {
  (void)state;
  assert_int_equal(text_utf8_length(""), 0);
  assert_int_equal(text_utf8_length("metro"), 5);
  assert_int_equal(text_utf8_length("Bến Thành"), 9);
  assert_int_equal(text_utf8_length("\xf0\x9f\x98\x80\xe2\x82\xac\xc3\xa9" "a"), 4);
  assert_int_equal(text_utf8_length("ok\x80"), -1);
  assert_int_equal(text_utf8_length("ok\xc0\xaf"), -1);
  assert_int_equal(text_utf8_length("\xed\xa0\x80"), -1);
  assert_int_equal(text_utf8_length("\xf4\x90\x80\x80"), -1);
  assert_int_equal(text_utf8_length("cut \xe2\x82"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ascii_is_one_byte),
      cmocka_unit_test(test_multibyte_sequences_at_their_boundaries),
      cmocka_unit_test(test_refuses_stray_continuation_and_impossible_leads),
      cmocka_unit_test(test_refuses_overlong_forms),
      cmocka_unit_test(test_refuses_surrogates),
      cmocka_unit_test(test_refuses_code_points_beyond_u10ffff),
      cmocka_unit_test(test_refuses_sequences_cut_short),
      cmocka_unit_test(test_length_counts_code_points_or_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
