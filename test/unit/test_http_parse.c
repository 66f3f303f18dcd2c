/* The strict HTTP/1.1 parser: well-formed heads and their framing, every refusal with its status
 * (400, 414, 431, 417, 505), incomplete input, and the chunked decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "transcoder/http_parse.h"

static const http_limits limits = {.max_target = 64, .max_header_line = 80, .max_head = 400, .max_headers = 6};

static http_parse_result parse(const char *text, http_head *h, size_t *used, http_parse_error *err) {
  return http_parse_head(text, strlen(text), &limits, h, used, err);
}

static void expect_refusal_n(const char *text, size_t len, int status, const char *reason) {
  http_head h;
  size_t used = 0;
  http_parse_error err = {0};
  http_parse_result r = http_parse_head(text, len, &limits, &h, &used, &err);
  if (r != HTTP_PARSE_FAILED || err.status != status || strcmp(err.reason, reason) != 0)
    fprintf(stderr, "input %s: result %d status %d reason %s\n", text, r, err.status, err.reason ? err.reason : "-");
  assert_int_equal(r, HTTP_PARSE_FAILED);
  assert_int_equal(err.status, status);
  assert_string_equal(err.reason, reason);
  assert_non_null(err.message);
}

static void expect_refusal(const char *text, int status, const char *reason) {
  expect_refusal_n(text, strlen(text), status, reason);
}

static void test_a_get_with_headers(void **state) {
  (void)state;
  const char *text = "GET /v1/stations?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing:  v  \r\n\r\nNEXT";
  http_head h;
  size_t used = 0;
  http_parse_error err;
  assert_int_equal(parse(text, &h, &used, &err), HTTP_PARSE_DONE);
  assert_int_equal(used, strlen(text) - 4);
  assert_int_equal(h.method_len, 3);
  assert_memory_equal(h.target, "/v1/stations?x=1", h.target_len);
  assert_int_equal(h.minor_version, 1);
  assert_int_equal(h.n_fields, 2);
  const http_field *f = http_head_field(&h, "x-thing");
  assert_non_null(f);
  assert_int_equal(f->value_len, 1);
  assert_memory_equal(f->value, "v", 1);
  assert_true(h.keep_alive);
  assert_int_equal(h.content_length, -1);
  assert_false(h.chunked);
}

static void test_framing_and_connection(void **state) {
  (void)state;
  http_head h;
  size_t used;
  http_parse_error err;
  assert_int_equal(parse("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nConnection: close\r\n\r\n", &h, &used, &err),
                   HTTP_PARSE_DONE);
  assert_int_equal(h.content_length, 12);
  assert_false(h.keep_alive);
  assert_int_equal(parse("POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nExpect: 100-continue\r\n\r\n", &h,
                         &used, &err),
                   HTTP_PARSE_DONE);
  assert_true(h.chunked);
  assert_true(h.expect_continue);
  /* HTTP/1.0: no Host needed, closed unless kept alive; identical Content-Lengths are one. */
  assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h, &used, &err), HTTP_PARSE_DONE);
  assert_false(h.keep_alive);
  assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", &h,
                         &used, &err),
                   HTTP_PARSE_DONE);
  assert_true(h.keep_alive);
  assert_int_equal(h.content_length, 3);
  /* Up to four empty lines before the request line are skipped. */
  assert_int_equal(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &h, &used, &err), HTTP_PARSE_DONE);
}

static void test_incomplete_heads_ask_for_more(void **state) {
  (void)state;
  http_head h;
  size_t used;
  http_parse_error err;
  assert_int_equal(parse("", &h, &used, &err), HTTP_PARSE_INCOMPLETE);
  assert_int_equal(parse("GET /v1", &h, &used, &err), HTTP_PARSE_INCOMPLETE);
  assert_int_equal(parse("GET / HTTP/1.1\r", &h, &used, &err), HTTP_PARSE_INCOMPLETE);
  assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n", &h, &used, &err), HTTP_PARSE_INCOMPLETE);
  assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n\r", &h, &used, &err), HTTP_PARSE_INCOMPLETE);
}

static void test_smuggling_framings_are_refused(void **state) {
  (void)state;
  expect_refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                 "AMBIGUOUS_FRAMING");
  expect_refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "UNSUPPORTED_TRANSFER_ENCODING");
  expect_refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400,
                 "UNSUPPORTED_TRANSFER_ENCODING");
  expect_refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                 "UNSUPPORTED_TRANSFER_ENCODING");
  expect_refusal("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "UNSUPPORTED_TRANSFER_ENCODING");
  const char *bad_lengths[] = {"-1", "abc", "+28", "1, 2", "", "0x10", "18446744073709551615", " 1 2"};
  for (size_t i = 0; i < sizeof bad_lengths / sizeof bad_lengths[0]; i++) {
    char text[160];
    snprintf(text, sizeof text, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n", bad_lengths[i]);
    expect_refusal(text, 400, "INVALID_CONTENT_LENGTH");
  }
  expect_refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
                 "INVALID_CONTENT_LENGTH");
}

static void test_malformed_heads_are_refused(void **state) {
  (void)state;
  expect_refusal("GET / HTTP/1.1\r\n\r\n", 400, "MISSING_HOST");
  expect_refusal("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "BAD_HOST");
  static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
  expect_refusal_n(nul, sizeof nul - 1, 400, "BAD_HEADER");
  expect_refusal("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "BAD_LINE_ENDING");
  expect_refusal("GET / HTTP/1.1\nHost: a\n\n", 400, "BAD_LINE_ENDING");
  expect_refusal("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n\r\n", 400, "OBSOLETE_LINE_FOLDING");
  expect_refusal("GET / HTTP/1.1\r\nHost: a\r\nX : a\r\n\r\n", 400, "BAD_HEADER");
  expect_refusal("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, "BAD_HEADER");
  expect_refusal("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", 400, "BAD_HEADER");
  expect_refusal("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_REQUEST_LINE");
  expect_refusal("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_REQUEST_LINE");
  expect_refusal("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "BAD_REQUEST_LINE");
  expect_refusal("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP_VERSION_NOT_SUPPORTED");
  expect_refusal("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "HTTP_VERSION_NOT_SUPPORTED");
  expect_refusal("POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 417, "EXPECTATION_FAILED");
}

static void test_size_limits_are_414_and_431(void **state) {
  (void)state;
  char text[2048];
  char target[100];
  memset(target, 'a', sizeof target - 1);
  target[sizeof target - 1] = '\0';
  snprintf(text, sizeof text, "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", target);
  expect_refusal(text, 414, "URI_TOO_LONG");
  /* Still arriving, already too long. */
  snprintf(text, sizeof text, "GET /%s%s", target, target);
  expect_refusal(text, 414, "URI_TOO_LONG");
  char value[100];
  memset(value, 'v', sizeof value - 1);
  value[sizeof value - 1] = '\0';
  snprintf(text, sizeof text, "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n", value);
  expect_refusal(text, 431, "HEADER_TOO_LARGE");
  snprintf(text, sizeof text, "GET / HTTP/1.1\r\nHost: a\r\nX: %s", value); /* incomplete but too long */
  expect_refusal(text, 431, "HEADER_TOO_LARGE");
  expect_refusal("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\n\r\n", 431,
                 "TOO_MANY_HEADERS");
  char many[1024] = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 5; i++) strcat(many, "X-Long: 0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
  expect_refusal(many, 431, "HEADERS_TOO_LARGE");
}

/* ---- chunked ---- */

typedef struct sink {
  char data[256];
  size_t len, max;
} sink;

static bool collect(void *user, const char *data, size_t n) {
  sink *s = user;
  if (s->len + n > s->max) return false;
  memcpy(s->data + s->len, data, n);
  s->len += n;
  return true;
}

static void test_chunked_bodies_decode_byte_by_byte(void **state) {
  (void)state;
  const char *body = "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  size_t total = strlen(body) - 4;
  for (size_t step = 1; step <= strlen(body); step++) {
    http_chunked c = {0};
    sink s = {.max = sizeof s.data};
    http_parse_error err;
    size_t at = 0;
    http_chunked_result r = HTTP_CHUNKED_MORE;
    while (r == HTTP_CHUNKED_MORE && at < strlen(body)) {
      size_t n = strlen(body) - at < step ? strlen(body) - at : step, used = 0;
      r = http_chunked_feed(&c, body + at, n, &used, collect, &s, &err);
      at += used;
    }
    assert_int_equal(r, HTTP_CHUNKED_DONE);
    assert_int_equal(at, total);
    assert_int_equal(s.len, 16);
    assert_memory_equal(s.data, "hello 0123456789", 16);
  }
}

static void expect_chunk_failure(const char *body, size_t max, int status) {
  http_chunked c = {0};
  sink s = {.max = max};
  http_parse_error err = {0};
  size_t used = 0;
  assert_int_equal(http_chunked_feed(&c, body, strlen(body), &used, collect, &s, &err), HTTP_CHUNKED_FAILED);
  assert_int_equal(err.status, status);
}

static void test_bad_chunked_bodies_are_refused(void **state) {
  (void)state;
  expect_chunk_failure("x\r\n", 100, 400);
  expect_chunk_failure("5\r\nhelloX", 100, 400);
  expect_chunk_failure("5\nhello", 100, 400);
  expect_chunk_failure("1000000000000000\r\n", 100, 400); /* 16 hex digits */
  expect_chunk_failure("0\r\nbad\x01trailer\r\n", 100, 400);
  expect_chunk_failure("a\r\n0123456789\r\n", 5, 413);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_get_with_headers),
      cmocka_unit_test(test_framing_and_connection),
      cmocka_unit_test(test_incomplete_heads_ask_for_more),
      cmocka_unit_test(test_smuggling_framings_are_refused),
      cmocka_unit_test(test_malformed_heads_are_refused),
      cmocka_unit_test(test_size_limits_are_414_and_431),
      cmocka_unit_test(test_chunked_bodies_decode_byte_by_byte),
      cmocka_unit_test(test_bad_chunked_bodies_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
