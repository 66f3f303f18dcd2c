/* The GTFS download's HTTP caching rules without servers: strong ETags, HTTP dates in their
 * three forms, If-None-Match lists, and when a conditional GET is a 304. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "svc/public/public.h"

#define RFC_EXAMPLE 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 §5.6.7) */

static void test_etags_are_strong_and_follow_the_bytes(void **state) {
  (void)state;
  char a[PUB_ETAG_LEN], b[PUB_ETAG_LEN], c[PUB_ETAG_LEN];
  pub_etag("PK\3\4 zip", 9, a);
  pub_etag("PK\3\4 zip", 9, b);
  pub_etag("PK\3\4 zap", 9, c);
  assert_int_equal(strlen(a), 34);
  assert_int_equal(a[0], '"');
  assert_int_equal(a[33], '"');
  assert_string_equal(a, b);
  assert_string_not_equal(a, c);
  pub_etag("", 0, a); /* SHA-256 of nothing: e3b0c442 98fc1c14 9afbf4c8 996fb924 ... */
  assert_string_equal(a, "\"e3b0c44298fc1c149afbf4c8996fb924\"");
}

static void test_http_dates_are_written_as_imf_fixdate_and_read_in_every_form(void **state) {
  (void)state;
  char out[PUB_HTTP_DATE_LEN];
  pub_http_date(RFC_EXAMPLE, out);
  assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
  pub_http_date(0, out);
  assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
  int64_t t = 0;
  assert_true(pub_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t));
  assert_int_equal(t, RFC_EXAMPLE);
  t = 0;
  assert_true(pub_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t));
  assert_int_equal(t, RFC_EXAMPLE);
  t = 0;
  assert_true(pub_http_date_parse("Sun Nov  6 08:49:37 1994", &t));
  assert_int_equal(t, RFC_EXAMPLE);
  assert_true(pub_http_date_parse("Tue, 01 Dec 2026 17:00:00 GMT", &t));
  assert_int_equal(t, 1796144400);
  const char *bad[] = {"", "yesterday", "Sun, 06 Nov 1994 08:49:37 GMT trailing", "Sun, 31 Feb 1994 08:49:37 GMT",
                       "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37",
                       "Sun, 06 Nov 1994 08:49:37 UTC"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_false(pub_http_date_parse(bad[i], &t));
  assert_false(pub_http_date_parse(NULL, &t));
}

static void test_if_none_match_lists_compare_weakly(void **state) {
  (void)state;
  const char *tag = "\"0123abcd\"";
  assert_true(pub_etag_listed("\"0123abcd\"", tag));
  assert_true(pub_etag_listed("W/\"0123abcd\"", tag));
  assert_true(pub_etag_listed("\"other\", W/\"x\" ,\"0123abcd\"", tag));
  assert_true(pub_etag_listed("*", tag));
  assert_false(pub_etag_listed("\"0123abce\"", tag));
  assert_false(pub_etag_listed("\"0123abcd", tag)); /* unterminated */
  assert_false(pub_etag_listed("0123abcd", tag));   /* not an entity-tag */
  assert_false(pub_etag_listed("\"0123abc\"", tag));
  assert_false(pub_etag_listed("", tag));
}

/* A request with up to three headers (names as the gateway passes them: lower case). */
static Metro__Api__V1__HttpRequest *request(Metro__Api__V1__HttpHeader *h, Metro__Api__V1__HttpHeader **ptrs,
                                            const char *const (*pairs)[2], int n) {
  static Metro__Api__V1__HttpRequest req;
  metro__api__v1__http_request__init(&req);
  req.method = "GET";
  for (int i = 0; i < n; i++) {
    metro__api__v1__http_header__init(&h[i]);
    h[i].name = (char *)pairs[i][0];
    h[i].value = (char *)pairs[i][1];
    ptrs[i] = &h[i];
  }
  req.headers = ptrs;
  req.n_headers = (size_t)n;
  return &req;
}

static void test_conditional_gets_follow_rfc_9110(void **state) {
  (void)state;
  Metro__Api__V1__HttpHeader h[3], *p[3];
  const char *tag = "\"feed\"";
  const int64_t modified = RFC_EXAMPLE;
  const char *const none[][2] = {{"accept", "*/*"}};
  assert_false(pub_not_modified(request(h, p, none, 1), tag, modified));
  const char *const inm[][2] = {{"if-none-match", "\"old\""}, {"if-none-match", "\"feed\""}};
  assert_true(pub_not_modified(request(h, p, inm, 2), tag, modified));
  assert_false(pub_not_modified(request(h, p, inm, 1), tag, modified));
  /* If-None-Match decides alone: a matching date does not help a changed tag. */
  const char *const both[][2] = {{"if-none-match", "\"old\""}, {"if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"}};
  assert_false(pub_not_modified(request(h, p, both, 2), tag, modified));
  const char *const same[][2] = {{"if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"}};
  assert_true(pub_not_modified(request(h, p, same, 1), tag, modified));
  const char *const later[][2] = {{"If-Modified-Since", "Mon, 07 Nov 1994 00:00:00 GMT"}};
  assert_true(pub_not_modified(request(h, p, later, 1), tag, modified));
  const char *const earlier[][2] = {{"if-modified-since", "Sun, 06 Nov 1994 08:49:36 GMT"}};
  assert_false(pub_not_modified(request(h, p, earlier, 1), tag, modified));
  const char *const garbage[][2] = {{"if-modified-since", "soon"}};
  assert_false(pub_not_modified(request(h, p, garbage, 1), tag, modified));
  const char *const twice[][2] = {{"if-modified-since", "Mon, 07 Nov 1994 00:00:00 GMT"},
                                  {"if-modified-since", "Mon, 07 Nov 1994 00:00:00 GMT"}};
  assert_false(pub_not_modified(request(h, p, twice, 2), tag, modified));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_etags_are_strong_and_follow_the_bytes),
      cmocka_unit_test(test_http_dates_are_written_as_imf_fixdate_and_read_in_every_form),
      cmocka_unit_test(test_if_none_match_lists_compare_weakly),
      cmocka_unit_test(test_conditional_gets_follow_rfc_9110),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
