/* Unit tests of common/metrics: exposition format, label escaping, up to four labels,
 * cumulative histogram buckets with extra labels, pre-resolved series, bounded label values,
 * the series cap, exact totals under concurrency and the HTTP endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/metrics.h"

/* True when the rendered text has exactly this line. */
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

static void test_counter_renders_help_type_and_labelled_value(void **state) {
  (void)state;
  metric_family *f = metrics_counter("t_requests_total", "Requests handled.", "method", "code");
  assert_non_null(f);
  metrics_add(f, "GetTrip", "OK", 1);
  metrics_add(f, "GetTrip", "OK", 2);
  metrics_add(f, "GetTrip", "NOT_FOUND", 1);
  metrics_add(f, "GetTrip", "OK", -5); /* counters never go down */
  assert_rendered_line("# HELP t_requests_total Requests handled.");
  assert_rendered_line("# TYPE t_requests_total counter");
  assert_rendered_line("t_requests_total{method=\"GetTrip\",code=\"OK\"} 3");
  assert_rendered_line("t_requests_total{method=\"GetTrip\",code=\"NOT_FOUND\"} 1");
}

static void test_unlabelled_gauge_starts_at_zero_and_follows_set_and_add(void **state) {
  (void)state;
  metric_family *g = metrics_gauge("t_inflight", "Calls in flight.", NULL, NULL);
  assert_non_null(g);
  assert_rendered_line("t_inflight 0");
  metrics_add(g, NULL, NULL, 3);
  metrics_add(g, NULL, NULL, -1);
  assert_rendered_line("t_inflight 2");
  metrics_set(g, NULL, NULL, 0.25);
  assert_rendered_line("# TYPE t_inflight gauge");
  assert_rendered_line("t_inflight 0.25");
}

static void test_label_values_and_help_are_escaped(void **state) {
  (void)state;
  metric_family *f = metrics_counter("t_escaped_total", "Help with \\ and\nnewline.", "path", NULL);
  assert_non_null(f);
  metrics_add(f, "a\"b\\c\nd", NULL, 1);
  assert_rendered_line("# HELP t_escaped_total Help with \\\\ and\\nnewline.");
  assert_rendered_line("t_escaped_total{path=\"a\\\"b\\\\c\\nd\"} 1");
}

static void test_histogram_buckets_are_cumulative_with_sum_and_count(void **state) {
  (void)state;
  metric_family *h = metrics_histogram("t_latency_seconds", "Latency.", "method", NULL);
  assert_non_null(h);
  metrics_observe(h, "Get", NULL, 0.0004);  /* le 0.0005 */
  metrics_observe(h, "Get", NULL, 0.001);   /* le 0.001: bounds are inclusive */
  metrics_observe(h, "Get", NULL, 0.3);     /* le 0.5 */
  metrics_observe(h, "Get", NULL, 42);      /* only +Inf */
  assert_rendered_line("# TYPE t_latency_seconds histogram");
  assert_rendered_line("t_latency_seconds_bucket{method=\"Get\",le=\"0.0005\"} 1");
  assert_rendered_line("t_latency_seconds_bucket{method=\"Get\",le=\"0.001\"} 2");
  assert_rendered_line("t_latency_seconds_bucket{method=\"Get\",le=\"0.0025\"} 2");
  assert_rendered_line("t_latency_seconds_bucket{method=\"Get\",le=\"0.25\"} 2");
  assert_rendered_line("t_latency_seconds_bucket{method=\"Get\",le=\"0.5\"} 3");
  assert_rendered_line("t_latency_seconds_bucket{method=\"Get\",le=\"2.5\"} 3");
  assert_rendered_line("t_latency_seconds_bucket{method=\"Get\",le=\"10\"} 3");
  assert_rendered_line("t_latency_seconds_bucket{method=\"Get\",le=\"+Inf\"} 4");
  assert_rendered_line("t_latency_seconds_sum{method=\"Get\"} 42.3014");
  assert_rendered_line("t_latency_seconds_count{method=\"Get\"} 4");
  char *text = metrics_render();
  int buckets = 0;
  for (const char *p = text; (p = strstr(p, "t_latency_seconds_bucket{")) != NULL; p++) buckets++;
  assert_int_equal(buckets, 15);
  free(text);
}

static void test_series_beyond_cap_fold_into_other(void **state) {
  (void)state;
  metric_family *f = metrics_counter("t_capped_total", "Capped.", "user", "kind");
  assert_non_null(f);
  char v[32];
  for (int i = 0; i < METRICS_MAX_SERIES + 100; i++) {
    snprintf(v, sizeof v, "u%d", i);
    metrics_add(f, v, "k", 1);
  }
  metrics_add(f, "u0", "k", 1); /* an existing series keeps counting */
  char *text = metrics_render();
  int series = 0;
  for (const char *p = text; (p = strstr(p, "\nt_capped_total{")) != NULL; p++) series++;
  assert_int_equal(series, METRICS_MAX_SERIES);
  free(text);
  assert_rendered_line("t_capped_total{user=\"u0\",kind=\"k\"} 2");
  /* MAX-1 real series; the remaining 101 combinations share the "other" series */
  assert_rendered_line("t_capped_total{user=\"other\",kind=\"other\"} 101");
}

static void test_bad_definitions_are_refused_and_duplicates_shared(void **state) {
  (void)state;
  assert_null(metrics_counter("9starts_with_digit", "x", NULL, NULL));
  assert_null(metrics_counter("t_bad_label", "x", "has-dash", NULL));
  assert_null(metrics_histogram("t_bad_le", "x", "le", NULL));
  assert_null(metrics_counter("t_gap", "x", NULL, "second"));
  metric_family *a = metrics_counter("t_shared_total", "x", "m", NULL);
  assert_non_null(a);
  assert_ptr_equal(metrics_counter("t_shared_total", "x", "m", NULL), a);
  assert_null(metrics_gauge("t_shared_total", "x", "m", NULL));
  metrics_add(NULL, "a", "b", 1); /* operations on a refused family do nothing */
  metrics_observe(NULL, NULL, NULL, 1);
}

static void test_four_labels_render_in_their_order(void **state) {
  (void)state;
  static const char *const labels[] = {"grpc_type", "grpc_service", "grpc_method", "grpc_code"};
  metric_family *f = metrics_counter_v("t_handled_total", "Handled.", labels, 4);
  assert_non_null(f);
  metrics_add_v(f, (const char *const[]){"unary", "metro.auth.v1.AuthService", "Login", "OK"}, 2);
  metrics_add_v(f, (const char *const[]){"unary", "metro.auth.v1.AuthService", "Login", "InvalidArgument"}, 1);
  metrics_add_v(f, (const char *const[]){"unary", "metro.auth.v1.AuthService", "Login", "OK"}, 1);
  assert_rendered_line("t_handled_total{grpc_type=\"unary\",grpc_service=\"metro.auth.v1.AuthService\","
                       "grpc_method=\"Login\",grpc_code=\"OK\"} 3");
  assert_rendered_line("t_handled_total{grpc_type=\"unary\",grpc_service=\"metro.auth.v1.AuthService\","
                       "grpc_method=\"Login\",grpc_code=\"InvalidArgument\"} 1");
  /* the same family again, and two that cannot be */
  assert_ptr_equal(metrics_counter_v("t_handled_total", "Handled.", labels, 4), f);
  assert_null(metrics_counter_v("t_handled_total", "Handled.", labels, 3));
  static const char *const five[] = {"a", "b", "c", "d", "e"};
  assert_null(metrics_counter_v("t_five_total", "x", five, 5));
  static const char *const twice[] = {"a", "b", "a"};
  assert_null(metrics_counter_v("t_twice_total", "x", twice, 3));
  assert_null(metrics_counter_v("t_negative_total", "x", NULL, -1));
}

static void test_histogram_with_labels_puts_le_last_and_labels_sum_and_count(void **state) {
  (void)state;
  metric_family *h = metrics_histogram_v("t_request_duration_seconds", "Duration.",
                                         (const char *const[]){"method", "route"}, 2);
  assert_non_null(h);
  metrics_observe_v(h, (const char *const[]){"GET", "/v1/stations/{station_id}"}, 0.02);
  metrics_observe_v(h, (const char *const[]){"GET", "/v1/stations/{station_id}"}, 3);
  assert_rendered_line("t_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/stations/{station_id}\","
                       "le=\"0.01\"} 0");
  assert_rendered_line("t_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/stations/{station_id}\","
                       "le=\"0.025\"} 1");
  assert_rendered_line("t_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/stations/{station_id}\","
                       "le=\"5\"} 2");
  assert_rendered_line("t_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/stations/{station_id}\","
                       "le=\"+Inf\"} 2");
  assert_rendered_line("t_request_duration_seconds_sum{method=\"GET\",route=\"/v1/stations/{station_id}\"} 3.02");
  assert_rendered_line("t_request_duration_seconds_count{method=\"GET\",route=\"/v1/stations/{station_id}\"} 2");
}

static void test_resolved_series_are_shared_and_start_at_zero(void **state) {
  (void)state;
  metric_family *c = metrics_counter_v("t_started_total", "Started.", (const char *const[]){"type", "method"}, 2);
  metric_family *h = metrics_histogram_v("t_handling_seconds", "Handling.", (const char *const[]){"type", "method"}, 2);
  const char *const values[] = {"unary", "Login"};
  metric_series *s = metrics_series(c, values);
  assert_non_null(s);
  assert_ptr_equal(metrics_series(c, (const char *const[]){"unary", "Login"}), s);
  assert_rendered_line("t_started_total{type=\"unary\",method=\"Login\"} 0");
  metrics_series_add(s, 2);
  metrics_series_add(s, -1); /* a counter never goes down */
  metrics_series_observe(s, 1); /* not a histogram: ignored */
  metrics_add_v(c, values, 1);  /* the same series by its values */
  assert_rendered_line("t_started_total{type=\"unary\",method=\"Login\"} 3");
  metric_series *hs = metrics_series(h, values);
  assert_rendered_line("t_handling_seconds_count{type=\"unary\",method=\"Login\"} 0");
  metrics_series_observe(hs, 0.2);
  metrics_series_add(hs, 1); /* not a counter: ignored */
  assert_rendered_line("t_handling_seconds_bucket{type=\"unary\",method=\"Login\",le=\"0.25\"} 1");
  assert_rendered_line("t_handling_seconds_count{type=\"unary\",method=\"Login\"} 1");
  metric_family *g = metrics_gauge_v("t_outbox_pending", "Pending.", NULL, 0);
  metric_series *gs = metrics_series(g, NULL);
  metrics_series_set(gs, 7);
  metrics_series_add(gs, -2);
  assert_rendered_line("t_outbox_pending 5");
  /* a refused family gives no series, and a missing series takes updates silently */
  assert_null(metrics_series(NULL, values));
  metrics_series_add(NULL, 1);
  metrics_series_set(NULL, 1);
  metrics_series_observe(NULL, 1);
}

static void test_long_label_values_are_cut_on_a_character_boundary(void **state) {
  (void)state;
  metric_family *f = metrics_counter_v("t_long_total", "Long.", (const char *const[]){"route"}, 1);
  char value[200];
  memset(value, 'a', 127);
  strcpy(value + 127, "\xc3\xa9tail"); /* byte 128 would be the middle of "é" */
  metrics_add_v(f, (const char *const[]){value}, 1);
  char line[256];
  snprintf(line, sizeof line, "t_long_total{route=\"%.*s\"} 1", 127, value);
  assert_rendered_line(line);
  memset(value, 'b', 128);
  strcpy(value + 128, "xyz"); /* plain ASCII: the first 128 bytes */
  metrics_add_v(f, (const char *const[]){value}, 1);
  metrics_add_v(f, (const char *const[]){value}, 1); /* same first 128 bytes: same series */
  snprintf(line, sizeof line, "t_long_total{route=\"%.*s\"} 2", 128, value);
  assert_rendered_line(line);
}

static void test_four_label_series_beyond_cap_fold_into_other(void **state) {
  (void)state;
  metric_family *f = metrics_counter_v("t_capped4_total", "Capped.", (const char *const[]){"a", "b", "c", "d"}, 4);
  char v[32];
  for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
    snprintf(v, sizeof v, "v%d", i);
    metrics_add_v(f, (const char *const[]){"x", v, "y", "z"}, 1);
  }
  assert_rendered_line("t_capped4_total{a=\"other\",b=\"other\",c=\"other\",d=\"other\"} 11");
  assert_rendered_line("t_capped4_total{a=\"x\",b=\"v0\",c=\"y\",d=\"z\"} 1");
}

static void test_process_metrics_are_rendered(void **state) {
  (void)state;
  char *text = metrics_render();
  assert_non_null(strstr(text, "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1"));
  assert_non_null(strstr(text, "\nprocess_cpu_seconds_total "));
  assert_non_null(strstr(text, "\nprocess_resident_memory_bytes "));
  assert_non_null(strstr(text, "\nprocess_open_fds "));
  free(text);
}

enum { WORKERS = 4, ADDS_PER_WORKER = 100000 };
static metric_family *g_concurrent_counter, *g_concurrent_hist;

static void *add_many(void *arg) {
  const char *label = arg;
  for (int i = 0; i < ADDS_PER_WORKER; i++) {
    metrics_add(g_concurrent_counter, label, NULL, 1);
    metrics_add(g_concurrent_counter, "shared", NULL, 1);
    if (i % 10 == 0) metrics_observe(g_concurrent_hist, NULL, NULL, 0.002);
  }
  return NULL;
}

static void *render_many(void *arg) {
  (void)arg;
  for (int i = 0; i < 20; i++) free(metrics_render());
  return NULL;
}

static void test_concurrent_updates_give_exact_totals(void **state) {
  (void)state;
  g_concurrent_counter = metrics_counter("t_concurrent_total", "x", "worker", NULL);
  g_concurrent_hist = metrics_histogram("t_concurrent_seconds", "x", NULL, NULL);
  static const char *labels[WORKERS] = {"w0", "w1", "w2", "w3"};
  pthread_t threads[WORKERS + 1];
  for (int i = 0; i < WORKERS; i++)
    assert_int_equal(pthread_create(&threads[i], NULL, add_many, (void *)labels[i]), 0);
  assert_int_equal(pthread_create(&threads[WORKERS], NULL, render_many, NULL), 0);
  for (int i = 0; i <= WORKERS; i++) pthread_join(threads[i], NULL);
  char line[128];
  snprintf(line, sizeof line, "t_concurrent_total{worker=\"shared\"} %d", WORKERS * ADDS_PER_WORKER);
  assert_rendered_line(line);
  snprintf(line, sizeof line, "t_concurrent_total{worker=\"w3\"} %d", ADDS_PER_WORKER);
  assert_rendered_line(line);
  snprintf(line, sizeof line, "t_concurrent_seconds_count %d", WORKERS * ADDS_PER_WORKER / 10);
  assert_rendered_line(line);
}

/* ---- HTTP endpoint ---- */

typedef struct {
  long status;
  char content_type[128];
  char body[1 << 16];
  size_t len;
} http_result;

static size_t collect_body(char *data, size_t size, size_t nmemb, void *userp) {
  http_result *r = userp;
  size_t n = size * nmemb;
  size_t room = sizeof r->body - 1 - r->len;
  size_t take = n < room ? n : room;
  memcpy(r->body + r->len, data, take);
  r->len += take;
  r->body[r->len] = '\0';
  return n;
}

static http_result *http_request(const char *method, const char *path) {
  http_result *r = calloc(1, sizeof *r);
  assert_non_null(r);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", metrics_port(), path);
  CURL *curl = curl_easy_init();
  assert_non_null(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  if (strcmp(method, "POST") == 0) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "x=1");
  else if (strcmp(method, "GET_WITH_BODY") == 0) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "x=1");
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "GET");
  } else if (strcmp(method, "GET") != 0) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
  char *ct = NULL;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
  if (ct) snprintf(r->content_type, sizeof r->content_type, "%s", ct);
  curl_easy_cleanup(curl);
  return r;
}

static bool g_ready_answer; /* written by the test, read by the server thread */
static bool ready_probe(void) { return __atomic_load_n(&g_ready_answer, __ATOMIC_ACQUIRE); }

static void test_http_endpoint_serves_metrics_health_and_readiness(void **state) {
  (void)state;
  char err[256];
  __atomic_store_n(&g_ready_answer, false, __ATOMIC_RELEASE);
  assert_int_equal(metrics_port(), 0);
  if (!metrics_serve("127.0.0.1", 0, ready_probe, err, sizeof err)) fail_msg("%s", err);
  assert_true(metrics_port() > 0);
  assert_false(metrics_serve("127.0.0.1", 0, NULL, err, sizeof err)); /* one endpoint per process */

  metric_family *f = metrics_counter("t_http_total", "Served over HTTP.", NULL, NULL);
  metrics_add(f, NULL, NULL, 7);
  http_result *r = http_request("GET", "/metrics");
  assert_int_equal(r->status, 200);
  assert_non_null(strstr(r->content_type, "text/plain; version=0.0.4"));
  assert_true(has_line(r->body, "t_http_total 7"));
  free(r);

  r = http_request("GET", "/healthz");
  assert_int_equal(r->status, 200);
  free(r);
  r = http_request("GET", "/readyz");
  assert_int_equal(r->status, 503);
  free(r);
  __atomic_store_n(&g_ready_answer, true, __ATOMIC_RELEASE);
  r = http_request("GET", "/readyz");
  assert_int_equal(r->status, 200);
  free(r);
  r = http_request("GET", "/nope");
  assert_int_equal(r->status, 404);
  free(r);
  r = http_request("POST", "/metrics");
  assert_int_equal(r->status, 405);
  free(r);
  r = http_request("DELETE", "/healthz");
  assert_int_equal(r->status, 405);
  free(r);
  r = http_request("GET_WITH_BODY", "/metrics");
  assert_int_equal(r->status, 400);
  free(r);

  metrics_stop();
  assert_int_equal(metrics_port(), 0);
}

static void test_http_endpoint_keeps_connections_alive(void **state) {
  (void)state;
  char err[256];
  if (!metrics_serve("127.0.0.1", 0, NULL, err, sizeof err)) fail_msg("%s", err);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", metrics_port());
  CURL *curl = curl_easy_init();
  assert_non_null(curl);
  http_result *r = calloc(1, sizeof *r);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    long status = 0, new_connections = -1;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &new_connections);
    assert_int_equal(status, 200);
    assert_int_equal(new_connections, i == 0 ? 1 : 0);
  }
  curl_easy_cleanup(curl);
  free(r);
  metrics_stop();
}

static void test_serve_reports_a_port_already_in_use(void **state) {
  (void)state;
  int holder = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(holder >= 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sin;
  assert_int_equal(bind(holder, (struct sockaddr *)&sin, sizeof sin), 0);
  assert_int_equal(listen(holder, 1), 0);
  assert_int_equal(getsockname(holder, (struct sockaddr *)&sin, &len), 0);
  int port = ntohs(sin.sin_port);
  char err[256];
  assert_false(metrics_serve("127.0.0.1", port, NULL, err, sizeof err));
  char want[64];
  snprintf(want, sizeof want, "127.0.0.1:%d", port);
  assert_non_null(strstr(err, want));
  assert_int_equal(metrics_port(), 0);
  close(holder);
  assert_false(metrics_serve("not-an-address", 0, NULL, err, sizeof err));
  assert_non_null(strstr(err, "not-an-address"));
  assert_false(metrics_serve("127.0.0.1", 70000, NULL, err, sizeof err));
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counter_renders_help_type_and_labelled_value),
      cmocka_unit_test(test_unlabelled_gauge_starts_at_zero_and_follows_set_and_add),
      cmocka_unit_test(test_label_values_and_help_are_escaped),
      cmocka_unit_test(test_histogram_buckets_are_cumulative_with_sum_and_count),
      cmocka_unit_test(test_series_beyond_cap_fold_into_other),
      cmocka_unit_test(test_bad_definitions_are_refused_and_duplicates_shared),
      cmocka_unit_test(test_four_labels_render_in_their_order),
      cmocka_unit_test(test_histogram_with_labels_puts_le_last_and_labels_sum_and_count),
      cmocka_unit_test(test_resolved_series_are_shared_and_start_at_zero),
      cmocka_unit_test(test_long_label_values_are_cut_on_a_character_boundary),
      cmocka_unit_test(test_four_label_series_beyond_cap_fold_into_other),
      cmocka_unit_test(test_process_metrics_are_rendered),
      cmocka_unit_test(test_concurrent_updates_give_exact_totals),
      cmocka_unit_test(test_http_endpoint_serves_metrics_health_and_readiness),
      cmocka_unit_test(test_http_endpoint_keeps_connections_alive),
      cmocka_unit_test(test_serve_reports_a_port_already_in_use),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return failed;
}
