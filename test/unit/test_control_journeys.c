/* Where a ticket.used exit counts (svc/control/journeys.c) on the demo network: the line and
 * direction of each leg from the entry, the exit and the ticket's lines (transfers at the shared
 * station, return journeys backwards), a planned journey's legs, and the big interchanges. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "svc/control/control.h"

#define L1 "tuyen-metro-so-1-ben-thanh-suoi-tien"
#define L2 "tuyen-metro-so-2-bx-an-suong-moi-cat-lai"
#define L3A "tuyen-metro-so-3a-bx-mien-tay-moi-ben-thanh"
#define L5 "tuyen-metro-so-5-bx-can-giuoc-cau-sai-gon"
#define L6 "tuyen-metro-so-6-quoc-lo-1a-cong-hoa"

static arena *a;
static ct_network *net;

/* The network as transport's ListLines gives it, from the seed file. */
static int load(void **state) {
  (void)state;
  char path[1024];
  const char *src = getenv("METRO_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/svc/transport/seed/network.json", src ? src : ".");
  json_t *doc = json_load_file(path, 0, NULL);
  if (!doc) return -1;
  a = arena_create(1 << 16);
  json_t *lines = json_object_get(doc, "lines");
  size_t n = json_array_size(lines);
  Metro__Transport__V1__Line **protos = arena_alloc(a, sizeof(*protos) * n);
  for (size_t i = 0; i < n; i++) {
    json_t *j = json_array_get(lines, i);
    Metro__Transport__V1__Line *l = arena_alloc(a, sizeof *l);
    metro__transport__v1__line__init(l);
    l->route_id = arena_strdup(a, json_string_value(json_object_get(j, "id")));
    l->duration_min = (int)json_integer_value(json_object_get(j, "durationMin"));
    l->is_active = true;
    json_t *ids = json_object_get(j, "stations");
    l->n_stations = json_array_size(ids);
    l->stations = arena_alloc(a, sizeof(*l->stations) * l->n_stations);
    for (size_t k = 0; k < l->n_stations; k++) {
      Metro__Transport__V1__LineStation *s = arena_alloc(a, sizeof *s);
      metro__transport__v1__line_station__init(s);
      s->station_id = arena_strdup(a, json_string_value(json_array_get(ids, k)));
      s->sequence = (int)k + 1;
      l->stations[k] = s;
    }
    protos[i] = l;
  }
  net = ct_network_from_lines(a, protos, (int)n);
  json_decref(doc);
  return 0;
}

static int unload(void **state) {
  (void)state;
  arena_destroy(a);
  return 0;
}

static int legs(const char *entry, const char *exit, const char *r1, const char *r2, ct_leg *out) {
  char *ids[2] = {(char *)r1, (char *)r2};
  return ct_journey_legs(net, entry, exit, ids, r2 ? 2 : (r1 ? 1 : 0), out, CT_MAX_LEGS);
}

static void test_one_line_both_directions(void **state) {
  (void)state;
  ct_leg out[CT_MAX_LEGS];
  assert_int_equal(legs("ben-thanh", "ben-xe-suoi-tien", L1, NULL, out), 1);
  assert_string_equal(out[0].line->route_id, L1);
  assert_false(out[0].inbound);
  assert_int_equal(legs("ben-xe-suoi-tien", "ba-son", L1, NULL, out), 1);
  assert_true(out[0].inbound);
  /* The exit is not on the ticket's line (a rider who left elsewhere): not resolved here. */
  assert_int_equal(legs("ben-thanh", "cat-lai", L1, NULL, out), -1);
  /* No line named (a pass): the planner decides. */
  assert_int_equal(legs("ben-thanh", "ba-son", NULL, NULL, out), -1);
  char *unknown[1] = {"no-such-line"};
  assert_int_equal(ct_journey_legs(net, "ben-thanh", "ba-son", unknown, 1, out, CT_MAX_LEGS), -1);
}

static void test_transfer_at_the_shared_station_and_return_backwards(void **state) {
  (void)state;
  ct_leg out[CT_MAX_LEGS];
  const ct_line *l1 = ct_network_line(net, L1), *l2 = ct_network_line(net, L2);
  /* Suối Tiên -> Bến Thành on L1 (inbound), then L2 from Bến Thành towards Cát Lái (outbound). */
  const char *l2_last = l2->stations[l2->n_stations - 1];
  assert_int_equal(legs(l1->stations[l1->n_stations - 1], l2_last, L1, L2, out), 2);
  assert_string_equal(out[0].line->route_id, L1);
  assert_true(out[0].inbound);
  assert_string_equal(out[1].line->route_id, L2);
  assert_false(out[1].inbound);
  /* The return: entry at the far end of L2, the ticket still names L1 then L2. */
  assert_int_equal(legs(l2_last, l1->stations[l1->n_stations - 1], L1, L2, out), 2);
  assert_string_equal(out[0].line->route_id, L2);
  assert_true(out[0].inbound);
  assert_string_equal(out[1].line->route_id, L1);
  assert_false(out[1].inbound);
  /* Lines that share no station do not chain. */
  const ct_line *l6 = ct_network_line(net, L6);
  assert_int_equal(legs(l1->stations[1], l6->stations[0], L1, L6, out), -1);
  /* Boarding at the transfer station itself rides only the second line. */
  assert_int_equal(legs("ben-thanh", l2_last, L1, L2, out), 1);
  assert_string_equal(out[0].line->route_id, L2);
}

static void test_plan_segments_become_legs(void **state) {
  (void)state;
  Metro__Transport__V1__JourneySegment s1 = METRO__TRANSPORT__V1__JOURNEY_SEGMENT__INIT,
                                       s2 = METRO__TRANSPORT__V1__JOURNEY_SEGMENT__INIT;
  const ct_line *l3a = ct_network_line(net, L3A), *l5 = ct_network_line(net, L5);
  s1.route_id = L3A;
  s1.from_station_id = (char *)l3a->stations[0];
  s1.to_station_id = "thuan-kieu";
  s2.route_id = L5;
  s2.from_station_id = "thuan-kieu";
  s2.to_station_id = (char *)l5->stations[0];
  Metro__Transport__V1__JourneySegment *segs[2] = {&s1, &s2};
  Metro__Transport__V1__JourneyPlan plan = METRO__TRANSPORT__V1__JOURNEY_PLAN__INIT;
  plan.segments = segs;
  plan.n_segments = 2;
  ct_leg out[CT_MAX_LEGS];
  /* Bến xe Miền Tây -> Thuận Kiều on L3a (outbound), then L5 back to Bến xe Cần Giuộc (inbound). */
  assert_int_equal(ct_plan_legs(net, &plan, out, CT_MAX_LEGS), 2);
  assert_false(out[0].inbound);
  assert_true(out[1].inbound);
  s2.route_id = "no-such-line";
  assert_int_equal(ct_plan_legs(net, &plan, out, CT_MAX_LEGS), -1);
}

static void test_big_interchanges_count_active_lines(void **state) {
  (void)state;
  const ct_line *l1 = ct_network_line(net, L1), *l6 = ct_network_line(net, L6);
  assert_int_equal(l1->station_lines[ct_line_position(l1, "ben-thanh")], 4);
  assert_int_equal(l6->station_lines[ct_line_position(l6, "cong-hoa")], 3);
  assert_int_equal(l1->station_lines[1], 1);
  /* The first L1 trip of the spec from this network: 05:01:41-05:02:21 at stop 2, 05:30:00 at the end. */
  sched_line sl = {.duration_min = l1->duration_min, .n_stations = l1->n_stations, .station_lines = l1->station_lines,
                   .n_trains = 32};
  int arr[64], dep[64];
  sched_stop_times(&sched_default_rules, &sl, false, 5 * 3600, arr, dep);
  assert_int_equal(arr[1], 5 * 3600 + 101);
  assert_int_equal(dep[1], 5 * 3600 + 141);
  assert_int_equal(arr[l1->n_stations - 1], 5 * 3600 + 1800);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_line_both_directions),
      cmocka_unit_test(test_transfer_at_the_shared_station_and_return_backwards),
      cmocka_unit_test(test_plan_segments_become_legs),
      cmocka_unit_test(test_big_interchanges_count_active_lines),
  };
  return cmocka_run_group_tests(tests, load, unload);
}
