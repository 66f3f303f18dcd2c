/* The gateway's self-report (see gateway_report.h): one background round a second sets the
 * breaker gauges and, every report_ms, sends ReportGateway as "service:transcoder". */
#include "transcoder/gateway_report.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/periodic.h"
#include "common/rpc_client.h"
#include "metro/management/v1/management.pb-c.h"

#define ROUND_MS 1000
#define REPORT_TIMEOUT_MS 3000
#define MAX_REPORTED_ROUTES 1000

static gateway_report_config g;
static periodic *ticker;
static metric_family *m_state, *m_failures, *m_rejected;
static int64_t last_report_ms;
static char instance_id[65];
static int64_t start_unix;

static Google__Protobuf__Timestamp *timestamp(arena *a, int64_t unix_ms) {
  Google__Protobuf__Timestamp *t = arena_alloc(a, sizeof *t);
  google__protobuf__timestamp__init(t);
  t->seconds = unix_ms / 1000;
  t->nanos = (int32_t)(unix_ms % 1000) * 1000000;
  return t;
}

static Metro__Management__V1__BreakerState state_of(breaker_state s) {
  return s == BREAKER_OPEN        ? METRO__MANAGEMENT__V1__BREAKER_STATE__OPEN
         : s == BREAKER_HALF_OPEN ? METRO__MANAGEMENT__V1__BREAKER_STATE__HALF_OPEN
                                  : METRO__MANAGEMENT__V1__BREAKER_STATE__CLOSED;
}

static void send_report(arena *a) {
  const route *routes;
  int n = route_table_routes(g.routes, &routes);
  if (n > MAX_REPORTED_ROUTES) n = MAX_REPORTED_ROUTES;
  Metro__Management__V1__GatewayInstance *inst = arena_alloc(a, sizeof *inst);
  metro__management__v1__gateway_instance__init(inst);
  inst->instance_id = instance_id;
  inst->address = (char *)arena_printf(a, "%s:%d", g.listen_addr, g.port);
  inst->start_time = timestamp(a, start_unix * 1000);
  inst->routes = arena_alloc(a, sizeof(void *) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) {
    Metro__Management__V1__GatewayRoute *r = arena_alloc(a, sizeof *r);
    metro__management__v1__gateway_route__init(r);
    const descset_method *m = routes[i].method;
    r->http_method = (char *)routes[i].http_method;
    r->path_template = (char *)routes[i].template_text;
    r->rpc_method = (char *)m->path;
    r->public_ = m->access_public;
    r->n_roles = (size_t)m->n_roles;
    r->roles = (char **)m->roles;
    r->idempotent = m->idempotent;
    inst->routes[inst->n_routes++] = r;
  }
  int64_t now_mono = clock_mono_ms(), now_unix_ms = (int64_t)time(NULL) * 1000;
  inst->backends = arena_alloc(a, sizeof(void *) * (size_t)(g.n_backends ? g.n_backends : 1));
  for (int i = 0; i < g.n_backends; i++) {
    breaker_stats st;
    breaker_snapshot(&g.backends[i].breaker, &st);
    Metro__Management__V1__BackendState *b = arena_alloc(a, sizeof *b);
    metro__management__v1__backend_state__init(b);
    b->service = (char *)g.backends[i].key;
    b->target = (char *)g.backends[i].target;
    b->state = state_of(st.state);
    b->consecutive_failures = st.consecutive_failures;
    if (st.opened_at_ms) b->opened_time = timestamp(a, now_unix_ms - (now_mono - st.opened_at_ms));
    b->requests = (int64_t)st.requests;
    b->failures = (int64_t)st.failures;
    b->rejected = (int64_t)st.rejected;
    inst->backends[inst->n_backends++] = b;
  }
  Metro__Management__V1__ReportGatewayRequest req = METRO__MANAGEMENT__V1__REPORT_GATEWAY_REQUEST__INIT;
  req.instance = inst;
  rpc_call_meta meta = rpc_meta_service(a, "transcoder");
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(g.management_target), a,
                                 "/metro.management.v1.ManagementService/ReportGateway", &meta, &req.base,
                                 &metro__management__v1__report_gateway_response__descriptor, &resp,
                                 REPORT_TIMEOUT_MS, INT64_MAX);
  if (!rpc_ok(st)) log_debug("report to management failed: %s", st.message ? st.message : "");
}

static bool round_fn(periodic *p, void *arg) {
  (void)p;
  (void)arg;
  for (int i = 0; i < g.n_backends; i++) {
    breaker_stats st;
    breaker_snapshot(&g.backends[i].breaker, &st);
    metrics_set(m_state, g.backends[i].key, NULL, (double)st.state);
    metrics_set(m_failures, g.backends[i].key, NULL, (double)st.failures);
    metrics_set(m_rejected, g.backends[i].key, NULL, (double)st.rejected);
  }
  int64_t now = clock_mono_ms();
  if (g.management_target && g.report_ms > 0 && now - last_report_ms >= g.report_ms) {
    last_report_ms = now;
    arena *a = arena_create(65536);
    send_report(a);
    arena_destroy(a);
  }
  return false;
}

void gateway_report_start(const gateway_report_config *cfg) {
  g = *cfg;
  start_unix = (int64_t)time(NULL);
  char host[48] = "gateway";
  gethostname(host, sizeof host - 1);
  snprintf(instance_id, sizeof instance_id, "%s:%ld", host, (long)getpid());
  for (char *p = instance_id; *p; p++)
    if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-", *p)) *p = '-';
  m_state = metrics_gauge("metro_gateway_breaker_state", "Circuit breaker per service: 0 closed, 1 open, 2 half-open.",
                          "service", NULL);
  m_failures = metrics_gauge("metro_gateway_backend_failures", "Calls that failed to reach a service, since start.",
                             "service", NULL);
  m_rejected = metrics_gauge("metro_gateway_breaker_rejections",
                             "Requests refused with 503 while a service's circuit was open, since start.", "service",
                             NULL);
  last_report_ms = clock_mono_ms() - g.report_ms; /* the first report goes out at once */
  ticker = periodic_start("gateway-report", 1, ROUND_MS, round_fn, NULL);
}

void gateway_report_stop(void) {
  periodic_stop(ticker);
  ticker = NULL;
}
