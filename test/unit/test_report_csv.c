/* The report CSV (RFC 4180): quoting of commas, quotes, CR and LF, CRLF records, UTF-8 kept byte
 * for byte or repaired, the formula-injection guard on text fields, numbers as numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "svc/report/report.h"

#define HEADER "section,metric,dimension,dimension_name,value\r\n"

static Metro__Report__V1__ReportItem item(const char *section, const char *metric, const char *dimension,
                                          const char *name, int64_t value) {
  Metro__Report__V1__ReportItem it = METRO__REPORT__V1__REPORT_ITEM__INIT;
  it.section = (char *)section;
  it.metric = (char *)metric;
  it.dimension = (char *)dimension;
  it.dimension_name = (char *)name;
  it.value = value;
  return it;
}

/* The CSV of one item, header stripped (the test owns the arena). */
static const char *one_record(arena *a, Metro__Report__V1__ReportItem it) {
  Metro__Report__V1__ReportItem *items[] = {&it};
  size_t len = 0;
  char *csv = rp_csv(a, items, 1, &len);
  assert_int_equal(len, strlen(csv));
  assert_memory_equal(csv, HEADER, strlen(HEADER));
  return csv + strlen(HEADER);
}

static void test_empty_list_is_the_header_alone(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  size_t len = 99;
  char *csv = rp_csv(a, NULL, 0, &len);
  assert_string_equal(csv, HEADER);
  assert_int_equal(len, strlen(HEADER));
  arena_destroy(a);
}

static void test_plain_records_end_with_crlf(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  Metro__Report__V1__ReportItem it[] = {
      item("totals", "registrations", "", "", 42),
      item("revenue_by_day", "revenue_vnd", "2026-12-02", "", 1250000),
      item("top_stations", "taps", "ben-thanh", "Bến Thành", 7),
  };
  Metro__Report__V1__ReportItem *items[] = {&it[0], &it[1], &it[2]};
  size_t len = 0;
  char *csv = rp_csv(a, items, 3, &len);
  assert_string_equal(csv, HEADER "totals,registrations,,,42\r\n"
                               "revenue_by_day,revenue_vnd,2026-12-02,,1250000\r\n"
                               "top_stations,taps,ben-thanh,Bến Thành,7\r\n");
  assert_int_equal(len, strlen(csv));
  /* No bare LF anywhere: every LF follows a CR. */
  for (size_t i = 0; i < len; i++)
    if (csv[i] == '\n') assert_true(i > 0 && csv[i - 1] == '\r');
  arena_destroy(a);
}

static void test_rfc4180_quoting(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  assert_string_equal(one_record(a, item("s", "m", "d", "Bến Thành, Quận 1", 1)),
                      "s,m,d,\"Bến Thành, Quận 1\",1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "the \"big\" one", 1)), "s,m,d,\"the \"\"big\"\" one\",1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "two\nlines", 1)), "s,m,d,\"two\nlines\",1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "cr\rhere", 1)), "s,m,d,\"cr\rhere\",1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "\"", 1)), "s,m,d,\"\"\"\",1\r\n");
  assert_string_equal(one_record(a, item("a,b", "m", "x\r\ny", "", 1)), "\"a,b\",m,\"x\r\ny\",,1\r\n");
  /* An apostrophe inside a field needs no quoting. */
  assert_string_equal(one_record(a, item("s", "m", "d", "it's", 1)), "s,m,d,it's,1\r\n");
  arena_destroy(a);
}

static void test_utf8_kept_and_invalid_bytes_replaced(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  const char *name = "B\xe1\xba\xbfn Th\xc3\xa0nh"; /* "Bến Thành" */
  assert_string_equal(one_record(a, item("s", "m", "d", name, 1)), "s,m,d,Bến Thành,1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "Gà 🐓 ok", 1)), "s,m,d,Gà 🐓 ok,1\r\n");
  /* A stray byte, a cut sequence, an overlong '/', a surrogate: each bad byte becomes U+FFFD. */
  assert_string_equal(one_record(a, item("s", "m", "d", "a\xffz", 1)), "s,m,d,a\xef\xbf\xbdz,1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "B\xe1\xba", 1)), "s,m,d,B\xef\xbf\xbd\xef\xbf\xbd,1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "\xc0\xaf", 1)), "s,m,d,\xef\xbf\xbd\xef\xbf\xbd,1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "\xed\xa0\x80", 1)),
                      "s,m,d,\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd,1\r\n");
  assert_string_equal(one_record(a, item("\x80", "m", "d", "", 1)), "\xef\xbf\xbd,m,d,,1\r\n");
  arena_destroy(a);
}

static void test_formula_injection_guard(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  assert_string_equal(one_record(a, item("s", "m", "d", "=HYPERLINK(\"http://x\")", 1)),
                      "s,m,d,\"'=HYPERLINK(\"\"http://x\"\")\",1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "+1", 1)), "s,m,d,'+1,1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "-2+3", 1)), "s,m,d,'-2+3,1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "@SUM(A1)", 1)), "s,m,d,'@SUM(A1),1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "\tx", 1)), "s,m,d,'\tx,1\r\n");
  assert_string_equal(one_record(a, item("s", "m", "d", "\rx", 1)), "s,m,d,\"'\rx\",1\r\n");
  assert_string_equal(one_record(a, item("=1+1", "-m", "@d", "", 1)), "'=1+1,'-m,'@d,,1\r\n");
  /* Only the first character counts. */
  assert_string_equal(one_record(a, item("s", "m", "d", "a=b-c", 1)), "s,m,d,a=b-c,1\r\n");
  arena_destroy(a);
}

static void test_values_are_plain_numbers(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  assert_string_equal(one_record(a, item("revenue", "refunds_vnd", "", "", -45000)),
                      "revenue,refunds_vnd,,,-45000\r\n");
  assert_string_equal(one_record(a, item("s", "m", "", "", 0)), "s,m,,,0\r\n");
  assert_string_equal(one_record(a, item("s", "m", "", "", INT64_MIN)), "s,m,,,-9223372036854775808\r\n");
  assert_string_equal(one_record(a, item("s", "m", "", "", INT64_MAX)), "s,m,,,9223372036854775807\r\n");
  arena_destroy(a);
}

static void test_many_items_grow_the_buffer(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  enum { N = 2000 };
  Metro__Report__V1__ReportItem *items[N];
  Metro__Report__V1__ReportItem *store = arena_alloc(a, sizeof *store * N);
  for (int i = 0; i < N; i++) {
    store[i] = item("revenue_by_day", "revenue_vnd", arena_printf(a, "d%04d", i), "Trạm, \"số\"", i);
    items[i] = &store[i];
  }
  size_t len = 0;
  char *csv = rp_csv(a, items, N, &len);
  assert_int_equal(len, strlen(csv));
  size_t records = 0;
  for (size_t i = 0; i + 1 < len; i++) records += csv[i] == '\r' && csv[i + 1] == '\n';
  assert_int_equal(records, N + 1);
  assert_non_null(strstr(csv, "revenue_by_day,revenue_vnd,d1999,\"Trạm, \"\"số\"\"\",1999\r\n"));
  arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_list_is_the_header_alone),
      cmocka_unit_test(test_plain_records_end_with_crlf),
      cmocka_unit_test(test_rfc4180_quoting),
      cmocka_unit_test(test_utf8_kept_and_invalid_bytes_replaced),
      cmocka_unit_test(test_formula_injection_guard),
      cmocka_unit_test(test_values_are_plain_numbers),
      cmocka_unit_test(test_many_items_grow_the_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
