/* metro-management: the registry of Metro's services and instances from their gRPC health checks,
 * and the REST gateways' route tables and breaker states; serves metro.management.v1. */
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/service.h"
#include "svc/management/management.h"

extern const pg_migration *const management_migrations;

static mgmt_state state;

static bool management_init(void *p, const service_settings *common) {
  (void)common;
  mgmt_state *st = p;
  st->services = calloc(1, sizeof *st->services);
  if (!st->services) return false;
  char err[512];
  if (!mgmt_services_parse(st->settings.services_spec, st->services, err, sizeof err)) {
    log_error("METRO_MANAGEMENT_SERVICES: %s", err);
    return false;
  }
  int targets = 0;
  for (int i = 0; i < st->services->n; i++) targets += st->services->services[i].n_targets;
  log_info("management: watching %d services at %d addresses, every %lld ms (checks time out after %lld ms)",
           st->services->n, targets, (long long)st->settings.poll_ms, (long long)st->settings.check_timeout_ms);
  mgmt_handlers_metrics_init();
  return mgmt_poller_start(st);
}

static void management_stop(void *p) {
  mgmt_state *st = p;
  mgmt_poller_stop();
  free(st->services);
  st->services = NULL;
}

int main(void) {
  mgmt_settings *s = &state.settings;
  const cfg_setting settings[] = {
      {"METRO_MANAGEMENT_SERVICES", CFG_STRING, MGMT_DEFAULT_SERVICES, false, 0, 0, &s->services_spec,
       "the services to watch: name=host:port[|host:port|dns:///host:port],... (dns:/// is resolved every poll, "
       "each A/AAAA record one instance)"},
      {"METRO_MANAGEMENT_POLL_MS", CFG_INT, "5000", false, 100, 3600000, &s->poll_ms,
       "pause between two rounds of health checks"},
      {"METRO_MANAGEMENT_CHECK_TIMEOUT_MS", CFG_INT, "1000", false, 50, 60000, &s->check_timeout_ms,
       "deadline of one health check (no answer by then: UNREACHABLE)"},
  };
  service_def def = {
      .name = "management",
      .default_grpc_addr = "127.0.0.1:50062",
      .default_metrics_port = 9112,
      .migrations = management_migrations,
      .services = &management_service_impl,
      .n_services = 1,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .init = management_init,
      .stop = management_stop,
      .state = &state,
  };
  return service_run(&def);
}
