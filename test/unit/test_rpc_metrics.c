/* Unit tests of common/rpc_metrics: go-grpc-middleware's metric names and labels on both sides,
 * grpc-go's code names, series at zero from the first look-up, and a bounded method table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/metrics.h"
#include "common/rpc_metrics.h"

static bool has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
    if ((p == text || p[-1] == '\n') && p[n] == '\n') return true;
  return false;
}

static void assert_rendered_line(const char *line) {
  char *text = metrics_render();
  assert_non_null(text);
  if (!has_line(text, line)) fail_msg("missing line: %s\n--- rendered ---\n%s", line, text);
  free(text);
}

static void assert_not_rendered(const char *fragment) {
  char *text = metrics_render();
  assert_non_null(text);
  if (strstr(text, fragment)) fail_msg("unexpected: %s", fragment);
  free(text);
}

static void test_code_labels_are_grpc_go_names(void **state) {
  (void)state;
  static const char *const want[] = {
      "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
      "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
      "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"};
  for (int c = 0; c <= 16; c++) assert_string_equal(rpc_code_label((grpc_status_code)c), want[c]);
  assert_string_equal(rpc_code_label((grpc_status_code)17), "Unknown");
  assert_string_equal(rpc_code_label((grpc_status_code)-1), "Unknown");
}

#define SERVER_LABELS "grpc_type=\"unary\",grpc_service=\"metro.auth.v1.AuthService\",grpc_method=\"Login\""

static void test_server_call_counts_under_standard_names(void **state) {
  (void)state;
  const char *path = "/metro.auth.v1.AuthService/Login";
  rpc_method_metrics *m = rpc_method_metrics_get(RPC_METRICS_SERVER, RPC_TYPE_UNARY, path);
  assert_ptr_equal(rpc_method_metrics_get(RPC_METRICS_SERVER, RPC_TYPE_UNARY, path), m);
  /* at zero before any call */
  assert_rendered_line("# TYPE grpc_server_started_total counter");
  assert_rendered_line("grpc_server_started_total{" SERVER_LABELS "} 0");
  assert_rendered_line("grpc_server_msg_received_total{" SERVER_LABELS "} 0");
  assert_rendered_line("grpc_server_msg_sent_total{" SERVER_LABELS "} 0");
  assert_rendered_line("# TYPE grpc_server_handling_seconds histogram");
  assert_rendered_line("grpc_server_handling_seconds_count{" SERVER_LABELS "} 0");
  assert_rendered_line("# TYPE grpc_server_handled_total counter");

  for (int i = 0; i < 2; i++) {
    rpc_metrics_started(m);
    rpc_metrics_msg_received(m);
  }
  rpc_metrics_msg_sent(m);
  rpc_metrics_handled(m, GRPC_STATUS_OK, 0.003);
  rpc_metrics_handled(m, GRPC_STATUS_INVALID_ARGUMENT, 0.2);
  assert_rendered_line("grpc_server_started_total{" SERVER_LABELS "} 2");
  assert_rendered_line("grpc_server_msg_received_total{" SERVER_LABELS "} 2");
  assert_rendered_line("grpc_server_msg_sent_total{" SERVER_LABELS "} 1");
  assert_rendered_line("grpc_server_handled_total{" SERVER_LABELS ",grpc_code=\"OK\"} 1");
  assert_rendered_line("grpc_server_handled_total{" SERVER_LABELS ",grpc_code=\"InvalidArgument\"} 1");
  assert_rendered_line("grpc_server_handling_seconds_bucket{" SERVER_LABELS ",le=\"0.005\"} 1");
  assert_rendered_line("grpc_server_handling_seconds_bucket{" SERVER_LABELS ",le=\"0.25\"} 2");
  assert_rendered_line("grpc_server_handling_seconds_count{" SERVER_LABELS "} 2");
  /* the client side is apart */
  assert_not_rendered("grpc_client_started_total{" SERVER_LABELS "}");
}

static void test_client_calls_and_streams_have_their_type(void **state) {
  (void)state;
  const char *path = "/metro.user.v1.UserService/GetProfile";
  rpc_metrics_started(rpc_method_metrics_get(RPC_METRICS_CLIENT, RPC_TYPE_UNARY, path));
  rpc_metrics_client_finished(path, GRPC_STATUS_UNAVAILABLE, 0.01, true, false);
#define CLIENT_LABELS "grpc_type=\"unary\",grpc_service=\"metro.user.v1.UserService\",grpc_method=\"GetProfile\""
  assert_rendered_line("grpc_client_started_total{" CLIENT_LABELS "} 1");
  assert_rendered_line("grpc_client_msg_sent_total{" CLIENT_LABELS "} 1");
  assert_rendered_line("grpc_client_msg_received_total{" CLIENT_LABELS "} 0");
  assert_rendered_line("grpc_client_handled_total{" CLIENT_LABELS ",grpc_code=\"Unavailable\"} 1");
  assert_rendered_line("grpc_client_handling_seconds_count{" CLIENT_LABELS "} 1");

  rpc_method_metrics *r = rpc_method_metrics_get(RPC_METRICS_SERVER, RPC_TYPE_BIDI_STREAM,
                                                 "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
  for (int i = 0; i < 3; i++) rpc_metrics_msg_received(r);
  assert_rendered_line("grpc_server_msg_received_total{grpc_type=\"bidi_stream\","
                       "grpc_service=\"grpc.reflection.v1.ServerReflection\",grpc_method=\"ServerReflectionInfo\"} 3");
}

static void test_malformed_paths_count_as_unknown(void **state) {
  (void)state;
  rpc_method_metrics *u = rpc_method_metrics_get(RPC_METRICS_SERVER, RPC_TYPE_UNARY, "no-slashes");
  assert_ptr_equal(rpc_method_metrics_get(RPC_METRICS_SERVER, RPC_TYPE_UNARY, "no-slashes"), u);
  rpc_metrics_started(u);
  rpc_metrics_started(rpc_method_metrics_get(RPC_METRICS_SERVER, RPC_TYPE_UNARY, "/only.Service/"));
  rpc_metrics_started(rpc_method_metrics_get(RPC_METRICS_SERVER, RPC_TYPE_UNARY, NULL));
#define UNKNOWN "grpc_server_started_total{grpc_type=\"unary\",grpc_service=\"unknown\",grpc_method=\"unknown\"}"
  assert_rendered_line(UNKNOWN " 3");
  /* one series for all of them: promtool would reject a duplicate */
  char *text = metrics_render();
  int n = 0;
  for (const char *p = text; (p = strstr(p, "\n" UNKNOWN)); p++) n++;
  free(text);
  assert_int_equal(n, 1);
}

static void test_method_table_is_bounded(void **state) {
  (void)state;
  char path[64];
  for (int i = 0; i < 600; i++) {
    snprintf(path, sizeof path, "/t.Svc/M%d", i);
    rpc_metrics_started(rpc_method_metrics_get(RPC_METRICS_CLIENT, RPC_TYPE_UNARY, path));
  }
  /* past the table's room, calls count as service and method "unknown" */
  assert_rendered_line("grpc_client_started_total{grpc_type=\"unary\",grpc_service=\"t.Svc\",grpc_method=\"M0\"} 1");
  assert_not_rendered("grpc_method=\"M599\"");
  char *text = metrics_render();
  assert_non_null(strstr(text, "grpc_client_started_total{grpc_type=\"unary\",grpc_service=\"unknown\","
                               "grpc_method=\"unknown\"}"));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_code_labels_are_grpc_go_names),
      cmocka_unit_test(test_server_call_counts_under_standard_names),
      cmocka_unit_test(test_client_calls_and_streams_have_their_type),
      cmocka_unit_test(test_malformed_paths_count_as_unknown),
      cmocka_unit_test(test_method_table_is_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
