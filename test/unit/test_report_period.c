/* The report service's periods in Asia/Ho_Chi_Minh: local days against UTC, ISO weeks around New
 * Year, month lengths, the previous period, schedule runs, strict date parsing, custom ranges, labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "svc/report/report.h"

/* An instant given in UTC, computed by the C library (independently of the code under test). */
static int64_t utc(int y, int mo, int d, int h, int mi, int s) {
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
  return (int64_t)timegm(&tm);
}

/* An instant given as Ho Chi Minh City wall-clock time (UTC+7). */
static int64_t local(int y, int mo, int d, int h, int mi) { return utc(y, mo, d, h, mi, 0) - 7 * 3600; }

static int32_t day(const char *date) {
  int32_t d = 0;
  assert_true(rp_date_parse(date, &d));
  return d;
}

static void assert_day(int32_t d, const char *expected) {
  char s[11];
  rp_date_format(d, s);
  assert_string_equal(s, expected);
}

static void assert_period(const rp_period *p, const char *first, const char *last) {
  assert_day(p->first_day, first);
  assert_day(p->last_day, last);
  assert_int_equal(p->start_unix, (int64_t)p->first_day * 86400 - 7 * 3600);
  assert_int_equal(p->end_unix, ((int64_t)p->last_day + 1) * 86400 - 7 * 3600);
}

static void assert_label(const rp_period *p, const char *expected) {
  arena *a = arena_create(256);
  assert_string_equal(rp_period_label(a, p), expected);
  arena_destroy(a);
}

static void test_dates_round_trip_and_match_the_c_library(void **state) {
  (void)state;
  assert_int_equal(day("2000-01-01"), 10957);
  for (int32_t d = day("2000-01-01"); d <= day("2199-12-31"); d++) {
    char mine[11], libc[16];
    rp_date_format(d, mine);
    time_t t = (time_t)d * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(libc, sizeof libc, "%Y-%m-%d", &tm);
    assert_string_equal(mine, libc);
    int32_t back = -1;
    assert_true(rp_date_parse(mine, &back));
    assert_int_equal(back, d);
  }
  assert_day(0, "1970-01-01");
  assert_day(-1, "1969-12-31");
}

static void test_date_parse_is_strict(void **state) {
  (void)state;
  int32_t d;
  assert_true(rp_date_parse("2024-02-29", &d));
  assert_true(rp_date_parse("2000-02-29", &d)); /* divisible by 400 */
  assert_true(rp_date_parse("2199-12-31", &d));
  static const char *const bad[] = {
      "2026-02-29", "2024-02-30", "2026-13-01", "2026-00-10", "2026-04-31", "2026-01-00", "2026-1-01",
      "2026-01-1",  "2026-01-01x", " 2026-01-01", "2026/01/01", "20260101", "1999-12-31", "2200-01-01",
      "0000-01-01", "9999-12-31", "2100-02-29", "", "abcd-ef-gh", "2026-01-+1",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    d = 12345;
    if (rp_date_parse(bad[i], &d)) fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(d, 12345);
  }
  assert_false(rp_date_parse(NULL, &d));
}

static void test_local_day_starts_at_17_utc(void **state) {
  (void)state;
  assert_day(rp_local_day(utc(2026, 12, 1, 23, 30, 0)), "2026-12-02");
  assert_day(rp_local_day(utc(2026, 12, 1, 16, 59, 59)), "2026-12-01");
  assert_day(rp_local_day(utc(2026, 12, 1, 17, 0, 0)), "2026-12-02");
  assert_day(rp_local_day(utc(2026, 12, 2, 0, 0, 0)), "2026-12-02");
  assert_day(rp_local_day(utc(2026, 12, 31, 17, 0, 0)), "2027-01-01");
  /* Floor division before 1970. */
  assert_day(rp_local_day(0), "1970-01-01");
  assert_day(rp_local_day(-7 * 3600), "1970-01-01");
  assert_day(rp_local_day(-7 * 3600 - 1), "1969-12-31");
  assert_day(rp_local_day(-86400 - 7 * 3600 - 1), "1969-12-30");
}

static void test_weekdays(void **state) {
  (void)state;
  assert_int_equal(rp_weekday(0), 4); /* Thursday */
  assert_int_equal(rp_weekday(-1), 3);
  assert_int_equal(rp_weekday(-4), 7);
  assert_int_equal(rp_weekday(day("2026-11-30")), 1);
  assert_int_equal(rp_weekday(day("2026-12-06")), 7);
  assert_int_equal(rp_weekday(day("2024-02-29")), 4);
}

static void assert_iso(const char *date, int year, int week) {
  int y = 0, w = 0;
  rp_iso_week(day(date), &y, &w);
  if (y != year || w != week) fail_msg("%s: %d-W%02d, expected %d-W%02d", date, y, w, year, week);
}

static void test_iso_weeks_around_new_year(void **state) {
  (void)state;
  assert_iso("2020-12-31", 2020, 53);
  assert_iso("2021-01-03", 2020, 53);
  assert_iso("2021-01-04", 2021, 1);
  assert_iso("2026-01-01", 2026, 1); /* a Thursday: week 1 */
  assert_iso("2026-12-02", 2026, 49);
  assert_iso("2026-12-28", 2026, 53);
  assert_iso("2026-12-31", 2026, 53);
  assert_iso("2027-01-03", 2026, 53);
  assert_iso("2027-01-04", 2027, 1);
  assert_iso("2024-12-30", 2025, 1); /* a Monday in December starting week 1 */
  assert_iso("2022-01-02", 2021, 52);
  assert_iso("2000-01-01", 1999, 52);
  /* Every Monday starts a new week, 52 or 53 of them a year. */
  int prev_year = 0, prev_week = 0;
  for (int32_t d = day("2000-01-03"); d < day("2100-01-01"); d += 7) {
    int y, w;
    rp_iso_week(d, &y, &w);
    if (y == prev_year) {
      assert_int_equal(w, prev_week + 1);
    } else {
      assert_true(prev_week == 0 || prev_week == 52 || prev_week == 53);
      assert_int_equal(w, 1);
    }
    prev_year = y, prev_week = w;
  }
}

static void test_daily_and_weekly_periods(void **state) {
  (void)state;
  rp_period p = rp_period_containing(RP_DAILY, day("2026-12-02"));
  assert_int_equal(p.kind, RP_DAILY);
  assert_period(&p, "2026-12-02", "2026-12-02");
  assert_int_equal(p.start_unix, utc(2026, 12, 1, 17, 0, 0));
  assert_true(rp_period_holds(&p, utc(2026, 12, 1, 17, 0, 0)));
  assert_true(rp_period_holds(&p, utc(2026, 12, 2, 16, 59, 59)));
  assert_false(rp_period_holds(&p, utc(2026, 12, 2, 17, 0, 0)));
  assert_false(rp_period_holds(&p, utc(2026, 12, 1, 16, 59, 59)));

  p = rp_period_containing(RP_WEEKLY, day("2026-12-02"));
  assert_int_equal(p.kind, RP_WEEKLY);
  assert_period(&p, "2026-11-30", "2026-12-06");
  p = rp_period_containing(RP_WEEKLY, day("2026-12-06")); /* Sunday ends the week */
  assert_period(&p, "2026-11-30", "2026-12-06");
  p = rp_period_containing(RP_WEEKLY, day("2027-01-01")); /* across New Year */
  assert_period(&p, "2026-12-28", "2027-01-03");
  assert_label(&p, "2026-W53");
}

static void test_months(void **state) {
  (void)state;
  static const struct {
    const char *inside, *first, *last, *label;
  } cases[] = {
      {"2024-02-10", "2024-02-01", "2024-02-29", "2024-02"}, {"2026-02-28", "2026-02-01", "2026-02-28", "2026-02"},
      {"2000-02-01", "2000-02-01", "2000-02-29", "2000-02"}, {"2100-02-15", "2100-02-01", "2100-02-28", "2100-02"},
      {"2026-04-30", "2026-04-01", "2026-04-30", "2026-04"}, {"2026-07-01", "2026-07-01", "2026-07-31", "2026-07"},
      {"2026-12-31", "2026-12-01", "2026-12-31", "2026-12"}, {"2027-01-01", "2027-01-01", "2027-01-31", "2027-01"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rp_period p = rp_period_containing(RP_MONTHLY, day(cases[i].inside));
    assert_int_equal(p.kind, RP_MONTHLY);
    assert_period(&p, cases[i].first, cases[i].last);
    assert_label(&p, cases[i].label);
  }
  /* December -> January: the month after December is next year's January. */
  rp_period dec = rp_period_containing(RP_MONTHLY, day("2026-12-15"));
  rp_period jan = rp_period_containing(RP_MONTHLY, dec.last_day + 1);
  assert_period(&jan, "2027-01-01", "2027-01-31");
  assert_int_equal(jan.start_unix, dec.end_unix);
}

static void test_previous_period_at_the_first_minute(void **state) {
  (void)state;
  /* 2026-12-01 00:00 local is a Tuesday and the first minute of December. */
  int64_t now = local(2026, 12, 1, 0, 0);
  rp_period p = rp_period_previous(RP_DAILY, now);
  assert_period(&p, "2026-11-30", "2026-11-30");
  p = rp_period_previous(RP_DAILY, now - 1); /* 23:59:59 the day before */
  assert_period(&p, "2026-11-29", "2026-11-29");
  p = rp_period_previous(RP_MONTHLY, now);
  assert_period(&p, "2026-11-01", "2026-11-30");
  p = rp_period_previous(RP_MONTHLY, now + 59);
  assert_period(&p, "2026-11-01", "2026-11-30");
  p = rp_period_previous(RP_MONTHLY, now - 1);
  assert_period(&p, "2026-10-01", "2026-10-31");

  /* Monday 2026-11-30 00:00 local starts a week: the previous one is 23..29 November. */
  now = local(2026, 11, 30, 0, 0);
  p = rp_period_previous(RP_WEEKLY, now);
  assert_period(&p, "2026-11-23", "2026-11-29");
  assert_label(&p, "2026-W48");
  p = rp_period_previous(RP_WEEKLY, now - 1);
  assert_period(&p, "2026-11-16", "2026-11-22");

  /* New Year: yesterday, last week and last month are in the year before. */
  now = local(2027, 1, 1, 0, 0);
  p = rp_period_previous(RP_DAILY, now);
  assert_period(&p, "2026-12-31", "2026-12-31");
  p = rp_period_previous(RP_MONTHLY, now);
  assert_period(&p, "2026-12-01", "2026-12-31");
  p = rp_period_previous(RP_WEEKLY, local(2027, 1, 4, 0, 1));
  assert_period(&p, "2026-12-28", "2027-01-03");
  assert_label(&p, "2026-W53");
  p = rp_period_previous(RP_MONTHLY, local(2024, 3, 1, 0, 0));
  assert_period(&p, "2024-02-01", "2024-02-29");
}

static void test_run_at_parse(void **state) {
  (void)state;
  assert_int_equal(rp_run_at_parse("00:00"), 0);
  assert_int_equal(rp_run_at_parse("06:30"), 390);
  assert_int_equal(rp_run_at_parse("23:59"), 1439);
  static const char *const bad[] = {"24:00", "07:60", "7:00", "07:0", "07:00 ", "0700", "07-00", "ab:cd", "", "-1:00"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_int_equal(rp_run_at_parse(bad[i]), -1);
  assert_int_equal(rp_run_at_parse(NULL), -1);
}

static void test_next_run_daily(void **state) {
  (void)state;
  int six = 6 * 60;
  assert_int_equal(rp_next_run(RP_DAILY, six, local(2026, 12, 2, 5, 59)), local(2026, 12, 2, 6, 0));
  assert_int_equal(rp_next_run(RP_DAILY, six, local(2026, 12, 2, 6, 0)), local(2026, 12, 3, 6, 0)); /* strictly after */
  assert_int_equal(rp_next_run(RP_DAILY, six, local(2026, 12, 2, 6, 0) - 1), local(2026, 12, 2, 6, 0));
  assert_int_equal(rp_next_run(RP_DAILY, six, local(2026, 12, 2, 18, 0)), local(2026, 12, 3, 6, 0));
  /* 23:30 UTC is already the next local day. */
  assert_int_equal(rp_next_run(RP_DAILY, six, utc(2026, 12, 1, 23, 30, 0)), local(2026, 12, 3, 6, 0));
  assert_int_equal(rp_next_run(RP_DAILY, 0, local(2026, 12, 31, 23, 0)), local(2027, 1, 1, 0, 0));
  assert_int_equal(rp_next_run(RP_DAILY, 0, local(2027, 1, 1, 0, 0)), local(2027, 1, 2, 0, 0));
  assert_int_equal(rp_next_run(RP_DAILY, 1439, local(2026, 12, 31, 23, 58)), local(2026, 12, 31, 23, 59));
  assert_int_equal(rp_next_run(RP_DAILY, 1439, local(2026, 12, 31, 23, 59)), local(2027, 1, 1, 23, 59));
}

static void test_next_run_weekly_on_mondays(void **state) {
  (void)state;
  int seven = 7 * 60;
  /* Monday 2026-11-30 */
  assert_int_equal(rp_next_run(RP_WEEKLY, seven, local(2026, 11, 30, 6, 0)), local(2026, 11, 30, 7, 0));
  assert_int_equal(rp_next_run(RP_WEEKLY, seven, local(2026, 11, 30, 7, 0)), local(2026, 12, 7, 7, 0));
  assert_int_equal(rp_next_run(RP_WEEKLY, seven, local(2026, 12, 2, 12, 0)), local(2026, 12, 7, 7, 0));
  assert_int_equal(rp_next_run(RP_WEEKLY, seven, local(2026, 12, 6, 23, 59)), local(2026, 12, 7, 7, 0));
  /* across the year end */
  assert_int_equal(rp_next_run(RP_WEEKLY, seven, local(2026, 12, 29, 0, 0)), local(2027, 1, 4, 7, 0));
  for (int64_t t = local(2026, 1, 1, 0, 0); t < local(2027, 1, 1, 0, 0); t += 3600 * 5 + 17) {
    int64_t next = rp_next_run(RP_WEEKLY, seven, t);
    assert_true(next > t);
    assert_true(next - t <= 7 * 86400);
    assert_int_equal(rp_weekday(rp_local_day(next)), 1);
  }
}

static void test_next_run_monthly_on_the_first(void **state) {
  (void)state;
  int six = 6 * 60;
  assert_int_equal(rp_next_run(RP_MONTHLY, six, local(2026, 1, 31, 23, 0)), local(2026, 2, 1, 6, 0));
  assert_int_equal(rp_next_run(RP_MONTHLY, six, local(2026, 2, 1, 5, 0)), local(2026, 2, 1, 6, 0));
  assert_int_equal(rp_next_run(RP_MONTHLY, six, local(2026, 2, 1, 6, 0)), local(2026, 3, 1, 6, 0));
  assert_int_equal(rp_next_run(RP_MONTHLY, six, local(2024, 2, 29, 12, 0)), local(2024, 3, 1, 6, 0));
  assert_int_equal(rp_next_run(RP_MONTHLY, six, local(2026, 4, 30, 12, 0)), local(2026, 5, 1, 6, 0));
  assert_int_equal(rp_next_run(RP_MONTHLY, six, local(2026, 12, 1, 7, 0)), local(2027, 1, 1, 6, 0));
  assert_int_equal(rp_next_run(RP_MONTHLY, six, local(2026, 12, 15, 0, 0)), local(2027, 1, 1, 6, 0));
  assert_int_equal(rp_next_run(RP_MONTHLY, 0, local(2026, 12, 31, 23, 59)), local(2027, 1, 1, 0, 0));
}

static void test_custom_periods(void **state) {
  (void)state;
  rp_period p;
  assert_true(rp_period_custom(day("2026-11-01"), day("2026-11-30"), RP_MAX_CUSTOM_DAYS, &p));
  assert_int_equal(p.kind, RP_CUSTOM);
  assert_period(&p, "2026-11-01", "2026-11-30");
  assert_label(&p, "2026-11-01..2026-11-30");
  assert_true(rp_period_custom(day("2026-11-05"), day("2026-11-05"), RP_MAX_CUSTOM_DAYS, &p)); /* one day */
  assert_label(&p, "2026-11-05..2026-11-05");
  assert_false(rp_period_custom(day("2026-11-30"), day("2026-11-01"), RP_MAX_CUSTOM_DAYS, &p)); /* inverted */
  /* 2024 is a leap year: 2024-01-01..2024-12-31 is 366 days, one more is refused. */
  assert_true(rp_period_custom(day("2024-01-01"), day("2024-12-31"), RP_MAX_CUSTOM_DAYS, &p));
  assert_false(rp_period_custom(day("2024-01-01"), day("2025-01-01"), RP_MAX_CUSTOM_DAYS, &p));
  assert_false(rp_period_custom(day("2026-01-01"), day("2026-01-01") + 366, 366, &p));
  assert_true(rp_period_custom(day("2026-01-01"), day("2026-01-01") + 365, 366, &p));
}

static void test_kind_names_and_labels(void **state) {
  (void)state;
  rp_period_kind k = RP_MONTHLY;
  assert_true(rp_period_kind_parse("daily", false, &k));
  assert_int_equal(k, RP_DAILY);
  assert_true(rp_period_kind_parse("weekly", false, &k));
  assert_int_equal(k, RP_WEEKLY);
  assert_true(rp_period_kind_parse("monthly", false, &k));
  assert_int_equal(k, RP_MONTHLY);
  assert_false(rp_period_kind_parse("custom", false, &k));
  assert_int_equal(k, RP_MONTHLY);
  assert_true(rp_period_kind_parse("custom", true, &k));
  assert_int_equal(k, RP_CUSTOM);
  assert_false(rp_period_kind_parse("Daily", true, &k));
  assert_false(rp_period_kind_parse("", true, &k));
  assert_false(rp_period_kind_parse(NULL, true, &k));
  assert_string_equal(rp_period_kind_name(RP_DAILY), "daily");
  assert_string_equal(rp_period_kind_name(RP_WEEKLY), "weekly");
  assert_string_equal(rp_period_kind_name(RP_MONTHLY), "monthly");
  assert_string_equal(rp_period_kind_name(RP_CUSTOM), "custom");

  rp_period p = rp_period_containing(RP_DAILY, day("2026-12-02"));
  assert_label(&p, "2026-12-02");
  p = rp_period_containing(RP_WEEKLY, day("2026-12-02"));
  assert_label(&p, "2026-W49");
  p = rp_period_containing(RP_WEEKLY, day("2021-01-03"));
  assert_label(&p, "2020-W53");
  p = rp_period_containing(RP_WEEKLY, day("2021-01-04"));
  assert_label(&p, "2021-W01");
  p = rp_period_containing(RP_MONTHLY, day("2026-11-17"));
  assert_label(&p, "2026-11");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dates_round_trip_and_match_the_c_library),
      cmocka_unit_test(test_date_parse_is_strict),
      cmocka_unit_test(test_local_day_starts_at_17_utc),
      cmocka_unit_test(test_weekdays),
      cmocka_unit_test(test_iso_weeks_around_new_year),
      cmocka_unit_test(test_daily_and_weekly_periods),
      cmocka_unit_test(test_months),
      cmocka_unit_test(test_previous_period_at_the_first_minute),
      cmocka_unit_test(test_run_at_parse),
      cmocka_unit_test(test_next_run_daily),
      cmocka_unit_test(test_next_run_weekly_on_mondays),
      cmocka_unit_test(test_next_run_monthly_on_the_first),
      cmocka_unit_test(test_custom_periods),
      cmocka_unit_test(test_kind_names_and_labels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
