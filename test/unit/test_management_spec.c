/* The management service's pure rules: METRO_MANAGEMENT_SERVICES parsed (merges, duplicates,
 * IPv6, dns:///, every kind of bad input named) and the bounds of a gateway's report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/arena.h"
#include "svc/management/management.h"

static mgmt_services *parse_ok(const char *spec) {
  mgmt_services *s = calloc(1, sizeof *s);
  char err[512] = "";
  if (!mgmt_services_parse(spec, s, err, sizeof err)) fail_msg("\"%s\" refused: %s", spec, err);
  return s;
}

/* Refused, with a message containing `needle`. */
static void parse_bad(const char *spec, const char *needle) {
  mgmt_services *s = calloc(1, sizeof *s);
  char err[512] = "";
  if (mgmt_services_parse(spec, s, err, sizeof err)) fail_msg("\"%s\" accepted", spec ? spec : "(null)");
  if (!strstr(err, needle)) fail_msg("\"%s\": message \"%s\" lacks \"%s\"", spec ? spec : "(null)", err, needle);
  free(s);
}

static void test_the_default_lists_the_twelve_services_in_port_order(void **state) {
  (void)state;
  mgmt_services *s = parse_ok(MGMT_DEFAULT_SERVICES);
  static const char *const names[] = {"auth",         "user",   "transport", "ticket",    "public",    "payment",
                                      "webhook",      "notification", "report", "control", "scheduler", "management"};
  assert_int_equal(s->n, 12);
  for (int i = 0; i < 12; i++) {
    char want[32];
    snprintf(want, sizeof want, "127.0.0.1:%d", 50051 + i);
    assert_string_equal(s->services[i].name, names[i]);
    assert_int_equal(s->services[i].n_targets, 1);
    assert_string_equal(s->services[i].targets[0], want);
  }
  assert_ptr_equal(mgmt_services_find(s, "management"), &s->services[11]);
  assert_null(mgmt_services_find(s, "nope"));
  assert_null(mgmt_services_find(s, "aut"));
  free(s);
}

static void test_several_addresses_names_ipv6_and_dns(void **state) {
  (void)state;
  mgmt_services *s = parse_ok(" auth = 127.0.0.1:50051 , transport=127.0.0.1:50053|127.0.0.1:50063|"
                              "dns:///metro-transport-pods.metro.svc.cluster.local:50053,"
                              "user=[::1]:50052|[fd00:10::5]:7|localhost:1|metro-user:65535");
  assert_int_equal(s->n, 3);
  assert_string_equal(s->services[0].name, "auth");
  assert_string_equal(s->services[0].targets[0], "127.0.0.1:50051");
  assert_int_equal(s->services[1].n_targets, 3);
  assert_string_equal(s->services[1].targets[1], "127.0.0.1:50063");
  assert_string_equal(s->services[1].targets[2], "dns:///metro-transport-pods.metro.svc.cluster.local:50053");
  assert_int_equal(s->services[2].n_targets, 4);
  assert_string_equal(s->services[2].targets[0], "[::1]:50052");

  bool dns;
  char host[MGMT_HOST_MAX + 1], port[6];
  assert_true(mgmt_target_split(s->services[1].targets[2], &dns, host, port));
  assert_true(dns);
  assert_string_equal(host, "metro-transport-pods.metro.svc.cluster.local");
  assert_string_equal(port, "50053");
  assert_true(mgmt_target_split("[fd00:10::5]:7", &dns, host, port));
  assert_false(dns);
  assert_string_equal(host, "fd00:10::5");
  assert_string_equal(port, "7");
  assert_true(mgmt_target_split("dns:///[::1]:0080", &dns, host, port));
  assert_true(dns);
  assert_string_equal(port, "80");
  free(s);
}

static void test_a_name_given_twice_adds_its_addresses_once_each(void **state) {
  (void)state;
  mgmt_services *s = parse_ok("public=127.0.0.1:50055,auth=127.0.0.1:50051,public=127.0.0.1:1|127.0.0.1:50055");
  assert_int_equal(s->n, 2);
  assert_string_equal(s->services[0].name, "public");
  assert_int_equal(s->services[0].n_targets, 2);
  assert_string_equal(s->services[0].targets[0], "127.0.0.1:50055");
  assert_string_equal(s->services[0].targets[1], "127.0.0.1:1");
  free(s);
}

static void test_bad_lists_are_refused_with_the_entry_named(void **state) {
  (void)state;
  parse_bad(NULL, "no services");
  parse_bad("", "no services");
  parse_bad("   ", "no services");
  parse_bad("auth=127.0.0.1:50051,", "entry 2 is empty");
  parse_bad(",auth=127.0.0.1:50051", "entry 1 is empty");
  parse_bad("auth=127.0.0.1:50051,,user=127.0.0.1:50052", "entry 2 is empty");
  parse_bad("auth", "expected name=address");
  parse_bad("auth127.0.0.1:50051", "expected name=address");
  parse_bad("=127.0.0.1:50051", "is not a service name");
  parse_bad("Auth=127.0.0.1:50051", "is not a service name");
  parse_bad("1auth=127.0.0.1:50051", "is not a service name");
  parse_bad("au_th=127.0.0.1:50051", "is not a service name");
  parse_bad("a23456789012345678901234567890123=127.0.0.1:1", "is not a service name"); /* 33 characters */
  parse_bad("auth=", "an empty address");
  parse_bad("auth=127.0.0.1:50051|", "an empty address");
  parse_bad("auth=|127.0.0.1:50051", "an empty address");
  parse_bad("auth=127.0.0.1:50051||127.0.0.1:1", "an empty address");
  parse_bad("auth=127.0.0.1", "is not host:port");
  parse_bad("auth=127.0.0.1:", "is not host:port");
  parse_bad("auth=127.0.0.1:0", "is not host:port");
  parse_bad("auth=127.0.0.1:65536", "is not host:port");
  parse_bad("auth=127.0.0.1:123456", "is not host:port");
  parse_bad("auth=127.0.0.1:5x", "is not host:port");
  parse_bad("auth=127.0.0.1:-1", "is not host:port");
  parse_bad("auth=:50051", "is not host:port");
  parse_bad("auth=host name:50051", "is not host:port");
  parse_bad("auth=host_name:50051", "is not host:port");
  parse_bad("auth=-host:50051", "is not host:port");
  parse_bad("auth=host-:50051", "is not host:port");
  parse_bad("auth=a..b:50051", "is not host:port");
  parse_bad("auth=.a:50051", "is not host:port");
  parse_bad("auth=::1:50051", "is not host:port");
  parse_bad("auth=[::1:50051", "is not host:port");
  parse_bad("auth=[zz::1]:50051", "is not host:port");
  parse_bad("auth=[]:50051", "is not host:port");
  parse_bad("auth=http://127.0.0.1:50051", "is not host:port");
  parse_bad("auth=127.0.0.1:50051;x", "is not host:port");
  parse_bad("auth=127.0.0.1:50051\n", "is not host:port");
  parse_bad("auth=dns://127.0.0.1:50051", "only dns:///");
  parse_bad("auth=dns:127.0.0.1:50051", "only dns:///");
  parse_bad("auth=dns:///metro-auth", "is not host:port");
  parse_bad("auth=127.0.0.1:50051,user=127.0.0.1:1|x", "entry 2 (user)");

  /* A host label of 64 characters, a name of 254. */
  char spec[700];
  snprintf(spec, sizeof spec, "auth=%064d:1", 0);
  parse_bad(spec, "is not host:port");
  char host[300] = "";
  for (int i = 0; i < 51; i++) strcat(host, "abcd.");
  snprintf(spec, sizeof spec, "auth=%s:1", host);
  parse_bad(spec, "is not host:port");
}

static void test_too_many_services_or_addresses_are_refused(void **state) {
  (void)state;
  static char spec[64 * 1024];
  spec[0] = '\0';
  for (int i = 0; i < MGMT_MAX_SERVICES; i++) {
    char e[64];
    snprintf(e, sizeof e, "%ss%d=127.0.0.1:%d", i ? "," : "", i, 1000 + i);
    strcat(spec, e);
  }
  mgmt_services *s = parse_ok(spec);
  assert_int_equal(s->n, MGMT_MAX_SERVICES);
  free(s);
  strcat(spec, ",one-more=127.0.0.1:1");
  parse_bad(spec, "more than 64 services");

  snprintf(spec, sizeof spec, "auth=");
  for (int i = 0; i < MGMT_MAX_TARGETS; i++) {
    char e[64];
    snprintf(e, sizeof e, "%s127.0.0.1:%d", i ? "|" : "", 2000 + i);
    strcat(spec, e);
  }
  s = parse_ok(spec);
  assert_int_equal(s->services[0].n_targets, MGMT_MAX_TARGETS);
  free(s);
  strcat(spec, ",auth=127.0.0.1:1");
  parse_bad(spec, "more than 16 addresses");
}

/* ---- gateway reports ---- */

typedef struct report {
  Metro__Management__V1__GatewayInstance g;
  Metro__Management__V1__GatewayRoute route, *routes[1];
  Metro__Management__V1__BackendState backend, *backends[1];
  char *roles[9];
} report;

static void report_init(report *r) {
  memset(r, 0, sizeof *r);
  metro__management__v1__gateway_instance__init(&r->g);
  metro__management__v1__gateway_route__init(&r->route);
  metro__management__v1__backend_state__init(&r->backend);
  r->g.instance_id = "metro-transcoder-5d9f7c:1";
  r->g.address = "10.8.0.7:8080";
  r->route.http_method = "GET";
  r->route.path_template = "/v1/jobs/{name}";
  r->route.rpc_method = "/metro.scheduler.v1.SchedulerService/GetJob";
  for (int i = 0; i < 9; i++) r->roles[i] = "admin";
  r->route.roles = r->roles;
  r->route.n_roles = 1;
  r->routes[0] = &r->route;
  r->g.routes = r->routes;
  r->g.n_routes = 1;
  r->backend.service = "scheduler";
  r->backend.target = "127.0.0.1:50061";
  r->backend.state = METRO__MANAGEMENT__V1__BREAKER_STATE__OPEN;
  r->backends[0] = &r->backend;
  r->g.backends = r->backends;
  r->g.n_backends = 1;
}

static void expect_field(report *r, const char *field) {
  arena *a = arena_create(4096);
  rpc_status st = mgmt_report_validate(a, &r->g);
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  if (!st.field || strcmp(st.field, field) != 0) fail_msg("field \"%s\", expected \"%s\"", st.field, field);
  arena_destroy(a);
  report_init(r);
}

static void test_gateway_reports_are_bounded(void **state) {
  (void)state;
  report r;
  report_init(&r);
  arena *a = arena_create(4096);
  assert_true(rpc_ok(mgmt_report_validate(a, &r.g)));
  assert_int_equal(mgmt_report_validate(a, NULL).code, GRPC_STATUS_INVALID_ARGUMENT);
  arena_destroy(a);

  r.g.instance_id = "";
  expect_field(&r, "instance.instanceId");
  r.g.instance_id = "a b";
  expect_field(&r, "instance.instanceId");
  r.g.instance_id = "x/y";
  expect_field(&r, "instance.instanceId");
  r.g.instance_id = "12345678901234567890123456789012345678901234567890123456789012345"; /* 65 */
  expect_field(&r, "instance.instanceId");
  r.g.address = "10.0.0.1 :80";
  expect_field(&r, "instance.address");
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  ts.nanos = 1000000000;
  r.g.start_time = &ts;
  expect_field(&r, "instance.startTime");
  r.g.n_routes = MGMT_MAX_ROUTES + 1;
  expect_field(&r, "instance.routes");
  r.g.n_backends = MGMT_MAX_BACKENDS + 1;
  expect_field(&r, "instance.backends");
  r.route.http_method = "get";
  expect_field(&r, "instance.routes[0].httpMethod");
  r.route.http_method = "GETGETGETGETGETGE"; /* 17 */
  expect_field(&r, "instance.routes[0].httpMethod");
  r.route.path_template = "v1/jobs";
  expect_field(&r, "instance.routes[0].pathTemplate");
  r.route.path_template = "/v1/\x01";
  expect_field(&r, "instance.routes[0].pathTemplate");
  r.route.rpc_method = "";
  expect_field(&r, "instance.routes[0].rpcMethod");
  r.route.n_roles = 9;
  expect_field(&r, "instance.routes[0].roles");
  r.roles[0] = "Admin";
  expect_field(&r, "instance.routes[0].roles[0]");
  r.backend.service = "";
  expect_field(&r, "instance.backends[0].service");
  r.backend.target = "127.0.0.1:1\n";
  expect_field(&r, "instance.backends[0].target");
  r.backend.state = 4;
  expect_field(&r, "instance.backends[0].state");
  r.backend.requests = -1;
  expect_field(&r, "instance.backends[0]");
  r.backend.consecutive_failures = -1;
  expect_field(&r, "instance.backends[0]");
  ts.seconds = 253402300800LL;
  r.backend.opened_time = &ts;
  expect_field(&r, "instance.backends[0].openedTime");

  assert_true(mgmt_instance_id_valid("gw-1.metro:8080_x"));
  assert_false(mgmt_instance_id_valid("gw-1.metro:8080/x"));
  assert_false(mgmt_instance_id_valid("gw-\xc3\xa9"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_the_default_lists_the_twelve_services_in_port_order),
      cmocka_unit_test(test_several_addresses_names_ipv6_and_dns),
      cmocka_unit_test(test_a_name_given_twice_adds_its_addresses_once_each),
      cmocka_unit_test(test_bad_lists_are_refused_with_the_entry_named),
      cmocka_unit_test(test_too_many_services_or_addresses_are_refused),
      cmocka_unit_test(test_gateway_reports_are_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
