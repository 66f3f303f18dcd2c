/* Unit tests of common/log: each line is valid JSON with the expected fields, strings are
 * escaped (quotes, control bytes, invalid UTF-8), the level filter and per-thread context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/log.h"

/* stdout is swapped for a temporary file between capture_begin and capture_end. */
static FILE *g_capture;
static int g_saved_stdout = -1;

static void capture_begin(void) {
  fflush(stdout);
  g_capture = tmpfile();
  assert_non_null(g_capture);
  g_saved_stdout = dup(STDOUT_FILENO);
  assert_true(g_saved_stdout >= 0);
  assert_true(dup2(fileno(g_capture), STDOUT_FILENO) >= 0);
}

/* Returns what was written while capturing (caller frees). */
static char *capture_end(void) {
  assert_true(dup2(g_saved_stdout, STDOUT_FILENO) >= 0);
  close(g_saved_stdout);
  off_t len = lseek(fileno(g_capture), 0, SEEK_END);
  assert_true(len >= 0);
  char *text = calloc(1, (size_t)len + 1);
  assert_non_null(text);
  assert_int_equal(pread(fileno(g_capture), text, (size_t)len, 0), len);
  fclose(g_capture);
  return text;
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* Parses a single captured line as a JSON object. */
static json_t *parse_line(const char *text) {
  json_error_t error;
  json_t *obj = json_loads(text, JSON_DISABLE_EOF_CHECK, &error);
  if (!obj) fail_msg("not JSON: %s (%s)", text, error.text);
  assert_true(json_is_object(obj));
  return obj;
}

static const char *field(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static int setup(void **state) {
  (void)state;
  log_init("test-svc", LOG_DEBUG);
  log_set_context(NULL, NULL);
  return 0;
}

static void test_line_has_time_level_service_and_message(void **state) {
  (void)state;
  capture_begin();
  log_info("hello %d", 42);
  char *out = capture_end();
  assert_int_equal(count_lines(out), 1);
  json_t *obj = parse_line(out);
  assert_string_equal(field(obj, "level"), "info");
  assert_string_equal(field(obj, "service"), "test-svc");
  assert_string_equal(field(obj, "msg"), "hello 42");
  assert_null(json_object_get(obj, "requestId"));
  regex_t re;
  assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$", REG_EXTENDED),
                   0);
  assert_int_equal(regexec(&re, field(obj, "time"), 0, NULL, 0), 0);
  regfree(&re);
  json_decref(obj);
  free(out);
}

static void test_message_quotes_backslashes_and_control_bytes_are_escaped(void **state) {
  (void)state;
  const char *nasty = "say \"hi\" \\ back\nslash\ttab\r\x01\x1f\x7f end";
  capture_begin();
  log_warn("%s", nasty);
  char *out = capture_end();
  assert_int_equal(count_lines(out), 1); /* the newline inside stayed escaped */
  json_t *obj = parse_line(out);
  assert_string_equal(field(obj, "msg"), nasty);
  assert_string_equal(field(obj, "level"), "warn");
  assert_non_null(strstr(out, "\\u0001"));
  json_decref(obj);
  free(out);
}

static void test_invalid_utf8_becomes_replacement_character(void **state) {
  (void)state;
  /* a stray continuation byte, a truncated sequence, an overlong '/' and a surrogate */
  capture_begin();
  log_error("a\x80" "b\xE2\x82" "c\xC0\xAF" "d\xED\xA0\x80" "e");
  char *out = capture_end();
  json_t *obj = parse_line(out); /* jansson rejects invalid UTF-8, so this proves it */
  const char *msg = field(obj, "msg");
  assert_non_null(msg);
  assert_int_equal(msg[0], 'a');
  assert_non_null(strstr(msg, "\xEF\xBF\xBD" "b"));
  assert_int_equal(msg[strlen(msg) - 1], 'e');
  json_decref(obj);
  free(out);
}

static void test_valid_utf8_passes_through(void **state) {
  (void)state;
  const char *text = "Bến Thành \xF0\x9F\x9A\x87";
  capture_begin();
  log_info("%s", text);
  char *out = capture_end();
  json_t *obj = parse_line(out);
  assert_string_equal(field(obj, "msg"), text);
  json_decref(obj);
  free(out);
}

static void test_lines_below_min_level_are_dropped(void **state) {
  (void)state;
  log_init("test-svc", LOG_WARN);
  capture_begin();
  log_debug("no");
  log_info("no");
  log_warn("yes");
  log_error("yes");
  char *out = capture_end();
  assert_int_equal(count_lines(out), 2);
  assert_null(strstr(out, "\"no\""));
  free(out);
  log_init("test-svc", LOG_DEBUG);
}

static void test_level_parse_knows_the_four_names(void **state) {
  (void)state;
  assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
  assert_int_equal(log_level_parse("info"), LOG_INFO);
  assert_int_equal(log_level_parse("WARN"), LOG_WARN);
  assert_int_equal(log_level_parse("error"), LOG_ERROR);
  assert_int_equal(log_level_parse("verbose"), -1);
  assert_int_equal(log_level_parse(""), -1);
  assert_int_equal(log_level_parse(NULL), -1);
}

static void test_context_is_stamped_escaped_and_cleared(void **state) {
  (void)state;
  capture_begin();
  log_set_context("req-\"1\"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  log_info("with");
  log_set_context(NULL, NULL);
  log_info("without");
  char *out = capture_end();
  assert_int_equal(count_lines(out), 2);
  json_t *first = parse_line(out);
  assert_string_equal(field(first, "requestId"), "req-\"1\"");
  assert_string_equal(field(first, "traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
  json_t *second = parse_line(strchr(out, '\n') + 1);
  assert_null(json_object_get(second, "requestId"));
  assert_null(json_object_get(second, "traceId"));
  json_decref(first);
  json_decref(second);
  free(out);
}

static void test_overlong_context_and_message_are_bounded(void **state) {
  (void)state;
  size_t big = 100000;
  char *huge = malloc(big + 1);
  assert_non_null(huge);
  memset(huge, 'x', big);
  huge[big] = '\0';
  capture_begin();
  log_set_context(huge, huge);
  log_info("%s", huge);
  log_set_context(NULL, NULL);
  char *out = capture_end();
  json_t *obj = parse_line(out);
  assert_true(strlen(field(obj, "requestId")) <= 128);
  assert_true(strlen(field(obj, "traceId")) <= 128);
  size_t msg_len = strlen(field(obj, "msg"));
  assert_true(msg_len > 1024 && msg_len < big);
  json_decref(obj);
  free(out);
  free(huge);
}

enum { THREADS = 4, LINES_PER_THREAD = 500 };

static void *log_from_thread(void *arg) {
  char id[32];
  snprintf(id, sizeof id, "thread-%d", (int)(intptr_t)arg);
  log_set_context(id, NULL);
  for (int i = 0; i < LINES_PER_THREAD; i++) log_info("line %d from %s with some padding to make it longer", i, id);
  log_set_context(NULL, NULL);
  return NULL;
}

static void test_lines_from_threads_never_interleave(void **state) {
  (void)state;
  capture_begin();
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&threads[i], NULL, log_from_thread, (void *)(intptr_t)i), 0);
  for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
  char *out = capture_end();
  assert_int_equal(count_lines(out), THREADS * LINES_PER_THREAD);
  for (char *line = out; *line;) {
    char *nl = strchr(line, '\n');
    *nl = '\0';
    json_t *obj = parse_line(line);
    const char *rid = field(obj, "requestId");
    assert_non_null(rid);
    assert_non_null(strstr(field(obj, "msg"), rid)); /* the context belongs to the writing thread */
    json_decref(obj);
    line = nl + 1;
  }
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_line_has_time_level_service_and_message, setup),
      cmocka_unit_test_setup(test_message_quotes_backslashes_and_control_bytes_are_escaped, setup),
      cmocka_unit_test_setup(test_invalid_utf8_becomes_replacement_character, setup),
      cmocka_unit_test_setup(test_valid_utf8_passes_through, setup),
      cmocka_unit_test_setup(test_lines_below_min_level_are_dropped, setup),
      cmocka_unit_test_setup(test_level_parse_knows_the_four_names, setup),
      cmocka_unit_test_setup(test_context_is_stamped_escaped_and_cleared, setup),
      cmocka_unit_test_setup(test_overlong_context_and_message_are_bounded, setup),
      cmocka_unit_test_setup(test_lines_from_threads_never_interleave, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
