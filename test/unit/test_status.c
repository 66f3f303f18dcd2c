/* Unit tests of common/status.c: gRPC code to HTTP status (with the domain's reason
 * overrides), code names, and the google.rpc.Status details round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/status.h"

static void test_every_code_maps_to_its_standard_http_status(void **state) {
  (void)state;
  static const struct {
    grpc_status_code code;
    int http;
  } table[] = {
      {GRPC_STATUS_OK, 200},
      {GRPC_STATUS_CANCELLED, 499},
      {GRPC_STATUS_UNKNOWN, 500},
      {GRPC_STATUS_INVALID_ARGUMENT, 400},
      {GRPC_STATUS_DEADLINE_EXCEEDED, 504},
      {GRPC_STATUS_NOT_FOUND, 404},
      {GRPC_STATUS_ALREADY_EXISTS, 409},
      {GRPC_STATUS_PERMISSION_DENIED, 403},
      {GRPC_STATUS_RESOURCE_EXHAUSTED, 429},
      {GRPC_STATUS_FAILED_PRECONDITION, 400},
      {GRPC_STATUS_ABORTED, 409},
      {GRPC_STATUS_OUT_OF_RANGE, 400},
      {GRPC_STATUS_UNIMPLEMENTED, 501},
      {GRPC_STATUS_INTERNAL, 500},
      {GRPC_STATUS_UNAVAILABLE, 503},
      {GRPC_STATUS_DATA_LOSS, 500},
      {GRPC_STATUS_UNAUTHENTICATED, 401},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    assert_int_equal(rpc_http_status(table[i].code, NULL), table[i].http);
}

static void test_domain_reasons_override_the_code_mapping(void **state) {
  (void)state;
  assert_int_equal(rpc_http_status(GRPC_STATUS_PERMISSION_DENIED, "ACCOUNT_LOCKED"), 423);
  assert_int_equal(rpc_http_status(GRPC_STATUS_FAILED_PRECONDITION, "NO_ROUTE"), 422);
  assert_int_equal(rpc_http_status(GRPC_STATUS_RESOURCE_EXHAUSTED, "PAYLOAD_TOO_LARGE"), 413);
  assert_int_equal(rpc_http_status(GRPC_STATUS_INVALID_ARGUMENT, "TOO_MANY_QUERY_PARAMETERS"), 414);
  assert_int_equal(rpc_http_status(GRPC_STATUS_PERMISSION_DENIED, "ROLE_NOT_ALLOWED"), 403);
}

static void test_unknown_codes_are_500_and_named_unknown(void **state) {
  (void)state;
  assert_int_equal(rpc_http_status((grpc_status_code)99, NULL), 500);
  assert_int_equal(rpc_http_status((grpc_status_code)-1, NULL), 500);
  assert_string_equal(rpc_code_name((grpc_status_code)99), "UNKNOWN");
  assert_string_equal(rpc_code_name(GRPC_STATUS_NOT_FOUND), "NOT_FOUND");
}

static void test_details_round_trip_reason_field_and_retry_after(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  rpc_status in = rpc_invalid(a, "email", "EMAIL_TAKEN", "taken: %s", "x@y.vn");
  in.retry_after = 42;
  size_t len;
  uint8_t *bytes = rpc_status_to_details(a, in, &len);
  rpc_status out;
  memset(&out, 0, sizeof out);
  assert_true(rpc_status_from_details(a, bytes, len, &out));
  assert_int_equal(out.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(out.message, "taken: x@y.vn");
  assert_string_equal(out.reason, "EMAIL_TAKEN");
  assert_string_equal(out.field, "email");
  assert_int_equal(out.retry_after, 42);
  arena_destroy(a);
}

static void test_malformed_details_are_rejected(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
  rpc_status out;
  assert_false(rpc_status_from_details(a, garbage, sizeof garbage, &out));
  arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_code_maps_to_its_standard_http_status),
      cmocka_unit_test(test_domain_reasons_override_the_code_mapping),
      cmocka_unit_test(test_unknown_codes_are_500_and_named_unknown),
      cmocka_unit_test(test_details_round_trip_reason_field_and_retry_after),
      cmocka_unit_test(test_malformed_details_are_rejected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
