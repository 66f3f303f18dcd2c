/* Unit tests of common/config: integer and boolean parsing, defaults, required settings
 * and the stderr report for bad values (which never shows a secret). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"

/* Runs cfg_load with stderr sent to a temporary file; returns what was written (caller frees). */
static char *load_capturing_stderr(const cfg_setting *settings, int count, bool *ok) {
  fflush(stderr);
  FILE *tmp = tmpfile();
  assert_non_null(tmp);
  int saved = dup(STDERR_FILENO);
  assert_true(saved >= 0);
  assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
  *ok = cfg_load(settings, count);
  fflush(stderr);
  assert_true(dup2(saved, STDERR_FILENO) >= 0);
  close(saved);
  off_t len = lseek(fileno(tmp), 0, SEEK_END);
  assert_true(len >= 0);
  char *text = calloc(1, (size_t)len + 1);
  assert_non_null(text);
  assert_int_equal(pread(fileno(tmp), text, (size_t)len, 0), len);
  fclose(tmp);
  return text;
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

static void test_parse_int_accepts_values_within_inclusive_bounds(void **state) {
  (void)state;
  int64_t v = 0;
  assert_true(cfg_parse_int("1", 1, 65535, &v));
  assert_int_equal(v, 1);
  assert_true(cfg_parse_int("65535", 1, 65535, &v));
  assert_int_equal(v, 65535);
  assert_true(cfg_parse_int("-5", -10, 10, &v));
  assert_int_equal(v, -5);
  assert_true(cfg_parse_int("+7", 0, 10, &v));
  assert_int_equal(v, 7);
  assert_true(cfg_parse_int("9223372036854775807", INT64_MIN, INT64_MAX, &v));
  assert_true(v == INT64_MAX);
}

static void test_parse_int_rejects_out_of_bounds_junk_and_overflow(void **state) {
  (void)state;
  int64_t v = 42;
  const char *bad[] = {"0", "65536", "", " 80", "80 ", "8o", "0x50", "1e3", "-", "+", "99999999999999999999", NULL};
  for (int i = 0; bad[i]; i++) assert_false(cfg_parse_int(bad[i], 1, 65535, &v));
  assert_false(cfg_parse_int(NULL, 1, 65535, &v));
  assert_int_equal(v, 42);
}

static void test_parse_bool_accepts_true_false_one_zero_yes_no(void **state) {
  (void)state;
  const struct { const char *text; bool want; } cases[] = {
      {"true", true}, {"false", false}, {"1", true}, {"0", false}, {"yes", true},
      {"no", false},  {"TRUE", true},   {"No", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bool v = !cases[i].want;
    assert_true(cfg_parse_bool(cases[i].text, &v));
    assert_int_equal(v, cases[i].want);
  }
}

static void test_parse_bool_rejects_other_words(void **state) {
  (void)state;
  bool v = true;
  const char *bad[] = {"", "y", "on", "2", "truee", " true", NULL};
  for (int i = 0; bad[i]; i++) assert_false(cfg_parse_bool(bad[i], &v));
  assert_false(cfg_parse_bool(NULL, &v));
}

static void test_load_uses_defaults_when_unset_or_empty(void **state) {
  (void)state;
  unsetenv("METRO_T_PORT");
  setenv("METRO_T_DEBUG", "", 1);
  unsetenv("METRO_T_NAME");
  unsetenv("METRO_T_OPTIONAL");
  int64_t port = 0;
  bool debug = false;
  char *name = NULL, *optional = (char *)"untouched";
  const cfg_setting settings[] = {
      {"METRO_T_PORT", CFG_INT, "50051", false, 1, 65535, &port, "gRPC port"},
      {"METRO_T_DEBUG", CFG_BOOL, "yes", false, 0, 0, &debug, NULL},
      {"METRO_T_NAME", CFG_STRING, "metro", false, 0, 0, &name, NULL},
      {"METRO_T_OPTIONAL", CFG_STRING, NULL, false, 0, 0, &optional, NULL},
  };
  bool ok;
  char *err = load_capturing_stderr(settings, 4, &ok);
  assert_true(ok);
  assert_string_equal(err, "");
  assert_int_equal(port, 50051);
  assert_true(debug);
  assert_string_equal(name, "metro");
  assert_null(optional);
  free(err);
}

static void test_load_reads_environment_over_defaults(void **state) {
  (void)state;
  setenv("METRO_T_PORT", "8080", 1);
  setenv("METRO_T_DEBUG", "0", 1);
  setenv("METRO_T_NAME", "ticketing", 1);
  int64_t port = 0;
  bool debug = true;
  char *name = NULL;
  const cfg_setting settings[] = {
      {"METRO_T_PORT", CFG_INT, "50051", false, 1, 65535, &port, NULL},
      {"METRO_T_DEBUG", CFG_BOOL, "yes", false, 0, 0, &debug, NULL},
      {"METRO_T_NAME", CFG_STRING, "metro", false, 0, 0, &name, NULL},
  };
  bool ok;
  char *err = load_capturing_stderr(settings, 3, &ok);
  assert_true(ok);
  assert_string_equal(err, "");
  assert_int_equal(port, 8080);
  assert_false(debug);
  assert_string_equal(name, "ticketing");
  free(err);
  unsetenv("METRO_T_PORT");
  unsetenv("METRO_T_DEBUG");
  unsetenv("METRO_T_NAME");
}

static void test_load_reports_missing_required_setting_by_name(void **state) {
  (void)state;
  unsetenv("METRO_T_PG_URL");
  char *url = NULL;
  const cfg_setting settings[] = {
      {"METRO_T_PG_URL", CFG_STRING, NULL, true, 0, 0, &url, "PostgreSQL connection URL"},
  };
  bool ok;
  char *err = load_capturing_stderr(settings, 1, &ok);
  assert_false(ok);
  assert_int_equal(count_lines(err), 1);
  assert_non_null(strstr(err, "METRO_T_PG_URL"));
  assert_non_null(strstr(err, "required"));
  assert_non_null(strstr(err, "PostgreSQL connection URL"));
  free(err);
}

static void test_load_reports_each_bad_value_on_its_own_line(void **state) {
  (void)state;
  setenv("METRO_T_PORT", "70000", 1);
  setenv("METRO_T_DEBUG", "maybe", 1);
  setenv("METRO_T_WORKERS", "4", 1);
  int64_t port = 0, workers = 0;
  bool debug = false;
  const cfg_setting settings[] = {
      {"METRO_T_PORT", CFG_INT, "50051", false, 1, 65535, &port, NULL},
      {"METRO_T_DEBUG", CFG_BOOL, NULL, false, 0, 0, &debug, NULL},
      {"METRO_T_WORKERS", CFG_INT, "2", false, 1, 64, &workers, NULL},
  };
  bool ok;
  char *err = load_capturing_stderr(settings, 3, &ok);
  assert_false(ok);
  assert_int_equal(count_lines(err), 2);
  char *port_line = strstr(err, "METRO_T_PORT");
  assert_non_null(port_line);
  assert_non_null(strstr(err, "from 1 to 65535"));
  assert_non_null(strstr(err, "\"70000\""));
  assert_non_null(strstr(err, "METRO_T_DEBUG"));
  assert_non_null(strstr(err, "true/false"));
  assert_non_null(strstr(err, "\"maybe\""));
  assert_int_equal(workers, 4); /* good settings are still loaded */
  free(err);
  unsetenv("METRO_T_PORT");
  unsetenv("METRO_T_DEBUG");
  unsetenv("METRO_T_WORKERS");
}

static void test_load_shows_control_bytes_of_bad_value_escaped(void **state) {
  (void)state;
  setenv("METRO_T_PORT", "80\n\x1b[31m", 1);
  int64_t port = 0;
  const cfg_setting settings[] = {{"METRO_T_PORT", CFG_INT, NULL, true, 1, 65535, &port, NULL}};
  bool ok;
  char *err = load_capturing_stderr(settings, 1, &ok);
  assert_false(ok);
  assert_int_equal(count_lines(err), 1);
  assert_null(strchr(err, '\x1b'));
  assert_non_null(strstr(err, "\\x0a"));
  free(err);
  unsetenv("METRO_T_PORT");
}

static void test_load_keeps_secret_and_never_echoes_it(void **state) {
  (void)state;
  setenv("METRO_T_JWT_SECRET", "s3cr3t-value", 1);
  setenv("METRO_T_PORT", "not-a-port", 1);
  char *secret = NULL;
  int64_t port = 0;
  const cfg_setting settings[] = {
      {"METRO_T_JWT_SECRET", CFG_SECRET, NULL, true, 0, 0, &secret, NULL},
      {"METRO_T_PORT", CFG_INT, NULL, true, 1, 65535, &port, NULL},
  };
  bool ok;
  char *err = load_capturing_stderr(settings, 2, &ok);
  assert_false(ok);
  assert_string_equal(secret, "s3cr3t-value");
  assert_int_equal(count_lines(err), 1);
  assert_non_null(strstr(err, "METRO_T_PORT"));
  assert_null(strstr(err, "s3cr3t"));
  free(err);
  unsetenv("METRO_T_JWT_SECRET");
  unsetenv("METRO_T_PORT");
}

static void test_missing_required_secret_is_named(void **state) {
  (void)state;
  unsetenv("METRO_T_JWT_SECRET");
  char *secret = NULL;
  const cfg_setting settings[] = {
      {"METRO_T_JWT_SECRET", CFG_SECRET, NULL, true, 0, 0, &secret, "HMAC key"},
  };
  bool ok;
  char *err = load_capturing_stderr(settings, 1, &ok);
  assert_false(ok);
  assert_int_equal(count_lines(err), 1);
  assert_non_null(strstr(err, "METRO_T_JWT_SECRET"));
  assert_non_null(strstr(err, "required"));
  assert_null(secret);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_int_accepts_values_within_inclusive_bounds),
      cmocka_unit_test(test_parse_int_rejects_out_of_bounds_junk_and_overflow),
      cmocka_unit_test(test_parse_bool_accepts_true_false_one_zero_yes_no),
      cmocka_unit_test(test_parse_bool_rejects_other_words),
      cmocka_unit_test(test_load_uses_defaults_when_unset_or_empty),
      cmocka_unit_test(test_load_reads_environment_over_defaults),
      cmocka_unit_test(test_load_reports_missing_required_setting_by_name),
      cmocka_unit_test(test_load_reports_each_bad_value_on_its_own_line),
      cmocka_unit_test(test_load_shows_control_bytes_of_bad_value_escaped),
      cmocka_unit_test(test_load_keeps_secret_and_never_echoes_it),
      cmocka_unit_test(test_missing_required_secret_is_named),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
