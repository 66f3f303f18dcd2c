/* Helpers the ticket and gate integration tests share (see ticketing.h): REST calls with
 * expectations, SQL counts, riders, injected payment events and status polling. */
#include "ticketing.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/ev_internal.h"
#include "common/events.h"
#include "common/pg.h"
#include "common/rpc_client.h"
#include "metro/events/v1/payment_events.pb-c.h"
#include "metro/ticket/v1/ticket.pb-c.h"

void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

long sql_count(const char *query, const char *param) {
  char *v = sql_value(query, param);
  assert_non_null(v);
  long n = atol(v);
  free(v);
  return n;
}

void sql_exec(const char *query, const char *param) { free(sql_value(query, param)); }

long json_int(const http_response *r, const char *key) {
  return (long)json_integer_value(json_object_get(r->json, key));
}

http_response *call_ok(const char *method, const char *path, const char *body, const char *bearer) {
  http_response *r = http_call(method, path, body, bearer);
  if (r->status != 200) fprintf(stderr, "%s %s -> %ld: %s\n", method, path, r->status, r->body);
  assert_int_equal(r->status, 200);
  return r;
}

void expect_error(const char *method, const char *path, const char *body, const char *bearer, long status,
                  const char *reason, const char *field) {
  http_response *r = http_call(method, path, body, bearer);
  if (r->status != status || (reason && strcmp(error_reason(r), reason) != 0) ||
      (field && strcmp(error_field(r), field) != 0))
    fprintf(stderr, "%s %s %.300s -> %ld: %s\n", method, path, body ? body : "", r->status, r->body);
  assert_int_equal(r->status, status);
  if (reason) assert_string_equal(error_reason(r), reason);
  if (field) assert_string_equal(error_field(r), field);
  http_response_free(r);
}

void new_rider(rider *p) {
  const char *name = unique_name("rider");
  char body[512];
  snprintf(body, sizeof body,
           "{\"email\":\"%s@metro.test\",\"username\":\"%s\",\"password\":\"%s\",\"firstName\":\"Lan\","
           "\"lastName\":\"Nguyen\"}",
           name, name, TICKETING_PASSWORD);
  http_response *r = call_ok("POST", "/v1/auth/register", body, NULL);
  snprintf(p->access, sizeof p->access, "%s", json_at(r, "accessToken"));
  snprintf(p->user_id, sizeof p->user_id, "%s", json_at(r, "user.userId"));
  http_response_free(r);
  sql_exec("UPDATE auth.users SET is_verified = true WHERE user_id = $1::uuid RETURNING 1", p->user_id);
  for (int waited = 0;; waited += 50) {
    r = http_call("GET", "/v1/users/me", NULL, p->access);
    if (r->status == 200) break;
    assert_true(waited < TICKETING_WAIT_MS);
    http_response_free(r);
    sleep_ms(50);
  }
  snprintf(p->passenger_id, sizeof p->passenger_id, "%s", json_at(r, "passenger.passengerId"));
  http_response_free(r);
}

int run_ticket_job(const char *method) {
  arena *a = arena_create(4096);
  rpc_call_meta meta = harness_signed_meta(a, "00000000-0000-4000-8000-000000000001", "admin", 60);
  Metro__Ticket__V1__RunJobRequest req = METRO__TICKET__V1__RUN_JOB_REQUEST__INIT;
  ProtobufCMessage *resp;
  rpc_status st = rpc_call_unary(rpc_channel_get(harness_env("METRO_TICKET_GRPC")), a,
                                 arena_printf(a, "/metro.ticket.v1.TicketService/%s", method), &meta, &req.base,
                                 &metro__ticket__v1__run_job_response__descriptor, &resp, 10000, INT64_MAX);
  if (!rpc_ok(st)) fprintf(stderr, "%s: %s\n", method, st.message);
  assert_true(rpc_ok(st));
  int n = ((Metro__Ticket__V1__RunJobResponse *)resp)->processed;
  arena_destroy(a);
  return n;
}

void inject_payment_event(const char *type, const ProtobufCMessage *data, const char *ticket_id) {
  static bool configured;
  if (!configured) {
    pg_configure(harness_env("METRO_TICKET_PG_URL"), "ticket");
    assert_true(ev_names_configure("payment", NULL));
    configured = true;
  }
  arena *a = arena_create(4096);
  assert_true(rpc_ok(pg_begin(a)));
  assert_true(rpc_ok(ev_publish(a, type, ticket_id, data, NULL)));
  assert_true(rpc_ok(pg_commit(a)));
  arena_destroy(a);
}

void pay(const char *ticket_id, int amount) {
  Metro__Events__V1__PaymentOutcome ev = METRO__EVENTS__V1__PAYMENT_OUTCOME__INIT;
  ev.payment_id = (char *)unique_name("pay-");
  ev.ticket_id = (char *)ticket_id;
  ev.amount = amount;
  ev.method = "vnpay";
  inject_payment_event("payment.completed", &ev.base, ticket_id);
}

void wait_status(const char *bearer, const char *id, const char *status) {
  char path[128], last[64] = "";
  snprintf(path, sizeof path, "/v1/tickets/%s", id);
  for (int waited = 0; waited <= TICKETING_WAIT_MS; waited += 50) {
    http_response *r = call_ok("GET", path, NULL, bearer);
    snprintf(last, sizeof last, "%s", json_at(r, "status"));
    http_response_free(r);
    if (strcmp(last, status) == 0) return;
    sleep_ms(50);
  }
  fprintf(stderr, "ticket %s stayed %s, expected %s\n", id, last, status);
  fail();
}

/* ---- station hours ---- */

#define LOCAL_UTC_OFFSET_S (7 * 3600)

int local_minute_now(void) {
  long t = (long)time(NULL) + LOCAL_UTC_OFFSET_S;
  return (int)((t % 86400) / 60);
}

static int minutes_of(const char *hhmm) { return atoi(hhmm) * 60 + atoi(hhmm + 3); }

void station_keep_open(const char *station_id, const char *admin_token, station_hours *saved) {
  char path[160];
  memset(saved, 0, sizeof *saved);
  snprintf(saved->station_id, sizeof saved->station_id, "%s", station_id);
  snprintf(path, sizeof path, "/v1/stations/%s", station_id);
  http_response *r = call_ok("GET", path, NULL, admin_token);
  snprintf(saved->open, sizeof saved->open, "%s", json_at(r, "openTime"));
  snprintf(saved->close, sizeof saved->close, "%s", json_at(r, "closeTime"));
  http_response_free(r);
  int now = local_minute_now();
  if (now >= minutes_of(saved->open) && now + 5 < minutes_of(saved->close)) return;
  snprintf(path, sizeof path, "/v1/stations/%s?updateMask=openTime,closeTime", station_id);
  http_response_free(call_ok("PATCH", path, "{\"openTime\":\"00:00\",\"closeTime\":\"23:59\"}", admin_token));
  saved->widened = true;
}

void station_hours_restore(const station_hours *saved, const char *admin_token) {
  if (!saved->widened) return;
  char path[160], body[128];
  snprintf(path, sizeof path, "/v1/stations/%s?updateMask=openTime,closeTime", saved->station_id);
  snprintf(body, sizeof body, "{\"openTime\":\"%s\",\"closeTime\":\"%s\"}", saved->open, saved->close);
  http_response_free(http_call("PATCH", path, body, admin_token));
}

