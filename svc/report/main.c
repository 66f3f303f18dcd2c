/* metro-report: analytics from the event stream, report records with CSV and SVG charts, and report
 * schedules that run (serves metro.report.v1; consumes user, ticket and payment events). */
#include "common/log.h"
#include "common/service.h"
#include "svc/report/report.h"

extern const pg_migration *const report_migrations;

static rp_state state;

static bool report_init(void *p, const service_settings *common) {
  (void)common;
  rp_state *st = p;
  log_info("report: transport at %s, pending reports looked for every %lld ms", st->settings.transport_addr,
           (long long)st->settings.worker_poll_ms);
  return rp_worker_start(st);
}

static void report_stop(void *p) {
  (void)p;
  rp_worker_stop();
}

int main(void) {
  rp_settings *s = &state.settings;
  const cfg_setting settings[] = {
      {"METRO_TRANSPORT_GRPC", CFG_STRING, "127.0.0.1:50053", false, 0, 0, &s->transport_addr,
       "the transport service (station and line names in reports)"},
      {"METRO_REPORT_WORKER_POLL_MS", CFG_INT, "1000", false, 50, 600000, &s->worker_poll_ms,
       "how often the worker looks for pending reports"},
      {"METRO_REPORT_CALL_TIMEOUT_MS", CFG_INT, "3000", false, 100, 60000, &s->call_timeout_ms,
       "deadline of a call to transport"},
  };
  const ev_consumer_config group = {.group = "report", .subs = rp_subscriptions, .n_subs = rp_n_subscriptions,
                                    .state = &state};
  service_def def = {
      .name = "report",
      .default_grpc_addr = "127.0.0.1:50059",
      .default_metrics_port = 9109,
      .migrations = report_migrations,
      .services = &report_service_impl,
      .n_services = 1,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .init = report_init,
      .stop = report_stop,
      .state = &state,
      .produces_events = true,
      .consumers = &group,
      .n_consumers = 1,
  };
  return service_run(&def);
}
