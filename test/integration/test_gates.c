/* The gates end to end over REST (domain spec §10, §11): rides, every refusal reason, duplicates, replays, abuse,
 * rotating codes, wrong exits and assisted exits, keys with metro-gate-verify, bad input, and 1,000-tap races. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/events.h"
#include "common/ev_internal.h"
#include "common/pg.h"
#include "harness.h"
#include "ticketing.h"
#include "metro/events/v1/payment_events.pb-c.h"

#define PASSWORD TICKETING_PASSWORD
#define EVENT_WAIT_MS TICKETING_WAIT_MS
#define LINE1 "tuyen-metro-so-1-ben-thanh-suoi-tien"
#define GATES_PER_STATION 4
#define RACE_TAPS 1000
#define RACE_THREADS 16
#define CODE_CAP 1200

/* Line 1 stations the rides use (all on Line 1 only, none that other tests close). */
enum { TAN_CANG, THAO_DIEN, AN_PHU, BINH_THAI, PHUOC_LONG, THU_DUC, N_STATIONS };
static const char *const station_ids[N_STATIONS] = {"tan-cang",   "thao-dien",  "an-phu",
                                                    "binh-thai", "phuoc-long", "thu-duc"};

static char admin_token[2048], gate_token[2048], staff_token[2048];
static char free_promo[64];                     /* a 100 % promotion without limits: free tickets */
static char gates[N_STATIONS][GATES_PER_STATION][64];
static int line1_seq[N_STATIONS];
static long line1_base;
/* The stations' opening hours, widened by setup for a run at night and restored by teardown. */
static station_hours hours[N_STATIONS];

/* ---- helpers ---- */

static bool json_flag(const http_response *r, const char *key) { return json_is_true(json_object_get(r->json, key)); }

static void login(const char *name, char *token) {
  char body[256];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", name, PASSWORD);
  http_response *r = call_ok("POST", "/v1/auth/login", body, NULL);
  snprintf(token, 2048, "%s", json_at(r, "accessToken"));
  http_response_free(r);
}

/* An account with one role created by the admin, logged in. */
static void new_account(const char *role, char *token) {
  const char *name = unique_name(role);
  char body[512];
  snprintf(body, sizeof body,
           "{\"email\":\"%s@metro.test\",\"username\":\"%s\",\"password\":\"%s\",\"firstName\":\"Gate\","
           "\"lastName\":\"Test\",\"roles\":[\"%s\"]}",
           name, name, PASSWORD, role);
  http_response_free(call_ok("POST", "/v1/auth/users", body, admin_token));
  login(name, token);
}

static void buy(const rider *p, const char *body, char *ticket_id, const char *want_status) {
  http_response *r = http_call("POST", "/v1/tickets", body, p->access);
  if (r->status != 200) fprintf(stderr, "POST /v1/tickets %s -> %ld: %s\n", body, r->status, r->body);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "status"), want_status);
  snprintf(ticket_id, 64, "%s", json_at(r, "ticketId"));
  http_response_free(r);
}

/* A free (100 % promotion) single or return ticket, active at once. pax: JSON counts. */
static void buy_trip(const rider *p, const char *trip, int from, int to, const char *pax, char *ticket_id) {
  char body[512];
  snprintf(body, sizeof body,
           "{\"originStationId\":\"%s\",\"destinationStationId\":\"%s\",\"tripType\":\"%s\",\"passengers\":%s,"
           "\"promotionCode\":\"%s\"}",
           station_ids[from], station_ids[to], trip, pax ? pax : "{\"adult\":1}", free_promo);
  buy(p, body, ticket_id, "active");
}

/* A free day pass: inactive until its first entry. */
static void buy_pass(const rider *p, char *ticket_id) {
  char body[256];
  snprintf(body, sizeof body, "{\"passType\":\"day_pass\",\"promotionCode\":\"%s\"}", free_promo);
  buy(p, body, ticket_id, "inactive");
}

/* The owner's current rotating code <token>.<counter>.<code>. */
static void rotating_code(const rider *p, const char *id, char *code) {
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s/code", id);
  http_response *r = call_ok("GET", path, NULL, p->access);
  snprintf(code, CODE_CAP, "%s", json_at(r, "code"));
  assert_true(strncmp(code, "MT1.", 4) == 0);
  http_response_free(r);
}

/* The static token: the rotating code without its last two dot parts. */
static void static_token(const rider *p, const char *id, char *token) {
  rotating_code(p, id, token);
  for (int i = 0; i < 2; i++) *strrchr(token, '.') = '\0';
}

static http_response *tap_as(const char *bearer, const char *gate, const char *station, const char *token,
                             const char *direction, const char *tap_id) {
  char path[160], body[4096];
  snprintf(path, sizeof path, "/v1/gates/%s/taps", gate);
  snprintf(body, sizeof body, "{\"token\":\"%s\",\"stationId\":\"%s\",\"direction\":\"%s\",\"tapId\":\"%s\"}", token,
           station, direction, tap_id);
  return http_call("POST", path, body, bearer);
}

/* A tap at gate k of a station that must be a decision (200): accepted when reason is NULL,
 * else refused with that reason. The caller frees the answer. */
static http_response *tap_id_at(int station, int k, const char *token, const char *direction, const char *tap_id,
                                const char *reason) {
  http_response *r = tap_as(gate_token, gates[station][k], station_ids[station], token, direction, tap_id);
  bool ok = r->status == 200 && json_flag(r, "accepted") == (reason == NULL) &&
            strcmp(json_at(r, "reason"), reason ? reason : "") == 0;
  if (!ok) {
    fprintf(stderr, "%s at %s (%s) expected %s, got %ld: %s\n", direction, gates[station][k], station_ids[station],
            reason ? reason : "accepted", r->status, r->body);
    if (strcmp(json_at(r, "reason"), "ABUSE_DETECTED") == 0)
      fprintf(stderr, "(the test stack must run with METRO_ABUSE_MIN_INTERVAL_MS=0)\n");
  }
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "reason"), reason ? reason : "");
  assert_true(json_flag(r, "accepted") == (reason == NULL));
  return r;
}

static http_response *tap_at(int station, int k, const char *token, const char *direction, const char *reason) {
  return tap_id_at(station, k, token, direction, unique_name("tap-"), reason);
}

static void tap_check(int station, int k, const char *token, const char *direction, const char *reason) {
  http_response_free(tap_at(station, k, token, direction, reason));
}

static char *ticket_column(const char *id, const char *column) {
  char q[256];
  snprintf(q, sizeof q, "SELECT %s::text FROM ticket.tickets WHERE ticket_id = $1::uuid", column);
  char *v = sql_value(q, id);
  assert_non_null(v);
  return v;
}

static void expect_column(const char *id, const char *column, const char *want) {
  char *v = ticket_column(id, column);
  if (strcmp(v, want) != 0) fprintf(stderr, "ticket %s: %s = %s, expected %s\n", id, column, v, want);
  assert_string_equal(v, want);
  free(v);
}

static long events_of(const char *id, const char *type) {
  char q[256];
  snprintf(q, sizeof q, "SELECT count(*) FROM ticket.outbox WHERE event_key = $1 AND event_type = '%s'", type);
  return sql_count(q, id);
}

static long taps_of(const char *id) { return sql_count("SELECT count(*) FROM ticket.taps WHERE ticket_id = $1::uuid", id); }

/* ---- fares (domain spec §5, §6), for the expected fare adjustments ---- */

static long round_1000(long num, long den) { return (num * 2 + den * 1000) / (den * 2000) * 1000; }

/* The group's one-way fare on Line 1 between two stations: base x tier of n (inclusive
 * count), then each passenger type's discount, rounded to 1,000 per person. pax: adult,
 * child, teenager, student, senior, elder. */
static long group_fare(int from, int to, const int pax[6]) {
  static const int discount_percent[6] = {0, 100, 15, 50, 0, 100};
  int n = abs(line1_seq[to] - line1_seq[from]) + 1;
  int tenths = n <= 5 ? 10 : n <= 10 ? 12 : n <= 15 ? 14 : n <= 20 ? 16 : n <= 25 ? 18 : 20;
  long journey = round_1000(line1_base * tenths, 10);
  long total = 0;
  for (int i = 0; i < 6; i++) total += pax[i] * round_1000(journey * (100 - discount_percent[i]), 100);
  return total;
}

/* ---- stations ---- */

/* Stations this test created: deleted at the end, so the network other tests count is the
 * seeded one. */
static char created_stations[8][64];
static int n_created_stations;

/* A station of this test (on no line) with the given hours; its id into id. */
static void new_station(const char *open, const char *close, char *id) {
  char body[512];
  const char *tag = unique_name("");
  snprintf(body, sizeof body,
           "{\"name\":\"Gate Test %s\",\"location\":{\"latitude\":10.81,\"longitude\":106.71},\"openTime\":\"%s\","
           "\"closeTime\":\"%s\"}",
           tag, open, close);
  http_response *r = call_ok("POST", "/v1/stations", body, admin_token);
  snprintf(id, 96, "%s", json_at(r, "stationId"));
  http_response_free(r);
  if (n_created_stations < 8) snprintf(created_stations[n_created_stations++], 64, "%.63s", id);
}

static void new_gate(const char *station, char *gate_id) {
  char body[512];
  snprintf(gate_id, 64, "%s", unique_name("g-"));
  snprintf(body, sizeof body, "{\"gateId\":\"%s\",\"stationId\":\"%s\",\"name\":\"Gate %s\"}", gate_id, station,
           gate_id);
  http_response *r = call_ok("POST", "/v1/gates", body, admin_token);
  assert_string_equal(json_at(r, "gateId"), gate_id);
  assert_string_equal(json_at(r, "stationId"), station);
  assert_true(json_flag(r, "isActive"));
  http_response_free(r);
}

/* ---- setup ---- */

static int setup(void **state) {
  (void)state;
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", getenv("METRO_TEST_ADMIN_EMAIL"),
           getenv("METRO_TEST_ADMIN_PASSWORD"));
  http_response *r = call_ok("POST", "/v1/auth/login", body, NULL);
  snprintf(admin_token, sizeof admin_token, "%s", json_at(r, "accessToken"));
  http_response_free(r);
  new_account("gate", gate_token);
  new_account("staff", staff_token);

  snprintf(free_promo, sizeof free_promo, "%s", unique_name("GATEFREE"));
  for (char *s = free_promo; *s; s++) *s = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
  snprintf(body, sizeof body,
           "{\"promotionCode\":\"%s\",\"name\":\"Gate tests\",\"type\":\"percentage\",\"value\":100,"
           "\"validFrom\":\"2020-01-01T00:00:00Z\",\"validUntil\":\"2099-01-01T00:00:00Z\"}",
           free_promo);
  http_response_free(call_ok("POST", "/v1/promotions", body, admin_token));

  r = call_ok("GET", "/v1/lines/" LINE1, NULL, NULL);
  line1_base = atol(json_at(r, "basePrice"));
  assert_true(line1_base > 0);
  json_t *stations = json_object_get(r->json, "stations"), *st;
  size_t i;
  json_array_foreach(stations, i, st) {
    for (int s = 0; s < N_STATIONS; s++)
      if (strcmp(json_string_value(json_object_get(st, "stationId")), station_ids[s]) == 0)
        line1_seq[s] = (int)json_integer_value(json_object_get(st, "sequence"));
  }
  http_response_free(r);
  for (int s = 0; s < N_STATIONS; s++) {
    assert_true(line1_seq[s] > 0);
    station_keep_open(station_ids[s], admin_token, &hours[s]);
    for (int k = 0; k < GATES_PER_STATION; k++) new_gate(station_ids[s], gates[s][k]);
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char path[160];
  for (int s = 0; s < N_STATIONS; s++) station_hours_restore(&hours[s], admin_token);
  for (int i = 0; i < n_created_stations; i++) {
    snprintf(path, sizeof path, "/v1/stations/%.63s", created_stations[i]);
    http_response *r = http_call("DELETE", path, NULL, admin_token);
    if (r->status != 200) fprintf(stderr, "teardown: DELETE %s -> %ld: %s\n", path, r->status, r->body);
    http_response_free(r);
  }
  return 0;
}

/* ---- rides ---- */

static void test_a_oneway_ride_duplicates_and_tap_id_replays(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], code[CODE_CAP], token[CODE_CAP];
  buy_trip(&p, "oneway", TAN_CANG, AN_PHU, NULL, id);
  rotating_code(&p, id, code);
  static_token(&p, id, token);
  long taps_before = sql_count("SELECT count(*) FROM ticket.taps", NULL);

  /* Entry with the rotating code the app shows. */
  char first_tap[64];
  snprintf(first_tap, sizeof first_tap, "%s", unique_name("tap-"));
  http_response *entry = tap_id_at(TAN_CANG, 0, code, "entry", first_tap, NULL);
  assert_false(json_flag(entry, "duplicate"));
  assert_string_equal(json_at(entry, "ticketId"), id);
  assert_string_equal(json_at(entry, "ticketType"), "oneway");
  assert_string_equal(json_at(entry, "status"), "active");
  assert_string_equal(json_at(entry, "direction"), "entry");
  assert_string_equal(json_at(entry, "stationId"), station_ids[TAN_CANG]);
  assert_string_equal(json_at(entry, "gateId"), gates[TAN_CANG][0]);
  assert_string_equal(json_at(entry, "tapId"), first_tap);
  assert_int_equal(json_int(entry, "totalPassengers"), 1);
  assert_int_equal(json_int(entry, "journeysRemaining"), 1);
  assert_true(strlen(json_at(entry, "validUntil")) > 0 && strlen(json_at(entry, "tapTime")) > 0);
  expect_column(id, "inside", "true");
  expect_column(id, "entry_station_id", station_ids[TAN_CANG]);

  /* An identical repeat at the same gate: accepted as a duplicate, nothing changes. */
  char *version = ticket_column(id, "version");
  http_response *dup = tap_at(TAN_CANG, 0, token, "entry", NULL);
  assert_true(json_flag(dup, "duplicate"));
  http_response_free(dup);
  expect_column(id, "version", version);
  free(version);
  assert_int_equal(events_of(id, "ticket.used"), 1);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.taps WHERE ticket_id = $1::uuid AND duplicate AND NOT counted",
                             id),
                   1);
  /* The same entry at another gate is a second entry. */
  tap_check(TAN_CANG, 1, token, "entry", "ANTI_PASSBACK");
  http_response *exit_ = tap_at(AN_PHU, 2, token, "exit", NULL);
  assert_false(json_flag(exit_, "duplicate"));
  assert_string_equal(json_at(exit_, "status"), "used");
  assert_int_equal(json_int(exit_, "journeysRemaining"), 0);
  http_response_free(exit_);
  tap_check(TAN_CANG, 1, token, "entry", "TICKET_USED");
  tap_check(AN_PHU, 3, token, "exit", "TICKET_USED");

  /* Retrying the first tapId answers what was stored then (an accepted entry of an active
   * ticket), whatever the body says now; the same tapId at another gate is another tap. */
  long taps_now = sql_count("SELECT count(*) FROM ticket.taps", NULL);
  http_response *again = tap_as(gate_token, gates[TAN_CANG][0], station_ids[TAN_CANG], token, "exit", first_tap);
  assert_int_equal(again->status, 200);
  assert_true(json_equal(again->json, entry->json));
  http_response_free(again);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.taps", NULL), taps_now);
  http_response *other = tap_id_at(TAN_CANG, 1, token, "entry", first_tap, "TICKET_USED");
  http_response_free(other);
  http_response_free(entry);

  assert_int_equal(sql_count("SELECT count(*) FROM ticket.taps", NULL), taps_before + 7);
  expect_column(id, "status", "used");
  expect_column(id, "journeys_completed", "1");
  expect_column(id, "inside", "false");
  assert_int_equal(events_of(id, "ticket.used"), 2);
}

static void test_a_return_goes_there_and_back_then_is_used(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], token[CODE_CAP];
  buy_trip(&p, "return", THAO_DIEN, BINH_THAI, "{\"adult\":1}", id);
  static_token(&p, id, token);
  tap_check(BINH_THAI, 0, token, "entry", "WRONG_ENTRY_STATION");
  tap_check(BINH_THAI, 0, token, "exit", "NO_ENTRY_RECORDED");
  http_response *r = tap_at(THAO_DIEN, 0, token, "entry", NULL);
  assert_int_equal(json_int(r, "journeysRemaining"), 2);
  http_response_free(r);
  r = tap_at(BINH_THAI, 1, token, "exit", NULL);
  assert_int_equal(json_int(r, "journeysRemaining"), 1);
  assert_string_equal(json_at(r, "status"), "active");
  http_response_free(r);
  /* Journey 2 starts at the destination and ends at the origin. */
  tap_check(THAO_DIEN, 1, token, "entry", "WRONG_ENTRY_STATION");
  tap_check(BINH_THAI, 2, token, "entry", NULL);
  r = tap_at(THAO_DIEN, 2, token, "exit", NULL);
  assert_int_equal(json_int(r, "journeysRemaining"), 0);
  assert_string_equal(json_at(r, "status"), "used");
  http_response_free(r);
  tap_check(THAO_DIEN, 3, token, "entry", "TICKET_USED");
  tap_check(BINH_THAI, 3, token, "entry", "TICKET_USED");
  expect_column(id, "journeys_completed", "2");
  expect_column(id, "status", "used");
  assert_int_equal(events_of(id, "ticket.used"), 4);
}

static void test_a_pass_is_activated_by_its_first_entry_and_exits_anywhere(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], token[CODE_CAP];
  buy_pass(&p, id);
  static_token(&p, id, token);
  http_response *r = tap_at(AN_PHU, 0, token, "exit", "NO_ENTRY_RECORDED");
  assert_string_equal(json_at(r, "status"), "inactive");
  http_response_free(r);
  assert_int_equal(events_of(id, "ticket.activated"), 0);
  r = tap_at(THU_DUC, 0, token, "entry", NULL);
  assert_string_equal(json_at(r, "status"), "active");
  assert_string_equal(json_at(r, "ticketType"), "day_pass");
  assert_int_equal(json_int(r, "journeysRemaining"), -1);
  assert_true(strlen(json_at(r, "validUntil")) > 0);
  http_response_free(r);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.tickets WHERE ticket_id = $1::uuid AND status = 'active' "
                             "AND valid_until = valid_from + interval '1 day' AND valid_from > now() - interval '1 minute'",
                             id),
                   1);
  assert_int_equal(events_of(id, "ticket.activated"), 1);
  /* Any station: neither the origin nor a destination bind a pass. */
  r = tap_at(TAN_CANG, 0, token, "exit", NULL);
  assert_string_equal(json_at(r, "status"), "active");
  assert_int_equal(json_int(r, "journeysRemaining"), -1);
  http_response_free(r);
  assert_int_equal(events_of(id, "ticket.used"), 2);
  expect_column(id, "inside", "false");
}

/* Passes too alternate entries and exits, until an entry is older than 180 minutes. */
static void test_a_pass_entry_blocks_a_second_entry_for_180_minutes(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], token[CODE_CAP];
  buy_pass(&p, id);
  static_token(&p, id, token);
  tap_check(THAO_DIEN, 0, token, "entry", NULL);
  tap_check(PHUOC_LONG, 0, token, "entry", "ANTI_PASSBACK");
  sql_exec("UPDATE ticket.tickets SET entry_at = now() - interval '181 minutes' WHERE ticket_id = $1::uuid RETURNING 1",
           id);
  tap_check(PHUOC_LONG, 0, token, "entry", NULL);
}

/* ---- refusals by status and validity ---- */

static void test_tickets_not_active_refunded_expired_or_not_yet_valid_are_refused(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], token[CODE_CAP], path[160];

  /* A free single the owner cancels: its token, fetched while active, no longer rides. */
  buy_trip(&p, "oneway", TAN_CANG, AN_PHU, NULL, id);
  static_token(&p, id, token);
  snprintf(path, sizeof path, "/v1/tickets/%s:cancel", id);
  http_response_free(call_ok("POST", path, "{}", p.access));
  http_response *r = tap_at(TAN_CANG, 0, token, "entry", "TICKET_NOT_ACTIVE");
  assert_string_equal(json_at(r, "status"), "cancelled");
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/tickets/%s/code", id);
  expect_error("GET", path, NULL, p.access, 409, "TICKET_NOT_ACTIVE", NULL);

  /* A paid single (payment.completed issues its token), then refunded by the admin. */
  buy(&p,
      "{\"originStationId\":\"tan-cang\",\"destinationStationId\":\"an-phu\",\"tripType\":\"oneway\","
      "\"passengers\":{\"adult\":1},\"paymentMethod\":\"vnpay\"}",
      id, "pending_payment");
  snprintf(path, sizeof path, "/v1/tickets/%s/code", id);
  expect_error("GET", path, NULL, p.access, 409, "TICKET_NOT_ACTIVE", NULL);
  pay(id, 10000);
  wait_status(p.access, id, "active");
  static_token(&p, id, token);
  tap_check(TAN_CANG, 0, token, "entry", NULL);
  snprintf(path, sizeof path, "/v1/tickets/%s:refund", id);
  http_response_free(call_ok("POST", path, "{\"percent\":50}", admin_token));
  tap_check(AN_PHU, 0, token, "exit", "TICKET_NOT_ACTIVE");

  /* Past validUntil: no entry. */
  buy_trip(&p, "oneway", TAN_CANG, AN_PHU, NULL, id);
  static_token(&p, id, token);
  sql_exec("UPDATE ticket.tickets SET valid_until = now() - interval '1 second' WHERE ticket_id = $1::uuid RETURNING 1",
           id);
  tap_check(TAN_CANG, 0, token, "entry", "TICKET_EXPIRED");
  /* ... but a rider who entered while it was valid gets out. */
  buy_trip(&p, "oneway", TAN_CANG, AN_PHU, NULL, id);
  static_token(&p, id, token);
  tap_check(TAN_CANG, 0, token, "entry", NULL);
  sql_exec("UPDATE ticket.tickets SET valid_until = now() - interval '1 second' WHERE ticket_id = $1::uuid RETURNING 1",
           id);
  tap_check(AN_PHU, 0, token, "exit", NULL);
  /* An expired status. */
  buy_trip(&p, "oneway", TAN_CANG, AN_PHU, NULL, id);
  static_token(&p, id, token);
  sql_exec("UPDATE ticket.tickets SET status = 'expired' WHERE ticket_id = $1::uuid RETURNING 1", id);
  tap_check(TAN_CANG, 0, token, "entry", "TICKET_EXPIRED");

  /* Before validFrom. */
  buy_trip(&p, "oneway", TAN_CANG, AN_PHU, NULL, id);
  static_token(&p, id, token);
  sql_exec("UPDATE ticket.tickets SET valid_from = now() + interval '1 day' WHERE ticket_id = $1::uuid RETURNING 1", id);
  tap_check(TAN_CANG, 0, token, "entry", "NOT_YET_VALID");

  /* A oneway enters at its origin only and exits only after an entry. */
  buy_trip(&p, "oneway", TAN_CANG, AN_PHU, NULL, id);
  static_token(&p, id, token);
  tap_check(AN_PHU, 0, token, "exit", "NO_ENTRY_RECORDED");
  tap_check(AN_PHU, 0, token, "entry", "WRONG_ENTRY_STATION");
  tap_check(THAO_DIEN, 0, token, "entry", "WRONG_ENTRY_STATION");
  tap_check(TAN_CANG, 0, token, "entry", NULL);
  assert_int_equal(events_of(id, "ticket.used"), 1);
}

/* Stations of this test (on no line, so no other test's journeys cross them): one closed at
 * this hour, one open all day that the admin closes and reopens (the stack runs with
 * METRO_STATION_CACHE_MS=0, so taps see it at once). Passes enter anywhere. */
static void test_inactive_and_closed_stations_refuse_entries_not_exits(void **state) {
  (void)state;
  int now = local_minute_now();
  char closed[96], open_all_day[96], closed_gate[64], open_gate[64], path[256];
  if (now >= 120) new_station("00:00", "01:00", closed);
  else new_station("22:00", "23:00", closed);
  new_station("00:00", "23:59", open_all_day);
  new_gate(closed, closed_gate);
  new_gate(open_all_day, open_gate);
  rider p;
  new_rider(&p);
  char pass[64], token[CODE_CAP];
  buy_pass(&p, pass);
  static_token(&p, pass, token);

  http_response *r = tap_as(gate_token, closed_gate, closed, token, "entry", unique_name("tap-"));
  assert_int_equal(r->status, 200);
  assert_false(json_flag(r, "accepted"));
  assert_string_equal(json_at(r, "reason"), "STATION_CLOSED");
  assert_string_equal(json_at(r, "status"), "inactive");
  http_response_free(r);

  snprintf(path, sizeof path, "/v1/stations/%s?updateMask=isActive", open_all_day);
  http_response_free(call_ok("PATCH", path, "{\"isActive\":false}", admin_token));
  r = tap_as(gate_token, open_gate, open_all_day, token, "entry", unique_name("tap-"));
  assert_int_equal(r->status, 200);
  assert_false(json_flag(r, "accepted"));
  assert_string_equal(json_at(r, "reason"), "STATION_INACTIVE");
  http_response_free(r);
  http_response_free(call_ok("PATCH", path, "{\"isActive\":true}", admin_token));
  r = tap_as(gate_token, open_gate, open_all_day, token, "entry", unique_name("tap-"));
  assert_int_equal(r->status, 200);
  assert_true(json_flag(r, "accepted"));
  assert_string_equal(json_at(r, "status"), "active");
  http_response_free(r);

  /* Exits are accepted at any hour (another pass: a pass may tap 3 times a minute). */
  buy_pass(&p, pass);
  static_token(&p, pass, token);
  r = tap_as(gate_token, open_gate, open_all_day, token, "entry", unique_name("tap-"));
  assert_true(r->status == 200 && json_flag(r, "accepted"));
  http_response_free(r);
  r = tap_as(gate_token, closed_gate, closed, token, "exit", unique_name("tap-"));
  assert_int_equal(r->status, 200);
  assert_true(json_flag(r, "accepted"));
  http_response_free(r);
}

/* ---- wrong exits and the assisted exit ---- */

static void test_a_wrong_exit_owes_the_group_fare_difference_and_staff_let_it_out(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  /* adult, child, teenager, student, senior, elder */
  static const int pax[6] = {2, 1, 1, 1, 0, 0};
  const char *pax_json = "{\"adult\":2,\"child\":1,\"teenager\":1,\"student\":1}";
  char id[64], token[CODE_CAP], path[160], body[512];
  buy_trip(&p, "oneway", TAN_CANG, AN_PHU, pax_json, id);
  static_token(&p, id, token);
  long expected = group_fare(TAN_CANG, BINH_THAI, pax) - group_fare(TAN_CANG, AN_PHU, pax);
  assert_int_equal(expected, 6000); /* 40,000 (n=6, x1.2) - 34,000 (n=3, x1.0) */

  http_response *r = tap_at(TAN_CANG, 0, token, "entry", NULL);
  assert_int_equal(json_int(r, "totalPassengers"), 5);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(r->json, "passengers"), "adult")), 2);
  http_response_free(r);
  r = tap_at(BINH_THAI, 0, token, "exit", "WRONG_EXIT_STATION");
  assert_int_equal(json_int(r, "fareAdjustmentVnd"), expected);
  assert_string_equal(json_at(r, "status"), "active");
  http_response_free(r);
  expect_column(id, "inside", "true");
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.fare_adjustments WHERE ticket_id = $1::uuid AND status = "
                             "'due' AND amount_vnd = 6000 AND exit_station_id = 'binh-thai' AND "
                             "expected_exit_station_id = 'an-phu' AND entry_station_id = 'tan-cang'",
                             id),
                   1);

  /* Staff collect and let the group out: the journey completes. */
  snprintf(path, sizeof path, "/v1/tickets/%s:assistedExit", id);
  snprintf(body, sizeof body, "{\"stationId\":\"%s\",\"gateId\":\"%s\",\"collectedVnd\":%ld}", station_ids[BINH_THAI],
           gates[BINH_THAI][1], expected);
  expect_error("POST", path, body, gate_token, 403, "PERMISSION_DENIED", NULL);
  expect_error("POST", path, body, p.access, 403, "PERMISSION_DENIED", NULL);
  r = call_ok("POST", path, body, staff_token);
  assert_true(json_flag(r, "accepted"));
  assert_string_equal(json_at(r, "status"), "used");
  assert_int_equal(json_int(r, "journeysRemaining"), 0);
  assert_int_equal(json_int(r, "fareAdjustmentVnd"), expected);
  http_response_free(r);
  expect_column(id, "status", "used");
  expect_column(id, "journeys_completed", "1");
  expect_column(id, "inside", "false");
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.fare_adjustments WHERE ticket_id = $1::uuid AND status = "
                             "'settled' AND amount_vnd = 6000 AND collected_vnd = 6000 AND settled_at IS NOT NULL",
                             id),
                   1);
  assert_int_equal(
      sql_count("SELECT count(*) FROM ticket.fare_adjustments WHERE ticket_id = $1::uuid AND status = 'due'", id), 0);
  assert_int_equal(events_of(id, "ticket.used"), 2);
  expect_error("POST", path, body, staff_token, 409, "NO_ENTRY_RECORDED", NULL);
  tap_check(BINH_THAI, 0, token, "exit", "TICKET_USED");

  /* Leaving before the destination is refused too, but owes nothing. */
  buy_trip(&p, "oneway", TAN_CANG, BINH_THAI, pax_json, id);
  static_token(&p, id, token);
  assert_true(group_fare(TAN_CANG, AN_PHU, pax) < group_fare(TAN_CANG, BINH_THAI, pax));
  tap_check(TAN_CANG, 0, token, "entry", NULL);
  r = tap_at(AN_PHU, 0, token, "exit", "WRONG_EXIT_STATION");
  assert_int_equal(json_int(r, "fareAdjustmentVnd"), 0);
  http_response_free(r);
}

/* ---- abuse and rotating codes ---- */

static void test_abuse_then_rotating_codes_only_until_staff_clear_it(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], token[CODE_CAP], code[CODE_CAP], used_code[CODE_CAP], path[160];
  buy_pass(&p, id);
  static_token(&p, id, token);
  tap_check(THAO_DIEN, 0, token, "entry", NULL);
  tap_check(AN_PHU, 0, token, "exit", NULL);
  tap_check(THAO_DIEN, 0, token, "entry", NULL);
  /* The 4th tap within 60 s. */
  http_response *r = tap_at(AN_PHU, 0, token, "exit", "ABUSE_DETECTED");
  assert_string_equal(json_at(r, "status"), "abused");
  http_response_free(r);
  expect_column(id, "status", "abused");
  tap_check(AN_PHU, 1, token, "exit", "ROTATING_CODE_REQUIRED");

  /* A minute later (the taps moved back in time), a fresh rotating code passes. */
  sql_exec("WITH t AS (UPDATE ticket.taps SET created_at = created_at - interval '2 minutes' "
           "WHERE ticket_id = $1::uuid RETURNING 1), k AS (UPDATE ticket.tickets SET "
           "recent_tap_us = ARRAY(SELECT x - 120000000 FROM unnest(recent_tap_us) x), "
           "last_tap_at = last_tap_at - interval '2 minutes', last_accept_at = last_accept_at - interval '2 minutes' "
           "WHERE ticket_id = $1::uuid RETURNING 1) SELECT (SELECT count(*) FROM t) + (SELECT count(*) FROM k)",
           id);
  rotating_code(&p, id, used_code);
  r = tap_at(AN_PHU, 2, used_code, "exit", NULL);
  assert_string_equal(json_at(r, "status"), "abused");
  http_response_free(r);
  tap_check(THAO_DIEN, 1, token, "entry", "ROTATING_CODE_REQUIRED");
  rotating_code(&p, id, code);
  assert_string_not_equal(code, used_code);
  char *last = code + strlen(code) - 1;
  *last = *last == '0' ? '1' : '0';
  tap_check(THAO_DIEN, 1, code, "entry", "ROTATING_CODE_INVALID");
  tap_check(THAO_DIEN, 1, used_code, "entry", "ROTATING_CODE_REPLAYED");
  expect_column(id, "status", "abused");

  snprintf(path, sizeof path, "/v1/tickets/%s:clearAbuse", id);
  expect_error("POST", path, "{}", gate_token, 403, "PERMISSION_DENIED", NULL);
  expect_error("POST", path, "{}", p.access, 403, "PERMISSION_DENIED", NULL);
  r = call_ok("POST", path, "{}", staff_token);
  assert_string_equal(json_at(r, "status"), "active");
  http_response_free(r);
  expect_error("POST", path, "{}", staff_token, 409, "INVALID_STATUS_TRANSITION", NULL);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.taps WHERE ticket_id = $1::uuid AND counted", id), 0);
  tap_check(THAO_DIEN, 2, token, "entry", NULL);
  expect_column(id, "status", "active");
}

/* ---- keys and the offline check ---- */

/* Runs argv with stdout into out (stderr discarded); the exit status. */
static int run(char *const argv[], char *out, size_t cap) {
  char path[] = "/tmp/metro-gates-outXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, 1);
    FILE *null = fopen("/dev/null", "w");
    if (null) dup2(fileno(null), 2);
    execvp(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ssize_t n = pread(fd, out, cap - 1, 0);
  out[n > 0 ? n : 0] = '\0';
  close(fd);
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_published_keys_verify_codes_offline_and_foreign_keys_do_not(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], code[CODE_CAP], out[8192], tool[1024], keys[] = "/tmp/metro-gates-keysXXXXXX",
                                                       pem[] = "/tmp/metro-gates-pemXXXXXX";
  buy_trip(&p, "oneway", TAN_CANG, AN_PHU, NULL, id);
  rotating_code(&p, id, code);
  char kid[64];
  snprintf(kid, sizeof kid, "%.*s", (int)strcspn(code + 4, "."), code + 4);

  http_response *r = call_ok("GET", "/v1/gates/keys", NULL, NULL);
  json_t *list = json_object_get(r->json, "keys"), *k;
  size_t i;
  bool found = false;
  json_array_foreach(list, i, k) {
    if (strcmp(json_string_value(json_object_get(k, "kid")), kid) != 0) continue;
    found = true;
    assert_string_equal(json_string_value(json_object_get(k, "kty")), "OKP");
    assert_string_equal(json_string_value(json_object_get(k, "crv")), "Ed25519");
    assert_int_equal(strlen(json_string_value(json_object_get(k, "x"))), 43);
  }
  assert_true(found);
  int fd = mkstemp(keys);
  assert_true(fd >= 0);
  close(fd);
  write_file(keys, r->body);
  http_response_free(r);

  snprintf(tool, sizeof tool, "%s/svc/gate/metro-gate-verify", getenv("METRO_BUILD_DIR"));
  if (access(tool, X_OK) != 0) fprintf(stderr, "%s is missing: build the metro-gate-verify target\n", tool);
  assert_int_equal(access(tool, X_OK), 0);
  char *verify[] = {tool, "--keys", keys, code, NULL};
  assert_int_equal(run(verify, out, sizeof out), 0);
  assert_non_null(strstr(out, id));
  assert_non_null(strstr(out, "\"rotating\": true"));
  /* One character of the signed payload changed. */
  char tampered[CODE_CAP];
  snprintf(tampered, sizeof tampered, "%s", code);
  char *c = tampered + 4 + strlen(kid) + 1 + 10;
  *c = *c == 'A' ? 'B' : 'A';
  char *refuse[] = {tool, "--keys", keys, tampered, NULL};
  assert_int_equal(run(refuse, out, sizeof out), 1);
  assert_null(strstr(out, id));

  /* Another environment's key, with this kid or its own, signs a token for this very ticket:
   * the tap names no ticket of ours (400) and changes nothing. */
  fd = mkstemp(pem);
  assert_true(fd >= 0);
  close(fd);
  char *genkey[] = {"openssl", "genpkey", "-algorithm", "ed25519", "-out", pem, NULL};
  assert_int_equal(run(genkey, out, sizeof out), 0);
  char payload[512], foreign[2][CODE_CAP];
  snprintf(payload, sizeof payload, "{\"tid\":\"%s\",\"typ\":\"oneway\",\"pax\":1,\"o\":\"tan-cang\",\"d\":\"an-phu\"}",
           id);
  const char *kids[2] = {kid, "other-env"};
  long taps_before = taps_of(id);
  for (int n = 0; n < 2; n++) {
    char *sign[] = {tool, "--sign", "--key", pem, "--kid", (char *)kids[n], "--payload", payload, NULL};
    assert_int_equal(run(sign, out, sizeof out), 0);
    snprintf(foreign[n], CODE_CAP, "%.*s", (int)strcspn(out, "\r\n"), out);
    char *check[] = {tool, "--keys", keys, foreign[n], NULL};
    assert_int_equal(run(check, out, sizeof out), 1);
    r = tap_as(gate_token, gates[TAN_CANG][0], station_ids[TAN_CANG], foreign[n], "entry", unique_name("tap-"));
    if (r->status != 400) fprintf(stderr, "foreign token: %ld %s\n", r->status, r->body);
    assert_int_equal(r->status, 400);
    assert_string_equal(error_reason(r), "INVALID_TOKEN");
    assert_string_equal(error_field(r), "token");
    http_response_free(r);
  }
  assert_int_equal(taps_of(id), taps_before);
  unlink(keys);
  unlink(pem);
  /* The real code still rides. */
  tap_check(TAN_CANG, 0, code, "entry", NULL);
}

/* ---- access ---- */

static void test_who_may_tap_read_codes_and_manage_gates(void **state) {
  (void)state;
  rider owner, other;
  new_rider(&owner);
  new_rider(&other);
  char id[64], token[CODE_CAP], path[160];
  buy_trip(&owner, "oneway", TAN_CANG, AN_PHU, NULL, id);
  static_token(&owner, id, token);
  http_response *r = tap_as(owner.access, gates[TAN_CANG][0], station_ids[TAN_CANG], token, "entry", "t-1");
  assert_int_equal(r->status, 403);
  assert_string_equal(error_reason(r), "PERMISSION_DENIED");
  http_response_free(r);
  r = tap_as(NULL, gates[TAN_CANG][0], station_ids[TAN_CANG], token, "entry", "t-1");
  assert_int_equal(r->status, 401);
  http_response_free(r);
  assert_int_equal(taps_of(id), 0);
  /* Staff may tap (a handheld check). */
  r = tap_as(staff_token, gates[TAN_CANG][0], station_ids[TAN_CANG], token, "entry", unique_name("tap-"));
  assert_int_equal(r->status, 200);
  assert_true(json_flag(r, "accepted"));
  http_response_free(r);

  snprintf(path, sizeof path, "/v1/tickets/%s/code", id);
  expect_error("GET", path, NULL, other.access, 404, "TICKET_NOT_FOUND", NULL);
  expect_error("GET", path, NULL, gate_token, 403, "PERMISSION_DENIED", NULL);
  expect_error("GET", "/v1/tickets/00000000-0000-4000-8000-000000000000/code", NULL, owner.access, 404,
               "TICKET_NOT_FOUND", NULL);

  /* The registry: the admin creates, staff list, gates and riders do neither. */
  char body[256];
  snprintf(body, sizeof body, "{\"gateId\":\"%s\",\"stationId\":\"tan-cang\",\"name\":\"x\"}", unique_name("g-"));
  expect_error("POST", "/v1/gates", body, gate_token, 403, "PERMISSION_DENIED", NULL);
  expect_error("POST", "/v1/gates", body, staff_token, 403, "PERMISSION_DENIED", NULL);
  expect_error("GET", "/v1/gates", NULL, gate_token, 403, "PERMISSION_DENIED", NULL);
  expect_error("GET", "/v1/gates", NULL, owner.access, 403, "PERMISSION_DENIED", NULL);
  snprintf(path, sizeof path, "/v1/gates?stationId=%s", station_ids[TAN_CANG]);
  r = call_ok("GET", path, NULL, staff_token);
  int mine = 0;
  json_t *g;
  size_t i;
  json_array_foreach(json_object_get(r->json, "gates"), i, g) {
    assert_string_equal(json_string_value(json_object_get(g, "stationId")), station_ids[TAN_CANG]);
    for (int k = 0; k < GATES_PER_STATION; k++)
      if (strcmp(json_string_value(json_object_get(g, "gateId")), gates[TAN_CANG][k]) == 0) mine++;
  }
  assert_int_equal(mine, GATES_PER_STATION);
  http_response_free(r);
  snprintf(body, sizeof body, "{\"gateId\":\"%s\",\"stationId\":\"tan-cang\"}", gates[TAN_CANG][0]);
  expect_error("POST", "/v1/gates", body, admin_token, 409, "GATE_EXISTS", NULL);
  expect_error("POST", "/v1/gates", "{\"gateId\":\"Bad Gate\",\"stationId\":\"tan-cang\"}", admin_token, 400,
               "INVALID_GATE_ID", "gate.gateId");
  snprintf(body, sizeof body, "{\"gateId\":\"%s\",\"stationId\":\"no-such-station\"}", unique_name("g-"));
  expect_error("POST", "/v1/gates", body, admin_token, 404, "STATION_NOT_FOUND", NULL);
}

/* ---- bad input ---- */

static void test_bad_taps_are_refused_and_change_nothing(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], token[CODE_CAP], long_token[1200], long_tap[80], tampered[CODE_CAP];
  buy_trip(&p, "oneway", TAN_CANG, AN_PHU, NULL, id);
  static_token(&p, id, token);
  snprintf(tampered, sizeof tampered, "%s", token);
  char *c = tampered + strlen(tampered) - 5; /* in the signature */
  *c = *c == 'A' ? 'B' : 'A';
  memset(long_token, 'A', sizeof long_token - 1);
  long_token[sizeof long_token - 1] = '\0';
  memcpy(long_token, "MT1.", 4);
  memset(long_tap, 'x', 65);
  long_tap[65] = '\0';
  const char *tc = station_ids[TAN_CANG], *g0 = gates[TAN_CANG][0], *other_gate = gates[AN_PHU][0];
  const struct {
    const char *gate, *station, *token, *direction, *tap_id;
    long status;
    const char *reason, *field;
  } cases[] = {
      {g0, tc, "not-a-token", "entry", "b1", 400, "INVALID_TOKEN", "token"},
      {g0, tc, tampered, "entry", "b2", 400, "INVALID_TOKEN", "token"},
      {g0, tc, long_token, "entry", "b3", 400, "INVALID_TOKEN", "token"},
      {g0, tc, "", "entry", "b4", 400, "FIELD_REQUIRED", "token"},
      {g0, tc, token, "sideways", "b5", 400, "INVALID_DIRECTION", "direction"},
      {g0, tc, token, "", "b6", 400, "INVALID_DIRECTION", "direction"},
      {g0, tc, token, "ENTRY", "b7", 400, "INVALID_DIRECTION", "direction"},
      {g0, tc, token, "entry", "", 400, "INVALID_TAP_ID", "tapId"},
      {g0, tc, token, "entry", "has space", 400, "INVALID_TAP_ID", "tapId"},
      {g0, tc, token, "entry", long_tap, 400, "INVALID_TAP_ID", "tapId"},
      {"no-such-gate", tc, token, "entry", "b8", 404, "GATE_NOT_FOUND", NULL},
      {"NOT-A-GATE", tc, token, "entry", "b9", 404, "GATE_NOT_FOUND", NULL},
      {other_gate, tc, token, "entry", "b10", 400, "GATE_STATION_MISMATCH", "stationId"},
      {g0, "no-such-station", token, "entry", "b11", 404, "STATION_NOT_FOUND", NULL},
      {g0, "NO SUCH STATION", token, "entry", "b12", 404, "STATION_NOT_FOUND", NULL},
      {g0, "", token, "entry", "b13", 400, "FIELD_REQUIRED", "stationId"},
  };
  long taps = sql_count("SELECT count(*) FROM ticket.taps", NULL);
  long outbox = sql_count("SELECT count(*) FROM ticket.outbox", NULL);
  long adjustments = sql_count("SELECT count(*) FROM ticket.fare_adjustments", NULL);
  char *version = ticket_column(id, "version");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    http_response *r = tap_as(gate_token, cases[i].gate, cases[i].station, cases[i].token, cases[i].direction,
                              cases[i].tap_id);
    if (r->status != cases[i].status || strcmp(error_reason(r), cases[i].reason) != 0)
      fprintf(stderr, "case %zu: %ld %s\n", i, r->status, r->body);
    assert_int_equal(r->status, cases[i].status);
    assert_string_equal(error_reason(r), cases[i].reason);
    if (cases[i].field) assert_string_equal(error_field(r), cases[i].field);
    http_response_free(r);
  }
  /* Bodies that are not a tap at all. */
  char path[160];
  snprintf(path, sizeof path, "/v1/gates/%s/taps", g0);
  expect_error("POST", path, "{\"token\":", gate_token, 400, NULL, NULL);
  expect_error("POST", path, "{\"token\":42,\"stationId\":\"tan-cang\",\"direction\":\"entry\",\"tapId\":\"b14\"}",
               gate_token, 400, NULL, NULL);
  expect_error("POST", path, "{}", gate_token, 400, NULL, NULL);

  assert_int_equal(sql_count("SELECT count(*) FROM ticket.taps", NULL), taps);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.outbox", NULL), outbox);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.fare_adjustments", NULL), adjustments);
  expect_column(id, "version", version);
  expect_column(id, "(last_tap_at IS NULL)", "true");
  free(version);
  /* And the ticket still rides. */
  tap_check(TAN_CANG, 0, token, "entry", NULL);
}

/* ---- races ---- */

typedef struct race_tap {
  const char *gate, *station, *direction;
  char tap_id[48];
  long status;
  bool accepted, duplicate;
  char reason[48];
} race_tap;

typedef struct race_run {
  race_tap *taps;
  int n;
  const char *token;
  pthread_barrier_t start;
} race_run;

typedef struct race_worker {
  race_run *run;
  int index;
} race_worker;

typedef struct body_buf {
  char data[8192];
  size_t len;
} body_buf;

static size_t on_race_body(char *p, size_t size, size_t n, void *user) {
  body_buf *b = user;
  size_t add = size * n, room = sizeof b->data - 1 - b->len;
  memcpy(b->data + b->len, p, add < room ? add : room);
  b->len += add < room ? add : room;
  b->data[b->len] = '\0';
  return add;
}

/* One client thread: a kept-alive connection, taps index, index + RACE_THREADS, ... */
static void *race_thread(void *arg) {
  race_worker *w = arg;
  race_run *run = w->run;
  CURL *c = curl_easy_init();
  char auth[2200], url[512], body[4096];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", gate_token);
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  h = curl_slist_append(h, auth);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_race_body);
  pthread_barrier_wait(&run->start);
  for (int i = w->index; i < run->n; i += RACE_THREADS) {
    race_tap *t = &run->taps[i];
    body_buf b = {.len = 0};
    b.data[0] = '\0';
    snprintf(url, sizeof url, "%s/v1/gates/%s/taps", harness_env("METRO_HTTP"), t->gate);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"stationId\":\"%s\",\"direction\":\"%s\",\"tapId\":\"%s\"}",
             run->token, t->station, t->direction, t->tap_id);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    t->status = -1;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t->status);
    json_t *j = json_loads(b.data, 0, NULL);
    t->accepted = json_is_true(json_object_get(j, "accepted"));
    t->duplicate = json_is_true(json_object_get(j, "duplicate"));
    const char *reason = json_string_value(json_object_get(j, "reason"));
    snprintf(t->reason, sizeof t->reason, "%s", reason ? reason : "");
    if (t->status != 200) fprintf(stderr, "race tap %d: %ld %s\n", i, t->status, b.data);
    json_decref(j);
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return NULL;
}

static void race(race_tap *taps, int n, const char *token) {
  race_run run = {.taps = taps, .n = n, .token = token};
  pthread_barrier_init(&run.start, NULL, RACE_THREADS);
  pthread_t threads[RACE_THREADS];
  race_worker workers[RACE_THREADS];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < RACE_THREADS; i++) {
    workers[i] = (race_worker){.run = &run, .index = i};
    assert_int_equal(pthread_create(&threads[i], NULL, race_thread, &workers[i]), 0);
  }
  for (int i = 0; i < RACE_THREADS; i++) pthread_join(threads[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_barrier_destroy(&run.start);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  fprintf(stderr, "race: %d taps from %d threads in %.2f s\n", n, RACE_THREADS, s);
  for (int i = 0; i < n; i++) assert_int_equal(taps[i].status, 200);
}

static int count_first_accepts(const race_tap *taps, int n) {
  int won = 0;
  for (int i = 0; i < n; i++) won += taps[i].accepted && !taps[i].duplicate;
  return won;
}

/* Gate k of the tap, mixing gates within each thread. */
static int gate_of(int i) { return (i / RACE_THREADS + i) % GATES_PER_STATION; }

static void test_a_thousand_concurrent_entries_admit_one(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], token[CODE_CAP];
  buy_trip(&p, "oneway", PHUOC_LONG, THU_DUC, NULL, id);
  static_token(&p, id, token);
  race_tap *taps = calloc(RACE_TAPS, sizeof *taps);
  for (int i = 0; i < RACE_TAPS; i++) {
    taps[i].gate = gates[PHUOC_LONG][gate_of(i)];
    taps[i].station = station_ids[PHUOC_LONG];
    taps[i].direction = "entry";
    snprintf(taps[i].tap_id, sizeof taps[i].tap_id, "race1-%d", i);
  }
  race(taps, RACE_TAPS, token);
  assert_int_equal(count_first_accepts(taps, RACE_TAPS), 1);
  /* The others: repeats at the winning gate (duplicates) or second entries elsewhere. */
  const char *winner = NULL;
  for (int i = 0; i < RACE_TAPS; i++)
    if (taps[i].accepted && !taps[i].duplicate) winner = taps[i].gate;
  for (int i = 0; i < RACE_TAPS; i++) {
    if (taps[i].accepted) assert_true(taps[i].gate == winner);
    else assert_string_equal(taps[i].reason, "ANTI_PASSBACK");
  }
  assert_int_equal(taps_of(id), RACE_TAPS);
  assert_int_equal(events_of(id, "ticket.used"), 1);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.taps WHERE ticket_id = $1::uuid AND accepted AND NOT duplicate",
                             id),
                   1);
  expect_column(id, "status", "active");
  expect_column(id, "inside", "true");
  expect_column(id, "journeys_completed", "0");
  free(taps);
}

static void test_a_thousand_concurrent_exits_let_one_out(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], token[CODE_CAP];
  buy_trip(&p, "oneway", PHUOC_LONG, THU_DUC, NULL, id);
  static_token(&p, id, token);
  tap_check(PHUOC_LONG, 0, token, "entry", NULL);
  race_tap *taps = calloc(RACE_TAPS, sizeof *taps);
  for (int i = 0; i < RACE_TAPS; i++) {
    taps[i].gate = gates[THU_DUC][gate_of(i)];
    taps[i].station = station_ids[THU_DUC];
    taps[i].direction = "exit";
    snprintf(taps[i].tap_id, sizeof taps[i].tap_id, "race2-%d", i);
  }
  race(taps, RACE_TAPS, token);
  assert_int_equal(count_first_accepts(taps, RACE_TAPS), 1);
  for (int i = 0; i < RACE_TAPS; i++)
    if (!taps[i].accepted) assert_string_equal(taps[i].reason, "TICKET_USED");
  assert_int_equal(taps_of(id), RACE_TAPS + 1);
  assert_int_equal(events_of(id, "ticket.used"), 2);
  expect_column(id, "status", "used");
  expect_column(id, "journeys_completed", "1");
  expect_column(id, "inside", "false");
  free(taps);
}

/* Entries and exits at both ends of a return at once: each thread cycles through the four
 * kinds of tap, so every step of the two journeys is tried again and again; exactly two
 * journeys complete. */
static void test_a_return_under_mixed_concurrent_taps_completes_two_journeys(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], token[CODE_CAP];
  buy_trip(&p, "return", PHUOC_LONG, THU_DUC, NULL, id);
  static_token(&p, id, token);
  static const struct {
    int station;
    const char *direction;
  } kinds[4] = {{PHUOC_LONG, "entry"}, {THU_DUC, "exit"}, {THU_DUC, "entry"}, {PHUOC_LONG, "exit"}};
  race_tap *taps = calloc(RACE_TAPS, sizeof *taps);
  for (int i = 0; i < RACE_TAPS; i++) {
    int kind = (i / RACE_THREADS + i % RACE_THREADS) % 4;
    taps[i].gate = gates[kinds[kind].station][gate_of(i)];
    taps[i].station = station_ids[kinds[kind].station];
    taps[i].direction = kinds[kind].direction;
    snprintf(taps[i].tap_id, sizeof taps[i].tap_id, "race3-%d", i);
  }
  race(taps, RACE_TAPS, token);
  assert_int_equal(count_first_accepts(taps, RACE_TAPS), 4);
  assert_int_equal(taps_of(id), RACE_TAPS);
  assert_int_equal(events_of(id, "ticket.used"), 4);
  expect_column(id, "journeys_completed", "2");
  expect_column(id, "status", "used");
  expect_column(id, "inside", "false");
  free(taps);
}

int main(void) {
  harness_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_oneway_ride_duplicates_and_tap_id_replays),
      cmocka_unit_test(test_a_return_goes_there_and_back_then_is_used),
      cmocka_unit_test(test_a_pass_is_activated_by_its_first_entry_and_exits_anywhere),
      cmocka_unit_test(test_a_pass_entry_blocks_a_second_entry_for_180_minutes),
      cmocka_unit_test(test_tickets_not_active_refunded_expired_or_not_yet_valid_are_refused),
      cmocka_unit_test(test_inactive_and_closed_stations_refuse_entries_not_exits),
      cmocka_unit_test(test_a_wrong_exit_owes_the_group_fare_difference_and_staff_let_it_out),
      cmocka_unit_test(test_abuse_then_rotating_codes_only_until_staff_clear_it),
      cmocka_unit_test(test_published_keys_verify_codes_offline_and_foreign_keys_do_not),
      cmocka_unit_test(test_who_may_tap_read_codes_and_manage_gates),
      cmocka_unit_test(test_bad_taps_are_refused_and_change_nothing),
      cmocka_unit_test(test_a_thousand_concurrent_entries_admit_one),
      cmocka_unit_test(test_a_thousand_concurrent_exits_let_one_out),
      cmocka_unit_test(test_a_return_under_mixed_concurrent_taps_completes_two_journeys),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
