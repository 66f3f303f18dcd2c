/* The ticket service end to end over REST (domain spec §5-§9): public fare reads, every case
 * of fare-examples.json, purchases (pending, paid through an injected payment.completed event,
 * free), passes, cancellation and refunds, strict ownership, the promotion and Idempotency-Key
 * races, bad input that writes nothing, and the expiry/activation jobs called over gRPC. */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/events.h"
#include "common/ev_internal.h"
#include "common/identity.h"
#include "common/pg.h"
#include "common/rpc_client.h"
#include "harness.h"
#include "ticketing.h"
#include "metro/events/v1/payment_events.pb-c.h"
#include "metro/ticket/v1/ticket.pb-c.h"

#define PASSWORD TICKETING_PASSWORD
#define EVENT_WAIT_MS TICKETING_WAIT_MS
#define ONEWAY_BODY(method)                                                                                     \
  "{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ben-xe-suoi-tien\",\"tripType\":\"oneway\"," \
  "\"passengers\":{\"adult\":1},\"paymentMethod\":\"" method "\"}"

static char admin_token[2048];

/* ---- helpers ---- */

/* An active promotion of `type`/`value` with optional extra JSON members; returns its code
 * into code (and its id into id when not NULL). */
static void new_promotion(const char *type, int value, const char *extra, char *code, char *id) {
  char body[1024];
  const char *c = unique_name("P");
  snprintf(code, 64, "%.40s", c);
  for (char *s = code; *s; s++) *s = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
  snprintf(body, sizeof body,
           "{\"promotionCode\":\"%s\",\"name\":\"Test %s\",\"type\":\"%s\",\"value\":%d,"
           "\"validFrom\":\"2020-01-01T00:00:00Z\",\"validUntil\":\"2099-01-01T00:00:00Z\"%s%s}",
           code, type, type, value, extra ? "," : "", extra ? extra : "");
  http_response *r = call_ok("POST", "/v1/promotions", body, admin_token);
  if (id) snprintf(id, 64, "%s", json_at(r, "promotionId"));
  http_response_free(r);
}

static http_response *buy(const rider *p, const char *body, const char *key) {
  char header[256];
  const char *headers[] = {header, NULL};
  snprintf(header, sizeof header, "Idempotency-Key: %s", key ? key : "");
  return http_call_at(NULL, "POST", "/v1/tickets", body, p->access, key ? headers : NULL);
}

static void buy_ok(const rider *p, const char *body, char *ticket_id, const char *want_status) {
  http_response *r = buy(p, body, NULL);
  if (r->status != 200) fprintf(stderr, "POST /v1/tickets %s -> %ld: %s\n", body, r->status, r->body);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "status"), want_status);
  snprintf(ticket_id, 64, "%s", json_at(r, "ticketId"));
  http_response_free(r);
}

static http_response *get_ticket(const rider *p, const char *id) {
  char path[128];
  snprintf(path, sizeof path, "/v1/tickets/%s", id);
  return http_call("GET", path, NULL, p ? p->access : admin_token);
}

static int setup(void **state) {
  (void)state;
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", getenv("METRO_TEST_ADMIN_EMAIL"),
           getenv("METRO_TEST_ADMIN_PASSWORD"));
  http_response *r = call_ok("POST", "/v1/auth/login", body, NULL);
  snprintf(admin_token, sizeof admin_token, "%s", json_at(r, "accessToken"));
  http_response_free(r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rpc_client_shutdown();
  return 0;
}

/* ---- public fare reads ---- */

static void test_public_fares_passes_and_discounts_need_no_login(void **state) {
  (void)state;
  http_response *r = call_ok("GET", "/v1/fares", NULL, NULL);
  json_t *fares = json_object_get(r->json, "fares");
  assert_int_equal(json_array_size(fares), 7);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(fares, 0), "basePrice")), 10000);
  assert_int_equal(json_array_size(json_object_get(r->json, "tiers")), 6);
  assert_int_equal(json_int(r, "returnFactorPercent"), 150);
  http_response_free(r);

  r = call_ok("GET", "/v1/passes", NULL, NULL);
  json_t *passes = json_object_get(r->json, "passes");
  assert_int_equal(json_array_size(passes), 5);
  for (size_t i = 0; i < 5; i++) {
    json_t *p = json_array_get(passes, i);
    const char *type = json_string_value(json_object_get(p, "passType"));
    bool on_sale = json_is_true(json_object_get(p, "onSale"));
    assert_true(strcmp(type, "lifetime_pass") == 0 ? !on_sale : on_sale);
    if (strcmp(type, "monthly_pass") == 0) assert_int_equal(json_integer_value(json_object_get(p, "price")), 300000);
  }
  http_response_free(r);

  r = call_ok("GET", "/v1/passenger-discounts", NULL, NULL);
  json_t *d = json_object_get(r->json, "discounts");
  assert_int_equal(json_array_size(d), 6);
  assert_string_equal(json_string_value(json_object_get(json_array_get(d, 2), "passengerType")), "teenager");
  assert_int_equal(json_integer_value(json_object_get(json_array_get(d, 2), "value")), 15);
  http_response_free(r);
}

/* Every case of the domain's fare-examples.json: without promotion through the public quote,
 * with one through the signed-in quote against a promotion the admin creates. */
static void test_every_fare_example_through_rest(void **state) {
  (void)state;
  char path[1024];
  snprintf(path, sizeof path, "%s/test/data/fare-examples.json", getenv("METRO_SOURCE_DIR"));
  json_t *cases = json_load_file(path, 0, NULL);
  assert_non_null(cases);
  assert_int_equal(json_array_size(cases), 12);
  rider p;
  new_rider(&p);
  size_t i;
  json_t *c;
  json_array_foreach(cases, i, c) {
    json_t *pax = json_object_get(c, "passengers");
    char *pax_text = json_dumps(pax, JSON_COMPACT);
    json_t *promo = json_object_get(c, "promotion");
    char code[64] = "", body[1024];
    if (json_is_object(promo)) {
      const char *type = json_string_value(json_object_get(promo, "type"));
      new_promotion(type, (int)json_integer_value(json_object_get(promo, "value")), NULL, code, NULL);
    }
    snprintf(body, sizeof body,
             "{\"originStationId\":\"%s\",\"destinationStationId\":\"%s\",\"tripType\":\"%s\",\"passengers\":%s%s%s%s}",
             json_string_value(json_object_get(c, "origin")), json_string_value(json_object_get(c, "destination")),
             json_string_value(json_object_get(c, "tripType")), pax_text, *code ? ",\"promotionCode\":\"" : "", code,
             *code ? "\"" : "");
    http_response *r = *code ? call_ok("POST", "/v1/tickets:quote", body, p.access)
                             : call_ok("POST", "/v1/fares:quote", body, NULL);
    long want = (long)json_integer_value(json_object_get(c, "expectedTotalVnd"));
    if (json_int(r, "totalPrice") != want)
      fprintf(stderr, "case %s: %s\n", json_string_value(json_object_get(c, "case")), r->body);
    assert_int_equal(json_int(r, "totalPrice"), want);
    assert_int_equal(json_int(r, "originalPrice") - json_int(r, "passengerDiscountAmount") -
                         json_int(r, "promotionDiscountAmount"),
                     want);
    http_response_free(r);
    free(pax_text);
  }
  json_decref(cases);
}

/* ---- purchases ---- */

static void test_purchase_is_pending_until_payment_completed_then_active(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  http_response *r = buy(&p, ONEWAY_BODY("vnpay"), unique_name("key-"));
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "status"), "pending_payment");
  assert_string_equal(json_at(r, "passengerId"), p.passenger_id);
  assert_int_equal(json_int(r, "totalPrice"), 14000);
  assert_int_equal(json_int(r, "stationCount"), 14);
  assert_int_equal(json_int(r, "journeysAllowed"), 1);
  assert_string_equal(json_at(r, "paymentMethod"), "vnpay");
  assert_true(strlen(json_at(r, "paymentDeadline")) > 0);
  assert_int_equal(json_array_size(json_object_get(r->json, "segments")), 1);
  char id[64];
  snprintf(id, sizeof id, "%s", json_at(r, "ticketId"));
  http_response_free(r);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.outbox WHERE event_key = $1 AND event_type = 'ticket.created'",
                             id),
                   1);
  pay(id, 14000);
  wait_status(p.access, id, "active");
  r = get_ticket(&p, id);
  assert_true(strlen(json_at(r, "validFrom")) > 0 && strlen(json_at(r, "validUntil")) > 0);
  http_response_free(r);
  assert_int_equal(
      sql_count("SELECT count(*) FROM ticket.outbox WHERE event_key = $1 AND event_type = 'ticket.activated'", id), 1);
  /* A late duplicate of the same outcome changes nothing. */
  pay(id, 14000);
  sleep_ms(300);
  r = get_ticket(&p, id);
  assert_string_equal(json_at(r, "status"), "active");
  http_response_free(r);
}

static void test_a_full_promotion_takes_the_free_path(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char code[64], promo_id[64], body[512], id[64];
  new_promotion("percentage", 100, "\"userUsageLimit\":1", code, promo_id);
  snprintf(body, sizeof body,
           "{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"thao-dien\",\"tripType\":\"return\","
           "\"passengers\":{\"adult\":2},\"promotionCode\":\"%s\"}",
           code);
  const char *key = unique_name("free-");
  http_response *first = buy(&p, body, key);
  assert_int_equal(first->status, 200);
  assert_string_equal(json_at(first, "status"), "active");
  snprintf(id, sizeof id, "%s", json_at(first, "ticketId"));
  http_response_free(first);
  /* A retry with the key gets the first answer although the promotion is used up for this
   * passenger now; a new purchase does not. */
  http_response *again = buy(&p, body, key);
  assert_int_equal(again->status, 200);
  assert_string_equal(json_at(again, "ticketId"), id);
  http_response_free(again);
  expect_error("POST", "/v1/tickets", body, p.access, 400, "PROMOTION_EXHAUSTED", "promotionCode");
  http_response *r = get_ticket(&p, id);
  assert_string_equal(json_at(r, "paymentMethod"), "free");
  assert_int_equal(json_int(r, "totalPrice"), 0);
  assert_int_equal(json_int(r, "promotionDiscountAmount"), 36000);
  assert_int_equal(json_int(r, "journeysAllowed"), 2);
  http_response_free(r);
  char path[128];
  snprintf(path, sizeof path, "/v1/promotions/%s", promo_id);
  r = call_ok("GET", path, NULL, admin_token);
  assert_int_equal(json_int(r, "usageCount"), 1);
  assert_int_equal(json_int(r, "reservedCount"), 0);
  http_response_free(r);
}

static void test_passes_are_priced_from_the_profile(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  /* 15 years old: a teenager (15 % off the monthly pass). */
  time_t t = time(NULL) - (time_t)(15 * 365.25 * 86400);
  struct tm tm;
  gmtime_r(&t, &tm);
  char body[256], id[64];
  strftime(body, sizeof body, "{\"dateOfBirth\":\"%Y-%m-%d\"}", &tm);
  http_response_free(call_ok("PATCH", "/v1/users/me", body, p.access));
  http_response *r = buy(&p, "{\"passType\":\"monthly_pass\",\"paymentMethod\":\"sepay\"}", NULL);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "passengerType"), "teenager");
  assert_int_equal(json_int(r, "totalPrice"), 255000);
  assert_int_equal(json_int(r, "journeysAllowed"), 0);
  snprintf(id, sizeof id, "%s", json_at(r, "ticketId"));
  http_response_free(r);
  pay(id, 255000);
  wait_status(p.access, id, "inactive");
  r = get_ticket(&p, id);
  assert_true(strlen(json_at(r, "autoActivateAt")) > 0);
  assert_string_equal(json_at(r, "validFrom"), "");
  http_response_free(r);
  char path[128];
  snprintf(path, sizeof path, "/v1/tickets/%s:activate", id);
  r = call_ok("POST", path, "{}", p.access);
  assert_string_equal(json_at(r, "status"), "active");
  assert_true(strlen(json_at(r, "validUntil")) > 0);
  http_response_free(r);
  expect_error("POST", path, "{}", p.access, 409, "INVALID_STATUS_TRANSITION", NULL);
  /* The lifetime pass is not sold until priced; the request never chooses the type. */
  expect_error("POST", "/v1/tickets", "{\"passType\":\"lifetime_pass\",\"paymentMethod\":\"vnpay\"}", p.access, 409,
               "PASS_NOT_AVAILABLE", NULL);
  expect_error("POST", "/v1/tickets", "{\"passType\":\"day_pass\",\"passengers\":{\"child\":1},\"paymentMethod\":\"vnpay\"}",
               p.access, 400, "UNEXPECTED_FIELD", "passengers");
}

static void test_cancellation_and_refund_rules(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char pending[64], paid[64], refunded[64], path[160];
  buy_ok(&p, ONEWAY_BODY("paypal"), pending, "pending_payment");
  snprintf(path, sizeof path, "/v1/tickets/%s:cancel", pending);
  http_response *r = call_ok("POST", path, "{}", p.access);
  assert_string_equal(json_at(r, "status"), "cancelled");
  assert_int_equal(json_int(r, "refundAmount"), 0);
  http_response_free(r);
  expect_error("POST", path, "{}", p.access, 409, "TICKET_NOT_CANCELLABLE", NULL);

  /* A paid, untapped single: the owner gets 100 % back. */
  buy_ok(&p, ONEWAY_BODY("vnpay"), paid, "pending_payment");
  pay(paid, 14000);
  wait_status(p.access, paid, "active");
  snprintf(path, sizeof path, "/v1/tickets/%s:cancel", paid);
  r = call_ok("POST", path, "{\"reason\":\"plans changed\"}", p.access);
  assert_int_equal(json_int(r, "refundPercent"), 100);
  assert_int_equal(json_int(r, "refundAmount"), 14000);
  http_response_free(r);
  assert_int_equal(
      sql_count("SELECT count(*) FROM ticket.outbox WHERE event_key = $1 AND event_type = 'ticket.cancelled'", paid), 1);
  Metro__Events__V1__PaymentRefunded ev = METRO__EVENTS__V1__PAYMENT_REFUNDED__INIT;
  ev.payment_id = "pay-refund";
  ev.ticket_id = paid;
  ev.refund_amount = 14000;
  ev.reason = "cancellation";
  inject_payment_event("payment.refunded", &ev.base, paid);
  wait_status(p.access, paid, "refunded");

  /* The admin refunds any share; passengers cannot call :refund. */
  buy_ok(&p, ONEWAY_BODY("vnpay"), refunded, "pending_payment");
  pay(refunded, 14000);
  wait_status(p.access, refunded, "active");
  snprintf(path, sizeof path, "/v1/tickets/%s:refund", refunded);
  expect_error("POST", path, "{\"percent\":40}", p.access, 403, "PERMISSION_DENIED", NULL);
  expect_error("POST", path, "{\"percent\":101}", admin_token, 400, "INVALID_PERCENT", "percent");
  r = call_ok("POST", path, "{\"percent\":40}", admin_token);
  assert_string_equal(json_at(r, "status"), "cancelled");
  assert_int_equal(json_int(r, "refundAmount"), 5600);
  http_response_free(r);
  ev.ticket_id = refunded;
  ev.refund_amount = 5600;
  inject_payment_event("payment.refunded", &ev.base, refunded);
  wait_status(p.access, refunded, "refunded");
}

static void test_another_passengers_ticket_is_not_found_on_every_route(void **state) {
  (void)state;
  rider owner, other;
  new_rider(&owner);
  new_rider(&other);
  char id[64], path[160];
  buy_ok(&owner, ONEWAY_BODY("vnpay"), id, "pending_payment");
  static const char *const routes[][2] = {{"GET", ""}, {"POST", ":cancel"}, {"POST", ":activate"}};
  for (size_t i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "/v1/tickets/%s%s", id, routes[i][1]);
    expect_error(routes[i][0], path, strcmp(routes[i][0], "POST") == 0 ? "{}" : NULL, other.access, 404,
                 "TICKET_NOT_FOUND", NULL);
  }
  http_response *r = call_ok("GET", "/v1/tickets", NULL, other.access);
  assert_int_equal(json_array_size(json_object_get(r->json, "tickets")), 0);
  http_response_free(r);
  r = call_ok("GET", "/v1/tickets", NULL, owner.access);
  assert_int_equal(json_array_size(json_object_get(r->json, "tickets")), 1);
  http_response_free(r);
  expect_error("GET", "/v1/tickets?passengerId=00000000-0000-4000-8000-000000000000", NULL, other.access, 400,
               "FIELD_NOT_ALLOWED", "passengerId");
  /* Staff see every ticket and filter by passenger. */
  r = get_ticket(NULL, id);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/tickets?passengerId=%s&status=pending_payment", owner.passenger_id);
  r = call_ok("GET", path, NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "tickets")), 1);
  http_response_free(r);
  expect_error("GET", "/v1/tickets/not-a-uuid", NULL, owner.access, 404, "TICKET_NOT_FOUND", NULL);
}

static void test_admin_lists_tickets_with_pagination(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char id[64], path[512], token[256] = "";
  for (int i = 0; i < 5; i++) buy_ok(&p, ONEWAY_BODY("vnpay"), id, "pending_payment");
  int seen = 0;
  for (int page = 0; page < 5; page++) {
    snprintf(path, sizeof path, "/v1/tickets?passengerId=%s&pageSize=2&pageToken=%s", p.passenger_id, token);
    http_response *r = call_ok("GET", path, NULL, admin_token);
    seen += (int)json_array_size(json_object_get(r->json, "tickets"));
    snprintf(token, sizeof token, "%s", json_at(r, "nextPageToken"));
    http_response_free(r);
    if (!*token) break;
  }
  assert_int_equal(seen, 5);
  expect_error("GET", "/v1/tickets?pageToken=garbage", NULL, admin_token, 400, "INVALID_PAGE_TOKEN", "pageToken");
  expect_error("GET", "/v1/tickets?status=flying", NULL, admin_token, 400, "INVALID_STATUS", "status");
}

/* ---- races ---- */

typedef struct race_arg {
  const rider *who;
  const char *body;
  const char *key;
  long status;
  char ticket_id[64];
} race_arg;

static void *race_buy(void *p) {
  race_arg *a = p;
  http_response *r = buy(a->who, a->body, a->key);
  a->status = r->status;
  snprintf(a->ticket_id, sizeof a->ticket_id, "%s", json_at(r, "ticketId"));
  http_response_free(r);
  return NULL;
}

static void race(race_arg *args, int n) {
  pthread_t *t = calloc((size_t)n, sizeof *t);
  for (int i = 0; i < n; i++) assert_int_equal(pthread_create(&t[i], NULL, race_buy, &args[i]), 0);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  free(t);
}

/* 200 purchases at once by 20 passengers against usageLimit 10 and userUsageLimit 1. */
static void test_two_hundred_concurrent_purchases_reserve_exactly_the_limit(void **state) {
  (void)state;
  enum { RIDERS = 20, EACH = 10, N = RIDERS * EACH };
  rider *riders = calloc(RIDERS, sizeof *riders);
  for (int i = 0; i < RIDERS; i++) new_rider(&riders[i]);
  char code[64], promo_id[64], body[512];
  new_promotion("percentage", 10, "\"usageLimit\":10,\"userUsageLimit\":1", code, promo_id);
  snprintf(body, sizeof body,
           "{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
           "\"passengers\":{\"adult\":3},\"promotionCode\":\"%s\",\"paymentMethod\":\"vnpay\"}",
           code);
  race_arg *args = calloc(N, sizeof *args);
  for (int i = 0; i < N; i++) args[i] = (race_arg){.who = &riders[i % RIDERS], .body = body};
  race(args, N);
  int ok = 0, exhausted = 0;
  for (int i = 0; i < N; i++) {
    if (args[i].status == 200) ok++;
    else if (args[i].status == 400) exhausted++;
  }
  assert_int_equal(ok, 10);
  assert_int_equal(exhausted, N - 10);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.promotion_redemptions WHERE promotion_id = $1::uuid "
                             "AND status = 'reserved'",
                             promo_id),
                   10);
  assert_int_equal(sql_count("SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM ticket.promotion_redemptions "
                             "WHERE promotion_id = $1::uuid GROUP BY passenger_id) x",
                             promo_id),
                   1);
  assert_int_equal(sql_count("SELECT reserved_count FROM ticket.promotions WHERE promotion_id = $1::uuid", promo_id),
                   10);
  free(args);
  free(riders);
}

/* One passenger buying 40 times at once against userUsageLimit 2 and no global limit: the
 * per-passenger count must be taken after the promotion row is locked, never before. */
static void test_one_passengers_concurrent_purchases_respect_the_per_passenger_limit(void **state) {
  (void)state;
  enum { N = 40 };
  rider p;
  new_rider(&p);
  char code[64], promo_id[64], body[512];
  new_promotion("fixed_amount", 1000, "\"userUsageLimit\":2", code, promo_id);
  snprintf(body, sizeof body,
           "{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
           "\"passengers\":{\"adult\":1},\"promotionCode\":\"%s\",\"paymentMethod\":\"vnpay\"}",
           code);
  race_arg args[N];
  for (int i = 0; i < N; i++) args[i] = (race_arg){.who = &p, .body = body};
  race(args, N);
  int ok = 0, exhausted = 0;
  for (int i = 0; i < N; i++) {
    if (args[i].status == 200) ok++;
    else if (args[i].status == 400) exhausted++;
  }
  assert_int_equal(ok, 2);
  assert_int_equal(exhausted, N - 2);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.promotion_redemptions WHERE promotion_id = $1::uuid",
                             promo_id),
                   2);
}

static void test_fifty_identical_purchases_with_one_key_create_one_ticket(void **state) {
  (void)state;
  enum { N = 50 };
  rider p;
  new_rider(&p);
  const char *key = unique_name("same-key-");
  race_arg args[N];
  for (int i = 0; i < N; i++) args[i] = (race_arg){.who = &p, .body = ONEWAY_BODY("vnpay"), .key = key};
  race(args, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(args[i].status, 200);
    assert_string_equal(args[i].ticket_id, args[0].ticket_id);
  }
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.tickets WHERE user_id = $1::uuid", p.user_id), 1);
  /* Same key, another body: refused. A key that is no token is refused at the gateway. */
  http_response *r = buy(&p, ONEWAY_BODY("paypal"), key);
  assert_int_equal(r->status, 409);
  assert_string_equal(error_reason(r), "IDEMPOTENCY_KEY_REUSED");
  http_response_free(r);
  r = buy(&p, ONEWAY_BODY("vnpay"), "has space");
  assert_int_equal(r->status, 400);
  assert_string_equal(error_reason(r), "INVALID_IDEMPOTENCY_KEY");
  http_response_free(r);
}

/* ---- bad input ---- */

static void test_each_bad_field_is_named_and_nothing_is_written(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  static const struct {
    const char *body;
    long status;
    const char *reason, *field;
  } cases[] = {
      {"{\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\",\"passengers\":{\"adult\":1},\"paymentMethod\":\"vnpay\"}",
       400, "FIELD_REQUIRED", "originStationId"},
      {"{\"originStationId\":\"ben-thanh\",\"tripType\":\"oneway\",\"passengers\":{\"adult\":1},\"paymentMethod\":\"vnpay\"}",
       400, "FIELD_REQUIRED", "destinationStationId"},
      {"{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
       "\"passengers\":{\"adult\":1}}",
       400, "FIELD_REQUIRED", "paymentMethod"},
      {"{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
       "\"passengers\":{\"adult\":1},\"paymentMethod\":\"cash\"}",
       400, "INVALID_PAYMENT_METHOD", "paymentMethod"},
      {"{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"roundtrip\","
       "\"passengers\":{\"adult\":1},\"paymentMethod\":\"vnpay\"}",
       400, "INVALID_TRIP_TYPE", "tripType"},
      {"{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
       "\"passengers\":{\"adult\":21},\"paymentMethod\":\"vnpay\"}",
       400, "INVALID_PASSENGER_COUNT", "passengers"},
      {"{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
       "\"passengers\":{\"adult\":0},\"paymentMethod\":\"vnpay\"}",
       400, "INVALID_PASSENGER_COUNT", "passengers"},
      {"{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
       "\"passengers\":{\"adult\":2,\"child\":-1},\"paymentMethod\":\"vnpay\"}",
       400, "INVALID_PASSENGER_COUNT", "passengers"},
      {"{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ben-thanh\",\"tripType\":\"oneway\","
       "\"passengers\":{\"adult\":1},\"paymentMethod\":\"vnpay\"}",
       400, "SAME_STATION", "destinationStationId"},
      {"{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
       "\"passengers\":{\"adult\":1},\"paymentMethod\":\"vnpay\",\"promotionCode\":\"NOSUCHCODE\"}",
       400, "PROMOTION_NOT_FOUND", "promotionCode"},
      {"{\"passType\":\"century_pass\",\"paymentMethod\":\"vnpay\"}", 400, "INVALID_PASS_TYPE", "passType"},
      {"{\"passType\":\"day_pass\",\"tripType\":\"oneway\",\"paymentMethod\":\"vnpay\"}", 400, "UNEXPECTED_FIELD",
       "tripType"},
      {"{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
       "\"passengers\":{\"adult\":\"one\"},\"paymentMethod\":\"vnpay\"}",
       400, NULL, NULL},
      {"{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"nowhere-station\",\"tripType\":\"oneway\","
       "\"passengers\":{\"adult\":1},\"paymentMethod\":\"vnpay\"}",
       404, "STATION_NOT_FOUND", NULL},
      {"{\"originStationId\":\"BEN THANH\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
       "\"passengers\":{\"adult\":1},\"paymentMethod\":\"vnpay\"}",
       404, "STATION_NOT_FOUND", NULL},
  };
  long tickets = sql_count("SELECT count(*) FROM ticket.tickets", NULL);
  long outbox = sql_count("SELECT count(*) FROM ticket.outbox", NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_error("POST", "/v1/tickets", cases[i].body, p.access, cases[i].status, cases[i].reason, cases[i].field);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.tickets", NULL), tickets);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.outbox", NULL), outbox);
  /* No token, and a staff-only account without the passenger role. */
  expect_error("POST", "/v1/tickets", ONEWAY_BODY("vnpay"), NULL, 401, "UNAUTHENTICATED", NULL);
}

static void test_an_unverified_email_cannot_buy(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  free(sql_value("UPDATE auth.users SET is_verified = false WHERE user_id = $1::uuid RETURNING 1", p.user_id));
  expect_error("POST", "/v1/tickets", ONEWAY_BODY("vnpay"), p.access, 403, "EMAIL_NOT_VERIFIED", NULL);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.tickets WHERE user_id = $1::uuid", p.user_id), 0);
}

static void test_a_closed_station_cannot_be_sold(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  const char *station = "van-thanh"; /* on Line 1 only */
  char path[160];
  snprintf(path, sizeof path, "/v1/stations/%s?updateMask=isActive", station);
  http_response_free(call_ok("PATCH", path, "{\"isActive\":false}", admin_token));
  expect_error("POST", "/v1/tickets",
               "{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"van-thanh\",\"tripType\":"
               "\"oneway\",\"passengers\":{\"adult\":1},\"paymentMethod\":\"vnpay\"}",
               p.access, 409, "STATION_INACTIVE", NULL);
  http_response_free(call_ok("PATCH", path, "{\"isActive\":true}", admin_token));
}

/* ---- catalog administration ---- */

static void test_admin_catalog_writes_reach_the_public_reads(void **state) {
  (void)state;
  const char *l2 = "tuyen-metro-so-2-bx-an-suong-moi-cat-lai";
  char path[160];
  snprintf(path, sizeof path, "/v1/fares/%s", l2);
  expect_error("PATCH", path, "{\"basePrice\":12345}", admin_token, 400, "INVALID_PRICE", "basePrice");
  expect_error("PATCH", "/v1/fares/no-such-line", "{\"basePrice\":12000}", admin_token, 404, NULL, NULL);
  http_response_free(call_ok("PATCH", path, "{\"basePrice\":12000}", admin_token));
  /* The public quote follows through catalog.changed: 22 stations x1.8 of 12,000. */
  const char *quote = "{\"originStationId\":\"bx-an-suong-moi\",\"destinationStationId\":\"cat-lai\",\"tripType\":"
                      "\"oneway\",\"passengers\":{\"adult\":1}}";
  long total = 0;
  for (int waited = 0; waited <= EVENT_WAIT_MS; waited += 100) {
    http_response *r = call_ok("POST", "/v1/fares:quote", quote, NULL);
    total = json_int(r, "totalPrice");
    http_response_free(r);
    if (total == 21600 || total == 22000) break;
    sleep_ms(100);
  }
  assert_int_equal(total, 22000);
  http_response_free(call_ok("PATCH", path, "{\"basePrice\":10000}", admin_token));
  expect_error("POST", "/v1/promotions", "{\"name\":\"x\",\"type\":\"percentage\",\"value\":150,"
               "\"validFrom\":\"2020-01-01T00:00:00Z\",\"validUntil\":\"2099-01-01T00:00:00Z\"}",
               admin_token, 400, NULL, "value");
  expect_error("GET", "/v1/promotions/not-an-id", NULL, admin_token, 404, "PROMOTION_NOT_FOUND", NULL);
}

/* ---- jobs ---- */

/* A day pass about to end is told once (ticket.expiring_soon), however often the job runs; a
 * promotion past its window is switched off by its job. */
static void test_jobs_notify_expiring_passes_once_and_end_promotions(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char pass[64], code[64], promo_id[64];
  buy_ok(&p, "{\"passType\":\"day_pass\",\"paymentMethod\":\"vnpay\"}", pass, "pending_payment");
  pay(pass, 20000);
  wait_status(p.access, pass, "inactive");
  free(sql_value("UPDATE ticket.tickets SET status = 'active', valid_from = now(), "
                 "valid_until = now() + interval '20 hours' WHERE ticket_id = $1::uuid RETURNING 1",
                 pass));
  assert_true(run_ticket_job("NotifyExpiringSoon") >= 1);
  run_ticket_job("NotifyExpiringSoon");
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.outbox WHERE event_type = 'ticket.expiring_soon' "
                             "AND event_key = $1",
                             pass),
                   1);

  new_promotion("percentage", 10, NULL, code, promo_id);
  free(sql_value("UPDATE ticket.promotions SET valid_from = now() - interval '2 days', "
                 "valid_until = now() - interval '1 second' WHERE promotion_id = $1::uuid RETURNING 1",
                 promo_id));
  assert_true(run_ticket_job("ExpirePromotions") >= 1);
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.promotions WHERE promotion_id = $1::uuid AND NOT is_active",
                             promo_id),
                   1);
}

static void test_jobs_expire_unpaid_activate_passes_and_end_validity(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char code[64], promo_id[64], body[512], unpaid[64], pass[64], single[64];
  new_promotion("percentage", 10, NULL, code, promo_id);
  snprintf(body, sizeof body,
           "{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
           "\"passengers\":{\"adult\":1},\"promotionCode\":\"%s\",\"paymentMethod\":\"vnpay\"}",
           code);
  buy_ok(&p, body, unpaid, "pending_payment");
  free(sql_value("UPDATE ticket.tickets SET payment_deadline = now() - interval '1 minute' WHERE ticket_id = $1::uuid "
                 "RETURNING 1",
                 unpaid));
  assert_true(run_ticket_job("ExpireUnpaid") >= 1);
  http_response *r = get_ticket(&p, unpaid);
  assert_string_equal(json_at(r, "status"), "expired");
  http_response_free(r);
  char *st = sql_value("SELECT status FROM ticket.promotion_redemptions WHERE ticket_id = $1::uuid", unpaid);
  assert_string_equal(st, "released");
  free(st);

  buy_ok(&p, "{\"passType\":\"day_pass\",\"paymentMethod\":\"vnpay\"}", pass, "pending_payment");
  pay(pass, 20000);
  wait_status(p.access, pass, "inactive");
  free(sql_value("UPDATE ticket.tickets SET auto_activate_at = now() - interval '1 hour' WHERE ticket_id = $1::uuid "
                 "RETURNING 1",
                 pass));
  assert_true(run_ticket_job("AutoActivatePasses") >= 1);
  wait_status(p.access, pass, "active");
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.tickets WHERE ticket_id = $1::uuid AND valid_from = "
                             "auto_activate_at AND valid_until = auto_activate_at + interval '1 day'",
                             pass),
                   1);

  buy_ok(&p, ONEWAY_BODY("vnpay"), single, "pending_payment");
  pay(single, 14000);
  wait_status(p.access, single, "active");
  free(sql_value("UPDATE ticket.tickets SET valid_until = now() - interval '1 second' WHERE ticket_id = $1::uuid "
                 "RETURNING 1",
                 single));
  assert_true(run_ticket_job("ExpireEnded") >= 1);
  wait_status(p.access, single, "expired");
  /* Nothing is due any more for these tickets: a second run does not touch them. */
  run_ticket_job("ExpireUnpaid");
  run_ticket_job("ExpireEnded");
  assert_int_equal(sql_count("SELECT count(*) FROM ticket.outbox WHERE event_key = $1 AND event_type = 'ticket.expired'",
                             single),
                   1);
}

int main(void) {
  harness_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_public_fares_passes_and_discounts_need_no_login),
      cmocka_unit_test(test_every_fare_example_through_rest),
      cmocka_unit_test(test_purchase_is_pending_until_payment_completed_then_active),
      cmocka_unit_test(test_a_full_promotion_takes_the_free_path),
      cmocka_unit_test(test_passes_are_priced_from_the_profile),
      cmocka_unit_test(test_cancellation_and_refund_rules),
      cmocka_unit_test(test_another_passengers_ticket_is_not_found_on_every_route),
      cmocka_unit_test(test_admin_lists_tickets_with_pagination),
      cmocka_unit_test(test_two_hundred_concurrent_purchases_reserve_exactly_the_limit),
      cmocka_unit_test(test_one_passengers_concurrent_purchases_respect_the_per_passenger_limit),
      cmocka_unit_test(test_fifty_identical_purchases_with_one_key_create_one_ticket),
      cmocka_unit_test(test_each_bad_field_is_named_and_nothing_is_written),
      cmocka_unit_test(test_an_unverified_email_cannot_buy),
      cmocka_unit_test(test_a_closed_station_cannot_be_sold),
      cmocka_unit_test(test_admin_catalog_writes_reach_the_public_reads),
      cmocka_unit_test(test_jobs_expire_unpaid_activate_passes_and_end_validity),
      cmocka_unit_test(test_jobs_notify_expiring_passes_once_and_end_promotions),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
