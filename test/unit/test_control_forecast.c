/* The control service's forecast rules (svc/control/forecast.c, calendar.c, generate.c's band
 * plan): weights 8...1, when a line has a model, the holiday stand-in (Sunday x 0.6 until 3
 * samples), band demand over the hours a band touches, and local dates and hours (UTC+7). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "svc/control/control.h"

static ct_hours flat(double v) {
  ct_hours h;
  for (int d = 0; d < 2; d++)
    for (int k = 0; k < 24; k++) h.pax[d][k] = v;
  return h;
}

static void test_weights_are_8_to_1_newest_heaviest(void **state) {
  (void)state;
  ct_hours days[9], out;
  for (int i = 0; i < 9; i++) days[i] = flat(0);
  days[0].pax[0][7] = 100; /* newest */
  days[1].pax[0][7] = 10;
  ct_weighted_mean(days, 2, &out);
  assert_float_equal(out.pax[0][7], (8 * 100 + 7 * 10) / 15.0, 1e-9);
  assert_float_equal(out.pax[1][7], 0, 1e-9);
  /* All eight: sum of weights 36. */
  for (int i = 0; i < 8; i++) days[i].pax[1][8] = i + 1; /* newest 1 ... oldest 8 */
  ct_weighted_mean(days, 8, &out);
  double want = 0;
  for (int i = 0; i < 8; i++) want += (8 - i) * (i + 1);
  assert_float_equal(out.pax[1][8], want / 36, 1e-9);
  /* A ninth date is not used. */
  days[8].pax[1][8] = 1e6;
  ct_weighted_mean(days, 9, &out);
  assert_float_equal(out.pax[1][8], want / 36, 1e-9);
  /* The same value every date is that value. */
  for (int i = 0; i < 8; i++) days[i] = flat(42);
  ct_weighted_mean(days, 5, &out);
  assert_float_equal(out.pax[0][0], 42, 1e-9);
  assert_float_equal(out.pax[1][23], 42, 1e-9);
}

static void test_a_model_needs_14_days_of_data(void **state) {
  (void)state;
  ct_hours samples[2] = {flat(100), flat(200)};
  ct_forecast_input in = {.day_type = 2, .data_days = 13, .samples = samples, .n_samples = 2};
  ct_forecast f;
  ct_forecast_compute(&in, &f);
  assert_false(f.model);
  assert_int_equal(f.basis, CT_BASIS_NONE);
  assert_int_equal(f.data_days, 13);
  assert_int_equal(f.day_type, 2);
  in.data_days = 14;
  ct_forecast_compute(&in, &f);
  assert_true(f.model);
  assert_int_equal(f.basis, CT_BASIS_DAY_TYPE);
  assert_int_equal(f.samples, 2);
  assert_float_equal(f.hours.pax[0][12], (8 * 100 + 7 * 200) / 15.0, 1e-9);
  /* Data, but never on this day type: the fallback. */
  in.n_samples = 0;
  ct_forecast_compute(&in, &f);
  assert_false(f.model);
}

static void test_holiday_is_sunday_x_0_6_until_3_samples(void **state) {
  (void)state;
  ct_hours holidays[3] = {flat(1000), flat(1000), flat(4000)};
  ct_hours sundays[2] = {flat(3000), flat(1500)};
  ct_forecast_input in = {.day_type = CT_HOLIDAY, .data_days = 30, .samples = holidays, .n_samples = 0,
                          .sundays = sundays, .n_sundays = 2};
  ct_forecast f;
  ct_forecast_compute(&in, &f);
  assert_true(f.model);
  assert_int_equal(f.basis, CT_BASIS_SUNDAY);
  double sunday = (8 * 3000 + 7 * 1500) / 15.0;
  assert_float_equal(f.hours.pax[0][9], sunday * 0.6, 1e-9);
  assert_float_equal(f.hours.pax[1][9], sunday * 0.6, 1e-9);
  in.n_samples = 2; /* still fewer than 3 */
  ct_forecast_compute(&in, &f);
  assert_int_equal(f.basis, CT_BASIS_SUNDAY);
  assert_float_equal(f.hours.pax[0][9], sunday * 0.6, 1e-9);
  in.n_samples = 3; /* holidays stand on their own */
  ct_forecast_compute(&in, &f);
  assert_int_equal(f.basis, CT_BASIS_DAY_TYPE);
  assert_float_equal(f.hours.pax[0][9], (8 * 1000 + 7 * 1000 + 6 * 4000) / 21.0, 1e-9);
  /* No holiday sample and no Sunday either: the fallback (weekend table). */
  in.n_samples = 0;
  in.n_sundays = 0;
  ct_forecast_compute(&in, &f);
  assert_false(f.model);
  /* Before 14 days even a holiday has no model. */
  in.n_sundays = 2;
  in.data_days = 10;
  ct_forecast_compute(&in, &f);
  assert_false(f.model);
}

static void test_band_demand_is_the_busiest_hour_either_way(void **state) {
  (void)state;
  ct_hours h = flat(0);
  h.pax[0][5] = 100;
  h.pax[1][6] = 300; /* 06:00-07:00 touches 05:00-06:30 and 06:30-08:30 */
  h.pax[0][8] = 250;
  h.pax[1][22] = 40;
  assert_float_equal(ct_band_demand(&h, 5 * 3600, 6 * 3600 + 1800), 300, 1e-9);
  assert_float_equal(ct_band_demand(&h, 6 * 3600 + 1800, 8 * 3600 + 1800), 300, 1e-9);
  assert_float_equal(ct_band_demand(&h, 8 * 3600 + 1800, 11 * 3600), 250, 1e-9);
  assert_float_equal(ct_band_demand(&h, 11 * 3600, 13 * 3600 + 1800), 0, 1e-9);
  assert_float_equal(ct_band_demand(&h, 21 * 3600 + 1800, 23 * 3600), 40, 1e-9);
  /* An end on the hour does not touch that hour. */
  assert_float_equal(ct_band_demand(&h, 7 * 3600, 8 * 3600), 0, 1e-9);
}

static void test_model_bands_give_453_s_for_5000(void **state) {
  (void)state;
  ct_hours h = flat(0);
  h.pax[0][7] = 5000;   /* the morning peak */
  h.pax[1][18] = 20000; /* busier than 120 s can carry: clamped */
  h.pax[0][12] = 1000;
  sched_band bands[SCHED_N_SERVICE_BANDS];
  double demand[SCHED_N_SERVICE_BANDS];
  ct_model_bands(&h, 900, &sched_default_limits, bands, demand);
  assert_int_equal(bands[0].headway, 900); /* nobody: D = 0 */
  assert_float_equal(demand[1], 5000, 1e-9);
  assert_int_equal(bands[1].headway, 453);
  assert_int_equal(bands[3].headway, 900); /* 2268 s -> 900 */
  assert_int_equal(bands[5].headway, 120);
  assert_int_equal(bands[7].start, 21 * 3600 + 1800);
  /* The plan the generator gets: the fleet limit on top (a short fleet: 200 s). */
  ct_state st = {.limits = sched_default_limits, .rules = sched_default_rules};
  ct_forecast f = {.model = true, .hours = h, .day_type = 1};
  int n;
  ct_plan_bands(&st, &f, 0, 900, 200, bands, demand, &n);
  assert_int_equal(n, 8);
  assert_int_equal(bands[1].headway, 453);
  assert_int_equal(bands[5].headway, 200);
  /* The fallback: weekday table on a weekday, weekend table on Saturday, Sunday and holidays. */
  ct_forecast none = {.model = false, .day_type = 2};
  ct_plan_bands(&st, &none, 0, 900, 0, bands, demand, &n);
  assert_int_equal(n, 5);
  assert_int_equal(bands[1].headway, 180);
  none.day_type = 6;
  ct_plan_bands(&st, &none, 0, 900, 0, bands, demand, &n);
  assert_int_equal(n, 4);
  assert_int_equal(bands[0].headway, 540);
  none.day_type = CT_HOLIDAY;
  ct_plan_bands(&st, &none, 0, 900, 500, bands, demand, &n);
  assert_int_equal(n, 4);
  assert_int_equal(bands[0].headway, 540);
  assert_int_equal(bands[2].headway, 500); /* 420 raised to the fleet limit */
}

static void test_local_dates_and_hours(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  long day;
  assert_true(ct_parse_day("1970-01-01", &day));
  assert_int_equal(day, 0);
  assert_true(ct_parse_day("2026-11-24", &day));
  assert_int_equal(day, 20781);
  assert_string_equal(ct_format_day(a, day), "2026-11-24");
  assert_int_equal(ct_day_type(day, false), 1); /* a Tuesday */
  assert_string_equal(ct_day_type_name(ct_day_type(day, false)), "tuesday");
  assert_string_equal(ct_day_type_name(ct_day_type(day, true)), "holiday");
  assert_true(ct_parse_day("2028-02-29", &day));
  assert_string_equal(ct_format_day(a, day), "2028-02-29");
  assert_false(ct_parse_day("2027-02-29", &day));
  assert_false(ct_parse_day("2026-13-01", &day));
  assert_false(ct_parse_day("2026-04-31", &day));
  assert_false(ct_parse_day("2026-4-1", &day));
  assert_false(ct_parse_day("24/11/2026", &day));
  assert_false(ct_parse_day("2026-11-24x", &day));
  assert_false(ct_parse_day("", &day));
  /* 2026-11-24T16:59:59Z is 23:59:59 local; one second later the next local date at hour 0. */
  int hour;
  int64_t us = (int64_t)(20781L * 86400 + 16 * 3600 + 59 * 60 + 59) * 1000000;
  ct_local_day_hour(us, &day, &hour);
  assert_int_equal(day, 20781);
  assert_int_equal(hour, 23);
  ct_local_day_hour(us + 1000000, &day, &hour);
  assert_int_equal(day, 20782);
  assert_int_equal(hour, 0);
  ct_local_day_hour((int64_t)(20781L * 86400) * 1000000, &day, &hour); /* 00:00Z = 07:00 local */
  assert_int_equal(day, 20781);
  assert_int_equal(hour, 7);
  assert_string_equal(ct_format_clock(a, 5 * 3600 + 101), "05:01:41");
  assert_string_equal(ct_format_clock(a, 24 * 3600 + 600), "24:10:00");
  assert_string_equal(ct_format_clock(a, -1), "");
  assert_string_equal(ct_format_hhmm(a, 21 * 3600 + 1800), "21:30");
  arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_weights_are_8_to_1_newest_heaviest),
      cmocka_unit_test(test_a_model_needs_14_days_of_data),
      cmocka_unit_test(test_holiday_is_sunday_x_0_6_until_3_samples),
      cmocka_unit_test(test_band_demand_is_the_busiest_hour_either_way),
      cmocka_unit_test(test_model_bands_give_453_s_for_5000),
      cmocka_unit_test(test_local_dates_and_hours),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
