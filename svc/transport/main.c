/* metro-transport: reads its settings, seeds the demo network on first start, and serves
 * metro.transport.v1.TransportService through the shared service runtime. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/service.h"
#include "svc/transport/transport.h"

extern const pg_migration *const transport_migrations;

static transport_state state;

static bool transport_init(void *st, const service_settings *common) {
  (void)common;
  transport_state *s = st;
  transport_settings *t = &s->settings;
  if (strcmp(t->network_in_service, "all") != 0 && strcmp(t->network_in_service, "operational") != 0) {
    log_error("METRO_NETWORK_IN_SERVICE: expected all or operational, got \"%s\"", t->network_in_service);
    return false;
  }
  s->rules = (sched_rules){.dwell_s = (int)t->dwell_s, .big_dwell_s = (int)t->big_dwell_s,
                           .big_interchange_lines = sched_default_rules.big_interchange_lines,
                           .turnaround_s = (int)t->turnaround_s};
  pthread_rwlock_init(&s->cache.lock, NULL);
  atomic_store(&s->cache.stale, true);
  return tr_seed(s) && tr_seed_trips_start(s);
}

int main(void) {
  transport_settings *t = &state.settings;
  const cfg_setting settings[] = {
      {"METRO_TRANSFER_PENALTY", CFG_INT, "2", false, 1, 100, &t->transfer_penalty, "planner cost of a transfer"},
      {"METRO_NETWORK_IN_SERVICE", CFG_STRING, "all", false, 0, 0, &t->network_in_service,
       "lines the demo seed puts in service: all or operational"},
      {"METRO_DEMO_TRIP_DAYS", CFG_INT, "30", false, 0, 31, &t->demo_trip_days,
       "days of demo trips generated at start (today first; the GTFS feed covers 30); 0 = none"},
      {"METRO_DWELL_S", CFG_INT, "40", false, 0, 600, &t->dwell_s, "dwell at a station"},
      {"METRO_BIG_DWELL_S", CFG_INT, "75", false, 0, 600, &t->big_dwell_s, "dwell at stations on 3 or more lines"},
      {"METRO_TURNAROUND_S", CFG_INT, "600", false, 0, 7200, &t->turnaround_s, "turnaround at a terminus"},
      {"METRO_PLANNER_RECHECK_MS", CFG_INT, "1000", false, 0, 600000, &t->planner_recheck_ms,
       "how often the planner checks for catalog writes made by other replicas"},
  };
  service_def def = {
      .name = "transport",
      .default_grpc_addr = "127.0.0.1:50053",
      .default_metrics_port = 9103,
      .migrations = transport_migrations,
      .services = &transport_service_impl,
      .n_services = 1,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .init = transport_init,
      .state = &state,
      .produces_events = true,
  };
  int rc = service_run(&def);
  tr_seed_trips_stop(&state);
  tr_graph_destroy(&state);
  return rc;
}
