/* The management service end to end: every stack service SERVING in the registry, one service's
 * instances, a dead instance UNREACHABLE, an instance stopped (SIGSTOP, SIGTERM), restarted and
 * dropped from the configuration, gateway reports over gRPC read back over REST, refusals. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/rpc_client.h"
#include "harness.h"
#include "metro/management/v1/management.pb-c.h"
#include "ticketing.h"

#define WAIT_MS 30000
/* The stack's services, as scripts/stack.sh starts them (management watches them all). */
static const char *const stack_services[] = {"auth",    "user",   "transport", "ticket", "payment",   "webhook",
                                             "notification", "control", "report", "public", "scheduler", "management"};
#define N_STACK_SERVICES ((int)(sizeof stack_services / sizeof stack_services[0]))

static char admin_token[2048];
static rider passenger;

/* ---- helpers ---- */

static double now_s(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* An RFC 3339 UTC timestamp as the gateway writes it ("2026-12-03T07:13:45.123456Z"). */
static double rfc3339(const char *s) {
  struct tm tm = {0};
  if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                   &tm.tm_sec) != 6)
    fail_msg("not a timestamp: \"%s\"", s ? s : "(null)");
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const char *dot = strchr(s, '.');
  return (double)timegm(&tm) + (dot ? strtod(dot, NULL) : 0.0);
}

static const char *member_str(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

/* proto3 JSON leaves zero numbers out. */
static long member_int(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  if (json_is_string(v)) return atol(json_string_value(v));
  return v ? (long)json_number_value(v) : 0;
}

static json_t *find_by(const json_t *array, const char *key, const char *value) {
  size_t i;
  json_t *e;
  json_array_foreach(array, i, e) if (strcmp(member_str(e, key), value) == 0) return e;
  return NULL;
}

static bool array_has_string(const json_t *array, const char *value) {
  size_t i;
  json_t *e;
  json_array_foreach(array, i, e) if (json_is_string(e) && strcmp(json_string_value(e), value) == 0) return true;
  return false;
}

static void login_admin(void) {
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", getenv("METRO_TEST_ADMIN_EMAIL"),
           getenv("METRO_TEST_ADMIN_PASSWORD"));
  http_response *r = call_ok("POST", "/v1/auth/login", body, NULL);
  snprintf(admin_token, sizeof admin_token, "%s", json_at(r, "accessToken"));
  http_response_free(r);
}

/* The extra instance the stack configured (METRO_STACK_MANAGEMENT_EXTRA "public=127.0.0.1:1"). */
static void extra_instance(char *service, size_t sn, char *address, size_t an) {
  const char *extra = harness_env("METRO_STACK_MANAGEMENT_EXTRA");
  if (!extra || !strchr(extra, '='))
    fail_msg("the stack must be started with METRO_STACK_MANAGEMENT_EXTRA=service=address (test/integration/"
             "CMakeLists.txt sets it)");
  const char *eq = strchr(extra, '=');
  snprintf(service, sn, "%.*s", (int)(eq - extra), extra);
  snprintf(address, an, "%s", eq + 1);
}

/* GET /v1/management/services until every stack service has a SERVING instance (the poller's
 * first rounds may still be running when the suite starts). */
static http_response *services_when_all_serving(void) {
  for (int waited = 0;; waited += 200) {
    http_response *r = call_ok("GET", "/v1/management/services", NULL, admin_token);
    json_t *list = json_object_get(r->json, "services");
    bool all = true;
    for (int i = 0; i < N_STACK_SERVICES && all; i++) {
      json_t *s = find_by(list, "name", stack_services[i]);
      all = s && member_int(s, "servingCount") >= 1;
    }
    if (all) return r;
    if (waited >= WAIT_MS) fail_msg("not every service became SERVING: %s", r->body);
    http_response_free(r);
    sleep_ms(200);
  }
}

/* ---- the registry of the stack ---- */

static void test_every_stack_service_is_serving_with_a_recent_last_seen(void **state) {
  (void)state;
  char extra_service[64], extra_address[128];
  extra_instance(extra_service, sizeof extra_service, extra_address, sizeof extra_address);
  http_response *r = services_when_all_serving();
  json_t *list = json_object_get(r->json, "services");
  assert_int_equal(json_array_size(list), N_STACK_SERVICES);
  double now = now_s();
  for (int i = 0; i < N_STACK_SERVICES; i++) {
    const char *name = stack_services[i];
    json_t *s = json_array_get(list, (size_t)i);
    char key[64], *p;
    snprintf(key, sizeof key, "METRO_%s_GRPC", name);
    for (p = key; *p; p++) *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    const char *real = harness_env(key);
    assert_non_null(real);
    /* In configuration order: stack.sh's, which starts management last. */
    assert_string_equal(member_str(s, "name"), name);
    assert_true(array_has_string(json_object_get(s, "targets"), real));
    assert_int_equal(member_int(s, "servingCount"), 1);
    assert_int_equal(member_int(s, "vanishedCount"), 0);
    double checked = rfc3339(member_str(s, "lastCheckTime"));
    assert_true(checked > now - 10 && checked < now + 2);
    assert_string_equal(member_str(s, "lastError"), "");
    bool extra = strcmp(name, extra_service) == 0;
    assert_int_equal(member_int(s, "instanceCount"), extra ? 2 : 1);
    /* The worst present instance: the extra one nobody answers at. */
    assert_string_equal(member_str(s, "status"), extra ? "UNREACHABLE" : "SERVING");
    if (extra) assert_true(array_has_string(json_object_get(s, "targets"), extra_address));

    /* The real instance answered SERVING moments ago (other suites restart or freeze a service
     * now and then: wait for it to be back). */
    char path[256];
    snprintf(path, sizeof path, "/v1/management/services/%s/instances", name);
    for (int waited = 0;; waited += 200) {
      http_response *ir = call_ok("GET", path, NULL, admin_token);
      json_t *inst = find_by(json_object_get(ir->json, "instances"), "address", real);
      assert_non_null(inst);
      if (strcmp(member_str(inst, "status"), "SERVING") != 0) {
        if (waited >= WAIT_MS) fail_msg("%s is not SERVING: %s", name, ir->body);
        http_response_free(ir);
        sleep_ms(200);
        continue;
      }
      double at = now_s();
      assert_string_equal(member_str(inst, "service"), name);
      assert_string_equal(member_str(inst, "target"), real);
      assert_false(json_is_true(json_object_get(inst, "vanished")));
      double seen = rfc3339(member_str(inst, "lastSeenTime"));
      assert_true(seen > at - 10 && seen < at + 2);
      assert_true(rfc3339(member_str(inst, "lastCheckTime")) >= seen);
      assert_string_equal(member_str(inst, "lastError"), "");
      double latency = json_number_value(json_object_get(inst, "latencyMs"));
      assert_true(latency > 0 && latency < 5000);
      http_response_free(ir);
      break;
    }
  }
  http_response_free(r);
}

static void test_the_instances_of_one_service_in_pages(void **state) {
  (void)state;
  http_response_free(services_when_all_serving());
  http_response *r = call_ok("GET", "/v1/management/services/auth/instances", NULL, admin_token);
  json_t *list = json_object_get(r->json, "instances");
  assert_int_equal(json_array_size(list), 1);
  assert_string_equal(member_str(json_array_get(list, 0), "address"), harness_env("METRO_AUTH_GRPC"));
  assert_string_equal(json_at(r, "nextPageToken"), "");
  http_response_free(r);

  /* The extra instance's service has two: pages of one, by address, then none left. */
  char service[64], address[128], path[512];
  extra_instance(service, sizeof service, address, sizeof address);
  snprintf(path, sizeof path, "/v1/management/services/%s/instances?pageSize=1", service);
  r = call_ok("GET", path, NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "instances")), 1);
  char first[128], token[256];
  snprintf(first, sizeof first, "%s", member_str(json_array_get(json_object_get(r->json, "instances"), 0), "address"));
  snprintf(token, sizeof token, "%s", json_at(r, "nextPageToken"));
  assert_true(*token);
  http_response_free(r);
  snprintf(path, sizeof path, "/v1/management/services/%s/instances?pageSize=1&pageToken=%s", service, token);
  r = call_ok("GET", path, NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "instances")), 1);
  const char *second = member_str(json_array_get(json_object_get(r->json, "instances"), 0), "address");
  assert_true(strcmp(first, second) < 0);
  assert_true(strcmp(first, address) == 0 || strcmp(second, address) == 0);
  assert_string_equal(json_at(r, "nextPageToken"), "");
  http_response_free(r);

  snprintf(path, sizeof path, "/v1/management/services/%s/instances?pageToken=bogus", service);
  expect_error("GET", path, NULL, admin_token, 400, "INVALID_PAGE_TOKEN", "pageToken");
  snprintf(path, sizeof path, "/v1/management/services/%s/instances?pageSize=501", service);
  expect_error("GET", path, NULL, admin_token, 400, "INVALID_PAGE_SIZE", "pageSize");
}

static void test_an_instance_nothing_answers_at_is_unreachable_beside_the_serving_one(void **state) {
  (void)state;
  char service[64], address[128], path[256], key[96];
  extra_instance(service, sizeof service, address, sizeof address);
  snprintf(key, sizeof key, "METRO_%s_GRPC", service);
  for (char *p = key; *p; p++) *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
  const char *real = harness_env(key);
  assert_non_null(real);
  http_response_free(services_when_all_serving());
  snprintf(path, sizeof path, "/v1/management/services/%s/instances", service);
  http_response *r = call_ok("GET", path, NULL, admin_token);
  json_t *dead = find_by(json_object_get(r->json, "instances"), "address", address);
  json_t *live = find_by(json_object_get(r->json, "instances"), "address", real);
  assert_non_null(dead);
  assert_non_null(live);
  assert_string_equal(member_str(live, "status"), "SERVING");
  assert_string_equal(member_str(dead, "status"), "UNREACHABLE");
  assert_false(json_is_true(json_object_get(dead, "vanished")));
  assert_null(json_object_get(dead, "lastSeenTime")); /* it never answered */
  assert_true(strncmp(member_str(dead, "lastError"), "UNAVAILABLE", 11) == 0);
  double checked = rfc3339(member_str(dead, "lastCheckTime"));
  http_response_free(r);

  /* It keeps being checked. */
  for (int waited = 0;; waited += 200) {
    r = call_ok("GET", path, NULL, admin_token);
    dead = find_by(json_object_get(r->json, "instances"), "address", address);
    double again = rfc3339(member_str(dead, "lastCheckTime"));
    assert_string_equal(member_str(dead, "status"), "UNREACHABLE");
    http_response_free(r);
    if (again > checked) break;
    if (waited >= WAIT_MS) fail_msg("the dead instance is not checked again");
    sleep_ms(200);
  }
}

/* ---- an instance stopped, restarted and dropped, seen by a replica of its own ---- */

static int echo_port, echo_pid, replica_port, replica_pid;
static char watched[40], nxdomain[40];

static int start_echo(void) {
  char *secret = harness_stack_secret();
  char env[2][1024];
  snprintf(env[0], sizeof env[0], "METRO_GRPC_ADDR=127.0.0.1:%d", echo_port);
  snprintf(env[1], sizeof env[1], "METRO_IDENTITY_SECRET=%s", secret);
  free(secret);
  const char *argv_env[] = {env[0], env[1], NULL};
  char program[1024], log[1024];
  snprintf(program, sizeof program, "%s/test/integration/metro-echo-test", getenv("METRO_BUILD_DIR"));
  snprintf(log, sizeof log, "%s/logs/echo-management-test.log", harness_env("METRO_STACK_DIR"));
  int pid = spawn(program, argv_env, log);
  assert_true(wait_port(echo_port, 20000));
  return pid;
}

/* A management replica on the stack's database watching `services`, polling every 200 ms. Its
 * service names are the test's own, so the stack's replica (which touches only the services it
 * is configured with) never writes their rows. */
static int start_replica(const char *services) {
  replica_port = free_port();
  char *secret = harness_stack_secret();
  char env[12][2048];
  int n = 0;
  snprintf(env[n++], sizeof env[0], "METRO_GRPC_ADDR=127.0.0.1:%d", replica_port);
  snprintf(env[n++], sizeof env[0], "METRO_METRICS_PORT=0");
  snprintf(env[n++], sizeof env[0], "METRO_PG_URL=%s", harness_env("METRO_MANAGEMENT_PG_URL"));
  snprintf(env[n++], sizeof env[0], "METRO_IDENTITY_SECRET=%s", secret);
  snprintf(env[n++], sizeof env[0], "METRO_REDIS_PORT=%s", harness_env("METRO_REDIS_PORT"));
  snprintf(env[n++], sizeof env[0], "METRO_MANAGEMENT_SERVICES=%s", services);
  snprintf(env[n++], sizeof env[0], "METRO_MANAGEMENT_POLL_MS=200");
  snprintf(env[n++], sizeof env[0], "METRO_MANAGEMENT_CHECK_TIMEOUT_MS=500");
  const char *kafka = harness_env("METRO_KAFKA_BROKERS");
  if (kafka) snprintf(env[n++], sizeof env[0], "METRO_KAFKA_BROKERS=%s", kafka);
  free(secret);
  const char *argv_env[13];
  for (int i = 0; i < n; i++) argv_env[i] = env[i];
  argv_env[n] = NULL;
  char program[1024], log[1024];
  snprintf(program, sizeof program, "%s/svc/management/metro-management", getenv("METRO_BUILD_DIR"));
  snprintf(log, sizeof log, "%s/logs/management-test-replica.log", harness_env("METRO_STACK_DIR"));
  int pid = spawn(program, argv_env, log);
  assert_true(wait_port(replica_port, 20000));
  return pid;
}

static void stop_process(int pid) {
  kill(pid, SIGCONT);
  kill(pid, SIGTERM);
  int code = wait_exit(pid, 20000);
  if (code < 0) {
    kill(pid, SIGKILL);
    wait_exit(pid, 5000);
  }
  assert_int_equal(code, 0);
}

static rpc_status replica_instances(arena *a, const char *service,
                                    Metro__Management__V1__ListServiceInstancesResponse **out) {
  rpc_call_meta meta = harness_signed_meta(a, "00000000-0000-4000-8000-000000000001", "admin", 60);
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", replica_port);
  Metro__Management__V1__ListServiceInstancesRequest req = METRO__MANAGEMENT__V1__LIST_SERVICE_INSTANCES_REQUEST__INIT;
  req.name = (char *)service;
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(target), a, "/metro.management.v1.ManagementService/ListServiceInstances",
                                 &meta, &req.base, &metro__management__v1__list_service_instances_response__descriptor,
                                 &resp, 5000, INT64_MAX);
  *out = (Metro__Management__V1__ListServiceInstancesResponse *)resp;
  return st;
}

/* Polls the replica until the watched instance has `status` (and the error prefix, when given);
 * answers it (in a), or fails. */
static const Metro__Management__V1__Instance *wait_instance(arena *a, const char *address,
                                                            Metro__Management__V1__InstanceStatus status,
                                                            const char *error_prefix, bool vanished) {
  for (int waited = 0;; waited += 100) {
    Metro__Management__V1__ListServiceInstancesResponse *r;
    rpc_status st = replica_instances(a, watched, &r);
    if (!rpc_ok(st)) fail_msg("ListServiceInstances: %s", st.message);
    for (size_t i = 0; i < r->n_instances; i++) {
      const Metro__Management__V1__Instance *in = r->instances[i];
      if (strcmp(in->address, address) == 0 && in->status == status && in->vanished == vanished &&
          (!error_prefix || strncmp(in->last_error, error_prefix, strlen(error_prefix)) == 0))
        return in;
    }
    if (waited >= WAIT_MS) fail_msg("%s of %s never became status %d (%s)", address, watched, (int)status,
                                    error_prefix ? error_prefix : "");
    sleep_ms(100);
  }
}

static double ts_s(const Google__Protobuf__Timestamp *t) {
  assert_non_null(t);
  return (double)t->seconds + t->nanos / 1e9;
}

static void test_a_stopped_instance_turns_unreachable_and_back(void **state) {
  (void)state;
  echo_port = free_port();
  echo_pid = start_echo();
  snprintf(watched, sizeof watched, "%s", unique_name("mt"));
  snprintf(nxdomain, sizeof nxdomain, "%s", unique_name("mtdns"));
  char services[512], address[64];
  snprintf(address, sizeof address, "127.0.0.1:%d", echo_port);
  /* The echo server, and a DNS name under .invalid (RFC 6761: never resolves). */
  snprintf(services, sizeof services, "%s=%s,%s=dns:///no-such-host.invalid:50051", watched, address, nxdomain);
  replica_pid = start_replica(services);
  arena *a = arena_create(16384);

  const Metro__Management__V1__Instance *in =
      wait_instance(a, address, METRO__MANAGEMENT__V1__INSTANCE_STATUS__SERVING, NULL, false);
  assert_string_equal(in->target, address);
  double seen = ts_s(in->last_seen_time);

  /* Frozen: it accepts connections but never answers; the check's deadline makes it unreachable. */
  kill(echo_pid, SIGSTOP);
  in = wait_instance(a, address, METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE, "DEADLINE_EXCEEDED", false);
  double frozen_seen = ts_s(in->last_seen_time);
  assert_true(frozen_seen >= seen);
  kill(echo_pid, SIGCONT);
  in = wait_instance(a, address, METRO__MANAGEMENT__V1__INSTANCE_STATUS__SERVING, NULL, false);
  assert_true(ts_s(in->last_seen_time) > frozen_seen);

  /* Stopped: refused, and the last time it answered stays. */
  stop_process(echo_pid);
  in = wait_instance(a, address, METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE, "UNAVAILABLE", false);
  double stopped_seen = ts_s(in->last_seen_time);
  assert_true(stopped_seen < now_s());
  sleep_ms(600);
  in = wait_instance(a, address, METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE, "UNAVAILABLE", false);
  assert_true(ts_s(in->last_seen_time) == stopped_seen);
  assert_true(ts_s(in->last_check_time) > stopped_seen);

  /* Started again on the same port: back to SERVING. */
  echo_pid = start_echo();
  in = wait_instance(a, address, METRO__MANAGEMENT__V1__INSTANCE_STATUS__SERVING, NULL, false);
  assert_true(ts_s(in->last_seen_time) > stopped_seen);
  assert_string_equal(in->last_error, "");

  /* The DNS name that resolves to nothing: the service has no instance and says why. */
  rpc_call_meta meta = harness_signed_meta(a, "00000000-0000-4000-8000-000000000001", "admin", 60);
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", replica_port);
  Metro__Management__V1__ListServicesRequest lreq = METRO__MANAGEMENT__V1__LIST_SERVICES_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(target), a, "/metro.management.v1.ManagementService/ListServices",
                                 &meta, &lreq.base, &metro__management__v1__list_services_response__descriptor, &resp,
                                 5000, INT64_MAX);
  assert_true(rpc_ok(st));
  const Metro__Management__V1__ListServicesResponse *ls = (const void *)resp;
  assert_int_equal(ls->n_services, 2);
  assert_string_equal(ls->services[0]->name, watched);
  assert_int_equal(ls->services[0]->status, METRO__MANAGEMENT__V1__INSTANCE_STATUS__SERVING);
  assert_int_equal(ls->services[0]->instance_count, 1);
  assert_string_equal(ls->services[1]->name, nxdomain);
  assert_int_equal(ls->services[1]->status, METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE);
  assert_int_equal(ls->services[1]->instance_count, 0);
  assert_non_null(strstr(ls->services[1]->last_error, "no-such-host.invalid"));
  assert_non_null(ls->services[1]->last_check_time);

  /* Dropped from the configuration: still listed, vanished, with its last_seen. */
  stop_process(replica_pid);
  char other[64], services2[512];
  snprintf(other, sizeof other, "127.0.0.1:%d", free_port());
  snprintf(services2, sizeof services2, "%s=%s", watched, other);
  replica_pid = start_replica(services2);
  in = wait_instance(a, address, METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE,
                     "no longer in METRO_MANAGEMENT_SERVICES", true);
  assert_true(ts_s(in->last_seen_time) > stopped_seen);
  wait_instance(a, other, METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE, "UNAVAILABLE", false);

  stop_process(replica_pid);
  replica_pid = 0;
  stop_process(echo_pid);
  echo_pid = 0;
  arena_destroy(a);
}

/* ---- gateway reports ---- */

static rpc_status report(arena *a, const rpc_call_meta *meta, Metro__Management__V1__GatewayInstance *g,
                         Metro__Management__V1__ReportGatewayResponse **out) {
  Metro__Management__V1__ReportGatewayRequest req = METRO__MANAGEMENT__V1__REPORT_GATEWAY_REQUEST__INIT;
  req.instance = g;
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(harness_env("METRO_MANAGEMENT_GRPC")), a,
                                 "/metro.management.v1.ManagementService/ReportGateway", meta, &req.base,
                                 &metro__management__v1__report_gateway_response__descriptor, &resp, 10000, INT64_MAX);
  if (out) *out = (Metro__Management__V1__ReportGatewayResponse *)resp;
  return st;
}

/* A gateway instance with three routes and two backends (arena-owned). */
static Metro__Management__V1__GatewayInstance *gateway(arena *a, const char *id) {
  Metro__Management__V1__GatewayInstance *g = arena_alloc(a, sizeof *g);
  metro__management__v1__gateway_instance__init(g);
  g->instance_id = arena_strdup(a, id);
  g->address = "10.8.0.7:8080";
  g->name = "ignored/output-only";
  g->start_time = arena_alloc(a, sizeof *g->start_time);
  google__protobuf__timestamp__init(g->start_time);
  g->start_time->seconds = 1780000000;
  g->start_time->nanos = 500000000;
  static char *roles[] = {"admin", "staff"};
  static const struct {
    const char *method, *path, *rpc;
    bool pub, idempotent;
    int n_roles;
  } routes[] = {
      {"GET", "/v1/management/services", "/metro.management.v1.ManagementService/ListServices", false, true, 1},
      {"POST", "/v1/auth/login", "/metro.auth.v1.AuthService/Login", true, false, 0},
      {"GET", "/v1/stations/{stationId}", "/metro.transport.v1.TransportService/GetStation", false, true, 2},
  };
  g->n_routes = 3;
  g->routes = arena_alloc(a, sizeof *g->routes * 3);
  for (int i = 0; i < 3; i++) {
    Metro__Management__V1__GatewayRoute *r = arena_alloc(a, sizeof *r);
    metro__management__v1__gateway_route__init(r);
    r->http_method = (char *)routes[i].method;
    r->path_template = (char *)routes[i].path;
    r->rpc_method = (char *)routes[i].rpc;
    r->public_ = routes[i].pub;
    r->idempotent = routes[i].idempotent;
    r->n_roles = (size_t)routes[i].n_roles;
    r->roles = roles;
    g->routes[i] = r;
  }
  g->n_backends = 2;
  g->backends = arena_alloc(a, sizeof *g->backends * 2);
  for (int i = 0; i < 2; i++) {
    Metro__Management__V1__BackendState *b = arena_alloc(a, sizeof *b);
    metro__management__v1__backend_state__init(b);
    g->backends[i] = b;
  }
  g->backends[0]->service = "auth";
  g->backends[0]->target = "127.0.0.1:50051";
  g->backends[0]->state = METRO__MANAGEMENT__V1__BREAKER_STATE__CLOSED;
  g->backends[0]->requests = 12345678901LL;
  g->backends[1]->service = "transport";
  g->backends[1]->target = "dns:///metro-transport:50053";
  g->backends[1]->state = METRO__MANAGEMENT__V1__BREAKER_STATE__OPEN;
  g->backends[1]->consecutive_failures = 5;
  g->backends[1]->requests = 40;
  g->backends[1]->failures = 7;
  g->backends[1]->rejected = 3;
  g->backends[1]->opened_time = arena_alloc(a, sizeof *g->backends[1]->opened_time);
  google__protobuf__timestamp__init(g->backends[1]->opened_time);
  g->backends[1]->opened_time->seconds = 1780000100;
  return g;
}

static void test_a_gateway_report_is_stored_and_read_back_by_admins(void **state) {
  (void)state;
  arena *a = arena_create(65536);
  rpc_call_meta svc = harness_signed_meta(a, "service:transcoder", "service", 60);
  char id_a[64], id_b[64];
  snprintf(id_a, sizeof id_a, "%s:8080", unique_name("gw-a-"));
  snprintf(id_b, sizeof id_b, "%s:8080", unique_name("gw-b-"));
  Metro__Management__V1__ReportGatewayResponse *resp;
  double before = now_s();
  rpc_status st = report(a, &svc, gateway(a, id_a), &resp);
  if (!rpc_ok(st)) fail_msg("ReportGateway: %s", st.message);
  char want_name[96];
  snprintf(want_name, sizeof want_name, "gateways/%s", id_a);
  assert_string_equal(resp->name, want_name);
  double stored = ts_s(resp->last_seen_time);
  assert_true(stored > before - 5 && stored < now_s() + 5);

  char path[256];
  snprintf(path, sizeof path, "/v1/management/gateways/%s", id_a);
  http_response *r = call_ok("GET", path, NULL, admin_token);
  assert_string_equal(json_at(r, "name"), want_name);
  assert_string_equal(json_at(r, "instanceId"), id_a);
  assert_string_equal(json_at(r, "address"), "10.8.0.7:8080");
  assert_string_equal(json_at(r, "startTime"), "2026-05-28T20:26:40.500Z");
  assert_true(fabs(rfc3339(json_at(r, "lastSeenTime")) - stored) < 0.001);
  json_t *routes = json_object_get(r->json, "routes");
  assert_int_equal(json_array_size(routes), 3);
  json_t *r0 = json_array_get(routes, 0), *r1 = json_array_get(routes, 1), *r2 = json_array_get(routes, 2);
  assert_string_equal(member_str(r0, "httpMethod"), "GET");
  assert_string_equal(member_str(r0, "pathTemplate"), "/v1/management/services");
  assert_string_equal(member_str(r0, "rpcMethod"), "/metro.management.v1.ManagementService/ListServices");
  assert_true(json_is_true(json_object_get(r0, "idempotent")));
  assert_false(json_is_true(json_object_get(r0, "public")));
  assert_int_equal(json_array_size(json_object_get(r0, "roles")), 1);
  assert_true(json_is_true(json_object_get(r1, "public")));
  assert_int_equal(json_array_size(json_object_get(r1, "roles")), 0);
  assert_string_equal(member_str(r2, "pathTemplate"), "/v1/stations/{stationId}");
  assert_true(array_has_string(json_object_get(r2, "roles"), "staff"));
  json_t *backends = json_object_get(r->json, "backends");
  assert_int_equal(json_array_size(backends), 2);
  json_t *b0 = json_array_get(backends, 0), *b1 = json_array_get(backends, 1);
  assert_string_equal(member_str(b0, "service"), "auth");
  assert_string_equal(member_str(b0, "state"), "CLOSED");
  assert_string_equal(member_str(b0, "requests"), "12345678901"); /* int64 travels as a string */
  assert_string_equal(member_str(b1, "target"), "dns:///metro-transport:50053");
  assert_string_equal(member_str(b1, "state"), "OPEN");
  assert_int_equal(member_int(b1, "consecutiveFailures"), 5);
  assert_int_equal(member_int(b1, "failures"), 7);
  assert_int_equal(member_int(b1, "rejected"), 3);
  assert_string_equal(member_str(b1, "openedTime"), "2026-05-28T20:28:20Z");
  http_response_free(r);

  /* A second gateway reports later: listed before the first (newest first), both with times. */
  sleep_ms(20);
  assert_true(rpc_ok(report(a, &svc, gateway(a, id_b), NULL)));
  r = call_ok("GET", "/v1/management/gateways?pageSize=50", NULL, admin_token);
  json_t *list = json_object_get(r->json, "gateways");
  int at_a = -1, at_b = -1;
  double prev = 1e18;
  for (size_t i = 0; i < json_array_size(list); i++) {
    json_t *g = json_array_get(list, i);
    double t = rfc3339(member_str(g, "lastSeenTime"));
    assert_true(t <= prev);
    prev = t;
    if (strcmp(member_str(g, "instanceId"), id_a) == 0) at_a = (int)i;
    if (strcmp(member_str(g, "instanceId"), id_b) == 0) at_b = (int)i;
  }
  assert_true(at_a >= 0 && at_b >= 0 && at_b < at_a);
  assert_int_equal(json_array_size(json_object_get(json_array_get(list, (size_t)at_a), "routes")), 3);
  http_response_free(r);

  /* Pages of one reach both, in the same order, each once. */
  char token[256] = "";
  int seen_a = -1, seen_b = -1;
  for (int page = 0; page < 200; page++) {
    char p[512];
    snprintf(p, sizeof p, "/v1/management/gateways?pageSize=1%s%s", *token ? "&pageToken=" : "", token);
    r = call_ok("GET", p, NULL, admin_token);
    assert_true(json_array_size(json_object_get(r->json, "gateways")) <= 1);
    const char *id = member_str(json_array_get(json_object_get(r->json, "gateways"), 0), "instanceId");
    if (strcmp(id, id_a) == 0) {
      assert_int_equal(seen_a, -1);
      seen_a = page;
    }
    if (strcmp(id, id_b) == 0) {
      assert_int_equal(seen_b, -1);
      seen_b = page;
    }
    snprintf(token, sizeof token, "%s", json_at(r, "nextPageToken"));
    http_response_free(r);
    if (!*token) break;
  }
  assert_true(seen_b >= 0 && seen_a > seen_b);
  expect_error("GET", "/v1/management/gateways?pageToken=bogus", NULL, admin_token, 400, "INVALID_PAGE_TOKEN",
               "pageToken");
  expect_error("GET", "/v1/management/gateways?pageSize=51", NULL, admin_token, 400, "INVALID_PAGE_SIZE", "pageSize");

  /* A new report of the same instance replaces the old one. */
  Metro__Management__V1__GatewayInstance *g = gateway(a, id_a);
  g->n_routes = 1;
  g->backends[1]->state = METRO__MANAGEMENT__V1__BREAKER_STATE__HALF_OPEN;
  assert_true(rpc_ok(report(a, &svc, g, NULL)));
  r = call_ok("GET", path, NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "routes")), 1);
  assert_string_equal(member_str(json_array_get(json_object_get(r->json, "backends"), 1), "state"), "HALF_OPEN");
  assert_true(rfc3339(json_at(r, "lastSeenTime")) > stored);
  http_response_free(r);
  char *rows = sql_value("SELECT count(*)::text FROM management.gateways WHERE instance_id = $1", id_a);
  assert_string_equal(rows, "1");
  free(rows);

  expect_error("GET", "/v1/management/gateways/never-reported-gw", NULL, admin_token, 404, "GATEWAY_NOT_FOUND", NULL);
  expect_error("GET", "/v1/management/gateways/bad%20id", NULL, admin_token, 400, NULL, "instanceId");
  arena_destroy(a);
}

static void test_report_gateway_needs_the_service_role(void **state) {
  (void)state;
  arena *a = arena_create(65536);
  char id[64];
  snprintf(id, sizeof id, "%s", unique_name("gw-refused-"));
  rpc_call_meta passenger_meta = harness_signed_meta(a, passenger.user_id, "passenger", 60);
  rpc_status st = report(a, &passenger_meta, gateway(a, id), NULL);
  assert_int_equal(st.code, GRPC_STATUS_PERMISSION_DENIED);
  rpc_call_meta staff_meta = harness_signed_meta(a, "service:transcoder", "staff", 60);
  assert_int_equal(report(a, &staff_meta, gateway(a, id), NULL).code, GRPC_STATUS_PERMISSION_DENIED);
  rpc_call_meta none = {0};
  assert_int_equal(report(a, &none, gateway(a, id), NULL).code, GRPC_STATUS_UNAUTHENTICATED);
  char *rows = sql_value("SELECT count(*)::text FROM management.gateways WHERE instance_id = $1", id);
  assert_string_equal(rows, "0");
  free(rows);
  arena_destroy(a);
}

static void expect_invalid(arena *a, const rpc_call_meta *meta, Metro__Management__V1__GatewayInstance *g,
                           const char *field) {
  rpc_status st = report(a, meta, g, NULL);
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  if (field && (!st.field || strcmp(st.field, field) != 0))
    fail_msg("field \"%s\", expected \"%s\" (%s)", st.field ? st.field : "", field, st.message);
}

static void test_oversize_or_malformed_reports_are_refused(void **state) {
  (void)state;
  arena *a = arena_create(1 << 20);
  rpc_call_meta svc = harness_signed_meta(a, "service:transcoder", "service", 60);
  char id[64];
  snprintf(id, sizeof id, "%s", unique_name("gw-big-"));

  /* 1001 routes (each small, the message well under the 4 MiB limit). */
  Metro__Management__V1__GatewayInstance *g = gateway(a, id);
  Metro__Management__V1__GatewayRoute **many = arena_alloc(a, sizeof *many * 1001);
  for (int i = 0; i < 1001; i++) many[i] = g->routes[i % 3];
  g->routes = many;
  g->n_routes = 1001;
  expect_invalid(a, &svc, g, "instance.routes");
  g->n_routes = 1000; /* the bound itself is fine */
  assert_true(rpc_ok(report(a, &svc, g, NULL)));

  g = gateway(a, id);
  Metro__Management__V1__BackendState **backends = arena_alloc(a, sizeof *backends * 65);
  for (int i = 0; i < 65; i++) backends[i] = g->backends[0];
  g->backends = backends;
  g->n_backends = 65;
  expect_invalid(a, &svc, g, "instance.backends");

  g = gateway(a, id);
  char *long_path = arena_alloc(a, 600);
  long_path[0] = '/';
  memset(long_path + 1, 'a', 512);
  long_path[513] = '\0';
  g->routes[1]->path_template = long_path;
  expect_invalid(a, &svc, g, "instance.routes[1].pathTemplate");

  g = gateway(a, id);
  g->instance_id = "has space";
  expect_invalid(a, &svc, g, "instance.instanceId");
  g = gateway(a, id);
  g->backends[0]->rejected = -1;
  expect_invalid(a, &svc, g, "instance.backends[0]");
  expect_invalid(a, &svc, NULL, "instance");

  /* The 1000-route report above is the one stored: nothing refused replaced it. */
  char path[256];
  snprintf(path, sizeof path, "/v1/management/gateways/%s", id);
  http_response *r = call_ok("GET", path, NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "routes")), 1000);
  http_response_free(r);
  arena_destroy(a);
}

/* ---- who may read ---- */

static void test_reads_are_for_admins(void **state) {
  (void)state;
  static const char *const paths[] = {"/v1/management/services", "/v1/management/services/auth/instances",
                                      "/v1/management/gateways", "/v1/management/gateways/any-gw"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    expect_error("GET", paths[i], NULL, NULL, 401, NULL, NULL);
    expect_error("GET", paths[i], NULL, passenger.access, 403, NULL, NULL);
  }
  expect_error("GET", "/v1/management/services/no-such-service/instances", NULL, admin_token, 404,
               "SERVICE_NOT_FOUND", NULL);
}

static int setup(void **state) {
  (void)state;
  harness_init();
  login_admin();
  new_rider(&passenger);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int *pid = (int[]){replica_pid, echo_pid}, i = 0; i < 2; i++)
    if (pid[i] > 0) {
      kill(pid[i], SIGKILL);
      wait_exit(pid[i], 5000);
    }
  rpc_client_shutdown();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_stack_service_is_serving_with_a_recent_last_seen),
      cmocka_unit_test(test_the_instances_of_one_service_in_pages),
      cmocka_unit_test(test_an_instance_nothing_answers_at_is_unreachable_beside_the_serving_one),
      cmocka_unit_test(test_a_stopped_instance_turns_unreachable_and_back),
      cmocka_unit_test(test_a_gateway_report_is_stored_and_read_back_by_admins),
      cmocka_unit_test(test_report_gateway_needs_the_service_role),
      cmocka_unit_test(test_oversize_or_malformed_reports_are_refused),
      cmocka_unit_test(test_reads_are_for_admins),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
