/* Unit tests of transcoder/transcode: the request message built from body, path variables and
 * the raw query string for each google.api.http body rule, and every error it answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/descset.h"
#include "common/text.h"
#include "metro/testing/v1/testing.pb-c.h"
#include "transcoder/routes.h"
#include "transcoder/transcode.h"

extern const unsigned char metro_testing_descriptor_set[];
extern const size_t metro_testing_descriptor_set_len;

#define ECHO_DESC (&metro__testing__v1__echo_request__descriptor)

typedef struct fixture {
  descset *d;
  route_table *t;
  arena *a;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  const uint8_t *set = metro_testing_descriptor_set;
  size_t len = metro_testing_descriptor_set_len;
  char err[512] = "";
  f->d = descset_load(&set, &len, 1, err, sizeof err);
  assert_non_null(f->d);
  f->t = route_table_build(f->d, err, sizeof err);
  if (!f->t) fail_msg("route_table_build: %s", err);
  f->a = arena_create(0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  route_table_free(f->t);
  descset_free(f->d);
  arena_destroy(f->a);
  free(f);
  return 0;
}

/* Matches the route, transcodes with a limit of 8 query parameters. */
static Metro__Testing__V1__EchoRequest *run(fixture *f, const char *verb, const char *path, const char *body,
                                            const char *query, transcode_error *err) {
  static route_match m;
  if (route_table_match(f->t, f->a, verb, path, &m) != ROUTE_FOUND) fail_msg("%s %s: no route", verb, path);
  assert_string_equal(m.route->method->input_type, "metro.testing.v1.EchoRequest");
  return (Metro__Testing__V1__EchoRequest *)transcode_request(f->a, &m, ECHO_DESC, body, body ? strlen(body) : 0,
                                                              query, 8, err);
}

static Metro__Testing__V1__EchoRequest *run_ok(fixture *f, const char *verb, const char *path, const char *body,
                                               const char *query) {
  transcode_error err;
  Metro__Testing__V1__EchoRequest *req = run(f, verb, path, body, query, &err);
  if (!req) fail_msg("%s %s?%s: %s %s", verb, path, query ? query : "", err.reason, err.message);
  assert_int_equal(err.code, GRPC_STATUS_OK);
  assert_null(err.reason);
  /* what the gateway sends must pack */
  size_t len = protobuf_c_message_get_packed_size(&req->base);
  uint8_t *packed = arena_alloc(f->a, len + 1);
  assert_int_equal(protobuf_c_message_pack(&req->base, packed), len);
  return req;
}

static void expect_error(fixture *f, const char *verb, const char *path, const char *body, const char *query,
                         const char *reason, const char *field, const char *message_part) {
  transcode_error err;
  if (run(f, verb, path, body, query, &err)) fail_msg("%s %s?%s: built, expected %s", verb, path, query, reason);
  assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(err.reason, reason);
  if (field) assert_string_equal(err.field ? err.field : "(null)", field);
  else assert_null(err.field);
  if (!strstr(err.message, message_part)) fail_msg("message \"%s\" lacks \"%s\"", err.message, message_part);
}

/* ---- body rule: none ---- */

static void test_no_body_rule_takes_path_and_query(void **state) {
  fixture *f = *state;
  Metro__Testing__V1__EchoRequest *r =
      run_ok(f, "GET", "/v1/depots/ben-thanh", NULL, "pageSize=25&tags=a&tags=b&color=COLOR_RED&inner.weight=7");
  assert_string_equal(r->name, "depots/ben-thanh");
  assert_int_equal(r->page_size, 25);
  assert_int_equal(r->n_tags, 2);
  assert_string_equal(r->tags[0], "a");
  assert_string_equal(r->tags[1], "b");
  assert_int_equal(r->color, METRO__TESTING__V1__COLOR__COLOR_RED);
  assert_non_null(r->inner);
  assert_int_equal(r->inner->weight, 7);
}

static void test_no_body_rule_refuses_a_body(void **state) {
  expect_error(*state, "GET", "/v1/echo", "{\"name\":\"x\"}", NULL, "UNEXPECTED_BODY", NULL, "no request body");
  /* an empty body is no body */
  Metro__Testing__V1__EchoRequest *r = run_ok(*state, "GET", "/v1/echo", "", "");
  assert_string_equal(r->name, "");
}

/* ---- body rule: "*" ---- */

static void test_star_body_fills_the_message_and_ignores_the_query(void **state) {
  fixture *f = *state;
  Metro__Testing__V1__EchoRequest *r =
      run_ok(f, "POST", "/v1/depots/x:echo", "{\"pageSize\":3,\"tags\":[\"t\"],\"inner\":{\"label\":\"l\"}}",
             "pageSize=99&bogus=1&bad=%zz");
  assert_string_equal(r->name, "depots/x");
  assert_int_equal(r->page_size, 3);
  assert_int_equal(r->n_tags, 1);
  assert_string_equal(r->inner->label, "l");
  /* no body at all is an empty message plus the path */
  r = run_ok(f, "POST", "/v1/depots/y:echo", NULL, NULL);
  assert_string_equal(r->name, "depots/y");
  assert_int_equal(r->page_size, 0);
}

static void test_path_variable_wins_over_body_and_query(void **state) {
  fixture *f = *state;
  Metro__Testing__V1__EchoRequest *r = run_ok(f, "POST", "/v1/depots/x:echo", "{\"name\":\"depots/evil\"}", NULL);
  assert_string_equal(r->name, "depots/x");
  r = run_ok(f, "GET", "/v1/depots/x", NULL, "name=depots%2Fevil");
  assert_string_equal(r->name, "depots/x");
  r = run_ok(f, "PUT", "/v1/echo/mine", "{}", "inner.label=theirs&inner.weight=2");
  assert_string_equal(r->inner->label, "mine");
  assert_int_equal(r->inner->weight, 2);
}

static void test_star_body_must_be_an_object(void **state) {
  expect_error(*state, "POST", "/v1/depots/x:echo", "[1,2]", NULL, "INVALID_ARGUMENT", NULL,
               "must be a JSON object");
}

/* ---- body rule: a field ---- */

static void test_field_body_fills_that_field_then_query_and_path(void **state) {
  fixture *f = *state;
  Metro__Testing__V1__EchoRequest *r =
      run_ok(f, "PUT", "/v1/echo/depot%20one", "{\"fInt32\":5,\"fString\":\"s\"}", "pageSize=4&color=2");
  assert_non_null(r->payload);
  assert_int_equal(r->payload->f_int32, 5);
  assert_string_equal(r->payload->f_string, "s");
  assert_string_equal(r->inner->label, "depot one");
  assert_int_equal(r->page_size, 4);
  assert_int_equal(r->color, METRO__TESTING__V1__COLOR__COLOR_GREEN);
}

static void test_field_body_errors_name_the_field(void **state) {
  expect_error(*state, "PUT", "/v1/echo/x", "{\"fInt32\":\"many\"}", NULL, "INVALID_ARGUMENT", "payload.fInt32",
               "\"many\"");
  expect_error(*state, "PUT", "/v1/echo/x", "[1]", NULL, "INVALID_ARGUMENT", "payload", "");
}

/* ---- JSON errors ---- */

static void test_malformed_json_says_where(void **state) {
  expect_error(*state, "POST", "/v1/depots/x:echo", "{\"name\": ", NULL, "MALFORMED_JSON", NULL,
               "malformed JSON at line 1 column");
  expect_error(*state, "POST", "/v1/depots/x:echo", "{\"pageSize\":1,\"pageSize\":2}", NULL, "MALFORMED_JSON",
               NULL, "duplicate");
  expect_error(*state, "POST", "/v1/depots/x:echo", "{\"name\":\"a\\u0000b\"}", NULL, "MALFORMED_JSON", NULL,
               "malformed JSON");
  expect_error(*state, "POST", "/v1/depots/x:echo", "{} trailing", NULL, "MALFORMED_JSON", NULL, "line 1");
  /* found by test/fuzz: jansson quotes the input up to the error, here half of a 2-byte character */
  transcode_error err;
  assert_null(run(*state, "POST", "/v1/depots/x:echo", "{\"name\":\"B\\u\xca\x9a\"}", NULL, &err));
  assert_string_equal(err.reason, "MALFORMED_JSON");
  if (text_utf8_length(err.message) < 0) fail_msg("not UTF-8: %s", err.message);
}

static void test_unknown_body_field_is_named(void **state) {
  expect_error(*state, "POST", "/v1/depots/x:echo", "{\"nmae\":\"x\"}", NULL, "INVALID_ARGUMENT", "nmae", "nmae");
}

static void test_body_with_explicit_length_may_hold_no_terminator(void **state) {
  fixture *f = *state;
  route_match m;
  assert_int_equal(route_table_match(f->t, f->a, "POST", "/v1/depots/x:echo", &m), ROUTE_FOUND);
  const char text[] = "{\"pageSize\":12}GARBAGE";
  transcode_error err;
  Metro__Testing__V1__EchoRequest *r = (Metro__Testing__V1__EchoRequest *)transcode_request(
      f->a, &m, ECHO_DESC, text, strlen("{\"pageSize\":12}"), NULL, 8, &err);
  assert_non_null(r);
  assert_int_equal(r->page_size, 12);
}

/* ---- the query string ---- */

static void test_query_decoding_plus_percent_and_first_equals(void **state) {
  fixture *f = *state;
  Metro__Testing__V1__EchoRequest *r =
      run_ok(f, "GET", "/v1/echo", NULL, "tags=a+b%2Bc%26d&tags=x%3Dy=z&tags=%C3%A1&ta%67s=k&tags");
  assert_int_equal(r->n_tags, 5);
  assert_string_equal(r->tags[0], "a b+c&d");
  assert_string_equal(r->tags[1], "x=y=z");
  assert_string_equal(r->tags[2], "\xc3\xa1");
  assert_string_equal(r->tags[3], "k"); /* keys are decoded too */
  assert_string_equal(r->tags[4], "");  /* a key alone has an empty value */
}

static void test_query_empty_pairs_are_skipped(void **state) {
  Metro__Testing__V1__EchoRequest *r = run_ok(*state, "GET", "/v1/echo", NULL, "&&pageSize=3&&&");
  assert_int_equal(r->page_size, 3);
  r = run_ok(*state, "GET", "/v1/echo", NULL, "&");
  assert_int_equal(r->page_size, 0);
}

static void test_query_malformed_escapes_are_refused(void **state) {
  static const char *const bad[] = {"tags=%zz", "tags=%2", "tags=%", "tags=a%00b", "ta%g=1", "%=1", "tags=%%41"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_error(*state, "GET", "/v1/echo", NULL, bad[i], "INVALID_ARGUMENT", NULL,
                 "malformed percent-encoding in the query string");
}

static void test_query_unknown_or_bad_values_name_the_field(void **state) {
  expect_error(*state, "GET", "/v1/echo", NULL, "pageSize=1&bogusParam=1", "INVALID_ARGUMENT", "bogusParam",
               "bogusParam");
  expect_error(*state, "GET", "/v1/echo", NULL, "pageSize=lots", "INVALID_ARGUMENT", "pageSize", "");
  expect_error(*state, "GET", "/v1/echo", NULL, "=1", "INVALID_ARGUMENT", NULL, "unknown field");
}

/* Errors go back as JSON: a key that decodes to ill-formed UTF-8 (an overlong "/") is quoted as '?'. */
static void test_query_errors_quote_only_utf8(void **state) {
  transcode_error err;
  assert_null(run(*state, "GET", "/v1/echo", NULL, "%E0%80%AF=1", &err));
  assert_string_equal(err.reason, "INVALID_ARGUMENT");
  assert_true(text_utf8_length(err.message) >= 0);
  assert_true(text_utf8_length(err.field) >= 0);
  assert_non_null(strstr(err.message, "unknown field \"???\""));
}

static void test_too_many_query_parameters(void **state) {
  fixture *f = *state;
  /* 8 pairs is the limit here; empty pairs do not count */
  Metro__Testing__V1__EchoRequest *r = run_ok(f, "GET", "/v1/echo", NULL, "tags=1&tags=2&tags=3&tags=4&&tags=5&"
                                                                          "tags=6&tags=7&tags=8");
  assert_int_equal(r->n_tags, 8);
  expect_error(f, "GET", "/v1/echo", NULL, "tags=1&tags=2&tags=3&tags=4&tags=5&tags=6&tags=7&tags=8&tags=9",
               "TOO_MANY_QUERY_PARAMETERS", NULL, "at most 8");
  /* counted before anything is decoded: a bad escape among too many is still "too many" */
  expect_error(f, "GET", "/v1/echo", NULL, "a=%zz&b&c&d&e&f&g&h&i", "TOO_MANY_QUERY_PARAMETERS", NULL, "9");
}

static void test_success_clears_the_error(void **state) {
  fixture *f = *state;
  transcode_error err = {.code = GRPC_STATUS_INTERNAL, .reason = "STALE", .message = "stale"};
  assert_non_null(run(f, "GET", "/v1/echo", NULL, "pageSize=1", &err));
  assert_int_equal(err.code, GRPC_STATUS_OK);
  assert_null(err.reason);
  assert_null(err.field);
  assert_null(err.message);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_no_body_rule_takes_path_and_query, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_body_rule_refuses_a_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_star_body_fills_the_message_and_ignores_the_query, setup, teardown),
      cmocka_unit_test_setup_teardown(test_path_variable_wins_over_body_and_query, setup, teardown),
      cmocka_unit_test_setup_teardown(test_star_body_must_be_an_object, setup, teardown),
      cmocka_unit_test_setup_teardown(test_field_body_fills_that_field_then_query_and_path, setup, teardown),
      cmocka_unit_test_setup_teardown(test_field_body_errors_name_the_field, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_json_says_where, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_body_field_is_named, setup, teardown),
      cmocka_unit_test_setup_teardown(test_body_with_explicit_length_may_hold_no_terminator, setup, teardown),
      cmocka_unit_test_setup_teardown(test_query_decoding_plus_percent_and_first_equals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_query_empty_pairs_are_skipped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_query_malformed_escapes_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_query_unknown_or_bad_values_name_the_field, setup, teardown),
      cmocka_unit_test_setup_teardown(test_query_errors_quote_only_utf8, setup, teardown),
      cmocka_unit_test_setup_teardown(test_too_many_query_parameters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_success_clears_the_error, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
