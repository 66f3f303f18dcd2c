/* The 10 s abuse rule (domain spec §11.3) through a real server: the test stacks run the ticket
 * service with the rule off so 1,000-tap races are decided by state, so this test starts a
 * second metro-ticket on the same database with the rule at 1.5 s and taps it over gRPC. */
#include <jansson.h>
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

#include "common/identity.h"
#include "common/rpc_client.h"
#include "harness.h"
#include "metro/ticket/v1/ticket.pb-c.h"
#include "ticketing.h"

#define INTERVAL_MS 1500

static char admin_token[2048], free_promo[64], entry_gate[64], exit_gate[64], target[64];
static int server_pid;
static station_hours hours[2]; /* Bến Thành and Thảo Điền, kept open for a run at night */

static void login_admin(void) {
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", getenv("METRO_TEST_ADMIN_EMAIL"),
           getenv("METRO_TEST_ADMIN_PASSWORD"));
  http_response *r = call_ok("POST", "/v1/auth/login", body, NULL);
  snprintf(admin_token, sizeof admin_token, "%s", json_at(r, "accessToken"));
  http_response_free(r);
}

static void new_gate(const char *station, char *gate_id) {
  char body[256];
  snprintf(gate_id, 64, "%s", unique_name("abuse-g-"));
  snprintf(body, sizeof body, "{\"gateId\":\"%s\",\"stationId\":\"%s\"}", gate_id, station);
  http_response_free(call_ok("POST", "/v1/gates", body, admin_token));
}

/* A second ticket service: same database, keys and neighbours, the 10 s rule at 1.5 s. */
static void start_server(void) {
  int port = free_port();
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  char *secret = harness_stack_secret();
  char env[16][1024];
  int n = 0;
  snprintf(env[n++], sizeof env[0], "METRO_GRPC_ADDR=%s", target);
  snprintf(env[n++], sizeof env[0], "METRO_METRICS_PORT=%d", free_port());
  snprintf(env[n++], sizeof env[0], "METRO_PG_URL=%s", harness_env("METRO_TICKET_PG_URL"));
  snprintf(env[n++], sizeof env[0], "METRO_IDENTITY_SECRET=%s", secret);
  snprintf(env[n++], sizeof env[0], "METRO_REDIS_PORT=%s", harness_env("METRO_REDIS_PORT"));
  snprintf(env[n++], sizeof env[0], "METRO_TRANSPORT_GRPC=%s", harness_env("METRO_TRANSPORT_GRPC"));
  snprintf(env[n++], sizeof env[0], "METRO_USER_GRPC=%s", harness_env("METRO_USER_GRPC"));
  snprintf(env[n++], sizeof env[0], "METRO_AUTH_GRPC=%s", harness_env("METRO_AUTH_GRPC"));
  snprintf(env[n++], sizeof env[0], "METRO_QR_KEY_FILE=%s/secrets/qr-ed25519.pem", harness_env("METRO_STACK_DIR"));
  snprintf(env[n++], sizeof env[0], "METRO_ABUSE_MIN_INTERVAL_MS=%d", INTERVAL_MS);
  snprintf(env[n++], sizeof env[0], "METRO_STATION_CACHE_MS=0");
  const char *kafka = harness_env("METRO_KAFKA_BROKERS");
  if (kafka) snprintf(env[n++], sizeof env[0], "METRO_KAFKA_BROKERS=%s", kafka);
  free(secret);
  const char *argv_env[17];
  for (int i = 0; i < n; i++) argv_env[i] = env[i];
  argv_env[n] = NULL;
  char program[1024], log[1024];
  snprintf(program, sizeof program, "%s/svc/ticket/metro-ticket", getenv("METRO_BUILD_DIR"));
  snprintf(log, sizeof log, "%s/logs/ticket-abuse-test.log", harness_env("METRO_STACK_DIR"));
  server_pid = spawn(program, argv_env, log);
  assert_true(wait_port(port, 20000));
}

static int setup(void **state) {
  (void)state;
  harness_init();
  login_admin();
  const char *code = unique_name("ABUSE");
  snprintf(free_promo, sizeof free_promo, "%.40s", code);
  for (char *s = free_promo; *s; s++) *s = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
  char body[512];
  snprintf(body, sizeof body,
           "{\"promotionCode\":\"%s\",\"name\":\"Abuse test\",\"type\":\"percentage\",\"value\":100,"
           "\"validFrom\":\"2020-01-01T00:00:00Z\",\"validUntil\":\"2099-01-01T00:00:00Z\"}",
           free_promo);
  http_response_free(call_ok("POST", "/v1/promotions", body, admin_token));
  station_keep_open("ben-thanh", admin_token, &hours[0]);
  station_keep_open("thao-dien", admin_token, &hours[1]);
  new_gate("ben-thanh", entry_gate);
  new_gate("thao-dien", exit_gate);
  start_server();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (server_pid > 0) {
    kill(server_pid, SIGTERM);
    if (wait_exit(server_pid, 15000) < 0) kill(server_pid, SIGKILL);
  }
  for (int i = 0; i < 2; i++) station_hours_restore(&hours[i], admin_token);
  rpc_client_shutdown();
  return 0;
}

/* A free single Bến Thành -> Thảo Điền for a new rider; its static token into token. */
static void free_ticket(char *token, size_t cap) {
  rider p;
  new_rider(&p);
  char body[512];
  snprintf(body, sizeof body,
           "{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"thao-dien\",\"tripType\":\"oneway\","
           "\"passengers\":{\"adult\":1},\"promotionCode\":\"%s\"}",
           free_promo);
  http_response *r = call_ok("POST", "/v1/tickets", body, p.access);
  char path[160];
  snprintf(path, sizeof path, "/v1/tickets/%s/code", json_at(r, "ticketId"));
  http_response_free(r);
  r = call_ok("GET", path, NULL, p.access);
  snprintf(token, cap, "%s", json_at(r, "code"));
  http_response_free(r);
  for (int i = 0; i < 2; i++) *strrchr(token, '.') = '\0'; /* the static token */
}

/* A tap on the second server over gRPC, as a gate account; the reason ("" when accepted). */
static void tap(const char *gate, const char *station, const char *token, const char *direction, char *reason,
                char *status) {
  arena *a = arena_create(4096);
  rpc_call_meta meta = harness_signed_meta(a, "00000000-0000-4000-8000-00000000ab5e", "gate", 60);
  Metro__Ticket__V1__TapRequest req = METRO__TICKET__V1__TAP_REQUEST__INIT;
  req.gate_id = (char *)gate;
  req.station_id = (char *)station;
  req.token = (char *)token;
  req.direction = (char *)direction;
  req.tap_id = (char *)unique_name("t-");
  ProtobufCMessage *resp;
  rpc_status st = rpc_call_unary(rpc_channel_get(target), a, "/metro.ticket.v1.TicketService/Tap", &meta, &req.base,
                                 &metro__ticket__v1__tap_result__descriptor, &resp, 10000, INT64_MAX);
  if (!rpc_ok(st)) fprintf(stderr, "Tap: %s\n", st.message);
  assert_true(rpc_ok(st));
  const Metro__Ticket__V1__TapResult *res = (const void *)resp;
  snprintf(reason, 64, "%s", res->accepted ? "" : res->reason);
  snprintf(status, 32, "%s", res->status);
  arena_destroy(a);
}

static void test_a_tap_within_the_interval_flags_the_ticket(void **state) {
  (void)state;
  char token[2048], reason[64], status[32];
  free_ticket(token, sizeof token);
  tap(entry_gate, "ben-thanh", token, "entry", reason, status);
  assert_string_equal(reason, "");
  tap(exit_gate, "thao-dien", token, "exit", reason, status); /* at once: well within 1.5 s */
  assert_string_equal(reason, "ABUSE_DETECTED");
  assert_string_equal(status, "abused");
  sleep_ms(INTERVAL_MS + 200);
  tap(exit_gate, "thao-dien", token, "exit", reason, status); /* from now on only rotating codes */
  assert_string_equal(reason, "ROTATING_CODE_REQUIRED");
}

static void test_taps_further_apart_ride_normally(void **state) {
  (void)state;
  char token[2048], reason[64], status[32];
  free_ticket(token, sizeof token);
  tap(entry_gate, "ben-thanh", token, "entry", reason, status);
  assert_string_equal(reason, "");
  sleep_ms(INTERVAL_MS + 200);
  tap(exit_gate, "thao-dien", token, "exit", reason, status);
  assert_string_equal(reason, "");
  assert_string_equal(status, "used");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_tap_within_the_interval_flags_the_ticket),
      cmocka_unit_test(test_taps_further_apart_ride_normally),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
