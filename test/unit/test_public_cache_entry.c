/* The public cache's stored format: key layout, entry header round trip, what counts as
 * fresh (generations and age), and rejection of bytes the cache did not write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "svc/public/cache.h"

static void keys_name_kind_scope_and_args(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  assert_string_equal(pub_entry_key(a, PUB_KIND_STATIONS, "", "list"), "metro:public:v1:stations:-:list");
  assert_string_equal(pub_entry_key(a, PUB_KIND_TRIPS, "l1:2026-11-24", "both:0:-"),
                      "metro:public:v1:trips:l1:2026-11-24:both:0:-");
  assert_string_equal(pub_gen_key(a, PUB_KIND_JOURNEYS, NULL), "metro:public:v1:gen:journeys");
  assert_string_equal(pub_gen_key(a, PUB_KIND_DEPARTURES, "2026-11-24"), "metro:public:v1:gen:departures:2026-11-24");
  arena_destroy(a);
}

static void kind_names_round_trip_and_unknown_names_fail(void **state) {
  (void)state;
  for (int k = 0; k < PUB_N_KINDS; k++) {
    pub_kind back;
    assert_true(pub_kind_parse(pub_kind_name((pub_kind)k), &back));
    assert_int_equal(back, k);
  }
  pub_kind k;
  assert_false(pub_kind_parse("tickets", &k));
  assert_false(pub_kind_parse("", &k));
  assert_false(pub_kind_parse(NULL, &k));
}

static void entry_round_trips_binary_payload(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  const uint8_t payload[] = {0x0a, 0x00, 0xff, 0x10, 0x00};
  pub_entry e = {.kind_gen = 42, .scope_gen = (uint64_t)1 << 40, .filled_ms = 1764000000123, .payload = payload,
                 .payload_len = sizeof payload};
  size_t len;
  uint8_t *buf = pub_entry_encode(a, &e, &len);
  assert_int_equal(len, PUB_ENTRY_HEADER_LEN + sizeof payload);
  pub_entry back;
  assert_true(pub_entry_decode(buf, len, &back));
  assert_int_equal(back.kind_gen, 42);
  assert_true(back.scope_gen == (uint64_t)1 << 40);
  assert_true(back.filled_ms == 1764000000123);
  assert_int_equal(back.payload_len, sizeof payload);
  assert_memory_equal(back.payload, payload, sizeof payload);
  arena_destroy(a);
}

static void empty_payload_is_a_valid_entry(void **state) {
  (void)state;
  arena *a = arena_create(256);
  pub_entry e = {.kind_gen = 1, .filled_ms = 5};
  size_t len;
  uint8_t *buf = pub_entry_encode(a, &e, &len);
  pub_entry back;
  assert_true(pub_entry_decode(buf, len, &back));
  assert_int_equal(back.payload_len, 0);
  arena_destroy(a);
}

static void foreign_or_truncated_bytes_are_rejected(void **state) {
  (void)state;
  arena *a = arena_create(256);
  pub_entry e = {.kind_gen = 1, .filled_ms = 5};
  size_t len;
  uint8_t *buf = pub_entry_encode(a, &e, &len);
  pub_entry back;
  assert_false(pub_entry_decode(buf, len - 1, &back));
  assert_false(pub_entry_decode(NULL, 0, &back));
  buf[0] = 'X';
  assert_false(pub_entry_decode(buf, len, &back));
  arena_destroy(a);
}

static void entry_is_fresh_only_under_current_generations_within_ttl(void **state) {
  (void)state;
  pub_entry e = {.kind_gen = 3, .scope_gen = 7, .filled_ms = 1000000};
  assert_true(pub_entry_fresh(&e, 3, 7, 1000000 + 3599999, 3600));
  assert_false(pub_entry_fresh(&e, 3, 7, 1000000 + 3600000, 3600)); /* aged out */
  assert_false(pub_entry_fresh(&e, 4, 7, 1000001, 3600));           /* kind invalidated */
  assert_false(pub_entry_fresh(&e, 3, 8, 1000001, 3600));           /* scope invalidated */
  assert_false(pub_entry_fresh(&e, 3, 7, 999999, 3600));            /* filled "in the future" */
}

static void generations_parse_digits_only(void **state) {
  (void)state;
  uint64_t g;
  assert_true(pub_gen_parse(NULL, 0, &g));
  assert_int_equal(g, 0);
  assert_true(pub_gen_parse("1234", 4, &g));
  assert_int_equal(g, 1234);
  assert_false(pub_gen_parse("12a", 3, &g));
  assert_false(pub_gen_parse("", 0, &g));
  assert_false(pub_gen_parse("-1", 2, &g));
  assert_false(pub_gen_parse("12345678901234567890", 20, &g));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(keys_name_kind_scope_and_args),
      cmocka_unit_test(kind_names_round_trip_and_unknown_names_fail),
      cmocka_unit_test(entry_round_trips_binary_payload),
      cmocka_unit_test(empty_payload_is_a_valid_entry),
      cmocka_unit_test(foreign_or_truncated_bytes_are_rejected),
      cmocka_unit_test(entry_is_fresh_only_under_current_generations_within_ttl),
      cmocka_unit_test(generations_parse_digits_only),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
