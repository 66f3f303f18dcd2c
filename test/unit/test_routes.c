/* Unit tests of transcoder/routes and transcoder/openapi: the route table built from the
 * google.api.http rules (matching, precedence, 404/405, build errors, raw HTTP methods) and the
 * OpenAPI document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/descset.h"
#include "transcoder/openapi.h"
#include "transcoder/routes.h"

extern const unsigned char metro_descriptor_set[];
extern const size_t metro_descriptor_set_len;
extern const unsigned char metro_testing_descriptor_set[];
extern const size_t metro_testing_descriptor_set_len;

#define ECHO "/metro.testing.v1.EchoService/"
#define AUTH "/metro.auth.v1.AuthService/"
#define RAW "/metro.testing.v1.RawEchoService/"
#define RAW_IN ".metro.api.v1.HttpRequest"
#define RAW_OUT ".metro.api.v1.HttpResponse"

typedef struct fixture {
  descset *d;
  route_table *t;
  arena *a;
} fixture;

static int setup_set(void **state, const uint8_t *set, size_t len) {
  fixture *f = calloc(1, sizeof(*f));
  char err[512] = "";
  f->d = descset_load(&set, &len, 1, err, sizeof err);
  assert_non_null(f->d);
  f->t = route_table_build(f->d, err, sizeof err);
  if (!f->t) fail_msg("route_table_build: %s", err);
  f->a = arena_create(0);
  *state = f;
  return 0;
}

static int setup_testing(void **state) {
  return setup_set(state, metro_testing_descriptor_set, metro_testing_descriptor_set_len);
}

static int setup_auth(void **state) { return setup_set(state, metro_descriptor_set, metro_descriptor_set_len); }

static int teardown(void **state) {
  fixture *f = *state;
  route_table_free(f->t);
  descset_free(f->d);
  arena_destroy(f->a);
  free(f);
  return 0;
}

static const route_match *expect_found(fixture *f, const char *verb, const char *path, const char *method_path) {
  static route_match m;
  route_result r = route_table_match(f->t, f->a, verb, path, &m);
  if (r != ROUTE_FOUND) fail_msg("%s %s: result %d", verb, path, (int)r);
  assert_string_equal(m.route->method->path, method_path);
  return &m;
}

static route_result result_of(fixture *f, const char *verb, const char *path) {
  route_match m;
  return route_table_match(f->t, f->a, verb, path, &m);
}

/* ---- a FileDescriptorSet built in the test ---- */

typedef struct rule_spec {
  const char *method;
  const char *verb; /* GET POST ... or a custom kind */
  const char *path;
  const char *body;
} rule_spec;

/* A method's request and response types; without them both are .t.v1.Req. */
typedef struct io_types {
  const char *input, *output;
} io_types;

/* Package t.v1, message Req {string id, other, path; Req child}, service Svc with one method a spec. */
static uint8_t *make_set(const rule_spec *specs, const io_types *types, int n, size_t *len) {
  Google__Protobuf__FieldDescriptorProto fields[4];
  Google__Protobuf__FieldDescriptorProto *field_ptrs[4];
  static const char *const names[] = {"id", "other", "path", "child"};
  for (int i = 0; i < 4; i++) {
    google__protobuf__field_descriptor_proto__init(&fields[i]);
    fields[i].name = (char *)names[i];
    fields[i].has_number = fields[i].has_type = fields[i].has_label = true;
    fields[i].number = i + 1;
    fields[i].label = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL;
    fields[i].type = i < 3 ? GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING
                           : GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE;
    if (i == 3) fields[i].type_name = ".t.v1.Req";
    field_ptrs[i] = &fields[i];
  }
  Google__Protobuf__DescriptorProto req = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
  Google__Protobuf__DescriptorProto *req_ptr = &req;
  req.name = "Req";
  req.n_field = 4;
  req.field = field_ptrs;

  enum { MAX = 8 };
  assert_true(n <= MAX);
  Google__Protobuf__MethodDescriptorProto methods[MAX];
  Google__Protobuf__MethodDescriptorProto *method_ptrs[MAX];
  Google__Protobuf__MethodOptions options[MAX];
  ProtobufCMessageUnknownField unknown[MAX];
  uint8_t payload[MAX][256];
  for (int i = 0; i < n; i++) {
    Google__Api__HttpRule rule = GOOGLE__API__HTTP_RULE__INIT;
    Google__Api__CustomHttpPattern custom = GOOGLE__API__CUSTOM_HTTP_PATTERN__INIT;
    char *p = (char *)specs[i].path;
    if (strcmp(specs[i].verb, "GET") == 0) rule.pattern_case = GOOGLE__API__HTTP_RULE__PATTERN_GET, rule.get = p;
    else if (strcmp(specs[i].verb, "POST") == 0) rule.pattern_case = GOOGLE__API__HTTP_RULE__PATTERN_POST, rule.post = p;
    else if (strcmp(specs[i].verb, "DELETE") == 0) rule.pattern_case = GOOGLE__API__HTTP_RULE__PATTERN_DELETE, rule.delete_ = p;
    else {
      custom.kind = (char *)specs[i].verb;
      custom.path = p;
      rule.pattern_case = GOOGLE__API__HTTP_RULE__PATTERN_CUSTOM;
      rule.custom = &custom;
    }
    rule.body = (char *)(specs[i].body ? specs[i].body : "");
    size_t rlen = google__api__http_rule__get_packed_size(&rule);
    assert_true(rlen < 120);
    payload[i][0] = (uint8_t)rlen; /* a one-byte varint length prefix, as protobuf-c keeps it */
    google__api__http_rule__pack(&rule, payload[i] + 1);
    unknown[i] = (ProtobufCMessageUnknownField){.tag = DESCSET_EXT_HTTP,
                                                .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
                                                .len = rlen + 1,
                                                .data = payload[i]};
    google__protobuf__method_options__init(&options[i]);
    options[i].base.n_unknown_fields = 1;
    options[i].base.unknown_fields = &unknown[i];
    google__protobuf__method_descriptor_proto__init(&methods[i]);
    methods[i].name = (char *)specs[i].method;
    methods[i].input_type = (char *)(types ? types[i].input : ".t.v1.Req");
    methods[i].output_type = (char *)(types ? types[i].output : ".t.v1.Req");
    methods[i].options = &options[i];
    method_ptrs[i] = &methods[i];
  }
  Google__Protobuf__ServiceDescriptorProto svc = GOOGLE__PROTOBUF__SERVICE_DESCRIPTOR_PROTO__INIT;
  Google__Protobuf__ServiceDescriptorProto *svc_ptr = &svc;
  svc.name = "Svc";
  svc.n_method = (size_t)n;
  svc.method = method_ptrs;
  Google__Protobuf__FileDescriptorProto file = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_PROTO__INIT;
  Google__Protobuf__FileDescriptorProto *file_ptr = &file;
  file.name = "t/v1/t.proto";
  file.package = "t.v1";
  file.n_message_type = 1;
  file.message_type = &req_ptr;
  file.n_service = 1;
  file.service = &svc_ptr;
  Google__Protobuf__FileDescriptorSet set = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_SET__INIT;
  set.n_file = 1;
  set.file = &file_ptr;
  *len = google__protobuf__file_descriptor_set__get_packed_size(&set);
  uint8_t *out = malloc(*len);
  google__protobuf__file_descriptor_set__pack(&set, out);
  return out;
}

/* Builds a table from specs (types may be NULL): returns it, or NULL with err filled. *d must be freed. */
static route_table *build_typed(const rule_spec *specs, const io_types *types, int n, descset **d, char *err,
                                size_t errlen) {
  size_t len;
  uint8_t *bytes = make_set(specs, types, n, &len);
  const uint8_t *sets[] = {bytes};
  *d = descset_load(sets, &len, 1, err, errlen);
  free(bytes);
  assert_non_null(*d);
  return route_table_build(*d, err, errlen);
}

static route_table *build_from(const rule_spec *specs, int n, descset **d, char *err, size_t errlen) {
  return build_typed(specs, NULL, n, d, err, errlen);
}

/* ---- the testing service ---- */

static void test_every_binding_becomes_a_route(void **state) {
  fixture *f = *state;
  const route *routes;
  int n = route_table_routes(f->t, &routes);
  assert_int_equal(n, 13); /* Echo: 1 + 3 additional; WhoAmI, AdminOnly, Sleep, Fail; RawEcho: 1 + 1;
                              RawWhoAmI, RawRedirect, RawAnswer */
  assert_string_equal(routes[0].template_text, "/v1/{name=depots/*}");
  assert_int_equal(routes[2].binding_index, 2);
  assert_string_equal(routes[2].body, "payload");
  assert_string_equal(routes[2].http_method, "PUT");
  assert_string_equal(routes[0].body, "");
  assert_string_equal(routes[0].response_body, "");
  assert_false(routes[0].raw_request || routes[0].raw_response);
}

static void test_raw_methods_route_with_path_params_by_name(void **state) {
  fixture *f = *state;
  const route_match *m = expect_found(f, "GET", "/v1/raw/vn%20pay/echo", RAW "RawEcho");
  assert_true(m->route->raw_request);
  assert_true(m->route->raw_response);
  assert_string_equal(m->route->body, "");
  assert_int_equal(m->n_bindings, 1);
  assert_string_equal(m->bindings[0].field_path, "channel"); /* no field of HttpRequest: a path_params key */
  assert_string_equal(m->bindings[0].value, "vn pay");
  m = expect_found(f, "POST", "/v1/raw/x/echo", RAW "RawEcho");
  assert_string_equal(m->route->body, "*");
  m = expect_found(f, "POST", "/v1/raw/answer", RAW "RawAnswer");
  assert_false(m->route->raw_request); /* a JSON request answered raw */
  assert_true(m->route->raw_response);
}

static void test_matches_multi_segment_variable(void **state) {
  fixture *f = *state;
  const route_match *m = expect_found(f, "GET", "/v1/depots/ben-thanh", ECHO "Echo");
  assert_int_equal(m->route->binding_index, 0);
  assert_int_equal(m->n_bindings, 1);
  assert_string_equal(m->bindings[0].field_path, "name");
  assert_string_equal(m->bindings[0].value, "depots/ben-thanh");
}

static void test_matches_verb_suffix(void **state) {
  fixture *f = *state;
  const route_match *m = expect_found(f, "POST", "/v1/depots/ben-thanh:echo", ECHO "Echo");
  assert_int_equal(m->route->binding_index, 1);
  assert_string_equal(m->route->body, "*");
  assert_string_equal(m->bindings[0].value, "depots/ben-thanh");
}

static void test_matches_nested_field_path_with_decoding(void **state) {
  fixture *f = *state;
  const route_match *m = expect_found(f, "PUT", "/v1/echo/hello%20world%2Fx", ECHO "Echo");
  assert_string_equal(m->bindings[0].field_path, "inner.label");
  assert_string_equal(m->bindings[0].value, "hello world/x");
}

static void test_multi_segment_variable_keeps_encoded_slash(void **state) {
  fixture *f = *state;
  const route_match *m = expect_found(f, "GET", "/v1/depots/a%2Fb%21", ECHO "Echo");
  assert_string_equal(m->bindings[0].value, "depots/a%2Fb!");
}

static void test_matches_plain_literals(void **state) {
  fixture *f = *state;
  const route_match *m = expect_found(f, "GET", "/v1/echo", ECHO "Echo");
  assert_int_equal(m->route->binding_index, 3);
  assert_int_equal(m->n_bindings, 0);
  expect_found(f, "GET", "/v1/whoami", ECHO "WhoAmI");
  expect_found(f, "GET", "/v1/admin-only", ECHO "AdminOnly");
  expect_found(f, "POST", "/v1/sleep", ECHO "Sleep");
}

static void test_unknown_paths_are_not_found(void **state) {
  fixture *f = *state;
  assert_int_equal(result_of(f, "GET", "/v1/nope"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "GET", "/v2/whoami"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "GET", "/v1/depots"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "GET", "/v1/depots/a/b"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "GET", "/v1/lines/a"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "GET", "/v1/whoami/"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "POST", "/v1/whoami:nope"), ROUTE_NOT_FOUND);
  assert_string_equal(route_table_allowed(f->t, f->a, "/v1/nope"), "");
}

static void test_invalid_percent_escape_is_not_found(void **state) {
  fixture *f = *state;
  assert_int_equal(result_of(f, "GET", "/v1/depots/%zz"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "PUT", "/v1/echo/abc%"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "PUT", "/v1/echo/a%00"), ROUTE_NOT_FOUND);
}

static void test_wrong_method_is_405_with_allow(void **state) {
  fixture *f = *state;
  assert_int_equal(result_of(f, "DELETE", "/v1/whoami"), ROUTE_METHOD_NOT_ALLOWED);
  assert_string_equal(route_table_allowed(f->t, f->a, "/v1/whoami"), "GET");
  assert_int_equal(result_of(f, "POST", "/v1/depots/x"), ROUTE_METHOD_NOT_ALLOWED);
  assert_string_equal(route_table_allowed(f->t, f->a, "/v1/depots/x"), "GET");
  assert_int_equal(result_of(f, "get", "/v1/whoami"), ROUTE_METHOD_NOT_ALLOWED);
}

static void test_verb_reading_decides_405(void **state) {
  fixture *f = *state;
  /* ":echo" names the custom method, so GET there is not the plain Get of "depots/x:echo" */
  assert_int_equal(result_of(f, "GET", "/v1/depots/x:echo"), ROUTE_METHOD_NOT_ALLOWED);
  assert_string_equal(route_table_allowed(f->t, f->a, "/v1/depots/x:echo"), "POST");
  /* a colon no route takes as a verb stays part of the value */
  const route_match *m = expect_found(f, "GET", "/v1/depots/a:b", ECHO "Echo");
  assert_string_equal(m->bindings[0].value, "depots/a:b");
  assert_int_equal(result_of(f, "POST", "/v1/depots/x:nope"), ROUTE_METHOD_NOT_ALLOWED);
  assert_string_equal(route_table_allowed(f->t, f->a, "/v1/depots/x:nope"), "GET");
}

static void test_hostile_paths_are_not_found(void **state) {
  fixture *f = *state;
  assert_int_equal(result_of(f, "GET", ""), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "GET", "/"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "GET", "v1/whoami"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, NULL, "/v1/whoami"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "GET", NULL), ROUTE_NOT_FOUND);
  size_t n = PT_MAX_PATH_LEN + 100;
  char *long_path = malloc(n + 1);
  for (size_t i = 0; i < n; i++) long_path[i] = (i % 2 == 0) ? '/' : 'a';
  long_path[n] = '\0';
  assert_int_equal(result_of(f, "GET", long_path), ROUTE_NOT_FOUND);
  assert_string_equal(route_table_allowed(f->t, f->a, long_path), "");
  free(long_path);
}

/* ---- the auth service ---- */

static void test_auth_routes_literal_variable_and_verb(void **state) {
  fixture *f = *state;
  expect_found(f, "GET", "/v1/auth/users", AUTH "ListUsers");
  expect_found(f, "POST", "/v1/auth/users", AUTH "CreateUser");
  const route_match *m = expect_found(f, "GET", "/v1/auth/users/u-1", AUTH "GetUser");
  assert_string_equal(m->bindings[0].field_path, "user_id");
  assert_string_equal(m->bindings[0].value, "u-1");
  m = expect_found(f, "POST", "/v1/auth/users/u-1:setRoles", AUTH "SetUserRoles");
  assert_string_equal(m->bindings[0].value, "u-1");
  expect_found(f, "POST", "/v1/auth/password:change", AUTH "ChangePassword");
  expect_found(f, "POST", "/v1/auth/password:forgot", AUTH "ForgotPassword");
  assert_int_equal(result_of(f, "POST", "/v1/auth/password"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "DELETE", "/v1/auth/users"), ROUTE_METHOD_NOT_ALLOWED);
  assert_string_equal(route_table_allowed(f->t, f->a, "/v1/auth/users"), "GET, POST");
}

/* ---- tables built from a constructed descriptor set ---- */

static void test_literal_wins_over_variable_whatever_the_order(void **state) {
  (void)state;
  static const rule_spec specs[] = {
      {"GetAny", "GET", "/v1/{path=**}", NULL},
      {"GetThing", "GET", "/v1/things/{id}", NULL},
      {"GetSpecial", "GET", "/v1/things/special", NULL},
      {"Head", "HEAD", "/v1/things/{id}", NULL},
  };
  descset *d;
  char err[512];
  route_table *t = build_from(specs, 4, &d, err, sizeof err);
  if (!t) fail_msg("%s", err);
  arena *a = arena_create(0);
  route_match m;
  assert_int_equal(route_table_match(t, a, "GET", "/v1/things/special", &m), ROUTE_FOUND);
  assert_string_equal(m.route->method->name, "GetSpecial");
  assert_int_equal(route_table_match(t, a, "GET", "/v1/things/other", &m), ROUTE_FOUND);
  assert_string_equal(m.route->method->name, "GetThing");
  assert_string_equal(m.bindings[0].value, "other");
  assert_int_equal(route_table_match(t, a, "GET", "/v1/a/b/c", &m), ROUTE_FOUND);
  assert_string_equal(m.route->method->name, "GetAny");
  assert_string_equal(m.bindings[0].value, "a/b/c");
  assert_int_equal(route_table_match(t, a, "GET", "/v1/things/x/y", &m), ROUTE_FOUND);
  assert_string_equal(m.route->method->name, "GetAny");
  assert_int_equal(route_table_match(t, a, "HEAD", "/v1/things/special", &m), ROUTE_FOUND);
  assert_string_equal(m.route->method->name, "Head");
  assert_string_equal(m.route->http_method, "HEAD");
  assert_string_equal(route_table_allowed(t, a, "/v1/things/x"), "GET, HEAD");
  arena_destroy(a);
  route_table_free(t);
  descset_free(d);
}

static void test_duplicate_route_is_a_build_error_naming_both(void **state) {
  (void)state;
  static const rule_spec specs[] = {
      {"First", "GET", "/v1/dup/{id}", NULL},
      {"Second", "GET", "/v1/dup/{other}", NULL},
  };
  descset *d;
  char err[512] = "";
  assert_null(build_from(specs, 2, &d, err, sizeof err));
  assert_non_null(strstr(err, "/t.v1.Svc/First"));
  assert_non_null(strstr(err, "/t.v1.Svc/Second"));
  descset_free(d);
}

static void test_same_template_other_method_or_verb_is_fine(void **state) {
  (void)state;
  static const rule_spec specs[] = {
      {"Get", "GET", "/v1/dup/{id}", NULL},
      {"Delete", "DELETE", "/v1/dup/{id}", NULL},
      {"Act", "POST", "/v1/dup/{id}:act", "*"},
      {"Other", "POST", "/v1/dup/{id}:other", "*"},
  };
  descset *d;
  char err[512] = "";
  route_table *t = build_from(specs, 4, &d, err, sizeof err);
  if (!t) fail_msg("%s", err);
  arena *a = arena_create(0);
  route_match m;
  assert_int_equal(route_table_match(t, a, "POST", "/v1/dup/7:other", &m), ROUTE_FOUND);
  assert_string_equal(m.route->method->name, "Other");
  assert_string_equal(route_table_allowed(t, a, "/v1/dup/7"), "GET, DELETE");
  arena_destroy(a);
  route_table_free(t);
  descset_free(d);
}

/* ---- ".ext" suffixes ---- */

static const rule_spec report_specs[] = {
    {"GetReport", "GET", "/v1/reports/{id}", NULL},
    {"GetReportCsv", "GET", "/v1/reports/{id}.csv", NULL},
    {"GetReportSvg", "GET", "/v1/reports/{id}.svg", NULL},
    {"GetChart", "GET", "/v1/reports/{id}/charts/{other}.svg", NULL},
    {"DeleteReport", "DELETE", "/v1/reports/{id}", NULL},
    {"ExportCsv", "POST", "/v1/reports/{id}:csv", "*"},
    {"GetStation", "GET", "/v1/stations/{id}", NULL},
};
enum { N_REPORT_SPECS = sizeof report_specs / sizeof report_specs[0] };

static int setup_reports(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  char err[512] = "";
  f->t = build_from(report_specs, N_REPORT_SPECS, &f->d, err, sizeof err);
  if (!f->t) fail_msg("route_table_build: %s", err);
  f->a = arena_create(0);
  *state = f;
  return 0;
}

#define SVC "/t.v1.Svc/"

/* The route found for GET path, and its first variable's value. */
static void expect_get(fixture *f, const char *path, const char *method, const char *id) {
  const route_match *m = expect_found(f, "GET", path, method);
  assert_string_equal(m->bindings[0].field_path, "id");
  if (strcmp(m->bindings[0].value, id) != 0)
    fail_msg("GET %s: id \"%s\", expected \"%s\"", path, m->bindings[0].value, id);
}

static void test_suffix_routes_match_and_bind_the_name(void **state) {
  fixture *f = *state;
  expect_get(f, "/v1/reports/r-1", SVC "GetReport", "r-1");
  expect_get(f, "/v1/reports/r-1.csv", SVC "GetReportCsv", "r-1");
  expect_get(f, "/v1/reports/r-1.svg", SVC "GetReportSvg", "r-1");
  expect_get(f, "/v1/reports/r.2024.csv", SVC "GetReportCsv", "r.2024");
  expect_get(f, "/v1/reports/q%201%2F2.csv", SVC "GetReportCsv", "q 1/2");
  const route_match *m = expect_found(f, "GET", "/v1/reports/r-1/charts/by.hour.svg", SVC "GetChart");
  assert_int_equal(m->n_bindings, 2);
  assert_string_equal(m->bindings[0].value, "r-1");
  assert_string_equal(m->bindings[1].field_path, "other");
  assert_string_equal(m->bindings[1].value, "by.hour");
  assert_int_equal(result_of(f, "GET", "/v1/reports/r-1/charts/c"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "GET", "/v1/reports/r-1/charts/c.png"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "GET", "/v1/reports/r-1/charts/.svg"), ROUTE_NOT_FOUND);
  assert_int_equal(result_of(f, "GET", "/v1/reports/%zz.csv"), ROUTE_NOT_FOUND);
}

static void test_a_suffix_no_route_takes_stays_part_of_the_segment(void **state) {
  fixture *f = *state;
  expect_get(f, "/v1/reports/r-1.pdf", SVC "GetReport", "r-1.pdf");
  expect_get(f, "/v1/reports/r-1.CSV", SVC "GetReport", "r-1.CSV"); /* extensions compare exactly */
  expect_get(f, "/v1/reports/.csv", SVC "GetReport", ".csv");        /* empty name: not the suffix route */
  expect_get(f, "/v1/reports/r-1%2Ecsv", SVC "GetReport", "r-1.csv"); /* an encoded dot separates nothing */
  expect_get(f, "/v1/reports/r-1.c-v", SVC "GetReport", "r-1.c-v");
  expect_get(f, "/v1/stations/a.b", SVC "GetStation", "a.b");
  expect_get(f, "/v1/stations/ben-thanh.csv", SVC "GetStation", "ben-thanh.csv");
}

static void test_suffix_reading_decides_405_like_a_verb(void **state) {
  fixture *f = *state;
  assert_int_equal(result_of(f, "DELETE", "/v1/reports/r-1.csv"), ROUTE_METHOD_NOT_ALLOWED);
  assert_string_equal(route_table_allowed(f->t, f->a, "/v1/reports/r-1.csv"), "GET");
  assert_string_equal(route_table_allowed(f->t, f->a, "/v1/reports/r-1"), "GET, DELETE");
  assert_string_equal(route_table_allowed(f->t, f->a, "/v1/reports/r-1.pdf"), "GET, DELETE");
  /* ":csv" and ".csv" are different routes */
  const route_match *m = expect_found(f, "POST", "/v1/reports/r-1:csv", SVC "ExportCsv");
  assert_string_equal(m->bindings[0].value, "r-1");
  assert_string_equal(route_table_allowed(f->t, f->a, "/v1/reports/r-1:csv"), "POST");
}

static void test_duplicate_suffix_route_is_a_build_error(void **state) {
  (void)state;
  static const rule_spec specs[] = {
      {"First", "GET", "/v1/dup/{id}.csv", NULL},
      {"Second", "GET", "/v1/dup/{other}.csv", NULL},
  };
  static const rule_spec bad[] = {{"Deep", "GET", "/v1/dup/{id=**}.csv", NULL}};
  descset *d;
  char err[512] = "";
  assert_null(build_from(specs, 2, &d, err, sizeof err));
  assert_non_null(strstr(err, "/t.v1.Svc/First"));
  assert_non_null(strstr(err, "/t.v1.Svc/Second"));
  descset_free(d);
  assert_null(build_from(bad, 1, &d, err, sizeof err));
  assert_non_null(strstr(err, "/t.v1.Svc/Deep"));
  assert_non_null(strstr(err, "extension"));
  descset_free(d);
}

static void test_malformed_template_error_names_the_method(void **state) {
  (void)state;
  static const rule_spec specs[] = {{"Broken", "GET", "/v1/{id", NULL}};
  descset *d;
  char err[512] = "";
  assert_null(build_from(specs, 1, &d, err, sizeof err));
  assert_non_null(strstr(err, "/t.v1.Svc/Broken"));
  assert_non_null(strstr(err, "unbalanced"));
  descset_free(d);
}

static void test_raw_rules_take_any_variable_and_a_whole_body_only(void **state) {
  (void)state;
  static const rule_spec ok[] = {
      {"Ipn", "GET", "/v1/pay/{provider}/ipn/{order.id}", NULL},
      {"Hook", "POST", "/v1/pay/{provider}/hook", "*"},
  };
  static const io_types ok_types[] = {{RAW_IN, RAW_OUT}, {RAW_IN, ".t.v1.Req"}};
  static const rule_spec field_body[] = {{"Bad", "POST", "/v1/pay", "body"}};
  static const io_types raw[] = {{RAW_IN, RAW_OUT}};
  descset *d;
  char err[512] = "";
  route_table *t = build_typed(ok, ok_types, 2, &d, err, sizeof err);
  if (!t) fail_msg("%s", err);
  arena *a = arena_create(0);
  route_match m;
  assert_int_equal(route_table_match(t, a, "GET", "/v1/pay/vnpay/ipn/o-1", &m), ROUTE_FOUND);
  assert_true(m.route->raw_request && m.route->raw_response);
  assert_string_equal(m.bindings[1].field_path, "order.id");
  assert_string_equal(m.bindings[1].value, "o-1");
  assert_int_equal(route_table_match(t, a, "POST", "/v1/pay/paypal/hook", &m), ROUTE_FOUND);
  assert_true(m.route->raw_request);
  assert_false(m.route->raw_response);
  arena_destroy(a);
  route_table_free(t);
  descset_free(d);
  assert_null(build_typed(field_body, raw, 1, &d, err, sizeof err));
  assert_non_null(strstr(err, "raw request"));
  assert_non_null(strstr(err, "/t.v1.Svc/Bad"));
  descset_free(d);
}

static void test_unknown_fields_in_rule_are_build_errors(void **state) {
  (void)state;
  static const rule_spec bad_var[] = {{"Bad", "GET", "/v1/{nope}", NULL}};
  static const rule_spec bad_body[] = {{"Bad", "POST", "/v1/x", "nope"}};
  static const rule_spec nested_ok[] = {{"Ok", "GET", "/v1/{child.child.id}", NULL}};
  descset *d;
  char err[512] = "";
  assert_null(build_from(bad_var, 1, &d, err, sizeof err));
  assert_non_null(strstr(err, "no such field"));
  descset_free(d);
  assert_null(build_from(bad_body, 1, &d, err, sizeof err));
  assert_non_null(strstr(err, "body"));
  descset_free(d);
  route_table *t = build_from(nested_ok, 1, &d, err, sizeof err);
  assert_non_null(t);
  route_table_free(t);
  descset_free(d);
}

/* ---- OpenAPI ---- */

static json_t *op_of(json_t *doc, const char *path, const char *verb) {
  json_t *item = json_object_get(json_object_get(doc, "paths"), path);
  if (!item) fail_msg("no path %s", path);
  json_t *op = json_object_get(item, verb);
  if (!op) fail_msg("no %s on %s", verb, path);
  return op;
}

static json_t *param_named(json_t *op, const char *name, const char *in) {
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(op, "parameters"), i, p) {
    if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0 &&
        strcmp(json_string_value(json_object_get(p, "in")), in) == 0)
      return p;
  }
  return NULL;
}

static json_t *schema_prop(json_t *doc, const char *schema, const char *prop) {
  json_t *s = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), schema);
  if (!s) fail_msg("no schema %s", schema);
  json_t *p = json_object_get(json_object_get(s, "properties"), prop);
  if (!p) fail_msg("no property %s.%s", schema, prop);
  return p;
}

static const char *str_at(json_t *obj, const char *key) { return json_string_value(json_object_get(obj, key)); }

static void test_openapi_auth_paths_operations_and_security(void **state) {
  fixture *f = *state;
  json_t *doc = openapi_build(f->d, f->t, "Metro", "1.2.3");
  assert_string_equal(str_at(doc, "openapi"), "3.0.3");
  assert_string_equal(str_at(json_object_get(doc, "info"), "version"), "1.2.3");
  json_t *login = op_of(doc, "/v1/auth/login", "post");
  assert_string_equal(str_at(login, "operationId"), "AuthService_Login");
  assert_int_equal(json_array_size(json_object_get(login, "security")), 0);
  assert_string_equal(str_at(json_object_get(json_object_get(json_object_get(json_object_get(login, "requestBody"),
                                                                              "content"), "application/json"), "schema"), "$ref"),
                      "#/components/schemas/metro.auth.v1.LoginRequest");
  json_t *get_user = op_of(doc, "/v1/auth/users/{userId}", "get");
  assert_string_equal(str_at(get_user, "operationId"), "AuthService_GetUser");
  json_t *p = param_named(get_user, "userId", "path");
  assert_non_null(p);
  assert_true(json_is_true(json_object_get(p, "required")));
  json_t *sec = json_array_get(json_object_get(get_user, "security"), 0);
  assert_non_null(json_object_get(sec, "bearerAuth"));
  assert_non_null(strstr(str_at(get_user, "description"), "admin"));
  json_t *me = op_of(doc, "/v1/auth/me", "get");
  assert_int_equal(json_array_size(json_object_get(me, "security")), 2); /* a bearer token or an API key */
  op_of(doc, "/v1/auth/users/{userId}:setRoles", "post");
  json_t *bearer = json_object_get(json_object_get(json_object_get(doc, "components"), "securitySchemes"), "bearerAuth");
  assert_string_equal(str_at(bearer, "scheme"), "bearer");
  assert_string_equal(str_at(bearer, "bearerFormat"), "JWT");
  json_decref(doc);
}

static void test_openapi_query_parameters_for_get(void **state) {
  fixture *f = *state;
  json_t *doc = openapi_build(f->d, f->t, "Metro", "v1");
  json_t *list = op_of(doc, "/v1/auth/users", "get");
  json_t *size = param_named(list, "pageSize", "query");
  assert_non_null(size);
  assert_string_equal(str_at(json_object_get(size, "schema"), "type"), "integer");
  assert_non_null(param_named(list, "pageToken", "query"));
  assert_non_null(param_named(list, "role", "query"));
  json_t *get_user = op_of(doc, "/v1/auth/users/{userId}", "get");
  assert_null(param_named(get_user, "userId", "query"));
  json_t *create = op_of(doc, "/v1/auth/users", "post");
  assert_int_equal(json_array_size(json_object_get(create, "parameters")), 0);
  json_decref(doc);
}

static void test_openapi_schemas_follow_proto3_json(void **state) {
  fixture *f = *state;
  json_t *doc = openapi_build(f->d, f->t, "Metro", "v1");
  json_t *ct = schema_prop(doc, "metro.auth.v1.User", "createTime");
  assert_string_equal(str_at(ct, "type"), "string");
  assert_string_equal(str_at(ct, "format"), "date-time");
  assert_string_equal(str_at(schema_prop(doc, "metro.auth.v1.User", "roles"), "type"), "array");
  assert_string_equal(str_at(schema_prop(doc, "metro.auth.v1.User", "isVerified"), "type"), "boolean");
  json_t *status = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "google.rpc.Status");
  assert_non_null(json_object_get(json_object_get(status, "properties"), "code"));
  json_t *err = json_object_get(json_object_get(op_of(doc, "/v1/auth/me", "get"), "responses"), "default");
  assert_non_null(err);
  json_decref(doc);
}

static void test_openapi_testing_types_and_bindings(void **state) {
  fixture *f = *state;
  json_t *doc = openapi_build(f->d, f->t, "Testing", "v1");
  const char *E = "metro.testing.v1.Everything";
  json_t *i64 = schema_prop(doc, E, "fInt64");
  assert_string_equal(str_at(i64, "type"), "string");
  assert_string_equal(str_at(i64, "format"), "int64");
  assert_string_equal(str_at(schema_prop(doc, E, "fEnum"), "$ref"), "#/components/schemas/metro.testing.v1.Color");
  json_t *color = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "metro.testing.v1.Color");
  assert_string_equal(str_at(color, "type"), "string");
  assert_string_equal(json_string_value(json_array_get(json_object_get(color, "enum"), 1)), "COLOR_RED");
  assert_true(json_is_true(json_object_get(schema_prop(doc, E, "wInt64"), "nullable")));
  assert_string_equal(str_at(schema_prop(doc, E, "wInt64"), "type"), "string");
  assert_string_equal(str_at(schema_prop(doc, E, "tStruct"), "type"), "object");
  assert_string_equal(str_at(schema_prop(doc, E, "tDuration"), "type"), "string");
  json_t *r = schema_prop(doc, E, "rInt32");
  assert_string_equal(str_at(r, "type"), "array");
  assert_string_equal(str_at(json_object_get(r, "items"), "type"), "integer");
  json_t *map = schema_prop(doc, E, "mStringInner");
  assert_string_equal(str_at(map, "type"), "object");
  assert_string_equal(str_at(json_object_get(map, "additionalProperties"), "$ref"), "#/components/schemas/metro.testing.v1.Inner");
  assert_string_equal(str_at(schema_prop(doc, "metro.testing.v1.Inner", "child"), "$ref"),
                      "#/components/schemas/metro.testing.v1.Inner");

  json_t *get = op_of(doc, "/v1/{name}", "get");
  assert_string_equal(str_at(get, "operationId"), "EchoService_Echo");
  json_t *name = param_named(get, "name", "path");
  assert_string_equal(str_at(json_object_get(name, "schema"), "pattern"), "depots/[^/]+");
  assert_non_null(param_named(get, "pageSize", "query"));
  assert_null(param_named(get, "payload", "query"));
  json_t *post = op_of(doc, "/v1/{name}:echo", "post");
  assert_string_equal(str_at(post, "operationId"), "EchoService_Echo2");
  assert_int_equal(json_array_size(json_object_get(post, "parameters")), 1);
  json_t *put = op_of(doc, "/v1/echo/{inner.label}", "put");
  assert_non_null(param_named(put, "inner.label", "path"));
  assert_non_null(param_named(put, "color", "query"));
  json_t *put_body = json_object_get(json_object_get(json_object_get(json_object_get(put, "requestBody"), "content"),
                                                     "application/json"), "schema");
  assert_string_equal(str_at(put_body, "$ref"), "#/components/schemas/metro.testing.v1.Everything");
  json_t *tags = json_object_get(param_named(op_of(doc, "/v1/echo", "get"), "tags", "query"), "schema");
  assert_string_equal(str_at(tags, "type"), "array");
  json_t *admin = op_of(doc, "/v1/admin-only", "get");
  assert_string_equal(json_string_value(json_array_get(json_object_get(admin, "x-metro-roles"), 0)), "admin");
  json_t *sleep = op_of(doc, "/v1/sleep", "post");
  json_t *ok = json_object_get(json_object_get(json_object_get(json_object_get(sleep, "responses"), "200"), "content"),
                               "application/json");
  assert_string_equal(str_at(json_object_get(ok, "schema"), "type"), "object");
  json_decref(doc);
}

static json_t *content_schema(json_t *holder, const char *media) {
  return json_object_get(json_object_get(json_object_get(holder, "content"), media), "schema");
}

static void test_openapi_describes_raw_routes(void **state) {
  fixture *f = *state;
  json_t *doc = openapi_build(f->d, f->t, "Testing", "v1");
  json_t *post = op_of(doc, "/v1/raw/{channel}/echo", "post");
  assert_non_null(param_named(post, "channel", "path"));
  assert_int_equal(json_array_size(json_object_get(post, "parameters")), 1); /* the query string is passed raw */
  json_t *body = json_object_get(post, "requestBody");
  assert_true(json_is_false(json_object_get(body, "required")));
  assert_string_equal(str_at(content_schema(body, "*/*"), "format"), "binary");
  json_t *ok = json_object_get(json_object_get(post, "responses"), "200");
  assert_string_equal(str_at(content_schema(ok, "*/*"), "format"), "binary");
  assert_null(content_schema(ok, "application/json"));
  assert_non_null(strstr(str_at(post, "description"), "Raw HTTP request"));
  json_t *get = op_of(doc, "/v1/raw/{channel}/echo", "get");
  assert_null(json_object_get(get, "requestBody"));
  json_t *answer = op_of(doc, "/v1/raw/answer", "post");
  assert_string_equal(str_at(content_schema(json_object_get(answer, "requestBody"), "application/json"), "$ref"),
                      "#/components/schemas/metro.api.v1.HttpResponse");
  assert_non_null(content_schema(json_object_get(json_object_get(answer, "responses"), "200"), "*/*"));
  assert_int_equal(json_array_size(json_object_get(op_of(doc, "/v1/raw/whoami", "get"), "security")), 2);
  json_decref(doc);
}

static void test_openapi_prints_the_suffix(void **state) {
  fixture *f = *state;
  json_t *doc = openapi_build(f->d, f->t, "Reports", "v1");
  json_t *csv = op_of(doc, "/v1/reports/{id}.csv", "get");
  assert_string_equal(str_at(csv, "operationId"), "Svc_GetReportCsv");
  assert_non_null(param_named(csv, "id", "path"));
  assert_string_equal(str_at(op_of(doc, "/v1/reports/{id}.svg", "get"), "operationId"), "Svc_GetReportSvg");
  assert_string_equal(str_at(op_of(doc, "/v1/reports/{id}", "get"), "operationId"), "Svc_GetReport");
  assert_string_equal(str_at(op_of(doc, "/v1/reports/{id}:csv", "post"), "operationId"), "Svc_ExportCsv");
  json_t *chart = op_of(doc, "/v1/reports/{id}/charts/{other}.svg", "get");
  assert_non_null(param_named(chart, "other", "path"));
  assert_null(json_object_get(json_object_get(param_named(chart, "other", "path"), "schema"), "pattern"));
  json_decref(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_every_binding_becomes_a_route, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_matches_multi_segment_variable, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_matches_verb_suffix, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_matches_nested_field_path_with_decoding, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_multi_segment_variable_keeps_encoded_slash, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_matches_plain_literals, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_paths_are_not_found, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_invalid_percent_escape_is_not_found, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_method_is_405_with_allow, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_verb_reading_decides_405, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_paths_are_not_found, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_auth_routes_literal_variable_and_verb, setup_auth, teardown),
      cmocka_unit_test(test_literal_wins_over_variable_whatever_the_order),
      cmocka_unit_test(test_duplicate_route_is_a_build_error_naming_both),
      cmocka_unit_test(test_same_template_other_method_or_verb_is_fine),
      cmocka_unit_test(test_malformed_template_error_names_the_method),
      cmocka_unit_test_setup_teardown(test_suffix_routes_match_and_bind_the_name, setup_reports, teardown),
      cmocka_unit_test_setup_teardown(test_a_suffix_no_route_takes_stays_part_of_the_segment, setup_reports,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_suffix_reading_decides_405_like_a_verb, setup_reports, teardown),
      cmocka_unit_test(test_duplicate_suffix_route_is_a_build_error),
      cmocka_unit_test_setup_teardown(test_openapi_prints_the_suffix, setup_reports, teardown),
      cmocka_unit_test(test_unknown_fields_in_rule_are_build_errors),
      cmocka_unit_test(test_raw_rules_take_any_variable_and_a_whole_body_only),
      cmocka_unit_test_setup_teardown(test_raw_methods_route_with_path_params_by_name, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_openapi_describes_raw_routes, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_openapi_auth_paths_operations_and_security, setup_auth, teardown),
      cmocka_unit_test_setup_teardown(test_openapi_query_parameters_for_get, setup_auth, teardown),
      cmocka_unit_test_setup_teardown(test_openapi_schemas_follow_proto3_json, setup_auth, teardown),
      cmocka_unit_test_setup_teardown(test_openapi_testing_types_and_bindings, setup_testing, teardown),
  };
  return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
