/* Unit tests of transcoder/raw_http: which request headers reach raw methods and how, the UTF-8
 * checks on what is passed, and the rules an HttpResponse must meet to be written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transcoder/raw_http.h"

static int setup(void **state) {
  *state = arena_create(0);
  return 0;
}

static int teardown(void **state) {
  arena_destroy(*state);
  return 0;
}

static void test_types_are_recognised_by_full_name(void **state) {
  (void)state;
  assert_true(raw_http_is_request_type("metro.api.v1.HttpRequest"));
  assert_false(raw_http_is_request_type("metro.api.v1.HttpResponse"));
  assert_false(raw_http_is_request_type(NULL));
  assert_true(raw_http_is_response_type("metro.api.v1.HttpResponse"));
  assert_false(raw_http_is_response_type("google.api.HttpBody"));
}

static void test_every_header_but_cookie_passes_lower_cased(void **state) {
  raw_http_request b;
  raw_http_request_init(&b, *state, "POST", "/v1/x", "", "127.0.0.1");
  raw_http_request_add_header(&b, "Authorization", "Apikey K-1");
  raw_http_request_add_header(&b, "Cookie", "session=1");
  raw_http_request_add_header(&b, "COOKIE", "session=2");
  raw_http_request_add_header(&b, "PAYPAL-Transmission-Sig", "AbC==");
  raw_http_request_add_header(&b, "X-Dup", "1");
  raw_http_request_add_header(&b, "x-dup", "2");
  for (int i = 0; i < 20; i++) raw_http_request_add_header(&b, "X-Many", "v"); /* grows past the first block */
  assert_null(b.bad);
  assert_int_equal(b.msg.n_headers, 24);
  assert_string_equal(b.msg.headers[0]->name, "authorization");
  assert_string_equal(b.msg.headers[0]->value, "Apikey K-1");
  assert_string_equal(b.msg.headers[1]->name, "paypal-transmission-sig");
  assert_string_equal(b.msg.headers[1]->value, "AbC=="); /* values keep their case */
  assert_string_equal(b.msg.headers[2]->value, "1");
  assert_string_equal(b.msg.headers[3]->value, "2");
  assert_string_equal(b.msg.headers[23]->name, "x-many");
  assert_false(raw_http_header_passed("cookie"));
  assert_true(raw_http_header_passed("X-Cookie"));
}

static void test_request_keeps_query_path_params_and_body(void **state) {
  raw_http_request b;
  raw_http_request_init(&b, *state, "GET", "/v1/raw/a%20b/echo", "b=2&a=1%2B1&c=%E1%BA%BF", "10.0.0.1");
  raw_http_request_add_path_param(&b, "channel", "a b");
  static const uint8_t bytes[] = {0, 0xff, 'x'};
  raw_http_request_set_body(&b, bytes, sizeof bytes);
  assert_null(b.bad);
  assert_string_equal(b.msg.raw_query, "b=2&a=1%2B1&c=%E1%BA%BF");
  assert_string_equal(b.msg.path, "/v1/raw/a%20b/echo");
  assert_int_equal(b.msg.n_path_params, 1);
  assert_string_equal(b.msg.path_params[0]->key, "channel");
  assert_string_equal(b.msg.path_params[0]->value, "a b");
  assert_int_equal(b.msg.body.len, 3);
  assert_memory_equal(b.msg.body.data, bytes, 3);
  /* the message packs and unpacks as is */
  size_t n = metro__api__v1__http_request__get_packed_size(&b.msg);
  uint8_t *packed = arena_alloc(*state, n);
  metro__api__v1__http_request__pack(&b.msg, packed);
  Metro__Api__V1__HttpRequest *back = metro__api__v1__http_request__unpack(NULL, n, packed);
  assert_non_null(back);
  assert_string_equal(back->raw_query, "b=2&a=1%2B1&c=%E1%BA%BF");
  assert_string_equal(back->client_ip, "10.0.0.1");
  metro__api__v1__http_request__free_unpacked(back, NULL);
}

static void test_text_that_is_not_utf8_is_named(void **state) {
  raw_http_request b;
  raw_http_request_init(&b, *state, "GET", "/v1/x", "a=\xff", "");
  assert_string_equal(b.bad, "the query string");
  raw_http_request_init(&b, *state, "GET", "/v1/x", "", "");
  raw_http_request_add_header(&b, "X-Latin", "caf\xe9");
  assert_string_equal(b.bad, "a header value");
  raw_http_request_init(&b, *state, "GET", "/v1/x", "", "");
  raw_http_request_add_path_param(&b, "id", "\xc3");
  assert_string_equal(b.bad, "a path variable");
}

static Metro__Api__V1__HttpHeader *header(arena *a, const char *name, const char *value) {
  Metro__Api__V1__HttpHeader *h = arena_alloc(a, sizeof *h);
  metro__api__v1__http_header__init(h);
  h->name = (char *)name;
  h->value = (char *)value;
  return h;
}

static void test_response_defaults_and_allowed_headers(void **state) {
  arena *a = *state;
  Metro__Api__V1__HttpResponse resp = METRO__API__V1__HTTP_RESPONSE__INIT;
  Metro__Api__V1__HttpHeader *hs[] = {header(a, "location", "https://shop.example/return?x=1"),
                                      header(a, "CACHE-CONTROL", "max-age=60")};
  resp.status = 302;
  resp.headers = hs;
  resp.n_headers = 2;
  raw_http_answer ans;
  assert_null(raw_http_response_check(a, &resp, &ans));
  assert_int_equal(ans.status, 302);
  assert_string_equal(ans.content_type, "application/json");
  assert_int_equal(ans.body_len, 0);
  assert_int_equal(ans.n_headers, 2);
  assert_string_equal(ans.header_names[0], "Location");
  assert_string_equal(ans.header_values[0], "https://shop.example/return?x=1");
  assert_string_equal(ans.header_names[1], "Cache-Control");
  assert_true(ans.has_cache_control);
  resp.content_type = "text/plain; charset=utf-8";
  assert_null(raw_http_response_check(a, &resp, &ans));
  assert_string_equal(ans.content_type, "text/plain; charset=utf-8");
  assert_string_equal(raw_http_response_header("etag"), "ETag");
  assert_null(raw_http_response_header("Set-Cookie"));
  assert_null(raw_http_response_header("Content-Type"));
  assert_null(raw_http_response_header("Access-Control-Allow-Origin"));
  assert_null(raw_http_response_header("Content-Length"));
}

static void test_response_rules_refuse_what_cannot_be_written(void **state) {
  arena *a = *state;
  raw_http_answer ans;
  Metro__Api__V1__HttpResponse resp = METRO__API__V1__HTTP_RESPONSE__INIT;
  static const int bad_status[] = {0, 99, 101, 199, 600, -200};
  for (size_t i = 0; i < sizeof bad_status / sizeof bad_status[0]; i++) {
    resp.status = bad_status[i];
    assert_non_null(strstr(raw_http_response_check(a, &resp, &ans), "outside 200-599"));
  }
  resp.status = 599;
  assert_null(raw_http_response_check(a, &resp, &ans));
  resp.status = 204;
  resp.body.data = (uint8_t *)"x";
  resp.body.len = 1;
  assert_non_null(raw_http_response_check(a, &resp, &ans));
  resp.status = 200;
  resp.content_type = "text/plain\r\nSet-Cookie: a=b";
  assert_non_null(raw_http_response_check(a, &resp, &ans));
  resp.content_type = "";
  Metro__Api__V1__HttpHeader *cookie[] = {header(a, "Set-Cookie", "a=b")};
  resp.headers = cookie;
  resp.n_headers = 1;
  assert_non_null(strstr(raw_http_response_check(a, &resp, &ans), "Set-Cookie"));
  Metro__Api__V1__HttpHeader *split[] = {header(a, "Location", "/x\r\nSet-Cookie: a=b")};
  resp.headers = split;
  assert_non_null(raw_http_response_check(a, &resp, &ans));
  Metro__Api__V1__HttpHeader *twice[] = {header(a, "Location", "/a"), header(a, "location", "/b")};
  resp.headers = twice;
  resp.n_headers = 2;
  assert_non_null(strstr(raw_http_response_check(a, &resp, &ans), "twice"));
  Metro__Api__V1__HttpHeader *utf8[] = {header(a, "Content-Disposition", "attachment; filename=\"b\xc3\xaan.zip\"")};
  resp.headers = utf8;
  resp.n_headers = 1;
  assert_non_null(raw_http_response_check(a, &resp, &ans));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_types_are_recognised_by_full_name),
      cmocka_unit_test_setup_teardown(test_every_header_but_cookie_passes_lower_cased, setup, teardown),
      cmocka_unit_test_setup_teardown(test_request_keeps_query_path_params_and_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_text_that_is_not_utf8_is_named, setup, teardown),
      cmocka_unit_test_setup_teardown(test_response_defaults_and_allowed_headers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_response_rules_refuse_what_cannot_be_written, setup, teardown),
  };
  return cmocka_run_group_tests_name("raw_http", tests, NULL, NULL);
}
