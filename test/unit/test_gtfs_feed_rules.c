/* The consumer GTFS feed's rules without servers: a trip's dates as a calendar.txt pattern with
 * the fewest calendar_dates.txt exceptions, service names from weekday flags, and line colours. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "svc/transport/gtfs_calendar.h"
#include "svc/transport/transport.h"

#define MONDAY 20787L /* 2026-11-30 */

/* Bit i for every day of the window whose weekday (0 = Monday) is flagged. */
static uint32_t days_of(long first, int n, const bool weekdays[7]) {
  uint32_t mask = 0;
  for (int i = 0; i < n; i++)
    if (weekdays[(int)(((first + i) % 7 + 7 + 3) % 7)]) mask |= UINT32_C(1) << i;
  return mask;
}

static const bool WEEKDAYS[7] = {1, 1, 1, 1, 1, 0, 0}, WEEKENDS[7] = {0, 0, 0, 0, 0, 1, 1};

static void test_thirty_days_of_weekdays_need_no_exception(void **state) {
  (void)state;
  /* A window from a Tuesday: the set runs from that Tuesday to the Wednesday 29 days later. */
  long first = MONDAY + 1;
  gtfs_service_days d;
  gtfs_service_pattern(first, days_of(first, 30, WEEKDAYS), &d);
  assert_memory_equal(d.weekdays, WEEKDAYS, sizeof WEEKDAYS);
  assert_int_equal(d.first, first);
  assert_int_equal(d.last, first + 29);
  assert_int_equal(d.n_added, 0);
  assert_int_equal(d.n_removed, 0);
  char name[40];
  assert_string_equal(gtfs_service_base_name(d.weekdays, name, sizeof name), "weekdays");
}

static void test_a_holiday_is_an_exception_on_both_services(void **state) {
  (void)state;
  long first = MONDAY, holiday = MONDAY + 9; /* the second Wednesday */
  uint32_t weekdays = days_of(first, 30, WEEKDAYS) & ~(UINT32_C(1) << 9);
  uint32_t weekends = days_of(first, 30, WEEKENDS) | (UINT32_C(1) << 9);
  gtfs_service_days d;
  gtfs_service_pattern(first, weekdays, &d);
  assert_memory_equal(d.weekdays, WEEKDAYS, sizeof WEEKDAYS);
  assert_int_equal(d.n_removed, 1);
  assert_int_equal(d.removed[0], holiday);
  assert_int_equal(d.n_added, 0);
  gtfs_service_pattern(first, weekends, &d);
  assert_memory_equal(d.weekdays, WEEKENDS, sizeof WEEKENDS);
  assert_int_equal(d.first, MONDAY + 5);
  assert_int_equal(d.n_added, 1);
  assert_int_equal(d.added[0], holiday);
  assert_int_equal(d.n_removed, 0);
}

static void test_one_date_is_a_one_day_calendar_row(void **state) {
  (void)state;
  gtfs_service_days d;
  gtfs_service_pattern(MONDAY, UINT32_C(1) << 3, &d); /* Thursday */
  assert_int_equal(d.first, MONDAY + 3);
  assert_int_equal(d.last, MONDAY + 3);
  for (int w = 0; w < 7; w++) assert_int_equal(d.weekdays[w], w == 3);
  assert_int_equal(d.n_added + d.n_removed, 0);
}

/* Each weekday takes whichever flag needs fewer exceptions; a tie keeps the flag. */
static void test_each_weekday_takes_the_majority(void **state) {
  (void)state;
  /* Days 0-21: Mondays 0, 7, 14, 21 with 0 and 21 held (a tie: flagged, 7 and 14 removed);
   * Tuesdays 1, 8, 15 with 1 held (outnumbered: not flagged, 1 added). */
  uint32_t mask = (UINT32_C(1) << 0) | (UINT32_C(1) << 21) | (UINT32_C(1) << 1);
  gtfs_service_days d;
  gtfs_service_pattern(MONDAY, mask, &d);
  assert_true(d.weekdays[0]);
  assert_false(d.weekdays[1]);
  assert_int_equal(d.n_removed, 2);
  assert_int_equal(d.removed[0], MONDAY + 7);
  assert_int_equal(d.removed[1], MONDAY + 14);
  assert_int_equal(d.n_added, 1);
  assert_int_equal(d.added[0], MONDAY + 1);
  char name[40];
  assert_string_equal(gtfs_service_base_name(d.weekdays, name, sizeof name), "mon");
}

static void test_service_names_come_from_the_flags(void **state) {
  (void)state;
  char name[40];
  const bool daily[7] = {1, 1, 1, 1, 1, 1, 1}, some[7] = {1, 0, 1, 0, 0, 1, 0}, none[7] = {0};
  assert_string_equal(gtfs_service_base_name(WEEKENDS, name, sizeof name), "weekends");
  assert_string_equal(gtfs_service_base_name(daily, name, sizeof name), "daily");
  assert_string_equal(gtfs_service_base_name(some, name, sizeof name), "mon-wed-sat");
  assert_string_equal(gtfs_service_base_name(none, name, sizeof name), "dates");
}

static void test_line_colours_are_six_hex_digits_or_nothing(void **state) {
  (void)state;
  assert_true(tr_valid_color(""));
  assert_true(tr_valid_color(NULL));
  assert_true(tr_valid_color("E4002B"));
  assert_true(tr_valid_color("e4002b"));
  assert_false(tr_valid_color("#E4002B"));
  assert_false(tr_valid_color("E4002"));
  assert_false(tr_valid_color("E4002BB"));
  assert_false(tr_valid_color("red"));
  assert_false(tr_valid_color("GGGGGG"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thirty_days_of_weekdays_need_no_exception),
      cmocka_unit_test(test_a_holiday_is_an_exception_on_both_services),
      cmocka_unit_test(test_one_date_is_a_one_day_calendar_row),
      cmocka_unit_test(test_each_weekday_takes_the_majority),
      cmocka_unit_test(test_service_names_come_from_the_flags),
      cmocka_unit_test(test_line_colours_are_six_hex_digits_or_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
