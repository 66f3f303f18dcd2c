/* Unit tests of common/b64: RFC 4648 vectors in all four variants, round trips, and the
 * strict decoder's refusals (alphabet, padding, non-canonical tails, bounded output). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/b64.h"

typedef struct vector {
  const char *raw, *std, *std_nopad;
} vector;

/* RFC 4648 §10. */
static const vector RFC_VECTORS[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void assert_decodes(b64_variant v, const char *in, const void *want, size_t want_len) {
  uint8_t out[256];
  size_t len = 999;
  assert_true(b64_decode(v, in, strlen(in), out, sizeof out, &len));
  assert_int_equal(len, want_len);
  assert_memory_equal(out, want, want_len);
}

static bool decodes(b64_variant v, const char *in) {
  uint8_t out[256];
  size_t len;
  return b64_decode(v, in, strlen(in), out, sizeof out, &len);
}

static void test_rfc4648_vectors_encode_and_decode(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof RFC_VECTORS / sizeof RFC_VECTORS[0]; i++) {
    const vector *t = &RFC_VECTORS[i];
    char out[64];
    assert_true(b64_encode(B64_STD, t->raw, strlen(t->raw), out, sizeof out));
    assert_string_equal(out, t->std);
    assert_int_equal(b64_encoded_len(B64_STD, strlen(t->raw)), strlen(t->std));
    assert_true(b64_encode(B64_STD_NOPAD, t->raw, strlen(t->raw), out, sizeof out));
    assert_string_equal(out, t->std_nopad);
    assert_int_equal(b64_encoded_len(B64_URL_NOPAD, strlen(t->raw)), strlen(t->std_nopad));
    assert_decodes(B64_STD, t->std, t->raw, strlen(t->raw));
    assert_decodes(B64_STD_NOPAD, t->std_nopad, t->raw, strlen(t->raw));
    assert_decodes(B64_URL, t->std, t->raw, strlen(t->raw));
    assert_decodes(B64_URL_NOPAD, t->std_nopad, t->raw, strlen(t->raw));
  }
}

static void test_url_alphabet_uses_dash_and_underscore(void **state) {
  (void)state;
  const uint8_t raw[] = {0xfb, 0xff, 0xbf};
  char out[16];
  assert_true(b64_encode(B64_STD, raw, 3, out, sizeof out));
  assert_string_equal(out, "+/+/");
  assert_true(b64_encode(B64_URL, raw, 3, out, sizeof out));
  assert_string_equal(out, "-_-_");
  assert_decodes(B64_URL_NOPAD, "-_-_", raw, 3);
  assert_decodes(B64_STD_NOPAD, "+/+/", raw, 3);
  assert_false(decodes(B64_URL_NOPAD, "+/+/"));
  assert_false(decodes(B64_STD_NOPAD, "-_-_"));
}

static void test_all_byte_values_round_trip_in_every_variant(void **state) {
  (void)state;
  uint8_t raw[256];
  for (int i = 0; i < 256; i++) raw[i] = (uint8_t)i;
  const b64_variant variants[] = {B64_STD, B64_STD_NOPAD, B64_URL, B64_URL_NOPAD};
  for (size_t v = 0; v < 4; v++) {
    for (size_t n = 0; n <= 256; n += 1 + n / 7) {
      char enc[400];
      uint8_t dec[256];
      size_t len;
      assert_true(b64_encode(variants[v], raw, n, enc, sizeof enc));
      assert_int_equal(strlen(enc), b64_encoded_len(variants[v], n));
      assert_true(b64_decode(variants[v], enc, strlen(enc), dec, sizeof dec, &len));
      assert_int_equal(len, n);
      assert_memory_equal(dec, raw, n);
      assert_true(b64_decoded_max(strlen(enc)) >= n);
    }
  }
}

static void test_alloc_encoding_matches_buffer_encoding(void **state) {
  (void)state;
  char *s = b64_encode_alloc(B64_URL_NOPAD, "fooba", 5);
  assert_non_null(s);
  assert_string_equal(s, "Zm9vYmE");
  free(s);
}

static void test_rejects_characters_outside_the_alphabet(void **state) {
  (void)state;
  assert_false(decodes(B64_STD, "Zm9v\n"));
  assert_false(decodes(B64_STD, "Zm 9v"));
  assert_false(decodes(B64_STD, "Zm9*"));
  assert_false(decodes(B64_URL_NOPAD, "Zm9v."));
  uint8_t out[8];
  size_t len;
  assert_false(b64_decode(B64_STD, "Zm\0v", 4, out, sizeof out, &len));
}

static void test_rejects_bad_padding(void **state) {
  (void)state;
  assert_false(decodes(B64_STD, "Zg"));       /* padding missing */
  assert_false(decodes(B64_STD, "Zg="));      /* short padding */
  assert_false(decodes(B64_STD, "Zg==="));    /* too much */
  assert_false(decodes(B64_STD, "Z==="));     /* three pads */
  assert_false(decodes(B64_STD, "===="));
  assert_false(decodes(B64_STD, "Zg==Zm9v")); /* padding in the middle */
  assert_false(decodes(B64_STD, "Z=g="));
  assert_false(decodes(B64_URL_NOPAD, "Zg=="));  /* padding where none is allowed */
  assert_false(decodes(B64_STD_NOPAD, "Zm8="));
}

static void test_rejects_impossible_lengths(void **state) {
  (void)state;
  assert_false(decodes(B64_URL_NOPAD, "Z"));
  assert_false(decodes(B64_URL_NOPAD, "Zm9vY"));
}

static void test_rejects_non_canonical_trailing_bits(void **state) {
  (void)state;
  assert_true(decodes(B64_STD, "Zg=="));
  assert_false(decodes(B64_STD, "Zh=="));  /* same byte, stray low bits */
  assert_false(decodes(B64_URL_NOPAD, "Zm9"));
  assert_true(decodes(B64_URL_NOPAD, "Zm8"));
}

static void test_decoding_is_bounded_by_the_output_capacity(void **state) {
  (void)state;
  uint8_t out[6];
  size_t len;
  assert_true(b64_decode(B64_STD, "Zm9vYmFy", 8, out, 6, &len));
  assert_false(b64_decode(B64_STD, "Zm9vYmFy", 8, out, 5, &len));
}

static void test_encoding_is_bounded_by_the_output_capacity(void **state) {
  (void)state;
  char out[16];
  assert_true(b64_encode(B64_STD, "foobar", 6, out, 9)); /* 8 characters and the NUL */
  assert_false(b64_encode(B64_STD, "foobar", 6, out, 8));
  assert_string_equal(out, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc4648_vectors_encode_and_decode),
      cmocka_unit_test(test_url_alphabet_uses_dash_and_underscore),
      cmocka_unit_test(test_all_byte_values_round_trip_in_every_variant),
      cmocka_unit_test(test_alloc_encoding_matches_buffer_encoding),
      cmocka_unit_test(test_rejects_characters_outside_the_alphabet),
      cmocka_unit_test(test_rejects_bad_padding),
      cmocka_unit_test(test_rejects_impossible_lengths),
      cmocka_unit_test(test_rejects_non_canonical_trailing_bits),
      cmocka_unit_test(test_decoding_is_bounded_by_the_output_capacity),
      cmocka_unit_test(test_encoding_is_bounded_by_the_output_capacity),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
