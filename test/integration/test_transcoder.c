/* The REST transcoder end to end: client -> metro-transcoder-testing -> echo service, covering
 * routing, request mapping, proto3 JSON, edge auth, errors, request ids, CORS, failures, raw HTTP. */
#include <curl/curl.h>
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
#include "common/b64.h"
#include "common/identity.h"
#include "harness.h"

#define STRONG_PASSWORD "Saigon-Metro-2026"
#define APP_ORIGIN "https://app.metro.test"

/* ---- helpers ---- */

typedef struct passenger {
  char access[2048], user_id[64];
} passenger;

static void register_passenger(passenger *p) {
  const char *username = unique_name("echo");
  char body[512];
  snprintf(body, sizeof body,
           "{\"email\":\"%s@example.com\",\"username\":\"%s\",\"password\":\"" STRONG_PASSWORD
           "\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\"}",
           username, username);
  http_response *r = http_call("POST", "/v1/auth/register", body, NULL);
  assert_int_equal(r->status, 200);
  snprintf(p->access, sizeof p->access, "%s", json_at(r, "accessToken"));
  snprintf(p->user_id, sizeof p->user_id, "%s", json_at(r, "user.userId"));
  http_response_free(r);
  assert_true(strlen(p->access) > 0 && strlen(p->user_id) > 0);
}

static void admin_token(char *out, size_t cap) {
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", getenv("METRO_TEST_ADMIN_EMAIL"),
           getenv("METRO_TEST_ADMIN_PASSWORD"));
  http_response *r = http_call("POST", "/v1/auth/login", body, NULL);
  assert_int_equal(r->status, 200);
  snprintf(out, cap, "%s", json_at(r, "accessToken"));
  http_response_free(r);
}

static json_t *member(const http_response *r, const char *a, const char *b) {
  return json_object_get(json_object_get(r->json, a), b);
}

static bool roles_are(const http_response *r, const char *only_role) {
  json_t *roles = json_object_get(r->json, "callerRoles");
  return json_array_size(roles) == 1 && strcmp(json_string_value(json_array_get(roles, 0)), only_role) == 0;
}


/* A private gateway on its own port with extra settings; returns its pid once /readyz says 200. */
static int start_gateway(const char *backends, const char *extra_env, char *base, size_t cap, const char *log_name) {
  int port = free_port();
  char *secret = harness_stack_secret();
  char e_port[64], e_secret[320], e_backends[512], e_log[1024], program[1024];
  snprintf(e_port, sizeof e_port, "METRO_HTTP_PORT=%d", port);
  snprintf(e_secret, sizeof e_secret, "METRO_IDENTITY_SECRET=%s", secret);
  snprintf(e_backends, sizeof e_backends, "METRO_BACKENDS=%s", backends);
  snprintf(e_log, sizeof e_log, "%s/logs/%s.log", harness_env("METRO_STACK_DIR"), log_name);
  snprintf(program, sizeof program, "%s/transcoder/metro-transcoder-testing", getenv("METRO_BUILD_DIR"));
  free(secret);
  /* no admin port: the stack's gateway has the default one's place */
  const char *env[] = {e_port, e_secret, e_backends, "METRO_METRICS_PORT=0", extra_env, NULL};
  int pid = spawn(program, env, e_log);
  assert_true(pid > 0);
  snprintf(base, cap, "http://127.0.0.1:%d", port);
  long status = 0;
  for (int i = 0; i < 300 && status != 200; i++) {
    http_response *r = http_call_at(base, "GET", "/readyz", NULL, NULL, NULL);
    status = r->status;
    http_response_free(r);
    if (status != 200) nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
  }
  if (status != 200) kill(pid, SIGKILL);
  assert_int_equal(status, 200);
  return pid;
}

static void stop_gateway(int pid) {
  assert_int_equal(kill(pid, SIGTERM), 0);
  int rc = wait_exit(pid, 20000);
  if (rc < 0) kill(pid, SIGKILL);
  assert_int_equal(rc, 0);
}

/* ---- 1-4: routing and request mapping ---- */

static void test_path_template_binds_the_resource_name(void **state) {
  (void)state;
  http_response *r = http_call("GET", "/v1/depots/ben-thanh", NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "echoed.name"), "depots/ben-thanh");
  http_response_free(r);
  r = http_call("GET", "/v1/depots/b%C3%AAn", NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "echoed.name"), "depots/b\xc3\xaan");
  http_response_free(r);
}

/* The echoed name of GET path, copied out so that a failing assertion leaks nothing. */
static long echoed_name(const char *path, char *name, size_t cap) {
  http_response *r = http_call("GET", path, NULL, NULL);
  long status = r->status;
  snprintf(name, cap, "%s", json_at(r, "echoed.name"));
  http_response_free(r);
  return status;
}

/* A single-segment variable is percent-decoded exactly once, including %2F and %25. */
static void test_percent_escapes_in_a_segment_are_decoded_exactly_once(void **state) {
  (void)state;
  char name[256];
  assert_int_equal(echoed_name("/v1/depots/100%2525", name, sizeof name), 200);
  assert_string_equal(name, "depots/100%25");
  /* The variable spans two segments (stations and a wildcard): google/api/http.proto
   * leaves %2F undecoded in such variables. */
  assert_int_equal(echoed_name("/v1/depots/a%2Fb", name, sizeof name), 200);
  assert_string_equal(name, "depots/a%2Fb");
  assert_int_equal(echoed_name("/v1/depots/b%C3%AAn%20thanh", name, sizeof name), 200);
  assert_string_equal(name, "depots/b\xc3\xaan thanh");
}

static void test_path_variables_win_over_the_body(void **state) {
  (void)state;
  http_response *r =
      http_call("POST", "/v1/depots/x:echo", "{\"name\":\"ignored\",\"inner\":{\"label\":\"a\"},\"pageSize\":3}", NULL);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "echoed.name"), "depots/x");
  assert_string_equal(json_at(r, "echoed.inner.label"), "a");
  assert_int_equal(json_integer_value(member(r, "echoed", "pageSize")), 3);
  http_response_free(r);
}

static void test_body_field_rule_fills_the_named_field(void **state) {
  (void)state;
  http_response *r = http_call("PUT", "/v1/echo/lbl", "{\"fInt64\":\"123\",\"fEnum\":\"COLOR_RED\"}", NULL);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "echoed.inner.label"), "lbl");
  assert_string_equal(json_at(r, "echoed.payload.fInt64"), "123");
  assert_string_equal(json_at(r, "echoed.payload.fEnum"), "COLOR_RED");
  http_response_free(r);
}

static void test_query_parameters_map_scalars_repeated_enums_and_nested_fields(void **state) {
  (void)state;
  http_response *r = http_call("GET", "/v1/echo?pageSize=5&tags=a&tags=b&color=COLOR_GREEN&inner.label=q", NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_int_equal(json_integer_value(member(r, "echoed", "pageSize")), 5);
  json_t *tags = member(r, "echoed", "tags");
  assert_int_equal(json_array_size(tags), 2);
  assert_string_equal(json_string_value(json_array_get(tags, 0)), "a");
  assert_string_equal(json_string_value(json_array_get(tags, 1)), "b");
  assert_string_equal(json_at(r, "echoed.color"), "COLOR_GREEN");
  assert_string_equal(json_at(r, "echoed.inner.label"), "q");
  http_response_free(r);
}

/* ---- 5-7: rejected requests ---- */

static void test_bad_input_is_a_400_naming_the_problem(void **state) {
  (void)state;
  http_response *r = http_call("GET", "/v1/echo?pageSize=1&bogusParam=1", NULL, NULL);
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(json_at(r, "message"), "bogusParam"));
  assert_string_equal(error_field(r), "bogusParam");
  http_response_free(r);
  r = http_call("POST", "/v1/depots/x:echo", "{\"nmae\":\"x\"}", NULL);
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(json_at(r, "message"), "nmae"));
  http_response_free(r);
  r = http_call("POST", "/v1/depots/x:echo", "{\"name\": ", NULL);
  assert_int_equal(r->status, 400);
  assert_string_equal(error_reason(r), "MALFORMED_JSON");
  http_response_free(r);
  r = http_call("GET", "/v1/echo", "{\"name\":\"x\"}", NULL);
  assert_int_equal(r->status, 400);
  assert_int_equal(json_integer_value(json_object_get(r->json, "code")), 3);
  http_response_free(r);
}

static void test_unknown_route_is_404_and_wrong_verb_is_405_with_allow(void **state) {
  (void)state;
  http_response *r = http_call("GET", "/v1/no-such-thing", NULL, NULL);
  assert_int_equal(r->status, 404);
  assert_int_equal(json_integer_value(json_object_get(r->json, "code")), 5);
  assert_true(json_is_string(json_object_get(r->json, "message")));
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r->json, "details"), 0), "@type")),
                      "type.googleapis.com/google.rpc.ErrorInfo");
  assert_string_equal(r->content_type, "application/json");
  http_response_free(r);
  r = http_call("DELETE", "/v1/echo", NULL, NULL);
  assert_int_equal(r->status, 405);
  assert_non_null(r->allow);
  assert_non_null(strstr(r->allow, "GET"));
  http_response_free(r);
}

static char *big_body(size_t size) {
  char *body = malloc(size + 1);
  memset(body, 'a', size);
  memcpy(body, "{\"name\":\"", 9);
  memcpy(body + size - 2, "\"}", 2);
  body[size] = '\0';
  return body;
}

/* Without a Content-Length the limit is found while reading. */
static void test_oversized_chunked_body_is_a_413(void **state) {
  (void)state;
  char *body = big_body(2u << 20);
  const char *headers[] = {"Transfer-Encoding: chunked", NULL};
  http_response *r = http_call_at(NULL, "POST", "/v1/depots/x:echo", body, NULL, headers);
  free(body);
  assert_int_equal(r->status, 413);
  assert_string_equal(error_reason(r), "PAYLOAD_TOO_LARGE");
  http_response_free(r);
}

/* With a Content-Length over the limit the answer is due before the body is read (curl sends
 * "Expect: 100-continue" for a body this large; the second try sends the body at once). */
static void test_oversized_body_with_content_length_is_a_413(void **state) {
  (void)state;
  char *body = big_body(2u << 20);
  long status[2];
  char reason[2][64];
  const char *no_expect[] = {"Expect:", NULL};
  for (int i = 0; i < 2; i++) {
    http_response *r = http_call_at(NULL, "POST", "/v1/depots/x:echo", body, NULL, i ? no_expect : NULL);
    status[i] = r->status;
    snprintf(reason[i], sizeof reason[i], "%s", error_reason(r));
    if (r->status != 413) fprintf(stderr, "oversized body (%s): status %ld\n", i ? "no Expect" : "Expect", r->status);
    http_response_free(r);
  }
  free(body);
  assert_int_equal(status[0], 413);
  assert_string_equal(reason[0], "PAYLOAD_TOO_LARGE");
  assert_int_equal(status[1], 413);
  assert_string_equal(reason[1], "PAYLOAD_TOO_LARGE");
}

/* ---- 8: proto3 JSON ---- */

static void test_proto3_json_round_trips_every_well_known_shape(void **state) {
  (void)state;
  /* Canonical proto3 JSON: what goes in must come back unchanged. */
  static const char payload[] =
      "{\"fInt64\":\"-9007199254740993\",\"fUint64\":\"18446744073709551615\",\"fSint64\":\"-3\","
      "\"fFixed64\":\"5\",\"fSfixed64\":\"-5\",\"fBytes\":\"AAEC/w==\",\"fEnum\":\"COLOR_GREEN\","
      "\"rEnum\":[\"COLOR_RED\",\"COLOR_GREEN\"],\"rInt64\":[\"1\",\"-2\"],"
      "\"tTimestamp\":\"2026-01-02T03:04:05.123Z\",\"tDuration\":\"1.500s\","
      "\"wString\":\"hi\",\"wInt64\":\"42\",\"wBool\":false,\"wDouble\":1.5,\"wUint64\":\"7\",\"wBytes\":\"aGk=\","
      "\"wInt32\":-4,\"tFieldMask\":\"fInt64,tStruct.a\","
      "\"tStruct\":{\"a\":1.5,\"b\":[true,null,\"x\"],\"c\":{\"d\":\"e\"}},\"tValue\":[2.5,\"two\"],"
      "\"tList\":[0.5,{\"k\":\"v\"}],\"mInt32String\":{\"1\":\"one\"}}";
  http_response *r = http_call("PUT", "/v1/echo/x", payload, NULL);
  assert_int_equal(r->status, 200);
  json_t *sent = json_loads(payload, 0, NULL);
  assert_non_null(sent);
  json_t *echoed = member(r, "echoed", "payload");
  const char *key;
  json_t *value;
  json_object_foreach(sent, key, value) {
    json_t *got = json_object_get(echoed, key);
    if (!json_equal(value, got)) {
      char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
      fprintf(stderr, "%s came back as %s\n", key, g ? g : "(missing)");
      free(g);
    }
    assert_true(json_equal(value, got));
  }
  json_decref(sent);
  http_response_free(r);
  /* non-canonical input comes back canonical: int64 as a number, enum as a number */
  r = http_call("PUT", "/v1/echo/x", "{\"fInt64\":-42,\"fEnum\":2,\"fUint64\":7}", NULL);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "echoed.payload.fInt64"), "-42");
  assert_string_equal(json_at(r, "echoed.payload.fUint64"), "7");
  assert_string_equal(json_at(r, "echoed.payload.fEnum"), "COLOR_GREEN");
  assert_string_equal(json_at(r, "echoed.payload.fSint64"), "0"); /* defaults emitted, 64-bit as strings */
  http_response_free(r);
}

/* ---- 9-10: edge authentication ---- */

static void test_whoami_trusts_only_the_bearer_token(void **state) {
  (void)state;
  http_response *r = http_call("GET", "/v1/whoami", NULL, NULL);
  assert_int_equal(r->status, 401);
  assert_string_equal(error_reason(r), "UNAUTHENTICATED");
  http_response_free(r);

  /* A forged identity correctly signed with the stack's secret: clients cannot inject it. */
  char *secret = harness_stack_secret();
  arena *a = arena_create(4096);
  const char *roles[] = {"admin"};
  const char *value = NULL, *sig = NULL;
  assert_true(identity_sign(a, secret, "forged-user", roles, 1, (int64_t)time(NULL) + 600, &value, &sig));
  free(secret);
  char h_value[1200], h_sig[400];
  snprintf(h_value, sizeof h_value, "X-Metro-Identity: %s", value);
  snprintf(h_sig, sizeof h_sig, "X-Metro-Identity-Sig: %s", sig);
  const char *forged[] = {h_value, h_sig, NULL};
  r = http_call_at(NULL, "GET", "/v1/whoami", NULL, NULL, forged);
  assert_int_equal(r->status, 401);
  http_response_free(r);
  r = http_call_at(NULL, "GET", "/v1/depots/x", NULL, NULL, forged); /* public: anonymous */
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "caller"), "");
  http_response_free(r);

  passenger p;
  register_passenger(&p);
  r = http_call_at(NULL, "GET", "/v1/whoami", NULL, p.access, forged);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "caller"), p.user_id);
  assert_true(roles_are(r, "passenger"));
  http_response_free(r);
  arena_destroy(a);

  r = http_call("GET", "/v1/whoami", NULL, p.access);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_at(r, "caller"), p.user_id);
  assert_true(roles_are(r, "passenger"));
  http_response_free(r);
}

static void test_admin_only_route_needs_the_admin_role(void **state) {
  (void)state;
  passenger p;
  register_passenger(&p);
  http_response *r = http_call("GET", "/v1/admin-only", NULL, p.access);
  assert_int_equal(r->status, 403);
  assert_string_equal(error_reason(r), "PERMISSION_DENIED");
  http_response_free(r);
  char admin[2048];
  admin_token(admin, sizeof admin);
  r = http_call("GET", "/v1/admin-only", NULL, admin);
  assert_int_equal(r->status, 200);
  assert_true(strlen(json_at(r, "caller")) > 0);
  bool has_admin = false;
  json_t *role;
  size_t i;
  json_array_foreach(json_object_get(r->json, "callerRoles"), i, role) has_admin |=
      strcmp(json_string_value(role), "admin") == 0;
  assert_true(has_admin);
  http_response_free(r);
}

/* ---- 11: service errors ---- */

static http_response *fail_with(int code, const char *reason) {
  char body[256];
  snprintf(body, sizeof body, "{\"code\":%d,\"reason\":\"%s\",\"message\":\"gone\"}", code, reason);
  return http_call("POST", "/v1/fail", body, NULL);
}

static void test_service_errors_become_google_rpc_status_bodies(void **state) {
  (void)state;
  http_response *r = fail_with(5, "TICKET_USED");
  assert_int_equal(r->status, 404);
  assert_int_equal(json_integer_value(json_object_get(r->json, "code")), 5);
  assert_string_equal(json_at(r, "message"), "gone");
  json_t *details = json_object_get(r->json, "details");
  assert_int_equal(json_array_size(details), 1);
  json_t *info = json_array_get(details, 0);
  assert_string_equal(json_string_value(json_object_get(info, "@type")), "type.googleapis.com/google.rpc.ErrorInfo");
  assert_string_equal(json_string_value(json_object_get(info, "reason")), "TICKET_USED");
  assert_true(strlen(json_string_value(json_object_get(info, "domain"))) > 0);
  http_response_free(r);
}

static void test_grpc_codes_map_to_http_statuses(void **state) {
  (void)state;
  static const struct {
    int code;
    long http;
  } table[] = {{3, 400}, {7, 403}, {16, 401}, {6, 409}, {8, 429}, {9, 400},
               {10, 409}, {12, 501}, {13, 500}, {14, 503}, {4, 504}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    http_response *r = fail_with(table[i].code, "SOME_REASON");
    if (r->status != table[i].http) fprintf(stderr, "code %d -> %ld\n", table[i].code, r->status);
    assert_int_equal(r->status, table[i].http);
    assert_int_equal(json_integer_value(json_object_get(r->json, "code")), table[i].code);
    http_response_free(r);
  }
  http_response *r = fail_with(7, "ACCOUNT_LOCKED");
  assert_int_equal(r->status, 423);
  assert_non_null(r->retry_after);
  assert_string_equal(r->retry_after, "42");
  http_response_free(r);
}

/* ---- 12-14: request ids, built-in endpoints, CORS ---- */

static void test_request_id_is_propagated_or_generated(void **state) {
  (void)state;
  const char *id = unique_name("itest-req-");
  char header[160];
  snprintf(header, sizeof header, "X-Request-Id: %s", id);
  const char *headers[] = {header, NULL};
  http_response *r = http_call_at(NULL, "GET", "/v1/depots/x", NULL, NULL, headers);
  assert_int_equal(r->status, 200);
  assert_non_null(r->request_id);
  assert_string_equal(r->request_id, id);
  assert_string_equal(json_at(r, "requestId"), id);
  http_response_free(r);
  r = http_call("GET", "/v1/depots/x", NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_non_null(r->request_id);
  assert_true(strlen(r->request_id) >= 16);
  assert_string_equal(json_at(r, "requestId"), r->request_id);
  http_response_free(r);
  char hostile[300] = "X-Request-Id: ";
  memset(hostile + 14, 'z', 200); /* over the 128-character bound: replaced, never echoed */
  const char *too_long[] = {hostile, NULL};
  r = http_call_at(NULL, "GET", "/v1/depots/x", NULL, NULL, too_long);
  assert_int_equal(r->status, 200);
  assert_non_null(r->request_id);
  assert_null(strstr(r->request_id, "zzzz"));
  assert_string_equal(json_at(r, "requestId"), r->request_id);
  http_response_free(r);
}

static void test_health_metrics_and_openapi_endpoints(void **state) {
  (void)state;
  http_response *r = http_call("GET", "/healthz", NULL, NULL);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  r = http_call("GET", "/readyz", NULL, NULL);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  /* /metrics is on the admin port only (METRO_TRANSCODER_METRICS), never on the REST port */
  r = http_call("GET", "/metrics", NULL, NULL);
  assert_int_equal(r->status, 404);
  http_response_free(r);
  char admin[96];
  snprintf(admin, sizeof admin, "http://%s", harness_env("METRO_TRANSCODER_METRICS"));
  r = http_call_at(admin, "GET", "/metrics", NULL, NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_null(strstr(r->body, "route=\"/readyz\"")); /* built-in endpoints are not routes */
  assert_non_null(strstr(r->body, "# TYPE http_requests_total counter"));
  assert_non_null(strstr(r->body, "\nhttp_requests_total{code=\"404\",method=\"GET\",route=\"unmatched\"} "));
  assert_non_null(strstr(r->body, "# TYPE http_request_duration_seconds histogram"));
  assert_non_null(
      strstr(r->body, "\nhttp_request_duration_seconds_bucket{method=\"GET\",route=\"unmatched\",le=\"+Inf\"} "));
  http_response_free(r);
  r = http_call_at(admin, "GET", "/readyz", NULL, NULL, NULL);
  assert_int_equal(r->status, 200);
  http_response_free(r);
  r = http_call("GET", "/openapi.json", NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_true(strlen(json_at(r, "openapi")) > 0);
  json_t *paths = json_object_get(r->json, "paths");
  assert_non_null(json_object_get(json_object_get(paths, "/v1/auth/login"), "post"));
  /* {name=depots/STAR} is emitted as "/v1/{name}", its shape as the parameter's pattern */
  json_t *get = json_object_get(json_object_get(paths, "/v1/{name}"), "get");
  assert_non_null(get);
  json_t *param = json_array_get(json_object_get(get, "parameters"), 0);
  assert_string_equal(json_string_value(json_object_get(param, "name")), "name");
  assert_string_equal(json_string_value(json_object_get(param, "in")), "path");
  assert_string_equal(json_string_value(json_object_get(json_object_get(param, "schema"), "pattern")),
                      "depots/[^/]+");
  assert_non_null(json_object_get(json_object_get(paths, "/v1/{name}:echo"), "post"));
  assert_non_null(json_object_get(json_object_get(paths, "/v1/echo/{inner.label}"), "put"));
  http_response_free(r);
}

static void test_cors_allows_only_configured_origins(void **state) {
  (void)state;
  const char *preflight[] = {"Origin: " APP_ORIGIN, "Access-Control-Request-Method: GET", NULL};
  http_response *r = http_call_at(NULL, "OPTIONS", "/v1/echo", NULL, NULL, preflight);
  assert_int_equal(r->status, 204);
  assert_non_null(r->cors_origin);
  assert_string_equal(r->cors_origin, APP_ORIGIN);
  http_response_free(r);
  const char *app[] = {"Origin: " APP_ORIGIN, NULL};
  r = http_call_at(NULL, "GET", "/v1/echo", NULL, NULL, app);
  assert_int_equal(r->status, 200);
  assert_non_null(r->cors_origin);
  assert_string_equal(r->cors_origin, APP_ORIGIN);
  http_response_free(r);
  const char *evil_preflight[] = {"Origin: https://evil.example", "Access-Control-Request-Method: GET", NULL};
  r = http_call_at(NULL, "OPTIONS", "/v1/echo", NULL, NULL, evil_preflight);
  assert_null(r->cors_origin);
  http_response_free(r);
  const char *evil[] = {"Origin: https://evil.example", NULL};
  r = http_call_at(NULL, "GET", "/v1/echo", NULL, NULL, evil);
  assert_int_equal(r->status, 200);
  assert_null(r->cors_origin);
  http_response_free(r);
}

/* ---- 15: keep-alive ---- */

static size_t discard(char *p, size_t size, size_t n, void *user) {
  (void)p;
  (void)user;
  return size * n;
}

/* One request on a reused easy handle; returns the HTTP status and the new connections it opened. */
static long reused_get(CURL *c, const char *path, long *new_connections) {
  char url[512];
  snprintf(url, sizeof url, "%s%s", harness_env("METRO_HTTP"), path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  long status = -1;
  if (curl_easy_perform(c) != CURLE_OK) return -1;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, new_connections);
  return status;
}

static void test_keep_alive_reuses_one_connection(void **state) {
  (void)state;
  CURL *c = curl_easy_init();
  static const char *const paths[] = {"/v1/depots/a", "/v1/echo?pageSize=1", "/v1/no-such-route", "/healthz",
                                      "/v1/depots/b"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    long opened = -1;
    long status = reused_get(c, paths[i], &opened);
    assert_true(status == 200 || status == 404);
    if (i > 0 && opened != 0) fprintf(stderr, "%s opened %ld new connection(s)\n", paths[i], opened);
    assert_int_equal(opened, i == 0 ? 1 : 0);
  }
  curl_easy_cleanup(c);
}

/* ---- 16: backend failures ---- */

static void test_unreachable_backend_is_a_503(void **state) {
  (void)state;
  char backends[256], base[64];
  snprintf(backends, sizeof backends, "auth=%s,testing=127.0.0.1:%d", harness_env("METRO_AUTH_GRPC"), free_port());
  int pid = start_gateway(backends, NULL, base, sizeof base, "transcoder-unreachable");
  http_response *r = http_call_at(base, "GET", "/v1/echo", NULL, NULL, NULL);
  long status = r->status;
  if (status != 503) fprintf(stderr, "unreachable backend: %ld %s\n", r->status, r->body);
  http_response_free(r);
  stop_gateway(pid);
  assert_int_equal(status, 503);
}

static void test_backend_deadline_is_a_504(void **state) {
  (void)state;
  char backends[256], base[64];
  snprintf(backends, sizeof backends, "auth=%s,testing=%s", harness_env("METRO_AUTH_GRPC"),
           harness_env("METRO_ECHO_GRPC"));
  int pid = start_gateway(backends, "METRO_BACKEND_TIMEOUT_MS=300", base, sizeof base, "transcoder-deadline");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  http_response *r = http_call_at(base, "POST", "/v1/sleep", "{\"millis\":2000}", NULL, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long status = r->status;
  if (status != 504) fprintf(stderr, "deadline: %ld %s\n", r->status, r->body);
  http_response_free(r);
  stop_gateway(pid);
  assert_int_equal(status, 504);
  double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(took < 1.5);
}

/* ---- 17: raw HTTP methods (metro.api.v1.HttpRequest / HttpResponse) ---- */

typedef struct raw_reply {
  long status;
  char *body; /* NUL-terminated after len bytes */
  size_t len;
  char headers[16384]; /* every response header line, as received */
  size_t headers_len;
  json_t *json; /* the body, when it is JSON */
} raw_reply;

static size_t raw_on_body(char *p, size_t size, size_t n, void *user) {
  raw_reply *r = user;
  size_t add = size * n;
  r->body = realloc(r->body, r->len + add + 1);
  memcpy(r->body + r->len, p, add);
  r->len += add;
  r->body[r->len] = '\0';
  return add;
}

static size_t raw_on_header(char *p, size_t size, size_t n, void *user) {
  raw_reply *r = user;
  size_t add = size * n;
  if (r->headers_len + add < sizeof r->headers) {
    memcpy(r->headers + r->headers_len, p, add);
    r->headers_len += add;
    r->headers[r->headers_len] = '\0';
  }
  return add;
}

/* A request with any body bytes (len may include NULs) and extra headers; redirects not followed. */
static raw_reply *raw_call(const char *method, const char *path, const void *body, size_t len,
                           const char *const *headers) {
  raw_reply *r = calloc(1, sizeof *r);
  CURL *c = curl_easy_init();
  char url[4096];
  snprintf(url, sizeof url, "%s%s", harness_env("METRO_HTTP"), path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, raw_on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
  }
  struct curl_slist *h = NULL;
  for (const char *const *p = headers; p && *p; p++) h = curl_slist_append(h, *p);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  else r->status = -1;
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  if (!r->body) r->body = calloc(1, 1);
  r->json = json_loadb(r->body, r->len, 0, NULL);
  return r;
}

static void raw_reply_free(raw_reply *r) {
  json_decref(r->json);
  free(r->body);
  free(r);
}

/* How many response headers are named `name` (any case); the last one's value goes to out. */
static int raw_header(const raw_reply *r, const char *name, char *out, size_t cap) {
  int count = 0;
  size_t n = strlen(name);
  if (cap) out[0] = '\0';
  for (const char *line = r->headers; *line;) {
    const char *end = strstr(line, "\r\n");
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
      const char *v = line + n + 1;
      while (*v == ' ') v++;
      snprintf(out, cap, "%.*s", (int)(len - (size_t)(v - line)), v);
      count++;
    }
    line += len + (end ? 2 : 0);
  }
  return count;
}

/* A string member of RawEcho's "request" object (proto3 JSON of the HttpRequest). */
static const char *seen(const raw_reply *r, const char *member) {
  const char *v = json_string_value(json_object_get(json_object_get(r->json, "request"), member));
  return v ? v : "";
}

/* The value of the one request header the service saw named `name`, or NULL (count in *n). */
static const char *seen_header(const raw_reply *r, const char *name, int *n) {
  const char *value = NULL;
  size_t i;
  json_t *h;
  *n = 0;
  json_array_foreach(json_object_get(json_object_get(r->json, "request"), "headers"), i, h) {
    if (strcmp(json_string_value(json_object_get(h, "name")), name) == 0) {
      value = json_string_value(json_object_get(h, "value"));
      (*n)++;
    }
  }
  return value;
}

/* The body the service saw (base64 in proto3 JSON), decoded into out; its length. */
static size_t seen_body(const raw_reply *r, uint8_t *out, size_t cap) {
  const char *b64 = seen(r, "body");
  size_t len = 0;
  assert_true(b64_decode(B64_STD, b64, strlen(b64), out, cap, &len));
  return len;
}

static void expect_raw_query(const char *path, const char *query) {
  char full[512];
  snprintf(full, sizeof full, "%s?%s", path, query);
  raw_reply *r = raw_call("GET", full, NULL, 0, NULL);
  assert_int_equal(r->status, 200);
  if (strcmp(seen(r, "rawQuery"), query) != 0) fprintf(stderr, "sent %s, service saw %s\n", query, seen(r, "rawQuery"));
  assert_string_equal(seen(r, "rawQuery"), query);
  raw_reply_free(r);
}

static void test_raw_get_keeps_the_query_string_byte_for_byte(void **state) {
  (void)state;
  raw_reply *r = raw_call("GET", "/v1/raw/vnpay/echo?b=2&a=1%2B1&c=%E1%BA%BF", NULL, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_non_null(r->json);
  assert_string_equal(seen(r, "rawQuery"), "b=2&a=1%2B1&c=%E1%BA%BF"); /* order and encoding as sent */
  assert_string_equal(seen(r, "method"), "GET");
  assert_string_equal(seen(r, "path"), "/v1/raw/vnpay/echo");
  assert_string_equal(seen(r, "clientIp"), "127.0.0.1");
  assert_string_equal(seen(r, "body"), "");
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(json_object_get(r->json, "request"), "pathParams"), "channel")),
                      "vnpay");
  char value[256];
  assert_int_equal(raw_header(r, "Content-Type", value, sizeof value), 1);
  assert_string_equal(value, "application/json"); /* the default content type */
  assert_int_equal(raw_header(r, "Cache-Control", value, sizeof value), 1);
  assert_string_equal(value, "no-store");
  assert_int_equal(raw_header(r, "X-Request-Id", value, sizeof value), 1);
  raw_reply_free(r);
  /* what the JSON mapping would refuse or decode passes untouched */
  expect_raw_query("/v1/raw/vnpay/echo", "z=%zz&&flag&sig=A+B%3d&sig=again&=");
  expect_raw_query("/v1/raw/vnpay/echo", "vnp_Amount=1000000&vnp_OrderInfo=Thanh+toan+ve+%23T-1&vnp_SecureHash=Ab12");
  r = raw_call("GET", "/v1/raw/a%20b/echo", NULL, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_string_equal(seen(r, "rawQuery"), "");
  assert_string_equal(seen(r, "path"), "/v1/raw/a%20b/echo");
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(json_object_get(r->json, "request"), "pathParams"), "channel")),
                      "a b");
  raw_reply_free(r);
}

static void test_raw_post_body_arrives_unchanged(void **state) {
  (void)state;
  static const uint8_t binary[] = {0x00, 0xff, 0x10, '\r', '\n', '{', 0x80, 0xc3, 0x28, 0x00, '%', '2', '0'};
  const char *octets[] = {"Content-Type: application/octet-stream", NULL};
  raw_reply *r = raw_call("POST", "/v1/raw/paypal/echo", binary, sizeof binary, octets);
  assert_int_equal(r->status, 200);
  uint8_t got[4096];
  assert_int_equal(seen_body(r, got, sizeof got), sizeof binary);
  assert_memory_equal(got, binary, sizeof binary);
  assert_string_equal(seen(r, "method"), "POST");
  int n;
  assert_string_equal(seen_header(r, "content-type", &n), "application/octet-stream");
  raw_reply_free(r);

  static const char form[] = "vnp_Amount=1000000&vnp_OrderInfo=Thanh+toan+%C4%91on&vnp_SecureHash=ab12";
  const char *urlencoded[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
  r = raw_call("POST", "/v1/raw/vnpay/echo?x=1", form, strlen(form), urlencoded);
  assert_int_equal(r->status, 200);
  size_t len = seen_body(r, got, sizeof got);
  assert_int_equal(len, strlen(form));
  assert_memory_equal(got, form, len);
  assert_string_equal(seen(r, "rawQuery"), "x=1");
  raw_reply_free(r);

  static const char not_json[] = "{\"amount\": 1, \"amount\": 2, trailing";
  const char *json_type[] = {"Content-Type: application/json", NULL};
  r = raw_call("POST", "/v1/raw/sepay/echo", not_json, strlen(not_json), json_type);
  assert_int_equal(r->status, 200); /* not parsed: the service decides */
  len = seen_body(r, got, sizeof got);
  assert_int_equal(len, strlen(not_json));
  assert_memory_equal(got, not_json, len);
  raw_reply_free(r);
}

static void test_raw_headers_are_passed_lower_cased_without_cookie(void **state) {
  (void)state;
  const char *headers[] = {"PAYPAL-TRANSMISSION-SIG: AbC==/x", "Authorization: Apikey sk_live_123",
                           "Cookie: session=secret", "X-Dup: 1", "X-Dup: 2", NULL};
  raw_reply *r = raw_call("GET", "/v1/raw/sepay/echo", NULL, 0, headers);
  assert_int_equal(r->status, 200); /* a public route: an Authorization that is no bearer token is left alone */
  int n;
  assert_string_equal(seen_header(r, "paypal-transmission-sig", &n), "AbC==/x");
  assert_int_equal(n, 1);
  assert_string_equal(seen_header(r, "authorization", &n), "Apikey sk_live_123");
  assert_null(seen_header(r, "cookie", &n));
  assert_int_equal(n, 0);
  assert_string_equal(seen_header(r, "x-dup", &n), "2");
  assert_int_equal(n, 2);
  assert_non_null(seen_header(r, "host", &n));
  size_t i;
  json_t *h;
  json_array_foreach(json_object_get(json_object_get(r->json, "request"), "headers"), i, h) {
    const char *name = json_string_value(json_object_get(h, "name"));
    for (const char *p = name; *p; p++) assert_false(*p >= 'A' && *p <= 'Z');
    assert_null(strstr(json_string_value(json_object_get(h, "value")), "session=secret"));
  }
  raw_reply_free(r);
}

static void test_raw_methods_keep_edge_authentication(void **state) {
  (void)state;
  raw_reply *r = raw_call("GET", "/v1/raw/whoami?a=1", NULL, 0, NULL);
  assert_int_equal(r->status, 401);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r->json, "details"), 0),
                                                        "reason")),
                      "UNAUTHENTICATED");
  raw_reply_free(r);
  passenger p;
  register_passenger(&p);
  char bearer[2200];
  snprintf(bearer, sizeof bearer, "Authorization: Bearer %s", p.access);
  const char *auth[] = {bearer, NULL};
  r = raw_call("GET", "/v1/raw/whoami?a=1", NULL, 0, auth);
  assert_int_equal(r->status, 200);
  assert_string_equal(json_string_value(json_object_get(r->json, "caller")), p.user_id);
  assert_string_equal(seen(r, "rawQuery"), "a=1");
  raw_reply_free(r);
}

static void test_raw_answer_redirects_with_location(void **state) {
  (void)state;
  raw_reply *r = raw_call("GET", "/v1/raw/redirect?vnp_ResponseCode=00&vnp_TxnRef=T%2F1", NULL, 0, NULL);
  assert_int_equal(r->status, 302);
  char value[512];
  assert_int_equal(raw_header(r, "Location", value, sizeof value), 1);
  assert_string_equal(value, "https://shop.example/return?vnp_ResponseCode=00&vnp_TxnRef=T%2F1");
  assert_int_equal(raw_header(r, "Content-Type", value, sizeof value), 1);
  assert_string_equal(value, "text/plain");
  assert_int_equal(r->len, 0);
  raw_reply_free(r);
}

/* RawAnswer writes back the HttpResponse it is sent (as JSON). */
static raw_reply *raw_answer(const char *json) {
  static const char *const json_type[] = {"Content-Type: application/json", NULL};
  return raw_call("POST", "/v1/raw/answer", json, strlen(json), json_type);
}

static void test_raw_answer_writes_status_type_headers_and_body(void **state) {
  (void)state;
  /* body: 00 ff 25 50 44 46 0a (NUL, 0xff, "%PDF\n") */
  raw_reply *r = raw_answer("{\"status\":201,\"contentType\":\"application/pdf\",\"body\":\"AP8lUERGCg==\","
                            "\"headers\":[{\"name\":\"cache-control\",\"value\":\"max-age=60\"},"
                            "{\"name\":\"Content-Disposition\",\"value\":\"attachment; filename=\\\"t.pdf\\\"\"}]}");
  assert_int_equal(r->status, 201);
  static const uint8_t pdf[] = {0x00, 0xff, '%', 'P', 'D', 'F', '\n'};
  assert_int_equal(r->len, sizeof pdf);
  assert_memory_equal(r->body, pdf, sizeof pdf);
  char value[256];
  assert_int_equal(raw_header(r, "Content-Type", value, sizeof value), 1);
  assert_string_equal(value, "application/pdf");
  assert_int_equal(raw_header(r, "Cache-Control", value, sizeof value), 1); /* replaces no-store */
  assert_string_equal(value, "max-age=60");
  assert_int_equal(raw_header(r, "Content-Disposition", value, sizeof value), 1);
  assert_string_equal(value, "attachment; filename=\"t.pdf\"");
  raw_reply_free(r);
  r = raw_answer("{\"status\":200,\"body\":\"eyJSc3BDb2RlIjoiMDAifQ==\"}"); /* {"RspCode":"00"}, as VNPay wants it */
  assert_int_equal(r->status, 200);
  assert_string_equal(r->body, "{\"RspCode\":\"00\"}");
  assert_int_equal(raw_header(r, "Content-Type", value, sizeof value), 1);
  assert_string_equal(value, "application/json");
  raw_reply_free(r);
  r = raw_answer("{\"status\":204}");
  assert_int_equal(r->status, 204);
  assert_int_equal(r->len, 0);
  raw_reply_free(r);
}

static void test_raw_answer_out_of_contract_is_a_502(void **state) {
  (void)state;
  static const char *const bad[] = {
      "{\"status\":99}",
      "{\"status\":600}",
      "{}", /* status 0 */
      "{\"status\":200,\"headers\":[{\"name\":\"Set-Cookie\",\"value\":\"a=b\"}]}",
      "{\"status\":200,\"headers\":[{\"name\":\"Access-Control-Allow-Origin\",\"value\":\"*\"}]}",
      "{\"status\":302,\"headers\":[{\"name\":\"Location\",\"value\":\"/x\\r\\nSet-Cookie: a=b\"}]}",
      "{\"status\":200,\"contentType\":\"text/html\\nX-Evil: 1\"}",
      "{\"status\":204,\"body\":\"eA==\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    raw_reply *r = raw_answer(bad[i]);
    long status = r->status;
    char reason[64] = "", cookie[64];
    const char *why = json_string_value(json_object_get(json_array_get(json_object_get(r->json, "details"), 0), "reason"));
    snprintf(reason, sizeof reason, "%s", why ? why : "");
    int cookies = raw_header(r, "Set-Cookie", cookie, sizeof cookie);
    if (status != 502) fprintf(stderr, "%s -> %ld %s\n", bad[i], status, r->body);
    raw_reply_free(r);
    assert_int_equal(status, 502);
    assert_string_equal(reason, "BAD_HTTP_ANSWER");
    assert_int_equal(cookies, 0);
  }
}

static void test_raw_route_refuses_a_body_it_does_not_take(void **state) {
  (void)state;
  raw_reply *r = raw_call("GET", "/v1/raw/vnpay/echo?a=1", "x", 1, NULL);
  assert_int_equal(r->status, 400);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r->json, "details"), 0),
                                                        "reason")),
                      "UNEXPECTED_BODY");
  raw_reply_free(r);
}

int main(void) {
  harness_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_path_template_binds_the_resource_name),
      cmocka_unit_test(test_percent_escapes_in_a_segment_are_decoded_exactly_once),
      cmocka_unit_test(test_path_variables_win_over_the_body),
      cmocka_unit_test(test_body_field_rule_fills_the_named_field),
      cmocka_unit_test(test_query_parameters_map_scalars_repeated_enums_and_nested_fields),
      cmocka_unit_test(test_bad_input_is_a_400_naming_the_problem),
      cmocka_unit_test(test_unknown_route_is_404_and_wrong_verb_is_405_with_allow),
      cmocka_unit_test(test_oversized_chunked_body_is_a_413),
      cmocka_unit_test(test_oversized_body_with_content_length_is_a_413),
      cmocka_unit_test(test_proto3_json_round_trips_every_well_known_shape),
      cmocka_unit_test(test_whoami_trusts_only_the_bearer_token),
      cmocka_unit_test(test_admin_only_route_needs_the_admin_role),
      cmocka_unit_test(test_service_errors_become_google_rpc_status_bodies),
      cmocka_unit_test(test_grpc_codes_map_to_http_statuses),
      cmocka_unit_test(test_request_id_is_propagated_or_generated),
      cmocka_unit_test(test_health_metrics_and_openapi_endpoints),
      cmocka_unit_test(test_cors_allows_only_configured_origins),
      cmocka_unit_test(test_keep_alive_reuses_one_connection),
      cmocka_unit_test(test_unreachable_backend_is_a_503),
      cmocka_unit_test(test_backend_deadline_is_a_504),
      cmocka_unit_test(test_raw_get_keeps_the_query_string_byte_for_byte),
      cmocka_unit_test(test_raw_post_body_arrives_unchanged),
      cmocka_unit_test(test_raw_headers_are_passed_lower_cased_without_cookie),
      cmocka_unit_test(test_raw_methods_keep_edge_authentication),
      cmocka_unit_test(test_raw_answer_redirects_with_location),
      cmocka_unit_test(test_raw_answer_writes_status_type_headers_and_body),
      cmocka_unit_test(test_raw_answer_out_of_contract_is_a_502),
      cmocka_unit_test(test_raw_route_refuses_a_body_it_does_not_take),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
