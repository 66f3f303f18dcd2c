/* The scheduler's slots on the Asia/Ho_Chi_Minh clock (spec parsing, next/prev run across the local
 * midnight, month and year ends, every-N alignment) and the lease decisions a replica takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "svc/scheduler/scheduler.h"

/* Unix seconds of a local (UTC+7) wall-clock time. */
static int64_t local(int y, int mo, int d, int h, int mi, int s) {
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
  return (int64_t)timegm(&tm) - 7 * 3600;
}

/* Unix seconds of a UTC time. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s) { return local(y, mo, d, h, mi, s) + 7 * 3600; }

static void test_specs_parse_exactly(void **state) {
  (void)state;
  sch_spec s;
  assert_true(sch_spec_parse("every 5m", &s));
  assert_int_equal(s.kind, SCH_EVERY);
  assert_int_equal(s.every_min, 5);
  assert_true(sch_spec_parse("every 1m", &s));
  assert_true(sch_spec_parse("every 60m", &s));
  assert_true(sch_spec_parse("hourly :00", &s));
  assert_int_equal(s.kind, SCH_HOURLY);
  assert_true(sch_spec_parse("hourly :59", &s));
  assert_int_equal(s.minute, 59);
  assert_true(sch_spec_parse("daily 08:00", &s));
  assert_int_equal(s.kind, SCH_DAILY);
  assert_int_equal(s.hour, 8);
  assert_true(sch_spec_parse("daily 23:59", &s));
  const char *bad[] = {"",          "every",       "every 0m",    "every 61m",  "every 05m",   "every 5",
                       "every 5 m", "every 5m ",   " every 5m",   "every -5m",  "every 100m",  "hourly :60",
                       "hourly 00", "hourly :5",   "hourly :000", "daily 24:00", "daily 8:00", "daily 08:60",
                       "daily 0800", "daily 08:00 ", "weekly 08:00", "EVERY 5m"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (sch_spec_parse(bad[i], &s)) fail_msg("\"%s\" parsed", bad[i]);
    assert_int_equal(sch_next_run(bad[i], 0), -1);
    assert_int_equal(sch_prev_run(bad[i], 0), -1);
  }
  assert_false(sch_spec_parse(NULL, &s));
}

static void test_daily_is_local_time_and_strictly_after(void **state) {
  (void)state;
  assert_int_equal(sch_next_run("daily 08:00", local(2025, 3, 10, 7, 59, 59)), local(2025, 3, 10, 8, 0, 0));
  /* A slot is not after itself. */
  assert_int_equal(sch_next_run("daily 08:00", local(2025, 3, 10, 8, 0, 0)), local(2025, 3, 11, 8, 0, 0));
  /* 08:00 in Ho Chi Minh City is 01:00 UTC. */
  assert_int_equal(sch_next_run("daily 08:00", utc(2025, 3, 10, 0, 0, 0)), utc(2025, 3, 10, 1, 0, 0));
  /* 03:00 local is 20:00 UTC the day before: the UTC date and the local date differ. */
  assert_int_equal(sch_next_run("daily 03:00", utc(2025, 6, 30, 19, 59, 59)), utc(2025, 6, 30, 20, 0, 0));
  assert_int_equal(sch_next_run("daily 03:00", utc(2025, 6, 30, 20, 0, 0)), utc(2025, 7, 1, 20, 0, 0));
  assert_int_equal(sch_prev_run("daily 03:00", utc(2025, 6, 30, 19, 59, 59)), utc(2025, 6, 29, 20, 0, 0));
}

static void test_across_the_local_midnight(void **state) {
  (void)state;
  /* 23:58:30 local is 16:58:30 UTC; the next five-minute slot is the local midnight (17:00 UTC). */
  assert_int_equal(sch_next_run("every 5m", local(2025, 5, 20, 23, 58, 30)), local(2025, 5, 21, 0, 0, 0));
  assert_int_equal(sch_next_run("every 5m", local(2025, 5, 20, 23, 58, 30)), utc(2025, 5, 20, 17, 0, 0));
  assert_int_equal(sch_next_run("hourly :00", local(2025, 5, 20, 23, 30, 0)), local(2025, 5, 21, 0, 0, 0));
  assert_int_equal(sch_next_run("daily 00:00", local(2025, 5, 20, 23, 59, 59)), local(2025, 5, 21, 0, 0, 0));
  assert_int_equal(sch_next_run("daily 23:59", local(2025, 5, 20, 23, 59, 0)), local(2025, 5, 21, 23, 59, 0));
  /* Backwards over midnight: just after it, the latest daily 08:00 is yesterday's. */
  assert_int_equal(sch_prev_run("daily 08:00", local(2025, 5, 21, 0, 0, 30)), local(2025, 5, 20, 8, 0, 0));
  assert_int_equal(sch_prev_run("every 10m", local(2025, 5, 21, 0, 9, 59)), local(2025, 5, 21, 0, 0, 0));
  assert_int_equal(sch_prev_run("every 10m", local(2025, 5, 20, 23, 59, 59)), local(2025, 5, 20, 23, 50, 0));
  assert_int_equal(sch_prev_run("hourly :30", local(2025, 5, 21, 0, 10, 0)), local(2025, 5, 20, 23, 30, 0));
}

static void test_month_ends_and_leap_february(void **state) {
  (void)state;
  assert_int_equal(sch_next_run("daily 03:00", local(2024, 2, 28, 23, 0, 0)), local(2024, 2, 29, 3, 0, 0));
  assert_int_equal(sch_next_run("daily 03:00", local(2024, 2, 29, 4, 0, 0)), local(2024, 3, 1, 3, 0, 0));
  assert_int_equal(sch_next_run("daily 03:00", local(2025, 2, 28, 4, 0, 0)), local(2025, 3, 1, 3, 0, 0));
  assert_int_equal(sch_next_run("daily 08:00", local(2025, 4, 30, 8, 0, 0)), local(2025, 5, 1, 8, 0, 0));
  assert_int_equal(sch_next_run("every 15m", local(2025, 1, 31, 23, 50, 0)), local(2025, 2, 1, 0, 0, 0));
  assert_int_equal(sch_prev_run("daily 03:00", local(2024, 3, 1, 2, 0, 0)), local(2024, 2, 29, 3, 0, 0));
  assert_int_equal(sch_prev_run("daily 03:00", local(2025, 3, 1, 2, 0, 0)), local(2025, 2, 28, 3, 0, 0));
  /* The local month already changed while UTC is still on the last day (2025-05-31T17:30Z). */
  assert_int_equal(sch_prev_run("hourly :00", utc(2025, 5, 31, 17, 30, 0)), local(2025, 6, 1, 0, 0, 0));
}

static void test_year_end(void **state) {
  (void)state;
  assert_int_equal(sch_next_run("daily 08:00", local(2025, 12, 31, 9, 0, 0)), local(2026, 1, 1, 8, 0, 0));
  assert_int_equal(sch_next_run("every 1m", local(2025, 12, 31, 23, 59, 0)), local(2026, 1, 1, 0, 0, 0));
  assert_int_equal(sch_next_run("hourly :00", local(2025, 12, 31, 23, 0, 0)), local(2026, 1, 1, 0, 0, 0));
  /* New Year in Ho Chi Minh City is 17:00 UTC on 31 December. */
  assert_int_equal(sch_next_run("daily 00:00", utc(2025, 12, 31, 12, 0, 0)), utc(2025, 12, 31, 17, 0, 0));
  assert_int_equal(sch_prev_run("daily 08:00", local(2026, 1, 1, 0, 30, 0)), local(2025, 12, 31, 8, 0, 0));
  assert_int_equal(sch_prev_run("daily 03:00", local(2025, 1, 1, 2, 59, 59)), local(2024, 12, 31, 3, 0, 0));
}

static void test_every_n_is_aligned_to_the_hour(void **state) {
  (void)state;
  assert_int_equal(sch_next_run("every 5m", local(2025, 7, 1, 10, 2, 13)), local(2025, 7, 1, 10, 5, 0));
  assert_int_equal(sch_next_run("every 15m", local(2025, 7, 1, 10, 14, 59)), local(2025, 7, 1, 10, 15, 0));
  assert_int_equal(sch_next_run("every 15m", local(2025, 7, 1, 10, 15, 0)), local(2025, 7, 1, 10, 30, 0));
  assert_int_equal(sch_prev_run("every 15m", local(2025, 7, 1, 10, 14, 59)), local(2025, 7, 1, 10, 0, 0));
  assert_int_equal(sch_next_run("every 1m", local(2025, 7, 1, 10, 0, 0)), local(2025, 7, 1, 10, 1, 0));
  assert_int_equal(sch_next_run("every 1m", local(2025, 7, 1, 10, 0, 59)), local(2025, 7, 1, 10, 1, 0));
  assert_int_equal(sch_next_run("every 60m", local(2025, 7, 1, 10, 0, 0)), local(2025, 7, 1, 11, 0, 0));
  /* A step that does not divide the hour starts each hour again at :00 (:56, then :00). */
  assert_int_equal(sch_next_run("every 7m", local(2025, 7, 1, 10, 55, 0)), local(2025, 7, 1, 10, 56, 0));
  assert_int_equal(sch_next_run("every 7m", local(2025, 7, 1, 10, 56, 0)), local(2025, 7, 1, 11, 0, 0));
  assert_int_equal(sch_prev_run("every 7m", local(2025, 7, 1, 10, 59, 59)), local(2025, 7, 1, 10, 56, 0));
  assert_int_equal(sch_next_run("every 25m", local(2025, 7, 1, 23, 50, 0)), local(2025, 7, 2, 0, 0, 0));
  assert_int_equal(sch_next_run("hourly :45", local(2025, 7, 1, 10, 45, 0)), local(2025, 7, 1, 11, 45, 0));
  assert_int_equal(sch_next_run("hourly :45", local(2025, 7, 1, 10, 44, 59)), local(2025, 7, 1, 10, 45, 0));
}

/* Over several days, second by odd second, for every kind: prev(t) <= t < next(t), both are
 * slots, nothing lies between them, and next(prev(t)) == next(t). Times before 1970 too. */
static void test_slot_invariants_over_a_sweep(void **state) {
  (void)state;
  const char *specs[] = {"every 1m", "every 5m", "every 7m", "every 15m", "every 60m",
                         "hourly :00", "hourly :37", "daily 00:00", "daily 03:00", "daily 23:59"};
  const int64_t starts[] = {local(2024, 12, 30, 20, 0, 0), local(2024, 2, 27, 22, 0, 0), -3 * 86400};
  for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++)
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
      for (int64_t t = starts[k]; t < starts[k] + 3 * 86400; t += 97) {
        int64_t p = sch_prev_run(specs[i], t), n = sch_next_run(specs[i], t);
        assert_true(p <= t);
        assert_true(n > t);
        assert_int_equal(sch_prev_run(specs[i], p), p);
        assert_int_equal(sch_prev_run(specs[i], n), n);
        assert_int_equal(sch_next_run(specs[i], p), n);
        assert_int_equal(sch_prev_run(specs[i], n - 1), p);
        assert_int_equal(((p + 7 * 3600) % 60 + 60) % 60, 0);
      }
}

static void test_lease_decisions(void **state) {
  (void)state;
  assert_int_equal(sch_lease_decide(true, 0, 1000, 1, 3), SCH_LEASE_DONE);
  assert_int_equal(sch_lease_decide(true, 5000, 1000, 9, 3), SCH_LEASE_DONE);
  assert_int_equal(sch_lease_decide(false, 5000, 1000, 1, 3), SCH_LEASE_HELD);
  /* Expiring exactly now is still held: only a lease that ended before now is taken over. */
  assert_int_equal(sch_lease_decide(false, 1000, 1000, 1, 3), SCH_LEASE_HELD);
  assert_int_equal(sch_lease_decide(false, 999, 1000, 1, 3), SCH_LEASE_RECLAIM);
  assert_int_equal(sch_lease_decide(false, 999, 1000, 2, 3), SCH_LEASE_RECLAIM);
  assert_int_equal(sch_lease_decide(false, 999, 1000, 3, 3), SCH_LEASE_GIVE_UP);
  assert_int_equal(sch_lease_decide(false, 999, 1000, 1, 1), SCH_LEASE_GIVE_UP);
}

static void test_a_call_ends_inside_its_lease(void **state) {
  (void)state;
  assert_int_equal(sch_call_deadline_ms(1000, 5000, 100000), 6000);       /* the timeout */
  assert_int_equal(sch_call_deadline_ms(1000, 5000, 4000), 2000);         /* 2 s before the lease ends */
  assert_int_equal(sch_call_deadline_ms(1000, 5000, 2500), 1000);         /* nothing left: now */
  assert_int_equal(sch_call_deadline_ms(1000, 5000, 0), 1000);
}

static void test_due_slot_once_per_slot(void **state) {
  (void)state;
  int64_t t = local(2025, 7, 1, 10, 3, 0);
  int64_t slot = sch_due_slot("every 5m", t, 0);
  assert_int_equal(slot, local(2025, 7, 1, 10, 0, 0));
  assert_int_equal(sch_due_slot("every 5m", t + 60, slot), 0);          /* handled already */
  assert_int_equal(sch_due_slot("every 5m", t + 120, slot), slot + 300); /* the next one */
  /* After a long pause only the latest slot is due, not the ones skipped. */
  assert_int_equal(sch_due_slot("every 5m", t + 3600, slot), slot + 3600);
  assert_int_equal(sch_due_slot("daily 08:00", local(2025, 7, 3, 9, 0, 0), local(2025, 7, 1, 8, 0, 0)),
                   local(2025, 7, 3, 8, 0, 0));
  assert_int_equal(sch_due_slot("nonsense", t, 0), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_specs_parse_exactly),
      cmocka_unit_test(test_daily_is_local_time_and_strictly_after),
      cmocka_unit_test(test_across_the_local_midnight),
      cmocka_unit_test(test_month_ends_and_leap_february),
      cmocka_unit_test(test_year_end),
      cmocka_unit_test(test_every_n_is_aligned_to_the_hour),
      cmocka_unit_test(test_slot_invariants_over_a_sweep),
      cmocka_unit_test(test_lease_decisions),
      cmocka_unit_test(test_a_call_ends_inside_its_lease),
      cmocka_unit_test(test_due_slot_once_per_slot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
