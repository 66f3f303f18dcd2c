/* Unit tests of transcoder/path_template: every element of the google.api.http template
 * grammar and Metro's ".ext" suffix, malformed templates, request splitting and
 * percent-decoded variable binding. */
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
  if (pt_request_split(path, t->tail_kind, &req) && path_template_accepts(t, &req))
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
  assert_int_equal(t->tail_kind, PT_TAIL_NONE);
  assert_null(t->tail);
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
  assert_int_equal(t->tail_kind, PT_TAIL_VERB);
  assert_string_equal(t->tail, "change");
  assert_string_equal(t->segments[2].literal, "password");
  path_template_free(t);
  t = parse_ok("/v1/{name=stations/*}:echo");
  assert_string_equal(t->tail, "echo");
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

static void test_suffix_after_single_segment_variable(void **state) {
  (void)state;
  path_template *t = parse_ok("/v1/reports/{report_id}.csv");
  assert_int_equal(t->tail_kind, PT_TAIL_SUFFIX);
  assert_string_equal(t->tail, "csv");
  assert_int_equal(t->n_segments, 3);
  assert_int_equal(t->segments[2].kind, PT_WILDCARD);
  assert_string_equal(t->variables[0].field_path, "report_id");
  assert_true(path_template_single_segment(t, &t->variables[0]));
  path_template_free(t);
  t = parse_ok("/v1/reports/{report_id}/charts/{chart=*}.svg");
  assert_int_equal(t->tail_kind, PT_TAIL_SUFFIX);
  assert_string_equal(t->tail, "svg");
  assert_int_equal(t->n_variables, 2);
  assert_int_equal(t->variables[1].first, 4);
  path_template_free(t);
  t = parse_ok("/v1/f/{a}.Mp4x0123456789ab"); /* 16 letters or digits, any case */
  assert_string_equal(t->tail, "Mp4x0123456789ab");
  path_template_free(t);
  /* a verb may still hold a dot */
  t = parse_ok("/v1/f/{a}:export.csv");
  assert_int_equal(t->tail_kind, PT_TAIL_VERB);
  assert_string_equal(t->tail, "export.csv");
  path_template_free(t);
}

static void test_dotted_literal_stays_a_literal(void **state) {
  (void)state;
  path_template *t = parse_ok("/v1/files/x.csv");
  assert_int_equal(t->tail_kind, PT_TAIL_NONE);
  assert_int_equal(t->n_segments, 3);
  assert_string_equal(t->segments[2].literal, "x.csv");
  path_template_free(t);
  t = parse_ok("/v1/{a}/index.html");
  assert_int_equal(t->tail_kind, PT_TAIL_NONE);
  assert_string_equal(t->segments[2].literal, "index.html");
  path_template_free(t);
}

static void test_rejects_bad_suffixes(void **state) {
  (void)state;
  const char *only_after = "may only follow a last variable";
  assert_rejected("/v1/{a=**}.csv", only_after);
  assert_rejected("/v1/{a=x/*}.csv", only_after);
  assert_rejected("/v1/{a=x}.csv", only_after);
  assert_rejected("/v1/*.csv", only_after);
  assert_rejected("/v1/**.csv", only_after);
  assert_rejected("/v1/{a=*.csv}", "unexpected character '.' in variable");
  assert_rejected("/v1/{a}.csv:verb", "a verb and an extension together");
  assert_rejected("/v1/{a}.", "bad extension");
  assert_rejected("/v1/{a}.c-v", "bad extension");
  assert_rejected("/v1/{a}.tar.gz", "bad extension");
  assert_rejected("/v1/{a}.csv/x", "bad extension");
  assert_rejected("/v1/{a}.c%41", "bad extension");
  assert_rejected("/v1/{a}.abcdefghijklmnopq", "bad extension"); /* 17 */
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
  assert_true(pt_request_split("/v1/stations/ben-thanh:echo", PT_TAIL_VERB, &r));
  assert_int_equal(r.n_segments, 3);
  assert_int_equal(r.lengths[2], strlen("ben-thanh"));
  assert_int_equal(r.tail_kind, PT_TAIL_VERB);
  assert_int_equal(r.tail_len, 4);
  assert_memory_equal(r.tail, "echo", 4);
  assert_true(pt_request_split("/v1/stations/ben-thanh:echo", PT_TAIL_NONE, &r));
  assert_int_equal(r.tail_kind, PT_TAIL_NONE);
  assert_null(r.tail);
  assert_int_equal(r.lengths[2], strlen("ben-thanh:echo"));
  assert_true(pt_request_split("/v1/x:", PT_TAIL_VERB, &r)); /* empty verb: not split */
  assert_null(r.tail);
  assert_true(pt_request_split("/v1/:x", PT_TAIL_VERB, &r)); /* empty name: not split */
  assert_null(r.tail);
}

/* Splits path with `kind` and says whether it cut off `tail`, leaving `name` as the last segment. */
static void assert_split(const char *path, pt_tail_kind kind, const char *name, const char *tail) {
  pt_request r;
  assert_true(pt_request_split(path, kind, &r));
  int last = r.n_segments - 1;
  if (r.lengths[last] != strlen(name) || memcmp(r.segments[last], name, strlen(name)) != 0)
    fail_msg("%s: last segment \"%.*s\", expected \"%s\"", path, (int)r.lengths[last], r.segments[last], name);
  if (!tail) {
    assert_int_equal(r.tail_kind, PT_TAIL_NONE);
    assert_null(r.tail);
    return;
  }
  assert_int_equal(r.tail_kind, kind);
  assert_int_equal(r.tail_len, strlen(tail));
  assert_memory_equal(r.tail, tail, strlen(tail));
}

static void test_split_cuts_suffix(void **state) {
  (void)state;
  assert_split("/v1/reports/r-1.csv", PT_TAIL_SUFFIX, "r-1", "csv");
  assert_split("/v1/reports/r.2024.csv", PT_TAIL_SUFFIX, "r.2024", "csv"); /* at the last '.' */
  assert_split("/v1/reports/r%201.Svg", PT_TAIL_SUFFIX, "r%201", "Svg");
  assert_split("/v1/reports/r.abcdefghijklmnop", PT_TAIL_SUFFIX, "r", "abcdefghijklmnop");
  /* not a suffix: the whole segment stays */
  assert_split("/v1/reports/.csv", PT_TAIL_SUFFIX, ".csv", NULL);
  assert_split("/v1/reports/r-1.", PT_TAIL_SUFFIX, "r-1.", NULL);
  assert_split("/v1/reports/r.abcdefghijklmnopq", PT_TAIL_SUFFIX, "r.abcdefghijklmnopq", NULL);
  assert_split("/v1/reports/r.c-v", PT_TAIL_SUFFIX, "r.c-v", NULL);
  assert_split("/v1/reports/r.c%41", PT_TAIL_SUFFIX, "r.c%41", NULL);
  assert_split("/v1/reports/r-1%2Ecsv", PT_TAIL_SUFFIX, "r-1%2Ecsv", NULL);
  assert_split("/v1/reports/r-1:csv", PT_TAIL_SUFFIX, "r-1:csv", NULL);
  assert_split("/v1/reports.csv/r-1", PT_TAIL_SUFFIX, "r-1", NULL); /* only the last segment */
  /* each reading splits at its own separator only */
  assert_split("/v1/reports/r-1.csv", PT_TAIL_NONE, "r-1.csv", NULL);
  assert_split("/v1/reports/r-1.csv", PT_TAIL_VERB, "r-1.csv", NULL);
  assert_split("/v1/reports/a:b.csv", PT_TAIL_VERB, "a", "b.csv");
  assert_split("/v1/reports/a:b.csv", PT_TAIL_SUFFIX, "a:b", "csv");
}

static void test_split_rejects_hostile_paths(void **state) {
  (void)state;
  pt_request r;
  assert_false(pt_request_split("", PT_TAIL_VERB, &r));
  assert_false(pt_request_split("/", PT_TAIL_VERB, &r));
  assert_false(pt_request_split("v1/x", PT_TAIL_VERB, &r));
  assert_false(pt_request_split("/v1//x", PT_TAIL_VERB, &r));
  assert_false(pt_request_split("/v1/x/", PT_TAIL_SUFFIX, &r));
  assert_false(pt_request_split("/.csv/", PT_TAIL_SUFFIX, &r));
  assert_false(pt_request_split(NULL, PT_TAIL_SUFFIX, &r));
  char *long_path = malloc(PT_MAX_PATH_LEN + 2);
  memset(long_path, 'a', PT_MAX_PATH_LEN + 1);
  long_path[0] = '/';
  long_path[PT_MAX_PATH_LEN + 1] = '\0';
  assert_false(pt_request_split(long_path, PT_TAIL_VERB, &r));
  free(long_path);
  char many[4 * (PT_MAX_REQUEST_SEGMENTS + 1) + 1];
  size_t o = 0;
  for (int i = 0; i <= PT_MAX_REQUEST_SEGMENTS; i++) o += (size_t)snprintf(many + o, sizeof many - o, "/s");
  assert_false(pt_request_split(many, PT_TAIL_SUFFIX, &r));
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

static void test_binds_suffix_variable(void **state) {
  (void)state;
  arena *a = arena_create(0);
  pt_binding b[PT_MAX_VARIABLES];
  int n;
  path_template *t = parse_ok("/v1/reports/{report_id}.csv");
  assert_true(match(t, "/v1/reports/r-1.csv", a, b, &n));
  assert_int_equal(n, 1);
  assert_string_equal(b[0].field_path, "report_id");
  assert_string_equal(b[0].value, "r-1");
  assert_true(match(t, "/v1/reports/q%201%2F2%2Ecsv.csv", a, b, &n)); /* decoded as a single segment */
  assert_string_equal(b[0].value, "q 1/2.csv");
  assert_true(match(t, "/v1/reports/r.2024.csv", a, b, &n));
  assert_string_equal(b[0].value, "r.2024");
  assert_false(match(t, "/v1/reports/r-1.svg", a, b, &n));
  assert_false(match(t, "/v1/reports/r-1.CSV", a, b, &n)); /* extensions compare exactly */
  assert_false(match(t, "/v1/reports/r-1", a, b, &n));
  assert_false(match(t, "/v1/reports/.csv", a, b, &n));
  assert_false(match(t, "/v1/reports/r-1%2Ecsv", a, b, &n));
  assert_false(match(t, "/v1/reports/r-1.csv/x", a, b, &n));
  assert_false(match(t, "/v1/reports/%zz.csv", a, b, &n));
  path_template_free(t);
  t = parse_ok("/v1/reports/{report_id}/charts/{chart}.svg");
  assert_true(match(t, "/v1/reports/r-1/charts/by.hour.svg", a, b, &n));
  assert_int_equal(n, 2);
  assert_string_equal(b[0].value, "r-1");
  assert_string_equal(b[1].field_path, "chart");
  assert_string_equal(b[1].value, "by.hour");
  assert_false(match(t, "/v1/reports/r-1.svg/charts/c", a, b, &n));
  path_template_free(t);
  /* a plain template takes the dotted segment whole */
  t = parse_ok("/v1/reports/{report_id}");
  assert_true(match(t, "/v1/reports/r-1.csv", a, b, &n));
  assert_string_equal(b[0].value, "r-1.csv");
  assert_true(match(t, "/v1/reports/.csv", a, b, &n));
  assert_string_equal(b[0].value, ".csv");
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
      cmocka_unit_test(test_suffix_after_single_segment_variable),
      cmocka_unit_test(test_dotted_literal_stays_a_literal),
      cmocka_unit_test(test_rejects_bad_suffixes),
      cmocka_unit_test(test_rejects_nested_variables),
      cmocka_unit_test(test_rejects_other_malformations),
      cmocka_unit_test(test_rejects_oversized_templates),
      cmocka_unit_test(test_split_cuts_segments_and_verb),
      cmocka_unit_test(test_split_cuts_suffix),
      cmocka_unit_test(test_split_rejects_hostile_paths),
      cmocka_unit_test(test_matches_literals_and_wildcards),
      cmocka_unit_test(test_binds_multi_segment_and_deep_variables),
      cmocka_unit_test(test_binds_nested_field_path_with_verb),
      cmocka_unit_test(test_binds_suffix_variable),
      cmocka_unit_test(test_percent_decoding_single_vs_multi_segment),
      cmocka_unit_test(test_invalid_percent_escapes_do_not_bind),
      cmocka_unit_test(test_literals_compare_exactly),
  };
  return cmocka_run_group_tests_name("path_template", tests, NULL, NULL);
}
