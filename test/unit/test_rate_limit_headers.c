/* Unit test of common/rate_limit_headers.c: a GCRA result becomes the IETF RateLimit-* fields
 * and Retry-After, seconds rounded up; nothing after a fail-open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/rate_limit.h"

static int setup(void **state) {
  *state = arena_create(1024);
  return 0;
}

static int teardown(void **state) {
  arena_destroy(*state);
  return 0;
}

/* The value of the header named name, or NULL; fails when it appears twice. */
static const char *header(const rate_limit_headers *h, const char *name) {
  const char *found = NULL;
  for (int i = 0; i < h->n; i++)
    if (strcmp(h->items[i].name, name) == 0) {
      if (found) fail_msg("%s twice", name);
      found = h->items[i].value;
    }
  return found;
}

static void test_allowed_has_the_three_fields_and_no_retry_after(void **state) {
  rate_limit_result r = {.allowed = true, .limit = 5, .remaining = 3, .reset_ms = 1200};
  rate_limit_headers h;
  rate_limit_headers_format(*state, &r, &h);
  assert_int_equal(h.n, 3);
  assert_string_equal(h.items[0].name, "RateLimit-Limit");
  assert_string_equal(header(&h, "RateLimit-Limit"), "5");
  assert_string_equal(header(&h, "RateLimit-Remaining"), "3");
  assert_string_equal(header(&h, "RateLimit-Reset"), "2"); /* 1.2 s rounds up */
  assert_null(header(&h, "Retry-After"));
}

static void test_refused_adds_retry_after_rounded_up(void **state) {
  rate_limit_result r = {.allowed = false, .limit = 60, .remaining = 0, .reset_ms = 60000, .retry_after_ms = 1001};
  rate_limit_headers h;
  rate_limit_headers_format(*state, &r, &h);
  assert_int_equal(h.n, 4);
  assert_string_equal(header(&h, "RateLimit-Limit"), "60");
  assert_string_equal(header(&h, "RateLimit-Remaining"), "0");
  assert_string_equal(header(&h, "RateLimit-Reset"), "60"); /* whole seconds stay as they are */
  assert_string_equal(header(&h, "Retry-After"), "2");
}

static void test_retry_after_is_at_least_one_second(void **state) {
  rate_limit_result r = {.allowed = false, .limit = 1000, .remaining = 0, .reset_ms = 1, .retry_after_ms = 1};
  rate_limit_headers h;
  rate_limit_headers_format(*state, &r, &h);
  assert_string_equal(header(&h, "Retry-After"), "1");
  assert_string_equal(header(&h, "RateLimit-Reset"), "1");
  r.retry_after_ms = 0; /* never "Retry-After: 0" on a refusal */
  rate_limit_headers_format(*state, &r, &h);
  assert_string_equal(header(&h, "Retry-After"), "1");
}

static void test_a_full_limiter_resets_in_zero_seconds(void **state) {
  rate_limit_result r = {.allowed = true, .limit = 10, .remaining = 10, .reset_ms = 0};
  rate_limit_headers h;
  rate_limit_headers_format(*state, &r, &h);
  assert_string_equal(header(&h, "RateLimit-Reset"), "0");
  assert_string_equal(header(&h, "RateLimit-Remaining"), "10");
  r.remaining = -3; /* never negative on the wire */
  rate_limit_headers_format(*state, &r, &h);
  assert_string_equal(header(&h, "RateLimit-Remaining"), "0");
}

static void test_large_values_are_written_whole(void **state) {
  rate_limit_result r = {.allowed = false, .limit = 1000000, .remaining = 0, .reset_ms = 86400000LL * 400,
                         .retry_after_ms = 86400000LL * 400 - 1};
  rate_limit_headers h;
  rate_limit_headers_format(*state, &r, &h);
  assert_string_equal(header(&h, "RateLimit-Limit"), "1000000");
  assert_string_equal(header(&h, "RateLimit-Reset"), "34560000");
  assert_string_equal(header(&h, "Retry-After"), "34560000");
}

static void test_nothing_after_a_fail_open(void **state) {
  rate_limit_result r = {.allowed = true, .failed_open = true, .limit = 5};
  rate_limit_headers h;
  h.n = 99;
  rate_limit_headers_format(*state, &r, &h);
  assert_int_equal(h.n, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_allowed_has_the_three_fields_and_no_retry_after),
      T(test_refused_adds_retry_after_rounded_up),
      T(test_retry_after_is_at_least_one_second),
      T(test_a_full_limiter_resets_in_zero_seconds),
      T(test_large_values_are_written_whole),
      T(test_nothing_after_a_fail_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
