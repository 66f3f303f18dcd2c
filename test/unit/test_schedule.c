/* Line operation rules on the demo network: the fleet table of spec §3 (370 trains), the
 * fallback departures and stop timing of spec §16, and train assignment with turnaround. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "svc/transport/schedule.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_demo_fleet_matches_the_table_and_totals_370),
      cmocka_unit_test(test_fallback_gives_217_weekday_and_132_weekend_departures),
      cmocka_unit_test(test_weekend_detection),
      cmocka_unit_test(test_first_line1_trip_matches_the_spec_example),
      cmocka_unit_test(test_big_interchanges_dwell_75_seconds),
      cmocka_unit_test(test_demo_fleet_leaves_no_trip_unassigned),
      cmocka_unit_test(test_too_few_trains_leave_trips_unassigned),
  };
  return cmocka_run_group_tests(tests, load, unload);
}
