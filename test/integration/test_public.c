/* The public read API end to end: every route answers without a token on the seeded
 * network, validation errors, an admin write through transport reaching the cache through
 * catalog.changed, cached answers served while transport is frozen (SIGSTOP), and the
 * admin-only cache flush. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/rpc_client.h"
#include "harness.h"
#include "metro/public/v1/public.pb-c.h"

#define L1 "tuyen-metro-so-1-ben-thanh-suoi-tien"
#define JOURNEY "/v1/journeys?originStationId=ben-thanh&destinationStationId=ben-xe-suoi-tien"

static char admin[2048];
static pid_t frozen_transport; /* SIGCONT'ed by the teardown should a test fail while it is stopped */

/* ---- helpers ---- */

static int setup(void **state) {
  (void)state;
  harness_init();
  const char *body_fmt = "{\"login\":\"%s\",\"password\":\"%s\"}";
  char body[512];
  snprintf(body, sizeof body, body_fmt, getenv("METRO_TEST_ADMIN_EMAIL"), getenv("METRO_TEST_ADMIN_PASSWORD"));
  http_response *r = http_call("POST", "/v1/auth/login", body, NULL);
  assert_int_equal(r->status, 200);
  snprintf(admin, sizeof admin, "%s", json_at(r, "accessToken"));
  http_response_free(r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (frozen_transport > 0) kill(frozen_transport, SIGCONT);
  rpc_client_shutdown();
  return 0;
}

/* A public GET (no token) that must answer 200. */
static http_response *get_ok(const char *path) {
  http_response *r = http_call("GET", path, NULL, NULL);
  if (r->status != 200) fprintf(stderr, "GET %s -> %ld: %s\n", path, r->status, r->body ? r->body : "");
  assert_int_equal(r->status, 200);
  assert_non_null(r->json);
  return r;
}

static void expect_error(const char *method, const char *path, const char *body, const char *bearer, long status,
                         const char *reason, const char *field) {
  http_response *r = http_call(method, path, body, bearer);
  if (r->status != status) fprintf(stderr, "%s %s -> %ld: %s\n", method, path, r->status, r->body ? r->body : "");
  assert_int_equal(r->status, status);
  if (reason) assert_string_equal(error_reason(r), reason);
  if (field) assert_string_equal(error_field(r), field);
  http_response_free(r);
}

static long sql_count(const char *query) {
  char *v = sql_value(query, NULL);
  assert_non_null(v);
  long n = atol(v);
  free(v);
  return n;
}

static void local_date(int days_ahead, char *out, size_t cap) {
  time_t t = time(NULL) + 7 * 3600 + (time_t)days_ahead * 86400;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, cap, "%Y-%m-%d", &tm);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A station on no line, created by the admin through transport; returns its id. */
static const char *create_lonely_station(const char *name) {
  const char *id = unique_name("pub-lonely-");
  char body[256];
  snprintf(body, sizeof body,
           "{\"stationId\":\"%s\",\"name\":\"%s\",\"location\":{\"latitude\":10.8,\"longitude\":106.7}}", id, name);
  http_response *r = http_call("POST", "/v1/stations", body, admin);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  return id;
}

static void delete_station(const char *id) {
  char path[160];
  snprintf(path, sizeof path, "/v1/stations/%s", id);
  http_response *r = http_call("DELETE", path, NULL, admin);
  assert_int_equal(r->status, 200);
  http_response_free(r);
}

/* Polls a public GET until json_at(field) equals want or timeout_ms passes; returns the
 * last value seen (static buffer). */
static const char *poll_field(const char *path, const char *field, const char *want, int timeout_ms) {
  static char last[256];
  for (int waited = 0;; waited += 100) {
    http_response *r = get_ok(path);
    snprintf(last, sizeof last, "%s", json_at(r, field));
    http_response_free(r);
    if (strcmp(last, want) == 0 || waited >= timeout_ms) return last;
    usleep(100 * 1000);
  }
}

/* ---- every route, anonymously ---- */

static void test_stations_and_lines_answer_without_a_token(void **state) {
  (void)state;
  long stations = sql_count("SELECT count(*) FROM transport.stations");
  assert_true(stations >= 103);
  http_response *r = get_ok("/v1/stations");
  json_t *list = json_object_get(r->json, "stations");
  assert_int_equal(json_array_size(list), stations);
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "stationId")), "23-thang-9");
  assert_string_equal(json_at(r, "nextPageToken"), "");
  http_response_free(r);

  r = get_ok("/v1/stations/ben-thanh");
  assert_string_equal(json_at(r, "name"), "Bến Thành");
  assert_int_equal(json_array_size(json_object_get(r->json, "routeIds")), 4);
  http_response_free(r);

  r = get_ok("/v1/lines");
  list = json_object_get(r->json, "lines");
  assert_int_equal(json_array_size(list), 7);
  json_t *first = json_array_get(list, 0);
  assert_string_equal(json_string_value(json_object_get(first, "code")), "L1");
  assert_int_equal(json_array_size(json_object_get(first, "stations")), 14);
  http_response_free(r);

  r = get_ok("/v1/lines/" L1);
  json_t *seq = json_object_get(r->json, "stations");
  assert_int_equal(json_array_size(seq), 14);
  for (size_t i = 0; i < 14; i++)
    assert_int_equal(json_integer_value(json_object_get(json_array_get(seq, i), "sequence")), (json_int_t)i + 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(seq, 0), "stationId")), "ben-thanh");
  assert_string_equal(json_string_value(json_object_get(json_array_get(seq, 13), "stationId")), "ben-xe-suoi-tien");
  http_response_free(r);
}

static void test_stations_page_through_the_cached_list(void **state) {
  (void)state;
  long stations = sql_count("SELECT count(*) FROM transport.stations");
  char path[256], token[128] = "";
  long seen = 0;
  for (int page = 0; page < 10; page++) {
    snprintf(path, sizeof path, "/v1/stations?pageSize=40%s%s", *token ? "&pageToken=" : "", token);
    http_response *r = get_ok(path);
    size_t n = json_array_size(json_object_get(r->json, "stations"));
    assert_true(n <= 40);
    seen += (long)n;
    snprintf(token, sizeof token, "%s", json_at(r, "nextPageToken"));
    http_response_free(r);
    if (!*token) break;
  }
  assert_int_equal(seen, stations);
}

static void test_journey_ben_thanh_to_suoi_tien_is_one_l1_segment(void **state) {
  (void)state;
  for (int round = 0; round < 2; round++) { /* the second answer comes from the cache */
    http_response *r = get_ok(JOURNEY);
    json_t *segs = json_object_get(r->json, "segments");
    assert_int_equal(json_array_size(segs), 1);
    json_t *s = json_array_get(segs, 0);
    assert_string_equal(json_string_value(json_object_get(s, "routeId")), L1);
    assert_string_equal(json_string_value(json_object_get(s, "fromStationId")), "ben-thanh");
    assert_string_equal(json_string_value(json_object_get(s, "toStationId")), "ben-xe-suoi-tien");
    assert_int_equal(json_integer_value(json_object_get(s, "stationCount")), 14);
    assert_int_equal(json_integer_value(json_object_get(r->json, "cost")), 13);
    assert_int_equal(json_integer_value(json_object_get(r->json, "transfers")), 0);
    http_response_free(r);
  }
}

static void test_journey_through_grpc_needs_no_identity(void **state) {
  (void)state;
  arena *a = arena_create(4096);
  Metro__Public__V1__PlanJourneyRequest req = METRO__PUBLIC__V1__PLAN_JOURNEY_REQUEST__INIT;
  req.origin_station_id = "thao-dien";
  req.destination_station_id = "dam-sen";
  rpc_call_meta meta = {0};
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(harness_env("METRO_PUBLIC_GRPC")), a,
                                 "/metro.public.v1.PublicService/PlanJourney", &meta, &req.base,
                                 &metro__transport__v1__journey_plan__descriptor, &resp, 30000, INT64_MAX);
  assert_true(rpc_ok(st));
  const Metro__Transport__V1__JourneyPlan *plan = (const void *)resp;
  assert_int_equal(plan->cost, 16); /* README: Line 1, 3a, 6 */
  assert_int_equal(plan->n_segments, 3);
  arena_destroy(a);
}

static void test_timetables_and_feed_answer_without_a_token(void **state) {
  (void)state;
  char today[16], tomorrow[16], path[256];
  local_date(0, today, sizeof today);
  local_date(1, tomorrow, sizeof tomorrow);
  /* The demo trips are written in the background at transport's start: wait for them. */
  snprintf(path, sizeof path, "/v1/lines/" L1 "/trips?date=%s&direction=outbound&pageSize=5", tomorrow);
  http_response *r = NULL;
  for (int i = 0; i < 600; i++) {
    r = get_ok(path);
    if (json_array_size(json_object_get(r->json, "trips")) > 0) break;
    http_response_free(r);
    r = NULL;
    usleep(100 * 1000);
  }
  assert_non_null(r);
  json_t *trips = json_object_get(r->json, "trips");
  assert_int_equal(json_array_size(trips), 5);
  json_t *t = json_array_get(trips, 0);
  assert_string_equal(json_string_value(json_object_get(t, "routeId")), L1);
  assert_string_equal(json_string_value(json_object_get(t, "serviceDate")), tomorrow);
  assert_string_equal(json_string_value(json_object_get(t, "direction")), "outbound");
  assert_string_equal(json_string_value(json_object_get(t, "departure")), "05:00:00");
  assert_int_equal(json_array_size(json_object_get(t, "stops")), 14);
  assert_true(*json_at(r, "nextPageToken"));
  http_response_free(r);

  snprintf(path, sizeof path, "/v1/stations/ben-thanh/departures?date=%s&time=05:00&limit=3", tomorrow);
  r = get_ok(path);
  json_t *deps = json_object_get(r->json, "departures");
  assert_int_equal(json_array_size(deps), 3);
  for (size_t i = 0; i < 3; i++) {
    const char *dep = json_string_value(json_object_get(json_array_get(deps, i), "departure"));
    assert_true(strcmp(dep, "05:00:00") >= 0);
  }
  http_response_free(r);
  r = get_ok("/v1/stations/ben-thanh/departures"); /* from now: may be empty late at night */
  http_response_free(r);

  snprintf(path, sizeof path, "/v1/gtfs?startDate=%s&days=1", today);
  r = get_ok(path);
  assert_string_equal(json_at(r, "contentType"), "application/zip");
  assert_string_equal(json_at(r, "fileName"), "metro-hcmc-gtfs.zip");
  assert_true(strncmp(json_at(r, "data"), "UEsDB", 5) == 0); /* base64 of "PK\3\4" */
  http_response_free(r);
}

/* ---- validation ---- */

static void test_bad_requests_are_refused_field_by_field(void **state) {
  (void)state;
  expect_error("GET", "/v1/lines/" L1 "/trips?date=2026-13-01", NULL, NULL, 400, "INVALID_DATE", "date");
  expect_error("GET", "/v1/lines/" L1 "/trips?date=24/11/2026", NULL, NULL, 400, "INVALID_DATE", "date");
  expect_error("GET", "/v1/lines/" L1 "/trips", NULL, NULL, 400, "FIELD_REQUIRED", "date");
  expect_error("GET", "/v1/lines/" L1 "/trips?date=2026-11-24&direction=up", NULL, NULL, 400, "INVALID_DIRECTION",
               "direction");
  expect_error("GET", "/v1/lines/" L1 "/trips?date=2026-11-24&pageToken=%3A%3A", NULL, NULL, 400,
               "INVALID_PAGE_TOKEN", "pageToken");
  expect_error("GET", "/v1/lines/no-such-line/trips?date=2026-11-24", NULL, NULL, 404, "LINE_NOT_FOUND", NULL);
  expect_error("GET", "/v1/lines/no-such-line", NULL, NULL, 404, "LINE_NOT_FOUND", NULL);
  expect_error("GET", "/v1/stations/atlantis", NULL, NULL, 404, "STATION_NOT_FOUND", NULL);
  expect_error("GET", "/v1/stations/Ben%20Thanh", NULL, NULL, 404, "STATION_NOT_FOUND", "stationId");
  expect_error("GET", "/v1/stations/ben-thanh/departures?time=25:99", NULL, NULL, 400, "INVALID_TIME", "time");
  expect_error("GET", "/v1/stations/ben-thanh/departures?date=tomorrow", NULL, NULL, 400, "INVALID_DATE", "date");
  expect_error("GET", "/v1/stations/ben-thanh/departures?limit=-1", NULL, NULL, 400, "INVALID_LIMIT", "limit");
  expect_error("GET", "/v1/stations?pageSize=501", NULL, NULL, 400, "INVALID_PAGE_SIZE", "pageSize");
  expect_error("GET", "/v1/stations?pageToken=bogus", NULL, NULL, 400, "INVALID_PAGE_TOKEN", "pageToken");
  expect_error("GET", "/v1/gtfs?days=3", NULL, NULL, 400, "INVALID_DAYS", "days");
  expect_error("GET", "/v1/gtfs?startDate=2026-11-24&days=32", NULL, NULL, 400, "INVALID_DAYS", "days");
  expect_error("GET", "/v1/journeys?originStationId=ben-thanh&destinationStationId=atlantis", NULL, NULL, 404,
               "STATION_NOT_FOUND", NULL);
  expect_error("GET", "/v1/journeys?originStationId=ben-thanh&destinationStationId=ben-thanh", NULL, NULL, 400,
               "SAME_STATION", "destinationStationId");
  expect_error("GET", "/v1/journeys?destinationStationId=ben-thanh", NULL, NULL, 400, "FIELD_REQUIRED",
               "originStationId");
}

static void test_journey_to_a_station_on_no_line_is_422_no_route(void **state) {
  (void)state;
  const char *id = create_lonely_station("Lonely Public");
  char path[256];
  snprintf(path, sizeof path, "/v1/journeys?originStationId=ben-thanh&destinationStationId=%s", id);
  expect_error("GET", path, NULL, NULL, 422, "NO_ROUTE", NULL);
  delete_station(id);
}

/* ---- invalidation ---- */

static bool station_listed(const char *id) {
  http_response *r = get_ok("/v1/stations");
  json_t *list = json_object_get(r->json, "stations");
  bool found = false;
  for (size_t i = 0; i < json_array_size(list) && !found; i++)
    found = strcmp(json_string_value(json_object_get(json_array_get(list, i), "stationId")), id) == 0;
  http_response_free(r);
  return found;
}

static void test_admin_rename_through_transport_reaches_public_reads(void **state) {
  (void)state;
  http_response_free(get_ok("/v1/stations")); /* cached before the station exists */
  const char *id = create_lonely_station("Ga Cu");
  /* Once the cached list shows it, the creation's catalog.changed has been applied. */
  bool listed = false;
  for (int waited = 0; waited <= 10000 && !(listed = station_listed(id)); waited += 100) usleep(100 * 1000);
  assert_true(listed);
  char path[160], sql[256];
  snprintf(path, sizeof path, "/v1/stations/%s", id);
  /* A write behind transport's back (no event) proves the answer is cached. Another test's
   * catalog write in between drops every cached station answer, so a stale-free read may be
   * that; the cache is proven when one of three tries serves the cached name. */
  snprintf(sql, sizeof sql, "UPDATE transport.stations SET name = $1 WHERE station_id = '%s' RETURNING name", id);
  bool served_cached = false;
  for (int attempt = 0; attempt < 3 && !served_cached; attempt++) {
    if (attempt > 0) { /* named back through transport: its event drops the answer cached meanwhile */
      http_response *back = http_call("PATCH", path, "{\"name\":\"Ga Cu\"}", admin);
      assert_int_equal(back->status, 200);
      http_response_free(back);
    }
    assert_string_equal(poll_field(path, "name", "Ga Cu", 5000), "Ga Cu");
    free(sql_value(sql, "Ga Ngam"));
    http_response *cached = get_ok(path);
    served_cached = strcmp(json_at(cached, "name"), "Ga Cu") == 0;
    http_response_free(cached);
  }
  assert_true(served_cached);
  http_response *r;
  /* The admin's rename publishes catalog.changed; public drops the stale answer. */
  r = http_call("PATCH", path, "{\"name\":\"Ga Moi\"}", admin);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  double t0 = now_s();
  assert_string_equal(poll_field(path, "name", "Ga Moi", 10000), "Ga Moi");
  fprintf(stderr, "rename visible through the public cache after %.2f s\n", now_s() - t0);
  /* The whole list was invalidated too. */
  r = get_ok("/v1/stations");
  json_t *list = json_object_get(r->json, "stations");
  bool found = false;
  for (size_t i = 0; i < json_array_size(list); i++) {
    json_t *s = json_array_get(list, i);
    if (strcmp(json_string_value(json_object_get(s, "stationId")), id) == 0) {
      assert_string_equal(json_string_value(json_object_get(s, "name")), "Ga Moi");
      found = true;
    }
  }
  assert_true(found);
  http_response_free(r);
  /* Deleted: gone from public reads once its catalog.changed is applied. */
  delete_station(id);
  long status = 0;
  for (int waited = 0; waited <= 10000 && status != 404; waited += 100) {
    r = http_call("GET", path, NULL, NULL);
    status = r->status;
    if (status == 404) assert_string_equal(error_reason(r), "STATION_NOT_FOUND");
    http_response_free(r);
    if (status != 404) usleep(100 * 1000);
  }
  assert_int_equal(status, 404);
}

/* ---- transport down ---- */

static pid_t transport_pid(void) {
  char file[512];
  snprintf(file, sizeof file, "%s/pids/transport.pid", harness_env("METRO_STACK_DIR"));
  FILE *f = fopen(file, "r");
  assert_non_null(f);
  long pid = 0;
  assert_int_equal(fscanf(f, "%ld", &pid), 1);
  fclose(f);
  assert_true(pid > 1);
  return (pid_t)pid;
}

static void test_cached_reads_are_served_while_transport_is_stopped(void **state) {
  (void)state;
  http_response_free(get_ok("/v1/stations/ben-thanh"));
  http_response_free(get_ok(JOURNEY));
  http_response_free(get_ok("/v1/lines"));
  /* Make the answers stale, so serving them needs the fallback rather than a fresh hit. */
  http_response *r = http_call("POST", "/v1/public/cache:flush", "{}", admin);
  assert_int_equal(r->status, 200);
  http_response_free(r);

  frozen_transport = transport_pid();
  assert_int_equal(kill(frozen_transport, SIGSTOP), 0);
  double t0 = now_s();
  r = http_call("GET", "/v1/stations/ben-thanh", NULL, NULL);
  double took = now_s() - t0;
  long status = r->status;
  char name[64];
  snprintf(name, sizeof name, "%s", json_at(r, "name"));
  http_response_free(r);
  r = http_call("GET", JOURNEY, NULL, NULL);
  long journey_status = r->status;
  http_response_free(r);
  r = http_call("GET", "/v1/lines", NULL, NULL);
  long lines_status = r->status;
  size_t n_lines = json_array_size(json_object_get(r->json, "lines"));
  http_response_free(r);
  /* Never cached: nothing to fall back on, so transport's silence shows. */
  r = http_call("GET", "/v1/stations/never-cached-station", NULL, NULL);
  long uncached_status = r->status;
  http_response_free(r);
  assert_int_equal(kill(frozen_transport, SIGCONT), 0);
  frozen_transport = 0;

  fprintf(stderr, "stale answer while transport was stopped took %.2f s\n", took);
  assert_int_equal(status, 200);
  assert_string_equal(name, "Bến Thành");
  assert_true(took < 10.0);
  assert_int_equal(journey_status, 200);
  assert_int_equal(lines_status, 200);
  assert_int_equal(n_lines, 7);
  assert_true(uncached_status == 504 || uncached_status == 503);
  /* Transport is back: fresh answers again. */
  http_response_free(get_ok("/v1/stations/ben-xe-suoi-tien"));
}

/* ---- administration ---- */

static void test_cache_flush_is_admin_only_and_checks_kinds(void **state) {
  (void)state;
  expect_error("POST", "/v1/public/cache:flush", "{}", NULL, 401, NULL, NULL);
  expect_error("POST", "/v1/public/cache:flush", "{\"kinds\":[\"tickets\"]}", admin, 400, "UNKNOWN_KIND", "kinds");
  http_response *r = http_call("POST", "/v1/public/cache:flush", "{\"kinds\":[\"journeys\",\"stations\"]}", admin);
  assert_int_equal(r->status, 200);
  json_t *kinds = json_object_get(r->json, "kinds");
  assert_int_equal(json_array_size(kinds), 2);
  assert_string_equal(json_string_value(json_array_get(kinds, 0)), "stations");
  assert_string_equal(json_string_value(json_array_get(kinds, 1)), "journeys");
  http_response_free(r);
  r = http_call("POST", "/v1/public/cache:flush", "{}", admin);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_array_size(json_object_get(r->json, "kinds")), 9);
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stations_and_lines_answer_without_a_token),
      cmocka_unit_test(test_stations_page_through_the_cached_list),
      cmocka_unit_test(test_journey_ben_thanh_to_suoi_tien_is_one_l1_segment),
      cmocka_unit_test(test_journey_through_grpc_needs_no_identity),
      cmocka_unit_test(test_timetables_and_feed_answer_without_a_token),
      cmocka_unit_test(test_bad_requests_are_refused_field_by_field),
      cmocka_unit_test(test_journey_to_a_station_on_no_line_is_422_no_route),
      cmocka_unit_test(test_admin_rename_through_transport_reaches_public_reads),
      cmocka_unit_test(test_cached_reads_are_served_while_transport_is_stopped),
      cmocka_unit_test(test_cache_flush_is_admin_only_and_checks_kinds),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
