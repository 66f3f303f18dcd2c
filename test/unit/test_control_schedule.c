/* The one trip generator (svc/control/generator) on the demo network and by hand: the fleet table
 * of spec §3, headways (the 453 s example, clamps, fleet limit), band boundaries, stop timing and
 * train assignment with turnaround of spec §16. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "svc/control/generator/schedule.h"

static json_t *network;

static int load(void **state) {
  (void)state;
  char path[1024];
  const char *src = getenv("METRO_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/svc/transport/seed/network.json", src ? src : ".");
  network = json_load_file(path, 0, NULL);
  return network ? 0 : -1;
}

static int unload(void **state) {
  (void)state;
  json_decref(network);
  return 0;
}

static json_t *line_by_code(const char *code) {
  size_t i;
  json_t *l;
  json_array_foreach(json_object_get(network, "lines"), i, l) {
    if (strcmp(json_string_value(json_object_get(l, "code")), code) == 0) return l;
  }
  fail_msg("no line %s", code);
  return NULL;
}

/* How many lines serve each station of `line`, in sequence order. */
static int line_counts(json_t *line, int *out) {
  size_t k;
  json_t *s;
  int n = 0;
  json_array_foreach(json_object_get(line, "stations"), k, s) {
    int count = 0;
    size_t i;
    json_t *other;
    json_array_foreach(json_object_get(network, "lines"), i, other) {
      size_t j;
      json_t *t;
      json_array_foreach(json_object_get(other, "stations"), j, t) count += strcmp(json_string_value(t), json_string_value(s)) == 0;
    }
    out[n++] = count;
  }
  return n;
}

static void test_demo_fleet_matches_the_table_and_totals_370(void **state) {
  (void)state;
  static const struct {
    const char *code;
    int active, maintenance;
    bool express;
  } table[] = {{"L1", 32, 7, false}, {"L2", 80, 16, true}, {"L3a", 39, 8, false}, {"L3b", 28, 6, false},
               {"L4", 64, 13, true},  {"L5", 44, 9, false}, {"L6", 20, 4, false}};
  int total = 0;
  for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
    int duration = (int)json_integer_value(json_object_get(line_by_code(table[i].code), "durationMin"));
    int active, maintenance;
    sched_fleet(duration, &active, &maintenance);
    assert_int_equal(active, table[i].active);
    assert_int_equal(maintenance, table[i].maintenance);
    assert_int_equal(sched_is_express(duration), table[i].express);
    total += active + maintenance;
  }
  assert_int_equal(total, 370);
  assert_int_equal(sched_capacity(true), 1300);
  assert_int_equal(sched_capacity(false), 900);
}

static void test_fallback_gives_217_weekday_and_132_weekend_departures(void **state) {
  (void)state;
  int deps[SCHED_MAX_DEPARTURES];
  int n = sched_fallback_departures(false, deps, SCHED_MAX_DEPARTURES);
  assert_int_equal(n, 217);
  assert_int_equal(deps[0], 5 * 3600);
  assert_true(deps[n - 1] < 23 * 3600);
  for (int i = 1; i < n; i++) assert_true(deps[i] > deps[i - 1]);
  /* 06:30 opens the peak band: 06:28 (480 s band) then 06:30, 06:33. */
  bool found = false;
  for (int i = 0; i < n; i++)
    if (deps[i] == 6 * 3600 + 30 * 60) found = deps[i - 1] == 6 * 3600 + 28 * 60 && deps[i + 1] == 6 * 3600 + 33 * 60;
  assert_true(found);
  assert_int_equal(sched_fallback_departures(true, deps, SCHED_MAX_DEPARTURES), 132);
}

static void test_weekend_detection(void **state) {
  (void)state;
  assert_false(sched_is_weekend(0));     /* 1970-01-01, Thursday */
  assert_true(sched_is_weekend(2));      /* Saturday */
  assert_true(sched_is_weekend(3));      /* Sunday */
  assert_false(sched_is_weekend(4));     /* Monday */
  assert_true(sched_is_weekend(20785));  /* 2026-11-28, Saturday */
  assert_false(sched_is_weekend(20781)); /* 2026-11-24, Tuesday */
}

static void test_first_line1_trip_matches_the_spec_example(void **state) {
  (void)state;
  int counts[64];
  json_t *l1 = line_by_code("L1");
  sched_line line = {.duration_min = 30, .n_stations = line_counts(l1, counts), .station_lines = counts, .n_trains = 32};
  int arr[64], dep[64];
  sched_stop_times(&sched_default_rules, &line, false, 5 * 3600, arr, dep);
  assert_int_equal(arr[0], -1);
  assert_int_equal(dep[0], 5 * 3600);
  assert_int_equal(arr[1], 5 * 3600 + 101); /* 05:01:41 */
  assert_int_equal(dep[1], 5 * 3600 + 141); /* 05:02:21 */
  assert_int_equal(arr[13], 5 * 3600 + 1800);
  assert_int_equal(dep[13], -1);
  /* Inbound: Bến Thành (4 lines) is the terminus, so still no 75 s dwell on Line 1. */
  sched_stop_times(&sched_default_rules, &line, true, 5 * 3600, arr, dep);
  assert_int_equal(arr[13], 5 * 3600 + 1800);
}

static void test_big_interchanges_dwell_75_seconds(void **state) {
  (void)state;
  int counts[64];
  json_t *l2 = line_by_code("L2"); /* Bến Thành is its 14th station */
  sched_line line = {.duration_min = 90, .n_stations = line_counts(l2, counts), .station_lines = counts, .n_trains = 80};
  int arr[64], dep[64];
  sched_stop_times(&sched_default_rules, &line, false, 0, arr, dep);
  assert_int_equal(dep[13] - arr[13], 75);
  assert_int_equal(dep[12] - arr[12], 40);
  assert_int_equal(arr[21], 90 * 60);
}

static void check_line_assignment(const char *code, bool weekend) {
  int counts[64];
  json_t *l = line_by_code(code);
  int duration = (int)json_integer_value(json_object_get(l, "durationMin")), active, maintenance;
  sched_fleet(duration, &active, &maintenance);
  sched_line line = {.duration_min = duration, .n_stations = line_counts(l, counts), .station_lines = counts,
                     .n_trains = active};
  int deps[SCHED_MAX_DEPARTURES];
  int nd = sched_fallback_departures(weekend, deps, SCHED_MAX_DEPARTURES);
  sched_trip trips[2 * SCHED_MAX_DEPARTURES];
  int unassigned = -1;
  int n = sched_generate(&sched_default_rules, &line, deps, nd, trips, 2 * SCHED_MAX_DEPARTURES, &unassigned);
  assert_int_equal(n, 2 * nd);
  assert_int_equal(unassigned, 0);
  /* Each train alternates termini and rests the turnaround between runs. */
  int last_arrival[128], last_inbound[128];
  for (int k = 0; k < 128; k++) last_arrival[k] = -1;
  for (int i = 0; i < n; i++) {
    if (i > 0) assert_true(trips[i].departure > trips[i - 1].departure ||
                           (trips[i].departure == trips[i - 1].departure && trips[i].inbound));
    int t = trips[i].train;
    assert_true(t >= 0 && t < active);
    if (last_arrival[t] >= 0) {
      assert_true(trips[i].departure >= last_arrival[t] + 600);
      assert_int_not_equal(last_inbound[t], trips[i].inbound);
    }
    last_arrival[t] = trips[i].arrival;
    last_inbound[t] = trips[i].inbound;
    assert_int_equal(trips[i].arrival - trips[i].departure, duration * 60);
  }
}

static void test_demo_fleet_leaves_no_trip_unassigned(void **state) {
  (void)state;
  const char *codes[] = {"L1", "L2", "L3a", "L3b", "L4", "L5", "L6"};
  for (int i = 0; i < 7; i++) {
    check_line_assignment(codes[i], false);
    check_line_assignment(codes[i], true);
  }
}

static void test_too_few_trains_leave_trips_unassigned(void **state) {
  (void)state;
  int counts[3] = {1, 1, 1};
  sched_line line = {.duration_min = 30, .n_stations = 3, .station_lines = counts, .n_trains = 2};
  int deps[] = {0, 60, 120};
  sched_trip trips[6];
  int unassigned;
  assert_int_equal(sched_generate(&sched_default_rules, &line, deps, 3, trips, 6, &unassigned), 6);
  assert_int_equal(unassigned, 4);
  assert_int_equal(trips[0].train, 0);
  assert_int_equal(trips[1].train, 1);
  assert_int_equal(trips[2].train, -1);
}


/* ---- headways ---- */

static void test_headway_formula_gives_453_s_for_5000_passengers(void **state) {
  (void)state;
  /* 3600 / (5000 / (900 x 0.7)) = 453.6 -> 453 */
  assert_int_equal(sched_headway(5000, 900, &sched_default_limits), 453);
  /* express trains carry more: 3600 x 1300 x 0.7 / 5000 = 655.2 */
  assert_int_equal(sched_headway(5000, 1300, &sched_default_limits), 655);
  /* floored, not rounded: 3600 x 630 / 4999 = 453.69 */
  assert_int_equal(sched_headway(4999, 900, &sched_default_limits), 453);
  /* exact quotients stay exact: 2,268,000 / 5040 = 450 */
  assert_int_equal(sched_headway(5040, 900, &sched_default_limits), 450);
  assert_int_equal(sched_headway(5040.5, 900, &sched_default_limits), 449);
}

static void test_headway_is_clamped_to_120_900(void **state) {
  (void)state;
  assert_int_equal(sched_headway(0, 900, &sched_default_limits), 900);     /* D <= 0 -> 900 */
  assert_int_equal(sched_headway(-5, 900, &sched_default_limits), 900);
  assert_int_equal(sched_headway(0.0 / 0.0, 900, &sched_default_limits), 900);
  assert_int_equal(sched_headway(1, 900, &sched_default_limits), 900);     /* 2,268,000 s */
  assert_int_equal(sched_headway(2520, 900, &sched_default_limits), 900);  /* exactly 900 */
  assert_int_equal(sched_headway(2521, 900, &sched_default_limits), 899);
  assert_int_equal(sched_headway(18900, 900, &sched_default_limits), 120); /* exactly 120 */
  assert_int_equal(sched_headway(18901, 900, &sched_default_limits), 120); /* 119.99 -> clamp */
  assert_int_equal(sched_headway(1e9, 900, &sched_default_limits), 120);
  sched_limits tight = {.load_factor_pct = 100, .min_headway_s = 200, .max_headway_s = 600};
  assert_int_equal(sched_headway(5000, 900, &tight), 600);  /* 648 -> 600 */
  assert_int_equal(sched_headway(20000, 900, &tight), 200); /* 162 -> 200 */
  assert_int_equal(sched_headway(9000, 900, &tight), 360);
}

static void test_fleet_limit(void **state) {
  (void)state;
  /* ceil(2.4 x (30 x 60 + 600) / 32) = ceil(180) = 180 on Line 1's demo fleet */
  assert_int_equal(sched_fleet_headway(30, 600, 32), 180);
  /* ceil(2.4 x 2400 / 10) = 576 */
  assert_int_equal(sched_fleet_headway(30, 600, 10), 576);
  /* ceil(2.4 x 2400 / 7) = ceil(822.857) = 823 */
  assert_int_equal(sched_fleet_headway(30, 600, 7), 823);
  assert_int_equal(sched_fleet_headway(30, 600, 0), 0); /* no train: no trips at all */
  /* The demo fleet never limits the fallback's shortest headway (180 s). */
  const char *codes[] = {"L1", "L2", "L3a", "L3b", "L4", "L5", "L6"};
  for (int i = 0; i < 7; i++) {
    int duration = (int)json_integer_value(json_object_get(line_by_code(codes[i]), "durationMin")), active, maint;
    sched_fleet(duration, &active, &maint);
    assert_true(sched_fleet_headway(duration, 600, active) <= 180);
  }
  /* h_eff = max(headway, fleet): a 10-train Line 1 runs no closer than 576 s, however busy. */
  int counts[14] = {4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  sched_line line = {.duration_min = 30, .n_stations = 14, .station_lines = counts, .n_trains = 10};
  const sched_band *bands;
  int nb = sched_fallback_bands(false, &bands);
  sched_day day;
  assert_true(sched_day_build(&sched_default_rules, &line, bands, nb, &day));
  assert_int_equal(day.fleet_headway, 576);
  /* Inside a band every gap is max(band headway, 576); a band starts afresh at its start. */
  int prev = -1, outbound = 0;
  for (int i = 0; i < day.n_trips; i++) {
    if (day.trips[i].inbound) continue;
    int t = day.trips[i].departure, h = 0;
    bool band_start = false;
    for (int b = 0; b < nb; b++) {
      band_start |= t == bands[b].start;
      if (t >= bands[b].start && t < bands[b].end) h = bands[b].headway > 576 ? bands[b].headway : 576;
    }
    if (!band_start) assert_int_equal(t - prev, h);
    assert_true(t < 23 * 3600);
    prev = t;
    outbound++;
  }
  assert_int_equal(outbound, day.n_trips / 2);
  assert_true(outbound < 217);
  sched_day_free(&day);
  line.n_trains = 0;
  assert_true(sched_day_build(&sched_default_rules, &line, bands, nb, &day));
  assert_int_equal(day.n_trips, 0); /* NO_ACTIVE_TRAINS */
  sched_day_free(&day);
}

/* ---- bands ---- */

static void test_service_bands_are_the_eight_of_the_spec(void **state) {
  (void)state;
  static const int hm[8][4] = {{5, 0, 6, 30},   {6, 30, 8, 30},  {8, 30, 11, 0},  {11, 0, 13, 30},
                               {13, 30, 17, 0}, {17, 0, 19, 30}, {19, 30, 21, 30}, {21, 30, 23, 0}};
  for (int b = 0; b < SCHED_N_SERVICE_BANDS; b++) {
    assert_int_equal(sched_service_bands[b].start, hm[b][0] * 3600 + hm[b][1] * 60);
    assert_int_equal(sched_service_bands[b].end, hm[b][2] * 3600 + hm[b][3] * 60);
    if (b > 0) assert_int_equal(sched_service_bands[b].start, sched_service_bands[b - 1].end);
  }
}

static void test_band_boundaries_restart_and_never_repeat(void **state) {
  (void)state;
  int out[32];
  /* Each band starts at its own start: 0, 300, 600, 900 | 1000, 1400, 1800 */
  sched_band a[] = {{0, 1000, 300}, {1000, 2000, 400}};
  int n = sched_departures(a, 2, 0, out, 32);
  int want_a[] = {0, 300, 600, 900, 1000, 1400, 1800};
  assert_int_equal(n, 7);
  for (int i = 0; i < n; i++) assert_int_equal(out[i], want_a[i]);
  /* t < end: the band end itself belongs to the next band, once. */
  sched_band b[] = {{0, 900, 300}, {900, 1500, 600}};
  n = sched_departures(b, 2, 0, out, 32);
  int want_b[] = {0, 300, 600, 900};
  assert_int_equal(n, 4);
  for (int i = 0; i < n; i++) assert_int_equal(out[i], want_b[i]);
  /* A band starting before the previous departure drops the times not after it. */
  sched_band c[] = {{0, 1000, 700}, {500, 1000, 200}};
  n = sched_departures(c, 2, 0, out, 32);
  int want_c[] = {0, 700, 900};
  assert_int_equal(n, 3);
  for (int i = 0; i < n; i++) assert_int_equal(out[i], want_c[i]);
  /* The fleet limit raises every band's headway. */
  n = sched_departures(a, 2, 500, out, 32);
  int want_d[] = {0, 500, 1000, 1500};
  assert_int_equal(n, 4);
  for (int i = 0; i < n; i++) assert_int_equal(out[i], want_d[i]);
  /* 8 bands at 900 s: 05:00-06:30 gives 6 (05:00 ... 06:15), the whole day 76; the last is before 23:00. */
  sched_band all[SCHED_N_SERVICE_BANDS];
  for (int i = 0; i < SCHED_N_SERVICE_BANDS; i++) all[i] = sched_service_bands[i], all[i].headway = 900;
  int deps[SCHED_MAX_DEPARTURES];
  n = sched_departures(all, SCHED_N_SERVICE_BANDS, 0, deps, SCHED_MAX_DEPARTURES);
  assert_int_equal(deps[5], 6 * 3600 + 15 * 60);
  assert_int_equal(deps[6], 6 * 3600 + 30 * 60);
  assert_int_equal(n, 6 + 8 + 10 + 10 + 14 + 10 + 8 + 6);
  assert_true(deps[n - 1] < 23 * 3600);
  /* 120 s everywhere fits: 540 plus the restarts. */
  for (int i = 0; i < SCHED_N_SERVICE_BANDS; i++) all[i].headway = 120;
  n = sched_departures(all, SCHED_N_SERVICE_BANDS, 0, deps, SCHED_MAX_DEPARTURES);
  assert_int_equal(n, 540);
  /* A weekday fallback peak: 06:28 then the peak band from 06:30. */
  const sched_band *fb;
  assert_int_equal(sched_fallback_bands(false, &fb), 5);
  assert_int_equal(fb[1].start, 6 * 3600 + 30 * 60);
  assert_int_equal(fb[1].headway, 180);
  assert_int_equal(sched_fallback_bands(true, &fb), 4);
  assert_int_equal(fb[0].headway, 540);
}

/* ---- stop timing ---- */

static void test_running_time_split_by_floor_with_dwells(void **state) {
  (void)state;
  /* 3 stations, a big interchange in the middle, 10 minutes end to end: R = 600 - 75 = 525,
   * the middle stop after floor(525 / 2) = 262 s, leaves 75 s later, the end at 600. */
  int counts[3] = {1, 3, 1};
  sched_line line = {.duration_min = 10, .n_stations = 3, .station_lines = counts, .n_trains = 1};
  int arr[3], dep[3];
  sched_stop_times(&sched_default_rules, &line, false, 1000, arr, dep);
  assert_int_equal(arr[0], -1);
  assert_int_equal(dep[0], 1000);
  assert_int_equal(arr[1], 1262);
  assert_int_equal(dep[1], 1337);
  assert_int_equal(arr[2], 1600);
  assert_int_equal(dep[2], -1);
  /* 4 stations, plain dwells, 7 minutes: R = 420 - 80 = 340; stops at floor(340/3) = 113 and
   * floor(680/3) = 226 s of running, plus 40 s per dwell before them. */
  int plain[4] = {1, 1, 2, 1};
  sched_line four = {.duration_min = 7, .n_stations = 4, .station_lines = plain, .n_trains = 1};
  int a4[4], d4[4];
  sched_stop_times(&sched_default_rules, &four, true, 0, a4, d4);
  assert_int_equal(a4[1], 113);
  assert_int_equal(d4[1], 153);
  assert_int_equal(a4[2], 226 + 40);
  assert_int_equal(d4[2], 226 + 80);
  assert_int_equal(a4[3], 420);
  /* Dwells longer than the duration leave no running time, never a negative one. */
  sched_line tight = {.duration_min = 1, .n_stations = 4, .station_lines = plain, .n_trains = 1};
  sched_stop_times(&sched_default_rules, &tight, false, 0, a4, d4);
  assert_int_equal(a4[1], 0);
  assert_int_equal(d4[1], 40);
  assert_int_equal(a4[3], 80);
}

/* ---- train assignment ---- */

static void test_turnaround_is_600_s_after_arrival(void **state) {
  (void)state;
  /* One train, a 10-minute line: out at 0 (arrives 600, ready 1200 at the far end). */
  int counts[2] = {1, 1};
  sched_line line = {.duration_min = 10, .n_stations = 2, .station_lines = counts, .n_trains = 1};
  int deps[] = {0, 1199, 1200, 2400};
  sched_trip t[8];
  int unassigned;
  int n = sched_generate(&sched_default_rules, &line, deps, 4, t, 8, &unassigned);
  assert_int_equal(n, 8);
  /* order: out 0, in 0, out 1199, in 1199, out 1200, in 1200, out 2400, in 2400 */
  assert_int_equal(t[0].train, 0);  /* first use */
  assert_int_equal(t[1].train, -1); /* the only train is on its way */
  assert_int_equal(t[3].train, -1); /* in 1199: ready only at 1200 */
  assert_int_equal(t[5].train, 0);  /* in 1200: exactly ready */
  assert_int_equal(t[6].train, 0);  /* back at the first terminus at 1800, ready at 2400 */
  assert_int_equal(unassigned, 5);
  sched_rules quick = sched_default_rules;
  quick.turnaround_s = 0;
  n = sched_generate(&quick, &line, deps, 4, t, 8, &unassigned);
  assert_int_equal(n, 8);
  assert_true(t[3].inbound);
  assert_int_equal(t[3].train, 0); /* without a turnaround it is ready on arrival (600) */
}

static void test_earliest_ready_train_then_lowest_id(void **state) {
  (void)state;
  /* Three trains, 5-minute line, turnaround 0: departures every 60 s from both ends use new
   * trains until the first ones come back; at a tie the lowest index wins. */
  int counts[2] = {1, 1};
  sched_line line = {.duration_min = 5, .n_stations = 2, .station_lines = counts, .n_trains = 3};
  sched_rules r = sched_default_rules;
  r.turnaround_s = 0;
  int deps[] = {0, 300, 600};
  sched_trip t[6];
  int unassigned;
  assert_int_equal(sched_generate(&r, &line, deps, 3, t, 6, &unassigned), 6);
  /* out 0 -> train 0, in 0 -> train 1 (train 0 busy), out 300: train 1 arrived at terminus 0 at 300 */
  assert_int_equal(t[0].train, 0);
  assert_int_equal(t[1].train, 1);
  assert_int_equal(t[2].train, 1);
  assert_int_equal(t[3].train, 0);
  assert_int_equal(unassigned, 0);
  /* A fresh train never displaces a ready one waiting at the terminus. */
  assert_int_equal(t[4].train, 0);
  assert_int_equal(t[5].train, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_demo_fleet_matches_the_table_and_totals_370),
      cmocka_unit_test(test_fallback_gives_217_weekday_and_132_weekend_departures),
      cmocka_unit_test(test_weekend_detection),
      cmocka_unit_test(test_first_line1_trip_matches_the_spec_example),
      cmocka_unit_test(test_big_interchanges_dwell_75_seconds),
      cmocka_unit_test(test_demo_fleet_leaves_no_trip_unassigned),
      cmocka_unit_test(test_too_few_trains_leave_trips_unassigned),
      cmocka_unit_test(test_headway_formula_gives_453_s_for_5000_passengers),
      cmocka_unit_test(test_headway_is_clamped_to_120_900),
      cmocka_unit_test(test_fleet_limit),
      cmocka_unit_test(test_service_bands_are_the_eight_of_the_spec),
      cmocka_unit_test(test_band_boundaries_restart_and_never_repeat),
      cmocka_unit_test(test_running_time_split_by_floor_with_dwells),
      cmocka_unit_test(test_turnaround_is_600_s_after_arrival),
      cmocka_unit_test(test_earliest_ready_train_then_lowest_id),
  };
  return cmocka_run_group_tests(tests, load, unload);
}
