/* The journey planner on the demo network (svc/transport/seed/network.json): every pair,
 * symmetry, the worked journeys of spec §5.1 and fare-examples.json, errors, tie-breaks. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "svc/transport/planner.h"

/* The demo network loaded from the seed file. */
typedef struct demo {
  json_t *doc;
  planner_station_def stations[256];
  int n_stations;
  planner_line_def lines[16];
  const char *codes[16];
  const char *ids[16][64];
  int n_lines;
} demo;

static demo net;

static json_t *load_json(const char *relative) {
  const char *src = getenv("METRO_SOURCE_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", src ? src : ".", relative);
  json_error_t err;
  json_t *doc = json_load_file(path, 0, &err);
  if (!doc) fprintf(stderr, "%s: %s\n", path, err.text);
  return doc;
}

static int load_demo(void **state) {
  (void)state;
  net.doc = load_json("svc/transport/seed/network.json");
  if (!net.doc) return -1;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(net.doc, "stations"), i, v) {
    net.stations[net.n_stations++] = (planner_station_def){json_string_value(json_object_get(v, "id")), true};
  }
  json_array_foreach(json_object_get(net.doc, "lines"), i, v) {
    int l = net.n_lines++;
    net.codes[l] = json_string_value(json_object_get(v, "code"));
    size_t k;
    json_t *s;
    int n = 0;
    json_array_foreach(json_object_get(v, "stations"), k, s) net.ids[l][n++] = json_string_value(s);
    net.lines[l] = (planner_line_def){json_string_value(json_object_get(v, "id")), net.ids[l], n};
  }
  return 0;
}

static int free_demo(void **state) {
  (void)state;
  json_decref(net.doc);
  return 0;
}

static planner *demo_planner(void) {
  planner *p = planner_build(net.stations, net.n_stations, net.lines, net.n_lines, 2);
  assert_non_null(p);
  return p;
}

static const char *route_of(const char *code) {
  for (int l = 0; l < net.n_lines; l++)
    if (strcmp(net.codes[l], code) == 0) return net.lines[l].route_id;
  fail_msg("unknown line code %s", code);
  return NULL;
}

static const char *station_named(const char *name) {
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(net.doc, "stations"), i, v) {
    if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
      return json_string_value(json_object_get(v, "id"));
  }
  fail_msg("unknown station name \"%s\"", name);
  return NULL;
}

typedef struct expected_segment {
  const char *code, *from, *to;
  int n;
} expected_segment;

static void expect_journey(const char *origin, const char *dest, int cost, const expected_segment *segs, int n) {
  planner *p = demo_planner();
  planner_journey j;
  assert_int_equal(planner_plan(p, origin, dest, &j), PLANNER_OK);
  assert_int_equal(j.n_segments, n);
  assert_int_equal(j.transfers, n - 1);
  for (int i = 0; i < n; i++) {
    assert_string_equal(j.segments[i].route_id, route_of(segs[i].code));
    assert_string_equal(j.segments[i].from_station_id, segs[i].from);
    assert_string_equal(j.segments[i].to_station_id, segs[i].to);
    assert_int_equal(j.segments[i].station_count, segs[i].n);
    if (i > 0) assert_string_equal(j.transfer_station_ids[i - 1], segs[i].from);
  }
  if (cost >= 0) assert_int_equal(j.cost, cost);
  planner_free(p);
}

static void test_every_pair_is_answered_and_costs_are_symmetric(void **state) {
  (void)state;
  planner *p = demo_planner();
  int n = planner_station_count(p);
  assert_int_equal(n, 103);
  int *cost = calloc((size_t)n * (size_t)n, sizeof(int));
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++) {
      if (a == b) continue;
      planner_journey j;
      assert_int_equal(planner_plan(p, planner_station_id(p, a), planner_station_id(p, b), &j), PLANNER_OK);
      cost[a * n + b] = j.cost;
      assert_true(j.cost >= 1);
      assert_int_equal(j.n_segments, j.transfers + 1);
      assert_string_equal(j.segments[0].from_station_id, planner_station_id(p, a));
      assert_string_equal(j.segments[j.n_segments - 1].to_station_id, planner_station_id(p, b));
      int hops = 0;
      for (int s = 0; s < j.n_segments; s++) hops += j.segments[s].station_count - 1;
      assert_int_equal(j.cost, hops + 2 * j.transfers);
    }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / (n * (n - 1));
  printf("planner: %d queries (every ordered pair), %.2f us per query, %.0f queries/s on one thread\n", n * (n - 1),
         us, 1e6 / us);
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++) assert_int_equal(cost[a * n + b], cost[b * n + a]);
  free(cost);
  planner_free(p);
}

static void test_worked_journeys_on_one_line(void **state) {
  (void)state;
  expect_journey("ben-thanh", "nha-hat-thanh-pho", 1, (expected_segment[]){{"L1", "ben-thanh", "nha-hat-thanh-pho", 2}}, 1);
  expect_journey("ben-thanh", "thao-dien", 5, (expected_segment[]){{"L1", "ben-thanh", "thao-dien", 6}}, 1);
  expect_journey("ben-thanh", "ben-xe-suoi-tien", 13, (expected_segment[]){{"L1", "ben-thanh", "ben-xe-suoi-tien", 14}},
                 1);
  expect_journey("bx-an-suong-moi", "cat-lai", 21, (expected_segment[]){{"L2", "bx-an-suong-moi", "cat-lai", 22}}, 1);
}

static void test_worked_journey_b_one_transfer_costs_16(void **state) {
  (void)state;
  expect_journey("ben-xe-suoi-tien", "tao-dan", 16,
                 (expected_segment[]){{"L1", "ben-xe-suoi-tien", "ben-thanh", 14}, {"L2", "ben-thanh", "tao-dan", 2}}, 2);
}

static void test_worked_journey_c_two_transfers_costs_16(void **state) {
  (void)state;
  expect_journey("thao-dien", "dam-sen", 16,
                 (expected_segment[]){{"L1", "thao-dien", "ben-thanh", 6},
                                      {"L3a", "ben-thanh", "cong-hoa", 3},
                                      {"L6", "cong-hoa", "dam-sen", 6}},
                 3);
}

static void test_worked_journey_g_three_transfers_costs_24(void **state) {
  (void)state;
  expect_journey("ben-xe-suoi-tien", "cau-sai-gon", 24,
                 (expected_segment[]){{"L1", "ben-xe-suoi-tien", "ben-thanh", 14},
                                      {"L4", "ben-thanh", "ho-con-rua", 2},
                                      {"L3b", "ho-con-rua", "hang-xanh", 4},
                                      {"L5", "hang-xanh", "cau-sai-gon", 2}},
                 4);
}

/* Each explanation reads "Plan: L1 A -> B (n stations, ...) + transfer + L2 B -> C (...); planner
 * cost 13 + 2 + 1 = 16 (...". */
static void test_fare_examples_plans_match_segment_by_segment(void **state) {
  (void)state;
  json_t *cases = load_json("test/data/fare-examples.json");
  assert_non_null(cases);
  size_t i;
  json_t *c;
  int checked = 0;
  json_array_foreach(cases, i, c) {
    char plan[2048];
    snprintf(plan, sizeof plan, "%s", json_string_value(json_object_get(c, "explanation")));
    char *start = strstr(plan, "Plan: "), *end = strstr(plan, "; planner cost ");
    assert_non_null(start);
    assert_non_null(end);
    int cost;
    const char *eq = strstr(end, " = ");
    const char *paren = strchr(end + 15, '(');
    if (eq && (!paren || eq < paren))
      cost = atoi(eq + 3);
    else
      cost = atoi(end + 15);
    *end = '\0';
    expected_segment segs[8];
    char names[8][2][128], codes[8][8];
    int n = 0;
    for (char *part = start + 6; part && n < 8; n++) {
      char *next = strstr(part, " + transfer + ");
      if (next) *next = '\0';
      char *code = codes[n];
      int count = 0;
      char *arrow = strstr(part, " -> "), *open = strrchr(part, '(');
      assert_non_null(arrow);
      assert_non_null(open);
      assert_int_equal(sscanf(part, "%7s", code), 1);
      char *from_name = part + strlen(code) + 1;
      snprintf(names[n][0], sizeof names[n][0], "%.*s", (int)(arrow - from_name), from_name);
      snprintf(names[n][1], sizeof names[n][1], "%.*s", (int)(open - 1 - (arrow + 4)), arrow + 4);
      assert_int_equal(sscanf(open, "(%d stations", &count), 1);
      segs[n] = (expected_segment){code, station_named(names[n][0]), station_named(names[n][1]), count};
      part = next ? next + 14 : NULL;
    }
    expect_journey(json_string_value(json_object_get(c, "origin")), json_string_value(json_object_get(c, "destination")),
                   cost, segs, n);
    checked++;
  }
  assert_int_equal(checked, 12);
  json_decref(cases);
}

static void test_errors_same_station_unknown_station_and_no_route(void **state) {
  (void)state;
  planner *p = demo_planner();
  planner_journey j;
  assert_int_equal(planner_plan(p, "ben-thanh", "ben-thanh", &j), PLANNER_SAME_STATION);
  assert_int_equal(planner_plan(p, "nowhere", "ben-thanh", &j), PLANNER_ORIGIN_NOT_FOUND);
  assert_int_equal(planner_plan(p, "ben-thanh", "nowhere", &j), PLANNER_DESTINATION_NOT_FOUND);
  assert_int_equal(planner_plan(p, NULL, "ben-thanh", &j), PLANNER_ORIGIN_NOT_FOUND);
  planner_free(p);
  /* Only Line 1 in service: Đầm Sen (Line 6) exists but no line reaches it. */
  p = planner_build(net.stations, net.n_stations, net.lines, 1, 2);
  assert_int_equal(planner_plan(p, "ben-thanh", "dam-sen", &j), PLANNER_NO_ROUTE);
  assert_int_equal(planner_plan(p, "ben-thanh", "thao-dien", &j), PLANNER_OK);
  planner_free(p);
}

static planner *demo_with_inactive(const char *station_id) {
  planner_station_def copy[256];
  memcpy(copy, net.stations, sizeof copy);
  for (int i = 0; i < net.n_stations; i++)
    if (strcmp(copy[i].station_id, station_id) == 0) copy[i].is_active = false;
  return planner_build(copy, net.n_stations, net.lines, net.n_lines, 2);
}

static void test_inactive_station_cannot_start_end_or_transfer_but_is_passed_through(void **state) {
  (void)state;
  planner *p = demo_with_inactive("nha-hat-thanh-pho");
  planner_journey j;
  assert_int_equal(planner_plan(p, "nha-hat-thanh-pho", "ben-thanh", &j), PLANNER_ORIGIN_INACTIVE);
  assert_int_equal(planner_plan(p, "ben-thanh", "nha-hat-thanh-pho", &j), PLANNER_DESTINATION_INACTIVE);
  assert_int_equal(planner_plan(p, "ben-thanh", "thao-dien", &j), PLANNER_OK);
  assert_int_equal(j.segments[0].station_count, 6);
  planner_free(p);
  /* Bến Thành closed: Line 1 meets no other line anywhere else. */
  p = demo_with_inactive("ben-thanh");
  assert_int_equal(planner_plan(p, "ben-xe-suoi-tien", "tao-dan", &j), PLANNER_NO_ROUTE);
  /* Line 2 still runs through Bến Thành. */
  assert_int_equal(planner_plan(p, "tao-dan", "me-linh", &j), PLANNER_OK);
  assert_int_equal(j.cost, 2);
  planner_free(p);
}

static void test_transfer_penalty_is_configurable(void **state) {
  (void)state;
  planner *p = planner_build(net.stations, net.n_stations, net.lines, net.n_lines, 5);
  planner_journey j;
  assert_int_equal(planner_plan(p, "ben-xe-suoi-tien", "tao-dan", &j), PLANNER_OK);
  assert_int_equal(j.cost, 19);
  planner_free(p);
  assert_null(planner_build(net.stations, net.n_stations, net.lines, net.n_lines, 0));
}

/* Two lines joining o and d with the same number of hops. */
static void test_equal_cost_prefers_the_earlier_line(void **state) {
  (void)state;
  const char *first[] = {"o", "x", "d"}, *second[] = {"o", "y", "d"};
  planner_station_def st[] = {{"o", true}, {"x", true}, {"y", true}, {"d", true}};
  planner_line_def lines[] = {{"second-in-id-order-but-first", first, 3}, {"a-line", second, 3}};
  planner *p = planner_build(st, 4, lines, 2, 2);
  planner_journey j;
  assert_int_equal(planner_plan(p, "o", "d", &j), PLANNER_OK);
  assert_string_equal(j.segments[0].route_id, "second-in-id-order-but-first");
  assert_int_equal(planner_plan(p, "d", "o", &j), PLANNER_OK);
  assert_string_equal(j.segments[0].route_id, "second-in-id-order-but-first");
  planner_free(p);
}

/* Line 0: o, A, B; line 1: A, y, d, B. Through A: 1 + 2 + 2; through B: 2 + 2 + 1. */
static void check_transfer_tie(const char *a, const char *b, const char *expected) {
  const char *l0[] = {"o", a, b}, *l1[] = {a, "y", "d", b};
  planner_station_def st[] = {{"o", true}, {a, true}, {b, true}, {"y", true}, {"d", true}};
  planner_line_def lines[] = {{"zero", l0, 3}, {"one", l1, 4}};
  planner *p = planner_build(st, 5, lines, 2, 2);
  planner_journey j;
  assert_int_equal(planner_plan(p, "o", "d", &j), PLANNER_OK);
  assert_int_equal(j.cost, 5);
  assert_int_equal(j.transfers, 1);
  assert_string_equal(j.transfer_station_ids[0], expected);
  planner_free(p);
}

static void test_equal_cost_and_lines_prefer_the_smaller_transfer_station_id(void **state) {
  (void)state;
  check_transfer_tie("aa", "bb", "aa");
  check_transfer_tie("bb", "aa", "aa");
}

static void test_fewer_transfers_win_at_equal_cost(void **state) {
  (void)state;
  /* o -> d: line "long" rides 5 hops (cost 5); line "a" 1 hop + transfer 2 + line "b" 2 hops = 5. */
  const char *lng[] = {"o", "p1", "p2", "p3", "p4", "d"}, *la[] = {"o", "t"}, *lb[] = {"t", "q", "d"};
  planner_station_def st[] = {{"o", true}, {"p1", true}, {"p2", true}, {"p3", true}, {"p4", true},
                              {"d", true}, {"t", true},  {"q", true}};
  planner_line_def lines[] = {{"a", la, 2}, {"b", lb, 3}, {"long", lng, 6}};
  planner *p = planner_build(st, 8, lines, 3, 2);
  planner_journey j;
  assert_int_equal(planner_plan(p, "o", "d", &j), PLANNER_OK);
  assert_int_equal(j.cost, 5);
  assert_int_equal(j.transfers, 0);
  assert_string_equal(j.segments[0].route_id, "long");
  planner_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_pair_is_answered_and_costs_are_symmetric),
      cmocka_unit_test(test_worked_journeys_on_one_line),
      cmocka_unit_test(test_worked_journey_b_one_transfer_costs_16),
      cmocka_unit_test(test_worked_journey_c_two_transfers_costs_16),
      cmocka_unit_test(test_worked_journey_g_three_transfers_costs_24),
      cmocka_unit_test(test_fare_examples_plans_match_segment_by_segment),
      cmocka_unit_test(test_errors_same_station_unknown_station_and_no_route),
      cmocka_unit_test(test_inactive_station_cannot_start_end_or_transfer_but_is_passed_through),
      cmocka_unit_test(test_transfer_penalty_is_configurable),
      cmocka_unit_test(test_equal_cost_prefers_the_earlier_line),
      cmocka_unit_test(test_equal_cost_and_lines_prefer_the_smaller_transfer_station_id),
      cmocka_unit_test(test_fewer_transfers_win_at_equal_cost),
  };
  return cmocka_run_group_tests(tests, load_demo, free_demo);
}
