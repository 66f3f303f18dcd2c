/* Unit tests of transcoder/path_template: every element of the google.api.http template
 * grammar, malformed templates, request splitting and percent-decoded variable binding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transcoder/path_template.h"

static path_template *parse_ok(const char *text) {
  char err[256] = "";
  path_template *t = path_template_parse(text, err, sizeof err);
  if (!t) fail_msg("%s: %s", text, err);
  return t;
}

static void assert_rejected(const char *text, const char *reason) {
  char err[256] = "";
  path_template *t = path_template_parse(text, err, sizeof err);
  if (t) {
    path_template_free(t);
    fail_msg("accepted malformed template %s", text);
  }
  if (!strstr(err, reason)) fail_msg("%s: expected \"%s\" in \"%s\"", text, reason, err);
}

/* Matches a whole request path against one template, binding into `a`. */
static bool match(const path_template *t, const char *path, arena *a, pt_binding *out, int *n) {
  pt_request req;
  if (pt_request_split(path, t->verb != NULL, &req) && path_template_accepts(t, &req))
    return path_template_bind(t, &req, a, out, n);
  return false;
}

static void test_parses_literal_segments(void **state) {
  (void)state;
  path_template *t = parse_ok("/v1/auth/login");
  assert_int_equal(t->n_segments, 3);
  for (int i = 0; i < 3; i++) assert_int_equal(t->segments[i].kind, PT_LITERAL);
  assert_string_equal(t->segments[2].literal, "login");
  assert_int_equal(t->n_variables, 0);
  assert_null(t->verb);
  path_template_free(t);
}

static void test_parses_wildcards(void **state) {
  (void)state;
  path_template *t = parse_ok("/v1/*/files/**");
  assert_int_equal(t->n_segments, 4);
  assert_int_equal(t->segments[1].kind, PT_WILDCARD);
  assert_int_equal(t->segments[3].kind, PT_DEEP_WILDCARD);
  path_template_free(t);
}

static void test_bare_variable_is_single_wildcard(void **state) {
  (void)state;
  path_template *t = parse_ok("/v1/auth/users/{user_id}");
  assert_int_equal(t->n_variables, 1);
  assert_string_equal(t->variables[0].field_path, "user_id");
  assert_int_equal(t->variables[0].first, 3);
  assert_int_equal(t->variables[0].last, 4);
  assert_int_equal(t->segments[3].kind, PT_WILDCARD);
  assert_true(path_template_single_segment(t, &t->variables[0]));
  path_template_free(t);
}

static void test_variable_with_segments(void **state) {
  (void)state;
  path_template *t = parse_ok("/v1/{name=stations/*}/{rest=**}");
  assert_int_equal(t->n_variables, 2);
  assert_int_equal(t->variables[0].first, 1);
  assert_int_equal(t->variables[0].last, 3);
  assert_string_equal(t->segments[1].literal, "stations");
  assert_int_equal(t->segments[2].kind, PT_WILDCARD);
  assert_false(path_template_single_segment(t, &t->variables[0]));
  assert_false(path_template_single_segment(t, &t->variables[1]));
  path_template_free(t);
}

static void test_nested_field_path(void **state) {
  (void)state;
  path_template *t = parse_ok("/v1/echo/{inner.child.label}");
  assert_string_equal(t->variables[0].field_path, "inner.child.label");
  path_template_free(t);
}

static void test_verb_after_literal_and_variable(void **state) {
  (void)state;
  path_template *t = parse_ok("/v1/auth/password:change");
  assert_string_equal(t->verb, "change");
  assert_string_equal(t->segments[2].literal, "password");
  path_template_free(t);
  t = parse_ok("/v1/{name=stations/*}:echo");
  assert_string_equal(t->verb, "echo");
  assert_int_equal(t->variables[0].last, 3);
  path_template_free(t);
}

static void test_rejects_unbalanced_braces(void **state) {
  (void)state;
  assert_rejected("/v1/{name", "unbalanced '{'");
  assert_rejected("/v1/{name=stations/*", "unbalanced '{'");
  assert_rejected("/v1/name}", "unbalanced '}'");
  assert_rejected("/v1/{name}}", "unbalanced '}'");
}

static void test_rejects_empty_segments(void **state) {
  (void)state;
  assert_rejected("/v1//x", "empty segment");
  assert_rejected("/v1/", "empty segment");
  assert_rejected("/", "empty segment");
  assert_rejected("/v1/{name=}", "empty segment");
  assert_rejected("v1/x", "must start with '/'");
  assert_rejected("", "must start with '/'");
}

static void test_rejects_bad_verbs(void **state) {
  (void)state;
  assert_rejected("/v1/x:", "bad verb");
  assert_rejected("/v1/x:a/b", "bad verb");
  assert_rejected("/v1/x:a:b", "bad verb");
  assert_rejected("/v1/{name=a:b}", "unexpected character ':'");
}

static void test_rejects_nested_variables(void **state) {
  (void)state;
  assert_rejected("/v1/{a={b}}", "nested variable");
  assert_rejected("/v1/{a=x/{b}}", "nested variable");
}

static void test_rejects_other_malformations(void **state) {
  (void)state;
  assert_rejected("/v1/**/x", "'**' must be the last segment");
  assert_rejected("/v1/{a=**}/{b}", "'**' must be the last segment");
  assert_rejected("/v1/{1a}", "bad field path");
  assert_rejected("/v1/{a.}", "bad field path");
  assert_rejected("/v1/{}", "bad field path");
  assert_rejected("/v1/{a}/{a}", "bound twice");
  assert_rejected("/v1/a*", "'*' mixed");
  assert_rejected("/v1/a%zz", "percent-escape");
  assert_rejected("/v1/a b", "unexpected character");
}

static void test_rejects_oversized_templates(void **state) {
  (void)state;
  char text[PT_MAX_TEMPLATE_LEN + 16];
  size_t o = 0;
  for (int i = 0; i <= PT_MAX_SEGMENTS; i++) o += (size_t)snprintf(text + o, sizeof text - o, "/s");
  assert_rejected(text, "more than");
  memset(text, 'a', sizeof text - 1);
  text[0] = '/';
  text[sizeof text - 1] = '\0';
  assert_rejected(text, "longer than");
}

static void test_split_cuts_segments_and_verb(void **state) {
  (void)state;
  pt_request r;
  assert_true(pt_request_split("/v1/stations/ben-thanh:echo", true, &r));
  assert_int_equal(r.n_segments, 3);
  assert_int_equal(r.lengths[2], strlen("ben-thanh"));
  assert_int_equal(r.verb_len, 4);
  assert_memory_equal(r.verb, "echo", 4);
  assert_true(pt_request_split("/v1/stations/ben-thanh:echo", false, &r));
  assert_null(r.verb);
  assert_int_equal(r.lengths[2], strlen("ben-thanh:echo"));
  assert_true(pt_request_split("/v1/x:", true, &r)); /* empty verb: not split */
  assert_null(r.verb);
}

static void test_split_rejects_hostile_paths(void **state) {
  (void)state;
  pt_request r;
  assert_false(pt_request_split("", true, &r));
  assert_false(pt_request_split("/", true, &r));
  assert_false(pt_request_split("v1/x", true, &r));
  assert_false(pt_request_split("/v1//x", true, &r));
  assert_false(pt_request_split("/v1/x/", true, &r));
  assert_false(pt_request_split(NULL, true, &r));
  char *long_path = malloc(PT_MAX_PATH_LEN + 2);
  memset(long_path, 'a', PT_MAX_PATH_LEN + 1);
  long_path[0] = '/';
  long_path[PT_MAX_PATH_LEN + 1] = '\0';
  assert_false(pt_request_split(long_path, true, &r));
  free(long_path);
  char many[4 * (PT_MAX_REQUEST_SEGMENTS + 1) + 1];
  size_t o = 0;
  for (int i = 0; i <= PT_MAX_REQUEST_SEGMENTS; i++) o += (size_t)snprintf(many + o, sizeof many - o, "/s");
  assert_false(pt_request_split(many, true, &r));
}

static void test_matches_literals_and_wildcards(void **state) {
  (void)state;
  arena *a = arena_create(0);
  pt_binding b[PT_MAX_VARIABLES];
  int n;
  path_template *t = parse_ok("/v1/*/files/**");
  assert_true(match(t, "/v1/x/files", a, b, &n));
  assert_true(match(t, "/v1/x/files/a/b/c", a, b, &n));
  assert_int_equal(n, 0);
  assert_false(match(t, "/v1/files", a, b, &n));
  assert_false(match(t, "/v2/x/files", a, b, &n));
  assert_false(match(t, "/V1/x/files", a, b, &n));
  path_template_free(t);
  arena_destroy(a);
}

static void test_binds_multi_segment_and_deep_variables(void **state) {
  (void)state;
  arena *a = arena_create(0);
  pt_binding b[PT_MAX_VARIABLES];
  int n;
  path_template *t = parse_ok("/v1/{name=stations/*}/{rest=**}");
  assert_true(match(t, "/v1/stations/ben-thanh/a/b", a, b, &n));
  assert_int_equal(n, 2);
  assert_string_equal(b[0].field_path, "name");
  assert_string_equal(b[0].value, "stations/ben-thanh");
  assert_string_equal(b[1].value, "a/b");
  assert_true(match(t, "/v1/stations/x", a, b, &n));
  assert_string_equal(b[1].value, "");
  assert_false(match(t, "/v1/lines/x", a, b, &n));
  path_template_free(t);
  arena_destroy(a);
}

static void test_binds_nested_field_path_with_verb(void **state) {
  (void)state;
  arena *a = arena_create(0);
  pt_binding b[PT_MAX_VARIABLES];
  int n;
  path_template *t = parse_ok("/v1/items/{inner.label}:tag");
  assert_true(match(t, "/v1/items/blue:tag", a, b, &n));
  assert_string_equal(b[0].field_path, "inner.label");
  assert_string_equal(b[0].value, "blue");
  assert_false(match(t, "/v1/items/blue:other", a, b, &n));
  assert_false(match(t, "/v1/items/blue", a, b, &n));
  path_template_free(t);
  arena_destroy(a);
}

static void test_percent_decoding_single_vs_multi_segment(void **state) {
  (void)state;
  arena *a = arena_create(0);
  pt_binding b[PT_MAX_VARIABLES];
  int n;
  path_template *single = parse_ok("/v1/users/{id}");
  assert_true(match(single, "/v1/users/a%2Fb%20c%3a", a, b, &n));
  assert_string_equal(b[0].value, "a/b c:");
  path_template *multi = parse_ok("/v1/{name=users/*}");
  assert_true(match(multi, "/v1/users/a%2fb%20c", a, b, &n));
  assert_string_equal(b[0].value, "users/a%2fb c");
  path_template_free(single);
  path_template_free(multi);
  arena_destroy(a);
}

static void test_invalid_percent_escapes_do_not_bind(void **state) {
  (void)state;
  arena *a = arena_create(0);
  pt_binding b[PT_MAX_VARIABLES];
  int n;
  path_template *t = parse_ok("/v1/users/{id}");
  assert_false(match(t, "/v1/users/%zz", a, b, &n));
  assert_false(match(t, "/v1/users/abc%4", a, b, &n));
  assert_false(match(t, "/v1/users/abc%", a, b, &n));
  assert_false(match(t, "/v1/users/a%00b", a, b, &n));
  assert_null(pt_percent_decode(a, "%g1", 3, false));
  assert_string_equal(pt_percent_decode(a, "%41%2F", 6, true), "A%2F");
  path_template_free(t);
  arena_destroy(a);
}

static void test_literals_compare_exactly(void **state) {
  (void)state;
  arena *a = arena_create(0);
  pt_binding b[PT_MAX_VARIABLES];
  int n;
  path_template *t = parse_ok("/v1/echo");
  assert_true(match(t, "/v1/echo", a, b, &n));
  assert_false(match(t, "/v1/ech%6F", a, b, &n));
  assert_false(match(t, "/v1/echo2", a, b, &n));
  assert_false(match(t, "/v1/ech", a, b, &n));
  path_template_free(t);
  arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parses_literal_segments),
      cmocka_unit_test(test_parses_wildcards),
      cmocka_unit_test(test_bare_variable_is_single_wildcard),
      cmocka_unit_test(test_variable_with_segments),
      cmocka_unit_test(test_nested_field_path),
      cmocka_unit_test(test_verb_after_literal_and_variable),
      cmocka_unit_test(test_rejects_unbalanced_braces),
      cmocka_unit_test(test_rejects_empty_segments),
      cmocka_unit_test(test_rejects_bad_verbs),
      cmocka_unit_test(test_rejects_nested_variables),
      cmocka_unit_test(test_rejects_other_malformations),
      cmocka_unit_test(test_rejects_oversized_templates),
      cmocka_unit_test(test_split_cuts_segments_and_verb),
      cmocka_unit_test(test_split_rejects_hostile_paths),
      cmocka_unit_test(test_matches_literals_and_wildcards),
      cmocka_unit_test(test_binds_multi_segment_and_deep_variables),
      cmocka_unit_test(test_binds_nested_field_path_with_verb),
      cmocka_unit_test(test_percent_decoding_single_vs_multi_segment),
      cmocka_unit_test(test_invalid_percent_escapes_do_not_bind),
      cmocka_unit_test(test_literals_compare_exactly),
  };
  return cmocka_run_group_tests_name("path_template", tests, NULL, NULL);
}
