/* Reports end to end on a stack of their own (so no other test's activity is counted): a known day of
 * activity through REST, every metric exact, redelivery, downloads, schedules emailed once by two replicas. */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "metro/report/v1/report.pb-c.h"
#include "notifications.h"
#include "payments.h"
#include "ticketing.h"

#define WAIT_MS 30000
#define LINE1 "tuyen-metro-so-1-ben-thanh-suoi-tien"

static char admin_token[2048], gate_token[2048], staff_token[2048], free_promo[64];
static char run_tag[32]; /* this run's gates are g-<station>-<tag> (a stack may see several runs) */

/* ---- small helpers ---- */

static void login_as(const char *login, const char *password, char *token) {
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", login, password);
  http_response *r = call_ok("POST", "/v1/auth/login", body, NULL);
  snprintf(token, 2048, "%s", json_at(r, "accessToken"));
  http_response_free(r);
}

/* An account with one role created by the admin, then logged in (one registration, one login). */
static void staff_account(const char *role, char *token) {
  const char *name = unique_name(role);
  char body[512];
  snprintf(body, sizeof body,
           "{\"email\":\"%s@metro.test\",\"username\":\"%s\",\"password\":\"%s\",\"firstName\":\"Report\","
           "\"lastName\":\"Test\",\"roles\":[\"%s\"]}",
           name, name, TICKETING_PASSWORD, role);
  http_response_free(call_ok("POST", "/v1/auth/users", body, admin_token));
  login_as(name, TICKETING_PASSWORD, token);
}

static void open_all_day_with_a_gate(const char *station) {
  char path[160], body[256];
  snprintf(path, sizeof path, "/v1/stations/%s?updateMask=openTime,closeTime", station);
  http_response_free(call_ok("PATCH", path, "{\"openTime\":\"00:00\",\"closeTime\":\"23:59\"}", admin_token));
  snprintf(body, sizeof body, "{\"gateId\":\"g-%s-%s\",\"stationId\":\"%s\",\"name\":\"Report gate\"}", station,
           run_tag, station);
  http_response_free(call_ok("POST", "/v1/gates", body, admin_token));
}

/* The ticket's static token: its rotating code without the last two dot parts. */
static void static_token(const rider *p, const char *ticket_id, char *token, size_t cap) {
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s/code", ticket_id);
  http_response *r = call_ok("GET", path, NULL, p->access);
  snprintf(token, cap, "%s", json_at(r, "code"));
  http_response_free(r);
  for (int i = 0; i < 2; i++) *strrchr(token, '.') = '\0';
}

/* A tap at the station's gate; the answer (the caller frees it) must be a decision. */
static http_response *tap(const char *station, const char *token, const char *direction) {
  char path[160], body[2048];
  snprintf(path, sizeof path, "/v1/gates/g-%s-%s/taps", station, run_tag);
  snprintf(body, sizeof body, "{\"token\":\"%s\",\"stationId\":\"%s\",\"direction\":\"%s\",\"tapId\":\"%s\"}", token,
           station, direction, unique_name("tap-"));
  http_response *r = call_ok("POST", path, body, gate_token);
  return r;
}

static bool accepted(const http_response *r) { return json_is_true(json_object_get(r->json, "accepted")); }

/* Every event the report service consumes that its producers' outboxes hold has been applied. */
static void wait_report_caught_up(void) {
  for (int waited = 0;; waited += 100) {
    long produced = sql_count(
        "SELECT (SELECT count(*) FROM auth.outbox WHERE event_type IN ('user.created', 'user.login')) + "
        "(SELECT count(*) FROM ticket.outbox WHERE event_type IN ('ticket.created', 'ticket.activated', "
        "'ticket.cancelled', 'ticket.expired', 'ticket.used')) + "
        "(SELECT count(*) FROM payment.outbox WHERE event_type IN ('payment.completed', 'payment.refunded'))",
        NULL);
    long applied = sql_count("SELECT count(*) FROM report.processed_events", NULL);
    if (produced == applied) return;
    if (waited > WAIT_MS) fail_msg("report applied %ld of %ld events", applied, produced);
    sleep_ms(100);
  }
}

/* The figures of the test's day: a custom report from yesterday to tomorrow (local), so a run
 * across midnight still holds all of it. Returns the completed report (the caller frees it). */
static http_response *report_around_today(void) {
  time_t now = time(NULL) + 7 * 3600;
  char from[16], to[16];
  time_t y = now - 86400, t = now + 86400;
  strftime(from, sizeof from, "%Y-%m-%d", gmtime(&y));
  strftime(to, sizeof to, "%Y-%m-%d", gmtime(&t));
  char body[256];
  snprintf(body, sizeof body, "{\"startDate\":\"%s\",\"endDate\":\"%s\"}", from, to);
  http_response *r = call_ok("POST", "/v1/reports", body, admin_token);
  assert_string_equal(json_at(r, "status"), "pending");
  char path[160];
  snprintf(path, sizeof path, "/v1/reports/%s", json_at(r, "reportId"));
  http_response_free(r);
  return wait_field(path, admin_token, "status", "completed", WAIT_MS);
}

/* The value of one report item (0 when the report has none). */
static long long item(const http_response *r, const char *section, const char *metric, const char *dimension) {
  json_t *items = json_object_get(r->json, "items"), *it;
  size_t i;
  json_array_foreach(items, i, it) {
    if (strcmp(jstr(it, "section"), section) == 0 && strcmp(jstr(it, "metric"), metric) == 0 &&
        strcmp(jstr(it, "dimension"), dimension) == 0)
      return atoll(jstr(it, "value"));
  }
  return 0;
}

/* ---- the day's activity, and what it must show ---- */

typedef struct day {
  purchase paid, refunded, pass;    /* VNPay single, VNPay single cancelled, Sepay day pass */
  char free_ticket[64];             /* a 100 % promotion single: active at once */
  long adjustment;                  /* the wrong exit's fare adjustment */
} day;

static day today;
static http_response *before, *after;

static void pay_vnpay(const rider *p, purchase *b) {
  buy_with(p, "vnpay", b);
  char ret[4096];
  assert_int_equal(browse(b->link, ret, sizeof ret), 302);
  http_response_free(wait_payment_status(admin_token, b->payment_id, "COMPLETED"));
  wait_ticket_status(p, b->ticket_id, "active");
}

static void pay_sepay_pass(const rider *p, purchase *b) {
  http_response *r = call_ok("POST", "/v1/tickets", "{\"passType\":\"day_pass\",\"paymentMethod\":\"sepay\"}", p->access);
  assert_string_equal(json_at(r, "status"), "pending_payment");
  memset(b, 0, sizeof *b);
  snprintf(b->ticket_id, sizeof b->ticket_id, "%s", json_at(r, "ticketId"));
  b->amount = json_int(r, "totalPrice");
  http_response_free(r);
  wait_payment_link(p, "sepay", b, PAYMENTS_WAIT_MS);
  char body[512];
  snprintf(body, sizeof body, "{\"content\":\"Payment for ticket %s\",\"transferAmount\":%ld}", b->ticket_id, b->amount);
  http_response_free(provider_ok("sepay", "POST", "/transfer", body));
  http_response_free(wait_payment_status(admin_token, b->payment_id, "COMPLETED"));
  wait_ticket_status(p, b->ticket_id, "inactive");
}

/* Three riders: a paid ride ben-thanh -> ba-son, a paid ticket cancelled and refunded, a paid day pass,
 * and a free ticket whose holder leaves two stations too far and is let out by staff. */
static void drive_the_day(void) {
  rider a, b, c;
  new_rider(&a);
  new_rider(&b);
  new_rider(&c);
  /* Each rider logs in once with the password. */
  const rider *riders[] = {&a, &b, &c};
  for (int i = 0; i < 3; i++) {
    char *email = sql_value("SELECT email FROM auth.users WHERE user_id = $1::uuid", riders[i]->user_id), token[2048];
    assert_non_null(email);
    login_as(email, TICKETING_PASSWORD, token);
    free(email);
  }

  pay_vnpay(&a, &today.paid);
  pay_vnpay(&b, &today.refunded);
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s:cancel", today.refunded.ticket_id);
  http_response *r = call_ok("POST", path, "{}", b.access);
  assert_int_equal(json_int(r, "refundAmount"), today.refunded.amount);
  http_response_free(r);
  http_response_free(wait_payment_status(admin_token, today.refunded.payment_id, "REFUNDED"));
  pay_sepay_pass(&c, &today.pass);

  /* The paid ride. */
  char token[1200];
  static_token(&a, today.paid.ticket_id, token, sizeof token);
  r = tap("ben-thanh", token, "entry");
  assert_true(accepted(r));
  http_response_free(r);
  r = tap("ba-son", token, "exit");
  assert_true(accepted(r));
  http_response_free(r);

  /* The free ticket tan-cang -> an-phu, left at binh-thai: refused with the amount due, then the
   * staff's assisted exit completes the journey with the fare adjustment. */
  char body[512];
  snprintf(body, sizeof body,
           "{\"originStationId\":\"tan-cang\",\"destinationStationId\":\"an-phu\",\"tripType\":\"oneway\","
           "\"passengers\":{\"adult\":1},\"promotionCode\":\"%s\"}",
           free_promo);
  r = call_ok("POST", "/v1/tickets", body, a.access);
  assert_string_equal(json_at(r, "status"), "active");
  snprintf(today.free_ticket, sizeof today.free_ticket, "%s", json_at(r, "ticketId"));
  http_response_free(r);
  static_token(&a, today.free_ticket, token, sizeof token);
  r = tap("tan-cang", token, "entry");
  assert_true(accepted(r));
  http_response_free(r);
  r = tap("binh-thai", token, "exit");
  assert_false(accepted(r));
  assert_string_equal(json_at(r, "reason"), "WRONG_EXIT_STATION");
  today.adjustment = json_int(r, "fareAdjustmentVnd");
  assert_true(today.adjustment > 0);
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/tickets/%s:assistedExit", today.free_ticket);
  snprintf(body, sizeof body, "{\"stationId\":\"binh-thai\",\"gateId\":\"g-binh-thai-%s\",\"collectedVnd\":%ld}",
           run_tag, today.adjustment);
  r = call_ok("POST", path, body, staff_token);
  assert_true(accepted(r));
  http_response_free(r);
}

/* ---- setup: a fresh stack of the report test's own ---- */

static int setup(void **state) {
  (void)state;
  login_as(getenv("METRO_TEST_ADMIN_EMAIL"), getenv("METRO_TEST_ADMIN_PASSWORD"), admin_token);
  snprintf(run_tag, sizeof run_tag, "%s", unique_name("r"));
  const char *stations[] = {"ben-thanh", "ba-son", "tan-cang", "binh-thai"};
  for (size_t i = 0; i < sizeof stations / sizeof stations[0]; i++) open_all_day_with_a_gate(stations[i]);
  snprintf(free_promo, sizeof free_promo, "%s", unique_name("REPORTFREE"));
  for (char *c = free_promo; *c; c++) *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
  char body[512];
  snprintf(body, sizeof body,
           "{\"promotionCode\":\"%s\",\"name\":\"Report tests\",\"type\":\"percentage\",\"value\":100,"
           "\"validFrom\":\"2020-01-01T00:00:00Z\",\"validUntil\":\"2099-01-01T00:00:00Z\"}",
           free_promo);
  http_response_free(call_ok("POST", "/v1/promotions", body, admin_token));
  wait_report_caught_up();
  before = report_around_today();
  staff_account("gate", gate_token);
  staff_account("staff", staff_token);
  drive_the_day();
  wait_report_caught_up();
  after = report_around_today();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  http_response_free(before);
  http_response_free(after);
  return 0;
}

static long long delta(const char *section, const char *metric, const char *dimension) {
  return item(after, section, metric, dimension) - item(before, section, metric, dimension);
}

/* ---- the figures ---- */

static void test_every_metric_of_the_day_is_exact(void **state) {
  (void)state;
  long paid = today.paid.amount, refunded = today.refunded.amount, pass = today.pass.amount;
  /* Accounts: three riders registered, a gate and a staff account created; five password logins. */
  assert_int_equal(delta("totals", "registrations", ""), 5);
  assert_int_equal(delta("totals", "logins", ""), 5);
  /* Tickets: three singles (two paid, one free) and a day pass; the pass is not activated until
   * its first entry; one cancelled. */
  assert_int_equal(delta("totals", "tickets_created", ""), 4);
  assert_int_equal(delta("totals", "tickets_activated", ""), 3);
  assert_int_equal(delta("totals", "tickets_cancelled", ""), 1);
  assert_int_equal(delta("totals", "tickets_used", ""), 2);
  assert_int_equal(delta("totals", "taps", ""), 4);
  /* Money: both singles and the pass paid, the cancelled single refunded in full. */
  assert_int_equal(delta("totals", "payments_vnd", ""), paid + refunded + pass);
  assert_int_equal(delta("totals", "refunds_vnd", ""), refunded);
  assert_int_equal(delta("totals", "revenue_vnd", ""), paid + pass);
  assert_int_equal(delta("revenue_by_ticket_type", "revenue_vnd", "oneway"), paid);
  assert_int_equal(delta("revenue_by_ticket_type", "revenue_vnd", "day_pass"), pass);
  assert_int_equal(delta("revenue_by_payment_method", "revenue_vnd", "vnpay"), paid);
  assert_int_equal(delta("revenue_by_payment_method", "revenue_vnd", "sepay"), pass);
  assert_int_equal(delta("revenue_by_payment_method", "payments", "vnpay"), 2);
  /* By line: the singles ran on Line 1 only (the refunded one nets to nothing), the pass apart. */
  assert_int_equal(delta("revenue_by_line", "revenue_vnd", LINE1), paid);
  assert_int_equal(delta("revenue_by_line", "revenue_vnd", "passes"), pass);
  /* Stations and lines: one tap at each of four stations; two journeys on Line 1. */
  const char *stations[] = {"ben-thanh", "ba-son", "tan-cang", "binh-thai"};
  for (int i = 0; i < 4; i++) assert_int_equal(delta("top_stations", "taps", stations[i]), 1);
  assert_int_equal(delta("top_lines", "journeys", LINE1), 2);
  /* The wrong exit: one adjustment at binh-thai. */
  assert_int_equal(delta("fare_adjustments", "count", "binh-thai"), 1);
  assert_int_equal(delta("fare_adjustments", "amount_vnd", "binh-thai"), today.adjustment);
  assert_int_equal(delta("totals", "fare_adjustments_vnd", ""), today.adjustment);
}

/* GET /v1/reports/analytics for today agrees with the report (when the day did not change
 * meanwhile), and names stations in UTF-8. */
static void test_todays_analytics_agree_and_flag_the_day_partial(void **state) {
  (void)state;
  http_response *r = call_ok("GET", "/v1/reports/analytics?period=daily", NULL, admin_token);
  assert_true(json_is_true(json_object_get(r->json, "partial")));
  assert_string_equal(json_at(r, "granularity"), "hour");
  assert_int_equal(json_array_size(json_object_get(r->json, "series")), 24);
  json_t *totals = json_object_get(r->json, "totals");
  long long revenue = atoll(json_string_value(json_object_get(totals, "revenueVnd")));
  long long taps = atoll(json_string_value(json_object_get(totals, "taps")));
  /* The whole stack's day: at least the test's own figures. */
  assert_true(revenue >= today.paid.amount + today.pass.amount);
  assert_true(taps >= 4);
  long long series_taps = 0;
  json_t *pt;
  size_t i;
  json_array_foreach(json_object_get(r->json, "series"), i, pt) series_taps += atoll(jstr(pt, "taps"));
  assert_int_equal(series_taps, taps);
  bool named = false;
  json_array_foreach(json_object_get(r->json, "topStations"), i, pt) named |=
      strcmp(jstr(pt, "key"), "ben-thanh") == 0 && strcmp(jstr(pt, "name"), "Bến Thành") == 0;
  assert_true(named);
  http_response_free(r);
  r = call_ok("GET", "/v1/reports/analytics?period=weekly", NULL, admin_token);
  assert_string_equal(json_at(r, "granularity"), "day");
  assert_int_equal(json_array_size(json_object_get(r->json, "series")), 7);
  http_response_free(r);
  r = call_ok("GET", "/v1/reports/analytics?period=monthly&date=2024-02-10", NULL, admin_token);
  assert_string_equal(json_at(r, "startDate"), "2024-02-01");
  assert_string_equal(json_at(r, "endDate"), "2024-02-29");
  assert_false(json_is_true(json_object_get(r->json, "partial")));
  assert_int_equal(json_array_size(json_object_get(r->json, "series")), 29);
  http_response_free(r);
}

/* Every event delivered again (the report group's offsets reset, the service restarted) changes
 * no figure. */
static void test_redelivering_every_event_changes_nothing(void **state) {
  (void)state;
  const char *dir = harness_env("METRO_STACK_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/pids/report.pid", dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  int pid = 0;
  assert_int_equal(fscanf(f, "%d", &pid), 1);
  fclose(f);
  kill(pid, SIGTERM);
  for (int waited = 0; kill(pid, 0) == 0; waited += 50) {
    assert_true(waited < WAIT_MS);
    sleep_ms(50);
  }
  long topics = sql_count("SELECT count(*) FROM events.group_offsets WHERE group_id = 'report'", NULL);
  assert_true(topics >= 3);
  sql_exec("UPDATE events.group_offsets SET committed_offset = 0 WHERE group_id = $1 RETURNING 1", "report");
  /* The stack's own start script: it records the new pid, so the stack stops it. */
  char script[1024], log[1024];
  snprintf(script, sizeof script, "%s/run/report.sh", dir);
  snprintf(log, sizeof log, "%s/logs/report-restart.log", dir);
  spawn(script, NULL, log);
  /* Back behind the gateway (its channel reconnects with back-off). */
  for (int waited = 0;; waited += 100) {
    http_response *r = http_call("GET", "/v1/report-templates", NULL, admin_token);
    long status = r->status;
    http_response_free(r);
    if (status == 200) break;
    if (waited > WAIT_MS) fail_msg("the restarted report service never answered through the gateway");
    sleep_ms(100);
  }
  for (int waited = 0;; waited += 100) {
    long behind = sql_count("SELECT count(*) FROM (SELECT topic, max(\"offset\") AS m FROM events.log "
                            "WHERE topic IN ('metro.user', 'metro.ticket', 'metro.payment') GROUP BY topic) l "
                            "LEFT JOIN events.group_offsets g ON g.group_id = $1 AND g.topic = l.topic "
                            "WHERE coalesce(g.committed_offset, 0) < l.m",
                            "report");
    if (behind == 0) break;
    if (waited > WAIT_MS) fail_msg("the report consumer did not catch up again");
    sleep_ms(100);
  }
  http_response *again = report_around_today();
  json_t *a = json_object_get(after->json, "items"), *b = json_object_get(again->json, "items");
  assert_int_equal(json_array_size(a), json_array_size(b));
  for (size_t i = 0; i < json_array_size(a); i++) {
    json_t *x = json_array_get(a, i), *y = json_array_get(b, i);
    if (strcmp(jstr(x, "section"), "series") == 0) continue; /* the custom range's days are equal anyway */
    assert_string_equal(jstr(x, "metric"), jstr(y, "metric"));
    assert_string_equal(jstr(x, "dimension"), jstr(y, "dimension"));
    assert_string_equal(jstr(x, "value"), jstr(y, "value"));
  }
  http_response_free(again);
}

/* ---- downloads ---- */

/* The SVG parses as XML with the SVG root and holds no script (Python's XML parser, in the test). */
static void expect_svg_document(const char *svg) {
  char path[] = "/tmp/metro-report-chart-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, svg, strlen(svg)), (ssize_t)strlen(svg));
  close(fd);
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
           "assert r.tag == \"{http://www.w3.org/2000/svg}svg\", r.tag; "
           "assert not [e for e in r.iter() if e.tag.endswith(\"script\") or any(a.startswith(\"on\") for a in e.attrib)]; "
           "assert [e for e in r.iter() if e.tag.endswith(\"text\")]' %s",
           path);
  int rc = system(cmd);
  unlink(path);
  assert_int_equal(rc, 0);
}

static void test_a_report_downloads_as_csv_and_svg_files(void **state) {
  (void)state;
  const char *id = json_at(after, "reportId");
  char path[256];
  snprintf(path, sizeof path, "/v1/reports/%s.csv", id);
  http_response *r = http_call("GET", path, NULL, admin_token);
  assert_int_equal(r->status, 200);
  assert_non_null(strstr(r->content_type, "text/csv"));
  assert_null(r->json);
  assert_true(strncmp(r->body, "section,metric,dimension,dimension_name,value\r\n", 47) == 0);
  char line[256];
  snprintf(line, sizeof line, "\r\ntotals,revenue_vnd,,,%lld\r\n", item(after, "totals", "revenue_vnd", ""));
  assert_non_null(strstr(r->body, line));
  assert_non_null(strstr(r->body, "top_stations,taps,ben-thanh,Bến Thành,"));
  /* A line's name holds a comma-free dash; the CSV quotes only what needs it. */
  assert_non_null(strstr(r->body, "revenue_by_line,revenue_vnd," LINE1 ",Tuyến Metro số 1 Bến Thành - Suối Tiên,"));
  http_response_free(r);
  static const char *const charts[] = {"revenue-by-day", "taps-by-station", "journeys-by-line", "activity"};
  for (size_t i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "/v1/reports/%s/charts/%s.svg", id, charts[i]);
    r = http_call("GET", path, NULL, admin_token);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, "image/svg+xml");
    expect_svg_document(r->body);
    http_response_free(r);
  }
  snprintf(path, sizeof path, "/v1/reports/%s/charts/pie.svg", id);
  expect_error("GET", path, NULL, admin_token, 404, "CHART_NOT_FOUND", NULL);
  expect_error("GET", "/v1/reports/00000000-0000-4000-8000-000000000000.csv", NULL, admin_token, 404,
               "REPORT_NOT_FOUND", NULL);
  /* A report that failed has no files (the worker leaves failed ones alone). */
  char *failed = sql_value("INSERT INTO report.reports (type, first_day, last_day, status, requested_by, error) "
                           "VALUES ('custom', $1::date, $1::date, 'failed', 'test', 'x') RETURNING report_id",
                           "2026-01-01");
  snprintf(path, sizeof path, "/v1/reports/%s.csv", failed);
  expect_error("GET", path, NULL, admin_token, 409, "REPORT_NOT_READY", NULL);
  free(failed);
}

/* ---- revenue netting across local days ---- */

/* A Breakdown's amount (amountVnd) for key in the analytics' list, 0 when absent. */
static long long amount_of(const http_response *r, const char *list, const char *key) {
  json_t *it;
  size_t i;
  json_array_foreach(json_object_get(r->json, list), i, it) {
    if (strcmp(jstr(it, "key"), key) == 0) return atoll(jstr(it, "amountVnd"));
  }
  return 0;
}

static long long total_of(const http_response *r, const char *field) {
  return atoll(json_string_value(json_object_get(json_object_get(r->json, "totals"), field)));
}

/* A payment at 23:30 local on 10 January and a partial refund at 00:10 local on the 11th (both
 * still 10 January in UTC): each counts on its own local day, the week nets them, and the line
 * split follows the segment prices with shares that add up exactly. The facts are written
 * straight into the read model (a January no other activity touches) and the revenue rollup is
 * rebuilt from all facts, which must also leave every figure the consumer computed as it was. */
static void test_a_refund_on_another_local_day_nets_in_the_week_not_the_day(void **state) {
  (void)state;
  /* A run before on the same stack left them: start afresh. */
  http_response *consumer_made = report_around_today();
  free(sql_value("WITH m AS (DELETE FROM report.money WHERE ticket_id = $1) DELETE FROM report.tickets WHERE "
                 "ticket_id = $1 RETURNING 1",
                 "netting-ticket"));
  sql_exec("INSERT INTO report.tickets (ticket_id, ticket_type, payment_method, amount, created_at) "
           "VALUES ($1, 'oneway', 'vnpay', 20000, '2026-01-10T16:00:00Z') RETURNING 1",
           "netting-ticket");
  sql_exec("INSERT INTO report.ticket_lines (ticket_id, seq, route_id, segment_price) VALUES "
           "($1, 0, 'netting-line-a', 12000), ($1, 1, 'netting-line-b', 8000) RETURNING 1",
           "netting-ticket");
  sql_exec("INSERT INTO report.money (event_id, kind, at, ticket_id, payment_id, method, amount) VALUES "
           "(gen_random_uuid(), 'payment', '2026-01-10T16:30:00Z', $1, 'netting-payment', 'vnpay', 20000), "
           "(gen_random_uuid(), 'refund', '2026-01-10T17:10:00Z', $1, 'netting-payment', '', -14000) RETURNING 1",
           "netting-ticket");
  sql_exec("SELECT 1 FROM report.rebuild_revenue()", NULL);
  http_response *rebuilt = report_around_today();
  json_t *a = json_object_get(consumer_made->json, "items"), *b = json_object_get(rebuilt->json, "items");
  assert_int_equal(json_array_size(a), json_array_size(b));
  for (size_t i = 0; i < json_array_size(a); i++) {
    json_t *x = json_array_get(a, i), *y = json_array_get(b, i);
    assert_string_equal(jstr(x, "metric"), jstr(y, "metric"));
    assert_string_equal(jstr(x, "dimension"), jstr(y, "dimension"));
    assert_string_equal(jstr(x, "value"), jstr(y, "value"));
  }
  http_response_free(consumer_made);
  http_response_free(rebuilt);
  http_response *d10 = call_ok("GET", "/v1/reports/analytics?period=daily&date=2026-01-10", NULL, admin_token);
  http_response *d11 = call_ok("GET", "/v1/reports/analytics?period=daily&date=2026-01-11", NULL, admin_token);
  http_response *week = call_ok("GET", "/v1/reports/analytics?period=weekly&date=2026-01-10", NULL, admin_token);
  assert_int_equal(total_of(d10, "paymentsVnd"), 20000);
  assert_int_equal(total_of(d10, "refundsVnd"), 0);
  assert_int_equal(total_of(d10, "revenueVnd"), 20000);
  assert_int_equal(amount_of(d10, "revenueByLine", "netting-line-a"), 12000);
  assert_int_equal(amount_of(d10, "revenueByLine", "netting-line-b"), 8000);
  assert_int_equal(total_of(d11, "paymentsVnd"), 0);
  assert_int_equal(total_of(d11, "refundsVnd"), 14000);
  assert_int_equal(total_of(d11, "revenueVnd"), -14000);
  assert_int_equal(amount_of(d11, "revenueByPaymentMethod", "vnpay"), -14000); /* the payment's method */
  assert_int_equal(amount_of(d11, "revenueByTicketType", "oneway"), -14000);
  assert_int_equal(amount_of(d11, "revenueByLine", "netting-line-a"), -8400);
  assert_int_equal(amount_of(d11, "revenueByLine", "netting-line-b"), -5600);
  assert_string_equal(json_at(week, "startDate"), "2026-01-05");
  assert_string_equal(json_at(week, "endDate"), "2026-01-11");
  assert_int_equal(total_of(week, "revenueVnd"), 6000);
  assert_int_equal(amount_of(week, "revenueByDay", "2026-01-10"), 20000);
  assert_int_equal(amount_of(week, "revenueByDay", "2026-01-11"), -14000);
  assert_int_equal(amount_of(week, "revenueByLine", "netting-line-a"), 3600);
  assert_int_equal(amount_of(week, "revenueByLine", "netting-line-b"), 2400);
  /* The daily series carries the refund in the hour it happened: 00:00-01:00 local. */
  json_t *first = json_array_get(json_object_get(d11->json, "series"), 0);
  assert_string_equal(jstr(first, "label"), "2026-01-11 00:00");
  assert_string_equal(jstr(first, "revenueVnd"), "-14000");
  http_response_free(d10);
  http_response_free(d11);
  http_response_free(week);
}

/* ---- templates and schedules ---- */

static void test_templates_are_managed_and_validated(void **state) {
  (void)state;
  http_response *r = call_ok("POST", "/v1/report-templates",
                             "{\"templateId\":\"ops-daily\",\"displayName\":\"Vận hành hằng ngày\","
                             "\"sections\":[\"totals\",\"top_stations\",\"revenue_by_line\"],\"chart\":\"taps-by-station\"}",
                             admin_token);
  assert_string_equal(json_at(r, "displayName"), "Vận hành hằng ngày");
  http_response_free(r);
  expect_error("POST", "/v1/report-templates", "{\"templateId\":\"ops-daily\",\"displayName\":\"x\"}", admin_token, 409,
               "TEMPLATE_EXISTS", NULL);
  expect_error("POST", "/v1/report-templates", "{\"templateId\":\"x2\",\"displayName\":\"x\",\"sections\":[\"pie\"]}",
               admin_token, 400, "INVALID_TEMPLATE_ID", "template.templateId");
  expect_error("POST", "/v1/report-templates", "{\"templateId\":\"bad-one\",\"displayName\":\"x\",\"sections\":[\"pie\"]}",
               admin_token, 400, "UNKNOWN_SECTION", "template.sections");
  expect_error("POST", "/v1/report-templates", "{\"templateId\":\"bad-two\",\"displayName\":\"x\",\"chart\":\"pie\"}",
               admin_token, 400, "UNKNOWN_CHART", "template.chart");
  r = call_ok("PATCH", "/v1/report-templates/ops-daily?updateMask=displayName", "{\"displayName\":\"Ops daily\"}",
              admin_token);
  assert_string_equal(json_at(r, "displayName"), "Ops daily");
  assert_string_equal(json_at(r, "chart"), "taps-by-station");
  http_response_free(r);
  r = call_ok("GET", "/v1/report-templates?pageSize=1", NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "templates")), 1);
  char path[512];
  snprintf(path, sizeof path, "/v1/report-templates?pageSize=1&pageToken=%s", json_at(r, "nextPageToken"));
  http_response_free(r);
  r = call_ok("GET", path, NULL, admin_token);
  assert_string_equal(jstr(json_array_get(json_object_get(r->json, "templates"), 0), "templateId"), "ops-daily");
  http_response_free(r);
}

typedef struct run_call {
  const char *target;
  int run, claimed;
} run_call;

static void *run_due(void *p) {
  run_call *c = p;
  arena *a = arena_create(8192);
  rpc_call_meta meta = harness_signed_meta(a, "00000000-0000-4000-8000-000000000001", "admin", 60);
  Metro__Report__V1__RunDueSchedulesRequest req = METRO__REPORT__V1__RUN_DUE_SCHEDULES_REQUEST__INIT;
  ProtobufCMessage *resp;
  rpc_status st = rpc_call_unary(rpc_channel_get(c->target), a, "/metro.report.v1.ReportService/RunDueSchedules",
                                 &meta, &req.base, &metro__report__v1__run_due_schedules_response__descriptor, &resp,
                                 60000, INT64_MAX);
  c->run = c->claimed = -1;
  if (rpc_ok(st)) {
    c->run = ((Metro__Report__V1__RunDueSchedulesResponse *)resp)->schedules_run;
    c->claimed = ((Metro__Report__V1__RunDueSchedulesResponse *)resp)->already_claimed;
  } else {
    fprintf(stderr, "RunDueSchedules at %s: %s\n", c->target, st.message);
  }
  arena_destroy(a);
  return NULL;
}

/* A second report process on the same database, as another replica would be. */
static int start_second_replica(char *target, size_t cap) {
  int port = free_port();
  char *secret = harness_stack_secret();
  char env[6][1024];
  snprintf(env[0], sizeof env[0], "METRO_GRPC_ADDR=127.0.0.1:%d", port);
  snprintf(env[1], sizeof env[1], "METRO_METRICS_PORT=%d", free_port());
  snprintf(env[2], sizeof env[2], "METRO_PG_URL=%s", harness_env("METRO_REPORT_PG_URL"));
  snprintf(env[3], sizeof env[3], "METRO_IDENTITY_SECRET=%s", secret);
  snprintf(env[4], sizeof env[4], "METRO_REDIS_PORT=%s", harness_env("METRO_REDIS_PORT"));
  snprintf(env[5], sizeof env[5], "METRO_TRANSPORT_GRPC=%s", harness_env("METRO_TRANSPORT_GRPC"));
  free(secret);
  const char *argv_env[] = {env[0], env[1], env[2], env[3], env[4], env[5], NULL};
  char program[1024], log[1024];
  snprintf(program, sizeof program, "%s/svc/report/metro-report", getenv("METRO_BUILD_DIR"));
  snprintf(log, sizeof log, "%s/logs/report-second.log", harness_env("METRO_STACK_DIR"));
  int pid = spawn(program, argv_env, log);
  assert_true(wait_port(port, 20000));
  snprintf(target, cap, "127.0.0.1:%d", port);
  return pid;
}

/* Both replicas asked twice at once: the sum of what they ran. */
static int run_everywhere(const char *second, int *claimed) {
  run_call calls[4] = {{harness_env("METRO_REPORT_GRPC"), 0, 0}, {second, 0, 0}, {harness_env("METRO_REPORT_GRPC"), 0, 0},
                       {second, 0, 0}};
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, run_due, &calls[i]);
  int run = 0;
  *claimed = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_true(calls[i].run >= 0);
    run += calls[i].run;
    *claimed += calls[i].claimed;
  }
  return run;
}

static void test_a_due_schedule_emails_one_report_even_with_two_replicas(void **state) {
  (void)state;
  const char *to[2] = {unique_name("ops-a"), unique_name("ops-b")};
  char body[1024];
  snprintf(body, sizeof body,
           "{\"templateId\":\"ops-daily\",\"frequency\":\"daily\",\"runAt\":\"06:30\",\"recipients\":[\"%s@metro.test\","
           "\"%s@metro.test\"]}",
           to[0], to[1]);
  http_response *r = call_ok("POST", "/v1/report-schedules", body, admin_token);
  char id[64];
  snprintf(id, sizeof id, "%s", json_at(r, "scheduleId"));
  assert_false(json_is_true(json_object_get(r->json, "paused")));
  assert_true(strlen(json_at(r, "nextRunTime")) > 0);
  http_response_free(r);
  expect_error("DELETE", "/v1/report-templates/ops-daily", NULL, admin_token, 409, "TEMPLATE_IN_USE", NULL);

  /* Due now. */
  sql_exec("UPDATE report.schedules SET next_run_at = now() - interval '1 minute' WHERE schedule_id = $1::uuid "
           "RETURNING 1",
           id);
  char second[64];
  int pid = start_second_replica(second, sizeof second);
  int claimed;
  assert_int_equal(run_everywhere(second, &claimed), 1);
  assert_int_equal(sql_count("SELECT count(*) FROM report.reports WHERE schedule_id = $1::uuid", id), 1);
  assert_int_equal(sql_count("SELECT count(*) FROM report.outbox WHERE event_type = 'report.delivery_requested' AND "
                             "event_key = $1",
                             id),
                   1);
  r = call_ok("GET", "/v1/report-schedules", NULL, admin_token);
  http_response_free(r);
  char path[256];
  snprintf(path, sizeof path, "/v1/report-schedules/%s", id);
  r = call_ok("GET", path, NULL, admin_token);
  char report_id[64];
  snprintf(report_id, sizeof report_id, "%s", json_at(r, "lastReportId"));
  assert_true(strlen(report_id) == 36);
  http_response_free(r);

  /* The same period due again (next_run_at put back): claimed before, so nothing is sent. */
  sql_exec("UPDATE report.schedules SET next_run_at = now() - interval '1 minute' WHERE schedule_id = $1::uuid "
           "RETURNING 1",
           id);
  assert_int_equal(run_everywhere(second, &claimed), 0);
  assert_true(claimed >= 1);
  kill(pid, SIGTERM);
  assert_true(wait_exit(pid, 20000) >= 0);

  /* One email to each recipient: the CSV attached, the chart inline. */
  for (int i = 0; i < 2; i++) {
    char address[128];
    snprintf(address, sizeof address, "%s@metro.test", to[i]);
    json_t *mails = mail_wait(address, NULL, 1, MAIL_WAIT_MS);
    const char *mid = jstr(json_array_get(mails, 0), "ID");
    json_t *m = mail_message(mid);
    json_t *attachments = json_object_get(m, "Attachments"), *inl = json_object_get(m, "Inline");
    assert_int_equal(json_array_size(attachments), 1);
    assert_non_null(strstr(jstr(json_array_get(attachments, 0), "ContentType"), "text/csv"));
    assert_non_null(strstr(jstr(json_array_get(attachments, 0), "FileName"), ".csv"));
    assert_int_equal(json_array_size(inl), 1);
    assert_string_equal(jstr(json_array_get(inl, 0), "ContentType"), "image/svg+xml");
    size_t len;
    uint8_t *csv = mail_part(mid, jstr(json_array_get(attachments, 0), "PartID"), &len);
    assert_true(strncmp((const char *)csv, "section,metric,dimension,dimension_name,value\r\ntotals,", 53) == 0);
    assert_null(strstr((const char *)csv, "\r\nseries,")); /* ops-daily has no series section */
    free(csv);
    uint8_t *svg = mail_part(mid, jstr(json_array_get(inl, 0), "PartID"), &len);
    expect_svg_document((const char *)svg);
    free(svg);
    json_decref(m);
    json_decref(mails);
  }
  sleep_ms(2000); /* room for a second email, were there one */
  for (int i = 0; i < 2; i++) {
    char address[128];
    snprintf(address, sizeof address, "%s@metro.test", to[i]);
    assert_int_equal(mail_count(address, NULL), 1);
  }
  /* The delivered report is an ordinary completed report. */
  snprintf(path, sizeof path, "/v1/reports/%s", report_id);
  r = call_ok("GET", path, NULL, admin_token);
  assert_string_equal(json_at(r, "status"), "completed");
  assert_string_equal(json_at(r, "type"), "daily");
  assert_string_equal(json_at(r, "scheduleId"), id);
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/report-schedules/%s", id);
  http_response_free(call_ok("DELETE", path, NULL, admin_token));
  http_response_free(call_ok("DELETE", "/v1/report-templates/ops-daily", NULL, admin_token));
}

/* ---- bad input ---- */

static void test_bad_input_gets_clear_errors(void **state) {
  (void)state;
  expect_error("GET", "/v1/reports/analytics?period=yearly", NULL, admin_token, 400, "INVALID_PERIOD", "period");
  expect_error("GET", "/v1/reports/analytics?period=daily&date=2026-02-30", NULL, admin_token, 400, "INVALID_DATE",
               "date");
  expect_error("POST", "/v1/reports", "{\"startDate\":\"2026-03-10\",\"endDate\":\"2026-03-01\"}", admin_token, 400,
               "INVALID_RANGE", "endDate");
  expect_error("POST", "/v1/reports", "{\"startDate\":\"2016-01-01\",\"endDate\":\"2025-12-31\"}", admin_token, 400,
               "RANGE_TOO_LONG", "endDate");
  expect_error("POST", "/v1/reports", "{\"startDate\":\"yesterday\",\"endDate\":\"2025-12-31\"}", admin_token, 400,
               "INVALID_DATE", "startDate");
  expect_error("GET", "/v1/reports?status=done", NULL, admin_token, 400, "INVALID_STATUS", "status");
  expect_error("GET", "/v1/reports?pageToken=bm9wZQ", NULL, admin_token, 400, "INVALID_PAGE_TOKEN", "pageToken");
  /* Pages: newest first, each report once. */
  http_response *r = call_ok("GET", "/v1/reports?pageSize=1&type=custom", NULL, admin_token);
  char first[64], path[512];
  snprintf(first, sizeof first, "%s", jstr(json_array_get(json_object_get(r->json, "reports"), 0), "reportId"));
  snprintf(path, sizeof path, "/v1/reports?pageSize=1&type=custom&pageToken=%s", json_at(r, "nextPageToken"));
  assert_true(strlen(json_at(r, "nextPageToken")) > 0);
  http_response_free(r);
  r = call_ok("GET", path, NULL, admin_token);
  assert_string_not_equal(jstr(json_array_get(json_object_get(r->json, "reports"), 0), "reportId"), first);
  http_response_free(r);
  expect_error("GET", "/v1/reports/not-a-uuid", NULL, admin_token, 404, "REPORT_NOT_FOUND", NULL);
  const char *bad[][3] = {
      {"{\"templateId\":\"standard\",\"frequency\":\"hourly\",\"runAt\":\"06:00\",\"recipients\":[\"a@metro.test\"]}",
       "INVALID_FREQUENCY", "schedule.frequency"},
      {"{\"templateId\":\"standard\",\"frequency\":\"daily\",\"runAt\":\"24:00\",\"recipients\":[\"a@metro.test\"]}",
       "INVALID_RUN_AT", "schedule.runAt"},
      {"{\"templateId\":\"standard\",\"frequency\":\"daily\",\"runAt\":\"06:00\",\"recipients\":[]}",
       "INVALID_RECIPIENTS", "schedule.recipients"},
      {"{\"templateId\":\"standard\",\"frequency\":\"daily\",\"runAt\":\"06:00\",\"recipients\":[\"a@b\\r\\nBcc: x@y\"]}",
       "INVALID_RECIPIENT", "schedule.recipients"},
      {"{\"templateId\":\"nope\",\"frequency\":\"daily\",\"runAt\":\"06:00\",\"recipients\":[\"a@metro.test\"]}",
       "UNKNOWN_TEMPLATE", "schedule.templateId"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_error("POST", "/v1/report-schedules", bad[i][0], admin_token, 400, bad[i][1], bad[i][2]);
  /* Reports are the admins' alone. */
  rider p;
  new_rider(&p);
  snprintf(path, sizeof path, "/v1/reports/%s.csv", json_at(after, "reportId"));
  const char *const admin_only[] = {"/v1/reports/analytics?period=daily", "/v1/reports", "/v1/report-templates",
                                    "/v1/report-schedules", path};
  for (size_t i = 0; i < sizeof admin_only / sizeof admin_only[0]; i++)
    expect_error("GET", admin_only[i], NULL, p.access, 403, "PERMISSION_DENIED", NULL);
  expect_error("POST", "/v1/reports", "{\"startDate\":\"2026-03-01\",\"endDate\":\"2026-03-02\"}", p.access, 403,
               "PERMISSION_DENIED", NULL);
}

int main(void) {
  harness_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_metric_of_the_day_is_exact),
      cmocka_unit_test(test_todays_analytics_agree_and_flag_the_day_partial),
      cmocka_unit_test(test_a_report_downloads_as_csv_and_svg_files),
      cmocka_unit_test(test_redelivering_every_event_changes_nothing),
      cmocka_unit_test(test_a_refund_on_another_local_day_nets_in_the_week_not_the_day),
      cmocka_unit_test(test_templates_are_managed_and_validated),
      cmocka_unit_test(test_a_due_schedule_emails_one_report_even_with_two_replicas),
      cmocka_unit_test(test_bad_input_gets_clear_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
