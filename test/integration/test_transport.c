/* The transport service end to end: the seeded network and fleet, the planner over gRPC,
 * admin writes through REST with per-field validation and their outbox events,
 * timetables and BulkUpsertTrips, and the GTFS export -> import -> export round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/identity.h"
#include "common/rpc_client.h"
#include "harness.h"
#include "metro/transport/v1/transport.pb-c.h"

#define SERVICE "/metro.transport.v1.TransportService/"
#define L1 "tuyen-metro-so-1-ben-thanh-suoi-tien"
#define L2 "tuyen-metro-so-2-bx-an-suong-moi-cat-lai"

static char admin[2048], passenger[2048];
static char *secret;

/* ---- helpers ---- */

static void login(const char *name, const char *password, char *out, size_t cap) {
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", name, password);
  http_response *r = http_call("POST", "/v1/auth/login", body, NULL);
  assert_int_equal(r->status, 200);
  snprintf(out, cap, "%s", json_at(r, "accessToken"));
  http_response_free(r);
}

static int setup(void **state) {
  (void)state;
  harness_init();
  secret = harness_stack_secret();
  login(getenv("METRO_TEST_ADMIN_EMAIL"), getenv("METRO_TEST_ADMIN_PASSWORD"), admin, sizeof admin);
  const char *user = unique_name("rider");
  char body[512], email[128];
  snprintf(email, sizeof email, "%s@example.com", user);
  snprintf(body, sizeof body,
           "{\"email\":\"%s\",\"username\":\"%s\",\"password\":\"Saigon-Metro-2026\",\"firstName\":\"Lan\","
           "\"lastName\":\"Nguyen\"}",
           email, user);
  http_response *r = http_call("POST", "/v1/auth/register", body, NULL);
  assert_int_equal(r->status, 200);
  snprintf(passenger, sizeof passenger, "%s", json_at(r, "accessToken"));
  http_response_free(r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free(secret);
  rpc_client_shutdown();
  return 0;
}

/* A gRPC call to transport; as_admin signs an admin identity like the gateway does. */
static rpc_status call(arena *a, const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out,
                       ProtobufCMessage **resp, bool as_admin) {
  rpc_call_meta meta = {0};
  if (as_admin) {
    const char *roles[] = {"admin"};
    assert_true(identity_sign(a, secret, "00000000-0000-4000-8000-00000000a0a0", roles, 1, time(NULL) + 300,
                              &meta.identity_raw, &meta.identity_sig));
  }
  char path[128];
  snprintf(path, sizeof path, SERVICE "%s", method);
  return rpc_call_unary(rpc_channel_get(harness_env("METRO_TRANSPORT_GRPC")), a, arena_strdup(a, path), &meta, req,
                        out, resp, 60000, INT64_MAX);
}

static Metro__Transport__V1__JourneyPlan *plan(arena *a, const char *from, const char *to, rpc_status *st) {
  Metro__Transport__V1__PlanJourneyRequest req = METRO__TRANSPORT__V1__PLAN_JOURNEY_REQUEST__INIT;
  req.origin_station_id = (char *)from;
  req.destination_station_id = (char *)to;
  ProtobufCMessage *resp = NULL;
  *st = call(a, "PlanJourney", &req.base, &metro__transport__v1__journey_plan__descriptor, &resp, false);
  return rpc_ok(*st) ? (Metro__Transport__V1__JourneyPlan *)resp : NULL;
}

static http_response *admin_call(const char *method, const char *path, const char *body) {
  return http_call(method, path, body, admin);
}

static void expect_status(http_response *r, long status, const char *reason, const char *field) {
  if (r->status != status) fprintf(stderr, "unexpected answer %ld: %s\n", r->status, r->body ? r->body : "");
  assert_int_equal(r->status, status);
  if (reason) assert_string_equal(error_reason(r), reason);
  if (field) assert_string_equal(error_field(r), field);
  http_response_free(r);
}

static char *today(void) {
  static char buf[16];
  time_t t = time(NULL) + 7 * 3600;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

static char *day_after(int days, char *buf, size_t cap) {
  time_t t = time(NULL) + 7 * 3600 + (time_t)days * 86400;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, cap, "%Y-%m-%d", &tm);
  return buf;
}

static bool weekend_today(void) {
  time_t t = time(NULL) + 7 * 3600;
  struct tm tm;
  gmtime_r(&t, &tm);
  return tm.tm_wday == 0 || tm.tm_wday == 6;
}

/* Today's trips of a line (the demo trips are generated in the background after start-up,
 * day by day and line by line in network order). */
static int wait_for_trips(arena *a, const char *route) {
  for (int i = 0; i < 240; i++) {
    Metro__Transport__V1__ListLineTripsRequest req = METRO__TRANSPORT__V1__LIST_LINE_TRIPS_REQUEST__INIT;
    req.route_id = (char *)route;
    req.service_date = today();
    req.page_size = 1000;
    ProtobufCMessage *resp = NULL;
    rpc_status st = call(a, "ListLineTrips", &req.base, &metro__transport__v1__list_line_trips_response__descriptor,
                         &resp, false);
    assert_int_equal(st.code, GRPC_STATUS_OK);
    int n = (int)((Metro__Transport__V1__ListLineTripsResponse *)resp)->n_trips;
    if (n > 0) return n;
    usleep(250000);
  }
  fail_msg("no trips of %s for today after 60 s", route);
  return 0;
}

/* ---- the seeded network ---- */

static void test_seed_holds_103_stations_7_lines_and_the_fleet_of_spec_3(void **state) {
  (void)state;
  arena *a = arena_create(1 << 16);
  /* The seed's stations, all listed (other tests add stations of their own meanwhile). */
  char seed_path[1024];
  snprintf(seed_path, sizeof seed_path, "%s/svc/transport/seed/network.json", getenv("METRO_SOURCE_DIR"));
  json_t *seed = json_load_file(seed_path, 0, NULL);
  assert_non_null(seed);
  json_t *seed_stations = json_object_get(seed, "stations");
  assert_int_equal(json_array_size(seed_stations), 103);
  json_t *listed = json_object();
  int stations = 0;
  const char *token = "";
  do {
    Metro__Transport__V1__ListStationsRequest req = METRO__TRANSPORT__V1__LIST_STATIONS_REQUEST__INIT;
    req.page_size = 100;
    req.page_token = (char *)token;
    ProtobufCMessage *resp = NULL;
    assert_int_equal(call(a, "ListStations", &req.base, &metro__transport__v1__list_stations_response__descriptor,
                          &resp, false).code,
                     GRPC_STATUS_OK);
    Metro__Transport__V1__ListStationsResponse *r = (void *)resp;
    for (size_t i = 0; i < r->n_stations; i++) json_object_set_new(listed, r->stations[i]->station_id, json_true());
    token = r->next_page_token;
  } while (*token);
  for (size_t i = 0; i < json_array_size(seed_stations); i++)
    stations += json_object_get(listed, json_string_value(json_object_get(json_array_get(seed_stations, i), "id"))) != NULL;
  assert_int_equal(stations, 103);
  json_decref(listed);
  json_decref(seed);
  /* The fleet per line: active + maintenance as in the spec's table, 370 in all. */
  static const struct {
    const char *route;
    int active, maintenance;
  } fleet[] = {{L1, 32, 7},
               {L2, 80, 16},
               {"tuyen-metro-so-3a-bx-mien-tay-moi-ben-thanh", 39, 8},
               {"tuyen-metro-so-3b-cong-hoa-ga-di-an", 28, 6},
               {"tuyen-metro-so-4-thuan-an-nha-be", 64, 13},
               {"tuyen-metro-so-5-bx-can-giuoc-cau-sai-gon", 44, 9},
               {"tuyen-metro-so-6-quoc-lo-1a-cong-hoa", 20, 4}};
  int total = 0;
  for (size_t l = 0; l < 7; l++) {
    int active = 0, maintenance = 0;
    for (int page = 0;; page++) {
      char path[256];
      snprintf(path, sizeof path, "/v1/trains?pageSize=100&routeId=%s%s", fleet[l].route,
               page ? arena_printf(a, "&pageToken=%s", token) : "");
      http_response *r = admin_call("GET", path, NULL);
      assert_int_equal(r->status, 200);
      json_t *trains = json_object_get(r->json, "trains");
      size_t i;
      json_t *t;
      json_array_foreach(trains, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (strncmp(name + 6, "99", 2) == 0) continue; /* trains other tests add */
        const char *status = json_string_value(json_object_get(t, "status"));
        active += strcmp(status, "active") == 0;
        maintenance += strcmp(status, "maintenance") == 0;
        assert_string_equal(json_string_value(json_object_get(t, "type")), l == 1 || l == 4 ? "express" : "standard");
      }
      token = arena_strdup(a, json_at(r, "nextPageToken"));
      http_response_free(r);
      if (!*token) break;
    }
    assert_int_equal(active, fleet[l].active);
    assert_int_equal(maintenance, fleet[l].maintenance);
    total += active + maintenance;
  }
  assert_int_equal(total, 370);
  arena_destroy(a);
}

static void test_planner_over_grpc_gives_the_worked_journeys(void **state) {
  (void)state;
  arena *a = arena_create(1 << 16);
  rpc_status st;
  Metro__Transport__V1__JourneyPlan *p = plan(a, "ben-xe-suoi-tien", "cau-sai-gon", &st);
  assert_non_null(p);
  assert_int_equal(p->cost, 24);
  assert_int_equal(p->n_segments, 4);
  static const struct {
    const char *route, *from, *to;
    int n;
  } g[] = {{L1, "ben-xe-suoi-tien", "ben-thanh", 14},
           {"tuyen-metro-so-4-thuan-an-nha-be", "ben-thanh", "ho-con-rua", 2},
           {"tuyen-metro-so-3b-cong-hoa-ga-di-an", "ho-con-rua", "hang-xanh", 4},
           {"tuyen-metro-so-5-bx-can-giuoc-cau-sai-gon", "hang-xanh", "cau-sai-gon", 2}};
  for (int i = 0; i < 4; i++) {
    assert_string_equal(p->segments[i]->route_id, g[i].route);
    assert_string_equal(p->segments[i]->from_station_id, g[i].from);
    assert_string_equal(p->segments[i]->to_station_id, g[i].to);
    assert_int_equal(p->segments[i]->station_count, g[i].n);
  }
  assert_int_equal(p->n_transfer_station_ids, 3);
  assert_string_equal(p->transfer_station_ids[1], "ho-con-rua");
  p = plan(a, "ben-xe-suoi-tien", "tao-dan", &st);
  assert_int_equal(p->cost, 16);
  assert_int_equal(p->transfers, 1);
  assert_string_equal(p->segments[1]->route_id, L2);
  assert_int_equal(p->segments[1]->station_count, 2);
  p = plan(a, "thao-dien", "dam-sen", &st);
  assert_int_equal(p->cost, 16);
  assert_int_equal(p->segments[1]->station_count, 3);
  arena_destroy(a);
}

static void test_planner_errors_over_grpc(void **state) {
  (void)state;
  arena *a = arena_create(1 << 16);
  rpc_status st;
  assert_null(plan(a, "ben-thanh", "ben-thanh", &st));
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(st.reason, "SAME_STATION");
  assert_null(plan(a, "ben-thanh", "atlantis", &st));
  assert_int_equal(st.code, GRPC_STATUS_NOT_FOUND);
  assert_string_equal(st.reason, "STATION_NOT_FOUND");
  assert_null(plan(a, "", "ben-thanh", &st));
  assert_string_equal(st.field, "originStationId");
  /* A station on no line: it exists, but nothing reaches it. */
  const char *id = unique_name("tt-lonely");
  char body[256];
  snprintf(body, sizeof body, "{\"stationId\":\"%s\",\"name\":\"Lonely\",\"location\":{\"latitude\":10.8,\"longitude\":106.7}}",
           id);
  http_response *r = admin_call("POST", "/v1/stations", body);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  assert_null(plan(a, "ben-thanh", id, &st));
  assert_int_equal(st.code, GRPC_STATUS_FAILED_PRECONDITION);
  assert_string_equal(st.reason, "NO_ROUTE");
  arena_destroy(a);
}

/* ---- admin writes through REST ---- */

static void test_station_lifecycle_through_rest_publishes_its_events(void **state) {
  (void)state;
  /* The id is derived from the name: diacritics dropped, đ -> d. */
  char name[128], body[512], slug[128], path[256];
  const char *tag = unique_name("tt");
  snprintf(name, sizeof name, "Ga Đồng Khởi %s", tag + 2);
  snprintf(slug, sizeof slug, "ga-dong-khoi-%s", tag + 2);
  snprintf(body, sizeof body, "{\"name\":\"%s\",\"location\":{\"latitude\":10.776,\"longitude\":106.703}}", name);
  http_response *r = admin_call("POST", "/v1/stations", body);
  assert_int_equal(r->status, 200);
  char id[128];
  snprintf(id, sizeof id, "%s", json_at(r, "stationId"));
  assert_string_equal(id, slug);
  assert_string_equal(json_at(r, "openTime"), "05:00");
  assert_true(json_is_true(json_object_get(r->json, "isActive")));
  http_response_free(r);
  /* Riders and anonymous callers cannot write the catalog. */
  expect_status(http_call("POST", "/v1/stations", body, passenger), 403, NULL, NULL);
  expect_status(http_call("POST", "/v1/stations", body, NULL), 401, NULL, NULL);
  expect_status(admin_call("POST", "/v1/stations", body), 409, "STATION_EXISTS", NULL);
  /* Rename without a mask, then close it with one. */
  snprintf(path, sizeof path, "/v1/stations/%s", id);
  r = admin_call("PATCH", path, "{\"name\":\"Ga Đồng Khởi mới\"}");
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "name"), "Ga Đồng Khởi mới");
  assert_string_equal(json_at(r, "openTime"), "05:00");
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/stations/%s?updateMask=isActive&reason=works", id);
  r = admin_call("PATCH", path, "{\"isActive\":false}");
  assert_int_equal(r->status, 200);
  assert_false(json_is_true(json_object_get(r->json, "isActive")));
  http_response_free(r);
  /* Create, rename, close: each a catalog.changed; the close also both station events. */
  char *n = sql_value("SELECT string_agg(event_type, ',' ORDER BY id) FROM transport.outbox WHERE event_key = $1", id);
  assert_string_equal(n, "catalog.changed,catalog.changed,station.status_changed,station.deactivated,catalog.changed");
  free(n);
  snprintf(path, sizeof path, "/v1/stations/%s", id);
  expect_status(admin_call("DELETE", path, NULL), 200, NULL, NULL);
  expect_status(admin_call("DELETE", path, NULL), 404, "STATION_NOT_FOUND", NULL);
  /* A station on a line cannot go. */
  expect_status(admin_call("DELETE", "/v1/stations/ben-thanh", NULL), 400, "STATION_IN_USE", NULL);
}

typedef struct bad_write {
  const char *method, *path, *body, *field, *reason;
} bad_write;

static void test_validation_errors_name_the_field(void **state) {
  (void)state;
  static const bad_write cases[] = {
      {"POST", "/v1/stations", "{\"stationId\":\"tt-x\",\"name\":\"X\",\"location\":{\"latitude\":10.8,\"longitude\":106.7}}",
       "station.name", "INVALID_NAME"},
      {"POST", "/v1/stations", "{\"stationId\":\"Bad Id\",\"name\":\"Bad\",\"location\":{\"latitude\":10.8,\"longitude\":106.7}}",
       "station.stationId", "INVALID_SLUG"},
      {"POST", "/v1/stations", "{\"name\":\"Paris Nord\",\"location\":{\"latitude\":48.88,\"longitude\":2.35}}",
       "station.location.latitude", "INVALID_LOCATION"},
      {"POST", "/v1/stations", "{\"name\":\"Far East\",\"location\":{\"latitude\":10.8,\"longitude\":109.0}}",
       "station.location.longitude", "INVALID_LOCATION"},
      {"POST", "/v1/stations", "{\"name\":\"No Place\"}", "station.location", "FIELD_REQUIRED"},
      {"POST", "/v1/stations",
       "{\"name\":\"Late Open\",\"location\":{\"latitude\":10.8,\"longitude\":106.7},\"openTime\":\"25:00\"}",
       "station.openTime", "INVALID_TIME"},
      {"POST", "/v1/stations",
       "{\"name\":\"Early Close\",\"location\":{\"latitude\":10.8,\"longitude\":106.7},\"openTime\":\"10:00\","
       "\"closeTime\":\"09:00\"}",
       "station.closeTime", "INVALID_TIME"},
      {"PATCH", "/v1/stations/ben-thanh?updateMask=colour", "{\"name\":\"Bến Thành\"}", "updateMask",
       "INVALID_UPDATE_MASK"},
      {"POST", "/v1/lines", "{\"name\":\"Tuyến thử\",\"code\":\"L-9\",\"lengthKm\":3,\"durationMin\":10}", "line.code",
       "INVALID_CODE"},
      {"POST", "/v1/lines", "{\"name\":\"Tuyến thử\",\"code\":\"T9\",\"lengthKm\":0,\"durationMin\":10}", "line.lengthKm",
       "INVALID_LENGTH"},
      {"POST", "/v1/lines", "{\"name\":\"Tuyến thử\",\"code\":\"T9\",\"lengthKm\":3,\"durationMin\":0}",
       "line.durationMin", "INVALID_DURATION"},
      {"POST", "/v1/lines", "{\"name\":\"Tuyến thử\",\"code\":\"T9\",\"lengthKm\":3,\"durationMin\":10,\"status\":\"closed\"}",
       "line.status", "INVALID_STATUS"},
      {"POST", "/v1/lines", "{\"name\":\"Tuyến thử\",\"code\":\"T9\",\"lengthKm\":3,\"durationMin\":10,\"color\":\"#E4002B\"}",
       "line.color", "INVALID_COLOR"},
      {"PATCH", "/v1/lines/" L1 "?updateMask=textColor", "{\"textColor\":\"white\"}", "line.textColor", "INVALID_COLOR"},
      {"POST", "/v1/lines", "{\"name\":\"Tuyến thử\",\"code\":\"L1\",\"lengthKm\":3,\"durationMin\":10}", NULL,
       "LINE_CODE_TAKEN"},
      {"PUT", "/v1/lines/" L1 "/stations", "{\"stationIds\":[\"ben-thanh\",\"ba-son\",\"ben-thanh\"]}", "stationIds[2]",
       "DUPLICATE_STATION"},
      {"PUT", "/v1/lines/" L1 "/stations", "{\"stationIds\":[\"ben-thanh\",\"atlantis\"]}", "stationIds[1]",
       "STATION_NOT_FOUND"},
      {"PUT", "/v1/lines/" L1 "/stations", "{\"stationIds\":[\"ben-thanh\"]}", "stationIds", "INVALID_STATIONS"},
      {"POST", "/v1/trains", "{\"name\":\"Train-1\",\"type\":\"standard\",\"routeId\":\"" L1 "\"}", "train.name",
       "INVALID_TRAIN_NAME"},
      {"POST", "/v1/trains", "{\"name\":\"Metro-99-001\",\"type\":\"bullet\",\"routeId\":\"" L1 "\"}", "train.type",
       "INVALID_TRAIN_TYPE"},
      {"POST", "/v1/trains", "{\"name\":\"Metro-99-001\",\"type\":\"standard\",\"routeId\":\"" L1 "\",\"status\":\"broken\"}",
       "train.status", "INVALID_TRAIN_STATUS"},
      {"POST", "/v1/trains", "{\"name\":\"Metro-99-001\",\"type\":\"standard\",\"routeId\":\"atlantis\"}", "train.routeId",
       "LINE_NOT_FOUND"},
      {"POST", "/v1/trains", "{\"name\":\"Metro-99-001\",\"type\":\"standard\",\"capacity\":-5,\"routeId\":\"" L1 "\"}",
       "train.capacity", "INVALID_CAPACITY"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    http_response *r = admin_call(cases[i].method, cases[i].path, cases[i].body);
    long want = strcmp(cases[i].reason, "LINE_CODE_TAKEN") == 0 ? 409 : 400;
    if (r->status != want || strcmp(error_reason(r), cases[i].reason) != 0 ||
        (cases[i].field && strcmp(error_field(r), cases[i].field) != 0))
      fail_msg("case %zu (%s %s): %ld %s", i, cases[i].method, cases[i].path, r->status, r->body ? r->body : "");
    http_response_free(r);
  }
}

static void test_a_new_line_joins_the_planner_and_takes_trains(void **state) {
  (void)state;
  arena *a = arena_create(1 << 16);
  const char *tag = unique_name("tt");
  char a_id[64], b_id[64], route[64], body[512], path[256];
  snprintf(a_id, sizeof a_id, "%s-a", tag);
  snprintf(b_id, sizeof b_id, "%s-b", tag);
  snprintf(route, sizeof route, "%s-line", tag);
  const char *ids[2] = {a_id, b_id};
  for (int i = 0; i < 2; i++) {
    snprintf(body, sizeof body,
             "{\"stationId\":\"%s\",\"name\":\"Ga thử %d\",\"location\":{\"latitude\":10.8%d,\"longitude\":106.7}}",
             ids[i], i, i);
    expect_status(admin_call("POST", "/v1/stations", body), 200, NULL, NULL);
  }
  /* A line from Bến Thành through the two new stations, in service. */
  snprintf(body, sizeof body,
           "{\"routeId\":\"%s\",\"code\":\"X%d\",\"name\":\"Tuyến thử\",\"lengthKm\":4.5,\"durationMin\":12,"
           "\"isActive\":true}",
           route, (int)(time(NULL) % 100000));
  http_response *r = admin_call("POST", "/v1/lines", body);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "status"), "planned");
  assert_string_equal(json_at(r, "basePrice"), "10000");
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/lines/%s/stations", route);
  snprintf(body, sizeof body, "{\"stationIds\":[\"ben-thanh\",\"%s\",\"%s\"]}", a_id, b_id);
  r = admin_call("PUT", path, body);
  assert_int_equal(r->status, 200);
  json_t *st = json_object_get(r->json, "stations");
  assert_int_equal(json_array_size(st), 3);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(st, 2), "sequence")), 3);
  http_response_free(r);
  /* The planner sees the write at once: Ba Son -> b rides L1 then the new line. */
  rpc_status s;
  Metro__Transport__V1__JourneyPlan *p = plan(a, "ba-son", b_id, &s);
  assert_non_null(p);
  assert_int_equal(p->cost, 2 + 2 + 2);
  assert_string_equal(p->segments[1]->route_id, route);
  assert_int_equal(p->segments[1]->station_count, 3);
  /* Close the line: it leaves the planner. */
  snprintf(path, sizeof path, "/v1/lines/%s?updateMask=isActive", route);
  expect_status(admin_call("PATCH", path, "{\"isActive\":false}"), 200, NULL, NULL);
  assert_null(plan(a, "ba-son", b_id, &s));
  assert_string_equal(s.reason, "NO_ROUTE");
  /* A train of the line; staff-level status change; the line keeps it until it goes. */
  snprintf(body, sizeof body, "{\"name\":\"Metro-99-%03d\",\"type\":\"express\",\"routeId\":\"%s\"}",
           (int)(time(NULL) % 1000), route);
  r = admin_call("POST", "/v1/trains", body);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_integer_value(json_object_get(r->json, "capacity")), 1300);
  char train[64], train_path[128];
  snprintf(train, sizeof train, "%s", json_at(r, "trainId"));
  http_response_free(r);
  snprintf(train_path, sizeof train_path, "/v1/trains/%s:setStatus", train);
  r = admin_call("POST", train_path, "{\"status\":\"out_of_service\"}");
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "status"), "out_of_service");
  http_response_free(r);
  expect_status(admin_call("POST", train_path, "{\"status\":\"parked\"}"), 400, "INVALID_TRAIN_STATUS", "status");
  expect_status(http_call("POST", train_path, "{\"status\":\"active\"}", passenger), 403, NULL, NULL);
  snprintf(path, sizeof path, "/v1/lines/%s", route);
  expect_status(admin_call("DELETE", path, NULL), 400, "LINE_HAS_TRAINS", NULL);
  snprintf(train_path, sizeof train_path, "/v1/trains/%s", train);
  expect_status(admin_call("DELETE", train_path, NULL), 200, NULL, NULL);
  expect_status(admin_call("DELETE", path, NULL), 200, NULL, NULL);
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "/v1/stations/%s", ids[i]);
    expect_status(admin_call("DELETE", path, NULL), 200, NULL, NULL);
  }
  arena_destroy(a);
}

/* ---- timetables ---- */

static void test_timetable_of_line1_follows_the_fallback_rules(void **state) {
  (void)state;
  arena *a = arena_create(1 << 20);
  int n = wait_for_trips(a, L1);
  assert_int_equal(n, weekend_today() ? 264 : 434);
  Metro__Transport__V1__ListLineTripsRequest req = METRO__TRANSPORT__V1__LIST_LINE_TRIPS_REQUEST__INIT;
  req.route_id = L1;
  req.service_date = today();
  req.direction = "outbound";
  req.page_size = 2;
  ProtobufCMessage *resp = NULL;
  assert_int_equal(call(a, "ListLineTrips", &req.base, &metro__transport__v1__list_line_trips_response__descriptor,
                        &resp, false).code,
                   GRPC_STATUS_OK);
  Metro__Transport__V1__ListLineTripsResponse *trips = (void *)resp;
  assert_int_equal(trips->n_trips, 2);
  assert_true(*trips->next_page_token);
  Metro__Transport__V1__Trip *first = trips->trips[0];
  assert_string_equal(first->departure, "05:00:00");
  assert_string_equal(first->arrival, "05:30:00");
  assert_int_equal(first->n_stops, 14);
  assert_string_equal(first->stops[0]->station_id, "ben-thanh");
  assert_string_equal(first->stops[0]->arrival, "");
  assert_string_equal(first->stops[1]->arrival, "05:01:41");
  assert_string_equal(first->stops[1]->departure, "05:02:21");
  assert_string_equal(first->stops[13]->departure, "");
  assert_true(*first->train_id);
  /* Departures at Thảo Điền from 05:00, both directions in time order. */
  Metro__Transport__V1__ListDeparturesRequest dreq = METRO__TRANSPORT__V1__LIST_DEPARTURES_REQUEST__INIT;
  dreq.station_id = "thao-dien";
  dreq.service_date = today();
  dreq.from_time = "05:00";
  dreq.page_size = 4;
  assert_int_equal(call(a, "ListDepartures", &dreq.base, &metro__transport__v1__list_departures_response__descriptor,
                        &resp, false).code,
                   GRPC_STATUS_OK);
  Metro__Transport__V1__ListDeparturesResponse *deps = (void *)resp;
  assert_int_equal(deps->n_departures, 4);
  for (size_t i = 1; i < deps->n_departures; i++)
    assert_true(strcmp(deps->departures[i - 1]->departure, deps->departures[i]->departure) <= 0);
  assert_string_equal(deps->departures[0]->headsign_station_id, "ben-xe-suoi-tien");
  /* Trips between Bến Thành and Thảo Điền: outbound only, the first at 05:00. */
  Metro__Transport__V1__ListTripsBetweenRequest breq = METRO__TRANSPORT__V1__LIST_TRIPS_BETWEEN_REQUEST__INIT;
  breq.origin_station_id = "ben-thanh";
  breq.destination_station_id = "thao-dien";
  breq.service_date = today();
  breq.page_size = 3;
  assert_int_equal(call(a, "ListTripsBetween", &breq.base,
                        &metro__transport__v1__list_trips_between_response__descriptor, &resp, false).code,
                   GRPC_STATUS_OK);
  Metro__Transport__V1__ListTripsBetweenResponse *between = (void *)resp;
  assert_int_equal(between->n_trips, 3);
  assert_string_equal(between->trips[0]->departure, "05:00:00");
  assert_string_equal(between->trips[0]->direction, "outbound");
  assert_true(strcmp(between->trips[0]->arrival, "05:09:00") > 0);
  breq.service_date = "2026-13-01";
  rpc_status st = call(a, "ListTripsBetween", &breq.base, &metro__transport__v1__list_trips_between_response__descriptor,
                       &resp, false);
  assert_string_equal(st.field, "serviceDate");
  arena_destroy(a);
}

static Metro__Transport__V1__Trip *two_stop_trip(arena *a, const char *dir, const char *from, const char *to,
                                                 const char *dep, const char *arr) {
  Metro__Transport__V1__Trip *t = arena_alloc(a, sizeof *t);
  metro__transport__v1__trip__init(t);
  t->direction = (char *)dir;
  t->n_stops = 2;
  t->stops = arena_alloc(a, sizeof(*t->stops) * 2);
  for (int i = 0; i < 2; i++) {
    t->stops[i] = arena_alloc(a, sizeof **t->stops);
    metro__transport__v1__stop__init(t->stops[i]);
  }
  t->stops[0]->station_id = (char *)from;
  t->stops[0]->departure = (char *)dep;
  t->stops[1]->station_id = (char *)to;
  t->stops[1]->arrival = (char *)arr;
  return t;
}

static void test_bulk_upsert_trips_is_idempotent_per_line_and_date(void **state) {
  (void)state;
  arena *a = arena_create(1 << 16);
  char date[16];
  day_after(20 + (int)(time(NULL) % 200), date, sizeof date);
  Metro__Transport__V1__Trip *trips[2] = {
      two_stop_trip(a, "outbound", "ben-thanh", "ba-son", "06:00:00", "06:04:00"),
      two_stop_trip(a, "inbound", "ba-son", "ben-thanh", "24:10:00", "24:14:00")};
  Metro__Transport__V1__BulkUpsertTripsRequest req = METRO__TRANSPORT__V1__BULK_UPSERT_TRIPS_REQUEST__INIT;
  req.route_id = L1;
  req.service_date = date;
  req.trips = trips;
  req.n_trips = 2;
  req.replace = true; /* the stack may be reused: start from a known state */
  ProtobufCMessage *resp = NULL;
  rpc_status st = call(a, "BulkUpsertTrips", &req.base, &metro__transport__v1__bulk_upsert_trips_response__descriptor,
                       &resp, true);
  assert_int_equal(st.code, GRPC_STATUS_OK);
  Metro__Transport__V1__BulkUpsertTripsResponse *r = (void *)resp;
  assert_int_equal(r->trips_created, 2);
  assert_int_equal(r->unassigned_trips, 2);
  /* Again without replace: nothing changes. */
  req.replace = false;
  assert_int_equal(call(a, "BulkUpsertTrips", &req.base, &metro__transport__v1__bulk_upsert_trips_response__descriptor,
                        &resp, true).code,
                   GRPC_STATUS_OK);
  r = (void *)resp;
  assert_int_equal(r->trips_created, 0);
  assert_int_equal(r->trips_kept, 2);
  /* Replace with one trip. */
  req.n_trips = 1;
  req.replace = true;
  assert_int_equal(call(a, "BulkUpsertTrips", &req.base, &metro__transport__v1__bulk_upsert_trips_response__descriptor,
                        &resp, true).code,
                   GRPC_STATUS_OK);
  r = (void *)resp;
  assert_true(r->replaced);
  char *count = sql_value("SELECT count(*) FROM transport.trips WHERE service_date = $1::date AND route_id = '" L1 "'",
                          date);
  assert_string_equal(count, "1");
  free(count);
  /* A time past midnight is kept as such. */
  req.n_trips = 2;
  assert_int_equal(call(a, "BulkUpsertTrips", &req.base, &metro__transport__v1__bulk_upsert_trips_response__descriptor,
                        &resp, true).code,
                   GRPC_STATUS_OK);
  Metro__Transport__V1__ListLineTripsRequest lreq = METRO__TRANSPORT__V1__LIST_LINE_TRIPS_REQUEST__INIT;
  lreq.route_id = L1;
  lreq.service_date = date;
  assert_int_equal(call(a, "ListLineTrips", &lreq.base, &metro__transport__v1__list_line_trips_response__descriptor,
                        &resp, false).code,
                   GRPC_STATUS_OK);
  Metro__Transport__V1__ListLineTripsResponse *lr = (void *)resp;
  assert_int_equal(lr->n_trips, 2);
  assert_string_equal(lr->trips[1]->departure, "24:10:00");
  /* Errors: replacing today, stops out of line order, no admin role. */
  req.service_date = today();
  st = call(a, "BulkUpsertTrips", &req.base, &metro__transport__v1__bulk_upsert_trips_response__descriptor, &resp, true);
  assert_string_equal(st.reason, "PAST_DATE");
  req.service_date = date;
  req.replace = false;
  trips[0] = two_stop_trip(a, "inbound", "ben-thanh", "ba-son", "06:00:00", "06:04:00");
  st = call(a, "BulkUpsertTrips", &req.base, &metro__transport__v1__bulk_upsert_trips_response__descriptor, &resp, true);
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(st.field, "trips[0].stops[1].stationId");
  st = call(a, "BulkUpsertTrips", &req.base, &metro__transport__v1__bulk_upsert_trips_response__descriptor, &resp, false);
  assert_int_equal(st.code, GRPC_STATUS_UNAUTHENTICATED);
  arena_destroy(a);
}

/* ---- GTFS ---- */

static Metro__Transport__V1__GtfsFeed *export_feed(arena *a) {
  Metro__Transport__V1__ExportGtfsRequest req = METRO__TRANSPORT__V1__EXPORT_GTFS_REQUEST__INIT;
  req.start_date = today();
  req.days = 1;
  ProtobufCMessage *resp = NULL;
  rpc_status st = call(a, "ExportGtfs", &req.base, &metro__transport__v1__gtfs_feed__descriptor, &resp, false);
  assert_int_equal(st.code, GRPC_STATUS_OK);
  return (Metro__Transport__V1__GtfsFeed *)resp;
}

static bool zip_names(const Metro__Transport__V1__GtfsFeed *f, const char *name) {
  return memmem(f->zip.data, f->zip.len, name, strlen(name)) != NULL;
}

/* The seed's colours travel on the lines (GTFS route_color / route_text_color). */
static void test_lines_carry_their_colours(void **state) {
  (void)state;
  arena *a = arena_create(1 << 16);
  Metro__Transport__V1__GetLineRequest req = METRO__TRANSPORT__V1__GET_LINE_REQUEST__INIT;
  req.route_id = L1;
  ProtobufCMessage *resp = NULL;
  assert_int_equal(call(a, "GetLine", &req.base, &metro__transport__v1__line__descriptor, &resp, false).code,
                   GRPC_STATUS_OK);
  Metro__Transport__V1__Line *l = (void *)resp;
  assert_string_equal(l->color, "E4002B");
  assert_string_equal(l->text_color, "FFFFFF");
  arena_destroy(a);
}

/* The consumer form: the operational lines only, shared services with calendar_dates.txt,
 * feed_info.txt, no metro_route_stations.txt; the same bytes when nothing changed. */
static void test_gtfs_consumer_feed_leaves_out_planned_lines(void **state) {
  (void)state;
  arena *a = arena_create(1 << 20);
  Metro__Transport__V1__ExportGtfsRequest req = METRO__TRANSPORT__V1__EXPORT_GTFS_REQUEST__INIT;
  req.consumer_feed = true;
  req.exclude_planned = true;
  req.days = 2;
  ProtobufCMessage *resp = NULL, *again = NULL;
  assert_int_equal(call(a, "ExportGtfs", &req.base, &metro__transport__v1__gtfs_feed__descriptor, &resp, false).code,
                   GRPC_STATUS_OK);
  Metro__Transport__V1__GtfsFeed *f = (void *)resp;
  assert_true(f->trips > 0);
  assert_non_null(f->last_modified);
  assert_true(f->last_modified->seconds > 1700000000);
  assert_true(strlen(f->feed_version) > 9);
  assert_true(zip_names(f, "feed_info.txt"));
  assert_true(zip_names(f, "calendar_dates.txt"));
  assert_false(zip_names(f, "metro_route_stations.txt"));
  assert_int_equal(call(a, "ExportGtfs", &req.base, &metro__transport__v1__gtfs_feed__descriptor, &again, false).code,
                   GRPC_STATUS_OK);
  Metro__Transport__V1__GtfsFeed *g = (void *)again;
  assert_string_equal(g->feed_version, f->feed_version);
  assert_int_equal(g->zip.len, f->zip.len);
  assert_memory_equal(g->zip.data, f->zip.data, f->zip.len);
  req.days = 32;
  assert_int_equal(call(a, "ExportGtfs", &req.base, &metro__transport__v1__gtfs_feed__descriptor, &resp, false).code,
                   GRPC_STATUS_INVALID_ARGUMENT);
  arena_destroy(a);
}

static void test_gtfs_export_import_export_is_identical(void **state) {
  (void)state;
  arena *a = arena_create(1 << 20);
  wait_for_trips(a, "tuyen-metro-so-6-quoc-lo-1a-cong-hoa"); /* the last line: today is complete */
  Metro__Transport__V1__GtfsFeed *first = export_feed(a);
  assert_true(first->trips > 0);
  static const char *const files[] = {"agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt",
                                      "calendar.txt", "transfers.txt"};
  for (size_t i = 0; i < 7; i++) assert_true(zip_names(first, files[i]));
  assert_true(zip_names(first, "feed_info.txt"));
  assert_true(zip_names(first, "metro_route_stations.txt"));
  Metro__Transport__V1__ImportGtfsRequest imp = METRO__TRANSPORT__V1__IMPORT_GTFS_REQUEST__INIT;
  imp.zip = first->zip;
  ProtobufCMessage *resp = NULL;
  rpc_status st = call(a, "ImportGtfs", &imp.base, &metro__transport__v1__import_gtfs_response__descriptor, &resp, true);
  assert_int_equal(st.code, GRPC_STATUS_OK);
  Metro__Transport__V1__ImportGtfsResponse *ir = (void *)resp;
  assert_int_equal(ir->trips, first->trips);
  assert_true(ir->stations >= 103);
  Metro__Transport__V1__GtfsFeed *second = export_feed(a);
  assert_int_equal(second->trips, first->trips);
  assert_int_equal(second->zip.len, first->zip.len);
  assert_memory_equal(second->zip.data, first->zip.data, first->zip.len);
  /* Hostile input: not a zip, and an import without the admin role. */
  static const char not_a_zip[] = "PK\x03\x04 definitely not a zip";
  imp.zip.data = (uint8_t *)not_a_zip;
  imp.zip.len = sizeof not_a_zip - 1;
  st = call(a, "ImportGtfs", &imp.base, &metro__transport__v1__import_gtfs_response__descriptor, &resp, true);
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(st.field, "zip");
  st = call(a, "ImportGtfs", &imp.base, &metro__transport__v1__import_gtfs_response__descriptor, &resp, false);
  assert_int_equal(st.code, GRPC_STATUS_UNAUTHENTICATED);
  arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seed_holds_103_stations_7_lines_and_the_fleet_of_spec_3),
      cmocka_unit_test(test_planner_over_grpc_gives_the_worked_journeys),
      cmocka_unit_test(test_planner_errors_over_grpc),
      cmocka_unit_test(test_station_lifecycle_through_rest_publishes_its_events),
      cmocka_unit_test(test_validation_errors_name_the_field),
      cmocka_unit_test(test_a_new_line_joins_the_planner_and_takes_trains),
      cmocka_unit_test(test_timetable_of_line1_follows_the_fallback_rules),
      cmocka_unit_test(test_bulk_upsert_trips_is_idempotent_per_line_and_date),
      cmocka_unit_test(test_gtfs_export_import_export_is_identical),
      cmocka_unit_test(test_lines_carry_their_colours),
      cmocka_unit_test(test_gtfs_consumer_feed_leaves_out_planned_lines),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
