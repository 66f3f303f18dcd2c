/* The control service end to end (domain spec §16): today's Line 1 from the fallback equals the
 * transport figures (217/132 per direction, the 05:00:00 first trip), generation is idempotent,
 * a `replace` of tomorrow is never seen half done by a reader, ticket.used exits over 14 days
 * give Line 6 a model whose morning-peak headway differs from the fallback's, the holiday
 * stand-in (Sunday x 0.6), the holiday calendar, and the request checks. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/crypto.h"
#include "common/ev_internal.h"
#include "common/events.h"
#include "common/pg.h"
#include "common/rpc_client.h"
#include "harness.h"
#include "metro/events/v1/ticket_events.pb-c.h"
#include "metro/transport/v1/transport.pb-c.h"

#define L1 "tuyen-metro-so-1-ben-thanh-suoi-tien"
#define L6 "tuyen-metro-so-6-quoc-lo-1a-cong-hoa"
#define L6_FIRST "quoc-lo-1a"
#define L6_LAST "cong-hoa"
#define DAYS_OF_DATA 14
#define EXITS_PER_DAY 6
#define PASSENGERS_PER_EXIT 500 /* 3,000 an hour: a busy 07:00 on Line 6 */

static char admin[2048], rider[2048];

/* ---- helpers ---- */

static void login(const char *login_name, const char *password, char *out, size_t cap) {
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", login_name, password);
  http_response *r = http_call("POST", "/v1/auth/login", body, NULL);
  assert_int_equal(r->status, 200);
  snprintf(out, cap, "%s", json_at(r, "accessToken"));
  http_response_free(r);
}

static int setup(void **state) {
  (void)state;
  harness_init();
  login(getenv("METRO_TEST_ADMIN_EMAIL"), getenv("METRO_TEST_ADMIN_PASSWORD"), admin, sizeof admin);
  const char *user = unique_name("ctl");
  char body[512];
  snprintf(body, sizeof body,
           "{\"email\":\"%s@example.com\",\"username\":\"%s\",\"password\":\"Saigon-Metro-2026\",\"firstName\":\"Lan\","
           "\"lastName\":\"Nguyen\"}",
           user, user);
  http_response *r = http_call("POST", "/v1/auth/register", body, NULL);
  assert_int_equal(r->status, 200);
  snprintf(rider, sizeof rider, "%s", json_at(r, "accessToken"));
  http_response_free(r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rpc_client_shutdown();
  return 0;
}

static http_response *call_ok(const char *method, const char *path, const char *body) {
  http_response *r = http_call(method, path, body, admin);
  if (r->status != 200) fprintf(stderr, "%s %s -> %ld: %s\n", method, path, r->status, r->body ? r->body : "");
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

static long local_days(int offset) { return (long)((time(NULL) + 7 * 3600) / 86400) + offset; }

static char *date_of(long days, char *buf, size_t cap) {
  time_t t = (time_t)days * 86400;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, cap, "%Y-%m-%d", &tm);
  return buf;
}

static int weekday_of(long days) { return (int)(((days % 7) + 7 + 3) % 7); } /* 0 = Monday */
static bool weekend(long days) { return weekday_of(days) >= 5; }
static int fallback_trips(long days) { return weekend(days) ? 264 : 434; }

static long jint(json_t *o, const char *key) { return (long)json_integer_value(json_object_get(o, key)); }
static double jnum(json_t *o, const char *key) { return json_number_value(json_object_get(o, key)); }
static const char *jstr(json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

/* The trips of a line and date from transport (gRPC, one page of up to 1000). */
static Metro__Transport__V1__ListLineTripsResponse *line_trips(arena *a, const char *route, const char *date,
                                                               rpc_status *st) {
  Metro__Transport__V1__ListLineTripsRequest req = METRO__TRANSPORT__V1__LIST_LINE_TRIPS_REQUEST__INIT;
  req.route_id = (char *)route;
  req.service_date = (char *)date;
  req.page_size = 1000;
  ProtobufCMessage *resp = NULL;
  rpc_call_meta meta = {0};
  *st = rpc_call_unary(rpc_channel_get(harness_env("METRO_TRANSPORT_GRPC")), a,
                       "/metro.transport.v1.TransportService/ListLineTrips", &meta, &req.base,
                       &metro__transport__v1__list_line_trips_response__descriptor, &resp, 30000, INT64_MAX);
  return rpc_ok(*st) ? (Metro__Transport__V1__ListLineTripsResponse *)resp : NULL;
}

static int count_trips(const char *route, const char *date, int *outbound) {
  arena *a = arena_create(1 << 20);
  rpc_status st;
  Metro__Transport__V1__ListLineTripsResponse *r = line_trips(a, route, date, &st);
  assert_int_equal(st.code, GRPC_STATUS_OK);
  int n = (int)r->n_trips, out = 0;
  for (size_t i = 0; i < r->n_trips; i++) out += strcmp(r->trips[i]->direction, "outbound") == 0;
  if (outbound) *outbound = out;
  arena_destroy(a);
  return n;
}

/* POST /v1/schedules:generate for one line and date; returns the answer (its one run checked). */
static http_response *generate(const char *route, const char *date, int days, bool replace) {
  char body[512];
  snprintf(body, sizeof body, "{\"routeId\":\"%s\",\"date\":\"%s\",\"days\":%d,\"replace\":%s}", route, date, days,
           replace ? "true" : "false");
  http_response *r = call_ok("POST", "/v1/schedules:generate", body);
  assert_int_equal(json_array_size(json_object_get(r->json, "runs")), days);
  return r;
}

static json_t *run_at(http_response *r, size_t i) { return json_array_get(json_object_get(r->json, "runs"), i); }

/* ---- Line 1 with the fallback ---- */

static void check_first_line1_trip(const char *date) {
  arena *a = arena_create(1 << 20);
  rpc_status st;
  Metro__Transport__V1__ListLineTripsResponse *r = line_trips(a, L1, date, &st);
  assert_int_equal(st.code, GRPC_STATUS_OK);
  assert_true(r->n_trips > 2);
  const Metro__Transport__V1__Trip *t = r->trips[0];
  assert_string_equal(t->direction, "outbound");
  assert_string_equal(t->departure, "05:00:00");
  assert_string_equal(t->arrival, "05:30:00");
  assert_string_equal(t->stops[0]->station_id, "ben-thanh");
  assert_string_equal(t->stops[1]->arrival, "05:01:41");
  assert_string_equal(t->stops[1]->departure, "05:02:21");
  assert_string_equal(t->stops[t->n_stops - 1]->station_id, "ben-xe-suoi-tien");
  /* The inbound twin leaves Suối Tiên at the same time; every trip has a train. */
  assert_string_equal(r->trips[1]->direction, "inbound");
  assert_string_equal(r->trips[1]->departure, "05:00:00");
  for (size_t i = 0; i < r->n_trips; i++) assert_true(*r->trips[i]->train_id);
  arena_destroy(a);
}

static void test_today_for_line1_with_the_fallback_matches_transport(void **state) {
  (void)state;
  char today[16];
  date_of(local_days(0), today, sizeof today);
  /* Today: transport's demo seed may have written it already (the same generator); either way
   * the day holds the fallback's figures and a second run keeps them. */
  http_response *r = generate(L1, "", 1, false);
  json_t *run = run_at(r, 0);
  assert_string_equal(jstr(run, "routeId"), L1);
  assert_string_equal(jstr(run, "serviceDate"), today);
  assert_string_equal(jstr(run, "source"), "fallback");
  int expected = fallback_trips(local_days(0));
  assert_int_equal(jint(run, "tripsCreated") + jint(run, "tripsKept"), expected);
  assert_int_equal(jint(run, "unassignedTrips"), 0);
  http_response_free(r);
  int outbound;
  assert_int_equal(count_trips(L1, today, &outbound), expected);
  assert_int_equal(outbound, weekend(local_days(0)) ? 132 : 217);
  check_first_line1_trip(today);
  r = generate(L1, today, 1, false);
  assert_int_equal(jint(run_at(r, 0), "tripsCreated"), 0);
  assert_int_equal(jint(run_at(r, 0), "tripsKept"), expected);
  http_response_free(r);
}

static void test_a_week_past_the_seeded_days_is_created_by_control(void **state) {
  (void)state;
  /* The stack seeds today and tomorrow; control writes the week after (weekdays and a weekend). */
  char first[16], date[16];
  date_of(local_days(3), first, sizeof first);
  http_response *r = generate(L1, first, 7, false);
  for (int d = 0; d < 7; d++) {
    json_t *run = run_at(r, (size_t)d);
    long day = local_days(3 + d);
    assert_string_equal(jstr(run, "serviceDate"), date_of(day, date, sizeof date));
    assert_string_equal(jstr(run, "source"), "fallback");
    assert_int_equal(jint(run, "tripsCreated") + jint(run, "tripsKept"), fallback_trips(day));
    assert_int_equal(jint(run, "unassignedTrips"), 0);
    assert_int_equal(jint(run, "headwayMinS"), 180 + (weekend(day) ? 240 : 0));
    int outbound;
    assert_int_equal(count_trips(L1, date, &outbound), fallback_trips(day));
    assert_int_equal(outbound, fallback_trips(day) / 2);
    check_first_line1_trip(date);
  }
  long total = jint(r->json, "tripsCreated") + jint(r->json, "tripsKept");
  http_response_free(r);
  assert_true(total >= 5 * 434 + 2 * 264);
  /* Each (line, date) published schedule.generated through the outbox. */
  char *n = sql_value(
      "SELECT count(*) FROM control.outbox WHERE event_type = 'schedule.generated' AND event_key = $1", L1);
  assert_non_null(n);
  assert_true(atol(n) >= 7);
  free(n);
}

static void test_requests_are_checked(void **state) {
  (void)state;
  char today[16], body[256];
  date_of(local_days(0), today, sizeof today);
  expect_error("POST", "/v1/schedules:generate", "{\"days\":32}", admin, 400, "INVALID_DAYS", "days");
  expect_error("POST", "/v1/schedules:generate", "{\"days\":-1}", admin, 400, "INVALID_DAYS", "days");
  expect_error("POST", "/v1/schedules:generate", "{\"date\":\"2026-13-01\"}", admin, 400, "INVALID_DATE", "date");
  snprintf(body, sizeof body, "{\"routeId\":\"" L1 "\",\"date\":\"%s\",\"replace\":true}", today);
  expect_error("POST", "/v1/schedules:generate", body, admin, 400, "PAST_DATE", NULL);
  expect_error("POST", "/v1/schedules:generate", "{\"routeId\":\"no-such-line\"}", admin, 404, "LINE_NOT_FOUND", NULL);
  expect_error("POST", "/v1/schedules:generate", "{}", NULL, 401, NULL, NULL);
  expect_error("POST", "/v1/schedules:generate", "{}", rider, 403, "PERMISSION_DENIED", NULL);
  expect_error("GET", "/v1/lines/" L1 "/forecast?date=2026-02-30", NULL, admin, 400, "INVALID_DATE", "date");
  expect_error("GET", "/v1/lines/no-such-line/forecast", NULL, admin, 404, "LINE_NOT_FOUND", NULL);
  expect_error("GET", "/v1/lines/" L1 "/forecast", NULL, rider, 403, "PERMISSION_DENIED", NULL);
  /* A line without demand data: the fallback, with the table's bands. */
  http_response *r = call_ok("GET", "/v1/lines/" L1 "/forecast", NULL);
  assert_string_equal(jstr(r->json, "method"), "fallback");
  assert_int_equal(json_array_size(json_object_get(r->json, "hours")), 0);
  assert_int_equal(json_array_size(json_object_get(r->json, "bands")), weekend(local_days(0)) ? 4 : 5);
  assert_int_equal(jint(r->json, "activeTrains"), 32);
  assert_int_equal(jint(r->json, "capacity"), 900);
  assert_int_equal(jint(r->json, "fleetHeadwayS"), 180);
  http_response_free(r);
}

/* ---- the holiday calendar ---- */

static void test_holiday_calendar(void **state) {
  (void)state;
  /* Two dates of their own (the stack may be reused): far ahead, unique per run. */
  long base = local_days(20000 + (int)(time(NULL) % 5000) * 2);
  char d1[16], d2[16], body[256], path[512];
  date_of(base, d1, sizeof d1);
  date_of(base + 1, d2, sizeof d2);
  snprintf(body, sizeof body, "{\"date\":\"%s\",\"name\":\"Tết Nguyên Đán\"}", d1);
  http_response *r = call_ok("POST", "/v1/holidays", body);
  assert_string_equal(jstr(r->json, "date"), d1);
  assert_string_equal(jstr(r->json, "name"), "Tết Nguyên Đán");
  http_response_free(r);
  expect_error("POST", "/v1/holidays", body, admin, 409, "HOLIDAY_EXISTS", NULL);
  snprintf(body, sizeof body, "{\"date\":\"%s\",\"name\":\"Giỗ Tổ Hùng Vương\"}", d2);
  http_response_free(call_ok("POST", "/v1/holidays", body));
  expect_error("POST", "/v1/holidays", "{\"date\":\"2027-02-29\",\"name\":\"x\"}", admin, 400, "INVALID_DATE",
               "holiday.date");
  expect_error("POST", "/v1/holidays", "{\"date\":\"2027-02-28\"}", admin, 400, "FIELD_REQUIRED", "holiday.name");
  expect_error("POST", "/v1/holidays", body, rider, 403, "PERMISSION_DENIED", NULL);
  /* Listed by date, page by page: d1 then d2 among the rest. */
  int seen1 = -1, seen2 = -1, index = 0;
  char token[256] = "";
  for (int page = 0; page < 1000; page++) {
    snprintf(path, sizeof path, "/v1/holidays?pageSize=1%s%s", *token ? "&pageToken=" : "", token);
    r = call_ok("GET", path, NULL);
    json_t *list = json_object_get(r->json, "holidays");
    assert_true(json_array_size(list) <= 1);
    if (json_array_size(list) == 1) {
      const char *d = jstr(json_array_get(list, 0), "date");
      if (strcmp(d, d1) == 0) seen1 = index;
      if (strcmp(d, d2) == 0) seen2 = index;
      index++;
    }
    snprintf(token, sizeof token, "%s", jstr(r->json, "nextPageToken"));
    http_response_free(r);
    if (!*token) break;
  }
  assert_true(seen1 >= 0);
  assert_int_equal(seen2, seen1 + 1);
  expect_error("GET", "/v1/holidays?pageToken=bm9wZQ", NULL, admin, 400, "INVALID_PAGE_TOKEN", "pageToken");
  snprintf(path, sizeof path, "/v1/holidays/%s", d1);
  http_response_free(call_ok("DELETE", path, NULL));
  expect_error("DELETE", path, NULL, admin, 404, "HOLIDAY_NOT_FOUND", NULL);
  snprintf(path, sizeof path, "/v1/holidays/%s", d2);
  http_response_free(call_ok("DELETE", path, NULL));
}

/* ---- demand -> model -> headways ---- */

/* ticket.used exits written to the ticket service's outbox, as its gates write them; its relay
 * publishes them and control's consumer counts them like real taps. */
static void publish_exits(void) {
  pg_configure(harness_env("METRO_TICKET_PG_URL"), "ticket");
  assert_true(ev_names_configure("ticket", NULL));
  arena *a = arena_create(1 << 16);
  assert_true(rpc_ok(pg_begin(a)));
  for (int k = 1; k <= DAYS_OF_DATA; k++)
    for (int i = 0; i < EXITS_PER_DAY; i++) {
      char ticket[CRYPTO_UUID_LEN + 1], passenger[CRYPTO_UUID_LEN + 1];
      crypto_uuid_v4(ticket);
      crypto_uuid_v4(passenger);
      /* Entered at 07:10 + i minutes local (00:10Z) on the k-th day before today. */
      int64_t entry_s = (int64_t)local_days(-k) * 86400 + 10 * 60 + i * 60;
      Google__Protobuf__Timestamp entry = GOOGLE__PROTOBUF__TIMESTAMP__INIT, tap = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
      entry.seconds = entry_s;
      tap.seconds = entry_s + 20 * 60;
      char *routes[1] = {L6};
      Metro__Events__V1__TicketUsed ev = METRO__EVENTS__V1__TICKET_USED__INIT;
      ev.ticket_id = ticket;
      ev.passenger_id = passenger;
      ev.station_id = L6_LAST;
      ev.gate_id = "cong-hoa-g1";
      ev.direction = "exit";
      ev.tap_at = &tap;
      ev.route_ids = routes;
      ev.n_route_ids = 1;
      ev.ticket_type = "oneway";
      ev.total_passengers = PASSENGERS_PER_EXIT;
      ev.entry_station_id = L6_FIRST;
      ev.entry_at = &entry;
      ev.journey_completed = true;
      assert_true(rpc_ok(ev_publish(a, "ticket.used", ticket, &ev.base, NULL)));
    }
  /* A pass names no line: the planner finds Line 6 (12:10 local, yesterday, 7 riders). */
  char pass[CRYPTO_UUID_LEN + 1];
  crypto_uuid_v4(pass);
  Google__Protobuf__Timestamp noon = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  noon.seconds = (int64_t)local_days(-1) * 86400 + 5 * 3600 + 10 * 60;
  Metro__Events__V1__TicketUsed p = METRO__EVENTS__V1__TICKET_USED__INIT;
  p.ticket_id = pass;
  p.station_id = L6_FIRST; /* Cộng Hòa -> Quốc lộ 1A: inbound */
  p.entry_station_id = L6_LAST;
  p.direction = "exit";
  p.ticket_type = "monthly_pass";
  p.total_passengers = 7;
  p.entry_at = &noon;
  p.tap_at = &noon;
  assert_true(rpc_ok(ev_publish(a, "ticket.used", pass, &p.base, NULL)));
  /* And one entry tap, which counts nobody. */
  Metro__Events__V1__TicketUsed in = METRO__EVENTS__V1__TICKET_USED__INIT;
  char ticket[CRYPTO_UUID_LEN + 1];
  crypto_uuid_v4(ticket);
  in.ticket_id = ticket;
  in.station_id = L6_FIRST;
  in.direction = "entry";
  in.total_passengers = 1000;
  assert_true(rpc_ok(ev_publish(a, "ticket.used", ticket, &in.base, NULL)));
  assert_true(rpc_ok(pg_commit(a)));
  arena_destroy(a);
}

/* Passengers counted on Line 6 over the synthetic days at one hour and direction. */
static long passengers_at(int hour, const char *direction) {
  char from[16], to[16], q[512];
  date_of(local_days(-DAYS_OF_DATA), from, sizeof from);
  date_of(local_days(-1), to, sizeof to);
  snprintf(q, sizeof q,
           "SELECT coalesce(sum(passengers), 0) FROM control.demand WHERE route_id = $1 AND hour = %d "
           "AND direction = '%s' AND service_date BETWEEN '%s' AND '%s'",
           hour, direction, from, to);
  char *v = sql_value(q, L6);
  assert_non_null(v);
  long n = atol(v);
  free(v);
  return n;
}

static int headway_of(double demand, int capacity) {
  if (demand <= 0) return 900;
  double h = floor(3600.0 * capacity * 70 / (100.0 * demand));
  return h >= 900 ? 900 : h <= 120 ? 120 : (int)h;
}

/* Counts what a rider polling tomorrow's Line 6 sees while it is replaced. */
typedef struct reader {
  const char *date;
  atomic_bool stop;
  int polls, errors, counts[64], n_counts;
} reader;

static void *reader_main(void *p) {
  reader *r = p;
  while (!atomic_load(&r->stop)) {
    arena *a = arena_create(1 << 20);
    rpc_status st;
    Metro__Transport__V1__ListLineTripsResponse *resp = line_trips(a, L6, r->date, &st);
    if (!resp) {
      r->errors++;
    } else {
      int n = (int)resp->n_trips, k = 0;
      while (k < r->n_counts && r->counts[k] != n) k++;
      if (k == r->n_counts && r->n_counts < 64) r->counts[r->n_counts++] = n;
      r->polls++;
    }
    arena_destroy(a);
  }
  return NULL;
}

static void test_fourteen_days_of_exits_make_a_model_with_other_peak_headways(void **state) {
  (void)state;
  char tomorrow[16], path[256];
  long day = local_days(1);
  date_of(day, tomorrow, sizeof tomorrow);
  /* Tomorrow exists before the replace (seeded, or created now). */
  http_response *r = generate(L6, tomorrow, 1, false);
  http_response_free(r);
  int old_total = count_trips(L6, tomorrow, NULL);
  assert_true(old_total > 0);

  long before = passengers_at(7, "outbound"), pass_before = passengers_at(12, "inbound");
  publish_exits();
  long want = before + (long)DAYS_OF_DATA * EXITS_PER_DAY * PASSENGERS_PER_EXIT;
  for (int i = 0; i < 600; i++) {
    if (passengers_at(7, "outbound") >= want && passengers_at(12, "inbound") >= pass_before + 7) break;
    usleep(100000);
  }
  assert_int_equal(passengers_at(7, "outbound"), want);
  assert_int_equal(passengers_at(12, "inbound"), pass_before + 7);

  /* The forecast: a model from 14 days, the 07:00 slot the weighted mean of tomorrow's weekday. */
  snprintf(path, sizeof path, "/v1/lines/" L6 "/forecast?date=%s", tomorrow);
  r = call_ok("GET", path, NULL);
  assert_string_equal(jstr(r->json, "method"), "model");
  assert_string_equal(jstr(r->json, "basis"), "day_type");
  assert_true(jint(r->json, "dataDays") >= DAYS_OF_DATA);
  assert_true(jint(r->json, "samples") >= 2);
  json_t *hours = json_object_get(r->json, "hours");
  assert_int_equal(json_array_size(hours), 24);
  double peak = jnum(json_array_get(hours, 7), "outbound");
  assert_true(peak >= EXITS_PER_DAY * PASSENGERS_PER_EXIT); /* 3,000 on a fresh stack, more on a reused one */
  if (before == 0) assert_true(fabs(peak - EXITS_PER_DAY * PASSENGERS_PER_EXIT) < 1e-6);
  assert_true(jnum(json_array_get(hours, 7), "inbound") == 0);
  json_t *bands = json_object_get(r->json, "bands");
  assert_int_equal(json_array_size(bands), 8);
  json_t *morning = json_array_get(bands, 1);
  assert_string_equal(jstr(morning, "start"), "06:30");
  assert_string_equal(jstr(morning, "end"), "08:30");
  assert_true(fabs(jnum(morning, "demand") - peak) < 1e-6);
  int capacity = (int)jint(r->json, "capacity"), fleet = (int)jint(r->json, "fleetHeadwayS");
  int model_peak = headway_of(peak, capacity);
  if (model_peak < fleet) model_peak = fleet;
  assert_int_equal(jint(morning, "headwayS"), model_peak);
  int fallback_peak = weekend(day) ? 540 : 180;
  assert_int_not_equal(model_peak, fallback_peak);
  assert_int_equal(jint(json_array_get(bands, 0), "headwayS"), 900); /* nobody at 05:00-06:30 */
  http_response_free(r);

  /* Replace tomorrow while a rider polls it: every answer is the old day or the new one. */
  reader rd = {.date = tomorrow};
  atomic_store(&rd.stop, false);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, reader_main, &rd), 0);
  while (rd.polls < 3) usleep(10000);
  r = generate(L6, tomorrow, 1, true);
  usleep(100000);
  atomic_store(&rd.stop, true);
  pthread_join(th, NULL);
  json_t *run = run_at(r, 0);
  assert_string_equal(jstr(run, "source"), "forecast");
  assert_true(json_is_true(json_object_get(run, "replaced")));
  int new_total = (int)jint(run, "tripsCreated");
  assert_int_equal(jint(run, "unassignedTrips"), 0);
  http_response_free(r);
  fprintf(stderr, "replace of %s: %d polls saw", tomorrow, rd.polls);
  for (int i = 0; i < rd.n_counts; i++) fprintf(stderr, " %d", rd.counts[i]);
  fprintf(stderr, " trips (old %d, new %d)\n", old_total, new_total);
  assert_int_equal(rd.errors, 0);
  assert_true(rd.polls > 3);
  for (int i = 0; i < rd.n_counts; i++) {
    if (rd.counts[i] != old_total && rd.counts[i] != new_total)
      fail_msg("a reader saw %d trips, neither the old %d nor the new %d", rd.counts[i], old_total, new_total);
  }
  int outbound;
  assert_int_equal(count_trips(L6, tomorrow, &outbound), new_total);
  if (before == 0 && old_total == fallback_trips(day)) assert_int_not_equal(new_total, old_total);

  /* The new timetable runs the model's headway through the morning peak, 900 s before it. */
  arena *a = arena_create(1 << 20);
  rpc_status st;
  Metro__Transport__V1__ListLineTripsResponse *trips = line_trips(a, L6, tomorrow, &st);
  assert_int_equal(st.code, GRPC_STATUS_OK);
  int prev = -1, peak_gaps = 0, early_gaps = 0;
  for (size_t i = 0; i < trips->n_trips; i++) {
    const Metro__Transport__V1__Trip *t = trips->trips[i];
    if (strcmp(t->direction, "outbound") != 0) continue;
    int hh, mm, ss;
    assert_int_equal(sscanf(t->departure, "%d:%d:%d", &hh, &mm, &ss), 3);
    int dep = hh * 3600 + mm * 60 + ss;
    if (prev >= 0 && prev >= 6 * 3600 + 1800 && dep < 8 * 3600 + 1800) {
      assert_int_equal(dep - prev, model_peak);
      peak_gaps++;
    }
    if (prev >= 0 && dep < 6 * 3600 + 1800) {
      assert_int_equal(dep - prev, 900);
      early_gaps++;
    }
    if (i == 0) assert_int_equal(dep, 5 * 3600);
    prev = dep;
  }
  assert_true(peak_gaps >= 7200 / model_peak - 1);
  assert_int_equal(early_gaps, 5); /* 05:00, 05:15, ... 06:15 */
  arena_destroy(a);

  /* A holiday with no holiday data yet: the Sunday forecast x 0.6. */
  long sunday = local_days(1);
  while (weekday_of(sunday) != 6) sunday++;
  char sunday_date[16], holiday[16], body[256];
  snprintf(path, sizeof path, "/v1/lines/" L6 "/forecast?date=%s", date_of(sunday, sunday_date, sizeof sunday_date));
  r = call_ok("GET", path, NULL);
  assert_string_equal(jstr(r->json, "dayType"), "sunday");
  double sunday_peak = jnum(json_array_get(json_object_get(r->json, "hours"), 7), "outbound");
  assert_true(sunday_peak > 0);
  http_response_free(r);
  date_of(local_days(30000 + (int)(time(NULL) % 5000)), holiday, sizeof holiday);
  snprintf(body, sizeof body, "{\"date\":\"%s\",\"name\":\"Quốc khánh\"}", holiday);
  http_response_free(call_ok("POST", "/v1/holidays", body));
  snprintf(path, sizeof path, "/v1/lines/" L6 "/forecast?date=%s", holiday);
  r = call_ok("GET", path, NULL);
  assert_string_equal(jstr(r->json, "dayType"), "holiday");
  assert_string_equal(jstr(r->json, "method"), "model");
  assert_string_equal(jstr(r->json, "basis"), "sunday_x0.6");
  assert_true(fabs(jnum(json_array_get(json_object_get(r->json, "hours"), 7), "outbound") - sunday_peak * 0.6) < 1e-6);
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/holidays/%s", holiday);
  http_response_free(call_ok("DELETE", path, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_today_for_line1_with_the_fallback_matches_transport),
      cmocka_unit_test(test_a_week_past_the_seeded_days_is_created_by_control),
      cmocka_unit_test(test_requests_are_checked),
      cmocka_unit_test(test_holiday_calendar),
      cmocka_unit_test(test_fourteen_days_of_exits_make_a_model_with_other_peak_headways),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
