/* The gRPC server runtime over the wire: identity checks, unknown methods and malformed
 * messages, deadlines, rich errors, health, graceful drain and the worker pool. */
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

#include <cmocka.h>

#include "common/arena.h"
#include "common/identity.h"
#include "common/rpc_client.h"
#include "grpc/health/v1/health.pb-c.h"
#include "harness.h"
#include "metro/testing/v1/testing.pb-c.h"

#define ECHO "/metro.testing.v1.EchoService/Echo"
#define WHOAMI "/metro.testing.v1.EchoService/WhoAmI"
#define ADMIN_ONLY "/metro.testing.v1.EchoService/AdminOnly"
#define SLEEP "/metro.testing.v1.EchoService/Sleep"
#define FAIL "/metro.testing.v1.EchoService/Fail"
#define HEALTH_CHECK "/grpc.health.v1.Health/Check"
#define OWN_SERVER_SECRET "a-test-only-identity-secret-of-40-characters"

/* ---- helpers ---- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}


/* Metadata carrying an identity for user with one role, signed with secret, valid for ttl_s. */
static rpc_call_meta signed_as(arena *a, const char *secret, const char *user, const char *role, int64_t ttl_s) {
  const char *roles[] = {role};
  rpc_call_meta meta = {0};
  assert_true(identity_sign(a, secret, user, roles, 1, (int64_t)time(NULL) + ttl_s, &meta.identity_raw,
                            &meta.identity_sig));
  return meta;
}

/* Calls an EchoService method taking an EchoRequest; *out gets the response on success. */
static rpc_status call_echo(arena *a, const char *target, const char *method, const rpc_call_meta *meta,
                            const char *name, Metro__Testing__V1__EchoResponse **out) {
  Metro__Testing__V1__EchoRequest req = METRO__TESTING__V1__ECHO_REQUEST__INIT;
  req.name = (char *)name;
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(target), a, method, meta, &req.base,
                                 &metro__testing__v1__echo_response__descriptor, &resp, 5000, INT64_MAX);
  if (out) *out = rpc_ok(st) ? (Metro__Testing__V1__EchoResponse *)resp : NULL;
  return st;
}

static rpc_status call_sleep(arena *a, const char *target, int millis, int timeout_ms) {
  Metro__Testing__V1__SleepRequest req = METRO__TESTING__V1__SLEEP_REQUEST__INIT;
  req.millis = millis;
  ProtobufCMessage *resp = NULL;
  return rpc_call_unary(rpc_channel_get(target), a, SLEEP, NULL, &req.base, &google__protobuf__empty__descriptor, &resp,
                        timeout_ms, INT64_MAX);
}

static const char *echo_target(void) { return harness_env("METRO_ECHO_GRPC"); }

/* Our own metro-echo-test on a free port; returns its pid once it listens. */
static int start_echo_server(const char *drain_ms, char *target, size_t cap, const char *log_name) {
  int port = free_port();
  char e_addr[64], e_drain[64], e_log[1024], program[1024];
  snprintf(e_addr, sizeof e_addr, "METRO_GRPC_ADDR=127.0.0.1:%d", port);
  snprintf(e_drain, sizeof e_drain, "METRO_DRAIN_TIMEOUT_MS=%s", drain_ms);
  snprintf(e_log, sizeof e_log, "%s/logs/%s.log", harness_env("METRO_STACK_DIR"), log_name);
  snprintf(program, sizeof program, "%s/test/integration/metro-echo-test", getenv("METRO_BUILD_DIR"));
  const char *env[] = {e_addr, e_drain, "METRO_IDENTITY_SECRET=" OWN_SERVER_SECRET, NULL};
  int pid = spawn(program, env, e_log);
  assert_true(pid > 0);
  if (!wait_port(port, 10000)) {
    kill(pid, SIGKILL);
    fail_msg("metro-echo-test did not listen on %d (see %s)", port, e_log);
  }
  snprintf(target, cap, "127.0.0.1:%d", port);
  return pid;
}

typedef struct sleeper {
  const char *target;
  int millis;
  rpc_status status;
  char message[256];
  double took_s;
} sleeper;

static void *sleeper_main(void *p) {
  sleeper *s = p;
  arena *a = arena_create(4096);
  double t0 = now_s();
  s->status = call_sleep(a, s->target, s->millis, 20000);
  s->took_s = now_s() - t0;
  snprintf(s->message, sizeof s->message, "%s", s->status.message ? s->status.message : "");
  s->status.message = s->status.reason = s->status.field = NULL; /* they lived in the arena */
  arena_destroy(a);
  return NULL;
}

/* ---- 1: identity and access ---- */

static void test_public_methods_need_no_identity(void **state) {
  (void)state;
  arena *a = arena_create(4096);
  Metro__Testing__V1__EchoResponse *resp;
  rpc_status st = call_echo(a, echo_target(), ECHO, NULL, "stations/x", &resp);
  assert_int_equal(st.code, GRPC_STATUS_OK);
  assert_string_equal(resp->echoed->name, "stations/x");
  assert_string_equal(resp->caller, "");
  arena_destroy(a);
}

static void test_identity_must_be_signed_with_the_shared_secret_and_fresh(void **state) {
  (void)state;
  arena *a = arena_create(8192);
  char *secret = harness_stack_secret();
  rpc_status st = call_echo(a, echo_target(), WHOAMI, NULL, "", NULL);
  assert_int_equal(st.code, GRPC_STATUS_UNAUTHENTICATED);

  rpc_call_meta good = signed_as(a, secret, "user-123", "passenger", 300);
  Metro__Testing__V1__EchoResponse *resp;
  st = call_echo(a, echo_target(), WHOAMI, &good, "", &resp);
  assert_int_equal(st.code, GRPC_STATUS_OK);
  assert_string_equal(resp->caller, "user-123");
  assert_int_equal(resp->n_caller_roles, 1);
  assert_string_equal(resp->caller_roles[0], "passenger");

  rpc_call_meta other = signed_as(a, "another-secret-that-the-server-does-not-know", "user-123", "passenger", 300);
  st = call_echo(a, echo_target(), WHOAMI, &other, "", NULL);
  assert_int_equal(st.code, GRPC_STATUS_UNAUTHENTICATED);

  rpc_call_meta expired = signed_as(a, secret, "user-123", "passenger", -60);
  st = call_echo(a, echo_target(), WHOAMI, &expired, "", NULL);
  assert_int_equal(st.code, GRPC_STATUS_UNAUTHENTICATED);

  rpc_call_meta tampered = good;
  tampered.identity_raw = arena_printf(a, "user-999%s", strchr(good.identity_raw, ';'));
  st = call_echo(a, echo_target(), WHOAMI, &tampered, "", NULL);
  assert_int_equal(st.code, GRPC_STATUS_UNAUTHENTICATED);
  free(secret);
  arena_destroy(a);
}

static void test_role_checks_come_from_the_proto_options(void **state) {
  (void)state;
  arena *a = arena_create(8192);
  char *secret = harness_stack_secret();
  rpc_call_meta rider = signed_as(a, secret, "user-1", "passenger", 300);
  rpc_status st = call_echo(a, echo_target(), ADMIN_ONLY, &rider, "", NULL);
  assert_int_equal(st.code, GRPC_STATUS_PERMISSION_DENIED);
  rpc_call_meta admin = signed_as(a, secret, "user-2", "admin", 300);
  Metro__Testing__V1__EchoResponse *resp;
  st = call_echo(a, echo_target(), ADMIN_ONLY, &admin, "", &resp);
  assert_int_equal(st.code, GRPC_STATUS_OK);
  assert_string_equal(resp->caller, "user-2");
  free(secret);
  arena_destroy(a);
}

/* ---- 2: unknown methods and malformed messages ---- */

static void test_unknown_method_is_unimplemented(void **state) {
  (void)state;
  arena *a = arena_create(4096);
  rpc_status st = call_echo(a, echo_target(), "/metro.testing.v1.EchoService/NoSuchMethod", NULL, "", NULL);
  assert_int_equal(st.code, GRPC_STATUS_UNIMPLEMENTED);
  st = call_echo(a, echo_target(), "/metro.nothing.v1.Nope/Echo", NULL, "", NULL);
  assert_int_equal(st.code, GRPC_STATUS_UNIMPLEMENTED);
  arena_destroy(a);
}

/* A SleepRequest is field 1 as a varint; EchoRequest.name (field 1) is length-delimited, so the
 * bytes are not a valid EchoRequest. */
static void test_bytes_that_are_not_the_input_type_are_invalid_argument(void **state) {
  (void)state;
  arena *a = arena_create(4096);
  Metro__Testing__V1__SleepRequest wrong = METRO__TESTING__V1__SLEEP_REQUEST__INIT;
  wrong.millis = 7;
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(echo_target()), a, ECHO, NULL, &wrong.base,
                                 &metro__testing__v1__echo_response__descriptor, &resp, 5000, INT64_MAX);
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  arena_destroy(a);
}

/* ---- 3-5: deadlines, rich errors, health ---- */

static void test_deadline_cuts_a_slow_call_short(void **state) {
  (void)state;
  arena *a = arena_create(4096);
  double t0 = now_s();
  rpc_status st = call_sleep(a, echo_target(), 2000, 200);
  double took = now_s() - t0;
  assert_int_equal(st.code, GRPC_STATUS_DEADLINE_EXCEEDED);
  assert_true(took < 1.0);
  arena_destroy(a);
}

static void test_error_reason_survives_the_wire(void **state) {
  (void)state;
  arena *a = arena_create(4096);
  Metro__Testing__V1__FailRequest req = METRO__TESTING__V1__FAIL_REQUEST__INIT;
  req.code = 9;
  req.reason = "SOME_REASON";
  req.message = "precondition not met";
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(echo_target()), a, FAIL, NULL, &req.base,
                                 &google__protobuf__empty__descriptor, &resp, 5000, INT64_MAX);
  assert_int_equal(st.code, GRPC_STATUS_FAILED_PRECONDITION);
  assert_non_null(st.reason);
  assert_string_equal(st.reason, "SOME_REASON");
  assert_string_equal(st.message, "precondition not met");
  arena_destroy(a);
}

static rpc_status health_check(arena *a, const char *service, int *serving) {
  Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  req.service = (char *)service;
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(echo_target()), a, HEALTH_CHECK, NULL, &req.base,
                                 &grpc__health__v1__health_check_response__descriptor, &resp, 5000, INT64_MAX);
  *serving = rpc_ok(st) ? (int)((Grpc__Health__V1__HealthCheckResponse *)resp)->status : -1;
  return st;
}

static void test_health_reports_the_server_and_each_service(void **state) {
  (void)state;
  arena *a = arena_create(4096);
  int serving;
  assert_int_equal(health_check(a, "", &serving).code, GRPC_STATUS_OK);
  assert_int_equal(serving, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
  assert_int_equal(health_check(a, "metro.testing.v1.EchoService", &serving).code, GRPC_STATUS_OK);
  assert_int_equal(serving, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
  assert_int_equal(health_check(a, "nope", &serving).code, GRPC_STATUS_NOT_FOUND);
  arena_destroy(a);
}

/* ---- 6-7: graceful drain ---- */

static void test_sigterm_lets_in_flight_calls_finish(void **state) {
  (void)state;
  char target[64];
  int pid = start_echo_server("5000", target, sizeof target, "echo-drain");
  sleeper s = {.target = target, .millis = 1500};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, sleeper_main, &s), 0);
  sleep_ms(300);
  double signalled = now_s();
  assert_int_equal(kill(pid, SIGTERM), 0);
  sleep_ms(100);
  arena *a = arena_create(4096);
  rpc_status late = call_echo(a, target, ECHO, NULL, "stations/late", NULL);
  arena_destroy(a);
  pthread_join(t, NULL);
  int rc = wait_exit(pid, 3000);
  double exited = now_s() - signalled;
  if (rc < 0) kill(pid, SIGKILL);
  if (!rpc_ok(s.status)) fprintf(stderr, "in-flight call: %d %s\n", s.status.code, s.message);
  assert_int_equal(s.status.code, GRPC_STATUS_OK);
  assert_false(rpc_ok(late));
  assert_int_equal(rc, 0);
  assert_true(exited < 3.0);
}

static void test_drain_timeout_bounds_the_wait(void **state) {
  (void)state;
  char target[64];
  int pid = start_echo_server("300", target, sizeof target, "echo-drain-bound");
  sleeper s = {.target = target, .millis = 5000};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, sleeper_main, &s), 0);
  sleep_ms(300);
  double signalled = now_s();
  assert_int_equal(kill(pid, SIGTERM), 0);
  pthread_join(t, NULL);
  int rc = wait_exit(pid, 10000); /* the handler itself is not interrupted: up to its 5 s */
  double exited = now_s() - signalled;
  if (rc < 0) kill(pid, SIGKILL);
  fprintf(stderr, "drain bound: call ended with %d (%s) after %.2f s; server exited after %.2f s\n", s.status.code,
          s.message, s.took_s, exited);
  assert_true(s.status.code == GRPC_STATUS_CANCELLED || s.status.code == GRPC_STATUS_UNAVAILABLE);
  assert_true(s.took_s < 3.0);
  assert_int_equal(rc, 0);
}

/* ---- 8: concurrency ---- */

typedef struct echo_caller {
  int index;
  rpc_status status;
  bool echoed_right;
} echo_caller;

static void *echo_caller_main(void *p) {
  echo_caller *c = p;
  arena *a = arena_create(4096);
  char name[64];
  snprintf(name, sizeof name, "stations/concurrent-%d", c->index);
  Metro__Testing__V1__EchoResponse *resp;
  c->status = call_echo(a, echo_target(), ECHO, NULL, name, &resp);
  c->echoed_right = rpc_ok(c->status) && strcmp(resp->echoed->name, name) == 0;
  c->status.message = c->status.reason = c->status.field = NULL;
  arena_destroy(a);
  return NULL;
}

static void test_twenty_concurrent_calls_all_succeed(void **state) {
  (void)state;
  enum { N = 20 };
  pthread_t threads[N];
  echo_caller callers[N];
  for (int i = 0; i < N; i++) {
    callers[i] = (echo_caller){.index = i};
    assert_int_equal(pthread_create(&threads[i], NULL, echo_caller_main, &callers[i]), 0);
  }
  int ok = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(threads[i], NULL);
    ok += callers[i].status.code == GRPC_STATUS_OK && callers[i].echoed_right;
  }
  assert_int_equal(ok, N);
}

static int teardown(void **state) {
  (void)state;
  rpc_client_shutdown();
  return 0;
}

int main(void) {
  harness_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_public_methods_need_no_identity),
      cmocka_unit_test(test_identity_must_be_signed_with_the_shared_secret_and_fresh),
      cmocka_unit_test(test_role_checks_come_from_the_proto_options),
      cmocka_unit_test(test_unknown_method_is_unimplemented),
      cmocka_unit_test(test_bytes_that_are_not_the_input_type_are_invalid_argument),
      cmocka_unit_test(test_deadline_cuts_a_slow_call_short),
      cmocka_unit_test(test_error_reason_survives_the_wire),
      cmocka_unit_test(test_health_reports_the_server_and_each_service),
      cmocka_unit_test(test_sigterm_lets_in_flight_calls_finish),
      cmocka_unit_test(test_drain_timeout_bounds_the_wait),
      cmocka_unit_test(test_twenty_concurrent_calls_all_succeed),
  };
  return cmocka_run_group_tests(tests, NULL, teardown);
}
